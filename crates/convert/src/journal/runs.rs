//! Runs: one per `apply` of an input file, with the options it ran with, so a crash or a
//! Ctrl-C can be resumed with exactly the same plan.
//!
//! Every query here is about `apply`'s runs (kind `convert`): `revert`'s runs share the
//! table ([`super::reverts`]) and are never resumed, abandoned, shown or reported as
//! conversions. Both kinds are one record, [`Run`], told apart by their options; how a
//! run and its rows are written and read back is here for both.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Journal, JournalError};
use crate::plan::{Plan, PlanOptions};
use crate::vocabulary::{RunKind, RunStatus};

/// One `apply` run as recorded.
pub type RunRecord = Run<PlanOptions>;

/// One run as recorded: `apply`'s ([`RunRecord`]) or `revert`'s
/// ([`super::RevertRunRecord`]), which differ only in their options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run<O> {
    /// The run's id (a time-ordered UUID).
    pub id: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished, if it did.
    pub finished_at: Option<Timestamp>,
    /// Where it stands.
    pub status: RunStatus,
    /// The input file (`revert`: or `journal run <id>`, the run whose users it took).
    pub input_path: String,
    /// Hex SHA-256 of the input file (`revert`: or the converting run's id).
    pub input_sha256: String,
    /// The tenant.
    pub tenant_id: String,
    /// The Graph root the run talked to.
    pub graph_root: String,
    /// The command line that started it (secrets never appear: they come from env vars).
    pub command: String,
    /// The options it ran with.
    pub options: O,
}

/// What a new run is about (`apply`'s by default).
#[derive(Debug, Clone)]
pub struct NewRun<'a, O = PlanOptions> {
    /// The input file (`revert`: or `journal run <id>`).
    pub input_path: &'a str,
    /// Hex SHA-256 of its bytes (`revert`: or the converting run's id).
    pub input_sha256: &'a str,
    /// The tenant.
    pub tenant_id: &'a str,
    /// The Graph root.
    pub graph_root: &'a str,
    /// The command line.
    pub command: &'a str,
    /// The options.
    pub options: &'a O,
}

/// The columns of one row of a run, as the `entries` table keeps them for both kinds.
pub(super) struct EntryColumns<'a> {
    pub row: u64,
    pub user_ref: &'a str,
    pub user_id: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub upn: Option<&'a str>,
    /// The partner's address (`revert`: the user's mail as it was).
    pub external_email: &'a str,
    pub decision: &'static str,
    /// The row's whole decision, as JSON.
    pub plan: String,
}

impl Journal {
    /// The run still `applying`, if any (at most one: a new run abandons the old).
    pub fn unfinished_run(&self) -> Result<Option<RunRecord>, JournalError> {
        self.run_where(
            "status = ?1 ORDER BY id DESC LIMIT 1",
            Some(RunStatus::Applying),
        )
    }

    /// The most recent run of any status.
    pub fn latest_run(&self) -> Result<Option<RunRecord>, JournalError> {
        self.run_where("?1 IS NULL ORDER BY id DESC LIMIT 1", None)
    }

    /// The most recent run, which `status` and `report` show; an error when there is none.
    pub fn last_run(&self) -> Result<RunRecord, JournalError> {
        self.latest_run()?.ok_or_else(|| JournalError::NoRun {
            path: self.path.clone(),
        })
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        let raw = self.query_rows(
            &format!("{RUN_COLUMNS} WHERE {CONVERT_RUNS} ORDER BY id"),
            [],
            raw_run,
        )?;
        raw.into_iter().map(|r| self.decode_run(r)).collect()
    }

