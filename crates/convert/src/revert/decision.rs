//! Each row's decision: the user looked up, the new UPN checked, and the pure [`decide`].

use std::collections::HashMap;

use b2b_graph::model::{Domain, User};
use b2b_graph::{GraphClient, GraphError, ListQuery, odata_string};
use futures::stream::{self, StreamExt};

use super::{RevertCode, RevertDecision, RevertEntry, RevertOptions, RevertReason, Source};
use crate::vocabulary::InvitationState;

/// What looking a user up found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The user.
    Found(Box<User>),
    /// Nobody.
    NotFound,
    /// This many users have that mail.
    Ambiguous(usize),
    /// Graph could not be read; the message says why.
    Failed(String),
}

/// Whether the new UPN is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpnCheck {
    /// Nobody else holds it (or it is the user's own).
    Free,
    /// This object holds it.
    HeldBy(String),
    /// It could not be read; the message says why.
    Failed(String),
}

/// The properties a revert decision reads.
pub const USER_SELECT: &[&str] = &[
    "id",
    "displayName",
    "userPrincipalName",
    "mail",
    "userType",
    "externalUserState",
    "onPremisesSyncEnabled",
    "identities",
];

/// Whether a user signs in, or is invited to sign in, with an identity from outside the
/// tenant: an invitation (`externalUserState` set) or a federated sign-in identity (what
/// redeeming adds). The only users `convertExternalToInternalMemberUser` takes.
pub fn is_external(user: &User) -> bool {
    InvitationState::from_graph(user.external_user_state.as_deref()).is_some()
        || user
            .identities
            .iter()
            .any(|i| i.sign_in_type.as_deref() == Some("federated"))
}

/// The UPN a cloud user is sent: their own, or `{local part}@{--upn-domain}`; refused when
/// it would not be valid or not in a verified, managed domain.
pub fn target_upn(
    user: &User,
    options: &RevertOptions,
    domains: &[Domain],
) -> Result<String, RevertReason> {
    let current = user.user_principal_name.as_deref().unwrap_or_default();
    let upn = match options.upn_domain.as_deref() {
        Some(domain) => {
            let local = current.rsplit_once('@').map_or(current, |(l, _)| l);
            // A guest's UPN is `partner_domain#EXT#@tenant`: the part before `#EXT#`.
            let local = local.strip_suffix("#EXT#").unwrap_or(local);
            format!("{local}@{}", domain.trim().to_lowercase())
        }
        None => current.to_owned(),
    };
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return Err(RevertReason::new(
            RevertCode::InvalidUpn,
            format!("the user has no usable UPN (`{current}`)"),
        ));
    };
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!^~".contains(c));
    if !local_ok {
        return Err(RevertReason::new(
            RevertCode::InvalidUpn,
            format!(
                "`{local}` (from {current}) can't be the name part of a UPN: letters, digits and ' . - _ ! ^ ~ only, at most 64"
            ),
        ));
    }
    let verified: Vec<&Domain> = domains.iter().filter(|d| d.is_verified).collect();
    let names = || {
        verified
            .iter()
            .filter(|d| !is_federated(d))
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(found) = verified.iter().find(|d| d.id.eq_ignore_ascii_case(domain)) else {
        let message = match &options.upn_domain {
            Some(asked) => format!(
                "--upn-domain {asked} is not a verified domain of the tenant (verified: {})",
                names()
            ),
            None => format!(
                "the UPN {upn} is not in a verified domain of the tenant: pass --upn-domain with one of {}",
                names()
            ),
        };
        return Err(RevertReason::new(RevertCode::UpnDomainNotVerified, message));
    };
    if is_federated(found) {
        return Err(RevertReason::new(
            RevertCode::UpnDomainFederated,
            format!(
                "{} is federated, and Microsoft requires a cloud user's new UPN in a managed domain: pass --upn-domain with one of {}",
                found.id,
                names()
            ),
        ));
    }
    Ok(upn)
}

fn is_federated(domain: &Domain) -> bool {
    domain
        .authentication_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("Federated"))
}

