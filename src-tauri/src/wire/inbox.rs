//! Wire types of the inbox (Omnicanalidad): conversations, their timeline, what the agent sends
//! and the inbox events. Declared once here; TypeScript bindings are generated like the rest of
//! `wire` (see `bindings_are_current`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which conversations the panel lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum InboxFilter {
    /// Assigned to this agent.
    Mine,
    /// Every open conversation of the agent's queues (assigned to anyone or to nobody).
    Queues,
    /// Waiting for an agent in the agent's queues.
    Unassigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStateView {
    Open,
    Attended,
}

/// One conversation (one business number, one customer) as the panel shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    #[ts(type = "number")]
    pub id: i64,
    /// The organization's number that serves it (`phone_number_id`).
    pub phone_number_id: String,
    /// That number as people dial it (`+52 55 …`), empty when the hub did not say.
    pub business_number: String,
    /// The customer's number in E.164 (`+5215512345678`).
    pub customer: String,
    /// The CRM name of the customer when the contacts cache knows the number.
    pub customer_name: Option<String>,
    /// The name the customer set in WhatsApp (may be empty).
    pub profile_name: String,
    pub queue: String,
    pub state: ConversationStateView,
    #[ts(type = "number | null")]
    pub agent_id: Option<i64>,
    /// Who serves it, when someone does.
    pub agent_name: Option<String>,
    /// Assigned to the signed-in agent.
    pub mine: bool,
    pub unread: u32,
    /// Latest activity (ms since the epoch).
    #[ts(type = "number")]
    pub last_message_at: i64,
    /// The last message in a line (text, caption, or the kind of media).
    pub preview: String,
    /// The last message's type (`text`, `image`, …) and direction.
    pub preview_kind: String,
    pub preview_outgoing: bool,
    /// When free-form messages stop being allowed (ms); `null` when the customer never wrote.
    #[ts(type = "number | null")]
    pub window_ends_at: Option<i64>,
    pub window_open: bool,
    /// Messages typed here that the hub has not taken yet.
    pub pending_sends: u32,
}

/// An outbound message's progress. `pending`: kept on this computer until the hub takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChatMessageStatus {
    Pending,
    Queued,
    Sending,
    Accepted,
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
    /// Inbound.
    Received,
}

/// Why WhatsApp refused or failed a message.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChatErrorView {
    #[ts(type = "number | null")]
    pub code: Option<i64>,
    /// The class: `whatsapp_window_closed`, `whatsapp_rate_limited`, `whatsapp_token_expired`,
    /// `whatsapp_undeliverable`, `whatsapp_template`, `whatsapp_unavailable`,
    /// `whatsapp_api_error`; the UI words it from `errors.<kind>`.
    pub kind: Option<String>,
    /// Meta's own title and details (shown under the worded reason).
    pub title: Option<String>,
    pub details: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageView {
    /// Stable key in the timeline: `c:<clientId>` for messages sent from here, `h:<hubId>`
    /// otherwise (a pending message keeps its key once the hub took it).
    pub key: String,
    #[ts(type = "number")]
    pub conversation_id: i64,
    #[ts(type = "number | null")]
    pub hub_id: Option<i64>,
    pub client_id: Option<String>,
    /// WhatsApp's id (quoted replies and reactions point at it).
    pub wamid: Option<String>,
    pub outgoing: bool,
    /// `text`, `image`, `audio`, `video`, `document`, `sticker`, `location`, `contacts`,
    /// `reaction`, `template`, `button`, `interactive` replies, `unsupported`, …
    pub kind: String,
    /// Text to show: body, caption, button title, template text.
    pub text: Option<String>,
    /// The message as WhatsApp sent it (inbound) or as it was sent (outbound): the UI reads
    /// media details, locations, contacts, reactions and `context` from it.
    #[ts(type = "unknown")]
    pub content: serde_json::Value,
    /// The hub's media id, for [`crate::commands`]' media commands.
    pub media_id: Option<String>,
    /// The quoted message's wamid (`context.id`), when it is a reply.
    pub reply_to: Option<String>,
    pub status: ChatMessageStatus,
    pub error: Option<ChatErrorView>,
    #[ts(type = "number | null")]
    pub agent_id: Option<i64>,
    #[ts(type = "number")]
    pub at: i64,
}

