//! The hub's shapes: the protocol types of `enlace-hub-api` (shared with the hub, camelCase on
//! the wire, unknown fields ignored so a newer hub keeps working with an older desktop), plus
//! the client's own forms of a few replies (a session whose token is `Sensitive`, dial
//! outcomes, state changes).

use enlace_secrets::Sensitive;

/// One event of the agent's stream: `{id, type, at}` and a typed [`enlace_hub_api::HubEvent`].
pub use enlace_hub_api::EventEnvelope as StreamEvent;
pub use enlace_hub_api::{
    Agent, AgentOverview, AgentState, AgentStateKind, DayPause, DaySummary, HangupCause, HubCall,
    HubCallDirection, HubCallPhase, HubDialAttempt, HubDialFailure, Me, PauseReason,
};
use enlace_hub_api::{DialOutcomeCode, DialReply, SessionCreated, StateRequest};

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
    pub(crate) fn to_request(self) -> StateRequest {
        match self {
            StateChange::Available => StateRequest::Available,
            StateChange::Paused { reason_id } => StateRequest::Paused { reason: reason_id },
            StateChange::Exit => StateRequest::Exit,
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

/// The wire form of a login reply.
pub(crate) type SessionWire = SessionCreated;

impl From<SessionCreated> for Session {
    fn from(wire: SessionCreated) -> Session {
        Session {
            token: Sensitive::new(wire.token),
            expires_at: wire.expires_at,
            agent: wire.agent,
            state: wire.state,
        }
    }
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

/// The wire form of a dial reply.
pub(crate) type DialWire = DialReply;

pub(crate) fn dial_outcome(wire: DialReply) -> DialOutcome {
    match wire.outcome {
        DialOutcomeCode::Answered => DialOutcome::Answered,
        DialOutcomeCode::NoAnswer => DialOutcome::NoAnswer,
        DialOutcomeCode::Busy => DialOutcome::Busy,
        DialOutcomeCode::Failed => DialOutcome::Failed {
            reason: wire.reason.unwrap_or_else(|| "failed".to_owned()),
        },
    }
}

/// One agent in a supervisor's overview (`GET /api/v1/agents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLive {
    pub agent: Agent,
    pub disabled: bool,
    pub state: AgentState,
}

/// The wire form of one overview row.
pub(crate) type AgentLiveWire = AgentOverview;

impl From<AgentOverview> for AgentLive {
    fn from(wire: AgentOverview) -> AgentLive {
        AgentLive {
            agent: wire.agent,
            disabled: wire.disabled,
            state: wire.state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlace_hub_api::HubEvent;
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
        let (phase, call) = e.event.call().unwrap();
        assert_eq!(phase, HubCallPhase::Ended);
        assert_eq!(call.direction, HubCallDirection::Incoming);
        assert_eq!(call.other_name.as_deref(), Some("Cliente"));
        assert_eq!(call.hangup_cause.as_ref().unwrap().code, 16);
        assert_eq!(call.local_number, None, "older hubs send no localNumber");
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
        let e = StreamEvent::parse(&text).unwrap();
        let (phase, call) = e.event.call().unwrap();
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
        assert!(e.event.call().is_none());
        let HubEvent::DialFailed(failed) = e.event else {
            panic!("not a dial attempt: {e:?}");
        };
        let attempt = failed.attempt;
        assert_eq!(attempt.reason, HubDialFailure::Busy);
        assert_eq!(attempt.number, "5551234");
        assert_eq!(attempt.local_number.as_deref(), Some("1001"));
        assert_eq!(attempt.hangup_cause.unwrap().code, 17);
        let newer = text.replace("\"busy\"", "\"carrier_lost\"");
        let HubEvent::DialFailed(failed) = StreamEvent::parse(&newer).unwrap().event else {
            panic!("not a dial attempt");
        };
        assert_eq!(failed.attempt.reason, HubDialFailure::Other);
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
        let HubEvent::PauseBudgetExceeded(over) = &e.event else {
            panic!("not a budget event: {e:?}");
        };
        assert_eq!(over.agent.as_ref().unwrap().user, "2345678");
        assert_eq!(over.since, 1_000);
        assert_eq!(over.reason.name, "Baño");
        // Without its reason it is not a budget event this desktop can show: acknowledged.
        let broken = text.replace("\"reason\"", "\"motivo\"");
        assert_eq!(
            StreamEvent::parse(&broken).unwrap().event,
            HubEvent::Unknown
        );
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
        let HubEvent::AgentState(changed) = e.event else {
            panic!("not a state event");
        };
        assert_eq!(changed.agent.unwrap().extension, "1001");
        assert_eq!(changed.state.kind, AgentStateKind::Paused);
        assert_eq!(changed.state.reason.unwrap().budget_seconds, Some(900));
        assert_eq!(changed.source, None);
        for bad in [
            "",
            "[]",
            "{\"id\":-1,\"type\":\"x\",\"at\":1}",
            "{\"id\":1,\"at\":1}",
        ] {
            assert!(StreamEvent::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_newer_hubs_event_is_unknown() {
        let text = json!({"id": 4, "type": "message_received", "at": 6, "message": {}});
        let e = StreamEvent::parse(&text.to_string()).unwrap();
        assert_eq!((e.id, e.kind.as_str()), (4, "message_received"));
        assert_eq!(e.event, HubEvent::Unknown);
    }
}
