//! POST /invitations: body shape, retry rules, pacing.

use std::time::Duration;

use b2b_graph::model::{
    EmailAddress, InvitationRequest, InvitedUserMessageInfo, InvitedUserRef, Recipient,
};
use b2b_graph::{ClientOptions, GraphClient, GraphError};
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const INV: &str = "/v1.0/invitations";

fn request() -> InvitationRequest {
    InvitationRequest {
        invited_user_email_address: "ann@partner.example".into(),
        invite_redirect_url: "https://myapps.microsoft.com?tenantId=t1".into(),
        send_invitation_message: Some(false),
        invited_user_message_info: Some(InvitedUserMessageInfo {
            message_language: Some("en-US".into()),
            cc_recipients: vec![Recipient {
                email_address: EmailAddress {
                    name: None,
                    address: Some("it@contoso.com".into()),
                },
            }],
            customized_message_body: None,
        }),
        ..Default::default()
    }
}

/// Answers every invitation request with [`created`], for tests about what happens around
/// a successful call (retries before it, pacing between calls).
async fn mount_created(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(INV))
        .respond_with(created())
        .mount(server)
        .await;
}

/// Invites user u1 with [`request`] where the test expects the call to fail, and returns
/// the error to check.
async fn invite_refused(client: &GraphClient) -> GraphError {
    client
        .invite_existing_user("u1", &request())
        .await
        .unwrap_err()
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": "inv-1",
        "inviteRedeemUrl": "https://login.microsoftonline.com/redeem?rd=abc",
        "invitedUserEmailAddress": "ann@partner.example",
        "inviteRedirectUrl": "https://myapps.microsoft.com?tenantId=t1",
        "status": "PendingAcceptance",
        "invitedUser": {"id": "u1", "userPrincipalName": "ann@contoso.com"}
    }))
}

#[tokio::test]
async fn serialized_body_contains_invited_user_id() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(INV))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    let inv = client.invite_existing_user("u1", &request()).await.unwrap();
    assert_eq!(inv.id, "inv-1");
    assert_eq!(inv.status.as_deref(), Some("PendingAcceptance"));
    assert_eq!(
        inv.invite_redeem_url.as_deref(),
        Some("https://login.microsoftonline.com/redeem?rd=abc")
    );
    assert_eq!(
        inv.invited_user,
        Some(InvitedUserRef {
            id: "u1".into(),
            user_principal_name: Some("ann@contoso.com".into())
        })
    );
    let sent = &requests_to(&server, INV).await[0];
    assert_eq!(header(sent, "content-type"), Some("application/json"));
    assert_eq!(
        sent.body_json::<serde_json::Value>().unwrap(),
        json!({
            "invitedUserEmailAddress": "ann@partner.example",
            "inviteRedirectUrl": "https://myapps.microsoft.com?tenantId=t1",
            "sendInvitationMessage": false,
            "invitedUserMessageInfo": {"messageLanguage": "en-US", "ccRecipients": [{"emailAddress": {"address": "it@contoso.com"}}]},
            "invitedUser": {"id": "u1"}
        })
    );
}

#[tokio::test]
async fn mismatched_or_incomplete_invitations_are_not_sent() {
    let (server, client) = setup().await;
    let mut other = request();
    other.invited_user = Some(InvitedUserRef {
        id: "someone-else".into(),
        user_principal_name: None,
    });
    let err = client.invite_existing_user("u1", &other).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest(_)), "{err:?}");
    let mut reset = request();
    reset.reset_redemption = Some(true);
    let err = client.create_invitation(&reset).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest(_)), "{err:?}");
    let err = client
        .invite_existing_user("", &request())
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest(_)), "{err:?}");
    assert!(requests_to(&server, INV).await.is_empty());
}

#[tokio::test]
async fn not_retried_on_500_or_503() {
    for status in [500u16, 503, 504] {
        let (server, client) = setup().await;
        Mock::given(method("POST"))
            .and(path(INV))
            .respond_with(
                graph_error(status, "ServiceUnavailable", "try later", "rid-x")
                    .insert_header("Retry-After", "1"),
            )
            .mount(&server)
            .await;
        let err = invite_refused(&client).await;
        assert_eq!(err.status(), Some(status));
        assert_eq!(
            requests_to(&server, INV).await.len(),
            1,
            "status {status} was retried"
        );
    }
}

#[tokio::test]
async fn not_retried_after_timeout() {
    let (server, client) = setup_with(ClientOptions {
        timeout: Duration::from_millis(300),
        ..options()
    })
    .await;
    Mock::given(method("POST"))
        .and(path(INV))
        .respond_with(created().set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let err = invite_refused(&client).await;
    match err {
        GraphError::Transport {
            sent,
            ref client_request_id,
            ..
        } => {
            assert!(sent, "a timed-out request may have reached Graph");
            assert_eq!(client_request_id.len(), 36);
        }
        other => panic!("expected Transport, got {other:?}"),
    }
    assert_eq!(requests_to(&server, INV).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retried_on_429() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(INV))
        .respond_with(
            graph_error(429, "TooManyRequests", "slow down", "rid-429")
                .insert_header("Retry-After", "1.5"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_created(&server).await;
    let t0 = Instant::now();
    let inv = client.invite_existing_user("u1", &request()).await.unwrap();
    assert_eq!(inv.id, "inv-1");
    assert!(t0.elapsed() >= Duration::from_millis(1500));
    let reqs = requests_to(&server, INV).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body);
}

#[tokio::test]
async fn connect_failure_is_not_sent_and_retried_then_reported() {
    // Nothing listens on this port: every attempt fails to connect, which is
    // safe to retry even for POST /invitations; the final error says sent=false.
    let server = wiremock::MockServer::start().await;
    mount_token(&server).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let endpoints = b2b_graph::Endpoints::new(
        url::Url::parse(&dead).unwrap(),
        url::Url::parse(&server.uri()).unwrap(),
    )
    .unwrap();
    let mut opts = options();
    opts.retry.base_delay = Duration::from_millis(10);
    let client =
        b2b_graph::GraphClient::new(endpoints, std::sync::Arc::new(credential(&server)), opts)
            .unwrap();
    let err = invite_refused(&client).await;
    assert!(
        matches!(err, GraphError::Transport { sent: false, .. }),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn pacing_never_exceeds_the_window_across_clones() {
    let (server, client) = setup_with(ClientOptions {
        invitations_per_window: 2,
        invitation_window: Duration::from_secs(5),
        ..options()
    })
    .await;
    mount_created(&server).await;
    let t0 = Instant::now();
    let futs = (0..5).map(|i| {
        let c = client.clone();
        async move {
            let r = c.invite_existing_user(&format!("u{i}"), &request()).await;
            (r.is_ok(), Instant::now() - t0)
        }
    });
    let mut done = futures::future::join_all(futs).await;
    done.sort_by_key(|(_, t)| *t);
    assert!(done.iter().all(|(ok, _)| *ok));
    // 2 at t≈0, 2 at t≥5 s, the fifth at t≥10 s.
    assert!(done[2].1 >= Duration::from_secs(5), "{done:?}");
    assert!(done[4].1 >= Duration::from_secs(10), "{done:?}");
    assert_eq!(requests_to(&server, INV).await.len(), 5);
}
