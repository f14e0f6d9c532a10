//! What the end-to-end browser check must find in a rendered page (the `testkit`
//! feature only: it serves the tests, never the product).

use std::path::PathBuf;

use super::ReportInput;
use super::view::state_key;
use crate::journal::InvitationIndex;
use crate::plan::Decision;

/// The browser check script (`tests/browser/report_check.py`), for end-to-end tests.
///
/// Run it as `python3 report_check.py REPORT.html EXPECTED.json` with Python's
/// `selenium` installed; [`browser_expectations`] writes the expected JSON.
#[doc(hidden)]
pub fn browser_check_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/report_check.py")
}

/// What the browser check should find in the page rendered from `input`, as the JSON
/// document [`browser_check_script`] takes: row count, rows per decision and per
/// invitation state, and the display names with markup characters, which must show as
/// visible text.
#[doc(hidden)]
pub fn browser_expectations(input: &ReportInput<'_>) -> serde_json::Value {
    let invitations = InvitationIndex::new(input.invitations.to_vec());
    let mut decisions = serde_json::Map::new();
    for decision in [Decision::Convert, Decision::Skip, Decision::Blocked] {
        let n = input
            .entries
            .iter()
            .filter(|e| e.plan.decision == decision)
            .count();
        decisions.insert(decision.as_str().to_owned(), n.into());
    }
    let mut states = serde_json::Map::new();
    for key in ["Accepted", "PendingAcceptance", "other", "none"] {
        let n = input
            .entries
            .iter()
            .filter(|e| state_key(invitations.of(&e.plan)) == key)
            .count();
        states.insert(key.to_owned(), n.into());
    }
    let visible_texts: Vec<&str> = input
        .entries
        .iter()
        .filter_map(|e| e.plan.display_name.as_deref())
        .filter(|name| name.contains(['<', '>', '&', '"', '\'']))
        .collect();
    serde_json::json!({
        "title_contains": "b2b-convert run report",
        "rows": input.entries.len(),
        "decisions": decisions,
        "states": states,
        "visible_texts": visible_texts,
    })
}
