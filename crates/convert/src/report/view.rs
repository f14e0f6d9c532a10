//! The report's view model: every value of the page formatted in advance from the
//! journal's records, so the template only prints (and askama escapes) them.
//!
//! The page holds one panel per run, the latest first. A panel opens with its headline
//! ("6 of 24 users converted, 2 accepted"), then the counts, the links the admin must
//! deliver, the rows not converted grouped by reason, every row, and the run's details.

use std::collections::HashMap;

use askama::Template;
use base64::Engine as _;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::data::{ReportInput, RunInput};
use super::groups::{Group, groups};
use super::rich::Rich;
use super::words;
use crate::journal::{EntryRecord, InvitationIndex, InvitationRecord, RunRecord, StepRecord};
use crate::plan::Decision;
use crate::vocabulary::{EntryOutcome, InvitationState};

/// The page's stylesheet, inlined verbatim (its hash goes into the CSP).
pub(super) const STYLE: &str = include_str!("../../templates/report.css");
/// The page's script, inlined verbatim (its hash goes into the CSP). It holds no data.
pub(super) const SCRIPT: &str = include_str!("../../templates/report.js");

/// An error message longer than this is clipped in the table (the whole opens).
const ERROR_LIMIT: usize = 140;
/// A planner note longer than this is clipped in the table.
const NOTE_LIMIT: usize = 120;

/// The template's context: every value already formatted, so the template only prints.
#[derive(Template)]
#[template(path = "report.html")]
pub(super) struct Page<'a> {
    /// Built from constants only (marked safe in the template: it holds no data).
    csp: String,
    style: &'static str,
    script: &'static str,
    generated_at: String,
    runs: Vec<RunPanel>,
    command: &'a str,
}

/// One run's part of the page.
struct RunPanel {
    /// 0 for the latest run: the panel's id and the picker's value.
    index: usize,
    picker_label: String,
    meta: RunView,
    headline: Headline,
    /// The rest of the rows, as (count, words, CSS key), zeros left out.
    others: Vec<(usize, &'static str, &'static str)>,
    charts: Vec<Chart>,
    reasons: Vec<ReasonCount>,
    blocked: Vec<Group>,
    blocked_rows: usize,
    skipped: Vec<Group>,
    skipped_rows: usize,
    links: Vec<LinkView>,
    teams_link: String,
    steps_summary: String,
    state_options: Vec<(&'static str, String)>,
    rows: Vec<RowView>,
    command: String,
}

/// The page's first line for a run.
pub(super) struct Headline {
    /// Rows in the run's input.
    pub total: usize,
    /// Rows the run converted (read back as invited).
    pub converted: usize,
    /// Of those, the users whose partner has accepted (as last read).
    pub accepted: usize,
    /// `user` or `users`, after `total`.
    pub users: &'static str,
}

struct RunView {
    id: String,
    tenant_id: String,
    status: &'static str,
    status_class: &'static str,
    input_path: String,
    input_sha256: String,
    started_at: String,
    finished_at: String,
    duration: Option<String>,
    graph_root: String,
    options: String,
}

struct Chart {
    id: &'static str,
    title: &'static str,
    caption: String,
    bars: Vec<Bar>,
}

struct Bar {
    key: &'static str,
    label: String,
    count: usize,
    percent: String,
    /// The bar's length, in hundredths of its track.
    width: String,
}

/// Rows with one reason, for the counts at the top.
struct ReasonCount {
    code: &'static str,
    title: &'static str,
    count: usize,
    skipped: bool,
}

/// An invitation sent without email whose link the admin must deliver.
struct LinkView {
    row: u64,
    display_name: Option<String>,
    external_email: Address,
    invited_at: When,
    url: String,
}

/// An address split before its last `@`, so the page can offer a line break there
/// (`<wbr>`) instead of breaking mid-word in a narrow column.
pub(super) struct Address {
    pub local: String,
    pub domain: String,
}

impl Address {
    pub(super) fn new(text: &str) -> Self {
        let at = text.rfind('@').unwrap_or(text.len());
        Address {
            local: text[..at].to_owned(),
            domain: text[at..].to_owned(),
        }
    }
}

struct RowView {
    row: u64,
    display_name: Option<String>,
    /// The UPN, or the input's reference when the user was not found.
    user: Address,
    user_found: bool,
    external_email: Address,
    decision: &'static str,
    decision_words: &'static str,
    /// The reasons, in plain words (the explanations are in the groups).
    reasons: Vec<&'static str>,
    notes: Vec<Rich>,
    /// CSS key and words of the outcome, for a row to convert.
    outcome: Option<(&'static str, &'static str)>,
    outcome_at: Option<When>,
    error: Option<Rich>,
    request_id: Option<String>,
    in_doubt: usize,
    state: StateOf,
    invite_count: u32,
    invited_at: Option<When>,
    accepted_at: Option<When>,
    /// How long the invitation has waited for the partner, in whole days.
    waiting: Option<String>,
    /// Whether the row's link is in the list of links to deliver.
    has_link: bool,
}

/// Where a row's invitation stands: a fixed token for the page's filter and CSS (never
/// what Graph returned), and the words the reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StateOf {
    pub key: &'static str,
    pub words: String,
}

