//! Which Microsoft Graph permission each step of a run needs, and whether the signed-in
//! credential holds it, so `apply` says what is missing before it changes anything
//! instead of failing halfway through a thousand users.
//!
//! The lists are least-privileged first, from Microsoft's pages as summarised in
//! graph-facts.md (§1 invitation-post, §2 user-update, §3 role reads, §10 revoke): an
//! internal conversion (`invitedUser.id`) takes User.ReadWrite.All — no page names a
//! lesser one, and User.Invite.All alone is refused. Application tokens carry them as
//! `roles`; delegated tokens (Azure CLI, an access token of a person) as `scp`, and
//! Graph then also requires the person to hold an admin role, which a token does not
//! show: the check says so instead of guessing.
//!
//! Reading directory roles is not pre-checked: the snapshot strategy reads
//! `/directoryRoles` (RoleManagement.Read.Directory) while the lookup strategy reads
//! each user's `transitiveMemberOf` (User.Read.All), so which permission planning needs
//! depends on the strategy chosen; a refusal there stops planning before any change.
//!
//! The pre-flight's reads (policies, partner tenants, PIM eligibilities, role-assignable
//! groups) are optional ([`OPTIONAL_READS`]): without one, `plan` names the check it could
//! not make and the permission that would allow it, and goes on.

use std::fmt;

use b2b_graph::TokenClaims;

use crate::plan::{Action, Decision, Plan, PlanEntry};

/// One kind of Graph call a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `GET /domains`.
    ReadDomains,
    /// Reading users (planning, and the read-back after each conversion).
    ReadUsers,
    /// Reading groups that hold an address.
    ReadGroups,
    /// Reading organizational contacts that hold an address.
    ReadContacts,
    /// `POST /users/{id}/revokeSignInSessions`.
    RevokeSessions,
    /// `PATCH /users/{id}` with `mail`.
    UpdateMail,
    /// `PATCH /users/{id}` with `otherMails`.
    UpdateOtherMails,
    /// `PATCH /users/{id}` with `userType`.
    UpdateUserType,
    /// `PATCH /users/{id}` with `passwordProfile`.
    ResetPassword,
    /// `POST /invitations` for an existing user.
    InviteExisting,
    /// `POST /beta/users/{id}/convertExternalToInternalMemberUser` (`revert`).
    ConvertToInternal,
}

impl Need {
    /// What the step is, for the operator.
    pub fn step(self) -> &'static str {
        match self {
            Need::ReadDomains => "read the tenant's domains",
            Need::ReadUsers => "read users",
            Need::ReadGroups => "read groups holding an address",
            Need::ReadContacts => "read contacts holding an address",
            Need::RevokeSessions => "revoke sign-in sessions",
            Need::UpdateMail => "set each user's mail",
            Need::UpdateOtherMails => "add the address to otherMails",
            Need::UpdateUserType => "set userType",
            Need::ResetPassword => "scramble cloud passwords",
            Need::InviteExisting => "invite each existing user (internal conversion)",
            Need::ConvertToInternal => "convert each external user back to internal (beta)",
        }
    }

    /// The permissions that allow it, least privileged first.
    pub fn accepted(self) -> &'static [&'static str] {
        match self {
            Need::ReadDomains => &[
                "Domain.Read.All",
                "Directory.Read.All",
                "Domain.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Need::ReadUsers => &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Need::ReadGroups => &[
                "GroupMember.Read.All",
                "Group.Read.All",
                "Directory.Read.All",
                "Group.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Need::ReadContacts => &[
                "OrgContact.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Need::RevokeSessions => &[
                "User.RevokeSessions.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Need::UpdateMail => &[
                "User.ReadUpdate.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Need::InviteExisting => &["User.ReadWrite.All", "Directory.ReadWrite.All"],
            Need::UpdateOtherMails => &[
                "User-Mail.ReadWrite.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Need::UpdateUserType => &[
                "User.ReadUpdate.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Need::ResetPassword => &[
                "User-PasswordProfile.ReadWrite.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            // The beta page lists these two only (graph-facts §8): Directory.ReadWrite.All
            // is not named, so it is not assumed to do.
            Need::ConvertToInternal => {
                &["User-ConvertToInternal.ReadWrite.All", "User.ReadWrite.All"]
            }
        }
    }

    /// The admin role a delegated caller must also hold (Graph checks it; the token
    /// does not show it).
    fn delegated_role(self) -> Option<&'static str> {
        match self {
            Need::UpdateMail
            | Need::UpdateOtherMails
            | Need::UpdateUserType
            | Need::RevokeSessions
            | Need::ResetPassword => Some("User Administrator"),
            Need::InviteExisting => Some("User Administrator (or Guest Inviter)"),
            Need::ConvertToInternal => Some("User Administrator"),
            _ => None,
        }
    }
}

