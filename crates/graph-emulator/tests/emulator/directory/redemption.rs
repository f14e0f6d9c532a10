//! The partner's redemption pages.

use super::*;

#[tokio::test]
async fn the_partner_redeems_through_the_consent_page() {
    let mut tenant = demo_json();
    tenant["users"][0]["mail"] = json!("adele<script>@fabrikam.com");
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let a = emu
        .post(
            "v1.0/invitations",
            &token,
            conversion(&uid(22), "nina@fabrikam.com"),
        )
        .await;
    let url = a.json["inviteRedeemUrl"].as_str().unwrap().to_owned();
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text;
    assert!(html.contains("<form method=\"post\">"));
    assert!(html.contains("<button type=\"submit\" id=\"accept\">Accept</button>"));
    assert!(html.contains("nina@fabrikam.com") && html.contains("contoso.com"));

    let done = emu.client.post(&url).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    assert!(done.contains("id=\"done\""));
    assert!(done.contains(
        "href=\"https://myapps.microsoft.com?tenantId=8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c\""
    ));
    let nina = emu.user(&uid(22)).await;
    assert_eq!(nina["externalUserState"], "Accepted");
    assert_ne!(
        nina["externalUserStateChangeDateTime"],
        "2026-11-01T10:00:00Z"
    );
    assert!(nina["identities"].as_array().unwrap().contains(
        &json!({"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": null})
    ));
    assert_eq!(emu.state().await["invitations"][0]["status"], "Completed");
    assert_eq!(
        emu.client.post(&url).send().await.unwrap().status(),
        404,
        "used once"
    );
    assert_eq!(
        emu.client
            .get(format!("{}redeem/unknown", emu.root))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn redeem_pages_escape_values() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .post("v1.0/invitations", &token, json!({"invitedUserEmailAddress": "o'neil@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let html = emu
        .get_url(a.json["inviteRedeemUrl"].as_str().unwrap())
        .await
        .text;
    assert!(html.contains("o&#39;neil@fabrikam.com"));
    assert!(!html.contains("o'neil@"));
}
