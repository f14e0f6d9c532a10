//! `apply`: plan, confirm, convert; every step journaled, and a re-run resumes.

use std::process::ExitCode;

use anyhow::Context;

use b2b_convert_core::clock;
use b2b_convert_core::executor::{Execution, ExecutorOptions};
use b2b_convert_core::input::{self, Input};
use b2b_convert_core::journal::{EntryOutcome, Journal, NewRun, RunRecord};
use b2b_convert_core::permissions;
use b2b_convert_core::plan::Decision;
use b2b_convert_core::resumption::{self, Resumption, Target};
use b2b_convert_core::status::{self, StatusRow};
use tokio_util::sync::CancellationToken;

use crate::cli::{ApplyArgs, OutputFormat};
use crate::connection::{Connection, connect};
use crate::interrupt;
use crate::output;
use crate::progress;
use crate::prompt::{command_line, confirm};
use crate::render::plan::{plan_digest, plan_table, summary};
use crate::render::results::results_table;

/// Runs `apply`.
pub async fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let input = input::read_input(&args.input)?;
    let connection = connect(&args.planning.connection).await?;
    let journal = Journal::open(&args.journal, clock::system())?;
    let Some(run) = prepare_run(&args, &connection, &journal, &input).await? else {
        // A script reading the results gets an empty set, not nothing.
        write_results(None, &Execution::default(), args.output)?;
        return Ok(ExitCode::SUCCESS);
    };
    let cancel = CancellationToken::new();
    let options = ExecutorOptions {
        concurrency: usize::from(args.planning.concurrency),
        cancel: cancel.clone(),
        ..ExecutorOptions::default()
    };
    let execution = progress::execute(&connection, &journal, &run, &options);
    let settled_by = "are settled by reading the users back when you resume";
    let Some(execution) = interrupt::guarded(&cancel, execution, settled_by).await else {
        return Ok(interrupt::exit_code());
    };
    let execution = execution?;
    // The whole run, earlier sessions included: the links file and the summary.
    let rows = status::status_rows(&journal, &run, clock::system().now())?;
    if let Some(path) = &args.links_out {
        write_links(&rows, path)?;
    }
    progress::note(format!(
        "Partners find this tenant in Microsoft Teams at https://teams.microsoft.com/?tenantId={}",
        run.tenant_id
    ));
    write_results(Some(&run), &execution, args.output)?;
    summarise(&journal, &run, &execution, &rows)
}

/// Writes the redeem links of the whole run's invitations sent without email (resumed
/// sessions included), for a mail merge; says how many and where.
fn write_links(rows: &[StatusRow], path: &std::path::Path) -> anyhow::Result<()> {
    let links: Vec<_> = rows.iter().filter(|r| r.redeem_url.is_some()).collect();
    let mut writer = csv::Writer::from_path(path)
        .with_context(|| format!("cannot write the links to {}", path.display()))?;
    writer.write_record(["user", "displayName", "externalEmail", "redeemUrl"])?;
    for row in &links {
        writer.write_record([
            output::csv_cell(
                row.user_principal_name
                    .as_deref()
                    .or(row.user_id.as_deref())
                    .unwrap_or_default(),
            ),
            output::csv_cell(row.display_name.as_deref().unwrap_or_default()),
            output::csv_cell(&row.external_email),
            output::csv_cell(row.redeem_url.as_deref().unwrap_or_default()),
        ])?;
    }
    writer
        .flush()
        .with_context(|| format!("cannot write the links to {}", path.display()))?;
    eprintln!(
        "{} redeem links to deliver written to {}.",
        links.len(),
        path.display()
    );
    Ok(())
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
                run.id,
                crate::render::time::local(run.started_at),
            );
            let pending = journal.pending_entries(&run.id)?;
            let needs = permissions::needs_to_resume(pending.iter().map(|e| &e.plan));
            connection.require(&needs)?;
            if let Some(note) = permissions::needs_admin_role(&needs) {
                progress::note(format!("Note: {note}."));
            }
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

    connection.require(permissions::PLANNING)?;
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
    // Hundreds of rows scroll the question out of sight: above this many, the counts
    // and the first blocked rows, with --show-plan for all.
    const DIGEST_ABOVE: usize = 50;
    let shown = if plan.entries.len() > DIGEST_ABOVE && !args.show_plan {
        plan_digest(&plan, 10)
    } else {
        plan_table(&plan)
    };
    if args.output == OutputFormat::Table {
        output::write_line(&shown)?;
    } else {
        eprintln!("{shown}");
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
    let needs = permissions::needs_of(&plan);
    connection.require(&needs)?;
    if let Some(note) = permissions::needs_admin_role(&needs) {
        progress::note(format!("Note: {note}."));
    }
    if options.set_user_type.is_some() {
        progress::note(
            "Note: userType Guest bills these users as external (monthly active users) only \
             when the tenant is linked to an Azure subscription (External ID pricing).",
        );
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

/// The results on stdout in the chosen format (an empty table prints nothing).
fn write_results(
    run: Option<&RunRecord>,
    execution: &Execution,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => output::write_json(&serde_json::json!({
            "runId": run.map(|r| &r.id),
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
    Ok(())
}

/// The end-of-run lines on stderr, and the exit code.
fn summarise(
    journal: &Journal,
    run: &RunRecord,
    execution: &Execution,
    rows: &[StatusRow],
) -> anyhow::Result<ExitCode> {
    // The whole run, earlier sessions included: after a resume the admin wants the
    // total, not just what this session did.
    let total = |o| rows.iter().filter(|r| r.outcome == Some(o)).count();
    let (converted, failed, unverified) = (
        total(EntryOutcome::Converted),
        total(EntryOutcome::Failed),
        total(EntryOutcome::Unverified),
    );
    let this_session = execution
        .results
        .iter()
        .filter(|r| r.outcome == EntryOutcome::Converted)
        .count();
    let session = if this_session == converted {
        String::new()
    } else {
        format!(" ({this_session} in this session)")
    };
    eprintln!(
        "Run {}: {converted} converted{session}, {failed} failed, {unverified} unverified, {} not reached. Journal: {}",
        run.id,
        execution.unfinished,
        journal.path().display()
    );
    const FAILURES_SHOWN: usize = 10;
    let failures: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == Some(EntryOutcome::Failed))
        .collect();
    for row in failures.iter().take(FAILURES_SHOWN) {
        eprintln!(
            "Row {} ({}) failed: {}",
            row.row,
            row.user_principal_name
                .as_deref()
                .unwrap_or(&row.external_email),
            row.error.as_deref().unwrap_or("no detail recorded")
        );
    }
    if failures.len() > FAILURES_SHOWN {
        eprintln!(
            "… and {} more failed rows (`b2b-convert status --output csv` lists them all).",
            failures.len() - FAILURES_SHOWN
        );
    }
    for pending in &execution.pending {
        eprintln!("Row {} still pending: {}", pending.row, pending.reason);
    }
    if let Some(reason) = &execution.stopped {
        eprintln!("Stopped early: {reason}");
    }
    if execution.sign_in_lost {
        eprintln!(
            "Nothing is lost: once the credential signs in again, run the same command to resume:\n  {}",
            command_line()
        );
        return Ok(ExitCode::from(3));
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
