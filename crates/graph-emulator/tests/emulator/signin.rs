//! The other ways in, end to end over HTTP: workload identity federation (the emulator's own
//! issuer, a credential added while running, each refusal), delegated user tokens acting
//! with the user's directory roles, and managed identity tokens through the App Service and
//! IMDS protocols on the second listener.

// Test helpers live outside `#[test]` functions, where clippy.toml's allow-unwrap-in-tests
// doesn't reach; a failed unwrap here is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use graph_emulator::token::FEDERATION_ISSUER;
use graph_emulator::{EmulatorConfig, Tenant, start};
use serde_json::{Value, json};

use crate::support::{Answer, Emulator, conversion, demo_json, uid};

const TENANT_ID: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";
const FED_APP: &str = "f0000000-0000-4000-8000-0000000000fe";
const SYSTEM_MI: &str = "a0000000-0000-4000-8000-00000000005a";
const USER_MI: &str = "a0000000-0000-4000-8000-0000000000a1";
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const SUBJECT: &str = "repo:contoso/b2b-convert:ref:refs/heads/main";
const PROD_SUBJECT: &str = "repo:contoso/b2b-convert:environment:prod";

async fn post_json(emu: &Emulator, path: &str, body: Value) -> Answer {
    emu.send("POST", path, None, &[], Some(&body)).await
}

