//! `POST /beta/users/{id}/convertExternalToInternalMemberUser`: turning an external user
//! back into an internal member (beta only; no v1.0 page exists).
//!
//! Sources (GD = microsoft-graph-docs-contrib/api-reference, ED = entra-docs):
//! GD beta/api/user-convertexternaltointernalmemberuser.md (permissions, body, the
//! `conversionUserDetails` answer, the synced-user example without a body) and ED
//! docs/identity/users/convert-external-users-internal.md (eligibility, the error table,
//! "A user cannot be converted if they have a role assigned to them").
//!
//! What the emulator does:
//! - **Permissions:** User-ConvertToInternal.ReadWrite.All or User.ReadWrite.All, the two
//!   the page lists (Directory.ReadWrite.All is refused: stricter, the page does not name
//!   it); else 403 `Authorization_RequestDenied`. A delegated caller must also hold User
//!   Administrator, Privileged Authentication Administrator or Global Administrator ("at
//!   least the User Administrator role").
//! - **Body:** `userPrincipalName`, `passwordProfile` and `mail` only; anything else, or a
//!   value of the wrong JSON type (the page's example sends
//!   `"forceChangePasswordNextSignIn": "true"` as a string; the schema says Boolean and the
//!   SDKs send one), is 400 (stricter). An empty body is allowed (the synced-user example).
//! - **Eligibility:** only an external user may be converted: one with an invitation
//!   (`externalUserState` set, `PendingAcceptance` or `Accepted`) or an external sign-in
//!   identity (`signInType` `federated`). Entra decides by "an internal property that stores
//!   information regarding external sign in types", which Graph does not show; whether an
//!   invited user who has not redeemed yet counts is undocumented, and the emulator counts
//!   them (the client handles a refusal the same way either way). Anyone else: 400 "The user
//!   authentication is already internal and is not eligible for conversion." A user holding
//!   a directory role: 400 "A user cannot be converted if they have a role assigned to
//!   them." (status chosen: the ED page lists it as a known issue without an answer).
//! - **Synced users** (`onPremisesSyncEnabled: true`): a body with `userPrincipalName` or
//!   `passwordProfile` is 400 "For users synchronized from on-premises, userPrincipalName
//!   and passwordProfile must be empty" (ED's example); without them the user is converted
//!   and keeps the UPN the on-premises directory masters.
//! - **Cloud users:** `userPrincipalName` and `passwordProfile` are both required (ED:
//!   "Required: Yes"; GD: "Required for users whose authentication is managed in the
//!   cloud"). An empty or missing UPN is 400 "The provided UPN cannot be empty."; one that is
//!   not an address, holds `#`, or is outside the verified domains is 400 "The provided UPN
//!   does not have a valid domain."; one another user holds is 400 "Another object with the
//!   same value for property userPrincipalName already exists." (chosen: PATCH's answer). A
//!   missing password, one shorter than 8 characters or with fewer than three of upper
//!   case, lower case, digits and symbols is 400 "The provided password is not valid."
//!   (Entra's complexity rule; the missing case is undocumented). No domain is federated in
//!   the emulator, so ED's "non-federated UPN domain" rule never refuses here.
//! - **mail** (optional): empty is 400 "The mail provided cannot be empty."; outside the
//!   verified domains 400 "The provided UPN does not have a valid domain." (ED's table words
//!   it so); used by another object 400 (PATCH's proxyAddresses answer).
//! - Every refusal above uses the code `badRequest`, the one code the ED page shows for this
//!   API (the others are undocumented).
//!
//! The conversion: `userType` becomes `Member`; `externalUserState` and its change time
//! become null; every sign-in identity but the `userPrincipalName` one is removed; the UPN
//! (and that identity) take the new value; `passwordProfile` is stored as PATCH stores it
//! (never the password itself) with `lastPasswordChangeDateTime`; `mail` is set when given;
//! `externalUserConvertedOn` is stamped (a beta property: visible in the state document,
//! not through `/v1.0`). A still-pending invitation's link stops working (its record's
//! status becomes `Cancelled`; undocumented). The answer is 200 `conversionUserDetails`
//! (`displayName`, `userPrincipalName`, `mail`, `convertedToInternalUserDateTime`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{AppState, Ctx, json};
use crate::directory::{self, Directory, has_mailbox, strings, text};
use crate::error::GraphError;
use crate::schema::{is_annotation, schema};

/// The permissions the page lists, least privileged first.
const CONVERT: &[&str] = &["User-ConvertToInternal.ReadWrite.All", "User.ReadWrite.All"];

