//! The tenant's external-collaboration policies (the tenant file's `policies`): the
//! authorization policy's `allowInvitesFrom`, cross-tenant access settings, the email OTP
//! method, and the B2B allow/deny list. The emulator serves them Graph-shaped
//! ([`crate::routes::policies`]), refuses invitations by them
//! ([`crate::routes::invitations`]) and acts out redemption by them ([`redemption`]).
//! Tests change them while running (`PUT`/`PATCH /_emulator/policies`).
//!
//! Shape, every property named as Graph names it:
//! `{"authorizationPolicy": {authorizationPolicy properties},
//!   "crossTenantAccessPolicy": {"default": {crossTenantAccessPolicyConfigurationDefault
//!   properties}, "partners": [{"tenantId", crossTenantAccessPolicyConfigurationPartner
//!   properties}]},
//!   "emailAuthenticationMethodConfiguration": {emailAuthenticationMethodConfiguration
//!   properties}, "b2bManagementPolicy": {"definition": ["<JSON>"], ...}}`.
//! Every part is optional: what is left out is Microsoft's documented default
//! ([`defaults`]), so a tenant file without the section behaves as a fresh tenant (anyone
//! may be invited, no list, cross-tenant access allowed, OTP on). A given object is laid
//! over the default property by property (a complex property is replaced whole).
//!
//! Checks: each object against Microsoft's v1.0 schema (unknown properties, wrong types
//! and navigation properties such as `includeTargets` are refused, naming the JSON path),
//! the target lists of cross-tenant settings ([`cross_tenant::check`]), the list
//! ([`b2b_list::parse`]). Stricter: `id` may only be the fixed one Graph uses
//! (`authorizationPolicy`, `Email`); `unknownFutureValue` is refused as a setting;
//! partner tenant ids must be GUIDs and unique; the default's
//! `automaticUserConsentSettings.inboundAllowed` can only be `false` (read-only there);
//! the redemption order may only name the three primary providers, each once, and the
//! fallback one of the three documented values. `isServiceDefault` is computed (`true`
//! while the default equals the service default); a given value is ignored, so a state
//! document's `policies` can be sent back as is.

pub mod b2b_list;
pub mod cross_tenant;
pub mod defaults;
pub mod redemption;

use serde_json::{Map, Value, json};

use crate::schema::schema;
use crate::tenant::{Invalid, invalid};
use b2b_list::{B2bManagementPolicy, DomainVerdict};
use cross_tenant::Inbound;

const SECTIONS: &[&str] = &[
    "authorizationPolicy",
    "crossTenantAccessPolicy",
    "emailAuthenticationMethodConfiguration",
    "b2bManagementPolicy",
];

const PRIMARY_PROVIDERS: &[&str] = &[
    "azureActiveDirectory",
    "externalFederation",
    "socialIdentityProviders",
];
const FALLBACK_PROVIDERS: &[&str] = &[
    "defaultConfiguredIdp",
    "emailOneTimePasscode",
    "microsoftAccount",
];

/// The tenant's policies, as Graph serves them.
#[derive(Debug, Clone, PartialEq)]
pub struct Policies {
    authorization: Map<String, Value>,
    cross_tenant_default: Map<String, Value>,
    partners: Vec<Map<String, Value>>,
    email: Map<String, Value>,
    b2b: Option<B2bManagementPolicy>,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            authorization: defaults::authorization_policy(),
            cross_tenant_default: defaults::cross_tenant_default(),
            partners: Vec::new(),
            email: defaults::email_method(),
            b2b: None,
        }
    }
}

impl Policies {
    /// Parses the tenant file's `policies` (absent: every default).
    pub fn parse(value: Option<&Value>) -> Result<Self, Invalid> {
        match value {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(v) => Self::default().patched(v, "policies"),
        }
    }

