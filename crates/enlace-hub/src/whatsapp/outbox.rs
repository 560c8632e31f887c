//! The outbox: what agents send is stored first (`wa_messages`, `queued`, with the client's id
//! unique so a retried request never sends twice) and delivered by the owner's worker in order
//! per conversation (a conversation's next message waits while an earlier one is queued or
//! being sent), within the number's throughput (`messages_per_second`) and the pair limit
//! (`pair_burst` messages, then one per `pair_interval_ms` to the same customer).
//!
//! Graph errors by class: rate limits (130429, 131056, 4, 80007) and Meta's own failures back
//! off and retry (`enlace_whatsapp::retry_delay`); an expired token (190) holds every message
//! and tells administrators once, the outbox probing again every minute (a restart with a new
//! token delivers them); 131047 (window closed), 131026 (undeliverable), 132xxx (template) and
//! the others fail the message with code, title and details. The send reply's wamid is stored
//! and the statuses that came before it are applied.
//!
//! A hub stopped during a send call puts that one message back in the queue when it starts
//! again: delivery is at least once for the message in flight at the moment of a crash.

use std::collections::HashMap;

use enlace_hub_api::HubEvent;
use enlace_whatsapp::{
    ErrorClass, MediaKind, OutboundMessage, SendError, Template, TemplateComponent,
    TemplateParameter, WhatsAppError,
};

use crate::error::HubError;
use crate::store::{ConversationRow, MessageRow};
use crate::Hub;

/// Messages considered per round.
const ROUND: i64 = 200;
/// How long the outbox waits before probing an expired token again.
const TOKEN_PROBE_MS: i64 = 60_000;
/// A send whose outcome is unknown (the connection broke, the hub stopped mid-call) waits this
/// long before it is sent again: a status webhook carrying its callback data
/// (`enlace:{message id}`) meanwhile shows Meta has it, and it is not sent twice.
pub const AMBIGUOUS_HOLD_MS: i64 = 15_000;

/// The callback data of message `id` (echoed in its status webhooks).
pub fn callback_of(id: i64) -> String {
    format!("enlace:{id}")
}

/// The message id in callback data written by [`callback_of`].
pub fn message_of_callback(data: &str) -> Option<i64> {
    data.strip_prefix("enlace:")?.parse().ok()
}

/// What an agent sends (stored as the outbound message's content).
pub use enlace_hub_api::whatsapp::OutgoingMessage as SendRequest;

fn media_kind(kind: &str) -> Result<MediaKind, SendError> {
    Ok(match kind {
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "video" => MediaKind::Video,
        "document" => MediaKind::Document,
        "sticker" => MediaKind::Sticker,
        _ => return Err(SendError::BadField { what: "media kind" }),
    })
}

/// The validated message of `request` to `to`; `media_id` replaces the request's media id
/// (the WhatsApp one of a hub media).
pub fn build(
    request: &SendRequest,
    to: &str,
    media_id: Option<&str>,
) -> Result<OutboundMessage, SendError> {
    match request {
        SendRequest::Text { body, preview_url } => {
            Ok(OutboundMessage::text(to, body)?.with_preview_url(*preview_url))
        }
        SendRequest::Template {
            name,
            language,
            parameters,
        } => {
            let components = if parameters.is_empty() {
                Vec::new()
            } else {
                vec![TemplateComponent::Body(
                    parameters
                        .iter()
                        .map(|p| TemplateParameter::Text(p.clone()))
                        .collect(),
                )]
            };
            OutboundMessage::template(
                to,
                Template {
                    name: name.clone(),
                    language: language.clone(),
                    components,
                },
            )
        }
        SendRequest::Media {
            kind,
            media_id: requested,
            caption,
            filename,
            voice,
        } => {
            let kind = media_kind(kind)?;
            if *voice && kind != MediaKind::Audio {
                return Err(SendError::BadField {
                    what: "voice (audio only)",
                });
            }
            OutboundMessage::media(
                to,
                kind,
                media_id.unwrap_or(requested),
                caption.as_deref(),
                filename.as_deref(),
                *voice,
            )
        }
        SendRequest::Location {
            latitude,
            longitude,
            name,
            address,
        } => OutboundMessage::location(
            to,
            *latitude,
            *longitude,
            name.as_deref(),
            address.as_deref(),
        ),
        SendRequest::Reaction { message_id, emoji } => {
            OutboundMessage::reaction(to, message_id, emoji.as_deref())
        }
    }
}

