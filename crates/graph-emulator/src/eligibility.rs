//! PIM role eligibilities: the tenant file's `roleEligibilityScheduleInstances`, Graph's
//! `unifiedRoleEligibilityScheduleInstance` objects (GD
//! v1.0/resources/unifiedroleeligibilityscheduleinstance.md), served by `GET
//! /roleManagement/directory/roleEligibilityScheduleInstances`
//! ([`crate::routes::role_management`]). An eligible user holds no active role (no
//! `directoryRoles` membership) until they activate it, which the emulator doesn't model.
//!
//! Each entry is checked against the schema (paths like
//! `roleEligibilityScheduleInstances[0].memberType`) and: `id` is a non-empty string,
//! unique; `principalId` is a user, or a group with `isAssignableToRole: true` (only those
//! can hold roles); `roleDefinitionId` is a built-in role definition or the template of
//! one of the tenant's `directoryRoles` ([`crate::role_definitions`]); `memberType` is
//! `Direct`, `Group` or `Inherited`. Left out: `directoryScopeId` is `/` (tenant-wide),
//! `memberType` `Direct`; the other properties are `null`.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::hash::FastSet;
use crate::index::Object;
use crate::role_definitions;
use crate::schema::schema;
use crate::tenant::{DirectoryRole, Invalid, invalid};

/// What the checks need to know about the tenant.
pub struct Principals<'a> {
    /// Object ids of the users.
    pub users: &'a FastSet<&'a str>,
    /// Lower-cased object ids of the role-assignable groups.
    pub role_assignable_groups: &'a FastSet<String>,
    /// The activated directory roles (their templates are role definitions too).
    pub roles: &'a [DirectoryRole],
}

/// Parses and checks the `roleEligibilityScheduleInstances` section.
pub fn parse(value: Option<Value>, tenant: &Principals<'_>) -> Result<Vec<Arc<Object>>, Invalid> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(invalid(
                "roleEligibilityScheduleInstances",
                "expected an array",
            ));
        }
    };
    let mut ids = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let here = format!("roleEligibilityScheduleInstances[{i}]");
        schema()
            .validate_object(
                "microsoft.graph.unifiedRoleEligibilityScheduleInstance",
                &item,
                &here,
                false,
            )
            .map_err(|e| invalid(e.path, e.message))?;
        let Value::Object(mut object) = item else {
            return Err(invalid(here, "expected an object"));
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = text("id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(format!("{here}.id"), "missing"))?;
        if !ids.insert(id.clone()) {
            return Err(invalid(
                format!("{here}.id"),
                format!("duplicate id {id:?}"),
            ));
        }
        let principal =
            text("principalId").ok_or_else(|| invalid(format!("{here}.principalId"), "missing"))?;
        if !tenant.users.contains(principal.as_str())
            && !tenant
                .role_assignable_groups
                .contains(&principal.to_lowercase())
        {
            return Err(invalid(
                format!("{here}.principalId"),
                format!("no user or role-assignable group with id {principal:?}"),
            ));
        }
        let role = text("roleDefinitionId")
            .ok_or_else(|| invalid(format!("{here}.roleDefinitionId"), "missing"))?;
        if role_definitions::find(&role, tenant.roles).is_none() {
            return Err(invalid(
                format!("{here}.roleDefinitionId"),
                format!(
                    "{role:?} is neither a built-in role definition nor a directoryRoles template"
                ),
            ));
        }
        match text("memberType").as_deref() {
            None => {
                object.insert("memberType".into(), json!("Direct"));
            }
            Some("Direct" | "Group" | "Inherited") => {}
            Some(_) => {
                return Err(invalid(
                    format!("{here}.memberType"),
                    "must be Direct, Group or Inherited",
                ));
            }
        }
        object
            .entry("directoryScopeId")
            .or_insert_with(|| json!("/"));
        out.push(Arc::new(object));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "d0000000-0000-4000-8000-000000000001";
    const UA: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";

    fn run(v: Value) -> Result<Vec<Arc<Object>>, Invalid> {
        let users: FastSet<&str> = [USER].into_iter().collect();
        let groups: FastSet<String> = ["e0000000-0000-4000-8000-000000000002".to_owned()]
            .into_iter()
            .collect();
        parse(
            Some(v),
            &Principals {
                users: &users,
                role_assignable_groups: &groups,
                roles: &[],
            },
        )
    }

    #[test]
    fn fills_defaults_and_checks_references() {
        let out = run(json!([{"id": "e1", "principalId": USER, "roleDefinitionId": UA}])).unwrap();
        assert_eq!(out[0]["directoryScopeId"], "/");
        assert_eq!(out[0]["memberType"], "Direct");
        assert!(
            run(
                json!([{"id": "e1", "principalId": "e0000000-0000-4000-8000-000000000002",
            "roleDefinitionId": UA, "memberType": "Group"}])
            )
            .is_ok()
        );
        let err = |v: Value| run(v).unwrap_err();
        assert_eq!(
            err(json!([{"id": "e1", "principalId": "x", "roleDefinitionId": UA}])).0,
            "roleEligibilityScheduleInstances[0].principalId"
        );
        assert_eq!(
            err(json!([{"id": "e1", "principalId": USER, "roleDefinitionId": "nope"}])).0,
            "roleEligibilityScheduleInstances[0].roleDefinitionId"
        );
        assert_eq!(
            err(json!([{"id": "e1", "principalId": USER, "roleDefinitionId": UA, "memberType": "Indirect"}])).0,
            "roleEligibilityScheduleInstances[0].memberType"
        );
        assert!(
            err(json!([{"id": "e1", "principalId": USER, "roleDefinitionId": UA, "roleDefinition": {}}]))
                .1
                .contains("navigation property")
        );
        let dup = json!({"id": "e1", "principalId": USER, "roleDefinitionId": UA});
        assert!(err(json!([dup, dup])).1.contains("duplicate id"));
    }
}
