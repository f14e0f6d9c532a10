//! `revert`'s runs: the same runs, entries and steps tables as `apply`'s, told apart by
//! `runs.kind = 'revert'` (schema version 2). A revert entry's `plan` column holds its
//! [`RevertEntry`]; its outcome uses the entry outcomes (`converted`: the conversion back
//! to internal took effect). `apply`, `status` and `report` never see these runs.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::runs::{EntryColumns, NewRun, RUN_COLUMNS, Run, raw_run};
use super::{Journal, JournalError};
use crate::revert::{RevertDecision, RevertEntry, RevertOptions};
use crate::vocabulary::{EntryOutcome, RunKind, RunStatus};

/// One revert run as recorded: its `input_path` is the input file or `journal run <id>`,
/// its `input_sha256` the file's digest or that run's id.
pub type RevertRunRecord = Run<RevertOptions>;

/// What a new revert run is about.
pub type NewRevertRun<'a> = NewRun<'a, RevertOptions>;

/// One row of a revert run, its decision and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertEntryRecord {
    /// The run.
    pub run_id: String,
    /// The decision.
    pub entry: RevertEntry,
    /// How it ended (none while work remains, or for blocked rows).
    pub outcome: Option<EntryOutcome>,
    /// When it ended.
    pub outcome_at: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<String>,
}

impl RevertEntryRecord {
    /// Whether the row is still to revert: decided `revert`, and no outcome yet.
    pub fn is_pending(&self) -> bool {
        self.entry.decision == RevertDecision::Revert && self.outcome.is_none()
    }
}

/// The condition that keeps a query to `revert`'s runs.
const REVERT_RUNS: &str = "kind = 'revert'";

impl Journal {
    /// Records a new revert run and its decisions in one transaction. Unlike `apply`'s
    /// runs it abandons nothing: `revert` settles earlier revert runs itself first
    /// ([`crate::revert::settle_unfinished`]), and `apply`'s runs are not its business.
    pub fn start_revert_run(
        &self,
        run: &NewRevertRun<'_>,
        entries: &[RevertEntry],
    ) -> Result<RevertRunRecord, JournalError> {
        let rows = entries.iter().map(|entry| {
            Ok(EntryColumns {
                row: entry.row,
                user_ref: &entry.user,
                user_id: entry.user_id.as_deref(),
                display_name: entry.display_name.as_deref(),
                upn: entry.user_principal_name.as_deref(),
                // The column is the partner's address for a conversion; for a revert, the
                // user's mail as it was (the partner's, usually).
                external_email: entry.mail.as_deref().unwrap_or_default(),
                decision: entry.decision.as_str(),
                plan: serde_json::to_string(entry).map_err(|e| self.corrupt("revert entry", e))?,
            })
        });
        let id = self.insert_run(RunKind::Revert, run, rows, |_, _| Ok(()))?;
        self.revert_run(&id)?
            .ok_or_else(|| self.corrupt("revert run", "vanished after insert"))
    }

