//! Snapshot planning: read the tenant once, page by page (`$top=999`, `$select` of only
//! what the rules need), and decide every row from it exactly as from the [`Facts`] the
//! per-row lookup builds.
//!
//! A large input then costs a few hundred requests instead of five per row. Memory
//! stays bounded by the input, not the tenant, and as small as the plan itself allows
//! (planning 100,000 rows holds the rows, the plan and little else):
//! - each page is typed as it arrives (only the `$select`ed fields), matched against
//!   the sorted references and addresses the rows name, and dropped; only the users the
//!   rows name (and the holders of their addresses) are kept;
//! - the matches are recorded by index into those sorted lists, not as maps of strings;
//! - the rows are decided one at a time, each from its own facts (`RowFacts`), and a
//!   user is freed once the last row naming it is decided: the plan grows into the
//!   memory the facts give back instead of next to them.
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
//!   (`transitiveMemberOf`), as the lookup strategy does;
//! - PIM eligibilities come from one paged read of every eligibility, kept for the found
//!   users; the rest of the pre-flight (policies, partner tenants, role-assignable
//!   groups) is read exactly as the lookup strategy reads it ([`crate::policy_reads`]).

use std::collections::{BTreeSet, HashMap};

use b2b_graph::model::{DirectoryObject, User};
use b2b_graph::{GraphClient, ListQuery, USER_FACTS_SELECT};

use crate::email;
use crate::facts::{
    FactsError, FactsProgress, context, looks_like_object_id, user_facts, user_holder,
};
use crate::input::InputRow;
use crate::plan::{
    self, AddressHolder, Facts, HolderKind, Lookup, Plan, PlanOptions, RowFacts, UserFacts,
    address_key, found_user_key, reference_key, unresolved_user_key,
};
use crate::policy_reads;
use crate::preflight::{Preflight, RoleGroupLink};

/// Graph's largest page for directory objects.
const PAGE: u32 = 999;

/// What the rows ask about, lower-cased as Graph compares: each distinct reference and
/// address once, sorted, so that a directory object is matched by binary search and a
/// match is recorded as an index.
struct Wanted {
    references: Vec<Box<str>>,
    addresses: Vec<Box<str>>,
}

impl Wanted {
    fn new(rows: &[InputRow]) -> Wanted {
        let sorted = |mut keys: Vec<Box<str>>| {
            keys.sort_unstable();
            keys.dedup();
            keys.shrink_to_fit();
            keys
        };
        Wanted {
            references: sorted(
                rows.iter()
                    .map(|r| reference_key(&r.user).into_boxed_str())
                    .collect(),
            ),
            addresses: sorted(
                rows.iter()
                    .map(|r| address_key(&r.external_email))
                    .filter(|a| email::check_address(a).is_ok())
                    .map(String::into_boxed_str)
                    .collect(),
            ),
        }
    }

    /// The index of a wanted reference.
    fn reference(&self, key: &str) -> Option<usize> {
        position(&self.references, key)
    }

    /// The index of a wanted address.
    fn address(&self, key: &str) -> Option<usize> {
        position(&self.addresses, key)
    }
}

fn position(sorted: &[Box<str>], key: &str) -> Option<usize> {
    sorted.binary_search_by(|probe| (**probe).cmp(key)).ok()
}

/// The address part of an `smtp:` proxy address, lower-cased; other kinds (`x500:`,
/// `sip:`) are not mail addresses.
fn smtp_address(proxy: &str) -> Option<String> {
    let (kind, address) = proxy.split_once(':')?;
    kind.eq_ignore_ascii_case("smtp")
        .then(|| address.to_lowercase())
}

/// A user some reference names, in the planner's form, with its roles once read.
struct Kept {
    facts: UserFacts,
    /// `None` until read (and for users no reference resolves to): the names, or why
    /// they could not be read.
    roles: Option<Result<Vec<String>, String>>,
}

