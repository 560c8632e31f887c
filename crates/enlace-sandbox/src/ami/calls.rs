//! The event sequences of scripted calls. The Local-channel originate and the queue call follow
//! the transcript event by event; the other flows (PJSIP devices, outbound through a trunk,
//! busy / no answer, blind transfer) are built from the same builders in the order Asterisk 22
//! uses for them and are marked as derived, not recorded.

use super::events::{self as ev, Bridge, CdrRec, Chan, Ids, Member, UNKNOWN};
use super::wire::Pkt;

/// One step of a sequence.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Send(Pkt),
    /// A Cdr event: sent in place, or moved after every Hangup when the Cdr order says so.
    Cdr(Pkt),
    /// Pause (talk time).
    Wait(u64),
}

/// What an Originate asked for.
#[derive(Debug, Clone)]
pub(crate) struct OriginateReq {
    pub channel: String,
    pub context: String,
    pub exten: String,
    pub priority: u32,
    pub cid_num: String,
    pub cid_name: String,
    pub action_id: Option<String>,
    /// `Async: true`: an OriginateResponse event follows.
    pub with_response: bool,
}

/// Outcome of the first leg of an originate or of a dialed number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answer { talk_ms: u64 },
    NoAnswer,
    Busy,
    Fail,
}

pub(crate) fn talk_secs(talk_ms: u64) -> u64 {
    talk_ms.div_ceil(1000)
}

/// A device leg: a Local pair (`one` = `;1`, `two` = `;2`) or a single channel in `one`.
struct Dev {
    one: Chan,
    two: Option<Chan>,
    /// `100@test` (Local) or `1001` (PJSIP).
    data: String,
    /// Dialplan position of the Local `;2` half.
    context: String,
    exten: String,
    optimization: bool,
}

/// Parses `Local/100@test[/n]` into (exten, context, optimization allowed).
fn local_parts(iface: &str) -> Option<(String, String, bool)> {
    let data = iface.strip_prefix("Local/")?;
    let (data, opt) = match data.strip_suffix("/n") {
        Some(d) => (d, false),
        None => (data, true),
    };
    let (exten, context) = data.split_once('@').unwrap_or((data, "default"));
    Some((exten.to_string(), context.to_string(), opt))
}

fn new_dev(ids: &Ids, iface: &str, linkedid: Option<&str>) -> Dev {
    let data = iface.split_once('/').map(|(_, d)| d).unwrap_or(iface);
    if let Some((exten, context, optimization)) = local_parts(iface) {
        let seq = ids.chan_seq("Local");
        let base = format!("Local/{exten}@{context}-{seq:08x}");
        let uid1 = ids.uniqueid();
        let link = linkedid.unwrap_or(&uid1).to_string();
        let one = Chan::new(format!("{base};1"), 0, &context, &exten, uid1, &link);
        let two = Chan::new(
            format!("{base};2"),
            4,
            &context,
            &exten,
            ids.uniqueid(),
            &link,
        );
        Dev {
            one,
            two: Some(two),
            data: data.to_string(),
            context,
            exten,
            optimization,
        }
    } else {
        let tech = iface.split('/').next().unwrap_or(iface);
        let seq = ids.chan_seq(tech);
        let uid = ids.uniqueid();
        let link = linkedid.unwrap_or(&uid).to_string();
        let one = Chan::new(format!("{iface}-{seq:08x}"), 0, "default", "s", uid, &link);
        Dev {
            one,
            two: None,
            data: data.to_string(),
            context: "default".into(),
            exten: data.to_string(),
            optimization: false,
        }
    }
}

