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

/// What the agent sends (the hub's `OutgoingMessage`; media arrive in issue 12).
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
