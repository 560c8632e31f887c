//! The AMI double over raw TCP, compared with the recorded Asterisk 22 session
//! (`crates/enlace-ami/tests/data/asterisk-ami-transcript.txt`, a copy of
//! `../shared/reference/asterisk-ami-transcript.txt`). Only values that must differ between
//! runs are normalized: unique ids and bridge ids (renumbered by first appearance), epoch
//! seconds and Cdr times.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use enlace_sandbox::ami::CdrOrder;
use enlace_sandbox::{AmiDouble, AmiFault, AmiScenario, OriginateScript};

const TRANSCRIPT: &str = include_str!("../../enlace-ami/tests/data/asterisk-ami-transcript.txt");

// ----------------------------------------------------------------------------------------------
// Transcript

/// (what the client sent, the raw bytes received after it), in order.
fn transcript() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut sent = String::new();
    let mut cur: Option<String> = None;
    let mut receiving = false;
    for line in TRANSCRIPT.split_inclusive('\n') {
        if line.starts_with("#####") {
            if let Some(body) = cur.take() {
                if receiving {
                    // The recorder added one bare "\n" after each block.
                    let body = body.strip_suffix('\n').unwrap_or(&body).to_string();
                    out.push((sent.clone(), body));
                } else {
                    sent = body.strip_suffix('\n').unwrap_or(&body).to_string();
                }
            }
            receiving = line.contains("RECEIVED");
            cur = Some(String::new());
            if line.contains("END") {
                cur = None;
            }
        } else if let Some(c) = cur.as_mut() {
            c.push_str(line);
        }
    }
    out
}

fn block(action_id: &str) -> (String, String) {
    transcript()
        .into_iter()
        .find(|(sent, _)| sent.contains(&format!("ActionID: {action_id}\r\n")))
        .unwrap_or_else(|| panic!("no block {action_id}"))
}

/// Compares normalized streams packet by packet (short failure messages).
fn assert_same(have: &str, want: &str, talk: bool) {
    let (have, want) = (norm(have, talk), norm(want, talk));
    let (h, w) = (packets(&have), packets(&want));
    for (i, (a, b)) in h.iter().zip(&w).enumerate() {
        assert_eq!(a, b, "packet {i}");
    }
    assert_eq!(h.len(), w.len(), "packet count");
}

fn packets(raw: &str) -> Vec<String> {
    raw.split_inclusive("\r\n\r\n")
        .map(str::to_string)
        .collect()
}

