//! Pieces both doubles share: faults, recorded requests, ids, tokens, time stamps, HMAC.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::http::{Reply, Request, Response};

/// A one-shot misbehaviour queued with `inject`; each is used once, in the order queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next *write* (a POST that creates records) is committed — the record exists — and then
    /// the socket is closed without a reply. Other requests pass it by.
    DropReplyAfterCommit,
    /// The next *write* is committed, then the reply is held back this long before it is sent
    /// (a client killed meanwhile never learns the record exists). Other requests pass it by.
    StallAfterCommit(Duration),
    /// The next *write* waits this long before it is handled (nothing is committed meanwhile).
    /// Other requests pass it by.
    StallBeforeCommit(Duration),
    /// The next request: the socket is closed without a reply; nothing is committed.
    DropConnection,
    /// The next `n` requests: 503 (Salesforce) / 500 `INTERNAL_ERROR` (Zoho); nothing committed.
    ServerErrors(u32),
    /// The next request waits this long, then is handled normally.
    SlowReply(Duration),
    /// The next request: 502 with a `text/html` proxy error page; nothing committed.
    HtmlErrorPage,
    /// The next request is handled normally (a write IS committed), but the reply body is cut in
    /// half (with a matching `Content-Length`, so the client sees a complete HTTP reply whose JSON
    /// is truncated).
    Truncated,
    /// The next request: 302 to this URL; nothing committed.
    RedirectTo(String),
}

/// One request as the double received it, for tests to assert exactly what the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path as sent (percent-encoded), without the query.
    pub path: String,
    /// Raw query string without `?` (percent-encoded), empty when none.
    pub query: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

