//! The two planning strategies — the tenant read once (snapshot) and per-row lookups —
//! decide every row identically, word for word, on the demo tenant and on a generated
//! one full of look-alike addresses.

use b2b_convert_core::facts::{self, Strategy};
use b2b_convert_core::input::{Input, parse_input};
use b2b_convert_core::plan::{Plan, PlanOptions};
use serde_json::{Value, json};

use crate::support::Fixture;

async fn both(fixture: &Fixture, input: &Input) -> (Plan, Plan) {
    let options = PlanOptions::new(&fixture.tenant_id);
    let mut plans = Vec::new();
    for strategy in [Strategy::Snapshot, Strategy::Lookup] {
        let plan = facts::plan_rows(&fixture.client, &input.rows, &options, strategy, 8, &|_| {})
            .await
            .unwrap_or_else(|e| panic!("{strategy:?}: {e}"));
        plans.push(plan);
    }
    let lookup = plans.pop().unwrap();
    (plans.pop().unwrap(), lookup)
}

fn assert_same(snapshot: &Plan, lookup: &Plan) {
    assert_eq!(snapshot.entries.len(), lookup.entries.len());
    for (s, l) in snapshot.entries.iter().zip(&lookup.entries) {
        assert_eq!(s, l, "row {} differs between snapshot and lookup", s.row);
    }
    assert_eq!(
        snapshot.findings, lookup.findings,
        "the checks not made differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_lookup_agree_on_the_demo_tenant() {
    let fixture = Fixture::demo().await;
    let input = fixture.demo_input();
    let (snapshot, lookup) = both(&fixture, &input).await;
    assert_same(&snapshot, &lookup);
    // The demo exercises every pre-flight rule and reads every check.
    assert!(snapshot.findings.is_empty(), "{:?}", snapshot.findings);
    let codes: std::collections::BTreeSet<&str> = snapshot
        .entries
        .iter()
        .flat_map(|e| e.reasons.iter().map(|r| r.code.as_str()))
        .collect();
    for code in [
        "role_assignable_group",
        "partner_blocked_by_cross_tenant_access",
        "domain_blocked_by_policy",
    ] {
        assert!(codes.contains(code), "no {code} in {codes:?}");
    }
}

/// A tenant of partners and policies: users eligible for roles (some also holding
/// one), members and owners of two role-assignable groups, partner domains with and
/// without a tenant, one partner blocked by its own settings and one by the default,
/// a deny-listed domain and its subdomain, automatic redemption for one partner.
fn preflight_tenant(app_roles: &[&str]) -> (String, String) {
    const USERS: usize = 90;
    let id = |i: usize| format!("c0000000-0000-4000-8000-{i:012}");
    let users: Vec<Value> = (1..=USERS)
        .map(|i| {
            json!({
                "id": id(i),
                "displayName": format!("User {i}"),
                "userPrincipalName": format!("user{i}@contoso.com"),
                "userType": "Member",
                "accountEnabled": true,
            })
        })
        .collect();
    let eligibilities: Vec<Value> = (1..=USERS)
        .filter(|i| i.is_multiple_of(7))
        .map(|i| {
            json!({
                "id": format!("eligible-{i}"),
                "principalId": id(i),
                // User Administrator, and Global Administrator for every 14th.
                "roleDefinitionId": if i.is_multiple_of(14) {
                    "62e90394-69f5-4237-9190-012177145e10"
                } else {
                    "fe930be7-5e62-47db-91af-98c3a49a38b1"
                },
            })
        })
        .collect();
    let group = |n: usize, name: &str, members: Vec<String>, owners: Vec<String>| {
        json!({
            "id": format!("e2000000-0000-4000-8000-{n:012}"),
            "displayName": name,
            "mailEnabled": false,
            "mailNickname": format!("tier{n}"),
            "securityEnabled": true,
            "groupTypes": [],
            "isAssignableToRole": true,
            "members": members,
            "owners": owners,
        })
    };
    let pick = |every: usize, offset: usize| -> Vec<String> {
        (1..=USERS)
            .filter(|i| i % every == offset)
            .map(id)
            .collect()
    };
    let groups = json!([
        group(1, "Tier 0", pick(9, 1), pick(11, 2)),
        group(
            2,
            "Tier 1",
            pick(9, 1).into_iter().step_by(2).collect(),
            vec![]
        ),
    ]);
    let all = |access: &str| {
        json!({
            "usersAndGroups": {"accessType": access, "targets": [{"target": "AllUsers", "targetType": "user"}]},
            "applications": {"accessType": access, "targets": [{"target": "AllApplications", "targetType": "application"}]}
        })
    };
    let partner = |n: usize, name: &str, domain: &str| {
        json!({
            "tenantId": format!("c1000000-0000-4000-8000-{n:012}"),
            "displayName": name,
            "defaultDomainName": format!("partner{n}.onmicrosoft.com"),
            "domains": [domain],
        })
    };
    let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
        {"AllowedDomains": [], "BlockedDomains": ["trey.example"]}}});
    let tenant = json!({
        "tenantId": "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c",
        "verifiedDomains": ["contoso.onmicrosoft.com", "contoso.com"],
        "applications": [{
            "clientId": "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c",
            "clientSecret": "demo-secret-not-for-production",
            "roles": app_roles,
        }],
        "users": users,
        "groups": groups,
        "orgContacts": [],
        "directoryRoles": [{
            "id": "a1000000-0000-4000-8000-000000000001",
            "displayName": "User Administrator",
            "roleTemplateId": "fe930be7-5e62-47db-91af-98c3a49a38b1",
            "description": "Manages users.",
            "members": [id(14), id(30)]
        }],
        "roleEligibilityScheduleInstances": eligibilities,
        "partnerTenants": [
            partner(1, "Fabrikam", "fabrikam.example"),
            partner(2, "Woodgrove", "woodgrove.example"),
            partner(3, "Northwind", "northwind.example"),
        ],
        "policies": {
            "crossTenantAccessPolicy": {
                "default": {"b2bCollaborationInbound": all("blocked")},
                "partners": [
                    {"tenantId": "c1000000-0000-4000-8000-000000000001",
                     "b2bCollaborationInbound": all("allowed"),
                     "automaticUserConsentSettings": {"inboundAllowed": true, "outboundAllowed": null}},
                    {"tenantId": "c1000000-0000-4000-8000-000000000003",
                     "b2bCollaborationInbound": all("allowed")},
                ]
            },
            "b2bManagementPolicy": {"definition": [document.to_string()]},
        },
    });
    let domains = [
        "fabrikam.example",
        "woodgrove.example",
        "northwind.example",
        "fourthcoffee.example",
        "trey.example",
        "eu.trey.example",
        "outlook.com",
    ];
    let mut input = String::from("user,externalEmail\n");
    for i in 1..=USERS {
        let domain = domains[i % domains.len()];
        input.push_str(&format!("user{i}@contoso.com,partner{i}@{domain}\n"));
    }
    (tenant.to_string(), input)
}

