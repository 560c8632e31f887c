//! The hub's JSON shapes as Rust types (camelCase on the wire, see the hub's `openapi.json`).
//! Unknown fields are ignored so a newer hub keeps working with an older desktop.

use serde::Deserialize;
use serde_json::{Map, Value};

use enlace_secrets::Sensitive;

/// An agent as the hub describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: i64,
    /// The 7-digit login.
    pub user: String,
    pub name: String,
    pub extension: String,
    #[serde(default)]
    pub queues: Vec<String>,
    #[serde(default)]
    pub supervisor: bool,
}

/// A pause reason (`Salida` has `is_exit`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseReason {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub budget_seconds: Option<i64>,
    #[serde(default)]
    pub is_exit: bool,
}

/// The kind of an agent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStateKind {
    Available,
    Paused,
    OnCall,
    LoggedOut,
}

impl AgentStateKind {
    /// `available` / `paused` / `on_call` / `logged_out` (the UI's `AgentStateKind`).
    pub fn as_str(&self) -> &'static str {
        match self {
            AgentStateKind::Available => "available",
            AgentStateKind::Paused => "paused",
            AgentStateKind::OnCall => "on_call",
            AgentStateKind::LoggedOut => "logged_out",
        }
    }
}

/// An agent's state: `{state, since, reason}` (reason only when paused).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AgentState {
    #[serde(rename = "state")]
    pub kind: AgentStateKind,
    /// ms since the epoch (hub clock).
    pub since: i64,
    #[serde(default)]
    pub reason: Option<PauseReason>,
}

/// What an agent asks for (`POST /api/v1/me/state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    Available,
    Paused {
        reason_id: i64,
    },
    /// Salida: leaves the queues and ends every session of the agent.
    Exit,
}

impl StateChange {
    pub(crate) fn to_json(self) -> Value {
        match self {
            StateChange::Available => serde_json::json!({ "state": "available" }),
            StateChange::Paused { reason_id } => {
                serde_json::json!({ "state": "paused", "reason": reason_id })
            }
            StateChange::Exit => serde_json::json!({ "state": "exit" }),
        }
    }
}

/// A successful login. The token is the session's bearer credential: keep it in the keyring.
pub struct Session {
    pub token: Sensitive<String>,
    /// ms since the epoch; renewed by every use.
    pub expires_at: i64,
    pub agent: Agent,
    pub state: AgentState,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("agent", &self.agent)
            .field("state", &self.state)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionWire {
    pub token: String,
    pub expires_at: i64,
    pub agent: Agent,
    pub state: AgentState,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub agent: Agent,
    pub state: AgentState,
    pub expires_at: i64,
}

/// Outcome of a click-to-dial: the hub rings the agent's own phone first, then the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialOutcome {
    /// The agent's phone answered; the PBX is calling the number.
    Answered,
    /// The agent's phone did not answer.
    NoAnswer,
    /// The agent's phone was busy.
    Busy,
    Failed {
        reason: String,
    },
}

#[derive(Deserialize)]
pub(crate) struct DialWire {
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
}

impl DialWire {
    pub fn into_outcome(self) -> DialOutcome {
        match self.outcome.as_str() {
            "answered" => DialOutcome::Answered,
            "no_answer" => DialOutcome::NoAnswer,
            "busy" => DialOutcome::Busy,
            other => DialOutcome::Failed {
                reason: self.reason.unwrap_or_else(|| other.to_owned()),
            },
        }
    }
}

/// Time spent in one pause reason.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DayPause {
    pub reason: PauseReason,
    pub seconds: i64,
}

/// `GET /api/v1/me/day`: the agent's day at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaySummary {
    pub since: i64,
    pub calls_in: u32,
    pub calls_out: u32,
    pub talk_seconds: i64,
    #[serde(default)]
    pub pauses: Vec<DayPause>,
}

/// One agent in a supervisor's overview (`GET /api/v1/agents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLive {
    pub agent: Agent,
    pub disabled: bool,
    pub state: AgentState,
}

#[derive(Deserialize)]
pub(crate) struct AgentLiveWire {
    #[serde(flatten)]
    pub agent: Agent,
    #[serde(default)]
    pub disabled: bool,
    pub state: AgentState,
}

/// Direction of a PBX call, seen from the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubCallDirection {
    Incoming,
    Outgoing,
}

/// The phase a call event reports (`call_ringing` / `call_answered` / `call_ended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubCallPhase {
    Ringing,
    Answered,
    Ended,
}

/// The Q.850 cause of a hang-up.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HangupCause {
    pub code: u32,
    pub text: String,
}