/// The invitation tokens, in the order the counts and the filter list them.
pub(super) const STATE_KEYS: [&str; 7] = [
    "accepted",
    "pending",
    "unchecked",
    "deleted",
    "no-state",
    "other",
    "none",
];

/// Words for a row the journal holds no invitation for: the absence of one, not a state
/// (the user may hold one sent some other way, as an `already_invited` row does).
const NOT_INVITED: &str = "Not invited by this tool";

/// Where `invitation` stands, in the words [`InvitationState::describe`] gives it.
pub(super) fn state_of(invitation: Option<&InvitationRecord>) -> StateOf {
    let Some(invitation) = invitation else {
        return StateOf {
            key: "none",
            words: NOT_INVITED.to_owned(),
        };
    };
    let checked = invitation.checked_at.is_some();
    let key = match &invitation.state {
        Some(InvitationState::Accepted) => "accepted",
        Some(InvitationState::PendingAcceptance) if checked => "pending",
        Some(InvitationState::PendingAcceptance) => "unchecked",
        Some(InvitationState::Deleted) => "deleted",
        Some(InvitationState::Other(_)) => "other",
        None => "no-state",
    };
    StateOf {
        key,
        words: InvitationState::describe(invitation.state.as_ref(), checked).to_owned(),
    }
}

/// The words for a state token in counts and the filter: every value Graph may add
/// later counts as one "other" state (the table shows each as Graph spells it).
fn state_words(key: &str) -> String {
    let describe = |state: Option<InvitationState>, checked| {
        InvitationState::describe(state.as_ref(), checked).to_owned()
    };
    match key {
        "accepted" => describe(Some(InvitationState::Accepted), true),
        "pending" => describe(Some(InvitationState::PendingAcceptance), true),
        "unchecked" => describe(Some(InvitationState::PendingAcceptance), false),
        "deleted" => describe(Some(InvitationState::Deleted), true),
        "no-state" => describe(None, true),
        "none" => NOT_INVITED.to_owned(),
        _ => "Other state".to_owned(),
    }
}

/// The headline numbers of a run: every row, the rows converted, and of those the ones
/// accepted. "Converted" is the journal's outcome (invited and read back); a row still
/// unconfirmed is not counted, so the accepted are always among the converted.
pub(super) fn headline(entries: &[EntryRecord], invitations: &InvitationIndex) -> Headline {
    let converted: Vec<&EntryRecord> = entries
        .iter()
        .filter(|e| e.outcome == Some(EntryOutcome::Converted))
        .collect();
    let accepted = converted
        .iter()
        .filter(|e| {
            invitations
                .of(&e.plan)
                .is_some_and(|i| i.state == Some(InvitationState::Accepted))
        })
        .count();
    Headline {
        total: entries.len(),
        converted: converted.len(),
        accepted,
        users: if entries.len() == 1 { "user" } else { "users" },
    }
}

