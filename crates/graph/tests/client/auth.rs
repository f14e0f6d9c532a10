//! Token acquisition, caching, renewal and 401 handling.

use std::sync::Arc;

use b2b_graph::{Clock, FixedClock, GraphClient, GraphError, TokenSource};
use jiff::Timestamp;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    TOKEN_PATH, credential, endpoints, graph_error, options, requests_to, setup, token_body,
};

#[tokio::test]
async fn token_is_fetched_once_and_cached() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "u1"})))
        .expect(3)
        .mount(&server)
        .await;
    for _ in 0..3 {
        let u = client.get_user("u1", &[]).await.unwrap().unwrap();
        assert_eq!(u.id, "u1");
    }
    let token_calls = requests_to(&server, TOKEN_PATH).await;
    assert_eq!(token_calls.len(), 1);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_calls[0].body)
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("client_credentials"));
    assert_eq!(get("client_id"), Some("app-1"));
    assert_eq!(get("client_secret"), Some("s3cret=&+"));
    assert_eq!(
        get("scope"),
        Some(format!("{}/.default", server.uri()).as_str())
    );
}

#[tokio::test]
async fn token_is_renewed_five_minutes_before_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 3600)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-2", 3600)))
        .mount(&server)
        .await;
    let clock = Arc::new(FixedClock::new(
        Timestamp::from_second(1_700_000_000).unwrap(),
    ));
    let cred = credential(&server).with_clock(clock.clone());
    let advance = |seconds: i64| {
        clock.set(clock.now() + jiff::SignedDuration::from_secs(seconds));
    };

    let t1 = cred.token().await.unwrap();
    assert_eq!(
        t1.expires_at,
        Timestamp::from_second(1_700_003_600).unwrap()
    );
    advance(3_299); // 5 min + 1 s before expiry: still cached
    let t2 = cred.token().await.unwrap();
    assert_eq!(t2.expires_at, t1.expires_at);
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1);
    advance(1); // inside the 5-minute margin: renew
    let t3 = cred.token().await.unwrap();
    assert_eq!(
        t3.expires_at,
        Timestamp::from_second(1_700_006_900).unwrap()
    );
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("tok-1", 3599))
                .set_delay(std::time::Duration::from_millis(100)),
        )
        .mount(&server)
        .await;
    let cred = Arc::new(credential(&server));
    let futs = (0..8).map(|_| {
        let c = Arc::clone(&cred);
        async move { c.token().await.map(|t| t.expires_at) }
    });
    let results = futures::future::join_all(futs).await;
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1);
}

#[tokio::test]
async fn invalid_token_401_refreshes_once_and_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 3599)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-2", 3599)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
            "rid-401",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "u1", "mail": "a@x.example"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client =
        GraphClient::new(endpoints(&server), Arc::new(credential(&server)), options()).unwrap();
    let u = client.get_user("u1", &[]).await.unwrap().unwrap();
    assert_eq!(u.mail.as_deref(), Some("a@x.example"));
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn second_401_is_returned_not_looped() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .respond_with(graph_error(
            401,
            "InvalidAuthenticationToken",
            "nope",
            "rid-401",
        ))
        .expect(2)
        .mount(&server)
        .await;
    let err = client.get_user("u1", &[]).await.unwrap_err();
    // A fresh token refused as well: the credential is at fault, said as a sign-in
    // failure naming it, with Graph's request-id for a ticket.
    assert!(err.is_sign_in(), "{err:?}");
    assert!(err.stops_run());
    let text = err.to_string();
    assert!(
        text.contains("client secret (AZURE_CLIENT_SECRET)"),
        "{text}"
    );
    assert!(text.contains("Graph refused its token: nope"), "{text}");
    assert_eq!(err.request_id(), Some("rid-401"));
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn aadsts_error_becomes_one_sign_in_sentence() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215],
            "timestamp": "2024-05-01 10:00:00Z",
            "trace_id": "trace-1",
            "correlation_id": "corr-1"
        })))
        .mount(&server)
        .await;
    let client =
        GraphClient::new(endpoints(&server), Arc::new(credential(&server)), options()).unwrap();
    let err = client.get_user("u1", &[]).await.unwrap_err();
    match &err {
        GraphError::SignIn {
            credential,
            reason,
            fix,
            error_codes,
            trace_id,
            correlation_id,
        } => {
            assert_eq!(credential, "client secret (AZURE_CLIENT_SECRET)");
            assert_eq!(reason, "AADSTS7000215: Invalid client secret provided.");
            assert!(fix.contains("create a new one"), "{fix}");
            assert_eq!(error_codes, &vec![7000215]);
            assert_eq!(trace_id.as_deref(), Some("trace-1"));
            assert_eq!(correlation_id.as_deref(), Some("corr-1"));
        }
        other => panic!("expected SignIn, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "sign-in with client secret (AZURE_CLIENT_SECRET) failed: AADSTS7000215: Invalid client secret provided.; the client secret is wrong or has expired: create a new one under App registrations > Certificates & secrets and pass it again (trace_id trace-1, correlation_id corr-1)"
    );
    assert!(!err.to_string().contains("s3cret"));
    assert!(requests_to(&server, "/v1.0/users/u1").await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn transient_token_failure_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 3599)))
        .mount(&server)
        .await;
    let cred = credential(&server);
    let t0 = tokio::time::Instant::now();
    cred.token().await.unwrap();
    assert!(t0.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

/// A JWT-shaped token (unsigned: only its claims are read) with this payload.
fn jwt_with(payload: serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.c2ln",
        b64.encode("{}"),
        b64.encode(payload.to_string())
    )
}

