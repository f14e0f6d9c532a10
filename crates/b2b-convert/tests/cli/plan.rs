//! `plan` end to end: every reason code through `--output json`, read-only.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{DEMO_INPUT, TestTenant, stdout, writes};

/// (input line, decision, a reason code it must carry).
const EXPECTED: &[(u64, &str, Option<&str>)] = &[
    (2, "convert", None),
    (3, "convert", None),
    (4, "convert", None),
    (5, "convert", None),
    (6, "convert", None),
    (7, "convert", None),
    (8, "blocked", Some("privileged_role")),
    (9, "blocked", Some("on_prem_upn_set")),
    (10, "blocked", Some("synced_mail_mismatch")),
    (11, "blocked", Some("has_mailbox")),
    (12, "blocked", Some("privileged_role")),
    (13, "blocked", Some("account_disabled")),
    (14, "blocked", Some("external_domain_is_verified")),
    (15, "blocked", Some("email_in_use")),
    (16, "blocked", Some("email_in_use")),
    (17, "blocked", Some("email_in_use")),
    (18, "blocked", Some("invalid_email")),
    (19, "blocked", Some("duplicate_row")),
    (20, "blocked", Some("duplicate_row")),
    (21, "blocked", Some("not_found")),
    (22, "blocked", Some("ambiguous_user")),
    (23, "skip", Some("already_invited")),
    (24, "skip", Some("already_external")),
    (25, "skip", Some("already_external")),
    (26, "blocked", Some("privileged_role")),
    (27, "blocked", Some("role_assignable_group")),
    (28, "blocked", Some("role_assignable_group")),
    (
        29,
        "blocked",
        Some("partner_blocked_by_cross_tenant_access"),
    ),
    (30, "convert", None),
    (31, "blocked", Some("domain_blocked_by_policy")),
];

fn plan_json(tenant: &TestTenant, extra: &[&str]) -> Vec<Value> {
    tenant.write("users.csv", DEMO_INPUT);
    let mut args = vec!["plan", "--input", "users.csv", "--output", "json"];
    args.extend_from_slice(extra);
    let output = tenant.cmd(&args).output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout(&output)).expect("JSON array")
}

fn codes(entry: &Value) -> Vec<String> {
    entry["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["code"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_reason_code_end_to_end_and_nothing_written() {
    let tenant = TestTenant::demo();
    let plan = plan_json(&tenant, &[]);
    assert_eq!(plan.len(), EXPECTED.len());
    let mut seen = BTreeSet::new();
    for (entry, (line, decision, code)) in plan.iter().zip(EXPECTED) {
        assert_eq!(entry["row"], *line, "{entry:#}");
        assert_eq!(entry["decision"], *decision, "line {line}: {entry:#}");
        let codes = codes(entry);
        if let Some(code) = code {
            assert!(codes.iter().any(|c| c == code), "line {line}: {codes:?}");
        } else {
            assert!(codes.is_empty(), "line {line}: {codes:?}");
        }
        for reason in entry["reasons"].as_array().into_iter().flatten() {
            assert!(
                reason["message"].as_str().is_some_and(|m| m.len() > 20),
                "{reason}"
            );
        }
        seen.extend(codes);
    }
    let all = [
        "not_found",
        "ambiguous_user",
        "duplicate_row",
        "invalid_email",
        "external_domain_is_verified",
        "email_in_use",
        "already_invited",
        "already_external",
        "on_prem_upn_set",
        "synced_mail_mismatch",
        "has_mailbox",
        "privileged_role",
        "account_disabled",
        "role_assignable_group",
        "partner_blocked_by_cross_tenant_access",
        "domain_blocked_by_policy",
    ];
    for code in all {
        assert!(seen.contains(code), "no row of the demo shows {code}");
    }
    assert_eq!(writes(&tenant.state()), vec![], "plan is read-only");
    insta::assert_json_snapshot!("demo_plan", plan);
}

#[test]
fn convert_rows_carry_their_actions() {
    let tenant = TestTenant::demo();
    let plan = plan_json(&tenant, &[]);
    let adele = &plan[0];
    assert_eq!(adele["userId"], "d0000000-0000-4000-8000-000000000001");
    assert_eq!(adele["actions"][0]["action"], "update_mail");
    assert_eq!(adele["actions"][0]["to"], "adele@fabrikam.com");
    assert_eq!(adele["actions"][1]["action"], "invite");
    assert_eq!(
        adele["actions"][1]["redirectUrl"],
        "https://myapps.microsoft.com/?tenantid=8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c"
    );
    let chen = &plan[2];
    assert_eq!(
        chen["actions"][0]["action"], "invite",
        "mail is already external: no PATCH"
    );
    let emily = &plan[4];
    assert_eq!(emily["actions"][1]["sendEmail"], false);
    let franz = &plan[5];
    assert_eq!(franz["actions"][1]["cc"], "procurement@fabrikam.com");
    assert_eq!(franz["actions"][1]["language"], "de-DE");
}

#[test]
fn allow_privileged_converts_role_holders() {
    let tenant = TestTenant::demo();
    let plan = plan_json(&tenant, &["--allow-privileged"]);
    assert_eq!(plan[6]["decision"], "convert", "{:#}", plan[6]);
    assert_eq!(plan[10]["decision"], "convert", "{:#}", plan[10]);
}

#[test]
fn table_and_csv_outputs() {
    let tenant = TestTenant::demo();
    tenant.write("users.csv", "user,externalEmail\n=HYPERLINK(\"http://x\"),a@fabrikam.com\nadele.vance@contoso.com,adele@fabrikam.com\n");
    let table = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .output()
        .expect("runs");
    assert!(table.status.success());
    let text = stdout(&table);
    assert!(text.contains("not_found"), "{text}");
    assert!(text.contains("set mail to adele@fabrikam.com"), "{text}");
    assert!(
        text.contains("2 rows: 1 to convert, 0 to skip, 1 blocked"),
        "{text}"
    );

    let csv = tenant
        .cmd(&["plan", "--input", "users.csv", "--output", "csv"])
        .output()
        .expect("runs");
    let text = stdout(&csv);
    assert!(
        text.starts_with(
            "row,user,userId,displayName,externalEmail,decision,reasons,messages,actions"
        ),
        "{text}"
    );
    assert!(text.contains("'=HYPERLINK"), "formula neutralised: {text}");
    assert!(!text.contains(",=HYPERLINK"), "{text}");
}
