//! The executor: carries out a journaled run's `convert` rows through Graph, one step at a
//! time, each step journaled as an intent before its request and an outcome after it.
//!
//! Resuming is the same code path as starting: for every entry without an outcome it
//! looks at the entry's journaled steps. A step already done is not repeated. A step with
//! an intent but no outcome (the process died between sending and recording) is settled
//! by reading the user back — is `mail` the external address, is `externalUserState`
//! set — and only redone when it had not taken effect.
//!
//! Graph's faults are weather, not failure. The client retries what is safe to repeat.
//! A write whose outcome is unknown (a server error, or the connection lost after
//! sending) is left open in the journal exactly like a crash and settled at once by the
//! same read-back; it is sent again only when the read proves it did not happen. A row
//! that still cannot be settled stays pending (never `failed`), and the executor comes
//! back to it in a later round of the same run, after a pause. Only a refusal that
//! will not change by itself (a bad request, a missing user, a changed UPN) fails a row.
//!
//! Safety stops: a 401/403 from `POST /invitations` (missing rights, or Microsoft's
//! anti-abuse block "Invitations are blocked for this directory due to suspicious
//! activity", which does not lift by itself), or a `Retry-After` longer than the run
//! allows, stops every further step of the run; an interrupt (the caller's
//! [`ExecutorOptions::cancel`]) does the same. Steps in flight finish and are recorded;
//! the entries not reached stay unfinished so a later `apply` resumes them.

use std::collections::BTreeMap;
use std::time::Duration;

use b2b_graph::model::{
    EmailAddress, Invitation, InvitationRequest, InvitedUserMessageInfo, PasswordProfile,
    Recipient, UserUpdate,
};
use b2b_graph::{GraphClient, GraphError};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::email;
use crate::journal::{
    EntryOutcome, Invited, Journal, JournalError, RunRecord, StepKind, StepOutcome, StepRecord,
    StepResult,
};
use crate::password::random_password;
use crate::plan::{Action, InvitationSettings, PlanEntry};
use crate::stop::RunStop;
use crate::vocabulary::InvitationState;

/// A point in a step where a kill test can stop the process (the `testkit` feature;
/// without it the executor never stops at one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltPoint {
    /// The intent is written; the request is not sent.
    AfterIntent,
    /// The request got its answer; the outcome is not written.
    AfterResponse,
    /// The outcome is written.
    AfterOutcome,
}

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Users worked on at once (requests are paced by the client in any case).
    pub concurrency: usize,
    /// Read-backs before an invited user whose state is not yet visible is `unverified`
    /// (Graph is eventually consistent).
    pub verify_attempts: u32,
    /// Pause between read-backs.
    pub verify_delay: Duration,
    /// Rounds over the rows that passing faults left pending, before this run gives
    /// up on them (they stay pending: the next `apply` resumes them).
    pub max_rounds: u32,
    /// Pause before the second round; it doubles each round, up to 30 s.
    pub round_delay: Duration,
    /// Sends of a one-way step within one round, when each read-back proves the
    /// previous one did not take effect.
    pub step_attempts: u32,
    /// Cancelled by the caller to stop (Ctrl-C): no new step starts; steps in flight
    /// finish and are recorded.
    pub cancel: CancellationToken,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            verify_attempts: 4,
            verify_delay: Duration::from_secs(2),
            max_rounds: 6,
            round_delay: Duration::from_secs(2),
            step_attempts: 3,
            cancel: CancellationToken::new(),
        }
    }
}

/// The result of one converted row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryResult {
    /// The input line.
    pub row: u64,
    /// The user.
    pub user_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// The external address.
    pub external_email: String,
    /// How it ended.
    pub outcome: EntryOutcome,
    /// The redeem URL, for invitations sent without email (deliver it yourself).
    pub redeem_url: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A row this execution could not settle, and the last reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRow {
    /// The input line.
    pub row: u64,
    /// The last passing fault, or why the row was not reached.
    pub reason: String,
}

/// What a run of the executor did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// One result per entry settled in this execution.
    pub results: Vec<EntryResult>,
    /// Entries left unsettled (a stop, an interrupt, or faults that outlasted every
    /// round): a later `apply` resumes them.
    pub unfinished: usize,
    /// The unsettled rows that were tried, with their last passing fault.
    pub pending: Vec<PendingRow>,
    /// Why the run stopped early, when it did.
    pub stopped: Option<String>,
    /// Whether it stopped because the credential stopped signing in (an access token
    /// about to lapse, a secret revoked mid-run): the operator must act before resuming.
    pub sign_in_lost: bool,
    /// Whether the caller interrupted it.
    pub interrupted: bool,
}

