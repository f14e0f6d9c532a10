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
//!
//! One file per table's job: [`schema`](self) (creation and migration), runs, entries,
//! steps and invitations, and `revert`'s runs beside `apply`'s (`reverts`); this module
//! opens the file and holds what they share.

mod entries;
mod invitations;
mod reverts;
mod runs;
mod schema;
mod steps;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::Connection;

use crate::clock::SharedClock;

pub use entries::EntryRecord;
pub use invitations::{InvitationIndex, InvitationRecord, Invited};
pub use reverts::{NewRevertRun, RevertEntryRecord, RevertRunRecord};
pub use runs::{NewRun, Run, RunRecord};
pub use steps::{StepOutcome, StepRecord};
// The journal's vocabulary, where callers have always found it.
pub use crate::vocabulary::{EntryOutcome, RunStatus, StepKind, StepResult};

/// A journal problem.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite refused.
    #[error("journal {path}")]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file could not be created or its permissions set.
    #[error("journal {path}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was written by a newer b2b-convert.
    #[error(
        "journal {path}: written by a newer b2b-convert (schema {found}, this build knows {})",
        schema::SCHEMA_VERSION
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
    /// A command that only reads a journal was pointed at a file that does not exist.
    #[error("{path}: no journal here; run `b2b-convert apply` first, or pass --journal")]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// The journal holds no run yet.
    #[error("{path}: the journal holds no run yet")]
    NoRun {
        /// The journal file.
        path: PathBuf,
    },
    /// Another thread panicked while writing; the connection can't be trusted.
    #[error("journal {path}: a writer panicked; restart the command to resume")]
    Poisoned {
        /// The journal file.
        path: PathBuf,
    },
}

/// The journal file.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
    clock: SharedClock,
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
    pub fn open(path: &Path, clock: SharedClock) -> Result<Journal, JournalError> {
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
        schema::migrate(&conn, path)?;
        Ok(Journal {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            clock,
        })
    }

    /// Opens a journal that must already exist: `status`, `reinvite` and `report` read
    /// runs and never create an empty journal by mistake.
    pub fn open_existing(path: &Path, clock: SharedClock) -> Result<Journal, JournalError> {
        if !path.exists() {
            return Err(JournalError::Missing {
                path: path.to_owned(),
            });
        }
        Journal::open(path, clock)
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

    fn timestamp(&self, text: &str) -> Result<Timestamp, JournalError> {
        text.parse().map_err(|e| self.corrupt("timestamp", e))
    }

    fn optional_timestamp(&self, text: Option<&str>) -> Result<Option<Timestamp>, JournalError> {
        text.map(|t| self.timestamp(t)).transpose()
    }
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
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::plan::{Action, Decision, Plan, PlanEntry, PlanOptions, Reason, ReasonCode};
    use crate::vocabulary::InvitationState;

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
            redemption: None,
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
            findings: Vec::new(),
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
        assert_eq!(
            journal.latest_run().unwrap().unwrap().status,
            RunStatus::Finished
        );
        assert_eq!(journal.runs().unwrap().len(), 1);
    }

    #[test]
    fn a_new_run_abandons_the_unfinished_one() {
        let (_dir, journal, _) = journal();
        let options = PlanOptions::new("t");
        let plan = Plan {
            entries: vec![entry(2, Decision::Convert)],
            findings: Vec::new(),
        };
        let first = journal.start_run(&new_run(&options, "a"), &plan).unwrap();
        let second = journal.start_run(&new_run(&options, "b"), &plan).unwrap();
        assert_eq!(
            journal.run(&first.id).unwrap().unwrap().status,
            RunStatus::Abandoned
        );
        assert_eq!(journal.unfinished_run().unwrap().unwrap().id, second.id);
    }

    #[test]
    fn invitations_track_reinvites_and_state_changes() {
        let (_dir, journal, clock) = journal();
        let options = PlanOptions::new("t");
        let plan = Plan {
            entries: vec![entry(2, Decision::Convert)],
            findings: Vec::new(),
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
        assert_eq!(
            invitations[0].state,
            Some(InvitationState::PendingAcceptance)
        );
        assert_eq!(
            invitations[0].redeem_url.as_deref(),
            Some("http://127.0.0.1/redeem/x")
        );

        let accepted_at: Timestamp = "2026-11-26T08:30:00Z".parse().unwrap();
        assert!(
            journal
                .record_state("id-2", Some(&InvitationState::Accepted), Some(accepted_at))
                .unwrap()
        );
        assert!(
            !journal
                .record_state("id-2", Some(&InvitationState::Accepted), Some(accepted_at))
                .unwrap()
        );
        let invitation = &journal.invitations().unwrap()[0];
        assert_eq!(invitation.state, Some(InvitationState::Accepted));
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
