//! The hub as a Debian package: `cargo xtask bundle-hub` builds
//! `target/bundle/enlace-hub_<version>_<arch>.deb` from the release binary and `packaging/hub/`
//! (the systemd unit, the default configuration, the maintainer scripts), and `--check` (also a
//! step of `cargo xtask test`) installs it, starts it (the unit under systemd, else the unit's
//! own command line as its user), logs an agent in through the HTTP API, reinstalls it as an
//! upgrade would and purges it.
//!
//! To ship another file: put it in `packaging/hub/`, add it in [`stage`], and to the purge
//! check when the package creates it at run time. The Containerfile next to the unit is not
//! built here (no image registry); [`tests::containerfile_agrees_with_the_unit`] keeps its
//! paths, user and command line equal to the unit's.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::paths;

const PACKAGE: &str = "enlace-hub";
/// The system user (and group) the service runs as.
const USER: &str = "enlace-hub";
const BIN: &str = "/usr/bin/enlace-hub";
const UNIT: &str = "/usr/lib/systemd/system/enlace-hub.service";
const CONFIG_DIR: &str = "/etc/enlace-hub";
const CONFIG: &str = "/etc/enlace-hub/enlace-hub.toml";
const DATA_DIR: &str = "/var/lib/enlace-hub";
const DATABASE: &str = "/var/lib/enlace-hub/enlace-hub.db";
/// The secret file the check moves the database URL into (in [`CONFIG_DIR`]).
const DATABASE_URL_FILE: &str = "database-url";
/// The symlink `deb-systemd-helper enable` makes; gone after a purge.
const ENABLED_LINK: &str = "/etc/systemd/system/multi-user.target.wants/enlace-hub.service";
/// Placeholder until the project has a contact address (`.invalid` never resolves).
const MAINTAINER: &str = "Enlace maintainers <maintainers@enlace.invalid>";
/// Needed by the maintainer scripts (`adduser --system`); the libraries come from
/// `dpkg-shlibdeps`.
const SCRIPT_DEPENDS: &str = "adduser";
/// The test's agent (a 7-digit user; the 6-digit password is drawn per run).
const TEST_AGENT: &str = "7000001";
/// How long the installed hub may take to accept connections.
const START: Duration = Duration::from_secs(30);
/// How long it may take to stop after SIGINT.
const STOP: Duration = Duration::from_secs(15);

/// `cargo xtask bundle-hub [--check]`.
pub fn bundle_hub(args: &[String]) -> TaskResult<ExitCode> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            return Err(TaskError::Usage(format!(
                "bundle-hub takes only --check, not {}",
                args.join(" ")
            )))
        }
    };
    let mut report = Report::new("cargo xtask bundle-hub");
    let outcome = (|| {
        if let Some(why) = cannot_install().filter(|_| check) {
            return Err(TaskError::Precondition(format!(
                "--check installs the package: {why}"
            )));
        }
        let deb = build_deb(&mut report)?;
        if check {
            report.step(CHECK_STEP, || check_package(&deb))?;
        }
        Ok(())
    })();
    report.print_summary(outcome.as_ref().err());
    outcome.map(|()| ExitCode::SUCCESS)
}

const CHECK_STEP: &str = "hub package: install, start, log in, reinstall, purge";

/// The step of `cargo xtask test`. Where the package cannot be installed (not root, no dpkg)
/// it says so in the summary, and fails when `CI` is set: CI runs as root on Debian.
pub fn test_step(report: &mut Report) -> TaskResult<()> {
    if let Some(skipped) = unless_installable(report, "hub package", CHECK_STEP, "bundle-hub") {
        return skipped;
    }
    let deb = build_deb(report)?;
    report.step(CHECK_STEP, || check_package(&deb))
}

/// The package checks' answer where packages cannot be installed: in CI a failed `check` step
/// (CI runs as root on Debian), elsewhere a skipped step naming `cargo xtask <command>
/// --check`. `None`: go on and check.
pub(crate) fn unless_installable(
    report: &mut Report,
    what: &str,
    check: &str,
    command: &str,
) -> Option<TaskResult<()>> {
    let why = cannot_install()?;
    if std::env::var_os("CI").is_some() {
        return Some(report.step(check, || {
            Err(TaskError::Precondition(format!(
                "{why}; CI must run this as root on Debian"
            )))
        }));
    }
    let name = format!("{what}: SKIPPED ({why}; CI runs it)");
    Some(report.step(&name, || {
        println!("not checking the {what}: {why} (run `cargo xtask {command} --check` as root)");
        Ok(())
    }))
}

