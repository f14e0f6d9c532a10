//! `revert`: converts users turned B2B by mistake back into internal members, through
//! Graph's beta `convertExternalToInternalMemberUser`: plan, confirm, revert; every step
//! journaled. Refused without `--i-understand-beta`: Microsoft may change a beta API at
//! any time, and the admin must know that before relying on it.

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use b2b_convert_core::clock;
use b2b_convert_core::journal::{Journal, NewRevertRun, RevertRunRecord};
use b2b_convert_core::permissions::Need;
use b2b_convert_core::revert::{
    self, RevertDecision, RevertEntry, RevertExecOptions, RevertExecution, RevertOptions,
    RevertOutcome, RevertResult, Sources,
};
use tokio_util::sync::CancellationToken;

use crate::cli::{OutputFormat, RevertArgs};
use crate::connection::connect;
use crate::interrupt;
use crate::output;
use crate::progress;
use crate::prompt::{command_line, confirm};

/// Users read and reverted at once (the client paces requests to Graph's budgets anyway).
const CONCURRENCY: usize = 8;

/// Why `revert` needs `--i-understand-beta`.
const BETA_REFUSAL: &str = "revert calls Microsoft Graph's beta API \
(POST /beta/users/{id}/convertExternalToInternalMemberUser). Microsoft says beta APIs \
\"are subject to change\" and their use in production \"is not supported\": the request, \
its answers and its refusals may change without notice. Pass --i-understand-beta to go on. \
Nothing was changed.";

