//! The input file: which internal accounts to convert, and to which partner address.
//!
//! A CSV file with a header row. Required columns: `user` (object id, UPN or mail of the
//! internal account) and `externalEmail` (the partner's home address). Optional columns,
//! per row: `redirectUrl`, `sendEmail`, `message`, `cc`, `language`. Column names are
//! matched without regard to case or surrounding spaces; an unknown column is an error
//! (a misspelt `sendEmial` silently ignored would send mail the admin meant to suppress).
//!
//! Structural problems (a missing column, an empty `user` cell, `sendEmail=maybe`, a cell
//! over its limit) are errors naming the file, line and column, and nothing is planned.
//! Whether the `externalEmail` is a valid address is a planning decision
//! (`invalid_email`), so that the admin sees every such row at once instead of one error
//! at a time.
//!
//! **Line numbers** are physical lines, whatever the line ends (LF, CRLF from Excel on
//! Windows, or a lone CR): the header is line 1, and a row is numbered by the line it
//! starts on, so a quoted cell spanning lines pushes the next row's number on. The CSV
//! reader's own count can't be used: after a CRLF it places the next record at the LF,
//! one line too early. The line numbers reach the plan, the journal and every error.
//!
//! **Streaming.** The file is never held in memory. [`read_input`] reads a regular file
//! twice: once to check every row and hash the bytes, keeping nothing, so a bad row is
//! reported as soon as it is reached and a file of any size costs the same memory; then
//! to build the rows, whose digest must match the first reading's (a file changed
//! while being read is refused). A pipe can be read only once, so there the rows are
//! kept while checking. A runaway cell or row (a file that is not what it seems: one
//! quote opening a 10 GB "cell") is refused as soon as it passes a hard bound, before the
//! CSV reader would have buffered it.
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

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One data row of the input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRow {
    /// The physical line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// The internal account: object id, UPN or mail.
    pub user: String,
    /// The partner's home address the account will sign in with.
    pub external_email: String,
    /// Where the user lands after redeeming; the run's default when absent.
    pub redirect_url: Option<String>,
    /// Whether Microsoft sends the invitation email; the run's default when absent.
    pub send_email: Option<bool>,
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
    #[error("{path}: line 1 (header): {message}")]
    Header {
        /// The file.
        path: PathBuf,
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
        /// The column's canonical name.
        column: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The CSV structure is broken (unbalanced quotes, wrong number of cells, a runaway
    /// row).
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line the broken row starts on.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The file has a header but no data rows.
    #[error("{path}: the file has no data rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The columns the file may have, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    User,
    ExternalEmail,
    RedirectUrl,
    SendEmail,
    Message,
    Cc,
    Language,
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

/// How a limit is counted.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Chars,
    Bytes,
}

impl Column {
    const ALL: [Column; 7] = [
        Column::User,
        Column::ExternalEmail,
        Column::RedirectUrl,
        Column::SendEmail,
        Column::Message,
        Column::Cc,
        Column::Language,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::User => "user",
            Column::ExternalEmail => "externalEmail",
            Column::RedirectUrl => "redirectUrl",
            Column::SendEmail => "sendEmail",
            Column::Message => "message",
            Column::Cc => "cc",
            Column::Language => "language",
        }
    }

    fn parse(header: &str) -> Option<Column> {
        let wanted = header.trim().to_ascii_lowercase();
        Column::ALL
            .into_iter()
            .find(|c| c.name().to_ascii_lowercase() == wanted)
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
            Column::RedirectUrl | Column::SendEmail | Column::Cc | Column::Language => {
                (MAX_OTHER_BYTES, Unit::Bytes, "")
            }
        }
    }

    /// The end of a too-long message: "more than the N characters `user` may hold (why)".
    fn over_limit(self) -> String {
        let (max, unit, why) = self.limit();
        let unit = match unit {
            Unit::Chars => "characters",
            Unit::Bytes => "bytes",
        };
        format!("more than the {max} {unit} `{}` may hold{why}", self.name())
    }

    /// Whether `text` fits the column's limit; the error says by how much it doesn't.
    fn check_length(self, text: &str) -> Result<(), String> {
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

/// The most rows one file may hold. Far above any real conversion list, it keeps a
/// hostile or mistaken file (a whole directory export) from exhausting memory.
pub const MAX_ROWS: usize = 1_000_000;

/// The bytes one cell may hold in the file before the reader gives up on it: far above
/// every limit (2,000 characters are at most 8,000 bytes), it only bounds what the CSV
/// reader buffers for a cell that is not what it seems (one stray quote opening a
/// gigabyte "cell").
const CELL_BOUND: u64 = 64 * 1024;

/// The bytes one row may span: more than seven cells at their bound, so only a row
/// with more cells than any header can have reaches it (a line of a million commas).
const ROW_BOUND: u64 = 512 * 1024;

/// How much the CSV reader asks for at a time (it buffers its source itself).
const READ_BUFFER: usize = 64 * 1024;

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
    let checked = scan(path, &mut file, drop)?;
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

/// Reads `source` to its end (or its first problem), handing each row to `sink`;
/// returns the hex SHA-256 of the bytes read.
fn scan<R: Read>(
    path: &Path,
    source: R,
    mut sink: impl FnMut(InputRow),
) -> Result<String, InputError> {
    // The BOM spreadsheet programs write is stripped by the CSV reader itself; it still
    // counts in the digest, which is of the bytes as they are.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::None)
        .buffer_capacity(READ_BUFFER)
        .from_reader(Tracked::new(source));

    let columns = header_columns(path, &mut reader)?;
    let mut record = csv::ByteRecord::new();
    let mut count = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(read_error(path, error, reader.get_mut(), Some(&columns))),
        }
        let line = reader.get_mut().line_of(record.position());
        if record
            .iter()
            .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if count == MAX_ROWS {
            return Err(InputError::Csv {
                path: path.to_owned(),
                line,
                message: format!("more than {MAX_ROWS} rows; split the file into several runs"),
            });
        }
        sink(parse_row(path, line, &columns, &record)?);
        count += 1;
    }
    if count == 0 {
        return Err(InputError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(reader.into_inner().digest())
}

fn header_columns<R: Read>(
    path: &Path,
    reader: &mut csv::Reader<Tracked<R>>,
) -> Result<HashMap<Column, usize>, InputError> {
    let header_error = |message: String| InputError::Header {
        path: path.to_owned(),
        message,
    };
    let headers = match reader.byte_headers() {
        Ok(headers) => headers.clone(),
        Err(error) => return Err(read_error(path, error, reader.get_mut(), None)),
    };
    let mut columns = HashMap::new();
    for (index, raw) in headers.iter().enumerate() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| header_error(format!("column {} is not valid UTF-8", index + 1)))?;
        let column = Column::parse(name).ok_or_else(|| {
            header_error(format!(
                "unknown column `{}`; the columns are: {}",
                quoted(name.trim()),
                Column::ALL.map(Column::name).join(", ")
            ))
        })?;
        if columns.insert(column, index).is_some() {
            return Err(header_error(format!(
                "column `{}` appears twice",
                column.name()
            )));
        }
    }
    for required in [Column::User, Column::ExternalEmail] {
        if !columns.contains_key(&required) {
            return Err(header_error(format!(
                "the required column `{}` is missing (required: user, externalEmail)",
                required.name()
            )));
        }
    }
    Ok(columns)
}

