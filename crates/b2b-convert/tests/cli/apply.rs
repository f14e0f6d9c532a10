//! `apply` end to end: exactly the eligible users converted, everyone else untouched,
//! nothing converted twice, refusals and safety stops.

use graph_emulator::simulation::SimulationOverrides;
use serde_json::Value;

use crate::support::{
    DEMO_INPUT, TestTenant, demo_user, find_user, invited_user_ids, stderr, stdout, writes,
};

/// Demo users the plan converts, with their external addresses.
const ELIGIBLE: &[(u32, &str)] = &[
    (1, "adele@fabrikam.com"),
    (2, "ben.walters@northwind.com"),
    (3, "chen.li@adatum.com"),
    (4, "diego@litware.com"),
    (5, "emily@wingtiptoys.com"),
    (6, "franz@fabrikam.com"),
    (30, "wendy@fourthcoffee.com"),
];

fn apply(tenant: &TestTenant) -> std::process::Output {
    tenant.apply(DEMO_INPUT, &[])
}

#[test]
fn converts_exactly_the_eligible_users_and_leaves_everyone_else_untouched() {
    let tenant = TestTenant::demo();
    let before = tenant.state();
    let output = apply(&tenant);
    assert!(
        output.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&output),
        stderr(&output)
    );
    let after = tenant.state();

    let mut expected_ids: Vec<String> = ELIGIBLE.iter().map(|(nn, _)| demo_user(*nn)).collect();
    for (nn, external) in ELIGIBLE {
        let id = demo_user(*nn);
        let (old, new) = (find_user(&before, &id), find_user(&after, &id));
        assert_eq!(new["externalUserState"], "PendingAcceptance", "{new:#}");
        assert_eq!(
            new["mail"].as_str().map(str::to_lowercase).as_deref(),
            Some(*external),
            "{new:#}"
        );
        for kept in ["id", "userPrincipalName", "userType"] {
            assert_eq!(new[kept], old[kept], "{kept} of {id} must not change");
        }
    }
    for old in before["users"].as_array().expect("users") {
        let id = old["id"].as_str().expect("id");
        if !expected_ids.iter().any(|e| e == id) {
            assert_eq!(&find_user(&after, id), old, "user {id} must be untouched");
        }
    }
    let mut invited = invited_user_ids(&after);
    invited.sort();
    expected_ids.sort();
    assert_eq!(invited, expected_ids, "one invitation per eligible user");

    // Emily's row says sendEmail=false: no message, and her link is printed.
    let text = stdout(&output);
    let emily = demo_user(5);
    assert!(text.contains("deliver this link"), "{text}");
    let messages = after["messages"].as_array().expect("messages");
    assert!(
        messages.iter().all(|m| m["userId"] != emily.as_str()),
        "no email for Emily"
    );
    let franz = messages
        .iter()
        .find(|m| m["userId"] == demo_user(6).as_str())
        .expect("Franz got an email");
    assert_eq!(franz["to"], "franz@fabrikam.com");
    assert!(
        franz["cc"].to_string().contains("procurement@fabrikam.com"),
        "{franz}"
    );
    assert_eq!(franz["language"], "de-DE");
    assert_eq!(messages.len(), 6);
}

#[test]
fn rerun_converts_nothing_twice() {
    let tenant = TestTenant::demo();
    assert!(apply(&tenant).status.success());
    let second = apply(&tenant);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("Nothing to convert"),
        "{}",
        stderr(&second)
    );
    let plan = tenant
        .cmd(&["plan", "--input", "users.csv", "--output", "json"])
        .output()
        .expect("runs");
    let plan: Vec<Value> = serde_json::from_slice(&plan.stdout).expect("json");
    for entry in &plan[..6] {
        assert_eq!(entry["decision"], "skip", "{entry:#}");
        assert_eq!(entry["reasons"][0]["code"], "already_invited", "{entry:#}");
    }
    assert_eq!(invited_user_ids(&tenant.state()).len(), ELIGIBLE.len());
}

#[test]
fn refuses_without_yes_when_stdin_is_not_a_terminal() {
    let tenant = TestTenant::demo();
    tenant.write("users.csv", DEMO_INPUT);
    let output = tenant
        .cmd(&["apply", "--input", "users.csv", "--journal", "run.db"])
        .write_stdin("yes\n")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("without --yes"),
        "{}",
        stderr(&output)
    );
    assert_eq!(writes(&tenant.state()), vec![]);
}

#[test]
fn anti_abuse_block_stops_the_run_and_leaves_the_rest_for_later() {
    let tenant = TestTenant::demo_with(SimulationOverrides {
        block_invites_after: Some(2),
        ..Default::default()
    });
    let output = apply(&tenant);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("Stopped early"), "{err}");
    assert!(err.contains("suspicious activity"), "{err}");
    let state = tenant.state();
    assert_eq!(invited_user_ids(&state).len(), 2);
    let refused = state["requests"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|r| r["path"] == "/v1.0/invitations" && r["status"] == 403)
        .count();
    assert!(
        refused <= 8,
        "the breaker must stop sending: {refused} refused invitations"
    );
}

#[test]
fn json_output_is_only_json_and_carries_the_links_to_deliver() {
    let tenant = TestTenant::demo();
    let output = tenant.apply(DEMO_INPUT, &["--output", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), ELIGIBLE.len());
    assert!(
        results.iter().all(|r| r["outcome"] == "converted"),
        "{report:#}"
    );
    let emily = results
        .iter()
        .find(|r| r["userId"] == demo_user(5).as_str())
        .expect("Emily");
    assert!(
        emily["redeemUrl"]
            .as_str()
            .is_some_and(|u| u.contains("/redeem/")),
        "{emily}"
    );
    let others_with_links = results.iter().filter(|r| !r["redeemUrl"].is_null()).count();
    assert_eq!(
        others_with_links, 1,
        "links are kept only for invitations sent without email"
    );
    assert!(
        stderr(&output).contains("30 rows: 7 to convert"),
        "the plan went to stderr"
    );
}
