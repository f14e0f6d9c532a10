//! `revert`: converting B2B users back into internal members, for users converted by
//! mistake (before they redeemed, or when they must go back), through Graph's beta
//! `POST /beta/users/{id}/convertExternalToInternalMemberUser`.
//!
//! What Microsoft documents (microsoft-graph-docs-contrib api-reference/beta/api/
//! user-convertexternaltointernalmemberuser.md; entra-docs
//! docs/identity/users/convert-external-users-internal.md; graph-facts.md §8):
//! - only users who sign in "via a method not managed by the host organization" are
//!   eligible; anyone else gets 400 "not eligible";
//! - a cloud user needs a new `userPrincipalName` in a verified, non-federated domain and a
//!   `passwordProfile` (both "Required"); a user synced from on-premises needs an empty body
//!   (their UPN and password are mastered on-premises), and whether a password may, must or
//!   must not be set for them depends on the tenant's federation and password hash sync,
//!   which Graph does not show;
//! - "A user cannot be converted if they have a role assigned to them";
//! - a converted user can't be invited back to external (Graph answers 412).
//!
//! The decisions ([`decide`], pure, unit-tested) block a user who is not external (never
//! converted, or already internal), who has redeemed without `--include-accepted` (a
//! redeemed partner loses their home sign-in here), who is synced from on-premises (the
//! rules above can't be checked from Graph, so the tool leaves them to the admin center),
//! or whose UPN would not be in a verified, managed domain or is held by someone else.
//! Each cloud user is sent their UPN (by default the one they have, else
//! `{local part}@{--upn-domain}`) and a random password nobody is told, to be changed at
//! first sign-in: the admin hands out a password through the admin center's reset.
//!
//! Journaled like `apply` ([`crate::journal`]): a run of kind `revert`, each row with its
//! decision, and each POST as an intent before and an outcome after. A POST whose outcome
//! is unknown (a 5xx, a timeout, a cut connection after sending) is settled at once by
//! reading the user back, and sent again only when the read proves it did not happen. A
//! revert run left unfinished (a crash, an interrupt, Graph unreachable) is never resumed
//! blindly: the next `revert` first settles its open steps by reading those users back
//! ([`settle_unfinished`]), then plans afresh from what Graph says now — a user already
//! internal is blocked as such, so nothing is sent twice.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use b2b_graph::model::{Domain, PasswordProfile, User};
use b2b_graph::{ConvertToInternalRequest, GraphClient, GraphError, ListQuery, odata_string};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::executor::{ExecuteError, PendingRow};
use crate::journal::{
    EntryOutcome, Journal, JournalError, RevertEntryRecord, RevertRunRecord, StepOutcome,
    StepResult,
};
use crate::vocabulary::{InvitationState, StepKind, vocabulary};

/// The run-wide choices of a `revert`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertOptions {
    /// Build each new UPN as `{local part}@{this domain}` instead of keeping the user's.
    pub upn_domain: Option<String>,
    /// Revert users who have redeemed their invitation too.
    pub include_accepted: bool,
}

vocabulary! {
    /// What `revert` decided for a row.
    pub enum RevertDecision as "revert decision" {
        /// Converted back to an internal member.
        Revert = "revert",
        /// Left alone; the reasons say why.
        Blocked = "blocked",
    }
}

vocabulary! {
    /// Why a row is not reverted. A stable interface, like the plan's reason codes.
    pub enum RevertCode as "revert reason code" {
        /// No user has that object id, UPN or mail.
        NotFound = "not_found",
        /// Several users have that mail.
        AmbiguousUser = "ambiguous_user",
        /// The same user is on an earlier row.
        DuplicateRow = "duplicate_row",
        /// The user could not be read from Graph.
        LookupFailed = "lookup_failed",
        /// Not an external user: never converted, or already internal.
        NotExternal = "not_external",
        /// Redeemed (`Accepted`), and `--include-accepted` was not given.
        Accepted = "accepted",
        /// Synced from on-premises.
        Synced = "synced",
        /// The new UPN's domain is not one of the tenant's verified domains.
        UpnDomainNotVerified = "upn_domain_not_verified",
        /// The new UPN's domain is federated (Microsoft requires a managed one).
        UpnDomainFederated = "upn_domain_federated",
        /// No valid UPN can be made for the user.
        InvalidUpn = "invalid_upn",
        /// Another object already holds the new UPN.
        UpnInUse = "upn_in_use",
    }
}

vocabulary! {
    /// How a reverted row ended, as printed. The journal stores it as an
    /// [`EntryOutcome`] (`converted`: the conversion to internal took effect).
    pub enum RevertOutcome as "revert outcome" {
        /// Graph converted the user, and reading back shows an internal member.
        Reverted = "reverted",
        /// Graph refused, or the request failed for good.
        Failed = "failed",
        /// Graph answered success, but the read-back does not show it (yet).
        Unverified = "unverified",
    }
}

impl RevertOutcome {
    /// The journal's spelling of this outcome.
    pub fn entry_outcome(self) -> EntryOutcome {
        match self {
            RevertOutcome::Reverted => EntryOutcome::Converted,
            RevertOutcome::Failed => EntryOutcome::Failed,
            RevertOutcome::Unverified => EntryOutcome::Unverified,
        }
    }

