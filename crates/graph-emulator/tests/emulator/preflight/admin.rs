//! The runtime policy hooks (`PUT`/`PATCH /_emulator/policies`, `set_policies`), the state
//! document's new sections, reset, and the tenant file's new sections' validation.

use super::*;

#[tokio::test]
async fn state_document_shows_partners_policies_eligibilities_and_memberships() {
    let emu = Emulator::demo().await;
    let state = emu.state().await;
    let partners = state["partnerTenants"].as_array().unwrap();
    assert_eq!(partners.len(), 8);
    assert_eq!(partners[0]["domains"], json!(["fabrikam.com"]));
    assert_eq!(
        state["policies"]["crossTenantAccessPolicy"]["partners"][1]["tenantId"],
        WOODGROVE
    );
    assert_eq!(
        state["policies"]["authorizationPolicy"]["allowInvitesFrom"],
        "everyone"
    );
    assert_eq!(
        state["roleEligibilityScheduleInstances"][0]["principalId"],
        uid(26)
    );
    let tier0 = state["groupMemberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["groupId"] == TIER0)
        .unwrap();
    assert_eq!(
        (tier0["members"].clone(), tier0["owners"].clone()),
        (json!([uid(27)]), json!([uid(31)]))
    );
    let only = emu
        .send("GET", "_emulator/state?section=policies", None, &[], None)
        .await;
    assert!(only.json.get("users").is_none() && only.json.get("policies").is_some());
}

#[tokio::test]
async fn policies_change_at_runtime_and_reset_restores_them() {
    let emu = Emulator::demo().await;
    let token = emu.demo_token().await;
    // PATCH replaces only the named section.
    patch_policies(
        &emu,
        json!({"authorizationPolicy": {"allowInvitesFrom": "adminsAndGuestInviters"}}),
    )
    .await;
    let state = emu.state().await;
    assert_eq!(
        state["policies"]["authorizationPolicy"]["allowInvitesFrom"],
        "adminsAndGuestInviters"
    );
    assert_eq!(
        state["policies"]["crossTenantAccessPolicy"]["partners"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // PUT replaces everything: what it leaves out is the default again.
    let a = emu
        .send(
            "PUT",
            "_emulator/policies",
            None,
            &[],
            Some(&json!({"emailAuthenticationMethodConfiguration": {"state": "disabled"}})),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = emu
        .get("v1.0/policies/crossTenantAccessPolicy/partners", &token)
        .await;
    assert_eq!(a.json["value"], json!([]));
    let b2b = emu.get("beta/policies/b2bManagementPolicies", &token).await;
    assert_eq!(b2b.json["value"], json!([]));
    // A bad body is 400 with Graph's error body naming the path, and changes nothing.
    let a = emu
        .send(
            "PATCH",
            "_emulator/policies",
            None,
            &[],
            Some(&json!({"crossTenantAccessPolicy": {"partners": [{"tenantId": "nope"}]}})),
        )
        .await;
    a.assert_error(400, "Request_BadRequest");
    assert_eq!(
        a.message(),
        "policies.crossTenantAccessPolicy.partners[0].tenantId: missing or not a GUID"
    );
    // The state document's section goes back as is.
    let section = emu.state().await["policies"].clone();
    emu.running.set_policies(&section, true).unwrap();
    assert!(
        emu.running
            .set_policies(
                &json!({"authorizationPolicy": {"allowInvitesFrom": 1}}),
                false
            )
            .unwrap_err()
            .starts_with("policies.authorizationPolicy.allowInvitesFrom")
    );
    // Reset: back to the tenant file.
    let reset = emu.send("POST", "_emulator/reset", None, &[], None).await;
    assert_eq!(reset.status, 204);
    let state = emu.state().await;
    assert_eq!(
        state["policies"]["emailAuthenticationMethodConfiguration"]["state"],
        "enabled"
    );
    assert_eq!(
        state["policies"]["crossTenantAccessPolicy"]["partners"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn tenant_file_sections_are_validated_by_path() {
    let refused = |change: &dyn Fn(&mut Value), expected: &str| {
        let mut tenant = demo_json();
        change(&mut tenant);
        let e = graph_emulator::Tenant::from_json(&tenant.to_string(), "t.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("t.json: {expected}")), "{e}");
    };
    refused(
        &|t| t["partnerTenants"][0]["domains"] = json!(["contoso.com"]),
        "partnerTenants[0].domains[0]: \"contoso.com\" is one of the tenant's own",
    );
    refused(
        &|t| {
            t["policies"]["crossTenantAccessPolicy"]["partners"][1]["b2bCollaborationInbound"]["usersAndGroups"]
                ["accessType"] = json!("sometimes")
        },
        "policies.crossTenantAccessPolicy.partners[1].b2bCollaborationInbound.usersAndGroups.accessType",
    );
    refused(
        &|t| t["policies"]["b2bManagementPolicy"]["definition"] = json!(["{'x': 1}"]),
        "policies.b2bManagementPolicy.definition[0]: not JSON",
    );
    refused(
        // Fabrikam Partners is not role-assignable.
        &|t| {
            t["roleEligibilityScheduleInstances"][0]["principalId"] =
                json!("e0000000-0000-4000-8000-000000000001")
        },
        "roleEligibilityScheduleInstances[0].principalId: no user or role-assignable group",
    );
    refused(
        &|t| {
            t["groups"][1]["members"] = json!(["e0000000-0000-4000-8000-000000000001"]);
        },
        "groups[1].members[0]: a role-assignable group can't have groups as members",
    );
    refused(
        &|t| t["groups"][1]["owners"] = json!(["e0000000-0000-4000-8000-000000000001"]),
        "groups[1].owners[0]: no user with id",
    );
    refused(
        &|t| t["policies"]["colour"] = json!(1),
        "policies.colour: not a policy the emulator serves",
    );
    // Every new section is optional: without them the tenant is as before.
    let mut tenant = demo_json();
    for key in [
        "partnerTenants",
        "policies",
        "roleEligibilityScheduleInstances",
    ] {
        tenant.as_object_mut().unwrap().remove(key);
    }
    let t = graph_emulator::Tenant::from_json(&tenant.to_string(), "t.json").unwrap();
    assert!(t.partner_tenants().is_none());
}
