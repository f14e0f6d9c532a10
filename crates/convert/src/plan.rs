//! The planner: from the input rows and what the directory says about them, one decision
//! per row — `convert`, `skip` or `blocked` — with the reasons and the actions.
//!
//! It is a pure function: no I/O, no clock, no randomness. Everything it needs is in
//! [`Facts`], gathered beforehand (see `crate::facts`), so every rule is tested here
//! without a server, and a plan can be recomputed from a journal.
//!
//! The pre-flight's rules (invitation policies, partner tenants, the predicted
//! redemption) are [`crate::preflight`]'s, applied here to each row: its facts are read
//! once per run and shared by every row of a partner, so a row adds a pointer, not a copy.
//!
//! The reason codes are a stable, documented part of the interface (README, "Reason
//! codes"): scripts branch on them. Add codes; never rename one.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::email;
use crate::input::InputRow;
use crate::preflight::{
    DomainVerdict, Finding, Inbound, Prediction, Preflight, Redemption, RoleGroupLink,
};
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
    /// PIM-eligible directory roles of each user who has some, by object id (a user
    /// missing here has none, or eligibilities could not be read: see
    /// `preflight.findings`).
    #[serde(default)]
    pub eligible_roles: HashMap<String, Vec<String>>,
    /// Users whose eligibilities could not be read, by object id, with Graph's error.
    #[serde(default)]
    pub eligibility_failures: HashMap<String, String>,
    /// The role-assignable groups each user is a member or owner of, for users who are
    /// (missing: none, or not readable: see `preflight.findings`).
    #[serde(default)]
    pub role_groups: HashMap<String, Vec<RoleGroupLink>>,
    /// Users whose role-assignable groups could not be read, with Graph's error.
    #[serde(default)]
    pub role_group_failures: HashMap<String, String>,
    /// The tenant's invitation policies and the partners' tenants, read once per run.
    #[serde(default)]
    pub preflight: Preflight,
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
    /// The invitation message for rows that don't give one (`--message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_message: Option<String>,
    /// The cc recipient for rows that don't give one (`--cc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_cc: Option<String>,
    /// The message language for rows that don't give one (`--language`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    /// Also add the external address to `otherMails` (older guidance; `--also-other-mails`).
    #[serde(default)]
    pub also_other_mails: bool,
    /// Set `userType` to this after inviting (`--user-type guest`: billed as an external
    /// user under monthly active users, when the tenant is linked to a subscription).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_user_type: Option<String>,
    /// Set a random cloud password nobody is told, for cloud-only users
    /// (`--scramble-password`); synced users get a note to do it on-premises instead.
    #[serde(default)]
    pub scramble_password: bool,
}

impl PlanOptions {
    /// The invitation a row sends: its own columns where it gives them, the run's
    /// defaults otherwise (`row` `None`: a user named without a row, defaults only).
    pub fn invitation_settings(&self, row: Option<&InputRow>) -> InvitationSettings {
        InvitationSettings {
            redirect_url: row
                .and_then(|r| r.redirect_url.clone())
                .unwrap_or_else(|| self.default_redirect_url.clone()),
            send_email: !self.never_send_email
                && row
                    .and_then(|r| r.send_email)
                    .unwrap_or(self.default_send_email),
            message: row
                .and_then(|r| r.message.clone())
                .or_else(|| self.default_message.clone()),
            cc: row
                .and_then(|r| r.cc.clone())
                .or_else(|| self.default_cc.clone()),
            language: row
                .and_then(|r| r.language.clone())
                .or_else(|| self.default_language.clone()),
        }
    }