    /// The outcome a journal entry records.
    pub fn from_entry(outcome: EntryOutcome) -> RevertOutcome {
        match outcome {
            EntryOutcome::Converted => RevertOutcome::Reverted,
            EntryOutcome::Failed => RevertOutcome::Failed,
            EntryOutcome::Unverified => RevertOutcome::Unverified,
        }
    }
}

/// One reason a row is blocked, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertReason {
    /// The stable code.
    pub code: RevertCode,
    /// What it means for this user and what to do.
    pub message: String,
}

impl RevertReason {
    fn new(code: RevertCode, message: impl Into<String>) -> Self {
        RevertReason {
            code,
            message: message.into(),
        }
    }
}

/// The decision for one row, as planned, shown and journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertEntry {
    /// The input line (or the converting run's line, for `--run`/`--last`).
    pub row: u64,
    /// The user as the input named them.
    pub user: String,
    /// Object id, when found.
    pub user_id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// The UPN the user has now.
    pub user_principal_name: Option<String>,
    /// The mail the user has now (the partner's address after a conversion).
    pub mail: Option<String>,
    /// `externalUserState` now.
    pub state: Option<InvitationState>,
    /// Revert or blocked.
    pub decision: RevertDecision,
    /// The UPN sent (cloud users to revert).
    pub new_user_principal_name: Option<String>,
    /// Why it is blocked.
    pub reasons: Vec<RevertReason>,
    /// What the admin should know about a row that is reverted.
    pub notes: Vec<String>,
}

/// A user to revert, as the input names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The input line (or the converting run's line).
    pub row: u64,
    /// Object id, UPN or mail.
    pub reference: String,
}

/// Where the users to revert came from, with a digest the journal keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The input file, or `journal run <id>`.
    pub origin: String,
    /// Hex SHA-256 of the input file, or the converting run's id.
    pub digest: String,
    /// The users, in row order.
    pub sources: Vec<Source>,
}

/// A problem with `revert`'s input file, naming the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum RevertInputError {
    /// The file could not be read.
    #[error("{path}: cannot read the input file: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The header row has no `user` column, or two.
    #[error("{path}: line {line} (header): {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A cell can't be used, or the file is not CSV.
    #[error("{path}: line {line}, column `{column}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// The column as the header writes it.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// Not UTF-8, or too large.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The largest input `revert` reads: a list of users to revert is short; anything this
/// large is not such a list.
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;
/// The longest `user` cell (a mail may have 320 characters).
const MAX_USER_CHARS: usize = 320;
/// Header names of the `user` column, compared without case, spaces or underscores (the
/// names `apply`'s input accepts for it, so the same file can be reverted).
const USER_COLUMN: &[&str] = &[
    "user",
    "userprincipalname",
    "upn",
    "objectid",
    "id",
    "internaluser",
];

/// Reads `revert --input F`: a CSV file with a header row and a `user` column (object id,
/// UPN or mail); other columns are ignored, so `apply`'s own input file can be given.
/// Comma, semicolon or tab separated, UTF-8 with or without a byte order mark, with or
/// without Excel's `sep=` first line. Blank rows are skipped; an empty `user` is an error.
pub fn read_sources(path: &Path) -> Result<Sources, RevertInputError> {
    let read = |error| RevertInputError::Read {
        path: path.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(RevertInputError::File {
            path: path.to_owned(),
            message: format!(
                "larger than {} MiB: not a list of users to revert",
                MAX_INPUT_BYTES / 1024 / 1024
            ),
        });
    }
    let digest = hex(&Sha256::digest(&bytes));
    let sources = parse_sources(path, &bytes)?;
    Ok(Sources {
        origin: path.display().to_string(),
        digest,
        sources,
    })
}

