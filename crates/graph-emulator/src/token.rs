//! The emulator's Entra ID token endpoint (OAuth 2.0 client credentials) and the check of
//! the access tokens it issues.
//!
//! Served (graph-facts.md §7):
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration`: the discovery document MSAL
//!   reads first; every endpoint in it points back at the emulator.
//! - `GET /{tenant}/discovery/v2.0/keys`: the JWKS with the emulator's signing key.
//! - `GET /common/discovery/instance`: MSAL's instance discovery (clients can also skip it
//!   with `disable_instance_discovery=True`).
//! - `POST /{tenant}/oauth2/v2.0/token`: `grant_type=client_credentials` with a client
//!   secret (form field or HTTP Basic) or a certificate-signed client assertion.
//!
//! `{tenant}` is the tenant id or one of its verified domains. Errors use Entra's body:
//! `{error, error_description:"AADSTSnnn: …\r\nTrace ID…", error_codes:[n], timestamp,
//! trace_id, correlation_id, error_uri}`; `invalid_client` answers 401, the rest 400.
//!
//! AADSTS codes. Confirmed in Microsoft's code table (entra-docs
//! `docs/identity-platform/reference-error-codes.md`): 7000215 (invalid secret), 7000218
//! (no credential), 700016 (unknown client), 700027 (assertion signature), 70003 (grant
//! type), 70011 (invalid scope), 500011 (unknown resource), 900144 (missing parameter),
//! 90002 (unknown tenant), 9001023 (`/common` with this grant), 90014 (missing field in
//! the credential), 50027 (malformed JWT), 50048 (`sub` ≠ `iss`), 900561 (wrong method),
//! 90100 (invalid parameter), 9002313 (malformed request). Seen only in real responses
//! quoted in public issues: 700024 (assertion time range; MSAL issue #4951), 1002012
//! (scope without `/.default`; several issues), 50012 (assertion audience "does not match
//! Realm issuer"; ADAL-Python issue #79, 2017: the current code for a wrong `aud` is not
//! documented). From memory, not confirmed: 700021 (assertion `iss` ≠ `client_id`),
//! 9000411 (duplicated parameter).
//!
//! Stricter choices where the behaviour is not documented:
//! - a parameter sent twice is refused (9000411);
//! - `scope` must be exactly one value `<resource>/.default` for Graph or the emulator;
//! - a client secret and a client assertion together are refused;
//! - RS256 assertions must name their key with `x5t` (SHA-1), PS256 ones with `x5t#S256`;
//!   other algorithms are refused;
//! - `exp`, `nbf` and `jti` are required; the allowed clock skew is 60 s;
//! - an expired or not-yet-valid registered certificate is refused;
//! - the assertion `aud` must be this emulator's token endpoint for the tenant (by id, or
//!   by the domain the request used);
//! - the `claims` parameter (sent by Microsoft's SDKs) is ignored but must be JSON.
//!
//! Not enforced: `jti` replay (Microsoft documents none and some SDKs may cache an
//! assertion), the assertion's maximum lifetime (documented as not enforced).
//!
//! Access tokens are RS256 JWTs signed with a key generated per [`TokenService`], so a
//! token from another emulator run (or anywhere else) is refused. Graph accepts v1.0
//! tokens, so they carry v1 claims (`iss` `https://sts.windows.net/{tid}/`, `appid`,
//! `appidacr`) and their v2 twins (`azp`, `azpacr`). The service principal's `oid` is
//! derived from the client id, so it is stable across runs. Nothing here logs a secret,
//! an assertion or a token.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::signature::KeyPair as _;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::application::Application;
use crate::error::{GraphError, RequestIds};
use crate::principal::Principal;

/// Graph's resource identifier: the `aud` of Graph access tokens.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Lifetime of an issued access token, in seconds (`expires_in`).
pub const TOKEN_LIFETIME_SECONDS: i64 = 3599;
/// Clock skew allowed on a client assertion's `exp` and `nbf`, in seconds.
pub const ASSERTION_SKEW_SECONDS: i64 = 60;
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered certificate, parsed once at start.
struct Certificate {
    x5t: String,
    x5t_s256: String,
    sha1_hex: String,
    key: DecodingKey,
    not_before: i64,
    not_after: i64,
}

struct Client {
    app: Application,
    certificates: Vec<Certificate>,
    object_id: String,
}

/// How the client proved itself: `appidacr` 1 (secret) or 2 (certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
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
struct AccessClaims {
    aud: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    tid: String,
    appid: String,
    azp: String,
    appidacr: String,
    azpacr: String,
    oid: String,
    sub: String,
    idtyp: String,
    ver: String,
    roles: Vec<String>,
}

/// An Entra token endpoint error, rendered with [`TokenError::into_response_with`].
#[derive(Debug, Clone)]
pub struct TokenError {
    /// OAuth `error` (`invalid_client`, `invalid_request`, ...).
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The description after `AADSTSnnn: `.
    pub description: String,
}

impl TokenError {
    fn new(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self {
            error,
            code,
            description: description.into(),
        }
    }

    fn missing(name: &str) -> Self {
        Self::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// 401 for `invalid_client`, 400 otherwise (as Entra answers).
    pub fn status(&self) -> StatusCode {
        if self.error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    /// Entra's JSON error response; `correlation_id` echoes the caller's
    /// `client-request-id` when it is a GUID.
    pub fn into_response_with(self, base: &Url, headers: &HeaderMap) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string();
        let timestamp = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%SZ")
            .to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{base}error?code={}", self.code),
        });
        let mut response = (self.status(), Json(body)).into_response();
        no_store(response.headers_mut());
        if let Ok(v) = HeaderValue::from_str(&trace_id) {
            response.headers_mut().insert("x-ms-request-id", v);
        }
        response
    }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The emulator's token service: issues access tokens to the tenant's registered
/// applications and verifies them on every Graph request.
pub struct TokenService {
    base: Url,
    tenant_id: String,
    domains: Vec<String>,
    clients: HashMap<String, Client>,
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
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

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
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

fn parse_certificate(pem: &str) -> Result<Certificate, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if pem.label != "CERTIFICATE" {
        return Err(format!(
            "expected a CERTIFICATE PEM block, found {}",
            pem.label
        ));
    }
    let der = pem.contents;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let key = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => DecodingKey::from_rsa_raw_components(
            strip_leading_zeros(rsa.modulus),
            strip_leading_zeros(rsa.exponent),
        ),
        Ok(_) => return Err("only RSA certificates can sign client assertions".into()),
        Err(e) => return Err(format!("unreadable public key: {e}")),
    };
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let sha256 = digest::digest(&digest::SHA256, &der);
    Ok(Certificate {
        x5t: b64url(sha1.as_ref()),
        x5t_s256: b64url(sha256.as_ref()),
        sha1_hex: sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
        key,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// The form fields of a token request; a duplicated field is an error.
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if fields.contains_key(name.as_ref()) {
            return Err(TokenError::new(
                "invalid_request",
                9000411,
                format!(
                    "The request is not properly formatted. The parameter '{name}' is duplicated."
                ),
            ));
        }
        fields.insert(name.into_owned(), value.into_owned());
    }
    Ok(fields)
}

/// `Authorization: Basic` credentials (client id and secret are form-url-encoded first,
/// RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
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
    fn access_issuer(&self) -> String {
        format!("https://sts.windows.net/{}/", self.tenant_id)
    }

    /// The audiences access tokens may carry: Graph, or the emulator's own root.
    fn audiences(&self) -> [String; 2] {
        [
            GRAPH_RESOURCE.to_owned(),
            self.base.as_str().trim_end_matches('/').to_owned(),
        ]
    }

    /// Whether `tenant` names this tenant (id or verified domain, case-insensitive).
    fn is_this_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant))
    }

    fn check_tenant(&self, tenant: &str) -> Result<(), TokenError> {
        if ["common", "organizations", "consumers"]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tenant))
        {
            return Err(TokenError::new(
                "invalid_request",
                9001023,
                "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            ));
        }
        if self.is_this_tenant(tenant) {
            Ok(())
        } else {
            Err(TokenError::new(
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
                ),
            ))
        }
    }

    /// The resource `scope` names: one value, `<resource>/.default`, for Graph or the
    /// emulator itself.
    fn check_scope(&self, scope: &str) -> Result<String, TokenError> {
        let values: Vec<&str> = scope.split_whitespace().collect();
        let [value] = values.as_slice() else {
            return Err(TokenError::new(
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            ));
        };
        let Some(resource) = value.strip_suffix("/.default") else {
            return Err(TokenError::new(
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {value} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        };
        let resource = resource.trim_end_matches('/');
        self.audiences()
            .into_iter()
            .find(|aud| aud.eq_ignore_ascii_case(resource))
            .ok_or_else(|| {
                TokenError::new(
                    "invalid_resource",
                    500011,
                    format!("The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", self.tenant_id),
                )
            })
    }

    fn client(&self, client_id: &str) -> Result<&Client, TokenError> {
        self.clients
            .get(&client_id.to_ascii_lowercase())
            .ok_or_else(|| {
                TokenError::new(
                    "unauthorized_client",
                    700016,
                    format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", self.tenant_id),
                )
            })
    }

    fn check_secret(client: &Client, secret: &str) -> Result<(), TokenError> {
        let ok = client.app.client_secret.as_deref().is_some_and(|expected| {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                secret.as_bytes(),
            )
            .is_ok()
        });
        if ok {
            Ok(())
        } else {
            Err(TokenError::new(
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    client.app.client_id
                ),
            ))
        }
    }

    /// Verifies a client assertion (certificate credential) for `client` as sent to the
    /// token endpoint of `tenant`, at time `now` (Unix seconds).
    fn check_assertion(
        &self,
        client: &Client,
        assertion: &str,
        tenant: &str,
        now: i64,
    ) -> Result<(), TokenError> {
        let malformed = || {
            TokenError::new(
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            )
        };
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
        let signature_failure = |reason: &str, thumbprint: &str| {
            TokenError::new(
                "invalid_client",
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - {reason}, Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    client.app.client_id
                ),
            )
        };
        // Each algorithm names its key with its own thumbprint (certificate-credentials.md).
        let (thumbprint, by_sha256) = match header.alg {
            Algorithm::RS256 => (header.x5t.clone(), false),
            Algorithm::PS256 => (header.x5t_s256.clone(), true),
            _ => {
                return Err(signature_failure(
                    "The algorithm is not supported; use PS256 with x5t#S256 or RS256 with x5t",
                    "",
                ));
            }
        };
        let Some(thumbprint) = thumbprint else {
            return Err(signature_failure(
                if by_sha256 {
                    "The x5t#S256 header is missing"
                } else {
                    "The x5t header is missing"
                },
                "",
            ));
        };
        let certificate = client.certificates.iter().find(|c| {
            if by_sha256 {
                c.x5t_s256 == thumbprint
            } else {
                c.x5t == thumbprint
            }
        });
        let Some(certificate) = certificate else {
            return Err(signature_failure("The key was not found.", &thumbprint));
        };
        let found = || {
            let fmt = |t: i64| {
                jiff::Timestamp::from_second(t)
                    .map(|t| t.strftime("%m/%d/%Y %H:%M:%S").to_string())
                    .unwrap_or_default()
            };
            format!(
                "Found key 'Start={}, End={}'",
                fmt(certificate.not_before),
                fmt(certificate.not_after)
            )
        };
        if now < certificate.not_before || now > certificate.not_after {
            return Err(signature_failure(
                &format!(
                    "The key was found but is not valid at this time. {}",
                    found()
                ),
                &certificate.sha1_hex,
            ));
        }

        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<AssertionClaims>(
            assertion,
            &certificate.key,
            &validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => signature_failure(
                &format!(
                    "The provided signature value did not match the expected signature value., {}",
                    found()
                ),
                &certificate.sha1_hex,
            ),
            _ => malformed(),
        })?
        .claims;

        let client_id = &client.app.client_id;
        match (&claims.iss, &claims.sub) {
            (Some(iss), Some(sub)) if iss != sub => {
                return Err(TokenError::new(
                    "invalid_client",
                    50048,
                    "Subject mismatches Issuer claim in the client assertion.",
                ));
            }
            (Some(iss), Some(_)) if !iss.eq_ignore_ascii_case(client_id) => {
                return Err(TokenError::new(
                    "invalid_client",
                    700021,
                    "Client assertion application identifier doesn't match 'client_id' parameter.",
                ));
            }
            (Some(_), Some(_)) => {}
            (None, _) => return Err(missing_claim("iss")),
            (_, None) => return Err(missing_claim("sub")),
        }
        if claims.jti.as_deref().is_none_or(str::is_empty) {
            return Err(missing_claim("jti"));
        }

        let expected = [
            self.token_endpoint(&self.tenant_id),
            self.token_endpoint(tenant),
        ];
        let audiences: Vec<&str> = match &claims.aud {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => return Err(missing_claim("aud")),
        };
        if !audiences
            .iter()
            .any(|aud| expected.iter().any(|e| e.eq_ignore_ascii_case(aud)))
        {
            return Err(TokenError::new(
                "invalid_client",
                50012,
                format!(
                    "Client assertion audience claim does not match Realm issuer. Expected '{}'.",
                    expected[0]
                ),
            ));
        }

        let (Some(exp), Some(nbf)) = (claims.exp, claims.nbf) else {
            return Err(missing_claim(if claims.exp.is_none() {
                "exp"
            } else {
                "nbf"
            }));
        };
        if now > exp + ASSERTION_SKEW_SECONDS || now + ASSERTION_SKEW_SECONDS < nbf {
            let fmt = |t: i64| {
                jiff::Timestamp::from_second(t)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| t.to_string())
            };
            return Err(TokenError::new(
                "invalid_client",
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                    fmt(now),
                    fmt(nbf),
                    fmt(exp)
                ),
            ));
        }
        Ok(())
    }

    /// Handles one token request (form body already read). Returns the JSON success body.
    fn issue(&self, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, TokenError> {
        self.check_tenant(tenant)?;
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        // Entra only reads form bodies; anything else looks like an empty form.
        let form = if is_form {
            parse_form(body)?
        } else {
            HashMap::new()
        };
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());

        let grant_type = field("grant_type").ok_or_else(|| TokenError::missing("grant_type"))?;
        if grant_type != "client_credentials" {
            return Err(TokenError::new(
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant_type}'."),
            ));
        }

        let basic = basic_credentials(headers);
        let client_id = match (field("client_id"), &basic) {
            (Some(form_id), Some((basic_id, _))) if !form_id.eq_ignore_ascii_case(basic_id) => {
                return Err(TokenError::new(
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. The client_id in the body doesn't match the one in the Authorization header.",
                ));
            }
            (Some(form_id), _) => form_id.to_owned(),
            (None, Some((basic_id, _))) => basic_id.clone(),
            (None, None) => return Err(TokenError::missing("client_id")),
        };
        let scope = field("scope").ok_or_else(|| TokenError::missing("scope"))?;
        if let Some(claims) = form.get("claims")
            && serde_json::from_str::<Value>(claims).is_err()
        {
            return Err(TokenError::new(
                "invalid_request",
                90100,
                "The parameter 'claims' is empty or not valid.",
            ));
        }

        let client = self.client(&client_id)?;
        let secret = field("client_secret").or(basic.as_ref().map(|(_, s)| s.as_str()));
        let assertion = field("client_assertion");
        let auth = match (secret, assertion) {
            (Some(_), Some(_)) => {
                return Err(TokenError::new(
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. Send either 'client_secret' or 'client_assertion', not both.",
                ));
            }
            (None, None) => {
                return Err(TokenError::new(
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                ));
            }
            (Some(secret), None) => {
                Self::check_secret(client, secret)?;
                ClientAuth::Secret
            }
            (None, Some(assertion)) => {
                match field("client_assertion_type") {
                    None => return Err(TokenError::missing("client_assertion_type")),
                    Some(JWT_BEARER) => {}
                    Some(_) => {
                        return Err(TokenError::new(
                            "invalid_request",
                            9002313,
                            format!(
                                "Invalid request. Request is malformed or invalid. 'client_assertion_type' must be '{JWT_BEARER}'."
                            ),
                        ));
                    }
                }
                self.check_assertion(
                    client,
                    assertion,
                    tenant,
                    jiff::Timestamp::now().as_second(),
                )?;
                ClientAuth::Certificate
            }
        };
        let audience = self.check_scope(scope)?;
        let token = self
            .mint(client, &audience, auth, jiff::Timestamp::now().as_second())
            .map_err(|e| {
                TokenError::new(
                    "server_error",
                    50000,
                    format!("There's an issue with the sign-in service. {e}"),
                )
            })?;
        Ok(json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": token,
        }))
    }

    fn mint(
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
            jiff::Timestamp::now().as_second(),
        )
        .ok()
    }

    /// A correctly signed Graph access token for a registered client that expired two
    /// hours ago.
    pub fn mint_expired_for_tests(&self, client_id: &str) -> Option<String> {
        let client = self.clients.get(&client_id.to_ascii_lowercase())?;
        let issued_at = jiff::Timestamp::now().as_second() - 2 * 3600;
        self.mint(client, GRAPH_RESOURCE, ClientAuth::Secret, issued_at)
            .ok()
    }

    /// Checks the `Authorization: Bearer` header of a Graph request and returns the caller.
    ///
    /// Failures are Graph's 401 `InvalidAuthenticationToken` with a `WWW-Authenticate`
    /// challenge.
    // GraphError is large, but this signature is the one the routes and the gate share.
    #[allow(clippy::result_large_err)]
    pub fn verify_bearer(&self, headers: &HeaderMap) -> Result<Principal, GraphError> {
        let unauthorized = |message: &str| {
            let challenge = format!(
                "Bearer realm=\"\", authorization_uri=\"{}{}/oauth2/v2.0/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                self.base, self.tenant_id
            );
            GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
            .with_header("www-authenticate", &challenge)
        };
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            // A bare "Bearer" or an empty header: nothing to check.
            None if value.eq_ignore_ascii_case("bearer") || value.is_empty() => "",
            _ => return Err(unauthorized("Access token is empty.")),
        };
        if token.is_empty() {
            return Err(unauthorized("Access token is empty."));
        }
        if token.split('.').count() != 3 {
            return Err(unauthorized(
                "CompactToken parsing failed with error code: 80049217",
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims =
            match jsonwebtoken::decode::<AccessClaims>(token, &self.decoding_key, &validation) {
                Ok(data) => data.claims,
                Err(e) => {
                    return Err(unauthorized(match e.kind() {
                        jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                            "Access token validation failure. Invalid signature."
                        }
                        _ => "Access token validation failure.",
                    }));
                }
            };
        let now = jiff::Timestamp::now().as_second();
        // Graph gives no skew to its own tokens' expiry: stricter than most validators.
        if now >= claims.exp || now < claims.nbf {
            return Err(unauthorized(
                "Access token has expired or is not yet valid.",
            ));
        }
        if !self.audiences().contains(&claims.aud) {
            return Err(unauthorized(
                "Access token validation failure. Invalid audience.",
            ));
        }
        if claims.iss != self.access_issuer() || claims.tid != self.tenant_id {
            return Err(unauthorized(
                "Access token validation failure. Invalid issuer.",
            ));
        }
        let client = self
            .clients
            .get(&claims.appid.to_ascii_lowercase())
            .ok_or_else(|| unauthorized("Access token validation failure."))?;
        Ok(Principal {
            app_id: client.app.client_id.clone(),
            tenant_id: claims.tid,
            roles: claims.roles.into_iter().collect::<BTreeSet<_>>(),
            directory_roles: client.app.directory_roles.iter().cloned().collect(),
        })
    }

    fn discovery(&self, tenant: &str) -> Value {
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

    fn jwks(&self) -> Value {
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

    /// The token service's routes (see the module docs).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                "/{tenant}/oauth2/v2.0/token",
                get(token_wrong_method).post(token_endpoint),
            )
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery_endpoint),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(jwks_endpoint))
            .route("/common/discovery/instance", get(instance_discovery))
            .with_state(self)
    }
}

