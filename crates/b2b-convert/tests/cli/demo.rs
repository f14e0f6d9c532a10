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
        text.contains("24 rows: 6 to convert, 3 to skip, 15 blocked"),
        "{text}"
    );
    assert_eq!(text.matches(" accepted\n").count(), 3, "{text}");
    assert!(text.contains("on_prem_upn_set"), "{text}");
    assert!(text.matches("Accepted").count() >= 3, "{text}");
    assert!(text.matches("PendingAcceptance").count() >= 3, "{text}");
}
