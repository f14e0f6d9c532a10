//! What every credential shares: one cached token, renewed ahead of expiry by a single
//! caller while the others wait; a short retry when the token service has a blip; and
//! refusals turned into one [`GraphError::SignIn`] sentence that names the credential
//! and says what to fix.
//!
//! Each credential only says how to get one fresh token ([`Acquire`]); wrapping it in
//! [`Cached`] makes it a [`TokenSource`].

use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};

use super::kind::CredentialKind;
use super::{AccessToken, TokenSource, renewal_margin};
use crate::clock::SharedClock;
use crate::error::GraphError;

/// How a credential gets one fresh token.
pub(crate) trait Acquire: Send + Sync {
    /// A new token, straight from the source (no cache); `clock` dates it.
    fn acquire<'a>(
        &'a self,
        clock: &'a SharedClock,
    ) -> BoxFuture<'a, Result<AccessToken, GraphError>>;
    /// Which kind this is.
    fn kind(&self) -> CredentialKind;
    /// The credential as an operator knows it, e.g. `client secret (AZURE_CLIENT_SECRET)`.
    /// Never a secret.
    fn describe(&self) -> String;
    /// The least time before expiry at which a token is asked for again, whatever its
    /// lifetime: a source that must never hand out a token in its last moments says so
    /// here, and the cache keeps to it.
    fn min_renewal_margin(&self) -> SignedDuration {
        SignedDuration::ZERO
    }
}

/// A credential with its token cache: the [`TokenSource`] the client uses.
pub struct Cached<A> {
    source: A,
    clock: SharedClock,
    cache: Mutex<Option<Entry>>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Entry {
    token: AccessToken,
    renew_at: Timestamp,
}

impl<A: Acquire> Cached<A> {
    pub(crate) fn new(source: A, clock: SharedClock) -> Self {
        Cached {
            source,
            clock,
            cache: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn source(&self) -> &A {
        &self.source
    }

    pub(crate) fn source_mut(&mut self) -> &mut A {
        &mut self.source
    }

    pub(crate) fn set_clock(&mut self, clock: SharedClock) {
        self.clock = clock;
    }

    fn cached(&self) -> Option<AccessToken> {
        let now = self.clock.now();
        let guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|entry| now < entry.renew_at)
            .map(|entry| entry.token.clone())
    }

    /// [`Acquire::acquire`] with a short retry on transient failures: a token refresh
    /// happens mid-run, and a blip of the token service should not fail a row. Safe to
    /// repeat: asking for a token changes nothing.
    async fn fetch(&self) -> Result<AccessToken, GraphError> {
        const ATTEMPTS: u32 = 3;
        let mut attempt = 1;
        loop {
            let asked_at = self.clock.now();
            match self.source.acquire(&self.clock).await {
                Ok(token) => return self.keep(token, asked_at),
                Err(e) if attempt < ATTEMPTS && is_transient(&e) => {
                    let delay = Duration::from_secs(u64::from(attempt));
                    tracing::info!(
                        credential = %self.source.kind(),
                        attempt,
                        error = %e,
                        delay_ms = delay.as_millis() as u64,
                        "token request failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.sign_in_error(e)),
            }
        }
    }

    /// Caches a fresh token until its renewal time; refuses one that is already spent.
    fn keep(&self, token: AccessToken, asked_at: Timestamp) -> Result<AccessToken, GraphError> {
        let now = self.clock.now();
        if token.expires_at <= now {
            return Err(sign_in(
                &self.source,
                format!("the token it gave expired at {}", token.expires_at),
            ));
        }
        let lifetime =
            Duration::try_from(token.expires_at.duration_since(asked_at)).unwrap_or(Duration::ZERO);
        let margin = SignedDuration::try_from(renewal_margin(lifetime))
            .unwrap_or_default()
            .max(self.source.min_renewal_margin());
        let renew_at = token.expires_at.checked_sub(margin).unwrap_or(now);
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Some(Entry {
            token: token.clone(),
            renew_at,
        });
        tracing::debug!(credential = %self.source.kind(), expires_at = %token.expires_at, %renew_at, "token acquired");
        Ok(token)
    }

    /// One sentence naming the credential and the fix, from whatever refused it.
    /// Transport failures stay as they are: the network, not the credential, is at fault.
    fn sign_in_error(&self, error: GraphError) -> GraphError {
        match error {
            GraphError::Auth {
                error,
                description,
                error_codes,
                trace_id,
                correlation_id,
                ..
            } => {
                // Entra appends "\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …";
                // the ids are kept apart, so the first line says it all.
                let first = description.lines().next().unwrap_or_default().trim();
                let reason = if first.is_empty() {
                    error
                } else {
                    first.to_owned()
                };
                GraphError::SignIn {
                    credential: self.source.describe(),
                    reason,
                    fix: self.source.kind().fix(&error_codes),
                    error_codes,
                    trace_id,
                    correlation_id,
                }
            }
            GraphError::Decode { message, .. } => sign_in(&self.source, message),
            other => other,
        }
    }
}

/// A [`GraphError::SignIn`] for a refusal found on this side (a missing file, a key that
/// does not parse), with the kind's general fix.
pub(crate) fn sign_in(source: &dyn Acquire, reason: impl Into<String>) -> GraphError {
    GraphError::sign_in(source.describe(), reason, source.kind().fix(&[]))
}

/// Transport failures, throttling and server errors from a token service.
fn is_transient(e: &GraphError) -> bool {
    match e {
        GraphError::Transport { .. } => true,
        GraphError::Auth { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

impl<A: Acquire> TokenSource for Cached<A> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>> {
        Box::pin(async move {
            if let Some(t) = self.cached() {
                return Ok(t);
            }
            // Single flight: one caller refreshes, the others wait here and then find
            // the fresh token in the cache.
            let _guard = self.refresh.lock().await;
            if let Some(t) = self.cached() {
                return Ok(t);
            }
            self.fetch().await
        })
    }

    fn invalidate(&self) {
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        *guard = None;
    }

    fn kind(&self) -> Option<CredentialKind> {
        Some(self.source.kind())
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

/// Implements [`TokenSource`] for a public credential type that wraps a [`Cached`] in a
/// field named `inner`.
macro_rules! delegate_token_source {
    ($ty:ty) => {
        impl $crate::auth::TokenSource for $ty {
            fn token(
                &self,
            ) -> futures::future::BoxFuture<'_, Result<$crate::auth::AccessToken, $crate::GraphError>>
            {
                self.inner.token()
            }
            fn invalidate(&self) {
                self.inner.invalidate()
            }
            fn kind(&self) -> Option<$crate::auth::CredentialKind> {
                self.inner.kind()
            }
            fn describe(&self) -> String {
                self.inner.describe()
            }
        }
    };
}
pub(crate) use delegate_token_source;
