//! `enlace-peers` starts REAL SIP peers on free loopback ports: headless **baresip** instances
//! (the "agent" softphone that Enlace drives over `ctrl_tcp`, or an auto-answering far end) and
//! **SIPp** scenarios (scripted far ends and callers). Tests, benchmarks and the demo line of
//! `cargo xtask run` use it. It also starts throw-away **PostgreSQL** servers
//! ([`postgres::PostgresServer`]) for tests of the hub, and private **PulseAudio** servers whose
//! microphone plays a known tone ([`pulse::PulseServer`]) for the voice-note tests, and private
//! D-Bus buses ([`dbus::PrivateBus`]) for tests of what talks over D-Bus. It owns no product
//! logic.
//!
//! Every peer lives in its own temporary directory (configs, logs, SIPp message traces) and is
//! stopped by the PID it was started with when its handle is dropped (baresip: TERM, 0.3 s,
//! TERM, 0.3 s, KILL; SIPp: KILL). Nothing goes through a shell.
//!
//! To extend: add a SIPp scenario file under `scenarios/`, a variant to [`Scenario`] and its
//! arguments in `sipp.rs`; for another peer program, add a module with a handle type that
//! keeps its [`std::process::Child`] and stops it in `Drop`.

mod baresip;
pub mod dbus;
mod demo;
mod ports;
pub mod postgres;
mod process;
pub mod pulse;
mod sipp;

use std::fmt;
use std::path::{Path, PathBuf};

pub use baresip::{Baresip, BaresipConfig, Role};
pub use dbus::{BusKind, BusOptions, PrivateBus};
pub use demo::{DemoFarEnd, DemoLine};
pub use postgres::PostgresServer;
pub use pulse::PulseServer;
pub use sipp::{Scenario, Sipp};

/// Why a peer could not be started or waited for.
#[derive(Debug)]
pub enum PeerError {
    /// A program is not installed (not found on `PATH`).
    Missing(String),
    /// An I/O error while preparing or running a peer.
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The peer exited or never became ready; `detail` holds the end of its log.
    Startup { what: String, detail: String },
    /// Waiting for the peer took too long.
    Timeout { what: String },
}

impl PeerError {
    /// Stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PeerError::Missing(_) => "missing_program",
            PeerError::Io { .. } => "io",
            PeerError::Startup { .. } => "startup",
            PeerError::Timeout { .. } => "timeout",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PeerError::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Missing(p) => write!(f, "{p} is not installed (not found on PATH)"),
            PeerError::Io { context, source } => write!(f, "{context}: {source}"),
            PeerError::Startup { what, detail } => write!(f, "{what} did not start: {detail}"),
            PeerError::Timeout { what } => write!(f, "timed out waiting for {what}"),
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Finds `program` on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// `Ok(())` when both `baresip` and `sipp` are installed; otherwise which ones are missing and
/// how to install them (Debian: `apt-get install baresip-core sip-tester`).
pub fn binaries_available() -> Result<(), String> {
    let missing: Vec<&str> = ["baresip", "sipp"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing: {} (Debian/Ubuntu: apt-get install baresip-core sip-tester)",
            missing.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_that_exists_and_not_one_that_does_not() {
        assert!(find_program("sh").is_some());
        assert!(find_program("enlace-no-such-program-xyz").is_none());
    }

    #[test]
    fn peer_binaries_are_installed() {
        assert_eq!(binaries_available(), Ok(()));
    }
}
