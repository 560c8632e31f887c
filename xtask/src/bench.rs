//! `cargo xtask bench [--no-app] [--app-only] [--inbox-only] [--voice-only]`: criterion
//! benchmarks, then app-level measurements ([`app_benchmarks`]), summarised in
//! `target/bench/summary.md`. `--inbox-only`: only the Omnicanalidad window benches;
//! `--voice-only`: only the voice-note ones (Enviar → the double has it, and the memory of a
//! 5-minute recording).
//!
//! The app-level half re-executes this tool as `bench-session` inside the same headless
//! session the tests use (Xvfb + private D-Bus + gnome-keyring + dunst) and measures:
//! (a) cold start to first paint, (b) idle memory of the app's process tree, (c) the same
//! for Linphone desktop, (d) `enlace tel:…` dial latency against a warm instance, (e) the
//! Omnicanalidad figures of the `inbox_window` and `voice_window` benches ([`inbox_bench`]),
//! (f) the memory of a 5-minute recording ([`voice_bench`]). It relies
//! on two hooks of the app: `ENLACE_READY_FILE=<path>` (a line is written when the UI's
//! first paint is done) and `ENLACE_TRACE_DIAL=<path>` (`<unix_micros> dial-sent` lines).
//! A measurement that cannot be taken is reported as "n/a" with the reason, not faked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enlace_peers::{DemoFarEnd, DemoLine};

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::memory::{mib, process_tree, Footprint, Proc};
use crate::session::{self, Desktop, TempDir};
use crate::{desktop, inbox_bench, paths, setup, ui, voice_bench};

const COLD_STARTS: usize = 10;
const DIALS: usize = 50;
const RINGS: usize = 20;
/// How long the demo far end talks before hanging up (bench dials).
const FAR_TALK_MS: u64 = 100;
const IDLE: Duration = Duration::from_secs(5);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Short criterion runs for everything but the headline `dial` bench.
const SHORT_CRITERION: &[&str] = &["--warm-up-time", "1", "--measurement-time", "2"];
/// The file benches append summary rows to (read by `enlace-hub`'s `hub` bench).
const ROWS_ENV: &str = "ENLACE_BENCH_ROWS";

/// `cargo xtask bench`.
pub fn bench(args: &[String]) -> TaskResult<()> {
    let with_app = !args.iter().any(|a| a == "--no-app");
    // Only the Omnicanalidad figures of the window (no criterion, no other app measurement).
    let inbox_only = args.iter().any(|a| a == "--inbox-only");
    // Only the voice-note figures (no criterion, no other app measurement).
    let voice_only = args.iter().any(|a| a == "--voice-only");
    // Only start-up, memory and the link paths (no criterion, no other app measurement).
    let footprint_only = args.iter().any(|a| a == "--footprint-only");
    let only = match (inbox_only, voice_only, footprint_only) {
        (true, false, false) => Some(Only::Inbox),
        (false, true, false) => Some(Only::Voice),
        (false, false, true) => Some(Only::Footprint),
        (false, false, false) => None,
        _ => {
            return Err(TaskError::Precondition(
                "--inbox-only, --voice-only and --footprint-only exclude each other".into(),
            ))
        }
    };
    let with_criterion = only.is_none() && !args.iter().any(|a| a == "--app-only");
    let mut report = Report::new("cargo xtask bench");
    let started = SystemTime::now();
    let outcome = (|| {
        report.step("system packages (incl. bench tools)", || {
            setup::ensure_packages(&[
                setup::DEBIAN_BUILD,
                setup::DEBIAN_RUNTIME,
                setup::DEBIAN_BENCH,
            ])
        })?;
        report.step("ui packages (npm ci)", setup::ensure_ui_packages)?;
        if with_criterion {
            report.step("cargo bench -p enlace-core --bench dial", || {
                cmd::run(
                    cmd::cargo()
                        .args(["bench", "--locked", "-p", "enlace-core", "--bench", "dial"])
                        .current_dir(paths::root()),
                )
            })?;
            report.step("other criterion benches (short)", other_criterion_benches)?;
        }
        let app_section = if with_app {
            app_benchmarks(&mut report, only)?
        } else {
            "## App\n\nnot measured (--no-app)\n".to_owned()
        };
        report.step("write target/bench/summary.md", || {
            write_summary(started, &app_section)
        })
    })();
    report.print_summary(outcome.as_ref().err());
    outcome
}

