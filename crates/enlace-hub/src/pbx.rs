//! The PBX connector: one AMI connection (through `enlace-ami`) for the whole organization.
//!
//! - login → `QueueAdd` on each of the agent's queues (best effort: after every
//!   (re)connection `QueueStatus` is read and the queues are corrected to match the hub —
//!   missing members added, pauses and reasons re-applied, stale dynamic members removed —
//!   so a PBX that was down or drifted catches up);
//! - pause → `QueuePause Paused=true Reason=<name>`, unpause → `Paused=false` (refusals are
//!   returned: the hub never shows "paused" while the PBX still sends calls);
//! - exit/logout → `QueueRemove`;
//! - click-to-dial → `Originate` from the agent's interface to the number;
//! - AMI events → `CallTracker` → [`Hub::call_changed`] (call_ringing/answered/ended, each
//!   phase once; a click-to-dial the agent's phone never answered is a `dial_failed` attempt).
//!
//! Reading PBX events is kept apart from acting on them ([`follow_events`]): the reader only
//! queues events, so the AMI connection never waits for the hub and the replies to the hub's
//! own actions always get through; one task tracks the calls, each agent's changes are carried
//! out in order by that agent's worker (a slow agent delays nobody else), and the re-sync after
//! a (re)connection runs on a task of its own.
//!
//! The agent's interface comes from `ami.interface_template` (`PJSIP/{extension}` by default).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use enlace_ami::{
    AmiClient, AmiConfig, AmiError, AmiEvent, CallChange, CallTracker, Direction, Originate,
    OriginateOutcome, PbxCall, PbxCallState,
};
use enlace_hub_api::{ApiErrorCode, DialOutcomeCode, HubDialFailure};
use tokio::sync::mpsc;

use crate::agents::{AgentState, CallPhase, CallUpdate, MemberChange, PBX_REASON_ID};
use crate::config::AmiSettings;
use crate::error::HubError;
use crate::store::AgentRow;
use crate::Hub;

/// Outcome of a click-to-dial, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialOutcome {
    Answered,
    NoAnswer,
    Busy,
    Failed { reason: String },
}

impl DialOutcome {
    /// The outcome as the API sends it.
    pub fn api_code(&self) -> DialOutcomeCode {
        match self {
            DialOutcome::Answered => DialOutcomeCode::Answered,
            DialOutcome::NoAnswer => DialOutcomeCode::NoAnswer,
            DialOutcome::Busy => DialOutcomeCode::Busy,
            DialOutcome::Failed { .. } => DialOutcomeCode::Failed,
        }
    }
}

#[derive(Debug)]
pub struct Pbx {
    ami: Option<AmiClient>,
    settings: AmiSettings,
    /// The queue member events the hub's own QueuePause / QueueAdd / QueueRemove actions will
    /// cause, per interface, with when asked. They are echoes, not changes made on the PBX.
    echoes: std::sync::Mutex<Echoes>,
}

/// A queue member event the hub's own action will cause.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Echo {
    /// `QueueMemberPause` (paused, reason).
    Pause(bool, String),
    /// `QueueMemberAdded` to the queue.
    Added(String),
    /// `QueueMemberRemoved` from the queue.
    Removed(String),
}

impl Echo {
    /// Whether `seen` (an event's fields) is this expected echo.
    fn matches(&self, seen: &Echo) -> bool {
        match (self, seen) {
            (Echo::Pause(p, r), Echo::Pause(sp, sr)) => p == sp && (!*p || r == sr),
            (Echo::Added(q), Echo::Added(sq)) | (Echo::Removed(q), Echo::Removed(sq)) => q == sq,
            _ => false,
        }
    }
}

/// Expected echoes per interface: (echo, when asked).
type Echoes = HashMap<String, Vec<(Echo, std::time::Instant)>>;

/// An expected echo not seen within this long is forgotten (the action failed or timed out).
const ECHO_WAIT: Duration = Duration::from_secs(30);

fn pbx_error(e: AmiError) -> HubError {
    match e.code() {
        "ami_offline" | "ami_timeout" | "ami_auth" => HubError::PbxOffline(e.to_string()),
        _ => HubError::PbxRefused(e.to_string()),
    }
}

/// Numbers accepted for click-to-dial: digits with an optional leading `+`, `*` and `#`.
/// Anything else (line breaks above all: they would inject AMI fields) is refused.
pub fn is_dialable(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    !digits.is_empty()
        && digits.len() <= 32
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

/// A queue member as the PBX reports it (`QueueMember` events of `QueueStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PbxMember {
    pub queue: String,
    pub interface: String,
    /// Added by QueueAdd (ours to manage), not configured in queues.conf.
    pub dynamic: bool,
    pub paused: bool,
    pub reason: Option<String>,
}

