//! The hub protocol: what `enlace-hub` and the desktop (`enlace-hub-client`) exchange, declared
//! once and used by both. No I/O, no axum: plain serde types.
//!
//! - [`error`]: `ApiErrorCode`, the stable error codes of every error reply.
//! - [`events`]: `HubEvent`, the tagged events of the agent stream, with `Unknown` so an older
//!   desktop keeps working with a newer hub.
//! - [`types`]: request and response bodies of the HTTP routes.
//! - [`whatsapp`]: the WhatsApp conversations' payloads.

pub mod error;
pub mod events;
pub mod types;
pub mod whatsapp;

pub use error::{ApiError, ApiErrorCode};
pub use events::{
    AgentStateChanged, CallChanged, DialFailed, EventEnvelope, HubCallPhase, HubEvent,
    PauseBudgetExceeded, StateSource, StreamTruncated,
};
pub use types::{
    Agent, AgentOverview, AgentState, AgentStateKind, DayPause, DayQuery, DaySummary,
    DialOutcomeCode, DialReply, DialRequest, HangupCause, HubCall, HubCallDirection,
    HubDialAttempt, HubDialFailure, LoginRequest, Me, PauseReason, SessionCreated, StateRequest,
    StreamQuery,
};
pub use whatsapp::{
    AssignRequest, BusinessNumber, CannedResponse, Comment, CommentAdded, CommentRequest,
    Conversation, ConversationAssigned, ConversationAttended, ConversationStarted, MediaUploaded,
    Message, MessageError, MessagePage, MessageReceived, MessageStatus, MessageTemplate,
    OutgoingMessage, QuickAddress, SendMessageRequest, StartConversationRequest, WhatsappAlert,
    WindowClosedError, WindowClosing,
};
