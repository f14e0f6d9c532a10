//! The partner's side of an invitation: `GET {root}redeem/{token}` shows the sign-in and
//! consent the partner would see, `POST` to the same URL (a form) accepts it, as redeeming
//! in Entra does: `externalUserState` becomes `Accepted` and an external identity is added.
//!
//! Which sign-in ([`crate::policy::redemption`], decided again on every request, so a
//! policy changed while the invitation was pending counts):
//! - **Partner tenants not modelled** (the tenant file has no `partnerTenants`): the
//!   consent page as before, accepting adds `{"signInType": "federated", "issuer":
//!   "ExternalAzureAD", "issuerAssignedId": null}`. Only the B2B allow/deny list applies.
//! - **The partner's Entra tenant**: "Sign in to {displayName}" and the consent; adds the
//!   `ExternalAzureAD` identity.
//! - **Email one-time passcode**: the page offers **Send code** (a form posting
//!   `action=sendCode`), as Entra does ("The guest user selects Send code", ED
//!   external-id/one-time-passcode.md); that records an email in the state document's
//!   `messages` (`kind: "oneTimePasscode"`, the code in `passcode` and in the body) and
//!   shows the code form. Accepting then needs `code` = the last code sent, within 30
//!   minutes ("One-time passcodes are valid for 30 minutes", same page); a missing,
//!   wrong or expired code is a 400 page and the invitation stays pending. Adds
//!   `{"signInType": "federated", "issuer": "mail", "issuerAssignedId": null}` (the
//!   `mail` issuer of ED user-properties.md's identities list; observed shape).
//! - **Microsoft account** (an existing one for consumer domains, else one created with the
//!   invited address): "Sign in with your Microsoft account" / "Create a Microsoft account"
//!   and the consent; adds `{"signInType": "federated", "issuer": "MicrosoftAccount",
//!   "issuerAssignedId": null}` (observed shape).
//! - **Refused** (403 page, Entra's error-page layout, invitation stays pending): the
//!   domain now excluded by the allow/deny list; the partner's tenant now blocked by
//!   cross-tenant access, `AADSTS500213` "The resource tenant's cross-tenant access policy
//!   doesn't allow this user to access this tenant." (ED
//!   identity-platform/reference-error-codes.md; that a pending invitation fails this way
//!   is unconfirmed); no identity provider possible.
//!
//! Pages are self-contained HTML (no scripts, no external resources) with every value
//! HTML-escaped; a modelled page names its path in `<meta name="redemption-path">`
//! (`azureActiveDirectory`, `emailOneTimePasscode`, `microsoftAccount`). The accept form
//! is always `<form method="post">` with `<button type="submit" id="accept">`. Unknown,
//! used or superseded tokens answer a 404 page. The passcode is 8 digits. Consent is
//! always asked: suppressing it needs the partner's outbound setting too, which the
//! emulator doesn't model.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::invitations::organisation;
use crate::directory::{self, Directory, MessageKind, MessageRecord, text};
use crate::policy::b2b_list::DomainVerdict;
use crate::policy::redemption::{self, RedemptionPath, RedemptionRefusal};

/// How long a passcode is valid, in seconds.
const PASSCODE_LIFETIME_S: i64 = 30 * 60;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_page(title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>{head}\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}button{{font-size:1.1rem}}</style>\
         </head><body>{body}</body></html>\n",
        escape(title)
    )
}

fn respond(status: StatusCode, title: &str, path: Option<&str>, body: &str) -> Response {
    let head = path
        .map(|p| format!("<meta name=\"redemption-path\" content=\"{p}\">"))
        .unwrap_or_default();
    (status, Html(html_page(title, &head, body))).into_response()
}

fn not_found() -> Response {
    respond(
        StatusCode::NOT_FOUND,
        "Invitation not found",
        None,
        "<h1>Invitation not found</h1><p>This invitation link is not valid or has been replaced by a newer invitation.</p>",
    )
}

const ACCEPT_FORM: &str =
    "<form method=\"post\"><button type=\"submit\" id=\"accept\">Accept</button></form>";

/// What the partner is invited to, and by whom: the consent part of every page, under a
/// heading of level `level`.
fn consent(level: u8, org: &str, address: &str, tenant_id: &str) -> String {
    format!(
        "<h{level}>Review permissions</h{level}><p><strong id=\"organisation\">{org}</strong> invites you to access its apps and resources.</p>\
         <p>Signed in as <strong id=\"address\">{addr}</strong> (tenant {tenant}).</p>",
        org = escape(org),
        addr = escape(address),
        tenant = escape(tenant_id),
    )
}

/// Entra's sign-in error page.
fn error_page(heading: &str, code: Option<&str>, message: &str) -> Response {
    let code = code
        .map(|c| format!("<strong>{c}</strong>: "))
        .unwrap_or_default();
    let body = format!(
        "<h1>{heading}</h1><p id=\"error\">{code}{message}</p>\
         <p>Request Id: {request}<br>Correlation Id: {correlation}<br>Timestamp: {time}</p>",
        heading = escape(heading),
        message = escape(message),
        request = uuid::Uuid::new_v4(),
        correlation = uuid::Uuid::new_v4(),
        time = directory::now(),
    );
    respond(
        StatusCode::FORBIDDEN,
        "Sign in to your account",
        None,
        &body,
    )
}

