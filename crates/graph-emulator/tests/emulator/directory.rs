//! The directory endpoints end to end: raw HTTP with a real token, Graph's status and error
//! code, and the resulting tenant state read back from `/_emulator/state`.

use serde_json::{Value, json};

use crate::support::*;

fn ids(answer: &Answer) -> Vec<String> {
    answer.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

fn big_tenant(n: usize) -> Value {
    let mut t = demo_json();
    let users = t["users"].as_array_mut().unwrap();
    for i in 0..n {
        users.push(json!({
            "id": format!("b0000000-0000-4000-8000-{i:012}"),
            "displayName": format!("Bulk {i}"),
            "userPrincipalName": format!("bulk{i}@contoso.com"),
            "mail": format!("bulk{i}@contoso.com"),
            "userType": "Member",
            "accountEnabled": true
        }));
    }
    t
}

// ---------------------------------------------------------------- reads

#[tokio::test]
async fn get_user_by_id_or_upn_returns_the_default_set_or_the_selection() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get(&format!("v1.0/users/{}", uid(6)), &token).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["mail"], "franz.kohl@contoso.com");
    assert_eq!(a.json["businessPhones"], json!([]));
    assert!(a.json.get("otherMails").is_none(), "otherMails only on $select");
    assert!(a.json["@odata.context"].as_str().unwrap().ends_with("v1.0/$metadata#users/$entity"));
    assert!(a.headers.contains_key("request-id"));

    let a = emu
        .get("v1.0/users/Franz.Kohl@contoso.com?$select=id,otherMails,onPremisesSyncEnabled", &token)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["otherMails"], json!(["franz.private@outlook.com"]));
    assert_eq!(a.json["onPremisesSyncEnabled"], Value::Null);
    assert!(a.json.get("mail").is_none());

    // A guest UPN with '#' must be percent-encoded.
    let a = emu.get("v1.0/users/quinn_tailspintoys.com%23EXT%23@contoso.onmicrosoft.com", &token).await;
    assert_eq!(a.json["id"], uid(24));

    emu.get("v1.0/users/nobody@contoso.com", &token).await.assert_error(404, "Request_ResourceNotFound");
    emu.get("v1.0/users?$select=id,mial", &token).await.assert_error(400, "Request_BadRequest");
    emu.get("v1.0/users?$select=manager", &token).await.assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn every_response_carries_request_ids_and_echoes_the_client_one() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .send("GET", "v1.0/users/nobody", Some(&token), &[("client-request-id", "abc-123")], None)
        .await;
    assert_eq!(a.headers["client-request-id"], "abc-123");
    assert_eq!(a.json["error"]["innerError"]["client-request-id"], "abc-123");
    assert_eq!(
        a.json["error"]["innerError"]["request-id"],
        a.headers["request-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn list_pages_with_next_links_and_limits_top() {
    let emu = Emulator::from_json(&big_tenant(230)).await;
    let token = emu.demo_token().await;
    let first = emu.get("v1.0/users", &token).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["value"].as_array().unwrap().len(), 100, "default page is 100");
    assert!(first.json["@odata.context"].as_str().unwrap().ends_with("v1.0/$metadata#users"));

    let mut seen = Vec::new();
    let mut next = Some(format!("{}v1.0/users?$top=999&$select=id,mail", emu.root));
    let mut pages = 0;
    while let Some(url) = next {
        let a = emu.get(url.strip_prefix(&emu.root).unwrap(), &token).await;
        assert_eq!(a.status, 200, "{}", a.text);
        seen.extend(ids(&a));
        next = a.json["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!((seen.len(), pages), (255, 1));

    let mut next = Some("v1.0/users?$top=100".to_owned());
    let mut seen = Vec::new();
    while let Some(path) = next {
        let a = emu.get(&path, &token).await;
        seen.extend(ids(&a));
        next = a.json["@odata.nextLink"].as_str().map(|u| u.strip_prefix(&emu.root).unwrap().to_owned());
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (255, 255));

    emu.get("v1.0/users?$top=1000", &token).await.assert_error(400, "Request_BadRequest");
    emu.get("v1.0/users?$skiptoken=garbage", &token).await.assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn filter_supports_graph_operators_escaping_and_lambdas() {
    let mut tenant = demo_json();
    tenant["users"].as_array_mut().unwrap().push(json!({
        "id": "d0000000-0000-4000-8000-0000000000f1", "displayName": "Conor O'Brien",
        "userPrincipalName": "conor.o'brien@contoso.com", "mail": "a+b@fabrikam.com"
    }));
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let q = |f: &str| format!("v1.0/users?$filter={}", f.replace(' ', "%20").replace('+', "%2B"));

    let a = emu.get(&q("mail eq 'BEN.WALTERS@contoso.com'"), &token).await;
    assert_eq!(ids(&a), vec![uid(2)]);
    let a = emu.get(&q("displayName eq 'Conor O''Brien'"), &token).await;
    assert_eq!(ids(&a), vec!["d0000000-0000-4000-8000-0000000000f1"]);
    let a = emu.get(&q("mail eq 'a+b@fabrikam.com'"), &token).await;
    assert_eq!(ids(&a).len(), 1, "%2B decodes to a plus sign");
    let a = emu.get(&q("startsWith(displayName,'sam')"), &token).await;
    assert_eq!(ids(&a), vec![uid(20), uid(21)]);
    let a = emu.get(&q("proxyAddresses/any(x:x eq 'smtp:sam@contoso.com')"), &token).await;
    assert_eq!(ids(&a), vec![uid(21)]);
    let a = emu.get(&q("otherMails/any(x:x eq 'lidia@proseware.com')"), &token).await;
    assert_eq!(ids(&a), vec![uid(17)]);
    let a = emu
        .get(&q("userPrincipalName eq 'sam@contoso.com' or mail eq 'sam@contoso.com' or proxyAddresses/any(x:x eq 'SMTP:sam@contoso.com')"), &token)
        .await;
    assert_eq!(ids(&a), vec![uid(20), uid(21)]);
    let a = emu.get(&q("userType in ('Guest') and (externalUserState eq 'Accepted')"), &token).await;
    assert_eq!(ids(&a), vec![uid(24)]);
    let a = emu.get(&q("identities/any(c:c/issuerAssignedId eq 'adele.vance@contoso.com' and c/issuer eq 'contoso.onmicrosoft.com')"), &token).await;
    assert_eq!(ids(&a), vec![uid(1)]);
    let a = emu.get(&q("onPremisesSyncEnabled eq true"), &token).await;
    assert_eq!(ids(&a), vec![uid(4), uid(8), uid(9)]);
    let a = emu.get(&q("mail eq null"), &token).await;
    assert!(ids(&a).contains(&uid(1)) && !ids(&a).contains(&uid(2)));

    emu.get(&q("mail eq 'open"), &token).await.assert_error(400, "Request_BadRequest");
    emu.get(&q("mail gt 'a'"), &token).await.assert_error(400, "Request_UnsupportedQuery");
    emu.get(&q("proxyAddresses eq 'SMTP:a@b.com'"), &token).await.assert_error(400, "Request_UnsupportedQuery");
    emu.get(&q("identities/any(c:c/signInType eq 'userPrincipalName')"), &token).await.assert_error(400, "Request_UnsupportedQuery");
    emu.get(&q("mial eq 'x'"), &token).await.assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn advanced_queries_need_consistency_level_and_count() {
    let emu = Emulator::from_json(&big_tenant(150)).await;
    let token = emu.demo_token().await;
    let ne = "v1.0/users?$filter=userType%20ne%20'Member'";
    emu.get(ne, &token).await.assert_error(400, "Request_UnsupportedQuery");
    emu.get_eventual(ne, &token).await.assert_error(400, "Request_UnsupportedQuery");
    emu.get(&format!("{ne}&$count=true"), &token).await.assert_error(400, "Request_UnsupportedQuery");
    let a = emu.get_eventual(&format!("{ne}&$count=true"), &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["@odata.count"], 1);
    assert_eq!(ids(&a), vec![uid(24)]);

    let ends = "v1.0/users?$filter=endsWith(mail,'@fabrikam.com')&$count=true";
    emu.get(ends, &token).await.assert_error(400, "Request_UnsupportedQuery");
    let a = emu.get_eventual(ends, &token).await;
    assert_eq!(ids(&a), vec![uid(22)]);
    let not = "v1.0/users?$filter=not(accountEnabled%20eq%20true)&$count=true";
    assert_eq!(ids(&emu.get_eventual(not, &token).await), vec![uid(12)]);
    let any_ends = "v1.0/users?$filter=proxyAddresses/any(x:endsWith(x,'@contoso.com'))&$count=true";
    assert_eq!(emu.get_eventual(any_ends, &token).await.json["@odata.count"], 2);

    // $count=true without the header is silently ignored.
    let a = emu.get("v1.0/users?$count=true&$top=5", &token).await;
    assert_eq!(a.status, 200);
    assert!(a.json.get("@odata.count").is_none());

    // Next pages of an advanced query need the header again; @odata.count only on page 1.
    let a = emu.get_eventual("v1.0/users?$filter=startsWith(mail,'bulk')%20and%20userType%20ne%20'Guest'&$count=true&$top=100", &token).await;
    assert_eq!(a.json["@odata.count"], 150);
    let next = a.json["@odata.nextLink"].as_str().unwrap().strip_prefix(&emu.root).unwrap().to_owned();
    emu.get(&next, &token).await.assert_error(400, "Request_UnsupportedQuery");
    let page2 = emu.get_eventual(&next, &token).await;
    assert_eq!(ids(&page2).len(), 50);
    assert!(page2.json.get("@odata.count").is_none());
}

#[tokio::test]
async fn users_count_is_text_and_needs_eventual() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("v1.0/users/$count", &token).await;
    a.assert_error(400, "Request_BadRequest");
    assert_eq!(a.message(), "$count is not currently supported.");
    let a = emu.get_eventual("v1.0/users/$count", &token).await;
    assert_eq!(a.status, 200);
    assert!(a.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(a.text, "25");
    let a = emu.get_eventual("v1.0/users/$count?$filter=userType%20eq%20'Guest'", &token).await;
    assert_eq!(a.text, "1");
}

#[tokio::test]
async fn groups_and_contacts_share_the_query_engine() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("v1.0/groups?$filter=mail%20eq%20'Partners@fabrikam.com'", &token).await;
    assert_eq!(ids(&a), vec!["e0000000-0000-4000-8000-000000000001"]);
    assert!(a.json["@odata.context"].as_str().unwrap().ends_with("#groups"));
    let a = emu
        .get("v1.0/contacts?$filter=proxyAddresses/any(x:x%20eq%20'smtp:pradeep@tailspintoys.com')&$select=id,mail", &token)
        .await;
    assert_eq!(ids(&a), vec!["f0000000-0000-4000-8000-000000000001"]);
    assert_eq!(a.json["value"][0]["mail"], "pradeep@tailspintoys.com");
    let a = emu.get("v1.0/contacts?$filter=startsWith(displayName,'Pradeep')", &token).await;
    assert_eq!(ids(&a).len(), 1);
    emu.get("v1.0/groups?$filter=endsWith(mail,'x')", &token).await.assert_error(400, "Request_UnsupportedQuery");
}

// ---------------------------------------------------------------- PATCH

#[tokio::test]
async fn patch_mail_rewrites_proxy_addresses_and_logs_the_permission() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.patch(&format!("v1.0/users/{}", uid(21)), &token, json!({"mail": "samuel@fabrikam.com"})).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let u = emu.user(&uid(21)).await;
    assert_eq!(u["mail"], "samuel@fabrikam.com");
    assert_eq!(
        u["proxyAddresses"],
        json!(["SMTP:samuel@fabrikam.com", "smtp:samuel.reyes@contoso.com", "smtp:sam@contoso.com"])
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
    assert_eq!((u["userType"].as_str(), u["accountEnabled"].as_bool()), (Some("Guest"), Some(false)));
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
        assert_eq!(a.message(), "Another object with the same value for property proxyAddresses already exists.");
    }
    emu.patch(&adele, &token, json!({"mail": null})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"mail": "josé@fabrikam.com"})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"mial": "a@fabrikam.com"})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"accountEnabled": "false"})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"userType": "Partner"})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"proxyAddresses": ["SMTP:x@fabrikam.com"]})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"creationType": "Invitation"})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"externalUserState": "Accepted"})).await.assert_error(400, "Request_BadRequest");
    emu.patch(&adele, &token, json!({"onPremisesUserPrincipalName": "x@y.local"})).await.assert_error(400, "Request_BadRequest");
    emu.patch("v1.0/users/d0000000-0000-4000-8000-000000000099", &token, json!({"mail": "a@fabrikam.com"}))
        .await
        .assert_error(404, "Request_ResourceNotFound");
    assert_eq!(emu.user(&uid(1)).await["mail"], Value::Null, "nothing changed");
}

