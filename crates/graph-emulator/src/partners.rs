//! The partner organisations the emulator knows about: other Entra tenants and the domains
//! they verified (the tenant file's `partnerTenants`). They answer
//! `findTenantInformationByDomainName` ([`crate::routes::tenant_relationships`]), decide
//! which cross-tenant access configuration applies to an invited address
//! ([`crate::routes::invitations`]), and which sign-in the redemption page acts out
//! ([`crate::policy::redemption`]).
//!
//! Shape: `[{"tenantId", "displayName", "defaultDomainName", "federationBrandName"?,
//! "domains": [..]}]`, the four first being Graph's `tenantInformation` properties
//! (GD v1.0/resources/tenantinformation.md). A partner is found by any of its `domains` or
//! its `defaultDomainName`, case-insensitively; every other domain has no Entra tenant.
//!
//! Choices (stricter, or where Microsoft documents nothing):
//! - Graph's parameter is documented as the *primary* domain, but its example resolves
//!   `contoso.com` to `CONTOSO18839.onmicrosoft.com`, so any verified domain resolves here.
//! - Every address in a partner's domain is taken to have an account in that tenant
//!   (Entra's discovery is per user; the emulator knows no partner users).
//! - Validation: GUID tenant ids, unique, not the tenant's own; domain names well formed,
//!   each claimed by one partner only and never one of the tenant's own verified domains;
//!   unknown fields are refused.
//! - Without the section the emulator does not model partners at all (see
//!   [`crate::policy::redemption`]); `[]` models a world where no domain has a tenant.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::tenant::{Invalid, invalid, is_domain_name};

/// One partner organisation's Entra tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerTenant {
    /// Its tenant id.
    pub tenant_id: String,
    /// Its display name ("Fabrikam, Ltd").
    pub display_name: String,
    /// Its default domain (often `*.onmicrosoft.com`).
    pub default_domain_name: String,
    /// Its federation brand name, when it has one.
    #[serde(default)]
    pub federation_brand_name: Option<String>,
    /// The other domains it verified.
    pub domains: Vec<String>,
}

impl PartnerTenant {
    /// Whether `domain` (any case) is one of this tenant's domains.
    pub fn owns(&self, domain: &str) -> bool {
        self.default_domain_name.eq_ignore_ascii_case(domain)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Graph's `tenantInformation` for this tenant (without `@odata.context`).
    pub fn tenant_information(&self) -> Value {
        json!({
            "tenantId": self.tenant_id,
            "federationBrandName": self.federation_brand_name,
            "displayName": self.display_name,
            "defaultDomainName": self.default_domain_name,
        })
    }
}

/// The partner tenant that verified `domain`, if any.
pub fn find<'a>(partners: &'a [PartnerTenant], domain: &str) -> Option<&'a PartnerTenant> {
    partners.iter().find(|p| p.owns(domain))
}

/// Parses and checks the `partnerTenants` section; `None` when it is absent.
pub fn parse(
    value: Option<Value>,
    own_tenant_id: &str,
    own_domains: &[String],
) -> Result<Option<Vec<PartnerTenant>>, Invalid> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("partnerTenants", "expected an array")),
    };
    let mut out: Vec<PartnerTenant> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let here = format!("partnerTenants[{i}]");
        let partner: PartnerTenant =
            serde_json::from_value(item).map_err(|e| invalid(&here, e.to_string()))?;
        if uuid::Uuid::parse_str(&partner.tenant_id).is_err() {
            return Err(invalid(format!("{here}.tenantId"), "not a GUID"));
        }
        if partner.tenant_id.eq_ignore_ascii_case(own_tenant_id) {
            return Err(invalid(
                format!("{here}.tenantId"),
                "the tenant's own id: a partner is another tenant",
            ));
        }
        if out
            .iter()
            .any(|p| p.tenant_id.eq_ignore_ascii_case(&partner.tenant_id))
        {
            return Err(invalid(
                format!("{here}.tenantId"),
                format!("duplicate tenant id {:?}", partner.tenant_id),
            ));
        }
        if partner.display_name.trim().is_empty() {
            return Err(invalid(format!("{here}.displayName"), "must not be empty"));
        }
        let names = std::iter::once(("defaultDomainName".to_owned(), &partner.default_domain_name))
            .chain(
                partner
                    .domains
                    .iter()
                    .enumerate()
                    .map(|(j, d)| (format!("domains[{j}]"), d)),
            );
        for (field, domain) in names {
            let at = format!("{here}.{field}");
            if !is_domain_name(domain) {
                return Err(invalid(at, format!("{domain:?} is not a domain name")));
            }
            if own_domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                return Err(invalid(
                    at,
                    format!("{domain:?} is one of the tenant's own verified domains"),
                ));
            }
            if out.iter().any(|p| p.owns(domain)) {
                return Err(invalid(
                    at,
                    format!("{domain:?} is already a domain of another partner tenant"),
                ));
            }
            let earlier = partner
                .domains
                .iter()
                .filter(|d| d.eq_ignore_ascii_case(domain))
                .count()
                + usize::from(partner.default_domain_name.eq_ignore_ascii_case(domain));
            if earlier > 1 {
                return Err(invalid(at, format!("duplicate domain {domain:?}")));
            }
        }
        out.push(partner);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";

    fn own() -> Vec<String> {
        vec!["contoso.onmicrosoft.com".into(), "contoso.com".into()]
    }

    fn fabrikam() -> Value {
        json!({"tenantId": "11111111-1111-4111-8111-111111111111", "displayName": "Fabrikam",
               "defaultDomainName": "fabrikam.onmicrosoft.com", "domains": ["fabrikam.com"]})
    }

    fn err(v: Value) -> String {
        let (path, message) = parse(Some(v), OWN, &own()).unwrap_err();
        format!("{path}: {message}")
    }

    #[test]
    fn finds_partners_by_any_domain_in_any_case() {
        let partners = parse(Some(json!([fabrikam()])), OWN, &own())
            .unwrap()
            .unwrap();
        assert!(find(&partners, "FABRIKAM.com").is_some());
        assert!(find(&partners, "fabrikam.onmicrosoft.com").is_some());
        assert!(find(&partners, "sub.fabrikam.com").is_none());
        assert_eq!(
            partners[0].tenant_information()["federationBrandName"],
            Value::Null
        );
        assert_eq!(parse(None, OWN, &own()).unwrap(), None);
    }

    #[test]
    fn refuses_bad_entries_by_path() {
        let mut v = fabrikam();
        v["tenantId"] = json!(OWN);
        assert!(err(json!([v])).starts_with("partnerTenants[0].tenantId: the tenant's own id"));
        let mut v = fabrikam();
        v["domains"] = json!(["contoso.com"]);
        assert!(
            err(json!([v])).starts_with("partnerTenants[0].domains[0]: \"contoso.com\" is one of")
        );
        let mut other = fabrikam();
        other["tenantId"] = json!("22222222-2222-4222-8222-222222222222");
        other["defaultDomainName"] = json!("other.onmicrosoft.com");
        other["domains"] = json!(["Fabrikam.com"]);
        assert!(
            err(json!([fabrikam(), other]))
                .starts_with("partnerTenants[1].domains[0]: \"Fabrikam.com\" is already")
        );
        let mut v = fabrikam();
        v["domains"] = json!(["a b"]);
        assert!(err(json!([v])).contains("is not a domain name"));
        let mut v = fabrikam();
        v["colour"] = json!(1);
        assert!(err(json!([v])).starts_with("partnerTenants[0]: unknown field `colour`"));
        assert!(err(json!([fabrikam(), fabrikam()])).contains("duplicate tenant id"));
    }
}
