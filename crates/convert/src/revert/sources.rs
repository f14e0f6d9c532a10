//! Who to revert: `revert --input F` (a CSV with a `user` column) or the users an `apply`
//! run of the journal converted.

use std::path::Path;

use crate::input::{self, InputError};
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

/// Reads `revert --input F`: a CSV file with a header row and a `user` column (object id,
/// UPN or mail); every other column is read past, so `apply`'s own input file — in any
/// shape `apply` reads, the bulk-invite template included — can be given. The file is
/// read by [`crate::input`]'s rules: its separators, `sep=` line, version row, physical
/// line numbers and cell checks; an empty `user` is an error.
pub fn read_sources(path: &Path) -> Result<Sources, InputError> {
    let (users, digest) = input::read_users(path)?;
    Ok(Sources {
        origin: path.display().to_string(),
        digest,
        sources: sources_of(users),
    })
}

/// [`read_sources`] on bytes already read.
pub fn parse_sources(path: &Path, bytes: &[u8]) -> Result<Vec<Source>, InputError> {
    Ok(sources_of(input::parse_users(path, bytes)?.0))
}

fn sources_of(users: Vec<(u64, String)>) -> Vec<Source> {
    users
        .into_iter()
        .map(|(row, reference)| Source { row, reference })
        .collect()
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
            // The template as apply reads it: its version row, an unknown key read past.
            b"version:v1.0,,\nEmail [inviteeEmail],User to convert [user] Required,Name [inviteeName]\nx@f.com,ben@contoso.com,Ben\n",
        )
        .unwrap();
        assert_eq!(template[0].reference, "ben@contoso.com");

        // Physical lines, whatever the line ends; a quoted cell spanning lines counts.
        let rows: Vec<u64> =
            parse_sources(path, b"user,note\r\na,1\r\n\r\nb,2\rc,\"x\r\ny\"\re,3\n")
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
            error
                .to_string()
                .contains("columns `user` and `upn` both give `user`"),
            "{error}"
        );
        let error = parse_sources(path, b"user,note\n\"\",x\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "revert.csv: line 2, column `user`: empty; give an object id, UPN or mail"
        );
        let error = parse_sources(path, b"user\n\xff\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "revert.csv: line 2, column `user`: the cell is not valid UTF-8"
        );
    }
}
