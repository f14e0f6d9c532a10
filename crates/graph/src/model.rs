//! Graph resource types (v1.0 schema names, camelCase on the wire).
//!
//! Responses ignore unknown fields (Graph keeps adding properties), treat
//! `null` collections as empty, and use `Option` for nullable properties.
//! Request bodies leave `None` fields out entirely, so a PATCH never nulls a
//! property by accident.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Deserialize `null` or a missing collection as an empty `Vec`.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Properties b2b-convert reads for each user (`$select`): everything the
/// pre-flight checks and the redemption report need.
pub const USER_FACTS_SELECT: &[&str] = &[
    "id",
    "displayName",
    "userPrincipalName",
    "mail",
    "otherMails",
    "proxyAddresses",
    "userType",
    "accountEnabled",
    "creationType",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "onPremisesImmutableId",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "identities",
    "assignedPlans",
];

/// A user (`microsoft.graph.user`), limited to [`USER_FACTS_SELECT`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id (GUID).
    #[serde(default)]
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Additional email addresses.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub other_mails: Vec<String>,
    /// Proxy addresses (`SMTP:` primary, `smtp:` aliases).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub proxy_addresses: Vec<String>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// Whether sign-in is enabled.
    pub account_enabled: Option<bool>,
    /// `null` for work accounts, `Invitation` for B2B, …
    pub creation_type: Option<String>,
    /// `true` when synced from on-premises AD.
    pub on_premises_sync_enabled: Option<bool>,
    /// Non-null blocks internal → B2B conversion.
    pub on_premises_user_principal_name: Option<String>,
    /// On-premises immutable id.
    pub on_premises_immutable_id: Option<String>,
    /// `PendingAcceptance`, `Accepted` or `null`.
    pub external_user_state: Option<String>,
    /// Last change of `externalUserState`.
    pub external_user_state_change_date_time: Option<jiff::Timestamp>,
    /// Sign-in identities.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub identities: Vec<ObjectIdentity>,
    /// Service plans assigned through licences.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub assigned_plans: Vec<AssignedPlan>,
    /// Mail alias (`mailNickname`); read only when selecting users from the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_nickname: Option<String>,
    /// Given name; read only when selecting users from the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Surname; read only when selecting users from the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
}

impl User {
    /// Whether an Exchange Online plan is enabled (a mailbox exists or will).
    pub fn has_exchange_mailbox(&self) -> bool {
        self.assigned_plans.iter().any(|p| {
            p.service
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("exchange"))
                && p.capability_status.as_deref() == Some("Enabled")
        })
    }
}

/// One sign-in identity (`microsoft.graph.objectIdentity`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectIdentity {
    /// `userPrincipalName`, `federated`, `emailAddress`, …
    pub sign_in_type: Option<String>,
    /// Issuer, e.g. `contoso.onmicrosoft.com` or `ExternalAzureAD`.
    pub issuer: Option<String>,
    /// Issuer-assigned id (null for `federated`).
    pub issuer_assigned_id: Option<String>,
}

/// A service plan assignment (`microsoft.graph.assignedPlan`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedPlan {
    /// When the plan was assigned (kept as text: only shown, never compared).
    pub assigned_date_time: Option<String>,
    /// `Enabled`, `Suspended`, `Deleted`, …
    pub capability_status: Option<String>,
    /// Service name, e.g. `exchange`.
    pub service: Option<String>,
    /// Service plan GUID.
    pub service_plan_id: Option<String>,
}

/// An activated directory role (`microsoft.graph.directoryRole`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    /// Object id of the activated role.
    #[serde(default)]
    pub id: String,
    /// Display name, e.g. `User Administrator`.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Template id (stable across tenants).
    pub role_template_id: Option<String>,
}

/// Any directory object (user, group, orgContact, servicePrincipal, …) with
/// the properties used for collision and membership checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    /// Object id.
    #[serde(default)]
    pub id: String,
    /// OData type, e.g. `#microsoft.graph.group`.
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Proxy addresses.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub proxy_addresses: Vec<String>,
    /// UPN (users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Other mails (users only).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub other_mails: Vec<String>,
}

/// One direct member of a group (`GET /groups/{id}/members`): a user, another group,
/// a contact, a device or a service principal, told apart by `@odata.type`. Only users
/// carry the [`User`] properties asked for; the others have at most `id` and
/// `displayName` of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GroupMember {
    /// OData type, e.g. `#microsoft.graph.user`.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// The member's properties, read as a user's.
    #[serde(flatten)]
    pub object: User,
}

