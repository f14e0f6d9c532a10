//! `POST /invitations`: new guests, internal-user conversion (`invitedUser.id`), resends and
//! `resetRedemption` (graph-facts.md §1).
//!
//! Choices where Graph documents nothing (the stricter behaviour):
//! - **Permissions:** plain invitations take User.Invite.All, User.ReadWrite.All or
//!   Directory.ReadWrite.All; converting an existing user (`invitedUser.id`) and
//!   `resetRedemption` take only User.ReadWrite.All or Directory.ReadWrite.All. Missing rights
//!   give the observed 401 `Unauthorized` "Insufficient privileges ... MSGraphInviteAPI".
//! - **Body:** unknown properties, read-only ones (`id`, `inviteRedeemUrl`, `status`) and
//!   anything in `invitedUser` other than `id` are 400 `BadRequest`; OData annotations
//!   (`@odata.type`) are accepted anywhere.
//! - **Conversion refused** (400 `BadRequest`) when the user has onPremisesUserPrincipalName,
//!   when the address differs from the user's `mail` (case-insensitive; for a reset it may
//!   also be one of `otherMails`), when the address is in a verified domain, when the user
//!   has an Exchange mailbox, when another object already uses the address, and when the user
//!   already `Accepted` and `resetRedemption` is not set. A user holding directory roles
//!   needs the app's directory roles to cover them (same matrix as PATCH of sensitive
//!   properties), else 403 `Authorization_RequestDenied`; `resetRedemption` of a user holding
//!   any role is always 403 (app-only).
//! - **Delegated callers** (a user token): the permissions above are checked against `scp`;
//!   the signed-in user must also hold a directory role that may do it, else 403
//!   `Authorization_RequestDenied`: a plain invitation takes Guest Inviter, Directory
//!   Writers, User Administrator or Global Administrator (graph-facts §1; the tenant's
//!   guest-invite setting is taken as "admins and guest inviters only", stricter than
//!   Entra's default of everyone); `resetRedemption` takes Helpdesk Administrator, User
//!   Administrator or Global Administrator (graph-facts §1); converting an existing user
//!   (`invitedUser.id` without reset, undocumented) takes User Administrator or Global
//!   Administrator, as editing another user does. A role holder as target is judged by the
//!   user's roles with the PATCH matrix (the app-only reset refusal does not apply). The
//!   email keeps `customizedMessageBody` when the signed-in user has a `mail` (the
//!   troubleshoot.md caveat is about app-only senders and inviters without mail).
//! - **A user converted back to internal** (`externalUserConvertedOn` set by
//!   [`super::conversion`]) is refused for good: 412 with Graph's message "UserState is
//!   neither accepted nor pending" (graph-facts §1, §8); the code, which no source gives,
//!   is `PreconditionFailed`. Checked before every other rule of the target user.
//! - `invitedUserType` is ignored for existing users (their userType stays); the response
//!   reports their actual userType.
//! - **Resend:** a new invitation for a `PendingAcceptance` user supersedes the earlier redeem
//!   link (the old URL then answers 404; its record shows `status: "Superseded"`).
//! - **Emails:** the app-only caveat of troubleshoot.md is applied: `customizedMessageBody`
//!   is left out of the recorded email; `ccRecipients` and `messageLanguage` are kept.
//! - **`blockInvitesAfter: N`:** after N successful invitations every further one gets 403
//!   `Forbidden` "Invitations are blocked for this directory due to suspicious activity",
//!   for good (this also covers invitations sent inside `$batch`).
//!
//! The tenant's policies ([`crate::policy`]), checked for every invitation — plain,
//! conversion or reset — at the moment it is sent ("Both allow/block list and cross-tenant
//! access settings are checked at the time of invitation", ED
//! external-id/allow-deny-list.md). Each refuses that one invitation; the next one to an
//! allowed address goes through (unlike the anti-abuse block). Order: rights, then
//! `allowInvitesFrom`, then the body, then the anti-abuse block, then the domain list, then
//! cross-tenant access, then the target user's own rules.
//! - **`allowInvitesFrom: none`** ("No one in the organization can invite guest users
//!   including admins"): 403 `Authorization_RequestDenied` "Guest invitations not allowed
//!   for your company. Contact your company administrator for more details." — app-only
//!   callers too ("don't work if B2B invitations are disabled on the tenant", GD
//!   invitation-post.md after PR #9556). The code is unconfirmed; the message is the one
//!   admins report. The other values don't restrict app-only callers (PR #9556: "app
//!   permission is fine with invitation restriction now"), and delegated callers keep the
//!   stricter role rule above whatever the value.
//! - **The B2B allow/deny list** (beta `b2bManagementPolicy`): a domain on the deny list
//!   (or under one: subdomains too), or missing from a non-empty allow list, is 400
//!   `BadRequest` "The domain of the user is currently blocked by your invitation policy
//!   …" (the portal's wording, MicrosoftDocs/azure-docs allow-deny-list.md, 2023; the
//!   API's status and code are unconfirmed).
//! - **Cross-tenant access**: the invited domain's partner tenant ([`crate::partners`])
//!   whose resolved inbound B2B collaboration settings (partner configuration first, its
//!   `null`s inheriting the default) block all users or all applications: 400 `BadRequest`
//!   "This invitation is blocked by cross-tenant access settings. Admins in both your
//!   organization and the invited user's organization must configure cross-tenant access
//!   settings to allow the invitation." (message: ED external-id/troubleshoot.md; status
//!   and code unconfirmed). Settings that name particular partner users or groups don't
//!   refuse the invitation (Entra can't tell who the invitee is before they sign in); the
//!   redemption then fails ([`super::redeem`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::users::may_manage_admin;
use super::{AppState, Ctx, json};
use crate::directory::{
    self, Directory, InvitationRecord, MessageKind, MessageRecord, has_mailbox, strings, text,
};
use crate::error::GraphError;
use crate::policy::b2b_list::DomainVerdict;
use crate::policy::cross_tenant::Inbound;
use crate::schema::{is_annotation, schema};

