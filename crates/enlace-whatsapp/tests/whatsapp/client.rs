//! [`GraphClient`] against a small local server on 127.0.0.1 that speaks the Graph API's wire
//! format (api-facts C3–C5): bodies, headers, errors, media URLs that expire, paging.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use enlace_whatsapp::{
    AccessToken, ErrorClass, GraphClient, GraphConfig, MediaKind, OutboundMessage, WhatsAppError,
};

const TOKEN: &str = "EAAG-test-token";
const PNID: &str = "106540352242922";

/// What the server saw, and switches for the cases under test.
#[derive(Default)]
struct Seen {
    /// (path, JSON body) of each message POST.
    sends: Vec<(String, Value)>,
    /// Raw multipart bodies and their content types.
    uploads: Vec<(String, Vec<u8>)>,
    /// How many URLs were handed out per media id.
    url_requests: HashMap<String, u32>,
    /// User-Agent of each file download.
    download_agents: Vec<String>,
    /// `after` cursors asked for.
    template_cursors: Vec<Option<String>>,
}

#[derive(Clone)]
struct Graph {
    seen: Arc<Mutex<Seen>>,
    origin: String,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn graph_error(status: StatusCode, code: i64, message: &str, details: &str) -> Response {
    (
        status,
        Json(json!({"error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
        }})),
    )
        .into_response()
}

fn token_error() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(
            json!({"error": {"message": "Error validating access token: Session has expired",
            "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "x"}}),
        ),
    )
        .into_response()
}

async fn messages(
    State(g): State<Graph>,
    Path(pnid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return token_error();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "Invalid parameter",
            "not JSON",
        );
    };
    g.seen
        .lock()
        .expect("lock")
        .sends
        .push((pnid, body.clone()));
    if body["messaging_product"] != "whatsapp" {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "Invalid parameter",
            "messaging_product",
        );
    }
    if body["status"] == "read" {
        return Json(json!({"success": true})).into_response();
    }
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    match to.as_str() {
        "15550131047" => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                131047,
                "(#131047) Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            )
        }
        "15550130429" => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                130429,
                "(#130429) Rate limit hit",
                "Cloud API message throughput has been reached.",
            )
        }
        "15550000302" => {
            return (
                StatusCode::FOUND,
                [("location", "https://elsewhere.example/")],
                "",
            )
                .into_response()
        }
        "15550000502" => return (StatusCode::BAD_GATEWAY, "<html>proxy</html>").into_response(),
        _ => {}
    }
    // Mexico: typed +52 1 55…, Meta answers the wa_id it knows.
    let digits = to.trim_start_matches('+');
    let wa_id = match digits.strip_prefix("521") {
        Some(rest) => format!("52{rest}"),
        None => digits.to_owned(),
    };
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", "message_status": "accepted"}]
    }))
    .into_response()
}

