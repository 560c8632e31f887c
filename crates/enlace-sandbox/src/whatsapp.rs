//! The WhatsApp Cloud API double (api-facts §C, checklist C7): the Graph API surface a business
//! app calls, and Meta's side of the webhook.
//!
//! Served under any version prefix (`/v21.0/…`) on `http://127.0.0.1:PORT`:
//! * `GET /{phone-number-id}` – the number's profile;
//! * `POST /{phone-number-id}/messages` – every send type of C3 and mark-as-read (with the typing
//!   indicator), validated like Meta, answered with the C3 body, then followed by `sent`,
//!   `delivered`, `read` status webhooks (or a `failed` one);
//! * `POST /{phone-number-id}/media` (multipart), `GET /{media-id}`, `DELETE /{media-id}`, and
//!   the download URL (`/whatsapp_business/attachments/?mid=…`): Bearer required, expires after
//!   [`WhatsAppConfig::media_url_lifetime`] (5 min);
//! * `GET /{waba-id}/message_templates` – paged with cursors, `fields`, `name`, `status`.
//!
//! Every request needs `Authorization: Bearer {token}`; errors have the C5 shape
//! `{"error":{"message","type","code","error_data":{"messaging_product","details"},
//! "error_subcode"?,"fbtrace_id"}}`. Webhook POSTs carry `X-Hub-Signature-256: sha256=HMAC(app
//! secret, raw body)` and are retried on anything but 200 with a short back-off.
//!
//! Customers are simulated with [`WhatsAppDouble::customer_sends`] (every inbound type of C2,
//! batches, duplicates); each customer's 24-hour window is tracked on the double's clock
//! ([`WhatsAppDouble::advance_clock`]), and free-form sends outside it fail with 131047 as a
//! `failed` status or synchronously ([`WindowRule`]). Faults: [`WhatsAppDouble::reject_next_send`]
//! (130429, 131056, 190, … synchronously), [`WhatsAppDouble::fail_next_send`] (131026, 131053, …
//! as a `failed` status) and the transport [`Fault`]s the CRM doubles share.
//!
//! Not Meta's: `POST /_sandbox/customers/{wa_id}/messages` and `POST /_sandbox/clock` (no
//! token; see `control`) let another process make a customer write or move the clock.
//!
//! Guesses (not in api-facts): `sha256` is base64 in webhooks and hex from `GET /{media-id}`;
//! most Graph errors are HTTP 400; the texts of some `details`; an expired or forged download
//! URL answers 404; a reaction removal leaves `emoji` out; a file of another kind than the send
//! type, or `audio.voice: true` on a file that is not OGG/OPUS, fails later with 131053 (an
//! audio/ogg upload that is not mono OPUS is refused at once with 131053); request bodies are capped at 20 MB (Meta takes 100 MB
//! documents).
//!
//! To extend: add a send type in `validate_send`, an inbound type to [`Inbound`] and
//! `inbound_object`, a route in `route`; test it in `tests/whatsapp.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::common::{
    b64, digits, hmac_sha256, lock, now_ms, random_alnum, random_bytes, sha256, take_fault,
    with_fault, Fault, RecordedRequest,
};
use crate::http::{Handler, Reply, Request, Response, Server};

/// How long a media download URL works (api-facts C4: "about 5 minutes").
pub const WHATSAPP_MEDIA_URL_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The customer-service window (C6).
pub const WHATSAPP_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Uploaded media ids live 30 days, media ids received in webhooks 7 days (C4).
const UPLOADED_MEDIA_LIFETIME: u64 = 30 * 86_400;
const INBOUND_MEDIA_LIFETIME: u64 = 7 * 86_400;
/// Largest request body (guess: Meta takes 100 MB documents; 20 MB covers every other kind).
const MAX_BODY: usize = 20 * 1024 * 1024;
const TEXT_MAX: usize = 4096;
const CAPTION_MAX: usize = 1024;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_CAP: Duration = Duration::from_secs(5);
const HREF: &str = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// What happens to a free-form send outside the customer's 24-hour window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowRule {
    /// 200 with a wamid, then a `failed` status carrying 131047 (what Meta usually does).
    FailedStatus,
    /// 400 with the 131047 error body straight away.
    Synchronous,
}

/// When the status webhooks for an accepted send are posted, after the send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPlan {
    pub sent: Duration,
    /// `None`: the message is never delivered (no `delivered`, no `read`).
    pub delivered: Option<Duration>,
    /// `None`: the customer never reads it.
    pub read: Option<Duration>,
    /// Post them in reverse order (`read` first), as Meta sometimes does.
    pub out_of_order: bool,
    /// Post every status twice (Meta's retries).
    pub duplicate: bool,
}

impl Default for StatusPlan {
    fn default() -> Self {
        StatusPlan {
            sent: Duration::from_millis(0),
            delivered: Some(Duration::from_millis(20)),
            read: Some(Duration::from_millis(40)),
            out_of_order: false,
            duplicate: false,
        }
    }
}

/// How the double is set up. `Debug` leaves the token and the app secret out.
#[derive(Clone)]
pub struct WhatsAppConfig {
    pub phone_number_id: String,
    /// The business number as Meta shows it in `metadata.display_phone_number` (digits).
    pub display_phone_number: String,
    pub verified_name: String,
    pub waba_id: String,
    /// The Bearer token the API accepts (more with [`WhatsAppDouble::add_token`]).
    pub access_token: String,
    /// The key of `X-Hub-Signature-256`.
    pub app_secret: String,
    /// Where webhooks go (`None`: they are recorded and never posted).
    pub webhook_url: Option<String>,
    pub media_url_lifetime: Duration,
    pub window_rule: WindowRule,
    pub status_plan: StatusPlan,
    /// First retry delay of a webhook answered with anything but 200; doubles each time (≤ 5 s).
    pub webhook_retry_base: Duration,
    /// Attempts per webhook before it is given up.
    pub webhook_max_attempts: u32,
    /// Extra root certificate (DER) trusted for an `https` webhook URL (a test hub's own CA).
    pub webhook_root_cert_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppConfig")
            .field("phone_number_id", &self.phone_number_id)
            .field("display_phone_number", &self.display_phone_number)
            .field("waba_id", &self.waba_id)
            .field("webhook_url", &self.webhook_url)
            .field("window_rule", &self.window_rule)
            .finish_non_exhaustive()
    }
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        WhatsAppConfig {
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            verified_name: "Enlace Demo".into(),
            waba_id: "102290129340398".into(),
            access_token: format!("EAAG{}", random_alnum(40)),
            app_secret: random_alnum(32),
            webhook_url: None,
            media_url_lifetime: WHATSAPP_MEDIA_URL_LIFETIME,
            window_rule: WindowRule::FailedStatus,
            status_plan: StatusPlan::default(),
            webhook_retry_base: Duration::from_millis(50),
            webhook_max_attempts: 8,
            webhook_root_cert_der: None,
        }
    }
}

/// The kinds of media WhatsApp carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    fn of_mime(mime: &str) -> Option<MediaKind> {
        let base = mime.split(';').next().unwrap_or("").trim();
        Some(match base {
            "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => {
                MediaKind::Audio
            }
            "image/jpeg" | "image/png" => MediaKind::Image,
            "video/mp4" | "video/3gpp" => MediaKind::Video,
            "image/webp" => MediaKind::Sticker,
            "text/plain"
            | "application/pdf"
            | "application/msword"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.ms-excel"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.ms-powerpoint"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                MediaKind::Document
            }
            _ => return None,
        })
    }

    /// Size limit of C4 (stickers: 500 KB animated, 100 KB static).
    fn max_bytes(self, bytes: &[u8]) -> usize {
        match self {
            MediaKind::Image => 5 * 1024 * 1024,
            MediaKind::Audio | MediaKind::Video => 16 * 1024 * 1024,
            MediaKind::Document => 100 * 1024 * 1024,
            MediaKind::Sticker if bytes.windows(4).any(|w| w == b"ANIM") => 500 * 1024,
            MediaKind::Sticker => 100 * 1024,
        }
    }
}

const SUPPORTED_MIME: &str = "audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg, \
text/plain, application/pdf, application/vnd.ms-powerpoint, application/msword, \
application/vnd.ms-excel, application/vnd.openxmlformats-officedocument.wordprocessingml.document, \
application/vnd.openxmlformats-officedocument.presentationml.presentation, \
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, image/jpeg, image/png, \
image/webp, video/mp4, video/3gpp";

/// A file kept by the double, as `POST /{phone-number-id}/media` received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The upload's `type` (or the file part's own type).
    pub mime_type: String,
    /// The file part's name (`None` for files stored by [`WhatsAppDouble::put_media`]).
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// The first page of an OGG file carrying an `OpusHead` with `channels` channels (48 kHz):
/// enough for the double's checks of audio/ogg uploads and voice notes.
pub fn opus_ogg_head(channels: u8) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes()); // input sample rate
    head.extend_from_slice(&[0, 0, 0]); // output gain, mapping family
    let mut page = b"OggS".to_vec();
    page.push(0); // version
    page.push(0x02); // beginning of stream
    page.extend_from_slice(&[0; 8]); // granule position
    page.extend_from_slice(&[1, 0, 0, 0]); // serial
    page.extend_from_slice(&[0; 4]); // page sequence
    page.extend_from_slice(&[0; 4]); // CRC (not checked)
    page.push(1); // one segment
    page.push(head.len() as u8);
    page.extend_from_slice(&head);
    page
}

/// Why `bytes` are not an OGG file of mono OPUS audio (what WhatsApp takes as audio/ogg and
/// plays as a voice note, api-facts C4), or `None` when they are.
fn ogg_opus_problem(bytes: &[u8]) -> Option<&'static str> {
    if !bytes.starts_with(b"OggS") {
        return Some("The file is not an OGG file.");
    }
    let Some(segments) = bytes.get(26).map(|n| usize::from(*n)) else {
        return Some("The OGG file is cut short.");
    };
    let Some(head) = bytes.get(27 + segments..) else {
        return Some("The OGG file is cut short.");
    };
    if !head.starts_with(b"OpusHead") {
        return Some("Audio/ogg files must use the OPUS codec.");
    }
    match head.get(9) {
        Some(1) => None,
        Some(_) => Some("Audio/ogg files must have one channel (mono)."),
        None => Some("The OGG file is cut short."),
    }
}

