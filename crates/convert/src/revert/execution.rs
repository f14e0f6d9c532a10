//! Reverting the planned rows, journaled: each POST an intent before and an outcome after,
//! an unknown outcome settled by reading the user back, each revert verified, and an
//! earlier unfinished revert run settled before a new one is planned.

use std::time::Duration;

use b2b_graph::model::{PasswordProfile, User};
use b2b_graph::{ConvertToInternalRequest, GraphClient, GraphError};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{RevertEntry, RevertOutcome, USER_SELECT, is_external};
use crate::executor::{ExecuteError, PendingRow};
use crate::journal::{
    EntryOutcome, Journal, RevertEntryRecord, RevertRunRecord, StepOutcome, StepResult,
};
use crate::password::random_password;
use crate::stop::RunStop;
use crate::vocabulary::StepKind;

/// How the execution runs.
#[derive(Debug, Clone)]
pub struct RevertExecOptions {
    /// Users worked on at once (requests are paced by the client in any case).
    pub concurrency: usize,
    /// Read-backs before a reverted user not yet shown internal is `unverified`.
    pub verify_attempts: u32,
    /// Pause between read-backs.
    pub verify_delay: Duration,
    /// Sends within one run, each after a read proved the previous one did not happen.
    pub step_attempts: u32,
    /// Cancelled by the caller to stop (Ctrl-C): no new user starts.
    pub cancel: CancellationToken,
}

impl Default for RevertExecOptions {
    fn default() -> Self {
        RevertExecOptions {
            concurrency: 8,
            verify_attempts: 4,
            verify_delay: Duration::from_secs(2),
            step_attempts: 3,
            cancel: CancellationToken::new(),
        }
    }
}

/// One settled row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertResult {
    /// The row.
    pub row: u64,
    /// The user.
    pub user_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// The UPN after the revert (as asked).
    pub user_principal_name: Option<String>,
    /// How it ended.
    pub outcome: RevertOutcome,
    /// Why it failed or is unverified.
    pub error: Option<String>,
}

/// What an execution did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertExecution {
    /// One result per row settled.
    pub results: Vec<RevertResult>,
    /// Rows tried but not settled (their step stays open: the next `revert` settles it).
    pub pending: Vec<PendingRow>,
    /// Rows not reached (a stop or an interrupt).
    pub not_reached: usize,
    /// Why the run stopped early.
    pub stopped: Option<String>,
    /// Whether it stopped because the credential no longer signs in.
    pub sign_in_lost: bool,
    /// Whether the caller interrupted it.
    pub interrupted: bool,
}

/// How one row ended.
enum RowEnd {
    Settled(RevertResult),
    Pending(String),
    NotReached,
}

struct Shared<'a> {
    client: &'a GraphClient,
    journal: &'a Journal,
    run_id: &'a str,
    options: &'a RevertExecOptions,
    stop: RunStop,
}

