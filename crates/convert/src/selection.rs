//! Users picked straight from the tenant instead of from a file, each given a partner
//! address by a rule, and written as an ordinary input CSV (`user,externalEmail`).
//!
//! Why through a file: a conversion is hard to undo, so the mapping an expression and a
//! template produce must be seen before anything runs. `plan --select … --map-email …
//! --write-input F.csv` writes it; the admin reads (and may edit) `F.csv`, then runs
//! `apply --input F.csv`, which plans again from the file. Selection is therefore a
//! `plan` feature only, and the file it writes is the one input format there is.
//!
//! **Where users come from** ([`Source`]):
//! - a Graph `$filter` on `/users` (`startsWith(userPrincipalName,'ext.')`), sent as an
//!   advanced query (`ConsistencyLevel: eventual` and `$count=true`, graph-facts §4) so
//!   that `ne`, `not` and `endsWith` work too. Advanced queries are eventually
//!   consistent: a user created a minute ago may be missing; the plan that follows reads
//!   every selected user again.
//! - a group's **direct** members (`/groups/{id}/members`), the group named by its object
//!   id or its exact display name (which must name one group: two groups of that name
//!   are listed with their ids, never picked from). A nested group is named, not
//!   followed, so a selection never reaches further than the group the admin looked at
//!   in the admin center; members that are not users (contacts, devices, service
//!   principals) are counted and left out.
//!
//! **How each gets an address** ([`EmailRule`]):
//! - a template, `{upnLocal}@partner.example`, with the placeholders `{upnLocal}` (the
//!   UPN before its `@`), `{mailNickname}`, `{givenName}` and `{surname}`. At least one
//!   placeholder, exactly one `@`, and only literal text after it: the partner's domain
//!   is the admin's to write, never a user attribute's. Values are used as they are
//!   (no case folding, no transliteration);
//! - `--map-email-from-other-mails DOMAIN`: the one `otherMails` address at exactly that
//!   domain (not its subdomains).
//!
//! A user the rule cannot give an address — an empty attribute, a result Graph would
//! refuse as an invitation address (`José García@…`), no or several `otherMails` at the
//! domain — is listed as unmapped with the reason, never guessed at and never written.
//! Everyone else goes to the file by UPN (what the admin reviews; the planner resolves
//! it again), sorted by UPN so two selections compare line by line.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use b2b_graph::model::User;
use b2b_graph::{GraphClient, ListQuery, odata_string};

use crate::email::{check_address, check_domain_name as check_domain, domain_of};
use crate::facts::{FactsError, context, looks_like_object_id};

/// The user properties a selection reads: the key written to the file and what the
/// rules may use.
pub const SELECT: &[&str] = &[
    "id",
    "displayName",
    "userPrincipalName",
    "mailNickname",
    "givenName",
    "surname",
    "otherMails",
];

/// Where the users come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Graph `$filter` expression on `/users`.
    Filter(String),
    /// A group's direct members: its object id or exact display name.
    Group(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Filter(filter) => write!(f, "the users matching `{filter}`"),
            Source::Group(group) => write!(f, "the members of group `{group}`"),
        }
    }
}

/// A user attribute a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The UPN before its last `@`.
    UpnLocal,
    /// `mailNickname`.
    MailNickname,
    /// `givenName`.
    GivenName,
    /// `surname`.
    Surname,
}

impl Field {
    const ALL: [Field; 4] = [
        Field::UpnLocal,
        Field::MailNickname,
        Field::GivenName,
        Field::Surname,
    ];

