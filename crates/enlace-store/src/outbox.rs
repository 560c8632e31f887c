//! The `outbox` table: CRM writes (create a contact, log a call, log an attended WhatsApp
//! conversation) that must reach the CRM exactly once, surviving restarts, network failures
//! and lost replies.
//!
//! Life of an entry: `queue_*` stores it `pending` in the same transaction as the call's own
//! change; the delivery worker takes it with [`Store::next_outbox_entry`], marks it
//! [`in_flight`](Store::mark_in_flight) (attempts + 1), calls the CRM with the entry's
//! idempotency key, then records the outcome: [`delivered`](Store::mark_delivered),
//! [`retry later`](Store::mark_retry) (transient failure) or
//! [`needs attention`](Store::mark_needs_attention) (the agent must fix something); the agent's
//! "Reintentar" is [`Store::retry_outbox_entry`].
//!
//! Order: entries of one CRM are delivered strictly in order of creation. The oldest entry of a
//! CRM that is not delivered is its head; while the head waits for its next attempt or needs
//! attention, the later entries of that CRM wait too (a call's log must not overtake the
//! creation of the contact it is logged against). Different CRMs do not block each other.
//!
//! Lost replies: an entry with `attempts > 0` that is not delivered may already be in the CRM
//! (the app stopped while it was in flight, or the connection dropped after the CRM committed).
//! Such entries come back with [`OutboxEntry::uncertain`] set: the worker must pass
//! `retrying = true` so the CRM side looks for the record before writing it again.
//! One worker delivers at a time: an `in_flight` head is returned again by
//! `next_outbox_entry` (that is how an interrupted attempt is resumed at start-up).

use enlace_core::{CallId, ContactKind, Crm, ErrorCode, RecordRef, Timestamp};
use rusqlite::{params, OptionalExtension, Row};

use crate::error::StoreError;
use crate::{Result, Store};

/// What an outbox entry writes to the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    CreateContact,
    LogCall,
    /// An attended WhatsApp conversation's transcript ([`OutboxEntry::conversation_id`]).
    LogChat,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::CreateContact => "create_contact",
            OutboxKind::LogCall => "log_call",
            OutboxKind::LogChat => "log_chat",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxKind> {
        match s {
            "create_contact" => Some(OutboxKind::CreateContact),
            "log_call" => Some(OutboxKind::LogCall),
            "log_chat" => Some(OutboxKind::LogChat),
            _ => None,
        }
    }
}

/// Where an outbox entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Waiting for its (next) attempt at `next_attempt_at`.
    Pending,
    /// An attempt started and has no recorded outcome (running now, or interrupted).
    InFlight,
    /// In the CRM; `result_id` is the record's id.
    Delivered,
    /// The CRM refused it for a reason the agent must fix; blocks its CRM's later entries.
    NeedsAttention,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::InFlight => "in_flight",
            OutboxState::Delivered => "delivered",
            OutboxState::NeedsAttention => "needs_attention",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "in_flight" => Some(OutboxState::InFlight),
            "delivered" => Some(OutboxState::Delivered),
            "needs_attention" => Some(OutboxState::NeedsAttention),
            _ => None,
        }
    }
}

/// The last failure of an entry, as the CRM facade reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxError {
    /// A stored code this version does not know reads as [`ErrorCode::Internal`].
    pub code: ErrorCode,
    pub message: String,
    /// The form field at fault ("first_name", "email", ...), for field errors.
    pub field: Option<String>,
    /// For a refused creation: the existing record the CRM said it duplicates (its `crm` is
    /// the entry's). The agent may settle the entry with it
    /// ([`Store::settle_with_existing_record`]).
    pub existing: Option<RecordRef>,
}

