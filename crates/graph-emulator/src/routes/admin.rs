//! The emulator's own admin view, outside `/v1.0` and without authentication:
//! `GET /_emulator/state` (the whole tenant, invitations, emails and request log) and
//! `POST /_emulator/reset` (back to the tenant file, log cleared).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::directory::Directory;

/// `GET /_emulator/state`.
pub async fn state(State(app): State<AppState>) -> Response {
    Json(app.state_document()).into_response()
}

/// `POST /_emulator/reset`.
pub async fn reset(State(app): State<AppState>) -> Response {
    *app.dir.write() = Directory::new(&app.tenant);
    app.log.lock().clear();
    StatusCode::NO_CONTENT.into_response()
}
