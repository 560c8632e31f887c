//! The WhatsApp tables (migration 0003): raw webhooks, conversations, messages (the outbox is
//! the outbound messages still `queued`), statuses that came before their message's send reply,
//! comments, quick addresses, canned responses, the template cache, media records and alerts
//! for administrators. Part of [`Store`]: still the only place that speaks SQL.

use sqlx::any::AnyRow;
use sqlx::Row;

use enlace_core::CustomerNumber;

use super::{map_unique, Store, StoreError};

/// The key a customer's conversations are found by: the [`enlace_core::NumberKey`] of the
/// `wa_id` (so `5215512345678` and `525512345678` are one customer), or its digits when it does
/// not resolve (nothing is lost, it just matches itself only).
pub fn wa_customer_key(wa_id: &str) -> String {
    match CustomerNumber::from_wa_id(wa_id) {
        Ok(number) => number.into_key().as_str().to_owned(),
        Err(_) => wa_id.chars().filter(char::is_ascii_digit).collect(),
    }
}

/// One conversation: a business number and a customer (by number key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: i64,
    pub phone_number_id: String,
    /// The customer's number key ([`wa_customer_key`]); unique per business number.
    pub customer_key: String,
    /// The latest `wa_id` the customer wrote from (or a send reply named): where replies go.
    pub wa_id: String,
    pub profile_name: String,
    pub queue: String,
    /// `open` or `attended`.
    pub state: String,
    pub agent_id: Option<i64>,
    /// The agent who served the customer last (sticky routing).
    pub last_agent_id: Option<i64>,
    /// The last customer message (ms): the 24-hour window runs from it.
    pub last_customer_at: Option<i64>,
    pub window_warned_at: Option<i64>,
    pub unread: i64,
    pub last_message_at: i64,
    pub created_at: i64,
}

/// An agent of a queue as routing sees it ([`Store::wa_queue_candidates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingCandidate {
    pub agent_id: i64,
    /// The newest state of its log (`available`, `on_call`, `paused`, `logged_out`); `None`
    /// when it never had one.
    pub state: Option<String>,
    pub reason_id: Option<i64>,
    /// Whether `reason_id` names a pause reason that exists.
    pub reason_exists: bool,
    /// Open conversations assigned to it.
    pub open: i64,
}

/// One message, inbound (`in`) or outbound (`out`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: i64,
    pub direction: String,
    pub wamid: Option<String>,
    pub client_id: Option<String>,
    pub msg_type: String,
    /// JSON: the message's content (inbound: as received; outbound: the send request).
    pub content: String,
    pub media_id: Option<String>,
    /// `received`, `queued`, `sending`, `accepted`, `sent`, `delivered`, `read`, `played`,
    /// `failed`.
    pub status: String,
    pub status_rank: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub agent_id: Option<i64>,
    pub at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// A status update to apply to a message (keeps the highest rank).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFact {
    pub wamid: String,
    pub status: String,
    pub rank: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub id: i64,
    pub conversation_id: i64,
    pub agent_id: i64,
    pub body: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRow {
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    /// JSON array, as Meta gives it.
    pub components: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    pub id: String,
    pub mime_type: String,
    pub size: i64,
    pub sha256: String,
    pub filename: Option<String>,
    pub wa_media_id: Option<String>,
    pub created_at: i64,
}

/// A new outbound message.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub conversation_id: i64,
    pub client_id: &'a str,
    pub msg_type: &'a str,
    pub content: &'a str,
    pub media_id: Option<&'a str>,
    pub agent_id: Option<i64>,
    pub at: i64,
}

/// A new inbound message.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    pub conversation_id: i64,
    pub wamid: &'a str,
    pub msg_type: &'a str,
    pub content: &'a str,
    pub media_id: Option<&'a str>,
    pub at: i64,
}

fn conversation_from_row(r: &AnyRow) -> Result<ConversationRow, StoreError> {
    Ok(ConversationRow {
        id: r.try_get("id")?,
        phone_number_id: r.try_get("phone_number_id")?,
        customer_key: r.try_get("customer_key")?,
        wa_id: r.try_get("wa_id")?,
        profile_name: r.try_get("profile_name")?,
        queue: r.try_get("queue")?,
        state: r.try_get("state")?,
        agent_id: r.try_get("agent_id")?,
        last_agent_id: r.try_get("last_agent_id")?,
        last_customer_at: r.try_get("last_customer_at")?,
        window_warned_at: r.try_get("window_warned_at")?,
        unread: r.try_get("unread")?,
        last_message_at: r.try_get("last_message_at")?,
        created_at: r.try_get("created_at")?,
    })
}