/// Why this machine cannot install a package (this one or the desktop app's), if it cannot.
pub(crate) fn cannot_install() -> Option<String> {
    if !cfg!(target_os = "linux") || cmd::which("dpkg").is_none() {
        Some("no dpkg: not a Debian system".to_owned())
    } else if !crate::setup::is_root() {
        Some("not root".to_owned())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Building

/// Builds the release binary and assembles `target/bundle/enlace-hub_<version>_<arch>.deb`.
pub fn build_deb(report: &mut Report) -> TaskResult<PathBuf> {
    report.step("hub: cargo build --release -p enlace-hub", || {
        cmd::run(
            cmd::cargo()
                .args(["build", "--release", "--locked", "-p", PACKAGE])
                .current_dir(paths::root()),
        )
    })?;
    report.step("hub: assemble the .deb", assemble)
}

fn assemble() -> TaskResult<PathBuf> {
    let bin = paths::target_dir()
        .join("release")
        .join(format!("{PACKAGE}{}", std::env::consts::EXE_SUFFIX));
    let version = env!("CARGO_PKG_VERSION");
    let reported = cmd::output(Command::new(&bin).arg("--version"))?;
    if reported.split_whitespace().nth(1) != Some(version) {
        return Err(TaskError::Precondition(format!(
            "{} says `{}`, the workspace is {version}: rebuild",
            bin.display(),
            reported.trim()
        )));
    }
    let arch = cmd::output(Command::new("dpkg").arg("--print-architecture"))?
        .trim()
        .to_owned();
    let bundle = paths::target_dir().join("bundle");
    // dpkg-shlibdeps wants the files in debian/<package>/ under its working directory.
    let work = bundle.join(PACKAGE);
    let root = work.join("debian").join(PACKAGE);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .map_err(|e| TaskError::io(format!("remove {}", work.display()), e))?;
    }
    stage(&bin, &root)?;
    let depends = format!("{}, {SCRIPT_DEPENDS}", shlib_depends(&work, BIN)?);
    let control = control(
        &deb_version(version),
        &arch,
        installed_size_kib(&root)?,
        &depends,
    );
    write_file(&root.join("DEBIAN/control"), control.as_bytes(), 0o644)?;
    let deb = bundle.join(format!("{PACKAGE}_{}_{arch}.deb", deb_version(version)));
    cmd::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&root)
            .arg(&deb),
    )?;
    let size = deb.metadata().map(|m| m.len()).unwrap_or(0);
    println!(
        "{} ({:.1} MiB)",
        deb.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(deb)
}

/// Lays out the package's files under `root`, modes included (owners become root:root).
fn stage(bin: &Path, root: &Path) -> TaskResult<()> {
    let source = paths::root().join("packaging/hub");
    let read = |name: &str| {
        let path = source.join(name);
        std::fs::read(&path).map_err(|e| TaskError::io(format!("read {}", path.display()), e))
    };
    let binary =
        std::fs::read(bin).map_err(|e| TaskError::io(format!("read {}", bin.display()), e))?;
    let staged_bin = in_root(root, BIN);
    write_file(&staged_bin, &binary, 0o755)?;
    // The profile strips debug info; the symbol table goes too (about a fifth of the size).
    cmd::run(
        Command::new("strip")
            .arg("--strip-unneeded")
            .arg(&staged_bin),
    )?;
    write_file(&in_root(root, UNIT), &read("enlace-hub.service")?, 0o644)?;
    // Private from the first byte: postinst hands both to the service's user.
    make_dir(&in_root(root, CONFIG_DIR), 0o700)?;
    write_file(&in_root(root, CONFIG), &read("enlace-hub.toml")?, 0o600)?;
    write_file(
        &in_root(root, "/usr/share/doc/enlace-hub/copyright"),
        COPYRIGHT.as_bytes(),
        0o644,
    )?;
    for script in ["postinst", "prerm", "postrm"] {
        write_file(
            &root.join("DEBIAN").join(script),
            &read(&format!("debian/{script}"))?,
            0o755,
        )?;
    }
    write_file(
        &root.join("DEBIAN/conffiles"),
        &read("debian/conffiles")?,
        0o644,
    )
}

const COPYRIGHT: &str = "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Enlace

Files: *
Copyright: the Enlace developers
License: MIT or Apache-2.0
 The text of both licenses is in the source repository.
";

