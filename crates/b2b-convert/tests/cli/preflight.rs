//! The pre-flight end to end: every rule through `plan --output json` (its reason code
//! and the `redemption` object), each missing permission named once with `plan` still
//! finishing, and `apply` sending nothing the pre-flight blocked while a refusal Graph
//! makes anyway (a policy changed after planning) fails only its row.

use serde_json::{Value, json};

use crate::support::{
    APPLY_ARGS, DEMO_INPUT, TestTenant, demo_user, invited_user_ids, stderr, stdout, writes,
};

const FABRIKAM: &str = "c1000000-0000-4000-8000-000000000001";
const ADATUM: &str = "c1000000-0000-4000-8000-000000000003";
const WOODGROVE: &str = "c1000000-0000-4000-8000-000000000008";

/// The shipped demo tenant as JSON, to vary.
fn demo_json() -> Value {
    serde_json::from_str(include_str!("../../../../tenants/demo.json")).expect("demo tenant JSON")
}

/// The demo tenant with `change` made to its JSON.
fn demo_with(change: impl FnOnce(&mut Value)) -> TestTenant {
    let mut tenant = demo_json();
    change(&mut tenant);
    TestTenant::from_json(&tenant.to_string(), Default::default())
}

/// `plan --output json` of `input`: the entries and stderr.
fn plan_json(tenant: &TestTenant, input: &str, extra: &[&str]) -> (Vec<Value>, String) {
    tenant.write("users.csv", input);
    let mut args = vec!["plan", "--input", "users.csv", "--output", "json"];
    args.extend_from_slice(extra);
    let output = tenant.cmd(&args).output().expect("plan runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let entries = serde_json::from_slice(&output.stdout).expect("a JSON array");
    (entries, stderr(&output))
}

/// The entry of input line `row`.
fn row(plan: &[Value], row: u64) -> &Value {
    plan.iter()
        .find(|e| e["row"] == row)
        .unwrap_or_else(|| panic!("no row {row}"))
}

fn codes(entry: &Value) -> Vec<&str> {
    entry["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["code"].as_str())
        .collect()
}

fn message<'a>(entry: &'a Value, code: &str) -> &'a str {
    entry["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["code"] == code)
        .and_then(|r| r["message"].as_str())
        .unwrap_or_else(|| panic!("no {code} in {entry:#}"))
}

fn partner(id: &str, name: &str) -> Value {
    json!({"tenantId": id, "displayName": name})
}

/// The demo's pre-flight rows, the same whichever strategy reads the tenant.
#[test]
fn every_rule_on_the_demo_with_both_strategies() {
    let tenant = TestTenant::demo();
    for strategy in ["snapshot", "lookup"] {
        let (plan, err) = plan_json(&tenant, DEMO_INPUT, &["--planning", strategy]);
        assert!(!err.contains("Not checked"), "{strategy}: {err}");

        // Partners with an Entra tenant sign in with it; Fabrikam's may skip the consent
        // prompt (its partner configuration allows automatic redemption inbound).
        let adele = row(&plan, 2);
        assert_eq!(adele["decision"], "convert");
        assert_eq!(
            adele["redemption"],
            json!({"partnerTenant": partner(FABRIKAM, "Fabrikam, Inc."), "method": "entra", "automatic": true})
        );
        assert!(
            adele["notes"].to_string().contains("Automatic redemption"),
            "{adele:#}"
        );
        let ben = row(&plan, 3);
        assert_eq!(ben["redemption"]["method"], "entra");
        assert_eq!(ben["redemption"]["automatic"], false);
        assert!(ben["notes"].is_null(), "{ben:#}");

        // No redemption for an address in the tenant's own domain, or an invalid one.
        assert!(row(&plan, 14)["redemption"].is_null());
        assert!(row(&plan, 18)["redemption"].is_null());

        // Ravi is only eligible for User Administrator (PIM).
        let ravi = row(&plan, 26);
        assert_eq!(ravi["decision"], "blocked");
        assert_eq!(codes(ravi), ["privileged_role"], "{strategy}");
        let text = message(ravi, "privileged_role");
        assert!(
            text.contains("eligible for directory roles (User Administrator)"),
            "{text}"
        );

        // Tess is a member, Xavier an owner of the role-assignable Tier 0 Operators.
        let tess = row(&plan, 27);
        assert_eq!(codes(tess), ["role_assignable_group"], "{strategy}");
        assert!(
            message(tess, "role_assignable_group")
                .contains("a member of the role-assignable group `Tier 0 Operators`")
        );
        let xavier = row(&plan, 28);
        assert_eq!(codes(xavier), ["role_assignable_group"], "{strategy}");
        assert!(
            message(xavier, "role_assignable_group")
                .contains("an owner of the role-assignable group `Tier 0 Operators`")
        );

        // Woodgrove Bank's tenant is blocked by its partner configuration.
        let victor = row(&plan, 29);
        assert_eq!(victor["decision"], "blocked");
        assert_eq!(codes(victor), ["partner_blocked_by_cross_tenant_access"]);
        assert!(
            message(victor, "partner_blocked_by_cross_tenant_access").contains(
                "Woodgrove Bank (tenant c1000000-0000-4000-8000-000000000008) for all of its users"
            ),
            "{victor:#}"
        );
        assert_eq!(
            victor["redemption"],
            json!({"partnerTenant": partner(WOODGROVE, "Woodgrove Bank"), "method": "entra", "automatic": false})
        );

        // fourthcoffee.com has no Entra tenant: a Microsoft account or an emailed code.
        let wendy = row(&plan, 30);
        assert_eq!(wendy["decision"], "convert", "{wendy:#}");
        assert_eq!(
            wendy["redemption"],
            json!({"partnerTenant": null, "method": "microsoftAccountOrOtp", "automatic": false})
        );

        // treyresearch.net is on the deny list.
        let uma = row(&plan, 31);
        assert_eq!(codes(uma), ["domain_blocked_by_policy"]);
        assert!(
            message(uma, "domain_blocked_by_policy")
                .contains("`treyresearch.net` is on this tenant's B2B deny list")
        );
    }
    assert_eq!(writes(&tenant.state()), vec![], "plan is read-only");
}

#[test]
fn the_table_says_how_each_partner_redeems() {
    let tenant = TestTenant::demo();
    tenant.write("users.csv", DEMO_INPUT);
    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for words in [
        "redeems: signs in with their Fabrikam, Inc. Entra account (automatic redemption)",
        "redeems: signs in with their Northwind Traders Entra account",
        "redeems: Microsoft account, or a one-time passcode by email",
        "30 rows: 7 to convert, 3 to skip, 20 blocked",
    ] {
        assert!(text.contains(words), "no {words:?} in\n{text}");
    }
    assert!(!text.contains("Not checked"), "{text}");
}

#[test]
fn allow_privileged_lifts_eligible_roles_and_role_assignable_groups_with_a_warning() {
    let tenant = TestTenant::demo();
    let (plan, _) = plan_json(&tenant, DEMO_INPUT, &["--allow-privileged"]);
    for (line, words) in [
        (26, "Eligible for directory roles (User Administrator)"),
        (
            27,
            "A member of the role-assignable group `Tier 0 Operators`",
        ),
        (
            28,
            "An owner of the role-assignable group `Tier 0 Operators`",
        ),
    ] {
        let entry = row(&plan, line);
        assert_eq!(entry["decision"], "convert", "{entry:#}");
        let notes = entry["notes"].to_string();
        assert!(notes.contains(words), "{notes}");
        assert!(notes.contains("--allow-privileged"), "{notes}");
    }
    // The policies are not lifted by it.
    assert_eq!(row(&plan, 29)["decision"], "blocked");
    assert_eq!(row(&plan, 31)["decision"], "blocked");
}

#[test]
fn invitations_disabled_blocks_every_row_and_apply_sends_nothing() {
    let tenant = demo_with(|t| {
        t["policies"]["authorizationPolicy"] = json!({"allowInvitesFrom": "none"});
    });
    let input = "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\nwendy.li@contoso.com,wendy@fourthcoffee.com\nnina.park@contoso.com,nina@fabrikam.com\n";
    let (plan, _) = plan_json(&tenant, input, &[]);
    for line in [2, 3] {
        let entry = row(&plan, line);
        assert_eq!(entry["decision"], "blocked");
        assert_eq!(codes(entry), ["invitations_disabled"], "{entry:#}");
    }
    // Nina's invitation is already out: nothing to send, nothing to refuse.
    assert_eq!(row(&plan, 4)["decision"], "skip");

    let output = tenant.apply(input, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Nothing to convert"),
        "{}",
        stderr(&output)
    );
    assert_eq!(writes(&tenant.state()), vec![], "no invitation, no PATCH");
}

#[test]
fn an_allow_list_blocks_every_other_domain_and_a_deny_list_subdomains() {
    let list = |allowed: &[&str], blocked: &[&str]| {
        let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
            {"AllowedDomains": allowed, "BlockedDomains": blocked}}});
        json!({"definition": [document.to_string()]})
    };
    let input = "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\nben.walters@contoso.com,ben@eu.northwind.com\nwendy.li@contoso.com,wendy@fourthcoffee.com\n";

    let allow = demo_with(|t| t["policies"]["b2bManagementPolicy"] = list(&["fabrikam.com"], &[]));
    let (plan, _) = plan_json(&allow, input, &[]);
    assert_eq!(row(&plan, 2)["decision"], "convert");
    for line in [3, 4] {
        let entry = row(&plan, line);
        assert_eq!(codes(entry), ["domain_blocked_by_policy"], "{entry:#}");
        assert!(
            message(entry, "domain_blocked_by_policy")
                .contains("is not on this tenant's B2B allow list")
        );
    }

    let deny = demo_with(|t| t["policies"]["b2bManagementPolicy"] = list(&[], &["northwind.com"]));
    let (plan, _) = plan_json(&deny, input, &[]);
    let ben = row(&plan, 3);
    assert_eq!(codes(ben), ["domain_blocked_by_policy"], "{ben:#}");
    assert!(
        message(ben, "domain_blocked_by_policy")
            .contains("`eu.northwind.com` is under `northwind.com`, which is on")
    );
    assert_eq!(row(&plan, 2)["decision"], "convert");
    assert_eq!(row(&plan, 4)["decision"], "convert");
}