impl GroupMember {
    /// Whether the member is a user (the type is named by every directory-object
    /// collection; a missing one is not assumed to be a user).
    pub fn is_user(&self) -> bool {
        self.odata_type.as_deref() == Some("#microsoft.graph.user")
    }

    /// The member's type without the `#microsoft.graph.` prefix (`group`, `orgContact`).
    pub fn type_name(&self) -> &str {
        self.odata_type
            .as_deref()
            .map(|t| t.trim_start_matches("#microsoft.graph."))
            .unwrap_or("unknown")
    }
}

/// A tenant domain (`microsoft.graph.domain`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The domain name, e.g. `contoso.com`.
    #[serde(default)]
    pub id: String,
    /// `Managed` or `Federated`.
    pub authentication_type: Option<String>,
    /// Default domain for new users.
    #[serde(default)]
    pub is_default: bool,
    /// The `*.onmicrosoft.com` domain.
    #[serde(default)]
    pub is_initial: bool,
    /// Ownership verified.
    #[serde(default)]
    pub is_verified: bool,
    /// `Email`, `OfficeCommunicationsOnline`, …
    #[serde(default, deserialize_with = "null_as_empty")]
    pub supported_services: Vec<String>,
}

/// Body of `PATCH /users/{id}`; only `Some` fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdate {
    /// New primary email (the partner's address before inviting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Replaces the whole `otherMails` list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_mails: Option<Vec<String>>,
    /// `Member` or `Guest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// Enable or block sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Password reset (e.g. scrambling the cloud password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_profile: Option<PasswordProfile>,
}

impl PartialEq for PasswordProfile {
    fn eq(&self, other: &Self) -> bool {
        self.force_change_password_next_sign_in == other.force_change_password_next_sign_in
            && self.force_change_password_next_sign_in_with_mfa
                == other.force_change_password_next_sign_in_with_mfa
            && self.password.as_ref().map(|p| p.expose_secret())
                == other.password.as_ref().map(|p| p.expose_secret())
    }
}

/// `passwordProfile`; the password is a [`SecretString`] so it never shows up
/// in `Debug` output or logs, and is only exposed when serializing the body.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    /// New password.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_secret"
    )]
    pub password: Option<SecretString>,
    /// Force a change at next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_change_password_next_sign_in: Option<bool>,
    /// Force MFA registration and a change at next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_change_password_next_sign_in_with_mfa: Option<bool>,
}

fn serialize_secret<S: Serializer>(s: &Option<SecretString>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(secret) => ser.serialize_str(secret.expose_secret()),
        None => ser.serialize_none(),
    }
}

/// Body of `POST /invitations` (graph-facts §1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRequest {
    /// The partner's address; must equal the user's `mail`.
    pub invited_user_email_address: String,
    /// Where the user lands after redeeming.
    pub invite_redirect_url: String,
    /// Send Microsoft's invitation email (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_invitation_message: Option<bool>,
    /// Language, CC and custom text for the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_user_message_info: Option<InvitedUserMessageInfo>,
    /// `Guest` (Graph default) or `Member`; leave unset to keep `userType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_user_type: Option<String>,
    /// Display name for a new guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_user_display_name: Option<String>,
    /// The existing user to convert (`{"id": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_user: Option<InvitedUserRef>,
    /// Reset redemption of an already-redeemed B2B user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_redemption: Option<bool>,
}

/// `invitedUserMessageInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitedUserMessageInfo {
    /// ISO 639 language, e.g. `en-US` (ignored with a custom body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_language: Option<String>,
    /// CC recipients (Graph honours only one).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cc_recipients: Vec<Recipient>,
    /// Custom text (dropped by Graph for app-only callers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized_message_body: Option<String>,
}

/// A message recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// The address.
    #[serde(default)]
    pub email_address: EmailAddress,
}

/// A name and address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailAddress {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SMTP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Reference to the invited user (`invitedUser` navigation property).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitedUserRef {
    /// Object id.
    #[serde(default)]
    pub id: String,
    /// UPN (responses only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
}