fn refusal_page(refusal: RedemptionRefusal, address: &str, org: &str) -> Response {
    let domain = directory::domain_of(address).unwrap_or_default();
    match refusal {
        RedemptionRefusal::CrossTenantAccessBlocked => error_page(
            "Sorry, but we're having trouble signing you in.",
            Some("AADSTS500213"),
            "The resource tenant's cross-tenant access policy doesn't allow this user to access this tenant.",
        ),
        RedemptionRefusal::DomainBlocked(verdict) => error_page(
            "This invitation can't be redeemed.",
            None,
            &format!(
                "{org}'s invitation policy {} {domain}: invitations to it can no longer be redeemed.",
                if verdict == DomainVerdict::Denied {
                    "blocks"
                } else {
                    "doesn't allow"
                }
            ),
        ),
        RedemptionRefusal::NoIdentityProvider => error_page(
            "We couldn't find a way to sign you in.",
            None,
            &format!(
                "{address} has no account {org} accepts: email one-time passcodes are off and a Microsoft account can't be created with an address in a domain verified in Microsoft Entra ID."
            ),
        ),
    }
}

/// The way in now, `None` meaning partners are not modelled (the old consent page).
type Decision = Result<Option<RedemptionPath>, RedemptionRefusal>;

fn decide(dir: &Directory, address: &str) -> Decision {
    let domain = directory::domain_of(address).unwrap_or_default();
    if dir.partner_tenants.is_none() {
        return match dir.policies.domain_verdict(domain) {
            DomainVerdict::Allowed => Ok(None),
            verdict => Err(RedemptionRefusal::DomainBlocked(verdict)),
        };
    }
    redemption::predict(domain, dir.partner_for_domain(domain), &dir.policies).map(Some)
}

fn path_name(path: RedemptionPath) -> &'static str {
    match path {
        RedemptionPath::EntraTenant => "azureActiveDirectory",
        RedemptionPath::OneTimePasscode => "emailOneTimePasscode",
        RedemptionPath::MicrosoftAccount { .. } => "microsoftAccount",
    }
}

/// The page for a pending invitation, before anything is posted.
fn sign_in_page(dir: &Directory, address: &str, path: Option<RedemptionPath>) -> Response {
    let org = organisation(dir);
    let title = format!("Invitation from {org}");
    let Some(path) = path else {
        let body = format!("{}{ACCEPT_FORM}", consent(1, &org, address, &dir.tenant_id));
        return respond(StatusCode::OK, &title, None, &body);
    };
    let consent = consent(2, &org, address, &dir.tenant_id);
    let body = match path {
        RedemptionPath::EntraTenant => {
            let domain = directory::domain_of(address).unwrap_or_default();
            let name = dir
                .partner_for_domain(domain)
                .map_or(domain, |p| p.display_name.as_str());
            format!(
                "<h1 id=\"sign-in\">Sign in to {name}</h1><p>Continue as {addr} with your {name} account.</p>{consent}{ACCEPT_FORM}",
                name = escape(name),
                addr = escape(address),
            )
        }
        RedemptionPath::OneTimePasscode => format!(
            "<h1 id=\"sign-in\">Send code</h1><p>We'll send a code to {addr} to sign you in.</p>\
             <form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"sendCode\">\
             <button type=\"submit\" id=\"send-code\">Send code</button></form>",
            addr = escape(address),
        ),
        RedemptionPath::MicrosoftAccount { existing } => format!(
            "<h1 id=\"sign-in\">{heading}</h1><p>{text} {addr}.</p>{consent}{ACCEPT_FORM}",
            heading = if existing {
                "Sign in with your Microsoft account"
            } else {
                "Create a Microsoft account"
            },
            text = if existing {
                "Sign in with the Microsoft account"
            } else {
                "Create a Microsoft account with"
            },
            addr = escape(address),
        ),
    };
    respond(StatusCode::OK, &title, Some(path_name(path)), &body)
}

fn code_page(status: StatusCode, dir: &Directory, address: &str, note: &str) -> Response {
    let org = organisation(dir);
    let body = format!(
        "<h1 id=\"sign-in\">Enter code</h1><p>{note}</p>{consent}\
         <form method=\"post\"><label for=\"code\">Code</label> <input type=\"text\" name=\"code\" id=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\">\
         <button type=\"submit\" id=\"accept\">Accept</button></form>",
        note = escape(note),
        consent = consent(2, &org, address, &dir.tenant_id),
    );
    respond(
        status,
        &format!("Invitation from {org}"),
        Some(path_name(RedemptionPath::OneTimePasscode)),
        &body,
    )
}

fn pending(dir: &Directory, token: &str) -> Option<usize> {
    dir.invitations
        .iter()
        .position(|i| i.token == token && i.status == "PendingAcceptance")
}

