//! The HTTP surface: shared handler state, the per-request context handlers use, the
//! request-id and request-log middlewares, and the router that ties them to the gate
//! helper's token, gate and simulation layers.
//!
//! Layer order (outermost first): request ids → Graph-shaped refusals → size limits
//! ([`crate::limits`]) → request log (only `/v1.0` and `/beta`) → simulation → gate (only
//! `/v1.0` and `/beta`) →
//! route template noted for the log's counters → handlers. `$batch` items run through a second copy of the `/v1.0`
//! routes wrapped in gate and log, so every item is authenticated, throttled and logged on
//! its own.
//!
//! Shared rules (stricter where Graph's behaviour is undocumented): a write request with a body
//! needs `Content-Type` (400 `BadRequest` "Write requests (excluding DELETE) must contain the
//! Content-Type header declaration.") and it must be JSON (else 415); an unknown `/v1.0`
//! segment is 400 `BadRequest` "Resource not found for the segment '…'."; a known route with
//! the wrong method is 405; a path outside `/v1.0` is 400 "Invalid version: …". The beta
//! routes the emulator serves (`GET /beta/policies/b2bManagementPolicies`, `POST
//! /beta/users/{id}/convertExternalToInternalMemberUser`) sit behind the same gate and log;
//! every other `/beta` path is the unknown-segment 400.

pub mod admin;
pub mod batch;
pub mod conversion;
pub mod emulator_policies;
pub mod emulator_tokens;
pub mod federated_credentials;
pub mod invitations;
pub mod managed_identity;
pub mod policies;
pub mod redeem;
pub mod relationships;
pub mod role_management;
pub mod roles;
pub mod tenant_relationships;
pub mod token;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use crate::directory::{Directory, text};
use crate::error::{GraphError, RequestIds};
use crate::gate::{Gate, gate};
use crate::limits;
use crate::principal::Principal;
pub use crate::request_log::LogEntry;
use crate::request_log::RequestLog;
use crate::simulation::{SimulationState, simulate};
use crate::tenant::Tenant;
use crate::throttle::Throttle;
use crate::token::TokenService;

/// Everything handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The live tenant.
    pub dir: Arc<RwLock<Directory>>,
    /// The request log (a bounded ring plus counters).
    pub log: Arc<Mutex<RequestLog>>,
    /// The tenant file, for `POST /_emulator/reset`.
    pub tenant: Arc<Tenant>,
    /// The emulator's root URL with a trailing slash.
    pub root: String,
    /// Token verification (also used to name the app of requests the gate refused).
    pub tokens: Arc<TokenService>,
    /// The simulation's `blockInvitesAfter`.
    pub block_invites_after: Option<u64>,
    /// The throttle, for its totals in the state document (the gate holds it too).
    pub throttle: Arc<Throttle>,
}

impl AppState {
    /// The whole admin document of `GET /_emulator/state`, as a JSON value.
    pub fn state_document(&self) -> Value {
        admin::state_value(self, &admin::StateQuery::default())
    }
}

#[derive(Debug, Default)]
struct LogInfo {
    app_id: Option<String>,
    permission: Option<String>,
    user_id: Option<String>,
    /// The matched route template (`/v1.0/users/{id}`), for the log's counters.
    route: Option<String>,
}

/// Where a handler notes, for the request log, who called, with which permission, about
/// which user.
#[derive(Debug, Clone, Default)]
pub struct LogSlot(Arc<Mutex<LogInfo>>);

/// Marks a request as a `$batch` item (request extension).
#[derive(Debug, Clone, Copy)]
pub struct BatchItem;

/// What a `/v1.0` handler needs about its request.
pub struct Ctx {
    /// The verified caller.
    pub principal: Principal,
    /// Request ids for error bodies and headers.
    pub ids: RequestIds,
    /// Request headers.
    pub headers: HeaderMap,
    slot: LogSlot,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ids = parts
            .extensions
            .get::<RequestIds>()
            .cloned()
            .unwrap_or_else(|| RequestIds::from_headers(&parts.headers));
        let slot = parts
            .extensions
            .get::<LogSlot>()
            .cloned()
            .unwrap_or_default();
        let Some(principal) = parts.extensions.get::<Principal>().cloned() else {
            return Err(GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty.",
            )
            .into_response_with(&ids));
        };
        slot.0.lock().app_id = Some(principal.app_id.clone());
        Ok(Ctx {
            principal,
            ids,
            headers: parts.headers.clone(),
            slot,
        })
    }
}

