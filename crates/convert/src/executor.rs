//! The executor: carries out a journaled run's `convert` rows through Graph, one step at a
//! time, each step journaled as an intent before its request and an outcome after it.
//!
//! Resuming is the same code path as starting: for every entry without an outcome it
//! looks at the entry's journaled steps. A step already done is not repeated. A step with
//! an intent but no outcome (the process died between sending and recording) is
//! reconciled by reading the user back — is `mail` the external address, is
//! `externalUserState` set — and only redone when it had not taken effect.
//!
//! Safety stops: a 401/403 from `POST /invitations` (missing rights, or Microsoft's
//! anti-abuse block "Invitations are blocked for this directory due to suspicious
//! activity", which does not lift by itself) stops every further invitation of the run;
//! the entries not reached stay unfinished so a later `apply` resumes them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use b2b_graph::model::{
    EmailAddress, Invitation, InvitationRequest, InvitedUserMessageInfo, Recipient, UserUpdate,
};
use b2b_graph::{GraphClient, GraphError};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;

use crate::email;
use crate::journal::{
    EntryOutcome, EntryRecord, Invited, Journal, JournalError, RunRecord, StepKind, StepOutcome,
    StepRecord, StepResult,
};
use crate::plan::{Action, InvitationSettings, PlanEntry};
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
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            verify_attempts: 4,
            verify_delay: Duration::from_secs(2),
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

/// What a run of the executor did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// One result per entry finished in this execution.
    pub results: Vec<EntryResult>,
    /// Entries left unfinished (a safety stop): a later `apply` resumes them.
    pub unfinished: usize,
    /// Why the run stopped early, when it did.
    pub stopped: Option<String>,
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
    /// An entry finished.
    Finished(EntryResult),
}

struct Shared<'a> {
    client: &'a GraphClient,
    journal: &'a Journal,
    run: &'a RunRecord,
    options: &'a ExecutorOptions,
    stop: AtomicBool,
    stop_reason: std::sync::Mutex<Option<String>>,
    #[cfg(feature = "testkit")]
    halt: crate::testkit::Halt,
}

