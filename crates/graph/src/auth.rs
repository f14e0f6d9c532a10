//! Access tokens: the [`TokenSource`] trait and the OAuth2 client-credentials
//! flow with a client secret (graph-facts §7).
//!
//! Hand-rolled rather than `oauth2`/`azure_identity`: those either duplicate
//! the HTTP stack or refuse `http://127.0.0.1` authorities (the emulator).

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::clock::SharedClock;
use crate::cloud::Endpoints;
use crate::error::{GraphError, auth_error, snippet};

/// A bearer token and its expiry.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer token; never logged.
    pub secret: SecretString,
    /// When Entra stops accepting it.
    pub expires_at: Timestamp,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Something that hands out Graph access tokens. Object-safe so credentials
/// (secret, certificate, managed identity, Azure CLI) can be swapped at run
/// time behind `Arc<dyn TokenSource>`.
pub trait TokenSource: Send + Sync {
    /// A valid token, from cache when possible.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>>;
    /// Drop any cached token; the next [`TokenSource::token`] fetches a new
    /// one. Called after Graph answers 401 `InvalidAuthenticationToken`.
    fn invalidate(&self);
}

/// Client-credentials flow with a client secret; caches the token and renews
/// it ahead of expiry. Concurrent callers share one refresh (single flight).
pub struct ClientSecretCredential {
    token_url: Url,
    client_id: String,
    scope: String,
    secret: SecretString,
    http: Result<reqwest::Client, String>,
    clock: SharedClock,
    cache: Mutex<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    renew_at: Timestamp,
}

impl fmt::Debug for ClientSecretCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecretCredential")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// How long before expiry a token is renewed: 5 minutes, or half the lifetime
/// for tokens shorter than 10 minutes.
pub fn renewal_margin(lifetime: Duration) -> Duration {
    const MARGIN: Duration = Duration::from_secs(300);
    (lifetime / 2).min(MARGIN)
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    // Entra sends a number; some emulators and older endpoints a string.
    expires_in: Option<serde_json::Value>,
}