/// A token bucket: `capacity` tokens, one more every `interval_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    fn take(&mut self, capacity: f64, per_ms: f64, now: std::time::Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64() * 1000.0;
        self.tokens = (self.tokens + elapsed * per_ms).min(capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The outbox's rate limits, in memory (on the owner instance).
#[derive(Debug, Default)]
pub struct Pacing {
    numbers: HashMap<String, Bucket>,
    customers: HashMap<i64, Bucket>,
}

impl Pacing {
    /// Takes a send from the number's and the customer's budgets, or neither.
    fn admit(
        &mut self,
        number: &str,
        conversation: i64,
        s: &crate::config::WhatsAppSettings,
    ) -> bool {
        let now = std::time::Instant::now();
        let rate = f64::from(s.messages_per_second.max(1));
        let burst = f64::from(s.pair_burst.max(1));
        let pair_per_ms = 1.0 / (s.pair_interval_ms.max(1) as f64);
        let number_bucket = *self.numbers.entry(number.to_owned()).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let customer_bucket = *self.customers.entry(conversation).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let (mut n, mut c) = (number_bucket, customer_bucket);
        if n.take(rate, rate / 1000.0, now) && c.take(burst, pair_per_ms, now) {
            self.numbers.insert(number.to_owned(), n);
            self.customers.insert(conversation, c);
            true
        } else {
            false
        }
    }
}

fn jitter() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    f64::from(u16::from_le_bytes(b)) / 65536.0
}

impl Hub {
    /// Sends what is due, in order per conversation (the worker calls it).
    pub async fn wa_deliver_outbox(&self) -> Result<usize, HubError> {
        let (Some(settings), Some(graph)) = (self.wa().settings.clone(), self.wa().graph.clone())
        else {
            return Ok(0);
        };
        let now = self.now();
        {
            let blocked = *self
                .wa()
                .token_blocked_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if blocked.is_some_and(|until| now < until) {
                return Ok(0);
            }
        }
        let due = self.store().wa_outbox_due(now, ROUND).await?;
        let mut sent = 0;
        for message in due {
            let Some(conversation) = self
                .store()
                .wa_conversation(message.conversation_id)
                .await?
            else {
                continue;
            };
            let admitted = self
                .wa()
                .pacing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .admit(&conversation.phone_number_id, conversation.id, &settings);
            if !admitted {
                continue;
            }
            if !self.store().claim_wa_outbound(message.id).await? {
                continue;
            }
            let stop = self.wa_send_one(&graph, &conversation, &message).await?;
            sent += 1;
            if stop {
                break;
            }
        }
        Ok(sent)
    }

    /// Sends one claimed message; `true` when the outbox must stop (token expired).
    async fn wa_send_one(
        &self,
        graph: &enlace_whatsapp::GraphClient,
        conversation: &ConversationRow,
        message: &MessageRow,
    ) -> Result<bool, HubError> {
        let request: SendRequest = match serde_json::from_str(&message.content) {
            Ok(r) => r,
            Err(_) => {
                self.store()
                    .fail_wa_outbound(message.id, None, "stored message unreadable", None)
                    .await?;
                return self.wa_outbound_event(message.id).await.map(|_| false);
            }
        };
        let media_id = match (&request, &message.media_id) {
            (SendRequest::Media { .. }, Some(hub_media)) => {
                match self
                    .wa_media_for_send(&conversation.phone_number_id, hub_media)
                    .await
                {
                    Ok(id) => Some(id),
                    Err(e) => {
                        self.wa_outbound_error(message, &e).await?;
                        return Ok(false);
                    }
                }
            }
            _ => None,
        };
        let built = match build(&request, &conversation.wa_id, media_id.as_deref())
            .and_then(|m| m.with_callback_data(&callback_of(message.id)))
        {
            Ok(b) => b,
            Err(e) => {
                self.store()
                    .fail_wa_outbound(message.id, None, &e.to_string(), None)
                    .await?;
                return self.wa_outbound_event(message.id).await.map(|_| false);
            }
        };
        match graph
            .send_message(&conversation.phone_number_id, &built)
            .await
        {
            Ok(receipt) => {
                self.wa_message_accepted(message.id, &receipt.wamid).await?;
                *self
                    .wa()
                    .token_blocked_until
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                if let Some(wa_id) = receipt.wa_id.filter(|w| *w != conversation.wa_id) {
                    self.store()
                        .rekey_wa_conversation(conversation.id, &wa_id)
                        .await?;
                }
                self.store()
                    .touch_wa_conversation(conversation.id, self.now())
                    .await?;
                self.wa_outbound_event(message.id).await?;
                Ok(false)
            }
            Err(e) => self.wa_outbound_error(message, &e).await,
        }
    }