/// A file a customer sends; the double stores it and serves it under a media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMedia {
    pub kind: MediaKind,
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
    /// Documents only.
    pub filename: Option<String>,
    /// Audio only: a recorded voice note (`voice: true`).
    pub voice: bool,
    /// Stickers only.
    pub animated: bool,
}

impl InboundMedia {
    fn new(kind: MediaKind, mime: &str, bytes: Vec<u8>) -> InboundMedia {
        InboundMedia {
            kind,
            mime_type: mime.into(),
            bytes,
            caption: None,
            filename: None,
            voice: false,
            animated: false,
        }
    }
    /// A JPEG photo (a few bytes that start like one).
    pub fn image(caption: Option<&str>) -> InboundMedia {
        let mut m = InboundMedia::new(
            MediaKind::Image,
            "image/jpeg",
            fake_bytes(b"\xFF\xD8\xFF\xE0"),
        );
        m.caption = caption.map(str::to_string);
        m
    }
    /// A recorded voice note (`audio/ogg; codecs=opus`, `voice: true`).
    pub fn voice_note() -> InboundMedia {
        let mut m = InboundMedia::new(MediaKind::Audio, "audio/ogg; codecs=opus", {
            let mut b = opus_ogg_head(1);
            b.extend_from_slice(&random_bytes(64));
            b
        });
        m.voice = true;
        m
    }
    /// A forwarded audio file (`voice` absent).
    pub fn audio_file() -> InboundMedia {
        InboundMedia::new(MediaKind::Audio, "audio/mpeg", fake_bytes(b"ID3\x04"))
    }
    pub fn video(caption: Option<&str>) -> InboundMedia {
        let mut m = InboundMedia::new(
            MediaKind::Video,
            "video/mp4",
            fake_bytes(b"\0\0\0\x18ftypmp42"),
        );
        m.caption = caption.map(str::to_string);
        m
    }
    pub fn document(filename: &str, caption: Option<&str>) -> InboundMedia {
        let mut m = InboundMedia::new(
            MediaKind::Document,
            "application/pdf",
            fake_bytes(b"%PDF-1.7\n"),
        );
        m.filename = Some(filename.into());
        m.caption = caption.map(str::to_string);
        m
    }
    pub fn sticker(animated: bool) -> InboundMedia {
        let mut m = InboundMedia::new(
            MediaKind::Sticker,
            "image/webp",
            fake_bytes(b"RIFF\0\0\0\0WEBP"),
        );
        m.animated = animated;
        m
    }
    /// Any bytes with any MIME type.
    pub fn with_bytes(kind: MediaKind, mime_type: &str, bytes: Vec<u8>) -> InboundMedia {
        InboundMedia::new(kind, mime_type, bytes)
    }
}

fn fake_bytes(magic: &[u8]) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend_from_slice(&random_bytes(64));
    v
}

/// What a customer can send (C2's message types).
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Text(String),
    Media(InboundMedia),
    /// A dropped pin (no name/address/url) or a shared place (with them).
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
        url: Option<String>,
    },
    /// Contact cards as Meta sends them (`[{"name":{"formatted_name":…},"phones":[…]}]`).
    Contacts(Value),
    /// A tap on a reply button of an interactive message (`context` = that message).
    ButtonReply {
        id: String,
        title: String,
    },
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// A WhatsApp Flow's answer (`nfm_reply`).
    FlowReply {
        name: String,
        body: String,
        response_json: String,
    },
    /// A template's quick-reply button (`type: button`).
    TemplateButton {
        text: String,
        payload: String,
    },
    /// A reaction to a message; `emoji: None` removes it (guess: Meta then leaves `emoji` out).
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    /// A cart from the catalog: `product_items` as Meta sends them.
    Order {
        catalog_id: String,
        text: Option<String>,
        product_items: Value,
    },
    /// The customer changed their number (`type: system`, `customer_changed_number`).
    NumberChanged {
        new_wa_id: String,
    },
    /// A message type the Cloud API does not support (131051 in `errors`).
    Unsupported,
    /// Any message object; `from`, `id`, `timestamp` are filled in when missing.
    Raw(Value),
}

/// One customer message with its optional reply context.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub from: String,
    pub content: Inbound,
    /// The wamid this message answers (`context`); required by Meta for button/list replies.
    pub reply_to: Option<String>,
    pub forwarded: bool,
}

impl InboundMessage {
    pub fn new(from: &str, content: Inbound) -> InboundMessage {
        InboundMessage {
            from: digits(from),
            content,
            reply_to: None,
            forwarded: false,
        }
    }
    pub fn reply_to(mut self, wamid: &str) -> InboundMessage {
        self.reply_to = Some(wamid.into());
        self
    }
    pub fn forwarded(mut self) -> InboundMessage {
        self.forwarded = true;
        self
    }
}

/// How several inbound messages are packed into one webhook POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchLayout {
    /// One entry, one change, all messages (and their senders' contacts) in one `value`.
    OneChange,
    /// One entry, one change per message.
    ChangePerMessage,
    /// One entry per message.
    EntryPerMessage,
}

/// A send the double accepted (200 with a wamid).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub wamid: String,
    /// `to` as the client sent it.
    pub to: String,
    /// The recipient's WhatsApp id as the reply gave it.
    pub wa_id: String,
    /// `type` (`text` when absent, as Meta defaults it).
    pub kind: String,
    /// The request body exactly as parsed.
    pub body: Value,
}

/// A mark-as-read the double accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    pub message_id: String,
    pub typing_indicator: bool,
}

/// One webhook POST (or its attempts), as signed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub body: String,
    /// `sha256=…`
    pub signature: String,
    /// The HTTP status of each attempt (`None`: no answer, e.g. refused connection).
    pub attempts: Vec<Option<u16>>,
    /// Answered 200.
    pub acknowledged: bool,
}

/// An approved (or paused, …) message template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PAUSED`, `DISABLED`, `PENDING`, `REJECTED`.
    pub status: String,
    /// `UTILITY`, `MARKETING`, `AUTHENTICATION`.
    pub category: String,
    /// Meta's `components` array (`[{"type":"BODY","text":"Hola {{1}}"}]`).
    pub components: Value,
}

impl Template {
    pub fn new(name: &str, language: &str, category: &str, body: &str) -> Template {
        Template {
            id: numeric_id(15),
            name: name.into(),
            language: language.into(),
            status: "APPROVED".into(),
            category: category.into(),
            components: json!([{"type": "BODY", "text": body}]),
        }
    }

    /// Placeholders `{{n}}` in the component of this type (`BODY`, `HEADER`).
    fn placeholders(&self, component: &str) -> usize {
        let Some(list) = self.components.as_array() else {
            return 0;
        };
        list.iter()
            .filter(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(component))
            })
            .filter_map(|c| c["text"].as_str())
            .map(count_placeholders)
            .sum()
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "parameter_format": "POSITIONAL",
            "components": self.components,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "id": self.id,
        })
    }
}

fn count_placeholders(text: &str) -> usize {
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        if !inner.is_empty() && !seen.iter().any(|s: &String| s == inner) {
            seen.push(inner.to_string());
        }
        rest = &after[end + 2..];
    }
    seen.len()
}

