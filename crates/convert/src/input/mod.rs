//! The input file: which internal accounts to convert, and to which partner address.
//!
//! A CSV file with a header row. Its fields: `user` (object id, UPN or mail of the
//! internal account) and `externalEmail` (the partner's home address), required;
//! `redirectUrl`, `sendEmail`, `message`, `cc`, `language`, optional per row. The file
//! may be written in one of the shapes admins already have, told from its content, never
//! from its name:
//! - our own CSV, headed with the field names;
//! - the Entra admin center's bulk-invite template (graph-facts §9): a `version:v1.0`
//!   row, then headings such as `Email address to invite [inviteeEmail] Required`, whose
//!   bracketed key names the field whatever the text around it (so a translated template
//!   reads the same), with one column added for the account to convert,
//!   `User to convert [user] Required`; the template's examples row, which Microsoft's
//!   own upload also requires deleted, is refused by name rather than skipped;
//! - a header using another common name for a field (`UserPrincipalName`, `ObjectId`,
//!   `InvitedUserEmailAddress`, `SendInvitationMessage`, …), matched without regard to
//!   case, spaces or underscores (`columns.rs` holds the table and why `Mail` is not in
//!   it);
//! - separated by commas, semicolons (Excel in most of Europe) or tabs, with or without
//!   a UTF-8 byte order mark and Excel's `sep=;` first line (`dialect.rs`).
//!
//! An unknown column is an error (a misspelt `sendEmial` silently ignored would send mail
//! the admin meant to suppress), and so are two columns giving the same field.
//!
//! Structural problems (a missing column, an empty `user` cell, `sendEmail=maybe`, a cell
//! over its limit) are errors naming the file, line and column — the column as the
//! file's header writes it — and nothing is planned. Whether the `externalEmail` is a
//! valid address is a planning decision (`invalid_email`), so that the admin sees every
//! such row at once instead of one error at a time.
//!
//! **Line numbers** are physical lines, whatever the line ends (LF, CRLF from Excel on
//! Windows, or a lone CR): a row is numbered by the line it starts on, so a quoted cell
//! spanning lines pushes the next row's number on, and the header is the line it is on
//! (line 1, unless a `sep=` line or the template's version row comes first). The line
//! numbers reach the plan, the journal and every error (`tracked.rs` counts them).
//!
//! **Streaming.** The file is never held in memory. [`read_input`] reads a regular file
//! twice: once to check every row and hash the bytes, keeping nothing but the count, so
//! a bad row is reported as soon as it is reached and a file of any size costs the same
//! memory; then to build the rows, in a list sized to that count, whose digest must
//! match the first reading's (a file changed while being read is refused). A pipe can be
//! read only once, so there the rows are kept while checking. The dialect is told from
//! the first 64 KiB, read ahead and then handed to the CSV reader in front of the rest.
//! A runaway cell or row (a file that is not what it seems: one quote opening a 10 GB
//! "cell") is refused as soon as it passes a hard bound, before the CSV reader would have
//! buffered it.
//!
//! **Limits**, per cell, checked here so that nothing is sent for a file Graph would
//! refuse half-way through:
//! - `user`: at most 320 characters. A UPN has at most 113 (64 + `@` + 48), but the
//!   cell may also be a mail, which may have 320 (below).
//! - `externalEmail`: at most 320 characters, the longest SMTP address (RFC 5321: 64
//!   before the `@`, 255 after).
//! - `message`: at most 2,000 characters. Microsoft documents no limit for
//!   `invitedUserMessageInfo.customizedMessageBody`. On the docs' issue tracker a
//!   Graph engineer said the request carries "over 40k characters", while a user
//!   reported a message of about 3,000 characters that Graph accepted and then left out
//!   of the email without an error (microsoftgraph/microsoft-graph-docs#13436). A silent
//!   drop is the worst outcome, so the limit sits well below the smallest size reported
//!   lost: a paragraph or two, which is what an invitation note needs.
//! - every other cell: at most 2 KiB (2,048 bytes), far above any real URL, flag,
//!   address or language tag.
//!
//! Error messages quote at most 80 characters of a value.

