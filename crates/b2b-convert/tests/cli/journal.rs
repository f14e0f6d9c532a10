//! The journal end to end: killed at 20 points of a 500-user run and resumed each time;
//! a changed input refused; no secret in the file.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use graph_emulator::simulation::SimulationOverrides;

use crate::generated;
use crate::support::{APPLY_ARGS, DEMO_CLIENT_SECRET, DEMO_INPUT, TestTenant, stderr};

const USERS: usize = 500;

/// Runs apply with the halt hook; kills it with SIGKILL once it reports the halt.
/// Returns whether it halted (false: it ran to its end first).
fn apply_and_kill(tenant: &TestTenant, halt: &str, extra: &[&str]) -> bool {
    let mut args = APPLY_ARGS.to_vec();
    args.extend_from_slice(extra);
    let mut command = tenant.process(&args);
    command
        .env("B2B_CONVERT_TEST_HALT_AT", halt)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut halted = false;
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.contains("halted at") {
            halted = true;
            // SIGKILL: no destructor, no flush, no journal close.
            child.kill().expect("kill");
            break;
        }
        seen.push(line);
    }
    let status = child.wait().expect("wait");
    if !halted {
        assert!(
            status.code().is_some(),
            "apply died on its own ({halt}): {seen:?}"
        );
    }
    halted
}

/// Kills `apply` with SIGKILL at 20 points of a run of `users` users, then resumes it
/// to the end, and checks that every eligible user was converted exactly once.
fn killed_twenty_times_then_resumed(users: usize, weather: SimulationOverrides, extra: &[&str]) {
    let (tenant_json, input) = generated::tenant(users);
    let tenant = TestTenant::from_json(&tenant_json, weather);
    tenant.write("users.csv", &input);

    let points = ["after-intent", "after-response", "after-outcome"];
    let mut halted = 0;
    for k in 0..20 {
        let halt = format!("{}:{}", points[k % 3], 3 + (k * 17) % 60);
        if apply_and_kill(&tenant, &halt, extra) {
            halted += 1;
        }
    }
    assert!(
        halted >= 18,
        "most runs must be killed mid-flight, got {halted}"
    );

    let last = tenant.apply(&input, extra);
    assert!(
        last.status.success(),
        "{}",
        stderr(&last)
            .lines()
            .filter(|l| l.contains("failed") || l.contains("pending"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    generated::assert_converted_exactly_once(&tenant, users);
}

#[test]
fn killed_at_twenty_points_and_resumed_converts_everyone_exactly_once() {
    killed_twenty_times_then_resumed(USERS, SimulationOverrides::default(), &[]);
}

/// The same through Graph's weather: 10 % of requests fail in every way the emulator
/// knows (server errors, cut connections, stalls beyond the timeout), with throttling.
#[test]
fn killed_at_twenty_points_through_faults_and_resumed_converts_everyone_exactly_once() {
    killed_twenty_times_then_resumed(
        1000,
        SimulationOverrides {
            fault_rate: Some(0.09),
            stall_rate: Some(0.01),
            stall_ms: Some(3_000),
            ..Default::default()
        },
        &["--request-timeout", "2s"],
    );
}

#[test]
fn changed_input_is_refused_unless_new_run_and_no_secret_is_journaled() {
    let tenant = TestTenant::demo_with(SimulationOverrides {
        block_invites_after: Some(1),
        ..Default::default()
    });
    let first = tenant.apply(DEMO_INPUT, &[]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "stopped early: {}",
        stderr(&first)
    );

    let changed_input = format!("{DEMO_INPUT}megan.bowen@contoso.com,megan2@northwind.com,,,,\n");
    let changed = tenant.apply(&changed_input, &[]);
    assert_eq!(changed.status.code(), Some(2));
    assert!(
        stderr(&changed).contains("has changed since"),
        "{}",
        stderr(&changed)
    );
    assert!(
        stderr(&changed).contains("--new-run"),
        "{}",
        stderr(&changed)
    );

    let new_run = tenant.apply(&changed_input, &["--new-run"]);
    assert!(
        stderr(&new_run).contains("Abandoning unfinished run"),
        "{}",
        stderr(&new_run)
    );

    let mut bytes = std::fs::read(tenant.dir.path().join("run.db")).expect("journal");
    if let Ok(wal) = std::fs::read(tenant.dir.path().join("run.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("adele@fabrikam.com"),
        "the journal holds the run"
    );
    assert!(
        !text.contains(DEMO_CLIENT_SECRET),
        "client secret in the journal"
    );
    assert!(!text.contains("eyJ"), "something token-like in the journal");
    assert!(
        !text.to_lowercase().contains("bearer"),
        "an Authorization header in the journal"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tenant.dir.path().join("run.db"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
