//! WhatsApp conversations in the hub: request/response bodies of the conversation routes and the
//! payloads of their stream events (`HubEvent::MessageReceived`, `MessageStatus`,
//! `ConversationAssigned`, `ConversationAttended`, `CommentAdded`, `WindowClosing`,
//! `WhatsappAlert`). camelCase on the wire; readers ignore fields they do not know.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A conversation: one business number and one customer (keyed by the customer's `wa_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: i64,
    /// The business number (`phone_number_id`).
    pub phone_number_id: String,
    /// The customer's WhatsApp id (digits), as Meta names them.
    pub wa_id: String,
    #[serde(default)]
    pub profile_name: String,
    /// The queue of the business number (empty for a number not configured).
    #[serde(default)]
    pub queue: String,
    /// `open` or `attended`.
    pub state: String,
    /// The agent serving it; `null` while unassigned.
    #[serde(default)]
    pub agent_id: Option<i64>,
    /// The customer's last message (ms): the 24-hour window starts there.
    #[serde(default)]
    pub last_customer_message_at: Option<i64>,
    /// When free-form messages stop being allowed (ms).
    #[serde(default)]
    pub window_ends_at: Option<i64>,
    #[serde(default)]
    pub window_open: bool,
    #[serde(default)]
    pub unread: i64,
    pub last_message_at: i64,
    /// The assigned agent's display name (`null` while unassigned).
    #[serde(default)]
    pub agent_name: Option<String>,
    /// The newest message (filled by `GET /api/v1/conversations` and the stream events that
    /// carry a conversation; `null` elsewhere or before the first message).
    #[serde(default)]
    pub last_message: Option<Message>,
}

/// Why WhatsApp refused or failed a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageError {
    /// Meta's error code (131047 window closed, 131026 undeliverable, 132xxx templates, …).
    #[serde(default)]
    pub code: Option<i64>,
    /// Meta's title, shown to the agent.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    /// The class of `code`: `whatsapp_window_closed`, `whatsapp_rate_limited`,
    /// `whatsapp_token_expired`, `whatsapp_undeliverable`, `whatsapp_template`,
    /// `whatsapp_unavailable` or `whatsapp_api_error`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    /// WhatsApp's message id; `null` until Meta accepted an outbound message.
    #[serde(default)]
    pub wamid: Option<String>,
    /// The sending client's id (outbound).
    #[serde(default)]
    pub client_id: Option<String>,
    /// `in` (from the customer) or `out`.
    pub direction: String,
    /// `text`, `image`, `audio`, `video`, `document`, `sticker`, `location`, `contacts`,
    /// `button`, `button_reply`, `list_reply`, `nfm_reply`, `reaction`, `order`, `system`,
    /// `unsupported`, `template`, or a type WhatsApp added later.
    #[serde(rename = "type")]
    pub kind: String,
    /// Inbound: the message exactly as Meta sent it; outbound: the [`OutgoingMessage`].
    #[serde(default)]
    pub content: Value,
    /// A text to show (body, caption, button title), when there is one.
    #[serde(default)]
    pub text: Option<String>,
    /// The hub's media id (`GET /api/v1/media/{id}`).
    #[serde(default)]
    pub media_id: Option<String>,
    /// Inbound: `received`. Outbound: `queued`, `sending`, `accepted`, `sent`, `delivered`,
    /// `read`, `played` or `failed` (the highest reached).
    pub status: String,
    #[serde(default)]
    pub error: Option<MessageError>,
    /// The agent who sent it (outbound).
    #[serde(default)]
    pub agent_id: Option<i64>,
    pub at: i64,
}

/// A page of messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Pass as `before` for the previous page; `null` at the start of the conversation.
    #[serde(default)]
    pub next_before: Option<i64>,
}

/// What an agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutgoingMessage {
    /// Free-form text (inside the 24-hour window).
    Text {
        body: String,
        #[serde(default, rename = "previewUrl")]
        preview_url: bool,
    },
    /// An approved template (the only kind allowed outside the window).
    Template {
        name: String,
        language: String,
        /// Body parameters, in order.
        #[serde(default)]
        parameters: Vec<String>,
    },
    /// A file uploaded with `POST /api/v1/media`.
    Media {
        /// `image`, `audio`, `video`, `document` or `sticker`.
        kind: String,
        #[serde(rename = "mediaId")]
        media_id: String,
        #[serde(default)]
        caption: Option<String>,
        #[serde(default)]
        filename: Option<String>,
        /// Audio only: send as a voice note (the file must be OGG with mono OPUS).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        voice: bool,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        address: Option<String>,
    },
    /// A reaction to a message (its wamid); no emoji removes ours.
    Reaction {
        #[serde(rename = "messageId")]
        message_id: String,
        #[serde(default)]
        emoji: Option<String>,
    },
}

