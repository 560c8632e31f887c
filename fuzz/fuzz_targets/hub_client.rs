//! Fuzz the desktop's reading of what the hub sends (`enlace-hub-client`): the WebSocket
//! stream's text frames (`StreamEvent::parse` into the typed `HubEvent`) and the JSON replies of
//! the HTTP routes. A hub, or whatever answers at its address, is not trusted.
//!
//! Input: the first byte picks what the rest is (a stream frame most of the time).
//! Properties: no panic; an event is typed only for its own kind.
#![no_main]

use enlace_hub_client::api::HubEvent;
use enlace_hub_client::{fuzzing, DaySummary, HubCallPhase, Me, PauseReason, StreamEvent};
use libfuzzer_sys::fuzz_target;

fn stream_frame(text: &str) {
    let Some(event) = StreamEvent::parse(text) else {
        return;
    };
    if let Some((phase, call)) = event.event.call() {
        let kind = match phase {
            HubCallPhase::Ringing => "call_ringing",
            HubCallPhase::Answered => "call_answered",
            HubCallPhase::Ended => "call_ended",
        };
        assert_eq!(event.kind, kind);
        let _ = format!("{call:?}");
    }
    match &event.event {
        HubEvent::Unknown => {}
        HubEvent::AgentState(changed) => {
            assert_eq!(event.kind, "agent_state");
            let _ = (format!("{:?}", changed.agent), changed.state.kind.as_str());
        }
        typed => assert_eq!(event.kind, typed.kind()),
    }
    // What was read as a typed event writes back to the same event. (`Unknown` keeps no
    // payload, so its envelope cannot be written back as what it was.)
    if event.event != HubEvent::Unknown {
        let again = StreamEvent::parse(&event.to_json().to_string()).expect("re-read");
        assert_eq!(again.event, event.event);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick {
        0..=2 => {
            let _ = fuzzing::reply(pick, body);
        }
        3 => {
            let _ = serde_json::from_slice::<Me>(body);
        }
        4 => {
            let _ = serde_json::from_slice::<DaySummary>(body);
        }
        5 => {
            let _ = serde_json::from_slice::<Vec<PauseReason>>(body);
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body) {
                stream_frame(text);
            }
        }
    }
});
