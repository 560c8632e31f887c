//! The WhatsApp Cloud API double over real sockets, with a real HTTP client (reqwest) and a real
//! webhook receiver: every route's happy path and errors (api-facts C3–C5), signatures checked by
//! a plain HMAC computation, the 24-hour window, faults, media expiry, template paging.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use enlace_sandbox::{
    BatchLayout, Fault, Inbound, InboundMedia, InboundMessage, StatusPlan, Template,
    WhatsAppConfig, WhatsAppDouble, WindowRule,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ----------------------------------------------------------------------------------------------
// Client

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .user_agent("enlace-test/1.0")
        .build()
        .expect("HTTP client")
}

fn finish(resp: reqwest::Result<reqwest::blocking::Response>) -> Reply {
    let resp = resp.expect("request");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.bytes().expect("body").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn bearer(wa: &WhatsAppDouble) -> String {
    format!("Bearer {}", wa.access_token())
}

fn send(wa: &WhatsAppDouble, body: &Value) -> Reply {
    let url = format!("{}/{}/messages", wa.graph_url(), wa.phone_number_id());
    finish(
        client()
            .post(url)
            .header("Authorization", bearer(wa))
            .json(body)
            .send(),
    )
}

fn get(wa: &WhatsAppDouble, url: &str) -> Reply {
    finish(client().get(url).header("Authorization", bearer(wa)).send())
}

fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
           "type": "text", "text": {"preview_url": false, "body": body}})
}

/// Asserts the C5 shape and returns the error object.
fn graph_error(reply: &Reply, http: u16, code: u64) -> Value {
    assert_eq!(
        reply.status,
        http,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    let err = body["error"].clone();
    assert_eq!(err["code"], json!(code), "{body}");
    assert!(err["message"].is_string(), "{body}");
    assert!(err["type"].is_string(), "{body}");
    assert!(err["fbtrace_id"].is_string(), "{body}");
    err
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    let mac = Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

// ----------------------------------------------------------------------------------------------
// A webhook receiver: records every request, answers with scripted statuses (then 200).

#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook JSON")
    }
}

#[derive(Default)]
struct HookState {
    received: Vec<Received>,
    script: Vec<u16>,
}

struct Hook {
    url: String,
    state: Arc<(Mutex<HookState>, Condvar)>,
}

impl Hook {
    fn start(verify_token: &'static str) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://127.0.0.1:{}/webhook",
            listener.local_addr().expect("addr").port()
        );
        let state: Arc<(Mutex<HookState>, Condvar)> = Arc::default();
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = Arc::clone(&st);
                std::thread::spawn(move || serve_hook(conn, &st, verify_token));
            }
        });
        Hook { url, state }
    }

    /// The next answers to POSTs, in order (200 after them).
    fn answer(&self, statuses: &[u16]) {
        self.state.0.lock().expect("lock").script = statuses.to_vec();
    }

    /// Waits until `n` POSTs arrived (or 20 s), returns all POSTs.
    fn wait(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut g = self.state.0.lock().expect("lock");
        loop {
            let posts: Vec<Received> = g
                .received
                .iter()
                .filter(|r| r.method == "POST")
                .cloned()
                .collect();
            if posts.len() >= n {
                return posts;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "only {} of {n} webhooks arrived",
                posts.len()
            );
            g = self
                .state
                .1
                .wait_timeout(g, deadline - now)
                .expect("wait")
                .0;
        }
    }

    /// The JSON of POSTs waited for, each checked against the app secret.
    fn wait_signed(&self, n: usize, secret: &str) -> Vec<Value> {
        self.wait(n)
            .iter()
            .map(|r| {
                let expected = format!("sha256={}", hmac_sha256(secret.as_bytes(), &r.body));
                assert_eq!(r.header("x-hub-signature-256"), Some(expected.as_str()));
                assert_eq!(r.header("content-type"), Some("application/json"));
                r.json()
            })
            .collect()
    }
}

fn serve_hook(conn: TcpStream, st: &Arc<(Mutex<HookState>, Condvar)>, verify_token: &str) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, reply) = if method == "GET" {
        let q: Vec<(String, String)> =
            form_urlencoded::parse(target.split_once('?').map(|x| x.1).unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let p = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if p("hub.mode").as_deref() == Some("subscribe")
            && p("hub.verify_token").as_deref() == Some(verify_token)
        {
            (200, p("hub.challenge").unwrap_or_default())
        } else {
            (403, String::new())
        }
    } else {
        let mut g = st.0.lock().expect("lock");
        let status = if g.script.is_empty() {
            200
        } else {
            g.script.remove(0)
        };
        (status, String::new())
    };
    {
        let mut g = st.0.lock().expect("lock");
        g.received.push(Received {
            method,
            target,
            headers,
            body,
        });
        st.1.notify_all();
    }
    let mut conn = conn;
    let _ = conn.write_all(
        format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .as_bytes(),
    );
}

fn double_with_hook() -> (WhatsAppDouble, Hook) {
    let hook = Hook::start("verify-me");
    let config = WhatsAppConfig {
        webhook_url: Some(hook.url.clone()),
        webhook_retry_base: Duration::from_millis(10),
        ..WhatsAppConfig::default()
    };
    let wa = WhatsAppDouble::start_with(0, config).expect("double");
    (wa, hook)
}

/// The `statuses[0]` of a status webhook.
fn status_of(v: &Value) -> &Value {
    &v["entry"][0]["changes"][0]["value"]["statuses"][0]
}

const CUSTOMER: &str = "5215512345678";

// ----------------------------------------------------------------------------------------------
// Sends