/// Every `[[bench]]` target of the workspace except enlace-core's `dial`, with a short
/// measurement time.
fn other_criterion_benches() -> TaskResult<()> {
    let metadata = cmd::output(
        cmd::cargo()
            .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
            .current_dir(paths::root()),
    )?;
    let metadata: serde_json::Value = serde_json::from_str(&metadata)
        .map_err(|e| TaskError::Precondition(format!("cargo metadata: {e}")))?;
    let mut benches = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bench = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bench"));
            let bench = target["name"].as_str().unwrap_or_default();
            if is_bench
                && !(name == "enlace-core" && bench == "dial")
                && !inbox_bench::is_window_bench(name, bench)
            {
                benches.push((name.to_owned(), bench.to_owned()));
            }
        }
    }
    if benches.is_empty() {
        println!("no other bench targets in the workspace");
    }
    let rows = rows_path()?;
    let _ = std::fs::remove_file(&rows);
    for (package, bench) in benches {
        cmd::run(
            cmd::cargo()
                .args(["bench", "--locked", "-p", &package, "--bench", &bench, "--"])
                .args(SHORT_CRITERION)
                .env(ROWS_ENV, &rows)
                .current_dir(paths::root()),
        )?;
    }
    Ok(())
}

/// Where benches append their own Markdown rows (`| what | p50 | p99 | max |`) during this run.
fn rows_path() -> TaskResult<PathBuf> {
    Ok(bench_dir()?.join("rows.md"))
}

/// The section of the rows benches appended in this run (the hub's WhatsApp webhooks), if any.
fn rows_section(since: SystemTime) -> String {
    let Ok(path) = rows_path() else {
        return String::new();
    };
    let fresh = path
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since);
    let rows = if fresh {
        std::fs::read_to_string(&path).unwrap_or_default()
    } else {
        String::new()
    };
    if rows.trim().is_empty() {
        return String::new();
    }
    format!("## Latency and throughput (this run)\n\n| measure | p50 / value | p99 | max |\n|---|---|---|---|\n{rows}\n")
}

/// A subset of the app-level measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// The Omnicanalidad window benches (`inbox_window`, `voice_window`).
    Inbox,
    /// The voice-note figures (`voice_window`, the 5-minute recording's memory).
    Voice,
    /// Start-up, memory (open and released in the tray, next to Linphone) and the link paths.
    Footprint,
}

impl Only {
    fn flag(self) -> &'static str {
        match self {
            Only::Inbox => "--inbox-only",
            Only::Voice => "--voice-only",
            Only::Footprint => "--footprint-only",
        }
    }
}

/// The app-level measurements: builds the release app and measures it in a headless
/// session. Returns the Markdown section for the summary.
pub fn app_benchmarks(report: &mut Report, only: Option<Only>) -> TaskResult<String> {
    report.step("ui: npm run build", ui::build)?;
    report.step("app: cargo build --release (custom-protocol)", || {
        desktop::build(true).map(drop)
    })?;
    if only != Some(Only::Footprint) {
        report.step(
            "Omnicanalidad benches: cargo bench --no-run (inbox_window, voice_window)",
            inbox_bench::build,
        )?;
    }
    if only.is_none() || only == Some(Only::Voice) {
        report.step(
            "voice recording memory: cargo build --release --example",
            voice_bench::build,
        )?;
    }
    report.step("app measurements in Xvfb + dbus session", || {
        let extra: Vec<String> = only.map(|o| o.flag().to_owned()).into_iter().collect();
        session::reexec_headless(&["bench-session"], &extra)
    })?;
    let section = app_section_path();
    std::fs::read_to_string(&section)
        .map_err(|e| TaskError::io(format!("read {}", section.display()), e))
}

fn bench_dir() -> TaskResult<PathBuf> {
    let dir = paths::target_dir().join("bench");
    std::fs::create_dir_all(&dir)
        .map_err(|e| TaskError::io(format!("create {}", dir.display()), e))?;
    Ok(dir)
}

fn app_section_path() -> PathBuf {
    paths::target_dir().join("bench").join("app.md")
}

/// One row of the app table.
#[derive(Debug)]
struct Row {
    what: String,
    value: String,
    detail: String,
}

impl Row {
    fn new(what: &str, value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: what.to_owned(),
            value: value.into(),
            detail: detail.into(),
        }
    }
}

