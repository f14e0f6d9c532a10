//! The gate in front of every Graph route: access token check (401), throttling (429) and
//! the throttling headers on what gets through.
//!
//! Order, as Graph does it: the token is checked first (an unauthenticated request is not
//! charged to any app), then the request is classified ([`crate::throttle::classify`]) and
//! admitted, then the [`Principal`] is put into the request's extensions for the route.
//! Permission checks (403) are the routes' business (`Principal::require_any`). For a
//! delegated token the gate also looks up the signed-in user's directory roles in the live
//! directory, since Graph authorizes a delegated call by the user's rights too.
//!
//! With the simulation's `retryAfterS` (long Retry-After mode), every 429 carries
//! `Retry-After: N` instead of the throttle's computed wait: the throttle itself is
//! unchanged, only what the client is told to wait.
//!
//! Inner requests of `$batch` are dispatched in-process with a `Principal` already in
//! their extensions: the gate then skips the token check (an outside caller can't put
//! anything into extensions) but still classifies and throttles each one, as Graph counts
//! each inner request separately.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::RwLock;

use crate::directory::Directory;
use crate::error::{GraphError, RequestIds};
use crate::principal::Principal;
use crate::throttle::{Throttle, Throttled, classify};
use crate::token::TokenService;

/// What the gate needs: the token service and the throttle.
#[derive(Clone)]
pub struct Gate {
    /// Verifies bearer tokens.
    pub tokens: Arc<TokenService>,
    /// Graph's throttling state.
    pub throttle: Arc<Throttle>,
    /// `retryAfterS`: the `Retry-After` every 429 carries, in whole seconds.
    pub retry_after_s: Option<u64>,
    /// The live directory, for the directory roles of a delegated token's user.
    pub dir: Arc<RwLock<Directory>>,
}

/// The 429 response: Graph's error body with `innerError.code` "429" (as in
/// throttling.md's sample) and the throttling headers.
pub fn throttled_response(throttled: &Throttled, ids: &RequestIds) -> Response {
    let error = throttled.to_error();
    let mut body = error.body(ids);
    if let Some(inner) = body
        .get_mut("error")
        .and_then(|e| e.get_mut("innerError"))
        .and_then(|i| i.as_object_mut())
    {
        inner.insert("code".into(), "429".into());
        inner.insert("status".into(), "429".into());
        inner.insert("message".into(), "Please retry after".into());
    }
    let mut response = (error.status, axum::Json(body)).into_response();
    response.headers_mut().extend(error.headers);
    ids.stamp(response.headers_mut());
    response
}

fn error_response(error: GraphError, ids: &RequestIds) -> Response {
    error.into_response_with(ids)
}

/// Middleware for the Graph routes (see the module docs).
pub async fn gate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let ids = request
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_else(|| RequestIds::from_headers(request.headers()));

    let principal = match request.extensions().get::<Principal>() {
        Some(principal) => principal.clone(),
        None => match gate.tokens.verify_bearer(request.headers()) {
            Ok(principal) if principal.delegated.is_some() => {
                principal.with_user_roles(&gate.dir.read())
            }
            Ok(principal) => principal,
            Err(error) => return error_response(error, &ids),
        },
    };

    let workload = classify(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    let admission = gate
        .throttle
        .admit(&principal.app_id, &principal.tenant_id, &workload);
    let mut response = match &admission.throttled {
        Some(throttled) => {
            let mut response = throttled_response(throttled, &ids);
            if let Some(seconds) = gate.retry_after_s {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        None => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
    };
    for (name, value) in admission.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}
