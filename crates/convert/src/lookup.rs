//! Lookup planning: read what each row names, twenty reads to a `$batch` request, for an
//! input that is small against its tenant (see [`crate::facts::choose`]).
//!
//! Four stages, each batched, batches sent concurrently:
//! 1. each reference as an object id or UPN (`GET /users/{ref}`);
//! 2. the references that are addresses and matched no id or UPN, by `mail` or `smtp:`
//!    proxy address (one combined `$filter` a row);
//! 3. who holds each partner address: users by UPN, mail, proxy address or otherMails
//!    (one combined `$filter`), groups and contacts by mail or proxy address;
//! 4. each found user's directory roles (`transitiveMemberOf/microsoft.graph.directoryRole`,
//!    an advanced query);
//! 5. each found user's PIM eligibilities (`roleEligibilityScheduleInstances?$filter=
//!    principalId eq '…'`, see [`crate::policy_reads`]).
//!
//! A read that still fails after the client's retries (a batch item's own error, or the
//! whole batch's) is recorded against the rows it concerns; the planner decides those
//! `lookup_failed`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use b2b_graph::model::{DirectoryObject, DirectoryRole, User};
use b2b_graph::{GraphClient, GraphError, ListQuery, MAX_BATCH, USER_FACTS_SELECT, odata_string};
use futures::stream::{self, StreamExt};

use crate::email;
use crate::facts::{FactsProgress, looks_like_object_id, object_holder, user_facts, user_holder};
use crate::input::InputRow;
use crate::plan::{Facts, HolderKind, Lookup, reference_key};

/// One `$batch`'s answer: per item, or an error for the whole batch.
type BatchAnswer<R> = Result<Vec<Result<R, GraphError>>, GraphError>;