    /// The placeholder's name, as written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Field::UpnLocal => "upnLocal",
            Field::MailNickname => "mailNickname",
            Field::GivenName => "givenName",
            Field::Surname => "surname",
        }
    }

    fn value(self, user: &User) -> Option<&str> {
        let value = match self {
            Field::UpnLocal => user
                .user_principal_name
                .as_deref()
                .and_then(|upn| upn.rsplit_once('@'))
                .map(|(local, _)| local),
            Field::MailNickname => user.mail_nickname.as_deref(),
            Field::GivenName => user.given_name.as_deref(),
            Field::Surname => user.surname.as_deref(),
        };
        value.map(str::trim).filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A parsed `--map-email` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses and checks a template; the error says what to change.
    ///
    /// ```
    /// use b2b_convert_core::selection::Template;
    /// assert!(Template::parse("{upnLocal}@partner.example").is_ok());
    /// assert!(Template::parse("{upnlocal}@partner.example").is_err()); // names are exact
    /// assert!(Template::parse("{givenName}@{surname}.example").is_err()); // the domain is literal
    /// ```
    pub fn parse(text: &str) -> Result<Template, SelectionError> {
        let refuse = |reason: String| SelectionError::Template {
            template: text.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    let field = Field::ALL
                        .into_iter()
                        .find(|f| f.name() == name)
                        .ok_or_else(|| {
                            refuse(format!(
                                "`{{{name}}}` is not a placeholder; use {}",
                                Field::ALL.map(|f| format!("{{{}}}", f.name())).join(", ")
                            ))
                        })?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                }
                '}' => return Err(refuse("a `}` closes no placeholder".into())),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        if !parts.iter().any(|p| matches!(p, Part::Field(_))) {
            return Err(refuse(
                "it has no placeholder, so every user would get the same address".into(),
            ));
        }
        let ats = text.matches('@').count();
        if ats != 1 {
            return Err(refuse(format!(
                "an address has one `@`, the template has {ats}"
            )));
        }
        let at_part = parts
            .iter()
            .position(|p| matches!(p, Part::Text(t) if t.contains('@')))
            .ok_or_else(|| refuse("the `@` is inside a placeholder".into()))?;
        if parts[at_part + 1..]
            .iter()
            .any(|p| matches!(p, Part::Field(_)))
        {
            return Err(refuse(
                "the partner's domain after the `@` must be written out, not taken from the user"
                    .into(),
            ));
        }
        let domain = text.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        check_domain(domain).map_err(refuse)?;
        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }

    /// The address for `user`, or why there is none.
    fn apply(&self, user: &User) -> Result<String, String> {
        let mut address = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => address.push_str(text),
                Part::Field(field) => match field.value(user) {
                    Some(value) => address.push_str(value),
                    None => return Err(format!("has no {}", field.name())),
                },
            }
        }
        checked(address)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a selected user gets the partner address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailRule {
    /// `--map-email TEMPLATE`.
    Template(Template),
    /// `--map-email-from-other-mails DOMAIN`: the lower-cased domain.
    OtherMailsAt(String),
}

impl EmailRule {
    /// The `otherMails` rule for `domain`, checked.
    ///
    /// ```
    /// use b2b_convert_core::selection::EmailRule;
    /// assert!(EmailRule::other_mails_at("Fabrikam.com").is_ok());
    /// assert!(EmailRule::other_mails_at("ann@fabrikam.com").is_err());
    /// ```
    pub fn other_mails_at(domain: &str) -> Result<EmailRule, SelectionError> {
        let domain = domain.trim();
        check_domain(domain).map_err(|reason| SelectionError::Domain {
            domain: domain.to_owned(),
            reason,
        })?;
        Ok(EmailRule::OtherMailsAt(domain.to_ascii_lowercase()))
    }

    /// The address for `user`, or why there is none.
    ///
    /// ```
    /// use b2b_convert_core::selection::{EmailRule, Template};
    /// use b2b_graph::model::User;
    /// let rule = EmailRule::Template(Template::parse("{givenName}.{surname}@fabrikam.com").unwrap());
    /// let ann = User {
    ///     given_name: Some("Ann".into()),
    ///     surname: Some("Lee".into()),
    ///     ..Default::default()
    /// };
    /// assert_eq!(rule.address_for(&ann).unwrap(), "Ann.Lee@fabrikam.com");
    /// assert_eq!(rule.address_for(&User::default()).unwrap_err(), "has no givenName");
    /// ```
    pub fn address_for(&self, user: &User) -> Result<String, String> {
        match self {
            EmailRule::Template(template) => template.apply(user),
            EmailRule::OtherMailsAt(domain) => {
                let at_domain: Vec<&String> = user
                    .other_mails
                    .iter()
                    .filter(|m| domain_of(m).as_deref() == Some(domain.as_str()))
                    .collect();
                match at_domain.as_slice() {
                    [] if user.other_mails.is_empty() => Err("has no otherMails".into()),
                    [] => Err(format!(
                        "has no otherMails address at {domain} (it has {})",
                        user.other_mails.join(", ")
                    )),
                    [one] => checked((*one).clone()),
                    several => Err(format!(
                        "has {} otherMails addresses at {domain} ({}): write the one to use in the file",
                        several.len(),
                        several
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
    }
}

impl fmt::Display for EmailRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailRule::Template(template) => write!(f, "`{template}`"),
            EmailRule::OtherMailsAt(domain) => write!(f, "their otherMails address at {domain}"),
        }
    }
}

fn checked(address: String) -> Result<String, String> {
    match check_address(&address) {
        Ok(()) => Ok(address),
        Err(reason) => Err(format!(
            "would get `{}`, which {reason}",
            address.chars().take(80).collect::<String>()
        )),
    }
}

/// A selected user with the partner address the rule gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The user's UPN (the object id when Graph gave none).
    pub user: String,
    /// Display name, for the operator.
    pub display_name: Option<String>,
    /// The partner address.
    pub external_email: String,
}

/// A selected user the rule gave no address, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// The user's UPN (the object id when Graph gave none).
    pub user: String,
    /// Display name, for the operator.
    pub display_name: Option<String>,
    /// Why, completing "the user …" (`has no givenName`).
    pub reason: String,
}

