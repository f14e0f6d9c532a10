//! The run journal: every run, every input row and its decision, and every step taken for
//! every user, in a SQLite file, so that a crash, a kill or a lost network loses nothing.
//!
//! Each step is written twice: an *intent* before the request is sent and an *outcome*
//! after the answer, each in its own transaction. A step with an intent but no outcome
//! is one whose request may or may not have reached Graph; the executor reconciles it by
//! reading the user back before anything is sent again, never by blind repetition.
//!
//! The file is created with mode 0600 and opened in WAL mode with `synchronous=FULL`: a
//! committed step survives power loss, and status readers don't block the writer.
//! The journal holds no secret and no token: requests are recorded as summaries of what
//! was asked, never with headers, and a redeem URL only for invitations sent without
//! email (the admin must deliver those links and can't fetch them from Graph again).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::plan::{Plan, PlanEntry, PlanOptions};

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('applying', 'finished', 'abandoned')),
    input_path    TEXT NOT NULL,
    input_sha256  TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    graph_root    TEXT NOT NULL,
    command       TEXT NOT NULL,
    options       TEXT NOT NULL
);
CREATE TABLE entries (
    run_id          TEXT NOT NULL REFERENCES runs(id),
    row             INTEGER NOT NULL,
    user_ref        TEXT NOT NULL,
    user_id         TEXT,
    display_name    TEXT,
    upn             TEXT,
    external_email  TEXT NOT NULL,
    decision        TEXT NOT NULL,
    plan            TEXT NOT NULL,
    outcome         TEXT CHECK (outcome IN ('converted', 'failed', 'unverified')),
    outcome_at      TEXT,
    error           TEXT,
    PRIMARY KEY (run_id, row)
);
CREATE TABLE steps (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         TEXT NOT NULL REFERENCES runs(id),
    row            INTEGER NOT NULL,
    user_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    intent_at      TEXT NOT NULL,
    request        TEXT NOT NULL,
    outcome        TEXT CHECK (outcome IN ('ok', 'failed', 'reconciled_done', 'reconciled_not_done')),
    outcome_at     TEXT,
    http_status    INTEGER,
    error_code     TEXT,
    error_message  TEXT,
    request_id     TEXT,
    detail         TEXT
);
CREATE INDEX steps_by_entry ON steps (run_id, row);
CREATE TABLE invitations (
    user_id            TEXT PRIMARY KEY,
    run_id             TEXT NOT NULL,
    row                INTEGER NOT NULL,
    display_name       TEXT,
    upn                TEXT,
    external_email     TEXT NOT NULL,
    invited_at         TEXT NOT NULL,
    invite_count       INTEGER NOT NULL DEFAULT 1,
    redeem_url         TEXT,
    state              TEXT,
    state_changed_at   TEXT,
    checked_at         TEXT
);
";

/// A journal problem.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite refused.
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file could not be created or its permissions set.
    #[error("journal {path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was written by a newer b2b-convert.
    #[error(
        "journal {path}: written by a newer b2b-convert (schema {found}, this build knows {SCHEMA_VERSION})"
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// A stored value could not be read back.
    #[error("journal {path}: a stored {what} is unreadable: {message}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Which value.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// Another thread panicked while writing; the connection can't be trusted.
    #[error("journal {path}: a writer panicked; restart the command to resume")]
    Poisoned {
        /// The journal file.
        path: PathBuf,
    },
}

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
    /// `applying`, `finished` or `abandoned`.
    pub status: String,
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

/// How an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryOutcome {
    /// Invited, and read back as `PendingAcceptance` (or already `Accepted`).
    Converted,
    /// A step failed; the error says which and why.
    Failed,
    /// Invited, but the read-back did not (yet) show the expected state.
    Unverified,
}

impl EntryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            EntryOutcome::Converted => "converted",
            EntryOutcome::Failed => "failed",
            EntryOutcome::Unverified => "unverified",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "converted" => Some(EntryOutcome::Converted),
            "failed" => Some(EntryOutcome::Failed),
            "unverified" => Some(EntryOutcome::Unverified),
            _ => None,
        }
    }
}

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

