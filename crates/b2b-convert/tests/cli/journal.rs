//! The journal end to end: killed at 20 points of a 500-user run and resumed each time;
//! a changed input refused; no secret in the file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use graph_emulator::simulation::SimulationOverrides;
use serde_json::{Value, json};

use crate::support::{
    APPLY_ARGS, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_INPUT, DEMO_TENANT_ID, TestTenant,
    invited_user_ids, stderr,
};

const USERS: usize = 500;

fn big_user_id(i: usize) -> String {
    format!("e0000000-0000-4000-8000-{i:012}")
}

/// Every 10th user is synced with onPremisesUserPrincipalName, every 10th+5 disabled:
/// 400 eligible, 100 not.
fn eligible(i: usize) -> bool {
    !i.is_multiple_of(10) && i % 10 != 5
}

fn big_tenant() -> (String, String) {
    let users: Vec<Value> = (1..=USERS)
        .map(|i| {
            let upn = format!("user{i}@contoso.com");
            let mut user = json!({
                "id": big_user_id(i),
                "displayName": format!("User {i}"),
                "userPrincipalName": upn,
                "mail": upn,
                "userType": "Member",
                "accountEnabled": i % 10 != 5,
            });
            if i % 10 == 0 {
                user["onPremisesSyncEnabled"] = json!(true);
                user["onPremisesImmutableId"] = json!(format!("imm{i}"));
                user["onPremisesUserPrincipalName"] = json!(format!("user{i}@corp.contoso.local"));
            }
            user
        })
        .collect();
    let tenant = json!({
        "tenantId": DEMO_TENANT_ID,
        "verifiedDomains": ["contoso.onmicrosoft.com", "contoso.com"],
        "applications": [{
            "clientId": DEMO_CLIENT_ID,
            "clientSecret": DEMO_CLIENT_SECRET,
            "roles": ["User.ReadWrite.All", "User.Invite.All", "Directory.Read.All"]
        }],
        "users": users,
        "directoryRoles": [],
        "groups": [],
        "orgContacts": []
    });
    let mut input = String::from("user,externalEmail\n");
    for i in 1..=USERS {
        input.push_str(&format!("user{i}@contoso.com,partner{i}@fabrikam.com\n"));
    }
    (tenant.to_string(), input)
}

/// Runs apply with the halt hook; kills it with SIGKILL once it reports the halt.
/// Returns whether it halted (false: it ran to its end first).
fn apply_and_kill(tenant: &TestTenant, halt: &str) -> bool {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("b2b-convert"));
    command
        .args(APPLY_ARGS)
        .current_dir(tenant.dir.path())
        .env("AZURE_TENANT_ID", DEMO_TENANT_ID)
        .env("AZURE_CLIENT_ID", DEMO_CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", DEMO_CLIENT_SECRET)
        .env("B2B_GRAPH_URL", &tenant.url)
        .env("AZURE_AUTHORITY_HOST", &tenant.url)
        .env("B2B_CONVERT_TEST_HALT_AT", halt)
        .env_remove("RUST_LOG")
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

#[test]
fn killed_at_twenty_points_and_resumed_converts_everyone_exactly_once() {
    let (tenant_json, input) = big_tenant();
    let tenant = TestTenant::from_json(&tenant_json, SimulationOverrides::default());
    tenant.write("users.csv", &input);

    let points = ["after-intent", "after-response", "after-outcome"];
    let mut halted = 0;
    for k in 0..20 {
        let halt = format!("{}:{}", points[k % 3], 3 + (k * 17) % 60);
        if apply_and_kill(&tenant, &halt) {
            halted += 1;
        }
    }
    assert!(
        halted >= 18,
        "most runs must be killed mid-flight, got {halted}"
    );

    let last = tenant.apply(&input, &[]);
    assert!(
        last.status.success(),
        "{}",
        crate::support::stdout(&last)
            .lines()
            .filter(|l| l.contains("failed"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let state = tenant.state();
    let mut invited = invited_user_ids(&state);
    invited.sort();
    let mut expected: Vec<String> = (1..=USERS)
        .filter(|i| eligible(*i))
        .map(big_user_id)
        .collect();
    expected.sort();
    let missing: Vec<&String> = expected.iter().filter(|id| !invited.contains(id)).collect();
    let about_missing: Vec<(Value, Vec<&Value>)> = missing
        .iter()
        .map(|m| {
            let requests = state["requests"]
                .as_array()
                .expect("log")
                .iter()
                .filter(|r| r["userId"] == m.as_str())
                .collect();
            (crate::support::find_user(&state, m), requests)
        })
        .collect();
    assert_eq!(
        invited.len(),
        expected.len(),
        "one successful invitation per eligible user, no more; missing: {about_missing:#?}"
    );
    assert_eq!(invited, expected);

    // No ineligible user was touched.
    for request in state["requests"].as_array().expect("log") {
        if request["method"] == "GET" {
            continue;
        }
        if let Some(user) = request["userId"].as_str() {
            let i: usize = user
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("big id");
            assert!(eligible(i), "ineligible user {user} was sent {request}");
        }
    }
    for user in state["users"].as_array().expect("users") {
        let i: usize = user["id"]
            .as_str()
            .and_then(|id| id.rsplit('-').next())
            .and_then(|n| n.parse().ok())
            .expect("id");
        if eligible(i) {
            assert_eq!(user["externalUserState"], "PendingAcceptance", "{user}");
            assert_eq!(user["mail"], format!("partner{i}@fabrikam.com"));
        } else {
            assert!(user["externalUserState"].is_null(), "{user}");
            assert_eq!(user["mail"], format!("user{i}@contoso.com"));
        }
    }

    // The journal agrees with the tenant.
    let status = tenant
        .cmd(&["status", "--journal", "run.db", "--output", "json"])
        .output()
        .expect("runs");
    assert!(status.status.success(), "{}", stderr(&status));
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(rows.len(), USERS);
    for row in &rows {
        let i = row["row"].as_u64().expect("row") as usize - 1;
        if eligible(i) {
            assert_eq!(row["decision"], "convert", "{row}");
            assert_eq!(row["outcome"], "converted", "{row}");
            assert_eq!(row["state"], "PendingAcceptance", "{row}");
        } else {
            assert_eq!(row["decision"], "blocked", "{row}");
            assert!(row["outcome"].is_null(), "{row}");
        }
    }
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
