//! `status --refresh` and `reinvite`: who has accepted, whom to chase.

use serde_json::Value;

use crate::support::{
    DEMO_INPUT, TestTenant, demo_user, find_user, invited_user_ids, stderr, stdout,
};

fn applied_demo() -> TestTenant {
    let tenant = TestTenant::demo();
    let output = tenant.apply(DEMO_INPUT, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    tenant
}

fn status(tenant: &TestTenant, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["status", "--journal", "run.db", "--output", "json"];
    args.extend_from_slice(extra);
    let output = tenant.cmd(&args).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("json")
}

#[test]
fn refresh_reports_accepted_users_with_their_times() {
    let tenant = applied_demo();
    tenant.redeem(&demo_user(1));
    tenant.redeem(&demo_user(2));

    let before = status(&tenant, &[]);
    assert_eq!(
        before[0]["state"], "PendingAcceptance",
        "not refreshed yet: {:#}",
        before[0]
    );

    let rows = status(&tenant, &["--refresh"]);
    let state = tenant.state();
    for (index, nn) in [(0, 1), (1, 2)] {
        let user = find_user(&state, &demo_user(nn));
        assert_eq!(rows[index]["state"], "Accepted", "{:#}", rows[index]);
        let changed: jiff::Timestamp = rows[index]["stateChangedAt"]
            .as_str()
            .expect("time")
            .parse()
            .expect("ts");
        let graph: jiff::Timestamp = user["externalUserStateChangeDateTime"]
            .as_str()
            .expect("time")
            .parse()
            .expect("ts");
        assert_eq!(changed, graph);
        assert!(rows[index]["pendingDays"].is_null());
    }
    for row in &rows[2..6] {
        assert_eq!(row["state"], "PendingAcceptance", "{row:#}");
        assert!(row["pendingDays"].as_f64().is_some_and(|d| d < 1.0));
    }

    let table = tenant
        .cmd(&["status", "--journal", "run.db"])
        .output()
        .expect("runs");
    assert!(
        stdout(&table).contains("2 accepted, 5 pending"),
        "{}",
        stdout(&table)
    );

    let chase = status(&tenant, &["--pending-older-than", "0s"]);
    assert_eq!(chase.len(), 5);
    assert!(status(&tenant, &["--pending-older-than", "7d"]).is_empty());
}

#[test]
fn reinvite_sends_fresh_invitations_to_pending_users_only() {
    let tenant = applied_demo();
    tenant.redeem(&demo_user(1));
    let messages_before = tenant.state()["messages"].as_array().map_or(0, Vec::len);
    let output = tenant
        .cmd(&[
            "reinvite",
            "--journal",
            "run.db",
            "--pending-older-than",
            "0s",
            "--yes",
        ])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let state = tenant.state();
    let invited = invited_user_ids(&state);
    assert_eq!(
        invited.iter().filter(|id| **id == demo_user(1)).count(),
        1,
        "the accepted user is left alone"
    );
    for nn in [2, 3, 4, 5, 6, 30] {
        assert_eq!(
            invited.iter().filter(|id| **id == demo_user(nn)).count(),
            2,
            "user {nn} re-invited once"
        );
    }
    let messages_after = state["messages"].as_array().map_or(0, Vec::len);
    assert_eq!(
        messages_after - messages_before,
        5,
        "Emily's row has no email: her new link is printed instead"
    );
    assert!(
        stdout(&output).contains("deliver this link"),
        "{}",
        stdout(&output)
    );
    let rows = status(&tenant, &[]);
    assert_eq!(rows[1]["inviteCount"], 2);
}
