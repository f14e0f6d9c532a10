//! `POST /invitations`: conversion of internal users, refusals, body validation, new guests,
//! resends, `resetRedemption`, permissions, the anti-abuse block.

use super::*;

#[tokio::test]
async fn converting_an_internal_user_keeps_identity_and_records_the_email() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let ben = uid(2);
    assert_eq!(
        emu.patch(
            &format!("v1.0/users/{ben}"),
            &token,
            json!({"mail": "ben@fabrikam.com"})
        )
        .await
        .status,
        204
    );
    let mut body = conversion(&ben, "Ben@Fabrikam.com");
    body["@odata.type"] = json!("#microsoft.graph.invitation");
    body["invitedUser"]["@odata.type"] = json!("#microsoft.graph.user");
    let a = emu.post("v1.0/invitations", &token, body).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json["status"], "PendingAcceptance");
    assert_eq!(
        a.json["invitedUser"],
        json!({"id": ben, "userPrincipalName": "ben.walters@contoso.com"})
    );
    assert_eq!(a.json["invitedUserEmailAddress"], "Ben@Fabrikam.com");
    assert_eq!(a.json["invitedUserType"], "Member");
    let redeem = a.json["inviteRedeemUrl"].as_str().unwrap();
    assert!(redeem.starts_with(&format!("{}redeem/", emu.root)));

    let state = emu.state().await;
    let user = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == ben)
        .unwrap();
    assert_eq!(user["externalUserState"], "PendingAcceptance");
    assert!(user["externalUserStateChangeDateTime"].is_string());
    assert_eq!(
        (
            user["userPrincipalName"].as_str(),
            user["userType"].as_str()
        ),
        (Some("ben.walters@contoso.com"), Some("Member"))
    );
    let message = &state["messages"][0];
    assert_eq!(
        (message["to"].as_str(), message["language"].as_str()),
        (Some("Ben@Fabrikam.com"), Some("de-DE"))
    );
    assert_eq!(message["cc"], json!(["it@fabrikam.com"]));
    assert_eq!(message["inviteRedeemUrl"], redeem);
    assert!(
        !message["body"].as_str().unwrap().contains("Hallo"),
        "app-only: custom body left out"
    );
    assert_eq!(state["invitations"][0]["userId"], ben);
    let log = state["requests"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (log["permission"].as_str(), log["status"].as_u64()),
        (Some("User.ReadWrite.All"), Some(201))
    );
}

#[tokio::test]
async fn conversion_is_refused_for_unfit_users() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let cases = [
        (uid(5), "emily@fabrikam.com", 400, "BadRequest"), // address differs from mail
        (uid(5), "emily.braun@contoso.com", 400, "BadRequest"), // verified domain
        (uid(10), "johanna.lorenz@contoso.com", 400, "BadRequest"), // mailbox (and verified)
        (uid(8), "henrik.jensen@contoso.com", 400, "BadRequest"), // onPremisesUserPrincipalName
        (uid(23), "omar@northwind.com", 400, "BadRequest"), // already Accepted
        (
            "d0000000-0000-4000-8000-000000000099".to_owned(),
            "x@fabrikam.com",
            404,
            "Request_ResourceNotFound",
        ),
    ];
    for (id, address, status, code) in cases {
        emu.post("v1.0/invitations", &token, conversion(&id, address))
            .await
            .assert_error(status, code);
    }
    // A mailbox user whose mail was already external is refused too.
    let mut tenant = demo_json();
    tenant["users"][9]["mail"] = json!("johanna@fabrikam.com");
    let emu2 = Emulator::from_json(&tenant).await;
    let t2 = emu2.demo_token().await;
    let a = emu2
        .post(
            "v1.0/invitations",
            &t2,
            conversion(&uid(10), "johanna@fabrikam.com"),
        )
        .await;
    a.assert_error(400, "BadRequest");
    assert!(a.message().contains("mailbox"));

    // Role holders: the demo app has no directory role.
    for n in [7, 11] {
        let id = uid(n);
        assert_eq!(
            emu.patch(
                &format!("v1.0/users/{id}"),
                &token,
                json!({"mail": format!("u{n}@fabrikam.com")})
            )
            .await
            .status,
            204
        );
        emu.post(
            "v1.0/invitations",
            &token,
            conversion(&id, &format!("u{n}@fabrikam.com")),
        )
        .await
        .assert_error(403, "Authorization_RequestDenied");
    }
    let state = emu.state().await;
    assert_eq!(state["invitations"], json!([]));
    assert_eq!(state["messages"], json!([]));
}

