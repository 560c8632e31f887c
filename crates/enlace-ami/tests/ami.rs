//! Integration tests: codec against the real Asterisk 22 transcript, property tests, the client
//! against an in-test TCP server that replays the transcript, and the call tracker.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enlace_ami::{
    AmiClient, AmiConfig, AmiEvent, CallChange, CallTracker, Decoder, DialFailure, Direction,
    Frame, Originate, OriginateOutcome, Packet, PbxCall, PbxCallState,
};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

const TRANSCRIPT: &[u8] = include_bytes!("data/asterisk-ami-transcript.txt");

/// Everything the server sent: the banner line and each "RECEIVED (raw)" block, byte for byte.
struct Transcript {
    banner: Vec<u8>,
    received: Vec<Vec<u8>>,
}

fn transcript() -> Transcript {
    let mut banner = Vec::new();
    let mut received: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in TRANSCRIPT.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"#####") {
            if let Some(mut block) = current.take() {
                // The marker is preceded by one bare "\n" separator that is not part of the bytes.
                if block.ends_with(b"\n\n") {
                    block.pop();
                }
                received.push(block);
            }
            if line.windows(12).any(|w| w == b"<<< RECEIVED") {
                current = Some(Vec::new());
            }
            continue;
        }
        if let Some(block) = current.as_mut() {
            block.extend_from_slice(line);
        } else if line.starts_with(b"Asterisk Call Manager/") {
            banner = line.to_vec();
        }
    }
    Transcript { banner, received }
}

fn decode_all(bytes: &[u8], chunk: usize) -> Vec<Packet> {
    let mut decoder = Decoder::new();
    let mut packets = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        for frame in decoder.push(part) {
            match frame {
                Ok(Frame::Packet(p)) => packets.push(p),
                Ok(Frame::Banner { version }) => panic!("unexpected banner {version}"),
                Err(e) => panic!("transcript block failed to parse: {e}"),
            }
        }
    }
    packets
}

fn block_with(t: &Transcript, action_id: &str) -> Vec<u8> {
    let needle = format!("ActionID: {action_id}\r\n");
    t.received
        .iter()
        .find(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .cloned()
        .unwrap_or_else(|| panic!("no block with {action_id}"))
}

#[test]
fn every_received_block_of_the_transcript_parses() {
    let t = transcript();
    assert_eq!(t.banner, b"Asterisk Call Manager/11.0.0\r\n");
    let mut d = Decoder::new();
    assert_eq!(
        d.push(&t.banner),
        vec![Ok(Frame::Banner {
            version: "11.0.0".into()
        })]
    );
    assert_eq!(t.received.len(), 9);
    let mut all = Vec::new();
    for block in &t.received {
        assert!(block.ends_with(b"\r\n\r\n"));
        let expected = block.windows(4).filter(|w| *w == b"\r\n\r\n").count();
        let whole = decode_all(block, block.len());
        assert_eq!(whole.len(), expected);
        // Any chunking yields the same packets.
        for chunk in [1, 3, 7, 64, 1000] {
            assert_eq!(decode_all(block, chunk), whole);
        }
        all.extend(whole);
    }
    let find = |event: &str| {
        all.iter()
            .filter(|p| p.event() == Some(event))
            .collect::<Vec<_>>()
    };
    let originate_responses = find("OriginateResponse");
    assert_eq!(originate_responses.len(), 2);
    assert_eq!(originate_responses[0].get("reason"), Some("4"));
    assert_eq!(originate_responses[0].response(), Some("Success"));
    assert_eq!(originate_responses[0].action_id(), Some("orig1"));
    let pauses = find("QueueMemberPause");
    assert_eq!(pauses[0].get("PausedReason"), Some("Baño"));
    assert_eq!(pauses[0].get("Paused"), Some("1"));
    let complete = find("QueueStatusComplete");
    assert_eq!(complete[0].get("EventList"), Some("Complete"));
    assert_eq!(complete[0].get("ListItems"), Some("2"));
    assert_eq!(find("Cdr").len(), 5);
    assert_eq!(find("AgentComplete")[0].get("TalkTime"), Some("3"));
    // Empty values stay empty strings.
    assert_eq!(find("Newchannel")[0].get("AccountCode"), Some(""));
    assert!(all.iter().any(|p| p.response() == Some("Goodbye")));
    // Serializing and re-parsing keeps every field.
    for p in &all {
        assert_eq!(&decode_all(&p.to_bytes(), 5)[0], p);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096), chunk in 1usize..64) {
        let mut d = Decoder::new();
        for part in data.chunks(chunk) {
            let _ = d.push(part);
        }
        // After garbage, a blank line plus a valid packet is always recovered.
        let frames = d.push(b"\r\n\r\nEvent: Recovered\r\nKey: v\r\n\r\n");
        let recovered = frames.iter().any(|f| matches!(f, Ok(Frame::Packet(p)) if p.event() == Some("Recovered")));
        prop_assert!(recovered);
    }

    #[test]
    fn lines_of_ami_shaped_noise_never_panic(lines in proptest::collection::vec("[A-Za-z:\\- \r\t]{0,40}", 0..64)) {
        let mut d = Decoder::new();
        for l in &lines {
            let _ = d.push(l.as_bytes());
            let _ = d.push(b"\n");
        }
    }

    #[test]
    fn packets_round_trip(fields in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~ñ]{0,30}"), 1..20), split in 0usize..400) {
        let mut p = Packet::new();
        for (k, v) in &fields {
            p.push(k.clone(), v.clone());
        }
        let bytes = p.to_bytes();
        let split = split.min(bytes.len());
        let mut d = Decoder::new();
        let mut frames = d.push(&bytes[..split]);
        frames.extend(d.push(&bytes[split..]));
        prop_assert_eq!(frames, vec![Ok(Frame::Packet(p))]);
    }
}