#[test]
fn a_text_send_replies_like_c3_and_is_followed_by_signed_sent_delivered_read() {
    let (wa, hook) = double_with_hook();
    wa.add_customer(CUSTOMER, "Ana");
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(60));
    let reply = send(&wa, &text("+52 1 55 1234 5678", "Hola Ana"));
    assert_eq!(reply.status, 200);
    let body = reply.json();
    let wamid = body["messages"][0]["id"]
        .as_str()
        .expect("wamid")
        .to_string();
    assert!(wamid.starts_with("wamid."));
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(
        body["contacts"],
        json!([{"input": "+52 1 55 1234 5678", "wa_id": CUSTOMER}])
    );
    assert!(body["messages"][0].get("message_status").is_none());

    let sent = wa.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].wamid, wamid);
    assert_eq!(sent[0].kind, "text");
    assert_eq!(sent[0].body, text("+52 1 55 1234 5678", "Hola Ana"));

    let hooks = hook.wait_signed(3, &wa.app_secret());
    let statuses: Vec<&str> = hooks
        .iter()
        .map(|h| status_of(h)["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);
    for h in &hooks {
        assert_eq!(h["object"], "whatsapp_business_account");
        assert_eq!(h["entry"][0]["id"], json!(wa.waba_id()));
        let value = &h["entry"][0]["changes"][0]["value"];
        assert_eq!(h["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(
            value["metadata"]["phone_number_id"],
            json!(wa.phone_number_id())
        );
        assert!(value.get("messages").is_none());
        let s = status_of(h);
        assert_eq!(s["id"], json!(wamid));
        assert_eq!(s["recipient_id"], CUSTOMER);
        assert!(s["timestamp"]
            .as_str()
            .expect("string")
            .parse::<u64>()
            .is_ok());
        assert_eq!(s["pricing"]["pricing_model"], "PMP");
        assert_eq!(s["pricing"]["category"], "service");
        assert_eq!(s["pricing"]["billable"], false);
    }
    // The signature is over the exact bytes: a re-serialization would be different bytes.
    let raw = &hook.wait(3)[0];
    let tampered = [&raw.body[..], b" "].concat();
    assert_ne!(
        raw.header("x-hub-signature-256"),
        Some(
            format!(
                "sha256={}",
                hmac_sha256(wa.app_secret().as_bytes(), &tampered)
            )
            .as_str()
        )
    );
}

#[test]
fn every_send_type_of_c3_is_accepted() {
    let (wa, _hook) = double_with_hook();
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    let audio_id = wa.put_media("audio/ogg", enlace_sandbox::opus_ogg_head(1));
    let pdf_id = wa.put_media("application/pdf", b"%PDF-1.7".to_vec());
    let base = |kind: &str, obj: Value| {
        let mut v = json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": kind});
        v[kind] = obj;
        v
    };
    let bodies = vec![
        base("audio", json!({"id": audio_id, "voice": true})),
        base(
            "image",
            json!({"link": "https://example.com/a.jpg", "caption": "Mire"}),
        ),
        base("video", json!({"link": "https://example.com/a.mp4"})),
        base(
            "document",
            json!({"id": pdf_id, "caption": "Cotización", "filename": "quote.pdf"}),
        ),
        base("sticker", json!({"link": "https://example.com/s.webp"})),
        base(
            "location",
            json!({"latitude": "19.43", "longitude": "-99.13", "name": "Oficina", "address": "Reforma 1"}),
        ),
        base("reaction", json!({"message_id": "wamid.X", "emoji": "👍"})),
        base("reaction", json!({"message_id": "wamid.X", "emoji": ""})),
        json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "contacts",
               "contacts": [{"name": {"formatted_name": "Soporte", "first_name": "Soporte"},
                             "phones": [{"phone": "+525555555555", "type": "WORK"}]}]}),
        base(
            "interactive",
            json!({"type": "button", "body": {"text": "¿Le llamamos?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Sí"}},
                                   {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}),
        ),
        base(
            "interactive",
            json!({"type": "list", "body": {"text": "Elija"},
            "action": {"button": "Opciones", "sections": [{"title": "A",
                "rows": [{"id": "r1", "title": "Uno", "description": "d"}]}]}}),
        ),
        // `type` left out: Meta defaults it to text; a reply context is accepted.
        json!({"messaging_product": "whatsapp", "to": CUSTOMER, "context": {"message_id": "wamid.Y"},
               "text": {"body": "sin type"}}),
    ];
    for b in &bodies {
        let r = send(&wa, b);
        assert_eq!(r.status, 200, "{b}: {}", String::from_utf8_lossy(&r.body));
    }
    let kinds: Vec<String> = wa.sent_messages().into_iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            "audio",
            "image",
            "video",
            "document",
            "sticker",
            "location",
            "reaction",
            "reaction",
            "contacts",
            "interactive",
            "interactive",
            "text"
        ]
    );
}

#[test]
fn invalid_sends_get_meta_errors_in_the_c5_shape_and_nothing_is_recorded() {
    let (wa, _hook) = double_with_hook();
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    let cases: Vec<(Value, u64)> = vec![
        (
            json!({"to": CUSTOMER, "type": "text", "text": {"body": "x"}}),
            100,
        ),
        (
            json!({"messaging_product": "sms", "to": CUSTOMER, "text": {"body": "x"}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": "not-a-number", "text": {"body": "x"}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text"}),
            131008,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {}}),
            131008,
        ),
        (text(CUSTOMER, &"a".repeat(4097)), 100),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "fax", "fax": {}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {"id": "999"}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "audio", "audio": {"link": "https://e.com/a.ogg", "caption": "no"}}),
            100,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "location", "location": {"latitude": 1}}),
            131008,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "reaction", "reaction": {"emoji": "👍"}}),
            131008,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "contacts", "contacts": [{"phones": []}]}),
            131008,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "interactive", "interactive": {"type": "button",
            "body": {"text": "x"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A title that is far too long"}}]}}}),
            131009,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
                "template": {"name": "no_such_template", "language": {"code": "es_MX"}}}),
            132001,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
                "template": {"name": "seguimiento_llamada", "language": {"code": "es_MX"}}}),
            132000,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
                "template": {"name": "promo_temporada", "language": {"code": "es_MX"}}}),
            132015,
        ),
        (
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
                "template": {"name": "aviso_antiguo", "language": {"code": "es"}}}),
            132016,
        ),
    ];
    for (body, code) in cases {
        let r = send(&wa, &body);
        let err = graph_error(&r, 400, code);
        if code != 100 || err.get("error_data").is_some() {
            assert_eq!(err["error_data"]["messaging_product"], "whatsapp", "{err}");
            assert!(err["error_data"]["details"].is_string(), "{err}");
        }
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("(#{code})"))),
            "{err}"
        );
    }
    assert!(wa.sent_messages().is_empty());
    // Not JSON at all.
    let url = format!("{}/{}/messages", wa.graph_url(), wa.phone_number_id());
    let r = finish(
        client()
            .post(&url)
            .header("Authorization", bearer(&wa))
            .body("{not json")
            .send(),
    );
    graph_error(&r, 400, 100);
    // An unknown phone-number id.
    let r = finish(
        client()
            .post(format!("{}/123456/messages", wa.graph_url()))
            .header("Authorization", bearer(&wa))
            .json(&text(CUSTOMER, "x"))
            .send(),
    );
    let err = graph_error(&r, 400, 100);
    assert_eq!(err["error_subcode"], 33);
    assert_eq!(err["type"], "GraphMethodException");
}

