//! Reads: `GET /users` (one user, lists, `$select`, `$filter`, `$top`, paging, advanced
//! queries, `$count`), `/groups`, `/contacts`, and the schema fit of everything returned.

use super::*;

#[tokio::test]
async fn get_user_by_id_or_upn_returns_the_default_set_or_the_selection() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get(&format!("v1.0/users/{}", uid(6)), &token).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["mail"], "franz.kohl@contoso.com");
    assert_eq!(a.json["businessPhones"], json!([]));
    assert!(
        a.json.get("otherMails").is_none(),
        "otherMails only on $select"
    );
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("v1.0/$metadata#users/$entity")
    );
    assert!(a.headers.contains_key("request-id"));

    let a = emu
        .get(
            "v1.0/users/Franz.Kohl@contoso.com?$select=id,otherMails,onPremisesSyncEnabled",
            &token,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["otherMails"], json!(["franz.private@outlook.com"]));
    assert_eq!(a.json["onPremisesSyncEnabled"], Value::Null);
    assert!(a.json.get("mail").is_none());

    // A guest UPN with '#' must be percent-encoded.
    let a = emu
        .get(
            "v1.0/users/quinn_tailspintoys.com%23EXT%23@contoso.onmicrosoft.com",
            &token,
        )
        .await;
    assert_eq!(a.json["id"], uid(24));

    emu.get("v1.0/users/nobody@contoso.com", &token)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    emu.get("v1.0/users?$select=id,mial", &token)
        .await
        .assert_error(400, "Request_BadRequest");
    emu.get("v1.0/users?$select=manager", &token)
        .await
        .assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn every_response_carries_request_ids_and_echoes_the_client_one() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .send(
            "GET",
            "v1.0/users/nobody",
            Some(&token),
            &[("client-request-id", "abc-123")],
            None,
        )
        .await;
    assert_eq!(a.headers["client-request-id"], "abc-123");
    assert_eq!(
        a.json["error"]["innerError"]["client-request-id"],
        "abc-123"
    );
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
    assert_eq!(
        first.json["value"].as_array().unwrap().len(),
        100,
        "default page is 100"
    );
    assert!(
        first.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("v1.0/$metadata#users")
    );

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
    assert_eq!((seen.len(), pages), (261, 1));

    let mut next = Some("v1.0/users?$top=100".to_owned());
    let mut seen = Vec::new();
    while let Some(path) = next {
        let a = emu.get(&path, &token).await;
        seen.extend(ids(&a));
        next = a.json["@odata.nextLink"]
            .as_str()
            .map(|u| u.strip_prefix(&emu.root).unwrap().to_owned());
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (261, 261));

    emu.get("v1.0/users?$top=1000", &token)
        .await
        .assert_error(400, "Request_BadRequest");
    emu.get("v1.0/users?$skiptoken=garbage", &token)
        .await
        .assert_error(400, "Request_BadRequest");
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
    let q = |f: &str| {
        format!(
            "v1.0/users?$filter={}",
            f.replace(' ', "%20").replace('+', "%2B")
        )
    };

    let a = emu
        .get(&q("mail eq 'BEN.WALTERS@contoso.com'"), &token)
        .await;
    assert_eq!(ids(&a), vec![uid(2)]);
    let a = emu.get(&q("displayName eq 'Conor O''Brien'"), &token).await;
    assert_eq!(ids(&a), vec!["d0000000-0000-4000-8000-0000000000f1"]);
    let a = emu.get(&q("mail eq 'a+b@fabrikam.com'"), &token).await;
    assert_eq!(ids(&a).len(), 1, "%2B decodes to a plus sign");
    let a = emu.get(&q("startsWith(displayName,'sam')"), &token).await;
    assert_eq!(ids(&a), vec![uid(20), uid(21)]);
    let a = emu
        .get(
            &q("proxyAddresses/any(x:x eq 'smtp:sam@contoso.com')"),
            &token,
        )
        .await;
    assert_eq!(ids(&a), vec![uid(21)]);
    let a = emu
        .get(&q("otherMails/any(x:x eq 'lidia@proseware.com')"), &token)
        .await;
    assert_eq!(ids(&a), vec![uid(17)]);
    let a = emu
        .get(&q("userPrincipalName eq 'sam@contoso.com' or mail eq 'sam@contoso.com' or proxyAddresses/any(x:x eq 'SMTP:sam@contoso.com')"), &token)
        .await;
    assert_eq!(ids(&a), vec![uid(20), uid(21)]);
    let a = emu
        .get(
            &q("userType in ('Guest') and (externalUserState eq 'Accepted')"),
            &token,
        )
        .await;
    assert_eq!(ids(&a), vec![uid(24)]);
    let a = emu.get(&q("identities/any(c:c/issuerAssignedId eq 'adele.vance@contoso.com' and c/issuer eq 'contoso.onmicrosoft.com')"), &token).await;
    assert_eq!(ids(&a), vec![uid(1)]);
    let a = emu.get(&q("onPremisesSyncEnabled eq true"), &token).await;
    assert_eq!(ids(&a), vec![uid(4), uid(8), uid(9)]);
    let a = emu.get(&q("mail eq null"), &token).await;
    assert!(ids(&a).contains(&uid(1)) && !ids(&a).contains(&uid(2)));

    emu.get(&q("mail eq 'open"), &token)
        .await
        .assert_error(400, "Request_BadRequest");
    emu.get(&q("mail gt 'a'"), &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    emu.get(&q("proxyAddresses eq 'SMTP:a@b.com'"), &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    emu.get(
        &q("identities/any(c:c/signInType eq 'userPrincipalName')"),
        &token,
    )
    .await
    .assert_error(400, "Request_UnsupportedQuery");
    emu.get(&q("mial eq 'x'"), &token)
        .await
        .assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn advanced_queries_need_consistency_level_and_count() {
    let emu = Emulator::from_json(&big_tenant(150)).await;
    let token = emu.demo_token().await;
    let ne = "v1.0/users?$filter=userType%20ne%20'Member'";
    emu.get(ne, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    emu.get_eventual(ne, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    emu.get(&format!("{ne}&$count=true"), &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    let a = emu.get_eventual(&format!("{ne}&$count=true"), &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["@odata.count"], 1);
    assert_eq!(ids(&a), vec![uid(24)]);

    let ends = "v1.0/users?$filter=endsWith(mail,'@fabrikam.com')&$count=true";
    emu.get(ends, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    let a = emu.get_eventual(ends, &token).await;
    assert_eq!(ids(&a), vec![uid(22)]);
    let not = "v1.0/users?$filter=not(accountEnabled%20eq%20true)&$count=true";
    assert_eq!(ids(&emu.get_eventual(not, &token).await), vec![uid(12)]);
    let any_ends =
        "v1.0/users?$filter=proxyAddresses/any(x:endsWith(x,'@contoso.com'))&$count=true";
    assert_eq!(
        emu.get_eventual(any_ends, &token).await.json["@odata.count"],
        2
    );

    // $count=true without the header is silently ignored.
    let a = emu.get("v1.0/users?$count=true&$top=5", &token).await;
    assert_eq!(a.status, 200);
    assert!(a.json.get("@odata.count").is_none());

    // Next pages of an advanced query need the header again; @odata.count only on page 1.
    let a = emu.get_eventual("v1.0/users?$filter=startsWith(mail,'bulk')%20and%20userType%20ne%20'Guest'&$count=true&$top=100", &token).await;
    assert_eq!(a.json["@odata.count"], 150);
    let next = a.json["@odata.nextLink"]
        .as_str()
        .unwrap()
        .strip_prefix(&emu.root)
        .unwrap()
        .to_owned();
    emu.get(&next, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
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
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(a.text, "31");
    let a = emu
        .get_eventual("v1.0/users/$count?$filter=userType%20eq%20'Guest'", &token)
        .await;
    assert_eq!(a.text, "1");
}

#[tokio::test]
async fn groups_and_contacts_share_the_query_engine() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .get(
            "v1.0/groups?$filter=mail%20eq%20'Partners@fabrikam.com'",
            &token,
        )
        .await;
    assert_eq!(ids(&a), vec!["e0000000-0000-4000-8000-000000000001"]);
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#groups")
    );
    let a = emu
        .get("v1.0/contacts?$filter=proxyAddresses/any(x:x%20eq%20'smtp:pradeep@tailspintoys.com')&$select=id,mail", &token)
        .await;
    assert_eq!(ids(&a), vec!["f0000000-0000-4000-8000-000000000001"]);
    assert_eq!(a.json["value"][0]["mail"], "pradeep@tailspintoys.com");
    let a = emu
        .get(
            "v1.0/contacts?$filter=startsWith(displayName,'Pradeep')",
            &token,
        )
        .await;
    assert_eq!(ids(&a).len(), 1);
    emu.get("v1.0/groups?$filter=endsWith(mail,'x')", &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
}

#[tokio::test]
async fn percent_encoded_dollar_segments_and_in_limits() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get_eventual("v1.0/users/%24count", &token).await;
    assert_eq!((a.status.as_u16(), a.text.as_str()), (200, "31"));
    let a = emu
        .post(
            "v1.0/%24batch",
            &token,
            json!({"requests": [{"id": "1", "method": "GET", "url": "/domains"}]}),
        )
        .await;
    assert_eq!(a.json["responses"][0]["status"], 200);
    let values: Vec<String> = (0..16).map(|i| format!("'u{i}@contoso.com'")).collect();
    let path = format!("v1.0/users?$filter=mail%20in%20({})", values.join(","));
    emu.get(&path, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    let path = format!(
        "v1.0/users?$filter=mail%20in%20({})",
        values[..15].join(",")
    );
    assert_eq!(emu.get(&path, &token).await.status, 200);
}

#[tokio::test]
async fn everything_returned_fits_graphs_schema() {
    use graph_emulator::schema::schema;
    let mut tenant = demo_json();
    add_app(
        &mut tenant,
        "a4000000-0000-4000-8000-000000000001",
        &["User.ReadWrite.All", "Directory.Read.All"],
        &["User Administrator"],
    );
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.app_token("a4000000-0000-4000-8000-000000000001").await;
    let ben = uid(2);
    emu.patch(&format!("v1.0/users/{ben}"), &token, json!({"mail": "ben@fabrikam.com", "passwordProfile": {"password": "Xy-12345678", "forceChangePasswordNextSignIn": false}})).await;
    emu.send(
        "POST",
        &format!("v1.0/users/{ben}/revokeSignInSessions"),
        Some(&token),
        &[],
        None,
    )
    .await;
    let invitation = emu
        .post(
            "v1.0/invitations",
            &token,
            conversion(&ben, "ben@fabrikam.com"),
        )
        .await;
    assert_eq!(invitation.status, 201);
    let guest = emu
        .post("v1.0/invitations", &token, json!({"invitedUserEmailAddress": "g@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com", "invitedUserType": "Member"}))
        .await;
    assert_eq!(guest.status, 201);
    let redeem = invitation.json["inviteRedeemUrl"].as_str().unwrap();
    emu.client.post(redeem).send().await.unwrap();

    let mut inv = invitation.json.clone();
    inv.as_object_mut().unwrap().remove("invitedUser"); // navigation property, returned inline
    schema()
        .validate_object("microsoft.graph.invitation", &inv, "invitation", true)
        .unwrap();
    let state = emu.state().await;
    for (i, user) in state["users"].as_array().unwrap().iter().enumerate() {
        schema()
            .validate_object("microsoft.graph.user", user, &format!("users[{i}]"), false)
            .unwrap();
    }
    let single = emu
        .get(
            &format!("v1.0/users/{ben}?$select=birthday,deviceEnrollmentLimit,hireDate,skills"),
            &token,
        )
        .await;
    assert_eq!(single.json["birthday"], "0001-01-01T00:00:00Z");
    assert_eq!(single.json["deviceEnrollmentLimit"], 5);
    assert_eq!(single.json["skills"], json!([]));
    schema()
        .validate_object("microsoft.graph.user", &single.json, "single", true)
        .unwrap();
    emu.get("v1.0/users?$select=id,birthday", &token)
        .await
        .assert_error(400, "Request_BadRequest");
    let single_only = [
        "aboutMe",
        "birthday",
        "hireDate",
        "interests",
        "mailboxSettings",
        "mySite",
        "pastProjects",
        "preferredName",
        "responsibilities",
        "schools",
        "skills",
        "print",
    ];
    let all: Vec<&str> = schema()
        .structural_properties("microsoft.graph.user")
        .into_iter()
        .filter(|p| !single_only.contains(p))
        .collect();
    let listed = emu
        .get(&format!("v1.0/users?$select={}", all.join(",")), &token)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    for user in listed.json["value"].as_array().unwrap() {
        schema()
            .validate_object("microsoft.graph.user", user, "listed", false)
            .unwrap();
    }
    for (path, type_name) in [
        ("v1.0/domains", "microsoft.graph.domain"),
        ("v1.0/directoryRoles", "microsoft.graph.directoryRole"),
        ("v1.0/groups", "microsoft.graph.group"),
        ("v1.0/contacts", "microsoft.graph.orgContact"),
        (
            "v1.0/directoryRoles/a0000000-0000-4000-8000-000000000001/members",
            "microsoft.graph.user",
        ),
    ] {
        let a = emu.get(path, &token).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        for item in a.json["value"].as_array().unwrap() {
            schema()
                .validate_object(type_name, item, path, true)
                .unwrap();
        }
    }
}
