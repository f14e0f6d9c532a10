//! `POST /beta/users/{id}/convertExternalToInternalMemberUser` over raw HTTP: the
//! conversion of an external user back into an internal member, its answer, what it does
//! to the user, and each refusal (routes/conversion.rs documents the choices).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use serde_json::{Value, json};

use crate::support::*;

/// Nina Park: converted to B2B, invitation still pending.
const NINA: u32 = 22;
/// Omar Haddad: converted and redeemed (a federated identity).
const OMAR: u32 = 23;
/// Quinn: a real guest (`#EXT#` UPN), redeemed.
const QUINN: u32 = 24;
/// The global administrator.
const MOD_ADMIN: u32 = 25;

fn path(n: u32) -> String {
    format!("beta/users/{}/convertExternalToInternalMemberUser", uid(n))
}

fn body(upn: &str, password: &str) -> Value {
    json!({
        "userPrincipalName": upn,
        "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": true}
    })
}

const PASSWORD: &str = "Xq7!0123456789abcdef";

#[tokio::test]
async fn a_pending_user_becomes_an_internal_member_and_the_password_is_never_kept() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .post(&path(NINA), &token, body("nina.park@contoso.com", PASSWORD))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["userPrincipalName"], "nina.park@contoso.com");
    assert_eq!(a.json["displayName"], "Nina Park");
    assert_eq!(a.json["mail"], "nina@fabrikam.com", "mail is left alone");
    assert!(a.json["convertedToInternalUserDateTime"].is_string());
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("beta/$metadata#microsoft.graph.conversionUserDetails")
    );
    assert!(a.headers.contains_key("request-id"));
    let logged = emu.last_request().await;
    assert_eq!(logged["method"], "POST");
    assert_eq!(logged["path"], format!("/{}", path(NINA)));
    assert_eq!(logged["userId"], uid(NINA));
    assert_eq!(logged["permission"], "User.ReadWrite.All");
    assert_eq!(logged["status"], 200);

    let user = emu.user(&uid(NINA)).await;
    assert_eq!(user["userType"], "Member");
    assert_eq!(user["externalUserState"], Value::Null);
    assert_eq!(user["externalUserStateChangeDateTime"], Value::Null);
    assert!(user["externalUserConvertedOn"].is_string());
    let identities = user["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(identities[0]["signInType"], "userPrincipalName");
    assert_eq!(identities[0]["issuerAssignedId"], "nina.park@contoso.com");
    assert_eq!(user["passwordProfile"]["password"], Value::Null);
    assert_eq!(
        user["passwordProfile"]["forceChangePasswordNextSignIn"],
        true
    );
    assert!(!emu.state().await.to_string().contains(PASSWORD));

    // v1.0 shows an internal user; the beta stamp is not a v1.0 property.
    let read = emu
        .get(
            &format!(
                "v1.0/users/{}?$select=externalUserState,userType",
                uid(NINA)
            ),
            &token,
        )
        .await;
    assert_eq!(read.json["externalUserState"], Value::Null);
    let beta_only = emu
        .get(
            &format!("v1.0/users/{}?$select=externalUserConvertedOn", uid(NINA)),
            &token,
        )
        .await;
    assert_eq!(beta_only.status, 400, "{}", beta_only.text);

    // Now internal: a second conversion is refused.
    let again = emu
        .post(&path(NINA), &token, body("nina.park@contoso.com", PASSWORD))
        .await;
    again.assert_error(400, "badRequest");
    assert_eq!(
        again.message(),
        "The user authentication is already internal and is not eligible for conversion."
    );

    // And it can't be invited to B2B again, even with its mail still the partner's.
    let invite = emu
        .post(
            "v1.0/invitations",
            &token,
            json!({
                "invitedUserEmailAddress": "nina@fabrikam.com",
                "inviteRedirectUrl": "https://myapps.microsoft.com",
                "invitedUser": {"id": uid(NINA)}
            }),
        )
        .await;
    invite.assert_error(412, "PreconditionFailed");
    assert_eq!(
        invite.message(),
        "UserState is neither accepted nor pending."
    );
    assert_eq!(emu.user(&uid(NINA)).await["userType"], "Member");
}

