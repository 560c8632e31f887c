//! Fuzz the hub's AMI call tracking (`enlace_ami::CallTracker`) on arbitrary event sequences:
//! the input is an AMI byte stream (decoded with `enlace_ami::Decoder`) whose packets are fed to
//! the tracker in order, with the clock moving between events.
//!
//! Properties: no panic; every call belongs to a configured agent; a call's times are in order.
#![no_main]

use enlace_ami::{CallTracker, Decoder, Frame, PbxCall};
use libfuzzer_sys::fuzz_target;

const AGENTS: [(&str, &str); 4] = [
    ("1", "PJSIP/1001"),
    ("2", "Local/100@test"),
    ("3", "Local/1002@agents/n"),
    ("4", "SIP/200"),
];

fn check(call: &PbxCall) {
    assert!(
        AGENTS.iter().any(|(agent, _)| *agent == call.agent),
        "{call:?}"
    );
    if let Some(answered) = call.answered_at {
        assert!(answered >= call.ringing_at, "{call:?}");
    }
    if let Some(ended) = call.ended_at {
        assert!(ended >= call.ringing_at, "{call:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte sets how far the clock moves between events (1 ms to ~4.6 hours).
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let step = 1i64 << (pick % 24);
    let mut tracker = CallTracker::new(
        AGENTS
            .iter()
            .map(|(agent, interface)| ((*agent).to_owned(), (*interface).to_owned()))
            .collect(),
    );
    let mut now = 1_700_000_000_000i64;
    for frame in Decoder::new().push(stream) {
        let Ok(Frame::Packet(packet)) = frame else {
            continue;
        };
        now += step;
        for change in tracker.on_event(&packet, now) {
            check(&change.call);
        }
    }
    for call in tracker.calls() {
        check(&call);
    }
});