    /// These policies with the sections `value` names replaced (each rebuilt from its
    /// default and the given object; `null` restores the default). `path` prefixes errors.
    pub fn patched(&self, value: &Value, path: &str) -> Result<Self, Invalid> {
        let Value::Object(given) = value else {
            return Err(invalid(path, "expected an object"));
        };
        if let Some(key) = given.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(invalid(
                format!("{path}.{key}"),
                format!("not a policy the emulator serves ({})", SECTIONS.join(", ")),
            ));
        }
        let mut out = self.clone();
        for (key, section) in given {
            let here = format!("{path}.{key}");
            let section = (!section.is_null()).then_some(section);
            match key.as_str() {
                "authorizationPolicy" => out.authorization = authorization(section, &here)?,
                "crossTenantAccessPolicy" => {
                    (out.cross_tenant_default, out.partners) = cross_tenant(section, &here)?;
                }
                "emailAuthenticationMethodConfiguration" => out.email = email(section, &here)?,
                _ => {
                    out.b2b = section.map(|s| b2b_list::parse(s, &here)).transpose()?;
                }
            }
        }
        Ok(out)
    }

    /// The whole section as the state document shows it (defaults filled in); it can be
    /// sent back to `PUT /_emulator/policies`.
    pub fn to_json(&self) -> Value {
        json!({
            "authorizationPolicy": self.authorization,
            "crossTenantAccessPolicy": {
                "default": self.cross_tenant_default,
                "partners": self.partners,
            },
            "emailAuthenticationMethodConfiguration": self.email,
            "b2bManagementPolicy": self.b2b.as_ref().map(|b| {
                let mut o = b.object.clone();
                o.remove("deletedDateTime");
                o
            }),
        })
    }

    /// `GET /policies/authorizationPolicy`.
    pub fn authorization_policy(&self) -> &Map<String, Value> {
        &self.authorization
    }

    /// `GET /policies/crossTenantAccessPolicy/default`.
    pub fn cross_tenant_default(&self) -> &Map<String, Value> {
        &self.cross_tenant_default
    }

    /// The partner configurations, in file order.
    pub fn partners(&self) -> &[Map<String, Value>] {
        &self.partners
    }

    /// The configuration for partner tenant `tenant_id`, if there is one.
    pub fn partner(&self, tenant_id: &str) -> Option<&Map<String, Value>> {
        self.partners.iter().find(|p| {
            p.get("tenantId")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(tenant_id))
        })
    }

    /// The email OTP method configuration.
    pub fn email_method(&self) -> &Map<String, Value> {
        &self.email
    }

    /// The B2B management policy, when the tenant has one.
    pub fn b2b_management(&self) -> Option<&B2bManagementPolicy> {
        self.b2b.as_ref()
    }

    /// `allowInvitesFrom` (`everyone` by default).
    pub fn allow_invites_from(&self) -> &str {
        self.authorization
            .get("allowInvitesFrom")
            .and_then(Value::as_str)
            .unwrap_or("everyone")
    }

    /// What the B2B allow/deny list says about `domain`.
    pub fn domain_verdict(&self, domain: &str) -> DomainVerdict {
        self.b2b
            .as_ref()
            .map_or(DomainVerdict::Allowed, |b| b.verdict(domain))
    }

    /// What the inbound B2B collaboration settings say about partner tenant `tenant_id`.
    pub fn inbound(&self, tenant_id: &str) -> Inbound {
        cross_tenant::b2b_collaboration_inbound(&self.cross_tenant_default, self.partner(tenant_id))
    }

    /// Whether external users can get an email one-time passcode (see [`redemption`]).
    pub fn otp_available(&self) -> bool {
        let text = |k: &str| self.email.get(k).and_then(Value::as_str);
        text("state") == Some("enabled")
            && matches!(
                text("allowExternalIdToUseEmailOtp"),
                Some("enabled" | "default")
            )
    }

    /// The redemption order: the primary identity providers and the fallback.
    pub fn redemption_order(&self) -> (Vec<&str>, &str) {
        let config = self
            .cross_tenant_default
            .get("invitationRedemptionIdentityProviderConfiguration");
        let order = config
            .and_then(|c| c.get("primaryIdentityProviderPrecedenceOrder"))
            .and_then(Value::as_array)
            .map(|o| o.iter().filter_map(Value::as_str).collect())
            .unwrap_or_else(|| PRIMARY_PROVIDERS.to_vec());
        let fallback = config
            .and_then(|c| c.get("fallbackIdentityProvider"))
            .and_then(Value::as_str)
            .unwrap_or("defaultConfiguredIdp");
        (order, fallback)
    }
}

/// Checks `value` against a schema type and returns it as an object.
fn typed(value: &Value, type_name: &str, path: &str) -> Result<Map<String, Value>, Invalid> {
    schema()
        .validate_object(type_name, value, path, false)
        .map_err(|e| invalid(e.path, e.message))?;
    value
        .as_object()
        .cloned()
        .ok_or_else(|| invalid(path, "expected an object"))
}

fn no_future_value(object: &Map<String, Value>, keys: &[&str], path: &str) -> Result<(), Invalid> {
    for key in keys {
        if object.get(*key).and_then(Value::as_str) == Some("unknownFutureValue") {
            return Err(invalid(
                format!("{path}.{key}"),
                "unknownFutureValue is not a setting",
            ));
        }
    }
    Ok(())
}

