//! "Never give up, never lose track", the emulator's side, over raw HTTP: 502 among the
//! drawn faults (decided after the directory acted), stalls longer than a client's
//! timeout, the long `Retry-After` mode, the bounded request log with its counters, and
//! the paged state document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::{Duration, Instant};

use graph_emulator::{SimulationOverrides, Tenant};
use serde_json::{Value, json};

use crate::directory::big_tenant;
use crate::support::*;

fn tenant_with(simulation: Value) -> Tenant {
    let mut tenant = demo_json();
    tenant["simulation"] = simulation;
    Tenant::from_json(&tenant.to_string(), "test tenant").unwrap()
}

/// A token despite injected faults: retried until the token endpoint answers 200.
async fn token_despite_faults(emu: &Emulator) -> String {
    for _ in 0..50 {
        let sent = emu.token_request(DEMO_APP, DEMO_SECRET).send().await;
        let Ok(response) = sent else { continue };
        if response.status() != 200 {
            continue;
        }
        if let Ok(body) = response.json::<Value>().await {
            return body["access_token"].as_str().unwrap().to_owned();
        }
    }
    panic!("no token in 50 attempts");
}

/// A status and Graph error code, or "cut" for a broken transfer.
async fn outcome(sent: reqwest::Result<reqwest::Response>) -> (String, Option<String>) {
    let Ok(response) = sent else {
        return ("cut".into(), None);
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    match response.bytes().await {
        Err(_) => ("cut".into(), None),
        Ok(body) => {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let code = body["error"]["code"].as_str().unwrap_or_default();
            (format!("{status}:{code}"), retry_after)
        }
    }
}

#[tokio::test]
async fn bad_gateway_is_drawn_and_decided_after_the_write() {
    let emu = Emulator::from_tenant(tenant_with(json!({"faultRate": 0.7, "seed": 502}))).await;
    let token = token_despite_faults(&emu).await;
    let mut seen = Vec::new();
    for i in 0..60 {
        let mail = format!("adele{i}@fabrikam.com");
        let before = emu.user(&uid(1)).await["mail"].clone();
        let sent = emu
            .client
            .patch(format!("{}v1.0/users/{}", emu.root, uid(1)))
            .bearer_auth(&token)
            .json(&json!({"mail": mail}))
            .send()
            .await;
        let (status, _) = outcome(sent).await;
        let after = emu.user(&uid(1)).await["mail"].clone();
        let applied = after == mail.as_str();
        match status.as_str() {
            "204:" | "502:BadGateway" | "504:timeout" | "cut" => {
                assert!(applied, "{status}: the write took effect");
            }
            "500:generalException" | "503:serviceNotAvailable" => {
                assert_eq!(after, before, "{status}: nothing happened");
            }
            other => panic!("unexpected {other}"),
        }
        seen.push(status);
    }
    for expected in ["204:", "500:", "502:BadGateway", "503:", "504:", "cut"] {
        assert!(
            seen.iter().any(|s| s.starts_with(expected)),
            "{expected} in {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_stall_outlasts_the_client_timeout_after_the_write_took_effect() {
    let emu = Emulator::demo_with(SimulationOverrides {
        stall_rate: Some(1.0),
        stall_ms: Some(1500),
        ..Default::default()
    })
    .await;
    let token = emu.demo_token().await; // stalled too, but this client waits
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let sent = impatient
        .patch(format!("{}v1.0/users/{}", emu.root, uid(1)))
        .bearer_auth(&token)
        .json(&json!({"mail": "adele@fabrikam.com"}))
        .send()
        .await;
    assert!(sent.unwrap_err().is_timeout());
    assert!(started.elapsed() < Duration::from_millis(1400));
    // The client can't know, but the directory acted (admin routes are never stalled).
    assert_eq!(emu.user(&uid(1)).await["mail"], "adele@fabrikam.com");

    // A patient client gets the real answer, late.
    let started = Instant::now();
    let a = emu.get(&format!("v1.0/users/{}", uid(2)), &token).await;
    assert_eq!(a.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test]
async fn stalls_are_drawn_reproducibly_with_the_seed() {
    let simulation = json!({"stallRate": 0.5, "stallMs": 400, "seed": 77});
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emu = Emulator::from_tenant(tenant_with(simulation.clone())).await;
        let mut stalled = Vec::new();
        for _ in 0..8 {
            let started = Instant::now();
            let a = emu.send("GET", "v1.0/users", None, &[], None).await;
            assert_eq!(a.status, 401);
            stalled.push(started.elapsed() >= Duration::from_millis(400));
        }
        runs.push(stalled);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&true) && runs[0].contains(&false),
        "{runs:?}"
    );
}

#[tokio::test]
async fn long_retry_after_mode_on_every_429_and_503() {
    let emu = Emulator::demo_with(SimulationOverrides {
        retry_after_s: Some(3600),
        ..Default::default()
    })
    .await;
    let token = emu.demo_token().await;
    let invite = || {
        emu.client
            .post(format!("{}v1.0/invitations", emu.root))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
    };
    let mut throttled = None;
    for _ in 0..160 {
        let response = invite().await.unwrap();
        if response.status() == 429 {
            throttled = Some(response);
            break;
        }
    }
    let response = throttled.expect("the invitation limit is reached");
    assert_eq!(response.headers()["retry-after"], "3600");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");

    // 503 faults carry it too; the other 5xx keep their drawn values.
    let emu = Emulator::from_tenant(tenant_with(
        json!({"faultRate": 1.0, "seed": 3600, "retryAfterS": 3600}),
    ))
    .await;
    let mut unavailable = 0;
    for _ in 0..40 {
        let sent = emu
            .client
            .get(format!("{}v1.0/users", emu.root))
            .send()
            .await;
        let (status, retry_after) = outcome(sent).await;
        if status == "503:serviceNotAvailable" {
            unavailable += 1;
            assert_eq!(retry_after.as_deref(), Some("3600"));
        } else if let Some(r) = retry_after {
            assert!(r.parse::<f64>().unwrap() <= 3.0, "{status} {r}");
        }
    }
    assert!(unavailable > 0);
}

#[tokio::test]
async fn the_request_log_is_a_ring_with_counters_that_never_drop() {
    let emu = Emulator::demo_with(SimulationOverrides {
        request_log: Some(5),
        ..Default::default()
    })
    .await;
    let token = emu.demo_token().await;
    for _ in 0..6 {
        assert_eq!(
            emu.send("GET", "v1.0/users", None, &[], None).await.status,
            401
        );
    }
    assert_eq!(
        emu.get(&format!("v1.0/users/{}", uid(2)), &token)
            .await
            .status,
        200
    );
    assert_eq!(emu.get("v1.0/widgets", &token).await.status, 400);
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/users/{}", uid(3))},
        {"id": "2", "method": "GET", "url": format!("/users/{}", uid(4))}
    ]});
    assert_eq!(emu.post("v1.0/$batch", &token, batch).await.status, 200);

    let state = emu.state().await;
    // 6 + 1 + 1 + the batch and its 2 items.
    assert_eq!(state["requestCount"], 11);
    assert_eq!(state["requestsDropped"], 6);
    assert_eq!(state["requestLogCapacity"], 5);
    // Three user reads at 2 RU and the unknown segment at 1; refused tokens and the
    // `$batch` envelope cost nothing.
    assert_eq!(state["resourceUnits"], 7);
    assert_eq!(state["throttled"], 0);
    let requests = state["requests"].as_array().unwrap();
    let seqs: Vec<u64> = requests
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![7, 8, 9, 10, 11]);
    let count = |method: &str, path: &str, status: u16| {
        state["requestCounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["method"] == method && c["path"] == path && c["status"] == status)
            .map_or(0, |c| c["count"].as_u64().unwrap())
    };
    assert_eq!(count("GET", "/v1.0/users", 401), 6);
    assert_eq!(
        count("GET", "/v1.0/users/{id}", 200),
        3,
        "{}",
        state["requestCounts"]
    );
    assert_eq!(count("GET", "(unmatched)", 400), 1);
    assert_eq!(count("POST", "/v1.0/$batch", 200), 1);

    // Reset clears the ring and the counters.
    emu.send("POST", "_emulator/reset", None, &[], None).await;
    let state = emu.state().await;
    assert_eq!(state["requestCount"], 0);
    assert_eq!(state["requestCounts"], json!([]));
    assert_eq!(state["resourceUnits"], 0);
}

