//! Reading what the planner needs from Microsoft Graph: the verified domains, each input
//! row's user, who already holds each external address, and each user's directory roles.
//!
//! Read-only. Requests run concurrently (bounded) and each distinct reference or address
//! is read once however many rows name it. The client retries Graph's passing faults;
//! a read that still fails is recorded against the rows it concerns, which the planner
//! decides `lookup_failed` (never eligible: a partial read could hide a privileged or
//! colliding user). Only a tenant-wide read (the domains) stops planning.
//!
//! Queries (least privilege: `Directory.Read.All`, or `User.Read.All` + `Domain.Read.All` +
//! `Group.Read.All` + `OrgContact.Read.All`):
//! - `GET /domains`;
//! - `GET /users/{id or UPN}`, then for an address that is not a UPN
//!   `GET /users?$filter=mail eq '…' or proxyAddresses/any(p:p eq 'smtp:…')`;
//! - for each external address, Microsoft's own existence check (`customize-invitation-api.md`)
//!   on users, and `mail`/`proxyAddresses` on groups and contacts;
//! - `GET /users/{id}/transitiveMemberOf/microsoft.graph.directoryRole` (roles held
//!   directly or through role-assignable groups; PIM-eligible roles are not activated
//!   memberships and are not seen).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use b2b_graph::model::{DirectoryObject, User};
use b2b_graph::{GraphClient, GraphError, ListQuery, USER_FACTS_SELECT, odata_string};
use futures::stream::{self, StreamExt};

use crate::email;
use crate::input::InputRow;
use crate::plan::{
    self, AddressHolder, Facts, HolderKind, Lookup, Plan, PlanOptions, UserFacts, reference_key,
};
use crate::vocabulary::InvitationState;

/// A Graph failure while reading facts, with what was being read.
#[derive(Debug, thiserror::Error)]
#[error("while reading {what}: {source}")]
pub struct FactsError {
    /// What was being read (names the user or address).
    pub what: String,
    /// Graph's error (with its code and request-id).
    #[source]
    pub source: GraphError,
}

pub(crate) fn context(what: impl Into<String>) -> impl FnOnce(GraphError) -> FactsError {
    let what = what.into();
    move |source| FactsError { what, source }
}

/// Progress of fact gathering, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactsProgress {
    /// Lookups done.
    pub done: usize,
    /// Lookups in all.
    pub total: usize,
}

/// How the facts are read: the tenant once, or per row. Both give the same facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Snapshot when the input is large against the tenant, lookup otherwise.
    #[default]
    Auto,
    /// Read every user, group and contact once, page by page ([`crate::snapshot`]).
    Snapshot,
    /// Read what each row names (five requests or so per row).
    Lookup,
}

/// The strategy `Auto` picks for `rows` input rows and a tenant of `users` users: a
/// snapshot costs one request per 999 users, a lookup about five per row, so the
/// snapshot wins once the tenant's pages are fewer than twice the rows.
pub fn choose(rows: usize, users: u64) -> Strategy {
    let pages = users.div_ceil(999);
    if pages <= 2 * rows as u64 {
        Strategy::Snapshot
    } else {
        Strategy::Lookup
    }
}

