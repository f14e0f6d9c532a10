//! Signing in as the person logged in to the Azure CLI: `az account get-access-token`
//! hands out a delegated token (with `scp`, the person's consented scopes), so an
//! admin can run the tool under their own rights without registering an application.
//!
//! The token is for the resource of the chosen cloud (`--resource`), in the tenant of
//! `AZURE_TENANT_ID` when set (`--tenant`). Older CLIs give only `expiresOn`, a local
//! time without zone; since 2.54 they also give `expires_on`, Unix seconds, which is
//! preferred. `az` is looked up on PATH; a missing `az` or a missing login is said in
//! one sentence with the command to run.

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use secrecy::SecretString;

use super::AccessToken;
use super::cache::{Acquire, Cached, delegate_token_source, sign_in};
use super::kind::CredentialKind;
use crate::clock::SharedClock;
use crate::error::GraphError;

/// How long `az` may take: it can refresh its own token over the network first.
const AZ_TIMEOUT: Duration = Duration::from_secs(60);

/// The Azure CLI's signed-in account.
pub struct AzureCliCredential {
    inner: Cached<AzureCli>,
}

pub(crate) struct AzureCli {
    resource: String,
    tenant: Option<String>,
}

impl fmt::Debug for AzureCliCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self.inner.source();
        f.debug_struct("AzureCliCredential")
            .field("resource", &source.resource)
            .field("tenant", &source.tenant)
            .finish()
    }
}

impl AzureCliCredential {
    /// Tokens for `resource` (see [`crate::Endpoints::resource`]), in `tenant` when given.
    pub fn new(resource: &str, tenant: Option<&str>) -> Self {
        AzureCliCredential {
            inner: Cached::new(
                AzureCli {
                    resource: resource.to_owned(),
                    tenant: tenant.map(str::to_owned).filter(|t| !t.is_empty()),
                },
                crate::clock::system(),
            ),
        }
    }

    /// Replace the wall clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.inner.set_clock(clock);
        self
    }
}

/// `az account get-access-token --output json`.
#[derive(serde::Deserialize)]
struct CliToken {
    #[serde(rename = "accessToken")]
    access_token: Option<String>,
    expires_on: Option<serde_json::Value>,
    #[serde(rename = "expiresOn")]
    expires_on_local: Option<String>,
}

/// The expiry of a CLI answer: `expires_on` (Unix seconds) or else `expiresOn` (local
/// time, `2026-12-02 02:00:00.000000`).
fn expiry(token: &CliToken) -> Option<Timestamp> {
    if let Some(secs) = super::token_endpoint::seconds(token.expires_on.as_ref()) {
        return Timestamp::from_second(secs).ok();
    }
    let local = token.expires_on_local.as_deref()?.trim();
    let civil: jiff::civil::DateTime = local.replacen(' ', "T", 1).parse().ok()?;
    jiff::tz::TimeZone::system().to_timestamp(civil).ok()
}

/// The first line of `az`'s complaint, for the message (it never holds the token).
fn complaint(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("WARNING"))
        .unwrap_or("no message");
    line.strip_prefix("ERROR: ").unwrap_or(line).to_owned()
}

impl AzureCli {
    fn login_command(&self) -> String {
        match &self.tenant {
            Some(t) => format!("az login --tenant {t} --allow-no-subscriptions"),
            None => "az login --allow-no-subscriptions".to_owned(),
        }
    }

    fn refused(&self, reason: String) -> GraphError {
        GraphError::sign_in(
            self.describe(),
            reason,
            format!("run `{}` and try again", self.login_command()),
        )
    }
}

impl Acquire for AzureCli {
    fn acquire<'a>(
        &'a self,
        _clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            let mut args = vec![
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
                self.resource.as_str(),
            ];
            if let Some(tenant) = &self.tenant {
                args.extend(["--tenant", tenant.as_str()]);
            }
            // On Windows `az` is a .cmd script that only the shell can start.
            let mut command = if cfg!(windows) {
                let mut c = tokio::process::Command::new("cmd");
                c.arg("/c").arg("az");
                c
            } else {
                tokio::process::Command::new("az")
            };
            command
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let child = command.spawn().map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    GraphError::sign_in(
                        self.describe(),
                        "the Azure CLI (`az`) is not installed or not on PATH",
                        format!(
                            "install it (https://aka.ms/azure-cli), then run `{}`",
                            self.login_command()
                        ),
                    )
                } else {
                    sign_in(self, format!("cannot start `az`: {e}"))
                }
            })?;
            let output = tokio::time::timeout(AZ_TIMEOUT, child.wait_with_output())
                .await
                .map_err(|_| {
                    sign_in(
                        self,
                        format!(
                            "`az account get-access-token` did not answer within {} s",
                            AZ_TIMEOUT.as_secs()
                        ),
                    )
                })?
                .map_err(|e| sign_in(self, format!("`az` failed: {e}")))?;
            if !output.status.success() {
                return Err(self.refused(format!(
                    "`az account get-access-token` failed: {}",
                    complaint(&output.stderr)
                )));
            }
            let parsed: CliToken = serde_json::from_slice(&output.stdout).map_err(|e| {
                sign_in(
                    self,
                    format!(
                        "`az account get-access-token` printed something other than its JSON: {e}"
                    ),
                )
            })?;
            let expires_at = expiry(&parsed).ok_or_else(|| {
                sign_in(self, "`az account get-access-token` gave no readable expiry (expires_on or expiresOn)")
            })?;
            let token = parsed
                .access_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    sign_in(self, "`az account get-access-token` gave no accessToken")
                })?;
            Ok(AccessToken {
                secret: SecretString::from(token),
                expires_at,
            })
        })
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::AzureCli
    }

    fn describe(&self) -> String {
        match &self.tenant {
            Some(t) => format!("Azure CLI (az, tenant {t})"),
            None => "Azure CLI (az)".to_owned(),
        }
    }
}

delegate_token_source!(AzureCliCredential);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> CliToken {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn unix_expiry_wins_and_local_time_is_read() {
        let both = parse(
            r#"{"accessToken":"t","expiresOn":"2000-01-01 00:00:00.000000","expires_on":1800000000}"#,
        );
        assert_eq!(expiry(&both).map(|t| t.as_second()), Some(1_800_000_000));
        let text = parse(r#"{"accessToken":"t","expires_on":"1800000000"}"#);
        assert_eq!(expiry(&text).map(|t| t.as_second()), Some(1_800_000_000));
        let local = parse(r#"{"accessToken":"t","expiresOn":"2026-12-02 02:00:00.123456"}"#);
        let expected = jiff::tz::TimeZone::system()
            .to_timestamp("2026-12-02T02:00:00.123456".parse().unwrap())
            .unwrap();
        assert_eq!(expiry(&local), Some(expected));
        assert_eq!(expiry(&parse(r#"{"accessToken":"t"}"#)), None);
    }

    #[test]
    fn complaint_is_the_first_error_line() {
        let stderr = b"WARNING: something\nERROR: Please run 'az login' to setup account.\nmore";
        assert_eq!(complaint(stderr), "Please run 'az login' to setup account.");
    }
}
