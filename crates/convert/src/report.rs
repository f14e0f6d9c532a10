//! The HTML run report: one self-contained page an admin can open, print or mail, showing
//! what a run decided, what it did, and who has accepted their invitation since.
//!
//! The page loads nothing from the network. Its stylesheet and its small filtering script
//! are inline and allowed by hash in a `Content-Security-Policy` that forbids everything
//! else, so even a display name that slipped through unescaped could not run script or
//! fetch anything. The first line of defence is still escaping: the page is an askama
//! template, which escapes every interpolated value (`<`, `>`, `&`, `"`, `'`) in text and
//! in attributes alike; only the two constant assets are marked safe. No value from the
//! tenant or the input is ever put inside the script: it reads the table from the DOM.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use askama::Template;
use base64::Engine as _;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::journal::{EntryOutcome, EntryRecord, InvitationRecord, RunRecord, StepRecord};
use crate::plan::Decision;

/// The page's stylesheet, inlined verbatim (its hash goes into the CSP).
const STYLE: &str = include_str!("../templates/report.css");
/// The page's script, inlined verbatim (its hash goes into the CSP). It holds no data.
const SCRIPT: &str = include_str!("../templates/report.js");

/// Everything the report shows, as read from the journal by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The run reported on.
    pub run: &'a RunRecord,
    /// The run's entries, in input order.
    pub entries: &'a [EntryRecord],
    /// The run's steps (all rows).
    pub steps: &'a [StepRecord],
    /// The journal's invitations; those of this run's users are matched by user id.
    pub invitations: &'a [InvitationRecord],
    /// The exact command lines that produced the run and this report, shown verbatim.
    pub commands: &'a [String],
    /// When the report is made: the reference for pending ages.
    pub generated_at: Timestamp,
}

/// Renders the report page.
pub fn render_html(input: &ReportInput<'_>) -> String {
    Page::new(input).render().unwrap_or_else(|_| {
        // Rendering only fails if a value's `Display` fails, which none of ours do; a
        // fixed page (no data, so nothing to escape) beats a panic in a report command.
        String::from(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>b2b-convert run report</title></head><body>\
             <p>The report could not be rendered.</p></body></html>\n",
        )
    })
}

/// Renders the report and writes it to `path` atomically: the page goes to a temporary
/// file beside it, is flushed to disk, then renamed over `path`, so a crash leaves
/// either the old file or the whole new one, never half a report.
///
/// The file is created readable by its owner only (on Unix), like the journal: it lists
/// people, their addresses and what happened to their accounts.
pub fn write_html(input: &ReportInput<'_>, path: &Path) -> Result<(), io::Error> {
    let html = render_html(input);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: the report path has no file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Same directory, so the rename stays on one filesystem and is atomic.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4()
    ));
    let written = write_then_rename(&tmp, path, html.as_bytes());
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    {
        // Makes the rename itself durable. Some filesystems refuse to sync a directory;
        // the report is complete either way, so that is not worth failing the command.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn write_then_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), io::Error> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)
}

/// The browser check script (`tests/browser/report_check.py`), for end-to-end tests.
///
/// Run it as `python3 report_check.py REPORT.html EXPECTED.json` with Python's
/// `selenium` installed; [`browser_expectations`] writes the expected JSON.
#[doc(hidden)]
pub fn browser_check_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/report_check.py")
}