impl PbxMember {
    fn from_packet(p: &enlace_ami::Packet) -> Option<PbxMember> {
        if p.event() != Some("QueueMember") {
            return None;
        }
        Some(PbxMember {
            queue: p.get("Queue")?.to_owned(),
            interface: p
                .get("Location")
                .or_else(|| p.get("StateInterface"))?
                .to_owned(),
            dynamic: p.get("Membership") != Some("static"),
            paused: p.get("Paused") == Some("1"),
            reason: p
                .get("PausedReason")
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
        })
    }
}

/// One correction that makes the PBX match the hub after a (re)connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fix {
    Add {
        queue: String,
        agent: AgentRow,
    },
    Remove {
        queue: String,
        interface: String,
    },
    /// Pause (with the reason) or unpause (`None`) in all the agent's queues.
    Pause {
        agent: AgentRow,
        reason: Option<String>,
    },
}

/// What to change on the PBX so its queues match the hub: logged-in agents are members of
/// their queues, paused exactly when the hub says, with the hub's reason; dynamic members the
/// hub does not want (logged out, or a queue no longer theirs) are removed. Members that are
/// not ours (other interfaces, static members) are left alone. Pure, so it is unit-tested.
pub(crate) fn plan_resync(
    agents: &[(AgentRow, AgentState)],
    members: &[PbxMember],
    interface: impl Fn(&AgentRow) -> String,
) -> Vec<Fix> {
    let mut fixes = Vec::new();
    for (agent, state) in agents {
        let iface = interface(agent);
        let mine: Vec<&PbxMember> = members.iter().filter(|m| m.interface == iface).collect();
        let logged_in = !matches!(state, AgentState::LoggedOut { .. });
        for member in &mine {
            let wanted = logged_in && agent.queues.contains(&member.queue);
            if !wanted && member.dynamic {
                fixes.push(Fix::Remove {
                    queue: member.queue.clone(),
                    interface: iface.clone(),
                });
            }
        }
        if !logged_in {
            continue;
        }
        let mut added = false;
        for queue in &agent.queues {
            if !mine.iter().any(|m| &m.queue == queue) {
                fixes.push(Fix::Add {
                    queue: queue.clone(),
                    agent: agent.clone(),
                });
                added = true;
            }
        }
        let reason = match state {
            AgentState::Paused { reason, .. } => Some(reason.name.clone()),
            _ => None,
        };
        // A pause made on the PBX with a reason the hub does not have: any reason will do.
        let any_reason =
            matches!(state, AgentState::Paused { reason, .. } if reason.id == PBX_REASON_ID);
        let drifted = mine
            .iter()
            .filter(|m| agent.queues.contains(&m.queue))
            .any(|m| {
                m.paused != reason.is_some() || (m.paused && !any_reason && m.reason != reason)
            });
        // QueueAdd adds unpaused: a paused agent needs its pause again.
        if drifted || (added && reason.is_some()) {
            fixes.push(Fix::Pause {
                agent: agent.clone(),
                reason,
            });
        }
    }
    fixes
}

impl Pbx {
    /// Starts the AMI connection when configured; without settings the hub runs PBX-less
    /// (state changes are local, click-to-dial answers `pbx_offline`).
    pub fn start(settings: Option<AmiSettings>) -> (Pbx, Option<mpsc::Receiver<AmiEvent>>) {
        match settings {
            Some(settings) => {
                let config = AmiConfig::new(
                    settings.addr.clone(),
                    settings.username.clone(),
                    settings.secret.clone(),
                );
                let (client, events) = AmiClient::start(config);
                (
                    Pbx {
                        ami: Some(client),
                        settings,
                        echoes: std::sync::Mutex::default(),
                    },
                    Some(events),
                )
            }
            None => (
                Pbx {
                    ami: None,
                    settings: AmiSettings::default(),
                    echoes: std::sync::Mutex::default(),
                },
                None,
            ),
        }
    }

    /// The agent's queue-member interface.
    pub fn interface(&self, agent: &AgentRow) -> String {
        self.settings
            .interface_template
            .replace("{extension}", &agent.extension)
    }

    pub(crate) async fn join_queues(&self, agent: &AgentRow) {
        let Some(ami) = &self.ami else { return };
        let interface = self.interface(agent);
        for queue in &agent.queues {
            let echo = Echo::Added(queue.clone());
            self.expect_echoes(&interface, &echo, 1);
            if let Err(e) = ami.queue_add(queue, &interface, &agent.name).await {
                self.forget_echoes(&interface, &echo, 1);
                tracing::warn!(queue, interface, error = %e, "QueueAdd failed; retried on reconnect");
            }
        }
    }

    pub(crate) async fn leave_queues(&self, agent: &AgentRow) {
        let Some(ami) = &self.ami else { return };
        let interface = self.interface(agent);
        for queue in &agent.queues {
            let echo = Echo::Removed(queue.clone());
            self.expect_echoes(&interface, &echo, 1);
            if let Err(e) = ami.queue_remove(queue, &interface).await {
                self.forget_echoes(&interface, &echo, 1);
                tracing::warn!(queue, interface, error = %e, "QueueRemove failed");
            }
        }
    }

