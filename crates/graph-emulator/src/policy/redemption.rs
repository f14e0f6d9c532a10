//! Which way a partner redeems an invitation, and what stops them: the decision the
//! redemption page ([`crate::routes::redeem`]) acts out, from the partner tenants and the
//! tenant's policies as they are at the moment of redemption.
//!
//! The order (ED external-id/redemption-experience.md, "Invitation redemption flow", with
//! configurable redemption, redemption-facts.md §2 and §5):
//! 1. Refusals first: a domain the B2B allow/deny list now excludes fails ("If a user
//!    invitation is in a pending state, and you set a policy that blocks their domain,
//!    the user's attempt to redeem the invitation fails", ED external-id/allow-deny-list.md);
//!    a partner tenant the cross-tenant access settings now block fails with AADSTS500213
//!    (unconfirmed for pending invitations; stricter: also when the settings name
//!    particular users or groups of the partner, since the emulator can't tell whether the
//!    invitee is one of them).
//! 2. The primary identity providers, in `primaryIdentityProviderPrecedenceOrder`:
//!    `azureActiveDirectory` takes an address in a partner tenant's domain;
//!    `externalFederation` (SAML/WS-Fed) and `socialIdentityProviders` (Google) are not
//!    modelled: no domain is federated, none is a Google account.
//! 3. The fallback: `defaultConfiguredIdp` is an existing Microsoft account, then email
//!    one-time passcode when enabled, then a new Microsoft account; `emailOneTimePasscode`
//!    and `microsoftAccount` are just that.
//!
//! Choices where Microsoft documents nothing (stricter):
//! - The only existing Microsoft accounts are addresses in Microsoft's consumer domains
//!   ([`CONSUMER_DOMAINS`]).
//! - Email OTP is available when the email method's `state` is `enabled` *and*
//!   `allowExternalIdToUseEmailOtp` is `enabled` or `default` (which has meant enabled
//!   since October 2021).
//! - A new Microsoft account can't be created with an address in a partner tenant's
//!   (Entra-verified) domain ("We support creating an MSA with work emails in domains that
//!   aren't verified in Microsoft Entra ID"); with no other way in, redemption fails.

use super::Policies;
use super::b2b_list::DomainVerdict;
use super::cross_tenant::Inbound;
use crate::partners::PartnerTenant;

/// Microsoft's consumer domains: addresses there are Microsoft accounts.
pub const CONSUMER_DOMAINS: &[&str] = &["outlook.com", "hotmail.com", "live.com", "msn.com"];

/// How the partner signs in to redeem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedemptionPath {
    /// With their account in the partner's Entra tenant.
    EntraTenant,
    /// With a one-time passcode emailed to the invited address.
    OneTimePasscode,
    /// With a Microsoft account: their existing one, or one created with the address.
    MicrosoftAccount {
        /// Whether the account already exists.
        existing: bool,
    },
}

/// Why the partner can't redeem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedemptionRefusal {
    /// The B2B allow/deny list now excludes the invited domain.
    DomainBlocked(DomainVerdict),
    /// The cross-tenant access settings block the partner's tenant (AADSTS500213).
    CrossTenantAccessBlocked,
    /// No identity provider can take the invitee (OTP off, no account possible).
    NoIdentityProvider,
}

/// Whether `domain` is one of Microsoft's consumer domains.
pub fn is_consumer_domain(domain: &str) -> bool {
    CONSUMER_DOMAINS
        .iter()
        .any(|d| d.eq_ignore_ascii_case(domain))
}

