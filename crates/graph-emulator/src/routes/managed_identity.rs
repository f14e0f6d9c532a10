//! The managed identity endpoints a workload's host serves locally, on the emulator's
//! second listener (plain HTTP, as the real ones are; see [`crate::EmulatorConfig`]; the
//! same accept loop as the main listener, [`crate::serve`], without the simulation layers):
//!
//! - **App Service / Functions / Container Apps** (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`):
//!   `GET /msi/token?resource=…&api-version=2019-08-01[&client_id=|&principal_id=|&object_id=|&mi_res_id=]`
//!   with `X-IDENTITY-HEADER: <secret>` → 200
//!   `{"access_token","expires_on":"<unix s>","resource","token_type":"Bearer","client_id"}`.
//!   Errors are `{"statusCode","message","correlationId"}` with an `X-CORRELATION-ID`
//!   header; an unknown identity (or none named without a system-assigned one) is 400
//!   "Unable to load the proper Managed Identity." (both seen in a real response,
//!   Azure/azure-sdk-for-net#43691). Request and response shapes: MicrosoftDocs/azure-docs
//!   `articles/container-apps/managed-identity.md` (REST endpoint reference).
//! - **Azure VM IMDS** (`AZURE_POD_IDENTITY_AUTHORITY_HOST` points here, as for pod
//!   identity): `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…
//!   [&client_id=|&object_id=|&mi_res_id=]` with `Metadata: true` → 200
//!   `{"access_token","refresh_token":"","expires_in","expires_on","not_before","resource","token_type":"Bearer"}`
//!   (numbers as strings; MicrosoftDocs/azure-docs
//!   `articles/active-directory/managed-identities-azure-resources/how-to-use-vm-token.md`).
//!   Errors are `{"error","error_description"}`: a missing or wrong `Metadata` header is 400
//!   `invalid_request` "Required metadata header not specified" (the text is documented;
//!   the doc's older table calls the error `bad_request_102`, Azure SDK for .NET's IMDS
//!   mocks `invalid_request`, which is used here); an unknown identity is 400
//!   `invalid_request` "Identity not found" (same mocks); a resource Entra doesn't know is
//!   400 `invalid_resource` with AADSTS500011 (real response in
//!   Azure/azure-sdk-for-net#13481).
//!
//! Stricter choices where nothing is documented:
//! - App Service: a missing or wrong `X-IDENTITY-HEADER` is 401 (status seen in
//!   Azure/azure-sdk-for-js#11595; body unconfirmed). The header is checked first.
//! - IMDS: a request carrying `X-Forwarded-For` is refused (Microsoft's AntiSSRF docs: IMDS
//!   "will drop all incoming requests with the X-Forwarded-For header present"), here as 400
//!   `invalid_request`; the `Metadata` value must be exactly `true` (documented as "in all
//!   lower case").
//! - Only the api-versions above are accepted (the real services accept several); the
//!   older App Service protocol (2017-09-01, `secret` header) is refused.
//! - More than one identity parameter is 400 (documented as not allowed together); a
//!   parameter given twice is 400.
//! - Without an identity parameter, App Service uses the system-assigned identity only
//!   (documented); IMDS uses the system-assigned one, else the only user-assigned one, else
//!   refuses (documented: `client_id` is required with several user-assigned identities).
//! - `resource` must be Graph or the emulator's own root (see [`crate::token`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::token::{DefaultIdentity, IdentitySelector, ManagedIdentityToken, TokenService};

/// The App Service protocol version served.
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// The IMDS protocol version served.
pub const IMDS_API_VERSION: &str = "2018-02-01";
/// The App Service token path.
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// The IMDS token path.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// What the managed identity endpoints share.
#[derive(Clone)]
pub struct ManagedIdentityState {
    /// Mints the tokens.
    pub tokens: Arc<TokenService>,
    /// The App Service `X-IDENTITY-HEADER` secret of this run.
    pub identity_header: Arc<str>,
}

/// The managed identity listener's routes.
pub fn router(state: ManagedIdentityState) -> Router {
    Router::new()
        .route(APP_SERVICE_PATH, get(app_service))
        .route(IMDS_PATH, get(imds))
        .with_state(state)
}

/// One refusal, before it is put in either protocol's body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    status: StatusCode,
    /// IMDS `error` (App Service has only a message).
    error: &'static str,
    message: String,
}

fn bad(error: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        error,
        message: message.into(),
    }
}

/// The query parameters; a parameter given twice is refused.
fn query(raw: Option<&str>) -> Result<HashMap<String, String>, Refusal> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(bad(
                "invalid_request",
                format!("The parameter '{name}' is given more than once."),
            ));
        }
    }
    Ok(params)
}