/// An internal comment (Comentarios del chat): never sent to the customer.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChatCommentView {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub conversation_id: i64,
    #[ts(type = "number")]
    pub agent_id: i64,
    pub agent_name: Option<String>,
    pub body: String,
    #[ts(type = "number")]
    pub at: i64,
}

/// A page of the timeline, oldest first.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChatPageView {
    pub messages: Vec<ChatMessageView>,
    /// The comments within the page's time span.
    pub comments: Vec<ChatCommentView>,
    /// Pass as `before` for older messages; `null` at the start of the conversation.
    #[ts(type = "number | null")]
    pub next_before: Option<i64>,
    /// The page came from this computer's cache because the hub could not be asked.
    pub offline: bool,
}

/// What the agent sends (the hub's `OutgoingMessage`; files go through `inbox_send_staged`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutgoingMessageInput {
    Text {
        body: String,
    },
    Template {
        name: String,
        language: String,
        parameters: Vec<String>,
    },
    Reaction {
        #[serde(rename = "messageId")]
        #[ts(rename = "messageId")]
        message_id: String,
        emoji: Option<String>,
    },
    /// Enviar ubicación: the pin, with the Dirección label (`name`) and the address line.
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
}

/// A file ready to send (picked, dropped, pasted or recorded): checked against WhatsApp's
/// limits (api-facts C4) and copied into the app's outgoing folder. Sent with
/// `inbox_send_staged`, or dropped with `inbox_discard_staged`.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StagedFileView {
    /// Opaque id of the staged file (also its preview URL: `enlace-media://localhost/staged/{token}`).
    pub token: String,
    /// The file name the customer sees (documents).
    pub name: String,
    /// The base MIME type it is uploaded as (`image/png`, `audio/ogg`).
    pub mime: String,
    /// `image`, `audio`, `video`, `document` or `sticker`.
    pub kind: String,
    #[ts(type = "number")]
    pub size: u64,
    /// A recorded voice note (sent with `voice: true`).
    pub voice: bool,
    /// Length of a recording, in milliseconds.
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
    /// Waveform of a recording: bar heights 0–255 (empty for other files).
    pub peaks: Vec<u8>,
    /// A note to show without refusing: `voice_note_large` (past 512 KB it may show as a file).
    pub warning: Option<String>,
}

/// The recorder while Mensaje de audio runs.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RecordingStatusView {
    pub recording: bool,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    /// The input's current peak level, 0–1 (the meter beside the timer).
    pub level: f32,
    /// The input device in use (its name as the OS gives it).
    pub device: Option<String>,
}

/// A microphone the agent can choose in Configuración.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AudioInputView {
    pub name: String,
    /// The system's default input.
    pub default: bool,
}

/// A quick address (the yellow buttons of Enviar ubicación): the organization's, from the hub,
/// or one the agent saved on this computer (`own`, with its pin when saved with one).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuickAddressView {
    /// `org:{hub id}` or `own:{local id}`.
    pub id: String,
    pub name: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub own: bool,
}

/// Where the agent is, for the map's first view.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PositionView {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres, when the OS says.
    pub accuracy: Option<f64>,
    /// `os` (GeoClue, Windows or macOS location services) or `last_used`.
    pub source: String,
}

/// `inbox:upload`: bytes of a queued file handed to the hub so far.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgressEvent {
    #[ts(type = "number")]
    pub conversation_id: i64,
    /// The message's key (as in `ChatMessageView.key`).
    pub key: String,
    #[ts(type = "number")]
    pub sent: u64,
    #[ts(type = "number")]
    pub total: u64,
}

/// An approved template, ready to fill.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    pub category: String,
    pub header: Option<String>,
    /// The body with its `{{1}}`, `{{2}}` … placeholders.
    pub body: String,
    pub footer: Option<String>,
    /// How many body parameters it takes.
    pub parameter_count: u32,
}

/// A prepared answer (typed as `/shortcut`).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CannedResponseView {
    pub shortcut: String,
    pub body: String,
}

/// One of the organization's WhatsApp numbers (the composer's "Número").
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BusinessNumberView {
    pub phone_number_id: String,
    pub display_number: String,
    pub name: String,
    pub queue: String,
}

