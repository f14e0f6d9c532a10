//! `report`: one self-contained HTML page of the journal's latest run.

use std::process::ExitCode;

use b2b_convert_core::clock;
use b2b_convert_core::journal::Journal;
use b2b_convert_core::report::{ReportInput, write_html};

use crate::cli::ReportArgs;
use crate::prompt::command_line;

/// Runs `report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let clock = clock::system();
    let journal = Journal::open_existing(&args.journal, clock.clone())?;
    let run = journal.last_run()?;
    let entries = journal.entries(&run.id)?;
    let steps = journal.steps(&run.id, None)?;
    let invitations = journal.invitations()?;
    let commands = vec![run.command.clone(), command_line()];
    let input = ReportInput {
        run: &run,
        entries: &entries,
        steps: &steps,
        invitations: &invitations,
        commands: &commands,
        generated_at: clock.now(),
    };
    write_html(&input, &args.html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", args.html.display()))?;
    eprintln!("Wrote {}", args.html.display());
    Ok(ExitCode::SUCCESS)
}
