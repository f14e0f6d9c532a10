//! The planner: from the input rows and what the directory says about them, one decision
//! per row — `convert`, `skip` or `blocked` — with the reasons and the actions.
//!
//! It is a pure function: no I/O, no clock, no randomness. Everything it needs is in
//! [`Facts`], gathered beforehand (see `crate::facts`), so every rule is tested here
//! without a server, and a plan can be recomputed from a journal.
//!
//! The reason codes are a stable, documented part of the interface (README, "Reason
//! codes"): scripts branch on them. Add codes; never rename one.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::email;
use crate::input::InputRow;
use crate::vocabulary::{InvitationState, vocabulary};

/// What the planner knows about one directory user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFacts {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `userType` (`Member` or `Guest`).
    pub user_type: Option<String>,
    /// `accountEnabled`.
    pub account_enabled: Option<bool>,
    /// `creationType` (`Invitation` for users created by a B2B invitation).
    pub creation_type: Option<String>,
    /// `onPremisesSyncEnabled`: true when Entra Connect masters the account.
    pub on_premises_sync_enabled: Option<bool>,
    /// `onPremisesUserPrincipalName`: its presence blocks conversion.
    pub on_premises_user_principal_name: Option<String>,
    /// `externalUserState` (none: never invited).
    pub external_user_state: Option<InvitationState>,
    /// Whether `identities` holds an external (`federated`) sign-in.
    pub has_external_identity: bool,
    /// Whether the user has an enabled Exchange Online plan (a mailbox).
    pub has_mailbox: bool,
}

/// How an input row's `user` reference resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Lookup {
    /// Exactly one user: its object id.
    Found {
        /// Object id of the user.
        id: String,
    },
    /// No user has this id, UPN or mail.
    NotFound,
    /// Several users match the reference.
    Ambiguous {
        /// Their object ids.
        ids: Vec<String>,
    },
    /// Graph could not be read for this reference, even after retries.
    Failed {
        /// Graph's error: code, message and request-id.
        error: String,
    },
}

/// The kind of directory object that holds an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HolderKind {
    /// A user.
    User,
    /// A group.
    Group,
    /// An organisational contact.
    OrgContact,
}

/// A directory object that already holds an address, and in which property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressHolder {
    /// Object id.
    pub id: String,
    /// User, group or contact.
    pub kind: HolderKind,
    /// Its display name, for the message.
    pub display_name: Option<String>,
    /// The property holding the address (`mail`, `proxyAddresses`, ...).
    pub property: String,
}

/// Everything the planner needs, read from the directory before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The tenant's verified domains, lower case.
    pub verified_domains: Vec<String>,
    /// How each `user` reference resolved, keyed by [`reference_key`].
    pub lookups: HashMap<String, Lookup>,
    /// The users found, by object id.
    pub users: HashMap<String, UserFacts>,
    /// Who already holds each external address, keyed by the lower-cased address.
    /// An address missing here was not checked, which the planner treats as unknown.
    pub address_holders: HashMap<String, Vec<AddressHolder>>,
    /// Directory roles held by each user (transitively), by object id. A user missing
    /// here was not checked, which the planner treats as unknown, never as "no roles".
    pub roles: HashMap<String, Vec<String>>,
    /// Addresses whose holders could not be read, with Graph's error.
    #[serde(default)]
    pub address_failures: HashMap<String, String>,
    /// Users whose roles could not be read, by object id, with Graph's error.
    #[serde(default)]
    pub role_failures: HashMap<String, String>,
}

/// The key under which a `user` reference is looked up: trimmed, lower case (Graph
/// matches UPNs, mail and ids without regard to case).
pub fn reference_key(reference: &str) -> String {
    reference.trim().to_lowercase()
}

/// Run-wide choices that shape the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOptions {
    /// Convert users who hold directory roles instead of blocking them.
    pub allow_privileged: bool,
    /// Revoke the user's sign-in sessions before converting (Graph cannot revoke them
    /// for external users afterwards).
    pub revoke_sessions: bool,
    /// The redirect URL for rows that don't give one.
    pub default_redirect_url: String,
    /// Whether Microsoft emails the invitation, for rows that don't say.
    pub default_send_email: bool,
    /// No invitation email for any row, whatever its `sendEmail` says (`--no-email`:
    /// the admin asked for silence, and delivers the redeem links).
    #[serde(default)]
    pub never_send_email: bool,
}

impl PlanOptions {
    /// The documented defaults: invitation email on, redirect to My Apps in this tenant.
    pub fn new(tenant_id: &str) -> Self {
        Self {
            allow_privileged: false,
            revoke_sessions: false,
            default_redirect_url: format!("https://myapps.microsoft.com/?tenantid={tenant_id}"),
            default_send_email: true,
            never_send_email: false,
        }
    }
}

vocabulary! {
    /// The decision for one row.
    pub enum Decision as "decision" {
        /// Eligible: apply will convert this user.
        Convert = "convert",
        /// Nothing to do: already invited or already external.
        Skip = "skip",
        /// Not eligible as things stand; the reasons say what to change.
        Blocked = "blocked",
    }
}

vocabulary! {
    /// The stable reason codes.
    pub enum ReasonCode as "reason code" {
        /// No user has this object id, UPN or mail.
        NotFound = "not_found",
        /// The reference matches more than one user.
        AmbiguousUser = "ambiguous_user",
        /// The same user or external address appears in more than one row.
        DuplicateRow = "duplicate_row",
        /// The external address is not one Graph accepts.
        InvalidEmail = "invalid_email",
        /// The external address is in one of this tenant's verified domains.
        ExternalDomainIsVerified = "external_domain_is_verified",
        /// Another user, group or contact already holds the address.
        EmailInUse = "email_in_use",
        /// The user already has a pending invitation.
        AlreadyInvited = "already_invited",
        /// The user already signs in with an external identity.
        AlreadyExternal = "already_external",
        /// Entra Connect wrote onPremisesUserPrincipalName: Microsoft blocks conversion.
        OnPremUpnSet = "on_prem_upn_set",
        /// A synced user whose mail isn't the external address (set it in on-premises AD).
        SyncedMailMismatch = "synced_mail_mismatch",
        /// The user has an Exchange mailbox.
        HasMailbox = "has_mailbox",
        /// The user holds a directory role.
        PrivilegedRole = "privileged_role",
        /// The account is disabled.
        AccountDisabled = "account_disabled",
        /// Graph could not be read for this row (after retries); planning went on.
        LookupFailed = "lookup_failed",
    }
}