/// The inner half, inside Xvfb + a session bus: measures and writes `target/bench/app.md`.
pub fn bench_session(args: &[String]) -> TaskResult<()> {
    let only = if args.iter().any(|a| a == "--inbox-only") {
        Some(Only::Inbox)
    } else if args.iter().any(|a| a == "--voice-only") {
        Some(Only::Voice)
    } else if args.iter().any(|a| a == "--footprint-only") {
        Some(Only::Footprint)
    } else {
        None
    };
    let app = paths::app_bin(true);
    if !app.is_file() {
        return Err(TaskError::Precondition(format!(
            "{} is missing: build it with `cargo build --release -p enlace-desktop --features custom-protocol`",
            app.display()
        )));
    }
    let mut report = Report::new("bench session");
    let desktop = report.step(
        "desktop: sandbox HOME, gnome-keyring, dunst",
        Desktop::start,
    )?;
    let mut rows = Vec::new();
    if only.is_none() || only == Some(Only::Footprint) {
        report.step("(a) cold start to first paint", || {
            rows.extend(cold_start(&desktop, &app));
            Ok(())
        })?;
        report.step("(b)+(d) idle memory and tel: dial latency", || {
            rows.push(untuned_memory(&desktop, &app));
            rows.extend(warm_instance(&desktop, &app));
            Ok(())
        })?;
        report.step("(c) Linphone desktop idle memory", || {
            rows.push(linphone_memory(&desktop));
            Ok(())
        })?;
        // The packaged build (`cargo xtask bundle`: the dist profile, built for size), when
        // there is one: the same start-up, memory and link figures, to see what size costs.
        let dist = paths::target_dir()
            .join(crate::bundle::PROFILE)
            .join(format!("enlace{}", std::env::consts::EXE_SUFFIX));
        if dist.is_file() && desktop::forwarder_beside(&dist).is_file() {
            // Measured as found: say so when it was built before the code measured above.
            let built = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
            let stale = matches!((built(&dist), built(&app)), (Some(d), Some(r)) if d < r);
            report.step("(a)+(b)+(d) the packaged (dist) build", || {
                for mut row in cold_start(&desktop, &dist)
                    .into_iter()
                    .chain(warm_instance(&desktop, &dist))
                {
                    row.what = format!("{} — packaged build (dist profile)", row.what);
                    if stale {
                        row.detail = format!(
                            "STALE: this dist binary is older than the release build measured \
                             above (run `cargo xtask bundle` first); {}",
                            row.detail
                        );
                    }
                    rows.push(row);
                }
                Ok(())
            })?;
        }
        rows.extend(package_sizes());
    }
    if only.is_none() || only == Some(Only::Inbox) {
        report.step("(e) Omnicanalidad in the window (inbox_window)", || {
            for (what, value, detail) in inbox_bench::measure(&desktop, &app, inbox_bench::INBOX) {
                rows.push(Row::new(&what, value, detail));
            }
            Ok(())
        })?;
    }
    if only != Some(Only::Footprint) {
        report.step("(e) voice notes in the window (voice_window)", || {
            for (what, value, detail) in inbox_bench::measure(&desktop, &app, inbox_bench::VOICE) {
                rows.push(Row::new(&what, value, detail));
            }
            Ok(())
        })?;
    }
    if only.is_none() || only == Some(Only::Voice) {
        report.step("(f) memory while recording 5 minutes", || {
            for (what, value, detail) in voice_bench::measure(&desktop) {
                rows.push(Row::new(&what, value, detail));
            }
            Ok(())
        })?;
    }
    desktop.stop();

    let mut md = String::from("## App (release build, Xvfb 1280x800x24, software rendering)\n\n");
    md.push_str("| measurement | value | detail |\n|---|---|---|\n");
    for row in &rows {
        let _ = writeln!(md, "| {} | {} | {} |", row.what, row.value, row.detail);
    }
    bench_dir()?;
    let path = app_section_path();
    std::fs::write(&path, &md)
        .map_err(|e| TaskError::io(format!("write {}", path.display()), e))?;
    println!("\n{md}");
    report.print_summary(None);
    Ok(())
}

/// Environment of one app instance: its own data dir, plus hooks.
fn app_command(desktop: &Desktop, app: &Path, data: &Path) -> Command {
    let mut command = desktop.command(app);
    command
        .env("ENLACE_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// How the first paint was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadyBy {
    /// The app wrote `ENLACE_READY_FILE` (UI painted).
    ReadyFile,
    /// Fallback: a window named "Enlace" exists (mapped, maybe not painted yet).
    Window,
}

/// Waits until the ready file has a line or (fallback) the window exists.
fn wait_ready(child: &mut Child, ready: &Path) -> Result<(Duration, ReadyBy), String> {
    let started = Instant::now();
    let mut next_window_probe = Instant::now() + Duration::from_secs(5);
    loop {
        if std::fs::read_to_string(ready).is_ok_and(|t| t.contains('\n')) {
            return Ok((started.elapsed(), ReadyBy::ReadyFile));
        }
        // Only after 5 s without a ready file: the app may not implement ENLACE_READY_FILE.
        if Instant::now() >= next_window_probe {
            if window_exists("Enlace") {
                return Ok((started.elapsed(), ReadyBy::Window));
            }
            next_window_probe = Instant::now() + Duration::from_millis(200);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the app exited early ({status})"));
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "no ready file and no window after {READY_TIMEOUT:?}"
            ));
        }
        sleep(Duration::from_millis(2));
    }
}

