//! Sending files, voice notes and locations (issue 12) on top of the inbox's send queue.
//!
//! Invariants:
//! - A file is *staged* first ([`App::inbox_stage_file`], [`App::inbox_stage_bytes`],
//!   [`App::inbox_stage_recording`]): checked against WhatsApp's limits (api-facts C4, through
//!   `enlace_whatsapp::media::check_upload`) and copied into `outgoing/{token}/` beside the
//!   database. The size comes from the file's metadata before anything is read, and only the
//!   first [`SNIFF_BYTES`] are read to check the type, so a 2 GB file is refused without
//!   reading it. Nothing is uploaded while staging: a refused file never reaches the hub.
//!   Staged files neither sent nor discarded are removed after [`STAGED_LIFETIME`].
//! - [`App::inbox_send_staged`] moves the staged file into `outgoing/queue/` and queues a
//!   `pending` message with it (`enlace-store` `chat_sends.staged_path`). The sender uploads it
//!   to the hub with progress ([`DomainEvent::InboxUpload`], at most every
//!   [`PROGRESS_EVERY`]), stores the hub's media id in the queue before sending (a retry or a
//!   restart never uploads twice), then sends the message with that id. Once the hub accepts
//!   it, the file moves into the media cache under the hub's media id, so the agent's own
//!   image or voice note shows without a download.
//! - A file the hub refuses marks the message `failed` with the code; the file stays for
//!   Reintentar ([`App::inbox_retry`] queues it again). Passing errors retry with back-off.
//! - Locations are checked before they are queued (finite, −90..90, −180..180, name and
//!   address lengths: `invalid_location`); the last one sent is remembered
//!   ([`App::last_position`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlace_core::ErrorCode;
use enlace_whatsapp::media::{
    check_upload, MediaError, MAX_ANIMATED_STICKER_BYTES, MAX_AUDIO_BYTES, MAX_DOCUMENT_BYTES,
    MAX_IMAGE_BYTES, MAX_VIDEO_BYTES, VOICE_NOTE_PLAY_ICON_BYTES,
};
use enlace_whatsapp::MediaKind;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::inbox::{check_client_id, ChatMessage, ChatStatus, OutgoingMessage};
use crate::{App, DomainEvent, Host, Shared};

/// Bytes read from a picked file to check its type (the size comes from its metadata).
pub const SNIFF_BYTES: u64 = 1024 * 1024;
/// Upload progress is emitted at most this often (plus the first and the last).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// Longest caption (WhatsApp's limit).
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Longest place name of a location or quick address.
pub const MAX_PLACE_NAME_CHARS: usize = 256;
/// Longest address line of a location or quick address.
pub const MAX_ADDRESS_CHARS: usize = 1024;
/// The warning of a voice note past [`VOICE_NOTE_PLAY_ICON_BYTES`] (it may show as a file).
pub const VOICE_NOTE_LARGE: &str = "voice_note_large";
/// File name of a recorded voice note.
const RECORDING_NAME: &str = "nota-de-voz.ogg";
/// The staged file's description beside it.
const STAGED_META: &str = "staged.json";

/// A file ready to send: checked and copied into the app's outgoing folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Opaque id of the staged file (32 hex digits).
    pub token: String,
    /// The file name the customer sees (documents).
    pub name: String,
    /// The base MIME type it is uploaded as.
    pub mime: String,
    /// `image`, `audio`, `video`, `document` or `sticker`.
    pub kind: String,
    pub size: u64,
    /// A recorded voice note (sent with `voice: true`).
    pub voice: bool,
    pub duration_ms: Option<u64>,
    /// Waveform of a recording, bar heights 0–255.
    pub peaks: Vec<u8>,
    /// [`VOICE_NOTE_LARGE`] for a voice note past 512 KB.
    pub warning: Option<String>,
}

/// A quick address for Enviar ubicación: the organization's (`org:{id}`, from the hub, no
/// coordinates) or the agent's own (`own:{id}`, kept on this computer).
#[derive(Debug, Clone, PartialEq)]
pub struct QuickAddress {
    pub id: String,
    pub name: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub own: bool,
}

