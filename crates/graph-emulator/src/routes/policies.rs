//! The policy reads a pre-flight makes, served from the live policies
//! ([`crate::policy`]):
//!
//! | route | permissions, least first |
//! |---|---|
//! | `GET /v1.0/policies/authorizationPolicy` | Policy.Read.All, Policy.ReadWrite.Authorization |
//! | `GET /v1.0/policies/crossTenantAccessPolicy/default` | Policy.Read.All, Policy.ReadWrite.CrossTenantAccess |
//! | `GET /v1.0/policies/crossTenantAccessPolicy/partners` and `…/partners/{tenantId}` | Policy.Read.All, Policy.ReadWrite.CrossTenantAccess |
//! | `GET /v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email` | Policy.Read.AuthenticationMethod, Policy.ReadWrite.AuthenticationMethod |
//! | `GET /beta/policies/b2bManagementPolicies` | Policy.Read.B2BManagementPolicy, Policy.ReadWrite.B2BManagementPolicy |
//!
//! Sources (GD = microsoft-graph-docs-contrib/api-reference): v1.0/api/authorizationpolicy-get.md,
//! crosstenantaccesspolicyconfigurationdefault-get.md,
//! crosstenantaccesspolicyconfigurationpartner-get.md,
//! emailauthenticationmethodconfiguration-get.md (the live page names
//! Policy.Read.AuthenticationMethod; an older copy named Policy.Read.All, which the
//! emulator refuses: stricter), beta/api/policyroot-list-b2bmanagementpolicies.md and its
//! permissions include. A delegated caller of the B2B management policy must also be a
//! Global Administrator ("the only role supported", beta rbac include); the other reads
//! need only the scope, as everywhere in the emulator.
//!
//! Answers: the objects as Graph shapes them, with `@odata.context` (and `@odata.type`
//! where Graph's examples carry it). A partner's `null` settings are served as `null`:
//! they inherit the default, which the client resolves. The email method carries
//! `includeTargets: []` as in Microsoft's example. Without a B2B management policy the
//! beta list is `{"value": []}` (no allow or deny list). Single objects take `$select`
//! (names checked against the schema); any other query option is 400.
//!
//! Choices where Microsoft documents nothing: a tenant id without a partner configuration
//! is 404 `Request_ResourceNotFound` (the Get page documents only 200); an
//! authentication method other than `email` is the unknown-segment 400 (not served).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{AppState, Ctx, json};
use crate::directory::Directory;
use crate::error::GraphError;
use crate::query;
use crate::schema::schema;

const AUTHORIZATION_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.Authorization"];
const CROSS_TENANT_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"];
const AUTHENTICATION_METHOD_READ: &[&str] = &[
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
];
const B2B_MANAGEMENT_READ: &[&str] = &[
    "Policy.Read.B2BManagementPolicy",
    "Policy.ReadWrite.B2BManagementPolicy",
];

/// `$select` of a single entity of `type_name`; every other option is 400.
fn selection(raw: Option<&str>, type_name: &str) -> Result<Option<Vec<String>>, GraphError> {
    let opts = query::parse_options(raw)?;
    if opts.filter.is_some() || opts.top.is_some() || opts.count {
        return Err(GraphError::bad_request(
            "Only $select is supported when reading a single policy.",
        ));
    }
    opts.check_select(type_name)?;
    Ok(opts.select)
}

/// `object` as served: `@odata.context` first, then its properties (the `$select`ed
/// ones only, when there is a selection).
fn entity(
    context: String,
    object: &Map<String, Value>,
    type_name: &str,
    select: Option<&[String]>,
) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context));
    match select {
        Some(names) => {
            for name in names {
                let value = object
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| schema().absent_value(type_name, name));
                out.insert(name.clone(), value);
            }
        }
        None => out.extend(object.clone()),
    }
    Value::Object(out)
}

fn metadata(app: &AppState, version: &str, fragment: &str) -> String {
    format!("{}{version}/$metadata#{fragment}", app.root)
}