/// Runs `read` on `items` twenty at a time, `concurrency` batches in flight, and gives
/// one result per item, in order; a batch that failed as a whole fails each of its items.
pub(crate) async fn batched<'a, I, R, F, Fut>(
    items: &'a [I],
    concurrency: usize,
    tick: &(dyn Fn() + Sync),
    read: F,
) -> Vec<Result<R, GraphError>>
where
    I: Sync,
    F: Fn(&'a [I]) -> Fut,
    Fut: Future<Output = BatchAnswer<R>>,
{
    let chunks: Vec<&'a [I]> = items.chunks(MAX_BATCH).collect();
    let answers: Vec<(usize, BatchAnswer<R>)> = stream::iter(chunks)
        .map(|chunk| {
            let answer = read(chunk);
            async move {
                let answer = answer.await;
                tick();
                (chunk.len(), answer)
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut out = Vec::with_capacity(items.len());
    for (len, answer) in answers {
        match answer {
            Ok(results) => out.extend(results),
            Err(error) => out.extend((0..len).map(|_| Err(error.clone()))),
        }
    }
    out
}

/// Reads the facts for `rows`, per row, in batches.
pub async fn gather(
    client: &GraphClient,
    rows: &[InputRow],
    verified_domains: Vec<String>,
    concurrency: usize,
    progress: &(dyn Fn(FactsProgress) + Sync),
) -> Facts {
    let references: Vec<String> = rows
        .iter()
        .map(|r| reference_key(&r.user))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let addresses: Vec<String> = rows
        .iter()
        .map(|r| r.external_email.trim().to_lowercase())
        .filter(|a| email::check_address(a).is_ok())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let batches = |n: usize| n.div_ceil(MAX_BATCH);
    // Estimated until stage 2 and 4 know their sizes; corrected as they start.
    // The batches still to come: exact for the stage under way, estimated beyond it
    // (every reference found, none read by mail), corrected at each stage.
    let estimate_after_lookups = batches(addresses.len()) + batches(addresses.len() * 2);
    let total = AtomicUsize::new(batches(references.len()) * 3 + estimate_after_lookups);
    let done = AtomicUsize::new(0);
    let remaining = |batches_left: usize| {
        total.store(
            done.load(Ordering::Relaxed) + batches_left,
            Ordering::Relaxed,
        );
    };
    let tick = || {
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(FactsProgress {
            done,
            total: total.load(Ordering::Relaxed).max(done),
        });
    };
    let mut facts = Facts {
        verified_domains,
        ..Facts::default()
    };

    // 1. Object id or UPN.
    let direct = batched(&references, concurrency, &tick, |chunk| async move {
        let answers = client.get_users_by_ids(chunk, USER_FACTS_SELECT).await?;
        Ok(answers.into_iter().map(|(_, answer)| answer).collect())
    })
    .await;
    let mut by_mail = Vec::new();
    for (reference, answer) in references.iter().zip(direct) {
        let lookup = match answer {
            Ok(Some(user)) => {
                let id = user.id.clone();
                facts.users.insert(id.clone(), user_facts(&user));
                Lookup::Found { id }
            }
            Ok(None) if looks_like_object_id(reference) || !reference.contains('@') => {
                Lookup::NotFound
            }
            Ok(None) => {
                by_mail.push(reference.clone());
                continue;
            }
            Err(error) => Lookup::Failed {
                error: error.to_string(),
            },
        };
        facts.lookups.insert(reference.clone(), lookup);
    }

    remaining(batches(by_mail.len()) + estimate_after_lookups + 2 * batches(references.len()));

    // 2. By mail or proxy address.
    let user_select = ListQuery::new().select(USER_FACTS_SELECT);
    let mail_urls: Vec<(String, bool)> = by_mail
        .iter()
        .map(|reference| {
            let query = ListQuery {
                filter: Some(format!(
                    "mail eq {address} or proxyAddresses/any(p:p eq {smtp})",
                    address = odata_string(reference),
                    smtp = odata_string(&format!("smtp:{reference}")),
                )),
                top: Some(10),
                ..user_select.clone()
            };
            (client.relative_url(&["users"], &query), false)
        })
        .collect();
    let matched = batched(&mail_urls, concurrency, &tick, |chunk| {
        client.get_collections::<User>(chunk)
    })
    .await;
    for (reference, answer) in by_mail.into_iter().zip(matched) {
        let lookup = match answer {
            Ok(users) => {
                let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
                for user in &users {
                    facts.users.insert(user.id.clone(), user_facts(user));
                }
                match ids.as_slice() {
                    [] => Lookup::NotFound,
                    [id] => Lookup::Found { id: id.clone() },
                    _ => Lookup::Ambiguous { ids },
                }
            }
            Err(error) => Lookup::Failed {
                error: error.to_string(),
            },
        };
        facts.lookups.insert(reference, lookup);
    }

    // 3. Who holds each address.
    let holder_select = [
        "id",
        "displayName",
        "userPrincipalName",
        "mail",
        "proxyAddresses",
        "otherMails",
    ];
    let object_select = ["id", "displayName", "mail", "proxyAddresses"];
    let mut user_urls = Vec::new();
    let mut object_urls = Vec::new();
    for address in &addresses {
        let quoted = odata_string(address);
        let smtp = odata_string(&format!("smtp:{address}"));
        let users = ListQuery::new()
            .filter(format!(
                "userPrincipalName eq {quoted} or mail eq {quoted} or proxyAddresses/any(x:x eq {smtp}) or otherMails/any(x:x eq {quoted})"
            ))
            .select(&holder_select)
            .top(999);
        user_urls.push((client.relative_url(&["users"], &users), false));
        let objects = ListQuery::new()
            .filter(format!(
                "mail eq {quoted} or proxyAddresses/any(x:x eq {smtp})"
            ))
            .select(&object_select)
            .top(999);
        object_urls.push((client.relative_url(&["groups"], &objects), false));
        object_urls.push((client.relative_url(&["contacts"], &objects), false));
    }
    remaining(
        batches(user_urls.len()) + batches(object_urls.len()) + 2 * batches(references.len()),
    );
    let user_holders = batched(&user_urls, concurrency, &tick, |chunk| {
        client.get_collections::<User>(chunk)
    })
    .await;
    let object_holders = batched(&object_urls, concurrency, &tick, |chunk| {
        client.get_collections::<DirectoryObject>(chunk)
    })
    .await;
    let mut objects = object_holders.into_iter();
    for (address, users) in addresses.iter().zip(user_holders) {
        let (groups, contacts) = (objects.next(), objects.next());
        let mut holders = Vec::new();
        let mut failure = None;
        match users {
            Ok(users) => holders.extend(users.iter().map(|user| user_holder(address, user))),
            Err(error) => failure = Some(error),
        }
        for (answer, kind) in [
            (groups, HolderKind::Group),
            (contacts, HolderKind::OrgContact),
        ] {
            match answer {
                Some(Ok(found)) => {
                    holders.extend(found.iter().map(|o| object_holder(address, o, kind)));
                }
                Some(Err(error)) => failure = failure.or(Some(error)),
                None => {}
            }
        }
        match failure {
            Some(error) => {
                facts
                    .address_failures
                    .insert(address.clone(), error.to_string());
            }
            None => {
                facts.address_holders.insert(address.clone(), holders);
            }
        }
    }

    // 4. Roles of each user found.
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
    remaining(2 * batches(found.len()));
    read_roles(client, found.clone(), concurrency, &mut facts, &tick).await;

    // 5. Eligible roles of each user found.
    let eligibilities = crate::policy_reads::read_eligibilities_per_user(
        client,
        &found,
        concurrency,
        &tick,
        &mut facts.preflight,
    )
    .await;
    facts.eligible_roles = eligibilities.roles;
    facts.eligibility_failures = eligibilities.failures;
    facts
}

/// Reads each user's directory roles (`transitiveMemberOf/microsoft.graph.directoryRole`,
/// batched); a user whose roles can't be read is recorded as a failure, which the
/// planner blocks.
pub(crate) async fn read_roles(
    client: &GraphClient,
    found: Vec<String>,
    concurrency: usize,
    facts: &mut Facts,
    tick: &(dyn Fn() + Sync),
) {
    let roles = roles_of(client, &found, concurrency, tick).await;
    for (id, answer) in found.into_iter().zip(roles) {
        match answer {
            Ok(names) => {
                facts.roles.insert(id, names);
            }
            Err(error) => {
                facts.role_failures.insert(id, error);
            }
        }
    }
}

/// The directory roles of each user in `ids`, in order, read as [`read_roles`] reads
/// them: the role names, or Graph's error.
pub(crate) async fn roles_of(
    client: &GraphClient,
    ids: &[String],
    concurrency: usize,
    tick: &(dyn Fn() + Sync),
) -> Vec<Result<Vec<String>, String>> {
    let role_query = ListQuery::new().select(&["id", "displayName"]).advanced();
    let role_urls: Vec<(String, bool)> = ids
        .iter()
        .map(|id| {
            let segments = [
                "users",
                id.as_str(),
                "transitiveMemberOf",
                "microsoft.graph.directoryRole",
            ];
            (client.relative_url(&segments, &role_query), true)
        })
        .collect();
    batched(&role_urls, concurrency, tick, |chunk| {
        client.get_collections::<DirectoryRole>(chunk)
    })
    .await
    .into_iter()
    .map(|answer| match answer {
        Ok(roles) => Ok(roles
            .into_iter()
            .map(|r| r.display_name.unwrap_or(r.id))
            .collect()),
        Err(error) => Err(error.to_string()),
    })
    .collect()
}
