//! The webhook POST body (api-facts C2) as a typed [`WebhookBatch`]: every entry, change,
//! message, status and error of the batch.
//!
//! Parsing is lenient by design: an unknown field is ignored (and kept in `raw`), an unknown
//! message type becomes [`MessageKind::Unknown`], an unknown status [`DeliveryStatus::Unknown`],
//! another webhook field [`Change::Other`], and a message or status that cannot be read is kept
//! as a [`Malformed`] item while the rest of the batch still parses. Only a body that is not a
//! JSON object is refused. Nothing here panics on any input (a property test feeds it arbitrary
//! bytes).
//!
//! To follow a new message type, add a [`MessageKind`] variant and a branch in
//! `parse_kind`; until then it arrives as `Unknown` with its JSON.

use serde_json::{Map, Value};

use crate::error::{int, ApiError};

/// A webhook POST body.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookBatch {
    /// `object`: `whatsapp_business_account` for WhatsApp.
    pub object: Option<String>,
    pub entries: Vec<Entry>,
}

/// One `entry[]`: the changes of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `entry[].id`: the WABA id.
    pub waba_id: Option<String>,
    pub changes: Vec<Change>,
}

/// One `changes[]` item.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `field: messages`: messages, statuses and errors of one business phone number.
    Messages(MessagesValue),
    /// Any other field (template status updates, account updates, …), kept as received.
    Other { field: String, value: Value },
}

/// The `value` of a `messages` change.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesValue {
    /// `metadata.phone_number_id`: the business number the events belong to.
    pub phone_number_id: Option<String>,
    /// `metadata.display_phone_number`.
    pub display_phone_number: Option<String>,
    /// `contacts[]`: the profiles of the senders in `messages`.
    pub contacts: Vec<Contact>,
    pub messages: Vec<Result<InboundMessage, Malformed>>,
    pub statuses: Vec<Result<StatusUpdate, Malformed>>,
    /// `value.errors[]`: errors about the number or the webhook, not about one message.
    pub errors: Vec<ApiError>,
}

impl MessagesValue {
    /// The profile name the sender `wa_id` has in this change's `contacts`.
    pub fn contact_name(&self, wa_id: &str) -> Option<&str> {
        self.contacts
            .iter()
            .find(|c| c.wa_id == wa_id)
            .and_then(|c| c.name.as_deref())
    }
}

/// One `contacts[]` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub wa_id: String,
    /// `profile.name`.
    pub name: Option<String>,
    /// `user_id`: the business-scoped user id of newer payloads.
    pub user_id: Option<String>,
}

/// A message or status that could not be read, kept whole so nothing is lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// Its `id` (the wamid), when it has a readable one.
    pub id: Option<String>,
    /// What was wrong.
    pub error: String,
    pub raw: Value,
}

/// One inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// `id`: the wamid; de-duplicate on it (Meta retries a batch for up to 7 days).
    pub wamid: String,
    /// `from`: the sender's wa_id.
    pub from: String,
    /// `from_user_id` of newer payloads.
    pub from_user_id: Option<String>,
    /// `timestamp`: Unix seconds.
    pub timestamp: i64,
    pub kind: MessageKind,
    /// `context`: the quoted message, forwarding flags, the product asked about.
    pub context: Option<MessageContext>,
    /// `referral`: the ad or post the customer came from (click-to-WhatsApp), as received.
    pub referral: Option<Value>,
    /// `errors[]` on the message (unsupported types carry theirs here too).
    pub errors: Vec<ApiError>,
    /// The message exactly as received.
    pub raw: Value,
}

/// `context` of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageContext {
    /// `context.id`: the wamid of the message replied to (quoted).
    pub quoted_id: Option<String>,
    /// `context.from`: who sent the quoted message (the business number for replies to us).
    pub quoted_from: Option<String>,
    pub forwarded: bool,
    pub frequently_forwarded: bool,
    /// `context.referred_product`: the catalog product the customer asks about.
    pub referred_product: Option<ReferredProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferredProduct {
    pub catalog_id: Option<String>,
    pub product_retailer_id: Option<String>,
}

