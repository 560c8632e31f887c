//! The app under test: its binary, its per-test environment, second processes.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::webdriver::WebDriverError;

/// Whether the end-to-end tests must run: `ENLACE_E2E` set to anything but "" or "0".
/// Only `cargo xtask test` / `cargo xtask e2e` set it (they provide Xvfb, a session bus,
/// gnome-keyring and dunst). When it is set, nothing may be skipped.
pub fn e2e_enabled() -> bool {
    std::env::var("ENLACE_E2E").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The workspace root (parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// The cargo target dir: `$CARGO_TARGET_DIR` (relative to the workspace root when relative),
/// else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// `<target>/e2e`: screenshots and logs of the e2e tests (created).
pub fn artifacts_dir() -> PathBuf {
    let dir = target_dir().join("e2e");
    // If this fails, writing into it fails later with a clear path in the error.
    let _ = std::fs::create_dir_all(dir.join("logs"));
    dir
}

/// The app binary: `$ENLACE_APP_BIN`, else `<target>/debug/enlace`.
pub fn app_bin() -> PathBuf {
    std::env::var_os("ENLACE_APP_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            target_dir()
                .join("debug")
                .join(format!("enlace{}", std::env::consts::EXE_SUFFIX))
        })
}

/// The app binary for an e2e test, which must exist (an e2e run never skips silently).
pub fn require_app_bin() -> Result<PathBuf, WebDriverError> {
    let bin = app_bin();
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(WebDriverError::AppMissing(bin))
    }
}

/// The environment one app instance runs with: its own data dir (removed on drop) and
/// extra variables (`ENLACE_DEMO_LINE`, …). Pass [`AppEnv::vars`] to
/// [`crate::Session::start`] and to [`run_second_instance`].
#[derive(Debug)]
pub struct AppEnv {
    data: TempDir,
    vars: Vec<(String, OsString)>,
}

impl AppEnv {
    /// A fresh, empty data dir (`ENLACE_DATA_DIR`).
    pub fn new() -> std::io::Result<Self> {
        let data = tempfile::Builder::new()
            .prefix("enlace-e2e-data-")
            .tempdir()?;
        Ok(Self {
            data,
            vars: Vec::new(),
        })
    }

    /// Adds (or replaces) one variable.
    pub fn with(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.into()));
        self
    }

    /// `ENLACE_DEMO_LINE="<ctrl_addr> <sip_domain>"`: the phone line the app uses while
    /// none is configured in its settings.
    pub fn with_demo_line(self, ctrl_addr: impl std::fmt::Display, sip_domain: &str) -> Self {
        self.with("ENLACE_DEMO_LINE", format!("{ctrl_addr} {sip_domain}"))
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// All variables, `ENLACE_DATA_DIR` first.
    pub fn vars(&self) -> Vec<(String, OsString)> {
        let mut vars = vec![(
            "ENLACE_DATA_DIR".to_owned(),
            self.data.path().as_os_str().to_owned(),
        )];
        vars.extend(self.vars.iter().cloned());
        vars
    }
}

/// What a second process did.
#[derive(Debug)]
pub struct SecondRun {
    pub status: ExitStatus,
    pub took: Duration,
    /// Its stdout and stderr.
    pub output: String,
}

/// Runs `<app> <args…>` as a second process with the same environment as the running
/// instance (same session bus, so single-instance forwards the args and the process exits),
/// and waits up to `timeout` for it (it is killed after that).
pub fn run_second_instance(
    app: &Path,
    env: &[(String, OsString)],
    args: &[&str],
    timeout: Duration,
) -> Result<SecondRun, WebDriverError> {
    let log = tempfile::NamedTempFile::new().map_err(|e| WebDriverError::io("temp file", e))?;
    let out = File::create(log.path()).map_err(|e| WebDriverError::io("log file", e))?;
    let err = out
        .try_clone()
        .map_err(|e| WebDriverError::io("log file", e))?;
    let started = Instant::now();
    let mut child = Command::new(app)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| WebDriverError::io(format!("spawn {}", app.display()), e))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(WebDriverError::Timeout(format!(
                    "second process `{} {}` still running after {timeout:?}",
                    app.display(),
                    args.join(" ")
                )));
            }
            Err(e) => return Err(WebDriverError::io("wait for the second process", e)),
        }
    };
    let took = started.elapsed();
    let output = std::fs::read_to_string(log.path()).unwrap_or_default();
    Ok(SecondRun {
        status,
        took,
        output,
    })
}