/// One CRM write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    /// Sent to the CRM so that a repeated attempt cannot write twice.
    pub idempotency_key: String,
    pub crm: Crm,
    pub kind: OutboxKind,
    /// The call it belongs to (`None` for a contact created outside a call, and for a chat).
    pub call_id: Option<CallId>,
    /// The conversation a [`OutboxKind::LogChat`] entry logs (the hub's id); `None` otherwise.
    pub conversation_id: Option<i64>,
    /// What to write, as JSON; its shape is the app's business.
    pub payload: String,
    pub state: OutboxState,
    /// Attempts started so far.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<OutboxError>,
    /// The CRM id of what was written, once delivered.
    pub result_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Not delivered after at least one attempt: the write may already be in the CRM (a reply
    /// was lost or the app stopped mid-attempt). Deliver it with `retrying = true`.
    pub uncertain: bool,
}

/// How many writes wait, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    /// Pending or in flight.
    pub pending: u32,
    pub needs_attention: u32,
}

const COLUMNS: &str = "id, idempotency_key, crm, kind, call_id, payload, state, attempts, \
     next_attempt_at, last_error_code, last_error_message, last_error_field, result_id, \
     created_at, updated_at, last_error_record_kind, last_error_record_id, conversation_id";

/// Inserts a new pending entry; `call_id` may be NULL.
const INSERT: &str = "INSERT INTO outbox (idempotency_key, crm, kind, call_id, payload, state,
         attempts, next_attempt_at, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6)
     RETURNING id";

