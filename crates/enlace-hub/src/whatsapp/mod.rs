//! WhatsApp in the hub: Meta's webhook ([`intake`]: signed raw bodies stored before the 200,
//! processed after into conversations, messages and statuses), conversation routing
//! ([`routing`]), the outbox that delivers what agents send ([`outbox`]) and the agents' API
//! ([`api`]). The protocol itself (signatures, parsing, sends, Graph errors) is
//! `enlace-whatsapp`'s; the SQL is in `store::whatsapp`.
//!
//! One worker per instance ([`run`]) processes stored webhooks, delivers the outbox and sends
//! `window_closing` warnings; it works only on the instance that holds the housekeeping
//! ([`Hub::is_owner`]: always with SQLite, exactly one instance with PostgreSQL), so routing
//! and delivery order never race between instances. Any instance accepts webhooks and agents'
//! requests: they only write rows.
//!
//! Stream events (each stored in the event log, so resumable): `message_received`,
//! `message_status`, `conversation_assigned`, `conversation_attended`, `comment_added`,
//! `window_closing` go to the conversation's agent, or to every agent of its queue while it is
//! unassigned; `whatsapp_alert` (token expired, unknown number) to every supervisor.

pub mod api;
pub mod intake;
pub mod media;
pub mod outbox;
pub mod routing;

use std::sync::Mutex as SyncMutex;
use std::time::Duration;

use enlace_hub_api::whatsapp as wire;
use enlace_hub_api::HubEvent;
use enlace_whatsapp::{AccessToken, AppSecret, GraphClient, GraphConfig, MediaError};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::config::WhatsAppSettings;
use crate::error::HubError;
use crate::store::{ConversationRow, MessageRow};
use crate::Hub;

/// The customer-service window: 24 hours from the customer's last message.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// How often waiting conversations are offered again to agents who became available.
const ROUTE_WAITING_EVERY: Duration = Duration::from_secs(1);
/// How often the worker looks for work when nothing wakes it.
const POLL: Duration = Duration::from_millis(200);

/// The WhatsApp part of a running hub (inert without `[whatsapp]`).
pub struct Runtime {
    pub(crate) settings: Option<WhatsAppSettings>,
    pub(crate) graph: Option<GraphClient>,
    pub(crate) app_secret: Option<AppSecret>,
    /// Wakes the worker (a webhook stored, a message queued).
    pub(crate) wake: Notify,
    pub(crate) pacing: SyncMutex<outbox::Pacing>,
    /// Set while Meta refuses the organization's token (190): the outbox waits.
    pub(crate) token_blocked_until: SyncMutex<Option<i64>>,
    /// Consecutive processing failures per stored webhook id.
    pub(crate) webhook_failures: SyncMutex<std::collections::HashMap<i64, u32>>,
    /// Missing inbound files: message id → when to try the download again (hub clock).
    pub(crate) media_retries: SyncMutex<std::collections::HashMap<i64, i64>>,
    /// Where media bytes go (see [`media`]).
    pub(crate) media: Option<std::sync::Arc<dyn object_store::ObjectStore>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    pub(crate) fn new(settings: Option<WhatsAppSettings>) -> Result<Runtime, HubError> {
        let graph = match &settings {
            Some(s) if !s.access_token.is_empty() => Some(
                GraphClient::new(
                    GraphConfig::new(AccessToken::new(s.access_token.clone()))
                        .with_base_url(s.graph_url.clone()),
                )
                .map_err(|e| HubError::Internal(format!("whatsapp: {e}")))?,
            ),
            _ => None,
        };
        let app_secret = settings
            .as_ref()
            .filter(|s| !s.app_secret.is_empty())
            .map(|s| AppSecret::new(s.app_secret.clone()));
        let media = match &settings {
            Some(s) => Some(media::open_media_store(s)?),
            None => None,
        };
        Ok(Runtime {
            webhook_failures: SyncMutex::new(std::collections::HashMap::new()),
            media_retries: SyncMutex::new(std::collections::HashMap::new()),
            media,
            settings,
            graph,
            app_secret,
            wake: Notify::new(),
            pacing: SyncMutex::new(outbox::Pacing::default()),
            token_blocked_until: SyncMutex::new(None),
        })
    }
}

/// Why a WhatsApp request was refused (beyond the hub's own errors): stable codes.
#[derive(Debug)]
pub enum WaError {
    Hub(HubError),
    /// A free-form message outside the 24-hour window: only these templates can be sent.
    WindowClosed {
        templates: Vec<wire::MessageTemplate>,
    },
    /// The message or file cannot be sent as given (`whatsapp_invalid_message`; the message
    /// says why).
    Invalid {
        message: String,
    },
    /// A file WhatsApp would not take (api-facts C4): `whatsapp_media_*`.
    Media(enlace_whatsapp::media::MediaError),
    /// WhatsApp is not configured on this hub.
    NotConfigured,
    /// Meta refused or could not be reached (`whatsapp_unavailable`: templates, media).
    Upstream {
        message: String,
    },
}

