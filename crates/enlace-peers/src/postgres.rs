//! A real, throw-away PostgreSQL server for tests: `initdb` into a fresh temporary directory
//! (trust auth, UTF8, `--no-sync`, superuser `enlace`), then `postgres` on 127.0.0.1 on a free
//! port with durability switched off. Dropping the handle stops the server by its PID (SIGINT =
//! fast shutdown, then SIGKILL) and removes the directory.
//!
//! `postgres` refuses to run as root, so when the tests run as root (CI) `initdb` and
//! `postgres` run as the `postgres` system user (uid/gid from `/etc/passwd`) and the data
//! directory is handed to that user. Nothing goes through a shell.

use std::io;
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::ports;
use crate::process::{kill_now, log_tail, send_signal, spawn_logged, wait_timeout};

/// Overrides where the server binaries (`initdb`, `postgres`, `pg_isready`, `createdb`) are.
pub const BIN_DIR_ENV: &str = "ENLACE_PG_BIN";
/// The superuser `initdb` creates; every URL uses it.
pub const SUPERUSER: &str = "enlace";
/// Where Debian/Ubuntu install the server, one directory per major version.
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";
/// The system user the server runs as when we are root.
const SYSTEM_USER: &str = "postgres";
/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Starts retried with a new port when the port was taken meanwhile.
const START_ATTEMPTS: usize = 3;
/// Bytes of the server log quoted in errors.
const LOG_TAIL: usize = 2_000;
/// Environment variables of libpq/initdb that would redirect our commands elsewhere.
const PG_ENV: &[&str] = &[
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGTZ",
];

/// A running PostgreSQL server on 127.0.0.1. Stopped by PID and its data removed when dropped.
#[derive(Debug)]
pub struct PostgresServer {
    // Removed (field drop) only after `Drop::drop` has stopped the server.
    dir: TempDir,
    child: Option<Child>,
    bin: PathBuf,
    port: u16,
    pid: u32,
    log_path: PathBuf,
}

/// The `postgres` system user's ids, when the server must not run as us.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl PostgresServer {
    /// `initdb` (trust auth, UTF8, `--no-sync`, superuser `enlace`) into a fresh temp dir, then
    /// `postgres` on 127.0.0.1 on a free port (`fsync`, `synchronous_commit`,
    /// `full_page_writes` off, `max_connections=200`, Unix socket in the data dir); returns
    /// once it accepts connections. Errors quote the end of the server log.
    pub fn start() -> io::Result<PostgresServer> {
        let bin = PostgresServer::find_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("enlace-pg-")
            .tempdir()
            .map_err(|e| annotate(e, "create the PostgreSQL temp dir"))?;
        // A file we just created is owned by our effective uid: no `unsafe` geteuid needed.
        let run_as = if dir.path().metadata()?.uid() == 0 {
            let ids = system_user_ids(SYSTEM_USER)?;
            // The server user must be able to reach `data/` inside our directory.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))?;
            Some(ids)
        } else {
            None
        };
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))?;
        if let Some(ids) = run_as {
            chown(&data, Some(ids.uid), Some(ids.gid))
                .map_err(|e| annotate(e, &format!("chown {} to postgres", data.display())))?;
        }
        let log_path = dir.path().join("postgres.log");
        initdb(&bin, dir.path(), &data, &log_path, run_as)?;

        let mut server = PostgresServer {
            dir,
            child: None,
            bin,
            port: 0,
            pid: 0,
            log_path,
        };
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match server.launch(&data, run_as) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let tail = log_tail(&server.log_path, LOG_TAIL);
                    server.stop();
                    if !tail.contains("Address already in use") {
                        return Err(e);
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("PostgreSQL did not start")))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PID of the `postgres` server process (the postmaster).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's log file (stdout and stderr of `initdb` and `postgres`).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The URL of database `name` on this server (which need not exist yet).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` (ASCII letters, digits and `_` only, else `InvalidInput`) with
    /// the `createdb` binary and returns `postgres://enlace@127.0.0.1:<port>/<name>`.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        validate_name(name)?;
        let mut cmd = Command::new(self.bin.join("createdb"));
        cmd.arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(SUPERUSER)
            .arg("--")
            .arg(name);
        let out = run_output(cmd, "createdb")?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "createdb {name} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(self.url(name))
    }

    /// The directory holding `initdb` and `postgres`: `$ENLACE_PG_BIN` if set, else the highest
    /// version of `/usr/lib/postgresql/<ver>/bin` (Debian/Ubuntu), else `pg_config --bindir`,
    /// else the directory of `postgres` on `PATH`. `NotFound` says how to install it.
    pub fn find_bin_dir() -> io::Result<PathBuf> {
        if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
            let dir = PathBuf::from(dir);
            return if has_server(&dir) {
                Ok(dir)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{BIN_DIR_ENV}={} holds no `initdb` and `postgres` binaries",
                        dir.display()
                    ),
                ))
            };
        }
        if let Some(dir) = highest_versioned_bin(Path::new(DEBIAN_LIB_DIR)) {
            return Ok(dir);
        }
        if let Some(dir) = pg_config_bindir().filter(|d| has_server(d)) {
            return Ok(dir);
        }
        if let Some(dir) = crate::find_program("postgres")
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|d| has_server(d))
        {
            return Ok(dir);
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "PostgreSQL server binaries (initdb, postgres) not found in {DEBIAN_LIB_DIR}/*/bin, \
                 `pg_config --bindir` or PATH; `cargo xtask setup` installs the `postgresql` \
                 package (Debian/Ubuntu: apt-get install postgresql), or set {BIN_DIR_ENV} to \
                 the directory that holds them"
            ),
        ))
    }

    /// Picks a port, spawns `postgres` and waits until it accepts connections.
    fn launch(&mut self, data: &Path, run_as: Option<RunAs>) -> io::Result<()> {
        let port = ports::control_port()
            .ok_or_else(|| io::Error::other("no free loopback port for PostgreSQL"))?;
        let mut cmd = server_command(&self.bin.join("postgres"), self.dir.path(), run_as);
        cmd.arg("-D")
            .arg(data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(data)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=200"]);
        let child = spawn_logged(cmd, &self.log_path).map_err(peer_to_io)?;
        self.pid = child.id();
        self.port = port;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Polls `pg_isready` until the server accepts connections, it exits, or time runs out.
    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(io::Error::other(format!(
                        "postgres exited during startup ({status}); log tail:\n{}",
                        log_tail(&self.log_path, LOG_TAIL)
                    )));
                }
            }
            let mut cmd = Command::new(self.bin.join("pg_isready"));
            cmd.args(["-q", "-h", "127.0.0.1", "-t", "1", "-U", SUPERUSER])
                .args(["-d", "postgres", "-p"])
                .arg(self.port.to_string());
            if run_output(cmd, "pg_isready")?.status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "postgres on 127.0.0.1:{} did not accept connections within {} s; \
                         log tail:\n{}",
                        self.port,
                        READY_TIMEOUT.as_secs(),
                        log_tail(&self.log_path, LOG_TAIL)
                    ),
                ));
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// Fast shutdown (SIGINT) by PID, up to [`STOP_TIMEOUT`], then SIGKILL; reaps the child.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        send_signal(&child, "INT");
        if wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
            kill_now(&mut child);
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `initdb` into `data`, output appended to `log`.
fn initdb(
    bin: &Path,
    cwd: &Path,
    data: &Path,
    log: &Path,
    run_as: Option<RunAs>,
) -> io::Result<()> {
    let mut cmd = server_command(&bin.join("initdb"), cwd, run_as);
    cmd.arg("-D")
        .arg(data)
        .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8"])
        .args(["--no-locale", "--no-sync", "--no-instructions"]);
    let mut child = spawn_logged(cmd, log).map_err(|e| {
        let e = peer_to_io(e);
        match run_as {
            Some(_) => annotate(
                e,
                &format!(
                    "as root, initdb runs as the `{SYSTEM_USER}` user, which must be able to \
                     reach {} (set TMPDIR to a world-traversable directory such as /tmp)",
                    cwd.display()
                ),
            ),
            None => e,
        }
    })?;
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "initdb failed ({status}); log tail:\n{}",
            log_tail(log, LOG_TAIL)
        )))
    }
}