fn default_templates() -> Vec<Template> {
    let mut hello = Template::new(
        "hello_world",
        "en_US",
        "UTILITY",
        "Welcome and congratulations!! This message demonstrates your ability to send a \
WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time \
to test with us.",
    );
    hello.components = json!([
        {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
        {"type": "BODY", "text": hello.components[0]["text"]},
        {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}
    ]);
    let mut paused = Template::new(
        "promo_temporada",
        "es_MX",
        "MARKETING",
        "¡Hola {{1}}! Esta semana tenemos {{2}} de descuento.",
    );
    paused.status = "PAUSED".into();
    let mut disabled = Template::new("aviso_antiguo", "es", "UTILITY", "Aviso: {{1}}");
    disabled.status = "DISABLED".into();
    vec![
        hello,
        Template::new(
            "seguimiento_llamada",
            "es_MX",
            "UTILITY",
            "Hola {{1}}, le escribimos por su llamada de hoy. ¿Podemos ayudarle en algo más?",
        ),
        Template::new(
            "seguimiento_llamada",
            "en_US",
            "UTILITY",
            "Hi {{1}}, following up on your call today. Can we help with anything else?",
        ),
        Template::new(
            "recordatorio_cita",
            "es",
            "UTILITY",
            "Hola {{1}}, le recordamos su cita el {{2}} a las {{3}}.",
        ),
        paused,
        disabled,
    ]
}

// ----------------------------------------------------------------------------------------------
// State

#[derive(Debug, Clone)]
struct Customer {
    name: String,
    /// Double-clock seconds of the customer's last message.
    last_inbound: Option<u64>,
}

#[derive(Debug, Clone)]
struct StoredMedia {
    mime_type: String,
    /// The file name of an upload's `file` part.
    filename: Option<String>,
    bytes: Vec<u8>,
    sha256: String,
    /// Double-clock seconds.
    created: u64,
    lifetime: u64,
}

#[derive(Debug)]
struct Pending {
    due: Instant,
    seq: u64,
    /// Index into `State::deliveries`.
    delivery: usize,
}

struct State {
    config: WhatsAppConfig,
    base: String,
    tokens: Vec<String>,
    expired_tokens: Vec<String>,
    url_key: Vec<u8>,
    clock_offset: Duration,
    customers: HashMap<String, Customer>,
    inbound_ids: Vec<String>,
    media: HashMap<String, StoredMedia>,
    templates: Vec<Template>,
    faults: VecDeque<Fault>,
    rejects: VecDeque<(u32, Option<u16>)>,
    async_failures: VecDeque<u32>,
    sent: Vec<SentMessage>,
    read_marks: Vec<ReadMark>,
    requests: Vec<RecordedRequest>,
    inbound: Vec<Value>,
    deliveries: Vec<WebhookDelivery>,
    pending: Vec<Pending>,
    /// A delivery is being posted right now.
    posting: bool,
    seq: u64,
}

impl State {
    fn now_secs(&self) -> u64 {
        now_ms() / 1000 + self.clock_offset.as_secs()
    }

    fn in_window(&self, wa_id: &str) -> bool {
        let now = self.now_secs();
        self.customers
            .get(wa_id)
            .and_then(|c| c.last_inbound)
            .is_some_and(|t| now.saturating_sub(t) < WHATSAPP_WINDOW.as_secs())
    }

    fn metadata(&self) -> Value {
        json!({
            "display_phone_number": self.config.display_phone_number,
            "phone_number_id": self.config.phone_number_id,
        })
    }

    fn envelope(&self, changes_by_entry: Vec<Vec<Value>>) -> Value {
        let entries: Vec<Value> = changes_by_entry
            .into_iter()
            .map(|values| {
                let changes: Vec<Value> = values
                    .into_iter()
                    .map(|v| json!({"value": v, "field": "messages"}))
                    .collect();
                json!({"id": self.config.waba_id, "changes": changes})
            })
            .collect();
        json!({"object": "whatsapp_business_account", "entry": entries})
    }

    /// Signs and queues one webhook POST `after` from now; returns its delivery index.
    fn queue_webhook(&mut self, body: &Value, after: Duration) -> usize {
        let body = body.to_string();
        let mac = hmac_sha256(self.config.app_secret.as_bytes(), body.as_bytes());
        let signature = format!("sha256={}", hex(&mac));
        self.deliveries.push(WebhookDelivery {
            body,
            signature,
            attempts: Vec::new(),
            acknowledged: false,
        });
        let idx = self.deliveries.len() - 1;
        self.schedule(idx, after);
        idx
    }

    fn schedule(&mut self, delivery: usize, after: Duration) {
        if self.config.webhook_url.is_none() {
            return;
        }
        self.seq += 1;
        self.pending.push(Pending {
            due: Instant::now() + after,
            seq: self.seq,
            delivery,
        });
    }

    fn media_url(&self, id: &str) -> String {
        let ext = self
            .now_secs()
            .saturating_add(self.config.media_url_lifetime.as_secs());
        let hash = hex(&hmac_sha256(
            &self.url_key,
            format!("{id}:{ext}").as_bytes(),
        ));
        format!(
            "{}/whatsapp_business/attachments/?mid={id}&ext={ext}&hash={hash}",
            self.base
        )
    }

    fn store_media(&mut self, mime: &str, bytes: Vec<u8>, lifetime: u64) -> String {
        let id = numeric_id(16);
        let sum = hex(&sha256(&bytes));
        self.media.insert(
            id.clone(),
            StoredMedia {
                mime_type: mime.into(),
                filename: None,
                bytes,
                sha256: sum,
                created: self.now_secs(),
                lifetime,
            },
        );
        id
    }

    fn live_media(&self, id: &str) -> Option<&StoredMedia> {
        let now = self.now_secs();
        self.media
            .get(id)
            .filter(|m| now < m.created.saturating_add(m.lifetime))
    }
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    stop: AtomicBool,
}

/// A local WhatsApp Cloud API on `http://127.0.0.1:PORT`. Runs until dropped.
pub struct WhatsAppDouble {
    shared: Arc<Shared>,
    base: String,
    sender: Option<JoinHandle<()>>,
    // Declared last: dropped after the sender thread is joined.
    _server: Server,
}

impl std::fmt::Debug for WhatsAppDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppDouble")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Drop for WhatsAppDouble {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        if let Some(t) = self.sender.take() {
            let _ = t.join();
        }
    }
}

impl WhatsAppDouble {
    /// Starts on a free loopback port with [`WhatsAppConfig::default`] (random token and secret).
    pub fn start() -> std::io::Result<WhatsAppDouble> {
        WhatsAppDouble::start_with(0, WhatsAppConfig::default())
    }

    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start_with(port: u16, config: WhatsAppConfig) -> std::io::Result<WhatsAppDouble> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                tokens: vec![config.access_token.clone()],
                config,
                base: String::new(),
                expired_tokens: Vec::new(),
                url_key: random_bytes(32),
                clock_offset: Duration::ZERO,
                customers: HashMap::new(),
                inbound_ids: Vec::new(),
                media: HashMap::new(),
                templates: default_templates(),
                faults: VecDeque::new(),
                rejects: VecDeque::new(),
                async_failures: VecDeque::new(),
                sent: Vec::new(),
                read_marks: Vec::new(),
                requests: Vec::new(),
                inbound: Vec::new(),
                deliveries: Vec::new(),
                pending: Vec::new(),
                posting: false,
                seq: 0,
            }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let for_handler = Arc::clone(&shared);
        let handler: Handler = Arc::new(move |req| handle(&for_handler, req));
        let server = Server::start_with_body_limit(port, MAX_BODY, handler)?;
        let base = server.base_url();
        lock(&shared.state).base = base.clone();
        let for_sender = Arc::clone(&shared);
        let sender = std::thread::Builder::new()
            .name("whatsapp-webhooks".into())
            .spawn(move || webhook_loop(&for_sender))?;
        Ok(WhatsAppDouble {
            shared,
            base,
            sender: Some(sender),
            _server: server,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// `http://127.0.0.1:PORT` (Meta: `https://graph.facebook.com`).
    pub fn base_url(&self) -> String {
        self.base.clone()
    }
    /// `http://127.0.0.1:PORT/v21.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v21.0", self.base)
    }
    pub fn phone_number_id(&self) -> String {
        self.state().config.phone_number_id.clone()
    }
    pub fn display_phone_number(&self) -> String {
        self.state().config.display_phone_number.clone()
    }
    pub fn waba_id(&self) -> String {
        self.state().config.waba_id.clone()
    }
    pub fn access_token(&self) -> String {
        self.state().config.access_token.clone()
    }
    pub fn app_secret(&self) -> String {
        self.state().config.app_secret.clone()
    }

    /// Where webhooks go from now on (queued ones included).
    pub fn set_webhook_url(&self, url: Option<&str>) {
        let mut st = self.state();
        st.config.webhook_url = url.map(str::to_string);
        if url.is_some() {
            // Deliveries never attempted (no URL then) go out now.
            let waiting: Vec<usize> = (0..st.deliveries.len())
                .filter(|i| st.deliveries[*i].attempts.is_empty())
                .filter(|i| !st.pending.iter().any(|p| p.delivery == *i))
                .collect();
            for i in waiting {
                st.schedule(i, Duration::ZERO);
            }
        }
        drop(st);
        self.shared.wake.notify_all();
    }
    pub fn set_window_rule(&self, rule: WindowRule) {
        self.state().config.window_rule = rule;
    }
    pub fn set_status_plan(&self, plan: StatusPlan) {
        self.state().config.status_plan = plan;
    }
    pub fn set_media_url_lifetime(&self, lifetime: Duration) {
        self.state().config.media_url_lifetime = lifetime;
    }
    /// Another accepted Bearer token.
    pub fn add_token(&self, token: &str) {
        self.state().tokens.push(token.into());
    }
    /// From now on this token gets 190 / subcode 463 ("Session has expired").
    pub fn expire_token(&self, token: &str) {
        let mut st = self.state();
        st.tokens.retain(|t| t != token);
        st.expired_tokens.push(token.into());
    }

    /// Moves the double's clock forward (windows, media URLs and media ids age; timestamps too).
    pub fn advance_clock(&self, by: Duration) {
        let mut st = self.state();
        st.clock_offset += by;
    }

    /// Registers a WhatsApp user (their canonical `wa_id`, digits) with a profile name.
    pub fn add_customer(&self, wa_id: &str, name: &str) {
        let mut st = self.state();
        let e = st.customers.entry(digits(wa_id)).or_insert(Customer {
            name: String::new(),
            last_inbound: None,
        });
        e.name = name.into();
    }
    /// Pretends the customer last wrote `ago` before now (opens or closes their window).
    pub fn set_last_inbound(&self, wa_id: &str, ago: Duration) {
        let mut st = self.state();
        let at = st.now_secs().saturating_sub(ago.as_secs());
        let c = st.customers.entry(digits(wa_id)).or_insert(Customer {
            name: String::new(),
            last_inbound: None,
        });
        c.last_inbound = Some(at);
    }
    /// Is the customer's 24-hour window open?
    pub fn window_open(&self, wa_id: &str) -> bool {
        self.state().in_window(&digits(wa_id))
    }

    pub fn add_template(&self, template: Template) {
        self.state().templates.push(template);
    }
    pub fn templates(&self) -> Vec<Template> {
        self.state().templates.clone()
    }

    /// Stores a file as if uploaded; returns its media id.
    pub fn put_media(&self, mime_type: &str, bytes: Vec<u8>) -> String {
        self.state()
            .store_media(mime_type, bytes, UPLOADED_MEDIA_LIFETIME)
    }
    /// The bytes behind a media id (uploaded or received), while it lives.
    pub fn media_bytes(&self, media_id: &str) -> Option<Vec<u8>> {
        self.state().live_media(media_id).map(|m| m.bytes.clone())
    }
    /// A stored file as uploaded (type, the `file` part's name, bytes), while it lives.
    pub fn media_file(&self, media_id: &str) -> Option<UploadedFile> {
        self.state().live_media(media_id).map(|m| UploadedFile {
            mime_type: m.mime_type.clone(),
            filename: m.filename.clone(),
            bytes: m.bytes.clone(),
        })
    }

    // ------------------------------------------------------------------------------------------
    // Customer simulation

    /// The customer writes: one webhook POST with this message; their window (re)opens.
    /// Returns the message's wamid.
    pub fn customer_sends(&self, from: &str, content: Inbound) -> String {
        self.customer_sends_message(InboundMessage::new(from, content))
    }

    /// Like [`customer_sends`](Self::customer_sends) with a reply context or the forwarded flag.
    pub fn customer_sends_message(&self, message: InboundMessage) -> String {
        self.customer_sends_batch(BatchLayout::OneChange, vec![message])
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// Several messages in one webhook POST, packed as `layout` says. Returns their wamids.
    pub fn customer_sends_batch(
        &self,
        layout: BatchLayout,
        messages: Vec<InboundMessage>,
    ) -> Vec<String> {
        customer_batch(&self.shared, layout, messages)
    }

    /// Posts an earlier webhook again, byte for byte with the same signature (Meta's retries
    /// after a lost 200). `index` is its position in [`webhooks`](Self::webhooks).
    pub fn redeliver(&self, index: usize) -> bool {
        let mut st = self.state();
        if index >= st.deliveries.len() {
            return false;
        }
        let d = st.deliveries[index].clone();
        st.deliveries.push(WebhookDelivery {
            attempts: Vec::new(),
            acknowledged: false,
            ..d
        });
        let idx = st.deliveries.len() - 1;
        st.schedule(idx, Duration::ZERO);
        drop(st);
        self.shared.wake.notify_all();
        true
    }

    /// Posts a status webhook for a wamid the business sent (e.g. `"read"` when the test wants it).
    pub fn post_status(&self, wamid: &str, status: &str) -> bool {
        let mut st = self.state();
        let Some(sent) = st.sent.iter().find(|s| s.wamid == wamid).cloned() else {
            return false;
        };
        let category = status_category(&st, &sent);
        let obj = status_object(&st, &sent, status, &category, None);
        let body = st.envelope(vec![vec![status_value(&st, obj)]]);
        st.queue_webhook(&body, Duration::ZERO);
        drop(st);
        self.shared.wake.notify_all();
        true
    }

    /// Asks the app's webhook to verify itself like Meta does (C1): `GET url?hub.mode=subscribe&
    /// hub.verify_token=…&hub.challenge=…`. `Ok(true)` when it answered 200 with the challenge.
    pub fn verify_webhook(&self, url: &str, verify_token: &str) -> Result<bool, String> {
        let challenge = numeric_id(10);
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("hub.mode", "subscribe");
        ser.append_pair("hub.verify_token", verify_token);
        ser.append_pair("hub.challenge", &challenge);
        let sep = if url.contains('?') { '&' } else { '?' };
        let full = format!("{url}{sep}{}", ser.finish());
        let root = self.state().config.webhook_root_cert_der.clone();
        // A thread of its own: the caller may be inside an async runtime.
        let answer = std::thread::spawn(move || -> Result<(u16, String), String> {
            let client = webhook_client(root.as_deref())?;
            let resp = client
                .get(full)
                .send()
                .map_err(|e| format!("webhook unreachable ({e})"))?;
            let status = resp.status().as_u16();
            let body = resp.text().unwrap_or_default();
            Ok((status, body))
        })
        .join()
        .map_err(|_| "verification thread failed".to_string())??;
        Ok(answer.0 == 200 && answer.1 == challenge)
    }

    // ------------------------------------------------------------------------------------------
    // Faults

    /// The next send (`POST …/messages`, not a mark-as-read) that passes validation is refused
    /// with this Graph error code: 130429, 131056, 190 (401), 131026, 131000 (500), or any.
    pub fn reject_next_send(&self, code: u32) {
        self.state().rejects.push_back((code, None));
    }
    /// Same, with this HTTP status instead of the usual one.
    pub fn reject_next_send_with_status(&self, code: u32, http_status: u16) {
        self.state().rejects.push_back((code, Some(http_status)));
    }
    /// The next send is accepted (200 + wamid) and then fails with a `failed` status carrying this
    /// code: 131026 (undeliverable), 131053 (media), 131047, …
    pub fn fail_next_send(&self, code: u32) {
        self.state().async_failures.push_back(code);
    }
    /// A transport fault for the next request (writes: POSTs).
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    // ------------------------------------------------------------------------------------------
    // What happened

    /// Every send accepted so far, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.state().sent.clone()
    }
    pub fn read_marks(&self) -> Vec<ReadMark> {
        self.state().read_marks.clone()
    }
    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }
    /// Every message object customers sent, in order.
    pub fn inbound_messages(&self) -> Vec<Value> {
        self.state().inbound.clone()
    }
    /// Every webhook POST (redeliveries included), in the order they were queued.
    pub fn webhooks(&self) -> Vec<WebhookDelivery> {
        self.state().deliveries.clone()
    }
    /// Webhooks still waiting for their first or next attempt (or being posted).
    pub fn webhooks_pending(&self) -> usize {
        let st = self.state();
        st.pending.len() + usize::from(st.posting)
    }

    /// Waits until every queued webhook was acknowledged or given up (retries included), at most
    /// `timeout`; `true` when idle. Webhooks queued while there is no URL do not count.
    pub fn wait_webhooks_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state();
        loop {
            if st.pending.is_empty() && !st.posting {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .wake
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// A demo customer who writes every `every` (first message at once); stops when dropped.
    pub fn start_demo_customers(&self, every: Duration) -> DemoCustomers {
        for (wa_id, name) in DEMO_CUSTOMERS {
            self.add_customer(wa_id, name);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(&self.shared);
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("whatsapp-demo".into())
            .spawn(move || {
                let mut n = 0usize;
                while !stop2.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                    let (wa_id, _) = DEMO_CUSTOMERS[n % DEMO_CUSTOMERS.len()];
                    let m = InboundMessage::new(wa_id, demo_message(n));
                    customer_batch(&shared, BatchLayout::OneChange, vec![m]);
                    n += 1;
                    let until = Instant::now() + every;
                    while Instant::now() < until && !stop2.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20).min(every));
                    }
                }
            })
            .ok();
        DemoCustomers { stop, thread }
    }
}