/// Where a position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionSource {
    /// The operating system's location service.
    Os,
    /// The last location the agent sent.
    LastUsed,
}

/// A position for the map's first view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres, when the source says.
    pub accuracy: Option<f64>,
    pub source: PositionSource,
}

/// The MIME type WhatsApp gets for a file extension (lower-case, without the dot).
pub fn mime_of_extension(ext: &str) -> Option<&'static str> {
    Some(match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "ogg" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

fn extension_of(name: &str) -> String {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The largest file of `kind` (stickers: the animated limit; the exact one is checked on the
/// bytes) and its name for people.
fn size_limit(kind: MediaKind) -> (u64, &'static str) {
    match kind {
        MediaKind::Image => (MAX_IMAGE_BYTES, "5 MB"),
        MediaKind::Audio => (MAX_AUDIO_BYTES, "16 MB"),
        MediaKind::Video => (MAX_VIDEO_BYTES, "16 MB"),
        MediaKind::Document => (MAX_DOCUMENT_BYTES, "100 MB"),
        MediaKind::Sticker => (MAX_ANIMATED_STICKER_BYTES, "500 KB"),
    }
}

fn media_error(e: &MediaError) -> AppError {
    let code = match e {
        MediaError::Empty => ErrorCode::WhatsappMediaEmpty,
        MediaError::TooLarge { .. } => ErrorCode::WhatsappMediaTooLarge,
        MediaError::UnsupportedType { .. } => ErrorCode::WhatsappMediaType,
        MediaError::ContentMismatch { .. } => ErrorCode::WhatsappMediaContent,
    };
    AppError::Hub(e.to_string(), code, None)
}

fn invalid(why: &str) -> AppError {
    AppError::Hub(why.to_owned(), ErrorCode::InvalidRequest, None)
}

fn storage(what: &str, e: &std::io::Error) -> AppError {
    AppError::Store(format!("{what}: {}", e.kind()), ErrorCode::Storage)
}

/// A file name safe to keep in a folder of ours: no path, no control characters, at most
/// 120 characters, not starting with a dot; `file.{ext}` when nothing is left.
fn safe_name(name: &str, ext: &str) -> String {
    // The last component, whichever separator the name came with.
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | ':'))
        .take(120)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    if cleaned.is_empty() {
        format!("file.{ext}")
    } else {
        cleaned
    }
}

/// 32 random hex digits.
fn new_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The kind and MIME type of a file called `name`, checked before anything is read: a type
/// WhatsApp takes, and a size within its limit.
fn plan(name: &str, size: u64) -> Result<(MediaKind, &'static str), AppError> {
    let ext = extension_of(name);
    let Some(mime) = mime_of_extension(&ext) else {
        let shown = if ext.is_empty() {
            "files without an extension".to_owned()
        } else {
            format!(".{ext} files")
        };
        return Err(AppError::Hub(
            format!(
                "WhatsApp does not take {shown} (images JPEG/PNG, video MP4/3GPP, audio \
                 AAC/AMR/MP3/M4A/OGG, documents PDF/TXT/Word/Excel/PowerPoint)"
            ),
            ErrorCode::WhatsappMediaType,
            None,
        ));
    };
    let kind = MediaKind::for_mime(mime).unwrap_or(MediaKind::Document);
    if size == 0 {
        return Err(media_error(&MediaError::Empty));
    }
    let (max, limit) = size_limit(kind);
    if size > max {
        return Err(media_error(&MediaError::TooLarge {
            kind: kind.as_str(),
            size,
            limit,
        }));
    }
    Ok((kind, mime))
}

/// Checks a location before it is queued (`invalid_location`).
pub(crate) fn check_location(
    latitude: f64,
    longitude: f64,
    name: Option<&str>,
    address: Option<&str>,
) -> Result<(), AppError> {
    let bad = |why: &str| AppError::Hub(why.to_owned(), ErrorCode::InvalidLocation, None);
    if !latitude.is_finite() || !longitude.is_finite() {
        return Err(bad("the coordinates are not numbers"));
    }
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(bad("the latitude must be between -90 and 90"));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(bad("the longitude must be between -180 and 180"));
    }
    if name.is_some_and(|n| n.chars().count() > MAX_PLACE_NAME_CHARS) {
        return Err(bad("the place name is too long (at most 256 characters)"));
    }
    if address.is_some_and(|a| a.chars().count() > MAX_ADDRESS_CHARS) {
        return Err(bad("the address is too long (at most 1024 characters)"));
    }
    Ok(())
}

