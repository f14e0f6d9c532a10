//! The token service itself: the tenant's registered clients, the signing key generated per
//! run, and the access tokens minted with it, plus the discovery and JWKS documents that
//! tell clients where the endpoints and the key are.

use std::collections::HashMap;

use aws_lc_rs::digest;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::assertion::{Certificate, parse_certificate};
use crate::application::Application;
use crate::clock;

/// Graph's resource identifier: the `aud` of Graph access tokens.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Lifetime of an issued access token, in seconds (`expires_in`).
pub const TOKEN_LIFETIME_SECONDS: i64 = 3599;

pub(super) struct Client {
    pub(super) app: Application,
    pub(super) certificates: Vec<Certificate>,
    pub(super) object_id: String,
}

/// How the client proved itself: `appidacr` 1 (secret) or 2 (certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientAuth {
    Secret,
    Certificate,
}

impl ClientAuth {
    fn acr(self) -> &'static str {
        match self {
            ClientAuth::Secret => "1",
            ClientAuth::Certificate => "2",
        }
    }
}

/// The claims of an emulator access token.
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
    pub(super) idtyp: String,
    pub(super) ver: String,
    pub(super) roles: Vec<String>,
}

/// The emulator's token service: issues access tokens to the tenant's registered
/// applications and verifies them on every Graph request.
pub struct TokenService {
    pub(super) base: Url,
    pub(super) tenant_id: String,
    domains: Vec<String>,
    pub(super) clients: HashMap<String, Client>,
    encoding_key: EncodingKey,
    pub(super) decoding_key: DecodingKey,
    kid: String,
    jwk_n: String,
    jwk_e: String,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and secrets stay out of Debug output.
        f.debug_struct("TokenService")
            .field("base", &self.base.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(super) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A GUID-shaped id derived from `seed`, stable across runs.
fn derived_guid(seed: &str) -> String {
    let hash = digest::digest(&digest::SHA256, seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl TokenService {
    /// Builds the service for one tenant. `base_url` is the emulator's root
    /// (`https://127.0.0.1:PORT/`); certificates are parsed here, and a fresh RSA signing
    /// key is generated for this instance.
    pub fn new(
        base_url: &Url,
        tenant_id: &str,
        domains: &[String],
        applications: &[Application],
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
                },
            );
        }

        let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| format!("cannot generate the token signing key: {e}"))?;
        let encoding_key = EncodingKey::from_rsa_pem(signing.serialize_pem().as_bytes())
            .map_err(|e| format!("cannot load the token signing key: {e}"))?;
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&signing.serialize_der())
            .map_err(|e| format!("cannot read the token signing key: {e}"))?;
        let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let decoding_key = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
        let kid = b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &public.n).as_ref());

        Ok(Self {
            base,
            tenant_id: tenant_id.to_owned(),
            domains: domains.to_vec(),
            clients,
            encoding_key,
            decoding_key,
            kid,
            jwk_n: b64url(&public.n),
            jwk_e: b64url(&public.e),
        })
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

    pub(super) fn mint(
        &self,
        client: &Client,
        audience: &str,
        auth: ClientAuth,
        issued_at: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            aud: audience.to_owned(),
            iss: self.access_issuer(),
            iat: issued_at,
            nbf: issued_at,
            exp: issued_at + TOKEN_LIFETIME_SECONDS,
            tid: self.tenant_id.clone(),
            appid: client.app.client_id.clone(),
            azp: client.app.client_id.clone(),
            appidacr: auth.acr().to_owned(),
            azpacr: auth.acr().to_owned(),
            oid: client.object_id.clone(),
            sub: client.object_id.clone(),
            idtyp: "app".to_owned(),
            ver: "1.0".to_owned(),
            roles: client.app.roles.clone(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding_key)
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
        json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": self.kid,
                "x5t": self.kid,
                "n": self.jwk_n,
                "e": self.jwk_e,
                "issuer": self.access_issuer(),
            }]
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
            roles: vec![],
            directory_roles: vec![],
        };
        let err = TokenService::new(
            &Url::parse("http://127.0.0.1:1").unwrap(),
            TENANT,
            &[],
            &[app],
        )
        .unwrap_err();
        assert!(err.contains("certificate 0"), "{err}");
    }
}
