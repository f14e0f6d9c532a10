//! Benchmark: builds a 100,000-user tenant (the demo tenant plus generated users), then
//! times parsing and validating it, starting the emulator, and walking every user with
//! `$top=999` pages over HTTP (unfiltered, and filtered with `startsWith`), the indexed
//! lookups b2b-convert sends (`mail eq`, `proxyAddresses/any`, the 4-way OR, `GET
//! /users/{upn}`) next to the same filter forced onto the scan, writes, the admin state
//! document (whole and one section), and the RU the run was charged.
//!
//! Prints figures; asserts nothing about time. Run with
//! `cargo run -p graph-emulator --example bench_tenant [--release] [-- USERS]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a panic is the report

use std::time::Instant;

use graph_emulator::{EmulatorConfig, SimulationOverrides, Tenant, start};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut tenant: Value =
        serde_json::from_str(include_str!("../../../tenants/demo.json")).unwrap();
    let users = tenant["users"].as_array_mut().unwrap();
    let extra = count.saturating_sub(users.len());
    for i in 0..extra {
        let upn = format!("user{i}@contoso.com");
        users.push(json!({
            "id": format!("b0000000-0000-4000-8000-{i:012}"),
            "displayName": format!("User {i}"),
            "givenName": "User",
            "surname": format!("{i}"),
            "userPrincipalName": upn,
            "mail": if i % 3 == 0 { json!(format!("user{i}@fabrikam.com")) } else { json!(upn) },
            "otherMails": [],
            "proxyAddresses": [format!("SMTP:{upn}")],
            "userType": "Member",
            "accountEnabled": true,
            "onPremisesSyncEnabled": null,
            "identities": [{"signInType": "userPrincipalName", "issuer": "contoso.onmicrosoft.com", "issuerAssignedId": upn}],
            "createdDateTime": "2024-01-01T00:00:00Z"
        }));
    }
    let text = tenant.to_string();
    println!(
        "tenant: {} users, {:.1} MB of JSON",
        count,
        text.len() as f64 / 1e6
    );

    let load = Instant::now();
    let t = Instant::now();
    let parsed = Tenant::from_json(&text, "bench").unwrap();
    println!("parse + validate: {:.2?}", t.elapsed());

    let t = Instant::now();
    let config = EmulatorConfig {
        overrides: SimulationOverrides {
            no_throttle: true,
            ..SimulationOverrides::default()
        },
        ..EmulatorConfig::default()
    };
    let emu = start(parsed, config).await.unwrap();
    println!("start: {:.2?}", t.elapsed());
    // `start` returns once the directory and its indexes are built: ready, not just bound.
    println!("load (parse + validate + start): {:.2?}", load.elapsed());

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let root = emu.url().to_string();
    let token = json_body(
        client
            .post(format!("{root}{}/oauth2/v2.0/token", emu.tenant_id()))
            .form(&[
                ("client_id", "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c"),
                ("client_secret", "demo-secret-not-for-production"),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ]),
    )
    .await;
    let token = token["access_token"].as_str().unwrap().to_owned();

    for (label, first) in [
        (
            "walk $top=999 (default properties)",
            format!("{root}v1.0/users?$top=999"),
        ),
        (
            "walk $top=999 $select=id,mail,proxyAddresses",
            format!("{root}v1.0/users?$top=999&$select=id,mail,proxyAddresses"),
        ),
        (
            "walk $top=999 $filter=startsWith(mail,'user1')",
            format!("{root}v1.0/users?$top=999&$filter=startsWith(mail,'user1')"),
        ),
    ] {
        let t = Instant::now();
        let (mut seen, mut pages) = (0usize, 0usize);
        let mut next = Some(first);
        while let Some(url) = next {
            let page = json_body(client.get(&url).bearer_auth(&token)).await;
            seen += page["value"].as_array().map_or(0, Vec::len);
            pages += 1;
            next = page["@odata.nextLink"].as_str().map(str::to_owned);
        }
        println!(
            "{label}: {seen} users in {pages} pages, {:.2?}",
            t.elapsed()
        );
    }
    // The lookups b2b-convert sends per input row, answered from the index; the last one
    // is the same OR with a clause the index can't serve, so it runs the scan.
    let or4 = |a: &str| {
        format!(
            "userPrincipalName eq '{a}' or mail eq '{a}' or proxyAddresses/any(p:p eq 'smtp:{a}') or otherMails/any(p:p eq '{a}')"
        )
    };
    for (label, path, runs) in [
        (
            "$filter=mail eq (indexed)",
            format!("users?$filter={}", enc("mail eq 'USER3@fabrikam.com'")),
            200,
        ),
        (
            "$filter=proxyAddresses/any (indexed)",
            format!(
                "users?$filter={}",
                enc("proxyAddresses/any(p:p eq 'smtp:user5@contoso.com')")
            ),
            200,
        ),
        (
            "$filter=4-way OR (indexed)",
            format!("users?$filter={}", enc(&or4("User7@Contoso.com"))),
            200,
        ),
        (
            "GET /users/{upn}",
            "users/User9@Contoso.com".to_owned(),
            200,
        ),
        (
            "$filter=4-way OR or displayName eq (scan)",
            format!(
                "users?$filter={}",
                enc(&format!(
                    "{} or displayName eq 'nobody'",
                    or4("user7@contoso.com")
                ))
            ),
            10,
        ),
    ] {
        let url = format!("{root}v1.0/{path}");
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let body = json_body(client.get(&url).bearer_auth(&token)).await;
            times.push(t.elapsed());
            found = body["value"].as_array().map_or(1, Vec::len);
        }
        times.sort_unstable();
        let mean = times.iter().sum::<std::time::Duration>() / runs as u32;
        println!(
            "{label}: {found} found, mean {mean:.2?}, median {:.2?}, max {:.2?} ({runs} runs)",
            times[runs / 2],
            times[runs - 1]
        );
    }
    // Writes check address collisions against every object: time a few on the big tenant.
    let t = Instant::now();
    for i in 0..20 {
        let id = format!("b0000000-0000-4000-8000-{:012}", i * 3 + 1);
        let status = client
            .patch(format!("{root}v1.0/users/{id}"))
            .bearer_auth(&token)
            .json(&json!({"mail": format!("partner{i}@fabrikam.com")}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 204);
        let status = client
            .post(format!("{root}v1.0/invitations"))
            .bearer_auth(&token)
            .json(
                &json!({"invitedUserEmailAddress": format!("partner{i}@fabrikam.com"),
                "inviteRedirectUrl": "https://myapps.microsoft.com", "invitedUser": {"id": id}}),
            )
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 201);
    }
    println!(
        "20 x (PATCH mail + conversion invitation): {:.2?}",
        t.elapsed()
    );
    // The admin document: whole (serialized straight into one buffer), and the part a
    // test of a big tenant usually wants.
    for query in ["", "?section=requests,invitations"] {
        let t = Instant::now();
        let bytes = client
            .get(format!("{root}_emulator/state{query}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        println!(
            "GET /_emulator/state{query}: {:.1} MB in {:.2?}",
            bytes.len() as f64 / 1e6,
            t.elapsed()
        );
    }
    let state =
        json_body(client.get(format!("{root}_emulator/state?section=requests&top=0"))).await;
    println!(
        "run: {} requests, {} RU charged, {} throttled",
        state["requestCount"], state["resourceUnits"], state["throttled"]
    );
    emu.shutdown().await;
}

/// A query value, percent-encoded.
fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Sends `request` and parses the answer as JSON (the token and every page are read so).
async fn json_body(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