impl ClientSecretCredential {
    /// A credential for `client_id` in `tenant` (GUID or domain), with the
    /// token URL and scope taken from `endpoints`.
    pub fn new(endpoints: &Endpoints, tenant: &str, client_id: &str, secret: SecretString) -> Self {
        ClientSecretCredential {
            token_url: endpoints.token_url(tenant),
            client_id: client_id.to_string(),
            scope: endpoints.scope(),
            secret,
            http: http_client(Duration::from_secs(30), endpoints.is_loopback()),
            clock: crate::clock::system(),
            cache: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Change the token request timeout (default 30 s; `Duration::ZERO`
    /// disables it, e.g. for paused-time tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let loopback = self.token_url.host().is_some_and(|h| match h {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        });
        self.http = http_client(timeout, loopback);
        self
    }

    /// Replace the wall clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The token endpoint in use.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    fn cached(&self) -> Option<AccessToken> {
        let now = self.clock.now();
        let g = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref()
            .filter(|c| now < c.renew_at)
            .map(|c| c.token.clone())
    }

    /// [`Self::fetch`] with a short retry on transient failures: a token
    /// refresh happens mid-run, and a login blip should not fail a row. Safe
    /// to repeat: asking for a token has no side effects.
    async fn fetch_with_retry(&self) -> Result<AccessToken, GraphError> {
        const ATTEMPTS: u32 = 3;
        let mut attempt = 1;
        loop {
            match self.fetch().await {
                Err(e) if attempt < ATTEMPTS && is_transient(&e) => {
                    let delay = Duration::from_secs(u64::from(attempt));
                    tracing::warn!(attempt, error = %e, delay_ms = delay.as_millis() as u64, "token request failed, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn fetch(&self) -> Result<AccessToken, GraphError> {
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let http = self.http.as_ref().map_err(|e| GraphError::Transport {
            message: format!("building HTTP client: {e}"),
            client_request_id: client_request_id.clone(),
            sent: false,
        })?;
        let form = [
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
            ("client_secret", self.secret.expose_secret()),
            ("grant_type", "client_credentials"),
        ];
        tracing::debug!(url = %self.token_url, client_id = %self.client_id, "requesting token");
        let issued_at = self.clock.now();
        let resp = http
            .post(self.token_url.clone())
            .header("client-request-id", &client_request_id)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                let sent = !e.is_connect();
                GraphError::Transport {
                    message: format!("token request: {}", crate::error::describe(e)),
                    client_request_id: client_request_id.clone(),
                    sent,
                }
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| GraphError::Transport {
            message: format!("token response: {}", crate::error::describe(e)),
            client_request_id: client_request_id.clone(),
            sent: true,
        })?;
        if !(200..300).contains(&status) {
            let err = auth_error(status, &body);
            tracing::warn!(
                status,
                code = err.code().unwrap_or(""),
                "token request refused"
            );
            return Err(err);
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| GraphError::Decode {
                message: format!("token response: {e}"),
                request_id: None,
            })?;
        let access_token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GraphError::Decode {
                message: format!("token response without access_token: {}", redact(&body)),
                request_id: None,
            })?;
        let expires_in = match parsed.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .unwrap_or(3599);
        let lifetime = Duration::from_secs(expires_in);
        let expires_at = issued_at
            .checked_add(SignedDuration::from_secs(
                expires_in.min(i64::MAX as u64) as i64
            ))
            .unwrap_or(issued_at);
        let margin = renewal_margin(lifetime);
        let renew_at = expires_at
            .checked_sub(SignedDuration::try_from(margin).unwrap_or(SignedDuration::ZERO))
            .unwrap_or(issued_at);
        let token = AccessToken {
            secret: SecretString::from(access_token),
            expires_at,
        };
        let mut g = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some(Cached {
            token: token.clone(),
            renew_at,
        });
        tracing::debug!(%expires_at, %renew_at, "token acquired");
        Ok(token)
    }
}

/// Transport failures, throttling and server errors from the token endpoint.
fn is_transient(e: &GraphError) -> bool {
    match e {
        GraphError::Transport { .. } => true,
        GraphError::Auth { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

fn http_client(timeout: Duration, loopback: bool) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if !timeout.is_zero() {
        builder = builder.timeout(timeout);
    }
    if loopback {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| e.to_string())
}

/// A body snippet with anything token-like removed, for decode errors.
fn redact(body: &[u8]) -> String {
    let s = snippet(body);
    if s.contains("token") {
        "[body withheld]".to_string()
    } else {
        s
    }
}

impl TokenSource for ClientSecretCredential {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            if let Some(t) = self.cached() {
                return Ok(t);
            }
            // Single flight: one caller refreshes, the others wait here and
            // then find the fresh token in the cache.
            let _guard = self.refresh.lock().await;
            if let Some(t) = self.cached() {
                return Ok(t);
            }
            self.fetch_with_retry().await
        })
    }

    fn invalidate(&self) {
        let mut g = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        *g = None;
    }
}

/// A fixed token, e.g. from `az account get-access-token`; cannot renew.
pub struct StaticToken {
    token: AccessToken,
}

impl StaticToken {
    /// Wrap a token obtained elsewhere.
    pub fn new(secret: SecretString, expires_at: Timestamp) -> Self {
        StaticToken {
            token: AccessToken { secret, expires_at },
        }
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.token.fmt(f)
    }
}

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>> {
        let t = self.token.clone();
        Box::pin(async move { Ok(t) })
    }

    fn invalidate(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Cloud;

    #[test]
    fn margin_is_five_minutes_or_half() {
        assert_eq!(
            renewal_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(120)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = ClientSecretCredential::new(
            &Endpoints::for_cloud(Cloud::Global),
            "contoso.onmicrosoft.com",
            "app-1",
            SecretString::from("s3cr3t-value"),
        );
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t"));
        assert!(d.contains("app-1"));
        assert_eq!(
            c.token_url().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let t = AccessToken {
            secret: SecretString::from("eyJ-token"),
            expires_at: Timestamp::UNIX_EPOCH,
        };
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