/// [`read_sources`] on bytes already read.
pub fn parse_sources(path: &Path, bytes: &[u8]) -> Result<Vec<Source>, RevertInputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| RevertInputError::File {
        path: path.to_owned(),
        message: format!(
            "not UTF-8 (byte {}): save it as CSV UTF-8",
            e.valid_up_to() + 1
        ),
    })?;
    // Physical lines before the header: blank lines and Excel's `sep=` line.
    let mut offset = 0;
    let mut line = 1u64;
    let mut delimiter = None;
    for raw in text.split_inclusive('\n') {
        let content = raw.trim_end_matches(['\r', '\n']);
        if let Some(sep) = content.strip_prefix("sep=").filter(|_| delimiter.is_none()) {
            delimiter = sep.bytes().next();
        } else if !content.trim().is_empty() {
            break;
        }
        offset += raw.len();
        line += 1;
    }
    let rest = &text[offset..];
    let header_line = rest.lines().next().unwrap_or_default();
    let delimiter = delimiter.unwrap_or_else(|| {
        [b',', b';', b'\t']
            .into_iter()
            .find(|d| user_column(header_line, *d).is_some())
            .unwrap_or(b',')
    });
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(rest.as_bytes());
    // Physical lines are counted here, whatever the line ends (LF, CRLF, a lone CR):
    // the CSV reader's own count skips blank lines.
    let starts = line_starts(rest.as_bytes());
    let mut records = reader.byte_records();
    let header_error = |message: String| RevertInputError::Header {
        path: path.to_owned(),
        line,
        message,
    };
    let header = match records.next() {
        Some(Ok(record)) => record,
        Some(Err(e)) => return Err(header_error(format!("not CSV: {e}"))),
        None => return Err(header_error("the file is empty: no header row".into())),
    };
    let names: Vec<String> = header
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_owned())
        .collect();
    let matching: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| is_user_column(n))
        .map(|(i, _)| i)
        .collect();
    let column = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(header_error(
                "no `user` column (the object id, UPN or mail of each user to revert)".into(),
            ));
        }
        _ => {
            return Err(header_error(format!(
                "two columns name the user: `{}` and `{}`",
                names[matching[0]], names[matching[1]]
            )));
        }
    };
    let heading = names[column].clone();
    let mut sources = Vec::new();
    for record in records {
        let field = |line: u64, message: String| RevertInputError::Field {
            path: path.to_owned(),
            line,
            column: heading.clone(),
            message,
        };
        let record = record.map_err(|e| {
            let at = e
                .position()
                .map_or(line, |p| line + line_of(rest, &starts, p.byte()));
            field(at, format!("not CSV: {e}"))
        })?;
        let at = line
            + record
                .position()
                .map_or(0, |p| line_of(rest, &starts, p.byte()));
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let cell = String::from_utf8_lossy(record.get(column).unwrap_or_default())
            .trim()
            .to_owned();
        if cell.is_empty() {
            return Err(field(
                at,
                "empty: name the user by object id, UPN or mail".into(),
            ));
        }
        if cell.chars().count() > MAX_USER_CHARS {
            let quoted: String = cell.chars().take(80).collect();
            return Err(field(
                at,
                format!("`{quoted}…` is longer than {MAX_USER_CHARS} characters"),
            ));
        }
        sources.push(Source {
            row: at,
            reference: cell,
        });
    }
    Ok(sources)
}

/// The byte offsets where each physical line of `text` starts (the first is 0).
fn line_starts(text: &[u8]) -> Vec<u64> {
    let mut starts = vec![0];
    for (i, byte) in text.iter().enumerate() {
        let ends_line = *byte == b'\n' || (*byte == b'\r' && text.get(i + 1) != Some(&b'\n'));
        if ends_line {
            starts.push(i as u64 + 1);
        }
    }
    starts
}

/// How many lines after the first a record starting at `offset` is on. The CSV reader's
/// offset of a record that follows blank lines is where those blank lines begin: they are
/// stepped over.
fn line_of(text: &str, starts: &[u64], offset: u64) -> u64 {
    let skipped = text
        .as_bytes()
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count() as u64;
    (starts.partition_point(|s| *s <= offset + skipped) as u64).saturating_sub(1)
}

/// Whether a header cell names the user: one of [`USER_COLUMN`], or `[user]` (the
/// admin center template's bracketed key).
fn is_user_column(name: &str) -> bool {
    let key = match (name.rfind('['), name.rfind(']')) {
        (Some(open), Some(close)) if open < close => &name[open + 1..close],
        _ => name,
    };
    let folded: String = key
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    USER_COLUMN.contains(&folded.as_str())
}

fn user_column(header: &str, delimiter: u8) -> Option<usize> {
    header
        .split(char::from(delimiter))
        .position(|cell| is_user_column(cell.trim().trim_matches('"')))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The users an `apply` run converted: every row whose invitation step took effect
/// (converted, unverified, or failed at a follow-up after the invitation), by object id.
pub fn sources_from_run(journal: &Journal, run_id: &str) -> Result<Sources, JournalError> {
    let invited: Vec<(u64, String)> = journal
        .steps(run_id, None)?
        .into_iter()
        .filter(|s| s.kind == StepKind::Invite && s.result.is_some_and(StepResult::is_done))
        .map(|s| (s.row, s.user_id))
        .collect();
    let mut sources: Vec<Source> = Vec::new();
    for (row, user_id) in invited {
        if !sources.iter().any(|s| s.reference == user_id) {
            sources.push(Source {
                row,
                reference: user_id,
            });
        }
    }
    sources.sort_by_key(|s| s.row);
    Ok(Sources {
        origin: format!("journal run {run_id}"),
        digest: run_id.to_owned(),
        sources,
    })
}

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

/// How the execution runs.
#[derive(Debug, Clone)]
pub struct RevertExecOptions {
    /// Users worked on at once (requests are paced by the client in any case).
    pub concurrency: usize,
    /// Read-backs before a reverted user not yet shown internal is `unverified`.
    pub verify_attempts: u32,
    /// Pause between read-backs.
    pub verify_delay: Duration,
    /// Sends within one run, each after a read proved the previous one did not happen.
    pub step_attempts: u32,
    /// Cancelled by the caller to stop (Ctrl-C): no new user starts.
    pub cancel: CancellationToken,
}

impl Default for RevertExecOptions {
    fn default() -> Self {
        RevertExecOptions {
            concurrency: 8,
            verify_attempts: 4,
            verify_delay: Duration::from_secs(2),
            step_attempts: 3,
            cancel: CancellationToken::new(),
        }
    }
}

/// One settled row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertResult {
    /// The row.
    pub row: u64,
    /// The user.
    pub user_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// The UPN after the revert (as asked).
    pub user_principal_name: Option<String>,
    /// How it ended.
    pub outcome: RevertOutcome,
    /// Why it failed or is unverified.
    pub error: Option<String>,
}

