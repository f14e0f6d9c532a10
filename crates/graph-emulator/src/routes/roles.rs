//! Directory roles (`/directoryRoles`, `/directoryRoles/{id}/members`, a user's
//! `transitiveMemberOf/microsoft.graph.directoryRole`) and `/domains`.
//!
//! Choices: the cast on transitiveMemberOf needs `ConsistencyLevel: eventual` and
//! `$count=true` (else 400 `Request_UnsupportedQuery`), as graph-facts §3/§4 say for casts;
//! only `$select` (and `$count`) are accepted there. `/directoryRoles` doesn't page. The
//! default domain is the first verified domain that is not `*.onmicrosoft.com` (the initial
//! domain when there is none).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{AppState, Ctx, json};
use crate::directory::text;
use crate::error::GraphError;
use crate::query::{self, USERS};
use crate::tenant::DirectoryRole;

const ROLE_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "Directory.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.ReadWrite.All",
];

/// A directory role as Graph serves it.
pub(crate) fn role_json(role: &DirectoryRole) -> Value {
    json!({
        "id": role.id,
        "deletedDateTime": null,
        "description": role.description,
        "displayName": role.display_name,
        "roleTemplateId": role.role_template_id,
    })
}

/// `GET /directoryRoles`.
pub async fn list(State(app): State<AppState>, ctx: Ctx) -> Response {
    let result = (|| {
        ctx.require(ROLE_READ)?;
        let dir = app.dir.read();
        let value: Vec<Value> = dir.roles.iter().map(role_json).collect();
        Ok(json(
            StatusCode::OK,
            json!({"@odata.context": format!("{}v1.0/$metadata#directoryRoles", app.root), "value": value}),
        ))
    })();
    ctx.finish(result)
}

/// `GET /directoryRoles/{id}/members` (`id` or `roleTemplateId=...` not supported: object id).
pub async fn members(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = (|| {
        ctx.require(ROLE_READ)?;
        let dir = app.dir.read();
        let role = dir
            .roles
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(&id))
            .ok_or_else(|| GraphError::not_found(&id))?;
        let value: Vec<Value> = role
            .members
            .iter()
            .filter_map(|m| dir.find_user(m))
            .map(|i| {
                let mut o = serde_json::Map::new();
                o.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                o.extend(query::project(&dir.users[i], &USERS, None));
                Value::Object(o)
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            json!({"@odata.context": format!("{}v1.0/$metadata#directoryObjects", app.root), "value": value}),
        ))
    })();
    ctx.finish(result)
}

/// `GET /users/{id}/transitiveMemberOf/microsoft.graph.directoryRole`.
pub async fn transitive_roles(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(&[
            "User.Read.All",
            "GroupMember.Read.All",
            "Group.Read.All",
            "Directory.Read.All",
            "User.ReadWrite.All",
            "Directory.ReadWrite.All",
        ])?;
        let opts = query::parse_options(raw.as_deref())?;
        if !(query::is_eventual(&ctx.headers) && opts.count) {
            return Err(GraphError::unsupported_query(
                "Unsupported Query. The OData cast on transitiveMemberOf needs the ConsistencyLevel: eventual header and $count=true.",
            ));
        }
        if opts.filter.is_some() {
            return Err(GraphError::unsupported_query("Unsupported Query."));
        }
        opts.check_select("microsoft.graph.directoryRole")?;
        let dir = app.dir.read();
        let index = ctx.target_user(&dir, &key)?;
        let user_id = text(&dir.users[index], "id").unwrap_or_default().to_owned();
        let value: Vec<Value> = dir
            .roles_of(&user_id)
            .into_iter()
            .map(|r| {
                let full = role_json(r);
                let mut o = serde_json::Map::new();
                o.insert(
                    "@odata.type".into(),
                    json!("#microsoft.graph.directoryRole"),
                );
                match &opts.select {
                    Some(sel) => {
                        for name in sel {
                            o.insert(name.clone(), full.get(name).cloned().unwrap_or(Value::Null));
                        }
                    }
                    None => {
                        if let Value::Object(m) = full {
                            o.extend(m);
                        }
                    }
                }
                Value::Object(o)
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            json!({
                "@odata.context": format!("{}v1.0/$metadata#directoryRoles", app.root),
                "@odata.count": value.len(),
                "value": value,
            }),
        ))
    })();
    ctx.finish(result)
}

/// `GET /domains`.
pub async fn domains(State(app): State<AppState>, ctx: Ctx) -> Response {
    let result = (|| {
        ctx.require(&[
            "Domain.Read.All",
            "Directory.Read.All",
            "Domain.ReadWrite.All",
            "Directory.ReadWrite.All",
        ])?;
        let dir = app.dir.read();
        let default = dir
            .verified_domains
            .iter()
            .find(|d| !d.ends_with(".onmicrosoft.com"))
            .unwrap_or(&dir.initial_domain)
            .clone();
        let value: Vec<Value> = dir
            .verified_domains
            .iter()
            .map(|d| {
                let initial = *d == dir.initial_domain;
                json!({
                    "authenticationType": "Managed",
                    "availabilityStatus": null,
                    "id": d,
                    "isAdminManaged": true,
                    "isDefault": *d == default,
                    "isInitial": initial,
                    "isRoot": true,
                    "isVerified": true,
                    "manufacturer": null,
                    "model": null,
                    "passwordNotificationWindowInDays": 14,
                    "passwordValidityPeriodInDays": 2147483647,
                    "state": null,
                    "supportedServices": if initial { json!(["Email", "OfficeCommunicationsOnline"]) } else { json!(["Email", "OfficeCommunicationsOnline", "Intune"]) },
                })
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            json!({"@odata.context": format!("{}v1.0/$metadata#domains", app.root), "value": value}),
        ))
    })();
    ctx.finish(result)
}
