//! `revert` end to end: users converted by `apply` turned back into internal members
//! through the emulator's beta endpoint, the redeemed one refused, the beta gate, the
//! permission check, and the journal's record of every step.

use b2b_convert_core::clock;
use b2b_convert_core::journal::{Journal, RunStatus, StepKind, StepResult};
use serde_json::Value;

use crate::support::{
    DEMO_TENANT_ID, TestTenant, demo_user, find_user, requests, stderr, stdout, writes,
};

/// Adele (1) and Ben (2): both eligible in the demo tenant.
const TWO_USERS: &str = "user,externalEmail\n\
adele.vance@contoso.com,adele@fabrikam.com\n\
ben.walters@contoso.com,ben.walters@northwind.com\n";

fn convert_path(user_id: &str) -> String {
    format!("/beta/users/{user_id}/convertExternalToInternalMemberUser")
}

fn json_out(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout:\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

#[test]
fn reverts_the_unredeemed_user_of_the_last_run_and_refuses_the_redeemed_one() {
    let t = TestTenant::demo();
    let applied = t.apply(TWO_USERS, &[]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let (adele, ben) = (demo_user(1), demo_user(2));
    t.redeem(&ben);

    let out = t
        .cmd(&[
            "revert",
            "--i-understand-beta",
            "--yes",
            "--journal",
            "run.db",
            "--last",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer = json_out(&out);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{answer:#}");
    assert_eq!(results[0]["userId"], adele.as_str());
    assert_eq!(results[0]["outcome"], "reverted");
    assert_eq!(results[0]["userPrincipalName"], "adele.vance@contoso.com");
    let blocked = answer["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 1, "{answer:#}");
    assert_eq!(blocked[0]["userId"], ben.as_str());
    assert_eq!(blocked[0]["reasons"][0]["code"], "accepted");
    let why = blocked[0]["reasons"][0]["message"].as_str().unwrap();
    assert!(
        why.contains("--include-accepted") && why.contains("lose access"),
        "{why}"
    );
    assert!(
        stderr(&out).contains("reset it in the Entra admin center"),
        "{}",
        stderr(&out)
    );

    // What Graph received: one conversion, for Adele only.
    let state = t.state();
    assert_eq!(
        requests(&state, "POST", &convert_path(&adele), 200),
        std::slice::from_ref(&adele)
    );
    assert!(requests(&state, "POST", &convert_path(&ben), 200).is_empty());
    let beta_writes: Vec<_> = writes(&state)
        .into_iter()
        .filter(|(_, path, _)| path.starts_with("/beta/"))
        .collect();
    assert_eq!(beta_writes.len(), 1, "{beta_writes:?}");

    // The tenant: Adele is an internal member again, with her UPN and a password to change.
    let user = find_user(&state, &adele);
    assert_eq!(user["userType"], "Member");
    assert_eq!(user["externalUserState"], Value::Null);
    assert_eq!(user["userPrincipalName"], "adele.vance@contoso.com");
    let identities = user["identities"].as_array().unwrap();
    assert!(
        identities
            .iter()
            .all(|i| i["signInType"] == "userPrincipalName"),
        "{identities:?}"
    );
    assert_eq!(
        user["passwordProfile"]["forceChangePasswordNextSignIn"],
        true
    );
    assert_eq!(user["passwordProfile"]["password"], Value::Null);
    let ben_now = find_user(&state, &ben);
    assert_eq!(ben_now["externalUserState"], "Accepted");

    // The journal: a revert run of its own, Adele's steps an intent and outcome each.
    let journal_path = t.dir.path().join("run.db");
    let journal = Journal::open_existing(&journal_path, clock::system()).unwrap();
    let runs = journal.revert_runs().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(run.tenant_id, DEMO_TENANT_ID);
    let apply_run = journal.latest_run().unwrap().unwrap();
    assert_eq!(run.input_path, format!("journal run {}", apply_run.id));
    let entries = journal.revert_entries(&run.id).unwrap();
    assert_eq!(entries.len(), 2);
    let steps = journal.steps(&run.id, None).unwrap();
    let kinds: Vec<StepKind> = steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [StepKind::Revert, StepKind::Verify]);
    assert!(
        steps
            .iter()
            .all(|s| s.user_id == adele && s.result == Some(StepResult::Ok))
    );
    assert_eq!(
        steps[0].request["userPrincipalName"],
        "adele.vance@contoso.com"
    );
    assert_eq!(
        steps[0].request["passwordProfile"]["password"],
        "[random, not kept]"
    );
    assert_eq!(steps[0].outcome.http_status, Some(200));
    // The random password was never written anywhere.
    for file in std::fs::read_dir(t.dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"Xq7!"),
            "a password reached the disk"
        );
    }
    assert!(!stdout(&out).contains("Xq7!") && !stderr(&out).contains("Xq7!"));
    // The invitation record says what was read back: no invitation any more.
    let invitation = journal.invitation(&adele).unwrap().unwrap();
    assert_eq!(invitation.state, None);
    assert!(invitation.checked_at.is_some());
    // apply's own view of the journal is untouched.
    assert_eq!(journal.runs().unwrap().len(), 1);
    drop(journal);

    // Again: Adele is internal now, Ben still redeemed; nothing is sent.
    let again = t
        .cmd(&[
            "revert",
            "--i-understand-beta",
            "--yes",
            "--journal",
            "run.db",
            "--last",
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(
        text.contains("not_external") && text.contains("accepted"),
        "{text}"
    );
    assert!(
        stderr(&again).contains("Nothing to revert"),
        "{}",
        stderr(&again)
    );
    let state = t.state();
    assert_eq!(
        requests(&state, "POST", &convert_path(&adele), 200).len(),
        1
    );

    // Converting Adele to B2B again: Graph refuses for good (412), and the row says why
    // in the admin's words, not only Graph's.
    let reconvert = t
        .cmd(&[
            "apply",
            "--input",
            "users.csv",
            "--yes",
            "--journal",
            "again.db",
        ])
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&reconvert), stderr(&reconvert));
    assert_eq!(reconvert.status.code(), Some(1), "{said}");
    assert!(
        said.contains("UserState is neither accepted nor pending")
            && said.contains("converted back to internal"),
        "{said}"
    );
    assert_eq!(
        requests(&t.state(), "POST", "/v1.0/invitations", 412),
        [adele]
    );
}

#[test]
fn without_i_understand_beta_it_refuses_before_anything_is_read_or_sent() {
    let t = TestTenant::demo();
    t.write("revert.csv", "user\nnina.park@contoso.com\n");
    let out = t
        .cmd(&[
            "revert",
            "--yes",
            "--input",
            "revert.csv",
            "--journal",
            "run.db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("beta API"), "{err}");
    assert!(err.contains("subject to change"), "{err}");
    assert!(err.contains("Pass --i-understand-beta"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    let state = t.state();
    assert!(
        state["requests"].as_array().unwrap().is_empty(),
        "nothing reached Graph"
    );
    assert!(!t.dir.path().join("run.db").exists(), "no journal created");
}

#[test]
fn an_app_without_the_permission_is_refused_before_anything_changes() {
    // The demo's second app may only read.
    let t = TestTenant::demo();
    t.write("revert.csv", "user\nnina.park@contoso.com\n");
    let out = t
        .process(&[
            "revert",
            "--i-understand-beta",
            "--yes",
            "--input",
            "revert.csv",
            "--journal",
            "run.db",
        ])
        .env("AZURE_CLIENT_ID", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")
        .env("AZURE_CLIENT_SECRET", "read-only-demo-secret")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("lacks application permissions this run needs; nothing was changed"),
        "{err}"
    );
    assert!(
        err.contains(
            "to convert each external user back to internal (beta): needs User-ConvertToInternal.ReadWrite.All (or User.ReadWrite.All)"
        ),
        "{err}"
    );
    let state = t.state();
    assert!(writes(&state).is_empty(), "{:?}", writes(&state));
    assert_eq!(
        find_user(&state, &demo_user(22))["externalUserState"],
        "PendingAcceptance"
    );
}

#[test]
fn an_input_file_is_planned_user_by_user_and_include_accepted_and_upn_domain_apply() {
    let t = TestTenant::demo();
    // Nina is pending, Omar redeemed, Quinn is a real guest, Adele was never converted.
    t.write(
        "revert.csv",
        "User Principal Name;note\n\
         nina.park@contoso.com;pending\n\
         omar.haddad@contoso.com;redeemed\n\
         quinn@tailspintoys.com;a guest, named by mail\n\
         adele.vance@contoso.com;internal\n\
         nobody@contoso.com;unknown\n\
         nina.park@contoso.com;again\n",
    );
    let out = t
        .cmd(&[
            "revert",
            "--i-understand-beta",
            "--yes",
            "--input",
            "revert.csv",
            "--journal",
            "run.db",
            "--include-accepted",
            "--output",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "row,userId,displayName,userPrincipalName,outcome,detail"
    );
    let outcome = |row: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{row},")))
            .unwrap_or_else(|| panic!("no row {row} in\n{csv}"))
            .to_string()
    };
    assert!(outcome("2").contains(",reverted,"), "{csv}");
    assert!(outcome("3").contains(",reverted,"), "{csv}");
    // Quinn's #EXT# UPN can't be an internal one without --upn-domain.
    assert!(outcome("4").contains("invalid_upn"), "{csv}");
    assert!(outcome("5").contains("not_external"), "{csv}");
    assert!(outcome("6").contains("not_found"), "{csv}");
    assert!(outcome("7").contains("duplicate_row"), "{csv}");
    // The plan went to stderr with the JSON/CSV output.
    assert!(
        stderr(&out).contains("2 to revert, 4 blocked."),
        "{}",
        stderr(&out)
    );

    // Quinn, with a domain for the new UPN: an unverified one blocks, naming the verified.
    t.write("quinn.csv", "user\nquinn@tailspintoys.com\n");
    let quinn_with = |domain: &str| {
        t.cmd(&[
            "revert",
            "--i-understand-beta",
            "--yes",
            "--input",
            "quinn.csv",
            "--journal",
            "run.db",
            "--include-accepted",
            "--upn-domain",
            domain,
        ])
        .output()
        .unwrap()
    };
    let out = quinn_with("fabrikam.com");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("upn_domain_not_verified"), "{text}");
    assert!(text.contains("contoso.com"), "{text}");
    let out = quinn_with("contoso.com");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let quinn = find_user(&t.state(), &demo_user(24));
    assert_eq!(
        quinn["userPrincipalName"],
        "quinn_tailspintoys.com@contoso.com"
    );
    assert_eq!(quinn["userType"], "Member");

    let revert_runs = Journal::open_existing(&t.dir.path().join("run.db"), clock::system())
        .unwrap()
        .revert_runs()
        .unwrap();
    assert_eq!(revert_runs.len(), 2, "a run only when someone is reverted");
}
