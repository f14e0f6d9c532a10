//! A managed identity of the tenant file: an Azure-hosted workload's identity, which gets
//! app-only tokens from the host's local endpoint (App Service or IMDS) without any
//! credential of its own. The endpoints live in [`crate::routes::managed_identity`].

use serde::{Deserialize, Serialize};

/// One entry of the tenant file's `managedIdentities` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedIdentity {
    /// The identity's client id: the `appid` of its tokens, and what `client_id` selects.
    pub client_id: String,
    /// System-assigned (the host's own, used when a request names no identity) or
    /// user-assigned (must be named).
    pub kind: ManagedIdentityKind,
    /// Application permissions granted to the identity's service principal.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Entra directory roles assigned to the identity's service principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<String>,
}

/// Which kind of managed identity an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagedIdentityKind {
    /// The hosting resource's own identity (at most one per tenant file).
    SystemAssigned,
    /// A standalone identity attached to the host.
    UserAssigned,
}