impl Ctx {
    /// The first of `permissions` the app holds (noted in the log), else 403.
    pub fn require(&self, permissions: &[&'static str]) -> Result<&'static str, GraphError> {
        let p = self.principal.require_any(permissions)?;
        self.permission(p);
        Ok(p)
    }

    /// Notes the permission used.
    pub fn permission(&self, permission: &str) {
        self.slot.0.lock().permission = Some(permission.to_owned());
    }

    /// Notes the target user.
    pub fn target(&self, user_id: &str) {
        self.slot.0.lock().user_id = Some(user_id.to_owned());
    }

    /// The index of the user a `/users/{key}` path addresses (object id or
    /// userPrincipalName), noted as the request's target for the log; 404
    /// `Request_ResourceNotFound` when there is none. One place, so every handler that
    /// addresses a user answers a miss and logs a hit the same way.
    pub fn target_user(&self, dir: &Directory, key: &str) -> Result<usize, GraphError> {
        let index = dir
            .find_user(key)
            .ok_or_else(|| GraphError::not_found(key))?;
        self.target(text(&dir.users[index], "id").unwrap_or_default());
        Ok(index)
    }

    /// Turns a handler result into the response, with request-id headers.
    pub fn finish(&self, result: Result<Response, GraphError>) -> Response {
        let mut response = match result {
            Ok(r) => r,
            Err(e) => e.into_response_with(&self.ids),
        };
        self.ids.stamp(response.headers_mut());
        response
    }
}

/// Graph's rule for write requests with a body: a `Content-Type` header is required
/// (400 `BadRequest`), and it must be JSON (415, stricter: Graph's answer for other types is
/// undocumented).
pub fn require_json_body(headers: &HeaderMap, body: &[u8]) -> Result<(), GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Write requests (excluding DELETE) must contain the Content-Type header declaration.",
        )),
        Some(t) if t.to_ascii_lowercase().starts_with("application/json") => Ok(()),
        Some(t) => Err(GraphError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("Content type '{t}' is not supported; send application/json."),
        )),
    }
}

/// A JSON response.
pub fn json(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

async fn request_ids(mut request: Request, next: Next) -> Response {
    let ids = RequestIds::from_headers(request.headers());
    request.extensions_mut().insert(ids.clone());
    // Graph finishes a request whose client went away (a killed process, a dropped
    // connection). hyper drops the service future when the connection closes, so the
    // request runs on its own task: its change and its request-log entry land either way,
    // which is what a crash-recovery test must see.
    let mut response = match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(_) => GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "The emulator failed while handling the request.",
        )
        .into_response_with(&ids),
    };
    ids.stamp(response.headers_mut());
    response
}

async fn request_log(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let batch = request.extensions().get::<BatchItem>().is_some();
    let versioned = ["/v1.0", "/beta"]
        .iter()
        .any(|v| path == *v || path.starts_with(&format!("{v}/")));
    if !(batch || versioned) {
        return next.run(request).await;
    }
    let slot = LogSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().to_string();
    let query = request.uri().query().map(str::to_owned);
    let headers = request.headers().clone();
    let request_id = request
        .extensions()
        .get::<RequestIds>()
        .map(|i| i.request_id.clone());
    let time = crate::directory::now();
    let response = next.run(request).await;
    let info = std::mem::take(&mut *slot.0.lock());
    // Requests the gate refused (throttled) never reached a handler: name the app anyway.
    let app_id = info
        .app_id
        .or_else(|| app.tokens.verify_bearer(&headers).ok().map(|p| p.app_id));
    let path = if batch { format!("/v1.0{path}") } else { path };
    let entry = LogEntry {
        seq: 0,
        method,
        path,
        query,
        status: response.status().as_u16(),
        app_id,
        permission: info.permission,
        user_id: info.user_id,
        request_id,
        batch,
        time,
    };
    app.log.lock().push(entry, info.route.as_deref());
    response
}

/// Notes the matched route template in the request's [`LogSlot`], for the log's
/// per-route counters. Added with `Router::layer`, which runs after routing, so
/// `MatchedPath` is known; `$batch` items match the un-nested routes, hence the prefix.
async fn note_route(request: Request, next: Next) -> Response {
    if let (Some(slot), Some(matched)) = (
        request.extensions().get::<LogSlot>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        let route = matched.as_str();
        slot.0.lock().route = Some(
            if route.starts_with("/v1.0") || route.starts_with("/beta") {
                route.to_owned()
            } else {
                format!("/v1.0{route}")
            },
        );
    }
    next.run(request).await
}

/// Graph names the first segment it can't resolve: an unknown entity set, or the unknown
/// part below a known one.
async fn unknown_segment(ctx: Ctx, request: Request) -> Response {
    const SETS: &[&str] = &[
        "users",
        "groups",
        "contacts",
        "directoryRoles",
        "domains",
        "invitations",
        "tenantRelationships",
        "policies",
        "roleManagement",
        "$batch",
    ];
    let segments: Vec<&str> = request
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let segment = match segments.as_slice() {
        [first, .., last] if SETS.iter().any(|s| s.eq_ignore_ascii_case(first)) => last,
        [first, ..] => first,
        [] => "",
    }
    .to_owned();
    ctx.finish(Err(GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{segment}'."),
    )))
}

/// Anything outside the served routes: Graph answers an unknown version segment with 400.
async fn unknown_version(request: Request) -> Response {
    let ids = request
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_else(|| RequestIds::from_headers(request.headers()));
    let segment = request
        .uri()
        .path()
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_owned();
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Invalid version: {segment}"),
    )
    .into_response_with(&ids)
}