/// Directory roles a signed-in caller needs ("at least User Administrator").
const DELEGATED_CONVERTERS: &[&str] = &[
    "User Administrator",
    "Privileged Authentication Administrator",
    "Global Administrator",
];

/// A refusal of this API: 400 with the code its one documented error body carries.
fn refuse(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "badRequest", message)
}

/// What the request asks for.
struct Conversion {
    user_principal_name: Option<String>,
    password_profile: Option<Map<String, Value>>,
    mail: Option<String>,
}

/// `POST /beta/users/{id}/convertExternalToInternalMemberUser`.
pub async fn convert(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = convert_user(&app, &ctx, &key, &body);
    ctx.finish(result)
}

fn convert_user(app: &AppState, ctx: &Ctx, key: &str, body: &[u8]) -> Result<Response, GraphError> {
    ctx.require(CONVERT)?;
    ctx.principal.require_user_role(DELEGATED_CONVERTERS)?;
    super::require_json_body(&ctx.headers, body)?;
    let request = parse(body)?;

    let mut dir = app.dir.write();
    let index = ctx.target_user(&dir, key)?;
    let user = &dir.users[index];
    let user_id = text(user, "id").unwrap_or_default().to_owned();
    if !is_external(user) {
        return Err(refuse(
            "The user authentication is already internal and is not eligible for conversion.",
        ));
    }
    if !dir.roles_of(&user_id).is_empty() {
        return Err(refuse(
            "A user cannot be converted if they have a role assigned to them.",
        ));
    }
    let synced = user.get("onPremisesSyncEnabled") == Some(&Value::Bool(true));
    if synced {
        if request.user_principal_name.is_some() || request.password_profile.is_some() {
            return Err(refuse(
                "For users synchronized from on-premises, userPrincipalName and passwordProfile must be empty",
            ));
        }
    } else {
        check_cloud(&dir, &request, &user_id)?;
    }
    if let Some(mail) = &request.mail {
        check_mail(&dir, mail, &user_id)?;
    }

    let now = directory::now();
    let verified = dir.verified_domains.clone();
    // Entra's own sign-in identity names the initial domain as issuer (as the tenant's
    // users show), whatever the UPN's domain.
    let issuer = dir.initial_domain.clone();
    let mailbox = has_mailbox(user);
    let details = dir.update_user(index, |user| {
        user.insert("userType".into(), json!("Member"));
        user.insert("externalUserState".into(), Value::Null);
        user.insert("externalUserStateChangeDateTime".into(), Value::Null);
        user.insert("externalUserConvertedOn".into(), json!(now));
        let upn = request
            .user_principal_name
            .clone()
            .or_else(|| text(user, "userPrincipalName").map(str::to_owned))
            .unwrap_or_default();
        let mut identities: Vec<Value> = match user.get("identities") {
            Some(Value::Array(ids)) => ids
                .iter()
                .filter(|i| i.get("signInType").and_then(Value::as_str) == Some("userPrincipalName"))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        if identities.is_empty() {
            identities.push(json!({"signInType": "userPrincipalName", "issuer": issuer}));
        }
        for identity in &mut identities {
            identity["issuerAssignedId"] = json!(upn);
        }
        user.insert("identities".into(), Value::Array(identities));
        user.insert("userPrincipalName".into(), json!(upn));
        if let Some(mut profile) = request.password_profile.clone() {
            // Graph never stores or returns the password itself.
            profile.insert("password".into(), Value::Null);
            user.insert("passwordProfile".into(), Value::Object(profile));
            user.insert("lastPasswordChangeDateTime".into(), json!(now));
        }
        if let Some(mail) = &request.mail {
            let current: Vec<String> = strings(user, "proxyAddresses").map(str::to_owned).collect();
            let rewritten = directory::rewrite_proxy_addresses(&current, mail, &verified, mailbox);
            user.insert("proxyAddresses".into(), json!(rewritten));
            user.insert("mail".into(), json!(mail));
        }
        json!({
            "@odata.context": format!("{}beta/$metadata#microsoft.graph.conversionUserDetails", app.root),
            "displayName": user.get("displayName").cloned().unwrap_or(Value::Null),
            "userPrincipalName": upn,
            "mail": user.get("mail").cloned().unwrap_or(Value::Null),
            "convertedToInternalUserDateTime": now,
        })
    });
    for invitation in dir
        .invitations
        .iter_mut()
        .filter(|i| i.user_id == user_id && i.status == "PendingAcceptance")
    {
        invitation.status = "Cancelled".into();
    }
    Ok(json(StatusCode::OK, details))
}

/// Reads the body: the three documented parameters, checked against the schema's types.
fn parse(body: &[u8]) -> Result<Conversion, GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Conversion {
            user_principal_name: None,
            password_profile: None,
            mail: None,
        });
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| refuse("The request body is not valid JSON."))?;
    let Value::Object(mut map) = value else {
        return Err(refuse("The request body must be a JSON object."));
    };
    map.retain(|k, _| !is_annotation(k));
    if let Some(unknown) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "userPrincipalName" | "passwordProfile" | "mail"))
    {
        return Err(refuse(format!(
            "Property '{unknown}' is not a parameter of convertExternalToInternalMemberUser."
        )));
    }
    let string = |name: &str| -> Result<Option<String>, GraphError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(refuse(format!("Property '{name}' must be a string."))),
        }
    };
    let user_principal_name = string("userPrincipalName")?;
    let mail = string("mail")?;
    let password_profile = match map.get("passwordProfile") {
        None | Some(Value::Null) => None,
        Some(profile @ Value::Object(object)) => {
            schema()
                .validate_object(
                    "microsoft.graph.passwordProfile",
                    profile,
                    "passwordProfile",
                    true,
                )
                .map_err(|e| refuse(format!("Invalid value for passwordProfile: {e}.")))?;
            let mut object = object.clone();
            object.retain(|k, _| !is_annotation(k));
            Some(object)
        }
        Some(_) => return Err(refuse("Property 'passwordProfile' must be an object.")),
    };
    Ok(Conversion {
        user_principal_name,
        password_profile,
        mail,
    })
}

