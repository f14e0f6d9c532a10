//! `status`: per user of the journal's latest run — decision, what was done, invitation
//! state — optionally refreshed from Graph.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use b2b_convert_core::clock::{Clock, SystemClock};
use b2b_convert_core::journal::{InvitationRecord, Journal, RunRecord};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::apply::outcome_name;
use crate::cli::{OutputFormat, StatusArgs};
use crate::connection::{Connection, connect};
use crate::output;

/// Opens a journal that must already exist (status and report never create one).
pub fn open_existing(path: &Path) -> anyhow::Result<Journal> {
    if !path.exists() {
        bail!(
            "{}: no journal here; run `b2b-convert apply` first, or pass --journal",
            path.display()
        );
    }
    Ok(Journal::open(path, Arc::new(SystemClock))?)
}

/// The journal's latest run.
pub fn latest_run(journal: &Journal) -> anyhow::Result<RunRecord> {
    journal
        .latest_run()?
        .with_context(|| format!("{}: the journal holds no run yet", journal.path().display()))
}

/// One line of status.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRow {
    /// Input line.
    pub row: u64,
    /// Object id.
    pub user_id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
    /// The external address.
    pub external_email: String,
    /// The plan's decision.
    pub decision: String,
    /// The plan's reason codes.
    pub reasons: Vec<String>,
    /// How apply ended for the row.
    pub outcome: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// externalUserState as last read (or recorded at invitation).
    pub state: Option<String>,
    /// When the latest invitation was sent.
    pub invited_at: Option<Timestamp>,
    /// externalUserStateChangeDateTime as last read.
    pub state_changed_at: Option<Timestamp>,
    /// When the state was last read from Graph.
    pub checked_at: Option<Timestamp>,
    /// Days the invitation has been pending.
    pub pending_days: Option<f64>,
    /// Invitations sent.
    pub invite_count: Option<u32>,
}

/// Reads externalUserState back for every invited user (via $batch) and records
/// changes; returns (users read, states changed).
pub async fn refresh(connection: &Connection, journal: &Journal) -> anyhow::Result<(usize, usize)> {
    let ids: Vec<String> = journal
        .invitations()?
        .into_iter()
        .map(|i| i.user_id)
        .collect();
    let mut changed = 0;
    let mut read = 0;
    for chunk in ids.chunks(200) {
        let answers = connection
            .client
            .get_users_by_ids(
                chunk,
                &["id", "externalUserState", "externalUserStateChangeDateTime"],
            )
            .await
            .context("refreshing invitation states")?;
        for (id, answer) in answers {
            match answer {
                Ok(Some(user)) => {
                    read += 1;
                    if journal.record_state(
                        &id,
                        user.external_user_state.as_deref(),
                        user.external_user_state_change_date_time,
                    )? {
                        changed += 1;
                    }
                }
                Ok(None) => {
                    read += 1;
                    if journal.record_state(&id, Some("Deleted"), None)? {
                        changed += 1;
                    }
                }
                Err(error) => eprintln!("warning: could not read user {id}: {error}"),
            }
        }
    }
    Ok((read, changed))
}

/// Status rows of a run, joined with the invitation states.
pub fn status_rows(
    journal: &Journal,
    run: &RunRecord,
    now: Timestamp,
) -> anyhow::Result<Vec<StatusRow>> {
    let invitations = journal.invitations()?;
    let find = |id: &Option<String>| -> Option<&InvitationRecord> {
        id.as_ref().and_then(|id| {
            invitations
                .iter()
                .find(|i| i.user_id.eq_ignore_ascii_case(id))
        })
    };
    Ok(journal
        .entries(&run.id)?
        .into_iter()
        .map(|entry| {
            let invitation = find(&entry.plan.user_id);
            let pending = invitation.filter(|i| i.state.as_deref().is_some_and(is_pending));
            StatusRow {
                row: entry.plan.row,
                user_id: entry.plan.user_id.clone(),
                display_name: entry.plan.display_name.clone(),
                user_principal_name: entry.plan.user_principal_name.clone(),
                external_email: entry.plan.external_email.clone(),
                decision: entry.plan.decision.as_str().to_owned(),
                reasons: entry
                    .plan
                    .reasons
                    .iter()
                    .map(|r| r.code.as_str().to_owned())
                    .collect(),
                outcome: entry.outcome.map(|o| outcome_name(o).to_owned()),
                error: entry.error.clone(),
                state: invitation.and_then(|i| i.state.clone()),
                invited_at: invitation.map(|i| i.invited_at),
                state_changed_at: invitation.and_then(|i| i.state_changed_at),
                checked_at: invitation.and_then(|i| i.checked_at),
                pending_days: pending.map(|i| age(now, i.invited_at).as_secs_f64() / 86_400.0),
                invite_count: invitation.map(|i| i.invite_count),
            }
        })
        .collect())
}

