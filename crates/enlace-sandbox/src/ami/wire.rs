//! AMI wire format: ordered packets written as `Key: Value\r\n` lines plus a blank line, and a
//! liberal reader for the action packets clients send (bare `\n`, missing space after `:`).

use std::io::{self, BufRead};

/// Longest accepted line from a client; longer lines are cut (Asterisk cuts at 1 KiB per header,
/// we are more generous so UTF-8 reasons are never split).
const MAX_LINE: usize = 8192;
/// Asterisk keeps at most 128 headers per action (`AST_MAX_MANHEADERS`); the rest are ignored.
const MAX_FIELDS: usize = 128;

/// One packet, fields in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pkt(pub(crate) Vec<(String, String)>);

impl Pkt {
    pub(crate) fn new() -> Pkt {
        Pkt(Vec::new())
    }

    /// Appends one field.
    pub(crate) fn f(mut self, key: &str, value: impl AsRef<str>) -> Pkt {
        self.0.push((key.to_string(), value.as_ref().to_string()));
        self
    }

    /// Appends `ActionID` when the action carried one (Asterisk leaves the line out otherwise).
    pub(crate) fn id(self, action_id: Option<&str>) -> Pkt {
        match action_id {
            Some(id) => self.f("ActionID", id),
            None => self,
        }
    }

    /// First value of `key`, compared case-insensitively as Asterisk does on input.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 32);
        for (k, v) in &self.0 {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Reads one action packet. `Ok(None)` at end of stream. Blank lines before a packet are skipped
/// (Asterisk ignores empty packets); lines without a colon are ignored.
pub(crate) fn read_packet(reader: &mut impl BufRead) -> io::Result<Option<Pkt>> {
    let mut pkt = Pkt::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = read_line(reader, &mut line)?;
        if n == 0 {
            // EOF: a half packet is dropped, like a closed Asterisk session.
            return Ok(None);
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            if pkt.0.is_empty() {
                continue;
            }
            return Ok(Some(pkt));
        }
        let text = String::from_utf8_lossy(&line);
        let Some((key, value)) = text.split_once(':') else {
            continue;
        };
        if pkt.0.len() < MAX_FIELDS {
            let value = value.strip_prefix(' ').unwrap_or(value);
            pkt.0.push((key.trim().to_string(), value.to_string()));
        }
    }
}

/// Reads up to and including `\n`, keeping at most [`MAX_LINE`] bytes. Returns bytes consumed.
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<usize> {
    let mut consumed = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = MAX_LINE.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let len = chunk.len();
        reader.consume(len);
        consumed += len;
        if done {
            return Ok(consumed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_liberal_packets() {
        let mut input: &[u8] = b"\r\nAction:Ping\nActionID: 1\n\nAction: Logoff\r\n\r\nAction: X";
        let p = read_packet(&mut input).unwrap().unwrap();
        assert_eq!(p.get("action"), Some("Ping"));
        assert_eq!(p.get("ACTIONID"), Some("1"));
        let p = read_packet(&mut input).unwrap().unwrap();
        assert_eq!(p.get("Action"), Some("Logoff"));
        assert!(read_packet(&mut input).unwrap().is_none());
    }

    #[test]
    fn writes_crlf() {
        let p = Pkt::new().f("Response", "Success").id(Some("a")).id(None);
        assert_eq!(p.to_bytes(), b"Response: Success\r\nActionID: a\r\n\r\n");
    }
}
