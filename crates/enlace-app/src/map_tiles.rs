//! Map tiles for Enviar ubicación, fetched by the app so the webview never reaches the internet:
//! the shell serves [`App::map_tile`] as `enlace-media://localhost/tile/{z}/{x}/{y}`.
//!
//! The tile server is the `map_tile_url` setting, a template with `{z}`, `{x}` and `{y}`
//! (OpenStreetMap's standard tiles by default), checked by [`tile_url_problem`]: `https://`, or
//! plain `http://` only to this computer. OpenStreetMap's tile usage policy asks for an
//! identifying User-Agent ([`USER_AGENT`]) and for caching: tiles are kept on disk in
//! `tiles/` beside the database, one folder per template, reused for [`TILE_MAX_AGE`] (and past
//! it while the server cannot be reached), the least recently used dropped beyond
//! [`TILE_CACHE_BYTES`]. A reply must be an image (PNG, JPEG, WebP or GIF by its bytes) of at
//! most [`MAX_TILE_BYTES`]; at most [`FETCHES_AT_ONCE`] requests are open at a time.
//!
//! HTTP is `reqwest::blocking` over rustls (ring, webpki roots) like the rest of the
//! workspace, on the blocking pool; no redirects, fixed timeouts. Nothing here logs a URL's
//! query (a tile provider's API key may be in it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use enlace_core::ErrorCode;

use crate::{App, AppError, Host, DEFAULT_MAP_TILE_URL};

/// Highest zoom level asked for (OpenStreetMap's standard layer stops at 19).
pub const MAX_ZOOM: u8 = 19;
/// A tile is a few kilobytes; a reply larger than this is not a tile.
pub const MAX_TILE_BYTES: u64 = 1024 * 1024;
/// Disk kept for tiles; the least recently used go first beyond it.
pub const TILE_CACHE_BYTES: u64 = 50 * 1024 * 1024;
/// A cached tile is used without asking the server for this long (OpenStreetMap asks for at
/// least 7 days).
pub const TILE_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Where the project lives, for tile servers' operators (the User-Agent).
pub const PROJECT_URL: &str = "https://enlace.app";
/// The User-Agent of tile requests: `Enlace/<version> (+<project URL>)`.
pub const USER_AGENT: &str = concat!(
    "Enlace/",
    env!("CARGO_PKG_VERSION"),
    " (+https://enlace.app)"
);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The cache is trimmed after this many bytes were written since the last trim (and on the
/// first write of the process), not after every tile.
const TRIM_EVERY_BYTES: u64 = 2 * 1024 * 1024;
const MAX_TEMPLATE_CHARS: usize = 512;
/// Requests to the tile server at the same time (tile servers ask clients to keep few).
pub const FETCHES_AT_ONCE: usize = 2;
static FETCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(FETCHES_AT_ONCE);

/// Why a template cannot be used, or `None` when it can.
pub fn tile_url_problem(template: &str) -> Option<&'static str> {
    const BAD: &str = "must be an https address with {z}, {x} and {y}, such as \
                       https://tile.openstreetmap.org/{z}/{x}/{y}.png (http only to this computer)";
    if template.len() > MAX_TEMPLATE_CHARS
        || template
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        || !["{z}", "{x}", "{y}"].iter().all(|p| template.contains(p))
    {
        return Some(BAD);
    }
    let Ok(url) = reqwest::Url::parse(&fill(template, 1, 0, 0)) else {
        return Some(BAD);
    };
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Some(BAD);
    }
    let Some(host) = url.host_str() else {
        return Some(BAD);
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => None,
        "http" if loopback => None,
        _ => Some(BAD),
    }
}