impl ReasonCode {
    /// Whether the reason makes the row `skip` (work already done) rather than `blocked`.
    pub fn is_skip(self) -> bool {
        matches!(
            self,
            ReasonCode::AlreadyInvited | ReasonCode::AlreadyExternal
        )
    }
}

/// One reason, with a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The stable code.
    pub code: ReasonCode,
    /// What was found and what to do about it.
    pub message: String,
}

/// The invitation as it will be sent for one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationSettings {
    /// Where the user lands after redeeming.
    pub redirect_url: String,
    /// Whether Microsoft emails the invitation.
    pub send_email: bool,
    /// Custom message body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One cc recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
    /// Message language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// One step apply takes for a `convert` row, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `POST /users/{id}/revokeSignInSessions`.
    RevokeSessions,
    /// `PATCH /users/{id}` with the external address as `mail`.
    UpdateMail {
        /// The mail before.
        from: Option<String>,
        /// The external address.
        to: String,
    },
    /// `POST /invitations` with `invitedUser.id`.
    Invite {
        /// The invitation's settings.
        #[serde(flatten)]
        settings: InvitationSettings,
    },
    /// Read the user back and confirm `externalUserState` is `PendingAcceptance`.
    Verify,
}

/// The plan for one input row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    /// The input line the row starts on.
    pub row: u64,
    /// The `user` reference as given.
    pub user: String,
    /// The object id it resolved to.
    pub user_id: Option<String>,
    /// The user's display name.
    pub display_name: Option<String>,
    /// The user's UPN.
    pub user_principal_name: Option<String>,
    /// The external address as given.
    pub external_email: String,
    /// The decision.
    pub decision: Decision,
    /// Why (empty for a clean `convert`).
    pub reasons: Vec<Reason>,
    /// Things worth knowing that don't change the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What apply will do, in order (empty unless `convert`).
    pub actions: Vec<Action>,
}

impl PlanEntry {
    /// The invitation this row will send (none unless it is a `convert`).
    pub fn invitation_settings(&self) -> Option<&InvitationSettings> {
        self.actions.iter().find_map(|a| match a {
            Action::Invite { settings } => Some(settings),
            _ => None,
        })
    }
}

/// The whole plan, one entry per input row, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The entries.
    pub entries: Vec<PlanEntry>,
}

impl Plan {
    /// How many rows got each decision.
    pub fn counts(&self) -> BTreeMap<Decision, usize> {
        let mut counts = BTreeMap::new();
        for entry in &self.entries {
            *counts.entry(entry.decision).or_insert(0) += 1;
        }
        counts
    }
}

/// Decides every row.
///
/// ```
/// use b2b_convert_core::input::InputRow;
/// use b2b_convert_core::plan::{plan, Decision, Facts, Lookup, PlanOptions, UserFacts};
///
/// let row = InputRow {
///     line: 2, user: "adele@contoso.com".into(), external_email: "adele@fabrikam.com".into(),
///     redirect_url: None, send_email: None, message: None, cc: None, language: None,
/// };
/// let mut facts = Facts::default();
/// facts.verified_domains = vec!["contoso.com".into()];
/// facts.lookups.insert("adele@contoso.com".into(), Lookup::Found { id: "u1".into() });
/// facts.users.insert("u1".into(), UserFacts { id: "u1".into(), account_enabled: Some(true), ..Default::default() });
/// facts.address_holders.insert("adele@fabrikam.com".into(), vec![]);
/// facts.roles.insert("u1".into(), vec![]);
///
/// let plan = plan(&[row], &facts, &PlanOptions::new("tenant-id"));
/// assert_eq!(plan.entries[0].decision, Decision::Convert);
/// ```
pub fn plan(rows: &[InputRow], facts: &Facts, options: &PlanOptions) -> Plan {
    let duplicates = duplicate_rows(rows, facts);
    let entries = rows
        .iter()
        .enumerate()
        .map(|(index, row)| plan_row(row, duplicates.get(&index), facts, options))
        .collect();
    Plan { entries }
}

/// For each row index that shares its user or its external address with another row,
/// a sentence naming the other lines.
fn duplicate_rows(rows: &[InputRow], facts: &Facts) -> HashMap<usize, String> {
    let mut by_user: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_address: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        let key = reference_key(&row.user);
        let user_key = match facts.lookups.get(&key) {
            Some(Lookup::Found { id }) => format!("id:{}", id.to_lowercase()),
            _ => format!("ref:{key}"),
        };
        by_user.entry(user_key).or_default().push(index);
        by_address
            .entry(row.external_email.trim().to_lowercase())
            .or_default()
            .push(index);
    }
    let mut found: HashMap<usize, Vec<String>> = HashMap::new();
    let mut note = |group: &[usize], what: &str| {
        if group.len() < 2 {
            return;
        }
        for &index in group {
            let others: Vec<String> = group
                .iter()
                .filter(|&&other| other != index)
                .map(|&other| rows[other].line.to_string())
                .collect();
            found
                .entry(index)
                .or_default()
                .push(format!("{what} also on line {}", others.join(", ")));
        }
    };
    for group in by_user.values() {
        note(group, "the same user is");
    }
    for group in by_address.values() {
        note(group, "the same external address is");
    }
    found
        .into_iter()
        .map(|(index, parts)| {
            (
                index,
                format!(
                    "{}; the tool cannot know which row is right. Keep one row per user and per address.",
                    parts.join(" and ")
                ),
            )
        })
        .collect()
}