/// The side-bar badge and the tray: conversations waiting for this agent (open and assigned
/// to them) and how many of those have unread customer messages.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InboxCountsView {
    pub waiting: u32,
    pub unread: u32,
    /// Messages typed here that wait for the hub.
    pub pending_sends: u32,
    /// The inbox's connection: the hub's stream is up (otherwise the panel shows cached data
    /// and says so).
    pub online: bool,
    /// Chats are available at all: signed in to a hub that has WhatsApp.
    pub available: bool,
}

/// `inbox:message`: a message arrived, was sent or changed state.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InboxMessageEvent {
    pub conversation: ConversationView,
    pub message: ChatMessageView,
}

/// A chat left open at Salida (the exit check lists them and offers to hand them back).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExitChatView {
    #[ts(type = "number")]
    pub id: i64,
    pub customer: String,
    pub customer_name: Option<String>,
    pub unread: u32,
}

// ---- conversions from the app's types ----

impl From<InboxFilter> for enlace_app::InboxFilter {
    fn from(f: InboxFilter) -> Self {
        match f {
            InboxFilter::Mine => enlace_app::InboxFilter::Mine,
            InboxFilter::Queues => enlace_app::InboxFilter::Queues,
            InboxFilter::Unassigned => enlace_app::InboxFilter::Unassigned,
        }
    }
}

impl From<&enlace_app::InboxConversation> for ConversationView {
    fn from(c: &enlace_app::InboxConversation) -> Self {
        ConversationView {
            id: c.id,
            phone_number_id: c.phone_number_id.clone(),
            business_number: c.business_number.clone(),
            customer: c.customer.clone(),
            customer_name: c.customer_name.clone(),
            profile_name: c.profile_name.clone(),
            queue: c.queue.clone(),
            state: match c.state {
                enlace_app::InboxConversationState::Open => ConversationStateView::Open,
                enlace_app::InboxConversationState::Attended => ConversationStateView::Attended,
            },
            agent_id: c.agent_id,
            agent_name: c.agent_name.clone(),
            mine: c.mine,
            unread: c.unread,
            last_message_at: c.last_message_at,
            preview: c.preview.clone(),
            preview_kind: c.preview_kind.clone(),
            preview_outgoing: c.preview_outgoing,
            window_ends_at: c.window_ends_at,
            window_open: c.window_open,
            pending_sends: c.pending_sends,
        }
    }
}

impl From<enlace_app::ChatStatus> for ChatMessageStatus {
    fn from(s: enlace_app::ChatStatus) -> Self {
        use enlace_app::ChatStatus as S;
        match s {
            S::Pending => ChatMessageStatus::Pending,
            S::Queued => ChatMessageStatus::Queued,
            S::Sending => ChatMessageStatus::Sending,
            S::Accepted => ChatMessageStatus::Accepted,
            S::Sent => ChatMessageStatus::Sent,
            S::Delivered => ChatMessageStatus::Delivered,
            S::Read => ChatMessageStatus::Read,
            S::Played => ChatMessageStatus::Played,
            S::Failed => ChatMessageStatus::Failed,
            S::Received => ChatMessageStatus::Received,
        }
    }
}

impl From<&enlace_app::ChatMessage> for ChatMessageView {
    fn from(m: &enlace_app::ChatMessage) -> Self {
        ChatMessageView {
            key: m.key(),
            conversation_id: m.conversation_id,
            hub_id: m.hub_id,
            client_id: m.client_id.clone(),
            wamid: m.wamid.clone(),
            outgoing: m.outgoing,
            kind: m.kind.clone(),
            text: m.text.clone(),
            // Stored as the JSON it arrived as; anything unreadable shows as no details.
            content: serde_json::from_str(&m.content).unwrap_or(serde_json::Value::Null),
            media_id: m.media_id.clone(),
            reply_to: m.reply_to.clone(),
            status: m.status.into(),
            error: m.error.as_ref().map(|e| ChatErrorView {
                code: e.code,
                kind: e.kind.clone(),
                title: e.title.clone(),
                details: e.details.clone(),
            }),
            agent_id: m.agent_id,
            at: m.at,
        }
    }
}

impl From<&enlace_app::ChatComment> for ChatCommentView {
    fn from(c: &enlace_app::ChatComment) -> Self {
        ChatCommentView {
            id: c.id,
            conversation_id: c.conversation_id,
            agent_id: c.agent_id,
            agent_name: c.agent_name.clone(),
            body: c.body.clone(),
            at: c.at,
        }
    }
}