impl From<HubError> for WaError {
    fn from(e: HubError) -> Self {
        WaError::Hub(e)
    }
}

impl From<crate::store::StoreError> for WaError {
    fn from(e: crate::store::StoreError) -> Self {
        WaError::Hub(HubError::Store(e))
    }
}

impl axum::response::IntoResponse for WaError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::StatusCode;
        let (status, body) = match self {
            WaError::Hub(e) => return e.into_response(),
            WaError::WindowClosed { templates } => (
                StatusCode::CONFLICT,
                serde_json::to_value(wire::WindowClosedError {
                    code: enlace_hub_api::ApiErrorCode::WindowClosed,
                    message:
                        "more than 24 hours since the customer's last message: send a template"
                            .into(),
                    templates,
                })
                .unwrap_or(Value::Null),
            ),
            WaError::Invalid { message } => (
                StatusCode::BAD_REQUEST,
                json!({"code": "whatsapp_invalid_message", "message": message}),
            ),
            WaError::Media(e) => (
                match e {
                    MediaError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    MediaError::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    MediaError::Empty | MediaError::ContentMismatch { .. } => {
                        StatusCode::BAD_REQUEST
                    }
                },
                json!({"code": e.code(), "message": e.to_string()}),
            ),
            WaError::NotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"code": "whatsapp_not_configured", "message": "WhatsApp is not configured on this hub"}),
            ),
            WaError::Upstream { message } => (
                StatusCode::BAD_GATEWAY,
                json!({"code": "whatsapp_unavailable", "message": message}),
            ),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A message as the API and the stream show it.
pub fn message_api(m: &MessageRow) -> wire::Message {
    let content: Value = serde_json::from_str(&m.content).unwrap_or(Value::Null);
    let error = match (m.error_code, &m.error_title) {
        (None, None) => None,
        (code, title) => Some(wire::MessageError {
            code,
            title: title.clone(),
            details: m.error_details.clone(),
            kind: code.map(|c| enlace_whatsapp::ErrorClass::of(c).code().to_owned()),
        }),
    };
    wire::Message {
        id: m.id,
        conversation_id: m.conversation_id,
        wamid: m.wamid.clone(),
        client_id: m.client_id.clone(),
        direction: m.direction.clone(),
        kind: m.msg_type.clone(),
        text: summary(&m.msg_type, &content),
        content,
        media_id: m.media_id.clone(),
        status: m.status.clone(),
        error,
        agent_id: m.agent_id,
        at: m.at,
    }
}

/// A short text for lists and notifications: the body, caption or a title.
fn summary(msg_type: &str, content: &Value) -> Option<String> {
    let pick = |path: &[&str]| {
        let mut v = content;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().map(str::to_owned)
    };
    match msg_type {
        "text" => pick(&["text", "body"]).or_else(|| pick(&["body"])),
        "image" | "video" | "document" => {
            pick(&[msg_type, "caption"]).or_else(|| pick(&["caption"]))
        }
        "button" => pick(&["button", "text"]),
        "interactive" | "button_reply" | "list_reply" => {
            pick(&["interactive", "button_reply", "title"])
                .or_else(|| pick(&["interactive", "list_reply", "title"]))
        }
        "template" => pick(&["name"]),
        _ => None,
    }
}

/// A conversation as the API and the stream show it.
pub fn conversation_api(c: &ConversationRow, now: i64) -> wire::Conversation {
    let window_ends = c.last_customer_at.map(|t| t + WINDOW_MS);
    wire::Conversation {
        id: c.id,
        phone_number_id: c.phone_number_id.clone(),
        wa_id: c.wa_id.clone(),
        profile_name: c.profile_name.clone(),
        queue: c.queue.clone(),
        state: c.state.clone(),
        agent_id: c.agent_id,
        last_customer_message_at: c.last_customer_at,
        window_ends_at: window_ends,
        window_open: window_ends.is_some_and(|end| now < end),
        unread: c.unread,
        last_message_at: c.last_message_at,
        agent_name: None,
        last_message: None,
    }
}

impl Hub {
    /// A conversation as the API shows it, with its agent's name and newest message.
    pub(crate) async fn wa_view(
        &self,
        c: &ConversationRow,
    ) -> Result<wire::Conversation, HubError> {
        let mut view = conversation_api(c, self.now());
        if let Some(agent) = c.agent_id {
            view.agent_name = self.store().agent_name(agent).await?;
        }
        view.last_message = self
            .store()
            .wa_last_messages(&[c.id])
            .await?
            .first()
            .map(message_api);
        Ok(view)
    }