/// The Originate sequence. Local channels follow the transcript's `orig1` exactly (its test
/// dialplan: the `;2` half runs NoOp, Answer, Wait(talk), Hangup; the `;1` half continues at
/// the requested exten with NoOp, Answer, Wait(talk + 1)).
pub(crate) fn originate(ids: &Ids, req: &OriginateReq, outcome: Outcome, now: u64) -> Vec<Step> {
    let mut s = Vec::new();
    let failure = |reason: u8, channel: &str, uniqueid: &str| {
        Step::Send(
            Pkt::new()
                .f("Event", "OriginateResponse")
                .f("Privilege", "call,all")
                .id(req.action_id.as_deref())
                .f("Response", if reason == 4 { "Success" } else { "Failure" })
                .f("Channel", channel)
                .f("Context", &req.context)
                .f("Exten", &req.exten)
                .f("Reason", reason.to_string())
                .f("Uniqueid", uniqueid)
                .f("CallerIDNum", &req.cid_num)
                .f("CallerIDName", &req.cid_name),
        )
    };
    if outcome == Outcome::Fail {
        if req.with_response {
            s.push(failure(0, &req.channel, "<null>"));
        }
        return s;
    }
    let mut d = new_dev(ids, &req.channel, None);
    let has_cid = req.cid_num != UNKNOWN || req.cid_name != UNKNOWN;
    s.push(Step::Send(ev::newchannel(&d.one)));
    if let Some(two) = &d.two {
        s.push(Step::Send(ev::newchannel(two)));
        s.push(Step::Send(ev::newexten(
            &d.one,
            "AppDial2",
            "(Outgoing Line)",
        )));
    }
    if has_cid {
        d.one.cid(&req.cid_num, &req.cid_name);
        s.push(Step::Send(ev::newcallerid(&d.one)));
        d.one.conn(&req.cid_num, &req.cid_name);
        s.push(Step::Send(ev::newconnectedline(&d.one)));
        if let Some(two) = &mut d.two {
            two.cid(&req.cid_num, &req.cid_name);
            two.conn(&req.cid_num, &req.cid_name);
            s.push(Step::Send(ev::newcallerid(two)));
            s.push(Step::Send(ev::newconnectedline(two)));
        }
    }
    if let Some(two) = &d.two {
        s.push(Step::Send(ev::local_bridge(&d.one, two, d.optimization)));
    }
    s.push(Step::Send(ev::dial_begin(None, &d.one, &d.data)));
    if let Some(two) = &mut d.two {
        let leg2 = format!("Local/{}@{} leg 2", d.exten, d.context);
        s.push(Step::Send(ev::newexten(two, "NoOp", &leg2)));
        two.priority = 2;
    }
    let (talk_ms, reason) = match outcome {
        Outcome::Answer { talk_ms } => (talk_ms, 4),
        Outcome::NoAnswer => (0, 3),
        _ => (0, 5),
    };
    if reason != 4 {
        // Derived: the agent leg rings (Ringing) or is busy (Busy(5)); the originate gives up.
        let (app, data, state, status, cause, disposition) = if reason == 3 {
            ("Ringing", "", 5, "NOANSWER", 19, "NO ANSWER")
        } else {
            ("Busy", "5", 7, "BUSY", 17, "BUSY")
        };
        if let Some(two) = &d.two {
            s.push(Step::Send(ev::newexten(two, app, data)));
        }
        d.one.state = state;
        s.push(Step::Send(ev::newstate(&d.one)));
        s.push(Step::Send(ev::dial_end(None, &d.one, status)));
        s.push(Step::Send(ev::hangup(&d.one, cause)));
        if req.with_response {
            s.push(failure(reason, &req.channel, "<null>"));
        }
        let mut legs = vec![(d.one.clone(), "AppDial2", "(Outgoing Line)")];
        if let Some(two) = &d.two {
            s.push(Step::Send(ev::hangup(two, cause)));
            legs.insert(0, (two.clone(), app, data));
        }
        for (c, app, data) in legs {
            s.push(Step::Cdr(ev::cdr(&CdrRec {
                source: req.cid_num.replace(UNKNOWN, ""),
                destination: c.exten.clone(),
                dcontext: c.context.clone(),
                callerid: ev::cdr_callerid(&req.cid_num, &req.cid_name),
                channel: c.name.clone(),
                dchannel: String::new(),
                last_app: app.into(),
                last_data: data.into(),
                start: now,
                answer: None,
                end: now,
                disposition,
                uniqueid: c.uniqueid.clone(),
            })));
        }
        return s;
    }
    let talk = talk_secs(talk_ms);
    if let Some(two) = &d.two {
        s.push(Step::Send(ev::newexten(two, "Answer", "")));
    } else {
        d.one.state = 5;
        s.push(Step::Send(ev::newstate(&d.one)));
    }
    d.one.state = 6;
    s.push(Step::Send(ev::newstate(&d.one)));
    s.push(Step::Send(ev::dial_end(None, &d.one, "ANSWER")));
    let p = req.priority;
    d.one.at(&req.context, &req.exten, p);
    let cont = format!("Local leg 1 continues at {}@{}", req.exten, req.context);
    s.push(Step::Send(ev::newexten(&d.one, "NoOp", &cont)));
    d.one.priority = p + 1;
    s.push(Step::Send(ev::newexten(&d.one, "Answer", "")));
    d.one.priority = p + 2;
    let wait1 = (talk + 1).to_string();
    s.push(Step::Send(ev::newexten(&d.one, "Wait", &wait1)));
    if let Some(two) = &mut d.two {
        two.state = 6;
        s.push(Step::Send(ev::newstate(two)));
    }
    if req.with_response {
        s.push(failure(4, &d.one.name, &d.one.uniqueid));
    }
    let end = now + talk;
    let mut cdr1 = CdrRec {
        source: req.cid_num.replace(UNKNOWN, ""),
        destination: req.exten.clone(),
        dcontext: req.context.clone(),
        callerid: ev::cdr_callerid(&req.cid_num, &req.cid_name),
        channel: d.one.name.clone(),
        dchannel: String::new(),
        last_app: "Wait".into(),
        last_data: wait1.clone(),
        start: now,
        answer: Some(now),
        end,
        disposition: "ANSWERED",
        uniqueid: d.one.uniqueid.clone(),
    };
    if let Some(two) = &mut d.two {
        two.priority = 3;
        s.push(Step::Send(ev::newexten(two, "Wait", &talk.to_string())));
        s.push(Step::Wait(talk_ms));
        two.priority = 4;
        let cdr2 = CdrRec {
            destination: d.exten.clone(),
            dcontext: d.context.clone(),
            channel: two.name.clone(),
            last_app: "Hangup".into(),
            last_data: String::new(),
            uniqueid: two.uniqueid.clone(),
            ..cdr1.clone()
        };
        s.push(Step::Cdr(ev::cdr(&cdr2)));
        s.push(Step::Cdr(ev::cdr(&cdr1)));
        // As recorded: the Cdrs come out before the Newexten of Hangup().
        s.push(Step::Send(ev::newexten(two, "Hangup", "")));
        s.push(Step::Send(ev::soft_hangup_request(two, 16)));
        s.push(Step::Send(ev::hangup_request(&d.one, 16)));
        s.push(Step::Send(ev::hangup(two, 16)));
        s.push(Step::Send(ev::soft_hangup_request(&d.one, 16)));
        s.push(Step::Send(ev::hangup(&d.one, 16)));
    } else {
        // Derived: the phone hangs up.
        s.push(Step::Wait(talk_ms));
        cdr1.dchannel = String::new();
        s.push(Step::Send(ev::hangup_request(&d.one, 16)));
        s.push(Step::Cdr(ev::cdr(&cdr1)));
        s.push(Step::Send(ev::hangup(&d.one, 16)));
    }
    s
}

