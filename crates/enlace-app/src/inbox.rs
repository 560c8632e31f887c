//! The inbox (Omnicanalidad): the agent's WhatsApp conversations through the hub, cached in the
//! desktop's SQLite (`enlace-store` `chats`) so the panel opens at once and history shows
//! offline.
//!
//! Invariants:
//! - Every chat event of the hub's stream is stored by [`InboxConsumer`] before the feed's
//!   cursor moves past it; when the stream comes online (login, resume, reconnection) the
//!   conversation list is read again from the hub (`GET /api/v1/conversations`). A timeline is
//!   read from the cache and fetched from the hub only for the pages the cache does not hold
//!   whole ([`App::inbox_timeline`]).
//! - A message the agent sends is stored `pending` first ([`App::inbox_send`]) and handed to
//!   the hub by one sender task, oldest first, with its client id: a reply lost, a hub down
//!   or a restart of the app only means sending the same client id again, which the hub
//!   answers with the first message (never sent twice). Passing failures wait with back-off
//!   (woken when the stream comes back); refusals (`window_closed`, …) show the message
//!   `failed` with the reason, and [`App::inbox_retry`] sends its content again as a new
//!   message.
//! - [`DomainEvent::ChatNotify`] is emitted when a customer writes or a conversation is
//!   assigned to the agent and it is not the chat on screen ([`App::inbox_viewing`]), at most
//!   once per conversation every [`NOTIFY_EVERY_MS`], never while the agent is paused unless
//!   the agent turned that on.
//! - Media are downloaded once into `media/` next to the database, also when asked several
//!   times at once (one download per file at a time, the others wait for it; per file at most
//!   [`MAX_MEDIA_BYTES`], the folder kept under [`MEDIA_CACHE_BYTES`]), named by the hub's
//!   media id after checking it is a plain name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use enlace_core::{CustomerNumber, ErrorCode};
use enlace_hub_client::api::whatsapp::{
    Conversation, Message, MessageTemplate, SendMessageRequest, StartConversationRequest,
};
use enlace_hub_client::api::{EventEnvelope, HubEvent};
use enlace_hub_client::{AgentStateKind, HubEvent as StreamItem};
use enlace_store::{ChatConversationFacts, ChatError, ChatPage as StoredPage, ChatState};
use enlace_telephony::{CallIdSource, RandomCallIds};
use tokio::sync::Notify;

use crate::crm::ChatLogRequest;
use crate::error::AppError;
use crate::feed::{FeedConsumer, Stored};
use crate::{lock, App, DomainEvent, Host, Shared};
use enlace_crm::{format_transcript, TranscriptLine};

pub use enlace_hub_client::api::whatsapp::{BusinessNumber, CannedResponse, OutgoingMessage};
pub use enlace_store::{
    ChatComment, ChatConversation as InboxConversation, ChatError as ChatMessageError,
    ChatFilter as InboxFilter, ChatMessage, ChatState as InboxConversationState, ChatStatus,
};

/// At most one notification per conversation in this time.
pub const NOTIFY_EVERY_MS: i64 = 5_000;
/// How far this computer's clock may run ahead of the hub's: a reply read now counts as
/// facts from this much earlier, so a live event of the same moment is not taken as older.
const CLOCK_SKEW_MS: i64 = 10_000;
/// Events older than this (missed during a long disconnection) notify nothing.
pub const NOTIFY_RECENT_MS: i64 = 120_000;
/// Largest file downloaded from the hub.
pub const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;
/// The media folder is trimmed (oldest first) above this.
pub const MEDIA_CACHE_BYTES: u64 = 1024 * 1024 * 1024;
/// Back-off of the sender while the hub cannot take messages.
const SEND_RETRY_MIN: Duration = Duration::from_millis(250);
const SEND_RETRY_MAX: Duration = Duration::from_secs(10);
/// Longest client id the hub accepts.
const MAX_CLIENT_ID: usize = 128;
/// Shortest search also asked of the hub (attended chats not cached here).
const MIN_HUB_SEARCH: usize = 3;
/// Longest text message WhatsApp accepts.
const MAX_TEXT_CHARS: usize = 4096;

/// The badge, the tray and the panel's connection line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboxCounts {
    /// Open conversations assigned to this agent.
    pub waiting: u32,
    /// Of those, how many have unread customer messages.
    pub unread: u32,
    /// Messages typed here that wait for the hub.
    pub pending_sends: u32,
    /// The hub's stream is up.
    pub online: bool,
    /// Signed in to a hub (that did not say it has no WhatsApp).
    pub available: bool,
}

/// A page of a timeline, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    pub messages: Vec<ChatMessage>,
    /// The comments within the page's span.
    pub comments: Vec<ChatComment>,
    /// Pass as `before` for older messages; `None` at the start of the conversation.
    pub next_before: Option<i64>,
    /// From this computer's cache because the hub could not be asked.
    pub offline: bool,
}

/// An approved template, ready to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    pub name: String,
    pub language: String,
    pub category: String,
    pub header: Option<String>,
    /// The body with its `{{1}}`, `{{2}}` … placeholders.
    pub body: String,
    pub footer: Option<String>,
    /// How many body parameters it takes (the highest `{{n}}`).
    pub parameter_count: u32,
}

/// A chat left open at Salida.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitChat {
    pub id: i64,
    pub customer: String,
    pub customer_name: Option<String>,
    pub unread: u32,
}

impl ExitChat {
    pub(crate) fn of(c: &InboxConversation) -> ExitChat {
        ExitChat {
            id: c.id,
            customer: c.customer.clone(),
            customer_name: c.customer_name.clone(),
            unread: c.unread,
        }
    }
}

/// The inbox's state in memory (one lock, never held across an await).
#[derive(Debug, Default)]
pub(crate) struct InboxLive {
    /// The chat on screen.
    viewing: Option<i64>,
    /// When each conversation last notified (app clock, ms).
    notified: HashMap<i64, i64>,
    /// The business numbers' display forms by `phone_number_id`.
    numbers: HashMap<String, String>,
    /// The hub said it has no WhatsApp.
    not_configured: bool,
    /// The counts last emitted.
    counts: Option<InboxCounts>,
    /// When the hub session opened (app clock, ms): older events do not notify.
    session_opened_at: i64,
}

