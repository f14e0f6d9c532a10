//! The tenant file: a JSON description of one Entra tenant (domains, applications, users,
//! groups, contacts, directory roles, simulation settings), parsed and validated before the
//! emulator serves it. The format is documented with a full example in the crate README.
//!
//! Validation is strict, because a typo in a tenant file would otherwise become a property
//! Graph never returns: every unknown field and every value of the wrong JSON type is an
//! error naming the file and the JSON path (`users[3].mial: not a property of
//! microsoft.graph.user`). Users, groups and contacts are checked against Microsoft's v1.0
//! schema ([`crate::schema`]). Also refused: missing or duplicate ids (across all objects),
//! duplicate userPrincipalNames (case-insensitive), role members that are not users, a
//! tenant without a `*.onmicrosoft.com` domain, malformed or duplicate domain names.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::application::Application;
use crate::hash::FastSet;
use crate::index::Object;
use crate::schema::schema;
use crate::simulation::Simulation;

const DEMO_JSON: &str = include_str!("../../../tenants/demo.json");

/// Why a tenant file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The file could not be read.
    #[error("{source_name}: {error}")]
    Io {
        /// The file.
        source_name: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The text is not JSON.
    #[error("{source_name}: not valid JSON: {error}")]
    Json {
        /// The file.
        source_name: String,
        /// The parser's error, with line and column.
        error: serde_json::Error,
    },
    /// A field is unknown, has the wrong type, or breaks a rule.
    #[error("{source_name}: {path}: {message}")]
    Invalid {
        /// The file.
        source_name: String,
        /// JSON path of the bad field, e.g. `users[3].mial`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One activated directory role of the tenant and its (user) members.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryRole {
    /// Object id of the activated role.
    pub id: String,
    /// E.g. `Global Administrator`.
    pub display_name: String,
    /// The role template id (the same in every tenant).
    pub role_template_id: String,
    /// Optional description.
    pub description: Option<String>,
    /// Object ids of the users holding the role.
    pub members: Vec<String>,
}

/// A parsed, validated tenant file.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub(crate) tenant_id: String,
    pub(crate) verified_domains: Vec<String>,
    pub(crate) applications: Vec<Application>,
    // Shared with the live directory, which copies an object only when it changes it: a
    // deep copy of 100,000 users took ~0.3 s of every start and reset.
    pub(crate) users: Vec<Arc<Object>>,
    pub(crate) groups: Vec<Arc<Object>>,
    pub(crate) org_contacts: Vec<Arc<Object>>,
    pub(crate) directory_roles: Vec<DirectoryRole>,
    pub(crate) simulation: Simulation,
}

impl Tenant {
    /// Reads and validates a tenant file; errors name the file and the JSON path.
    pub fn from_path(path: &Path) -> Result<Tenant, TenantError> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| TenantError::Io {
            source_name: source_name.clone(),
            error,
        })?;
        Self::from_json(&text, &source_name)
    }

    /// Parses and validates tenant JSON; `source_name` names it in errors.
    pub fn from_json(text: &str, source_name: &str) -> Result<Tenant, TenantError> {
        let value: Value = serde_json::from_str(text).map_err(|error| TenantError::Json {
            source_name: source_name.to_owned(),
            error,
        })?;
        parse(value).map_err(|(path, message)| TenantError::Invalid {
            source_name: source_name.to_owned(),
            path,
            message,
        })
    }

    /// The demo tenant (`tenants/demo.json`, embedded at build time).
    ///
    /// The file is tested to parse; should it ever not, an empty tenant is returned and the
    /// problem logged, rather than a panic inside a library.
    pub fn demo() -> Tenant {
        match Self::from_json(DEMO_JSON, "tenants/demo.json") {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("{e}");
                Tenant {
                    tenant_id: "00000000-0000-0000-0000-000000000000".into(),
                    verified_domains: vec!["invalid.onmicrosoft.com".into()],
                    applications: Vec::new(),
                    users: Vec::new(),
                    groups: Vec::new(),
                    org_contacts: Vec::new(),
                    directory_roles: Vec::new(),
                    simulation: Simulation::default(),
                }
            }
        }
    }

    /// The tenant (directory) id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The application registrations that may ask for tokens.
    pub fn applications(&self) -> &[Application] {
        &self.applications
    }

    /// Verified domain names, in file order.
    pub fn verified_domains(&self) -> &[String] {
        &self.verified_domains
    }

    /// The first `*.onmicrosoft.com` verified domain.
    pub fn initial_domain(&self) -> &str {
        initial_domain(&self.verified_domains).unwrap_or("")
    }

    /// Number of users in the file.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The `simulation` section (defaults when absent).
    pub fn simulation(&self) -> &Simulation {
        &self.simulation
    }
}

pub(crate) fn initial_domain(domains: &[String]) -> Option<&str> {
    domains
        .iter()
        .find(|d| d.to_ascii_lowercase().ends_with(".onmicrosoft.com"))
        .map(String::as_str)
}

type Invalid = (String, String);

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    (path.into(), message.into())
}