    /// The documented defaults: invitation email on, redirect to My Apps in this tenant.
    pub fn new(tenant_id: &str) -> Self {
        Self {
            allow_privileged: false,
            revoke_sessions: false,
            default_redirect_url: format!("https://myapps.microsoft.com/?tenantid={tenant_id}"),
            default_send_email: true,
            never_send_email: false,
            default_message: None,
            default_cc: None,
            default_language: None,
            also_other_mails: false,
            set_user_type: None,
            scramble_password: false,
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
        /// The tenant allows no guest invitations (`allowInvitesFrom: none`).
        InvitationsDisabled = "invitations_disabled",
        /// The address's domain is on the B2B deny list, or missing from the allow list.
        DomainBlockedByPolicy = "domain_blocked_by_policy",
        /// Cross-tenant access settings block B2B collaboration with the partner's tenant.
        PartnerBlockedByCrossTenantAccess = "partner_blocked_by_cross_tenant_access",
        /// The user is a member or owner of a role-assignable group.
        RoleAssignableGroup = "role_assignable_group",
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
    /// `PATCH /users/{id}` adding the external address to `otherMails` (read, then
    /// written with the address added: Graph replaces the whole collection).
    AddOtherMail {
        /// The external address.
        address: String,
    },
    /// `POST /invitations` with `invitedUser.id`.
    Invite {
        /// The invitation's settings.
        #[serde(flatten)]
        settings: InvitationSettings,
    },
    /// `PATCH /users/{id}` with `userType`.
    SetUserType {
        /// `Guest`.
        to: String,
    },
    /// `PATCH /users/{id}` with a random `passwordProfile.password` that is never
    /// printed, logged or journaled: the partner signs in with their own identity now.
    ScramblePassword,
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
    /// How the partner is predicted to redeem (none for an address that is not a valid
    /// external one; absent from journals written before the pre-flight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redemption: Option<Redemption>,
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
    /// The pre-flight checks that could not be made, once per run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
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
///     redirect_url: None, send_email: None, revoke_sessions: None, message: None, cc: None,
///     language: None,
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
    let duplicates = duplicate_rows(rows, |_, row| facts.user_key(row));
    let entries = rows
        .iter()
        .enumerate()
        .map(|(index, row)| decide(row, duplicates.get(&index), &facts.row_facts(row), options))
        .collect();
    Plan {
        entries,
        findings: facts.preflight.findings.clone(),
    }
}

/// What the rules read about one row: the entries of [`Facts`] under the row's keys.
///
/// The rules see facts only through this, so that the snapshot can hand them the facts
/// of one row at a time from its own compact tables (and free them once the last row
/// naming them is decided) while deciding exactly as [`plan`] does from a [`Facts`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowFacts<'a> {
    /// The tenant's verified domains, lower case.
    pub verified_domains: &'a [String],
    /// How the row's `user` reference resolved; none: not looked up.
    pub lookup: Option<&'a Lookup>,
    /// The user it resolved to, when found.
    pub user: Option<&'a UserFacts>,
    /// That user's directory roles; none: not read.
    pub roles: Option<&'a [String]>,
    /// Why that user's roles could not be read.
    pub role_failure: Option<&'a str>,
    /// Who holds the row's external address; none: not checked.
    pub holders: Option<&'a [AddressHolder]>,
    /// Why the holders of the row's external address could not be read.
    pub address_failure: Option<&'a str>,
    /// The user's PIM-eligible directory roles (none: has none, or not readable).
    pub eligible_roles: Option<&'a [String]>,
    /// Why the user's eligibilities could not be read.
    pub eligibility_failure: Option<&'a str>,
    /// The role-assignable groups the user is a member or owner of.
    pub role_groups: Option<&'a [RoleGroupLink]>,
    /// Why the user's role-assignable groups could not be read.
    pub role_group_failure: Option<&'a str>,
    /// The run's pre-flight facts.
    pub preflight: &'a Preflight,
}

impl Facts {
    /// The facts the rules read for `row`.
    pub(crate) fn row_facts(&self, row: &InputRow) -> RowFacts<'_> {
        let lookup = self.lookups.get(&reference_key(&row.user));
        let user = match lookup {
            Some(Lookup::Found { id }) => self.users.get(id),
            _ => None,
        };
        let address = address_key(&row.external_email);
        RowFacts {
            verified_domains: &self.verified_domains,
            lookup,
            user,
            roles: user.and_then(|u| self.roles.get(&u.id)).map(Vec::as_slice),
            role_failure: user
                .and_then(|u| self.role_failures.get(&u.id))
                .map(String::as_str),
            holders: self.address_holders.get(&address).map(Vec::as_slice),
            address_failure: self.address_failures.get(&address).map(String::as_str),
            eligible_roles: user
                .and_then(|u| self.eligible_roles.get(&u.id))
                .map(Vec::as_slice),
            eligibility_failure: user
                .and_then(|u| self.eligibility_failures.get(&u.id))
                .map(String::as_str),
            role_groups: user
                .and_then(|u| self.role_groups.get(&u.id))
                .map(Vec::as_slice),
            role_group_failure: user
                .and_then(|u| self.role_group_failures.get(&u.id))
                .map(String::as_str),
            preflight: &self.preflight,
        }
    }

    /// The key under which rows name the same user: its object id when the reference
    /// resolved to one, else the reference itself.
    fn user_key(&self, row: &InputRow) -> String {
        let key = reference_key(&row.user);
        match self.lookups.get(&key) {
            Some(Lookup::Found { id }) => found_user_key(id),
            _ => unresolved_user_key(key),
        }
    }
}

/// The duplicate key of a row whose reference resolved to the user `id`.
pub(crate) fn found_user_key(id: &str) -> String {
    format!("id:{}", id.to_lowercase())
}

