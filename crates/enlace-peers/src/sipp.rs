//! SIPp 3.6 far ends (UAS) and callers (UAC) with the scenarios of `telephony-peers.md` §7,
//! shipped inside the crate. Every run uses `-m 1 -timeout N -timeout_error -nostdin`, binds
//! SIP and media on 127.0.0.1 only, and traces its messages to a file in its temp dir.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::ports;
use crate::process::{kill_now, log_tail, spawn_logged, wait_timeout};
use crate::{find_program, PeerError};

const UAS_RING_ANSWER: &str = include_str!("../scenarios/uas_ring_answer.xml");
const UAS_EARLY_MEDIA: &str = include_str!("../scenarios/uas_early_media.xml");
const UAS_ANSWER_THEN_BYE: &str = include_str!("../scenarios/uas_answer_then_bye.xml");
const UAS_BUSY: &str = include_str!("../scenarios/uas_busy.xml");
const UAC_CUSTOMER: &str = include_str!("../scenarios/uac_customer.xml");
const UAC_RING_CANCEL: &str = include_str!("../scenarios/uac_ring_cancel.xml");

/// Overall limit of one SIPp run (`-timeout`), so a broken scenario cannot hang CI.
const RUN_TIMEOUT_S: u32 = 60;
const START_ATTEMPTS: usize = 5;
const BIND_TIMEOUT: Duration = Duration::from_secs(3);

/// What a SIPp far end does with the INVITE it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// 100, 180, rings `ring_ms`, 200 with SDP, waits for the caller's BYE.
    RingAnswer { ring_ms: u64 },
    /// 100, 183 WITH SDP (early media: baresip emits CALL_PROGRESS), `ring_ms`, 200, BYE.
    EarlyMedia { ring_ms: u64 },
    /// Answers at once, talks `talk_ms`, then hangs up itself (sends BYE).
    AnswerThenBye { talk_ms: u64 },
    /// 180, 300 ms, then 486 Busy Here.
    Busy,
}

impl Scenario {
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Scenario::RingAnswer { .. } => ("uas_ring_answer.xml", UAS_RING_ANSWER),
            Scenario::EarlyMedia { .. } => ("uas_early_media.xml", UAS_EARLY_MEDIA),
            Scenario::AnswerThenBye { .. } => ("uas_answer_then_bye.xml", UAS_ANSWER_THEN_BYE),
            Scenario::Busy => ("uas_busy.xml", UAS_BUSY),
        }
    }

    fn pause_ms(self) -> Option<u64> {
        match self {
            Scenario::RingAnswer { ring_ms } | Scenario::EarlyMedia { ring_ms } => Some(ring_ms),
            Scenario::AnswerThenBye { talk_ms } => Some(talk_ms),
            Scenario::Busy => None,
        }
    }
}

/// A running SIPp. Killed by PID when dropped.
#[derive(Debug)]
pub struct Sipp {
    dir: TempDir,
    child: Option<Child>,
    status: Option<ExitStatus>,
    port: u16,
    log_path: PathBuf,
    message_path: PathBuf,
}

impl Sipp {
    /// A far end for ONE call (`-m 1`, `-timeout 60`) listening on a free UDP port of
    /// 127.0.0.1; dial it at [`Sipp::uri_for`] (any user part is answered).
    pub fn uas(scenario: Scenario) -> Result<Sipp, PeerError> {
        Sipp::uas_with(scenario, Some(1))
    }

    /// A far end that takes ANY number of calls and has no global timeout: it runs until
    /// dropped (the demo line, reconnect tests). An unexpected CANCEL is answered 200 by
    /// SIPp's default behaviours; that call is then aborted, the others go on.
    pub fn uas_unlimited(scenario: Scenario) -> Result<Sipp, PeerError> {
        Sipp::uas_with(scenario, None)
    }

    fn uas_with(scenario: Scenario, max_calls: Option<u32>) -> Result<Sipp, PeerError> {
        let (name, xml) = scenario.file();
        let pause = scenario.pause_ms();
        Sipp::run(name, xml, max_calls, |cmd| {
            if let Some(ms) = pause {
                cmd.arg("-d").arg(ms.to_string());
            }
        })
    }

    /// A customer calling `target` (the agent's SIP address) with the caller ID
    /// `"caller_name" <sip:caller_number@…>`; the Request-URI user is `callee_user`. When
    /// answered it talks `talk_ms` and hangs up; when rejected (486/480/603) it ACKs and ends.
    pub fn call(
        target: SocketAddr,
        callee_user: &str,
        caller_number: &str,
        caller_name: &str,
        talk_ms: u64,
    ) -> Result<Sipp, PeerError> {
        Sipp::customer(
            ("uac_customer.xml", UAC_CUSTOMER),
            target,
            callee_user,
            caller_number,
            caller_name,
            talk_ms,
        )
    }

