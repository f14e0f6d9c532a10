//! The journal's tables, and bringing an older file up to this build's schema.
//!
//! `PRAGMA user_version` holds the schema version. A file written by a newer build is
//! refused rather than guessed at; an older one is migrated in one transaction per step.
//!
//! - 1: runs, entries, steps, invitations.
//! - 2: `runs.kind` (`convert` or `revert`), so `revert`'s runs share the tables without
//!   ever being taken for `apply`'s; every run of an older file is a `convert` run.

use std::path::Path;

use rusqlite::Connection;

use super::JournalError;

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 2;

/// Version 2: which command a run recorded (see the module docs).
const RUN_KIND: &str = "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'convert' CHECK (kind IN ('convert', 'revert'));";

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

/// Creates the tables in a new file, brings an older one up to date, or refuses a file
/// from a newer build.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let sql = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let version = user_version(conn).map_err(sql)?;
    if version > SCHEMA_VERSION {
        return Err(JournalError::TooNew {
            path: path.to_owned(),
            found: version,
        });
    }
    if version < SCHEMA_VERSION {
        // The version is read again inside the write transaction: another process
        // opening the same file may have migrated it in between.
        conn.execute_batch("BEGIN IMMEDIATE;").map_err(sql)?;
        let steps = (|| {
            let version = user_version(conn)?;
            if version < 1 {
                conn.execute_batch(SCHEMA)?;
            }
            if version < 2 {
                conn.execute_batch(RUN_KIND)?;
            }
            conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
        })();
        if let Err(error) = steps {
            let _ = conn.execute_batch("ROLLBACK;");
            return Err(sql(error));
        }
    }
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_journal_gains_run_kinds_and_keeps_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{SCHEMA} PRAGMA user_version = 1;"))
            .unwrap();
        conn.execute(
            "INSERT INTO runs (id, started_at, status, input_path, input_sha256, tenant_id, graph_root, command, options)
             VALUES ('r1', '2026-01-01T00:00:00Z', 'finished', 'users.csv', 'abc', 't', 'http://127.0.0.1:1/', 'apply', '{}')",
            [],
        )
        .unwrap();
        migrate(&conn, &path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let kind: String = conn
            .query_row("SELECT kind FROM runs WHERE id = 'r1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "convert");
        // Migrating again changes nothing.
        migrate(&conn, &path).unwrap();
        assert!(
            conn.execute("UPDATE runs SET kind = 'other'", []).is_err(),
            "only the known kinds"
        );
    }
}
