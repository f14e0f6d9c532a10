//! Asking the admin before anything is changed, and naming the command that did it.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

/// Asks the admin to confirm; `--yes` answers for scripts. Refuses to guess when stdin
/// is not a terminal: a pipeline must say `--yes` explicitly.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("{question} — refusing to go on without --yes because stdin is not a terminal");
    }
    eprint!("{question} Type 'yes' to continue: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// The command line as typed, for the journal and the report. Secrets never appear in
/// it: the client secret is read from the environment only.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
