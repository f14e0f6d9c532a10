//! The reads of `plan`'s pre-flight: the tenant's invitation policies, the partner
//! organisations' Entra tenants, PIM role eligibilities and role-assignable groups —
//! what predicts whether an invitation will be refused and how the partner will redeem
//! it (redemption-facts.md).
//!
//! | method | Graph call | least permission |
//! |---|---|---|
//! | [`GraphClient::authorization_policy`] | `GET /policies/authorizationPolicy` | Policy.Read.All |
//! | [`GraphClient::b2b_management_policies`] | `GET /beta/policies/b2bManagementPolicies` (beta only) | Policy.Read.B2BManagementPolicy |
//! | [`GraphClient::cross_tenant_default`] | `GET /policies/crossTenantAccessPolicy/default` | Policy.Read.All |
//! | [`GraphClient::cross_tenant_partners`] | `GET /policies/crossTenantAccessPolicy/partners/{tenantId}`, batched; 404: not configured | Policy.Read.All |
//! | [`GraphClient::email_authentication_method`] | `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email` | Policy.Read.AuthenticationMethod |
//! | [`GraphClient::find_tenants_by_domain`] | `GET /tenantRelationships/findTenantInformationByDomainName(domainName='…')`, batched; 404: no tenant | CrossTenantInformation.ReadBasic.All |
//! | [`GraphClient::each_role_eligibility_page`], [`GraphClient::role_eligibility_url`] | `GET /roleManagement/directory/roleEligibilityScheduleInstances?$expand=roleDefinition` | RoleEligibilitySchedule.Read.Directory |
//! | [`GraphClient::role_assignable_groups`], [`GraphClient::group_relationship_url`] | `GET /groups?$filter=isAssignableToRole eq true`, `/groups/{id}/members`, `/groups/{id}/owners` | GroupMember.Read.All |
//!
//! A partner's `null` settings inherit the default's: the types keep `null` as `None` so
//! that the caller can resolve them.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::GraphClient;
use crate::error::GraphError;
use crate::model::{BatchRequest, DirectoryObject};
use crate::odata::{ListQuery, odata_string, set_query};
use crate::users::non_empty;

/// `microsoft.graph.authorizationPolicy`, the one property the pre-flight reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicy {
    /// Who may invite guests: `none`, `adminsAndGuestInviters`,
    /// `adminsGuestInvitersAndAllMembers` or `everyone`.
    pub allow_invites_from: Option<String>,
}

/// `microsoft.graph.b2bManagementPolicy` (beta): the B2B allow or deny list lives in
/// its `definition` JSON strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct B2bManagementPolicy {
    /// Policy id.
    #[serde(default)]
    pub id: String,
    /// JSON documents, as strings (`{"B2BManagementPolicy":{…}}`).
    #[serde(default)]
    pub definition: Option<Vec<String>>,
    /// Whether it is the organisation's default policy.
    pub is_organization_default: Option<bool>,
}

/// One target of a cross-tenant access setting (`crossTenantAccessPolicyTarget`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantAccessPolicyTarget {
    /// An object id, `AllUsers`, `AllApplications`, `Office365` or `AllMicrosoftApps`.
    pub target: Option<String>,
    /// `user`, `group` or `application`.
    pub target_type: Option<String>,
}

/// `crossTenantAccessPolicyTargetConfiguration`: who a setting allows or blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantAccessPolicyTargetConfiguration {
    /// `allowed` or `blocked`.
    pub access_type: Option<String>,
    /// The targets; with `blocked`, everyone *outside* them is allowed.
    #[serde(default)]
    pub targets: Option<Vec<CrossTenantAccessPolicyTarget>>,
}

/// `crossTenantAccessPolicyB2BSetting`: users and groups, and applications.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantAccessPolicyB2BSetting {
    /// Which of the partner's users and groups; `None`: inherited.
    pub users_and_groups: Option<CrossTenantAccessPolicyTargetConfiguration>,
    /// Which of this tenant's applications; `None`: inherited.
    pub applications: Option<CrossTenantAccessPolicyTargetConfiguration>,
}

/// `inboundOutboundPolicyConfiguration` (automatic user consent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundOutboundPolicyConfiguration {
    /// Inbound: the partner's users redeem without the consent prompt (if the partner
    /// allows it outbound too).
    pub inbound_allowed: Option<bool>,
    /// Outbound.
    pub outbound_allowed: Option<bool>,
}

/// `defaultInvitationRedemptionIdentityProviderConfiguration`: the redemption order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRedemptionIdentityProviderConfiguration {
    /// `azureActiveDirectory`, `externalFederation`, `socialIdentityProviders`, in order.
    #[serde(default)]
    pub primary_identity_provider_precedence_order: Option<Vec<String>>,
    /// `defaultConfiguredIdp`, `emailOneTimePasscode` or `microsoftAccount`.
    pub fallback_identity_provider: Option<String>,
}