fn parse_row(
    path: &Path,
    line: u64,
    columns: &HashMap<Column, usize>,
    record: &csv::ByteRecord,
) -> Result<InputRow, InputError> {
    let field_error = |column: Column, message: String| InputError::Field {
        path: path.to_owned(),
        line,
        column: column.name(),
        message,
    };
    let cell = |column: Column| -> Result<Option<String>, InputError> {
        let Some(&index) = columns.get(&column) else {
            return Ok(None);
        };
        let raw = record.get(index).unwrap_or_default();
        let text = std::str::from_utf8(raw)
            .map_err(|_| field_error(column, "the cell is not valid UTF-8".into()))?;
        let text = text.trim();
        column
            .check_length(text)
            .map_err(|m| field_error(column, m))?;
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(field_error(
                column,
                "the cell holds control characters".into(),
            ));
        }
        Ok((!text.is_empty()).then(|| text.to_owned()))
    };

    let user = cell(Column::User)?
        .ok_or_else(|| field_error(Column::User, "empty; give an object id, UPN or mail".into()))?;
    if user.contains(['\n', '\r']) {
        return Err(field_error(Column::User, "holds a line break".into()));
    }
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
        message: cell(Column::Message)?,
        cc,
        language,
    })
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
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Turns the CSV reader's error into ours, with the physical line of the row at fault.
/// `columns` is `None` while the header itself is read.
fn read_error<R>(
    path: &Path,
    error: csv::Error,
    tracked: &mut Tracked<R>,
    columns: Option<&HashMap<Column, usize>>,
) -> InputError {
    let csv_error = |line, message| InputError::Csv {
        path: path.to_owned(),
        line,
        message,
    };
    if let Some(overrun) = tracked.overrun {
        return match (overrun, columns) {
            (Overrun::Cell { cell, .. }, None) => InputError::Header {
                path: path.to_owned(),
                message: format!(
                    "column {}'s name is longer than {CELL_BOUND} bytes",
                    cell + 1
                ),
            },
            (Overrun::Row { .. }, None) => InputError::Header {
                path: path.to_owned(),
                message: format!("the header is longer than {ROW_BOUND} bytes"),
            },
            (Overrun::Row { line }, Some(_)) => csv_error(
                line,
                format!("the row is longer than {ROW_BOUND} bytes; no valid row is"),
            ),
            (Overrun::Cell { line, cell }, Some(columns)) => {
                match columns.iter().find(|&(_, &index)| index == cell) {
                    Some((&column, _)) => InputError::Field {
                        path: path.to_owned(),
                        line,
                        column: column.name(),
                        message: format!(
                            "the cell is longer than {CELL_BOUND} bytes, {}",
                            column.over_limit()
                        ),
                    },
                    None => csv_error(
                        line,
                        format!("the row has more cells than the header's {}", columns.len()),
                    ),
                }
            }
        };
    }
    let line = tracked.line_of(error.position());
    match error.into_kind() {
        csv::ErrorKind::Io(error) => InputError::Read {
            path: path.to_owned(),
            error,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => csv_error(
            line,
            format!("the row has {len} cells but the header has {expected_len}"),
        ),
        csv::ErrorKind::Utf8 { .. } => csv_error(line, "the row is not valid UTF-8".to_owned()),
        // Seeking and serde are not used here; say what the reader said, without its
        // position (the line is already in the message).
        other => csv_error(line, format!("the CSV reader failed: {other:?}")),
    }
}

/// Where the tracked source stopped on a runaway cell or row, and where that row starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overrun {
    /// Cell number `cell` (from 0) of the row starting on `line` passed [`CELL_BOUND`].
    Cell { line: u64, cell: usize },
    /// The row starting on `line` passed [`ROW_BOUND`].
    Row { line: u64 },
}