/// Runs `revert`.
pub async fn run(args: RevertArgs) -> anyhow::Result<ExitCode> {
    if !args.i_understand_beta {
        bail!(BETA_REFUSAL);
    }
    let options = RevertOptions {
        upn_domain: args.upn_domain.as_deref().map(check_domain).transpose()?,
        include_accepted: args.include_accepted,
    };
    let clock = clock::system();
    // The source is read before signing in: a bad file or run id costs no request.
    let (journal, sources) = match (&args.input, &args.run) {
        (Some(path), _) => (
            Journal::open(&args.journal, clock)?,
            revert::read_sources(path)?,
        ),
        (None, run) => {
            let journal = Journal::open_existing(&args.journal, clock)?;
            let run = match run {
                Some(id) => journal.run(id)?.ok_or_else(|| {
                    anyhow!(
                        "{}: no apply run {id} in this journal (`b2b-convert report` lists them)",
                        args.journal.display()
                    )
                })?,
                None => journal.last_run()?,
            };
            let sources = revert::sources_from_run(&journal, &run.id)?;
            (journal, sources)
        }
    };

    let connection = connect(&args.connection).await?;
    connection.require(&[Need::ReadUsers, Need::ReadDomains, Need::ConvertToInternal])?;
    let graph_root = connection.client.endpoints().graph_root().to_string();
    settle_earlier_runs(
        &connection.client,
        &journal,
        &connection.tenant_id,
        &graph_root,
    )
    .await?;

    if sources.sources.is_empty() {
        eprintln!("Nothing to revert: {} names no user.", sources.origin);
        write_results(None, &[], &RevertExecution::default(), args.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let entries = revert::plan(&connection.client, &sources.sources, &options, CONCURRENCY)
        .await
        .context("planning stopped: the tenant could not be read")?;
    let shown = plan_table(&entries);
    if args.output == OutputFormat::Table {
        output::write_line(&shown)?;
    } else {
        eprintln!("{shown}");
    }
    let to_revert = entries
        .iter()
        .filter(|e| e.decision == RevertDecision::Revert)
        .count();
    if to_revert == 0 {
        eprintln!("Nothing to revert: every user is blocked (the table says why).");
        write_results(None, &entries, &RevertExecution::default(), args.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(
        &format!(
            "Revert {to_revert} users to internal members? Graph's beta API converts them; each \
             cloud user gets a random password nobody is told, to reset in the admin center. A \
             reverted user can't be invited back to B2B (Graph refuses it)."
        ),
        args.yes,
    )? {
        eprintln!("Nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    let run = start_run(
        &journal,
        &sources,
        &connection.tenant_id,
        &graph_root,
        &options,
        &entries,
    )?;

    let cancel = CancellationToken::new();
    let exec_options = RevertExecOptions {
        concurrency: CONCURRENCY,
        cancel: cancel.clone(),
        ..RevertExecOptions::default()
    };
    let execution = revert::execute(&connection.client, &journal, &run, &exec_options);
    let settled_by = "the next revert settles them by reading the users back";
    let Some(execution) = interrupt::guarded(&cancel, execution, settled_by).await else {
        return Ok(interrupt::exit_code());
    };
    let execution = execution?;
    write_results(Some(&run), &entries, &execution, args.output)?;
    summarise(&journal, &run, &execution)
}

/// `--upn-domain`: a bare domain name (whether the tenant verified it is decided per
/// user, with the tenant's list in the message).
fn check_domain(domain: &str) -> anyhow::Result<String> {
    let domain = domain.trim().to_lowercase();
    if let Err(reason) = b2b_convert_core::email::check_domain_name(&domain) {
        bail!("--upn-domain {domain:?} is not a domain name such as contoso.com: {reason}");
    }
    Ok(domain)
}

/// Settles the open steps of revert runs an earlier `revert` left unfinished, by reading
/// those users back, and says what it found.
async fn settle_earlier_runs(
    client: &b2b_graph::GraphClient,
    journal: &Journal,
    tenant_id: &str,
    graph_root: &str,
) -> anyhow::Result<()> {
    for run in revert::settle_unfinished(client, journal, tenant_id, graph_root).await? {
        if run.other_tenant {
            progress::note(format!(
                "Note: revert run {} is unfinished but was against another tenant or Graph root; \
                 left as it is.",
                run.run_id
            ));
            continue;
        }
        progress::note(format!(
            "Earlier revert run {} was unfinished: read back {} users as reverted, {} not; {} could not be read.",
            run.run_id, run.reverted, run.not_done, run.unsettled
        ));
    }
    Ok(())
}

fn start_run(
    journal: &Journal,
    sources: &Sources,
    tenant_id: &str,
    graph_root: &str,
    options: &RevertOptions,
    entries: &[RevertEntry],
) -> anyhow::Result<RevertRunRecord> {
    let command = command_line();
    Ok(journal.start_revert_run(
        &NewRevertRun {
            input_path: &sources.origin,
            input_sha256: &sources.digest,
            tenant_id,
            graph_root,
            command: &command,
            options,
        },
        entries,
    )?)
}

/// The plan for people: one line per user, what happens or why not.
fn plan_table(entries: &[RevertEntry]) -> String {
    let mut table = output::table(&["Row", "User", "Invitation", "Decision", "Details"]);
    for entry in entries {
        let who = entry
            .display_name
            .clone()
            .map(|name| {
                format!(
                    "{name}\n{}",
                    entry.user_principal_name.as_deref().unwrap_or(&entry.user)
                )
            })
            .unwrap_or_else(|| entry.user.clone());
        let details = match entry.decision {
            RevertDecision::Revert => {
                let kept = entry.new_user_principal_name.as_deref().is_some_and(|new| {
                    entry
                        .user_principal_name
                        .as_deref()
                        .is_some_and(|old| old.eq_ignore_ascii_case(new))
                });
                let mut lines = vec![match &entry.new_user_principal_name {
                    Some(upn) if kept => format!("keeps UPN {upn}; a random password to reset"),
                    Some(upn) => format!("new UPN {upn}; a random password to reset"),
                    None => "no UPN or password sent".to_owned(),
                }];
                lines.extend(entry.notes.iter().cloned());
                lines.join("\n")
            }
            RevertDecision::Blocked => entry
                .reasons
                .iter()
                .map(|r| format!("{}: {}", r.code, r.message))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        table.add_row(vec![
            entry.row.to_string(),
            who,
            entry
                .state
                .as_ref()
                .map_or("none", |s| s.label())
                .to_owned(),
            entry.decision.to_string(),
            details,
        ]);
    }
    let blocked = entries.len()
        - entries
            .iter()
            .filter(|e| e.decision == RevertDecision::Revert)
            .count();
    format!(
        "{table}\n{} to revert, {blocked} blocked.",
        entries.len() - blocked
    )
}

/// One row as JSON and CSV print it: a result, or a blocked row.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Blocked<'a> {
    row: u64,
    user: &'a str,
    user_id: Option<&'a str>,
    display_name: Option<&'a str>,
    reasons: &'a [revert::RevertReason],
}

/// The results on stdout in the chosen format.
fn write_results(
    run: Option<&RevertRunRecord>,
    entries: &[RevertEntry],
    execution: &RevertExecution,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let blocked: Vec<Blocked<'_>> = entries
        .iter()
        .filter(|e| e.decision == RevertDecision::Blocked)
        .map(|e| Blocked {
            row: e.row,
            user: &e.user,
            user_id: e.user_id.as_deref(),
            display_name: e.display_name.as_deref(),
            reasons: &e.reasons,
        })
        .collect();
    match format {
        OutputFormat::Json => output::write_json(&serde_json::json!({
            "runId": run.map(|r| &r.id),
            "results": execution.results,
            "blocked": blocked,
            "pending": execution.pending,
            "notReached": execution.not_reached,
            "stopped": execution.stopped,
        }))?,
        OutputFormat::Csv => {
            let results = execution.results.iter().map(|r| {
                vec![
                    r.row.to_string(),
                    r.user_id.clone(),
                    r.display_name.clone().unwrap_or_default(),
                    r.user_principal_name.clone().unwrap_or_default(),
                    r.outcome.to_string(),
                    r.error.clone().unwrap_or_default(),
                ]
            });
            let refused = blocked.iter().map(|b| {
                vec![
                    b.row.to_string(),
                    b.user_id.unwrap_or(b.user).to_owned(),
                    b.display_name.unwrap_or_default().to_owned(),
                    String::new(),
                    "blocked".to_owned(),
                    b.reasons
                        .iter()
                        .map(|r| format!("{}: {}", r.code, r.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            });
            let mut rows: Vec<Vec<String>> = results.chain(refused).collect();
            rows.sort_by_key(|r| r[0].parse::<u64>().unwrap_or(u64::MAX));
            output::write_csv(
                &[
                    "row",
                    "userId",
                    "displayName",
                    "userPrincipalName",
                    "outcome",
                    "detail",
                ],
                rows,
            )?;
        }
        OutputFormat::Table => {
            if !execution.results.is_empty() {
                output::write_line(results_table(&execution.results))?;
            }
        }
    }
    Ok(())
}

fn results_table(results: &[RevertResult]) -> comfy_table::Table {
    let mut table = output::table(&["Row", "User", "UPN", "Result"]);
    for r in results {
        let result = match (&r.outcome, &r.error) {
            (RevertOutcome::Reverted, _) => "reverted: internal member".to_owned(),
            (outcome, Some(error)) => format!("{outcome}: {error}"),
            (outcome, None) => outcome.to_string(),
        };
        table.add_row(vec![
            r.row.to_string(),
            r.display_name.clone().unwrap_or_else(|| r.user_id.clone()),
            r.user_principal_name.clone().unwrap_or_default(),
            result,
        ]);
    }
    table
}

/// The end-of-run lines on stderr, and the exit code.
fn summarise(
    journal: &Journal,
    run: &RevertRunRecord,
    execution: &RevertExecution,
) -> anyhow::Result<ExitCode> {
    let count = |o| execution.results.iter().filter(|r| r.outcome == o).count();
    let (reverted, failed, unverified) = (
        count(RevertOutcome::Reverted),
        count(RevertOutcome::Failed),
        count(RevertOutcome::Unverified),
    );
    let unsettled = execution.pending.len() + execution.not_reached;
    eprintln!(
        "Revert run {}: {reverted} reverted, {failed} failed, {unverified} unverified, {unsettled} not settled. Journal: {}",
        run.id,
        journal.path().display()
    );
    for result in execution
        .results
        .iter()
        .filter(|r| r.outcome != RevertOutcome::Reverted)
    {
        eprintln!(
            "Row {} ({}) {}: {}",
            result.row,
            result
                .user_principal_name
                .as_deref()
                .unwrap_or(&result.user_id),
            result.outcome,
            result.error.as_deref().unwrap_or("no detail recorded")
        );
    }
    for pending in &execution.pending {
        eprintln!("Row {} not settled: {}", pending.row, pending.reason);
    }
    if reverted > 0 {
        progress::note(
            "Each reverted cloud user has a random password nobody knows and must change it at \
             first sign-in: reset it in the Entra admin center (Users > the user > Reset password) \
             and give it to the person, or let them use self-service password reset.",
        );
    }
    if let Some(reason) = &execution.stopped {
        eprintln!("Stopped early: {reason}");
    }
    if execution.sign_in_lost {
        eprintln!(
            "Once the credential signs in again, run the same command: it reads the unsettled users back first.\n  {}",
            command_line()
        );
        return Ok(ExitCode::from(3));
    }
    if execution.interrupted {
        eprintln!("Interrupted: every step in flight finished and is recorded.");
        interrupt::print_resume();
        return Ok(interrupt::exit_code());
    }
    if unsettled > 0 {
        eprintln!(
            "{unsettled} users are not settled; nothing is sent again blindly. Run the same command again: \
             it reads them back first and plans only those still external.\n  {}",
            command_line()
        );
    }
    Ok(
        if failed + unverified + unsettled > 0 || execution.stopped.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