mod columns;
mod dialect;
mod tracked;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use columns::{Column, Header, Heading};
use tracked::{CELL_BOUND, Overrun, ROW_BOUND, Tracked};

/// One data row of the input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRow {
    /// The physical line of the file the row starts on (line 1 is the file's first).
    pub line: u64,
    /// The internal account: object id, UPN or mail.
    pub user: String,
    /// The partner's home address the account will sign in with.
    pub external_email: String,
    /// Where the user lands after redeeming; the run's default when absent.
    pub redirect_url: Option<String>,
    /// Whether Microsoft sends the invitation email; the run's default when absent.
    pub send_email: Option<bool>,
    /// Whether to revoke this user's sign-in sessions first (`revokeSessions`); unset:
    /// the run's `--revoke-sessions`.
    pub revoke_sessions: Option<bool>,
    /// A custom message for the invitation email.
    pub message: Option<String>,
    /// One additional recipient of the invitation email (Graph honours only one).
    pub cc: Option<String>,
    /// The language of the invitation email (ISO 639, e.g. `en-US`).
    pub language: Option<String>,
}

/// The parsed input file, with the digest that identifies its exact content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Where the rows came from.
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes: a journal refuses to resume with a changed file.
    pub sha256: String,
    /// The rows, in file order.
    pub rows: Vec<InputRow>,
}

/// A problem with the input file itself, naming the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    // The reason is part of the message and deliberately not a `source`: printed with
    // its chain, the error would otherwise say the same cause twice.
    #[error("{path}: cannot read the input file: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The file's content changed between the checking and the reading pass.
    #[error("{path}: the file changed while it was being read; run again once it is complete")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The header row is missing a required column or has an unknown or repeated one.
    #[error("{path}: line {line} (header): {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The line the header is on.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A cell holds a value that cannot be used.
    #[error("{path}: line {line}, column `{column}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The line the row starts on.
        line: u64,
        /// The column as the file's header writes it.
        column: String,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The CSV structure is broken (unbalanced quotes, wrong number of cells, a runaway
    /// row), or a line before the header can't be read.
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line the broken row starts on.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The file has no data rows (or nothing at all).
    #[error("{path}: the file has no data rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The most characters a `user` cell may hold: an object id, a UPN (at most 113) or a
/// mail (at most 320), so the longest of them.
pub const MAX_USER_CHARS: usize = 320;
/// The most characters an `externalEmail` cell may hold: RFC 5321's 64 + `@` + 255.
pub const MAX_EMAIL_CHARS: usize = 320;
/// The most characters a `message` cell may hold; Graph documents no limit (see the
/// module documentation for why this one).
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// The most bytes any other cell may hold.
pub const MAX_OTHER_BYTES: usize = 2_048;

/// The most rows one file may hold. Far above any real conversion list, it keeps a
/// hostile or mistaken file (a whole directory export) from exhausting memory.
pub const MAX_ROWS: usize = 1_000_000;

/// How much the CSV reader asks for at a time (it buffers its source itself).
const READ_BUFFER: usize = 64 * 1024;

/// Lower-case hex of a digest: how the journal keeps an input file's SHA-256.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The most characters of a value an error message quotes.
const QUOTE_CHARS: usize = 80;

/// A value as error messages quote it: at most 80 characters, then an ellipsis; control
/// characters escaped so a message cell can't break the error across lines. The escapes
/// count towards the 80 (fuzzing found a quote of 80 `\u{13}` escapes 640 bytes long).
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::new();
    let mut length = 0;
    for c in value.chars() {
        let shown: String = if c.is_control() {
            c.escape_debug().collect()
        } else {
            c.into()
        };
        length += shown.chars().count();
        if length > QUOTE_CHARS {
            out.push('…');
            break;
        }
        out.push_str(&shown);
    }
    out
}

