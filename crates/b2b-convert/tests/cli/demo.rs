//! `b2b-convert demo` runs the whole job on the embedded tenant.

use assert_cmd::Command;

#[test]
fn demo_shows_the_whole_job() {
    let output = Command::cargo_bin("b2b-convert")
        .expect("binary")
        .arg("demo")
        .env_remove("B2B_GRAPH_URL")
        .env_remove("AZURE_AUTHORITY_HOST")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("30 rows: 7 to convert, 3 to skip, 20 blocked"),
        "{text}"
    );
    assert_eq!(text.matches(" accepted\n").count(), 3, "{text}");
    assert!(text.contains("on_prem_upn_set"), "{text}");
    // The pre-flight: every rule, and each partner's redemption in words.
    for words in [
        "privileged_role: The user is eligible for directory roles (User Administrator)",
        "role_assignable_group: The user is a member of",
        "role_assignable_group: The user is an owner of",
        "partner_blocked_by_cross_tenant_access",
        "domain_blocked_by_policy",
        "redeems: signs in with their Fabrikam, Inc. Entra account",
        "redeems: Microsoft account, or a one-time passcode by email",
        "wendy@fourthcoffee.com got a one-time passcode by email",
    ] {
        assert!(text.contains(words), "no {words:?} in {text}");
    }
    assert!(!text.contains("Not checked"), "{text}");
    assert!(text.matches("Accepted").count() >= 3, "{text}");
    assert!(
        text.matches("Waiting for the partner").count() >= 3,
        "{text}"
    );
}