/// Decides one row from what Graph said: pure. `earlier` holds the users of the rows
/// before it (object id → row); `upn` whether the new UPN is free.
pub fn decide(
    source: &Source,
    lookup: &Lookup,
    upn: &UpnCheck,
    domains: &[Domain],
    options: &RevertOptions,
    earlier: &HashMap<String, u64>,
) -> RevertEntry {
    let mut entry = RevertEntry {
        row: source.row,
        user: source.reference.clone(),
        user_id: None,
        display_name: None,
        user_principal_name: None,
        mail: None,
        state: None,
        decision: RevertDecision::Blocked,
        new_user_principal_name: None,
        reasons: Vec::new(),
        notes: Vec::new(),
    };
    let blocked = |mut entry: RevertEntry, reason: RevertReason| {
        entry.reasons.push(reason);
        entry
    };
    let user = match lookup {
        Lookup::Found(user) => user,
        Lookup::NotFound => {
            let reason = RevertReason::new(
                RevertCode::NotFound,
                format!(
                    "no user has the object id, UPN or mail `{}`",
                    source.reference
                ),
            );
            return blocked(entry, reason);
        }
        Lookup::Ambiguous(count) => {
            let reason = RevertReason::new(
                RevertCode::AmbiguousUser,
                format!(
                    "{count} users have the mail `{}`: name the user by object id or UPN",
                    source.reference
                ),
            );
            return blocked(entry, reason);
        }
        Lookup::Failed(message) => {
            let reason = RevertReason::new(
                RevertCode::LookupFailed,
                format!("the user could not be read from Graph: {message}; run revert again"),
            );
            return blocked(entry, reason);
        }
    };
    entry.user_id = Some(user.id.clone());
    entry.display_name = user.display_name.clone();
    entry.user_principal_name = user.user_principal_name.clone();
    entry.mail = user.mail.clone();
    entry.state = InvitationState::from_graph(user.external_user_state.as_deref());
    if let Some(row) = earlier.get(&user.id.to_lowercase()) {
        let reason = RevertReason::new(
            RevertCode::DuplicateRow,
            format!("the same user is on line {row}; it is reverted once, from there"),
        );
        return blocked(entry, reason);
    }
    if !is_external(user) {
        let reason = RevertReason::new(
            RevertCode::NotExternal,
            "not an external user: never converted to B2B, or already internal; nothing to revert",
        );
        return blocked(entry, reason);
    }
    let synced = user.on_premises_sync_enabled == Some(true);
    if synced {
        entry.reasons.push(RevertReason::new(
            RevertCode::Synced,
            "synced from on-premises: Graph takes no UPN or password for such users, and whether a \
             password may be set depends on your federation and password hash sync, which Graph \
             does not show; convert the user in the Entra admin center (Users > the user > \
             Convert to internal user)",
        ));
    }
    if entry.state == Some(InvitationState::Accepted) {
        if options.include_accepted {
            entry.notes.push(
                "redeemed: the partner stops signing in with their own organisation's account \
                 here and must use the internal account and a password you give them"
                    .into(),
            );
        } else {
            entry.reasons.push(RevertReason::new(
                RevertCode::Accepted,
                "the partner has redeemed the invitation: reverting ends their sign-in with their \
                 own organisation's account here, and they lose access until you give them the \
                 internal account's password; pass --include-accepted if that is intended",
            ));
        }
    }
    if !synced {
        match target_upn(user, options, domains) {
            Ok(new_upn) => {
                match upn {
                    UpnCheck::Free => {}
                    UpnCheck::HeldBy(holder) => entry.reasons.push(RevertReason::new(
                        RevertCode::UpnInUse,
                        format!("{new_upn} is already the UPN of object {holder}: pick another --upn-domain"),
                    )),
                    UpnCheck::Failed(message) => entry.reasons.push(RevertReason::new(
                        RevertCode::LookupFailed,
                        format!("could not check that {new_upn} is free: {message}; run revert again"),
                    )),
                }
                entry.new_user_principal_name = Some(new_upn);
            }
            Err(reason) => entry.reasons.push(reason),
        }
    }
    if entry.reasons.is_empty() {
        entry.decision = RevertDecision::Revert;
    } else {
        entry.new_user_principal_name = None;
        entry.notes.clear();
    }
    entry
}