    /// Pauses (with the reason's name) or unpauses (`None`) the agent in all its queues.
    pub(crate) async fn pause(
        &self,
        agent: &AgentRow,
        reason: Option<&str>,
    ) -> Result<(), HubError> {
        let Some(ami) = &self.ami else { return Ok(()) };
        if agent.queues.is_empty() {
            return Ok(());
        }
        let interface = self.interface(agent);
        let echo = Echo::Pause(reason.is_some(), reason.unwrap_or_default().to_owned());
        // One QueueMemberPause per queue of the agent will come back.
        self.expect_echoes(&interface, &echo, agent.queues.len());
        let result = ami
            .queue_pause(&interface, reason.is_some(), reason, None)
            .await;
        if let Err(AmiError::Refused { .. }) = &result {
            self.forget_echoes(&interface, &echo, agent.queues.len());
        }
        result.map_err(pbx_error)
    }

    fn echoes(&self) -> std::sync::MutexGuard<'_, Echoes> {
        self.echoes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expect_echoes(&self, interface: &str, echo: &Echo, count: usize) {
        let now = std::time::Instant::now();
        let mut echoes = self.echoes();
        let expected = echoes.entry(interface.to_owned()).or_default();
        expected.retain(|(_, at)| now.duration_since(*at) < ECHO_WAIT);
        for _ in 0..count {
            expected.push((echo.clone(), now));
        }
    }

    fn forget_echoes(&self, interface: &str, echo: &Echo, count: usize) {
        let mut echoes = self.echoes();
        if let Some(expected) = echoes.get_mut(interface) {
            for _ in 0..count {
                if let Some(i) = expected.iter().rposition(|(e, _)| e == echo) {
                    expected.remove(i);
                }
            }
        }
    }

    /// Whether a queue member event is the echo of one of the hub's own QueuePause /
    /// QueueAdd / QueueRemove actions (then it is consumed).
    fn is_echo(&self, interface: &str, seen: &Echo) -> bool {
        let now = std::time::Instant::now();
        let mut echoes = self.echoes();
        let Some(expected) = echoes.get_mut(interface) else {
            return false;
        };
        expected.retain(|(_, at)| now.duration_since(*at) < ECHO_WAIT);
        match expected.iter().position(|(e, _)| e.matches(seen)) {
            Some(i) => {
                expected.remove(i);
                true
            }
            None => false,
        }
    }

    /// Rings the agent's phone and, when answered, calls `number`.
    pub(crate) async fn dial(
        &self,
        agent: &AgentRow,
        number: &str,
    ) -> Result<DialOutcome, HubError> {
        if !is_dialable(number) {
            return Err(HubError::InvalidRequest(
                "number must be digits, optionally with a leading +".into(),
            ));
        }
        let Some(ami) = &self.ami else {
            return Err(HubError::PbxOffline("no PBX is configured".into()));
        };
        let originate = Originate {
            channel: self.interface(agent),
            context: self.settings.dial_context.clone(),
            exten: number.to_owned(),
            priority: "1".into(),
            // The agent's phone shows the number it is about to call, and the PBX reports it
            // as the agent leg's connected line (api-facts D4).
            caller_id: Some(format!("<{number}>")),
            timeout: Duration::from_secs(u64::from(self.settings.originate_timeout_seconds)),
            variables: Vec::new(),
        };
        Ok(match ami.originate(&originate).await.map_err(pbx_error)? {
            OriginateOutcome::Answered => DialOutcome::Answered,
            OriginateOutcome::NoAnswer => DialOutcome::NoAnswer,
            OriginateOutcome::Busy => DialOutcome::Busy,
            OriginateOutcome::Failed { reason } => DialOutcome::Failed { reason },
        })
    }

    /// The queue members the PBX has now (`QueueStatus`).
    pub(crate) async fn queue_members(&self) -> Result<Vec<PbxMember>, HubError> {
        let Some(ami) = &self.ami else {
            return Ok(Vec::new());
        };
        let packets = ami.list("QueueStatus", &[]).await.map_err(pbx_error)?;
        Ok(packets.iter().filter_map(PbxMember::from_packet).collect())
    }

    async fn apply(&self, fix: &Fix) -> Result<(), HubError> {
        let Some(ami) = &self.ami else { return Ok(()) };
        match fix {
            Fix::Add { queue, agent } => {
                let (interface, echo) = (self.interface(agent), Echo::Added(queue.clone()));
                self.expect_echoes(&interface, &echo, 1);
                let result = ami.queue_add(queue, &interface, &agent.name).await;
                if result.is_err() {
                    self.forget_echoes(&interface, &echo, 1);
                }
                result.map_err(pbx_error)
            }
            Fix::Remove { queue, interface } => {
                let echo = Echo::Removed(queue.clone());
                self.expect_echoes(interface, &echo, 1);
                let result = ami.queue_remove(queue, interface).await;
                if result.is_err() {
                    self.forget_echoes(interface, &echo, 1);
                }
                result.map_err(pbx_error)
            }
            Fix::Pause { agent, reason } => self.pause(agent, reason.as_deref()).await,
        }
    }