/// A cross-tenant access configuration: the default
/// (`crossTenantAccessPolicyConfigurationDefault`) or a partner's
/// (`crossTenantAccessPolicyConfigurationPartner`), the properties the pre-flight reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantAccessPolicyConfiguration {
    /// The partner's tenant id (partners only).
    pub tenant_id: Option<String>,
    /// Automatic redemption settings; `None` (or `null` inside): inherited.
    pub automatic_user_consent_settings: Option<InboundOutboundPolicyConfiguration>,
    /// Inbound B2B collaboration; `None`: inherited.
    pub b2b_collaboration_inbound: Option<CrossTenantAccessPolicyB2BSetting>,
    /// The redemption order (the default only).
    pub invitation_redemption_identity_provider_configuration:
        Option<InvitationRedemptionIdentityProviderConfiguration>,
}

/// `emailAuthenticationMethodConfiguration`: email one-time passcode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailAuthenticationMethodConfiguration {
    /// `enabled` or `disabled`.
    pub state: Option<String>,
    /// `default`, `enabled` or `disabled`: whether external users may use it.
    pub allow_external_id_to_use_email_otp: Option<String>,
}

/// `tenantInformation`: the Entra tenant that verified a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInformation {
    /// Tenant id.
    #[serde(default)]
    pub tenant_id: String,
    /// The organisation's name.
    pub display_name: Option<String>,
    /// Its default domain.
    pub default_domain_name: Option<String>,
    /// Its federation brand name.
    pub federation_brand_name: Option<String>,
}

/// A role definition as `$expand=roleDefinition` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// Definition id (the template id for built-in roles).
    #[serde(default)]
    pub id: String,
    /// `User Administrator`, ….
    pub display_name: Option<String>,
}

/// `unifiedRoleEligibilityScheduleInstance`: a PIM eligibility.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleEligibilityScheduleInstance {
    /// Instance id.
    #[serde(default)]
    pub id: String,
    /// The eligible user or role-assignable group.
    #[serde(default)]
    pub principal_id: String,
    /// The role's definition id.
    pub role_definition_id: Option<String>,
    /// The role, when expanded.
    pub role_definition: Option<RoleDefinition>,
}