/// Carries out (or resumes) every unfinished `convert` entry of `run`.
pub async fn execute(
    client: &GraphClient,
    journal: &Journal,
    run: &RunRecord,
    options: &ExecutorOptions,
    on_event: &(dyn Fn(ExecEvent) + Sync),
) -> Result<Execution, ExecuteError> {
    let pending: Vec<EntryRecord> = journal.pending_entries(&run.id)?;
    let shared = Shared::new(client, journal, run, options);
    let shared = &shared;
    let outcomes: Vec<Result<Option<EntryResult>, ExecuteError>> = stream::iter(pending)
        .map(|entry| async move {
            if shared.stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            let result = convert_entry(shared, &entry.plan).await?;
            if let Some(result) = &result {
                on_event(ExecEvent::Finished(result.clone()));
            }
            Ok(result)
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;

    let mut execution = Execution::default();
    for outcome in outcomes {
        match outcome? {
            Some(result) => execution.results.push(result),
            None => execution.unfinished += 1,
        }
    }
    execution.results.sort_by_key(|r| r.row);
    execution.stopped = shared.stop_reason.lock().ok().and_then(|r| r.clone());
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
            stop: AtomicBool::new(false),
            stop_reason: std::sync::Mutex::new(None),
            #[cfg(feature = "testkit")]
            halt: crate::testkit::Halt::from_env(),
        }
    }

    /// Parks this worker for good when a kill test asked to stop here (`testkit`).
    #[cfg(feature = "testkit")]
    async fn halt_check(&self, point: HaltPoint) {
        if self.halt.reached(point) {
            eprintln!("b2b-convert: halted at {point:?} (test hook)");
            // Stop every worker at its next step: the test kills the process now.
            self.stop.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        if self.stop.load(Ordering::SeqCst) && self.stop_reason.lock().is_ok_and(|r| r.is_none()) {
            std::future::pending::<()>().await;
        }
    }

    /// Without the `testkit` feature there is nothing to stop at.
    #[cfg(not(feature = "testkit"))]
    async fn halt_check(&self, _point: HaltPoint) {}

    fn stop_run(&self, reason: String) {
        // The reason first: a worker that sees the flag without a reason takes it for a
        // test halt and parks.
        if let Ok(mut slot) = self.stop_reason.lock() {
            slot.get_or_insert(reason);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Why a step did not complete.
enum StepFailure {
    Graph(GraphError),
    Check(String),
}

impl StepFailure {
    fn describe(&self, kind: StepKind) -> String {
        match self {
            StepFailure::Graph(e) => format!("{}: {e}", kind.as_str()),
            StepFailure::Check(message) => format!("{}: {message}", kind.as_str()),
        }
    }
}

async fn convert_entry(
    shared: &Shared<'_>,
    plan: &PlanEntry,
) -> Result<Option<EntryResult>, ExecuteError> {
    let Some(user_id) = plan.user_id.clone() else {
        return Ok(None);
    };
    let journal = shared.journal;
    let run_id = &shared.run.id;
    let steps = journal.steps(run_id, Some(plan.row))?;
    let mut redeem_url = None;
    let result = |outcome, redeem_url, error| EntryResult {
        row: plan.row,
        user_id: user_id.clone(),
        display_name: plan.display_name.clone(),
        external_email: plan.external_email.clone(),
        outcome,
        redeem_url,
        error,
    };

    for action in &plan.actions {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let kind = step_kind(action);
        let previous: Vec<&StepRecord> = steps.iter().filter(|s| s.kind == kind).collect();
        if previous
            .iter()
            .any(|s| s.result.is_some_and(StepResult::is_done))
            && kind != StepKind::Verify
        {
            continue;
        }
        if let Some(dangling) = previous.iter().find(|s| s.result.is_none())
            && reconcile(shared, plan, &user_id, dangling).await?
        {
            continue;
        }
        let outcome = match action {
            Action::RevokeSessions => revoke(shared, plan, &user_id).await?,
            Action::UpdateMail { to, .. } => update_mail(shared, plan, &user_id, to).await?,
            Action::Invite { settings } => match invite(shared, plan, &user_id, settings).await? {
                Ok(url) => {
                    redeem_url = url;
                    Ok(())
                }
                Err(failure) => Err(failure),
            },
            Action::Verify => match verify(shared, plan, &user_id).await? {
                Ok(true) => Ok(()),
                Ok(false) => {
                    let message = "invited, but the read-back does not show externalUserState PendingAcceptance yet; \
                                   `b2b-convert status --refresh` checks again";
                    journal.finish_entry(
                        run_id,
                        plan.row,
                        EntryOutcome::Unverified,
                        Some(message),
                    )?;
                    return Ok(Some(result(
                        EntryOutcome::Unverified,
                        redeem_url,
                        Some(message.into()),
                    )));
                }
                Err(failure) => Err(failure),
            },
        };
        if let Err(failure) = outcome {
            let message = failure.describe(kind);
            if shared.stop.load(Ordering::SeqCst) {
                // A safety stop (or a test halt): leave the entry unfinished, so the
                // resumed run tries it again once the cause is fixed. The failed step
                // stays in the journal as history.
                return Ok(None);
            }
            journal.finish_entry(run_id, plan.row, EntryOutcome::Failed, Some(&message))?;
            return Ok(Some(result(
                EntryOutcome::Failed,
                redeem_url,
                Some(message),
            )));
        }
    }
    journal.finish_entry(run_id, plan.row, EntryOutcome::Converted, None)?;
    Ok(Some(result(EntryOutcome::Converted, redeem_url, None)))
}

fn step_kind(action: &Action) -> StepKind {
    match action {
        Action::RevokeSessions => StepKind::RevokeSessions,
        Action::UpdateMail { .. } => StepKind::UpdateMail,
        Action::Invite { .. } => StepKind::Invite,
        Action::Verify => StepKind::Verify,
    }
}

/// Settles a step whose outcome was never written; returns whether it had taken effect.
async fn reconcile(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    step: &StepRecord,
) -> Result<bool, ExecuteError> {
    let done = match step.kind {
        // Neither leaves a trace to read back, and both are safe to repeat.
        StepKind::RevokeSessions | StepKind::Verify => Some(false),
        StepKind::UpdateMail | StepKind::Invite | StepKind::Reinvite => {
            match shared
                .client
                .get_user(
                    user_id,
                    &[
                        "id",
                        "mail",
                        "externalUserState",
                        "externalUserStateChangeDateTime",
                    ],
                )
                .await
            {
                Ok(Some(user)) => Some(match step.kind {
                    StepKind::UpdateMail => user
                        .mail
                        .as_deref()
                        .is_some_and(|m| email::same_address(m, &plan.external_email)),
                    _ => InvitationState::from_graph(user.external_user_state.as_deref()).is_some(),
                }),
                // Can't tell now: leave the intent open, the entry unfinished.
                Ok(None) | Err(_) => None,
            }
        }
    };
    let Some(done) = done else {
        shared.stop_run(format!(
            "could not read user {user_id} back to settle an interrupted {} step; run apply again to resume",
            step.kind.as_str()
        ));
        return Ok(true);
    };
    let result = if done {
        StepResult::ReconciledDone
    } else {
        StepResult::ReconciledNotDone
    };
    // The redeem URL of a reconciled invitation is lost (Graph can't return it again).
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
    Ok(done)
}

/// What a successful step records besides its status.
#[derive(Default)]
struct Recorded {
    /// Step-specific detail (invitation id, state read back).
    detail: Option<serde_json::Value>,
    /// For an invitation: `Some(redeem URL kept)`, written with the outcome.
    invitation: Option<Option<String>>,
}

/// Journals one step around a Graph call.
async fn journaled<T>(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    kind: StepKind,
    request: serde_json::Value,
    call: impl Future<Output = Result<T, GraphError>>,
    record: impl FnOnce(&T) -> Recorded,
) -> Result<Result<T, GraphError>, ExecuteError> {
    let step = shared
        .journal
        .record_intent(&shared.run.id, plan.row, user_id, kind, &request)?;
    shared.halt_check(HaltPoint::AfterIntent).await;
    let answer = call.await;
    shared.halt_check(HaltPoint::AfterResponse).await;
    let mut invitation: Option<Option<String>> = None;
    let (result, outcome) = match &answer {
        Ok(value) => {
            let recorded = record(value);
            invitation = recorded.invitation;
            (
                StepResult::Ok,
                StepOutcome {
                    detail: recorded.detail,
                    ..Default::default()
                },
            )
        }
        Err(error) => (
            StepResult::Failed,
            StepOutcome {
                http_status: error.status(),
                error_code: error.code().map(str::to_owned),
                error_message: Some(error.to_string()),
                request_id: error.request_id().map(str::to_owned),
                detail: None,
            },
        ),
    };
    let invited = invitation.as_ref().map(|url| Invited {
        run_id: &shared.run.id,
        entry: plan,
        user_id,
        redeem_url: url.as_deref(),
    });
    shared
        .journal
        .record_outcome(step, result, &outcome, invited.as_ref())?;
    shared.halt_check(HaltPoint::AfterOutcome).await;
    Ok(answer)
}

async fn revoke(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
) -> Result<Result<(), StepFailure>, ExecuteError> {
    let answer = journaled(
        shared,
        plan,
        user_id,
        StepKind::RevokeSessions,
        json!({"method": "POST", "path": format!("/users/{user_id}/revokeSignInSessions")}),
        shared.client.revoke_sign_in_sessions(user_id),
        |_| Recorded::default(),
    )
    .await?;
    Ok(answer.map_err(StepFailure::Graph))
}

async fn update_mail(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    to: &str,
) -> Result<Result<(), StepFailure>, ExecuteError> {
    let update = UserUpdate {
        mail: Some(to.to_owned()),
        ..UserUpdate::default()
    };
    let answer = journaled(
        shared,
        plan,
        user_id,
        StepKind::UpdateMail,
        json!({"method": "PATCH", "path": format!("/users/{user_id}"), "mail": to}),
        shared.client.update_user(user_id, &update),
        |_| Recorded::default(),
    )
    .await?;
    Ok(answer.map_err(StepFailure::Graph))
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
) -> Result<Result<Option<String>, StepFailure>, ExecuteError> {
    match send_invitation(shared, plan, user_id, settings, StepKind::Invite).await? {
        Ok(url) => Ok(Ok(url)),
        Err(error) => {
            if matches!(error.status(), Some(401 | 403)) {
                shared.stop_run(format!(
                    "Graph refused an invitation with {error}. No further invitations are sent in this run: \
                     fix the cause (app permissions, or ask Microsoft support to lift an anti-abuse block), \
                     then run apply again to resume."
                ));
            }
            Ok(Err(StepFailure::Graph(error)))
        }
    }
}

/// `POST /invitations` for an existing user, journaled as `kind`; the invitation record
/// is written with the outcome. Returns the redeem URL when it is kept.
async fn send_invitation(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
    settings: &InvitationSettings,
    kind: StepKind,
) -> Result<Result<Option<String>, GraphError>, ExecuteError> {
    let request = invitation_request(&plan.external_email, settings);
    let answer = journaled(
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
    Ok(answer.map(|invitation| kept_redeem_url(settings, &invitation)))
}

/// A redeem URL is a bearer link to the account: it is kept (and printed) only when the
/// admin has to deliver it, i.e. for invitations sent without email.
fn kept_redeem_url(settings: &InvitationSettings, invitation: &Invitation) -> Option<String> {
    (!settings.send_email)
        .then(|| invitation.invite_redeem_url.clone())
        .flatten()
}

/// Reads the user back until the invitation shows; `Ok(false)` when it never did.
async fn verify(
    shared: &Shared<'_>,
    plan: &PlanEntry,
    user_id: &str,
) -> Result<Result<bool, StepFailure>, ExecuteError> {
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
            Ok(Some(user)) => user,
            Ok(None) => return Ok(Err(StepFailure::Check("the user no longer exists".into()))),
            Err(error) => return Ok(Err(StepFailure::Graph(error))),
        };
        if user.user_principal_name.as_deref().is_some_and(|upn| {
            plan.user_principal_name
                .as_deref()
                .is_some_and(|planned| !planned.eq_ignore_ascii_case(upn))
        }) {
            return Ok(Err(StepFailure::Check(format!(
                "the UPN changed to {:?}; conversion must keep it",
                user.user_principal_name
            ))));
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
            return Ok(Ok(true));
        }
        if attempt < attempts {
            tokio::time::sleep(shared.options.verify_delay).await;
        }
    }
    Ok(Ok(false))
}

/// Sends a fresh invitation to a user already `PendingAcceptance` (Graph treats it as a
/// resend: same user, a new redeem URL, one more email). Journaled as a `reinvite` step.
pub async fn reinvite(
    client: &GraphClient,
    journal: &Journal,
    run: &RunRecord,
    plan: &PlanEntry,
    settings: &InvitationSettings,
) -> Result<Result<Option<String>, GraphError>, ExecuteError> {
    let Some(user_id) = plan.user_id.as_deref() else {
        return Ok(Ok(None));
    };
    let options = ExecutorOptions::default();
    let shared = Shared::new(client, journal, run, &options);
    send_invitation(&shared, plan, user_id, settings, StepKind::Reinvite).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
