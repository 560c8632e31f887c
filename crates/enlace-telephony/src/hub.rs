//! The hub line: the organization's PBX seen through `enlace-hub`. The agent talks on its own
//! desk phone or softphone registered to the PBX; this line only watches and dials.
//!
//! In the app the stream belongs to the login session's `HubFeed` (enlace-app), which turns
//! call events into records with a [`HubCallTracker`] (the rules below) and starts this line
//! with [`HubLineConfig::follow_stream`] `false`: it then only dials. Followed by the line
//! itself (`true`), as described here:
//!
//! - Calls come from the hub's stream (`call_ringing` / `call_answered` / `call_ended`) and
//!   become [`LineEvent::Call`] records whose `line_call_id` is the hub's call id (Asterisk's
//!   Linkedid); our record id comes from the [`CallIdSource`] and stays the same for a call.
//!   The record's `local_number` is the agent's extension the hub names (`localNumber`).
//! - Agents' states (`agent_state`, and `pause_budget_exceeded`) become
//!   [`LineEvent::AgentState`]: the agent's own and, on a supervisor's stream, everyone's.
//! - The status is `Online` while the stream is connected and `Offline` while it is not; the
//!   stream resumes after the last event id, so calls that changed meanwhile are not lost.
//!   After each burst of events the line sends [`LineEvent::HubCursor`]: a later line started
//!   with that id as [`HubLineConfig::after`] and the calls stored so far as
//!   [`HubLineConfig::known_calls`] continues exactly where this one stopped (a call this line
//!   left open keeps its record id; a call already ended is not reported twice).
//! - When the hub says it pruned events this line had not read (`stream_truncated`, only
//!   possible for a line resuming from a cursor), the calls the line had open are reported
//!   ended as `line_lost` but stay resumable (an event of one that is still kept continues its
//!   record), and [`LineEvent::HubTruncated`] asks the app to read the agent's state and day
//!   again. A line started without a cursor expects the notice and ignores it.
//! - Dialing is the hub's click-to-dial (`POST /api/v1/calls`, on a blocking thread): the PBX
//!   rings the agent's phone first, then the number.
//! - Answer, reject and hang-up are done on the agent's phone: they fail with
//!   [`LineError::Refused`] ("not supported by the hub line").

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use enlace_core::{
    CallDirection, CallRecord, CallStatus, Clock, DialTarget, EndReason, LogState, Timestamp,
};
use enlace_hub_client::api::HubEvent as ApiEvent;
use enlace_hub_client::{
    Agent, AgentState, DialOutcome, HangupCause, HubCall, HubCallDirection, HubCallPhase,
    HubClient, HubDialAttempt, HubDialFailure, HubError, HubEvent, StreamEvent, StreamOptions,
};
use enlace_secrets::Sensitive;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::calls::CallIdSource;
use crate::error::{check_dial_string, LineError};
use crate::{LineEvent, LineStatus};

/// How many ended hub call ids are remembered (late events for them are ignored).
const ENDED_MEMORY: usize = 64;

/// An agent's new state at the hub, as the hub line reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUpdate {
    /// Who; `None` when the hub did not name the agent (then it is the line's own agent).
    pub agent: Option<Agent>,
    pub state: AgentState,
    /// From `pause_budget_exceeded`: `state` is a pause that ran past its reason's budget.
    pub over_budget: bool,
}

/// Settings of a hub line: the hub and the agent's session token.
#[derive(Clone)]
pub struct HubLineConfig {
    pub client: HubClient,
    pub token: Sensitive<String>,
    /// Resume the stream after this event id (persist [`HubLine::last_event_id`] to use it).
    /// `None`: the hub's retained log is read to learn the calls' state, but only changes
    /// stamped at or after the line's start are reported (older calls are history).
    pub after: Option<u64>,
    /// Recent calls an earlier line reported (from the store), matched by `line_call_id`:
    /// events of a call that is still open or ended as `line_lost` continue that record (same
    /// id); events of a call that ended otherwise are not reported again.
    pub known_calls: Vec<CallRecord>,
    /// `true`: the line follows the hub's stream itself. `false`: the app's `HubFeed` owns
    /// the stream and turns call events into records with a [`HubCallTracker`]; the line only
    /// dials, and is online from the start (the feed reports the stream's connection).
    pub follow_stream: bool,
}