impl GraphClient {
    /// `{graph_root}beta/{segments…}`: the beta API, for the one read v1.0 lacks.
    fn beta_url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoints().graph_root().clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push("beta").extend(segments);
        }
        url
    }

    /// A URL under the version root with `pairs` as its query, relative to the root, as
    /// a `$batch` item takes it.
    fn relative(&self, segments: &[&str], pairs: &[(&str, String)]) -> String {
        let mut url = self.url(segments);
        set_query(&mut url, pairs);
        let root = self.url(&[]);
        let base = root.path().trim_end_matches('/');
        let path = url.path().strip_prefix(base).unwrap_or(url.path());
        match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }

    /// `GET /policies/authorizationPolicy?$select=allowInvitesFrom`.
    pub async fn authorization_policy(&self) -> Result<AuthorizationPolicy, GraphError> {
        let mut url = self.url(&["policies", "authorizationPolicy"]);
        set_query(&mut url, &[("$select", "allowInvitesFrom".to_owned())]);
        self.get_json(url).await
    }

    /// `GET /beta/policies/b2bManagementPolicies`: the B2B allow/deny list (beta only;
    /// empty when the tenant has none).
    pub async fn b2b_management_policies(&self) -> Result<Vec<B2bManagementPolicy>, GraphError> {
        self.get_all(self.beta_url(&["policies", "b2bManagementPolicies"]), false)
            .await
    }

    /// `GET /policies/crossTenantAccessPolicy/default`.
    pub async fn cross_tenant_default(
        &self,
    ) -> Result<CrossTenantAccessPolicyConfiguration, GraphError> {
        self.get_json(self.url(&["policies", "crossTenantAccessPolicy", "default"]))
            .await
    }

    /// `GET /policies/crossTenantAccessPolicy/partners/{tenantId}` for each tenant, twenty
    /// to a `$batch`; per tenant `Ok(None)` when it has no partner configuration (404).
    pub async fn cross_tenant_partners(
        &self,
        tenant_ids: &[String],
    ) -> Result<Vec<Result<Option<CrossTenantAccessPolicyConfiguration>, GraphError>>, GraphError>
    {
        for id in tenant_ids {
            non_empty(id, "tenant id")?;
        }
        let urls: Vec<String> = tenant_ids
            .iter()
            .map(|id| {
                self.relative(
                    &["policies", "crossTenantAccessPolicy", "partners", id],
                    &[],
                )
            })
            .collect();
        self.get_objects(&urls).await
    }

    /// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email`.
    pub async fn email_authentication_method(
        &self,
    ) -> Result<EmailAuthenticationMethodConfiguration, GraphError> {
        self.get_json(self.url(&[
            "policies",
            "authenticationMethodsPolicy",
            "authenticationMethodConfigurations",
            "email",
        ]))
        .await
    }

    /// `findTenantInformationByDomainName` for each domain, twenty to a `$batch`; per
    /// domain `Ok(None)` when no Entra tenant verified it (404).
    pub async fn find_tenants_by_domain(
        &self,
        domains: &[String],
    ) -> Result<Vec<Result<Option<TenantInformation>, GraphError>>, GraphError> {
        for domain in domains {
            non_empty(domain, "domain")?;
        }
        let urls: Vec<String> = domains
            .iter()
            .map(|domain| {
                let function = format!(
                    "findTenantInformationByDomainName(domainName={})",
                    odata_string(domain)
                );
                self.relative(&["tenantRelationships", &function], &[])
            })
            .collect();
        self.get_objects(&urls).await
    }

    /// The URL (relative to the version root, for `$batch`) of the role eligibilities of
    /// `principal_id` (all of them with `None`), each with its role definition.
    pub fn role_eligibility_url(&self, principal_id: Option<&str>, top: Option<u32>) -> String {
        let mut pairs = Vec::new();
        if let Some(id) = principal_id {
            pairs.push(("$filter", format!("principalId eq {}", odata_string(id))));
        }
        pairs.push(("$expand", "roleDefinition".to_owned()));
        if let Some(top) = top {
            pairs.push(("$top", top.to_string()));
        }
        self.relative(
            &[
                "roleManagement",
                "directory",
                "roleEligibilityScheduleInstances",
            ],
            &pairs,
        )
    }

    /// Every PIM role eligibility of the tenant, with its role definition, one page at a
    /// time (`$top=999`).
    pub async fn each_role_eligibility_page(
        &self,
        f: &mut (dyn FnMut(Vec<RoleEligibilityScheduleInstance>) + Send),
    ) -> Result<(), GraphError> {
        let mut url = self.url(&[
            "roleManagement",
            "directory",
            "roleEligibilityScheduleInstances",
        ]);
        set_query(
            &mut url,
            &[
                ("$expand", "roleDefinition".to_owned()),
                ("$top", "999".to_owned()),
            ],
        );
        self.each_page(url, false, f).await
    }

    /// `GET /groups?$filter=isAssignableToRole eq true` (id and display name), all pages.
    pub async fn role_assignable_groups(&self) -> Result<Vec<DirectoryObject>, GraphError> {
        let query = ListQuery::new()
            .filter("isAssignableToRole eq true")
            .select(&["id", "displayName"])
            .top(999);
        self.list_groups(&query).await
    }

    /// The URL (relative to the version root, for `$batch`) of a group's `members` or
    /// `owners` (`relationship`), ids only.
    pub fn group_relationship_url(&self, group_id: &str, relationship: &str) -> String {
        self.relative(
            &["groups", group_id, relationship],
            &[("$select", "id".to_owned()), ("$top", "999".to_owned())],
        )
    }

    /// Reads single objects (`GET` URLs relative to the version root) through `$batch`,
    /// twenty per call. One result per URL, in order: `Ok(None)` for a 404, a failed
    /// item's own `Err`.
    pub async fn get_objects<T: serde::de::DeserializeOwned>(
        &self,
        urls: &[String],
    ) -> Result<Vec<Result<Option<T>, GraphError>>, GraphError> {
        let mut out = Vec::with_capacity(urls.len());
        for chunk in urls.chunks(crate::batch::MAX_BATCH) {
            let requests = chunk
                .iter()
                .enumerate()
                .map(|(i, url)| BatchRequest::get(i.to_string(), url.clone()))
                .collect();
            let responses = self.batch(requests).await?;
            let now = self.options().clock.now();
            for (url, response) in chunk.iter().zip(responses) {
                let path = url.split('?').next().unwrap_or(url).to_owned();
                out.push(crate::batch::object_from_batch(response, path, now));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_configuration_keeps_nulls_as_inherited() {
        let config: CrossTenantAccessPolicyConfiguration = serde_json::from_value(serde_json::json!({
            "tenantId": "c1000000-0000-4000-8000-000000000008",
            "automaticUserConsentSettings": {"inboundAllowed": null, "outboundAllowed": null},
            "b2bCollaborationInbound": {
                "usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]},
                "applications": null
            },
            "tenantRestrictions": null
        }))
        .unwrap();
        let inbound = config.b2b_collaboration_inbound.unwrap();
        assert_eq!(
            inbound.users_and_groups.unwrap().access_type.as_deref(),
            Some("blocked")
        );
        assert!(inbound.applications.is_none());
        assert_eq!(
            config
                .automatic_user_consent_settings
                .unwrap()
                .inbound_allowed,
            None
        );
    }

    #[test]
    fn urls_are_relative_and_quoted() {
        let endpoints = crate::Endpoints::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
            Url::parse("http://127.0.0.1:1").unwrap(),
        )
        .unwrap();
        let client = GraphClient::with_client_secret(
            endpoints,
            "t",
            "c",
            secrecy::SecretString::from("s"),
            crate::ClientOptions::default(),
        )
        .unwrap();
        assert_eq!(
            client.role_eligibility_url(Some("u1"), None),
            "/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId%20eq%20%27u1%27&$expand=roleDefinition"
        );
        assert_eq!(
            client.group_relationship_url("g1", "owners"),
            "/groups/g1/owners?$select=id&$top=999"
        );
        assert_eq!(
            client
                .beta_url(&["policies", "b2bManagementPolicies"])
                .as_str(),
            "http://127.0.0.1:1/beta/policies/b2bManagementPolicies"
        );
    }
}