async fn method_not_allowed(ctx: Ctx) -> Response {
    ctx.finish(Err(GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )))
}

/// The `/v1.0` routes, relative to `/v1.0`, without `$batch`.
fn api_routes(app: &AppState) -> Router {
    Router::new()
        .route("/users", get(users::list))
        .route("/users/$count", get(users::count))
        .route("/users/%24count", get(users::count))
        .route("/users/{id}", get(users::get_one).patch(users::patch))
        .route(
            "/users/{id}/transitiveMemberOf/microsoft.graph.directoryRole",
            get(roles::transitive_roles),
        )
        .route(
            "/users/{id}/revokeSignInSessions",
            post(users::revoke_sessions),
        )
        .route("/users/{id}/memberOf", get(relationships::member_of))
        .route(
            "/users/{id}/transitiveMemberOf",
            get(relationships::transitive_member_of),
        )
        .route(
            "/users/{id}/ownedObjects",
            get(relationships::owned_objects),
        )
        .route("/groups", get(users::list_groups))
        .route("/groups/{id}/members", get(relationships::group_members))
        .route("/groups/{id}/owners", get(relationships::group_owners))
        .route("/contacts", get(users::list_contacts))
        .route("/directoryRoles", get(roles::list))
        .route("/directoryRoles/{id}/members", get(roles::members))
        .route("/domains", get(roles::domains))
        .route("/invitations", post(invitations::create))
        .route(
            "/tenantRelationships/{function}",
            get(tenant_relationships::function),
        )
        .route(
            "/policies/authorizationPolicy",
            get(policies::authorization_policy),
        )
        .route(
            "/policies/crossTenantAccessPolicy/default",
            get(policies::cross_tenant_default),
        )
        .route(
            "/policies/crossTenantAccessPolicy/partners",
            get(policies::cross_tenant_partners),
        )
        .route(
            "/policies/crossTenantAccessPolicy/partners/{tenant_id}",
            get(policies::cross_tenant_partner),
        )
        .route(
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{method}",
            get(policies::authentication_method),
        )
        .route(
            "/roleManagement/directory/roleEligibilityScheduleInstances",
            get(role_management::eligibility_instances),
        )
        .route(
            "/roleManagement/directory/roleDefinitions/{id}",
            get(role_management::role_definition),
        )
        .fallback(unknown_segment)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone())
}

/// The `/beta` routes, relative to `/beta`: the B2B management policy and the conversion
/// of external users back to internal ones.
fn beta_routes(app: &AppState) -> Router {
    Router::new()
        .route(
            "/policies/b2bManagementPolicies",
            get(policies::b2b_management_policies),
        )
        .route(
            "/users/{id}/convertExternalToInternalMemberUser",
            post(conversion::convert),
        )
        .fallback(unknown_segment)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone())
}

/// The whole emulator: token endpoints, `/v1.0`, redemption pages and admin routes.
pub fn router(app: AppState, gate_state: Gate, simulation: Arc<SimulationState>) -> Router {
    // The copy of the API that `$batch` items are dispatched through: gated and logged
    // item by item.
    let batch_api = api_routes(&app)
        .layer(from_fn_with_state(gate_state.clone(), gate))
        .layer(from_fn(note_route))
        .layer(from_fn_with_state(app.clone(), request_log));
    let batch_routes = Router::new()
        .route("/$batch", post(batch::handle))
        .route("/%24batch", post(batch::handle))
        .with_state(batch::BatchState { api: batch_api });
    let v1 = api_routes(&app)
        .merge(batch_routes)
        .layer(from_fn_with_state(gate_state.clone(), gate))
        .layer(from_fn(note_route));
    let beta = beta_routes(&app)
        .layer(from_fn_with_state(gate_state.clone(), gate))
        .layer(from_fn(note_route));
    let tokens = gate_state.tokens.clone();
    let own: Router = Router::new()
        .route("/redeem/{token}", get(redeem::page).post(redeem::accept))
        .route("/_emulator/state", get(admin::state))
        .route("/_emulator/reset", post(admin::reset))
        .route(
            "/_emulator/policies",
            put(emulator_policies::put).patch(emulator_policies::patch),
        )
        .route(
            "/_emulator/tokens/federated",
            post(emulator_tokens::federated),
        )
        .route(
            "/_emulator/tokens/delegated",
            post(emulator_tokens::delegated),
        )
        .route(
            "/_emulator/applications/{client_id}/federatedIdentityCredentials",
            post(federated_credentials::add),
        )
        .with_state(app.clone());
    own.merge(tokens.router())
        .nest("/v1.0", v1)
        .nest("/beta", beta)
        .fallback(unknown_version)
        .layer(from_fn_with_state(simulation, simulate))
        .layer(from_fn_with_state(app, request_log))
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(from_fn(limits::enforce))
        .layer(from_fn(limits::graph_shaped))
        .layer(from_fn(request_ids))
}
