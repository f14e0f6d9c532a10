//! Bad input: a clear error naming the file, line and column, and nothing sent.

use crate::support::{APPLY_ARGS, TestTenant, stderr};

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
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
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
    assert_eq!(output.status.code(), Some(2));
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