/// `(wa_id, profile name)` of the demo customers (the first two people of `demo::DEMO_PEOPLE`).
pub const DEMO_CUSTOMERS: [(&str, &str); 2] = [
    ("5215587654321", "Ana Martínez"),
    ("573105550102", "Carlos Rodríguez"),
];

fn demo_message(n: usize) -> Inbound {
    match n % 6 {
        0 => Inbound::Text("Hola, ¿me pueden ayudar con mi pedido?".into()),
        1 => Inbound::Text("¿A qué hora abren mañana?".into()),
        2 => Inbound::Media(InboundMedia::image(Some("Así llegó la caja"))),
        3 => Inbound::Location {
            latitude: 19.4326,
            longitude: -99.1332,
            name: Some("Ferretería La Paz".into()),
            address: Some("Av. Juárez 10, Ciudad de México".into()),
            url: None,
        },
        4 => Inbound::Media(InboundMedia::voice_note()),
        _ => Inbound::Text("Gracias, quedo atento.".into()),
    }
}

/// Customer messages into one webhook POST; the customers' windows (re)open.
fn customer_batch(
    shared: &Shared,
    layout: BatchLayout,
    messages: Vec<InboundMessage>,
) -> Vec<String> {
    let mut st = lock(&shared.state);
    let now = st.now_secs();
    let mut built: Vec<(String, Value, String)> = Vec::new();
    for m in messages {
        let obj = inbound_object(&mut st, &m, now);
        let id = obj["id"].as_str().unwrap_or_default().to_string();
        let from = obj["from"].as_str().unwrap_or_default().to_string();
        let c = st.customers.entry(from.clone()).or_insert(Customer {
            name: String::new(),
            last_inbound: None,
        });
        c.last_inbound = Some(now);
        st.inbound_ids.push(id.clone());
        st.inbound.push(obj.clone());
        built.push((from, obj, id));
    }
    let contact = |st: &State, wa: &str| {
        let name = st
            .customers
            .get(wa)
            .map(|c| c.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| wa.to_string());
        json!({"profile": {"name": name}, "wa_id": wa})
    };
    let value = |st: &State, items: &[(String, Value, String)]| {
        let mut contacts: Vec<Value> = Vec::new();
        for (from, _, _) in items {
            let c = contact(st, from);
            if !contacts.contains(&c) {
                contacts.push(c);
            }
        }
        json!({
            "messaging_product": "whatsapp",
            "metadata": st.metadata(),
            "contacts": contacts,
            "messages": items.iter().map(|(_, o, _)| o.clone()).collect::<Vec<_>>(),
        })
    };
    let layout_entries: Vec<Vec<Value>> = match layout {
        BatchLayout::OneChange => vec![vec![value(&st, &built)]],
        BatchLayout::ChangePerMessage => {
            vec![built
                .iter()
                .map(|b| value(&st, std::slice::from_ref(b)))
                .collect()]
        }
        BatchLayout::EntryPerMessage => built
            .iter()
            .map(|b| vec![value(&st, std::slice::from_ref(b))])
            .collect(),
    };
    let body = st.envelope(layout_entries);
    st.queue_webhook(&body, Duration::ZERO);
    drop(st);
    shared.wake.notify_all();
    built.into_iter().map(|(_, _, id)| id).collect()
}

/// The running demo customers; dropping this stops them.
#[derive(Debug)]
pub struct DemoCustomers {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for DemoCustomers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Webhook sender

fn webhook_client(root_der: Option<&[u8]>) -> Result<reqwest::blocking::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    if let Some(der) = root_der {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
            .map_err(|e| format!("bad webhook root certificate ({e})"))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS could not start ({e})"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WEBHOOK_TIMEOUT)
        .user_agent("facebookexternalua")
        .build()
        .map_err(|e| format!("HTTP client could not start ({e})"))
}

fn webhook_loop(shared: &Arc<Shared>) {
    let mut client: Option<reqwest::blocking::Client> = None;
    loop {
        let job = {
            let mut st = lock(&shared.state);
            loop {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                let now = Instant::now();
                let next = st
                    .pending
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, p)| (p.due, p.seq))
                    .map(|(i, p)| (i, p.due));
                match next {
                    Some((i, due)) if due <= now => {
                        let p = st.pending.remove(i);
                        st.posting = true;
                        let d = &st.deliveries[p.delivery];
                        let url = st.config.webhook_url.clone();
                        let root = st.config.webhook_root_cert_der.clone();
                        break (p.delivery, d.body.clone(), d.signature.clone(), url, root);
                    }
                    Some((_, due)) => {
                        let wait = due - now;
                        st = shared
                            .wake
                            .wait_timeout(st, wait)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0);
                    }
                    None => {
                        st = shared
                            .wake
                            .wait_timeout(st, Duration::from_millis(500))
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0);
                    }
                }
            }
        };
        let (idx, body, signature, url, root) = job;
        let status = match url {
            None => None,
            Some(url) => {
                if client.is_none() {
                    client = webhook_client(root.as_deref()).ok();
                }
                client.as_ref().and_then(|c| {
                    c.post(url)
                        .header("Content-Type", "application/json")
                        .header("X-Hub-Signature-256", signature)
                        .body(body)
                        .send()
                        .ok()
                        .map(|r| r.status().as_u16())
                })
            }
        };
        let mut st = lock(&shared.state);
        st.posting = false;
        let (max, base) = (st.config.webhook_max_attempts, st.config.webhook_retry_base);
        let d = &mut st.deliveries[idx];
        d.attempts.push(status);
        if status == Some(200) {
            d.acknowledged = true;
        } else if (d.attempts.len() as u32) < max {
            let n = d.attempts.len() as u32 - 1;
            let backoff = base.saturating_mul(1u32 << n.min(16)).min(BACKOFF_CAP);
            st.schedule(idx, backoff);
        }
        drop(st);
        shared.wake.notify_all();
    }
}

