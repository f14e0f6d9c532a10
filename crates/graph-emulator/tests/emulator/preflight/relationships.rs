//! Role-assignable groups and the relationships that find their members and owners:
//! `$filter=isAssignableToRole`, `memberOf`, `transitiveMemberOf`, group `members` and
//! `owners`, `ownedObjects`, with their permission rules and limited information.

use super::*;

fn ids(a: &Answer) -> Vec<String> {
    a.json["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", a.text))
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The demo tenant with a group nesting the role-assignable one's member elsewhere:
/// uid 27 is in Tier 0 Operators (role-assignable) and in "All staff", which is itself in
/// "Everyone".
fn nested() -> Value {
    let mut tenant = demo_json();
    let groups = tenant["groups"].as_array_mut().unwrap();
    groups.push(
        json!({"id": "e0000000-0000-4000-8000-000000000003", "displayName": "All staff",
        "mailEnabled": false, "mailNickname": "allstaff", "securityEnabled": true, "groupTypes": [],
        "members": [uid(27), uid(2)]}),
    );
    groups.push(
        json!({"id": "e0000000-0000-4000-8000-000000000004", "displayName": "Everyone",
        "mailEnabled": false, "mailNickname": "everyone", "securityEnabled": true, "groupTypes": [],
        "members": ["e0000000-0000-4000-8000-000000000003"]}),
    );
    tenant
}