/// A failure that stops the executor (Graph errors of single rows don't: they are
/// recorded on the row).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The journal could not be written; nothing further is sent.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Progress events, for a progress bar or a log.
#[derive(Debug, Clone)]
pub enum ExecEvent {
    /// An entry was settled.
    Finished(EntryResult),
    /// Passing faults left rows pending; another round starts after `delay`.
    Retrying {
        /// The round about to start (2 is the first retry).
        round: u32,
        /// Rows still pending.
        pending: usize,
        /// The pause before it.
        delay: Duration,
    },
}

struct Shared<'a> {
    client: &'a GraphClient,
    journal: &'a Journal,
    run: &'a RunRecord,
    options: &'a ExecutorOptions,
    stop: RunStop,
    #[cfg(feature = "testkit")]
    halt: crate::testkit::Halt,
}

/// How one entry ended in one round.
enum EntryEnd {
    /// Settled: converted, failed or unverified.
    Settled(EntryResult),
    /// Not settled; the reason is a passing fault (worth another round).
    Pending(String),
    /// Not started or abandoned because the run is stopping.
    NotReached,
}

/// Carries out (or resumes) every unfinished `convert` entry of `run`.
pub async fn execute(
    client: &GraphClient,
    journal: &Journal,
    run: &RunRecord,
    options: &ExecutorOptions,
    on_event: &(dyn Fn(ExecEvent) + Sync),
) -> Result<Execution, ExecuteError> {
    let shared = Shared::new(client, journal, run, options);
    let shared = &shared;
    let mut execution = Execution::default();
    let mut pending: BTreeMap<u64, String> = BTreeMap::new();
    let mut round = 1;
    loop {
        let entries = journal.pending_entries(&run.id)?;
        if entries.is_empty() {
            break;
        }
        let ends: Vec<(u64, Result<EntryEnd, ExecuteError>)> = stream::iter(entries)
            .map(|entry| async move {
                let row = entry.plan.row;
                if shared.stopping() {
                    return (row, Ok(EntryEnd::NotReached));
                }
                let end = convert_entry(shared, &entry.plan).await;
                if let Ok(EntryEnd::Settled(result)) = &end {
                    on_event(ExecEvent::Finished(result.clone()));
                }
                (row, end)
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        for (row, end) in ends {
            match end? {
                EntryEnd::Settled(result) => {
                    pending.remove(&row);
                    execution.results.push(result);
                }
                EntryEnd::Pending(reason) => {
                    pending.insert(row, reason);
                }
                EntryEnd::NotReached => {}
            }
        }
        if pending.is_empty() || shared.stopping() || round >= options.max_rounds {
            break;
        }
        round += 1;
        let delay = options
            .round_delay
            .saturating_mul(1 << (round - 2).min(4))
            .min(Duration::from_secs(30));
        on_event(ExecEvent::Retrying {
            round,
            pending: pending.len(),
            delay,
        });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = options.cancel.cancelled() => {}
        }
    }

    execution.results.sort_by_key(|r| r.row);
    execution.unfinished = journal.pending_entries(&run.id)?.len();
    execution.pending = pending
        .into_iter()
        .map(|(row, reason)| PendingRow { row, reason })
        .collect();
    execution.interrupted = shared.stop.interrupted();
    execution.stopped = shared.stop.reason();
    execution.sign_in_lost = shared.stop.sign_in_lost();
    if execution.unfinished == 0 && execution.stopped.is_none() {
        journal.finish_run(&run.id)?;
    }
    Ok(execution)
}

impl<'a> Shared<'a> {
    fn new(
        client: &'a GraphClient,
        journal: &'a Journal,
        run: &'a RunRecord,
        options: &'a ExecutorOptions,
    ) -> Self {
        Shared {
            client,
            journal,
            run,
            options,
            stop: RunStop::new(options.cancel.clone()),
            #[cfg(feature = "testkit")]
            halt: crate::testkit::Halt::from_env(),
        }
    }

    /// Whether no new step may start: a safety stop or an interrupt.
    fn stopping(&self) -> bool {
        self.stop.stopping()
    }

    /// Parks this worker for good when a kill test asked to stop here (`testkit`).
    #[cfg(feature = "testkit")]
    async fn halt_check(&self, point: HaltPoint) {
        if self.halt.reached(point) {
            eprintln!("b2b-convert: halted at {point:?} (test hook)");
            // Stop every worker at its next step: the test kills the process now.
            self.stop.halt();
            std::future::pending::<()>().await;
        }
        if self.stop.halted() {
            std::future::pending::<()>().await;
        }
    }

    /// Without the `testkit` feature there is nothing to stop at.
    #[cfg(not(feature = "testkit"))]
    async fn halt_check(&self, _point: HaltPoint) {}

    /// A failure that concerns the whole run (a wait longer than allowed, a credential
    /// that no longer signs in) stops every worker; the row stays pending and a later run
    /// resumes it once the wait is over or the credential fixed.
    fn stop_if_run_wide(&self, error: &GraphError) {
        self.stop.stop_if_run_wide(error);
    }

    /// How a step ends on a failure whose outcome is known (nothing happened): a
    /// passing fault or a run-wide stop leaves the row pending, anything else fails it.
    fn failed<T>(&self, kind: StepKind, error: &GraphError) -> StepEnd<T> {
        self.stop_if_run_wide(error);
        if error.is_transient() || error.stops_run() {
            StepEnd::Transient(describe(kind, error))
        } else {
            StepEnd::Failed(describe(kind, error), error.status())
        }
    }
}

/// How one journaled step ended.
enum StepEnd<T> {
    /// Graph answered success.
    Done(T),
    /// A refusal that will not change by itself; the message says which step and why,
    /// with the HTTP status when Graph answered.
    Failed(String, Option<u16>),
    /// The request may or may not have taken effect; the step is left open.
    Unknown(OpenStep),
    /// A passing fault on a request that changes nothing (a read), or a wait longer
    /// than the run allows.
    Transient(String),
}

impl<T> StepEnd<T> {
    /// The same ending with the success value turned into another.
    fn map<U>(self, f: impl FnOnce(T) -> U) -> StepEnd<U> {
        match self {
            StepEnd::Done(value) => StepEnd::Done(f(value)),
            StepEnd::Failed(message, status) => StepEnd::Failed(message, status),
            StepEnd::Unknown(step) => StepEnd::Unknown(step),
            StepEnd::Transient(message) => StepEnd::Transient(message),
        }
    }
}

/// A step left without outcome, to settle by reading back.
#[derive(Debug, Clone, Copy)]
struct OpenStep {
    id: i64,
    kind: StepKind,
}

impl From<&StepRecord> for OpenStep {
    fn from(step: &StepRecord) -> Self {
        OpenStep {
            id: step.id,
            kind: step.kind,
        }
    }
}

/// What reading back said about an open step.
enum Settled {
    /// It had taken effect.
    Done,
    /// It had not: it may be sent again.
    NotDone,
    /// The user could not be read; the step stays open.
    Unknown(String),
}

fn describe(kind: StepKind, error: &GraphError) -> String {
    match hint(kind, error) {
        Some(hint) => format!("{kind}: {error}. {hint}"),
        None => format!("{kind}: {error}"),
    }
}

/// What a refusal whose words are Graph's and cryptic means for the admin.
fn hint(kind: StepKind, error: &GraphError) -> Option<&'static str> {
    match (kind, error.status()) {
        // graph-facts §1 and §8: "UserState is neither accepted nor pending".
        (StepKind::Invite, Some(412)) => Some(
            "Graph answers this for a user who was converted back to internal \
             (b2b-convert revert, or convertExternalToInternalMemberUser elsewhere): \
             Microsoft never invites such a user to B2B again",
        ),
        _ => None,
    }
}