    pub(crate) async fn shutdown(&self) {
        if let Some(ami) = &self.ami {
            ami.shutdown().await;
        }
    }
}

/// A PBX operation, as one hub instance asks another (the one holding the PBX connection)
/// to carry it out. JSON in the `pbx_requests` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum PbxCommand {
    JoinQueues {
        agent_id: i64,
    },
    LeaveQueues {
        agent_id: i64,
    },
    Pause {
        agent_id: i64,
        reason: Option<String>,
    },
    Dial {
        agent_id: i64,
        number: String,
    },
}

/// The owner's answer to a [`PbxCommand`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub(crate) enum PbxReply {
    Done,
    Dialed {
        outcome: DialOutcomeCode,
        reason: Option<String>,
    },
    Failed {
        code: ApiErrorCode,
        message: String,
    },
}

impl PbxReply {
    fn from_error(e: &HubError) -> PbxReply {
        PbxReply::Failed {
            code: e.api_code(),
            message: e.to_string(),
        }
    }

    /// Back to the asker's result types.
    pub(crate) fn into_result(self) -> Result<Option<DialOutcome>, HubError> {
        match self {
            PbxReply::Done => Ok(None),
            PbxReply::Dialed { outcome, reason } => Ok(Some(match outcome {
                DialOutcomeCode::Answered => DialOutcome::Answered,
                DialOutcomeCode::NoAnswer => DialOutcome::NoAnswer,
                DialOutcomeCode::Busy => DialOutcome::Busy,
                DialOutcomeCode::Failed => DialOutcome::Failed {
                    reason: reason.unwrap_or_default(),
                },
            })),
            PbxReply::Failed { code, message } => Err(match code {
                ApiErrorCode::PbxOffline => HubError::PbxOffline(message),
                ApiErrorCode::InvalidRequest => HubError::InvalidRequest(message),
                _ => HubError::PbxRefused(message),
            }),
        }
    }
}

/// Where this instance's PBX operations go.
enum PbxRoute {
    /// This instance holds the PBX connection (or no PBX is configured: the inert connector).
    Local(Arc<Pbx>),
    /// Another instance does: ask it through the database.
    Relay,
}

impl Hub {
    fn pbx_route(&self) -> PbxRoute {
        match self.local_pbx() {
            Some(pbx) => PbxRoute::Local(pbx),
            None => PbxRoute::Relay,
        }
    }

    /// How long an instance waits for the owner's answer before reporting `pbx_offline`.
    fn relay_wait(&self, command: &PbxCommand) -> Duration {
        match command {
            PbxCommand::Dial { .. } => {
                let ring = self
                    .config()
                    .ami
                    .as_ref()
                    .map_or(30, |a| u64::from(a.originate_timeout_seconds));
                Duration::from_secs(ring + 10)
            }
            _ => Duration::from_secs(5),
        }
    }

    /// Best effort (a PBX that is down catches up when it reconnects).
    pub(crate) async fn pbx_join_queues(&self, agent: &AgentRow) {
        match self.pbx_route() {
            PbxRoute::Local(pbx) => pbx.join_queues(agent).await,
            PbxRoute::Relay => {
                self.relay_quietly(PbxCommand::JoinQueues { agent_id: agent.id })
                    .await
            }
        }
    }

    /// Best effort.
    pub(crate) async fn pbx_leave_queues(&self, agent: &AgentRow) {
        match self.pbx_route() {
            PbxRoute::Local(pbx) => pbx.leave_queues(agent).await,
            PbxRoute::Relay => {
                self.relay_quietly(PbxCommand::LeaveQueues { agent_id: agent.id })
                    .await
            }
        }
    }

    async fn relay_quietly(&self, command: PbxCommand) {
        if let Err(e) = crate::cluster::relay(self, &command, None).await {
            tracing::warn!(error = %e, ?command, "queueing a PBX request failed");
        }
    }

    /// Pauses (with the reason's name) or unpauses (`None`); a PBX refusal is returned.
    pub(crate) async fn pbx_pause(
        &self,
        agent: &AgentRow,
        reason: Option<&str>,
    ) -> Result<(), HubError> {
        match self.pbx_route() {
            PbxRoute::Local(pbx) => pbx.pause(agent, reason).await,
            PbxRoute::Relay => {
                let command = PbxCommand::Pause {
                    agent_id: agent.id,
                    reason: reason.map(str::to_owned),
                };
                let wait = self.relay_wait(&command);
                crate::cluster::relay(self, &command, Some(wait))
                    .await?
                    .into_result()
                    .map(|_| ())
            }
        }
    }