#[test]
fn tokens_missing_wrong_or_expired_get_190() {
    let (wa, _hook) = double_with_hook();
    let url = format!("{}/{}/messages", wa.graph_url(), wa.phone_number_id());
    let none = finish(client().post(&url).json(&text(CUSTOMER, "x")).send());
    graph_error(&none, 401, 190);
    let wrong = finish(
        client()
            .post(&url)
            .header("Authorization", "Bearer nope")
            .json(&text(CUSTOMER, "x"))
            .send(),
    );
    let err = graph_error(&wrong, 401, 190);
    assert!(err.get("error_subcode").is_none());
    wa.expire_token(&wa.access_token());
    let expired = send(&wa, &text(CUSTOMER, "x"));
    let err = graph_error(&expired, 401, 190);
    assert_eq!(err["error_subcode"], 463);
    // Another token still works everywhere.
    wa.add_token("second-token");
    let r = finish(
        client()
            .get(format!("{}/{}", wa.graph_url(), wa.phone_number_id()))
            .header("Authorization", "Bearer second-token")
            .send(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], json!(wa.phone_number_id()));
    assert!(wa.sent_messages().is_empty());
}

#[test]
fn mark_as_read_with_typing_indicator_answers_success() {
    let (wa, hook) = double_with_hook();
    let wamid = wa.customer_sends(CUSTOMER, Inbound::Text("Hola".into()));
    hook.wait(1);
    let r = send(
        &wa,
        &json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid,
                "typing_indicator": {"type": "text"}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"success": true}));
    let marks = wa.read_marks();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].message_id, wamid);
    assert!(marks[0].typing_indicator);
    let r = send(
        &wa,
        &json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown"}),
    );
    graph_error(&r, 400, 100);
    assert!(wa.sent_messages().is_empty());
}

#[test]
fn wa_ids_follow_the_mexican_and_brazilian_forms() {
    let (wa, _hook) = double_with_hook();
    // Registered Brazilian account without the ninth digit; sent with it.
    wa.add_customer("551187654321", "João");
    wa.set_last_inbound("551187654321", Duration::from_secs(1));
    let r = send(&wa, &text("+55 11 98765 4321", "Olá"));
    assert_eq!(r.json()["contacts"][0]["wa_id"], "551187654321");
    // Mexico: 52 + 10 digits is the 521 account.
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    let r = send(&wa, &text("525512345678", "Hola"));
    assert_eq!(
        r.json()["contacts"][0],
        json!({"input": "525512345678", "wa_id": CUSTOMER})
    );
    // Anyone else: the digits.
    let r = send(&wa, &text("+57 310 555 0102", "Hola"));
    assert_eq!(r.json()["contacts"][0]["wa_id"], "573105550102");
}

// ----------------------------------------------------------------------------------------------
// The 24-hour window

#[test]
fn outside_the_window_free_form_fails_with_131047_and_templates_pass() {
    let (wa, hook) = double_with_hook();
    let secret = wa.app_secret();
    // Never wrote: 200 + wamid, then a failed status with 131047 (no sent/delivered).
    let r = send(&wa, &text(CUSTOMER, "Hola"));
    assert_eq!(r.status, 200);
    let wamid = r.json()["messages"][0]["id"].clone();
    let hooks = hook.wait_signed(1, &secret);
    let s = status_of(&hooks[0]);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["id"], wamid);
    assert_eq!(s["errors"][0]["code"], 131047);
    assert_eq!(s["errors"][0]["title"], "Re-engagement message");
    assert!(s["errors"][0]["error_data"]["details"].is_string());
    assert!(s["errors"][0]["href"].is_string());

    // A template is always allowed: accepted, with message_status, and delivered.
    let tpl = json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
        "template": {"name": "seguimiento_llamada", "language": {"code": "es_MX"},
                     "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}});
    let r = send(&wa, &tpl);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["messages"][0]["message_status"], "accepted");
    let hooks = hook.wait_signed(4, &secret);
    let s = status_of(&hooks[1]);
    assert_eq!(s["status"], "sent");
    assert_eq!(s["pricing"]["category"], "utility");
    assert_eq!(s["pricing"]["billable"], true);

    // The customer writes: the window opens and free-form goes through.
    wa.customer_sends(CUSTOMER, Inbound::Text("Sí, gracias".into()));
    assert!(wa.window_open(CUSTOMER));
    hook.wait(5);
    let r = send(&wa, &text(CUSTOMER, "De nada"));
    assert_eq!(r.status, 200);
    let hooks = hook.wait_signed(8, &secret);
    assert_eq!(status_of(&hooks[5])["status"], "sent");

    // 24 hours later it is closed again; synchronous mode refuses with 400.
    wa.advance_clock(Duration::from_secs(24 * 3600 + 1));
    assert!(!wa.window_open(CUSTOMER));
    wa.set_window_rule(WindowRule::Synchronous);
    let r = send(&wa, &text(CUSTOMER, "¿Sigue ahí?"));
    let err = graph_error(&r, 400, 131047);
    assert_eq!(err["message"], "(#131047) Re-engagement message");
    assert_eq!(err["error_data"]["messaging_product"], "whatsapp");
    assert_eq!(wa.sent_messages().len(), 3);
}

// ----------------------------------------------------------------------------------------------
// Faults

