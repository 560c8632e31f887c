//! `cargo xtask bundle [--check]`: the desktop app's packages, built with the Tauri bundler (the
//! Tauri CLI pinned in `ui/package.json`, `@tauri-apps/cli`): `.deb` and `.rpm` on Linux. The
//! other targets of `src-tauri/tauri.conf.json` (AppImage, `.msi`/NSIS, `.dmg`) need their
//! own OS or tools and are built there (README, Install).
//!
//! What a package holds beyond the bundler's defaults comes from `packaging/desktop/`: the
//! desktop entry (`Exec=/usr/bin/enlace-open %u`, the tel:/callto: MIME types), the scripts
//! that refresh the MIME cache on install and removal, and `enlace-open` itself.
//!
//! `--check` (and the step of `cargo xtask test`, root on Debian) installs the `.deb` with its
//! dependencies (`apt-get install ./…`), checks that the OS lists Enlace for `tel:` links,
//! starts the installed app against a demo phone line, `gio open tel:…` makes it dial,
//! then purges it and checks that nothing of it is left; the `.rpm`'s contents are read with
//! `rpm -qlp` where `rpm` is installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use enlace_peers::{DemoFarEnd, DemoLine};

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::hub_package::{cannot_install, unless_installable};
use crate::session::{self, Desktop, TempDir};
use crate::{paths, setup, ui};

/// The Debian package's name (the bundler's, from `productName`).
const PACKAGE: &str = "enlace";
/// What the package installs that the checks look at.
const APP: &str = "/usr/bin/enlace";
const FORWARDER: &str = "/usr/bin/enlace-open";
const ENTRY_ID: &str = "Enlace.desktop";
const ENTRY: &str = "/usr/share/applications/Enlace.desktop";
const MIME_CACHE: &str = "/usr/share/applications/mimeinfo.cache";
const LINK: &str = "tel:+50640004000";
const WAIT: Duration = Duration::from_secs(60);
/// The Cargo profile of the packages (`Cargo.toml`: release, built for size).
pub const PROFILE: &str = "dist";

/// The packages one build made.
#[derive(Debug, Clone)]
pub struct Bundles {
    pub deb: PathBuf,
    pub rpm: Option<PathBuf>,
}

/// `cargo xtask bundle [--check]`.
pub fn bundle(args: &[String]) -> TaskResult<ExitCode> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            return Err(TaskError::Usage(format!(
                "bundle takes only --check, not {}",
                args.join(" ")
            )))
        }
    };
    let mut report = Report::new("cargo xtask bundle");
    let outcome = (|| {
        if let Some(why) = cannot_install().filter(|_| check) {
            return Err(TaskError::Precondition(format!(
                "--check installs the package: {why}"
            )));
        }
        report.step("system packages", || {
            setup::ensure_packages(&[setup::DEBIAN_BUILD, setup::DEBIAN_RUNTIME])
        })?;
        report.step("ui packages (npm ci)", setup::ensure_ui_packages)?;
        report.step("ui: npm run build", ui::build)?;
        let bundles = build(&mut report)?;
        if check {
            check_step(&mut report, &bundles)?;
        }
        Ok(())
    })();
    report.print_summary(outcome.as_ref().err());
    outcome.map(|()| ExitCode::SUCCESS)
}

const CHECK_STEP: &str = "desktop package: install, tel: handler, dial, purge";

/// The step of `cargo xtask test`: build, then check where the package can be installed (root
/// on Debian); elsewhere it says so, and fails when `CI` is set.
pub fn test_step(report: &mut Report) -> TaskResult<()> {
    if let Some(skipped) = unless_installable(report, "desktop package", CHECK_STEP, "bundle") {
        return skipped;
    }
    // `cargo xtask test` built the UI already: building it again would only touch `ui/dist`
    // and make cargo link the app once more.
    let bundles = build(report)?;
    check_step(report, &bundles)
}