/// A call of the agent, from the `call` field of a call event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubCall {
    /// The PBX's id for the call (Asterisk Linkedid); the same for every event of the call.
    pub id: String,
    pub direction: HubCallDirection,
    pub other_number: String,
    #[serde(default)]
    pub other_name: Option<String>,
    pub ringing_at: i64,
    #[serde(default)]
    pub answered_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub duration_seconds: u32,
    #[serde(default)]
    pub hangup_cause: Option<HangupCause>,
    /// The agent's own extension on the call (`localNumber`); absent from older hubs.
    #[serde(default)]
    pub local_number: Option<String>,
}

/// Why a click-to-dial failed: the agent's own phone never answered the PBX's first leg.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubDialFailure {
    Busy,
    NoAnswer,
    /// Not registered, no route, congestion.
    Unreachable,
    /// The phone declined.
    Refused,
    /// A reason this desktop does not know yet (a newer hub).
    #[serde(other)]
    Other,
}

/// A dial attempt (`dial_failed` event): a click-to-dial the agent's phone never answered. It
/// is not a call: nobody was called.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubDialAttempt {
    /// The PBX's id for it (a Linkedid, or `originate-…` when no channel was ever made).
    pub id: String,
    /// The number that was to be called.
    #[serde(default)]
    pub number: String,
    pub reason: HubDialFailure,
    #[serde(default)]
    pub local_number: Option<String>,
    pub started_at: i64,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub hangup_cause: Option<HangupCause>,
}

/// One event of the agent's stream: `{id, type, at, …payload}`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    /// Increasing id in the hub's durable log; resume with `after = id`.
    pub id: u64,
    /// `agent_state`, `call_ringing`, `call_answered`, `call_ended`, `dial_failed`,
    /// `pause_budget_exceeded`, …
    pub kind: String,
    /// ms since the epoch (hub clock).
    pub at: i64,
    /// Every other field of the event.
    pub payload: Map<String, Value>,
}

impl StreamEvent {
    /// Parses one text frame of the stream.
    pub fn parse(text: &str) -> Option<StreamEvent> {
        let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let id = map.remove("id")?.as_u64()?;
        let kind = match map.remove("type")? {
            Value::String(s) => s,
            _ => return None,
        };
        let at = map.remove("at")?.as_i64()?;
        Some(StreamEvent {
            id,
            kind,
            at,
            payload: map,
        })
    }

    /// The call and its phase, for `call_ringing` / `call_answered` / `call_ended` events.
    pub fn call(&self) -> Option<(HubCallPhase, HubCall)> {
        let phase = match self.kind.as_str() {
            "call_ringing" => HubCallPhase::Ringing,
            "call_answered" => HubCallPhase::Answered,
            "call_ended" => HubCallPhase::Ended,
            _ => return None,
        };
        let call = serde_json::from_value(self.payload.get("call")?.clone()).ok()?;
        Some((phase, call))
    }

    /// The dial attempt of a `dial_failed` event.
    pub fn dial_failed(&self) -> Option<HubDialAttempt> {
        if self.kind != "dial_failed" {
            return None;
        }
        serde_json::from_value(self.payload.get("attempt")?.clone()).ok()
    }

    /// The agent (when the event names one) and its new state, for `agent_state` events.
    pub fn agent_state(&self) -> Option<(Option<Agent>, AgentState)> {
        if self.kind != "agent_state" {
            return None;
        }
        let state = serde_json::from_value(Value::Object(self.payload.clone())).ok()?;
        let agent = self
            .payload
            .get("agent")
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        Some((agent, state))
    }

