//! Call tracking: turns baresip call events into [`CallRecord`] changes. Pure (no I/O); time
//! comes from the injected [`Clock`], our call ids from a [`CallIdSource`].
//!
//! Rules: a record starts at the first of CALL_INCOMING / CALL_OUTGOING / CALL_RINGING /
//! CALL_PROGRESS / CALL_ESTABLISHED (or CALL_CLOSED for a call that failed at once); an
//! outgoing record starts at the dial instant when we dialed it. CALL_ESTABLISHED answers it,
//! CALL_CLOSED ends it with a reason derived from its `param` text and from whether we asked
//! to end it ([`CallTracker::note_local_end`]).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use enlace_core::{
    CallDirection, CallId, CallRecord, CallStatus, Clock, EndReason, LogState, Timestamp,
};

use crate::protocol::{uri_user, Event};

/// Source of our own call ids.
pub trait CallIdSource: Send + Sync {
    fn next_id(&self) -> CallId;
}

/// Random UUID-v4-shaped ids (std's randomly seeded hasher; no extra dependency).
#[derive(Debug, Default)]
pub struct RandomCallIds {
    counter: AtomicU64,
}

impl CallIdSource for RandomCallIds {
    fn next_id(&self) -> CallId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let word = |salt: u64| {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u64(salt);
            h.write_u32(std::process::id());
            if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
                h.write_u128(d.as_nanos());
            }
            h.finish()
        };
        let (a, b) = (word(1), word(2));
        let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        CallId(format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        ))
    }
}

/// How long a remembered dial instant stays valid for the next outgoing call.
const DIAL_MEMORY_MS: i64 = 130_000;
/// How many ended line call ids are remembered (late events for them are ignored).
const ENDED_MEMORY: usize = 64;

#[derive(Debug)]
struct OpenCall {
    record: CallRecord,
    local_end: bool,
}

/// Open calls keyed by the line's call id.
pub struct CallTracker {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn CallIdSource>,
    open: HashMap<String, OpenCall>,
    dialed_at: Option<Timestamp>,
    ended: VecDeque<String>,
}

impl std::fmt::Debug for CallTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTracker")
            .field("open", &self.open)
            .field("dialed_at", &self.dialed_at)
            .finish_non_exhaustive()
    }
}

impl CallTracker {
    pub fn new(clock: Arc<dyn Clock>, ids: Arc<dyn CallIdSource>) -> Self {
        CallTracker {
            clock,
            ids,
            open: HashMap::new(),
            dialed_at: None,
            ended: VecDeque::new(),
        }
    }

    /// We are about to dial: the next new outgoing call started now.
    pub fn note_dial(&mut self) {
        self.dialed_at = Some(self.clock.now());
    }

    /// The dial failed before any call appeared.
    pub fn clear_dial(&mut self) {
        self.dialed_at = None;
    }

    /// We asked the line to reject / hang up this call. Returns whether the call is open.
    pub fn note_local_end(&mut self, line_call_id: &str) -> bool {
        match self.open.get_mut(line_call_id) {
            Some(call) => {
                call.local_end = true;
                true
            }
            None => false,
        }
    }

    pub fn is_open(&self, line_call_id: &str) -> bool {
        self.open.contains_key(line_call_id)
    }

    /// Current open calls.
    pub fn open_calls(&self) -> Vec<CallRecord> {
        self.open.values().map(|c| c.record.clone()).collect()
    }