/// The identity the query names: at most one of `names` may be present.
fn selector<'a>(
    params: &'a HashMap<String, String>,
    names: &[&str],
) -> Result<IdentitySelector<'a>, Refusal> {
    let given: Vec<(&str, &'a str)> = names
        .iter()
        .filter_map(|n| params.get(*n).map(|v| (*n, v.as_str())))
        .collect();
    match given.as_slice() {
        [] => Ok(IdentitySelector::Default),
        [("client_id", v)] => Ok(IdentitySelector::ClientId(v)),
        [("mi_res_id", v)] => Ok(IdentitySelector::ResourceId(v)),
        [(_, v)] => Ok(IdentitySelector::ObjectId(v)),
        _ => Err(bad(
            "invalid_request",
            format!("Only one of {} may be given.", names.join(", ")),
        )),
    }
}

/// The checks both protocols share once their own header check passed: api-version,
/// resource, identity. Returns the token and the resource as requested.
fn issue(
    tokens: &TokenService,
    params: &HashMap<String, String>,
    api_version: &str,
    id_params: &[&str],
    default: DefaultIdentity,
    unknown_identity: &str,
) -> Result<(ManagedIdentityToken, String), Refusal> {
    match params.get("api-version") {
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(bad(
                "invalid_request",
                format!("The api-version '{v}' is not supported; use {api_version}."),
            ));
        }
        None => {
            return Err(bad(
                "invalid_request",
                "The api-version parameter is required.",
            ));
        }
    }
    let resource = params
        .get("resource")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            bad(
                "invalid_request",
                "Required audience parameter not specified",
            )
        })?;
    let audience = tokens.managed_identity_audience(resource).map_err(|e| {
        bad(
            "invalid_resource",
            format!("AADSTS{}: {}", e.code, e.description),
        )
    })?;
    let selector = selector(params, id_params)?;
    let token = tokens
        .mint_managed_identity(selector, default, &audience)
        .ok_or_else(|| bad("invalid_request", unknown_identity))?
        .map_err(|e| Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "unknown",
            message: e.description,
        })?;
    Ok((token, resource.clone()))
}

async fn app_service(
    State(state): State<ManagedIdentityState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let result = (|| {
        let presented = headers
            .get("x-identity-header")
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        let expected = state.identity_header.as_bytes();
        if aws_lc_rs::constant_time::verify_slices_are_equal(presented, expected).is_err() {
            return Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                error: "unauthorized",
                message:
                    "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER."
                        .to_owned(),
            });
        }
        let params = query(raw.as_deref())?;
        issue(
            &state.tokens,
            &params,
            APP_SERVICE_API_VERSION,
            &["client_id", "principal_id", "object_id", "mi_res_id"],
            DefaultIdentity::SystemAssigned,
            "Unable to load the proper Managed Identity.",
        )
    })();
    let (status, body) = match result {
        Ok((token, resource)) => (
            StatusCode::OK,
            json!({
                "access_token": token.access_token,
                "expires_on": token.expires_on.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": token.client_id,
            }),
        ),
        Err(refusal) => (
            refusal.status,
            json!({
                "statusCode": refusal.status.as_u16(),
                "message": refusal.message,
                "correlationId": correlation_id,
            }),
        ),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert("x-correlation-id", value);
    }
    response
}