    /// A revert run by id.
    pub fn revert_run(&self, id: &str) -> Result<Option<RevertRunRecord>, JournalError> {
        let conn = self.conn()?;
        let raw = conn
            .query_row(
                &format!("{RUN_COLUMNS} WHERE {REVERT_RUNS} AND id = ?1"),
                [id],
                raw_run,
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        drop(conn);
        raw.map(|r| self.decode_run(r)).transpose()
    }

    /// Every revert run, oldest first.
    pub fn revert_runs(&self) -> Result<Vec<RevertRunRecord>, JournalError> {
        let raw = self.query_rows(
            &format!("{RUN_COLUMNS} WHERE {REVERT_RUNS} ORDER BY id"),
            [],
            raw_run,
        )?;
        raw.into_iter().map(|r| self.decode_run(r)).collect()
    }

    /// The revert runs still `applying`, oldest first.
    pub fn unfinished_revert_runs(&self) -> Result<Vec<RevertRunRecord>, JournalError> {
        let raw = self.query_rows(
            &format!("{RUN_COLUMNS} WHERE {REVERT_RUNS} AND status = ?1 ORDER BY id"),
            [RunStatus::Applying.as_str()],
            raw_run,
        )?;
        raw.into_iter().map(|r| self.decode_run(r)).collect()
    }

    /// Marks an unfinished run abandoned: its rows not reached stay without an outcome.
    pub fn abandon_run(&self, run_id: &str) -> Result<(), JournalError> {
        let now = self.now();
        self.conn()?
            .execute(
                "UPDATE runs SET status = ?3, finished_at = ?1 WHERE id = ?2 AND status = ?4",
                params![
                    now,
                    run_id,
                    RunStatus::Abandoned.as_str(),
                    RunStatus::Applying.as_str()
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Every row of a revert run, in row order.
    pub fn revert_entries(&self, run_id: &str) -> Result<Vec<RevertEntryRecord>, JournalError> {
        type Raw = (String, Option<String>, Option<String>, Option<String>);
        let raw: Vec<Raw> = self.query_rows(
            "SELECT plan, outcome, outcome_at, error FROM entries WHERE run_id = ?1 ORDER BY row",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        raw.into_iter()
            .map(|(plan, outcome, outcome_at, error)| {
                Ok(RevertEntryRecord {
                    run_id: run_id.to_owned(),
                    entry: serde_json::from_str(&plan)
                        .map_err(|e| self.corrupt("revert entry", e))?,
                    outcome: outcome
                        .as_deref()
                        .map(|o| {
                            o.parse::<EntryOutcome>()
                                .map_err(|e| self.corrupt("entry outcome", e))
                        })
                        .transpose()?,
                    outcome_at: self.optional_timestamp(outcome_at.as_deref())?,
                    error,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::journal::NewRun;
    use crate::plan::{Plan, PlanOptions};
    use crate::vocabulary::{StepKind, StepResult};

    fn entry(row: u64, decision: RevertDecision) -> RevertEntry {
        RevertEntry {
            row,
            user: format!("u{row}"),
            user_id: Some(format!("id-{row}")),
            display_name: None,
            user_principal_name: Some(format!("u{row}@contoso.com")),
            mail: Some(format!("u{row}@fabrikam.com")),
            state: None,
            decision,
            new_user_principal_name: Some(format!("u{row}@contoso.com")),
            reasons: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn revert_runs_live_beside_apply_runs_without_touching_them() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-24T10:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock).unwrap();
        let plan_options = PlanOptions::new("t");
        let apply = journal
            .start_run(
                &NewRun {
                    input_path: "users.csv",
                    input_sha256: "abc",
                    tenant_id: "t",
                    graph_root: "http://127.0.0.1:1/",
                    command: "apply",
                    options: &plan_options,
                },
                &Plan {
                    entries: Vec::new(),
                    findings: Vec::new(),
                },
            )
            .unwrap();
        let options = RevertOptions::default();
        let revert = journal
            .start_revert_run(
                &NewRevertRun {
                    input_path: "journal run x",
                    input_sha256: "x",
                    tenant_id: "t",
                    graph_root: "http://127.0.0.1:1/",
                    command: "revert --last",
                    options: &options,
                },
                &[
                    entry(2, RevertDecision::Revert),
                    entry(3, RevertDecision::Blocked),
                ],
            )
            .unwrap();
        // apply's view is unchanged: its unfinished run is still the one to resume.
        assert_eq!(journal.unfinished_run().unwrap().unwrap().id, apply.id);
        assert_eq!(journal.latest_run().unwrap().unwrap().id, apply.id);
        assert_eq!(journal.runs().unwrap().len(), 1);
        assert!(journal.run(&revert.id).unwrap().is_none());

        assert_eq!(journal.unfinished_revert_runs().unwrap()[0].id, revert.id);
        let entries = journal.revert_entries(&revert.id).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[0].is_pending() && !entries[1].is_pending());
        let step = journal
            .record_intent(
                &revert.id,
                2,
                "id-2",
                StepKind::Revert,
                &serde_json::json!({}),
            )
            .unwrap();
        journal
            .record_outcome(step, StepResult::Ok, &Default::default(), None)
            .unwrap();
        journal
            .finish_entry(&revert.id, 2, EntryOutcome::Converted, None)
            .unwrap();
        assert_eq!(
            journal.steps(&revert.id, None).unwrap()[0].kind,
            StepKind::Revert
        );
        journal.finish_run(&revert.id).unwrap();
        assert!(journal.unfinished_revert_runs().unwrap().is_empty());
        assert_eq!(
            journal.revert_runs().unwrap()[0].status,
            RunStatus::Finished
        );
        // A new apply run abandons the unfinished apply run, never a revert run.
        let second = journal
            .start_revert_run(
                &NewRevertRun {
                    input_path: "users.csv",
                    input_sha256: "abc",
                    tenant_id: "t",
                    graph_root: "http://127.0.0.1:1/",
                    command: "revert --input users.csv",
                    options: &options,
                },
                &[entry(2, RevertDecision::Revert)],
            )
            .unwrap();
        journal
            .start_run(
                &NewRun {
                    input_path: "users.csv",
                    input_sha256: "def",
                    tenant_id: "t",
                    graph_root: "http://127.0.0.1:1/",
                    command: "apply",
                    options: &plan_options,
                },
                &Plan {
                    entries: Vec::new(),
                    findings: Vec::new(),
                },
            )
            .unwrap();
        assert_eq!(
            journal.revert_run(&second.id).unwrap().unwrap().status,
            RunStatus::Applying
        );
        journal.abandon_run(&second.id).unwrap();
        assert_eq!(
            journal.revert_run(&second.id).unwrap().unwrap().status,
            RunStatus::Abandoned
        );
    }
}