async fn convert_entry(shared: &Shared<'_>, plan: &PlanEntry) -> Result<EntryEnd, ExecuteError> {
    let Some(user_id) = plan.user_id.clone() else {
        return Ok(EntryEnd::NotReached);
    };
    let journal = shared.journal;
    let run_id = &shared.run.id;
    let steps = journal.steps(run_id, Some(plan.row))?;
    let mut redeem_url = None;
    let settle_entry =
        |outcome, redeem_url, error: Option<String>| -> Result<EntryEnd, ExecuteError> {
            journal.finish_entry(run_id, plan.row, outcome, error.as_deref())?;
            Ok(EntryEnd::Settled(EntryResult {
                row: plan.row,
                user_id: user_id.clone(),
                display_name: plan.display_name.clone(),
                external_email: plan.external_email.clone(),
                outcome,
                redeem_url,
                error,
            }))
        };

    for action in &plan.actions {
        if shared.stopping() {
            return Ok(EntryEnd::NotReached);
        }
        let kind = step_kind(action);
        let previous: Vec<&StepRecord> = steps.iter().filter(|s| s.kind == kind).collect();
        if kind != StepKind::Verify
            && previous
                .iter()
                .any(|s| s.result.is_some_and(StepResult::is_done))
        {
            continue;
        }
        let mut open = previous
            .iter()
            .find(|s| s.result.is_none())
            .map(|s| OpenStep::from(*s));
        let mut attempts = 0;
        loop {
            if let Some(step) = open.take() {
                match settle(shared, plan, &user_id, step).await? {
                    Settled::Done => break,
                    Settled::NotDone => {}
                    Settled::Unknown(reason) => return Ok(EntryEnd::Pending(reason)),
                }
            }
            if shared.stopping() {
                return Ok(EntryEnd::NotReached);
            }
            attempts += 1;
            if attempts > shared.options.step_attempts.max(1) {
                return Ok(EntryEnd::Pending(format!(
                    "{kind}: Graph did not take it in {} attempts",
                    shared.options.step_attempts
                )));
            }
            let end = match action {
                Action::RevokeSessions => revoke(shared, plan, &user_id).await?,
                Action::UpdateMail { to, .. } => {
                    let update = UserUpdate {
                        mail: Some(to.clone()),
                        ..UserUpdate::default()
                    };
                    let shown = json!({"mail": to});
                    patch_user(shared, plan, &user_id, kind, &update, shown).await?
                }
                Action::AddOtherMail { address } => {
                    add_other_mail(shared, plan, &user_id, address).await?
                }
                // `Guest`, for billing under monthly active users.
                Action::SetUserType { to } => {
                    let update = UserUpdate {
                        user_type: Some(to.clone()),
                        ..UserUpdate::default()
                    };
                    let shown = json!({"userType": to});
                    patch_user(shared, plan, &user_id, kind, &update, shown).await?
                }
                Action::ScramblePassword => scramble_password(shared, plan, &user_id).await?,
                Action::Invite { settings } => invite(shared, plan, &user_id, settings)
                    .await?
                    .map(|url| redeem_url = url),
                Action::Verify => match verify(shared, plan, &user_id).await? {
                    StepEnd::Done(true) => StepEnd::Done(()),
                    StepEnd::Done(false) => {
                        let message = "invited, but the read-back does not show externalUserState PendingAcceptance yet; \
                                       `b2b-convert status --refresh` checks again";
                        return settle_entry(
                            EntryOutcome::Unverified,
                            redeem_url,
                            Some(message.into()),
                        );
                    }
                    other => other.map(|_| ()),
                },
            };
            match end {
                StepEnd::Done(()) => break,
                StepEnd::Unknown(step) => open = Some(step),
                StepEnd::Transient(_) | StepEnd::Failed(..) if shared.stopping() => {
                    // A safety stop (or a test halt): leave the entry unfinished, so the
                    // resumed run tries it again once the cause is fixed. The failed
                    // step stays in the journal as history.
                    return Ok(EntryEnd::NotReached);
                }
                StepEnd::Transient(reason) => return Ok(EntryEnd::Pending(reason)),
                StepEnd::Failed(message, _) => {
                    return settle_entry(EntryOutcome::Failed, redeem_url, Some(message));
                }
            }
        }
    }
    if redeem_url.is_none() {
        match link_to_deliver(shared, plan, &user_id).await? {
            Ok(url) => redeem_url = url,
            Err(reason) if shared.stopping() => {
                tracing::info!(row = plan.row, "{reason}");
                return Ok(EntryEnd::NotReached);
            }
            Err(reason) => return Ok(EntryEnd::Pending(reason)),
        }
    }
    settle_entry(EntryOutcome::Converted, redeem_url, None)
}