fn is_uniqueid(v: &str) -> bool {
    match v.split_once('.') {
        Some((a, b)) => {
            a.len() >= 9
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Normalizes run-dependent values; `talk` also blanks talk-time figures.
fn norm(raw: &str, talk: bool) -> String {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut out = String::new();
    let mut last_value = String::new();
    for line in raw.split_inclusive("\r\n") {
        let body = line.strip_suffix("\r\n").unwrap_or(line);
        let Some((k, v)) = body.split_once(": ") else {
            out.push_str(line);
            continue;
        };
        let epoch = matches!(k, "Timestamp" | "Uptime" | "LastReload")
            || (matches!(k, "LoginTime" | "LastPause" | "LastCall") && v != "0");
        let talky = talk
            && (matches!(k, "TalkTime" | "Duration" | "BillableSeconds")
                || (k == "Value" && last_value.contains("TIME") && !v.is_empty()));
        let nv = if is_uniqueid(v) || k == "BridgeUniqueid" {
            let n = ids.len();
            ids.entry(v.to_string())
                .or_insert_with(|| format!("<id{n}>"))
                .clone()
        } else if epoch {
            "<epoch>".to_string()
        } else if k.ends_with("Time") && k != "TalkTime" && !v.is_empty() {
            "<time>".to_string()
        } else if talky {
            "<n>".to_string()
        } else {
            v.to_string()
        };
        last_value = v.to_string();
        out.push_str(&format!("{k}: {nv}\r\n"));
    }
    out
}

// ----------------------------------------------------------------------------------------------
// Client

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(d: &AmiDouble) -> Client {
        let s = TcpStream::connect(d.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        let mut c = Client { s, buf: Vec::new() };
        let banner = c.read_until(b"\r\n").expect("banner");
        assert_eq!(banner, "Asterisk Call Manager/11.0.0\r\n");
        c
    }

    fn login(d: &AmiDouble) -> Client {
        let mut c = Client::connect(d);
        c.send("Action: Login\r\nUsername: ami\r\nSecret: amisecret\r\nActionID: l\r\n\r\n");
        assert!(c.packet().contains("Authentication accepted"));
        assert!(c.packet().starts_with("Event: FullyBooted\r\n"));
        c
    }

    fn send(&mut self, s: &str) {
        self.s.write_all(s.as_bytes()).expect("write");
    }

    /// Bytes up to and including `end`; None at EOF.
    fn read_until(&mut self, end: &[u8]) -> Option<String> {
        self.read_bytes_until(end)
            .map(|b| String::from_utf8(b).expect("UTF-8 from the double"))
    }

    fn read_bytes_until(&mut self, end: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                let rest = self.buf.split_off(i + end.len());
                return Some(std::mem::replace(&mut self.buf, rest));
            }
            let mut tmp = [0u8; 4096];
            let n = self.s.read(&mut tmp).ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    fn packet(&mut self) -> String {
        self.read_until(b"\r\n\r\n").expect("a packet")
    }

    fn packets(&mut self, n: usize) -> String {
        (0..n).map(|_| self.packet()).collect()
    }

    /// Reads events until (and including) the first packet containing `needle`.
    fn until(&mut self, needle: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let p = self.packet();
            let done = p.contains(needle);
            out.push(p);
            if done {
                return out;
            }
        }
    }

    /// Everything until the server closes.
    fn rest(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        let _ = self.s.read_to_end(&mut all);
        all
    }
}

fn field<'a>(p: &'a str, key: &str) -> Option<&'a str> {
    p.split("\r\n")
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
}

fn event(p: &str) -> &str {
    field(p, "Event").unwrap_or("")
}

// ----------------------------------------------------------------------------------------------
// Tests

#[test]
fn banner_login_ping_and_logoff_are_byte_exact() {
    let d = AmiDouble::start().unwrap();
    let mut c = Client::connect(&d);
    let (sent, got) = block("login");
    c.send(&sent);
    assert_same(&c.packets(2), &got, false);

    c.send("Action: Ping\r\nActionID: p\r\n\r\n");
    let ping = c.packet();
    let ts = field(&ping, "Timestamp").unwrap();
    assert_eq!(
        ping,
        format!("Response: Success\r\nActionID: p\r\nPing: Pong\r\nTimestamp: {ts}\r\n\r\n")
    );
    let (secs, micros) = ts.split_once('.').unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_700_000_000 && micros.len() == 6);

    c.send("Action: Login\r\nUsername: ami\r\nSecret: amisecret\r\n\r\n");
    assert_eq!(
        c.packet(),
        "Response: Success\r\nMessage: Already authenticated\r\n\r\n"
    );

    let (sent, got) = block("bye");
    c.send(&sent);
    assert_eq!(c.packet(), got);
    assert!(c.rest().is_empty(), "the connection closes after Goodbye");
    assert_eq!(d.actions().len(), 4);
    assert_eq!(d.actions()[1][0], ("Action".into(), "Ping".into()));
}

