//! The journal's tables, and bringing an older file up to this build's schema.
//!
//! `PRAGMA user_version` holds the schema version. A file written by a newer build is
//! refused rather than guessed at; an older one is migrated in one transaction.

use std::path::Path;

use rusqlite::Connection;

use super::JournalError;

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 1;

pub(super) const SCHEMA: &str = "
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

/// Creates the tables in a new file, or refuses a file from a newer build.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let sql = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
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
    Ok(())
}