fn step_kind(action: &Action) -> StepKind {
    match action {
        Action::RevokeSessions => StepKind::RevokeSessions,
        Action::UpdateMail { .. } => StepKind::UpdateMail,
        Action::AddOtherMail { .. } => StepKind::AddOtherMail,
        Action::Invite { .. } => StepKind::Invite,
        Action::SetUserType { .. } => StepKind::SetUserType,
        Action::ScramblePassword => StepKind::ScramblePassword,
        Action::Verify => StepKind::Verify,
    }
}

/// The redeem URL of a row invited without email: the one journaled with its
/// invitation, or — when the invitation was settled by reading back and Graph can no
/// longer return its URL — a fresh one from a single resend, journaled as a `reinvite`
/// step. No link is ever lost.
async fn link_to_deliver(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
) -> Result<Result<Option<String>, String>, ExecuteError> {
    let Some(settings) = plan.invitation_settings().filter(|s| !s.send_email) else {
        return Ok(Ok(None));
    };
    let invitation = shared.journal.invitation(user_id)?;
    if let Some(url) = invitation.as_ref().and_then(|i| i.redeem_url.clone()) {
        return Ok(Ok(Some(url)));
    }
    if invitation.is_some_and(|i| i.state == Some(InvitationState::Accepted)) {
        return Ok(Ok(None));
    }
    // Without email a resend reaches nobody: it only mints a fresh link, so it is safe
    // to send again when its answer was lost. Reading back can't tell whether it took
    // effect (the user is invited either way), so a lost answer is settled as done — its
    // link is gone with it — and another resend asks for one.
    let mut reason = String::new();
    for _ in 0..shared.options.step_attempts.max(1) {
        if shared.stopping() {
            break;
        }
        match send_invitation(shared, plan, user_id, settings, StepKind::Reinvite).await? {
            StepEnd::Done(url) => return Ok(Ok(url)),
            StepEnd::Unknown(step) => {
                if let Settled::Unknown(why) = settle(shared, plan, user_id, step).await? {
                    reason = why;
                }
            }
            StepEnd::Failed(why, _) | StepEnd::Transient(why) => reason = why,
        }
    }
    // The row stays pending: the next round (or resume) asks for the link again.
    Ok(Err(format!(
        "converted, but no redeem link could be obtained yet: {reason}"
    )))
}