/// What the app keeps for the inbox (see [`Shared`]).
pub(crate) struct InboxSide {
    pub(crate) live: Mutex<InboxLive>,
    /// Wakes the sender task (something queued, the stream came back, a session opened).
    pub(crate) wake: Arc<Notify>,
    client_ids: RandomCallIds,
    /// Downloads under way, by media file stem: a second ask for the same file (the player
    /// and the waveform of one voice note ask together) waits for the first instead of
    /// downloading it again into the same folder.
    downloads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl InboxSide {
    pub(crate) fn new() -> InboxSide {
        InboxSide {
            live: Mutex::new(InboxLive::default()),
            wake: Arc::new(Notify::new()),
            client_ids: RandomCallIds::default(),
            downloads: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for `stem`'s turn to download: the ask holding the turn downloads, the others
    /// wait and then find the file in the cache.
    async fn download_turn(&self, stem: &str) -> DownloadTurn<'_> {
        let lock = Arc::clone(lock(&self.downloads).entry(stem.to_owned()).or_default());
        let guard = Arc::clone(&lock).lock_owned().await;
        DownloadTurn {
            side: self,
            stem: stem.to_owned(),
            lock,
            _guard: guard,
        }
    }
}

/// One ask's turn at a media download; forgets the file's lock when nobody else waits for it
/// (also when the ask is dropped half-way).
struct DownloadTurn<'a> {
    side: &'a InboxSide,
    stem: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for DownloadTurn<'_> {
    fn drop(&mut self) {
        let mut downloads = lock(&self.side.downloads);
        // The map's reference, `lock` and the guard's: any more is another ask waiting.
        if Arc::strong_count(&self.lock) <= 3 {
            downloads.remove(&self.stem);
        }
    }
}

/// What one turn of the sender did.
enum SendStep {
    /// A message was handed over (or refused for good): look for the next one at once.
    Done,
    /// Nothing to send, or no session: wait to be woken.
    Idle,
    /// The hub could not take it now: wait (back-off) and try again.
    Retry,
}

/// Runs the sender until the app is gone.
pub(crate) fn start_sender<H: Host>(shared: &Arc<Shared<H>>) {
    let weak: Weak<Shared<H>> = Arc::downgrade(shared);
    let wake = Arc::clone(&shared.inbox.wake);
    tokio::spawn(async move {
        let mut backoff = SEND_RETRY_MIN;
        loop {
            let step = match weak.upgrade() {
                Some(shared) => App { shared }.send_next().await,
                None => return,
            };
            match step {
                SendStep::Done => backoff = SEND_RETRY_MIN,
                SendStep::Idle => wake.notified().await,
                SendStep::Retry => {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = wake.notified() => {}
                    }
                    backoff = (backoff * 2).min(SEND_RETRY_MAX);
                }
            }
        }
    });
}

/// Whether a hub failure is passing (try again later) rather than a refusal.
fn is_passing(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HubUnreachable
            | ErrorCode::HubBadReply
            | ErrorCode::Throttled
            | ErrorCode::WhatsappUnavailable
            | ErrorCode::SessionExpired
            | ErrorCode::Storage
            | ErrorCode::Internal
    )
}

/// The hub could not be asked (or no session is open): answer from the cache.
pub(crate) fn is_offline(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HubUnreachable | ErrorCode::HubBadReply | ErrorCode::SessionExpired
    )
}

/// A hub message as the cache keeps it.
pub(crate) fn chat_message(m: &Message) -> ChatMessage {
    let outgoing = m.direction == "out";
    let status = ChatStatus::parse(&m.status).unwrap_or(if outgoing {
        ChatStatus::Queued
    } else {
        ChatStatus::Received
    });
    let reply_to = m
        .content
        .get("context")
        .and_then(|c| c.get("id"))
        .and_then(|id| id.as_str())
        .map(str::to_owned);
    ChatMessage {
        seq: m.id,
        hub_id: Some(m.id),
        client_id: m.client_id.clone(),
        conversation_id: m.conversation_id,
        wamid: m.wamid.clone(),
        outgoing,
        kind: m.kind.clone(),
        text: m.text.clone(),
        content: m.content.to_string(),
        media_id: m.media_id.clone(),
        reply_to,
        status,
        error: m.error.as_ref().map(|e| ChatError {
            code: e.code,
            kind: e.kind.clone(),
            title: e.title.clone(),
            details: e.details.clone(),
        }),
        agent_id: m.agent_id,
        at: m.at,
    }
}

/// The text shown for an outgoing message before the hub has it.
fn outgoing_text(message: &OutgoingMessage) -> Option<String> {
    match message {
        OutgoingMessage::Text { body, .. } => Some(body.clone()),
        OutgoingMessage::Template { name, .. } => Some(name.clone()),
        OutgoingMessage::Media { caption, .. } => caption.clone(),
        OutgoingMessage::Location { name, address, .. } => name.clone().or_else(|| address.clone()),
        OutgoingMessage::Reaction { emoji, .. } => emoji.clone(),
    }
}

/// Checks a message before it is kept.
/// The client id of a message typed here, trimmed: 1 to 128 printable characters.
pub(crate) fn check_client_id(client_id: &str) -> Result<&str, AppError> {
    let id = client_id.trim();
    if id.is_empty() || id.len() > MAX_CLIENT_ID || id.chars().any(char::is_control) {
        return Err(AppError::Hub(
            "clientId must be 1 to 128 printable characters".into(),
            ErrorCode::InvalidRequest,
            None,
        ));
    }
    Ok(id)
}

fn check_outgoing(client_id: &str, message: &OutgoingMessage) -> Result<(), AppError> {
    let invalid = |why: &str| AppError::Hub(why.to_owned(), ErrorCode::InvalidRequest, None);
    check_client_id(client_id)?;
    match message {
        OutgoingMessage::Text { body, .. } => {
            if body.trim().is_empty() {
                return Err(invalid("the message is empty"));
            }
            if body.chars().count() > MAX_TEXT_CHARS {
                return Err(AppError::Hub(
                    "a WhatsApp text has at most 4096 characters".into(),
                    ErrorCode::TooLong,
                    None,
                ));
            }
        }
        OutgoingMessage::Template { name, language, .. } => {
            if name.trim().is_empty() || language.trim().is_empty() {
                return Err(invalid("a template needs its name and language"));
            }
        }
        OutgoingMessage::Reaction { message_id, .. } => {
            if message_id.trim().is_empty() {
                return Err(invalid("a reaction needs the message it reacts to"));
            }
        }
        OutgoingMessage::Location {
            latitude,
            longitude,
            name,
            address,
        } => crate::outgoing::check_location(
            *latitude,
            *longitude,
            name.as_deref(),
            address.as_deref(),
        )?,
        OutgoingMessage::Media { .. } => {}
    }
    Ok(())
}

/// A template's header, body and footer texts from Meta's `components`, and how many body
/// parameters (`{{n}}`) it takes.
pub fn parse_template(t: &MessageTemplate) -> ChatTemplate {
    let mut header = None;
    let mut body = String::new();
    let mut footer = None;
    if let Some(components) = t.components.as_array() {
        for c in components {
            let kind = c.get("type").and_then(|v| v.as_str()).unwrap_or("");
            let text = c.get("text").and_then(|v| v.as_str()).map(str::to_owned);
            match kind.to_ascii_uppercase().as_str() {
                "HEADER" => header = text.or(header),
                "BODY" => body = text.unwrap_or(body),
                "FOOTER" => footer = text.or(footer),
                _ => {}
            }
        }
    }
    ChatTemplate {
        name: t.name.clone(),
        language: t.language.clone(),
        category: t.category.clone(),
        header,
        parameter_count: highest_placeholder(&body),
        body,
        footer,
    }
}