#[test]
fn a_blocking_default_applies_to_partners_without_their_own_settings() {
    let blocked = json!({
        "usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]},
        "applications": {"accessType": "blocked", "targets": [{"target": "AllApplications", "targetType": "application"}]}});
    let tenant = demo_with(|t| {
        let policy = &mut t["policies"]["crossTenantAccessPolicy"];
        policy["default"] = json!({"b2bCollaborationInbound": blocked});
        // Fabrikam lets everyone in (its own settings win); Adatum only one group of
        // its users, which only their sign-in can tell.
        policy["partners"] = json!([
            {"tenantId": FABRIKAM, "b2bCollaborationInbound": {
                "usersAndGroups": {"accessType": "allowed", "targets": [{"target": "AllUsers", "targetType": "user"}]},
                "applications": {"accessType": "allowed", "targets": [{"target": "AllApplications", "targetType": "application"}]}}},
            {"tenantId": ADATUM, "b2bCollaborationInbound": {
                "usersAndGroups": {"accessType": "allowed", "targets": [{"target": "e1000000-0000-4000-8000-0000000000aa", "targetType": "group"}]},
                "applications": {"accessType": "allowed", "targets": [{"target": "AllApplications", "targetType": "application"}]}}}
        ]);
    });
    let input = "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\nben.walters@contoso.com,ben@northwind.com\nwendy.li@contoso.com,wendy@fourthcoffee.com\nd0000000-0000-4000-8000-000000000003,chen.li@adatum.com\n";
    let (plan, _) = plan_json(&tenant, input, &[]);
    assert_eq!(row(&plan, 2)["decision"], "convert");
    assert_eq!(
        row(&plan, 2)["redemption"]["automatic"],
        false,
        "Fabrikam's own settings no longer allow automatic redemption"
    );
    let ben = row(&plan, 3);
    assert_eq!(codes(ben), ["partner_blocked_by_cross_tenant_access"]);
    assert!(
        message(ben, "partner_blocked_by_cross_tenant_access")
            .contains("Northwind Traders (tenant c1000000-0000-4000-8000-000000000002) for all of its users (the default settings, which apply to it)"),
        "{ben:#}"
    );
    assert_eq!(
        row(&plan, 4)["decision"],
        "convert",
        "no tenant: no cross-tenant settings"
    );
    let chen = row(&plan, 5);
    assert_eq!(chen["decision"], "convert", "{chen:#}");
    assert!(
        chen["notes"]
            .to_string()
            .contains("admit only particular users or groups of Adatum Corporation"),
        "{chen:#}"
    );
}

