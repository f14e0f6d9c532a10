//! The report's plain words for the tool's own codes: reasons, decisions, outcomes and
//! run statuses, for a reader who has never seen the command line. (Invitation states
//! are worded by [`InvitationState::describe`](crate::vocabulary::InvitationState),
//! which every part of the tool shares.)
//!
//! Each mapping is an exhaustive `match`, so a new code can't reach the page unworded.
//! A fix may name a command or an attribute between backticks: the page shows those as
//! code, like the planner's own messages.

use crate::plan::{Decision, ReasonCode};
use crate::vocabulary::{EntryOutcome, RunStatus};

/// What a reason code means to a reader, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReasonWords {
    /// A few words, as a heading and a count's label.
    pub title: &'static str,
    /// What to do, said once per group of rows.
    pub fix: &'static str,
}

/// The words for a reason code.
pub(super) fn reason(code: ReasonCode) -> ReasonWords {
    let (title, fix) = match code {
        ReasonCode::NotFound => (
            "User not found",
            "Check the spelling of the user in the input file, or whether the account was deleted.",
        ),
        ReasonCode::AmbiguousUser => (
            "More than one user matches",
            "Name the user by object id or UPN in the input file.",
        ),
        ReasonCode::DuplicateRow => (
            "Listed more than once",
            "Keep one row per user and per partner address; every row involved is held back until then.",
        ),
        ReasonCode::InvalidEmail => (
            "Partner address not valid",
            "Correct the partner's address in the input file.",
        ),
        ReasonCode::ExternalDomainIsVerified => (
            "Partner address is in one of our own domains",
            "Use the partner's own home address, not one in this tenant's domains.",
        ),
        ReasonCode::EmailInUse => (
            "Partner address already used by another account",
            "Remove the address from the other user, group or contact first.",
        ),
        ReasonCode::AlreadyInvited => (
            "Already invited, waiting for the partner",
            "Nothing to convert. `b2b-convert reinvite --user <user>` sends a fresh link if the partner lost it.",
        ),
        ReasonCode::AlreadyExternal => ("Already signs in as a partner", "Nothing to convert."),
        ReasonCode::OnPremUpnSet => (
            "Synced from on-premises AD (on-premises UPN set)",
            "Change the Entra Connect sync rule so `onPremisesUserPrincipalName` is not written, let it sync, then run again.",
        ),
        ReasonCode::SyncedMailMismatch => (
            "Synced from on-premises AD with another mail address",
            "Set mail to the partner's address in on-premises AD, let it sync, then run again.",
        ),
        ReasonCode::HasMailbox => (
            "Has an Exchange Online mailbox",
            "Remove the mailbox (or its Exchange licence) first.",
        ),
        ReasonCode::PrivilegedRole => (
            "Holds an admin role",
            "Remove the directory roles first, or run with `--allow-privileged` if the account really belongs to the partner.",
        ),
        ReasonCode::AccountDisabled => (
            "Account disabled",
            "Enable the account first, or leave it out.",
        ),
        ReasonCode::LookupFailed => (
            "Could not be checked (Microsoft Graph error)",
            "Run `b2b-convert plan` again; if it persists, give Microsoft support the request-id.",
        ),
        ReasonCode::InvitationsDisabled => (
            "Guest invitations are turned off",
            "Allow guest invitations under External Identities > External collaboration settings first.",
        ),
        ReasonCode::DomainBlockedByPolicy => (
            "Partner's domain blocked by the invitation policy",
            "Take the domain off the deny list (or add it to the allow list) under External collaboration settings, or use another address.",
        ),
        ReasonCode::PartnerBlockedByCrossTenantAccess => (
            "Partner organisation blocked by cross-tenant access settings",
            "Allow B2B collaboration with the partner under External Identities > Cross-tenant access settings, or leave the row out.",
        ),
        ReasonCode::RoleAssignableGroup => (
            "Member or owner of a group that can hold admin roles",
            "Remove the user from the role-assignable group first, or run with `--allow-privileged` if the account really belongs to the partner.",
        ),
    };
    ReasonWords { title, fix }
}

/// A decision, as the table and the counts say it.
pub(super) fn decision(decision: Decision) -> &'static str {
    match decision {
        Decision::Convert => "To convert",
        Decision::Skip => "Nothing to do",
        Decision::Blocked => "Blocked",
    }
}

/// How a row to convert ended; `None` is a row to convert that has not ended yet.
pub(super) fn outcome(outcome: Option<EntryOutcome>) -> &'static str {
    match outcome {
        Some(EntryOutcome::Converted) => "Converted",
        Some(EntryOutcome::Failed) => "Failed",
        Some(EntryOutcome::Unverified) => "Not confirmed yet",
        None => "Still to do",
    }
}

/// Where a run stands: a word for the run picker, and the sentence for its details.
pub(super) fn run_status(status: RunStatus) -> (&'static str, &'static str) {
    match status {
        RunStatus::Applying => (
            "In progress",
            "In progress (the same apply command resumes it)",
        ),
        RunStatus::Finished => ("Finished", "Finished"),
        RunStatus::Abandoned => ("Abandoned", "Abandoned (a newer run replaced it)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_distinct_plain_words() {
        let titles: std::collections::BTreeSet<_> =
            ReasonCode::ALL.iter().map(|c| reason(*c).title).collect();
        assert_eq!(
            titles.len(),
            ReasonCode::ALL.len(),
            "two codes read the same"
        );
        for code in ReasonCode::ALL {
            let words = reason(*code);
            assert!(
                !words.title.contains(code.as_str()),
                "{code}: the code itself"
            );
            assert!(!words.title.contains('`'), "{code}");
            assert_eq!(words.fix.matches('`').count() % 2, 0, "{code}: unbalanced");
            assert!(words.fix.ends_with('.'), "{code}");
        }
        let decisions: std::collections::BTreeSet<_> =
            Decision::ALL.iter().copied().map(decision).collect();
        assert_eq!(decisions.len(), 3);
        assert_eq!(outcome(Some(EntryOutcome::Unverified)), "Not confirmed yet");
        assert_eq!(run_status(RunStatus::Finished).0, "Finished");
    }
}
