//! `PATCH /users/{id}`: writable and read-only properties, collisions, mailboxes, synced users,
//! sensitive properties of admins, per-property permissions, the indexes.

use super::*;

#[tokio::test]
async fn patch_mail_rewrites_proxy_addresses_and_logs_the_permission() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .patch(
            &format!("v1.0/users/{}", uid(21)),
            &token,
            json!({"mail": "samuel@fabrikam.com"}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let u = emu.user(&uid(21)).await;
    assert_eq!(u["mail"], "samuel@fabrikam.com");
    assert_eq!(
        u["proxyAddresses"],
        json!([
            "SMTP:samuel@fabrikam.com",
            "smtp:samuel.reyes@contoso.com",
            "smtp:sam@contoso.com"
        ])
    );
    let log = emu.last_request().await;
    assert_eq!(log["method"], "PATCH");
    assert_eq!(log["status"], 204);
    assert_eq!(log["permission"], "User.ReadWrite.All");
    assert_eq!(log["userId"], uid(21));
    assert_eq!(log["appId"], DEMO_APP);
    assert_eq!(log["batch"], false);

    // Several writable properties at once.
    let a = emu
        .patch(&format!("v1.0/users/{}", uid(13)), &token, json!({"userType": "Guest", "otherMails": ["n@fabrikam.com"], "accountEnabled": false, "@odata.type": "#microsoft.graph.user"}))
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let u = emu.user(&uid(13)).await;
    assert_eq!(
        (u["userType"].as_str(), u["accountEnabled"].as_bool()),
        (Some("Guest"), Some(false))
    );
    assert_eq!(u["otherMails"], json!(["n@fabrikam.com"]));
}

#[tokio::test]
async fn patch_mail_refuses_collisions_null_and_bad_values() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let adele = format!("v1.0/users/{}", uid(1));
    for taken in [
        "partners@fabrikam.com",    // a group's mail
        "PRADEEP@tailspintoys.com", // a contact's proxy address
        "sam@contoso.com",          // user 20's mail and user 21's smtp alias
        "lidia@proseware.com",      // user 17's otherMails
        "ben.walters@contoso.com",  // user 2's UPN and mail
    ] {
        let a = emu.patch(&adele, &token, json!({"mail": taken})).await;
        a.assert_error(400, "Request_BadRequest");
        assert_eq!(
            a.message(),
            "Another object with the same value for property proxyAddresses already exists."
        );
    }
    emu.patch(&adele, &token, json!({"mail": null}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"mail": "josé@fabrikam.com"}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"mial": "a@fabrikam.com"}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"accountEnabled": "false"}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"userType": "Partner"}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(
        &adele,
        &token,
        json!({"proxyAddresses": ["SMTP:x@fabrikam.com"]}),
    )
    .await
    .assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"creationType": "Invitation"}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"externalUserState": "Accepted"}))
        .await
        .assert_error(400, "Request_BadRequest");
    emu.patch(
        &adele,
        &token,
        json!({"onPremisesUserPrincipalName": "x@y.local"}),
    )
    .await
    .assert_error(400, "Request_BadRequest");
    emu.patch(
        "v1.0/users/d0000000-0000-4000-8000-000000000099",
        &token,
        json!({"mail": "a@fabrikam.com"}),
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");
    assert_eq!(
        emu.user(&uid(1)).await["mail"],
        Value::Null,
        "nothing changed"
    );
}

