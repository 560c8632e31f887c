//! `HubEvent`: the events of the agent stream (`GET /api/v1/stream`), and [`EventEnvelope`],
//! one WebSocket text message: `{id, type, at, …payload}`.
//!
//! `type` is the snake_case name of the variant; the payload's fields sit beside `id`, `type`
//! and `at`. A reader that meets a `type` it does not know (a newer hub) gets
//! [`HubEvent::Unknown`]: it acknowledges it on purpose and moves on, so an older desktop keeps
//! working with a newer hub. A known `type` whose payload does not parse is read as `Unknown`
//! too (logged by the reader), never as a failure that would stop the stream.
//!
//! To add an event: add a variant wrapping its payload struct (derive `Serialize`,
//! `Deserialize`, `ToSchema`, camelCase fields, put the struct beside its feature, e.g.
//! `whatsapp.rs`), add its name to [`HubEvent::kind`] and [`HubEvent::KINDS`] (the OpenAPI test
//! checks every kind is in the document), register the payload in the hub's `ApiDoc`
//! (`enlace-hub/src/openapi.rs`), decide who sees it (`enlace-hub/src/events.rs`,
//! `Event::visible_to`) and which desktop consumer stores it (`enlace-app/src/feed.rs`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::types::{Agent, AgentState, HubCall, HubDialAttempt, PauseReason};

/// One event of an agent's stream.
// Events are moved a few at a time (never stored in bulk), so the size of the WhatsApp
// variants (a conversation and a message) costs nothing worth a box in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    /// An agent's state changed (its own, or any agent's for a supervisor).
    AgentState(AgentStateChanged),
    /// A pause ran past its reason's budget (once per pause).
    PauseBudgetExceeded(PauseBudgetExceeded),
    /// One event per phase of a call; a click-to-dial call starts at `call_answered`.
    CallRinging(CallChanged),
    CallAnswered(CallChanged),
    CallEnded(CallChanged),
    /// A click-to-dial the agent's phone never answered: not a call, not counted.
    DialFailed(DialFailed),
    /// First message only, never in the log, `id` = the client's `after`: the events after
    /// `after` up to `oldestAvailable - 1` were removed by retention; refresh state with
    /// `GET /api/v1/me`.
    StreamTruncated(StreamTruncated),
    /// WhatsApp (see [`crate::whatsapp`]): a customer wrote.
    MessageReceived(crate::whatsapp::MessageReceived),
    /// An outbound WhatsApp message progressed or failed.
    MessageStatus(crate::whatsapp::MessageStatus),
    /// A conversation was given to an agent (sent to the new and the previous one).
    ConversationAssigned(crate::whatsapp::ConversationAssigned),
    ConversationAttended(crate::whatsapp::ConversationAttended),
    CommentAdded(crate::whatsapp::CommentAdded),
    /// The 24-hour window of a conversation ends soon.
    WindowClosing(crate::whatsapp::WindowClosing),
    /// Supervisors: WhatsApp needs an administrator (token expired, unknown number).
    WhatsappAlert(crate::whatsapp::WhatsappAlert),
    /// An event this reader does not know (sent by a newer hub). Never sent by a hub.
    #[serde(other)]
    Unknown,
}

impl HubEvent {
    /// Every `type` a hub sends.
    pub const KINDS: &'static [&'static str] = &[
        "agent_state",
        "pause_budget_exceeded",
        "call_ringing",
        "call_answered",
        "call_ended",
        "dial_failed",
        "stream_truncated",
        "message_received",
        "message_status",
        "conversation_assigned",
        "conversation_attended",
        "comment_added",
        "window_closing",
        "whatsapp_alert",
    ];

    /// The wire `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            HubEvent::AgentState(_) => "agent_state",
            HubEvent::PauseBudgetExceeded(_) => "pause_budget_exceeded",
            HubEvent::CallRinging(_) => "call_ringing",
            HubEvent::CallAnswered(_) => "call_answered",
            HubEvent::CallEnded(_) => "call_ended",
            HubEvent::DialFailed(_) => "dial_failed",
            HubEvent::StreamTruncated(_) => "stream_truncated",
            HubEvent::MessageReceived(_) => "message_received",
            HubEvent::MessageStatus(_) => "message_status",
            HubEvent::ConversationAssigned(_) => "conversation_assigned",
            HubEvent::ConversationAttended(_) => "conversation_attended",
            HubEvent::CommentAdded(_) => "comment_added",
            HubEvent::WindowClosing(_) => "window_closing",
            HubEvent::WhatsappAlert(_) => "whatsapp_alert",
            HubEvent::Unknown => "unknown",
        }
    }

    /// The call and its phase, for `call_ringing` / `call_answered` / `call_ended`.
    pub fn call(&self) -> Option<(HubCallPhase, &HubCall)> {
        match self {
            HubEvent::CallRinging(c) => Some((HubCallPhase::Ringing, &c.call)),
            HubEvent::CallAnswered(c) => Some((HubCallPhase::Answered, &c.call)),
            HubEvent::CallEnded(c) => Some((HubCallPhase::Ended, &c.call)),
            _ => None,
        }
    }

    /// The wire form without the envelope: `(type, payload fields)`. `None` for `Unknown`.
    pub fn to_parts(&self) -> Option<(&'static str, Map<String, Value>)> {
        if matches!(self, HubEvent::Unknown) {
            return None;
        }
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                map.remove("type");
                Some((self.kind(), map))
            }
            _ => None,
        }
    }
}

