//! The inbox cache (Omnicanalidad): WhatsApp conversations as the hub last described them
//! (`chat_conversations`), their messages (`chat_messages`) and internal comments
//! (`chat_comments`), and the messages typed here that the hub has not taken yet
//! (`chat_sends`), so the panel opens at once and shows history offline.
//!
//! Invariants:
//! - A message typed here is one row from the start: stored `pending` with its client id
//!   ([`Store::queue_chat_send`]); when the hub answers, the same row gains the hub id and
//!   status ([`Store::chat_send_accepted`], or any [`Store::upsert_chat_message`] carrying
//!   that client id). Rows are found by client id first, then by hub id: never a second row.
//! - Statuses only move forward ([`ChatStatus::rank`]: pending < queued < sending < accepted
//!   < sent < delivered < read < played; `failed` is final), whatever order the hub's events
//!   and replies arrive in.
//! - A conversation's facts carry when they were true (`facts_at`): older facts never replace
//!   newer ones (a stream replaying the hub's log after the list was read). When it changes
//!   hands its cached timeline stops counting as whole (`synced_from`), since another agent's
//!   messages never reached this agent's stream.
//! - A timeline is ordered by `seq`: the hub id, or after every hub message while pending.
//!   Pages read the `chat_messages_timeline` index; the panel reads the partial indexes of
//!   open conversations; no query runs per row.

use enlace_core::CustomerNumber;
use rusqlite::{params, OptionalExtension, Row};

use crate::error::StoreError;
use crate::{Result, Store};

/// `seq` of messages the hub has not taken: 2^53 + row id (above any hub id).
const PENDING_SEQ_BASE: i64 = 1 << 53;
/// Most conversations one list returns.
const MAX_CONVERSATIONS: i64 = 1000;
/// Most messages one page returns.
pub const MAX_CHAT_PAGE: usize = 500;
/// Longest search text considered.
const MAX_SEARCH_CHARS: usize = 64;

/// An outbound message's progress, or `Received` for the customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatStatus {
    /// Kept here until the hub takes it.
    Pending,
    Queued,
    Sending,
    Accepted,
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
    Received,
}

impl ChatStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatStatus::Pending => "pending",
            ChatStatus::Queued => "queued",
            ChatStatus::Sending => "sending",
            ChatStatus::Accepted => "accepted",
            ChatStatus::Sent => "sent",
            ChatStatus::Delivered => "delivered",
            ChatStatus::Read => "read",
            ChatStatus::Played => "played",
            ChatStatus::Failed => "failed",
            ChatStatus::Received => "received",
        }
    }

    pub fn parse(s: &str) -> Option<ChatStatus> {
        Some(match s {
            "pending" => ChatStatus::Pending,
            "queued" => ChatStatus::Queued,
            "sending" => ChatStatus::Sending,
            "accepted" => ChatStatus::Accepted,
            "sent" => ChatStatus::Sent,
            "delivered" => ChatStatus::Delivered,
            "read" => ChatStatus::Read,
            "played" => ChatStatus::Played,
            "failed" => ChatStatus::Failed,
            "received" => ChatStatus::Received,
            _ => return None,
        })
    }

    /// Order of progress: a status only replaces one of a lower rank. `failed` is final.
    pub fn rank(self) -> u8 {
        match self {
            ChatStatus::Pending => 0,
            ChatStatus::Queued => 1,
            ChatStatus::Sending => 2,
            ChatStatus::Accepted => 3,
            ChatStatus::Sent => 4,
            ChatStatus::Delivered => 5,
            ChatStatus::Read => 6,
            ChatStatus::Played => 7,
            ChatStatus::Received => 8,
            ChatStatus::Failed => 9,
        }
    }
}

/// The SQL rank of a status column (see [`ChatStatus::rank`]).
fn rank_sql(column: &str) -> String {
    format!(
        "(CASE {column} WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 \
         WHEN 'accepted' THEN 3 WHEN 'sent' THEN 4 WHEN 'delivered' THEN 5 WHEN 'read' THEN 6 \
         WHEN 'played' THEN 7 WHEN 'received' THEN 8 WHEN 'failed' THEN 9 ELSE 0 END)"
    )
}

/// Open, or marked attended (closed; it reopens when the customer writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatState {
    Open,
    Attended,
}

impl ChatState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatState::Open => "open",
            ChatState::Attended => "attended",
        }
    }

    /// `open` or `attended`; anything else the hub may add later reads as attended (closed).
    pub fn parse(s: &str) -> ChatState {
        if s == "open" {
            ChatState::Open
        } else {
            ChatState::Attended
        }
    }
}

/// Which conversations the panel lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatFilter {
    /// Open and assigned to this agent.
    Mine,
    /// Every open conversation cached (the agent's and its queues').
    Queues,
    /// Open and assigned to nobody.
    Unassigned,
}

/// What the hub says of a conversation (written by [`Store::upsert_chat_conversation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConversationFacts {
    pub id: i64,
    pub phone_number_id: String,
    /// The business number as people dial it; empty when unknown (an empty value keeps the
    /// one stored).
    pub business_number: String,
    pub wa_id: String,
    pub profile_name: String,
    pub queue: String,
    pub state: ChatState,
    pub agent_id: Option<i64>,
    /// Who serves it, when known (`None` keeps the stored name if the agent did not change).
    pub agent_name: Option<String>,
    /// Assigned to the signed-in agent.
    pub mine: bool,
    pub unread: u32,
    pub last_message_at: i64,
    pub window_ends_at: Option<i64>,
    /// When these facts were true (ms): facts older than the stored ones are ignored, so a
    /// replayed event does not undo what a newer one or the hub's list said.
    pub facts_at: i64,
}

/// A cached conversation as the panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConversation {
    pub id: i64,
    pub phone_number_id: String,
    pub business_number: String,
    pub wa_id: String,
    /// E.164 (`+5215512345678`; the wa_id with `+` when it is not a valid number).
    pub customer: String,
    /// The CRM name from the contacts cache.
    pub customer_name: Option<String>,
    pub profile_name: String,
    pub queue: String,
    pub state: ChatState,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub mine: bool,
    pub unread: u32,
    pub last_message_at: i64,
    pub preview: String,
    pub preview_kind: String,
    pub preview_outgoing: bool,
    pub window_ends_at: Option<i64>,
    /// `window_ends_at` is in the future (store clock).
    pub window_open: bool,
    /// Messages typed here that the hub has not taken.
    pub pending_sends: u32,
}