const TOP_LEVEL: &[&str] = &[
    "tenantId",
    "verifiedDomains",
    "applications",
    "users",
    "groups",
    "orgContacts",
    "directoryRoles",
    "simulation",
];

fn parse(value: Value) -> Result<Tenant, Invalid> {
    let Value::Object(mut root) = value else {
        return Err(invalid("$", "the tenant file must be a JSON object"));
    };
    if let Some(key) = root.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(invalid(
            key.clone(),
            format!(
                "not a field of a tenant file (expected one of {})",
                TOP_LEVEL.join(", ")
            ),
        ));
    }
    let tenant_id = match root.remove("tenantId") {
        Some(Value::String(s)) if uuid::Uuid::parse_str(&s).is_ok() => s,
        Some(_) => return Err(invalid("tenantId", "expected a GUID string")),
        None => return Err(invalid("tenantId", "missing")),
    };
    let verified_domains = string_array(root.remove("verifiedDomains"), "verifiedDomains")?;
    let mut seen_domains = HashSet::new();
    for (i, d) in verified_domains.iter().enumerate() {
        let valid = d.contains('.')
            && !d.starts_with('.')
            && !d.ends_with('.')
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !valid {
            return Err(invalid(
                format!("verifiedDomains[{i}]"),
                format!("{d:?} is not a domain name"),
            ));
        }
        if !seen_domains.insert(d.to_ascii_lowercase()) {
            return Err(invalid(
                format!("verifiedDomains[{i}]"),
                format!("duplicate domain {d:?}"),
            ));
        }
    }
    if verified_domains.is_empty() {
        return Err(invalid("verifiedDomains", "at least one domain is needed"));
    }
    if initial_domain(&verified_domains).is_none() {
        return Err(invalid(
            "verifiedDomains",
            "no *.onmicrosoft.com domain (the initial domain)",
        ));
    }
    let applications = typed_array::<Application>(root.remove("applications"), "applications")?;
    let simulation = match root.remove("simulation") {
        None | Some(Value::Null) => Simulation::default(),
        Some(v) => {
            let s: Simulation =
                serde_json::from_value(v).map_err(|e| invalid("simulation", e.to_string()))?;
            s.validate().map_err(|m| invalid("simulation", m))?;
            s
        }
    };

    // Fast-hashed: these sets see every id and UPN of a 100,000-user file.
    let mut ids: FastSet<String> = FastSet::default();
    let users = objects(
        root.remove("users"),
        "users",
        "microsoft.graph.user",
        &mut ids,
    )?;
    let mut upns = FastSet::with_capacity_and_hasher(users.len(), Default::default());
    for (i, user) in users.iter().enumerate() {
        match user.get("userPrincipalName").and_then(Value::as_str) {
            Some(upn) if upn.contains('@') => {
                if !upns.insert(upn.to_lowercase()) {
                    return Err(invalid(
                        format!("users[{i}].userPrincipalName"),
                        format!("duplicate userPrincipalName {upn:?}"),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    format!("users[{i}].userPrincipalName"),
                    "missing or not an address (name@domain)",
                ));
            }
        }
    }
    let groups = objects(
        root.remove("groups"),
        "groups",
        "microsoft.graph.group",
        &mut ids,
    )?;
    let org_contacts = objects(
        root.remove("orgContacts"),
        "orgContacts",
        "microsoft.graph.orgContact",
        &mut ids,
    )?;
    let user_ids: FastSet<&str> = users
        .iter()
        .filter_map(|u| u.get("id").and_then(Value::as_str))
        .collect();
    let directory_roles = roles(root.remove("directoryRoles"), &user_ids, &mut ids)?;

    Ok(Tenant {
        tenant_id,
        verified_domains,
        applications,
        users,
        groups,
        org_contacts,
        directory_roles,
        simulation,
    })
}

fn string_array(value: Option<Value>, path: &str) -> Result<Vec<String>, Invalid> {
    match value {
        None => Err(invalid(path, "missing")),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !s.is_empty() => Ok(s),
                _ => Err(invalid(
                    format!("{path}[{i}]"),
                    "expected a non-empty string",
                )),
            })
            .collect(),
        Some(_) => Err(invalid(path, "expected an array of strings")),
    }
}

fn typed_array<T: serde::de::DeserializeOwned>(
    value: Option<Value>,
    path: &str,
) -> Result<Vec<T>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v)
                    .map_err(|e| invalid(format!("{path}[{i}]"), e.to_string()))
            })
            .collect(),
        Some(_) => Err(invalid(path, "expected an array")),
    }
}

fn objects(
    value: Option<Value>,
    path: &str,
    type_name: &str,
    ids: &mut FastSet<String>,
) -> Result<Vec<Arc<Object>>, Invalid> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid(path, "expected an array")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let here = format!("{path}[{i}]");
        schema()
            .validate_object(type_name, &item, &here, false)
            .map_err(|e| invalid(e.path, e.message))?;
        let Value::Object(map) = item else {
            return Err(invalid(here, "expected an object"));
        };
        check_id(&map, &here, ids)?;
        out.push(Arc::new(map));
    }
    Ok(out)
}