/// A caller arriving from the trunk: `PJSIP/trunk-0000000N`, answered, in the dialplan at
/// `context`/`exten`.
fn trunk_caller(ids: &Ids, num: &str, name: &str, context: &str, exten: &str) -> Chan {
    let seq = ids.chan_seq("PJSIP");
    let uid = ids.uniqueid();
    let mut c = Chan::new(
        format!("PJSIP/trunk-{seq:08x}"),
        4,
        context,
        exten,
        uid.clone(),
        &uid,
    );
    let name = if name.is_empty() { UNKNOWN } else { name };
    c.cid(num, name);
    c.conn(num, name);
    c
}

fn synthetic_member(iface: &str, now: u64) -> Member {
    Member {
        interface: iface.into(),
        name: iface.into(),
        state_interface: iface.into(),
        dynamic: true,
        penalty: 0,
        calls_taken: 0,
        last_call: 0,
        last_pause: 0,
        login_time: now,
        in_call: false,
        status: 1,
        paused: false,
        reason: String::new(),
    }
}

/// An inbound call through a queue, answered by the member `iface`, following the transcript's
/// queue section (the caller is a trunk channel instead of the transcript's Local `;2` half; the
/// agent leg, AgentCalled/Connect/Complete, bridge, hangups and Cdrs are as recorded).
#[allow(clippy::too_many_arguments)]
pub(crate) fn inbound_via_queue(
    ids: &Ids,
    queue: &str,
    caller: &str,
    caller_name: &str,
    iface: &str,
    member: Option<Member>,
    talk_ms: u64,
    now: u64,
) -> Vec<Step> {
    let mut s = Vec::new();
    let talk = talk_secs(talk_ms);
    let m = member.unwrap_or_else(|| synthetic_member(iface, now));
    let queue_data = format!("{queue},,,,20");
    let mut c = trunk_caller(ids, caller, caller_name, "from-pstn", queue);
    s.push(Step::Send(ev::newchannel(&c)));
    s.push(Step::Send(ev::newexten(&c, "Answer", "")));
    c.state = 6;
    s.push(Step::Send(ev::newstate(&c)));
    c.priority = 2;
    s.push(Step::Send(ev::newexten(&c, "Queue", &queue_data)));
    for v in [
        "ANSWEREDTIME",
        "ANSWEREDTIME_MS",
        "DIALEDTIME",
        "DIALEDTIME_MS",
        "QUEUEWAIT",
        "QUEUEWAIT_MS",
    ] {
        s.push(Step::Send(ev::varset(&c, v, "")));
    }
    s.push(Step::Send(ev::queue_caller(
        "QueueCallerJoin",
        &c,
        queue,
        1,
    )));
    let mut d = new_dev(ids, iface, Some(&c.linkedid));
    let (cnum, cname) = (c.cid_num.clone(), c.cid_name.clone());
    s.push(Step::Send(ev::newchannel(&d.one)));
    if let Some(two) = &d.two {
        s.push(Step::Send(ev::newchannel(two)));
    }
    d.one.cid(&cnum, &cname);
    if d.two.is_some() {
        s.push(Step::Send(ev::newexten(
            &d.one,
            "AppQueue",
            "(Outgoing Line)",
        )));
    }
    s.push(Step::Send(ev::newcallerid(&d.one)));
    let peer = d.data.clone();
    s.push(Step::Send(ev::varset(&d.one, "DIALEDPEERNUMBER", &peer)));
    if let Some(two) = &mut d.two {
        s.push(Step::Send(ev::varset(two, "DIALEDPEERNUMBER", &peer)));
        two.cid(&cnum, &cname);
        two.conn(&cnum, &cname);
        s.push(Step::Send(ev::newcallerid(two)));
        s.push(Step::Send(ev::newconnectedline(two)));
        s.push(Step::Send(ev::local_bridge(&d.one, two, d.optimization)));
    }
    // app_queue gives the member channel the caller's exten and connected line; the cached
    // snapshot in DialBegin still shows the old ones (as recorded).
    let before = d.one.clone();
    d.one.exten = c.exten.clone();
    d.one.conn(&cnum, &cname);
    s.push(Step::Send(ev::agent_event(
        "AgentCalled",
        &c,
        &d.one,
        queue,
        &m,
    )));
    s.push(Step::Send(ev::dial_begin(Some(&c), &before, iface)));
    let mut busy = m.clone();
    busy.status = 2;
    if let Some(two) = &mut d.two {
        let noop = format!("agent {} answering", d.exten);
        s.push(Step::Send(ev::newexten(two, "NoOp", &noop)));
        two.priority = 2;
        s.push(Step::Send(ev::newexten(two, "Answer", "")));
        two.state = 6;
        s.push(Step::Send(ev::newstate(two)));
        s.push(Step::Send(ev::member_event(
            "QueueMemberStatus",
            queue,
            &busy,
        )));
        d.one.state = 6;
        s.push(Step::Send(ev::newstate(&d.one)));
        s.push(Step::Send(ev::newexten(
            &d.one,
            "AppQueue",
            "(Outgoing Line)",
        )));
    } else {
        d.one.state = 5;
        s.push(Step::Send(ev::newstate(&d.one)));
        d.one.state = 6;
        s.push(Step::Send(ev::newstate(&d.one)));
        s.push(Step::Send(ev::member_event(
            "QueueMemberStatus",
            queue,
            &busy,
        )));
    }
    s.push(Step::Send(ev::newconnectedline(&d.one)));
    s.push(Step::Send(ev::dial_end(Some(&c), &d.one, "ANSWER")));
    s.push(Step::Send(ev::queue_caller(
        "QueueCallerLeave",
        &c,
        queue,
        0,
    )));
    s.push(Step::Send(ev::varset(&c, "QUEUEPOSITION", "1")));
    s.push(Step::Send(ev::varset(&c, "QUEUEWAIT", "0")));
    s.push(Step::Send(ev::varset(&c, "QUEUEWAIT_MS", "0")));
    s.push(Step::Send(
        ev::agent_event("AgentConnect", &c, &d.one, queue, &m)
            .f("HoldTime", "0")
            .f("RingTime", "0"),
    ));
    let mut b = Bridge {
        id: ids.bridge_id(),
        channels: 0,
    };
    s.push(Step::Send(ev::bridge_event("BridgeCreate", &b, None)));
    b.channels = 1;
    s.push(Step::Send(ev::bridge_event(
        "BridgeEnter",
        &b,
        Some(&d.one),
    )));
    b.channels = 2;
    s.push(Step::Send(ev::bridge_event("BridgeEnter", &b, Some(&c))));
    s.push(Step::Send(ev::varset(&d.one, "BRIDGEPEER", &c.name)));
    s.push(Step::Send(ev::varset(&c, "BRIDGEPEER", &d.one.name)));
    let end = now + talk;
    let callerid = ev::cdr_callerid(&cnum, &cname);
    let base = CdrRec {
        source: cnum.clone(),
        destination: String::new(),
        dcontext: String::new(),
        callerid,
        channel: String::new(),
        dchannel: String::new(),
        last_app: String::new(),
        last_data: String::new(),
        start: now,
        answer: Some(now),
        end,
        disposition: "ANSWERED",
        uniqueid: String::new(),
    };
    if let Some(two) = &mut d.two {
        two.priority = 3;
        s.push(Step::Send(ev::newexten(two, "Wait", &talk.to_string())));
        s.push(Step::Wait(talk_ms));
        two.priority = 4;
        s.push(Step::Send(ev::newexten(two, "Hangup", "")));
        s.push(Step::Cdr(ev::cdr(&CdrRec {
            destination: d.exten.clone(),
            dcontext: d.context.clone(),
            channel: two.name.clone(),
            last_app: "Hangup".into(),
            uniqueid: two.uniqueid.clone(),
            ..base.clone()
        })));
        s.push(Step::Send(ev::soft_hangup_request(two, 16)));
        s.push(Step::Send(ev::hangup_request(&d.one, 16)));
        s.push(Step::Send(ev::hangup(two, 16)));
    } else {
        s.push(Step::Wait(talk_ms));
        s.push(Step::Send(ev::hangup_request(&d.one, 16)));
    }
    s.push(Step::Send(
        ev::agent_event("AgentComplete", &c, &d.one, queue, &m)
            .f("HoldTime", "0")
            .f("TalkTime", talk.to_string())
            .f("Reason", "agent"),
    ));
    s.push(Step::Cdr(ev::cdr(&CdrRec {
        destination: c.exten.clone(),
        dcontext: c.context.clone(),
        channel: c.name.clone(),
        dchannel: d.one.name.clone(),
        last_app: "Queue".into(),
        last_data: queue_data,
        uniqueid: c.uniqueid.clone(),
        ..base.clone()
    })));
    s.push(Step::Send(ev::varset(&d.one, "BRIDGEPEER", "")));
    s.push(Step::Send(ev::varset(&c, "BRIDGEPEER", "")));
    b.channels = 1;
    s.push(Step::Send(ev::bridge_event(
        "BridgeLeave",
        &b,
        Some(&d.one),
    )));
    s.push(Step::Send(ev::hangup(&d.one, 16)));
    b.channels = 0;
    s.push(Step::Send(ev::bridge_event("BridgeLeave", &b, Some(&c))));
    let ms = talk_ms.to_string();
    s.push(Step::Send(ev::varset(
        &c,
        "ANSWEREDTIME",
        &talk.to_string(),
    )));
    s.push(Step::Send(ev::varset(&c, "ANSWEREDTIME_MS", &ms)));
    s.push(Step::Send(ev::varset(&c, "DIALEDTIME", &talk.to_string())));
    s.push(Step::Send(ev::varset(&c, "DIALEDTIME_MS", &ms)));
    s.push(Step::Send(ev::soft_hangup_request(&c, 16)));
    s.push(Step::Send(ev::hangup(&c, 16)));
    s.push(Step::Send(ev::bridge_event("BridgeDestroy", &b, None)));
    let mut after = m;
    after.calls_taken += 1;
    after.last_call = end;
    s.push(Step::Send(ev::member_event(
        "QueueMemberStatus",
        queue,
        &after,
    )));
    s
}

