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
