//! `report`: one self-contained HTML page of the journal's latest run.

use std::process::ExitCode;

use b2b_convert_core::clock::{Clock, SystemClock};
use b2b_convert_core::report::{ReportInput, write_html};

use super::command_line;
use super::status::{latest_run, open_existing};
use crate::cli::ReportArgs;

/// Runs `report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let journal = open_existing(&args.journal)?;
    let run = latest_run(&journal)?;
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
        generated_at: SystemClock.now(),
    };
    write_html(&input, &args.html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", args.html.display()))?;
    eprintln!("Wrote {}", args.html.display());
    Ok(ExitCode::SUCCESS)
}
