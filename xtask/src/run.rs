//! `cargo xtask run [--release] [--no-demo] [--] [app args…]`: sets the machine up, builds the
//! UI and the app, starts a demo phone line (an agent baresip plus a SIPp far end, on free
//! loopback ports) and demo CRMs (the Salesforce and Zoho doubles of `enlace-sandbox`, with a
//! few contacts), a demo organization server (`enlace-hub` with the AMI double as its PBX) and
//! a map tile server (`enlace_sandbox::TileDouble`, `ENLACE_DEMO_MAP_TILES`), and runs the app
//! against them until it exits.

use std::process::{Command, ExitCode};

use enlace_peers::DemoLine;

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::{desktop, setup, ui};

#[derive(Debug, Default)]
struct RunOptions {
    release: bool,
    demo: bool,
    app_args: Vec<String>,
}

fn parse(args: &[String]) -> RunOptions {
    let mut options = RunOptions {
        demo: true,
        ..RunOptions::default()
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--release" => options.release = true,
            "--no-demo" => options.demo = false,
            "--" => {
                options.app_args.extend(rest.by_ref().cloned());
                break;
            }
            _ => options.app_args.push(arg.clone()),
        }
    }
    options
}

/// Whether a graphical session is reachable (Linux/BSD need DISPLAY or WAYLAND_DISPLAY).
pub fn has_display() -> bool {
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

pub fn run(args: &[String]) -> TaskResult<ExitCode> {
    let options = parse(args);
    if !has_display() {
        return Err(TaskError::Precondition(
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the window cannot open.\n\
             On a headless machine run it inside a virtual X server and a private session bus:\n  \
             xvfb-run -a -s \"-screen 0 1280x800x24\" dbus-run-session -- cargo xtask run"
                .to_owned(),
        ));
    }
    let mut report = Report::new("cargo xtask run");
    let built = (|| {
        setup::setup(&mut report)?;
        report.step("ui: npm run build", ui::build)?;
        report.step("app: cargo build", || desktop::build(options.release))
    })();
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            report.print_summary(Some(&e));
            return Err(e);
        }
    };

    let demo = if options.demo {
        let line = DemoLine::start().map_err(|e| {
            TaskError::Peers(format!(
                "could not start the demo phone line [{}]: {e} (use --no-demo to run without it)",
                e.code()
            ))
        })?;
        Some(line)
    } else {
        None
    };

    let demo_crm = if options.demo {
        let crm = enlace_sandbox::demo::DemoCrm::start_on(0, 0).map_err(|e| {
            TaskError::Peers(format!(
                "could not start the demo CRMs: {e} (use --no-demo to run without them)"
            ))
        })?;
        Some(crm)
    } else {
        None
    };

    // Map tiles for Enviar ubicación from a local tile server: the map works offline.
    let demo_tiles = if options.demo {
        Some(enlace_sandbox::TileDouble::start().map_err(|e| {
            TaskError::Peers(format!(
                "could not start the demo tile server: {e} (use --no-demo to run without it)"
            ))
        })?)
    } else {
        None
    };

    let demo_hub = if options.demo {
        Some(crate::demo_hub::DemoHub::start()?)
    } else {
        None
    };

    let mut command = Command::new(&app);
    command.args(&options.app_args);
    println!();
    println!("Enlace: {}", app.display());
    match &demo {
        Some(line) => {
            let value = format!("{} {}", line.ctrl_addr(), line.sip_domain());
            println!(
                "demo phone line: agent baresip (ctrl_tcp {}) → SIPp far end sip:<number>@{} \
                 (rings 1 s, answers any number, waits for your hang-up)",
                line.ctrl_addr(),
                line.sip_domain()
            );
            println!("  ENLACE_DEMO_LINE=\"{value}\" (used while no phone line is configured in Settings)");
            command.env("ENLACE_DEMO_LINE", value);
        }
        None => println!("no demo phone line (--no-demo)"),
    }
    if let Some(crm) = &demo_crm {
        println!(
            "demo CRMs: Salesforce {} and Zoho {} (local doubles with demo contacts); \
             Configuración → Salesforce/Zoho → sign in links them at once",
            crm.salesforce.base_url(),
            crm.zoho.api_domain()
        );
        command.env("ENLACE_DEMO_CRM", crm.env_value());
    }
    if let Some(tiles) = &demo_tiles {
        println!(
            "demo map tiles: {} (generated tiles, no internet; used while Configuración keeps \
             the default map tile URL)",
            tiles.url_template()
        );
        command.env("ENLACE_DEMO_MAP_TILES", tiles.url_template());
    }
    if let Some(hub) = &demo_hub {
        let (user, password) = crate::demo_hub::AGENT;
        let (sup_user, sup_password) = crate::demo_hub::SUPERVISOR;
        println!(
            "demo organization server: {} (enlace-hub with a PBX double; a customer calls the \
             queue every minute while you are logged in)",
            hub.url
        );
        println!(
            "  Configuración → Servidor de la organización, or Pausas → Conectar: server {}, \
             agent {user} / {password}, supervisor {sup_user} / {sup_password}",
            hub.url
        );
        println!(
            "  WhatsApp: number +{} (WhatsApp Cloud API double); a demo customer writes every {} \
             minutes, the first now: sign in as the agent and open Omnicanalidad (Ver, reply, \
             Marcar atendido; a call card's WhatsApp button starts a chat)",
            hub.whatsapp_number,
            crate::demo_hub::WHATSAPP_EVERY.as_secs() / 60
        );
    }
    println!(
        "try: xdg-open tel:+50640004000   (P7: on a bare X server use `gio open tel:+50640004000`)"
    );
    println!("  or: {} tel:+50640004000", app.display());
    println!("quit the app to stop the demo line.\n");

    let status = cmd::status(&mut command);
    // Stop the peers (by their PIDs) whatever happened to the app.
    drop(demo);
    drop(demo_crm);
    drop(demo_hub);
    drop(demo_tiles);
    let status = status?;
    println!("enlace exited: {status}");
    Ok(exit_code_of(status))
}

/// The app's exit code (128 + signal when it was killed by one).
pub fn exit_code_of(status: std::process::ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(1));
        }
    }
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_are_ours_and_the_rest_goes_to_the_app() {
        let o = parse(&strings(&["--release", "tel:+50640004000"]));
        assert!(o.release && o.demo);
        assert_eq!(o.app_args, ["tel:+50640004000"]);

        let o = parse(&strings(&["--no-demo", "--", "--release", "x"]));
        assert!(!o.release && !o.demo);
        assert_eq!(o.app_args, ["--release", "x"]);
    }
}