/// Settles a step whose outcome was never written, by reading the user back.
async fn settle(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    step: OpenStep,
) -> Result<Settled, ExecuteError> {
    let done = match step.kind {
        // None leaves a trace to read back, and each is safe to repeat (a second random
        // password is as good as the first).
        StepKind::RevokeSessions | StepKind::Verify | StepKind::ScramblePassword => false,
        // A revert run's step, settled by `revert` itself; an apply run never holds one.
        StepKind::Revert => false,
        StepKind::UpdateMail
        | StepKind::AddOtherMail
        | StepKind::SetUserType
        | StepKind::Invite
        | StepKind::Reinvite => {
            match shared
                .client
                .get_user(
                    user_id,
                    &[
                        "id",
                        "mail",
                        "otherMails",
                        "userType",
                        "externalUserState",
                        "externalUserStateChangeDateTime",
                    ],
                )
                .await
            {
                Ok(Some(user)) => match step.kind {
                    StepKind::UpdateMail => user
                        .mail
                        .as_deref()
                        .is_some_and(|m| email::same_address(m, &plan.external_email)),
                    StepKind::AddOtherMail => user
                        .other_mails
                        .iter()
                        .any(|m| email::same_address(m, &plan.external_email)),
                    StepKind::SetUserType => plan.actions.iter().any(|a| {
                        matches!(a, Action::SetUserType { to }
                            if user.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(to)))
                    }),
                    _ => InvitationState::from_graph(user.external_user_state.as_deref()).is_some(),
                },
                // Can't tell now: the intent stays open and the entry pending.
                Ok(None) => {
                    return Ok(Settled::Unknown(format!(
                        "{}: user {user_id} not found while settling it",
                        step.kind
                    )));
                }
                Err(error) => {
                    return Ok(Settled::Unknown(format!(
                        "{}: could not read the user back to settle it: {error}",
                        step.kind
                    )));
                }
            }
        }
    };
    let result = if done {
        StepResult::ReconciledDone
    } else {
        StepResult::ReconciledNotDone
    };
    // The redeem URL of an invitation settled this way is lost (Graph can't return it
    // again); `link_to_deliver` gets a fresh one when the admin must deliver it.
    let invited = Invited {
        run_id: &shared.run.id,
        entry: plan,
        user_id,
        redeem_url: None,
    };
    let is_invitation = matches!(step.kind, StepKind::Invite | StepKind::Reinvite);
    shared.journal.record_outcome(
        step.id,
        result,
        &StepOutcome {
            detail: Some(json!({"reconciled": true})),
            ..Default::default()
        },
        (done && is_invitation).then_some(&invited),
    )?;
    Ok(if done {
        Settled::Done
    } else {
        Settled::NotDone
    })
}

