//! Signing in with a bearer token obtained elsewhere (`--access-token-file`): a token
//! broker, another tool, a colleague's `az account get-access-token` on a jump host.
//!
//! The token cannot be renewed here, so its expiry is read from the JWT and the file is
//! read again whenever the cached copy is due for renewal (whoever wrote it may have
//! written a fresh one). Once less than a minute is left the run stops cleanly, before
//! Graph would start refusing requests halfway through a user; the journal resumes it
//! with a new token. A token that is not a readable JWT, or not for Microsoft Graph, is
//! refused up front: its expiry could not be watched.

use std::fmt;
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use jiff::SignedDuration;
use secrecy::SecretString;

use super::AccessToken;
use super::cache::{Acquire, Cached, delegate_token_source, sign_in};
use super::claims::TokenClaims;
use super::kind::CredentialKind;
use crate::clock::SharedClock;
use crate::error::GraphError;

/// A token is not used in its last minute: a request sent then may reach Graph after
/// it lapsed.
const LAST_USE: SignedDuration = SignedDuration::from_secs(60);

/// Graph's application id, which is also a valid `aud` for Graph tokens.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A bearer token read from a file.
pub struct AccessTokenFileCredential {
    inner: Cached<TokenFile>,
}

pub(crate) struct TokenFile {
    path: PathBuf,
    resource: String,
}

impl fmt::Debug for AccessTokenFileCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenFileCredential")
            .field("path", &self.inner.source().path)
            .finish()
    }
}

impl AccessTokenFileCredential {
    /// A credential reading the token in `path`, which must be for `resource` (see
    /// [`crate::Endpoints::resource`]) or for Microsoft Graph in any cloud.
    pub fn new(path: &Path, resource: &str) -> Self {
        AccessTokenFileCredential {
            inner: Cached::new(
                TokenFile {
                    path: path.to_owned(),
                    resource: resource.trim_end_matches('/').to_owned(),
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

impl TokenFile {
    fn for_graph(&self, audience: &str) -> bool {
        let audience = audience.trim_end_matches('/');
        audience == self.resource
            || audience == GRAPH_APP_ID
            || crate::cloud::Cloud::ALL
                .iter()
                .any(|c| audience == format!("https://{}", c.graph_host()))
    }
}

impl Acquire for TokenFile {
    fn acquire<'a>(
        &'a self,
        clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.path)
                .await
                .map_err(|e| sign_in(self, format!("cannot read the token file: {e}")))?;
            let token = text.trim();
            if token.is_empty() {
                return Err(sign_in(self, "the token file is empty"));
            }
            let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
            let claims = TokenClaims::decode(token).ok_or_else(|| {
                sign_in(
                    self,
                    "the file does not hold a JWT access token, so its expiry cannot be read",
                )
            })?;
            if let Some(aud) = claims.audience.as_deref().filter(|a| !self.for_graph(a)) {
                return Err(sign_in(
                    self,
                    format!(
                        "the token is for {aud}, not for Microsoft Graph ({})",
                        self.resource
                    ),
                ));
            }
            let expires_at = claims
                .expires_at
                .ok_or_else(|| sign_in(self, "the token has no expiry (exp)"))?;
            let now = clock.now();
            if expires_at
                .checked_sub(LAST_USE)
                .is_ok_and(|last| now >= last)
            {
                let when = if expires_at <= now {
                    "expired"
                } else {
                    "expires"
                };
                return Err(sign_in(
                    self,
                    format!("the token {when} at {expires_at}; the run stops before it lapses"),
                ));
            }
            Ok(AccessToken {
                secret: SecretString::from(token.to_owned()),
                expires_at,
            })
        })
    }

    fn kind(&self) -> CredentialKind {
        CredentialKind::AccessToken
    }

    fn describe(&self) -> String {
        format!("access token file {}", self.path.display())
    }

    /// Never handed out in its last minute: the cache asks again by then, and the file's
    /// token, if still the same, is refused (the run stops cleanly).
    fn min_renewal_margin(&self) -> SignedDuration {
        LAST_USE
    }
}

delegate_token_source!(AccessTokenFileCredential);
