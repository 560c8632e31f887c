//! The `calls` table: Llamadas (ended, waiting to be logged) and Historial (every call), with
//! the CRM record each call is about and its subject and comment ([`CallLog`]).

use enlace_core::{
    CallDirection, CallId, CallRecord, CallStatus, ContactKind, Crm, EndReason, LogState, Timestamp,
};
use rusqlite::{params, OptionalExtension, Row};

use crate::error::StoreError;
use crate::outbox::OutboxEntry;
use crate::{Result, Store};

const COLUMNS: &str = "id, line_call_id, direction, peer_number, peer_display_name, local_number, \
     status, started_at, answered_at, ended_at, end_reason, end_detail, log_state";

/// [`COLUMNS`] then the CRM columns, in the order [`read_log`] reads them.
const LOG_COLUMNS: &str = "id, line_call_id, direction, peer_number, peer_display_name, \
     local_number, status, started_at, answered_at, ended_at, end_reason, end_detail, log_state, \
     record_crm, record_kind, record_id, record_name, pending_record_key, subject, comment";

/// A call as Llamadas and Historial show it: the line's record plus what the agent did with it
/// in the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLog {
    pub call: CallRecord,
    /// The CRM record the call is about, if one was attached or is being created.
    pub record: Option<CallRecordLink>,
    /// "Asunto" and "Comentario" as saved with the log (`None` until logged).
    pub subject: Option<String>,
    pub comment: Option<String>,
    /// The call's CRM writes (outbox entries), oldest first.
    pub writes: Vec<OutboxEntry>,
}

/// The CRM record attached to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecordLink {
    pub crm: Crm,
    pub kind: ContactKind,
    /// `None` while the record's creation waits in the outbox.
    pub id: Option<String>,
    /// The display name shown on the card.
    pub name: String,
    /// The idempotency key of the queued creation while `id` is `None`.
    pub pending_key: Option<String>,
}

impl Store {
    /// Insert or update a call from a phone-line event. Every field follows `record`, except
    /// that a `pending` log state never replaces `ignored` or `logged`: a late event for a call
    /// the agent already dismissed or logged must not bring it back to Llamadas.
    pub fn upsert_call(&self, record: &CallRecord) -> Result<()> {
        let duration = i64::from(record.duration_seconds());
        let end_code = record.end_reason.as_ref().map(EndReason::code);
        let end_detail = record.end_reason.as_ref().and_then(EndReason::detail);
        self.conn.execute(
            "INSERT INTO calls (id, line_call_id, direction, peer_number, peer_display_name,
                 local_number, status, started_at, answered_at, ended_at, duration_seconds,
                 end_reason, end_detail, log_state, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (id) DO UPDATE SET
                 line_call_id = excluded.line_call_id,
                 direction = excluded.direction,
                 peer_number = excluded.peer_number,
                 peer_display_name = excluded.peer_display_name,
                 local_number = excluded.local_number,
                 status = excluded.status,
                 started_at = excluded.started_at,
                 answered_at = excluded.answered_at,
                 ended_at = excluded.ended_at,
                 duration_seconds = excluded.duration_seconds,
                 end_reason = excluded.end_reason,
                 end_detail = excluded.end_detail,
                 log_state = CASE WHEN excluded.log_state = 'pending'
                                  THEN calls.log_state ELSE excluded.log_state END,
                 updated_at = excluded.updated_at",
            params![
                record.id.as_str(),
                record.line_call_id,
                record.direction.as_str(),
                record.peer_number,
                record.peer_display_name,
                record.local_number,
                record.status.as_str(),
                record.started_at.millis(),
                record.answered_at.map(Timestamp::millis),
                record.ended_at.map(Timestamp::millis),
                duration,
                end_code,
                end_detail,
                record.log_state.as_str(),
                self.now_millis(),
            ],
        )?;
        Ok(())
    }