/// Reads what each row needs from Graph and decides it, in row order. Fails only when
/// nothing can be decided: the domains can't be read, or the run must stop (the
/// credential stopped signing in, or Graph asked for a longer wait than allowed); a user
/// that can't be read is blocked as `lookup_failed` and the others go on.
pub async fn plan(
    client: &GraphClient,
    sources: &[Source],
    options: &RevertOptions,
    concurrency: usize,
) -> Result<Vec<RevertEntry>, GraphError> {
    let domains = client.list_domains().await?;
    let domains = &domains;
    let facts: Vec<Result<(Lookup, UpnCheck), GraphError>> = stream::iter(sources)
        .map(|source| async move {
            let lookup = lookup_user(client, &source.reference).await?;
            let check = match &lookup {
                Lookup::Found(user) if user.on_premises_sync_enabled != Some(true) => {
                    match target_upn(user, options, domains) {
                        Ok(upn) => upn_check(client, user, &upn).await?,
                        Err(_) => UpnCheck::Free,
                    }
                }
                _ => UpnCheck::Free,
            };
            Ok((lookup, check))
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut earlier: HashMap<String, u64> = HashMap::new();
    let mut entries = Vec::with_capacity(sources.len());
    for (source, facts) in sources.iter().zip(facts) {
        let (lookup, check) = facts?;
        let entry = decide(source, &lookup, &check, domains, options, &earlier);
        if let Some(id) = &entry.user_id {
            earlier.entry(id.to_lowercase()).or_insert(entry.row);
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// A Graph failure while planning: the run stops for it, or the row is blocked with it.
fn planning_failure(error: GraphError) -> Result<String, GraphError> {
    if error.stops_run() {
        Err(error)
    } else {
        Ok(error.to_string())
    }
}

async fn lookup_user(client: &GraphClient, reference: &str) -> Result<Lookup, GraphError> {
    match client.get_user(reference, USER_SELECT).await {
        Ok(Some(user)) => return Ok(Lookup::Found(Box::new(user))),
        Ok(None) => {}
        Err(error) => return planning_failure(error).map(Lookup::Failed),
    }
    if !reference.contains('@') {
        return Ok(Lookup::NotFound);
    }
    let query = ListQuery::new()
        .filter(format!("mail eq {}", odata_string(reference)))
        .select(USER_SELECT);
    match client.list_users(&query).await {
        Ok(mut users) => Ok(match users.len() {
            0 => Lookup::NotFound,
            1 => Lookup::Found(Box::new(users.remove(0))),
            n => Lookup::Ambiguous(n),
        }),
        Err(error) => planning_failure(error).map(Lookup::Failed),
    }
}

async fn upn_check(client: &GraphClient, user: &User, upn: &str) -> Result<UpnCheck, GraphError> {
    let own = user
        .user_principal_name
        .as_deref()
        .is_some_and(|current| current.eq_ignore_ascii_case(upn));
    if own {
        return Ok(UpnCheck::Free);
    }
    match client.get_user(upn, &["id"]).await {
        Ok(Some(holder)) if holder.id != user.id => Ok(UpnCheck::HeldBy(holder.id)),
        Ok(_) => Ok(UpnCheck::Free),
        Err(error) => planning_failure(error).map(UpnCheck::Failed),
    }
}

#[cfg(test)]
mod tests {
    use b2b_graph::model::ObjectIdentity;

    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn a_pending_cloud_user_is_reverted_with_their_own_upn() {
        let entry = decide_one(
            converted("u1", "adele.vance@contoso.com", "PendingAcceptance"),
            &RevertOptions::default(),
        );
        assert_eq!(entry.decision, RevertDecision::Revert, "{entry:?}");
        assert_eq!(
            entry.new_user_principal_name.as_deref(),
            Some("adele.vance@contoso.com")
        );
        assert_eq!(entry.state, Some(InvitationState::PendingAcceptance));
    }

    #[test]
    fn a_user_never_converted_or_already_internal_is_not_external() {
        let mut user = converted("u1", "adele.vance@contoso.com", "PendingAcceptance");
        user.external_user_state = None;
        let entry = decide_one(user, &RevertOptions::default());
        assert_eq!(entry.decision, RevertDecision::Blocked);
        assert_eq!(codes(&entry), [RevertCode::NotExternal]);
        assert!(entry.reasons[0].message.contains("already internal"));
    }

    #[test]
    fn a_federated_identity_makes_a_user_external_without_a_state() {
        let mut user = converted("u1", "adele.vance@contoso.com", "");
        user.external_user_state = None;
        user.identities.push(ObjectIdentity {
            sign_in_type: Some("federated".into()),
            issuer: Some("ExternalAzureAD".into()),
            issuer_assigned_id: None,
        });
        assert!(is_external(&user));
        let entry = decide_one(user, &RevertOptions::default());
        assert_eq!(entry.decision, RevertDecision::Revert, "{entry:?}");
    }

    #[test]
    fn a_redeemed_user_needs_include_accepted_and_is_warned_about() {
        let user = converted("u1", "adele.vance@contoso.com", "Accepted");
        let entry = decide_one(user.clone(), &RevertOptions::default());
        assert_eq!(codes(&entry), [RevertCode::Accepted]);
        assert!(entry.reasons[0].message.contains("--include-accepted"));
        assert!(entry.reasons[0].message.contains("lose access"));
        assert!(entry.notes.is_empty());

        let options = RevertOptions {
            include_accepted: true,
            ..RevertOptions::default()
        };
        let entry = decide_one(user, &options);
        assert_eq!(entry.decision, RevertDecision::Revert);
        assert!(entry.notes[0].contains("stops signing in"), "{entry:?}");
    }

    #[test]
    fn a_synced_user_is_blocked_and_sent_no_upn() {
        let mut user = converted("u1", "adele.vance@contoso.com", "PendingAcceptance");
        user.on_premises_sync_enabled = Some(true);
        let entry = decide_one(user, &RevertOptions::default());
        assert_eq!(codes(&entry), [RevertCode::Synced]);
        assert_eq!(entry.new_user_principal_name, None);
        assert!(entry.reasons[0].message.contains("admin center"));
    }

    #[test]
    fn the_upn_must_be_in_a_verified_managed_domain() {
        // The user's own UPN is outside the verified domains.
        let user = converted("u1", "adele@fabrikam.com", "PendingAcceptance");
        let entry = decide_one(user.clone(), &RevertOptions::default());
        assert_eq!(codes(&entry), [RevertCode::UpnDomainNotVerified]);
        assert!(entry.reasons[0].message.contains("pass --upn-domain"));

        // --upn-domain builds {local}@{domain}.
        let options = |domain: &str| RevertOptions {
            upn_domain: Some(domain.into()),
            ..RevertOptions::default()
        };
        let entry = decide_one(user.clone(), &options("Contoso.com"));
        assert_eq!(entry.decision, RevertDecision::Revert);
        assert_eq!(
            entry.new_user_principal_name.as_deref(),
            Some("adele@contoso.com")
        );

        let entry = decide_one(user.clone(), &options("tailspin.com"));
        assert_eq!(codes(&entry), [RevertCode::UpnDomainNotVerified]);
        assert!(
            entry.reasons[0]
                .message
                .contains("--upn-domain tailspin.com")
        );

        let entry = decide_one(user, &options("corp.contoso.com"));
        assert_eq!(codes(&entry), [RevertCode::UpnDomainFederated]);
    }

    #[test]
    fn a_guest_upn_keeps_its_name_part_and_bad_names_are_refused() {
        let guest = converted(
            "u1",
            "adele_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "Accepted",
        );
        let options = RevertOptions {
            upn_domain: Some("contoso.com".into()),
            include_accepted: true,
        };
        assert_eq!(
            target_upn(&guest, &options, &domains()).unwrap(),
            "adele_fabrikam.com@contoso.com"
        );
        // Without --upn-domain, the #EXT# UPN itself can't be an internal one.
        let mut pending = guest;
        pending.external_user_state = Some("PendingAcceptance".into());
        let entry = decide_one(pending, &RevertOptions::default());
        assert_eq!(codes(&entry), [RevertCode::InvalidUpn]);
    }

    #[test]
    fn a_upn_held_by_someone_else_or_unreadable_blocks() {
        let user = converted("u1", "adele@fabrikam.com", "PendingAcceptance");
        let options = RevertOptions {
            upn_domain: Some("contoso.com".into()),
            ..RevertOptions::default()
        };
        for (check, code) in [
            (UpnCheck::HeldBy("u9".into()), RevertCode::UpnInUse),
            (UpnCheck::Failed("503".into()), RevertCode::LookupFailed),
        ] {
            let entry = decide(
                &source(2),
                &Lookup::Found(Box::new(user.clone())),
                &check,
                &domains(),
                &options,
                &HashMap::new(),
            );
            assert_eq!(codes(&entry), [code]);
            assert_eq!(entry.new_user_principal_name, None);
        }
    }

    #[test]
    fn missing_ambiguous_unreadable_and_repeated_users_are_blocked() {
        let cases = [
            (Lookup::NotFound, RevertCode::NotFound),
            (Lookup::Ambiguous(2), RevertCode::AmbiguousUser),
            (Lookup::Failed("timeout".into()), RevertCode::LookupFailed),
        ];
        for (lookup, code) in cases {
            let entry = decide(
                &source(3),
                &lookup,
                &UpnCheck::Free,
                &domains(),
                &RevertOptions::default(),
                &HashMap::new(),
            );
            assert_eq!(codes(&entry), [code]);
            assert_eq!(entry.decision, RevertDecision::Blocked);
        }
        let earlier = HashMap::from([("u1".to_owned(), 2)]);
        let entry = decide(
            &source(5),
            &Lookup::Found(Box::new(converted(
                "U1",
                "a@contoso.com",
                "PendingAcceptance",
            ))),
            &UpnCheck::Free,
            &domains(),
            &RevertOptions::default(),
            &earlier,
        );
        assert_eq!(codes(&entry), [RevertCode::DuplicateRow]);
        assert!(entry.reasons[0].message.contains("line 2"));
    }

    #[test]
    fn several_reasons_are_all_given() {
        let user = converted("u1", "adele@fabrikam.com", "Accepted");
        let entry = decide_one(user, &RevertOptions::default());
        assert_eq!(
            codes(&entry),
            [RevertCode::Accepted, RevertCode::UpnDomainNotVerified]
        );
    }
}
