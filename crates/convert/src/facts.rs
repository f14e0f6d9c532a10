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
//!   memberships and are not seen there).
//!
//! Then the pre-flight ([`crate::policy_reads`], each read with its own optional
//! permission, a refusal reported and planning going on): the invitation policies, the
//! Entra tenant of each partner domain and its cross-tenant access settings, PIM role
//! eligibilities and the members and owners of role-assignable groups.

use b2b_graph::model::{DirectoryObject, User};
use b2b_graph::{GraphClient, GraphError};

use crate::email;
use crate::input::InputRow;
use crate::plan::{self, AddressHolder, Facts, HolderKind, Lookup, Plan, PlanOptions, UserFacts};
use crate::vocabulary::InvitationState;

/// A Graph failure while reading facts, with what was being read.
#[derive(Debug, thiserror::Error)]
// The cause is the `source`, printed after this by any error chain (`{:#}`), never twice.
#[error("while reading {what}")]
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
///
/// The snapshot decides the rows as it hands over their facts, freeing them as it goes
/// (see [`crate::snapshot`]); the lookup, for an input small against its tenant,
/// gathers the [`Facts`] and plans from them. Both decide as [`plan::plan`] does.
pub async fn plan_rows(
    client: &GraphClient,
    rows: &[InputRow],
    options: &PlanOptions,
    strategy: Strategy,
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Plan, FactsError> {
    match resolve(client, rows, strategy).await {
        Strategy::Snapshot => {
            let domains = verified_domains(client).await?;
            crate::snapshot::plan(client, rows, domains, options, progress).await
        }
        Strategy::Auto | Strategy::Lookup => {
            let mut facts = gather(client, rows, concurrency, progress).await?;
            normalise(&mut facts);
            Ok(plan::plan(rows, &facts, options))
        }
    }
}

/// Reads the facts for `rows` with `strategy` (resolving `Auto` by counting users).
pub async fn gather_with(
    client: &GraphClient,
    rows: &[InputRow],
    strategy: Strategy,
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Facts, FactsError> {
    let mut facts = match resolve(client, rows, strategy).await {
        Strategy::Snapshot => {
            let domains = verified_domains(client).await?;
            crate::snapshot::gather(client, rows, domains, progress).await?
        }
        Strategy::Auto | Strategy::Lookup => gather(client, rows, concurrency, progress).await?,
    };
    normalise(&mut facts);
    Ok(facts)
}

/// The strategy to use: `Auto` resolved by counting the tenant's users.
async fn resolve(client: &GraphClient, rows: &[InputRow], strategy: Strategy) -> Strategy {
    match strategy {
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
    }
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
    facts.preflight.sort_findings();
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

/// Reads every fact the planner needs for `rows`, per row (the lookup strategy).
pub async fn gather(
    client: &GraphClient,
    rows: &[InputRow],
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Result<Facts, FactsError> {
    let verified_domains = verified_domains(client).await?;
    let mut facts =
        crate::lookup::gather(client, rows, verified_domains, concurrency, progress).await;
    let found: Vec<String> = facts
        .lookups
        .values()
        .filter_map(|l| match l {
            Lookup::Found { id } => Some(id.clone()),
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let ids: Vec<&str> = found.iter().map(String::as_str).collect();
    let checks =
        crate::policy_reads::read_tenant_checks(client, rows, &facts.verified_domains, &ids)
            .await?;
    // The eligibility read (per user, above) may have left a finding of its own.
    let earlier = std::mem::replace(&mut facts.preflight, checks.preflight);
    for finding in earlier.findings {
        facts.preflight.note(finding);
    }
    facts.role_groups = checks.role_groups;
    if let Some(error) = checks.role_group_failure {
        facts.role_group_failures = found.into_iter().map(|id| (id, error.clone())).collect();
    }
    Ok(facts)
}

pub(crate) fn looks_like_object_id(reference: &str) -> bool {
    uuid::Uuid::parse_str(reference).is_ok()
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

/// A user holding `address`, and in which property.
pub(crate) fn user_holder(address: &str, user: &User) -> AddressHolder {
    AddressHolder {
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
