//! The crate's single error type, [`GraphError`].
//!
//! Every variant carries what an operator needs to open a support ticket with
//! Microsoft: Graph's `request-id` (or Entra's `trace_id`/`correlation_id`) and
//! our own `client-request-id`.

use std::time::Duration;

/// Everything that can go wrong talking to Microsoft Graph or Entra ID.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Graph answered with a non-success status and (usually) an OData error body.
    #[error(
        "Graph error {code}: {message} (HTTP {status} on {method} {path}, request-id {rid}, client-request-id {client_request_id})",
        rid = request_id.as_deref().unwrap_or("none")
    )]
    Api {
        /// HTTP status code.
        status: u16,
        /// `error.code` from the body (branch on this, never on `message`).
        code: String,
        /// `error.message` from the body.
        message: String,
        /// Graph's `request-id` (response header or `innerError`).
        request_id: Option<String>,
        /// The `client-request-id` we sent.
        client_request_id: String,
        /// Parsed `Retry-After`, when Graph sent one.
        retry_after: Option<Duration>,
        /// HTTP method of the failed request.
        method: String,
        /// Path of the failed request (no query string).
        path: String,
    },
    /// The token endpoint refused to issue a token (AADSTS errors).
    #[error(
        "authentication failed: {error}: {description} (HTTP {status}, trace_id {trace}, correlation_id {corr})",
        trace = trace_id.as_deref().unwrap_or("none"),
        corr = correlation_id.as_deref().unwrap_or("none")
    )]
    Auth {
        /// HTTP status code from the token endpoint.
        status: u16,
        /// OAuth2 `error` (e.g. `invalid_client`).
        error: String,
        /// `error_description`, usually starting with an `AADSTS` code.
        description: String,
        /// Numeric AADSTS codes.
        error_codes: Vec<u64>,
        /// Entra `trace_id`.
        trace_id: Option<String>,
        /// Entra `correlation_id`.
        correlation_id: Option<String>,
    },
    /// Signing in failed: the credential is missing, unreadable, refused or expired. Names
    /// the credential and what to do about it, in one sentence; never carries a secret.
    #[error(
        "sign-in with {credential} failed: {reason}; {fix}{ids}",
        ids = ids_suffix(trace_id.as_deref(), correlation_id.as_deref())
    )]
    SignIn {
        /// Which credential, e.g. `certificate (AZURE_CLIENT_CERTIFICATE_PATH=app.pem)`.
        credential: String,
        /// What went wrong, e.g. Entra's `AADSTS…` sentence without its trailer.
        reason: String,
        /// What the operator should do.
        fix: String,
        /// Entra's numeric AADSTS codes, when Entra answered.
        error_codes: Vec<u64>,
        /// Entra `trace_id`, when Entra answered.
        trace_id: Option<String>,
        /// Entra `correlation_id`, when Entra answered.
        correlation_id: Option<String>,
    },
    /// The HTTP exchange failed (connect, TLS, timeout, broken body).
    #[error(
        "transport error: {message} (client-request-id {client_request_id}, may have reached server: {sent})"
    )]
    Transport {
        /// Human-readable cause.
        message: String,
        /// The `client-request-id` we sent.
        client_request_id: String,
        /// Whether the request may have reached the server. `false` only when
        /// the connection was never established.
        sent: bool,
    },
    /// A success response whose body did not have the expected shape.
    #[error("could not decode Graph response: {message} (request-id {rid})", rid = request_id.as_deref().unwrap_or("none"))]
    Decode {
        /// What failed to parse.
        message: String,
        /// Graph's `request-id`, when known.
        request_id: Option<String>,
    },
    /// Graph asked us to wait longer than the configured cap (`--max-retry-after`):
    /// waiting silently for an hour helps nobody, so the call stops here and the run
    /// can be resumed later.
    #[error(
        "Graph throttled {method} {path} and asked to wait {secs} s, more than the {cap_secs} s this run allows (throttle scope {scope_text}, request-id {rid}); run the command again later to resume",
        secs = wait.as_secs(),
        cap_secs = cap.as_secs(),
        scope_text = scope.as_deref().unwrap_or("not given"),
        rid = request_id.as_deref().unwrap_or("none")
    )]
    ThrottledTooLong {
        /// How long Graph asked to wait.
        wait: Duration,
        /// The cap it exceeds.
        cap: Duration,
        /// `x-ms-throttle-scope`, when Graph sent it, or the client's own scope name.
        scope: Option<String>,
        /// Graph's `request-id` of the throttled answer, when there was one.
        request_id: Option<String>,
        /// HTTP method of the request.
        method: String,
        /// Path of the request (no query string).
        path: String,
    },
    /// An endpoint URL was refused (scheme, host, path, query).
    #[error("invalid endpoint: {0}")]
    InvalidEndpoint(String),
    /// The caller asked for something the client refuses to send.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl GraphError {
    /// A sign-in refusal the tool found itself (no answer of Entra's to quote): the
    /// credential as the operator knows it, why, and what to do.
    pub fn sign_in(
        credential: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> GraphError {
        GraphError::SignIn {
            credential: credential.into(),
            reason: reason.into(),
            fix: fix.into(),
            error_codes: Vec::new(),
            trace_id: None,
            correlation_id: None,
        }
    }

    /// Graph's `error.code` (or the OAuth2 `error` for [`GraphError::Auth`]).
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Api { code, .. } => Some(code),
            GraphError::Auth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Graph's `request-id` (or Entra's `trace_id` for [`GraphError::Auth`]).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            GraphError::Api { request_id, .. } | GraphError::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            GraphError::Auth { trace_id, .. } | GraphError::SignIn { trace_id, .. } => {
                trace_id.as_deref()
            }
            _ => None,
        }
    }

    /// HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api { status, .. } | GraphError::Auth { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the failure may go away by itself (throttling, a server error, a lost
    /// connection or a timeout): the request is worth trying again later. Anything
    /// else (a refusal, a bad request, a body too large) will fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Api { status, .. } => {
                *status == 429 || crate::retry::is_transient_status(*status)
            }
            GraphError::Transport { .. } | GraphError::ThrottledTooLong { .. } => true,
            _ => false,
        }
    }

    /// Whether the request may have taken effect although no success was seen: a
    /// transport failure after sending, or a server error. For a one-way request
    /// (an invitation) the outcome must be settled by reading back, never by resending.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            GraphError::Api { status, .. } => crate::retry::is_transient_status(*status),
            GraphError::Transport { sent, .. } => *sent,
            _ => false,
        }
    }

    /// Whether signing in failed (a credential missing, refused or expired): the
    /// operator has to act before anything can go on.
    pub fn is_sign_in(&self) -> bool {
        matches!(self, GraphError::SignIn { .. })
    }

    /// Whether this failure concerns the whole run rather than one row: a wait longer
    /// than the run allows, or a credential that no longer signs in. The run stops
    /// cleanly and can be resumed once it is dealt with.
    pub fn stops_run(&self) -> bool {
        matches!(
            self,
            GraphError::ThrottledTooLong { .. } | GraphError::SignIn { .. }
        )
    }

    /// Whether this is a 404 from Graph.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) && matches!(self, GraphError::Api { .. })
    }

    /// Whether this is a 429 from Graph (retries were exhausted).
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429) && matches!(self, GraphError::Api { .. })
    }

    /// `Retry-After` sent with the failing response, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Graph's OData error body: `{"error":{"code","message","innerError":{…}}}`.
