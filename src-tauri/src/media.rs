//! The `enlace-media` URI scheme: the webview shows WhatsApp media (images, stickers, audio,
//! video) from the files the app cached, by the hub's media id. The UI builds the URL with
//! Tauri's `convertFileSrc(id, "enlace-media")`: `enlace-media://localhost/<id>` on Linux and
//! macOS, `http://enlace-media.localhost/<id>` on Windows (both allowed by the CSP in
//! `tauri.conf.json`, see `the_csp_lets_the_webview_show_media`).
//!
//! The request is untrusted: only a plain id (ASCII letters, digits, `-`, `_`) is looked up,
//! so no path can reach the file system; only images, audio and video are served inline (any
//! other type is served as an attachment, and every reply carries a CSP that runs nothing);
//! one `Range` of bytes is honoured so audio and video can seek.
//!
//! Two more routes: `staged/<token>` previews a file staged for sending (images, the recorded
//! voice note, and PDFs inline — the only documents shown inline, being the agent's own), and
//! `tile/<z>/<x>/<y>` serves map tiles through the app's tile cache (`enlace_app::map_tiles`),
//! so the webview never reaches a tile server itself. The UI appends these paths to the
//! scheme's base URL (`convertFileSrc("", "enlace-media")`).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use enlace_core::ErrorCode;
use tauri::http::{header, Method, Request, Response, StatusCode};
use tauri::{AppHandle, Manager};

use crate::shell::Shell;

/// The scheme's name.
pub const SCHEME: &str = "enlace-media";

/// Longest id looked up (the hub's are 32 hex digits).
const MAX_ID: usize = 128;

/// What a request of the scheme asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaRoute<'a> {
    /// `/<id>`: hub media, by its id.
    Media(&'a str),
    /// `/staged/<token>`: a file staged for sending (its preview).
    Staged(&'a str),
    /// `/tile/<z>/<x>/<y>`: a map tile (served by the app, never by the webview's network).
    Tile { z: u8, x: u32, y: u32 },
}

/// The route a request's path names, or `None` for anything else. Every segment is a plain
/// name (see [`media_id`]), so no path can reach the file system.
pub fn route(path: &str) -> Option<MediaRoute<'_>> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if let Some(token) = path.strip_prefix("staged/") {
        return media_id(token).map(MediaRoute::Staged);
    }
    if let Some(tile) = path.strip_prefix("tile/") {
        let mut parts = tile.split('/');
        let mut number = || -> Option<u32> {
            let p = parts.next()?;
            let digits = !p.is_empty() && p.len() <= 7 && p.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| p.parse().ok()).flatten()
        };
        let (z, x, y) = (number()?, number()?, number()?);
        if parts.next().is_some() {
            return None;
        }
        return Some(MediaRoute::Tile {
            z: u8::try_from(z).ok()?,
            x,
            y,
        });
    }
    media_id(path).map(MediaRoute::Media)
}

/// The media id a request's path names, when it is one plain segment.
pub fn media_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix('/').unwrap_or(path);
    let plain = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then_some(id)
}