/// `libc6 (>= 2.34), libgcc-s1 (>= 4.2)`: what the binary links, from `dpkg-shlibdeps`.
fn shlib_depends(work: &Path, bin: &str) -> TaskResult<String> {
    std::fs::write(
        work.join("debian/control"),
        format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"),
    )
    .map_err(|e| TaskError::io("write debian/control for dpkg-shlibdeps", e))?;
    let staged = format!("debian/{PACKAGE}{bin}");
    let out = cmd::output(
        Command::new("dpkg-shlibdeps")
            .args(["-O", &staged])
            .current_dir(work),
    )
    .map_err(|e| match e {
        TaskError::Spawn { .. } => TaskError::Precondition(
            "dpkg-shlibdeps is missing: install dpkg-dev (`cargo xtask setup` does)".to_owned(),
        ),
        other => other,
    })?;
    out.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| TaskError::Precondition(format!("dpkg-shlibdeps printed no Depends: {out}")))
}

/// The `DEBIAN/control` file.
fn control(version: &str, arch: &str, installed_kib: u64, depends: &str) -> String {
    format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kib}\n\
         Depends: {depends}\n\
         Section: net\n\
         Priority: optional\n\
         Description: Enlace organization server\n \
         The server an organization runs for the Enlace desktop: agents and their logins,\n \
         pause reasons, the Asterisk (AMI) connection, the agents' live event stream and\n \
         WhatsApp conversations. Runs as the enlace-hub system user (systemd unit\n \
         enlace-hub.service), configured in /etc/enlace-hub, data in /var/lib/enlace-hub.\n"
    )
}

/// A Cargo version as a Debian one: a pre-release sorts before its release (`-` → `~`).
fn deb_version(cargo: &str) -> String {
    cargo.replacen('-', "~", 1)
}

/// The sum of the payload's file sizes in KiB (what `Installed-Size` estimates).
fn installed_size_kib(root: &Path) -> TaskResult<u64> {
    fn walk(dir: &Path, total: &mut u64) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                if entry.file_name() != "DEBIAN" {
                    walk(&entry.path(), total)?;
                }
            } else {
                *total += meta.len().div_ceil(1024);
            }
        }
        Ok(())
    }
    let mut total = 0;
    walk(root, &mut total).map_err(|e| TaskError::io("measure the package", e))?;
    Ok(total)
}

/// `root` + an absolute path of the installed system.
fn in_root(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

/// Creates `dir` and its missing parents (0755) and gives `dir` `mode`.
fn make_dir(dir: &Path, mode: u32) -> TaskResult<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.exists()) {
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    for d in missing.iter().rev() {
        std::fs::create_dir(d).map_err(|e| TaskError::io(format!("create {}", d.display()), e))?;
        set_mode(d, if d == dir { mode } else { 0o755 })?;
    }
    set_mode(dir, mode)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> TaskResult<()> {
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            make_dir(parent, 0o755)?;
        }
    }
    std::fs::write(path, contents)
        .map_err(|e| TaskError::io(format!("write {}", path.display()), e))?;
    set_mode(path, mode)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> TaskResult<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| TaskError::io(format!("chmod {}", path.display()), e))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> TaskResult<()> {
    Err(TaskError::Precondition(
        "a .deb is assembled on Linux only".to_owned(),
    ))
}

// ---------------------------------------------------------------------------------------------
// The installation check

/// Installs `deb`, starts it, logs an agent in, reinstalls it, and always purges it.
fn check_package(deb: &Path) -> TaskResult<()> {
    refuse_existing_installation()?;
    let log = paths::target_dir().join("bundle/hub-check.log");
    let _ = std::fs::remove_file(&log);
    let checked = install_and_use(deb, &log);
    if checked.is_err() {
        eprintln!(
            "the hub's output (when run without systemd): {}",
            log.display()
        );
    }
    let purged = purge();
    checked.and(purged)
}

/// An installed hub is someone's data: this test never touches one.
fn refuse_existing_installation() -> TaskResult<()> {
    let installed = cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]))
        .is_ok_and(|status| !status.trim().is_empty() && !status.contains("not-installed"));
    let leftovers: Vec<&str> = [CONFIG_DIR, DATA_DIR, BIN]
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .collect();
    if installed || !leftovers.is_empty() || passwd_entry(USER).is_some() {
        return Err(TaskError::Precondition(format!(
            "this machine already has an enlace-hub (package installed: {installed}, paths: \
             {leftovers:?}, user: {}); the check installs and purges the package, so it will \
             not run here",
            passwd_entry(USER).is_some()
        )));
    }
    Ok(())
}

