//! [`CallTracker`]: turns the AMI event stream into each agent's calls.
//!
//! Calls are keyed by `Linkedid` (plus agent). An agent leg is a channel whose name without the
//! `-xxxxxxxx` suffix (and `;1` of Local channels) equals an agent interface, e.g.
//! `PJSIP/1001-0000002a` ↔ `PJSIP/1001`, `Local/100@test-00000000;1` ↔ `Local/100@test`. The `;2`
//! half of a Local channel is the dialplan side and never counts as the agent leg.
//!
//! Every fact is kept with its source so that the result does not depend on event order:
//! direction from Dial/queue events (strong) or from `Uniqueid == Linkedid` (weak); the other
//! party from the caller snapshot (incoming) or the dialled extension / connected line / Cdr
//! destination (outgoing); answered from any event of the agent leg in `ChannelState: 6` (or a
//! bridge / answered dial); duration from `AgentComplete` TalkTime, else the agent leg's `Cdr`
//! BillableSeconds, else answered → ended. Unknown events are ignored; nothing panics.
//!
//! What is reported ([`CallChange`]): a call is shown once enough is known to show it — the agent
//! leg is being rung or dials (so the number is known when there is one), or it was answered or
//! ended — and each phase is announced once ([`CallChange::announce`]); later facts (a Cdr
//! duration, a better number) come as quiet updates. An Originate towards the agent (a
//! click-to-dial) is not a call until the agent's phone answers: if it never does, it is reported
//! once as [`PbxCallState::Failed`], a dial attempt with its [`DialFailure`], from the
//! `OriginateResponse` reason and the agent leg's hang-up cause.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::packet::Packet;

/// Direction seen from the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Reached the agent through Dial/Queue.
    Incoming,
    /// Placed by the agent (phone dial or Originate).
    Outgoing,
}

/// Life-cycle of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PbxCallState {
    /// The agent leg exists but is not answered.
    Ringing,
    /// The agent leg is up / bridged.
    Answered,
    /// The agent leg hung up.
    Ended,
    /// An Originate towards the agent that the agent's phone never answered: a dial attempt,
    /// not a call.
    Failed(DialFailure),
}

/// Why a dial attempt (an Originate towards the agent) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialFailure {
    /// The phone was busy (`Reason: 5`, cause 17).
    Busy,
    /// The phone rang and nobody answered (`Reason: 3`, causes 18/19).
    NoAnswer,
    /// The phone could not be reached: not registered, no route, congestion (`Reason: 0`/`8`,
    /// causes such as 1, 3, 20, 27, 34, 38).
    Unreachable,
    /// The phone declined (`Reason: 1` "hung up", cause 21).
    Refused,
}

impl DialFailure {
    /// Stable code: `busy`, `no_answer`, `unreachable`, `refused`.
    pub fn code(self) -> &'static str {
        match self {
            DialFailure::Busy => "busy",
            DialFailure::NoAnswer => "no_answer",
            DialFailure::Unreachable => "unreachable",
            DialFailure::Refused => "refused",
        }
    }

    /// From the `OriginateResponse` `Reason` (api-facts D4) and the agent leg's Q.850 hang-up
    /// cause, whichever are known; the cause wins where it is precise.
    pub fn from_reason_and_cause(reason: Option<u32>, cause: Option<u32>) -> DialFailure {
        match (cause, reason) {
            (Some(17), _) => DialFailure::Busy,
            (Some(21), _) => DialFailure::Refused,
            (Some(18 | 19), _) => DialFailure::NoAnswer,
            (_, Some(5)) => DialFailure::Busy,
            (_, Some(3)) => DialFailure::NoAnswer,
            (_, Some(1)) => DialFailure::Refused,
            (_, Some(0 | 8)) => DialFailure::Unreachable,
            // Cancelled (the originate gave up) or nothing precise known.
            (None | Some(0 | 16), _) => DialFailure::NoAnswer,
            (Some(_), _) => DialFailure::Unreachable,
        }
    }
}

/// One call the last event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallChange {
    /// The call as it is now.
    pub call: PbxCall,
    /// The call entered a phase not announced yet (or became known): announce it. `false`:
    /// only its facts changed (duration, a better number); update the record quietly.
    pub announce: bool,
}