/// The phase a call event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubCallPhase {
    Ringing,
    Answered,
    Ended,
}

/// Where a state change was made when it was not through the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateSource {
    /// On the PBX: a phone key, a supervisor console, another AMI client.
    Phone,
    /// A source this reader does not know. Never sent.
    #[serde(other)]
    Other,
}

/// `agent_state`: `{agent, state, since, reason, source?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentStateChanged {
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(flatten)]
    pub state: AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<StateSource>,
}

/// `pause_budget_exceeded`: the pause (`reason`, `since`) ran `overSeconds` past its budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseBudgetExceeded {
    #[serde(default)]
    pub agent: Option<Agent>,
    pub reason: PauseReason,
    pub since: i64,
    #[serde(default)]
    pub over_seconds: i64,
}

/// `call_ringing` / `call_answered` / `call_ended`: `{call}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallChanged {
    pub call: HubCall,
}

/// `dial_failed`: `{attempt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DialFailed {
    pub attempt: HubDialAttempt,
}

/// `stream_truncated`: `{oldestAvailable}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTruncated {
    /// The first event id the hub still keeps.
    #[serde(default)]
    pub oldest_available: Option<u64>,
}

/// One message of the stream: `{id, type, at, …payload}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEnvelope {
    /// Increasing id in the hub's durable log; resume with `after = id`.
    pub id: u64,
    /// ms since the epoch (hub clock).
    pub at: i64,
    /// The wire `type` as sent (kept for `Unknown`, to say what was acknowledged).
    pub kind: String,
    pub event: HubEvent,
}

/// The envelope fields, for the OpenAPI document: every message is this plus one [`HubEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvelopeFields {
    pub id: i64,
    pub at: i64,
}

impl EventEnvelope {
    /// Reads one text message. `None` when it is not an event at all (no `id`, `type` or
    /// `at`); an event whose `type` or payload this reader does not know is `Unknown`.
    pub fn parse(text: &str) -> Option<EventEnvelope> {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let id = map.get("id")?.as_u64()?;
        let kind = map.get("type")?.as_str()?.to_owned();
        let at = map.get("at")?.as_i64()?;
        let event = HubEvent::deserialize(Value::Object(map)).unwrap_or(HubEvent::Unknown);
        Some(EventEnvelope {
            id,
            at,
            kind,
            event,
        })
    }

    /// The call and its phase, for call events.
    pub fn call(&self) -> Option<(HubCallPhase, HubCall)> {
        self.event.call().map(|(phase, call)| (phase, call.clone()))
    }

    /// The dial attempt of a `dial_failed` event.
    pub fn dial_failed(&self) -> Option<HubDialAttempt> {
        match &self.event {
            HubEvent::DialFailed(failed) => Some(failed.attempt.clone()),
            _ => None,
        }
    }

    /// The agent (when named) and its new state, for `agent_state` events.
    pub fn agent_state(&self) -> Option<(Option<Agent>, AgentState)> {
        match &self.event {
            HubEvent::AgentState(changed) => Some((changed.agent.clone(), changed.state.clone())),
            _ => None,
        }
    }

    /// The agent (when named) and its pause that ran past its budget, for
    /// `pause_budget_exceeded` events.
    pub fn pause_budget_exceeded(&self) -> Option<(Option<Agent>, AgentState)> {
        match &self.event {
            HubEvent::PauseBudgetExceeded(over) => Some((
                over.agent.clone(),
                AgentState {
                    kind: crate::types::AgentStateKind::Paused,
                    since: over.since,
                    reason: Some(over.reason.clone()),
                },
            )),
            _ => None,
        }
    }

    /// The wire form `{id, type, at, …payload}`; the envelope's fields win over the payload's.
    pub fn to_json(&self) -> Value {
        let payload = self.event.to_parts().map(|(_, p)| p).unwrap_or_default();
        wire(self.id as i64, &self.kind, self.at, &payload)
    }
}

