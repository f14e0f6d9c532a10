//! Which CSV dialect a file is written in, told from its first bytes rather than its
//! name: the separator, and the lines that come before the header.
//!
//! - **Separator**: a comma, a semicolon (Excel where the decimal mark is a comma, most
//!   of Europe) or a tab. Excel's own `sep=;` first line names it outright. Otherwise it
//!   is the one of the three under which every cell of the header line is a column
//!   b2b-convert reads (a heading may itself hold a comma, `Name, as written [user]`, so
//!   counting alone could pick wrong); failing that, the one the header line holds most
//!   often outside quotes (ties: comma, semicolon, tab), so that the error about the
//!   header names its columns as they were meant.
//! - **Version row**: the admin center's bulk-invite template begins with `version:v1.0`
//!   (graph-facts §9), padded with separators when a spreadsheet saved it. It is
//!   recognised here, before the header, and its version checked: the template's keys
//!   are documented for v1.0 only, and a file of another version is refused rather than
//!   read on a guess.
//!
//! A leading UTF-8 byte order mark is skipped; the CSV reader skips it too.

use super::columns;
use super::quoted;

/// The UTF-8 byte order mark spreadsheet programs write first.
pub(super) const BOM: &[u8] = b"\xef\xbb\xbf";

/// How many of the file's first bytes are looked at: far more than any real `sep=` line,
/// version row and header take, and a bounded cost for a file that is not what it seems.
pub(super) const SNIFF_BYTES: u64 = 64 * 1024;

/// The separators b2b-convert reads, in the order ties are settled.
const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

/// The dialect of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dialect {
    /// The cell separator.
    pub(super) delimiter: u8,
    /// Whether the first line is Excel's `sep=` line, which is not a row.
    pub(super) sep_line: bool,
}

/// The dialect of the file whose first bytes (at most [`SNIFF_BYTES`]) are `prefix`; the
/// error is line 1's message (a `sep=` line naming a separator not read here).
pub(super) fn sniff(prefix: &[u8]) -> Result<Dialect, String> {
    let text = prefix.strip_prefix(BOM).unwrap_or(prefix);
    let first_line = text
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or_default();
    if let Some(rest) = first_line
        .get(..4)
        .filter(|start| start.eq_ignore_ascii_case(b"sep="))
        .and(first_line.get(4..))
    {
        // A spreadsheet that pads every row may repeat the separator after it.
        return match rest {
            [first, more @ ..] if SEPARATORS.contains(first) && more.iter().all(|b| b == first) => {
                Ok(Dialect {
                    delimiter: *first,
                    sep_line: true,
                })
            }
            _ => Err(format!(
                "`{}` names a separator b2b-convert does not read; use a comma, a semicolon \
                 or a tab",
                quoted(&String::from_utf8_lossy(first_line))
            )),
        };
    }
    Ok(Dialect {
        delimiter: header_line(text).map_or(b',', separator_of),
        sep_line: false,
    })
}

/// The separator of a header line (see the module documentation).
fn separator_of(line: &[u8]) -> u8 {
    if let Some(&known) = SEPARATORS
        .iter()
        .find(|&&d| columns::all_known(&split(line, d)))
    {
        return known;
    }
    let mut best = (0, b',');
    for d in SEPARATORS {
        let count = outside_quotes(line).filter(|&b| b == d).count();
        if count > best.0 {
            best = (count, d);
        }
    }
    best.1
}

/// The bytes of `line` that are not inside quotes.
fn outside_quotes(line: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut quoted = false;
    line.iter().copied().filter(move |&b| {
        if b == b'"' {
            quoted = !quoted;
        }
        !quoted && b != b'"'
    })
}

/// The cells of `line` split at `delimiter` outside quotes, unquoted and trimmed. Only
/// for telling the separator: the CSV reader reads the header itself.
fn split(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = Vec::new();
    let mut quoted = false;
    let mut bytes = line.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'"' if quoted && bytes.peek() == Some(&b'"') => {
                cell.push(b'"');
                bytes.next();
            }
            b'"' => quoted = !quoted,
            d if d == delimiter && !quoted => {
                cells.push(String::from_utf8_lossy(&cell).trim().to_owned());
                cell.clear();
            }
            _ => cell.push(b),
        }
    }
    cells.push(String::from_utf8_lossy(&cell).trim().to_owned());
    cells
}

/// The header line among the first bytes: the first line that is not blank, or the one
/// after it when that one is the bulk-invite version row. A line break inside quotes
/// does not end a line. `None` if there is none.
fn header_line(text: &[u8]) -> Option<&[u8]> {
    let mut lines = logical_lines(text).filter(|line| !is_blank(line));
    let first = lines.next()?;
    if starts_version_row(first) {
        lines.next()
    } else {
        Some(first)
    }
}

/// The lines of `text`, split at CR and LF outside quotes.
fn logical_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut quoted = false;
    text.split(move |&b| {
        if b == b'"' {
            quoted = !quoted;
        }
        !quoted && (b == b'\r' || b == b'\n')
    })
}

