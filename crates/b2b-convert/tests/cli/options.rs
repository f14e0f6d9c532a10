//! The conversion's options end to end: the invitation's message, cc and language as
//! Graph received them, the follow-up steps as the tenant shows them afterwards, the
//! links file for invitations sent without email, and what `apply` prints around them.

use serde_json::{Value, json};

use crate::support::{APPLY_ARGS, TestTenant, demo_user, find_user, stderr, stdout};

/// Adele and Uma: cloud-only, enabled, no mail, no role.
const TWO: &str = "user,externalEmail\n\
                   adele.vance@contoso.com,adele@fabrikam.com\n\
                   uma.patel@contoso.com,uma@tailspintoys.com\n";

/// The demo tenant with its converting app made a User Administrator: Graph lets an app
/// change passwords only then.
fn tenant_with_user_admin_app() -> TestTenant {
    let mut t: Value = serde_json::from_str(include_str!("../../../../tenants/demo.json")).unwrap();
    t["applications"][0]["directoryRoles"] = json!(["User Administrator"]);
    TestTenant::from_json(&t.to_string(), Default::default())
}

#[test]
fn invitation_options_reach_graph_and_follow_ups_change_the_user() {
    let t = tenant_with_user_admin_app();
    t.write("users.csv", TWO);
    let options = [
        "--message",
        "Welcome to Contoso",
        "--cc",
        "partner-manager@fabrikam.com",
        "--language",
        "de-DE",
        "--user-type",
        "guest",
        "--also-other-mails",
        "--scramble-password",
    ];
    let mut plan_args = vec!["plan", "--input", "users.csv", "--output", "json"];
    plan_args.extend(options);
    let planned = t.cmd(&plan_args).output().unwrap();
    assert!(planned.status.success(), "{}", stderr(&planned));
    let plan: Value = serde_json::from_str(&stdout(&planned)).unwrap();
    let actions: Vec<&str> = plan[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "update_mail",
            "add_other_mail",
            "invite",
            "set_user_type",
            "scramble_password",
            "verify"
        ]
    );

    let out = t.apply(TWO, &options);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "https://teams.microsoft.com/?tenantId={}",
            crate::support::DEMO_TENANT_ID
        )),
        "{err}"
    );
    assert!(err.contains("monthly active users"), "{err}");

    let state = t.state();
    // The invitation email as Microsoft would have sent it.
    let message = state["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == "adele@fabrikam.com")
        .expect("an invitation email to Adele");
    assert_eq!(message["cc"], json!(["partner-manager@fabrikam.com"]));
    assert_eq!(message["language"], "de-DE");
    // Microsoft leaves the custom message out of emails an application sends, so the
    // request the journal kept shows it went with the invitation.
    let journal =
        String::from_utf8_lossy(&std::fs::read(t.dir.path().join("run.db")).unwrap()).into_owned();
    assert!(
        journal.contains("Welcome to Contoso"),
        "the message was not sent"
    );
    for (nn, address) in [(1, "adele@fabrikam.com"), (28, "uma@tailspintoys.com")] {
        let user = find_user(&state, &demo_user(nn));
        assert_eq!(user["userType"], "Guest", "{user}");
        assert_eq!(user["mail"], address);
        assert_eq!(user["otherMails"], json!([address]), "{user}");
        assert!(
            user["lastPasswordChangeDateTime"].is_string(),
            "password not changed: {user}"
        );
        assert_eq!(user["externalUserState"], "PendingAcceptance");
    }
    // The random password is nowhere on disk.
    assert!(journal.contains("[random, not kept]"));
    assert!(!journal.contains("Xq7!"));
}