/// The roles of the demo's converting app, all optional reads included.
const EVERY_ROLE: &[&str] = &[
    "User.ReadWrite.All",
    "User.Invite.All",
    "Directory.Read.All",
    "CrossTenantInformation.ReadBasic.All",
    "Policy.Read.All",
    "Policy.Read.AuthenticationMethod",
    "Policy.Read.B2BManagementPolicy",
    "RoleEligibilitySchedule.Read.Directory",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_lookup_agree_on_the_preflight() {
    let (tenant, input) = preflight_tenant(EVERY_ROLE);
    let fixture = Fixture::from_json(&tenant).await;
    let path = fixture.dir.path().join("users.csv");
    std::fs::write(&path, &input).unwrap();
    let input = parse_input(&path, input.as_bytes()).unwrap();
    let (snapshot, lookup) = both(&fixture, &input).await;
    assert_same(&snapshot, &lookup);
    assert!(snapshot.findings.is_empty(), "{:?}", snapshot.findings);
    let codes: std::collections::BTreeSet<&str> = snapshot
        .entries
        .iter()
        .flat_map(|e| e.reasons.iter().map(|r| r.code.as_str()))
        .collect();
    for code in [
        "privileged_role",
        "role_assignable_group",
        "partner_blocked_by_cross_tenant_access",
        "domain_blocked_by_policy",
    ] {
        assert!(codes.contains(code), "no {code} in {codes:?}");
    }
    let methods: std::collections::BTreeSet<&str> = snapshot
        .entries
        .iter()
        .filter_map(|e| e.redemption.as_ref().map(|r| r.method.as_str()))
        .collect();
    assert_eq!(
        methods,
        ["entra", "microsoftAccount", "microsoftAccountOrOtp"]
            .into_iter()
            .collect()
    );
    assert!(
        snapshot
            .entries
            .iter()
            .any(|e| e.redemption.as_ref().is_some_and(|r| r.automatic))
    );
    let eligible_and_held = snapshot
        .entries
        .iter()
        .find(|e| e.row == 15)
        .expect("user 14");
    assert!(
        eligible_and_held.reasons[0].message.contains(
            "holds directory roles (User Administrator) and is eligible for (Global Administrator)"
        ),
        "{eligible_and_held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_lookup_agree_without_the_optional_permissions() {
    let (tenant, input) = preflight_tenant(&["User.ReadWrite.All", "Directory.Read.All"]);
    let fixture = Fixture::from_json(&tenant).await;
    let path = fixture.dir.path().join("users.csv");
    std::fs::write(&path, &input).unwrap();
    let input = parse_input(&path, input.as_bytes()).unwrap();
    let (snapshot, lookup) = both(&fixture, &input).await;
    assert_same(&snapshot, &lookup);
    let checks: Vec<&str> = snapshot.findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "invitation_settings",
            "domain_list",
            "cross_tenant_access",
            "email_otp",
            "partner_tenants",
            "eligible_roles"
        ]
    );
    assert!(
        snapshot
            .findings
            .iter()
            .all(|f| f.missing_permission.is_some())
    );
}

