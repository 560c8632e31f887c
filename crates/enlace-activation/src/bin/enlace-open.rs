//! `enlace-open [<tel:|callto: link>…]`: the program the desktop entry starts for a clicked
//! link. It hands the links to the running Enlace over the session bus
//! (`org.freedesktop.Application.Open`, with the launcher's activation token) and exits, so a
//! click costs a process that links no GTK and no WebKit. When no Enlace runs, it becomes the
//! app: it `exec`s `enlace` from its own folder with the same arguments, so every link still
//! becomes a dial attempt (and the app gets `MALLOC_ARENA_MAX=2`). Anything that is not a link (`--help`, `dial …`) goes to the app too.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use enlace_activation::{app_id, forward, Request};

/// How long the running app may take to acknowledge the links (it only queues them).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Malloc arenas of the app when this program starts it.
const MALLOC_ARENA_MAX: &str = "2";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(request) = request_of(&args) else {
        return start_app(&args);
    };
    match forward(app_id(), None, &request, ANSWER_TIMEOUT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.start_the_app() => start_app(&args),
        Err(e) => {
            // The app may hold the link already: starting another one could dial twice.
            eprintln!("enlace-open: {e} ({})", e.code());
            ExitCode::FAILURE
        }
    }
}

/// What to ask the running app: `Activate` with no arguments, `Open` when every argument is
/// a `tel:`/`callto:` link, `None` (the app itself parses it) for anything else.
fn request_of(args: &[OsString]) -> Option<Request> {
    let token = Request::token_from_env();
    if args.is_empty() {
        return Some(Request::Activate { token });
    }
    let uris: Vec<String> = args
        .iter()
        .map(|a| a.to_str().filter(|s| is_link(s)).map(str::to_owned))
        .collect::<Option<_>>()?;
    Some(Request::Open { uris, token })
}

fn is_link(arg: &str) -> bool {
    let lower = arg.get(..7).unwrap_or(arg).to_ascii_lowercase();
    lower.starts_with("tel:") || lower.starts_with("callto:")
}

/// `enlace` beside this program.
fn app_path() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let name = if cfg!(windows) {
        "enlace.exe"
    } else {
        "enlace"
    };
    Some(me.parent()?.join(name))
}

fn start_app(args: &[OsString]) -> ExitCode {
    let Some(app) = app_path() else {
        eprintln!("enlace-open: cannot find the enlace program beside this one");
        return ExitCode::FAILURE;
    };
    let mut command = Command::new(&app);
    command.args(args);
    // glibc reads this before `main`, so only a parent can set it: two malloc arenas instead
    // of eight per core keep the app's (and its WebKit children's) idle heap small.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        command.env("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = command.exec();
        eprintln!("enlace-open: cannot start {}: {e}", app.display());
        ExitCode::FAILURE
    }
    #[cfg(not(unix))]
    {
        match command.spawn() {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("enlace-open: cannot start {}: {e}", app.display());
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_forwarded_and_anything_else_goes_to_the_app() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(matches!(
            request_of(&args(&[])),
            Some(Request::Activate { .. })
        ));
        match request_of(&args(&["tel:+50640004000", "CALLTO:+1555"])) {
            Some(Request::Open { uris, .. }) => {
                assert_eq!(uris, ["tel:+50640004000", "CALLTO:+1555"]);
            }
            other => panic!("expected Open, got {other:?}"),
        }
        assert_eq!(request_of(&args(&["--help"])), None);
        assert_eq!(request_of(&args(&["dial", "+50640004000"])), None);
        assert_eq!(request_of(&args(&["tel:+1", "doctor"])), None);
        assert!(!is_link("te"));
        assert!(is_link("tel:ñ"));
    }
}
