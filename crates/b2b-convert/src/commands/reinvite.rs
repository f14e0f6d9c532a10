//! `reinvite`: a fresh invitation (a new redeem URL, one more email) for users whose
//! invitation has been pending too long. Graph cannot return an old redeem URL, so a
//! resend is the only way to give a partner a working link again.

use std::process::ExitCode;

use anyhow::Context;
use b2b_convert_core::clock::{Clock, SystemClock};
use b2b_convert_core::executor;

use super::confirm;
use super::status::{age, is_pending, open_existing, refresh};
use crate::cli::ReinviteArgs;
use crate::connection::connect;
use crate::output;

/// Runs `reinvite`.
pub async fn run(args: ReinviteArgs) -> anyhow::Result<ExitCode> {
    let journal = open_existing(&args.journal)?;
    let connection = connect(&args.connection)?;
    // Someone who accepted since the last check must not get a confusing resend (Graph
    // refuses it anyway without resetRedemption).
    refresh(&connection, &journal).await?;
    let now = SystemClock.now();
    let due: Vec<_> = journal
        .invitations()?
        .into_iter()
        .filter(|i| {
            i.state.as_deref().is_some_and(is_pending)
                && age(now, i.invited_at) > args.pending_older_than
        })
        .collect();
    if due.is_empty() {
        eprintln!("No invitation has been pending longer than that.");
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(
        &format!("Send fresh invitations to {} users?", due.len()),
        args.yes,
    )? {
        eprintln!("Nothing was sent.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = 0;
    let mut table = output::table(&["User", "External email", "Result"]);
    for invitation in &due {
        let run = journal
            .run(&invitation.run_id)?
            .with_context(|| format!("the journal lost run {}", invitation.run_id))?;
        let entries = journal.entries(&run.id)?;
        let Some(entry) = entries.iter().find(|e| e.plan.row == invitation.row) else {
            continue;
        };
        let Some(settings) = executor::settings_of(&entry.plan) else {
            continue;
        };
        let result =
            match executor::reinvite(&connection.client, &journal, &run, &entry.plan, settings)
                .await?
            {
                Ok(Some(url)) => format!("re-invited — deliver this link: {url}"),
                Ok(None) => "re-invited (Microsoft emails the new link)".to_owned(),
                Err(error) => {
                    failed += 1;
                    format!("failed: {error}")
                }
            };
        table.add_row(vec![
            invitation
                .display_name
                .clone()
                .unwrap_or_else(|| invitation.user_id.clone()),
            invitation.external_email.clone(),
            result,
        ]);
    }
    output::write_line(table)?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
