//! Reinviting: who is due for a fresh invitation, and sending it.
//!
//! Graph cannot return an old redeem URL, so a fresh invitation (a new URL, one more
//! email) is the only way to give a partner a working link again. Only users whose
//! invitation is still `PendingAcceptance` after a refresh are due: someone who accepted
//! since the last check must not get a confusing resend (Graph refuses it anyway
//! without `resetRedemption`).

use jiff::{SignedDuration, Timestamp};

use b2b_graph::GraphClient;

use crate::executor::{self, ExecuteError};
use crate::journal::{InvitationRecord, Journal, JournalError};

/// The invitations pending for longer than `older_than` at `now`, oldest first.
pub fn due(
    journal: &Journal,
    now: Timestamp,
    older_than: SignedDuration,
) -> Result<Vec<InvitationRecord>, JournalError> {
    let mut due = journal.invitations()?;
    due.retain(|i| {
        i.state.as_ref().is_some_and(|s| s.is_pending())
            && now.duration_since(i.invited_at) > older_than
    });
    Ok(due)
}

/// How one reinvitation went.
#[derive(Debug)]
pub enum Reinvited {
    /// Sent; the redeem URL when the invitation went without email (deliver it).
    Sent {
        /// The link to deliver, for invitations sent without email.
        redeem_url: Option<String>,
    },
    /// Graph refused or failed (the message says why, with Graph's request-id).
    Failed(String),
    /// The journal no longer holds the row this invitation came from, so the
    /// invitation's settings are unknown and nothing was sent.
    NotInJournal,
}

/// Sends a fresh invitation to the user of `invitation`, with the settings of the row
/// that first invited them, journaled as a `reinvite` step of that row's run.
pub async fn send(
    client: &GraphClient,
    journal: &Journal,
    invitation: &InvitationRecord,
) -> Result<Reinvited, ExecuteError> {
    let Some(run) = journal.run(&invitation.run_id)? else {
        return Ok(Reinvited::NotInJournal);
    };
    let entries = journal.entries(&run.id)?;
    let Some(entry) = entries.iter().find(|e| e.plan.row == invitation.row) else {
        return Ok(Reinvited::NotInJournal);
    };
    let Some(settings) = entry.plan.invitation_settings() else {
        return Ok(Reinvited::NotInJournal);
    };
    Ok(
        match executor::reinvite(client, journal, &run, &entry.plan, settings).await? {
            Ok(redeem_url) => Reinvited::Sent { redeem_url },
            Err(error) => Reinvited::Failed(error),
        },
    )
}
