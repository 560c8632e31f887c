//! `cargo xtask`: the project's task runner (the alias lives in `.cargo/config.toml`).
//!
//! It owns the recipes that need more than cargo: installing system packages, building the UI,
//! starting real SIP peers, running the app or the tests inside a headless desktop session,
//! and measuring. It uses only std (plus `enlace-peers` for the demo phone line) and never
//! passes anything to a shell: every program gets explicit arguments.
//!
//! To add a subcommand: write a module with a `pub fn <name>(args) -> TaskResult<()>` that
//! records its steps in a [`cmd::Report`], and add it to `dispatch` and `USAGE`.

mod bench;
mod bundle;
mod cmd;
mod demo_hub;
mod desktop;
mod fuzz;
mod hub_package;
mod inbox_bench;
mod memory;
mod paths;
mod run;
mod session;
mod setup;
mod soak;
mod test;
mod ui;
mod voice_bench;

use std::process::ExitCode;

use cmd::{Report, TaskError, TaskResult};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup                      install missing system packages (Debian/Ubuntu: apt) and the
                             UI's npm packages; elsewhere print what to install
  run [--release] [--no-demo] [--] [app args…]
                             build the UI and the app, start a demo phone line (real baresip
                             peers) and run the app (needs a display)
  test                       everything CI checks: UI lint/check/test/build, rustfmt, clippy,
                             dependency rules, then all tests (incl. the e2e tests of the real
                             window) under Xvfb with a private D-Bus, gnome-keyring and dunst,
                             then every fuzz target for 30 s (two at a time)
  e2e [filter…]              only the end-to-end tests, in the same headless session
  fuzz [--secs N] [--jobs N] [--stable] [target…]
                             build the cargo-fuzz targets in fuzz/ (nightly + ASan when
                             installed; --stable: RUSTC_BOOTSTRAP=1, no sanitizer), seed them
                             from the test data, run each N seconds (default 60; --jobs
                             targets at a time, default 1), write
                             target/fuzz/summary.md; a crash or hang fails
  bench [--no-app] [--inbox-only | --voice-only | --footprint-only]
                             criterion benchmarks, then app-level measurements (cold start,
                             memory as PSS of the whole process tree with the window open and
                             released in the tray, Linphone the same way, tel: link → dial
                             through the old and the fast path, Omnicanalidad in the window,
                             voice notes) written to target/bench/summary.md; --inbox-only:
                             only the Omnicanalidad figures of the window; --voice-only: only
                             the voice-note ones (Enviar → the double has it, memory while
                             recording 5 minutes); --footprint-only: only start-up, memory
                             and the link paths
  bundle [--check]           the desktop app's .deb (recompressed with xz) and .rpm with the
                             Tauri bundler (the CLI pinned in ui/package.json), `dist` profile
                             (release built for size), under target/dist/bundle/; --check:
                             then install the .deb, check the tel: handler, dial through
                             `gio open tel:…` and purge it (root on Debian; `test` runs it)
  bundle-hub [--check]       build target/bundle/enlace-hub_<version>_<arch>.deb (release
                             binary, systemd unit, /etc/enlace-hub, maintainer scripts);
                             --check: then install it, start it, log an agent in through the
                             API, reinstall and purge it (root on Debian; `test` runs it too)
  soak [--agents N] [--secs S] [--seed X]
                             fault soak of the hub (default 200 agents, 180 s): hub SIGKILLs,
                             AMI drops, a faulty network; counts written to target/soak/summary.md

environment: CARGO_TARGET_DIR is respected; ENLACE_NO_NEXTEST=1 forces plain `cargo test`.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("\nxtask: error [{}]: {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> TaskResult<ExitCode> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(ExitCode::FAILURE);
    };
    match command.as_str() {
        "setup" => {
            let mut report = Report::new("cargo xtask setup");
            let outcome = setup::setup(&mut report);
            report.print_summary(outcome.as_ref().err());
            outcome.map(|()| ExitCode::SUCCESS)
        }
        "run" => run::run(rest),
        "test" => test::test().map(|()| ExitCode::SUCCESS),
        "e2e" => test::e2e(rest).map(|()| ExitCode::SUCCESS),
        "fuzz" => fuzz::fuzz(rest).map(|()| ExitCode::SUCCESS),
        "bench" => bench::bench(rest).map(|()| ExitCode::SUCCESS),
        "soak" => soak::soak(rest),
        "bundle" => bundle::bundle(rest),
        "bundle-hub" => hub_package::bundle_hub(rest),
        // Inner halves, re-executed by the commands above inside xvfb-run + dbus-run-session.
        "test-session" => test::test_session(rest).map(|()| ExitCode::SUCCESS),
        "bench-session" => bench::bench_session(rest).map(|()| ExitCode::SUCCESS),
        "bundle-check" => bundle::check_session(rest).map(|()| ExitCode::SUCCESS),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(TaskError::Usage(format!(
            "unknown command `{other}`\n\n{USAGE}"
        ))),
    }
}