/// The template with the tile's numbers in place.
fn fill(template: &str, z: u8, x: u32, y: u32) -> String {
    template
        .replace("{z}", &z.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
}

/// The image type of a tile by its first bytes, or `None` when it is not an image.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

fn tile_error(message: impl Into<String>, code: ErrorCode) -> AppError {
    AppError::Tile(message.into(), code)
}

/// A stable short name for a template (FNV-1a 64): its cache folder, so tiles of another
/// server are never served for this one.
fn template_key(template: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The process-wide client, or why it could not be built.
fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
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
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .user_agent(USER_AGENT)
                .build()
                .map_err(|e| format!("the HTTP client could not start ({e})"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One tile from the server: its bytes and image type.
fn fetch(url: &str) -> Result<(Vec<u8>, &'static str), AppError> {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let client = client().map_err(|e| tile_error(e, ErrorCode::Internal))?;
    let response = client
        .get(url)
        .header(
            reqwest::header::ACCEPT,
            "image/png,image/webp,image/jpeg,image/*;q=0.8",
        )
        .send()
        // reqwest's errors quote the URL: say only the host.
        .map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "could not be reached"
            };
            tile_error(format!("map tiles: {host} {what}"), ErrorCode::Internal)
        })?;
    let status = response.status().as_u16();
    if status != 200 {
        let code = if status == 404 {
            ErrorCode::NotFound
        } else {
            ErrorCode::Internal
        };
        return Err(tile_error(
            format!("map tiles: {host} answered {status}"),
            code,
        ));
    }
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !declared.is_empty() && !declared.starts_with("image/") {
        return Err(tile_error(
            format!("map tiles: {host} sent {declared}, not an image"),
            ErrorCode::Internal,
        ));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_TILE_BYTES)
    {
        return Err(tile_error(
            format!("map tiles: {host} sent more than {MAX_TILE_BYTES} bytes"),
            ErrorCode::MediaTooLarge,
        ));
    }
    let mut bytes = Vec::new();
    response
        .take(MAX_TILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| tile_error(format!("map tiles: {host} broke off"), ErrorCode::Internal))?;
    if bytes.len() as u64 > MAX_TILE_BYTES {
        return Err(tile_error(
            format!("map tiles: {host} sent more than {MAX_TILE_BYTES} bytes"),
            ErrorCode::MediaTooLarge,
        ));
    }
    let mime = sniff_image(&bytes).ok_or_else(|| {
        tile_error(
            format!("map tiles: {host} sent something that is not an image"),
            ErrorCode::Internal,
        )
    })?;
    Ok((bytes, mime))
}

/// A cached tile: its bytes and type, whether it is older than [`TILE_MAX_AGE`]. Reading it
/// marks it used (its access time), which is what [`trim_tiles`] orders by.
fn read_cached(path: &Path, now: SystemTime) -> Option<(Vec<u8>, &'static str, bool)> {
    let bytes = std::fs::read(path).ok()?;
    let mime = sniff_image(&bytes)?;
    let fetched = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH);
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_times(std::fs::FileTimes::new().set_accessed(now));
    }
    let stale = now
        .duration_since(fetched)
        .is_ok_and(|age| age > TILE_MAX_AGE);
    Some((bytes, mime, stale))
}

/// Bytes written since the cache was last trimmed (`u64::MAX`: never trimmed in this process).
static WRITTEN_SINCE_TRIM: AtomicU64 = AtomicU64::new(u64::MAX);

/// Keeps a fetched tile (written whole, then renamed into place) and trims the cache now and
/// then.
fn keep(root: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let part = path.with_extension(format!(
        "{}-{}.part",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&part, bytes)?;
    if let Err(e) = std::fs::rename(&part, path) {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    let len = bytes.len() as u64;
    let before = WRITTEN_SINCE_TRIM
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
            Some(if w == u64::MAX {
                0
            } else {
                w.saturating_add(len)
            })
        })
        .unwrap_or(0);
    if before == u64::MAX || before.saturating_add(len) >= TRIM_EVERY_BYTES {
        WRITTEN_SINCE_TRIM.store(0, Ordering::Relaxed);
        trim_tiles(root, TILE_CACHE_BYTES);
    }
    Ok(())
}

/// Every file under `dir` (tiles, and `.part` files left by a crash), recursively.
fn files_under(dir: &Path, out: &mut Vec<(SystemTime, u64, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            files_under(&path, out);
        } else if kind.is_file() {
            if let Ok(meta) = entry.metadata() {
                let used = meta
                    .accessed()
                    .or_else(|_| meta.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                out.push((used, meta.len(), path));
            }
        }
    }
}

/// Removes the least recently used tiles until the cache under `root` holds at most `cap`
/// bytes.
pub fn trim_tiles(root: &Path, cap: u64) {
    let mut files = Vec::new();
    files_under(root, &mut files);
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= cap {
        return;
    }
    files.sort();
    for (_, size, path) in files {
        if total <= cap {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(size);
        }
    }
}

impl<H: Host> App<H> {
    /// The tile URL template in use: the setting, or the demo tile server while the setting
    /// is the default (`cargo xtask run`).
    pub fn map_tile_template(&self) -> String {
        let configured = self.settings().map_tile_url;
        match &self.shared.options.demo_map_tiles {
            Some(demo) if configured == DEFAULT_MAP_TILE_URL => demo.clone(),
            _ => configured,
        }
    }