#[derive(Debug, serde::Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Debug, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner_error: Option<InnerError>,
}

#[derive(Debug, serde::Deserialize)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

/// Parsed parts of a Graph error body.
pub(crate) struct ParsedError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Parse a Graph error body, falling back to the HTTP reason phrase and a
/// snippet of the raw body when it is not the documented JSON shape (proxies,
/// gateways and load balancers answer with HTML or nothing at all).
pub(crate) fn parse_error_body(status: u16, body: &[u8]) -> ParsedError {
    if let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(body) {
        return ParsedError {
            code: env
                .error
                .code
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| fallback_code(status)),
            message: env.error.message.unwrap_or_default(),
            request_id: env.error.inner_error.and_then(|i| i.request_id),
        };
    }
    ParsedError {
        code: fallback_code(status),
        message: snippet(body),
        request_id: None,
    }
}

fn fallback_code(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| r.replace(' ', ""))
        .unwrap_or_else(|| format!("Http{status}"))
}

/// A reqwest error with its source chain (the top level alone is just
/// "error sending request"), without the URL.
pub(crate) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// ` (trace_id …, correlation_id …)` when Entra sent them, for support tickets.
fn ids_suffix(trace_id: Option<&str>, correlation_id: Option<&str>) -> String {
    match (trace_id, correlation_id) {
        (None, None) => String::new(),
        (t, c) => format!(
            " (trace_id {}, correlation_id {})",
            t.unwrap_or("none"),
            c.unwrap_or("none")
        ),
    }
}

