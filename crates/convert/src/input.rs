//! The input file: which internal accounts to convert, and to which partner address.
//!
//! A CSV file with a header row. Required columns: `user` (object id, UPN or mail of the
//! internal account) and `externalEmail` (the partner's home address). Optional columns,
//! per row: `redirectUrl`, `sendEmail`, `message`, `cc`, `language`. Column names are
//! matched without regard to case or surrounding spaces; an unknown column is an error
//! (a misspelt `sendEmial` silently ignored would send mail the admin meant to suppress).
//!
//! Structural problems (a missing column, an empty `user` cell, `sendEmail=maybe`) are
//! errors naming the file, line and column, and nothing is planned. Whether the
//! `externalEmail` is a valid address is a planning decision (`invalid_email`), so that
//! the admin sees every such row at once instead of one error at a time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One data row of the input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRow {
    /// The line of the file the row starts on (the header is line 1).
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
    #[error("{path}: cannot read the input file: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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
    /// The CSV structure is broken (unbalanced quotes, wrong number of cells, bad UTF-8).
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line where the CSV reader gave up.
        line: u64,
        /// The reader's explanation.
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
}

/// The most rows one file may hold. Far above any real conversion list, it keeps a
/// hostile or mistaken file (a whole directory export) from exhausting memory.
pub const MAX_ROWS: usize = 1_000_000;

/// Reads and checks an input file.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("users.csv");
/// std::fs::write(&path, "user,externalEmail\nadele.vance@contoso.com,adele@fabrikam.com\n").unwrap();
/// let input = b2b_convert_core::input::read_input(&path).unwrap();
/// assert_eq!(input.rows[0].external_email, "adele@fabrikam.com");
/// assert_eq!(input.rows[0].line, 2);
/// ```
pub fn read_input(path: &Path) -> Result<Input, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_input(path, &bytes)
}

/// Parses input bytes; `path` is used in error messages and kept in the result.
pub fn parse_input(path: &Path, bytes: &[u8]) -> Result<Input, InputError> {
    let sha256 = hex_digest(bytes);
    // Spreadsheet programs save CSV with a UTF-8 byte order mark; it is not part of the
    // first column's name.
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::None)
        .from_reader(body);

    let columns = header_columns(path, &mut reader)?;
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record
            .iter()
            .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(InputError::Field {
                path: path.to_owned(),
                line,
                column: "user",
                message: format!("more than {MAX_ROWS} rows; split the file into several runs"),
            });
        }
        rows.push(parse_row(path, line, &columns, &record)?);
    }
    if rows.is_empty() {
        return Err(InputError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Input {
        path: path.to_owned(),
        sha256,
        rows,
    })
}

fn header_columns(
    path: &Path,
    reader: &mut csv::Reader<&[u8]>,
) -> Result<HashMap<Column, usize>, InputError> {
    let header_error = |message: String| InputError::Header {
        path: path.to_owned(),
        message,
    };
    let headers = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
        .clone();
    let mut columns = HashMap::new();
    for (index, raw) in headers.iter().enumerate() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| header_error(format!("column {} is not valid UTF-8", index + 1)))?;
        let column = Column::parse(name).ok_or_else(|| {
            header_error(format!(
                "unknown column `{}`; the columns are: {}",
                name.trim(),
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
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(field_error(
                column,
                "the cell holds control characters".into(),
            ));
        }
        let text = text.trim();
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
                field_error(Column::SendEmail, format!("`{v}` is not true or false"))
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
            return Err(field_error(Column::Cc, format!("`{cc}`: {problem}")));
        }
    }
    let language = cell(Column::Language)?;
    if let Some(language) = language.as_deref().filter(|l| !is_language_tag(l)) {
        return Err(field_error(
            Column::Language,
            format!("`{language}` is not a language tag such as en-US or de"),
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
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not an absolute URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) => {}
        other => {
            return Err(format!(
                "`{text}` uses `{other}`; the redirect URL must be https"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{text}` carries credentials; remove them"));
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

fn csv_error(path: &Path, error: &csv::Error) -> InputError {
    let line = error.position().map_or(0, csv::Position::line);
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("the row has {len} cells but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_owned(),
        _ => error.to_string(),
    };
    InputError::Csv {
        path: path.to_owned(),
        line,
        message,
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_input(Path::new("fuzz.csv"), &bytes);
        }
    }
}