/// Directory roles that let a signed-in user send a plain invitation.
const DELEGATED_INVITERS: &[&str] = &[
    "Guest Inviter",
    "Directory Writers",
    "User Administrator",
    "Global Administrator",
];
/// Directory roles that let a signed-in user convert an existing user.
const DELEGATED_CONVERTERS: &[&str] = &["User Administrator", "Global Administrator"];
/// Directory roles that let a signed-in user reset a user's redemption.
const DELEGATED_RESETTERS: &[&str] = &[
    "Helpdesk Administrator",
    "User Administrator",
    "Global Administrator",
];

const FORBIDDEN_CHARS: &str = "~!#$%^&*()+=[]{}\\/|;:\"<>?,";

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// Whether Graph's invitation API accepts `address` (forbidden characters, `.`/`-` at the
/// edges of the user name).
pub fn is_invitable_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let edge = |s: &str| s.starts_with(['.', '-']) || s.ends_with(['.', '-']);
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !edge(local)
        && !edge(domain)
        && !local.contains('@')
        && !address
            .chars()
            .any(|c| FORBIDDEN_CHARS.contains(c) || c.is_whitespace() || c.is_control())
}

fn strip_annotations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is_annotation(k));
            map.values_mut().for_each(strip_annotations);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

/// `POST /invitations`.
pub async fn create(State(app): State<AppState>, ctx: Ctx, body: axum::body::Bytes) -> Response {
    let result = invite(&app, &ctx, &body);
    ctx.finish(result)
}

struct Request {
    address: String,
    redirect: String,
    send: bool,
    display_name: Option<String>,
    user_type: String,
    reset: bool,
    target: Option<String>,
    language: String,
    cc: Vec<String>,
    custom_body: Option<String>,
    message_info: Value,
}