impl OutgoingMessage {
    /// The wire `type` of the message.
    pub fn type_name(&self) -> &str {
        match self {
            OutgoingMessage::Text { .. } => "text",
            OutgoingMessage::Template { .. } => "template",
            OutgoingMessage::Media { kind, .. } => kind,
            OutgoingMessage::Location { .. } => "location",
            OutgoingMessage::Reaction { .. } => "reaction",
        }
    }

    /// Whether it may go outside the 24-hour window (templates only).
    pub fn is_template(&self) -> bool {
        matches!(self, OutgoingMessage::Template { .. })
    }
}

/// Body of `POST /api/v1/conversations/{id}/messages`: the message and the client's id for it
/// (a repeat with the same id returns the first message and sends nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    pub client_id: String,
    #[serde(flatten)]
    pub message: OutgoingMessage,
}

/// Body of `POST /api/v1/conversations`: start (or continue) a conversation from a call card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartConversationRequest {
    /// The business number: its `phone_number_id` or its display number.
    pub business_number: String,
    /// The customer's number as typed (the conversation takes the `wa_id` Meta answers with).
    pub customer_number: String,
    pub client_id: String,
    /// A template, or text when the window is open.
    pub message: OutgoingMessage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationStarted {
    pub conversation: Conversation,
    pub message: Message,
}

/// Query of `GET /api/v1/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// Part of the customer's number or name; searches attended ones too.
    pub search: Option<String>,
}

/// Query of `GET /api/v1/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// Messages with a smaller id (the previous page); default: the newest.
    pub before: Option<i64>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
}

/// Body of `POST /api/v1/conversations/{id}/comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub body: String,
}

/// An internal comment (never sent to the customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: i64,
    pub conversation_id: i64,
    pub agent_id: i64,
    pub body: String,
    pub at: i64,
}

/// Body of `POST /api/v1/conversations/{id}/assign`: a supervisor gives it to `agentId`; an
/// agent takes an unassigned one of its queues (no `agentId`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignRequest {
    #[serde(default)]
    pub agent_id: Option<i64>,
}

/// A message template of the organization's WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageTemplate {
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PAUSED`, `DISABLED`, `PENDING`, `REJECTED`.
    pub status: String,
    #[serde(default)]
    pub category: String,
    /// Meta's `components`, as received.
    #[serde(default)]
    pub components: Value,
}

/// Query of `GET /api/v1/whatsapp/templates`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// Ask Meta again instead of answering from the cache.
    pub refresh: Option<bool>,
}

/// `409 window_closed`: more than 24 hours since the customer wrote; these templates can be
/// sent instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowClosedError {
    pub code: crate::ApiErrorCode,
    pub message: String,
    pub templates: Vec<MessageTemplate>,
}

/// A business number the organization sends from (`GET /api/v1/whatsapp/numbers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessNumber {
    /// Meta's `phone_number_id`: what `StartConversationRequest::business_number` takes.
    pub phone_number_id: String,
    /// The number as customers see it (`+52 55 1234 5678`); empty when not configured.
    #[serde(default)]
    pub display_number: String,
    /// A name for the agent to pick it by (`Ventas`); empty when not configured.
    #[serde(default)]
    pub name: String,
    /// The queue its conversations go to.
    #[serde(default)]
    pub queue: String,
}

/// An address the organization shares often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuickAddress {
    pub id: i64,
    pub name: String,
    pub address: String,
}

/// A prepared answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CannedResponse {
    pub id: i64,
    pub shortcut: String,
    pub body: String,
}

/// Query of `POST /api/v1/media`. The body is `multipart/form-data` with the file in a part
/// named `file` (its own `Content-Type` and file name), or the file itself with its
/// `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaUploadQuery {
    /// `image`, `audio`, `video`, `document` or `sticker`; by default the kind WhatsApp sends
    /// that type as.
    pub kind: Option<String>,
    /// The name the customer sees (documents); a multipart file's own name by default.
    pub filename: Option<String>,
}

/// A file kept by the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaUploaded {
    pub id: String,
    pub mime_type: String,
    pub size: i64,
    /// Lowercase hex.
    pub sha256: String,
}

// ---- stream payloads ----

/// `message_received`: a customer wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageReceived {
    pub conversation: Conversation,
    pub message: Message,
}

/// `message_status`: an outbound message progressed or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageStatus {
    pub conversation_id: i64,
    pub message: Message,
}

