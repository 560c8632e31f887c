//! The agent state machine: logged_out → available ⇄ paused(reason) / on_call, and exit
//! (the Salida reason) back to logged_out. Every change is appended to `agent_state_log`,
//! mirrored to the PBX first (a refused PBX action leaves the state unchanged) and published
//! as an `agent_state` event. Pause budgets produce one `pause_budget_exceeded` event per pause.

use std::collections::HashSet;

use enlace_hub_api as api;
use enlace_hub_api::{
    AgentStateChanged, CallChanged, DialFailed, HubCallDirection, HubDialAttempt, HubDialFailure,
    HubEvent, PauseBudgetExceeded, StateSource,
};

use crate::error::HubError;
use crate::store::{AgentRow, CallRow, PauseReasonRow};
use crate::Hub;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut { since: i64 },
    Available { since: i64 },
    Paused { reason: PauseReasonRow, since: i64 },
    OnCall { since: i64 },
}

impl AgentState {
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::LoggedOut { .. } => "logged_out",
            AgentState::Available { .. } => "available",
            AgentState::Paused { .. } => "paused",
            AgentState::OnCall { .. } => "on_call",
        }
    }

    pub fn since(&self) -> i64 {
        match self {
            AgentState::LoggedOut { since }
            | AgentState::Available { since }
            | AgentState::Paused { since, .. }
            | AgentState::OnCall { since } => *since,
        }
    }

    /// `{state, since, reason}` (reason null unless paused).
    pub fn to_api(&self) -> api::AgentState {
        let (kind, reason) = match self {
            AgentState::LoggedOut { .. } => (api::AgentStateKind::LoggedOut, None),
            AgentState::Available { .. } => (api::AgentStateKind::Available, None),
            AgentState::Paused { reason, .. } => {
                (api::AgentStateKind::Paused, Some(reason_api(reason)))
            }
            AgentState::OnCall { .. } => (api::AgentStateKind::OnCall, None),
        };
        api::AgentState {
            kind,
            since: self.since(),
            reason,
        }
    }
}

/// The id of a pause reason made on the PBX that the hub does not have (never a stored id).
pub const PBX_REASON_ID: i64 = 0;

/// A pause made on the PBX (phone key, supervisor console, another AMI client) with a reason
/// the hub does not have: shown with the PBX's text, stored without a reason.
pub fn pbx_reason(name: &str) -> PauseReasonRow {
    PauseReasonRow {
        id: PBX_REASON_ID,
        name: name.to_owned(),
        budget_seconds: None,
        is_exit: false,
    }
}

/// A queue membership change the PBX reported (`QueueMemberPause`, `QueueMemberAdded`,
/// `QueueMemberRemoved`) that the hub did not ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Paused (with the PBX's reason text, maybe empty) or unpaused.
    Pause { paused: bool, reason: String },
    /// Removed from `queue`; `still_in` says whether it is still in any of its queues (`None`
    /// when the PBX could not say).
    Removed {
        queue: String,
        still_in: Option<bool>,
    },
}

pub fn reason_api(reason: &PauseReasonRow) -> api::PauseReason {
    api::PauseReason {
        id: reason.id,
        name: reason.name.clone(),
        budget_seconds: reason.budget_seconds,
        is_exit: reason.is_exit,
    }
}

pub fn agent_api(agent: &AgentRow) -> api::Agent {
    api::Agent {
        id: agent.id,
        user: agent.user.clone(),
        name: agent.name.clone(),
        extension: agent.extension.clone(),
        queues: agent.queues.clone(),
        supervisor: agent.supervisor,
    }
}

/// What an agent asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateRequest {
    Available,
    Paused { reason_id: i64 },
    Exit,
}

/// A call as the hub records it (converted from the PBX tracker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUpdate {
    pub id: String,
    pub incoming: bool,
    pub other_number: String,
    pub other_name: Option<String>,
    pub state: CallPhase,
    pub ringing_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_seconds: u32,
    pub hangup_cause: Option<(u32, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    Ringing,
    Answered,
    Ended,
    /// A click-to-dial the agent's phone never answered: a dial attempt, not a call; `reason`
    /// says why the agent's phone did not answer.
    Failed {
        reason: HubDialFailure,
    },
}

