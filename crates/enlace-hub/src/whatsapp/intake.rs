//! Meta's webhook: `GET /webhooks/whatsapp` (the subscription handshake) and
//! `POST /webhooks/whatsapp` (events). A POST is checked against `X-Hub-Signature-256` over the
//! raw bytes (constant time; missing or wrong: 401 and nothing stored), stored as received,
//! answered 200, and processed afterwards by the worker ([`Hub::wa_process_webhooks`]), so the
//! answer stays fast whatever the processing costs and nothing acknowledged is lost.
//!
//! Processing takes every entry, change, message and status of the batch. A wamid is stored
//! once however often Meta retries (a unique column); unknown fields and types are kept (the
//! message's own JSON is its content); a status keeps the highest rank, and one that comes
//! before its message's send reply waits in `wa_early_statuses` until the outbox learns the
//! wamid. A message for a number not in `[[whatsapp.numbers]]` is stored in a conversation
//! without a queue (supervisors see it) and reported to administrators.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use enlace_hub_api::whatsapp as wire;
use enlace_hub_api::HubEvent;
use enlace_whatsapp::{
    parse_webhook, verify_signature, verify_subscription_query, ApiError, InboundMessage,
    MessagesValue, StatusUpdate, SIGNATURE_HEADER,
};
use serde_json::{json, Value};

use crate::error::HubError;
use crate::store::{NewInbound, StatusFact};
use crate::Hub;

/// Webhook bodies processed per round.
const BATCH: i64 = 64;
/// A webhook whose processing failed this many times in a row is set aside (marked processed
/// with its error, administrators told) so the ones after it are not held up; its body stays.
const MAX_FAILURES: u32 = 5;
/// Processed webhook bodies are kept this long (Meta retries for 7 days), then removed.
pub const WEBHOOK_RETENTION_MS: i64 = 8 * 86_400_000;

/// Meta's subscription handshake: 200 with `hub.challenge` as plain text when `hub.mode` is
/// `subscribe` and `hub.verify_token` matches, otherwise 403.
#[utoipa::path(get, path = "/webhooks/whatsapp", tag = "webhooks",
    params(
        ("hub.mode" = String, Query, description = "subscribe"),
        ("hub.verify_token" = String, Query, description = "whatsapp.verify_token"),
        ("hub.challenge" = String, Query, description = "Echoed back"),
    ),
    responses(
        (status = 200, description = "The challenge", content_type = "text/plain", body = String),
        (status = 403, description = "Refused"),
    ))]
pub(crate) async fn verify(State(hub): State<Hub>, RawQuery(query): RawQuery) -> Response {
    let expected = hub
        .wa()
        .settings
        .as_ref()
        .map(|s| s.verify_token.as_str())
        .unwrap_or("");
    match verify_subscription_query(query.as_deref().unwrap_or(""), expected) {
        Ok(challenge) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            challenge,
        )
            .into_response(),
        Err(refused) => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"code": refused.code(), "message": refused.to_string()})),
        )
            .into_response(),
    }
}

/// Meta's events: `X-Hub-Signature-256` checked over the raw body (401 when missing or wrong,
/// nothing stored), the body stored, then 200; processed afterwards.
#[utoipa::path(post, path = "/webhooks/whatsapp", tag = "webhooks",
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=HMAC(app secret, body)")),
    request_body(content = String, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored"),
        (status = 401, description = "Signature missing or wrong"),
        (status = 500, description = "Not stored: Meta retries"),
    ))]
pub(crate) async fn receive(State(hub): State<Hub>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = hub.wa().app_secret.as_ref() else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": "whatsapp_not_configured", "message": "no app secret"})),
        )
            .into_response();
    };
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let check = verify_signature(secret, header, &body);
    if let Some(code) = check.code() {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": code, "message": "the webhook signature does not match"})),
        )
            .into_response();
    }
    let text = String::from_utf8_lossy(&body);
    match hub.store().insert_wa_webhook(&text, hub.now()).await {
        Ok(_) => {
            hub.wa().wake.notify_one();
            StatusCode::OK.into_response()
        }
        // Not acknowledged: Meta retries.
        Err(e) => HubError::Store(e).into_response(),
    }
}

