//! Reading the pre-flight's facts from Graph ([`crate::preflight`] decides from them):
//! the tenant's invitation policies, the Entra tenant of each partner domain and its
//! cross-tenant access configuration, the members and owners of role-assignable
//! groups, and PIM role eligibilities.
//!
//! Everything but the eligibilities is read the same way whichever strategy plans, once
//! per run (`read_tenant_checks`): each policy once, each distinct partner domain and
//! partner tenant once (twenty to a `$batch`). Eligibilities are read as the strategy
//! reads the rest: all at once, paged (`read_all_eligibilities`, snapshot), or per user,
//! batched (`read_eligibilities_per_user`, lookup).
//!
//! Degrade, never fail: each read needs its own permission (see
//! [`crate::permissions::OPTIONAL_READS`]). A 403 records a [`Finding`] naming the check
//! and the permission, and planning goes on with that fact unknown. Another failure
//! after the client's retries is a finding too, except where a partial read could hide
//! an admin: eligibilities and role-assignable groups that could not be read block the
//! rows concerned (`lookup_failed`). Only a failure that stops any run (a wait longer
//! than allowed, a credential that no longer signs in) stops planning.
//!
//! Role-assignable groups are read from the groups' side: `GET /users/{id}/ownedObjects`
//! is not supported app-only, and relationship lists take no `$filter`. So the tool
//! lists `/groups?$filter=isAssignableToRole eq true` and reads each one's `members`
//! and `owners` (ids only; Graph returns minimal objects to a caller who may not read
//! their type, which still carry the id). A role-assignable group can't have groups as
//! members, so its direct members are its transitive ones.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use b2b_graph::model::DirectoryObject;
use b2b_graph::preflight::{RoleEligibilityScheduleInstance, TenantInformation};
use b2b_graph::{GraphClient, GraphError};

use crate::email;
use crate::facts::FactsError;
use crate::input::InputRow;
use crate::plan::{address_key, verified_domain};
use crate::preflight::{
    Check, CrossTenantSettings, DomainList, Finding, PartnerTenant, Preflight, RoleGroupLink,
    SharedTenant, email_otp_available,
};

/// What a read that failed means for planning.
enum Failure {
    /// The whole run must stop (and can be resumed): planning stops.
    Stop(GraphError),
    /// Graph refused it (403): the check is not made.
    Refused,
    /// It failed otherwise, even after retries.
    Failed(String),
}

fn failure(error: GraphError) -> Failure {
    if error.stops_run() {
        Failure::Stop(error)
    } else if error.status() == Some(403) {
        Failure::Refused
    } else {
        Failure::Failed(error.to_string())
    }
}

/// `Ok(Some(value))`, or the failure recorded as a finding of `check` (`Ok(None)`), or
/// the error that stops planning.
fn settle<T>(
    preflight: &mut Preflight,
    check: Check,
    answer: Result<T, GraphError>,
) -> Result<Option<T>, FactsError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(error) => match failure(error) {
            Failure::Stop(error) => Err(FactsError {
                what: check.what().to_owned(),
                source: error,
            }),
            Failure::Refused => {
                preflight.note(Finding::refused(check));
                Ok(None)
            }
            Failure::Failed(error) => {
                preflight.note(Finding::failed(check, error));
                Ok(None)
            }
        },
    }
}

/// What [`read_tenant_checks`] read.
pub(crate) struct TenantChecks {
    /// The policies and partner tenants, with the findings.
    pub preflight: Preflight,
    /// The role-assignable groups of each user in `found` who has some, by that id.
    pub role_groups: HashMap<String, Vec<RoleGroupLink>>,
    /// Why the role-assignable groups could not be read (they concern every user).
    pub role_group_failure: Option<String>,
}

