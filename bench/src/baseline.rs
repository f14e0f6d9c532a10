//! The sequential baseline: what the published conversion scripts do, one user at a
//! time — read the user, set `mail`, send the invitation, read the user back — with the
//! same Graph client, so the comparison measures the tool's design, not its HTTP stack.

use std::time::Instant;

use b2b_graph::model::{InvitationRequest, UserUpdate};
use b2b_graph::{ClientOptions, Endpoints, GraphClient};
use secrecy::SecretString;

use crate::tenant::{CLIENT_ID, CLIENT_SECRET, TENANT_ID, partner, user_id};

/// Converts users `0..n` one at a time; returns the seconds it took.
pub async fn run(url: &url::Url, n: usize) -> anyhow::Result<f64> {
    let endpoints = Endpoints::new(url.clone(), url.clone())?;
    let client = GraphClient::with_client_secret(
        endpoints,
        TENANT_ID,
        CLIENT_ID,
        SecretString::from(CLIENT_SECRET),
        ClientOptions::default(),
    )?;
    let started = Instant::now();
    for i in 0..n {
        let id = user_id(i);
        client.get_user(&id, &["id", "mail"]).await?;
        client
            .update_user(
                &id,
                &UserUpdate {
                    mail: Some(partner(i)),
                    ..UserUpdate::default()
                },
            )
            .await?;
        client
            .invite_existing_user(
                &id,
                &InvitationRequest {
                    invited_user_email_address: partner(i),
                    invite_redirect_url: format!(
                        "https://myapps.microsoft.com/?tenantid={TENANT_ID}"
                    ),
                    send_invitation_message: Some(true),
                    ..InvitationRequest::default()
                },
            )
            .await?;
        client.get_user(&id, &["id", "externalUserState"]).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}
