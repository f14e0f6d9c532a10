//! `/users` (list, `$count`, get, PATCH, revokeSignInSessions), and the `/groups` and
//! `/contacts` lists that share the query engine.
//!
//! PATCH rules and the choices made where Graph documents nothing (stricter):
//! - Unknown properties, navigation properties and wrong JSON types are 400
//!   `Request_BadRequest`; read-only properties (proxyAddresses, every `onPremises*` except
//!   onPremisesImmutableId, externalUserState*, creationType, assignedPlans, ...) are 400.
//! - **On-premises synced users** (`onPremisesSyncEnabled: true`) refuse every property
//!   except `usageLocation` and `preferredDataLocation` (mail, otherMails, userType,
//!   accountEnabled and passwordProfile included) with Graph's "on-premises mastered"
//!   message.
//! - **Sensitive properties** (accountEnabled, businessPhones, mobilePhone,
//!   onPremisesImmutableId, otherMails, passwordProfile, userPrincipalName) on a user holding
//!   directory roles need the app's service principal to hold User Administrator (targets
//!   whose roles are all in the "limited admin" list), or Privileged Authentication
//!   Administrator / Global Administrator (any target); Helpdesk and Password Administrator
//!   are not counted as sufficient. `passwordProfile` needs at least User Administrator for
//!   every target. Else 403 `Authorization_RequestDenied`.
//! - `mail` must be an ASCII address, may not be null, and may not equal another object's
//!   mail, proxy address, userPrincipalName or otherMails entry (400). With an Exchange
//!   mailbox, a mail outside the verified domains is 400 "originated within an external
//!   service". A mail change rewrites proxyAddresses ([`crate::directory::rewrite_proxy_addresses`]).
//! - `identities` needs `User.ManageIdentities.All` (or Directory.ReadWrite.All) and must keep
//!   the `userPrincipalName` entry.
//! - **Delegated callers** (a user token): the permissions above are checked against `scp`,
//!   and the directory-role rules against the signed-in user's roles (Graph's effective
//!   permission is the intersection). On top of that, every delegated PATCH and
//!   revokeSignInSessions needs the user to hold User Administrator, Privileged
//!   Authentication Administrator or Global Administrator, whoever the target is — the
//!   signed-in user's own object included (stricter: which of their own properties a user
//!   may change is a tenant setting, and none of the tool's changes are self-service).
//!   Reads need only the scope.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{AppState, Ctx, json};
use crate::directory::{self, Directory, has_mailbox, strings, text};
use crate::error::GraphError;
use crate::query::{self, CONTACTS, EntitySet, GROUPS, USERS};
use crate::schema::{SchemaErrorKind, is_annotation, schema};

