//! The columns of the input file: the fields b2b-convert reads, every name a header may
//! give them, and what each field may hold.
//!
//! A header cell names a field by its bracketed key when it has one (the Entra admin
//! center's bulk-invite template writes `Email address to invite [inviteeEmail] Required`,
//! and translates everything but the key), otherwise by its whole text. Either is
//! compared without regard to case, spaces or underscores against one table: our own
//! names, the names admins' exports and Microsoft's APIs use for the same thing, and the
//! template's keys. One table for both keeps the rule to one sentence in the README.
//!
//! `Mail` is deliberately no alias: in a directory export it is the *internal* account's
//! mail, in a partner list the *partner's* address, and reading it as the wrong one would
//! overwrite a user's mail with their own or invite the wrong person. The error says to
//! rename it `user` or `externalEmail`.

use super::{MAX_EMAIL_CHARS, MAX_MESSAGE_CHARS, MAX_OTHER_BYTES, MAX_USER_CHARS, quoted};

/// The fields a row may have, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Column {
    User,
    ExternalEmail,
    RedirectUrl,
    SendEmail,
    Message,
    Cc,
    Language,
    RevokeSessions,
}

/// How a limit is counted.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Chars,
    Bytes,
}

impl Column {
    pub(super) const ALL: [Column; 8] = [
        Column::User,
        Column::ExternalEmail,
        Column::RedirectUrl,
        Column::SendEmail,
        Column::Message,
        Column::Cc,
        Column::Language,
        Column::RevokeSessions,
    ];

    /// The canonical name: what our own format calls the column and the README's tables
    /// list.
    pub(super) fn name(self) -> &'static str {
        match self {
            Column::User => "user",
            Column::ExternalEmail => "externalEmail",
            Column::RedirectUrl => "redirectUrl",
            Column::SendEmail => "sendEmail",
            Column::Message => "message",
            Column::Cc => "cc",
            Column::Language => "language",
            Column::RevokeSessions => "revokeSessions",
        }
    }

    /// The most a cell of this column may hold, its unit, and the reason in brief.
    fn limit(self) -> (usize, Unit, &'static str) {
        match self {
            Column::User => (
                MAX_USER_CHARS,
                Unit::Chars,
                " (a UPN has at most 113, a mail at most 320)",
            ),
            Column::ExternalEmail => (
                MAX_EMAIL_CHARS,
                Unit::Chars,
                " (RFC 5321: 64 before the @, 255 after)",
            ),
            Column::Message => (
                MAX_MESSAGE_CHARS,
                Unit::Chars,
                " (Graph documents no limit and has dropped longer messages silently)",
            ),
            Column::RedirectUrl
            | Column::SendEmail
            | Column::Cc
            | Column::Language
            | Column::RevokeSessions => (MAX_OTHER_BYTES, Unit::Bytes, ""),
        }
    }

    /// The end of a too-long message: "more than the N characters `user` may hold (why)".
    /// The canonical name, because that is what the README's table of limits lists.
    pub(super) fn over_limit(self) -> String {
        let (max, unit, why) = self.limit();
        let unit = match unit {
            Unit::Chars => "characters",
            Unit::Bytes => "bytes",
        };
        format!("more than the {max} {unit} `{}` may hold{why}", self.name())
    }

    /// Whether `text` fits the column's limit; the error says by how much it doesn't.
    pub(super) fn check_length(self, text: &str) -> Result<(), String> {
        let (max, unit, _) = self.limit();
        let (size, unit) = match unit {
            Unit::Chars => (text.chars().count(), "characters"),
            Unit::Bytes => (text.len(), "bytes"),
        };
        if size <= max {
            return Ok(());
        }
        Err(format!(
            "`{}` has {size} {unit}, {}",
            quoted(text),
            self.over_limit()
        ))
    }
}

/// What one header cell names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heading {
    /// A field b2b-convert reads.
    Field(Column),
    /// A column of the bulk-invite template that means nothing for a conversion
    /// (`[inviteeName]`: the account keeps its display name), read past. Any other
    /// unknown column stays an error: a misspelt `sendEmial` silently ignored would send
    /// mail the admin meant to suppress.
    Ignored,
}

