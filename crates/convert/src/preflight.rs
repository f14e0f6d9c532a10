//! The pre-flight's rules: what the tenant's invitation policies and the partners'
//! organisations say about each row before an invitation is sent — whether Graph would
//! refuse it, and how the partner will redeem it.
//!
//! Pure, like [`crate::plan`] (which applies these rules to each row): the facts
//! ([`Preflight`]) are read beforehand by [`crate::policy_reads`], once per run, and every
//! rule is tested here without a server. The rules follow Microsoft's documentation as
//! summarised in redemption-facts.md, and agree with the emulator's enforcement
//! (`graph-emulator`'s `policy` module), so what `plan` predicts is what `apply` meets:
//!
//! - **Invitations disabled**: `authorizationPolicy.allowInvitesFrom` is `none`. Only
//!   `none` stops an application's invitations (GD invitation-post.md, PR #9556); the
//!   other values restrict people, not apps.
//! - **The B2B allow/deny list** (beta `b2bManagementPolicy`, its `definition` JSON
//!   `{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":
//!   {"AllowedDomains":[…],"BlockedDomains":[…]}}}`): a deny-listed domain also blocks
//!   its subdomains; an allow-listed domain allows only itself; an empty allow list
//!   allows everything (the narrower reading each way, as the emulator chooses).
//! - **Cross-tenant access**: inbound B2B collaboration for the partner's tenant is its
//!   partner configuration's, each of `usersAndGroups` and `applications` inheriting the
//!   default's when `null`. `allowed` + `AllUsers` lets everyone in, `blocked` +
//!   `AllUsers` no one; any other targets name particular users or groups (`allowed`
//!   lets only them in, `blocked` keeps only them out), which only the partner's sign-in
//!   can tell. All users or all applications blocked: Graph refuses the invitation.
//! - **Redemption** ([`RedemptionMethod`]): a domain with an Entra tenant redeems with
//!   that tenant's account (unless the redemption order leaves Entra out); one without
//!   redeems with a Microsoft account, or an email one-time passcode when the email
//!   method is `enabled` and `allowExternalIdToUseEmailOtp` is `enabled` or `default`.
//!   What could not be read is `unknown`.
//! - **Automatic redemption** ([`Redemption::automatic`]): the partner redeems with
//!   Entra and this tenant's inbound `automaticUserConsentSettings` for that partner
//!   (partner configuration first, else the default, which is always `false`) is
//!   `true`. Microsoft suppresses the consent prompt only when the partner's tenant also
//!   allows it outbound, which this tenant cannot read: the row's note says so.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use b2b_graph::preflight::{
    CrossTenantAccessPolicyConfiguration, CrossTenantAccessPolicyTargetConfiguration,
    EmailAuthenticationMethodConfiguration, TenantInformation,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::vocabulary::vocabulary;

vocabulary! {
    /// The reads of the pre-flight, each of which may be refused for want of a
    /// permission: a stable code, printed when a check could not be made.
    pub enum Check as "pre-flight check" {
        /// Whether the tenant lets anyone invite guests (`authorizationPolicy`).
        InvitationSettings = "invitation_settings",
        /// The B2B allow/deny list of domains (beta `b2bManagementPolicies`).
        DomainList = "domain_list",
        /// Cross-tenant access settings (default and per partner).
        CrossTenantAccess = "cross_tenant_access",
        /// Whether external users may sign in with an email one-time passcode.
        EmailOtp = "email_otp",
        /// Which partner domains have an Entra tenant (`findTenantInformationByDomainName`).
        PartnerTenants = "partner_tenants",
        /// PIM-eligible directory roles (`roleEligibilityScheduleInstances`).
        EligibleRoles = "eligible_roles",
        /// Members and owners of role-assignable groups.
        RoleAssignableGroups = "role_assignable_groups",
    }
}