/// What a selection found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The users with an address, sorted by UPN.
    pub mapped: Vec<Mapped>,
    /// The users without one, sorted by UPN.
    pub unmapped: Vec<Unmapped>,
    /// Groups that are direct members of the selected group (display name, else id):
    /// not followed.
    pub nested_groups: Vec<String>,
    /// Other non-user members of the selected group, counted by type (`orgContact`).
    pub other_members: BTreeMap<String, usize>,
}

impl Selection {
    /// How many users the source gave.
    pub fn selected(&self) -> usize {
        self.mapped.len() + self.unmapped.len()
    }

    /// The mapped users as an input file: `user,externalEmail`, one row each.
    ///
    /// ```
    /// use b2b_convert_core::selection::{Mapped, Selection};
    /// let selection = Selection {
    ///     mapped: vec![Mapped {
    ///         user: "ann@contoso.com".into(),
    ///         display_name: None,
    ///         external_email: "ann@fabrikam.com".into(),
    ///     }],
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     String::from_utf8(selection.to_csv()).unwrap(),
    ///     "user,externalEmail\nann@contoso.com,ann@fabrikam.com\n"
    /// );
    /// ```
    pub fn to_csv(&self) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        // Writing to memory cannot fail.
        let mut rows = std::iter::once(["user", "externalEmail"]).chain(
            self.mapped
                .iter()
                .map(|m| [m.user.as_str(), m.external_email.as_str()]),
        );
        let written = rows.try_for_each(|row| writer.write_record(row));
        debug_assert!(written.is_ok());
        writer.into_inner().unwrap_or_default()
    }
}

/// Gives each user an address by `rule` (pure): the mapped and the unmapped, each
/// sorted by UPN.
pub fn map_users(users: Vec<User>, rule: &EmailRule) -> (Vec<Mapped>, Vec<Unmapped>) {
    let mut mapped = Vec::new();
    let mut unmapped = Vec::new();
    for user in users {
        let key = user
            .user_principal_name
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| user.id.clone());
        match rule.address_for(&user) {
            Ok(external_email) => mapped.push(Mapped {
                user: key,
                display_name: user.display_name,
                external_email,
            }),
            Err(reason) => unmapped.push(Unmapped {
                user: key,
                display_name: user.display_name,
                reason,
            }),
        }
    }
    mapped.sort_by_cached_key(|m| m.user.to_lowercase());
    unmapped.sort_by_cached_key(|m| m.user.to_lowercase());
    (mapped, unmapped)
}

/// Reads the users `source` names and maps them by `rule`; `on_read` is told how many
/// users have been read so far, after each page (for a progress line: a large selection
/// takes a page of 999 per request).
pub async fn select(
    client: &GraphClient,
    source: &Source,
    rule: &EmailRule,
    on_read: &(dyn Fn(usize) + Sync),
) -> Result<Selection, SelectionError> {
    let mut users: Vec<User> = Vec::new();
    let mut selection = Selection::default();
    match source {
        Source::Filter(filter) => {
            let query = ListQuery::new()
                .filter(filter.clone())
                .select(SELECT)
                .top(999)
                .advanced();
            client
                .each_user_page(&query, &mut |page| {
                    users.extend(page);
                    on_read(users.len());
                })
                .await
                .map_err(context(source.to_string()))?;
        }
        Source::Group(group) => {
            let group_id = find_group(client, group).await?;
            let query = ListQuery::new().select(SELECT).top(999);
            let nested = &mut selection.nested_groups;
            let others = &mut selection.other_members;
            client
                .each_group_member_page(&group_id, &query, &mut |page| {
                    for member in page {
                        if member.is_user() {
                            users.push(member.object);
                        } else if member.type_name() == "group" {
                            nested.push(member.object.display_name.unwrap_or(member.object.id));
                        } else {
                            *others.entry(member.type_name().to_owned()).or_default() += 1;
                        }
                    }
                    on_read(users.len());
                })
                .await
                .map_err(context(source.to_string()))?;
            selection.nested_groups.sort();
        }
    }
    (selection.mapped, selection.unmapped) = map_users(users, rule);
    Ok(selection)
}