#[test]
fn faults_on_demand_refuse_or_fail_the_next_send() {
    let (wa, hook) = double_with_hook();
    let secret = wa.app_secret();
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    wa.reject_next_send(130429);
    let err = graph_error(&send(&wa, &text(CUSTOMER, "a")), 400, 130429);
    assert_eq!(err["error_subcode"], 2_494_055);
    assert_eq!(
        err["error_data"]["details"],
        "Cloud API message throughput has been reached."
    );
    wa.reject_next_send(131056);
    graph_error(&send(&wa, &text(CUSTOMER, "b")), 400, 131056);
    wa.reject_next_send(190);
    graph_error(&send(&wa, &text(CUSTOMER, "c")), 401, 190);
    wa.reject_next_send_with_status(131026, 400);
    graph_error(&send(&wa, &text(CUSTOMER, "d")), 400, 131026);
    wa.reject_next_send(131000);
    graph_error(&send(&wa, &text(CUSTOMER, "e")), 500, 131000);
    wa.reject_next_send(424242);
    graph_error(&send(&wa, &text(CUSTOMER, "f")), 400, 424242);
    assert!(wa.sent_messages().is_empty());

    // Accepted, then failed: 131026 and 131053.
    wa.fail_next_send(131026);
    assert_eq!(send(&wa, &text(CUSTOMER, "g")).status, 200);
    wa.fail_next_send(131053);
    let img = json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image",
                     "image": {"link": "https://example.com/a.jpg"}});
    assert_eq!(send(&wa, &img).status, 200);
    let hooks = hook.wait_signed(2, &secret);
    let codes: Vec<&Value> = hooks
        .iter()
        .map(|h| &status_of(h)["errors"][0]["code"])
        .collect();
    assert_eq!(codes, [&json!(131026), &json!(131053)]);
    assert!(hooks.iter().all(|h| status_of(h)["status"] == "failed"));

    // Transport faults: 5xx, a reply lost after the send was committed.
    wa.inject(Fault::ServerErrors(1));
    graph_error(&send(&wa, &text(CUSTOMER, "h")), 500, 131000);
    wa.inject(Fault::DropReplyAfterCommit);
    let url = format!("{}/{}/messages", wa.graph_url(), wa.phone_number_id());
    let lost = client()
        .post(url)
        .header("Authorization", bearer(&wa))
        .json(&text(CUSTOMER, "i"))
        .send();
    assert!(lost.is_err());
    let sent = wa.sent_messages();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].body["text"]["body"], "i");
    // ... and its statuses still arrive.
    let hooks = hook.wait_signed(5, &secret);
    assert!(hooks[2..]
        .iter()
        .all(|h| status_of(h)["id"] == json!(sent[2].wamid)));
    wa.inject(Fault::SlowReply(Duration::from_millis(10)));
    assert_eq!(send(&wa, &text(CUSTOMER, "j")).status, 200);
    wa.inject(Fault::StallBeforeCommit(Duration::from_millis(10)));
    assert_eq!(send(&wa, &text(CUSTOMER, "k")).status, 200);
    wa.inject(Fault::HtmlErrorPage);
    let html = send(&wa, &text(CUSTOMER, "l"));
    assert_eq!(html.status, 502);
    assert!(html
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    wa.inject(Fault::Truncated);
    let cut = send(&wa, &text(CUSTOMER, "m"));
    assert_eq!(cut.status, 200);
    assert!(serde_json::from_slice::<Value>(&cut.body).is_err());
    wa.inject(Fault::DropConnection);
    let url = format!("{}/{}/messages", wa.graph_url(), wa.phone_number_id());
    let dropped = client()
        .post(url)
        .header("Authorization", bearer(&wa))
        .json(&text(CUSTOMER, "n"))
        .send();
    assert!(dropped.is_err());
    let bodies: Vec<Value> = wa
        .sent_messages()
        .iter()
        .map(|s| s.body["text"]["body"].clone())
        .collect();
    // The truncated reply's send was committed; the dropped connection's was not.
    // (The image send in between has no text body.)
    assert_eq!(Value::from(bodies), json!(["g", null, "i", "j", "k", "m"]));
}

#[test]
fn the_control_route_makes_a_customer_write_and_moves_the_clock() {
    let (wa, hook) = double_with_hook();
    let r = finish(
        client()
            .post(format!("{}/_sandbox/customers/5215500001111/messages", wa.base_url()))
            .json(&json!({"type": "text", "text": {"body": "Hola desde fuera"}, "profile_name": "Rosa"}))
            .send(),
    );
    assert_eq!(r.status, 200);
    let id = r.json()["id"].as_str().expect("id").to_string();
    let got = hook.wait_signed(1, &wa.app_secret());
    let value = &got[0]["entry"][0]["changes"][0]["value"];
    assert_eq!(value["messages"][0]["id"], json!(id));
    assert_eq!(value["messages"][0]["from"], "5215500001111");
    assert_eq!(value["messages"][0]["text"]["body"], "Hola desde fuera");
    assert!(value["messages"][0]["timestamp"].is_string());
    assert_eq!(value["contacts"][0]["profile"]["name"], "Rosa");
    assert!(wa.window_open("5215500001111"));
    let r = finish(
        client()
            .post(format!("{}/_sandbox/clock", wa.base_url()))
            .json(&json!({"advance_seconds": 86_401}))
            .send(),
    );
    assert_eq!(r.status, 200);
    assert!(!wa.window_open("5215500001111"));
    let bad = finish(
        client()
            .post(format!("{}/_sandbox/customers/abc/messages", wa.base_url()))
            .json(&json!({"type": "text"}))
            .send(),
    );
    graph_error(&bad, 400, 100);
    let no_type = finish(
        client()
            .post(format!(
                "{}/_sandbox/customers/5215500001111/messages",
                wa.base_url()
            ))
            .json(&json!({"text": {"body": "x"}}))
            .send(),
    );
    graph_error(&no_type, 400, 131008);
    let unknown = finish(
        client()
            .post(format!("{}/_sandbox/nope", wa.base_url()))
            .json(&json!({}))
            .send(),
    );
    assert_eq!(unknown.status, 404);
}

// ----------------------------------------------------------------------------------------------
// Media

fn upload(wa: &WhatsAppDouble, mime: &str, bytes: Vec<u8>, product: Option<&str>) -> Reply {
    let mut form = reqwest::blocking::multipart::Form::new().text("type", mime.to_string());
    if let Some(p) = product {
        form = form.text("messaging_product", p.to_string());
    }
    let part = reqwest::blocking::multipart::Part::bytes(bytes)
        .file_name("file.bin")
        .mime_str(mime)
        .expect("mime");
    form = form.part("file", part);
    finish(
        client()
            .post(format!("{}/{}/media", wa.graph_url(), wa.phone_number_id()))
            .header("Authorization", bearer(wa))
            .multipart(form)
            .send(),
    )
}