#[test]
fn errors_before_and_after_login() {
    let d = AmiDouble::start().unwrap();
    d.add_user("crm", "s3cret");
    let mut c = Client::connect(&d);
    c.send("Action: QueueStatus\r\nActionID: q\r\n\r\n");
    assert_eq!(
        c.packet(),
        "Response: Error\r\nActionID: q\r\nMessage: Permission denied\r\n\r\n"
    );
    c.send("ActionID: x\r\nFoo: bar\r\n\r\n");
    assert_eq!(
        c.packet(),
        "Response: Error\r\nActionID: x\r\nMessage: Missing action in request\r\n\r\n"
    );
    // Liberal input: bare \n and no space after the colon.
    c.send("Action:Login\nUsername:crm\nSecret:s3cret\nEvents: off\n\n");
    assert_eq!(
        c.packet(),
        "Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    );
    c.send("Action: Foo\r\nActionID: 7\r\n\r\n");
    assert_eq!(
        c.packet(),
        "Response: Error\r\nActionID: 7\r\nMessage: Invalid/unknown command: Foo. Use Action: ListCommands to show available commands.\r\n\r\n"
    );
    c.send("Action: Originate\r\nActionID: o\r\n\r\n");
    assert!(c.packet().contains("Message: Channel not specified\r\n"));

    let mut bad = Client::connect(&d);
    bad.send("Action: Login\r\nUsername: ami\r\nSecret: wrong\r\nActionID: 1\r\n\r\n");
    assert_eq!(
        bad.packet(),
        "Response: Error\r\nActionID: 1\r\nMessage: Authentication failed\r\n\r\n"
    );
    assert!(bad.rest().is_empty(), "closed after a failed login");
}

#[test]
fn originate_emits_the_recorded_sequence() {
    let d = AmiDouble::start().unwrap();
    d.set_originate_outcome(OriginateScript::Answer { talk_ms: 1000 });
    d.set_cdr_order(CdrOrder::AsRecorded);
    let mut c = Client::login(&d);
    let mut other = Client::login(&d);
    let (sent, got) = block("orig1");
    c.send(&sent);
    let want = packets(&got);
    assert_eq!(
        want.len(),
        28,
        "{:?}",
        want.iter().map(|p| event(p)).collect::<Vec<_>>()
    );
    let have = c.packets(want.len());
    assert_same(&have, &got, false);
    // Other logged-in sessions see the events too (not the response).
    let seen = other.until("Cause-txt");
    assert_eq!(event(&seen[0]), "Newchannel");
    assert!(seen.iter().any(|p| event(p) == "OriginateResponse"));
    let last = d.actions().last().cloned().unwrap();
    assert!(last.contains(&("CallerID".into(), "\"AMI Test\" <1000>".into())));
}

#[test]
fn originate_outcomes_give_their_reasons() {
    let d = AmiDouble::start().unwrap();
    let mut c = Client::login(&d);
    for (script, reason) in [
        (OriginateScript::NoAnswer, "3"),
        (OriginateScript::Busy, "5"),
        (OriginateScript::Fail, "0"),
        (OriginateScript::Answer { talk_ms: 0 }, "4"),
    ] {
        d.set_originate_outcome(script);
        c.send("Action: Originate\r\nChannel: PJSIP/1001\r\nContext: from-crm\r\nExten: 5551234\r\nPriority: 1\r\nCallerID: \"Click\" <5551234>\r\nAsync: true\r\nActionID: o\r\n\r\n");
        assert_eq!(
            c.packet(),
            "Response: Success\r\nActionID: o\r\nMessage: Originate successfully queued\r\n\r\n"
        );
        let seq = c.until("Event: OriginateResponse");
        let resp = seq.last().unwrap();
        assert_eq!(field(resp, "Reason"), Some(reason), "{script:?}");
        assert_eq!(field(resp, "ActionID"), Some("o"));
        let ok = if reason == "4" { "Success" } else { "Failure" };
        assert_eq!(field(resp, "Response"), Some(ok));
        if reason != "0" {
            assert!(field(&seq[0], "Channel")
                .unwrap()
                .starts_with("PJSIP/1001-0000"));
            // Finish the call: Hangup and its Cdr in whichever order.
            let mut rest = Vec::new();
            while !(rest.iter().any(|p: &String| event(p) == "Cdr")
                && rest.iter().chain(&seq).any(|p| event(p) == "Hangup"))
            {
                rest.push(c.packet());
            }
            let disp = rest.iter().find(|p| event(p) == "Cdr").unwrap();
            let want = match reason {
                "3" => "NO ANSWER",
                "5" => "BUSY",
                _ => "ANSWERED",
            };
            assert_eq!(field(disp, "Disposition"), Some(want));
        }
    }
}

#[test]
fn queue_actions_match_the_transcript_and_keep_state() {
    let d = AmiDouble::start().unwrap();
    d.set_cdr_order(CdrOrder::AsRecorded);
    let mut c = Client::login(&d);
    for id in ["qadd", "qpause", "qstat"] {
        let (sent, got) = block(id);
        c.send(&sent);
        let have = c.packets(packets(&got).len());
        assert_same(&have, &got, false);
        if id == "qpause" {
            assert_eq!(
                d.queue_members("support"),
                vec![("Local/500@agents".into(), true, Some("Baño".into()))]
            );
        }
    }
    let (sent, got) = block("qunpause");
    c.send(&sent);
    assert_same(&c.packets(2), &got, false);
    assert_eq!(
        d.queue_members("support"),
        vec![("Local/500@agents".into(), false, None)]
    );
    let pause = d
        .actions()
        .into_iter()
        .find(|a| a.contains(&("ActionID".into(), "qpause".into())))
        .unwrap();
    assert!(pause.contains(&("Reason".into(), "Baño".into())));

    // The queue call, against the transcript's queue section (the caller is a trunk channel
    // here instead of the recorder's Local/400@test pair).
    d.run(AmiScenario::InboundViaQueue {
        queue: "support".into(),
        caller: "2000".into(),
        caller_name: "Queue Caller".into(),
        agent_interface: "Local/500@agents".into(),
        talk_ms: 2000,
    });
    let have = c.until("Event: QueueMemberStatus\r\n");
    let have2 = c.until("Event: QueueMemberStatus\r\n");
    let have: Vec<String> = have
        .into_iter()
        .chain(have2)
        .skip_while(|p| event(p) != "QueueCallerJoin")
        .collect();
    let (_, got) = block("orig2");
    let caller1 = "Local/400@test-00000001;1";
    let trunk = "PJSIP/trunk-00000000";
    let want: Vec<String> = packets(&got)
        .into_iter()
        .skip_while(|p| event(p) != "QueueCallerJoin")
        .filter(|p| field(p, "Channel") != Some(caller1))
        .map(|p| {
            p.replace("Local/400@test-00000001;2", trunk)
                .replace("Local/500@agents-00000002", "Local/500@agents-00000000")
                .replace("1795462338.2", "1795462338.3")
                .replace("Context: test\r\n", "Context: from-pstn\r\n")
                .replace("Exten: 400\r\n", "Exten: support\r\n")
                .replace("Extension: 400\r\n", "Extension: support\r\n")
                .replace("Destination: 400\r\n", "Destination: support\r\n")
        })
        .collect();
    // The last QueueMemberStatus comes after the trunk caller's Hangup here; the recording
    // ends with the caller's ;1 half, which has no counterpart.
    assert_same(&have.concat(), &want.concat(), true);

    let (sent, got) = block("qrm");
    c.send(&sent);
    assert_same(&c.packets(2), &got, false);
    assert!(d.queue_members("support").is_empty());
}

#[test]
fn queue_errors_and_static_members() {
    let d = AmiDouble::start().unwrap();
    d.add_static_member("support", "Local/1001@agents/n", "May Flowers");
    d.add_queue("sales");
    let mut c = Client::login(&d);
    let mut ask = |s: &str| {
        c.send(s);
        field(&c.packet(), "Message").unwrap_or("").to_string()
    };
    assert_eq!(
        ask("Action: QueueRemove\r\nQueue: support\r\nInterface: Local/1001@agents/n\r\n\r\n"),
        "Member not dynamic"
    );
    assert_eq!(
        ask("Action: QueueRemove\r\nQueue: support\r\nInterface: Local/9@agents\r\n\r\n"),
        "Unable to remove interface: Not there"
    );
    assert_eq!(
        ask("Action: QueueAdd\r\nQueue: nope\r\nInterface: Local/9@agents\r\n\r\n"),
        "Unable to add interface to queue: No such queue"
    );
    assert_eq!(
        ask("Action: QueueAdd\r\nInterface: Local/9@agents\r\n\r\n"),
        "'Queue' not specified."
    );
    assert_eq!(
        ask("Action: QueuePause\r\nInterface: Local/9@agents\r\nPaused: true\r\n\r\n"),
        "Interface not found"
    );
    assert_eq!(
        ask("Action: QueuePause\r\nInterface: Local/9@agents\r\n\r\n"),
        "Need 'Interface' and 'Paused' parameters."
    );
    // Pausing without Queue pauses in every queue the interface is in.
    assert_eq!(
        ask("Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/1001@agents/n\r\n\r\n"),
        "Added interface to queue"
    );
    c.send("Action: QueuePause\r\nInterface: Local/1001@agents/n\r\nPaused: true\r\nReason: Almuerzo\r\n\r\n");
    let mut got = Vec::new();
    while got.len() < 4 {
        got.push(c.packet());
    }
    let pauses: Vec<&String> = got
        .iter()
        .filter(|p| event(p) == "QueueMemberPause")
        .collect();
    assert_eq!(pauses.len(), 2);
    assert!(pauses
        .iter()
        .all(|p| field(p, "PausedReason") == Some("Almuerzo")));
    assert_eq!(
        d.queue_members("support"),
        vec![("Local/1001@agents/n".into(), true, Some("Almuerzo".into()))]
    );
    // QueueStatus for a queue: params + members, ListItems counts both.
    c.send("Action: QueueStatus\r\nQueue: sales\r\nActionID: s\r\n\r\n");
    let start = c.packet();
    assert!(start.contains("EventList: start\r\nMessage: Queue status will follow"));
    let list = c.until("QueueStatusComplete");
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|p| field(p, "ActionID") == Some("s")));
    assert_eq!(field(&list[2], "ListItems"), Some("2"));
}

