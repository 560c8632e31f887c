//! The Omnicanalidad measurements of `cargo xtask bench`: the window benches of
//! `enlace-tests` drive the real window through WebDriver against an in-process hub with the
//! WhatsApp double: [`INBOX`] (`tests/benches/inbox_window.rs`: messages to the open chat, long
//! chats, many conversations) and [`VOICE`] (`tests/benches/voice_window.rs`: Enviar on a voice
//! note → the double has it, recorded from a PulseAudio tone). They are built before the
//! headless session ([`build`]) and run inside it ([`measure`]), with the release app; their
//! Markdown rows join the app table of `target/bench/summary.md`.

use std::path::Path;
use std::process::Command;

use crate::cmd::{self, TaskResult};
use crate::paths;
use crate::session::Desktop;

const PACKAGE: &str = "enlace-tests";
/// Omnicanalidad: messages, long chats, many conversations.
pub const INBOX: &str = "inbox_window";
/// Voice notes: Enviar → the WhatsApp double has it.
pub const VOICE: &str = "voice_window";
const BENCHES: [&str; 2] = [INBOX, VOICE];

/// Whether a `[[bench]]` target is one of these (the criterion step leaves them to the session).
pub fn is_window_bench(package: &str, bench: &str) -> bool {
    package == PACKAGE && BENCHES.contains(&bench)
}

fn command(benches: &[&str]) -> Command {
    let mut c = cmd::cargo();
    c.current_dir(paths::root())
        .args(["bench", "--locked", "-p", PACKAGE]);
    for bench in benches {
        c.args(["--bench", bench]);
    }
    c
}

/// Builds the bench binaries (release profile) outside the session.
pub fn build() -> TaskResult<()> {
    cmd::run(command(&BENCHES).arg("--no-run"))
}

/// Runs `bench` ([`INBOX`] or [`VOICE`]) inside the session against `app`; its rows
/// (measurement, value, detail), or one "n/a" row saying why there are none.
pub fn measure(desktop: &Desktop, app: &Path, bench: &str) -> Vec<(String, String, String)> {
    let what = format!("Omnicanalidad ({bench} bench)");
    let out = paths::target_dir()
        .join("bench")
        .join(format!("{bench}.md"));
    let _ = std::fs::remove_file(&out);
    let mut c = command(&[bench]);
    desktop.apply(&mut c);
    c.env("ENLACE_E2E", "1")
        .env("ENLACE_REQUIRE_NOTIFICATIONS", "1")
        .env("ENLACE_APP_BIN", app)
        .env("ENLACE_BENCH_INBOX_OUT", &out);
    let ran = cmd::run(&mut c);
    let rows = parse_rows(&std::fs::read_to_string(&out).unwrap_or_default());
    match (ran, rows.is_empty()) {
        (_, false) => rows,
        (Err(e), true) => vec![(what, "n/a".into(), e.to_string().replace('|', "/"))],
        (Ok(()), true) => vec![(what, "n/a".into(), "it wrote no rows".into())],
    }
}

/// `| a | b | c |` lines → (a, b, c).
fn parse_rows(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
            let mut cells = inner.split('|').map(|c| c.trim().to_owned());
            Some((cells.next()?, cells.next()?, cells.next()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bench_rows() {
        let rows = parse_rows("| a b | 1 ms | n=5 |\nnoise\n| x | y | z |\n");
        assert_eq!(
            rows,
            vec![
                ("a b".into(), "1 ms".into(), "n=5".into()),
                ("x".into(), "y".into(), "z".into())
            ]
        );
        assert!(is_window_bench("enlace-tests", "inbox_window"));
        assert!(is_window_bench("enlace-tests", "voice_window"));
        assert!(!is_window_bench("enlace-hub", "hub"));
    }
}