impl Check {
    /// What the check reads, for the operator.
    pub fn what(self) -> &'static str {
        match self {
            Check::InvitationSettings => "whether guest invitations are allowed at all",
            Check::DomainList => "the B2B allow/deny list of partner domains",
            Check::CrossTenantAccess => {
                "cross-tenant access settings (partners blocked, automatic redemption)"
            }
            Check::EmailOtp => {
                "whether partners without an Entra tenant can use an email one-time passcode"
            }
            Check::PartnerTenants => "which partner domains have an Entra tenant",
            Check::EligibleRoles => "PIM-eligible directory roles",
            Check::RoleAssignableGroups => "membership and ownership of role-assignable groups",
        }
    }

    /// What stays unknown without it.
    pub fn consequence(self) -> &'static str {
        match self {
            Check::InvitationSettings => {
                "an invitation refused because the tenant allows none would only fail at apply"
            }
            Check::DomainList | Check::CrossTenantAccess => {
                "an invitation the policy refuses would only fail at apply"
            }
            Check::EmailOtp => "redemption of partners without an Entra tenant shows as unknown",
            Check::PartnerTenants => "every redemption shows as unknown",
            Check::EligibleRoles => "users eligible for an admin role are not blocked",
            Check::RoleAssignableGroups => {
                "members and owners of role-assignable groups are not blocked"
            }
        }
    }

    /// The least permission that allows the read (an application permission, or the
    /// same-named delegated scope).
    pub fn permission(self) -> &'static str {
        crate::permissions::optional_read(self).accepted[0]
    }
}

/// A check `plan` could not make, once per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// Graph refused the read (403): the credential lacks this permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_permission: Option<String>,
    /// Graph could not be read for another reason, even after retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Finding {
    /// The check was refused for want of its permission.
    pub fn refused(check: Check) -> Finding {
        Finding {
            check,
            missing_permission: Some(check.permission().to_owned()),
            error: None,
        }
    }

    /// The read failed for another reason.
    pub fn failed(check: Check, error: impl Into<String>) -> Finding {
        Finding {
            check,
            missing_permission: None,
            error: Some(error.into()),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Not checked ({}): {}",
            self.check.as_str(),
            self.check.what()
        )?;
        match (&self.missing_permission, &self.error) {
            (Some(permission), _) => write!(
                f,
                " — Graph refused the read; grant the app {permission} to check it"
            )?,
            (None, Some(error)) => write!(f, " — Graph could not be read: {error}")?,
            (None, None) => {}
        }
        write!(f, ". Until then {}.", self.check.consequence())
    }
}

/// The B2B allow/deny list, lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainList {
    /// `AllowedDomains`: when not empty, invitations go only there.
    pub allowed: Vec<String>,
    /// `BlockedDomains`: never invited, nor their subdomains.
    pub blocked: Vec<String>,
}

/// What the allow/deny list says about a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainVerdict<'a> {
    /// Invitations may go there.
    Allowed,
    /// On the deny list (the listed domain, which may be a parent).
    Denied(&'a str),
    /// There is an allow list and the domain is not on it.
    NotAllowed,
}

impl DomainList {
    /// The list in the `definition` strings of the tenant's B2B management policies.
    /// A string that is not JSON is an error; a document without the list is no list.
    pub fn from_definitions<'a>(
        definitions: impl IntoIterator<Item = &'a str>,
    ) -> Result<DomainList, String> {
        let mut list = DomainList::default();
        for text in definitions {
            let document: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| format!("a policy definition is not JSON: {e}"))?;
            let lists = document
                .get("B2BManagementPolicy")
                .and_then(|p| p.get("InvitationsAllowedAndBlockedDomainsPolicy"));
            for (key, out) in [
                ("AllowedDomains", &mut list.allowed),
                ("BlockedDomains", &mut list.blocked),
            ] {
                let domains = lists.and_then(|l| l.get(key)).and_then(|d| d.as_array());
                out.extend(
                    domains
                        .into_iter()
                        .flatten()
                        .filter_map(|d| d.as_str())
                        .map(|d| d.trim().to_ascii_lowercase())
                        .filter(|d| !d.is_empty()),
                );
            }
        }
        Ok(list)
    }

    /// What the list says about `domain` (lower case).
    pub fn verdict(&self, domain: &str) -> DomainVerdict<'_> {
        let under = |listed: &&String| crate::email::is_within(domain, listed);
        if let Some(listed) = self.blocked.iter().find(under) {
            DomainVerdict::Denied(listed)
        } else if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == domain) {
            DomainVerdict::NotAllowed
        } else {
            DomainVerdict::Allowed
        }
    }
}