/// `GET /redeem/{token}`: the sign-in and consent page.
pub async fn page_for(app: &AppState, token: &str) -> Response {
    let dir = app.dir.read();
    let Some(pos) = pending(&dir, token) else {
        return not_found();
    };
    let address = dir.invitations[pos].invited_user_email_address.clone();
    match decide(&dir, &address) {
        Ok(path) => sign_in_page(&dir, &address, path),
        Err(refusal) => refusal_page(refusal, &address, &organisation(&dir)),
    }
}

/// `GET /redeem/{token}`.
pub async fn page(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    page_for(&app, &token).await
}

/// `POST /redeem/{token}`: sends a passcode (`action=sendCode`) or accepts the invitation.
pub async fn accept(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let mut dir = app.dir.write();
    let Some(pos) = pending(&dir, &token) else {
        return not_found();
    };
    let address = dir.invitations[pos].invited_user_email_address.clone();
    let path = match decide(&dir, &address) {
        Ok(path) => path,
        Err(refusal) => return refusal_page(refusal, &address, &organisation(&dir)),
    };
    let identity = match path {
        None | Some(RedemptionPath::EntraTenant) => "ExternalAzureAD",
        Some(RedemptionPath::MicrosoftAccount { .. }) => "MicrosoftAccount",
        Some(RedemptionPath::OneTimePasscode) => {
            if field("action").as_deref() == Some("sendCode") {
                send_passcode(&mut dir, pos);
                return code_page(
                    StatusCode::OK,
                    &dir,
                    &address,
                    &format!("We sent a code to {address}. It is valid for 30 minutes."),
                );
            }
            if let Err(problem) = check_passcode(&dir, pos, field("code").as_deref()) {
                return code_page(StatusCode::BAD_REQUEST, &dir, &address, problem);
            }
            dir.invitations[pos].passcode = None;
            "mail"
        }
    };
    complete(&mut dir, pos, identity)
}

/// Emails a fresh passcode for invitation `pos` (replacing any earlier one).
fn send_passcode(dir: &mut Directory, pos: usize) {
    let code = format!("{:08}", fastrand::u32(0..100_000_000));
    let org = organisation(dir);
    let invitation = &mut dir.invitations[pos];
    invitation.passcode = Some((code.clone(), crate::clock::now()));
    let message = MessageRecord {
        kind: MessageKind::OneTimePasscode,
        to: invitation.invited_user_email_address.clone(),
        cc: Vec::new(),
        language: "en-US".into(),
        body: format!(
            "Account verification code. To access {org}'s apps and resources, please use the code below for account verification. The code will only work for 30 minutes. Account verification code: {code}",
        ),
        user_id: invitation.user_id.clone(),
        invite_redeem_url: invitation.invite_redeem_url.clone(),
        sent_date_time: directory::now(),
        passcode: Some(code),
    };
    dir.messages.push(message);
}

/// Whether `given` is the live passcode of invitation `pos`; else what is wrong.
fn check_passcode(dir: &Directory, pos: usize, given: Option<&str>) -> Result<(), &'static str> {
    let Some((code, sent)) = &dir.invitations[pos].passcode else {
        return Err("No code was sent yet: open the invitation link and select Send code.");
    };
    let age = crate::clock::now().as_second() - sent.as_second();
    if age > PASSCODE_LIFETIME_S {
        return Err("That code has expired. Open the invitation link to get a new one.");
    }
    match given {
        Some(g) if g == code => Ok(()),
        Some(g) if !g.is_empty() => Err("That code didn't work. Check the code and try again."),
        _ => Err("Enter the code we sent to your email address."),
    }
}

/// Accepts invitation `pos`: the user becomes `Accepted` with an external identity from
/// `issuer`.
fn complete(dir: &mut Directory, pos: usize, issuer: &str) -> Response {
    let user_id = dir.invitations[pos].user_id.clone();
    let Some(index) = dir.find_user(&user_id) else {
        return not_found();
    };
    dir.invitations[pos].status = "Completed".into();
    let address = dir.invitations[pos].invited_user_email_address.clone();
    let redirect = dir.invitations[pos].redirect_url.clone();
    let org = organisation(dir);
    let name = dir.update_user(index, |user| {
        user.insert("externalUserState".into(), json!("Accepted"));
        user.insert(
            "externalUserStateChangeDateTime".into(),
            json!(directory::now()),
        );
        let federated =
            json!({"signInType": "federated", "issuer": issuer, "issuerAssignedId": null});
        match user.get_mut("identities") {
            Some(Value::Array(ids)) => {
                if !ids.contains(&federated) {
                    ids.push(federated);
                }
            }
            _ => {
                user.insert("identities".into(), json!([federated]));
            }
        }
        text(user, "displayName").unwrap_or_default().to_owned()
    });
    let body = format!(
        "<h1 id=\"done\">You're all set</h1><p>{name} ({addr}) can now use the apps of <strong>{org}</strong>.</p>\
         <p><a id=\"continue\" href=\"{redirect}\">Continue</a></p>",
        redirect = escape(&redirect),
        name = escape(&name),
        addr = escape(&address),
        org = escape(&org),
    );
    respond(StatusCode::OK, "Invitation accepted", None, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">O'B & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;B &amp; co&lt;/a&gt;"
        );
    }
}
