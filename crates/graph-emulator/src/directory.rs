//! The live directory: the tenant's objects as the emulator changes them, plus what the
//! emulator records for tests (invitations, outgoing messages, redeem tokens), and the
//! tenant's policies, which tests may change while it runs.
//!
//! Users, groups and contacts are kept as Graph-shaped JSON objects (`serde_json::Map`), so
//! any property of Graph's schema survives a round trip. Each collection carries the indexes
//! ([`crate::index`]) that `$filter` lookups, finding a user by id or UPN and address
//! collision checks use, so none of them scans a 100,000-user tenant. The collections are
//! read-only from outside: change a user through [`Directory::update_user`] or
//! [`Directory::add_user`], so the indexes stay in step.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::index::Collection;
use crate::membership::Membership;
use crate::partners::PartnerTenant;
use crate::policy::Policies;
use crate::query::{CONTACTS, GROUPS, ROLE_ELIGIBILITY_INSTANCES, USERS};
use crate::tenant::{DirectoryRole, Tenant};

/// What [`Directory::admin_standing`] says of a member or owner of a role-assignable
/// group: no role name, so only the unrestricted admin roles may manage them.
pub const ROLE_ASSIGNABLE_GROUP: &str = "member or owner of a role-assignable group";

/// One `POST /invitations` the directory accepted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRecord {
    /// Invitation id.
    pub id: String,
    /// The invited (or converted) user.
    pub user_id: String,
    /// The address invited.
    pub invited_user_email_address: String,
    /// `{root}redeem/{token}`.
    pub invite_redeem_url: String,
    /// `PendingAcceptance`, `Completed` or `Superseded` (a later invitation replaced it).
    pub status: String,
    /// Whether Graph would have sent the invitation email.
    pub send_invitation_message: bool,
    /// Whether redemption was reset.
    pub reset_redemption: bool,
    /// When it was made.
    pub created_date_time: String,
    #[serde(skip)]
    pub(crate) token: String,
    /// Where the partner lands after accepting (`inviteRedirectUrl`).
    #[serde(skip)]
    pub(crate) redirect_url: String,
    /// The one-time passcode last emailed for this invitation and when, while the partner
    /// redeems with email OTP.
    #[serde(skip)]
    pub(crate) passcode: Option<(String, jiff::Timestamp)>,
}

/// What an outgoing message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageKind {
    /// The invitation email (`sendInvitationMessage: true`).
    Invitation,
    /// The one-time passcode email of an OTP redemption.
    OneTimePasscode,
}

/// One email the emulator "sent": an invitation, or a one-time passcode.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    /// Invitation or one-time passcode.
    pub kind: MessageKind,
    /// Recipient.
    pub to: String,
    /// The (at most one) cc recipient.
    pub cc: Vec<String>,
    /// Message language.
    pub language: String,
    /// The text of the email.
    pub body: String,
    /// The invited user.
    pub user_id: String,
    /// The link in the email.
    pub invite_redeem_url: String,
    /// When it was sent.
    pub sent_date_time: String,
    /// The one-time passcode, in a passcode email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
}

/// The mutable tenant.
#[derive(Debug)]
pub struct Directory {
    /// Tenant id.
    pub tenant_id: String,
    /// Verified domains, lower case.
    pub verified_domains: Vec<String>,
    /// The initial `*.onmicrosoft.com` domain.
    pub initial_domain: String,
    /// Users in creation order (the order Graph lists them in here).
    pub users: Collection,
    /// Groups.
    pub groups: Collection,
    /// Organizational contacts.
    pub org_contacts: Collection,
    /// Activated directory roles.
    pub roles: Vec<DirectoryRole>,
    /// Invitations, oldest first.
    pub invitations: Vec<InvitationRecord>,
    /// Invitation emails, oldest first.
    pub messages: Vec<MessageRecord>,
    /// Successful invitation requests so far (for `blockInvitesAfter`).
    pub accepted_invitations: u64,
    /// Groups' members and owners.
    pub membership: Membership,
    /// PIM role eligibilities (`unifiedRoleEligibilityScheduleInstance` objects).
    pub role_eligibility: Collection,
    /// The partner tenants; `None` when the tenant file doesn't model partners.
    pub partner_tenants: Option<Vec<PartnerTenant>>,
    /// The external-collaboration policies (changeable at runtime).
    pub policies: Policies,
}