fn parse(body: &[u8]) -> Result<Request, GraphError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|_| bad("The request body is not valid JSON."))?;
    strip_annotations(&mut value);
    let Value::Object(mut map) = value else {
        return Err(bad("The request body must be a JSON object."));
    };
    let target = match map.remove("invitedUser") {
        None | Some(Value::Null) => None,
        Some(Value::Object(user)) => {
            if let Some(k) = user.keys().find(|k| *k != "id") {
                return Err(bad(format!(
                    "Property 'invitedUser.{k}' is not supported in an invitation."
                )));
            }
            match user.get("id") {
                Some(Value::String(id)) => Some(id.clone()),
                _ => {
                    return Err(bad(
                        "Property 'invitedUser.id' is required and must be a string.",
                    ));
                }
            }
        }
        Some(_) => return Err(bad("Property 'invitedUser' must be an object.")),
    };
    for read_only in ["id", "inviteRedeemUrl", "status"] {
        if map.contains_key(read_only) {
            return Err(bad(format!(
                "Property '{read_only}' is read-only and cannot be set."
            )));
        }
    }
    let whole = Value::Object(map.clone());
    schema()
        .validate_object("microsoft.graph.invitation", &whole, "", true)
        .map_err(|e| bad(format!("Invalid request body: {e}.")))?;
    let string = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    let address = string("invitedUserEmailAddress").ok_or_else(|| {
        bad("The request body is missing the required property 'invitedUserEmailAddress'.")
    })?;
    let redirect = string("inviteRedirectUrl").ok_or_else(|| {
        bad("The request body is missing the required property 'inviteRedirectUrl'.")
    })?;
    if url::Url::parse(&redirect).is_err() {
        return Err(bad("The inviteRedirectUrl is not a valid absolute URL."));
    }
    if !is_invitable_address(&address) {
        return Err(bad(format!(
            "The invited user email address '{address}' is not valid."
        )));
    }
    let user_type = string("invitedUserType").unwrap_or_else(|| "Guest".into());
    if user_type != "Guest" && user_type != "Member" {
        return Err(bad("invitedUserType must be 'Guest' or 'Member'."));
    }
    let info = map
        .get("invitedUserMessageInfo")
        .cloned()
        .unwrap_or(Value::Null);
    let cc: Vec<String> = info
        .get("ccRecipients")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.pointer("/emailAddress/address").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let cc_count = info
        .get("ccRecipients")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if cc_count > 1 {
        return Err(bad("Only one cc recipient is supported."));
    }
    if cc_count != cc.len() || cc.iter().any(|a| !is_invitable_address(a)) {
        return Err(bad("The cc recipient's email address is not valid."));
    }
    let reset = map
        .get("resetRedemption")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if reset && target.is_none() {
        return Err(bad(
            "When resetRedemption is true, the invitedUser/id relationship is required.",
        ));
    }
    Ok(Request {
        address,
        redirect,
        send: map
            .get("sendInvitationMessage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        display_name: string("invitedUserDisplayName"),
        user_type,
        reset,
        target,
        language: info
            .get("messageLanguage")
            .and_then(Value::as_str)
            .unwrap_or("en-US")
            .to_owned(),
        cc,
        custom_body: info
            .get("customizedMessageBody")
            .and_then(Value::as_str)
            .map(str::to_owned),
        message_info: info,
    })
}

fn unauthorized(ctx: &Ctx) -> GraphError {
    GraphError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        format!(
            "Insufficient privileges to perform requested operation by the application '{}'. ControllerName=MSGraphInviteAPI, ActionName=CreateInvite, URL absolute path=/api/{}/invites",
            ctx.principal.app_id, ctx.principal.tenant_id
        ),
    )
}

