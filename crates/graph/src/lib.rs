//! A small, typed Microsoft Graph v1.0 client for the endpoints b2b-convert
//! uses: users, groups, org contacts, domains, directory roles, invitations
//! and JSON batching, and the pre-flight's policy and role reads ([`preflight`]).
//!
//! Design (see `rust-stack.md`): one generic request pipeline in [`GraphClient`]
//! (auth, `client-request-id`, throttle gates, invitation pacing, retries,
//! OData error mapping, `@odata.nextLink` paging) and one file per resource.
//!
//! * **Retries** — 429, 500, 502, 503, 504 and transport errors for idempotent calls;
//!   `POST /invitations` only on 429 or when the connection was never made.
//!   `Retry-After` is honoured (fractional seconds, integers, HTTP dates) and
//!   blocks every caller of the same throttle scope; otherwise exponential
//!   backoff with full jitter from a seedable RNG ([`RetryPolicy::delay`]).
//! * **Pacing** — invitations go through a tenant-wide sliding-window log so
//!   that no window of [`ClientOptions::invitation_window`] holds more than
//!   [`ClientOptions::invitations_per_window`] requests.
//! * **Secrets** — tokens and client secrets are [`secrecy::SecretString`]s and
//!   never appear in `Debug` output or `tracing` events.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use b2b_graph::{
//!     ClientOptions, ClientSecretCredential, Cloud, Endpoints, GraphClient, ListQuery,
//!     USER_FACTS_SELECT, odata_string,
//! };
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), b2b_graph::GraphError> {
//! let endpoints = Endpoints::for_cloud(Cloud::Global);
//! let credential = ClientSecretCredential::new(
//!     &endpoints,
//!     "contoso.onmicrosoft.com",
//!     "00000000-0000-0000-0000-000000000001",
//!     SecretString::from("client secret from a vault"),
//! );
//! let graph = GraphClient::new(endpoints, Arc::new(credential), ClientOptions::default())?;
//!
//! let user = graph.get_user("ann@contoso.com", USER_FACTS_SELECT).await?;
//! let namesakes = graph
//!     .list_users(&ListQuery::new().filter(format!("mail eq {}", odata_string("o'brien@partner.example"))))
//!     .await?;
//! println!("{:?} / {} namesakes", user.map(|u| u.id), namesakes.len());
//! # Ok(())
//! # }
//! ```

// `GraphError::Api` is ~200 bytes because it carries everything a support
// ticket needs (code, message, both request ids, method, path). It is built at
// most once per HTTP call, so boxing it would buy nothing measurable and
// would make the agreed flat shape awkward to match on.
#![allow(clippy::result_large_err)]

mod auth;
mod batch;
mod client;
pub mod clock;
mod cloud;
mod conversion;
mod directory;
mod error;
mod invitations;
pub mod model;
mod odata;
mod pacing;
pub mod preflight;
mod retry;
mod throttle;
mod users;

pub use crate::auth::{
    AccessToken, AccessTokenFileCredential, AssertionAlgorithm, AzureCliCredential,
    CertificateCredential, ClientCertificate, ClientSecretCredential, CredentialKind, IMDS_HOST,
    ManagedIdentityCredential, ManagedIdentityEndpoint, SecretValue, SignInSettings, TokenClaims,
    TokenSource, WorkloadIdentityCredential, renewal_margin,
};
pub use crate::batch::MAX_BATCH;
pub use crate::client::{ClientOptions, ClientStats, GraphClient, ThrottleWait};
pub use crate::clock::{Clock, FixedClock, SharedClock, SystemClock};
pub use crate::cloud::{Cloud, Endpoints};
pub use crate::conversion::{ConversionUserDetails, ConvertToInternalRequest};
pub use crate::error::GraphError;
pub use crate::model::USER_FACTS_SELECT;
pub use crate::odata::{ListQuery, odata_string};
pub use crate::retry::{RetryPolicy, jitter_seed, parse_retry_after};
