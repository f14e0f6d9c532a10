//! Directory roles, domains, `transitiveMemberOf` casts and `revokeSignInSessions`.

use super::*;

#[tokio::test]
async fn roles_domains_and_transitive_member_of() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let path = format!(
        "v1.0/users/{}/transitiveMemberOf/microsoft.graph.directoryRole",
        uid(11)
    );
    emu.get(&path, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    emu.get(&format!("{path}?$count=true"), &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    let a = emu
        .get_eventual(&format!("{path}?$count=true"), &token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["@odata.count"], 1);
    assert_eq!(
        a.json["value"][0]["roleTemplateId"],
        "62e90394-69f5-4237-9190-012177145e10"
    );
    assert_eq!(
        a.json["value"][0]["@odata.type"],
        "#microsoft.graph.directoryRole"
    );
    let a = emu
        .get_eventual(
            &format!(
                "v1.0/users/{}/transitiveMemberOf/microsoft.graph.directoryRole?$count=true",
                uid(2)
            ),
            &token,
        )
        .await;
    assert_eq!(a.json["value"], json!([]));

    let a = emu.get("v1.0/directoryRoles", &token).await;
    assert_eq!(a.json["value"].as_array().unwrap().len(), 3);
    assert!(a.json.get("@odata.nextLink").is_none());
    let a = emu
        .get(
            "v1.0/directoryRoles/a0000000-0000-4000-8000-000000000001/members",
            &token,
        )
        .await;
    assert_eq!(ids(&a), vec![uid(11), uid(25)]);

    let a = emu.get("v1.0/domains", &token).await;
    let domains = a.json["value"].as_array().unwrap();
    assert_eq!(domains.len(), 2);
    assert_eq!(
        (
            domains[0]["id"].as_str(),
            domains[0]["isInitial"].as_bool(),
            domains[0]["isDefault"].as_bool()
        ),
        (Some("contoso.onmicrosoft.com"), Some(true), Some(false))
    );
    assert_eq!(
        (
            domains[1]["isVerified"].as_bool(),
            domains[1]["isDefault"].as_bool()
        ),
        (Some(true), Some(true))
    );
}

#[tokio::test]
async fn revoke_sign_in_sessions_stamps_the_user() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let path = format!("v1.0/users/{}/revokeSignInSessions", uid(2));
    let a = emu.send("POST", &path, Some(&token), &[], None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["value"], true);
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#Edm.Boolean")
    );
    assert!(emu.user(&uid(2)).await["signInSessionsValidFromDateTime"].is_string());
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.send("POST", &path, Some(&read), &[], None)
        .await
        .assert_error(403, "Authorization_RequestDenied");
}