const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const CONTACT_READ: &[&str] = &[
    "OrgContact.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Directory roles whose holders a User Administrator may manage ("limited admins").
const LIMITED_ADMIN_ROLES: &[&str] = &[
    "Directory Readers",
    "Guest Inviter",
    "Message Center Reader",
    "Password Administrator",
    "Helpdesk Administrator",
    "Groups Administrator",
    "User Administrator",
    "Reports Reader",
    "Usage Summary Reports Reader",
];

/// Whether the caller's directory roles (the app's service principal's, or the signed-in
/// user's for a delegated token) allow sensitive changes to a user holding `target_roles`.
pub fn may_manage_admin(principal: &crate::principal::Principal, target_roles: &[&str]) -> bool {
    if target_roles.is_empty() {
        return true;
    }
    if principal.has_directory_role(&[
        "Global Administrator",
        "Privileged Authentication Administrator",
    ]) {
        return true;
    }
    target_roles.iter().all(|r| LIMITED_ADMIN_ROLES.contains(r))
        && principal.has_directory_role(&["User Administrator"])
}

fn list_of(
    app: &AppState,
    ctx: &Ctx,
    raw: Option<&str>,
    set: &EntitySet,
    perms: &[&'static str],
) -> Result<Response, GraphError> {
    ctx.require(perms)?;
    let opts = query::parse_options(raw)?;
    let eventual = query::is_eventual(&ctx.headers);
    let dir = app.dir.read();
    let objects = match set.name {
        "users" => &dir.users,
        "groups" => &dir.groups,
        _ => &dir.org_contacts,
    };
    let body = query::list(objects, set, &opts, eventual, &app.root)?;
    Ok(json(StatusCode::OK, body))
}

/// `GET /users`.
pub async fn list(State(app): State<AppState>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    ctx.finish(list_of(&app, &ctx, raw.as_deref(), &USERS, USER_READ))
}

/// `GET /groups`.
pub async fn list_groups(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    ctx.finish(list_of(&app, &ctx, raw.as_deref(), &GROUPS, GROUP_READ))
}

/// `GET /contacts`.
pub async fn list_contacts(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    ctx.finish(list_of(&app, &ctx, raw.as_deref(), &CONTACTS, CONTACT_READ))
}

/// `GET /users/$count` (text/plain; needs `ConsistencyLevel: eventual`).
pub async fn count(State(app): State<AppState>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let result = (|| {
        ctx.require(USER_READ)?;
        let opts = query::parse_options(raw.as_deref())?;
        let n = query::count(
            &app.dir.read().users,
            &USERS,
            &opts,
            query::is_eventual(&ctx.headers),
        )?;
        Ok((
            StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            n.to_string(),
        )
            .into_response())
    })();
    ctx.finish(result)
}

/// `GET /users/{id | userPrincipalName}`.
pub async fn get_one(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let result = (|| {
        ctx.require(USER_READ)?;
        let opts = query::parse_options(raw.as_deref())?;
        if opts.filter.is_some() || opts.top.is_some() || opts.count {
            return Err(GraphError::bad_request(
                "Only $select is supported when reading a single user.",
            ));
        }
        opts.check_select(USERS.type_name)?;
        let dir = app.dir.read();
        let index = ctx.target_user(&dir, &key)?;
        let user = &dir.users[index];
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(query::context(
                &app.root,
                "users",
                opts.select.as_deref(),
                true,
            )),
        );
        body.extend(query::project(user, &USERS, opts.select.as_deref()));
        Ok(json(StatusCode::OK, Value::Object(body)))
    })();
    ctx.finish(result)
}

/// `POST /users/{id}/revokeSignInSessions`.
pub async fn revoke_sessions(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Response {
    let result = (|| {
        ctx.require(&[
            "User.RevokeSessions.All",
            "User.ReadWrite.All",
            "Directory.ReadWrite.All",
        ])?;
        ctx.principal.require_user_role(DELEGATED_USER_WRITERS)?;
        let mut dir = app.dir.write();
        let index = ctx.target_user(&dir, &key)?;
        dir.update_user(index, |user| {
            user.insert(
                "signInSessionsValidFromDateTime".into(),
                Value::String(directory::now()),
            )
        });
        Ok(json(
            StatusCode::OK,
            json!({"@odata.context": format!("{}v1.0/$metadata#Edm.Boolean", app.root), "value": true}),
        ))
    })();
    ctx.finish(result)
}

const READ_ONLY: &[&str] = &[
    "id",
    "deletedDateTime",
    "proxyAddresses",
    "creationType",
    "createdDateTime",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "assignedPlans",
    "assignedLicenses",
    "provisionedPlans",
    "licenseAssignmentStates",
    "lastPasswordChangeDateTime",
    "signInSessionsValidFromDateTime",
    "signInActivity",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "mailboxSettings",
    "isManagementRestricted",
    "identityParentId",
    "print",
    "authorizationInfo",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "onPremisesExtensionAttributes",
];

const SENSITIVE: &[&str] = &[
    "accountEnabled",
    "businessPhones",
    "mobilePhone",
    "onPremisesImmutableId",
    "otherMails",
    "passwordProfile",
    "userPrincipalName",
];

const CLOUD_WRITABLE_WHEN_SYNCED: &[&str] = &["usageLocation", "preferredDataLocation"];

/// Directory roles a signed-in user needs to change users through a delegated token.
const DELEGATED_USER_WRITERS: &[&str] = &[
    "User Administrator",
    "Privileged Authentication Administrator",
    "Global Administrator",
];

const GENERAL_WRITE: &[&str] = &[
    "User.ReadUpdate.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// The permissions (least first) that allow writing one property.
fn write_permissions(property: &str) -> Vec<&'static str> {
    let specific: &[&'static str] = match property {
        "otherMails" => &["User-Mail.ReadWrite.All"],
        "passwordProfile" => &["User-PasswordProfile.ReadWrite.All"],
        "businessPhones" | "mobilePhone" => &["User-Phone.ReadWrite.All"],
        "identities" => return vec!["User.ManageIdentities.All", "Directory.ReadWrite.All"],
        _ => &[],
    };
    specific.iter().chain(GENERAL_WRITE).copied().collect()
}

/// Whether `address` is a plausible ASCII email address (Graph refuses accents in mail).
pub fn is_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && address.is_ascii()
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
}

fn invalid_value(property: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value specified for property '{property}' of resource 'User'."
    ))
}

