//! Choosing how to sign in: from `--auth` when given, otherwise the first credential
//! that is configured, in the order of Azure's SDKs (client secret → certificate →
//! workload identity → managed identity → Azure CLI), with the environment variable
//! names they use, so a pipeline, VM or laptop already set up for them works unchanged.
//!
//! One deliberate difference: without `--auth`, IMDS (the Azure VM endpoint) is not
//! probed. `DefaultAzureCredential` sends a request to 169.254.169.254 from every
//! machine and waits for it to time out off Azure; here a VM's identity is named with
//! `--auth managed-identity` (or found through `IDENTITY_ENDPOINT` on App Service, or
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`), and nothing is sent anywhere unasked.
//!
//! [`SignInSettings::choose`] is pure (settings in, a kind or the reason out), so the
//! order is unit-tested without touching the environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use super::TokenSource;
use super::access_token::AccessTokenFileCredential;
use super::azure_cli::AzureCliCredential;
use super::certificate::{AssertionAlgorithm, CertificateCredential, ClientCertificate};
use super::kind::CredentialKind;
use super::managed_identity::{IMDS_HOST, ManagedIdentityCredential, ManagedIdentityEndpoint};
use super::secret::ClientSecretCredential;
use super::workload_identity::WorkloadIdentityCredential;
use crate::clock::SharedClock;
use crate::cloud::Endpoints;
use crate::error::GraphError;

/// A client secret and where it came from (for messages; never the value).
pub struct SecretValue {
    /// The secret.
    pub secret: SecretString,
    /// `AZURE_CLIENT_SECRET`, `file app.secret`, `standard input`.
    pub origin: String,
}

/// Everything that may configure a credential: Azure's environment variables and the
/// command line's options.
#[derive(Default)]
pub struct SignInSettings {
    /// `--auth`: the kind asked for; `None` picks the first configured.
    pub kind: Option<CredentialKind>,
    /// `AZURE_TENANT_ID`: tenant id or domain.
    pub tenant_id: Option<String>,
    /// `AZURE_CLIENT_ID`: the application, or a user-assigned managed identity.
    pub client_id: Option<String>,
    /// `AZURE_CLIENT_SECRET`, `--client-secret-file` or `--client-secret-stdin`.
    pub client_secret: Option<SecretValue>,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`: PEM or PKCS#12.
    pub certificate_path: Option<PathBuf>,
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`, for PKCS#12.
    pub certificate_password: Option<SecretString>,
    /// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`: send `x5c`.
    pub send_certificate_chain: bool,
    /// The assertion's signature (PS256 by default).
    pub assertion_algorithm: AssertionAlgorithm,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<PathBuf>,
    /// `IDENTITY_ENDPOINT` (App Service, Functions, Container Apps).
    pub identity_endpoint: Option<String>,
    /// `IDENTITY_HEADER`.
    pub identity_header: Option<SecretString>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: where IMDS is, when not at 169.254.169.254.
    pub imds_host: Option<String>,
    /// `--access-token-file`.
    pub access_token_file: Option<PathBuf>,
    /// Whether `az` is on PATH (the Azure CLI is then "configured").
    pub azure_cli_on_path: bool,
}

impl SecretValue {
    /// The secret in a file (its trailing newline dropped), e.g. a mounted Kubernetes or
    /// Docker secret.
    pub fn from_file(path: &Path) -> Result<SecretValue, GraphError> {
        let origin = format!("file {}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| secret_refused(&origin, format!("cannot read it: {e}")))?;
        Self::from_text(text, origin)
    }

    /// The secret on a reader, e.g. standard input piped from a vault's CLI.
    pub fn from_reader(mut reader: impl std::io::Read) -> Result<SecretValue, GraphError> {
        let origin = "standard input".to_owned();
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|e| secret_refused(&origin, format!("cannot read it: {e}")))?;
        Self::from_text(text, origin)
    }