/// The highest `{{n}}` in `text` (0 when none).
fn highest_placeholder(text: &str) -> u32 {
    let mut highest = 0;
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                if let Ok(n) = after[..end].trim().parse::<u32>() {
                    highest = highest.max(n.min(100));
                }
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    highest
}

/// A hub media id as a file name: letters, digits, `.`, `_`, `-`, not starting with a dot,
/// at most 128 characters. `None` for anything else (never a path).
pub(crate) fn media_file_stem(media_id: &str) -> Option<&str> {
    let ok = !media_id.is_empty()
        && media_id.len() <= 128
        && !media_id.starts_with('.')
        && media_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then_some(media_id)
}

/// A downloaded file's name: the hub's (path separators and control characters dropped),
/// else `file` with the extension of its type.
fn media_file_name(filename: Option<&str>, mime_type: &str) -> String {
    let cleaned: Option<String> = filename.map(|f| {
        f.chars()
            .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | ':'))
            .take(120)
            .collect::<String>()
            .trim_start_matches('.')
            .trim()
            .to_owned()
    });
    if let Some(name) = cleaned.filter(|n| !n.is_empty()) {
        return name;
    }
    let base = mime_type.split(';').next().unwrap_or("").trim();
    let ext = match base {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "audio/amr" => "amr",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/msword" => "doc",
        "application/vnd.ms-excel" => "xls",
        _ => "bin",
    };
    format!("file.{ext}")
}

/// The first file in `dir`, if any.
fn cached_media(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_file() && p.extension().is_none_or(|e| e != "part"))
}

/// Removes the oldest downloads until the folder holds at most `cap` bytes.
fn trim_media(root: &Path, cap: u64) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut dirs: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(file) = cached_media(&path) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let when = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        dirs.push((when, meta.len(), path));
    }
    let mut total: u64 = dirs.iter().map(|d| d.1).sum();
    dirs.sort();
    for (_, size, dir) in dirs {
        if total <= cap {
            break;
        }
        if std::fs::remove_dir_all(&dir).is_ok() {
            total = total.saturating_sub(size);
        }
    }
}

impl<H: Host> App<H> {
    // ---- reading ----

    /// The panel: conversations of `filter` from the cache, latest activity first; a
    /// non-empty `search` (number or name) also finds attended ones.
    pub async fn inbox_conversations(
        &self,
        filter: InboxFilter,
        search: &str,
    ) -> Result<Vec<InboxConversation>, AppError> {
        let search = search.trim().to_owned();
        if search.chars().count() >= MIN_HUB_SEARCH {
            // Attended chats this computer never cached: asked in the background, they
            // arrive as `InboxConversation` events (and in the next search).
            let (app, query) = (self.clone(), search.clone());
            tokio::spawn(async move { app.search_hub(query).await });
        }
        self.with_store(move |s| s.chat_conversations(filter, &search))
            .await
    }