/// What a successful step records besides its status.
#[derive(Default)]
struct Recorded {
    /// Step-specific detail (invitation id, state read back).
    detail: Option<serde_json::Value>,
    /// For an invitation: `Some(redeem URL kept)`, written with the outcome.
    invitation: Option<Option<String>>,
}

/// Journals one step around a Graph call. A write whose outcome is unknown is left open
/// (see [`Journal::record_unknown`]); every other answer is recorded as the outcome.
async fn journaled<T>(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    kind: StepKind,
    request: serde_json::Value,
    call: impl Future<Output = Result<T, GraphError>>,
    record: impl FnOnce(&T) -> Recorded,
) -> Result<StepEnd<T>, ExecuteError> {
    let step = shared
        .journal
        .record_intent(&shared.run.id, plan.row, user_id, kind, &request)?;
    shared.halt_check(HaltPoint::AfterIntent).await;
    let answer = call.await;
    shared.halt_check(HaltPoint::AfterResponse).await;
    let end = match answer {
        Ok(value) => {
            let recorded = record(&value);
            let invited = recorded.invitation.as_ref().map(|url| Invited {
                run_id: &shared.run.id,
                entry: plan,
                user_id,
                redeem_url: url.as_deref(),
            });
            shared.journal.record_outcome(
                step,
                StepResult::Ok,
                &StepOutcome {
                    detail: recorded.detail,
                    ..Default::default()
                },
                invited.as_ref(),
            )?;
            StepEnd::Done(value)
        }
        Err(error) => {
            let outcome = StepOutcome {
                http_status: error.status(),
                error_code: error.code().map(str::to_owned),
                error_message: Some(error.to_string()),
                request_id: error.request_id().map(str::to_owned),
                detail: None,
            };
            let writes = kind != StepKind::Verify;
            if writes && error.outcome_unknown() {
                shared.stop_if_run_wide(&error);
                shared.journal.record_unknown(step, &outcome)?;
                StepEnd::Unknown(OpenStep { id: step, kind })
            } else {
                shared
                    .journal
                    .record_outcome(step, StepResult::Failed, &outcome, None)?;
                shared.failed(kind, &error)
            }
        }
    };
    shared.halt_check(HaltPoint::AfterOutcome).await;
    Ok(end)
}

async fn revoke(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
) -> Result<StepEnd<()>, ExecuteError> {
    journaled(
        shared,
        plan,
        user_id,
        StepKind::RevokeSessions,
        json!({"method": "POST", "path": format!("/users/{user_id}/revokeSignInSessions")}),
        shared.client.revoke_sign_in_sessions(user_id),
        |_| Recorded::default(),
    )
    .await
}

/// One journaled `PATCH /users/{id}`; `shown` is what the journal records of the body
/// (never a password).
async fn patch_user(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    kind: StepKind,
    update: &UserUpdate,
    shown: serde_json::Value,
) -> Result<StepEnd<()>, ExecuteError> {
    let mut request = json!({"method": "PATCH", "path": format!("/users/{user_id}")});
    if let (Some(request), serde_json::Value::Object(fields)) = (request.as_object_mut(), shown) {
        request.extend(fields);
    }
    journaled(
        shared,
        plan,
        user_id,
        kind,
        request,
        shared.client.update_user(user_id, update),
        |_| Recorded::default(),
    )
    .await
}

/// Adds the external address to `otherMails`. Graph replaces the whole collection on a
/// PATCH, so the user's addresses are read first and written back with this one added;
/// an address already there needs no write.
async fn add_other_mail(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    address: &str,
) -> Result<StepEnd<()>, ExecuteError> {
    let current = match shared.client.get_user(user_id, &["id", "otherMails"]).await {
        Ok(Some(user)) => user.other_mails,
        Ok(None) => {
            return Ok(StepEnd::Failed(
                format!("{}: the user no longer exists", StepKind::AddOtherMail),
                Some(404),
            ));
        }
        Err(error) => return Ok(shared.failed(StepKind::AddOtherMail, &error)),
    };
    if current.iter().any(|m| email::same_address(m, address)) {
        return Ok(StepEnd::Done(()));
    }
    let mut other_mails = current;
    other_mails.push(address.to_owned());
    let update = UserUpdate {
        other_mails: Some(other_mails.clone()),
        ..UserUpdate::default()
    };
    patch_user(
        shared,
        plan,
        user_id,
        StepKind::AddOtherMail,
        &update,
        json!({"otherMails": other_mails}),
    )
    .await
}

