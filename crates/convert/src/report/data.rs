//! What the report is made from: every run of a journal with its rows and steps, and
//! the journal's invitations, read once.

use jiff::Timestamp;

use crate::journal::{EntryRecord, InvitationRecord, Journal, JournalError, RunRecord, StepRecord};

/// One run with its rows and steps.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// The run.
    pub run: RunRecord,
    /// Its rows, in input order.
    pub entries: Vec<EntryRecord>,
    /// Its steps, oldest first.
    pub steps: Vec<StepRecord>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct ReportInput {
    /// Every run, the latest first: the page opens on it.
    pub runs: Vec<RunInput>,
    /// The journal's invitations; a run's rows find theirs by user id. The journal keeps
    /// one state per user, as last read, so every run shows the state as it is now.
    pub invitations: Vec<InvitationRecord>,
    /// The command line that made the report, shown verbatim.
    pub command: String,
    /// When the report is made: the reference for pending ages.
    pub generated_at: Timestamp,
}

impl ReportInput {
    /// Reads every run of `journal`; an error when it holds none (a page about nothing
    /// would only look like a broken report).
    pub fn read(
        journal: &Journal,
        command: String,
        generated_at: Timestamp,
    ) -> Result<ReportInput, JournalError> {
        // `last_run` says "no run yet" in the journal's own words.
        journal.last_run()?;
        let mut runs = journal
            .runs()?
            .into_iter()
            .map(|run| {
                Ok(RunInput {
                    entries: journal.entries(&run.id)?,
                    steps: journal.steps(&run.id, None)?,
                    run,
                })
            })
            .collect::<Result<Vec<_>, JournalError>>()?;
        // `runs()` is oldest first, by id: ids are UUIDv7, so by start time.
        runs.reverse();
        Ok(ReportInput {
            runs,
            invitations: journal.invitations()?,
            command,
            generated_at,
        })
    }
}