/// Found by the `ami_decoder` fuzz target: a line of exactly `MAX_LINE` bytes was accepted when
/// read at once but refused (and its packet lost) when a read ended between its CR and LF.
#[test]
fn a_longest_line_is_kept_whatever_the_read_sizes() {
    let value = "a".repeat(enlace_ami::MAX_LINE - "Key: ".len());
    let bytes = format!("Key: {value}\r\n\r\n").into_bytes();
    let cr = bytes.len() - 3;
    for split in [cr, cr + 1, bytes.len()] {
        let mut d = Decoder::new();
        let mut frames = d.push(&bytes[..split]);
        frames.extend(d.push(&bytes[split..]));
        let expected = Packet::new().with("Key", value.clone());
        assert_eq!(
            frames,
            vec![Ok(Frame::Packet(expected))],
            "split at {split}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// In-test AMI server replaying the transcript.

#[derive(Default)]
struct ServerState {
    actions: Vec<Packet>,
    connections: usize,
    /// Answer nothing (not even Ping) while true.
    mute: bool,
}

struct TestServer {
    addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
    drop_tx: broadcast::Sender<()>,
    accept: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = self.drop_tx.send(());
    }
}

impl TestServer {
    async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(ServerState::default()));
        let (drop_tx, _) = broadcast::channel(4);
        let st = state.clone();
        let dtx = drop_tx.clone();
        let accept = tokio::spawn(async move {
            let transcript = Arc::new(transcript());
            while let Ok((stream, _)) = listener.accept().await {
                st.lock().expect("lock").connections += 1;
                tokio::spawn(serve(
                    stream,
                    transcript.clone(),
                    st.clone(),
                    dtx.subscribe(),
                ));
            }
        });
        TestServer {
            addr,
            state,
            drop_tx,
            accept,
        }
    }

    fn drop_connections(&self) {
        let _ = self.drop_tx.send(());
    }

    fn actions(&self, name: &str) -> Vec<Packet> {
        self.state
            .lock()
            .expect("lock")
            .actions
            .iter()
            .filter(|p| p.get("Action") == Some(name))
            .cloned()
            .collect()
    }

    fn connections(&self) -> usize {
        self.state.lock().expect("lock").connections
    }

    fn config(&self) -> AmiConfig {
        let mut c = AmiConfig::new(self.addr.to_string(), "ami", "amisecret");
        c.action_timeout = Duration::from_secs(5);
        c.keepalive = Duration::from_secs(30);
        c
    }
}

fn reply(t: &Transcript, transcript_id: &str, id: &str) -> Vec<u8> {
    let block = String::from_utf8(block_with(t, transcript_id)).expect("utf8");
    block
        .replace(
            &format!("ActionID: {transcript_id}\r\n"),
            &format!("ActionID: {id}\r\n"),
        )
        .into_bytes()
}

