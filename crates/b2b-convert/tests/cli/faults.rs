//! Graph's weather and the admin's Ctrl-C: runs that must finish, in one go, through
//! server errors, cut connections, stalls and throttling, and an interrupt in a real
//! terminal that loses nothing (not even the redeem links of invitations sent without
//! email).

use std::time::Duration;

use expectrl::{Eof, Expect, Regex};
use graph_emulator::simulation::SimulationOverrides;
use serde_json::Value;

use crate::generated;
use crate::support::{APPLY_ARGS, TestTenant, stderr, stdout};

/// 10 % of requests fail in every way the emulator knows: 500, 502, 503 and 504 (half
/// with a `Retry-After`), cut connections (9 %), and stalls beyond the client's timeout
/// (1 %); Graph's documented throttling stays on.
fn faulty() -> SimulationOverrides {
    SimulationOverrides {
        fault_rate: Some(0.09),
        stall_rate: Some(0.01),
        stall_ms: Some(3_000),
        ..Default::default()
    }
}

/// Shorter than the stalls, so a stalled request times out (its outcome unknown).
const REQUEST_TIMEOUT: &str = "2s";

#[test]
fn a_run_through_faults_and_throttling_converts_everyone_in_one_go() {
    const USERS: usize = 1000;
    let (tenant_json, input) = generated::tenant(USERS);
    let tenant = TestTenant::from_json(&tenant_json, faulty());
    let output = tenant.apply(&input, &["--request-timeout", REQUEST_TIMEOUT]);
    assert!(
        output.status.success(),
        "exit {:?}\nstderr:\n{}",
        output.status.code(),
        stderr(&output)
    );
    generated::assert_converted_exactly_once(&tenant, USERS);
    // Faults that a retry passed are no warning: one line per phase says how many.
    let err = stderr(&output);
    assert!(!err.contains("WARN"), "a warning for weather:\n{err}");
    assert!(
        err.contains("Converting: ") && err.contains("met a passing Graph fault"),
        "{err}"
    );
}

