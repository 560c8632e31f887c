//! Fuzz what Enlace does with baresip's ctrl_tcp messages: `protocol::parse_message` on each
//! payload, then the call tracker (`enlace_telephony::CallTracker`) on the resulting event
//! sequence, interleaved with the app's own actions.
//!
//! Input: lines separated by `\n`. A line starting with `!` is "we dial", `#id` is "we hang up
//! call id", `$` is "the line went away"; any other line is one ctrl_tcp payload (JSON).
//! Properties: no panic; records keep their times in order; a record's line call id is the
//! event's id; response text has no control characters but newlines and tabs.
#![no_main]

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use enlace_core::{CallId, CallRecord, CallStatus, Clock, EndReason, Timestamp};
use enlace_telephony::protocol::{parse_message, Message};
use enlace_telephony::{CallIdSource, CallTracker};
use libfuzzer_sys::fuzz_target;

/// A clock that moves one second per line.
#[derive(Default)]
struct Ticks(AtomicI64);

impl Clock for Ticks {
    fn now(&self) -> Timestamp {
        Timestamp(1_700_000_000_000 + self.0.load(Ordering::Relaxed))
    }
}

#[derive(Default)]
struct Counter(AtomicU64);

impl CallIdSource for Counter {
    fn next_id(&self) -> CallId {
        CallId(format!("call-{}", self.0.fetch_add(1, Ordering::Relaxed)))
    }
}

fn check(record: &CallRecord) {
    if let Some(answered) = record.answered_at {
        assert!(answered >= record.started_at, "{record:?}");
    }
    if let Some(ended) = record.ended_at {
        assert!(ended >= record.started_at, "{record:?}");
        assert!(record.answered_at.is_none_or(|a| ended >= a), "{record:?}");
        assert_eq!(record.status, CallStatus::Ended);
        assert!(record.end_reason.is_some());
    }
}

fuzz_target!(|data: &[u8]| {
    let clock = Arc::new(Ticks::default());
    let mut tracker = CallTracker::new(clock.clone(), Arc::new(Counter::default()));
    for line in data.split(|b| *b == b'\n') {
        clock.0.fetch_add(1000, Ordering::Relaxed);
        match line.first() {
            Some(b'!') => tracker.note_dial(),
            Some(b'#') => {
                let id = String::from_utf8_lossy(&line[1..]);
                let open = tracker.is_open(&id);
                assert_eq!(tracker.note_local_end(&id), open);
            }
            Some(b'$') => {
                for record in tracker.close_all(EndReason::LineLost) {
                    check(&record);
                }
                assert!(tracker.open_calls().is_empty());
            }
            _ => match parse_message(line) {
                Message::Event(event) => {
                    if let Some(record) = tracker.on_event(&event) {
                        assert_eq!(Some(record.line_call_id.as_str()), event.id.as_deref());
                        check(&record);
                    }
                }
                Message::Response(response) => {
                    assert!(!response
                        .data
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\t'));
                }
                Message::Other => {}
            },
        }
    }
    for record in tracker.open_calls() {
        check(&record);
    }
});
