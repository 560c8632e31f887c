//! `enlace-whatsapp`: the WhatsApp Business Cloud API connector (api-facts section C). It speaks
//! the protocol and calls the API; it holds no hub, database or queue: the hub stores, routes and
//! retries with what this crate returns.
//!
//! It owns:
//! * [`signature`]: the webhook's `GET` subscription handshake and the `X-Hub-Signature-256`
//!   HMAC over the raw body, both compared in constant time;
//! * [`webhook`]: the POST body as a typed [`WebhookBatch`] (messages of every inbound type,
//!   statuses with a rank to keep the highest, errors), lenient to unknown fields and types;
//! * [`send`]: validated outbound messages ([`OutboundMessage`]) serialized exactly as the API
//!   takes them, mark-as-read, and the send reply ([`SendReceipt`], whose `wa_id` keys the
//!   conversation);
//! * [`media`]: the type, size and content checks done before an upload;
//! * [`templates`]: the WABA's templates and a catalog to cache them;
//! * [`error`]: Graph errors classified by code ([`ErrorClass`]) and [`WhatsAppError`], with
//!   stable codes;
//! * [`client`]: [`GraphClient`], the async HTTP client (rustls with ring, no redirects,
//!   time-outs, capped bodies, the token never logged).
//!
//! To receive a new message type, add a [`MessageKind`] variant and its branch in
//! `webhook::parse_kind` (until then it arrives as [`MessageKind::Unknown`] with its JSON). To
//! send a new type, add an [`OutboundContent`] variant, its constructor and its `to_json` arm.

pub mod client;
pub mod error;
pub mod fuzzing;
pub mod media;
pub mod send;
pub mod signature;
pub mod templates;
pub mod webhook;

pub use client::{
    sha256_matches, AccessToken, DownloadedMedia, GraphClient, GraphConfig, MediaInfo,
    DEFAULT_BASE_URL,
};
pub use error::{retry_delay, ApiError, ErrorClass, WhatsAppError};
pub use media::{check_upload, CheckedMedia, MediaError};
pub use send::{
    mark_read_json, parse_send_reply, MediaKind, OutboundContent, OutboundMessage, SendError,
    SendReceipt, Template, TemplateComponent, TemplateParameter, MAX_TEXT_CHARS,
};
pub use signature::{
    sign, verify_signature, verify_subscription, verify_subscription_query, AppSecret,
    SignatureCheck, SubscriptionRefused, SIGNATURE_HEADER,
};
pub use templates::{MessageTemplate, TemplateCatalog};
pub use webhook::{
    parse_webhook, Change, Contact, DeliveryStatus, Entry, InboundMedia, InboundMessage, Malformed,
    MessageContext, MessageKind, MessagesValue, NotAWebhook, StatusUpdate, WebhookBatch,
};
