//! Invitations: who has been invited, when, how often, and the state last read from
//! Graph — what `status`, `reinvite` and the report track after a run.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Journal, JournalError};
use crate::plan::PlanEntry;
use crate::vocabulary::InvitationState;

/// The invitation state of one user, as last invited and last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRecord {
    /// The user.
    pub user_id: String,
    /// The run that first invited the user.
    pub run_id: String,
    /// That run's input line.
    pub row: u64,
    /// Display name.
    pub display_name: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
    /// The address invited.
    pub external_email: String,
    /// When the latest invitation was sent.
    pub invited_at: Timestamp,
    /// How many invitations were sent (1 + reinvites).
    pub invite_count: u32,
    /// The redeem URL, kept only for invitations sent without email.
    pub redeem_url: Option<String>,
    /// `externalUserState` as last read (or recorded at invitation).
    pub state: Option<InvitationState>,
    /// `externalUserStateChangeDateTime` as last read.
    pub state_changed_at: Option<Timestamp>,
    /// When the state was last read from Graph.
    pub checked_at: Option<Timestamp>,
}

impl Journal {
    /// Records the state read from Graph; returns whether it changed.
    pub fn record_state(
        &self,
        user_id: &str,
        state: Option<&InvitationState>,
        changed_at: Option<Timestamp>,
    ) -> Result<bool, JournalError> {
        let state = state.map(InvitationState::as_str);
        let now = self.now();
        let conn = self.conn()?;
        let before: Option<Option<String>> = conn
            .query_row(
                "SELECT state FROM invitations WHERE user_id = ?1",
                [user_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        conn.execute(
            "UPDATE invitations SET state = ?1, state_changed_at = COALESCE(?2, state_changed_at), checked_at = ?3
             WHERE user_id = ?4",
            params![state, changed_at.map(|t| t.to_string()), now, user_id],
        )
        .map_err(|e| self.sql(e))?;
        // Compared as states, not text: an older journal may hold another spelling.
        Ok(before.is_some_and(|b| {
            b.as_deref().map(InvitationState::parse) != state.map(InvitationState::parse)
        }))
    }

    /// Every user this journal has invited, by invitation time.
    pub fn invitations(&self) -> Result<Vec<InvitationRecord>, JournalError> {
        self.invitations_where("1 = 1", [])
    }

    /// The invitation of one user, if the journal has invited them.
    pub fn invitation(&self, user_id: &str) -> Result<Option<InvitationRecord>, JournalError> {
        // The id is the one the plan recorded, exactly as written here: an exact match
        // uses the primary key (a case-folding one would scan the table on every call).
        Ok(self.invitations_where("user_id = ?1", [user_id])?.pop())
    }

    fn invitations_where<P: rusqlite::Params>(
        &self,
        clause: &str,
        params: P,
    ) -> Result<Vec<InvitationRecord>, JournalError> {
        let sql = format!(
            "SELECT user_id, run_id, row, display_name, upn, external_email, invited_at, invite_count,
                    redeem_url, state, state_changed_at, checked_at
             FROM invitations WHERE {clause} ORDER BY invited_at, user_id"
        );
        let raw = self.query_rows(&sql, params, |r| {
            Ok(RawInvitation {
                user_id: r.get(0)?,
                run_id: r.get(1)?,
                row: r.get(2)?,
                display_name: r.get(3)?,
                upn: r.get(4)?,
                external_email: r.get(5)?,
                invited_at: r.get(6)?,
                invite_count: r.get(7)?,
                redeem_url: r.get(8)?,
                state: r.get(9)?,
                state_changed_at: r.get(10)?,
                checked_at: r.get(11)?,
            })
        })?;
        raw.into_iter()
            .map(|r| {
                Ok(InvitationRecord {
                    user_id: r.user_id,
                    run_id: r.run_id,
                    row: r.row,
                    display_name: r.display_name,
                    user_principal_name: r.upn,
                    external_email: r.external_email,
                    invited_at: self.timestamp(&r.invited_at)?,
                    invite_count: r.invite_count,
                    redeem_url: r.redeem_url,
                    state: r.state.as_deref().map(InvitationState::parse),
                    state_changed_at: self.optional_timestamp(r.state_changed_at.as_deref())?,
                    checked_at: self.optional_timestamp(r.checked_at.as_deref())?,
                })
            })
            .collect()
    }
}

/// A user just invited: what redemption tracking records.
#[derive(Debug, Clone, Copy)]
pub struct Invited<'a> {
    /// The run.
    pub run_id: &'a str,
    /// The entry of the run.
    pub entry: &'a PlanEntry,
    /// The user.
    pub user_id: &'a str,
    /// The redeem URL, only for invitations sent without email (see the module docs).
    pub redeem_url: Option<&'a str>,
}

pub(super) fn upsert_invitation(
    conn: &Connection,
    now: &str,
    invited: &Invited<'_>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO invitations (user_id, run_id, row, display_name, upn, external_email, invited_at, redeem_url, state, state_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?7)
         ON CONFLICT (user_id) DO UPDATE SET
             invited_at = excluded.invited_at,
             invite_count = invitations.invite_count + 1,
             redeem_url = excluded.redeem_url,
             external_email = excluded.external_email,
             state = CASE WHEN invitations.state = ?9 THEN invitations.state ELSE ?10 END",
        params![
            invited.user_id,
            invited.run_id,
            invited.entry.row,
            invited.entry.display_name,
            invited.entry.user_principal_name,
            invited.entry.external_email,
            now,
            invited.redeem_url,
            InvitationState::Accepted.as_str(),
            InvitationState::PendingAcceptance.as_str(),
        ],
    )
}

struct RawInvitation {
    user_id: String,
    run_id: String,
    row: u64,
    display_name: Option<String>,
    upn: Option<String>,
    external_email: String,
    invited_at: String,
    invite_count: u32,
    redeem_url: Option<String>,
    state: Option<String>,
    state_changed_at: Option<String>,
    checked_at: Option<String>,
}

/// The journal's invitations by user, for joining them with a run's entries: one place
/// decides how a row finds its user's invitation (object ids compare without case, as
/// Graph compares them).
#[derive(Debug, Clone, Default)]
pub struct InvitationIndex {
    by_user: std::collections::HashMap<String, InvitationRecord>,
}

impl InvitationIndex {
    /// Indexes invitations by user id.
    pub fn new(invitations: Vec<InvitationRecord>) -> Self {
        InvitationIndex {
            by_user: invitations
                .into_iter()
                .map(|i| (i.user_id.to_lowercase(), i))
                .collect(),
        }
    }

    /// The invitation of a user, by object id.
    pub fn of_user(&self, user_id: &str) -> Option<&InvitationRecord> {
        self.by_user.get(&user_id.to_lowercase())
    }

    /// The invitation of a planned row's user.
    pub fn of(&self, entry: &PlanEntry) -> Option<&InvitationRecord> {
        entry.user_id.as_deref().and_then(|id| self.of_user(id))
    }
}

impl Journal {
    /// Every invitation, indexed by user.
    pub fn invitation_index(&self) -> Result<InvitationIndex, JournalError> {
        Ok(InvitationIndex::new(self.invitations()?))
    }
}