/// `conversation_assigned`: to the new agent, and to the previous one who lost it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAssigned {
    pub conversation: Conversation,
    #[serde(default)]
    pub previous_agent_id: Option<i64>,
}

/// `conversation_attended`: marked attended (closed; stays searchable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationAttended {
    pub conversation: Conversation,
    /// The agent who marked it.
    pub by: i64,
}

/// `comment_added`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommentAdded {
    pub comment: Comment,
}

/// `window_closing`: the 24-hour window ends soon (an hour before, by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowClosing {
    pub conversation: Conversation,
    pub window_ends_at: i64,
}

/// `whatsapp_alert` (supervisors): something an administrator must fix —
/// `whatsapp_token_expired`, `whatsapp_unknown_number`, `whatsapp_webhook_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhatsappAlert {
    pub code: String,
    pub detail: String,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::HubEvent;

    /// One event of each WhatsApp kind (the envelope round-trip test of `events` uses them).
    pub(crate) fn sample_events() -> Vec<HubEvent> {
        let conversation = Conversation {
            id: 1,
            phone_number_id: "106540352242922".into(),
            wa_id: "5215512345678".into(),
            profile_name: "Lucía".into(),
            queue: "ventas".into(),
            state: "open".into(),
            agent_id: Some(2),
            last_customer_message_at: Some(10),
            window_ends_at: Some(86_400_010),
            window_open: true,
            unread: 1,
            last_message_at: 10,
            agent_name: Some("Ana".into()),
            last_message: None,
        };
        let message = Message {
            id: 3,
            conversation_id: 1,
            wamid: Some("wamid.X".into()),
            client_id: None,
            direction: "in".into(),
            kind: "text".into(),
            content: serde_json::json!({"text": {"body": "hola"}}),
            text: Some("hola".into()),
            media_id: None,
            status: "received".into(),
            error: None,
            agent_id: None,
            at: 10,
        };
        let failed = Message {
            direction: "out".into(),
            status: "failed".into(),
            error: Some(MessageError {
                code: Some(131047),
                title: Some("Re-engagement message".into()),
                details: None,
                kind: Some("whatsapp_window_closed".into()),
            }),
            ..message.clone()
        };
        vec![
            HubEvent::MessageReceived(MessageReceived {
                conversation: conversation.clone(),
                message,
            }),
            HubEvent::MessageStatus(MessageStatus {
                conversation_id: 1,
                message: failed,
            }),
            HubEvent::ConversationAssigned(ConversationAssigned {
                conversation: conversation.clone(),
                previous_agent_id: Some(4),
            }),
            HubEvent::ConversationAttended(ConversationAttended {
                conversation: conversation.clone(),
                by: 2,
            }),
            HubEvent::CommentAdded(CommentAdded {
                comment: Comment {
                    id: 5,
                    conversation_id: 1,
                    agent_id: 2,
                    body: "VIP".into(),
                    at: 11,
                },
            }),
            HubEvent::WindowClosing(WindowClosing {
                conversation,
                window_ends_at: 86_400_010,
            }),
            HubEvent::WhatsappAlert(WhatsappAlert {
                code: "whatsapp_token_expired".into(),
                detail: "190".into(),
            }),
        ]
    }

    #[test]
    fn a_conversation_without_the_newer_fields_still_reads() {
        let c: Conversation = serde_json::from_str(
            r#"{"id":1,"phoneNumberId":"1","waId":"52","state":"open","lastMessageAt":5}"#,
        )
        .unwrap();
        assert_eq!(c.agent_name, None);
        assert_eq!(c.last_message, None);
        let events = sample_events();
        let HubEvent::MessageReceived(received) = &events[0] else {
            panic!("the first sample is message_received");
        };
        let mut with = received.conversation.clone();
        with.last_message = Some(received.message.clone());
        let wire = serde_json::to_value(&with).unwrap();
        assert_eq!(wire["agentName"], "Ana");
        assert_eq!(wire["lastMessage"]["text"], "hola");
        assert_eq!(serde_json::from_value::<Conversation>(wire).unwrap(), with);
        let n: BusinessNumber = serde_json::from_str(r#"{"phoneNumberId":"106"}"#).unwrap();
        assert_eq!(n.display_number, "");
    }

    #[test]
    fn outgoing_messages_read_the_wire_form() {
        let m: SendMessageRequest = serde_json::from_str(
            r#"{"clientId":"c1","type":"template","name":"hello_world","language":"en_US"}"#,
        )
        .unwrap();
        assert_eq!(m.client_id, "c1");
        assert!(m.message.is_template());
        let text = serde_json::to_value(&m).unwrap();
        assert_eq!(text["type"], "template");
        assert_eq!(text["clientId"], "c1");
    }
}
