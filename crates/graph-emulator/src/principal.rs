//! Who is calling: the application behind a verified access token, and what it may do.

use std::collections::BTreeSet;

use crate::error::GraphError;

/// The caller of a Graph request, as proven by its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The application (client) id: the token's `appid` claim.
    pub app_id: String,
    /// The tenant the token was issued for: its `tid` claim.
    pub tenant_id: String,
    /// Application permissions granted to the app: the token's `roles` claim.
    pub roles: BTreeSet<String>,
    /// Entra directory roles the app's service principal holds ("User Administrator", ...).
    /// Not in the token: read from the tenant's application registration.
    pub directory_roles: BTreeSet<String>,
}

impl Principal {
    /// The first of `permissions` (least privileged first) that the app holds, or Graph's
    /// 403 `Authorization_RequestDenied` when it holds none of them.
    ///
    /// The returned name goes into the request log ("the permission used").
    pub fn require_any(&self, permissions: &[&'static str]) -> Result<&'static str, GraphError> {
        permissions
            .iter()
            .copied()
            .find(|p| self.roles.contains(*p))
            .ok_or_else(GraphError::denied)
    }

    /// Whether the app's service principal holds any of these directory roles.
    pub fn has_directory_role(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| self.directory_roles.contains(*r))
    }
}