/// A media attachment of an inbound message; fetch it with its `id`
/// ([`crate::GraphClient::download_media`]) within 7 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMedia {
    /// The media id.
    pub id: String,
    pub mime_type: Option<String>,
    /// The file's SHA-256 as Meta announces it (base64 in webhooks).
    pub sha256: Option<String>,
    pub caption: Option<String>,
}

/// What an inbound message carries, one variant per type.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageKind {
    Text {
        body: String,
    },
    Image(InboundMedia),
    /// `voice`: a recorded voice note (push-to-talk); otherwise an audio file.
    Audio {
        media: InboundMedia,
        voice: bool,
    },
    Video(InboundMedia),
    Document {
        media: InboundMedia,
        filename: Option<String>,
    },
    Sticker {
        media: InboundMedia,
        animated: bool,
    },
    /// A pin (only coordinates) or a named place (`name`, `address`, `url`).
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
        url: Option<String>,
    },
    /// Shared contact cards.
    Contacts(Vec<SharedContact>),
    /// `interactive.button_reply`: a reply button of ours was tapped.
    ButtonReply {
        id: String,
        title: String,
    },
    /// `interactive.list_reply`: a row of one of our lists was picked.
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// `interactive.nfm_reply`: a WhatsApp Flow was completed; `response_json` is a JSON string.
    FlowReply {
        name: Option<String>,
        body: Option<String>,
        response_json: String,
    },
    /// `button`: a quick-reply button of a template was tapped.
    TemplateButton {
        text: String,
        payload: Option<String>,
    },
    /// A reaction to `message_id`; `emoji: None` (empty or absent) removes the sender's
    /// reaction.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    /// A cart sent from the catalog.
    Order {
        catalog_id: Option<String>,
        text: Option<String>,
        items: Vec<OrderItem>,
    },
    /// `system`: the customer changed number (`new_wa_id`), or another system notice.
    System {
        system_type: Option<String>,
        body: Option<String>,
        new_wa_id: Option<String>,
    },
    /// `unsupported` (or the older `unknown`): WhatsApp could not pass the message on; the reason
    /// is in [`InboundMessage::errors`].
    Unsupported,
    /// A type this crate does not know yet, or an `interactive` sub-type it does not know.
    Unknown {
        type_name: String,
        raw: Value,
    },
}

impl MessageKind {
    /// The `type` name, for storage and logs (`text`, `image`, …, the unknown type's own name).
    pub fn type_name(&self) -> &str {
        match self {
            MessageKind::Text { .. } => "text",
            MessageKind::Image(_) => "image",
            MessageKind::Audio { .. } => "audio",
            MessageKind::Video(_) => "video",
            MessageKind::Document { .. } => "document",
            MessageKind::Sticker { .. } => "sticker",
            MessageKind::Location { .. } => "location",
            MessageKind::Contacts(_) => "contacts",
            MessageKind::ButtonReply { .. } => "button_reply",
            MessageKind::ListReply { .. } => "list_reply",
            MessageKind::FlowReply { .. } => "nfm_reply",
            MessageKind::TemplateButton { .. } => "button",
            MessageKind::Reaction { .. } => "reaction",
            MessageKind::Order { .. } => "order",
            MessageKind::System { .. } => "system",
            MessageKind::Unsupported => "unsupported",
            MessageKind::Unknown { type_name, .. } => type_name,
        }
    }

    /// The media attachment, for the media types.
    pub fn media(&self) -> Option<&InboundMedia> {
        match self {
            MessageKind::Image(m) | MessageKind::Video(m) => Some(m),
            MessageKind::Audio { media, .. }
            | MessageKind::Document { media, .. }
            | MessageKind::Sticker { media, .. } => Some(media),
            _ => None,
        }
    }
}

