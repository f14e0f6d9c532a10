//! The report's view model: every value of the page formatted in advance from the
//! journal's records, so the template only prints (and askama escapes) them.

use std::collections::HashMap;

use askama::Template;
use base64::Engine as _;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::ReportInput;
use crate::journal::{EntryRecord, InvitationIndex, InvitationRecord, RunRecord, StepRecord};
use crate::plan::Decision;
use crate::vocabulary::{EntryOutcome, InvitationState, RunStatus};

/// The page's stylesheet, inlined verbatim (its hash goes into the CSP).
pub(super) const STYLE: &str = include_str!("../../templates/report.css");
/// The page's script, inlined verbatim (its hash goes into the CSP). It holds no data.
pub(super) const SCRIPT: &str = include_str!("../../templates/report.js");

/// The template's context: every value already formatted, so the template only prints.
#[derive(Template)]
#[template(path = "report.html")]
pub(super) struct Page<'a> {
    /// Built from constants only (marked safe in the template: it holds no data).
    csp: String,
    style: &'static str,
    script: &'static str,
    run: RunView,
    generated_at: String,
    charts: Vec<Chart>,
    steps_summary: String,
    rows: Vec<RowView>,
    commands: &'a [String],
}

struct RunView {
    id: String,
    tenant_id: String,
    status: RunStatus,
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
    summary: String,
    width: u32,
    height: u32,
    bar_x: u32,
    bar_span: u32,
    bar_h: u32,
    count_x: u32,
    bars: Vec<Bar>,
}

struct Bar {
    key: &'static str,
    label: &'static str,
    count: usize,
    percent: String,
    y: u32,
    text_y: u32,
    width: String,
}

/// An address split before its last `@`, so the page can offer a line break there
/// (`<wbr>`) instead of breaking mid-word in a narrow column.
struct Address {
    local: String,
    domain: String,
}

impl Address {
    fn new(text: &str) -> Self {
        let at = text.rfind('@').unwrap_or(text.len());
        Address {
            local: text[..at].to_owned(),
            domain: text[at..].to_owned(),
        }
    }
}

struct ReasonView {
    code: &'static str,
    message: String,
}

struct RowView {
    row: u64,
    display_name: Option<String>,
    upn: Option<Address>,
    user_ref: Address,
    external_email: Address,
    decision: &'static str,
    reasons: Vec<ReasonView>,
    notes: Vec<String>,
    /// CSS key of the outcome badge; `pending-outcome` for a convert row not yet ended.
    outcome: Option<&'static str>,
    outcome_label: &'static str,
    outcome_at: Option<When>,
    error: Option<String>,
    request_id: Option<String>,
    in_doubt: usize,
    state: Option<String>,
    state_key: &'static str,
    state_class: &'static str,
    invite_count: u32,
    invited_at: Option<When>,
    state_changed_at: Option<When>,
    pending_days: String,
    /// The link the admin must deliver, for an invitation sent without email that is
    /// still pending.
    redeem_url: Option<String>,
}

