//! Error mapping, 404 handling and URL encoding.

use b2b_graph::{GraphError, ListQuery, USER_FACTS_SELECT, odata_string};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn error_body_gives_code_and_request_id() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(path("/v1.0/users/u1"))
        .respond_with(graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            "rid-403",
        ))
        .mount(&server)
        .await;
    let update = b2b_graph::model::UserUpdate {
        mail: Some("a@partner.example".into()),
        ..Default::default()
    };
    let err = client.update_user("u1", &update).await.unwrap_err();
    let sent = requests_to(&server, "/v1.0/users/u1").await;
    let crid = header(&sent[0], "client-request-id").unwrap().to_string();
    match &err {
        GraphError::Api {
            status,
            code,
            message,
            request_id,
            client_request_id,
            method,
            path,
            retry_after,
        } => {
            assert_eq!(*status, 403);
            assert_eq!(code, "Authorization_RequestDenied");
            assert_eq!(
                message,
                "Insufficient privileges to complete the operation."
            );
            assert_eq!(request_id.as_deref(), Some("rid-403"));
            assert_eq!(client_request_id, &crid);
            assert_eq!(method, "PATCH");
            assert_eq!(path, "/v1.0/users/u1");
            assert_eq!(*retry_after, None);
        }
        other => panic!("expected Api, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("Authorization_RequestDenied"), "{shown}");
    assert!(shown.contains("rid-403"), "{shown}");
    assert!(shown.contains("403"), "{shown}");
}

#[tokio::test]
async fn request_id_falls_back_to_inner_error_and_non_json_bodies_map() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "Request_BadRequest", "message": "bad", "innerError": {"request-id": "inner-rid"}}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u2"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let e1 = client.get_user("u1", &[]).await.unwrap_err();
    assert_eq!(e1.code(), Some("Request_BadRequest"));
    assert_eq!(e1.request_id(), Some("inner-rid"));
    let e2 = client.get_user("u2", &[]).await.unwrap_err();
    assert_eq!(e2.code(), Some("BadGateway"));
    assert_eq!(e2.status(), Some(502));
    assert_eq!(e2.request_id(), None);
}

#[tokio::test]
async fn missing_user_is_none_and_upn_is_one_encoded_segment() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .respond_with(graph_error(
            404,
            "Request_ResourceNotFound",
            "Resource does not exist",
            "rid-404",
        ))
        .mount(&server)
        .await;
    let got = client
        .get_user(
            "ann_partner.example#EXT#@contoso.onmicrosoft.com",
            USER_FACTS_SELECT,
        )
        .await
        .unwrap();
    assert_eq!(got, None);
    let reqs = server.received_requests().await.unwrap();
    let r = reqs.iter().find(|r| r.method.as_str() == "GET").unwrap();
    assert_eq!(
        r.url.path(),
        "/v1.0/users/ann_partner.example%23EXT%23@contoso.onmicrosoft.com"
    );
    assert_eq!(
        r.url.query(),
        Some(
            "$select=id%2CdisplayName%2CuserPrincipalName%2Cmail%2CotherMails%2CproxyAddresses%2CuserType%2CaccountEnabled%2CcreationType%2ConPremisesSyncEnabled%2ConPremisesUserPrincipalName%2ConPremisesImmutableId%2CexternalUserState%2CexternalUserStateChangeDateTime%2Cidentities%2CassignedPlans"
        )
    );
    // A slash in an id cannot escape its segment.
    let _ = client.get_user("a/b", &[]).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs.iter().any(|r| r.url.path() == "/v1.0/users/a%2Fb"));
}

#[tokio::test]
async fn filter_values_are_escaped_and_percent_encoded() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "u9"}]})))
        .mount(&server)
        .await;
    let value = "o'brien+x&y#z é@partner.example";
    let q = ListQuery::new()
        .filter(format!(
            "mail eq {} or proxyAddresses/any(x:x eq {})",
            odata_string(value),
            odata_string(&format!("SMTP:{value}"))
        ))
        .select(&["id", "mail"])
        .top(999);
    let users = client.list_users(&q).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].id, "u9");
    let r = &requests_to(&server, "/v1.0/users").await[0];
    assert_eq!(
        r.url.query(),
        Some(
            "$filter=mail%20eq%20%27o%27%27brien%2Bx%26y%23z%20%C3%A9%40partner.example%27%20or%20proxyAddresses%2Fany%28x%3Ax%20eq%20%27SMTP%3Ao%27%27brien%2Bx%26y%23z%20%C3%A9%40partner.example%27%29&$select=id%2Cmail&$top=999"
        )
    );
    let pairs: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs[0].1,
        "mail eq 'o''brien+x&y#z é@partner.example' or proxyAddresses/any(x:x eq 'SMTP:o''brien+x&y#z é@partner.example')"
    );
    assert_eq!(header(r, "consistencylevel"), None);
}

#[tokio::test]
async fn empty_ids_are_refused_without_sending() {
    let (server, client) = setup().await;
    let err = client.get_user("  ", &[]).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest(_)));
    let err = client
        .update_user("u1", &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidRequest(_)));
    assert!(server.received_requests().await.unwrap().is_empty());
}