    /// Applies one event; returns the record if it changed.
    pub fn on_event(&mut self, event: &Event) -> Option<CallRecord> {
        let id = event.id.as_deref()?;
        let kind = event.kind.as_str();
        let relevant = matches!(
            kind,
            "CALL_INCOMING"
                | "CALL_OUTGOING"
                | "CALL_RINGING"
                | "CALL_PROGRESS"
                | "CALL_ESTABLISHED"
                | "CALL_CLOSED"
        );
        if !relevant || self.ended.iter().any(|e| e == id) {
            return None;
        }
        let now = self.clock.now();
        let created = if self.open.contains_key(id) {
            false
        } else {
            let record = self.new_record(id, event, now);
            self.open.insert(
                id.to_owned(),
                OpenCall {
                    record,
                    local_end: false,
                },
            );
            true
        };
        let call = self.open.get_mut(id)?;
        if call.record.peer_display_name.is_none() && event.peer_display_name.is_some() {
            call.record
                .peer_display_name
                .clone_from(&event.peer_display_name);
        }
        match kind {
            "CALL_ESTABLISHED" if call.record.answered_at.is_none() => {
                call.record.answered_at = Some(now);
                call.record.status = CallStatus::Answered;
                Some(call.record.clone())
            }
            "CALL_CLOSED" => {
                let mut call = self.open.remove(id)?;
                call.record.end_reason = Some(end_reason(
                    call.record.direction,
                    call.record.answered_at.is_some(),
                    call.local_end,
                    event.param.as_deref().unwrap_or_default(),
                ));
                call.record.ended_at = Some(now);
                call.record.status = CallStatus::Ended;
                self.remember_ended(id);
                Some(call.record)
            }
            _ if created => Some(call.record.clone()),
            _ => None,
        }
    }

    /// The line went away: every open call ends with `reason` (e.g. [`EndReason::LineLost`]).
    pub fn close_all(&mut self, reason: EndReason) -> Vec<CallRecord> {
        let now = self.clock.now();
        let mut closed: Vec<(String, OpenCall)> = self.open.drain().collect();
        closed.sort_by_key(|(_, c)| c.record.started_at);
        closed
            .into_iter()
            .map(|(id, mut call)| {
                self.remember_ended(&id);
                call.record.ended_at = Some(now);
                call.record.status = CallStatus::Ended;
                call.record.end_reason = Some(reason.clone());
                call.record
            })
            .collect()
    }

    fn remember_ended(&mut self, id: &str) {
        if self.ended.len() >= ENDED_MEMORY {
            self.ended.pop_front();
        }
        self.ended.push_back(id.to_owned());
    }

    fn new_record(&mut self, id: &str, event: &Event, now: Timestamp) -> CallRecord {
        let direction = match event.direction.as_deref() {
            Some("incoming") => CallDirection::Incoming,
            Some("outgoing") => CallDirection::Outgoing,
            _ if event.kind == "CALL_INCOMING" => CallDirection::Incoming,
            _ => CallDirection::Outgoing,
        };
        let started_at = match (direction, self.dialed_at.take()) {
            (CallDirection::Outgoing, Some(t)) if now.0.saturating_sub(t.0) <= DIAL_MEMORY_MS => t,
            (CallDirection::Incoming, keep) => {
                self.dialed_at = keep;
                now
            }
            _ => now,
        };
        CallRecord {
            id: self.ids.next_id(),
            line_call_id: id.to_owned(),
            direction,
            peer_number: event.peer_uri.as_deref().map(uri_user).unwrap_or_default(),
            peer_display_name: event.peer_display_name.clone(),
            local_number: event
                .account_aor
                .as_deref()
                .map(uri_user)
                .filter(|s| !s.is_empty()),
            status: CallStatus::Ringing,
            started_at,
            answered_at: None,
            ended_at: None,
            end_reason: None,
            log_state: LogState::Pending,
        }
    }
}

