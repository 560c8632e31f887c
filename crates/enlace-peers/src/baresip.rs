//! A headless baresip 1.0.0 instance (configs as in `telephony-peers.md` §4): `ausine` as the
//! audio source, `aubridge,null` as a null sink, `ctrl_tcp` on a free port, no registrar.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::ports;
use crate::process::{kill_now, log_tail, spawn_logged, terminate};
use crate::{find_program, PeerError};

const READY_TIMEOUT: Duration = Duration::from_secs(5);
const START_ATTEMPTS: usize = 5;
const RTP_PORTS: u16 = 64;

/// What the instance is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The softphone the app drives: `answermode=manual` (answers through ctrl_tcp).
    Agent,
    /// A far end that answers every call at once (`answermode=auto`), whatever number was
    /// dialed at it.
    FarAutoAnswer,
}

/// How to start a baresip peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaresipConfig {
    pub role: Role,
    /// Display name of the account (`"Agent 1001"`).
    pub display: String,
    /// User part of the account AOR (`1001`).
    pub user: String,
    /// Pass `-s` (SIP trace into the log).
    pub sip_trace: bool,
}

impl BaresipConfig {
    /// The agent softphone: "Agent 1001" <sip:1001@…>, manual answer.
    pub fn agent() -> Self {
        BaresipConfig {
            role: Role::Agent,
            display: "Agent 1001".into(),
            user: "1001".into(),
            sip_trace: false,
        }
    }