/// The id of the one group `name_or_id` names.
async fn find_group(client: &GraphClient, name_or_id: &str) -> Result<String, SelectionError> {
    let name_or_id = name_or_id.trim();
    let filter = if looks_like_object_id(name_or_id) {
        format!("id eq {}", odata_string(name_or_id))
    } else {
        format!("displayName eq {}", odata_string(name_or_id))
    };
    let query = ListQuery::new()
        .filter(filter)
        .select(&["id", "displayName"]);
    let groups = client
        .list_groups(&query)
        .await
        .map_err(context(format!("the group `{name_or_id}`")))?;
    match groups.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(SelectionError::NoGroup {
            group: name_or_id.to_owned(),
        }),
        several => Err(SelectionError::AmbiguousGroup {
            group: name_or_id.to_owned(),
            ids: several.iter().map(|g| g.id.clone()).collect(),
        }),
    }
}

/// Writes a selection's input file (`bytes`, from [`Selection::to_csv`]) at `path`,
/// which must not exist yet: it may be a reviewed file holding the admin's edits.
pub fn write_input(path: &Path, bytes: &[u8]) -> Result<(), SelectionError> {
    let write_error = |error: io::Error| SelectionError::Write {
        path: path.to_owned(),
        error,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| {
            if error.kind() == io::ErrorKind::AlreadyExists {
                SelectionError::Exists {
                    path: path.to_owned(),
                }
            } else {
                write_error(error)
            }
        })?;
    file.write_all(bytes).map_err(write_error)?;
    file.sync_all().map_err(write_error)
}