/// The distinct partner domains the rows name: valid addresses outside this tenant's
/// verified domains, lower case, sorted.
fn partner_domains(rows: &[InputRow], verified_domains: &[String]) -> Vec<String> {
    rows.iter()
        .map(|row| address_key(&row.external_email))
        .filter(|address| email::check_address(address).is_ok())
        .filter_map(|address| email::domain_of(&address))
        .filter(|domain| verified_domain(domain, verified_domains).is_none())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Reads the tenant-wide facts and the partner tenants for `rows`; `found` are the
/// object ids of the users the rows resolved to (whose role-assignable groups matter).
pub(crate) async fn read_tenant_checks(
    client: &GraphClient,
    rows: &[InputRow],
    verified_domains: &[String],
    found: &[&str],
) -> Result<TenantChecks, FactsError> {
    let domains = partner_domains(rows, verified_domains);
    let (authorization, lists, default, email, tenants, groups) = futures::join!(
        client.authorization_policy(),
        client.b2b_management_policies(),
        client.cross_tenant_default(),
        client.email_authentication_method(),
        find_tenants(client, &domains),
        read_role_groups(client, found),
    );
    let mut preflight = Preflight::default();

    if let Some(policy) = settle(&mut preflight, Check::InvitationSettings, authorization)? {
        // Graph's default when the property is missing: anyone may invite.
        preflight.allow_invites_from = Some(
            policy
                .allow_invites_from
                .unwrap_or_else(|| "everyone".into()),
        );
    }
    if let Some(policies) = settle(&mut preflight, Check::DomainList, lists)? {
        let definitions = policies
            .iter()
            .flat_map(|p| p.definition.iter().flatten())
            .map(String::as_str);
        match DomainList::from_definitions(definitions) {
            Ok(list) => preflight.domain_list = Some(list),
            Err(error) => preflight.note(Finding::failed(Check::DomainList, error)),
        }
    }
    let default_read = settle(&mut preflight, Check::CrossTenantAccess, default)?;
    preflight.cross_tenant_default = default_read.as_ref().map(CrossTenantSettings::from);
    if let Some(config) = settle(&mut preflight, Check::EmailOtp, email)? {
        preflight.email_otp = Some(email_otp_available(&config));
    }

    // Each domain's tenant: a 404 is "no tenant", a refusal or failure leaves the
    // domain out (its redemption unknown).
    let mut tenant_ids = BTreeSet::new();
    if let Some(answers) = settle(&mut preflight, Check::PartnerTenants, tenants)? {
        for (domain, answer) in domains.into_iter().zip(answers) {
            if let Some(found) = settle(&mut preflight, Check::PartnerTenants, answer)? {
                let tenant = found.map(|info: TenantInformation| {
                    SharedTenant(Arc::new(PartnerTenant::from(&info)))
                });
                if let Some(tenant) = &tenant {
                    tenant_ids.insert(tenant.0.tenant_id.to_ascii_lowercase());
                }
                preflight.partner_tenants.insert(domain, tenant);
            }
        }
    }

    // Each partner tenant's configuration, once; only worth reading with the default
    // (its nulls inherit from it). A 404 is "no partner configuration".
    if preflight.cross_tenant_default.is_some() && !tenant_ids.is_empty() {
        let ids: Vec<String> = tenant_ids.into_iter().collect();
        let answers = client.cross_tenant_partners(&ids).await;
        if let Some(answers) = settle(&mut preflight, Check::CrossTenantAccess, answers)? {
            for (id, answer) in ids.into_iter().zip(answers) {
                if let Some(config) = settle(&mut preflight, Check::CrossTenantAccess, answer)? {
                    preflight
                        .cross_tenant_partners
                        .insert(id, config.as_ref().map(CrossTenantSettings::from));
                }
            }
        }
    }

    let (role_groups, role_group_failure) = match groups {
        Ok(links) => (links, None),
        Err(error) => match failure(error) {
            Failure::Stop(error) => {
                return Err(FactsError {
                    what: Check::RoleAssignableGroups.what().to_owned(),
                    source: error,
                });
            }
            Failure::Refused => {
                preflight.note(Finding::refused(Check::RoleAssignableGroups));
                (HashMap::new(), None)
            }
            Failure::Failed(error) => {
                preflight.note(Finding::failed(Check::RoleAssignableGroups, &error));
                (HashMap::new(), Some(error))
            }
        },
    };
    preflight.sort_findings();
    Ok(TenantChecks {
        preflight,
        role_groups,
        role_group_failure,
    })
}

/// The Entra tenant of each domain, in order (none to look up: no request).
async fn find_tenants(
    client: &GraphClient,
    domains: &[String],
) -> Result<Vec<Result<Option<TenantInformation>, GraphError>>, GraphError> {
    if domains.is_empty() {
        return Ok(Vec::new());
    }
    client.find_tenants_by_domain(domains).await
}

/// The role-assignable groups each user in `found` is a member or owner of, by the
/// user's id as given; the first failure of any read fails it all (a partial read
/// could hide a member).
async fn read_role_groups(
    client: &GraphClient,
    found: &[&str],
) -> Result<HashMap<String, Vec<RoleGroupLink>>, GraphError> {
    let mut links: HashMap<String, Vec<RoleGroupLink>> = HashMap::new();
    if found.is_empty() {
        return Ok(links);
    }
    let groups = client.role_assignable_groups().await?;
    if groups.is_empty() {
        return Ok(links);
    }
    // Built only when the tenant has role-assignable groups: a large input names many
    // users, and most tenants have few such groups.
    let by_id: HashMap<String, &str> = found
        .iter()
        .map(|id| (id.to_ascii_lowercase(), *id))
        .collect();
    let urls: Vec<(String, bool)> = groups
        .iter()
        .flat_map(|g| {
            ["members", "owners"]
                .map(|relationship| (client.group_relationship_url(&g.id, relationship), false))
        })
        .collect();
    let answers = client.get_collections::<DirectoryObject>(&urls).await?;
    let mut answers = answers.into_iter();
    for group in &groups {
        let name = group
            .display_name
            .clone()
            .unwrap_or_else(|| group.id.clone());
        for owner in [false, true] {
            let objects = answers.next().unwrap_or_else(|| Ok(Vec::new()))?;
            for object in objects {
                if let Some(id) = by_id.get(&object.id.to_ascii_lowercase()) {
                    links
                        .entry((*id).to_owned())
                        .or_default()
                        .push(RoleGroupLink {
                            group: name.clone(),
                            owner,
                        });
                }
            }
        }
    }
    for list in links.values_mut() {
        list.sort();
        list.dedup();
    }
    Ok(links)
}

/// The names of the roles a list of eligibilities grants, sorted, each once.
fn role_names<'a>(
    instances: impl IntoIterator<Item = &'a RoleEligibilityScheduleInstance>,
) -> Vec<String> {
    let names: BTreeSet<String> = instances
        .into_iter()
        .map(|i| {
            i.role_definition
                .as_ref()
                .and_then(|d| d.display_name.clone())
                .or_else(|| i.role_definition_id.clone())
                .unwrap_or_else(|| i.id.clone())
        })
        .collect();
    names.into_iter().collect()
}