impl RecordedRequest {
    /// First header with this name, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// First decoded query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// First decoded `application/x-www-form-urlencoded` body parameter with this name.
    pub fn form_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

impl From<&Request> for RecordedRequest {
    fn from(r: &Request) -> Self {
        RecordedRequest {
            method: r.method.clone(),
            path: r.path.clone(),
            query: r.query.clone(),
            headers: r.headers.clone(),
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

/// A fault taken off the queue for one request.
#[derive(Debug)]
pub(crate) enum Taken {
    DropAfterCommit,
    StallAfterCommit(Duration),
    Drop,
    ServerError,
    Slow(Duration),
    Html,
    Truncate,
    Redirect(String),
}

/// Takes the first queued fault that applies to this request.
pub(crate) fn take_fault(queue: &mut VecDeque<Fault>, is_write: bool) -> Option<Taken> {
    let idx = queue.iter().position(|f| {
        is_write
            || !matches!(
                f,
                Fault::DropReplyAfterCommit
                    | Fault::StallAfterCommit(_)
                    | Fault::StallBeforeCommit(_)
            )
    })?;
    if let Some(Fault::ServerErrors(n)) = queue.get_mut(idx) {
        if *n > 1 {
            *n -= 1;
            return Some(Taken::ServerError);
        }
    }
    let fault = queue.remove(idx)?;
    Some(match fault {
        Fault::DropReplyAfterCommit => Taken::DropAfterCommit,
        Fault::StallAfterCommit(d) => Taken::StallAfterCommit(d),
        Fault::StallBeforeCommit(d) => Taken::Slow(d),
        Fault::DropConnection => Taken::Drop,
        Fault::ServerErrors(0) => return take_fault(queue, is_write),
        Fault::ServerErrors(_) => Taken::ServerError,
        Fault::SlowReply(d) => Taken::Slow(d),
        Fault::HtmlErrorPage => Taken::Html,
        Fault::Truncated => Taken::Truncate,
        Fault::RedirectTo(u) => Taken::Redirect(u),
    })
}

/// Applies a taken fault around `handle` (which commits and answers normally).
/// `server_error` is the double's own 5xx reply.
pub(crate) fn with_fault(
    taken: Option<Taken>,
    server_error: impl FnOnce() -> Response,
    handle: impl FnOnce() -> Response,
) -> Reply {
    match taken {
        None => Reply::Respond(handle()),
        Some(Taken::Slow(d)) => {
            std::thread::sleep(d);
            Reply::Respond(handle())
        }
        Some(Taken::DropAfterCommit) => {
            let _committed = handle();
            Reply::Close
        }
        Some(Taken::StallAfterCommit(d)) => {
            let committed = handle();
            std::thread::sleep(d);
            Reply::Respond(committed)
        }
        Some(Taken::Drop) => Reply::Close,
        Some(Taken::ServerError) => Reply::Respond(server_error()),
        Some(Taken::Html) => Reply::Respond(Response::html(502, BAD_GATEWAY_PAGE)),
        Some(Taken::Truncate) => {
            let mut resp = handle();
            if resp.status == 204 || resp.body.is_empty() {
                resp.status = 200;
                resp.body = b"{\"data\":[{\"id\":\"".to_vec();
                resp.headers
                    .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                resp.headers.push((
                    "Content-Type".into(),
                    "application/json;charset=UTF-8".into(),
                ));
            } else {
                let half = resp.body.len() / 2;
                resp.body.truncate(half.max(1));
            }
            Reply::Respond(resp)
        }
        Some(Taken::Redirect(url)) => Reply::Respond(Response::redirect(&url)),
    }
}

const BAD_GATEWAY_PAGE: &str =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Random bytes from the OS; falls back to a hash of time and a counter (never panics).
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut out = Vec::new();
        while out.len() < n {
            let c = COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut h = Sha256::new();
            h.update(c.to_le_bytes());
            h.update(now_ms().to_le_bytes());
            out.extend_from_slice(&h.finalize());
        }
        out.truncate(n);
        buf = out;
    }
    buf
}

/// Lower-case hex of `n` random bytes.
pub(crate) fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// Alphanumeric random text of `n` characters.
pub(crate) fn random_alnum(n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_bytes(n)
        .iter()
        .map(|b| SET[(*b as usize) % SET.len()] as char)
        .collect()
}

pub(crate) fn b64url_nopad(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA256 (RFC 2104), written out to avoid another dependency.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
    outer.update(inner);
    outer.finalize().into()
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second) in UTC for seconds since the epoch.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Salesforce date-time: `2024-06-10T12:00:00.000+0000`.
pub(crate) fn salesforce_datetime(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms / 1000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+0000",
        ms % 1000
    )
}

/// Zoho date-time: `2024-06-10T12:00:00+00:00`.
pub(crate) fn zoho_datetime(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms / 1000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
}

/// Digits of a text (for phone matching).
pub(crate) fn digits(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// Locks a mutex, recovering the data if a previous holder panicked.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Is this a loopback `http://` URL (`127.0.0.1`, `localhost`, `[::1]`)?
pub(crate) fn is_loopback_http(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(u) => {
            u.scheme() == "http"
                && matches!(
                    u.host_str(),
                    Some("127.0.0.1") | Some("localhost") | Some("[::1]")
                )
        }
        Err(_) => false,
    }
}

/// Appends query parameters to a redirect URI (keeping any query it already has).
pub(crate) fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    if uri.contains('?') {
        format!("{uri}&{q}")
    } else {
        format!("{uri}?{q}")
    }
}

/// Is this a plausible e-mail address (one `@`, a dot in the domain, no spaces)?
pub(crate) fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
}

/// Escapes text for an HTML page.
pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn dates_format() {
        assert_eq!(
            salesforce_datetime(1_718_000_000_123),
            "2024-06-10T06:13:20.123+0000"
        );
        assert_eq!(zoho_datetime(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(zoho_datetime(951_782_400_000), "2000-02-29T00:00:00+00:00");
    }

    #[test]
    fn faults_apply_in_order_and_writes_wait() {
        let mut q: VecDeque<Fault> = vec![
            Fault::DropReplyAfterCommit,
            Fault::ServerErrors(2),
            Fault::HtmlErrorPage,
        ]
        .into();
        assert!(matches!(
            take_fault(&mut q, false),
            Some(Taken::ServerError)
        ));
        assert!(matches!(
            take_fault(&mut q, false),
            Some(Taken::ServerError)
        ));
        assert!(matches!(take_fault(&mut q, false), Some(Taken::Html)));
        assert!(take_fault(&mut q, false).is_none());
        assert!(matches!(
            take_fault(&mut q, true),
            Some(Taken::DropAfterCommit)
        ));
        assert!(q.is_empty());
    }
}