fn missing_claim(name: &str) -> TokenError {
    TokenError::new(
        "invalid_client",
        90014,
        format!(
            "The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
        ),
    )
}

async fn token_endpoint(
    State(service): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match service.issue(&tenant, &headers, &body) {
        Ok(value) => {
            let mut response = (StatusCode::OK, Json(value)).into_response();
            no_store(response.headers_mut());
            RequestIds::from_headers(&headers).stamp(response.headers_mut());
            response
        }
        Err(error) => error.into_response_with(&service.base, &headers),
    }
}

async fn token_wrong_method(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
) -> Response {
    TokenError::new(
        "invalid_request",
        900561,
        "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
    )
    .into_response_with(&service.base, &headers)
}

async fn discovery_endpoint(
    State(service): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !service.is_this_tenant(&tenant) {
        return TokenError::new(
            "invalid_tenant",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        )
        .into_response_with(&service.base, &headers);
    }
    Json(service.discovery(&tenant)).into_response()
}

async fn jwks_endpoint(
    State(service): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !service.is_this_tenant(&tenant) {
        return TokenError::new(
            "invalid_tenant",
            90002,
            format!("Tenant '{tenant}' not found."),
        )
        .into_response_with(&service.base, &headers);
    }
    Json(service.jwks()).into_response()
}

