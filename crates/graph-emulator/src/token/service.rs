//! The token service itself: the tenant's registered clients (applications and managed
//! identities), the signing key generated per run, and the access tokens minted with it,
//! plus the discovery and JWKS documents that tell clients where the endpoints and the key
//! are.

use std::collections::HashMap;

use parking_lot::RwLock;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::assertion::{Certificate, parse_certificate};
use super::error::TokenError;
use super::keys::SigningKey;
use crate::application::{Application, FederatedIdentityCredential};
use crate::clock;
use crate::managed_identity::{ManagedIdentity, ManagedIdentityKind};

/// Graph's resource identifier: the `aud` of Graph access tokens.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Lifetime of an issued access token, in seconds (`expires_in`).
pub const TOKEN_LIFETIME_SECONDS: i64 = 3599;

pub(super) struct Client {
    pub(super) app: Application,
    pub(super) certificates: Vec<Certificate>,
    pub(super) object_id: String,
    /// The federated identity credentials now: the tenant file's, plus those added while
    /// running (the issuer URL of the emulator is only known once it listens).
    pub(super) federated: RwLock<Vec<FederatedIdentityCredential>>,
}

/// A managed identity and the ids Entra gives it.
pub(super) struct Identity {
    pub(super) identity: ManagedIdentity,
    /// The service principal's object id (`oid`, what `principal_id`/`object_id` select).
    pub(super) object_id: String,
    /// The Azure resource id of a user-assigned identity (`xms_mirid`, what `mi_res_id`
    /// selects); system-assigned identities have none here.
    pub(super) resource_id: Option<String>,
}

/// How the client proved itself: `appidacr` 1 (secret) or 2 (certificate, federated token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientAuth {
    Secret,
    Certificate,
    Federated,
}

impl ClientAuth {
    fn acr(self) -> &'static str {
        match self {
            ClientAuth::Secret => "1",
            ClientAuth::Certificate | ClientAuth::Federated => "2",
        }
    }
}

/// The claims of an emulator access token (app-only, delegated or managed identity).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AccessClaims {
    pub(super) aud: String,
    pub(super) iss: String,
    pub(super) iat: i64,
    pub(super) nbf: i64,
    pub(super) exp: i64,
    pub(super) tid: String,
    pub(super) appid: String,
    pub(super) azp: String,
    pub(super) appidacr: String,
    pub(super) azpacr: String,
    pub(super) oid: String,
    pub(super) sub: String,
    /// `app` or `user`.
    pub(super) idtyp: String,
    pub(super) ver: String,
    /// Application permissions (app-only tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) roles: Option<Vec<String>>,
    /// Delegated permissions, space-separated (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scp: Option<String>,
    /// The signed-in user's userPrincipalName (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) upn: Option<String>,
    /// The managed identity's Azure resource id (user-assigned managed identity tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) xms_mirid: Option<String>,
}