/// Where the lexer is within the CSV text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Between rows: line ends are skipped, as the CSV reader skips blank lines.
    BetweenRows,
    /// At the start of a cell.
    CellStart,
    /// In a cell that is not quoted.
    Unquoted,
    /// In a quoted cell.
    Quoted,
    /// Just after a quote inside a quoted cell: a second quote is a literal one.
    QuoteInQuoted,
}

/// The bytes under the CSV reader, watched as they stream by. It hashes them for the
/// journal's digest; follows the CSV structure the way the `csv` crate's default
/// dialect does (`"` quotes, `""` inside quotes, CR, LF or CRLF end a row, blank lines
/// skipped) to know where each row starts and on which physical line; and stops a cell
/// or row that grows past its bound before the reader has buffered it.
struct Tracked<R> {
    inner: R,
    hasher: Sha256,
    /// Bytes seen so far: the offset of the next byte.
    offset: u64,
    /// The physical line of the next byte.
    line: u64,
    /// Whether the last byte was a CR (a CRLF ends one line, not two).
    after_cr: bool,
    lex: Lex,
    /// The line the current row starts on.
    row_line: u64,
    /// Bytes of the current row so far.
    row_len: u64,
    /// The current cell's index in its row.
    cell: usize,
    /// Content bytes of the current cell so far.
    cell_len: u64,
    /// (byte offset, line) of each row start the reader has not yet been asked about.
    /// It holds only the rows the reader has buffered ahead, so it stays small.
    starts: VecDeque<(u64, u64)>,
    /// Set once a bound is passed; every later read fails.
    overrun: Option<Overrun>,
}

