//! Graph's error body, built the one way every endpoint of the emulator answers with it.
//!
//! Shape (graph-facts.md §4, Microsoft's `concepts/errors.md`):
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`,
//! with the same `request-id` and `client-request-id` also sent as response headers.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The ids that tie one request to its response and to the emulator's request log.
#[derive(Debug, Clone)]
pub struct RequestIds {
    /// The id the emulator gives the request (`request-id` header and `innerError`).
    pub request_id: String,
    /// The caller's `client-request-id` header, or a fresh id when it sent none.
    pub client_request_id: String,
}

impl RequestIds {
    /// Takes the caller's `client-request-id` when present and makes a new `request-id`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Self {
            request_id: uuid::Uuid::new_v4().to_string(),
            client_request_id,
        }
    }

    /// Adds `request-id` and `client-request-id` to a response's headers.
    pub fn stamp(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("request-id", &self.request_id),
            ("client-request-id", &self.client_request_id),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

/// One Graph error, ready to be turned into a response.
#[derive(Debug, Clone)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// Graph's `error.code`, the value clients branch on.
    pub code: String,
    /// Graph's `error.message`, for people.
    pub message: String,
    /// Extra response headers (`Retry-After`, `x-ms-throttle-scope`, ...).
    pub headers: HeaderMap,
}

impl GraphError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }

    /// 400 `Request_BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// 400 `Request_UnsupportedQuery`.
    pub fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
    }

    /// 404 `Request_ResourceNotFound` with Graph's wording.
    pub fn not_found(resource: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{resource}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 403 `Authorization_RequestDenied`.
    pub fn denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// Adds a response header (ignored when the value is not a valid header value).
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), value);
        }
        self
    }

    /// The JSON body Graph sends, with `innerError` filled from `ids`.
    pub fn body(&self, ids: &RequestIds) -> serde_json::Value {
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": crate::clock::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": ids.request_id,
                    "client-request-id": ids.client_request_id,
                }
            }
        })
    }

    /// The full response: status, extra headers, id headers and JSON body.
    pub fn into_response_with(self, ids: &RequestIds) -> Response {
        let body = self.body(ids);
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        ids.stamp(response.headers_mut());
        response
    }
}