#[test]
fn media_upload_url_download_expiry_and_delete() {
    let (wa, _hook) = double_with_hook();
    let bytes: Vec<u8> = enlace_sandbox::opus_ogg_head(1)
        .into_iter()
        .chain(0..200u8)
        .collect();
    let r = upload(&wa, "audio/ogg", bytes.clone(), Some("whatsapp"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().expect("id").to_string();
    assert!(id.chars().all(|c| c.is_ascii_digit()));
    // The double keeps what was uploaded, file name included.
    let kept = wa.media_file(&id).expect("kept");
    assert_eq!(kept.mime_type, "audio/ogg");
    assert_eq!(kept.filename.as_deref(), Some("file.bin"));
    assert_eq!(kept.bytes, bytes);

    let info = get(&wa, &format!("{}/{id}", wa.graph_url()));
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["id"], json!(id));
    assert_eq!(info["mime_type"], "audio/ogg");
    assert_eq!(info["file_size"], json!(bytes.len()));
    let sum: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(info["sha256"], json!(sum));
    let url = info["url"].as_str().expect("url").to_string();
    assert!(url.starts_with(&wa.base_url()));

    // The download needs the Bearer token and a User-Agent.
    let file = get(&wa, &url);
    assert_eq!(file.status, 200);
    assert_eq!(file.body, bytes);
    assert_eq!(file.header("content-type"), Some("audio/ogg"));
    let anonymous = finish(client().get(&url).send());
    graph_error(&anonymous, 401, 190);
    let bare = reqwest::blocking::Client::builder()
        .build()
        .expect("client without User-Agent");
    let no_ua = finish(bare.get(&url).header("Authorization", bearer(&wa)).send());
    assert_eq!(no_ua.status, 200);
    assert!(no_ua
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert_ne!(no_ua.body, bytes);
    // A forged hash is refused.
    let forged = url.replace("hash=", "hash=00");
    assert_eq!(get(&wa, &forged).status, 404);

    // Five minutes later the URL is dead; a fresh one works.
    wa.advance_clock(Duration::from_secs(5 * 60 + 1));
    assert_eq!(get(&wa, &url).status, 404);
    let fresh = get(&wa, &format!("{}/{id}", wa.graph_url())).json()["url"]
        .as_str()
        .expect("url")
        .to_string();
    assert_ne!(fresh, url);
    assert_eq!(get(&wa, &fresh).body, bytes);
    // A shorter lifetime is configurable.
    wa.set_media_url_lifetime(Duration::from_secs(0));
    let instant = get(&wa, &format!("{}/{id}", wa.graph_url())).json()["url"]
        .as_str()
        .expect("url")
        .to_string();
    assert_eq!(get(&wa, &instant).status, 404);

    // Ownership check and delete.
    let other = get(&wa, &format!("{}/{id}?phone_number_id=999", wa.graph_url()));
    graph_error(&other, 400, 100);
    let del = finish(
        client()
            .delete(format!("{}/{id}", wa.graph_url()))
            .header("Authorization", bearer(&wa))
            .send(),
    );
    assert_eq!(del.json(), json!({"success": true}));
    graph_error(&get(&wa, &format!("{}/{id}", wa.graph_url())), 400, 100);
    assert!(wa.media_bytes(&id).is_none());
}

#[test]
fn media_uploads_are_checked_like_meta() {
    let (wa, _hook) = double_with_hook();
    graph_error(&upload(&wa, "audio/ogg", b"OggS".to_vec(), None), 400, 100);
    graph_error(
        &upload(&wa, "audio/ogg", b"OggS".to_vec(), Some("sms")),
        400,
        100,
    );
    let gif = upload(&wa, "image/gif", b"GIF89a".to_vec(), Some("whatsapp"));
    let err = graph_error(&gif, 400, 100);
    assert!(err["error_data"]["details"]
        .as_str()
        .is_some_and(|d| d.contains("image/gif")));
    // A static sticker over 100 KB, an image over 5 MB.
    graph_error(
        &upload(
            &wa,
            "image/webp",
            vec![0u8; 100 * 1024 + 1],
            Some("whatsapp"),
        ),
        400,
        131053,
    );
    graph_error(
        &upload(
            &wa,
            "image/jpeg",
            vec![0u8; 5 * 1024 * 1024 + 1],
            Some("whatsapp"),
        ),
        400,
        131053,
    );
    assert_eq!(
        upload(
            &wa,
            "image/jpeg",
            vec![0xFFu8; 5 * 1024 * 1024],
            Some("whatsapp")
        )
        .status,
        200
    );
    // Audio/ogg must be mono OPUS: Vorbis, stereo, or not OGG at all is a media upload error.
    let mut vorbis = enlace_sandbox::opus_ogg_head(1);
    vorbis[28..36].copy_from_slice(b"\x01vorbis\0");
    for bad in [
        vorbis,
        enlace_sandbox::opus_ogg_head(2),
        b"ID3\x04\0\0".to_vec(),
        b"OggS".to_vec(),
    ] {
        let err = graph_error(
            &upload(&wa, "audio/ogg", bad, Some("whatsapp")),
            400,
            131053,
        );
        assert_eq!(err["message"], "(#131053) Media upload error");
    }
    assert_eq!(
        upload(
            &wa,
            "audio/ogg",
            enlace_sandbox::opus_ogg_head(1),
            Some("whatsapp")
        )
        .status,
        200
    );
    // No file part at all.
    let form = reqwest::blocking::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", "image/jpeg");
    let r = finish(
        client()
            .post(format!("{}/{}/media", wa.graph_url(), wa.phone_number_id()))
            .header("Authorization", bearer(&wa))
            .multipart(form)
            .send(),
    );
    graph_error(&r, 400, 100);
    // Not multipart.
    let r = finish(
        client()
            .post(format!("{}/{}/media", wa.graph_url(), wa.phone_number_id()))
            .header("Authorization", bearer(&wa))
            .json(&json!({"file": "x"}))
            .send(),
    );
    graph_error(&r, 400, 100);
}

#[test]
fn an_uploaded_file_of_another_kind_is_accepted_then_fails_with_131053() {
    let (wa, hook) = double_with_hook();
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    let pdf = wa.put_media("application/pdf", b"%PDF".to_vec());
    let r = send(
        &wa,
        &json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {"id": pdf}}),
    );
    assert_eq!(r.status, 200);
    let hooks = hook.wait_signed(1, &wa.app_secret());
    assert_eq!(status_of(&hooks[0])["errors"][0]["code"], 131053);
}