/// What an eligibility read found.
#[derive(Default)]
pub(crate) struct Eligibilities {
    /// The eligible roles of each user who has some, by the user's id as given.
    pub roles: HashMap<String, Vec<String>>,
    /// Users whose eligibilities could not be read, with Graph's error.
    pub failures: HashMap<String, String>,
}

/// Every eligibility of the tenant, paged, kept for the users in `found` (the snapshot
/// strategy). A refusal is a finding in `preflight`; another failure concerns every
/// user.
pub(crate) async fn read_all_eligibilities(
    client: &GraphClient,
    found: &[&str],
    preflight: &mut Preflight,
) -> Result<Eligibilities, FactsError> {
    let mut out = Eligibilities::default();
    if found.is_empty() {
        return Ok(out);
    }
    // By principal, lower case: a tenant has far fewer eligibilities than a large
    // input has users, so the users are matched against these, not the other way.
    let mut by_principal: HashMap<String, Vec<RoleEligibilityScheduleInstance>> = HashMap::new();
    let mut on_page = |page: Vec<RoleEligibilityScheduleInstance>| {
        for instance in page {
            by_principal
                .entry(instance.principal_id.to_ascii_lowercase())
                .or_default()
                .push(instance);
        }
    };
    let answer = client.each_role_eligibility_page(&mut on_page).await;
    match answer {
        Ok(()) => {
            if !by_principal.is_empty() {
                for id in found {
                    if let Some(instances) = by_principal.get(&id.to_ascii_lowercase()) {
                        out.roles.insert((*id).to_owned(), role_names(instances));
                    }
                }
            }
        }
        Err(error) => match failure(error) {
            Failure::Stop(error) => {
                return Err(FactsError {
                    what: Check::EligibleRoles.what().to_owned(),
                    source: error,
                });
            }
            Failure::Refused => preflight.note(Finding::refused(Check::EligibleRoles)),
            Failure::Failed(error) => {
                preflight.note(Finding::failed(Check::EligibleRoles, &error));
                out.failures = found
                    .iter()
                    .map(|id| ((*id).to_owned(), error.clone()))
                    .collect();
            }
        },
    }
    Ok(out)
}

/// Each user's eligibilities, twenty users to a `$batch` (the lookup strategy). A
/// refusal is a finding in `preflight`; another failure, that user's (whatever it is,
/// as for the user's active roles).
pub(crate) async fn read_eligibilities_per_user(
    client: &GraphClient,
    found: &[String],
    concurrency: usize,
    tick: &(dyn Fn() + Sync),
    preflight: &mut Preflight,
) -> Eligibilities {
    let urls: Vec<(String, bool)> = found
        .iter()
        .map(|id| (client.role_eligibility_url(Some(id), None), false))
        .collect();
    let answers = crate::lookup::batched(&urls, concurrency, tick, |chunk| {
        client.get_collections::<RoleEligibilityScheduleInstance>(chunk)
    })
    .await;
    let mut out = Eligibilities::default();
    for (id, answer) in found.iter().zip(answers) {
        match answer {
            Ok(instances) if instances.is_empty() => {}
            Ok(instances) => {
                out.roles.insert(id.clone(), role_names(&instances));
            }
            Err(error) if error.status() == Some(403) && !error.stops_run() => {
                preflight.note(Finding::refused(Check::EligibleRoles));
            }
            Err(error) => {
                out.failures.insert(id.clone(), error.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(external: &str) -> InputRow {
        InputRow {
            line: 2,
            user: "u".into(),
            external_email: external.into(),
            redirect_url: None,
            send_email: None,
            revoke_sessions: None,
            message: None,
            cc: None,
            language: None,
        }
    }

    #[test]
    fn each_partner_domain_once_without_own_or_invalid_ones() {
        let rows = [
            row("a@Fabrikam.com"),
            row(" b@fabrikam.com "),
            row("c@contoso.com"),
            row("d@eu.contoso.com"),
            row("not an address"),
            row("e@fourthcoffee.com"),
        ];
        assert_eq!(
            partner_domains(&rows, &["contoso.com".into()]),
            ["fabrikam.com", "fourthcoffee.com"]
        );
    }
}