async fn serve(
    mut stream: TcpStream,
    t: Arc<Transcript>,
    state: Arc<Mutex<ServerState>>,
    mut drop_rx: broadcast::Receiver<()>,
) {
    if stream.write_all(&t.banner).await.is_err() {
        return;
    }
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 4096];
    let mut logged_in = false;
    loop {
        let n = tokio::select! {
            r = stream.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = drop_rx.recv() => return,
        };
        for frame in decoder.push(&buf[..n]) {
            let Ok(Frame::Packet(p)) = frame else {
                continue;
            };
            let mute = {
                let mut s = state.lock().expect("lock");
                s.actions.push(p.clone());
                s.mute
            };
            if mute {
                continue;
            }
            let id = p.action_id().unwrap_or("").to_string();
            let action = p.get("Action").unwrap_or("").to_string();
            let out: Vec<u8> = match action.as_str() {
                "Login" if p.get("Secret") == Some("amisecret") => {
                    logged_in = true;
                    reply(&t, "login", &id)
                }
                "Login" => {
                    let _ = stream
                        .write_all(format!("Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n").as_bytes())
                        .await;
                    return;
                }
                _ if !logged_in => format!("Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n").into_bytes(),
                "Ping" => format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\nTimestamp: 1795462338.123456\r\n\r\n").into_bytes(),
                "Originate" => reply(&t, "orig1", &id),
                "QueueAdd" => reply(&t, "qadd", &id),
                "QueuePause" if p.get("Paused") == Some("true") => reply(&t, "qpause", &id),
                "QueuePause" => reply(&t, "qunpause", &id),
                "QueueStatus" => {
                    // An unrelated event interleaved with the list items.
                    let mut b = b"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nQueue: support\r\n\r\n".to_vec();
                    b.extend(reply(&t, "qstat", &id));
                    b
                }
                "QueueRemove" => reply(&t, "qrm", &id),
                "Logoff" => {
                    let _ = stream.write_all(&reply(&t, "bye", &id)).await;
                    return;
                }
                "Hold" => Vec::new(),
                other => format!("Response: Error\r\nActionID: {id}\r\nMessage: Invalid/unknown command: {other}. Use Action: ListCommands to show available commands.\r\n\r\n").into_bytes(),
            };
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

/// Next event, with a generous deadline so a broken client fails instead of hanging.
async fn next_event(rx: &mut mpsc::Receiver<AmiEvent>) -> AmiEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("no AMI event within 20 s")
        .expect("event channel closed")
}

async fn wait_connected(rx: &mut mpsc::Receiver<AmiEvent>) -> String {
    loop {
        if let AmiEvent::Connected { version } = next_event(rx).await {
            return version;
        }
    }
}

async fn wait_disconnected(rx: &mut mpsc::Receiver<AmiEvent>) -> String {
    loop {
        if let AmiEvent::Disconnected { reason } = next_event(rx).await {
            return reason;
        }
    }
}

#[tokio::test]
async fn client_speaks_to_the_transcript_server() {
    let server = TestServer::start().await;
    let (client, mut events) = AmiClient::start(server.config());
    assert_eq!(wait_connected(&mut events).await, "11.0.0");
    match next_event(&mut events).await {
        AmiEvent::Event(p) => assert_eq!(p.event(), Some("FullyBooted")),
        other => panic!("expected FullyBooted, got {other:?}"),
    }
    let login = &server.actions("Login")[0];
    assert_eq!(login.get("Username"), Some("ami"));
    assert_eq!(login.get("Events"), Some("on"));

    let pong = client.action("Ping", &[]).await.expect("ping");
    assert_eq!(pong.get("Ping"), Some("Pong"));

    client
        .queue_add("support", "Local/500@agents", "Agent 500")
        .await
        .expect("queue add");
    client
        .queue_pause("Local/500@agents", true, Some("Baño"), Some("support"))
        .await
        .expect("pause");
    let pause = &server.actions("QueuePause")[0];
    assert_eq!(pause.get("Paused"), Some("true"));
    assert_eq!(pause.get("Reason"), Some("Baño"));
    assert_eq!(pause.get("Queue"), Some("support"));
    assert_eq!(pause.get("Interface"), Some("Local/500@agents"));

    let items = client
        .list("QueueStatus", &[("Queue", "support")])
        .await
        .expect("queue status");
    let names: Vec<_> = items.iter().filter_map(|p| p.event()).collect();
    assert_eq!(names, vec!["QueueParams", "QueueMember"]);
    assert_eq!(items[1].get("PausedReason"), Some("Baño"));

    client
        .queue_pause("Local/500@agents", false, None, None)
        .await
        .expect("unpause");
    let unpause = &server.actions("QueuePause")[1];
    assert_eq!(unpause.get("Paused"), Some("false"));
    assert_eq!(unpause.get("Reason"), None);
    assert_eq!(unpause.get("Queue"), None);

    let outcome = client
        .originate(&Originate {
            channel: "Local/100@test".into(),
            context: "test".into(),
            exten: "200".into(),
            priority: "1".into(),
            caller_id: Some("\"AMI Test\" <1000>".into()),
            timeout: Duration::from_secs(10),
            variables: vec![
                ("CRM_RECORD_ID".into(), "003xx".into()),
                ("CALL_ORIGIN".into(), "crm".into()),
            ],
        })
        .await
        .expect("originate");
    assert_eq!(outcome, OriginateOutcome::Answered);
    let orig = &server.actions("Originate")[0];
    assert_eq!(orig.get("Async"), Some("true"));
    assert_eq!(orig.get("Timeout"), Some("10000"));
    assert_eq!(
        orig.get_all("Variable"),
        vec!["CRM_RECORD_ID=003xx", "CALL_ORIGIN=crm"]
    );

    let err = client.action("Foo", &[]).await.expect_err("unknown action");
    assert_eq!(err.code(), "ami_refused");
    assert!(err.to_string().contains("Invalid/unknown command"));

    client
        .queue_remove("support", "Local/500@agents")
        .await
        .expect("remove");

    // Events arrive in order; list items of our QueueStatus are not among them, the
    // interleaved unrelated event is, and so is the OriginateResponse.
    let mut seen = Vec::new();
    while !seen.contains(&"QueueMemberRemoved".to_string()) {
        if let AmiEvent::Event(p) = next_event(&mut events).await {
            seen.push(p.event().unwrap_or("").to_string());
        }
    }
    assert!(seen.contains(&"QueueMemberPause".to_string()));
    assert!(seen.contains(&"QueueMemberStatus".to_string()));
    assert!(seen.contains(&"OriginateResponse".to_string()));
    assert!(seen.contains(&"QueueMemberRemoved".to_string()));
    assert!(!seen.contains(&"QueueMember".to_string()));
    assert!(!seen.contains(&"QueueStatusComplete".to_string()));

    client.shutdown().await;
    assert_eq!(server.actions("Logoff").len(), 1);
    let err = client
        .action("Ping", &[])
        .await
        .expect_err("after shutdown");
    assert_eq!(err.code(), "ami_offline");
    // The event channel closes after shutdown.
    while let Some(ev) = events.recv().await {
        assert!(!matches!(ev, AmiEvent::Connected { .. }));
    }
}

#[tokio::test]
async fn action_times_out_and_the_link_keeps_working() {
    let server = TestServer::start().await;
    let mut config = server.config();
    config.action_timeout = Duration::from_millis(300);
    let (client, mut events) = AmiClient::start(config);
    wait_connected(&mut events).await;
    let err = client.action("Hold", &[]).await.expect_err("no answer");
    assert_eq!(err.code(), "ami_timeout");
    let pong = client.action("Ping", &[]).await.expect("still alive");
    assert_eq!(pong.get("Ping"), Some("Pong"));
    client.shutdown().await;
}

#[tokio::test]
async fn reconnects_after_the_server_drops_and_fails_pending_actions() {
    let server = TestServer::start().await;
    let mut config = server.config();
    config.action_timeout = Duration::from_secs(20);
    let (client, mut events) = AmiClient::start(config);
    wait_connected(&mut events).await;

    let waiting = {
        let client = client.clone();
        tokio::spawn(async move { client.action("Hold", &[]).await })
    };
    // Make sure the action reached the server before dropping the connection.
    for _ in 0..200 {
        if !server.actions("Hold").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.actions("Hold").len(), 1);
    server.drop_connections();

    let err = waiting.await.expect("join").expect_err("dropped");
    assert_eq!(err.code(), "ami_offline");
    let reason = wait_disconnected(&mut events).await;
    assert!(reason.contains("closed"), "{reason}");
    assert_eq!(wait_connected(&mut events).await, "11.0.0");
    assert_eq!(server.connections(), 2);
    assert_eq!(server.actions("Login").len(), 2);
    client
        .queue_remove("support", "Local/500@agents")
        .await
        .expect("works after reconnect");
    client.shutdown().await;
}

#[tokio::test]
async fn unanswered_keepalive_drops_and_reconnects() {
    let server = TestServer::start().await;
    let mut config = server.config();
    config.keepalive = Duration::from_millis(100);
    let (client, mut events) = AmiClient::start(config);
    wait_connected(&mut events).await;
    server.state.lock().expect("lock").mute = true;
    let reason = wait_disconnected(&mut events).await;
    assert!(reason.contains("Ping"), "{reason}");
    assert!(!server.actions("Ping").is_empty());
    server.state.lock().expect("lock").mute = false;
    wait_connected(&mut events).await;
    client.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_is_reported_and_actions_fail_offline() {
    let server = TestServer::start().await;
    let mut config = server.config();
    config.secret = "wrong".into();
    let (client, mut events) = AmiClient::start(config);
    let reason = wait_disconnected(&mut events).await;
    assert!(reason.contains("Authentication failed"), "{reason}");
    let err = client.action("Ping", &[]).await.expect_err("offline");
    assert_eq!(err.code(), "ami_offline");
    client.shutdown().await;
}

#[tokio::test]
async fn offline_from_the_start_fails_fast() {
    // A port that was free a moment ago: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let (client, mut events) = AmiClient::start(AmiConfig::new(addr.to_string(), "ami", "x"));
    let reason = wait_disconnected(&mut events).await;
    assert!(reason.contains("connect"), "{reason}");
    let err = client.action("Ping", &[]).await.expect_err("offline");
    assert_eq!(err.code(), "ami_offline");
    client.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// CallTracker on the transcript.

fn events_of(block: &[u8]) -> Vec<Packet> {
    decode_all(block, block.len())
        .into_iter()
        .filter(|p| p.event().is_some())
        .collect()
}

fn tracker() -> CallTracker {
    CallTracker::new(vec![
        ("agent100".into(), "Local/100@test".into()),
        ("agent500".into(), "Local/500@agents/n".into()),
        ("agent1001".into(), "PJSIP/1001".into()),
    ])
}

/// Feeds events 250 ms apart; returns the last state of each call.
fn run(events: &[Packet]) -> HashMap<(String, String), PbxCall> {
    let mut t = tracker();
    let mut calls = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        let now = 1_000_000 + i64::try_from(i).expect("index") * 250;
        for change in t.on_event(ev, now) {
            let call = change.call;
            calls.insert((call.id.clone(), call.agent.clone()), call);
        }
    }
    calls
}

fn check_originate(calls: &HashMap<(String, String), PbxCall>) {
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[&("1795462335.0".to_string(), "agent100".to_string())];
    assert_eq!(call.direction, Direction::Outgoing);
    assert_eq!(call.other_number, "200");
    assert_eq!(call.other_name, None);
    assert_eq!(call.state, PbxCallState::Ended);
    assert!(call.answered_at.is_some());
    assert!(call.ended_at.is_some());
    assert_eq!(call.duration_seconds, 1);
    assert_eq!(call.hangup_cause, Some((16, "Normal Clearing".to_string())));
}

fn check_queue(calls: &HashMap<(String, String), PbxCall>) {
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[&("1795462338.2".to_string(), "agent500".to_string())];
    assert_eq!(call.direction, Direction::Incoming);
    assert_eq!(call.other_number, "2000");
    assert_eq!(call.other_name.as_deref(), Some("Queue Caller"));
    assert_eq!(call.state, PbxCallState::Ended);
    assert!(call.answered_at.is_some());
    assert_eq!(call.duration_seconds, 3);
    assert_eq!(call.hangup_cause, Some((16, "Normal Clearing".to_string())));
}

#[test]
fn tracker_follows_the_transcript_originate() {
    let t = transcript();
    let events = events_of(&block_with(&t, "orig1"));
    let mut tr = tracker();
    let mut history = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        history.extend(
            tr.on_event(ev, i64::try_from(i).expect("i") * 100)
                .into_iter()
                .map(|c| c.call),
        );
    }
    // An Originate is shown once the agent's phone answers: answered, then ended.
    assert_eq!(history[0].state, PbxCallState::Answered);
    assert_eq!(history.last().map(|c| c.state), Some(PbxCallState::Ended));
    check_originate(&run(&events));
}

/// (state, number) of every announced change, in order.
fn announced(events: &[Packet]) -> Vec<(PbxCallState, String)> {
    let mut t = tracker();
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let now = 1_000_000 + i64::try_from(i).expect("index") * 250;
        for CallChange { call, announce } in t.on_event(ev, now) {
            if announce {
                out.push((call.state, call.other_number));
            }
        }
    }
    out
}