/// The reads planning makes whatever the strategy.
pub const PLANNING: &[Need] = &[
    Need::ReadDomains,
    Need::ReadUsers,
    Need::ReadGroups,
    Need::ReadContacts,
];

/// Whether a plan asks Graph for something an application needs a directory role for,
/// beyond its permissions: a password reset needs at least User Administrator
/// (graph-facts §2), which no token shows.
pub fn needs_admin_role(needs: &[Need]) -> Option<&'static str> {
    needs
        .contains(&Need::ResetPassword)
        .then_some("to scramble passwords, the application itself must also hold the User Administrator role (Entra admin center > Roles and administrators)")
}

/// What a plan's `apply` needs: planning's reads, then each kind of step some
/// `convert` row takes, in the order they run.
pub fn needs_of(plan: &Plan) -> Vec<Need> {
    with_steps(PLANNING.to_vec(), &plan.entries)
}

/// What resuming a run needs: reading users back (open steps are settled by a read),
/// then each kind of step its unfinished `convert` rows still take — the journaled plan's
/// own, so a run planned with `--scramble-password` is checked for it on resume too.
pub fn needs_to_resume<'a>(entries: impl IntoIterator<Item = &'a PlanEntry>) -> Vec<Need> {
    with_steps(vec![Need::ReadUsers], entries)
}

fn with_steps<'a>(
    mut needs: Vec<Need>,
    entries: impl IntoIterator<Item = &'a PlanEntry>,
) -> Vec<Need> {
    let mut add = |need: Need| {
        if !needs.contains(&need) {
            needs.push(need);
        }
    };
    for entry in entries
        .into_iter()
        .filter(|e| e.decision == Decision::Convert)
    {
        for action in &entry.actions {
            match action {
                Action::RevokeSessions => add(Need::RevokeSessions),
                Action::UpdateMail { .. } => add(Need::UpdateMail),
                Action::AddOtherMail { .. } => add(Need::UpdateOtherMails),
                Action::Invite { .. } => add(Need::InviteExisting),
                Action::SetUserType { .. } => add(Need::UpdateUserType),
                Action::ScramblePassword => add(Need::ResetPassword),
                Action::Verify => add(Need::ReadUsers),
            }
        }
    }
    needs
}

/// A read the pre-flight makes if it may: each has its own permission, none is
/// required. Without one, `plan` names the check it could not make (see
/// [`crate::preflight::Finding`]) and goes on; `apply` never refuses for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalRead {
    /// The check it serves.
    pub check: crate::preflight::Check,
    /// The Graph calls.
    pub calls: &'static str,
    /// The permissions that allow it, least privileged first.
    pub accepted: &'static [&'static str],
}

/// The pre-flight's optional reads, in the order of [`crate::preflight::Check::ALL`]
/// (redemption-facts.md; the email method's page now names
/// Policy.Read.AuthenticationMethod, not Policy.Read.All).
pub const OPTIONAL_READS: &[OptionalRead] = {
    use crate::preflight::Check;
    &[
        OptionalRead {
            check: Check::InvitationSettings,
            calls: "GET /policies/authorizationPolicy",
            accepted: &["Policy.Read.All", "Policy.ReadWrite.Authorization"],
        },
        OptionalRead {
            check: Check::DomainList,
            calls: "GET /beta/policies/b2bManagementPolicies",
            accepted: &[
                "Policy.Read.B2BManagementPolicy",
                "Policy.ReadWrite.B2BManagementPolicy",
            ],
        },
        OptionalRead {
            check: Check::CrossTenantAccess,
            calls: "GET /policies/crossTenantAccessPolicy/default, /partners/{tenantId}",
            accepted: &["Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"],
        },
        OptionalRead {
            check: Check::EmailOtp,
            calls: "GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email",
            accepted: &[
                "Policy.Read.AuthenticationMethod",
                "Policy.ReadWrite.AuthenticationMethod",
            ],
        },
        OptionalRead {
            check: Check::PartnerTenants,
            calls: "GET /tenantRelationships/findTenantInformationByDomainName(domainName='…')",
            accepted: &["CrossTenantInformation.ReadBasic.All"],
        },
        OptionalRead {
            check: Check::EligibleRoles,
            calls: "GET /roleManagement/directory/roleEligibilityScheduleInstances",
            accepted: &[
                "RoleEligibilitySchedule.Read.Directory",
                "RoleManagement.Read.Directory",
                "RoleManagement.Read.All",
                "RoleEligibilitySchedule.ReadWrite.Directory",
                "RoleManagement.ReadWrite.Directory",
            ],
        },
        OptionalRead {
            check: Check::RoleAssignableGroups,
            calls: "GET /groups?$filter=isAssignableToRole eq true, /groups/{id}/members, /groups/{id}/owners",
            accepted: &[
                "GroupMember.Read.All",
                "Group.Read.All",
                "Directory.Read.All",
                "GroupMember.ReadWrite.All",
                "Group.ReadWrite.All",
            ],
        },
    ]
};