#[tokio::test]
async fn patch_respects_mailboxes_and_synced_users() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let johanna = format!("v1.0/users/{}", uid(10));
    emu.patch(&johanna, &token, json!({"mail": "johanna@fabrikam.com"})).await.assert_error(400, "Request_BadRequest");
    let a = emu.patch(&johanna, &token, json!({"mail": "j.lorenz@contoso.com"})).await;
    assert_eq!(a.status, 204);
    assert_eq!(
        emu.user(&uid(10)).await["proxyAddresses"],
        json!(["SMTP:j.lorenz@contoso.com", "smtp:johanna.lorenz@contoso.com"])
    );

    for n in [4, 8, 9] {
        for body in [
            json!({"mail": "x@fabrikam.com"}),
            json!({"otherMails": ["x@fabrikam.com"]}),
            json!({"userType": "Guest"}),
            json!({"accountEnabled": false}),
        ] {
            let a = emu.patch(&format!("v1.0/users/{}", uid(n)), &token, body).await;
            a.assert_error(400, "Request_BadRequest");
            assert!(a.message().starts_with("Unable to update the specified properties for on-premises mastered"));
        }
    }
    assert_eq!(emu.user(&uid(9)).await["mail"], "isaiah.langer@contoso.com");
}

#[tokio::test]
async fn sensitive_properties_of_admins_need_a_directory_role() {
    let mut tenant = demo_json();
    add_app(&mut tenant, "a1000000-0000-4000-8000-000000000001", &["User.ReadWrite.All"], &["User Administrator"]);
    add_app(&mut tenant, "a1000000-0000-4000-8000-000000000002", &["User.ReadWrite.All"], &["Global Administrator"]);
    add_app(&mut tenant, "a1000000-0000-4000-8000-000000000003", &["User-Mail.ReadWrite.All"], &[]);
    let emu = Emulator::from_json(&tenant).await;
    let plain = emu.demo_token().await;
    let user_admin = emu.app_token("a1000000-0000-4000-8000-000000000001").await;
    let global = emu.app_token("a1000000-0000-4000-8000-000000000002").await;
    let mail_only = emu.app_token("a1000000-0000-4000-8000-000000000003").await;
    let grace = format!("v1.0/users/{}", uid(7)); // Helpdesk Administrator
    let lee = format!("v1.0/users/{}", uid(11)); // Global Administrator
    let other = json!({"otherMails": ["x@fabrikam.com"]});

    emu.patch(&grace, &plain, other.clone()).await.assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.patch(&grace, &plain, json!({"mail": "grace@fabrikam.com"})).await.status, 204, "mail is not sensitive");
    assert_eq!(emu.patch(&grace, &user_admin, other.clone()).await.status, 204);
    emu.patch(&lee, &user_admin, other.clone()).await.assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.patch(&lee, &global, other.clone()).await.status, 204);

    // passwordProfile needs at least User Administrator, for any target.
    let pw = json!({"passwordProfile": {"password": "N3w-Passw0rd!", "forceChangePasswordNextSignIn": true}});
    let adele = format!("v1.0/users/{}", uid(1));
    emu.patch(&adele, &plain, pw.clone()).await.assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.patch(&adele, &user_admin, pw).await.status, 204);
    assert_eq!(emu.user(&uid(1)).await["passwordProfile"]["password"], Value::Null);

    // Per-property least permission: otherMails with User-Mail.ReadWrite.All, but not mail.
    let a = emu.patch(&adele, &mail_only, json!({"otherMails": ["a@fabrikam.com"]})).await;
    assert_eq!(a.status, 204);
    assert_eq!(emu.last_request().await["permission"], "User-Mail.ReadWrite.All");
    emu.patch(&adele, &mail_only, json!({"mail": "a@fabrikam.com"})).await.assert_error(403, "Authorization_RequestDenied");

    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.patch(&adele, &read, json!({"mail": "a@fabrikam.com"})).await.assert_error(403, "Authorization_RequestDenied");
}