/// One agent's view of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbxCall {
    /// `Linkedid` of the call.
    pub id: String,
    /// Agent id as given to [`CallTracker::new`].
    pub agent: String,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// The other party's number (empty when unknown).
    pub other_number: String,
    /// The other party's name, when known.
    pub other_name: Option<String>,
    /// Current state.
    pub state: PbxCallState,
    /// `now_ms` of the first event of the call.
    pub ringing_at: i64,
    /// `now_ms` when the agent leg was answered.
    pub answered_at: Option<i64>,
    /// `now_ms` when the agent leg hung up.
    pub ended_at: Option<i64>,
    /// Talk time in seconds.
    pub duration_seconds: u32,
    /// Q.850 cause and its text from the agent leg's `Hangup`.
    pub hangup_cause: Option<(u32, String)>,
}

/// Ended calls are forgotten this long after they ended (late Cdr/duplicates still merge).
const ENDED_RETENTION_MS: i64 = 10 * 60 * 1000;
/// Calls without any event for this long are forgotten (missed Hangup).
const STALE_MS: i64 = 12 * 60 * 60 * 1000;
/// Cdr events for legs not seen yet, kept for late matching.
const MAX_ORPHAN_CDRS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Weak,
    Strong,
}

#[derive(Debug, Clone, Default)]
struct Party {
    number: Option<(u8, String)>,
    name: Option<(u8, String)>,
}

impl Party {
    fn offer_number(&mut self, rank: u8, value: &str) {
        if !is_number(value) {
            return;
        }
        if self.number.as_ref().is_none_or(|(r, _)| rank > *r) {
            self.number = Some((rank, value.to_string()));
        }
    }

    fn offer_name(&mut self, rank: u8, value: &str) {
        if !is_known(value) {
            return;
        }
        if self.name.as_ref().is_none_or(|(r, _)| rank > *r) {
            self.name = Some((rank, value.to_string()));
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    linkedid: String,
    agent: String,
    own_exten: String,
    direction: Option<(Strength, Direction)>,
    incoming: Party,
    outgoing: Party,
    /// Connected-line number → name seen on the agent leg (names the outgoing party).
    connected: HashMap<String, String>,
    /// Agent legs by Uniqueid → channel name.
    legs: HashMap<String, String>,
    hung: HashSet<String>,
    first_at: i64,
    last_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    cause: Option<(u32, String)>,
    talk_time: Option<u32>,
    cdr_seconds: Option<u32>,
    /// The agent leg is being rung or dials (Dial/queue events, `ChannelState: 5`).
    rang: bool,
    /// An Originate towards the agent (Dial without a calling channel, or OriginateResponse).
    originated: bool,
    /// An `OriginateResponse` for this call was seen; with `Response: Failure`, its `Reason`.
    origin_response: bool,
    origin_reason: Option<u32>,
    /// The last phase reported as announced.
    announced: Option<Phase>,
}

/// [`PbxCallState`] without the failure's detail: what "a new phase" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered,
    Ended,
    Failed,
}

impl Phase {
    fn of(state: PbxCallState) -> Phase {
        match state {
            PbxCallState::Ringing => Phase::Ringing,
            PbxCallState::Answered => Phase::Answered,
            PbxCallState::Ended => Phase::Ended,
            PbxCallState::Failed(_) => Phase::Failed,
        }
    }
}

impl Entry {
    fn new(key: &(String, String), own_exten: &str, now_ms: i64) -> Entry {
        Entry {
            linkedid: key.0.clone(),
            agent: key.1.clone(),
            own_exten: own_exten.to_string(),
            direction: None,
            incoming: Party::default(),
            outgoing: Party::default(),
            connected: HashMap::new(),
            legs: HashMap::new(),
            hung: HashSet::new(),
            first_at: now_ms,
            last_at: now_ms,
            answered_at: None,
            ended_at: None,
            cause: None,
            talk_time: None,
            cdr_seconds: None,
            rang: false,
            originated: false,
            origin_response: false,
            origin_reason: None,
            announced: None,
        }
    }

