//! The tenant file: a JSON description of one Entra tenant (domains, applications, managed
//! identities, users, groups with their members and owners, contacts, directory roles, PIM
//! role eligibilities, partner tenants, external-collaboration policies, simulation
//! settings), parsed and validated before the emulator serves it. The format is documented
//! with a full example in the crate README.
//!
//! Validation is strict, because a typo in a tenant file would otherwise become a property
//! Graph never returns: every unknown field and every value of the wrong JSON type is an
//! error naming the file and the JSON path (`users[3].mial: not a property of
//! microsoft.graph.user`). Users, groups and contacts are checked against Microsoft's v1.0
//! schema ([`crate::schema`]). Also refused: missing or duplicate ids (across all objects),
//! duplicate userPrincipalNames (case-insensitive), role members that are not users, a
//! tenant without a `*.onmicrosoft.com` domain, malformed or duplicate domain names.
//!
//! Credentials are checked too: an application's `federatedIdentityCredentials` by
//! [`crate::application::FederatedIdentityCredential::check`] (Microsoft's rules), and
//! `managedIdentities` need GUID-shaped
//! client ids, unique across identities *and* applications (stricter: one client id names
//! one service principal), and at most one `systemAssigned` entry (a host has one).
//!
//! The sections for the pre-flight are checked by their own modules: `partnerTenants`
//! ([`crate::partners`]), `policies` ([`crate::policy`]), `roleEligibilityScheduleInstances`
//! ([`crate::eligibility`]) and a group's `members` / `owners` ([`crate::membership`],
//! which takes them out of the group object first: they are relationships, which Graph's
//! schema refuses inline). Each is optional; left out, the tenant behaves as before they
//! existed (no partners modelled, Microsoft's default policies, no eligibilities, no
//! members).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::application::Application;
use crate::eligibility::{self, Principals};
use crate::hash::FastSet;
use crate::index::Object;
use crate::managed_identity::{ManagedIdentity, ManagedIdentityKind};
use crate::membership::{self, GroupLinks, Membership};
use crate::partners::{self, PartnerTenant};
use crate::policy::Policies;
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
    pub(crate) managed_identities: Vec<ManagedIdentity>,
    // Shared with the live directory, which copies an object only when it changes it: a
    // deep copy of 100,000 users took ~0.3 s of every start and reset.
    pub(crate) users: Vec<Arc<Object>>,
    pub(crate) groups: Vec<Arc<Object>>,
    pub(crate) org_contacts: Vec<Arc<Object>>,
    pub(crate) directory_roles: Vec<DirectoryRole>,
    pub(crate) simulation: Simulation,
    /// `None` when the file has no `partnerTenants` (partners are not modelled).
    pub(crate) partner_tenants: Option<Vec<PartnerTenant>>,
    pub(crate) policies: Policies,
    pub(crate) role_eligibility: Vec<Arc<Object>>,
    pub(crate) membership: Membership,
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
                    managed_identities: Vec::new(),
                    users: Vec::new(),
                    groups: Vec::new(),
                    org_contacts: Vec::new(),
                    directory_roles: Vec::new(),
                    simulation: Simulation::default(),
                    partner_tenants: None,
                    policies: Policies::default(),
                    role_eligibility: Vec::new(),
                    membership: Membership::default(),
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

    /// The managed identities whose tokens the emulator's managed identity endpoints issue.
    pub fn managed_identities(&self) -> &[ManagedIdentity] {
        &self.managed_identities
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

    /// The `partnerTenants` section (`None` when absent: partners are not modelled).
    pub fn partner_tenants(&self) -> Option<&[PartnerTenant]> {
        self.partner_tenants.as_deref()
    }
}

pub(crate) fn initial_domain(domains: &[String]) -> Option<&str> {
    domains
        .iter()
        .find(|d| d.to_ascii_lowercase().ends_with(".onmicrosoft.com"))
        .map(String::as_str)
}

/// A refusal of a tenant file: the JSON path of the bad field and what is wrong.
pub(crate) type Invalid = (String, String);

/// An [`Invalid`] from a path and a message.
pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    (path.into(), message.into())
}