fn invite(app: &AppState, ctx: &Ctx, body: &[u8]) -> Result<Response, GraphError> {
    super::require_json_body(&ctx.headers, body)?;
    // Rights are checked before the body's details: only whether it targets an existing
    // user (or resets redemption) decides which permission is needed.
    let raw: Value =
        serde_json::from_slice(body).map_err(|_| bad("The request body is not valid JSON."))?;
    let resets = raw.get("resetRedemption") == Some(&Value::Bool(true));
    let targets_user = raw.get("invitedUser").is_some_and(|v| !v.is_null()) || resets;
    let permissions: &[&'static str] = if targets_user {
        &["User.ReadWrite.All", "Directory.ReadWrite.All"]
    } else {
        &[
            "User.Invite.All",
            "User.ReadWrite.All",
            "Directory.ReadWrite.All",
        ]
    };
    ctx.require(permissions).map_err(|_| unauthorized(ctx))?;
    ctx.principal.require_user_role(if resets {
        DELEGATED_RESETTERS
    } else if targets_user {
        DELEGATED_CONVERTERS
    } else {
        DELEGATED_INVITERS
    })?;
    if app.dir.read().policies.allow_invites_from() == "none" {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Guest invitations not allowed for your company. Contact your company administrator for more details.",
        ));
    }
    let req = parse(body)?;

    let mut dir = app.dir.write();
    if app
        .block_invites_after
        .is_some_and(|n| dir.accepted_invitations >= n)
    {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Invitations are blocked for this directory due to suspicious activity. Please contact Microsoft support.",
        ));
    }
    check_policies(&dir, &req.address)?;
    let index = match &req.target {
        Some(id) => existing_user(&mut dir, ctx, &req, id)?,
        None => guest(&mut dir, &req)?,
    };
    let now = directory::now();
    let (user_id, upn, user_type, display_name) = dir.update_user(index, |user| {
        user.insert("externalUserState".into(), json!("PendingAcceptance"));
        user.insert("externalUserStateChangeDateTime".into(), json!(now));
        if req.reset {
            // The old external sign-in is forgotten; the user redeems again.
            if let Some(Value::Array(ids)) = user.get_mut("identities") {
                ids.retain(|i| {
                    i.get("signInType").and_then(Value::as_str) == Some("userPrincipalName")
                });
            }
        }
        let owned = |key: &str| text(user, key).map(str::to_owned);
        (
            owned("id").unwrap_or_default(),
            owned("userPrincipalName").unwrap_or_default(),
            owned("userType").unwrap_or_else(|| "Guest".to_owned()),
            req.display_name.clone().or_else(|| owned("displayName")),
        )
    });
    ctx.target(&user_id);

    for old in dir
        .invitations
        .iter_mut()
        .filter(|i| i.user_id == user_id && i.status == "PendingAcceptance")
    {
        old.status = "Superseded".into();
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let redeem_url = format!("{}redeem/{token}", app.root);
    let id = uuid::Uuid::new_v4().to_string();
    dir.invitations.push(InvitationRecord {
        id: id.clone(),
        user_id: user_id.clone(),
        invited_user_email_address: req.address.clone(),
        invite_redeem_url: redeem_url.clone(),
        status: "PendingAcceptance".into(),
        send_invitation_message: req.send,
        reset_redemption: req.reset,
        created_date_time: now.clone(),
        token,
        redirect_url: req.redirect.clone(),
        passcode: None,
    });
    if req.send {
        let org = organisation(&dir);
        // The custom message reaches the email only from a signed-in inviter with a mail
        // (see the module docs).
        let custom = req.custom_body.as_deref().filter(|_| {
            ctx.principal.delegated.as_ref().is_some_and(|user| {
                dir.find_user(&user.user_id)
                    .is_some_and(|i| text(&dir.users[i], "mail").is_some())
            })
        });
        let custom = custom.map(|c| format!("{c}\n\n")).unwrap_or_default();
        dir.messages.push(MessageRecord {
            kind: MessageKind::Invitation,
            to: req.address.clone(),
            cc: req.cc.clone(),
            language: req.language.clone(),
            body: format!(
                "{custom}You're invited to access applications within the {org} organization. Accept invitation: {redeem_url}"
            ),
            user_id: user_id.clone(),
            invite_redeem_url: redeem_url.clone(),
            sent_date_time: now,
            passcode: None,
        });
    }
    dir.accepted_invitations += 1;
    Ok(json(
        StatusCode::CREATED,
        json!({
            "@odata.context": format!("{}v1.0/$metadata#invitations/$entity", app.root),
            "id": id,
            "inviteRedeemUrl": redeem_url,
            "invitedUserDisplayName": display_name,
            "invitedUserType": user_type,
            "invitedUserEmailAddress": req.address,
            "sendInvitationMessage": req.send,
            "resetRedemption": req.reset,
            "inviteRedirectUrl": req.redirect,
            "status": "PendingAcceptance",
            "invitedUserMessageInfo": {
                "messageLanguage": req.message_info.get("messageLanguage").cloned().unwrap_or(json!("en-US")),
                "customizedMessageBody": req.message_info.get("customizedMessageBody").cloned().unwrap_or(Value::Null),
                "ccRecipients": req.message_info.get("ccRecipients").cloned().unwrap_or(json!([])),
            },
            "invitedUser": {"id": user_id, "userPrincipalName": upn},
        }),
    ))
}