    /// A customer who calls `target`, lets it ring `ring_ms` and gives up (CANCEL): for
    /// ringing-only measurements (notifications) that must not leave a call behind.
    pub fn call_then_cancel(
        target: SocketAddr,
        callee_user: &str,
        caller_number: &str,
        caller_name: &str,
        ring_ms: u64,
    ) -> Result<Sipp, PeerError> {
        Sipp::customer(
            ("uac_ring_cancel.xml", UAC_RING_CANCEL),
            target,
            callee_user,
            caller_number,
            caller_name,
            ring_ms,
        )
    }

    /// One customer call of a UAC scenario; `pause_ms` is its `-d` (talk or ring time).
    fn customer(
        (name, xml): (&str, &str),
        target: SocketAddr,
        callee_user: &str,
        caller_number: &str,
        caller_name: &str,
        pause_ms: u64,
    ) -> Result<Sipp, PeerError> {
        Sipp::run(name, xml, Some(1), |cmd| {
            cmd.arg(target.to_string())
                .arg("-s")
                .arg(callee_user)
                .arg("-key")
                .arg("caller")
                .arg(caller_number)
                .arg("-key")
                .arg("caller_name")
                .arg(caller_name)
                .arg("-d")
                .arg(pause_ms.to_string());
        })
    }

    fn run(
        name: &str,
        xml: &str,
        max_calls: Option<u32>,
        extra: impl Fn(&mut Command),
    ) -> Result<Sipp, PeerError> {
        let program = find_program("sipp").ok_or_else(|| PeerError::Missing("sipp".into()))?;
        let dir = tempfile::Builder::new()
            .prefix("enlace-sipp-")
            .tempdir()
            .map_err(|e| PeerError::io("create temp dir", e))?;
        let scenario = dir.path().join(name);
        std::fs::write(&scenario, xml).map_err(|e| PeerError::io("write scenario", e))?;
        let log_path = dir.path().join("sipp.log");
        let message_path = dir.path().join("messages.log");
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let none = || PeerError::Startup {
                what: "sipp".into(),
                detail: "no free port".into(),
            };
            let port = ports::control_port().ok_or_else(none)?;
            let media = ports::media_ports(4).ok_or_else(none)?;
            let mut cmd = Command::new(&program);
            cmd.current_dir(dir.path()).arg("-sf").arg(&scenario);
            extra(&mut cmd);
            cmd.args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-rtp_echo"])
                .arg("-p")
                .arg(port.to_string())
                .arg("-mp")
                .arg(media.to_string())
                .arg("-nostdin");
            if let Some(calls) = max_calls {
                cmd.arg("-m")
                    .arg(calls.to_string())
                    .arg("-timeout")
                    .arg(RUN_TIMEOUT_S.to_string())
                    .arg("-timeout_error");
            }
            cmd.args(["-trace_msg", "-message_file"])
                .arg(&message_path)
                .args(["-trace_err", "-error_file"])
                .arg(dir.path().join("errors.log"));
            let mut child = spawn_logged(cmd, &log_path)?;
            match wait_bound(&mut child, port, &log_path) {
                Ok(()) => {
                    return Ok(Sipp {
                        dir,
                        child: Some(child),
                        status: None,
                        port,
                        log_path,
                        message_path,
                    });
                }
                Err(e) => {
                    kill_now(&mut child);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| PeerError::Timeout {
            what: "sipp".into(),
        }))
    }

    /// SIPp's own SIP address (UDP).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// `127.0.0.1:<port>`: the "SIP domain" to send numbers to.
    pub fn domain(&self) -> String {
        self.addr().to_string()
    }

    /// `sip:<number>@127.0.0.1:<port>`.
    pub fn uri_for(&self, number: &str) -> String {
        format!("sip:{number}@{}", self.domain())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIPp's screen output.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The `-trace_msg` message file (every SIP message sent and received).
    pub fn message_path(&self) -> &Path {
        &self.message_path
    }

    /// Waits for SIPp to exit (0 = the scenario succeeded). `PeerError::Timeout` if it still
    /// runs after `timeout` (it is then killed on drop).
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, PeerError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let Some(child) = self.child.as_mut() else {
            return Err(PeerError::Startup {
                what: "sipp".into(),
                detail: "not running".into(),
            });
        };
        match wait_timeout(child, timeout) {
            Some(status) => {
                self.status = Some(status);
                self.child = None;
                Ok(status)
            }
            None => Err(PeerError::Timeout {
                what: "sipp to exit".into(),
            }),
        }
    }

