//! Whether `apply` resumes the journal's unfinished run or plans a new one.
//!
//! A run is resumed only with the very input it was planned from (by SHA-256) and
//! against the same tenant and Graph root: resuming with another file or tenant could
//! convert users nobody reviewed. Abandoning an unfinished run takes an explicit
//! `--new-run`.

use crate::journal::{Journal, JournalError, RunRecord};

/// What a new `apply` is about to work on.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The input file, as shown to the admin.
    pub input_path: &'a str,
    /// Hex SHA-256 of its bytes.
    pub input_sha256: &'a str,
    /// The tenant.
    pub tenant_id: &'a str,
    /// The Graph root.
    pub graph_root: &'a str,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumption {
    /// Carry on with the unfinished run.
    Resume {
        /// The run.
        run: RunRecord,
        /// Rows still to convert.
        remaining: usize,
        /// Rows to convert in all.
        to_convert: usize,
    },
    /// Plan afresh; `abandoning` is the unfinished run the new one replaces, if any.
    StartNew {
        /// The run given up (`--new-run`).
        abandoning: Option<RunRecord>,
    },
}

/// Why `apply` must not go on.
#[derive(Debug, thiserror::Error)]
pub enum ResumptionError {
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The unfinished run was started against another tenant or Graph root.
    #[error(
        "{journal}: the unfinished run {} was started against tenant {} at {}, not {tenant_id} at {graph_root}; \
         resume it with the same connection, or pass --new-run",
        run.id, run.tenant_id, run.graph_root
    )]
    OtherTenant {
        /// The journal file.
        journal: String,
        /// The unfinished run.
        run: Box<RunRecord>,
        /// The tenant asked for now.
        tenant_id: String,
        /// The Graph root asked for now.
        graph_root: String,
    },
    /// The unfinished run was planned from another version of the input.
    #[error(
        "{journal}: run {} (input {}, sha256 {}) is unfinished, and {input_path} has changed since (sha256 {input_sha256}). \
         Run apply with the original file to finish that run, or pass --new-run to abandon it and plan afresh.",
        run.id, run.input_path, run.input_sha256
    )]
    InputChanged {
        /// The journal file.
        journal: String,
        /// The unfinished run.
        run: Box<RunRecord>,
        /// The input given now.
        input_path: String,
        /// Its digest.
        input_sha256: String,
    },
}

/// Decides between resuming and starting anew; `new_run` is the admin's `--new-run`.
pub fn decide(
    journal: &Journal,
    target: &Target<'_>,
    new_run: bool,
) -> Result<Resumption, ResumptionError> {
    let Some(run) = journal.unfinished_run()? else {
        return Ok(Resumption::StartNew { abandoning: None });
    };
    if new_run {
        return Ok(Resumption::StartNew {
            abandoning: Some(run),
        });
    }
    let journal_path = journal.path().display().to_string();
    if run.input_sha256 != target.input_sha256 {
        return Err(ResumptionError::InputChanged {
            journal: journal_path,
            run: Box::new(run),
            input_path: target.input_path.to_owned(),
            input_sha256: target.input_sha256.to_owned(),
        });
    }
    if !run.tenant_id.eq_ignore_ascii_case(target.tenant_id) || run.graph_root != target.graph_root
    {
        return Err(ResumptionError::OtherTenant {
            journal: journal_path,
            run: Box::new(run),
            tenant_id: target.tenant_id.to_owned(),
            graph_root: target.graph_root.to_owned(),
        });
    }
    let entries = journal.entries(&run.id)?;
    let to_convert = entries
        .iter()
        .filter(|e| e.plan.decision == crate::plan::Decision::Convert)
        .count();
    let remaining = entries.iter().filter(|e| e.is_pending()).count();
    Ok(Resumption::Resume {
        run,
        remaining,
        to_convert,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::journal::NewRun;
    use crate::plan::{Action, Decision, Plan, PlanEntry, PlanOptions};

    fn journal_with_a_run() -> (tempfile::TempDir, Journal, RunRecord) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-24T10:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock).unwrap();
        let entry = |row: u64, decision| PlanEntry {
            row,
            user: format!("u{row}"),
            user_id: Some(format!("id-{row}")),
            display_name: None,
            user_principal_name: None,
            external_email: format!("u{row}@fabrikam.com"),
            decision,
            reasons: vec![],
            notes: vec![],
            actions: vec![Action::Verify],
            redemption: None,
        };
        let plan = Plan {
            entries: vec![
                entry(2, Decision::Convert),
                entry(3, Decision::Convert),
                entry(4, Decision::Skip),
            ],
            findings: Vec::new(),
        };
        let options = PlanOptions::new("t");
        let run = journal
            .start_run(
                &NewRun {
                    input_path: "users.csv",
                    input_sha256: "aaa",
                    tenant_id: "T",
                    graph_root: "http://127.0.0.1:1/",
                    command: "apply",
                    options: &options,
                },
                &plan,
            )
            .unwrap();
        journal
            .finish_entry(&run.id, 2, crate::vocabulary::EntryOutcome::Converted, None)
            .unwrap();
        (dir, journal, run)
    }

    fn target(sha: &str, tenant: &str) -> Target<'static> {
        Target {
            input_path: "users.csv",
            input_sha256: if sha == "aaa" { "aaa" } else { "bbb" },
            tenant_id: if tenant == "T" { "t" } else { "other" },
            graph_root: "http://127.0.0.1:1/",
        }
    }

    #[test]
    fn the_same_input_and_tenant_resume_with_what_remains() {
        let (_dir, journal, run) = journal_with_a_run();
        let decision = decide(&journal, &target("aaa", "T"), false).unwrap();
        assert_eq!(
            decision,
            Resumption::Resume {
                run,
                remaining: 1,
                to_convert: 2
            }
        );
    }

    #[test]
    fn a_changed_input_or_another_tenant_is_refused_unless_new_run() {
        let (_dir, journal, run) = journal_with_a_run();
        let changed = decide(&journal, &target("bbb", "T"), false).unwrap_err();
        assert!(matches!(changed, ResumptionError::InputChanged { .. }));
        assert!(
            changed.to_string().contains("has changed since"),
            "{changed}"
        );
        let other = decide(&journal, &target("aaa", "X"), false).unwrap_err();
        assert!(
            matches!(other, ResumptionError::OtherTenant { .. }),
            "{other}"
        );
        assert_eq!(
            decide(&journal, &target("bbb", "T"), true).unwrap(),
            Resumption::StartNew {
                abandoning: Some(run)
            }
        );
    }

    #[test]
    fn a_journal_without_unfinished_run_starts_new() {
        let (_dir, journal, run) = journal_with_a_run();
        journal.finish_run(&run.id).unwrap();
        assert_eq!(
            decide(&journal, &target("aaa", "T"), false).unwrap(),
            Resumption::StartNew { abandoning: None }
        );
    }
}
