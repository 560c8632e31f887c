//! Builders for the AMI events the double emits. Field names and order are copied from
//! `crates/enlace-ami/tests/data/asterisk-ami-transcript.txt` (Asterisk 22.10.1); builders for
//! events the transcript does not show (`BlindTransfer`) follow `main/manager_bridges.c` and are marked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::wire::Pkt;

pub(crate) const UNKNOWN: &str = "<unknown>";

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `Timestamp:` of Ping: seconds and microseconds.
pub(crate) fn now_timestamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC; Asterisk prints the server's local time) for Cdr times.
pub(crate) fn fmt_datetime(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Unique ids the way Asterisk makes them: `{epoch seconds}.{global counter}`, plus per-technology
/// channel sequence numbers (`Local/100@test-00000000;1`).
#[derive(Debug, Default)]
pub(crate) struct Ids {
    uid: AtomicU64,
    chan: Mutex<HashMap<String, u32>>,
}

impl Ids {
    pub(crate) fn uniqueid(&self) -> String {
        format!("{}.{}", now_secs(), self.uid.fetch_add(1, Ordering::SeqCst))
    }

    pub(crate) fn chan_seq(&self, tech: &str) -> u32 {
        let mut map = self.chan.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(tech.to_ascii_lowercase()).or_insert(0);
        let v = *n;
        *n = n.wrapping_add(1);
        v
    }

    /// A bridge id: a random version-4 UUID, like `f5bc5c41-737d-4495-8fce-1b57ba07d017`.
    pub(crate) fn bridge_id(&self) -> String {
        let mut b = [0u8; 16];
        if getrandom::fill(&mut b).is_err() {
            let n = self.uid.fetch_add(1, Ordering::SeqCst);
            b[..8].copy_from_slice(&n.to_be_bytes());
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

/// A channel snapshot (the fields every channel event carries).
#[derive(Debug, Clone)]
pub(crate) struct Chan {
    pub name: String,
    pub state: u8,
    pub cid_num: String,
    pub cid_name: String,
    pub conn_num: String,
    pub conn_name: String,
    pub context: String,
    pub exten: String,
    pub priority: u32,
    pub uniqueid: String,
    pub linkedid: String,
}

impl Chan {
    /// A new channel with unknown caller ids.
    pub(crate) fn new(
        name: String,
        state: u8,
        context: &str,
        exten: &str,
        uniqueid: String,
        linkedid: &str,
    ) -> Chan {
        Chan {
            name,
            state,
            cid_num: UNKNOWN.into(),
            cid_name: UNKNOWN.into(),
            conn_num: UNKNOWN.into(),
            conn_name: UNKNOWN.into(),
            context: context.into(),
            exten: exten.into(),
            priority: 1,
            uniqueid,
            linkedid: linkedid.into(),
        }
    }

    pub(crate) fn cid(&mut self, num: &str, name: &str) {
        self.cid_num = num.into();
        self.cid_name = name.into();
    }

    pub(crate) fn conn(&mut self, num: &str, name: &str) {
        self.conn_num = num.into();
        self.conn_name = name.into();
    }

    /// Moves the channel in the dialplan.
    pub(crate) fn at(&mut self, context: &str, exten: &str, priority: u32) {
        self.context = context.into();
        self.exten = exten.into();
        self.priority = priority;
    }
}

pub(crate) fn state_desc(state: u8) -> &'static str {
    match state {
        0 => "Down",
        1 => "Rsrvd",
        2 => "OffHook",
        3 => "Dialing",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        7 => "Busy",
        8 => "Dialing Offhook",
        9 => "Pre-ring",
        _ => "Unknown",
    }
}

pub(crate) fn cause_txt(cause: u32) -> &'static str {
    match cause {
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        21 => "Call Rejected",
        _ => "Unknown",
    }
}

fn snapshot(mut p: Pkt, prefix: &str, c: &Chan) -> Pkt {
    let k = |s: &str| format!("{prefix}{s}");
    p = p
        .f(&k("Channel"), &c.name)
        .f(&k("ChannelState"), c.state.to_string())
        .f(&k("ChannelStateDesc"), state_desc(c.state))
        .f(&k("CallerIDNum"), &c.cid_num)
        .f(&k("CallerIDName"), &c.cid_name)
        .f(&k("ConnectedLineNum"), &c.conn_num)
        .f(&k("ConnectedLineName"), &c.conn_name)
        .f(&k("Language"), "en")
        .f(&k("AccountCode"), "")
        .f(&k("Context"), &c.context)
        .f(&k("Exten"), &c.exten)
        .f(&k("Priority"), c.priority.to_string())
        .f(&k("Uniqueid"), &c.uniqueid)
        .f(&k("Linkedid"), &c.linkedid);
    p
}

fn chan_event(name: &str, privilege: &str, c: &Chan) -> Pkt {
    snapshot(Pkt::new().f("Event", name).f("Privilege", privilege), "", c)
}

pub(crate) fn newchannel(c: &Chan) -> Pkt {
    chan_event("Newchannel", "call,all", c)
}

pub(crate) fn newstate(c: &Chan) -> Pkt {
    chan_event("Newstate", "call,all", c)
}

pub(crate) fn newexten(c: &Chan, app: &str, data: &str) -> Pkt {
    chan_event("Newexten", "dialplan,all", c)
        .f("Extension", &c.exten)
        .f("Application", app)
        .f("AppData", data)
}

pub(crate) fn newcallerid(c: &Chan) -> Pkt {
    chan_event("NewCallerid", "call,all", c)
        .f("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
}

pub(crate) fn newconnectedline(c: &Chan) -> Pkt {
    chan_event("NewConnectedLine", "call,all", c)
}

pub(crate) fn varset(c: &Chan, variable: &str, value: &str) -> Pkt {
    chan_event("VarSet", "dialplan,all", c)
        .f("Variable", variable)
        .f("Value", value)
}

pub(crate) fn soft_hangup_request(c: &Chan, cause: u32) -> Pkt {
    chan_event("SoftHangupRequest", "call,all", c).f("Cause", cause.to_string())
}

pub(crate) fn hangup_request(c: &Chan, cause: u32) -> Pkt {
    chan_event("HangupRequest", "call,all", c).f("Cause", cause.to_string())
}

pub(crate) fn hangup(c: &Chan, cause: u32) -> Pkt {
    chan_event("Hangup", "call,all", c)
        .f("Cause", cause.to_string())
        .f("Cause-txt", cause_txt(cause))
}

pub(crate) fn local_bridge(one: &Chan, two: &Chan, optimization: bool) -> Pkt {
    let p = Pkt::new()
        .f("Event", "LocalBridge")
        .f("Privilege", "call,all");
    let p = snapshot(p, "LocalOne", one);
    snapshot(p, "LocalTwo", two)
        .f("Context", &one.context)
        .f("Exten", &one.exten)
        .f("LocalOptimization", if optimization { "Yes" } else { "No" })
}

fn caller_dest(name: &str, privilege: &str, caller: Option<&Chan>, dest: &Chan) -> Pkt {
    let p = Pkt::new().f("Event", name).f("Privilege", privilege);
    let p = match caller {
        Some(c) => snapshot(p, "", c),
        None => p,
    };
    snapshot(p, "Dest", dest)
}

pub(crate) fn dial_begin(caller: Option<&Chan>, dest: &Chan, dial_string: &str) -> Pkt {
    caller_dest("DialBegin", "call,all", caller, dest).f("DialString", dial_string)
}

pub(crate) fn dial_end(caller: Option<&Chan>, dest: &Chan, status: &str) -> Pkt {
    caller_dest("DialEnd", "call,all", caller, dest).f("DialStatus", status)
}

/// A bridge as the Bridge* events show it.
#[derive(Debug, Clone)]
pub(crate) struct Bridge {
    pub id: String,
    pub channels: u32,
}

fn bridge_fields(p: Pkt, b: &Bridge) -> Pkt {
    p.f("BridgeUniqueid", &b.id)
        .f("BridgeType", "basic")
        .f("BridgeTechnology", "simple_bridge")
        .f("BridgeCreator", UNKNOWN)
        .f("BridgeName", UNKNOWN)
        .f("BridgeNumChannels", b.channels.to_string())
        .f("BridgeVideoSourceMode", "none")
}

pub(crate) fn bridge_event(name: &str, b: &Bridge, c: Option<&Chan>) -> Pkt {
    let p = bridge_fields(Pkt::new().f("Event", name).f("Privilege", "call,all"), b);
    match c {
        Some(c) => snapshot(p, "", c),
        None => p,
    }
}

/// `BlindTransfer` (not in the transcript; field order from Asterisk 22 `manager_bridges.c`:
/// result, transferer snapshot, transferee snapshot, bridge snapshot, then the target).
pub(crate) fn blind_transfer(
    transferer: &Chan,
    transferee: &Chan,
    b: &Bridge,
    context: &str,
    exten: &str,
) -> Pkt {
    let p = Pkt::new()
        .f("Event", "BlindTransfer")
        .f("Privilege", "call,all")
        .f("Result", "Success");
    let p = snapshot(p, "Transferer", transferer);
    let p = snapshot(p, "Transferee", transferee);
    bridge_fields(p, b)
        .f("IsExternal", "No")
        .f("Context", context)
        .f("Extension", exten)
}

/// One Cdr record (cdr_manager).
#[derive(Debug, Clone)]
pub(crate) struct CdrRec {
    pub source: String,
    pub destination: String,
    pub dcontext: String,
    pub callerid: String,
    pub channel: String,
    pub dchannel: String,
    pub last_app: String,
    pub last_data: String,
    pub start: u64,
    pub answer: Option<u64>,
    pub end: u64,
    pub disposition: &'static str,
    pub uniqueid: String,
}

pub(crate) fn cdr(r: &CdrRec) -> Pkt {
    let duration = r.end.saturating_sub(r.start);
    let billable = r.answer.map(|a| r.end.saturating_sub(a)).unwrap_or(0);
    Pkt::new()
        .f("Event", "Cdr")
        .f("Privilege", "cdr,all")
        .f("AccountCode", "")
        .f("Source", &r.source)
        .f("Destination", &r.destination)
        .f("DestinationContext", &r.dcontext)
        .f("CallerID", &r.callerid)
        .f("Channel", &r.channel)
        .f("DestinationChannel", &r.dchannel)
        .f("LastApplication", &r.last_app)
        .f("LastData", &r.last_data)
        .f("StartTime", fmt_datetime(r.start))
        .f("AnswerTime", r.answer.map(fmt_datetime).unwrap_or_default())
        .f("EndTime", fmt_datetime(r.end))
        .f("Duration", duration.to_string())
        .f("BillableSeconds", billable.to_string())
        .f("Disposition", r.disposition)
        .f("AMAFlags", "DOCUMENTATION")
        .f("UniqueID", &r.uniqueid)
        .f("UserField", "")
}

/// `"Name" <num>` as Cdr `CallerID` shows it.
pub(crate) fn cdr_callerid(num: &str, name: &str) -> String {
    match (
        num == UNKNOWN || num.is_empty(),
        name == UNKNOWN || name.is_empty(),
    ) {
        (true, true) => String::new(),
        (false, true) => format!("<{num}>"),
        (true, false) => format!("\"{name}\" <>"),
        (false, false) => format!("\"{name}\" <{num}>"),
    }
}

/// A queue member as app_queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub interface: String,
    pub name: String,
    pub state_interface: String,
    pub dynamic: bool,
    pub penalty: i64,
    pub calls_taken: u64,
    pub last_call: u64,
    pub last_pause: u64,
    pub login_time: u64,
    pub in_call: bool,
    pub status: u8,
    pub paused: bool,
    pub reason: String,
}

impl Member {
    fn membership(&self) -> &'static str {
        if self.dynamic {
            "dynamic"
        } else {
            "static"
        }
    }
}

/// QueueMemberAdded / QueueMemberRemoved / QueueMemberPause / QueueMemberStatus.
pub(crate) fn member_event(name: &str, queue: &str, m: &Member) -> Pkt {
    Pkt::new()
        .f("Event", name)
        .f("Privilege", "agent,all")
        .f("Queue", queue)
        .f("MemberName", &m.name)
        .f("Interface", &m.interface)
        .f("StateInterface", &m.state_interface)
        .f("Membership", m.membership())
        .f("Penalty", m.penalty.to_string())
        .f("CallsTaken", m.calls_taken.to_string())
        .f("LastCall", m.last_call.to_string())
        .f("LastPause", m.last_pause.to_string())
        .f("LoginTime", m.login_time.to_string())
        .f("InCall", u8::from(m.in_call).to_string())
        .f("Status", m.status.to_string())
        .f("Paused", u8::from(m.paused).to_string())
        .f("PausedReason", &m.reason)
        .f("Ringinuse", "0")
        .f("Wrapuptime", "0")
}

/// The `QueueMember` item of a QueueStatus list.
pub(crate) fn queue_member_item(queue: &str, m: &Member, action_id: Option<&str>) -> Pkt {
    Pkt::new()
        .f("Event", "QueueMember")
        .f("Queue", queue)
        .f("Name", &m.name)
        .f("Location", &m.interface)
        .f("StateInterface", &m.state_interface)
        .f("Membership", m.membership())
        .f("Penalty", m.penalty.to_string())
        .f("CallsTaken", m.calls_taken.to_string())
        .f("LastCall", m.last_call.to_string())
        .f("LastPause", m.last_pause.to_string())
        .f("LoginTime", m.login_time.to_string())
        .f("InCall", u8::from(m.in_call).to_string())
        .f("Status", m.status.to_string())
        .f("Paused", u8::from(m.paused).to_string())
        .f("PausedReason", &m.reason)
        .f("Wrapuptime", "0")
        .id(action_id)
}

/// The `QueueParams` item of a QueueStatus list.
pub(crate) fn queue_params_item(queue: &str, completed: u64, action_id: Option<&str>) -> Pkt {
    Pkt::new()
        .f("Event", "QueueParams")
        .f("Queue", queue)
        .f("Max", "0")
        .f("Strategy", "ringall")
        .f("Calls", "0")
        .f("Holdtime", "0")
        .f("TalkTime", "0")
        .f("Completed", completed.to_string())
        .f("Abandoned", "0")
        .f("ServiceLevel", "0")
        .f("ServicelevelPerf", "0.0")
        .f("ServicelevelPerf2", "0.0")
        .f("Weight", "0")
        .id(action_id)
}

/// QueueCallerJoin / QueueCallerLeave.
pub(crate) fn queue_caller(name: &str, c: &Chan, queue: &str, count: u32) -> Pkt {
    chan_event(name, "agent,all", c)
        .f("Queue", queue)
        .f("Position", "1")
        .f("Count", count.to_string())
}

/// AgentCalled / AgentConnect / AgentComplete: caller snapshot, Dest snapshot, queue fields.
/// The caller appends the event-specific tail (`HoldTime`, `RingTime`, `TalkTime`, `Reason`).
pub(crate) fn agent_event(name: &str, caller: &Chan, dest: &Chan, queue: &str, m: &Member) -> Pkt {
    caller_dest(name, "agent,all", Some(caller), dest)
        .f("Queue", queue)
        .f("Interface", &m.interface)
        .f("MemberName", &m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_matches_known_dates() {
        assert_eq!(fmt_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(fmt_datetime(1_795_462_335), "2026-11-23 19:32:15");
        assert_eq!(fmt_datetime(951_825_600), "2000-02-29 12:00:00");
    }

    #[test]
    fn bridge_ids_look_like_uuids() {
        let id = Ids::default().bridge_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
