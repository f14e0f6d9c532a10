//! Who to revert: `revert --input F` (a CSV with a `user` column) or the users an `apply`
//! run of the journal converted.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::input::{InputError, MAX_USER_CHARS, hex, names_user_column};
use crate::journal::{Journal, JournalError, StepResult};
use crate::vocabulary::StepKind;

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

/// The largest input `revert` reads: a list of users to revert is short; anything this
/// large is not such a list.
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `revert --input F`: a CSV file with a header row and a `user` column (object id,
/// UPN or mail); other columns are ignored, so `apply`'s own input file can be given.
/// Comma, semicolon or tab separated, UTF-8 with or without a byte order mark, with or
/// without Excel's `sep=` first line. Blank rows are skipped; an empty `user` is an error.
pub fn read_sources(path: &Path) -> Result<Sources, InputError> {
    let read = |error| InputError::Read {
        path: path.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::File {
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
pub fn parse_sources(path: &Path, bytes: &[u8]) -> Result<Vec<Source>, InputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| InputError::File {
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
    let header_error = |message: String| InputError::Header {
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
        .filter(|(_, n)| names_user_column(n))
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
        let field = |line: u64, message: String| InputError::Field {
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

fn user_column(header: &str, delimiter: u8) -> Option<usize> {
    header
        .split(char::from(delimiter))
        .position(|cell| names_user_column(cell.trim().trim_matches('"')))
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

#[cfg(test)]
mod tests {
    use super::*;

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