impl Store {
    /// Attach an existing CRM record to the call (the agent picked it in the search or the
    /// incoming chooser). Replaces any record attached before, including one whose creation is
    /// still queued (that creation is still delivered; the call just no longer points at it).
    pub fn attach_record(
        &self,
        call: &CallId,
        record: &enlace_core::RecordRef,
        name: &str,
    ) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE calls SET record_crm = ?2, record_kind = ?3, record_id = ?4, record_name = ?5,
                 pending_record_key = NULL, updated_at = ?6
             WHERE id = ?1",
            params![
                call.as_str(),
                record.crm.as_str(),
                record.kind.as_str(),
                record.id,
                name,
                self.now_millis()
            ],
        )?;
        if changed == 0 {
            return Err(call_not_found(call));
        }
        Ok(())
    }

    /// Queue the creation of a contact or lead under the idempotency key `key`. With a call,
    /// in the same transaction the call gets the record (`crm`, `kind`, `name`, no id yet) and
    /// `pending_record_key = key`; [`Store::mark_delivered`] fills in the id. A key already
    /// used is [`StoreError::InvalidValue`]; a missing call is [`StoreError::NotFound`]. In both
    /// cases nothing is written.
    #[allow(clippy::too_many_arguments)] // mirrors the contract; every argument is a column
    pub fn queue_create_contact(
        &self,
        call: Option<&CallId>,
        crm: Crm,
        kind: ContactKind,
        key: &str,
        payload: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<OutboxEntry> {
        let tx = self.conn.unchecked_transaction()?;
        self.check_new_key(key)?;
        if let Some(call) = call {
            let changed = tx.execute(
                "UPDATE calls SET record_crm = ?2, record_kind = ?3, record_id = NULL,
                     record_name = ?4, pending_record_key = ?5, updated_at = ?6
                 WHERE id = ?1",
                params![
                    call.as_str(),
                    crm.as_str(),
                    kind.as_str(),
                    name,
                    key,
                    now.millis()
                ],
            )?;
            if changed == 0 {
                return Err(call_not_found(call));
            }
        }
        let id: i64 = tx.query_row(
            INSERT,
            params![
                key,
                crm.as_str(),
                OutboxKind::CreateContact.as_str(),
                call.map(CallId::as_str),
                payload,
                now.millis()
            ],
            |r| r.get(0),
        )?;
        tx.commit()?;
        self.outbox_entry_or_missing(id)
    }

    /// Queue the call's activity under the idempotency key `key` and, in the same
    /// transaction, set the call's `log_state` to `logged` with its subject and comment. The
    /// call must have a record of `crm` attached (its id may still be pending); otherwise
    /// [`StoreError::InvalidValue`] and nothing is written. The worker reads the record id at
    /// delivery time ([`Store::call_log`]): in-order delivery guarantees a queued creation of
    /// that record was delivered first.
    #[allow(clippy::too_many_arguments)] // mirrors the contract; every argument is a column
    pub fn queue_log_call(
        &self,
        call: &CallId,
        crm: Crm,
        key: &str,
        payload: &str,
        subject: &str,
        comment: &str,
        now: Timestamp,
    ) -> Result<OutboxEntry> {
        let tx = self.conn.unchecked_transaction()?;
        self.check_new_key(key)?;
        let record_crm: Option<Option<String>> = tx
            .query_row(
                "SELECT record_crm FROM calls WHERE id = ?1",
                [call.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        match record_crm {
            None => return Err(call_not_found(call)),
            Some(Some(attached)) if attached == crm.as_str() => {}
            Some(other) => {
                return Err(StoreError::InvalidValue {
                    field: "call record",
                    reason: format!(
                        "call {call} has no {} record attached (it has {})",
                        crm.as_str(),
                        other.as_deref().unwrap_or("none")
                    ),
                })
            }
        }
        tx.execute(
            "UPDATE calls SET log_state = 'logged', subject = ?2, comment = ?3, updated_at = ?4
             WHERE id = ?1",
            params![call.as_str(), subject, comment, now.millis()],
        )?;
        let id: i64 = tx.query_row(
            INSERT,
            params![
                key,
                crm.as_str(),
                OutboxKind::LogCall.as_str(),
                call.as_str(),
                payload,
                now.millis()
            ],
            |r| r.get(0),
        )?;
        tx.commit()?;
        self.outbox_entry_or_missing(id)
    }

    /// Queue an attended conversation's transcript for `crm` under the idempotency key `key`
    /// (a [`OutboxKind::LogChat`] entry of `conversation_id`, no call). A key already used is
    /// [`StoreError::InvalidValue`] and nothing is written. Marking the same conversation
    /// attended again queues another entry: each is its own write.
    pub fn queue_log_chat(
        &self,
        conversation_id: i64,
        crm: Crm,
        key: &str,
        payload: &str,
        now: Timestamp,
    ) -> Result<OutboxEntry> {
        let tx = self.conn.unchecked_transaction()?;
        self.check_new_key(key)?;
        let id: i64 = tx.query_row(
            "INSERT INTO outbox (idempotency_key, crm, kind, conversation_id, payload, state,
                 attempts, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6)
             RETURNING id",
            params![
                key,
                crm.as_str(),
                OutboxKind::LogChat.as_str(),
                conversation_id,
                payload,
                now.millis()
            ],
            |r| r.get(0),
        )?;
        tx.commit()?;
        self.outbox_entry_or_missing(id)
    }

    /// Every transcript write of the conversation, oldest first.
    pub fn outbox_for_conversation(&self, conversation_id: i64) -> Result<Vec<OutboxEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE conversation_id = ?1 ORDER BY id");
        self.query_entries(&sql, [conversation_id])
    }

    /// The next entry to deliver at `now`: among the heads of each CRM's queue (its oldest
    /// entry not delivered), the oldest one that is `pending` or `in_flight` and due. `None`
    /// when every queue is empty, waiting for a later attempt, or blocked by an entry that
    /// needs attention (see the module docs: a head that needs attention blocks the later
    /// entries of its CRM until the agent retries it).
    pub fn next_outbox_entry(&self, now: Timestamp) -> Result<Option<OutboxEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox
             WHERE id IN (SELECT MIN(id) FROM outbox WHERE state <> 'delivered' GROUP BY crm)
               AND state IN ('pending', 'in_flight') AND next_attempt_at <= ?1
             ORDER BY id LIMIT 1"
        );
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row([now.millis()], read_raw)
            .optional()?;
        raw.map(RawEntry::into_entry).transpose()
    }

    /// When [`Store::next_outbox_entry`] will next have something: the earliest
    /// `next_attempt_at` among the CRM queue heads that do not need attention. `None` when
    /// nothing can be delivered until the agent acts (or nothing waits).
    pub fn next_outbox_attempt_at(&self) -> Result<Option<Timestamp>> {
        let at: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT MIN(next_attempt_at) FROM outbox
             WHERE id IN (SELECT MIN(id) FROM outbox WHERE state <> 'delivered' GROUP BY crm)
               AND state IN ('pending', 'in_flight')",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(at.map(Timestamp))
    }

    /// An attempt starts: `in_flight`, attempts + 1. Only from `pending` or `in_flight`.
    pub fn mark_in_flight(&self, id: i64) -> Result<()> {
        self.transition(
            id,
            &["pending", "in_flight"],
            "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, updated_at = ?2
             WHERE id = ?1",
            params![id, self.now_millis()],
        )
    }

    /// The CRM accepted the write; `result_id` is the record's (or activity's) id. For a
    /// contact creation, in the same transaction every call whose `pending_record_key` is this
    /// entry's key gets `record_id = result_id` (and the key cleared). Only from `pending` or
    /// `in_flight`.
    pub fn mark_delivered(&self, id: i64, result_id: &str, now: Timestamp) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        self.transition(
            id,
            &["pending", "in_flight"],
            "UPDATE outbox SET state = 'delivered', result_id = ?2, last_error_code = NULL,
                 last_error_message = NULL, last_error_field = NULL,
                 last_error_record_kind = NULL, last_error_record_id = NULL, updated_at = ?3
             WHERE id = ?1",
            params![id, result_id, now.millis()],
        )?;
        tx.execute(
            "UPDATE calls SET record_id = ?2, pending_record_key = NULL, updated_at = ?3
             WHERE pending_record_key = (SELECT idempotency_key FROM outbox
                                         WHERE id = ?1 AND kind = 'create_contact')",
            params![id, result_id, now.millis()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A transient failure (network, 5xx, rate limit): back to `pending`, next attempt at
    /// `next_attempt_at`. Only from `pending` or `in_flight`.
    pub fn mark_retry(
        &self,
        id: i64,
        error: &OutboxError,
        next_attempt_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        self.transition(
            id,
            &["pending", "in_flight"],
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, last_error_code = ?3,
                 last_error_message = ?4, last_error_field = ?5, updated_at = ?6,
                 last_error_record_kind = ?7, last_error_record_id = ?8
             WHERE id = ?1",
            params![
                id,
                next_attempt_at.millis(),
                error.code.as_str(),
                error.message,
                error.field,
                now.millis(),
                error.existing.as_ref().map(|r| r.kind.as_str()),
                error.existing.as_ref().map(|r| r.id.as_str()),
            ],
        )
    }

    /// A failure the agent must fix (invalid field, duplicate, sign-in needed): the entry, and
    /// with it its CRM's later entries, wait for [`Store::retry_outbox_entry`]. Only from
    /// `pending` or `in_flight`.
    pub fn mark_needs_attention(&self, id: i64, error: &OutboxError, now: Timestamp) -> Result<()> {
        self.transition(
            id,
            &["pending", "in_flight"],
            "UPDATE outbox SET state = 'needs_attention', last_error_code = ?2,
                 last_error_message = ?3, last_error_field = ?4, updated_at = ?5,
                 last_error_record_kind = ?6, last_error_record_id = ?7
             WHERE id = ?1",
            params![
                id,
                error.code.as_str(),
                error.message,
                error.field,
                now.millis(),
                error.existing.as_ref().map(|r| r.kind.as_str()),
                error.existing.as_ref().map(|r| r.id.as_str()),
            ],
        )
    }

    /// The agent's "Reintentar" (after fixing the form, signing in again...): back to
    /// `pending`, due now, error cleared, with `new_payload` if given. Attempts are kept, so
    /// the entry stays [`uncertain`](OutboxEntry::uncertain) if it ever was attempted. Only
    /// from `needs_attention` or `pending` (retry a waiting entry now).
    pub fn retry_outbox_entry(
        &self,
        id: i64,
        new_payload: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        self.transition(
            id,
            &["needs_attention", "pending"],
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?3,
                 payload = COALESCE(?2, payload), last_error_code = NULL,
                 last_error_message = NULL, last_error_field = NULL,
                 last_error_record_kind = NULL, last_error_record_id = NULL, updated_at = ?3
             WHERE id = ?1",
            params![id, new_payload, now.millis()],
        )
    }

    /// The agent chose the existing record the CRM matched instead of creating a duplicate: the
    /// creation entry `id` (which needs attention) becomes `delivered` with `record`'s id as
    /// its result, and in the same transaction every call waiting for that creation (its
    /// `pending_record_key`) gets `record` — kind and id — keeping the name it shows. Only for
    /// a `create_contact` entry of `record.crm` that needs attention.
    pub fn settle_with_existing_record(
        &self,
        id: i64,
        record: &RecordRef,
        now: Timestamp,
    ) -> Result<()> {
        let entry = self.outbox_entry_or_missing(id)?;
        if entry.kind != OutboxKind::CreateContact || entry.crm != record.crm {
            return Err(StoreError::InvalidValue {
                field: "outbox entry",
                reason: format!(
                    "entry {id} is not the creation of a {} record",
                    record.crm.as_str()
                ),
            });
        }
        let tx = self.conn.unchecked_transaction()?;
        self.transition(
            id,
            &["needs_attention"],
            "UPDATE outbox SET state = 'delivered', result_id = ?2, last_error_code = NULL,
                 last_error_message = NULL, last_error_field = NULL,
                 last_error_record_kind = NULL, last_error_record_id = NULL, updated_at = ?3
             WHERE id = ?1",
            params![id, record.id, now.millis()],
        )?;
        tx.execute(
            "UPDATE calls SET record_kind = ?2, record_id = ?3, pending_record_key = NULL,
                 updated_at = ?4
             WHERE pending_record_key = ?1",
            params![
                entry.idempotency_key,
                record.kind.as_str(),
                record.id,
                now.millis()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The entry with row id `id`, if any.
    pub fn outbox_entry(&self, id: i64) -> Result<Option<OutboxEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1");
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], read_raw)
            .optional()?;
        raw.map(RawEntry::into_entry).transpose()
    }

    /// The entry queued under the idempotency key `key`, if any.
    pub fn outbox_entry_by_key(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE idempotency_key = ?1");
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row([key], read_raw)
            .optional()?;
        raw.map(RawEntry::into_entry).transpose()
    }

    /// Every write of the call, oldest first.
    pub fn outbox_for_call(&self, call: &CallId) -> Result<Vec<OutboxEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE call_id = ?1 ORDER BY id");
        self.query_entries(&sql, [call.as_str()])
    }

    /// Every write that needs the agent, oldest first.
    pub fn outbox_attention(&self) -> Result<Vec<OutboxEntry>> {
        let sql =
            format!("SELECT {COLUMNS} FROM outbox WHERE state = 'needs_attention' ORDER BY id");
        self.query_entries(&sql, [])
    }

    /// How many writes are pending (or in flight) and how many need attention.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let (pending, needs_attention): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(state IN ('pending', 'in_flight')), 0),
                    COALESCE(SUM(state = 'needs_attention'), 0)
             FROM outbox WHERE state <> 'delivered'",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(OutboxCounts {
            pending: u32::try_from(pending).unwrap_or(u32::MAX),
            needs_attention: u32::try_from(needs_attention).unwrap_or(u32::MAX),
        })
    }

    fn query_entries<P: rusqlite::Params>(&self, sql: &str, params: P) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, read_raw)?;
        let mut entries = Vec::new();
        for row in rows {
            entries.push(row?.into_entry()?);
        }
        Ok(entries)
    }

    fn outbox_entry_or_missing(&self, id: i64) -> Result<OutboxEntry> {
        self.outbox_entry(id)?.ok_or_else(|| entry_not_found(id))
    }

    fn check_new_key(&self, key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(StoreError::InvalidValue {
                field: "idempotency key",
                reason: "it is empty".into(),
            });
        }
        let used: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE idempotency_key = ?1)")?
            .query_row([key], |r| r.get(0))?;
        if used {
            return Err(StoreError::InvalidValue {
                field: "idempotency key",
                reason: format!("{key:?} is already queued"),
            });
        }
        Ok(())
    }

    /// Run `update` on entry `id` if its state is one of `from`; otherwise `NotFound` (no such
    /// entry) or `InvalidValue` (a transition the life cycle does not allow).
    fn transition<P: rusqlite::Params>(
        &self,
        id: i64,
        from: &[&str],
        update: &str,
        params: P,
    ) -> Result<()> {
        let state: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM outbox WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(state) = state else {
            return Err(entry_not_found(id));
        };
        if !from.contains(&state.as_str()) {
            return Err(StoreError::InvalidValue {
                field: "outbox state",
                reason: format!("entry {id} is {state}, expected one of {from:?}"),
            });
        }
        self.conn.prepare_cached(update)?.execute(params)?;
        Ok(())
    }
}