impl<R> Tracked<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            offset: 0,
            line: 1,
            after_cr: false,
            lex: Lex::BetweenRows,
            row_line: 1,
            row_len: 0,
            cell: 0,
            cell_len: 0,
            starts: VecDeque::new(),
            overrun: None,
        }
    }

    /// The physical line of the row the CSV reader reported at `position`.
    ///
    /// The reader's position is where it was when it began the row, which may be before
    /// blank lines or at the LF of a CRLF; the row itself starts at the first byte that
    /// is not a line end, which is the first row start at or after that offset.
    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return self.row_line;
        };
        while let Some(&(offset, line)) = self.starts.front() {
            if offset >= position.byte() {
                return line;
            }
            self.starts.pop_front();
        }
        // Only at the end of the file (no row starts there): the line after the last.
        self.line
    }

    /// The hex SHA-256 of every byte read.
    fn digest(self) -> String {
        self.hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Follows one byte.
    fn step(&mut self, byte: u8) {
        let at = self.offset;
        let line = self.line;
        self.offset += 1;
        if byte == b'\r' || (byte == b'\n' && !self.after_cr) {
            self.line += 1;
        }
        self.after_cr = byte == b'\r';
        let line_end = byte == b'\r' || byte == b'\n';
        if self.lex == Lex::BetweenRows {
            if line_end {
                return;
            }
            self.starts.push_back((at, line));
            self.row_line = line;
            self.row_len = 0;
            self.cell = 0;
            self.cell_len = 0;
            self.lex = Lex::CellStart;
        }
        self.row_len += 1;
        if self.row_len > ROW_BOUND {
            self.overrun = Some(Overrun::Row {
                line: self.row_line,
            });
            return;
        }
        self.lex = match (self.lex, byte) {
            (Lex::CellStart, b'"') => Lex::Quoted,
            (Lex::Quoted, b'"') => Lex::QuoteInQuoted,
            (Lex::Quoted, _) | (Lex::QuoteInQuoted, b'"') => {
                self.content();
                Lex::Quoted
            }
            (_, b',') => {
                self.cell += 1;
                self.cell_len = 0;
                Lex::CellStart
            }
            (_, b'\r' | b'\n') => Lex::BetweenRows,
            _ => {
                self.content();
                Lex::Unquoted
            }
        };
    }

    /// Counts one content byte of the current cell.
    fn content(&mut self) {
        self.cell_len += 1;
        if self.cell_len > CELL_BOUND {
            self.overrun = Some(Overrun::Cell {
                line: self.row_line,
                cell: self.cell,
            });
        }
    }
}

