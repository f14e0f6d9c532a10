//! The pre-flight surface end to end, over raw HTTP: partner tenants
//! (`findTenantInformationByDomainName`), the policies (authorization, cross-tenant
//! access, email OTP, the beta B2B management policy), PIM eligibilities and role
//! definitions, group members and owners; invitations refused by the policies; the
//! redemption page acting out each path; the runtime policy hooks and the tenant file's
//! new sections.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use serde_json::{Value, json};

use crate::support::*;

mod admin;
mod invitations;
mod reads;
mod redemption;
mod relationships;

/// Fabrikam's partner tenant id in the demo tenant.
pub const FABRIKAM: &str = "c1000000-0000-4000-8000-000000000001";
/// Woodgrove Bank's (blocked by cross-tenant access) partner tenant id.
pub const WOODGROVE: &str = "c1000000-0000-4000-8000-000000000008";
/// The role-assignable group of the demo tenant.
pub const TIER0: &str = "e0000000-0000-4000-8000-000000000002";
/// User Administrator's role definition (template) id.
pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";

/// An app holding only `roles` (secret `secret-{id}`), added to the demo tenant.
pub async fn with_app(roles: &[&str]) -> (Emulator, String) {
    let id = "a1b2c3d4-0000-4000-8000-00000000abcd";
    let mut tenant = demo_json();
    add_app(&mut tenant, id, roles, &[]);
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.app_token(id).await;
    (emu, token)
}

/// A delegated token for `user` with `scopes`.
pub async fn delegated(emu: &Emulator, user: &str, scopes: &[&str]) -> String {
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

/// `PATCH /_emulator/policies` with `body`, expecting 204.
pub async fn patch_policies(emu: &Emulator, body: Value) {
    let a = emu
        .send("PATCH", "_emulator/policies", None, &[], Some(&body))
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
}

/// A target configuration letting everyone in (`allowed`) or keeping everyone out.
pub fn everyone(access: &str) -> Value {
    json!({
        "usersAndGroups": {"accessType": access, "targets": [{"target": "AllUsers", "targetType": "user"}]},
        "applications": {"accessType": access, "targets": [{"target": "AllApplications", "targetType": "application"}]}
    })
}

/// Checks a served object (annotations removed) against Microsoft's v1.0 schema.
#[track_caller]
pub fn fits_schema(type_name: &str, value: &Value) {
    let mut object = value.as_object().unwrap().clone();
    object.retain(|k, _| !k.starts_with('@'));
    graph_emulator::schema::schema()
        .validate_object(type_name, &Value::Object(object), "served", false)
        .unwrap();
}

/// The last request-log entry's (path, status, permission).
pub async fn last_logged(emu: &Emulator) -> (String, u64, Option<String>) {
    let entry = emu.last_request().await;
    (
        entry["path"].as_str().unwrap().to_owned(),
        entry["status"].as_u64().unwrap(),
        entry["permission"].as_str().map(str::to_owned),
    )
}
