//! The gate, end to end over HTTP: the token endpoint (secret, RS256/x5t and PS256/x5t#S256
//! assertions, each refusal with its AADSTS code), bearer checks (401), permissions (403),
//! invitation throttling (429), fault injection, latency and `--tls`.

// Test helpers live outside `#[test]` functions, where clippy.toml's allow-unwrap-in-tests
// doesn't reach; a failed unwrap here is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt as _;
use graph_emulator::simulation::SimulationOverrides;
use graph_emulator::{EmulatorConfig, RunningEmulator, Tenant, start};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const TENANT: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";
pub const APP: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";
pub const SECRET: &str = "demo-secret-not-for-production";
pub const READ_ONLY_APP: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
pub const READ_ONLY_SECRET: &str = "read-only-demo-secret";
pub const CERT_APP: &str = "c0000000-0000-4000-8000-00000000ce27";
pub const BEN: &str = "d0000000-0000-4000-8000-000000000002";
pub const ISAIAH: &str = "d0000000-0000-4000-8000-000000000009";
pub const OBRIEN: &str = "d0000000-0000-4000-8000-0000000000f1";
pub const OBRIEN_MAIL: &str = "conor.o'brien@contoso.com";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The demo tenant file as JSON, to be extended by a test.
pub fn demo_json() -> Value {
    serde_json::from_str(include_str!("../../../../tenants/demo.json")).unwrap()
}

/// The demo tenant plus a user whose mail has a single quote.
pub fn with_obrien(mut tenant: Value) -> Value {
    let users = tenant["users"].as_array_mut().unwrap();
    let mut user = users.iter().find(|u| u["id"] == BEN).unwrap().clone();
    user["id"] = json!(OBRIEN);
    user["displayName"] = json!("Conor O'Brien");
    user["givenName"] = json!("Conor");
    user["surname"] = json!("O'Brien");
    user["userPrincipalName"] = json!(OBRIEN_MAIL);
    user["mail"] = json!(OBRIEN_MAIL);
    user["identities"][0]["issuerAssignedId"] = json!(OBRIEN_MAIL);
    users.push(user);
    tenant
}

/// A test certificate and the key that signs assertions with it.
pub struct TestCert {
    pub pem: String,
    pub der: Vec<u8>,
    pub key: EncodingKey,
}

pub fn test_cert() -> TestCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["b2b-convert-test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    TestCert {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        key: EncodingKey::from_rsa_pem(key.serialize_pem().as_bytes()).unwrap(),
    }
}

/// A running emulator and a client that trusts it.
pub struct Emu {
    pub running: RunningEmulator,
    pub client: reqwest::Client,
    /// `http(s)://127.0.0.1:PORT` without a trailing slash.
    pub root: String,
}

impl Emu {
    pub async fn start(
        tenant: &Value,
        tls_dir: Option<&Path>,
        overrides: SimulationOverrides,
    ) -> Emu {
        let tenant = Tenant::from_json(&tenant.to_string(), "test tenant").unwrap();
        let config = EmulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls_dir: tls_dir.map(Path::to_path_buf),
            overrides,
            managed_identity: false,
        };
        let running = start(tenant, config).await.unwrap();
        let mut builder = reqwest::Client::builder().no_proxy();
        if let Some(ca) = running.ca_pem() {
            let pem = std::fs::read(ca).unwrap();
            builder = builder.tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()]);
        }
        let root = running.url().as_str().trim_end_matches('/').to_owned();
        Emu {
            running,
            client: builder.build().unwrap(),
            root,
        }
    }

    pub async fn demo() -> Emu {
        Emu::start(&demo_json(), None, SimulationOverrides::default()).await
    }

    pub fn token_url(&self) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/token", self.root)
    }

    /// POSTs a token request; returns the status and the JSON body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.token_url())
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// A Graph token by client secret.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let (status, body) = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", GRAPH_SCOPE),
            ])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub fn graph(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.root)
    }

    /// GET `/v1.0{path}` with `token` as bearer: the authenticated Graph call most tests
    /// make, one place so they all send it the same way.
    pub async fn get_graph(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.graph(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// GET `url` without a token and parse the body as JSON.
    pub async fn get_json(&self, url: &str) -> Value {
        self.client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn state(&self) -> Value {
        self.get_json(&format!("{}/_emulator/state", self.root))
            .await
    }
}

fn assertion(cert: &TestCert, alg: Algorithm, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.typ = Some("JWT".to_owned());
    if alg == Algorithm::PS256 {
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &cert.der)));
    } else {
        header.x5t = Some(
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der)),
        );
    }
    jsonwebtoken::encode(&header, claims, &cert.key).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn assert_aadsts(status: StatusCode, body: &Value, expected_status: StatusCode, code: u64) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    for field in ["error", "timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
}