/// The per-invitation policy refusals: the B2B allow/deny list, then cross-tenant access
/// (see the module docs).
fn check_policies(dir: &Directory, address: &str) -> Result<(), GraphError> {
    let domain = directory::domain_of(address).unwrap_or_default();
    match dir.policies.domain_verdict(domain) {
        DomainVerdict::Allowed => {}
        verdict => {
            let why = if verdict == DomainVerdict::Denied {
                "it is on the list of blocked domains"
            } else {
                "it is not on the list of allowed domains"
            };
            return Err(bad(format!(
                "The domain of the user is currently blocked by your invitation policy: {address} can't be invited because {domain} {why}."
            )));
        }
    }
    if let Some(partner) = dir.partner_for_domain(domain)
        && dir.policies.inbound(&partner.tenant_id) == Inbound::Blocked
    {
        return Err(bad(
            "This invitation is blocked by cross-tenant access settings. Admins in both your organization and the invited user's organization must configure cross-tenant access settings to allow the invitation.",
        ));
    }
    Ok(())
}

/// The inviting organisation's name as shown to partners: its default domain.
pub fn organisation(dir: &Directory) -> String {
    dir.verified_domains
        .iter()
        .find(|d| !d.ends_with(".onmicrosoft.com"))
        .unwrap_or(&dir.initial_domain)
        .clone()
}

fn conflict() -> GraphError {
    bad("Another object with the same value for property proxyAddresses already exists.")
}

fn existing_user(
    dir: &mut Directory,
    ctx: &Ctx,
    req: &Request,
    id: &str,
) -> Result<usize, GraphError> {
    let index = dir
        .find_user(id)
        .filter(|i| text(&dir.users[*i], "id").is_some_and(|u| u.eq_ignore_ascii_case(id)))
        .ok_or_else(|| GraphError::not_found(id))?;
    let user = &dir.users[index];
    let user_id = text(user, "id").unwrap_or_default().to_owned();
    ctx.target(&user_id);
    if user
        .get("externalUserConvertedOn")
        .is_some_and(|v| !v.is_null())
    {
        // Converted back to internal (`convertExternalToInternalMemberUser`): never invited
        // to B2B again (graph-facts §1, §8).
        return Err(GraphError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "UserState is neither accepted nor pending.",
        ));
    }
    if user
        .get("onPremisesUserPrincipalName")
        .is_some_and(|v| !v.is_null())
    {
        return Err(bad(
            "The user has an onPremisesUserPrincipalName; converting such users to external users is blocked.",
        ));
    }
    let address = req.address.to_lowercase();
    let matches_mail = text(user, "mail").is_some_and(|m| m.to_lowercase() == address);
    let matches_other = strings(user, "otherMails").any(|m| m.to_lowercase() == address);
    if !(matches_mail || (req.reset && matches_other)) {
        return Err(bad(
            "The invited user email address must match the mail property of the invited user.",
        ));
    }
    if directory::domain_of(&address).is_some_and(|d| dir.is_verified_domain(d)) {
        return Err(bad(
            "The invited user email address belongs to a verified domain of this directory.",
        ));
    }
    if has_mailbox(user) {
        return Err(bad(
            "The invited user has an Exchange mailbox; B2B users with a mailbox are not supported.",
        ));
    }
    if dir.address_owner(&address, &user_id).is_some() {
        return Err(conflict());
    }
    let roles: Vec<&str> = dir
        .roles_of(&user_id)
        .iter()
        .map(|r| r.display_name.as_str())
        .collect();
    if req.reset && !roles.is_empty() && ctx.principal.delegated.is_none() {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "For app-only calls, the redemption status can't be reset if there are any roles assigned to the target user account.",
        ));
    }
    let standing = dir.admin_standing(&user_id);
    let standing: Vec<&str> = standing.iter().map(String::as_str).collect();
    if !may_manage_admin(&ctx.principal, &standing) {
        return Err(GraphError::denied());
    }
    if text(user, "externalUserState") == Some("Accepted") && !req.reset {
        return Err(bad(
            "The user has already redeemed an invitation. Set resetRedemption to true to invite them again.",
        ));
    }
    Ok(index)
}