/// The agent's day at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    pub since: i64,
    pub calls_in: u32,
    pub calls_out: u32,
    pub talk_seconds: i64,
    /// (reason, seconds)
    pub pauses: Vec<(PauseReasonRow, i64)>,
}

/// Held while an agent's state changes (state read, PBX action, state written): the agent's
/// own in-process lock always; with several instances also the agent's advisory lock in
/// PostgreSQL, so two instances changing the same agent take turns. Per agent on both levels:
/// a PBX action that is slow for one agent never holds up another. Order: in-process first,
/// then the advisory lock; never two agents' locks at once. Released on drop.
pub(crate) struct StateGuard {
    _local: tokio::sync::OwnedMutexGuard<()>,
    remote: Option<(sqlx::pool::PoolConnection<sqlx::Any>, i64)>,
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        if let Some((conn, agent_id)) = self.remote.take() {
            tokio::spawn(crate::store::Store::unlock_agent_state(conn, agent_id));
        }
    }
}

impl Hub {
    /// Takes the agent's state lock (see [`StateGuard`]).
    pub(crate) async fn lock_state(&self, agent_id: i64) -> Result<StateGuard, HubError> {
        let lock = self
            .inner
            .state_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(agent_id)
            .or_default()
            .clone();
        let local = lock.lock_owned().await;
        let remote = self.store().lock_agent_state(agent_id).await?;
        Ok(StateGuard {
            _local: local,
            remote: remote.map(|conn| (conn, agent_id)),
        })
    }

    /// The agent's current state (logged out if it never logged in).
    pub async fn agent_state(&self, agent_id: i64) -> Result<AgentState, HubError> {
        let Some(row) = self.store().current_state(agent_id).await? else {
            return Ok(AgentState::LoggedOut { since: 0 });
        };
        self.state_from_parts(&row.state, row.reason_id, row.at)
            .await
    }

    async fn state_from_parts(
        &self,
        state: &str,
        reason_id: Option<i64>,
        since: i64,
    ) -> Result<AgentState, HubError> {
        Ok(match state {
            "available" => AgentState::Available { since },
            "on_call" => AgentState::OnCall { since },
            "paused" => match reason_id {
                Some(id) => match self.store().pause_reason(id).await? {
                    Some(reason) => AgentState::Paused { reason, since },
                    None => AgentState::Available { since },
                },
                // Paused on the PBX with a reason the hub does not have.
                None => AgentState::Paused {
                    reason: pbx_reason(""),
                    since,
                },
            },
            _ => AgentState::LoggedOut { since },
        })
    }

    async fn record_state(
        &self,
        agent: &AgentRow,
        state: AgentState,
    ) -> Result<AgentState, HubError> {
        self.record_state_from(agent, state, None).await
    }

    /// Records and publishes a new state; `source` (e.g. `phone`) says where the change was
    /// made when it was not through the hub.
    async fn record_state_from(
        &self,
        agent: &AgentRow,
        state: AgentState,
        source: Option<StateSource>,
    ) -> Result<AgentState, HubError> {
        let reason_id = match &state {
            AgentState::Paused { reason, .. } if reason.id != PBX_REASON_ID => Some(reason.id),
            _ => None,
        };
        let event = HubEvent::AgentState(AgentStateChanged {
            agent: Some(agent_api(agent)),
            state: state.to_api(),
            source,
        });
        // One transaction: a state GET /me shows is always one the stream delivers.
        self.events()
            .append_state_event(
                agent.id,
                (state.name(), reason_id, state.since()),
                &event,
                state.since(),
            )
            .await?;
        Ok(state)
    }

    /// Login path: join the queues, become available.
    pub(crate) async fn log_in_agent(&self, agent: &AgentRow) -> Result<(), HubError> {
        let _guard = self.lock_state(agent.id).await?;
        self.pbx_join_queues(agent).await;
        self.record_state(agent, AgentState::Available { since: self.now() })
            .await?;
        Ok(())
    }