    /// Whether enough is known to show the call (see the module documentation).
    fn ready(&self) -> bool {
        if self.originated {
            if self.answered_at.is_none() {
                // A dial attempt: shown only if it fails.
                return self.ended_at.is_some();
            }
            // Answered: wait for the dialled number (the dialplan's exten, right after the
            // answer) or the OriginateResponse.
            return self.ended_at.is_some()
                || self.origin_response
                || self
                    .outgoing
                    .number
                    .as_ref()
                    .is_some_and(|(rank, _)| *rank >= 2);
        }
        if self.rang || self.answered_at.is_some() || self.ended_at.is_some() {
            return true;
        }
        // Before any Dial: shown as soon as the other party's number is known for sure (not
        // from the connected line, which an Originate sets before its Dial is seen).
        match self.direction {
            Some((_, Direction::Incoming)) => self.incoming.number.is_some(),
            Some((_, Direction::Outgoing)) => self
                .outgoing
                .number
                .as_ref()
                .is_some_and(|(rank, _)| *rank >= 2),
            None => false,
        }
    }

    fn set_direction(&mut self, strength: Strength, direction: Direction) {
        if self.direction.is_none_or(|(s, _)| strength > s) {
            self.direction = Some((strength, direction));
        }
    }

    fn snapshot(&self) -> PbxCall {
        let direction = self.direction.map_or(Direction::Incoming, |(_, d)| d);
        let party = match direction {
            Direction::Incoming => &self.incoming,
            Direction::Outgoing => &self.outgoing,
        };
        let other_number = party
            .number
            .as_ref()
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        let other_name = match direction {
            Direction::Incoming => party.name.as_ref().map(|(_, n)| n.clone()),
            Direction::Outgoing => self.connected.get(&other_number).cloned(),
        };
        let state = if self.originated && self.answered_at.is_none() {
            match self.ended_at {
                Some(_) => PbxCallState::Failed(DialFailure::from_reason_and_cause(
                    self.origin_reason,
                    self.cause.as_ref().map(|(code, _)| *code),
                )),
                None => PbxCallState::Ringing,
            }
        } else if self.ended_at.is_some() {
            PbxCallState::Ended
        } else if self.answered_at.is_some() {
            PbxCallState::Answered
        } else {
            PbxCallState::Ringing
        };
        let computed = match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) if e > a => u32::try_from((e - a + 500) / 1000).unwrap_or(u32::MAX),
            _ => 0,
        };
        PbxCall {
            id: self.linkedid.clone(),
            agent: self.agent.clone(),
            direction,
            other_number,
            other_name,
            state,
            ringing_at: self.first_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
            duration_seconds: self.talk_time.or(self.cdr_seconds).unwrap_or(computed),
            hangup_cause: self.cause.clone(),
        }
    }
}

/// Builds agents' calls from events in whatever order they come (Hangup before/after Cdr, two
/// Cdr for a Local originate, duplicates, unknown events).
#[derive(Debug, Default)]
pub struct CallTracker {
    /// (agent id, normalized interface base, own extension)
    interfaces: Vec<(String, String, String)>,
    calls: HashMap<(String, String), Entry>,
    /// Agent-leg channel name / Uniqueid → call key.
    by_channel: HashMap<String, (String, String)>,
    by_uniqueid: HashMap<String, (String, String)>,
    orphan_cdrs: VecDeque<Packet>,
    /// Calls [`CallTracker::end_all`] ended (the connection was lost), with when: their later
    /// events (on a new connection) are ignored, so no call is ended twice. Kept across
    /// [`CallTracker::reset`]; forgotten after [`STALE_MS`].
    lost: HashMap<(String, String), i64>,
}

/// `Local/1002@agents/n` → `Local/1002@agents`.
fn interface_base(interface: &str) -> String {
    let trimmed = interface.trim();
    let base = trimmed.strip_suffix("/n").unwrap_or(trimmed);
    base.to_string()
}

/// `PJSIP/1001` → `1001`, `Local/100@test` → `100`.
fn own_exten(base: &str) -> String {
    let resource = base.split_once('/').map_or(base, |(_, r)| r);
    resource.split('@').next().unwrap_or(resource).to_string()
}

