//! `PUT` and `PATCH /_emulator/policies`: change the tenant's policies while the emulator
//! runs, as an admin would in the Entra admin center, so a test can block a partner after
//! an invitation went out, switch email OTP off, or add a deny list. Unauthenticated like
//! the other `/_emulator/...` routes, and never delayed or faulted.
//!
//! Body: the tenant file's `policies` shape ([`crate::policy`]). `PUT` replaces the whole
//! section (what the body leaves out is Microsoft's default again); `PATCH` replaces only
//! the sections the body names (`authorizationPolicy`, `crossTenantAccessPolicy`,
//! `emailAuthenticationMethodConfiguration`, `b2bManagementPolicy`; `null` restores one's
//! default). Both answer 204, or 400 with Graph's error body naming the JSON path
//! (`policies.crossTenantAccessPolicy.partners[0].tenantId: missing or not a GUID`), and
//! then change nothing. The state document's `policies` section can be sent back as is.
//! `POST /_emulator/reset` restores the tenant file's policies.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use crate::error::{GraphError, RequestIds};
use crate::policy::Policies;

/// Applies `body` to the live policies: replacing them all (`replace`) or section by
/// section.
pub fn apply(app: &AppState, body: &Value, replace: bool) -> Result<(), String> {
    let mut dir = app.dir.write();
    let base = if replace {
        Policies::default()
    } else {
        dir.policies.clone()
    };
    let policies = base
        .patched(body, "policies")
        .map_err(|(path, message)| format!("{path}: {message}"))?;
    dir.policies = policies;
    Ok(())
}

fn answer(
    app: &AppState,
    ids: Option<Extension<RequestIds>>,
    body: &[u8],
    replace: bool,
) -> Response {
    let result = serde_json::from_slice::<Value>(body)
        .map_err(|e| format!("Invalid request body: {e}."))
        .and_then(|value| apply(app, &value, replace));
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => {
            let ids = ids.map_or_else(
                || RequestIds::from_headers(&Default::default()),
                |Extension(ids)| ids,
            );
            GraphError::bad_request(message).into_response_with(&ids)
        }
    }
}

/// `PUT /_emulator/policies`.
pub async fn put(
    State(app): State<AppState>,
    ids: Option<Extension<RequestIds>>,
    body: Bytes,
) -> Response {
    answer(&app, ids, &body, true)
}

/// `PATCH /_emulator/policies`.
pub async fn patch(
    State(app): State<AppState>,
    ids: Option<Extension<RequestIds>>,
    body: Bytes,
) -> Response {
    answer(&app, ids, &body, false)
}