/// Whether a user signs in (or is invited to sign in) with an identity from outside the
/// tenant: an invitation, or a federated sign-in identity.
fn is_external(user: &Map<String, Value>) -> bool {
    let invited = text(user, "externalUserState").is_some_and(|s| !s.trim().is_empty());
    let federated = user
        .get("identities")
        .and_then(Value::as_array)
        .is_some_and(|ids| {
            ids.iter()
                .any(|i| i.get("signInType").and_then(Value::as_str) == Some("federated"))
        });
    invited || federated
}

/// A cloud user's new UPN and password (see the module docs).
fn check_cloud(dir: &Directory, request: &Conversion, user_id: &str) -> Result<(), GraphError> {
    let upn = request
        .user_principal_name
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| refuse("The provided UPN cannot be empty."))?;
    let domain = directory::domain_of(upn).unwrap_or_default();
    if !super::users::is_address(upn) || upn.contains('#') || !dir.is_verified_domain(domain) {
        return Err(refuse("The provided UPN does not have a valid domain."));
    }
    if dir
        .find_user(upn)
        .is_some_and(|i| text(&dir.users[i], "id") != Some(user_id))
    {
        return Err(refuse(
            "Another object with the same value for property userPrincipalName already exists.",
        ));
    }
    let password = request
        .password_profile
        .as_ref()
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !is_complex_password(password) {
        return Err(refuse("The provided password is not valid."));
    }
    Ok(())
}

/// Entra's password complexity: at least 8 characters, three of the four kinds.
fn is_complex_password(password: &str) -> bool {
    let kinds = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    password.chars().count() >= 8 && kinds.iter().filter(|k| **k).count() >= 3
}

/// An optional new `mail` (see the module docs).
fn check_mail(dir: &Directory, mail: &str, user_id: &str) -> Result<(), GraphError> {
    if mail.trim().is_empty() {
        return Err(refuse("The mail provided cannot be empty."));
    }
    let domain = directory::domain_of(mail).unwrap_or_default();
    if !super::users::is_address(mail) || !dir.is_verified_domain(domain) {
        return Err(refuse("The provided UPN does not have a valid domain."));
    }
    if dir.address_owner(mail, user_id).is_some() {
        return Err(refuse(
            "Another object with the same value for property proxyAddresses already exists.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_follow_entras_complexity_rule() {
        assert!(is_complex_password("Xq7!abcdef"));
        assert!(is_complex_password("abcdefG1"));
        assert!(!is_complex_password("Ab1!"), "too short");
        assert!(!is_complex_password("abcdefgh1"), "two kinds");
    }

    #[test]
    fn invited_or_federated_users_are_external() {
        let user = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(is_external(&user(
            json!({"externalUserState": "PendingAcceptance"})
        )));
        assert!(is_external(&user(
            json!({"identities": [{"signInType": "federated", "issuer": "ExternalAzureAD"}]})
        )));
        assert!(!is_external(&user(
            json!({"externalUserState": null, "identities": [{"signInType": "userPrincipalName"}]})
        )));
    }
}