/// The emulator's token service: issues access tokens to the tenant's registered
/// applications and managed identities (and, for tests, to users) and verifies them on
/// every Graph request.
pub struct TokenService {
    pub(super) base: Url,
    pub(super) tenant_id: String,
    domains: Vec<String>,
    pub(super) clients: HashMap<String, Client>,
    pub(super) identities: HashMap<String, Identity>,
    pub(super) key: SigningKey,
    /// The federation issuer's key, generated on first use: most runs never need it.
    federation_key: OnceLock<SigningKey>,
    /// Managed identity tokens issued (for the state document).
    pub(super) managed_identity_tokens: AtomicU64,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and secrets stay out of Debug output.
        f.debug_struct("TokenService")
            .field("base", &self.base.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .field("identities", &self.identities.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(super) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A GUID-shaped id derived from `seed`, stable across runs.
pub(super) fn derived_guid(seed: &str) -> String {
    let hash = digest::digest(&digest::SHA256, seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The Azure resource group the emulator pretends user-assigned identities live in.
const IDENTITY_RESOURCE_PREFIX: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/";

impl TokenService {
    /// Builds the service for one tenant. `base_url` is the emulator's root
    /// (`https://127.0.0.1:PORT/`); certificates are parsed here, and a fresh RSA signing
    /// key is generated for this instance.
    pub fn new(
        base_url: &Url,
        tenant_id: &str,
        domains: &[String],
        applications: &[Application],
        managed_identities: &[ManagedIdentity],
    ) -> Result<Self, String> {
        let mut base = base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut clients = HashMap::new();
        for app in applications {
            let certificates = app
                .certificates
                .iter()
                .enumerate()
                .map(|(i, pem)| {
                    parse_certificate(pem)
                        .map_err(|e| format!("application {} certificate {i}: {e}", app.client_id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let key = app.client_id.to_ascii_lowercase();
            if clients.contains_key(&key) {
                return Err(format!("application {} is registered twice", app.client_id));
            }
            clients.insert(
                key,
                Client {
                    app: app.clone(),
                    certificates,
                    object_id: derived_guid(&format!("sp:{tenant_id}:{}", app.client_id)),
                    // The placeholder issuer is resolved below, once `base` is final.
                    federated: RwLock::new(Vec::new()),
                },
            );
        }
        let mut identities = HashMap::new();
        for identity in managed_identities {
            let key = identity.client_id.to_ascii_lowercase();
            if clients.contains_key(&key) || identities.contains_key(&key) {
                return Err(format!(
                    "managed identity {} is registered twice",
                    identity.client_id
                ));
            }
            let resource_id = (identity.kind == ManagedIdentityKind::UserAssigned)
                .then(|| format!("{IDENTITY_RESOURCE_PREFIX}{}", identity.client_id));
            identities.insert(
                key,
                Identity {
                    identity: identity.clone(),
                    object_id: derived_guid(&format!("mi:{tenant_id}:{}", identity.client_id)),
                    resource_id,
                },
            );
        }

        let service = Self {
            base,
            tenant_id: tenant_id.to_owned(),
            domains: domains.to_vec(),
            clients,
            identities,
            key: SigningKey::generate()?,
            federation_key: OnceLock::new(),
            managed_identity_tokens: AtomicU64::new(0),
        };
        service.reset_federated_identity_credentials();
        Ok(service)
    }

    /// The federation issuer's signing key, generated the first time it is needed.
    pub(super) fn federation_key(&self) -> Result<&SigningKey, String> {
        if let Some(key) = self.federation_key.get() {
            return Ok(key);
        }
        let key = SigningKey::generate()?;
        Ok(self.federation_key.get_or_init(|| key))
    }

    /// The federation issuer's key if one was ever generated (a token it signed exists).
    pub(super) fn federation_key_if_any(&self) -> Option<&SigningKey> {
        self.federation_key.get()
    }

    /// The token endpoint URL for `tenant` (the tenant id or a domain).
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}{tenant}/oauth2/v2.0/token", self.base)
    }

    /// The issuer of access tokens (v1.0 form, as Graph tokens carry).
    pub(super) fn access_issuer(&self) -> String {
        format!("https://sts.windows.net/{}/", self.tenant_id)
    }

    /// The audiences access tokens may carry: Graph, or the emulator's own root.
    pub(super) fn audiences(&self) -> [String; 2] {
        [
            GRAPH_RESOURCE.to_owned(),
            self.base.as_str().trim_end_matches('/').to_owned(),
        ]
    }

    /// Whether `tenant` names this tenant (id or verified domain, case-insensitive).
    pub(crate) fn is_this_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant))
    }

    /// The emulator's root URL, with a trailing slash.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The tenant id.
    pub(crate) fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// Signs access-token claims with the service's key; a failure is Entra's
    /// `server_error`.
    pub(super) fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        self.key.sign(claims, true).map_err(|e| {
            TokenError::new(
                "server_error",
                50000,
                format!("There's an issue with the sign-in service. {e}"),
            )
        })
    }

    /// The claims of an app-only token (application or managed identity).
    #[allow(clippy::too_many_arguments)] // one place that lists every app-only claim
    pub(super) fn app_claims(
        &self,
        app_id: &str,
        object_id: &str,
        acr: &str,
        audience: &str,
        issued_at: i64,
        lifetime: i64,
        roles: &[String],
    ) -> AccessClaims {
        AccessClaims {
            aud: audience.to_owned(),
            iss: self.access_issuer(),
            iat: issued_at,
            nbf: issued_at,
            exp: issued_at + lifetime,
            tid: self.tenant_id.clone(),
            appid: app_id.to_owned(),
            azp: app_id.to_owned(),
            appidacr: acr.to_owned(),
            azpacr: acr.to_owned(),
            oid: object_id.to_owned(),
            sub: object_id.to_owned(),
            idtyp: "app".to_owned(),
            ver: "1.0".to_owned(),
            roles: Some(roles.to_vec()),
            scp: None,
            upn: None,
            xms_mirid: None,
        }
    }

    pub(super) fn mint(
        &self,
        client: &Client,
        audience: &str,
        auth: ClientAuth,
        issued_at: i64,
    ) -> Result<String, TokenError> {
        let claims = self.app_claims(
            &client.app.client_id,
            &client.object_id,
            auth.acr(),
            audience,
            issued_at,
            TOKEN_LIFETIME_SECONDS,
            &client.app.roles,
        );
        self.sign(&claims)
    }

    /// A valid Graph access token for a registered client, as if it had used its secret.
    pub fn mint_for_tests(&self, client_id: &str) -> Option<String> {
        let client = self.clients.get(&client_id.to_ascii_lowercase())?;
        self.mint(
            client,
            GRAPH_RESOURCE,
            ClientAuth::Secret,
            clock::now_seconds(),
        )
        .ok()
    }

    /// A correctly signed Graph access token for a registered client that expired two
    /// hours ago.
    pub fn mint_expired_for_tests(&self, client_id: &str) -> Option<String> {
        let client = self.clients.get(&client_id.to_ascii_lowercase())?;
        let issued_at = clock::now_seconds() - 2 * 3600;
        self.mint(client, GRAPH_RESOURCE, ClientAuth::Secret, issued_at)
            .ok()
    }

    pub(crate) fn discovery(&self, tenant: &str) -> Value {
        let base = &self.base;
        let tid = &self.tenant_id;
        let host = base.host_str().unwrap_or("127.0.0.1");
        json!({
            "token_endpoint": self.token_endpoint(tid),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}{tid}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}{tid}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{base}oidc/userinfo"),
            "authorization_endpoint": format!("{base}{tid}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}{tid}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}{tid}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("{base}{tid}/kerberos"),
            "tenant_region_scope": "NA",
            "cloud_instance_name": host,
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
            "requested_tenant": tenant,
        })
    }

    pub(crate) fn jwks(&self) -> Value {
        let issuer = self.access_issuer();
        json!({
            "keys": [self.key.jwk(&[("x5t", &self.key.kid), ("issuer", &issuer)])]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::fixture::{APP, TENANT, service, test_cert};

    #[test]
    fn discovery_points_back_here() {
        let cert = test_cert();
        let svc = service(&cert);
        let doc = svc.discovery("contoso.com");
        assert_eq!(
            doc["token_endpoint"],
            format!("https://127.0.0.1:8443/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(
            doc["issuer"],
            format!("https://127.0.0.1:8443/{TENANT}/v2.0")
        );
        assert!(svc.jwks()["keys"][0]["n"].as_str().is_some());
    }

    #[test]
    fn bad_certificates_are_refused_up_front() {
        let app = Application {
            client_id: APP.to_owned(),
            client_secret: None,
            certificates: vec![
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            ],
            federated_identity_credentials: vec![],
            roles: vec![],
            directory_roles: vec![],
        };
        let err = TokenService::new(
            &Url::parse("http://127.0.0.1:1").unwrap(),
            TENANT,
            &[],
            &[app],
            &[],
        )
        .unwrap_err();
        assert!(err.contains("certificate 0"), "{err}");
    }
}