fn call_not_found(call: &CallId) -> StoreError {
    StoreError::NotFound {
        what: "call",
        id: call.to_string(),
    }
}

fn entry_not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "outbox entry",
        id: id.to_string(),
    }
}

/// An outbox row as stored, before its text columns are checked.
struct RawEntry {
    id: i64,
    key: String,
    crm: String,
    kind: String,
    call_id: Option<String>,
    payload: String,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    error_field: Option<String>,
    result_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    error_record_kind: Option<String>,
    error_record_id: Option<String>,
    conversation_id: Option<i64>,
}

fn read_raw(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        id: row.get(0)?,
        key: row.get(1)?,
        crm: row.get(2)?,
        kind: row.get(3)?,
        call_id: row.get(4)?,
        payload: row.get(5)?,
        state: row.get(6)?,
        attempts: row.get(7)?,
        next_attempt_at: row.get(8)?,
        error_code: row.get(9)?,
        error_message: row.get(10)?,
        error_field: row.get(11)?,
        result_id: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
        error_record_kind: row.get(15)?,
        error_record_id: row.get(16)?,
        conversation_id: row.get(17)?,
    })
}

impl RawEntry {
    fn into_entry(self) -> Result<OutboxEntry> {
        let corrupt = |reason: String| StoreError::CorruptRow {
            table: "outbox",
            id: self.id.to_string(),
            reason,
        };
        let crm = Crm::parse(&self.crm).ok_or_else(|| corrupt(format!("crm {:?}", self.crm)))?;
        let kind = OutboxKind::parse(&self.kind)
            .ok_or_else(|| corrupt(format!("kind {:?}", self.kind)))?;
        let state = OutboxState::parse(&self.state)
            .ok_or_else(|| corrupt(format!("state {:?}", self.state)))?;
        let existing = match (self.error_record_kind, self.error_record_id) {
            (Some(kind), Some(id)) => Some(RecordRef {
                crm,
                kind: ContactKind::parse(&kind)
                    .ok_or_else(|| corrupt(format!("last_error_record_kind {kind:?}")))?,
                id,
            }),
            _ => None,
        };
        let last_error = self.error_code.map(|code| OutboxError {
            code: ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == code)
                .unwrap_or(ErrorCode::Internal),
            message: self.error_message.unwrap_or_default(),
            field: self.error_field,
            existing,
        });
        let attempts = u32::try_from(self.attempts).unwrap_or(u32::MAX);
        Ok(OutboxEntry {
            id: self.id,
            idempotency_key: self.key,
            crm,
            kind,
            call_id: self.call_id.map(CallId),
            conversation_id: self.conversation_id,
            payload: self.payload,
            state,
            attempts,
            next_attempt_at: Timestamp(self.next_attempt_at),
            last_error,
            result_id: self.result_id,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            uncertain: attempts > 0 && state != OutboxState::Delivered,
        })
    }
}