    /// The message trace so far (complete once SIPp has exited).
    pub fn messages(&self) -> String {
        std::fs::read_to_string(&self.message_path).unwrap_or_default()
    }

    /// The Request-URI of the first INVITE in the message trace (for a far end: the INVITE it
    /// received), e.g. `sip:+50640004000@127.0.0.1:21234`. Read it after [`Sipp::wait`].
    pub fn received_request_uri(&self) -> Option<String> {
        request_uri(&self.messages(), "INVITE")
    }

    /// The temporary directory of this run.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_now(&mut child);
        }
    }
}

/// The Request-URI of the first `method` request line in a SIPp message trace.
fn request_uri(trace: &str, method: &str) -> Option<String> {
    trace.lines().find_map(|line| {
        let mut parts = line.trim().split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(uri), Some(version))
                if m == method && version.starts_with("SIP/2.0") =>
            {
                Some(uri.to_owned())
            }
            _ => None,
        }
    })
}

fn wait_bound(child: &mut Child, port: u16, log: &Path) -> Result<(), PeerError> {
    let deadline = Instant::now() + BIND_TIMEOUT;
    loop {
        if ports::udp_bound(port) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(PeerError::Startup {
                what: "sipp".into(),
                detail: format!("exited with {status}: {}", log_tail(log, 800)),
            });
        }
        if Instant::now() >= deadline {
            return Err(PeerError::Timeout {
                what: "sipp to bind its port".into(),
            });
        }
        sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Baresip, BaresipConfig};

    #[test]
    fn finds_the_request_uri_in_a_trace() {
        let trace = "----------------------------------------------- 2024-01-01\n\
                     UDP message received [512] bytes :\n\n\
                     INVITE sip:+50640004000@127.0.0.1:21000 SIP/2.0\n\
                     Via: SIP/2.0/UDP 127.0.0.1:5061\n";
        assert_eq!(
            request_uri(trace, "INVITE").as_deref(),
            Some("sip:+50640004000@127.0.0.1:21000")
        );
        assert_eq!(request_uri(trace, "BYE"), None);
    }

    #[test]
    fn scenarios_are_shipped() {
        for xml in [
            UAS_RING_ANSWER,
            UAS_EARLY_MEDIA,
            UAS_ANSWER_THEN_BYE,
            UAS_BUSY,
            UAC_CUSTOMER,
            UAC_RING_CANCEL,
        ] {
            assert!(xml.contains("<scenario") && xml.contains("</scenario>"));
        }
    }

    #[test]
    fn customer_calls_an_auto_answering_baresip() {
        // baresip answers at once, SIPp talks 100 ms and hangs up: a complete call, rc 0.
        let far = Baresip::start(BaresipConfig::far()).unwrap();
        let mut caller = Sipp::call(
            far.sip_addr(),
            far.user(),
            "+15550001",
            "ACME Customer",
            100,
        )
        .unwrap();
        let status = caller.wait(Duration::from_secs(20)).unwrap();
        assert!(
            status.success(),
            "{status}: {}",
            log_tail(caller.log_path(), 2000)
        );
        let trace = caller.messages();
        assert!(
            trace.contains("From: \"ACME Customer\" <sip:+15550001@127.0.0.1:"),
            "{trace}"
        );
        assert_eq!(
            request_uri(&trace, "INVITE"),
            Some(format!("sip:2002@{}", far.sip_addr()))
        );
    }

    #[test]
    fn customer_gives_up_on_a_ringing_agent() {
        // The agent (manual answer) rings; SIPp cancels after 200 ms and the call ends clean.
        let agent = Baresip::start(BaresipConfig::agent()).unwrap();
        let mut caller =
            Sipp::call_then_cancel(agent.sip_addr(), agent.user(), "+15550001", "ACME", 200)
                .unwrap();
        let status = caller.wait(Duration::from_secs(20)).unwrap();
        assert!(
            status.success(),
            "{status}: {}",
            log_tail(caller.log_path(), 2000)
        );
        let trace = caller.messages();
        assert!(trace.contains("SIP/2.0 487"), "{trace}");
    }

    #[test]
    fn busy_far_end_is_killed_on_drop() {
        let sipp = Sipp::uas(Scenario::Busy).unwrap();
        let port = sipp.addr().port();
        assert!(ports::udp_bound(port));
        assert_eq!(sipp.uri_for("4000"), format!("sip:4000@127.0.0.1:{port}"));
        drop(sipp);
        assert!(!ports::udp_bound(port));
    }
}