/// First 200 characters of a body, for messages about unexpected content.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(200) {
        Some((idx, _)) => format!("{}…", &trimmed[..idx]),
        None => trimmed.to_string(),
    }
}

/// Entra's token error body.
#[derive(Debug, Default, serde::Deserialize)]
struct AuthErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u64>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// Build a [`GraphError::Auth`] from a token endpoint error response.
pub(crate) fn auth_error(status: u16, body: &[u8]) -> GraphError {
    match serde_json::from_slice::<AuthErrorBody>(body) {
        Ok(b) if b.error.is_some() => GraphError::Auth {
            status,
            error: b.error.unwrap_or_default(),
            description: b.error_description.unwrap_or_default(),
            error_codes: b.error_codes,
            trace_id: b.trace_id,
            correlation_id: b.correlation_id,
        },
        _ => GraphError::Auth {
            status,
            error: fallback_code(status),
            description: snippet(body),
            error_codes: Vec::new(),
            trace_id: None,
            correlation_id: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_error_body() {
        let body = br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist","innerError":{"date":"2024-05-01T10:00:00","request-id":"rid-1","client-request-id":"c-1"}}}"#;
        let p = parse_error_body(404, body);
        assert_eq!(p.code, "Request_ResourceNotFound");
        assert_eq!(p.message, "Resource 'x' does not exist");
        assert_eq!(p.request_id.as_deref(), Some("rid-1"));
    }

    #[test]
    fn falls_back_on_html() {
        let p = parse_error_body(502, b"<html>Bad gateway</html>");
        assert_eq!(p.code, "BadGateway");
        assert_eq!(p.message, "<html>Bad gateway</html>");
        assert_eq!(p.request_id, None);
    }

    #[test]
    fn parses_aadsts_error() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"timestamp":"2024-05-01 10:00:00Z","trace_id":"t-1","correlation_id":"c-1"}"#;
        let e = auth_error(401, body);
        assert_eq!(e.code(), Some("invalid_client"));
        assert_eq!(e.request_id(), Some("t-1"));
        match e {
            GraphError::Auth {
                error_codes,
                description,
                correlation_id,
                ..
            } => {
                assert_eq!(error_codes, vec![7000215]);
                assert!(description.starts_with("AADSTS7000215"));
                assert_eq!(correlation_id.as_deref(), Some("c-1"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn api_display_shows_code_status_and_request_id() {
        let e = GraphError::Api {
            status: 403,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges to complete the operation.".into(),
            request_id: Some("rid-9".into()),
            client_request_id: "c-9".into(),
            retry_after: None,
            method: "PATCH".into(),
            path: "/v1.0/users/u1".into(),
        };
        assert_eq!(
            e.to_string(),
            "Graph error Authorization_RequestDenied: Insufficient privileges to complete the operation. (HTTP 403 on PATCH /v1.0/users/u1, request-id rid-9, client-request-id c-9)"
        );
    }
}
