//! The directory's built-in role definitions (`unifiedRoleDefinition`), so a PIM
//! eligibility's `roleDefinitionId` resolves to a role name: `GET
//! /roleManagement/directory/roleDefinitions/{id}` and
//! `roleEligibilityScheduleInstances?$expand=roleDefinition`
//! ([`crate::routes::role_management`]).
//!
//! A built-in role's definition id is its template id, the same in every tenant
//! (ED identity/role-based-access-control/permissions-reference.md lists them). The table
//! holds the roles b2b-convert meets; a tenant file's `directoryRoles` add theirs (by
//! `roleTemplateId`, display name and description). Shape: GD
//! v1.0/resources/unifiedroledefinition.md — `id`, `description`, `displayName`,
//! `isBuiltIn`, `isEnabled`, `resourceScopes` (`["/"]`), `templateId`, `version`,
//! `rolePermissions`. Choices: `rolePermissions` is `[]` (the emulator doesn't model
//! resource actions; a client must not read a role's power from it); `isPrivileged`, a
//! beta property, is not served; `version` is `"1"`.

use serde_json::{Value, json};

use crate::tenant::DirectoryRole;

/// (template id, display name, description) of the built-in roles the emulator knows.
pub const BUILT_IN: &[(&str, &str, &str)] = &[
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
        "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
        "Can access to view, set and reset authentication method information for any user (admin or non-admin).",
    ),
    (
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "User Administrator",
        "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
    ),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
        "Can reset passwords for non-administrators and Password Administrators.",
    ),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
        "Can access to view, set and reset authentication method information for any non-admin user.",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
        "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.",
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
        "Can manage Conditional Access capabilities.",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps.",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps except App Proxy.",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
        "Can manage all aspects of the Exchange product.",
    ),
    (
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
        "Can manage all aspects of the SharePoint service.",
    ),
    (
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Groups Administrator",
        "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports.",
    ),
    (
        "be2f45a1-457d-42af-a067-6ec1fa63bc45",
        "External Identity Provider Administrator",
        "Can configure identity providers for use in direct federation.",
    ),
    (
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        "Guest Inviter",
        "Can invite guest users independent of the 'members can invite guests' setting.",
    ),
    (
        "9360feb5-f418-4baa-8175-e2a00bac4301",
        "Directory Writers",
        "Can read and write basic directory information. For granting access to applications, not intended for users.",
    ),
    (
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Directory Readers",
        "Can read basic directory information. Commonly used to grant directory read access to applications and guests.",
    ),
    (
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Global Reader",
        "Can read everything that a Global Administrator can, but not update anything.",
    ),
    (
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Security Reader",
        "Can read security information and reports in Microsoft Entra ID and Office 365.",
    ),
    (
        "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Reports Reader",
        "Can read sign-in and audit reports.",
    ),
    (
        "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
        "Message Center Reader",
        "Can read messages and updates for their organization in Office 365 Message Center only.",
    ),
];

fn definition(id: &str, name: &str, description: Option<&str>) -> Value {
    json!({
        "id": id,
        "description": description,
        "displayName": name,
        "isBuiltIn": true,
        "isEnabled": true,
        "resourceScopes": ["/"],
        "templateId": id,
        "version": "1",
        "rolePermissions": [],
    })
}

/// The role definition with this id (any case): a built-in one, or one of the tenant's
/// activated `roles` by template id.
pub fn find(id: &str, roles: &[DirectoryRole]) -> Option<Value> {
    if let Some((template, name, description)) =
        BUILT_IN.iter().find(|(t, _, _)| t.eq_ignore_ascii_case(id))
    {
        return Some(definition(template, name, Some(description)));
    }
    roles
        .iter()
        .find(|r| r.role_template_id.eq_ignore_ascii_case(id))
        .map(|r| {
            definition(
                &r.role_template_id,
                &r.display_name,
                r.description.as_deref(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_tenant_roles_resolve() {
        let ua = find("FE930BE7-5E62-47DB-91AF-98C3A49A38B1", &[]).unwrap();
        assert_eq!(ua["displayName"], "User Administrator");
        assert_eq!(ua["id"], ua["templateId"]);
        let custom = DirectoryRole {
            id: "a0000000-0000-4000-8000-000000000009".into(),
            display_name: "Teams Administrator".into(),
            role_template_id: "69091246-20e8-4a56-aa4d-066075b2a7a8".into(),
            description: None,
            members: Vec::new(),
        };
        let teams = find("69091246-20e8-4a56-aa4d-066075b2a7a8", &[custom]).unwrap();
        assert_eq!(teams["displayName"], "Teams Administrator");
        assert!(find("00000000-0000-4000-8000-000000000000", &[]).is_none());
        let mut ids: Vec<&str> = BUILT_IN.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), BUILT_IN.len());
    }
}