fn channel_events(seq: &[String]) -> Vec<(String, String)> {
    seq.iter()
        .filter(|p| event(p) != "Cdr")
        .filter_map(|p| Some((event(p).to_string(), field(p, "Channel")?.to_string())))
        .collect()
}

fn run_and_collect(d: &AmiDouble, c: &mut Client, scenario: AmiScenario) -> Vec<String> {
    d.run(scenario);
    // run() returns after the last write; a Ping marks the end of the stream.
    c.send("Action: Ping\r\nActionID: end\r\n\r\n");
    let mut out = c.until("ActionID: end");
    out.pop();
    out
}

/// Each channel: Newchannel first, Hangup last, one Linkedid for the whole call, bridge
/// enters balanced by leaves.
fn assert_consistent(seq: &[String]) {
    let mut open: HashMap<String, bool> = HashMap::new();
    for (ev, ch) in channel_events(seq) {
        match ev.as_str() {
            "Newchannel" => assert!(open.insert(ch.clone(), true).is_none(), "{ch} twice"),
            "Hangup" => assert_eq!(open.insert(ch.clone(), false), Some(true), "{ch}"),
            _ => assert_eq!(open.get(&ch), Some(&true), "{ev} on closed {ch}"),
        }
    }
    assert!(open.values().all(|o| !o), "every channel hung up");
    let links: std::collections::HashSet<&str> =
        seq.iter().filter_map(|p| field(p, "Linkedid")).collect();
    assert_eq!(links.len(), 1, "one Linkedid");
    let enters = seq.iter().filter(|p| event(p) == "BridgeEnter").count();
    let leaves = seq.iter().filter(|p| event(p) == "BridgeLeave").count();
    assert_eq!(enters, leaves);
    assert!(seq.iter().any(|p| event(p) == "Cdr"));
}