/// One shared contact card (`contacts[]` of a `contacts` message).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedContact {
    /// `name.formatted_name`.
    pub formatted_name: Option<String>,
    pub phones: Vec<SharedPhone>,
    /// `emails[].email`.
    pub emails: Vec<String>,
    /// `org.company`.
    pub company: Option<String>,
    /// The card as received (addresses, urls, birthday, …).
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPhone {
    pub phone: Option<String>,
    /// Present when the number is on WhatsApp.
    pub wa_id: Option<String>,
    /// `type`: `CELL`, `HOME`, `WORK`, …
    pub phone_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub product_retailer_id: Option<String>,
    pub quantity: Option<i64>,
    pub item_price: Option<f64>,
    pub currency: Option<String>,
}

/// One `statuses[]` item: what happened to a message we sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// `id`: the wamid of our message.
    pub wamid: String,
    pub status: DeliveryStatus,
    /// `recipient_id`: the customer's wa_id.
    pub recipient_id: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
    /// `conversation`, as received (may be absent under per-message pricing).
    pub conversation: Option<Value>,
    /// `pricing`, as received.
    pub pricing: Option<Value>,
    /// `errors[]` of a failed status.
    pub errors: Vec<ApiError>,
    /// `biz_opaque_callback_data`, when the send set it.
    pub callback_data: Option<String>,
    /// The status exactly as received.
    pub raw: Value,
}

/// A message's delivery state. Statuses arrive out of order; keep the one with the highest
/// [`rank`](DeliveryStatus::rank) (see [`DeliveryStatus::supersedes`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    /// A voice message was played.
    Played,
    Failed,
    /// A status this crate does not know; never replaces a known one.
    Unknown(String),
}

impl DeliveryStatus {
    pub fn parse(s: &str) -> DeliveryStatus {
        match s {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "played" => DeliveryStatus::Played,
            "failed" => DeliveryStatus::Failed,
            other => DeliveryStatus::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unknown(s) => s,
        }
    }

    /// Order of progress: unknown 0 < sent 1 < failed 2 < delivered 3 < read 4 < played 5.
    /// `failed` outranks `sent` (a late `sent` does not undo a failure) but not `delivered` or
    /// later (the phone has it, whatever came after).
    pub fn rank(&self) -> u8 {
        match self {
            DeliveryStatus::Unknown(_) => 0,
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Failed => 2,
            DeliveryStatus::Delivered => 3,
            DeliveryStatus::Read => 4,
            DeliveryStatus::Played => 5,
        }
    }

    /// Whether `self`, arriving now, replaces `current` (or there is none yet): its rank is
    /// higher. Equal ranks keep the current one.
    pub fn supersedes(&self, current: Option<&DeliveryStatus>) -> bool {
        current.is_none_or(|c| self.rank() > c.rank())
    }
}

/// Why a body is not a webhook batch at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a WhatsApp webhook body: {detail}")]
pub struct NotAWebhook {
    pub detail: String,
}

impl NotAWebhook {
    /// Stable code: `whatsapp_webhook_invalid`.
    pub fn code(&self) -> &'static str {
        "whatsapp_webhook_invalid"
    }
}

impl WebhookBatch {
    /// Every inbound message (read or malformed) with the change it came in.
    pub fn messages(
        &self,
    ) -> impl Iterator<Item = (&MessagesValue, &Result<InboundMessage, Malformed>)> {
        self.messages_values()
            .flat_map(|v| v.messages.iter().map(move |m| (v, m)))
    }

    /// Every status (read or malformed) with the change it came in.
    pub fn statuses(
        &self,
    ) -> impl Iterator<Item = (&MessagesValue, &Result<StatusUpdate, Malformed>)> {
        self.messages_values()
            .flat_map(|v| v.statuses.iter().map(move |s| (v, s)))
    }

    /// The `messages` changes of every entry.
    pub fn messages_values(&self) -> impl Iterator<Item = &MessagesValue> {
        self.entries
            .iter()
            .flat_map(|e| e.changes.iter())
            .filter_map(|c| match c {
                Change::Messages(v) => Some(v),
                Change::Other { .. } => None,
            })
    }
}

