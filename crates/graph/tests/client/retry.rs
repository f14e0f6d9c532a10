//! Throttling, backoff and the shared "not before" gate (paused time).

use std::time::Duration;

use b2b_graph::{ClientOptions, RetryPolicy, jitter_seed};
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn throttled(retry_after: &str) -> ResponseTemplate {
    graph_error(429, "TooManyRequests", "Too many requests", "rid-429")
        .insert_header("Retry-After", retry_after)
}

/// Serves user `id` at `GET /v1.0/users/{id}`: the call that succeeds once the
/// throttling or failure a test mounted first has run out.
async fn mount_user(server: &MockServer, id: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/users/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id})))
        .mount(server)
        .await;
}

#[tokio::test(start_paused = true)]
async fn fractional_retry_after_is_honoured() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .respond_with(throttled("2.128"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_user(&server, "u1").await;
    let t0 = Instant::now();
    let u = client.get_user("u1", &[]).await.unwrap().unwrap();
    let elapsed = t0.elapsed();
    assert_eq!(u.id, "u1");
    assert!(
        elapsed >= Duration::from_millis(2128),
        "waited only {elapsed:?}"
    );
    let reqs = requests_to(&server, "/v1.0/users/u1").await;
    assert_eq!(reqs.len(), 2);
    // Same client-request-id across the retry, for correlation.
    assert_eq!(
        header(&reqs[0], "client-request-id"),
        header(&reqs[1], "client-request-id")
    );
    assert_eq!(
        header(&reqs[0], "client-request-id").map(str::len),
        Some(36)
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_makes_the_next_request_wait() {
    // No retries, so the first call returns at once; the gate must still hold
    // the second call back for the full Retry-After.
    let (server, client) = setup_with(ClientOptions {
        retry: RetryPolicy::none(),
        ..options()
    })
    .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/a"))
        .respond_with(throttled("2.5"))
        .mount(&server)
        .await;
    mount_user(&server, "b").await;
    let err = client.get_user("a", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code(), Some("TooManyRequests"));
    assert_eq!(err.retry_after(), Some(Duration::from_millis(2500)));
    assert!(err.is_throttled());
    let t0 = Instant::now();
    let other = client.clone();
    let b = other.get_user("b", &[]).await.unwrap().unwrap();
    assert_eq!(b.id, "b");
    assert!(
        t0.elapsed() >= Duration::from_millis(2400),
        "b went after {:?}",
        t0.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_503_without_retry_after_backs_off_with_seeded_jitter() {
    let opts = options();
    let (server, client) = setup_with(opts.clone()).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .respond_with(graph_error(503, "serviceNotAvailable", "busy", "rid-503"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    mount_user(&server, "u1").await;
    // First logical call on this client: jitter seed index 0.
    let seed = jitter_seed(7, 0);
    let expected = opts.retry.delay(1, None, seed) + opts.retry.delay(2, None, seed);
    assert!(expected > Duration::ZERO);
    assert!(expected <= Duration::from_millis(1500));
    let t0 = Instant::now();
    client.get_user("u1", &[]).await.unwrap().unwrap();
    assert!(
        t0.elapsed() >= expected,
        "{:?} < {expected:?}",
        t0.elapsed()
    );
    assert_eq!(requests_to(&server, "/v1.0/users/u1").await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_max_attempts() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .respond_with(graph_error(504, "GatewayTimeout", "slow", "rid-504"))
        .mount(&server)
        .await;
    let err = client.get_user("u1", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert_eq!(err.request_id(), Some("rid-504"));
    assert_eq!(requests_to(&server, "/v1.0/users/u1").await.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_get_rides_out_500_and_502() {
    let (server, client) = setup().await;
    for (status, code) in [(500, "InternalServerError"), (502, "BadGateway")] {
        Mock::given(method("GET"))
            .and(path("/v1.0/users/u1"))
            .respond_with(graph_error(status, code, "boom", "rid-5xx"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_user(&server, "u1").await;
    let user = client.get_user("u1", &[]).await.unwrap();
    assert_eq!(user.map(|u| u.id).as_deref(), Some("u1"));
    // Both faults are counted for the command's summary; none was a 429.
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retried, stats.throttled), (3, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_cap_ends_the_call_at_once() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .respond_with(throttled("3600").insert_header(
            "x-ms-throttle-scope",
            "Tenant_Application/ReadWrite/app/tenant",
        ))
        .expect(1)
        .mount(&server)
        .await;
    // Paused time would hide a wait; `expect(1)` proves there was no retry after one.
    let err = client.get_user("u1", &[]).await.unwrap_err();
    assert!(
        matches!(err, b2b_graph::GraphError::ThrottledTooLong { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("3600 s"), "{text}");
    assert!(text.contains("Tenant_Application/ReadWrite"), "{text}");
    assert!(client.throttle_wait().is_some(), "the wait is visible");
    // Every other caller of the scope is refused at once too, without a request.
    let again = client.get_user("u1", &[]).await.unwrap_err();
    assert!(matches!(
        again,
        b2b_graph::GraphError::ThrottledTooLong { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn patch_is_retried_on_503_with_the_same_body() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(path("/v1.0/users/u1"))
        .respond_with(
            graph_error(503, "serviceNotAvailable", "busy", "rid-503")
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v1.0/users/u1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let update = b2b_graph::model::UserUpdate {
        mail: Some("ann@partner.example".into()),
        ..Default::default()
    };
    client.update_user("u1", &update).await.unwrap();
    let reqs = requests_to(&server, "/v1.0/users/u1").await;
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(
            r.body_json::<serde_json::Value>().unwrap(),
            json!({"mail": "ann@partner.example"})
        );
        assert_eq!(header(r, "content-type"), Some("application/json"));
    }
}

#[tokio::test(start_paused = true)]
async fn revoke_sign_in_sessions_is_retried_like_an_idempotent_call() {
    let (server, client) = setup().await;
    let p = "/v1.0/users/u1/revokeSignInSessions";
    Mock::given(method("POST"))
        .and(path(p))
        .respond_with(graph_error(504, "GatewayTimeout", "slow", "rid-504"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(p))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"@odata.context": "x", "value": true})),
        )
        .mount(&server)
        .await;
    client.revoke_sign_in_sessions("u1").await.unwrap();
    let reqs = requests_to(&server, p).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(header(&reqs[1], "authorization"), Some("Bearer tok-1"));
}
