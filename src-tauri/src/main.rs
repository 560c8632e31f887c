//! `enlace`: the desktop app and its command line.
//!
//! The command line is parsed first, with no display needed (`enlace dial --dry-run`,
//! `enlace doctor`); anything else starts (or reaches, through the single-instance plugin)
//! the desktop app. This crate is the only one that depends on tauri; it is a thin shell over
//! `enlace-app` (use-cases) and `enlace-os` (OS integration).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod channel;
mod cli;
mod commands;
mod doctor;
mod media;
mod os;
mod shell;
mod tray;
mod window;
mod wire;

use std::process::ExitCode;

use cli::Invocation;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ENLACE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,enlace=info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let args: Vec<_> = std::env::args_os().skip(1).collect();
    match cli::parse(&args) {
        Ok(Invocation::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Invocation::Version) => {
            println!("enlace {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Invocation::DialDryRun { uri, json, country }) => {
            doctor::dial_dry_run(&uri, json, country.as_deref())
        }
        Ok(Invocation::Doctor) => doctor::run(),
        Ok(Invocation::Dial { uri }) => match doctor::check_dialable(&uri) {
            Ok(()) => gui(Some(uri)),
            Err(code) => code,
        },
        Ok(Invocation::Gui { launch_url }) => gui(launch_url),
        Err(e) => {
            eprintln!("enlace: {e}");
            ExitCode::from(2)
        }
    }
}

fn gui(launch_url: Option<String>) -> ExitCode {
    window::tune_process();
    match shell::run(launch_url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enlace: {e}");
            ExitCode::FAILURE
        }
    }
}