#[test]
fn each_phase_is_announced_once_and_carries_the_number() {
    let t = transcript();
    let queue = events_of(&block_with(&t, "orig2"));
    let n = |s: &str| s.to_string();
    assert_eq!(
        announced(&queue),
        vec![
            (PbxCallState::Ringing, n("2000")),
            (PbxCallState::Answered, n("2000")),
            (PbxCallState::Ended, n("2000")),
        ]
    );
    // The Originate's agent leg: shown when it answers, with the dialled extension.
    let originate = events_of(&block_with(&t, "orig1"));
    assert_eq!(
        announced(&originate),
        vec![
            (PbxCallState::Answered, n("200")),
            (PbxCallState::Ended, n("200")),
        ]
    );
}

/// The agent leg `Local/100@test-0000000a;1` of an Originate (CallerID `<5551234>`, as the hub
/// sends it): every field a channel event of that leg carries.
fn originate_leg(event: &str, state: &str) -> Packet {
    Packet::new()
        .with("Event", event)
        .with("Channel", "Local/100@test-0000000a;1")
        .with("ChannelState", state)
        .with("CallerIDNum", "5551234")
        .with("CallerIDName", "<unknown>")
        .with("ConnectedLineNum", "5551234")
        .with("ConnectedLineName", "<unknown>")
        .with("Context", "test")
        .with("Exten", "100")
        .with("Uniqueid", "1795462400.0")
        .with("Linkedid", "1795462400.0")
}

