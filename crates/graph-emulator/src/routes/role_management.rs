//! PIM role eligibilities and the role definitions that name them:
//!
//! - `GET /v1.0/roleManagement/directory/roleEligibilityScheduleInstances`: the tenant
//!   file's eligibilities ([`crate::eligibility`]) through the query engine — `$filter`
//!   (`eq`/`ne` on `principalId`, `roleDefinitionId`, `memberType`,
//!   `roleEligibilityScheduleId`; also `eq null` on `directoryScopeId` and `appScopeId`),
//!   `$select`, `$top` (default 100, 1–999) with `@odata.nextLink`, `$count=true`, and
//!   `$expand=roleDefinition` (documented on this endpoint: GD
//!   v1.0/resources/unifiedroleeligibilityscheduleinstance.md "Supports `$expand`").
//!   Permissions, least first (GD rbacapplication-list-roleeligibilityscheduleinstances):
//!   RoleEligibilitySchedule.Read.Directory, RoleManagement.Read.Directory,
//!   RoleManagement.Read.All, RoleEligibilitySchedule.ReadWrite.Directory,
//!   RoleManagement.ReadWrite.Directory. Directory.Read.All is not among them.
//! - `GET /v1.0/roleManagement/directory/roleDefinitions/{id}`: a built-in role definition
//!   or one of the tenant's activated roles by template id ([`crate::role_definitions`]);
//!   404 `Request_ResourceNotFound` otherwise. Permissions (GD unifiedroledefinition-get):
//!   RoleManagement.Read.Directory, Directory.Read.All, RoleManagement.ReadWrite.Directory,
//!   Directory.ReadWrite.All.
//!
//! Choices: `ne` needs no advanced query here (these are not directory objects);
//! `$expand` of `principal`, `directoryScope` or `appScope`, and nested expand options,
//! are 400 (not implemented).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{AppState, Ctx, json};
use crate::directory::text;
use crate::error::GraphError;
use crate::query::{self, ROLE_ELIGIBILITY_INSTANCES};
use crate::role_definitions;

const ELIGIBILITY_READ: &[&str] = &[
    "RoleEligibilitySchedule.Read.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];

const DEFINITION_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "Directory.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.ReadWrite.All",
];

/// `GET /roleManagement/directory/roleEligibilityScheduleInstances`.
pub async fn eligibility_instances(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(ELIGIBILITY_READ)?;
        let set = &ROLE_ELIGIBILITY_INSTANCES;
        let opts = query::parse_options_expanding(raw.as_deref(), set.expandable)?;
        let expand = opts.expand.iter().any(|e| e == "roleDefinition");
        let dir = app.dir.read();
        let extend = |stored: &Map<String, Value>, out: &mut Map<String, Value>| {
            if expand {
                let definition = text(stored, "roleDefinitionId")
                    .and_then(|id| role_definitions::find(id, &dir.roles))
                    .unwrap_or(Value::Null);
                out.insert("roleDefinition".into(), definition);
            }
        };
        let body = query::list_with(
            &dir.role_eligibility,
            set,
            &opts,
            query::is_eventual(&ctx.headers),
            &app.root,
            &extend,
        )?;
        Ok(json(StatusCode::OK, body))
    })();
    ctx.finish(result)
}

/// `GET /roleManagement/directory/roleDefinitions/{id}`.
pub async fn role_definition(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(DEFINITION_READ)?;
        let opts = query::parse_options(raw.as_deref())?;
        if opts.filter.is_some() || opts.top.is_some() || opts.count || opts.select.is_some() {
            return Err(GraphError::bad_request(
                "Query options are not supported when reading a role definition here.",
            ));
        }
        let dir = app.dir.read();
        let definition =
            role_definitions::find(&id, &dir.roles).ok_or_else(|| GraphError::not_found(&id))?;
        let mut body = json!({
            "@odata.context": format!("{}v1.0/$metadata#roleManagement/directory/roleDefinitions/$entity", app.root)
        });
        if let (Some(out), Value::Object(fields)) = (body.as_object_mut(), definition) {
            out.extend(fields);
        }
        Ok(json(StatusCode::OK, body))
    })();
    ctx.finish(result)
}