/// A Graph token expiring at `exp`.
fn jwt(exp: i64) -> String {
    jwt_with(json!({"aud": "https://graph.microsoft.com", "roles": ["User.Read.All"], "exp": exp}))
}

#[tokio::test]
async fn access_token_file_is_reread_and_refused_in_its_last_minute() {
    let dir = std::env::temp_dir().join(format!("b2b-token-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token.jwt");
    let start = 1_800_000_000;
    std::fs::write(&file, jwt(start + 3600)).unwrap();
    let clock = Arc::new(FixedClock::new(Timestamp::from_second(start).unwrap()));
    let cred = b2b_graph::AccessTokenFileCredential::new(&file, "https://graph.microsoft.com")
        .with_clock(clock.clone());
    assert_eq!(
        cred.token().await.unwrap().expires_at.as_second(),
        start + 3600
    );

    // 30 s before expiry: the file is read again, still the old token: refused.
    clock.set(Timestamp::from_second(start + 3570).unwrap());
    let err = cred.token().await.unwrap_err();
    assert!(err.is_sign_in() && err.stops_run(), "{err:?}");
    assert!(
        err.to_string().contains("the run stops before it lapses"),
        "{err}"
    );

    // Whoever wrote the file wrote a fresh one: signed in again.
    std::fs::write(&file, jwt(start + 7200)).unwrap();
    assert_eq!(
        cred.token().await.unwrap().expires_at.as_second(),
        start + 7200
    );

    // A short-lived token (100 s left) is never handed out in its last minute either,
    // though half its lifetime (the cache's usual margin) would allow 50 s more.
    std::fs::write(&file, jwt(start + 7300)).unwrap();
    clock.set(Timestamp::from_second(start + 7200).unwrap());
    let short = b2b_graph::AccessTokenFileCredential::new(&file, "https://graph.microsoft.com")
        .with_clock(clock.clone());
    assert_eq!(
        short.token().await.unwrap().expires_at.as_second(),
        start + 7300
    );
    clock.set(Timestamp::from_second(start + 7245).unwrap());
    let err = short.token().await.unwrap_err();
    assert!(
        err.to_string().contains("the run stops before it lapses"),
        "{err}"
    );

    // A token for another resource is refused up front.
    let other = jwt_with(json!({"aud": "https://management.azure.com", "exp": start + 7200}));
    std::fs::write(&file, other).unwrap();
    let fresh = b2b_graph::AccessTokenFileCredential::new(&file, "https://graph.microsoft.com")
        .with_clock(clock);
    let err = fresh.token().await.unwrap_err();
    assert!(err.to_string().contains("not for Microsoft Graph"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn federated_token_file_is_read_for_every_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 3599)))
        .mount(&server)
        .await;
    let dir = std::env::temp_dir().join(format!("b2b-fed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("federated");
    std::fs::write(&file, "first.assertion.jwt\n").unwrap();
    let cred = b2b_graph::WorkloadIdentityCredential::new(
        &endpoints(&server),
        crate::support::TENANT,
        "app-1",
        &file,
    );
    cred.token().await.unwrap();
    std::fs::write(&file, "rotated.assertion.jwt").unwrap();
    cred.invalidate();
    cred.token().await.unwrap();
    let sent: Vec<String> = requests_to(&server, TOKEN_PATH)
        .await
        .iter()
        .map(|r| {
            let form: Vec<(String, String)> =
                url::form_urlencoded::parse(&r.body).into_owned().collect();
            let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            assert_eq!(
                get("client_assertion_type").as_deref(),
                Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            );
            assert_eq!(get("client_secret"), None);
            get("client_assertion").unwrap_or_default()
        })
        .collect();
    assert_eq!(sent, ["first.assertion.jwt", "rotated.assertion.jwt"]);
    std::fs::remove_dir_all(dir).ok();
}
