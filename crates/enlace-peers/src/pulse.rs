//! A private PulseAudio server for audio tests: `pulseaudio` as our child with its own
//! temporary runtime directory, no D-Bus, no shared memory, a Unix socket with anonymous auth.
//! Its default source (the "microphone", [`MIC_SOURCE`]) hears a known tone: `module-sine`
//! plays it into a null sink `mic` (48 kHz mono) whose monitor is the default source; the
//! default sink is another null sink `out`. (`module-sine-source` would be simpler but renders
//! in 2-second bursts whatever latency the client asks for; a sink's monitor runs in real time.) Clients reach it with `PULSE_SERVER=unix:<dir>/native`; programs
//! using ALSA reach it through the `pulse`/`default` PCMs of `libasound2-plugins`.
//!
//! Runs as root too (`--system=no`; pulseaudio warns and carries on). Dropping the handle stops
//! the server by its PID (TERM, then KILL) and removes the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{kill_now, log_tail, scratch_home, send_signal, spawn_logged, wait_timeout};
use crate::{find_program, PeerError};

/// The environment variable PulseAudio clients read to find the server.
pub const PULSE_SERVER_ENV: &str = "PULSE_SERVER";
/// The default source: the monitor of the null sink the tone plays into.
pub const MIC_SOURCE: &str = "mic.monitor";
/// How long the server may take to answer `pactl info`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
const LOG_TAIL: usize = 2_000;

/// A running private PulseAudio server whose default source plays a sine tone.
#[derive(Debug)]
pub struct PulseServer {
    // Removed (field drop) only after `Drop::drop` has stopped the server.
    dir: TempDir,
    child: Option<Child>,
    socket: PathBuf,
    log_path: PathBuf,
    tone_hz: u32,
}

impl PulseServer {
    /// Starts `pulseaudio` whose default source ([`MIC_SOURCE`], 48 kHz mono) hears a
    /// `frequency_hz` sine tone at half of full scale, and whose default sink is a null sink;
    /// returns once `pactl info` answers on its socket.
    pub fn start(frequency_hz: u32) -> Result<PulseServer, PeerError> {
        let pulseaudio =
            find_program("pulseaudio").ok_or_else(|| PeerError::Missing("pulseaudio".into()))?;
        if find_program("pactl").is_none() {
            return Err(PeerError::Missing("pactl (pulseaudio-utils)".into()));
        }
        let (dir, home, runtime) = scratch_home("enlace-pulse-")?;
        let socket = dir.path().join("native");
        let script = dir.path().join("server.pa");
        std::fs::write(&script, script_text(&socket, frequency_hz))
            .map_err(|e| PeerError::io("write server.pa", e))?;
        let log_path = dir.path().join("pulseaudio.log");

        let mut cmd = Command::new(pulseaudio);
        cmd.args([
            "--daemonize=no",
            "--system=no",
            "-n",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--disable-shm=yes",
            "--log-target=stderr",
        ])
        .arg("-F")
        .arg(&script)
        .env_remove(PULSE_SERVER_ENV)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("PULSE_RUNTIME_PATH", &runtime)
        .env("PULSE_STATE_PATH", dir.path().join("state"));
        let child = spawn_logged(cmd, &log_path)?;
        let mut server = PulseServer {
            dir,
            child: Some(child),
            socket,
            log_path,
            tone_hz: frequency_hz,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// The server address for `PULSE_SERVER` / `pactl -s`: `unix:<dir>/native`.
    pub fn server(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// The environment a client process needs: `[("PULSE_SERVER", server())]`.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![(PULSE_SERVER_ENV.to_owned(), self.server())]
    }

    /// The frequency of the default source's tone.
    pub fn tone_hz(&self) -> u32 {
        self.tone_hz
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The temporary directory holding the socket, configuration and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `pactl -s <server> <args>`; its standard output on success.
    pub fn pactl(&self, args: &[&str]) -> Result<String, PeerError> {
        let out = Command::new("pactl")
            .arg("-s")
            .arg(self.server())
            .args(args)
            .env_remove(PULSE_SERVER_ENV)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| PeerError::io("run pactl", e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(PeerError::Startup {
                what: format!("pactl {}", args.join(" ")),
                detail: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    fn wait_ready(&mut self) -> Result<(), PeerError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(PeerError::Startup {
                        what: format!("pulseaudio ({status})"),
                        detail: log_tail(&self.log_path, LOG_TAIL),
                    });
                }
            }
            if self.socket.exists() && self.pactl(&["info"]).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let detail = log_tail(&self.log_path, LOG_TAIL);
                self.stop();
                return Err(PeerError::Startup {
                    what: "pulseaudio (no answer to pactl info)".into(),
                    detail,
                });
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            send_signal(&child, "TERM");
            if wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
                kill_now(&mut child);
            }
        }
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server's startup script (`-n` skips the system default.pa).
fn script_text(socket: &Path, frequency_hz: u32) -> String {
    format!(
        "load-module module-native-protocol-unix socket={} auth-anonymous=1\n\
         load-module module-null-sink sink_name=out\n\
         load-module module-null-sink sink_name=mic rate=48000 channels=1\n\
         load-module module-sine sink=mic frequency={}\n\
         set-default-source {MIC_SOURCE}\n\
         set-default-sink out\n",
        socket.display(),
        frequency_hz
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_server_answers_and_its_default_source_is_the_tone() {
        let server = PulseServer::start(440).expect("pulseaudio starts");
        assert!(server.server().starts_with("unix:"));
        let info = server.pactl(&["info"]).expect("pactl info");
        assert!(
            info.contains(&format!("Default Source: {MIC_SOURCE}")),
            "{info}"
        );
        let inputs = server
            .pactl(&["list", "short", "sink-inputs"])
            .expect("sink inputs");
        assert!(inputs.contains("module-sine"), "the tone plays: {inputs}");
        let socket = server.socket.clone();
        drop(server);
        assert!(!socket.exists(), "the directory is removed on drop");
    }
}