/// A token request presenting `assertion` for the federated app.
async fn federated_token(emu: &Emulator, assertion: &str) -> Answer {
    let response = emu
        .client
        .post(format!("{}{TENANT_ID}/oauth2/v2.0/token", emu.root))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", FED_APP),
            ("scope", "https://graph.microsoft.com/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

async fn mint_federated(emu: &Emulator, body: Value) -> String {
    let a = post_json(emu, "_emulator/tokens/federated", body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["issuer"], format!("{}_federation", emu.root));
    a.json["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn federated_tokens_sign_an_app_in_and_are_refused_when_they_match_no_credential() {
    let mut tenant = demo_json();
    // The tenant file can only name the emulator's issuer by its placeholder.
    tenant["applications"].as_array_mut().unwrap().push(json!({
        "clientId": FED_APP,
        "roles": ["User.Read.All"],
        "federatedIdentityCredentials": [{"name": "prod", "issuer": FEDERATION_ISSUER,
            "subject": PROD_SUBJECT, "audiences": ["api://AzureADTokenExchange"]}],
    }));
    let emu = Emulator::from_json(&tenant).await;
    let issuer = format!("{}_federation", emu.root);
    let token = mint_federated(&emu, json!({"subject": PROD_SUBJECT})).await;
    let a = federated_token(&emu, &token).await;
    assert_eq!(a.status, 200, "{}", a.text);

    // The issuer's discovery document and keys.
    let doc = emu
        .send(
            "GET",
            "_federation/.well-known/openid-configuration",
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(doc.json["issuer"], issuer);
    assert_eq!(doc.json["jwks_uri"], format!("{issuer}/keys"));
    let keys = emu.send("GET", "_federation/keys", None, &[], None).await;
    assert_eq!(keys.json["keys"][0]["kty"], "RSA");

    // Before the credential for SUBJECT exists, its subject matches no record.
    let token = mint_federated(&emu, json!({"subject": SUBJECT})).await;
    let a = federated_token(&emu, &token).await;
    assert_eq!(
        (a.status.as_u16(), a.json["error_codes"][0].as_u64()),
        (401, Some(700213))
    );

    let credential = json!({"name": "github-main", "issuer": issuer, "subject": SUBJECT,
        "audiences": ["api://AzureADTokenExchange"]});
    let path = format!("_emulator/applications/{FED_APP}/federatedIdentityCredentials");
    let a = post_json(&emu, &path, credential.clone()).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(post_json(&emu, &path, credential.clone()).await.status, 400);
    let unknown =
        "_emulator/applications/00000000-0000-4000-8000-000000000000/federatedIdentityCredentials";
    assert_eq!(post_json(&emu, unknown, credential).await.status, 404);

    let a = federated_token(&emu, &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let access = a.json["access_token"].as_str().unwrap();
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(access).unwrap();
    assert_eq!(
        (claims["appid"].as_str(), claims["appidacr"].as_str()),
        (Some(FED_APP), Some("2"))
    );
    assert_eq!(
        emu.get(&format!("v1.0/users/{}", uid(2)), access)
            .await
            .status,
        200
    );

    let refused = |body: Value, code: u64| {
        let emu = &emu;
        async move {
            let token = mint_federated(emu, body).await;
            let a = federated_token(emu, &token).await;
            assert_eq!(a.status, 401, "{}", a.text);
            assert_eq!(a.json["error"], "invalid_client");
            assert_eq!(a.json["error_codes"][0].as_u64(), Some(code), "{}", a.text);
        }
    };
    refused(
        json!({"subject": SUBJECT, "lifetimeSeconds": -3600}),
        700024,
    )
    .await;
    refused(
        json!({"subject": "repo:contoso/other:ref:refs/heads/main"}),
        700213,
    )
    .await;
    refused(
        json!({"subject": SUBJECT, "audience": "api://AzureADMyOrg"}),
        700212,
    )
    .await;

    // Reset forgets the credential added while running, keeps the tenant file's.
    assert_eq!(
        emu.send("POST", "_emulator/reset", None, &[], None)
            .await
            .status,
        204
    );
    let token = mint_federated(&emu, json!({"subject": SUBJECT})).await;
    assert_eq!(
        federated_token(&emu, &token).await.json["error_codes"][0],
        700213
    );
    let token = mint_federated(&emu, json!({"subject": PROD_SUBJECT})).await;
    assert_eq!(federated_token(&emu, &token).await.status, 200);
}

/// The demo tenant with Megan (12) a Guest Inviter and Nestor (13) a User Administrator.
fn tenant_with_admins() -> Value {
    let mut tenant = demo_json();
    let roles = tenant["directoryRoles"].as_array_mut().unwrap();
    for role in roles.iter_mut() {
        if role["displayName"] == "User Administrator" {
            role["members"] = json!([uid(13)]);
        }
    }
    roles.push(json!({
        "id": "a0000000-0000-4000-8000-0000000000e1",
        "displayName": "Guest Inviter",
        "roleTemplateId": "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        "members": [uid(12)],
    }));
    tenant
}

async fn delegated(emu: &Emulator, user: &str, scopes: &[&str]) -> String {
    let a = post_json(
        emu,
        "_emulator/tokens/delegated",
        json!({"user": user, "scopes": scopes}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.json["expiresOn"].as_i64().unwrap() > 0);
    a.json["accessToken"].as_str().unwrap().to_owned()
}

fn guest_invitation() -> Value {
    json!({"invitedUserEmailAddress": "new.partner@wingtiptoys.com",
        "inviteRedirectUrl": "https://myapps.microsoft.com"})
}

#[tokio::test]
async fn delegated_tokens_act_with_the_signed_in_users_rights() {
    let emu = Emulator::from_json(&tenant_with_admins()).await;
    let scopes = ["User.ReadWrite.All", "User.Invite.All"];
    let chen = uid(3);

    // A user without roles: reads with the scope, writes refused.
    let patti = delegated(&emu, "patti.fernandez@contoso.com", &scopes).await;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&patti).unwrap();
    assert_eq!(
        (
            claims["idtyp"].as_str(),
            claims["appid"].as_str(),
            claims["oid"].as_str()
        ),
        (Some("user"), Some(AZURE_CLI), Some(uid(14).as_str()))
    );
    assert_eq!(claims["scp"], "User.ReadWrite.All User.Invite.All");
    assert_eq!(emu.get("v1.0/users", &patti).await.status, 200);
    let log = emu.last_request().await;
    assert_eq!(
        (log["appId"].as_str(), log["permission"].as_str()),
        (Some(AZURE_CLI), Some("User.ReadWrite.All"))
    );
    emu.patch(
        &format!("v1.0/users/{chen}"),
        &patti,
        json!({"jobTitle": "x"}),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
    emu.post("v1.0/invitations", &patti, guest_invitation())
        .await
        .assert_error(403, "Authorization_RequestDenied");

    // A Guest Inviter invites guests but converts nobody.
    let megan = delegated(&emu, &uid(12), &scopes).await;
    let a = emu
        .post("v1.0/invitations", &megan, guest_invitation())
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    emu.post(
        "v1.0/invitations",
        &megan,
        conversion(&chen, "chen.li@adatum.com"),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");

    // A User Administrator edits and converts, but only with the scope for it.
    let nestor = delegated(&emu, "nestor.wilke@contoso.com", &scopes).await;
    let a = emu
        .patch(
            &format!("v1.0/users/{chen}"),
            &nestor,
            json!({"jobTitle": "Partner"}),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = emu
        .post(
            "v1.0/invitations",
            &nestor,
            conversion(&chen, "chen.li@adatum.com"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let state = emu.state().await;
    let email = state["messages"].as_array().unwrap().last().unwrap();
    assert!(
        !email["body"].as_str().unwrap().contains("Hallo"),
        "the inviter has no mail: custom body left out"
    );
    let revoke = format!("v1.0/users/{chen}/revokeSignInSessions");
    assert_eq!(emu.post(&revoke, &nestor, json!({})).await.status, 200);
    emu.post(&revoke, &patti, json!({}))
        .await
        .assert_error(403, "Authorization_RequestDenied");

    // A Helpdesk Administrator resets a redemption; a Guest Inviter may not.
    let omar = uid(23);
    let reset = json!({"invitedUserEmailAddress": "omar@northwind.com",
        "inviteRedirectUrl": "https://myapps.microsoft.com",
        "invitedUser": {"id": omar}, "resetRedemption": true});
    emu.post("v1.0/invitations", &megan, reset.clone())
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let grace = delegated(&emu, &uid(7), &scopes).await;
    let a = emu.post("v1.0/invitations", &grace, reset).await;
    assert_eq!(a.status, 201, "{}", a.text);

    let read_only = delegated(&emu, "nestor.wilke@contoso.com", &["User.Read.All"]).await;
    assert_eq!(
        emu.get(&format!("v1.0/users/{chen}"), &read_only)
            .await
            .status,
        200
    );
    emu.patch(
        &format!("v1.0/users/{chen}"),
        &read_only,
        json!({"jobTitle": "x"}),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");

    // Refusals of the minting endpoint, and an expired token.
    let a = post_json(
        &emu,
        "_emulator/tokens/delegated",
        json!({"user": "nobody@contoso.com", "scopes": scopes}),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(a.message().contains("nobody@contoso.com"), "{}", a.text);
    let a = post_json(
        &emu,
        "_emulator/tokens/delegated",
        json!({"user": uid(13), "scopes": []}),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = post_json(
        &emu,
        "_emulator/tokens/delegated",
        json!({"user": uid(13), "scopes": scopes, "lifetimeSeconds": -60}),
    )
    .await;
    let expired = a.json["accessToken"].as_str().unwrap();
    emu.get("v1.0/users", expired)
        .await
        .assert_error(401, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn managed_identity_tokens_through_app_service_and_imds() {
    let mut tenant = demo_json();
    tenant["managedIdentities"] = json!([
        {"clientId": SYSTEM_MI, "kind": "systemAssigned", "roles": ["User.Read.All"]},
        {"clientId": USER_MI, "kind": "userAssigned", "roles": ["Directory.Read.All"]},
    ]);
    let tenant = Tenant::from_json(&tenant.to_string(), "test tenant").unwrap();
    let config = EmulatorConfig {
        managed_identity: true,
        ..EmulatorConfig::default()
    };
    let running = start(tenant, config).await.unwrap();
    let endpoint = running.managed_identity().unwrap();
    let emu = Emulator {
        root: running.url().to_string(),
        running,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    assert_eq!(endpoint.identity_endpoint.path(), "/msi/token");
    assert_eq!(endpoint.identity_endpoint.scheme(), "http");
    assert_ne!(
        endpoint.imds_authority_host.port(),
        emu.running.url().port()
    );

    // App Service: the system-assigned identity by default.
    let app_service = |header: Option<String>, query: &'static str| {
        let client = emu.client.clone();
        let url = format!(
            "{}?resource=https://graph.microsoft.com&api-version=2019-08-01{query}",
            endpoint.identity_endpoint
        );
        async move {
            let mut request = client.get(url);
            if let Some(h) = header {
                request = request.header("X-IDENTITY-HEADER", h);
            }
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = app_service(Some(endpoint.identity_header.clone()), "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], SYSTEM_MI);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(emu.get("v1.0/users", &token).await.status, 200);
    let (status, body) = app_service(None, "").await;
    assert_eq!((status, body["statusCode"].as_u64()), (401, Some(401)));
    let (status, body) = app_service(
        Some(endpoint.identity_header.clone()),
        "&client_id=00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Unable to load the proper Managed Identity."))
    );

    // IMDS: the user-assigned identity by client id.
    let imds = format!(
        "{}metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fgraph.microsoft.com%2F&client_id={USER_MI}",
        endpoint.imds_authority_host
    );
    let response = emu
        .client
        .get(&imds)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://graph.microsoft.com/");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(emu.get("v1.0/users", &token).await.status, 200);
    assert_eq!(emu.last_request().await["appId"], USER_MI);
    let response = emu.client.get(&imds).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error_description"],
        "Required metadata header not specified"
    );

    assert_eq!(emu.state().await["managedIdentityTokens"], 2);
    emu.running.shutdown().await;
}
