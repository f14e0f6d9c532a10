//! Starting an emulator for a test, running the CLI against it, reading the tenant.

use std::path::PathBuf;

use assert_cmd::Command;
use graph_emulator::simulation::SimulationOverrides;
use graph_emulator::{EmulatorConfig, RunningEmulator, Tenant};
use serde_json::Value;

/// The demo tenant's application that may convert users.
pub const DEMO_CLIENT_ID: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";
/// Its secret (a test fixture, not a real credential).
pub const DEMO_CLIENT_SECRET: &str = "demo-secret-not-for-production";
/// The demo tenant.
pub const DEMO_TENANT_ID: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";

/// The demo's input file.
pub const DEMO_INPUT: &str = include_str!("../../../../tenants/demo-input.csv");

/// `apply` on the scratch folder's users.csv with run.db as journal, unattended: the
/// arguments most tests apply with, named once so they all run the same command.
pub const APPLY_ARGS: &[&str] = &[
    "apply",
    "--input",
    "users.csv",
    "--yes",
    "--journal",
    "run.db",
];

/// The object id of demo user NN.
pub fn demo_user(nn: u32) -> String {
    format!("d0000000-0000-4000-8000-0000000000{nn:02}")
}

/// An emulator serving one tenant for one test, and a scratch folder.
pub struct TestTenant {
    // Dropped last: the emulator's tasks run on it.
    runtime: tokio::runtime::Runtime,
    emulator: Option<RunningEmulator>,
    /// The emulator's root URL.
    pub url: String,
    /// A scratch folder; commands run in it.
    pub dir: tempfile::TempDir,
    /// The client id commands use.
    pub client_id: String,
    /// The client secret commands use.
    pub client_secret: String,
}

impl TestTenant {
    /// The shipped demo tenant.
    pub fn demo() -> Self {
        Self::start(Tenant::demo(), SimulationOverrides::default())
    }

    /// The demo tenant with simulation overrides.
    pub fn demo_with(overrides: SimulationOverrides) -> Self {
        Self::start(Tenant::demo(), overrides)
    }

    /// A tenant from JSON text.
    pub fn from_json(json: &str, overrides: SimulationOverrides) -> Self {
        Self::start(
            Tenant::from_json(json, "test tenant").expect("test tenant"),
            overrides,
        )
    }

    /// A tenant from JSON text, with the managed-identity endpoints served as well.
    pub fn with_managed_identity(json: &str) -> Self {
        Self::start_with(
            Tenant::from_json(json, "test tenant").expect("test tenant"),
            EmulatorConfig {
                managed_identity: true,
                ..EmulatorConfig::default()
            },
        )
    }

    fn start(tenant: Tenant, overrides: SimulationOverrides) -> Self {
        Self::start_with(
            tenant,
            EmulatorConfig {
                overrides,
                ..EmulatorConfig::default()
            },
        )
    }

    fn start_with(tenant: Tenant, config: EmulatorConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let emulator = runtime
            .block_on(graph_emulator::start(tenant, config))
            .expect("emulator starts");
        let url = emulator.url().as_str().trim_end_matches('/').to_owned();
        Self {
            runtime,
            emulator: Some(emulator),
            url,
            dir: tempfile::tempdir().expect("tempdir"),
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
        }
    }

    /// `b2b-convert ARGS` connected to this tenant, run in the scratch folder.
    pub fn cmd(&self, args: &[&str]) -> Command {
        Command::from_std(self.process(args))
    }

