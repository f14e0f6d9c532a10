//! Reinviting: who is due for a fresh invitation, and sending it — to the users of a
//! journaled run, or to users named directly (invited by the portal, a script, or
//! another tool: a plan's `already_invited` rows).
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
use crate::plan::InvitationSettings;

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

/// A user named directly (`reinvite --user`, `--input`), whether or not a journaled run
/// invited them: the `already_invited` rows of a plan, invited by the portal or a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// Object id or UPN, as given.
    pub reference: String,
    /// Where the invitation lands and whether Microsoft emails it.
    pub settings: InvitationSettings,
}

/// How a reinvitation of a named user went.
#[derive(Debug)]
pub enum NamedOutcome {
    /// Sent to this address; the redeem URL when it went without email.
    Sent {
        /// The user's object id.
        user_id: String,
        /// The address the invitation went to (the user's `mail`).
        address: String,
        /// The link to deliver, for invitations sent without email.
        redeem_url: Option<String>,
    },
    /// Not sent: the user is missing, not pending, or has no address to invite; or
    /// Graph refused (the message says which, with Graph's request-id).
    NotSent(String),
}

/// Sends a fresh invitation to a user whose invitation is still pending. Graph refuses
/// (without `resetRedemption`) to re-invite a user who accepted, so the state is read
/// first and anyone not pending is left alone with the reason said. The address is the
/// one the user was invited with: their `mail`.
pub async fn send_to_named(client: &GraphClient, named: &Named) -> NamedOutcome {
    let reference = named.reference.trim();
    let user = match client
        .get_user(
            reference,
            &["id", "mail", "userPrincipalName", "externalUserState"],
        )
        .await
    {
        Ok(Some(user)) => user,
        Ok(None) => return NamedOutcome::NotSent(format!("no user {reference:?}")),
        Err(error) => return NamedOutcome::NotSent(format!("reading the user: {error}")),
    };
    let state = crate::vocabulary::InvitationState::from_graph(user.external_user_state.as_deref());
    if !state.as_ref().is_some_and(|s| s.is_pending()) {
        return NamedOutcome::NotSent(match state {
            Some(state) => format!("not pending: {}", state.label()),
            None => "never invited: `b2b-convert apply` converts this user".to_owned(),
        });
    }
    let Some(address) = user.mail.clone().filter(|m| !m.is_empty()) else {
        return NamedOutcome::NotSent("the user has no mail to invite".to_owned());
    };
    let request = executor::invitation_request(&address, &named.settings);
    match client.invite_existing_user(&user.id, &request).await {
        Ok(invitation) => NamedOutcome::Sent {
            user_id: user.id,
            address,
            redeem_url: (!named.settings.send_email)
                .then_some(invitation.invite_redeem_url)
                .flatten(),
        },
        // The user stays pending either way; a lost answer only loses the new link.
        Err(error) if error.outcome_unknown() => NamedOutcome::NotSent(format!(
            "the answer was lost, so the invitation may or may not be out ({error}); run the same command again for a link"
        )),
        Err(error) => NamedOutcome::NotSent(error.to_string()),
    }
}
