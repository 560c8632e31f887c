//! Command-line use-cases that need no window: `enlace dial --dry-run` and `enlace doctor`.

use std::process::ExitCode;

use enlace_core::{parse_dial_uri, Country, DialError};
use serde::Serialize;

use crate::channel::BuildChannel;
use crate::wire::DialView;

/// Exit status for input we refuse (bad link, bad arguments).
const EXIT_REFUSED: u8 = 2;

#[derive(Serialize)]
struct DryRunOk<'a> {
    ok: bool,
    #[serde(flatten)]
    target: &'a DialView,
}

#[derive(Serialize)]
struct DryRunErr<'a> {
    ok: bool,
    code: &'a str,
    message: String,
}

/// The agent's default country: `--country`, else the saved settings, else Costa Rica.
fn country(explicit: Option<&str>) -> Result<Country, DialError> {
    if let Some(cc) = explicit {
        return Country::parse(cc);
    }
    let saved = enlace_app::settings::saved_settings(&BuildChannel::current().data_dir());
    Ok(saved.unwrap_or_default().default_country)
}

fn parse(uri: &str, explicit_country: Option<&str>) -> Result<DialView, DialError> {
    let country = country(explicit_country)?;
    parse_dial_uri(uri, country).map(|t| DialView::from(&t))
}

/// `enlace dial --dry-run [--json] [--country CC] <uri>`: prints exactly one result.
pub fn dial_dry_run(uri: &str, json: bool, explicit_country: Option<&str>) -> ExitCode {
    match parse(uri, explicit_country) {
        Ok(view) => {
            if json {
                println!(
                    "{}",
                    to_json(&DryRunOk {
                        ok: true,
                        target: &view
                    })
                );
            } else {
                match &view.extension {
                    Some(ext) if view.e164.is_some() => {
                        println!("would dial {} (extension {ext})", view.dial)
                    }
                    _ => println!("would dial {}", view.dial),
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if json {
                let err = DryRunErr {
                    ok: false,
                    code: e.code().as_str(),
                    message: e.to_string(),
                };
                println!("{}", to_json(&err));
            } else {
                eprintln!("enlace: {e} ({})", e.code());
            }
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

/// Refuse a bad link before starting any window.
pub fn check_dialable(uri: &str) -> Result<(), ExitCode> {
    match parse(uri, None) {
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!("enlace: {e} ({})", e.code());
            Err(ExitCode::from(EXIT_REFUSED))
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| {
        r#"{"ok":false,"code":"internal","message":"serialization failed"}"#.into()
    })
}

/// `enlace doctor`: one line per check with ok/problem and the fix. Exit 1 on any problem.
pub fn run() -> ExitCode {
    let channel = BuildChannel::current();
    let report = crate::os::doctor(channel);
    print!("{}", report.render_text());
    if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