impl<'a> Page<'a> {
    pub(super) fn new(input: &'a ReportInput) -> Self {
        let invitations = InvitationIndex::new(input.invitations.clone());
        Page {
            csp: content_security_policy(),
            style: STYLE,
            script: SCRIPT,
            generated_at: when(input.generated_at),
            runs: input
                .runs
                .iter()
                .enumerate()
                .map(|(index, run)| panel(index, run, &invitations, input.generated_at))
                .collect(),
            command: &input.command,
        }
    }
}

fn panel(
    index: usize,
    input: &RunInput,
    invitations: &InvitationIndex,
    now: Timestamp,
) -> RunPanel {
    let entries = &input.entries;
    // Grouped once: runs can have tens of thousands of rows and steps.
    let mut steps_by_row: HashMap<u64, Vec<&StepRecord>> = HashMap::new();
    for step in &input.steps {
        steps_by_row.entry(step.row).or_default().push(step);
    }
    let links: Vec<LinkView> = entries
        .iter()
        .filter_map(|entry| {
            let invitation = invitations.of(&entry.plan)?;
            let url = link_to_deliver(invitation)?;
            Some(LinkView {
                row: entry.plan.row,
                display_name: entry.plan.display_name.clone(),
                external_email: Address::new(&entry.plan.external_email),
                invited_at: when_short(invitation.invited_at),
                url: url.to_owned(),
            })
        })
        .collect();
    let rows: Vec<RowView> = entries
        .iter()
        .map(|entry| {
            row_view(
                entry,
                invitations.of(&entry.plan),
                steps_by_row
                    .get(&entry.plan.row)
                    .map_or(&[][..], Vec::as_slice),
                now,
            )
        })
        .collect();
    let blocked = groups(entries, Decision::Blocked);
    let skipped = groups(entries, Decision::Skip);
    let reasons = blocked
        .iter()
        .map(|g| (g, false))
        .chain(skipped.iter().map(|g| (g, true)))
        .map(|(g, skipped)| ReasonCount {
            code: g.code.as_str(),
            title: g.title,
            count: g.rows.len(),
            skipped,
        })
        .collect();
    let count = |f: &dyn Fn(&EntryRecord) -> bool| entries.iter().filter(|e| f(e)).count();
    let headline = headline(entries, invitations);
    let others = [
        (
            count(&|e| e.plan.decision == Decision::Blocked),
            words::decision(Decision::Blocked),
            "blocked",
        ),
        (
            count(&|e| e.plan.decision == Decision::Skip),
            words::decision(Decision::Skip),
            "skip",
        ),
        (
            count(&|e| e.outcome == Some(EntryOutcome::Failed)),
            words::outcome(Some(EntryOutcome::Failed)),
            "failed",
        ),
        (
            count(&|e| e.outcome == Some(EntryOutcome::Unverified)),
            words::outcome(Some(EntryOutcome::Unverified)),
            "unverified",
        ),
        (
            count(&|e| e.is_pending()),
            words::outcome(None),
            "pending-outcome",
        ),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .collect();
    let present: Vec<&'static str> = STATE_KEYS
        .into_iter()
        .filter(|key| rows.iter().any(|r| r.state.key == *key))
        .collect();
    let run = &input.run;
    RunPanel {
        index,
        picker_label: picker_label(index, run, entries.len()),
        meta: run_view(run),
        headline,
        others,
        charts: charts(entries, &rows),
        reasons,
        blocked_rows: count(&|e| e.plan.decision == Decision::Blocked),
        blocked,
        skipped_rows: count(&|e| e.plan.decision == Decision::Skip),
        skipped,
        links,
        teams_link: teams_link(&run.tenant_id),
        steps_summary: steps_summary(&input.steps),
        state_options: present.into_iter().map(|k| (k, state_words(k))).collect(),
        rows,
        command: run.command.clone(),
    }
}

/// The link to deliver for an invitation sent without email, while it waits for the
/// partner (once accepted, or the user gone, there is nothing left to deliver).
fn link_to_deliver(invitation: &InvitationRecord) -> Option<&str> {
    invitation
        .state
        .as_ref()
        .filter(|s| s.is_pending())
        .and(invitation.redeem_url.as_deref())
}

/// Where partners open Microsoft Teams in this organisation once they have accepted.
pub(super) fn teams_link(tenant_id: &str) -> String {
    let tenant: String = url::form_urlencoded::byte_serialize(tenant_id.as_bytes()).collect();
    format!("https://teams.microsoft.com/?tenantId={tenant}")
}

fn picker_label(index: usize, run: &RunRecord, rows: usize) -> String {
    let (status, _) = words::run_status(run.status);
    let latest = if index == 0 { " (latest)" } else { "" };
    format!(
        "{} · {status} · {rows} {}{latest}",
        run.started_at.strftime("%Y-%m-%d %H:%M UTC"),
        if rows == 1 { "row" } else { "rows" }
    )
}

/// Everything is forbidden except this page's own stylesheet and script, by hash.
/// `base-uri` and `form-action` don't fall back to `default-src`, so they are named.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

pub(super) fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time in a table cell: minutes, UTC (the page says so), in two parts the page may
/// put on two lines in a narrow column.
struct When {
    date: String,
    time: String,
}

fn when_short(t: Timestamp) -> When {
    When {
        date: t.strftime("%Y-%m-%d").to_string(),
        time: t.strftime("%H:%M").to_string(),
    }
}

fn run_view(run: &RunRecord) -> RunView {
    let options = &run.options;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    RunView {
        id: run.id.clone(),
        tenant_id: run.tenant_id.clone(),
        status: words::run_status(run.status).1,
        // The CSS class is the status's own spelling: one vocabulary, no second table.
        status_class: run.status.as_str(),
        input_path: run.input_path.clone(),
        input_sha256: run.input_sha256.clone(),
        started_at: when(run.started_at),
        finished_at: run.finished_at.map_or_else(|| "—".to_owned(), when),
        duration: run
            .finished_at
            .map(|end| duration(end.as_second() - run.started_at.as_second())),
        graph_root: run.graph_root.clone(),
        options: format!(
            "admin accounts allowed: {} · sign-in sessions revoked: {} · invitation email by default: {} · default landing page: {}",
            yes_no(options.allow_privileged),
            yes_no(options.revoke_sessions),
            yes_no(options.default_send_email),
            options.default_redirect_url
        ),
    }
}

fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

fn outcome_key(outcome: Option<EntryOutcome>) -> &'static str {
    match outcome {
        Some(EntryOutcome::Converted) => "converted",
        Some(EntryOutcome::Failed) => "failed",
        Some(EntryOutcome::Unverified) => "unverified",
        None => "pending-outcome",
    }
}