    /// The call with our id `id`, if stored.
    pub fn call(&self, id: &CallId) -> Result<Option<CallRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE id = ?1");
        let row = self
            .conn
            .query_row(&sql, [id.as_str()], read_raw)
            .optional()?;
        row.map(RawCall::into_record).transpose()
    }

    /// Llamadas: ended calls still waiting to be logged, newest first.
    pub fn pending_calls(&self) -> Result<Vec<CallRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calls WHERE log_state = 'pending' AND status = 'ended'
             ORDER BY started_at DESC, id DESC"
        );
        self.query_calls(&sql, [])
    }

    /// Historial: the newest `limit` calls of any state, newest first.
    pub fn call_history(&self, limit: usize) -> Result<Vec<CallRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM calls ORDER BY started_at DESC, id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_calls(&sql, [limit])
    }

    /// One call with its CRM columns and writes (what the delivery worker reads to learn the
    /// record id of a queued log, and what the UI re-renders after a change).
    pub fn call_log(&self, id: &CallId) -> Result<Option<CallLog>> {
        let sql = format!("SELECT {LOG_COLUMNS} FROM calls WHERE id = ?1");
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row([id.as_str()], read_log)
            .optional()?;
        match raw {
            Some(raw) => Ok(Some(self.complete_call_log(raw)?)),
            None => Ok(None),
        }
    }

    /// Llamadas with the CRM columns: ended calls waiting to be logged, plus logged calls
    /// whose CRM writes are not all delivered yet (so the agent sees "Enviando" or a problem to
    /// fix), newest first.
    pub fn calls_to_log(&self) -> Result<Vec<CallLog>> {
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM calls WHERE log_state = 'pending' AND status = 'ended'
             UNION ALL
             SELECT {LOG_COLUMNS} FROM calls WHERE log_state = 'logged' AND id IN
                 (SELECT call_id FROM outbox WHERE state <> 'delivered' AND call_id IS NOT NULL)
             ORDER BY started_at DESC, id DESC"
        );
        self.query_logs(&sql, [])
    }

    /// Historial with the CRM columns: the newest `limit` calls of any state, newest first.
    pub fn call_log_history(&self, limit: usize) -> Result<Vec<CallLog>> {
        let sql =
            format!("SELECT {LOG_COLUMNS} FROM calls ORDER BY started_at DESC, id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_logs(&sql, [limit])
    }

    fn query_logs<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<CallLog>> {
        let raws: Vec<RawLog> = {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(params, read_log)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        raws.into_iter()
            .map(|raw| self.complete_call_log(raw))
            .collect()
    }

    fn complete_call_log(&self, raw: RawLog) -> Result<CallLog> {
        let call = raw.call.into_record()?;
        let corrupt = |reason: String| StoreError::CorruptRow {
            table: "calls",
            id: call.id.to_string(),
            reason,
        };
        let record = match (raw.record_crm, raw.record_kind) {
            (Some(crm), Some(kind)) => Some(CallRecordLink {
                crm: Crm::parse(&crm).ok_or_else(|| corrupt(format!("record_crm {crm:?}")))?,
                kind: ContactKind::parse(&kind)
                    .ok_or_else(|| corrupt(format!("record_kind {kind:?}")))?,
                id: raw.record_id,
                name: raw.record_name.unwrap_or_default(),
                pending_key: raw.pending_record_key,
            }),
            _ => None,
        };
        let writes = self.outbox_for_call(&call.id)?;
        Ok(CallLog {
            call,
            record,
            subject: raw.subject,
            comment: raw.comment,
            writes,
        })
    }

    /// Set whether the call waits to be logged. [`StoreError::NotFound`] if there is no such call.
    pub fn set_call_log_state(&self, id: &CallId, state: LogState) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE calls SET log_state = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), state.as_str(), self.now_millis()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "call",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Start-up recovery: calls an earlier run left ringing or answered (it crashed or was
    /// killed) become ended with [`EndReason::LineLost`]. They end at the last moment we know
    /// of (the answer, else the start): talk time we never observed is not invented, so a
    /// call found the next morning does not show hours of talk. Returns how many were closed.
    pub fn mark_open_calls_lost(&self, now: Timestamp) -> Result<usize> {
        let changed = self.conn.execute(
            "UPDATE calls SET
                 status = 'ended',
                 ended_at = MIN(?1, MAX(started_at, COALESCE(answered_at, started_at))),
                 duration_seconds = 0,
                 end_reason = 'line_lost',
                 end_detail = NULL,
                 updated_at = ?1
             WHERE status IN ('ringing', 'answered')",
            [now.millis()],
        )?;
        Ok(changed)
    }

    fn query_calls<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<CallRecord>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, read_raw)?;
        let mut calls = Vec::new();
        for row in rows {
            calls.push(row?.into_record()?);
        }
        Ok(calls)
    }
}

/// A row as stored, before its text columns are checked.
struct RawCall {
    id: String,
    line_call_id: String,
    direction: String,
    peer_number: String,
    peer_display_name: Option<String>,
    local_number: Option<String>,
    status: String,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    end_reason: Option<String>,
    end_detail: Option<String>,
    log_state: String,
}

fn read_raw(row: &Row<'_>) -> rusqlite::Result<RawCall> {
    Ok(RawCall {
        id: row.get(0)?,
        line_call_id: row.get(1)?,
        direction: row.get(2)?,
        peer_number: row.get(3)?,
        peer_display_name: row.get(4)?,
        local_number: row.get(5)?,
        status: row.get(6)?,
        started_at: row.get(7)?,
        answered_at: row.get(8)?,
        ended_at: row.get(9)?,
        end_reason: row.get(10)?,
        end_detail: row.get(11)?,
        log_state: row.get(12)?,
    })
}

/// A row with its CRM columns.
struct RawLog {
    call: RawCall,
    record_crm: Option<String>,
    record_kind: Option<String>,
    record_id: Option<String>,
    record_name: Option<String>,
    pending_record_key: Option<String>,
    subject: Option<String>,
    comment: Option<String>,
}

fn read_log(row: &Row<'_>) -> rusqlite::Result<RawLog> {
    Ok(RawLog {
        call: read_raw(row)?,
        record_crm: row.get(13)?,
        record_kind: row.get(14)?,
        record_id: row.get(15)?,
        record_name: row.get(16)?,
        pending_record_key: row.get(17)?,
        subject: row.get(18)?,
        comment: row.get(19)?,
    })
}

impl RawCall {
    fn into_record(self) -> Result<CallRecord> {
        let corrupt = |reason: String| StoreError::CorruptRow {
            table: "calls",
            id: self.id.clone(),
            reason,
        };
        let direction = CallDirection::parse(&self.direction)
            .ok_or_else(|| corrupt(format!("direction {:?}", self.direction)))?;
        let status = CallStatus::parse(&self.status)
            .ok_or_else(|| corrupt(format!("status {:?}", self.status)))?;
        let log_state = LogState::parse(&self.log_state)
            .ok_or_else(|| corrupt(format!("log_state {:?}", self.log_state)))?;
        let end_reason = self
            .end_reason
            .as_deref()
            .map(|code| EndReason::from_parts(code, self.end_detail.as_deref()));
        Ok(CallRecord {
            id: CallId(self.id),
            line_call_id: self.line_call_id,
            direction,
            peer_number: self.peer_number,
            peer_display_name: self.peer_display_name,
            local_number: self.local_number,
            status,
            started_at: Timestamp(self.started_at),
            answered_at: self.answered_at.map(Timestamp),
            ended_at: self.ended_at.map(Timestamp),
            end_reason,
            log_state,
        })
    }
}