/// Reads and checks an input file, streaming it (see the module documentation).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("users.csv");
/// std::fs::write(&path, "user,externalEmail\r\nadele.vance@contoso.com,adele@fabrikam.com\r\n").unwrap();
/// let input = b2b_convert_core::input::read_input(&path).unwrap();
/// assert_eq!(input.rows[0].external_email, "adele@fabrikam.com");
/// assert_eq!(input.rows[0].line, 2);
/// ```
pub fn read_input(path: &Path) -> Result<Input, InputError> {
    let read_error = |error| InputError::Read {
        path: path.to_owned(),
        error,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mut rows = Vec::new();
    if !file.metadata().map_err(read_error)?.is_file() {
        // A pipe or device can be read only once: keep the rows while checking them.
        let sha256 = scan(path, &mut file, |row| rows.push(row))?;
        return Ok(Input {
            path: path.to_owned(),
            sha256,
            rows,
        });
    }
    // First pass: check everything, keep nothing. A bad row anywhere costs no memory.
    let mut count = 0;
    let checked = scan(path, &mut file, |_| count += 1)?;
    // Room for exactly the rows counted: grown by doubling, the list of 100,000 rows
    // would hold room for 131,072 (5 MB more, for as long as the rows live).
    rows.reserve_exact(count);
    // Same open file, so a replacement by rename can't mix two files; an edit in place
    // shows up as a different digest.
    file.seek(SeekFrom::Start(0)).map_err(read_error)?;
    let sha256 = scan(path, &mut file, |row| rows.push(row))?;
    if sha256 != checked {
        return Err(InputError::Changed {
            path: path.to_owned(),
        });
    }
    Ok(Input {
        path: path.to_owned(),
        sha256,
        rows,
    })
}

/// Parses input bytes; `path` is used in error messages and kept in the result.
pub fn parse_input(path: &Path, bytes: &[u8]) -> Result<Input, InputError> {
    let mut rows = Vec::new();
    let sha256 = scan(path, bytes, |row| rows.push(row))?;
    Ok(Input {
        path: path.to_owned(),
        sha256,
        rows,
    })
}

/// The users a file names in its `user` column, with their lines, and the hex SHA-256
/// of the file: for `revert`, whose input may be `apply`'s own file (every other column
/// is read past). The file's shape is read as [`read_input`] reads it (separators, a
/// `sep=` line, the bulk-invite template's version row, physical line numbers), and so
/// are the `user` cells.
///
/// ```
/// let users = b2b_convert_core::input::parse_users(
///     std::path::Path::new("revert.csv"),
///     b"version:v1.0\nEmail [inviteeEmail],User to convert [user] Required\nx@f.com,ann@contoso.com\n",
/// )
/// .unwrap();
/// assert_eq!(users.0, [(3, "ann@contoso.com".to_owned())]);
/// ```
pub fn read_users(path: &Path) -> Result<(Vec<(u64, String)>, String), InputError> {
    let file = File::open(path).map_err(|error| InputError::Read {
        path: path.to_owned(),
        error,
    })?;
    let mut users = Vec::new();
    let sha256 = scan_rows(path, file, true, parse_user, |user| users.push(user))?;
    Ok((users, sha256))
}

/// [`read_users`] on bytes already read.
pub fn parse_users(path: &Path, bytes: &[u8]) -> Result<(Vec<(u64, String)>, String), InputError> {
    let mut users = Vec::new();
    let sha256 = scan_rows(path, bytes, true, parse_user, |user| users.push(user))?;
    Ok((users, sha256))
}

/// The CSV reader over a file's bytes, after its dialect was told.
type Reader<R> = csv::Reader<Tracked<io::Chain<io::Cursor<Vec<u8>>, R>>>;

/// Reads `source` to its end (or its first problem), handing each row to `sink`;
/// returns the hex SHA-256 of the bytes read.
fn scan<R: Read>(path: &Path, source: R, sink: impl FnMut(InputRow)) -> Result<String, InputError> {
    scan_rows(path, source, false, parse_row, sink)
}

/// [`scan`] for any reading: `users_only` reads the `user` column alone (every other
/// column read past), and `parse` makes each row what the reader wants.
fn scan_rows<R: Read, T>(
    path: &Path,
    mut source: R,
    users_only: bool,
    parse: impl Fn(&Path, u64, &Header, &csv::ByteRecord) -> Result<T, InputError>,
    mut sink: impl FnMut(T),
) -> Result<String, InputError> {
    // The first bytes tell the dialect; they are then read again from memory, in front
    // of the rest, so the digest and the line count still see every byte once.
    let mut prefix = Vec::new();
    (&mut source)
        .take(dialect::SNIFF_BYTES)
        .read_to_end(&mut prefix)
        .map_err(|error| InputError::Read {
            path: path.to_owned(),
            error,
        })?;
    let dialect = dialect::sniff(&prefix).map_err(|message| InputError::Csv {
        path: path.to_owned(),
        line: 1,
        message,
    })?;
    // The CSV reader drops the byte order mark spreadsheet programs write; it still
    // counts in the digest, which is of the bytes as they are.
    let bom = prefix.starts_with(dialect::BOM);
    // Flexible, because the lines before the header have other lengths; each row's
    // length is checked against the header's below.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(dialect.delimiter)
        .trim(csv::Trim::None)
        .buffer_capacity(READ_BUFFER)
        .from_reader(Tracked::new(
            io::Cursor::new(prefix).chain(source),
            dialect.delimiter,
            bom,
        ));

    let header = read_header(path, &mut reader, dialect.sep_line, users_only)?;
    let mut record = csv::ByteRecord::new();
    let mut count = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(read_error(path, error, reader.get_mut(), Some(&header))),
        }
        let line = reader.get_mut().line_of(record.position());
        if is_blank(&record) {
            continue;
        }
        if record.len() != header.width() {
            return Err(InputError::Csv {
                path: path.to_owned(),
                line,
                message: format!(
                    "the row has {} cells but the header has {}",
                    record.len(),
                    header.width()
                ),
            });
        }
        if count == MAX_ROWS {
            return Err(InputError::Csv {
                path: path.to_owned(),
                line,
                message: format!("more than {MAX_ROWS} rows; split the file into several runs"),
            });
        }
        sink(parse(path, line, &header, &record)?);
        count += 1;
    }
    if count == 0 {
        return Err(InputError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(reader.into_inner().digest())
}

/// Whether a row holds nothing but whitespace: skipped wherever it is, as spreadsheets
/// leave such rows (`,,,`) behind.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record
        .iter()
        .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
}

