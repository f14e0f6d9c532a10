//! Signing in every way: each credential runs `plan` and `apply` through the real
//! binary against the emulator, and each kind of wrong or expired credential ends with
//! exit code 3 and one sentence naming the credential and the fix.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::{
    APPLY_ARGS, DEMO_CLIENT_ID, DEMO_TENANT_ID, TestTenant, demo_user, stderr, writes,
};

/// One convertible row (Adele Vance, demo user 01).
const INPUT: &str = "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\n";
/// A user-assigned managed identity of the test tenant.
const USER_ASSIGNED: &str = "7e1a2b3c-4d5e-4f60-8a1b-2c3d4e5f6a7b";
/// Its system-assigned twin.
const SYSTEM_ASSIGNED: &str = "6d0f1e2a-3b4c-4d5e-9f60-718293a4b5c6";
/// The workload's subject in the federated credential.
const SUBJECT: &str = "system:serviceaccount:identity-ops:b2b-convert";

/// Every variable that could pick a credential, so a test sees only what it sets.
const SIGN_IN_VARS: &[&str] = &[
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

/// The demo tenant, edited.
fn tenant(edit: impl FnOnce(&mut Value)) -> String {
    let mut t: Value = serde_json::from_str(include_str!("../../../../tenants/demo.json")).unwrap();
    edit(&mut t);
    t.to_string()
}

/// A self-signed RSA certificate: (certificate PEM, private key PEM, key PKCS#8 DER,
/// certificate DER).
fn certificate() -> (String, String, Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["b2b-convert".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (
        cert.pem(),
        key.serialize_pem(),
        key.serialize_der(),
        cert.der().to_vec(),
    )
}

/// `plan --input users.csv EXTRA` with no credential in the environment.
fn plan(t: &TestTenant, extra: &[&str]) -> Command {
    let mut args = vec!["plan", "--input", "users.csv"];
    args.extend_from_slice(extra);
    bare(t, &args)
}

/// `b2b-convert ARGS` with no credential in the environment but the tenant and app.
fn bare(t: &TestTenant, args: &[&str]) -> Command {
    let mut command = t.process(args);
    for var in SIGN_IN_VARS {
        command.env_remove(var);
    }
    command
}

fn run(mut command: Command, stdin: Option<&str>) -> Output {
    match stdin {
        None => command.output().unwrap(),
        Some(text) => assert_cmd::Command::from_std(command)
            .write_stdin(text.to_owned())
            .output()
            .unwrap(),
    }
}

/// `plan` then `apply` of [`INPUT`] with the sign-in `configure` sets up; both succeed
/// and Adele is converted.
fn plan_and_apply(t: &TestTenant, configure: impl Fn(&mut Command), stdin: Option<&str>) {
    t.write("users.csv", INPUT);
    let mut planning = plan(t, &["--output", "json", "-v"]);
    configure(&mut planning);
    let planned = run(planning, stdin);
    assert!(planned.status.success(), "plan: {}", stderr(&planned));
    let decisions: Value = serde_json::from_slice(&planned.stdout).unwrap();
    assert_eq!(decisions[0]["decision"], "convert", "{decisions}");
    let mut apply = bare(t, APPLY_ARGS);
    configure(&mut apply);
    let applied = run(apply, stdin);
    assert!(applied.status.success(), "apply: {}", stderr(&applied));
    let state = t.state();
    let invited: Vec<_> = state["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["userId"] == demo_user(1))
        .collect();
    assert_eq!(invited.len(), 1, "{}", stderr(&applied));
}

/// Exit code 3 and one line that names `credential` and says `fix`.
fn refused(output: &Output, credential: &str, fix: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(3), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("b2b-convert: sign-in with"))
        .unwrap_or_else(|| panic!("no sign-in line in {err}"));
    assert!(line.contains(credential), "{line}");
    assert!(line.contains(fix), "{line}");
    assert!(!err.contains("Caused by"), "{err}");
    assert!(!err.contains("error:"), "a stack of causes: {err}");
}

#[test]
fn client_secret_from_a_file_and_from_standard_input() {
    let t = TestTenant::demo();
    t.write("secret.txt", &format!("{}\n", t.client_secret));
    plan_and_apply(
        &t,
        |c| {
            c.args(["--client-secret-file", "secret.txt"]);
        },
        None,
    );
    let t = TestTenant::demo();
    let secret = t.client_secret.clone();
    plan_and_apply(
        &t,
        |c| {
            c.arg("--client-secret-stdin");
        },
        Some(&secret),
    );

    t.write("wrong.txt", "not-the-secret\n");
    let out = plan(&t, &["--client-secret-file", "wrong.txt"])
        .output()
        .unwrap();
    refused(&out, "client secret (file wrong.txt)", "AADSTS7000215");
    refused(&out, "", "create a new one");
    assert!(!stderr(&out).contains("not-the-secret"));
}

#[test]
fn a_verbose_run_names_the_credential_and_no_credential_is_exit_3() {
    let t = TestTenant::demo();
    t.write("users.csv", INPUT);
    let out = t
        .cmd(&["plan", "--input", "users.csv", "-v"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("client secret (AZURE_CLIENT_SECRET)"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&t.client_secret));

    let out = plan(&t, &[]).env("PATH", "/nonexistent").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no credential is configured"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pem_certificate_in_either_algorithm_and_an_unregistered_one() {
    let (cert, key, _, _) = certificate();
    let registered = cert.clone();
    let t = TestTenant::from_json(
        &tenant(|t| t["applications"][0]["certificates"] = json!([registered])),
        Default::default(),
    );
    // Certificate first, key second: the order must not matter.
    t.write("app.pem", &format!("{cert}{key}"));
    plan_and_apply(
        &t,
        |c| {
            c.env("AZURE_CLIENT_CERTIFICATE_PATH", "app.pem");
        },
        None,
    );
    let out = plan(&t, &["--certificate-algorithm", "RS256"])
        .env("AZURE_CLIENT_CERTIFICATE_PATH", "app.pem")
        .env("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "RS256: {}", stderr(&out));

    let (other_cert, other_key, _, _) = certificate();
    t.write("other.pem", &format!("{other_key}{other_cert}"));
    let out = plan(&t, &[])
        .env("AZURE_CLIENT_CERTIFICATE_PATH", "other.pem")
        .output()
        .unwrap();
    refused(&out, "certificate other.pem", "is not the one registered");

    t.write("broken.pem", &cert);
    let out = plan(&t, &[])
        .env("AZURE_CLIENT_CERTIFICATE_PATH", "broken.pem")
        .output()
        .unwrap();
    refused(&out, "--auth certificate", "no private key");
}

#[test]
fn pkcs12_certificate_with_its_password() {
    let (cert, _, key_der, cert_der) = certificate();
    let t = TestTenant::from_json(
        &tenant(|t| t["applications"][0]["certificates"] = json!([cert])),
        Default::default(),
    );
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![7u8; 20],
        p12_keystore::PrivateKey::from_der(&key_der).unwrap(),
        [p12_keystore::Certificate::from_der(&cert_der).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "b2b-convert",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    let pfx = store.writer("correct horse").write().unwrap();
    std::fs::write(t.dir.path().join("app.pfx"), pfx).unwrap();
    plan_and_apply(
        &t,
        |c| {
            c.env("AZURE_CLIENT_CERTIFICATE_PATH", "app.pfx")
                .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "correct horse");
        },
        None,
    );
    let out = plan(&t, &[])
        .env("AZURE_CLIENT_CERTIFICATE_PATH", "app.pfx")
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "battery staple")
        .output()
        .unwrap();
    refused(
        &out,
        "--auth certificate",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    );
    assert!(!stderr(&out).contains("battery staple"));
}

#[test]
fn federated_token_file_and_an_expired_one() {
    let t = TestTenant::from_json(
        &tenant(|t| {
            t["applications"][0]["federatedIdentityCredentials"] = json!([{
                "name": "aks-identity-ops",
                "issuer": graph_emulator::token::FEDERATION_ISSUER,
                "subject": SUBJECT,
                "audiences": ["api://AzureADTokenExchange"],
            }]);
        }),
        Default::default(),
    );
    let minted = t.admin_post("tokens/federated", &json!({"subject": SUBJECT}));
    t.write("federated.jwt", minted["token"].as_str().unwrap());
    plan_and_apply(
        &t,
        |c| {
            c.env("AZURE_FEDERATED_TOKEN_FILE", "federated.jwt");
        },
        None,
    );

    let expired = t.admin_post(
        "tokens/federated",
        &json!({"subject": SUBJECT, "lifetimeSeconds": -600}),
    );
    t.write("expired.jwt", expired["token"].as_str().unwrap());
    let out = plan(&t, &[])
        .env("AZURE_FEDERATED_TOKEN_FILE", "expired.jwt")
        .output()
        .unwrap();
    refused(
        &out,
        "workload identity (AZURE_FEDERATED_TOKEN_FILE=expired.jwt)",
        "has expired",
    );

    let stranger = t.admin_post("tokens/federated", &json!({"subject": "repo:someone/else"}));
    t.write("stranger.jwt", stranger["token"].as_str().unwrap());
    let out = plan(&t, &[])
        .env("AZURE_FEDERATED_TOKEN_FILE", "stranger.jwt")
        .output()
        .unwrap();
    refused(
        &out,
        "workload identity",
        "no federated credential of the application matches",
    );
}

fn with_identities() -> String {
    tenant(|t| {
        t["managedIdentities"] = json!([
            {"clientId": SYSTEM_ASSIGNED, "kind": "systemAssigned",
             "roles": ["User.ReadWrite.All", "Directory.Read.All"]},
            {"clientId": USER_ASSIGNED, "kind": "userAssigned",
             "roles": ["User.ReadWrite.All", "Directory.Read.All"]},
        ]);
    })
}

#[test]
fn managed_identity_through_app_service_and_imds() {
    let t = TestTenant::with_managed_identity(&with_identities());
    let mi = t.managed_identity();
    // App Service: the platform's two variables, no tenant, no client id.
    plan_and_apply(
        &t,
        |c| {
            c.env("IDENTITY_ENDPOINT", mi.identity_endpoint.as_str())
                .env("IDENTITY_HEADER", &mi.identity_header)
                .env_remove("AZURE_TENANT_ID")
                .env_remove("AZURE_CLIENT_ID");
        },
        None,
    );
    let out = plan(&t, &[])
        .env("IDENTITY_ENDPOINT", mi.identity_endpoint.as_str())
        .env("IDENTITY_HEADER", "not-the-header")
        .env_remove("AZURE_CLIENT_ID")
        .output()
        .unwrap();
    refused(
        &out,
        "managed identity (system-assigned, IDENTITY_ENDPOINT=",
        "managed identity",
    );
    assert!(!stderr(&out).contains("not-the-header"));

    // IMDS, user-assigned through AZURE_CLIENT_ID, named with --auth.
    let t = TestTenant::with_managed_identity(&with_identities());
    let mi = t.managed_identity();
    let host = mi
        .imds_authority_host
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    plan_and_apply(
        &t,
        |c| {
            c.args(["--auth", "managed-identity"])
                .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)
                .env("AZURE_CLIENT_ID", USER_ASSIGNED)
                .env_remove("AZURE_TENANT_ID");
        },
        None,
    );
    let out = plan(&t, &["--auth", "managed-identity"])
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)
        .env("AZURE_CLIENT_ID", "00000000-0000-4000-8000-00000000dead")
        .output()
        .unwrap();
    refused(
        &out,
        "user-assigned AZURE_CLIENT_ID=00000000-0000-4000-8000-00000000dead",
        "managed identity",
    );

    // Nothing listening: said once, not retried for minutes.
    let out = plan(&t, &["--auth", "managed-identity"])
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
        .output()
        .unwrap();
    refused(&out, "IMDS at http://127.0.0.1:9", "is this an Azure host");
}

/// A stand-in `az` on PATH: prints `answer` for `account get-access-token` (checking it
/// was asked for the emulator's resource), or fails like an `az` nobody logged in to.
fn stand_in_az(dir: &Path, answer: Option<&Value>, resource: &str) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = match answer {
        Some(answer) => format!(
            "#!/bin/sh\ncase \"$*\" in\n  *\"get-access-token\"*\"--resource {resource}\"*) cat <<'EOF'\n{answer}\nEOF\n  ;;\n  *) echo \"ERROR: unexpected arguments: $*\" >&2; exit 2 ;;\nesac\n"
        ),
        None => "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n"
            .to_owned(),
    };
    let path = bin.join("az");
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn azure_cli_delegated_and_not_logged_in() {
    let t = TestTenant::from_json(
        &tenant(|t| {
            // Lee Gu administers users (the delegated caller needs the role too).
            let roles = t["directoryRoles"].as_array_mut().unwrap();
            let admin = roles
                .iter_mut()
                .find(|r| r["displayName"] == "User Administrator")
                .unwrap();
            admin["members"] = json!(["d0000000-0000-4000-8000-000000000011"]);
        }),
        Default::default(),
    );
    let minted = t.admin_post(
        "tokens/delegated",
        &json!({"user": "lee.gu@contoso.com",
                "scopes": ["User.ReadWrite.All", "Directory.Read.All"]}),
    );
    let expires_on = minted["expiresOn"].as_i64().unwrap();
    // What older CLIs print: local time without a zone.
    let local = jiff::tz::TimeZone::system()
        .to_datetime(jiff::Timestamp::from_second(expires_on).unwrap())
        .strftime("%Y-%m-%d %H:%M:%S.000000")
        .to_string();
    let answer = json!({
        "accessToken": minted["accessToken"], "expiresOn": local, "expires_on": expires_on,
        "subscription": "00000000-0000-0000-0000-000000000000", "tenant": DEMO_TENANT_ID,
        "tokenType": "Bearer",
    });
    let path = stand_in_az(t.dir.path(), Some(&answer), &t.url);
    plan_and_apply(
        &t,
        |c| {
            c.env("PATH", &path).env_remove("AZURE_CLIENT_ID");
        },
        None,
    );
    // The plan said whose rights it used.
    let out = plan(&t, &["-v"]).env("PATH", &path).output().unwrap();
    assert!(
        stderr(&out).contains("Azure CLI (az, tenant"),
        "{}",
        stderr(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    let path = stand_in_az(dir.path(), None, &t.url);
    let out = plan(&t, &[]).env("PATH", &path).output().unwrap();
    refused(
        &out,
        "Azure CLI (az, tenant",
        &format!("run `az login --tenant {DEMO_TENANT_ID}"),
    );
    let out = plan(&t, &["--auth", "azure-cli"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    refused(&out, "Azure CLI", "not installed or not on PATH");
}

#[test]
fn access_token_file_and_an_expired_one() {
    let t = TestTenant::demo();
    let token = t.app_token(DEMO_CLIENT_ID);
    t.write("token.jwt", &token);
    plan_and_apply(
        &t,
        |c| {
            c.args(["--access-token-file", "token.jwt"]);
        },
        None,
    );
    // The token reaches no log (even at debug level), journal or report.
    let out = plan(&t, &["--access-token-file", "token.jwt", "-vv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("access token file token.jwt"),
        "{}",
        stderr(&out)
    );
    let report = t
        .cmd(&["report", "--journal", "run.db", "--html", "report.html"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", stderr(&report));
    let signature = token.rsplit('.').next().unwrap();
    for entry in std::fs::read_dir(t.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != "token.jwt") {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(signature),
                "the token is in {}",
                path.display()
            );
        }
    }
    assert!(!stderr(&out).contains(signature));
    t.write("old.jwt", &t.expired_app_token(DEMO_CLIENT_ID));
    let out = plan(&t, &["--access-token-file", "old.jwt"])
        .output()
        .unwrap();
    refused(&out, "access token file old.jwt", "get a new access token");
    assert!(stderr(&out).contains("expired at"), "{}", stderr(&out));
}

#[test]
fn a_missing_permission_is_said_before_anything_changes() {
    // The demo's second app may only read.
    let t = TestTenant::demo();
    t.write("users.csv", INPUT);
    let out = t
        .process(&[
            "apply",
            "--input",
            "users.csv",
            "--yes",
            "--journal",
            "run.db",
        ])
        .env("AZURE_CLIENT_ID", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")
        .env("AZURE_CLIENT_SECRET", "read-only-demo-secret")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("lacks application permissions this run needs; nothing was changed"),
        "{err}"
    );
    assert!(
        err.contains("to set each user's mail: needs User.ReadUpdate.All"),
        "{err}"
    );
    assert!(
        err.contains(
            "to invite each existing user (internal conversion): needs User.ReadWrite.All"
        ),
        "{err}"
    );
    let state = t.state();
    assert!(state["invitations"].as_array().unwrap().is_empty());
    assert!(writes(&state).is_empty(), "{:?}", writes(&state));
}