#[test]
fn without_email_otp_a_partner_without_a_tenant_needs_a_microsoft_account() {
    let tenant = demo_with(|t| {
        t["policies"]["emailAuthenticationMethodConfiguration"] =
            json!({"allowExternalIdToUseEmailOtp": "disabled"});
    });
    let (plan, _) = plan_json(
        &tenant,
        "user,externalEmail\nwendy.li@contoso.com,wendy@fourthcoffee.com\n",
        &[],
    );
    assert_eq!(
        row(&plan, 2)["redemption"],
        json!({"partnerTenant": null, "method": "microsoftAccount", "automatic": false})
    );
}

/// Each optional permission taken away in turn: `plan` still finishes, names the check
/// it could not make and the permission once, and marks what it could not predict.
#[test]
fn each_missing_permission_is_named_once_and_plan_goes_on() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Policy.Read.All",
            &["invitation_settings", "cross_tenant_access"],
        ),
        ("Policy.Read.B2BManagementPolicy", &["domain_list"]),
        ("Policy.Read.AuthenticationMethod", &["email_otp"]),
        ("CrossTenantInformation.ReadBasic.All", &["partner_tenants"]),
        (
            "RoleEligibilitySchedule.Read.Directory",
            &["eligible_roles"],
        ),
    ];
    for (permission, checks) in cases {
        let tenant = demo_with(|t| {
            let roles = t["applications"][0]["roles"].as_array_mut().expect("roles");
            roles.retain(|r| r != *permission);
        });
        let (plan, err) = plan_json(&tenant, DEMO_INPUT, &[]);
        for check in *checks {
            let line = format!("Not checked ({check})");
            assert_eq!(err.matches(&line).count(), 1, "{permission}: {err}");
        }
        assert_eq!(
            err.matches("Not checked").count(),
            checks.len(),
            "{permission}: {err}"
        );
        let named = if *permission == "Policy.Read.All" {
            "grant the app Policy.Read.All".to_owned()
        } else {
            format!("grant the app {permission}")
        };
        assert!(err.contains(&named), "{permission}: {err}");
        let method = |line| row(&plan, line)["redemption"]["method"].clone();
        match *permission {
            "Policy.Read.All" => {
                // Woodgrove's block can't be seen, nor Fabrikam's automatic redemption.
                assert_eq!(row(&plan, 29)["decision"], "convert");
                assert_eq!(row(&plan, 2)["redemption"]["automatic"], false);
            }
            "Policy.Read.B2BManagementPolicy" => {
                assert_eq!(row(&plan, 31)["decision"], "convert");
            }
            "Policy.Read.AuthenticationMethod" => {
                assert_eq!(method(30), "unknown");
                assert_eq!(method(2), "entra");
            }
            "CrossTenantInformation.ReadBasic.All" => {
                for line in [2, 29, 30, 31] {
                    assert_eq!(method(line), "unknown", "line {line}");
                    assert!(row(&plan, line)["redemption"]["partnerTenant"].is_null());
                }
                // Without the partner's tenant its cross-tenant settings can't apply.
                assert_eq!(row(&plan, 29)["decision"], "convert");
            }
            "RoleEligibilitySchedule.Read.Directory" => {
                assert_eq!(row(&plan, 26)["decision"], "convert");
                assert_eq!(
                    row(&plan, 27)["decision"],
                    "blocked",
                    "group membership is another check"
                );
            }
            _ => unreachable!(),
        }
        // Everything else the pre-flight still knows.
        assert_eq!(row(&plan, 28)["decision"], "blocked");
    }

    // The table says it under the table.
    let tenant = demo_with(|t| {
        let roles = t["applications"][0]["roles"].as_array_mut().expect("roles");
        roles.retain(|r| r != "Policy.Read.AuthenticationMethod");
    });
    tenant.write("users.csv", DEMO_INPUT);
    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let summary = text.find("30 rows:").expect("summary");
    let finding = text
        .find("Not checked (email_otp): whether partners without an Entra tenant can use an email one-time passcode — Graph refused the read; grant the app Policy.Read.AuthenticationMethod to check it.")
        .expect("the finding under the table");
    assert!(finding > summary, "{text}");
    assert_eq!(text.matches("Not checked").count(), 1, "{text}");
    assert!(
        text.contains("redeems: not predicted"),
        "Wendy's row: {text}"
    );
}

