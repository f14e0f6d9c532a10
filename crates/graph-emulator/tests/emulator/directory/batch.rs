//! `POST /$batch`: dispatch through the gate, dependencies, envelope validation, per-item
//! throttling.

use super::*;

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
    assert!(
        r[3]["headers"]["Content-Type"]
            .as_str()
            .unwrap()
            .contains("json")
    );

    let state = emu.state().await;
    let log = state["requests"].as_array().unwrap();
    let items: Vec<&Value> = log.iter().filter(|e| e["batch"] == true).collect();
    assert_eq!(items.len(), 4, "the 424 item never ran");
    assert_eq!(items[0]["path"], format!("/v1.0/users/{}", uid(14)));
    assert_eq!(items[1]["permission"], "User.ReadWrite.All");
    assert_eq!(
        log.iter().filter(|e| e["path"] == "/v1.0/$batch").count(),
        1
    );
    assert_eq!(
        emu.user(&uid(14)).await["externalUserState"],
        "PendingAcceptance"
    );
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
async fn batch_items_are_throttled_on_their_own_and_logged() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    // The invitation manager allows 150 requests per 5 s per tenant; refused ones count.
    for _ in 0..150 {
        let a = emu.post("v1.0/invitations", &token, json!({})).await;
        assert_eq!(a.status, 400);
    }
    let body = json!({"requests": [
        {"id": "a", "method": "GET", "url": format!("/users/{}", uid(1))},
        {"id": "b", "method": "POST", "url": "/invitations", "headers": {"Content-Type": "application/json"},
         "body": {"invitedUserEmailAddress": "late@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}}
    ]});
    let a = emu.post("v1.0/$batch", &token, body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = &a.json["responses"];
    assert_eq!(r[0]["status"], 200);
    assert_eq!(r[1]["status"], 429);
    assert!(
        r[1]["headers"]["Retry-After"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    let state = emu.state().await;
    let throttled = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == 429)
        .unwrap();
    assert_eq!(
        (throttled["batch"].as_bool(), throttled["path"].as_str()),
        (Some(true), Some("/v1.0/invitations"))
    );
    assert_eq!(throttled["appId"], DEMO_APP);
    assert_eq!(state["invitations"], json!([]));
}