// ----------------------------------------------------------------------------------------------
// Objects

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn numeric_id(len: usize) -> String {
    let mut s: String = random_bytes(len)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    if s.starts_with('0') {
        s.replace_range(0..1, "1");
    }
    s
}

fn new_wamid() -> String {
    format!("wamid.HBgM{}", b64(&random_bytes(27)))
}

fn fbtrace_id() -> String {
    random_alnum(23)
}

/// C2's message object for one customer message (stores its media).
fn inbound_object(st: &mut State, m: &InboundMessage, now: u64) -> Value {
    let mut obj = Map::new();
    obj.insert("from".into(), json!(m.from));
    obj.insert("id".into(), json!(new_wamid()));
    obj.insert("timestamp".into(), json!(now.to_string()));
    let (kind, payload): (&str, Option<Value>) = match &m.content {
        Inbound::Text(body) => ("text", Some(json!({"body": body}))),
        Inbound::Media(media) => {
            let id = st.store_media(
                &media.mime_type,
                media.bytes.clone(),
                INBOUND_MEDIA_LIFETIME,
            );
            let sum = st
                .media
                .get(&id)
                .map(|s| s.sha256.clone())
                .unwrap_or_default();
            let mut o =
                json!({"mime_type": media.mime_type, "sha256": b64(&hex_to_bytes(&sum)), "id": id});
            if let Some(c) = &media.caption {
                o["caption"] = json!(c);
            }
            match media.kind {
                MediaKind::Document => {
                    o["filename"] =
                        json!(media.filename.clone().unwrap_or_else(|| "document".into()));
                }
                MediaKind::Audio => {
                    o["voice"] = json!(media.voice);
                }
                MediaKind::Sticker => {
                    o["animated"] = json!(media.animated);
                }
                MediaKind::Image | MediaKind::Video => {}
            }
            (media.kind.as_str(), Some(o))
        }
        Inbound::Location {
            latitude,
            longitude,
            name,
            address,
            url,
        } => {
            let mut o = json!({"latitude": latitude, "longitude": longitude});
            if let Some(n) = name {
                o["name"] = json!(n);
            }
            if let Some(a) = address {
                o["address"] = json!(a);
            }
            if let Some(u) = url {
                o["url"] = json!(u);
            }
            ("location", Some(o))
        }
        Inbound::Contacts(cards) => ("contacts", Some(cards.clone())),
        Inbound::ButtonReply { id, title } => (
            "interactive",
            Some(json!({"type": "button_reply", "button_reply": {"id": id, "title": title}})),
        ),
        Inbound::ListReply {
            id,
            title,
            description,
        } => {
            let mut r = json!({"id": id, "title": title});
            if let Some(d) = description {
                r["description"] = json!(d);
            }
            (
                "interactive",
                Some(json!({"type": "list_reply", "list_reply": r})),
            )
        }
        Inbound::FlowReply {
            name,
            body,
            response_json,
        } => (
            "interactive",
            Some(
                json!({"type": "nfm_reply", "nfm_reply": {"name": name, "body": body, "response_json": response_json}}),
            ),
        ),
        Inbound::TemplateButton { text, payload } => {
            ("button", Some(json!({"text": text, "payload": payload})))
        }
        Inbound::Reaction { message_id, emoji } => {
            let mut r = json!({"message_id": message_id});
            if let Some(e) = emoji {
                r["emoji"] = json!(e);
            }
            ("reaction", Some(r))
        }
        Inbound::Order {
            catalog_id,
            text,
            product_items,
        } => {
            let mut o = json!({"catalog_id": catalog_id, "product_items": product_items});
            if let Some(t) = text {
                o["text"] = json!(t);
            }
            ("order", Some(o))
        }
        Inbound::NumberChanged { new_wa_id } => (
            "system",
            Some(json!({
                "body": format!("User A changed from {} to {}", m.from, new_wa_id),
                "new_wa_id": new_wa_id,
                "type": "customer_changed_number",
            })),
        ),
        Inbound::Unsupported => {
            obj.insert(
                "errors".into(),
                json!([{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                         "error_data": {"details": "Message type is currently not supported."}}]),
            );
            ("unsupported", None)
        }
        Inbound::Raw(v) => {
            let mut o = v.as_object().cloned().unwrap_or_default();
            for (k, val) in obj {
                o.entry(k).or_insert(val);
            }
            return Value::Object(o);
        }
    };
    obj.insert("type".into(), json!(kind));
    if let Some(p) = payload {
        obj.insert(kind.into(), p);
    }
    if m.reply_to.is_some() || m.forwarded {
        let mut ctx = Map::new();
        if let Some(id) = &m.reply_to {
            ctx.insert("from".into(), json!(st.config.display_phone_number));
            ctx.insert("id".into(), json!(id));
        }
        if m.forwarded {
            ctx.insert("forwarded".into(), json!(true));
        }
        obj.insert("context".into(), Value::Object(ctx));
    }
    Value::Object(obj)
}

fn hex_to_bytes(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn status_category(st: &State, sent: &SentMessage) -> String {
    if sent.kind != "template" {
        return "service".into();
    }
    let name = sent.body["template"]["name"].as_str().unwrap_or_default();
    st.templates
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.category.to_ascii_lowercase())
        .unwrap_or_else(|| "utility".into())
}

fn status_object(
    st: &State,
    sent: &SentMessage,
    status: &str,
    category: &str,
    error: Option<u32>,
) -> Value {
    let mut o = json!({
        "id": sent.wamid,
        "status": status,
        "timestamp": st.now_secs().to_string(),
        "recipient_id": sent.wa_id,
    });
    if let Some(code) = error {
        let (title, details) = error_text(code);
        o["errors"] = json!([{"code": code, "title": title, "message": title,
                              "error_data": {"details": details}, "href": HREF}]);
    } else {
        let service = category == "service";
        o["pricing"] = json!({
            "billable": !service,
            "pricing_model": "PMP",
            "category": category,
            "type": if service { "free_customer_service" } else { "regular" },
        });
    }
    if let Some(cb) = sent.body.get("biz_opaque_callback_data") {
        o["biz_opaque_callback_data"] = cb.clone();
    }
    o
}

fn status_value(st: &State, status: Value) -> Value {
    json!({"messaging_product": "whatsapp", "metadata": st.metadata(), "statuses": [status]})
}

/// (title, details) for the codes the double produces.
fn error_text(code: u32) -> (&'static str, &'static str) {
    match code {
        0 | 190 => ("Error validating access token", "Error validating access token: Session has expired."),
        100 => ("Invalid parameter", "Invalid parameter"),
        130429 => ("Rate limit hit", "Cloud API message throughput has been reached."),
        131000 => ("Something went wrong", "Something went wrong"),
        131008 => ("Required parameter is missing", "Required parameter is missing"),
        131009 => ("Parameter value is not valid", "Parameter value is not valid"),
        131026 => ("Message undeliverable", "Message Undeliverable."),
        131047 => (
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        ),
        131048 => ("Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number."),
        131049 => ("This message was not delivered to maintain healthy ecosystem engagement.", "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."),
        131051 => ("Unsupported message type", "Message type is not currently supported."),
        131053 => ("Media upload error", "Unable to upload the media used in the message."),
        131056 => (
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        ),
        132000 => ("Number of parameters does not match the expected number of params", "Number of parameters does not match the expected number of params"),
        132001 => ("Template name does not exist in the translation", "Template name does not exist in the translation"),
        132015 => ("Template is Paused", "Template is paused due to low quality so it cannot be sent in a template message."),
        132016 => ("Template is disabled", "Template has been paused too many times due to low quality and is now permanently disabled."),
        133010 => ("Account not registered", "Account not registered"),
        2 => ("Service temporarily unavailable", "Service temporarily unavailable"),
        _ => ("Error", "An error occurred."),
    }
}

/// A C5 error reply.
fn graph_error(http: u16, code: u32, details: Option<&str>, subcode: Option<u32>) -> Response {
    let (title, default_details) = error_text(code);
    let mut err = json!({
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details.unwrap_or(default_details)},
    });
    if let Some(s) = subcode {
        err["error_subcode"] = json!(s);
    }
    err["fbtrace_id"] = json!(fbtrace_id());
    Response::json(http, &json!({"error": err}))
}

fn invalid(details: &str) -> Response {
    graph_error(400, 100, Some(details), None)
}
fn missing(details: &str) -> Response {
    graph_error(400, 131008, Some(details), None)
}
fn bad_value(details: &str) -> Response {
    graph_error(400, 131009, Some(details), None)
}

/// The usual HTTP status of a refused send with this code (guess: Graph's 400 for most).
fn http_status_of(code: u32) -> u16 {
    match code {
        0 | 190 => 401,
        1 | 131000 => 500,
        2 => 503,
        _ => 400,
    }
}

fn reject_response(code: u32, http: Option<u16>) -> Response {
    let http = http.unwrap_or_else(|| http_status_of(code));
    match code {
        190 => token_error(true).with_status(http),
        130429 => graph_error(http, code, None, Some(2_494_055)),
        _ => graph_error(http, code, None, None),
    }
}