/// The interface part of a channel name, or None for a Local `;2` half.
fn channel_base(channel: &str) -> Option<&str> {
    let mut name = channel.trim();
    if let Some((head, half)) = name.rsplit_once(';') {
        if half == "2" {
            return None;
        }
        name = head;
    }
    match name.rsplit_once('-') {
        Some((head, suffix))
            if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Some(head)
        }
        _ => Some(name),
    }
}

fn is_known(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && v != "<unknown>"
}

fn is_number(value: &str) -> bool {
    is_known(value) && value.chars().any(|c| c.is_ascii_digit())
}

impl CallTracker {
    /// A tracker for `(agent id, interface)` pairs, e.g. `("ana", "PJSIP/1001")`.
    pub fn new(interfaces: Vec<(String, String)>) -> Self {
        let mut tracker = Self::default();
        tracker.set_interfaces(interfaces);
        tracker
    }

    /// Replaces the agents' interfaces (calls in progress are kept).
    pub fn set_interfaces(&mut self, interfaces: Vec<(String, String)>) {
        self.interfaces = interfaces
            .into_iter()
            .map(|(agent, interface)| {
                let base = interface_base(&interface);
                let exten = own_exten(&base);
                (agent, base, exten)
            })
            .collect();
    }

    /// Forgets every call (after a reconnect the events of the gap are lost anyway).
    pub fn reset(&mut self) {
        self.calls.clear();
        self.by_channel.clear();
        self.by_uniqueid.clear();
        self.orphan_cdrs.clear();
    }

    /// Whether the call `id` of `agent` was ended as lost.
    pub fn is_lost(&self, id: &str, agent: &str) -> bool {
        self.lost.contains_key(&(id.to_owned(), agent.to_owned()))
    }

    /// Treats the call `id` (its `Linkedid`) of `agent` as ended as lost (like
    /// [`CallTracker::end_all`] does): its later events are ignored.
    pub fn mark_lost(&mut self, id: &str, agent: &str, now_ms: i64) {
        let key = (id.to_owned(), agent.to_owned());
        self.calls.remove(&key);
        self.by_channel.retain(|_, k| *k != key);
        self.by_uniqueid.retain(|_, k| *k != key);
        self.lost.insert(key, now_ms);
    }

    /// Calls currently known (in no particular order).
    pub fn calls(&self) -> Vec<PbxCall> {
        self.calls.values().map(Entry::snapshot).collect()
    }

    fn agent_of(&self, channel: &str) -> Option<(String, String)> {
        let base = channel_base(channel)?;
        self.interfaces
            .iter()
            .find(|(_, iface, _)| iface.eq_ignore_ascii_case(base))
            .map(|(agent, _, exten)| (agent.clone(), exten.clone()))
    }

    /// Ends every call that was announced and is not over (the connection to the PBX was lost:
    /// the events that would end them are gone), with `cause` as the hang-up cause.
    pub fn end_all(&mut self, now_ms: i64, cause: (u32, String)) -> Vec<CallChange> {
        let mut out = Vec::new();
        for entry in self.calls.values_mut() {
            if !matches!(entry.announced, Some(Phase::Ringing | Phase::Answered))
                || entry.ended_at.is_some()
            {
                continue;
            }
            entry.ended_at = Some(now_ms.max(entry.first_at));
            entry.cause = Some(cause.clone());
            self.lost
                .insert((entry.linkedid.clone(), entry.agent.clone()), now_ms);
            let call = entry.snapshot();
            entry.announced = Some(Phase::of(call.state));
            out.push(CallChange {
                call,
                announce: true,
            });
        }
        out.sort_by_key(|c| c.call.ringing_at);
        out
    }

