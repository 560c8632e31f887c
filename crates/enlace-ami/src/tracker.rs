//! [`CallTracker`]: turns the AMI event stream into each agent's calls.
//!
//! Calls are keyed by `Linkedid` (plus agent). An agent leg is a channel whose name without the
//! `-xxxxxxxx` suffix (and `;1` of Local channels) equals an agent interface, e.g.
//! `PJSIP/1001-0000002a` ↔ `PJSIP/1001`, `Local/100@test-00000000;1` ↔ `Local/100@test`. The `;2`
//! half of a Local channel is the dialplan side and never counts as the agent leg.
//!
//! Every fact is kept with its source so that the result does not depend on event order:
//! direction from Dial/queue events (strong) or from `Uniqueid == Linkedid` (weak); the other
//! party from the caller snapshot (incoming) or the dialled extension / Cdr destination
//! (outgoing); duration from `AgentComplete` TalkTime, else the agent leg's `Cdr`
//! BillableSeconds, else answered → ended. Unknown events are ignored; nothing panics.

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
}

impl Entry {
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
        let state = if self.ended_at.is_some() {
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

    /// Feeds one event; returns the calls it changed (their new state).
    pub fn on_event(&mut self, event: &Packet, now_ms: i64) -> Vec<PbxCall> {
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
                let uniqueid = event.get(&format!("{prefix}Uniqueid")).unwrap_or("");
                let linkedid = event
                    .get(&format!("{prefix}Linkedid"))
                    .map(str::to_string)
                    .or_else(|| self.by_uniqueid.get(uniqueid).map(|k| k.0.clone()))
                    .or_else(|| self.by_channel.get(channel).map(|k| k.0.clone()));
                let Some(linkedid) = linkedid.filter(|l| !l.is_empty()) else {
                    continue;
                };
                let key = (linkedid.clone(), agent.clone());
                remember(self, &key, &mut touched, &mut before);
                self.apply_leg(&key, &exten, name, event, prefix, channel, uniqueid, now_ms);
            }
        }

        touched
            .into_iter()
            .filter_map(|key| {
                let after = self.calls.get(&key)?.snapshot();
                (before.get(&key) != Some(&after)).then_some(after)
            })
            .collect()
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
        let entry = self.calls.entry(key.clone()).or_insert_with(|| Entry {
            linkedid: key.0.clone(),
            agent: key.1.clone(),
            own_exten: exten.to_string(),
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
        });
        entry.first_at = entry.first_at.min(now_ms);
        entry.last_at = entry.last_at.max(now_ms);
        let mut new_leg = false;
        if !uniqueid.is_empty() && !entry.legs.contains_key(uniqueid) {
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

        let lname = name.to_ascii_lowercase();
        let caller_channel = event.get("Channel").filter(|c| is_known(c));
        if prefix == "Dest" {
            match lname.as_str() {
                "dialbegin" | "dialend" | "agentcalled" | "agentconnect" | "agentcomplete"
                | "agentringnoanswer" | "agentdump" => {
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
                    let e = event.get("Exten").unwrap_or("").trim();
                    if e != own {
                        entry.outgoing.offer_number(3, e);
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

        if new_leg || is_new {
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
        let c = t.on_event(&leg("Newchannel", "4"), 1_000);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].direction, Direction::Outgoing);
        assert_eq!(c[0].other_number, "5551234");
        assert_eq!(c[0].state, PbxCallState::Ringing);
        let c = t.on_event(&leg("Newstate", "6"), 4_000);
        assert_eq!(c[0].state, PbxCallState::Answered);
        let c = t.on_event(
            &leg("Hangup", "6")
                .with("Cause", "16")
                .with("Cause-txt", "Normal Clearing"),
            64_000,
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