fn window_exists(name: &str) -> bool {
    cmd::output(Command::new("xdotool").args(["search", "--name", name]))
        .is_ok_and(|out| !out.trim().is_empty())
}

fn cold_start(desktop: &Desktop, app: &Path) -> Vec<Row> {
    let mut samples = Vec::new();
    let mut by_window = 0;
    for i in 0..COLD_STARTS {
        let data = match TempDir::new("enlace-bench-data") {
            Ok(d) => d,
            Err(e) => return vec![Row::new("cold start", "n/a", e.to_string())],
        };
        let ready = data.path().join("ready");
        // Started the way the desktop entry starts it: `enlace-open` finds no instance and
        // becomes the app (exec, same PID) with MALLOC_ARENA_MAX set.
        let mut command = app_command(desktop, &desktop::forwarder_beside(app), data.path());
        command.env("ENLACE_READY_FILE", &ready);
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return vec![Row::new("cold start", "n/a", format!("spawn: {e}"))],
        };
        let result = wait_ready(&mut child, &ready);
        stop_tree(&mut child);
        match result {
            Ok((took, by)) => {
                println!("cold start {}: {:.1} ms ({by:?})", i + 1, ms(took));
                if by == ReadyBy::Window {
                    by_window += 1;
                }
                samples.push(took);
            }
            Err(why) => return vec![Row::new("cold start to first paint", "n/a", why)],
        }
    }
    let detail = if by_window == 0 {
        format!(
            "n={COLD_STARTS}, spawn → ENLACE_READY_FILE line (first paint); fresh data dir each"
        )
    } else {
        format!(
            "n={COLD_STARTS}; {by_window} runs had no ENLACE_READY_FILE line, measured to the \
             window existing (xdotool, after a 5 s grace) — not comparable"
        )
    };
    vec![Row::new(
        "cold start to first paint (median)",
        format!("{:.0} ms", ms(percentile(&mut samples, 50))),
        detail,
    )]
}

/// Starts one warm instance with a demo line: (b) idle memory after 5 s, then (d) ≥ 50
/// `enlace tel:…` second processes, latency from spawn to the `dial-sent` trace line.
fn warm_instance(desktop: &Desktop, app: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    // The far end answers and hangs up by itself, so every dial starts from an idle line.
    let line = match DemoLine::start_with(DemoFarEnd::AnswerThenHangUp {
        talk_ms: FAR_TALK_MS,
    }) {
        Ok(line) => line,
        Err(e) => {
            return vec![Row::new(
                "idle memory / dial latency",
                "n/a",
                format!("demo line: {e}"),
            )]
        }
    };
    let data = match TempDir::new("enlace-bench-warm") {
        Ok(d) => d,
        Err(e) => return vec![Row::new("idle memory", "n/a", e.to_string())],
    };
    let ready = data.path().join("ready");
    let trace = data.path().join("dial-trace");
    let demo = format!("{} {}", line.ctrl_addr(), line.sip_domain());
    let mut command = app_command(desktop, &desktop::forwarder_beside(app), data.path());
    command
        .env("ENLACE_READY_FILE", &ready)
        .env("ENLACE_TRACE_DIAL", &trace)
        .env("ENLACE_DEMO_LINE", &demo)
        .env(
            "ENLACE_RELEASE_WINDOW_AFTER_SECS",
            RELEASE_AFTER.as_secs().to_string(),
        );
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return vec![Row::new("idle memory", "n/a", format!("spawn: {e}"))],
    };
    if let Err(why) = wait_ready(&mut child, &ready) {
        stop_tree(&mut child);
        return vec![Row::new("idle memory", "n/a", why)];
    }
    sleep(IDLE);
    let open = Footprint::of_tree(child.id());
    rows.push(Row::new(
        "Enlace memory, window open (PSS, whole tree)",
        format!("{:.1} MiB", mib(open.pss_kb())),
        format!("after {IDLE:?} settled: {}", open.describe()),
    ));
    rows.extend(hidden_footprint(desktop, &child, &ready));

    rows.extend(dial_latency(desktop, app, data.path(), &demo, &trace));
    rows.push(ringing_to_notification(
        line.agent().sip_addr(),
        line.agent().user(),
        &trace,
    ));
    stop_tree(&mut child);
    drop(line);
    rows
}

