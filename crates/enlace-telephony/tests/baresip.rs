//! The baresip line against REAL peers: a baresip agent (driven over ctrl_tcp) and SIPp far
//! ends / callers, each test with its own peers on free loopback ports.

use std::sync::Arc;
use std::time::Duration;

use enlace_core::{
    CallDirection, CallRecord, CallStatus, DialTarget, EndReason, ErrorCode, SystemClock,
};
use enlace_peers::{Baresip, Scenario, Sipp};
use enlace_telephony::{
    BaresipConfig, LineConfig, LineEvent, LineStatus, PhoneLine, RandomCallIds,
};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(15);

struct Harness {
    agent: Baresip,
    line: PhoneLine,
    rx: Receiver<LineEvent>,
    statuses: Vec<LineStatus>,
}

impl Harness {
    /// A fresh agent baresip and a line sending numbers to `sip_domain`; waits for Online.
    async fn start(sip_domain: &str) -> Harness {
        let agent = Baresip::start(enlace_peers::BaresipConfig::agent()).expect("agent starts");
        let config = LineConfig::Baresip(BaresipConfig {
            ctrl_addr: agent.ctrl_addr(),
            sip_domain: sip_domain.to_owned(),
        });
        let (line, rx) = PhoneLine::start(
            config,
            Arc::new(SystemClock),
            Arc::new(RandomCallIds::default()),
        );
        let mut h = Harness {
            agent,
            line,
            rx,
            statuses: Vec::new(),
        };
        h.status(|s| *s == LineStatus::Online).await;
        assert_eq!(h.line.status(), LineStatus::Online);
        h
    }