/// Whether `name` looks like a DNS domain name: letters, digits, `-` and `.`, with a dot
/// inside and none at either end.
pub(crate) fn is_domain_name(name: &str) -> bool {
    name.contains('.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

const TOP_LEVEL: &[&str] = &[
    "tenantId",
    "verifiedDomains",
    "applications",
    "managedIdentities",
    "users",
    "groups",
    "orgContacts",
    "directoryRoles",
    "roleEligibilityScheduleInstances",
    "partnerTenants",
    "policies",
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
        if !is_domain_name(d) {
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
    check_federated_credentials(&applications)?;
    let managed_identities =
        typed_array::<ManagedIdentity>(root.remove("managedIdentities"), "managedIdentities")?;
    check_managed_identities(&managed_identities, &applications)?;
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
    let (groups, group_links) = groups(root.remove("groups"), &mut ids)?;
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
    let role_assignable: Vec<bool> = groups
        .iter()
        .map(|g| g.get("isAssignableToRole") == Some(&Value::Bool(true)))
        .collect();
    membership::check(&group_links, &role_assignable, &user_ids)?;
    let role_assignable_groups: FastSet<String> = group_links
        .iter()
        .zip(&role_assignable)
        .filter(|(_, assignable)| **assignable)
        .map(|(g, _)| g.group_id.to_lowercase())
        .collect();
    let role_eligibility = eligibility::parse(
        root.remove("roleEligibilityScheduleInstances"),
        &Principals {
            users: &user_ids,
            role_assignable_groups: &role_assignable_groups,
            roles: &directory_roles,
        },
    )?;
    let partner_tenants =
        partners::parse(root.remove("partnerTenants"), &tenant_id, &verified_domains)?;
    let policies = Policies::parse(root.remove("policies").as_ref())?;

    Ok(Tenant {
        tenant_id,
        verified_domains,
        applications,
        managed_identities,
        users,
        groups,
        org_contacts,
        directory_roles,
        simulation,
        partner_tenants,
        policies,
        role_eligibility,
        membership: Membership::new(group_links),
    })
}

/// The `groups` section: Graph group objects, and the `members` and `owners` each may list
/// (taken out before the schema check, see [`crate::membership`]).
fn groups(
    value: Option<Value>,
    ids: &mut FastSet<String>,
) -> Result<(Vec<Arc<Object>>, Vec<GroupLinks>), Invalid> {
    let mut items = match value {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("groups", "expected an array")),
    };
    let mut links = Vec::with_capacity(items.len());
    for (i, item) in items.iter_mut().enumerate() {
        let (members, owners) = match item {
            Value::Object(map) => membership::take_links(map, &format!("groups[{i}]"))?,
            _ => (Vec::new(), Vec::new()),
        };
        links.push((members, owners));
    }
    let groups = objects(
        Some(Value::Array(items)),
        "groups",
        "microsoft.graph.group",
        ids,
    )?;
    let links = groups
        .iter()
        .zip(links)
        .map(|(g, (members, owners))| GroupLinks {
            group_id: g
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            members,
            owners,
        })
        .collect();
    Ok((groups, links))
}

fn check_federated_credentials(applications: &[Application]) -> Result<(), Invalid> {
    for (i, app) in applications.iter().enumerate() {
        let credentials = &app.federated_identity_credentials;
        for (j, fic) in credentials.iter().enumerate() {
            fic.check(&credentials[..j]).map_err(|(field, message)| {
                invalid(
                    format!("applications[{i}].federatedIdentityCredentials[{j}].{field}"),
                    message,
                )
            })?;
        }
    }
    Ok(())
}

fn check_managed_identities(
    identities: &[ManagedIdentity],
    applications: &[Application],
) -> Result<(), Invalid> {
    let mut client_ids: HashSet<String> = applications
        .iter()
        .map(|a| a.client_id.to_ascii_lowercase())
        .collect();
    let mut system_assigned = false;
    for (i, identity) in identities.iter().enumerate() {
        let here = format!("managedIdentities[{i}]");
        if uuid::Uuid::parse_str(&identity.client_id).is_err() {
            return Err(invalid(format!("{here}.clientId"), "not a GUID"));
        }
        if !client_ids.insert(identity.client_id.to_ascii_lowercase()) {
            return Err(invalid(
                format!("{here}.clientId"),
                format!(
                    "duplicate client id {:?} (already an application or another identity)",
                    identity.client_id
                ),
            ));
        }
        if identity.kind == ManagedIdentityKind::SystemAssigned {
            if system_assigned {
                return Err(invalid(
                    format!("{here}.kind"),
                    "only one systemAssigned identity is allowed (a host has one)",
                ));
            }
            system_assigned = true;
        }
    }
    Ok(())
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
        assert_eq!(t.user_count(), 31);
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
    fn managed_identities_are_checked() {
        let system = |id: &str| json!({"clientId": id, "kind": "systemAssigned", "roles": ["User.Read.All"]});
        let mut v = base();
        v["managedIdentities"] = json!([
            system("a0000000-0000-4000-8000-000000000001"),
            {"clientId": "a0000000-0000-4000-8000-000000000002", "kind": "userAssigned",
             "directoryRoles": ["User Administrator"]}
        ]);
        let t = Tenant::from_json(&v.to_string(), "x.json").unwrap();
        assert_eq!(t.managed_identities().len(), 2);

        let mut v = base();
        v["managedIdentities"] = json!([
            system("a0000000-0000-4000-8000-000000000001"),
            system("a0000000-0000-4000-8000-000000000002")
        ]);
        assert!(err(v).contains("managedIdentities[1].kind: only one systemAssigned"));
        let mut v = base();
        v["managedIdentities"] = json!([system("not-a-guid")]);
        assert!(err(v).contains("managedIdentities[0].clientId: not a GUID"));
        let mut v = base();
        v["managedIdentities"] = json!([system("a0000000-0000-4000-8000-000000000001"),
            {"clientId": "A0000000-0000-4000-8000-000000000001", "kind": "userAssigned"}]);
        assert!(err(v).contains("managedIdentities[1].clientId: duplicate client id"));
        let mut v = base();
        v["applications"] =
            json!([{"clientId": "a0000000-0000-4000-8000-000000000001", "roles": []}]);
        v["managedIdentities"] = json!([system("a0000000-0000-4000-8000-000000000001")]);
        assert!(err(v).contains("managedIdentities[0].clientId: duplicate client id"));
        let mut v = base();
        v["managedIdentities"] =
            json!([{"clientId": "a0000000-0000-4000-8000-000000000001", "kind": "vmAssigned"}]);
        assert!(err(v).contains("managedIdentities[0]: unknown variant"));
        let mut v = base();
        v["managedIdentities"] = json!([{"clientId": "a0000000-0000-4000-8000-000000000001", "kind": "userAssigned", "secret": "x"}]);
        assert!(err(v).contains("managedIdentities[0]: unknown field"));
    }

    #[test]
    fn federated_credentials_are_checked() {
        let fic = |name: &str, subject: &str| {
            json!({"name": name,
            "issuer": "https://token.actions.githubusercontent.com", "subject": subject,
            "audiences": ["api://AzureADTokenExchange"]})
        };
        let app = |fics: Value| {
            json!([{"clientId": "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c",
            "roles": [], "federatedIdentityCredentials": fics}])
        };
        let mut v = base();
        v["applications"] = app(json!([
            fic("main", "repo:c/b:ref:refs/heads/main"),
            fic("env", "repo:c/b:environment:prod")
        ]));
        let t = Tenant::from_json(&v.to_string(), "x.json").unwrap();
        assert_eq!(t.applications()[0].federated_identity_credentials.len(), 2);

        v["applications"] = app(json!([fic("main", "s"), fic("Main", "t")]));
        assert!(
            err(v.clone())
                .contains("applications[0].federatedIdentityCredentials[1].name: duplicate name")
        );
        v["applications"] = app(json!([fic("main", "s"), fic("other", "s")]));
        assert!(err(v.clone()).contains(
            "applications[0].federatedIdentityCredentials[1].subject: another credential"
        ));
        v["applications"] = app(json!([fic("main", "")]));
        assert!(
            err(v.clone()).contains("federatedIdentityCredentials[0].subject: must not be empty")
        );
        v["applications"] =
            app(json!([{"name": "n", "issuer": "https://i", "subject": "s", "audiences": [], }]));
        assert!(err(v.clone()).contains("federatedIdentityCredentials[0].audiences"));
        v["applications"] = app(
            json!([{"name": "n", "issuer": "https://i", "subject": "s", "audiences": ["a"], "description": "x"}]),
        );
        assert!(err(v).contains("applications[0]: unknown field `description`"));
    }

    #[test]
    fn needs_an_initial_domain() {
        let mut v = base();
        v["verifiedDomains"] = json!(["t.com"]);
        assert!(err(v).contains("verifiedDomains: no *.onmicrosoft.com"));
    }
}
