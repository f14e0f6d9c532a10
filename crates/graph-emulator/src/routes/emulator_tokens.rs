//! Test-only token minting, outside `/v1.0` and without authentication like the other
//! `/_emulator/...` admin routes: tokens the emulator's sign-in flows can't produce offline.
//!
//! - `POST /_emulator/tokens/federated` `{"subject", "audience"?, "lifetimeSeconds"?}` →
//!   `{"token", "issuer"}`: a token from the emulator's federation issuer (an external IdP
//!   such as GitHub Actions or Kubernetes would issue it), to present as a `client_assertion`
//!   for an application with a matching federated identity credential. `audience` defaults
//!   to `api://AzureADTokenExchange`, `lifetimeSeconds` to 3600 (negative: already expired).
//! - `POST /_emulator/tokens/delegated` `{"user", "clientId"?, "scopes", "lifetimeSeconds"?}`
//!   → `{"accessToken", "expiresOn"}`: a Graph token for a signed-in tenant user (object id
//!   or userPrincipalName), as the Azure CLI (`clientId` default
//!   `04b07795-8ddb-461a-bbee-02f9e1bf7b46`) holds after `az login`; `scopes` are its `scp`;
//!   `lifetimeSeconds` defaults to 3599 (negative: already expired).
//!
//! Bodies are JSON with no unknown fields; a bad body, an unknown user, no scopes, a scope
//! with spaces or a client id that isn't a GUID is 400 with Graph's error body.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{AppState, json};
use crate::directory::text;
use crate::error::{GraphError, RequestIds};
use crate::token::{AZURE_CLI_CLIENT_ID, DelegatedGrant, FEDERATION_AUDIENCE};

/// Default lifetime of a minted federated token, in seconds.
const FEDERATED_LIFETIME_SECONDS: i64 = 3600;
/// Default lifetime of a minted delegated token, in seconds (as Entra's access tokens).
const DELEGATED_LIFETIME_SECONDS: i64 = 3599;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FederatedRequest {
    subject: String,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    lifetime_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DelegatedRequest {
    user: String,
    #[serde(default)]
    client_id: Option<String>,
    scopes: Vec<String>,
    #[serde(default)]
    lifetime_seconds: Option<i64>,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, GraphError> {
    serde_json::from_slice(body)
        .map_err(|e| GraphError::bad_request(format!("Invalid request body: {e}.")))
}

fn finish(ids: Option<Extension<RequestIds>>, result: Result<Response, GraphError>) -> Response {
    result.unwrap_or_else(|e| {
        let ids = ids.map_or_else(
            || RequestIds::from_headers(&Default::default()),
            |Extension(ids)| ids,
        );
        e.into_response_with(&ids)
    })
}

/// `POST /_emulator/tokens/federated`.
pub async fn federated(
    State(app): State<AppState>,
    ids: Option<Extension<RequestIds>>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let request: FederatedRequest = parse(&body)?;
        if request.subject.is_empty() {
            return Err(GraphError::bad_request("'subject' must not be empty."));
        }
        let audience = request.audience.as_deref().unwrap_or(FEDERATION_AUDIENCE);
        let token = app
            .tokens
            .mint_federated(
                &request.subject,
                audience,
                request
                    .lifetime_seconds
                    .unwrap_or(FEDERATED_LIFETIME_SECONDS),
            )
            .map_err(|e| {
                GraphError::new(StatusCode::INTERNAL_SERVER_ERROR, "generalException", e)
            })?;
        Ok(json(
            StatusCode::OK,
            json!({"token": token, "issuer": app.tokens.federation_issuer()}),
        ))
    })();
    finish(ids, result)
}

/// `POST /_emulator/tokens/delegated`.
pub async fn delegated(
    State(app): State<AppState>,
    ids: Option<Extension<RequestIds>>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let request: DelegatedRequest = parse(&body)?;
        let client_id = request.client_id.as_deref().unwrap_or(AZURE_CLI_CLIENT_ID);
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(GraphError::bad_request(format!(
                "'clientId' must be a GUID, not '{client_id}'."
            )));
        }
        if request.scopes.is_empty()
            || request
                .scopes
                .iter()
                .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(GraphError::bad_request(
                "'scopes' must be a non-empty array of permission names without spaces.",
            ));
        }
        let (user_id, upn) = {
            let dir = app.dir.read();
            let index = dir.find_user(&request.user).ok_or_else(|| {
                GraphError::bad_request(format!(
                    "No user '{}' in the tenant (give an object id or userPrincipalName).",
                    request.user
                ))
            })?;
            let user = &dir.users[index];
            (
                text(user, "id").unwrap_or_default().to_owned(),
                text(user, "userPrincipalName")
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        let grant = DelegatedGrant {
            user_id: &user_id,
            user_principal_name: &upn,
            client_id,
            scopes: &request.scopes,
        };
        let (token, expires_on) = app
            .tokens
            .mint_delegated(
                &grant,
                request
                    .lifetime_seconds
                    .unwrap_or(DELEGATED_LIFETIME_SECONDS),
            )
            .map_err(|e| {
                GraphError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "generalException",
                    e.description,
                )
            })?;
        Ok(json(
            StatusCode::OK,
            json!({"accessToken": token, "expiresOn": expires_on}),
        ))
    })();
    finish(ids, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_refuse_unknown_fields_and_missing_ones() {
        assert!(parse::<FederatedRequest>(br#"{"subject":"s"}"#).is_ok());
        assert!(parse::<FederatedRequest>(br#"{"subject":"s","aud":"x"}"#).is_err());
        assert!(parse::<DelegatedRequest>(br#"{"user":"u"}"#).is_err());
        let ok: DelegatedRequest =
            parse(br#"{"user":"u","scopes":["User.Read.All"],"lifetimeSeconds":-5}"#).unwrap();
        assert_eq!(ok.lifetime_seconds, Some(-5));
    }
}