fn guest(dir: &mut Directory, req: &Request) -> Result<usize, GraphError> {
    let address = req.address.to_lowercase();
    if let Some((owner, _)) = dir.address_owner(&address, "") {
        let Some(index) = dir.find_user(&owner) else {
            return Err(conflict());
        };
        let user = &dir.users[index];
        let is_guest_for_address = text(user, "creationType") == Some("Invitation")
            && text(user, "mail").is_some_and(|m| m.to_lowercase() == address);
        if !is_guest_for_address {
            return Err(bad(format!(
                "The invited user already exists in the directory as objectID: {owner}. Use invitedUser.id to invite an existing user."
            )));
        }
        if text(user, "externalUserState") == Some("Accepted") {
            return Err(bad(
                "The user has already redeemed an invitation. Set resetRedemption to true to invite them again.",
            ));
        }
        return Ok(index);
    }
    if directory::domain_of(&address).is_some_and(|d| dir.is_verified_domain(d)) {
        return Err(bad(
            "The invited user email address belongs to a verified domain of this directory.",
        ));
    }
    let upn = format!(
        "{}#EXT#@{}",
        req.address.replace('@', "_"),
        dir.initial_domain
    );
    if dir.find_user(&upn).is_some() {
        return Err(bad(
            "Another object with the same value for property userPrincipalName already exists.",
        ));
    }
    let local = req.address.split('@').next().unwrap_or_default().to_owned();
    let mut user = Map::new();
    let id = uuid::Uuid::new_v4().to_string();
    for (k, v) in [
        ("id", json!(id)),
        (
            "displayName",
            json!(req.display_name.clone().unwrap_or(local)),
        ),
        ("userPrincipalName", json!(upn)),
        ("mail", json!(req.address)),
        ("otherMails", json!([req.address])),
        ("proxyAddresses", json!([format!("SMTP:{}", req.address)])),
        ("userType", json!(req.user_type)),
        ("creationType", json!("Invitation")),
        ("accountEnabled", json!(true)),
        ("createdDateTime", json!(directory::now())),
        (
            "identities",
            json!([{"signInType": "userPrincipalName", "issuer": dir.initial_domain, "issuerAssignedId": upn}]),
        ),
    ] {
        user.insert(k.to_owned(), v);
    }
    Ok(dir.add_user(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_forbidden_characters_and_bad_edges() {
        assert!(is_invitable_address("first_last@fabrikam.com"));
        assert!(is_invitable_address("first.last-x@fabrikam.com"));
        for bad in [
            "a+b@fabrikam.com",
            "a#b@fabrikam.com",
            "a,b@fabrikam.com",
            ".ab@fabrikam.com",
            "ab.@fabrikam.com",
            "-ab@fabrikam.com",
            "ab-@fabrikam.com",
            "ab@fabrikam",
            "a b@fabrikam.com",
            "nobody",
        ] {
            assert!(!is_invitable_address(bad), "{bad}");
        }
    }

    #[test]
    fn annotations_are_stripped_everywhere() {
        let mut v = json!({"@odata.type": "#microsoft.graph.invitation",
            "invitedUser": {"@odata.type": "#microsoft.graph.user", "id": "x"}});
        strip_annotations(&mut v);
        assert_eq!(v, json!({"invitedUser": {"id": "x"}}));
    }
}
