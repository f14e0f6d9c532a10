//! $batch: limits, splitting, inner 429 retry, 424 envelopes.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use b2b_graph::model::BatchRequest;
use b2b_graph::{GraphError, USER_FACTS_SELECT};
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::support::*;

const BATCH: &str = "/v1.0/$batch";

/// Answers each inner GET /users/{id}: `missing` → 404, `throttled` → 429
/// with retry-after 3 the first time, `broken` → 403, others → 200.
struct UsersResponder {
    throttled_once: Mutex<HashSet<String>>,
}

impl Respond for UsersResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = req.body_json().unwrap();
        let mut out = Vec::new();
        for r in body["requests"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            let url = r["url"].as_str().unwrap();
            let user = url
                .trim_start_matches("/users/")
                .split('?')
                .next()
                .unwrap()
                .to_string();
            let resp = match user.as_str() {
                "missing" => {
                    json!({"id": id, "status": 404, "headers": {"Content-Type": "application/json"},
                    "body": {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}})
                }
                "broken" => json!({"id": id, "status": 403, "headers": {"request-id": "inner-rid"},
                    "body": {"error": {"code": "Authorization_RequestDenied", "message": "no"}}}),
                "throttled" if self.throttled_once.lock().unwrap().insert(user.clone()) => {
                    json!({"id": id, "status": 429, "headers": {"Retry-After": "3"},
                        "body": {"error": {"code": "TooManyRequests", "message": "slow"}}})
                }
                _ => {
                    json!({"id": id, "status": 200, "headers": {}, "body": {"id": user, "mail": format!("{user}@contoso.com")}})
                }
            };
            out.push(resp);
        }
        // Graph may answer in any order.
        out.reverse();
        ResponseTemplate::new(200).set_body_json(json!({"responses": out}))
    }
}

#[tokio::test(start_paused = true)]
async fn users_by_ids_splits_by_20_and_retries_inner_429() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(BATCH))
        .respond_with(UsersResponder {
            throttled_once: Mutex::new(HashSet::new()),
        })
        .mount(&server)
        .await;
    let mut ids: Vec<String> = (0..22).map(|i| format!("u{i}")).collect();
    ids[3] = "missing".into();
    ids[7] = "throttled".into();
    ids[21] = "broken".into();
    let t0 = Instant::now();
    let got = client
        .get_users_by_ids(&ids, &["id", "mail"])
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(3));
    assert_eq!(got.len(), 22);
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        got[0].1.as_ref().unwrap().as_ref().unwrap().mail.as_deref(),
        Some("u0@contoso.com")
    );
    assert_eq!(got[3].1.as_ref().unwrap(), &None);
    assert_eq!(got[7].1.as_ref().unwrap().as_ref().unwrap().id, "throttled");
    let err = got[21].1.as_ref().unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.code(), Some("Authorization_RequestDenied"));
    assert_eq!(err.request_id(), Some("inner-rid"));

    let calls = requests_to(&server, BATCH).await;
    let sizes: Vec<usize> = calls
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["requests"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, vec![20, 1, 2]);
    let first: Value = calls[0].body_json().unwrap();
    assert_eq!(
        first["requests"][0],
        json!({"id": "0", "method": "GET", "url": "/users/u0?$select=id%2Cmail"})
    );
    let retry: Value = calls[1].body_json().unwrap();
    assert_eq!(
        retry["requests"][0]["url"],
        "/users/throttled?$select=id%2Cmail"
    );
    let _ = USER_FACTS_SELECT;
}

#[tokio::test]
async fn more_than_20_or_duplicate_ids_send_nothing() {
    let (server, client) = setup().await;
    let many: Vec<BatchRequest> = (0..21)
        .map(|i| BatchRequest::get(i.to_string(), "/users/x"))
        .collect();
    assert!(matches!(
        client.batch(many).await,
        Err(GraphError::InvalidRequest(_))
    ));
    let dup = vec![
        BatchRequest::get("1", "/users/a"),
        BatchRequest::get("1", "/users/b"),
    ];
    assert!(matches!(
        client.batch(dup).await,
        Err(GraphError::InvalidRequest(_))
    ));
    assert!(requests_to(&server, BATCH).await.is_empty());
    assert_eq!(client.batch(Vec::new()).await.unwrap(), Vec::new());
}

#[tokio::test]
async fn a_424_envelope_is_read_like_a_200() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(BATCH))
        .respond_with(ResponseTemplate::new(424).set_body_json(json!({"responses": [
            {"id": "2", "status": 424, "body": {"error": {"code": "FailedDependency", "message": "dep failed"}}},
            {"id": "1", "status": 400, "headers": {"Content-Type": "application/json"}, "body": {"error": {"code": "Request_BadRequest", "message": "bad"}}}
        ]})))
        .mount(&server)
        .await;
    let mut patch = BatchRequest::get("2", "/users/u1");
    patch.method = "PATCH".into();
    patch.body = Some(json!({"mail": "a@partner.example"}));
    patch.depends_on = vec!["1".into()];
    let out = client
        .batch(vec![
            BatchRequest::get("1", "/users/u1").header("ConsistencyLevel", "eventual"),
            patch,
        ])
        .await
        .unwrap();
    let statuses: Vec<(String, u16)> = out.iter().map(|r| (r.id.clone(), r.status)).collect();
    assert_eq!(
        statuses,
        vec![("1".to_string(), 400), ("2".to_string(), 424)]
    );
    let sent: Value = requests_to(&server, BATCH).await[0].body_json().unwrap();
    assert_eq!(
        sent,
        json!({"requests": [
            {"id": "1", "method": "GET", "url": "/users/u1", "headers": {"ConsistencyLevel": "eventual"}},
            {"id": "2", "method": "PATCH", "url": "/users/u1", "headers": {"Content-Type": "application/json"},
             "body": {"mail": "a@partner.example"}, "dependsOn": ["1"]}
        ]})
    );
}