/// (b) the comparison: the window open with WebKit at its defaults (`enlace` started directly,
/// so no `MALLOC_ARENA_MAX`, and `ENLACE_NO_MEMORY_TUNING=1`).
fn untuned_memory(desktop: &Desktop, app: &Path) -> Row {
    let what = "Enlace memory, window open, without the memory settings (PSS, whole tree)";
    let data = match TempDir::new("enlace-bench-untuned") {
        Ok(d) => d,
        Err(e) => return Row::new(what, "n/a", e.to_string()),
    };
    let ready = data.path().join("ready");
    let mut command = app_command(desktop, app, data.path());
    command
        .env("ENLACE_READY_FILE", &ready)
        .env("ENLACE_NO_MEMORY_TUNING", "1")
        .env_remove("MALLOC_ARENA_MAX");
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Row::new(what, "n/a", format!("spawn: {e}")),
    };
    if let Err(why) = wait_ready(&mut child, &ready) {
        stop_tree(&mut child);
        return Row::new(what, "n/a", why);
    }
    sleep(IDLE);
    let open = Footprint::of_tree(child.id());
    stop_tree(&mut child);
    Row::new(
        what,
        format!("{:.1} MiB", mib(open.pss_kb())),
        format!(
            "compositing, cache model, network-process memory pressure and malloc arenas at \
             WebKit's and glibc's defaults; after {IDLE:?}: {}",
            open.describe()
        ),
    )
}

/// The sizes of the packages `cargo xtask bundle` and `cargo xtask bundle-hub` left in the
/// target folder (or why there are none).
fn package_sizes() -> Vec<Row> {
    let target = paths::target_dir();
    let newest = |dir: PathBuf, ext: &str| -> Option<(PathBuf, u64)> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == ext))
            .filter_map(|e| Some((e.path(), e.metadata().ok()?)))
            .max_by_key(|(_, m)| m.modified().ok())
            .map(|(p, m)| (p, m.len()))
    };
    let bundles = target.join(crate::bundle::PROFILE).join("bundle");
    [
        (
            "desktop .deb",
            newest(bundles.join("deb"), "deb"),
            "cargo xtask bundle",
        ),
        (
            "desktop .rpm",
            newest(bundles.join("rpm"), "rpm"),
            "cargo xtask bundle",
        ),
        (
            "hub .deb",
            newest(target.join("bundle"), "deb"),
            "cargo xtask bundle-hub",
        ),
    ]
    .into_iter()
    .map(|(what, found, command)| match found {
        Some((path, bytes)) => Row::new(
            &format!("package size: {what}"),
            format!("{:.1} MB", crate::bundle::mb(bytes)),
            format!("{} ({bytes} bytes)", path.display()),
        ),
        None => Row::new(
            &format!("package size: {what}"),
            "n/a",
            format!("not built: run `{command}` first"),
        ),
    })
    .collect()
}

/// The app's bus name and object path (release build), for `gdbus`.
const APP_BUS_NAME: &str = "app.enlace.desktop";
const APP_OBJECT_PATH: &str = "/app/enlace/desktop";
/// How long the bench lets the window stay hidden before the app releases it (the app's
/// default is 10 minutes).
const RELEASE_AFTER: Duration = Duration::from_secs(3);

/// Calls a method of the app's `org.freedesktop.Application` with `gdbus`.
fn app_call(desktop: &Desktop, method: &str, args: &[&str]) -> Result<(), String> {
    let mut call = desktop.command("gdbus");
    call.args([
        "call",
        "--session",
        "--dest",
        APP_BUS_NAME,
        "--object-path",
        APP_OBJECT_PATH,
        "--method",
        &format!("org.freedesktop.Application.{method}"),
    ])
    .args(args);
    cmd::output(&mut call).map(drop).map_err(|e| e.to_string())
}

