//! `cargo xtask test` (everything CI runs, stopping at the first failure) and `cargo xtask e2e`
//! (only the end-to-end tests of the real window), plus their inner `test-session` half that
//! runs inside Xvfb + a private session bus (see `session.rs`).

use std::process::Command;

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::session::{self, Desktop};
use crate::{bundle, desktop, fuzz, hub_package, paths, setup, ui};

/// Set for the tests inside the session: the e2e tests must not skip, the keyring and
/// notification tests must find their daemons.
const SESSION_FLAGS: &[(&str, &str)] = &[
    ("ENLACE_REQUIRE_KEYRING", "1"),
    ("ENLACE_REQUIRE_NOTIFICATIONS", "1"),
    ("ENLACE_E2E", "1"),
];

/// `cargo xtask test`.
pub fn test() -> TaskResult<()> {
    let mut report = Report::new("cargo xtask test");
    let outcome = test_steps(&mut report);
    report.print_summary(outcome.as_ref().err());
    outcome
}

fn test_steps(report: &mut Report) -> TaskResult<()> {
    setup::setup(report)?;
    report.step("ui: npm run lint", || ui::run_script("lint"))?;
    report.step("ui: npm run check", || ui::run_script("check"))?;
    report.step("ui: npm test", ui::test)?;
    report.step("ui: npm run build", ui::build)?;
    report.step("cargo fmt --check", || {
        cmd::run(
            cmd::cargo()
                .args(["fmt", "--all", "--check"])
                .current_dir(paths::root()),
        )
    })?;
    report.step("cargo clippy -D warnings", || {
        cmd::run(
            cmd::cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--locked",
                    "--",
                    "-D",
                    "warnings",
                ])
                .current_dir(paths::root()),
        )
    })?;
    report.step("dependency rules", || {
        cmd::run(
            cmd::cargo()
                .args([
                    "test",
                    "--locked",
                    "-p",
                    "enlace-tests",
                    "--test",
                    "dependency_rules",
                ])
                .current_dir(paths::root()),
        )
    })?;
    report.step("app: cargo build (custom-protocol)", || {
        desktop::build_for_e2e().map(drop)
    })?;
    report.step("tests in Xvfb + dbus session", || {
        session::reexec_headless(&["test-session"], &[])
    })?;
    // The hub's .deb installed, started, logged into and purged (root on Debian; says so
    // elsewhere, and fails in CI).
    hub_package::test_step(report)?;
    // The desktop app's .deb/.rpm (Tauri bundler): installed, the tel: handler checked, a
    // link dialed through `gio open`, purged (root on Debian, like the hub's).
    bundle::test_step(report)?;
    // Built once, then each target for a short run (crash or hang fails).
    fuzz::test_step(report)
}

/// `cargo xtask e2e [test name filter…]`: rebuild the UI and the app, then only the e2e binary.
pub fn e2e(filters: &[String]) -> TaskResult<()> {
    let mut report = Report::new("cargo xtask e2e");
    let outcome = (|| {
        report.step("ui: npm run build", ui::build)?;
        report.step("app: cargo build (custom-protocol)", || {
            desktop::build_for_e2e().map(drop)
        })?;
        report.step("e2e in Xvfb + dbus session", || {
            session::reexec_headless(&["test-session", "--e2e-only"], filters)
        })
    })();
    report.print_summary(outcome.as_ref().err());
    outcome
}

/// The inner half: `test-session [--e2e-only] [filters…]`, already inside Xvfb + a bus.
pub fn test_session(args: &[String]) -> TaskResult<()> {
    let e2e_only = args.iter().any(|a| a == "--e2e-only");
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--e2e-only")
        .collect();
    let mut report = Report::new(if e2e_only {
        "e2e session"
    } else {
        "test session"
    });
    let outcome = session_steps(&mut report, e2e_only, &filters);
    report.print_summary(outcome.as_ref().err());
    outcome
}

fn session_steps(report: &mut Report, e2e_only: bool, filters: &[&str]) -> TaskResult<()> {
    let app = desktop::e2e_bin();
    if !app.is_file() {
        return Err(TaskError::Precondition(format!(
            "{} is missing: `cargo xtask test` / `cargo xtask e2e` build and stage it",
            app.display()
        )));
    }
    let desktop = report.step(
        "desktop: sandbox HOME, gnome-keyring, dunst",
        Desktop::start,
    )?;
    println!("sandbox HOME: {}", desktop.home().display());
    let nextest = has_nextest();
    let tests = |mut command: Command| -> TaskResult<()> {
        desktop.apply(&mut command);
        command
            .envs(SESSION_FLAGS.iter().copied())
            .env("ENLACE_APP_BIN", &app)
            .current_dir(paths::root());
        cmd::run(&mut command)
    };
    let outcome = if e2e_only {
        report.step("e2e tests", || tests(e2e_command(nextest, filters)))
    } else if nextest {
        report
            .step("cargo nextest run (all but e2e)", || {
                let mut c = cmd::cargo();
                c.args([
                    "nextest",
                    "run",
                    "--workspace",
                    "--locked",
                    "-E",
                    "not binary_id(enlace-tests::e2e)",
                ]);
                tests(c)
            })
            .and_then(|()| {
                report.step("cargo test --doc", || {
                    let mut c = cmd::cargo();
                    c.args(["test", "--workspace", "--locked", "--doc"]);
                    tests(c)
                })
            })
            .and_then(|()| report.step("e2e tests", || tests(e2e_command(true, &[]))))
    } else {
        report.step("cargo test --workspace", || {
            let mut c = cmd::cargo();
            c.args(["test", "--workspace", "--locked"]);
            tests(c)
        })
    };
    report.step("desktop: stop dunst and gnome-keyring", || {
        desktop.stop();
        Ok(())
    })?;
    outcome
}

/// The e2e binary alone, one test at a time (they share one X display and one session bus,
/// and the app is single-instance on that bus).
fn e2e_command(nextest: bool, filters: &[&str]) -> Command {
    let mut c = cmd::cargo();
    if nextest {
        c.args([
            "nextest",
            "run",
            "--locked",
            "-p",
            "enlace-tests",
            "--test",
            "e2e",
            "--test-threads",
            "1",
        ]);
        c.args(filters);
    } else {
        c.args([
            "test",
            "--locked",
            "-p",
            "enlace-tests",
            "--test",
            "e2e",
            "--",
        ]);
        c.args(filters);
        c.arg("--test-threads=1");
    }
    c
}

/// `cargo nextest` is preferred when installed (CI may not have it: then plain cargo test).
fn has_nextest() -> bool {
    if std::env::var_os("ENLACE_NO_NEXTEST").is_some() {
        return false;
    }
    cmd::output(cmd::cargo().args(["nextest", "--version"])).is_ok()
}