    fn from_text(text: String, origin: String) -> Result<SecretValue, GraphError> {
        let secret = text.trim_end_matches(['\r', '\n']);
        if secret.trim().is_empty() {
            return Err(secret_refused(&origin, "it is empty".into()));
        }
        Ok(SecretValue {
            secret: SecretString::from(secret.to_owned()),
            origin,
        })
    }
}

fn secret_refused(origin: &str, reason: String) -> GraphError {
    GraphError::sign_in(
        format!("client secret ({origin})"),
        reason,
        CredentialKind::Secret.fix(&[]),
    )
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Whether an executable named `name` is in one of PATH's folders.
fn on_path(path: Option<&str>, name: &str) -> bool {
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|dir| {
        let candidates: &[&str] = if cfg!(windows) {
            &[".cmd", ".exe", ".bat"]
        } else {
            &[""]
        };
        candidates
            .iter()
            .any(|ext| Path::new(&dir).join(format!("{name}{ext}")).is_file())
    })
}

impl SignInSettings {
    /// The settings Azure's SDKs read from the environment, through `get` (e.g.
    /// `|k| std::env::var(k).ok()`). Empty values count as unset.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> SignInSettings {
        let var = |k: &str| non_empty(get(k));
        SignInSettings {
            kind: None,
            tenant_id: var("AZURE_TENANT_ID"),
            client_id: var("AZURE_CLIENT_ID"),
            client_secret: get("AZURE_CLIENT_SECRET")
                .filter(|s| !s.is_empty())
                .map(|s| SecretValue {
                    secret: SecretString::from(s),
                    origin: "AZURE_CLIENT_SECRET".into(),
                }),
            certificate_path: var("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from),
            certificate_password: get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
                .filter(|s| !s.is_empty())
                .map(SecretString::from),
            send_certificate_chain: var("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            assertion_algorithm: AssertionAlgorithm::default(),
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            identity_endpoint: var("IDENTITY_ENDPOINT"),
            identity_header: var("IDENTITY_HEADER").map(SecretString::from),
            imds_host: var("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
            access_token_file: None,
            azure_cli_on_path: on_path(get("PATH").as_deref(), "az"),
        }
    }

    /// Whether a kind has what it needs to be tried.
    fn configured(&self, kind: CredentialKind) -> bool {
        match kind {
            CredentialKind::Secret => self.client_secret.is_some(),
            CredentialKind::Certificate => self.certificate_path.is_some(),
            CredentialKind::WorkloadIdentity => self.federated_token_file.is_some(),
            CredentialKind::ManagedIdentity => {
                (self.identity_endpoint.is_some() && self.identity_header.is_some())
                    || self.imds_host.is_some()
            }
            CredentialKind::AzureCli => self.azure_cli_on_path,
            CredentialKind::AccessToken => self.access_token_file.is_some(),
        }
    }

    /// The kind to use: `--auth`'s, else the first configured. An access-token file
    /// given on the command line wins over the environment: it was asked for by name.
    pub fn choose(&self) -> Result<CredentialKind, String> {
        if let Some(kind) = self.kind {
            return Ok(kind);
        }
        if self.access_token_file.is_some() {
            return Ok(CredentialKind::AccessToken);
        }
        CredentialKind::ALL
            .into_iter()
            .find(|k| self.configured(*k))
            .ok_or_else(|| {
                "no credential is configured: set AZURE_CLIENT_SECRET (or pass --client-secret-file), AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE, run on an Azure host with --auth managed-identity, sign in with `az login`, or pass --access-token-file (README, \"Signing in\")".to_owned()
            })
    }

    /// The application-credential kinds need a tenant and an application.
    fn tenant_and_client(&self, kind: CredentialKind) -> Result<(&str, &str), String> {
        match (self.tenant_id.as_deref(), self.client_id.as_deref()) {
            (Some(t), Some(c)) => Ok((t, c)),
            (None, _) => Err(format!(
                "--auth {kind} needs the tenant: pass --tenant-id or set AZURE_TENANT_ID"
            )),
            (_, None) => Err(format!(
                "--auth {kind} needs the application: pass --client-id or set AZURE_CLIENT_ID"
            )),
        }
    }

    /// The chosen credential, ready to hand out tokens for `endpoints`. Nothing is sent
    /// yet; files named in the settings are read now, so a wrong path or password is
    /// said before any work starts.
    pub fn build(
        &self,
        endpoints: &Endpoints,
        clock: SharedClock,
    ) -> Result<Arc<dyn TokenSource>, GraphError> {
        let kind = self
            .choose()
            .map_err(|reason| not_configured(None, reason))?;
        let fail = |reason: String| not_configured(Some(kind), reason);
        let resource = endpoints.resource();
        Ok(match kind {
            CredentialKind::Secret => {
                let (tenant, client) = self.tenant_and_client(kind).map_err(fail)?;
                let value = self.client_secret.as_ref().ok_or_else(|| {
                    fail("no client secret: set AZURE_CLIENT_SECRET, or pass --client-secret-file or --client-secret-stdin".into())
                })?;
                Arc::new(
                    ClientSecretCredential::new(endpoints, tenant, client, value.secret.clone())
                        .with_origin(value.origin.clone())
                        .with_clock(clock),
                )
            }
            CredentialKind::Certificate => {
                let (tenant, client) = self.tenant_and_client(kind).map_err(fail)?;
                let path = self.certificate_path.as_deref().ok_or_else(|| {
                    fail("no certificate: set AZURE_CLIENT_CERTIFICATE_PATH to a PEM or PKCS#12 file".into())
                })?;
                let certificate =
                    ClientCertificate::from_file(path, self.certificate_password.as_ref())
                        .map_err(fail)?;
                Arc::new(
                    CertificateCredential::new(endpoints, tenant, client, certificate, path)
                        .with_algorithm(self.assertion_algorithm)
                        .with_chain(self.send_certificate_chain)
                        .with_clock(clock),
                )
            }
            CredentialKind::WorkloadIdentity => {
                let (tenant, client) = self.tenant_and_client(kind).map_err(fail)?;
                let file = self.federated_token_file.as_deref().ok_or_else(|| {
                    fail("no federated token: set AZURE_FEDERATED_TOKEN_FILE".into())
                })?;
                Arc::new(
                    WorkloadIdentityCredential::new(endpoints, tenant, client, file)
                        .with_clock(clock),
                )
            }
            CredentialKind::ManagedIdentity => {
                let endpoint = match (&self.identity_endpoint, &self.identity_header) {
                    (Some(endpoint), Some(header)) => ManagedIdentityEndpoint::AppService {
                        endpoint: Url::parse(endpoint).map_err(|e| {
                            fail(format!("IDENTITY_ENDPOINT {endpoint:?} is not a URL: {e}"))
                        })?,
                        header: header.clone(),
                    },
                    (Some(_), None) => {
                        return Err(fail(
                            "IDENTITY_ENDPOINT is set without IDENTITY_HEADER".into(),
                        ));
                    }
                    _ => {
                        let host = self.imds_host.as_deref().unwrap_or(IMDS_HOST);
                        ManagedIdentityEndpoint::Imds {
                            host: Url::parse(host).map_err(|e| {
                                fail(format!(
                                    "AZURE_POD_IDENTITY_AUTHORITY_HOST {host:?} is not a URL: {e}"
                                ))
                            })?,
                        }
                    }
                };
                Arc::new(
                    ManagedIdentityCredential::new(endpoint, &resource, self.client_id.as_deref())
                        .map_err(fail)?
                        .with_clock(clock),
                )
            }
            CredentialKind::AzureCli => Arc::new(
                AzureCliCredential::new(&resource, self.tenant_id.as_deref()).with_clock(clock),
            ),
            CredentialKind::AccessToken => {
                let path = self
                    .access_token_file
                    .as_deref()
                    .ok_or_else(|| fail("--auth access-token needs --access-token-file".into()))?;
                Arc::new(AccessTokenFileCredential::new(path, &resource).with_clock(clock))
            }
        })
    }
}

/// A [`GraphError::SignIn`] for settings that cannot make a credential.
fn not_configured(kind: Option<CredentialKind>, reason: String) -> GraphError {
    GraphError::sign_in(
        kind.map_or_else(|| "no credential".to_owned(), |k| format!("--auth {k}")),
        reason,
        "see README, \"Signing in\", for what each way needs",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> SignInSettings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SignInSettings::from_env(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn first_configured_in_the_sdk_order() {
        let all = [
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "c.pem"),
            ("AZURE_FEDERATED_TOKEN_FILE", "t"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ];
        let expected = [
            CredentialKind::Secret,
            CredentialKind::Certificate,
            CredentialKind::WorkloadIdentity,
            CredentialKind::ManagedIdentity,
        ];
        // Dropping the winner each time reveals the next one in order.
        for (skip, kind) in [0, 1, 2, 3].into_iter().zip(expected) {
            let s = settings(&all[skip..]);
            assert_eq!(s.choose(), Ok(kind));
        }
        assert_eq!(
            settings(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:2")]).choose(),
            Ok(CredentialKind::ManagedIdentity)
        );
        // An App Service endpoint without its header is not a configured identity.
        assert!(
            settings(&[("IDENTITY_ENDPOINT", "http://x")])
                .choose()
                .is_err()
        );
        assert!(settings(&[("AZURE_CLIENT_SECRET", "")]).choose().is_err());
    }

    #[test]
    fn the_flag_and_the_token_file_win() {
        let mut s = settings(&[("AZURE_CLIENT_SECRET", "s")]);
        s.access_token_file = Some("token.jwt".into());
        assert_eq!(s.choose(), Ok(CredentialKind::AccessToken));
        s.kind = Some(CredentialKind::AzureCli);
        assert_eq!(s.choose(), Ok(CredentialKind::AzureCli));
    }

    #[test]
    fn azure_cli_when_az_is_on_path() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("az"), "#!/bin/sh\n").unwrap();
        let path = dir.to_string_lossy().into_owned();
        let s = settings(&[("PATH", path.as_str())]);
        assert_eq!(s.choose(), Ok(CredentialKind::AzureCli));
        assert!(settings(&[("PATH", "/nonexistent")]).choose().is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("b2b-az-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn secret_from_a_reader_loses_its_newline_only() {
        use secrecy::ExposeSecret;
        let v = SecretValue::from_reader(&b" s3cret \n"[..]).unwrap();
        assert_eq!(v.secret.expose_secret(), " s3cret ");
        assert_eq!(v.origin, "standard input");
        let e = SecretValue::from_reader(&b"\n"[..]).err().unwrap();
        assert!(e.is_sign_in());
        assert!(e.to_string().contains("empty"));
        let e = SecretValue::from_file(Path::new("/nonexistent/secret"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("file /nonexistent/secret"), "{e}");
    }

    #[test]
    fn missing_pieces_are_named() {
        let endpoints = Endpoints::for_cloud(crate::Cloud::Global);
        let clock = crate::clock::system();
        let mut s = settings(&[("AZURE_CLIENT_SECRET", "s"), ("AZURE_CLIENT_ID", "app")]);
        let e = s
            .build(&endpoints, clock.clone())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("AZURE_TENANT_ID"), "{e}");
        s.kind = Some(CredentialKind::Certificate);
        s.tenant_id = Some("t".into());
        let e = s
            .build(&endpoints, clock.clone())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("AZURE_CLIENT_CERTIFICATE_PATH"), "{e}");
        s.certificate_path = Some("/nonexistent/cert.pem".into());
        let e = s.build(&endpoints, clock).err().unwrap();
        assert!(e.is_sign_in());
        assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    }
}
