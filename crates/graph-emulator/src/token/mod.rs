//! The emulator's Entra ID token endpoint (OAuth 2.0 client credentials), the other ways a
//! caller gets a Graph token (federated tokens, delegated user tokens, managed identities),
//! and the check of the access tokens it issues.
//!
//! Served (graph-facts.md §7):
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration`: the discovery document MSAL
//!   reads first; every endpoint in it points back at the emulator.
//! - `GET /{tenant}/discovery/v2.0/keys`: the JWKS with the emulator's signing key.
//! - `GET /common/discovery/instance`: MSAL's instance discovery (clients can also skip it
//!   with `disable_instance_discovery=True`).
//! - `POST /{tenant}/oauth2/v2.0/token`: `grant_type=client_credentials` with a client
//!   secret (form field or HTTP Basic), a certificate-signed client assertion, or a
//!   federated token as the client assertion (workload identity federation; how the two
//!   kinds of assertion are told apart: `request.rs`; the federated checks and the sources
//!   of their AADSTS codes: `federation.rs`).
//! - `GET /_federation/.well-known/openid-configuration`, `GET /_federation/keys`: the
//!   emulator's own external OIDC issuer (`{root}_federation`), the only issuer federated
//!   credentials can trust offline. Its tokens are minted with
//!   `POST /_emulator/tokens/federated`, and credentials naming it can be added while
//!   running ([`crate::routes::federated_credentials`]), since its URL has the port in it.
//! - Delegated tokens (`idtyp` "user", `scp`, the user's `oid`/`upn`, `appidacr` "0"):
//!   minted with `POST /_emulator/tokens/delegated` ([`crate::routes::emulator_tokens`]);
//!   there is no interactive sign-in.
//! - Managed identity tokens (app-only, `appidacr` "2", 24 h): the App Service
//!   (`/msi/token`, 2019-08-01) and IMDS (`/metadata/identity/oauth2/token`, 2018-02-01)
//!   protocols on the second listener ([`crate::routes::managed_identity`]).
//!
//! `{tenant}` is the tenant id or one of its verified domains. Errors use Entra's body:
//! `{error, error_description:"AADSTSnnn: …\r\nTrace ID…", error_codes:[n], timestamp,
//! trace_id, correlation_id, error_uri}`; `invalid_client` answers 401, the rest 400.
//!
//! AADSTS codes. Confirmed in Microsoft's code table (entra-docs
//! `docs/identity-platform/reference-error-codes.md`): 7000215 (invalid secret), 7000218
//! (no credential), 700016 (unknown client), 700027 (assertion signature), 70003 (grant
//! type), 70011 (invalid scope), 500011 (unknown resource), 900144 (missing parameter),
//! 90002 (unknown tenant), 9001023 (`/common` with this grant), 90014 (missing field in
//! the credential), 50027 (malformed JWT), 50048 (`sub` ≠ `iss`), 900561 (wrong method),
//! 90100 (invalid parameter), 9002313 (malformed request). Seen only in real responses
//! quoted in public issues: 700024 (assertion time range; MSAL issue #4951), 1002012
//! (scope without `/.default`; several issues), 50012 (assertion audience "does not match
//! Realm issuer"; ADAL-Python issue #79, 2017: the current code for a wrong `aud` is not
//! documented), 700211/700212/700213 (federated token issuer/audience/subject matches no
//! credential; sources in `federation.rs`). From memory, not confirmed: 700021 (assertion `iss` ≠ `client_id`),
//! 9000411 (duplicated parameter).
//!
//! Stricter choices where the behaviour is not documented:
//! - a parameter sent twice is refused (9000411);
//! - `scope` must be exactly one value `<resource>/.default` for Graph or the emulator;
//! - a client secret and a client assertion together are refused;
//! - RS256 assertions must name their key with `x5t` (SHA-1), PS256 ones with `x5t#S256`;
//!   other algorithms are refused;
//! - `exp`, `nbf` and `jti` are required; the allowed clock skew is 60 s;
//! - an expired or not-yet-valid registered certificate is refused;
//! - the assertion `aud` must be this emulator's token endpoint for the tenant (by id, or
//!   by the domain the request used);
//! - the `claims` parameter (sent by Microsoft's SDKs) is ignored but must be JSON.
//!
//! Not enforced: `jti` replay (Microsoft documents none and some SDKs may cache an
//! assertion), the assertion's maximum lifetime (documented as not enforced).
//!
//! Access tokens are RS256 JWTs signed with a key generated per [`TokenService`], so a
//! token from another emulator run (or anywhere else) is refused. The bearer check accepts
//! app-only tokens of a registered application or managed identity and delegated tokens;
//! what a delegated caller may do is the intersection of `scp` and the signed-in user's
//! directory roles ([`crate::principal`]). Graph accepts v1.0
//! tokens, so they carry v1 claims (`iss` `https://sts.windows.net/{tid}/`, `appid`,
//! `appidacr`) and their v2 twins (`azp`, `azpacr`). The service principal's `oid` is
//! derived from the client id, so it is stable across runs. Nothing here logs a secret,
//! an assertion or a token.
//!
//! The HTTP handlers for these endpoints live in [`crate::routes::token`].

mod assertion;
mod bearer;
mod delegated;
mod error;
mod federation;
#[cfg(test)]
mod fixture;
mod keys;
mod managed_identity;
mod request;
mod service;

pub use assertion::ASSERTION_SKEW_SECONDS;
pub use delegated::{AZURE_CLI_CLIENT_ID, DelegatedGrant};
pub use error::TokenError;
pub(crate) use error::no_store;
pub use federation::{FEDERATION_AUDIENCE, FEDERATION_ISSUER};
pub use managed_identity::MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS;
pub(crate) use managed_identity::{DefaultIdentity, IdentitySelector, ManagedIdentityToken};
pub use service::{GRAPH_RESOURCE, TOKEN_LIFETIME_SECONDS, TokenService};
