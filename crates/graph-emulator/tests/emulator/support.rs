//! Test support: start an emulator on 127.0.0.1:0 (demo tenant or any tenant JSON), get a
//! token from its real token endpoint with a client secret, send raw Graph requests, read
//! `/_emulator/state`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use graph_emulator::{EmulatorConfig, RunningEmulator, SimulationOverrides, Tenant, start};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const TENANT_ID: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";
pub const DEMO_APP: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";
pub const DEMO_SECRET: &str = "demo-secret-not-for-production";
pub const READ_APP: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
pub const READ_SECRET: &str = "read-only-demo-secret";

/// Demo user ids by number (1..=31).
pub fn uid(n: u32) -> String {
    format!("d0000000-0000-4000-8000-{n:012}")
}

/// The demo tenant file as JSON, for tests to extend.
pub fn demo_json() -> Value {
    serde_json::from_str(include_str!("../../../../tenants/demo.json")).unwrap()
}

/// Adds an application (secret `secret-{client_id}`) to a tenant JSON.
pub fn add_app(tenant: &mut Value, client_id: &str, roles: &[&str], directory_roles: &[&str]) {
    tenant["applications"].as_array_mut().unwrap().push(json!({
        "clientId": client_id,
        "clientSecret": format!("secret-{client_id}"),
        "roles": roles,
        "directoryRoles": directory_roles,
    }));
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    /// Reads a whole response.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    /// Graph's `error.code`.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// Graph's `error.message`.
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }

    /// Asserts status and error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.code(), code, "{}", self.text);
    }
}

pub struct Emulator {
    pub running: RunningEmulator,
    pub client: reqwest::Client,
    pub root: String,
}

impl Emulator {
    pub async fn demo() -> Emulator {
        Self::from_json(&demo_json()).await
    }

    pub async fn from_json(tenant: &Value) -> Emulator {
        let tenant = Tenant::from_json(&tenant.to_string(), "test tenant").unwrap();
        Self::from_tenant(tenant).await
    }

    pub async fn from_tenant(tenant: Tenant) -> Emulator {
        Self::with_overrides(tenant, SimulationOverrides::default()).await
    }

    /// A tenant with command-line style overrides of its `simulation` section.
    pub async fn with_overrides(tenant: Tenant, overrides: SimulationOverrides) -> Emulator {
        let config = EmulatorConfig {
            overrides,
            ..EmulatorConfig::default()
        };
        let running = start(tenant, config).await.unwrap();
        let root = running.url().to_string();
        Emulator {
            running,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            root,
        }
    }

    /// The demo tenant with command-line style overrides.
    pub async fn demo_with(overrides: SimulationOverrides) -> Emulator {
        Self::with_overrides(Tenant::demo(), overrides).await
    }

    /// The token request (client credentials with a secret), not yet sent.
    pub fn token_request(&self, client_id: &str, secret: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{}/oauth2/v2.0/token", self.root, TENANT_ID))
            .form(&[
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
    }

    /// A token from the real token endpoint (client credentials with a secret).
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = self.token_request(client_id, secret).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The demo app's token (User.ReadWrite.All, User.Invite.All, Directory.Read.All).
    pub async fn demo_token(&self) -> String {
        self.token(DEMO_APP, DEMO_SECRET).await
    }

    /// A token for an app added with [`add_app`].
    pub async fn app_token(&self, client_id: &str) -> String {
        self.token(client_id, &format!("secret-{client_id}")).await
    }

    /// Sends a raw request; `path` is relative to the root (e.g. `v1.0/users`).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let url = format!("{}{}", self.root, path.trim_start_matches('/'));
        let mut request = self
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(b) = body {
            request = request
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Answer::read(request.send().await.unwrap()).await
    }

    /// GET, without a token, a full URL of this emulator: the pages it links to by
    /// absolute URL (e.g. an invitation's `inviteRedeemUrl`).
    pub async fn get_url(&self, url: &str) -> Answer {
        let path = url
            .strip_prefix(&self.root)
            .unwrap_or_else(|| panic!("{url} is not a URL of this emulator"));
        self.send("GET", path, None, &[], None).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send("GET", path, Some(token), &[], None).await
    }

    /// GET with `ConsistencyLevel: eventual`.
    pub async fn get_eventual(&self, path: &str, token: &str) -> Answer {
        self.send(
            "GET",
            path,
            Some(token),
            &[("ConsistencyLevel", "eventual")],
            None,
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send("PATCH", path, Some(token), &[], Some(&body))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send("POST", path, Some(token), &[], Some(&body)).await
    }

    /// `GET /_emulator/state`.
    pub async fn state(&self) -> Value {
        self.send("GET", "_emulator/state", None, &[], None)
            .await
            .json
    }

    /// One user of the state document.
    pub async fn user(&self, id: &str) -> Value {
        let state = self.state().await;
        state["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The last request-log entry.
    pub async fn last_request(&self) -> Value {
        let state = self.state().await;
        state["requests"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap()
    }
}

/// An invitation body converting user `id` at `address`.
pub fn conversion(id: &str, address: &str) -> Value {
    json!({
        "invitedUserEmailAddress": address,
        "inviteRedirectUrl": "https://myapps.microsoft.com?tenantId=8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c",
        "sendInvitationMessage": true,
        "invitedUserMessageInfo": {"messageLanguage": "de-DE", "customizedMessageBody": "Hallo",
            "ccRecipients": [{"emailAddress": {"name": null, "address": "it@fabrikam.com"}}]},
        "invitedUser": {"id": id}
    })
}