    /// Feeds one event; returns the shown calls it changed (see [`CallChange`]).
    pub fn on_event(&mut self, event: &Packet, now_ms: i64) -> Vec<CallChange> {
        self.prune(now_ms);
        let Some(name) = event.event() else {
            return Vec::new();
        };
        let mut before: HashMap<(String, String), PbxCall> = HashMap::new();
        let mut touched: Vec<(String, String)> = Vec::new();
        let remember = |tracker: &Self,
                        key: &(String, String),
                        touched: &mut Vec<(String, String)>,
                        before: &mut HashMap<(String, String), PbxCall>| {
            if !touched.contains(key) {
                touched.push(key.clone());
                if let Some(e) = tracker.calls.get(key) {
                    before.insert(key.clone(), e.snapshot());
                }
            }
        };

        if name.eq_ignore_ascii_case("Cdr") {
            if let Some(key) = self.cdr_target(event) {
                if self.lost.contains_key(&key) {
                    return Vec::new();
                }
                remember(self, &key, &mut touched, &mut before);
                self.apply_cdr(&key, event);
            } else if event
                .get("Channel")
                .is_some_and(|c| self.agent_of(c).is_some())
                || event
                    .get("DestinationChannel")
                    .is_some_and(|c| self.agent_of(c).is_some())
            {
                if self.orphan_cdrs.len() >= MAX_ORPHAN_CDRS {
                    self.orphan_cdrs.pop_front();
                }
                self.orphan_cdrs.push_back(event.clone());
            }
        } else {
            for prefix in ["", "Dest"] {
                let Some(channel) = event.get(&format!("{prefix}Channel")) else {
                    continue;
                };
                let Some((agent, exten)) = self.agent_of(channel) else {
                    continue;
                };
                // A failed Originate says `Uniqueid: <null>`.
                let uniqueid = event
                    .get(&format!("{prefix}Uniqueid"))
                    .filter(|u| is_known(u) && u.trim() != "<null>")
                    .unwrap_or("");
                let linkedid = event
                    .get(&format!("{prefix}Linkedid"))
                    .map(str::to_string)
                    .or_else(|| self.by_uniqueid.get(uniqueid).map(|k| k.0.clone()))
                    .or_else(|| self.by_channel.get(channel).map(|k| k.0.clone()));
                let key = match linkedid.filter(|l| !l.is_empty()) {
                    Some(linkedid) => (linkedid, agent.clone()),
                    // A failed Originate names the interface, not a channel: the agent's
                    // latest unanswered Originate, or an attempt that never got a channel.
                    None if prefix.is_empty() && name.eq_ignore_ascii_case("OriginateResponse") => {
                        self.originate_key(&agent, event, now_ms)
                    }
                    None => continue,
                };
                if self.lost.contains_key(&key) {
                    continue;
                }
                remember(self, &key, &mut touched, &mut before);
                self.apply_leg(&key, &exten, name, event, prefix, channel, uniqueid, now_ms);
            }
        }

        touched
            .into_iter()
            .filter_map(|key| {
                let entry = self.calls.get_mut(&key)?;
                if !entry.ready() {
                    return None;
                }
                let call = entry.snapshot();
                let phase = Phase::of(call.state);
                let announce = entry.announced != Some(phase);
                if announce {
                    entry.announced = Some(phase);
                } else if before.get(&key) == Some(&call) {
                    return None;
                }
                Some(CallChange { call, announce })
            })
            .collect()
    }

    /// The call a failed `OriginateResponse` (no Linkedid) belongs to: the agent's most recent
    /// unanswered Originate not yet answered by a response, else a new attempt of its own.
    fn originate_key(&self, agent: &str, event: &Packet, now_ms: i64) -> (String, String) {
        let latest = self
            .calls
            .iter()
            .filter(|((_, a), e)| {
                a == agent && e.originated && e.answered_at.is_none() && !e.origin_response
            })
            .max_by_key(|(_, e)| e.first_at)
            .map(|(k, _)| k.clone());
        latest.unwrap_or_else(|| {
            let id = match event.action_id() {
                Some(id) if !id.is_empty() => format!("originate-{id}"),
                _ => format!("originate-{now_ms}"),
            };
            (id, agent.to_string())
        })
    }

    fn cdr_target(&self, cdr: &Packet) -> Option<(String, String)> {
        ["Channel", "DestinationChannel"]
            .iter()
            .filter_map(|k| cdr.get(k))
            .filter(|c| !c.trim().is_empty())
            .find_map(|c| self.by_channel.get(c).cloned())
    }

