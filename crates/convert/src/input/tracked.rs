//! The bytes under the CSV reader, watched as they stream by: hashed for the journal's
//! digest, followed through the CSV structure to know on which physical line each row
//! starts, and cut off where a cell or row grows past its bound, before the reader has
//! buffered it.
//!
//! The CSV reader's own line count can't be used: after a CRLF it places the next record
//! at the LF, one line too early.

use std::collections::VecDeque;
use std::io::{self, Read};

use sha2::{Digest, Sha256};

use super::dialect::BOM;

/// The bytes one cell may hold in the file before the reader gives up on it: far above
/// every limit (2,000 characters are at most 8,000 bytes), it only bounds what the CSV
/// reader buffers for a cell that is not what it seems (one stray quote opening a
/// gigabyte "cell").
pub(super) const CELL_BOUND: u64 = 64 * 1024;

/// The bytes one row may span: more than seven cells at their bound, so only a row
/// with more cells than any header can have reaches it (a line of a million commas).
pub(super) const ROW_BOUND: u64 = 512 * 1024;

/// Where the tracked source stopped on a runaway cell or row, and where that row starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overrun {
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

/// The source, hashed and followed the way the `csv` crate's reader follows it (`"`
/// quotes, `""` inside quotes, CR, LF or CRLF end a row, blank lines skipped, a leading
/// byte order mark dropped) with the file's separator.
pub(super) struct Tracked<R> {
    inner: R,
    hasher: Sha256,
    /// The cell separator.
    delimiter: u8,
    /// How many bytes at the start are a byte order mark, which the reader drops.
    bom: u64,
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
    pub(super) overrun: Option<Overrun>,
}

impl<R> Tracked<R> {
    /// Tracks `inner`, whose cells are separated by `delimiter`; `bom` says whether it
    /// starts with a byte order mark that the CSV reader will drop.
    pub(super) fn new(inner: R, delimiter: u8, bom: bool) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            delimiter,
            bom: if bom { BOM.len() as u64 } else { 0 },
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
    pub(super) fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
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
    pub(super) fn digest(self) -> String {
        super::hex(&self.hasher.finalize())
    }

    /// Follows one byte.
    fn step(&mut self, byte: u8) {
        let at = self.offset;
        let line = self.line;
        self.offset += 1;
        // The reader drops a byte order mark at the very start; so does the lexer, or a
        // header starting with a quote would look unquoted to it.
        if at < self.bom {
            return;
        }
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
            (_, separator) if separator == self.delimiter => {
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

    /// The line of every row the CSV reader finds in `bytes`, read with `delimiter`.
    fn row_lines(bytes: &[u8], delimiter: u8) -> Vec<u64> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Tracked::new(bytes, delimiter, bytes.starts_with(BOM)));
        let mut record = csv::ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            lines.push(reader.get_mut().line_of(record.position()));
        }
        lines
    }

    #[test]
    fn a_byte_order_mark_before_a_quoted_cell_is_not_content() {
        // Without the mark dropped, the lexer would take the first quote for content,
        // the comma for a separator and the second quote for one opening a cell, and so
        // miss the row starting on line 2.
        assert_eq!(
            row_lines(b"\xef\xbb\xbf\"a,\"b\nc\"\nd,e\n", b','),
            [1, 2, 3]
        );
        assert_eq!(
            row_lines(b"\xef\xbb\xbf\"user\nname\",x\nb,c\n", b','),
            [1, 3]
        );
    }

    #[test]
    fn the_separator_is_the_files() {
        // A semicolon inside a comma file is content; the cell bound counts it so.
        let cell = format!("a;{}\n", ";".repeat(CELL_BOUND as usize));
        let mut tracked = Tracked::new(cell.as_bytes(), b',', false);
        let _ = std::io::copy(&mut tracked, &mut std::io::sink());
        assert_eq!(tracked.overrun, Some(Overrun::Cell { line: 1, cell: 0 }));
        let mut tracked = Tracked::new(cell.as_bytes(), b';', false);
        std::io::copy(&mut tracked, &mut std::io::sink()).unwrap();
        assert_eq!(tracked.overrun, None);
    }

    proptest::proptest! {
        /// Whatever the mix of quotes, separators and line ends, each row's line is one
        /// more than the line breaks (CRLF once, a lone CR or LF once) before its first
        /// byte.
        #[test]
        fn row_lines_match_an_independent_count(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"a,;\t\"\r\n ".to_vec()), 0..300),
            delimiter in proptest::sample::select(vec![b',', b';', b'\t']),
        ) {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(Tracked::new(&bytes[..], delimiter, false));
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
}