/// Staged files older than this were neither sent nor discarded (the app closed meanwhile):
/// removed the next time a file is staged.
pub const STAGED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Removes the staged files (token folders) older than `lifetime`; the queue's stay.
fn sweep_staged(root: &Path, lifetime: Duration) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_token) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > lifetime);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes `staged` (its description) into `dir`.
fn write_meta(dir: &Path, staged: &StagedFile) -> Result<(), AppError> {
    let json = serde_json::to_vec(staged)
        .map_err(|e| AppError::Internal(format!("encode a staged file: {e}")))?;
    std::fs::write(dir.join(STAGED_META), json).map_err(|e| storage("could not stage the file", &e))
}

/// Keeps the bytes of a staged file (already checked) under a new token.
fn stage_bytes_in(
    root: &Path,
    name: &str,
    bytes: &[u8],
    mut staged: StagedFile,
) -> Result<StagedFile, AppError> {
    sweep_staged(root, STAGED_LIFETIME);
    let token = new_token()?;
    let dir = root.join(&token);
    std::fs::create_dir_all(&dir).map_err(|e| storage("could not stage the file", &e))?;
    let written = std::fs::write(dir.join(name), bytes)
        .map_err(|e| storage("could not stage the file", &e))
        .and_then(|()| {
            staged.token = token;
            write_meta(&dir, &staged)
        });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(staged)
}

/// Picks a file from disk: checked from its metadata and first bytes, then copied.
fn stage_path_in(root: &Path, path: &Path) -> Result<StagedFile, AppError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        AppError::Hub(
            format!("cannot read the file: {}", e.kind()),
            ErrorCode::NotFound,
            None,
        )
    })?;
    if !meta.is_file() {
        return Err(invalid("not a file"));
    }
    let original = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_owned();
    let size = meta.len();
    let (kind, mime) = plan(&original, size)?;
    let mut head = Vec::new();
    {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| storage("cannot read the file", &e))?;
        file.take(SNIFF_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| storage("cannot read the file", &e))?;
    }
    check_upload(kind, mime, &head).map_err(|e| media_error(&e))?;
    sweep_staged(root, STAGED_LIFETIME);
    let name = safe_name(&original, &extension_of(&original));
    let token = new_token()?;
    let dir = root.join(&token);
    std::fs::create_dir_all(&dir).map_err(|e| storage("could not stage the file", &e))?;
    let staged = StagedFile {
        token,
        name: name.clone(),
        mime: mime.to_owned(),
        kind: kind.as_str().to_owned(),
        size,
        voice: false,
        duration_ms: None,
        peaks: Vec::new(),
        warning: None,
    };
    let copied = std::fs::copy(path, dir.join(&name))
        .map_err(|e| storage("could not stage the file", &e))
        .and_then(|copied| {
            // The file changed while it was copied: check what was copied.
            if copied == size {
                Ok(())
            } else {
                plan(&name, copied).map(|_| ())
            }
        })
        .and_then(|()| {
            write_meta(
                &dir,
                &StagedFile {
                    size: std::fs::metadata(dir.join(&name)).map_or(size, |m| m.len()),
                    ..staged.clone()
                },
            )
        });
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(staged)
}