#[test]
fn scenarios_emit_consistent_sequences() {
    let d = AmiDouble::start().unwrap();
    let mut c = Client::login(&d);
    let agent = "PJSIP/1001";

    let out = run_and_collect(
        &d,
        &mut c,
        AmiScenario::Outbound {
            agent_interface: agent.into(),
            number: "5551234".into(),
            talk_ms: 10,
        },
    );
    assert_consistent(&out);
    let dial = out.iter().find(|p| event(p) == "DialEnd").unwrap();
    assert_eq!(field(dial, "DialStatus"), Some("ANSWER"));
    assert!(field(dial, "Channel").unwrap().starts_with("PJSIP/1001-"));
    assert_eq!(field(dial, "DestCallerIDNum"), Some("5551234"));

    for (scenario, status, cause, disposition) in [
        (
            AmiScenario::NoAnswer {
                agent_interface: agent.into(),
                number: "5550001".into(),
            },
            "NOANSWER",
            "19",
            "NO ANSWER",
        ),
        (
            AmiScenario::Busy {
                agent_interface: "Local/1002@agents".into(),
                number: "5550000".into(),
            },
            "BUSY",
            "17",
            "BUSY",
        ),
    ] {
        let out = run_and_collect(&d, &mut c, scenario);
        assert_consistent(&out);
        let end = out.iter().find(|p| event(p) == "DialEnd").unwrap();
        assert_eq!(field(end, "DialStatus"), Some(status));
        assert!(out
            .iter()
            .filter(|p| event(p) == "Hangup")
            .all(|p| field(p, "Cause") == Some(cause)));
        let cdr = out.iter().find(|p| event(p) == "Cdr").unwrap();
        assert_eq!(field(cdr, "Disposition"), Some(disposition));
        assert_eq!(field(cdr, "AnswerTime"), Some(""));
    }

    let out = run_and_collect(
        &d,
        &mut c,
        AmiScenario::TransferAway {
            agent_interface: agent.into(),
            caller: "5559876".into(),
            to: "1005".into(),
        },
    );
    assert_consistent(&out);
    let bt = out.iter().find(|p| event(p) == "BlindTransfer").unwrap();
    assert!(field(bt, "TransfererChannel")
        .unwrap()
        .starts_with("PJSIP/1001-"));
    assert_eq!(field(bt, "Extension"), Some("1005"));
    let agent_hangup = out
        .iter()
        .position(|p| event(p) == "Hangup" && field(p, "Channel").unwrap().starts_with(agent))
        .unwrap();
    let bt_at = out
        .iter()
        .position(|p| event(p) == "BlindTransfer")
        .unwrap();
    assert!(bt_at < agent_hangup);

    // A queue call to a PJSIP member that is not in the queue's state still makes sense.
    let out = run_and_collect(
        &d,
        &mut c,
        AmiScenario::InboundViaQueue {
            queue: "support".into(),
            caller: "5551111".into(),
            caller_name: "Ana Pérez".into(),
            agent_interface: agent.into(),
            talk_ms: 5,
        },
    );
    assert_consistent(&out);
    let names: Vec<&str> = out.iter().map(|p| event(p)).collect();
    let pos = |n: &str| names.iter().position(|e| *e == n).unwrap();
    assert!(pos("QueueCallerJoin") < pos("AgentCalled"));
    assert!(pos("AgentCalled") < pos("AgentConnect"));
    assert!(pos("AgentConnect") < pos("BridgeEnter"));
    assert!(pos("BridgeEnter") < pos("AgentComplete"));
    let joined = out.iter().find(|p| event(p) == "QueueCallerJoin").unwrap();
    assert_eq!(field(joined, "CallerIDName"), Some("Ana Pérez"));
}

