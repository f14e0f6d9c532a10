//! Converting through the executor against the emulator: every step journaled, a
//! resume repeats nothing, and an interrupted step is settled by reading the user back.

use b2b_convert_core::executor::{self, ExecutorOptions, invitation_request};
use b2b_convert_core::facts::{self, Strategy};
use b2b_convert_core::journal::{EntryOutcome, Journal, RunRecord, RunStatus, StepKind};
use b2b_convert_core::plan::{Action, Decision, Plan, PlanOptions};
use b2b_convert_core::status;
use b2b_convert_core::vocabulary::InvitationState;
use b2b_graph::model::UserUpdate;

use crate::support::{Fixture, invited_user_ids};

async fn planned_run(fixture: &Fixture) -> (Journal, RunRecord, Plan) {
    let input = fixture.demo_input();
    let plan = facts::plan_rows(
        &fixture.client,
        &input.rows,
        &PlanOptions::new(&fixture.tenant_id),
        Strategy::Auto,
        8,
        &|_| {},
    )
    .await
    .unwrap();
    let journal = fixture.journal();
    let run = fixture.start_run(&journal, &input, &plan);
    (journal, run, plan)
}

fn options() -> ExecutorOptions {
    ExecutorOptions {
        verify_delay: std::time::Duration::from_millis(50),
        ..ExecutorOptions::default()
    }
}