/// Replaces a cloud-only user's password with a random one that is never printed,
/// logged or journaled (the journal records only that it was set): the internal
/// password stops working, the partner signs in with their own identity.
async fn scramble_password(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
) -> Result<StepEnd<()>, ExecuteError> {
    let update = UserUpdate {
        password_profile: Some(PasswordProfile {
            password: Some(random_password()),
            force_change_password_next_sign_in: Some(false),
            force_change_password_next_sign_in_with_mfa: None,
        }),
        ..UserUpdate::default()
    };
    patch_user(
        shared,
        plan,
        user_id,
        StepKind::ScramblePassword,
        &update,
        json!({"passwordProfile": "[random, not kept]"}),
    )
    .await
}

/// The invitation request for a row.
pub fn invitation_request(
    external_email: &str,
    settings: &InvitationSettings,
) -> InvitationRequest {
    let message_info = (settings.message.is_some()
        || settings.cc.is_some()
        || settings.language.is_some())
    .then(|| InvitedUserMessageInfo {
        message_language: settings.language.clone(),
        customized_message_body: settings.message.clone(),
        cc_recipients: settings
            .cc
            .iter()
            .map(|address| Recipient {
                email_address: EmailAddress {
                    name: None,
                    address: Some(address.clone()),
                },
            })
            .collect(),
    });
    InvitationRequest {
        invited_user_email_address: external_email.to_owned(),
        invite_redirect_url: settings.redirect_url.clone(),
        send_invitation_message: Some(settings.send_email),
        invited_user_message_info: message_info,
        ..InvitationRequest::default()
    }
}

async fn invite(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    settings: &InvitationSettings,
) -> Result<StepEnd<Option<String>>, ExecuteError> {
    let end = send_invitation(shared, plan, user_id, settings, StepKind::Invite).await?;
    if let StepEnd::Failed(message, Some(401 | 403)) = &end {
        shared.stop.stop(format!(
            "Graph refused an invitation with {message}. No further invitations are sent in this run: \
             fix the cause (app permissions, or ask Microsoft support to lift an anti-abuse block), \
             then run apply again to resume."
        ));
    }
    Ok(end)
}

/// `POST /invitations` for an existing user, journaled as `kind`; the invitation record
/// is written with the outcome. Returns the redeem URL when it is kept.
async fn send_invitation(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    settings: &InvitationSettings,
    kind: StepKind,
) -> Result<StepEnd<Option<String>>, ExecuteError> {
    let request = invitation_request(&plan.external_email, settings);
    let end = journaled(
        shared,
        plan,
        user_id,
        kind,
        json!({
            "method": "POST",
            "path": "/invitations",
            "invitedUserEmailAddress": plan.external_email,
            "invitedUser": {"id": user_id},
            "sendInvitationMessage": settings.send_email,
            "inviteRedirectUrl": settings.redirect_url,
        }),
        shared.client.invite_existing_user(user_id, &request),
        |invitation| Recorded {
            detail: Some(json!({"invitationId": invitation.id, "status": invitation.status})),
            invitation: Some(kept_redeem_url(settings, invitation)),
        },
    )
    .await?;
    Ok(end.map(|invitation| kept_redeem_url(settings, &invitation)))
}

/// A redeem URL is a bearer link to the account: it is kept (and printed) only when the
/// admin has to deliver it, i.e. for invitations sent without email.
fn kept_redeem_url(settings: &InvitationSettings, invitation: &Invitation) -> Option<String> {
    (!settings.send_email)
        .then(|| invitation.invite_redeem_url.clone())
        .flatten()
}

