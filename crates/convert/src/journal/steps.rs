//! Steps: every request the executor makes for a user, written as an intent before it
//! is sent and an outcome after its answer.

use jiff::Timestamp;
use rusqlite::params;
use serde::Serialize;

use super::invitations::{Invited, upsert_invitation};
use super::{Journal, JournalError};
use crate::vocabulary::{StepKind, StepResult};

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

impl Journal {
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
            // A step settled by reading back keeps the error its request got, if any:
            // that is what Microsoft support asks about.
            "UPDATE steps SET outcome = ?1, outcome_at = ?2,
                    http_status = COALESCE(?3, http_status), error_code = COALESCE(?4, error_code),
                    error_message = COALESCE(?5, error_message), request_id = COALESCE(?6, request_id),
                    detail = COALESCE(?7, detail)
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

    /// Records what a request got when its outcome is unknown (a server error, or the
    /// connection lost after sending) and leaves the step open, exactly as if the process
    /// had died before the answer: it is then settled by reading the user back, the
    /// same way a resumed run settles it.
    pub fn record_unknown(&self, step_id: i64, outcome: &StepOutcome) -> Result<(), JournalError> {
        self.conn()?
            .execute(
                "UPDATE steps SET http_status = ?1, error_code = ?2, error_message = ?3, request_id = ?4
                 WHERE id = ?5 AND outcome IS NULL",
                params![
                    outcome.http_status,
                    outcome.error_code,
                    outcome.error_message,
                    outcome.request_id,
                    step_id
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
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
            kind: raw
                .kind
                .parse::<StepKind>()
                .map_err(|e| self.corrupt("step kind", e))?,
            intent_at: self.timestamp(&raw.intent_at)?,
            request: json(&raw.request, "step request")?,
            result: raw
                .outcome
                .as_deref()
                .map(|o| {
                    o.parse::<StepResult>()
                        .map_err(|e| self.corrupt("step outcome", e))
                })
                .transpose()?,
            outcome_at: self.optional_timestamp(raw.outcome_at.as_deref())?,
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
