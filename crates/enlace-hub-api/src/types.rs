//! Request and response bodies of the hub's HTTP routes, and the shapes they share with the
//! stream's events (agents, states, pause reasons, calls). camelCase on the wire; readers
//! ignore fields they do not know, so a newer hub keeps working with an older desktop.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Shown instead of a secret in `Debug`.
const REDACTED: &str = "<redacted>";

/// An agent as the hub describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// A pause reason (`Salida` has `is_exit`). Id 0 is a reason made on the PBX that the hub does
/// not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// An agent's state: `{state, since, reason}` (reason null unless paused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentState {
    #[serde(rename = "state")]
    pub kind: AgentStateKind,
    /// ms since the epoch (hub clock).
    pub since: i64,
    #[serde(default)]
    pub reason: Option<PauseReason>,
}

/// `POST /api/v1/sessions`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// 7 digits.
    pub user: String,
    /// 6 digits.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &REDACTED)
            .finish()
    }
}

/// `201` reply of `POST /api/v1/sessions`. The token is the session's bearer credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated {
    pub token: String,
    /// ms since the epoch; renewed by every use.
    pub expires_at: i64,
    pub agent: Agent,
    pub state: AgentState,
}

impl std::fmt::Debug for SessionCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCreated")
            .field("token", &REDACTED)
            .field("expires_at", &self.expires_at)
            .field("agent", &self.agent)
            .field("state", &self.state)
            .finish()
    }
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub agent: Agent,
    pub state: AgentState,
    pub expires_at: i64,
}

/// `POST /api/v1/me/state`: what an agent asks for. Exit (Salida) leaves the queues and ends
/// every session of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateRequest {
    Available,
    Paused {
        /// A pause reason id.
        reason: i64,
    },
    Exit,
}

/// `POST /api/v1/calls`: click-to-dial (the agent's phone rings first, then the number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialRequest {
    pub number: String,
}

/// How a click-to-dial ended on the agent's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DialOutcomeCode {
    /// The agent's phone answered; the PBX is calling the number.
    Answered,
    NoAnswer,
    Busy,
    /// See `reason`; also what a client reads for an outcome a newer hub added.
    #[serde(other)]
    Failed,
}

/// Reply of `POST /api/v1/calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DialReply {
    pub outcome: DialOutcomeCode,
    /// Why it failed (only with `failed`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Query of `GET /api/v1/me/day`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// ms since the epoch; default: today's UTC midnight.
    pub since: Option<i64>,
}

/// Query of `GET /api/v1/stream`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The last event id the client has; events after it are sent.
    pub after: Option<i64>,
}

/// Time spent in one pause reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayPause {
    pub reason: PauseReason,
    pub seconds: i64,
}

/// `GET /api/v1/me/day`: the agent's day at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentOverview {
    #[serde(flatten)]
    pub agent: Agent,
    #[serde(default)]
    pub disabled: bool,
    pub state: AgentState,
}

/// Direction of a PBX call, seen from the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HubCallDirection {
    Incoming,
    Outgoing,
}

/// The Q.850 cause of a hang-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HangupCause {
    pub code: u32,
    pub text: String,
}

/// A call of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// The agent's own extension on the call; absent from older hubs.
    #[serde(default)]
    pub local_number: Option<String>,
}

/// Why a click-to-dial failed: the agent's own phone never answered the PBX's first leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HubDialFailure {
    Busy,
    NoAnswer,
    /// Not registered, no route, congestion.
    Unreachable,
    /// The phone declined.
    Refused,
    /// A reason this desktop does not know yet (a newer hub). Never sent.
    #[serde(other)]
    Other,
}

/// A dial attempt: a click-to-dial the agent's phone never answered. Not a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
