//! Users selected straight from the tenant: `plan --select` (a Graph `$filter`) and
//! `plan --select-group` with an address rule, the file `--write-input` writes, and an
//! `apply` of that file, with the invitations Graph received and the users afterwards.

use serde_json::{Value, json};

use crate::support::{TestTenant, demo_user, find_user, invitation, stderr, stdout};

/// The requests the emulator logged for `path`, as their query strings.
fn queries(state: &Value, path: &str) -> Vec<String> {
    state["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["path"] == path)
        .map(|r| r["query"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `apply` of a file in the test's folder, confirmed, journaled in run.db.
fn apply_file(t: &TestTenant, name: &str) -> std::process::Output {
    t.cmd(&["apply", "--input", name, "--yes", "--journal", "run.db"])
        .output()
        .unwrap()
}

#[test]
fn a_filter_and_a_template_write_an_input_file_that_apply_converts() {
    let t = TestTenant::demo();
    let filter = "startsWith(userPrincipalName,'sam')";
    let planned = t
        .cmd(&[
            "plan",
            "--select",
            filter,
            "--map-email",
            "{givenName}.{surname}@fabrikam.com",
            "--write-input",
            "selected.csv",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let err = stderr(&planned);
    assert!(planned.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "Selected 2 users (the users matching `{filter}`); 2 got an address"
        )),
        "{err}"
    );
    assert!(
        err.contains("then `b2b-convert apply --input selected.csv`"),
        "{err}"
    );
    // The file, sorted by UPN, is an ordinary input file.
    let written = std::fs::read_to_string(t.dir.path().join("selected.csv")).unwrap();
    assert_eq!(
        written,
        "user,externalEmail\n\
         sam.reyes@contoso.com,Sam.Reyes@fabrikam.com\n\
         samuel.reyes@contoso.com,Samuel.Reyes@fabrikam.com\n"
    );
    // The plan is the file's: its line numbers and addresses.
    let plan: Value = serde_json::from_str(&stdout(&planned)).unwrap();
    let rows: Vec<(u64, &str, &str)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["externalEmail"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (2, "Sam.Reyes@fabrikam.com", "convert"),
            (3, "Samuel.Reyes@fabrikam.com", "convert")
        ]
    );
    // Graph was asked with the filter as an advanced query (endsWith, ne and not need it).
    let state = t.state();
    let users_reads = queries(&state, "/v1.0/users");
    assert!(
        users_reads
            .iter()
            .any(|q| q.contains("startsWith") && q.contains("$count=true")),
        "{users_reads:?}"
    );
    assert!(
        crate::support::writes(&state).is_empty(),
        "plan changed something"
    );

    // The same command again never writes over the reviewed file.
    std::fs::write(t.dir.path().join("selected.csv"), &written).unwrap();
    let again = t
        .cmd(&[
            "plan",
            "--select",
            filter,
            "--map-email",
            "{upnLocal}@elsewhere.example",
            "--write-input",
            "selected.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("selected.csv exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read_to_string(t.dir.path().join("selected.csv")).unwrap(),
        written
    );

    // apply takes the file as any other input.
    let applied = apply_file(&t, "selected.csv");
    assert!(applied.status.success(), "{}", stderr(&applied));
    let state = t.state();
    for (nn, upn, address) in [
        (20, "sam.reyes@contoso.com", "Sam.Reyes@fabrikam.com"),
        (21, "samuel.reyes@contoso.com", "Samuel.Reyes@fabrikam.com"),
    ] {
        let sent = invitation(&state, &demo_user(nn));
        assert_eq!(sent["invitedUserEmailAddress"], address, "{sent:#}");
        assert_eq!(sent["sendInvitationMessage"], true, "{sent:#}");
        let user = find_user(&state, &demo_user(nn));
        assert_eq!(user["mail"], address, "{user}");
        assert_eq!(user["externalUserState"], "PendingAcceptance", "{user}");
        // The account keeps its UPN: the partner signs in to it with their own identity.
        assert_eq!(user["userPrincipalName"], upn, "{user}");
    }
}

/// The demo tenant with a group of Fabrikam's people: Adele (one Fabrikam address in
/// otherMails), Ben (two), Grace (none), and a nested group holding Lee (one).
fn tenant_with_fabrikam_group() -> TestTenant {
    let mut t: Value = serde_json::from_str(include_str!("../../../../tenants/demo.json")).unwrap();
    let other_mails = [
        (1, json!(["adele@fabrikam.com", "adele@outlook.com"])),
        (2, json!(["ben@fabrikam.com", "b.walters@fabrikam.com"])),
        (11, json!(["lee@fabrikam.com"])),
    ];
    for user in t["users"].as_array_mut().unwrap() {
        for (nn, mails) in &other_mails {
            if user["id"] == demo_user(*nn) {
                user["otherMails"] = mails.clone();
            }
        }
    }
    let groups = t["groups"].as_array_mut().unwrap();
    groups.push(json!({
        "id": "e0000000-0000-4000-8000-000000000010",
        "displayName": "Fabrikam staff",
        "mailEnabled": false,
        "mailNickname": "fabrikamstaff",
        "securityEnabled": true,
        "groupTypes": [],
        "members": [demo_user(1), demo_user(2), demo_user(7), "e0000000-0000-4000-8000-000000000011"]
    }));
    groups.push(json!({
        "id": "e0000000-0000-4000-8000-000000000011",
        "displayName": "Fabrikam contractors",
        "mailEnabled": false,
        "mailNickname": "fabrikamcontractors",
        "securityEnabled": true,
        "groupTypes": [],
        "members": [demo_user(11)]
    }));
    for n in [12, 13] {
        groups.push(json!({
            "id": format!("e0000000-0000-4000-8000-0000000000{n}"),
            "displayName": "Twins",
            "mailEnabled": false,
            "mailNickname": format!("twins{n}"),
            "securityEnabled": true,
            "groupTypes": [],
        }));
    }
    TestTenant::from_json(&t.to_string(), Default::default())
}

#[test]
fn a_group_gives_its_direct_members_and_other_mails_their_partner_address() {
    let t = tenant_with_fabrikam_group();
    let planned = t
        .cmd(&[
            "plan",
            "--select-group",
            "Fabrikam staff",
            "--map-email-from-other-mails",
            "fabrikam.com",
            "--write-input",
            "fabrikam.csv",
        ])
        .output()
        .unwrap();
    let err = stderr(&planned);
    assert!(planned.status.success(), "{err}");
    // Adele only: Ben has two Fabrikam addresses, Grace none, Lee is in a nested group.
    assert_eq!(
        std::fs::read_to_string(t.dir.path().join("fabrikam.csv")).unwrap(),
        "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\n"
    );
    for said in [
        "Selected 3 users (the members of group `Fabrikam staff`); 1 got an address from their otherMails address at fabrikam.com.",
        "Not followed: 1 nested group (Fabrikam contractors)",
        "2 users got no address and are not in the selection:",
        "ben.walters@contoso.com (Ben Walters) has 2 otherMails addresses at fabrikam.com (ben@fabrikam.com, b.walters@fabrikam.com)",
        "grace.taylor@contoso.com (Grace Taylor) has no otherMails",
    ] {
        assert!(err.contains(said), "missing {said:?} in:\n{err}");
    }
    assert!(
        stdout(&planned).contains("1 row: 1 to convert"),
        "{}",
        stdout(&planned)
    );
    let state = t.state();
    assert_eq!(
        queries(
            &state,
            "/v1.0/groups/e0000000-0000-4000-8000-000000000011/members"
        ),
        Vec::<String>::new(),
        "the nested group was read"
    );

    let applied = apply_file(&t, "fabrikam.csv");
    assert!(applied.status.success(), "{}", stderr(&applied));
    let state = t.state();
    let sent = invitation(&state, &demo_user(1));
    assert_eq!(sent["invitedUserEmailAddress"], "adele@fabrikam.com");
    assert_eq!(
        find_user(&state, &demo_user(1))["mail"],
        "adele@fabrikam.com"
    );
    for untouched in [2, 7, 11] {
        let user = find_user(&state, &demo_user(untouched));
        assert!(user["externalUserState"].is_null(), "{user}");
    }
}

#[test]
fn a_group_name_must_name_one_group_and_a_template_is_checked_before_signing_in() {
    let t = tenant_with_fabrikam_group();
    let twins = t
        .cmd(&[
            "plan",
            "--select-group",
            "Twins",
            "--map-email",
            "{upnLocal}@fabrikam.com",
        ])
        .output()
        .unwrap();
    let err = stderr(&twins);
    assert_eq!(twins.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2 groups are named `Twins`; give one's object id instead: e0000000-0000-4000-8000-000000000012, e0000000-0000-4000-8000-000000000013"),
        "{err}"
    );
    // By id, the same group is found; it has no members, so there is nothing to plan.
    let by_id = t
        .cmd(&[
            "plan",
            "--select-group",
            "e0000000-0000-4000-8000-000000000012",
            "--map-email",
            "{upnLocal}@fabrikam.com",
        ])
        .output()
        .unwrap();
    assert_eq!(by_id.status.code(), Some(2), "{}", stderr(&by_id));
    assert!(
        stderr(&by_id).contains(
            "Selected 0 users (the members of group `e0000000-0000-4000-8000-000000000012`)"
        ),
        "{}",
        stderr(&by_id)
    );
    assert!(
        stderr(&by_id).contains("nothing to plan"),
        "{}",
        stderr(&by_id)
    );

    let before = t.state()["requests"].as_array().map(Vec::len);
    let bad = t
        .cmd(&[
            "plan",
            "--select",
            "userType eq 'Member'",
            "--map-email",
            "{upnLocal}@{surname}.example",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("the partner's domain after the `@` must be written out"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(
        t.state()["requests"].as_array().map(Vec::len),
        before,
        "a request was sent"
    );

    // A selection is for `plan`: apply takes the reviewed file only.
    let apply = t
        .cmd(&["apply", "--select", "userType eq 'Member'", "--yes"])
        .output()
        .unwrap();
    assert_eq!(apply.status.code(), Some(2));
    assert!(stderr(&apply).contains("--select"), "{}", stderr(&apply));
}
