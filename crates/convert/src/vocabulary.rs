//! The words every part of the tool shares: a run's status, how a row ended, the kinds
//! and results of journaled steps, and a user's invitation state.
//!
//! Each is an enum with exactly one parse and one display, used alike by the planner,
//! the executor, the journal, `status` and the report, so that a value can never be
//! spelled one way in the journal and read another way in a report. The spellings are a
//! stable interface: they are stored in journals and printed in JSON and CSV.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A stored or typed value that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a known {what} (expected one of: {expected})")]
pub struct UnknownValue {
    /// Which vocabulary.
    pub what: &'static str,
    /// The value found.
    pub value: String,
    /// The spellings allowed.
    pub expected: String,
}

/// Declares a closed vocabulary: a `Copy` enum whose variants each have one spelling,
/// with `as_str`, `Display`, `FromStr` and serde all going through that spelling.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident as $what:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The one spelling, as stored and printed.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| $crate::vocabulary::UnknownValue {
                        what: $what,
                        value: text.chars().take(80).collect(),
                        expected: Self::ALL
                            .iter()
                            .map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// Where a run stands.
    pub enum RunStatus as "run status" {
        /// Started; rows may still be waiting for their steps. `apply` resumes it.
        Applying = "applying",
        /// Every row to convert has ended.
        Finished = "finished",
        /// Given up by the admin (`--new-run`) before it finished.
        Abandoned = "abandoned",
    }
}

vocabulary! {
    /// How a row to convert ended.
    pub enum EntryOutcome as "entry outcome" {
        /// Invited, and read back as `PendingAcceptance` (or already `Accepted`).
        Converted = "converted",
        /// A step failed; the error says which and why.
        Failed = "failed",
        /// Invited, but the read-back did not (yet) show the expected state.
        Unverified = "unverified",
    }
}

vocabulary! {
    /// The kinds of step the executor journals.
    pub enum StepKind as "step kind" {
        /// `POST /users/{id}/revokeSignInSessions`.
        RevokeSessions = "revoke_sessions",
        /// `PATCH /users/{id}` with the external address as `mail`.
        UpdateMail = "update_mail",
        /// `PATCH /users/{id}` adding the external address to `otherMails`.
        AddOtherMail = "add_other_mail",
        /// `POST /invitations` with `invitedUser.id`.
        Invite = "invite",
        /// `PATCH /users/{id}` with `userType` (`--user-type guest`).
        SetUserType = "set_user_type",
        /// `PATCH /users/{id}` with a random password nobody is told.
        ScramblePassword = "scramble_password",
        /// Read-back of `externalUserState`.
        Verify = "verify",
        /// A fresh invitation for a pending user (`reinvite`).
        Reinvite = "reinvite",
        /// `POST /beta/users/{id}/convertExternalToInternalMemberUser` (`revert`).
        Revert = "revert",
    }
}

vocabulary! {
    /// Which command a run recorded: `apply`'s conversions or `revert`'s. Journals written
    /// before runs had a kind hold only `convert` runs.
    pub enum RunKind as "run kind" {
        /// `apply`: internal users converted to B2B collaboration users.
        Convert = "convert",
        /// `revert`: B2B users converted back to internal members.
        Revert = "revert",
    }
}

vocabulary! {
    /// How a journaled step ended.
    pub enum StepResult as "step result" {
        /// Graph answered success.
        Ok = "ok",
        /// Graph (or the network) answered failure.
        Failed = "failed",
        /// No answer was recorded; reading the user back showed the step had taken effect.
        ReconciledDone = "reconciled_done",
        /// No answer was recorded; reading the user back showed it had not.
        ReconciledNotDone = "reconciled_not_done",
    }
}

impl StepResult {
    /// Whether the step's effect is in place.
    pub fn is_done(self) -> bool {
        matches!(self, StepResult::Ok | StepResult::ReconciledDone)
    }
}

/// A user's invitation state: Graph's `externalUserState`, or what the tool saw instead.
///
/// Graph documents `PendingAcceptance` and `Accepted`; one of its own pages spells the
/// first `Pending Acceptance`, so parsing ignores spaces and case. A value Graph may add
/// later is kept verbatim, never guessed into one of the known ones.
///
/// ```
/// use b2b_convert_core::vocabulary::InvitationState;
/// let state: InvitationState = "Pending Acceptance".parse().unwrap();
/// assert_eq!(state, InvitationState::PendingAcceptance);
/// assert_eq!(state.to_string(), "PendingAcceptance");
/// assert_eq!(state.label(), "Waiting for the partner");
/// assert_eq!(InvitationState::parse("Revoked").to_string(), "Revoked");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InvitationState {
    /// Invited; the partner has not redeemed yet.
    PendingAcceptance,
    /// The partner redeemed the invitation.
    Accepted,
    /// The user no longer exists in the tenant (seen by the tool, not a Graph value).
    Deleted,
    /// Any other value, verbatim.
    Other(String),
}