/// Reads up to and including the header row: past Excel's `sep=` line and the
/// bulk-invite template's version row, if the file has them, and blank rows.
fn read_header<R: Read>(
    path: &Path,
    reader: &mut Reader<R>,
    sep_line: bool,
    users_only: bool,
) -> Result<Header, InputError> {
    let mut record = csv::ByteRecord::new();
    let mut skip_sep_line = sep_line;
    let mut version_row = false;
    let mut first = true;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => {
                return Err(InputError::Empty {
                    path: path.to_owned(),
                });
            }
            Err(error) => return Err(read_error(path, error, reader.get_mut(), None)),
        }
        let line = reader.get_mut().line_of(record.position());
        if std::mem::take(&mut skip_sep_line) || is_blank(&record) {
            continue;
        }
        // Only the first row with text may be the template's version row.
        if std::mem::take(&mut first)
            && let Some(version) = dialect::version_row(&record)
        {
            version.map_err(|message| InputError::Csv {
                path: path.to_owned(),
                line,
                message,
            })?;
            version_row = true;
            continue;
        }
        let header = if users_only {
            Header::resolve_users(&record, version_row)
        } else {
            Header::resolve(&record, version_row)
        };
        return header.map_err(|message| InputError::Header {
            path: path.to_owned(),
            line,
            message,
        });
    }
}

/// A row's cell in one column, in the file and line's words.
struct Cells<'a> {
    path: &'a Path,
    line: u64,
    header: &'a Header,
    record: &'a csv::ByteRecord,
}

