//! `revert`: converting B2B users back into internal members, for users converted by
//! mistake (before they redeemed, or when they must go back), through Graph's beta
//! `POST /beta/users/{id}/convertExternalToInternalMemberUser`.
//!
//! What Microsoft documents (microsoft-graph-docs-contrib api-reference/beta/api/
//! user-convertexternaltointernalmemberuser.md; entra-docs
//! docs/identity/users/convert-external-users-internal.md; graph-facts.md §8):
//! - only users who sign in "via a method not managed by the host organization" are
//!   eligible; anyone else gets 400 "not eligible";
//! - a cloud user needs a new `userPrincipalName` in a verified, non-federated domain and a
//!   `passwordProfile` (both "Required"); a user synced from on-premises needs an empty body
//!   (their UPN and password are mastered on-premises), and whether a password may, must or
//!   must not be set for them depends on the tenant's federation and password hash sync,
//!   which Graph does not show;
//! - "A user cannot be converted if they have a role assigned to them";
//! - a converted user can't be invited back to external (Graph answers 412).
//!
//! The decisions ([`decide`], pure, unit-tested) block a user who is not external (never
//! converted, or already internal), who has redeemed without `--include-accepted` (a
//! redeemed partner loses their home sign-in here), who is synced from on-premises (the
//! rules above can't be checked from Graph, so the tool leaves them to the admin center),
//! or whose UPN would not be in a verified, managed domain or is held by someone else.
//! Each cloud user is sent their UPN (by default the one they have, else
//! `{local part}@{--upn-domain}`) and a random password nobody is told, to be changed at
//! first sign-in: the admin hands out a password through the admin center's reset.
//!
//! Journaled like `apply` ([`crate::journal`]): a run of kind `revert`, each row with its
//! decision, and each POST as an intent before and an outcome after. A POST whose outcome
//! is unknown (a 5xx, a timeout, a cut connection after sending) is settled at once by
//! reading the user back, and sent again only when the read proves it did not happen. A
//! revert run left unfinished (a crash, an interrupt, Graph unreachable) is never resumed
//! blindly: the next `revert` first settles its open steps by reading those users back
//! ([`settle_unfinished`]), then plans afresh from what Graph says now — a user already
//! internal is blocked as such, so nothing is sent twice.
//!
//! The module's files: `sources.rs` reads who to revert (a file or a journal run),
//! `decision.rs` looks each user up and decides (the pure [`decide`]), `execution.rs`
//! reverts, settles and verifies, journaled.

mod decision;
mod execution;
mod sources;

pub use decision::{Lookup, USER_SELECT, UpnCheck, decide, is_external, plan, target_upn};
pub use execution::{
    RevertExecOptions, RevertExecution, RevertResult, SettledRun, execute, settle_unfinished,
};
pub use sources::{Source, Sources, parse_sources, read_sources, sources_from_run};

use serde::{Deserialize, Serialize};

use crate::journal::EntryOutcome;
use crate::vocabulary::{InvitationState, vocabulary};

/// The run-wide choices of a `revert`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertOptions {
    /// Build each new UPN as `{local part}@{this domain}` instead of keeping the user's.
    pub upn_domain: Option<String>,
    /// Revert users who have redeemed their invitation too.
    pub include_accepted: bool,
}

vocabulary! {
    /// What `revert` decided for a row.
    pub enum RevertDecision as "revert decision" {
        /// Converted back to an internal member.
        Revert = "revert",
        /// Left alone; the reasons say why.
        Blocked = "blocked",
    }
}

vocabulary! {
    /// Why a row is not reverted. A stable interface, like the plan's reason codes.
    pub enum RevertCode as "revert reason code" {
        /// No user has that object id, UPN or mail.
        NotFound = "not_found",
        /// Several users have that mail.
        AmbiguousUser = "ambiguous_user",
        /// The same user is on an earlier row.
        DuplicateRow = "duplicate_row",
        /// The user could not be read from Graph.
        LookupFailed = "lookup_failed",
        /// Not an external user: never converted, or already internal.
        NotExternal = "not_external",
        /// Redeemed (`Accepted`), and `--include-accepted` was not given.
        Accepted = "accepted",
        /// Synced from on-premises.
        Synced = "synced",
        /// The new UPN's domain is not one of the tenant's verified domains.
        UpnDomainNotVerified = "upn_domain_not_verified",
        /// The new UPN's domain is federated (Microsoft requires a managed one).
        UpnDomainFederated = "upn_domain_federated",
        /// No valid UPN can be made for the user.
        InvalidUpn = "invalid_upn",
        /// Another object already holds the new UPN.
        UpnInUse = "upn_in_use",
    }
}