trait WithStatus {
    fn with_status(self, status: u16) -> Self;
}
impl WithStatus for Response {
    fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// 190: expired (subcode 463) or invalid. Graph sends no `error_data` for these.
fn token_error(expired: bool) -> Response {
    let mut err = if expired {
        json!({"message": "Error validating access token: Session has expired.",
               "type": "OAuthException", "code": 190, "error_subcode": 463})
    } else {
        json!({"message": "Invalid OAuth access token - Cannot parse access token",
               "type": "OAuthException", "code": 190})
    };
    err["fbtrace_id"] = json!(fbtrace_id());
    Response::json(401, &json!({"error": err}))
}

/// Graph's answer for an id that does not exist (or is not this app's).
fn no_object(method: &str, id: &str) -> Response {
    let mut err = json!({
        "message": format!("Unsupported {} request. Object with ID '{}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", method.to_ascii_lowercase(), id),
        "type": "GraphMethodException",
        "code": 100,
        "error_subcode": 33,
    });
    err["fbtrace_id"] = json!(fbtrace_id());
    Response::json(400, &json!({"error": err}))
}

fn unknown_path(path: &str) -> Response {
    let mut err = json!({"message": format!("Unknown path components: {path}"), "type": "OAuthException", "code": 2500});
    err["fbtrace_id"] = json!(fbtrace_id());
    Response::json(400, &json!({"error": err}))
}

// ----------------------------------------------------------------------------------------------
// Routing

fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
        if !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()))
}

fn handle(shared: &Arc<Shared>, req: Request) -> Reply {
    if let Some(rest) = req.decoded_path().strip_prefix("/_sandbox/") {
        return Reply::Respond(control(shared, &req, rest));
    }
    let mut st = lock(&shared.state);
    st.requests.push(RecordedRequest::from(&req));
    let path = req.decoded_path();
    if path == "/whatsapp_business/attachments/" || path == "/whatsapp_business/attachments" {
        return Reply::Respond(download(&st, &req));
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.is_empty() || !is_version(segments[0]) {
        return Reply::Respond(unknown_path(&path));
    }
    // Authorization first, like Graph.
    let token = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_string)
        .or_else(|| req.query_param("access_token"));
    match token {
        Some(t) if st.tokens.contains(&t) => {}
        Some(t) if st.expired_tokens.contains(&t) => return Reply::Respond(token_error(true)),
        _ => return Reply::Respond(token_error(false)),
    }
    let is_write = req.method == "POST";
    let taken = take_fault(&mut st.faults, is_write);
    let server_error = || graph_error(500, 131000, None, None);
    match taken {
        // Faults that sleep must not hold the lock.
        Some(crate::common::Taken::Slow(d)) => {
            drop(st);
            std::thread::sleep(d);
            let mut st = lock(&shared.state);
            let resp = route(&mut st, &req, &segments);
            drop(st);
            shared.wake.notify_all();
            Reply::Respond(resp)
        }
        Some(crate::common::Taken::StallAfterCommit(d)) => {
            let resp = route(&mut st, &req, &segments);
            drop(st);
            shared.wake.notify_all();
            std::thread::sleep(d);
            Reply::Respond(resp)
        }
        other => {
            let reply = with_fault(other, server_error, || route(&mut st, &req, &segments));
            drop(st);
            shared.wake.notify_all();
            reply
        }
    }
}

/// The double's own control surface (not Meta's), for scripts and other processes:
/// * `POST /_sandbox/customers/{wa_id}/messages` with a C2 message object without `from`, `id`,
///   `timestamp` (e.g. `{"type":"text","text":{"body":"Hola"}}`), optional `"profile_name"`:
///   the customer sends it → `{"id":"wamid…"}`;
/// * `POST /_sandbox/clock` with `{"advance_seconds":N}`.
fn control(shared: &Shared, req: &Request, rest: &str) -> Response {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ if req.method != "POST" => return Response::new(405),
        _ => return invalid("The request body must be a JSON object."),
    };
    let seg: Vec<&str> = rest.split('/').collect();
    match (req.method.as_str(), seg.as_slice()) {
        ("POST", ["customers", wa_id, "messages"]) => {
            let wa_id = digits(wa_id);
            if wa_id.len() < 7 || wa_id.len() > 15 {
                return invalid("The wa_id must have 7 to 15 digits.");
            }
            if body["type"].as_str().is_none() {
                return missing("The parameter type is required.");
            }
            let mut message = body.clone();
            let name = message
                .as_object_mut()
                .and_then(|o| o.remove("profile_name"))
                .and_then(|v| v.as_str().map(str::to_string));
            if let Some(name) = name {
                let mut st = lock(&shared.state);
                let c = st.customers.entry(wa_id.clone()).or_insert(Customer {
                    name: String::new(),
                    last_inbound: None,
                });
                c.name = name;
            }
            message["from"] = json!(wa_id);
            let m = InboundMessage::new(&wa_id, Inbound::Raw(message));
            let ids = customer_batch(shared, BatchLayout::OneChange, vec![m]);
            Response::json(200, &json!({"id": ids.first()}))
        }
        ("POST", ["clock"]) => {
            let Some(secs) = body["advance_seconds"].as_u64() else {
                return missing("The parameter advance_seconds is required.");
            };
            let mut st = lock(&shared.state);
            st.clock_offset = st.clock_offset.saturating_add(Duration::from_secs(secs));
            Response::json(200, &json!({"success": true}))
        }
        _ => Response::new(404),
    }
}

fn route(st: &mut State, req: &Request, seg: &[&str]) -> Response {
    let pnid = st.config.phone_number_id.clone();
    let waba = st.config.waba_id.clone();
    match (req.method.as_str(), &seg[1..]) {
        ("GET", [id]) if *id == pnid => Response::json(
            200,
            &json!({
                "verified_name": st.config.verified_name,
                "code_verification_status": "VERIFIED",
                "display_phone_number": st.config.display_phone_number,
                "quality_rating": "GREEN",
                "platform_type": "CLOUD_API",
                "throughput": {"level": "STANDARD"},
                "id": pnid,
            }),
        ),
        ("POST", [id, "messages"]) if *id == pnid => post_message(st, req),
        ("POST", [id, "media"]) if *id == pnid => upload_media(st, req),
        ("GET", [id, "message_templates"]) if *id == waba => list_templates(st, req),
        ("GET", [id]) => media_info(st, req, id),
        ("DELETE", [id]) => {
            if st.live_media(id).is_some() {
                st.media.remove(*id);
                Response::json(200, &json!({"success": true}))
            } else {
                no_object("DELETE", id)
            }
        }
        (m, [id, ..]) if *id != pnid && *id != waba => no_object(m, id),
        _ => unknown_path(&req.decoded_path()),
    }
}

// ----------------------------------------------------------------------------------------------
// Sends

fn post_message(st: &mut State, req: &Request) -> Response {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return invalid("The request body must be a JSON object."),
    };
    match body.get("messaging_product") {
        None => {
            return graph_error(
                400,
                100,
                Some("The parameter messaging_product is required."),
                None,
            )
        }
        Some(v) if v.as_str() != Some("whatsapp") => {
            return graph_error(
                400,
                100,
                Some(&format!(
                    "Param messaging_product must be one of {{WHATSAPP}} - got {v}."
                )),
                None,
            )
        }
        Some(_) => {}
    }
    if body.get("status").is_some() {
        return mark_read(st, &body);
    }
    let Some(to) = body
        .get("to")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
    else {
        return graph_error(400, 100, Some("The parameter to is required."), None);
    };
    let to_digits = digits(to);
    if to_digits.len() < 7 || to_digits.len() > 15 || to.chars().any(|c| c.is_ascii_alphabetic()) {
        return invalid(&format!("Param to is not a valid phone number: {to}"));
    }
    if let Some(rt) = body.get("recipient_type") {
        if rt.as_str() != Some("individual") {
            return invalid("Param recipient_type must be one of {INDIVIDUAL} for this message.");
        }
    }
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text")
        .to_string();
    let media_failure = match validate_send(st, &kind, &body) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let wa_id = resolve_wa_id(st, &to_digits);
    if let Some((code, http)) = st.rejects.pop_front() {
        return reject_response(code, http);
    }
    let free_form = kind != "template";
    let outside = free_form && !st.in_window(&wa_id);
    if outside && st.config.window_rule == WindowRule::Synchronous {
        return graph_error(400, 131047, None, None);
    }
    // Accepted.
    let wamid = new_wamid();
    let sent = SentMessage {
        wamid: wamid.clone(),
        to: to.to_string(),
        wa_id: wa_id.clone(),
        kind: kind.clone(),
        body: body.clone(),
    };
    st.sent.push(sent.clone());
    let failure = st
        .async_failures
        .pop_front()
        .or(if outside { Some(131047) } else { None })
        .or(media_failure);
    let category = status_category(st, &sent);
    let plan = st.config.status_plan.clone();
    match failure {
        Some(code) => {
            let obj = status_object(st, &sent, "failed", &category, Some(code));
            let body = st.envelope(vec![vec![status_value(st, obj)]]);
            st.queue_webhook(&body, plan.sent);
        }
        None => {
            let mut steps = vec![("sent", plan.sent)];
            if let Some(d) = plan.delivered {
                steps.push(("delivered", d));
                if let Some(r) = plan.read {
                    steps.push(("read", r.max(d)));
                }
            }
            if plan.out_of_order {
                let delays: Vec<Duration> = steps.iter().map(|s| s.1).collect();
                let n = steps.len();
                for (i, s) in steps.iter_mut().enumerate() {
                    s.1 = delays[n - 1 - i];
                }
            }
            for (status, after) in steps {
                let obj = status_object(st, &sent, status, &category, None);
                let body = st.envelope(vec![vec![status_value(st, obj)]]);
                let idx = st.queue_webhook(&body, after);
                if plan.duplicate {
                    let d = st.deliveries[idx].clone();
                    st.deliveries.push(WebhookDelivery {
                        attempts: Vec::new(),
                        acknowledged: false,
                        ..d
                    });
                    let dup = st.deliveries.len() - 1;
                    st.schedule(dup, after);
                }
            }
        }
    }
    let mut msg = json!({"id": wamid});
    if kind == "template" {
        msg["message_status"] = json!("accepted");
    }
    Response::json(
        200,
        &json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": wa_id}],
            "messages": [msg],
        }),
    )
}

