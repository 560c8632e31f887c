//! The demo phone line of `cargo xtask run`: an agent baresip the app drives, plus a SIPp far
//! end that answers ANY number dialed as `sip:<number>@<far SIP address>` (rings 1 s, answers,
//! waits for the agent's BYE), any number of times.
//!
//! (A baresip far end cannot do this on 1.0.0: it answers only its own user part and replies
//! `404 Not Found` for every other number.)

use std::net::SocketAddr;

use crate::{Baresip, BaresipConfig, PeerError, Scenario, Sipp};

/// How the demo far end treats each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoFarEnd {
    /// Rings `ring_ms`, answers, then waits for the agent to hang up.
    RingThenAnswer { ring_ms: u64 },
    /// Answers at once and hangs up itself after `talk_ms` (benchmarks: every call ends on
    /// its own, so the next dial starts from an idle line).
    AnswerThenHangUp { talk_ms: u64 },
}

/// The agent and the far end; both stop when this is dropped.
#[derive(Debug)]
pub struct DemoLine {
    agent: Baresip,
    far: Sipp,
}

impl DemoLine {
    /// Starts the far end (rings 1 s, answers, waits for the agent's hang-up), then the agent,
    /// each on free loopback ports.
    pub fn start() -> Result<DemoLine, PeerError> {
        DemoLine::start_with(DemoFarEnd::RingThenAnswer { ring_ms: 1000 })
    }

    /// Like [`DemoLine::start`] with a chosen far-end behaviour.
    pub fn start_with(far_end: DemoFarEnd) -> Result<DemoLine, PeerError> {
        let scenario = match far_end {
            DemoFarEnd::RingThenAnswer { ring_ms } => Scenario::RingAnswer { ring_ms },
            DemoFarEnd::AnswerThenHangUp { talk_ms } => Scenario::AnswerThenBye { talk_ms },
        };
        let far = Sipp::uas_unlimited(scenario)?;
        let agent = Baresip::start(BaresipConfig::agent())?;
        Ok(DemoLine { agent, far })
    }

    /// Where the app connects (Settings → baresip → control address).
    pub fn ctrl_addr(&self) -> SocketAddr {
        self.agent.ctrl_addr()
    }

    /// `host:port` numbers are sent to (Settings → baresip → SIP domain).
    pub fn sip_domain(&self) -> String {
        self.far.domain()
    }

    pub fn agent(&self) -> &Baresip {
        &self.agent
    }

    /// Mutable access (e.g. to kill and restart the agent).
    pub fn agent_mut(&mut self) -> &mut Baresip {
        &mut self.agent
    }

    pub fn far(&self) -> &Sipp {
        &self.far
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    fn send(s: &mut TcpStream, json: &str) {
        s.write_all(format!("{}:{},", json.len(), json).as_bytes())
            .unwrap();
    }

    /// Reads until `needle` appears in the stream (or panics after 10 s).
    fn read_until(s: &mut TcpStream, got: &mut String, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 8192];
        while !got.contains(needle) {
            assert!(Instant::now() < deadline, "no {needle} in {got}");
            if let Ok(n) = s.read(&mut buf) {
                assert!(n > 0, "closed; got {got}");
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    }

    /// Connects to the demo agent's control port (reads time out so `read_until` can give up).
    fn connect(demo: &DemoLine) -> TcpStream {
        let s = TcpStream::connect(demo.ctrl_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s
    }

    /// Dials `number` at the demo far end and waits until the call is established.
    fn dial_until_established(s: &mut TcpStream, got: &mut String, demo: &DemoLine, number: &str) {
        let uri = format!("sip:{number}@{}", demo.sip_domain());
        send(
            s,
            &format!(r#"{{"command":"dial","params":"{uri}","token":"d"}}"#),
        );
        read_until(s, got, "CALL_ESTABLISHED");
    }

    #[test]
    fn demo_far_end_answers_any_number_twice() {
        let demo = DemoLine::start().unwrap();
        let mut s = connect(&demo);
        for number in ["+50640004000", "4000"] {
            let mut got = String::new();
            dial_until_established(&mut s, &mut got, &demo, number);
            send(&mut s, r#"{"command":"hangup","token":"h"}"#);
            read_until(&mut s, &mut got, "CALL_CLOSED");
        }
    }

    #[test]
    fn demo_far_end_can_hang_up_by_itself() {
        let demo = DemoLine::start_with(DemoFarEnd::AnswerThenHangUp { talk_ms: 200 }).unwrap();
        let mut s = connect(&demo);
        for number in ["+50640004000", "+50640004001"] {
            let mut got = String::new();
            dial_until_established(&mut s, &mut got, &demo, number);
            read_until(&mut s, &mut got, "Connection reset by peer");
        }
    }
}
