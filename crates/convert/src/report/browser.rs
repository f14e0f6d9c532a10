//! What the end-to-end browser check must find in a rendered page (the `testkit`
//! feature only: it serves the tests, never the product).
//!
//! The numbers are counted here from the journal's records, not taken from the view
//! model, so a page that miscounts fails the check instead of agreeing with itself.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::ReportInput;
use super::view::{STATE_KEYS, state_of, teams_link};
use crate::journal::InvitationIndex;
use crate::plan::{Decision, ReasonCode};
use crate::vocabulary::{EntryOutcome, InvitationState};

/// The window width the page must fit without scrolling sideways.
pub const BROWSER_WIDTH: u32 = 1400;

/// The browser check script (`tests/browser/report_check.py`), for end-to-end tests.
///
/// Run it as `python3 report_check.py REPORT.html EXPECTED.json` with Python's
/// `selenium` installed; [`browser_expectations`] writes the expected JSON.
#[doc(hidden)]
pub fn browser_check_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/report_check.py")
}

/// What the browser check should find in the page rendered from `input`, as the JSON
/// document [`browser_check_script`] takes: per run (latest first) the headline, the
/// rows per decision, invitation state and reason, the links to deliver, and the
/// display names with markup characters, which must show as visible text.
#[doc(hidden)]
pub fn browser_expectations(input: &ReportInput) -> Value {
    let invitations = InvitationIndex::new(input.invitations.clone());
    let runs: Vec<Value> = input
        .runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            let entries = &run.entries;
            let converted: Vec<_> = entries
                .iter()
                .filter(|e| e.outcome == Some(EntryOutcome::Converted))
                .collect();
            let accepted = converted
                .iter()
                .filter(|e| {
                    invitations
                        .of(&e.plan)
                        .is_some_and(|i| i.state == Some(InvitationState::Accepted))
                })
                .count();
            let total = entries.len();
            let mut decisions = Map::new();
            for decision in Decision::ALL {
                let n = entries
                    .iter()
                    .filter(|e| e.plan.decision == *decision)
                    .count();
                decisions.insert(decision.as_str().to_owned(), n.into());
            }
            let mut states = Map::new();
            for key in STATE_KEYS {
                let n = entries
                    .iter()
                    .filter(|e| state_of(invitations.of(&e.plan)).key == key)
                    .count();
                states.insert(key.to_owned(), n.into());
            }
            let mut reasons = Map::new();
            for code in ReasonCode::ALL {
                let n = entries
                    .iter()
                    .filter(|e| e.plan.decision != Decision::Convert)
                    .filter(|e| e.plan.reasons.iter().any(|r| r.code == *code))
                    .count();
                if n > 0 {
                    reasons.insert(code.as_str().to_owned(), n.into());
                }
            }
            let links = entries
                .iter()
                .filter_map(|e| invitations.of(&e.plan))
                .filter(|i| i.redeem_url.is_some())
                .filter(|i| i.state.as_ref().is_some_and(InvitationState::is_pending))
                .count();
            let visible_texts: Vec<&str> = entries
                .iter()
                .filter_map(|e| e.plan.display_name.as_deref())
                .filter(|name| name.contains(['<', '>', '&', '"', '\'']))
                .collect();
            json!({
                "index": index,
                "headline": format!(
                    "{} of {total} {} converted, {accepted} accepted",
                    converted.len(),
                    if total == 1 { "user" } else { "users" }
                ),
                "numbers": {"total": total, "converted": converted.len(), "accepted": accepted},
                "rows": total,
                "decisions": decisions,
                "states": states,
                "reasons": reasons,
                "links": links,
                "teams_link": teams_link(&run.run.tenant_id),
                "visible_texts": visible_texts,
            })
        })
        .collect();
    json!({
        "title_contains": "b2b-convert run report",
        "width": BROWSER_WIDTH,
        "runs": runs,
    })
}