/// Whether a line holds no text: only spaces, quotes and separators.
fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| b.is_ascii_whitespace() || *b == b'"' || SEPARATORS.contains(b))
}

/// Whether a raw line looks like the bulk-invite version row (its text starts with
/// `version:`).
fn starts_version_row(line: &[u8]) -> bool {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != b'"')
        .unwrap_or(line.len());
    line.get(start..start + 8)
        .is_some_and(|word| word.eq_ignore_ascii_case(b"version:"))
}

/// What the version row of the bulk-invite template says, if `record` is one: `None`
/// when it is not a version row, `Some(Err(why))` when it is one b2b-convert can't read.
pub(super) fn version_row(record: &csv::ByteRecord) -> Option<Result<(), String>> {
    let first = String::from_utf8_lossy(record.get(0)?);
    let first = first.trim();
    let version = first
        .get(..8)
        .filter(|word| word.eq_ignore_ascii_case("version:"))
        .and(first.get(8..))?
        .trim();
    if record
        .iter()
        .skip(1)
        .any(|cell| !cell.iter().all(u8::is_ascii_whitespace))
    {
        return Some(Err(
            "the bulk-invite version row holds more than `version:v1.0`; leave only that"
                .to_owned(),
        ));
    }
    if !version.eq_ignore_ascii_case("v1.0") {
        return Some(Err(format!(
            "the bulk-invite template is version `{}`; b2b-convert reads version v1.0, whose \
             columns it knows",
            quoted(version)
        )));
    }
    Some(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delimiter(text: &str) -> u8 {
        sniff(text.as_bytes()).unwrap().delimiter
    }

    #[test]
    fn the_separator_is_told_from_the_header_line() {
        assert_eq!(delimiter("user,externalEmail\na,b\n"), b',');
        assert_eq!(delimiter("user;externalEmail\na;b\n"), b';');
        assert_eq!(delimiter("user\texternalEmail\na\tb\n"), b'\t');
        assert_eq!(
            delimiter("\u{feff}UPN;Email;Message\r\na;b;\"x, y\"\r\n"),
            b';'
        );
        // A heading with a comma in it, in a semicolon file.
        assert_eq!(
            delimiter("Name, as written [user];Email address to invite [inviteeEmail]\n"),
            b';'
        );
        // Nothing known: the most frequent, so the error names the columns as meant.
        assert_eq!(delimiter("usr;mail;x,y\n"), b';');
        assert_eq!(delimiter("a\tb\tc;d\n"), b'\t');
        assert_eq!(
            delimiter("\"a;b\",c\n"),
            b',',
            "quoted separators don't count"
        );
        assert_eq!(delimiter(""), b',');
        assert_eq!(delimiter("user"), b',');
    }

    #[test]
    fn the_version_row_and_blank_lines_are_passed_over() {
        assert_eq!(
            delimiter(
                "version:v1.0;;;\r\nEmail address to invite [inviteeEmail] Required;User [user]\r\n"
            ),
            b';'
        );
        assert_eq!(
            delimiter("\n,,,\nversion:v1.0\n\nUser [user]\tEmail [inviteeEmail]\n"),
            b'\t'
        );
        assert_eq!(
            delimiter("\"user\nname\";email\n"),
            b';',
            "a quoted line break is no line end"
        );
    }

    #[test]
    fn excel_sep_line_names_the_separator() {
        assert_eq!(
            sniff(b"sep=;\nuser,externalEmail\n").unwrap(),
            Dialect {
                delimiter: b';',
                sep_line: true
            }
        );
        assert_eq!(
            delimiter("\u{feff}SEP=\t\r\nuser\texternalEmail\r\n"),
            b'\t'
        );
        assert_eq!(delimiter("sep=,,,\r\nuser,externalEmail\r\n"), b',');
        let err = sniff(b"sep=|\nuser|externalEmail\n").unwrap_err();
        assert_eq!(
            err,
            "`sep=|` names a separator b2b-convert does not read; use a comma, a semicolon or a tab"
        );
        assert!(sniff(b"sep=\n").is_err());
    }

    fn record(cells: &[&str]) -> csv::ByteRecord {
        csv::ByteRecord::from(cells.to_vec())
    }

    #[test]
    fn version_rows_are_recognised_and_checked() {
        assert_eq!(version_row(&record(&["version:v1.0"])), Some(Ok(())));
        assert_eq!(
            version_row(&record(&[" Version: V1.0 ", "", " "])),
            Some(Ok(()))
        );
        assert_eq!(version_row(&record(&["user", "email"])), None);
        assert_eq!(version_row(&record(&["versions"])), None);
        let err = version_row(&record(&["version:v2.0"]))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("version `v2.0`"), "{err}");
        let err = version_row(&record(&["version:v1.0", "user"]))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("more than `version:v1.0`"), "{err}");
    }
}