/// Reads what the planner needs for `rows` and decides every row: what `plan`, `apply`
/// and `demo` all do before anything is changed.
pub async fn plan_rows(
    client: &GraphClient,
    rows: &[InputRow],
    options: &PlanOptions,
    strategy: Strategy,
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Plan, FactsError> {
    let facts = gather_with(client, rows, strategy, concurrency, progress).await?;
    Ok(plan::plan(rows, &facts, options))
}

/// Reads the facts for `rows` with `strategy` (resolving `Auto` by counting users).
pub async fn gather_with(
    client: &GraphClient,
    rows: &[InputRow],
    strategy: Strategy,
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Facts, FactsError> {
    let strategy = match strategy {
        Strategy::Auto => match client.count_users().await {
            Ok(users) => {
                let chosen = choose(rows.len(), users);
                tracing::info!(
                    "planning: {chosen:?} ({} rows against a tenant of {users} users)",
                    rows.len()
                );
                chosen
            }
            Err(error) => {
                tracing::info!("planning: Lookup (the users could not be counted: {error})");
                Strategy::Lookup
            }
        },
        chosen => {
            tracing::info!("planning: {chosen:?} (as asked)");
            chosen
        }
    };
    let mut facts = match strategy {
        Strategy::Snapshot => {
            let domains = verified_domains(client).await?;
            crate::snapshot::gather(client, rows, domains, progress).await?
        }
        Strategy::Auto | Strategy::Lookup => gather(client, rows, concurrency, progress).await?,
    };
    normalise(&mut facts);
    Ok(facts)
}

/// Puts the facts in one order whatever order Graph answered in, so both strategies
/// (and two runs) give the same plan, word for word.
fn normalise(facts: &mut Facts) {
    for names in facts.roles.values_mut() {
        names.sort();
    }
    for holders in facts.address_holders.values_mut() {
        holders.sort_by(|a, b| (a.kind as u8, &a.id).cmp(&(b.kind as u8, &b.id)));
    }
    for lookup in facts.lookups.values_mut() {
        if let Lookup::Ambiguous { ids } = lookup {
            ids.sort();
        }
    }
}

/// The tenant's verified domains, lower case: a tenant-wide read, so a failure stops
/// planning (without it no row can be checked against them).
async fn verified_domains(client: &GraphClient) -> Result<Vec<String>, FactsError> {
    Ok(client
        .list_domains()
        .await
        .map_err(context("the tenant's domains"))?
        .into_iter()
        .filter(|d| d.is_verified)
        .map(|d| d.id.to_lowercase())
        .collect())
}

/// Reads every fact the planner needs for `rows`.
pub async fn gather(
    client: &GraphClient,
    rows: &[InputRow],
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Facts, FactsError> {
    let concurrency = concurrency.max(1);
    let verified_domains = verified_domains(client).await?;

    let references: BTreeSet<String> = rows.iter().map(|r| reference_key(&r.user)).collect();
    let addresses: BTreeSet<String> = rows
        .iter()
        .map(|r| r.external_email.trim().to_lowercase())
        .filter(|a| email::check_address(a).is_ok())
        .collect();
    // Until the references are resolved, assume each finds a user whose roles are read;
    // the total is corrected once the lookups are done, so the bar ends at its length.
    let total = AtomicUsize::new(references.len() * 2 + addresses.len());
    let done = AtomicUsize::new(0);
    let tick = || {
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = total.load(Ordering::Relaxed);
        progress(FactsProgress { done, total });
    };
    let lookups = references.len();

    // A read that still fails after the client's retries costs that row only (it is
    // decided `lookup_failed`); the rest of the plan goes on.
    let resolved: Vec<(String, Resolved)> = stream::iter(references)
        .map(|reference| async {
            let result = resolve(client, &reference).await;
            tick();
            (reference, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let mut facts = Facts {
        verified_domains,
        ..Facts::default()
    };
    for (reference, result) in resolved {
        let lookup = match result {
            Ok((lookup, users)) => {
                for user in users {
                    facts.users.insert(user.id.clone(), user_facts(&user));
                }
                lookup
            }
            Err(error) => Lookup::Failed {
                error: error.source.to_string(),
            },
        };
        facts.lookups.insert(reference, lookup);
    }

    let addresses_count = addresses.len();
    let holders: Vec<(String, Result<Vec<AddressHolder>, FactsError>)> = stream::iter(addresses)
        .map(|address| async {
            let result = address_holders(client, &address).await;
            tick();
            (address, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (address, result) in holders {
        match result {
            Ok(holders) => {
                facts.address_holders.insert(address, holders);
            }
            Err(error) => {
                facts
                    .address_failures
                    .insert(address, error.source.to_string());
            }
        }
    }

    let found: Vec<String> = facts
        .lookups
        .values()
        .filter_map(|l| match l {
            Lookup::Found { id } => Some(id.clone()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    total.store(lookups + addresses_count + found.len(), Ordering::Relaxed);
    read_roles_per_user(client, found, concurrency, &mut facts, &tick).await;
    Ok(facts)
}

/// Reads each user's roles (`transitiveMemberOf/microsoft.graph.directoryRole`); a user
/// whose roles can't be read is recorded as a failure, which the planner blocks.
pub(crate) async fn read_roles_per_user(
    client: &GraphClient,
    ids: Vec<String>,
    concurrency: usize,
    facts: &mut Facts,
    tick: &(dyn Fn() + Sync),
) {
    let roles: Vec<(String, Result<Vec<String>, GraphError>)> = stream::iter(ids)
        .map(|id| async {
            let roles = client.user_directory_roles(&id).await;
            tick();
            let names = roles.map(|roles| {
                roles
                    .into_iter()
                    .map(|r| r.display_name.unwrap_or(r.id))
                    .collect()
            });
            (id, names)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (id, result) in roles {
        match result {
            Ok(names) => {
                facts.roles.insert(id, names);
            }
            Err(error) => {
                facts.role_failures.insert(id, error.to_string());
            }
        }
    }
}

/// How one reference resolved, with the users read on the way.
type Resolved = Result<(Lookup, Vec<User>), FactsError>;

pub(crate) fn looks_like_object_id(reference: &str) -> bool {
    uuid::Uuid::parse_str(reference).is_ok()
}

/// Resolves one reference: an object id or UPN directly, then an address by mail or
/// proxy address.
async fn resolve(client: &GraphClient, reference: &str) -> Resolved {
    let what = || format!("user `{reference}`");
    if let Some(user) = client
        .get_user(reference, USER_FACTS_SELECT)
        .await
        .map_err(context(what()))?
    {
        return Ok((
            Lookup::Found {
                id: user.id.clone(),
            },
            vec![user],
        ));
    }
    if looks_like_object_id(reference) || !reference.contains('@') {
        return Ok((Lookup::NotFound, vec![]));
    }
    let filter = format!(
        "mail eq {address} or proxyAddresses/any(p:p eq {smtp})",
        address = odata_string(reference),
        smtp = odata_string(&format!("smtp:{reference}")),
    );
    let users = client
        .list_users(&ListQuery {
            filter: Some(filter),
            select: USER_FACTS_SELECT.iter().map(|s| (*s).to_owned()).collect(),
            top: Some(10),
            advanced: false,
        })
        .await
        .map_err(context(what()))?;
    Ok(match users.len() {
        0 => (Lookup::NotFound, users),
        1 => (
            Lookup::Found {
                id: users[0].id.clone(),
            },
            users,
        ),
        _ => (
            Lookup::Ambiguous {
                ids: users.iter().map(|u| u.id.clone()).collect(),
            },
            users,
        ),
    })
}

/// Every user, group and contact holding `address`, and in which property.
async fn address_holders(
    client: &GraphClient,
    address: &str,
) -> Result<Vec<AddressHolder>, FactsError> {
    let what = || format!("who holds `{address}`");
    let quoted = odata_string(address);
    let smtp = odata_string(&format!("smtp:{address}"));
    let users = client
        .list_users(&ListQuery {
            filter: Some(format!(
                "userPrincipalName eq {quoted} or mail eq {quoted} or proxyAddresses/any(x:x eq {smtp}) or otherMails/any(x:x eq {quoted})"
            )),
            select: ["id", "displayName", "userPrincipalName", "mail", "proxyAddresses", "otherMails"]
                .map(String::from)
                .to_vec(),
            top: Some(999),
            advanced: false,
        })
        .await
        .map_err(context(what()))?;
    let object_query = ListQuery {
        filter: Some(format!(
            "mail eq {quoted} or proxyAddresses/any(x:x eq {smtp})"
        )),
        select: ["id", "displayName", "mail", "proxyAddresses"]
            .map(String::from)
            .to_vec(),
        top: Some(999),
        advanced: false,
    };
    let groups = client
        .list_groups(&object_query)
        .await
        .map_err(context(what()))?;
    let contacts = client
        .list_org_contacts(&object_query)
        .await
        .map_err(context(what()))?;

    let mut holders = Vec::new();
    for user in &users {
        holders.push(AddressHolder {
            id: user.id.clone(),
            kind: HolderKind::User,
            display_name: user.display_name.clone(),
            property: holding_property(
                address,
                user.user_principal_name.as_deref(),
                user.mail.as_deref(),
                &user.proxy_addresses,
                &user.other_mails,
            ),
        });
    }
    for (objects, kind) in [
        (groups, HolderKind::Group),
        (contacts, HolderKind::OrgContact),
    ] {
        for object in objects {
            holders.push(object_holder(address, &object, kind));
        }
    }
    Ok(holders)
}

pub(crate) fn object_holder(
    address: &str,
    object: &DirectoryObject,
    kind: HolderKind,
) -> AddressHolder {
    AddressHolder {
        id: object.id.clone(),
        kind,
        display_name: object.display_name.clone(),
        property: holding_property(
            address,
            object.user_principal_name.as_deref(),
            object.mail.as_deref(),
            &object.proxy_addresses,
            &object.other_mails,
        ),
    }
}

/// Names the property that holds the address (the first that matches).
pub(crate) fn holding_property(
    address: &str,
    upn: Option<&str>,
    mail: Option<&str>,
    proxy_addresses: &[String],
    other_mails: &[String],
) -> String {
    let same = |value: &str| email::same_address(value, address);
    if upn.is_some_and(same) {
        "userPrincipalName".into()
    } else if mail.is_some_and(same) {
        "mail".into()
    } else if proxy_addresses
        .iter()
        .any(|p| p.split_once(':').is_some_and(|(_, a)| same(a)))
    {
        "proxyAddresses".into()
    } else if other_mails.iter().any(|m| same(m)) {
        "otherMails".into()
    } else {
        // Graph matched it by a rule this tool doesn't model; still a holder.
        "an address property".into()
    }
}

/// The planner's view of a Graph user.
pub fn user_facts(user: &User) -> UserFacts {
    UserFacts {
        id: user.id.clone(),
        display_name: user.display_name.clone(),
        user_principal_name: user.user_principal_name.clone(),
        mail: user.mail.clone(),
        user_type: user.user_type.clone(),
        account_enabled: user.account_enabled,
        creation_type: user.creation_type.clone(),
        on_premises_sync_enabled: user.on_premises_sync_enabled,
        on_premises_user_principal_name: user.on_premises_user_principal_name.clone(),
        external_user_state: InvitationState::from_graph(user.external_user_state.as_deref()),
        has_external_identity: user.identities.iter().any(|i| {
            i.sign_in_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("federated"))
        }),
        has_mailbox: user.has_exchange_mailbox(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_holding_property() {
        let proxies = vec!["SMTP:x@fabrikam.com".to_owned()];
        assert_eq!(
            holding_property("X@fabrikam.com", None, None, &proxies, &[]),
            "proxyAddresses"
        );
        assert_eq!(
            holding_property("a@b.com", Some("A@b.com"), Some("a@b.com"), &[], &[]),
            "userPrincipalName"
        );
        assert_eq!(
            holding_property("a@b.com", None, None, &[], &["a@B.com".into()]),
            "otherMails"
        );
    }

    #[test]
    fn object_ids_are_recognised() {
        assert!(looks_like_object_id("d0000000-0000-4000-8000-000000000001"));
        assert!(!looks_like_object_id("adele@contoso.com"));
    }
}