impl HubLineConfig {
    pub fn new(client: HubClient, token: Sensitive<String>) -> HubLineConfig {
        HubLineConfig {
            client,
            token,
            after: None,
            known_calls: Vec::new(),
            follow_stream: true,
        }
    }
}

impl std::fmt::Debug for HubLineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubLineConfig")
            .field("hub", &self.client.base_url())
            .field("token", &"<redacted>")
            .field("after", &self.after)
            .field("known_calls", &self.known_calls.len())
            .finish()
    }
}

impl PartialEq for HubLineConfig {
    fn eq(&self, other: &Self) -> bool {
        self.client == other.client
            && self.token.expose() == other.token.expose()
            && self.after == other.after
            && self.known_calls == other.known_calls
            && self.follow_stream == other.follow_stream
    }
}

impl Eq for HubLineConfig {}

/// A phone line whose calls are the agent's PBX calls, reported by the hub.
pub struct HubLine {
    client: HubClient,
    token: Sensitive<String>,
    status: watch::Receiver<LineStatus>,
    last: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HubLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubLine")
            .field("hub", &self.client.base_url())
            .field("status", &*self.status.borrow())
            .field("last_event_id", &self.last_event_id())
            .finish_non_exhaustive()
    }
}

impl HubLine {
    /// Starts following the hub's stream (must run inside a Tokio runtime). Events go to
    /// `events`; the first is `Status(Connecting)`.
    pub fn start(
        config: HubLineConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
        events: mpsc::Sender<LineEvent>,
    ) -> HubLine {
        Self::start_with(config, StreamOptions::default(), clock, ids, events)
    }