/// Answers one request of the scheme: the cached file of a hub media id (downloaded from the
/// hub the first time), a staged file's preview, a map tile, or a refusal.
pub async fn serve(handle: AppHandle, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
    if !method_allowed(&request) {
        return refusal(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    let Some(route) = route(request.uri().path()) else {
        return refusal(StatusCode::BAD_REQUEST, "not a media id");
    };
    let Some(shell) = handle.try_state::<Shell>() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "starting");
    };
    let (path, content_type) = match route {
        MediaRoute::Media(id) => match shell.app.inbox_media_path(id).await {
            Ok(path) => {
                let content_type = content_type_of(&path).to_owned();
                (path, content_type)
            }
            Err(e) => return app_refusal(&e),
        },
        MediaRoute::Staged(token) => match shell.app.inbox_staged_path(token).await {
            Ok(found) => found,
            Err(e) => return app_refusal(&e),
        },
        MediaRoute::Tile { z, x, y } => {
            return match shell.app.map_tile(z, x, y).await {
                Ok((bytes, mime)) => tile_reply(bytes, &mime),
                Err(e) => app_refusal(&e),
            };
        }
    };
    let staged = matches!(route, MediaRoute::Staged(_));
    tauri::async_runtime::spawn_blocking(move || {
        // A staged PDF is previewed in the send dialog; hub documents stay attachments.
        if staged && content_type == "application/pdf" {
            return serve_pdf(&path, &request);
        }
        serve_file(&path, &content_type, &request)
    })
    .await
    .unwrap_or_else(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal"))
}

/// The status for an app error: its code as the body.
fn app_refusal(e: &enlace_app::AppError) -> Response<Vec<u8>> {
    let status = match e.code() {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidSetting => StatusCode::CONFLICT,
        _ => StatusCode::BAD_GATEWAY,
    };
    refusal(status, e.code().as_str())
}

/// A map tile (already checked to be an image by the app).
pub fn tile_reply(bytes: Vec<u8>, mime: &str) -> Response<Vec<u8>> {
    let (mime, inline) = served_type(mime);
    if !inline || !mime.starts_with("image/") {
        return refusal(StatusCode::BAD_GATEWAY, "not an image");
    }
    base(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(header::CACHE_CONTROL, "private, max-age=86400")
        .body(bytes)
        .unwrap_or_else(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal"))
}

/// A staged PDF, inline, so the send dialog can show it (`<object>`/`<iframe>`): the only
/// non-media type served inline, and only for files the agent picked on this computer. The
/// reply keeps the scheme's CSP (`default-src 'none'; sandbox`): nothing in it runs.
fn serve_pdf(path: &Path, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    let reply = serve_file(path, "application/octet-stream", request);
    if !reply.status().is_success() {
        return reply;
    }
    let (mut parts, body) = reply.into_parts();
    parts.headers.remove(header::CONTENT_DISPOSITION);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/pdf"),
    );
    Response::from_parts(parts, body)
}

/// The type of a cached file, from its extension (the app names downloads after their type;
/// documents keep the name the customer sent, and are not shown inline anyway).
pub fn content_type_of(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "amr" => "audio/amr",
        "wav" => "audio/wav",
        "mp4" | "m4v" => "video/mp4",
        "3gp" => "video/3gpp",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// A single byte range of a file of `len` bytes, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No range, or one this scheme does not serve in parts (several ranges, other units,
    /// malformed): the whole file.
    Whole,
    Part(ByteRange),
    /// A range entirely past the end (416).
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2) against `len`.
pub fn parse_range(value: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (first, last) = (first.trim(), last.trim());
    let range = match (number(first), number(last)) {
        (Some(start), None) if last.is_empty() => (start, len.saturating_sub(1)),
        (Some(start), Some(end)) if start <= end => (start, end.min(len.saturating_sub(1))),
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 {
                return RangeAsk::Unsatisfiable;
            }
            (len.saturating_sub(suffix), len.saturating_sub(1))
        }
        _ => return RangeAsk::Whole,
    };
    if len == 0 || range.0 >= len {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Part(ByteRange {
        start: range.0,
        end: range.1,
    })
}

/// The type the webview gets: images (not SVG), audio and video as they are; anything else as
/// `application/octet-stream` (with `inline == false`, served as an attachment).
pub fn served_type(content_type: &str) -> (String, bool) {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let clean = !essence.is_empty()
        && essence.len() <= 100
        && essence
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'+' | b'.' | b'_'))
        && essence
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty() && !sub.contains('/'));
    let media = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| essence.starts_with(p))
        && !essence.contains("svg");
    if clean && media {
        (essence, true)
    } else {
        ("application/octet-stream".to_owned(), false)
    }
}

fn base(status: StatusCode) -> tauri::http::response::Builder {
    Response::builder()
        .status(status)
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
}

