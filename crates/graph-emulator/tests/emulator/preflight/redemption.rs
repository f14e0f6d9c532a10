//! The redemption page acting out each predicted path: the partner's Entra tenant, email
//! one-time passcode, a Microsoft account, and the refusals (AADSTS500213, a domain the
//! list now blocks, no identity provider) — and the old consent page when partners are
//! not modelled.

use super::*;

/// Converts demo user `n` at `address` (mail set first); the redeem URL.
async fn invite(emu: &Emulator, n: u32, address: &str) -> String {
    let token = emu.demo_token().await;
    let a = emu
        .patch(
            &format!("v1.0/users/{}", uid(n)),
            &token,
            json!({"mail": address}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = emu
        .post("v1.0/invitations", &token, conversion(&uid(n), address))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.json["inviteRedeemUrl"].as_str().unwrap().to_owned()
}

/// POSTs the form `fields` to a redeem URL.
async fn post_form(emu: &Emulator, url: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = emu.client.post(url).form(fields).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn path_of(html: &str) -> Option<&str> {
    let at = html.find("<meta name=\"redemption-path\" content=\"")?;
    let rest = &html[at + 38..];
    rest.split('"').next()
}

async fn identities(emu: &Emulator, n: u32) -> Vec<Value> {
    emu.user(&uid(n)).await["identities"]
        .as_array()
        .unwrap()
        .clone()
}

fn federated(issuer: &str) -> Value {
    json!({"signInType": "federated", "issuer": issuer, "issuerAssignedId": null})
}

#[tokio::test]
async fn a_partner_with_an_entra_tenant_signs_in_there() {
    let emu = Emulator::demo().await;
    let url = invite(&emu, 1, "adele@fabrikam.com").await;
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 200);
    assert_eq!(path_of(&page.text), Some("azureActiveDirectory"));
    assert!(
        page.text.contains("Sign in to Fabrikam, Inc."),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("<button type=\"submit\" id=\"accept\">Accept</button>")
    );
    let (status, done) = post_form(&emu, &url, &[("accept", "1")]).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("id=\"done\""));
    assert!(
        identities(&emu, 1)
            .await
            .contains(&federated("ExternalAzureAD"))
    );
    assert_eq!(emu.user(&uid(1)).await["externalUserState"], "Accepted");
}

#[tokio::test]
async fn a_domain_without_a_tenant_redeems_with_a_one_time_passcode() {
    let emu = Emulator::demo().await;
    let url = invite(&emu, 30, "wendy@fourthcoffee.com").await;
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 200);
    assert_eq!(path_of(&page.text), Some("emailOneTimePasscode"));
    assert!(page.text.contains("id=\"send-code\""), "{}", page.text);
    // Accepting before a code was sent is refused; the invitation stays pending.
    let (status, html) = post_form(&emu, &url, &[("accept", "1")]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("No code was sent yet"));

    let (status, html) = post_form(&emu, &url, &[("action", "sendCode")]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"code\""));
    let state = emu.state().await;
    let email = state["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(email["kind"], "oneTimePasscode");
    assert_eq!(email["to"], "wendy@fourthcoffee.com");
    assert_eq!(email["inviteRedeemUrl"], url);
    let code = email["passcode"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    assert!(email["body"].as_str().unwrap().contains(&code));
    // The invitation email itself is kind "invitation".
    assert_eq!(state["messages"][0]["kind"], "invitation");

    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let (status, html) = post_form(&emu, &url, &[("accept", "1"), ("code", wrong)]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("didn&#39;t work"), "{html}");
    assert_eq!(
        emu.user(&uid(30)).await["externalUserState"],
        "PendingAcceptance"
    );

    let (status, html) = post_form(&emu, &url, &[("accept", "1"), ("code", &code)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(identities(&emu, 30).await.contains(&federated("mail")));
    assert_eq!(emu.state().await["invitations"][0]["status"], "Completed");
}

#[tokio::test]
async fn without_otp_the_partner_uses_a_microsoft_account() {
    let emu = Emulator::demo().await;
    patch_policies(
        &emu,
        json!({"emailAuthenticationMethodConfiguration": {"allowExternalIdToUseEmailOtp": "disabled"}}),
    )
    .await;
    let url = invite(&emu, 30, "wendy@fourthcoffee.com").await;
    let page = emu.get_url(&url).await;
    assert_eq!(path_of(&page.text), Some("microsoftAccount"));
    assert!(
        page.text.contains("Create a Microsoft account"),
        "{}",
        page.text
    );
    let (status, _) = post_form(&emu, &url, &[("accept", "1")]).await;
    assert_eq!(status, 200);
    assert!(
        identities(&emu, 30)
            .await
            .contains(&federated("MicrosoftAccount"))
    );

    // An address in a consumer domain is an existing Microsoft account, OTP or not.
    let emu = Emulator::demo().await;
    let url = invite(&emu, 28, "uma.patel@outlook.com").await;
    let page = emu.get_url(&url).await;
    assert_eq!(path_of(&page.text), Some("microsoftAccount"));
    assert!(page.text.contains("Sign in with your Microsoft account"));
}

#[tokio::test]
async fn a_partner_blocked_after_the_invitation_fails_with_aadsts500213() {
    let emu = Emulator::demo().await;
    let url = invite(&emu, 1, "adele@fabrikam.com").await;
    patch_policies(
        &emu,
        json!({"crossTenantAccessPolicy": {"partners": [{"tenantId": FABRIKAM,
            "b2bCollaborationInbound": everyone("blocked")}]}}),
    )
    .await;
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 403);
    assert!(page.text.contains("AADSTS500213"), "{}", page.text);
    assert!(page.text.contains(
        "The resource tenant&#39;s cross-tenant access policy doesn&#39;t allow this user to access this tenant."
    ));
    let (status, html) = post_form(&emu, &url, &[("accept", "1")]).await;
    assert_eq!(status, 403);
    assert!(html.contains("AADSTS500213"));
    assert_eq!(
        emu.user(&uid(1)).await["externalUserState"],
        "PendingAcceptance"
    );

    // Settings naming particular partner groups: the emulator can't tell, so it refuses.
    patch_policies(
        &emu,
        json!({"crossTenantAccessPolicy": {"partners": [{"tenantId": FABRIKAM,
            "b2bCollaborationInbound": {"usersAndGroups": {"accessType": "blocked",
                "targets": [{"target": "0b4a2c6e-1111-4111-8111-111111111111", "targetType": "group"}]}}}]}}),
    )
    .await;
    assert!(emu.get_url(&url).await.text.contains("AADSTS500213"));

    // Unblocked again: the same link works.
    patch_policies(&emu, json!({"crossTenantAccessPolicy": null})).await;
    let (status, _) = post_form(&emu, &url, &[("accept", "1")]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_domain_blocked_while_pending_can_no_longer_redeem() {
    let emu = Emulator::demo().await;
    let url = invite(&emu, 2, "ben@northwind.com").await;
    let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
        {"BlockedDomains": ["northwind.com"]}}});
    patch_policies(
        &emu,
        json!({"b2bManagementPolicy": {"definition": [document.to_string()]}}),
    )
    .await;
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 403);
    assert!(
        page.text.contains("invitation policy blocks northwind.com"),
        "{}",
        page.text
    );
    let (status, _) = post_form(&emu, &url, &[]).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn no_identity_provider_means_no_redemption() {
    let emu = Emulator::demo().await;
    let url = invite(&emu, 1, "adele@fabrikam.com").await;
    patch_policies(
        &emu,
        json!({
            "emailAuthenticationMethodConfiguration": {"allowExternalIdToUseEmailOtp": "disabled"},
            "crossTenantAccessPolicy": {"default": {"invitationRedemptionIdentityProviderConfiguration": {
                "primaryIdentityProviderPrecedenceOrder": ["externalFederation", "socialIdentityProviders"],
                "fallbackIdentityProvider": "defaultConfiguredIdp"}}}
        }),
    )
    .await;
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 403);
    assert!(
        page.text.contains("couldn&#39;t find a way to sign you in"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn without_partner_tenants_the_old_consent_page_stays() {
    let mut tenant = demo_json();
    tenant.as_object_mut().unwrap().remove("partnerTenants");
    let emu = Emulator::from_json(&tenant).await;
    let url = invite(&emu, 30, "wendy@fourthcoffee.com").await;
    let page = emu.get_url(&url).await;
    assert_eq!(page.status, 200);
    assert_eq!(path_of(&page.text), None);
    assert!(
        page.text.contains("<h1>Review permissions</h1>"),
        "{}",
        page.text
    );
    // No body at all, as older clients send it.
    let done = emu.client.post(&url).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        identities(&emu, 30)
            .await
            .contains(&federated("ExternalAzureAD"))
    );
    assert_eq!(emu.state().await["partnerTenants"], Value::Null);
}