/// What the browser check should find in the page rendered from `input`, as the JSON
/// document [`browser_check_script`] takes: row count, rows per decision and per
/// invitation state, and the display names with markup characters, which must show as
/// visible text.
#[doc(hidden)]
pub fn browser_expectations(input: &ReportInput<'_>) -> serde_json::Value {
    let invitations = invitations_by_user(input.invitations);
    let mut decisions = serde_json::Map::new();
    for decision in [Decision::Convert, Decision::Skip, Decision::Blocked] {
        let n = input
            .entries
            .iter()
            .filter(|e| e.plan.decision == decision)
            .count();
        decisions.insert(decision.as_str().to_owned(), n.into());
    }
    let mut states = serde_json::Map::new();
    for key in ["Accepted", "PendingAcceptance", "other", "none"] {
        let n = input
            .entries
            .iter()
            .filter(|e| state_key(invitation_of(&invitations, e)) == key)
            .count();
        states.insert(key.to_owned(), n.into());
    }
    let visible_texts: Vec<&str> = input
        .entries
        .iter()
        .filter_map(|e| e.plan.display_name.as_deref())
        .filter(|name| name.contains(['<', '>', '&', '"', '\'']))
        .collect();
    serde_json::json!({
        "title_contains": "b2b-convert run report",
        "rows": input.entries.len(),
        "decisions": decisions,
        "states": states,
        "visible_texts": visible_texts,
    })
}

/// The template's context: every value already formatted, so the template only prints.
#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
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
    status: String,
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
}

impl<'a> Page<'a> {
    fn new(input: &ReportInput<'a>) -> Self {
        let invitations = invitations_by_user(input.invitations);
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
                    invitation_of(&invitations, entry),
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

fn csp_hash(text: &str) -> String {
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
    let status_class = match run.status.as_str() {
        "finished" => "finished",
        "applying" => "applying",
        "abandoned" => "abandoned",
        _ => "other",
    };
    let options = &run.options;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    RunView {
        id: run.id.clone(),
        tenant_id: run.tenant_id.clone(),
        status: run.status.clone(),
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

fn invitations_by_user(invitations: &[InvitationRecord]) -> HashMap<&str, &InvitationRecord> {
    invitations
        .iter()
        .map(|i| (i.user_id.as_str(), i))
        .collect()
}

fn invitation_of<'i>(
    invitations: &HashMap<&str, &'i InvitationRecord>,
    entry: &EntryRecord,
) -> Option<&'i InvitationRecord> {
    entry
        .plan
        .user_id
        .as_deref()
        .and_then(|id| invitations.get(id).copied())
}

/// The row's `data-state`: a fixed token, so the page's selects never depend on what
/// Graph happened to return.
fn state_key(invitation: Option<&InvitationRecord>) -> &'static str {
    match invitation.map(|i| i.state.as_deref()) {
        None => "none",
        Some(Some("Accepted")) => "Accepted",
        Some(Some("PendingAcceptance")) => "PendingAcceptance",
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
        state: invitation.map(|i| i.state.clone().unwrap_or_else(|| "unknown".to_owned())),
        state_key,
        state_class,
        invite_count: invitation.map_or(0, |i| i.invite_count),
        invited_at: invitation.map(|i| when_short(i.invited_at)),
        state_changed_at: invitation.and_then(|i| i.state_changed_at).map(when_short),
        pending_days,
    }
}

fn charts(input: &ReportInput<'_>, invitations: &HashMap<&str, &InvitationRecord>) -> Vec<Chart> {
    let entries = input.entries;
    let count = |f: &dyn Fn(&EntryRecord) -> bool| entries.iter().filter(|e| f(e)).count();
    let decision = |d: Decision| count(&|e| e.plan.decision == d);
    let outcome = |o: EntryOutcome| count(&|e| e.outcome == Some(o));
    let pending = count(&|e| e.plan.decision == Decision::Convert && e.outcome.is_none());
    let outcomes_total = count(&|e| e.outcome.is_some() || e.plan.decision == Decision::Convert);
    let state = |key: &str| count(&|e| state_key(invitation_of(invitations, e)) == key);
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
    use crate::journal::StepResult;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::journal::{Invited, Journal, NewRun, StepKind, StepOutcome, StepResult};
    use crate::plan::{
        Action, InvitationSettings, Plan, PlanEntry, PlanOptions, Reason, ReasonCode,
    };

    const XSS_NAME: &str = "<script>alert(\"x\")</script>";
    const QUOTES_NAME: &str = "Tom & \"Jerry\" O'Brien";
    const IMG_NAME: &str = "\"><img src=x onerror=\"window.__xss=1\">";

    /// A run read back from a journal, owning what [`ReportInput`] borrows.
    struct Fixture {
        _dir: tempfile::TempDir,
        run: RunRecord,
        entries: Vec<EntryRecord>,
        steps: Vec<StepRecord>,
        invitations: Vec<InvitationRecord>,
        commands: Vec<String>,
    }

    impl Fixture {
        fn input(&self) -> ReportInput<'_> {
            ReportInput {
                run: &self.run,
                entries: &self.entries,
                steps: &self.steps,
                invitations: &self.invitations,
                commands: &self.commands,
                generated_at: "2026-11-24T13:00:00Z".parse().unwrap(),
            }
        }
    }