/// The agent's device channel for calls it places or receives outside a queue: the PJSIP
/// channel, or for a Local interface the `;2` half (the one running the agent's dialplan),
/// announced with its `;1` half and LocalBridge.
fn device_open(ids: &Ids, iface: &str, linkedid: Option<&str>, s: &mut Vec<Step>) -> (Dev, Chan) {
    let mut d = new_dev(ids, iface, linkedid);
    s.push(Step::Send(ev::newchannel(&d.one)));
    match &mut d.two {
        Some(two) => {
            s.push(Step::Send(ev::newchannel(two)));
            s.push(Step::Send(ev::local_bridge(&d.one, two, d.optimization)));
            let main = two.clone();
            (d, main)
        }
        None => {
            let main = d.one.clone();
            (d, main)
        }
    }
}

fn device_close(d: &Dev, main: &Chan, cause: u32, s: &mut Vec<Step>) {
    s.push(Step::Send(ev::hangup(main, cause)));
    if d.two.is_some() {
        let mut one = d.one.clone();
        one.state = main.state;
        s.push(Step::Send(ev::hangup(&one, cause)));
    }
}

/// The agent dials `number` from the phone (derived, not recorded): Dial through the trunk,
/// then answer + talk, no answer, or busy.
pub(crate) fn outbound(
    ids: &Ids,
    iface: &str,
    number: &str,
    outcome: Outcome,
    now: u64,
) -> Vec<Step> {
    let mut s = Vec::new();
    let (d, mut a) = device_open(ids, iface, None, &mut s);
    let agent_num = d.exten.clone();
    a.cid(&agent_num, UNKNOWN);
    a.at("from-internal", number, 1);
    a.state = 4;
    s.push(Step::Send(ev::newcallerid(&a)));
    let dial = format!("PJSIP/{number}@trunk,30");
    s.push(Step::Send(ev::newexten(&a, "Dial", &dial)));
    let seq = ids.chan_seq("PJSIP");
    let mut t = Chan::new(
        format!("PJSIP/trunk-{seq:08x}"),
        0,
        "from-trunk",
        number,
        ids.uniqueid(),
        &a.linkedid,
    );
    t.cid(number, UNKNOWN);
    t.conn(&agent_num, UNKNOWN);
    s.push(Step::Send(ev::newchannel(&t)));
    s.push(Step::Send(ev::dial_begin(
        Some(&a),
        &t,
        &format!("{number}@trunk"),
    )));
    t.state = 5;
    s.push(Step::Send(ev::newstate(&t)));
    let mut cdr = CdrRec {
        source: agent_num.clone(),
        destination: number.into(),
        dcontext: "from-internal".into(),
        callerid: ev::cdr_callerid(&agent_num, UNKNOWN),
        channel: a.name.clone(),
        dchannel: t.name.clone(),
        last_app: "Dial".into(),
        last_data: dial.clone(),
        start: now,
        answer: None,
        end: now,
        disposition: "ANSWERED",
        uniqueid: a.uniqueid.clone(),
    };
    match outcome {
        Outcome::Answer { talk_ms } => {
            let talk = talk_secs(talk_ms);
            t.state = 6;
            s.push(Step::Send(ev::newstate(&t)));
            s.push(Step::Send(ev::dial_end(Some(&a), &t, "ANSWER")));
            a.state = 6;
            s.push(Step::Send(ev::newstate(&a)));
            let mut b = Bridge {
                id: ids.bridge_id(),
                channels: 0,
            };
            s.push(Step::Send(ev::bridge_event("BridgeCreate", &b, None)));
            b.channels = 1;
            s.push(Step::Send(ev::bridge_event("BridgeEnter", &b, Some(&a))));
            b.channels = 2;
            s.push(Step::Send(ev::bridge_event("BridgeEnter", &b, Some(&t))));
            s.push(Step::Wait(talk_ms));
            s.push(Step::Send(ev::hangup_request(&t, 16)));
            b.channels = 1;
            s.push(Step::Send(ev::bridge_event("BridgeLeave", &b, Some(&t))));
            s.push(Step::Send(ev::hangup(&t, 16)));
            b.channels = 0;
            s.push(Step::Send(ev::bridge_event("BridgeLeave", &b, Some(&a))));
            cdr.answer = Some(now);
            cdr.end = now + talk;
            s.push(Step::Cdr(ev::cdr(&cdr)));
            device_close(&d, &a, 16, &mut s);
            s.push(Step::Send(ev::bridge_event("BridgeDestroy", &b, None)));
        }
        Outcome::NoAnswer | Outcome::Busy | Outcome::Fail => {
            let (status, cause, disposition) = match outcome {
                Outcome::Busy => ("BUSY", 17, "BUSY"),
                Outcome::NoAnswer => ("NOANSWER", 19, "NO ANSWER"),
                _ => ("CHANUNAVAIL", 0, "FAILED"),
            };
            if outcome == Outcome::Busy {
                t.state = 7;
                s.push(Step::Send(ev::newstate(&t)));
            }
            s.push(Step::Send(ev::hangup(&t, cause)));
            s.push(Step::Send(ev::dial_end(Some(&a), &t, status)));
            cdr.disposition = disposition;
            s.push(Step::Cdr(ev::cdr(&cdr)));
            device_close(&d, &a, cause, &mut s);
        }
    }
    s
}

