//! Access tokens for Graph: the [`TokenSource`] the client asks before every request, and
//! one credential for each way an Entra admin's security team lets a tool sign in.
//!
//! | `--auth` | credential | configured by (Azure SDK names) |
//! |---|---|---|
//! | `secret` | [`ClientSecretCredential`] | `AZURE_CLIENT_SECRET` (or a file, stdin) |
//! | `certificate` | [`CertificateCredential`] | `AZURE_CLIENT_CERTIFICATE_PATH`, `…_PASSWORD`, `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` |
//! | `workload-identity` | [`WorkloadIdentityCredential`] | `AZURE_FEDERATED_TOKEN_FILE` |
//! | `managed-identity` | [`ManagedIdentityCredential`] | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, or IMDS |
//! | `azure-cli` | [`AzureCliCredential`] | `az login` |
//! | `access-token` | [`AccessTokenFileCredential`] | `--access-token-file` |
//!
//! [`SignInSettings`] picks one. Every credential shares one cache (renewal five minutes
//! before expiry, single flight, a short retry on blips: `cache.rs`) and says a refusal
//! as one [`GraphError::SignIn`] naming the credential and the fix. No token, secret,
//! header or assertion reaches a log, a `Debug` output or an error.
//!
//! Hand-rolled rather than `azure_identity`: that crate brings its own HTTP stack
//! (reqwest 0.12 beside ours), needs OpenSSL for certificates and refuses
//! `http://127.0.0.1` authorities, which the emulator needs.

mod access_token;
mod azure_cli;
mod cache;
mod certificate;
mod claims;
mod kind;
mod managed_identity;
mod secret;
mod selection;
mod token_endpoint;
mod workload_identity;

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use secrecy::SecretString;

use crate::error::GraphError;

pub use access_token::AccessTokenFileCredential;
pub use azure_cli::AzureCliCredential;
pub use certificate::{AssertionAlgorithm, CertificateCredential, ClientCertificate};
pub use claims::TokenClaims;
pub use kind::CredentialKind;
pub use managed_identity::{IMDS_HOST, ManagedIdentityCredential, ManagedIdentityEndpoint};
pub use secret::ClientSecretCredential;
pub use selection::{SecretValue, SignInSettings};
pub use workload_identity::WorkloadIdentityCredential;

/// A bearer token and its expiry.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer token; never logged.
    pub secret: SecretString,
    /// When Entra stops accepting it.
    pub expires_at: Timestamp,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Something that hands out Graph access tokens. Object-safe so credentials can be
/// swapped at run time behind `Arc<dyn TokenSource>`.
pub trait TokenSource: Send + Sync {
    /// A valid token, from cache when possible.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>>;
    /// Drop any cached token; the next [`TokenSource::token`] fetches a new one. Called
    /// after Graph answers 401 `InvalidAuthenticationToken`.
    fn invalidate(&self);
    /// Which way of signing in this is, when it is one of ours.
    fn kind(&self) -> Option<CredentialKind> {
        None
    }
    /// The credential as an operator knows it, for `--verbose` and messages; never a
    /// secret.
    fn describe(&self) -> String {
        "token source".to_owned()
    }
}

/// How long before expiry a token is renewed: 5 minutes, or half the lifetime for
/// tokens shorter than 10 minutes.
pub fn renewal_margin(lifetime: Duration) -> Duration {
    const MARGIN: Duration = Duration::from_secs(300);
    (lifetime / 2).min(MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_five_minutes_or_half() {
        assert_eq!(
            renewal_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(120)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn token_debug_hides_the_secret() {
        let t = AccessToken {
            secret: SecretString::from("eyJ-token"),
            expires_at: Timestamp::UNIX_EPOCH,
        };
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
