//! An application registration of the tenant file: the client that may ask for tokens.

use serde::{Deserialize, Serialize};

/// One entry of the tenant file's `applications` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    /// The application (client) id.
    pub client_id: String,
    /// The client secret, when the app authenticates with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// PEM-encoded X.509 certificates whose keys may sign client assertions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// Application permissions (app roles) granted with admin consent, e.g. `User.Invite.All`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Entra directory roles assigned to the app's service principal, e.g. `User Administrator`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<String>,
}