/// `PATCH /users/{id}`.
pub async fn patch(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = patch_user(&app, &ctx, &key, &body);
    ctx.finish(result)
}

fn patch_user(app: &AppState, ctx: &Ctx, key: &str, body: &[u8]) -> Result<Response, GraphError> {
    super::require_json_body(&ctx.headers, body)?;
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        GraphError::bad_request("Invalid request body: the body must be a JSON object.")
    })?;
    let Value::Object(mut changes) = value else {
        return Err(GraphError::bad_request(
            "Invalid request body: the body must be a JSON object.",
        ));
    };
    changes.retain(|k, _| !is_annotation(k));
    if let Err(e) =
        schema().validate_object(USERS.type_name, &Value::Object(changes.clone()), "", true)
    {
        let top = e.path.split(['.', '[']).next().unwrap_or("").to_owned();
        return Err(match e.kind {
            SchemaErrorKind::Unknown if !e.path.contains('.') && !e.path.contains('[') => {
                GraphError::bad_request(format!(
                    "Property '{top}' does not exist as a declared property or extension property."
                ))
            }
            SchemaErrorKind::Navigation => GraphError::bad_request(format!(
                "Property '{top}' is a navigation property and cannot be set with PATCH."
            )),
            _ => invalid_value(&top),
        });
    }
    if let Some(read_only) = changes.keys().find(|k| READ_ONLY.contains(&k.as_str())) {
        return Err(GraphError::bad_request(format!(
            "Property '{read_only}' is read-only and cannot be set."
        )));
    }

    // Permissions: every property must be covered; log the permissions used.
    let mut used: Vec<&'static str> = Vec::new();
    let general = ctx.principal.require_any(GENERAL_WRITE).ok();
    for property in changes.keys() {
        let p = if property == "accountEnabled" {
            // Its least permission is a pair: User.EnableDisableAccount.All + User.Read.All.
            let pair = ctx.principal.holds("User.EnableDisableAccount.All")
                && ctx.principal.holds("User.Read.All");
            if pair {
                "User.EnableDisableAccount.All"
            } else {
                general.ok_or_else(GraphError::denied)?
            }
        } else {
            ctx.principal.require_any(&write_permissions(property))?
        };
        if !used.contains(&p) {
            used.push(p);
        }
    }
    if changes.is_empty() {
        // An empty PATCH is a no-op, but still needs write rights.
        used.push(general.ok_or_else(GraphError::denied)?);
    }
    ctx.permission(&used.join(" + "));
    ctx.principal.require_user_role(DELEGATED_USER_WRITERS)?;

    let mut dir = app.dir.write();
    let index = ctx.target_user(&dir, key)?;
    let user_id = text(&dir.users[index], "id").unwrap_or_default().to_owned();
    let user = &dir.users[index];

    if user.get("onPremisesSyncEnabled") == Some(&Value::Bool(true))
        && changes
            .keys()
            .any(|k| !CLOUD_WRITABLE_WHEN_SYNCED.contains(&k.as_str()))
    {
        return Err(GraphError::bad_request(
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
        ));
    }

    let sensitive = changes.keys().any(|k| SENSITIVE.contains(&k.as_str()));
    if sensitive {
        let standing = dir.admin_standing(&user_id);
        let role_names: Vec<&str> = standing.iter().map(String::as_str).collect();
        if !may_manage_admin(&ctx.principal, &role_names) {
            return Err(GraphError::denied());
        }
    }
    if changes.contains_key("passwordProfile")
        && !ctx.principal.has_directory_role(&[
            "User Administrator",
            "Privileged Authentication Administrator",
            "Global Administrator",
        ])
    {
        return Err(GraphError::denied());
    }

    validate_values(&dir, &changes, user, &user_id)?;

    let verified = dir.verified_domains.clone();
    let mailbox = has_mailbox(&dir.users[index]);
    dir.update_user(index, |user| {
        for (property, value) in changes {
            match property.as_str() {
                "mail" => {
                    let new_mail = value.as_str().unwrap_or_default().to_owned();
                    let current: Vec<String> =
                        strings(user, "proxyAddresses").map(str::to_owned).collect();
                    let rewritten =
                        directory::rewrite_proxy_addresses(&current, &new_mail, &verified, mailbox);
                    user.insert("proxyAddresses".into(), json!(rewritten));
                    user.insert("mail".into(), Value::String(new_mail));
                }
                "passwordProfile" => {
                    let mut profile = value.as_object().cloned().unwrap_or_default();
                    // Graph never stores or returns the password itself.
                    profile.insert("password".into(), Value::Null);
                    user.insert("passwordProfile".into(), Value::Object(profile));
                    user.insert(
                        "lastPasswordChangeDateTime".into(),
                        Value::String(directory::now()),
                    );
                }
                "userPrincipalName" => {
                    // The sign-in identity follows the UPN, as in Entra.
                    if let Some(Value::Array(ids)) = user.get_mut("identities") {
                        for identity in ids.iter_mut() {
                            if identity.get("signInType").and_then(Value::as_str)
                                == Some("userPrincipalName")
                            {
                                identity["issuerAssignedId"] = value.clone();
                            }
                        }
                    }
                    user.insert(property, value);
                }
                _ => {
                    user.insert(property, value);
                }
            }
        }
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn validate_values(
    dir: &Directory,
    changes: &Map<String, Value>,
    user: &Map<String, Value>,
    user_id: &str,
) -> Result<(), GraphError> {
    if let Some(mail) = changes.get("mail") {
        let Some(mail) = mail.as_str() else {
            return Err(invalid_value("mail"));
        };
        if !is_address(mail) {
            return Err(invalid_value("mail"));
        }
        let domain = directory::domain_of(mail).unwrap_or_default();
        if has_mailbox(user) && !dir.is_verified_domain(domain) {
            return Err(GraphError::bad_request(
                "Unable to update the specified properties for objects that have originated within an external service.",
            ));
        }
        if dir.address_owner(mail, user_id).is_some() {
            return Err(GraphError::bad_request(
                "Another object with the same value for property proxyAddresses already exists.",
            ));
        }
    }
    if let Some(value) = changes.get("otherMails") {
        let items = value.as_array().cloned().unwrap_or_default();
        if items.len() > 250
            || items
                .iter()
                .any(|v| v.as_str().is_none_or(|s| s.len() > 250 || !is_address(s)))
        {
            return Err(invalid_value("otherMails"));
        }
    }
    if let Some(value) = changes.get("userType")
        && !matches!(value.as_str(), Some("Member" | "Guest"))
    {
        return Err(invalid_value("userType"));
    }
    if changes.get("accountEnabled").is_some_and(Value::is_null) {
        return Err(invalid_value("accountEnabled"));
    }
    if let Some(value) = changes.get("userPrincipalName") {
        let upn = value.as_str().unwrap_or_default();
        let domain = directory::domain_of(upn).unwrap_or_default();
        if !is_address(upn) || !dir.is_verified_domain(domain) {
            return Err(invalid_value("userPrincipalName"));
        }
        if dir
            .find_user(upn)
            .is_some_and(|i| text(&dir.users[i], "id") != Some(user_id))
        {
            return Err(GraphError::bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            ));
        }
    }
    if let Some(value) = changes.get("identities") {
        let keeps_upn = value.as_array().is_some_and(|ids| {
            ids.iter()
                .any(|i| i.get("signInType").and_then(Value::as_str) == Some("userPrincipalName"))
        });
        if !keeps_upn {
            return Err(invalid_value("identities"));
        }
    }
    if let Some(value) = changes.get("passwordProfile") {
        let ok = value
            .get("password")
            .and_then(Value::as_str)
            .is_some_and(|p| p.chars().count() >= 8);
        if !ok {
            return Err(invalid_value("passwordProfile"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_addresses() {
        assert!(is_address("a.b@fabrikam.com"));
        assert!(!is_address("a b@fabrikam.com"));
        assert!(!is_address("josé@fabrikam.com"));
        assert!(!is_address("nobody"));
        assert!(!is_address("a@localhost"));
    }

    #[test]
    fn sensitive_permissions_are_least_first() {
        assert_eq!(
            write_permissions("otherMails")[0],
            "User-Mail.ReadWrite.All"
        );
        assert_eq!(write_permissions("mail")[0], "User.ReadUpdate.All");
    }
}