/// The invitation returned by `POST /invitations` (201).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    /// Invitation id.
    #[serde(default)]
    pub id: String,
    /// Redemption link (only available now; cannot be fetched later).
    pub invite_redeem_url: Option<String>,
    /// Redirect after redemption.
    pub invite_redirect_url: Option<String>,
    /// Invited address.
    pub invited_user_email_address: Option<String>,
    /// Display name.
    pub invited_user_display_name: Option<String>,
    /// `Guest` or `Member`.
    pub invited_user_type: Option<String>,
    /// Whether an email was sent.
    pub send_invitation_message: Option<bool>,
    /// Whether redemption was reset.
    pub reset_redemption: Option<bool>,
    /// `PendingAcceptance`, `Completed`, `InProgress` or `Error`.
    pub status: Option<String>,
    /// The user the invitation applies to.
    pub invited_user: Option<InvitedUserRef>,
    /// Message settings echoed back.
    pub invited_user_message_info: Option<InvitedUserMessageInfo>,
}

/// One request inside a `$batch` (graph-facts §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// Unique id within the batch.
    pub id: String,
    /// HTTP method.
    pub method: String,
    /// URL relative to the version root, e.g. `/users/{id}?$select=id`.
    pub url: String,
    /// Request headers (`ConsistencyLevel`, `Content-Type`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Ids this request depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    /// A `GET` item.
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        BatchRequest {
            id: id.into(),
            method: "GET".into(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// One response inside a `$batch` envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// Id of the matching request.
    pub id: String,
    /// HTTP status of the inner request.
    pub status: u16,
    /// Response headers (names as Graph sent them).
    #[serde(default, deserialize_with = "null_as_empty_map")]
    pub headers: BTreeMap<String, String>,
    /// JSON body, if any.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

impl BatchResponse {
    /// A header value, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the inner status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn null_as_empty_map<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    // Header values are strings in practice; tolerate numbers by stringifying.
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_parses_with_nulls_and_unknown_fields() {
        let u: User = serde_json::from_value(json!({
            "id": "u1",
            "mail": null,
            "otherMails": null,
            "proxyAddresses": ["SMTP:a@contoso.com"],
            "externalUserStateChangeDateTime": "2024-05-01T10:00:00Z",
            "assignedPlans": [{"service": "Exchange", "capabilityStatus": "Enabled", "assignedDateTime": "2022-01-01T00:00:00Z", "servicePlanId": "efb87545"}],
            "someNewProperty": {"x": 1}
        }))
        .unwrap();
        assert_eq!(u.id, "u1");
        assert_eq!(u.other_mails, Vec::<String>::new());
        assert_eq!(
            u.external_user_state_change_date_time,
            Some("2024-05-01T10:00:00Z".parse().unwrap())
        );
        assert!(u.has_exchange_mailbox());
    }

    #[test]
    fn suspended_exchange_is_not_a_mailbox() {
        let u = User {
            assigned_plans: vec![AssignedPlan {
                service: Some("exchange".into()),
                capability_status: Some("Suspended".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(!u.has_exchange_mailbox());
    }

    #[test]
    fn invitation_request_serializes_only_set_fields() {
        let req = InvitationRequest {
            invited_user_email_address: "ann@partner.example".into(),
            invite_redirect_url: "https://myapps.microsoft.com".into(),
            send_invitation_message: Some(true),
            invited_user_message_info: Some(InvitedUserMessageInfo {
                message_language: Some("en-US".into()),
                cc_recipients: vec![Recipient {
                    email_address: EmailAddress {
                        name: None,
                        address: Some("cc@contoso.com".into()),
                    },
                }],
                customized_message_body: None,
            }),
            invited_user: Some(InvitedUserRef {
                id: "u1".into(),
                user_principal_name: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({
                "invitedUserEmailAddress": "ann@partner.example",
                "inviteRedirectUrl": "https://myapps.microsoft.com",
                "sendInvitationMessage": true,
                "invitedUserMessageInfo": {"messageLanguage": "en-US", "ccRecipients": [{"emailAddress": {"address": "cc@contoso.com"}}]},
                "invitedUser": {"id": "u1"}
            })
        );
    }

    #[test]
    fn password_is_redacted_in_debug_but_serialized() {
        let upd = UserUpdate {
            password_profile: Some(PasswordProfile {
                password: Some(SecretString::from("hunter2-Secret")),
                force_change_password_next_sign_in: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!format!("{upd:?}").contains("hunter2"));
        assert_eq!(
            serde_json::to_value(&upd).unwrap(),
            json!({"passwordProfile": {"password": "hunter2-Secret", "forceChangePasswordNextSignIn": false}})
        );
    }

    #[test]
    fn batch_response_header_lookup_is_case_insensitive() {
        let r: BatchResponse = serde_json::from_value(json!({
            "id": "1", "status": 429, "headers": {"Retry-After": 3}, "body": null
        }))
        .unwrap();
        assert_eq!(r.header("retry-after"), Some("3"));
        assert!(!r.is_success());
    }
}
