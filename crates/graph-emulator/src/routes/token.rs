//! The Entra ID token endpoints over HTTP: thin axum handlers that hand each request to the
//! [`TokenService`] and render its answer or its AADSTS error (see [`crate::token`] for the
//! endpoints and the rules).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::error::RequestIds;
use crate::token::{TokenError, TokenService, no_store};

impl TokenService {
    /// The token service's routes (see the [`crate::token`] docs).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                "/{tenant}/oauth2/v2.0/token",
                get(token_wrong_method).post(token_endpoint),
            )
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery_endpoint),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(jwks_endpoint))
            .route("/common/discovery/instance", get(instance_discovery))
            .route(
                "/_federation/.well-known/openid-configuration",
                get(federation_discovery),
            )
            .route("/_federation/keys", get(federation_keys))
            .with_state(self)
    }
}

async fn token_endpoint(
    State(service): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match service.issue(&tenant, &headers, &body) {
        Ok(value) => {
            let mut response = (StatusCode::OK, Json(value)).into_response();
            no_store(response.headers_mut());
            RequestIds::from_headers(&headers).stamp(response.headers_mut());
            response
        }
        Err(error) => error.into_response_with(service.base(), &headers),
    }
}

async fn token_wrong_method(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
) -> Response {
    TokenError::new(
        "invalid_request",
        900561,
        "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
    )
    .into_response_with(service.base(), &headers)
}

async fn discovery_endpoint(
    State(service): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    tenant_document(&service, &tenant, &headers, TenantDocument::Discovery)
}

async fn jwks_endpoint(
    State(service): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    tenant_document(&service, &tenant, &headers, TenantDocument::Jwks)
}

/// The per-tenant JSON documents served by GET.
#[derive(Clone, Copy)]
enum TenantDocument {
    /// The OpenID configuration.
    Discovery,
    /// The signing keys.
    Jwks,
}

/// Serves `document` for `tenant`, or AADSTS90002 when the tenant is not this one. Entra
/// words that error differently per endpoint: the discovery document adds a hint about the
/// tenant id and cloud, the keys endpoint does not.
fn tenant_document(
    service: &TokenService,
    tenant: &str,
    headers: &HeaderMap,
    document: TenantDocument,
) -> Response {
    if !service.is_this_tenant(tenant) {
        let message = match document {
            TenantDocument::Discovery => format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
            TenantDocument::Jwks => format!("Tenant '{tenant}' not found."),
        };
        return TokenError::new("invalid_tenant", 90002, message)
            .into_response_with(service.base(), headers);
    }
    match document {
        TenantDocument::Discovery => Json(service.discovery(tenant)).into_response(),
        TenantDocument::Jwks => Json(service.jwks()).into_response(),
    }
}

/// The federation issuer's OpenID configuration (see [`crate::token`]).
async fn federation_discovery(State(service): State<Arc<TokenService>>) -> Response {
    Json(service.federation_discovery()).into_response()
}

/// The federation issuer's signing keys.
async fn federation_keys(State(service): State<Arc<TokenService>>) -> Response {
    match service.federation_jwks() {
        Ok(jwks) => Json(jwks).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn instance_discovery(State(service): State<Arc<TokenService>>) -> Response {
    let host = match (service.base().host_str(), service.base().port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "127.0.0.1".to_owned(),
    };
    Json(json!({
        "tenant_discovery_endpoint": format!("{}{}/v2.0/.well-known/openid-configuration", service.base(), service.tenant_id()),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
    .into_response()
}