/// The description and file of a staged token.
fn read_staged(root: &Path, token: &str) -> Result<(StagedFile, PathBuf), AppError> {
    let gone = || {
        AppError::Hub(
            "no staged file with that token".into(),
            ErrorCode::NotFound,
            None,
        )
    };
    if !is_token(token) {
        return Err(gone());
    }
    let dir = root.join(token);
    let raw = std::fs::read(dir.join(STAGED_META)).map_err(|_| gone())?;
    let staged: StagedFile = serde_json::from_slice(&raw).map_err(|_| gone())?;
    let file = dir.join(&staged.name);
    if staged.name.contains(['/', '\\']) || !file.is_file() {
        return Err(gone());
    }
    Ok((staged, file))
}

/// The extras a pending media message's content carries for the UI and for Reintentar:
/// `size`, `mime`, `name`, `durationMs`, `peaks` and the queued file (`stagedPath`).
fn pending_content(
    message: &OutgoingMessage,
    staged: &StagedFile,
    path: &Path,
) -> Result<String, AppError> {
    let mut value = serde_json::to_value(message)
        .map_err(|e| AppError::Internal(format!("encode a message: {e}")))?;
    if let Some(map) = value.as_object_mut() {
        map.insert("size".into(), staged.size.into());
        map.insert("mime".into(), staged.mime.clone().into());
        map.insert("name".into(), staged.name.clone().into());
        map.insert("voice".into(), staged.voice.into());
        if let Some(d) = staged.duration_ms {
            map.insert("durationMs".into(), d.into());
        }
        if !staged.peaks.is_empty() {
            map.insert("peaks".into(), staged.peaks.clone().into());
        }
        map.insert("stagedPath".into(), path.display().to_string().into());
    }
    Ok(value.to_string())
}

/// The keys [`pending_content`] adds to a message's JSON.
const CONTENT_EXTRAS: &[&str] = &["size", "mime", "name", "durationMs", "peaks", "stagedPath"];

/// The message and file of a failed file message the hub never took (its content has the
/// queued file, still there), for Reintentar.
pub(crate) fn staged_retry(content: &str) -> Option<(OutgoingMessage, PathBuf)> {
    let mut value: serde_json::Value = serde_json::from_str(content).ok()?;
    let map = value.as_object_mut()?;
    let path = PathBuf::from(map.get("stagedPath")?.as_str()?);
    if !path.is_file() {
        return None;
    }
    for key in CONTENT_EXTRAS {
        map.remove(*key);
    }
    let message = serde_json::from_value(value).ok()?;
    Some((message, path))
}

/// Emits upload progress at most every [`PROGRESS_EVERY`] (and always the first and last).
pub(crate) struct ProgressThrottle<H: Host> {
    pub(crate) shared: Arc<Shared<H>>,
    pub(crate) conversation_id: i64,
    pub(crate) key: String,
    pub(crate) last: Option<Instant>,
}

impl<H: Host> ProgressThrottle<H> {
    pub(crate) fn tick(&mut self, sent: u64, total: u64) {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|at| now.duration_since(at) >= PROGRESS_EVERY);
        if due || sent >= total {
            self.last = Some(now);
            self.shared.host.emit(DomainEvent::InboxUpload {
                conversation_id: self.conversation_id,
                key: self.key.clone(),
                sent,
                total,
            });
        }
    }
}

impl<H: Host> App<H> {
    /// `outgoing/` beside the database (a temporary folder for a database in memory).
    async fn outgoing_dir(&self) -> Result<PathBuf, AppError> {
        let db = self.with_store(|s| Ok(s.path())).await?;
        Ok(match db.as_deref().and_then(Path::parent) {
            Some(dir) => dir.join("outgoing"),
            None => std::env::temp_dir().join(format!("enlace-outgoing-{}", std::process::id())),
        })
    }

    /// Stages a file picked or dropped by the agent: its type from the extension, its size
    /// from the metadata (a file over the limit is never read), its first bytes checked
    /// against the type (a `.pdf` that is a PNG is refused), then copied into the app's
    /// outgoing folder. Nothing is uploaded yet.
    pub async fn inbox_stage_file(&self, path: &Path) -> Result<StagedFile, AppError> {
        let root = self.outgoing_dir().await?;
        let path = path.to_owned();
        crate::blocking(move || stage_path_in(&root, &path)).await
    }