fn to_convert(plan: &Plan) -> Vec<String> {
    let mut ids: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.decision == Decision::Convert)
        .filter_map(|e| e.user_id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converts_every_eligible_user_once_and_a_second_execution_does_nothing() {
    let fixture = Fixture::demo().await;
    let (journal, run, plan) = planned_run(&fixture).await;
    let execution = executor::execute(&fixture.client, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    assert_eq!(execution.unfinished, 0);
    assert!(execution.stopped.is_none());
    assert!(
        execution
            .results
            .iter()
            .all(|r| r.outcome == EntryOutcome::Converted),
        "{:?}",
        execution.results
    );
    let mut invited = invited_user_ids(&fixture.state());
    invited.sort();
    assert_eq!(
        invited,
        to_convert(&plan),
        "exactly the eligible users, once each"
    );
    assert_eq!(
        journal.run(&run.id).unwrap().unwrap().status,
        RunStatus::Finished
    );
    assert!(journal.pending_entries(&run.id).unwrap().is_empty());

    let again = executor::execute(&fixture.client, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    assert!(again.results.is_empty());
    assert_eq!(invited_user_ids(&fixture.state()).len(), invited.len());

    // The invitations are tracked: a refresh reads each one back, unchanged.
    let refresh = status::refresh(&fixture.client, &journal).await.unwrap();
    assert_eq!(refresh.read, invited.len());
    assert_eq!(refresh.changed, 0);
    assert!(refresh.unreadable.is_empty());
    let rows = status::status_rows(&journal, &run, jiff::Timestamp::now()).unwrap();
    let pending = rows
        .iter()
        .filter(|r| r.state == Some(InvitationState::PendingAcceptance))
        .count();
    assert_eq!(pending, invited.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_that_never_reached_graph_is_settled_and_sent_once() {
    let fixture = Fixture::demo().await;
    let (journal, run, plan) = planned_run(&fixture).await;
    let entry = plan
        .entries
        .iter()
        .find(|e| e.decision == Decision::Convert)
        .unwrap();
    let user_id = entry.user_id.clone().unwrap();
    // The process "died" right after writing the invitation's intent.
    journal
        .record_intent(
            &run.id,
            entry.row,
            &user_id,
            StepKind::Invite,
            &serde_json::json!({}),
        )
        .unwrap();

    executor::execute(&fixture.client, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    let invited = invited_user_ids(&fixture.state());
    assert_eq!(invited.iter().filter(|id| **id == user_id).count(), 1);
    let steps = journal.steps(&run.id, Some(entry.row)).unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s.kind == StepKind::Invite && s.result.is_some_and(|r| !r.is_done())),
        "the dangling intent is settled as not done: {steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_whose_request_took_effect_is_never_sent_again() {
    let fixture = Fixture::demo().await;
    let (journal, run, plan) = planned_run(&fixture).await;
    let entry = plan
        .entries
        .iter()
        .find(|e| {
            e.decision == Decision::Convert
                && e.actions
                    .iter()
                    .any(|a| matches!(a, Action::UpdateMail { .. }))
        })
        .unwrap();
    let user_id = entry.user_id.clone().unwrap();
    // The process sent both requests and died before recording either answer.
    for kind in [StepKind::UpdateMail, StepKind::Invite] {
        journal
            .record_intent(&run.id, entry.row, &user_id, kind, &serde_json::json!({}))
            .unwrap();
    }
    fixture
        .client
        .update_user(
            &user_id,
            &UserUpdate {
                mail: Some(entry.external_email.clone()),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    let settings = entry.invitation_settings().unwrap();
    fixture
        .client
        .invite_existing_user(
            &user_id,
            &invitation_request(&entry.external_email, settings),
        )
        .await
        .unwrap();

    let execution = executor::execute(&fixture.client, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    let result = execution
        .results
        .iter()
        .find(|r| r.user_id == user_id)
        .unwrap();
    assert_eq!(result.outcome, EntryOutcome::Converted);
    let invited = invited_user_ids(&fixture.state());
    assert_eq!(
        invited.iter().filter(|id| **id == user_id).count(),
        1,
        "read back as invited, so not invited again"
    );
    let invitation = journal
        .invitation_index()
        .unwrap()
        .of_user(&user_id)
        .cloned()
        .expect("a reconciled invitation is still tracked");
    assert_eq!(invitation.state, Some(InvitationState::PendingAcceptance));
}

/// A credential that signs in a few times and then is refused, like an access token
/// file lapsing or a secret revoked mid-run.
struct Lapsing {
    token: String,
    left: std::sync::atomic::AtomicUsize,
}

impl b2b_graph::TokenSource for Lapsing {
    fn token(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<b2b_graph::AccessToken, b2b_graph::GraphError>> {
        let left = self.left.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        );
        let answer = match left {
            Ok(_) => Ok(b2b_graph::AccessToken {
                secret: secrecy::SecretString::from(self.token.clone()),
                expires_at: jiff::Timestamp::MAX,
            }),
            Err(_) => Err(b2b_graph::GraphError::SignIn {
                credential: "access token file token.jwt".into(),
                reason: "the token expires at 2026-12-02T02:00:00Z; the run stops before it lapses"
                    .into(),
                fix: "get a new access token".into(),
                error_codes: Vec::new(),
                trace_id: None,
                correlation_id: None,
            }),
        };
        Box::pin(async move { answer })
    }

    fn invalidate(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_lapsing_mid_run_stops_it_with_nothing_failed_and_a_resume_finishes() {
    let fixture = Fixture::demo().await;
    let (journal, run, plan) = planned_run(&fixture).await;
    let token = fixture
        .emulator
        .token_service()
        .mint_for_tests(crate::support::DEMO_CLIENT_ID)
        .unwrap();
    let root = fixture.emulator.url();
    let lapsing = b2b_graph::GraphClient::new(
        b2b_graph::Endpoints::new(root.clone(), root).unwrap(),
        std::sync::Arc::new(Lapsing {
            token,
            left: 5.into(),
        }),
        b2b_graph::ClientOptions::default(),
    )
    .unwrap();
    let execution = executor::execute(&lapsing, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    assert!(execution.sign_in_lost);
    let stopped = execution.stopped.clone().unwrap_or_default();
    assert!(
        stopped.contains("sign-in with access token file"),
        "{stopped}"
    );
    assert!(execution.unfinished > 0, "{execution:?}");
    assert!(
        execution
            .results
            .iter()
            .all(|r| r.outcome == EntryOutcome::Converted),
        "a lapsed credential fails no row: {:?}",
        execution.results
    );

    let resumed = executor::execute(&fixture.client, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    assert_eq!(resumed.unfinished, 0, "{resumed:?}");
    assert!(!resumed.sign_in_lost);
    let mut invited = invited_user_ids(&fixture.state());
    invited.sort();
    assert_eq!(
        invited,
        to_convert(&plan),
        "each eligible user invited once"
    );
}

/// The policies change after the plan was made: Graph refuses the invitations of two
/// partners (a deny-listed domain, a partner tenant blocked by cross-tenant access) with
/// 400s, which fail those rows only; the execution converts everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_refusal_fails_only_its_row() {
    let fixture = Fixture::demo().await;
    let (journal, run, plan) = planned_run(&fixture).await;
    let row_of = |user: &str| {
        plan.entries
            .iter()
            .find(|e| e.user_id.as_deref() == Some(user) && e.decision == Decision::Convert)
            .map(|e| e.row)
            .unwrap_or_else(|| panic!("{user} is to convert"))
    };
    let ben = "d0000000-0000-4000-8000-000000000002";
    let chen = "d0000000-0000-4000-8000-000000000003";
    let document = serde_json::json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
        {"AllowedDomains": [], "BlockedDomains": ["northwind.com"]}}});
    let blocked = serde_json::json!({"accessType": "blocked",
        "targets": [{"target": "AllUsers", "targetType": "user"}]});
    fixture
        .emulator
        .set_policies(
            &serde_json::json!({
                "b2bManagementPolicy": {"definition": [document.to_string()]},
                "crossTenantAccessPolicy": {"partners": [{
                    "tenantId": "c1000000-0000-4000-8000-000000000003",
                    "b2bCollaborationInbound": {"usersAndGroups": blocked}}]}
            }),
            false,
        )
        .unwrap();

    let execution = executor::execute(&fixture.client, &journal, &run, &options(), &|_| {})
        .await
        .unwrap();
    assert!(execution.stopped.is_none(), "{:?}", execution.stopped);
    assert_eq!(execution.unfinished, 0);
    let failed: Vec<u64> = execution
        .results
        .iter()
        .filter(|r| r.outcome == EntryOutcome::Failed)
        .map(|r| r.row)
        .collect();
    assert_eq!(
        failed,
        [row_of(ben), row_of(chen)],
        "{:?}",
        execution.results
    );
    let converted = execution
        .results
        .iter()
        .filter(|r| r.outcome == EntryOutcome::Converted)
        .count();
    assert_eq!(converted, to_convert(&plan).len() - 2);
    let mut invited = invited_user_ids(&fixture.state());
    invited.sort();
    let mut expected: Vec<String> = to_convert(&plan)
        .into_iter()
        .filter(|id| id != ben && id != chen)
        .collect();
    expected.sort();
    assert_eq!(invited, expected);
}