/// The optional read that serves `check`.
pub fn optional_read(check: crate::preflight::Check) -> &'static OptionalRead {
    // OPTIONAL_READS lists every check in declaration order (tested below).
    &OPTIONAL_READS[check as usize]
}

/// The optional reads `claims` holds no permission for: the checks `plan` will report
/// as not made. Informational only; nothing is refused for them.
pub fn missing_optional(claims: &TokenClaims) -> Vec<&'static OptionalRead> {
    let held = claims.permissions();
    OPTIONAL_READS
        .iter()
        .filter(|read| {
            !read
                .accepted
                .iter()
                .any(|p| held.iter().any(|h| h.eq_ignore_ascii_case(p)))
        })
        .collect()
}

/// One need and the permission of the token that meets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The step.
    pub need: Need,
    /// The first accepted permission the token holds; `None`: missing.
    pub held: Option<&'static str>,
}

/// The token's permissions held against a run's needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    /// Whether the token acts for a person (`scp`) rather than an application (`roles`).
    pub delegated: bool,
    /// The person, for a delegated token.
    pub user: Option<String>,
    /// One line per need.
    pub requirements: Vec<Requirement>,
}

/// Holds `claims` against `needs`.
///
/// ```
/// use b2b_convert_core::permissions::{check, Need};
/// use b2b_graph::TokenClaims;
///
/// let claims = TokenClaims { roles: vec!["User.ReadWrite.All".into()], ..TokenClaims::default() };
/// let result = check(&[Need::ReadUsers, Need::InviteExisting, Need::ReadDomains], &claims);
/// assert_eq!(result.requirements[0].held, Some("User.ReadWrite.All"));
/// assert_eq!(result.missing().map(|r| r.need).collect::<Vec<_>>(), [Need::ReadDomains]);
/// ```
pub fn check(needs: &[Need], claims: &TokenClaims) -> PermissionCheck {
    let held = claims.permissions();
    PermissionCheck {
        delegated: claims.is_delegated(),
        user: claims.user.clone(),
        requirements: needs
            .iter()
            .map(|&need| Requirement {
                need,
                held: need
                    .accepted()
                    .iter()
                    .copied()
                    .find(|p| held.iter().any(|h| h.eq_ignore_ascii_case(p))),
            })
            .collect(),
    }
}

impl PermissionCheck {
    /// The needs no permission of the token meets.
    pub fn missing(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter().filter(|r| r.held.is_none())
    }

    /// `Ok` when nothing is missing, else the error that lists what is.
    pub fn into_result(self) -> Result<PermissionCheck, MissingPermissions> {
        if self.missing().next().is_none() {
            Ok(self)
        } else {
            Err(MissingPermissions(self))
        }
    }

    /// For a delegated token, the admin roles Graph will also require of the person.
    pub fn role_caveats(&self) -> Vec<String> {
        if !self.delegated {
            return Vec::new();
        }
        let who = self.user.as_deref().unwrap_or("the signed-in person");
        self.requirements
            .iter()
            .filter_map(|r| r.need.delegated_role().map(|role| (r.need.step(), role)))
            .map(|(step, role)| format!("to {step}, {who} must also hold the {role} role"))
            .collect()
    }
}

/// The credential lacks a permission the run needs; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MissingPermissions(pub PermissionCheck);

