//! The stored user the query tests share, so that evaluation and whole-query tests run
//! against the same object.

use serde_json::{Map, Value, json};

pub(super) fn user() -> Map<String, Value> {
    json!({
        "id": "1", "displayName": "O'Brien", "mail": "Ann@Fabrikam.com",
        "userPrincipalName": "ann@contoso.com", "userType": "Member", "accountEnabled": true,
        "otherMails": ["ann.private@outlook.com"],
        "proxyAddresses": ["SMTP:ann@fabrikam.com", "smtp:a@contoso.com"],
        "identities": [{"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": null},
                       {"signInType": "emailAddress", "issuer": "contoso.onmicrosoft.com", "issuerAssignedId": "ann@x.com"}],
        "createdDateTime": "2024-01-02T00:00:00Z"
    })
    .as_object()
    .unwrap()
    .clone()
}
