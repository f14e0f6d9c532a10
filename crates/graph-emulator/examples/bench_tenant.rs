//! Benchmark: builds a 100,000-user tenant (the demo tenant plus generated users), then
//! times parsing and validating it, starting the emulator, and walking every user with
//! `$top=999` pages over HTTP (unfiltered, and filtered with `startsWith`), writes, and
//! the admin state document (whole and one section).
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
    emu.shutdown().await;
}

/// Sends `request` and parses the answer as JSON (the token and every page are read so).
async fn json_body(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