    async fn next(&mut self) -> LineEvent {
        let event = timeout(WAIT, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no line event; log:\n{}", self.log()))
            .expect("event channel open");
        if let LineEvent::Status(s) = &event {
            self.statuses.push(s.clone());
        }
        event
    }

    /// The next call record change (status events are collected on the way).
    async fn call(&mut self) -> CallRecord {
        loop {
            if let LineEvent::Call(record) = self.next().await {
                return record;
            }
        }
    }

    /// Waits for a call record with `status` (earlier changes are checked to be the same call).
    async fn call_with(&mut self, status: CallStatus) -> CallRecord {
        loop {
            let record = self.call().await;
            if record.status == status {
                return record;
            }
        }
    }

    async fn status(&mut self, wanted: impl Fn(&LineStatus) -> bool) -> LineStatus {
        loop {
            if let LineEvent::Status(s) = self.next().await {
                if wanted(&s) {
                    return s;
                }
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.agent.log_path()).unwrap_or_default()
    }
}

fn e164(n: &str) -> DialTarget {
    DialTarget::Number {
        e164: n.into(),
        extension: None,
    }
}

fn wait_sipp(sipp: &mut Sipp) {
    let status = sipp.wait(WAIT).expect("sipp exits");
    assert!(
        status.success(),
        "sipp {status}:\n{}\n{}",
        std::fs::read_to_string(sipp.log_path()).unwrap_or_default(),
        sipp.messages()
    );
}

fn assert_consistent_times(r: &CallRecord) {
    let answered = r.answered_at.expect("answered");
    let ended = r.ended_at.expect("ended");
    assert!(answered >= r.started_at, "{r:?}");
    assert!(ended >= answered, "{r:?}");
    let secs = u32::try_from((ended.0 - answered.0) / 1000).expect("fits");
    assert_eq!(r.duration_seconds(), secs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_call_answered_then_hung_up_by_the_agent() {
    let mut far = Sipp::uas(Scenario::RingAnswer { ring_ms: 300 }).unwrap();
    let mut h = Harness::start(&far.domain()).await;
    h.line.dial(&e164("+50640004000")).await.unwrap();

    let ringing = h.call().await;
    assert_eq!(ringing.status, CallStatus::Ringing);
    assert_eq!(ringing.direction, CallDirection::Outgoing);
    assert_eq!(ringing.peer_number, "+50640004000");
    assert_eq!(ringing.local_number.as_deref(), Some("1001"));
    assert_eq!(ringing.to_number(), Some("+50640004000"));

    let answered = h.call_with(CallStatus::Answered).await;
    assert_eq!(answered.id, ringing.id);
    assert_eq!(answered.started_at, ringing.started_at);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    h.line.hangup(&answered.line_call_id).await.unwrap();

    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.id, ringing.id);
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    assert!(ended.duration_seconds() >= 1, "{ended:?}");
    assert_consistent_times(&ended);

    wait_sipp(&mut far);
    assert_eq!(
        far.received_request_uri(),
        Some(far.uri_for("+50640004000"))
    );
    // The call is gone: hanging it up again is refused without asking baresip.
    let err = h.line.hangup(&ended.line_call_id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoActiveCall);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_call_to_a_busy_extension() {
    let mut far = Sipp::uas(Scenario::Busy).unwrap();
    let mut h = Harness::start(&far.domain()).await;
    h.line
        .dial(&DialTarget::Extension("4000".into()))
        .await
        .unwrap();
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.end_reason, Some(EndReason::Busy));
    assert_eq!(ended.peer_number, "4000");
    assert_eq!(ended.answered_at, None);
    assert_eq!(ended.duration_seconds(), 0);
    wait_sipp(&mut far);
    assert_eq!(far.received_request_uri(), Some(far.uri_for("4000")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_call_cancelled_while_ringing_is_no_answer() {
    let far = Sipp::uas(Scenario::RingAnswer { ring_ms: 20_000 }).unwrap();
    let mut h = Harness::start(&far.domain()).await;
    h.line.dial(&e164("+50640004001")).await.unwrap();
    let ringing = h.call().await;
    assert_eq!(ringing.status, CallStatus::Ringing);
    h.line.hangup(&ringing.line_call_id).await.unwrap();
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.id, ringing.id);
    assert_eq!(ended.end_reason, Some(EndReason::NoAnswer));
    assert_eq!(ended.answered_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_end_hangs_up_an_answered_call() {
    let mut far = Sipp::uas(Scenario::AnswerThenBye { talk_ms: 500 }).unwrap();
    let mut h = Harness::start(&far.domain()).await;
    h.line.dial(&e164("+50640004002")).await.unwrap();
    let answered = h.call_with(CallStatus::Answered).await;
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.id, answered.id);
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    assert_consistent_times(&ended);
    wait_sipp(&mut far);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_media_then_answer() {
    let mut far = Sipp::uas(Scenario::EarlyMedia { ring_ms: 200 }).unwrap();
    let mut h = Harness::start(&far.domain()).await;
    h.line.dial(&e164("+50640004003")).await.unwrap();
    let first = h.call().await;
    assert_eq!(
        first.status,
        CallStatus::Ringing,
        "CALL_PROGRESS starts the record"
    );
    let answered = h.call_with(CallStatus::Answered).await;
    h.line.hangup(&answered.line_call_id).await.unwrap();
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    wait_sipp(&mut far);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_call_answered_by_the_agent() {
    let mut h = Harness::start("127.0.0.1").await;
    let mut caller = Sipp::call(
        h.agent.sip_addr(),
        "1001",
        "+15550001",
        "ACME Customer",
        1000,
    )
    .unwrap();
    let ringing = h.call().await;
    assert_eq!(ringing.status, CallStatus::Ringing);
    assert_eq!(ringing.direction, CallDirection::Incoming);
    assert_eq!(ringing.peer_number, "+15550001");
    assert_eq!(ringing.peer_display_name.as_deref(), Some("ACME Customer"));
    assert_eq!(ringing.local_number.as_deref(), Some("1001"));
    assert_eq!(ringing.from_number(), Some("+15550001"));

    h.line.answer(&ringing.line_call_id).await.unwrap();
    let answered = h.call_with(CallStatus::Answered).await;
    assert_eq!(answered.id, ringing.id);
    // The customer hangs up after talking 1 s.
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.id, ringing.id);
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    assert_consistent_times(&ended);
    wait_sipp(&mut caller);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_call_rejected_by_the_agent() {
    let mut h = Harness::start("127.0.0.1").await;
    let mut caller = Sipp::call(
        h.agent.sip_addr(),
        "1001",
        "+15550002",
        "Rejected Customer",
        1000,
    )
    .unwrap();
    let ringing = h.call().await;
    assert_eq!(ringing.direction, CallDirection::Incoming);
    h.line.reject(&ringing.line_call_id).await.unwrap();
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.id, ringing.id);
    assert_eq!(ended.end_reason, Some(EndReason::Rejected));
    assert_eq!(ended.answered_at, None);
    // SIPp got the 486, ACKed it and ended successfully.
    wait_sipp(&mut caller);
    assert!(
        caller.messages().contains("SIP/2.0 486"),
        "{}",
        caller.messages()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_killed_mid_call_then_restarted() {
    // A far end that takes any number of calls (the first one never gets its BYE).
    let far = Sipp::uas_unlimited(Scenario::RingAnswer { ring_ms: 100 }).unwrap();
    let mut h = Harness::start(&far.domain()).await;
    h.line.dial(&e164("+50640004004")).await.unwrap();
    let answered = h.call_with(CallStatus::Answered).await;

    h.agent.kill_hard();
    let lost = h.call_with(CallStatus::Ended).await;
    assert_eq!(lost.id, answered.id);
    assert_eq!(lost.end_reason, Some(EndReason::LineLost));
    assert!(lost.ended_at.is_some());
    let down = h.status(|s| matches!(s, LineStatus::Offline { .. })).await;
    assert_eq!(down.as_str(), "offline");
    assert_ne!(h.line.status(), LineStatus::Online);
    let err = h.line.dial(&e164("+50640004005")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::LineOffline);

    h.agent.restart().expect("restart on the same ports");
    h.status(|s| *s == LineStatus::Online).await;
    h.line.dial(&e164("+50640004006")).await.unwrap();
    let again = h.call_with(CallStatus::Answered).await;
    assert_ne!(again.id, answered.id);
    assert_eq!(again.peer_number, "+50640004006");
    h.line.hangup(&again.line_call_id).await.unwrap();
    let ended = h.call_with(CallStatus::Ended).await;
    assert_eq!(ended.id, again.id);
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    assert!(h.statuses.iter().any(|s| s.as_str() == "offline"));
}
