//! Calls as the agent sees them: who, which way, when, how long, how it ended, and whether it
//! still waits to be logged to the CRM.

use crate::clock::Timestamp;

/// Our own id of a call (stable across restarts; the phone line's id is kept separately).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl CallId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// "Entrante": the customer called the agent.
    Incoming,
    /// "Saliente": the agent called out.
    Outgoing,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Incoming => "incoming",
            CallDirection::Outgoing => "outgoing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(CallDirection::Incoming),
            "outgoing" => Some(CallDirection::Outgoing),
            _ => None,
        }
    }
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Outgoing: dialing / far end ringing. Incoming: ringing at the agent.
    Ringing,
    /// Both ends talking.
    Answered,
    /// Over; see [`EndReason`].
    Ended,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ringing => "ringing",
            CallStatus::Answered => "answered",
            CallStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ringing" => Some(CallStatus::Ringing),
            "answered" => Some(CallStatus::Answered),
            "ended" => Some(CallStatus::Ended),
            _ => None,
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// An answered call that one side hung up normally.
    Completed,
    /// The far end was busy (SIP 486/600).
    Busy,
    /// Nobody answered, or the caller gave up before the answer.
    NoAnswer,
    /// The agent rejected an incoming call.
    Rejected,
    /// The phone line went away in the middle of the call.
    LineLost,
    /// Anything else, with the line's own text (e.g. "408 Request Timeout").
    Failed(String),
}

impl EndReason {
    /// Stable code stored in the database and sent to the UI.
    pub fn code(&self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Busy => "busy",
            EndReason::NoAnswer => "no_answer",
            EndReason::Rejected => "rejected",
            EndReason::LineLost => "line_lost",
            EndReason::Failed(_) => "failed",
        }
    }

    /// The line's text for `Failed`, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            EndReason::Failed(text) => Some(text),
            _ => None,
        }
    }

    pub fn from_parts(code: &str, detail: Option<&str>) -> Self {
        match code {
            "completed" => EndReason::Completed,
            "busy" => EndReason::Busy,
            "no_answer" => EndReason::NoAnswer,
            "rejected" => EndReason::Rejected,
            "line_lost" => EndReason::LineLost,
            _ => EndReason::Failed(detail.unwrap_or(code).to_owned()),
        }
    }
}

/// Whether the call still waits in Llamadas to be logged to the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogState {
    /// Shown in Llamadas, waiting for the agent.
    Pending,
    /// Dismissed with Ignorar: stays in Historial, never logged.
    Ignored,
    /// Saved as a CRM activity.
    Logged,
}

impl LogState {
    pub fn as_str(self) -> &'static str {
        match self {
            LogState::Pending => "pending",
            LogState::Ignored => "ignored",
            LogState::Logged => "logged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(LogState::Pending),
            "ignored" => Some(LogState::Ignored),
            "logged" => Some(LogState::Logged),
            _ => None,
        }
    }
}

/// One call, from the first ring to the hang-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: CallId,
    /// The phone line's own id for the call (baresip's SIP Call-ID, ...).
    pub line_call_id: String,
    pub direction: CallDirection,
    /// The other party: E.164 number, extension, or the raw user part when not a number.
    pub peer_number: String,
    pub peer_display_name: Option<String>,
    /// The agent's own number or extension on the line (for "from"/"to" in Historial).
    pub local_number: Option<String>,
    pub status: CallStatus,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<EndReason>,
    pub log_state: LogState,
}

impl CallRecord {
    /// Talk time in whole seconds: from answer to hang-up; 0 if never answered.
    pub fn duration_seconds(&self) -> u32 {
        match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) => a.seconds_until(e),
            _ => 0,
        }
    }

    /// Number that placed the call (Historial "from").
    pub fn from_number(&self) -> Option<&str> {
        match self.direction {
            CallDirection::Incoming => Some(&self.peer_number),
            CallDirection::Outgoing => self.local_number.as_deref(),
        }
    }

    /// Number that received the call (Historial "to").
    pub fn to_number(&self) -> Option<&str> {
        match self.direction {
            CallDirection::Incoming => self.local_number.as_deref(),
            CallDirection::Outgoing => Some(&self.peer_number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CallRecord {
        CallRecord {
            id: CallId("c1".into()),
            line_call_id: "x".into(),
            direction: CallDirection::Outgoing,
            peer_number: "+50640004000".into(),
            peer_display_name: None,
            local_number: Some("1001".into()),
            status: CallStatus::Ended,
            started_at: Timestamp(1_000),
            answered_at: Some(Timestamp(3_000)),
            ended_at: Some(Timestamp(65_500)),
            end_reason: Some(EndReason::Completed),
            log_state: LogState::Pending,
        }
    }

    #[test]
    fn duration_counts_talk_time_only() {
        assert_eq!(record().duration_seconds(), 62);
        let unanswered = CallRecord {
            answered_at: None,
            ..record()
        };
        assert_eq!(unanswered.duration_seconds(), 0);
    }

    #[test]
    fn from_and_to_follow_direction() {
        let out = record();
        assert_eq!(out.from_number(), Some("1001"));
        assert_eq!(out.to_number(), Some("+50640004000"));
        let inc = CallRecord {
            direction: CallDirection::Incoming,
            ..record()
        };
        assert_eq!(inc.from_number(), Some("+50640004000"));
        assert_eq!(inc.to_number(), Some("1001"));
    }

    #[test]
    fn codes_round_trip() {
        for r in [
            EndReason::Completed,
            EndReason::Busy,
            EndReason::NoAnswer,
            EndReason::Rejected,
            EndReason::LineLost,
            EndReason::Failed("408 Request Timeout".into()),
        ] {
            assert_eq!(EndReason::from_parts(r.code(), r.detail()), r);
        }
        for s in [LogState::Pending, LogState::Ignored, LogState::Logged] {
            assert_eq!(LogState::parse(s.as_str()), Some(s));
        }
        for s in [CallStatus::Ringing, CallStatus::Answered, CallStatus::Ended] {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
    }
}