/// The current time in Graph's format (`2024-05-01T10:00:00Z`).
pub fn now() -> String {
    crate::clock::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Directory {
    /// A fresh directory from a tenant file.
    pub fn new(tenant: &Tenant) -> Self {
        Directory {
            tenant_id: tenant.tenant_id.clone(),
            verified_domains: tenant
                .verified_domains
                .iter()
                .map(|d| d.to_lowercase())
                .collect(),
            initial_domain: tenant.initial_domain().to_lowercase(),
            users: Collection::new(tenant.users.clone(), USERS.indexed),
            groups: Collection::new(tenant.groups.clone(), GROUPS.indexed),
            org_contacts: Collection::new(tenant.org_contacts.clone(), CONTACTS.indexed),
            roles: tenant.directory_roles.clone(),
            invitations: Vec::new(),
            messages: Vec::new(),
            accepted_invitations: 0,
            membership: tenant.membership.clone(),
            role_eligibility: Collection::new(
                tenant.role_eligibility.clone(),
                ROLE_ELIGIBILITY_INSTANCES.indexed,
            ),
            partner_tenants: tenant.partner_tenants.clone(),
            policies: tenant.policies.clone(),
        }
    }

    /// The partner tenant that verified `domain`, when partners are modelled.
    pub fn partner_for_domain(&self, domain: &str) -> Option<&PartnerTenant> {
        crate::partners::find(self.partner_tenants.as_deref()?, domain)
    }

    /// Index of the user with this object id or userPrincipalName (case-insensitive).
    pub fn find_user(&self, key: &str) -> Option<usize> {
        let index = self.users.index();
        ["id", "userPrincipalName"]
            .into_iter()
            .find_map(|property| index.lookup(property, key)?.first())
            .copied()
    }

    /// Adds a user (a new guest) and indexes it.
    pub fn add_user(&mut self, user: Map<String, Value>) -> usize {
        self.users.push(user)
    }

    /// Changes user `index` with `change`, keeping the indexes in step.
    pub fn update_user<R>(
        &mut self,
        index: usize,
        change: impl FnOnce(&mut Map<String, Value>) -> R,
    ) -> R {
        self.users.update(index, change)
    }

    /// Whether `domain` (any case) is one of the tenant's verified domains.
    pub fn is_verified_domain(&self, domain: &str) -> bool {
        let domain = domain.to_lowercase();
        self.verified_domains.contains(&domain)
    }

    /// The directory roles a user holds.
    pub fn roles_of(&self, user_id: &str) -> Vec<&DirectoryRole> {
        self.roles
            .iter()
            .filter(|r| r.members.iter().any(|m| m.eq_ignore_ascii_case(user_id)))
            .collect()
    }

    /// What makes a user an administrator for the rules on who may change or convert them
    /// (graph-facts §2, the admin-target matrix): the names of the directory roles they
    /// hold; the roles they are eligible for through PIM (whether Graph counts those is
    /// undocumented: counted, the stricter choice); and, for a member or owner of a
    /// role-assignable group, [`ROLE_ASSIGNABLE_GROUP`], which the matrix leaves to a
    /// Privileged Authentication Administrator or Global Administrator.
    pub fn admin_standing(&self, user_id: &str) -> Vec<String> {
        let mut standing: Vec<String> = self
            .roles_of(user_id)
            .iter()
            .map(|r| r.display_name.clone())
            .collect();
        for eligibility in self.role_eligibility.iter() {
            if text(eligibility, "principalId").is_some_and(|p| p.eq_ignore_ascii_case(user_id))
                && let Some(definition) = text(eligibility, "roleDefinitionId")
                    .and_then(|id| crate::role_definitions::find(id, &self.roles))
                && let Some(name) = definition.get("displayName").and_then(Value::as_str)
                && !standing.iter().any(|s| s == name)
            {
                standing.push(name.to_owned());
            }
        }
        let in_role_assignable_group = self
            .membership
            .groups_with_member(user_id)
            .into_iter()
            .chain(self.membership.groups_owned_by(user_id))
            .any(|group_id| {
                self.groups.iter().any(|g| {
                    text(g, "id").is_some_and(|id| id.eq_ignore_ascii_case(group_id))
                        && g.get("isAssignableToRole") == Some(&Value::Bool(true))
                })
            });
        if in_role_assignable_group {
            standing.push(ROLE_ASSIGNABLE_GROUP.to_owned());
        }
        standing
    }

    /// The first object other than `except_id` that already uses `address` as its mail, a
    /// proxy address, a userPrincipalName or an otherMails entry: `(object id, property)`.
    /// Users come first, then groups, then contacts, each in directory order.
    pub fn address_owner(&self, address: &str, except_id: &str) -> Option<(String, &'static str)> {
        let address = address.to_lowercase();
        [&self.users, &self.groups, &self.org_contacts]
            .into_iter()
            .flat_map(|c| c.index().address_users(&address).iter().map(|i| &c[*i]))
            .filter_map(|object| {
                let id = text(object, "id").unwrap_or_default();
                if id.eq_ignore_ascii_case(except_id) {
                    return None;
                }
                Some((id.to_owned(), address_property(object, &address)?))
            })
            .next()
    }
}

/// Which property of `object` uses `address` (lower case): mail, proxyAddresses (without
/// `smtp:`), userPrincipalName, otherMails, checked in that order.
fn address_property(object: &Map<String, Value>, address: &str) -> Option<&'static str> {
    let is = |s: &str| s.to_lowercase() == address;
    if text(object, "mail").is_some_and(is) {
        Some("mail")
    } else if strings(object, "proxyAddresses").any(|p| is(strip_smtp(p))) {
        Some("proxyAddresses")
    } else if text(object, "userPrincipalName").is_some_and(is) {
        Some("userPrincipalName")
    } else if strings(object, "otherMails").any(is) {
        Some("otherMails")
    } else {
        None
    }
}