    fn entry(row: u64, name: Option<&str>, decision: Decision, reasons: Vec<Reason>) -> PlanEntry {
        PlanEntry {
            row,
            user: format!("user{row}@contoso.com"),
            user_id: name.map(|_| format!("id-{row}")),
            display_name: name.map(str::to_owned),
            user_principal_name: name.map(|_| format!("user{row}@contoso.com")),
            external_email: format!("user{row}@fabrikam.com"),
            decision,
            reasons,
            notes: vec![],
            actions: if decision == Decision::Convert {
                vec![
                    Action::Invite {
                        settings: InvitationSettings {
                            redirect_url: "https://myapps.microsoft.com/?tenantid=t".into(),
                            send_email: true,
                            message: None,
                            cc: None,
                            language: None,
                        },
                    },
                    Action::Verify,
                ]
            } else {
                vec![]
            },
        }
    }

    fn reason(code: ReasonCode, message: &str) -> Reason {
        Reason {
            code,
            message: message.to_owned(),
        }
    }

    /// A journal with every decision, every outcome, both invitation states, a step
    /// without an answer, and names and messages full of markup.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-20T09:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock.clone()).unwrap();
        let mut not_found = entry(
            9,
            None,
            Decision::Blocked,
            vec![reason(
                ReasonCode::NotFound,
                "No user matches 'ghost@contoso.com'",
            )],
        );
        not_found.user = "ghost@contoso.com".into();
        not_found.notes = vec!["See https://evil.example/x.js for details".into()];
        let plan = Plan {
            entries: vec![
                entry(2, Some(XSS_NAME), Decision::Convert, vec![]),
                entry(3, Some(QUOTES_NAME), Decision::Convert, vec![]),
                entry(4, Some(IMG_NAME), Decision::Convert, vec![]),
                entry(5, Some("Ünïcødé Ωmega"), Decision::Convert, vec![]),
                entry(6, Some("Still Running"), Decision::Convert, vec![]),
                entry(
                    7,
                    Some("Already Invited"),
                    Decision::Skip,
                    vec![reason(
                        ReasonCode::AlreadyInvited,
                        "The user already has a pending invitation",
                    )],
                ),
                entry(
                    8,
                    Some("Mailbox Owner"),
                    Decision::Blocked,
                    vec![
                        reason(ReasonCode::HasMailbox, "The user has an Exchange mailbox"),
                        reason(
                            ReasonCode::EmailInUse,
                            "'<script>window.__xss=2</script>' already holds the address",
                        ),
                    ],
                ),
                not_found,
            ],
        };
        let options = PlanOptions::new("t");
        let run = journal
            .start_run(
                &NewRun {
                    input_path: "users \"Q4\" <final>.csv",
                    input_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    tenant_id: "00000000-0000-4000-8000-00000000000t",
                    graph_root: "http://127.0.0.1:8443/v1.0/",
                    command: "b2b-convert apply --input 'users \"Q4\" <final>.csv' --yes",
                    options: &options,
                },
                &plan,
            )
            .unwrap();
        let invite = |row: usize, result: StepResult, outcome: StepOutcome| {
            let e = &plan.entries[row];
            let user_id = e.user_id.as_deref().unwrap();
            let step = journal
                .record_intent(
                    &run.id,
                    e.row,
                    user_id,
                    StepKind::Invite,
                    &serde_json::json!({"invitedUserEmailAddress": e.external_email}),
                )
                .unwrap();
            let invited = Invited {
                run_id: &run.id,
                entry: e,
                user_id,
                redeem_url: None,
            };
            journal
                .record_outcome(step, result, &outcome, result.is_done().then_some(&invited))
                .unwrap();
        };
        let ok = || StepOutcome {
            http_status: Some(201),
            request_id: Some("req-ok".into()),
            ..Default::default()
        };
        invite(0, StepResult::Ok, ok());
        invite(1, StepResult::Ok, ok());
        invite(
            2,
            StepResult::Failed,
            StepOutcome {
                http_status: Some(400),
                error_code: Some("Request_BadRequest".into()),
                error_message: Some("Invalid value '<b>x</b>'".into()),
                request_id: Some("req-<failed>".into()),
                detail: None,
            },
        );
        invite(3, StepResult::Ok, ok());
        // Row 6: the request went out and no answer was recorded (a crash, say).
        journal
            .record_intent(&run.id, 6, "id-6", StepKind::Invite, &serde_json::json!({}))
            .unwrap();