// ---------------------------------------------------------------- roles, domains, sessions

#[tokio::test]
async fn roles_domains_and_transitive_member_of() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let path = format!("v1.0/users/{}/transitiveMemberOf/microsoft.graph.directoryRole", uid(11));
    emu.get(&path, &token).await.assert_error(400, "Request_UnsupportedQuery");
    emu.get(&format!("{path}?$count=true"), &token).await.assert_error(400, "Request_UnsupportedQuery");
    let a = emu.get_eventual(&format!("{path}?$count=true"), &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["@odata.count"], 1);
    assert_eq!(a.json["value"][0]["roleTemplateId"], "62e90394-69f5-4237-9190-012177145e10");
    assert_eq!(a.json["value"][0]["@odata.type"], "#microsoft.graph.directoryRole");
    let a = emu
        .get_eventual(&format!("v1.0/users/{}/transitiveMemberOf/microsoft.graph.directoryRole?$count=true", uid(2)), &token)
        .await;
    assert_eq!(a.json["value"], json!([]));

    let a = emu.get("v1.0/directoryRoles", &token).await;
    assert_eq!(a.json["value"].as_array().unwrap().len(), 3);
    assert!(a.json.get("@odata.nextLink").is_none());
    let a = emu.get("v1.0/directoryRoles/a0000000-0000-4000-8000-000000000001/members", &token).await;
    assert_eq!(ids(&a), vec![uid(11), uid(25)]);

    let a = emu.get("v1.0/domains", &token).await;
    let domains = a.json["value"].as_array().unwrap();
    assert_eq!(domains.len(), 2);
    assert_eq!((domains[0]["id"].as_str(), domains[0]["isInitial"].as_bool(), domains[0]["isDefault"].as_bool()), (Some("contoso.onmicrosoft.com"), Some(true), Some(false)));
    assert_eq!((domains[1]["isVerified"].as_bool(), domains[1]["isDefault"].as_bool()), (Some(true), Some(true)));
}