/// A string property of a JSON object.
pub fn text<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// The string elements of an array property (none when absent).
pub fn strings<'a>(object: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    object
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// A proxy address without its `smtp:`/`SMTP:` prefix.
pub fn strip_smtp(address: &str) -> &str {
    match address.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => &address[5..],
        _ => address,
    }
}

/// Whether the user has an Exchange mailbox: an enabled `exchange` assigned plan.
pub fn has_mailbox(user: &Map<String, Value>) -> bool {
    user.get("assignedPlans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|p| {
            text(p, "service").is_some_and(|s| s.eq_ignore_ascii_case("exchange"))
                && text(p, "capabilityStatus") == Some("Enabled")
        })
}

/// The domain part of an address, if it has one.
pub fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d)
}

/// proxyAddresses after `mail` changes to `new_mail`, the way Graph rewrites them: the new
/// address becomes the primary `SMTP:` entry (an existing alias of it is folded in), the old
/// primary is demoted to an `smtp:` alias, and with an Exchange mailbox every SMTP address
/// outside the verified domains is silently dropped.
pub fn rewrite_proxy_addresses(
    current: &[String],
    new_mail: &str,
    verified_domains: &[String],
    has_mailbox: bool,
) -> Vec<String> {
    let new_lower = new_mail.to_lowercase();
    let mut out = vec![format!("SMTP:{new_mail}")];
    for p in current {
        let bare = strip_smtp(p);
        let is_smtp = bare.len() != p.len();
        if bare.to_lowercase() == new_lower {
            continue;
        }
        let entry = if is_smtp {
            format!("smtp:{bare}")
        } else {
            p.clone()
        };
        if out.iter().any(|o| o.eq_ignore_ascii_case(&entry)) {
            continue;
        }
        out.push(entry);
    }
    if has_mailbox {
        out.retain(|p| {
            let bare = strip_smtp(p);
            bare.len() == p.len()
                || domain_of(bare)
                    .is_some_and(|d| verified_domains.iter().any(|v| v.eq_ignore_ascii_case(d)))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn new_mail_becomes_primary_and_old_primary_is_demoted() {
        let out = rewrite_proxy_addresses(
            &s(&["SMTP:a@contoso.com", "smtp:b@contoso.com", "X500:/o=x"]),
            "p@fabrikam.com",
            &s(&["contoso.com"]),
            false,
        );
        assert_eq!(
            out,
            s(&[
                "SMTP:p@fabrikam.com",
                "smtp:a@contoso.com",
                "smtp:b@contoso.com",
                "X500:/o=x"
            ])
        );
    }

    #[test]
    fn an_alias_promoted_to_primary_is_not_duplicated() {
        let out = rewrite_proxy_addresses(
            &s(&["SMTP:a@contoso.com", "smtp:B@contoso.com"]),
            "b@contoso.com",
            &s(&["contoso.com"]),
            false,
        );
        assert_eq!(out, s(&["SMTP:b@contoso.com", "smtp:a@contoso.com"]));
    }

    #[test]
    fn a_mailbox_drops_unverified_addresses_silently() {
        let out = rewrite_proxy_addresses(
            &s(&["SMTP:a@contoso.com", "smtp:old@fabrikam.com"]),
            "n@contoso.com",
            &s(&["contoso.onmicrosoft.com", "contoso.com"]),
            true,
        );
        assert_eq!(out, s(&["SMTP:n@contoso.com", "smtp:a@contoso.com"]));
        let out = rewrite_proxy_addresses(&s(&[]), "x@fabrikam.com", &s(&["contoso.com"]), true);
        assert!(out.is_empty());
    }

    #[test]
    fn strips_smtp_prefix_in_any_case() {
        assert_eq!(strip_smtp("SMTP:a@b"), "a@b");
        assert_eq!(strip_smtp("smtp:a@b"), "a@b");
        assert_eq!(strip_smtp("x500:a"), "x500:a");
    }
}