/// Reads a webhook POST body (after its signature was checked). Fails only when the body is not
/// a JSON object; see the module documentation for everything it tolerates.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookBatch, NotAWebhook> {
    let value: Value = serde_json::from_slice(body).map_err(|e| NotAWebhook {
        detail: format!("not JSON ({})", e.classify_name()),
    })?;
    parse_webhook_value(&value)
}

/// [`parse_webhook`] on JSON already read.
pub fn parse_webhook_value(value: &Value) -> Result<WebhookBatch, NotAWebhook> {
    let Some(root) = value.as_object() else {
        return Err(NotAWebhook {
            detail: "the body is not a JSON object".into(),
        });
    };
    let entries = array(root.get("entry"))
        .iter()
        .map(|entry| Entry {
            waba_id: text(entry, "id"),
            changes: array(entry.get("changes"))
                .iter()
                .map(parse_change)
                .collect(),
        })
        .collect();
    Ok(WebhookBatch {
        object: text(value, "object"),
        entries,
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "data error",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

fn parse_change(change: &Value) -> Change {
    let field = text(change, "field").unwrap_or_default();
    let value = change.get("value").cloned().unwrap_or(Value::Null);
    if field != "messages" || !value.is_object() {
        return Change::Other { field, value };
    }
    let metadata = value.get("metadata");
    Change::Messages(MessagesValue {
        phone_number_id: metadata.and_then(|m| text(m, "phone_number_id")),
        display_phone_number: metadata.and_then(|m| text(m, "display_phone_number")),
        contacts: array(value.get("contacts"))
            .iter()
            .filter_map(|c| {
                Some(Contact {
                    wa_id: text(c, "wa_id")?,
                    name: c.get("profile").and_then(|p| text(p, "name")),
                    user_id: text(c, "user_id"),
                })
            })
            .collect(),
        messages: array(value.get("messages"))
            .iter()
            .map(parse_message)
            .collect(),
        statuses: array(value.get("statuses"))
            .iter()
            .map(parse_status)
            .collect(),
        errors: errors(value.get("errors")),
    })
}

fn malformed(raw: &Value, error: impl Into<String>) -> Malformed {
    Malformed {
        id: text(raw, "id"),
        error: error.into(),
        raw: raw.clone(),
    }
}

/// Reads one `messages[]` item.
pub fn parse_message(raw: &Value) -> Result<InboundMessage, Malformed> {
    let Some(obj) = raw.as_object() else {
        return Err(malformed(raw, "the message is not an object"));
    };
    let wamid = text(raw, "id").ok_or_else(|| malformed(raw, "no id"))?;
    let from = text(raw, "from").ok_or_else(|| malformed(raw, "no from"))?;
    let timestamp = raw
        .get("timestamp")
        .and_then(int)
        .ok_or_else(|| malformed(raw, "no timestamp"))?;
    let type_name = text(raw, "type").unwrap_or_default();
    let kind = parse_kind(&type_name, obj).map_err(|why| malformed(raw, why))?;
    Ok(InboundMessage {
        wamid,
        from,
        from_user_id: text(raw, "from_user_id"),
        timestamp,
        kind,
        context: raw
            .get("context")
            .filter(|c| c.is_object())
            .map(|c| MessageContext {
                quoted_id: text(c, "id"),
                quoted_from: text(c, "from"),
                forwarded: flag(c, "forwarded"),
                frequently_forwarded: flag(c, "frequently_forwarded"),
                referred_product: c
                    .get("referred_product")
                    .filter(|p| p.is_object())
                    .map(|p| ReferredProduct {
                        catalog_id: text(p, "catalog_id"),
                        product_retailer_id: text(p, "product_retailer_id"),
                    }),
            }),
        referral: raw.get("referral").cloned(),
        errors: errors(raw.get("errors")),
        raw: raw.clone(),
    })
}

/// The type-specific object, as a `Result` whose error names what is missing.
fn parse_kind(type_name: &str, obj: &Map<String, Value>) -> Result<MessageKind, String> {
    let body = |key: &str| -> Result<&Value, String> {
        obj.get(key)
            .filter(|v| v.is_object())
            .ok_or_else(|| format!("type {key} without its {key} object"))
    };
    let need = |v: &Value, key: &str, what: &str| -> Result<String, String> {
        text(v, key).ok_or_else(|| format!("{what} without {key}"))
    };
    Ok(match type_name {
        "text" => MessageKind::Text {
            body: need(body("text")?, "body", "text")?,
        },
        "image" => MessageKind::Image(media(body("image")?)?),
        "video" => MessageKind::Video(media(body("video")?)?),
        "audio" => {
            let b = body("audio")?;
            MessageKind::Audio {
                media: media(b)?,
                voice: flag(b, "voice"),
            }
        }
        "document" => {
            let b = body("document")?;
            MessageKind::Document {
                media: media(b)?,
                filename: text(b, "filename"),
            }
        }
        "sticker" => {
            let b = body("sticker")?;
            MessageKind::Sticker {
                media: media(b)?,
                animated: flag(b, "animated"),
            }
        }
        "location" => {
            let b = body("location")?;
            MessageKind::Location {
                latitude: number(b, "latitude")
                    .filter(|l| (-90.0..=90.0).contains(l))
                    .ok_or("location without a valid latitude")?,
                longitude: number(b, "longitude")
                    .filter(|l| (-180.0..=180.0).contains(l))
                    .ok_or("location without a valid longitude")?,
                name: text(b, "name"),
                address: text(b, "address"),
                url: text(b, "url"),
            }
        }
        "contacts" => MessageKind::Contacts(
            obj.get("contacts")
                .and_then(Value::as_array)
                .ok_or("type contacts without its contacts array")?
                .iter()
                .map(shared_contact)
                .collect(),
        ),
        "interactive" => {
            let b = body("interactive")?;
            let sub = text(b, "type").unwrap_or_default();
            match sub.as_str() {
                "button_reply" => {
                    let r = b
                        .get("button_reply")
                        .ok_or("button_reply without its object")?;
                    MessageKind::ButtonReply {
                        id: need(r, "id", "button_reply")?,
                        title: text(r, "title").unwrap_or_default(),
                    }
                }
                "list_reply" => {
                    let r = b.get("list_reply").ok_or("list_reply without its object")?;
                    MessageKind::ListReply {
                        id: need(r, "id", "list_reply")?,
                        title: text(r, "title").unwrap_or_default(),
                        description: text(r, "description"),
                    }
                }
                "nfm_reply" => {
                    let r = b.get("nfm_reply").ok_or("nfm_reply without its object")?;
                    MessageKind::FlowReply {
                        name: text(r, "name"),
                        body: text(r, "body"),
                        response_json: need(r, "response_json", "nfm_reply")?,
                    }
                }
                _ => MessageKind::Unknown {
                    type_name: format!("interactive/{sub}"),
                    raw: b.clone(),
                },
            }
        }
        "button" => {
            let b = body("button")?;
            MessageKind::TemplateButton {
                text: text(b, "text").unwrap_or_default(),
                payload: text(b, "payload"),
            }
        }
        "reaction" => {
            let b = body("reaction")?;
            MessageKind::Reaction {
                message_id: need(b, "message_id", "reaction")?,
                emoji: text(b, "emoji").filter(|e| !e.is_empty()),
            }
        }
        "order" => {
            let b = body("order")?;
            MessageKind::Order {
                catalog_id: text(b, "catalog_id"),
                text: text(b, "text"),
                items: array(b.get("product_items"))
                    .iter()
                    .map(|item| OrderItem {
                        product_retailer_id: text(item, "product_retailer_id"),
                        quantity: item.get("quantity").and_then(int),
                        item_price: number(item, "item_price"),
                        currency: text(item, "currency"),
                    })
                    .collect(),
            }
        }
        "system" => {
            let b = body("system")?;
            MessageKind::System {
                system_type: text(b, "type"),
                body: text(b, "body"),
                new_wa_id: text(b, "wa_id").or_else(|| text(b, "new_wa_id")),
            }
        }
        "unsupported" | "unknown" => MessageKind::Unsupported,
        other => MessageKind::Unknown {
            type_name: other.to_owned(),
            raw: obj.get(other).cloned().unwrap_or(Value::Null),
        },
    })
}

fn media(b: &Value) -> Result<InboundMedia, String> {
    Ok(InboundMedia {
        id: text(b, "id").ok_or("media without id")?,
        mime_type: text(b, "mime_type"),
        sha256: text(b, "sha256"),
        caption: text(b, "caption"),
    })
}

fn shared_contact(card: &Value) -> SharedContact {
    SharedContact {
        formatted_name: card.get("name").and_then(|n| text(n, "formatted_name")),
        phones: array(card.get("phones"))
            .iter()
            .map(|p| SharedPhone {
                phone: text(p, "phone"),
                wa_id: text(p, "wa_id"),
                phone_type: text(p, "type"),
            })
            .collect(),
        emails: array(card.get("emails"))
            .iter()
            .filter_map(|e| text(e, "email"))
            .collect(),
        company: card.get("org").and_then(|o| text(o, "company")),
        raw: card.clone(),
    }
}

/// Reads one `statuses[]` item.
pub fn parse_status(raw: &Value) -> Result<StatusUpdate, Malformed> {
    if !raw.is_object() {
        return Err(malformed(raw, "the status is not an object"));
    }
    let wamid = text(raw, "id").ok_or_else(|| malformed(raw, "no id"))?;
    let status = text(raw, "status").ok_or_else(|| malformed(raw, "no status"))?;
    let timestamp = raw
        .get("timestamp")
        .and_then(int)
        .ok_or_else(|| malformed(raw, "no timestamp"))?;
    Ok(StatusUpdate {
        wamid,
        status: DeliveryStatus::parse(&status),
        recipient_id: text(raw, "recipient_id"),
        timestamp,
        conversation: raw.get("conversation").cloned(),
        pricing: raw.get("pricing").cloned(),
        errors: errors(raw.get("errors")),
        callback_data: text(raw, "biz_opaque_callback_data"),
        raw: raw.clone(),
    })
}

fn errors(v: Option<&Value>) -> Vec<ApiError> {
    array(v).iter().filter_map(ApiError::from_webhook).collect()
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A string field (a number is taken as its decimal text: ids are sometimes numbers).
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A finite number, or a string of one.
fn number(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

fn flag(v: &Value, key: &str) -> bool {
    matches!(v.get(key), Some(Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranks_keep_the_highest() {
        use DeliveryStatus::*;
        let order = [Unknown("x".into()), Sent, Failed, Delivered, Read, Played];
        for pair in order.windows(2) {
            assert!(pair[1].rank() > pair[0].rank(), "{pair:?}");
            assert!(pair[1].supersedes(Some(&pair[0])));
            assert!(!pair[0].supersedes(Some(&pair[1])));
        }
        assert!(Sent.supersedes(None));
        assert!(Unknown("deleted".into()).supersedes(None));
        assert!(!Read.supersedes(Some(&Read)));
        // read before delivered: delivered arriving late changes nothing.
        let mut current = None;
        for arriving in [Read, Delivered, Sent] {
            if arriving.supersedes(current.as_ref()) {
                current = Some(arriving);
            }
        }
        assert_eq!(current, Some(Read));
        for s in ["sent", "delivered", "read", "played", "failed", "warning"] {
            assert_eq!(DeliveryStatus::parse(s).as_str(), s);
        }
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        for body in [&b""[..], b"[]", b"null", b"\"x\"", b"{", b"\xff"] {
            let err = parse_webhook(body).expect_err("refused");
            assert_eq!(err.code(), "whatsapp_webhook_invalid");
        }
        let empty = parse_webhook(b"{}").expect("an empty object is an empty batch");
        assert!(empty.entries.is_empty());
    }
}