/// `{id, type, at, …payload}` with the envelope fields first and never overridden by the
/// payload (the hub's stored events go through this too).
pub fn wire(id: i64, kind: &str, at: i64, payload: &Map<String, Value>) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), Value::from(id));
    map.insert("type".into(), Value::from(kind));
    map.insert("at".into(), Value::from(at));
    for (k, v) in payload {
        if !map.contains_key(k) {
            map.insert(k.clone(), v.clone());
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AgentStateKind, HubCallDirection, HubDialFailure};
    use serde_json::json;

    #[test]
    fn every_kind_round_trips_through_the_envelope() {
        let agent = Agent {
            id: 1,
            user: "1234567".into(),
            name: "Ana".into(),
            extension: "1001".into(),
            queues: vec!["ventas".into()],
            supervisor: false,
        };
        let call = HubCall {
            id: "1.1".into(),
            direction: HubCallDirection::Incoming,
            other_number: "5551234".into(),
            other_name: None,
            ringing_at: 1,
            answered_at: None,
            ended_at: None,
            duration_seconds: 0,
            hangup_cause: None,
            local_number: Some("1001".into()),
        };
        let events = [
            HubEvent::AgentState(AgentStateChanged {
                agent: Some(agent.clone()),
                state: AgentState {
                    kind: AgentStateKind::Available,
                    since: 5,
                    reason: None,
                },
                source: Some(StateSource::Phone),
            }),
            HubEvent::PauseBudgetExceeded(PauseBudgetExceeded {
                agent: Some(agent),
                reason: PauseReason {
                    id: 2,
                    name: "Baño".into(),
                    budget_seconds: Some(900),
                    is_exit: false,
                },
                since: 1,
                over_seconds: 60,
            }),
            HubEvent::CallRinging(CallChanged { call: call.clone() }),
            HubEvent::CallAnswered(CallChanged { call: call.clone() }),
            HubEvent::CallEnded(CallChanged { call }),
            HubEvent::DialFailed(DialFailed {
                attempt: HubDialAttempt {
                    id: "originate-1".into(),
                    number: "5551234".into(),
                    reason: HubDialFailure::Busy,
                    local_number: None,
                    started_at: 1,
                    ended_at: Some(2),
                    hangup_cause: None,
                },
            }),
            HubEvent::StreamTruncated(StreamTruncated {
                oldest_available: Some(7),
            }),
        ];
        let events: Vec<HubEvent> = events
            .into_iter()
            .chain(crate::whatsapp::tests::sample_events())
            .collect();
        assert_eq!(events.len(), HubEvent::KINDS.len());
        for (n, event) in events.into_iter().enumerate() {
            let envelope = EventEnvelope {
                id: n as u64 + 1,
                at: 10,
                kind: event.kind().into(),
                event,
            };
            assert!(HubEvent::KINDS.contains(&envelope.kind.as_str()));
            let text = envelope.to_json().to_string();
            assert_eq!(EventEnvelope::parse(&text).unwrap(), envelope, "{text}");
        }
    }

    #[test]
    fn a_newer_hubs_event_is_unknown_not_an_error() {
        let text = json!({"id": 8, "type": "message_received", "at": 3, "message": {"x": 1}});
        let e = EventEnvelope::parse(&text.to_string()).unwrap();
        assert_eq!((e.id, e.at, e.kind.as_str()), (8, 3, "message_received"));
        assert_eq!(e.event, HubEvent::Unknown);
        // A known type whose payload is not what this reader expects is acknowledged too.
        let odd = json!({"id": 9, "type": "call_ended", "at": 3, "call": "?"});
        assert_eq!(
            EventEnvelope::parse(&odd.to_string()).unwrap().event,
            HubEvent::Unknown
        );
        for bad in [
            "",
            "[]",
            r#"{"id":-1,"type":"x","at":1}"#,
            r#"{"id":1,"at":1}"#,
        ] {
            assert!(EventEnvelope::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn payload_cannot_override_envelope_fields() {
        let mut payload = Map::new();
        payload.insert("id".into(), Value::from(99));
        payload.insert("state".into(), Value::from("available"));
        let v = wire(1, "agent_state", 2, &payload);
        assert_eq!(v["id"], 1);
        assert_eq!(v["state"], "available");
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// Found by the `hub_client` fuzz target: a known type whose payload does not parse (a
    /// float where an id belongs) is `Unknown`, never that type with invented fields; the
    /// envelope keeps its id and kind so the cursor still moves past it.
    #[test]
    fn a_known_type_with_a_malformed_payload_is_unknown() {
        let text = r#"{"id":4,"type":"stream_truncated","at":7,"oldestAvailable":1E0}"#;
        let envelope = EventEnvelope::parse(text).expect("an envelope");
        assert_eq!(envelope.event, HubEvent::Unknown);
        assert_eq!(
            (envelope.id, envelope.kind.as_str()),
            (4, "stream_truncated")
        );
    }
}