impl fmt::Display for MissingPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.0.delegated {
            "delegated permissions (scopes)"
        } else {
            "application permissions"
        };
        writeln!(
            f,
            "the credential lacks {kind} this run needs; nothing was changed:"
        )?;
        for r in self.0.missing() {
            let accepted = r.need.accepted();
            writeln!(
                f,
                "  to {}: needs {} (or {})",
                r.need.step(),
                accepted[0],
                accepted[1..].join(", ")
            )?;
        }
        write!(
            f,
            "Grant them with admin consent (Entra admin center > App registrations > API permissions), then run the same command again."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegated_tokens_are_checked_on_scopes_and_warned_about_roles() {
        let claims = TokenClaims {
            scopes: vec!["Directory.Read.All".into(), "User.ReadWrite.All".into()],
            user: Some("admin@contoso.com".into()),
            ..TokenClaims::default()
        };
        let needs = [PLANNING, &[Need::UpdateMail, Need::InviteExisting]].concat();
        let result = check(&needs, &claims);
        assert!(result.delegated);
        assert_eq!(result.missing().count(), 0);
        let caveats = result.role_caveats();
        assert_eq!(caveats.len(), 2);
        assert!(
            caveats[0].contains("admin@contoso.com must also hold the User Administrator role")
        );
    }

    #[test]
    fn optional_reads_cover_every_check_in_order_and_are_never_required() {
        use crate::preflight::Check;
        assert_eq!(OPTIONAL_READS.len(), Check::ALL.len());
        for check in Check::ALL {
            assert_eq!(optional_read(*check).check, *check);
        }
        assert_eq!(
            Check::EmailOtp.permission(),
            "Policy.Read.AuthenticationMethod"
        );
        let claims = TokenClaims {
            roles: vec!["Directory.Read.All".into(), "Policy.Read.All".into()],
            ..TokenClaims::default()
        };
        let missing: Vec<Check> = missing_optional(&claims).iter().map(|r| r.check).collect();
        assert_eq!(
            missing,
            [
                Check::DomainList,
                Check::EmailOtp,
                Check::PartnerTenants,
                Check::EligibleRoles
            ]
        );
        // Planning's required reads don't grow: the pre-flight never makes apply refuse.
        assert_eq!(PLANNING.len(), 4);
    }

    #[test]
    fn a_resume_needs_what_its_unfinished_rows_still_do() {
        let entry = |decision: Decision, actions: Vec<Action>| PlanEntry {
            row: 2,
            user: "u".into(),
            user_id: Some("id".into()),
            display_name: None,
            user_principal_name: None,
            external_email: "u@fabrikam.com".into(),
            decision,
            reasons: Vec::new(),
            notes: Vec::new(),
            actions,
            redemption: None,
        };
        let invite = Action::Invite {
            settings: crate::plan::InvitationSettings {
                redirect_url: "https://myapps.microsoft.com".into(),
                send_email: true,
                message: None,
                cc: None,
                language: None,
            },
        };
        let rows = [
            entry(
                Decision::Convert,
                vec![invite, Action::ScramblePassword, Action::Verify],
            ),
            entry(
                Decision::Convert,
                vec![Action::SetUserType { to: "Guest".into() }],
            ),
            entry(Decision::Blocked, vec![Action::RevokeSessions]),
        ];
        assert_eq!(
            needs_to_resume(&rows),
            [
                Need::ReadUsers,
                Need::InviteExisting,
                Need::ResetPassword,
                Need::UpdateUserType
            ]
        );
        assert!(needs_admin_role(&needs_to_resume(&rows)).is_some());
    }

    #[test]
    fn the_message_lists_every_missing_step() {
        let claims = TokenClaims {
            roles: vec!["Directory.Read.All".into(), "User.Invite.All".into()],
            ..TokenClaims::default()
        };
        let error = check(
            &[Need::ReadUsers, Need::UpdateMail, Need::InviteExisting],
            &claims,
        )
        .into_result()
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("application permissions"), "{text}");
        assert!(
            text.contains("to set each user's mail: needs User.ReadUpdate.All"),
            "{text}"
        );
        assert!(
            text.contains(
                "internal conversion): needs User.ReadWrite.All (or Directory.ReadWrite.All)"
            ),
            "{text}"
        );
        assert!(!text.contains("read users"), "{text}");
        assert!(error.0.role_caveats().is_empty());
    }
}
