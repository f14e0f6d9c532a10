//! Entra's token endpoint for the client-credentials grant (graph-facts §7), shared by
//! the three credentials that use it: a client secret, a certificate-signed assertion
//! and a federated token are only different proofs in the same form.
//!
//! Also the HTTP pieces every token service shares: the client (no redirects, no proxy
//! for loopback) and the JSON answer with its expiry in any of the shapes services use.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::AccessToken;
use crate::clock::SharedClock;
use crate::cloud::{Endpoints, is_loopback};
use crate::error::{GraphError, auth_error, snippet};

/// `client_assertion_type` for a JWT assertion (RFC 7523), certificate or federated.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the application proves who it is.
pub(crate) enum Proof<'a> {
    /// `client_secret`.
    Secret(&'a SecretString),
    /// `client_assertion`: a JWT signed with the app's certificate, or a federated token.
    Assertion(SecretString),
}

/// The token endpoint of one tenant for one application.
pub(crate) struct TokenEndpoint {
    pub(crate) url: Url,
    pub(crate) client_id: String,
    scope: String,
    http: Result<reqwest::Client, String>,
}

impl TokenEndpoint {
    pub(crate) fn new(endpoints: &Endpoints, tenant: &str, client_id: &str) -> Self {
        let url = endpoints.token_url(tenant);
        TokenEndpoint {
            http: http_client(Duration::from_secs(30), None, is_loopback(&url)),
            url,
            client_id: client_id.to_owned(),
            scope: endpoints.scope(),
        }
    }

    /// Change the request timeout (`Duration::ZERO` disables it, for paused-time tests).
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.http = http_client(timeout, None, is_loopback(&self.url));
    }

    /// One token request.
    pub(crate) async fn request(
        &self,
        proof: Proof<'_>,
        clock: &SharedClock,
    ) -> Result<AccessToken, GraphError> {
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let http = client_or_error(&self.http, &client_request_id)?;
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        match &proof {
            Proof::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
            Proof::Assertion(jwt) => {
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", jwt.expose_secret()));
            }
        }
        tracing::debug!(url = %self.url, client_id = %self.client_id, "requesting token");
        let issued_at = clock.now();
        let request = http
            .post(self.url.clone())
            .header("client-request-id", &client_request_id)
            .form(&form);
        let (status, body) = send(request, &client_request_id, "token request").await?;
        if !(200..300).contains(&status) {
            let err = auth_error(status, &body);
            // The refusal reaches the operator as one sentence (the error); this line
            // is for -v.
            tracing::info!(
                status,
                code = err.code().unwrap_or(""),
                "token request refused"
            );
            return Err(err);
        }
        parse_token(&body, issued_at)
    }
}

/// An HTTP client for a token service: never follows redirects (a token must not
/// follow a Location header anywhere), bypasses proxies for loopback; `connect` bounds
/// the connection alone (managed identity's endpoint may swallow packets off Azure).
pub(crate) fn http_client(
    timeout: Duration,
    connect: Option<Duration>,
    direct: bool,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if !timeout.is_zero() {
        builder = builder.timeout(timeout);
    }
    if let Some(connect) = connect {
        builder = builder.connect_timeout(connect);
    }
    if direct {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| e.to_string())
}

pub(crate) fn client_or_error<'a>(
    http: &'a Result<reqwest::Client, String>,
    client_request_id: &str,
) -> Result<&'a reqwest::Client, GraphError> {
    http.as_ref().map_err(|e| GraphError::Transport {
        message: format!("building HTTP client: {e}"),
        client_request_id: client_request_id.to_owned(),
        sent: false,
    })
}

/// Sends a request and reads the whole answer; transport failures say whether the
/// request may have left.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    client_request_id: &str,
    what: &str,
) -> Result<(u16, Vec<u8>), GraphError> {
    let response = request.send().await.map_err(|e| {
        let sent = !e.is_connect();
        GraphError::Transport {
            message: format!("{what}: {}", crate::error::describe(e)),
            client_request_id: client_request_id.to_owned(),
            sent,
        }
    })?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| GraphError::Transport {
        message: format!("{what} answer: {}", crate::error::describe(e)),
        client_request_id: client_request_id.to_owned(),
        sent: true,
    })?;
    Ok((status, body.to_vec()))
}

/// A token answer: `access_token` with `expires_in` (seconds from now) or `expires_on`
/// (Unix seconds), each a number or a string of digits, as Entra, App Service and IMDS
/// variously send them.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    expires_on: Option<serde_json::Value>,
}

/// A number of seconds given as a JSON number or a numeric string (token services
/// write both).
pub(crate) fn seconds(value: Option<&serde_json::Value>) -> Option<i64> {
    match value? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a token answer received at `issued_at`. Without any expiry, an hour is
/// assumed (Entra's default lifetime is 60–90 minutes).
pub(crate) fn parse_token(body: &[u8], issued_at: Timestamp) -> Result<AccessToken, GraphError> {
    let parsed: TokenAnswer = serde_json::from_slice(body).map_err(|e| GraphError::Decode {
        message: format!("token answer is not the expected JSON: {e}"),
        request_id: None,
    })?;
    let access_token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::Decode {
            message: format!("token answer without access_token: {}", redact(body)),
            request_id: None,
        })?;
    let expires_at = match (
        seconds(parsed.expires_on.as_ref()),
        seconds(parsed.expires_in.as_ref()),
    ) {
        (Some(on), _) => Timestamp::from_second(on).ok(),
        (None, Some(secs)) => issued_at.checked_add(SignedDuration::from_secs(secs)).ok(),
        (None, None) => None,
    }
    .or_else(|| issued_at.checked_add(SignedDuration::from_secs(3599)).ok())
    .unwrap_or(issued_at);
    Ok(AccessToken {
        secret: SecretString::from(access_token),
        expires_at,
    })
}

/// A body snippet with anything token-like withheld, for decode errors.
fn redact(body: &[u8]) -> String {
    let s = snippet(body);
    if s.contains("token") {
        "[body withheld]".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_in_every_shape() {
        let at = Timestamp::from_second(1_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let expiry =
            |body: &str| parse_token(body.as_bytes(), at).map(|t| t.expires_at.as_second());
        assert_eq!(
            expiry(r#"{"access_token":"t","expires_in":3599}"#).ok(),
            Some(1_003_599)
        );
        assert_eq!(
            expiry(r#"{"access_token":"t","expires_in":"600"}"#).ok(),
            Some(1_000_600)
        );
        assert_eq!(
            expiry(r#"{"access_token":"t","expires_on":"1000100","expires_in":"5"}"#).ok(),
            Some(1_000_100)
        );
        assert_eq!(expiry(r#"{"access_token":"t"}"#).ok(), Some(1_003_599));
        assert!(expiry(r#"{"expires_in":1}"#).is_err());
        let err = expiry(r#"{"token":"abc"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("withheld"), "{err}");
    }
}