/// Why WhatsApp refused or failed a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatError {
    pub code: Option<i64>,
    /// `whatsapp_window_closed`, … (or a code of this app for a refusal before the hub).
    pub kind: Option<String>,
    pub title: Option<String>,
    pub details: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Timeline position (the hub id, or after every hub message while pending).
    pub seq: i64,
    pub hub_id: Option<i64>,
    pub client_id: Option<String>,
    pub conversation_id: i64,
    pub wamid: Option<String>,
    pub outgoing: bool,
    /// `text`, `image`, … as the hub names it.
    pub kind: String,
    pub text: Option<String>,
    /// The message as JSON (inbound: as WhatsApp sent it; outbound: as sent).
    pub content: String,
    pub media_id: Option<String>,
    /// The quoted message's wamid.
    pub reply_to: Option<String>,
    pub status: ChatStatus,
    pub error: Option<ChatError>,
    pub agent_id: Option<i64>,
    pub at: i64,
}

impl ChatMessage {
    /// The timeline key: `c:<client id>` for messages typed here, `h:<hub id>` otherwise.
    pub fn key(&self) -> String {
        match (&self.client_id, self.hub_id) {
            (Some(client), _) => format!("c:{client}"),
            (None, Some(hub)) => format!("h:{hub}"),
            (None, None) => format!("s:{}", self.seq),
        }
    }
}

/// An internal comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatComment {
    pub id: i64,
    pub conversation_id: i64,
    pub agent_id: i64,
    pub agent_name: Option<String>,
    pub body: String,
    pub at: i64,
}

/// A page of a timeline, oldest first, with the comments in its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    pub messages: Vec<ChatMessage>,
    pub comments: Vec<ChatComment>,
    /// `seq` to pass as `before` for older messages; `None` when none are cached or known.
    pub next_before: Option<i64>,
    /// The cache holds every message of this page's span (no hub message is missing in it).
    pub complete: bool,
}

/// The side-bar badge and the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChatCounts {
    /// Open conversations assigned to this agent.
    pub waiting: u32,
    /// Of those, how many have unread customer messages.
    pub unread: u32,
    /// Messages typed here that wait for the hub.
    pub pending_sends: u32,
}

/// A message waiting to be handed to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSend {
    pub client_id: String,
    pub conversation_id: i64,
    /// The hub's outgoing message, as JSON.
    pub message: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The file to upload first (a media message staged on this computer).
    pub staged_path: Option<String>,
    /// The hub's id of that file once uploaded (the upload is never repeated).
    pub hub_media_id: Option<String>,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.phone_number_id, c.business_number, c.wa_id, \
     c.customer, c.customer_name, c.profile_name, c.queue, c.state, c.agent_id, c.agent_name, \
     c.mine, c.unread, c.last_message_at, c.preview, c.preview_kind, c.preview_outgoing, \
     c.window_ends_at, \
     (SELECT count(*) FROM chat_messages m WHERE m.conversation_id = c.id AND m.status = 'pending')";

