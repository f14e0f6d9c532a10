//! Signing in with a client secret: the OAuth2 client-credentials grant as Entra
//! documents it (graph-facts §7). The secret comes from `AZURE_CLIENT_SECRET`, a file or
//! standard input — never from a command-line argument, where `ps` and shell history
//! would show it.

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::SecretString;
use url::Url;

use super::AccessToken;
use super::cache::{Acquire, Cached, delegate_token_source};
use super::kind::CredentialKind;
use super::token_endpoint::{Proof, TokenEndpoint};
use crate::clock::SharedClock;
use crate::cloud::Endpoints;
use crate::error::GraphError;

/// Client-credentials flow with a client secret; caches the token and renews it ahead
/// of expiry. Concurrent callers share one refresh (single flight).
pub struct ClientSecretCredential {
    inner: Cached<SecretProof>,
}

pub(crate) struct SecretProof {
    endpoint: TokenEndpoint,
    secret: SecretString,
    origin: String,
}

impl fmt::Debug for ClientSecretCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proof = self.inner.source();
        f.debug_struct("ClientSecretCredential")
            .field("token_url", &proof.endpoint.url.as_str())
            .field("client_id", &proof.endpoint.client_id)
            .field("origin", &proof.origin)
            .field("secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl ClientSecretCredential {
    /// A credential for `client_id` in `tenant` (GUID or domain), with the token URL and
    /// scope taken from `endpoints`.
    pub fn new(endpoints: &Endpoints, tenant: &str, client_id: &str, secret: SecretString) -> Self {
        ClientSecretCredential {
            inner: Cached::new(
                SecretProof {
                    endpoint: TokenEndpoint::new(endpoints, tenant, client_id),
                    secret,
                    origin: "AZURE_CLIENT_SECRET".into(),
                },
                crate::clock::system(),
            ),
        }
    }

    /// Where the secret came from, for messages (`AZURE_CLIENT_SECRET`, `file app.secret`,
    /// `standard input`).
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.inner.source_mut().origin = origin.into();
        self
    }

    /// Change the token request timeout (default 30 s; `Duration::ZERO` disables it, e.g.
    /// for paused-time tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.inner.source_mut().endpoint.set_timeout(timeout);
        self
    }

    /// Replace the wall clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.inner.set_clock(clock);
        self
    }

    /// The token endpoint in use.
    pub fn token_url(&self) -> &Url {
        &self.inner.source().endpoint.url
    }
}

impl Acquire for SecretProof {
    fn acquire<'a>(
        &'a self,
        clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>> {
        Box::pin(self.endpoint.request(Proof::Secret(&self.secret), clock))
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::Secret
    }

    fn describe(&self) -> String {
        format!("client secret ({})", self.origin)
    }
}

delegate_token_source!(ClientSecretCredential);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Cloud;

    #[test]
    fn debug_never_shows_secrets() {
        let c = ClientSecretCredential::new(
            &Endpoints::for_cloud(Cloud::Global),
            "contoso.onmicrosoft.com",
            "app-1",
            SecretString::from("s3cr3t-value"),
        );
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t"));
        assert!(d.contains("app-1"));
        assert_eq!(
            c.token_url().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }
}
