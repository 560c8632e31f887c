//! WhatsApp conversations in the hub: request/response bodies of the conversation routes and the
//! payloads of their stream events (`HubEvent::MessageReceived`, `MessageStatus`,
//! `ConversationAssigned`, `ConversationAttended`, `CommentAdded`, `WindowClosing`).