/// Reverts every row of `run` decided `revert` and not yet ended, journaling each step.
/// The run is marked finished when every such row has ended.
pub async fn execute(
    client: &GraphClient,
    journal: &Journal,
    run: &RevertRunRecord,
    options: &RevertExecOptions,
) -> Result<RevertExecution, ExecuteError> {
    let shared = Shared {
        client,
        journal,
        run_id: &run.id,
        options,
        stop: RunStop::new(options.cancel.clone()),
    };
    let shared = &shared;
    let pending: Vec<RevertEntryRecord> = journal
        .revert_entries(&run.id)?
        .into_iter()
        .filter(RevertEntryRecord::is_pending)
        .collect();
    let ends: Vec<(u64, Result<RowEnd, ExecuteError>)> = stream::iter(pending)
        .map(|record| async move {
            let row = record.entry.row;
            if shared.stop.stopping() {
                return (row, Ok(RowEnd::NotReached));
            }
            (row, revert_row(shared, &record.entry).await)
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut execution = RevertExecution::default();
    for (row, end) in ends {
        match end? {
            RowEnd::Settled(result) => execution.results.push(result),
            RowEnd::Pending(reason) => execution.pending.push(PendingRow { row, reason }),
            RowEnd::NotReached => execution.not_reached += 1,
        }
    }
    execution.results.sort_by_key(|r| r.row);
    execution.pending.sort_by_key(|p| p.row);
    execution.interrupted = shared.stop.interrupted();
    execution.stopped = shared.stop.reason();
    execution.sign_in_lost = shared.stop.sign_in_lost();
    let left = journal
        .revert_entries(&run.id)?
        .iter()
        .filter(|r| r.is_pending())
        .count();
    if left == 0 {
        journal.finish_run(&run.id)?;
    }
    Ok(execution)
}

/// The request a row sends: the UPN and a fresh random password for a cloud user.
fn request_for(entry: &RevertEntry) -> (ConvertToInternalRequest, serde_json::Value) {
    let user_id = entry.user_id.as_deref().unwrap_or_default();
    let path = format!("/beta/users/{user_id}/convertExternalToInternalMemberUser");
    match &entry.new_user_principal_name {
        Some(upn) => (
            ConvertToInternalRequest {
                user_principal_name: Some(upn.clone()),
                password_profile: Some(PasswordProfile {
                    password: Some(random_password()),
                    force_change_password_next_sign_in: Some(true),
                    force_change_password_next_sign_in_with_mfa: None,
                }),
                mail: None,
            },
            json!({
                "method": "POST",
                "path": path,
                "userPrincipalName": upn,
                // The password is never kept: the journal says only that one was set.
                "passwordProfile": {"password": "[random, not kept]", "forceChangePasswordNextSignIn": true},
            }),
        ),
        None => (
            ConvertToInternalRequest::default(),
            json!({"method": "POST", "path": path}),
        ),
    }
}

async fn revert_row(shared: &Shared<'_>, entry: &RevertEntry) -> Result<RowEnd, ExecuteError> {
    let Some(user_id) = entry.user_id.as_deref() else {
        return Ok(RowEnd::NotReached);
    };
    let journal = shared.journal;
    let settle_row =
        |outcome: RevertOutcome, error: Option<String>| -> Result<RowEnd, ExecuteError> {
            journal.finish_entry(
                shared.run_id,
                entry.row,
                outcome.entry_outcome(),
                error.as_deref(),
            )?;
            Ok(RowEnd::Settled(RevertResult {
                row: entry.row,
                user_id: user_id.to_owned(),
                display_name: entry.display_name.clone(),
                user_principal_name: entry
                    .new_user_principal_name
                    .clone()
                    .or_else(|| entry.user_principal_name.clone()),
                outcome,
                error,
            }))
        };
    let mut attempts = 0;
    loop {
        if shared.stop.stopping() {
            return Ok(RowEnd::NotReached);
        }
        attempts += 1;
        if attempts > shared.options.step_attempts.max(1) {
            return Ok(RowEnd::Pending(format!(
                "{}: Graph did not take it in {} attempts",
                StepKind::Revert,
                shared.options.step_attempts
            )));
        }
        let (request, summary) = request_for(entry);
        let step = journal.record_intent(
            shared.run_id,
            entry.row,
            user_id,
            StepKind::Revert,
            &summary,
        )?;
        match shared
            .client
            .convert_external_to_internal(user_id, &request)
            .await
        {
            Ok(details) => {
                journal.record_outcome(
                    step,
                    StepResult::Ok,
                    &StepOutcome {
                        http_status: Some(200),
                        detail: serde_json::to_value(&details).ok(),
                        ..StepOutcome::default()
                    },
                    None,
                )?;
                break;
            }
            Err(error) => {
                let outcome = failure_outcome(&error);
                if error.outcome_unknown() {
                    journal.record_unknown(step, &outcome)?;
                    match settle_step(shared, user_id, step).await? {
                        Settled::Done => break,
                        Settled::NotDone => continue,
                        Settled::Unknown(reason) => return Ok(RowEnd::Pending(reason)),
                    }
                }
                journal.record_outcome(step, StepResult::Failed, &outcome, None)?;
                if shared.stop.stop_if_run_wide(&error) {
                    return Ok(RowEnd::NotReached);
                }
                if error.is_transient() {
                    return Ok(RowEnd::Pending(format!("{}: {error}", StepKind::Revert)));
                }
                return settle_row(
                    RevertOutcome::Failed,
                    Some(format!("Graph refused: {error}")),
                );
            }
        }
    }
    match verify(shared, entry, user_id).await? {
        Verified::Internal => {
            // `status` shows the state as last read: the invitation is gone now.
            journal.record_state(user_id, None, None)?;
            settle_row(RevertOutcome::Reverted, None)
        }
        Verified::NotYet => settle_row(
            RevertOutcome::Unverified,
            Some(
                "Graph answered success, but reading the user back does not show an internal \
                 member yet (Graph is eventually consistent); check the user in the admin center"
                    .into(),
            ),
        ),
        Verified::Gone => settle_row(
            RevertOutcome::Failed,
            Some("the user no longer exists".into()),
        ),
        Verified::Unreadable(reason) => Ok(RowEnd::Pending(reason)),
    }
}

fn failure_outcome(error: &GraphError) -> StepOutcome {
    StepOutcome {
        http_status: error.status(),
        error_code: error.code().map(str::to_owned),
        error_message: Some(error.to_string()),
        request_id: error.request_id().map(str::to_owned),
        detail: None,
    }
}

/// What reading back said about an open step.
enum Settled {
    Done,
    NotDone,
    Unknown(String),
}

/// Whether the user reads back as reverted: internal, a member, with the UPN sent.
fn shows_reverted(entry: &RevertEntry, user: &User) -> bool {
    let member = user
        .user_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("Member"));
    let upn = match &entry.new_user_principal_name {
        Some(upn) => user
            .user_principal_name
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(upn)),
        None => true,
    };
    !is_external(user) && member && upn
}