/// One side of a cross-tenant access setting: allowed or blocked, for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Targets {
    /// `allowed` or `blocked` (anything else counts as naming particular targets).
    pub access_type: String,
    /// The targets: object ids, `AllUsers`, `AllApplications`, ….
    pub targets: Vec<String>,
}

impl From<&CrossTenantAccessPolicyTargetConfiguration> for Targets {
    fn from(config: &CrossTenantAccessPolicyTargetConfiguration) -> Targets {
        Targets {
            access_type: config.access_type.clone().unwrap_or_default(),
            targets: config
                .targets
                .iter()
                .flatten()
                .filter_map(|t| t.target.clone())
                .collect(),
        }
    }
}

/// Who a setting lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    All,
    Nobody,
    Some,
}

fn reach(targets: Option<&Targets>, everyone: &str) -> Reach {
    let Some(targets) = targets else {
        // Not configured anywhere: the service default, allowed for everyone.
        return Reach::All;
    };
    let all = targets.targets.iter().any(|t| t == everyone);
    match (targets.access_type.as_str(), all) {
        ("allowed", true) => Reach::All,
        ("blocked", true) => Reach::Nobody,
        _ => Reach::Some,
    }
}

/// The redemption order (`invitationRedemptionIdentityProviderConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionOrder {
    /// The primary identity providers, in order.
    pub primary: Vec<String>,
    /// The fallback: `defaultConfiguredIdp`, `emailOneTimePasscode` or `microsoftAccount`.
    pub fallback: String,
}

/// A cross-tenant access configuration as the rules read it; `None` fields are `null`
/// in Graph (a partner's inherit the default's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantSettings {
    /// `b2bCollaborationInbound.usersAndGroups`.
    #[serde(default)]
    pub inbound_users: Option<Targets>,
    /// `b2bCollaborationInbound.applications`.
    #[serde(default)]
    pub inbound_applications: Option<Targets>,
    /// `automaticUserConsentSettings.inboundAllowed`.
    #[serde(default)]
    pub automatic_redemption: Option<bool>,
    /// The redemption order (the default configuration only).
    #[serde(default)]
    pub redemption_order: Option<RedemptionOrder>,
}

impl From<&CrossTenantAccessPolicyConfiguration> for CrossTenantSettings {
    fn from(config: &CrossTenantAccessPolicyConfiguration) -> CrossTenantSettings {
        let inbound = config.b2b_collaboration_inbound.as_ref();
        CrossTenantSettings {
            inbound_users: inbound
                .and_then(|b| b.users_and_groups.as_ref())
                .map(Targets::from),
            inbound_applications: inbound
                .and_then(|b| b.applications.as_ref())
                .map(Targets::from),
            automatic_redemption: config
                .automatic_user_consent_settings
                .as_ref()
                .and_then(|s| s.inbound_allowed),
            redemption_order: config
                .invitation_redemption_identity_provider_configuration
                .as_ref()
                .map(|c| RedemptionOrder {
                    primary: c
                        .primary_identity_provider_precedence_order
                        .clone()
                        .unwrap_or_default(),
                    fallback: c
                        .fallback_identity_provider
                        .clone()
                        .unwrap_or_else(|| "defaultConfiguredIdp".to_owned()),
                }),
        }
    }
}

/// What the inbound B2B collaboration settings say about inviting a partner's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Everyone may be invited.
    Allowed,
    /// All of the partner's users, or all of this tenant's applications, are blocked:
    /// Graph refuses the invitation.
    Blocked {
        /// Whether all users are blocked (else all applications are).
        all_users: bool,
        /// Whether the partner's own configuration decides it (else the default).
        by_partner: bool,
    },
    /// Particular users or groups of the partner are let in or kept out: known only
    /// when the user signs in.
    DependsOnUser,
}

