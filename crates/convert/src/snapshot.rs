//! Snapshot planning: read the tenant once, page by page (`$top=999`, `$select` of only
//! what the rules need), and build from it the very [`Facts`] the per-row lookup builds.
//!
//! A large input then costs a few hundred requests instead of five per row. Memory
//! stays bounded by the input, not the tenant: each page is matched against the set of
//! references and addresses the rows name and then dropped; only the users the rows
//! name (and the holders of their addresses) are kept.
//!
//! The matching mirrors Graph's own, as the lookup strategy asks it:
//! - a reference is an object id or a UPN (`GET /users/{id | upn}`, no regard to case),
//!   otherwise an address held as `mail` or as an `smtp:` proxy address (`mail eq …
//!   or proxyAddresses/any(p:p eq 'smtp:…')`; OData string comparison ignores case, so
//!   `SMTP:` and `smtp:` both match);
//! - an address is held by a user as `userPrincipalName`, `mail`, `smtp:` proxy address
//!   or `otherMails`, and by a group or contact as `mail` or `smtp:` proxy address;
//! - roles come from `/directoryRoles` and their members. Graph lets a role-assignable
//!   group be a member; this module doesn't expand groups itself: when any role has a
//!   member that is not a user, every found user's roles are read per user
//!   (`transitiveMemberOf`), as the lookup strategy does.

use std::collections::{BTreeSet, HashMap, HashSet};

use b2b_graph::model::{DirectoryObject, User};
use b2b_graph::{GraphClient, ListQuery, USER_FACTS_SELECT};

use crate::email;
use crate::facts::{
    FactsError, FactsProgress, context, looks_like_object_id, user_facts, user_holder,
};
use crate::input::InputRow;
use crate::plan::{AddressHolder, Facts, HolderKind, Lookup, UserFacts, reference_key};

/// Graph's largest page for directory objects.
const PAGE: u32 = 999;

/// What the rows ask about, lower-cased as Graph compares.
struct Wanted {
    references: BTreeSet<String>,
    addresses: BTreeSet<String>,
}

/// The address part of an `smtp:` proxy address, lower-cased; other kinds (`x500:`,
/// `sip:`) are not mail addresses.
fn smtp_address(proxy: &str) -> Option<String> {
    let (kind, address) = proxy.split_once(':')?;
    kind.eq_ignore_ascii_case("smtp")
        .then(|| address.to_lowercase())
}

/// What one page of users tells about the wanted references and addresses.
#[derive(Default)]
struct Matches {
    /// Reference → the user whose id or UPN it is.
    direct: HashMap<String, String>,
    /// Reference → users holding it as mail or smtp proxy address.
    by_mail: HashMap<String, Vec<String>>,
    /// Users kept, already in the planner's compact form: those some reference names.
    users: HashMap<String, UserFacts>,
    /// Address → holders.
    holders: HashMap<String, Vec<AddressHolder>>,
}

impl Matches {
    fn take_users(&mut self, page: Vec<User>, wanted: &Wanted) {
        for user in page {
            let mut keep = false;
            let id = user.id.to_lowercase();
            let upn = user.user_principal_name.as_deref().map(str::to_lowercase);
            for key in [Some(&id), upn.as_ref()].into_iter().flatten() {
                if wanted.references.contains(key) {
                    self.direct.insert(key.clone(), user.id.clone());
                    keep = true;
                }
            }
            let mail = user.mail.as_deref().map(str::to_lowercase);
            let proxies: Vec<String> = user
                .proxy_addresses
                .iter()
                .filter_map(|p| smtp_address(p))
                .collect();
            let as_mail: BTreeSet<&String> = mail.iter().chain(proxies.iter()).collect();
            for address in &as_mail {
                if wanted.references.contains(*address) {
                    self.by_mail
                        .entry((*address).clone())
                        .or_default()
                        .push(user.id.clone());
                    keep = true;
                }
            }
            let others: Vec<String> = user.other_mails.iter().map(|m| m.to_lowercase()).collect();
            let held: BTreeSet<&String> = upn
                .iter()
                .chain(as_mail.iter().copied())
                .chain(others.iter())
                .filter(|a| wanted.addresses.contains(*a))
                .collect();
            for address in held {
                self.holders
                    .entry(address.clone())
                    .or_default()
                    .push(user_holder(address, &user));
            }
            if keep {
                self.users.insert(user.id.clone(), user_facts(&user));
            }
        }
    }

    fn take_objects(&mut self, page: Vec<DirectoryObject>, kind: HolderKind, wanted: &Wanted) {
        for object in page {
            let held: BTreeSet<String> = object
                .mail
                .iter()
                .map(|m| m.to_lowercase())
                .chain(
                    object
                        .proxy_addresses
                        .iter()
                        .filter_map(|p| smtp_address(p)),
                )
                .filter(|a| wanted.addresses.contains(a))
                .collect();
            for address in held {
                let holder = crate::facts::object_holder(&address, &object, kind);
                self.holders.entry(address).or_default().push(holder);
            }
        }
    }
}