fn check_step(report: &mut Report, bundles: &Bundles) -> TaskResult<()> {
    if let Some(rpm) = &bundles.rpm {
        report.step("desktop package: the .rpm's contents", || check_rpm(rpm))?;
    }
    report.step(CHECK_STEP, || {
        let mut args = vec!["bundle-check".to_owned()];
        args.push(bundles.deb.display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        session::reexec_headless(&args, &[])
    })
}

// ---------------------------------------------------------------------------------------------
// Building

/// `enlace-open`, then `tauri build --bundles deb,rpm` (the `dist` profile: release built for
/// size), which builds the app with the UI already in `ui/dist` and packs everything.
pub fn build(report: &mut Report) -> TaskResult<Bundles> {
    report.step(
        "desktop: cargo build --profile dist -p enlace-activation",
        || {
            cmd::run(
                cmd::cargo()
                    .args(["build", "--profile", PROFILE, "--locked"])
                    .args(["-p", "enlace-activation"])
                    .current_dir(paths::root()),
            )
        },
    )?;
    let forwarder = paths::target_dir()
        .join(PROFILE)
        .join(format!("enlace-open{}", std::env::consts::EXE_SUFFIX));
    report.step("desktop: tauri build --bundles deb,rpm", || {
        tauri_build(&forwarder)
    })?;
    let bundles = report.step("desktop: find the packages", find_bundles)?;
    report.step("desktop: recompress the .deb with xz", || {
        repack_xz(&bundles.deb)
    })?;
    Ok(bundles)
}

/// The bundler writes the `.deb`'s data with gzip; dpkg reads xz (Debian's own default since
/// 2012), which makes the download a quarter smaller. Same files, modes and scripts: the
/// package is unpacked with `dpkg-deb -R` and built again with `-Zxz`.
fn repack_xz(deb: &Path) -> TaskResult<()> {
    if cmd::which("dpkg-deb").is_none() {
        println!("no dpkg-deb: the .deb keeps the bundler's gzip");
        return Ok(());
    }
    let before = std::fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
    let work = TempDir::new("enlace-deb-repack")?;
    let root = work.path().join("root");
    cmd::run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&root))?;
    let packed = work.path().join("out.deb");
    cmd::run(
        Command::new("dpkg-deb")
            .args(["-Zxz", "-z9", "--root-owner-group", "--build"])
            .arg(&root)
            .arg(&packed),
    )?;
    std::fs::copy(&packed, deb)
        .map_err(|e| TaskError::io(format!("write {}", deb.display()), e))?;
    let after = std::fs::metadata(deb).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: {:.1} MB with gzip → {:.1} MB with xz",
        deb.display(),
        mb(before),
        mb(after)
    );
    Ok(())
}

/// The Tauri CLI from `ui/node_modules` (pinned in `ui/package.json`).
fn tauri_cli() -> TaskResult<PathBuf> {
    let cli = paths::ui()
        .join("node_modules")
        .join(".bin")
        .join(if cfg!(windows) { "tauri.cmd" } else { "tauri" });
    if cli.is_file() {
        Ok(cli)
    } else {
        Err(TaskError::Precondition(format!(
            "{} is missing: run `cargo xtask setup` (npm ci in ui/)",
            cli.display()
        )))
    }
}

fn tauri_build(forwarder: &Path) -> TaskResult<()> {
    // The UI was just built; `enlace-open` comes from wherever the target folder is.
    let forwarder = forwarder.display().to_string();
    let config = format!(
        r#"{{"build":{{"beforeBuildCommand":null}},"bundle":{{"linux":{{"deb":{{"files":{{"/usr/bin/enlace-open":{f}}}}},"rpm":{{"files":{{"/usr/bin/enlace-open":{f}}}}}}}}}}}"#,
        f = json_string(&forwarder)
    );
    cmd::run(
        Command::new(tauri_cli()?)
            .args(["build", "--ci", "--bundles", "deb,rpm", "--config", &config])
            .args(["--", "--profile", PROFILE])
            .current_dir(paths::root()),
    )
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn find_bundles() -> TaskResult<Bundles> {
    let dir = paths::target_dir().join(PROFILE).join("bundle");
    let version = env!("CARGO_PKG_VERSION");
    let find = |sub: &str, ext: &str| -> Option<PathBuf> {
        std::fs::read_dir(dir.join(sub))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|e| e == ext)
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.contains(version))
            })
    };
    let deb = find("deb", "deb").ok_or_else(|| {
        TaskError::Precondition(format!("no .deb of {version} under {}", dir.display()))
    })?;
    let rpm = find("rpm", "rpm");
    for p in std::iter::once(&deb).chain(rpm.as_ref()) {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("{}: {:.1} MB", p.display(), mb(size));
    }
    Ok(Bundles { deb, rpm })
}

/// Bytes → MB (10⁶, as package sizes are usually given).
pub fn mb(bytes: u64) -> f64 {
    // u64 → f64 loses nothing for any realistic package size.
    #[allow(clippy::cast_precision_loss)]
    let bytes = bytes as f64;
    bytes / 1_000_000.0
}