impl Cells<'_> {
    fn error(&self, column: Column, message: String) -> InputError {
        InputError::Field {
            path: self.path.to_owned(),
            line: self.line,
            column: self
                .header
                .index(column)
                .map_or(column.name(), |index| self.header.name(index))
                .to_owned(),
            message,
        }
    }

    /// The trimmed text of `column`'s cell; `None` when the file has no such column or
    /// the cell is empty.
    fn get(&self, column: Column) -> Result<Option<String>, InputError> {
        let Some(raw) = self
            .header
            .index(column)
            .map(|index| self.record.get(index).unwrap_or_default())
        else {
            return Ok(None);
        };
        let text = std::str::from_utf8(raw)
            .map_err(|_| self.error(column, "the cell is not valid UTF-8".into()))?;
        let text = text.trim();
        column
            .check_length(text)
            .map_err(|m| self.error(column, m))?;
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(self.error(column, "the cell holds control characters".into()));
        }
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }

    /// The `user` cell, which every reading requires.
    fn user(&self) -> Result<String, InputError> {
        let user = self.get(Column::User)?.ok_or_else(|| {
            self.error(Column::User, "empty; give an object id, UPN or mail".into())
        })?;
        if user.contains(['\n', '\r']) {
            return Err(self.error(Column::User, "holds a line break".into()));
        }
        Ok(user)
    }
}

/// A row of a file read for its `user` column alone: the line and the user.
fn parse_user(
    path: &Path,
    line: u64,
    header: &Header,
    record: &csv::ByteRecord,
) -> Result<(u64, String), InputError> {
    let cells = Cells {
        path,
        line,
        header,
        record,
    };
    Ok((line, cells.user()?))
}

fn parse_row(
    path: &Path,
    line: u64,
    header: &Header,
    record: &csv::ByteRecord,
) -> Result<InputRow, InputError> {
    let cells = Cells {
        path,
        line,
        header,
        record,
    };
    let field_error = |column: Column, message: String| cells.error(column, message);
    if header.bulk_invite {
        check_not_examples_row(header, record)
            .map_err(|(column, message)| field_error(column, message))?;
    }
    let cell = |column: Column| cells.get(column);
    let user = cells.user()?;
    let external_email = cell(Column::ExternalEmail)?.ok_or_else(|| {
        field_error(
            Column::ExternalEmail,
            "empty; give the partner's home address".into(),
        )
    })?;

    let redirect_url = cell(Column::RedirectUrl)?;
    if let Some(url) = &redirect_url {
        check_redirect_url(url).map_err(|m| field_error(Column::RedirectUrl, m))?;
    }
    let send_email = cell(Column::SendEmail)?
        .map(|v| {
            parse_bool(&v).ok_or_else(|| {
                field_error(
                    Column::SendEmail,
                    format!("`{}` is not true or false", quoted(&v)),
                )
            })
        })
        .transpose()?;
    let revoke_sessions = cell(Column::RevokeSessions)?
        .map(|v| {
            parse_bool(&v).ok_or_else(|| {
                field_error(
                    Column::RevokeSessions,
                    format!("`{}` is not true or false", quoted(&v)),
                )
            })
        })
        .transpose()?;
    let cc = cell(Column::Cc)?;
    if let Some(cc) = &cc {
        if cc.contains([';', ',']) {
            return Err(field_error(
                Column::Cc,
                "Graph sends the invitation to at most one cc recipient; give one address".into(),
            ));
        }
        if let Err(problem) = crate::email::check_address(cc) {
            return Err(field_error(
                Column::Cc,
                format!("`{}`: {problem}", quoted(cc)),
            ));
        }
    }
    let language = cell(Column::Language)?;
    if let Some(language) = language.as_deref().filter(|l| !is_language_tag(l)) {
        return Err(field_error(
            Column::Language,
            format!(
                "`{}` is not a language tag such as en-US or de",
                quoted(language)
            ),
        ));
    }
    Ok(InputRow {
        line,
        user,
        external_email,
        redirect_url,
        send_email,
        revoke_sessions,
        message: cell(Column::Message)?,
        cc,
        language,
    })
}