/// What an execution did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertExecution {
    /// One result per row settled.
    pub results: Vec<RevertResult>,
    /// Rows tried but not settled (their step stays open: the next `revert` settles it).
    pub pending: Vec<PendingRow>,
    /// Rows not reached (a stop or an interrupt).
    pub not_reached: usize,
    /// Why the run stopped early.
    pub stopped: Option<String>,
    /// Whether it stopped because the credential no longer signs in.
    pub sign_in_lost: bool,
    /// Whether the caller interrupted it.
    pub interrupted: bool,
}

/// How one row ended.
enum RowEnd {
    Settled(RevertResult),
    Pending(String),
    NotReached,
}

struct Shared<'a> {
    client: &'a GraphClient,
    journal: &'a Journal,
    run_id: &'a str,
    options: &'a RevertExecOptions,
    stop: AtomicBool,
    stop_reason: Mutex<Option<String>>,
    sign_in_lost: AtomicBool,
}

impl Shared<'_> {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.options.cancel.is_cancelled()
    }

    fn stop_run(&self, error: &GraphError) {
        if error.is_sign_in() {
            self.sign_in_lost.store(true, Ordering::SeqCst);
        }
        if let Ok(mut slot) = self.stop_reason.lock() {
            slot.get_or_insert_with(|| error.to_string());
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reverts every row of `run` decided `revert` and not yet ended, journaling each step.
/// The run is marked finished when every such row has ended.
pub async fn execute(
    client: &GraphClient,
    journal: &Journal,
    run: &RevertRunRecord,
    options: &RevertExecOptions,
    on_result: &(dyn Fn(&RevertResult) + Sync),
) -> Result<RevertExecution, ExecuteError> {
    let shared = Shared {
        client,
        journal,
        run_id: &run.id,
        options,
        stop: AtomicBool::new(false),
        stop_reason: Mutex::new(None),
        sign_in_lost: AtomicBool::new(false),
    };
    let shared = &shared;
    let pending: Vec<RevertEntryRecord> = journal
        .revert_entries(&run.id)?
        .into_iter()
        .filter(RevertEntryRecord::is_pending)
        .collect();
    let ends: Vec<(u64, Result<RowEnd, ExecuteError>)> = stream::iter(pending)
        .map(|record| async move {
            let row = record.entry.row;
            if shared.stopping() {
                return (row, Ok(RowEnd::NotReached));
            }
            let end = revert_row(shared, &record.entry).await;
            if let Ok(RowEnd::Settled(result)) = &end {
                on_result(result);
            }
            (row, end)
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut execution = RevertExecution::default();
    for (row, end) in ends {
        match end? {
            RowEnd::Settled(result) => execution.results.push(result),
            RowEnd::Pending(reason) => execution.pending.push(PendingRow { row, reason }),
            RowEnd::NotReached => execution.not_reached += 1,
        }
    }
    execution.results.sort_by_key(|r| r.row);
    execution.pending.sort_by_key(|p| p.row);
    execution.interrupted = options.cancel.is_cancelled();
    execution.stopped = shared.stop_reason.lock().ok().and_then(|r| r.clone());
    execution.sign_in_lost = shared.sign_in_lost.load(Ordering::SeqCst);
    let left = journal
        .revert_entries(&run.id)?
        .iter()
        .filter(|r| r.is_pending())
        .count();
    if left == 0 {
        journal.finish_run(&run.id)?;
    }
    Ok(execution)
}

/// The request a row sends: the UPN and a fresh random password for a cloud user.
fn request_for(entry: &RevertEntry) -> (ConvertToInternalRequest, serde_json::Value) {
    let user_id = entry.user_id.as_deref().unwrap_or_default();
    let path = format!("/beta/users/{user_id}/convertExternalToInternalMemberUser");
    match &entry.new_user_principal_name {
        Some(upn) => (
            ConvertToInternalRequest {
                user_principal_name: Some(upn.clone()),
                password_profile: Some(PasswordProfile {
                    password: Some(random_password()),
                    force_change_password_next_sign_in: Some(true),
                    force_change_password_next_sign_in_with_mfa: None,
                }),
                mail: None,
            },
            json!({
                "method": "POST",
                "path": path,
                "userPrincipalName": upn,
                // The password is never kept: the journal says only that one was set.
                "passwordProfile": {"password": "[random, not kept]", "forceChangePasswordNextSignIn": true},
            }),
        ),
        None => (
            ConvertToInternalRequest::default(),
            json!({"method": "POST", "path": path}),
        ),
    }
}

/// 256 bits from the operating system's generator, spelled so that Entra's complexity
/// rule (three of upper case, lower case, digits and symbols) always holds. Never printed,
/// logged or journaled: the admin gives the person a password through a reset.
fn random_password() -> secrecy::SecretString {
    let (a, b) = (uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    secrecy::SecretString::from(format!("Xq7!{a}{b}"))
}

async fn revert_row(shared: &Shared<'_>, entry: &RevertEntry) -> Result<RowEnd, ExecuteError> {
    let Some(user_id) = entry.user_id.as_deref() else {
        return Ok(RowEnd::NotReached);
    };
    let journal = shared.journal;
    let settle_row =
        |outcome: RevertOutcome, error: Option<String>| -> Result<RowEnd, ExecuteError> {
            journal.finish_entry(
                shared.run_id,
                entry.row,
                outcome.entry_outcome(),
                error.as_deref(),
            )?;
            Ok(RowEnd::Settled(RevertResult {
                row: entry.row,
                user_id: user_id.to_owned(),
                display_name: entry.display_name.clone(),
                user_principal_name: entry
                    .new_user_principal_name
                    .clone()
                    .or_else(|| entry.user_principal_name.clone()),
                outcome,
                error,
            }))
        };
    let mut attempts = 0;
    loop {
        if shared.stopping() {
            return Ok(RowEnd::NotReached);
        }
        attempts += 1;
        if attempts > shared.options.step_attempts.max(1) {
            return Ok(RowEnd::Pending(format!(
                "{}: Graph did not take it in {} attempts",
                StepKind::Revert,
                shared.options.step_attempts
            )));
        }
        let (request, summary) = request_for(entry);
        let step = journal.record_intent(
            shared.run_id,
            entry.row,
            user_id,
            StepKind::Revert,
            &summary,
        )?;
        match shared
            .client
            .convert_external_to_internal(user_id, &request)
            .await
        {
            Ok(details) => {
                journal.record_outcome(
                    step,
                    StepResult::Ok,
                    &StepOutcome {
                        http_status: Some(200),
                        detail: serde_json::to_value(&details).ok(),
                        ..StepOutcome::default()
                    },
                    None,
                )?;
                break;
            }
            Err(error) => {
                let outcome = failure_outcome(&error);
                if error.outcome_unknown() {
                    journal.record_unknown(step, &outcome)?;
                    match settle_step(shared, user_id, step).await? {
                        Settled::Done => break,
                        Settled::NotDone => continue,
                        Settled::Unknown(reason) => return Ok(RowEnd::Pending(reason)),
                    }
                }
                journal.record_outcome(step, StepResult::Failed, &outcome, None)?;
                if error.stops_run() {
                    shared.stop_run(&error);
                    return Ok(RowEnd::NotReached);
                }
                if error.is_transient() {
                    return Ok(RowEnd::Pending(format!("{}: {error}", StepKind::Revert)));
                }
                return settle_row(
                    RevertOutcome::Failed,
                    Some(format!("Graph refused: {error}")),
                );
            }
        }
    }
    match verify(shared, entry, user_id).await? {
        Verified::Internal => {
            // `status` shows the state as last read: the invitation is gone now.
            journal.record_state(user_id, None, None)?;
            settle_row(RevertOutcome::Reverted, None)
        }
        Verified::NotYet => settle_row(
            RevertOutcome::Unverified,
            Some(
                "Graph answered success, but reading the user back does not show an internal \
                 member yet (Graph is eventually consistent); check the user in the admin center"
                    .into(),
            ),
        ),
        Verified::Gone => settle_row(
            RevertOutcome::Failed,
            Some("the user no longer exists".into()),
        ),
        Verified::Unreadable(reason) => Ok(RowEnd::Pending(reason)),
    }
}

fn failure_outcome(error: &GraphError) -> StepOutcome {
    StepOutcome {
        http_status: error.status(),
        error_code: error.code().map(str::to_owned),
        error_message: Some(error.to_string()),
        request_id: error.request_id().map(str::to_owned),
        detail: None,
    }
}

/// What reading back said about an open step.
enum Settled {
    Done,
    NotDone,
    Unknown(String),
}

/// Whether the user reads back as reverted: internal, a member, with the UPN sent.
fn shows_reverted(entry: &RevertEntry, user: &User) -> bool {
    let member = user
        .user_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("Member"));
    let upn = match &entry.new_user_principal_name {
        Some(upn) => user
            .user_principal_name
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(upn)),
        None => true,
    };
    !is_external(user) && member && upn
}

/// Settles an open revert step by reading the user back: it took effect when the user is
/// no longer external. Records the step's outcome either way (or leaves it open when the
/// user can't be read).
async fn settle_step(
    shared: &Shared<'_>,
    user_id: &str,
    step: i64,
) -> Result<Settled, ExecuteError> {
    settle_open_step(shared.client, shared.journal, user_id, step).await
}

async fn settle_open_step(
    client: &GraphClient,
    journal: &Journal,
    user_id: &str,
    step: i64,
) -> Result<Settled, ExecuteError> {
    let user = match client.get_user(user_id, USER_SELECT).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Ok(Settled::Unknown(format!(
                "{}: user {user_id} not found while settling it",
                StepKind::Revert
            )));
        }
        Err(error) => {
            return Ok(Settled::Unknown(format!(
                "{}: could not read the user back to settle it: {error}",
                StepKind::Revert
            )));
        }
    };
    let done = !is_external(&user);
    let result = if done {
        StepResult::ReconciledDone
    } else {
        StepResult::ReconciledNotDone
    };
    journal.record_outcome(
        step,
        result,
        &StepOutcome {
            detail: Some(json!({
                "reconciled": true,
                "userType": user.user_type,
                "externalUserState": user.external_user_state,
                "userPrincipalName": user.user_principal_name,
            })),
            ..StepOutcome::default()
        },
        None,
    )?;
    Ok(if done {
        Settled::Done
    } else {
        Settled::NotDone
    })
}

enum Verified {
    Internal,
    NotYet,
    Gone,
    Unreadable(String),
}

/// Reads the user back (journaled as `verify` steps) until they show as reverted.
async fn verify(
    shared: &Shared<'_>,
    entry: &RevertEntry,
    user_id: &str,
) -> Result<Verified, ExecuteError> {
    let attempts = shared.options.verify_attempts.max(1);
    for attempt in 1..=attempts {
        let step = shared.journal.record_intent(
            shared.run_id,
            entry.row,
            user_id,
            StepKind::Verify,
            &json!({"method": "GET", "path": format!("/users/{user_id}"), "attempt": attempt}),
        )?;
        let user = match shared.client.get_user(user_id, USER_SELECT).await {
            Ok(user) => user,
            Err(error) => {
                shared.journal.record_outcome(
                    step,
                    StepResult::Failed,
                    &failure_outcome(&error),
                    None,
                )?;
                if error.stops_run() {
                    shared.stop_run(&error);
                }
                return Ok(Verified::Unreadable(format!(
                    "{}: {error}",
                    StepKind::Verify
                )));
            }
        };
        let detail = user.as_ref().map(|u| {
            json!({
                "userType": u.user_type,
                "externalUserState": u.external_user_state,
                "userPrincipalName": u.user_principal_name,
                "identities": u.identities.iter().filter_map(|i| i.sign_in_type.clone()).collect::<Vec<_>>(),
            })
        });
        shared.journal.record_outcome(
            step,
            StepResult::Ok,
            &StepOutcome {
                http_status: Some(if user.is_some() { 200 } else { 404 }),
                detail,
                ..StepOutcome::default()
            },
            None,
        )?;
        let Some(user) = user else {
            return Ok(Verified::Gone);
        };
        if shows_reverted(entry, &user) {
            return Ok(Verified::Internal);
        }
        if attempt < attempts {
            tokio::time::sleep(shared.options.verify_delay).await;
        }
    }
    Ok(Verified::NotYet)
}

/// What settling an earlier, unfinished revert run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledRun {
    /// The run.
    pub run_id: String,
    /// Rows whose open step read back as done (now recorded reverted).
    pub reverted: usize,
    /// Rows whose open step read back as not done (planned again by this run).
    pub not_done: usize,
    /// Rows whose user could not be read: the run stays unfinished.
    pub unsettled: usize,
    /// The run was against another tenant or Graph root and was left alone.
    pub other_tenant: bool,
}

