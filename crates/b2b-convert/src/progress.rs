//! The two long waits of a run, with a progress bar on stderr: reading the tenant to
//! plan, and converting users. `plan`, `apply` and `demo` all show them alike.

use anyhow::Context;
use b2b_convert_core::executor::{self, ExecEvent, Execution, ExecutorOptions};
use b2b_convert_core::facts;
use b2b_convert_core::input::Input;
use b2b_convert_core::journal::{Journal, RunRecord};
use b2b_convert_core::plan::{Plan, PlanOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::connection::Connection;

fn bar(total: u64, template: &str) -> ProgressBar {
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// Reads the tenant and plans every row of `input`.
pub async fn plan(
    connection: &Connection,
    input: &Input,
    options: &PlanOptions,
    concurrency: u16,
) -> anyhow::Result<Plan> {
    let bar = bar(0, "{spinner} reading the tenant {pos}/{len} {wide_bar}");
    let plan = facts::plan_rows(
        &connection.client,
        &input.rows,
        options,
        usize::from(concurrency),
        &|p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        },
    )
    .await;
    bar.finish_and_clear();
    plan.context("planning stopped: the tenant could not be read")
}

/// Carries out (or resumes) `run`.
pub async fn execute(
    connection: &Connection,
    journal: &Journal,
    run: &RunRecord,
) -> anyhow::Result<Execution> {
    let total = journal.pending_entries(&run.id)?.len();
    let bar = bar(
        total as u64,
        "{spinner} converting {pos}/{len} {wide_bar} {eta}",
    );
    let on_event = |event: ExecEvent| match event {
        ExecEvent::Finished(_) => bar.inc(1),
    };
    let execution = executor::execute(
        &connection.client,
        journal,
        run,
        &ExecutorOptions::default(),
        &on_event,
    )
    .await;
    bar.finish_and_clear();
    Ok(execution?)
}
