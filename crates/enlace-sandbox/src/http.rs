//! A deliberately small HTTP/1.1 server on `std::net`, shared by both doubles.
//!
//! One thread accepts; every connection gets its own thread, carries exactly one request and is
//! closed after the reply (`Connection: close`). Bodies are read by `Content-Length` (or
//! `Transfer-Encoding: chunked`), with hard limits on the request line, the headers and the body,
//! and a read timeout, so hostile input can neither panic nor wedge the server. The handler
//! decides byte by byte what goes back, which is what the faults need: a reply with a body cut in
//! half, a connection closed with no reply at all, or a reply delayed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest request line accepted (method, target, version).
pub(crate) const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most bytes of headers accepted (all lines together).
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header lines accepted.
pub(crate) const MAX_HEADERS: usize = 100;
/// Largest request body accepted; bigger ones get 413 without being read.
pub(crate) const MAX_BODY: usize = 2 * 1024 * 1024;
/// Connections served at once; more are closed straight away.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// One parsed request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The raw query string (no leading `?`), empty when absent.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// First decoded query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The path with percent-escapes decoded (invalid UTF-8 replaced).
    pub fn decoded_path(&self) -> String {
        percent_decode(&self.path)
    }

    /// The media type of the body, lower-cased, without parameters.
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// Decodes `%XX` escapes (not `+`).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One reply, written as-is with `Content-Length` and `Connection: close` added.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json;charset=UTF-8".into(),
            )],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn html(status: u16, html: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/html;charset=UTF-8".into())],
            body: html.as_bytes().to_vec(),
        }
    }

    pub fn redirect(location: &str) -> Response {
        let mut r = Response::new(302);
        r.headers.push(("Location".into(), location.to_string()));
        r
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        for (k, v) in &self.headers {
            // Header injection is impossible by construction, but never write a bare CR/LF.
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        // RFC 9110: no Content-Length on 204 and 304.
        if self.status != 204 && self.status != 304 {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        if self.status != 204 && self.status != 304 {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// What the handler wants done with the connection.
#[derive(Debug)]
pub(crate) enum Reply {
    Respond(Response),
    /// Close the socket without writing a single byte.
    Close,
}

pub(crate) type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// A running server; dropping it stops the accept loop and joins it.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:port` (0 = any free port) and starts serving.
    pub fn start(port: u16, handler: Handler) -> io::Result<Server> {
        Server::start_with_body_limit(port, MAX_BODY, handler)
    }

    /// Like [`Server::start`], accepting request bodies up to `max_body` bytes (media uploads).
    pub fn start_with_body_limit(
        port: u16,
        max_body: usize,
        handler: Handler,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("sandbox-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, handler, stop2, active, max_body))?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock accept(): a connection to ourselves.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct ActiveGuard(Arc<AtomicUsize>);
impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    max_body: usize,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        // Loopback only, even though we bind 127.0.0.1.
        match stream.peer_addr() {
            Ok(peer) if peer.ip().is_loopback() => {}
            _ => continue,
        }
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        let guard = ActiveGuard(Arc::clone(&active));
        let handler = Arc::clone(&handler);
        let spawned = std::thread::Builder::new()
            .name("sandbox-conn".into())
            .spawn(move || {
                let _guard = guard;
                serve(stream, &handler, max_body);
            });
        // If the thread could not start, the closure (and the guard) was dropped: nothing leaks.
        drop(spawned);
    }
}

fn serve(stream: TcpStream, handler: &Handler, max_body: usize) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let reply = match read_request_limited(&mut reader, max_body) {
        Ok(req) => handler(req),
        Err(ParseError::Io) => return,
        Err(ParseError::Bad(msg)) => Reply::Respond(plain(400, msg)),
        Err(ParseError::TooLarge) => Reply::Respond(plain(413, "Request Entity Too Large")),
        Err(ParseError::HeadersTooLarge) => {
            Reply::Respond(plain(431, "Request Header Fields Too Large"))
        }
        Err(ParseError::Unsupported(msg)) => Reply::Respond(plain(501, msg)),
    };
    let mut stream = stream;
    if let Reply::Respond(resp) = reply {
        let _ = stream.write_all(&resp.to_bytes());
        let _ = stream.flush();
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn plain(status: u16, msg: &str) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), "text/plain;charset=UTF-8".into())],
        body: msg.as_bytes().to_vec(),
    }
}