    /// Click-to-dial for an agent.
    pub async fn dial(&self, agent: &AgentRow, number: &str) -> Result<DialOutcome, HubError> {
        if !is_dialable(number) {
            return Err(HubError::InvalidRequest(
                "number must be digits, optionally with a leading +".into(),
            ));
        }
        match self.pbx_route() {
            PbxRoute::Local(pbx) => pbx.dial(agent, number).await,
            PbxRoute::Relay => {
                let command = PbxCommand::Dial {
                    agent_id: agent.id,
                    number: number.to_owned(),
                };
                let wait = self.relay_wait(&command);
                crate::cluster::relay(self, &command, Some(wait))
                    .await?
                    .into_result()?
                    .ok_or_else(|| HubError::Internal("the PBX owner gave no dial outcome".into()))
            }
        }
    }

    /// Carries out a command relayed by another instance on this instance's connection.
    pub(crate) async fn execute_pbx_command(&self, pbx: &Pbx, command: PbxCommand) -> PbxReply {
        let agent_id = match &command {
            PbxCommand::JoinQueues { agent_id }
            | PbxCommand::LeaveQueues { agent_id }
            | PbxCommand::Pause { agent_id, .. }
            | PbxCommand::Dial { agent_id, .. } => *agent_id,
        };
        let agent = match self.store().agent_by_id(agent_id).await {
            Ok(Some(agent)) => agent,
            Ok(None) => {
                return PbxReply::from_error(&HubError::NotFound(format!("agent {agent_id}")))
            }
            Err(e) => return PbxReply::from_error(&HubError::Store(e)),
        };
        match command {
            PbxCommand::JoinQueues { .. } => {
                pbx.join_queues(&agent).await;
                PbxReply::Done
            }
            PbxCommand::LeaveQueues { .. } => {
                pbx.leave_queues(&agent).await;
                PbxReply::Done
            }
            PbxCommand::Pause { reason, .. } => match pbx.pause(&agent, reason.as_deref()).await {
                Ok(()) => PbxReply::Done,
                Err(e) => PbxReply::from_error(&e),
            },
            PbxCommand::Dial { number, .. } => match pbx.dial(&agent, &number).await {
                Ok(outcome) => PbxReply::Dialed {
                    outcome: outcome.api_code(),
                    reason: match outcome {
                        DialOutcome::Failed { reason } => Some(reason),
                        _ => None,
                    },
                },
                Err(e) => PbxReply::from_error(&e),
            },
        }
    }

    async fn tracker_interfaces(&self, pbx: &Pbx) -> Result<Vec<(String, String)>, HubError> {
        Ok(self
            .store()
            .agents()
            .await?
            .iter()
            .filter(|a| !a.disabled)
            .map(|a| (a.id.to_string(), pbx.interface(a)))
            .collect())
    }

    /// After a (re)connection the PBX may have drifted (a QueueRemove lost while it was down,
    /// a restart that forgot dynamic members, a pause changed on a phone): its members are read
    /// with `QueueStatus` and each agent is corrected to match the hub ([`plan_resync`]); if
    /// QueueStatus fails, every logged-in agent's membership and pause are re-applied instead.
    /// Each agent is corrected under its state lock with its current state, so a pause asked
    /// meanwhile (on any instance) is applied after, never overwritten by, the re-sync.
    async fn resync_pbx(&self, pbx: &Pbx) -> Result<(), HubError> {
        let members = match pbx.queue_members().await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(error = %e, "QueueStatus failed; re-applying every membership");
                Vec::new()
            }
        };
        for agent in self.store().agents().await? {
            let _guard = self.lock_state(agent.id).await?;
            let state = self.agent_state(agent.id).await?;
            for fix in plan_resync(&[(agent, state)], &members, |a| pbx.interface(a)) {
                tracing::info!(?fix, "re-sync");
                if let Err(e) = pbx.apply(&fix).await {
                    tracing::warn!(error = %e, ?fix, "re-sync step failed");
                }
            }
        }
        Ok(())
    }
}

fn to_update(call: &PbxCall) -> CallUpdate {
    CallUpdate {
        id: call.id.clone(),
        incoming: matches!(call.direction, Direction::Incoming),
        other_number: call.other_number.clone(),
        other_name: call.other_name.clone(),
        state: match call.state {
            PbxCallState::Ringing => CallPhase::Ringing,
            PbxCallState::Answered => CallPhase::Answered,
            PbxCallState::Ended => CallPhase::Ended,
            PbxCallState::Failed(failure) => CallPhase::Failed {
                reason: match failure {
                    enlace_ami::DialFailure::Busy => HubDialFailure::Busy,
                    enlace_ami::DialFailure::NoAnswer => HubDialFailure::NoAnswer,
                    enlace_ami::DialFailure::Unreachable => HubDialFailure::Unreachable,
                    enlace_ami::DialFailure::Refused => HubDialFailure::Refused,
                },
            },
        },
        ringing_at: call.ringing_at,
        answered_at: call.answered_at,
        ended_at: call.ended_at,
        duration_seconds: call.duration_seconds,
        hangup_cause: call.hangup_cause.clone(),
    }
}

/// Hang-up cause of the calls that were in progress when the PBX connection was lost.
pub const LOST_CAUSE: &str = "connection to the PBX lost";