/// A command for a server binary: run in `cwd`, without libpq variables, and as the
/// `postgres` user when `run_as` is set.
fn server_command(program: &Path, cwd: &Path, run_as: Option<RunAs>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd);
    for var in PG_ENV {
        cmd.env_remove(var);
    }
    if let Some(ids) = run_as {
        cmd.uid(ids.uid).gid(ids.gid);
    }
    cmd
}

/// Runs a client command to completion (no stdin, libpq variables removed).
fn run_output(mut cmd: Command, what: &str) -> io::Result<Output> {
    for var in PG_ENV {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| annotate(e, &format!("run {what}")))
}

fn validate_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid database name {name:?}: use 1 to 63 ASCII letters, digits or underscores"
            ),
        ))
    }
}

fn has_server(dir: &Path) -> bool {
    crate::is_executable(&dir.join("postgres")) && crate::is_executable(&dir.join("initdb"))
}

/// `<root>/<ver>/bin` with the highest numeric `<ver>` that holds the server binaries.
fn highest_versioned_bin(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_key(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// "15" → [15], "9.6" → [9, 6]; `None` for anything else.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = text.trim();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The uid and gid of `user` from `/etc/passwd`.
fn system_user_ids(user: &str) -> io::Result<RunAs> {
    let passwd =
        std::fs::read_to_string("/etc/passwd").map_err(|e| annotate(e, "read /etc/passwd"))?;
    parse_passwd(&passwd, user).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "running as root, but there is no `{user}` system user to run PostgreSQL as \
                 (`postgres` refuses root); `cargo xtask setup` installs the `postgresql` \
                 package, which creates it"
            ),
        )
    })
}

fn parse_passwd(passwd: &str, user: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(RunAs { uid, gid })
    })
}

fn annotate(e: io::Error, context: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{context}: {e}"))
}

fn peer_to_io(e: crate::PeerError) -> io::Error {
    match e {
        crate::PeerError::Io { context, source } => annotate(source, &context),
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["a", "enlace_hub_1", "ABC123"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a-b", "a b", "a;drop", "é", "x\"y", &"a".repeat(64)] {
            let err = validate_name(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn passwd_lines_are_parsed() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgresx:x:7:7::/:/bin/false\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        let ids = parse_passwd(passwd, "postgres").unwrap();
        assert_eq!((ids.uid, ids.gid), (101, 104));
        assert!(parse_passwd(passwd, "nobody").is_none());
        assert!(parse_passwd("postgres:x:notanumber:1::/:/x", "postgres").is_none());
    }

    #[test]
    fn highest_version_directory_wins() {
        let root = tempfile::tempdir().unwrap();
        for ver in ["9.6", "13", "15", "notaversion"] {
            let bin = root.path().join(ver).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            for exe in ["postgres", "initdb"] {
                let path = bin.join(exe);
                std::fs::write(&path, "").unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        // A higher version without the server binaries (client-only) is skipped.
        std::fs::create_dir_all(root.path().join("16").join("bin")).unwrap();
        assert_eq!(
            highest_versioned_bin(root.path()),
            Some(root.path().join("15").join("bin"))
        );
        assert_eq!(version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(version_key("x"), None);
    }
}