/// `PendingAcceptance` or `Pending Acceptance`.
pub fn is_pending(state: &str) -> bool {
    state
        .replace(' ', "")
        .eq_ignore_ascii_case("PendingAcceptance")
}

/// How long ago `then` was.
pub fn age(now: Timestamp, then: Timestamp) -> SignedDuration {
    now.duration_since(then)
}

/// Runs `status`.
pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let journal = open_existing(&args.journal)?;
    let run = latest_run(&journal)?;
    if args.refresh {
        let connection = connect(&args.connection)?;
        let (read, changed) = refresh(&connection, &journal).await?;
        eprintln!("Read {read} invited users from Graph; {changed} changed state.");
    }
    let now = SystemClock.now();
    let mut rows = status_rows(&journal, &run, now)?;
    if let Some(threshold) = args.pending_older_than {
        let days = threshold.as_secs_f64() / 86_400.0;
        rows.retain(|r| r.pending_days.is_some_and(|d| d > days));
    }
    render(&run, &rows, args.output)?;
    Ok(ExitCode::SUCCESS)
}

fn render(run: &RunRecord, rows: &[StatusRow], format: OutputFormat) -> anyhow::Result<()> {
    let time = |t: &Option<Timestamp>| {
        t.map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
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
            ],
            rows.iter().map(|r| {
                vec![
                    r.row.to_string(),
                    r.user_id.clone().unwrap_or_default(),
                    r.display_name.clone().unwrap_or_default(),
                    r.user_principal_name.clone().unwrap_or_default(),
                    r.external_email.clone(),
                    r.decision.clone(),
                    r.reasons.join(";"),
                    r.outcome.clone().unwrap_or_default(),
                    r.error.clone().unwrap_or_default(),
                    r.state.clone().unwrap_or_default(),
                    r.invited_at.map(|t| t.to_string()).unwrap_or_default(),
                    r.state_changed_at
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    r.pending_days
                        .map(|d| format!("{d:.1}"))
                        .unwrap_or_default(),
                    r.invite_count.map(|c| c.to_string()).unwrap_or_default(),
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
                        "{state} for {days:.1} days (invited {})",
                        time(&r.invited_at)
                    ),
                    (Some(state), None) => format!("{state} since {}", time(&r.state_changed_at)),
                    (None, _) => String::new(),
                };
                let done = match (&r.outcome, &r.error) {
                    (Some(outcome), Some(error)) => format!("{outcome}: {error}"),
                    (Some(outcome), None) => outcome.clone(),
                    (None, _) if r.decision == "convert" => "not yet".to_owned(),
                    (None, _) => r.reasons.join(", "),
                };
                table.add_row(vec![
                    r.row.to_string(),
                    r.display_name
                        .clone()
                        .or_else(|| r.user_id.clone())
                        .unwrap_or_default(),
                    r.external_email.clone(),
                    r.decision.clone(),
                    done,
                    invitation,
                ]);
            }
            output::write_line(format!(
                "Run {} ({}), started {}",
                run.id, run.status, run.started_at
            ))?;
            output::write_line(table)?;
            let accepted = rows
                .iter()
                .filter(|r| r.state.as_deref() == Some("Accepted"))
                .count();
            let pending = rows.iter().filter(|r| r.pending_days.is_some()).count();
            output::write_line(format!("{accepted} accepted, {pending} pending"))?;
        }
    }
    Ok(())
}