/// A tenant where references and addresses collide in every way Graph matches them:
/// UPN vs mail vs `SMTP:`/`smtp:` proxy vs otherMails, users vs groups vs contacts,
/// one address on two users (ambiguous), roles, and case differences.
fn generated() -> (String, String) {
    const USERS: usize = 120;
    let user = |i: usize| -> Value {
        let upn = format!("user{i}@contoso.com");
        let mut u = json!({
            "id": format!("c0000000-0000-4000-8000-{i:012}"),
            "displayName": format!("User {i}"),
            "userPrincipalName": upn,
            "mail": if i.is_multiple_of(3) { Value::Null } else { json!(format!("User{i}@Contoso.com")) },
            "userType": "Member",
            "accountEnabled": !i.is_multiple_of(11),
        });
        if i.is_multiple_of(5) {
            u["proxyAddresses"] = json!([
                format!("SMTP:user{i}@contoso.com"),
                format!("smtp:alias{i}@contoso.com")
            ]);
        }
        if i.is_multiple_of(7) {
            // The partner address of row i+1 is already someone's other mail.
            u["otherMails"] = json!([format!("Partner{}@Fabrikam.com", i + 1)]);
        }
        if i.is_multiple_of(13) {
            // Two users share one alias: a reference by it is ambiguous.
            u["proxyAddresses"] = json!(["smtp:shared@contoso.com"]);
        }
        u
    };
    let users: Vec<Value> = (1..=USERS).map(user).collect();
    let groups = json!([{
        "id": "e1000000-0000-4000-8000-000000000001",
        "displayName": "Partners",
        "mail": "partner4@fabrikam.com",
        "mailEnabled": true,
        "mailNickname": "partners",
        "securityEnabled": false,
        "groupTypes": ["Unified"],
        "proxyAddresses": ["SMTP:partner4@fabrikam.com", "smtp:partner8@fabrikam.com"]
    }]);
    let contacts = json!([{
        "id": "f1000000-0000-4000-8000-000000000001",
        "displayName": "Contact",
        "mail": "partner9@fabrikam.com",
        "mailNickname": "contact",
        "proxyAddresses": ["SMTP:partner9@fabrikam.com"]
    }]);
    let roles = json!([{
        "id": "a1000000-0000-4000-8000-000000000001",
        "displayName": "User Administrator",
        "roleTemplateId": "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "description": "Manages users.",
        "members": ["c0000000-0000-4000-8000-000000000002", "c0000000-0000-4000-8000-000000000017"]
    }]);
    let tenant = json!({
        "tenantId": "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c",
        "verifiedDomains": ["contoso.onmicrosoft.com", "contoso.com"],
        "applications": [{
            "clientId": "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c",
            "clientSecret": "demo-secret-not-for-production",
            "roles": ["User.ReadWrite.All", "User.Invite.All", "Directory.Read.All"]
        }],
        "users": users,
        "groups": groups,
        "orgContacts": contacts,
        "directoryRoles": roles,
    });
    let mut input = String::from("user,externalEmail\n");
    for i in 1..=USERS {
        let reference = match i % 4 {
            0 => format!("c0000000-0000-4000-8000-{i:012}"),
            1 => format!("USER{i}@contoso.com"),
            2 if i.is_multiple_of(5) => format!("alias{i}@contoso.com"),
            2 => format!("user{i}@Contoso.com"),
            _ => format!("user{i}@contoso.com"),
        };
        input.push_str(&format!("{reference},partner{i}@fabrikam.com\n"));
    }
    input.push_str("shared@contoso.com,partner999@fabrikam.com\n");
    input.push_str("nobody@contoso.com,partner998@fabrikam.com\n");
    (tenant.to_string(), input)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_lookup_agree_on_a_generated_tenant() {
    let (tenant, input) = generated();
    let fixture = Fixture::from_json(&tenant).await;
    let path = fixture.dir.path().join("users.csv");
    std::fs::write(&path, &input).unwrap();
    let input = parse_input(&path, input.as_bytes()).unwrap();
    let (snapshot, lookup) = both(&fixture, &input).await;
    assert_same(&snapshot, &lookup);
    // The tenant really exercises the rules compared.
    let codes: std::collections::BTreeSet<&str> = snapshot
        .entries
        .iter()
        .flat_map(|e| e.reasons.iter().map(|r| r.code.as_str()))
        .collect();
    for code in [
        "email_in_use",
        "ambiguous_user",
        "not_found",
        "privileged_role",
        "account_disabled",
    ] {
        assert!(codes.contains(code), "no {code} in {codes:?}");
    }
}

#[test]
fn auto_picks_the_snapshot_for_large_inputs_only() {
    assert_eq!(facts::choose(10_000, 100_000), Strategy::Snapshot);
    assert_eq!(facts::choose(10, 100_000), Strategy::Lookup);
    assert_eq!(facts::choose(24, 30), Strategy::Snapshot);
}