    /// Stages bytes the agent pasted (an image); `name` gives the extension.
    pub async fn inbox_stage_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<StagedFile, AppError> {
        let root = self.outgoing_dir().await?;
        let name = name.to_owned();
        crate::blocking(move || {
            let (kind, mime) = plan(&name, bytes.len() as u64)?;
            check_upload(kind, mime, &bytes).map_err(|e| media_error(&e))?;
            let ext = extension_of(&name);
            let name = safe_name(&name, &ext);
            let staged = StagedFile {
                token: String::new(),
                name: name.clone(),
                mime: mime.to_owned(),
                kind: kind.as_str().to_owned(),
                size: bytes.len() as u64,
                voice: false,
                duration_ms: None,
                peaks: Vec::new(),
                warning: None,
            };
            stage_bytes_in(&root, &name, &bytes, staged)
        })
        .await
    }

    /// Stages a recorded voice note (OGG with mono OPUS): sent as audio with `voice: true`;
    /// past 512 KB it carries the `voice_note_large` warning.
    pub async fn inbox_stage_recording(
        &self,
        ogg: Vec<u8>,
        duration_ms: u64,
        peaks: Vec<u8>,
    ) -> Result<StagedFile, AppError> {
        if ogg.is_empty() || duration_ms == 0 {
            return Err(AppError::Hub(
                "the recording is empty".into(),
                ErrorCode::RecordingEmpty,
                None,
            ));
        }
        let root = self.outgoing_dir().await?;
        crate::blocking(move || {
            let size = ogg.len() as u64;
            let (max, limit) = size_limit(MediaKind::Audio);
            if size > max {
                return Err(media_error(&MediaError::TooLarge {
                    kind: "audio",
                    size,
                    limit,
                }));
            }
            check_upload(MediaKind::Audio, "audio/ogg", &ogg).map_err(|e| media_error(&e))?;
            let staged = StagedFile {
                token: String::new(),
                name: RECORDING_NAME.to_owned(),
                mime: "audio/ogg".to_owned(),
                kind: "audio".to_owned(),
                size,
                voice: true,
                duration_ms: Some(duration_ms),
                peaks,
                warning: (size > VOICE_NOTE_PLAY_ICON_BYTES).then(|| VOICE_NOTE_LARGE.to_owned()),
            };
            stage_bytes_in(&root, RECORDING_NAME, &ogg, staged)
        })
        .await
    }

    /// The file of a staged token and its MIME type (the preview).
    pub async fn inbox_staged_path(&self, token: &str) -> Result<(PathBuf, String), AppError> {
        let root = self.outgoing_dir().await?;
        let token = token.to_owned();
        crate::blocking(move || read_staged(&root, &token).map(|(s, path)| (path, s.mime))).await
    }