fn install_and_use(deb: &Path, log: &Path) -> TaskResult<()> {
    dpkg_install(deb)?;
    let account = passwd_entry(USER)
        .ok_or_else(|| TaskError::Precondition(format!("no user {USER} after installing")))?;
    println!(
        "user {USER}: uid {}, home {}, shell {}",
        account.uid, account.home, account.shell
    );
    expect_owned(CONFIG_DIR, 0o700, account.uid)?;
    expect_owned(CONFIG, 0o600, account.uid)?;
    expect_owned(DATA_DIR, 0o700, account.uid)?;
    if !Path::new(ENABLED_LINK).exists() {
        return Err(TaskError::Precondition(format!(
            "the unit is not enabled ({ENABLED_LINK} is missing)"
        )));
    }
    let unit_text = read_text(Path::new(UNIT))?;
    let unit = ServiceUnit::parse(&unit_text).map_err(TaskError::Precondition)?;
    if unit.user != USER || unit.group != USER {
        return Err(TaskError::Precondition(format!(
            "the unit runs as {}:{}, not {USER}",
            unit.user, unit.group
        )));
    }
    verify_unit()?;
    let port = free_port()?;
    edit_config("listen", &format!("listen = \"127.0.0.1:{port}\""))?;
    let password = random_password()?;

    // First run: a fresh database (migrations on start), an agent, a login.
    let mut hub = RunningHub::start(&unit, log)?;
    hub.wait_ready(port)?;
    add_agent(&password)?;
    log_in(port, &password)?;
    expect_owned(DATABASE, 0o600, account.uid)?;
    hub.stop()?;
    move_database_url_to_a_file(&account)?;

    // An upgrade: the same package again keeps the edited configuration, the secret file and
    // the data; the next start reads the database URL from the secret file.
    dpkg_install(deb)?;
    expect_owned(CONFIG, 0o600, account.uid)?;
    let config = read_text(Path::new(CONFIG))?;
    if !config.contains(&format!("127.0.0.1:{port}")) || !config.contains(DATABASE_URL_FILE) {
        return Err(TaskError::Precondition(
            "reinstalling replaced the edited configuration".to_owned(),
        ));
    }
    expect_owned(
        &format!("{CONFIG_DIR}/{DATABASE_URL_FILE}"),
        0o600,
        account.uid,
    )?;
    let mut hub = RunningHub::start(&unit, log)?;
    hub.wait_ready(port)?;
    log_in(port, &password)?;
    hub.stop()
}

/// `systemd-analyze verify` reads the installed unit as systemd would, also where systemd is
/// not running; it exits 0 on unknown keys, so anything it prints fails the check.
fn verify_unit() -> TaskResult<()> {
    if cmd::which("systemd-analyze").is_none() {
        println!("systemd-analyze is not installed: the unit's syntax is not verified");
        return Ok(());
    }
    let mut command = Command::new("systemd-analyze");
    command.args(["verify", UNIT]);
    println!("$ {}", cmd::describe(&command));
    let out = command
        .output()
        .map_err(|e| TaskError::io("run systemd-analyze verify", e))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !said.trim().is_empty() {
        return Err(TaskError::Precondition(format!(
            "systemd-analyze verify {UNIT}: {}",
            said.trim()
        )));
    }
    Ok(())
}