#[test]
fn a_retry_after_of_an_hour_stops_the_run_resumably() {
    const USERS: usize = 200;
    let (tenant_json, input) = generated::tenant(USERS);
    let tenant = TestTenant::from_json(
        &tenant_json,
        SimulationOverrides {
            fault_rate: Some(0.05),
            retry_after_s: Some(3600),
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let stopped = tenant.apply(&input, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "no silent hour-long wait"
    );
    let text = stderr(&stopped);
    // The hour-long wait may meet the planning (nothing started: exit 2) or the
    // conversions (the run is left to resume: exit 1); either way it is named once
    // and the way on is said.
    assert!(
        matches!(stopped.status.code(), Some(1 | 2)),
        "{:?}: {text}",
        stopped.status.code()
    );
    assert_eq!(
        text.matches("3600 s").count(),
        1,
        "the wait is named once: {text}"
    );
    assert!(
        text.contains("run the same command again") || text.contains("run the command again"),
        "{text}"
    );
    // Graph calms down; the same command finishes the run. The invitations the first
    // run sent still fill the tenant's 5-second window, which this emulator mode
    // answers with the same hour-long Retry-After: let the window pass first.
    tenant.calm();
    #[allow(
        clippy::disallowed_methods,
        reason = "the emulator's window runs on real time, in another process's view"
    )]
    std::thread::sleep(Duration::from_secs(6));
    let resumed = tenant.apply(&input, &[]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    generated::assert_converted_exactly_once(&tenant, USERS);
}

/// Without email the admin delivers the links, so none may be lost to a fault: an
/// invitation whose answer was lost is re-invited for a fresh link, and that resend may
/// lose its answer too. Every converted row ends with the link Graph holds as current.
#[test]
fn no_link_is_lost_to_faults_without_email() {
    const USERS: usize = 400;
    let (tenant_json, input) = generated::tenant(USERS);
    let tenant = TestTenant::from_json(&tenant_json, faulty());
    let output = tenant.apply(
        &input,
        &["--no-email", "--request-timeout", REQUEST_TIMEOUT],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let current: std::collections::HashMap<String, String> = tenant.state()["invitations"]
        .as_array()
        .expect("invitations")
        .iter()
        .filter(|i| i["status"] != "Superseded")
        .filter_map(|i| {
            Some((
                i["userId"].as_str()?.to_owned(),
                i["inviteRedeemUrl"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let status = tenant
        .cmd(&["status", "--journal", "run.db", "--output", "json"])
        .output()
        .expect("status runs");
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).expect("json");
    let converted: Vec<&Value> = rows
        .iter()
        .filter(|r| r["outcome"] == "converted")
        .collect();
    assert_eq!(converted.len(), USERS * 8 / 10);
    for row in converted {
        let user = row["userId"].as_str().expect("user id");
        assert_eq!(
            row["redeemUrl"].as_str(),
            current.get(user).map(String::as_str),
            "the journaled link is the one Graph holds: {row}"
        );
    }
}

#[test]
fn plan_through_faults_decides_every_row() {
    let (tenant_json, input) = generated::tenant(300);
    let tenant = TestTenant::from_json(
        &tenant_json,
        SimulationOverrides {
            fault_rate: Some(0.20),
            ..Default::default()
        },
    );
    tenant.write("users.csv", &input);
    let output = tenant
        .cmd(&["plan", "--input", "users.csv", "--output", "json"])
        .output()
        .expect("plan runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(rows.len(), 300);
    for row in &rows {
        let i = row["row"].as_u64().expect("row") as usize - 1;
        let expected = if generated::eligible(i) {
            "convert"
        } else {
            "blocked"
        };
        // A read that fails even after retries is `lookup_failed`, never eligible;
        // with the client's retries none is expected at 20 %.
        assert_eq!(row["decision"], expected, "{row}");
    }
}

/// `apply --no-email` in a real terminal, interrupted with Ctrl-C while converting:
/// it says how to resume and exits 130; the resume finishes; `status` shows the redeem
/// link of every converted user.
#[test]
fn ctrl_c_stops_cleanly_and_no_link_is_lost() {
    const USERS: usize = 300;
    let (tenant_json, input) = generated::tenant(USERS);
    let tenant = TestTenant::from_json(
        &tenant_json,
        SimulationOverrides {
            latency_ms: Some(20),
            ..Default::default()
        },
    );
    tenant.write("users.csv", &input);

    let mut args = APPLY_ARGS.to_vec();
    args.push("--no-email");
    let mut command = tenant.process(&args);
    // A terminal the progress bar will draw on, whatever the environment running the
    // tests says (CI may have no TERM at all).
    command.env("TERM", "xterm-256color").env_remove("NO_COLOR");
    let mut session = expectrl::Session::spawn(command).expect("spawn in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    // 240 invitations at 150 per 5 s take more than 5 s: wait until some are done.
    session
        .expect(Regex("converting +[1-9][0-9]*/240"))
        .expect("the progress bar shows conversions");
    session.send([3u8]).expect("Ctrl-C");
    let interrupted = session
        .expect(Regex(
            "To resume, run the same command again:\\r?\\n +[^\\r\\n]*apply",
        ))
        .expect("the resume command is printed");
    assert!(
        String::from_utf8_lossy(interrupted.before()).contains("Interrupted"),
        "{}",
        String::from_utf8_lossy(interrupted.before())
    );
    session.expect(Eof).expect("exits");
    let status = session.get_process().wait().expect("wait");
    // `WaitStatus::Exited(pid, code)`, from the pty crate expectrl is built on.
    let status = format!("{status:?}");
    assert!(
        status.starts_with("Exited(") && status.ends_with(", 130)"),
        "exit code 130 after an interrupt: {status}"
    );

    let resumed = tenant.apply(&input, &["--no-email"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    generated::assert_converted_exactly_once(&tenant, USERS);

    let status = tenant
        .cmd(&["status", "--journal", "run.db", "--output", "json"])
        .output()
        .expect("status runs");
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).expect("json");
    for row in rows.iter().filter(|r| r["outcome"] == "converted") {
        assert!(
            row["redeemUrl"]
                .as_str()
                .is_some_and(|u| u.contains("/redeem/")),
            "a converted row without its link: {row}\n{}",
            stdout(&status)
        );
    }
}
