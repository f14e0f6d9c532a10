//! The per-user results of converting (or reinviting): what happened and, for
//! invitations sent without email, the link the admin must deliver.

use b2b_convert_core::executor::EntryResult;

use crate::output;

/// The per-user results as a table: outcome, error, or the link to deliver.
pub fn results_table(results: &[EntryResult]) -> comfy_table::Table {
    let mut table = output::table(&["Row", "User", "External email", "Result"]);
    for r in results {
        let result = match (&r.error, &r.redeem_url) {
            (Some(error), _) => format!("{}: {error}", r.outcome),
            (None, Some(url)) => format!("{} — deliver this link: {url}", r.outcome),
            (None, None) => r.outcome.to_string(),
        };
        table.add_row(vec![
            r.row.to_string(),
            r.display_name.clone().unwrap_or_else(|| r.user_id.clone()),
            r.external_email.clone(),
            result,
        ]);
    }
    table
}
