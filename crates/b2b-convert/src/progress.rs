//! The two long waits of a run, with a progress bar on stderr: reading the tenant to
//! plan, and converting users. `plan`, `apply` and `demo` all show them alike. While
//! Graph holds the tool back (a 429's Retry-After) or a round of retries is due, the
//! bar says so, so a wait is never silent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use b2b_convert_core::executor::{self, ExecEvent, Execution, ExecutorOptions};
use b2b_convert_core::facts::{self, Strategy};
use b2b_convert_core::input::Input;
use b2b_convert_core::journal::{Journal, RunRecord};
use b2b_convert_core::plan::{Plan, PlanOptions};
use b2b_convert_core::selection::{self, EmailRule, Selection, Source};
use b2b_graph::GraphClient;
use indicatif::{ProgressBar, ProgressStyle};

use crate::connection::Connection;

/// `-q`: no bars and no notes, for scripts and cron jobs that keep only results and errors.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Turns the bars and notes off (`-q`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// A note for the person at the terminal (stderr); `-q` silences it.
pub fn note(text: impl std::fmt::Display) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{text}");
    }
}

fn bar(total: u64, template: &str) -> ProgressBar {
    if QUIET.load(Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// Keeps the bar's message on Graph's throttling until the returned task is aborted.
fn watch_throttling(client: &GraphClient, bar: &ProgressBar) -> tokio::task::JoinHandle<()> {
    let (client, bar) = (client.clone(), bar.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            match client.throttle_wait() {
                Some(wait) => bar.set_message(format!(
                    "throttled by Graph ({}), resuming in {} s",
                    wait.scope,
                    wait.remaining.as_secs() + 1
                )),
                None => bar.set_message(""),
            }
        }
    })
}

/// Says how many requests of a phase met a passing Graph fault and were tried again
/// (each is logged with -v): at default verbosity a retry that worked is no warning, but
/// an admin should still know the weather the run went through.
fn note_weathered(client: &GraphClient, before: u64, phase: &str) {
    let retried = client.stats().retried.saturating_sub(before);
    if retried > 0 {
        note(format!(
            "{phase}: {retried} {} met a passing Graph fault (HTTP 5xx, a dropped connection \
             or a timeout) and {} tried again; -v lists each.",
            if retried == 1 { "request" } else { "requests" },
            if retried == 1 { "was" } else { "were" },
        ));
    }
}

/// Reads the users a selection names, with a spinner counting them.
pub async fn select(
    connection: &Connection,
    source: &Source,
    rule: &EmailRule,
) -> anyhow::Result<Selection> {
    let bar = bar(0, "{spinner} reading the selection: {pos} users {msg}");
    let watch = watch_throttling(&connection.client, &bar);
    let before = connection.client.stats().retried;
    let selection = selection::select(&connection.client, source, rule, &|n| {
        bar.set_position(n as u64)
    })
    .await;
    watch.abort();
    bar.finish_and_clear();
    note_weathered(&connection.client, before, "Reading the selection");
    Ok(selection?)
}

/// Reads the tenant and plans every row of `input`.
pub async fn plan(
    connection: &Connection,
    input: &Input,
    options: &PlanOptions,
    strategy: Strategy,
    concurrency: u16,
) -> anyhow::Result<Plan> {
    let bar = bar(
        0,
        "{spinner} reading the tenant {pos}/{len} {wide_bar} {msg}",
    );
    let watch = watch_throttling(&connection.client, &bar);
    let before = connection.client.stats().retried;
    let plan = facts::plan_rows(
        &connection.client,
        &input.rows,
        options,
        strategy,
        usize::from(concurrency),
        &|p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        },
    )
    .await;
    watch.abort();
    bar.finish_and_clear();
    note_weathered(&connection.client, before, "Reading the tenant");
    let stats = connection.client.stats();
    tracing::info!(
        "planning used {} Graph requests ({} throttled), {} resource units",
        stats.requests,
        stats.throttled,
        stats.resource_units
    );
    plan.context("planning stopped: the tenant could not be read")
}

/// Carries out (or resumes) `run`.
pub async fn execute(
    connection: &Connection,
    journal: &Journal,
    run: &RunRecord,
    options: &ExecutorOptions,
) -> anyhow::Result<Execution> {
    let total = journal.pending_entries(&run.id)?.len();
    let bar = bar(
        total as u64,
        "{spinner} converting {pos}/{len} {wide_bar} {eta} {msg}",
    );
    let watch = watch_throttling(&connection.client, &bar);
    let on_event = |event: ExecEvent| match event {
        ExecEvent::Finished(_) => bar.inc(1),
        ExecEvent::Retrying {
            round,
            pending,
            delay,
        } => bar.println(format!(
            "{pending} users still pending after passing Graph faults; round {round} in {} s",
            delay.as_secs()
        )),
    };
    let before = connection.client.stats().retried;
    let execution = executor::execute(&connection.client, journal, run, options, &on_event).await;
    watch.abort();
    bar.finish_and_clear();
    note_weathered(&connection.client, before, "Converting");
    Ok(execution?)
}