    /// Drops a staged file (Cancelar).
    pub async fn inbox_discard_staged(&self, token: &str) -> Result<(), AppError> {
        if !is_token(token) {
            return Ok(());
        }
        let dir = self.outgoing_dir().await?.join(token);
        crate::blocking(move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(storage("could not drop the staged file", &e)),
        })
        .await
    }

    /// Queues a staged file as a message (`caption` on images, videos and documents): shown
    /// `pending` at once, uploaded and sent by the sender in order. The same `client_id` again
    /// answers the message as it stands.
    pub async fn inbox_send_staged(
        &self,
        conversation: i64,
        client_id: &str,
        token: &str,
        caption: Option<String>,
    ) -> Result<ChatMessage, AppError> {
        let client = check_client_id(client_id)?.to_owned();
        if let Some(known) = self.check_send(conversation, &client, true).await? {
            return Ok(known);
        }
        let root = self.outgoing_dir().await?;
        let token_owned = token.to_owned();
        let root_read = root.clone();
        let (staged, file) = crate::blocking(move || read_staged(&root_read, &token_owned)).await?;
        let caption = caption
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if caption.is_some() && matches!(staged.kind.as_str(), "audio" | "sticker") {
            return Err(AppError::Hub(
                "audio messages and stickers take no caption".into(),
                ErrorCode::WhatsappInvalidMessage,
                None,
            ));
        }
        if caption
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_CAPTION_CHARS)
        {
            return Err(AppError::Hub(
                "a caption has at most 1024 characters".into(),
                ErrorCode::TooLong,
                None,
            ));
        }
        // The file leaves the staging folder for the queue's.
        let queue_dir = root.join("queue").join(new_token()?);
        let queued = queue_dir.join(&staged.name);
        let (from, to, staged_dir) = (file.clone(), queued.clone(), root.join(token));
        crate::blocking(move || {
            std::fs::create_dir_all(&queue_dir)
                .map_err(|e| storage("could not queue the file", &e))?;
            std::fs::rename(&from, &to).map_err(|e| storage("could not queue the file", &e))?;
            let _ = std::fs::remove_dir_all(&staged_dir);
            Ok(())
        })
        .await?;
        let message = OutgoingMessage::Media {
            kind: staged.kind.clone(),
            media_id: String::new(),
            caption: caption.clone(),
            filename: (staged.kind == "document").then(|| staged.name.clone()),
            voice: staged.voice,
        };
        let content = pending_content(&message, &staged, &queued)?;
        self.queue_file_message(conversation, &client, message, content, caption, &queued)
            .await
    }

    /// Queues a media message whose file is at `path` (a new send or Reintentar).
    pub(crate) async fn queue_file_message(
        &self,
        conversation: i64,
        client_id: &str,
        message: OutgoingMessage,
        content: String,
        caption: Option<String>,
        path: &Path,
    ) -> Result<ChatMessage, AppError> {
        let json = serde_json::to_string(&message)
            .map_err(|e| AppError::Internal(format!("encode a message: {e}")))?;
        let pending = ChatMessage {
            seq: 0,
            hub_id: None,
            client_id: Some(client_id.to_owned()),
            conversation_id: conversation,
            wamid: None,
            outgoing: true,
            kind: message.type_name().to_owned(),
            text: caption,
            content,
            media_id: None,
            reply_to: None,
            status: ChatStatus::Pending,
            error: None,
            agent_id: self.hub_session().ok().map(|s| s.agent.id),
            at: self.shared.clock.now().millis(),
        };
        let path = path.display().to_string();
        let stored = self
            .with_store(move |s| s.queue_chat_file_send(&pending, &json, &path))
            .await?;
        self.emit_message(stored.clone()).await;
        self.emit_inbox_counts().await;
        self.shared.inbox.wake.notify_one();
        Ok(stored)
    }

    /// The quick addresses for Enviar ubicación: the organization's from the hub (none while
    /// it cannot be reached), then the agent's own.
    pub async fn inbox_quick_addresses(&self) -> Result<Vec<QuickAddress>, AppError> {
        let org = match self.with_hub(|c, t| c.quick_addresses(t)).await {
            Ok(list) => list,
            Err(e) if crate::inbox::is_offline(e.code()) => Vec::new(),
            Err(e) => return Err(e),
        };
        let own = self.with_store(|s| s.own_quick_addresses()).await?;
        let mut out: Vec<QuickAddress> = org
            .into_iter()
            .map(|q| QuickAddress {
                id: format!("org:{}", q.id),
                name: q.name,
                address: q.address,
                latitude: None,
                longitude: None,
                own: false,
            })
            .collect();
        out.extend(own.into_iter().map(|q| QuickAddress {
            id: format!("own:{}", q.id),
            name: q.name,
            address: q.address,
            latitude: q.latitude,
            longitude: q.longitude,
            own: true,
        }));
        Ok(out)
    }

    /// Saves one of the agent's quick addresses: a name and an address (both required) and,
    /// optionally, both coordinates.
    pub async fn inbox_quick_address_save(
        &self,
        name: &str,
        address: &str,
        latitude: Option<f64>,
        longitude: Option<f64>,
    ) -> Result<QuickAddress, AppError> {
        let (name, address) = (name.trim().to_owned(), address.trim().to_owned());
        if name.is_empty() || address.is_empty() {
            return Err(invalid("a quick address needs its name and address"));
        }
        let coordinates = match (latitude, longitude) {
            (Some(lat), Some(lon)) => Some((lat, lon)),
            (None, None) => None,
            _ => {
                return Err(AppError::Hub(
                    "give both coordinates or none".into(),
                    ErrorCode::InvalidLocation,
                    None,
                ))
            }
        };
        let (lat, lon) = coordinates.unwrap_or((0.0, 0.0));
        check_location(lat, lon, Some(&name), Some(&address))?;
        let saved = self
            .with_store(move |s| s.add_own_quick_address(&name, &address, coordinates))
            .await?;
        Ok(QuickAddress {
            id: format!("own:{}", saved.id),
            name: saved.name,
            address: saved.address,
            latitude: saved.latitude,
            longitude: saved.longitude,
            own: true,
        })
    }

    /// Deletes one of the agent's quick addresses (`own:{id}`); the organization's cannot be.
    pub async fn inbox_quick_address_delete(&self, id: &str) -> Result<(), AppError> {
        if id.starts_with("org:") {
            return Err(AppError::Hub(
                "the organization's quick addresses are managed on the hub".into(),
                ErrorCode::Forbidden,
                None,
            ));
        }
        let n: i64 = id
            .strip_prefix("own:")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| invalid("not a quick address id"))?;
        if self
            .with_store(move |s| s.delete_own_quick_address(n))
            .await?
        {
            Ok(())
        } else {
            Err(AppError::Hub(
                "no quick address with that id".into(),
                ErrorCode::NotFound,
                None,
            ))
        }
    }

    /// The last location the agent sent (the map's start when the OS gives no position).
    pub async fn last_position(&self) -> Result<Option<Position>, AppError> {
        Ok(self
            .with_store(|s| s.last_position())
            .await?
            .map(|p| Position {
                latitude: p.latitude,
                longitude: p.longitude,
                accuracy: None,
                source: PositionSource::LastUsed,
            }))
    }

    /// Remembers a location sent (failures only logged: the message is queued either way).
    pub(crate) async fn remember_position(&self, latitude: f64, longitude: f64) {
        if let Err(e) = self
            .with_store(move |s| s.set_last_position(latitude, longitude))
            .await
        {
            tracing::warn!(code = %e.code(), "inbox: could not remember the position sent");
        }
    }

    /// Uploads a queued message's file once (its hub media id is kept in the queue) and
    /// returns the message with that id.
    pub(crate) async fn upload_queued(
        &self,
        send: &enlace_store::ChatSend,
        message: OutgoingMessage,
    ) -> Result<OutgoingMessage, AppError> {
        let Some(path) = send.staged_path.as_deref().map(PathBuf::from) else {
            return Ok(message);
        };
        let OutgoingMessage::Media {
            kind,
            caption,
            filename,
            voice,
            ..
        } = message
        else {
            return Ok(message);
        };
        let with_id = |media_id: String| OutgoingMessage::Media {
            kind: kind.clone(),
            media_id,
            caption: caption.clone(),
            filename: filename.clone(),
            voice,
        };
        if let Some(id) = &send.hub_media_id {
            return Ok(with_id(id.clone()));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let mime = mime_of_extension(&extension_of(&name))
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut progress = ProgressThrottle {
            shared: Arc::clone(&self.shared),
            conversation_id: send.conversation_id,
            key: format!("c:{}", send.client_id),
            last: None,
        };
        let upload_kind = kind.clone();
        let upload_name = filename.clone();
        let uploaded = self
            .with_hub(move |c, t| {
                c.upload_media(
                    t,
                    &path,
                    &mime,
                    &upload_kind,
                    upload_name.as_deref(),
                    &mut |sent, total| progress.tick(sent, total),
                )
            })
            .await?;
        let (client, id) = (send.client_id.clone(), uploaded.id.clone());
        self.with_store(move |s| s.chat_send_media_uploaded(&client, &id))
            .await?;
        Ok(with_id(uploaded.id))
    }

    /// After the hub took a file message: its file moves into the media cache under the hub's
    /// media id (the agent's own image or voice note shows without a download).
    pub(crate) async fn keep_sent_file(&self, staged_path: &str, hub_media_id: Option<String>) {
        let from = PathBuf::from(staged_path);
        let Some(id) = hub_media_id.filter(|id| crate::inbox::media_file_stem(id).is_some()) else {
            return;
        };
        let media = match self.media_dir().await {
            Ok(m) => m,
            Err(_) => return,
        };
        let moved = crate::blocking(move || -> Result<(), AppError> {
            let Some(name) = from.file_name().map(ToOwned::to_owned) else {
                return Ok(());
            };
            let dir = media.join(&id);
            std::fs::create_dir_all(&dir).map_err(|e| storage("media cache", &e))?;
            let target = dir.join(name);
            if std::fs::rename(&from, &target).is_err() {
                std::fs::copy(&from, &target).map_err(|e| storage("media cache", &e))?;
                let _ = std::fs::remove_file(&from);
            }
            if let Some(parent) = from.parent() {
                let _ = std::fs::remove_dir(parent);
            }
            Ok(())
        })
        .await;
        if let Err(e) = moved {
            tracing::warn!(code = %e.code(), "inbox: could not keep a sent file in the cache");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_give_whatsapps_types_and_unknown_ones_are_refused() {
        assert_eq!(mime_of_extension("JPG"), Some("image/jpeg"));
        assert_eq!(mime_of_extension("opus"), Some("audio/ogg"));
        assert_eq!(mime_of_extension("exe"), None);
        let err = plan("setup.exe", 10).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WhatsappMediaType);
        assert!(err.to_string().contains(".exe"), "{err}");
        assert_eq!(
            plan("a.png", 5_000_001).unwrap_err().code(),
            ErrorCode::WhatsappMediaTooLarge
        );
        assert!(plan("a.png", 5_000_001)
            .unwrap_err()
            .to_string()
            .contains("5 MB"));
        assert_eq!(
            plan("a.pdf", 0).unwrap_err().code(),
            ErrorCode::WhatsappMediaEmpty
        );
        assert_eq!(plan("a.pdf", 100_000_000).unwrap().0, MediaKind::Document);
        assert_eq!(plan("a.webp", 10).unwrap().0, MediaKind::Sticker);
    }

    #[test]
    fn names_stay_plain_file_names() {
        assert_eq!(safe_name("../../etc/passwd", ""), "passwd");
        assert_eq!(safe_name("C:\\x\\..", "pdf"), "file.pdf");
        assert_eq!(safe_name(".hidden.pdf", "pdf"), "hidden.pdf");
        assert_eq!(safe_name("cotización\n.pdf", "pdf"), "cotización.pdf");
    }

    #[test]
    fn staged_files_left_behind_are_swept_and_the_queue_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join("0123456789abcdef0123456789abcdef");
        let fresh = root.path().join("fedcba9876543210fedcba9876543210");
        let queue = root.path().join("queue");
        for dir in [&old, &fresh, &queue] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(48 * 3600);
        for dir in [&old, &queue] {
            std::fs::File::open(dir)
                .unwrap()
                .set_modified(two_days_ago)
                .unwrap();
        }
        sweep_staged(root.path(), STAGED_LIFETIME);
        assert!(!old.exists());
        assert!(fresh.exists() && queue.exists());
    }

    #[test]
    fn locations_are_checked() {
        assert!(check_location(9.93, -84.08, Some("Oficina"), None).is_ok());
        for (lat, lon) in [
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
            (90.5, 0.0),
            (0.0, -180.1),
        ] {
            let e = check_location(lat, lon, None, None).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidLocation);
        }
        let long = "x".repeat(MAX_PLACE_NAME_CHARS + 1);
        assert!(check_location(0.0, 0.0, Some(&long), None).is_err());
        let long = "x".repeat(MAX_ADDRESS_CHARS + 1);
        assert!(check_location(0.0, 0.0, None, Some(&long)).is_err());
    }
}