    /// Logout path: leave the queues, become logged out (sessions are the caller's business).
    pub(crate) async fn log_out_agent(&self, agent: &AgentRow) -> Result<(), HubError> {
        let _guard = self.lock_state(agent.id).await?;
        if matches!(
            self.agent_state(agent.id).await?,
            AgentState::LoggedOut { .. }
        ) {
            return Ok(());
        }
        self.pbx_leave_queues(agent).await;
        self.record_state(agent, AgentState::LoggedOut { since: self.now() })
            .await?;
        Ok(())
    }

    /// An agent's request to change state. Exit (or a pause reason marked as exit) leaves the
    /// queues and ends all of the agent's sessions.
    pub async fn request_state(
        &self,
        agent: &AgentRow,
        request: StateRequest,
    ) -> Result<AgentState, HubError> {
        let request = match request {
            StateRequest::Paused { reason_id } => {
                let reason = self
                    .store()
                    .pause_reason(reason_id)
                    .await?
                    .ok_or_else(|| HubError::NotFound(format!("pause reason {reason_id}")))?;
                if reason.is_exit {
                    StateRequest::Exit
                } else {
                    let _guard = self.lock_state(agent.id).await?;
                    let current = self.agent_state(agent.id).await?;
                    if matches!(current, AgentState::LoggedOut { .. }) {
                        return Err(HubError::SessionExpired);
                    }
                    self.pbx_pause(agent, Some(&reason.name)).await?;
                    return self
                        .record_state(
                            agent,
                            AgentState::Paused {
                                reason,
                                since: self.now(),
                            },
                        )
                        .await;
                }
            }
            other => other,
        };
        match request {
            StateRequest::Available => {
                let _guard = self.lock_state(agent.id).await?;
                let current = self.agent_state(agent.id).await?;
                match current {
                    AgentState::LoggedOut { .. } => Err(HubError::SessionExpired),
                    AgentState::Available { .. } | AgentState::OnCall { .. } => Ok(current),
                    AgentState::Paused { .. } => {
                        self.pbx_pause(agent, None).await?;
                        self.record_state(agent, AgentState::Available { since: self.now() })
                            .await
                    }
                }
            }
            StateRequest::Exit | StateRequest::Paused { .. } => {
                // Sessions end first, so streams that see the logged_out event close at once.
                self.store().delete_agent_sessions(agent.id).await?;
                self.log_out_agent(agent).await?;
                self.agent_state(agent.id).await
            }
        }
    }