fn check_id(
    map: &Map<String, Value>,
    here: &str,
    ids: &mut FastSet<String>,
) -> Result<(), Invalid> {
    match map.get("id").and_then(Value::as_str) {
        Some(id) if uuid::Uuid::parse_str(id).is_ok() => {
            if ids.insert(id.to_lowercase()) {
                Ok(())
            } else {
                Err(invalid(
                    format!("{here}.id"),
                    format!("duplicate id {id:?}"),
                ))
            }
        }
        _ => Err(invalid(format!("{here}.id"), "missing or not a GUID")),
    }
}

const ROLE_FIELDS: &[&str] = &[
    "id",
    "displayName",
    "roleTemplateId",
    "description",
    "members",
];

fn roles(
    value: Option<Value>,
    user_ids: &FastSet<&str>,
    ids: &mut FastSet<String>,
) -> Result<Vec<DirectoryRole>, Invalid> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("directoryRoles", "expected an array")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let here = format!("directoryRoles[{i}]");
        let Value::Object(map) = item else {
            return Err(invalid(here, "expected an object"));
        };
        if let Some(key) = map.keys().find(|k| !ROLE_FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                format!("{here}.{key}"),
                "not a field of a directory role (id, displayName, roleTemplateId, description, members)",
            ));
        }
        check_id(&map, &here, ids)?;
        let text = |key: &str| -> Result<Option<String>, Invalid> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("{here}.{key}"), "expected a string")),
            }
        };
        let display_name = text("displayName")?
            .ok_or_else(|| invalid(format!("{here}.displayName"), "missing"))?;
        let role_template_id = text("roleTemplateId")?
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
            .ok_or_else(|| invalid(format!("{here}.roleTemplateId"), "missing or not a GUID"))?;
        let description = text("description")?;
        let members = match map.get("members") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => string_array(Some(v.clone()), &format!("{here}.members"))?,
        };
        for (j, m) in members.iter().enumerate() {
            if !user_ids.contains(m.as_str()) {
                return Err(invalid(
                    format!("{here}.members[{j}]"),
                    format!("no user with id {m:?}"),
                ));
            }
        }
        out.push(DirectoryRole {
            id: text("id")?.unwrap_or_default(),
            display_name,
            role_template_id,
            description,
            members,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "tenantId": "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c",
            "verifiedDomains": ["t.onmicrosoft.com", "t.com"],
            "users": [
                {"id": "d0000000-0000-4000-8000-000000000001", "userPrincipalName": "a@t.com"},
                {"id": "d0000000-0000-4000-8000-000000000002", "userPrincipalName": "b@t.com"}
            ]
        })
    }

    fn err(v: Value) -> String {
        Tenant::from_json(&v.to_string(), "x.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn demo_tenant_parses() {
        let t = Tenant::from_json(DEMO_JSON, "demo").unwrap();
        assert_eq!(t.tenant_id(), "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c");
        assert_eq!(t.user_count(), 25);
        assert_eq!(t.initial_domain(), "contoso.onmicrosoft.com");
        assert_eq!(t.applications().len(), 2);
    }

    #[test]
    fn unknown_fields_are_named_by_path() {
        let mut v = base();
        v["users"][1]["mial"] = json!("x@y.com");
        assert_eq!(
            err(v),
            "x.json: users[1].mial: not a property of microsoft.graph.user"
        );
        let mut v = base();
        v["colour"] = json!(1);
        assert!(err(v).starts_with("x.json: colour: not a field"));
    }

    #[test]
    fn wrong_types_and_duplicates_are_refused() {
        let mut v = base();
        v["users"][0]["accountEnabled"] = json!("yes");
        assert!(err(v).contains("users[0].accountEnabled: expected Edm.Boolean"));
        let mut v = base();
        v["users"][1]["userPrincipalName"] = json!("A@t.com");
        assert!(err(v).contains("users[1].userPrincipalName: duplicate"));
        let mut v = base();
        v["users"][1]["id"] = json!("d0000000-0000-4000-8000-000000000001");
        assert!(err(v).contains("users[1].id: duplicate id"));
    }

    #[test]
    fn role_members_must_exist() {
        let mut v = base();
        v["directoryRoles"] = json!([{"id": "a0000000-0000-4000-8000-000000000001",
            "displayName": "Global Administrator",
            "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10",
            "members": ["d0000000-0000-4000-8000-000000000001", "d0000000-0000-4000-8000-000000000009"]}]);
        assert!(err(v).contains("directoryRoles[0].members[1]: no user"));
    }

    #[test]
    fn domains_must_be_names_and_unique() {
        let mut v = base();
        v["verifiedDomains"] = json!(["t.onmicrosoft.com", "T.com", "t.com"]);
        assert!(err(v).contains("verifiedDomains[2]: duplicate domain"));
        let mut v = base();
        v["verifiedDomains"] = json!(["t.onmicrosoft.com", "not a domain"]);
        assert!(err(v).contains("verifiedDomains[1]"));
    }

    #[test]
    fn needs_an_initial_domain() {
        let mut v = base();
        v["verifiedDomains"] = json!(["t.com"]);
        assert!(err(v).contains("verifiedDomains: no *.onmicrosoft.com"));
    }
}
