//! Reading the tenant and deciding every row, against the emulator.

use std::collections::BTreeMap;

use b2b_convert_core::facts::{self, FactsProgress, Strategy};
use b2b_convert_core::plan::{Decision, Lookup, PlanOptions};

use crate::support::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tenant_is_read_and_every_row_decided() {
    let fixture = Fixture::demo().await;
    let input = fixture.demo_input();
    let last = std::sync::Mutex::new(None::<FactsProgress>);
    let plan = facts::plan_rows(
        &fixture.client,
        &input.rows,
        &PlanOptions::new(&fixture.tenant_id),
        Strategy::Lookup,
        4,
        &|p| *last.lock().unwrap() = Some(p),
    )
    .await
    .expect("the demo tenant can be read");

    assert_eq!(plan.entries.len(), input.rows.len());
    let counts = plan.counts();
    assert_eq!(counts[&Decision::Convert], 7, "{counts:?}");
    assert_eq!(counts[&Decision::Skip], 3, "{counts:?}");
    assert_eq!(counts[&Decision::Blocked], 20, "{counts:?}");
    let last = last.lock().unwrap().expect("progress was reported");
    assert_eq!(last.done, last.total, "progress ends at its total");

    let codes: BTreeMap<u64, Vec<&str>> = plan
        .entries
        .iter()
        .map(|e| (e.row, e.reasons.iter().map(|r| r.code.as_str()).collect()))
        .collect();
    // One row per rule that needs a read of its own: the user, the domains, who holds
    // the address, and the user's roles.
    assert_eq!(codes[&2], Vec::<&str>::new(), "adele converts");
    assert_eq!(codes[&14], ["external_domain_is_verified"], "{codes:?}");
    assert_eq!(codes[&21], ["not_found"], "{codes:?}");
    assert!(codes[&15].contains(&"email_in_use"), "{codes:?}");
    assert!(
        codes.values().any(|c| c.contains(&"privileged_role")),
        "{codes:?}"
    );
    // And one per pre-flight rule.
    assert_eq!(codes[&26], ["privileged_role"], "PIM-eligible: {codes:?}");
    assert_eq!(codes[&27], ["role_assignable_group"], "{codes:?}");
    assert_eq!(codes[&28], ["role_assignable_group"], "{codes:?}");
    assert_eq!(
        codes[&29],
        ["partner_blocked_by_cross_tenant_access"],
        "{codes:?}"
    );
    assert_eq!(codes[&30], Vec::<&str>::new(), "wendy converts");
    assert_eq!(codes[&31], ["domain_blocked_by_policy"], "{codes:?}");
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_cover_every_found_user_and_address() {
    let fixture = Fixture::demo().await;
    let input = fixture.demo_input();
    let facts = facts::gather(&fixture.client, &input.rows, 8, &|_| {})
        .await
        .unwrap();
    assert!(facts.verified_domains.iter().any(|d| d == "contoso.com"));
    // Roles were read for every user found: a missing entry would be "unknown", which
    // the planner treats as privileged.
    let found = facts.lookups.values().filter_map(|l| match l {
        Lookup::Found { id } => Some(id),
        _ => None,
    });
    for id in found {
        assert!(facts.roles.contains_key(id), "no roles read for {id}");
    }
    assert!(
        !facts.address_holders["partners@fabrikam.com"].is_empty(),
        "the shared partner address is held by someone"
    );
}

#[test]
fn a_failed_read_blocks_only_its_row_with_graphs_words() {
    use b2b_convert_core::input::InputRow;
    use b2b_convert_core::plan::{Facts, UserFacts, plan};

    let row = |line: u64, user: &str, external: &str| InputRow {
        line,
        user: user.into(),
        external_email: external.into(),
        redirect_url: None,
        send_email: None,
        revoke_sessions: None,
        message: None,
        cc: None,
        language: None,
    };
    let rows = vec![
        row(2, "a@contoso.com", "a@fabrikam.com"),
        row(3, "b@contoso.com", "b@fabrikam.com"),
        row(4, "c@contoso.com", "c@fabrikam.com"),
        row(5, "d@contoso.com", "d@fabrikam.com"),
    ];
    let mut facts = Facts {
        verified_domains: vec!["contoso.com".into()],
        ..Facts::default()
    };
    let error = "Graph error generalException: boom (HTTP 500 on GET /v1.0/users, request-id r-1)";
    for (user, id) in [
        ("b@contoso.com", "B"),
        ("c@contoso.com", "C"),
        ("d@contoso.com", "D"),
    ] {
        facts
            .lookups
            .insert(user.into(), Lookup::Found { id: id.into() });
        facts.users.insert(
            id.into(),
            UserFacts {
                id: id.into(),
                account_enabled: Some(true),
                ..UserFacts::default()
            },
        );
        facts.roles.insert(id.into(), vec![]);
    }
    facts.lookups.insert(
        "a@contoso.com".into(),
        Lookup::Failed {
            error: error.into(),
        },
    );
    facts.role_failures.insert("B".into(), error.into());
    facts.roles.remove("B");
    facts
        .address_failures
        .insert("c@fabrikam.com".into(), error.into());
    facts
        .address_holders
        .insert("b@fabrikam.com".into(), vec![]);
    facts
        .address_holders
        .insert("d@fabrikam.com".into(), vec![]);

    let plan = plan(&rows, &facts, &PlanOptions::new("t"));
    let codes: Vec<Vec<&str>> = plan
        .entries
        .iter()
        .map(|e| e.reasons.iter().map(|r| r.code.as_str()).collect())
        .collect();
    assert_eq!(codes[0], ["lookup_failed"], "the user could not be read");
    assert_eq!(codes[1], ["lookup_failed"], "the roles could not be read");
    assert_eq!(codes[2], ["lookup_failed"], "the holders could not be read");
    assert!(codes[3].is_empty(), "the row that was read converts");
    for entry in &plan.entries[..3] {
        assert_eq!(entry.decision, Decision::Blocked);
        assert!(
            entry.reasons[0].message.contains("request-id r-1"),
            "{entry:?}"
        );
    }
}