/// Every name a header may use, normalised (see [`normalise`]). The first name of each
/// field is its canonical one.
const NAMES: &[(&str, Heading)] = &[
    ("user", Heading::Field(Column::User)),
    ("userprincipalname", Heading::Field(Column::User)),
    ("upn", Heading::Field(Column::User)),
    ("objectid", Heading::Field(Column::User)),
    ("id", Heading::Field(Column::User)),
    ("internaluser", Heading::Field(Column::User)),
    ("externalemail", Heading::Field(Column::ExternalEmail)),
    ("email", Heading::Field(Column::ExternalEmail)),
    (
        "inviteduseremailaddress",
        Heading::Field(Column::ExternalEmail),
    ),
    ("partneremail", Heading::Field(Column::ExternalEmail)),
    ("inviteeemail", Heading::Field(Column::ExternalEmail)),
    ("redirecturl", Heading::Field(Column::RedirectUrl)),
    ("inviteredirecturl", Heading::Field(Column::RedirectUrl)),
    ("sendemail", Heading::Field(Column::SendEmail)),
    ("sendinvitationmessage", Heading::Field(Column::SendEmail)),
    ("revokesessions", Heading::Field(Column::RevokeSessions)),
    (
        "revokesigninsessions",
        Heading::Field(Column::RevokeSessions),
    ),
    ("message", Heading::Field(Column::Message)),
    ("customizedmessagebody", Heading::Field(Column::Message)),
    ("cc", Heading::Field(Column::Cc)),
    ("ccrecipient", Heading::Field(Column::Cc)),
    ("ccrecipients", Heading::Field(Column::Cc)),
    ("language", Heading::Field(Column::Language)),
    ("messagelanguage", Heading::Field(Column::Language)),
    ("inviteename", Heading::Ignored),
];

/// A name as the table holds it: lower case, without whitespace or underscores, so
/// `User Principal Name`, `user_principal_name` and `UserPrincipalName` are one name.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The key of a bulk-invite heading: the text between the first `[` and the `]` after
/// it, if there is one.
fn bracketed_key(heading: &str) -> Option<&str> {
    let (_, after) = heading.split_once('[')?;
    let (key, _) = after.split_once(']')?;
    Some(key.trim())
}

/// What a header cell names, or why it names nothing b2b-convert reads.
pub(super) fn resolve(written: &str) -> Result<Heading, String> {
    let written = written.trim();
    let key = bracketed_key(written);
    let wanted = normalise(key.unwrap_or(written));
    if let Some(&(_, heading)) = NAMES.iter().find(|(name, _)| *name == wanted) {
        return Ok(heading);
    }
    let columns = Column::ALL.map(Column::name).join(", ");
    Err(if wanted.is_empty() && key.is_none() {
        "a column has no name; name it or delete it".to_owned()
    } else if wanted == "mail" {
        format!(
            "unknown column `{}`: `mail` could be the internal account's or the partner's \
             address; name the column `user` (the internal account) or `externalEmail` \
             (the partner's address)",
            quoted(written)
        )
    } else if let Some(key) = key {
        format!(
            "unknown column `{}`: `[{}]` is not a key b2b-convert reads; the keys are \
             inviteeEmail, inviteRedirectURL, sendEmail, customizedMessageBody, \
             inviteeName (ignored) and {columns}",
            quoted(written),
            quoted(key)
        )
    } else {
        format!(
            "unknown column `{}`; the columns are: {columns} (or an alias of one; see the \
             README)",
            quoted(written)
        )
    })
}

/// The header row, resolved: which column holds which field, and what the file calls it.
#[derive(Debug)]
pub(super) struct Header {
    /// Each column's heading as the file writes it (trimmed), by position: errors name a
    /// column the way the admin wrote it.
    names: Vec<String>,
    /// What each column names, by position.
    headings: Vec<Heading>,
    /// The position of each field's column, by field ([`Column::ALL`] order): looked up
    /// for every cell of every row.
    fields: [Option<usize>; Column::ALL.len()],
    /// Whether the file is the admin center's bulk-invite template: a version row came
    /// first, or a heading has a bracketed key.
    pub(super) bulk_invite: bool,
}

impl Header {
    /// Resolves the header row's cells; `version_row` says whether a bulk-invite version
    /// row came before it. The error is the header line's message.
    pub(super) fn resolve(record: &csv::ByteRecord, version_row: bool) -> Result<Self, String> {
        Self::resolve_for(record, version_row, false)
    }