fn plan_row(
    row: &InputRow,
    duplicate: Option<&String>,
    facts: &Facts,
    options: &PlanOptions,
) -> PlanEntry {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    let external = row.external_email.trim();
    let address_ok = match email::check_address(external) {
        Ok(()) => true,
        Err(problem) => {
            reasons.push(reason(
                ReasonCode::InvalidEmail,
                format!(
                    "The external address `{external}` {problem}. Correct it in the input file."
                ),
            ));
            false
        }
    };

    let user = match facts.lookups.get(&reference_key(&row.user)) {
        Some(Lookup::Found { id }) => facts.users.get(id),
        Some(Lookup::Ambiguous { ids }) => {
            reasons.push(reason(
                ReasonCode::AmbiguousUser,
                format!(
                    "`{}` matches {} users ({}). Use the object id or the UPN instead.",
                    row.user,
                    ids.len(),
                    ids.join(", ")
                ),
            ));
            None
        }
        Some(Lookup::Failed { error }) => {
            reasons.push(lookup_failed(&format!("user `{}`", row.user), error));
            None
        }
        Some(Lookup::NotFound) | None => None,
    };
    let resolved_ambiguous = matches!(
        facts.lookups.get(&reference_key(&row.user)),
        Some(Lookup::Ambiguous { .. } | Lookup::Failed { .. })
    );
    if user.is_none() && !resolved_ambiguous {
        reasons.push(reason(
            ReasonCode::NotFound,
            format!(
                "No user has the object id, UPN or mail `{}`. Check the spelling, or whether the account was deleted.",
                row.user
            ),
        ));
    }
    if let Some(message) = duplicate {
        reasons.push(reason(
            ReasonCode::DuplicateRow,
            format!("This row is ambiguous: {message}"),
        ));
    }

    let mut actions = Vec::new();
    if let Some(user) = user {
        let skips = skip_reasons(user, external);
        if reasons.is_empty() && !skips.is_empty() {
            reasons = skips;
        } else if skips.is_empty() {
            reasons.extend(block_reasons(
                user, external, address_ok, facts, options, &mut notes,
            ));
        }
        if reasons.is_empty() {
            actions = convert_actions(row, user, external, options);
            notes.extend(convert_notes(user));
        }
    }

    let decision = if reasons.iter().any(|r| !r.code.is_skip()) {
        Decision::Blocked
    } else if reasons.is_empty() {
        Decision::Convert
    } else {
        Decision::Skip
    };
    if decision != Decision::Convert {
        actions.clear();
    }
    PlanEntry {
        row: row.line,
        user: row.user.clone(),
        user_id: user.map(|u| u.id.clone()),
        display_name: user.and_then(|u| u.display_name.clone()),
        user_principal_name: user.and_then(|u| u.user_principal_name.clone()),
        external_email: row.external_email.clone(),
        decision,
        reasons,
        notes,
        actions,
    }
}

fn reason(code: ReasonCode, message: String) -> Reason {
    Reason { code, message }
}

/// A read that failed even after retries: the row can't be decided safely now.
fn lookup_failed(what: &str, error: &str) -> Reason {
    reason(
        ReasonCode::LookupFailed,
        format!(
            "Graph could not be read for {what}, so the row can't be decided safely: {error}. \
             Run plan again; if it persists, give Microsoft support the request-id."
        ),
    )
}

/// Work that is already done: the row needs nothing.
fn skip_reasons(user: &UserFacts, external: &str) -> Vec<Reason> {
    let state = user.external_user_state.as_ref();
    let invited_elsewhere = |what: &str| match &user.mail {
        Some(mail) if !email::same_address(mail, external) => format!(
            " {what} for `{mail}`, not `{external}`: to move it to another address, reset its redemption instead."
        ),
        _ => String::new(),
    };
    if state == Some(&InvitationState::Accepted)
        || user.has_external_identity
        || user.creation_type.as_deref() == Some("Invitation")
    {
        let suffix = invited_elsewhere("The external identity is");
        return vec![reason(
            ReasonCode::AlreadyExternal,
            format!(
                "The user already signs in with an external identity; nothing to convert.{suffix}"
            ),
        )];
    }
    if state == Some(&InvitationState::PendingAcceptance) {
        let suffix = invited_elsewhere("The invitation is");
        return vec![reason(
            ReasonCode::AlreadyInvited,
            format!(
                "The user already has a pending invitation; `b2b-convert reinvite` sends a fresh one.{suffix}"
            ),
        )];
    }
    Vec::new()
}