#[tokio::test]
async fn invitation_body_is_validated() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let base = json!({"invitedUserEmailAddress": "new.partner@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"});
    let mut cases = Vec::new();
    let mut b = base.clone();
    b.as_object_mut().unwrap().remove("inviteRedirectUrl");
    cases.push(b);
    let mut b = base.clone();
    b.as_object_mut().unwrap().remove("invitedUserEmailAddress");
    cases.push(b);
    for address in [
        "a+b@fabrikam.com",
        ".ab@fabrikam.com",
        "ab-@fabrikam.com",
        "a(b)@fabrikam.com",
        "a;b@fabrikam.com",
    ] {
        let mut b = base.clone();
        b["invitedUserEmailAddress"] = json!(address);
        cases.push(b);
    }
    let mut b = base.clone();
    b["invitedUserMessageInfo"] = json!({"ccRecipients": [
        {"emailAddress": {"address": "a@fabrikam.com"}}, {"emailAddress": {"address": "b@fabrikam.com"}}]});
    cases.push(b);
    let mut b = base.clone();
    b["invitedUserEmailAdress"] = json!("typo@fabrikam.com");
    cases.push(b);
    let mut b = base.clone();
    b["sendInvitationMessage"] = json!("yes");
    cases.push(b);
    let mut b = base.clone();
    b["resetRedemption"] = json!(true);
    cases.push(b);
    let mut b = base.clone();
    b["invitedUser"] = json!({"id": uid(2), "mail": "x@y.com"});
    cases.push(b);
    for body in cases {
        let a = emu.post("v1.0/invitations", &token, body.clone()).await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (400, "BadRequest"),
            "{body} -> {}",
            a.text
        );
    }
    assert_eq!(emu.state().await["invitations"], json!([]));
}