fn overrun_error() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a cell or row passed its bound")
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.overrun.is_some() {
            return Err(overrun_error());
        }
        let read = self.inner.read(buf)?;
        let chunk = buf.get(..read).unwrap_or_default();
        let mut passed = 0;
        for &byte in chunk {
            self.step(byte);
            if self.overrun.is_some() {
                break;
            }
            passed += 1;
        }
        // On an overrun, hand over only the bytes before it: the reader finishes the
        // rows before the runaway one (so an earlier bad row is still reported first)
        // and fails on its next read. Returning 0 would mean the end of the file.
        if passed == 0 && self.overrun.is_some() {
            return Err(overrun_error());
        }
        self.hasher.update(chunk.get(..passed).unwrap_or_default());
        Ok(passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Input, InputError> {
        parse_input(Path::new("users.csv"), text.as_bytes())
    }

    #[test]
    fn reads_required_and_optional_columns() {
        let input = parse(
            "\u{feff}User, ExternalEmail ,sendEmail,cc,language,message,redirectUrl\n\
             adele@contoso.com,adele@fabrikam.com,no,boss@fabrikam.com,de-DE,\"Hello, Adele\",https://myapps.microsoft.com\n",
        )
        .unwrap();
        let row = &input.rows[0];
        assert_eq!(row.line, 2);
        assert_eq!(row.user, "adele@contoso.com");
        assert_eq!(row.send_email, Some(false));
        assert_eq!(row.cc.as_deref(), Some("boss@fabrikam.com"));
        assert_eq!(row.language.as_deref(), Some("de-DE"));
        assert_eq!(row.message.as_deref(), Some("Hello, Adele"));
        assert_eq!(input.sha256.len(), 64);
    }

    #[test]
    fn line_numbers_count_quoted_line_breaks() {
        let input = parse("user,externalEmail,message\na@contoso.com,a@f.com,\"two\nlines\"\nb@contoso.com,b@f.com,\n").unwrap();
        assert_eq!(input.rows[1].line, 4);
    }

    #[test]
    fn unknown_column_is_named() {
        let err = parse("user,externalEmail,sendEmial\na,b@c.com,no\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown column `sendEmial`"),
            "{err}"
        );
        assert!(err.to_string().starts_with("users.csv: line 1"), "{err}");
    }

    #[test]
    fn missing_required_column_is_named() {
        let err = parse("user\na\n").unwrap_err();
        assert!(
            err.to_string().contains("`externalEmail` is missing"),
            "{err}"
        );
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let err =
            parse("user,externalEmail,sendEmail\na,b@c.com,yes\nx,y@z.com,maybe\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "users.csv: line 3, column `sendEmail`: `maybe` is not true or false"
        );
        let err = parse("user,externalEmail\n ,b@c.com\n").unwrap_err();
        assert!(err.to_string().contains("line 2, column `user`"), "{err}");
        let err = parse("user,externalEmail,cc\na,b@c.com,x@y.com;z@y.com\n").unwrap_err();
        assert!(err.to_string().contains("at most one cc"), "{err}");
        let err =
            parse("user,externalEmail,redirectUrl\na,b@c.com,http://evil.example\n").unwrap_err();
        assert!(err.to_string().contains("must be https"), "{err}");
    }

    #[test]
    fn ragged_rows_and_empty_files_are_errors() {
        let err = parse("user,externalEmail\na,b@c.com,extra\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("line 2: the row has 3 cells but the header has 2"),
            "{err}"
        );
        assert!(matches!(
            parse("user,externalEmail\n").unwrap_err(),
            InputError::Empty { .. }
        ));
    }

    #[test]
    fn blank_lines_are_skipped() {
        let input = parse("user,externalEmail\na,b@c.com\n,\n").unwrap();
        assert_eq!(input.rows.len(), 1);
    }

    #[test]
    fn invalid_utf8_is_reported_not_panicked() {
        let err =
            parse_input(Path::new("u.csv"), b"user,externalEmail\n\xff,b@c.com\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    fn lines(text: &str) -> Vec<u64> {
        parse(text).unwrap().rows.iter().map(|r| r.line).collect()
    }

    #[test]
    fn line_numbers_are_physical_lines_whatever_the_line_ends() {
        assert_eq!(lines("user,externalEmail\na,b@c.com\nd,e@f.com\n"), [2, 3]);
        assert_eq!(
            lines("user,externalEmail\r\na,b@c.com\r\nd,e@f.com\r\n"),
            [2, 3]
        );
        assert_eq!(lines("user,externalEmail\ra,b@c.com\rd,e@f.com"), [2, 3]);
        assert_eq!(
            lines("\u{feff}user,externalEmail\r\n\r\n\r\na,b@c.com\r\n\r\nd,e@f.com"),
            [4, 6],
            "blank lines count"
        );
        assert_eq!(
            lines("user,externalEmail,message\r\na,b@c.com,\"two\r\nlines\"\r\nd,e@f.com,\r\n"),
            [2, 4],
            "a quoted CRLF is one line"
        );
    }

    #[test]
    fn crlf_errors_name_the_physical_line() {
        let err = parse("user,externalEmail,sendEmail\r\na,b@c.com,yes\r\nx,y@z.com,maybe\r\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("users.csv: line 3,"), "{err}");
        let err = parse("user,externalEmail\r\na,b@c.com\r\n\r\nx,y@z.com,extra\r\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("users.csv: line 4: the row has 3 cells"),
            "{err}"
        );
    }

    #[test]
    fn cells_over_their_limit_name_line_column_and_limit() {
        let row = |column: &str, value: &str| {
            parse(&format!(
                "user,externalEmail,{column}\na,b@c.com,ok\nu,x@y.com,\"{value}\"\n"
            ))
        };
        let at_limit = "u".repeat(MAX_USER_CHARS);
        assert!(parse(&format!("user,externalEmail\n{at_limit},b@c.com\n")).is_ok());
        let err = parse(&format!("user,externalEmail\nu{at_limit},b@c.com\n")).unwrap_err();
        assert!(
            err.to_string().contains("line 2, column `user`: `uuu"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("has 321 characters, more than the 320"),
            "{err}"
        );
        let err = parse(&format!(
            "user,externalEmail\na,{}@fabrikam.com\n",
            "p".repeat(310)
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("column `externalEmail`: `ppp"),
            "{err}"
        );
        assert!(err.to_string().contains("RFC 5321"), "{err}");
        assert!(
            parse(&format!(
                "user,externalEmail,message\na,b@c.com,{}\n",
                "m".repeat(MAX_MESSAGE_CHARS)
            ))
            .is_ok()
        );
        let err = row("message", &"é".repeat(MAX_MESSAGE_CHARS + 1)).unwrap_err();
        assert!(
            err.to_string().contains("line 3, column `message`: `"),
            "{err}"
        );
        assert!(err.to_string().contains("2001 characters"), "{err}");
        let err = row("language", &"x".repeat(MAX_OTHER_BYTES + 1)).unwrap_err();
        assert!(
            err.to_string()
                .contains("2049 bytes, more than the 2048 bytes `language` may hold"),
            "{err}"
        );
    }

    #[test]
    fn errors_quote_at_most_80_characters() {
        assert_eq!(quoted("short"), "short");
        assert_eq!(quoted("a\nb"), "a\\nb");
        let long = "x".repeat(500);
        assert_eq!(quoted(&long), format!("{}…", "x".repeat(80)));
        assert_eq!(quoted(&"x".repeat(80)), "x".repeat(80));
        // Escapes count: what fuzzing found made a 640-byte quote of 80 characters.
        let escaped = quoted(&"\u{13}".repeat(80));
        assert!(escaped.chars().count() <= 81, "{escaped}");
        assert!(escaped.ends_with("\\u{13}…"), "{escaped}");
        for text in [
            format!("user,externalEmail,{long}\na,b@c.com,1\n"),
            format!("user,externalEmail,sendEmail\na,b@c.com,{long}\n"),
            format!("user,externalEmail,language\na,b@c.com,{long}\n"),
            format!("user,externalEmail,cc\na,b@c.com,{long}@fabrikam.com\n"),
            format!("user,externalEmail,redirectUrl\na,b@c.com,ftp://{long}\n"),
            format!(
                "user,externalEmail,message\na,b@c.com,{}\n",
                "x".repeat(3000)
            ),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(!err.contains(&"x".repeat(81)), "{err}");
            assert!(err.contains("x…"), "{err}");
        }
    }

    #[test]
    fn a_runaway_cell_is_refused_with_a_short_message() {
        let huge = "m".repeat(10 << 20);
        let err = parse(&format!(
            "user,externalEmail,message\na,b@c.com,hi\nu,x@y.com,{huge}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.len() < 300, "{err}");
        assert!(
            err.starts_with(
                "users.csv: line 3, column `message`: the cell is longer than 65536 bytes"
            ),
            "{err}"
        );
        // A stray quote turns the rest of the file into one cell.
        let mut text = String::from("user,externalEmail\na,\"b@c.com\n");
        for i in 0..20_000 {
            text.push_str(&format!("user{i},p{i}@fabrikam.com\n"));
        }
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("users.csv: line 2, column `externalEmail`: the cell is longer"),
            "{err}"
        );
        let err = parse(&format!("user,externalEmail\na,b@c.com,{huge}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("line 2: the row has more cells than the header's 2"),
            "{err}"
        );
        let err = parse(&format!(
            "user,externalEmail\na,b@c.com{}\n",
            ",".repeat(1 << 20)
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.ends_with("line 2: the row is longer than 524288 bytes; no valid row is"),
            "{err}"
        );
        let err = parse(&format!("user,{huge}\n")).unwrap_err().to_string();
        assert!(
            err.ends_with("line 1 (header): column 2's name is longer than 65536 bytes"),
            "{err}"
        );
    }

    #[test]
    fn an_earlier_bad_row_is_reported_before_a_runaway_one() {
        let err = parse(&format!(
            "user,externalEmail,sendEmail\na,b@c.com,maybe\nc,d@e.com,{}\n",
            "y".repeat(1 << 20)
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("line 2, column `sendEmail`: `maybe` is not true or false"),
            "{err}"
        );
    }

    /// A file that never ends: `prefix`, then good rows forever; counts what it served.
    struct Endless {
        prefix: Vec<u8>,
        served: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let served = self.served.get();
            let row = b"user,partner@fabrikam.com\n";
            for (i, slot) in buf.iter_mut().enumerate() {
                let at = served + i;
                *slot = match self.prefix.get(at) {
                    Some(&b) => b,
                    None => row[(at - self.prefix.len()) % row.len()],
                };
            }
            self.served.set(served + buf.len());
            Ok(buf.len())
        }
    }

    #[test]
    fn the_first_bad_row_stops_the_reading() {
        let served = std::rc::Rc::default();
        let source = Endless {
            prefix: b"user,externalEmail\na,b@c.com\n,x@y.com\n".to_vec(),
            served: std::rc::Rc::clone(&served),
        };
        let err = scan(Path::new("users.csv"), source, drop).unwrap_err();
        assert!(err.to_string().contains("line 3, column `user`"), "{err}");
        assert!(
            served.get() <= 2 * READ_BUFFER,
            "read {} bytes",
            served.get()
        );
    }

    #[test]
    fn the_digest_is_of_the_bytes_as_they_are_and_both_passes_agree() {
        let text = "\u{feff}user,externalEmail\r\na,b@c.com\r\n";
        let expected: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(parse(text).unwrap().sha256, expected);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        std::fs::write(&path, text).unwrap();
        let input = read_input(&path).unwrap();
        assert_eq!(input.sha256, expected);
        assert_eq!(input.rows.len(), 1);
        assert_eq!(input.rows[0].line, 2);
    }

    #[test]
    fn a_read_error_gives_its_cause_once() {
        let err = read_input(Path::new("/nonexistent/users.csv")).unwrap_err();
        assert!(std::error::Error::source(&err).is_none());
        assert!(
            err.to_string()
                .starts_with("/nonexistent/users.csv: cannot read the input file: "),
            "{err}"
        );
    }

    proptest::proptest! {
        /// Whatever the mix of quotes, commas and line ends, each row's line is one more
        /// than the line breaks (CRLF once, a lone CR or LF once) before its first byte.
        #[test]
        fn row_lines_match_an_independent_count(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"a,\"\r\n ".to_vec()), 0..300)
        ) {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(Tracked::new(&bytes[..]));
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record).unwrap() {
                let position = record.position().unwrap();
                let start = bytes[position.byte() as usize..]
                    .iter()
                    .position(|b| *b != b'\r' && *b != b'\n')
                    .map_or(bytes.len(), |skip| position.byte() as usize + skip);
                let before = &bytes[..start];
                let breaks = before
                    .iter()
                    .enumerate()
                    .filter(|&(i, &b)| {
                        b == b'\r' || (b == b'\n' && (i == 0 || before[i - 1] != b'\r'))
                    })
                    .count() as u64;
                let line = reader.get_mut().line_of(Some(position));
                proptest::prop_assert_eq!(line, breaks + 1);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_input(Path::new("fuzz.csv"), &bytes);
        }
    }
}
