//! Signing in with workload identity federation: a token issued to the pipeline or pod
//! by another identity provider (GitHub Actions, Kubernetes, Azure DevOps…), read from
//! `AZURE_FEDERATED_TOKEN_FILE`, is sent as the client assertion of the client-credentials
//! grant; Entra trusts it through a federated credential on the application.
//!
//! The file is read again for every token request because the platform rotates it (a
//! Kubernetes projected token lives an hour), exactly as Azure's SDKs do.

use std::fmt;
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use secrecy::SecretString;

use super::AccessToken;
use super::cache::{Acquire, Cached, delegate_token_source, sign_in};
use super::kind::CredentialKind;
use super::token_endpoint::{Proof, TokenEndpoint};
use crate::clock::SharedClock;
use crate::cloud::Endpoints;
use crate::error::GraphError;

/// Client-credentials flow with a federated token as the client assertion.
pub struct WorkloadIdentityCredential {
    inner: Cached<FederatedProof>,
}

pub(crate) struct FederatedProof {
    endpoint: TokenEndpoint,
    token_file: PathBuf,
}

impl fmt::Debug for WorkloadIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proof = self.inner.source();
        f.debug_struct("WorkloadIdentityCredential")
            .field("client_id", &proof.endpoint.client_id)
            .field("token_file", &proof.token_file)
            .finish_non_exhaustive()
    }
}

impl WorkloadIdentityCredential {
    /// A credential for `client_id` in `tenant` presenting the token in `token_file`.
    pub fn new(endpoints: &Endpoints, tenant: &str, client_id: &str, token_file: &Path) -> Self {
        WorkloadIdentityCredential {
            inner: Cached::new(
                FederatedProof {
                    endpoint: TokenEndpoint::new(endpoints, tenant, client_id),
                    token_file: token_file.to_owned(),
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

impl Acquire for FederatedProof {
    fn acquire<'a>(
        &'a self,
        clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.token_file)
                .await
                .map_err(|e| sign_in(self, format!("cannot read the federated token: {e}")))?;
            let token = text.trim();
            if token.is_empty() {
                return Err(sign_in(self, "the federated token file is empty"));
            }
            let assertion = SecretString::from(token.to_owned());
            self.endpoint
                .request(Proof::Assertion(assertion), clock)
                .await
        })
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::WorkloadIdentity
    }

    fn describe(&self) -> String {
        format!(
            "workload identity (AZURE_FEDERATED_TOKEN_FILE={})",
            self.token_file.display()
        )
    }
}

delegate_token_source!(WorkloadIdentityCredential);