    /// [`Hub::wa_view`] for a list, in two queries.
    pub(crate) async fn wa_views(
        &self,
        list: &[ConversationRow],
    ) -> Result<Vec<wire::Conversation>, HubError> {
        let now = self.now();
        let names: std::collections::HashMap<i64, String> =
            self.store().agent_names().await?.into_iter().collect();
        let ids: Vec<i64> = list.iter().map(|c| c.id).collect();
        let mut last: std::collections::HashMap<i64, wire::Message> = self
            .store()
            .wa_last_messages(&ids)
            .await?
            .iter()
            .map(|m| (m.conversation_id, message_api(m)))
            .collect();
        Ok(list
            .iter()
            .map(|c| {
                let mut view = conversation_api(c, now);
                view.agent_name = c.agent_id.and_then(|a| names.get(&a).cloned());
                view.last_message = last.remove(&c.id);
                view
            })
            .collect())
    }

    pub(crate) fn wa(&self) -> &Runtime {
        &self.inner.whatsapp
    }

    /// The configured number `phone_number_id`, if any.
    pub(crate) fn wa_number(
        &self,
        phone_number_id: &str,
    ) -> Option<&crate::config::WhatsAppNumber> {
        self.wa()
            .settings
            .as_ref()?
            .numbers
            .iter()
            .find(|n| n.phone_number_id == phone_number_id)
    }

    /// Appends a conversation event for whoever sees the conversation: its agent, or every
    /// agent of its queue while unassigned (supervisors see it in their list).
    pub(crate) async fn wa_event(
        &self,
        conversation: &ConversationRow,
        event: HubEvent,
    ) -> Result<(), HubError> {
        let now = self.now();
        let targets: Vec<i64> = match conversation.agent_id {
            Some(agent) => vec![agent],
            None => self.store().queue_agent_ids(&conversation.queue).await?,
        };
        // One transaction for the whole queue (one commit, not one per agent).
        self.events()
            .append_event_to_each(&targets, &event, now)
            .await?;
        Ok(())
    }

    /// Tells administrators: stored in `wa_alerts`, logged, and a `whatsapp_alert` event to
    /// every supervisor.
    pub(crate) async fn wa_alert(&self, code: &str, detail: &str) -> Result<(), HubError> {
        let now = self.now();
        tracing::warn!(code, detail, "WhatsApp needs an administrator");
        self.store().insert_wa_alert(code, detail, now).await?;
        let event = HubEvent::WhatsappAlert(wire::WhatsappAlert {
            code: code.to_owned(),
            detail: detail.to_owned(),
        });
        for agent in self.store().agents().await? {
            if agent.supervisor && !agent.disabled {
                self.events()
                    .append_event(Some(agent.id), &event, now)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The worker of one instance: processes stored webhooks, delivers the outbox and warns of
/// closing windows while this instance is the owner; stops with the hub.
pub(crate) async fn run(hub: Hub) {
    let mut stopping = hub.stopping();
    let mut started = false;
    let mut last_routing = tokio::time::Instant::now();
    loop {
        if hub.is_owner() {
            if !started {
                // Messages a stopped hub left mid-call go back to the queue after a hold: a
                // status webhook carrying their callback data shows Meta had them.
                let hold = hub.now().saturating_add(outbox::AMBIGUOUS_HOLD_MS);
                match hub.store().requeue_wa_sending(hold).await {
                    Ok(_) => started = true,
                    Err(e) => tracing::warn!(error = %e, "whatsapp: requeue failed"),
                }
            }
            if let Err(e) = hub.wa_process_webhooks().await {
                tracing::warn!(error = %e, "whatsapp: webhook processing failed");
            }
            if last_routing.elapsed() >= ROUTE_WAITING_EVERY {
                last_routing = tokio::time::Instant::now();
                let before = hub.now().saturating_sub(intake::WEBHOOK_RETENTION_MS);
                if let Err(e) = hub.store().prune_wa_webhooks(before).await {
                    tracing::warn!(error = %e, "whatsapp: webhook pruning failed");
                }
                if let Err(e) = hub.wa_route_waiting().await {
                    tracing::warn!(error = %e, "whatsapp: routing waiting conversations failed");
                }
            }
            if let Err(e) = hub.wa_retry_inbound_media().await {
                tracing::warn!(error = %e, "whatsapp: media retry failed");
            }
            if let Err(e) = hub.wa_deliver_outbox().await {
                tracing::warn!(error = %e, "whatsapp: outbox failed");
            }
            if let Err(e) = hub.wa_warn_windows().await {
                tracing::warn!(error = %e, "whatsapp: window warnings failed");
            }
        } else {
            started = false;
        }
        tokio::select! {
            _ = hub.wa().wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stopping.changed() => return,
        }
        if *stopping.borrow() {
            return;
        }
    }
}