        clock.set("2026-11-20T09:04:10Z".parse().unwrap());
        journal
            .finish_entry(&run.id, 2, EntryOutcome::Converted, None)
            .unwrap();
        journal
            .finish_entry(&run.id, 3, EntryOutcome::Converted, None)
            .unwrap();
        journal
            .finish_entry(
                &run.id,
                4,
                EntryOutcome::Failed,
                Some("invite: 400 Request_BadRequest: Invalid value '<b>x</b>' for property \"mail\""),
            )
            .unwrap();
        journal
            .finish_entry(&run.id, 5, EntryOutcome::Unverified, None)
            .unwrap();
        journal.finish_run(&run.id).unwrap();
        journal
            .record_state(
                "id-3",
                Some("Accepted"),
                Some("2026-11-22T15:30:00Z".parse().unwrap()),
            )
            .unwrap();

        let run = journal.latest_run().unwrap().unwrap();
        Fixture {
            entries: journal.entries(&run.id).unwrap(),
            steps: journal.steps(&run.id, None).unwrap(),
            invitations: journal.invitations().unwrap(),
            commands: vec![
                run.command.clone(),
                "b2b-convert report --journal run.db --html 'out&report.html'".to_owned(),
            ],
            run,
            _dir: dir,
        }
    }

    /// The tags in `html`, as (name, attribute text), skipping the inline script and
    /// stylesheet bodies. Every literal `<` outside those is markup, because data is
    /// escaped: so this is the page's whole tag vocabulary.
    fn tags(html: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after.find('>').expect("unclosed tag");
            let tag = &after[..end];
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            let attrs = tag[name.len().min(tag.len())..].to_owned();
            rest = &after[end + 1..];
            for raw in ["script", "style"] {
                if name == raw {
                    let close = format!("</{raw}>");
                    let body_end = rest.find(&close).expect("unclosed raw text element");
                    rest = &rest[body_end..];
                }
            }
            out.push((name, attrs));
        }
        out
    }

    #[test]
    fn every_value_is_escaped() {
        let f = fixture();
        let html = render_html(&f.input());

        assert!(html.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"));
        assert!(html.contains("Tom &#38; &#34;Jerry&#34; O&#39;Brien"));
        assert!(html.contains("&#34;&#62;&#60;img src=x onerror=&#34;window.__xss=1&#34;&#62;"));
        assert!(
            html.contains(
                "&#39;&#60;script&#62;window.__xss=2&#60;/script&#62;&#39; already holds"
            )
        );
        assert!(html.contains("users &#34;Q4&#34; &#60;final&#62;.csv"));
        assert!(html.contains(
            "Invalid value &#39;&#60;b&#62;x&#60;/b&#62;&#39; for property &#34;mail&#34;"
        ));
        assert!(html.contains("request-id req-&#60;failed&#62;"));
        assert!(html.contains("--html &#39;out&#38;report.html&#39;"));
        assert!(html.contains("Ünïcødé Ωmega"));

        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("__xss=1\">"));

        let tags = tags(&html);
        let allowed = [
            "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "h1",
            "h2", "h3", "p", "span", "dl", "dt", "dd", "section", "div", "figure", "svg", "text",
            "rect", "table", "caption", "thead", "tbody", "tr", "th", "td", "label", "input",
            "select", "option", "ul", "li", "code", "pre", "footer", "script", "wbr",
        ];
        for (name, attrs) in &tags {
            let bare = name.trim_start_matches('/');
            assert!(allowed.contains(&bare), "unexpected tag <{name}{attrs}>");
            let lower = attrs.to_ascii_lowercase();
            for bad in [
                " on",
                " src=",
                " href=",
                "xlink:",
                " action=",
                " formaction=",
                " srcset=",
            ] {
                assert!(!lower.contains(bad), "<{name}{attrs}> has {bad}");
            }
        }
        assert_eq!(tags.iter().filter(|(n, _)| n == "script").count(), 1);
        assert_eq!(tags.iter().filter(|(n, _)| n == "style").count(), 1);
    }

    #[test]
    fn nothing_is_loaded_from_outside() {
        let f = fixture();
        let html = render_html(&f.input());
        for asset in [STYLE, SCRIPT] {
            for bad in [
                "url(",
                "@import",
                "http:",
                "https:",
                "fetch(",
                "XMLHttpRequest",
                "innerHTML",
            ] {
                assert!(!asset.contains(bad), "inline asset contains {bad}");
            }
            // A `<` would let the asset end its own element early.
            assert!(!asset.contains('<'));
        }
        // Links found in data stay text: they appear, escaped, but never as attributes.
        assert!(html.contains("See https://evil.example/x.js for details"));
        assert!(html.contains("http://127.0.0.1:8443/v1.0/"));
        for (name, attrs) in tags(&html) {
            for bad in ["http:", "https:", "//", "data:"] {
                assert!(!attrs.contains(bad), "<{name}{attrs}> refers outside");
            }
        }

        let csp = html
            .split("http-equiv=\"Content-Security-Policy\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("CSP meta");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        let body = |open: &str, close: &str| {
            let start = html.find(open).unwrap() + open.len();
            let end = start + html[start..].find(close).unwrap();
            html[start..end].to_owned()
        };
        assert!(csp.contains(&format!(
            "script-src '{}'",
            csp_hash(&body("<script>", "</script>"))
        )));
        assert!(csp.contains(&format!(
            "style-src '{}'",
            csp_hash(&body("<style>", "</style>"))
        )));
    }

    #[test]
    fn header_counts_and_rows_are_shown() {
        let f = fixture();
        let html = render_html(&f.input());
        assert!(html.contains("00000000-0000-4000-8000-00000000000t"));
        assert!(html.contains(&f.run.id));
        assert!(html.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        assert!(html.contains("2026-11-20 09:00:00 UTC"));
        assert!(html.contains("2026-11-20 09:04:10 UTC"));
        assert!(html.contains("<span class=\"badge b-finished\">finished</span>"));

        for (key, n) in [
            ("convert", 5),
            ("skip", 1),
            ("blocked", 2),
            ("converted", 2),
            ("failed", 1),
            ("unverified", 1),
            ("pending-outcome", 1),
            ("accepted", 1),
            ("pendingacceptance", 2),
        ] {
            let cell = format!("data-count=\"{key}\">{n}</td>");
            assert!(html.contains(&cell), "missing {cell}");
        }
        assert_eq!(html.matches("<svg class=\"bars\"").count(), 3);
        assert!(html.contains("5 steps journaled: 3 ok, 1 failed, 0 reconciled as done, 0 reconciled as not done, 1 without a recorded answer."));

        assert_eq!(html.matches("<tr data-row=").count(), 8);
        assert!(html.contains("data-row=\"3\" data-decision=\"convert\" data-state=\"Accepted\""));
        assert!(
            html.contains(
                "data-row=\"2\" data-decision=\"convert\" data-state=\"PendingAcceptance\""
            )
        );
        assert!(html.contains("data-row=\"7\" data-decision=\"skip\" data-state=\"none\""));
        assert!(html.contains("data-row=\"9\" data-decision=\"blocked\" data-state=\"none\""));
        // Invited 2026-11-20 09:00, reported 2026-11-24 13:00: four whole days pending.
        assert_eq!(
            html.matches("<td class=\"num\">4</td>").count(),
            3,
            "row 4 and two pending ages"
        );
        assert!(html.contains(
            "<td class=\"when\"><span class=\"nw\">2026-11-22</span> <span class=\"nw\">15:30</span></td>"
        ));
        assert!(html.contains("<code>has_mailbox</code> The user has an Exchange mailbox"));
        assert!(html.contains("1 step(s) without a recorded answer"));
        assert!(
            html.contains(">ghost<wbr>@contoso.com</span>"),
            "the input reference stands in for a missing UPN"
        );

        assert!(html.contains("<input id=\"filter\""));
        assert!(html.contains("<select id=\"decision\">"));
        assert!(html.contains("<select id=\"state\">"));
        for command in &f.commands {
            assert!(html.contains(&format!("<pre><code>{}</code></pre>", escape(command))));
        }
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    }

    #[test]
    fn main_tags_are_balanced() {
        let f = fixture();
        let html = render_html(&f.input());
        let tags = tags(&html);
        for name in [
            "html", "head", "body", "main", "header", "section", "table", "thead", "tbody", "tr",
            "td", "th", "svg", "figure", "ul", "li", "pre", "select", "div", "span", "dl",
            "script", "style", "title", "text", "rect",
        ] {
            let open = tags.iter().filter(|(n, _)| n == name).count();
            let close = tags
                .iter()
                .filter(|(n, _)| *n == format!("/{name}"))
                .count();
            assert_eq!(
                open, close,
                "<{name}> opened {open} times, closed {close} times"
            );
            assert!(open > 0, "no <{name}>");
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn write_is_atomic_and_leaves_no_temporary_file() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        fs::write(&path, "old").unwrap();
        write_html(&f.input(), &path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), render_html(&f.input()));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.html")]);

        let missing = dir.path().join("no-such-dir").join("report.html");
        assert!(write_html(&f.input(), &missing).is_err());
        assert!(write_html(&f.input(), Path::new("/")).is_err());
    }

    #[test]
    fn expectations_match_the_fixture() {
        let f = fixture();
        let expected = browser_expectations(&f.input());
        assert_eq!(expected["rows"], 8);
        assert_eq!(expected["decisions"]["convert"], 5);
        assert_eq!(expected["states"]["PendingAcceptance"], 2);
        assert_eq!(expected["states"]["none"], 5);
        let texts = expected["visible_texts"].as_array().unwrap();
        assert!(texts.contains(&serde_json::json!(XSS_NAME)));
        assert!(browser_check_script().is_file());
    }

    /// Writes `/tmp/sample-report.html` and `/tmp/sample-report.json` (or to the
    /// directory in `REPORT_SAMPLE_DIR`) for the browser check and a screenshot.
    #[test]
    #[ignore = "writes a sample report for manual and browser checks"]
    fn write_sample_report() {
        let f = fixture();
        let dir = std::env::var_os("REPORT_SAMPLE_DIR")
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        write_html(&f.input(), &dir.join("sample-report.html")).unwrap();
        fs::write(
            dir.join("sample-report.json"),
            serde_json::to_string_pretty(&browser_expectations(&f.input())).unwrap(),
        )
        .unwrap();
    }
}