/// Reads the tenant once and builds the facts for `rows`.
pub async fn gather(
    client: &GraphClient,
    rows: &[InputRow],
    verified_domains: Vec<String>,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Facts, FactsError> {
    let wanted = Wanted {
        references: rows.iter().map(|r| reference_key(&r.user)).collect(),
        addresses: rows
            .iter()
            .map(|r| r.external_email.trim().to_lowercase())
            .filter(|a| email::check_address(a).is_ok())
            .collect(),
    };
    let mut pages = 0;
    let tick = |pages: &mut usize| {
        *pages += 1;
        // The total is unknown until the last page: show pages read so far.
        progress(FactsProgress {
            done: *pages,
            total: *pages + 1,
        });
    };
    let mut matches = Matches::default();
    {
        let mut on_page = |page: Vec<User>| {
            matches.take_users(page, &wanted);
            tick(&mut pages);
        };
        client
            .each_user_page(
                &ListQuery::new().select(USER_FACTS_SELECT).top(PAGE),
                &mut on_page,
            )
            .await
            .map_err(context("the tenant's users"))?;
    }
    let object_query = ListQuery::new()
        .select(&["id", "displayName", "mail", "proxyAddresses"])
        .top(PAGE);
    {
        let mut on_page = |page: Vec<DirectoryObject>| {
            matches.take_objects(page, HolderKind::Group, &wanted);
            tick(&mut pages);
        };
        client
            .each_group_page(&object_query, &mut on_page)
            .await
            .map_err(context("the tenant's groups"))?;
    }
    {
        let mut on_page = |page: Vec<DirectoryObject>| {
            matches.take_objects(page, HolderKind::OrgContact, &wanted);
            tick(&mut pages);
        };
        client
            .each_org_contact_page(&object_query, &mut on_page)
            .await
            .map_err(context("the tenant's contacts"))?;
    }

    let mut facts = Facts {
        verified_domains,
        ..Facts::default()
    };
    for reference in &wanted.references {
        let lookup = if let Some(id) = matches.direct.get(reference) {
            Lookup::Found { id: id.clone() }
        } else if looks_like_object_id(reference) || !reference.contains('@') {
            Lookup::NotFound
        } else {
            match matches.by_mail.get(reference).map(Vec::as_slice) {
                None | Some([]) => Lookup::NotFound,
                Some([id]) => Lookup::Found { id: id.clone() },
                Some(ids) => Lookup::Ambiguous { ids: ids.to_vec() },
            }
        };
        facts.lookups.insert(reference.clone(), lookup);
    }
    for address in &wanted.addresses {
        let holders = matches.holders.remove(address).unwrap_or_default();
        facts.address_holders.insert(address.clone(), holders);
    }
    facts.users = matches.users;

    let found: HashSet<String> = facts
        .lookups
        .values()
        .filter_map(|l| match l {
            Lookup::Found { id } => Some(id.clone()),
            _ => None,
        })
        .collect();
    read_roles(client, &found, &mut facts).await?;
    progress(FactsProgress {
        done: pages + 1,
        total: pages + 1,
    });
    Ok(facts)
}

/// Fills `facts.roles` for every found user from the tenant's directory roles.
async fn read_roles(
    client: &GraphClient,
    found: &HashSet<String>,
    facts: &mut Facts,
) -> Result<(), FactsError> {
    let roles = client
        .list_directory_roles()
        .await
        .map_err(context("the tenant's directory roles"))?;
    let mut held: HashMap<String, Vec<String>> = found
        .iter()
        .map(|id| (id.to_lowercase(), Vec::new()))
        .collect();
    let mut only_users = true;
    for role in roles {
        let members = client
            .list_directory_role_members(&role.id)
            .await
            .map_err(context(format!(
                "the members of directory role {}",
                role.id
            )))?;
        let name = role.display_name.clone().unwrap_or_else(|| role.id.clone());
        for member in members {
            let is_user = member
                .odata_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"));
            if !is_user {
                only_users = false;
            } else if let Some(names) = held.get_mut(&member.id.to_lowercase()) {
                names.push(name.clone());
            }
        }
    }
    if !only_users {
        // A group holds a role: its members' roles are only visible transitively.
        crate::lookup::read_roles(client, found.iter().cloned().collect(), 8, facts, &|| {}).await;
        return Ok(());
    }
    for id in found {
        let names = held.remove(&id.to_lowercase()).unwrap_or_default();
        facts.roles.insert(id.clone(), names);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_smtp_proxies_are_addresses() {
        assert_eq!(
            smtp_address("SMTP:Ann@Fabrikam.com").as_deref(),
            Some("ann@fabrikam.com")
        );
        assert_eq!(smtp_address("smtp:a@b.com").as_deref(), Some("a@b.com"));
        assert_eq!(smtp_address("x500:/o=Contoso"), None);
        assert_eq!(smtp_address("no-colon"), None);
    }
}