/// Follows the AMI event channel until it closes (at shutdown, or when the task is aborted).
/// This task only reads: it moves each event from the AMI client's bounded channel into an
/// unbounded queue, so the client never waits for the hub (and keeps reading the replies the
/// hub's own actions wait for). [`act_on_events`] does the rest.
pub(crate) async fn follow_events(hub: Hub, pbx: Arc<Pbx>, mut events: mpsc::Receiver<AmiEvent>) {
    let (queue, queued) = mpsc::unbounded_channel();
    // Aborted with this task (the instance lost the PBX); otherwise drained to the end.
    let mut actor = AbortOnDrop(tokio::spawn(act_on_events(hub, pbx, queued)));
    while let Some(event) = events.recv().await {
        if queue.send(event).is_err() {
            break;
        }
    }
    drop(queue);
    let _ = (&mut actor.0).await;
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What an agent's worker carries out, in order.
#[derive(Debug)]
enum AgentWork {
    Call(CallChange),
    /// A stored call the PBX no longer reports (it ended while the hub was not listening):
    /// ended as lost.
    EndLost(CallUpdate),
    /// A change made on the PBX, with when the hub saw it (hub clock, ms).
    Member(MemberChange, i64),
    /// Removed from `queue` on the PBX (seen at `seen`, hub clock): whether it is still in any
    /// of its queues is asked first.
    Removed {
        queue: String,
        interface: String,
        seen: i64,
    },
}

/// The agent whose interface a queue member event names (QueueMemberPause / Added / Removed),
/// with that interface.
fn member_agent(
    packet: &enlace_ami::Packet,
    members: &HashMap<String, i64>,
) -> Option<(i64, String)> {
    ["Interface", "StateInterface"]
        .iter()
        .filter_map(|k| packet.get(k))
        .find_map(|i| members.get(i.trim()).map(|id| (*id, i.trim().to_owned())))
}

/// Agent ids by queue-member interface.
fn member_map(interfaces: &[(String, String)]) -> HashMap<String, i64> {
    interfaces
        .iter()
        .filter_map(|(id, interface)| Some((interface.clone(), id.parse().ok()?)))
        .collect()
}

/// Tracks the calls and hands each agent's changes to that agent's worker. Never waits for
/// the PBX: the re-sync after a (re)connection runs on a task of its own.
async fn act_on_events(hub: Hub, pbx: Arc<Pbx>, mut events: mpsc::UnboundedReceiver<AmiEvent>) {
    let interfaces = hub.tracker_interfaces(&pbx).await.unwrap_or_default();
    let mut members = member_map(&interfaces);
    let mut tracker = CallTracker::new(interfaces);
    let mut workers: HashMap<i64, mpsc::UnboundedSender<AgentWork>> = HashMap::new();
    let mut resync: Option<AbortOnDrop> = None;
    while let Some(event) = events.recv().await {
        let changes = match event {
            AmiEvent::Connected { version } => {
                tracing::info!(version, "AMI connected");
                tracker.reset();
                if let Ok(interfaces) = hub.tracker_interfaces(&pbx).await {
                    members = member_map(&interfaces);
                    tracker.set_interfaces(interfaces);
                }
                // Calls stored as not ended that this connection's tracker does not know
                // (the hub was down or lost the PBX while they ended): their end is gone
                // with the events of the gap, so they end now as lost and free their agents.
                // Their later events, should they still be going on, are ignored.
                match hub.store().open_calls().await {
                    Ok(open) => {
                        let now = hub.now();
                        for row in open {
                            let agent = row.agent_id.to_string();
                            if tracker.is_lost(&row.call_id, &agent) {
                                // Already ended (when the connection dropped), maybe not
                                // stored yet.
                                continue;
                            }
                            tracker.mark_lost(&row.call_id, &row.agent_id.to_string(), now);
                            let agent_id = row.agent_id;
                            hand_over(
                                &hub,
                                &mut workers,
                                agent_id,
                                AgentWork::EndLost(lost_end(&row, now)),
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the calls not ended failed"),
                }
                let (hub, pbx) = (hub.clone(), pbx.clone());
                // A re-sync still running for an earlier connection is replaced.
                resync = Some(AbortOnDrop(tokio::spawn(async move {
                    if let Err(e) = hub.resync_pbx(&pbx).await {
                        tracing::warn!(error = %e, "PBX re-sync failed");
                    }
                })));
                Vec::new()
            }
            AmiEvent::Disconnected { reason } => {
                tracing::warn!(reason, "AMI disconnected");
                // The events that would end the calls in progress are gone with the
                // connection: end them now, saying why, so no agent stays "on a call" forever.
                let lost = tracker.end_all(hub.now(), (0, LOST_CAUSE.to_owned()));
                tracker.reset();
                lost
            }
            AmiEvent::Event(packet) => {
                let name = packet.event().unwrap_or_default();
                let member_event = matches!(
                    name,
                    "QueueMemberPause" | "QueueMemberAdded" | "QueueMemberRemoved"
                );
                if name == "Newchannel"
                    || (member_event && member_agent(&packet, &members).is_none())
                {
                    // Agents may have been added since: refresh before a call starts.
                    if let Ok(interfaces) = hub.tracker_interfaces(&pbx).await {
                        members = member_map(&interfaces);
                        tracker.set_interfaces(interfaces);
                    }
                }
                if member_event {
                    if let Some((agent_id, work)) = member_work(&pbx, &packet, &members, hub.now())
                    {
                        hand_over(&hub, &mut workers, agent_id, work);
                    }
                }
                tracker.on_event(&packet, hub.now())
            }
        };
        for change in changes {
            let Ok(agent_id) = change.call.agent.parse::<i64>() else {
                continue;
            };
            hand_over(&hub, &mut workers, agent_id, AgentWork::Call(change));
        }
    }
    drop(resync);
}

/// The end, as lost at `now`, of a stored call that has not ended.
fn lost_end(row: &crate::store::CallRow, now: i64) -> CallUpdate {
    let ended_at = now.max(row.ringing_at);
    CallUpdate {
        id: row.call_id.clone(),
        incoming: row.direction == "incoming",
        other_number: row.other_number.clone(),
        other_name: None,
        state: CallPhase::Ended,
        ringing_at: row.ringing_at,
        answered_at: row.answered_at,
        ended_at: Some(ended_at),
        duration_seconds: row.answered_at.map_or(0, |a| {
            u32::try_from(ended_at.saturating_sub(a) / 1000).unwrap_or(u32::MAX)
        }),
        hangup_cause: Some((0, LOST_CAUSE.to_owned())),
    }
}

/// What a queue member event of an agent's interface asks of the agent's worker: nothing for
/// the echoes of the hub's own actions and for memberships added unpaused.
fn member_work(
    pbx: &Pbx,
    packet: &enlace_ami::Packet,
    members: &HashMap<String, i64>,
    seen: i64,
) -> Option<(i64, AgentWork)> {
    let (agent_id, interface) = member_agent(packet, members)?;
    let paused = packet.get("Paused").map(str::trim) == Some("1");
    let reason = packet
        .get("PausedReason")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let queue = packet.get("Queue").unwrap_or_default().trim().to_owned();
    let work = match packet.event()? {
        "QueueMemberPause" => {
            if pbx.is_echo(&interface, &Echo::Pause(paused, reason.clone())) {
                return None;
            }
            AgentWork::Member(MemberChange::Pause { paused, reason }, seen)
        }
        "QueueMemberAdded" => {
            if pbx.is_echo(&interface, &Echo::Added(queue)) || !paused {
                return None;
            }
            AgentWork::Member(MemberChange::Pause { paused, reason }, seen)
        }
        "QueueMemberRemoved" => {
            if queue.is_empty() || pbx.is_echo(&interface, &Echo::Removed(queue.clone())) {
                return None;
            }
            AgentWork::Removed {
                queue,
                interface,
                seen,
            }
        }
        _ => return None,
    };
    Some((agent_id, work))
}

/// Queues `work` for the agent's worker, starting it on first use.
fn hand_over(
    hub: &Hub,
    workers: &mut HashMap<i64, mpsc::UnboundedSender<AgentWork>>,
    agent_id: i64,
    work: AgentWork,
) {
    let worker = workers.entry(agent_id).or_insert_with(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<AgentWork>();
        let hub = hub.clone();
        tokio::spawn(async move {
            while let Some(work) = rx.recv().await {
                hub.carry_out(agent_id, work).await;
            }
        });
        tx
    });
    if let Err(mpsc::error::SendError(work)) = worker.send(work) {
        tracing::warn!(
            agent_id,
            ?work,
            "an agent's PBX worker is gone; change dropped"
        );
        workers.remove(&agent_id);
    }
}

impl Hub {
    async fn carry_out(&self, agent_id: i64, work: AgentWork) {
        match work {
            AgentWork::Call(change) => {
                if let Err(e) = self
                    .call_changed(agent_id, &to_update(&change.call), change.announce)
                    .await
                {
                    tracing::warn!(error = %e, "recording a call failed");
                }
            }
            AgentWork::EndLost(update) => {
                if let Err(e) = self.call_changed(agent_id, &update, true).await {
                    tracing::warn!(error = %e, "ending a lost call failed");
                }
            }
            AgentWork::Member(change, seen) => {
                if let Err(e) = self.pbx_member_changed(agent_id, change, seen).await {
                    tracing::warn!(error = %e, "following a change made on the PBX failed");
                }
            }
            AgentWork::Removed {
                queue,
                interface,
                seen,
            } => {
                let still_in = match (self.local_pbx(), self.store().agent_by_id(agent_id).await) {
                    (Some(pbx), Ok(Some(agent))) => pbx.queue_members().await.ok().map(|members| {
                        members
                            .iter()
                            .any(|m| m.interface == interface && agent.queues.contains(&m.queue))
                    }),
                    _ => None,
                };
                let change = MemberChange::Removed { queue, still_in };
                if let Err(e) = self.pbx_member_changed(agent_id, change, seen).await {
                    tracing::warn!(error = %e, "following a change made on the PBX failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64, queues: &[&str]) -> AgentRow {
        AgentRow {
            id,
            user: format!("{id:07}"),
            password_hash: String::new(),
            name: format!("Agent {id}"),
            extension: format!("10{id:02}"),
            queues: queues.iter().map(|q| q.to_string()).collect(),
            supervisor: false,
            disabled: false,
        }
    }

    fn member(queue: &str, interface: &str, paused: Option<&str>) -> PbxMember {
        PbxMember {
            queue: queue.into(),
            interface: interface.into(),
            dynamic: true,
            paused: paused.is_some(),
            reason: paused.map(str::to_owned),
        }
    }

    fn reason(name: &str) -> crate::store::PauseReasonRow {
        crate::store::PauseReasonRow {
            id: 1,
            name: name.into(),
            budget_seconds: None,
            is_exit: false,
        }
    }

    fn iface(a: &AgentRow) -> String {
        format!("PJSIP/{}", a.extension)
    }

    #[test]
    fn resync_plan_makes_the_pbx_match_the_hub() {
        let ana = agent(1, &["support", "sales"]);
        let beto = agent(2, &["support"]);
        let sara = agent(3, &["support"]);
        let agents = vec![
            // Paused for Baño, but the PBX lost her "sales" membership and her pause.
            (
                ana.clone(),
                AgentState::Paused {
                    reason: reason("Baño"),
                    since: 0,
                },
            ),
            // Logged out while the PBX was unreachable: still a member there.
            (beto.clone(), AgentState::LoggedOut { since: 0 }),
            // Available and right: nothing to do.
            (sara.clone(), AgentState::Available { since: 0 }),
        ];
        let members = vec![
            member("support", "PJSIP/1001", None),
            member("support", "PJSIP/1002", Some("Almuerzo")),
            member("support", "PJSIP/1003", None),
            // Somebody else's, and a static member: never touched.
            member("support", "SIP/9999", None),
            PbxMember {
                dynamic: false,
                ..member("billing", "PJSIP/1002", None)
            },
        ];
        let fixes = plan_resync(&agents, &members, iface);
        assert_eq!(
            fixes,
            vec![
                Fix::Add {
                    queue: "sales".into(),
                    agent: ana.clone()
                },
                Fix::Pause {
                    agent: ana,
                    reason: Some("Baño".into())
                },
                Fix::Remove {
                    queue: "support".into(),
                    interface: "PJSIP/1002".into()
                },
            ]
        );
    }

    #[test]
    fn resync_plan_fixes_a_wrong_pause_reason_and_a_pause_on_an_available_agent() {
        let ana = agent(1, &["support"]);
        let beto = agent(2, &["support"]);
        let agents = vec![
            (
                ana.clone(),
                AgentState::Paused {
                    reason: reason("Baño"),
                    since: 0,
                },
            ),
            (beto.clone(), AgentState::OnCall { since: 0 }),
        ];
        let members = vec![
            member("support", "PJSIP/1001", Some("Almuerzo")),
            member("support", "PJSIP/1002", Some("Baño")),
        ];
        assert_eq!(
            plan_resync(&agents, &members, iface),
            vec![
                Fix::Pause {
                    agent: ana,
                    reason: Some("Baño".into())
                },
                Fix::Pause {
                    agent: beto,
                    reason: None
                },
            ]
        );
        // Nothing known about the PBX: every membership is (re)added, pauses re-applied.
        let fixes = plan_resync(&agents, &[], iface);
        assert_eq!(fixes.len(), 3, "{fixes:?}");
    }

    #[test]
    fn queue_members_are_read_from_queue_status_events() {
        let packet = enlace_ami::Packet::new()
            .with("Event", "QueueMember")
            .with("Queue", "support")
            .with("Name", "Agent 500")
            .with("Location", "Local/500@agents")
            .with("StateInterface", "Local/500@agents")
            .with("Membership", "dynamic")
            .with("Paused", "1")
            .with("PausedReason", "Baño");
        assert_eq!(
            PbxMember::from_packet(&packet),
            Some(member("support", "Local/500@agents", Some("Baño")))
        );
        let params = enlace_ami::Packet::new()
            .with("Event", "QueueParams")
            .with("Queue", "support");
        assert_eq!(PbxMember::from_packet(&params), None);
    }

    #[test]
    fn only_plain_numbers_are_dialable() {
        assert!(is_dialable("+525512345678"));
        assert!(is_dialable("1002"));
        assert!(is_dialable("*97"));
        assert!(!is_dialable(""));
        assert!(!is_dialable("+"));
        assert!(!is_dialable("1002\r\nAction: Logoff"));
        assert!(!is_dialable("55 1234"));
        assert!(!is_dialable(&"1".repeat(33)));
    }
}