/// Hidden in the tray: the window is hidden (as its close button does), released after
/// [`RELEASE_AFTER`], and the tree measured after it settles; then shown again, timed to the
/// UI's first paint.
fn hidden_footprint(desktop: &Desktop, child: &Child, ready: &Path) -> Vec<Row> {
    let what = "Enlace memory, hidden in the tray (PSS, whole tree)";
    if let Err(e) = app_call(desktop, "ActivateAction", &["hide", "@av []", "@a{sv} {}"]) {
        return vec![Row::new(what, "n/a", format!("hide: {e}"))];
    }
    sleep(RELEASE_AFTER + IDLE);
    let hidden = Footprint::of_tree(child.id());
    let mut rows = vec![Row::new(
        what,
        format!("{:.1} MiB", mib(hidden.pss_kb())),
        format!(
            "window hidden, released after {RELEASE_AFTER:?} (the app's default: 10 min), then \
             {IDLE:?}: {}",
            hidden.describe()
        ),
    )];
    let reopen = "reopening the released window → first paint";
    let _ = std::fs::remove_file(ready);
    let asked = Instant::now();
    if let Err(e) = app_call(desktop, "Activate", &["@a{sv} {}"]) {
        rows.push(Row::new(reopen, "n/a", format!("activate: {e}")));
        return rows;
    }
    loop {
        if std::fs::read_to_string(ready).is_ok_and(|t| t.contains('\n')) {
            rows.push(Row::new(
                reopen,
                format!("{:.0} ms", ms(asked.elapsed())),
                "`Activate` over D-Bus → the rebuilt UI wrote ENLACE_READY_FILE (n=1)",
            ));
            break;
        }
        if asked.elapsed() > READY_TIMEOUT {
            rows.push(Row::new(reopen, "n/a", "no first paint after Activate"));
            break;
        }
        sleep(Duration::from_millis(2));
    }
    sleep(IDLE);
    rows
}

/// One way a clicked link reaches the warm instance.
struct LinkPath {
    what: &'static str,
    program: PathBuf,
    /// spawn → `dial-sent` (the phone line accepted the dial).
    to_dial: Vec<Duration>,
    /// spawn → the second process exited.
    alive: Vec<Duration>,
}

/// (d) `DIALS` links through each path, interleaved (old, new, old, …) against the same warm
/// instance: `enlace tel:…` (GTK, WebKit and Tauri start before the single-instance plugin
/// forwards the link) and `enlace-open tel:…` (the forwarder the handler entry names: one
/// D-Bus call, no GUI libraries).
fn dial_latency(desktop: &Desktop, app: &Path, data: &Path, demo: &str, trace: &Path) -> Vec<Row> {
    let mut paths = [
        LinkPath {
            what: "tel: link → dial, old path (`enlace tel:…`)",
            program: app.to_path_buf(),
            to_dial: Vec::new(),
            alive: Vec::new(),
        },
        LinkPath {
            what: "tel: link → dial, fast path (`enlace-open tel:…`)",
            program: desktop::forwarder_beside(app),
            to_dial: Vec::new(),
            alive: Vec::new(),
        },
    ];
    for i in 0..DIALS {
        for (p, path) in paths.iter_mut().enumerate() {
            let number = format!("+5064000{:04}", 1000 + 2 * i + p);
            match dial_once(desktop, &path.program, data, demo, trace, &number) {
                Ok((to_dial, alive)) => {
                    path.to_dial.push(to_dial);
                    path.alive.push(alive);
                }
                Err(why) => return vec![Row::new(path.what, "n/a", why)],
            }
        }
    }
    paths
        .iter_mut()
        .map(|path| {
            let (median, p95) = (
                percentile(&mut path.to_dial, 50),
                percentile(&mut path.to_dial, 95),
            );
            let (alive_median, alive_p95) = (
                percentile(&mut path.alive, 50),
                percentile(&mut path.alive, 95),
            );
            Row::new(
                path.what,
                format!("median {:.1} ms, p95 {:.1} ms", ms(median), ms(p95)),
                format!(
                    "n={DIALS} each, interleaved; 2nd process spawn → the phone line accepted \
                     the dial (`dial-sent`); the 2nd process itself ran median {:.1} ms, p95 \
                     {:.1} ms; warm instance, demo line (real baresip agent; SIPp far end \
                     answers and hangs up after {FAR_TALK_MS} ms)",
                    ms(alive_median),
                    ms(alive_p95)
                ),
            )
        })
        .collect()
}

