//! Writing results: tables for people, JSON for scripts, CSV for spreadsheets.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// A table sized to the terminal, with the given header. A terminal that reports no
/// usable width (a pseudo-terminal nobody sized reports 0 columns) gets the table at its
/// natural width instead of one character per column.
pub fn table(header: &[&str]) -> Table {
    const NARROWEST: u16 = 40;
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    if table.width().is_some_and(|w| w >= NARROWEST) {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    }
    table
}

/// A CSV cell a spreadsheet won't run: a value starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading `'` (OWASP's advice on CSV injection). Values
/// come from the tenant and the input, which an attacker may control.
pub fn csv_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// Writes CSV rows (header first) to stdout, every cell neutralised.
pub fn write_csv(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut writer = csv::Writer::from_writer(stdout.lock());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(row.iter().map(|c| csv_cell(c)))?;
    }
    writer.flush()
}

/// Writes pretty JSON and a newline to stdout.
pub fn write_json(value: &impl serde::Serialize) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}

/// Writes a line to stdout.
pub fn write_line(text: impl std::fmt::Display) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{text}")
}

/// Writes bytes as they are to stdout (generated scripts, man pages).
pub fn write_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(bytes)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("adele@fabrikam.com"), "adele@fabrikam.com");
    }
}
