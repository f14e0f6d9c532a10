//! Who has accepted, as `status` prints it.

use b2b_convert_core::journal::RunRecord;
use b2b_convert_core::plan::{Decision, ReasonCode};
use b2b_convert_core::status::{Refresh, StatusRow};
use b2b_convert_core::vocabulary::InvitationState;
use jiff::Timestamp;

use crate::cli::OutputFormat;
use crate::output;
use crate::render::time;

/// Prints the status rows in the chosen format, with the run's header and totals.
pub fn render(run: &RunRecord, rows: &[StatusRow], format: OutputFormat) -> anyhow::Result<()> {
    let time = |t: &Option<Timestamp>| t.map(time::local).unwrap_or_default();
    match format {
        OutputFormat::Json => output::write_json(&rows)?,
        OutputFormat::Csv => output::write_csv(
            &[
                "row",
                "userId",
                "displayName",
                "userPrincipalName",
                "externalEmail",
                "decision",
                "reasons",
                "outcome",
                "error",
                "state",
                "invitedAt",
                "stateChangedAt",
                "pendingDays",
                "inviteCount",
                "redeemUrl",
            ],
            rows.iter().map(|r| {
                vec![
                    r.row.to_string(),
                    r.user_id.clone().unwrap_or_default(),
                    r.display_name.clone().unwrap_or_default(),
                    r.user_principal_name.clone().unwrap_or_default(),
                    r.external_email.clone(),
                    r.decision.to_string(),
                    join(&r.reasons, ";"),
                    r.outcome.map(|o| o.to_string()).unwrap_or_default(),
                    r.error.clone().unwrap_or_default(),
                    r.state
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    r.invited_at.map(time::utc).unwrap_or_default(),
                    r.state_changed_at.map(time::utc).unwrap_or_default(),
                    r.pending_days
                        .map(|d| format!("{d:.1}"))
                        .unwrap_or_default(),
                    r.invite_count.map(|c| c.to_string()).unwrap_or_default(),
                    r.redeem_url.clone().unwrap_or_default(),
                ]
            }),
        )?,
        OutputFormat::Table => {
            let mut table = output::table(&[
                "Row",
                "User",
                "External email",
                "Decision",
                "Done",
                "Invitation",
            ]);
            for r in rows {
                let invitation = match (&r.state, r.pending_days) {
                    (Some(state), Some(days)) => format!(
                        "{} for {} (invited {})",
                        state.label(),
                        time::age(days),
                        time(&r.invited_at)
                    ),
                    (Some(state), None) => {
                        format!("{} since {}", state.label(), time(&r.state_changed_at))
                    }
                    (None, _) => String::new(),
                };
                let invitation = match (&r.redeem_url, r.state.as_ref()) {
                    (Some(url), Some(state)) if state.is_pending() => {
                        format!("{invitation}\ndeliver this link: {url}")
                    }
                    _ => invitation,
                };
                let done = match (&r.outcome, &r.error) {
                    (Some(outcome), Some(error)) => format!("{outcome}: {error}"),
                    (Some(outcome), None) => outcome.to_string(),
                    (None, _) if r.decision == Decision::Convert => "not yet".to_owned(),
                    (None, _) => join(&r.reasons, ", "),
                };
                table.add_row(vec![
                    r.row.to_string(),
                    r.display_name
                        .clone()
                        .or_else(|| r.user_id.clone())
                        .unwrap_or_default(),
                    r.external_email.clone(),
                    r.decision.to_string(),
                    done,
                    invitation,
                ]);
            }
            output::write_line(format!(
                "Run {} ({}), started {}",
                run.id,
                run.status,
                time::local(run.started_at)
            ))?;
            output::write_line(table)?;
            let accepted = rows
                .iter()
                .filter(|r| r.state == Some(InvitationState::Accepted))
                .count();
            let pending = rows.iter().filter(|r| r.pending_days.is_some()).count();
            output::write_line(format!("{accepted} accepted, {pending} pending"))?;
        }
    }
    Ok(())
}

fn join(codes: &[ReasonCode], separator: &str) -> String {
    codes
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(separator)
}

/// Names each user a refresh could not read; their state stays as last recorded.
pub fn warn_unreadable(refresh: &Refresh) {
    for (id, error) in &refresh.unreadable {
        eprintln!("warning: could not read user {id}: {error}");
    }
}