/// The tenant's own apps lack every pre-flight permission (the read-only demo app):
/// every check but the groups' is reported, and nothing it could not see blocks.
#[test]
fn an_app_with_none_of_the_optional_permissions_still_plans() {
    let tenant = TestTenant::demo();
    let mut tenant = tenant;
    tenant.client_id = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9".into();
    tenant.client_secret = "read-only-demo-secret".into();
    let (plan, err) = plan_json(&tenant, DEMO_INPUT, &[]);
    assert_eq!(err.matches("Not checked").count(), 6, "{err}");
    assert!(!err.contains("role_assignable_groups"), "{err}");
    assert_eq!(plan.len(), 30);
    for entry in plan.iter().filter(|e| !e["redemption"].is_null()) {
        assert_eq!(entry["redemption"]["method"], "unknown", "{entry:#}");
    }
    assert_eq!(row(&plan, 27)["decision"], "blocked");
}

#[test]
fn apply_never_invites_a_row_the_preflight_blocked() {
    let tenant = TestTenant::demo();
    let output = tenant.apply(DEMO_INPUT, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let state = tenant.state();
    let invited = invited_user_ids(&state);
    assert!(invited.contains(&demo_user(30)), "Wendy is converted");
    for blocked in [26, 27, 28, 29, 31] {
        let id = demo_user(blocked);
        let touched: Vec<&Value> = state["requests"]
            .as_array()
            .expect("log")
            .iter()
            .filter(|r| r["method"] != "GET" && r["userId"] == id.as_str())
            .collect();
        assert!(touched.is_empty(), "user {blocked} was sent {touched:#?}");
    }
    // Graph never had to refuse an invitation: the pre-flight caught them all.
    let refused = state["requests"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|r| r["path"] == "/v1.0/invitations" && r["status"] != 201)
        .count();
    assert_eq!(refused, 0);
}

/// The policies change between planning and sending (a run resumed after its process
/// died): Graph refuses two invitations for partner-specific reasons (400), which fail
/// those rows only; the run goes on and converts the others.
#[test]
fn a_partner_refusal_at_apply_fails_only_its_row() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tenant = TestTenant::demo();
    let input = "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\nben.walters@contoso.com,ben.walters@northwind.com\nd0000000-0000-4000-8000-000000000003,chen.li@adatum.com\nwendy.li@contoso.com,wendy@fourthcoffee.com\n";
    tenant.write("users.csv", input);

    // Planned and journaled with the policies as they were; halted (and killed) at the
    // first step's outcome, before any invitation.
    let mut args = APPLY_ARGS.to_vec();
    args.extend_from_slice(&["--concurrency", "1"]);
    let mut command = tenant.process(&args);
    command
        .env("B2B_CONVERT_TEST_HALT_AT", "after-outcome:1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    for line in lines {
        let Ok(line) = line else { break };
        if line.contains("halted at") {
            child.kill().expect("kill");
            break;
        }
        seen.push(line);
    }
    child.wait().expect("wait");
    assert!(
        invited_user_ids(&tenant.state()).is_empty(),
        "halted before any invitation: {seen:?}"
    );

    // Now Northwind's domain is deny-listed and Adatum's tenant blocked.
    let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
        {"AllowedDomains": [], "BlockedDomains": ["northwind.com"]}}});
    tenant.set_policies(&json!({
        "b2bManagementPolicy": {"definition": [document.to_string()]},
        "crossTenantAccessPolicy": {"partners": [{"tenantId": ADATUM, "b2bCollaborationInbound": {
            "usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]},
            "applications": {"accessType": "blocked", "targets": [{"target": "AllApplications", "targetType": "application"}]}}}]}
    }));

    // The same command resumes the journaled plan (it does not plan again).
    let resumed = tenant.cmd(&args).output().expect("apply runs");
    let err = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "rows failed: {err}");
    assert!(!err.contains("Stopped early"), "the run went on: {err}");
    let mut invited = invited_user_ids(&tenant.state());
    invited.sort();
    assert_eq!(invited, [demo_user(1), demo_user(30)], "{err}");
    let refused: Vec<(String, u64)> = tenant.state()["requests"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|r| r["path"] == "/v1.0/invitations" && r["status"] != 201)
        .map(|r| {
            (
                r["userId"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|(_, status)| *status == 400),
        "{refused:?}"
    );

    let status = tenant
        .cmd(&["status", "--journal", "run.db", "--output", "json"])
        .output()
        .expect("status runs");
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).expect("json");
    let outcome = |line: u64| row(&rows, line)["outcome"].clone();
    assert_eq!(outcome(2), "converted");
    assert_eq!(outcome(3), "failed");
    assert_eq!(outcome(4), "failed");
    assert_eq!(outcome(5), "converted");
    let errors = rows
        .iter()
        .map(|r| r["error"].to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        errors.contains("blocked by your invitation policy"),
        "{errors}"
    );
    assert!(
        errors.contains("blocked by cross-tenant access settings"),
        "{errors}"
    );
}