    /// The agent (when the event names one) and its pause, for `pause_budget_exceeded` events:
    /// the pause (`reason`, `since`) ran past its reason's budget.
    pub fn pause_budget_exceeded(&self) -> Option<(Option<Agent>, AgentState)> {
        if self.kind != "pause_budget_exceeded" {
            return None;
        }
        let reason: PauseReason =
            serde_json::from_value(self.payload.get("reason")?.clone()).ok()?;
        let since = self.payload.get("since")?.as_i64()?;
        let agent = self
            .payload
            .get("agent")
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        let state = AgentState {
            kind: AgentStateKind::Paused,
            since,
            reason: Some(reason),
        };
        Some((agent, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn call_events_parse_as_the_hub_sends_them() {
        let text = json!({
            "id": 12, "type": "call_ended", "at": 1000,
            "call": {
                "id": "1767225600.12", "direction": "incoming", "otherNumber": "5215512345678",
                "otherName": "Cliente", "ringingAt": 900, "answeredAt": 950, "endedAt": 1000,
                "durationSeconds": 5, "hangupCause": {"code": 16, "text": "Normal Clearing"}
            }
        })
        .to_string();
        let e = StreamEvent::parse(&text).unwrap();
        assert_eq!((e.id, e.kind.as_str(), e.at), (12, "call_ended", 1000));
        let (phase, call) = e.call().unwrap();
        assert_eq!(phase, HubCallPhase::Ended);
        assert_eq!(call.direction, HubCallDirection::Incoming);
        assert_eq!(call.other_name.as_deref(), Some("Cliente"));
        assert_eq!(call.hangup_cause.unwrap().code, 16);
        assert_eq!(call.local_number, None, "older hubs send no localNumber");
        assert!(e.agent_state().is_none());
        assert!(e.pause_budget_exceeded().is_none());
    }

    #[test]
    fn call_events_carry_the_agents_extension() {
        let text = json!({
            "id": 13, "type": "call_ringing", "at": 900,
            "call": {
                "id": "1767225600.13", "direction": "outgoing", "otherNumber": "5551234",
                "ringingAt": 900, "localNumber": "1001"
            }
        })
        .to_string();
        let (phase, call) = StreamEvent::parse(&text).unwrap().call().unwrap();
        assert_eq!(phase, HubCallPhase::Ringing);
        assert_eq!(call.local_number.as_deref(), Some("1001"));
    }

    #[test]
    fn dial_attempts_parse_and_unknown_reasons_are_tolerated() {
        let text = json!({
            "id": 14, "type": "dial_failed", "at": 950,
            "attempt": {
                "id": "1767225600.14", "number": "5551234", "reason": "busy",
                "localNumber": "1001", "startedAt": 900, "endedAt": 950,
                "hangupCause": {"code": 17, "text": "User busy"}, "newerField": 1
            }
        })
        .to_string();
        let e = StreamEvent::parse(&text).unwrap();
        assert!(e.call().is_none());
        let attempt = e.dial_failed().unwrap();
        assert_eq!(attempt.reason, HubDialFailure::Busy);
        assert_eq!(attempt.number, "5551234");
        assert_eq!(attempt.local_number.as_deref(), Some("1001"));
        assert_eq!(attempt.hangup_cause.unwrap().code, 17);
        let newer = text.replace("\"busy\"", "\"carrier_lost\"");
        let attempt = StreamEvent::parse(&newer).unwrap().dial_failed().unwrap();
        assert_eq!(attempt.reason, HubDialFailure::Other);
    }

    #[test]
    fn budget_events_are_the_pause_that_ran_over() {
        let text = json!({
            "id": 9, "type": "pause_budget_exceeded", "at": 2_000_000, "since": 1_000,
            "overSeconds": 60,
            "reason": {"id": 1, "name": "Baño", "budgetSeconds": 900, "isExit": false},
            "agent": {"id": 2, "user": "2345678", "name": "Luis", "extension": "1002"}
        })
        .to_string();
        let e = StreamEvent::parse(&text).unwrap();
        assert!(e.agent_state().is_none());
        let (agent, state) = e.pause_budget_exceeded().unwrap();
        assert_eq!(agent.unwrap().user, "2345678");
        assert_eq!(state.kind, AgentStateKind::Paused);
        assert_eq!(state.since, 1_000);
        assert_eq!(state.reason.unwrap().name, "Baño");
        let mut broken = e.clone();
        broken.payload.remove("reason");
        assert!(broken.pause_budget_exceeded().is_none());
    }

    #[test]
    fn state_events_parse_and_garbage_does_not() {
        let text = json!({
            "id": 3, "type": "agent_state", "at": 5, "state": "paused", "since": 5,
            "reason": {"id": 1, "name": "Baño", "budgetSeconds": 900, "isExit": false},
            "agent": {"id": 1, "user": "1234567", "name": "Ana", "extension": "1001",
                      "queues": ["support"], "supervisor": false}
        })
        .to_string();
        let e = StreamEvent::parse(&text).unwrap();
        let (agent, state) = e.agent_state().unwrap();
        assert_eq!(agent.unwrap().extension, "1001");
        assert_eq!(state.kind, AgentStateKind::Paused);
        assert_eq!(state.reason.unwrap().budget_seconds, Some(900));
        for bad in [
            "",
            "[]",
            "{\"id\":-1,\"type\":\"x\",\"at\":1}",
            "{\"id\":1,\"at\":1}",
        ] {
            assert!(StreamEvent::parse(bad).is_none(), "{bad}");
        }
    }
}
