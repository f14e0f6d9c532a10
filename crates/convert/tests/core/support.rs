//! An emulator on the demo tenant, a client signed in as its converting app, and a
//! scratch journal.

use b2b_convert_core::clock;
use b2b_convert_core::input::{Input, parse_input};
use b2b_convert_core::journal::{Journal, NewRun, RunRecord};
use b2b_convert_core::plan::{Plan, PlanOptions};
use b2b_graph::{ClientOptions, Endpoints, GraphClient};
use graph_emulator::{EmulatorConfig, RunningEmulator, Tenant};
use secrecy::SecretString;
use serde_json::Value;

/// The demo tenant's converting application.
pub const DEMO_CLIENT_ID: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";

/// The demo's input file.
pub const DEMO_INPUT: &str = include_str!("../../../../tenants/demo-input.csv");

/// A running emulator with a client for it.
pub struct Fixture {
    pub emulator: RunningEmulator,
    pub client: GraphClient,
    pub tenant_id: String,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// The demo tenant, signed in as the app that may convert users.
    pub async fn demo() -> Fixture {
        Fixture::start(Tenant::demo()).await
    }

    /// A tenant from JSON text (with an app that may convert users).
    pub async fn from_json(text: &str) -> Fixture {
        Fixture::start(Tenant::from_json(text, "test tenant").expect("tenant JSON")).await
    }

    async fn start(tenant: Tenant) -> Fixture {
        let app = tenant
            .applications()
            .iter()
            .find(|a| a.roles.iter().any(|r| r == "User.ReadWrite.All"))
            .cloned()
            .expect("a converting app");
        let emulator = graph_emulator::start(tenant, EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let root = emulator.url();
        let tenant_id = emulator.tenant_id().to_owned();
        let endpoints = Endpoints::new(root.clone(), root).unwrap();
        let client = GraphClient::with_client_secret(
            endpoints,
            &tenant_id,
            &app.client_id,
            SecretString::from(app.client_secret.clone().unwrap_or_default()),
            ClientOptions::default(),
        )
        .unwrap();
        Fixture {
            emulator,
            client,
            tenant_id,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The demo input, parsed.
    pub fn demo_input(&self) -> Input {
        let path = self.dir.path().join("demo-input.csv");
        std::fs::write(&path, DEMO_INPUT).unwrap();
        parse_input(&path, DEMO_INPUT.as_bytes()).unwrap()
    }

    /// A journal in the scratch folder.
    pub fn journal(&self) -> Journal {
        Journal::open(&self.dir.path().join("run.db"), clock::system()).unwrap()
    }

    /// Records `plan` as a new run of `input` in `journal`.
    pub fn start_run(&self, journal: &Journal, input: &Input, plan: &Plan) -> RunRecord {
        let options = PlanOptions::new(&self.tenant_id);
        journal
            .start_run(
                &NewRun {
                    input_path: "demo-input.csv",
                    input_sha256: &input.sha256,
                    tenant_id: &self.tenant_id,
                    graph_root: self.emulator.url().as_str(),
                    command: "core test",
                    options: &options,
                },
                plan,
            )
            .unwrap()
    }

    /// The tenant as it is now.
    pub fn state(&self) -> Value {
        self.emulator.state()
    }
}

/// Target user ids of the successful invitations in the emulator's request log.
pub fn invited_user_ids(state: &Value) -> Vec<String> {
    state["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1.0/invitations" && r["status"] == 201)
        .filter_map(|r| r["userId"].as_str().map(str::to_owned))
        .collect()
}