    /// An auto-answering far end: "Far End 2002" <sip:2002@…>.
    pub fn far() -> Self {
        BaresipConfig {
            role: Role::FarAutoAnswer,
            display: "Far End 2002".into(),
            user: "2002".into(),
            sip_trace: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    ctrl: u16,
    sip: u16,
    rtp: u16,
}

/// A running baresip. Stopped (TERM, TERM, KILL) when dropped.
#[derive(Debug)]
pub struct Baresip {
    config: BaresipConfig,
    dir: TempDir,
    ports: Ports,
    child: Option<Child>,
    log_path: PathBuf,
}

impl Baresip {
    /// Writes `config` + `accounts` into a new temporary directory, picks free ports, starts
    /// `baresip -f <dir>` and waits until ctrl_tcp accepts and the SIP UDP port is bound.
    /// Retries on other ports if the chosen ones were taken meanwhile.
    pub fn start(config: BaresipConfig) -> Result<Baresip, PeerError> {
        let program =
            find_program("baresip").ok_or_else(|| PeerError::Missing("baresip".into()))?;
        let dir = tempfile::Builder::new()
            .prefix("enlace-baresip-")
            .tempdir()
            .map_err(|e| PeerError::io("create temp dir", e))?;
        let log_path = dir.path().join("baresip.log");
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let ports = pick_ports()?;
            write_files(dir.path(), &config, ports)?;
            let mut child = spawn(&program, dir.path(), &config, &log_path)?;
            match wait_ready(&mut child, ports, &log_path, READY_TIMEOUT) {
                Ok(()) => {
                    return Ok(Baresip {
                        config,
                        dir,
                        ports,
                        child: Some(child),
                        log_path,
                    });
                }
                Err(e) => {
                    kill_now(&mut child);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| PeerError::Timeout {
            what: "baresip".into(),
        }))
    }

    /// The ctrl_tcp address (`127.0.0.1:<port>`).
    pub fn ctrl_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.ports.ctrl))
    }

    /// The SIP address (UDP and TCP; TLS is on the next port).
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.ports.sip))
    }

    /// The account AOR, e.g. `sip:1001@127.0.0.1:21234`.
    pub fn aor(&self) -> String {
        format!("sip:{}@127.0.0.1:{}", self.config.user, self.ports.sip)
    }

    /// The account's user part (`1001`).
    pub fn user(&self) -> &str {
        &self.config.user
    }

    /// The PID of the running process, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// baresip's stdout/stderr (appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The directory holding `config` and `accounts`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops the process: TERM, 0.3 s, TERM, 0.3 s, KILL, then reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }

    /// SIGKILL at once (simulates a crash), then reaps it.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_now(&mut child);
        }
    }

    /// Starts baresip again on the SAME ports and directory (stops it first if it still
    /// runs). Waits until it is ready; retries for a few seconds if a port is not free yet.
    pub fn restart(&mut self) -> Result<(), PeerError> {
        self.kill();
        let program =
            find_program("baresip").ok_or_else(|| PeerError::Missing("baresip".into()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = spawn(&program, self.dir.path(), &self.config, &self.log_path)?;
            match wait_ready(&mut child, self.ports, &self.log_path, READY_TIMEOUT) {
                Ok(()) => {
                    self.child = Some(child);
                    return Ok(());
                }
                Err(e) => {
                    kill_now(&mut child);
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                    sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pick_ports() -> Result<Ports, PeerError> {
    let none = || PeerError::Startup {
        what: "baresip".into(),
        detail: "no free ports".into(),
    };
    Ok(Ports {
        ctrl: ports::control_port().ok_or_else(none)?,
        sip: ports::sip_port_pair().ok_or_else(none)?,
        rtp: ports::media_ports(RTP_PORTS).ok_or_else(none)?,
    })
}

fn spawn(
    program: &Path,
    dir: &Path,
    config: &BaresipConfig,
    log: &Path,
) -> Result<Child, PeerError> {
    let mut cmd = Command::new(program);
    cmd.arg("-f").arg(dir).current_dir(dir);
    if config.sip_trace {
        cmd.arg("-s");
    }
    spawn_logged(cmd, log)
}

/// Keeps a display name from breaking the quoted account line.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect()
}

fn config_text(ports: Ports) -> String {
    format!(
        "# baresip 1.0.0 -- headless instance written by enlace-peers\n\
         poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:{sip}\n\
         net_interface\t\t127.0.0.1\n\
         dns_server\t\t127.0.0.1:53\n\
         call_local_timeout\t120\n\
         call_max_calls\t\t4\n\
         audio_source\t\tausine,440\n\
         audio_player\t\taubridge,null\n\
         audio_alert\t\taubridge,null\n\
         ausrc_srate\t\t48000\n\
         ausrc_channels\t\t2\n\
         audio_level\t\tno\n\
         rtp_ports\t\t{rtp_lo}-{rtp_hi}\n\
         rtcp_mux\t\tno\n\
         jitter_buffer_delay\t5-10\n\
         rtp_stats\t\tno\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\tausine.so\n\
         module\t\t\taufile.so\n\
         module\t\t\taubridge.so\n\
         module_tmp\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         module_app\t\tdebug_cmd.so\n\
         module_app\t\tctrl_tcp.so\n\
         ctrl_tcp_listen\t\t127.0.0.1:{ctrl}\n",
        sip = ports.sip,
        rtp_lo = ports.rtp,
        rtp_hi = ports.rtp + RTP_PORTS - 1,
        ctrl = ports.ctrl,
    )
}

fn accounts_text(config: &BaresipConfig, ports: Ports) -> String {
    let mode = match config.role {
        Role::Agent => "manual",
        Role::FarAutoAnswer => "auto",
    };
    format!(
        "\"{}\" <sip:{}@127.0.0.1:{}>;regint=0;answermode={mode};audio_codecs=PCMU,PCMA\n",
        clean(&config.display),
        clean(&config.user),
        ports.sip
    )
}

fn write_files(dir: &Path, config: &BaresipConfig, ports: Ports) -> Result<(), PeerError> {
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| PeerError::io(format!("write {name}"), e))
    };
    write("config", config_text(ports))?;
    write("accounts", accounts_text(config, ports))
}

/// Until ctrl_tcp accepts a connection (closed at once: ctrl_tcp keeps only the newest client,
/// so the real client connecting later is fine) and the SIP UDP port is bound.
fn wait_ready(
    child: &mut Child,
    ports: Ports,
    log: &Path,
    timeout: Duration,
) -> Result<(), PeerError> {
    let deadline = Instant::now() + timeout;
    let ctrl = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, ports.ctrl));
    let (mut ctrl_ok, mut sip_ok) = (false, false);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(PeerError::Startup {
                what: "baresip".into(),
                detail: format!("exited with {status}: {}", log_tail(log, 800)),
            });
        }
        if !ctrl_ok {
            ctrl_ok = TcpStream::connect_timeout(&ctrl, Duration::from_millis(200)).is_ok();
        }
        if !sip_ok {
            sip_ok = ports::udp_bound(ports.sip);
        }
        if ctrl_ok && sip_ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(PeerError::Startup {
                what: "baresip".into(),
                detail: format!("not ready after {timeout:?}: {}", log_tail(log, 800)),
            });
        }
        sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn frame(json: &str) -> Vec<u8> {
        format!("{}:{},", json.len(), json).into_bytes()
    }

    #[test]
    fn agent_starts_answers_ctrl_tcp_and_stops() {
        let mut agent = Baresip::start(BaresipConfig::agent()).unwrap();
        assert!(agent.is_running());
        assert!(agent.aor().starts_with("sip:1001@127.0.0.1:"));
        assert!(ports::udp_bound(agent.sip_addr().port()));
        let mut s = TcpStream::connect(agent.ctrl_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&frame(r#"{"command":"listcalls","token":"t1"}"#))
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("\"token\":\"t1\"") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&got).contains("Active calls (0)"));
        let accounts = std::fs::read_to_string(agent.dir().join("accounts")).unwrap();
        assert!(accounts.contains("answermode=manual"), "{accounts}");
        let sip = agent.sip_addr().port();
        agent.kill();
        assert!(!agent.is_running());
        assert!(agent.pid().is_none());
        assert!(!ports::udp_bound(sip));
    }

    #[test]
    fn restart_keeps_the_ports() {
        let mut far = Baresip::start(BaresipConfig::far()).unwrap();
        let (ctrl, sip) = (far.ctrl_addr(), far.sip_addr());
        let old_pid = far.pid();
        far.kill_hard();
        assert!(TcpStream::connect(ctrl).is_err());
        far.restart().unwrap();
        assert_eq!((far.ctrl_addr(), far.sip_addr()), (ctrl, sip));
        assert_ne!(far.pid(), old_pid);
        assert!(TcpStream::connect(ctrl).is_ok());
    }

    #[test]
    fn account_line_cannot_be_broken_by_the_display_name() {
        let cfg = BaresipConfig {
            display: "Evil\" <sip:x@y>\n".into(),
            ..BaresipConfig::agent()
        };
        let text = accounts_text(
            &cfg,
            Ports {
                ctrl: 1,
                sip: 2,
                rtp: 3,
            },
        );
        assert_eq!(text.matches('"').count(), 2, "{text}");
        assert_eq!(text.lines().count(), 1);
    }
}