/// Settles an open revert step by reading the user back: it took effect when the user is
/// no longer external. Records the step's outcome either way (or leaves it open when the
/// user can't be read).
async fn settle_step(
    shared: &Shared<'_>,
    user_id: &str,
    step: i64,
) -> Result<Settled, ExecuteError> {
    settle_open_step(shared.client, shared.journal, user_id, step).await
}

async fn settle_open_step(
    client: &GraphClient,
    journal: &Journal,
    user_id: &str,
    step: i64,
) -> Result<Settled, ExecuteError> {
    let user = match client.get_user(user_id, USER_SELECT).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Ok(Settled::Unknown(format!(
                "{}: user {user_id} not found while settling it",
                StepKind::Revert
            )));
        }
        Err(error) => {
            return Ok(Settled::Unknown(format!(
                "{}: could not read the user back to settle it: {error}",
                StepKind::Revert
            )));
        }
    };
    let done = !is_external(&user);
    let result = if done {
        StepResult::ReconciledDone
    } else {
        StepResult::ReconciledNotDone
    };
    journal.record_outcome(
        step,
        result,
        &StepOutcome {
            detail: Some(json!({
                "reconciled": true,
                "userType": user.user_type,
                "externalUserState": user.external_user_state,
                "userPrincipalName": user.user_principal_name,
            })),
            ..StepOutcome::default()
        },
        None,
    )?;
    Ok(if done {
        Settled::Done
    } else {
        Settled::NotDone
    })
}

enum Verified {
    Internal,
    NotYet,
    Gone,
    Unreadable(String),
}

/// Reads the user back (journaled as `verify` steps) until they show as reverted.
async fn verify(
    shared: &Shared<'_>,
    entry: &RevertEntry,
    user_id: &str,
) -> Result<Verified, ExecuteError> {
    let attempts = shared.options.verify_attempts.max(1);
    for attempt in 1..=attempts {
        let step = shared.journal.record_intent(
            shared.run_id,
            entry.row,
            user_id,
            StepKind::Verify,
            &json!({"method": "GET", "path": format!("/users/{user_id}"), "attempt": attempt}),
        )?;
        let user = match shared.client.get_user(user_id, USER_SELECT).await {
            Ok(user) => user,
            Err(error) => {
                shared.journal.record_outcome(
                    step,
                    StepResult::Failed,
                    &failure_outcome(&error),
                    None,
                )?;
                shared.stop.stop_if_run_wide(&error);
                return Ok(Verified::Unreadable(format!(
                    "{}: {error}",
                    StepKind::Verify
                )));
            }
        };
        let detail = user.as_ref().map(|u| {
            json!({
                "userType": u.user_type,
                "externalUserState": u.external_user_state,
                "userPrincipalName": u.user_principal_name,
                "identities": u.identities.iter().filter_map(|i| i.sign_in_type.clone()).collect::<Vec<_>>(),
            })
        });
        shared.journal.record_outcome(
            step,
            StepResult::Ok,
            &StepOutcome {
                http_status: Some(if user.is_some() { 200 } else { 404 }),
                detail,
                ..StepOutcome::default()
            },
            None,
        )?;
        let Some(user) = user else {
            return Ok(Verified::Gone);
        };
        if shows_reverted(entry, &user) {
            return Ok(Verified::Internal);
        }
        if attempt < attempts {
            tokio::time::sleep(shared.options.verify_delay).await;
        }
    }
    Ok(Verified::NotYet)
}

