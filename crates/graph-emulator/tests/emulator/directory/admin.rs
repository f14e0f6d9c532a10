//! Unknown routes, the admin view (`/_emulator/state`, `/_emulator/reset`), the request log and
//! tenant-file validation.

use super::*;

#[tokio::test]
async fn unknown_routes_and_methods_answer_graph_json() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("v1.0/widgets", &token).await;
    a.assert_error(400, "BadRequest");
    assert_eq!(a.message(), "Resource not found for the segment 'widgets'.");
    let a = emu
        .get(&format!("v1.0/users/{}/manager", uid(1)), &token)
        .await;
    assert_eq!(a.message(), "Resource not found for the segment 'manager'.");
    emu.send("DELETE", "v1.0/users", Some(&token), &[], None)
        .await
        .assert_error(405, "BadRequest");
}

#[tokio::test]
async fn state_shape_and_reset() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    assert_eq!(
        emu.patch(
            &format!("v1.0/users/{}", uid(1)),
            &token,
            json!({"mail": "adele@fabrikam.com"})
        )
        .await
        .status,
        204
    );
    let state = emu.state().await;
    for key in [
        "tenantId",
        "users",
        "groups",
        "orgContacts",
        "directoryRoles",
        "invitations",
        "messages",
        "requests",
    ] {
        assert!(state.get(key).is_some(), "{key}");
    }
    assert_eq!(state["users"].as_array().unwrap().len(), 31);
    assert_eq!(
        state["users"][0]["identities"][0]["signInType"], "userPrincipalName",
        "full objects"
    );
    let entry = &state["requests"][0];
    for key in [
        "seq",
        "method",
        "path",
        "query",
        "status",
        "appId",
        "permission",
        "userId",
        "requestId",
        "batch",
        "time",
    ] {
        assert!(entry.get(key).is_some(), "{key}");
    }
    assert_eq!(
        emu.running.state()["users"][0]["mail"],
        "adele@fabrikam.com"
    );

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
    assert_eq!(
        (log["status"].as_u64(), log["path"].as_str()),
        (Some(401), Some("/v1.0/users"))
    );
    assert_eq!(log["appId"], Value::Null);
}

#[tokio::test]
async fn tenant_files_are_validated_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    let mut tenant = demo_json();
    tenant["users"][3]["mial"] = json!("x@y.com");
    std::fs::write(&path, tenant.to_string()).unwrap();
    let e = graph_emulator::Tenant::from_path(&path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.json")
            && e.ends_with("users[3].mial: not a property of microsoft.graph.user"),
        "{e}"
    );
    let mut tenant = demo_json();
    tenant["directoryRoles"][0]["members"] = json!(["d0000000-0000-4000-8000-000000000099"]);
    let e = graph_emulator::Tenant::from_json(&tenant.to_string(), "t.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("directoryRoles[0].members[0]"), "{e}");
    assert_eq!(graph_emulator::Tenant::demo().applications().len(), 2);
}

#[tokio::test]
async fn unknown_versions_and_batch_urls_with_a_version_are_refused() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("v2.0/users", &token).await;
    a.assert_error(400, "BadRequest");
    assert_eq!(a.message(), "Invalid version: v2.0");
    // Of beta, only the B2B management policy is served.
    let a = emu.get("beta/users", &token).await;
    a.assert_error(400, "BadRequest");
    assert_eq!(a.message(), "Resource not found for the segment 'users'.");
    let a = emu
        .post(
            "v1.0/$batch",
            &token,
            json!({"requests": [{"id": "1", "method": "GET", "url": "/v1.0/users"}]}),
        )
        .await;
    assert_eq!(a.json["responses"][0]["status"], 400);
    assert_eq!(
        a.json["responses"][0]["body"]["error"]["message"],
        "Resource not found for the segment 'v1.0'."
    );
}
