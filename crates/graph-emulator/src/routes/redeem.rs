//! The partner's side of an invitation: `GET {root}redeem/{token}` shows a small consent
//! page, `POST` to the same URL accepts it (as redeeming in Entra does: `externalUserState`
//! becomes `Accepted`, and an `ExternalAzureAD` federated identity is added).
//!
//! Pages are self-contained HTML (no scripts, no external resources); every value is
//! HTML-escaped. Unknown or superseded tokens answer a 404 page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::invitations::organisation;
use crate::directory::{self, text};

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

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}button{{font-size:1.1rem}}</style>\
         </head><body>{body}</body></html>\n",
        escape(title)
    )
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(html_page(
            "Invitation not found",
            "<h1>Invitation not found</h1><p>This invitation link is not valid or has been replaced by a newer invitation.</p>",
        )),
    )
        .into_response()
}

/// `GET /redeem/{token}`: the consent screen.
pub async fn page_for(app: &AppState, token: &str) -> Response {
    let dir = app.dir.read();
    let Some(inv) = dir
        .invitations
        .iter()
        .find(|i| i.token == token && i.status == "PendingAcceptance")
    else {
        return not_found();
    };
    let org = organisation(&dir);
    let body = format!(
        "<h1>Review permissions</h1><p><strong id=\"organisation\">{org}</strong> invites you to access its apps and resources.</p>\
         <p>Signed in as <strong id=\"address\">{addr}</strong> (tenant {tenant}).</p>\
         <form method=\"post\"><button type=\"submit\" id=\"accept\">Accept</button></form>",
        org = escape(&org),
        addr = escape(&inv.invited_user_email_address),
        tenant = escape(&dir.tenant_id),
    );
    Html(html_page(&format!("Invitation from {org}"), &body)).into_response()
}

/// `GET /redeem/{token}`.
pub async fn page(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    page_for(&app, &token).await
}

/// `POST /redeem/{token}`: accepts the invitation.
pub async fn accept(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let mut dir = app.dir.write();
    let Some(pos) = dir
        .invitations
        .iter()
        .position(|i| i.token == token && i.status == "PendingAcceptance")
    else {
        return not_found();
    };
    dir.invitations[pos].status = "Completed".into();
    let user_id = dir.invitations[pos].user_id.clone();
    let address = dir.invitations[pos].invited_user_email_address.clone();
    let redirect = dir.invitations[pos].redirect_url.clone();
    let org = organisation(&dir);
    let Some(index) = dir.find_user(&user_id) else {
        return not_found();
    };
    let name = dir.update_user(index, |user| {
        user.insert("externalUserState".into(), json!("Accepted"));
        user.insert(
            "externalUserStateChangeDateTime".into(),
            json!(directory::now()),
        );
        let federated = json!({"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": null});
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
    Html(html_page("Invitation accepted", &body)).into_response()
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