async fn instance_discovery(State(service): State<Arc<TokenService>>) -> Response {
    let host = match (service.base.host_str(), service.base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "127.0.0.1".to_owned(),
    };
    Json(json!({
        "tenant_discovery_endpoint": format!("{}{}/v2.0/.well-known/openid-configuration", service.base, service.tenant_id),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";
    const APP: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";

    struct TestCert {
        pem: String,
        der: Vec<u8>,
        key: EncodingKey,
    }

    fn test_cert() -> TestCert {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["b2b-convert-test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        TestCert {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            key: EncodingKey::from_rsa_pem(key.serialize_pem().as_bytes()).unwrap(),
        }
    }

    fn service(cert: &TestCert) -> TokenService {
        let app = Application {
            client_id: APP.to_owned(),
            client_secret: Some("s3cret".to_owned()),
            certificates: vec![cert.pem.clone()],
            roles: vec!["User.Read.All".to_owned()],
            directory_roles: vec!["User Administrator".to_owned()],
        };
        TokenService::new(
            &Url::parse("https://127.0.0.1:8443").unwrap(),
            TENANT,
            &["contoso.com".to_owned()],
            &[app],
        )
        .unwrap()
    }

    fn assertion(
        cert: &TestCert,
        alg: Algorithm,
        claims: Value,
        tweak: impl FnOnce(&mut Header),
    ) -> String {
        let mut header = Header::new(alg);
        header.typ = Some("JWT".to_owned());
        match alg {
            Algorithm::PS256 => {
                header.x5t_s256 = Some(b64url(digest::digest(&digest::SHA256, &cert.der).as_ref()))
            }
            _ => {
                header.x5t = Some(b64url(
                    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der).as_ref(),
                ))
            }
        }
        tweak(&mut header);
        jsonwebtoken::encode(&header, &claims, &cert.key).unwrap()
    }

    fn good_claims(svc: &TokenService, now: i64) -> Value {
        json!({
            "aud": svc.token_endpoint(TENANT),
            "iss": APP, "sub": APP,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now, "exp": now + 600,
        })
    }

    fn code(result: Result<(), TokenError>) -> u32 {
        result.unwrap_err().code
    }

    #[test]
    fn assertion_checks() {
        let cert = test_cert();
        let svc = service(&cert);
        let client = svc.client(APP).unwrap();
        let now = jiff::Timestamp::now().as_second();

        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let jwt = assertion(&cert, alg, good_claims(&svc, now), |_| {});
            svc.check_assertion(client, &jwt, TENANT, now).unwrap();
        }
        // The domain form of the endpoint is accepted when the request used the domain.
        let mut claims = good_claims(&svc, now);
        claims["aud"] = json!(svc.token_endpoint("contoso.com"));
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        svc.check_assertion(client, &jwt, "contoso.com", now)
            .unwrap();

        // Expired (beyond the skew) and not yet valid.
        let mut claims = good_claims(&svc, now);
        claims["exp"] = json!(now - ASSERTION_SKEW_SECONDS - 1);
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700024);
        let mut claims = good_claims(&svc, now);
        claims["nbf"] = json!(now + 3600);
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700024);

        // Wrong audience.
        let mut claims = good_claims(&svc, now);
        claims["aud"] = json!("https://login.microsoftonline.com/x/oauth2/v2.0/token");
        let jwt = assertion(&cert, Algorithm::RS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 50012);

        // x5t of another certificate, PS256 with only x5t, wrong algorithm.
        let jwt = assertion(&cert, Algorithm::RS256, good_claims(&svc, now), |h| {
            h.x5t = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA".into())
        });
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700027);
        let jwt = assertion(&cert, Algorithm::PS256, good_claims(&svc, now), |h| {
            h.x5t = h.x5t_s256.take()
        });
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700027);
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good_claims(&svc, now),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        assert_eq!(code(svc.check_assertion(client, &hs, TENANT, now)), 700027);

        // Signed by another key that claims the registered certificate's thumbprint.
        let other = test_cert();
        let forged = {
            let mut header = Header::new(Algorithm::PS256);
            header.x5t_s256 = Some(b64url(digest::digest(&digest::SHA256, &cert.der).as_ref()));
            jsonwebtoken::encode(&header, &good_claims(&svc, now), &other.key).unwrap()
        };
        let err = svc
            .check_assertion(client, &forged, TENANT, now)
            .unwrap_err();
        assert_eq!(err.code, 700027);
        assert!(
            err.description.contains("did not match"),
            "{}",
            err.description
        );

        // Claims: sub ≠ iss, iss ≠ client, jti missing.
        let mut claims = good_claims(&svc, now);
        claims["sub"] = json!("someone-else");
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 50048);
        let mut claims = good_claims(&svc, now);
        claims["iss"] = json!("other");
        claims["sub"] = json!("other");
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 700021);
        let mut claims = good_claims(&svc, now);
        claims.as_object_mut().unwrap().remove("jti");
        let jwt = assertion(&cert, Algorithm::PS256, claims, |_| {});
        assert_eq!(code(svc.check_assertion(client, &jwt, TENANT, now)), 90014);

        assert_eq!(
            code(svc.check_assertion(client, "not-a-jwt", TENANT, now)),
            50027
        );
    }

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    #[test]
    fn token_requests() {
        let cert = test_cert();
        let svc = service(&cert);
        let issue = |tenant: &str, body: &str| svc.issue(tenant, &form_headers(), body.as_bytes());
        let ok = format!(
            "grant_type=client_credentials&client_id={APP}&client_secret=s3cret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&claims=%7B%7D"
        );
        let value = issue(TENANT, &ok).unwrap();
        assert_eq!(value["token_type"], "Bearer");
        assert_eq!(value["expires_in"], 3599);
        let value = issue("Contoso.com", &ok).unwrap();
        let token = value["access_token"].as_str().unwrap();

        let err = |tenant: &str, body: &str| issue(tenant, body).unwrap_err().code;
        assert_eq!(err("fabrikam.com", &ok), 90002);
        assert_eq!(err("common", &ok), 9001023);
        assert_eq!(err(TENANT, &ok.replace("s3cret", "wrong")), 7000215);
        assert_eq!(
            err(
                TENANT,
                &ok.replace(APP, "00000000-0000-0000-0000-000000000001")
            ),
            700016
        );
        assert_eq!(
            err(TENANT, &ok.replace("&client_secret=s3cret", "")),
            7000218
        );
        assert_eq!(
            err(TENANT, &ok.replace("client_credentials", "password")),
            70003
        );
        assert_eq!(
            err(TENANT, &ok.replace("grant_type=client_credentials&", "")),
            900144
        );
        assert_eq!(
            err(TENANT, &ok.replace("%2F.default", "%2FUser.Read.All")),
            1002012
        );
        assert_eq!(
            err(
                TENANT,
                &ok.replace("graph.microsoft.com", "vault.azure.net")
            ),
            500011
        );
        assert_eq!(
            err(TENANT, &ok.replace("%2F.default", "%2F.default+openid")),
            70011
        );
        assert_eq!(err(TENANT, &format!("{ok}&scope=x")), 9000411);
        assert_eq!(
            err(TENANT, &ok.replace("claims=%7B%7D", "claims=%7B")),
            90100
        );
        assert_eq!(
            svc.issue(TENANT, &HeaderMap::new(), ok.as_bytes())
                .unwrap_err()
                .code,
            900144,
            "a body that isn't a form is not read"
        );
        let status = issue(TENANT, &ok.replace("s3cret", "wrong"))
            .unwrap_err()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // HTTP Basic client authentication.
        let mut headers = form_headers();
        let basic = STANDARD.encode(format!("{APP}:s3cret"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        let body =
            "grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
        svc.issue(TENANT, &headers, body.as_bytes()).unwrap();

        // The token works, and carries what Graph tokens carry.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        let principal = svc.verify_bearer(&headers).unwrap();
        assert_eq!(principal.app_id, APP);
        assert_eq!(principal.tenant_id, TENANT);
        assert!(principal.roles.contains("User.Read.All"));
        assert!(principal.has_directory_role(&["User Administrator"]));
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
        assert_eq!(claims["aud"], GRAPH_RESOURCE);
        assert_eq!(claims["appidacr"], "1");
        assert_eq!(claims["azp"], APP);
        assert!(claims["oid"].as_str().is_some());
    }

    #[test]
    fn certificate_token_has_acr_2() {
        let cert = test_cert();
        let svc = service(&cert);
        let now = jiff::Timestamp::now().as_second();
        let jwt = assertion(&cert, Algorithm::PS256, good_claims(&svc, now), |_| {});
        let body = format!(
            "grant_type=client_credentials&client_id={APP}&scope=https%3A%2F%2F127.0.0.1%3A8443%2F.default&client_assertion_type={}&client_assertion={jwt}",
            JWT_BEARER.replace(':', "%3A")
        );
        let value = svc.issue(TENANT, &form_headers(), body.as_bytes()).unwrap();
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(
            value["access_token"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(claims["appidacr"], "2");
        assert_eq!(claims["aud"], "https://127.0.0.1:8443");
    }

    #[test]
    fn bearer_refusals() {
        let cert = test_cert();
        let svc = service(&cert);
        let check = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = value {
                headers.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            }
            let err = svc.verify_bearer(&headers).unwrap_err();
            assert_eq!(err.status, StatusCode::UNAUTHORIZED);
            assert_eq!(err.code, "InvalidAuthenticationToken");
            assert!(err.headers.contains_key("www-authenticate"));
            err.message
        };
        assert_eq!(check(None), "Access token is empty.");
        assert_eq!(check(Some("Bearer ")), "Access token is empty.");
        assert!(check(Some("Bearer abc")).contains("CompactToken"));
        let expired = svc.mint_expired_for_tests(APP).unwrap();
        assert_eq!(
            check(Some(&format!("Bearer {expired}"))),
            "Access token has expired or is not yet valid."
        );
        // A token from another emulator instance (another key) is a forgery here.
        let other = service(&cert);
        let foreign = other.mint_for_tests(APP).unwrap();
        assert!(
            check(Some(&format!("Bearer {foreign}")))
                .starts_with("Access token validation failure")
        );
        assert!(svc.mint_for_tests("unknown").is_none());
    }

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
