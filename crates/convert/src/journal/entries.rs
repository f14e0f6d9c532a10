//! Entries: each input row of a run, its plan, and how it ended.

use jiff::Timestamp;
use rusqlite::params;
use serde::Serialize;

use super::{Journal, JournalError};
use crate::plan::{Decision, PlanEntry};
use crate::vocabulary::EntryOutcome;

/// One row of a run with its plan and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryRecord {
    /// The run.
    pub run_id: String,
    /// The plan for the row.
    pub plan: PlanEntry,
    /// How it ended (none while work remains or for rows not converted).
    pub outcome: Option<EntryOutcome>,
    /// When it ended.
    pub outcome_at: Option<Timestamp>,
    /// The error that ended it, when it failed.
    pub error: Option<String>,
}

impl EntryRecord {
    /// Whether the row is still to convert: decided `convert`, and no outcome yet.
    pub fn is_pending(&self) -> bool {
        self.plan.decision == Decision::Convert && self.outcome.is_none()
    }
}

impl Journal {
    /// The rows of a run still to convert, in input order: what the executor works on
    /// and what a resume counts.
    pub fn pending_entries(&self, run_id: &str) -> Result<Vec<EntryRecord>, JournalError> {
        let mut entries = self.entries(run_id)?;
        entries.retain(EntryRecord::is_pending);
        Ok(entries)
    }

    /// Every entry of a run, in input order.
    pub fn entries(&self, run_id: &str) -> Result<Vec<EntryRecord>, JournalError> {
        let raw = self.query_rows(
            "SELECT plan, outcome, outcome_at, error FROM entries WHERE run_id = ?1 ORDER BY row",
            [run_id],
            |r| {
                Ok(RawEntry {
                    plan: r.get(0)?,
                    outcome: r.get(1)?,
                    outcome_at: r.get(2)?,
                    error: r.get(3)?,
                })
            },
        )?;
        raw.into_iter()
            .map(|raw| {
                Ok(EntryRecord {
                    run_id: run_id.to_owned(),
                    plan: serde_json::from_str(&raw.plan)
                        .map_err(|e| self.corrupt("plan entry", e))?,
                    outcome: raw
                        .outcome
                        .as_deref()
                        .map(|o| {
                            o.parse::<EntryOutcome>()
                                .map_err(|e| self.corrupt("entry outcome", e))
                        })
                        .transpose()?,
                    outcome_at: self.optional_timestamp(raw.outcome_at.as_deref())?,
                    error: raw.error,
                })
            })
            .collect()
    }

    /// Ends an entry.
    pub fn finish_entry(
        &self,
        run_id: &str,
        row: u64,
        outcome: EntryOutcome,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        let now = self.now();
        self.conn()?
            .execute(
                "UPDATE entries SET outcome = ?1, outcome_at = ?2, error = ?3 WHERE run_id = ?4 AND row = ?5",
                params![outcome.as_str(), now, error, run_id, row],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }
}

struct RawEntry {
    plan: String,
    outcome: Option<String>,
    outcome_at: Option<String>,
    error: Option<String>,
}