#[tokio::test]
async fn token_by_secret_then_graph_call() {
    let emu = Emu::demo().await;
    let token = emu.token(APP, SECRET).await;
    let response = emu.get_graph(&format!("/users/{BEN}"), &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ms-resource-unit"], "2");
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["userPrincipalName"], "ben.walters@contoso.com");

    // HTTP Basic client authentication and the tenant's domain in the path work too.
    let response = emu
        .client
        .post(format!("{}/contoso.com/oauth2/v2.0/token", emu.root))
        .basic_auth(APP, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);

    // Discovery points back at the emulator.
    let doc = emu
        .get_json(&format!(
            "{}/contoso.com/v2.0/.well-known/openid-configuration",
            emu.root
        ))
        .await;
    assert_eq!(doc["token_endpoint"], emu.token_url());
}

#[tokio::test]
async fn token_by_certificate_assertions_and_refusals() {
    let cert = test_cert();
    let mut tenant = demo_json();
    tenant["applications"].as_array_mut().unwrap().push(json!({
        "clientId": CERT_APP,
        "certificates": [cert.pem],
        "roles": ["User.Read.All"],
    }));
    let emu = Emu::start(&tenant, None, SimulationOverrides::default()).await;
    let claims = |aud: &str, nbf: i64, exp: i64| {
        json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP,
               "jti": uuid::Uuid::new_v4().to_string(), "nbf": nbf, "exp": exp})
    };
    let request = |jwt: String, scope: &'static str| {
        let emu = &emu;
        async move {
            emu.token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", CERT_APP),
                ("scope", scope),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &jwt),
                (
                    "claims",
                    r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#,
                ),
            ])
            .await
        }
    };
    let aud = emu.token_url();
    let t = now();

    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let (status, body) = request(
            assertion(&cert, alg, &claims(&aud, t, t + 600)),
            GRAPH_SCOPE,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{alg:?}: {body}");
        let token = body["access_token"].as_str().unwrap();
        let token_claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
        assert_eq!(token_claims["appidacr"], "2");
        assert_eq!(token_claims["roles"], json!(["User.Read.All"]));
        let response = emu.get_graph(&format!("/users/{BEN}"), token).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    let (s, b) = request(
        assertion(&cert, Algorithm::PS256, &claims(&aud, t - 1200, t - 600)),
        GRAPH_SCOPE,
    )
    .await;
    assert_aadsts(s, &b, StatusCode::UNAUTHORIZED, 700024);
    let other = test_cert();
    let mis_signed = {
        let mut header = Header::new(Algorithm::PS256);
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &cert.der)));
        jsonwebtoken::encode(&header, &claims(&aud, t, t + 600), &other.key).unwrap()
    };
    let (s, b) = request(mis_signed, GRAPH_SCOPE).await;
    assert_aadsts(s, &b, StatusCode::UNAUTHORIZED, 700027);
    let (s, b) = request(
        assertion(&other, Algorithm::RS256, &claims(&aud, t, t + 600)),
        GRAPH_SCOPE,
    )
    .await;
    assert_aadsts(s, &b, StatusCode::UNAUTHORIZED, 700027);
    let wrong_aud =
        "https://login.microsoftonline.com/8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c/oauth2/v2.0/token";
    let (s, b) = request(
        assertion(&cert, Algorithm::PS256, &claims(wrong_aud, t, t + 600)),
        GRAPH_SCOPE,
    )
    .await;
    assert_aadsts(s, &b, StatusCode::UNAUTHORIZED, 50012);
    let (s, b) = request(
        assertion(&cert, Algorithm::PS256, &claims(&aud, t, t + 600)),
        "https://graph.microsoft.com/User.Read.All",
    )
    .await;
    assert_aadsts(s, &b, StatusCode::BAD_REQUEST, 1002012);

    // Secret refusals.
    let secret = |client: &'static str, secret: &'static str, scope: &'static str| {
        let emu = &emu;
        async move {
            emu.token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret),
                ("scope", scope),
            ])
            .await
        }
    };
    let (s, b) = secret(APP, "wrong", GRAPH_SCOPE).await;
    assert_aadsts(s, &b, StatusCode::UNAUTHORIZED, 7000215);
    assert_eq!(b["error"], "invalid_client");
    let (s, b) = secret("00000000-1111-4222-8333-444444444444", SECRET, GRAPH_SCOPE).await;
    assert_aadsts(s, &b, StatusCode::BAD_REQUEST, 700016);
    let (s, b) = secret(APP, SECRET, "User.ReadWrite.All").await;
    assert_aadsts(s, &b, StatusCode::BAD_REQUEST, 1002012);
    let (s, b) = secret(APP, SECRET, "https://vault.azure.net/.default").await;
    assert_aadsts(s, &b, StatusCode::BAD_REQUEST, 500011);
    let (s, b) = secret(APP, SECRET, "https://graph.microsoft.com/.default openid").await;
    assert_aadsts(s, &b, StatusCode::BAD_REQUEST, 70011);
}

