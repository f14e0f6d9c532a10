//! The emulator driven by software we didn't write: Microsoft's Python SDK
//! (azure-identity and msgraph-sdk) over `--tls`, azure-identity's managed identity and
//! federated credentials against the managed identity listener and the federation issuer,
//! and the invitation redemption page in headless Chromium (Selenium + Debian's
//! chromedriver).
//!
//! Both need `B2B_TEST_PYTHON` (a virtualenv's python with `msgraph-sdk azure-identity
//! selenium`). Without it they print that they were skipped, unless
//! `B2B_REQUIRE_EXTERNAL_TESTS=1` (CI), in which case they fail.

// Test helpers live outside `#[test]` functions, where clippy.toml's allow-unwrap-in-tests
// doesn't reach; a failed unwrap here is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use graph_emulator::simulation::SimulationOverrides;
use graph_emulator::{EmulatorConfig, FederatedIdentityCredential, Tenant, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::gate::{APP, BEN, Emu, ISAIAH, OBRIEN_MAIL, SECRET, TENANT, demo_json, with_obrien};

/// The python to run, or `None` (after saying so) when the external tests are skipped.
fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("B2B_TEST_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("B2B_REQUIRE_EXTERNAL_TESTS").as_deref() != Ok("1"),
                "{test}: B2B_TEST_PYTHON is not set but B2B_REQUIRE_EXTERNAL_TESTS=1"
            );
            // Written to the real stderr: libtest would swallow `eprintln!` of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped (set B2B_TEST_PYTHON to a venv python with msgraph-sdk, azure-identity and selenium)"
            );
            None
        }
    }
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/external")
        .join(name)
}

/// Runs a script off the async runtime (it calls back into the emulator) and parses the
/// JSON object it prints last.
async fn run_script(mut command: Command) -> Value {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let value: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{e}: stdout: {stdout}\nstderr: {stderr}"));
    assert!(
        output.status.success() && value.get("exception").is_none(),
        "script failed: {value}\nstderr: {stderr}"
    );
    value
}

fn user<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap_or_else(|| panic!("user {id} not in state"))
}