/// What settling an earlier, unfinished revert run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledRun {
    /// The run.
    pub run_id: String,
    /// Rows whose open step read back as done (now recorded reverted).
    pub reverted: usize,
    /// Rows whose open step read back as not done (planned again by this run).
    pub not_done: usize,
    /// Rows whose user could not be read: the run stays unfinished.
    pub unsettled: usize,
    /// The run was against another tenant or Graph root and was left alone.
    pub other_tenant: bool,
}

/// Settles every unfinished revert run before a new one is planned: each row with a
/// revert step but no ending is read back; an internal user is recorded reverted, the open
/// steps are recorded done or not done. A run with nothing left open is then closed
/// (finished when every row ended, else abandoned: the rows never reached are planned
/// afresh by the new run, from what Graph says now). Runs against another tenant or
/// Graph root are left as they are.
pub async fn settle_unfinished(
    client: &GraphClient,
    journal: &Journal,
    tenant_id: &str,
    graph_root: &str,
) -> Result<Vec<SettledRun>, ExecuteError> {
    let mut settled = Vec::new();
    for run in journal.unfinished_revert_runs()? {
        let mut report = SettledRun {
            run_id: run.id.clone(),
            reverted: 0,
            not_done: 0,
            unsettled: 0,
            other_tenant: false,
        };
        if !run.tenant_id.eq_ignore_ascii_case(tenant_id) || run.graph_root != graph_root {
            report.other_tenant = true;
            settled.push(report);
            continue;
        }
        for record in journal.revert_entries(&run.id)? {
            if !record.is_pending() {
                continue;
            }
            let entry = &record.entry;
            let Some(user_id) = entry.user_id.as_deref() else {
                continue;
            };
            let steps = journal.steps(&run.id, Some(entry.row))?;
            let reverts: Vec<_> = steps
                .iter()
                .filter(|s| s.kind == StepKind::Revert)
                .collect();
            if reverts.is_empty() {
                continue;
            }
            let mut done = reverts
                .iter()
                .any(|s| s.result.is_some_and(StepResult::is_done));
            let mut readable = true;
            for open in reverts.iter().filter(|s| s.result.is_none()) {
                match settle_open_step(client, journal, user_id, open.id).await? {
                    Settled::Done => done = true,
                    Settled::NotDone => {}
                    Settled::Unknown(_) => readable = false,
                }
            }
            if !readable {
                report.unsettled += 1;
            } else if done {
                journal.finish_entry(&run.id, entry.row, EntryOutcome::Converted, None)?;
                report.reverted += 1;
            } else {
                report.not_done += 1;
            }
        }
        if report.unsettled == 0 {
            if journal
                .revert_entries(&run.id)?
                .iter()
                .any(RevertEntryRecord::is_pending)
            {
                journal.abandon_run(&run.id)?;
            } else {
                journal.finish_run(&run.id)?;
            }
        }
        settled.push(report);
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::super::RevertOptions;
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn the_request_carries_a_fresh_password_that_the_journal_never_sees() {
        let entry = decide_one(
            converted("u1", "adele.vance@contoso.com", "PendingAcceptance"),
            &RevertOptions::default(),
        );
        let (first, summary) = request_for(&entry);
        let (second, _) = request_for(&entry);
        let secret = |r: &ConvertToInternalRequest| {
            use secrecy::ExposeSecret;
            r.password_profile
                .as_ref()
                .and_then(|p| p.password.as_ref())
                .map(|p| p.expose_secret().to_owned())
                .unwrap()
        };
        assert_ne!(secret(&first), secret(&second));
        assert!(!summary.to_string().contains(&secret(&first)));
        assert_eq!(
            summary["passwordProfile"]["forceChangePasswordNextSignIn"],
            true
        );
        let body = serde_json::to_value(&first).unwrap();
        assert_eq!(body["userPrincipalName"], "adele.vance@contoso.com");
        assert_eq!(
            body["passwordProfile"]["forceChangePasswordNextSignIn"],
            true
        );
    }
}

/// Against the in-process emulator: a revert whose answer never came is settled by
/// reading the user back, and never sent twice.
#[cfg(test)]
mod settlement {
    use std::sync::Arc;
    use std::time::Duration;

    use b2b_graph::{AccessToken, ClientOptions, Endpoints, RetryPolicy, TokenSource};
    use futures::future::BoxFuture;
    use graph_emulator::simulation::SimulationOverrides;
    use graph_emulator::{EmulatorConfig, Tenant};
    use secrecy::SecretString;

    use super::super::{RevertDecision, RevertOptions};
    use super::*;
    use crate::journal::NewRevertRun;
    use crate::vocabulary::InvitationState;

    /// A token minted by the emulator up front: with every answer stalled, even the token
    /// endpoint's, the client must not need to sign in.
    struct Minted(String);

    impl TokenSource for Minted {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>> {
            let token = AccessToken {
                secret: SecretString::from(self.0.clone()),
                expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
            };
            Box::pin(async move { Ok(token) })
        }

        fn invalidate(&self) {}
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_lost_in_a_stall_is_settled_by_reading_back_and_sent_once() {
        let emulator = graph_emulator::start(
            Tenant::demo(),
            EmulatorConfig {
                overrides: SimulationOverrides {
                    stall_rate: Some(1.0),
                    stall_ms: Some(3_000),
                    no_throttle: true,
                    ..SimulationOverrides::default()
                },
                ..EmulatorConfig::default()
            },
        )
        .await
        .unwrap();
        let token = emulator
            .token_service()
            .mint_for_tests("5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c")
            .unwrap();
        let root = emulator.url();
        let client = GraphClient::new(
            Endpoints::new(root.clone(), root.clone()).unwrap(),
            Arc::new(Minted(token)),
            ClientOptions {
                timeout: Duration::from_millis(400),
                retry: RetryPolicy::none(),
                ..ClientOptions::default()
            },
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("run.db"), crate::clock::system()).unwrap();
        // Nina Park (demo user 22): converted, invitation pending.
        let nina = "d0000000-0000-4000-8000-000000000022";
        let entry = RevertEntry {
            row: 2,
            user: nina.into(),
            user_id: Some(nina.into()),
            display_name: Some("Nina Park".into()),
            user_principal_name: Some("nina.park@contoso.com".into()),
            mail: Some("nina@fabrikam.com".into()),
            state: Some(InvitationState::PendingAcceptance),
            decision: RevertDecision::Revert,
            new_user_principal_name: Some("nina.park@contoso.com".into()),
            reasons: Vec::new(),
            notes: Vec::new(),
        };
        let graph_root = root.to_string();
        let tenant = emulator.tenant_id().to_owned();
        let run = journal
            .start_revert_run(
                &NewRevertRun {
                    input_path: "test",
                    input_sha256: "x",
                    tenant_id: &tenant,
                    graph_root: &graph_root,
                    command: "revert",
                    options: &RevertOptions::default(),
                },
                &[entry],
            )
            .unwrap();

        // The POST reaches Graph and takes effect, but its answer is held past the
        // timeout; so is the read-back: the row stays pending, its step open.
        let execution = execute(&client, &journal, &run, &RevertExecOptions::default())
            .await
            .unwrap();
        assert!(execution.results.is_empty(), "{execution:?}");
        assert_eq!(execution.pending.len(), 1, "{execution:?}");
        let steps = journal.steps(&run.id, None).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].result, None, "left open, as after a crash");
        assert_eq!(
            journal.revert_run(&run.id).unwrap().unwrap().status,
            crate::vocabulary::RunStatus::Applying
        );

        // Graph calms down; the next revert settles the run before planning anything.
        emulator.calm();
        let settled = settle_unfinished(&client, &journal, &tenant, &graph_root)
            .await
            .unwrap();
        assert_eq!(settled.len(), 1);
        assert_eq!(
            (
                settled[0].reverted,
                settled[0].not_done,
                settled[0].unsettled
            ),
            (1, 0, 0)
        );
        let steps = journal.steps(&run.id, None).unwrap();
        assert_eq!(steps[0].result, Some(StepResult::ReconciledDone));
        let entries = journal.revert_entries(&run.id).unwrap();
        assert_eq!(entries[0].outcome, Some(EntryOutcome::Converted));
        assert_eq!(
            journal.revert_run(&run.id).unwrap().unwrap().status,
            crate::vocabulary::RunStatus::Finished
        );

        // A stalled request is logged once its held answer has gone out.
        let posts = |state: &serde_json::Value| {
            state["requests"]
                .as_array()
                .map(|log| {
                    log.iter()
                        .filter(|r| {
                            r["method"] == "POST"
                                && r["path"].as_str().unwrap_or("").starts_with("/beta/")
                        })
                        .count()
                })
                .unwrap_or(0)
        };
        let mut state = emulator.state();
        for _ in 0..50 {
            if posts(&state) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = emulator.state();
        }
        assert_eq!(posts(&state), 1, "sent once, never again blindly");
        let user = state["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == nina)
            .unwrap();
        assert_eq!(user["externalUserState"], serde_json::Value::Null);
        emulator.shutdown().await;
    }
}