#[tokio::test]
async fn graph_calls_need_a_valid_token_and_the_permission() {
    let emu = Emu::demo().await;
    let path = format!("/users/{BEN}");
    let url = emu.graph(&path);
    let check_401 = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
        assert!(response.headers().contains_key("request-id"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "InvalidAuthenticationToken",
            "{body}"
        );
        body["error"]["message"].as_str().unwrap().to_owned()
    };
    let message = check_401(emu.client.get(&url).send().await.unwrap()).await;
    assert_eq!(message, "Access token is empty.");
    let message = check_401(emu.get_graph(&path, "garbage").await).await;
    assert!(message.contains("CompactToken"), "{message}");

    // A token of another emulator instance: right shape and claims, wrong signing key.
    let other = Emu::demo().await;
    let forged = other.token(APP, SECRET).await;
    let message = check_401(emu.get_graph(&path, &forged).await).await;
    assert!(
        message.starts_with("Access token validation failure"),
        "{message}"
    );

    // An expired token, correctly signed by this very emulator.
    let expired = emu
        .running
        .token_service()
        .mint_expired_for_tests(APP)
        .unwrap();
    let message = check_401(emu.get_graph(&path, &expired).await).await;
    assert!(message.contains("expired"), "{message}");

    // A valid token without the permission.
    let read_only = emu.token(READ_ONLY_APP, READ_ONLY_SECRET).await;
    let response = emu
        .client
        .patch(&url)
        .bearer_auth(&read_only)
        .json(&json!({"mail": "ben.walters@northwind.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "Authorization_RequestDenied",
        "{body}"
    );
}

fn is_fractional_seconds(value: &str) -> bool {
    let Some((whole, fraction)) = value.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() == 3
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[tokio::test]
async fn the_151st_invitation_request_in_5_seconds_is_throttled() {
    let emu = Emu::demo().await;
    let token = emu.token(APP, SECRET).await;
    let invite = || {
        emu.client
            .post(emu.graph("/invitations"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
    };
    // Sent 16 at a time so the 150 fit well inside the 5 s window even on a loaded machine.
    let started = Instant::now();
    let statuses: Vec<StatusCode> = futures::stream::iter(0..150)
        .map(|_| async { invite().await.unwrap().status() })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s != StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "too slow to test the window"
    );

    let response = invite().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(is_fractional_seconds(&retry_after), "{retry_after}");
    let wait: f64 = retry_after.parse().unwrap();
    assert!(wait > 0.0 && wait <= 5.0, "{wait}");
    let scope = response.headers()["x-ms-throttle-scope"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(scope, format!("Tenant/InvitationManager/{APP}/{TENANT}"));
    assert!(response.headers().contains_key("x-ms-throttle-information"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert_eq!(body["error"]["innerError"]["code"], "429");

    // Retrying before Retry-After is throttled again.
    let response = invite().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    // Other workloads are not affected by the invitation manager's limit.
    let response = emu.get_graph(&format!("/users/{BEN}"), &token).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The state document counts both 429s, and the 2 RU of the user read (invitations
    // are not charged in RU).
    let state = emu.state().await;
    assert_eq!(state["throttled"], 2);
    assert_eq!(state["resourceUnits"], 2);
}

/// Sends `n` unauthenticated requests and records each outcome: a status or "cut".
async fn outcomes(emu: &Emu, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let outcome = match emu.client.get(emu.graph("/users")).send().await {
            Err(_) => "cut".to_owned(),
            Ok(response) => {
                let status = response.status();
                let retry_after = response.headers().get("retry-after").is_some();
                match response.bytes().await {
                    Err(_) => "cut".to_owned(),
                    Ok(body) => {
                        let body: Value = serde_json::from_slice(&body).unwrap();
                        let code = body["error"]["code"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        format!("{}:{code}:{retry_after}", status.as_u16())
                    }
                }
            }
        };
        seen.push(outcome);
    }
    seen
}

#[tokio::test]
async fn seeded_fault_injection_is_reproducible() {
    let mut tenant = demo_json();
    tenant["simulation"] = json!({"faultRate": 1.0, "seed": 20261124});
    let a = Emu::start(&tenant, None, SimulationOverrides::default()).await;
    let b = Emu::start(&tenant, None, SimulationOverrides::default()).await;
    let seen_a = outcomes(&a, 40).await;
    let seen_b = outcomes(&b, 40).await;
    assert_eq!(seen_a, seen_b, "same seed, same faults");
    for expected in [
        "500:generalException",
        "503:serviceNotAvailable",
        "504:timeout",
    ] {
        assert!(
            seen_a.iter().any(|o| o.starts_with(expected)),
            "{expected} in {seen_a:?}"
        );
    }
    assert!(seen_a.iter().any(|o| o == "cut"), "{seen_a:?}");
    assert!(
        seen_a.iter().any(|o| o.ends_with(":true")),
        "some carry Retry-After"
    );
    assert!(
        seen_a
            .iter()
            .any(|o| o.starts_with('5') && o.ends_with(":false")),
        "some don't"
    );
    // The admin routes are never faulted.
    assert!(a.state().await["users"].is_array());

    // --fault-rate 0 overrides the file.
    let calm = Emu::start(
        &tenant,
        None,
        SimulationOverrides {
            fault_rate: Some(0.0),
            ..Default::default()
        },
    )
    .await;
    assert!(
        outcomes(&calm, 10)
            .await
            .iter()
            .all(|o| o.starts_with("401:"))
    );
}

#[tokio::test]
async fn latency_flag_delays_responses() {
    let emu = Emu::start(
        &demo_json(),
        None,
        SimulationOverrides {
            latency_ms: Some(400),
            ..Default::default()
        },
    )
    .await;
    let started = Instant::now();
    let response = emu.client.get(emu.graph("/users")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn tls_serves_https_trusted_through_the_written_ca() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(
        &demo_json(),
        Some(dir.path()),
        SimulationOverrides::default(),
    )
    .await;
    assert_eq!(
        emu.running.ca_pem(),
        Some(dir.path().join("ca.pem").as_path())
    );
    assert!(emu.root.starts_with("https://"), "{}", emu.root);
    let token = emu.token(APP, SECRET).await;
    let response = emu.get_graph(&format!("/users/{BEN}"), &token).await;
    assert_eq!(response.status(), StatusCode::OK);

    let untrusting = reqwest::Client::builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .no_proxy()
        .build()
        .unwrap();
    assert!(untrusting.get(emu.token_url()).send().await.is_err());
}