#[tokio::test]
async fn microsoft_python_sdk_against_the_tls_emulator() {
    let Some(python) = python("microsoft_python_sdk_against_the_tls_emulator") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(
        &with_obrien(demo_json()),
        Some(dir.path()),
        SimulationOverrides::default(),
    )
    .await;
    let ca = emu.running.ca_pem().unwrap().to_path_buf();
    let new_mail = "ben.walters@northwind.com";

    let mut command = Command::new(python);
    command
        .arg(script("sdk_smoke.py"))
        .env("B2B_EMU_ROOT", &emu.root)
        .env("B2B_EMU_TENANT", TENANT)
        .env("B2B_EMU_CLIENT_ID", APP)
        .env("B2B_EMU_CLIENT_SECRET", SECRET)
        .env("B2B_EMU_USER", BEN)
        .env("B2B_EMU_SYNCED_USER", ISAIAH)
        .env("B2B_EMU_OBRIEN_MAIL", OBRIEN_MAIL)
        .env("B2B_EMU_NEW_MAIL", new_mail)
        .env("SSL_CERT_FILE", &ca)
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy");
    let seen = run_script(command).await;

    assert_eq!(seen["user_upn"], "ben.walters@contoso.com", "{seen}");
    assert_eq!(seen["filter_mails"], json!([OBRIEN_MAIL]), "{seen}");
    assert_eq!(seen["mail_after_patch"], new_mail, "{seen}");
    assert_eq!(seen["invitation_status"], "PendingAcceptance", "{seen}");
    assert_eq!(seen["invited_user_id"], BEN, "{seen}");
    assert!(
        seen["invite_redeem_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&emu.root)),
        "{seen}"
    );
    assert_eq!(
        seen["synced_patch"],
        json!({"status": 400, "code": "Request_BadRequest"}),
        "{seen}"
    );

    let state = emu.state().await;
    assert_eq!(user(&state, BEN)["mail"], new_mail);
    assert_eq!(user(&state, BEN)["externalUserState"], "PendingAcceptance");
}

/// A command running `name` with the emulator's CA trusted and no proxy.
fn python_command(python: PathBuf, name: &str, ca: &std::path::Path) -> Command {
    let mut command = Command::new(python);
    command
        .arg(script(name))
        .env("SSL_CERT_FILE", ca)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy");
    command
}

#[tokio::test]
async fn azure_identity_managed_identity_and_federated_credentials() {
    const FED_APP: &str = "f0000000-0000-4000-8000-0000000000fe";
    const SYSTEM_MI: &str = "a0000000-0000-4000-8000-00000000005a";
    const USER_MI: &str = "a0000000-0000-4000-8000-0000000000a1";
    const SUBJECT: &str = "system:serviceaccount:b2b:convert";
    let Some(python) = python("azure_identity_managed_identity_and_federated_credentials") else {
        return;
    };
    let mut tenant = demo_json();
    tenant["applications"]
        .as_array_mut()
        .unwrap()
        .push(json!({"clientId": FED_APP, "roles": ["User.Read.All"]}));
    tenant["managedIdentities"] = json!([
        {"clientId": SYSTEM_MI, "kind": "systemAssigned", "roles": ["User.Read.All"]},
        {"clientId": USER_MI, "kind": "userAssigned", "roles": ["Directory.Read.All"]},
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        tls_dir: Some(dir.path().to_path_buf()),
        managed_identity: true,
        ..EmulatorConfig::default()
    };
    let tenant = Tenant::from_json(&tenant.to_string(), "test tenant").unwrap();
    let running = start(tenant, config).await.unwrap();
    running
        .add_federated_identity_credential(
            FED_APP,
            FederatedIdentityCredential {
                name: "kubernetes".into(),
                issuer: running.federation_issuer(),
                subject: SUBJECT.into(),
                audiences: vec!["api://AzureADTokenExchange".into()],
            },
        )
        .unwrap();
    let mi = running.managed_identity().unwrap();
    let ca = running.ca_pem().unwrap().to_path_buf();
    let root = running.url().as_str().trim_end_matches('/').to_owned();

    let mut command = python_command(python, "identity_smoke.py", &ca);
    command
        .env("B2B_EMU_ROOT", &root)
        .env("B2B_EMU_TENANT", TENANT)
        .env("B2B_EMU_FED_CLIENT_ID", FED_APP)
        .env("B2B_EMU_FED_SUBJECT", SUBJECT)
        .env("B2B_EMU_USER_MI", USER_MI)
        .env("B2B_EMU_IDENTITY_ENDPOINT", mi.identity_endpoint.as_str())
        .env("B2B_EMU_IDENTITY_HEADER", &mi.identity_header)
        .env(
            "B2B_EMU_IMDS_HOST",
            mi.imds_authority_host.as_str().trim_end_matches('/'),
        );
    let seen = run_script(command).await;
    for (way, appid) in [
        ("app_service_system", SYSTEM_MI),
        ("app_service_user", USER_MI),
        ("imds_system", SYSTEM_MI),
        ("imds_user", USER_MI),
        ("client_assertion", FED_APP),
        ("workload_identity", FED_APP),
    ] {
        assert_eq!(
            seen[way],
            json!({"appid": appid, "users": 200}),
            "{way}: {seen}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn redemption_page_in_headless_chromium() {
    let Some(python) = python("redemption_page_in_headless_chromium") else {
        return;
    };
    let emu = Emu::demo().await;
    let token = emu.token(APP, SECRET).await;
    let new_mail = "ben.walters@northwind.com";
    let response = emu
        .client
        .patch(emu.graph(&format!("/users/{BEN}")))
        .bearer_auth(&token)
        .json(&json!({"mail": new_mail}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = emu
        .client
        .post(emu.graph("/invitations"))
        .bearer_auth(&token)
        .json(&json!({
            "invitedUserEmailAddress": new_mail,
            "inviteRedirectUrl": "https://myapps.microsoft.com",
            "sendInvitationMessage": false,
            "invitedUser": {"id": BEN},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let invitation: Value = response.json().await.unwrap();
    let url = invitation["inviteRedeemUrl"].as_str().unwrap().to_owned();

    let mut command = Command::new(python);
    command
        .arg(script("redeem_chromium.py"))
        .arg(&url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("SE_OFFLINE", "true");
    let seen = run_script(command).await;
    eprintln!("chromium saw: {seen}");

    let state = emu.state().await;
    let ben = user(&state, BEN);
    assert_eq!(ben["externalUserState"], "Accepted", "{ben}");
    let federated = ben["identities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["signInType"] == "federated");
    assert!(federated, "{ben}");
}