#[tokio::test]
async fn new_guests_existing_addresses_and_resends() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .post("v1.0/invitations", &token, json!({"invitedUserEmailAddress": "chen.li@adatum.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}))
        .await;
    a.assert_error(400, "BadRequest");
    assert!(a.message().starts_with(&format!(
        "The invited user already exists in the directory as objectID: {}",
        uid(3)
    )));
    let a = emu
        .post("v1.0/invitations", &token, json!({"invitedUserEmailAddress": "partners@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}))
        .await;
    a.assert_error(400, "BadRequest");

    let a = emu
        .post("v1.0/invitations", &token, json!({"@odata.type": "#microsoft.graph.invitation", "invitedUserEmailAddress": "new.partner@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com", "invitedUserDisplayName": "New Partner"}))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let guest_id = a.json["invitedUser"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.json["invitedUser"]["userPrincipalName"],
        "new.partner_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    );
    let guest = emu.user(&guest_id).await;
    assert_eq!(
        (guest["userType"].as_str(), guest["creationType"].as_str()),
        (Some("Guest"), Some("Invitation"))
    );
    assert_eq!(guest["externalUserState"], "PendingAcceptance");
    assert_eq!(
        emu.state().await["messages"],
        json!([]),
        "sendInvitationMessage defaults to false"
    );

    // Resend to a pending user: same user, a new link, one more message; the old link is gone.
    let nina = uid(22);
    let first = emu
        .post(
            "v1.0/invitations",
            &token,
            conversion(&nina, "nina@fabrikam.com"),
        )
        .await;
    let second = emu
        .post(
            "v1.0/invitations",
            &token,
            conversion(&nina, "NINA@fabrikam.com"),
        )
        .await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (201, 201));
    assert_eq!(
        first.json["invitedUser"]["id"],
        second.json["invitedUser"]["id"]
    );
    let (old, new) = (
        first.json["inviteRedeemUrl"].as_str().unwrap(),
        second.json["inviteRedeemUrl"].as_str().unwrap(),
    );
    assert_ne!(old, new);
    assert_eq!(emu.state().await["messages"].as_array().unwrap().len(), 2);
    assert_eq!(emu.client.get(old).send().await.unwrap().status(), 404);
    assert_eq!(emu.client.get(new).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn reset_redemption_reinvites_accepted_users_only_without_roles() {
    let mut tenant = demo_json();
    // Lee Gu (Global Administrator) as an accepted external user.
    tenant["users"][10]["mail"] = json!("lee@northwind.com");
    tenant["users"][10]["externalUserState"] = json!("Accepted");
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let mut body = conversion(&uid(23), "omar@northwind.com");
    body["resetRedemption"] = json!(true);
    let a = emu.post("v1.0/invitations", &token, body).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json["resetRedemption"], true);
    let omar = emu.user(&uid(23)).await;
    assert_eq!(omar["externalUserState"], "PendingAcceptance");
    assert!(
        !omar["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["issuer"] == "ExternalAzureAD")
    );

    let mut body = conversion(&uid(11), "lee@northwind.com");
    body["resetRedemption"] = json!(true);
    emu.post("v1.0/invitations", &token, body)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.user(&uid(11)).await["externalUserState"], "Accepted");
}

#[tokio::test]
async fn invitation_permissions_follow_the_invite_api() {
    let mut tenant = demo_json();
    add_app(
        &mut tenant,
        "a2000000-0000-4000-8000-000000000001",
        &["User.Invite.All"],
        &[],
    );
    let emu = Emulator::from_json(&tenant).await;
    let invite_only = emu.app_token("a2000000-0000-4000-8000-000000000001").await;
    let read = emu.token(READ_APP, READ_SECRET).await;
    let plain = json!({"invitedUserEmailAddress": "p@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"});
    let a = emu.post("v1.0/invitations", &read, plain.clone()).await;
    a.assert_error(401, "Unauthorized");
    assert_eq!(
        a.message(),
        format!(
            "Insufficient privileges to perform requested operation by the application '{READ_APP}'. ControllerName=MSGraphInviteAPI, ActionName=CreateInvite, URL absolute path=/api/{TENANT_ID}/invites"
        )
    );
    let a = emu.post("v1.0/invitations", &invite_only, plain).await;
    assert_eq!(a.status, 201);
    assert_eq!(emu.last_request().await["permission"], "User.Invite.All");
    // Converting an existing user needs User.ReadWrite.All or Directory.ReadWrite.All.
    emu.post(
        "v1.0/invitations",
        &invite_only,
        conversion(&uid(22), "nina@fabrikam.com"),
    )
    .await
    .assert_error(401, "Unauthorized");
}

#[tokio::test]
async fn blocked_invitations_stay_blocked() {
    let mut tenant = demo_json();
    tenant["simulation"] = json!({"blockInvitesAfter": 1});
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let invite = |address: &str| {
        json!({"id": address, "method": "POST", "url": "/invitations", "headers": {"Content-Type": "application/json"},
            "body": {"invitedUserEmailAddress": address, "inviteRedirectUrl": "https://myapps.microsoft.com"}})
    };
    let a = emu
        .post("v1.0/$batch", &token, json!({"requests": [invite("one@fabrikam.com"), invite("two@fabrikam.com"), invite("three@fabrikam.com")]}))
        .await;
    let r = a.json["responses"].as_array().unwrap();
    assert_eq!(r[0]["status"], 201);
    for blocked in &r[1..] {
        assert_eq!(blocked["status"], 403);
        assert_eq!(blocked["body"]["error"]["code"], "Forbidden");
        assert!(
            blocked["body"]["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(
                    "Invitations are blocked for this directory due to suspicious activity"
                )
        );
    }
    let a = emu
        .post(
            "v1.0/invitations",
            &token,
            json!({"invitedUserEmailAddress": "four@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}),
        )
        .await;
    a.assert_error(403, "Forbidden");
    assert_eq!(
        emu.state().await["invitations"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn rights_are_checked_before_the_body() {
    let emu = Emulator::demo().await;
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.post("v1.0/invitations", &read, json!({"bogus": true}))
        .await
        .assert_error(401, "Unauthorized");
    let token = emu.demo_token().await;
    emu.post("v1.0/invitations", &token, json!({"bogus": true}))
        .await
        .assert_error(400, "BadRequest");
}
