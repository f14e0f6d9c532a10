//! Who is calling: the application (or managed identity) behind a verified access token,
//! and for a delegated token the signed-in user too; and what the caller may do.
//!
//! App-only callers act with their application permissions (`roles`) and their service
//! principal's directory roles. Delegated callers act with the intersection of the client's
//! delegated permissions (`scp`) and the signed-in user's own rights, as Graph evaluates
//! them: [`Principal::require_any`] reads `scp` instead of `roles`, and
//! [`Principal::has_directory_role`] reads the user's directory roles, which the gate
//! fills in from the live directory on every request ([`Principal::with_user_roles`]).

use std::collections::BTreeSet;

use crate::directory::Directory;
use crate::error::GraphError;

/// The caller of a Graph request, as proven by its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The application (client) id: the token's `appid` claim.
    pub app_id: String,
    /// The tenant the token was issued for: its `tid` claim.
    pub tenant_id: String,
    /// Application permissions granted to the app: the token's `roles` claim (app-only).
    pub roles: BTreeSet<String>,
    /// Delegated permissions: the token's `scp` claim (delegated tokens only).
    pub scopes: BTreeSet<String>,
    /// Entra directory roles the caller holds ("User Administrator", ...). App-only: the
    /// service principal's, from the tenant file. Delegated: the signed-in user's, from the
    /// live directory.
    pub directory_roles: BTreeSet<String>,
    /// The signed-in user, when the token is delegated.
    pub delegated: Option<DelegatedUser>,
}

/// The user a delegated token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedUser {
    /// The user's object id: the token's `oid`.
    pub user_id: String,
    /// The user's userPrincipalName: the token's `upn`.
    pub user_principal_name: String,
}

impl Principal {
    /// The first of `permissions` (least privileged first) that the caller holds (`scp`
    /// for a delegated caller, `roles` for an app-only one), or Graph's 403
    /// `Authorization_RequestDenied` when it holds none of them.
    ///
    /// The returned name goes into the request log ("the permission used").
    pub fn require_any(&self, permissions: &[&'static str]) -> Result<&'static str, GraphError> {
        permissions
            .iter()
            .copied()
            .find(|p| self.holds(p))
            .ok_or_else(GraphError::denied)
    }

    /// Whether the caller holds this permission (delegated: in `scp`; app-only: in `roles`).
    pub fn holds(&self, permission: &str) -> bool {
        if self.delegated.is_some() {
            self.scopes.contains(permission)
        } else {
            self.roles.contains(permission)
        }
    }

    /// Whether the caller (app-only: its service principal; delegated: the signed-in user)
    /// holds any of these directory roles.
    pub fn has_directory_role(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| self.directory_roles.contains(*r))
    }

    /// For a delegated caller, the signed-in user must hold one of `roles` (else 403
    /// `Authorization_RequestDenied`); an app-only caller passes, its rights being its
    /// permissions.
    pub fn require_user_role(&self, roles: &[&str]) -> Result<(), GraphError> {
        if self.delegated.is_some() && !self.has_directory_role(roles) {
            Err(GraphError::denied())
        } else {
            Ok(())
        }
    }

    /// A delegated caller with the signed-in user's directory roles as the live directory
    /// has them now (none when the user no longer exists); app-only callers unchanged.
    pub fn with_user_roles(mut self, dir: &Directory) -> Self {
        if let Some(user) = &self.delegated {
            self.directory_roles = dir
                .roles_of(&user.user_id)
                .iter()
                .map(|r| r.display_name.clone())
                .collect();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(delegated: bool) -> Principal {
        let set = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Principal {
            app_id: "app".into(),
            tenant_id: "t".into(),
            roles: set(&["User.Read.All"]),
            scopes: set(&["User.ReadWrite.All"]),
            directory_roles: set(&["Guest Inviter"]),
            delegated: delegated.then(|| DelegatedUser {
                user_id: "u".into(),
                user_principal_name: "u@contoso.com".into(),
            }),
        }
    }

    #[test]
    fn delegated_callers_use_scp_app_only_callers_roles() {
        let perms = &["User.Read.All", "User.ReadWrite.All"];
        assert_eq!(
            principal(false).require_any(perms).unwrap(),
            "User.Read.All"
        );
        assert_eq!(
            principal(true).require_any(perms).unwrap(),
            "User.ReadWrite.All"
        );
        assert!(principal(true).require_any(&["User.Read.All"]).is_err());
        assert!(principal(false).holds("User.Read.All"));
        assert!(!principal(true).holds("User.Read.All"));
    }

    #[test]
    fn only_delegated_callers_need_a_user_role() {
        let admins = &["User Administrator", "Global Administrator"];
        assert!(principal(false).require_user_role(admins).is_ok());
        let err = principal(true).require_user_role(admins).unwrap_err();
        assert_eq!(err.code, "Authorization_RequestDenied");
        assert!(
            principal(true)
                .require_user_role(&["Guest Inviter"])
                .is_ok()
        );
    }
}