#[test]
fn cdr_order_alternates_between_calls() {
    let d = AmiDouble::start().unwrap();
    let mut c = Client::login(&d);
    let mut orders = Vec::new();
    for _ in 0..2 {
        let out = run_and_collect(
            &d,
            &mut c,
            AmiScenario::Outbound {
                agent_interface: "PJSIP/1001".into(),
                number: "555".into(),
                talk_ms: 0,
            },
        );
        let cdr = out.iter().position(|p| event(p) == "Cdr").unwrap();
        let last_hangup = out.iter().rposition(|p| event(p) == "Hangup").unwrap();
        orders.push(cdr < last_hangup);
    }
    assert_eq!(orders, vec![true, false]);
}

#[test]
fn faults_break_the_stream_as_asked() {
    let d = AmiDouble::start().unwrap();
    let mut a = Client::login(&d);
    a.send("Action: Ping\r\n\r\n");
    a.packet();
    assert_eq!(d.connections(), 1);
    d.inject(AmiFault::Garbage(b"\x00\xffnot ami\r\n\r\n".to_vec()));
    assert_eq!(
        a.read_bytes_until(b"\r\n\r\n").unwrap(),
        b"\x00\xffnot ami\r\n\r\n".to_vec()
    );
    // Still served after the garbage.
    a.send("Action: Ping\r\nActionID: 2\r\n\r\n");
    assert!(a.packet().contains("Ping: Pong"));

    d.inject(AmiFault::TruncatedPacket);
    let tail = a.rest();
    assert!(tail.starts_with(b"Event: Newchannel\r\n"));
    assert!(!tail.ends_with(b"\r\n\r\n"));

    let mut b = Client::login(&d);
    d.inject(AmiFault::DropConnections);
    assert!(b.rest().is_empty());
    // The listener keeps accepting.
    let _c = Client::login(&d);
}