fn mark_read(st: &mut State, body: &Value) -> Response {
    if body["status"].as_str() != Some("read") {
        return invalid("Param status must be one of {READ}.");
    }
    let Some(id) = body.get("message_id").and_then(Value::as_str) else {
        return graph_error(
            400,
            100,
            Some("The parameter message_id is required."),
            None,
        );
    };
    if !st.inbound_ids.iter().any(|i| i == id) {
        return invalid(&format!("Invalid message_id: {id}"));
    }
    let typing = match body.get("typing_indicator") {
        None => false,
        Some(t) if t["type"].as_str() == Some("text") => true,
        Some(_) => return invalid("Param typing_indicator['type'] must be one of {TEXT}."),
    };
    st.read_marks.push(ReadMark {
        message_id: id.into(),
        typing_indicator: typing,
    });
    Response::json(200, &json!({"success": true}))
}

/// The recipient's canonical wa_id: a registered customer under either Mexican (52/521) or
/// Brazilian (with/without the ninth digit) form, else the digits (Mexico 52+10 → 521+10).
fn resolve_wa_id(st: &State, to: &str) -> String {
    if st.customers.contains_key(to) {
        return to.to_string();
    }
    let mut alternates = Vec::new();
    if to.len() == 12 && to.starts_with("52") {
        alternates.push(format!("521{}", &to[2..]));
    }
    if to.len() == 13 && to.starts_with("521") {
        alternates.push(format!("52{}", &to[3..]));
    }
    if to.len() == 13 && to.starts_with("55") && to.as_bytes().get(4) == Some(&b'9') {
        alternates.push(format!("{}{}", &to[..4], &to[5..]));
    }
    if to.len() == 12 && to.starts_with("55") {
        alternates.push(format!("{}9{}", &to[..4], &to[4..]));
    }
    if let Some(a) = alternates.iter().find(|a| st.customers.contains_key(*a)) {
        return a.clone();
    }
    if to.len() == 12 && to.starts_with("52") {
        return format!("521{}", &to[2..]);
    }
    to.to_string()
}

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// Checks the object of this type; `Ok(Some(code))` = accept, then fail asynchronously.
fn validate_send(st: &State, kind: &str, body: &Value) -> Result<Option<u32>, Response> {
    let obj = |k: &str| body.get(k).filter(|v| v.is_object());
    match kind {
        "text" => {
            let Some(t) = obj("text") else {
                return Err(missing("The parameter text is required."));
            };
            let Some(b) = t.get("body").and_then(Value::as_str) else {
                return Err(missing("The parameter text['body'] is required."));
            };
            if b.chars().count() > TEXT_MAX {
                return Err(invalid("Param text['body'] must be at most 4096 characters long."));
            }
            if b.trim().is_empty() {
                return Err(invalid("Param text['body'] must be a non-empty string."));
            }
            Ok(None)
        }
        "image" | "audio" | "video" | "document" | "sticker" => {
            let Some(m) = obj(kind) else {
                return Err(missing(&format!("The parameter {kind} is required.")));
            };
            let id = m.get("id").and_then(Value::as_str);
            let link = m.get("link").and_then(Value::as_str);
            if id.is_some() == link.is_some() {
                return Err(invalid(&format!("Param {kind} must have exactly one of id or link.")));
            }
            if m.get("caption").is_some() && matches!(kind, "audio" | "sticker") {
                return Err(invalid(&format!("Param {kind}['caption'] is not a valid parameter.")));
            }
            if chars(&m["caption"]) > CAPTION_MAX {
                return Err(invalid(&format!("Param {kind}['caption'] must be at most 1024 characters long.")));
            }
            if let Some(link) = link {
                let ok = url::Url::parse(link)
                    .map(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
                    .unwrap_or(false);
                if !ok {
                    return Err(bad_value(&format!("Param {kind}['link'] is not a valid URL.")));
                }
                return Ok(None);
            }
            let id = id.unwrap_or_default();
            let Some(media) = st.live_media(id) else {
                return Err(invalid(&format!(
                    "Param {kind}['id'] is not a valid whatsapp business account media attachment ID."
                )));
            };
            // A file of another kind uploads fine and fails on delivery (guess: 131053).
            let matches = MediaKind::of_mime(&media.mime_type).map(MediaKind::as_str) == Some(kind)
                || (kind == "image" && media.mime_type == "image/webp");
            // A voice note must be OGG/OPUS (C3, C4); any other audio with `voice: true`
            // is accepted and then fails like a media that cannot be sent (guess: 131053).
            let voice = kind == "audio" && m.get("voice").and_then(Value::as_bool) == Some(true);
            let bad_voice = voice
                && (!media.mime_type.starts_with("audio/ogg")
                    || ogg_opus_problem(&media.bytes).is_some());
            Ok(if matches && !bad_voice { None } else { Some(131053) })
        }
        "location" => {
            let Some(l) = obj("location") else {
                return Err(missing("The parameter location is required."));
            };
            for k in ["latitude", "longitude"] {
                let v = &l[k];
                let ok = v.as_f64().is_some() || v.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok());
                if v.is_null() {
                    return Err(missing(&format!("The parameter location['{k}'] is required.")));
                }
                if !ok {
                    return Err(bad_value(&format!("Param location['{k}'] must be a number.")));
                }
            }
            Ok(None)
        }
        "reaction" => {
            let Some(r) = obj("reaction") else {
                return Err(missing("The parameter reaction is required."));
            };
            if r.get("message_id").and_then(Value::as_str).is_none() {
                return Err(missing("The parameter reaction['message_id'] is required."));
            }
            if r.get("emoji").and_then(Value::as_str).is_none() {
                return Err(missing("The parameter reaction['emoji'] is required."));
            }
            Ok(None)
        }
        "contacts" => {
            let cards = body.get("contacts").and_then(Value::as_array);
            let Some(cards) = cards.filter(|c| !c.is_empty()) else {
                return Err(missing("The parameter contacts is required."));
            };
            for (i, c) in cards.iter().enumerate() {
                if c["name"]["formatted_name"].as_str().is_none() {
                    return Err(missing(&format!("The parameter contacts[{i}]['name']['formatted_name'] is required.")));
                }
            }
            Ok(None)
        }
        "interactive" => validate_interactive(body),
        "template" => validate_template(st, body),
        other => Err(invalid(&format!(
            "Param type must be one of {{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}} - got \"{other}\"."
        ))),
    }
}

fn validate_interactive(body: &Value) -> Result<Option<u32>, Response> {
    let i = &body["interactive"];
    if !i.is_object() {
        return Err(missing("The parameter interactive is required."));
    }
    let Some(kind) = i["type"].as_str() else {
        return Err(missing("The parameter interactive['type'] is required."));
    };
    let needs_body = matches!(
        kind,
        "button" | "list" | "cta_url" | "flow" | "location_request_message"
    );
    if needs_body && i["body"]["text"].as_str().is_none() {
        return Err(missing(
            "The parameter interactive['body']['text'] is required.",
        ));
    }
    if chars(&i["body"]["text"]) > 1024 {
        return Err(bad_value(
            "Param interactive['body']['text'] must be at most 1024 characters long.",
        ));
    }
    match kind {
        "button" => {
            let buttons = i["action"]["buttons"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(bad_value(
                    "Param interactive['action']['buttons'] must have between 1 and 3 elements.",
                ));
            }
            let mut ids = Vec::new();
            for (n, b) in buttons.iter().enumerate() {
                let title = chars(&b["reply"]["title"]);
                let id = b["reply"]["id"].as_str().unwrap_or_default();
                if title == 0 || title > 20 {
                    return Err(bad_value(&format!(
                        "Param interactive['action']['buttons'][{n}]['reply']['title'] must be between 1 and 20 characters long."
                    )));
                }
                if id.is_empty() || id.len() > 256 || ids.contains(&id) {
                    return Err(bad_value(&format!(
                        "Param interactive['action']['buttons'][{n}]['reply']['id'] must be unique and 1 to 256 characters long."
                    )));
                }
                ids.push(id);
            }
            Ok(None)
        }
        "list" => {
            let button = chars(&i["action"]["button"]);
            if button == 0 || button > 20 {
                return Err(bad_value("Param interactive['action']['button'] must be between 1 and 20 characters long."));
            }
            let sections = i["action"]["sections"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if sections.is_empty() || sections.len() > 10 {
                return Err(bad_value(
                    "Param interactive['action']['sections'] must have between 1 and 10 elements.",
                ));
            }
            let rows: Vec<Value> = sections
                .iter()
                .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                .collect();
            if rows.is_empty() || rows.len() > 10 {
                return Err(bad_value(
                    "The total number of rows across sections must be between 1 and 10.",
                ));
            }
            if rows.iter().any(|r| {
                let t = chars(&r["title"]);
                t == 0 || t > 24 || r["id"].as_str().is_none_or(str::is_empty)
            }) {
                return Err(bad_value(
                    "Each row needs an id and a title of 1 to 24 characters.",
                ));
            }
            Ok(None)
        }
        "cta_url"
        | "flow"
        | "product"
        | "product_list"
        | "catalog_message"
        | "location_request_message" => Ok(None),
        other => Err(bad_value(&format!(
            "Param interactive['type'] is not valid: {other}"
        ))),
    }
}

fn validate_template(st: &State, body: &Value) -> Result<Option<u32>, Response> {
    let t = &body["template"];
    if !t.is_object() {
        return Err(missing("The parameter template is required."));
    }
    let Some(name) = t["name"].as_str() else {
        return Err(missing("The parameter template['name'] is required."));
    };
    let Some(lang) = t["language"]["code"].as_str() else {
        return Err(missing(
            "The parameter template['language']['code'] is required.",
        ));
    };
    let Some(tpl) = st
        .templates
        .iter()
        .find(|x| x.name == name && x.language == lang)
    else {
        return Err(graph_error(
            400,
            132001,
            Some(&format!("template name ({name}) does not exist in {lang}")),
            None,
        ));
    };
    match tpl.status.as_str() {
        "APPROVED" => {}
        "PAUSED" => return Err(graph_error(400, 132015, None, None)),
        "DISABLED" => return Err(graph_error(400, 132016, None, None)),
        _ => {
            return Err(graph_error(
                400,
                132001,
                Some(&format!("template name ({name}) is not approved in {lang}")),
                None,
            ))
        }
    }
    let components = t["components"].as_array().cloned().unwrap_or_default();
    for part in ["body", "header"] {
        let given: usize = components
            .iter()
            .filter(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(part))
            })
            .map(|c| c["parameters"].as_array().map_or(0, Vec::len))
            .sum();
        let expected = tpl.placeholders(part);
        if given != expected {
            return Err(graph_error(
                400,
                132000,
                Some(&format!(
                    "{part}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
                )),
                None,
            ));
        }
    }
    Ok(None)
}