/// A reply without a file: the status and a short reason.
pub fn refusal(status: StatusCode, reason: &str) -> Response<Vec<u8>> {
    base(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(reason.as_bytes().to_vec())
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

/// Whether the request may be served at all (GET/HEAD).
pub fn method_allowed(request: &Request<Vec<u8>>) -> bool {
    request.method() == Method::GET || request.method() == Method::HEAD
}

/// Serves the cached file at `path` (blocking: reads the file).
pub fn serve_file(
    path: &Path,
    content_type: &str,
    request: &Request<Vec<u8>>,
) -> Response<Vec<u8>> {
    match read_reply(path, content_type, request) {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a cached media file");
            refusal(StatusCode::NOT_FOUND, "media not available")
        }
    }
}

fn read_reply(
    path: &Path,
    content_type: &str,
    request: &Request<Vec<u8>>,
) -> std::io::Result<Response<Vec<u8>>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (mime, inline) = served_type(content_type);
    let builder = base(StatusCode::OK)
        .header(header::CONTENT_TYPE, mime)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, max-age=86400");
    let builder = if inline {
        builder
    } else {
        builder.header(header::CONTENT_DISPOSITION, "attachment")
    };
    let head = request.method() == Method::HEAD;
    let (builder, body) = match parse_range(range, len) {
        RangeAsk::Unsatisfiable => {
            let reply = base(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Vec::new());
            return reply.map_err(std::io::Error::other);
        }
        RangeAsk::Whole => {
            let mut body = Vec::new();
            if !head {
                file.read_to_end(&mut body)?;
            }
            (builder.header(header::CONTENT_LENGTH, len), body)
        }
        RangeAsk::Part(ByteRange { start, end }) => {
            let count = end - start + 1;
            let mut body = Vec::new();
            if !head {
                file.seek(SeekFrom::Start(start))?;
                file.take(count).read_to_end(&mut body)?;
            }
            let builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
                .header(header::CONTENT_LENGTH, count);
            (builder, body)
        }
    };
    builder.body(body).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_looked_up() {
        assert_eq!(
            media_id("/0f3a9c00112233445566778899aabbcc"),
            Some("0f3a9c00112233445566778899aabbcc")
        );
        assert_eq!(media_id("/wa_media-1"), Some("wa_media-1"));
        for bad in [
            "/",
            "",
            "/..",
            "/../etc/passwd",
            "/..%2Fx",
            "/a/b",
            "/a%2Fb",
            "/a.jpg",
            "/a\\b",
            "/a b",
            "/%00",
            "//x",
        ] {
            assert_eq!(media_id(bad), None, "{bad:?}");
        }
        assert_eq!(media_id(&format!("/{}", "a".repeat(129))), None);
    }

    #[test]
    fn routes_name_media_staged_files_and_tiles_only() {
        assert_eq!(route("/abc_1"), Some(MediaRoute::Media("abc_1")));
        assert_eq!(
            route("/staged/0123456789abcdef"),
            Some(MediaRoute::Staged("0123456789abcdef"))
        );
        assert_eq!(
            route("/tile/3/5/2"),
            Some(MediaRoute::Tile { z: 3, x: 5, y: 2 })
        );
        assert_eq!(
            route("/tile/19/524287/0"),
            Some(MediaRoute::Tile {
                z: 19,
                x: 524_287,
                y: 0
            })
        );
        for bad in [
            "/staged/",
            "/staged/../x",
            "/staged/a/b",
            "/staged/a.ogg",
            "/staged/%2e%2e",
            "/tile/1/2",
            "/tile/1/2/3/4",
            "/tile/1/2/3.png",
            "/tile/a/0/0",
            "/tile/-1/0/0",
            "/tile/256/0/0",
            "/tile/1/99999999/0",
            "/tile//0/0",
            "/tiles/1/0/0",
        ] {
            assert_eq!(route(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_tile_is_served_as_the_image_it_is() {
        let png = tile_reply(b"\x89PNG....".to_vec(), "image/png");
        assert_eq!(png.status(), StatusCode::OK);
        assert_eq!(png.headers()[header::CONTENT_TYPE], "image/png");
        assert_eq!(
            png.headers()[header::CACHE_CONTROL],
            "private, max-age=86400"
        );
        assert_eq!(
            png.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; sandbox"
        );
        for not_image in ["text/html", "image/svg+xml", "audio/ogg"] {
            let reply = tile_reply(b"x".to_vec(), not_image);
            assert_eq!(reply.status(), StatusCode::BAD_GATEWAY, "{not_image}");
        }
    }

    #[test]
    fn a_staged_pdf_is_shown_inline_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cotizacion.pdf");
        std::fs::write(&path, b"%PDF-1.4 ...").unwrap();
        let reply = serve_pdf(&path, &get(None));
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()[header::CONTENT_TYPE], "application/pdf");
        assert!(reply.headers().get(header::CONTENT_DISPOSITION).is_none());
        assert_eq!(
            reply.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; sandbox"
        );
        assert_eq!(reply.body(), b"%PDF-1.4 ...");
        let missing = serve_pdf(&dir.path().join("nope.pdf"), &get(None));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_type_follows_the_cached_file_name() {
        assert_eq!(content_type_of(Path::new("/m/ab/file.jpg")), "image/jpeg");
        assert_eq!(
            content_type_of(Path::new("/m/ab/Nota de voz.OGG")),
            "audio/ogg"
        );
        assert_eq!(content_type_of(Path::new("/m/ab/v.mp4")), "video/mp4");
        assert_eq!(
            content_type_of(Path::new("/m/ab/factura.pdf")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type_of(Path::new("/m/ab/file")),
            "application/octet-stream"
        );
    }

    #[test]
    fn ranges() {
        let part = |start, end| RangeAsk::Part(ByteRange { start, end });
        assert_eq!(parse_range(None, 100), RangeAsk::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 100), part(0, 99));
        assert_eq!(parse_range(Some("bytes=10-19"), 100), part(10, 19));
        assert_eq!(parse_range(Some("bytes=90-500"), 100), part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), part(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), part(0, 99));
        assert_eq!(
            parse_range(Some("bytes=100-"), 100),
            RangeAsk::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=-0"), 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeAsk::Unsatisfiable);
        for whole in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(Some(whole), 100), RangeAsk::Whole, "{whole}");
        }
    }

    #[test]
    fn only_images_audio_and_video_are_shown_inline() {
        assert_eq!(served_type("image/jpeg"), ("image/jpeg".into(), true));
        assert_eq!(
            served_type("audio/ogg; codecs=opus"),
            ("audio/ogg".into(), true)
        );
        assert_eq!(served_type("Video/MP4"), ("video/mp4".into(), true));
        assert_eq!(served_type("image/webp"), ("image/webp".into(), true));
        for other in [
            "image/svg+xml",
            "text/html",
            "application/pdf",
            "",
            "image/jpeg\r\nX-Evil: 1",
            "image/",
            "image/a/b",
        ] {
            assert_eq!(
                served_type(other),
                ("application/octet-stream".into(), false),
                "{other:?}"
            );
        }
    }

    fn get(range: Option<&str>) -> Request<Vec<u8>> {
        let mut b = Request::builder().uri("enlace-media://localhost/abc");
        if let Some(r) = range {
            b = b.header(header::RANGE, r);
        }
        b.body(Vec::new()).unwrap()
    }

    #[test]
    fn a_file_is_served_whole_or_in_part_with_its_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"0123456789").unwrap();

        let whole = serve_file(&path, "audio/ogg", &get(None));
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.headers()[header::CONTENT_TYPE], "audio/ogg");
        assert_eq!(whole.headers()[header::CONTENT_LENGTH], "10");
        assert_eq!(whole.headers()[header::ACCEPT_RANGES], "bytes");
        assert!(whole.headers().get(header::CONTENT_DISPOSITION).is_none());
        assert_eq!(whole.body(), b"0123456789");

        let part = serve_file(&path, "audio/ogg", &get(Some("bytes=2-4")));
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        assert_eq!(part.body(), b"234");

        let past = serve_file(&path, "audio/ogg", &get(Some("bytes=10-")));
        assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(past.headers()[header::CONTENT_RANGE], "bytes */10");

        let pdf = serve_file(&path, "text/html", &get(None));
        assert_eq!(
            pdf.headers()[header::CONTENT_TYPE],
            "application/octet-stream"
        );
        assert_eq!(pdf.headers()[header::CONTENT_DISPOSITION], "attachment");
        assert_eq!(
            pdf.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; sandbox"
        );

        let missing = serve_file(&dir.path().join("nope"), "image/png", &get(None));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    /// Tauri's CSP must let `<img>`, `<audio>` and `<video>` load the scheme in both forms, and
    /// `fetch` read it (the PDF preview reads a staged file's bytes; on Linux the players' bytes
    /// are fetched too).
    #[test]
    fn the_csp_lets_the_webview_show_media() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let csp = conf["app"]["security"]["csp"].as_str().unwrap();
        for directive in ["img-src", "media-src", "connect-src"] {
            let sources = csp
                .split(';')
                .map(str::trim)
                .find_map(|d| d.strip_prefix(directive))
                .unwrap_or_else(|| panic!("no {directive} in {csp}"));
            let sources: Vec<&str> = sources.split_whitespace().collect();
            assert!(sources.contains(&"enlace-media:"), "{directive}: {csp}");
            assert!(
                sources.contains(&"http://enlace-media.localhost"),
                "{directive}: {csp}"
            );
            // WebKitGTK plays <audio>/<video> only from blob: URLs of the scheme's bytes
            // (ui/src/lib/playable.ts).
            if directive == "media-src" {
                assert!(sources.contains(&"blob:"), "{directive}: {csp}");
            }
        }
    }
}