#[tokio::test]
async fn revoke_sign_in_sessions_stamps_the_user() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let path = format!("v1.0/users/{}/revokeSignInSessions", uid(2));
    let a = emu.send("POST", &path, Some(&token), &[], None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["value"], true);
    assert!(a.json["@odata.context"].as_str().unwrap().ends_with("$metadata#Edm.Boolean"));
    assert!(emu.user(&uid(2)).await["signInSessionsValidFromDateTime"].is_string());
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.send("POST", &path, Some(&read), &[], None).await.assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_graph_json() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("v1.0/widgets", &token).await;
    a.assert_error(400, "BadRequest");
    assert_eq!(a.message(), "Resource not found for the segment 'widgets'.");
    emu.send("DELETE", "v1.0/users", Some(&token), &[], None).await.assert_error(405, "BadRequest");
}

// ---------------------------------------------------------------- invitations

#[tokio::test]
async fn converting_an_internal_user_keeps_identity_and_records_the_email() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let ben = uid(2);
    assert_eq!(emu.patch(&format!("v1.0/users/{ben}"), &token, json!({"mail": "ben@fabrikam.com"})).await.status, 204);
    let mut body = conversion(&ben, "Ben@Fabrikam.com");
    body["@odata.type"] = json!("#microsoft.graph.invitation");
    body["invitedUser"]["@odata.type"] = json!("#microsoft.graph.user");
    let a = emu.post("v1.0/invitations", &token, body).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json["status"], "PendingAcceptance");
    assert_eq!(a.json["invitedUser"], json!({"id": ben, "userPrincipalName": "ben.walters@contoso.com"}));
    assert_eq!(a.json["invitedUserEmailAddress"], "Ben@Fabrikam.com");
    assert_eq!(a.json["invitedUserType"], "Member");
    let redeem = a.json["inviteRedeemUrl"].as_str().unwrap();
    assert!(redeem.starts_with(&format!("{}redeem/", emu.root)));

    let state = emu.state().await;
    let user = state["users"].as_array().unwrap().iter().find(|u| u["id"] == ben).unwrap();
    assert_eq!(user["externalUserState"], "PendingAcceptance");
    assert!(user["externalUserStateChangeDateTime"].is_string());
    assert_eq!((user["userPrincipalName"].as_str(), user["userType"].as_str()), (Some("ben.walters@contoso.com"), Some("Member")));
    let message = &state["messages"][0];
    assert_eq!((message["to"].as_str(), message["language"].as_str()), (Some("Ben@Fabrikam.com"), Some("de-DE")));
    assert_eq!(message["cc"], json!(["it@fabrikam.com"]));
    assert_eq!(message["inviteRedeemUrl"], redeem);
    assert!(!message["body"].as_str().unwrap().contains("Hallo"), "app-only: custom body left out");
    assert_eq!(state["invitations"][0]["userId"], ben);
    let log = state["requests"].as_array().unwrap().last().unwrap();
    assert_eq!((log["permission"].as_str(), log["status"].as_u64()), (Some("User.ReadWrite.All"), Some(201)));
}