#[test]
fn a_voice_note_that_is_not_ogg_opus_is_accepted_then_fails_with_131053() {
    let (wa, hook) = double_with_hook();
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    wa.set_status_plan(StatusPlan {
        delivered: None,
        read: None,
        ..StatusPlan::default()
    });
    let mp3 = wa.put_media("audio/mpeg", b"ID3\x04\0\0\0\0".to_vec());
    let ogg = wa.put_media("audio/ogg", enlace_sandbox::opus_ogg_head(1));
    let audio = |id: &str, voice: bool| {
        json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "audio",
               "audio": {"id": id, "voice": voice}})
    };
    // The same MP3 as plain audio goes; as a voice note it fails; the OGG/OPUS one goes.
    for body in [audio(&mp3, false), audio(&mp3, true), audio(&ogg, true)] {
        assert_eq!(send(&wa, &body).status, 200);
    }
    let hooks = hook.wait_signed(3, &wa.app_secret());
    let failed: Vec<&Value> = hooks
        .iter()
        .map(status_of)
        .filter(|s| s["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{hooks:?}");
    assert_eq!(failed[0]["errors"][0]["code"], 131053);
    let sent = wa.sent_messages();
    assert_eq!(failed[0]["id"], json!(sent[1].wamid));
}

// ----------------------------------------------------------------------------------------------
// Customers

