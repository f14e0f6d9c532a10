//! Invitations refused by the tenant's policies — each refusal per invitation: the next
//! invitation to an allowed address goes through, and nothing of the refused one is left.

use super::*;

/// Sets `mail` of demo user `n` to `address` and converts them at it.
async fn convert(emu: &Emulator, token: &str, n: u32, address: &str) -> Answer {
    let a = emu
        .patch(
            &format!("v1.0/users/{}", uid(n)),
            token,
            json!({"mail": address}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    emu.post("v1.0/invitations", token, conversion(&uid(n), address))
        .await
}

fn guest(address: &str) -> Value {
    json!({"invitedUserEmailAddress": address, "inviteRedirectUrl": "https://myapps.microsoft.com"})
}

#[tokio::test]
async fn allow_invites_from_none_refuses_everyone_app_only_included() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    patch_policies(
        &emu,
        json!({"authorizationPolicy": {"allowInvitesFrom": "none"}}),
    )
    .await;
    let a = emu
        .post("v1.0/invitations", &token, guest("someone@fabrikam.com"))
        .await;
    a.assert_error(403, "Authorization_RequestDenied");
    assert!(
        a.message().starts_with("Guest invitations not allowed"),
        "{}",
        a.text
    );
    convert(&emu, &token, 1, "adele@fabrikam.com")
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let state = emu.state().await;
    assert_eq!(state["invitations"], json!([]));
    assert!(emu.user(&uid(1)).await["externalUserState"].is_null());
    // The served policy says so too.
    let a = emu.get("v1.0/policies/authorizationPolicy", &token).await;
    assert_eq!(a.json["allowInvitesFrom"], "none");

    // Admins and guest inviters only: app-only invitations still work (PR #9556).
    patch_policies(
        &emu,
        json!({"authorizationPolicy": {"allowInvitesFrom": "adminsAndGuestInviters"}}),
    )
    .await;
    let a = emu
        .post("v1.0/invitations", &token, guest("someone@fabrikam.com"))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
}

#[tokio::test]
async fn deny_listed_domains_are_refused_per_invitation() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = convert(&emu, &token, 28, "uma@treyresearch.net").await;
    a.assert_error(400, "BadRequest");
    assert!(
        a.message()
            .starts_with("The domain of the user is currently blocked by your invitation policy"),
        "{}",
        a.text
    );
    let (path, status, permission) = last_logged(&emu).await;
    assert_eq!(
        (path.as_str(), status, permission.as_deref()),
        ("/v1.0/invitations", 400, Some("User.ReadWrite.All"))
    );
    // Subdomains too; a plain invitation creates no guest.
    let users_before = emu.state().await["users"].as_array().unwrap().len();
    emu.post("v1.0/invitations", &token, guest("x@eu.treyresearch.net"))
        .await
        .assert_error(400, "BadRequest");
    let state = emu.state().await;
    assert_eq!(state["users"].as_array().unwrap().len(), users_before);
    assert_eq!(state["invitations"], json!([]));
    assert!(emu.user(&uid(28)).await["externalUserState"].is_null());
    // The next invitation to an allowed domain goes through.
    let a = convert(&emu, &token, 1, "adele@fabrikam.com").await;
    assert_eq!(a.status, 201, "{}", a.text);
}

#[tokio::test]
async fn an_allow_list_refuses_every_other_domain() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
        {"AllowedDomains": ["fabrikam.com"], "BlockedDomains": []}}});
    patch_policies(
        &emu,
        json!({"b2bManagementPolicy": {"definition": [document.to_string()]}}),
    )
    .await;
    let a = convert(&emu, &token, 2, "ben@northwind.com").await;
    a.assert_error(400, "BadRequest");
    assert!(a.message().contains("not on the list of allowed domains"));
    assert_eq!(
        convert(&emu, &token, 1, "adele@fabrikam.com").await.status,
        201
    );
}

#[tokio::test]
async fn partners_blocked_by_cross_tenant_access_are_refused() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = convert(&emu, &token, 29, "victor@woodgrovebank.com").await;
    a.assert_error(400, "BadRequest");
    assert_eq!(
        a.message(),
        "This invitation is blocked by cross-tenant access settings. Admins in both your organization and the invited user's organization must configure cross-tenant access settings to allow the invitation."
    );
    assert!(emu.user(&uid(29)).await["externalUserState"].is_null());

    // Block everyone by default: Fabrikam's configuration (null settings) inherits it,
    // Adatum (no configuration) gets it; a domain without an Entra tenant is not concerned.
    patch_policies(
        &emu,
        json!({"crossTenantAccessPolicy": {
            "default": {"b2bCollaborationInbound": everyone("blocked")},
            "partners": [{"tenantId": FABRIKAM}, {"tenantId": "c1000000-0000-4000-8000-000000000002",
                          "b2bCollaborationInbound": everyone("allowed")}]}}),
    )
    .await;
    for (n, address) in [(1, "adele@fabrikam.com"), (3, "chen@adatum.com")] {
        convert(&emu, &token, n, address)
            .await
            .assert_error(400, "BadRequest");
    }
    // Northwind's own configuration allows, overriding the default.
    assert_eq!(
        convert(&emu, &token, 2, "ben@northwind.com").await.status,
        201
    );
    assert_eq!(
        convert(&emu, &token, 30, "wendy@fourthcoffee.com")
            .await
            .status,
        201
    );
    // Only applications blocked: refused as well.
    patch_policies(
        &emu,
        json!({"crossTenantAccessPolicy": {"partners": [{"tenantId": FABRIKAM,
            "b2bCollaborationInbound": {"applications": everyone("blocked")["applications"]}}]}}),
    )
    .await;
    convert(&emu, &token, 1, "adele@fabrikam.com")
        .await
        .assert_error(400, "BadRequest");
}

#[tokio::test]
async fn settings_naming_partner_groups_let_the_invitation_through() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    patch_policies(
        &emu,
        json!({"crossTenantAccessPolicy": {"partners": [{"tenantId": FABRIKAM,
            "b2bCollaborationInbound": {"usersAndGroups": {"accessType": "allowed",
                "targets": [{"target": "0b4a2c6e-1111-4111-8111-111111111111", "targetType": "group"}]}}}]}}),
    )
    .await;
    // Entra can't tell who the invitee is before they sign in: the invitation is sent.
    let a = convert(&emu, &token, 1, "adele@fabrikam.com").await;
    assert_eq!(a.status, 201, "{}", a.text);
}