/// Inbound B2B collaboration for a partner: its configuration (`None`: it has none)
/// over the default, part by part.
pub fn inbound(default: &CrossTenantSettings, partner: Option<&CrossTenantSettings>) -> Inbound {
    let users_own = partner.and_then(|p| p.inbound_users.as_ref());
    let apps_own = partner.and_then(|p| p.inbound_applications.as_ref());
    let users = reach(users_own.or(default.inbound_users.as_ref()), "AllUsers");
    let apps = reach(
        apps_own.or(default.inbound_applications.as_ref()),
        "AllApplications",
    );
    if users == Reach::Nobody {
        Inbound::Blocked {
            all_users: true,
            by_partner: users_own.is_some(),
        }
    } else if apps == Reach::Nobody {
        Inbound::Blocked {
            all_users: false,
            by_partner: apps_own.is_some(),
        }
    } else if users == Reach::Some {
        Inbound::DependsOnUser
    } else {
        Inbound::Allowed
    }
}

/// Whether this tenant lets a partner's users redeem without the consent prompt.
pub fn automatic_redemption(
    default: &CrossTenantSettings,
    partner: Option<&CrossTenantSettings>,
) -> bool {
    partner
        .and_then(|p| p.automatic_redemption)
        .or(default.automatic_redemption)
        .unwrap_or(false)
}

/// Whether the email method lets external users sign in with a one-time passcode.
pub fn email_otp_available(config: &EmailAuthenticationMethodConfiguration) -> bool {
    config.state.as_deref() == Some("enabled")
        && matches!(
            config.allow_external_id_to_use_email_otp.as_deref(),
            Some("enabled" | "default")
        )
}

/// A partner organisation's Entra tenant, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerTenant {
    /// Its tenant id.
    pub tenant_id: String,
    /// Its name (its default domain when Graph gives none).
    pub display_name: String,
}

impl From<&TenantInformation> for PartnerTenant {
    fn from(info: &TenantInformation) -> PartnerTenant {
        PartnerTenant {
            tenant_id: info.tenant_id.clone(),
            display_name: info
                .display_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .or_else(|| info.default_domain_name.clone())
                .unwrap_or_else(|| info.tenant_id.clone()),
        }
    }
}

/// A partner tenant shared by every row of its domain: a plan of 100,000 rows names a
/// few partners, so each row holds a pointer, not a copy. Serialized as the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedTenant(pub Arc<PartnerTenant>);

impl Serialize for SharedTenant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedTenant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PartnerTenant::deserialize(deserializer).map(|t| SharedTenant(Arc::new(t)))
    }
}

vocabulary! {
    /// How the partner is predicted to redeem the invitation.
    pub enum RedemptionMethod as "redemption method" {
        /// With their account in their organisation's Entra tenant.
        Entra = "entra",
        /// With a Microsoft account, or a one-time passcode sent to the address.
        MicrosoftAccountOrOtp = "microsoftAccountOrOtp",
        /// With a Microsoft account (their own, or one created with the address).
        MicrosoftAccount = "microsoftAccount",
        /// Could not be predicted (a check could not be made).
        Unknown = "unknown",
    }
}

/// The redemption predicted for a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    /// The Entra tenant of the address's domain; `null` when it has none or it could
    /// not be looked up (then `method` is `unknown`).
    pub partner_tenant: Option<SharedTenant>,
    /// How they will sign in to redeem.
    pub method: RedemptionMethod,
    /// Whether this tenant lets them skip the consent prompt (see the module docs).
    pub automatic: bool,
}

/// Microsoft's consumer domains: an address there is a Microsoft account already.
const CONSUMER_DOMAINS: &[&str] = &["outlook.com", "hotmail.com", "live.com", "msn.com"];

