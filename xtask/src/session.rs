//! The headless desktop session the tests (and the app benchmarks) run in.
//!
//! The outer command re-executes this tool inside
//! `xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- <xtask> <inner command>`: a
//! fresh X server and a fresh session bus per run (tauri-on-linux.md §7, pitfalls P2/P3). The
//! inner command then gives every GUI program a throw-away HOME and XDG dirs, starts
//! gnome-keyring (unlocked, pitfall P9) and dunst (pitfall P10), waits until each owns its
//! bus name, runs the work and stops both daemons by PID.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cmd::{self, TaskError, TaskResult};
use crate::paths;

/// The screen of the virtual X server.
pub const SCREEN: &str = "-screen 0 1280x800x24";
/// The password the throw-away login keyring is created and unlocked with.
const KEYRING_PASSWORD: &str = "enlace-test";
const NAME_TIMEOUT: Duration = Duration::from_secs(15);

/// `xvfb-run -a -s <SCREEN> dbus-run-session -- <this exe> <inner…>`.
pub fn reexec_headless(inner: &[&str], extra: &[String]) -> TaskResult<()> {
    for program in ["xvfb-run", "dbus-run-session"] {
        if cmd::which(program).is_none() {
            return Err(TaskError::Precondition(format!(
                "`{program}` is not installed (Debian: xvfb, dbus); run `cargo xtask setup`"
            )));
        }
    }
    let me = std::env::current_exe()
        .map_err(|e| TaskError::io("cannot find the path of the running xtask", e))?;
    let mut command = Command::new("xvfb-run");
    command
        .args(["-a", "-s", SCREEN, "dbus-run-session", "--"])
        .arg(me)
        .args(inner)
        .args(extra)
        .current_dir(paths::root());
    cmd::run(&mut command)
}

/// A directory removed (recursively) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TaskResult<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| TaskError::io(format!("create {}", path.display()), e))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a failure leaves a directory in the temp dir, nothing worse.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A daemon we started; killed by its PID and reaped when dropped.
#[derive(Debug)]
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Child::kill signals exactly the PID we spawned.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The throw-away HOME/XDG dirs plus the keyring and notification daemons.
#[derive(Debug)]
pub struct Desktop {
    // Fields drop in order: daemons first, then the directories they used.
    notifications: Option<Daemon>,
    keyring: Option<Daemon>,
    env: Vec<(&'static str, OsString)>,
    home: TempDir,
}

impl Desktop {
    /// Checks that we are inside Xvfb + a session bus, creates the sandbox, starts
    /// gnome-keyring (unlocked) and dunst and waits for their bus names.
    pub fn start() -> TaskResult<Self> {
        for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
            if std::env::var_os(var).is_none_or(|v| v.is_empty()) {
                return Err(TaskError::Precondition(format!(
                    "{var} is not set: this inner command must run under xvfb-run and \
                     dbus-run-session; use `cargo xtask test`, `e2e` or `bench` instead"
                )));
            }
        }
        let home = TempDir::new("enlace-home")?;
        let env = sandbox_env(home.path())?;
        let mut desktop = Self {
            notifications: None,
            keyring: None,
            env,
            home,
        };
        desktop.keyring = Some(desktop.start_keyring()?);
        desktop.notifications = Some(desktop.start_notifications()?);
        Ok(desktop)
    }

    /// A command with the sandbox environment applied.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        self.apply(&mut command);
        command
    }

    /// Gives `command` the sandboxed HOME and XDG dirs, with CARGO_HOME/RUSTUP_HOME pinned to
    /// the real ones so cargo keeps its caches.
    pub fn apply(&self, command: &mut Command) {
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    fn start_keyring(&self) -> TaskResult<Daemon> {
        let log = logs_dir()?.join("gnome-keyring.log");
        let mut command = self.command("gnome-keyring-daemon");
        command.args(["--foreground", "--unlock", "--components=secrets"]);
        let mut daemon = spawn_daemon("gnome-keyring-daemon", command, &log, true)?;
        // --unlock reads the password from stdin up to EOF: write it, then close the pipe.
        if let Some(mut stdin) = daemon.child.stdin.take() {
            use std::io::Write;
            stdin
                .write_all(KEYRING_PASSWORD.as_bytes())
                .map_err(|e| TaskError::io("write the keyring password", e))?;
        }
        wait_for_bus_name(&mut daemon, "org.freedesktop.secrets")?;
        println!(
            "gnome-keyring-daemon (pid {}) owns org.freedesktop.secrets",
            daemon.child.id()
        );
        Ok(daemon)
    }

    fn start_notifications(&self) -> TaskResult<Daemon> {
        let log = logs_dir()?.join("dunst.log");
        let mut command = self.command("dunst");
        command.arg("-print");
        let mut daemon = spawn_daemon("dunst", command, &log, false)?;
        wait_for_bus_name(&mut daemon, "org.freedesktop.Notifications")?;
        println!(
            "dunst (pid {}) owns org.freedesktop.Notifications",
            daemon.child.id()
        );
        Ok(daemon)
    }

    /// Stops dunst and the keyring daemon (by PID) now.
    pub fn stop(mut self) {
        if let Some(mut d) = self.notifications.take() {
            d.stop();
        }
        if let Some(mut d) = self.keyring.take() {
            d.stop();
        }
    }
}