/// The duplicate key of a row whose reference (as [`reference_key`] gives it) resolved
/// to no single user.
pub(crate) fn unresolved_user_key(reference_key: String) -> String {
    format!("ref:{reference_key}")
}

/// The key under which an external address is checked: trimmed, lower case.
pub(crate) fn address_key(external_email: &str) -> String {
    external_email.trim().to_lowercase()
}

/// For each row index that shares its user or its external address with another row,
/// a sentence naming the other lines. `user_key` gives a row's user key
/// ([`found_user_key`] or [`unresolved_user_key`]).
///
/// Rows are grouped by a hash of their key, and only rows whose hash another row
/// shares have their key made again and compared: a list of 100,000 rows then costs
/// 16 bytes a row instead of a sorted map of every key.
pub(crate) fn duplicate_rows(
    rows: &[InputRow],
    user_key: impl Fn(usize, &InputRow) -> String,
) -> HashMap<usize, String> {
    duplicate_rows_hashed(rows, user_key, fixed_hash)
}

/// A hash of `text` that is the same for the same text within the run, which is all
/// the grouping needs (rows whose hashes agree are compared by their keys).
fn fixed_hash(text: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(text, &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// [`duplicate_rows`] with the hash given, so that tests can make every key collide.
fn duplicate_rows_hashed(
    rows: &[InputRow],
    user_key: impl Fn(usize, &InputRow) -> String,
    hash: fn(&str) -> u64,
) -> HashMap<usize, String> {
    let mut found: HashMap<usize, Vec<String>> = HashMap::new();
    let by_user = |index: usize| user_key(index, &rows[index]);
    let by_address = |index: usize| address_key(&rows[index].external_email);
    // Users first: a row's sentence names its user's other lines, then its address's.
    for (key, what) in [
        (&by_user as &dyn Fn(usize) -> String, "the same user is"),
        (&by_address, "the same external address is"),
    ] {
        for group in equal_groups(rows.len(), key, hash) {
            for &index in &group {
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
        }
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

/// The groups of two or more indices in `0..len` with equal `key`s, each in index order.
fn equal_groups(
    len: usize,
    key: &dyn Fn(usize) -> String,
    hash: fn(&str) -> u64,
) -> Vec<Vec<usize>> {
    let mut hashed: Vec<(u64, usize)> = (0..len).map(|index| (hash(&key(index)), index)).collect();
    hashed.sort_unstable();
    let mut groups = Vec::new();
    for run in hashed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        // Rows whose hashes agree: group them by the key itself, in index order.
        let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &(_, index) in run {
            by_key.entry(key(index)).or_default().push(index);
        }
        groups.extend(by_key.into_values().filter(|group| group.len() > 1));
    }
    groups
}

/// Decides one row from its facts.
pub(crate) fn decide(
    row: &InputRow,
    duplicate: Option<&String>,
    facts: &RowFacts<'_>,
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

    let user = match facts.lookup {
        Some(Lookup::Found { .. }) => facts.user,
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
        facts.lookup,
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

    // What the pre-flight says about the address's domain: none for an address Graph
    // would refuse, or one in this tenant's own domains (no partner there).
    let prediction = if address_ok {
        email::domain_of(external)
            .filter(|domain| verified_domain(domain, facts.verified_domains).is_none())
            .map(|domain| facts.preflight.predict(&domain))
    } else {
        None
    };

    let mut actions = Vec::new();
    if let Some(user) = user {
        let skips = skip_reasons(user, external);
        if reasons.is_empty() && !skips.is_empty() {
            reasons = skips;
        } else if skips.is_empty() {
            reasons.extend(block_reasons(
                user,
                external,
                address_ok,
                facts,
                prediction.as_ref(),
                options,
                &mut notes,
            ));
        }
        if reasons.is_empty() {
            actions = convert_actions(row, user, external, options);
            notes.extend(convert_notes(user));
            if let Some(prediction) = &prediction {
                notes.extend(redemption_notes(prediction));
            }
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
        redemption: prediction.map(|p| p.redemption),
    }
}

/// What a `convert` row's partner should know about redeeming.
fn redemption_notes(prediction: &Prediction<'_>) -> Vec<String> {
    let partner = prediction
        .redemption
        .partner_tenant
        .as_ref()
        .map_or("the partner", |t| t.0.display_name.as_str());
    let mut notes = Vec::new();
    if prediction.redemption.automatic {
        notes.push(format!(
            "Automatic redemption: this tenant's cross-tenant access settings let {partner} users \
             skip the consent prompt, if {partner} also allows it outbound (otherwise they see it once)."
        ));
    }
    if prediction.inbound == Some(Inbound::DependsOnUser) {
        notes.push(format!(
            "Cross-tenant access settings admit only particular users or groups of {partner}: \
             whether this partner may redeem is only known when they sign in."
        ));
    }
    notes
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
        // The exact command, whoever sent the first invitation (a journaled run's
        // `reinvite --pending-older-than` only reaches its own users).
        let who = user.user_principal_name.as_deref().unwrap_or(&user.id);
        return vec![reason(
            ReasonCode::AlreadyInvited,
            format!(
                "The user already has a pending invitation; `b2b-convert reinvite --user {who}` sends a fresh one.{suffix}"
            ),
        )];
    }
    Vec::new()
}

fn block_reasons(
    user: &UserFacts,
    external: &str,
    address_ok: bool,
    facts: &RowFacts<'_>,
    prediction: Option<&Prediction<'_>>,
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
    let role_failure = facts.role_failure;
    let eligible = facts.eligible_roles.unwrap_or_default();
    match facts.roles {
        _ if role_failure.is_some() => reasons.push(lookup_failed(
            "the user's directory roles",
            role_failure.unwrap_or_default(),
        )),
        Some([]) if eligible.is_empty() => {}
        Some(roles) if options.allow_privileged => notes.push(format!(
            "{}; converting anyway because --allow-privileged was given.",
            privileges(roles, eligible, "Holds directory roles", "Eligible for directory roles")
        )),
        Some(roles) => reasons.push(reason(
            ReasonCode::PrivilegedRole,
            format!(
                "The user {}. Remove {} first, or pass --allow-privileged \
                 if this admin account really belongs to the partner.",
                privileges(
                    roles,
                    eligible,
                    "holds directory roles",
                    "is eligible for directory roles"
                ),
                match (roles.is_empty(), eligible.is_empty()) {
                    (false, true) => "the roles",
                    (true, false) => "the eligibility",
                    _ => "the roles and the eligibility",
                }
            ),
        )),
        None => reasons.push(reason(
            ReasonCode::PrivilegedRole,
            "The user's directory roles could not be read, so the tool cannot rule out an admin account. \
             Grant the app permission to read role memberships and re-run."
                .into(),
        )),
    }
    if let Some(error) = facts.eligibility_failure {
        reasons.push(lookup_failed("the user's eligible directory roles", error));
    }
    match (facts.role_group_failure, facts.role_groups) {
        (Some(error), _) => reasons.push(lookup_failed("the user's role-assignable groups", error)),
        (None, Some(links)) if !links.is_empty() => {
            let groups = role_groups(links);
            if options.allow_privileged {
                notes.push(format!(
                    "{} (role-assignable); converting anyway because --allow-privileged was given: \
                     a role assigned to the group would go to the partner.",
                    capitalised(&groups)
                ));
            } else {
                reasons.push(reason(
                    ReasonCode::RoleAssignableGroup,
                    format!(
                        "The user is {groups}, which can hold directory roles: its members and owners count as \
                         privileged (only a Privileged Authentication Administrator may change them), and a role \
                         given to the group would go to the partner. Remove the user from the group first, or pass \
                         --allow-privileged if this account really belongs to the partner."
                    ),
                ));
            }
        }
        (None, _) => {}
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
        if let Some(domain) = email::domain_of(external)
            && let Some(verified) = verified_domain(&domain, facts.verified_domains)
        {
            reasons.push(reason(
                ReasonCode::ExternalDomainIsVerified,
                format!(
                    "`{domain}` is a verified domain of this tenant (`{verified}`), so `{external}` is not an \
                     external address. Use the partner's own home address."
                ),
            ));
        }
        let address_failure = facts.address_failure;
        match facts.holders {
            _ if address_failure.is_some() => reasons.push(lookup_failed(
                &format!("who holds `{external}`"),
                address_failure.unwrap_or_default(),
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
    if let Some(prediction) = prediction {
        reasons.extend(policy_reasons(external, prediction));
    }
    reasons
}

/// The invitation policies that would make Graph refuse this row's invitation.
fn policy_reasons(external: &str, prediction: &Prediction<'_>) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if prediction.invitations_disabled {
        reasons.push(reason(
            ReasonCode::InvitationsDisabled,
            "The tenant allows no guest invitations (external collaboration settings: allowInvitesFrom \
             is `none`), so Graph refuses every invitation. Allow invitations under External Identities > \
             External collaboration settings first."
                .into(),
        ));
    }
    let domain = email::domain_of(external).unwrap_or_default();
    match prediction.domain {
        DomainVerdict::Allowed => {}
        DomainVerdict::Denied(listed) => {
            let which = if listed == domain {
                format!("`{domain}` is on")
            } else {
                format!("`{domain}` is under `{listed}`, which is on")
            };
            reasons.push(reason(
                ReasonCode::DomainBlockedByPolicy,
                format!(
                    "{which} this tenant's B2B deny list (External collaboration settings > \
                     Collaboration restrictions), so Graph refuses the invitation. Take the domain off the \
                     list, or use the partner's address in another domain."
                ),
            ));
        }
        DomainVerdict::NotAllowed => reasons.push(reason(
            ReasonCode::DomainBlockedByPolicy,
            format!(
                "`{domain}` is not on this tenant's B2B allow list (External collaboration settings > \
                 Collaboration restrictions), so Graph refuses the invitation. Add the domain to the list \
                 first."
            ),
        )),
    }
    if let Some(Inbound::Blocked {
        all_users,
        by_partner,
    }) = prediction.inbound
    {
        let partner = prediction
            .redemption
            .partner_tenant
            .as_ref()
            .map_or_else(String::new, |t| {
                format!("{} (tenant {})", t.0.display_name, t.0.tenant_id)
            });
        let whom = if all_users {
            "all of its users"
        } else {
            "all of this tenant's applications"
        };
        let whose = if by_partner {
            "the partner's own settings"
        } else {
            "the default settings, which apply to it"
        };
        reasons.push(reason(
            ReasonCode::PartnerBlockedByCrossTenantAccess,
            format!(
                "Cross-tenant access settings block inbound B2B collaboration with {partner} for {whom} \
                 ({whose}), so Graph refuses the invitation. Allow it under External Identities > \
                 Cross-tenant access settings, or leave this row out."
            ),
        ));
    }
    reasons
}

/// "holds directory roles (A) and is eligible for (B)", from the roles held and the
/// roles the user is eligible for, with the two phrasings given.
fn privileges(held: &[String], eligible: &[String], holds: &str, eligible_for: &str) -> String {
    match (held, eligible) {
        (held, []) => format!("{holds} ({})", held.join(", ")),
        ([], eligible) => format!(
            "{eligible_for} ({}) through Privileged Identity Management, and can activate them at any time",
            eligible.join(", ")
        ),
        (held, eligible) => format!(
            "{holds} ({}) and is eligible for ({}) through Privileged Identity Management",
            held.join(", "),
            eligible.join(", ")
        ),
    }
}

/// "a member of `Tier 0` and an owner of `Ops`".
fn role_groups(links: &[RoleGroupLink]) -> String {
    let parts: Vec<String> = links
        .iter()
        .map(|l| {
            let role = if l.owner { "an owner" } else { "a member" };
            format!("{role} of the role-assignable group `{}`", l.group)
        })
        .collect();
    parts.join(" and ")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The verified domain that covers `domain`: itself, or a parent (Entra verifies a
/// subdomain of a verified domain along with it, so the stricter reading counts those).
pub(crate) fn verified_domain<'a>(domain: &str, verified: &'a [String]) -> Option<&'a str> {
    verified
        .iter()
        .find(|v| crate::email::is_within(domain, v))
        .map(String::as_str)
}

fn convert_actions(
    row: &InputRow,
    user: &UserFacts,
    external: &str,
    options: &PlanOptions,
) -> Vec<Action> {
    let update_mail = !user
        .mail
        .as_deref()
        .is_some_and(|m| email::same_address(m, external));
    // Room for exactly the actions there will be: a plan of 100,000 rows holds 100,000
    // of these lists, and one grown by pushing three would have room for four.
    let set_user_type = options.set_user_type.as_deref().filter(|to| {
        !user
            .user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(to))
    });
    // Graph can't change a synced user's password (on-premises AD masters it): the
    // convert note says to do it there instead.
    let scramble = options.scramble_password && user.on_premises_sync_enabled != Some(true);
    let revoke = row.revoke_sessions.unwrap_or(options.revoke_sessions);
    let mut actions = Vec::with_capacity(
        2 + usize::from(revoke)
            + usize::from(update_mail)
            + usize::from(options.also_other_mails)
            + usize::from(set_user_type.is_some())
            + usize::from(scramble),
    );
    if revoke {
        actions.push(Action::RevokeSessions);
    }
    if update_mail {
        actions.push(Action::UpdateMail {
            from: user.mail.clone(),
            to: external.to_owned(),
        });
    }
    if options.also_other_mails {
        actions.push(Action::AddOtherMail {
            address: external.to_owned(),
        });
    }
    actions.push(Action::Invite {
        settings: options.invitation_settings(Some(row)),
    });
    if let Some(to) = set_user_type {
        actions.push(Action::SetUserType { to: to.to_owned() });
    }
    if scramble {
        actions.push(Action::ScramblePassword);
    }
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
            revoke_sessions: None,
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
    fn a_row_may_ask_for_revocation_or_opt_out_of_the_runs() {
        let mut yes = row(2, "u1", "a@fabrikam.com");
        yes.revoke_sessions = Some(true);
        let mut no = row(3, "u2", "b@fabrikam.com");
        no.revoke_sessions = Some(false);
        let rows = vec![yes, no];
        let facts = facts(
            &[member("u1", "a@contoso.com"), member("u2", "b@contoso.com")],
            &rows,
        );
        let revokes = |options: &PlanOptions| -> Vec<bool> {
            plan(&rows, &facts, options)
                .entries
                .iter()
                .map(|e| e.actions.contains(&Action::RevokeSessions))
                .collect()
        };
        let mut options = PlanOptions::new(TENANT);
        assert_eq!(revokes(&options), [true, false]);
        options.revoke_sessions = true;
        assert_eq!(revokes(&options), [true, false]);
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
    fn eligible_roles_count_as_privileged_with_their_own_words() {
        let user = member("u26", "ravi@contoso.com");
        let eligible = |f: &mut Facts| {
            f.eligible_roles
                .insert("u26".into(), vec!["User Administrator".into()]);
        };
        let entry = decide_with(
            user.clone(),
            "ravi@fabrikam.com",
            eligible,
            &PlanOptions::new(TENANT),
        );
        assert_eq!(codes(&entry), ["privileged_role"]);
        let message = &entry.reasons[0].message;
        assert!(
            message.contains("is eligible for directory roles (User Administrator) through Privileged Identity Management"),
            "{message}"
        );
        assert!(message.contains("Remove the eligibility"), "{message}");

        let both = |f: &mut Facts| {
            eligible(f);
            f.roles
                .insert("u26".into(), vec!["Helpdesk Administrator".into()]);
        };
        let entry = decide_with(
            user.clone(),
            "ravi@fabrikam.com",
            both,
            &PlanOptions::new(TENANT),
        );
        assert!(
            entry.reasons[0].message.contains(
                "holds directory roles (Helpdesk Administrator) and is eligible for (User Administrator)"
            ),
            "{entry:?}"
        );

        let mut allow = PlanOptions::new(TENANT);
        allow.allow_privileged = true;
        let entry = decide_with(user.clone(), "ravi@fabrikam.com", eligible, &allow);
        assert_eq!(entry.decision, Decision::Convert);
        assert!(
            entry.notes[0].starts_with("Eligible for directory roles (User Administrator)")
                && entry.notes[0].contains("--allow-privileged"),
            "{:?}",
            entry.notes
        );

        let entry = decide_with(
            user,
            "ravi@fabrikam.com",
            |f| {
                f.eligibility_failures.insert("u26".into(), "boom".into());
            },
            &allow,
        );
        assert_eq!(codes(&entry), ["lookup_failed"], "never converted unread");
    }

    #[test]
    fn role_assignable_group_members_and_owners_are_blocked_unless_allowed() {
        let link = |owner| crate::preflight::RoleGroupLink {
            group: "Tier 0 Operators".into(),
            owner,
        };
        let user = member("u27", "tess@contoso.com");
        let entry = decide_with(
            user.clone(),
            "tess@fabrikam.com",
            |f| {
                f.role_groups
                    .insert("u27".into(), vec![link(false), link(true)]);
            },
            &PlanOptions::new(TENANT),
        );
        assert_eq!(codes(&entry), ["role_assignable_group"]);
        assert!(entry.reasons[0].message.contains(
            "a member of the role-assignable group `Tier 0 Operators` and an owner of the role-assignable group `Tier 0 Operators`"
        ));
        let mut allow = PlanOptions::new(TENANT);
        allow.allow_privileged = true;
        let entry = decide_with(
            user.clone(),
            "tess@fabrikam.com",
            |f| {
                f.role_groups.insert("u27".into(), vec![link(true)]);
            },
            &allow,
        );
        assert_eq!(entry.decision, Decision::Convert);
        assert!(entry.notes[0].starts_with("An owner of the role-assignable group"));
        let entry = decide_with(
            user,
            "tess@fabrikam.com",
            |f| {
                f.role_group_failures.insert("u27".into(), "boom".into());
            },
            &allow,
        );
        assert_eq!(codes(&entry), ["lookup_failed"]);
    }

    fn preflight_with(
        change: impl FnOnce(&mut crate::preflight::Preflight),
    ) -> impl FnOnce(&mut Facts) {
        move |f: &mut Facts| {
            f.preflight
                .partner_tenants
                .insert("fabrikam.com".into(), None);
            change(&mut f.preflight);
        }
    }

    #[test]
    fn invitation_policies_block_only_rows_that_would_invite() {
        use crate::preflight::{
            CrossTenantSettings, DomainList, PartnerTenant, SharedTenant, Targets,
        };
        let options = PlanOptions::new(TENANT);
        let user = || member("u1", "a@contoso.com");
        let entry = decide_with(
            user(),
            "a@fabrikam.com",
            preflight_with(|p| p.allow_invites_from = Some("none".into())),
            &options,
        );
        assert_eq!(codes(&entry), ["invitations_disabled"]);
        let mut invited = user();
        invited.external_user_state = Some(InvitationState::PendingAcceptance);
        let entry = decide_with(
            invited,
            "a@fabrikam.com",
            preflight_with(|p| p.allow_invites_from = Some("none".into())),
            &options,
        );
        assert_eq!(entry.decision, Decision::Skip, "nothing is sent for a skip");

        let entry = decide_with(
            user(),
            "a@eu.fabrikam.com",
            preflight_with(|p| {
                p.domain_list = Some(DomainList {
                    allowed: vec![],
                    blocked: vec!["fabrikam.com".into()],
                });
            }),
            &options,
        );
        assert_eq!(codes(&entry), ["domain_blocked_by_policy"]);
        assert!(
            entry.reasons[0]
                .message
                .contains("`eu.fabrikam.com` is under `fabrikam.com`")
        );

        let tenant = "11111111-1111-4111-8111-111111111111";
        let blocked = preflight_with(move |p| {
            p.partner_tenants.insert(
                "fabrikam.com".into(),
                Some(SharedTenant(std::sync::Arc::new(PartnerTenant {
                    tenant_id: tenant.into(),
                    display_name: "Fabrikam".into(),
                }))),
            );
            p.cross_tenant_default = Some(CrossTenantSettings {
                inbound_applications: Some(Targets {
                    access_type: "blocked".into(),
                    targets: vec!["AllApplications".into()],
                }),
                ..CrossTenantSettings::default()
            });
            p.cross_tenant_partners.insert(tenant.into(), None);
        });
        let entry = decide_with(user(), "a@fabrikam.com", blocked, &options);
        assert_eq!(codes(&entry), ["partner_blocked_by_cross_tenant_access"]);
        assert!(entry.reasons[0].message.contains(
            "Fabrikam (tenant 11111111-1111-4111-8111-111111111111) for all of this tenant's applications (the default settings"
        ));
        assert_eq!(
            entry.redemption.map(|r| r.method),
            Some(crate::preflight::RedemptionMethod::Entra)
        );
    }

    #[test]
    fn no_redemption_for_own_or_invalid_addresses() {
        let entry = decide(member("u1", "a@contoso.com"), "a@eu.contoso.com");
        assert_eq!(entry.redemption, None);
        let entry = decide(member("u1", "a@contoso.com"), "not an address");
        assert_eq!(entry.redemption, None);
        let entry = decide(member("u1", "a@contoso.com"), "a@fabrikam.com");
        assert_eq!(
            entry.redemption.map(|r| r.method),
            Some(crate::preflight::RedemptionMethod::Unknown),
            "nothing was looked up"
        );
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
        assert!(json.get("redemption").is_none(), "none for an own domain");
    }

    #[test]
    fn journals_written_before_the_preflight_still_read() {
        let mut old = serde_json::to_value(decide(
            member("u1", "adele@contoso.com"),
            "adele@fabrikam.com",
        ))
        .unwrap();
        assert_eq!(old["redemption"]["method"], "unknown");
        old.as_object_mut().unwrap().remove("redemption");
        let entry: PlanEntry = serde_json::from_value(old).unwrap();
        assert_eq!(entry.redemption, None);
        let plan: Plan = serde_json::from_value(serde_json::json!({"entries": []})).unwrap();
        assert!(plan.findings.is_empty());
    }

    /// The duplicate detection as it was, one sorted map of every key: what the
    /// hashed grouping must reproduce, sentence for sentence.
    fn duplicates_by_sorted_maps(rows: &[InputRow], facts: &Facts) -> HashMap<usize, String> {
        let mut by_user: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut by_address: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, row) in rows.iter().enumerate() {
            by_user.entry(facts.user_key(row)).or_default().push(index);
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

    proptest::proptest! {
        /// Whatever the overlaps of users (by id, by other references to them, unknown)
        /// and of addresses (in any case, with spaces), and even when every key hashes
        /// alike, the duplicates found are those of the sorted maps, word for word.
        #[test]
        fn hashed_duplicates_match_the_sorted_maps(
            picks in proptest::collection::vec((0..8usize, 0..6usize), 0..40),
        ) {
            const REFERENCES: [&str; 8] = [
                "u1", "U1", "a@contoso.com", "A@Contoso.com ", "u2", "ghost@contoso.com",
                "Ghost@contoso.com", "b@contoso.com",
            ];
            const ADDRESSES: [&str; 6] = [
                "p@fabrikam.com", "P@Fabrikam.com", " p@fabrikam.com", "q@fabrikam.com",
                "not an address", "r@fabrikam.com",
            ];
            let rows: Vec<InputRow> = picks
                .iter()
                .enumerate()
                .map(|(i, &(who, address))| row(i as u64 + 2, REFERENCES[who], ADDRESSES[address]))
                .collect();
            let users = [member("u1", "a@contoso.com"), member("u2", "b@contoso.com")];
            let facts = facts(&users, &rows);
            let expected = duplicates_by_sorted_maps(&rows, &facts);
            let key = |_: usize, row: &InputRow| facts.user_key(row);
            proptest::prop_assert_eq!(&duplicate_rows(&rows, key), &expected);
            proptest::prop_assert_eq!(&duplicate_rows_hashed(&rows, key, |_| 7), &expected);
        }
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
                // The roles byte's upper bits: PIM eligibility and role-assignable groups.
                match spec.2 / 8 % 8 {
                    1 => {
                        facts
                            .eligible_roles
                            .insert(id.clone(), vec!["User Administrator".into()]);
                    }
                    2 => {
                        facts.role_groups.insert(
                            id.clone(),
                            vec![crate::preflight::RoleGroupLink {
                                group: "Tier 0".into(),
                                owner: spec.2 >= 128,
                            }],
                        );
                    }
                    3 => {
                        facts.eligibility_failures.insert(id.clone(), "500".into());
                    }
                    4 => {
                        facts.role_group_failures.insert(id.clone(), "500".into());
                    }
                    _ => {}
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
        /// The tenant's policies: 0 none read, 1 invitations disabled, 2 fabrikam.com
        /// deny-listed, 3 northwind.com's tenant blocked by cross-tenant access, 4 an allow
        /// list of northwind.com only.
        fn policies(variant: u8) -> crate::preflight::Preflight {
            use crate::preflight::{
                CrossTenantSettings, DomainList, PartnerTenant, Preflight, SharedTenant, Targets,
            };
            let mut preflight = Preflight::default();
            let northwind = "11111111-1111-4111-8111-111111111111";
            preflight.partner_tenants.insert(
                "northwind.com".into(),
                Some(SharedTenant(std::sync::Arc::new(PartnerTenant {
                    tenant_id: northwind.into(),
                    display_name: "Northwind".into(),
                }))),
            );
            preflight
                .partner_tenants
                .insert("fabrikam.com".into(), None);
            match variant {
                1 => preflight.allow_invites_from = Some("none".into()),
                2 => {
                    preflight.domain_list = Some(DomainList {
                        allowed: vec![],
                        blocked: vec!["fabrikam.com".into()],
                    });
                }
                3 => {
                    preflight.cross_tenant_default = Some(CrossTenantSettings::default());
                    preflight.cross_tenant_partners.insert(
                        northwind.into(),
                        Some(CrossTenantSettings {
                            inbound_users: Some(Targets {
                                access_type: "blocked".into(),
                                targets: vec!["AllUsers".into()],
                            }),
                            ..CrossTenantSettings::default()
                        }),
                    );
                }
                4 => {
                    preflight.domain_list = Some(DomainList {
                        allowed: vec!["northwind.com".into()],
                        blocked: vec![],
                    });
                }
                _ => {}
            }
            preflight
        }

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
            if facts.eligibility_failures.contains_key(&user.id)
                || facts.role_group_failures.contains_key(&user.id)
            {
                return Some("eligibility or role-assignable groups unreadable");
            }
            if !allow_privileged
                && (facts.eligible_roles.contains_key(&user.id)
                    || facts.role_groups.contains_key(&user.id))
            {
                return Some("eligible for a role, or in a role-assignable group");
            }
            if user.account_enabled == Some(false) {
                return Some("disabled");
            }
            let domain = key.rsplit_once('@').map_or("", |(_, d)| d);
            let own = facts
                .verified_domains
                .iter()
                .any(|v| domain == v || domain.ends_with(&format!(".{v}")));
            if !own {
                let preflight = &facts.preflight;
                if preflight.allow_invites_from.as_deref() == Some("none") {
                    return Some("invitations disabled");
                }
                if let Some(list) = &preflight.domain_list {
                    if list.blocked.iter().any(|b| domain == b) {
                        return Some("deny-listed domain");
                    }
                    if !list.allowed.is_empty() && !list.allowed.iter().any(|a| domain == a) {
                        return Some("not on the allow list");
                    }
                }
                if domain == "northwind.com" && !preflight.cross_tenant_partners.is_empty() {
                    return Some("partner blocked by cross-tenant access");
                }
            }
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
                policy in 0..5u8,
            ) {
                let (mut facts, rows) = tenant(&users, &lookups, &addresses, verified, &rows);
                facts.preflight = policies(policy);
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
