//! `apply`: plan, confirm, convert; every step journaled, and a re-run resumes.

use std::process::ExitCode;
use std::time::Duration;

use b2b_convert_core::clock;
use b2b_convert_core::executor::{Execution, ExecutorOptions};
use b2b_convert_core::input::{self, Input};
use b2b_convert_core::journal::{EntryOutcome, Journal, NewRun, RunRecord};
use b2b_convert_core::plan::Decision;
use b2b_convert_core::resumption::{self, Resumption, Target};
use tokio_util::sync::CancellationToken;

use crate::cli::{ApplyArgs, OutputFormat};
use crate::connection::{Connection, connect};
use crate::interrupt;
use crate::output;
use crate::progress;
use crate::prompt::{command_line, confirm};
use crate::render::plan::{plan_table, summary};
use crate::render::results::results_table;

/// How long steps in flight may take to finish after an interrupt before the tool
/// quits anyway (an open step is settled by reading back on resume).
const GRACE: Duration = Duration::from_secs(10);

/// Runs `apply`.
pub async fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let input = input::read_input(&args.planning.input)?;
    let connection = connect(&args.planning.connection)?;
    let journal = Journal::open(&args.journal, clock::system())?;
    let Some(run) = prepare_run(&args, &connection, &journal, &input).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let cancel = CancellationToken::new();
    let interrupts = tokio::spawn(interrupt::watch(cancel.clone()));
    let options = ExecutorOptions {
        concurrency: usize::from(args.planning.concurrency),
        cancel: cancel.clone(),
        ..ExecutorOptions::default()
    };
    let execution = progress::execute(&connection, &journal, &run, &options);
    tokio::pin!(execution);
    let execution = tokio::select! {
        execution = &mut execution => execution?,
        () = async { cancel.cancelled().await; tokio::time::sleep(GRACE).await } => {
            eprintln!(
                "Requests still in flight after {} s; quitting. Their steps stay open in the journal \
                 and are settled by reading the users back when you resume.",
                GRACE.as_secs()
            );
            interrupt::print_resume();
            return Ok(interrupt::exit_code());
        }
    };
    interrupts.abort();
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
    let input_path = input.path.display().to_string();
    let target = Target {
        input_path: &input_path,
        input_sha256: &input.sha256,
        tenant_id: &connection.tenant_id,
        graph_root: &graph_root,
    };
    match resumption::decide(journal, &target, args.new_run)? {
        Resumption::Resume {
            run,
            remaining,
            to_convert,
        } => {
            eprintln!(
                "Resuming run {} (started {}): {remaining} of {to_convert} users still to convert.",
                run.id, run.started_at,
            );
            if !confirm(&format!("Resume converting {remaining} users?"), args.yes)? {
                eprintln!("Nothing was changed.");
                return Ok(None);
            }
            return Ok(Some(run));
        }
        Resumption::StartNew {
            abandoning: Some(run),
        } => eprintln!("Abandoning unfinished run {} as asked (--new-run).", run.id),
        Resumption::StartNew { abandoning: None } => {}
    }

    let options = args.planning.plan_options(&connection.tenant_id)?;
    let plan = progress::plan(
        connection,
        input,
        &options,
        args.planning.planning.into(),
        args.planning.concurrency,
    )
    .await?;
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
                    r.outcome.to_string(),
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
    for pending in &execution.pending {
        eprintln!("Row {} still pending: {}", pending.row, pending.reason);
    }
    if let Some(reason) = &execution.stopped {
        eprintln!("Stopped early: {reason}");
    }
    if execution.interrupted {
        eprintln!("Interrupted: every step in flight finished and is recorded.");
        interrupt::print_resume();
        return Ok(interrupt::exit_code());
    }
    if execution.unfinished > 0 {
        eprintln!(
            "{} users are not converted yet; nothing is lost. To finish, run the same command again:\n  {}",
            execution.unfinished,
            command_line()
        );
    }
    Ok(
        if failed + unverified + execution.unfinished > 0 || execution.stopped.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