/// One link through `program`: (spawn → `dial-sent`, spawn → exit).
fn dial_once(
    desktop: &Desktop,
    program: &Path,
    data: &Path,
    demo: &str,
    trace: &Path,
    number: &str,
) -> Result<(Duration, Duration), String> {
    let before = trace_lines(trace).len();
    let mut second = app_command(desktop, program, data);
    second
        .env("ENLACE_DEMO_LINE", demo)
        .env("ENLACE_TRACE_DIAL", trace)
        .arg(format!("tel:{number}"));
    let spawned = Instant::now();
    let spawned_at = unix_micros();
    let status = second
        .spawn()
        .and_then(|mut c| c.wait())
        .map_err(|e| format!("second process: {e}"))?;
    let alive = spawned.elapsed();
    if !status.success() {
        return Err(format!(
            "`{} tel:{number}` exited with {status}",
            program.display()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let sent_at = loop {
        if let Some(micros) = trace_lines(trace).get(before).copied() {
            break micros;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no new `dial-sent` line in ENLACE_TRACE_DIAL after `{} tel:{number}` (hook \
                 not implemented, or the dial failed)",
                program.display()
            ));
        }
        sleep(Duration::from_micros(500));
    };
    // The far end hangs up after FAR_TALK_MS; let the app settle on the ended call.
    sleep(Duration::from_millis(FAR_TALK_MS + 400));
    Ok((
        Duration::from_micros(sent_at.saturating_sub(spawned_at)),
        alive,
    ))
}

/// `<unix_micros> dial-sent` lines of the trace file.
fn trace_lines(path: &Path) -> Vec<u64> {
    trace_events(path, "dial-sent")
}

/// The times of the `<unix_micros> <event>` lines of the trace file.
fn trace_events(path: &Path, event: &str) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (micros, what) = l.split_once(' ')?;
            (what.trim() == event).then(|| micros.parse().ok())?
        })
        .collect()
}

/// SIPp customers call the agent, ring and give up: from the app seeing the call ring
/// (`ringing`) to the notification server acknowledging the notification
/// (`notification-shown`, the D-Bus reply to `Notify`), includes the caller-ID lookup.
fn ringing_to_notification(agent: std::net::SocketAddr, user: &str, trace: &Path) -> Row {
    let what = "incoming call ringing → desktop notification shown";
    let mut samples = Vec::new();
    for i in 0..RINGS {
        let before = trace_events(trace, "notification-shown").len();
        let number = format!("+5068888{:04}", 1000 + i);
        let mut caller =
            match enlace_peers::Sipp::call_then_cancel(agent, user, &number, "Cliente", 600) {
                Ok(c) => c,
                Err(e) => return Row::new(what, "n/a", format!("SIPp caller: {e}")),
            };
        let deadline = Instant::now() + Duration::from_secs(10);
        let shown = loop {
            let rings = trace_events(trace, "ringing");
            let shown = trace_events(trace, "notification-shown");
            if shown.len() > before {
                break rings
                    .last()
                    .zip(shown.last())
                    .map(|(r, s)| s.saturating_sub(*r));
            }
            if Instant::now() > deadline {
                break None;
            }
            sleep(Duration::from_millis(5));
        };
        let _ = caller.wait(Duration::from_secs(20));
        match shown {
            Some(micros) => samples.push(Duration::from_micros(micros)),
            None => {
                return Row::new(
                    what,
                    "n/a",
                    format!(
                        "no `notification-shown` after call {} (is dunst running?)",
                        i + 1
                    ),
                )
            }
        }
        sleep(Duration::from_millis(300));
    }
    let median = percentile(&mut samples, 50);
    let p95 = percentile(&mut samples, 95);
    Row::new(
        what,
        format!("median {:.1} ms, p95 {:.1} ms", ms(median), ms(p95)),
        format!(
            "n={RINGS}, warm instance, SIPp caller → real baresip agent → app (cache lookup, \
             event) → notify-rust → dunst over the session bus"
        ),
    )
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// (c) Linphone desktop (Debian `linphone-desktop`): PSS of its tree after 5 s, or why not.
fn linphone_memory(desktop: &Desktop) -> Row {
    let what = "Linphone desktop memory, window open (PSS, whole tree; for comparison)";
    let Some(program) = cmd::which("linphone") else {
        return Row::new(
            what,
            "n/a",
            "`linphone` not installed (Debian: linphone-desktop)",
        );
    };
    let log = match session::logs_dir() {
        Ok(dir) => dir.join("linphone.log"),
        Err(e) => return Row::new(what, "n/a", e.to_string()),
    };
    let Ok(out) = std::fs::File::create(&log) else {
        return Row::new(what, "n/a", format!("cannot create {}", log.display()));
    };
    let Ok(err) = out.try_clone() else {
        return Row::new(what, "n/a", "cannot open its log");
    };
    let mut command = desktop.command(program);
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Row::new(what, "n/a", format!("spawn: {e}")),
    };
    let started = Instant::now();
    let mut window = false;
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = session::tail(&log).replace('\n', " / ").replace('|', "/");
            return Row::new(what, "n/a", format!("exited under Xvfb ({status}): {tail}"));
        }
        if window_exists("Linphone") {
            window = true;
            break;
        }
        sleep(Duration::from_millis(100));
    }
    sleep(IDLE);
    let footprint = Footprint::of_tree(child.id());
    let alive = matches!(child.try_wait(), Ok(None));
    stop_tree(&mut child);
    if !alive {
        let tail = session::tail(&log).replace('\n', " / ").replace('|', "/");
        return Row::new(what, "n/a", format!("exited during the idle wait: {tail}"));
    }
    Row::new(
        what,
        format!("{:.1} MiB", mib(footprint.pss_kb())),
        format!(
            "after {IDLE:?}: {}{}",
            footprint.describe(),
            if window {
                ""
            } else {
                "; no window named Linphone appeared"
            }
        ),
    )
}

