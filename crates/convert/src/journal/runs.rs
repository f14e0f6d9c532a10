//! Runs: one per `apply` of an input file, with the options it ran with, so a crash or a
//! Ctrl-C can be resumed with exactly the same plan.
//!
//! Every query here is about `apply`'s runs (kind `convert`): `revert`'s runs share the
//! table ([`super::reverts`]) and are never resumed, abandoned, shown or reported as
//! conversions.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Journal, JournalError};
use crate::plan::{Plan, PlanOptions};
use crate::vocabulary::RunStatus;

/// One run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The run's id (a time-ordered UUID).
    pub id: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished, if it did.
    pub finished_at: Option<Timestamp>,
    /// Where it stands.
    pub status: RunStatus,
    /// The input file.
    pub input_path: String,
    /// Hex SHA-256 of the input file.
    pub input_sha256: String,
    /// The tenant.
    pub tenant_id: String,
    /// The Graph root the run talked to.
    pub graph_root: String,
    /// The command line that started it (secrets never appear: they come from env vars).
    pub command: String,
    /// The plan options it ran with.
    pub options: PlanOptions,
}

/// What a new run is about.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// The input file.
    pub input_path: &'a str,
    /// Hex SHA-256 of its bytes.
    pub input_sha256: &'a str,
    /// The tenant.
    pub tenant_id: &'a str,
    /// The Graph root.
    pub graph_root: &'a str,
    /// The command line.
    pub command: &'a str,
    /// The plan options.
    pub options: &'a PlanOptions,
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

    fn decode_run(&self, raw: RawRun) -> Result<RunRecord, JournalError> {
        Ok(RunRecord {
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
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        let options =
            serde_json::to_string(run.options).map_err(|e| self.corrupt("run options", e))?;
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
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
        .map_err(|e| self.sql(e))?;
        tx.execute(
            "INSERT INTO runs (id, started_at, status, input_path, input_sha256, tenant_id, graph_root, command, options)
             VALUES (?1, ?2, ?9, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, now, run.input_path, run.input_sha256, run.tenant_id, run.graph_root, run.command, options, RunStatus::Applying.as_str()],
        )
        .map_err(|e| self.sql(e))?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO entries (run_id, row, user_ref, user_id, display_name, upn, external_email, decision, plan)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(|e| self.sql(e))?;
            for entry in &plan.entries {
                let json =
                    serde_json::to_string(entry).map_err(|e| self.corrupt("plan entry", e))?;
                insert
                    .execute(params![
                        id,
                        entry.row,
                        entry.user,
                        entry.user_id,
                        entry.display_name,
                        entry.user_principal_name,
                        entry.external_email,
                        entry.decision.as_str(),
                        json
                    ])
                    .map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))?;
        drop(conn);
        self.run(&id)?
            .ok_or_else(|| self.corrupt("run", "vanished after insert"))
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

const RUN_COLUMNS: &str = "SELECT id, started_at, finished_at, status, input_path, input_sha256, tenant_id, graph_root, command, options FROM runs";

/// The condition that keeps a query to `apply`'s runs (older journals hold only those).
const CONVERT_RUNS: &str = "kind = 'convert'";

struct RawRun {
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

fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
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