/// A caller reaches the agent directly, the agent answers and blind-transfers the caller to
/// `to` (derived, not recorded): BlindTransfer, the agent's leg hangs up, the caller is dialed
/// on to `PJSIP/{to}` and that call ends right away.
pub(crate) fn transfer_away(ids: &Ids, iface: &str, caller: &str, to: &str, now: u64) -> Vec<Step> {
    let mut s = Vec::new();
    let agent_exten = local_parts(iface).map(|(e, _, _)| e).unwrap_or_else(|| {
        iface
            .split_once('/')
            .map(|(_, d)| d)
            .unwrap_or(iface)
            .into()
    });
    let mut c = trunk_caller(ids, caller, "", "from-pstn", &agent_exten);
    s.push(Step::Send(ev::newchannel(&c)));
    s.push(Step::Send(ev::newexten(&c, "Dial", &format!("{iface},30"))));
    let (d, mut a) = device_open(ids, iface, Some(&c.linkedid), &mut s);
    a.cid(caller, UNKNOWN);
    s.push(Step::Send(ev::newcallerid(&a)));
    s.push(Step::Send(ev::dial_begin(Some(&c), &a, &d.data)));
    a.state = 5;
    s.push(Step::Send(ev::newstate(&a)));
    a.state = 6;
    s.push(Step::Send(ev::newstate(&a)));
    s.push(Step::Send(ev::dial_end(Some(&c), &a, "ANSWER")));
    c.state = 6;
    s.push(Step::Send(ev::newstate(&c)));
    let mut b = Bridge {
        id: ids.bridge_id(),
        channels: 0,
    };
    s.push(Step::Send(ev::bridge_event("BridgeCreate", &b, None)));
    b.channels = 1;
    s.push(Step::Send(ev::bridge_event("BridgeEnter", &b, Some(&c))));
    b.channels = 2;
    s.push(Step::Send(ev::bridge_event("BridgeEnter", &b, Some(&a))));
    s.push(Step::Send(ev::blind_transfer(
        &a,
        &c,
        &b,
        "from-internal",
        to,
    )));
    b.channels = 1;
    s.push(Step::Send(ev::bridge_event("BridgeLeave", &b, Some(&a))));
    s.push(Step::Cdr(ev::cdr(&CdrRec {
        source: caller.into(),
        destination: agent_exten.clone(),
        dcontext: "from-pstn".into(),
        callerid: ev::cdr_callerid(caller, UNKNOWN),
        channel: c.name.clone(),
        dchannel: a.name.clone(),
        last_app: "Dial".into(),
        last_data: format!("{iface},30"),
        start: now,
        answer: Some(now),
        end: now,
        disposition: "ANSWERED",
        uniqueid: c.uniqueid.clone(),
    })));
    device_close(&d, &a, 16, &mut s);
    b.channels = 0;
    s.push(Step::Send(ev::bridge_event("BridgeLeave", &b, Some(&c))));
    s.push(Step::Send(ev::bridge_event("BridgeDestroy", &b, None)));
    c.at("from-internal", to, 1);
    let dial = format!("PJSIP/{to},30");
    s.push(Step::Send(ev::newexten(&c, "Dial", &dial)));
    let seq = ids.chan_seq("PJSIP");
    let mut x = Chan::new(
        format!("PJSIP/{to}-{seq:08x}"),
        0,
        "from-internal",
        to,
        ids.uniqueid(),
        &c.linkedid,
    );
    x.cid(caller, UNKNOWN);
    s.push(Step::Send(ev::newchannel(&x)));
    s.push(Step::Send(ev::dial_begin(Some(&c), &x, to)));
    x.state = 6;
    s.push(Step::Send(ev::newstate(&x)));
    s.push(Step::Send(ev::dial_end(Some(&c), &x, "ANSWER")));
    s.push(Step::Send(ev::hangup(&x, 16)));
    s.push(Step::Send(ev::hangup(&c, 16)));
    s.push(Step::Cdr(ev::cdr(&CdrRec {
        source: caller.into(),
        destination: to.into(),
        dcontext: "from-internal".into(),
        callerid: ev::cdr_callerid(caller, UNKNOWN),
        channel: c.name.clone(),
        dchannel: x.name.clone(),
        last_app: "Dial".into(),
        last_data: dial,
        start: now,
        answer: Some(now),
        end: now,
        disposition: "ANSWERED",
        uniqueid: c.uniqueid.clone(),
    })));
    s
}

/// Puts the sequence in emission order: Cdr events where Asterisk emitted them in the recorded
/// run (`cdr_first`), or all after the last Hangup (the other order seen on other runs).
pub(crate) fn order(steps: Vec<Step>, cdr_first: bool) -> Vec<Step> {
    if cdr_first {
        return steps;
    }
    let (cdrs, mut rest): (Vec<Step>, Vec<Step>) =
        steps.into_iter().partition(|s| matches!(s, Step::Cdr(_)));
    rest.extend(cdrs);
    rest
}
