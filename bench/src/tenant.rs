//! Generated tenants for the benchmark: `n` users that are all eligible for conversion,
//! written as a tenant file the emulator loads, and the input converting each.

use serde_json::{Value, json};

/// The demo application (client id and secret of the shipped demo tenant).
pub const CLIENT_ID: &str = "5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c";
/// Its secret: a fixture, not a credential.
pub const CLIENT_SECRET: &str = "demo-secret-not-for-production";
/// The demo tenant id.
pub const TENANT_ID: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";

/// The object id of generated user `i`.
pub fn user_id(i: usize) -> String {
    format!("b0000000-0000-4000-8000-{i:012}")
}

/// The UPN of generated user `i`.
pub fn upn(i: usize) -> String {
    format!("user{i}@contoso.com")
}

/// The partner address generated user `i` is converted to.
pub fn partner(i: usize) -> String {
    format!("partner{i}@fabrikam.com")
}

/// A tenant of `n` cloud-only member users, none of them blocked by any rule.
pub fn tenant_json(n: usize) -> String {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": user_id(i),
                "displayName": format!("User {i}"),
                "userPrincipalName": upn(i),
                "mail": upn(i),
                "proxyAddresses": [format!("SMTP:{}", upn(i))],
                "userType": "Member",
                "accountEnabled": true,
            })
        })
        .collect();
    json!({
        "tenantId": TENANT_ID,
        "verifiedDomains": ["contoso.onmicrosoft.com", "contoso.com"],
        "applications": [{
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "roles": ["User.ReadWrite.All", "User.Invite.All", "Directory.Read.All"]
        }],
        "users": users,
        "groups": [],
        "orgContacts": [],
        "directoryRoles": []
    })
    .to_string()
}

/// The input converting the first `rows` users.
pub fn input_csv(rows: usize) -> String {
    let mut csv = String::from("user,externalEmail\n");
    for i in 0..rows {
        csv.push_str(&upn(i));
        csv.push(',');
        csv.push_str(&partner(i));
        csv.push('\n');
    }
    csv
}