async fn imds(
    State(state): State<ManagedIdentityState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        if headers.contains_key("x-forwarded-for") {
            return Err(bad(
                "invalid_request",
                "Requests with an X-Forwarded-For header are not accepted.",
            ));
        }
        if headers.get("metadata").map(HeaderValue::as_bytes) != Some(b"true") {
            return Err(bad(
                "invalid_request",
                "Required metadata header not specified",
            ));
        }
        let params = query(raw.as_deref())?;
        issue(
            &state.tokens,
            &params,
            IMDS_API_VERSION,
            &["client_id", "object_id", "mi_res_id"],
            DefaultIdentity::SystemOrSoleUserAssigned,
            "Identity not found",
        )
    })();
    let (status, body): (StatusCode, Value) = match result {
        Ok((token, resource)) => (
            StatusCode::OK,
            json!({
                "access_token": token.access_token,
                "refresh_token": "",
                "expires_in": (token.expires_on - token.not_before).to_string(),
                "expires_on": token.expires_on.to_string(),
                "not_before": token.not_before.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        ),
        Err(refusal) => (
            refusal.status,
            json!({"error": refusal.error, "error_description": refusal.message}),
        ),
    };
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;
    use url::Url;

    use super::*;
    use crate::managed_identity::{ManagedIdentity, ManagedIdentityKind};

    const SYSTEM: &str = "a0000000-0000-4000-8000-00000000005a";
    const USER: &str = "a0000000-0000-4000-8000-0000000000a1";

    fn state(system: bool) -> ManagedIdentityState {
        let identity = |client_id: &str, kind| ManagedIdentity {
            client_id: client_id.to_owned(),
            kind,
            roles: vec!["User.Read.All".to_owned()],
            directory_roles: vec![],
        };
        let mut identities = vec![identity(USER, ManagedIdentityKind::UserAssigned)];
        if system {
            identities.push(identity(SYSTEM, ManagedIdentityKind::SystemAssigned));
        }
        let tokens = TokenService::new(
            &Url::parse("http://127.0.0.1:1/").unwrap(),
            "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c",
            &[],
            &[],
            &identities,
        )
        .unwrap();
        ManagedIdentityState {
            tokens: Arc::new(tokens),
            identity_header: Arc::from("s3cret"),
        }
    }

    async fn call(
        state: ManagedIdentityState,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = Request::get(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router(state)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    const GRAPH: &str = "resource=https://graph.microsoft.com";

    #[tokio::test]
    async fn app_service_protocol() {
        let secret = [("x-identity-header", "s3cret")];
        let uri = |extra: &str| format!("/msi/token?{GRAPH}&api-version=2019-08-01{extra}");

        let (status, body) = call(state(true), &uri(""), &secret).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["client_id"], SYSTEM);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["resource"], "https://graph.microsoft.com");
        assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
        let (status, body) = call(state(true), &uri(&format!("&client_id={USER}")), &secret).await;
        assert_eq!((status, body["client_id"].as_str()), (200, Some(USER)));

        // The secret header, then api-version, resource, identity.
        let (status, body) = call(state(true), &uri(""), &[]).await;
        assert_eq!((status, body["statusCode"].as_u64()), (401, Some(401)));
        let (status, _) = call(state(true), &uri(""), &[("x-identity-header", "nope")]).await;
        assert_eq!(status, 401);
        let (status, body) = call(
            state(true),
            &uri("").replace("2019-08-01", "2017-09-01"),
            &secret,
        )
        .await;
        assert_eq!((status, body["statusCode"].as_u64()), (400, Some(400)));
        let (status, body) = call(
            state(true),
            &uri("").replace("graph.microsoft.com", "vault.azure.net"),
            &secret,
        )
        .await;
        assert_eq!(status, 400);
        assert!(body["message"].as_str().unwrap().contains("AADSTS500011"));
        let (status, body) = call(state(false), &uri(""), &secret).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Unable to load the proper Managed Identity."))
        );
        let unknown = uri("&client_id=00000000-0000-0000-0000-000000000000");
        let (status, _) = call(state(true), &unknown, &secret).await;
        assert_eq!(status, 400);
        let two = uri(&format!("&client_id={USER}&principal_id=x"));
        let (status, _) = call(state(true), &two, &secret).await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn imds_protocol() {
        let metadata = [("metadata", "true")];
        let uri = |extra: &str| {
            format!("/metadata/identity/oauth2/token?api-version=2018-02-01&{GRAPH}/{extra}")
        };

        let (status, body) = call(state(false), &uri(""), &metadata).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refresh_token"], "");
        assert_eq!(body["expires_in"], "86399");
        assert_eq!(body["resource"], "https://graph.microsoft.com/");
        let claims: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(body["access_token"].as_str().unwrap())
                .unwrap();
        assert_eq!(claims["appid"], USER);
        assert_eq!(claims["aud"], "https://graph.microsoft.com");

        let (status, body) = call(state(false), &uri(""), &[]).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"})
        );
        let (status, _) = call(state(false), &uri(""), &[("metadata", "True")]).await;
        assert_eq!(status, 400);
        let (status, body) = call(
            state(false),
            &uri(""),
            &[("metadata", "true"), ("x-forwarded-for", "10.0.0.1")],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        let (status, body) = call(
            state(false),
            &uri("&client_id=00000000-0000-0000-0000-000000000000"),
            &metadata,
        )
        .await;
        assert_eq!(
            (status, body["error_description"].as_str()),
            (400, Some("Identity not found"))
        );
        let (status, body) = call(
            state(false),
            &uri("").replace("graph.microsoft.com", "vault.azure.net"),
            &metadata,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_resource"))
        );
    }
}
