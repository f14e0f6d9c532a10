//! Who has accepted: each row of a run joined with its user's invitation, and the
//! refresh of invitation states from Graph that `status --refresh`, `reinvite` and
//! `demo` share.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use b2b_graph::{GraphClient, GraphError, MAX_BATCH};

use crate::journal::{Journal, JournalError, RunRecord};
use crate::plan::{Decision, ReasonCode};
use crate::vocabulary::{EntryOutcome, InvitationState};

/// One row of a run as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRow {
    /// Input line.
    pub row: u64,
    /// Object id.
    pub user_id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
    /// The external address.
    pub external_email: String,
    /// The plan's decision.
    pub decision: Decision,
    /// The plan's reason codes.
    pub reasons: Vec<ReasonCode>,
    /// How apply ended for the row.
    pub outcome: Option<EntryOutcome>,
    /// Why it failed.
    pub error: Option<String>,
    /// `externalUserState` as last read (or recorded at invitation).
    pub state: Option<InvitationState>,
    /// When the latest invitation was sent.
    pub invited_at: Option<Timestamp>,
    /// `externalUserStateChangeDateTime` as last read.
    pub state_changed_at: Option<Timestamp>,
    /// When the state was last read from Graph.
    pub checked_at: Option<Timestamp>,
    /// Days the invitation has been pending.
    pub pending_days: Option<f64>,
    /// Invitations sent.
    pub invite_count: Option<u32>,
    /// The redeem link to deliver, for invitations sent without email.
    pub redeem_url: Option<String>,
}

impl StatusRow {
    /// Whether the invitation has been pending for longer than `age`.
    pub fn pending_longer_than(&self, age: SignedDuration) -> bool {
        self.pending_days
            .is_some_and(|days| days > age.as_secs_f64() / SECONDS_PER_DAY)
    }
}

const SECONDS_PER_DAY: f64 = 86_400.0;

/// The status of every row of `run`, in input order, as of `now`.
pub fn status_rows(
    journal: &Journal,
    run: &RunRecord,
    now: Timestamp,
) -> Result<Vec<StatusRow>, JournalError> {
    let invitations = journal.invitation_index()?;
    Ok(journal
        .entries(&run.id)?
        .into_iter()
        .map(|entry| {
            let invitation = invitations.of(&entry.plan);
            let pending = invitation.filter(|i| i.state.as_ref().is_some_and(|s| s.is_pending()));
            let plan = entry.plan;
            StatusRow {
                row: plan.row,
                user_id: plan.user_id,
                display_name: plan.display_name,
                user_principal_name: plan.user_principal_name,
                external_email: plan.external_email,
                decision: plan.decision,
                reasons: plan.reasons.iter().map(|r| r.code).collect(),
                outcome: entry.outcome,
                error: entry.error,
                state: invitation.and_then(|i| i.state.clone()),
                invited_at: invitation.map(|i| i.invited_at),
                state_changed_at: invitation.and_then(|i| i.state_changed_at),
                checked_at: invitation.and_then(|i| i.checked_at),
                pending_days: pending
                    .map(|i| now.duration_since(i.invited_at).as_secs_f64() / SECONDS_PER_DAY),
                invite_count: invitation.map(|i| i.invite_count),
                redeem_url: invitation.and_then(|i| i.redeem_url.clone()),
            }
        })
        .collect())
}

/// What a refresh read.
#[derive(Debug, Default)]
pub struct Refresh {
    /// Users read back (found or gone).
    pub read: usize,
    /// Users whose state changed.
    pub changed: usize,
    /// Users that could not be read, with Graph's error; their state is left as it was.
    pub unreadable: Vec<(String, GraphError)>,
}

/// A refresh that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A `$batch` request as a whole failed.
    #[error("refreshing invitation states")]
    Graph(#[from] GraphError),
}

/// Users read per round: a whole number of `$batch` requests, so each round is full
/// batches and the journal is written between rounds (a failure loses one round only).
const USERS_PER_ROUND: usize = MAX_BATCH * 10;

/// Reads `externalUserState` back for every invited user (batched) and records what
/// changed. A user Graph no longer has is recorded as [`InvitationState::Deleted`].
pub async fn refresh(client: &GraphClient, journal: &Journal) -> Result<Refresh, RefreshError> {
    let ids: Vec<String> = journal
        .invitations()?
        .into_iter()
        .map(|i| i.user_id)
        .collect();
    let mut refresh = Refresh::default();
    for round in ids.chunks(USERS_PER_ROUND) {
        let answers = client
            .get_users_by_ids(
                round,
                &["id", "externalUserState", "externalUserStateChangeDateTime"],
            )
            .await?;
        for (id, answer) in answers {
            let (state, changed_at) = match answer {
                Ok(Some(user)) => (
                    InvitationState::from_graph(user.external_user_state.as_deref()),
                    user.external_user_state_change_date_time,
                ),
                Ok(None) => (Some(InvitationState::Deleted), None),
                Err(error) => {
                    refresh.unreadable.push((id, error));
                    continue;
                }
            };
            refresh.read += 1;
            if journal.record_state(&id, state.as_ref(), changed_at)? {
                refresh.changed += 1;
            }
        }
    }
    Ok(refresh)
}