impl From<&enlace_app::ChatPage> for ChatPageView {
    fn from(p: &enlace_app::ChatPage) -> Self {
        ChatPageView {
            messages: p.messages.iter().map(ChatMessageView::from).collect(),
            comments: p.comments.iter().map(ChatCommentView::from).collect(),
            next_before: p.next_before,
            offline: p.offline,
        }
    }
}

impl From<OutgoingMessageInput> for enlace_app::OutgoingMessage {
    fn from(m: OutgoingMessageInput) -> Self {
        match m {
            OutgoingMessageInput::Text { body } => enlace_app::OutgoingMessage::Text {
                body,
                preview_url: false,
            },
            OutgoingMessageInput::Template {
                name,
                language,
                parameters,
            } => enlace_app::OutgoingMessage::Template {
                name,
                language,
                parameters,
            },
            OutgoingMessageInput::Reaction { message_id, emoji } => {
                enlace_app::OutgoingMessage::Reaction { message_id, emoji }
            }
            OutgoingMessageInput::Location {
                latitude,
                longitude,
                name,
                address,
            } => enlace_app::OutgoingMessage::Location {
                latitude,
                longitude,
                name,
                address,
            },
        }
    }
}

impl From<&enlace_app::ChatTemplate> for TemplateView {
    fn from(t: &enlace_app::ChatTemplate) -> Self {
        TemplateView {
            name: t.name.clone(),
            language: t.language.clone(),
            category: t.category.clone(),
            header: t.header.clone(),
            body: t.body.clone(),
            footer: t.footer.clone(),
            parameter_count: t.parameter_count,
        }
    }
}

impl From<&enlace_app::CannedResponse> for CannedResponseView {
    fn from(c: &enlace_app::CannedResponse) -> Self {
        CannedResponseView {
            shortcut: c.shortcut.clone(),
            body: c.body.clone(),
        }
    }
}

impl From<&enlace_app::BusinessNumber> for BusinessNumberView {
    fn from(n: &enlace_app::BusinessNumber) -> Self {
        BusinessNumberView {
            phone_number_id: n.phone_number_id.clone(),
            display_number: n.display_number.clone(),
            name: n.name.clone(),
            queue: n.queue.clone(),
        }
    }
}

impl From<enlace_app::InboxCounts> for InboxCountsView {
    fn from(c: enlace_app::InboxCounts) -> Self {
        InboxCountsView {
            waiting: c.waiting,
            unread: c.unread,
            pending_sends: c.pending_sends,
            online: c.online,
            available: c.available,
        }
    }
}

impl From<&enlace_app::ExitChat> for ExitChatView {
    fn from(c: &enlace_app::ExitChat) -> Self {
        ExitChatView {
            id: c.id,
            customer: c.customer.clone(),
            customer_name: c.customer_name.clone(),
            unread: c.unread,
        }
    }
}

impl From<&enlace_app::StagedFile> for StagedFileView {
    fn from(f: &enlace_app::StagedFile) -> Self {
        StagedFileView {
            token: f.token.clone(),
            name: f.name.clone(),
            mime: f.mime.clone(),
            kind: f.kind.clone(),
            size: f.size,
            voice: f.voice,
            duration_ms: f.duration_ms,
            peaks: f.peaks.clone(),
            warning: f.warning.clone(),
        }
    }
}

impl From<&enlace_app::RecordingStatus> for RecordingStatusView {
    fn from(r: &enlace_app::RecordingStatus) -> Self {
        RecordingStatusView {
            recording: r.recording,
            elapsed_ms: r.elapsed_ms,
            level: r.level,
            device: r.device.clone(),
        }
    }
}

impl From<&enlace_app::AudioInput> for AudioInputView {
    fn from(a: &enlace_app::AudioInput) -> Self {
        AudioInputView {
            name: a.name.clone(),
            default: a.default,
        }
    }
}

impl From<&enlace_app::QuickAddress> for QuickAddressView {
    fn from(q: &enlace_app::QuickAddress) -> Self {
        QuickAddressView {
            id: q.id.clone(),
            name: q.name.clone(),
            address: q.address.clone(),
            latitude: q.latitude,
            longitude: q.longitude,
            own: q.own,
        }
    }
}