    /// Conversations the hub finds for `search` (any state) into the cache.
    async fn search_hub(&self, search: String) {
        let asked_at = self.rest_facts_at();
        let found = match self
            .with_hub(move |c, t| c.conversations(t, Some(&search)))
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(code = %e.code(), "inbox: the hub search failed");
                return;
            }
        };
        let facts: Vec<ChatConversationFacts> =
            found.iter().map(|c| self.facts_of(c, asked_at)).collect();
        let stored = self
            .with_store(move |s| {
                let mut new = Vec::new();
                for f in &facts {
                    let known = s.chat_conversation(f.id)?.is_some();
                    s.upsert_chat_conversation(f)?;
                    if !known {
                        new.extend(s.chat_conversation(f.id)?);
                    }
                }
                Ok(new)
            })
            .await;
        match stored {
            Ok(new) => {
                for c in new {
                    self.shared.host.emit(DomainEvent::InboxConversation(c));
                }
            }
            Err(e) => tracing::warn!(code = %e.code(), "inbox: could not keep search results"),
        }
    }

    /// The badge and the tray.
    pub async fn inbox_counts(&self) -> Result<InboxCounts, AppError> {
        let counts = self.with_store(|s| s.chat_counts()).await?;
        let session = lock(&self.shared.hub).is_some();
        let not_configured = lock(&self.shared.inbox.live).not_configured;
        Ok(InboxCounts {
            waiting: counts.waiting,
            unread: counts.unread,
            pending_sends: counts.pending_sends,
            online: session && matches!(self.line_status(), enlace_telephony::LineStatus::Online),
            available: session && !not_configured,
        })
    }

    /// Emits [`DomainEvent::InboxCounts`] when the counts changed since the last time.
    pub(crate) async fn emit_inbox_counts(&self) {
        let counts = match self.inbox_counts().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(code = %e.code(), "inbox: could not count");
                return;
            }
        };
        let changed = {
            let mut live = lock(&self.shared.inbox.live);
            let changed = live.counts != Some(counts);
            live.counts = Some(counts);
            changed
        };
        if changed {
            self.shared.host.emit(DomainEvent::InboxCounts(counts));
        }
    }

    /// A page of a conversation's timeline, oldest first (the newest page when `before` is
    /// `None`). From the cache when it holds the page whole; otherwise the hub's page is
    /// stored and returned; when the hub cannot be asked, the cache's with `offline`.
    pub async fn inbox_timeline(
        &self,
        conversation: i64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<ChatPage, AppError> {
        let limit = limit.clamp(1, enlace_store::MAX_CHAT_PAGE);
        let (cached, followed) = self
            .with_store(move |s| {
                // Another agent's conversation: its messages do not reach this agent's
                // stream, so the cache may lack the newest ones whatever it held before.
                let followed = s
                    .chat_conversation(conversation)?
                    .is_some_and(|c| c.mine || c.agent_id.is_none());
                Ok((s.chat_page(conversation, before, limit)?, followed))
            })
            .await?;
        if cached.complete && followed {
            return Ok(page(cached, false));
        }
        let hub_before = before.filter(|b| *b < (1 << 53));
        let fetch_comments = before.is_none();
        let fetched = self
            .with_hub(move |c, t| {
                let page = c.messages(t, conversation, hub_before, limit as u32)?;
                let comments = if fetch_comments {
                    Some(c.comments(t, conversation)?)
                } else {
                    None
                };
                Ok((page, comments))
            })
            .await;
        let (hub_page, comments) = match fetched {
            Ok(v) => v,
            Err(e) if is_offline(e.code()) => return Ok(page(cached, true)),
            Err(e) => return Err(e),
        };
        let my_name = self.hub_session().ok().map(|s| (s.agent.id, s.agent.name));
        let messages: Vec<ChatMessage> = hub_page.messages.iter().map(chat_message).collect();
        let oldest = messages.iter().filter_map(|m| m.hub_id).min();
        let at_start = hub_page.next_before.is_none();
        let page_now = self
            .with_store(move |s| {
                s.upsert_chat_messages(&messages)?;
                for c in comments.unwrap_or_default() {
                    s.upsert_chat_comment(&comment_of(&c, my_name.as_ref()))?;
                }
                s.chat_page_synced(conversation, hub_before, oldest, at_start)?;
                s.chat_page(conversation, before, limit)
            })
            .await?;
        Ok(page(page_now, false))
    }

    /// The chat on screen (`None`: none): its unread count is cleared here and at the hub,
    /// and it does not notify while it stays on screen.
    pub async fn inbox_viewing(&self, conversation: Option<i64>) -> Result<(), AppError> {
        lock(&self.shared.inbox.live).viewing = conversation;
        if let Some(id) = conversation {
            self.mark_read(id).await;
        }
        Ok(())
    }

    /// Clears the unread count here and (in the background) at the hub.
    async fn mark_read(&self, id: i64) {
        let changed = self
            .with_store(move |s| {
                let before = s.chat_conversation(id)?;
                s.set_chat_unread(id, 0)?;
                Ok(before
                    .filter(|c| c.unread > 0)
                    .and_then(|_| s.chat_conversation(id).ok().flatten()))
            })
            .await;
        if let Ok(Some(conversation)) = changed {
            self.shared
                .host
                .emit(DomainEvent::InboxConversation(conversation));
            self.emit_inbox_counts().await;
        }
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.with_hub(move |c, t| c.mark_read(t, id)).await {
                tracing::debug!(code = %e.code(), "inbox: the hub did not mark the chat read");
            }
        });
    }

    // ---- sending ----

    /// Checks that a message typed here can go to `conversation` (cached; `needs_window`:
    /// only a template may go when the 24-hour window is closed, past its end or the customer
    /// never wrote). A repeat of a `client_id` already queued (a double click, a retried
    /// command; checked by the caller) answers that message as it stands.
    pub(crate) async fn check_send(
        &self,
        conversation: i64,
        client_id: &str,
        needs_window: bool,
    ) -> Result<Option<ChatMessage>, AppError> {
        let key = format!("c:{}", client_id.trim());
        let (cached, known) = self
            .with_store(move |s| {
                Ok((
                    s.chat_conversation(conversation)?,
                    s.chat_message_by_key(conversation, &key)?,
                ))
            })
            .await?;
        if let Some(known) = known {
            return Ok(Some(known));
        }
        let cached = cached.ok_or_else(|| {
            AppError::Hub(
                format!("no conversation {conversation}"),
                ErrorCode::NotFound,
                None,
            )
        })?;
        if needs_window && !cached.window_open {
            return Err(AppError::Hub(
                "the 24-hour window is closed: send a template".into(),
                ErrorCode::WindowClosed,
                None,
            ));
        }
        Ok(None)
    }

    /// Queues a message: kept here first (shown `pending`), then handed to the hub in order
    /// with `client_id` (a repeat of the same id answers the first message). Free text once
    /// the conversation's window closed is refused with `window_closed`.
    pub async fn inbox_send(
        &self,
        conversation: i64,
        client_id: &str,
        message: OutgoingMessage,
    ) -> Result<ChatMessage, AppError> {
        check_outgoing(client_id, &message)?;
        if let Some(known) = self
            .check_send(conversation, client_id, !message.is_template())
            .await?
        {
            return Ok(known);
        }
        let agent_id = self.hub_session().ok().map(|s| s.agent.id);
        let json = serde_json::to_string(&message)
            .map_err(|e| AppError::Internal(format!("encode a message: {e}")))?;
        let pending = ChatMessage {
            seq: 0,
            hub_id: None,
            client_id: Some(client_id.trim().to_owned()),
            conversation_id: conversation,
            wamid: None,
            outgoing: true,
            kind: message.type_name().to_owned(),
            text: outgoing_text(&message),
            content: json.clone(),
            media_id: match &message {
                OutgoingMessage::Media { media_id, .. } => Some(media_id.clone()),
                _ => None,
            },
            reply_to: None,
            status: ChatStatus::Pending,
            error: None,
            agent_id,
            at: self.shared.clock.now().millis(),
        };
        let stored = self
            .with_store(move |s| s.queue_chat_send(&pending, &json))
            .await?;
        if let OutgoingMessage::Location {
            latitude,
            longitude,
            ..
        } = message
        {
            self.remember_position(latitude, longitude).await;
        }
        self.emit_message(stored.clone()).await;
        self.emit_inbox_counts().await;
        self.shared.inbox.wake.notify_one();
        Ok(stored)
    }

    /// Sends a failed message again: its content as a new message with a new client id.
    pub async fn inbox_retry(&self, conversation: i64, key: &str) -> Result<ChatMessage, AppError> {
        let key_owned = key.to_owned();
        let failed = self
            .with_store(move |s| s.chat_message_by_key(conversation, &key_owned))
            .await?
            .filter(|m| m.outgoing && m.status == ChatStatus::Failed)
            .ok_or_else(|| {
                AppError::Hub(
                    "no failed message with that key".into(),
                    ErrorCode::NotFound,
                    None,
                )
            })?;
        let client_id = format!("retry-{}", self.shared.inbox.client_ids.next_id());
        // A file the hub never took: queued again with the same file (uploaded again).
        if let Some((message, path)) = crate::outgoing::staged_retry(&failed.content) {
            return self
                .queue_file_message(
                    conversation,
                    &client_id,
                    message,
                    failed.content.clone(),
                    failed.text.clone(),
                    &path,
                )
                .await;
        }
        let message: OutgoingMessage = serde_json::from_str(&failed.content).map_err(|_| {
            AppError::Hub(
                "this message cannot be sent again from here".into(),
                ErrorCode::InvalidRequest,
                None,
            )
        })?;
        self.inbox_send(conversation, &client_id, message).await
    }

    /// One turn of the sender: hand the oldest waiting message to the hub.
    async fn send_next(&self) -> SendStep {
        if self.hub_session().is_err() {
            return SendStep::Idle;
        }
        let next = match self.with_store(|s| s.next_chat_send()).await {
            Ok(Some(next)) => next,
            Ok(None) => return SendStep::Idle,
            Err(e) => {
                tracing::warn!(code = %e.code(), "inbox: could not read the send queue");
                return SendStep::Retry;
            }
        };
        let client_id = next.client_id.clone();
        let message: OutgoingMessage = match serde_json::from_str(&next.message) {
            Ok(m) => m,
            Err(e) => {
                let error = ChatError {
                    kind: Some(ErrorCode::InvalidRequest.as_str().to_owned()),
                    details: Some(format!("unreadable queued message: {e}")),
                    ..ChatError::default()
                };
                self.refuse_send(&client_id, error).await;
                return SendStep::Done;
            }
        };
        let conversation = next.conversation_id;
        // A file goes to the hub first (once: its id is kept in the queue).
        let sent = match self.upload_queued(&next, message).await {
            Ok(message) => {
                let request = SendMessageRequest {
                    client_id: client_id.clone(),
                    message,
                };
                self.with_hub(move |c, t| c.send_message(t, conversation, &request))
                    .await
            }
            Err(e) => Err(e),
        };
        match sent {
            Ok(reply) => {
                let accepted = chat_message(&reply);
                let id = client_id.clone();
                let hub_media = accepted.media_id.clone();
                match self
                    .with_store(move |s| s.chat_send_accepted(&id, &accepted))
                    .await
                {
                    Ok(stored) => {
                        if let Some(path) = &next.staged_path {
                            self.keep_sent_file(path, hub_media).await;
                        }
                        self.emit_message(stored).await;
                        self.emit_inbox_counts().await;
                        SendStep::Done
                    }
                    Err(e) => {
                        tracing::warn!(code = %e.code(), "inbox: could not store a send's reply");
                        SendStep::Retry
                    }
                }
            }
            Err(e) if is_passing(e.code()) => {
                let (id, reason) = (client_id, e.code().as_str().to_owned());
                if let Err(e) = self
                    .with_store(move |s| s.chat_send_attempt_failed(&id, &reason))
                    .await
                {
                    tracing::warn!(code = %e.code(), "inbox: could not note a send attempt");
                }
                if e.code() == ErrorCode::SessionExpired && self.hub_session().is_err() {
                    return SendStep::Idle;
                }
                SendStep::Retry
            }
            Err(e) => {
                // The class the hub gives a message WhatsApp refused for the same reason.
                let kind = match e.code() {
                    ErrorCode::WindowClosed => "whatsapp_window_closed",
                    code => code.as_str(),
                };
                let error = ChatError {
                    kind: Some(kind.to_owned()),
                    details: Some(e.to_string()),
                    ..ChatError::default()
                };
                self.refuse_send(&client_id, error).await;
                SendStep::Done
            }
        }
    }

    async fn refuse_send(&self, client_id: &str, error: ChatError) {
        let id = client_id.to_owned();
        match self
            .with_store(move |s| s.chat_send_refused(&id, &error))
            .await
        {
            Ok(Some(stored)) => self.emit_message(stored).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(code = %e.code(), "inbox: could not store a refusal"),
        }
        self.emit_inbox_counts().await;
    }

    /// Emits a message with its conversation as cached.
    pub(crate) async fn emit_message(&self, message: ChatMessage) {
        let id = message.conversation_id;
        match self.with_store(move |s| s.chat_conversation(id)).await {
            Ok(Some(conversation)) => {
                self.shared.host.emit(DomainEvent::InboxMessage {
                    conversation: conversation.clone(),
                    message,
                });
                self.shared
                    .host
                    .emit(DomainEvent::InboxConversation(conversation));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(code = %e.code(), "inbox: could not read a conversation"),
        }
    }

    // ---- conversation actions ----

    /// An internal comment (never sent to the customer).
    pub async fn inbox_comment(
        &self,
        conversation: i64,
        body: &str,
    ) -> Result<ChatComment, AppError> {
        let text = body.trim().to_owned();
        if text.is_empty() || text.chars().count() > 4096 {
            return Err(AppError::Hub(
                "a comment has 1 to 4096 characters".into(),
                ErrorCode::InvalidRequest,
                None,
            ));
        }
        let added = self
            .with_hub(move |c, t| c.add_comment(t, conversation, &text))
            .await?;
        let me = self.hub_session().ok().map(|s| (s.agent.id, s.agent.name));
        let comment = comment_of(&added, me.as_ref());
        let stored = comment.clone();
        self.with_store(move |s| s.upsert_chat_comment(&stored))
            .await?;
        self.shared
            .host
            .emit(DomainEvent::InboxComment(comment.clone()));
        Ok(comment)
    }

    /// Marcar atendido; when the setting is on, the transcript goes to the CRM's outbox.
    pub async fn inbox_attended(&self, conversation: i64) -> Result<InboxConversation, AppError> {
        let updated = self
            .with_hub(move |c, t| c.mark_attended(t, conversation))
            .await?;
        let stored = self.store_conversation(&updated, None).await?;
        self.log_chat_to_crm(&stored).await;
        Ok(stored)
    }

    /// Takes an unassigned conversation of the agent's queues.
    pub async fn inbox_take(&self, conversation: i64) -> Result<InboxConversation, AppError> {
        let updated = self.with_hub(move |c, t| c.take(t, conversation)).await?;
        self.store_conversation(&updated, None).await
    }

    /// Hands the conversation back to its queue.
    pub async fn inbox_release(&self, conversation: i64) -> Result<InboxConversation, AppError> {
        let updated = self
            .with_hub(move |c, t| c.release(t, conversation))
            .await?;
        self.store_conversation(&updated, None).await
    }

    /// Salida: hands every open chat assigned to the agent back to its queue. Returns the
    /// conversations handed back; the first failure stops it.
    pub async fn inbox_release_all_mine(&self) -> Result<Vec<InboxConversation>, AppError> {
        let mine = self.with_store(|s| s.my_open_chats()).await?;
        let mut released = Vec::with_capacity(mine.len());
        for c in mine {
            released.push(self.inbox_release(c.id).await?);
        }
        Ok(released)
    }

    /// The approved templates, with their texts and parameter counts.
    pub async fn inbox_templates(&self) -> Result<Vec<ChatTemplate>, AppError> {
        let list = self.with_hub(|c, t| c.templates(t, false)).await?;
        Ok(list
            .iter()
            .filter(|t| t.status.eq_ignore_ascii_case("APPROVED"))
            .map(parse_template)
            .collect())
    }

    pub async fn inbox_canned_responses(&self) -> Result<Vec<CannedResponse>, AppError> {
        self.with_hub(|c, t| c.canned_responses(t)).await
    }

    /// The organization's WhatsApp numbers (the composer's "Número").
    pub async fn inbox_numbers(&self) -> Result<Vec<BusinessNumber>, AppError> {
        let numbers = self.with_hub(|c, t| c.whatsapp_numbers(t)).await;
        match &numbers {
            Ok(list) => {
                let mut live = lock(&self.shared.inbox.live);
                // A hub without WhatsApp lists no numbers.
                live.not_configured = list.is_empty();
                live.numbers = list
                    .iter()
                    .map(|n| (n.phone_number_id.clone(), n.display_number.clone()))
                    .collect();
            }
            Err(e) if e.code() == ErrorCode::WhatsappNotConfigured => {
                lock(&self.shared.inbox.live).not_configured = true;
            }
            Err(_) => {}
        }
        numbers
    }

    /// WhatsApp from a call card: starts (or continues) the conversation of `business_number`
    /// with `customer_number` (read with the agent's country) and queues `message` at the hub.
    pub async fn inbox_start(
        &self,
        business_number: &str,
        customer_number: &str,
        client_id: &str,
        message: OutgoingMessage,
    ) -> Result<InboxConversation, AppError> {
        check_outgoing(client_id, &message)?;
        let customer = CustomerNumber::parse(customer_number, self.settings().default_country)?;
        let request = StartConversationRequest {
            business_number: business_number.trim().to_owned(),
            customer_number: customer.e164().trim_start_matches('+').to_owned(),
            client_id: client_id.trim().to_owned(),
            message,
        };
        let started = self
            .with_hub(move |c, t| c.start_conversation(t, &request))
            .await?;
        let conversation = self.store_conversation(&started.conversation, None).await?;
        let message = chat_message(&started.message);
        let stored = self
            .with_store(move |s| s.upsert_chat_message(&message))
            .await?;
        self.emit_message(stored).await;
        let id = conversation.id;
        Ok(self
            .with_store(move |s| s.chat_conversation(id))
            .await?
            .unwrap_or(conversation))
    }

    /// The file of hub media `media_id` on this computer, downloaded once into the media
    /// cache (at most [`MAX_MEDIA_BYTES`]). The id must be a plain name.
    pub async fn inbox_media_path(&self, media_id: &str) -> Result<PathBuf, AppError> {
        let stem = media_file_stem(media_id).ok_or_else(|| {
            AppError::Hub("not a media id".into(), ErrorCode::InvalidRequest, None)
        })?;
        let root = self.media_dir().await?;
        let dir = root.join(stem);
        if let Some(found) = cached_media(&dir) {
            return Ok(found);
        }
        let _turn = self.shared.inbox.download_turn(stem).await;
        match cached_media(&dir) {
            // Another ask downloaded it while this one waited.
            Some(found) => Ok(found),
            None => self.download_media(stem, root, dir).await,
        }
    }

    /// Downloads `stem` from the hub into `dir` (one ask at a time per file: see
    /// [`InboxSide::download_turn`]).
    async fn download_media(
        &self,
        stem: &str,
        root: PathBuf,
        dir: PathBuf,
    ) -> Result<PathBuf, AppError> {
        let id = stem.to_owned();
        let file = self
            .with_hub(move |c, t| c.download_media(t, &id, MAX_MEDIA_BYTES))
            .await?;
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
            std::fs::create_dir_all(&dir)?;
            let name = media_file_name(file.filename.as_deref(), &file.mime_type);
            let target = dir.join(name);
            let part = dir.join("download.part");
            std::fs::write(&part, &file.bytes)?;
            std::fs::rename(&part, &target)?;
            trim_media(&root, MEDIA_CACHE_BYTES);
            Ok(target)
        })
        .await
        .map_err(|e| AppError::Internal(format!("media task: {e}")))?;
        written.map_err(|e| {
            AppError::Store(format!("could not keep the file: {e}"), ErrorCode::Storage)
        })
    }

    /// `media/` beside the database (a temporary folder for a database in memory).
    pub(crate) async fn media_dir(&self) -> Result<PathBuf, AppError> {
        let db = self.with_store(|s| Ok(s.path())).await?;
        Ok(match db.as_deref().and_then(Path::parent) {
            Some(dir) => dir.join("media"),
            None => std::env::temp_dir().join(format!("enlace-media-{}", std::process::id())),
        })
    }

    // ---- CRM and notifications (settings owned elsewhere) ----

    /// The transcript of an attended conversation to the CRM's outbox, when the agent turned
    /// that on (`chat_log_to_crm`). Failures are logged: the chat is attended either way.
    async fn log_chat_to_crm(&self, conversation: &InboxConversation) {
        if !self.settings().chat_log_to_crm {
            return;
        }
        let id = conversation.id;
        // The newest page, complete from the hub when the cache lacks part of it.
        let messages = match self
            .inbox_timeline(id, None, enlace_store::MAX_CHAT_PAGE)
            .await
        {
            Ok(page) => page.messages,
            Err(e) => {
                tracing::warn!(code = %e.code(), "inbox: no transcript for the CRM");
                return;
            }
        };
        let lines: Vec<TranscriptLine> = messages
            .iter()
            .filter(|m| m.kind != "reaction" && m.status != ChatStatus::Pending)
            .map(|m| TranscriptLine {
                at: m.at,
                from_customer: !m.outgoing,
                text: m.text.clone().unwrap_or_else(|| format!("[{}]", m.kind)),
            })
            .collect();
        let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
            return;
        };
        let request = ChatLogRequest {
            conversation_id: id,
            customer: conversation.customer.clone(),
            customer_name: conversation.customer_name.clone(),
            business_number: if conversation.business_number.is_empty() {
                conversation.phone_number_id.clone()
            } else {
                conversation.business_number.clone()
            },
            started_at: first.at,
            ended_at: last.at,
            transcript: format_transcript(&lines, 0),
        };
        if let Err(e) = self.queue_chat_log(request).await {
            tracing::warn!(code = %e.code(), "inbox: the chat could not be queued for the CRM");
        }
    }

    /// Whether chats notify while the agent is paused (`chat_notify_while_paused`).
    fn notify_while_paused(&self) -> bool {
        self.settings().chat_notify_while_paused
    }

    // ---- the stream ----

    /// A hub conversation into the cache, then emitted with the counts.
    /// `facts_at`: the stream event's time; `None` for the hub's reply to this agent's own
    /// action (attended, take, release, start): the hub did it after every event this desktop
    /// has stored, so the reply is newer than all of them, whatever the two clocks say.
    pub(crate) async fn store_conversation(
        &self,
        c: &Conversation,
        facts_at: Option<i64>,
    ) -> Result<InboxConversation, AppError> {
        let reply = facts_at.is_none();
        let mut facts = self.facts_of(c, facts_at.unwrap_or_else(|| self.rest_facts_at()));
        let last = c.last_message.as_ref().map(chat_message);
        let id = c.id;
        let stored = self
            .with_store(move |s| {
                if reply {
                    if let Some(seen) = s.chat_facts_at(id)? {
                        facts.facts_at = facts.facts_at.max(seen.saturating_add(1));
                    }
                }
                s.upsert_chat_conversation(&facts)?;
                if let Some(m) = last {
                    s.upsert_chat_message(&m)?;
                }
                s.chat_conversation(id)
            })
            .await?
            .ok_or_else(|| AppError::Internal("a stored conversation is gone".into()))?;
        self.shared
            .host
            .emit(DomainEvent::InboxConversation(stored.clone()));
        self.emit_inbox_counts().await;
        Ok(stored)
    }

    /// When a reply the hub gave just now was true, on the hub's clock as far as this one
    /// can tell (a few seconds back, for clocks that disagree a little).
    fn rest_facts_at(&self) -> i64 {
        self.shared.clock.now().millis() - CLOCK_SKEW_MS
    }

    fn facts_of(&self, c: &Conversation, facts_at: i64) -> ChatConversationFacts {
        let me = self.hub_session().ok().map(|s| s.agent);
        let mine = me.as_ref().is_some_and(|a| c.agent_id == Some(a.id));
        let business_number = lock(&self.shared.inbox.live)
            .numbers
            .get(&c.phone_number_id)
            .cloned()
            .unwrap_or_default();
        ChatConversationFacts {
            id: c.id,
            phone_number_id: c.phone_number_id.clone(),
            business_number,
            wa_id: c.wa_id.clone(),
            profile_name: c.profile_name.clone(),
            queue: c.queue.clone(),
            state: ChatState::parse(&c.state),
            agent_id: c.agent_id,
            agent_name: c
                .agent_name
                .clone()
                .or_else(|| mine.then(|| me.map(|a| a.name)).flatten()),
            mine,
            unread: u32::try_from(c.unread.max(0)).unwrap_or(u32::MAX),
            last_message_at: c.last_message_at,
            window_ends_at: c.window_ends_at,
            facts_at,
        }
    }

    /// A new session (login, or resume): another agent's or hub's cache is dropped, and a
    /// session that does not resume the stream cannot trust cached timelines to be whole.
    pub(crate) async fn inbox_session_opened(&self, fresh: bool) {
        let Ok(session) = self.hub_session() else {
            return;
        };
        // A JSON string: the settings table holds JSON documents.
        let owner = serde_json::Value::String(format!(
            "{}|{}",
            session.client.base_url(),
            session.agent.user
        ))
        .to_string();
        let result = self
            .with_store(move |s| {
                let previous = s.setting(INBOX_OWNER_KEY)?;
                if previous.as_deref() != Some(owner.as_str()) {
                    s.clear_chats()?;
                    s.set_setting(INBOX_OWNER_KEY, &owner)?;
                } else if fresh {
                    s.forget_chat_sync()?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(code = %e.code(), "inbox: could not prepare the cache");
        }
        {
            let mut live = lock(&self.shared.inbox.live);
            live.numbers.clear();
            live.session_opened_at = self.shared.clock.now().millis();
        }
        self.shared.inbox.wake.notify_one();
        self.emit_inbox_counts().await;
    }

    /// The stream is up: read the conversation list (and the numbers) again, then wake the
    /// sender.
    pub(crate) async fn inbox_sync(&self) {
        if lock(&self.shared.inbox.live).numbers.is_empty() {
            let _ = self.inbox_numbers().await;
        }
        let listed_at = self.rest_facts_at();
        match self.with_hub(|c, t| c.conversations(t, None)).await {
            Ok(list) => {
                let facts: Vec<(ChatConversationFacts, Option<ChatMessage>)> = list
                    .iter()
                    .map(|c| {
                        (
                            self.facts_of(c, listed_at),
                            c.last_message.as_ref().map(chat_message),
                        )
                    })
                    .collect();
                let listed: Vec<i64> = list.iter().map(|c| c.id).collect();
                let stored = self
                    .with_store(move |s| {
                        let before: HashMap<i64, InboxConversation> = s
                            .chat_conversations(InboxFilter::Queues, "")?
                            .into_iter()
                            .map(|c| (c.id, c))
                            .collect();
                        s.sync_chat_conversations(&facts, &listed, listed_at)?;
                        // Only what changed (a reconnection usually changes little).
                        let mut changed = Vec::new();
                        let mut still_open = std::collections::HashSet::new();
                        for c in s.chat_conversations(InboxFilter::Queues, "")? {
                            still_open.insert(c.id);
                            if before.get(&c.id) != Some(&c) {
                                changed.push(c);
                            }
                        }
                        for id in before.keys().filter(|id| !still_open.contains(id)) {
                            changed.extend(s.chat_conversation(*id)?);
                        }
                        Ok(changed)
                    })
                    .await;
                match stored {
                    Ok(all) => {
                        for c in all {
                            self.shared.host.emit(DomainEvent::InboxConversation(c));
                        }
                    }
                    Err(e) => tracing::warn!(code = %e.code(), "inbox: could not store the list"),
                }
            }
            Err(e) if e.code() == ErrorCode::WhatsappNotConfigured => {
                lock(&self.shared.inbox.live).not_configured = true;
            }
            Err(e) => tracing::info!(code = %e.code(), "inbox: could not read the conversations"),
        }
        self.emit_inbox_counts().await;
        self.shared.inbox.wake.notify_one();
    }

    /// Stores one chat event of the stream (the feed retries it on `Err`).
    async fn on_chat_event(&self, envelope: &EventEnvelope) -> Result<(), AppError> {
        // A new stream replays the log the hub keeps, a reconnection what it missed: events
        // from before this session opened, or minutes old, update the cache but do not pop
        // notifications.
        let opened = lock(&self.shared.inbox.live).session_opened_at;
        let recent = envelope.at >= opened
            && self.shared.clock.now().millis() - envelope.at <= NOTIFY_RECENT_MS;
        match &envelope.event {
            HubEvent::MessageReceived(received) => {
                // One trip to the store, then the events: this is the path a customer's
                // message takes to the open chat.
                let facts = self.facts_of(&received.conversation, envelope.at);
                let message = chat_message(&received.message);
                let id = facts.id;
                let (conversation, stored) = self
                    .with_store(move |s| {
                        s.upsert_chat_conversation(&facts)?;
                        let stored = s.upsert_chat_message(&message)?;
                        let conversation = s.chat_conversation(id)?.ok_or_else(|| {
                            enlace_store::StoreError::NotFound {
                                what: "chat conversation",
                                id: id.to_string(),
                            }
                        })?;
                        Ok((conversation, stored))
                    })
                    .await?;
                self.shared.host.emit(DomainEvent::InboxMessage {
                    conversation: conversation.clone(),
                    message: stored.clone(),
                });
                self.shared
                    .host
                    .emit(DomainEvent::InboxConversation(conversation.clone()));
                self.emit_inbox_counts().await;
                if !stored.outgoing {
                    let viewing = lock(&self.shared.inbox.live).viewing == Some(conversation.id);
                    if viewing {
                        self.mark_read(conversation.id).await;
                    } else if recent && (conversation.mine || conversation.agent_id.is_none()) {
                        let preview = stored.text.clone().unwrap_or_else(|| stored.kind.clone());
                        self.chat_notify(conversation, preview);
                    }
                }
            }
            HubEvent::MessageStatus(status) => {
                let message = chat_message(&status.message);
                let stored = self
                    .with_store(move |s| s.upsert_chat_message(&message))
                    .await?;
                self.emit_message(stored).await;
            }
            HubEvent::ConversationAssigned(assigned) => {
                let me = self.hub_session().ok().map(|s| s.agent.id);
                let conversation = self
                    .store_conversation(&assigned.conversation, Some(envelope.at))
                    .await?;
                let newly_mine = conversation.mine
                    && conversation.state == ChatState::Open
                    && assigned.previous_agent_id != me;
                let viewing = lock(&self.shared.inbox.live).viewing == Some(conversation.id);
                if recent && newly_mine && !viewing {
                    let preview = conversation.preview.clone();
                    self.chat_notify(conversation, preview);
                }
            }
            HubEvent::ConversationAttended(attended) => {
                self.store_conversation(&attended.conversation, Some(envelope.at))
                    .await?;
            }
            HubEvent::WindowClosing(closing) => {
                self.store_conversation(&closing.conversation, Some(envelope.at))
                    .await?;
            }
            HubEvent::CommentAdded(added) => {
                let me = self.hub_session().ok().map(|s| (s.agent.id, s.agent.name));
                let comment = comment_of(&added.comment, me.as_ref());
                let stored = comment.clone();
                self.with_store(move |s| s.upsert_chat_comment(&stored))
                    .await?;
                self.shared.host.emit(DomainEvent::InboxComment(comment));
            }
            HubEvent::WhatsappAlert(alert) => {
                tracing::info!(code = %alert.code, "inbox: WhatsApp alert from the hub");
            }
            _ => {}
        }
        Ok(())
    }

    /// [`DomainEvent::ChatNotify`], at most once per conversation every [`NOTIFY_EVERY_MS`]
    /// and not while paused (unless the agent wants it).
    fn chat_notify(&self, conversation: InboxConversation, preview: String) {
        let paused = self
            .hub_session()
            .is_ok_and(|s| s.state.kind == AgentStateKind::Paused);
        if paused && !self.notify_while_paused() {
            return;
        }
        let now = self.shared.clock.now().millis();
        {
            let mut live = lock(&self.shared.inbox.live);
            if live.viewing == Some(conversation.id) {
                return;
            }
            if let Some(last) = live.notified.get(&conversation.id) {
                if now - *last < NOTIFY_EVERY_MS && now >= *last {
                    return;
                }
            }
            live.notified.insert(conversation.id, now);
        }
        let preview: String = preview.chars().take(200).collect();
        self.shared.host.emit(DomainEvent::ChatNotify {
            conversation,
            preview,
        });
    }
}

/// The settings row naming whose chats the cache holds (`<hub>|<user>`).
const INBOX_OWNER_KEY: &str = "inbox_owner";

fn page(p: StoredPage, offline: bool) -> ChatPage {
    ChatPage {
        messages: p.messages,
        comments: p.comments,
        next_before: p.next_before,
        offline,
    }
}

fn comment_of(
    c: &enlace_hub_client::api::whatsapp::Comment,
    me: Option<&(i64, String)>,
) -> ChatComment {
    ChatComment {
        id: c.id,
        conversation_id: c.conversation_id,
        agent_id: c.agent_id,
        agent_name: me
            .filter(|(id, _)| *id == c.agent_id)
            .map(|(_, n)| n.clone()),
        body: c.body.clone(),
        at: c.at,
    }
}

/// The hub feed's consumer of chat events: each stored in the cache before the cursor moves.
pub struct InboxConsumer<H: Host> {
    app: App<H>,
    serial: u64,
}

impl<H: Host> std::fmt::Debug for InboxConsumer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxConsumer")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl<H: Host> InboxConsumer<H> {
    pub(crate) fn new(app: App<H>, serial: u64) -> Self {
        InboxConsumer { app, serial }
    }

    fn current(&self) -> bool {
        lock(&self.app.shared.hub)
            .as_ref()
            .is_some_and(|s| s.serial == self.serial)
    }
}