fn row_view(
    entry: &EntryRecord,
    invitation: Option<&InvitationRecord>,
    steps: &[&StepRecord],
    now: Timestamp,
) -> RowView {
    let plan = &entry.plan;
    let outcome = (entry.outcome.is_some() || plan.decision == Decision::Convert)
        .then(|| (outcome_key(entry.outcome), words::outcome(entry.outcome)));
    // The request id of the latest step that failed: what Microsoft support asks for.
    let request_id = steps
        .iter()
        .filter(|s| s.result.is_some_and(|r| !r.is_done()))
        .filter_map(|s| s.outcome.request_id.clone())
        .next_back();
    let state = state_of(invitation);
    let pending = invitation.filter(|i| i.state.as_ref().is_some_and(InvitationState::is_pending));
    RowView {
        row: plan.row,
        display_name: plan.display_name.clone(),
        user: Address::new(plan.user_principal_name.as_deref().unwrap_or(&plan.user)),
        user_found: plan.user_principal_name.is_some(),
        external_email: Address::new(&plan.external_email),
        decision: plan.decision.as_str(),
        decision_words: words::decision(plan.decision),
        reasons: plan
            .reasons
            .iter()
            .map(|r| words::reason(r.code).title)
            .collect(),
        notes: plan
            .notes
            .iter()
            .map(|n| Rich::clipped(n, NOTE_LIMIT))
            .collect(),
        outcome,
        outcome_at: entry.outcome_at.map(when_short),
        error: entry
            .error
            .as_deref()
            .map(|e| Rich::clipped(e, ERROR_LIMIT)),
        request_id,
        in_doubt: steps.iter().filter(|s| s.result.is_none()).count(),
        state,
        invite_count: invitation.map_or(0, |i| i.invite_count),
        invited_at: invitation.map(|i| when_short(i.invited_at)),
        accepted_at: invitation
            .filter(|i| i.state == Some(InvitationState::Accepted))
            .and_then(|i| i.state_changed_at)
            .map(when_short),
        waiting: pending.map(|i| {
            let days = (now.as_second() - i.invited_at.as_second()).max(0) / 86_400;
            format!("waiting {days} {}", if days == 1 { "day" } else { "days" })
        }),
        has_link: invitation.and_then(link_to_deliver).is_some(),
    }
}

