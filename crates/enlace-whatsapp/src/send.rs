//! Outbound requests to `POST /{phone-number-id}/messages` (api-facts C3), checked before they
//! leave, and the send reply, whose `wa_id` keys the conversation.
//!
//! Build an [`OutboundMessage`] with one of its constructors (each validates), optionally
//! [`OutboundMessage::in_reply_to`], and send it with [`crate::GraphClient::send_message`];
//! [`OutboundMessage::to_json`] is the exact body.

use serde_json::{json, Map, Value};

/// Longest text body, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest media caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 1024;

/// Why a message was refused before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The recipient is not a phone number (digits, optionally after `+`).
    #[error("the recipient {to:?} is not a phone number")]
    BadRecipient { to: String },
    /// The text or caption is empty.
    #[error("the message is empty")]
    Empty,
    /// Longer than allowed.
    #[error("the {what} has {chars} characters; WhatsApp allows at most {max}")]
    TooLong {
        what: &'static str,
        chars: usize,
        max: usize,
    },
    /// A caption on audio or a sticker, which take none.
    #[error("{kind} messages take no caption")]
    CaptionNotAllowed { kind: &'static str },
    /// An id (wamid, media id, template name, language) that is empty or not plain text.
    #[error("invalid {what}")]
    BadField { what: &'static str },
    /// Coordinates out of range.
    #[error("the location is out of range")]
    BadLocation,
}

impl SendError {
    /// Stable code: `whatsapp_bad_recipient`, `whatsapp_empty_message`, `whatsapp_too_long`,
    /// `whatsapp_caption_not_allowed`, `whatsapp_bad_field` or `whatsapp_bad_location`.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::BadRecipient { .. } => "whatsapp_bad_recipient",
            SendError::Empty => "whatsapp_empty_message",
            SendError::TooLong { .. } => "whatsapp_too_long",
            SendError::CaptionNotAllowed { .. } => "whatsapp_caption_not_allowed",
            SendError::BadField { .. } => "whatsapp_bad_field",
            SendError::BadLocation => "whatsapp_bad_location",
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// The recipient as typed (`+16505551234` or digits); Meta answers with the `wa_id`.
    pub to: String,
    /// `context.message_id`: the wamid this message replies to (quotes).
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data`: echoed in every status webhook of this message, so a sender
    /// that lost the send reply (a crash, a cut connection) can still recognize it (at most 512
    /// characters).
    pub callback_data: Option<String>,
    pub content: OutboundContent,
}

/// The media types that can be sent by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    /// The `type` name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    fn takes_caption(self) -> bool {
        matches!(
            self,
            MediaKind::Image | MediaKind::Video | MediaKind::Document
        )
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundContent {
    Text {
        body: String,
        preview_url: bool,
    },
    Template(Template),
    /// Uploaded media by id.
    Media {
        kind: MediaKind,
        media_id: String,
        caption: Option<String>,
        /// Documents: the name the customer sees.
        filename: Option<String>,
        /// Audio: show an OGG/OPUS file as a voice note.
        voice: bool,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// React to `message_id`; `emoji: None` removes our reaction.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
}

/// A template send: an approved template by name and language, with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    /// Language code, e.g. `en_US`, `es_MX`.
    pub language: String,
    pub components: Vec<TemplateComponent>,
}

/// The parameters of one part of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateComponent {
    Header(Vec<TemplateParameter>),
    Body(Vec<TemplateParameter>),
    /// A button's parameter: `sub_type` `quick_reply` (payload) or `url` (text), by `index`.
    Button {
        sub_type: String,
        index: u32,
        parameters: Vec<TemplateParameter>,
    },
}

/// One template parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateParameter {
    Text(String),
    /// A quick-reply button's payload.
    Payload(String),
    /// A header image, video or document, by uploaded media id.
    Media {
        kind: MediaKind,
        media_id: String,
        filename: Option<String>,
    },
}

impl OutboundMessage {
    /// A text of at most [`MAX_TEXT_CHARS`] characters.
    pub fn text(to: &str, body: &str) -> Result<OutboundMessage, SendError> {
        check_text(body, "text", MAX_TEXT_CHARS)?;
        Self::new(
            to,
            OutboundContent::Text {
                body: body.to_owned(),
                preview_url: false,
            },
        )
    }

    /// A template message (the only kind allowed outside the 24-hour window).
    pub fn template(to: &str, template: Template) -> Result<OutboundMessage, SendError> {
        check_id(&template.name, "template name")?;
        check_id(&template.language, "template language")?;
        for component in &template.components {
            let parameters = match component {
                TemplateComponent::Header(p) | TemplateComponent::Body(p) => p,
                TemplateComponent::Button {
                    sub_type,
                    parameters,
                    ..
                } => {
                    check_id(sub_type, "template button type")?;
                    parameters
                }
            };
            for p in parameters {
                match p {
                    TemplateParameter::Text(t) => {
                        check_text(t, "template parameter", MAX_CAPTION_CHARS)?
                    }
                    TemplateParameter::Payload(t) => check_id(t, "button payload")?,
                    TemplateParameter::Media { media_id, .. } => check_id(media_id, "media id")?,
                }
            }
        }
        Self::new(to, OutboundContent::Template(template))
    }

    /// Uploaded media by id. `caption` on image, video and document only (at most
    /// [`MAX_CAPTION_CHARS`]); `filename` is used for documents; `voice` for audio.
    pub fn media(
        to: &str,
        kind: MediaKind,
        media_id: &str,
        caption: Option<&str>,
        filename: Option<&str>,
        voice: bool,
    ) -> Result<OutboundMessage, SendError> {
        check_id(media_id, "media id")?;
        let caption = caption.filter(|c| !c.trim().is_empty());
        if let Some(c) = caption {
            if !kind.takes_caption() {
                return Err(SendError::CaptionNotAllowed {
                    kind: kind.as_str(),
                });
            }
            check_text(c, "caption", MAX_CAPTION_CHARS)?;
        }
        let filename = filename
            .filter(|_| kind == MediaKind::Document)
            .map(|f| f.trim())
            .filter(|f| !f.is_empty());
        if filename.is_some_and(|f| f.chars().any(char::is_control) || f.chars().count() > 240) {
            return Err(SendError::BadField { what: "file name" });
        }
        Self::new(
            to,
            OutboundContent::Media {
                kind,
                media_id: media_id.to_owned(),
                caption: caption.map(str::to_owned),
                filename: filename.map(str::to_owned),
                voice: voice && kind == MediaKind::Audio,
            },
        )
    }

    /// A location pin, or a named place with `name` and `address`.
    pub fn location(
        to: &str,
        latitude: f64,
        longitude: f64,
        name: Option<&str>,
        address: Option<&str>,
    ) -> Result<OutboundMessage, SendError> {
        if !(latitude.is_finite()
            && longitude.is_finite()
            && (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude))
        {
            return Err(SendError::BadLocation);
        }
        let clean = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self::new(
            to,
            OutboundContent::Location {
                latitude,
                longitude,
                name: clean(name),
                address: clean(address),
            },
        )
    }

    /// A reaction to `message_id`; `None` or an empty emoji removes ours.
    pub fn reaction(
        to: &str,
        message_id: &str,
        emoji: Option<&str>,
    ) -> Result<OutboundMessage, SendError> {
        check_id(message_id, "message id")?;
        let emoji = emoji.filter(|e| !e.is_empty());
        if emoji.is_some_and(|e| e.chars().count() > 16 || e.chars().any(char::is_control)) {
            return Err(SendError::BadField { what: "emoji" });
        }
        Self::new(
            to,
            OutboundContent::Reaction {
                message_id: message_id.to_owned(),
                emoji: emoji.map(str::to_owned),
            },
        )
    }

    /// Quote `wamid` (Meta's `context.message_id`).
    pub fn in_reply_to(mut self, wamid: &str) -> Result<OutboundMessage, SendError> {
        check_id(wamid, "message id")?;
        self.reply_to = Some(wamid.to_owned());
        Ok(self)
    }

    /// Let WhatsApp show a preview of the first URL in a text (ignored for other types).
    /// Data Meta echoes in this message's status webhooks (`biz_opaque_callback_data`).
    pub fn with_callback_data(mut self, data: &str) -> Result<OutboundMessage, SendError> {
        if data.is_empty() || data.chars().count() > 512 || data.chars().any(char::is_control) {
            return Err(SendError::BadField {
                what: "callback data",
            });
        }
        self.callback_data = Some(data.to_owned());
        Ok(self)
    }

    pub fn with_preview_url(mut self, on: bool) -> OutboundMessage {
        if let OutboundContent::Text { preview_url, .. } = &mut self.content {
            *preview_url = on;
        }
        self
    }

    fn new(to: &str, content: OutboundContent) -> Result<OutboundMessage, SendError> {
        let to = to.trim();
        let digits = to.strip_prefix('+').unwrap_or(to);
        if digits.len() < 5 || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SendError::BadRecipient { to: to.to_owned() });
        }
        Ok(OutboundMessage {
            to: to.to_owned(),
            reply_to: None,
            callback_data: None,
            content,
        })
    }

    /// The `type` name on the wire.
    pub fn type_name(&self) -> &'static str {
        match &self.content {
            OutboundContent::Text { .. } => "text",
            OutboundContent::Template(_) => "template",
            OutboundContent::Media { kind, .. } => kind.as_str(),
            OutboundContent::Location { .. } => "location",
            OutboundContent::Reaction { .. } => "reaction",
        }
    }

    /// The request body, exactly as api-facts C3 shows it.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("messaging_product".into(), json!("whatsapp"));
        body.insert("recipient_type".into(), json!("individual"));
        body.insert("to".into(), json!(self.to));
        let type_name = self.type_name();
        body.insert("type".into(), json!(type_name));
        if let Some(id) = &self.reply_to {
            body.insert("context".into(), json!({ "message_id": id }));
        }
        if let Some(data) = &self.callback_data {
            body.insert("biz_opaque_callback_data".into(), json!(data));
        }
        let object = match &self.content {
            OutboundContent::Text { body, preview_url } => {
                json!({ "preview_url": preview_url, "body": body })
            }
            OutboundContent::Template(t) => template_json(t),
            OutboundContent::Media {
                kind,
                media_id,
                caption,
                filename,
                voice,
            } => {
                let mut m = Map::new();
                m.insert("id".into(), json!(media_id));
                if let Some(c) = caption {
                    m.insert("caption".into(), json!(c));
                }
                if let Some(f) = filename {
                    m.insert("filename".into(), json!(f));
                }
                if *voice && *kind == MediaKind::Audio {
                    m.insert("voice".into(), json!(true));
                }
                Value::Object(m)
            }
            OutboundContent::Location {
                latitude,
                longitude,
                name,
                address,
            } => {
                // C3 sends the coordinates as strings.
                let mut m = Map::new();
                m.insert("latitude".into(), json!(latitude.to_string()));
                m.insert("longitude".into(), json!(longitude.to_string()));
                if let Some(n) = name {
                    m.insert("name".into(), json!(n));
                }
                if let Some(a) = address {
                    m.insert("address".into(), json!(a));
                }
                Value::Object(m)
            }
            OutboundContent::Reaction { message_id, emoji } => {
                json!({ "message_id": message_id, "emoji": emoji.as_deref().unwrap_or("") })
            }
        };
        body.insert(type_name.into(), object);
        Value::Object(body)
    }
}

fn template_json(t: &Template) -> Value {
    let params = |ps: &[TemplateParameter]| -> Value {
        ps.iter()
            .map(|p| match p {
                TemplateParameter::Text(text) => json!({"type": "text", "text": text}),
                TemplateParameter::Payload(payload) => {
                    json!({"type": "payload", "payload": payload})
                }
                TemplateParameter::Media {
                    kind,
                    media_id,
                    filename,
                } => {
                    let mut m = Map::new();
                    m.insert("id".into(), json!(media_id));
                    if let Some(f) = filename {
                        m.insert("filename".into(), json!(f));
                    }
                    json!({"type": kind.as_str(), kind.as_str(): Value::Object(m)})
                }
            })
            .collect()
    };
    let components: Vec<Value> = t
        .components
        .iter()
        .map(|c| match c {
            TemplateComponent::Header(ps) => json!({"type": "header", "parameters": params(ps)}),
            TemplateComponent::Body(ps) => json!({"type": "body", "parameters": params(ps)}),
            TemplateComponent::Button {
                sub_type,
                index,
                parameters,
            } => json!({
                "type": "button",
                "sub_type": sub_type,
                "index": index.to_string(),
                "parameters": params(parameters),
            }),
        })
        .collect();
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name));
    m.insert("language".into(), json!({ "code": t.language }));
    if !components.is_empty() {
        m.insert("components".into(), Value::Array(components));
    }
    Value::Object(m)
}

/// The body that marks `message_id` (and the earlier messages of its thread) read, optionally
/// showing a typing indicator (until we reply, or 25 s).
pub fn mark_read_json(message_id: &str, typing_indicator: bool) -> Result<Value, SendError> {
    check_id(message_id, "message id")?;
    let mut body = json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    });
    if typing_indicator {
        body["typing_indicator"] = json!({"type": "text"});
    }
    Ok(body)
}

/// The send reply: Meta accepted the message (delivery comes later as statuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// `messages[0].id`: the wamid of the message sent; statuses refer to it.
    pub wamid: String,
    /// `contacts[0].wa_id`: the customer's WhatsApp id. It can differ from the number typed
    /// (Brazil, Mexico normalization): key the conversation on it.
    pub wa_id: Option<String>,
    /// `contacts[0].input`: the number as sent.
    pub input: Option<String>,
    /// `messages[0].message_status`: `accepted`, `held_for_quality_assessment` (templates).
    pub message_status: Option<String>,
}

/// Reads a 2xx send reply; `None` when it has no message id.
pub fn parse_send_reply(body: &[u8]) -> Option<SendReceipt> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = value.get("messages")?.as_array()?.first()?;
    let contact = value
        .get("contacts")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let s = |v: Option<&Value>, key: &str| {
        v.and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Some(SendReceipt {
        wamid: s(Some(message), "id").filter(|id| !id.is_empty())?,
        wa_id: s(contact, "wa_id"),
        input: s(contact, "input"),
        message_status: s(Some(message), "message_status"),
    })
}

fn check_text(text: &str, what: &'static str, max: usize) -> Result<(), SendError> {
    if text.trim().is_empty() {
        return Err(SendError::Empty);
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(SendError::TooLong { what, chars, max });
    }
    Ok(())
}

/// Ids, names and codes: non-empty, at most 512 bytes, no control characters or blanks.
fn check_id(id: &str, what: &'static str) -> Result<(), SendError> {
    if id.is_empty() || id.len() > 512 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(SendError::BadField { what });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_is_sent_and_checked() {
        let m = OutboundMessage::text("5215512345678", "hola")
            .unwrap()
            .with_callback_data("enlace:42")
            .unwrap();
        assert_eq!(m.to_json()["biz_opaque_callback_data"], "enlace:42");
        let plain = OutboundMessage::text("5215512345678", "hola").unwrap();
        assert!(plain.to_json().get("biz_opaque_callback_data").is_none());
        assert!(plain.clone().with_callback_data("").is_err());
        assert!(plain.with_callback_data(&"x".repeat(513)).is_err());
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).expect("json")
    }

    #[test]
    fn text_as_c3() {
        let m = OutboundMessage::text("+16505551234", "Hello! (max 4096 chars)")
            .and_then(|m| m.in_reply_to("wamid.HBgL…"))
            .expect("valid");
        assert_eq!(
            m.to_json(),
            parse(
                r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"text",
                    "context":{"message_id":"wamid.HBgL…"},
                    "text":{"preview_url":false,"body":"Hello! (max 4096 chars)"}}"#
            )
        );
        let preview = OutboundMessage::text("16505551234", "https://example.com")
            .expect("valid")
            .with_preview_url(true);
        assert_eq!(preview.to_json()["text"]["preview_url"], json!(true));
        assert!(preview.to_json().get("context").is_none());
    }

    #[test]
    fn text_length_is_counted_in_characters() {
        let max = "ñ".repeat(MAX_TEXT_CHARS);
        assert!(OutboundMessage::text("16505551234", &max).is_ok());
        let over = "ñ".repeat(MAX_TEXT_CHARS + 1);
        let err = OutboundMessage::text("16505551234", &over).expect_err("too long");
        assert_eq!(
            err,
            SendError::TooLong {
                what: "text",
                chars: 4097,
                max: 4096
            }
        );
        assert_eq!(err.code(), "whatsapp_too_long");
        assert_eq!(
            OutboundMessage::text("16505551234", "  \n"),
            Err(SendError::Empty)
        );
    }

    #[test]
    fn recipients_are_phone_numbers() {
        for bad in [
            "",
            "+",
            "abc",
            "1650555123x",
            "+1 650 555 1234",
            "1234",
            "../1",
        ] {
            assert_eq!(
                OutboundMessage::text(bad, "hi")
                    .map(|_| ())
                    .map_err(|e| e.code()),
                Err("whatsapp_bad_recipient"),
                "{bad:?}"
            );
        }
        assert_eq!(
            OutboundMessage::text(" 5215512345678 ", "hi").map(|m| m.to),
            Ok("5215512345678".to_owned())
        );
    }

    #[test]
    fn media_as_c3() {
        let audio = OutboundMessage::media(
            "16505551234",
            MediaKind::Audio,
            "1013859600285441",
            None,
            None,
            true,
        )
        .expect("valid");
        let mut expected = parse(
            r#"{"messaging_product":"whatsapp","to":"16505551234","type":"audio","audio":{"id":"1013859600285441","voice":true}}"#,
        );
        expected["recipient_type"] = json!("individual");
        assert_eq!(audio.to_json(), expected);

        let doc = OutboundMessage::media(
            "16505551234",
            MediaKind::Document,
            "42",
            Some("…"),
            Some("quote.pdf"),
            true,
        )
        .expect("valid");
        let mut expected = parse(
            r#"{"messaging_product":"whatsapp","to":"16505551234","type":"document","document":{"id":"42","caption":"…","filename":"quote.pdf"}}"#,
        );
        expected["recipient_type"] = json!("individual");
        assert_eq!(doc.to_json(), expected, "voice is only for audio");

        let image = OutboundMessage::media(
            "16505551234",
            MediaKind::Image,
            "7",
            Some("Mira"),
            Some("x.jpg"),
            false,
        )
        .expect("valid");
        assert_eq!(
            image.to_json()["image"],
            json!({"id": "7", "caption": "Mira"})
        );
        let video = OutboundMessage::media("16505551234", MediaKind::Video, "8", None, None, false)
            .expect("valid");
        assert_eq!(video.to_json()["video"], json!({"id": "8"}));
        let sticker =
            OutboundMessage::media("16505551234", MediaKind::Sticker, "9", None, None, false)
                .expect("valid");
        assert_eq!(sticker.to_json()["sticker"], json!({"id": "9"}));

        for kind in [MediaKind::Audio, MediaKind::Sticker] {
            assert_eq!(
                OutboundMessage::media("16505551234", kind, "1", Some("no"), None, false),
                Err(SendError::CaptionNotAllowed {
                    kind: kind.as_str()
                })
            );
        }
        assert_eq!(
            OutboundMessage::media("16505551234", MediaKind::Image, "", None, None, false),
            Err(SendError::BadField { what: "media id" })
        );
        let long_caption = "a".repeat(MAX_CAPTION_CHARS + 1);
        assert!(matches!(
            OutboundMessage::media(
                "16505551234",
                MediaKind::Image,
                "1",
                Some(&long_caption),
                None,
                false
            ),
            Err(SendError::TooLong { .. })
        ));
    }

    #[test]
    fn location_as_c3() {
        let m = OutboundMessage::location(
            "16505551234",
            37.4847,
            -122.1472,
            Some("Office"),
            Some("1 Hacker Way"),
        )
        .expect("valid");
        let mut expected = parse(
            r#"{"messaging_product":"whatsapp","to":"16505551234","type":"location",
                "location":{"latitude":"37.4847","longitude":"-122.1472","name":"Office","address":"1 Hacker Way"}}"#,
        );
        expected["recipient_type"] = json!("individual");
        assert_eq!(m.to_json(), expected);
        let pin =
            OutboundMessage::location("16505551234", 0.5, 1.0, None, Some(" ")).expect("valid");
        assert_eq!(
            pin.to_json()["location"],
            json!({"latitude": "0.5", "longitude": "1"})
        );
        for (lat, lon) in [
            (91.0, 0.0),
            (0.0, -180.5),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert_eq!(
                OutboundMessage::location("16505551234", lat, lon, None, None),
                Err(SendError::BadLocation)
            );
        }
    }

    #[test]
    fn template_as_c3() {
        let m = OutboundMessage::template(
            "16505551234",
            Template {
                name: "hello_world".into(),
                language: "en_US".into(),
                components: vec![TemplateComponent::Body(vec![TemplateParameter::Text(
                    "Jane".into(),
                )])],
            },
        )
        .expect("valid");
        let mut expected = parse(
            r#"{"messaging_product":"whatsapp","to":"16505551234","type":"template",
                "template":{"name":"hello_world","language":{"code":"en_US"},
                            "components":[{"type":"body","parameters":[{"type":"text","text":"Jane"}]}]}}"#,
        );
        expected["recipient_type"] = json!("individual");
        assert_eq!(m.to_json(), expected);

        let rich = OutboundMessage::template(
            "16505551234",
            Template {
                name: "order_ready".into(),
                language: "es_MX".into(),
                components: vec![
                    TemplateComponent::Header(vec![TemplateParameter::Media {
                        kind: MediaKind::Document,
                        media_id: "55".into(),
                        filename: Some("factura.pdf".into()),
                    }]),
                    TemplateComponent::Button {
                        sub_type: "quick_reply".into(),
                        index: 0,
                        parameters: vec![TemplateParameter::Payload("STOP".into())],
                    },
                ],
            },
        )
        .expect("valid");
        assert_eq!(
            rich.to_json()["template"]["components"],
            parse(
                r#"[{"type":"header","parameters":[{"type":"document","document":{"id":"55","filename":"factura.pdf"}}]},
                    {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP"}]}]"#
            )
        );
        let no_params = OutboundMessage::template(
            "16505551234",
            Template {
                name: "hello_world".into(),
                language: "en_US".into(),
                components: vec![],
            },
        )
        .expect("valid");
        assert!(no_params.to_json()["template"].get("components").is_none());
        assert_eq!(
            OutboundMessage::template(
                "16505551234",
                Template {
                    name: "hello world".into(),
                    language: "en_US".into(),
                    components: vec![],
                },
            ),
            Err(SendError::BadField {
                what: "template name"
            })
        );
    }

    #[test]
    fn reaction_and_its_removal() {
        let add = OutboundMessage::reaction("16505551234", "wamid.A", Some("👍")).expect("valid");
        assert_eq!(
            add.to_json()["reaction"],
            json!({"message_id": "wamid.A", "emoji": "👍"})
        );
        assert_eq!(add.to_json()["type"], json!("reaction"));
        for removal in [None, Some("")] {
            let remove =
                OutboundMessage::reaction("16505551234", "wamid.A", removal).expect("valid");
            assert_eq!(
                remove.to_json()["reaction"],
                json!({"message_id": "wamid.A", "emoji": ""})
            );
        }
    }

    #[test]
    fn mark_read_with_typing_indicator() {
        assert_eq!(
            mark_read_json("wamid.X", true).expect("valid"),
            parse(
                r#"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"text"}}"#
            )
        );
        assert!(mark_read_json("wamid.X", false)
            .expect("valid")
            .get("typing_indicator")
            .is_none());
        assert!(mark_read_json("", false).is_err());
    }

    #[test]
    fn send_reply_gives_the_wa_id() {
        let r = parse_send_reply(
            br#"{"messaging_product":"whatsapp",
                 "contacts":[{"input":"+16505551234","wa_id":"16505551234"}],
                 "messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","message_status":"accepted"}]}"#,
        )
        .expect("receipt");
        assert_eq!(
            r,
            SendReceipt {
                wamid: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA".into(),
                wa_id: Some("16505551234".into()),
                input: Some("+16505551234".into()),
                message_status: Some("accepted".into()),
            }
        );
        // Mexico: typed with 52, keyed on what Meta answers.
        let mx = parse_send_reply(
            br#"{"contacts":[{"input":"5215512345678","wa_id":"5215512345678"}],"messages":[{"id":"wamid.B"}]}"#,
        )
        .expect("receipt");
        assert_eq!(mx.message_status, None);
        for bad in [
            &b"{}"[..],
            br#"{"messages":[]}"#,
            br#"{"messages":[{"id":""}]}"#,
            b"x",
        ] {
            assert_eq!(parse_send_reply(bad), None);
        }
    }
}