/// What the pages tell about the wanted references and addresses, by index.
struct Matches {
    /// Per wanted reference: the user whose id or UPN it is (the last one, as a map
    /// keyed by reference would keep).
    direct: Vec<Option<usize>>,
    /// (reference, user) for each user holding a wanted reference as mail or smtp proxy
    /// address, in page order.
    by_mail: Vec<(usize, usize)>,
    /// The users some reference names, each boxed so that it can be freed on its own
    /// (`None` once freed) while the list stays.
    users: Vec<Option<Box<Kept>>>,
    /// (address, holder) for each holder of a wanted address.
    holders: Vec<(usize, AddressHolder)>,
}

impl Matches {
    fn new(wanted: &Wanted) -> Matches {
        Matches {
            direct: vec![None; wanted.references.len()],
            by_mail: Vec::new(),
            users: Vec::new(),
            holders: Vec::new(),
        }
    }

    fn take_users(&mut self, page: Vec<User>, wanted: &Wanted) {
        for user in page {
            let index = self.users.len();
            let mut keep = false;
            let id = user.id.to_lowercase();
            let upn = user.user_principal_name.as_deref().map(str::to_lowercase);
            for key in [Some(&id), upn.as_ref()].into_iter().flatten() {
                if let Some(reference) = wanted.reference(key) {
                    self.direct[reference] = Some(index);
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
                if let Some(reference) = wanted.reference(address) {
                    self.by_mail.push((reference, index));
                    keep = true;
                }
            }
            let others: Vec<String> = user.other_mails.iter().map(|m| m.to_lowercase()).collect();
            let held: BTreeSet<&String> = upn
                .iter()
                .chain(as_mail.iter().copied())
                .chain(others.iter())
                .collect();
            for address in held {
                if let Some(at) = wanted.address(address) {
                    self.holders.push((at, user_holder(address, &user)));
                }
            }
            if keep {
                self.users.push(Some(Box::new(Kept {
                    facts: user_facts(&user),
                    roles: None,
                })));
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
                .collect();
            for address in held {
                if let Some(at) = wanted.address(&address) {
                    let holder = crate::facts::object_holder(&address, &object, kind);
                    self.holders.push((at, holder));
                }
            }
        }
    }
}

/// How a wanted reference resolved.
enum Resolved {
    NotFound,
    /// The kept user it names.
    Found(usize),
    /// The ids of the users it names, sorted.
    Ambiguous(Vec<String>),
}

/// The tenant as the rows see it, in the same order whatever order Graph answered in
/// (roles, holders and ambiguous ids sorted as [`crate::facts`] sorts the lookup's).
struct Snapshot {
    verified_domains: Vec<String>,
    wanted: Wanted,
    /// Per wanted reference.
    resolved: Vec<Resolved>,
    /// The kept users, by index (`None` once freed).
    users: Vec<Option<Box<Kept>>>,
    /// Per wanted address that someone holds, by address index: its holders.
    holders: Vec<(usize, Vec<AddressHolder>)>,
    /// The pre-flight's tenant-wide facts and findings.
    preflight: Preflight,
    /// The eligible roles of the found users who have some, by object id.
    eligible: HashMap<String, Vec<String>>,
    /// Found users whose eligibilities could not be read, by object id.
    eligibility_failures: HashMap<String, String>,
    /// The role-assignable groups of the found users who are in some, by object id.
    role_groups: HashMap<String, Vec<RoleGroupLink>>,
    /// Why role-assignable groups could not be read (it concerns every found user).
    role_group_failure: Option<String>,
}

/// Reads the tenant once and builds the facts for `rows`.
pub async fn gather(
    client: &GraphClient,
    rows: &[InputRow],
    verified_domains: Vec<String>,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Facts, FactsError> {
    Ok(read(client, rows, verified_domains, progress)
        .await?
        .into_facts())
}

/// Reads the tenant once and decides every row, as [`plan::plan`] would from the
/// facts [`gather`] builds, holding far less at once (see the module documentation).
pub(crate) async fn plan(
    client: &GraphClient,
    rows: &[InputRow],
    verified_domains: Vec<String>,
    options: &PlanOptions,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Plan, FactsError> {
    Ok(read(client, rows, verified_domains, progress)
        .await?
        .plan(rows, options))
}

async fn read(
    client: &GraphClient,
    rows: &[InputRow],
    verified_domains: Vec<String>,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Snapshot, FactsError> {
    let wanted = Wanted::new(rows);
    let mut pages = 0;
    let tick = |pages: &mut usize| {
        *pages += 1;
        // The total is unknown until the last page: show pages read so far.
        progress(FactsProgress {
            done: *pages,
            total: *pages + 1,
        });
    };
    let mut matches = Matches::new(&wanted);
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

    let mut snapshot = matches.resolve(wanted, verified_domains);
    read_roles(client, &mut snapshot).await?;
    read_preflight(client, rows, &mut snapshot).await?;
    progress(FactsProgress {
        done: pages + 1,
        total: pages + 1,
    });
    Ok(snapshot)
}

impl Matches {
    /// Resolves each wanted reference as `GET /users/{ref}` and then the mail filter
    /// would, and groups the holders by address.
    fn resolve(self, wanted: Wanted, verified_domains: Vec<String>) -> Snapshot {
        let Matches {
            direct,
            mut by_mail,
            users,
            mut holders,
        } = self;
        // Stable sorts: each reference's users stay in page order, as a map of lists
        // would hold them.
        by_mail.sort_by_key(|&(reference, _)| reference);
        let mut by_mail = by_mail.as_slice();
        let resolved = wanted
            .references
            .iter()
            .zip(direct)
            .enumerate()
            .map(|(index, (reference, direct))| {
                let end = by_mail.partition_point(|&(r, _)| r == index);
                let (mine, rest) = by_mail.split_at(end);
                by_mail = rest;
                if let Some(user) = direct {
                    Resolved::Found(user)
                } else if looks_like_object_id(reference) || !reference.contains('@') {
                    Resolved::NotFound
                } else {
                    match mine {
                        [] => Resolved::NotFound,
                        [(_, user)] => Resolved::Found(*user),
                        many => {
                            let mut ids: Vec<String> = many
                                .iter()
                                .filter_map(|&(_, user)| users.get(user)?.as_deref())
                                .map(|kept| kept.facts.id.clone())
                                .collect();
                            ids.sort();
                            Resolved::Ambiguous(ids)
                        }
                    }
                }
            })
            .collect();
        holders.sort_by(|(a, x), (b, y)| (a, x.kind as u8, &x.id).cmp(&(b, y.kind as u8, &y.id)));
        let mut grouped: Vec<(usize, Vec<AddressHolder>)> = Vec::new();
        for (address, holder) in holders {
            match grouped.last_mut() {
                Some((last, list)) if *last == address => list.push(holder),
                _ => grouped.push((address, vec![holder])),
            }
        }
        Snapshot {
            verified_domains,
            wanted,
            resolved,
            users,
            holders: grouped,
            preflight: Preflight::default(),
            eligible: HashMap::new(),
            eligibility_failures: HashMap::new(),
            role_groups: HashMap::new(),
            role_group_failure: None,
        }
    }
}

/// Reads the roles of every user a reference resolved to, from the tenant's directory
/// roles.
async fn read_roles(client: &GraphClient, snapshot: &mut Snapshot) -> Result<(), FactsError> {
    let mut found = vec![false; snapshot.users.len()];
    for resolved in &snapshot.resolved {
        if let Resolved::Found(user) = resolved
            && let Some(flag) = found.get_mut(*user)
        {
            *flag = true;
        }
    }
    let roles = client
        .list_directory_roles()
        .await
        .map_err(context("the tenant's directory roles"))?;
    // Member id (lower case) → the names of the roles it holds: as small as the
    // role memberships, whatever the number of users.
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
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
            if is_user {
                held.entry(member.id.to_lowercase())
                    .or_default()
                    .push(name.clone());
            } else {
                only_users = false;
            }
        }
    }
    let found_users = snapshot
        .users
        .iter_mut()
        .zip(found)
        .filter_map(|(kept, found)| kept.as_deref_mut().filter(|_| found));
    if !only_users {
        // A group holds a role: its members' roles are only visible transitively.
        let (kept, ids): (Vec<&mut Kept>, Vec<String>) = found_users
            .map(|kept| {
                let id = kept.facts.id.clone();
                (kept, id)
            })
            .unzip();
        let answers = crate::lookup::roles_of(client, &ids, 8, &|| {}).await;
        for (kept, answer) in kept.into_iter().zip(answers) {
            kept.roles = Some(answer.map(sorted));
        }
        return Ok(());
    }
    for kept in found_users {
        let names = held
            .get(&kept.facts.id.to_lowercase())
            .cloned()
            .unwrap_or_default();
        kept.roles = Some(Ok(sorted(names)));
    }
    Ok(())
}

/// Reads the pre-flight's facts for the users the rows resolved to.
async fn read_preflight(
    client: &GraphClient,
    rows: &[InputRow],
    snapshot: &mut Snapshot,
) -> Result<(), FactsError> {
    let (checks, eligibilities) = {
        // Borrowed, not copied: a large input resolves to as many users.
        let mut found: Vec<&str> = snapshot
            .resolved
            .iter()
            .filter_map(|r| match r {
                Resolved::Found(user) => snapshot.users.get(*user)?.as_deref(),
                _ => None,
            })
            .map(|kept| kept.facts.id.as_str())
            .collect();
        found.sort_unstable();
        found.dedup();
        let mut checks =
            policy_reads::read_tenant_checks(client, rows, &snapshot.verified_domains, &found)
                .await?;
        let eligibilities =
            policy_reads::read_all_eligibilities(client, &found, &mut checks.preflight).await?;
        (checks, eligibilities)
    };
    snapshot.preflight = checks.preflight;
    snapshot.preflight.sort_findings();
    snapshot.eligible = eligibilities.roles;
    snapshot.eligibility_failures = eligibilities.failures;
    snapshot.role_groups = checks.role_groups;
    snapshot.role_group_failure = checks.role_group_failure;
    Ok(())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

impl Snapshot {
    /// The facts as [`Facts`], as the lookup strategy builds them.
    fn into_facts(self) -> Facts {
        let mut facts = Facts {
            verified_domains: self.verified_domains,
            eligible_roles: self.eligible,
            eligibility_failures: self.eligibility_failures,
            role_groups: self.role_groups,
            preflight: self.preflight,
            ..Facts::default()
        };
        for (reference, resolved) in self.wanted.references.iter().zip(&self.resolved) {
            let lookup = match resolved {
                Resolved::NotFound => Lookup::NotFound,
                Resolved::Found(user) => match self.users.get(*user).and_then(Option::as_deref) {
                    Some(kept) => Lookup::Found {
                        id: kept.facts.id.clone(),
                    },
                    None => Lookup::NotFound,
                },
                Resolved::Ambiguous(ids) => Lookup::Ambiguous { ids: ids.clone() },
            };
            facts.lookups.insert(reference.to_string(), lookup);
        }
        let mut holders = self.holders.into_iter().peekable();
        for (index, address) in self.wanted.addresses.iter().enumerate() {
            let held = holders
                .next_if(|(at, _)| *at == index)
                .map(|(_, list)| list)
                .unwrap_or_default();
            facts.address_holders.insert(address.to_string(), held);
        }
        if let Some(error) = &self.role_group_failure {
            for resolved in &self.resolved {
                if let Resolved::Found(user) = resolved
                    && let Some(kept) = self.users.get(*user).and_then(Option::as_deref)
                {
                    facts
                        .role_group_failures
                        .insert(kept.facts.id.clone(), error.clone());
                }
            }
        }
        for kept in self.users.into_iter().flatten() {
            let Kept { facts: user, roles } = *kept;
            match roles {
                Some(Ok(names)) => {
                    facts.roles.insert(user.id.clone(), names);
                }
                Some(Err(error)) => {
                    facts.role_failures.insert(user.id.clone(), error);
                }
                None => {}
            }
            facts.users.insert(user.id.clone(), user);
        }
        facts
    }

    /// Decides every row, one at a time, freeing each user once the last row naming it
    /// is decided.
    fn plan(self, rows: &[InputRow], options: &PlanOptions) -> Plan {
        let Snapshot {
            verified_domains,
            wanted,
            resolved,
            mut users,
            holders,
            preflight,
            eligible,
            eligibility_failures,
            role_groups,
            role_group_failure,
        } = self;
        // Each row's reference and address by index; the sorted keys can then go.
        let keys: Vec<(Option<usize>, Option<usize>)> = rows
            .iter()
            .map(|row| {
                (
                    wanted.reference(&reference_key(&row.user)),
                    wanted.address(&address_key(&row.external_email)),
                )
            })
            .collect();
        drop(wanted);
        let resolution = |index: usize| keys[index].0.and_then(|r| resolved.get(r));
        let found = |index: usize| match resolution(index) {
            Some(Resolved::Found(user)) => Some(*user),
            _ => None,
        };
        // The last row naming each user: once it is decided, the user can go.
        let mut last = vec![0; users.len()];
        for index in 0..rows.len() {
            if let Some(user) = found(index)
                && let Some(slot) = last.get_mut(user)
            {
                *slot = index;
            }
        }
        let duplicates = plan::duplicate_rows(rows, |index, row| {
            match found(index).and_then(|user| users.get(user)?.as_deref()) {
                Some(kept) => found_user_key(&kept.facts.id),
                None => unresolved_user_key(reference_key(&row.user)),
            }
        });
        let mut entries = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let user = found(index);
            let kept = user.and_then(|user| users.get(user)?.as_deref());
            let lookup = resolution(index).map(|resolved| match resolved {
                Resolved::NotFound => Lookup::NotFound,
                Resolved::Found(_) => match kept {
                    Some(kept) => Lookup::Found {
                        id: kept.facts.id.clone(),
                    },
                    None => Lookup::NotFound,
                },
                Resolved::Ambiguous(ids) => Lookup::Ambiguous { ids: ids.clone() },
            });
            let (roles, role_failure) = match kept.and_then(|kept| kept.roles.as_ref()) {
                Some(Ok(names)) => (Some(names.as_slice()), None),
                Some(Err(error)) => (None, Some(error.as_str())),
                None => (None, None),
            };
            let held = keys[index].1.map(|address| {
                holders
                    .binary_search_by_key(&address, |(at, _)| *at)
                    .map_or(&[][..], |at| holders[at].1.as_slice())
            });
            let id = kept.map(|kept| &kept.facts.id);
            let facts = RowFacts {
                verified_domains: &verified_domains,
                lookup: lookup.as_ref(),
                user: kept.map(|kept| &kept.facts),
                roles,
                role_failure,
                holders: held,
                address_failure: None,
                eligible_roles: id.and_then(|id| eligible.get(id)).map(Vec::as_slice),
                eligibility_failure: id
                    .and_then(|id| eligibility_failures.get(id))
                    .map(String::as_str),
                role_groups: id.and_then(|id| role_groups.get(id)).map(Vec::as_slice),
                role_group_failure: id.and(role_group_failure.as_deref()),
                preflight: &preflight,
            };
            entries.push(plan::decide(row, duplicates.get(&index), &facts, options));
            if let Some(user) = user
                && last.get(user) == Some(&index)
                && let Some(slot) = users.get_mut(user)
            {
                *slot = None;
            }
        }
        Plan {
            entries,
            findings: preflight.findings,
        }
    }
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

    /// Users, groups and contacts whose ids, UPNs, mails, proxy and other addresses
    /// collide with the rows' references and addresses in every way Graph matches them,
    /// and rows naming them (twice, ambiguously, not at all).
    fn tenant() -> (
        Vec<User>,
        Vec<DirectoryObject>,
        Vec<DirectoryObject>,
        Vec<InputRow>,
    ) {
        let id = |i: usize| format!("c0000000-0000-4000-8000-{i:012}");
        let users: Vec<serde_json::Value> = (1..=40)
            .map(|i| {
                let mut user = serde_json::json!({
                    "id": id(i),
                    "displayName": format!("User {i}"),
                    "userPrincipalName": format!("user{i}@contoso.com"),
                    "mail": if i % 3 == 0 { None } else { Some(format!("User{i}@Contoso.com")) },
                    "userType": "Member",
                    "accountEnabled": i % 11 != 0,
                });
                if i % 5 == 0 {
                    user["proxyAddresses"] = serde_json::json!([
                        format!("SMTP:user{i}@contoso.com"),
                        format!("smtp:alias{i}@contoso.com"),
                    ]);
                }
                if i % 7 == 0 {
                    user["otherMails"] =
                        serde_json::json!([format!("Partner{}@Fabrikam.com", i + 1)]);
                }
                if i % 13 == 0 {
                    user["proxyAddresses"] = serde_json::json!(["smtp:shared@contoso.com"]);
                }
                if i % 17 == 0 {
                    user["externalUserState"] = serde_json::json!("PendingAcceptance");
                }
                user
            })
            .collect();
        let users: Vec<User> = serde_json::from_value(users.into()).unwrap();
        let groups: Vec<DirectoryObject> = serde_json::from_value(serde_json::json!([{
            "id": "e1000000-0000-4000-8000-000000000001",
            "displayName": "Partners",
            "mail": "partner4@fabrikam.com",
            "proxyAddresses": ["SMTP:partner4@fabrikam.com", "smtp:partner8@fabrikam.com"]
        }]))
        .unwrap();
        let contacts: Vec<DirectoryObject> = serde_json::from_value(serde_json::json!([{
            "id": "f1000000-0000-4000-8000-000000000001",
            "displayName": "Contact",
            "mail": "partner9@fabrikam.com",
            "proxyAddresses": ["SMTP:partner9@fabrikam.com"]
        }]))
        .unwrap();
        let row = |line: usize, user: String, external: String| InputRow {
            line: line as u64,
            user,
            external_email: external,
            redirect_url: None,
            send_email: None,
            revoke_sessions: None,
            message: None,
            cc: None,
            language: None,
        };
        let mut rows: Vec<InputRow> = (1..=40)
            .map(|i| {
                let reference = match i % 4 {
                    0 => id(i).to_uppercase(),
                    1 => format!("USER{i}@contoso.com"),
                    2 if i % 5 == 0 => format!("alias{i}@contoso.com"),
                    2 => format!("User{i}@Contoso.com"),
                    _ => format!(" user{i}@contoso.com "),
                };
                row(i + 1, reference, format!("partner{i}@fabrikam.com"))
            })
            .collect();
        rows.push(row(
            42,
            "shared@contoso.com".into(),
            "shared@fabrikam.com".into(),
        ));
        rows.push(row(
            43,
            "nobody@contoso.com".into(),
            "nobody@fabrikam.com".into(),
        ));
        rows.push(row(44, id(3), "Partner3@Fabrikam.com".into()));
        rows.push(row(45, "user6@contoso.com".into(), "not an address".into()));
        rows.push(row(
            46,
            "user10@contoso.com".into(),
            "x@eu.contoso.com".into(),
        ));
        (users, groups, contacts, rows)
    }

    /// The snapshot of [`tenant`], users on two pages, roles as [`read_roles`] leaves
    /// them: one user an administrator, one whose roles could not be read.
    fn snapshot(rows: &[InputRow]) -> Snapshot {
        let (mut users, groups, contacts, _) = tenant();
        let wanted = Wanted::new(rows);
        let mut matches = Matches::new(&wanted);
        let second = users.split_off(20);
        matches.take_users(users, &wanted);
        matches.take_users(second, &wanted);
        matches.take_objects(groups, HolderKind::Group, &wanted);
        matches.take_objects(contacts, HolderKind::OrgContact, &wanted);
        let mut snapshot = matches.resolve(
            wanted,
            vec!["contoso.onmicrosoft.com".into(), "contoso.com".into()],
        );
        let found: Vec<usize> = snapshot
            .resolved
            .iter()
            .filter_map(|r| match r {
                Resolved::Found(user) => Some(*user),
                _ => None,
            })
            .collect();
        for user in found {
            let kept = snapshot.users[user].as_deref_mut().unwrap();
            kept.roles = Some(match kept.facts.id.as_str() {
                "c0000000-0000-4000-8000-000000000002" => Ok(vec!["User Administrator".into()]),
                "c0000000-0000-4000-8000-000000000006" => Err("429 tooManyRequests".into()),
                _ => Ok(vec![]),
            });
        }
        // The pre-flight's per-user facts, so that both ways of planning are compared
        // on them too: an eligible admin, an unreadable eligibility, a role-group member.
        let id = |i: usize| format!("c0000000-0000-4000-8000-{i:012}");
        snapshot
            .eligible
            .insert(id(1), vec!["Global Administrator".into()]);
        snapshot
            .eligibility_failures
            .insert(id(4), "403 Authorization_RequestDenied".into());
        snapshot.role_groups.insert(
            id(8),
            vec![RoleGroupLink {
                group: "Tier 0".into(),
                owner: false,
            }],
        );
        snapshot
    }

    #[test]
    fn deciding_row_by_row_matches_planning_from_the_facts() {
        let (_, _, _, rows) = tenant();
        let options = PlanOptions::new("8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c");
        let streamed = snapshot(&rows).plan(&rows, &options);
        let facts = snapshot(&rows).into_facts();
        assert_eq!(streamed, plan::plan(&rows, &facts, &options));
        // The tenant really exercises the rules compared.
        let codes: BTreeSet<&str> = streamed
            .entries
            .iter()
            .flat_map(|e| e.reasons.iter().map(|r| r.code.as_str()))
            .collect();
        for code in [
            "email_in_use",
            "ambiguous_user",
            "not_found",
            "duplicate_row",
            "privileged_role",
            "lookup_failed",
            "account_disabled",
            "already_invited",
            "invalid_email",
            "external_domain_is_verified",
            "role_assignable_group",
        ] {
            assert!(codes.contains(code), "no {code} in {codes:?}");
        }
        // Each pre-flight fact reached its row, both ways.
        let reasons_of = |row: u64| -> Vec<&str> {
            streamed
                .entries
                .iter()
                .find(|e| e.row == row)
                .map(|e| e.reasons.iter().map(|r| r.code.as_str()).collect())
                .unwrap_or_default()
        };
        assert!(
            reasons_of(2).contains(&"privileged_role"),
            "{:?}",
            reasons_of(2)
        );
        assert!(
            reasons_of(5).contains(&"lookup_failed"),
            "{:?}",
            reasons_of(5)
        );
        assert!(
            reasons_of(9).contains(&"role_assignable_group"),
            "{:?}",
            reasons_of(9)
        );
        assert!(
            streamed
                .entries
                .iter()
                .any(|e| e.decision == plan::Decision::Convert)
        );
    }
}