/// One policy object of the directory: its permission, `$select` only, and the
/// `@odata.context` of `fragment`.
fn singleton(
    app: &AppState,
    ctx: &Ctx,
    raw: Option<&str>,
    (permissions, type_name, fragment): (&[&'static str], &str, &str),
    object: impl for<'a> FnOnce(&'a Directory) -> &'a Map<String, Value>,
) -> Result<Response, GraphError> {
    ctx.require(permissions)?;
    let select = selection(raw, type_name)?;
    let dir = app.dir.read();
    let context = metadata(app, "v1.0", fragment);
    let body = entity(context, object(&dir), type_name, select.as_deref());
    Ok(json(StatusCode::OK, body))
}

/// `GET /policies/authorizationPolicy`.
pub async fn authorization_policy(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = singleton(
        &app,
        &ctx,
        raw.as_deref(),
        (
            AUTHORIZATION_READ,
            "microsoft.graph.authorizationPolicy",
            "policies/authorizationPolicy/$entity",
        ),
        |dir| dir.policies.authorization_policy(),
    );
    ctx.finish(result)
}

/// `GET /policies/crossTenantAccessPolicy/default`.
pub async fn cross_tenant_default(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = singleton(
        &app,
        &ctx,
        raw.as_deref(),
        (
            CROSS_TENANT_READ,
            "microsoft.graph.crossTenantAccessPolicyConfigurationDefault",
            "policies/crossTenantAccessPolicy/default/$entity",
        ),
        |dir| dir.policies.cross_tenant_default(),
    );
    ctx.finish(result)
}

/// `GET /policies/crossTenantAccessPolicy/partners`.
pub async fn cross_tenant_partners(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(CROSS_TENANT_READ)?;
        let type_name = "microsoft.graph.crossTenantAccessPolicyConfigurationPartner";
        let select = selection(raw.as_deref(), type_name)?;
        let dir = app.dir.read();
        let value: Vec<Value> = dir
            .policies
            .partners()
            .iter()
            .map(|p| {
                let mut v = entity(String::new(), p, type_name, select.as_deref());
                if let Some(o) = v.as_object_mut() {
                    o.remove("@odata.context");
                }
                v
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            json!({
                "@odata.context": metadata(&app, "v1.0", "policies/crossTenantAccessPolicy/partners"),
                "value": value,
            }),
        ))
    })();
    ctx.finish(result)
}

/// `GET /policies/crossTenantAccessPolicy/partners/{tenantId}`.
pub async fn cross_tenant_partner(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(tenant_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(CROSS_TENANT_READ)?;
        let type_name = "microsoft.graph.crossTenantAccessPolicyConfigurationPartner";
        let select = selection(raw.as_deref(), type_name)?;
        let dir = app.dir.read();
        let partner = dir
            .policies
            .partner(&tenant_id)
            .ok_or_else(|| GraphError::not_found(&tenant_id))?;
        let context = metadata(
            &app,
            "v1.0",
            "policies/crossTenantAccessPolicy/partners/$entity",
        );
        Ok(json(
            StatusCode::OK,
            entity(context, partner, type_name, select.as_deref()),
        ))
    })();
    ctx.finish(result)
}

/// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{method}`
/// (only `email`).
pub async fn authentication_method(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(method): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        if !method.eq_ignore_ascii_case("email") {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Resource not found for the segment '{method}'."),
            ));
        }
        ctx.require(AUTHENTICATION_METHOD_READ)?;
        let type_name = "microsoft.graph.emailAuthenticationMethodConfiguration";
        let select = selection(raw.as_deref(), type_name)?;
        let dir = app.dir.read();
        let mut object = Map::new();
        object.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.emailAuthenticationMethodConfiguration"),
        );
        object.extend(dir.policies.email_method().clone());
        object.insert("includeTargets".into(), json!([]));
        let context = metadata(&app, "v1.0", "authenticationMethodConfigurations/$entity");
        let body = match select {
            Some(names) => {
                let mut body = entity(context, &object, type_name, Some(&names));
                if let Some(o) = body.as_object_mut() {
                    o.insert("@odata.type".into(), object["@odata.type"].clone());
                }
                body
            }
            None => entity(context, &object, type_name, None),
        };
        Ok(json(StatusCode::OK, body))
    })();
    ctx.finish(result)
}

/// `GET /beta/policies/b2bManagementPolicies`.
pub async fn b2b_management_policies(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(B2B_MANAGEMENT_READ)?;
        ctx.principal.require_user_role(&["Global Administrator"])?;
        if raw.as_deref().is_some_and(|q| !q.is_empty()) {
            // The List page: "Optional query parameters: None."
            let opts = query::parse_options(raw.as_deref())?;
            if opts.select.is_some() || opts.filter.is_some() || opts.top.is_some() || opts.count {
                return Err(GraphError::bad_request(
                    "This method doesn't support OData query parameters.",
                ));
            }
        }
        let dir = app.dir.read();
        let value: Vec<Value> = dir
            .policies
            .b2b_management()
            .map(|policy| {
                let mut o = Map::new();
                o.insert(
                    "@odata.type".into(),
                    json!("#microsoft.graph.b2bManagementPolicy"),
                );
                o.extend(policy.object.clone());
                Value::Object(o)
            })
            .into_iter()
            .collect();
        Ok(json(
            StatusCode::OK,
            json!({
                "@odata.context": metadata(&app, "beta", "policies/b2bManagementPolicies"),
                "value": value,
            }),
        ))
    })();
    ctx.finish(result)
}