    /// A run by id.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, JournalError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                &format!("{RUN_COLUMNS} WHERE id = ?1 AND {CONVERT_RUNS}"),
                [id],
                raw_run,
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        drop(conn);
        row.map(|raw| self.decode_run(raw)).transpose()
    }

    fn run_where(
        &self,
        clause: &str,
        status: Option<RunStatus>,
    ) -> Result<Option<RunRecord>, JournalError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                &format!("{RUN_COLUMNS} WHERE {CONVERT_RUNS} AND {clause}"),
                [status.map(RunStatus::as_str)],
                raw_run,
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        drop(conn);
        row.map(|raw| self.decode_run(raw)).transpose()
    }

    pub(super) fn decode_run<O: DeserializeOwned>(
        &self,
        raw: RawRun,
    ) -> Result<Run<O>, JournalError> {
        Ok(Run {
            id: raw.id,
            started_at: self.timestamp(&raw.started_at)?,
            finished_at: self.optional_timestamp(raw.finished_at.as_deref())?,
            status: raw
                .status
                .parse()
                .map_err(|e| self.corrupt("run status", e))?,
            input_path: raw.input_path,
            input_sha256: raw.input_sha256,
            tenant_id: raw.tenant_id,
            graph_root: raw.graph_root,
            command: raw.command,
            options: serde_json::from_str(&raw.options)
                .map_err(|e| self.corrupt("run options", e))?,
        })
    }

    /// Records a new run and its whole plan in one transaction, abandoning any run left
    /// unfinished (the caller has checked that is what the admin wants).
    pub fn start_run(&self, run: &NewRun<'_>, plan: &Plan) -> Result<RunRecord, JournalError> {
        // One row's JSON at a time: a plan of 100,000 rows is never held twice.
        let rows = plan.entries.iter().map(|entry| {
            Ok(EntryColumns {
                row: entry.row,
                user_ref: &entry.user,
                user_id: entry.user_id.as_deref(),
                display_name: entry.display_name.as_deref(),
                upn: entry.user_principal_name.as_deref(),
                external_email: &entry.external_email,
                decision: entry.decision.as_str(),
                plan: serde_json::to_string(entry).map_err(|e| self.corrupt("plan entry", e))?,
            })
        });
        let id = self.insert_run(RunKind::Convert, run, rows, |tx, now| {
            // One run is resumable at a time: a new one abandons the unfinished.
            tx.execute(
                &format!(
                    "UPDATE runs SET status = ?2, finished_at = ?1 WHERE status = ?3 AND {CONVERT_RUNS}"
                ),
                params![
                    now,
                    RunStatus::Abandoned.as_str(),
                    RunStatus::Applying.as_str()
                ],
            )
            .map(drop)
        })?;
        self.run(&id)?
            .ok_or_else(|| self.corrupt("run", "vanished after insert"))
    }

    /// Writes a run of `kind` and its rows in one transaction, after `before` (run in the
    /// same transaction); returns the new run's id.
    pub(super) fn insert_run<'r, O: Serialize>(
        &self,
        kind: RunKind,
        run: &NewRun<'_, O>,
        rows: impl IntoIterator<Item = Result<EntryColumns<'r>, JournalError>>,
        before: impl FnOnce(&Transaction<'_>, &str) -> rusqlite::Result<()>,
    ) -> Result<String, JournalError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        let options =
            serde_json::to_string(run.options).map_err(|e| self.corrupt("run options", e))?;
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        before(&tx, &now).map_err(|e| self.sql(e))?;
        tx.execute(
            "INSERT INTO runs (id, started_at, status, input_path, input_sha256, tenant_id, graph_root, command, options, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                now,
                RunStatus::Applying.as_str(),
                run.input_path,
                run.input_sha256,
                run.tenant_id,
                run.graph_root,
                run.command,
                options,
                kind.as_str()
            ],
        )
        .map_err(|e| self.sql(e))?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO entries (run_id, row, user_ref, user_id, display_name, upn, external_email, decision, plan)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(|e| self.sql(e))?;
            for row in rows {
                let row = row?;
                insert
                    .execute(params![
                        id,
                        row.row,
                        row.user_ref,
                        row.user_id,
                        row.display_name,
                        row.upn,
                        row.external_email,
                        row.decision,
                        row.plan
                    ])
                    .map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(id)
    }

    /// Marks a run finished.
    pub fn finish_run(&self, run_id: &str) -> Result<(), JournalError> {
        let now = self.now();
        self.conn()?
            .execute(
                "UPDATE runs SET status = ?3, finished_at = ?1 WHERE id = ?2 AND status = ?4",
                params![
                    now,
                    run_id,
                    RunStatus::Finished.as_str(),
                    RunStatus::Applying.as_str()
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }
}

pub(super) const RUN_COLUMNS: &str = "SELECT id, started_at, finished_at, status, input_path, input_sha256, tenant_id, graph_root, command, options FROM runs";

/// The condition that keeps a query to `apply`'s runs (older journals hold only those).
const CONVERT_RUNS: &str = "kind = 'convert'";

pub(super) struct RawRun {
    id: String,
    started_at: String,
    finished_at: Option<String>,
    status: String,
    input_path: String,
    input_sha256: String,
    tenant_id: String,
    graph_root: String,
    command: String,
    options: String,
}

pub(super) fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: r.get(0)?,
        started_at: r.get(1)?,
        finished_at: r.get(2)?,
        status: r.get(3)?,
        input_path: r.get(4)?,
        input_sha256: r.get(5)?,
        tenant_id: r.get(6)?,
        graph_root: r.get(7)?,
        command: r.get(8)?,
        options: r.get(9)?,
    })
}