/// Stops a process we started and its descendants: TERM (through `kill <pid>`), up to 3 s,
/// then KILL; leftover descendants (same PID and name as recorded) get KILL too.
fn stop_tree(child: &mut Child) {
    let descendants: Vec<Proc> = process_tree(child.id())
        .into_iter()
        .filter(|p| p.pid != child.id())
        .collect();
    if let Ok(None) = child.try_wait() {
        let _ = cmd::output(Command::new("kill").args(["-TERM", &child.id().to_string()]));
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
    }
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(3);
    for p in descendants {
        let same = || {
            std::fs::read_to_string(format!("/proc/{}/comm", p.pid))
                .is_ok_and(|c| c.trim() == p.comm)
        };
        while same() && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        if same() {
            let _ = cmd::output(Command::new("kill").args(["-KILL", &p.pid.to_string()]));
        }
    }
}

/// Nearest-rank percentile (sorts in place).
fn percentile(samples: &mut [Duration], pct: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = (pct * samples.len()).div_ceil(100).max(1);
    samples[rank.min(samples.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes `target/bench/summary.md`: date, machine, criterion results of this run, app table.
fn write_summary(started: SystemTime, app_section: &str) -> TaskResult<()> {
    let mut md = String::from("# Enlace benchmarks\n\n");
    let _ = writeln!(md, "| date (UTC) | machine |\n|---|---|");
    let _ = writeln!(md, "| {} | {} |\n", today_utc(), machine());
    md.push_str("## Criterion (this run)\n\n| benchmark | median | mean |\n|---|---|---|\n");
    let results = criterion_results(started);
    if results.is_empty() {
        md.push_str("| (none ran) | | |\n");
    }
    for (id, median, mean) in results {
        let _ = writeln!(md, "| {id} | {} | {} |", nanos(median), nanos(mean));
    }
    md.push('\n');
    md.push_str(&rows_section(started));
    md.push_str(app_section);
    let path = bench_dir()?.join("summary.md");
    std::fs::write(&path, &md)
        .map_err(|e| TaskError::io(format!("write {}", path.display()), e))?;
    println!("\n{md}\nwritten to {}", path.display());
    Ok(())
}

/// (id, median ns, mean ns) of every criterion benchmark updated since `since`.
fn criterion_results(since: SystemTime) -> Vec<(String, f64, f64)> {
    let root = paths::target_dir().join("criterion");
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    found.push(path);
                } else if path
                    .file_name()
                    .is_none_or(|n| n != "base" && n != "change")
                {
                    stack.push(path);
                }
            }
        }
    }
    let mut results = Vec::new();
    for new in found {
        let estimates = new.join("estimates.json");
        let fresh = estimates
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if !fresh {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&estimates) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let id = std::fs::read_to_string(new.join("benchmark.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|b| b["full_id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                new.parent()
                    .and_then(|p| p.strip_prefix(&root).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            });
        let median = json["median"]["point_estimate"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let mean = json["mean"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        results.push((id, median, mean));
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

fn nanos(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// `2 × <model name>, 23.4 GiB RAM`, from /proc.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    format!(
        "nproc {cpus}, {model}, {:.1} GiB RAM, {}",
        mib(mem_kb) / 1024.0,
        std::env::consts::OS
    )
}

/// `YYYY-MM-DD` (UTC) without a date library (days-from-civil inverse, H. Hinnant).
pub(crate) fn today_utc() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut s: Vec<Duration> = (1..=20).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut s, 50), Duration::from_millis(10));
        assert_eq!(percentile(&mut s, 95), Duration::from_millis(19));
        assert_eq!(percentile(&mut [], 50), Duration::ZERO);
    }

    #[test]
    fn reads_dial_trace_lines() {
        let dir = TempDir::new("xtask-trace-test").unwrap();
        let path = dir.path().join("trace");
        std::fs::write(
            &path,
            "1700000000000001 dial-sent\nnoise\n1700000000000002 dial-sent\n",
        )
        .unwrap();
        assert_eq!(
            trace_lines(&path),
            vec![1_700_000_000_000_001, 1_700_000_000_000_002]
        );
    }
}