    /// A call of the agent changed (from the PBX): record its latest facts; when it entered a
    /// new phase (`announce`), publish it once and move the agent to on_call while it talks
    /// (back to available after, unless it paused meanwhile). A dial attempt is not a call: it
    /// is published once as `dial_failed` and neither recorded nor counted as a call.
    pub(crate) async fn call_changed(
        &self,
        agent_id: i64,
        call: &CallUpdate,
        announce: bool,
    ) -> Result<(), HubError> {
        let Some(agent) = self.store().agent_by_id(agent_id).await? else {
            return Ok(());
        };
        let hangup_cause = call
            .hangup_cause
            .as_ref()
            .map(|(code, text)| api::HangupCause {
                code: *code,
                text: text.clone(),
            });
        let state = match call.state {
            CallPhase::Ringing => "ringing",
            CallPhase::Answered => "answered",
            CallPhase::Ended => "ended",
            CallPhase::Failed { reason } => {
                if announce {
                    let event = HubEvent::DialFailed(DialFailed {
                        attempt: HubDialAttempt {
                            id: call.id.clone(),
                            number: call.other_number.clone(),
                            reason,
                            local_number: Some(agent.extension.clone()),
                            started_at: call.ringing_at,
                            ended_at: call.ended_at,
                            hangup_cause,
                        },
                    });
                    self.events()
                        .append_event(Some(agent_id), &event, self.now())
                        .await?;
                }
                return Ok(());
            }
        };
        self.store()
            .upsert_call(&CallRow {
                call_id: call.id.clone(),
                agent_id,
                direction: if call.incoming {
                    "incoming"
                } else {
                    "outgoing"
                }
                .into(),
                other_number: call.other_number.clone(),
                state: state.into(),
                ringing_at: call.ringing_at,
                answered_at: call.answered_at,
                ended_at: call.ended_at,
                duration_seconds: i64::from(call.duration_seconds),
            })
            .await?;
        if !announce {
            return Ok(());
        }
        let changed = CallChanged {
            call: api::HubCall {
                id: call.id.clone(),
                direction: if call.incoming {
                    HubCallDirection::Incoming
                } else {
                    HubCallDirection::Outgoing
                },
                other_number: call.other_number.clone(),
                other_name: call.other_name.clone(),
                ringing_at: call.ringing_at,
                answered_at: call.answered_at,
                ended_at: call.ended_at,
                duration_seconds: call.duration_seconds,
                hangup_cause,
                local_number: Some(agent.extension.clone()),
            },
        };
        let event = match call.state {
            CallPhase::Ringing => HubEvent::CallRinging(changed),
            CallPhase::Answered => HubEvent::CallAnswered(changed),
            _ => HubEvent::CallEnded(changed),
        };
        let at = self.now();
        self.events()
            .append_event(Some(agent_id), &event, at)
            .await?;
        let _guard = self.lock_state(agent_id).await?;
        let current = self.agent_state(agent_id).await?;
        match (call.state, current) {
            (CallPhase::Answered, AgentState::Available { .. }) => {
                self.record_state(&agent, AgentState::OnCall { since: at })
                    .await?;
            }
            (CallPhase::Ended, AgentState::OnCall { .. }) => {
                self.record_state(&agent, AgentState::Available { since: at })
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A change made on the PBX, not through the hub (the phone's DND key, a supervisor
    /// console, another AMI client): the agent's state follows it at once and the
    /// `agent_state` event says `"source": "phone"`. Changes that already match the hub's
    /// state are ignored; an agent logged out of the hub is left alone, and so is a state
    /// entered after the hub saw the PBX's change (`seen`, hub clock): the newer change wins.
    pub(crate) async fn pbx_member_changed(
        &self,
        agent_id: i64,
        change: MemberChange,
        seen: i64,
    ) -> Result<(), HubError> {
        let Some(agent) = self.store().agent_by_id(agent_id).await? else {
            return Ok(());
        };
        let _guard = self.lock_state(agent_id).await?;
        let current = self.agent_state(agent_id).await?;
        if matches!(current, AgentState::LoggedOut { .. }) || current.since() > seen {
            return Ok(());
        }
        let now = self.now();
        let next = match change {
            MemberChange::Pause {
                paused: true,
                reason,
            } => {
                if let AgentState::Paused { reason: r, .. } = &current {
                    if r.name.eq_ignore_ascii_case(reason.trim()) || r.id == PBX_REASON_ID {
                        return Ok(());
                    }
                }
                let known = self
                    .store()
                    .pause_reasons()
                    .await?
                    .into_iter()
                    .find(|r| !r.is_exit && r.name.eq_ignore_ascii_case(reason.trim()));
                AgentState::Paused {
                    reason: known.unwrap_or_else(|| pbx_reason(reason.trim())),
                    since: now,
                }
            }
            MemberChange::Pause { paused: false, .. } => match current {
                AgentState::Paused { .. } => AgentState::Available { since: now },
                _ => return Ok(()),
            },
            MemberChange::Removed { queue, still_in } => {
                if !agent.queues.contains(&queue) || still_in != Some(false) {
                    return Ok(());
                }
                AgentState::LoggedOut { since: now }
            }
        };
        tracing::info!(
            agent_id,
            state = next.name(),
            "agent state changed on the PBX"
        );
        self.record_state_from(&agent, next, Some(StateSource::Phone))
            .await?;
        Ok(())
    }

    /// Emits `pause_budget_exceeded` once per pause that outlived its reason's budget.
    pub(crate) async fn check_budgets(&self) -> Result<(), HubError> {
        let now = self.now();
        let mut current_pauses = HashSet::new();
        for agent in self.store().agents().await? {
            let Some(row) = self.store().current_state(agent.id).await? else {
                continue;
            };
            current_pauses.insert(row.id);
            if row.state != "paused" {
                continue;
            }
            let Some(reason) = (match row.reason_id {
                Some(id) => self.store().pause_reason(id).await?,
                None => None,
            }) else {
                continue;
            };
            let Some(budget) = reason.budget_seconds else {
                continue;
            };
            if now.saturating_sub(row.at) <= budget.saturating_mul(1000) {
                continue;
            }
            let first = self
                .inner
                .budget_warned
                .lock()
                .map(|mut warned| warned.insert(row.id))
                .unwrap_or(false);
            if !first {
                continue;
            }
            let event = HubEvent::PauseBudgetExceeded(PauseBudgetExceeded {
                agent: Some(agent_api(&agent)),
                reason: reason_api(&reason),
                since: row.at,
                over_seconds: (now - row.at) / 1000 - budget,
            });
            self.events()
                .append_event(Some(agent.id), &event, now)
                .await?;
        }
        // Pauses that ended need no memory.
        if let Ok(mut warned) = self.inner.budget_warned.lock() {
            warned.retain(|id| current_pauses.contains(id));
        }
        Ok(())
    }

    /// Agents that are logged in without a live session, or disabled, are logged out.
    pub(crate) async fn reconcile_logins(&self) -> Result<(), HubError> {
        let now = self.now();
        for agent in self.store().agents().await? {
            if matches!(
                self.agent_state(agent.id).await?,
                AgentState::LoggedOut { .. }
            ) {
                continue;
            }
            if agent.disabled {
                self.store().delete_agent_sessions(agent.id).await?;
            }
            if self.store().count_agent_sessions(agent.id, now).await? == 0 {
                self.log_out_agent(&agent).await?;
            }
        }
        Ok(())
    }

    /// Every agent with its state (for supervisors).
    pub async fn agents_overview(&self) -> Result<Vec<(AgentRow, AgentState)>, HubError> {
        let mut out = Vec::new();
        for agent in self.store().agents().await? {
            let state = self.agent_state(agent.id).await?;
            out.push((agent, state));
        }
        Ok(out)
    }

    /// Calls and pause time of the agent since `since` (ms).
    pub async fn day_summary(&self, agent_id: i64, since: i64) -> Result<DaySummary, HubError> {
        let now = self.now();
        let calls = self.store().calls_since(agent_id, since).await?;
        let mut summary = DaySummary {
            since,
            calls_in: 0,
            calls_out: 0,
            talk_seconds: 0,
            pauses: Vec::new(),
        };
        for call in &calls {
            if call.direction == "incoming" {
                summary.calls_in += 1;
            } else {
                summary.calls_out += 1;
            }
            summary.talk_seconds += match (call.state.as_str(), call.answered_at) {
                // A clock that jumped back must not make talk time negative.
                ("answered", Some(answered)) => (now - answered).max(0) / 1000,
                _ => call.duration_seconds,
            };
        }
        let states = self.store().states_since(agent_id, since).await?;
        for (i, row) in states.iter().enumerate() {
            if row.state != "paused" {
                continue;
            }
            let Some(reason_id) = row.reason_id else {
                continue;
            };
            let start = row.at.max(since);
            let end = states.get(i + 1).map(|next| next.at).unwrap_or(now);
            let seconds = (end - start).max(0) / 1000;
            if let Some(entry) = summary.pauses.iter_mut().find(|(r, _)| r.id == reason_id) {
                entry.1 += seconds;
            } else if let Some(reason) = self.store().pause_reason(reason_id).await? {
                summary.pauses.push((reason, seconds));
            }
        }
        Ok(summary)
    }
}
