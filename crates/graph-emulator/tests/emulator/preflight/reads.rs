//! The pre-flight reads: tenant information, the policies, PIM eligibilities and role
//! definitions — each one's answer, its permission refusal and its request-log entry.

use super::*;

fn find(domain: &str) -> String {
    format!("v1.0/tenantRelationships/findTenantInformationByDomainName(domainName='{domain}')")
}

#[tokio::test]
async fn tenant_information_by_domain() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get(&find("FABRIKAM.com"), &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("v1.0/$metadata#microsoft.graph.tenantInformation")
    );
    assert_eq!(a.json["tenantId"], FABRIKAM);
    assert_eq!(a.json["displayName"], "Fabrikam, Inc.");
    assert_eq!(a.json["defaultDomainName"], "fabrikam.onmicrosoft.com");
    assert_eq!(a.json["federationBrandName"], Value::Null);
    fits_schema("microsoft.graph.tenantInformation", &a.json);
    assert_eq!(
        last_logged(&emu).await,
        (
            "/v1.0/tenantRelationships/findTenantInformationByDomainName(domainName='FABRIKAM.com')"
                .to_owned(),
            200,
            Some("CrossTenantInformation.ReadBasic.All".to_owned())
        )
    );
    // Percent-encoded, by its default domain, and the tenant's own domain.
    let a = emu
        .get(
            "v1.0/tenantRelationships/findTenantInformationByDomainName(domainName=%27woodgrovebank.onmicrosoft.com%27)",
            &token,
        )
        .await;
    assert_eq!(a.json["tenantId"], WOODGROVE, "{}", a.text);
    let a = emu.get(&find("contoso.com"), &token).await;
    assert_eq!(a.json["tenantId"], TENANT_ID);
    // No tenant: 404.
    emu.get(&find("fourthcoffee.com"), &token)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    emu.get(
        "v1.0/tenantRelationships/findTenantInformationByDomainName(domainName=fabrikam.com)",
        &token,
    )
    .await
    .assert_error(400, "BadRequest");
    // Directory.Read.All is not enough.
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.get(&find("fabrikam.com"), &read)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let state = emu.state().await;
    let counted = state["requestCounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["path"] == "/v1.0/tenantRelationships/{function}" && c["status"] == 403);
    assert!(counted, "{}", state["requestCounts"]);
}

#[tokio::test]
async fn authorization_policy() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("v1.0/policies/authorizationPolicy", &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["id"], "authorizationPolicy");
    assert_eq!(a.json["allowInvitesFrom"], "everyone");
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#policies/authorizationPolicy/$entity")
    );
    fits_schema("microsoft.graph.authorizationPolicy", &a.json);
    assert_eq!(
        last_logged(&emu).await,
        (
            "/v1.0/policies/authorizationPolicy".to_owned(),
            200,
            Some("Policy.Read.All".to_owned())
        )
    );
    let a = emu
        .get(
            "v1.0/policies/authorizationPolicy?$select=allowInvitesFrom",
            &token,
        )
        .await;
    assert_eq!(a.json.as_object().unwrap().len(), 2, "{}", a.text);
    emu.get("v1.0/policies/authorizationPolicy?$select=colour", &token)
        .await
        .assert_error(400, "Request_BadRequest");
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.get("v1.0/policies/authorizationPolicy", &read)
        .await
        .assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn cross_tenant_access_default_and_partners() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu
        .get("v1.0/policies/crossTenantAccessPolicy/default", &token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["isServiceDefault"], true);
    assert_eq!(
        a.json["b2bCollaborationInbound"]["usersAndGroups"]["accessType"],
        "allowed"
    );
    assert_eq!(
        a.json["invitationRedemptionIdentityProviderConfiguration"]["fallbackIdentityProvider"],
        "defaultConfiguredIdp"
    );
    assert_eq!(
        a.json["automaticUserConsentSettings"]["inboundAllowed"],
        false
    );
    fits_schema(
        "microsoft.graph.crossTenantAccessPolicyConfigurationDefault",
        &a.json,
    );

    // A partner's null settings are served as null: they inherit the default.
    let a = emu
        .get(
            &format!("v1.0/policies/crossTenantAccessPolicy/partners/{FABRIKAM}"),
            &token,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["tenantId"], FABRIKAM);
    assert_eq!(a.json["b2bCollaborationInbound"], Value::Null);
    assert_eq!(
        a.json["automaticUserConsentSettings"]["inboundAllowed"],
        true
    );
    fits_schema(
        "microsoft.graph.crossTenantAccessPolicyConfigurationPartner",
        &a.json,
    );
    let a = emu
        .get(
            &format!("v1.0/policies/crossTenantAccessPolicy/partners/{WOODGROVE}"),
            &token,
        )
        .await;
    assert_eq!(
        a.json["b2bCollaborationInbound"]["applications"]["accessType"],
        "blocked"
    );
    let a = emu
        .get("v1.0/policies/crossTenantAccessPolicy/partners", &token)
        .await;
    assert_eq!(a.json["value"].as_array().unwrap().len(), 2, "{}", a.text);
    // Adatum is a partner tenant without a configuration: 404.
    emu.get(
        "v1.0/policies/crossTenantAccessPolicy/partners/c1000000-0000-4000-8000-000000000003",
        &token,
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");
    let read = emu.token(READ_APP, READ_SECRET).await;
    for path in [
        "v1.0/policies/crossTenantAccessPolicy/default".to_owned(),
        format!("v1.0/policies/crossTenantAccessPolicy/partners/{FABRIKAM}"),
    ] {
        emu.get(&path, &read)
            .await
            .assert_error(403, "Authorization_RequestDenied");
    }
}

