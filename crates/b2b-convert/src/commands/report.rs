//! `report` (temporarily stubbed while the report module is written).
use crate::cli::ReportArgs;
use std::process::ExitCode;
/// Runs `report`.
pub fn run(_args: &ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("report: not available yet")
}