/// Reads the user back until the invitation shows; `Done(false)` when it never did.
async fn verify(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
) -> Result<StepEnd<bool>, ExecuteError> {
    let attempts = shared.options.verify_attempts.max(1);
    for attempt in 1..=attempts {
        let answer = journaled(
            shared,
            plan,
            user_id,
            StepKind::Verify,
            json!({"method": "GET", "path": format!("/users/{user_id}"), "attempt": attempt}),
            shared.client.get_user(
                user_id,
                &[
                    "id",
                    "userPrincipalName",
                    "userType",
                    "mail",
                    "externalUserState",
                    "externalUserStateChangeDateTime",
                ],
            ),
            |user| Recorded {
                detail: user.as_ref().map(|u| {
                    json!({
                        "mail": u.mail,
                        "externalUserState": u.external_user_state,
                        "userType": u.user_type,
                        "userPrincipalName": u.user_principal_name,
                    })
                }),
                invitation: None,
            },
        )
        .await?;
        let user = match answer {
            StepEnd::Done(Some(user)) => user,
            StepEnd::Done(None) => {
                return Ok(StepEnd::Failed(
                    format!("{}: the user no longer exists", StepKind::Verify),
                    Some(404),
                ));
            }
            other => return Ok(other.map(|_| false)),
        };
        if user.user_principal_name.as_deref().is_some_and(|upn| {
            plan.user_principal_name
                .as_deref()
                .is_some_and(|planned| !planned.eq_ignore_ascii_case(upn))
        }) {
            return Ok(StepEnd::Failed(
                format!(
                    "{}: the UPN changed to {:?}; conversion must keep it",
                    StepKind::Verify,
                    user.user_principal_name
                ),
                None,
            ));
        }
        let state = InvitationState::from_graph(user.external_user_state.as_deref());
        let state_ok = state.as_ref().is_some_and(InvitationState::is_invited);
        let mail_ok = user
            .mail
            .as_deref()
            .is_some_and(|m| email::same_address(m, &plan.external_email));
        if state_ok && mail_ok {
            shared.journal.record_state(
                user_id,
                state.as_ref(),
                user.external_user_state_change_date_time,
            )?;
            return Ok(StepEnd::Done(true));
        }
        if attempt < attempts {
            tokio::time::sleep(shared.options.verify_delay).await;
        }
    }
    Ok(StepEnd::Done(false))
}

/// Sends a fresh invitation to a user already `PendingAcceptance` (Graph treats it as a
/// resend: same user, a new redeem URL, one more email). Journaled as a `reinvite` step.
pub async fn reinvite(
    client: &GraphClient,
    journal: &Journal,
    run: &RunRecord,
    plan: &PlanEntry,
    settings: &InvitationSettings,
) -> Result<Result<Option<String>, String>, ExecuteError> {
    let Some(user_id) = plan.user_id.as_deref() else {
        return Ok(Ok(None));
    };
    let options = ExecutorOptions::default();
    let shared = Shared::new(client, journal, run, &options);
    Ok(
        match send_invitation(&shared, plan, user_id, settings, StepKind::Reinvite).await? {
            StepEnd::Done(url) => Ok(url),
            StepEnd::Failed(m, _) | StepEnd::Transient(m) => Err(m),
            StepEnd::Unknown(step) => match settle(&shared, plan, user_id, step).await? {
                // Graph has it: the new link is lost with the answer, but the user
                // keeps a working invitation; another reinvite fetches a link.
                Settled::Done => Ok(None),
                Settled::NotDone => Err(format!("{}: not taken by Graph", StepKind::Reinvite)),
                Settled::Unknown(reason) => Err(reason),
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_412_on_an_invitation_says_the_user_was_converted_back() {
        let refused = GraphError::Api {
            status: 412,
            code: "PreconditionFailed".into(),
            message: "UserState is neither accepted nor pending.".into(),
            request_id: Some("r1".into()),
            client_request_id: "c1".into(),
            retry_after: None,
            method: "POST".into(),
            path: "/v1.0/invitations".into(),
        };
        let said = describe(StepKind::Invite, &refused);
        assert!(said.starts_with("invite: "), "{said}");
        assert!(
            said.contains("UserState is neither accepted nor pending"),
            "{said}"
        );
        assert!(said.contains("converted back to internal"), "{said}");
        // Another step's 412 is left in Graph's words.
        assert!(!describe(StepKind::UpdateMail, &refused).contains("converted back"));
    }

    #[test]
    fn invitation_carries_message_cc_and_language_only_when_given() {
        let mut settings = InvitationSettings {
            redirect_url: "https://myapps.microsoft.com/?tenantid=t".into(),
            send_email: true,
            message: None,
            cc: None,
            language: None,
        };
        let request = invitation_request("a@fabrikam.com", &settings);
        assert!(request.invited_user_message_info.is_none());
        settings.cc = Some("boss@fabrikam.com".into());
        settings.language = Some("de".into());
        let request = invitation_request("a@fabrikam.com", &settings);
        let info = request.invited_user_message_info.unwrap();
        assert_eq!(
            info.cc_recipients[0].email_address.address.as_deref(),
            Some("boss@fabrikam.com")
        );
        assert_eq!(info.message_language.as_deref(), Some("de"));
    }
}