fn dpkg_install(deb: &Path) -> TaskResult<()> {
    cmd::run(
        Command::new("dpkg")
            .arg("--install")
            .arg(deb)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// `dpkg --purge`, then everything the package made must be gone.
fn purge() -> TaskResult<()> {
    cmd::run(
        Command::new("dpkg")
            .args(["--purge", PACKAGE])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let left: Vec<&str> = [CONFIG_DIR, DATA_DIR, BIN, UNIT, ENABLED_LINK]
        .into_iter()
        .filter(|p| Path::new(p).symlink_metadata().is_ok())
        .collect();
    let user_left = passwd_entry(USER).is_some();
    let group_left = cmd::output(Command::new("getent").args(["group", USER])).is_ok();
    if !left.is_empty() || user_left || group_left {
        return Err(TaskError::Precondition(format!(
            "after the purge: paths {left:?} remain, user left: {user_left}, group left: \
             {group_left}"
        )));
    }
    println!("purged: no {CONFIG_DIR}, {DATA_DIR}, {BIN}, unit or {USER} user left");
    Ok(())
}

/// The hub the check started: the unit under systemd (`process` is `None`), else the unit's
/// command line as its user. Stopped when dropped, so a failed check can still purge.
#[derive(Debug)]
struct RunningHub {
    process: Option<Child>,
    stopped: bool,
}

const SERVICE: &str = "enlace-hub.service";

impl RunningHub {
    fn start(unit: &ServiceUnit, log: &Path) -> TaskResult<RunningHub> {
        if Path::new("/run/systemd/system").is_dir() {
            cmd::run(Command::new("systemctl").args(["start", SERVICE]))?;
            return Ok(RunningHub {
                process: None,
                stopped: false,
            });
        }
        println!(
            "systemd is not running: starting the unit's ExecStart as {}",
            unit.user
        );
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| TaskError::io(format!("create {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| TaskError::io(format!("open {}", log.display()), e))?;
        let mut command = as_user(&unit.user, &unit.group);
        command
            .args(&unit.exec_start)
            .current_dir(&unit.working_directory)
            .env("HOME", &unit.working_directory)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        println!("$ {}", cmd::describe(&command));
        let child = command
            .spawn()
            .map_err(|e| TaskError::io("start the installed hub", e))?;
        Ok(RunningHub {
            process: Some(child),
            stopped: false,
        })
    }

    fn wait_ready(&mut self, port: u16) -> TaskResult<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        while started.elapsed() < START {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                println!(
                    "the hub answers on {addr} after {}",
                    cmd::human(started.elapsed())
                );
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.process.as_mut().map(Child::try_wait) {
                self.stopped = true;
                return Err(TaskError::Failed {
                    command: "the installed hub (exited before listening)".to_owned(),
                    status,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(TaskError::NotReady(format!(
            "the installed hub did not listen on {addr} within {}",
            cmd::human(START)
        )))
    }

    /// Stops the hub: `systemctl stop`, or SIGINT to the PID we started (what the unit's
    /// KillSignal sends); it must exit cleanly.
    fn stop(mut self) -> TaskResult<()> {
        self.stopped = true;
        let Some(child) = self.process.as_mut() else {
            return cmd::run(Command::new("systemctl").args(["stop", SERVICE]));
        };
        cmd::run(Command::new("kill").args(["-INT", &child.id().to_string()]))?;
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(TaskError::Failed {
                        command: "the installed hub (stopped with SIGINT)".to_owned(),
                        status,
                    })
                }
                Ok(None) if started.elapsed() < STOP => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    self.stopped = false; // Drop kills it.
                    return Err(TaskError::NotReady(format!(
                        "the installed hub did not stop within {} of SIGINT",
                        cmd::human(STOP)
                    )));
                }
            }
        }
    }
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        match &mut self.process {
            // Child::kill signals exactly the PID we spawned.
            Some(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {
                let _ = Command::new("systemctl").args(["stop", SERVICE]).status();
            }
        }
    }
}

/// `setpriv` to `user:group` with a clean environment, like systemd's `User=`/`Group=`; it
/// execs, so the PID we get is the program's.
fn as_user(user: &str, group: &str) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid", user, "--regid", group, "--init-groups", "--"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("USER", user)
        .env("LOGNAME", user);
    command
}

/// `enlace-hub agent add` as the service's user, the password on standard input.
fn add_agent(password: &str) -> TaskResult<()> {
    let mut command = as_user(USER, USER);
    command
        .args([
            BIN,
            "--config",
            CONFIG,
            "agent",
            "add",
            "--name",
            "Paquete Prueba",
        ])
        .args([
            "--extension",
            "1001",
            "--user",
            TEST_AGENT,
            "--password-stdin",
        ])
        .current_dir(DATA_DIR)
        .stdin(Stdio::piped());
    println!("$ {}", cmd::describe(&command));
    let mut child = command
        .spawn()
        .map_err(|e| TaskError::io("start enlace-hub agent add", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{password}\n").as_bytes())
            .map_err(|e| TaskError::io("write to enlace-hub agent add", e))?;
    }
    let status = child
        .wait()
        .map_err(|e| TaskError::io("wait for enlace-hub agent add", e))?;
    if !status.success() {
        return Err(TaskError::Failed {
            command: "enlace-hub agent add".to_owned(),
            status,
        });
    }
    Ok(())
}

/// `POST /api/v1/sessions` must answer 201 with a token (not printed), and the session must
/// see the pause reasons, Salida among them (`serve` creates it without `init`).
fn log_in(port: u16, password: &str) -> TaskResult<()> {
    let body = serde_json::json!({ "user": TEST_AGENT, "password": password }).to_string();
    let (status, reply) = http(port, "POST", "/api/v1/sessions", None, &body)?;
    if status != 201 {
        return Err(TaskError::Precondition(format!(
            "logging {TEST_AGENT} in answered {status}: {reply}"
        )));
    }
    let token = serde_json::from_str::<serde_json::Value>(&reply)
        .ok()
        .and_then(|v| v.get("token")?.as_str().map(str::to_owned))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TaskError::Precondition("the login reply has no token".to_owned()))?;
    println!(
        "logged {TEST_AGENT} in through http://127.0.0.1:{port}/api/v1/sessions: 201 with a token"
    );
    let (status, reasons) = http(port, "GET", "/api/v1/pause-reasons", Some(&token), "")?;
    let has_exit = serde_json::from_str::<serde_json::Value>(&reasons)
        .ok()
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .any(|r| r["isExit"] == serde_json::Value::Bool(true))
            })
        })
        .unwrap_or(false);
    if status != 200 || !has_exit {
        return Err(TaskError::Precondition(format!(
            "GET /api/v1/pause-reasons answered {status} without an exit reason: {reasons}"
        )));
    }
    Ok(())
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> TaskResult<(u16, String)> {
    let fail = |e| TaskError::io(format!("{method} {path}"), e);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(fail)?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(fail)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).map_err(fail)?;
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Replaces the installed configuration's one `key = …` line with `lines` (the file is
/// rewritten in place: owner and mode stay).
fn edit_config(key: &str, lines: &str) -> TaskResult<()> {
    let text = read_text(Path::new(CONFIG))?;
    let edited = replace_key(&text, key, lines).ok_or_else(|| {
        TaskError::Precondition(format!("{CONFIG} has no single `{key} = …` line"))
    })?;
    std::fs::write(CONFIG, edited).map_err(|e| TaskError::io(format!("write {CONFIG}"), e))
}