    /// Map tile `z/x/y` (bytes and image type) from the disk cache, else from the configured
    /// tile server. Refuses tiles outside the map (`invalid_request`) and a template that is
    /// not an https address (`invalid_setting`, field `mapTileUrl`); a tile the server cannot
    /// give now is served from the cache even when older than [`TILE_MAX_AGE`].
    pub async fn map_tile(&self, z: u8, x: u32, y: u32) -> Result<(Vec<u8>, String), AppError> {
        if z > MAX_ZOOM || u64::from(x) >= 1u64 << z || u64::from(y) >= 1u64 << z {
            return Err(tile_error(
                format!("no map tile {z}/{x}/{y}"),
                ErrorCode::InvalidRequest,
            ));
        }
        let template = self.map_tile_template();
        if let Some(reason) = tile_url_problem(&template) {
            return Err(AppError::invalid_setting("mapTileUrl", reason));
        }
        let root = self.tiles_dir().await?;
        let path = root
            .join(template_key(&template))
            .join(z.to_string())
            .join(x.to_string())
            .join(format!("{y}.tile"));
        let at = path.clone();
        let cached = tokio::task::spawn_blocking(move || read_cached(&at, SystemTime::now()))
            .await
            .map_err(|e| AppError::Internal(format!("map tile task: {e}")))?;
        if let Some((bytes, mime, false)) = cached {
            return Ok((bytes, mime.to_owned()));
        }
        // A map asks for a dozen tiles at once: at most FETCHES_AT_ONCE go to the server.
        let _turn = FETCHES
            .acquire()
            .await
            .map_err(|e| AppError::Internal(format!("map tile fetches: {e}")))?;
        tokio::task::spawn_blocking(move || match fetch(&fill(&template, z, x, y)) {
            Ok((bytes, mime)) => {
                if let Err(e) = keep(&root, &path, &bytes) {
                    tracing::warn!(error = %e, "map tiles: could not keep a tile");
                }
                Ok((bytes, mime.to_owned()))
            }
            Err(e) => match cached {
                Some((bytes, mime, _)) => {
                    tracing::debug!(error = %e, "map tiles: serving an old tile");
                    Ok((bytes, mime.to_owned()))
                }
                None => Err(e),
            },
        })
        .await
        .map_err(|e| AppError::Internal(format!("map tile task: {e}")))?
    }

    /// `tiles/` beside the database (a temporary folder for a database in memory).
    async fn tiles_dir(&self) -> Result<PathBuf, AppError> {
        let db = self.with_store(|s| Ok(s.path())).await?;
        Ok(match db.as_deref().and_then(Path::parent) {
            Some(dir) => dir.join("tiles"),
            None => std::env::temp_dir().join(format!("enlace-tiles-{}", std::process::id())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_urls_are_https_or_loopback_http_with_all_three_numbers() {
        for good in [
            DEFAULT_MAP_TILE_URL,
            "https://tiles.example.com/osm/{z}/{x}/{y}.png?key=abc",
            "http://127.0.0.1:8080/{z}/{x}/{y}.png",
            "http://localhost:9000/t/{z}-{x}-{y}",
            "http://[::1]:9000/{z}/{x}/{y}.png",
        ] {
            assert_eq!(tile_url_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "http://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "http://192.168.1.5/{z}/{x}/{y}.png",
            "https://tile.openstreetmap.org/{z}/{x}.png",
            "https://tile.openstreetmap.org/{z}/{y}.png",
            "ftp://tiles.example.com/{z}/{x}/{y}.png",
            "file:///tmp/{z}/{x}/{y}.png",
            "https://user:pass@tiles.example.com/{z}/{x}/{y}.png",
            "https://tiles.example.com/{z}/{x}/{y}.png\n",
            "https://tiles .example.com/{z}/{x}/{y}.png",
            "javascript:{z}{x}{y}",
        ] {
            assert!(tile_url_problem(bad).is_some(), "{bad:?}");
        }
        let long = format!(
            "https://t.example.com/{}/{{z}}/{{x}}/{{y}}",
            "a".repeat(600)
        );
        assert!(tile_url_problem(&long).is_some());
    }

    #[test]
    fn the_user_agent_names_the_app_and_where_it_lives() {
        assert!(USER_AGENT.starts_with(concat!("Enlace/", env!("CARGO_PKG_VERSION"), " (+")));
        assert!(USER_AGENT.contains(PROJECT_URL));
    }

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff_image(b"<html>"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn templates_get_their_own_cache_folder() {
        assert_eq!(template_key("a"), template_key("a"));
        assert_ne!(
            template_key("https://a.example/{z}/{x}/{y}.png"),
            template_key("https://b.example/{z}/{x}/{y}.png")
        );
        assert_eq!(template_key("").len(), 16);
    }

    #[test]
    fn the_cache_keeps_the_most_recently_used_tiles_within_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let base = SystemTime::now() - Duration::from_secs(3600);
        // Five 1000-byte tiles, used one minute apart: tile 0 longest ago.
        for i in 0..5u64 {
            let path = root.join("k").join("3").join(i.to_string()).join("1.tile");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            let used = base + Duration::from_secs(60 * i);
            f.set_times(
                std::fs::FileTimes::new()
                    .set_accessed(used)
                    .set_modified(base),
            )
            .unwrap();
        }
        trim_tiles(root, 10_000);
        let mut left = Vec::new();
        files_under(root, &mut left);
        assert_eq!(left.len(), 5, "under the cap nothing goes");
        trim_tiles(root, 3_000);
        let mut left: Vec<String> = {
            let mut files = Vec::new();
            files_under(root, &mut files);
            files
                .into_iter()
                .map(|f| {
                    f.2.parent()
                        .unwrap()
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        };
        left.sort();
        assert_eq!(left, ["2", "3", "4"], "the least recently used went first");
    }
}