fn fixed_id(object: &Map<String, Value>, id: &str, path: &str) -> Result<(), Invalid> {
    match object.get("id") {
        None => Ok(()),
        Some(Value::String(s)) if s == id => Ok(()),
        Some(_) => Err(invalid(format!("{path}.id"), format!("can only be {id:?}"))),
    }
}

fn authorization(section: Option<&Value>, path: &str) -> Result<Map<String, Value>, Invalid> {
    let mut out = defaults::authorization_policy();
    if let Some(section) = section {
        let given = typed(section, "microsoft.graph.authorizationPolicy", path)?;
        fixed_id(&given, "authorizationPolicy", path)?;
        no_future_value(&given, &["allowInvitesFrom"], path)?;
        out.extend(given);
    }
    Ok(out)
}

fn email(section: Option<&Value>, path: &str) -> Result<Map<String, Value>, Invalid> {
    let mut out = defaults::email_method();
    if let Some(section) = section {
        let given = typed(
            section,
            "microsoft.graph.emailAuthenticationMethodConfiguration",
            path,
        )?;
        fixed_id(&given, "Email", path)?;
        no_future_value(&given, &["allowExternalIdToUseEmailOtp"], path)?;
        out.extend(given);
    }
    Ok(out)
}

type CrossTenant = (Map<String, Value>, Vec<Map<String, Value>>);

fn cross_tenant(section: Option<&Value>, path: &str) -> Result<CrossTenant, Invalid> {
    let mut default = defaults::cross_tenant_default();
    let Some(section) = section else {
        return Ok((default, Vec::new()));
    };
    let Value::Object(section) = section else {
        return Err(invalid(path, "expected an object"));
    };
    if let Some(key) = section.keys().find(|k| *k != "default" && *k != "partners") {
        return Err(invalid(
            format!("{path}.{key}"),
            "only \"default\" and \"partners\" are served",
        ));
    }
    if let Some(given) = section.get("default").filter(|v| !v.is_null()) {
        let here = format!("{path}.default");
        let mut given = given.clone();
        if let Some(object) = given.as_object_mut() {
            object.remove("isServiceDefault");
        }
        let given = typed(
            &given,
            "microsoft.graph.crossTenantAccessPolicyConfigurationDefault",
            &here,
        )?;
        cross_tenant::check(&given, &here, true)?;
        if given
            .get("automaticUserConsentSettings")
            .and_then(|s| s.get("inboundAllowed"))
            == Some(&Value::Bool(true))
        {
            return Err(invalid(
                format!("{here}.automaticUserConsentSettings.inboundAllowed"),
                "read-only false in the default configuration",
            ));
        }
        check_redemption_order(&given, &here)?;
        default.extend(given);
        let unchanged = default == defaults::cross_tenant_default();
        default.insert("isServiceDefault".into(), Value::Bool(unchanged));
    }
    let mut partners: Vec<Map<String, Value>> = Vec::new();
    match section.get("partners") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}.partners[{i}]");
                let given = typed(
                    item,
                    "microsoft.graph.crossTenantAccessPolicyConfigurationPartner",
                    &here,
                )?;
                let tenant_id = given
                    .get("tenantId")
                    .and_then(Value::as_str)
                    .filter(|t| uuid::Uuid::parse_str(t).is_ok())
                    .ok_or_else(|| invalid(format!("{here}.tenantId"), "missing or not a GUID"))?;
                let duplicate = partners.iter().any(|p| {
                    p.get("tenantId")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case(tenant_id))
                });
                if duplicate {
                    return Err(invalid(
                        format!("{here}.tenantId"),
                        format!("a second configuration for tenant {tenant_id:?}"),
                    ));
                }
                cross_tenant::check(&given, &here, false)?;
                let mut partner = defaults::cross_tenant_partner(tenant_id);
                partner.extend(given);
                partners.push(partner);
            }
        }
        Some(_) => return Err(invalid(format!("{path}.partners"), "expected an array")),
    }
    Ok((default, partners))
}