#[tokio::test]
async fn email_otp_method() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let path = "v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email";
    let a = emu.get(path, &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json["@odata.type"],
        "#microsoft.graph.emailAuthenticationMethodConfiguration"
    );
    assert_eq!(
        (a.json["id"].as_str(), a.json["state"].as_str()),
        (Some("Email"), Some("enabled"))
    );
    assert_eq!(a.json["allowExternalIdToUseEmailOtp"], "default");
    assert_eq!(
        last_logged(&emu).await.2.as_deref(),
        Some("Policy.Read.AuthenticationMethod")
    );
    let mut served = a.json.clone();
    served.as_object_mut().unwrap().remove("includeTargets"); // navigation, returned inline
    fits_schema(
        "microsoft.graph.emailAuthenticationMethodConfiguration",
        &served,
    );
    emu.get(
        "v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2",
        &token,
    )
    .await
    .assert_error(400, "BadRequest");
    // The live page names Policy.Read.AuthenticationMethod; Policy.Read.All is refused.
    let (emu, token) = with_app(&["Policy.Read.All"]).await;
    emu.get(path, &token)
        .await
        .assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn beta_b2b_management_policies() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    let a = emu.get("beta/policies/b2bManagementPolicies", &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("beta/$metadata#policies/b2bManagementPolicies")
    );
    let policy = &a.json["value"][0];
    assert_eq!(
        policy["@odata.type"],
        "#microsoft.graph.b2bManagementPolicy"
    );
    assert_eq!(policy["isOrganizationDefault"], true);
    let definition: Value =
        serde_json::from_str(policy["definition"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        definition["B2BManagementPolicy"]["InvitationsAllowedAndBlockedDomainsPolicy"]["BlockedDomains"],
        json!(["treyresearch.net"])
    );
    assert_eq!(
        last_logged(&emu).await,
        (
            "/beta/policies/b2bManagementPolicies".to_owned(),
            200,
            Some("Policy.Read.B2BManagementPolicy".to_owned())
        )
    );
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.get("beta/policies/b2bManagementPolicies", &read)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    // Delegated: the signed-in user must be a Global Administrator (uid 11 is, uid 1 not).
    let scopes = ["Policy.Read.B2BManagementPolicy"];
    let admin = delegated(&emu, &uid(11), &scopes).await;
    assert_eq!(
        emu.get("beta/policies/b2bManagementPolicies", &admin)
            .await
            .status,
        200
    );
    let user = delegated(&emu, &uid(1), &scopes).await;
    emu.get("beta/policies/b2bManagementPolicies", &user)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    emu.get("beta/policies/b2bManagementPolicies", "not-a-token")
        .await
        .assert_error(401, "InvalidAuthenticationToken");

    // No policy: no list.
    let mut tenant = demo_json();
    tenant["policies"]
        .as_object_mut()
        .unwrap()
        .remove("b2bManagementPolicy");
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let a = emu.get("beta/policies/b2bManagementPolicies", &token).await;
    assert_eq!(a.json["value"], json!([]), "{}", a.text);
}