    /// [`HubLine::start`] with explicit stream back-off and liveness settings.
    pub fn start_with(
        config: HubLineConfig,
        options: StreamOptions,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
        events: mpsc::Sender<LineEvent>,
    ) -> HubLine {
        if !config.follow_stream {
            // The feed that follows the stream reports the connection.
            drop(events);
            let (_, status) = watch::channel(LineStatus::Online);
            return HubLine {
                client: config.client,
                token: config.token,
                status,
                last: Arc::new(AtomicU64::new(config.after.unwrap_or(0))),
                stop: None,
                task: None,
            };
        }
        let (status_tx, status_rx) = watch::channel(LineStatus::Connecting);
        let _ = events.try_send(LineEvent::Status(LineStatus::Connecting));
        let last = Arc::new(AtomicU64::new(config.after.unwrap_or(0)));
        let (stop_tx, stop_rx) = oneshot::channel();
        let report_from = match config.after {
            Some(_) => None,
            None => Some(clock.now().0),
        };
        let mut calls = HubCalls::new(clock, ids, report_from);
        calls.know(config.known_calls);
        let follower = Follower {
            calls,
            events,
            status: status_tx,
            last: last.clone(),
        };
        let stream = config
            .client
            .stream_with(&config.token, config.after, options);
        let task = tokio::spawn(follower.run(stream, stop_rx));
        HubLine {
            client: config.client,
            token: config.token,
            status: status_rx,
            last,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    pub fn status(&self) -> LineStatus {
        self.status.borrow().clone()
    }

    /// Id of the last hub event processed (persist it to resume with [`HubLineConfig::after`]).
    pub fn last_event_id(&self) -> Option<u64> {
        match self.last.load(Ordering::SeqCst) {
            0 => None,
            id => Some(id),
        }
    }

    /// Click-to-dial through the hub. `Ok` once the agent's phone answered and the PBX is
    /// calling the number; the call itself arrives as [`LineEvent::Call`].
    pub async fn dial(&self, target: &DialTarget) -> Result<(), LineError> {
        let number = target.dial_string().to_owned();
        check_dial_string(&number)?;
        let (client, token, n) = (self.client.clone(), self.token.clone(), number.clone());
        let outcome = tokio::task::spawn_blocking(move || client.dial(&token, &n))
            .await
            .map_err(|e| LineError::Offline(format!("dial task failed: {e}")))?;
        let refused = |detail: String| LineError::Refused {
            command: "dial".into(),
            detail,
        };
        match outcome {
            Ok(DialOutcome::Answered) => Ok(()),
            Ok(DialOutcome::NoAnswer) => Err(refused("your phone did not answer".into())),
            Ok(DialOutcome::Busy) => Err(refused("your phone is busy".into())),
            Ok(DialOutcome::Failed { reason }) => Err(refused(reason)),
            Err(e) => Err(dial_error(e, &number)),
        }
    }

    /// Not possible here: the agent answers on its own phone.
    pub async fn answer(&self, _line_call_id: &str) -> Result<(), LineError> {
        Err(unsupported("answer"))
    }

    /// Not possible here: the agent rejects on its own phone.
    pub async fn reject(&self, _line_call_id: &str) -> Result<(), LineError> {
        Err(unsupported("reject"))
    }

    /// Not possible here: the agent hangs up on its own phone.
    pub async fn hangup(&self, _line_call_id: &str) -> Result<(), LineError> {
        Err(unsupported("hangup"))
    }

    /// Stops following the hub. Open calls are reported ended as [`EndReason::LineLost`] (a
    /// later line resuming from [`HubLine::last_event_id`] reports their real end).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HubLine {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn unsupported(command: &str) -> LineError {
    LineError::Refused {
        command: command.into(),
        detail: "not supported by the hub line: use your phone".into(),
    }
}

fn dial_error(e: HubError, number: &str) -> LineError {
    match e {
        HubError::InvalidRequest(_) => LineError::InvalidTarget(number.to_owned()),
        HubError::Unreachable(_)
        | HubError::PbxOffline(_)
        | HubError::SessionExpired
        | HubError::AgentDisabled => LineError::Offline(e.to_string()),
        other => LineError::Refused {
            command: "dial".into(),
            detail: other.to_string(),
        },
    }
}

/// The task: hub stream in, line events out.
struct Follower {
    calls: HubCalls,
    events: mpsc::Sender<LineEvent>,
    status: watch::Sender<LineStatus>,
    last: Arc<AtomicU64>,
}

impl Follower {
    async fn run(
        mut self,
        mut stream: enlace_hub_client::HubStream,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut streaming = true;
        // A non-event read while draining a burst; handled next.
        let mut pending: Option<HubEvent> = None;
        loop {
            let next = match pending.take() {
                Some(event) => Some(event),
                None => tokio::select! {
                    _ = &mut stop => break,
                    next = stream.next(), if streaming => next,
                },
            };
            match next {
                None => streaming = false,
                Some(HubEvent::Online) => self.set_status(LineStatus::Online).await,
                Some(HubEvent::Offline { reason }) => {
                    self.set_status(LineStatus::Offline {
                        reason: format!("the hub is not reachable: {reason}"),
                    })
                    .await;
                }
                Some(HubEvent::SessionEnded) => {
                    self.set_status(LineStatus::Offline {
                        reason: "the hub session ended; log in again".into(),
                    })
                    .await;
                }
                Some(HubEvent::Truncated { .. }) => self.truncated().await,
                Some(HubEvent::Event(event)) => {
                    self.handle(&event).await;
                    // A burst (the replay after connecting) ends with one cursor.
                    let mut last = event.id;
                    loop {
                        match stream.try_next() {
                            Some(HubEvent::Event(more)) => {
                                self.handle(&more).await;
                                last = more.id;
                            }
                            Some(other) => {
                                pending = Some(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    let _ = self.events.send(LineEvent::HubCursor(last)).await;
                }
            }
        }
        drop(stream);
        for record in self.calls.close_all(EndReason::LineLost) {
            let _ = self.events.send(LineEvent::Call(record)).await;
        }
        self.set_status(LineStatus::Offline {
            reason: "the hub line stopped".into(),
        })
        .await;
    }

    /// The hub pruned events after our cursor. A line that never had a cursor (it reads what
    /// the hub keeps, from the start) expects this; one that had reads it as lost state.
    async fn truncated(&mut self) {
        if self.last.load(Ordering::SeqCst) == 0 {
            tracing::debug!("hub line: older events were pruned before this line started");
            return;
        }
        tracing::warn!("hub line: events were pruned before this line read them");
        for record in self.calls.lose_open() {
            let _ = self.events.send(LineEvent::Call(record)).await;
        }
        let _ = self.events.send(LineEvent::HubTruncated).await;
    }

    /// One hub event: its line event (if any) out, then its id recorded.
    async fn handle(&mut self, event: &StreamEvent) {
        let out = match &event.event {
            ApiEvent::CallRinging(_) | ApiEvent::CallAnswered(_) | ApiEvent::CallEnded(_) => event
                .event
                .call()
                .and_then(|(phase, call)| self.calls.apply(event.at, phase, call))
                .map(LineEvent::Call),
            ApiEvent::DialFailed(failed) => self
                .calls
                .attempt(event.at, &failed.attempt)
                .map(LineEvent::Call),
            ApiEvent::AgentState(changed) => Some(LineEvent::AgentState(AgentUpdate {
                agent: changed.agent.clone(),
                state: changed.state.clone(),
                over_budget: false,
            })),
            ApiEvent::PauseBudgetExceeded(over) => Some(LineEvent::AgentState(AgentUpdate {
                agent: over.agent.clone(),
                state: AgentState {
                    kind: enlace_hub_client::AgentStateKind::Paused,
                    since: over.since,
                    reason: Some(over.reason.clone()),
                },
                over_budget: true,
            })),
            // Not the line's (chats, the stream's own notices) or unknown to this desktop (a
            // newer hub): acknowledged on purpose, its id is recorded below like any other.
            _ => {
                tracing::debug!(kind = %event.kind, "hub line: event not for the line");
                None
            }
        };
        if let Some(out) = out {
            let _ = self.events.send(out).await;
        }
        self.last.store(event.id, Ordering::SeqCst);
    }

    async fn set_status(&mut self, status: LineStatus) {
        if *self.status.borrow() == status {
            return;
        }
        self.status.send_replace(status.clone());
        let _ = self.events.send(LineEvent::Status(status)).await;
    }
}

/// The hub's call events turned into [`CallRecord`]s for whoever follows the stream (the
/// app's `HubFeed`), with the same rules as the line's own follower: a record id per call
/// that stays the same, known calls continued or kept quiet, a resumed stream's calls
/// reported, a fresh one's history not.
pub struct HubCallTracker {
    calls: HubCalls,
}

impl std::fmt::Debug for HubCallTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubCallTracker")
            .field("open", &self.calls.open.len())
            .finish_non_exhaustive()
    }
}

impl HubCallTracker {
    /// `after`: the cursor the stream resumes from (`None`: only changes stamped from now on
    /// are reported); `known_calls`: the calls stored so far (see [`HubLineConfig`]).
    pub fn new(
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
        after: Option<u64>,
        known_calls: Vec<CallRecord>,
    ) -> HubCallTracker {
        let report_from = match after {
            Some(_) => None,
            None => Some(clock.now().0),
        };
        let mut calls = HubCalls::new(clock, ids, report_from);
        calls.know(known_calls);
        HubCallTracker { calls }
    }

    /// The record a call or dial-attempt event changes, if any (`None` for other events).
    pub fn event(&mut self, event: &StreamEvent) -> Option<CallRecord> {
        match &event.event {
            ApiEvent::DialFailed(failed) => self.calls.attempt(event.at, &failed.attempt),
            other => other
                .call()
                .and_then(|(phase, call)| self.calls.apply(event.at, phase, call)),
        }
    }

    /// The hub pruned events not read yet: the open calls, ended as `line_lost` (resumable).
    pub fn lose_open(&mut self) -> Vec<CallRecord> {
        self.calls.lose_open()
    }

    /// The stream is left for good (logout): the open calls, ended with `reason`.
    pub fn close_all(&mut self, reason: EndReason) -> Vec<CallRecord> {
        self.calls.close_all(reason)
    }
}

/// The agent's calls as [`CallRecord`]s, keyed by the hub's call id. Pure (no I/O).
pub(crate) struct HubCalls {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn CallIdSource>,
    open: HashMap<String, CallRecord>,
    /// Records of an earlier line whose calls may still change, by hub call id.
    resumable: HashMap<String, CallRecord>,
    ended: VecDeque<String>,
    /// Changes stamped before this instant (ms, hub clock) update state silently.
    report_from: Option<i64>,
}

impl HubCalls {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
        report_from: Option<i64>,
    ) -> HubCalls {
        HubCalls {
            clock,
            ids,
            open: HashMap::new(),
            resumable: HashMap::new(),
            ended: VecDeque::new(),
            report_from,
        }
    }

    /// Calls an earlier line reported: open or lost ones continue with their record, ended
    /// ones are not reported again.
    pub(crate) fn know(&mut self, calls: Vec<CallRecord>) {
        for record in calls {
            if record.line_call_id.is_empty() {
                continue;
            }
            let continues = match record.status {
                CallStatus::Ended => record.end_reason == Some(EndReason::LineLost),
                _ => true,
            };
            if continues {
                self.resumable.insert(record.line_call_id.clone(), record);
            } else if !self.ended.contains(&record.line_call_id) {
                self.remember_ended(&record.line_call_id);
            }
        }
    }

    /// Applies one call event (stamped `at` by the hub); returns the record if it changed and
    /// is to be reported.
    pub(crate) fn apply(
        &mut self,
        at: i64,
        phase: HubCallPhase,
        call: &HubCall,
    ) -> Option<CallRecord> {
        if self.ended.iter().any(|id| *id == call.id) {
            return None;
        }
        let created = !self.open.contains_key(&call.id);
        if created {
            let record = match self.resumable.remove(&call.id) {
                Some(known) => reopen(known),
                None => new_record(self.ids.as_ref(), call),
            };
            self.open.insert(call.id.clone(), record);
        }
        let record = self.open.get_mut(&call.id)?;
        let before = record.clone();
        if record.peer_display_name.is_none() {
            record.peer_display_name.clone_from(&call.other_name);
        }
        if record.peer_number.is_empty() {
            record.peer_number.clone_from(&call.other_number);
        }
        if record.local_number.is_none() {
            record.local_number.clone_from(&call.local_number);
        }
        let answered_at = call
            .answered_at
            .or((phase == HubCallPhase::Answered).then_some(at));
        if record.answered_at.is_none() {
            record.answered_at = answered_at.map(Timestamp);
        }
        let report = self.report_from.is_none_or(|from| at >= from);
        match phase {
            HubCallPhase::Ringing => {}
            HubCallPhase::Answered => {
                let record = self.open.get_mut(&call.id)?;
                record.status = CallStatus::Answered;
            }
            HubCallPhase::Ended => {
                let mut record = self.open.remove(&call.id)?;
                record.status = CallStatus::Ended;
                record.ended_at = Some(Timestamp(call.ended_at.unwrap_or(at)));
                record.end_reason = Some(end_reason(
                    record.direction,
                    record.answered_at.is_some(),
                    call.hangup_cause.as_ref(),
                ));
                self.remember_ended(&call.id);
                return report.then_some(record);
            }
        }
        let record = self.open.get(&call.id)?;
        (report && (created || *record != before)).then(|| record.clone())
    }

    /// A click-to-dial the agent's phone never answered (`dial_failed`): one ended outgoing
    /// record that was never answered, whose end reason says why (busy, no answer, refused,
    /// unreachable). Reported once.
    pub(crate) fn attempt(&mut self, at: i64, attempt: &HubDialAttempt) -> Option<CallRecord> {
        if self.ended.iter().any(|id| *id == attempt.id) || self.open.contains_key(&attempt.id) {
            return None;
        }
        self.remember_ended(&attempt.id);
        if self.report_from.is_some_and(|from| at < from) {
            return None;
        }
        Some(CallRecord {
            id: self.ids.next_id(),
            line_call_id: attempt.id.clone(),
            direction: CallDirection::Outgoing,
            peer_number: attempt.number.clone(),
            peer_display_name: None,
            local_number: attempt.local_number.clone(),
            status: CallStatus::Ended,
            started_at: Timestamp(attempt.started_at),
            answered_at: None,
            ended_at: Some(Timestamp(attempt.ended_at.unwrap_or(at))),
            end_reason: Some(match attempt.reason {
                HubDialFailure::Busy => EndReason::Busy,
                HubDialFailure::NoAnswer => EndReason::NoAnswer,
                HubDialFailure::Refused => EndReason::Rejected,
                HubDialFailure::Unreachable => EndReason::Failed("unreachable".into()),
                HubDialFailure::Other => EndReason::Failed("dial failed".into()),
            }),
            log_state: LogState::Pending,
        })
    }

    /// Every open call ends with `reason` (the line stopped).
    pub(crate) fn close_all(&mut self, reason: EndReason) -> Vec<CallRecord> {
        let now = self.clock.now();
        let mut closed: Vec<(String, CallRecord)> = self.open.drain().collect();
        closed.sort_by_key(|(_, r)| r.started_at);
        closed
            .into_iter()
            .map(|(id, mut record)| {
                self.remember_ended(&id);
                record.status = CallStatus::Ended;
                record.ended_at = Some(now);
                record.end_reason = Some(reason.clone());
                record
            })
            .collect()
    }

    /// Every open call ends as `line_lost` (its events may be gone) but stays resumable: a
    /// later event of the same call continues its record.
    pub(crate) fn lose_open(&mut self) -> Vec<CallRecord> {
        let now = self.clock.now();
        let mut lost: Vec<(String, CallRecord)> = self.open.drain().collect();
        lost.sort_by_key(|(_, r)| r.started_at);
        lost.into_iter()
            .map(|(id, mut record)| {
                record.status = CallStatus::Ended;
                record.ended_at = Some(now);
                record.end_reason = Some(EndReason::LineLost);
                self.resumable.insert(id, record.clone());
                record
            })
            .collect()
    }

    fn remember_ended(&mut self, id: &str) {
        if self.ended.len() >= ENDED_MEMORY {
            self.ended.pop_front();
        }
        self.ended.push_back(id.to_owned());
    }
}

fn new_record(ids: &dyn CallIdSource, call: &HubCall) -> CallRecord {
    CallRecord {
        id: ids.next_id(),
        line_call_id: call.id.clone(),
        direction: match call.direction {
            HubCallDirection::Incoming => CallDirection::Incoming,
            HubCallDirection::Outgoing => CallDirection::Outgoing,
        },
        peer_number: call.other_number.clone(),
        peer_display_name: call.other_name.clone(),
        local_number: call.local_number.clone(),
        status: CallStatus::Ringing,
        started_at: Timestamp(call.ringing_at),
        answered_at: None,
        ended_at: None,
        end_reason: None,
        log_state: LogState::Pending,
    }
}

/// A record an earlier line left open (or closed as lost) becomes open again; the event
/// being applied sets its phase.
fn reopen(mut record: CallRecord) -> CallRecord {
    record.status = if record.answered_at.is_some() {
        CallStatus::Answered
    } else {
        CallStatus::Ringing
    };
    record.ended_at = None;
    record.end_reason = None;
    record
}

/// Why a hub call ended, from whether it was answered and its Q.850 cause.
pub(crate) fn end_reason(
    direction: CallDirection,
    answered: bool,
    cause: Option<&HangupCause>,
) -> EndReason {
    if answered {
        return EndReason::Completed;
    }
    match cause.map(|c| c.code) {
        Some(17) => EndReason::Busy,
        Some(21) if direction == CallDirection::Incoming => EndReason::Rejected,
        None | Some(0 | 16 | 18 | 19 | 31) => EndReason::NoAnswer,
        Some(code) => {
            let text = cause.map(|c| c.text.trim()).unwrap_or_default();
            EndReason::Failed(if text.is_empty() {
                format!("cause {code}")
            } else {
                format!("{code} {text}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::RandomCallIds;
    use enlace_core::SystemClock;

    fn call(id: &str, answered: Option<i64>, ended: Option<i64>, cause: Option<u32>) -> HubCall {
        HubCall {
            id: id.into(),
            direction: HubCallDirection::Incoming,
            other_number: "5215512345678".into(),
            other_name: Some("Cliente".into()),
            ringing_at: 100,
            answered_at: answered,
            ended_at: ended,
            duration_seconds: 0,
            hangup_cause: cause.map(|code| HangupCause {
                code,
                text: "x".into(),
            }),
            local_number: Some("1001".into()),
        }
    }

    fn calls(report_from: Option<i64>) -> HubCalls {
        HubCalls::new(
            Arc::new(SystemClock),
            Arc::new(RandomCallIds::default()),
            report_from,
        )
    }

    #[test]
    fn a_dial_attempt_is_one_ended_unanswered_record_with_its_reason() {
        let attempt = |id: &str, reason: HubDialFailure| HubDialAttempt {
            id: id.into(),
            number: "5551234".into(),
            reason,
            local_number: Some("1001".into()),
            started_at: 100,
            ended_at: Some(130),
            hangup_cause: None,
        };
        let mut c = calls(None);
        let busy = c.attempt(130, &attempt("a", HubDialFailure::Busy)).unwrap();
        assert_eq!(busy.direction, CallDirection::Outgoing);
        assert_eq!(busy.status, CallStatus::Ended);
        assert_eq!(busy.answered_at, None);
        assert_eq!(busy.peer_number, "5551234");
        assert_eq!(busy.ended_at, Some(Timestamp(130)));
        assert_eq!(busy.end_reason, Some(EndReason::Busy));
        assert!(c
            .attempt(131, &attempt("a", HubDialFailure::Busy))
            .is_none());
        for (reason, end) in [
            (HubDialFailure::NoAnswer, EndReason::NoAnswer),
            (HubDialFailure::Refused, EndReason::Rejected),
            (
                HubDialFailure::Unreachable,
                EndReason::Failed("unreachable".into()),
            ),
        ] {
            let id = format!("{reason:?}");
            let record = c.attempt(130, &attempt(&id, reason)).unwrap();
            assert_eq!(record.end_reason, Some(end));
        }
        // Before the line's start: history, not reported.
        let mut late = calls(Some(1_000));
        assert!(late
            .attempt(130, &attempt("b", HubDialFailure::Busy))
            .is_none());
    }

    #[test]
    fn a_call_keeps_one_record_and_repeats_are_not_reported() {
        let mut c = calls(None);
        let ringing = c
            .apply(100, HubCallPhase::Ringing, &call("a", None, None, None))
            .unwrap();
        assert_eq!(ringing.status, CallStatus::Ringing);
        assert_eq!(ringing.line_call_id, "a");
        assert_eq!(ringing.started_at, Timestamp(100));
        assert!(c
            .apply(101, HubCallPhase::Ringing, &call("a", None, None, None))
            .is_none());
        let answered = c
            .apply(
                150,
                HubCallPhase::Answered,
                &call("a", Some(150), None, None),
            )
            .unwrap();
        assert_eq!(answered.id, ringing.id);
        assert_eq!(answered.answered_at, Some(Timestamp(150)));
        assert!(c
            .apply(
                151,
                HubCallPhase::Answered,
                &call("a", Some(150), None, None)
            )
            .is_none());
        let ended = c
            .apply(
                900,
                HubCallPhase::Ended,
                &call("a", Some(150), Some(900), Some(16)),
            )
            .unwrap();
        assert_eq!(ended.id, ringing.id);
        assert_eq!(ended.end_reason, Some(EndReason::Completed));
        assert_eq!(ended.ended_at, Some(Timestamp(900)));
        // Late events of an ended call are ignored.
        assert!(c
            .apply(
                901,
                HubCallPhase::Ended,
                &call("a", Some(150), Some(900), None)
            )
            .is_none());
        assert!(c.close_all(EndReason::LineLost).is_empty());
    }

    #[test]
    fn history_before_the_start_is_read_but_not_reported() {
        let mut c = calls(Some(1000));
        // Ended before the start: nothing.
        assert!(c
            .apply(100, HubCallPhase::Ringing, &call("old", None, None, None))
            .is_none());
        assert!(c
            .apply(
                200,
                HubCallPhase::Ended,
                &call("old", None, Some(200), Some(19))
            )
            .is_none());
        // Ringing before, answered after: reported from its next change, with one id.
        assert!(c
            .apply(900, HubCallPhase::Ringing, &call("open", None, None, None))
            .is_none());
        let answered = c
            .apply(
                1100,
                HubCallPhase::Answered,
                &call("open", Some(1100), None, None),
            )
            .unwrap();
        assert_eq!(answered.status, CallStatus::Answered);
        let lost = c.close_all(EndReason::LineLost);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].id, answered.id);
        assert_eq!(lost[0].end_reason, Some(EndReason::LineLost));
    }

    #[test]
    fn the_local_party_is_the_agents_extension() {
        let mut c = calls(None);
        let mut outgoing = call("o", None, None, None);
        outgoing.direction = HubCallDirection::Outgoing;
        let r = c.apply(100, HubCallPhase::Ringing, &outgoing).unwrap();
        assert_eq!(r.local_number.as_deref(), Some("1001"));
        assert_eq!(r.from_number(), Some("1001"));
        assert_eq!(r.to_number(), Some("5215512345678"));
        let mut older_hub = call("i", None, None, None);
        older_hub.local_number = None;
        let r = c.apply(100, HubCallPhase::Ringing, &older_hub).unwrap();
        assert_eq!(r.local_number, None);
    }

    #[test]
    fn known_calls_continue_or_stay_quiet() {
        let mut first = calls(None);
        first
            .apply(100, HubCallPhase::Ringing, &call("lost", None, None, None))
            .unwrap();
        let lost = first.close_all(EndReason::LineLost).pop().unwrap();
        assert_eq!(lost.end_reason, Some(EndReason::LineLost));
        first
            .apply(100, HubCallPhase::Ringing, &call("done", None, None, None))
            .unwrap();
        let done = first
            .apply(
                200,
                HubCallPhase::Ended,
                &call("done", None, Some(200), Some(19)),
            )
            .unwrap();

        // A later line told about both: the lost call goes on with its record id, the ended
        // one is not reported again.
        let mut next = calls(None);
        next.know(vec![lost.clone(), done]);
        let answered = next
            .apply(
                300,
                HubCallPhase::Answered,
                &call("lost", Some(300), None, None),
            )
            .unwrap();
        assert_eq!(answered.id, lost.id);
        assert_eq!(answered.status, CallStatus::Answered);
        assert_eq!(answered.end_reason, None);
        let ended = next
            .apply(
                400,
                HubCallPhase::Ended,
                &call("lost", Some(300), Some(400), Some(16)),
            )
            .unwrap();
        assert_eq!(
            (ended.id.clone(), ended.end_reason.clone()),
            (lost.id, Some(EndReason::Completed))
        );
        assert!(next
            .apply(
                200,
                HubCallPhase::Ended,
                &call("done", None, Some(200), Some(19))
            )
            .is_none());
    }

    #[test]
    fn calls_lost_to_a_gap_end_as_lost_and_continue_if_the_hub_still_has_them() {
        let mut c = calls(None);
        let ringing = c
            .apply(100, HubCallPhase::Ringing, &call("gap", None, None, None))
            .unwrap();
        let lost = c.lose_open();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].id, ringing.id);
        assert_eq!(lost[0].status, CallStatus::Ended);
        assert_eq!(lost[0].end_reason, Some(EndReason::LineLost));
        assert!(c.close_all(EndReason::LineLost).is_empty(), "nothing open");
        // Its end is still in the hub's log: the same record ends properly.
        let ended = c
            .apply(
                500,
                HubCallPhase::Ended,
                &call("gap", Some(200), Some(500), Some(16)),
            )
            .unwrap();
        assert_eq!(ended.id, ringing.id);
        assert_eq!(ended.end_reason, Some(EndReason::Completed));
    }

    #[test]
    fn end_reasons_follow_the_hangup_cause() {
        let cause = |code| HangupCause {
            code,
            text: "Cause".into(),
        };
        let (inc, out) = (CallDirection::Incoming, CallDirection::Outgoing);
        assert_eq!(
            end_reason(inc, true, Some(&cause(17))),
            EndReason::Completed
        );
        assert_eq!(end_reason(out, false, Some(&cause(17))), EndReason::Busy);
        assert_eq!(
            end_reason(inc, false, Some(&cause(21))),
            EndReason::Rejected
        );
        assert_eq!(
            end_reason(out, false, Some(&cause(19))),
            EndReason::NoAnswer
        );
        assert_eq!(end_reason(inc, false, None), EndReason::NoAnswer);
        assert_eq!(
            end_reason(out, false, Some(&cause(34))),
            EndReason::Failed("34 Cause".into())
        );
    }

    #[test]
    fn the_config_never_prints_the_token() {
        let client = HubClient::new("https://hub.example.com").unwrap_or_else(|e| panic!("{e}"));
        let config = HubLineConfig::new(client, Sensitive::new("s3cr3t-token".into()));
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("hub.example.com"));
        assert_eq!(config.clone(), config);
    }
}