fn block_reasons(
    user: &UserFacts,
    external: &str,
    address_ok: bool,
    facts: &Facts,
    options: &PlanOptions,
    notes: &mut Vec<String>,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let synced = user.on_premises_sync_enabled == Some(true);
    if let Some(on_prem_upn) = user
        .on_premises_user_principal_name
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        reasons.push(reason(
            ReasonCode::OnPremUpnSet,
            format!(
                "onPremisesUserPrincipalName is set (`{on_prem_upn}`): Microsoft blocks conversion of such users. \
                 Change the Entra Connect sync rule so the attribute is not written, let it sync, then re-run."
            ),
        ));
    }
    if synced
        && !user
            .mail
            .as_deref()
            .is_some_and(|m| email::same_address(m, external))
    {
        reasons.push(reason(
            ReasonCode::SyncedMailMismatch,
            format!(
                "The account is synced from on-premises AD and its mail is `{}`, not `{external}`. \
                 Graph cannot change it: set mail to `{external}` in on-premises AD, let it sync, then re-run.",
                user.mail.as_deref().unwrap_or("empty")
            ),
        ));
    }
    if user.has_mailbox {
        reasons.push(reason(
            ReasonCode::HasMailbox,
            "The user has an Exchange Online mailbox, so mail cannot be set to an external address and \
             B2B users with a mailbox are not supported. Remove the mailbox (or its Exchange licence) first."
                .into(),
        ));
    }
    let role_failure = facts.role_failures.get(&user.id);
    match facts.roles.get(&user.id) {
        _ if role_failure.is_some() => reasons.push(lookup_failed(
            "the user's directory roles",
            role_failure.map_or("", String::as_str),
        )),
        Some(roles) if roles.is_empty() => {}
        Some(roles) if options.allow_privileged => notes.push(format!(
            "Holds directory roles ({}); converting anyway because --allow-privileged was given.",
            roles.join(", ")
        )),
        Some(roles) => reasons.push(reason(
            ReasonCode::PrivilegedRole,
            format!(
                "The user holds directory roles ({}). Remove the roles first, or pass --allow-privileged \
                 if this admin account really belongs to the partner.",
                roles.join(", ")
            ),
        )),
        None => reasons.push(reason(
            ReasonCode::PrivilegedRole,
            "The user's directory roles could not be read, so the tool cannot rule out an admin account. \
             Grant the app permission to read role memberships and re-run."
                .into(),
        )),
    }
    if user.account_enabled == Some(false) {
        reasons.push(reason(
            ReasonCode::AccountDisabled,
            "The account is disabled; a disabled account cannot redeem an invitation. Enable it first, \
             or leave it out."
                .into(),
        ));
    }
    if address_ok {
        let key = external.to_lowercase();
        if let Some(domain) = email::domain_of(external)
            && let Some(verified) = verified_domain(&domain, &facts.verified_domains)
        {
            reasons.push(reason(
                ReasonCode::ExternalDomainIsVerified,
                format!(
                    "`{domain}` is a verified domain of this tenant (`{verified}`), so `{external}` is not an \
                     external address. Use the partner's own home address."
                ),
            ));
        }
        let address_failure = facts.address_failures.get(&key);
        match facts.address_holders.get(&key) {
            _ if address_failure.is_some() => reasons.push(lookup_failed(
                &format!("who holds `{external}`"),
                address_failure.map_or("", String::as_str),
            )),
            Some(holders) => {
                let others: Vec<&AddressHolder> = holders
                    .iter()
                    .filter(|h| !h.id.eq_ignore_ascii_case(&user.id))
                    .collect();
                if !others.is_empty() {
                    let list: Vec<String> = others
                        .iter()
                        .map(|h| {
                            format!(
                                "{} `{}` ({}) in {}",
                                match h.kind {
                                    HolderKind::User => "user",
                                    HolderKind::Group => "group",
                                    HolderKind::OrgContact => "contact",
                                },
                                h.display_name.as_deref().unwrap_or("?"),
                                h.id,
                                h.property
                            )
                        })
                        .collect();
                    reasons.push(reason(
                        ReasonCode::EmailInUse,
                        format!(
                            "`{external}` is already held by {}. Graph refuses the mail change and the invitation \
                             while another object holds it: remove it there first.",
                            list.join("; ")
                        ),
                    ));
                }
            }
            None => reasons.push(reason(
                ReasonCode::EmailInUse,
                format!(
                    "Whether `{external}` is already in use could not be checked; re-run plan."
                ),
            )),
        }
    }
    reasons
}

/// The verified domain that covers `domain`: itself, or a parent (Entra verifies a
/// subdomain of a verified domain along with it, so the stricter reading counts those).
fn verified_domain<'a>(domain: &str, verified: &'a [String]) -> Option<&'a str> {
    verified
        .iter()
        .find(|v| {
            let v = v.to_lowercase();
            domain == v || domain.ends_with(&format!(".{v}"))
        })
        .map(String::as_str)
}

fn convert_actions(
    row: &InputRow,
    user: &UserFacts,
    external: &str,
    options: &PlanOptions,
) -> Vec<Action> {
    let mut actions = Vec::new();
    if options.revoke_sessions {
        actions.push(Action::RevokeSessions);
    }
    if !user
        .mail
        .as_deref()
        .is_some_and(|m| email::same_address(m, external))
    {
        actions.push(Action::UpdateMail {
            from: user.mail.clone(),
            to: external.to_owned(),
        });
    }
    actions.push(Action::Invite {
        settings: InvitationSettings {
            redirect_url: row
                .redirect_url
                .clone()
                .unwrap_or_else(|| options.default_redirect_url.clone()),
            send_email: !options.never_send_email
                && row.send_email.unwrap_or(options.default_send_email),
            message: row.message.clone(),
            cc: row.cc.clone(),
            language: row.language.clone(),
        },
    });
    actions.push(Action::Verify);
    actions
}