fn charts(entries: &[EntryRecord], rows: &[RowView]) -> Vec<Chart> {
    let count = |f: &dyn Fn(&EntryRecord) -> bool| entries.iter().filter(|e| f(e)).count();
    let decision = |d: Decision| {
        (
            d.as_str(),
            words::decision(d).to_owned(),
            count(&|e| e.plan.decision == d),
        )
    };
    let outcome = |o: Option<EntryOutcome>| {
        (
            outcome_key(o),
            words::outcome(o).to_owned(),
            count(&|e| match o {
                Some(o) => e.outcome == Some(o),
                None => e.is_pending(),
            }),
        )
    };
    let outcomes_total = count(&|e| e.outcome.is_some() || e.plan.decision == Decision::Convert);
    let states: Vec<(&'static str, String, usize)> = STATE_KEYS
        .into_iter()
        .filter(|key| *key != "none")
        .map(|key| {
            let n = rows.iter().filter(|r| r.state.key == key).count();
            (key, state_words(key), n)
        })
        // The common states always show (a zero is news); the rare ones when present.
        .filter(|(key, _, n)| *n > 0 || matches!(*key, "accepted" | "pending"))
        .collect();
    let invited_total = states.iter().map(|s| s.2).sum();

    vec![
        chart(
            "decision",
            "What the check decided",
            format!("Of {}", rows_word(entries.len(), "input row")),
            entries.len(),
            &[
                decision(Decision::Convert),
                decision(Decision::Skip),
                decision(Decision::Blocked),
            ],
        ),
        chart(
            "outcome",
            "What the run did",
            format!("Of {} to convert", rows_word(outcomes_total, "row")),
            outcomes_total,
            &[
                outcome(Some(EntryOutcome::Converted)),
                outcome(Some(EntryOutcome::Failed)),
                outcome(Some(EntryOutcome::Unverified)),
                outcome(None),
            ],
        ),
        chart(
            "state",
            "Invitations",
            format!(
                "Of {} of this run with an invitation on record, as last read",
                rows_word(invited_total, "user")
            ),
            invited_total,
            &states,
        ),
    ]
}

/// `n` and the noun, plural unless `n` is one.
fn rows_word(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// One card of counts, each with a bar drawn as its share of `total`.
fn chart(
    id: &'static str,
    title: &'static str,
    caption: String,
    total: usize,
    bars: &[(&'static str, String, usize)],
) -> Chart {
    let bars = bars
        .iter()
        .map(|(key, label, count)| {
            let share = if total == 0 {
                0.0
            } else {
                *count as f64 / total as f64
            };
            Bar {
                key,
                label: label.clone(),
                count: *count,
                percent: if total == 0 {
                    "—".to_owned()
                } else {
                    format!("{:.0}%", share * 100.0)
                },
                width: format!("{:.1}", share * 100.0),
            }
        })
        .collect();
    Chart {
        id,
        title,
        caption,
        bars,
    }
}

fn steps_summary(steps: &[StepRecord]) -> String {
    use crate::vocabulary::StepResult;
    let n = |r: Option<StepResult>| steps.iter().filter(|s| s.result == r).count();
    format!(
        "{} requests journaled: {} succeeded, {} failed, {} settled by reading the user back ({} had taken effect), {} without a recorded answer.",
        steps.len(),
        n(Some(StepResult::Ok)),
        n(Some(StepResult::Failed)),
        n(Some(StepResult::ReconciledDone)) + n(Some(StepResult::ReconciledNotDone)),
        n(Some(StepResult::ReconciledDone)),
        n(None),
    )
}
