//! Shared fixtures: a mock server with a token endpoint and a client for it.

use std::sync::Arc;
use std::time::Duration;

use b2b_graph::{ClientOptions, ClientSecretCredential, Endpoints, GraphClient, RetryPolicy};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TENANT: &str = "tenant-1";
pub const TOKEN_PATH: &str = "/tenant-1/oauth2/v2.0/token";

/// Options for tests: no per-request timeout (paused time would fire it
/// during real socket I/O), fixed jitter seed.
pub fn options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            max_throttled_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_total_delay: Duration::from_secs(60),
        },
        timeout: Duration::ZERO,
        seed: Some(7),
        ..ClientOptions::default()
    }
}

pub fn endpoints(server: &MockServer) -> Endpoints {
    let root = Url::parse(&server.uri()).unwrap();
    Endpoints::new(root.clone(), root).unwrap()
}

pub fn credential(server: &MockServer) -> ClientSecretCredential {
    ClientSecretCredential::new(
        &endpoints(server),
        TENANT,
        "app-1",
        SecretString::from("s3cret=&+"),
    )
    // No timer may be pending during real socket I/O under paused time.
    .with_timeout(Duration::ZERO)
}

pub fn token_body(token: &str, expires_in: u64) -> Value {
    json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token})
}

/// Mount a token endpoint that always returns `tok-1`.
pub async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 3599)))
        .mount(server)
        .await;
}

/// A server with a token endpoint and a client using it.
pub async fn setup_with(options: ClientOptions) -> (MockServer, GraphClient) {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let client =
        GraphClient::new(endpoints(&server), Arc::new(credential(&server)), options).unwrap();
    (server, client)
}

pub async fn setup() -> (MockServer, GraphClient) {
    setup_with(options()).await
}

pub fn graph_error(status: u16, code: &str, message: &str, request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", request_id)
        .set_body_json(json!({"error": {"code": code, "message": message,
            "innerError": {"date": "2024-05-01T10:00:00", "request-id": request_id, "client-request-id": "x"}}}))
}

/// Requests the server saw on `p` (path only).
pub async fn requests_to(server: &MockServer, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

pub fn header<'a>(r: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}