/// Refuses the bulk-invite template's examples row, whose values start with `Example:`
/// (`Example: lstokes@fabrikam.com`). Microsoft's upload requires it deleted too; read
/// as data, its address would merely be planned `invalid_email`, and a row skipped
/// because of what it holds is a row the admin did not see go. The error names the
/// leftmost of the user and address columns that holds it.
fn check_not_examples_row(
    header: &Header,
    record: &csv::ByteRecord,
) -> Result<(), (Column, String)> {
    let mut found: Option<(usize, Column, String)> = None;
    for column in [Column::User, Column::ExternalEmail] {
        let Some(index) = header.index(column) else {
            continue;
        };
        let text = String::from_utf8_lossy(record.get(index).unwrap_or_default());
        let text = text.trim();
        let example = text
            .get(..8)
            .is_some_and(|word| word.eq_ignore_ascii_case("example:"));
        if example && found.as_ref().is_none_or(|(at, ..)| index < *at) {
            found = Some((index, column, text.to_owned()));
        }
    }
    match found {
        None => Ok(()),
        Some((_, column, text)) => Err((
            column,
            format!(
                "`{}` is the bulk-invite template's examples row; delete the row (Microsoft's \
                 upload requires that too)",
                quoted(&text)
            ),
        )),
    }
}

/// Whether a redirect URL can be given to Graph: absolute, https (or http on loopback
/// for tests), no credentials inside.
pub fn check_redirect_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("`{}` is not an absolute URL: {e}", quoted(text)))?;
    match url.scheme() {
        "https" => {}
        "http" if matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) => {}
        other => {
            return Err(format!(
                "`{}` uses `{}`; the redirect URL must be https",
                quoted(text),
                quoted(other)
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{}` carries credentials; remove them",
            quoted(text)
        ));
    }
    Ok(())
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A loose BCP 47 check: letters, digits and hyphens, starting with a 2–3 letter language.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Turns the CSV reader's error into ours, with the physical line of the row at fault.
/// `header` is `None` while the lines up to the header are read.
fn read_error<R>(
    path: &Path,
    error: csv::Error,
    tracked: &mut Tracked<R>,
    header: Option<&Header>,
) -> InputError {
    let csv_error = |line, message| InputError::Csv {
        path: path.to_owned(),
        line,
        message,
    };
    if let Some(overrun) = tracked.overrun {
        return match (overrun, header) {
            (Overrun::Cell { cell, line }, None) => InputError::Header {
                path: path.to_owned(),
                line,
                message: format!(
                    "column {}'s name is longer than {CELL_BOUND} bytes",
                    cell + 1
                ),
            },
            (Overrun::Row { line }, None) => InputError::Header {
                path: path.to_owned(),
                line,
                message: format!("the header is longer than {ROW_BOUND} bytes"),
            },
            (Overrun::Row { line }, Some(_)) => csv_error(
                line,
                format!("the row is longer than {ROW_BOUND} bytes; no valid row is"),
            ),
            (Overrun::Cell { line, cell }, Some(header)) => match header.heading(cell) {
                Some(heading) => InputError::Field {
                    path: path.to_owned(),
                    line,
                    column: header.name(cell).to_owned(),
                    message: match heading {
                        Heading::Field(column) => format!(
                            "the cell is longer than {CELL_BOUND} bytes, {}",
                            column.over_limit()
                        ),
                        Heading::Ignored => {
                            format!("the cell is longer than {CELL_BOUND} bytes")
                        }
                    },
                },
                None => csv_error(
                    line,
                    format!(
                        "the row has more cells than the header's {}",
                        header.width()
                    ),
                ),
            },
        };
    }
    let line = tracked.line_of(error.position());
    match error.into_kind() {
        csv::ErrorKind::Io(error) => InputError::Read {
            path: path.to_owned(),
            error,
        },
        csv::ErrorKind::Utf8 { .. } => csv_error(line, "the row is not valid UTF-8".to_owned()),
        // The reader is flexible, so rows of another length are counted above, and
        // seeking and serde are not used here; say what the reader said, without its
        // position (the line is already in the message).
        other => csv_error(line, format!("the CSV reader failed: {other:?}")),
    }
}

#[cfg(test)]
mod tests;