    /// Resolves a header of which only the `user` column is read (`revert`'s input,
    /// which may be `apply`'s own file): every other column, known or not, is read past.
    pub(super) fn resolve_users(
        record: &csv::ByteRecord,
        version_row: bool,
    ) -> Result<Self, String> {
        Self::resolve_for(record, version_row, true)
    }

    fn resolve_for(
        record: &csv::ByteRecord,
        version_row: bool,
        users_only: bool,
    ) -> Result<Self, String> {
        let mut names = Vec::with_capacity(record.len());
        let mut headings = Vec::with_capacity(record.len());
        let mut bulk_invite = version_row;
        for (index, raw) in record.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| format!("column {} is not valid UTF-8", index + 1))?
                .trim();
            let heading = match resolve(name) {
                Ok(Heading::Field(Column::User)) => Heading::Field(Column::User),
                _ if users_only => Heading::Ignored,
                resolved => resolved?,
            };
            bulk_invite |= bracketed_key(name).is_some();
            if let Heading::Field(column) = heading
                && let Some(earlier) = headings.iter().position(|h| *h == heading)
            {
                let first = names.get(earlier).map_or("", String::as_str);
                return Err(format!(
                    "columns `{}` and `{}` both give `{}`; keep one",
                    quoted(first),
                    quoted(name),
                    column.name()
                ));
            }
            names.push(name.to_owned());
            headings.push(heading);
        }
        let mut fields = [None; Column::ALL.len()];
        for (index, heading) in headings.iter().enumerate() {
            if let Heading::Field(column) = heading
                && let Some(slot) = fields.get_mut(*column as usize)
            {
                *slot = Some(index);
            }
        }
        let header = Header {
            names,
            headings,
            fields,
            bulk_invite,
        };
        if users_only {
            return match header.index(Column::User) {
                Some(_) => Ok(header),
                None => Err(
                    "no `user` column (the object id, UPN or mail of each user to revert)"
                        .to_owned(),
                ),
            };
        }
        if header.index(Column::User).is_none() && header.bulk_invite {
            return Err(
                "the required column `user` is missing: the bulk-invite template has no \
                 column for the internal account to convert; add one headed \
                 `User to convert [user] Required` holding its object id, UPN or mail"
                    .to_owned(),
            );
        }
        for required in [Column::User, Column::ExternalEmail] {
            if header.index(required).is_none() {
                return Err(format!(
                    "the required column `{}` is missing (required: user, externalEmail)",
                    required.name()
                ));
            }
        }
        Ok(header)
    }

    /// How many columns the header has; every row must have as many cells.
    pub(super) fn width(&self) -> usize {
        self.headings.len()
    }

    /// The position of the column holding `column`, if the file has one.
    pub(super) fn index(&self, column: Column) -> Option<usize> {
        self.fields.get(column as usize).copied().flatten()
    }

    /// What the column at `index` names, if the header has that many columns.
    pub(super) fn heading(&self, index: usize) -> Option<Heading> {
        self.headings.get(index).copied()
    }

    /// The column at `index` as the file's header writes it.
    pub(super) fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("", String::as_str)
    }
}

