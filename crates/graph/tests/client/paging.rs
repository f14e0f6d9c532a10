//! `@odata.nextLink` paging, ConsistencyLevel, and the other list endpoints.

use crate::support::header as header_of;
use b2b_graph::{GraphError, ListQuery};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{requests_to, setup};

#[tokio::test]
async fn three_pages_follow_next_link_and_resend_consistency_level() {
    let (server, client) = setup().await;
    let base = server.uri();
    // nextLinks are opaque: an encoded '+' in the skiptoken must survive as is.
    let link2 = format!("{base}/v1.0/users?$count=true&$skiptoken=RFNwdAIAAQAAACpVc2Vy%2BYz");
    let link3 = format!("{base}/v1.0/users?$count=true&$skiptoken=page3");
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$filter", "userType eq 'Member'"))
        .and(query_param("$count", "true"))
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.count": 5, "@odata.nextLink": link2, "value": [{"id": "1"}, {"id": "2"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$skiptoken", "RFNwdAIAAQAAACpVc2Vy+Yz"))
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.nextLink": link3, "value": [{"id": "3"}, {"id": "4"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$skiptoken", "page3"))
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "5"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let q = ListQuery::new().filter("userType eq 'Member'").advanced();
    let users = client.list_users(&q).await.unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec!["1", "2", "3", "4", "5"]);
    let reqs = requests_to(&server, "/v1.0/users").await;
    assert_eq!(reqs.len(), 3);
    // Sent exactly as given (wiremock reports the host as "localhost").
    assert_eq!(
        reqs[1].url.query(),
        Some("$count=true&$skiptoken=RFNwdAIAAQAAACpVc2Vy%2BYz")
    );
    assert_eq!(reqs[2].url.query(), Some("$count=true&$skiptoken=page3"));
    assert!(
        reqs.iter()
            .all(|r| header_of(r, "consistencylevel") == Some("eventual"))
    );
}

#[tokio::test]
async fn next_link_to_another_host_is_refused() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.nextLink": "https://evil.example/v1.0/groups?$skiptoken=x", "value": [{"id": "g1"}]
        })))
        .mount(&server)
        .await;
    let err = client.list_groups(&ListQuery::new()).await.unwrap_err();
    assert!(matches!(err, GraphError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("evil.example"));
}

#[tokio::test]
async fn directory_lists_parse() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/domains"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "contoso.com", "isVerified": true, "isDefault": true, "isInitial": false, "authenticationType": "Managed", "supportedServices": ["Email"]},
            {"id": "contoso.onmicrosoft.com", "isVerified": true, "isDefault": false, "isInitial": true, "authenticationType": "Managed", "supportedServices": null}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/directoryRoles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "r1", "displayName": "User Administrator", "roleTemplateId": "fe930be7-5e62-47db-91af-98c3a49a38b1", "description": "d"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/directoryRoles/r1/members"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"@odata.type": "#microsoft.graph.user", "id": "u1", "displayName": "Ann", "userPrincipalName": "ann@contoso.com", "proxyAddresses": []}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/contacts"))
        .and(query_param("$select", "id,mail,proxyAddresses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"@odata.type": "#microsoft.graph.orgContact", "id": "c1", "mail": "ann@partner.example", "proxyAddresses": ["SMTP:ann@partner.example"]}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1/transitiveMemberOf/microsoft.graph.directoryRole"))
        .and(query_param("$count", "true"))
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"@odata.count": 1, "value": [
            {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": "User Administrator", "roleTemplateId": "fe930be7-5e62-47db-91af-98c3a49a38b1"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;

    let domains = client.list_domains().await.unwrap();
    assert_eq!(domains.len(), 2);
    assert_eq!(domains[0].id, "contoso.com");
    assert!(domains[0].is_default && domains[0].is_verified && !domains[0].is_initial);
    assert_eq!(domains[1].supported_services, Vec::<String>::new());

    let roles = client.list_directory_roles().await.unwrap();
    assert_eq!(roles[0].display_name.as_deref(), Some("User Administrator"));
    let members = client.list_directory_role_members("r1").await.unwrap();
    assert_eq!(
        members[0].odata_type.as_deref(),
        Some("#microsoft.graph.user")
    );
    assert_eq!(
        members[0].user_principal_name.as_deref(),
        Some("ann@contoso.com")
    );

    let contacts = client
        .list_org_contacts(&ListQuery::new().select(&["id", "mail", "proxyAddresses"]))
        .await
        .unwrap();
    assert_eq!(
        contacts[0].proxy_addresses,
        vec!["SMTP:ann@partner.example".to_string()]
    );

    let held = client.user_directory_roles("u1").await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].role_template_id.as_deref(),
        Some("fe930be7-5e62-47db-91af-98c3a49a38b1")
    );
}