/// How someone at `domain` (whose Entra tenant is `partner`, if any) redeems now.
pub fn predict(
    domain: &str,
    partner: Option<&PartnerTenant>,
    policies: &Policies,
) -> Result<RedemptionPath, RedemptionRefusal> {
    match policies.domain_verdict(domain) {
        DomainVerdict::Allowed => {}
        verdict => return Err(RedemptionRefusal::DomainBlocked(verdict)),
    }
    if let Some(partner) = partner
        && policies.inbound(&partner.tenant_id) != Inbound::Allowed
    {
        return Err(RedemptionRefusal::CrossTenantAccessBlocked);
    }
    let (order, fallback) = policies.redemption_order();
    if partner.is_some() && order.contains(&"azureActiveDirectory") {
        return Ok(RedemptionPath::EntraTenant);
    }
    let existing_msa = is_consumer_domain(domain);
    let otp = policies.otp_available();
    // A new MSA can't be made with an address in an Entra-verified domain.
    let new_msa_possible = partner.is_none();
    let path = match fallback {
        "emailOneTimePasscode" => otp.then_some(RedemptionPath::OneTimePasscode),
        "microsoftAccount" => {
            (existing_msa || new_msa_possible).then_some(RedemptionPath::MicrosoftAccount {
                existing: existing_msa,
            })
        }
        // defaultConfiguredIdp
        _ => {
            if existing_msa {
                Some(RedemptionPath::MicrosoftAccount { existing: true })
            } else if otp {
                Some(RedemptionPath::OneTimePasscode)
            } else {
                new_msa_possible.then_some(RedemptionPath::MicrosoftAccount { existing: false })
            }
        }
    };
    path.ok_or(RedemptionRefusal::NoIdentityProvider)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fabrikam() -> PartnerTenant {
        PartnerTenant {
            tenant_id: "11111111-1111-4111-8111-111111111111".into(),
            display_name: "Fabrikam".into(),
            default_domain_name: "fabrikam.onmicrosoft.com".into(),
            federation_brand_name: None,
            domains: vec!["fabrikam.com".into()],
        }
    }

    fn policies(v: serde_json::Value) -> Policies {
        Policies::default().patched(&v, "policies").unwrap()
    }

    #[test]
    fn default_order_entra_then_msa_then_otp() {
        let p = Policies::default();
        assert_eq!(
            predict("fabrikam.com", Some(&fabrikam()), &p),
            Ok(RedemptionPath::EntraTenant)
        );
        assert_eq!(
            predict("outlook.com", None, &p),
            Ok(RedemptionPath::MicrosoftAccount { existing: true })
        );
        assert_eq!(
            predict("fourthcoffee.com", None, &p),
            Ok(RedemptionPath::OneTimePasscode)
        );
    }

    #[test]
    fn without_otp_a_new_msa_or_nothing() {
        let off = policies(json!({"emailAuthenticationMethodConfiguration":
            {"allowExternalIdToUseEmailOtp": "disabled"}}));
        assert_eq!(
            predict("fourthcoffee.com", None, &off),
            Ok(RedemptionPath::MicrosoftAccount { existing: false })
        );
        let state_off =
            policies(json!({"emailAuthenticationMethodConfiguration": {"state": "disabled"}}));
        assert!(!state_off.otp_available());
        // No Entra in the order, OTP off: an Entra-verified domain has no way in.
        let p = policies(json!({
            "emailAuthenticationMethodConfiguration": {"allowExternalIdToUseEmailOtp": "disabled"},
            "crossTenantAccessPolicy": {"default": {"invitationRedemptionIdentityProviderConfiguration":
                {"primaryIdentityProviderPrecedenceOrder": ["externalFederation"],
                 "fallbackIdentityProvider": "defaultConfiguredIdp"}}}}));
        assert_eq!(
            predict("fabrikam.com", Some(&fabrikam()), &p),
            Err(RedemptionRefusal::NoIdentityProvider)
        );
        let p = policies(json!({"crossTenantAccessPolicy": {"default": {
            "invitationRedemptionIdentityProviderConfiguration":
                {"primaryIdentityProviderPrecedenceOrder": ["azureActiveDirectory"],
                 "fallbackIdentityProvider": "microsoftAccount"}}}}));
        assert_eq!(
            predict("fourthcoffee.com", None, &p),
            Ok(RedemptionPath::MicrosoftAccount { existing: false })
        );
    }

    #[test]
    fn refusals_come_first() {
        let document = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy":
            {"BlockedDomains": ["fabrikam.com"]}}});
        let p = policies(json!({"b2bManagementPolicy": {"definition": [document.to_string()]}}));
        assert_eq!(
            predict("fabrikam.com", Some(&fabrikam()), &p),
            Err(RedemptionRefusal::DomainBlocked(DomainVerdict::Denied))
        );
        let p = policies(json!({"crossTenantAccessPolicy": {"partners": [{
            "tenantId": "11111111-1111-4111-8111-111111111111",
            "b2bCollaborationInbound": {
                "usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]},
                "applications": {"accessType": "blocked", "targets": [{"target": "AllApplications", "targetType": "application"}]}}}]}}));
        assert_eq!(
            predict("fabrikam.com", Some(&fabrikam()), &p),
            Err(RedemptionRefusal::CrossTenantAccessBlocked)
        );
        assert_eq!(
            predict("fourthcoffee.com", None, &p),
            Ok(RedemptionPath::OneTimePasscode),
            "no tenant, no cross-tenant settings"
        );
    }
}
