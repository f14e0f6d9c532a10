//! Entra's token endpoint errors: the AADSTS code a check fails with, and the status and
//! JSON body Entra answers it with, so every check can refuse without knowing the wire form.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use crate::clock;

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
    pub(crate) fn new(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self {
            error,
            code,
            description: description.into(),
        }
    }

    pub(super) fn missing(name: &str) -> Self {
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
        let timestamp = clock::now().strftime("%Y-%m-%d %H:%M:%SZ").to_string();
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

/// Token responses carry credentials, so no cache may keep them (RFC 6749 §5.1); Entra
/// sends the same headers on its errors.
pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
