//! `apply`: plan, confirm, convert; every step journaled, and a re-run resumes.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use b2b_convert_core::clock::SystemClock;
use b2b_convert_core::executor::{
    self, EntryResult, ExecEvent, Execution, ExecutorOptions, HaltAt,
};
use b2b_convert_core::input::{self, Input};
use b2b_convert_core::journal::{EntryOutcome, Journal, NewRun, RunRecord};
use b2b_convert_core::plan::Decision;
use indicatif::{ProgressBar, ProgressStyle};

use super::plan::{make_plan, plan_options, plan_table, summary};
use super::{command_line, confirm};
use crate::cli::{ApplyArgs, OutputFormat};
use crate::connection::{Connection, connect};
use crate::output;

/// Hidden test hook (see `executor::HaltAt`): `after-intent:N`, `after-response:N`,
/// `after-outcome:N`.
pub const HALT_ENV: &str = "B2B_CONVERT_TEST_HALT_AT";

/// Runs `apply`.
pub async fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let input = input::read_input(&args.planning.input)?;
    let connection = connect(&args.planning.connection)?;
    let journal = Journal::open(&args.journal, Arc::new(SystemClock))?;
    let halt_at = match std::env::var(HALT_ENV) {
        Ok(text) => Some(
            text.parse::<HaltAt>()
                .map_err(anyhow::Error::msg)
                .context(HALT_ENV)?,
        ),
        Err(_) => None,
    };
    let Some(run) = prepare_run(&args, &connection, &journal, &input).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let options = ExecutorOptions {
        halt_at,
        ..ExecutorOptions::default()
    };
    let execution = execute_run(&connection, &journal, &run, &options).await?;
    report_execution(&journal, &run, &execution, args.output)
}

/// Resumes the journal's unfinished run for this input, or plans and starts a new one.
/// `None` when there is nothing to do or the admin said no.
async fn prepare_run(
    args: &ApplyArgs,
    connection: &Connection,
    journal: &Journal,
    input: &Input,
) -> anyhow::Result<Option<RunRecord>> {
    let graph_root = connection.client.endpoints().graph_root().to_string();
    if let Some(run) = journal.unfinished_run()? {
        if run.input_sha256 == input.sha256 && !args.new_run {
            if !run.tenant_id.eq_ignore_ascii_case(&connection.tenant_id)
                || run.graph_root != graph_root
            {
                bail!(
                    "{}: the unfinished run {} was started against tenant {} at {}, not {} at {}; \
                     resume it with the same connection, or pass --new-run",
                    journal.path().display(),
                    run.id,
                    run.tenant_id,
                    run.graph_root,
                    connection.tenant_id,
                    graph_root
                );
            }
            let entries = journal.entries(&run.id)?;
            let remaining = entries
                .iter()
                .filter(|e| e.plan.decision == Decision::Convert && e.outcome.is_none())
                .count();
            eprintln!(
                "Resuming run {} (started {}): {remaining} of {} users still to convert.",
                run.id,
                run.started_at,
                entries
                    .iter()
                    .filter(|e| e.plan.decision == Decision::Convert)
                    .count()
            );
            if !confirm(&format!("Resume converting {remaining} users?"), args.yes)? {
                eprintln!("Nothing was changed.");
                return Ok(None);
            }
            return Ok(Some(run));
        }
        if !args.new_run {
            bail!(
                "{}: run {} (input {}, sha256 {}) is unfinished, and {} has changed since (sha256 {}). \
                 Run apply with the original file to finish that run, or pass --new-run to abandon it and plan afresh.",
                journal.path().display(),
                run.id,
                run.input_path,
                run.input_sha256,
                input.path.display(),
                input.sha256
            );
        }
        eprintln!("Abandoning unfinished run {} as asked (--new-run).", run.id);
    }

    let plan = make_plan(connection, input, &args.planning).await?;
    // The admin sees the plan before confirming; with --output json/csv stdout is for
    // the results only, so the plan goes to stderr.
    if args.output == OutputFormat::Table {
        output::write_line(plan_table(&plan))?;
    } else {
        eprintln!("{}", plan_table(&plan));
    }
    let to_convert = plan
        .entries
        .iter()
        .filter(|e| e.decision == Decision::Convert)
        .count();
    if to_convert == 0 {
        eprintln!("Nothing to convert ({}).", summary(&plan));
        return Ok(None);
    }
    if !confirm(
        &format!(
            "Convert {to_convert} users? This changes their mail and invites them; it is hard to undo."
        ),
        args.yes,
    )? {
        eprintln!("Nothing was changed.");
        return Ok(None);
    }
    let options = plan_options(&args.planning, &connection.tenant_id)?;
    let input_path = input.path.display().to_string();
    let command = command_line();
    let run = journal.start_run(
        &NewRun {
            input_path: &input_path,
            input_sha256: &input.sha256,
            tenant_id: &connection.tenant_id,
            graph_root: &graph_root,
            command: &command,
            options: &options,
        },
        &plan,
    )?;
    Ok(Some(run))
}