/// Why a call ended, from baresip's CALL_CLOSED text.
pub fn end_reason(
    direction: CallDirection,
    answered: bool,
    local_end: bool,
    param: &str,
) -> EndReason {
    if answered {
        return EndReason::Completed;
    }
    let text = param.trim();
    let lower = text.to_ascii_lowercase();
    let code = |c: &str| lower.starts_with(c);
    if code("486") || code("600") || lower.contains("busy") {
        return EndReason::Busy;
    }
    match direction {
        CallDirection::Incoming if local_end => EndReason::Rejected,
        // The caller gave up or the INVITE timed out: a missed call.
        CallDirection::Incoming => EndReason::NoAnswer,
        CallDirection::Outgoing => {
            let no_answer = local_end
                || code("408")
                || code("480")
                || code("487")
                || lower.contains("connection reset by user")
                || lower.contains("request terminated")
                || lower.contains("timed out")
                || lower.contains("timeout");
            if no_answer {
                EndReason::NoAnswer
            } else if text.is_empty() {
                EndReason::Failed("call closed".into())
            } else {
                EndReason::Failed(text.to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;

    #[derive(Debug, Default)]
    struct FakeClock(AtomicI64);
    impl FakeClock {
        fn set(&self, ms: i64) {
            self.0.store(ms, Ordering::SeqCst);
        }
    }
    impl Clock for FakeClock {
        fn now(&self) -> Timestamp {
            Timestamp(self.0.load(Ordering::SeqCst))
        }
    }

    #[derive(Debug, Default)]
    struct SeqIds(AtomicU64);
    impl CallIdSource for SeqIds {
        fn next_id(&self) -> CallId {
            CallId(format!(
                "call-{}",
                self.0.fetch_add(1, Ordering::SeqCst) + 1
            ))
        }
    }

    fn tracker() -> (CallTracker, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock::default());
        (
            CallTracker::new(clock.clone(), Arc::new(SeqIds::default())),
            clock,
        )
    }

    fn ev(kind: &str, dir: &str, id: &str, param: &str) -> Event {
        let peer = if dir == "incoming" {
            "sip:+15550001@127.0.0.1:5090"
        } else {
            "sip:+50640004000@127.0.0.1:5072"
        };
        Event {
            kind: kind.into(),
            class: Some("call".into()),
            account_aor: Some("sip:1001@127.0.0.1:5061".into()),
            direction: Some(dir.into()),
            peer_uri: Some(peer.into()),
            peer_display_name: (dir == "incoming").then(|| "ACME Customer".to_owned()),
            id: Some(id.into()),
            param: Some(param.into()),
        }
    }

    #[test]
    fn outgoing_answered_then_hung_up() {
        let (mut t, clock) = tracker();
        clock.set(1_000);
        t.note_dial();
        // The first CALL_LOCAL_SDP has no id: ignored.
        let sdp = Event {
            id: None,
            ..ev("CALL_LOCAL_SDP", "outgoing", "x", "offer")
        };
        assert_eq!(t.on_event(&sdp), None);
        clock.set(1_050);
        let r = t
            .on_event(&ev("CALL_RINGING", "outgoing", "c1", "sip:x"))
            .unwrap();
        assert_eq!(r.id, CallId("call-1".into()));
        assert_eq!(r.line_call_id, "c1");
        assert_eq!(r.direction, CallDirection::Outgoing);
        assert_eq!(r.status, CallStatus::Ringing);
        assert_eq!(
            r.started_at,
            Timestamp(1_000),
            "started at the dial instant"
        );
        assert_eq!(r.peer_number, "+50640004000");
        assert_eq!(r.local_number.as_deref(), Some("1001"));
        assert_eq!(r.peer_display_name, None);
        // Repeated ringing / unrelated events change nothing.
        assert_eq!(t.on_event(&ev("CALL_RINGING", "outgoing", "c1", "")), None);
        assert_eq!(
            t.on_event(&ev("CALL_RTCP", "outgoing", "c1", "audio")),
            None
        );
        clock.set(3_000);
        let r = t
            .on_event(&ev("CALL_ESTABLISHED", "outgoing", "c1", ""))
            .unwrap();
        assert_eq!(
            (r.status, r.answered_at),
            (CallStatus::Answered, Some(Timestamp(3_000)))
        );
        assert_eq!(
            t.on_event(&ev("CALL_ESTABLISHED", "outgoing", "c1", "")),
            None
        );
        clock.set(65_500);
        let r = t
            .on_event(&ev(
                "CALL_CLOSED",
                "outgoing",
                "c1",
                "Connection reset by user",
            ))
            .unwrap();
        assert_eq!(r.status, CallStatus::Ended);
        assert_eq!(r.end_reason, Some(EndReason::Completed));
        assert_eq!(r.ended_at, Some(Timestamp(65_500)));
        assert_eq!(r.duration_seconds(), 62);
        assert!(t.open_calls().is_empty());
        // A late duplicate close is ignored.
        assert_eq!(t.on_event(&ev("CALL_CLOSED", "outgoing", "c1", "x")), None);
        // The dial instant was used up: the next outgoing call starts when seen.
        clock.set(70_000);
        let r = t
            .on_event(&ev("CALL_PROGRESS", "outgoing", "c2", ""))
            .unwrap();
        assert_eq!(r.started_at, Timestamp(70_000));
        assert_eq!(r.id, CallId("call-2".into()));
    }

    #[test]
    fn stale_dial_instant_is_not_used() {
        let (mut t, clock) = tracker();
        t.note_dial();
        clock.set(DIAL_MEMORY_MS + 1);
        let r = t
            .on_event(&ev("CALL_RINGING", "outgoing", "c1", ""))
            .unwrap();
        assert_eq!(r.started_at, Timestamp(DIAL_MEMORY_MS + 1));
    }

    #[test]
    fn incoming_call_keeps_the_dial_instant_for_the_outgoing_one() {
        let (mut t, clock) = tracker();
        clock.set(10);
        t.note_dial();
        clock.set(20);
        let inc = t
            .on_event(&ev("CALL_INCOMING", "incoming", "i1", ""))
            .unwrap();
        assert_eq!(inc.started_at, Timestamp(20));
        assert_eq!(inc.direction, CallDirection::Incoming);
        assert_eq!(inc.peer_number, "+15550001");
        assert_eq!(inc.peer_display_name.as_deref(), Some("ACME Customer"));
        clock.set(30);
        let out = t
            .on_event(&ev("CALL_RINGING", "outgoing", "o1", ""))
            .unwrap();
        assert_eq!(out.started_at, Timestamp(10));
    }

    #[test]
    fn outgoing_endings() {
        let cases = [
            ("486 Busy Here", false, EndReason::Busy),
            ("600 Busy Everywhere", false, EndReason::Busy),
            ("Connection reset by user", false, EndReason::NoAnswer),
            ("487 Request Terminated", false, EndReason::NoAnswer),
            ("408 Request Timeout", false, EndReason::NoAnswer),
            ("480 Temporarily Unavailable", false, EndReason::NoAnswer),
            ("Connection timed out", false, EndReason::NoAnswer),
            (
                "404 Not Found",
                false,
                EndReason::Failed("404 Not Found".into()),
            ),
            ("404 Not Found", true, EndReason::NoAnswer),
            ("", false, EndReason::Failed("call closed".into())),
        ];
        for (param, local_end, want) in cases {
            let (mut t, _) = tracker();
            t.on_event(&ev("CALL_RINGING", "outgoing", "c", ""))
                .unwrap();
            if local_end {
                assert!(t.note_local_end("c"));
            }
            let r = t
                .on_event(&ev("CALL_CLOSED", "outgoing", "c", param))
                .unwrap();
            assert_eq!(r.end_reason, Some(want), "{param}");
            assert_eq!(r.duration_seconds(), 0);
        }
    }

    #[test]
    fn call_closed_at_once_still_gets_a_record() {
        let (mut t, _) = tracker();
        t.note_dial();
        let r = t
            .on_event(&ev("CALL_CLOSED", "outgoing", "c", "404 Not Found"))
            .unwrap();
        assert_eq!(r.status, CallStatus::Ended);
        assert_eq!(
            r.end_reason,
            Some(EndReason::Failed("404 Not Found".into()))
        );
    }

    /// A tracker that has seen incoming call `i` ring.
    fn ringing_incoming() -> (CallTracker, Arc<FakeClock>) {
        let (mut t, clock) = tracker();
        t.on_event(&ev("CALL_INCOMING", "incoming", "i", ""))
            .unwrap();
        (t, clock)
    }

    /// Closes incoming call `i` with baresip's `param` text; the record that ends.
    fn close_incoming(t: &mut CallTracker, param: &str) -> CallRecord {
        t.on_event(&ev("CALL_CLOSED", "incoming", "i", param))
            .unwrap()
    }

    #[test]
    fn incoming_endings() {
        // Rejected by the agent.
        let (mut t, clock) = ringing_incoming();
        assert!(t.note_local_end("i"));
        assert!(!t.note_local_end("other"));
        clock.set(500);
        let r = close_incoming(&mut t, "Connection reset by user");
        assert_eq!(r.end_reason, Some(EndReason::Rejected));
        // The caller gave up: missed.
        let (mut t, _) = ringing_incoming();
        let r = close_incoming(&mut t, "Connection reset by peer");
        assert_eq!(r.end_reason, Some(EndReason::NoAnswer));
        // Answered, then the caller hung up.
        let (mut t, clock) = ringing_incoming();
        clock.set(1_000);
        t.on_event(&ev("CALL_ESTABLISHED", "incoming", "i", ""))
            .unwrap();
        clock.set(3_500);
        let r = close_incoming(&mut t, "Connection reset by peer");
        assert_eq!(r.end_reason, Some(EndReason::Completed));
        assert_eq!(r.duration_seconds(), 2);
        assert_eq!(r.from_number(), Some("+15550001"));
        assert_eq!(r.to_number(), Some("1001"));
    }

    #[test]
    fn line_lost_closes_every_open_call_once() {
        let (mut t, clock) = tracker();
        clock.set(1);
        t.on_event(&ev("CALL_INCOMING", "incoming", "a", ""))
            .unwrap();
        clock.set(2);
        t.on_event(&ev("CALL_RINGING", "outgoing", "b", ""))
            .unwrap();
        t.on_event(&ev("CALL_ESTABLISHED", "outgoing", "b", ""))
            .unwrap();
        clock.set(9);
        let closed = t.close_all(EndReason::LineLost);
        assert_eq!(closed.len(), 2);
        assert_eq!(closed[0].line_call_id, "a");
        for r in &closed {
            assert_eq!(r.end_reason, Some(EndReason::LineLost));
            assert_eq!(
                (r.status, r.ended_at),
                (CallStatus::Ended, Some(Timestamp(9)))
            );
        }
        assert!(t.close_all(EndReason::LineLost).is_empty());
        // Late events for those calls do not resurrect them.
        assert_eq!(t.on_event(&ev("CALL_CLOSED", "outgoing", "b", "x")), None);
    }

    #[test]
    fn events_without_id_or_unknown_kind_are_ignored() {
        let (mut t, _) = tracker();
        let no_id = Event {
            id: None,
            ..ev("CALL_INCOMING", "incoming", "", "")
        };
        assert_eq!(t.on_event(&no_id), None);
        assert_eq!(
            t.on_event(&ev("CALL_DTMF_START", "incoming", "z", "5")),
            None
        );
        assert_eq!(t.on_event(&ev("REGISTER_OK", "", "z", "200 OK")), None);
        assert!(t.open_calls().is_empty());
    }

    #[test]
    fn random_ids_are_unique_and_uuid_shaped() {
        let ids = RandomCallIds::default();
        let set: std::collections::HashSet<String> = (0..1000).map(|_| ids.next_id().0).collect();
        assert_eq!(set.len(), 1000);
        for id in set.iter().take(5) {
            assert_eq!(id.len(), 36, "{id}");
            assert_eq!(&id[14..15], "4", "{id}");
        }
    }
}