fn convert_notes(user: &UserFacts) -> Vec<String> {
    let mut notes = Vec::new();
    if user.on_premises_sync_enabled == Some(true) {
        notes.push(
            "Synced account: on-premises AD stays its source of authority and its on-premises password \
             keeps working for on-premises resources; set that password to a random value."
                .into(),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c";

    fn row(line: u64, user: &str, external: &str) -> InputRow {
        InputRow {
            line,
            user: user.into(),
            external_email: external.into(),
            redirect_url: None,
            send_email: None,
            message: None,
            cc: None,
            language: None,
        }
    }

    fn member(id: &str, upn: &str) -> UserFacts {
        UserFacts {
            id: id.into(),
            display_name: Some(format!("User {id}")),
            user_principal_name: Some(upn.into()),
            mail: Some(upn.into()),
            user_type: Some("Member".into()),
            account_enabled: Some(true),
            ..Default::default()
        }
    }

    /// A directory with one ordinary user per given (id, upn); addresses unheld, no roles.
    fn facts(users: &[UserFacts], rows: &[InputRow]) -> Facts {
        let mut facts = Facts {
            verified_domains: vec!["contoso.onmicrosoft.com".into(), "contoso.com".into()],
            ..Default::default()
        };
        for user in users {
            for key in [
                &user.id,
                user.user_principal_name.as_ref().unwrap_or(&user.id),
            ] {
                facts.lookups.insert(
                    reference_key(key),
                    Lookup::Found {
                        id: user.id.clone(),
                    },
                );
            }
            facts.users.insert(user.id.clone(), user.clone());
            facts.roles.insert(user.id.clone(), vec![]);
        }
        for row in rows {
            facts
                .lookups
                .entry(reference_key(&row.user))
                .or_insert(Lookup::NotFound);
            facts
                .address_holders
                .entry(row.external_email.to_lowercase())
                .or_default();
        }
        facts
    }

    fn decide(user: UserFacts, external: &str) -> PlanEntry {
        decide_with(user, external, |_| {}, &PlanOptions::new(TENANT))
    }

    fn decide_with(
        user: UserFacts,
        external: &str,
        change: impl FnOnce(&mut Facts),
        options: &PlanOptions,
    ) -> PlanEntry {
        let rows = vec![row(
            2,
            user.user_principal_name.as_deref().unwrap_or(&user.id),
            external,
        )];
        let mut facts = facts(&[user], &rows);
        change(&mut facts);
        plan(&rows, &facts, options).entries.remove(0)
    }

    fn codes(entry: &PlanEntry) -> Vec<&'static str> {
        entry.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn clean_cloud_user_converts_with_mail_update_invite_and_verify() {
        let entry = decide(member("u1", "adele@contoso.com"), "adele@fabrikam.com");
        assert_eq!(entry.decision, Decision::Convert);
        assert!(entry.reasons.is_empty());
        assert_eq!(entry.user_id.as_deref(), Some("u1"));
        assert_eq!(
            entry.actions[0],
            Action::UpdateMail {
                from: Some("adele@contoso.com".into()),
                to: "adele@fabrikam.com".into()
            }
        );
        let Action::Invite { settings } = &entry.actions[1] else {
            panic!("{:?}", entry.actions)
        };
        assert!(settings.send_email);
        assert_eq!(
            settings.redirect_url,
            format!("https://myapps.microsoft.com/?tenantid={TENANT}")
        );
        assert_eq!(entry.actions[2], Action::Verify);
    }

    #[test]
    fn mail_already_external_needs_no_update() {
        let mut user = member("u1", "chen@contoso.com");
        user.mail = Some("Chen.Li@Adatum.com".into());
        let entry = decide(user, "chen.li@adatum.com");
        assert_eq!(entry.decision, Decision::Convert);
        assert!(matches!(entry.actions[0], Action::Invite { .. }));
    }

    #[test]
    fn row_settings_override_run_defaults_and_revoke_comes_first() {
        let mut options = PlanOptions::new(TENANT);
        options.revoke_sessions = true;
        let mut r = row(2, "u1", "a@fabrikam.com");
        r.send_email = Some(false);
        r.redirect_url = Some("https://portal.fabrikam.com".into());
        r.cc = Some("boss@fabrikam.com".into());
        let rows = vec![r];
        let facts = facts(&[member("u1", "a@contoso.com")], &rows);
        let entry = plan(&rows, &facts, &options).entries.remove(0);
        assert_eq!(entry.actions[0], Action::RevokeSessions);
        let Action::Invite { settings } = &entry.actions[2] else {
            panic!()
        };
        assert!(!settings.send_email);
        assert_eq!(settings.redirect_url, "https://portal.fabrikam.com");
        assert_eq!(settings.cc.as_deref(), Some("boss@fabrikam.com"));
    }

    #[test]
    fn never_send_email_wins_over_a_row_that_asks_for_email() {
        let mut options = PlanOptions::new(TENANT);
        options.never_send_email = true;
        let mut r = row(2, "u1", "a@fabrikam.com");
        r.send_email = Some(true);
        let rows = vec![r];
        let facts = facts(&[member("u1", "a@contoso.com")], &rows);
        let entry = plan(&rows, &facts, &options).entries.remove(0);
        let Some(Action::Invite { settings }) = entry
            .actions
            .iter()
            .find(|a| matches!(a, Action::Invite { .. }))
        else {
            panic!("a convert row invites: {entry:?}")
        };
        assert!(!settings.send_email);
    }

    #[test]
    fn not_found() {
        let rows = vec![row(2, "ghost@contoso.com", "ghost@fabrikam.com")];
        let entry = plan(&rows, &facts(&[], &rows), &PlanOptions::new(TENANT))
            .entries
            .remove(0);
        assert_eq!(entry.decision, Decision::Blocked);
        assert_eq!(codes(&entry), ["not_found"]);
        assert!(entry.actions.is_empty());
    }

    #[test]
    fn ambiguous_user() {
        let rows = vec![row(2, "sam@contoso.com", "sam@fabrikam.com")];
        let mut facts = facts(&[], &rows);
        facts.lookups.insert(
            "sam@contoso.com".into(),
            Lookup::Ambiguous {
                ids: vec!["u20".into(), "u21".into()],
            },
        );
        let entry = plan(&rows, &facts, &PlanOptions::new(TENANT))
            .entries
            .remove(0);
        assert_eq!(codes(&entry), ["ambiguous_user"]);
        assert!(entry.reasons[0].message.contains("u20, u21"));
    }

    #[test]
    fn duplicate_user_by_different_references_blocks_every_row() {
        let alex = member("u19", "alex@contoso.com");
        let rows = vec![
            row(2, "alex@contoso.com", "alex@fabrikam.com"),
            row(3, "ben@contoso.com", "ben@fabrikam.com"),
            row(4, "U19", "alex.w@fabrikam.com"),
        ];
        let facts = facts(&[alex, member("u2", "ben@contoso.com")], &rows);
        let plan = plan(&rows, &facts, &PlanOptions::new(TENANT));
        assert_eq!(codes(&plan.entries[0]), ["duplicate_row"]);
        assert!(
            plan.entries[0].reasons[0]
                .message
                .contains("also on line 4")
        );
        assert_eq!(plan.entries[1].decision, Decision::Convert);
        assert_eq!(codes(&plan.entries[2]), ["duplicate_row"]);
    }

    #[test]
    fn duplicate_external_address_blocks_both_rows() {
        let rows = vec![
            row(2, "a@contoso.com", "x@fabrikam.com"),
            row(3, "b@contoso.com", "X@Fabrikam.com"),
        ];
        let facts = facts(
            &[member("a", "a@contoso.com"), member("b", "b@contoso.com")],
            &rows,
        );
        let plan = plan(&rows, &facts, &PlanOptions::new(TENANT));
        for entry in &plan.entries {
            assert_eq!(codes(entry), ["duplicate_row"]);
        }
    }

    #[test]
    fn invalid_email() {
        let entry = decide(
            member("u18", "miriam@contoso.com"),
            "miriam graham@proseware",
        );
        assert_eq!(entry.decision, Decision::Blocked);
        assert_eq!(codes(&entry), ["invalid_email"]);
        assert!(entry.reasons[0].message.contains("white space"));
    }

    #[test]
    fn external_domain_is_verified_including_subdomains() {
        let entry = decide(member("u13", "nestor@contoso.com"), "nestor@contoso.com");
        assert_eq!(codes(&entry), ["external_domain_is_verified"]);
        let entry = decide(member("u13", "nestor@contoso.com"), "nestor@eu.CONTOSO.com");
        assert_eq!(codes(&entry), ["external_domain_is_verified"]);
        let entry = decide(member("u13", "nestor@contoso.com"), "nestor@notcontoso.com");
        assert_eq!(entry.decision, Decision::Convert);
    }

    #[test]
    fn email_in_use_by_another_object_but_not_by_the_user_itself() {
        let holder = |id: &str, kind| AddressHolder {
            id: id.into(),
            kind,
            display_name: Some("Fabrikam Partners".into()),
            property: "proxyAddresses".into(),
        };
        let entry = decide_with(
            member("u14", "patti@contoso.com"),
            "partners@fabrikam.com",
            |f| {
                f.address_holders.insert(
                    "partners@fabrikam.com".into(),
                    vec![holder("g1", HolderKind::Group)],
                );
            },
            &PlanOptions::new(TENANT),
        );
        assert_eq!(codes(&entry), ["email_in_use"]);
        assert!(
            entry.reasons[0]
                .message
                .contains("group `Fabrikam Partners` (g1) in proxyAddresses")
        );

        let entry = decide_with(
            member("u14", "patti@contoso.com"),
            "patti@fabrikam.com",
            |f| {
                f.address_holders.insert(
                    "patti@fabrikam.com".into(),
                    vec![holder("U14", HolderKind::User)],
                );
            },
            &PlanOptions::new(TENANT),
        );
        assert_eq!(entry.decision, Decision::Convert);
    }

    #[test]
    fn unchecked_address_is_not_assumed_free() {
        let entry = decide_with(
            member("u1", "a@contoso.com"),
            "a@fabrikam.com",
            |f| f.address_holders.clear(),
            &PlanOptions::new(TENANT),
        );
        assert_eq!(codes(&entry), ["email_in_use"]);
    }

    #[test]
    fn already_invited_is_skip_and_names_a_different_address() {
        let mut user = member("u22", "nina@contoso.com");
        user.mail = Some("nina@fabrikam.com".into());
        user.external_user_state = Some(InvitationState::parse("Pending Acceptance"));
        let entry = decide(user.clone(), "nina@fabrikam.com");
        assert_eq!(entry.decision, Decision::Skip);
        assert_eq!(codes(&entry), ["already_invited"]);
        assert!(entry.actions.is_empty());
        let entry = decide(user, "nina@northwind.com");
        assert_eq!(entry.decision, Decision::Skip);
        assert!(
            entry.reasons[0]
                .message
                .contains("for `nina@fabrikam.com`, not `nina@northwind.com`")
        );
    }

    #[test]
    fn already_external_by_state_identity_or_creation_type() {
        let mut accepted = member("u23", "omar@contoso.com");
        accepted.external_user_state = Some(InvitationState::Accepted);
        let mut federated = member("u23", "omar@contoso.com");
        federated.has_external_identity = true;
        let mut guest = member("u24", "quinn_tailspintoys.com#EXT#@contoso.onmicrosoft.com");
        guest.creation_type = Some("Invitation".into());
        guest.user_type = Some("Guest".into());
        for user in [accepted, federated, guest] {
            let entry = decide(user, "omar@northwind.com");
            assert_eq!(entry.decision, Decision::Skip);
            assert_eq!(codes(&entry), ["already_external"]);
        }
    }

    #[test]
    fn skip_does_not_hide_input_problems() {
        let mut user = member("u22", "nina@contoso.com");
        user.external_user_state = Some(InvitationState::PendingAcceptance);
        let entry = decide(user, "nina fabrikam");
        assert_eq!(entry.decision, Decision::Blocked);
        assert_eq!(codes(&entry), ["invalid_email"]);
    }

    #[test]
    fn on_prem_upn_set() {
        let mut user = member("u8", "henrik@contoso.com");
        user.on_premises_sync_enabled = Some(true);
        user.on_premises_user_principal_name = Some("henrik@corp.contoso.local".into());
        user.mail = Some("henrik@litware.com".into());
        let entry = decide(user, "henrik@litware.com");
        assert_eq!(codes(&entry), ["on_prem_upn_set"]);
        assert!(
            entry.reasons[0]
                .message
                .contains("henrik@corp.contoso.local")
        );
    }

    #[test]
    fn synced_mail_mismatch_but_synced_with_matching_mail_converts() {
        let mut user = member("u9", "isaiah@contoso.com");
        user.on_premises_sync_enabled = Some(true);
        let entry = decide(user.clone(), "isaiah@litware.com");
        assert_eq!(codes(&entry), ["synced_mail_mismatch"]);
        user.mail = Some("isaiah@litware.com".into());
        let entry = decide(user, "isaiah@litware.com");
        assert_eq!(entry.decision, Decision::Convert);
        assert!(
            matches!(entry.actions[0], Action::Invite { .. }),
            "no PATCH for a synced user"
        );
        assert!(
            entry
                .notes
                .iter()
                .any(|n| n.contains("on-premises password"))
        );
    }

    #[test]
    fn has_mailbox() {
        let mut user = member("u10", "johanna@contoso.com");
        user.has_mailbox = true;
        assert_eq!(codes(&decide(user, "johanna@adatum.com")), ["has_mailbox"]);
    }

    #[test]
    fn privileged_role_blocks_unless_allowed_and_unknown_roles_block() {
        let with_roles = |f: &mut Facts| {
            f.roles
                .insert("u11".into(), vec!["Global Administrator".into()]);
        };
        let user = member("u11", "lee@contoso.com");
        let entry = decide_with(
            user.clone(),
            "lee@fabrikam.com",
            with_roles,
            &PlanOptions::new(TENANT),
        );
        assert_eq!(codes(&entry), ["privileged_role"]);
        assert!(entry.reasons[0].message.contains("Global Administrator"));

        let mut allow = PlanOptions::new(TENANT);
        allow.allow_privileged = true;
        let entry = decide_with(user.clone(), "lee@fabrikam.com", with_roles, &allow);
        assert_eq!(entry.decision, Decision::Convert);
        assert!(entry.notes[0].contains("--allow-privileged"));

        let entry = decide_with(
            user,
            "lee@fabrikam.com",
            |f| {
                f.roles.clear();
            },
            &allow,
        );
        assert_eq!(codes(&entry), ["privileged_role"]);
    }

    #[test]
    fn account_disabled() {
        let mut user = member("u12", "megan@contoso.com");
        user.account_enabled = Some(false);
        assert_eq!(
            codes(&decide(user, "megan@fabrikam.com")),
            ["account_disabled"]
        );
    }

    #[test]
    fn every_blocking_reason_is_listed_at_once() {
        let mut user = member("u1", "x@contoso.com");
        user.account_enabled = Some(false);
        user.has_mailbox = true;
        user.on_premises_sync_enabled = Some(true);
        user.on_premises_user_principal_name = Some("x@corp.local".into());
        let entry = decide(user, "x@contoso.com");
        assert_eq!(
            codes(&entry),
            [
                "on_prem_upn_set",
                "has_mailbox",
                "account_disabled",
                "external_domain_is_verified"
            ],
            "mail equals the address, so a synced mismatch is not among them"
        );
    }

    #[test]
    fn json_shape_is_stable() {
        let entry = decide(member("u1", "adele@contoso.com"), "adele@fabrikam.com");
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["row"], 2);
        assert_eq!(json["userId"], "u1");
        assert_eq!(json["externalEmail"], "adele@fabrikam.com");
        assert_eq!(json["decision"], "convert");
        assert_eq!(json["actions"][0]["action"], "update_mail");
        assert_eq!(json["actions"][1]["action"], "invite");
        assert_eq!(json["actions"][1]["sendEmail"], true);
        let blocked = decide(member("u1", "a@contoso.com"), "a@contoso.com");
        let json = serde_json::to_value(&blocked).unwrap();
        assert_eq!(json["reasons"][0]["code"], "external_domain_is_verified");
    }

    /// A random small tenant and input, for the safety property below.
    mod property {
        use super::*;
        use proptest::prelude::*;

        /// External addresses the rows pick from: valid, the same one in another case,
        /// in a verified domain, under a verified domain, and invalid.
        const ADDRESSES: [&str; 6] = [
            "p0@fabrikam.com",
            "P0@Fabrikam.com",
            "p1@northwind.com",
            "x@contoso.com",
            "x@eu.contoso.com",
            "not an address",
        ];
        /// Domains the tenant may have verified.
        const DOMAINS: [&str; 2] = ["contoso.com", "fabrikam.com"];

        /// Per user: [mailbox, onPremisesUserPrincipalName, synced, roles unreadable,
        /// federated identity, created by invitation], mail (an index into ADDRESSES, or
        /// none), roles (0 unread, 1 an admin role, else none), enabled (0 no, 1 unknown,
        /// else yes), invitation state (0 pending, 1 accepted, 2 other, else none). The
        /// harmless values are the likelier ones, so that enough rows convert for the
        /// property to bite.
        type UserSpec = ([bool; 6], usize, u8, u8, u8);
        /// Per address: holders (0 unchecked, 1 a user, 2 a group, else nobody), whose
        /// user holds it when 1, and whether reading its holders failed.
        type AddressSpec = (u8, usize, bool);

        fn user(index: usize, spec: &UserSpec) -> UserFacts {
            let (flags, mail, _, enabled, state) = *spec;
            UserFacts {
                id: format!("u{index}"),
                user_principal_name: Some(format!("u{index}@contoso.com")),
                mail: ADDRESSES.get(mail).map(|m| (*m).to_owned()),
                account_enabled: match enabled % 8 {
                    0 => Some(false),
                    1 => None,
                    _ => Some(true),
                },
                has_mailbox: flags[0],
                on_premises_user_principal_name: flags[1].then(|| "x@corp.local".into()),
                on_premises_sync_enabled: Some(flags[2]),
                has_external_identity: flags[4],
                creation_type: flags[5].then(|| "Invitation".into()),
                external_user_state: match state % 8 {
                    0 => Some(InvitationState::PendingAcceptance),
                    1 => Some(InvitationState::Accepted),
                    2 => Some(InvitationState::parse("Revoked")),
                    _ => None,
                },
                ..Default::default()
            }
        }

        fn tenant(
            users: &[UserSpec],
            lookups: &[u8],
            addresses: &[AddressSpec],
            verified: [bool; 2],
            rows: &[(usize, usize)],
        ) -> (Facts, Vec<InputRow>) {
            let mut facts = Facts {
                verified_domains: DOMAINS
                    .iter()
                    .zip(verified)
                    .filter(|(_, on)| *on)
                    .map(|(d, _)| (*d).to_owned())
                    .collect(),
                ..Default::default()
            };
            for (index, spec) in users.iter().enumerate() {
                let facts_user = user(index, spec);
                let id = facts_user.id.clone();
                let lookup = match lookups.get(index).copied().unwrap_or(0) % 8 {
                    0 => Lookup::NotFound,
                    1 => Lookup::Ambiguous {
                        ids: vec![id.clone(), "other".into()],
                    },
                    2 => Lookup::Failed {
                        error: "503 serviceUnavailable".into(),
                    },
                    _ => Lookup::Found { id: id.clone() },
                };
                facts.lookups.insert(reference_key(&id), lookup);
                match spec.2 % 8 {
                    0 => {}
                    1 => {
                        facts
                            .roles
                            .insert(id.clone(), vec!["Global Administrator".into()]);
                    }
                    _ => {
                        facts.roles.insert(id.clone(), vec![]);
                    }
                }
                if spec.0[3] {
                    facts.role_failures.insert(id.clone(), "429".into());
                }
                facts.users.insert(id, facts_user);
            }
            for (address, &(kind, holder, failed)) in ADDRESSES.iter().zip(addresses) {
                let key = address.to_lowercase();
                let holders = match kind % 8 {
                    0 => None,
                    1 => Some(vec![AddressHolder {
                        id: format!("U{}", holder % users.len().max(1)),
                        kind: HolderKind::User,
                        display_name: None,
                        property: "mail".into(),
                    }]),
                    2 => Some(vec![AddressHolder {
                        id: "g1".into(),
                        kind: HolderKind::Group,
                        display_name: None,
                        property: "proxyAddresses".into(),
                    }]),
                    _ => Some(vec![]),
                };
                if let Some(holders) = holders {
                    facts.address_holders.insert(key.clone(), holders);
                }
                if failed {
                    facts.address_failures.insert(key, "timeout".into());
                }
            }
            let rows = rows
                .iter()
                .enumerate()
                .map(|(index, &(who, address))| {
                    let reference = if who < users.len() {
                        format!("U{who}")
                    } else {
                        "ghost@contoso.com".into()
                    };
                    row(
                        index as u64 + 2,
                        &reference,
                        ADDRESSES[address % ADDRESSES.len()],
                    )
                })
                .collect();
            (facts, rows)
        }

        /// The blocking rule that covers row `index`, if any: an independent restatement
        /// of what must never be converted.
        fn blocking_rule(
            index: usize,
            rows: &[InputRow],
            facts: &Facts,
            allow_privileged: bool,
        ) -> Option<&'static str> {
            let row = &rows[index];
            let external = row.external_email.trim();
            let key = external.to_lowercase();
            let resolved = |r: &InputRow| match facts.lookups.get(&reference_key(&r.user)) {
                Some(Lookup::Found { id }) => Some(id.to_lowercase()),
                _ => None,
            };
            let Some(id) = resolved(row) else {
                return Some("unresolved user (not found, ambiguous or lookup failed)");
            };
            let Some(user) = facts.users.get(&id) else {
                return Some("unknown user");
            };
            let duplicate = rows.iter().enumerate().any(|(other, r)| {
                other != index
                    && (resolved(r).as_deref() == Some(id.as_str())
                        || r.external_email.trim().to_lowercase() == key)
            });
            if duplicate {
                return Some("duplicate row");
            }
            if email::check_address(external).is_err() {
                return Some("invalid address");
            }
            if user.has_mailbox {
                return Some("mailbox");
            }
            if user.on_premises_user_principal_name.is_some() {
                return Some("onPremisesUserPrincipalName");
            }
            if user.on_premises_sync_enabled == Some(true)
                && !user
                    .mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(external))
            {
                return Some("synced with another mail");
            }
            if facts.role_failures.contains_key(&user.id) {
                return Some("roles unreadable");
            }
            match facts.roles.get(&user.id) {
                None => return Some("roles unknown"),
                Some(roles) if !roles.is_empty() && !allow_privileged => {
                    return Some("privileged");
                }
                Some(_) => {}
            }
            if user.account_enabled == Some(false) {
                return Some("disabled");
            }
            let domain = key.rsplit_once('@').map_or("", |(_, d)| d);
            if facts
                .verified_domains
                .iter()
                .any(|v| domain == v || domain.ends_with(&format!(".{v}")))
            {
                return Some("verified domain");
            }
            if facts.address_failures.contains_key(&key) {
                return Some("holders unreadable");
            }
            match facts.address_holders.get(&key) {
                None => Some("holders unknown"),
                Some(holders) if holders.iter().any(|h| !h.id.eq_ignore_ascii_case(&user.id)) => {
                    Some("address held by another object")
                }
                Some(_) => None,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            #[test]
            fn no_convert_decision_targets_a_blocked_user(
                users in prop::collection::vec(
                    (
                        prop::array::uniform6(prop::bool::weighted(0.1)),
                        0..=ADDRESSES.len(),
                        any::<u8>(),
                        any::<u8>(),
                        any::<u8>(),
                    ),
                    1..5,
                ),
                lookups in prop::collection::vec(any::<u8>(), 5),
                addresses in prop::collection::vec(
                    (any::<u8>(), any::<usize>(), prop::bool::weighted(0.1)),
                    ADDRESSES.len(),
                ),
                verified in prop::array::uniform2(prop::bool::weighted(0.3)),
                rows in prop::collection::vec((0..6usize, 0..ADDRESSES.len()), 1..6),
                allow_privileged in any::<bool>(),
            ) {
                let (facts, rows) = tenant(&users, &lookups, &addresses, verified, &rows);
                let mut options = PlanOptions::new(TENANT);
                options.allow_privileged = allow_privileged;
                let plan = plan(&rows, &facts, &options);
                prop_assert_eq!(plan.entries.len(), rows.len());
                for (index, entry) in plan.entries.iter().enumerate() {
                    if entry.decision != Decision::Convert {
                        prop_assert!(entry.actions.is_empty(), "{:?}", entry);
                        continue;
                    }
                    let rule = blocking_rule(index, &rows, &facts, allow_privileged);
                    prop_assert!(
                        rule.is_none(),
                        "row {} converts although {:?}: {:?}",
                        entry.row,
                        rule,
                        entry
                    );
                    let invites = entry.actions.iter().any(|a| matches!(a, Action::Invite { .. }));
                    prop_assert!(invites, "a convert row invites: {:?}", entry);
                }
            }
        }
    }
}
