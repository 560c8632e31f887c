//! AMI wire format: [`Packet`], [`Frame`] and the streaming [`Decoder`].

use crate::error::AmiError;

/// Longest accepted line in bytes (without the line ending).
pub const MAX_LINE: usize = 8 * 1024;
/// Most fields accepted in one packet.
pub const MAX_FIELDS: usize = 512;

/// One AMI packet: ordered `Key: Value` fields. Keys are compared case-insensitively and may repeat.
/// `Debug` prints the value of a `Secret` field (the Login action's) as `<redacted>`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Packet {
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("Secret") {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("Packet").field("fields", &fields).finish()
    }
}

impl Packet {
    /// An empty packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(key, value);
        self
    }

    /// Appends a field.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.fields.push((key.into(), value.into()));
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` in order (e.g. `Variable`, `Output`).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// All fields in wire order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// `Event:` value.
    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }

    /// `Response:` value.
    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }

    /// `ActionID:` value.
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID")
    }

    /// Serializes as CRLF-terminated `Key: Value` lines followed by a blank line.
    /// CR and LF inside keys or values are replaced by spaces so a value cannot inject fields.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.fields.len() * 24 + 2);
        for (k, v) in &self.fields {
            push_clean(&mut out, k);
            out.extend_from_slice(b": ");
            push_clean(&mut out, v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn push_clean(out: &mut Vec<u8>, s: &str) {
    out.extend(
        s.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

/// What the decoder yields: the greeting line or a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `Asterisk Call Manager/11.0.0` (the text after the last `/`).
    Banner {
        /// AMI version, e.g. `11.0.0`.
        version: String,
    },
    /// A `Response:` or `Event:` packet.
    Packet(Packet),
}

/// Streaming AMI decoder: feed it bytes as they arrive, get complete frames back.
///
/// Liberal in what it accepts (bare `\n`, no space after `:`, stray blank lines, invalid UTF-8
/// replaced). Limits: lines up to [`MAX_LINE`] bytes, up to [`MAX_FIELDS`] fields per packet. On
/// garbage it yields one [`AmiError::Protocol`] and skips to the next blank line.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    current: Packet,
    /// Discarding lines until the next blank line.
    skipping: bool,
    /// Discarding the rest of an overlong line.
    skipping_line: bool,
}

impl Decoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every frame (or error) completed by them, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Frame, AmiError>> {
        let mut out = Vec::new();
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let mut line_end = end;
            if line_end > start && self.buf[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            let line = self.buf[start..line_end].to_vec();
            start = end + 1;
            if self.skipping_line {
                // The tail of an overlong line: dropped, then resync at the next blank line.
                self.skipping_line = false;
                continue;
            }
            self.line(&line, &mut out);
        }
        self.buf.drain(..start);
        // An unfinished line over the limit (a CR that may precede its LF does not count).
        let pending = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
        if pending > MAX_LINE {
            self.buf.clear();
            if !self.skipping_line {
                self.fail(format!("line longer than {MAX_LINE} bytes"), &mut out);
                self.skipping_line = true;
            }
        }
        out
    }

    fn fail(&mut self, message: String, out: &mut Vec<Result<Frame, AmiError>>) {
        if !self.skipping {
            out.push(Err(AmiError::protocol(message)));
        }
        self.current = Packet::new();
        self.skipping = true;
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Result<Frame, AmiError>>) {
        if line.len() > MAX_LINE {
            self.fail(format!("line longer than {MAX_LINE} bytes"), out);
            return;
        }
        if line
            .iter()
            .all(|b| *b == b' ' || *b == b'\t' || *b == b'\r')
        {
            self.skipping = false;
            if !self.current.fields.is_empty() {
                out.push(Ok(Frame::Packet(std::mem::take(&mut self.current))));
            }
            return;
        }
        if self.skipping {
            return;
        }
        let text = String::from_utf8_lossy(line);
        if self.current.fields.is_empty() && !text.contains(':') {
            if let Some(idx) = text.find("Call Manager/") {
                let version = text[idx + "Call Manager/".len()..].trim().to_string();
                out.push(Ok(Frame::Banner { version }));
                return;
            }
        }
        let Some((key, value)) = text.split_once(':') else {
            let shown: String = text.chars().take(60).collect();
            self.fail(format!("line without ':': {shown:?}"), out);
            return;
        };
        let key = key.trim();
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            let shown: String = key.chars().take(60).collect();
            self.fail(format!("invalid key {shown:?}"), out);
            return;
        }
        if self.current.fields.len() >= MAX_FIELDS {
            self.fail(format!("more than {MAX_FIELDS} fields in a packet"), out);
            return;
        }
        let value = value.strip_prefix(' ').unwrap_or(value);
        self.current.push(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(frames: Vec<Result<Frame, AmiError>>) -> Vec<Packet> {
        frames
            .into_iter()
            .filter_map(|f| match f {
                Ok(Frame::Packet(p)) => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn debug_never_shows_a_login_secret() {
        let login = Packet::new()
            .with("Action", "Login")
            .with("Username", "enlace")
            .with("secret", "s3cr3t-ami");
        let shown = format!("{login:?}");
        assert!(!shown.contains("s3cr3t-ami"), "{shown}");
        assert!(
            shown.contains("enlace") && shown.contains("<redacted>"),
            "{shown}"
        );
        let config = crate::AmiConfig::new("127.0.0.1:5038", "enlace", "s3cr3t-ami");
        assert!(!format!("{config:?}").contains("s3cr3t-ami"));
    }

    #[test]
    fn banner_then_packet_split_anywhere() {
        let bytes = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n";
        for split in 0..bytes.len() {
            let mut d = Decoder::new();
            let mut frames = d.push(&bytes[..split]);
            frames.extend(d.push(&bytes[split..]));
            assert_eq!(
                frames[0],
                Ok(Frame::Banner {
                    version: "11.0.0".into()
                })
            );
            let p = packets(frames);
            assert_eq!(p.len(), 1);
            assert_eq!(p[0].response(), Some("Success"));
            assert_eq!(p[0].action_id(), Some("a1"));
        }
    }

    #[test]
    fn liberal_parsing() {
        let mut d = Decoder::new();
        let p = packets(d.push(b"\r\nevent:Hangup\nCHANNEL:  PJSIP/1001-01\nAccountCode: \nVariable: a=1\nvariable: b=2\n\n"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].event(), Some("Hangup"));
        assert_eq!(p[0].get("channel"), Some(" PJSIP/1001-01"));
        assert_eq!(p[0].get("AccountCode"), Some(""));
        assert_eq!(p[0].get_all("VARIABLE"), vec!["a=1", "b=2"]);
    }

    #[test]
    fn garbage_resyncs_at_blank_line() {
        let mut d = Decoder::new();
        let frames = d.push(b"Event: A\r\nthis is garbage\r\nKey: lost\r\n\r\nEvent: B\r\n\r\n");
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].as_ref().map_err(|e| e.code()),
            Err("ami_protocol")
        );
        let p = packets(frames);
        assert_eq!(p[0].event(), Some("B"));
    }

    #[test]
    fn overlong_line_is_rejected_and_recovered() {
        let mut d = Decoder::new();
        let mut frames = d.push(b"Event: A\r\nKey: ");
        frames.extend(d.push(&vec![b'x'; MAX_LINE + 10]));
        frames.extend(d.push(&vec![b'y'; MAX_LINE * 2]));
        frames.extend(d.push(b"\r\nMore: z\r\n\r\nEvent: B\r\n\r\n"));
        let errors = frames.iter().filter(|f| f.is_err()).count();
        assert_eq!(errors, 1);
        let p = packets(frames);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].event(), Some("B"));
    }

    #[test]
    fn too_many_fields() {
        let mut d = Decoder::new();
        let mut bytes = b"Event: Big\r\n".to_vec();
        for i in 0..MAX_FIELDS + 5 {
            bytes.extend_from_slice(format!("K{i}: v\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\nEvent: Small\r\n\r\n");
        let frames = d.push(&bytes);
        assert_eq!(frames.iter().filter(|f| f.is_err()).count(), 1);
        let p = packets(frames);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].event(), Some("Small"));
    }

    #[test]
    fn to_bytes_round_trips_and_neutralizes_newlines() {
        let p = Packet::new()
            .with("Action", "QueuePause")
            .with("Reason", "Baño\r\nAction: Logoff");
        let bytes = p.to_bytes();
        assert!(bytes.ends_with(b"\r\n\r\n"));
        let mut d = Decoder::new();
        let back = packets(d.push(&bytes));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].get("reason"), Some("Baño  Action: Logoff"));
        assert_eq!(back[0].fields().len(), 2);
    }
}