#[tokio::test]
async fn groups_filter_on_is_assignable_to_role() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .get("v1.0/groups?$filter=isAssignableToRole%20eq%20true", &token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(ids(&a), vec![TIER0]);
    let group = &a.json["value"][0];
    assert!(group.get("members").is_none() && group.get("owners").is_none());
    fits_schema("microsoft.graph.group", group);
    // ne needs the advanced-query header and $count, like every directory ne.
    let ne = "v1.0/groups?$filter=isAssignableToRole%20ne%20true&$count=true";
    emu.get(ne, &token)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    let a = emu.get_eventual(ne, &token).await;
    assert_eq!(ids(&a), vec!["e0000000-0000-4000-8000-000000000001"]);
    emu.get(
        "v1.0/groups?$filter=isAssignableToRole%20eq%20'true'",
        &token,
    )
    .await
    .assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn members_owners_and_memberships() {
    let emu = Emulator::from_json(&nested()).await;
    let token = emu.demo_token().await;

    let a = emu
        .get(&format!("v1.0/groups/{TIER0}/members"), &token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(ids(&a), vec![uid(27)]);
    assert_eq!(a.json["value"][0]["@odata.type"], "#microsoft.graph.user");
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#directoryObjects")
    );
    assert_eq!(
        last_logged(&emu).await,
        (
            format!("/v1.0/groups/{TIER0}/members"),
            200,
            Some("Directory.Read.All".to_owned())
        )
    );
    let a = emu
        .get(&format!("v1.0/groups/{TIER0}/owners"), &token)
        .await;
    assert_eq!(ids(&a), vec![uid(31)]);
    emu.get(
        "v1.0/groups/e0000000-0000-4000-8000-000000000099/owners",
        &token,
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");

    // memberOf: direct groups (with isAssignableToRole) and activated roles.
    let a = emu
        .get(&format!("v1.0/users/{}/memberOf", uid(27)), &token)
        .await;
    assert_eq!(
        ids(&a),
        vec![
            TIER0.to_owned(),
            "e0000000-0000-4000-8000-000000000003".to_owned()
        ]
    );
    assert_eq!(a.json["value"][0]["isAssignableToRole"], true);
    assert_eq!(a.json["value"][0]["@odata.type"], "#microsoft.graph.group");
    let a = emu
        .get(&format!("v1.0/users/{}/memberOf", uid(11)), &token)
        .await;
    assert_eq!(
        a.json["value"][0]["@odata.type"],
        "#microsoft.graph.directoryRole"
    );
    assert_eq!(a.json["value"][0]["displayName"], "Global Administrator");

    // transitiveMemberOf follows nesting; $top pages; $select picks.
    let path = format!(
        "v1.0/users/{}/transitiveMemberOf?$top=2&$select=id,displayName,isAssignableToRole",
        uid(27)
    );
    let a = emu.get(&path, &token).await;
    assert_eq!(a.json["value"].as_array().unwrap().len(), 2, "{}", a.text);
    assert_eq!(
        a.json["value"][0].as_object().unwrap().len(),
        4,
        "@odata.type and three selected"
    );
    let next = a.json["@odata.nextLink"].as_str().unwrap();
    let b = emu.get(next.strip_prefix(&emu.root).unwrap(), &token).await;
    let mut all = ids(&a);
    all.extend(ids(&b));
    assert_eq!(
        all,
        vec![
            TIER0.to_owned(),
            "e0000000-0000-4000-8000-000000000003".to_owned(),
            "e0000000-0000-4000-8000-000000000004".to_owned()
        ]
    );
    let a = emu
        .get_eventual(
            &format!("v1.0/users/{}/transitiveMemberOf?$count=true", uid(27)),
            &token,
        )
        .await;
    assert_eq!(a.json["@odata.count"], 3);
    emu.get(
        &format!(
            "v1.0/users/{}/memberOf?$filter=isAssignableToRole%20eq%20true",
            uid(27)
        ),
        &token,
    )
    .await
    .assert_error(400, "Request_UnsupportedQuery");
    emu.get(
        &format!("v1.0/users/{}/memberOf?$select=colour", uid(27)),
        &token,
    )
    .await
    .assert_error(400, "Request_BadRequest");
    emu.get("v1.0/users/nobody@contoso.com/memberOf", &token)
        .await
        .assert_error(404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn relationship_permissions_and_limited_information() {
    // memberOf of another user takes Directory.Read.All for an app: User.Read.All is 403.
    let (emu, token) = with_app(&["User.Read.All"]).await;
    emu.get(&format!("v1.0/users/{}/memberOf", uid(27)), &token)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    emu.get(&format!("v1.0/groups/{TIER0}/owners"), &token)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    // transitiveMemberOf takes User.Read.All, but groups then come back limited.
    let a = emu
        .get(
            &format!("v1.0/users/{}/transitiveMemberOf", uid(27)),
            &token,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let group = &a.json["value"][0];
    assert_eq!(
        (group["id"].as_str(), group["@odata.type"].as_str()),
        (Some(TIER0), Some("#microsoft.graph.group"))
    );
    assert_eq!(group["isAssignableToRole"], Value::Null);
    assert_eq!(group["displayName"], Value::Null);
    assert_eq!(last_logged(&emu).await.2.as_deref(), Some("User.Read.All"));

    // GroupMember.Read.All reads owners, but owners (users) come back limited.
    let (emu, token) = with_app(&["GroupMember.Read.All"]).await;
    let a = emu
        .get(&format!("v1.0/groups/{TIER0}/owners"), &token)
        .await;
    assert_eq!(a.json["value"][0]["id"], uid(31), "{}", a.text);
    assert_eq!(a.json["value"][0]["userPrincipalName"], Value::Null);

    // ownedObjects: application permissions are not supported; delegated works, and
    // User.Read covers the signed-in user's own object only.
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let owned = format!("v1.0/users/{}/ownedObjects", uid(31));
    emu.get(&owned, &token)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let own = delegated(&emu, &uid(31), &["User.Read"]).await;
    let a = emu.get(&owned, &own).await;
    assert_eq!(ids(&a), vec![TIER0], "{}", a.text);
    assert_eq!(a.json["value"][0]["@odata.type"], "#microsoft.graph.group");
    let someone_else = delegated(&emu, &uid(2), &["User.Read"]).await;
    emu.get(&owned, &someone_else)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let reader = delegated(&emu, &uid(2), &["User.Read.All"]).await;
    assert_eq!(emu.get(&owned, &reader).await.status, 200);
}