fn originate_dial(event: &str, state: &str) -> Packet {
    Packet::new()
        .with("Event", event)
        .with("DestChannel", "Local/100@test-0000000a;1")
        .with("DestChannelState", state)
        .with("DestCallerIDNum", "5551234")
        .with("DestConnectedLineNum", "5551234")
        .with("DestExten", "100")
        .with("DestUniqueid", "1795462400.0")
        .with("DestLinkedid", "1795462400.0")
        .with("DialString", "100@test")
}

fn originate_failure(reason: &str) -> Packet {
    Packet::new()
        .with("Event", "OriginateResponse")
        .with("ActionID", "enlace-1-1-7")
        .with("Response", "Failure")
        .with("Channel", "Local/100@test")
        .with("Context", "from-internal")
        .with("Exten", "5551234")
        .with("Reason", reason)
        .with("Uniqueid", "<null>")
        .with("CallerIDNum", "5551234")
}

#[test]
fn a_failed_originate_is_one_dial_attempt_with_its_reason() {
    let hangup = |cause: &str| originate_leg("Hangup", "7").with("Cause", cause);
    for (state, status, cause, reason, failure) in [
        ("7", "BUSY", "17", "5", DialFailure::Busy),
        ("5", "NOANSWER", "19", "3", DialFailure::NoAnswer),
        ("5", "CANCEL", "21", "1", DialFailure::Refused),
        ("0", "CHANUNAVAIL", "20", "0", DialFailure::Unreachable),
    ] {
        let events = vec![
            originate_leg("Newchannel", "0"),
            originate_leg("NewConnectedLine", "0"),
            originate_dial("DialBegin", "0"),
            originate_leg("Newstate", state),
            originate_dial("DialEnd", state).with("DialStatus", status),
            hangup(cause),
            originate_failure(reason),
        ];
        // Whichever comes first, the hang-up or the OriginateResponse: one attempt, not a call.
        let mut response_first = events.clone();
        response_first.swap(5, 6);
        for events in [events, response_first] {
            let got = announced(&events);
            assert_eq!(
                got,
                vec![(PbxCallState::Failed(failure), "5551234".to_string())],
                "{status}"
            );
        }
    }
    // An interface that does not exist: no channel at all, only the response.
    assert_eq!(
        announced(&[originate_failure("0")]),
        vec![(
            PbxCallState::Failed(DialFailure::Unreachable),
            "5551234".to_string()
        )]
    );
}