#[derive(Debug)]
enum ParseError {
    Io,
    Bad(&'static str),
    TooLarge,
    HeadersTooLarge,
    Unsupported(&'static str),
}

/// Reads one line ending in LF, at most `max` bytes; `None` at EOF before any byte.
fn read_line(reader: &mut impl BufRead, max: usize) -> Result<Option<String>, ParseError> {
    let mut buf = Vec::new();
    let n = reader
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|_| ParseError::Io)?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        if buf.len() > max {
            return Err(ParseError::HeadersTooLarge);
        }
        return Err(ParseError::Io); // EOF in the middle of a line
    }
    buf.pop();
    if buf.ends_with(b"\r") {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| ParseError::Bad("Bad Request: not UTF-8"))
}

#[cfg(test)]
fn read_request(reader: &mut impl BufRead) -> Result<Request, ParseError> {
    read_request_limited(reader, MAX_BODY)
}

fn read_request_limited(reader: &mut impl BufRead, max_body: usize) -> Result<Request, ParseError> {
    let mut line = read_line(reader, MAX_REQUEST_LINE)?.ok_or(ParseError::Io)?;
    // Tolerate (one) empty line before the request line, as RFC 9112 allows.
    if line.is_empty() {
        line = read_line(reader, MAX_REQUEST_LINE)?.ok_or(ParseError::Io)?;
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Bad("Bad Request: malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ParseError::Bad("Bad Request: bad method"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(ParseError::Bad("Bad Request: unsupported HTTP version"));
    }
    if !target.starts_with('/') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ParseError::Bad("Bad Request: bad request target"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };

    let mut headers = Vec::new();
    let mut header_bytes = 0usize;
    loop {
        let line = read_line(reader, MAX_HEADER_BYTES)?.ok_or(ParseError::Io)?;
        if line.is_empty() {
            break;
        }
        header_bytes += line.len();
        if header_bytes > MAX_HEADER_BYTES || headers.len() >= MAX_HEADERS {
            return Err(ParseError::HeadersTooLarge);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::Bad("Bad Request: malformed header"));
        };
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ParseError::Bad("Bad Request: malformed header name"));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }

    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let chunked = find("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let body = if chunked {
        read_chunked(reader, max_body)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| ParseError::Bad("Bad Request: bad Content-Length"))?;
        if len > max_body {
            return Err(ParseError::TooLarge);
        }
        let mut body = Vec::with_capacity(len.min(64 * 1024));
        reader
            .take(len as u64)
            .read_to_end(&mut body)
            .map_err(|_| ParseError::Io)?;
        if body.len() != len {
            return Err(ParseError::Io);
        }
        body
    } else if let Some(te) = find("transfer-encoding") {
        let _ = te;
        return Err(ParseError::Unsupported("Not Implemented: transfer coding"));
    } else {
        Vec::new()
    };
    Ok(Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body,
    })
}

fn read_chunked(reader: &mut impl BufRead, max_body: usize) -> Result<Vec<u8>, ParseError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader, 1024)?.ok_or(ParseError::Io)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ParseError::Bad("Bad Request: bad chunk size"))?;
        if size == 0 {
            // Trailers until the empty line.
            loop {
                let t = read_line(reader, MAX_HEADER_BYTES)?.ok_or(ParseError::Io)?;
                if t.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > max_body {
            return Err(ParseError::TooLarge);
        }
        let before = body.len();
        reader
            .take(size as u64)
            .read_to_end(&mut body)
            .map_err(|_| ParseError::Io)?;
        if body.len() - before != size {
            return Err(ParseError::Io);
        }
        let end = read_line(reader, 2)?.ok_or(ParseError::Io)?;
        if !end.is_empty() {
            return Err(ParseError::Bad("Bad Request: bad chunk"));
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        207 => "Multi-Status",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_handles_edges() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%C3%B1"), "ñ");
    }

    #[test]
    fn parses_a_request_with_a_body() {
        let raw = b"POST /x?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
        let req = read_request(&mut &raw[..]).expect("parses");
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/x");
        assert_eq!(req.query, "a=1");
        assert_eq!(req.body, b"abc");
    }

    #[test]
    fn parses_chunked_bodies() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let req = read_request(&mut &raw[..]).expect("parses");
        assert_eq!(req.body, b"abcde");
    }

    #[test]
    fn rejects_garbage_and_oversize() {
        assert!(matches!(
            read_request(&mut &b"GARBAGE\r\n\r\n"[..]),
            Err(ParseError::Bad(_))
        ));
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(
            read_request(&mut big.as_bytes()),
            Err(ParseError::TooLarge)
        ));
        let long = format!(
            "GET /{} HTTP/1.1\r\n\r\n",
            "a".repeat(MAX_REQUEST_LINE + 10)
        );
        assert!(matches!(
            read_request(&mut long.as_bytes()),
            Err(ParseError::HeadersTooLarge)
        ));
    }
}
