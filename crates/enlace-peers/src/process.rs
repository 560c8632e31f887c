//! Child processes: spawning with output to a log file, signalling by PID, waiting with a
//! deadline. Signals go through `kill -<SIG> <pid>` (no shell, the PID is one argument): the
//! workspace forbids `unsafe`, so no direct `libc::kill`.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::PeerError;

/// A peer's own temporary folder with `home/` and `runtime/` (0700, for `XDG_RUNTIME_DIR`)
/// in it; removed when the returned [`tempfile::TempDir`] is dropped.
pub(crate) fn scratch_home(
    prefix: &str,
) -> Result<(tempfile::TempDir, std::path::PathBuf, std::path::PathBuf), PeerError> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| PeerError::io(format!("create a {prefix}* temp dir"), e))?;
    let home = dir.path().join("home");
    let runtime = dir.path().join("runtime");
    for d in [&home, &runtime] {
        std::fs::create_dir(d).map_err(|e| PeerError::io(format!("create {}", d.display()), e))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| PeerError::io("chmod the runtime dir", e))?;
    }
    Ok((dir, home, runtime))
}

/// Spawns `cmd` with stdin from the null device and stdout/stderr appended to `log`.
pub(crate) fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child, PeerError> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| PeerError::io(format!("open {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| PeerError::io("clone log handle", e))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn()
        .map_err(|e| PeerError::io(format!("spawn {:?}", cmd.get_program()), e))
}

/// Polls `child` until it exits or `timeout` passes.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(Duration::from_millis(5));
    }
}

/// Sends `signal` (`TERM`, `INT`, …) to our own, not yet reaped child (so its PID cannot have
/// been reused).
pub(crate) fn send_signal(child: &Child, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// TERM, up to 0.3 s, TERM again (forces baresip out of pending SIP transactions), up to
/// 0.3 s, then KILL; always reaps the child.
pub(crate) fn terminate(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    for _ in 0..2 {
        send_signal(child, "TERM");
        if wait_timeout(child, Duration::from_millis(300)).is_some() {
            return;
        }
    }
    kill_now(child);
}

/// SIGKILL and reap.
pub(crate) fn kill_now(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `max` bytes of a log file, for error messages.
pub(crate) fn log_tail(log: &Path, max: usize) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}