fn check_redemption_order(config: &Map<String, Value>, path: &str) -> Result<(), Invalid> {
    let Some(order) = config.get("invitationRedemptionIdentityProviderConfiguration") else {
        return Ok(());
    };
    let here = format!("{path}.invitationRedemptionIdentityProviderConfiguration");
    let mut seen = Vec::new();
    for (i, provider) in order
        .get("primaryIdentityProviderPrecedenceOrder")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = provider.as_str().unwrap_or("");
        if !PRIMARY_PROVIDERS.contains(&name) || seen.contains(&name) {
            return Err(invalid(
                format!("{here}.primaryIdentityProviderPrecedenceOrder[{i}]"),
                format!("each of {} at most once", PRIMARY_PROVIDERS.join(", ")),
            ));
        }
        seen.push(name);
    }
    match order.get("fallbackIdentityProvider") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_str().is_some_and(|f| FALLBACK_PROVIDERS.contains(&f)) => Ok(()),
        Some(_) => Err(invalid(
            format!("{here}.fallbackIdentityProvider"),
            format!("one of {}", FALLBACK_PROVIDERS.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(v: Value) -> String {
        let (path, message) = Policies::parse(Some(&v)).unwrap_err();
        format!("{path}: {message}")
    }

    #[test]
    fn absent_means_microsofts_defaults() {
        let p = Policies::parse(None).unwrap();
        assert_eq!(p.allow_invites_from(), "everyone");
        assert!(p.otp_available());
        assert_eq!(p.cross_tenant_default()["isServiceDefault"], true);
        assert_eq!(p.domain_verdict("x.com"), DomainVerdict::Allowed);
        assert_eq!(
            p.inbound("11111111-1111-4111-8111-111111111111"),
            Inbound::Allowed
        );
        assert_eq!(
            p.redemption_order(),
            (PRIMARY_PROVIDERS.to_vec(), "defaultConfiguredIdp")
        );
        assert_eq!(p.to_json()["b2bManagementPolicy"], Value::Null);
    }

    #[test]
    fn given_properties_lay_over_the_defaults() {
        let p = Policies::parse(Some(&json!({
            "authorizationPolicy": {"allowInvitesFrom": "none"},
            "crossTenantAccessPolicy": {
                "default": {"isServiceDefault": true, "automaticUserConsentSettings": {"inboundAllowed": false, "outboundAllowed": true}},
                "partners": [{"tenantId": "11111111-1111-4111-8111-111111111111",
                              "automaticUserConsentSettings": {"inboundAllowed": true, "outboundAllowed": null}}]
            }
        })))
        .unwrap();
        assert_eq!(p.allow_invites_from(), "none");
        assert_eq!(p.authorization_policy()["allowedToUseSSPR"], true);
        assert_eq!(p.cross_tenant_default()["isServiceDefault"], false);
        let partner = p.partner("11111111-1111-4111-8111-111111111111").unwrap();
        assert_eq!(partner["b2bCollaborationInbound"], Value::Null);
        assert_eq!(
            partner["automaticUserConsentSettings"]["inboundAllowed"],
            true
        );
        // The state document's section goes back in unchanged.
        let again = Policies::parse(Some(&p.to_json())).unwrap();
        assert_eq!(again, p);
        // PATCH semantics: only the named sections change; null restores the default.
        let q = p
            .patched(&json!({"authorizationPolicy": null}), "policies")
            .unwrap();
        assert_eq!(q.allow_invites_from(), "everyone");
        assert_eq!(q.partners().len(), 1);
    }

    #[test]
    fn refusals_name_the_path() {
        assert!(
            err(json!({"authorizationPolicy": {"allowInvitesFrom": "nobody"}}))
                .starts_with("policies.authorizationPolicy.allowInvitesFrom: expected")
        );
        assert!(
            err(json!({"authorizationPolicy": {"allowInvitesFrom": "unknownFutureValue"}}))
                .contains("not a setting")
        );
        assert!(err(json!({"authorizationPolicy": {"id": "other"}})).contains("can only be"));
        assert!(err(json!({"emailAuthenticationMethodConfiguration": {"includeTargets": []}}))
            .starts_with("policies.emailAuthenticationMethodConfiguration.includeTargets: a navigation property"));
        assert!(
            err(json!({"crossTenantAccessPolicy": {"partners": [{"tenantId": "x"}]}}))
                .starts_with("policies.crossTenantAccessPolicy.partners[0].tenantId")
        );
        let partner = json!({"tenantId": "11111111-1111-4111-8111-111111111111"});
        assert!(
            err(json!({"crossTenantAccessPolicy": {"partners": [partner, partner]}}))
                .contains("a second configuration")
        );
        assert!(
            err(json!({"crossTenantAccessPolicy": {"default": {
            "automaticUserConsentSettings": {"inboundAllowed": true}}}}))
            .contains("read-only false")
        );
        assert!(
            err(json!({"crossTenantAccessPolicy": {"default": {
            "invitationRedemptionIdentityProviderConfiguration": {
                "primaryIdentityProviderPrecedenceOrder": ["emailOneTimePasscode"]}}}}))
            .contains("primaryIdentityProviderPrecedenceOrder[0]")
        );
        assert!(
            err(json!({"crossTenantAccessPolicy": {"templates": {}}}))
                .starts_with("policies.crossTenantAccessPolicy.templates")
        );
        assert!(err(json!({"conditionalAccess": {}})).starts_with("policies.conditionalAccess"));
    }
}