/// What the pre-flight read, once per run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preflight {
    /// `authorizationPolicy.allowInvitesFrom`; `None`: not read.
    #[serde(default)]
    pub allow_invites_from: Option<String>,
    /// The B2B allow/deny list (empty: none); `None`: not read.
    #[serde(default)]
    pub domain_list: Option<DomainList>,
    /// The default cross-tenant access configuration; `None`: not read.
    #[serde(default)]
    pub cross_tenant_default: Option<CrossTenantSettings>,
    /// Partner configurations by lower-cased tenant id: `None` when the partner has none
    /// (the default applies). A tenant missing here was not read.
    #[serde(default)]
    pub cross_tenant_partners: BTreeMap<String, Option<CrossTenantSettings>>,
    /// Whether email one-time passcode is open to external users; `None`: not read.
    #[serde(default)]
    pub email_otp: Option<bool>,
    /// The Entra tenant of each partner domain (lower case); `None`: no tenant. A domain
    /// missing here was not looked up.
    #[serde(default)]
    pub partner_tenants: BTreeMap<String, Option<SharedTenant>>,
    /// The checks that could not be made.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// What the pre-flight predicts for one external address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction<'a> {
    /// How the partner will redeem.
    pub redemption: Redemption,
    /// Whether the tenant allows no invitations at all.
    pub invitations_disabled: bool,
    /// What the allow/deny list says (`Allowed` when it was not read).
    pub domain: DomainVerdict<'a>,
    /// What the cross-tenant access settings say (`None`: no partner tenant, or not
    /// read).
    pub inbound: Option<Inbound>,
}

impl Preflight {
    /// Records a check that could not be made (once per check: the first reason wins).
    pub fn note(&mut self, finding: Finding) {
        if !self.findings.iter().any(|f| f.check == finding.check) {
            self.findings.push(finding);
        }
    }

    /// Puts the findings in the order of [`Check::ALL`], whatever order the reads ended.
    pub fn sort_findings(&mut self) {
        self.findings.sort_by_key(|f| f.check);
    }

    /// The configuration that applies to a partner tenant: `Some(None)` when it has no
    /// partner configuration, `None` when it was not read.
    fn partner_settings(&self, tenant_id: &str) -> Option<Option<&CrossTenantSettings>> {
        self.cross_tenant_partners
            .get(&tenant_id.to_ascii_lowercase())
            .map(Option::as_ref)
    }

    /// What the pre-flight says about inviting someone at `domain` (lower case, not one
    /// of this tenant's verified domains).
    pub fn predict(&self, domain: &str) -> Prediction<'_> {
        let invitations_disabled = self
            .allow_invites_from
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let verdict = self
            .domain_list
            .as_ref()
            .map_or(DomainVerdict::Allowed, |list| list.verdict(domain));
        let tenant = self.partner_tenants.get(domain);
        let default = self.cross_tenant_default.as_ref();
        let (inbound, automatic) = match (tenant, default) {
            (Some(Some(tenant)), Some(default)) => {
                match self.partner_settings(&tenant.0.tenant_id) {
                    Some(partner) => (
                        Some(inbound(default, partner)),
                        automatic_redemption(default, partner),
                    ),
                    None => (None, false),
                }
            }
            _ => (None, false),
        };
        let order = default.and_then(|d| d.redemption_order.as_ref());
        let entra_first =
            order.is_none_or(|o| o.primary.iter().any(|p| p == "azureActiveDirectory"));
        let method = match tenant {
            None => RedemptionMethod::Unknown,
            Some(Some(_)) if entra_first => RedemptionMethod::Entra,
            Some(_) => self.fallback(domain, order),
        };
        let automatic = method == RedemptionMethod::Entra && automatic;
        Prediction {
            redemption: Redemption {
                partner_tenant: tenant.cloned().flatten(),
                method,
                automatic,
            },
            invitations_disabled,
            domain: verdict,
            inbound,
        }
    }

    /// Without an Entra tenant (or with Entra left out of the order): the fallback.
    fn fallback(&self, domain: &str, order: Option<&RedemptionOrder>) -> RedemptionMethod {
        let fallback = order.map_or("defaultConfiguredIdp", |o| o.fallback.as_str());
        let existing_account = CONSUMER_DOMAINS.contains(&domain);
        match (fallback, self.email_otp) {
            ("microsoftAccount", _) => RedemptionMethod::MicrosoftAccount,
            _ if existing_account => RedemptionMethod::MicrosoftAccount,
            (_, Some(true)) => RedemptionMethod::MicrosoftAccountOrOtp,
            ("defaultConfiguredIdp", Some(false)) => RedemptionMethod::MicrosoftAccount,
            // OTP as the only fallback, and it is off (or not readable): no way known.
            _ => RedemptionMethod::Unknown,
        }
    }
}

