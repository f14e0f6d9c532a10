//! `reinvite`: a fresh invitation (a new redeem URL, one more email) for users whose
//! invitation has been pending too long.

use std::process::ExitCode;

use b2b_convert_core::clock;
use b2b_convert_core::journal::Journal;
use b2b_convert_core::reinvite::{self, Reinvited};
use b2b_convert_core::status;

use crate::cli::ReinviteArgs;
use crate::connection::connect;
use crate::output;
use crate::prompt::confirm;
use crate::render;

/// Runs `reinvite`.
pub async fn run(args: ReinviteArgs) -> anyhow::Result<ExitCode> {
    let clock = clock::system();
    let journal = Journal::open_existing(&args.journal, clock.clone())?;
    let connection = connect(&args.connection)?;
    // Who accepted since the last check must not be reinvited: read the states first.
    let refresh = status::refresh(&connection.client, &journal).await?;
    render::status::warn_unreadable(&refresh);
    let due = reinvite::due(&journal, clock.now(), args.pending_older_than)?;
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
        let result = match reinvite::send(&connection.client, &journal, invitation).await? {
            Reinvited::Sent {
                redeem_url: Some(url),
            } => format!("re-invited — deliver this link: {url}"),
            Reinvited::Sent { redeem_url: None } => {
                "re-invited (Microsoft emails the new link)".to_owned()
            }
            Reinvited::Failed(error) => {
                failed += 1;
                format!("failed: {error}")
            }
            Reinvited::NotInJournal => continue,
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