impl<'a> Page<'a> {
    pub(super) fn new(input: &ReportInput<'a>) -> Self {
        let invitations = InvitationIndex::new(input.invitations.to_vec());
        // Grouped once: runs can have tens of thousands of rows and steps.
        let mut steps_by_row: HashMap<u64, Vec<&StepRecord>> = HashMap::new();
        for step in input.steps {
            steps_by_row.entry(step.row).or_default().push(step);
        }
        let rows = input
            .entries
            .iter()
            .map(|entry| {
                row_view(
                    entry,
                    invitations.of(&entry.plan),
                    steps_by_row
                        .get(&entry.plan.row)
                        .map_or(&[][..], Vec::as_slice),
                    input.generated_at,
                )
            })
            .collect();
        Page {
            csp: content_security_policy(),
            style: STYLE,
            script: SCRIPT,
            run: run_view(input.run),
            generated_at: when(input.generated_at),
            charts: charts(input, &invitations),
            steps_summary: steps_summary(input.steps),
            rows,
            commands: input.commands,
        }
    }
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

/// A time in a table cell: minutes, UTC (the table says so), in two parts the page may
/// put on two lines, so three time columns still fit a laptop screen.
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
    // The CSS class is the status's own spelling: one vocabulary, no second table.
    let status_class = run.status.as_str();
    let options = &run.options;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    RunView {
        id: run.id.clone(),
        tenant_id: run.tenant_id.clone(),
        status: run.status,
        status_class,
        input_path: run.input_path.clone(),
        input_sha256: run.input_sha256.clone(),
        started_at: when(run.started_at),
        finished_at: run.finished_at.map_or_else(|| "—".to_owned(), when),
        duration: run
            .finished_at
            .map(|end| duration(end.as_second() - run.started_at.as_second())),
        graph_root: run.graph_root.clone(),
        options: format!(
            "privileged users allowed: {} · revoke sessions: {} · invitation email by default: {} · default redirect: {}",
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

/// The row's `data-state`: a fixed token, so the page's selects never depend on what
/// Graph happened to return.
pub(super) fn state_key(invitation: Option<&InvitationRecord>) -> &'static str {
    match invitation.map(|i| i.state.as_ref()) {
        None => "none",
        Some(Some(InvitationState::Accepted)) => "Accepted",
        Some(Some(InvitationState::PendingAcceptance)) => "PendingAcceptance",
        Some(_) => "other",
    }
}

fn row_view(
    entry: &EntryRecord,
    invitation: Option<&InvitationRecord>,
    steps: &[&StepRecord],
    now: Timestamp,
) -> RowView {
    let plan = &entry.plan;
    let (outcome, outcome_label) = match entry.outcome {
        Some(EntryOutcome::Converted) => (Some("converted"), "converted"),
        Some(EntryOutcome::Failed) => (Some("failed"), "failed"),
        Some(EntryOutcome::Unverified) => (Some("unverified"), "unverified"),
        None if plan.decision == Decision::Convert => (Some("pending-outcome"), "pending"),
        None => (None, ""),
    };
    // The request id of the latest step that failed: what Microsoft support asks for.
    let request_id = steps
        .iter()
        .filter(|s| s.result.is_some_and(|r| !r.is_done()))
        .filter_map(|s| s.outcome.request_id.clone())
        .next_back();
    let state_key = state_key(invitation);
    let state_class = match state_key {
        "Accepted" => "accepted",
        "PendingAcceptance" => "pendingacceptance",
        "none" => "none",
        _ => "other",
    };
    let pending_days = match invitation {
        Some(i) if state_key == "PendingAcceptance" => {
            ((now.as_second() - i.invited_at.as_second()).max(0) / 86_400).to_string()
        }
        _ => String::new(),
    };
    RowView {
        row: plan.row,
        display_name: plan.display_name.clone(),
        upn: plan.user_principal_name.as_deref().map(Address::new),
        user_ref: Address::new(&plan.user),
        external_email: Address::new(&plan.external_email),
        decision: plan.decision.as_str(),
        reasons: plan
            .reasons
            .iter()
            .map(|r| ReasonView {
                code: r.code.as_str(),
                message: r.message.clone(),
            })
            .collect(),
        notes: plan.notes.clone(),
        outcome,
        outcome_label,
        outcome_at: entry.outcome_at.map(when_short),
        error: entry.error.clone(),
        request_id,
        in_doubt: steps.iter().filter(|s| s.result.is_none()).count(),
        state: invitation.map(|i| {
            i.state
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), ToString::to_string)
        }),
        state_key,
        state_class,
        invite_count: invitation.map_or(0, |i| i.invite_count),
        invited_at: invitation.map(|i| when_short(i.invited_at)),
        state_changed_at: invitation.and_then(|i| i.state_changed_at).map(when_short),
        pending_days,
        redeem_url: invitation
            .filter(|i| i.state.as_ref().is_some_and(InvitationState::is_pending))
            .and_then(|i| i.redeem_url.clone()),
    }
}