impl From<enlace_app::Position> for PositionView {
    fn from(p: enlace_app::Position) -> Self {
        PositionView {
            latitude: p.latitude,
            longitude: p.longitude,
            accuracy: p.accuracy,
            source: match p.source {
                enlace_app::PositionSource::Os => "os",
                enlace_app::PositionSource::LastUsed => "last_used",
            }
            .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_say_where_they_came_from() {
        let p = |source| enlace_app::Position {
            latitude: 9.93,
            longitude: -84.09,
            accuracy: None,
            source,
        };
        let os =
            serde_json::to_value(PositionView::from(p(enlace_app::PositionSource::Os))).unwrap();
        assert_eq!(os["source"], "os");
        assert_eq!(os["latitude"], 9.93);
        assert_eq!(os["accuracy"], serde_json::Value::Null);
        let last = PositionView::from(p(enlace_app::PositionSource::LastUsed));
        assert_eq!(last.source, "last_used");
    }

    #[test]
    fn a_staged_file_keeps_every_field() {
        let staged = enlace_app::StagedFile {
            token: "0123456789abcdef0123456789abcdef".into(),
            name: "nota-de-voz.ogg".into(),
            mime: "audio/ogg".into(),
            kind: "audio".into(),
            size: 600_000,
            voice: true,
            duration_ms: Some(4_200),
            peaks: vec![0, 128, 255],
            warning: Some("voice_note_large".into()),
        };
        let json = serde_json::to_value(StagedFileView::from(&staged)).unwrap();
        assert_eq!(json["token"], "0123456789abcdef0123456789abcdef");
        assert_eq!(json["durationMs"], 4_200);
        assert_eq!(json["peaks"], serde_json::json!([0, 128, 255]));
        assert_eq!(json["voice"], true);
        assert_eq!(json["warning"], "voice_note_large");
        assert_eq!(json["size"], 600_000);
    }

    #[test]
    fn outgoing_input_reads_the_ui_json_and_becomes_the_hub_message() {
        let text: OutgoingMessageInput =
            serde_json::from_str(r#"{"type":"text","body":"Hola 👋"}"#).unwrap();
        assert_eq!(
            enlace_app::OutgoingMessage::from(text),
            enlace_app::OutgoingMessage::Text {
                body: "Hola 👋".into(),
                preview_url: false
            }
        );
        let template: OutgoingMessageInput = serde_json::from_str(
            r#"{"type":"template","name":"seguimiento","language":"es_MX","parameters":["Ana"]}"#,
        )
        .unwrap();
        assert_eq!(
            enlace_app::OutgoingMessage::from(template),
            enlace_app::OutgoingMessage::Template {
                name: "seguimiento".into(),
                language: "es_MX".into(),
                parameters: vec!["Ana".into()],
            }
        );
        let reaction: OutgoingMessageInput =
            serde_json::from_str(r#"{"type":"reaction","messageId":"wamid.X","emoji":"👍"}"#)
                .unwrap();
        assert_eq!(
            enlace_app::OutgoingMessage::from(reaction),
            enlace_app::OutgoingMessage::Reaction {
                message_id: "wamid.X".into(),
                emoji: Some("👍".into()),
            }
        );
        // Media go out in the next issue: the UI cannot ask for them yet.
        assert!(serde_json::from_str::<OutgoingMessageInput>(
            r#"{"type":"media","kind":"image","mediaId":"x"}"#
        )
        .is_err());
    }

    fn message(content: &str) -> enlace_app::ChatMessage {
        enlace_app::ChatMessage {
            seq: 5,
            hub_id: Some(5),
            client_id: None,
            conversation_id: 4,
            wamid: Some("wamid.A".into()),
            outgoing: false,
            kind: "location".into(),
            text: None,
            content: content.into(),
            media_id: None,
            reply_to: None,
            status: enlace_app::ChatStatus::Received,
            error: None,
            agent_id: None,
            at: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_message_carries_its_content_as_json_and_its_timeline_key() {
        let view = ChatMessageView::from(&message(r#"{"location":{"latitude":9.9}}"#));
        assert_eq!(view.key, "h:5");
        assert_eq!(view.content["location"]["latitude"], 9.9);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["status"], "received");
        assert_eq!(json["conversationId"], 4);
        // Unreadable content is no details, not an error.
        assert_eq!(
            ChatMessageView::from(&message("{not json")).content,
            serde_json::Value::Null
        );
    }
}