// ---------------------------------------------------------------------------------------------
// Checking

/// `rpm -qlp`: the same files as the `.deb`, and the scripts that refresh the MIME cache.
fn check_rpm(rpm: &Path) -> TaskResult<()> {
    if cmd::which("rpm").is_none() {
        println!("`rpm` is not installed: the .rpm's contents are not read here");
        return Ok(());
    }
    let files = cmd::output(Command::new("rpm").arg("-qlp").arg(rpm))?;
    let missing: Vec<&str> = [APP, FORWARDER, ENTRY]
        .into_iter()
        .filter(|f| !files.lines().any(|l| l.trim() == *f))
        .collect();
    let scripts = cmd::output(Command::new("rpm").args(["-qp", "--scripts"]).arg(rpm))?;
    if !missing.is_empty() || !scripts.contains("update-desktop-database") {
        return Err(TaskError::Precondition(format!(
            "{}: missing {missing:?}; scripts:\n{scripts}",
            rpm.display()
        )));
    }
    println!(
        "{}: {APP}, {FORWARDER}, {ENTRY} and the MIME-cache scripts",
        rpm.display()
    );
    Ok(())
}

/// The inner half (`bundle-check <deb>`), inside Xvfb + a session bus.
pub fn check_session(args: &[String]) -> TaskResult<()> {
    let [deb] = args else {
        return Err(TaskError::Usage("bundle-check <deb>".into()));
    };
    let deb = PathBuf::from(deb);
    let mut report = Report::new("desktop package check");
    let outcome = (|| {
        refuse_existing_installation()?;
        let desktop = report.step(
            "desktop: sandbox HOME, gnome-keyring, dunst",
            Desktop::start,
        )?;
        let installed_files = report.step("apt-get install ./<deb>", || install(&deb));
        let checked = installed_files.and_then(|files| {
            report.step(
                "installed: files, the tel: handler, a dial through gio open",
                || check_installed(&desktop),
            )?;
            Ok(files)
        });
        desktop.stop();
        let purged = report.step("dpkg --purge enlace: nothing left", || {
            purge(checked.as_ref().ok().map(Vec::as_slice))
        });
        checked.map(drop).and(purged)
    })();
    report.print_summary(outcome.as_ref().err());
    outcome
}

/// An installed Enlace is someone's: this check never touches one.
fn refuse_existing_installation() -> TaskResult<()> {
    let installed = cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]))
        .is_ok_and(|status| !status.trim().is_empty() && !status.contains("not-installed"));
    if installed || Path::new(APP).exists() || Path::new(ENTRY).exists() {
        return Err(TaskError::Precondition(format!(
            "this machine already has Enlace installed ({APP} or {ENTRY}); the check installs \
             and purges the package, so it will not run here"
        )));
    }
    Ok(())
}

/// `apt-get install ./x.deb` (pulls the dependencies), then the package's file list.
fn install(deb: &Path) -> TaskResult<Vec<String>> {
    let absolute = std::fs::canonicalize(deb)
        .map_err(|e| TaskError::io(format!("find {}", deb.display()), e))?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .arg(&absolute)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let listed = cmd::output(Command::new("dpkg").args(["-L", PACKAGE]))?;
    Ok(listed
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(str::to_owned)
        .collect())
}

fn check_installed(desktop: &Desktop) -> TaskResult<()> {
    for f in [APP, FORWARDER, ENTRY] {
        if !Path::new(f).is_file() {
            return Err(TaskError::Precondition(format!("{f} is not installed")));
        }
    }
    let entry = std::fs::read_to_string(ENTRY).map_err(|e| TaskError::io(ENTRY, e))?;
    let problems = entry_problems(&entry);
    if !problems.is_empty() {
        return Err(TaskError::Precondition(format!(
            "{ENTRY}: {}\n{entry}",
            problems.join("; ")
        )));
    }
    let cache = std::fs::read_to_string(MIME_CACHE).unwrap_or_default();
    if !mime_cache_lists(&cache, ENTRY_ID) {
        return Err(TaskError::Precondition(format!(
            "{MIME_CACHE} does not list {ENTRY_ID} for x-scheme-handler/tel (was the MIME \
             database refreshed on install?)"
        )));
    }
    let listed = gio_mime(desktop)?;
    if !listed.contains(ENTRY_ID) {
        return Err(TaskError::Precondition(format!(
            "`gio mime x-scheme-handler/tel` does not list {ENTRY_ID}:\n{listed}"
        )));
    }
    println!("gio mime x-scheme-handler/tel lists {ENTRY_ID}");
    dial_through_gio(desktop)
}

