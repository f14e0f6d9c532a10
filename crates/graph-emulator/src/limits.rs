//! Request size limits, and Graph's error body on every refusal the HTTP stack makes.
//!
//! Graph answers errors with `{"error":{"code","message","innerError":{…}}}` and a
//! `request-id` header; a client that parses that body (and logs the request-id) must not
//! meet a plain-text 413 from axum or a bodiless 414/431 from hyper here. So:
//! - [`enforce`] checks the limits below before anything else runs and answers 414, 431
//!   or 413 with Graph's body;
//! - [`graph_shaped`] turns any other error response that isn't JSON (or an HTML page of
//!   the redemption flow) into Graph's body: axum's extractor rejections (a chunked body
//!   over the limit, a bad path parameter), its default 405s;
//! - the connection filter in [`crate::serve`] rewrites the few answers hyper writes
//!   itself before any middleware runs (a URL over its hard 64 KB limit, a head over its
//!   ~400 KB buffer or with more than 100 headers, an unparsable request).
//!
//! Limits (graph-facts has none of them; the stricter guesses, written down):
//! - **URL** (path and query, as sent): [`MAX_URL_BYTES`] = 8 KiB → 414. Microsoft documents
//!   no Graph URL limit; common front ends (Azure Front Door, IIS's `maxUrl` plus
//!   `maxQueryString`) refuse somewhere between 4 and 16 KB, so 8 KiB. b2b-convert's longest
//!   URL (a `$filter` with a few `in` values, or a nextLink) is well under 2 KB.
//! - **Headers**: [`MAX_HEADER_BYTES`] = 16 KiB in total (each counted as
//!   `name: value\r\n`) → 431; HTTP.sys, in front of many Microsoft services, refuses a
//!   request whose head exceeds 16 KB by default. More than 100 headers are refused by hyper
//!   (its default) and rewritten to the same 431.
//! - **Body**: [`MAX_BODY_BYTES`] = 4 MiB → 413 (Graph's errors.md lists 413 "the request
//!   size exceeds the maximum limit"; Microsoft's answers cite ~4 MB for a single request,
//!   above which Graph asks for an upload session). The largest body b2b-convert sends is
//!   a 20-item `$batch` of a few KB. A declared `Content-Length` over the limit is refused
//!   before the body is read; a chunked body is cut off when it passes the limit.
//!
//! Error codes for these statuses are undocumented; the emulator uses
//! `RequestUriTooLong` (414), `RequestHeaderFieldsTooLarge` (431), `RequestEntityTooLarge`
//! (413), `BadRequest` for other 4xx and `generalException` for 5xx. Refusals made here are
//! not in the request log (they never reached the emulator proper).

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{GraphError, RequestIds};

/// Longest accepted request target (path and query), in bytes.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// Largest accepted total of request headers, in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Graph's error for a refusal with this status; `detail` (e.g. axum's rejection text)
/// replaces the generic message when there is one.
pub fn refusal(status: StatusCode, detail: Option<String>) -> GraphError {
    let (code, message) = match status.as_u16() {
        413 => (
            "RequestEntityTooLarge",
            format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
        ),
        414 => (
            "RequestUriTooLong",
            format!("The request URL is longer than the limit of {MAX_URL_BYTES} bytes."),
        ),
        431 => (
            "RequestHeaderFieldsTooLarge",
            format!(
                "The request headers are larger than the limit of {MAX_HEADER_BYTES} bytes or number more than 100."
            ),
        ),
        405 => (
            "BadRequest",
            "Specified HTTP method is not allowed for the request target.".to_owned(),
        ),
        500..=599 => (
            "generalException",
            "An unspecified error has occurred.".to_owned(),
        ),
        _ => (
            "BadRequest",
            "The request is malformed or incorrect.".to_owned(),
        ),
    };
    GraphError::new(status, code, detail.unwrap_or(message))
}

/// The limit a request breaks, checked in the order a server reads it: URL, headers,
/// declared body length.
fn check(uri: &Uri, headers: &HeaderMap) -> Option<StatusCode> {
    let target = uri
        .path_and_query()
        .map_or(uri.path().len(), |pq| pq.as_str().len());
    if target > MAX_URL_BYTES {
        return Some(StatusCode::URI_TOO_LONG);
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Some(StatusCode::PAYLOAD_TOO_LARGE);
    }
    None
}

fn ids_of(request: &Request) -> RequestIds {
    request
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_else(|| RequestIds::from_headers(request.headers()))
}

/// Middleware: refuses a request over a limit (see the module docs) with Graph's body.
pub async fn enforce(request: Request, next: Next) -> Response {
    match check(request.uri(), request.headers()) {
        Some(status) => refusal(status, None).into_response_with(&ids_of(&request)),
        None => next.run(request).await,
    }
}

/// Middleware: gives Graph's body to error responses that have none (see the module docs).
/// JSON errors (Graph's and the token endpoint's AADSTS ones) and HTML pages pass as they
/// are.
pub async fn graph_shaped(request: Request, next: Next) -> Response {
    let ids = ids_of(&request);
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.contains("json") || content_type.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's rejection texts are short; anything longer isn't worth quoting.
    let detail = axum::body::to_bytes(body, 1024)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty());
    let mut error = refusal(status, detail);
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            error.headers.insert(name.clone(), value.clone());
        }
    }
    error.into_response_with(&ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_in_order() {
        let long = format!("/v1.0/users?$filter={}", "a".repeat(MAX_URL_BYTES));
        let uri: Uri = long.parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, "99999999".parse().unwrap());
        assert_eq!(check(&uri, &headers), Some(StatusCode::URI_TOO_LONG));
        let uri: Uri = "/v1.0/users".parse().unwrap();
        assert_eq!(check(&uri, &headers), Some(StatusCode::PAYLOAD_TOO_LARGE));
        headers.insert("x-big", "b".repeat(MAX_HEADER_BYTES).parse().unwrap());
        assert_eq!(
            check(&uri, &headers),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(check(&uri, &HeaderMap::new()), None);
    }

    #[test]
    fn refusals_have_graph_codes() {
        assert_eq!(
            refusal(StatusCode::URI_TOO_LONG, None).code,
            "RequestUriTooLong"
        );
        assert_eq!(
            refusal(StatusCode::BAD_GATEWAY, None).code,
            "generalException"
        );
        let e = refusal(StatusCode::BAD_REQUEST, Some("bad path".into()));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("BadRequest", "bad path")
        );
    }
}
