//! A private D-Bus bus for tests: `dbus-daemon` as our child, listening on a Unix socket in its
//! own temporary directory, with an open policy (any peer may own any name and call anyone).
//! It is a session bus, or a system bus for services that only look there (GeoClue). The
//! daemon and the programs it activates see a confined environment: `HOME`, the XDG folders
//! and `XDG_RUNTIME_DIR` inside that directory, and no other session's bus, keyring or display.
//!
//! Dropping the handle stops the daemon by its PID (KILL) and removes the directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{kill_now, scratch_home};
use crate::{find_program, PeerError};

/// How long the daemon may take to print its address.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which kind of bus the daemon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    Session,
    System,
}

/// How the private bus is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusOptions {
    pub kind: BusKind,
    /// Whether a call to a name nobody owns starts the program of the system's service files
    /// (`<standard_session_servicedirs/>`, e.g. gnome-keyring for `org.freedesktop.secrets`).
    pub activation: bool,
}

impl BusOptions {
    /// A session bus on which nothing is started on demand.
    pub const SESSION: BusOptions = BusOptions {
        kind: BusKind::Session,
        activation: false,
    };
    /// A system bus on which nothing is started on demand.
    pub const SYSTEM: BusOptions = BusOptions {
        kind: BusKind::System,
        activation: false,
    };
}

/// A running private `dbus-daemon`.
#[derive(Debug)]
pub struct PrivateBus {
    // Removed (field drop) only after `Drop::drop` has stopped the daemon.
    dir: TempDir,
    child: Child,
    address: String,
}

impl PrivateBus {
    /// Starts `dbus-daemon` with `options`; returns once it listens.
    pub fn start(options: BusOptions) -> Result<PrivateBus, PeerError> {
        let program = find_program("dbus-daemon")
            .ok_or_else(|| PeerError::Missing("dbus-daemon (package dbus)".into()))?;
        let (dir, home, runtime) = scratch_home("enlace-bus-")?;
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, config_text(&dir.path().join("bus"), options))
            .map_err(|e| PeerError::io("write bus.conf", e))?;

        let mut child = Command::new(program)
            .args(["--nofork", "--print-address=1"])
            .arg(format!("--config-file={}", config.display()))
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
            .env_remove("GNOME_KEYRING_CONTROL")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| PeerError::io("spawn dbus-daemon", e))?;
        // The address is printed once the bus listens; read it on a thread so that a daemon
        // that never prints cannot hang the caller.
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line.trim().to_owned());
            });
        }
        let address = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(address) if !address.is_empty() => address,
            Ok(_) => {
                kill_now(&mut child);
                return Err(PeerError::Startup {
                    what: "dbus-daemon".into(),
                    detail: "it printed no address".into(),
                });
            }
            Err(_) => {
                kill_now(&mut child);
                return Err(PeerError::Timeout {
                    what: "dbus-daemon's address".into(),
                });
            }
        };
        Ok(PrivateBus {
            dir,
            child,
            address,
        })
    }

    /// The bus's address, for `DBUS_SESSION_BUS_ADDRESS` / `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The folder that stands for `HOME` of the daemon and what it activates.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        kill_now(&mut self.child);
    }
}

fn config_text(socket: &Path, options: BusOptions) -> String {
    let kind = match options.kind {
        BusKind::Session => "session",
        BusKind::System => "system",
    };
    let services = match (options.activation, options.kind) {
        (false, _) => "",
        (true, BusKind::Session) => "<standard_session_servicedirs/>",
        (true, BusKind::System) => "<standard_system_servicedirs/>",
    };
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  {services}
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
        socket = socket.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_kind_the_socket_and_activation_only_when_asked() {
        let socket = Path::new("/tmp/x/bus");
        let session = config_text(socket, BusOptions::SESSION);
        assert!(session.contains("<type>session</type>"));
        assert!(session.contains("<listen>unix:path=/tmp/x/bus</listen>"));
        assert!(!session.contains("servicedirs"));
        let system = config_text(socket, BusOptions::SYSTEM);
        assert!(system.contains("<type>system</type>"));
        let activating = config_text(
            socket,
            BusOptions {
                kind: BusKind::Session,
                activation: true,
            },
        );
        assert!(activating.contains("<standard_session_servicedirs/>"));
    }

    #[test]
    fn a_private_bus_listens_and_goes_with_its_handle() {
        assert!(
            find_program("dbus-daemon").is_some(),
            "dbus-daemon is not installed (cargo xtask setup installs it)"
        );
        let bus = PrivateBus::start(BusOptions::SESSION).unwrap();
        let socket = bus
            .address()
            .strip_prefix("unix:path=")
            .and_then(|rest| rest.split(',').next())
            .map(PathBuf::from)
            .expect("a unix:path address");
        assert!(socket.exists(), "{}", bus.address());
        let dir = bus.dir.path().to_owned();
        drop(bus);
        assert!(!dir.exists(), "the bus's folder is removed");
    }
}