/// `text` with its one `key = …` line replaced by `lines`.
fn replace_key(text: &str, key: &str, lines: &str) -> Option<String> {
    let is_key = |l: &str| {
        l.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    if text.lines().filter(|l| is_key(l)).count() != 1 {
        return None;
    }
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(if is_key(line) { lines } else { line });
        out.push('\n');
    }
    Some(out)
}

/// Keeps the database URL where a PostgreSQL URL with its password belongs: a private file
/// next to the configuration (`database_url_file`, relative to /etc/enlace-hub), while the
/// file's own `database_url` points at a folder that does not exist. The hub finds its
/// database, and the agent, only by reading the secret file.
#[cfg(unix)]
fn move_database_url_to_a_file(account: &Account) -> TaskResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = Path::new(CONFIG_DIR).join(DATABASE_URL_FILE);
    let fail = |e| TaskError::io(format!("write {}", path.display()), e);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(fail)?;
    file.write_all(format!("sqlite://{DATABASE}\n").as_bytes())
        .map_err(fail)?;
    std::os::unix::fs::chown(&path, Some(account.uid), Some(account.gid)).map_err(fail)?;
    edit_config(
        "database_url",
        &format!(
            "database_url = \"sqlite:///nonexistent/enlace-hub.db\"\n\
             database_url_file = \"{DATABASE_URL_FILE}\""
        ),
    )
}

#[cfg(not(unix))]
fn move_database_url_to_a_file(_: &Account) -> TaskResult<()> {
    Err(TaskError::Precondition(
        "the package check runs on Linux only".to_owned(),
    ))
}

fn free_port() -> TaskResult<u16> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TaskError::io("find a free port", e))
}

/// Six random digits from /dev/urandom.
fn random_password() -> TaskResult<String> {
    let mut bytes = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| TaskError::io("read /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| char::from(b'0' + b % 10)).collect())
}

fn read_text(path: &Path) -> TaskResult<String> {
    std::fs::read_to_string(path).map_err(|e| TaskError::io(format!("read {}", path.display()), e))
}

/// The fields of a `getent passwd` line we look at.
#[derive(Debug)]
struct Account {
    uid: u32,
    gid: u32,
    home: String,
    shell: String,
}

fn passwd_entry(user: &str) -> Option<Account> {
    let line = cmd::output(Command::new("getent").args(["passwd", user])).ok()?;
    let fields: Vec<&str> = line.trim().split(':').collect();
    match fields.as_slice() {
        [_, _, uid, gid, _, home, shell] => Some(Account {
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: (*home).to_owned(),
            shell: (*shell).to_owned(),
        }),
        _ => None,
    }
}

/// `path` must be owned by `uid` with exactly `mode`.
#[cfg(unix)]
fn expect_owned(path: &str, mode: u32, uid: u32) -> TaskResult<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| TaskError::io(format!("stat {path}"), e))?;
    let (found_mode, found_uid) = (meta.mode() & 0o7777, meta.uid());
    if found_mode != mode || found_uid != uid {
        return Err(TaskError::Precondition(format!(
            "{path}: mode {found_mode:04o} owner uid {found_uid}, expected {mode:04o} uid {uid}"
        )));
    }
    println!("{path}: mode {mode:04o}, owner {USER}");
    Ok(())
}