fn charts(input: &ReportInput<'_>, invitations: &InvitationIndex) -> Vec<Chart> {
    let entries = input.entries;
    let count = |f: &dyn Fn(&EntryRecord) -> bool| entries.iter().filter(|e| f(e)).count();
    let decision = |d: Decision| count(&|e| e.plan.decision == d);
    let outcome = |o: EntryOutcome| count(&|e| e.outcome == Some(o));
    let pending = count(&|e| e.plan.decision == Decision::Convert && e.outcome.is_none());
    let outcomes_total = count(&|e| e.outcome.is_some() || e.plan.decision == Decision::Convert);
    let state = |key: &str| count(&|e| state_key(invitations.of(&e.plan)) == key);
    let other_states = state("other");

    let mut invitation_bars = vec![
        ("accepted", "Accepted", state("Accepted")),
        (
            "pendingacceptance",
            "PendingAcceptance",
            state("PendingAcceptance"),
        ),
    ];
    if other_states > 0 {
        invitation_bars.push(("other", "other state", other_states));
    }
    let invited_total = invitation_bars.iter().map(|b| b.2).sum();

    vec![
        chart(
            "decisions",
            "Decisions",
            format!("Of {} input rows", entries.len()),
            entries.len(),
            &[
                ("convert", "convert", decision(Decision::Convert)),
                ("skip", "skip", decision(Decision::Skip)),
                ("blocked", "blocked", decision(Decision::Blocked)),
            ],
        ),
        chart(
            "outcomes",
            "Outcomes",
            format!("Of {outcomes_total} rows to convert"),
            outcomes_total,
            &[
                ("converted", "converted", outcome(EntryOutcome::Converted)),
                ("failed", "failed", outcome(EntryOutcome::Failed)),
                (
                    "unverified",
                    "unverified",
                    outcome(EntryOutcome::Unverified),
                ),
                ("pending-outcome", "pending", pending),
            ],
        ),
        chart(
            "invitations",
            "Invitations",
            format!("Of {invited_total} users of this run with an invitation on record"),
            invited_total,
            &invitation_bars,
        ),
    ]
}

/// Lays out one horizontal bar chart; bars are drawn as shares of `total`.
fn chart(
    id: &'static str,
    title: &'static str,
    caption: String,
    total: usize,
    bars: &[(&'static str, &'static str, usize)],
) -> Chart {
    const PITCH: u32 = 28;
    const BAR_H: u32 = 18;
    const BAR_X: u32 = 130;
    const SPAN: u32 = 230;
    let summary = format!(
        "{title}: {}",
        bars.iter()
            .map(|(_, label, n)| format!("{label} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut y = 4;
    let bars = bars
        .iter()
        .map(|&(key, label, count)| {
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            let bar = Bar {
                key,
                label,
                count,
                percent: if total == 0 {
                    "—".to_owned()
                } else {
                    format!("{:.0}%", share * 100.0)
                },
                y,
                text_y: y + 13,
                width: format!("{:.1}", share * f64::from(SPAN)),
            };
            y += PITCH;
            bar
        })
        .collect();
    Chart {
        id,
        title,
        caption,
        summary,
        width: BAR_X + SPAN + 50,
        height: y,
        bar_x: BAR_X,
        bar_span: SPAN,
        bar_h: BAR_H,
        count_x: BAR_X + SPAN + 8,
        bars,
    }
}

fn steps_summary(steps: &[StepRecord]) -> String {
    use crate::vocabulary::StepResult;
    let n = |r: Option<StepResult>| steps.iter().filter(|s| s.result == r).count();
    format!(
        "{} steps journaled: {} ok, {} failed, {} reconciled as done, {} reconciled as not done, {} without a recorded answer.",
        steps.len(),
        n(Some(StepResult::Ok)),
        n(Some(StepResult::Failed)),
        n(Some(StepResult::ReconciledDone)),
        n(Some(StepResult::ReconciledNotDone)),
        n(None),
    )
}