/// Whether a header line, split into `cells`, names only columns b2b-convert reads: the
/// separator that makes it so is the file's.
pub(super) fn all_known(cells: &[String]) -> bool {
    cells.len() >= 2 && cells.iter().all(|cell| resolve(cell).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Option<Column> {
        match resolve(name) {
            Ok(Heading::Field(column)) => Some(column),
            _ => None,
        }
    }

    #[test]
    fn aliases_ignore_case_spaces_and_underscores() {
        for (name, column) in [
            ("UserPrincipalName", Column::User),
            ("user_principal_name", Column::User),
            ("User Principal Name", Column::User),
            ("UPN", Column::User),
            ("ObjectId", Column::User),
            ("Object ID", Column::User),
            ("Id", Column::User),
            ("InternalUser", Column::User),
            ("Email", Column::ExternalEmail),
            ("EXTERNAL_EMAIL", Column::ExternalEmail),
            ("InvitedUserEmailAddress", Column::ExternalEmail),
            ("PartnerEmail", Column::ExternalEmail),
            ("InviteRedirectUrl", Column::RedirectUrl),
            ("redirect url", Column::RedirectUrl),
            ("SendInvitationMessage", Column::SendEmail),
            ("Send_Email", Column::SendEmail),
            ("CustomizedMessageBody", Column::Message),
            ("Message", Column::Message),
            ("MessageLanguage", Column::Language),
            ("language", Column::Language),
            ("CcRecipient", Column::Cc),
            ("ccRecipients", Column::Cc),
            ("CC", Column::Cc),
        ] {
            assert_eq!(field(name), Some(column), "{name}");
        }
    }

    #[test]
    fn a_bracketed_key_names_the_column_whatever_the_text_around_it() {
        for (name, column) in [
            (
                "Email address to invite [inviteeEmail] Required",
                Column::ExternalEmail,
            ),
            (
                "Redirection url [inviteRedirectURL] Required",
                Column::RedirectUrl,
            ),
            (
                "Send invitation message (true or false) [sendEmail]",
                Column::SendEmail,
            ),
            (
                "Customized invitation message [customizedMessageBody]",
                Column::Message,
            ),
            ("User to convert [user] Required", Column::User),
            // The template translated: only the key is kept.
            (
                "招待するメール アドレス [inviteeEmail] 必須",
                Column::ExternalEmail,
            ),
            ("Benutzer [ UserPrincipalName ] Erforderlich", Column::User),
        ] {
            assert_eq!(field(name), Some(column), "{name}");
        }
        assert_eq!(
            resolve("Name of invitee [inviteeName]"),
            Ok(Heading::Ignored)
        );
        let err = resolve("Invitee phone [inviteePhone] Required").unwrap_err();
        assert!(
            err.starts_with(
                "unknown column `Invitee phone [inviteePhone] Required`: `[inviteePhone]` is not a key"
            ),
            "{err}"
        );
    }

    #[test]
    fn mail_is_no_alias_and_says_why() {
        let err = resolve("Mail").unwrap_err();
        assert!(err.starts_with("unknown column `Mail`: "), "{err}");
        assert!(
            err.contains("`user`") && err.contains("`externalEmail`"),
            "{err}"
        );
        assert!(resolve("[mail]").is_err());
        assert!(resolve("DisplayName").is_err());
        assert_eq!(
            resolve("").unwrap_err(),
            "a column has no name; name it or delete it"
        );
    }

    fn header(cells: &[&str]) -> Result<Header, String> {
        Header::resolve(&csv::ByteRecord::from(cells.to_vec()), false)
    }

    #[test]
    fn two_columns_for_one_field_name_both() {
        let err = header(&["user", "Email", "PartnerEmail"]).unwrap_err();
        assert_eq!(
            err,
            "columns `Email` and `PartnerEmail` both give `externalEmail`; keep one"
        );
        let err = header(&["UPN", "externalEmail", "User to convert [user] Required"]).unwrap_err();
        assert_eq!(
            err,
            "columns `UPN` and `User to convert [user] Required` both give `user`; keep one"
        );
        // Two ignored columns take nothing from each other.
        assert!(
            header(&[
                "user",
                "email",
                "Name of invitee [inviteeName]",
                "Invitee [inviteeName]"
            ])
            .is_ok()
        );
    }

    #[test]
    fn a_bulk_invite_header_without_a_user_column_says_what_to_add() {
        let err = header(&[
            "Email address to invite [inviteeEmail] Required",
            "Redirection url [inviteRedirectURL] Required",
        ])
        .unwrap_err();
        assert!(
            err.contains("add one headed `User to convert [user] Required`"),
            "{err}"
        );
        let err = header(&["email"]).unwrap_err();
        assert_eq!(
            err,
            "the required column `user` is missing (required: user, externalEmail)"
        );
    }

    #[test]
    fn fields_are_listed_in_declaration_order() {
        // The header's table of positions is indexed by discriminant.
        for (index, column) in Column::ALL.into_iter().enumerate() {
            assert_eq!(column as usize, index, "{column:?}");
        }
    }

    #[test]
    fn the_header_keeps_the_names_as_written() {
        let header = header(&[" Email address to invite [inviteeEmail] Required", "UPN "]).unwrap();
        assert!(header.bulk_invite);
        assert_eq!(header.index(Column::User), Some(1));
        assert_eq!(
            header.name(0),
            "Email address to invite [inviteeEmail] Required"
        );
        assert_eq!(header.name(1), "UPN");
        assert_eq!(header.width(), 2);
    }
}