/// `<target>/e2e/logs`: daemon logs, kept after the run.
pub fn logs_dir() -> TaskResult<PathBuf> {
    let dir = paths::target_dir().join("e2e").join("logs");
    std::fs::create_dir_all(&dir)
        .map_err(|e| TaskError::io(format!("create {}", dir.display()), e))?;
    Ok(dir)
}

fn sandbox_env(home: &Path) -> TaskResult<Vec<(&'static str, OsString)>> {
    let real_home = std::env::var_os("HOME").map(PathBuf::from);
    let keep = |var: &str, default: &str| -> Option<OsString> {
        std::env::var_os(var)
            .or_else(|| real_home.as_ref().map(|h| h.join(default).into_os_string()))
    };
    let mut env: Vec<(&'static str, OsString)> = Vec::new();
    if let Some(v) = keep("CARGO_HOME", ".cargo") {
        env.push(("CARGO_HOME", v));
    }
    if let Some(v) = keep("RUSTUP_HOME", ".rustup") {
        env.push(("RUSTUP_HOME", v));
    }
    let dirs = [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_RUNTIME_DIR", "run"),
    ];
    for (var, rel) in dirs {
        let dir = home.join(rel);
        std::fs::create_dir_all(&dir)
            .map_err(|e| TaskError::io(format!("create {}", dir.display()), e))?;
        env.push((var, dir.into_os_string()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let run = home.join("run");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| TaskError::io("chmod 700 XDG_RUNTIME_DIR", e))?;
    }
    env.push(("HOME", home.as_os_str().to_owned()));
    Ok(env)
}

fn spawn_daemon(
    name: &'static str,
    mut command: Command,
    log: &Path,
    piped_stdin: bool,
) -> TaskResult<Daemon> {
    let out =
        File::create(log).map_err(|e| TaskError::io(format!("create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| TaskError::io(format!("open {}", log.display()), e))?;
    command
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(out)
        .stderr(err);
    let child = command.spawn().map_err(|source| TaskError::Spawn {
        program: name.to_owned(),
        source,
    })?;
    Ok(Daemon {
        name,
        child,
        log: log.to_path_buf(),
    })
}

/// Polls `org.freedesktop.DBus.NameHasOwner(name)` until true; fails early if the daemon died.
fn wait_for_bus_name(daemon: &mut Daemon, name: &str) -> TaskResult<()> {
    let deadline = Instant::now() + NAME_TIMEOUT;
    loop {
        if name_has_owner(name)? {
            return Ok(());
        }
        if let Ok(Some(status)) = daemon.child.try_wait() {
            return Err(TaskError::NotReady(format!(
                "{} exited ({status}) before owning {name}; log {}:\n{}",
                daemon.name,
                daemon.log.display(),
                tail(&daemon.log)
            )));
        }
        if Instant::now() >= deadline {
            return Err(TaskError::NotReady(format!(
                "{} did not own {name} within {:?}; log {}:\n{}",
                daemon.name,
                NAME_TIMEOUT,
                daemon.log.display(),
                tail(&daemon.log)
            )));
        }
        sleep(Duration::from_millis(50));
    }
}

/// Whether `name` has an owner on the session bus (through `gdbus`, package libglib2.0-bin).
pub fn name_has_owner(name: &str) -> TaskResult<bool> {
    let reply = cmd::output(Command::new("gdbus").args([
        "call",
        "--session",
        "--dest",
        "org.freedesktop.DBus",
        "--object-path",
        "/org/freedesktop/DBus",
        "--method",
        "org.freedesktop.DBus.NameHasOwner",
        name,
    ]))?;
    Ok(reply.contains("true"))
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