const MESSAGE_COLUMNS: &str = "seq, hub_id, client_id, conversation_id, wamid, direction, kind, \
     text, content, media_id, reply_to, status, error_code, error_kind, error_title, \
     error_details, agent_id, at";

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// Insert or update a conversation from the hub. The customer's E.164 and number key come
    /// from the wa_id; the CRM name from the contacts cache (the caller-ID rules).
    pub fn upsert_chat_conversation(&self, facts: &ChatConversationFacts) -> Result<()> {
        let customer = CustomerNumber::from_wa_id(&facts.wa_id).ok();
        let (e164, key) = match &customer {
            Some(c) => (c.e164().to_owned(), c.key().as_str().to_owned()),
            None => {
                let digits: String = facts.wa_id.chars().filter(char::is_ascii_digit).collect();
                (format!("+{digits}"), digits)
            }
        };
        let name = match &customer {
            Some(c) => self
                .contacts_for_customer(c)?
                .first()
                .map(|s| s.contact.display_name()),
            None => None,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO chat_conversations (id, phone_number_id, business_number, wa_id,
                     customer, number_key, customer_name, profile_name, queue, state, agent_id,
                     agent_name, mine, unread, last_message_at, window_ends_at, updated_at,
                     facts_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                     ?18)
                 ON CONFLICT (id) DO UPDATE SET
                     phone_number_id = excluded.phone_number_id,
                     business_number = CASE WHEN excluded.business_number = ''
                         THEN chat_conversations.business_number ELSE excluded.business_number END,
                     wa_id = excluded.wa_id,
                     customer = excluded.customer,
                     number_key = excluded.number_key,
                     customer_name = excluded.customer_name,
                     profile_name = CASE WHEN excluded.profile_name = ''
                         THEN chat_conversations.profile_name ELSE excluded.profile_name END,
                     queue = excluded.queue,
                     state = excluded.state,
                     agent_name = CASE
                         WHEN excluded.agent_name IS NOT NULL THEN excluded.agent_name
                         WHEN excluded.agent_id IS chat_conversations.agent_id
                             THEN chat_conversations.agent_name
                         ELSE NULL END,
                     agent_id = excluded.agent_id,
                     mine = excluded.mine,
                     unread = excluded.unread,
                     last_message_at = max(chat_conversations.last_message_at,
                                           excluded.last_message_at),
                     window_ends_at = excluded.window_ends_at,
                     updated_at = excluded.updated_at,
                     facts_at = excluded.facts_at,
                     -- Another agent's messages never reached this agent's stream: once the
                     -- conversation changes hands, its cached timeline is not known whole.
                     synced_from = CASE WHEN excluded.agent_id IS chat_conversations.agent_id
                         THEN chat_conversations.synced_from ELSE NULL END,
                     synced_all = CASE WHEN excluded.agent_id IS chat_conversations.agent_id
                         THEN chat_conversations.synced_all ELSE 0 END
                 WHERE excluded.facts_at >= chat_conversations.facts_at",
            )?
            .execute(params![
                facts.id,
                facts.phone_number_id,
                facts.business_number,
                facts.wa_id,
                e164,
                key,
                name,
                facts.profile_name,
                facts.queue,
                facts.state.as_str(),
                facts.agent_id,
                facts.agent_name,
                facts.mine,
                i64::from(facts.unread),
                facts.last_message_at,
                facts.window_ends_at,
                self.now_millis(),
                facts.facts_at,
            ])?;
        Ok(())
    }

    /// The hub's whole list (`listed` ids, each with its newest message when the hub gave
    /// it), in one transaction: each conversation upserted, and cached open conversations the
    /// list no longer has (attended or moved elsewhere meanwhile) leave the panel.
    pub fn sync_chat_conversations(
        &self,
        conversations: &[(ChatConversationFacts, Option<ChatMessage>)],
        listed: &[i64],
        listed_at: i64,
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        for (facts, last) in conversations {
            self.upsert_chat_conversation(facts)?;
            if let Some(m) = last {
                write_message(&tx, m)?;
            }
        }
        let open: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM chat_conversations INDEXED BY chat_conversations_open
                 WHERE state = 'open'",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let listed: std::collections::HashSet<i64> = listed.iter().copied().collect();
        for id in open.into_iter().filter(|id| !listed.contains(id)) {
            tx.prepare_cached(
                "UPDATE chat_conversations SET state = 'attended', mine = 0, facts_at = ?2
                 WHERE id = ?1 AND facts_at <= ?2",
            )?
            .execute(params![id, listed_at])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Set a conversation's unread count (read here before the hub's event says so).
    pub fn set_chat_unread(&self, conversation: i64, unread: u32) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE chat_conversations SET unread = ?2 WHERE id = ?1")?
            .execute(params![conversation, i64::from(unread)])?;
        Ok(())
    }

    /// When the cached facts of a conversation were true (`None`: not cached).
    pub fn chat_facts_at(&self, id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT facts_at FROM chat_conversations WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?)
    }

    /// One cached conversation.
    pub fn chat_conversation(&self, id: i64) -> Result<Option<ChatConversation>> {
        let sql =
            format!("SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c WHERE c.id = ?1");
        let now = self.now_millis();
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], |row| read_conversation(row, now))
            .optional()?)
    }

    /// The panel: open conversations of `filter`, latest activity first; with a non-empty
    /// `search` (part of the number, the WhatsApp name or the CRM name), conversations of any
    /// state that match it.
    pub fn chat_conversations(
        &self,
        filter: ChatFilter,
        search: &str,
    ) -> Result<Vec<ChatConversation>> {
        let search: String = search.trim().chars().take(MAX_SEARCH_CHARS).collect();
        let now = self.now_millis();
        use rusqlite::types::Value;
        let (sql, values): (String, Vec<Value>) = if search.is_empty() {
            let condition = match filter {
                ChatFilter::Mine => "c.state = 'open' AND c.mine = 1",
                ChatFilter::Queues => "c.state = 'open'",
                ChatFilter::Unassigned => "c.state = 'open' AND c.agent_id IS NULL",
            };
            (
                format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c
                     INDEXED BY chat_conversations_open
                     WHERE {condition}
                     ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?1"
                ),
                vec![Value::Integer(MAX_CONVERSATIONS)],
            )
        } else {
            let digits: String = search.chars().filter(char::is_ascii_digit).collect();
            let phone_like = !digits.is_empty()
                && search
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            let escaped = search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let condition = match filter {
                ChatFilter::Mine => "c.mine = 1",
                ChatFilter::Queues => "1",
                ChatFilter::Unassigned => "c.agent_id IS NULL",
            };
            let number = if !phone_like {
                String::new()
            } else {
                format!("%{digits}%")
            };
            (
                format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c
                     WHERE {condition} AND (
                         (?2 <> '' AND (c.wa_id LIKE ?2 OR c.number_key LIKE ?2))
                         OR (?3 = 0 AND (c.profile_name LIKE ?1 ESCAPE '\\'
                             OR c.customer_name LIKE ?1 ESCAPE '\\')))
                     ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
                ),
                vec![
                    Value::Text(format!("%{escaped}%")),
                    Value::Text(number),
                    Value::Integer(i64::from(phone_like)),
                    Value::Integer(MAX_CONVERSATIONS),
                ],
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| {
            read_conversation(row, now)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Open conversations assigned to this agent (Salida), latest first.
    pub fn my_open_chats(&self) -> Result<Vec<ChatConversation>> {
        self.chat_conversations(ChatFilter::Mine, "")
    }

    /// The badge, the tray and the panel's pending line.
    pub fn chat_counts(&self) -> Result<ChatCounts> {
        let (waiting, unread): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT count(*), count(*) FILTER (WHERE unread > 0) FROM chat_conversations
                 INDEXED BY chat_conversations_mine WHERE state = 'open' AND mine = 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let pending: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM chat_sends")?
            .query_row([], |r| r.get(0))?;
        Ok(ChatCounts {
            waiting: count(waiting),
            unread: count(unread),
            pending_sends: count(pending),
        })
    }

    /// Insert or update a message the hub described: the row with its client id, else the
    /// one with its hub id, else a new one. The status only moves forward; the conversation's
    /// preview follows its newest message. Returns the message as stored.
    pub fn upsert_chat_message(&self, message: &ChatMessage) -> Result<ChatMessage> {
        let tx = self.conn.unchecked_transaction()?;
        let stored = write_message(&tx, message)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Several messages of one conversation (a page from the hub), in one transaction.
    pub fn upsert_chat_messages(&self, messages: &[ChatMessage]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        for m in messages {
            write_message(&tx, m)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The message with timeline key `key` (`c:<client id>` or `h:<hub id>`) of `conversation`.
    pub fn chat_message_by_key(&self, conversation: i64, key: &str) -> Result<Option<ChatMessage>> {
        let (column, value) = match key.split_once(':') {
            Some(("c", client)) => ("client_id", rusqlite::types::Value::Text(client.to_owned())),
            Some(("h", hub)) => match hub.parse::<i64>() {
                Ok(id) => ("hub_id", rusqlite::types::Value::Integer(id)),
                Err(_) => return Ok(None),
            },
            _ => return Ok(None),
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE {column} = ?1 AND conversation_id = ?2"
        );
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![value, conversation], read_message)
            .optional()?;
        raw.transpose()
    }

    /// Keep a message typed here: its `pending` row and its place in the send queue, in one
    /// transaction. A client id already known answers the stored message (nothing is queued
    /// twice).
    pub fn queue_chat_send(&self, message: &ChatMessage, send_json: &str) -> Result<ChatMessage> {
        self.queue_chat_send_with(message, send_json, None)
    }

    /// [`Store::queue_chat_send`] for a media message whose file, at `staged_path`, is uploaded
    /// to the hub before the message is handed over.
    pub fn queue_chat_file_send(
        &self,
        message: &ChatMessage,
        send_json: &str,
        staged_path: &str,
    ) -> Result<ChatMessage> {
        self.queue_chat_send_with(message, send_json, Some(staged_path))
    }

    fn queue_chat_send_with(
        &self,
        message: &ChatMessage,
        send_json: &str,
        staged_path: Option<&str>,
    ) -> Result<ChatMessage> {
        let Some(client_id) = message.client_id.as_deref() else {
            return Err(StoreError::InvalidValue {
                field: "client_id",
                reason: "a message typed here needs its client id".into(),
            });
        };
        let tx = self.conn.unchecked_transaction()?;
        if let Some(existing) = message_by(&tx, "client_id", client_id)? {
            tx.commit()?;
            return Ok(existing);
        }
        let pending = ChatMessage {
            status: ChatStatus::Pending,
            hub_id: None,
            ..message.clone()
        };
        let stored = write_message(&tx, &pending)?;
        tx.prepare_cached(
            "INSERT INTO chat_sends (client_id, conversation_id, message, created_at, staged_path)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            client_id,
            message.conversation_id,
            send_json,
            self.now_millis(),
            staged_path
        ])?;
        tx.commit()?;
        Ok(stored)
    }

    /// The oldest message still to hand to the hub.
    pub fn next_chat_send(&self) -> Result<Option<ChatSend>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT client_id, conversation_id, message, attempts, last_error, staged_path,
                        hub_media_id
                 FROM chat_sends ORDER BY id LIMIT 1",
            )?
            .query_row([], |r| {
                Ok(ChatSend {
                    client_id: r.get(0)?,
                    conversation_id: r.get(1)?,
                    message: r.get(2)?,
                    attempts: count(r.get(3)?),
                    last_error: r.get(4)?,
                    staged_path: r.get(5)?,
                    hub_media_id: r.get(6)?,
                })
            })
            .optional()?)
    }

    /// The hub has the queued message's file as `hub_media_id`: a later attempt sends the
    /// message without uploading again.
    pub fn chat_send_media_uploaded(&self, client_id: &str, hub_media_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE chat_sends SET hub_media_id = ?2 WHERE client_id = ?1")?
            .execute(params![client_id, hub_media_id])?;
        Ok(())
    }

    /// An attempt failed for a passing reason: it stays queued (attempts + 1).
    pub fn chat_send_attempt_failed(&self, client_id: &str, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE chat_sends SET attempts = attempts + 1, last_error = ?2
                 WHERE client_id = ?1",
            )?
            .execute(params![client_id, error])?;
        Ok(())
    }

    /// The hub took the message (its reply `message`): it leaves the queue and its row gains
    /// the hub's id and status, in one transaction.
    pub fn chat_send_accepted(
        &self,
        client_id: &str,
        message: &ChatMessage,
    ) -> Result<ChatMessage> {
        let tx = self.conn.unchecked_transaction()?;
        tx.prepare_cached("DELETE FROM chat_sends WHERE client_id = ?1")?
            .execute([client_id])?;
        let with_id = ChatMessage {
            client_id: Some(client_id.to_owned()),
            ..message.clone()
        };
        let stored = write_message(&tx, &with_id)?;
        tx.commit()?;
        Ok(stored)
    }

    /// The hub refused the message for good: it leaves the queue and shows `failed` with why.
    pub fn chat_send_refused(
        &self,
        client_id: &str,
        error: &ChatError,
    ) -> Result<Option<ChatMessage>> {
        let tx = self.conn.unchecked_transaction()?;
        tx.prepare_cached("DELETE FROM chat_sends WHERE client_id = ?1")?
            .execute([client_id])?;
        tx.prepare_cached(
            "UPDATE chat_messages SET status = 'failed', error_code = ?2, error_kind = ?3,
                 error_title = ?4, error_details = ?5
             WHERE client_id = ?1 AND status = 'pending'",
        )?
        .execute(params![
            client_id,
            error.code,
            error.kind,
            error.title,
            error.details
        ])?;
        let stored = message_by(&tx, "client_id", client_id)?;
        tx.commit()?;
        Ok(stored)
    }

    /// A page of `conversation`'s timeline: the `limit` messages before position `before`
    /// (the newest when `None`), oldest first, with the comments in the page's span.
    pub fn chat_page(
        &self,
        conversation: i64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<ChatPage> {
        let limit = limit.clamp(1, MAX_CHAT_PAGE);
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages INDEXED BY chat_messages_timeline
             WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
        );
        let mut messages: Vec<ChatMessage> = {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    conversation,
                    before.unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                read_message,
            )?;
            let mut out = Vec::with_capacity(limit);
            for row in rows {
                out.push(row??);
            }
            out
        };
        messages.reverse();
        let (synced_from, synced_all): (Option<i64>, bool) = self
            .conn
            .prepare_cached("SELECT synced_from, synced_all FROM chat_conversations WHERE id = ?1")?
            .query_row([conversation], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((None, false));
        let full = messages.len() == limit;
        let oldest_hub = messages.iter().find_map(|m| m.hub_id);
        // Complete: the cache holds every hub message from `synced_from` on, and the page
        // starts there or later (or is the whole conversation).
        let complete = match synced_from {
            Some(from) => {
                if full {
                    oldest_hub.is_none_or(|h| h >= from)
                } else {
                    synced_all && oldest_hub.is_none_or(|h| h >= from)
                }
            }
            None => false,
        };
        let first = messages.first();
        let next_before = match first {
            Some(m) if full || !synced_all => Some(m.seq),
            _ => None,
        };
        let from_at = match (first, next_before) {
            (Some(m), Some(_)) => m.at,
            _ => i64::MIN,
        };
        let to_at = match before {
            Some(b) => self
                .conn
                .prepare_cached(
                    "SELECT at FROM chat_messages WHERE conversation_id = ?1 AND seq >= ?2
                     ORDER BY seq LIMIT 1",
                )?
                .query_row(params![conversation, b], |r| r.get(0))
                .optional()?
                .unwrap_or(i64::MAX),
            None => i64::MAX,
        };
        let comments = self.chat_comments_between(conversation, from_at, to_at)?;
        Ok(ChatPage {
            messages,
            comments,
            next_before,
            complete,
        })
    }

    /// Record what a page fetched from the hub covers: it ran from `oldest` (a hub id) to
    /// `before` (`None`: the newest message), and `at_start` when nothing is older.
    pub fn chat_page_synced(
        &self,
        conversation: i64,
        before: Option<i64>,
        oldest: Option<i64>,
        at_start: bool,
    ) -> Result<()> {
        let (from, all): (Option<i64>, bool) = self
            .conn
            .prepare_cached("SELECT synced_from, synced_all FROM chat_conversations WHERE id = ?1")?
            .query_row([conversation], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((None, false));
        let contiguous = match (before, from) {
            (None, _) => true,
            (Some(b), Some(f)) => b >= f,
            (Some(_), None) => false,
        };
        if !contiguous {
            return Ok(());
        }
        let new_from = match (oldest, before, from) {
            (Some(o), _, Some(f)) => Some(o.min(f)),
            (Some(o), _, None) => Some(o),
            (None, None, _) => Some(0),
            (None, Some(b), f) => f.or(Some(b)),
        };
        self.conn
            .prepare_cached(
                "UPDATE chat_conversations SET synced_from = ?2, synced_all = ?3 WHERE id = ?1",
            )?
            .execute(params![conversation, new_from, all || at_start])?;
        Ok(())
    }

    /// The stream lost events (or a new session began): no cached timeline is known to be
    /// complete any more.
    pub fn forget_chat_sync(&self) -> Result<()> {
        self.conn.execute(
            "UPDATE chat_conversations SET synced_from = NULL, synced_all = 0",
            [],
        )?;
        Ok(())
    }

    /// Insert or update a comment.
    pub fn upsert_chat_comment(&self, comment: &ChatComment) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO chat_comments (id, conversation_id, agent_id, agent_name, body, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body,
                     agent_name = COALESCE(excluded.agent_name, chat_comments.agent_name)",
            )?
            .execute(params![
                comment.id,
                comment.conversation_id,
                comment.agent_id,
                comment.agent_name,
                comment.body,
                comment.at
            ])?;
        Ok(())
    }

    /// Comments of `conversation` written in `[from, to)`, oldest first.
    pub fn chat_comments_between(
        &self,
        conversation: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<ChatComment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, conversation_id, agent_id, agent_name, body, at FROM chat_comments
             WHERE conversation_id = ?1 AND at >= ?2 AND at < ?3 ORDER BY at, id LIMIT 2000",
        )?;
        let rows = stmt.query_map(params![conversation, from, to], |r| {
            Ok(ChatComment {
                id: r.get(0)?,
                conversation_id: r.get(1)?,
                agent_id: r.get(2)?,
                agent_name: r.get(3)?,
                body: r.get(4)?,
                at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every message of `conversation`, oldest first (the transcript logged to the CRM).
    pub fn chat_transcript(&self, conversation: i64, limit: usize) -> Result<Vec<ChatMessage>> {
        let page = self.chat_page(conversation, None, limit.min(MAX_CHAT_PAGE))?;
        Ok(page.messages)
    }

    /// Empty the inbox cache (another agent or hub signed in on this computer).
    pub fn clear_chats(&self) -> Result<()> {
        self.conn.execute_batch(
            "DELETE FROM chat_sends; DELETE FROM chat_comments; DELETE FROM chat_messages;
             DELETE FROM chat_conversations;",
        )?;
        Ok(())
    }
}

/// The stored row with `column` = `value`.
fn message_by(
    conn: &rusqlite::Connection,
    column: &str,
    value: impl rusqlite::ToSql,
) -> Result<Option<ChatMessage>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE {column} = ?1");
    conn.prepare_cached(&sql)?
        .query_row([value], read_message)
        .optional()?
        .transpose()
}

/// Upsert one message (client id first, then hub id) and move the conversation's preview.
fn write_message(conn: &rusqlite::Connection, m: &ChatMessage) -> Result<ChatMessage> {
    let by_client: Option<i64> = match m.client_id.as_deref() {
        Some(client) => conn
            .prepare_cached("SELECT id FROM chat_messages WHERE client_id = ?1")?
            .query_row([client], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let by_hub: Option<i64> = match m.hub_id {
        Some(hub) => conn
            .prepare_cached("SELECT id FROM chat_messages WHERE hub_id = ?1")?
            .query_row([hub], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let existing = match (by_client, by_hub) {
        (Some(c), Some(h)) if c != h => {
            // Stored twice before the client id was known: keep the client's row.
            conn.prepare_cached("DELETE FROM chat_messages WHERE id = ?1")?
                .execute([h])?;
            Some(c)
        }
        (Some(c), _) => Some(c),
        (None, h) => h,
    };
    let (error_code, error_kind, error_title, error_details) = match &m.error {
        Some(e) => (e.code, e.kind.clone(), e.title.clone(), e.details.clone()),
        None => (None, None, None, None),
    };
    let mut old_seq = None;
    let row_id: i64 = match existing {
        Some(id) => {
            old_seq = conn
                .prepare_cached("SELECT seq FROM chat_messages WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, i64>(0))
                .optional()?;
            let rank_old = rank_sql("status");
            let rank_new = rank_sql("?2");
            let sql = format!(
                "UPDATE chat_messages SET
                     hub_id = COALESCE(?3, hub_id),
                     seq = CASE WHEN ?3 IS NOT NULL THEN ?3 ELSE seq END,
                     client_id = COALESCE(client_id, ?4),
                     wamid = COALESCE(?5, wamid),
                     text = COALESCE(?6, text),
                     content = CASE WHEN ?7 = 'null' THEN content ELSE ?7 END,
                     media_id = COALESCE(?8, media_id),
                     reply_to = COALESCE(?9, reply_to),
                     agent_id = COALESCE(?10, agent_id),
                     error_code = CASE WHEN {rank_new} > {rank_old} AND ?2 = 'failed'
                         THEN ?11 ELSE error_code END,
                     error_kind = CASE WHEN {rank_new} > {rank_old} AND ?2 = 'failed'
                         THEN ?12 ELSE error_kind END,
                     error_title = CASE WHEN {rank_new} > {rank_old} AND ?2 = 'failed'
                         THEN ?13 ELSE error_title END,
                     error_details = CASE WHEN {rank_new} > {rank_old} AND ?2 = 'failed'
                         THEN ?14 ELSE error_details END,
                     status = CASE WHEN {rank_new} > {rank_old} THEN ?2 ELSE status END,
                     at = CASE WHEN ?3 IS NOT NULL THEN ?15 ELSE at END
                 WHERE id = ?1"
            );
            conn.prepare_cached(&sql)?.execute(params![
                id,
                m.status.as_str(),
                m.hub_id,
                m.client_id,
                m.wamid,
                m.text,
                m.content,
                m.media_id,
                m.reply_to,
                m.agent_id,
                error_code,
                error_kind,
                error_title,
                error_details,
                m.at,
            ])?;
            id
        }
        None => {
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO chat_messages (seq, hub_id, client_id, conversation_id, wamid,
                         direction, kind, text, content, media_id, reply_to, status, error_code,
                         error_kind, error_title, error_details, agent_id, at)
                     VALUES (COALESCE(?1, 0), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                         ?13, ?14, ?15, ?16, ?17)
                     RETURNING id",
                )?
                .query_row(
                    params![
                        m.hub_id,
                        m.client_id,
                        m.conversation_id,
                        m.wamid,
                        if m.outgoing { "out" } else { "in" },
                        m.kind,
                        m.text,
                        m.content,
                        m.media_id,
                        m.reply_to,
                        m.status.as_str(),
                        error_code,
                        error_kind,
                        error_title,
                        error_details,
                        m.agent_id,
                        m.at,
                    ],
                    |r| r.get(0),
                )?;
            if m.hub_id.is_none() {
                conn.prepare_cached("UPDATE chat_messages SET seq = ?2 + id WHERE id = ?1")?
                    .execute(params![id, PENDING_SEQ_BASE])?;
            }
            id
        }
    };
    let stored = message_by(conn, "id", row_id)?.ok_or_else(|| StoreError::NotFound {
        what: "chat message",
        id: row_id.to_string(),
    })?;
    if let Some(old) = old_seq.filter(|old| *old != stored.seq) {
        // A pending message that gained its hub id: the preview follows it to its place.
        conn.prepare_cached(
            "UPDATE chat_conversations SET preview_seq = ?3 WHERE id = ?1 AND preview_seq = ?2",
        )?
        .execute(params![stored.conversation_id, old, stored.seq])?;
    }
    if stored.kind != "reaction" {
        conn.prepare_cached(
            "UPDATE chat_conversations SET preview = ?2, preview_kind = ?3,
                 preview_outgoing = ?4, preview_seq = ?5,
                 last_message_at = max(last_message_at, ?6)
             WHERE id = ?1 AND (preview_seq IS NULL OR preview_seq <= ?5)",
        )?
        .execute(params![
            stored.conversation_id,
            preview_of(&stored),
            stored.kind,
            stored.outgoing,
            stored.seq,
            stored.at
        ])?;
    }
    Ok(stored)
}

/// The panel's line for a message: its text, else its kind.
fn preview_of(m: &ChatMessage) -> String {
    let text = m.text.as_deref().map(str::trim).unwrap_or("");
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        String::new()
    } else {
        line.chars().take(120).collect()
    }
}

fn read_conversation(row: &Row<'_>, now: i64) -> rusqlite::Result<ChatConversation> {
    let window_ends_at: Option<i64> = row.get(17)?;
    let state: String = row.get(8)?;
    Ok(ChatConversation {
        id: row.get(0)?,
        phone_number_id: row.get(1)?,
        business_number: row.get(2)?,
        wa_id: row.get(3)?,
        customer: row.get(4)?,
        customer_name: row.get(5)?,
        profile_name: row.get(6)?,
        queue: row.get(7)?,
        state: ChatState::parse(&state),
        agent_id: row.get(9)?,
        agent_name: row.get(10)?,
        mine: row.get(11)?,
        unread: count(row.get(12)?),
        last_message_at: row.get(13)?,
        preview: row.get(14)?,
        preview_kind: row.get(15)?,
        preview_outgoing: row.get(16)?,
        window_open: window_ends_at.is_some_and(|end| end > now),
        window_ends_at,
        pending_sends: count(row.get(18)?),
    })
}

/// A message row; the inner `Err` when a column holds what this version cannot read.
fn read_message(row: &Row<'_>) -> rusqlite::Result<Result<ChatMessage>> {
    let status: String = row.get(11)?;
    let direction: String = row.get(5)?;
    let seq: i64 = row.get(0)?;
    let Some(status) = ChatStatus::parse(&status) else {
        return Ok(Err(StoreError::CorruptRow {
            table: "chat_messages",
            id: seq.to_string(),
            reason: format!("status {status:?}"),
        }));
    };
    let error_code: Option<i64> = row.get(12)?;
    let error_kind: Option<String> = row.get(13)?;
    let error_title: Option<String> = row.get(14)?;
    let error_details: Option<String> = row.get(15)?;
    let error = (error_code.is_some()
        || error_kind.is_some()
        || error_title.is_some()
        || error_details.is_some())
    .then_some(ChatError {
        code: error_code,
        kind: error_kind,
        title: error_title,
        details: error_details,
    });
    Ok(Ok(ChatMessage {
        seq,
        hub_id: row.get(1)?,
        client_id: row.get(2)?,
        conversation_id: row.get(3)?,
        wamid: row.get(4)?,
        outgoing: direction == "out",
        kind: row.get(6)?,
        text: row.get(7)?,
        content: row.get(8)?,
        media_id: row.get(9)?,
        reply_to: row.get(10)?,
        status,
        error,
        agent_id: row.get(16)?,
        at: row.get(17)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_rank_agrees_with_the_rust_rank() {
        let store = Store::open_in_memory().unwrap();
        for status in [
            ChatStatus::Pending,
            ChatStatus::Queued,
            ChatStatus::Sending,
            ChatStatus::Accepted,
            ChatStatus::Sent,
            ChatStatus::Delivered,
            ChatStatus::Read,
            ChatStatus::Played,
            ChatStatus::Failed,
            ChatStatus::Received,
        ] {
            let sql = format!("SELECT {}", rank_sql("?1"));
            let rank: i64 = store
                .conn
                .query_row(&sql, [status.as_str()], |r| r.get(0))
                .unwrap();
            assert_eq!(rank, i64::from(status.rank()), "{status:?}");
            assert_eq!(ChatStatus::parse(status.as_str()), Some(status));
        }
    }

    fn conversation(id: i64, wa_id: &str, mine: bool, at: i64) -> ChatConversationFacts {
        ChatConversationFacts {
            id,
            phone_number_id: "106540352242922".into(),
            business_number: "+506 4000 4000".into(),
            wa_id: wa_id.into(),
            profile_name: format!("Cliente {id}"),
            queue: "ventas".into(),
            state: ChatState::Open,
            agent_id: mine.then_some(7),
            agent_name: mine.then(|| "Ana".to_owned()),
            mine,
            unread: 1,
            last_message_at: at,
            window_ends_at: Some(at + 86_400_000),
            facts_at: at,
        }
    }

    fn inbound(hub_id: i64, conversation: i64, text: &str) -> ChatMessage {
        ChatMessage {
            seq: 0,
            hub_id: Some(hub_id),
            client_id: None,
            conversation_id: conversation,
            wamid: Some(format!("wamid.{hub_id}")),
            outgoing: false,
            kind: "text".into(),
            text: Some(text.into()),
            content: format!(r#"{{"text":{{"body":"{text}"}}}}"#),
            media_id: None,
            reply_to: None,
            status: ChatStatus::Received,
            error: None,
            agent_id: None,
            at: hub_id * 1000,
        }
    }

    fn typed(client_id: &str, conversation: i64, text: &str) -> ChatMessage {
        ChatMessage {
            hub_id: None,
            client_id: Some(client_id.into()),
            wamid: None,
            outgoing: true,
            status: ChatStatus::Pending,
            agent_id: Some(7),
            ..inbound(0, conversation, text)
        }
    }

    fn plan(store: &Store, sql: &str) -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_page_of_a_5000_message_conversation_reads_the_timeline_index() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        store
            .upsert_chat_conversation(&conversation(2, "50688881234", true, 1))
            .unwrap();
        let mut all = Vec::new();
        for id in 1..=5000 {
            all.push(inbound(id * 2, 1, &format!("m{id}")));
            all.push(inbound(id * 2 + 1, 2, &format!("other {id}")));
        }
        store.upsert_chat_messages(&all).unwrap();
        store.chat_page_synced(1, None, Some(2), true).unwrap();
        let newest = store.chat_page(1, None, 100).unwrap();
        assert_eq!(newest.messages.len(), 100);
        assert_eq!(
            newest.messages.last().unwrap().text.as_deref(),
            Some("m5000")
        );
        assert_eq!(
            newest.messages.first().unwrap().text.as_deref(),
            Some("m4901")
        );
        assert!(newest.complete);
        let older = store.chat_page(1, newest.next_before, 100).unwrap();
        assert_eq!(
            older.messages.last().unwrap().text.as_deref(),
            Some("m4900")
        );
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages INDEXED BY chat_messages_timeline
             WHERE conversation_id = 1 AND seq < 5000 ORDER BY seq DESC LIMIT 100"
        );
        let p = plan(&store, &sql);
        assert!(p.contains("USING INDEX chat_messages_timeline"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let panel = plan(
            &store,
            &format!(
                "SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c
                 INDEXED BY chat_conversations_open WHERE c.state = 'open' AND c.mine = 1
                 ORDER BY c.last_message_at DESC, c.id DESC LIMIT 1000"
            ),
        );
        assert!(panel.contains("chat_conversations_open"), "{panel}");
        assert!(panel.contains("chat_messages_pending"), "{panel}");
        assert!(!panel.contains("TEMP B-TREE"), "{panel}");
    }

    #[test]
    fn statuses_never_go_back() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        let sent = ChatMessage {
            hub_id: Some(10),
            status: ChatStatus::Read,
            ..typed("c1", 1, "hola")
        };
        store.upsert_chat_message(&sent).unwrap();
        for late in [ChatStatus::Delivered, ChatStatus::Sent, ChatStatus::Queued] {
            let stored = store
                .upsert_chat_message(&ChatMessage {
                    status: late,
                    ..sent.clone()
                })
                .unwrap();
            assert_eq!(stored.status, ChatStatus::Read, "{late:?}");
        }
        let played = store
            .upsert_chat_message(&ChatMessage {
                status: ChatStatus::Played,
                ..sent.clone()
            })
            .unwrap();
        assert_eq!(played.status, ChatStatus::Played);
        let error = ChatError {
            code: Some(131026),
            kind: Some("whatsapp_undeliverable".into()),
            title: Some("Message undeliverable".into()),
            details: None,
        };
        let failed = store
            .upsert_chat_message(&ChatMessage {
                status: ChatStatus::Failed,
                error: Some(error.clone()),
                ..sent.clone()
            })
            .unwrap();
        assert_eq!(
            (failed.status, failed.error),
            (ChatStatus::Failed, Some(error))
        );
        let after = store
            .upsert_chat_message(&ChatMessage {
                status: ChatStatus::Read,
                ..sent
            })
            .unwrap();
        assert_eq!(after.status, ChatStatus::Failed, "failed stays");
    }

    #[test]
    fn a_pending_message_accepted_by_the_hub_stays_one_row() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        store.upsert_chat_message(&inbound(5, 1, "hola")).unwrap();
        let pending = store
            .queue_chat_send(
                &typed("c1", 1, "buenas"),
                r#"{"type":"text","body":"buenas"}"#,
            )
            .unwrap();
        assert_eq!(pending.status, ChatStatus::Pending);
        assert_eq!(pending.key(), "c:c1");
        // Queued again with the same client id: nothing new.
        store
            .queue_chat_send(
                &typed("c1", 1, "buenas"),
                r#"{"type":"text","body":"buenas"}"#,
            )
            .unwrap();
        assert_eq!(store.chat_counts().unwrap().pending_sends, 1);
        let c = store.chat_conversation(1).unwrap().unwrap();
        assert_eq!((c.preview.as_str(), c.pending_sends), ("buenas", 1));
        // The customer writes meanwhile; the typed message is still last.
        store
            .upsert_chat_message(&inbound(6, 1, "¿hay alguien?"))
            .unwrap();
        let page = store.chat_page(1, None, 10).unwrap();
        let texts: Vec<_> = page
            .messages
            .iter()
            .map(|m| m.text.clone().unwrap())
            .collect();
        assert_eq!(texts, ["hola", "¿hay alguien?", "buenas"]);

        let send = store.next_chat_send().unwrap().unwrap();
        assert_eq!((send.client_id.as_str(), send.conversation_id), ("c1", 1));
        // The hub's status event for it arrives before the send's own reply.
        let event = ChatMessage {
            hub_id: Some(7),
            status: ChatStatus::Sent,
            wamid: Some("wamid.out".into()),
            at: 7000,
            ..typed("c1", 1, "buenas")
        };
        store.upsert_chat_message(&event).unwrap();
        let reply = ChatMessage {
            status: ChatStatus::Queued,
            ..event.clone()
        };
        let accepted = store.chat_send_accepted("c1", &reply).unwrap();
        assert_eq!(accepted.hub_id, Some(7));
        assert_eq!(
            accepted.status,
            ChatStatus::Sent,
            "the reply's older status does not win"
        );
        assert_eq!(accepted.key(), "c:c1");
        assert_eq!(store.next_chat_send().unwrap(), None);
        let page = store.chat_page(1, None, 10).unwrap();
        assert_eq!(page.messages.len(), 3, "one row for the typed message");
        // Seen again by hub id only (a page from the hub): still one row.
        store
            .upsert_chat_message(&ChatMessage {
                client_id: None,
                status: ChatStatus::Delivered,
                ..event
            })
            .unwrap();
        let page = store.chat_page(1, None, 10).unwrap();
        assert_eq!(page.messages.len(), 3);
        assert_eq!(page.messages[2].status, ChatStatus::Delivered);
        let c = store.chat_conversation(1).unwrap().unwrap();
        assert_eq!((c.preview.as_str(), c.pending_sends), ("buenas", 0));
    }

    #[test]
    fn sends_leave_in_order_and_a_refusal_shows_failed() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        for n in 1..=3 {
            store
                .queue_chat_send(&typed(&format!("c{n}"), 1, "x"), "{}")
                .unwrap();
        }
        store
            .chat_send_attempt_failed("c1", "hub_unreachable")
            .unwrap();
        let head = store.next_chat_send().unwrap().unwrap();
        assert_eq!((head.client_id.as_str(), head.attempts), ("c1", 1));
        let refused = store
            .chat_send_refused(
                "c1",
                &ChatError {
                    kind: Some("window_closed".into()),
                    ..ChatError::default()
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!(refused.status, ChatStatus::Failed);
        assert_eq!(
            store.next_chat_send().unwrap().unwrap().client_id,
            "c2",
            "the next one in order"
        );
        assert_eq!(store.chat_counts().unwrap().pending_sends, 2);
    }

    #[test]
    fn a_file_send_keeps_its_file_and_the_hub_media_id_across_attempts() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        let mut doc = typed("f1", 1, "la cotización");
        doc.kind = "document".into();
        store
            .queue_chat_file_send(&doc, "{}", "/data/outgoing/queue/f1/quote.pdf")
            .unwrap();
        let head = store.next_chat_send().unwrap().unwrap();
        assert_eq!(
            head.staged_path.as_deref(),
            Some("/data/outgoing/queue/f1/quote.pdf")
        );
        assert_eq!(head.hub_media_id, None);
        store.chat_send_media_uploaded("f1", "m-123").unwrap();
        store
            .chat_send_attempt_failed("f1", "hub_unreachable")
            .unwrap();
        let again = store.next_chat_send().unwrap().unwrap();
        assert_eq!(again.hub_media_id.as_deref(), Some("m-123"));
        assert_eq!(again.attempts, 1);
        // A text has no file.
        store
            .queue_chat_send(&typed("t1", 1, "hola"), "{}")
            .unwrap();
        store
            .chat_send_accepted("f1", &typed("f1", 1, "x"))
            .unwrap();
        let text = store.next_chat_send().unwrap().unwrap();
        assert_eq!((text.staged_path, text.hub_media_id), (None, None));
    }

    #[test]
    fn the_panel_filters_searches_and_counts() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 30))
            .unwrap();
        store
            .upsert_chat_conversation(&conversation(2, "50688881234", false, 20))
            .unwrap();
        let mut attended = conversation(3, "5491161234567", true, 40);
        attended.state = ChatState::Attended;
        store.upsert_chat_conversation(&attended).unwrap();
        let ids = |list: Vec<ChatConversation>| list.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.chat_conversations(ChatFilter::Mine, "").unwrap()),
            [1]
        );
        assert_eq!(
            ids(store.chat_conversations(ChatFilter::Queues, "").unwrap()),
            [1, 2]
        );
        assert_eq!(
            ids(store
                .chat_conversations(ChatFilter::Unassigned, "")
                .unwrap()),
            [2]
        );
        // Search finds attended ones too, by number (any form's digits) or name.
        assert_eq!(
            ids(store
                .chat_conversations(ChatFilter::Queues, "1161")
                .unwrap()),
            [3]
        );
        assert_eq!(
            ids(store
                .chat_conversations(ChatFilter::Queues, "cliente 2")
                .unwrap()),
            [2]
        );
        assert_eq!(
            ids(store
                .chat_conversations(ChatFilter::Queues, "100%_")
                .unwrap()),
            Vec::<i64>::new()
        );
        let c = store.chat_conversation(1).unwrap().unwrap();
        assert_eq!(c.customer, "+525512345678", "E.164 without Mexico's 1");
        assert_eq!(
            store.chat_counts().unwrap(),
            ChatCounts {
                waiting: 1,
                unread: 1,
                pending_sends: 0
            }
        );
        store.set_chat_unread(1, 0).unwrap();
        assert_eq!(store.chat_counts().unwrap().unread, 0);
    }

    #[test]
    fn the_crm_name_comes_from_the_contacts_cache() {
        let store = Store::open_in_memory().unwrap();
        let contact = enlace_core::Contact {
            crm: enlace_core::Crm::Salesforce,
            crm_id: "003A".into(),
            kind: enlace_core::ContactKind::Contact,
            first_name: Some("Lucía".into()),
            last_name: Some("Pérez".into()),
            email: None,
            phone: Some("+52 55 1234 5678".into()),
            mobile: None,
            company: None,
        };
        store
            .upsert_contact(&contact, enlace_core::Country::parse("MX").unwrap())
            .unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        let c = store.chat_conversation(1).unwrap().unwrap();
        assert_eq!(c.customer_name.as_deref(), Some("Lucía Pérez"));
        assert_eq!(
            store
                .chat_conversations(ChatFilter::Mine, "lucía")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_timeline_is_not_known_whole_once_the_conversation_changes_hands() {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 1))
            .unwrap();
        store.upsert_chat_message(&inbound(5, 1, "hola")).unwrap();
        store.chat_page_synced(1, None, Some(5), true).unwrap();
        assert!(store.chat_page(1, None, 10).unwrap().complete);
        // Same agent, newer facts: still whole.
        store
            .upsert_chat_conversation(&conversation(1, "5215512345678", true, 2))
            .unwrap();
        assert!(store.chat_page(1, None, 10).unwrap().complete);
        // Another agent has it (its messages do not reach this agent): not whole any more.
        let mut theirs = conversation(1, "5215512345678", false, 3);
        theirs.agent_id = Some(9);
        store.upsert_chat_conversation(&theirs).unwrap();
        assert!(!store.chat_page(1, None, 10).unwrap().complete);
    }

    #[test]
    fn older_facts_do_not_undo_newer_ones() {
        let store = Store::open_in_memory().unwrap();
        let mut attended = conversation(1, "5215512345678", false, 100);
        attended.state = ChatState::Attended;
        attended.facts_at = 500;
        store.upsert_chat_conversation(&attended).unwrap();
        // A replayed event from before it was attended.
        let replayed = conversation(1, "5215512345678", true, 100);
        store.upsert_chat_conversation(&replayed).unwrap();
        let c = store.chat_conversation(1).unwrap().unwrap();
        assert_eq!((c.state, c.mine), (ChatState::Attended, false));
        // The customer writes again later: open again.
        let reopened = ChatConversationFacts {
            facts_at: 600,
            ..conversation(1, "5215512345678", true, 600)
        };
        store.upsert_chat_conversation(&reopened).unwrap();
        let c = store.chat_conversation(1).unwrap().unwrap();
        assert_eq!((c.state, c.mine), (ChatState::Open, true));
        // A list read before that does not retire it.
        store.sync_chat_conversations(&[], &[], 550).unwrap();
        assert_eq!(
            store.chat_conversation(1).unwrap().unwrap().state,
            ChatState::Open
        );
        store.sync_chat_conversations(&[], &[], 700).unwrap();
        assert_eq!(
            store.chat_conversation(1).unwrap().unwrap().state,
            ChatState::Attended
        );
    }
}
