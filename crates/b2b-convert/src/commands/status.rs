//! `status`: per user of the journal's latest run — decision, what was done, invitation
//! state — optionally refreshed from Graph.

use std::process::ExitCode;

use b2b_convert_core::clock;
use b2b_convert_core::journal::Journal;
use b2b_convert_core::permissions::Need;
use b2b_convert_core::status;

use crate::cli::StatusArgs;
use crate::connection::connect;
use crate::render;

/// Runs `status`.
pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let clock = clock::system();
    let journal = Journal::open_existing(&args.journal, clock.clone())?;
    let run = journal.last_run()?;
    if args.refresh {
        let connection = connect(&args.connection).await?;
        connection.require(&[Need::ReadUsers])?;
        let refresh = status::refresh(&connection.client, &journal).await?;
        render::status::warn_unreadable(&refresh);
        eprintln!(
            "Read {} invited users from Graph; {} changed state.",
            refresh.read, refresh.changed
        );
    }
    let mut rows = status::status_rows(&journal, &run, clock.now())?;
    if let Some(age) = args.pending_older_than {
        rows.retain(|r| r.pending_longer_than(age));
    }
    render::status::render(&run, &rows, args.output)?;
    Ok(ExitCode::SUCCESS)
}