/// Runs the executor with a progress bar.
pub async fn execute_run(
    connection: &Connection,
    journal: &Journal,
    run: &RunRecord,
    options: &ExecutorOptions,
) -> anyhow::Result<Execution> {
    let total = journal
        .entries(&run.id)?
        .iter()
        .filter(|e| e.plan.decision == Decision::Convert && e.outcome.is_none())
        .count();
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{spinner} converting {pos}/{len} {wide_bar} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_event = |event: ExecEvent| match event {
        ExecEvent::Finished(_) => bar.inc(1),
    };
    let execution = executor::execute(&connection.client, journal, run, options, &on_event).await;
    bar.finish_and_clear();
    Ok(execution?)
}

fn report_execution(
    journal: &Journal,
    run: &RunRecord,
    execution: &Execution,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    match format {
        OutputFormat::Json => output::write_json(&serde_json::json!({
            "runId": run.id,
            "results": execution.results,
            "unfinished": execution.unfinished,
            "stopped": execution.stopped,
        }))?,
        OutputFormat::Csv => output::write_csv(
            &[
                "row",
                "userId",
                "displayName",
                "externalEmail",
                "outcome",
                "redeemUrl",
                "error",
            ],
            execution.results.iter().map(|r| {
                vec![
                    r.row.to_string(),
                    r.user_id.clone(),
                    r.display_name.clone().unwrap_or_default(),
                    r.external_email.clone(),
                    outcome_name(r.outcome).to_owned(),
                    r.redeem_url.clone().unwrap_or_default(),
                    r.error.clone().unwrap_or_default(),
                ]
            }),
        )?,
        OutputFormat::Table => {
            if !execution.results.is_empty() {
                output::write_line(results_table(&execution.results))?;
            }
        }
    }
    let count = |o| execution.results.iter().filter(|r| r.outcome == o).count();
    let (converted, failed, unverified) = (
        count(EntryOutcome::Converted),
        count(EntryOutcome::Failed),
        count(EntryOutcome::Unverified),
    );
    eprintln!(
        "Run {}: {converted} converted, {failed} failed, {unverified} unverified, {} not reached. Journal: {}",
        run.id,
        execution.unfinished,
        journal.path().display()
    );
    if let Some(reason) = &execution.stopped {
        eprintln!("Stopped early: {reason}");
    }
    Ok(
        if failed + unverified + execution.unfinished > 0 || execution.stopped.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The per-user results as a table: outcome, error, or the link to deliver.
pub fn results_table(results: &[EntryResult]) -> comfy_table::Table {
    let mut table = output::table(&["Row", "User", "External email", "Result"]);
    for r in results {
        let result = match (&r.error, &r.redeem_url) {
            (Some(error), _) => format!("{}: {error}", outcome_name(r.outcome)),
            (None, Some(url)) => format!("{} — deliver this link: {url}", outcome_name(r.outcome)),
            (None, None) => outcome_name(r.outcome).to_owned(),
        };
        table.add_row(vec![
            r.row.to_string(),
            r.display_name.clone().unwrap_or_else(|| r.user_id.clone()),
            r.external_email.clone(),
            result,
        ]);
    }
    table
}

/// The outcome's name in every output.
pub fn outcome_name(outcome: EntryOutcome) -> &'static str {
    match outcome {
        EntryOutcome::Converted => "converted",
        EntryOutcome::Failed => "failed",
        EntryOutcome::Unverified => "unverified",
    }
}