fn messages_of(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for e in v["entry"].as_array().expect("entry") {
        for c in e["changes"].as_array().expect("changes") {
            out.extend(
                c["value"]["messages"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    out
}

#[test]
fn every_inbound_type_arrives_signed_in_the_c2_shape() {
    let (wa, hook) = double_with_hook();
    wa.add_customer(CUSTOMER, "Ana Martínez");
    let secret = wa.app_secret();
    let business = send_template(&wa);
    let contents = vec![
        Inbound::Text("¿Tienen otro color?".into()),
        Inbound::Media(InboundMedia::image(Some("Así llegó"))),
        Inbound::Media(InboundMedia::voice_note()),
        Inbound::Media(InboundMedia::audio_file()),
        Inbound::Media(InboundMedia::video(None)),
        Inbound::Media(InboundMedia::document("factura.pdf", Some("Mi factura"))),
        Inbound::Media(InboundMedia::sticker(true)),
        Inbound::Location {
            latitude: 19.43,
            longitude: -99.13,
            name: None,
            address: None,
            url: None,
        },
        Inbound::Location {
            latitude: 19.43,
            longitude: -99.13,
            name: Some("Café".into()),
            address: Some("Reforma 1".into()),
            url: Some("https://example.com".into()),
        },
        Inbound::Contacts(
            json!([{"name": {"formatted_name": "Beto"}, "phones": [{"phone": "+52 55 0000 0000", "wa_id": "5215500000000"}]}]),
        ),
        Inbound::ButtonReply {
            id: "yes".into(),
            title: "Sí".into(),
        },
        Inbound::ListReply {
            id: "r1".into(),
            title: "Uno".into(),
            description: Some("d".into()),
        },
        Inbound::FlowReply {
            name: "flow".into(),
            body: "Sent".into(),
            response_json: "{\"a\":1}".into(),
        },
        Inbound::TemplateButton {
            text: "Dejar de recibir".into(),
            payload: "STOP".into(),
        },
        Inbound::Reaction {
            message_id: business.clone(),
            emoji: Some("👍".into()),
        },
        Inbound::Reaction {
            message_id: business.clone(),
            emoji: None,
        },
        Inbound::Order {
            catalog_id: "cat1".into(),
            text: Some("Lo quiero".into()),
            product_items: json!([{"product_retailer_id": "sku1", "quantity": 2, "item_price": 10.5, "currency": "MXN"}]),
        },
        Inbound::NumberChanged {
            new_wa_id: "5215599999999".into(),
        },
        Inbound::Unsupported,
    ];
    let n = contents.len();
    let mut ids = Vec::new();
    for (i, c) in contents.into_iter().enumerate() {
        let m = InboundMessage::new(CUSTOMER, c);
        let m = if (10..14).contains(&i) {
            m.reply_to(&business)
        } else {
            m
        };
        ids.push(wa.customer_sends_message(m));
    }
    // The template's statuses come too: filter them out.
    let hooks = hook.wait_signed(n + 3, &secret);
    let msgs: Vec<Value> = hooks.iter().flat_map(messages_of).collect();
    assert_eq!(msgs.len(), n);
    let by_id = |id: &str| {
        msgs.iter()
            .find(|m| m["id"] == id)
            .expect("message")
            .clone()
    };
    for id in &ids {
        let m = by_id(id);
        assert_eq!(m["from"], CUSTOMER);
        assert!(m["timestamp"]
            .as_str()
            .expect("string")
            .parse::<u64>()
            .is_ok());
    }
    let types: Vec<String> = ids
        .iter()
        .map(|id| by_id(id)["type"].as_str().expect("type").to_string())
        .collect();
    assert_eq!(
        types,
        [
            "text",
            "image",
            "audio",
            "audio",
            "video",
            "document",
            "sticker",
            "location",
            "location",
            "contacts",
            "interactive",
            "interactive",
            "interactive",
            "button",
            "reaction",
            "reaction",
            "order",
            "system",
            "unsupported"
        ]
    );
    assert_eq!(by_id(&ids[0])["text"]["body"], "¿Tienen otro color?");
    let image = by_id(&ids[1]);
    assert_eq!(image["image"]["caption"], "Así llegó");
    assert_eq!(image["image"]["mime_type"], "image/jpeg");
    assert_eq!(by_id(&ids[2])["audio"]["voice"], true);
    assert_eq!(
        by_id(&ids[2])["audio"]["mime_type"],
        "audio/ogg; codecs=opus"
    );
    assert_eq!(by_id(&ids[3])["audio"]["voice"], false);
    assert_eq!(by_id(&ids[5])["document"]["filename"], "factura.pdf");
    assert_eq!(by_id(&ids[6])["sticker"]["animated"], true);
    assert!(by_id(&ids[7])["location"].get("name").is_none());
    assert_eq!(by_id(&ids[8])["location"]["name"], "Café");
    assert_eq!(
        by_id(&ids[9])["contacts"][0]["name"]["formatted_name"],
        "Beto"
    );
    let button = by_id(&ids[10]);
    assert_eq!(
        button["interactive"]["button_reply"],
        json!({"id": "yes", "title": "Sí"})
    );
    assert_eq!(button["context"]["id"], json!(business));
    assert_eq!(button["context"]["from"], json!(wa.display_phone_number()));
    assert_eq!(by_id(&ids[11])["interactive"]["type"], "list_reply");
    assert_eq!(
        by_id(&ids[12])["interactive"]["nfm_reply"]["response_json"],
        "{\"a\":1}"
    );
    assert_eq!(by_id(&ids[13])["button"]["payload"], "STOP");
    assert_eq!(by_id(&ids[14])["reaction"]["emoji"], "👍");
    assert!(by_id(&ids[15])["reaction"].get("emoji").is_none());
    assert_eq!(by_id(&ids[16])["order"]["product_items"][0]["quantity"], 2);
    assert_eq!(by_id(&ids[17])["system"]["new_wa_id"], "5215599999999");
    assert_eq!(by_id(&ids[18])["errors"][0]["code"], 131051);
    // The profile name rides along.
    let with_text = hooks
        .iter()
        .find(|h| {
            messages_of(h)
                .first()
                .is_some_and(|m| m["id"] == json!(ids[0]))
        })
        .expect("hook");
    assert_eq!(
        with_text["entry"][0]["changes"][0]["value"]["contacts"][0],
        json!({"profile": {"name": "Ana Martínez"}, "wa_id": CUSTOMER})
    );
    // Media received can be fetched with the token.
    let media_id = image["image"]["id"].as_str().expect("id");
    let info = get(&wa, &format!("{}/{media_id}", wa.graph_url())).json();
    let file = get(&wa, info["url"].as_str().expect("url"));
    assert_eq!(Some(file.body), wa.media_bytes(media_id));
    assert_eq!(wa.inbound_messages().len(), n);
}

fn send_template(wa: &WhatsAppDouble) -> String {
    let r = send(
        wa,
        &json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}}}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["messages"][0]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[test]
fn batches_pack_several_messages_entries_and_changes_into_one_post() {
    let (wa, hook) = double_with_hook();
    let secret = wa.app_secret();
    let two = |a: &str, b: &str| {
        vec![
            InboundMessage::new(CUSTOMER, Inbound::Text(a.into())),
            InboundMessage::new("573105550102", Inbound::Text(b.into())).forwarded(),
        ]
    };
    wa.customer_sends_batch(BatchLayout::OneChange, two("1", "2"));
    wa.customer_sends_batch(BatchLayout::ChangePerMessage, two("3", "4"));
    wa.customer_sends_batch(BatchLayout::EntryPerMessage, two("5", "6"));
    let hooks = hook.wait_signed(3, &secret);
    let value = &hooks[0]["entry"][0]["changes"][0]["value"];
    assert_eq!(value["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(value["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(value["messages"][1]["context"]["forwarded"], true);
    assert_eq!(
        hooks[1]["entry"][0]["changes"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(hooks[2]["entry"].as_array().map(Vec::len), Some(2));
    let bodies: Vec<Value> = hooks
        .iter()
        .flat_map(messages_of)
        .map(|m| m["text"]["body"].clone())
        .collect();
    assert_eq!(bodies, ["1", "2", "3", "4", "5", "6"]);
    assert!(wa.window_open("573105550102"));
}

#[test]
fn webhooks_are_retried_until_200_and_redelivered_byte_for_byte() {
    let (wa, hook) = double_with_hook();
    hook.answer(&[500, 503]);
    let id = wa.customer_sends(CUSTOMER, Inbound::Text("Hola".into()));
    let got = hook.wait(3);
    assert!(wa.wait_webhooks_idle(Duration::from_secs(20)));
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert!(got
        .iter()
        .all(|r| r.header("x-hub-signature-256") == got[0].header("x-hub-signature-256")));
    let log = wa.webhooks();
    assert_eq!(log[0].attempts, [Some(500), Some(503), Some(200)]);
    assert!(log[0].acknowledged);
    // A duplicate, as after a lost 200: same bytes, same wamid.
    assert!(wa.redeliver(0));
    let got = hook.wait(4);
    assert_eq!(got[3].body, got[0].body);
    assert_eq!(messages_of(&got[3].json())[0]["id"], json!(id));
    assert!(!wa.redeliver(99));
}

#[test]
fn a_webhook_nobody_answers_is_given_up_after_the_configured_attempts() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
    drop(listener); // nothing listens there any more
    let config = WhatsAppConfig {
        webhook_url: Some(url),
        webhook_retry_base: Duration::from_millis(1),
        webhook_max_attempts: 3,
        ..WhatsAppConfig::default()
    };
    let wa = WhatsAppDouble::start_with(0, config).expect("double");
    wa.customer_sends(CUSTOMER, Inbound::Text("¿Hay alguien?".into()));
    assert!(wa.wait_webhooks_idle(Duration::from_secs(20)));
    assert_eq!(wa.webhooks()[0].attempts, [None, None, None]);
    assert!(!wa.webhooks()[0].acknowledged);
}

#[test]
fn statuses_can_come_out_of_order_and_twice() {
    let (wa, hook) = double_with_hook();
    wa.set_last_inbound(CUSTOMER, Duration::from_secs(1));
    wa.set_status_plan(StatusPlan {
        out_of_order: true,
        duplicate: true,
        ..StatusPlan::default()
    });
    assert_eq!(send(&wa, &text(CUSTOMER, "x")).status, 200);
    let hooks = hook.wait_signed(6, &wa.app_secret());
    let order: Vec<&str> = hooks
        .iter()
        .map(|h| status_of(h)["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        order,
        ["read", "read", "delivered", "delivered", "sent", "sent"]
    );
    // A plan without read receipts.
    wa.set_status_plan(StatusPlan {
        read: None,
        ..StatusPlan::default()
    });
    assert_eq!(send(&wa, &text(CUSTOMER, "y")).status, 200);
    let hooks = hook.wait(8);
    assert_eq!(hooks.len(), 8);
    let wamid = wa.sent_messages()[1].wamid.clone();
    assert!(wa.post_status(&wamid, "read"));
    let hooks = hook.wait_signed(9, &wa.app_secret());
    assert_eq!(status_of(&hooks[8])["status"], "read");
}

#[test]
fn webhooks_wait_for_a_url_and_the_endpoint_can_be_verified() {
    let wa = WhatsAppDouble::start().expect("double");
    wa.customer_sends(CUSTOMER, Inbound::Text("antes".into()));
    assert_eq!(wa.webhooks().len(), 1);
    let hook = Hook::start("verify-me");
    assert_eq!(wa.verify_webhook(&hook.url, "verify-me"), Ok(true));
    assert_eq!(wa.verify_webhook(&hook.url, "wrong"), Ok(false));
    let gets: Vec<Received> = hook
        .state
        .0
        .lock()
        .expect("lock")
        .received
        .iter()
        .filter(|r| r.method == "GET")
        .cloned()
        .collect();
    assert!(gets[0].target.contains("hub.mode=subscribe"));
    wa.set_webhook_url(Some(&hook.url));
    let got = hook.wait_signed(1, &wa.app_secret());
    assert_eq!(messages_of(&got[0])[0]["text"]["body"], "antes");
}

// ----------------------------------------------------------------------------------------------
// Templates

#[test]
fn templates_are_listed_in_pages_with_cursors_fields_and_filters() {
    let (wa, _hook) = double_with_hook();
    wa.add_template(Template::new(
        "bienvenida",
        "es",
        "MARKETING",
        "¡Bienvenido {{1}}!",
    ));
    let total = wa.templates().len();
    let first = format!(
        "{}/{}/message_templates?limit=2",
        wa.graph_url(),
        wa.waba_id()
    );
    let mut url = Some(first);
    let mut names = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let page = get(&wa, &u);
        assert_eq!(page.status, 200);
        let page = page.json();
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        for t in data {
            for k in ["name", "components", "language", "status", "category", "id"] {
                assert!(t.get(k).is_some(), "{k} missing in {t}");
            }
            names.push(t["name"].as_str().expect("name").to_string());
        }
        assert!(page["paging"]["cursors"]["after"].is_string());
        url = page["paging"]["next"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!(names.len(), total);
    assert_eq!(pages, total.div_ceil(2));
    assert!(names.contains(&"bienvenida".to_string()));

    let some = get(
        &wa,
        &format!(
            "{}/{}/message_templates?fields=name,status&status=APPROVED&name=seguimiento",
            wa.graph_url(),
            wa.waba_id()
        ),
    )
    .json();
    let data = some["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    for t in data {
        let mut keys: Vec<&String> = t.as_object().expect("object").keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "name", "status"]);
    }
    assert!(some["paging"].get("next").is_none());
    // Previous page from the second.
    let second = get(
        &wa,
        &format!(
            "{}/{}/message_templates?limit=2&after={}",
            wa.graph_url(),
            wa.waba_id(),
            get(
                &wa,
                &format!(
                    "{}/{}/message_templates?limit=2",
                    wa.graph_url(),
                    wa.waba_id()
                )
            )
            .json()["paging"]["cursors"]["after"]
                .as_str()
                .expect("cursor")
        ),
    )
    .json();
    assert!(second["paging"]["previous"].is_string());
    let bad = get(
        &wa,
        &format!(
            "{}/{}/message_templates?after=%%%",
            wa.graph_url(),
            wa.waba_id()
        ),
    );
    graph_error(&bad, 400, 100);
    // A cursor at the very end of the counter gives an empty page, not a crash.
    let huge = base64::engine::general_purpose::STANDARD.encode(format!("MAXIMUM:{}", usize::MAX));
    let end = get(
        &wa,
        &format!(
            "{}/{}/message_templates?after={}",
            wa.graph_url(),
            wa.waba_id(),
            form_urlencoded::byte_serialize(huge.as_bytes()).collect::<String>()
        ),
    );
    assert_eq!(end.status, 200);
    assert_eq!(end.json()["data"], json!([]));
}

// ----------------------------------------------------------------------------------------------
// Robustness and demo

#[test]
fn hostile_or_unknown_requests_get_errors_and_the_double_keeps_serving() {
    let (wa, _hook) = double_with_hook();
    let addr = wa.base_url().trim_start_matches("http://").to_string();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /v21.0/1/messages HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        b"GET /v21.0/%ff%fe HTTP/1.1\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.write_all(raw).expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 4"), "{out}");
    }
    let weird = [
        format!("{}/", wa.base_url()),
        format!("{}/nope/{}", wa.base_url(), wa.phone_number_id()),
        format!("{}/v21.0/{}/nope", wa.base_url(), wa.phone_number_id()),
        format!("{}/v21.0/12345", wa.base_url()),
        format!("{}/whatsapp_business/attachments/?mid=1", wa.base_url()),
    ];
    for u in weird {
        let r = get(&wa, &u);
        assert!((400..500).contains(&r.status), "{u}: {}", r.status);
    }
    let bad_multipart = finish(
        client()
            .post(format!("{}/{}/media", wa.graph_url(), wa.phone_number_id()))
            .header("Authorization", bearer(&wa))
            .header("Content-Type", "multipart/form-data; boundary=x")
            .body("--x\r\nbroken")
            .send(),
    );
    graph_error(&bad_multipart, 400, 100);
    let ok = get(&wa, &format!("{}/{}", wa.graph_url(), wa.phone_number_id()));
    assert_eq!(ok.status, 200);
    assert!(!format!("{wa:?}").contains(&wa.access_token()));
    assert!(!format!("{:?}", WhatsAppConfig::default()).contains("EAAG"));
}

#[test]
fn demo_customers_write_on_their_own() {
    let (wa, hook) = double_with_hook();
    let demo = wa.start_demo_customers(Duration::from_millis(30));
    let got = hook.wait_signed(3, &wa.app_secret());
    drop(demo);
    let from: Vec<Value> = got
        .iter()
        .flat_map(messages_of)
        .map(|m| m["from"].clone())
        .collect();
    assert_eq!(
        from[..3],
        [
            json!("5215587654321"),
            json!("573105550102"),
            json!("5215587654321")
        ]
    );
    assert!(wa.window_open("5215587654321"));
    // A reply to the demo customer goes through (their window is open).
    assert_eq!(send(&wa, &text("5215587654321", "¡Hola!")).status, 200);
}