fn message_from_row(r: &AnyRow) -> Result<MessageRow, StoreError> {
    Ok(MessageRow {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        direction: r.try_get("direction")?,
        wamid: r.try_get("wamid")?,
        client_id: r.try_get("client_id")?,
        msg_type: r.try_get("msg_type")?,
        content: r.try_get("content")?,
        media_id: r.try_get("media_id")?,
        status: r.try_get("status")?,
        status_rank: r.try_get("status_rank")?,
        error_code: r.try_get("error_code")?,
        error_title: r.try_get("error_title")?,
        error_details: r.try_get("error_details")?,
        agent_id: r.try_get("agent_id")?,
        at: r.try_get("at")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
    })
}

impl Store {
    // ---- raw webhooks ----

    /// Stores a signed webhook body before it is acknowledged; returns its id.
    pub async fn insert_wa_webhook(&self, body: &str, now: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("INSERT INTO wa_webhooks (body, received_at) VALUES ($1, $2) RETURNING id")
                .bind(body)
                .bind(now)
                .fetch_one(&self.pool)
                .await?
                .try_get("id")?,
        )
    }

    /// Webhooks not processed yet, oldest first.
    pub async fn pending_wa_webhooks(&self, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM wa_webhooks WHERE processed_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("body")?)))
            .collect()
    }

    pub async fn finish_wa_webhook(
        &self,
        id: i64,
        now: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE wa_webhooks SET processed_at = $1, error = $2 WHERE id = $3")
            .bind(now)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes processed webhook bodies received before `before`; returns how many.
    pub async fn prune_wa_webhooks(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM wa_webhooks WHERE processed_at IS NOT NULL AND received_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// How many webhooks are stored, and how many of them wait to be processed.
    pub async fn wa_webhook_counts(&self) -> Result<(i64, i64), StoreError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END), 0) AS pending FROM wa_webhooks",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("total")?, r.try_get("pending")?))
    }

    // ---- conversations ----

    pub async fn wa_conversation(&self, id: i64) -> Result<Option<ConversationRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM wa_conversations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// The conversation of the customer whose number `wa_id` is (any of its forms, or its key).
    pub async fn wa_conversation_by_key(
        &self,
        phone_number_id: &str,
        wa_id: &str,
    ) -> Result<Option<ConversationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM wa_conversations WHERE phone_number_id = $1 AND customer_key = $2",
        )
        .bind(phone_number_id)
        .bind(wa_customer_key(wa_id))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// Creates the conversation of the customer `wa_id` resolves to (state `open`, unassigned,
    /// replies to `wa_id`) or returns the existing one's id (its address unchanged).
    pub async fn ensure_wa_conversation(
        &self,
        phone_number_id: &str,
        wa_id: &str,
        queue: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO wa_conversations (phone_number_id, customer_key, wa_id, queue, state, last_message_at, created_at) \
             VALUES ($1, $2, $3, $4, 'open', $5, $5) ON CONFLICT (phone_number_id, customer_key) DO NOTHING RETURNING id",
        )
        .bind(phone_number_id)
        .bind(wa_customer_key(wa_id))
        .bind(wa_id)
        .bind(queue)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = inserted {
            return Ok(r.try_get("id")?);
        }
        let existing = self
            .wa_conversation_by_key(phone_number_id, wa_id)
            .await?
            .ok_or_else(|| StoreError::Invalid("conversation vanished".into()))?;
        Ok(existing.id)
    }

    /// A customer message arrived from `wa_id`: name, window start (never moved back), unread
    /// count; `wa_id` becomes the reply address unless a later message came before it.
    pub async fn touch_wa_conversation_inbound(
        &self,
        id: i64,
        wa_id: &str,
        profile_name: Option<&str>,
        customer_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wa_conversations SET profile_name = COALESCE($1, profile_name), \
             wa_id = CASE WHEN last_customer_at IS NULL OR last_customer_at <= $2 THEN $5 ELSE wa_id END, \
             last_customer_at = CASE WHEN last_customer_at IS NULL OR last_customer_at < $2 THEN $2 ELSE last_customer_at END, \
             unread = unread + 1, last_message_at = $3 WHERE id = $4",
        )
        .bind(profile_name)
        .bind(customer_at)
        .bind(now)
        .bind(id)
        .bind(wa_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn touch_wa_conversation(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE wa_conversations SET last_message_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets state and agent; the agent (when any) becomes the conversation's last agent.
    pub async fn set_wa_conversation(
        &self,
        id: i64,
        state: &str,
        agent_id: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wa_conversations SET state = $1, agent_id = $2, \
             last_agent_id = COALESCE($2, last_agent_id) WHERE id = $3",
        )
        .bind(state)
        .bind(agent_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Assigns an unassigned open conversation to `agent_id`; `false` when someone else has it.
    pub async fn take_wa_conversation(&self, id: i64, agent_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE wa_conversations SET agent_id = $1, last_agent_id = $1 \
             WHERE id = $2 AND (agent_id IS NULL OR agent_id = $1)",
        )
        .bind(agent_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unassigns an open conversation `agent_id` has; it stops being sticky to that agent.
    /// `false` when it was not theirs (any more).
    pub async fn release_wa_conversation(
        &self,
        id: i64,
        agent_id: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE wa_conversations SET last_agent_id = CASE WHEN last_agent_id = agent_id \
             THEN NULL ELSE last_agent_id END, agent_id = NULL \
             WHERE id = $1 AND state = 'open' AND agent_id = $2",
        )
        .bind(id)
        .bind(agent_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn mark_wa_conversation_read(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE wa_conversations SET unread = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Inbound media messages whose file the hub does not have yet, received after `since`.
    pub async fn wa_media_missing(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM wa_messages WHERE direction = 'in' AND media_id IS NULL AND at >= $1 \
             AND msg_type IN ('image', 'audio', 'video', 'document', 'sticker') ORDER BY id LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Open conversations waiting for an agent (with a queue), oldest activity first.
    pub async fn wa_unassigned_open(&self, limit: i64) -> Result<Vec<ConversationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM wa_conversations WHERE state = 'open' AND agent_id IS NULL \
             AND queue <> '' ORDER BY last_message_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(conversation_from_row).collect()
    }

    /// What routing needs of every enabled agent of `queue`, in one query: the current state
    /// (the newest row of its log), whether a pause's reason still exists, and the number of
    /// open conversations it has.
    pub async fn wa_queue_candidates(
        &self,
        queue: &str,
    ) -> Result<Vec<RoutingCandidate>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id AS id, s.state AS state, s.reason_id AS reason_id, p.id AS reason_found, \
             (SELECT COUNT(*) FROM wa_conversations c \
              WHERE c.agent_id = a.id AND c.state = 'open') AS open \
             FROM agents a \
             JOIN agent_queues q ON q.agent_id = a.id AND q.queue = $1 \
             LEFT JOIN agent_state_log s ON s.id = \
              (SELECT MAX(l.id) FROM agent_state_log l WHERE l.agent_id = a.id) \
             LEFT JOIN pause_reasons p ON p.id = s.reason_id \
             WHERE a.disabled = 0 ORDER BY a.id",
        )
        .bind(queue)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RoutingCandidate {
                    agent_id: r.try_get("id")?,
                    state: r.try_get::<Option<String>, _>("state")?,
                    reason_id: r.try_get("reason_id")?,
                    reason_exists: r.try_get::<Option<i64>, _>("reason_found")?.is_some(),
                    open: r.try_get("open")?,
                })
            })
            .collect()
    }

    /// The enabled agents of `queue` (one query).
    pub async fn queue_agent_ids(&self, queue: &str) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id AS id FROM agents a JOIN agent_queues q ON q.agent_id = a.id \
             WHERE q.queue = $1 AND a.disabled = 0 ORDER BY a.id",
        )
        .bind(queue)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Open conversations per assigned agent.
    pub async fn wa_open_counts(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent_id, COUNT(*) AS n FROM wa_conversations \
             WHERE state = 'open' AND agent_id IS NOT NULL GROUP BY agent_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("agent_id")?, r.try_get("n")?)))
            .collect()
    }

    /// Conversations, newest activity first: `all` (supervisors) or the open ones assigned to
    /// `agent_id` plus every open one of `queues` (unassigned or assigned to others); `search` matches the customer's
    /// name or number (any state): part of the wa_id or of the number key, or the key of the
    /// number written in any form (`+52 55 1234 5678` finds the wa_id `5215512345678`).
    pub async fn wa_conversations(
        &self,
        agent_id: i64,
        queues: &[String],
        all: bool,
        search: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        let needle = search
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        // The digits of a number-like needle, and the key they resolve to.
        let number = needle.as_deref().and_then(|n| {
            let digits: String = n.chars().filter(char::is_ascii_digit).collect();
            (!digits.is_empty()).then(|| {
                let key = wa_customer_key(&digits);
                (digits, key)
            })
        });
        // Narrowed in SQL (open ones, or the search's matches); visibility checked below.
        let rows = match &needle {
            None => {
                sqlx::query(
                    "SELECT * FROM wa_conversations WHERE state = 'open' \
                     ORDER BY last_message_at DESC, id DESC",
                )
                .fetch_all(&self.pool)
                .await?
            }
            Some(n) => {
                let like = |s: &str| {
                    format!(
                        "%{}%",
                        s.replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_")
                    )
                };
                let (digits, key) = match &number {
                    Some((digits, key)) => (like(digits), like(key)),
                    None => (like(n), like(n)),
                };
                sqlx::query(
                    "SELECT * FROM wa_conversations WHERE wa_id LIKE $1 ESCAPE '\\' \
                     OR LOWER(profile_name) LIKE $1 ESCAPE '\\' \
                     OR wa_id LIKE $2 ESCAPE '\\' OR customer_key LIKE $2 ESCAPE '\\' \
                     OR customer_key LIKE $3 ESCAPE '\\' \
                     ORDER BY last_message_at DESC, id DESC",
                )
                .bind(like(n))
                .bind(digits)
                .bind(key)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut out = Vec::new();
        for r in &rows {
            let c = conversation_from_row(r)?;
            let visible = match &needle {
                Some(n) => {
                    let number_matches = number.as_ref().is_some_and(|(digits, key)| {
                        c.wa_id.contains(digits.as_str())
                            || c.customer_key.contains(digits.as_str())
                            || c.customer_key.contains(key.as_str())
                    });
                    (all || c.agent_id == Some(agent_id) || queues.contains(&c.queue))
                        && (number_matches
                            || c.wa_id.contains(n.as_str())
                            || c.profile_name.to_lowercase().contains(n.as_str()))
                }
                None => {
                    c.state == "open"
                        && (all || c.agent_id == Some(agent_id) || queues.contains(&c.queue))
                }
            };
            if visible {
                out.push(c);
                if out.len() as i64 >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Open conversations whose window ends within `lead` ms of `now` (and has not ended) and
    /// that were not warned for this window yet; each is marked warned.
    pub async fn wa_windows_closing(
        &self,
        now: i64,
        window: i64,
        lead: i64,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM wa_conversations WHERE state = 'open' AND last_customer_at IS NOT NULL \
             AND last_customer_at + $1 - $2 <= $3 AND last_customer_at + $1 > $3 \
             AND (window_warned_at IS NULL OR window_warned_at <> last_customer_at)",
        )
        .bind(window)
        .bind(lead)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let c = conversation_from_row(r)?;
            let claimed = sqlx::query(
                "UPDATE wa_conversations SET window_warned_at = last_customer_at \
                 WHERE id = $1 AND (window_warned_at IS NULL OR window_warned_at <> last_customer_at)",
            )
            .bind(c.id)
            .execute(&self.pool)
            .await?;
            if claimed.rows_affected() == 1 {
                out.push(c);
            }
        }
        Ok(out)
    }

    // ---- messages ----

    /// Stores an inbound message once: `None` when its wamid is already stored (Meta's retries).
    pub async fn insert_wa_inbound(&self, m: &NewInbound<'_>) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO wa_messages (conversation_id, direction, wamid, msg_type, content, media_id, status, at) \
             VALUES ($1, 'in', $2, $3, $4, $5, 'received', $6) ON CONFLICT (wamid) DO NOTHING RETURNING id",
        )
        .bind(m.conversation_id)
        .bind(m.wamid)
        .bind(m.msg_type)
        .bind(m.content)
        .bind(m.media_id)
        .bind(m.at)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("id").map_err(StoreError::from))
            .transpose()
    }

    /// Queues an outbound message. A `client_id` already stored returns that message instead
    /// (`false`): a client's retry never sends twice.
    pub async fn insert_wa_outbound(
        &self,
        m: &NewOutbound<'_>,
    ) -> Result<(MessageRow, bool), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO wa_messages (conversation_id, direction, client_id, msg_type, content, media_id, status, agent_id, at, next_attempt_at) \
             VALUES ($1, 'out', $2, $3, $4, $5, 'queued', $6, $7, 0) ON CONFLICT (client_id) DO NOTHING RETURNING id",
        )
        .bind(m.conversation_id)
        .bind(m.client_id)
        .bind(m.msg_type)
        .bind(m.content)
        .bind(m.media_id)
        .bind(m.agent_id)
        .bind(m.at)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_unique)?;
        let created = inserted.is_some();
        let row = self
            .wa_message_by_client_id(m.client_id)
            .await?
            .ok_or_else(|| StoreError::Invalid("outbound message vanished".into()))?;
        Ok((row, created))
    }

    pub async fn wa_message_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM wa_messages WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    pub async fn wa_message(&self, id: i64) -> Result<Option<MessageRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM wa_messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    pub async fn wa_message_by_wamid(&self, wamid: &str) -> Result<Option<MessageRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM wa_messages WHERE wamid = $1")
            .bind(wamid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// The newest message of each of these conversations (one query; those without messages
    /// are absent).
    pub async fn wa_last_messages(
        &self,
        conversation_ids: &[i64],
    ) -> Result<Vec<MessageRow>, StoreError> {
        let mut out = Vec::new();
        // Bound parameters stay well under every database's limit.
        for chunk in conversation_ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT * FROM wa_messages WHERE id IN (SELECT MAX(id) FROM wa_messages \
                 WHERE conversation_id IN ({}) GROUP BY conversation_id)",
                marks.join(", ")
            );
            // Only numbered placeholders are formatted in; the ids are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(message_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// An agent's display name.
    pub async fn agent_name(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("name")?),
            None => None,
        })
    }

    /// Every agent's display name, by id (one query).
    pub async fn agent_names(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, name FROM agents")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect()
    }

    /// A page of a conversation's messages, oldest first: those with id below `before` (all
    /// when `None`), the newest `limit` of them.
    pub async fn wa_messages(
        &self,
        conversation_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM wa_messages WHERE conversation_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(conversation_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Applies a status when it outranks the stored one; the updated message, or `None` when
    /// the message is unknown or already further along.
    pub async fn apply_wa_status(&self, s: &StatusFact) -> Result<Option<MessageRow>, StoreError> {
        let done = sqlx::query(
            "UPDATE wa_messages SET status = $1, status_rank = $2, \
             error_code = COALESCE($3, error_code), error_title = COALESCE($4, error_title), \
             error_details = COALESCE($5, error_details) \
             WHERE wamid = $6 AND status_rank < $2",
        )
        .bind(&s.status)
        .bind(s.rank)
        .bind(s.error_code)
        .bind(&s.error_title)
        .bind(&s.error_details)
        .bind(&s.wamid)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.wa_message_by_wamid(&s.wamid).await
    }

    /// Keeps a status whose message has no wamid yet (it came before the send reply).
    pub async fn insert_wa_early_status(&self, s: &StatusFact) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wa_early_statuses (wamid, status, status_rank, error_code, error_title, error_details, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.wamid)
        .bind(&s.status)
        .bind(s.rank)
        .bind(s.error_code)
        .bind(&s.error_title)
        .bind(&s.error_details)
        .bind(s.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes and returns the early statuses of `wamid`.
    pub async fn take_wa_early_statuses(&self, wamid: &str) -> Result<Vec<StatusFact>, StoreError> {
        let rows = sqlx::query("DELETE FROM wa_early_statuses WHERE wamid = $1 RETURNING *")
            .bind(wamid)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusFact {
                    wamid: r.try_get("wamid")?,
                    status: r.try_get("status")?,
                    rank: r.try_get("status_rank")?,
                    error_code: r.try_get("error_code")?,
                    error_title: r.try_get("error_title")?,
                    error_details: r.try_get("error_details")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    // ---- outbox ----

    /// The next message of each conversation whose outbox is not busy, due at `now`, oldest
    /// first: a conversation's later messages wait while an earlier one is queued or sending.
    pub async fn wa_outbox_due(&self, now: i64, limit: i64) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM wa_messages m WHERE m.direction = 'out' AND m.status = 'queued' \
             AND m.next_attempt_at <= $1 AND m.id = (SELECT MIN(o.id) FROM wa_messages o \
             WHERE o.conversation_id = m.conversation_id AND o.direction = 'out' \
             AND o.status IN ('queued', 'sending')) ORDER BY m.id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Messages left `sending` by a hub that stopped mid-call go back to the queue, due at
    /// `next_at` (meanwhile a status webhook naming them may show Meta had them).
    pub async fn requeue_wa_sending(&self, next_at: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE wa_messages SET status = 'queued', next_attempt_at = $1 WHERE status = 'sending'",
        )
        .bind(next_at)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Claims a queued message for sending; `false` when another worker has it.
    pub async fn claim_wa_outbound(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE wa_messages SET status = 'sending', attempts = attempts + 1 \
             WHERE id = $1 AND status = 'queued'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Meta accepted it: its wamid, status `accepted` (statuses already applied stay).
    pub async fn mark_wa_accepted(&self, id: i64, wamid: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wa_messages SET wamid = $1, status = CASE WHEN status_rank = 0 THEN 'accepted' ELSE status END, \
             error_code = NULL, error_title = NULL, error_details = NULL WHERE id = $2",
        )
        .bind(wamid)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Back to the queue until `next_at`, with the error that delayed it.
    pub async fn reschedule_wa_outbound(
        &self,
        id: i64,
        next_at: i64,
        error_code: Option<i64>,
        error_title: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wa_messages SET status = 'queued', next_attempt_at = $1, error_code = $2, \
             error_title = $3 WHERE id = $4 AND wamid IS NULL",
        )
        .bind(next_at)
        .bind(error_code)
        .bind(error_title)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn fail_wa_outbound(
        &self,
        id: i64,
        error_code: Option<i64>,
        error_title: &str,
        error_details: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wa_messages SET status = 'failed', status_rank = 2, error_code = $1, \
             error_title = $2, error_details = $3 WHERE id = $4 AND wamid IS NULL",
        )
        .bind(error_code)
        .bind(error_title)
        .bind(error_details)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- comments, quick addresses, canned responses ----

    pub async fn insert_wa_comment(
        &self,
        conversation_id: i64,
        agent_id: i64,
        body: &str,
        at: i64,
    ) -> Result<CommentRow, StoreError> {
        let id: i64 = sqlx::query(
            "INSERT INTO wa_comments (conversation_id, agent_id, body, at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(conversation_id)
        .bind(agent_id)
        .bind(body)
        .bind(at)
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?;
        Ok(CommentRow {
            id,
            conversation_id,
            agent_id,
            body: body.to_owned(),
            at,
        })
    }

    pub async fn wa_comments(&self, conversation_id: i64) -> Result<Vec<CommentRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM wa_comments WHERE conversation_id = $1 ORDER BY id")
            .bind(conversation_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CommentRow {
                    id: r.try_get("id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    agent_id: r.try_get("agent_id")?,
                    body: r.try_get("body")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    pub async fn insert_wa_quick_address(
        &self,
        name: &str,
        address: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO wa_quick_addresses (name, address, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(address)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(map_unique)?
        .try_get("id")?)
    }

    pub async fn wa_quick_addresses(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, name, address FROM wa_quick_addresses ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("address")?)))
            .collect()
    }

    pub async fn insert_wa_canned_response(
        &self,
        shortcut: &str,
        body: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO wa_canned_responses (shortcut, body, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(shortcut)
        .bind(body)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(map_unique)?
        .try_get("id")?)
    }

    pub async fn wa_canned_responses(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, shortcut, body FROM wa_canned_responses ORDER BY shortcut")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("shortcut")?, r.try_get("body")?)))
            .collect()
    }

    // ---- templates, media, alerts ----

    /// Replaces the cached templates.
    pub async fn replace_wa_templates(
        &self,
        templates: &[TemplateRow],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM wa_templates")
            .execute(&mut *tx)
            .await?;
        for t in templates {
            sqlx::query(
                "INSERT INTO wa_templates (name, language, status, category, components, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name, language) DO NOTHING",
            )
            .bind(&t.name)
            .bind(&t.language)
            .bind(&t.status)
            .bind(&t.category)
            .bind(&t.components)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The cached templates and when they were fetched (`None`: never).
    pub async fn wa_templates(&self) -> Result<(Vec<TemplateRow>, Option<i64>), StoreError> {
        let rows = sqlx::query("SELECT * FROM wa_templates ORDER BY name, language")
            .fetch_all(&self.pool)
            .await?;
        let mut fetched = None;
        let mut out = Vec::new();
        for r in &rows {
            fetched = Some(r.try_get::<i64, _>("fetched_at")?);
            out.push(TemplateRow {
                name: r.try_get("name")?,
                language: r.try_get("language")?,
                status: r.try_get("status")?,
                category: r.try_get("category")?,
                components: r.try_get("components")?,
            });
        }
        Ok((out, fetched))
    }

    pub async fn insert_wa_media(&self, m: &MediaRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wa_media (id, mime_type, size, sha256, filename, wa_media_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&m.id)
        .bind(&m.mime_type)
        .bind(m.size)
        .bind(&m.sha256)
        .bind(&m.filename)
        .bind(&m.wa_media_id)
        .bind(m.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn wa_media(&self, id: &str) -> Result<Option<MediaRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM wa_media WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(MediaRow {
                id: r.try_get("id")?,
                mime_type: r.try_get("mime_type")?,
                size: r.try_get("size")?,
                sha256: r.try_get("sha256")?,
                filename: r.try_get("filename")?,
                wa_media_id: r.try_get("wa_media_id")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn insert_wa_alert(
        &self,
        code: &str,
        detail: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO wa_alerts (code, detail, at) VALUES ($1, $2, $3)")
            .bind(code)
            .bind(detail)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Alerts for administrators, oldest first: (code, detail, at).
    pub async fn wa_alerts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT code, detail, at FROM wa_alerts ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("code")?, r.try_get("detail")?, r.try_get("at")?)))
            .collect()
    }
}

impl Store {
    /// The send reply named the customer's real `wa_id`: the conversation takes it as its
    /// address (and its key), or its messages move to the conversation that already has that
    /// customer, which then replies to `wa_id`.
    pub async fn rekey_wa_conversation(&self, id: i64, wa_id: &str) -> Result<i64, StoreError> {
        let Some(conversation) = self.wa_conversation(id).await? else {
            return Ok(id);
        };
        if let Some(existing) = self
            .wa_conversation_by_key(&conversation.phone_number_id, wa_id)
            .await?
            .filter(|c| c.id != id)
        {
            let mut tx = self.pool.begin().await?;
            for statement in [
                "UPDATE wa_messages SET conversation_id = $1 WHERE conversation_id = $2",
                "UPDATE wa_comments SET conversation_id = $1 WHERE conversation_id = $2",
            ] {
                sqlx::query(statement)
                    .bind(existing.id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM wa_conversations WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE wa_conversations SET wa_id = $1 WHERE id = $2")
                .bind(wa_id)
                .bind(existing.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(existing.id);
        }
        sqlx::query("UPDATE wa_conversations SET wa_id = $1, customer_key = $2 WHERE id = $3")
            .bind(wa_id)
            .bind(wa_customer_key(wa_id))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
        Ok(id)
    }

    /// Records the hub media kept for an inbound message.
    pub async fn set_wa_message_media(
        &self,
        message_id: i64,
        media_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE wa_messages SET media_id = $1 WHERE id = $2")
            .bind(media_id)
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_wa_media_remote(&self, id: &str, wa_media_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE wa_media SET wa_media_id = $1 WHERE id = $2")
            .bind(wa_media_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