// ----------------------------------------------------------------------------------------------
// Media

struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A `multipart/form-data` body, or `None` when it is malformed.
fn parse_multipart(req: &Request) -> Option<Vec<Part>> {
    let ct = req.header("content-type")?;
    let boundary = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if boundary.is_empty() {
        return None;
    }
    let delim = format!("--{boundary}");
    let body = &req.body;
    let mut pos = find(body, delim.as_bytes(), 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        pos += 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = String::from_utf8_lossy(body.get(pos..head_end)?).into_owned();
        let data_start = head_end + 4;
        let next = find(body, format!("\r\n{delim}").as_bytes(), data_start)?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body.get(data_start..next)?.to_vec(),
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for p in v.split(';').map(str::trim) {
                    if let Some(n) = p.strip_prefix("name=") {
                        part.name = n.trim_matches('"').to_string();
                    } else if let Some(f) = p.strip_prefix("filename=") {
                        part.filename = Some(f.trim_matches('"').to_string());
                    }
                }
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        parts.push(part);
        pos = next + 2 + delim.len();
    }
}

fn upload_media(st: &mut State, req: &Request) -> Response {
    if req.content_type() != "multipart/form-data" {
        return invalid("The request must be multipart/form-data.");
    }
    let Some(parts) = parse_multipart(req) else {
        return invalid("Malformed multipart/form-data body.");
    };
    let field = |n: &str| {
        parts
            .iter()
            .find(|p| p.name == n && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
    };
    match field("messaging_product") {
        None => {
            return graph_error(
                400,
                100,
                Some("The parameter messaging_product is required."),
                None,
            )
        }
        Some(p) if p != "whatsapp" => {
            return graph_error(
                400,
                100,
                Some(&format!(
                    "Param messaging_product must be one of {{WHATSAPP}} - got \"{p}\"."
                )),
                None,
            )
        }
        Some(_) => {}
    }
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return graph_error(400, 100, Some("The parameter file is required."), None);
    };
    let Some(mime) = field("type").or_else(|| file.content_type.clone()) else {
        return graph_error(400, 100, Some("The parameter type is required."), None);
    };
    let Some(kind) = MediaKind::of_mime(&mime) else {
        return graph_error(
            400,
            100,
            Some(&format!(
                "Param file must be a file with one of the following types: {SUPPORTED_MIME}. Received file of type '{mime}'."
            )),
            None,
        );
    };
    let max = kind.max_bytes(&file.data);
    if file.data.len() > max {
        return graph_error(
            400,
            131053,
            Some(&format!(
                "File size is too large. Max size allowed for {mime} is {} bytes.",
                max
            )),
            None,
        );
    }
    if file.data.is_empty() {
        return graph_error(400, 131053, Some("The file is empty."), None);
    }
    // Audio/ogg must be OPUS and mono (C4); Meta answers a media upload error.
    if mime.split(';').next().unwrap_or("").trim() == "audio/ogg" {
        if let Some(problem) = ogg_opus_problem(&file.data) {
            return graph_error(400, 131053, Some(problem), None);
        }
    }
    let id = st.store_media(&mime, file.data.clone(), UPLOADED_MEDIA_LIFETIME);
    if let Some(stored) = st.media.get_mut(&id) {
        stored.filename = file.filename.clone();
    }
    Response::json(200, &json!({"id": id}))
}

fn media_info(st: &mut State, req: &Request, id: &str) -> Response {
    if let Some(owner) = req.query_param("phone_number_id") {
        if owner != st.config.phone_number_id {
            return no_object("GET", id);
        }
    }
    let url = st.media_url(id);
    let Some(m) = st.live_media(id) else {
        return no_object("GET", id);
    };
    Response::json(
        200,
        &json!({
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": m.mime_type,
            "sha256": m.sha256,
            "file_size": m.bytes.len(),
            "id": id,
        }),
    )
}

fn download(st: &State, req: &Request) -> Response {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !token.is_some_and(|t| st.tokens.iter().any(|x| x == t)) {
        return token_error(token.is_some_and(|t| st.expired_tokens.iter().any(|x| x == t)));
    }
    // Without a User-Agent lookaside answers with an HTML page (api-facts C4, library issues).
    if req.header("user-agent").is_none_or(|u| u.trim().is_empty()) {
        return Response::html(200, "<!DOCTYPE html><html><head><title>WhatsApp</title></head><body>Sorry, this content isn't available right now</body></html>");
    }
    let (Some(mid), Some(ext), Some(hash)) = (
        req.query_param("mid"),
        req.query_param("ext"),
        req.query_param("hash"),
    ) else {
        return Response::new(404);
    };
    let expected = hex(&hmac_sha256(&st.url_key, format!("{mid}:{ext}").as_bytes()));
    let ext_secs: u64 = ext.parse().unwrap_or(0);
    // Guess: an expired or forged URL answers 404 with no body.
    if hash != expected || st.now_secs() >= ext_secs {
        return Response::new(404);
    }
    match st.live_media(&mid) {
        Some(m) => Response {
            status: 200,
            headers: vec![("Content-Type".into(), m.mime_type.clone())],
            body: m.bytes.clone(),
        },
        None => Response::new(404),
    }
}

// ----------------------------------------------------------------------------------------------
// Templates

fn list_templates(st: &State, req: &Request) -> Response {
    let limit: usize = match req.query_param("limit") {
        None => 25,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n > 0 => n.min(1000),
            _ => return invalid("Param limit must be a positive integer."),
        },
    };
    let name = req.query_param("name");
    let status = req.query_param("status");
    let fields: Option<Vec<String>> = req.query_param("fields").map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let all: Vec<&Template> = st
        .templates
        .iter()
        .filter(|t| name.as_ref().is_none_or(|n| t.name.contains(n.as_str())))
        .filter(|t| {
            status
                .as_ref()
                .is_none_or(|s| t.status.eq_ignore_ascii_case(s))
        })
        .collect();
    let cursor = |i: usize| b64(format!("MAXIMUM:{i}").as_bytes());
    let decode = |c: &str| -> Option<usize> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
        String::from_utf8(raw)
            .ok()?
            .strip_prefix("MAXIMUM:")?
            .parse()
            .ok()
    };
    let (start, end) = if let Some(after) = req.query_param("after") {
        let Some(i) = decode(&after) else {
            return invalid("Param after is not a valid cursor.");
        };
        (
            i.saturating_add(1),
            i.saturating_add(1).saturating_add(limit).min(all.len()),
        )
    } else if let Some(before) = req.query_param("before") {
        let Some(i) = decode(&before) else {
            return invalid("Param before is not a valid cursor.");
        };
        (i.saturating_sub(limit), i.min(all.len()))
    } else {
        (0, limit.min(all.len()))
    };
    let start = start.min(end);
    let data: Vec<Value> = all[start..end]
        .iter()
        .map(|t| {
            let full = t.to_json();
            match &fields {
                None => full,
                Some(f) => {
                    let mut o = Map::new();
                    for k in f {
                        if let Some(v) = full.get(k) {
                            o.insert(k.clone(), v.clone());
                        }
                    }
                    o.insert("id".into(), full["id"].clone());
                    Value::Object(o)
                }
            }
        })
        .collect();
    let mut out = json!({"data": data});
    if end > start {
        let mut paging = json!({"cursors": {"before": cursor(start), "after": cursor(end - 1)}});
        let mut q: Vec<(String, String)> = req
            .query_pairs()
            .into_iter()
            .filter(|(k, _)| k != "after" && k != "before" && k != "access_token")
            .collect();
        let base = format!("{}{}", st.base, req.path);
        let link = |q: &Vec<(String, String)>| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in q {
                s.append_pair(k, v);
            }
            format!("{base}?{}", s.finish())
        };
        if end < all.len() {
            q.push(("after".into(), cursor(end - 1)));
            paging["next"] = json!(link(&q));
            q.pop();
        }
        if start > 0 {
            q.push(("before".into(), cursor(start)));
            paging["previous"] = json!(link(&q));
        }
        out["paging"] = paging;
    }
    Response::json(200, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_once_each() {
        assert_eq!(count_placeholders("Hola {{1}}, {{2}} y {{1}}"), 2);
        assert_eq!(count_placeholders("sin nada"), 0);
        assert_eq!(count_placeholders("roto {{1"), 0);
    }

    #[test]
    fn versions_are_recognised() {
        assert!(is_version("v21.0"));
        assert!(is_version("v19.0"));
        assert!(!is_version("v21"));
        assert!(!is_version("21.0"));
        assert!(!is_version("vx.0"));
    }

    #[test]
    fn multipart_parses_fields_and_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.ogg\"\r\nContent-Type: audio/ogg\r\n\r\nOggS\r\n\x00\x01\r\n--XyZ--\r\n";
        let req = Request {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![(
                "Content-Type".into(),
                "multipart/form-data; boundary=XyZ".into(),
            )],
            body: body.to_vec(),
        };
        let parts = parse_multipart(&req).expect("parses");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "messaging_product");
        assert_eq!(parts[0].data, b"whatsapp");
        assert_eq!(parts[1].filename.as_deref(), Some("a.ogg"));
        assert_eq!(parts[1].data, b"OggS\r\n\x00\x01");
        let mut bad = req.clone();
        bad.body = b"--XyZ\r\nno end".to_vec();
        assert!(parse_multipart(&bad).is_none());
    }
}