#[test]
fn drop_stops_the_listener_and_closes_clients() {
    let d = AmiDouble::start().unwrap();
    let addr = d.addr();
    let mut c = Client::login(&d);
    drop(d);
    assert!(c.rest().is_empty());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn held_actions_wait_for_release_while_others_are_served() {
    let d = AmiDouble::start().unwrap();
    let mut c = Client::login(&d);
    for ext in ["500", "501"] {
        c.send(&format!(
            "Action: QueueAdd\r\nQueue: support\r\nInterface: Local/{ext}@agents\r\nActionID: add{ext}\r\n\r\n"
        ));
        assert!(c.until("Event: QueueMemberAdded")[0].contains("Added interface"));
    }
    d.hold_replies("QueuePause", Some("Local/500@agents"));
    let pause = |ext: &str| {
        format!(
            "Action: QueuePause\r\nInterface: Local/{ext}@agents\r\nPaused: true\r\nActionID: p{ext}\r\n\r\n"
        )
    };
    c.send(&pause("500"));
    c.send(&pause("501"));
    // 501's pause is answered (and done) while 500's waits.
    let reply = c.packet();
    assert_eq!(field(&reply, "ActionID"), Some("p501"), "{reply}");
    assert_eq!(event(&c.packet()), "QueueMemberPause");
    assert_eq!(d.held_replies(), 1);
    let paused =
        |d: &AmiDouble| -> Vec<bool> { d.queue_members("support").iter().map(|m| m.1).collect() };
    assert_eq!(paused(&d), [false, true]);
    d.release_replies();
    let reply = c.packet();
    assert_eq!(field(&reply, "ActionID"), Some("p500"), "{reply}");
    assert_eq!(
        field(&reply, "Message"),
        Some("Interface paused successfully")
    );
    assert_eq!(d.held_replies(), 0);
    assert_eq!(paused(&d), [true, true]);
    // Holding is over: the next one is answered at once.
    c.send(&pause("500").replace("p500", "again"));
    let reply = c.until("ActionID: again");
    assert!(!reply.is_empty());
}