#[cfg(not(unix))]
fn expect_owned(_: &str, _: u32, _: u32) -> TaskResult<()> {
    Err(TaskError::Precondition(
        "the package check runs on Linux only".to_owned(),
    ))
}

/// What the check needs from the unit's `[Service]` section.
#[derive(Debug, PartialEq, Eq)]
struct ServiceUnit {
    exec_start: Vec<String>,
    user: String,
    group: String,
    working_directory: String,
    kill_signal: String,
}

impl ServiceUnit {
    /// Reads `[Service]`: one ExecStart of plain words (no quoting, specifiers, variables or
    /// prefixes, which this check would have to interpret like systemd does), User, Group,
    /// WorkingDirectory, KillSignal.
    fn parse(text: &str) -> Result<ServiceUnit, String> {
        let mut section = "";
        let mut exec = Vec::new();
        let (mut user, mut group, mut dir, mut signal) = (None, None, None, None);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                section = line;
                continue;
            }
            if section != "[Service]" {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("not a key=value line in [Service]: {line}"));
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "ExecStart" => exec.push(value),
                "User" => user = Some(value),
                "Group" => group = Some(value),
                "WorkingDirectory" => dir = Some(value),
                "KillSignal" => signal = Some(value),
                _ => {}
            }
        }
        let [exec] = exec.as_slice() else {
            return Err(format!("expected one ExecStart, found {}", exec.len()));
        };
        if exec.contains(['"', '\'', '%', '$', '\\', ';'])
            || exec.starts_with(['-', '@', ':', '+', '!'])
        {
            return Err(format!(
                "ExecStart uses systemd syntax this check does not interpret: {exec}"
            ));
        }
        let missing = |what: &str| format!("the unit sets no {what}");
        Ok(ServiceUnit {
            exec_start: exec.split_whitespace().map(str::to_owned).collect(),
            user: user.ok_or_else(|| missing("User"))?,
            group: group.ok_or_else(|| missing("Group"))?,
            working_directory: dir.ok_or_else(|| missing("WorkingDirectory"))?,
            kill_signal: signal.unwrap_or_else(|| "SIGTERM".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packaging(name: &str) -> String {
        std::fs::read_to_string(paths::root().join("packaging/hub").join(name)).unwrap()
    }

    fn unit() -> ServiceUnit {
        ServiceUnit::parse(&packaging("enlace-hub.service")).unwrap()
    }

    #[test]
    fn the_unit_runs_the_packaged_binary_as_its_user() {
        let unit = unit();
        assert_eq!(
            unit.exec_start,
            [BIN, "--config", CONFIG, "serve"].map(String::from)
        );
        assert_eq!((unit.user.as_str(), unit.group.as_str()), (USER, USER));
        assert_eq!(unit.working_directory, DATA_DIR);
        // `serve` stops gracefully on SIGINT only.
        assert_eq!(unit.kill_signal, "SIGINT");
        let text = packaging("enlace-hub.service");
        for line in [
            "StateDirectory=enlace-hub",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "ReadWritePaths=/var/lib/enlace-hub",
            "Restart=on-failure",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing");
        }
    }

    #[test]
    fn unit_parsing_refuses_what_it_would_misread() {
        let unit = |exec: &str| {
            ServiceUnit::parse(&format!(
                "[Unit]\nExecStart=/nope\n[Service]\nUser=u\nGroup=g\n\
                 WorkingDirectory=/w\nExecStart={exec}\n"
            ))
        };
        let parsed = unit("/usr/bin/x --config /etc/x.toml serve").unwrap();
        assert_eq!(
            parsed.exec_start,
            ["/usr/bin/x", "--config", "/etc/x.toml", "serve"]
        );
        assert_eq!(parsed.kill_signal, "SIGTERM");
        for fancy in [
            "-/usr/bin/x",
            "/usr/bin/x \"a b\"",
            "/usr/bin/x %i",
            "/usr/bin/x $ARGS",
        ] {
            assert!(unit(fancy).is_err(), "{fancy}");
        }
        assert!(ServiceUnit::parse("[Service]\nUser=u\n").is_err());
    }

    /// The default configuration listens on loopback (no TLS yet) on the port the container
    /// exposes, keeps the database in the data folder, and the check can move its port.
    #[test]
    fn the_default_configuration_points_at_the_package_paths() {
        let config = packaging("enlace-hub.toml");
        assert!(config.contains("\nlisten = \"127.0.0.1:8640\"\n"));
        assert!(config.contains(&format!("\ndatabase_url = \"sqlite://{DATABASE}\"\n")));
        let moved = replace_key(&config, "listen", "listen = \"127.0.0.1:5\"").unwrap();
        assert!(moved.contains("\nlisten = \"127.0.0.1:5\"\n"));
        assert!(!moved.contains("8640\"\n"));
        // The commented `# database_url_file = …` is not the key.
        assert!(replace_key(&config, "database_url", "database_url = \"x\"").is_some());
        assert_eq!(replace_key("a = 1\n", "listen", "x"), None);
        assert_eq!(replace_key("listenx = 1\n", "listen", "x"), None);
    }

    #[test]
    fn maintainer_scripts_and_conffiles_name_the_same_paths() {
        assert_eq!(packaging("debian/conffiles").trim(), CONFIG);
        let postinst = packaging("debian/postinst");
        for needle in [
            CONFIG_DIR,
            DATA_DIR,
            "adduser --system",
            "own 0600 \"$CONF\"",
        ] {
            assert!(postinst.contains(needle), "postinst lacks {needle}");
        }
        let postrm = packaging("debian/postrm");
        assert!(postrm.contains(&format!("rm -rf {CONFIG_DIR} {DATA_DIR}")));
        assert!(postrm.contains(&format!("deluser --system --quiet {USER}")));
    }

    /// The Containerfile is not built by any test (no image registry here): at least its user,
    /// paths, stop signal and command line must be the unit's.
    #[test]
    fn containerfile_agrees_with_the_unit() {
        let unit = unit();
        let file = packaging("Containerfile");
        let runtime = file
            .rsplit_once("\nFROM ")
            .map(|(_, last)| last)
            .expect("a multi-stage Containerfile");
        let instruction = |name: &str| -> Vec<&str> {
            runtime
                .lines()
                .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .map(str::trim)
                .collect()
        };
        let json = |name: &str| -> Vec<String> {
            serde_json::from_str(instruction(name)[0]).expect("exec form")
        };
        assert_eq!(instruction("USER"), [unit.user.as_str()]);
        assert_eq!(instruction("WORKDIR"), [unit.working_directory.as_str()]);
        assert_eq!(instruction("VOLUME"), [DATA_DIR]);
        assert_eq!(instruction("STOPSIGNAL"), [unit.kill_signal.as_str()]);
        assert_eq!(instruction("EXPOSE"), ["8640"]);
        let mut command = json("ENTRYPOINT");
        command.extend(json("CMD"));
        assert_eq!(
            command,
            unit.exec_start
                .iter()
                .cloned()
                .chain(["--listen".to_owned(), "0.0.0.0:8640".to_owned()])
                .collect::<Vec<_>>()
        );
        let copies = instruction("COPY");
        assert!(copies.iter().any(|c| c.ends_with(&format!(" {BIN}"))));
        assert!(copies.contains(
            &format!("--chown={USER}:{USER} --chmod=0600 packaging/hub/enlace-hub.toml {CONFIG}")
                .as_str()
        ));
        assert!(runtime.contains(&format!("-m 0700 {CONFIG_DIR} {DATA_DIR}")));
        assert!(file.contains("FROM docker.io/library/rust:1-bookworm AS build"));
        assert!(file.contains("cargo build --release --locked -p enlace-hub"));
    }

    #[test]
    fn debian_versions_sort_pre_releases_first() {
        assert_eq!(deb_version("0.1.0"), "0.1.0");
        assert_eq!(deb_version("0.2.0-beta.1"), "0.2.0~beta.1");
    }

    #[test]
    fn the_control_file_has_the_fields_dpkg_needs() {
        let control = control("0.1.0", "amd64", 20_000, "libc6 (>= 2.34), adduser");
        for field in [
            "Package: enlace-hub\n",
            "Version: 0.1.0\n",
            "Architecture: amd64\n",
            "Depends: libc6 (>= 2.34), adduser\n",
            "Installed-Size: 20000\n",
        ] {
            assert!(control.contains(field), "{field}");
        }
        assert!(control.contains("Maintainer: "));
        // Continuation lines of the description start with one space; no blank line.
        let description = control.split_once("Description: ").unwrap().1;
        assert!(description
            .lines()
            .skip(1)
            .all(|l| l.starts_with(' ') && l.len() > 1));
    }
}