/// The kinds of step the executor journals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// `revokeSignInSessions`.
    RevokeSessions,
    /// `PATCH mail`.
    UpdateMail,
    /// `POST /invitations`.
    Invite,
    /// Read-back of `externalUserState`.
    Verify,
    /// A fresh invitation for a pending user (`reinvite`).
    Reinvite,
}

impl StepKind {
    /// The name stored in the journal and shown in status.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::RevokeSessions => "revoke_sessions",
            StepKind::UpdateMail => "update_mail",
            StepKind::Invite => "invite",
            StepKind::Verify => "verify",
            StepKind::Reinvite => "reinvite",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            StepKind::RevokeSessions,
            StepKind::UpdateMail,
            StepKind::Invite,
            StepKind::Verify,
            StepKind::Reinvite,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    /// Graph answered success.
    Ok,
    /// Graph (or the network) answered failure.
    Failed,
    /// No answer was recorded; reading the user back showed the step had taken effect.
    ReconciledDone,
    /// No answer was recorded; reading the user back showed it had not.
    ReconciledNotDone,
}

impl StepResult {
    fn as_str(self) -> &'static str {
        match self {
            StepResult::Ok => "ok",
            StepResult::Failed => "failed",
            StepResult::ReconciledDone => "reconciled_done",
            StepResult::ReconciledNotDone => "reconciled_not_done",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(StepResult::Ok),
            "failed" => Some(StepResult::Failed),
            "reconciled_done" => Some(StepResult::ReconciledDone),
            "reconciled_not_done" => Some(StepResult::ReconciledNotDone),
            _ => None,
        }
    }

    /// Whether the step's effect is in place.
    pub fn is_done(self) -> bool {
        matches!(self, StepResult::Ok | StepResult::ReconciledDone)
    }
}

/// The outcome written after a step's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutcome {
    /// HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// Graph's `error.code`.
    pub error_code: Option<String>,
    /// Graph's `error.message` or the transport error.
    pub error_message: Option<String>,
    /// Graph's `request-id`.
    pub request_id: Option<String>,
    /// Step-specific detail (invitation id, state read back), JSON.
    pub detail: Option<serde_json::Value>,
}

/// One journaled step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// Its id.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// The input line of the entry.
    pub row: u64,
    /// The user.
    pub user_id: String,
    /// What it was.
    pub kind: StepKind,
    /// When the intent was written (just before sending).
    pub intent_at: Timestamp,
    /// What was asked, as JSON (no headers, no secrets).
    pub request: serde_json::Value,
    /// How it ended, if an outcome was written.
    pub result: Option<StepResult>,
    /// When the outcome was written.
    pub outcome_at: Option<Timestamp>,
    /// The outcome's details.
    pub outcome: StepOutcome,
}

/// The invitation state of one user, as last invited and last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRecord {
    /// The user.
    pub user_id: String,
    /// The run that first invited the user.
    pub run_id: String,
    /// That run's input line.
    pub row: u64,
    /// Display name.
    pub display_name: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
    /// The address invited.
    pub external_email: String,
    /// When the latest invitation was sent.
    pub invited_at: Timestamp,
    /// How many invitations were sent (1 + reinvites).
    pub invite_count: u32,
    /// The redeem URL, kept only for invitations sent without email.
    pub redeem_url: Option<String>,
    /// `externalUserState` as last read.
    pub state: Option<String>,
    /// `externalUserStateChangeDateTime` as last read.
    pub state_changed_at: Option<Timestamp>,
    /// When the state was last read from Graph.
    pub checked_at: Option<Timestamp>,
}