impl<H: Host> FeedConsumer for InboxConsumer<H> {
    fn name(&self) -> &'static str {
        "inbox"
    }

    fn store<'a>(&'a mut self, event: &'a EventEnvelope) -> Stored<'a> {
        Box::pin(async move {
            if !self.current() {
                return Ok(());
            }
            self.app
                .on_chat_event(event)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn notice<'a>(&'a mut self, item: &'a StreamItem) -> Stored<'a> {
        Box::pin(async move {
            if !self.current() {
                return Ok(());
            }
            match item {
                StreamItem::Online => {
                    // Not on the feed's task: the list is one request, the stream goes on.
                    let app = self.app.clone();
                    tokio::spawn(async move { app.inbox_sync().await });
                }
                StreamItem::Truncated { .. } => {
                    if let Err(e) = self.app.with_store(|s| s.forget_chat_sync()).await {
                        tracing::warn!(code = %e.code(), "inbox: could not reset the cache");
                    }
                }
                _ => self.app.emit_inbox_counts().await,
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_give_their_texts_and_parameter_count() {
        let t = MessageTemplate {
            name: "order_update".into(),
            language: "es".into(),
            status: "APPROVED".into(),
            category: "UTILITY".into(),
            components: serde_json::json!([
                {"type": "HEADER", "format": "TEXT", "text": "Pedido"},
                {"type": "BODY", "text": "Hola {{1}}, su pedido {{2}} sale {{ 3 }}."},
                {"type": "FOOTER", "text": "Gracias"},
                {"type": "BUTTONS", "buttons": []}
            ]),
        };
        let parsed = parse_template(&t);
        assert_eq!(parsed.header.as_deref(), Some("Pedido"));
        assert_eq!(parsed.footer.as_deref(), Some("Gracias"));
        assert_eq!(parsed.parameter_count, 3);
        assert_eq!(highest_placeholder("{{}} {{x}} {{2"), 0);
        assert_eq!(highest_placeholder("{{99999999999}}"), 0);
        assert_eq!(highest_placeholder("a {{7}}"), 7);
        let empty = MessageTemplate {
            components: serde_json::Value::Null,
            ..t
        };
        assert_eq!(parse_template(&empty).body, "");
    }

    #[test]
    fn media_ids_are_plain_names_never_paths() {
        for bad in [
            "",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "a b",
            "x\0",
        ] {
            assert_eq!(media_file_stem(bad), None, "{bad:?}");
        }
        assert_eq!(media_file_stem("3f2a-01_b.c"), Some("3f2a-01_b.c"));
        assert_eq!(media_file_stem(&"a".repeat(129)), None);
        assert_eq!(
            media_file_name(Some("../../x.pdf"), "application/pdf"),
            "x.pdf"
        );
        assert_eq!(media_file_name(Some("..."), "image/jpeg"), "file.jpg");
        assert_eq!(media_file_name(None, "audio/ogg; codecs=opus"), "file.ogg");
    }

    #[test]
    fn outgoing_messages_are_checked_before_they_are_kept() {
        let text = |b: &str| OutgoingMessage::Text {
            body: b.into(),
            preview_url: false,
        };
        assert!(check_outgoing("c1", &text("hola")).is_ok());
        assert_eq!(
            check_outgoing("", &text("hola")).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            check_outgoing("c1", &text("  ")).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            check_outgoing("c1", &text(&"x".repeat(4097)))
                .unwrap_err()
                .code(),
            ErrorCode::TooLong
        );
    }
}