    /// Meta accepted message `id` as `wamid`: stored, and the statuses that came before the
    /// reply applied.
    pub async fn wa_message_accepted(&self, id: i64, wamid: &str) -> Result<(), HubError> {
        self.store().mark_wa_accepted(id, wamid).await?;
        self.wa_apply_early_statuses(wamid).await
    }

    async fn wa_outbound_error(
        &self,
        message: &MessageRow,
        e: &WhatsAppError,
    ) -> Result<bool, HubError> {
        let now = self.now();
        let (code, title, details) = match e {
            WhatsAppError::Api(api) => (Some(api.code), api.title.clone(), api.details.clone()),
            other => (None, other.to_string(), None),
        };
        match e.class() {
            Some(ErrorClass::TokenExpired) => {
                let first = {
                    let mut blocked = self
                        .wa()
                        .token_blocked_until
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let first = blocked.is_none();
                    *blocked = Some(now + TOKEN_PROBE_MS);
                    first
                };
                self.store()
                    .reschedule_wa_outbound(message.id, now, code, Some(&title))
                    .await?;
                if first {
                    self.wa_alert(
                        "whatsapp_token_expired",
                        "Meta refused the organization's WhatsApp access token (190): messages wait until it is replaced",
                    )
                    .await?;
                }
                self.wa_outbound_event(message.id).await?;
                Ok(true)
            }
            _ if e.is_retryable() => {
                let attempt = u32::try_from(message.attempts.max(1) - 1).unwrap_or(u32::MAX);
                let delay = code
                    .and_then(|c| enlace_whatsapp::retry_delay(c, attempt, jitter()))
                    .unwrap_or_else(|| std::time::Duration::from_secs(1 << attempt.min(8)));
                let mut delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                if code.is_none() {
                    // No answer: Meta may have it; wait for a status naming it first.
                    delay_ms = delay_ms.max(AMBIGUOUS_HOLD_MS);
                }
                self.store()
                    .reschedule_wa_outbound(
                        message.id,
                        now.saturating_add(delay_ms),
                        code,
                        Some(&title),
                    )
                    .await?;
                Ok(false)
            }
            _ => {
                self.store()
                    .fail_wa_outbound(message.id, code, &title, details.as_deref())
                    .await?;
                self.wa_outbound_event(message.id).await?;
                Ok(false)
            }
        }
    }

    async fn wa_outbound_event(&self, message_id: i64) -> Result<(), HubError> {
        if let Some(m) = self.store().wa_message(message_id).await? {
            self.wa_status_event(&m).await?;
        }
        Ok(())
    }

    /// Sends `window_closing` for windows ending within `window_warning_minutes`.
    pub async fn wa_warn_windows(&self) -> Result<(), HubError> {
        let Some(settings) = &self.wa().settings else {
            return Ok(());
        };
        let lead = i64::from(settings.window_warning_minutes) * 60_000;
        let now = self.now();
        for conversation in self
            .store()
            .wa_windows_closing(now, super::WINDOW_MS, lead)
            .await?
        {
            let event = HubEvent::WindowClosing(enlace_hub_api::whatsapp::WindowClosing {
                conversation: super::conversation_api(&conversation, now),
                window_ends_at: conversation.last_customer_at.unwrap_or(0) + super::WINDOW_MS,
            });
            self.wa_event(&conversation, event).await?;
        }
        Ok(())
    }
}
