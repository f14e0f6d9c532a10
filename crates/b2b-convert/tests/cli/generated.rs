//! Generated tenants for the runs at scale (kills, faults, interrupts): `n` users of
//! whom every 10th is synced with onPremisesUserPrincipalName and every 10th+5 disabled
//! (so 80 % are eligible), the input converting each to `partner{i}@fabrikam.com`, and
//! the check that a run (however often interrupted) converted exactly the eligible ones.

use serde_json::{Value, json};

use crate::support::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, TestTenant, stderr};

/// The object id of generated user `i` (1-based).
pub fn user_id(i: usize) -> String {
    format!("e0000000-0000-4000-8000-{i:012}")
}

/// Whether generated user `i` may be converted.
pub fn eligible(i: usize) -> bool {
    !i.is_multiple_of(10) && i % 10 != 5
}

/// The tenant JSON and the input CSV for `n` users.
pub fn tenant(n: usize) -> (String, String) {
    let users: Vec<Value> = (1..=n)
        .map(|i| {
            let upn = format!("user{i}@contoso.com");
            let mut user = json!({
                "id": user_id(i),
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
    for i in 1..=n {
        input.push_str(&format!("user{i}@contoso.com,partner{i}@fabrikam.com\n"));
    }
    (tenant.to_string(), input)
}

/// Every eligible user got exactly one successful invitation, no other user was
/// written to, the tenant shows each conversion, and the journal (`status`) agrees.
pub fn assert_converted_exactly_once(tenant: &TestTenant, users: usize) {
    let state = tenant.state();
    // Invitations Graph processed, whatever answer reached the client (a fault after
    // processing, a cut connection or a stall hides the 201 from the request log).
    let mut invited: Vec<String> = state["invitations"]
        .as_array()
        .expect("invitations")
        .iter()
        .filter_map(|i| i["userId"].as_str().map(str::to_owned))
        .collect();
    invited.sort();
    let mut expected: Vec<String> = (1..=users).filter(|i| eligible(*i)).map(user_id).collect();
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
        "one invitation processed per eligible user, no more; missing: {about_missing:#?}"
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
    assert_eq!(rows.len(), users);
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
