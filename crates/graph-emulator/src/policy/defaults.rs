//! What a tenant's policies are when nobody changed them: the objects Graph returns for a
//! fresh tenant, from Microsoft's documentation. A tenant file only names what differs;
//! everything it leaves out comes from here.
//!
//! Sources (GD = microsoft-graph-docs-contrib/api-reference):
//! - authorizationPolicy: the example of GD v1.0/api/authorizationpolicy-get.md
//!   (`allowInvitesFrom: everyone` is also the documented default outside US Government,
//!   GD v1.0/resources/authorizationpolicy.md); `guestUserRoleId` is the documented
//!   default, "Guest User" (`10dae51f-…`); `allowedToCreateTenants` and
//!   `allowedToReadBitlockerKeysForOwnedDevice` default to true as in a new tenant.
//! - Cross-tenant access default: the service default of
//!   GD v1.0/api/crosstenantaccesspolicyconfigurationdefault-get.md (B2B collaboration
//!   allowed both ways for all users and applications, B2B direct connect blocked, no
//!   inbound trust), `automaticUserConsentSettings` both `false` (read-only `false` in the
//!   default, GD v1.0/resources/crosstenantaccesspolicyconfigurationdefault.md) and the
//!   redemption order Entra resets to: `[azureActiveDirectory, externalFederation,
//!   socialIdentityProviders]` with `defaultConfiguredIdp` (ED
//!   external-id/cross-tenant-access-settings-b2b-collaboration.md).
//! - A partner configuration: every setting `null` ("inherit from the default"), as in
//!   GD v1.0/api/crosstenantaccesspolicyconfigurationpartner-get.md.
//! - Email OTP: GD v1.0/api/emailauthenticationmethodconfiguration-get.md's example
//!   (`state: enabled`, `allowExternalIdToUseEmailOtp: default`, which means enabled for
//!   tenants that didn't use the preview, GD v1.0/resources/emailauthenticationmethodconfiguration.md).
//! - The B2B management policy (beta) has no default object: without one a tenant has no
//!   allow or deny list (ED external-id/allow-deny-list.md: "By default, the Allow
//!   invitations to be sent to any domain (most inclusive) setting is enabled").

use serde_json::{Map, Value, json};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `GET /policies/authorizationPolicy` of a fresh tenant.
pub fn authorization_policy() -> Map<String, Value> {
    object(json!({
        "id": "authorizationPolicy",
        "deletedDateTime": null,
        "displayName": "Authorization Policy",
        "description": "Used to manage authorization related settings across the company.",
        "allowInvitesFrom": "everyone",
        "allowedToSignUpEmailBasedSubscriptions": true,
        "allowedToUseSSPR": true,
        "allowEmailVerifiedUsersToJoinOrganization": true,
        "allowUserConsentForRiskyApps": false,
        "blockMsolPowerShell": null,
        "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
        "defaultUserRolePermissions": {
            "allowedToCreateApps": true,
            "allowedToCreateSecurityGroups": true,
            "allowedToCreateTenants": true,
            "allowedToReadBitlockerKeysForOwnedDevice": true,
            "allowedToReadOtherUsers": true,
            "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]
        }
    }))
}

fn everyone(access: &str, users: &str, apps: &str) -> Value {
    json!({
        "usersAndGroups": {"accessType": access, "targets": [{"target": users, "targetType": "user"}]},
        "applications": {"accessType": access, "targets": [{"target": apps, "targetType": "application"}]}
    })
}

/// `GET /policies/crossTenantAccessPolicy/default` of a fresh tenant (the service default).
pub fn cross_tenant_default() -> Map<String, Value> {
    object(json!({
        "isServiceDefault": true,
        "inboundTrust": {
            "isMfaAccepted": false,
            "isCompliantDeviceAccepted": false,
            "isHybridAzureADJoinedDeviceAccepted": false
        },
        "automaticUserConsentSettings": {"inboundAllowed": false, "outboundAllowed": false},
        "b2bCollaborationOutbound": everyone("allowed", "AllUsers", "AllApplications"),
        "b2bCollaborationInbound": everyone("allowed", "AllUsers", "AllApplications"),
        "b2bDirectConnectOutbound": everyone("blocked", "AllUsers", "AllApplications"),
        "b2bDirectConnectInbound": everyone("blocked", "AllUsers", "AllApplications"),
        "invitationRedemptionIdentityProviderConfiguration": {
            "primaryIdentityProviderPrecedenceOrder":
                ["azureActiveDirectory", "externalFederation", "socialIdentityProviders"],
            "fallbackIdentityProvider": "defaultConfiguredIdp"
        }
    }))
}

/// A partner configuration that inherits everything from the default.
pub fn cross_tenant_partner(tenant_id: &str) -> Map<String, Value> {
    object(json!({
        "tenantId": tenant_id,
        "isServiceProvider": null,
        "isInMultiTenantOrganization": false,
        "inboundTrust": null,
        "automaticUserConsentSettings": {"inboundAllowed": null, "outboundAllowed": null},
        "b2bCollaborationInbound": null,
        "b2bCollaborationOutbound": null,
        "b2bDirectConnectInbound": null,
        "b2bDirectConnectOutbound": null,
        "tenantRestrictions": null
    }))
}

/// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email` of
/// a fresh tenant (without the annotations and the `includeTargets` navigation property,
/// which the route adds).
pub fn email_method() -> Map<String, Value> {
    object(json!({
        "id": "Email",
        "state": "enabled",
        "allowExternalIdToUseEmailOtp": "default",
        "excludeTargets": []
    }))
}

/// The b2bManagementPolicy properties a tenant file's `b2bManagementPolicy` may leave out:
/// the values of GD beta/api/policyroot-list-b2bmanagementpolicies.md's example (its id
/// included), `isOrganizationDefault` as a Boolean (the resource's type; the example
/// shows the string `"true"`).
pub fn b2b_management_policy() -> Map<String, Value> {
    object(json!({
        "id": "f596ef0d-42f9-0359-1aaa-12d02b38802a",
        "deletedDateTime": null,
        "description": "Policy used for B2B features",
        "displayName": "B2BManagementPolicy",
        "isOrganizationDefault": true
    }))
}
