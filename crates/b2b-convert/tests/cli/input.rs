//! Bad input: a clear error naming the file, line and column, and nothing sent. Row
//! numbers are physical lines whatever the line ends, a runaway cell is refused in a
//! sentence, and a huge file is streamed in flat memory.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{APPLY_ARGS, TestTenant, demo_user, peak_rss, stderr, stdout};
#[test]
fn bad_cell_names_file_line_and_column_and_nothing_is_sent() {
    let tenant = TestTenant::demo();
    tenant.write(
        "users.csv",
        "user,externalEmail,sendEmail\nadele.vance@contoso.com,adele@fabrikam.com,yes\nben.walters@contoso.com,ben@northwind.com,perhaps\n",
    );
    for args in [&["plan", "--input", "users.csv"][..], APPLY_ARGS] {
        let output = tenant.cmd(args).output().expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.contains("users.csv: line 3, column `sendEmail`: `perhaps` is not true or false"),
            "{err}"
        );
    }
    assert_eq!(
        tenant.state()["requests"].as_array().map(Vec::len),
        Some(0),
        "nothing sent"
    );
    assert!(
        !tenant.dir.path().join("run.db").exists(),
        "no journal for a refused input"
    );
}

#[test]
fn unknown_column_and_missing_file() {
    let tenant = TestTenant::demo();
    tenant.write("users.csv", "user,externalEmial\na,b@c.com\n");
    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown column `externalEmial`"),
        "{}",
        stderr(&output)
    );

    let output = tenant
        .cmd(&["plan", "--input", "missing.csv"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing.csv: cannot read the input file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_credentials_are_named() {
    let tenant = TestTenant::demo();
    tenant.write(
        "users.csv",
        "user,externalEmail\na@contoso.com,b@fabrikam.com\n",
    );
    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .env_remove("AZURE_CLIENT_SECRET")
        // No `az` to fall back on either.
        .env("PATH", "/nonexistent")
        .output()
        .expect("runs");
    // Exit code 3: signing in, not the input, is what failed.
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("AZURE_CLIENT_SECRET"),
        "{}",
        stderr(&output)
    );

    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .env("AZURE_CLIENT_SECRET", "wrong-secret")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("AADSTS7000215"), "{err}");
    assert!(
        !err.contains("wrong-secret"),
        "the secret must never be printed: {err}"
    );
}

#[test]
fn plain_http_is_refused_for_anything_but_loopback() {
    let tenant = TestTenant::demo();
    tenant.write(
        "users.csv",
        "user,externalEmail\na@contoso.com,b@fabrikam.com\n",
    );
    let output = tenant
        .cmd(&[
            "plan",
            "--input",
            "users.csv",
            "--graph-url",
            "http://10.0.0.1:8080",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--graph-url"), "{err}");
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn status_without_a_journal_says_so_and_creates_nothing() {
    let tenant = TestTenant::demo();
    let output = tenant
        .cmd(&["status", "--journal", "missing.db"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing.db: no journal here"),
        "{}",
        stderr(&output)
    );
    assert!(!tenant.dir.path().join("missing.db").exists());
}

/// Runs `plan` on `input` and expects it refused before Graph is asked anything.
fn refused(tenant: &TestTenant, input: &str) -> String {
    tenant.write("users.csv", input);
    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        tenant.state()["requests"].as_array().map(Vec::len),
        Some(0),
        "nothing is read from Graph for a refused input"
    );
    stderr(&output)
}

#[test]
fn bad_input_is_refused_at_parse_time_naming_the_physical_line() {
    let tenant = TestTenant::demo();
    let message = "m".repeat(2_001);
    let huge = "x".repeat(10 << 20);
    for (what, input, expected) in [
        (
            "CRLF line ends",
            "user,externalEmail,sendEmail\r\na@contoso.com,a@fabrikam.com,yes\r\n\r\nb@contoso.com,b@fabrikam.com,perhaps\r\n".to_owned(),
            "users.csv: line 4, column `sendEmail`: `perhaps` is not true or false",
        ),
        (
            "CRLF inside a quoted cell",
            "user,externalEmail,message\r\na@contoso.com,a@fabrikam.com,\"Hi,\r\nsee you\"\r\nb@contoso.com,b@fabrikam.com,hi,extra\r\n".to_owned(),
            "users.csv: line 4: the row has 4 cells but the header has 3",
        ),
        (
            "a message over its limit",
            format!("user,externalEmail,message\na@contoso.com,a@fabrikam.com,{message}\n"),
            "users.csv: line 2, column `message`: `mmmm",
        ),
        (
            "a 10 MB cell",
            format!("user,externalEmail,message\r\na@contoso.com,a@fabrikam.com,ok\r\nb@contoso.com,b@fabrikam.com,{huge}\r\n"),
            "users.csv: line 3, column `message`: the cell is longer than 65536 bytes",
        ),
        (
            "a user reference over its limit",
            format!("user,externalEmail\n{}@contoso.com,a@fabrikam.com\n", "u".repeat(320)),
            "more than the 320 characters `user` may hold",
        ),
    ] {
        let err = refused(&tenant, &input);
        assert!(err.contains(expected), "{what}: {err}");
        assert!(err.len() < 2048, "{what}: a short message, not {} bytes", err.len());
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
    }
    assert!(
        refused(
            &tenant,
            &format!("user,externalEmail,message\na,b@c.com,{message}\n")
        )
        .contains("2001 characters, more than the 2000 characters `message` may hold")
    );
}

#[test]
fn plan_json_rows_are_physical_lines_of_a_crlf_file() {
    let tenant = TestTenant::demo();
    tenant.write(
        "users.csv",
        &format!(
            "user,externalEmail,message\r\n{},adele@fabrikam.com,\r\n{},ben@northwind.com,\"Welcome,\r\nBen\"\r\n\r\n{},chen.li@adatum.com,\r\n",
            demo_user(1),
            demo_user(2),
            demo_user(3)
        ),
    );
    let output = tenant
        .cmd(&["plan", "--input", "users.csv", "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let rows: Vec<u64> = plan
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|entry| entry["row"].as_u64())
        .collect();
    assert_eq!(rows, [2, 3, 6]);
}

#[test]
fn a_million_rows_stream_in_flat_memory_to_a_bad_last_line() {
    const ROWS: usize = 1_000_000;
    let tenant = TestTenant::demo();
    let path = tenant.dir.path().join("users.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    file.write_all(b"user,externalEmail\r\n").expect("write");
    for i in 1..ROWS {
        write!(file, "user{i}@contoso.com,partner{i}@fabrikam.com\r\n").expect("write");
    }
    file.write_all(b",nobody@fabrikam.com\r\n").expect("write");
    file.flush().expect("flush");
    drop(file);
    let size = std::fs::metadata(&path).expect("metadata").len();

    let mut child = tenant
        .process(&["plan", "--input", "users.csv"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    // Sample the child's high-water mark until it exits; the last sample holds its peak.
    let mut peak = 0;
    let clock = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let status = clock.block_on(async {
        loop {
            if let Some(rss) = peak_rss(child.id()) {
                peak = peak.max(rss);
            }
            if let Some(status) = child.try_wait().expect("waits") {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("reads stderr");
    println!(
        "plan on a {} MB file of {ROWS} rows: peak RSS {} MB",
        size >> 20,
        peak >> 20
    );
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "users.csv: line {}, column `user`: empty",
            ROWS + 1
        )),
        "{err}"
    );
    assert!(peak > 0, "the child's memory was read from /proc");
    assert!(peak < 100 << 20, "peak RSS {} MB", peak >> 20);
}