/// Settles every unfinished revert run before a new one is planned: each row with a
/// revert step but no ending is read back; an internal user is recorded reverted, the open
/// steps are recorded done or not done. A run with nothing left open is then closed
/// (finished when every row ended, else abandoned: the rows never reached are planned
/// afresh by the new run, from what Graph says now). Runs against another tenant or
/// Graph root are left as they are.
pub async fn settle_unfinished(
    client: &GraphClient,
    journal: &Journal,
    tenant_id: &str,
    graph_root: &str,
) -> Result<Vec<SettledRun>, ExecuteError> {
    let mut settled = Vec::new();
    for run in journal.unfinished_revert_runs()? {
        let mut report = SettledRun {
            run_id: run.id.clone(),
            reverted: 0,
            not_done: 0,
            unsettled: 0,
            other_tenant: false,
        };
        if !run.tenant_id.eq_ignore_ascii_case(tenant_id) || run.graph_root != graph_root {
            report.other_tenant = true;
            settled.push(report);
            continue;
        }
        for record in journal.revert_entries(&run.id)? {
            if !record.is_pending() {
                continue;
            }
            let entry = &record.entry;
            let Some(user_id) = entry.user_id.as_deref() else {
                continue;
            };
            let steps = journal.steps(&run.id, Some(entry.row))?;
            let reverts: Vec<_> = steps
                .iter()
                .filter(|s| s.kind == StepKind::Revert)
                .collect();
            if reverts.is_empty() {
                continue;
            }
            let mut done = reverts
                .iter()
                .any(|s| s.result.is_some_and(StepResult::is_done));
            let mut readable = true;
            for open in reverts.iter().filter(|s| s.result.is_none()) {
                match settle_open_step(client, journal, user_id, open.id).await? {
                    Settled::Done => done = true,
                    Settled::NotDone => {}
                    Settled::Unknown(_) => readable = false,
                }
            }
            if !readable {
                report.unsettled += 1;
            } else if done {
                journal.finish_entry(&run.id, entry.row, EntryOutcome::Converted, None)?;
                report.reverted += 1;
            } else {
                report.not_done += 1;
            }
        }
        if report.unsettled == 0 {
            if journal
                .revert_entries(&run.id)?
                .iter()
                .any(RevertEntryRecord::is_pending)
            {
                journal.abandon_run(&run.id)?;
            } else {
                journal.finish_run(&run.id)?;
            }
        }
        settled.push(report);
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use b2b_graph::model::ObjectIdentity;

    use super::*;

    fn domains() -> Vec<Domain> {
        let domain = |id: &str, federated: bool| Domain {
            id: id.into(),
            authentication_type: Some(if federated { "Federated" } else { "Managed" }.into()),
            is_verified: true,
            ..Domain::default()
        };
        vec![
            domain("contoso.onmicrosoft.com", false),
            domain("contoso.com", false),
            domain("corp.contoso.com", true),
        ]
    }

    fn converted(id: &str, upn: &str, state: &str) -> User {
        User {
            id: id.into(),
            display_name: Some("Adele Vance".into()),
            user_principal_name: Some(upn.into()),
            mail: Some("adele@fabrikam.com".into()),
            user_type: Some("Member".into()),
            external_user_state: Some(state.into()),
            identities: vec![ObjectIdentity {
                sign_in_type: Some("userPrincipalName".into()),
                issuer: Some("contoso.com".into()),
                issuer_assigned_id: Some(upn.into()),
            }],
            ..User::default()
        }
    }

    fn source(row: u64) -> Source {
        Source {
            row,
            reference: format!("user{row}"),
        }
    }

    fn decide_one(user: User, options: &RevertOptions) -> RevertEntry {
        decide(
            &source(2),
            &Lookup::Found(Box::new(user)),
            &UpnCheck::Free,
            &domains(),
            options,
            &HashMap::new(),
        )
    }

    fn codes(entry: &RevertEntry) -> Vec<RevertCode> {
        entry.reasons.iter().map(|r| r.code).collect()
    }

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

    #[test]
    fn the_request_carries_a_fresh_password_that_the_journal_never_sees() {
        let entry = decide_one(
            converted("u1", "adele.vance@contoso.com", "PendingAcceptance"),
            &RevertOptions::default(),
        );
        let (first, summary) = request_for(&entry);
        let (second, _) = request_for(&entry);
        let secret = |r: &ConvertToInternalRequest| {
            use secrecy::ExposeSecret;
            r.password_profile
                .as_ref()
                .and_then(|p| p.password.as_ref())
                .map(|p| p.expose_secret().to_owned())
                .unwrap()
        };
        assert_ne!(secret(&first), secret(&second));
        assert!(!summary.to_string().contains(&secret(&first)));
        assert_eq!(
            summary["passwordProfile"]["forceChangePasswordNextSignIn"],
            true
        );
        let body = serde_json::to_value(&first).unwrap();
        assert_eq!(body["userPrincipalName"], "adele.vance@contoso.com");
        assert_eq!(
            body["passwordProfile"]["forceChangePasswordNextSignIn"],
            true
        );
    }

    #[test]
    fn the_input_needs_a_user_column_and_names_bad_cells() {
        let path = Path::new("revert.csv");
        let sources = parse_sources(
            path,
            "\u{feff}sep=;\nUser Principal Name;externalEmail\nadele.vance@contoso.com;a@f.com\n;;\n\nd0000000-0000-4000-8000-000000000003;x\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            sources,
            [
                Source {
                    row: 3,
                    reference: "adele.vance@contoso.com".into()
                },
                Source {
                    row: 6,
                    reference: "d0000000-0000-4000-8000-000000000003".into()
                }
            ]
        );
        let template = parse_sources(
            path,
            b"Email [inviteeEmail],User to convert [user] Required\nx@f.com,ben@contoso.com\n",
        )
        .unwrap();
        assert_eq!(template[0].reference, "ben@contoso.com");

        // Physical lines, whatever the line ends; a quoted cell spanning lines counts.
        let rows: Vec<u64> = parse_sources(path, b"user\r\na\r\n\r\nb\r\"c\r\nd\",x\re\n")
            .unwrap()
            .iter()
            .map(|s| s.row)
            .collect();
        assert_eq!(rows, [2, 4, 5, 7]);
        let error = parse_sources(path, b"mail\nx@contoso.com\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "revert.csv: line 1 (header): no `user` column (the object id, UPN or mail of each user to revert)"
        );
        let error = parse_sources(path, b"user,upn\na,b\n").unwrap_err();
        assert!(
            error.to_string().contains("two columns name the user"),
            "{error}"
        );
        let error = parse_sources(path, b"user,note\n\"\",x\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "revert.csv: line 2, column `user`: empty: name the user by object id, UPN or mail"
        );
        let error = parse_sources(path, b"user\n\xff\n").unwrap_err();
        assert!(error.to_string().contains("not UTF-8"), "{error}");
    }
}

/// Against the in-process emulator: a revert whose answer never came is settled by
/// reading the user back, and never sent twice.
#[cfg(test)]
mod settlement {
    use std::sync::Arc;
    use std::time::Duration;

    use b2b_graph::{AccessToken, ClientOptions, Endpoints, RetryPolicy, TokenSource};
    use futures::future::BoxFuture;
    use graph_emulator::simulation::SimulationOverrides;
    use graph_emulator::{EmulatorConfig, Tenant};
    use secrecy::SecretString;

    use super::*;
    use crate::journal::NewRevertRun;

    /// A token minted by the emulator up front: with every answer stalled, even the token
    /// endpoint's, the client must not need to sign in.
    struct Minted(String);

    impl TokenSource for Minted {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, GraphError>> {
            let token = AccessToken {
                secret: SecretString::from(self.0.clone()),
                expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
            };
            Box::pin(async move { Ok(token) })
        }

        fn invalidate(&self) {}
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_lost_in_a_stall_is_settled_by_reading_back_and_sent_once() {
        let emulator = graph_emulator::start(
            Tenant::demo(),
            EmulatorConfig {
                overrides: SimulationOverrides {
                    stall_rate: Some(1.0),
                    stall_ms: Some(3_000),
                    no_throttle: true,
                    ..SimulationOverrides::default()
                },
                ..EmulatorConfig::default()
            },
        )
        .await
        .unwrap();
        let token = emulator
            .token_service()
            .mint_for_tests("5d7f1c2a-9e3b-4f6d-8a1c-2b3e4f5a6b7c")
            .unwrap();
        let root = emulator.url();
        let client = GraphClient::new(
            Endpoints::new(root.clone(), root.clone()).unwrap(),
            Arc::new(Minted(token)),
            ClientOptions {
                timeout: Duration::from_millis(400),
                retry: RetryPolicy::none(),
                ..ClientOptions::default()
            },
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("run.db"), crate::clock::system()).unwrap();
        // Nina Park (demo user 22): converted, invitation pending.
        let nina = "d0000000-0000-4000-8000-000000000022";
        let entry = RevertEntry {
            row: 2,
            user: nina.into(),
            user_id: Some(nina.into()),
            display_name: Some("Nina Park".into()),
            user_principal_name: Some("nina.park@contoso.com".into()),
            mail: Some("nina@fabrikam.com".into()),
            state: Some(InvitationState::PendingAcceptance),
            decision: RevertDecision::Revert,
            new_user_principal_name: Some("nina.park@contoso.com".into()),
            reasons: Vec::new(),
            notes: Vec::new(),
        };
        let graph_root = root.to_string();
        let tenant = emulator.tenant_id().to_owned();
        let run = journal
            .start_revert_run(
                &NewRevertRun {
                    source: "test",
                    source_digest: "x",
                    tenant_id: &tenant,
                    graph_root: &graph_root,
                    command: "revert",
                    options: &RevertOptions::default(),
                },
                &[entry],
            )
            .unwrap();

        // The POST reaches Graph and takes effect, but its answer is held past the
        // timeout; so is the read-back: the row stays pending, its step open.
        let execution = execute(
            &client,
            &journal,
            &run,
            &RevertExecOptions::default(),
            &|_| {},
        )
        .await
        .unwrap();
        assert!(execution.results.is_empty(), "{execution:?}");
        assert_eq!(execution.pending.len(), 1, "{execution:?}");
        let steps = journal.steps(&run.id, None).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].result, None, "left open, as after a crash");
        assert_eq!(
            journal.revert_run(&run.id).unwrap().unwrap().status,
            crate::vocabulary::RunStatus::Applying
        );

        // Graph calms down; the next revert settles the run before planning anything.
        emulator.calm();
        let settled = settle_unfinished(&client, &journal, &tenant, &graph_root)
            .await
            .unwrap();
        assert_eq!(settled.len(), 1);
        assert_eq!(
            (
                settled[0].reverted,
                settled[0].not_done,
                settled[0].unsettled
            ),
            (1, 0, 0)
        );
        let steps = journal.steps(&run.id, None).unwrap();
        assert_eq!(steps[0].result, Some(StepResult::ReconciledDone));
        let entries = journal.revert_entries(&run.id).unwrap();
        assert_eq!(entries[0].outcome, Some(EntryOutcome::Converted));
        assert_eq!(
            journal.revert_run(&run.id).unwrap().unwrap().status,
            crate::vocabulary::RunStatus::Finished
        );

        // A stalled request is logged once its held answer has gone out.
        let posts = |state: &serde_json::Value| {
            state["requests"]
                .as_array()
                .map(|log| {
                    log.iter()
                        .filter(|r| {
                            r["method"] == "POST"
                                && r["path"].as_str().unwrap_or("").starts_with("/beta/")
                        })
                        .count()
                })
                .unwrap_or(0)
        };
        let mut state = emulator.state();
        for _ in 0..50 {
            if posts(&state) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = emulator.state();
        }
        assert_eq!(posts(&state), 1, "sent once, never again blindly");
        let user = state["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == nina)
            .unwrap();
        assert_eq!(user["externalUserState"], serde_json::Value::Null);
        emulator.shutdown().await;
    }
}