#[tokio::test]
async fn a_redeemed_guest_loses_the_federated_identity_and_takes_a_new_upn() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .post(&path(QUINN), &token, body("quinn@contoso.com", PASSWORD))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let user = emu.user(&uid(QUINN)).await;
    assert_eq!(user["userType"], "Member", "a Guest becomes a Member");
    assert_eq!(user["userPrincipalName"], "quinn@contoso.com");
    assert_eq!(
        user["identities"],
        json!([{"signInType": "userPrincipalName", "issuer": "contoso.onmicrosoft.com", "issuerAssignedId": "quinn@contoso.com"}])
    );
    // The new UPN finds the user.
    let read = emu
        .get("v1.0/users/quinn@contoso.com?$select=id", &token)
        .await;
    assert_eq!(read.json["id"], uid(QUINN));

    // Omar redeemed too: his federated identity goes, his own UPN stays.
    let a = emu
        .post(
            &path(OMAR),
            &token,
            body("omar.haddad@contoso.com", PASSWORD),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let user = emu.user(&uid(OMAR)).await;
    let kinds: Vec<&str> = user["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["signInType"].as_str())
        .collect();
    assert_eq!(kinds, ["userPrincipalName"]);
}

#[tokio::test]
async fn only_the_documented_permissions_and_a_user_administrator_may_convert() {
    let mut tenant = demo_json();
    add_app(
        &mut tenant,
        "a1b2c3d4-0000-4000-8000-000000000001",
        &["User-ConvertToInternal.ReadWrite.All"],
        &[],
    );
    add_app(
        &mut tenant,
        "a1b2c3d4-0000-4000-8000-000000000002",
        &["Directory.ReadWrite.All"],
        &[],
    );
    let emu = Emulator::from_json(&tenant).await;
    let read_only = emu.token(READ_APP, READ_SECRET).await;
    emu.post(
        &path(NINA),
        &read_only,
        body("nina.park@contoso.com", PASSWORD),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
    let directory = emu.app_token("a1b2c3d4-0000-4000-8000-000000000002").await;
    emu.post(
        &path(NINA),
        &directory,
        body("nina.park@contoso.com", PASSWORD),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(
        emu.user(&uid(NINA)).await["externalUserState"],
        "PendingAcceptance"
    );

    // A signed-in person needs the scope and an admin role.
    let scopes = ["User.ReadWrite.All"];
    let plain = delegated(&emu, &uid(1), &scopes).await;
    emu.post(&path(NINA), &plain, body("nina.park@contoso.com", PASSWORD))
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let admin = delegated(&emu, &uid(MOD_ADMIN), &scopes).await;
    let a = emu
        .post(
            &path(OMAR),
            &admin,
            body("omar.haddad@contoso.com", PASSWORD),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);

    let least = emu.app_token("a1b2c3d4-0000-4000-8000-000000000001").await;
    let a = emu
        .post(&path(NINA), &least, body("nina.park@contoso.com", PASSWORD))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        emu.last_request().await["permission"],
        "User-ConvertToInternal.ReadWrite.All"
    );
}

async fn delegated(emu: &Emulator, user: &str, scopes: &[&str]) -> String {
    let a = emu
        .send(
            "POST",
            "_emulator/tokens/delegated",
            None,
            &[],
            Some(&json!({"user": user, "scopes": scopes})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.json["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_cloud_user_needs_a_free_upn_in_a_verified_domain_and_a_good_password() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let cases: [(Value, &str); 9] = [
        (
            body("nina@fabrikam.com", PASSWORD),
            "The provided UPN does not have a valid domain.",
        ),
        (
            body("nina#x@contoso.com", PASSWORD),
            "The provided UPN does not have a valid domain.",
        ),
        (
            body("adele.vance@contoso.com", PASSWORD),
            "Another object with the same value for property userPrincipalName already exists.",
        ),
        (body("", PASSWORD), "The provided UPN cannot be empty."),
        (
            json!({"passwordProfile": {"password": PASSWORD}}),
            "The provided UPN cannot be empty.",
        ),
        (
            body("nina.park@contoso.com", "short1A"),
            "The provided password is not valid.",
        ),
        (
            body("nina.park@contoso.com", "alllowercaseletters"),
            "The provided password is not valid.",
        ),
        (
            json!({"userPrincipalName": "nina.park@contoso.com"}),
            "The provided password is not valid.",
        ),
        (
            json!({"userPrincipalName": "nina.park@contoso.com", "passwordProfile": {"password": PASSWORD}, "mail": ""}),
            "The mail provided cannot be empty.",
        ),
    ];
    for (request, message) in cases {
        let a = emu.post(&path(NINA), &token, request.clone()).await;
        a.assert_error(400, "badRequest");
        assert_eq!(a.message(), message, "{request}");
    }
    for request in [
        json!({"userPrincipalName": "nina.park@contoso.com", "passwordProfile": {"password": PASSWORD}, "accountEnabled": false}),
        json!({"userPrincipalName": "nina.park@contoso.com", "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": "true"}}),
        json!({"userPrincipalName": 7, "passwordProfile": {"password": PASSWORD}}),
        json!(["nina"]),
    ] {
        emu.post(&path(NINA), &token, request)
            .await
            .assert_error(400, "badRequest");
    }
    let mail_outside = json!({"userPrincipalName": "nina.park@contoso.com",
        "passwordProfile": {"password": PASSWORD}, "mail": "nina@fabrikam.com"});
    emu.post(&path(NINA), &token, mail_outside)
        .await
        .assert_error(400, "badRequest");
    // Nothing above changed her.
    let user = emu.user(&uid(NINA)).await;
    assert_eq!(user["externalUserState"], "PendingAcceptance");
    assert_eq!(user["userPrincipalName"], "nina.park@contoso.com");

    // A mail in a verified domain is taken.
    let a = emu
        .post(
            &path(NINA),
            &token,
            json!({"userPrincipalName": "nina.p@contoso.com", "passwordProfile": {"password": PASSWORD},
                   "mail": "nina.p@contoso.com"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["mail"], "nina.p@contoso.com");
    let user = emu.user(&uid(NINA)).await;
    assert_eq!(user["mail"], "nina.p@contoso.com");
    assert_eq!(user["userPrincipalName"], "nina.p@contoso.com");
}

#[tokio::test]
async fn internal_users_unknown_users_and_role_holders_are_refused() {
    let mut tenant = demo_json();
    // Nina also holds a directory role.
    tenant["directoryRoles"][1]["members"]
        .as_array_mut()
        .unwrap()
        .push(json!(uid(NINA)));
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let a = emu
        .post(&path(1), &token, body("adele.vance@contoso.com", PASSWORD))
        .await;
    a.assert_error(400, "badRequest");
    assert!(a.message().contains("not eligible"), "{}", a.text);
    let a = emu
        .post(&path(NINA), &token, body("nina.park@contoso.com", PASSWORD))
        .await;
    a.assert_error(400, "badRequest");
    assert_eq!(
        a.message(),
        "A user cannot be converted if they have a role assigned to them."
    );
    emu.post(
        "beta/users/d0000000-0000-4000-8000-000000000999/convertExternalToInternalMemberUser",
        &token,
        body("x@contoso.com", PASSWORD),
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");
    // Only POST is served; the route is beta only.
    emu.get(&path(OMAR), &token)
        .await
        .assert_error(405, "BadRequest");
    let v1 = emu
        .post(
            &format!(
                "v1.0/users/{}/convertExternalToInternalMemberUser",
                uid(OMAR)
            ),
            &token,
            body("omar.haddad@contoso.com", PASSWORD),
        )
        .await;
    assert_eq!(v1.status, 400, "{}", v1.text);
    assert_eq!(emu.user(&uid(OMAR)).await["externalUserState"], "Accepted");
}

#[tokio::test]
async fn a_synced_user_is_converted_only_without_upn_or_password() {
    let mut tenant = demo_json();
    let nina = tenant["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["id"] == uid(NINA))
        .unwrap();
    nina["onPremisesSyncEnabled"] = json!(true);
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let a = emu
        .post(&path(NINA), &token, body("nina.park@contoso.com", PASSWORD))
        .await;
    a.assert_error(400, "badRequest");
    assert_eq!(
        a.message(),
        "For users synchronized from on-premises, userPrincipalName and passwordProfile must be empty"
    );
    // The documented form: no body at all.
    let a = emu.send("POST", &path(NINA), Some(&token), &[], None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["userPrincipalName"], "nina.park@contoso.com");
    let user = emu.user(&uid(NINA)).await;
    assert_eq!(user["externalUserState"], Value::Null);
    assert_eq!(user.get("passwordProfile"), None, "no password set");
}

#[tokio::test]
async fn a_pending_invitation_link_stops_working_after_the_conversion() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    // Adele is converted to B2B (mail, then the invitation), then back.
    let adele = 1;
    let a = emu
        .patch(
            &format!("v1.0/users/{}", uid(adele)),
            &token,
            json!({"mail": "adele@fabrikam.com"}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let invited = emu
        .post(
            "v1.0/invitations",
            &token,
            conversion(&uid(adele), "adele@fabrikam.com"),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let link = invited.json["inviteRedeemUrl"].as_str().unwrap().to_owned();
    assert_eq!(emu.get_url(&link).await.status, 200);
    let a = emu
        .post(
            &path(adele),
            &token,
            body("adele.vance@contoso.com", PASSWORD),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_ne!(emu.get_url(&link).await.status, 200);
    let state = emu.state().await;
    let record = state["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["userId"] == uid(adele))
        .unwrap();
    assert_eq!(record["status"], "Cancelled");
}