#[test]
fn an_agent_leg_seen_up_was_answered_whatever_the_event() {
    // An Originate into a conference (as recorded on a real Asterisk): no Newstate of the
    // agent leg reaches us, but its events say ChannelState 6.
    let mut talking = originate_leg("Newexten", "6")
        .with("Application", "ConfBridge")
        .with("AppData", "sala1");
    talking.push("Exten", "sala1");
    let events = [
        originate_leg("Newchannel", "0"),
        originate_dial("DialBegin", "0"),
        talking,
        originate_leg("Hangup", "6")
            .with("Cause", "16")
            .with("Cause-txt", "Normal Clearing"),
    ];
    let mut t = tracker();
    let mut last = None;
    for (i, ev) in events.iter().enumerate() {
        let now = 1_000_000 + i64::try_from(i).expect("index") * 30_000;
        for change in t.on_event(ev, now) {
            last = Some(change.call);
        }
    }
    let call = last.expect("a call");
    assert_eq!(call.state, PbxCallState::Ended);
    assert_eq!(call.answered_at, Some(1_060_000));
    assert_eq!(call.duration_seconds, 30);
}

#[test]
fn tracker_follows_the_transcript_queue_call() {
    let t = transcript();
    let events = events_of(&block_with(&t, "orig2"));
    let calls = run(&events);
    check_queue(&calls);
    let call = calls.values().next().expect("call");
    assert!(call.answered_at.expect("answered") > call.ringing_at);
}