/// The journal file.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating with mode 0600 when missing) and migrates a journal.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use b2b_convert_core::{clock::SystemClock, journal::Journal};
    /// let dir = tempfile::tempdir().unwrap();
    /// let journal = Journal::open(&dir.path().join("run.db"), Arc::new(SystemClock)).unwrap();
    /// assert!(journal.unfinished_run().unwrap().is_none());
    /// ```
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Journal, JournalError> {
        create_private(path)?;
        let sql = |source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: path.to_owned(),
                found: version,
            });
        }
        if version < 1 {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(sql)?;
        }
        Ok(Journal {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            clock,
        })
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, JournalError> {
        self.conn.lock().map_err(|_| JournalError::Poisoned {
            path: self.path.clone(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: &'static str, message: impl ToString) -> JournalError {
        JournalError::Corrupt {
            path: self.path.clone(),
            what,
            message: message.to_string(),
        }
    }

    fn now(&self) -> String {
        self.clock.now().to_string()
    }

    /// Every row of a query, mapped; the connection is released before decoding.
    fn query_rows<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, JournalError> {
        let conn = self.conn()?;
        let mut statement = conn.prepare(sql).map_err(|e| self.sql(e))?;
        statement
            .query_map(params, map)
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<T>, _>>()
            .map_err(|e| self.sql(e))
    }

    /// The run still `applying`, if any (at most one: a new run abandons the old).
    pub fn unfinished_run(&self) -> Result<Option<RunRecord>, JournalError> {
        self.run_where("status = 'applying' ORDER BY id DESC LIMIT 1")
    }

    /// The most recent run of any status.
    pub fn latest_run(&self) -> Result<Option<RunRecord>, JournalError> {
        self.run_where("1 = 1 ORDER BY id DESC LIMIT 1")
    }

    /// A run by id.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, JournalError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(&format!("{RUN_COLUMNS} WHERE id = ?1"), [id], raw_run)
            .optional()
            .map_err(|e| self.sql(e))?;
        drop(conn);
        row.map(|raw| self.decode_run(raw)).transpose()
    }

    fn run_where(&self, clause: &str) -> Result<Option<RunRecord>, JournalError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(&format!("{RUN_COLUMNS} WHERE {clause}"), [], raw_run)
            .optional()
            .map_err(|e| self.sql(e))?;
        drop(conn);
        row.map(|raw| self.decode_run(raw)).transpose()
    }

    fn decode_run(&self, raw: RawRun) -> Result<RunRecord, JournalError> {
        Ok(RunRecord {
            id: raw.id,
            started_at: self.timestamp(&raw.started_at)?,
            finished_at: raw
                .finished_at
                .as_deref()
                .map(|t| self.timestamp(t))
                .transpose()?,
            status: raw.status,
            input_path: raw.input_path,
            input_sha256: raw.input_sha256,
            tenant_id: raw.tenant_id,
            graph_root: raw.graph_root,
            command: raw.command,
            options: serde_json::from_str(&raw.options)
                .map_err(|e| self.corrupt("run options", e))?,
        })
    }

    fn timestamp(&self, text: &str) -> Result<Timestamp, JournalError> {
        text.parse().map_err(|e| self.corrupt("timestamp", e))
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
            "UPDATE runs SET status = 'abandoned', finished_at = ?1 WHERE status = 'applying'",
            [&now],
        )
        .map_err(|e| self.sql(e))?;
        tx.execute(
            "INSERT INTO runs (id, started_at, status, input_path, input_sha256, tenant_id, graph_root, command, options)
             VALUES (?1, ?2, 'applying', ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, now, run.input_path, run.input_sha256, run.tenant_id, run.graph_root, run.command, options],
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
                "UPDATE runs SET status = 'finished', finished_at = ?1 WHERE id = ?2 AND status = 'applying'",
                params![now, run_id],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
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
                            EntryOutcome::parse(o).ok_or_else(|| self.corrupt("entry outcome", o))
                        })
                        .transpose()?,
                    outcome_at: raw
                        .outcome_at
                        .as_deref()
                        .map(|t| self.timestamp(t))
                        .transpose()?,
                    error: raw.error,
                })
            })
            .collect()
    }

    /// Writes a step's intent, just before its request is sent; returns the step id.
    pub fn record_intent(
        &self,
        run_id: &str,
        row: u64,
        user_id: &str,
        kind: StepKind,
        request: &serde_json::Value,
    ) -> Result<i64, JournalError> {
        let now = self.now();
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO steps (run_id, row, user_id, kind, intent_at, request) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![run_id, row, user_id, kind.as_str(), now, request.to_string()],
        )
        .map_err(|e| self.sql(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Writes a step's outcome, right after its answer. For a successful invitation the
    /// user's invitation record is written in the same transaction: a crash can never
    /// leave an invitation done in the steps but missing from redemption tracking.
    pub fn record_outcome(
        &self,
        step_id: i64,
        result: StepResult,
        outcome: &StepOutcome,
        invited: Option<&Invited<'_>>,
    ) -> Result<(), JournalError> {
        let now = self.now();
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        tx.execute(
            "UPDATE steps SET outcome = ?1, outcome_at = ?2, http_status = ?3, error_code = ?4,
                    error_message = ?5, request_id = ?6, detail = ?7
             WHERE id = ?8",
            params![
                result.as_str(),
                now,
                outcome.http_status,
                outcome.error_code,
                outcome.error_message,
                outcome.request_id,
                outcome.detail.as_ref().map(ToString::to_string),
                step_id
            ],
        )
        .map_err(|e| self.sql(e))?;
        if let Some(invited) = invited {
            upsert_invitation(&tx, &now, invited).map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    /// The steps of a run (of one entry when `row` is given), oldest first.
    pub fn steps(&self, run_id: &str, row: Option<u64>) -> Result<Vec<StepRecord>, JournalError> {
        let raw = self.query_rows(
            "SELECT id, run_id, row, user_id, kind, intent_at, request, outcome, outcome_at, http_status,
                        error_code, error_message, request_id, detail
                 FROM steps WHERE run_id = ?1 AND (?2 IS NULL OR row = ?2) ORDER BY id",
            params![run_id, row],
            |r| {
                Ok(RawStep {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    row: r.get(2)?,
                    user_id: r.get(3)?,
                    kind: r.get(4)?,
                    intent_at: r.get(5)?,
                    request: r.get(6)?,
                    outcome: r.get(7)?,
                    outcome_at: r.get(8)?,
                    http_status: r.get(9)?,
                    error_code: r.get(10)?,
                    error_message: r.get(11)?,
                    request_id: r.get(12)?,
                    detail: r.get(13)?,
                })
            },
        )?;
        raw.into_iter().map(|s| self.decode_step(s)).collect()
    }

    fn decode_step(&self, raw: RawStep) -> Result<StepRecord, JournalError> {
        let json = |text: &str, what| serde_json::from_str(text).map_err(|e| self.corrupt(what, e));
        Ok(StepRecord {
            id: raw.id,
            run_id: raw.run_id,
            row: raw.row,
            user_id: raw.user_id,
            kind: StepKind::parse(&raw.kind).ok_or_else(|| self.corrupt("step kind", &raw.kind))?,
            intent_at: self.timestamp(&raw.intent_at)?,
            request: json(&raw.request, "step request")?,
            result: raw
                .outcome
                .as_deref()
                .map(|o| StepResult::parse(o).ok_or_else(|| self.corrupt("step outcome", o)))
                .transpose()?,
            outcome_at: raw
                .outcome_at
                .as_deref()
                .map(|t| self.timestamp(t))
                .transpose()?,
            outcome: StepOutcome {
                http_status: raw.http_status,
                error_code: raw.error_code,
                error_message: raw.error_message,
                request_id: raw.request_id,
                detail: raw
                    .detail
                    .as_deref()
                    .map(|d| json(d, "step detail"))
                    .transpose()?,
            },
        })
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

    /// Records the state read from Graph; returns whether it changed.
    pub fn record_state(
        &self,
        user_id: &str,
        state: Option<&str>,
        changed_at: Option<Timestamp>,
    ) -> Result<bool, JournalError> {
        let now = self.now();
        let conn = self.conn()?;
        let before: Option<Option<String>> = conn
            .query_row(
                "SELECT state FROM invitations WHERE user_id = ?1",
                [user_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        conn.execute(
            "UPDATE invitations SET state = ?1, state_changed_at = COALESCE(?2, state_changed_at), checked_at = ?3
             WHERE user_id = ?4",
            params![state, changed_at.map(|t| t.to_string()), now, user_id],
        )
        .map_err(|e| self.sql(e))?;
        Ok(before.is_some_and(|b| b.as_deref() != state))
    }

    /// Every user this journal has invited, by invitation time.
    pub fn invitations(&self) -> Result<Vec<InvitationRecord>, JournalError> {
        let raw = self.query_rows("SELECT user_id, run_id, row, display_name, upn, external_email, invited_at, invite_count,
                        redeem_url, state, state_changed_at, checked_at
                 FROM invitations ORDER BY invited_at, user_id", [], |r| {
            Ok(RawInvitation {
                user_id: r.get(0)?,
                run_id: r.get(1)?,
                row: r.get(2)?,
                display_name: r.get(3)?,
                upn: r.get(4)?,
                external_email: r.get(5)?,
                invited_at: r.get(6)?,
                invite_count: r.get(7)?,
                redeem_url: r.get(8)?,
                state: r.get(9)?,
                state_changed_at: r.get(10)?,
                checked_at: r.get(11)?,
            })
        })?;
        raw.into_iter()
            .map(|r| {
                Ok(InvitationRecord {
                    user_id: r.user_id,
                    run_id: r.run_id,
                    row: r.row,
                    display_name: r.display_name,
                    user_principal_name: r.upn,
                    external_email: r.external_email,
                    invited_at: self.timestamp(&r.invited_at)?,
                    invite_count: r.invite_count,
                    redeem_url: r.redeem_url,
                    state: r.state,
                    state_changed_at: r
                        .state_changed_at
                        .as_deref()
                        .map(|t| self.timestamp(t))
                        .transpose()?,
                    checked_at: r
                        .checked_at
                        .as_deref()
                        .map(|t| self.timestamp(t))
                        .transpose()?,
                })
            })
            .collect()
    }
}

/// A user just invited: what redemption tracking records.
#[derive(Debug, Clone, Copy)]
pub struct Invited<'a> {
    /// The run.
    pub run_id: &'a str,
    /// The entry of the run.
    pub entry: &'a PlanEntry,
    /// The user.
    pub user_id: &'a str,
    /// The redeem URL, only for invitations sent without email (see the module docs).
    pub redeem_url: Option<&'a str>,
}

fn upsert_invitation(
    conn: &Connection,
    now: &str,
    invited: &Invited<'_>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO invitations (user_id, run_id, row, display_name, upn, external_email, invited_at, redeem_url, state, state_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'PendingAcceptance', ?7)
         ON CONFLICT (user_id) DO UPDATE SET
             invited_at = excluded.invited_at,
             invite_count = invitations.invite_count + 1,
             redeem_url = excluded.redeem_url,
             external_email = excluded.external_email,
             state = CASE WHEN invitations.state = 'Accepted' THEN invitations.state ELSE 'PendingAcceptance' END",
        params![
            invited.user_id,
            invited.run_id,
            invited.entry.row,
            invited.entry.display_name,
            invited.entry.user_principal_name,
            invited.entry.external_email,
            now,
            invited.redeem_url
        ],
    )
}

const RUN_COLUMNS: &str = "SELECT id, started_at, finished_at, status, input_path, input_sha256, tenant_id, graph_root, command, options FROM runs";

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

struct RawEntry {
    plan: String,
    outcome: Option<String>,
    outcome_at: Option<String>,
    error: Option<String>,
}

struct RawInvitation {
    user_id: String,
    run_id: String,
    row: u64,
    display_name: Option<String>,
    upn: Option<String>,
    external_email: String,
    invited_at: String,
    invite_count: u32,
    redeem_url: Option<String>,
    state: Option<String>,
    state_changed_at: Option<String>,
    checked_at: Option<String>,
}

struct RawStep {
    id: i64,
    run_id: String,
    row: u64,
    user_id: String,
    kind: String,
    intent_at: String,
    request: String,
    outcome: Option<String>,
    outcome_at: Option<String>,
    http_status: Option<u16>,
    error_code: Option<String>,
    error_message: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

/// Creates the journal file readable by its owner only, before SQLite opens it (SQLite
/// gives the -wal and -shm files the same permissions as the database file).
fn create_private(path: &Path) -> Result<(), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An existing journal made by an older tool or a copy keeps no wider access.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::plan::{Action, Decision, Reason, ReasonCode};

    fn entry(row: u64, decision: Decision) -> PlanEntry {
        PlanEntry {
            row,
            user: format!("user{row}@contoso.com"),
            user_id: Some(format!("id-{row}")),
            display_name: Some(format!("User {row}")),
            user_principal_name: Some(format!("user{row}@contoso.com")),
            external_email: format!("user{row}@fabrikam.com"),
            decision,
            reasons: if decision == Decision::Blocked {
                vec![Reason {
                    code: ReasonCode::HasMailbox,
                    message: "mailbox".into(),
                }]
            } else {
                vec![]
            },
            notes: vec![],
            actions: if decision == Decision::Convert {
                vec![Action::Verify]
            } else {
                vec![]
            },
        }
    }

    fn journal() -> (tempfile::TempDir, Journal, Arc<FixedClock>) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new("2026-11-24T10:00:00Z".parse().unwrap()));
        let journal = Journal::open(&dir.path().join("run.db"), clock.clone()).unwrap();
        (dir, journal, clock)
    }

    fn new_run<'a>(options: &'a PlanOptions, sha: &'a str) -> NewRun<'a> {
        NewRun {
            input_path: "users.csv",
            input_sha256: sha,
            tenant_id: "t",
            graph_root: "http://127.0.0.1:1/",
            command: "b2b-convert apply --input users.csv",
            options,
        }
    }

    #[test]
    fn file_is_private() {
        let (dir, _journal, _) = journal();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("run.db"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn run_entries_steps_round_trip_and_survive_reopen() {
        let (dir, journal, clock) = journal();
        let options = PlanOptions::new("t");
        let plan = Plan {
            entries: vec![entry(2, Decision::Convert), entry(3, Decision::Blocked)],
        };
        let run = journal.start_run(&new_run(&options, "abc"), &plan).unwrap();
        assert_eq!(journal.unfinished_run().unwrap().unwrap().id, run.id);

        let step = journal
            .record_intent(
                &run.id,
                2,
                "id-2",
                StepKind::Invite,
                &serde_json::json!({"to": "user2@fabrikam.com"}),
            )
            .unwrap();
        clock.set("2026-11-24T10:00:05Z".parse().unwrap());
        journal
            .record_outcome(
                step,
                StepResult::Ok,
                &StepOutcome {
                    http_status: Some(201),
                    request_id: Some("r-1".into()),
                    ..Default::default()
                },
                Some(&Invited {
                    run_id: &run.id,
                    entry: &plan.entries[0],
                    user_id: "id-2",
                    redeem_url: None,
                }),
            )
            .unwrap();
        let invitations = journal.invitations().unwrap();
        assert_eq!(
            invitations.len(),
            1,
            "written with the outcome, in one transaction"
        );
        assert_eq!(
            invitations[0].invited_at.to_string(),
            "2026-11-24T10:00:05Z"
        );
        let dangling = journal
            .record_intent(&run.id, 2, "id-2", StepKind::Verify, &serde_json::json!({}))
            .unwrap();
        drop(journal);

        let journal = Journal::open(&dir.path().join("run.db"), clock.clone()).unwrap();
        let steps = journal.steps(&run.id, Some(2)).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].result, Some(StepResult::Ok));
        assert_eq!(steps[0].outcome.request_id.as_deref(), Some("r-1"));
        assert_eq!(
            steps[0].outcome_at.unwrap().to_string(),
            "2026-11-24T10:00:05Z"
        );
        assert_eq!(steps[1].id, dangling);
        assert_eq!(
            steps[1].result, None,
            "an intent without outcome stays visible"
        );

        journal
            .finish_entry(&run.id, 2, EntryOutcome::Converted, None)
            .unwrap();
        let entries = journal.entries(&run.id).unwrap();
        assert_eq!(entries[0].outcome, Some(EntryOutcome::Converted));
        assert_eq!(entries[1].plan.reasons[0].code, ReasonCode::HasMailbox);
        journal.finish_run(&run.id).unwrap();
        assert!(journal.unfinished_run().unwrap().is_none());
        assert_eq!(journal.latest_run().unwrap().unwrap().status, "finished");
    }

    #[test]
    fn a_new_run_abandons_the_unfinished_one() {
        let (_dir, journal, _) = journal();
        let options = PlanOptions::new("t");
        let plan = Plan {
            entries: vec![entry(2, Decision::Convert)],
        };
        let first = journal.start_run(&new_run(&options, "a"), &plan).unwrap();
        let second = journal.start_run(&new_run(&options, "b"), &plan).unwrap();
        assert_eq!(journal.run(&first.id).unwrap().unwrap().status, "abandoned");
        assert_eq!(journal.unfinished_run().unwrap().unwrap().id, second.id);
    }

    #[test]
    fn invitations_track_reinvites_and_state_changes() {
        let (_dir, journal, clock) = journal();
        let options = PlanOptions::new("t");
        let plan = Plan {
            entries: vec![entry(2, Decision::Convert)],
        };
        let run = journal.start_run(&new_run(&options, "a"), &plan).unwrap();
        // An invitation and a reinvite, each recorded with its step's outcome.
        for (kind, redeem_url) in [
            (StepKind::Invite, None),
            (StepKind::Reinvite, Some("http://127.0.0.1/redeem/x")),
        ] {
            let step = journal
                .record_intent(&run.id, 2, "id-2", kind, &serde_json::json!({}))
                .unwrap();
            let invited = Invited {
                run_id: &run.id,
                entry: &plan.entries[0],
                user_id: "id-2",
                redeem_url,
            };
            journal
                .record_outcome(
                    step,
                    StepResult::Ok,
                    &StepOutcome::default(),
                    Some(&invited),
                )
                .unwrap();
            clock.set("2026-11-25T10:00:00Z".parse().unwrap());
        }
        let invitations = journal.invitations().unwrap();
        assert_eq!(invitations[0].invite_count, 2);
        assert_eq!(
            invitations[0].invited_at.to_string(),
            "2026-11-25T10:00:00Z"
        );
        assert_eq!(invitations[0].state.as_deref(), Some("PendingAcceptance"));
        assert_eq!(
            invitations[0].redeem_url.as_deref(),
            Some("http://127.0.0.1/redeem/x")
        );

        let accepted_at: Timestamp = "2026-11-26T08:30:00Z".parse().unwrap();
        assert!(
            journal
                .record_state("id-2", Some("Accepted"), Some(accepted_at))
                .unwrap()
        );
        assert!(
            !journal
                .record_state("id-2", Some("Accepted"), Some(accepted_at))
                .unwrap()
        );
        let invitation = &journal.invitations().unwrap()[0];
        assert_eq!(invitation.state.as_deref(), Some("Accepted"));
        assert_eq!(invitation.state_changed_at, Some(accepted_at));
    }

    #[test]
    fn newer_schema_is_refused() {
        let (dir, journal, clock) = journal();
        journal
            .conn()
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        drop(journal);
        let err = Journal::open(&dir.path().join("run.db"), clock).unwrap_err();
        assert!(
            matches!(err, JournalError::TooNew { found: 99, .. }),
            "{err}"
        );
    }
}