#[test]
fn scrambling_without_the_admin_role_fails_that_row_and_says_which_step() {
    let t = TestTenant::demo();
    let out = t.apply(TWO, &["--scramble-password"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("User Administrator role"),
        "the note before the run: {err}"
    );
    assert!(err.contains("scramble_password"), "{err}");
    // The invitation stands; only the follow-up failed.
    let state = t.state();
    assert_eq!(
        find_user(&state, &demo_user(1))["externalUserState"],
        "PendingAcceptance"
    );
}

#[test]
fn links_of_invitations_without_email_go_to_the_links_file() {
    let t = TestTenant::demo();
    let out = t.apply(TWO, &["--no-email", "--links-out", "links.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 redeem links to deliver written to links.csv"),
        "{}",
        stderr(&out)
    );
    let links = std::fs::read_to_string(t.dir.path().join("links.csv")).unwrap();
    let mut lines = links.lines();
    assert_eq!(
        lines.next(),
        Some("user,displayName,externalEmail,redeemUrl")
    );
    let state = t.state();
    for invitation in state["invitations"].as_array().unwrap() {
        assert_eq!(invitation["sendInvitationMessage"], false);
        let url = invitation["inviteRedeemUrl"].as_str().unwrap();
        assert!(links.contains(url), "{url} missing from {links}");
    }
    assert_eq!(lines.count(), 2, "{links}");
    assert!(
        state["messages"].as_array().unwrap().is_empty(),
        "no email was sent"
    );
}

#[test]
fn nothing_to_convert_still_prints_an_empty_result_for_scripts() {
    let t = TestTenant::demo();
    let input = "user,externalEmail\nnobody@contoso.com,nobody@fabrikam.com\n";
    let mut args = APPLY_ARGS.to_vec();
    args.extend(["--output", "json"]);
    t.write("users.csv", input);
    let out = t.cmd(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["results"], json!([]));
    assert_eq!(result["runId"], Value::Null);
}

#[test]
fn a_large_plan_is_summarised_before_the_question() {
    let t = TestTenant::demo();
    let mut input = String::from("user,externalEmail\n");
    for i in 0..60 {
        input.push_str(&format!("ghost{i}@contoso.com,ghost{i}@fabrikam.com\n"));
    }
    let out = t.apply(&input, &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("60 rows: 0 to convert, 0 to skip, 60 blocked"),
        "{text}"
    );
    assert!(text.contains("not_found"), "{text}");
    assert!(text.contains("--show-plan"), "{text}");
    assert!(
        !text.contains("ghost59@contoso.com"),
        "every row was printed: {text}"
    );
    let all = t.apply(&input, &["--show-plan"]);
    assert!(stdout(&all).contains("ghost59@contoso.com"));
}

#[test]
fn the_team_config_file_gives_defaults_the_command_line_overrides() {
    let t = TestTenant::demo();
    t.write("users.csv", TWO);
    t.write(
        "b2b-convert.toml",
        "message = \"From the team file\"\nlanguage = \"fr-FR\"\nconcurrency = 4\n",
    );
    let invite = |out: &std::process::Output| -> Value {
        assert!(out.status.success(), "{}", stderr(out));
        let plan: Value = serde_json::from_str(&stdout(out)).unwrap();
        plan[0]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == "invite")
            .cloned()
            .unwrap()
    };
    let from_file = invite(
        &t.cmd(&["plan", "--input", "users.csv", "--output", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(from_file["message"], "From the team file");
    assert_eq!(from_file["language"], "fr-FR");
    let typed = invite(
        &t.cmd(&[
            "plan",
            "--input",
            "users.csv",
            "--output",
            "json",
            "--message",
            "Typed",
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(typed["message"], "Typed");
    assert_eq!(typed["language"], "fr-FR");

    t.write("b2b-convert.toml", "message = \"x\"\ncolour = \"blue\"\n");
    let out = t.cmd(&["plan", "--input", "users.csv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("b2b-convert.toml") && err.contains("line 2") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn in_a_terminal_apply_shows_the_summary_asks_and_draws_its_progress() {
    use expectrl::{Eof, Expect, Regex};

    const USERS: usize = 300;
    let (tenant_json, input) = crate::generated::tenant(USERS);
    let t = TestTenant::from_json(
        &tenant_json,
        graph_emulator::simulation::SimulationOverrides {
            latency_ms: Some(20),
            ..Default::default()
        },
    );
    t.write("users.csv", &input);
    let mut command = t.process(&["apply", "--input", "users.csv", "--journal", "run.db"]);
    command.env("TERM", "xterm-256color").env_remove("NO_COLOR");
    let mut session = expectrl::Session::spawn(command).expect("spawn in a pty");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(90)));
    // 300 rows (60 of them blocked): the counts, not 300 table rows, before the question.
    let asked = match session.expect(Regex(
        "Convert 240 users\\?[^\\r\\n]*Type 'yes' to continue: ",
    )) {
        Ok(found) => found,
        Err(e) => {
            let mut rest = vec![0u8; 65536];
            let n = session.try_read(&mut rest).unwrap_or(0);
            panic!("no prompt ({e}): {}", String::from_utf8_lossy(&rest[..n]));
        }
    };
    let before = String::from_utf8_lossy(asked.before()).into_owned();
    assert!(
        before.contains("300 rows: 240 to convert, 0 to skip, 60 blocked"),
        "{before}"
    );
    assert!(before.contains("--show-plan"), "{before}");
    session.send_line("yes").expect("answer");
    session
        .expect(Regex("converting +[1-9][0-9]*/240"))
        .expect("the progress bar");
    let done = session
        .expect(Regex("Run [0-9a-f-]+: 240 converted, 0 failed"))
        .expect("the whole run's summary");
    drop(done);
    session.expect(Eof).expect("exits");
}

#[test]
fn reinvite_reaches_users_invited_outside_a_journaled_run() {
    let t = TestTenant::demo();
    // Invite Adele with one journal, then forget it: to the next admin she is an
    // `already_invited` row nobody's journal knows.
    let first = t.apply(TWO, &["--no-email"]);
    assert!(first.status.success(), "{}", stderr(&first));
    std::fs::remove_file(t.dir.path().join("run.db")).unwrap();
    let before = t.state()["invitations"].as_array().unwrap().len();

    let out = t
        .cmd(&[
            "reinvite",
            "--user",
            "adele.vance@contoso.com",
            "--user",
            "ben.walters@contoso.com",
            "--no-email",
            "--yes",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    // Ben was never invited: not sent, said why, exit 1.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let results: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(results[0]["outcome"], "reinvited", "{results}");
    assert_eq!(results[0]["externalEmail"], "adele@fabrikam.com");
    assert!(
        results[0]["redeemUrl"]
            .as_str()
            .unwrap()
            .contains("/redeem/")
    );
    assert_eq!(results[1]["outcome"], "not_sent");
    assert!(
        results[1]["error"]
            .as_str()
            .unwrap()
            .contains("never invited"),
        "{results}"
    );
    let state = t.state();
    let invitations = state["invitations"].as_array().unwrap();
    assert_eq!(
        invitations.len(),
        before + 1,
        "exactly one fresh invitation"
    );
    assert_eq!(invitations.last().unwrap()["userId"], demo_user(1));
}