    fn apply_cdr(&mut self, key: &(String, String), cdr: &Packet) {
        let Some(entry) = self.calls.get_mut(key) else {
            return;
        };
        let seconds = cdr
            .get("BillableSeconds")
            .and_then(|s| s.trim().parse::<u32>().ok());
        let on_agent_channel = cdr
            .get("Channel")
            .is_some_and(|c| entry.legs.values().any(|l| l == c));
        if let Some(s) = seconds {
            entry.cdr_seconds = Some(entry.cdr_seconds.map_or(s, |old| old.max(s)));
        }
        if on_agent_channel {
            // The agent leg's own record: Destination is what the agent leg went on to dial.
            if let Some(dest) = cdr.get("Destination") {
                if dest.trim() != entry.own_exten {
                    entry.outgoing.offer_number(3, dest.trim());
                }
            }
        } else if let Some(src) = cdr.get("Source") {
            entry.incoming.offer_number(1, src.trim());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_leg(
        &mut self,
        key: &(String, String),
        exten: &str,
        name: &str,
        event: &Packet,
        prefix: &str,
        channel: &str,
        uniqueid: &str,
        now_ms: i64,
    ) {
        let is_new = !self.calls.contains_key(key);
        let entry = self
            .calls
            .entry(key.clone())
            .or_insert_with(|| Entry::new(key, exten, now_ms));
        entry.first_at = entry.first_at.min(now_ms);
        entry.last_at = entry.last_at.max(now_ms);
        let lname = name.to_ascii_lowercase();
        // An OriginateResponse names the interface (or the channel of a leg already known):
        // it never makes a leg of its own.
        let leg_event = lname != "originateresponse";
        let mut new_leg = false;
        if leg_event && !uniqueid.is_empty() && !entry.legs.contains_key(uniqueid) {
            entry.legs.insert(uniqueid.to_string(), channel.to_string());
            new_leg = true;
            if entry.ended_at.is_some() && !entry.hung.contains(uniqueid) && !is_new {
                // A new leg of the same agent in the same call (e.g. queue retry): open again.
                entry.ended_at = None;
                entry.cause = None;
            }
        }
        let field = |k: &str| event.get(&format!("{prefix}{k}")).unwrap_or("");
        let own = entry.own_exten.clone();

        // Weak direction: the first channel of a call is the one that started it.
        let linked = field("Linkedid");
        if !uniqueid.is_empty() && !linked.is_empty() {
            let d = if uniqueid == linked {
                Direction::Outgoing
            } else {
                Direction::Incoming
            };
            entry.set_direction(Strength::Weak, d);
        }

        // Snapshot of the agent leg.
        let cid = field("CallerIDNum");
        let cid_name = field("CallerIDName");
        let cl = field("ConnectedLineNum");
        let cl_name = field("ConnectedLineName");
        if cl.trim() != own {
            entry.incoming.offer_number(1, cl.trim());
            if is_number(cl) {
                entry.incoming.offer_name(1, cl_name);
            }
        }
        if cid.trim() != own {
            entry.incoming.offer_number(0, cid.trim());
            if is_number(cid) {
                entry.incoming.offer_name(0, cid_name);
            }
        }
        let ext = field("Exten");
        if ext.trim() != own {
            entry.outgoing.offer_number(2, ext.trim());
        }
        if cl.trim() != own && is_number(cl) && is_known(cl_name) && entry.connected.len() < 16 {
            entry
                .connected
                .insert(cl.trim().to_string(), cl_name.to_string());
        }

        // The agent leg's own state: up means answered, whatever the event; ringing means rung.
        match field("ChannelState").trim() {
            "6" => {
                entry.answered_at.get_or_insert(now_ms);
            }
            "5" => entry.rang = true,
            _ => {}
        }
        // What the agent leg is connected to names the outgoing party too (an Originate's
        // CallerID is the agent leg's connected line).
        if cl.trim() != own {
            entry.outgoing.offer_number(1, cl.trim());
        }

        let caller_channel = event.get("Channel").filter(|c| is_known(c));
        if prefix == "Dest" {
            match lname.as_str() {
                "dialbegin" | "dialend" | "agentcalled" | "agentconnect" | "agentcomplete"
                | "agentringnoanswer" | "agentdump" => {
                    entry.rang = true;
                    if caller_channel.is_some() {
                        entry.set_direction(Strength::Strong, Direction::Incoming);
                        let num = event.get("CallerIDNum").unwrap_or("").trim();
                        if num != own {
                            entry.incoming.offer_number(3, num);
                            if is_number(num) {
                                entry
                                    .incoming
                                    .offer_name(3, event.get("CallerIDName").unwrap_or(""));
                            }
                        }
                    } else if lname == "dialbegin" || lname == "dialend" {
                        // Dial without a calling channel: an Originate towards the agent.
                        entry.set_direction(Strength::Strong, Direction::Outgoing);
                        entry.originated = true;
                    }
                }
                _ => {}
            }
            match lname.as_str() {
                "dialend"
                    if event
                        .get("DialStatus")
                        .is_some_and(|s| s.eq_ignore_ascii_case("ANSWER")) =>
                {
                    entry.answered_at.get_or_insert(now_ms);
                }
                "agentconnect" => {
                    entry.answered_at.get_or_insert(now_ms);
                }
                "agentcomplete" => {
                    if let Some(t) = event.get("TalkTime").and_then(|t| t.trim().parse().ok()) {
                        entry.talk_time = Some(t);
                    }
                }
                _ => {}
            }
        } else {
            match lname.as_str() {
                "dialbegin" | "dialend"
                    if event
                        .get("DestChannel")
                        .is_some_and(|d| channel_base(d).is_some()) =>
                {
                    // The agent leg dials somebody.
                    entry.set_direction(Strength::Strong, Direction::Outgoing);
                    entry.rang = true;
                    let dial = event.get("DialString").unwrap_or("");
                    let dial_number = dial.rsplit('/').next().unwrap_or(dial);
                    let dial_number = dial_number.split('@').next().unwrap_or(dial_number);
                    if dial_number.trim() != own {
                        entry.outgoing.offer_number(1, dial_number.trim());
                    }
                }
                "newstate" if event.get("ChannelState").map(str::trim) == Some("6") => {
                    entry.answered_at.get_or_insert(now_ms);
                }
                "bridgeenter" => {
                    entry.answered_at.get_or_insert(now_ms);
                }
                "originateresponse" => {
                    entry.set_direction(Strength::Strong, Direction::Outgoing);
                    entry.originated = true;
                    entry.origin_response = true;
                    let e = event.get("Exten").unwrap_or("").trim();
                    if e != own {
                        entry.outgoing.offer_number(3, e);
                    }
                    let success = event
                        .get("Response")
                        .is_some_and(|r| r.trim().eq_ignore_ascii_case("Success"));
                    if !success && entry.answered_at.is_none() {
                        entry.origin_reason =
                            event.get("Reason").and_then(|r| r.trim().parse().ok());
                        entry.ended_at.get_or_insert(now_ms);
                    }
                }
                "hangup" => {
                    if !uniqueid.is_empty() {
                        entry.hung.insert(uniqueid.to_string());
                    }
                    let all_hung = entry.legs.keys().all(|u| entry.hung.contains(u));
                    if all_hung && entry.ended_at.is_none() {
                        entry.ended_at = Some(now_ms);
                        let cause = event
                            .get("Cause")
                            .and_then(|c| c.trim().parse::<u32>().ok())
                            .unwrap_or(0);
                        let text = event.get("Cause-txt").unwrap_or("").to_string();
                        entry.cause = Some((cause, text));
                    }
                }
                _ => {}
            }
        }

        if leg_event && (new_leg || is_new) {
            self.by_channel.insert(channel.to_string(), key.clone());
            if !uniqueid.is_empty() {
                self.by_uniqueid.insert(uniqueid.to_string(), key.clone());
            }
            // Cdr events that arrived before this leg was known.
            let waiting: Vec<Packet> = self
                .orphan_cdrs
                .iter()
                .filter(|c| {
                    c.get("Channel") == Some(channel)
                        || c.get("DestinationChannel") == Some(channel)
                })
                .cloned()
                .collect();
            if !waiting.is_empty() {
                self.orphan_cdrs.retain(|c| {
                    c.get("Channel") != Some(channel)
                        && c.get("DestinationChannel") != Some(channel)
                });
                for cdr in waiting {
                    self.apply_cdr(key, &cdr);
                }
            }
        }
    }

    fn prune(&mut self, now_ms: i64) {
        self.lost
            .retain(|_, at| now_ms.saturating_sub(*at) <= STALE_MS);
        let before = self.calls.len();
        self.calls.retain(|_, e| {
            let ended_long_ago = e
                .ended_at
                .is_some_and(|t| now_ms.saturating_sub(t) > ENDED_RETENTION_MS);
            let stale = now_ms.saturating_sub(e.last_at) > STALE_MS;
            !(ended_long_ago || stale)
        });
        if self.calls.len() != before {
            let calls = &self.calls;
            self.by_channel.retain(|_, k| calls.contains_key(k));
            self.by_uniqueid.retain(|_, k| calls.contains_key(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_matching() {
        assert_eq!(channel_base("PJSIP/1001-0000002a"), Some("PJSIP/1001"));
        assert_eq!(
            channel_base("Local/100@test-00000000;1"),
            Some("Local/100@test")
        );
        assert_eq!(channel_base("Local/100@test-00000000;2"), None);
        assert_eq!(own_exten("Local/100@test"), "100");
        assert_eq!(own_exten("PJSIP/1001"), "1001");
        assert_eq!(interface_base("Local/1002@agents/n"), "Local/1002@agents");
        let t = CallTracker::new(vec![("a".into(), "PJSIP/100".into())]);
        assert!(t.agent_of("PJSIP/1001-0000002a").is_none());
        assert!(t.agent_of("pjsip/100-0000002a").is_some());
    }

    #[test]
    fn unknown_and_partial_events_are_ignored() {
        let mut t = CallTracker::new(vec![("a".into(), "PJSIP/1001".into())]);
        assert!(t.on_event(&Packet::new(), 0).is_empty());
        assert!(t
            .on_event(
                &Packet::new()
                    .with("Event", "Whatever")
                    .with("Channel", "PJSIP/1001-01"),
                0
            )
            .is_empty());
        assert!(t
            .on_event(&Packet::new().with("Event", "Cdr"), 0)
            .is_empty());
    }

    #[test]
    fn pjsip_phone_dials_out() {
        let mut t = CallTracker::new(vec![("ana".into(), "PJSIP/1001".into())]);
        let leg = |ev: &str, state: &str| {
            Packet::new()
                .with("Event", ev)
                .with("Channel", "PJSIP/1001-0000002a")
                .with("ChannelState", state)
                .with("CallerIDNum", "1001")
                .with("CallerIDName", "Ana")
                .with("ConnectedLineNum", "<unknown>")
                .with("ConnectedLineName", "<unknown>")
                .with("Context", "from-internal")
                .with("Exten", "5551234")
                .with("Uniqueid", "1.10")
                .with("Linkedid", "1.10")
        };
        let calls = |changes: Vec<CallChange>| -> Vec<PbxCall> {
            changes.into_iter().map(|c| c.call).collect()
        };
        let c = calls(t.on_event(&leg("Newchannel", "4"), 1_000));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].direction, Direction::Outgoing);
        assert_eq!(c[0].other_number, "5551234");
        assert_eq!(c[0].state, PbxCallState::Ringing);
        let c = calls(t.on_event(&leg("Newstate", "6"), 4_000));
        assert_eq!(c[0].state, PbxCallState::Answered);
        let c = calls(
            t.on_event(
                &leg("Hangup", "6")
                    .with("Cause", "16")
                    .with("Cause-txt", "Normal Clearing"),
                64_000,
            ),
        );
        assert_eq!(c[0].state, PbxCallState::Ended);
        assert_eq!(c[0].duration_seconds, 60);
        assert_eq!(c[0].hangup_cause, Some((16, "Normal Clearing".to_string())));
        // Duplicate Hangup changes nothing.
        assert!(t
            .on_event(
                &leg("Hangup", "6")
                    .with("Cause", "16")
                    .with("Cause-txt", "Normal Clearing"),
                65_000
            )
            .is_empty());
        // Much later the ended call is forgotten.
        t.on_event(
            &Packet::new().with("Event", "Noise"),
            64_000 + ENDED_RETENTION_MS + 1,
        );
        assert!(t.calls().is_empty());
    }
}