#[tokio::test]
async fn patch_respects_mailboxes_and_synced_users() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let johanna = format!("v1.0/users/{}", uid(10));
    emu.patch(&johanna, &token, json!({"mail": "johanna@fabrikam.com"}))
        .await
        .assert_error(400, "Request_BadRequest");
    let a = emu
        .patch(&johanna, &token, json!({"mail": "j.lorenz@contoso.com"}))
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(
        emu.user(&uid(10)).await["proxyAddresses"],
        json!([
            "SMTP:j.lorenz@contoso.com",
            "smtp:johanna.lorenz@contoso.com"
        ])
    );

    for n in [4, 8, 9] {
        for body in [
            json!({"mail": "x@fabrikam.com"}),
            json!({"otherMails": ["x@fabrikam.com"]}),
            json!({"userType": "Guest"}),
            json!({"accountEnabled": false}),
        ] {
            let a = emu
                .patch(&format!("v1.0/users/{}", uid(n)), &token, body)
                .await;
            a.assert_error(400, "Request_BadRequest");
            assert!(
                a.message().starts_with(
                    "Unable to update the specified properties for on-premises mastered"
                )
            );
        }
    }
    assert_eq!(emu.user(&uid(9)).await["mail"], "isaiah.langer@contoso.com");
}

#[tokio::test]
async fn sensitive_properties_of_admins_need_a_directory_role() {
    let mut tenant = demo_json();
    add_app(
        &mut tenant,
        "a1000000-0000-4000-8000-000000000001",
        &["User.ReadWrite.All"],
        &["User Administrator"],
    );
    add_app(
        &mut tenant,
        "a1000000-0000-4000-8000-000000000002",
        &["User.ReadWrite.All"],
        &["Global Administrator"],
    );
    add_app(
        &mut tenant,
        "a1000000-0000-4000-8000-000000000003",
        &["User-Mail.ReadWrite.All"],
        &[],
    );
    let emu = Emulator::from_json(&tenant).await;
    let plain = emu.demo_token().await;
    let user_admin = emu.app_token("a1000000-0000-4000-8000-000000000001").await;
    let global = emu.app_token("a1000000-0000-4000-8000-000000000002").await;
    let mail_only = emu.app_token("a1000000-0000-4000-8000-000000000003").await;
    let grace = format!("v1.0/users/{}", uid(7)); // Helpdesk Administrator
    let lee = format!("v1.0/users/{}", uid(11)); // Global Administrator
    let other = json!({"otherMails": ["x@fabrikam.com"]});

    emu.patch(&grace, &plain, other.clone())
        .await
        .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(
        emu.patch(&grace, &plain, json!({"mail": "grace@fabrikam.com"}))
            .await
            .status,
        204,
        "mail is not sensitive"
    );
    assert_eq!(
        emu.patch(&grace, &user_admin, other.clone()).await.status,
        204
    );
    emu.patch(&lee, &user_admin, other.clone())
        .await
        .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.patch(&lee, &global, other.clone()).await.status, 204);

    // A member (Tess) or owner (Xavier) of a role-assignable group counts as an admin
    // only the unrestricted roles may manage (graph-facts §2); a PIM-eligible User
    // Administrator (Ravi) as one (stricter: Graph doesn't say).
    for nn in [27, 31] {
        let target = format!("v1.0/users/{}", uid(nn));
        emu.patch(&target, &user_admin, other.clone())
            .await
            .assert_error(403, "Authorization_RequestDenied");
        assert_eq!(emu.patch(&target, &global, other.clone()).await.status, 204);
    }
    let ravi = format!("v1.0/users/{}", uid(26));
    emu.patch(&ravi, &plain, other.clone())
        .await
        .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(
        emu.patch(&ravi, &user_admin, other.clone()).await.status,
        204
    );

    // passwordProfile needs at least User Administrator, for any target.
    let pw = json!({"passwordProfile": {"password": "N3w-Passw0rd!", "forceChangePasswordNextSignIn": true}});
    let adele = format!("v1.0/users/{}", uid(1));
    emu.patch(&adele, &plain, pw.clone())
        .await
        .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.patch(&adele, &user_admin, pw).await.status, 204);
    assert_eq!(
        emu.user(&uid(1)).await["passwordProfile"]["password"],
        Value::Null
    );

    // Per-property least permission: otherMails with User-Mail.ReadWrite.All, but not mail.
    let a = emu
        .patch(
            &adele,
            &mail_only,
            json!({"otherMails": ["a@fabrikam.com"]}),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(
        emu.last_request().await["permission"],
        "User-Mail.ReadWrite.All"
    );
    emu.patch(&adele, &mail_only, json!({"mail": "a@fabrikam.com"}))
        .await
        .assert_error(403, "Authorization_RequestDenied");

    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.patch(&adele, &read, json!({"mail": "a@fabrikam.com"}))
        .await
        .assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn write_requests_need_a_json_content_type() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let url = format!("{}v1.0/users/{}", emu.root, uid(1));
    let r = emu
        .client
        .patch(&url)
        .bearer_auth(&token)
        .body(r#"{"mail":"a@fabrikam.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(
        body["error"]["message"],
        "Write requests (excluding DELETE) must contain the Content-Type header declaration."
    );
    let r = emu
        .client
        .patch(&url)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(r#"{"mail":"a@fabrikam.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(emu.user(&uid(1)).await["mail"], Value::Null);
}

#[tokio::test]
async fn account_enabled_takes_its_least_permission_pair() {
    let mut tenant = demo_json();
    add_app(
        &mut tenant,
        "a3000000-0000-4000-8000-000000000001",
        &["User.EnableDisableAccount.All", "User.Read.All"],
        &[],
    );
    add_app(
        &mut tenant,
        "a3000000-0000-4000-8000-000000000002",
        &["User.EnableDisableAccount.All"],
        &[],
    );
    let emu = Emulator::from_json(&tenant).await;
    let pair = emu.app_token("a3000000-0000-4000-8000-000000000001").await;
    let half = emu.app_token("a3000000-0000-4000-8000-000000000002").await;
    let path = format!("v1.0/users/{}", uid(12));
    emu.patch(&path, &half, json!({"accountEnabled": true}))
        .await
        .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(
        emu.patch(&path, &pair, json!({"accountEnabled": true}))
            .await
            .status,
        204
    );
    assert_eq!(
        emu.last_request().await["permission"],
        "User.EnableDisableAccount.All"
    );
    assert_eq!(emu.user(&uid(12)).await["accountEnabled"], true);
    emu.patch(&path, &pair, json!({"mail": "m@fabrikam.com"}))
        .await
        .assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn the_address_and_upn_indexes_follow_changes() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let adele = format!("v1.0/users/{}", uid(1));
    let franz = format!("v1.0/users/{}", uid(6));
    emu.patch(&adele, &token, json!({"mail": "franz.private@outlook.com"}))
        .await
        .assert_error(400, "Request_BadRequest");
    assert_eq!(
        emu.patch(&franz, &token, json!({"otherMails": []}))
            .await
            .status,
        204
    );
    assert_eq!(
        emu.patch(&adele, &token, json!({"mail": "franz.private@outlook.com"}))
            .await
            .status,
        204
    );
    emu.patch(
        &franz,
        &token,
        json!({"otherMails": ["Franz.Private@outlook.com"]}),
    )
    .await;
    // otherMails are not checked for uniqueness, but mail is: the address is Adele's now.
    emu.patch(
        &format!("v1.0/users/{}", uid(2)),
        &token,
        json!({"mail": "FRANZ.PRIVATE@outlook.com"}),
    )
    .await
    .assert_error(400, "Request_BadRequest");

    let a = emu
        .patch(
            &adele,
            &token,
            json!({"userPrincipalName": "adele@contoso.com"}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(
        emu.get("v1.0/users/adele@contoso.com", &token).await.json["id"],
        uid(1)
    );
    assert_eq!(
        emu.user(&uid(1)).await["identities"][0]["issuerAssignedId"],
        "adele@contoso.com"
    );
    emu.get("v1.0/users/adele.vance@contoso.com", &token)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    emu.patch(
        &adele,
        &token,
        json!({"userPrincipalName": "adele@fabrikam.com"}),
    )
    .await
    .assert_error(400, "Request_BadRequest");
}
