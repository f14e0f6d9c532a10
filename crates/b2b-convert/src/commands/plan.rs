//! `plan`: read-only; one decision per input row.

use std::process::ExitCode;

use b2b_convert_core::{input, permissions};

use crate::cli::PlanArgs;
use crate::connection::connect;
use crate::progress;
use crate::render::plan::render_plan;

/// Runs `plan`.
pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let input = input::read_input(&args.planning.input)?;
    let connection = connect(&args.planning.connection).await?;
    connection.require(permissions::PLANNING)?;
    let options = args.planning.plan_options(&connection.tenant_id)?;
    let plan = progress::plan(
        &connection,
        &input,
        &options,
        args.planning.planning.into(),
        args.planning.concurrency,
    )
    .await?;
    render_plan(&plan, args.output)?;
    Ok(ExitCode::SUCCESS)
}