fn reorder(events: &[Packet]) -> Vec<Packet> {
    // Cdr first, every Hangup twice (one before everything else), the rest reversed in pairs.
    let mut out: Vec<Packet> = events
        .iter()
        .filter(|p| p.event() == Some("Cdr"))
        .cloned()
        .collect();
    out.extend(
        events
            .iter()
            .filter(|p| p.event() == Some("Hangup"))
            .cloned(),
    );
    let mut rest: Vec<Packet> = events
        .iter()
        .filter(|p| p.event() != Some("Cdr"))
        .cloned()
        .collect();
    for pair in rest.chunks_mut(2) {
        pair.reverse();
    }
    out.extend(rest);
    out.push(
        Packet::new()
            .with("Event", "SomethingNew")
            .with("Channel", "Local/100@test-00000000;1"),
    );
    out
}

#[test]
fn tracker_is_robust_to_reordering_and_duplicates() {
    let t = transcript();
    let originate = events_of(&block_with(&t, "orig1"));
    let queue = events_of(&block_with(&t, "orig2"));
    check_originate(&run(&reorder(&originate)));
    check_queue(&run(&reorder(&queue)));
    let mut reversed = originate.clone();
    reversed.reverse();
    check_originate(&run(&reversed));
    let mut reversed = queue.clone();
    reversed.reverse();
    check_queue(&run(&reversed));
    // Both calls interleaved in one stream.
    let mut both = Vec::new();
    for i in 0..originate.len().max(queue.len()) {
        both.extend(originate.get(i).cloned());
        both.extend(queue.get(i).cloned());
    }
    assert_eq!(run(&both).len(), 2);
}

#[test]
fn tracker_ignores_unknown_agents_and_resets() {
    let t = transcript();
    let events = events_of(&block_with(&t, "orig2"));
    let mut tr = CallTracker::new(vec![("x".into(), "PJSIP/9999".into())]);
    for ev in &events {
        assert!(tr.on_event(ev, 0).is_empty());
    }
    tr.set_interfaces(vec![("agent500".into(), "Local/500@agents".into())]);
    let mut changed = 0;
    for ev in &events {
        changed += tr.on_event(ev, 0).len();
    }
    assert!(changed > 0);
    assert_eq!(tr.calls().len(), 1);
    tr.reset();
    assert!(tr.calls().is_empty());
}
