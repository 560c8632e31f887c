//! The JSON inside ctrl_tcp frames: commands we send, responses and events we receive.
//! Parsing is tolerant: unknown fields are ignored, missing ones are `None`, `"true"` (string)
//! counts as `true`, old key names (`account`, `peer`) are accepted, ANSI colour codes are
//! stripped from response text.

use serde_json::{json, Map, Value};

/// A reply to one of our commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub token: Option<String>,
    /// Only means "the command exists and returned no error"; events are the truth.
    pub ok: bool,
    /// Human text (ANSI codes removed).
    pub data: String,
}

/// An event pushed by baresip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// `type`, e.g. `CALL_INCOMING`.
    pub kind: String,
    pub class: Option<String>,
    pub account_aor: Option<String>,
    pub direction: Option<String>,
    pub peer_uri: Option<String>,
    pub peer_display_name: Option<String>,
    /// The SIP Call-ID (missing in the first outgoing `CALL_LOCAL_SDP`).
    pub id: Option<String>,
    pub param: Option<String>,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Response(Response),
    Event(Event),
    /// Valid JSON of another kind (e.g. an incoming SIP MESSAGE), or not JSON at all.
    Other,
}

/// JSON of a command: `{"command":…,"params":…,"token":…}` (params only if given).
pub fn command_json(command: &str, params: Option<&str>, token: &str) -> Vec<u8> {
    let value = match params {
        Some(p) => json!({ "command": command, "params": p, "token": token }),
        None => json!({ "command": command, "token": token }),
    };
    value.to_string().into_bytes()
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

fn text(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match obj.get(*k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// Removes ANSI escape sequences (`ESC [ … letter`) and other control characters except
/// newlines and tabs.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        out.push(c);
    }
    out
}

/// Decodes one frame's payload; never fails (junk is [`Message::Other`]).
pub fn parse_message(payload: &[u8]) -> Message {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(payload) else {
        return Message::Other;
    };
    if truthy(obj.get("response")) {
        return Message::Response(Response {
            token: text(&obj, &["token"]),
            ok: truthy(obj.get("ok")),
            data: strip_ansi(&text(&obj, &["data"]).unwrap_or_default()),
        });
    }
    if truthy(obj.get("event")) {
        return Message::Event(Event {
            kind: text(&obj, &["type"]).unwrap_or_default(),
            class: text(&obj, &["class"]),
            account_aor: text(&obj, &["accountaor", "account"]),
            direction: text(&obj, &["direction"]),
            peer_uri: text(&obj, &["peeruri", "peer"]),
            peer_display_name: text(&obj, &["peerdisplayname"])
                .map(|s| strip_ansi(&s).trim().to_owned())
                .filter(|s| !s.is_empty()),
            id: text(&obj, &["id"]).filter(|s| !s.is_empty()),
            param: text(&obj, &["param"]),
        });
    }
    Message::Other
}

/// The user part of a SIP/tel URI: `sip:+15550001@127.0.0.1:5090` → `+15550001`. Accepts
/// `Name <uri>`, `sips:`, a nested `tel:` (`sip:tel:+1555@host`), URI parameters, and
/// percent-encoding. A SIP URI without a user part gives its host.
pub fn uri_user(uri: &str) -> String {
    let mut s = uri.trim();
    if let (Some(a), Some(b)) = (s.find('<'), s.rfind('>')) {
        if a < b {
            s = &s[a + 1..b];
        }
    }
    let lower = s.to_ascii_lowercase();
    for scheme in ["sips:", "sip:", "tel:"] {
        if lower.starts_with(scheme) {
            s = &s[scheme.len()..];
            break;
        }
    }
    let user = match s.find('@') {
        Some(i) => &s[..i],
        None => s,
    };
    let user = user.split(';').next().unwrap_or_default();
    let user = if user.to_ascii_lowercase().starts_with("tel:") {
        &user[4..]
    } else {
        user
    };
    percent_decode(user)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_frames() {
        let ev = br#"{"event":true,"type":"CALL_INCOMING","class":"call","accountaor":"sip:1001@127.0.0.1:5061","direction":"incoming","peeruri":"sip:+15550001@127.0.0.1:5090","peerdisplayname":"ACME Customer","id":"1-19980@127.0.0.1","param":"sip:+15550001@127.0.0.1:5090"}"#;
        let Message::Event(e) = parse_message(ev) else {
            panic!("not an event")
        };
        assert_eq!(e.kind, "CALL_INCOMING");
        assert_eq!(e.id.as_deref(), Some("1-19980@127.0.0.1"));
        assert_eq!(e.peer_display_name.as_deref(), Some("ACME Customer"));
        assert_eq!(e.direction.as_deref(), Some("incoming"));

        let resp = br#"{"response":true,"ok":true,"data":"\n--- User Agents (1) ---\n> sip:1001@127.0.0.1:5060  \u001B[32mOK \u001B[;m kamailio (5.6.3 (x86_64\/linux))\n","token":"agent-3"}"#;
        let Message::Response(r) = parse_message(resp) else {
            panic!("not a response")
        };
        assert_eq!(r.token.as_deref(), Some("agent-3"));
        assert!(r.ok);
        assert!(
            r.data.contains("OK  kamailio (5.6.3 (x86_64/linux))"),
            "{:?}",
            r.data
        );
        assert!(!r.data.contains('\u{1b}'));
    }

    #[test]
    fn tolerates_odd_shapes() {
        let Message::Event(e) =
            parse_message(br#"{"event":"true","type":"CALL_CLOSED","account":"sip:1@h","peer":"sip:2@h","extra":{"x":[1]}}"#)
        else {
            panic!("not an event")
        };
        assert_eq!(e.account_aor.as_deref(), Some("sip:1@h"));
        assert_eq!(e.peer_uri.as_deref(), Some("sip:2@h"));
        assert_eq!(e.id, None);
        assert_eq!(parse_message(b"not json"), Message::Other);
        assert_eq!(parse_message(b"[1,2]"), Message::Other);
        assert_eq!(
            parse_message(br#"{"message":true,"body":"hi"}"#),
            Message::Other
        );
        let Message::Response(r) = parse_message(br#"{"response":true,"ok":false}"#) else {
            panic!("not a response")
        };
        assert_eq!((r.ok, r.token, r.data.as_str()), (false, None, ""));
    }

    #[test]
    fn commands_are_json_with_escaping() {
        let cmd = command_json("dial", Some("sip:\"x\"@h"), "t1");
        let v: Value = serde_json::from_slice(&cmd).unwrap();
        assert_eq!(v["command"], "dial");
        assert_eq!(v["params"], "sip:\"x\"@h");
        assert_eq!(v["token"], "t1");
        let v: Value = serde_json::from_slice(&command_json("accept", None, "t2")).unwrap();
        assert!(v.get("params").is_none());
    }

    #[test]
    fn user_parts() {
        for (uri, user) in [
            ("sip:+15550001@127.0.0.1:5090", "+15550001"),
            ("sip:2002@127.0.0.1:5072", "2002"),
            ("\"ACME\" <sip:+15550001@127.0.0.1:5090>;tag=1", "+15550001"),
            ("sips:4000@pbx.example.com", "4000"),
            ("sip:tel:+15551234@127.0.0.1:5061", "+15551234"),
            ("sip:5551234;isub=1@h;user=phone", "5551234"),
            ("tel:+50640004000;ext=12", "+50640004000"),
            ("sip:%2B1555@h", "+1555"),
            ("sip:%ZZ@h", "%ZZ"),
            ("sip:127.0.0.1:5090", "127.0.0.1:5090"),
            ("", ""),
        ] {
            assert_eq!(uri_user(uri), user, "{uri}");
        }
    }

    #[test]
    fn strips_escape_sequences() {
        assert_eq!(strip_ansi("a\u{1b}[32mOK\u{1b}[;m b\u{7}\n"), "aOK b\n");
        assert_eq!(strip_ansi("\u{1b}"), "");
    }
}