vocabulary! {
    /// How a reverted row ended, as printed. The journal stores it as an
    /// [`EntryOutcome`] (`converted`: the conversion to internal took effect).
    pub enum RevertOutcome as "revert outcome" {
        /// Graph converted the user, and reading back shows an internal member.
        Reverted = "reverted",
        /// Graph refused, or the request failed for good.
        Failed = "failed",
        /// Graph answered success, but the read-back does not show it (yet).
        Unverified = "unverified",
    }
}

impl RevertOutcome {
    /// The journal's spelling of this outcome.
    pub fn entry_outcome(self) -> EntryOutcome {
        match self {
            RevertOutcome::Reverted => EntryOutcome::Converted,
            RevertOutcome::Failed => EntryOutcome::Failed,
            RevertOutcome::Unverified => EntryOutcome::Unverified,
        }
    }
}

/// One reason a row is blocked, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertReason {
    /// The stable code.
    pub code: RevertCode,
    /// What it means for this user and what to do.
    pub message: String,
}

impl RevertReason {
    fn new(code: RevertCode, message: impl Into<String>) -> Self {
        RevertReason {
            code,
            message: message.into(),
        }
    }
}

/// The decision for one row, as planned, shown and journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertEntry {
    /// The input line (or the converting run's line, for `--run`/`--last`).
    pub row: u64,
    /// The user as the input named them.
    pub user: String,
    /// Object id, when found.
    pub user_id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// The UPN the user has now.
    pub user_principal_name: Option<String>,
    /// The mail the user has now (the partner's address after a conversion).
    pub mail: Option<String>,
    /// `externalUserState` now.
    pub state: Option<InvitationState>,
    /// Revert or blocked.
    pub decision: RevertDecision,
    /// The UPN sent (cloud users to revert).
    pub new_user_principal_name: Option<String>,
    /// Why it is blocked.
    pub reasons: Vec<RevertReason>,
    /// What the admin should know about a row that is reverted.
    pub notes: Vec<String>,
}

/// What the decision and execution tests share: a tenant's domains and a converted user.
#[cfg(test)]
mod fixtures {
    use std::collections::HashMap;

    use b2b_graph::model::{Domain, ObjectIdentity, User};

    use super::{Lookup, RevertCode, RevertEntry, RevertOptions, Source, UpnCheck, decide};

    pub(super) fn domains() -> Vec<Domain> {
        let domain = |id: &str, federated: bool| Domain {
            id: id.into(),
            authentication_type: Some(if federated { "Federated" } else { "Managed" }.into()),
            is_verified: true,
            ..Domain::default()
        };
        vec![
            domain("contoso.onmicrosoft.com", false),
            domain("contoso.com", false),
            domain("corp.contoso.com", true),
        ]
    }

    pub(super) fn converted(id: &str, upn: &str, state: &str) -> User {
        User {
            id: id.into(),
            display_name: Some("Adele Vance".into()),
            user_principal_name: Some(upn.into()),
            mail: Some("adele@fabrikam.com".into()),
            user_type: Some("Member".into()),
            external_user_state: Some(state.into()),
            identities: vec![ObjectIdentity {
                sign_in_type: Some("userPrincipalName".into()),
                issuer: Some("contoso.com".into()),
                issuer_assigned_id: Some(upn.into()),
            }],
            ..User::default()
        }
    }

    pub(super) fn source(row: u64) -> Source {
        Source {
            row,
            reference: format!("user{row}"),
        }
    }

    pub(super) fn decide_one(user: User, options: &RevertOptions) -> RevertEntry {
        decide(
            &source(2),
            &Lookup::Found(Box::new(user)),
            &UpnCheck::Free,
            &domains(),
            options,
            &HashMap::new(),
        )
    }

    pub(super) fn codes(entry: &RevertEntry) -> Vec<RevertCode> {
        entry.reasons.iter().map(|r| r.code).collect()
    }
}