#[tokio::test]
async fn conversion_is_refused_for_unfit_users() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let cases = [
        (uid(5), "emily@fabrikam.com", 400, "BadRequest"),        // address differs from mail
        (uid(5), "emily.braun@contoso.com", 400, "BadRequest"),   // verified domain
        (uid(10), "johanna.lorenz@contoso.com", 400, "BadRequest"), // mailbox (and verified)
        (uid(8), "henrik.jensen@contoso.com", 400, "BadRequest"), // onPremisesUserPrincipalName
        (uid(23), "omar@northwind.com", 400, "BadRequest"),       // already Accepted
        ("d0000000-0000-4000-8000-000000000099".to_owned(), "x@fabrikam.com", 404, "Request_ResourceNotFound"),
    ];
    for (id, address, status, code) in cases {
        emu.post("v1.0/invitations", &token, conversion(&id, address)).await.assert_error(status, code);
    }
    // A mailbox user whose mail was already external is refused too.
    let mut tenant = demo_json();
    tenant["users"][9]["mail"] = json!("johanna@fabrikam.com");
    let emu2 = Emulator::from_json(&tenant).await;
    let t2 = emu2.demo_token().await;
    let a = emu2.post("v1.0/invitations", &t2, conversion(&uid(10), "johanna@fabrikam.com")).await;
    a.assert_error(400, "BadRequest");
    assert!(a.message().contains("mailbox"));

    // Role holders: the demo app has no directory role.
    for n in [7, 11] {
        let id = uid(n);
        assert_eq!(emu.patch(&format!("v1.0/users/{id}"), &token, json!({"mail": format!("u{n}@fabrikam.com")})).await.status, 204);
        emu.post("v1.0/invitations", &token, conversion(&id, &format!("u{n}@fabrikam.com")))
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
    for address in ["a+b@fabrikam.com", ".ab@fabrikam.com", "ab-@fabrikam.com", "a(b)@fabrikam.com", "a;b@fabrikam.com"] {
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
        assert_eq!((a.status.as_u16(), a.code()), (400, "BadRequest"), "{body} -> {}", a.text);
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
    assert!(a.message().starts_with(&format!("The invited user already exists in the directory as objectID: {}", uid(3))));
    let a = emu
        .post("v1.0/invitations", &token, json!({"invitedUserEmailAddress": "partners@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}))
        .await;
    a.assert_error(400, "BadRequest");

    let a = emu
        .post("v1.0/invitations", &token, json!({"@odata.type": "#microsoft.graph.invitation", "invitedUserEmailAddress": "new.partner@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com", "invitedUserDisplayName": "New Partner"}))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let guest_id = a.json["invitedUser"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.json["invitedUser"]["userPrincipalName"], "new.partner_fabrikam.com#EXT#@contoso.onmicrosoft.com");
    let guest = emu.user(&guest_id).await;
    assert_eq!((guest["userType"].as_str(), guest["creationType"].as_str()), (Some("Guest"), Some("Invitation")));
    assert_eq!(guest["externalUserState"], "PendingAcceptance");
    assert_eq!(emu.state().await["messages"], json!([]), "sendInvitationMessage defaults to false");

    // Resend to a pending user: same user, a new link, one more message; the old link is gone.
    let nina = uid(22);
    let first = emu.post("v1.0/invitations", &token, conversion(&nina, "nina@fabrikam.com")).await;
    let second = emu.post("v1.0/invitations", &token, conversion(&nina, "NINA@fabrikam.com")).await;
    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(first.json["invitedUser"]["id"], second.json["invitedUser"]["id"]);
    let (old, new) = (first.json["inviteRedeemUrl"].as_str().unwrap(), second.json["inviteRedeemUrl"].as_str().unwrap());
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
    assert!(!omar["identities"].as_array().unwrap().iter().any(|i| i["issuer"] == "ExternalAzureAD"));

    let mut body = conversion(&uid(11), "lee@northwind.com");
    body["resetRedemption"] = json!(true);
    emu.post("v1.0/invitations", &token, body).await.assert_error(403, "Authorization_RequestDenied");
    assert_eq!(emu.user(&uid(11)).await["externalUserState"], "Accepted");
}

#[tokio::test]
async fn invitation_permissions_follow_the_invite_api() {
    let mut tenant = demo_json();
    add_app(&mut tenant, "a2000000-0000-4000-8000-000000000001", &["User.Invite.All"], &[]);
    let emu = Emulator::from_json(&tenant).await;
    let invite_only = emu.app_token("a2000000-0000-4000-8000-000000000001").await;
    let read = emu.token(READ_APP, READ_SECRET).await;
    let plain = json!({"invitedUserEmailAddress": "p@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"});
    let a = emu.post("v1.0/invitations", &read, plain.clone()).await;
    a.assert_error(401, "Unauthorized");
    assert_eq!(
        a.message(),
        format!("Insufficient privileges to perform requested operation by the application '{READ_APP}'. ControllerName=MSGraphInviteAPI, ActionName=CreateInvite, URL absolute path=/api/{TENANT_ID}/invites")
    );
    let a = emu.post("v1.0/invitations", &invite_only, plain).await;
    assert_eq!(a.status, 201);
    assert_eq!(emu.last_request().await["permission"], "User.Invite.All");
    // Converting an existing user needs User.ReadWrite.All or Directory.ReadWrite.All.
    emu.post("v1.0/invitations", &invite_only, conversion(&uid(22), "nina@fabrikam.com"))
        .await
        .assert_error(401, "Unauthorized");
}

// ---------------------------------------------------------------- redemption

#[tokio::test]
async fn the_partner_redeems_through_the_consent_page() {
    let mut tenant = demo_json();
    tenant["users"][0]["mail"] = json!("adele<script>@fabrikam.com");
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let a = emu.post("v1.0/invitations", &token, conversion(&uid(22), "nina@fabrikam.com")).await;
    let url = a.json["inviteRedeemUrl"].as_str().unwrap().to_owned();
    let page = emu.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\">"));
    assert!(html.contains("<button type=\"submit\" id=\"accept\">Accept</button>"));
    assert!(html.contains("nina@fabrikam.com") && html.contains("contoso.com"));

    let done = emu.client.post(&url).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let nina = emu.user(&uid(22)).await;
    assert_eq!(nina["externalUserState"], "Accepted");
    assert!(nina["identities"].as_array().unwrap().contains(&json!({"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": null})));
    assert_eq!(emu.state().await["invitations"][0]["status"], "Completed");
    assert_eq!(emu.client.post(&url).send().await.unwrap().status(), 404, "used once");
    assert_eq!(emu.client.get(format!("{}redeem/unknown", emu.root)).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn redeem_pages_escape_values() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .post("v1.0/invitations", &token, json!({"invitedUserEmailAddress": "o'neil@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let html = emu.client.get(a.json["inviteRedeemUrl"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("o&#39;neil@fabrikam.com"));
    assert!(!html.contains("o'neil@"));
}

// ---------------------------------------------------------------- $batch

#[tokio::test]
async fn batch_dispatches_items_through_the_gate_and_logs_them() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let body = json!({"requests": [
        {"id": "1", "method": "PATCH", "url": format!("/users/{}", uid(14)), "headers": {"Content-Type": "application/json"}, "body": {"mail": "patti@fabrikam.com"}},
        {"id": "2", "method": "POST", "url": "/invitations", "dependsOn": ["1"], "headers": {"Content-Type": "application/json"}, "body": conversion(&uid(14), "patti@fabrikam.com")},
        {"id": "3", "method": "GET", "url": "/users?$filter=endsWith(mail,'@fabrikam.com')&$count=true", "dependsOn": ["2"], "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "4", "method": "GET", "url": "/users/nobody@contoso.com", "dependsOn": ["3"]},
        {"id": "5", "method": "GET", "url": "/users", "dependsOn": ["4"]}
    ]});
    let a = emu.post("v1.0/$batch", &token, body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.json["responses"].as_array().unwrap();
    let status: Vec<u64> = r.iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(status, vec![204, 201, 200, 404, 424]);
    assert_eq!(r[1]["body"]["invitedUser"]["id"], uid(14));
    assert_eq!(r[2]["body"]["@odata.count"], 2);
    assert_eq!(r[3]["body"]["error"]["code"], "Request_ResourceNotFound");
    assert!(r[3]["headers"]["Content-Type"].as_str().unwrap().contains("json"));

    let state = emu.state().await;
    let log = state["requests"].as_array().unwrap();
    let items: Vec<&Value> = log.iter().filter(|e| e["batch"] == true).collect();
    assert_eq!(items.len(), 4, "the 424 item never ran");
    assert_eq!(items[0]["path"], format!("/v1.0/users/{}", uid(14)));
    assert_eq!(items[1]["permission"], "User.ReadWrite.All");
    assert_eq!(log.iter().filter(|e| e["path"] == "/v1.0/$batch").count(), 1);
    assert_eq!(emu.user(&uid(14)).await["externalUserState"], "PendingAcceptance");
}

#[tokio::test]
async fn batch_envelopes_are_validated_as_a_whole() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let get = |id: &str| json!({"id": id, "method": "GET", "url": "/users"});
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    let bodies = [
        json!({"requests": too_many}),
        json!({"requests": [get("1"), get("1")]}),
        json!({"requests": [{"id": "1", "method": "PATCH", "url": format!("/users/{}", uid(1)), "body": {"mail": "a@fabrikam.com"}}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]}),
        json!({"requests": [get("1"), {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1", "3"]}, get("3")]}),
        json!({"nope": []}),
    ];
    for body in bodies {
        let a = emu.post("v1.0/$batch", &token, body.clone()).await;
        assert_eq!((a.status.as_u16(), a.code()), (400, "BadRequest"), "{body}");
    }
    assert_eq!(emu.user(&uid(1)).await["mail"], Value::Null);
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
        assert!(blocked["body"]["error"]["message"].as_str().unwrap().starts_with("Invitations are blocked for this directory due to suspicious activity"));
    }
    assert_eq!(emu.state().await["invitations"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------- admin and tenant files

#[tokio::test]
async fn state_shape_and_reset() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    assert_eq!(emu.patch(&format!("v1.0/users/{}", uid(1)), &token, json!({"mail": "adele@fabrikam.com"})).await.status, 204);
    let state = emu.state().await;
    for key in ["tenantId", "users", "groups", "orgContacts", "directoryRoles", "invitations", "messages", "requests"] {
        assert!(state.get(key).is_some(), "{key}");
    }
    assert_eq!(state["users"].as_array().unwrap().len(), 25);
    assert_eq!(state["users"][0]["identities"][0]["signInType"], "userPrincipalName", "full objects");
    let entry = &state["requests"][0];
    for key in ["seq", "method", "path", "query", "status", "appId", "permission", "userId", "requestId", "batch", "time"] {
        assert!(entry.get(key).is_some(), "{key}");
    }
    assert_eq!(emu.running.state()["users"][0]["mail"], "adele@fabrikam.com");

    let a = emu.send("POST", "_emulator/reset", None, &[], None).await;
    assert_eq!(a.status, 204);
    let state = emu.state().await;
    assert_eq!(state["users"][0]["mail"], Value::Null);
    assert_eq!(state["requests"], json!([]));
}

#[tokio::test]
async fn unauthenticated_requests_are_logged_too() {
    let emu = Emulator::demo().await;
    let a = emu.send("GET", "v1.0/users", None, &[], None).await;
    assert_eq!(a.status, 401);
    let log = emu.last_request().await;
    assert_eq!((log["status"].as_u64(), log["path"].as_str()), (Some(401), Some("/v1.0/users")));
    assert_eq!(log["appId"], Value::Null);
}

#[tokio::test]
async fn tenant_files_are_validated_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    let mut tenant = demo_json();
    tenant["users"][3]["mial"] = json!("x@y.com");
    std::fs::write(&path, tenant.to_string()).unwrap();
    let e = graph_emulator::Tenant::from_path(&path).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.ends_with("users[3].mial: not a property of microsoft.graph.user"), "{e}");
    let mut tenant = demo_json();
    tenant["directoryRoles"][0]["members"] = json!(["d0000000-0000-4000-8000-000000000099"]);
    let e = graph_emulator::Tenant::from_json(&tenant.to_string(), "t.json").unwrap_err().to_string();
    assert!(e.contains("directoryRoles[0].members[0]"), "{e}");
    assert_eq!(graph_emulator::Tenant::demo().applications().len(), 2);
}