/// What is wrong with the installed entry's text, if anything.
fn entry_problems(entry: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let value = |key: &str| {
        entry
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    if value("Exec") != Some("/usr/bin/enlace-open %u") {
        problems.push(format!(
            "Exec is {:?}, not \"/usr/bin/enlace-open %u\"",
            value("Exec")
        ));
    }
    let mime: Vec<&str> = value("MimeType")
        .unwrap_or("")
        .split(';')
        .filter(|m| !m.is_empty())
        .collect();
    for wanted in ["x-scheme-handler/tel", "x-scheme-handler/callto"] {
        if !mime.contains(&wanted) {
            problems.push(format!("MimeType lacks {wanted}"));
        }
    }
    if entry.matches("[Desktop Entry]").count() != 1 {
        problems.push("not exactly one [Desktop Entry] group".into());
    }
    problems
}

/// Whether `mimeinfo.cache` lists `id` for `tel:` links.
fn mime_cache_lists(cache: &str, id: &str) -> bool {
    cache.lines().any(|l| {
        l.strip_prefix("x-scheme-handler/tel=")
            .is_some_and(|ids| ids.split(';').any(|i| i == id))
    })
}

/// `gio mime x-scheme-handler/tel` in the sandbox (its own mimeapps.list, the system's entries).
fn gio_mime(desktop: &Desktop) -> TaskResult<String> {
    cmd::output(
        desktop
            .command("gio")
            .args(["mime", "x-scheme-handler/tel"]),
    )
}

/// The installed app on a demo line; Enlace made the default for tel: links the way its
/// Settings do (`xdg-mime default`); `gio open tel:…` → the app's `dial-sent` trace line.
fn dial_through_gio(desktop: &Desktop) -> TaskResult<()> {
    let line = DemoLine::start_with(DemoFarEnd::AnswerThenHangUp { talk_ms: 500 })
        .map_err(|e| TaskError::Precondition(format!("demo line: {e}")))?;
    let data = TempDir::new("enlace-package-data")?;
    let trace = data.path().join("dial-trace");
    let ready = data.path().join("ready");
    let mut app = desktop.command(APP);
    app.env("ENLACE_DATA_DIR", data.path())
        .env("ENLACE_READY_FILE", &ready)
        .env("ENLACE_TRACE_DIAL", &trace)
        .env(
            "ENLACE_DEMO_LINE",
            format!("{} {}", line.ctrl_addr(), line.sip_domain()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = app
        .spawn()
        .map_err(|e| TaskError::io(format!("start {APP}"), e))?;
    let mut running = Running(child);
    let outcome = (|| {
        wait_for("the installed app's first paint", || {
            std::fs::read_to_string(&ready).is_ok_and(|t| t.contains('\n'))
        })?;
        // Another softphone holds tel: links: `enlace doctor` says so and how to fix it,
        // naming the package's entry (the app adopted it instead of writing its own).
        let other = "other-softphone.desktop";
        let apps = desktop.home().join(".local/share/applications");
        std::fs::create_dir_all(&apps).map_err(|e| TaskError::io("sandbox applications", e))?;
        std::fs::write(
            apps.join(other),
            "[Desktop Entry]\nType=Application\nName=Other softphone\nExec=/bin/true %u\n\
             MimeType=x-scheme-handler/tel;x-scheme-handler/callto;\n",
        )
        .map_err(|e| TaskError::io("write the other softphone's entry", e))?;
        cmd::run(
            desktop
                .command("xdg-mime")
                .args(["default", other, "x-scheme-handler/tel"]),
        )?;
        let before = doctor(desktop)?;
        let wanted = format!("xdg-mime default {ENTRY_ID} x-scheme-handler/tel");
        if !doctor_line(&before, "tel: handler")
            .is_some_and(|l| l.starts_with("problem") && l.contains(&wanted))
        {
            return Err(TaskError::Precondition(format!(
                "`enlace doctor` with another default does not say `{wanted}`:\n{before}"
            )));
        }
        for scheme in ["tel", "callto"] {
            cmd::run(desktop.command("xdg-mime").args([
                "default",
                ENTRY_ID,
                &format!("x-scheme-handler/{scheme}"),
            ]))?;
        }
        let after = doctor(desktop)?;
        for check in ["tel: handler", "callto: handler"] {
            if !doctor_line(&after, check).is_some_and(|l| l.starts_with("ok")) {
                return Err(TaskError::Precondition(format!(
                    "`enlace doctor` does not report the {check} ok once {ENTRY_ID} is the \
                     default:\n{after}"
                )));
            }
        }
        let before = dial_lines(&trace);
        cmd::run(desktop.command("gio").args(["open", LINK]))?;
        wait_for("`dial-sent` after gio open", || dial_lines(&trace) > before)?;
        println!("gio open {LINK}: the installed app dialed it (baresip accepted the dial)");
        Ok(())
    })();
    running.stop();
    drop(line);
    outcome
}

/// `enlace doctor`'s report (it exits non-zero while something is to fix).
fn doctor(desktop: &Desktop) -> TaskResult<String> {
    let out = desktop
        .command(APP)
        .arg("doctor")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TaskError::io(format!("{APP} doctor"), e))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The doctor's line for `check` (`ok          tel: handler — …`).
fn doctor_line<'a>(report: &'a str, check: &str) -> Option<&'a str> {
    report.lines().find(|l| {
        l.split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
            .starts_with(check)
    })
}

fn dial_lines(trace: &Path) -> usize {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with(" dial-sent"))
        .count()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) -> TaskResult<()> {
    let deadline = Instant::now() + WAIT;
    while !done() {
        if Instant::now() > deadline {
            return Err(TaskError::Precondition(format!(
                "timed out after {WAIT:?} waiting for {what}"
            )));
        }
        sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The app this check started; stopped (by its PID) when dropped.
struct Running(Child);

impl Running {
    fn stop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = cmd::output(Command::new("kill").args(["-TERM", &self.0.id().to_string()]));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
                sleep(Duration::from_millis(20));
            }
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `dpkg --purge`; then none of the package's files, no entry in the MIME cache.
fn purge(files: Option<&[String]>) -> TaskResult<()> {
    cmd::run(
        Command::new("dpkg")
            .args(["--purge", PACKAGE])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let mut left: Vec<String> = [APP, FORWARDER, ENTRY]
        .into_iter()
        .map(str::to_owned)
        .chain(files.unwrap_or_default().iter().cloned())
        .filter(|p| Path::new(p).is_file() || Path::new(p).is_symlink())
        .collect();
    left.dedup();
    let cache = std::fs::read_to_string(MIME_CACHE).unwrap_or_default();
    let cached = mime_cache_lists(&cache, ENTRY_ID);
    if !left.is_empty() || cached {
        return Err(TaskError::Precondition(format!(
            "after the purge: files left {left:?}; {MIME_CACHE} still lists {ENTRY_ID}: {cached}"
        )));
    }
    println!("purged: no file of the package and no {ENTRY_ID} in {MIME_CACHE}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_must_start_the_forwarder_with_the_link() {
        let good = "[Desktop Entry]\nType=Application\nName=Enlace\n\
                    Exec=/usr/bin/enlace-open %u\n\
                    MimeType=x-scheme-handler/tel;x-scheme-handler/callto;\n";
        assert!(entry_problems(good).is_empty());
        let bundler_default = good.replace("/usr/bin/enlace-open %u", "enlace");
        assert_eq!(entry_problems(&bundler_default).len(), 1);
        let no_callto = good.replace("x-scheme-handler/callto;", "");
        assert_eq!(
            entry_problems(&no_callto),
            ["MimeType lacks x-scheme-handler/callto"]
        );
    }

    #[test]
    fn the_mime_cache_is_read_per_scheme() {
        let cache = "[MIME Cache]\nx-scheme-handler/sip=Enlace.desktop;\n\
                     x-scheme-handler/tel=linphone.desktop;Enlace.desktop;\n";
        assert!(mime_cache_lists(cache, "Enlace.desktop"));
        assert!(!mime_cache_lists(cache, "Other.desktop"));
        assert!(!mime_cache_lists(
            "x-scheme-handler/tel=NotEnlace.desktop;\n",
            "Enlace.desktop"
        ));
    }

    #[test]
    fn doctor_lines_are_found_by_check_name() {
        let report = "ok          tel: handler — Enlace is the default\n\
                      problem     callto: handler — callto: links open x.desktop — fix: y\n";
        assert!(doctor_line(report, "tel: handler").is_some_and(|l| l.starts_with("ok")));
        assert!(doctor_line(report, "callto: handler").is_some_and(|l| l.starts_with("problem")));
        assert!(doctor_line(report, "keyring").is_none());
    }

    #[test]
    fn the_config_override_is_json() {
        assert_eq!(json_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
    }
}