async fn upload(
    State(g): State<Graph>,
    Path(_pnid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return token_error();
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    g.seen
        .lock()
        .expect("lock")
        .uploads
        .push((content_type, body.to_vec()));
    Json(json!({"id": "1013859600285441"})).into_response()
}

/// The file behind each media id.
fn file_of(media_id: &str) -> Vec<u8> {
    match media_id {
        "big" => vec![b'x'; 4096],
        _ => format!("%PDF-1.7 file {media_id}").into_bytes(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn media_info(
    State(g): State<Graph>,
    Path(media_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return token_error();
    }
    let n = {
        let mut seen = g.seen.lock().expect("lock");
        let n = seen.url_requests.entry(media_id.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let file = file_of(&media_id);
    let sha = if media_id == "tampered" {
        "0".repeat(64)
    } else {
        hex(&Sha256::digest(&file))
    };
    let url = if media_id == "redirected" {
        "http://203.0.113.5/file".to_owned()
    } else {
        format!("{}/files/{media_id}/{n}?ext=1&hash=abc", g.origin)
    };
    Json(json!({
        "messaging_product": "whatsapp", "url": url, "mime_type": "application/pdf",
        "sha256": sha, "file_size": file.len(), "id": media_id
    }))
    .into_response()
}

async fn download(
    State(g): State<Graph>,
    Path((media_id, n)): Path<(String, u32)>,
    headers: HeaderMap,
) -> Response {
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    g.seen
        .lock()
        .expect("lock")
        .download_agents
        .push(agent.clone());
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Lookaside sends an HTML page to clients without a User-Agent.
    if agent.is_empty() {
        return ([("content-type", "text/html")], "<html>error</html>").into_response();
    }
    // The first URL of "expiring" has expired by the time it is used.
    if media_id == "expiring" && n == 1 {
        return StatusCode::NOT_FOUND.into_response();
    }
    if media_id == "always-expired" {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([("content-type", "application/pdf")], file_of(&media_id)).into_response()
}

async fn templates(
    State(g): State<Graph>,
    Path(waba): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return token_error();
    }
    let after = q.get("after").cloned();
    g.seen
        .lock()
        .expect("lock")
        .template_cursors
        .push(after.clone());
    let page = |names: &[&str], status: &str| -> Vec<Value> {
        names
            .iter()
            .map(|n| {
                json!({"name": n, "language": "es_MX", "status": status, "category": "UTILITY",
                "id": format!("id-{n}"),
                "components": [{"type": "BODY", "text": "Hola {{1}}"}]})
            })
            .collect()
    };
    let body = match after.as_deref() {
        None => json!({"data": page(&["a", "b"], "APPROVED"),
            "paging": {"cursors": {"before": "X", "after": "P2"},
                       "next": format!("{}/v21.0/{waba}/message_templates?after=P2", g.origin)}}),
        Some("P2") => json!({"data": page(&["c"], "REJECTED"),
            "paging": {"cursors": {"before": "P2", "after": "P3"}}}),
        Some(_) => json!({"data": []}),
    };
    Json(body).into_response()
}

/// Starts the server; it stops when the test's runtime ends.
async fn start() -> (GraphClient, Arc<Mutex<Seen>>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Graph {
        seen: seen.clone(),
        origin: origin.clone(),
    };
    let app = Router::new()
        .route("/v21.0/{pnid}/messages", post(messages))
        .route("/v21.0/{pnid}/media", post(upload))
        .route("/v21.0/{waba}/message_templates", get(templates))
        .route("/v21.0/{media_id}", get(media_info))
        .route("/files/{media_id}/{n}", get(download))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = client_for(&origin, TOKEN);
    (client, seen, origin)
}

fn client_for(origin: &str, token: &str) -> GraphClient {
    GraphClient::new(
        GraphConfig::new(AccessToken::new(token)).with_base_url(format!("{origin}/v21.0")),
    )
    .expect("client")
}

#[tokio::test]
async fn a_text_is_sent_as_c3_and_the_conversation_keyed_on_wa_id() {
    let (client, seen, _) = start().await;
    let message = OutboundMessage::text("+5215512345678", "Hola")
        .and_then(|m| m.in_reply_to("wamid.QUOTED"))
        .expect("valid");
    let receipt = client.send_message(PNID, &message).await.expect("sent");
    assert_eq!(receipt.wa_id.as_deref(), Some("525512345678"));
    assert_eq!(receipt.input.as_deref(), Some("+5215512345678"));
    assert!(receipt.wamid.starts_with("wamid."));
    assert_eq!(receipt.message_status.as_deref(), Some("accepted"));
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.sends.len(), 1);
    assert_eq!(seen.sends[0].0, PNID);
    assert_eq!(seen.sends[0].1, message.to_json());
    assert_eq!(seen.sends[0].1["context"]["message_id"], "wamid.QUOTED");
}

#[tokio::test]
async fn mark_read_with_typing_indicator() {
    let (client, seen, _) = start().await;
    client
        .mark_read(PNID, "wamid.IN", true)
        .await
        .expect("marked");
    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen.sends[0].1,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN",
               "typing_indicator": {"type": "text"}})
    );
}

#[tokio::test]
async fn graph_errors_are_classified_by_code() {
    let (client, _, origin) = start().await;
    let send = |to: &'static str| {
        let client = client.clone();
        async move {
            let m = OutboundMessage::text(to, "hi").expect("valid");
            client.send_message(PNID, &m).await.expect_err("refused")
        }
    };
    let window = send("15550131047").await;
    assert_eq!(window.code(), "whatsapp_window_closed");
    assert_eq!(window.class(), Some(ErrorClass::WindowClosed));
    assert!(!window.is_retryable());
    let WhatsAppError::Api(api) = &window else {
        panic!("api error")
    };
    assert_eq!(api.http_status, 400);
    assert!(api
        .details
        .as_deref()
        .is_some_and(|d| d.contains("24 hours")));

    let rate = send("15550130429").await;
    assert_eq!(rate.code(), "whatsapp_rate_limited");
    assert!(rate.is_retryable());

    // A redirect is not followed.
    let redirect = send("15550000302").await;
    assert_eq!(redirect.code(), "whatsapp_bad_reply");
    // A proxy's error page is transient.
    let proxy = send("15550000502").await;
    assert_eq!(proxy.code(), "whatsapp_unreachable");
    assert!(proxy.is_retryable());

    // An expired token: 190, the administrators' business; the token is in no error text.
    let expired = client_for(&origin, "EAAG-expired");
    let m = OutboundMessage::text("16505551234", "hi").expect("valid");
    let err = expired.send_message(PNID, &m).await.expect_err("expired");
    assert_eq!(err.code(), "whatsapp_token_expired");
    assert!(!format!("{err} {err:?}").contains("EAAG"));
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", free.local_addr().expect("addr"));
    drop(free);
    let client = client_for(&origin, TOKEN);
    let m = OutboundMessage::text("16505551234", "hi").expect("valid");
    let err = client.send_message(PNID, &m).await.expect_err("down");
    assert_eq!(err.code(), "whatsapp_unreachable");
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn uploads_are_checked_then_sent_as_multipart() {
    let (client, seen, _) = start().await;
    let pdf = b"%PDF-1.7 quote".to_vec();
    let id = client
        .upload_media(
            PNID,
            MediaKind::Document,
            "application/pdf",
            "quote.pdf",
            pdf.clone(),
        )
        .await
        .expect("uploaded");
    assert_eq!(id, "1013859600285441");
    {
        let seen = seen.lock().expect("lock");
        let (content_type, body) = &seen.uploads[0];
        assert!(content_type.starts_with("multipart/form-data; boundary="));
        let text = String::from_utf8_lossy(body);
        assert!(
            text.contains(r#"name="file"; filename="quote.pdf""#),
            "{text}"
        );
        assert!(text.contains("Content-Type: application/pdf"), "{text}");
        assert!(text.contains("%PDF-1.7 quote"));
        assert!(
            text.contains("name=\"type\"\r\n\r\napplication/pdf"),
            "{text}"
        );
        assert!(
            text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp"),
            "{text}"
        );
    }
    // A file that is not what its type says never leaves.
    let err = client
        .upload_media(
            PNID,
            MediaKind::Document,
            "application/pdf",
            "x.pdf",
            b"MZ\x90\0".to_vec(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "whatsapp_media_content");
    let err = client
        .upload_media(
            PNID,
            MediaKind::Image,
            "image/gif",
            "x.gif",
            b"GIF89a".to_vec(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "whatsapp_media_type");
    assert_eq!(seen.lock().expect("lock").uploads.len(), 1);
}

#[tokio::test]
async fn media_is_downloaded_with_token_and_user_agent_and_checked() {
    let (client, seen, _) = start().await;
    let file = client
        .download_media("4490709327384033", None)
        .await
        .expect("file");
    assert_eq!(file.bytes, file_of("4490709327384033"));
    assert_eq!(file.mime_type.as_deref(), Some("application/pdf"));
    // The webhook announces the hash in base64.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&file.bytes));
    assert!(client
        .download_media("4490709327384033", Some(&b64))
        .await
        .is_ok());
    let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let err = client
        .download_media("4490709327384033", Some(&wrong))
        .await
        .expect_err("hash");
    assert_eq!(err.code(), "whatsapp_bad_reply");
    let err = client
        .download_media("tampered", None)
        .await
        .expect_err("hash");
    assert_eq!(err.code(), "whatsapp_bad_reply");
    let agents = seen.lock().expect("lock").download_agents.clone();
    assert!(
        agents.iter().all(|a| a.starts_with("enlace/")),
        "{agents:?}"
    );
}

#[tokio::test]
async fn an_expired_media_url_is_fetched_anew_once() {
    let (client, seen, _) = start().await;
    let file = client.download_media("expiring", None).await.expect("file");
    assert_eq!(file.bytes, file_of("expiring"));
    assert_eq!(seen.lock().expect("lock").url_requests["expiring"], 2);
    let err = client
        .download_media("always-expired", None)
        .await
        .expect_err("gone");
    assert_eq!(err.code(), "whatsapp_bad_reply");
    assert_eq!(seen.lock().expect("lock").url_requests["always-expired"], 2);
}

#[tokio::test]
async fn downloads_are_capped_and_need_https_away_from_this_computer() {
    let (_, _, origin) = start().await;
    let mut config =
        GraphConfig::new(AccessToken::new(TOKEN)).with_base_url(format!("{origin}/v21.0"));
    config.max_download_bytes = 1000;
    let small = GraphClient::new(config).expect("client");
    let err = small
        .download_media("big", None)
        .await
        .expect_err("too big");
    assert_eq!(err.code(), "whatsapp_bad_reply");
    assert!(err.to_string().contains("larger"), "{err}");
    // A plain-http URL on another host never gets the token.
    let client = client_for(&origin, TOKEN);
    let err = client
        .download_media("redirected", None)
        .await
        .expect_err("http");
    assert!(err.to_string().contains("https"), "{err}");
}

#[tokio::test]
async fn templates_are_read_across_pages() {
    let (client, seen, _) = start().await;
    let templates = client
        .list_templates("102290129340398")
        .await
        .expect("templates");
    let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        seen.lock().expect("lock").template_cursors,
        vec![None, Some("P2".to_owned())]
    );
    let catalog = enlace_whatsapp::TemplateCatalog::new(templates);
    assert_eq!(catalog.approved().count(), 2);
    assert_eq!(
        catalog.find("a", "es_MX").map(|t| t.body_parameter_count()),
        Some(1)
    );
}

#[tokio::test]
async fn path_ids_are_checked_before_any_request() {
    let (client, seen, _) = start().await;
    let m = OutboundMessage::text("16505551234", "hi").expect("valid");
    for bad in ["", "../x", "1/2", "1?x=1"] {
        let err = client.send_message(bad, &m).await.expect_err(bad);
        assert_eq!(err.code(), "whatsapp_bad_field");
        assert!(client.media_url(bad).await.is_err());
    }
    assert!(seen.lock().expect("lock").sends.is_empty());
}
