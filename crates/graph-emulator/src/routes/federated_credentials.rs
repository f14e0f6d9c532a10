//! `POST /_emulator/applications/{clientId}/federatedIdentityCredentials`: registers a
//! federated identity credential while the emulator runs, as an admin would with Graph's
//! `POST /applications/{id}/federatedIdentityCredentials` (which the emulator's `/v1.0` does
//! not serve). It exists because the emulator's federation issuer URL,
//! `{root}_federation`, contains the port, which a tenant file written before start can't
//! know (a tenant file can instead name it by the placeholder
//! [`crate::token::FEDERATION_ISSUER`], which is accepted here too). Unauthenticated like
//! the other `/_emulator/...` routes.
//!
//! Body: Graph's credential `{"name", "issuer", "subject", "audiences"}` (no other fields);
//! 201 with the credential as stored. An unknown client id is 404; a bad body or a
//! credential the tenant file would refuse (duplicate name or issuer + subject, empty
//! field, more than 20) is 400, with Graph's error body. `POST /_emulator/reset` forgets
//! what was added.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, json};
use crate::application::FederatedIdentityCredential;
use crate::error::{GraphError, RequestIds};

/// `POST /_emulator/applications/{clientId}/federatedIdentityCredentials`.
pub async fn add(
    State(app): State<AppState>,
    ids: Option<Extension<RequestIds>>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let credential: FederatedIdentityCredential = serde_json::from_slice(&body)
            .map_err(|e| GraphError::bad_request(format!("Invalid request body: {e}.")))?;
        if !app
            .tenant
            .applications()
            .iter()
            .any(|a| a.client_id.eq_ignore_ascii_case(&client_id))
        {
            return Err(GraphError::not_found(&client_id));
        }
        let stored = serde_json::to_value(&credential).unwrap_or_default();
        app.tokens
            .add_federated_identity_credential(&client_id, credential)
            .map_err(GraphError::bad_request)?;
        Ok(json(StatusCode::CREATED, stored))
    })();
    result.unwrap_or_else(|e| {
        let ids = ids.map_or_else(
            || RequestIds::from_headers(&Default::default()),
            |Extension(ids)| ids,
        );
        e.into_response_with(&ids)
    })
}