#[tokio::test]
async fn the_request_log_size_comes_from_the_tenant_file_and_defaults_to_50000() {
    let emu = Emulator::demo().await;
    assert_eq!(emu.state().await["requestLogCapacity"], 50_000);
    let emu = Emulator::from_tenant(tenant_with(json!({"requestLog": 2}))).await;
    for _ in 0..3 {
        emu.send("GET", "v1.0/users", None, &[], None).await;
    }
    let state = emu.state().await;
    assert_eq!(state["requests"].as_array().unwrap().len(), 2);
    assert_eq!(state["requestsDropped"], 1);
}

#[tokio::test]
async fn the_state_document_can_be_filtered_and_paged() {
    let emu = Emulator::from_json(&big_tenant(300)).await;
    for _ in 0..4 {
        emu.send("GET", "v1.0/users", None, &[], None).await;
    }
    let page = emu
        .send(
            "GET",
            "_emulator/state?section=users&top=10&skip=5",
            None,
            &[],
            None,
        )
        .await
        .json;
    let users = page["users"].as_array().unwrap();
    assert_eq!(users.len(), 10);
    assert_eq!(users[0]["id"], uid(6));
    let mut keys: Vec<&String> = page.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "managedIdentityTokens",
            "requestCount",
            "requestCounts",
            "requestLogCapacity",
            "requestsDropped",
            "resourceUnits",
            "tenantId",
            "throttled",
            "users"
        ]
    );
    // The small fields are always there.
    assert_eq!(page["requestCount"], 4);
    assert!(page["tenantId"].is_string() && page["requestCounts"].is_array());

    let no_users = emu
        .send("GET", "_emulator/state?users=false", None, &[], None)
        .await
        .json;
    assert!(no_users.get("users").is_none());
    assert_eq!(no_users["requests"].as_array().unwrap().len(), 4);
    assert!(no_users["directoryRoles"].is_array());

    let since = emu
        .send(
            "GET",
            "_emulator/state?section=requests&sinceSeq=2",
            None,
            &[],
            None,
        )
        .await
        .json;
    let seqs: Vec<u64> = since["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![3, 4]);

    // The library call takes the same options; the full document is unchanged.
    let requests = emu.running.state_query("section=requests&top=1").unwrap();
    assert_eq!(requests["requests"].as_array().unwrap().len(), 1);
    assert!(emu.running.state_query("top=x").is_err());
    assert_eq!(emu.state().await["users"].as_array().unwrap().len(), 331);
}