fn status_fact(s: &StatusUpdate) -> StatusFact {
    let error = s.errors.first();
    StatusFact {
        wamid: s.wamid.clone(),
        status: s.status.as_str().to_owned(),
        rank: i64::from(s.status.rank()),
        error_code: error.map(|e| e.code),
        error_title: error.map(|e| e.title.clone()),
        error_details: error.and_then(|e| e.details.clone()),
        at: s.timestamp.saturating_mul(1000),
    }
}

impl Hub {
    /// Processes stored webhooks in the order they arrived (the worker calls it).
    pub async fn wa_process_webhooks(&self) -> Result<usize, HubError> {
        let mut done = 0;
        loop {
            let pending = self.store().pending_wa_webhooks(BATCH).await?;
            if pending.is_empty() {
                return Ok(done);
            }
            for (id, body) in pending {
                let error = match parse_webhook(body.as_bytes()) {
                    Ok(batch) => {
                        let mut failed = None;
                        for value in batch.messages_values() {
                            if let Err(e) = self.wa_process_value(value).await {
                                failed = Some(e);
                                break;
                            }
                        }
                        if let Some(e) = failed {
                            let failures = {
                                let mut map = self
                                    .wa()
                                    .webhook_failures
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                let n = map.entry(id).or_insert(0);
                                *n += 1;
                                *n
                            };
                            if failures < MAX_FAILURES {
                                // Tried again next round (a busy or unreachable database).
                                return Err(e);
                            }
                            self.wa_alert(
                                "whatsapp_webhook_unprocessed",
                                &format!(
                                    "webhook {id} set aside after {failures} failures ({})",
                                    e.code()
                                ),
                            )
                            .await?;
                            Some(format!("set aside: {}", e.code()))
                        } else {
                            None
                        }
                    }
                    Err(e) => Some(e.to_string()),
                };
                self.wa()
                    .webhook_failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&id);
                self.store()
                    .finish_wa_webhook(id, self.now(), error.as_deref())
                    .await?;
                done += 1;
            }
        }
    }

    async fn wa_process_value(&self, value: &MessagesValue) -> Result<(), HubError> {
        let phone_number_id = value.phone_number_id.clone().unwrap_or_default();
        let queue = match self.wa_number(&phone_number_id) {
            Some(n) => n.queue.clone(),
            None => {
                if !value.messages.is_empty() {
                    self.wa_alert(
                        "whatsapp_unknown_number",
                        &format!(
                            "messages for phone number id {phone_number_id:?}, which is not in [[whatsapp.numbers]]; stored without a queue"
                        ),
                    )
                    .await?;
                }
                String::new()
            }
        };
        for error in &value.errors {
            self.wa_alert("whatsapp_webhook_error", &error_text(error))
                .await?;
        }
        for message in &value.messages {
            match message {
                Ok(m) => {
                    let name = value.contact_name(&m.from);
                    self.wa_inbound(&phone_number_id, &queue, m, name).await?;
                }
                Err(malformed) => {
                    // Kept whole when it names its sender; the raw webhook has it anyway.
                    let from = malformed.raw.get("from").and_then(Value::as_str);
                    let id = malformed.id.as_deref();
                    if let (Some(from), Some(id)) = (from, id) {
                        let raw = InboundMessage {
                            wamid: id.to_owned(),
                            from: from.to_owned(),
                            from_user_id: None,
                            timestamp: 0,
                            kind: enlace_whatsapp::MessageKind::Unknown {
                                type_name: "malformed".into(),
                                raw: malformed.raw.clone(),
                            },
                            context: None,
                            referral: None,
                            errors: Vec::new(),
                            raw: malformed.raw.clone(),
                        };
                        self.wa_inbound(&phone_number_id, &queue, &raw, None)
                            .await?;
                    } else {
                        tracing::warn!(error = %malformed.error, "whatsapp: unreadable message kept in the raw webhook only");
                    }
                }
            }
        }
        for status in value.statuses.iter().flatten() {
            let fact = status_fact(status);
            if let Some(id) = status
                .callback_data
                .as_deref()
                .and_then(super::outbox::message_of_callback)
            {
                self.wa_adopt(id, &fact.wamid).await?;
            }
            self.wa_status(&fact).await?;
        }
        Ok(())
    }

    async fn wa_inbound(
        &self,
        phone_number_id: &str,
        queue: &str,
        m: &InboundMessage,
        name: Option<&str>,
    ) -> Result<(), HubError> {
        let now = self.now();
        let conversation_id = self
            .store()
            .ensure_wa_conversation(phone_number_id, &m.from, queue, now)
            .await?;
        let sent_at = if m.timestamp > 0 {
            m.timestamp.saturating_mul(1000).min(now)
        } else {
            now
        };
        let content = m.raw.to_string();
        let inserted = self
            .store()
            .insert_wa_inbound(&NewInbound {
                conversation_id,
                wamid: &m.wamid,
                msg_type: m.kind.type_name(),
                content: &content,
                media_id: None,
                at: sent_at,
            })
            .await?;
        let Some(message_id) = inserted else {
            return Ok(()); // A retry of a message already stored.
        };
        self.store()
            .touch_wa_conversation_inbound(conversation_id, &m.from, name, sent_at, now)
            .await?;
        let conversation = self.wa_route_if_needed(conversation_id).await?;
        if m.kind.media().is_some() {
            if let Err(e) = self.wa_keep_inbound_media(message_id, &m.kind).await {
                tracing::warn!(error = %e, "whatsapp: inbound media not kept yet");
            }
        }
        let message = self
            .store()
            .wa_message(message_id)
            .await?
            .ok_or_else(|| HubError::Internal("message vanished".into()))?;
        let message = super::message_api(&message);
        let mut view = super::conversation_api(&conversation, now);
        if let Some(agent) = conversation.agent_id {
            view.agent_name = self.store().agent_name(agent).await?;
        }
        view.last_message = Some(message.clone());
        let event = HubEvent::MessageReceived(wire::MessageReceived {
            conversation: view,
            message,
        });
        self.wa_event(&conversation, event).await
    }

    /// Applies a status (keeping the highest) or keeps it until its message has a wamid.
    pub(crate) async fn wa_status(&self, fact: &StatusFact) -> Result<(), HubError> {
        match self.store().apply_wa_status(fact).await? {
            Some(message) => self.wa_status_event(&message).await,
            None => {
                if self
                    .store()
                    .wa_message_by_wamid(&fact.wamid)
                    .await?
                    .is_some()
                {
                    return Ok(()); // Already further along.
                }
                self.store().insert_wa_early_status(fact).await?;
                // The send reply may have been stored meanwhile.
                if self
                    .store()
                    .wa_message_by_wamid(&fact.wamid)
                    .await?
                    .is_some()
                {
                    self.wa_apply_early_statuses(&fact.wamid).await?;
                }
                Ok(())
            }
        }
    }

    /// A status names our message `id` (its callback data) while the hub has no wamid for it:
    /// the send reply was lost (a crash, a cut connection). Meta has it: the wamid is taken and
    /// the message leaves the outbox, never sent twice.
    async fn wa_adopt(&self, id: i64, wamid: &str) -> Result<(), HubError> {
        let Some(m) = self.store().wa_message(id).await? else {
            return Ok(());
        };
        if m.direction == "out" && m.wamid.is_none() {
            tracing::info!(
                message = id,
                "whatsapp: a lost send reply recovered from a status"
            );
            self.wa_message_accepted(id, wamid).await?;
        }
        Ok(())
    }

    /// Applies the statuses that came before the send reply of `wamid`.
    pub(crate) async fn wa_apply_early_statuses(&self, wamid: &str) -> Result<(), HubError> {
        let mut facts = self.store().take_wa_early_statuses(wamid).await?;
        facts.sort_by_key(|f| f.rank);
        let mut last = None;
        for fact in &facts {
            if let Some(m) = self.store().apply_wa_status(fact).await? {
                last = Some(m);
            }
        }
        if let Some(m) = last {
            self.wa_status_event(&m).await?;
        }
        Ok(())
    }

    pub(crate) async fn wa_status_event(
        &self,
        message: &crate::store::MessageRow,
    ) -> Result<(), HubError> {
        let Some(conversation) = self
            .store()
            .wa_conversation(message.conversation_id)
            .await?
        else {
            return Ok(());
        };
        let event = HubEvent::MessageStatus(wire::MessageStatus {
            conversation_id: conversation.id,
            message: super::message_api(message),
        });
        self.wa_event(&conversation, event).await
    }
}

fn error_text(e: &ApiError) -> String {
    match &e.details {
        Some(d) => format!("{} ({}): {d}", e.title, e.code),
        None => format!("{} ({})", e.title, e.code),
    }
}