impl InvitationState {
    /// Reads a state, however Graph or an older journal spelled it.
    pub fn parse(text: &str) -> InvitationState {
        let folded: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "pendingacceptance" => InvitationState::PendingAcceptance,
            "accepted" => InvitationState::Accepted,
            "deleted" => InvitationState::Deleted,
            _ => InvitationState::Other(text.trim().to_owned()),
        }
    }

    /// Graph's `externalUserState`: absent or blank means the user was never invited.
    pub fn from_graph(value: Option<&str>) -> Option<InvitationState> {
        value
            .filter(|v| !v.trim().is_empty())
            .map(InvitationState::parse)
    }

    /// The one spelling, as stored and printed in JSON and CSV.
    pub fn as_str(&self) -> &str {
        match self {
            InvitationState::PendingAcceptance => "PendingAcceptance",
            InvitationState::Accepted => "Accepted",
            InvitationState::Deleted => "Deleted",
            InvitationState::Other(text) => text,
        }
    }

    /// Plain words for people (tables and the report).
    pub fn label(&self) -> &str {
        match self {
            InvitationState::PendingAcceptance => "Waiting for the partner",
            InvitationState::Accepted => "Accepted",
            InvitationState::Deleted => "User deleted",
            InvitationState::Other(text) => text,
        }
    }

    /// Plain words for where a user's invitation stands, as a journal records it: the
    /// one wording the report's counts and table (and anything else shown to people)
    /// share. `recorded` is the state as last recorded, `None` when Graph showed none;
    /// `checked` says whether Graph has been read since the invitation was sent.
    ///
    /// An invitation is recorded as pending when it is sent, before anyone has looked:
    /// until Graph is read back that is an assumption, and is said as one.
    pub fn describe(recorded: Option<&InvitationState>, checked: bool) -> &str {
        match recorded {
            Some(InvitationState::PendingAcceptance) if !checked => "Not checked yet",
            Some(state) => state.label(),
            None => "No invitation found",
        }
    }

    /// Whether the invitation is still waiting for the partner.
    pub fn is_pending(&self) -> bool {
        *self == InvitationState::PendingAcceptance
    }

    /// Whether the user has been invited (pending or accepted): the conversion happened.
    pub fn is_invited(&self) -> bool {
        matches!(
            self,
            InvitationState::PendingAcceptance | InvitationState::Accepted
        )
    }
}

impl fmt::Display for InvitationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvitationState {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(InvitationState::parse(text))
    }
}

impl Serialize for InvitationState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InvitationState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(InvitationState::parse(&String::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_value_round_trips_through_its_spelling() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(*status));
        }
        for outcome in EntryOutcome::ALL {
            assert_eq!(outcome.to_string().parse::<EntryOutcome>(), Ok(*outcome));
            let json = serde_json::to_string(outcome).unwrap();
            assert_eq!(
                serde_json::from_str::<EntryOutcome>(&json).unwrap(),
                *outcome
            );
        }
        for kind in StepKind::ALL {
            assert_eq!(kind.as_str().parse::<StepKind>(), Ok(*kind));
        }
        for result in StepResult::ALL {
            assert_eq!(result.as_str().parse::<StepResult>(), Ok(*result));
        }
        for kind in RunKind::ALL {
            assert_eq!(kind.as_str().parse::<RunKind>(), Ok(*kind));
        }
    }

    #[test]
    fn an_unknown_spelling_is_named_in_the_error() {
        let error = "Finished".parse::<RunStatus>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`Finished` is not a known run status (expected one of: applying, finished, abandoned)"
        );
    }

    #[test]
    fn invitation_states_fold_spaces_and_case_and_keep_the_unknown() {
        for text in [
            "PendingAcceptance",
            "Pending Acceptance",
            "pendingacceptance",
        ] {
            assert_eq!(
                InvitationState::parse(text),
                InvitationState::PendingAcceptance
            );
        }
        assert_eq!(
            InvitationState::parse("ACCEPTED"),
            InvitationState::Accepted
        );
        assert_eq!(
            InvitationState::parse("Revoked"),
            InvitationState::Other("Revoked".into())
        );
        assert_eq!(InvitationState::from_graph(Some("  ")), None);
        assert_eq!(InvitationState::from_graph(None), None);
        let json = serde_json::to_string(&InvitationState::PendingAcceptance).unwrap();
        assert_eq!(json, "\"PendingAcceptance\"");
        assert!(InvitationState::Accepted.is_invited());
        assert!(!InvitationState::Deleted.is_invited());
    }

    #[test]
    fn invitation_states_have_plain_words_and_never_graphs_spelling() {
        let pending = InvitationState::PendingAcceptance;
        assert_eq!(pending.label(), "Waiting for the partner");
        assert_eq!(InvitationState::Accepted.label(), "Accepted");
        assert_eq!(InvitationState::Deleted.label(), "User deleted");
        // A value Graph may add later is shown as Graph spells it: guessing is worse.
        assert_eq!(InvitationState::parse("Revoked").label(), "Revoked");

        assert_eq!(
            InvitationState::describe(Some(&pending), true),
            "Waiting for the partner"
        );
        assert_eq!(
            InvitationState::describe(Some(&pending), false),
            "Not checked yet",
            "recorded when sent, never read back: an assumption"
        );
        assert_eq!(
            InvitationState::describe(Some(&InvitationState::Accepted), false),
            "Accepted"
        );
        assert_eq!(InvitationState::describe(None, true), "No invitation found");
        for state in [
            InvitationState::PendingAcceptance,
            InvitationState::Accepted,
            InvitationState::Deleted,
        ] {
            for checked in [false, true] {
                let words = InvitationState::describe(Some(&state), checked);
                assert!(
                    !words.contains("PendingAcceptance"),
                    "{state}: Graph's spelling shown"
                );
            }
        }
    }
}