/// A role-assignable group a user is a member or owner of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleGroupLink {
    /// The group's display name (its id when it has none).
    pub group: String,
    /// Owner rather than member.
    pub owner: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(access: &str, target: &str) -> Option<Targets> {
        Some(Targets {
            access_type: access.into(),
            targets: vec![target.into()],
        })
    }

    fn settings(users: Option<Targets>, apps: Option<Targets>) -> CrossTenantSettings {
        CrossTenantSettings {
            inbound_users: users,
            inbound_applications: apps,
            ..CrossTenantSettings::default()
        }
    }

    const G1: &str = "11111111-1111-4111-8111-111111111111";

    #[test]
    fn deny_list_covers_subdomains_allow_list_only_itself() {
        let deny = DomainList::from_definitions([
            r#"{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":[],"BlockedDomains":["TreyResearch.net"]}}}"#,
        ])
        .unwrap();
        assert_eq!(
            deny.verdict("treyresearch.net"),
            DomainVerdict::Denied("treyresearch.net")
        );
        assert_eq!(
            deny.verdict("eu.treyresearch.net"),
            DomainVerdict::Denied("treyresearch.net")
        );
        assert_eq!(deny.verdict("notreyresearch.net"), DomainVerdict::Allowed);
        let allow = DomainList::from_definitions([
            r#"{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":["fabrikam.com"]}}}"#,
        ])
        .unwrap();
        assert_eq!(allow.verdict("fabrikam.com"), DomainVerdict::Allowed);
        assert_eq!(allow.verdict("eu.fabrikam.com"), DomainVerdict::NotAllowed);
        let none =
            DomainList::from_definitions([r#"{"B2BManagementPolicy":{"Version":1}}"#]).unwrap();
        assert_eq!(none.verdict("anything.com"), DomainVerdict::Allowed);
        assert!(DomainList::from_definitions(["{'B2BManagementPolicy':{}}"]).is_err());
    }

    #[test]
    fn the_service_default_allows_and_nulls_inherit() {
        let open = settings(
            targets("allowed", "AllUsers"),
            targets("allowed", "AllApplications"),
        );
        assert_eq!(inbound(&open, None), Inbound::Allowed);
        assert_eq!(
            inbound(&CrossTenantSettings::default(), None),
            Inbound::Allowed,
            "nothing configured anywhere"
        );
        let closed = settings(
            targets("blocked", "AllUsers"),
            targets("blocked", "AllApplications"),
        );
        assert_eq!(
            inbound(&closed, Some(&CrossTenantSettings::default())),
            Inbound::Blocked {
                all_users: true,
                by_partner: false
            },
            "a partner whose settings are all null inherits the default"
        );
        // The partner lets all its users in but says nothing of applications.
        let partner = settings(targets("allowed", "AllUsers"), None);
        assert_eq!(
            inbound(&closed, Some(&partner)),
            Inbound::Blocked {
                all_users: false,
                by_partner: false
            }
        );
        let partner = settings(
            targets("allowed", "AllUsers"),
            targets("allowed", "AllApplications"),
        );
        assert_eq!(inbound(&closed, Some(&partner)), Inbound::Allowed);
        let partner = settings(targets("blocked", "AllUsers"), None);
        assert_eq!(
            inbound(&open, Some(&partner)),
            Inbound::Blocked {
                all_users: true,
                by_partner: true
            }
        );
    }

    #[test]
    fn targets_invert_with_the_access_type() {
        let open = settings(
            targets("allowed", "AllUsers"),
            targets("allowed", "AllApplications"),
        );
        // allowed + g1: only g1 is let in; blocked + g1: only g1 is kept out. Either way
        // only the partner's sign-in can tell.
        for access in ["allowed", "blocked"] {
            let partner = settings(targets(access, G1), None);
            assert_eq!(inbound(&open, Some(&partner)), Inbound::DependsOnUser);
        }
        // Some applications only: the user can still be invited to those.
        for access in ["allowed", "blocked"] {
            let partner = settings(None, targets(access, G1));
            assert_eq!(inbound(&open, Some(&partner)), Inbound::Allowed);
        }
        let partner = settings(None, targets("blocked", "AllApplications"));
        assert_eq!(
            inbound(&open, Some(&partner)),
            Inbound::Blocked {
                all_users: false,
                by_partner: true
            }
        );
    }

    #[test]
    fn automatic_redemption_needs_the_partner_setting() {
        let default = CrossTenantSettings {
            automatic_redemption: Some(false),
            ..CrossTenantSettings::default()
        };
        assert!(!automatic_redemption(&default, None));
        let inherit = CrossTenantSettings::default();
        assert!(!automatic_redemption(&default, Some(&inherit)));
        let on = CrossTenantSettings {
            automatic_redemption: Some(true),
            ..CrossTenantSettings::default()
        };
        assert!(automatic_redemption(&default, Some(&on)));
    }

    #[test]
    fn otp_needs_the_method_enabled_and_external_users_allowed() {
        let config = |state: &str, external: &str| EmailAuthenticationMethodConfiguration {
            state: Some(state.into()),
            allow_external_id_to_use_email_otp: Some(external.into()),
        };
        assert!(email_otp_available(&config("enabled", "default")));
        assert!(email_otp_available(&config("enabled", "enabled")));
        assert!(!email_otp_available(&config("enabled", "disabled")));
        assert!(!email_otp_available(&config("disabled", "enabled")));
    }

    fn tenant(name: &str) -> Option<SharedTenant> {
        Some(SharedTenant(Arc::new(PartnerTenant {
            tenant_id: G1.into(),
            display_name: name.into(),
        })))
    }

    fn read_everything() -> Preflight {
        let mut preflight = Preflight {
            allow_invites_from: Some("everyone".into()),
            domain_list: Some(DomainList::default()),
            cross_tenant_default: Some(CrossTenantSettings {
                redemption_order: Some(RedemptionOrder {
                    primary: vec![
                        "azureActiveDirectory".into(),
                        "externalFederation".into(),
                        "socialIdentityProviders".into(),
                    ],
                    fallback: "defaultConfiguredIdp".into(),
                }),
                automatic_redemption: Some(false),
                ..settings(
                    targets("allowed", "AllUsers"),
                    targets("allowed", "AllApplications"),
                )
            }),
            email_otp: Some(true),
            ..Preflight::default()
        };
        preflight
            .partner_tenants
            .insert("fabrikam.com".into(), tenant("Fabrikam"));
        preflight
            .partner_tenants
            .insert("fourthcoffee.com".into(), None);
        preflight.partner_tenants.insert("outlook.com".into(), None);
        preflight.cross_tenant_partners.insert(
            G1.into(),
            Some(CrossTenantSettings {
                automatic_redemption: Some(true),
                ..CrossTenantSettings::default()
            }),
        );
        preflight
    }

    #[test]
    fn redemption_is_entra_then_msa_or_otp_and_unknown_when_unread() {
        let preflight = read_everything();
        let fabrikam = preflight.predict("fabrikam.com");
        assert_eq!(fabrikam.redemption.method, RedemptionMethod::Entra);
        assert!(fabrikam.redemption.automatic);
        assert_eq!(fabrikam.inbound, Some(Inbound::Allowed));
        assert_eq!(
            fabrikam
                .redemption
                .partner_tenant
                .map(|t| t.0.display_name.clone()),
            Some("Fabrikam".into())
        );
        let coffee = preflight.predict("fourthcoffee.com");
        assert_eq!(
            coffee.redemption.method,
            RedemptionMethod::MicrosoftAccountOrOtp
        );
        assert_eq!(coffee.redemption.partner_tenant, None);
        assert_eq!(coffee.inbound, None);
        assert_eq!(
            preflight.predict("outlook.com").redemption.method,
            RedemptionMethod::MicrosoftAccount
        );
        assert_eq!(
            preflight.predict("never-looked-up.com").redemption.method,
            RedemptionMethod::Unknown
        );

        let mut no_otp = read_everything();
        no_otp.email_otp = Some(false);
        assert_eq!(
            no_otp.predict("fourthcoffee.com").redemption.method,
            RedemptionMethod::MicrosoftAccount
        );
        let mut otp_unread = read_everything();
        otp_unread.email_otp = None;
        assert_eq!(
            otp_unread.predict("fourthcoffee.com").redemption.method,
            RedemptionMethod::Unknown
        );

        // Entra left out of the order: the fallback decides even for a tenant's domain.
        let mut no_entra = read_everything();
        if let Some(default) = no_entra.cross_tenant_default.as_mut() {
            default.redemption_order = Some(RedemptionOrder {
                primary: vec!["externalFederation".into()],
                fallback: "defaultConfiguredIdp".into(),
            });
        }
        let fabrikam = no_entra.predict("fabrikam.com");
        assert_eq!(
            fabrikam.redemption.method,
            RedemptionMethod::MicrosoftAccountOrOtp
        );
        assert!(
            !fabrikam.redemption.automatic,
            "automatic is for Entra only"
        );
    }

    #[test]
    fn unread_cross_tenant_settings_predict_no_block_and_no_automatic() {
        let mut preflight = read_everything();
        preflight.cross_tenant_default = None;
        let fabrikam = preflight.predict("fabrikam.com");
        assert_eq!(fabrikam.inbound, None);
        assert!(!fabrikam.redemption.automatic);
        assert_eq!(
            fabrikam.redemption.method,
            RedemptionMethod::Entra,
            "the tenant was found; the order is assumed the service default"
        );
        let mut preflight = read_everything();
        preflight.cross_tenant_partners.clear();
        assert_eq!(preflight.predict("fabrikam.com").inbound, None);
    }

    #[test]
    fn invitations_disabled_only_by_none() {
        let mut preflight = read_everything();
        assert!(!preflight.predict("fabrikam.com").invitations_disabled);
        preflight.allow_invites_from = Some("adminsAndGuestInviters".into());
        assert!(!preflight.predict("fabrikam.com").invitations_disabled);
        preflight.allow_invites_from = Some("none".into());
        assert!(preflight.predict("fabrikam.com").invitations_disabled);
    }

    #[test]
    fn findings_name_the_permission_once_per_check() {
        let mut preflight = Preflight::default();
        preflight.note(Finding::refused(Check::EmailOtp));
        preflight.note(Finding::failed(Check::EmailOtp, "boom"));
        preflight.note(Finding::refused(Check::DomainList));
        preflight.sort_findings();
        assert_eq!(preflight.findings.len(), 2);
        assert_eq!(preflight.findings[0].check, Check::DomainList);
        let text = preflight.findings[1].to_string();
        assert!(
            text.starts_with("Not checked (email_otp): whether partners without"),
            "{text}"
        );
        assert!(
            text.contains("grant the app Policy.Read.AuthenticationMethod"),
            "{text}"
        );
        let json = serde_json::to_value(&preflight.findings[0]).unwrap();
        assert_eq!(json["check"], "domain_list");
        assert_eq!(json["missingPermission"], "Policy.Read.B2BManagementPolicy");
    }

    #[test]
    fn redemption_json_shape() {
        let preflight = read_everything();
        let json = serde_json::to_value(preflight.predict("fabrikam.com").redemption).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"partnerTenant": {"tenantId": G1, "displayName": "Fabrikam"},
                               "method": "entra", "automatic": true})
        );
        let json = serde_json::to_value(preflight.predict("fourthcoffee.com").redemption).unwrap();
        assert_eq!(json["partnerTenant"], serde_json::Value::Null);
        let back: Redemption = serde_json::from_value(json).unwrap();
        assert_eq!(back.method, RedemptionMethod::MicrosoftAccountOrOtp);
    }
}