    /// The binary as a plain `std::process::Command` pointed at this tenant, for tests
    /// that drive the process themselves (a pseudo-terminal, a kill at a halt point).
    pub fn process(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("b2b-convert"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("AZURE_TENANT_ID", DEMO_TENANT_ID)
            .env("AZURE_CLIENT_ID", &self.client_id)
            .env("AZURE_CLIENT_SECRET", &self.client_secret)
            .env("B2B_GRAPH_URL", &self.url)
            .env("AZURE_AUTHORITY_HOST", &self.url)
            .env_remove("RUST_LOG")
            .env_remove("B2B_CONVERT_TEST_HALT_AT")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy");
        command
    }

    /// Writes `input` as users.csv and runs `apply --yes --journal run.db` plus `extra`.
    pub fn apply(&self, input: &str, extra: &[&str]) -> std::process::Output {
        self.write("users.csv", input);
        let mut args = APPLY_ARGS.to_vec();
        args.extend_from_slice(extra);
        self.cmd(&args).output().expect("apply runs")
    }

    /// Writes a file into the scratch folder.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// Graph recovers: no more faults or stalls.
    pub fn calm(&self) {
        self.emulator.as_ref().expect("running").calm();
    }

    /// The emulator's managed-identity endpoints (started with [`Self::with_managed_identity`]).
    pub fn managed_identity(&self) -> graph_emulator::ManagedIdentityEndpoint {
        self.emulator
            .as_ref()
            .expect("running")
            .managed_identity()
            .expect("started with managed identity")
    }

    /// An app-only access token the emulator signed for `client_id`.
    pub fn app_token(&self, client_id: &str) -> String {
        let emulator = self.emulator.as_ref().expect("running");
        emulator
            .token_service()
            .mint_for_tests(client_id)
            .expect("registered app")
    }

    /// An expired app-only access token for `client_id`.
    pub fn expired_app_token(&self, client_id: &str) -> String {
        let emulator = self.emulator.as_ref().expect("running");
        emulator
            .token_service()
            .mint_expired_for_tests(client_id)
            .expect("registered app")
    }

    /// `POST {root}/_emulator/{path}` with a JSON body; the JSON answer.
    pub fn admin_post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}/_emulator/{path}", self.url);
        self.runtime.block_on(async {
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let answer = http.post(&url).json(body).send().await.expect("admin call");
            assert!(answer.status().is_success(), "{url}: {}", answer.status());
            answer.json().await.expect("JSON answer")
        })
    }

    /// Changes the tenant's policies while it runs (the tenant file's `policies` shape;
    /// only the sections named).
    pub fn set_policies(&self, policies: &Value) {
        self.emulator
            .as_ref()
            .expect("running")
            .set_policies(policies, false)
            .expect("policies accepted");
    }

    /// The tenant as it is now (`/_emulator/state`).
    pub fn state(&self) -> Value {
        self.emulator.as_ref().expect("running").state()
    }

    /// Accepts the invitation of `user_id` as the partner would: the emailed link's page,
    /// then its Accept button. Returns the page Accept leads to.
    pub fn redeem(&self, user_id: &str) -> String {
        let state = self.state();
        let url = state["invitations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["userId"] == user_id)
            .filter_map(|i| i["inviteRedeemUrl"].as_str())
            .next_back()
            .expect("an invitation for the user")
            .to_owned();
        self.runtime.block_on(async {
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let page = http.get(&url).send().await.expect("page");
            assert_eq!(page.status(), 200);
            let done = http
                .post(&url)
                .form(&[("accept", "1")])
                .send()
                .await
                .expect("accept");
            assert_eq!(done.status(), 200);
            done.text().await.expect("the page")
        })
    }
}

impl Drop for TestTenant {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

/// A user of a state document by id.
pub fn find_user(state: &Value, id: &str) -> Value {
    state["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no user {id} in the emulator state"))
}

/// The successful invitation requests in the emulator's request log, as target user ids.
pub fn invited_user_ids(state: &Value) -> Vec<String> {
    requests(state, "POST", "/v1.0/invitations", 201)
}

/// Target user ids of logged requests with this method, path and status.
pub fn requests(state: &Value, method: &str, path: &str, status: u16) -> Vec<String> {
    state["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["method"] == method && r["path"] == path && r["status"] == status)
        .filter_map(|r| r["userId"].as_str().map(str::to_owned))
        .collect()
}

/// Writing requests (anything but GET) in the log, as (method, path, status).
pub fn writes(state: &Value) -> Vec<(String, String, u64)> {
    state["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["method"] != "GET")
        .filter(|r| r["path"] != "/v1.0/$batch")
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default().to_owned(),
                r["path"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The one invitation of `user_id` in the state document.
pub fn invitation(state: &Value, user_id: &str) -> Value {
    let mut found = state["invitations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["userId"] == user_id);
    let first = found.next().cloned().expect("an invitation");
    assert!(found.next().is_none(), "one invitation for {user_id}");
    first
}

/// Standard output of a finished command as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error of a finished command as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The peak resident memory (VmHWM, bytes) of a running process, from /proc; `None`
/// once it has exited or where /proc is missing.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}