#[tokio::test]
async fn role_eligibility_schedule_instances() {
    let mut tenant = demo_json();
    let extra = json!({"id": "second-1-e", "principalId": uid(26),
        "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
        "endDateTime": "2030-01-01T00:00:00Z"});
    tenant["roleEligibilityScheduleInstances"]
        .as_array_mut()
        .unwrap()
        .push(extra);
    let emu = Emulator::from_json(&tenant).await;
    let token = emu.demo_token().await;
    let base = "v1.0/roleManagement/directory/roleEligibilityScheduleInstances";
    let a = emu
        .get(
            &format!("{base}?$filter=principalId%20eq%20'{}'", uid(26)),
            &token,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#roleManagement/directory/roleEligibilityScheduleInstances")
    );
    let first = &a.json["value"][0];
    assert_eq!(first["roleDefinitionId"], USER_ADMINISTRATOR);
    assert_eq!(
        (
            first["directoryScopeId"].as_str(),
            first["memberType"].as_str()
        ),
        (Some("/"), Some("Direct"))
    );
    fits_schema(
        "microsoft.graph.unifiedRoleEligibilityScheduleInstance",
        first,
    );
    assert_eq!(a.json["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        last_logged(&emu).await.2.as_deref(),
        Some("RoleEligibilitySchedule.Read.Directory")
    );
    let none = emu
        .get(
            &format!("{base}?$filter=principalId%20eq%20'{}'", uid(1)),
            &token,
        )
        .await;
    assert_eq!(none.json["value"], json!([]));

    // $expand=roleDefinition names the role; $top pages; $count counts; ne is plain.
    let a = emu
        .get(
            &format!("{base}?$expand=roleDefinition&$top=1&$count=true"),
            &token,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json["value"][0]["roleDefinition"]["displayName"],
        "User Administrator"
    );
    assert_eq!(a.json["@odata.count"], 2);
    let next = a.json["@odata.nextLink"].as_str().unwrap();
    let b = emu.get(next.strip_prefix(&emu.root).unwrap(), &token).await;
    assert_eq!(
        b.json["value"][0]["roleDefinition"]["displayName"], "Global Administrator",
        "{}",
        b.text
    );
    assert!(b.json.get("@odata.nextLink").is_none());
    let a = emu
        .get(
            &format!("{base}?$filter=roleDefinitionId%20ne%20'{USER_ADMINISTRATOR}'"),
            &token,
        )
        .await;
    assert_eq!(a.json["value"][0]["id"], "second-1-e", "{}", a.text);
    for bad in [
        "$expand=principal",
        "$filter=startDateTime%20eq%20null",
        "$top=0",
    ] {
        let a = emu.get(&format!("{base}?{bad}"), &token).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.text);
    }
    // Directory.Read.All is not among the documented permissions.
    let read = emu.token(READ_APP, READ_SECRET).await;
    emu.get(base, &read)
        .await
        .assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn role_definitions_by_id() {
    let emu = Emulator::demo().await;
    let read = emu.token(READ_APP, READ_SECRET).await;
    let a = emu
        .get(
            &format!("v1.0/roleManagement/directory/roleDefinitions/{USER_ADMINISTRATOR}"),
            &read,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["displayName"], "User Administrator");
    assert_eq!(
        (a.json["isBuiltIn"].as_bool(), a.json["templateId"].as_str()),
        (Some(true), Some(USER_ADMINISTRATOR))
    );
    assert_eq!(
        last_logged(&emu).await.2.as_deref(),
        Some("Directory.Read.All")
    );
    emu.get(
        "v1.0/roleManagement/directory/roleDefinitions/00000000-0000-4000-8000-000000000000",
        &read,
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");
    let (emu, token) = with_app(&["User.Read.All"]).await;
    emu.get(
        &format!("v1.0/roleManagement/directory/roleDefinitions/{USER_ADMINISTRATOR}"),
        &token,
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
}
