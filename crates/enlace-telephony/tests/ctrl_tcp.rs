//! The ctrl_tcp client against a fake server that misbehaves: garbage and truncated frames,
//! commands never answered, events before the response.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{CallStatus, DialTarget, ErrorCode, SystemClock};
use enlace_telephony::netstring::{encode, Decoder};
use enlace_telephony::{
    BaresipConfig, LineConfig, LineEvent, LineStatus, PhoneLine, RandomCallIds, Timings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

fn timings() -> Timings {
    Timings {
        command: Duration::from_millis(500),
        ..Timings::default()
    }
}

fn start(addr: std::net::SocketAddr) -> (PhoneLine, Receiver<LineEvent>) {
    let config = LineConfig::Baresip(BaresipConfig {
        ctrl_addr: addr,
        sip_domain: "127.0.0.1:5099".into(),
    });
    PhoneLine::start_with(
        config,
        timings(),
        Arc::new(SystemClock),
        Arc::new(RandomCallIds::default()),
    )
}

async fn status(rx: &mut Receiver<LineEvent>, wanted: impl Fn(&LineStatus) -> bool) -> LineStatus {
    loop {
        let ev = timeout(WAIT, rx.recv())
            .await
            .expect("event in time")
            .expect("channel open");
        if let LineEvent::Status(s) = ev {
            if wanted(&s) {
                return s;
            }
        }
    }
}

/// Reads one command frame and returns its JSON.
async fn read_command(sock: &mut TcpStream, dec: &mut Decoder) -> serde_json::Value {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(frame) = dec.next_frame().expect("client frames are valid") {
            return serde_json::from_slice(&frame).expect("client sends JSON");
        }
        let n = sock.read(&mut buf).await.expect("read");
        assert!(n > 0, "client closed");
        dec.push(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_silence_time_out_then_protocol_error_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (go_bad_tx, go_bad_rx) = tokio::sync::oneshot::channel::<()>();
    let count = accepted.clone();
    let server = tokio::spawn(async move {
        // 1st connection: junk that is valid framing, a command never answered, then a
        // truncated / malformed frame.
        let (mut sock, _) = listener.accept().await.unwrap();
        count.fetch_add(1, Ordering::SeqCst);
        let junk = [
            encode(b"not json at all"),
            encode(b"{\"event\":\"true\",\"type\":\"CALL_INCOMING\"}"),
            encode(
                "{\"response\":true,\"ok\":true,\"data\":\"\u{1b}[32mOK\",\"token\":\"nobody\"}"
                    .as_bytes(),
            ),
            encode(b"[1,2,3]"),
            encode(b""),
        ]
        .concat();
        sock.write_all(&junk).await.unwrap();
        let mut dec = Decoder::default();
        let cmd = read_command(&mut sock, &mut dec).await;
        assert_eq!(cmd["command"], "dial");
        assert_eq!(cmd["params"], "sip:+50640004000@127.0.0.1:5099");
        go_bad_rx.await.unwrap();
        sock.write_all(b"5:abc").await.unwrap(); // truncated...
        sock.write_all(b"de;").await.unwrap(); // ...and no trailing ','
                                               // 2nd connection: the client came back.
        let (sock2, _) = listener.accept().await.unwrap();
        count.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop((sock, sock2));
    });

    let (line, mut rx) = start(addr);
    status(&mut rx, |s| *s == LineStatus::Online).await;
    let target = DialTarget::Number {
        e164: "+50640004000".into(),
        extension: None,
    };
    let err = line.dial(&target).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::LineTimeout, "{err}");
    assert_eq!(
        line.status(),
        LineStatus::Online,
        "a silent command does not drop the line"
    );

    go_bad_tx.send(()).unwrap();
    let down = status(&mut rx, |s| matches!(s, LineStatus::Offline { .. })).await;
    assert!(
        down.detail().unwrap_or_default().contains("protocol"),
        "{down:?}"
    );
    status(&mut rx, |s| *s == LineStatus::Online).await;
    // The server counts the accept a moment after the client sees its connection up.
    let deadline = std::time::Instant::now() + WAIT;
    while accepted.load(Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < deadline, "no second connection");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    line.shutdown().await;
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_before_the_response_and_split_frames() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut dec = Decoder::default();
        let cmd = read_command(&mut sock, &mut dec).await;
        let token = cmd["token"].as_str().unwrap().to_owned();
        let ringing = r#"{"event":true,"type":"CALL_RINGING","class":"call","accountaor":"sip:1001@127.0.0.1:5061","direction":"outgoing","peeruri":"sip:4000@127.0.0.1:5099","id":"abc123","param":"sip:4000@127.0.0.1:5099"}"#;
        let reply = format!(r#"{{"response":true,"ok":true,"data":"","token":"{token}"}}"#);
        let bytes = [encode(ringing.as_bytes()), encode(reply.as_bytes())].concat();
        // Byte by byte-ish: frames split across reads.
        for chunk in bytes.chunks(7) {
            sock.write_all(chunk).await.unwrap();
            sock.flush().await.unwrap();
        }
        // A `callfind` for an unknown call still says ok (baresip 1.0.0); the line refuses
        // before asking, so the next command is the hangup pair for abc123.
        let find = read_command(&mut sock, &mut dec).await;
        assert_eq!(find["command"], "callfind");
        assert_eq!(find["params"], "abc123");
        let t = find["token"].as_str().unwrap();
        let r = format!(
            r#"{{"response":true,"ok":true,"data":"setting current call: abc123\n","token":"{t}"}}"#
        );
        sock.write_all(&encode(r.as_bytes())).await.unwrap();
        let hang = read_command(&mut sock, &mut dec).await;
        assert_eq!(hang["command"], "hangup");
        let t = hang["token"].as_str().unwrap();
        let closed = r#"{"event":true,"type":"CALL_CLOSED","class":"call","accountaor":"sip:1001@127.0.0.1:5061","direction":"outgoing","peeruri":"sip:4000@127.0.0.1:5099","id":"abc123","param":"Connection reset by user"}"#;
        let r = format!(r#"{{"response":true,"ok":true,"data":"","token":"{t}"}}"#);
        sock.write_all(&[encode(closed.as_bytes()), encode(r.as_bytes())].concat())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    });

    let (line, mut rx) = start(addr);
    status(&mut rx, |s| *s == LineStatus::Online).await;
    line.dial(&DialTarget::Extension("4000".into()))
        .await
        .unwrap();
    let record = loop {
        if let LineEvent::Call(r) = timeout(WAIT, rx.recv()).await.unwrap().unwrap() {
            break r;
        }
    };
    assert_eq!(record.line_call_id, "abc123");
    assert_eq!(record.status, CallStatus::Ringing);
    assert_eq!(record.peer_number, "4000");
    let err = line.answer("unknown-call").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoActiveCall);
    line.hangup("abc123").await.unwrap();
    let ended = loop {
        if let LineEvent::Call(r) = timeout(WAIT, rx.recv()).await.unwrap().unwrap() {
            break r;
        }
    };
    assert_eq!(ended.status, CallStatus::Ended);
    assert_eq!(ended.end_reason, Some(enlace_core::EndReason::NoAnswer));
    line.shutdown().await;
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_offline_and_dial_fails_fast() {
    // Bind then drop to get a port with nobody on it.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (line, mut rx) = start(addr);
    let down = status(&mut rx, |s| matches!(s, LineStatus::Offline { .. })).await;
    assert!(
        down.detail().unwrap_or_default().contains("cannot connect"),
        "{down:?}"
    );
    let err = line
        .dial(&DialTarget::Extension("4000".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::LineOffline);
    line.shutdown().await;
}
