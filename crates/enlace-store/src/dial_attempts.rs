//! The `dial_attempts` table: every dial request as typed or clicked, and what came of it.

use enlace_core::{CallId, Timestamp};
use rusqlite::params;

use crate::error::StoreError;
use crate::{Result, Store};

/// Longest input kept, in characters; longer input is truncated.
pub const MAX_INPUT_CHARS: usize = 256;

/// Where a dial request came from, as stored.
const SOURCES: &[&str] = &["link", "ui", "cli"];

/// Row id of a dial attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DialAttemptId(pub i64);

/// One stored dial attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialAttempt {
    pub id: DialAttemptId,
    /// What was typed or clicked, truncated to 256 characters.
    pub input: String,
    /// The dial string sent to the line; `None` when the input was rejected.
    pub target: Option<String>,
    /// The stable error code when the input was rejected.
    pub error_code: Option<String>,
    /// `"link"`, `"ui"` or `"cli"`.
    pub source: String,
    pub created_at: Timestamp,
    /// The call it turned into, once known.
    pub call_id: Option<CallId>,
}

impl Store {
    /// Record a dial request. `source` is `"link"`, `"ui"` or `"cli"`; `input` is truncated
    /// to 256 characters.
    pub fn record_dial_attempt(
        &self,
        input: &str,
        target: Option<&str>,
        error_code: Option<&str>,
        source: &str,
        at: Timestamp,
    ) -> Result<DialAttemptId> {
        if !SOURCES.contains(&source) {
            return Err(StoreError::InvalidValue {
                field: "dial source",
                reason: format!("{source:?} is not one of {SOURCES:?}"),
            });
        }
        let input: String = input.chars().take(MAX_INPUT_CHARS).collect();
        self.conn.execute(
            "INSERT INTO dial_attempts (input, target, error_code, source, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![input, target, error_code, source, at.millis()],
        )?;
        Ok(DialAttemptId(self.conn.last_insert_rowid()))
    }

    /// Link a dial attempt to the call it started. The call must be stored.
    pub fn link_dial_attempt(&self, attempt: DialAttemptId, call: &CallId) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE dial_attempts SET call_id = ?2 WHERE id = ?1",
            params![attempt.0, call.as_str()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "dial attempt",
                id: attempt.0.to_string(),
            });
        }
        Ok(())
    }

    /// The newest `limit` dial attempts, newest first.
    pub fn recent_dial_attempts(&self, limit: usize) -> Result<Vec<DialAttempt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, input, target, error_code, source, created_at, call_id
             FROM dial_attempts ORDER BY created_at DESC, id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], |row| {
            Ok(DialAttempt {
                id: DialAttemptId(row.get(0)?),
                input: row.get(1)?,
                target: row.get(2)?,
                error_code: row.get(3)?,
                source: row.get(4)?,
                created_at: Timestamp(row.get(5)?),
                call_id: row.get::<_, Option<String>>(6)?.map(CallId),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
