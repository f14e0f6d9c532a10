//! `report`: one self-contained HTML page of every run in the journal, the latest first.

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
    let input = ReportInput::read(&journal, command_line(), clock.now())?;
    write_html(&input, &args.html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", args.html.display()))?;
    let runs = input.runs.len();
    eprintln!(
        "Wrote {} ({runs} {})",
        args.html.display(),
        if runs == 1 { "run" } else { "runs" }
    );
    Ok(ExitCode::SUCCESS)
}