/// Why a selection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// The `--map-email` template is unusable.
    #[error("--map-email `{template}`: {reason}")]
    Template {
        /// The template as given.
        template: String,
        /// What to change.
        reason: String,
    },
    /// The `--map-email-from-other-mails` domain is unusable.
    #[error("--map-email-from-other-mails `{domain}`: {reason}")]
    Domain {
        /// The domain as given.
        domain: String,
        /// What to change.
        reason: String,
    },
    /// No group has that id or display name.
    #[error("no group has the id or display name `{group}`")]
    NoGroup {
        /// The name or id given.
        group: String,
    },
    /// Several groups have that display name.
    #[error("{} groups are named `{group}`; give one's object id instead: {}", ids.len(), ids.join(", "))]
    AmbiguousGroup {
        /// The name given.
        group: String,
        /// Their object ids.
        ids: Vec<String>,
    },
    /// The file to write exists.
    #[error(
        "{path} exists; the selection is never written over a file that may hold your edits: remove it or name another"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("{path}: cannot write the selection: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// Graph refused or failed a read.
    #[error(transparent)]
    Read(#[from] FactsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(upn: &str) -> User {
        User {
            id: format!("id-{upn}"),
            user_principal_name: Some(upn.into()),
            ..Default::default()
        }
    }

    fn template(text: &str) -> EmailRule {
        EmailRule::Template(Template::parse(text).unwrap())
    }

    #[test]
    fn templates_are_checked_before_anything_is_read() {
        for (text, says) in [
            ("{upnLocal}", "one `@`"),
            ("{upnLocal}@a@b.example", "one `@`"),
            ("ann@partner.example", "no placeholder"),
            ("{upnLocal}@{surname}.example", "written out"),
            ("{givenname}@partner.example", "{givenName}"),
            ("{upnLocal@partner.example", "not a placeholder"),
            ("{upnLocal}}@partner.example", "closes no placeholder"),
            ("{upnLocal}@partner", "the domain `partner` has no dot"),
            ("{upnLocal}@part ner.example", "not a valid host name"),
        ] {
            let error = Template::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn a_template_fills_every_placeholder_or_says_which_is_missing() {
        let mut ann = user("ann.lee@contoso.com");
        ann.mail_nickname = Some("alee".into());
        ann.given_name = Some(" Ann ".into());
        ann.surname = Some("Lee".into());
        assert_eq!(
            template("{upnLocal}@fabrikam.com").address_for(&ann),
            Ok("ann.lee@fabrikam.com".into())
        );
        assert_eq!(
            template("{mailNickname}-ext@fabrikam.com").address_for(&ann),
            Ok("alee-ext@fabrikam.com".into())
        );
        assert_eq!(
            template("{givenName}.{surname}@fabrikam.com").address_for(&ann),
            Ok("Ann.Lee@fabrikam.com".into())
        );
        ann.surname = Some("  ".into());
        assert_eq!(
            template("{givenName}.{surname}@fabrikam.com").address_for(&ann),
            Err("has no surname".into())
        );
        ann.given_name = Some("José María".into());
        ann.surname = Some("García".into());
        let refused = template("{givenName}.{surname}@fabrikam.com")
            .address_for(&ann)
            .unwrap_err();
        assert!(
            refused.contains("`José María.García@fabrikam.com`"),
            "{refused}"
        );
        // A guest's UPN holds `#EXT#`, which Graph refuses in an address.
        let guest = user("quinn_tailspintoys.com#EXT#@contoso.onmicrosoft.com");
        assert!(
            template("{upnLocal}@fabrikam.com")
                .address_for(&guest)
                .unwrap_err()
                .contains('#')
        );
    }

    #[test]
    fn other_mails_give_the_one_address_at_the_domain() {
        let rule = EmailRule::other_mails_at("Fabrikam.COM").unwrap();
        let mut ann = user("ann@contoso.com");
        assert_eq!(rule.address_for(&ann), Err("has no otherMails".into()));
        ann.other_mails = vec!["ann@outlook.com".into(), "ann@sub.fabrikam.com".into()];
        assert_eq!(
            rule.address_for(&ann),
            Err(
                "has no otherMails address at fabrikam.com (it has ann@outlook.com, ann@sub.fabrikam.com)"
                    .into()
            )
        );
        ann.other_mails.push("Ann.Lee@FABRIKAM.com".into());
        assert_eq!(rule.address_for(&ann), Ok("Ann.Lee@FABRIKAM.com".into()));
        ann.other_mails.push("a.lee@fabrikam.com".into());
        assert!(
            rule.address_for(&ann)
                .unwrap_err()
                .starts_with("has 2 otherMails addresses at fabrikam.com")
        );
        for bad in [
            "fabrikam",
            "ann@fabrikam.com",
            ".fabrikam.com",
            "fab rikam.com",
        ] {
            assert!(EmailRule::other_mails_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mapping_sorts_by_upn_and_keeps_the_unmapped_apart() {
        let mut zed = user("Zed@contoso.com");
        zed.given_name = Some("Zed".into());
        let mut amy = user("amy@contoso.com");
        amy.given_name = Some("Amy".into());
        let nobody = User {
            id: "0b7e".into(),
            ..Default::default()
        };
        let (mapped, unmapped) = map_users(
            vec![zed, nobody, amy],
            &template("{givenName}@fabrikam.com"),
        );
        assert_eq!(
            mapped
                .iter()
                .map(|m| (m.user.as_str(), m.external_email.as_str()))
                .collect::<Vec<_>>(),
            [
                ("amy@contoso.com", "Amy@fabrikam.com"),
                ("Zed@contoso.com", "Zed@fabrikam.com")
            ]
        );
        assert_eq!(unmapped.len(), 1);
        assert_eq!(unmapped[0].user, "0b7e");
        assert_eq!(unmapped[0].reason, "has no givenName");
    }

    #[test]
    fn the_csv_quotes_what_needs_quoting_and_reads_back_as_input() {
        let selection = Selection {
            mapped: vec![Mapped {
                user: "o'brien,ann@contoso.com".into(),
                display_name: None,
                external_email: "ann@fabrikam.com".into(),
            }],
            ..Default::default()
        };
        let bytes = selection.to_csv();
        let input = crate::input::parse_input(Path::new("selected.csv"), &bytes).unwrap();
        assert_eq!(input.rows.len(), 1);
        assert_eq!(input.rows[0].user, "o'brien,ann@contoso.com");
        assert_eq!(input.rows[0].line, 2);
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("selected.csv");
        std::fs::write(&path, "edited by hand").unwrap();
        let error = write_input(&path, &Selection::default().to_csv()).unwrap_err();
        assert!(matches!(error, SelectionError::Exists { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by hand");
    }
}
