//! The Omnicanalidad measurements of `cargo xtask bench`: the `inbox_window` bench of
//! `enlace-tests` (`tests/benches/inbox_window.rs`) drives the real window through WebDriver
//! against an in-process hub with the WhatsApp double. It is built before the headless session
//! ([`build`]) and run inside it ([`measure`]), with the release app; its Markdown rows join the
//! app table of `target/bench/summary.md`.

use std::path::Path;
use std::process::Command;

use crate::cmd::{self, TaskResult};
use crate::paths;
use crate::session::Desktop;

const PACKAGE: &str = "enlace-tests";
const BENCH: &str = "inbox_window";

/// Whether a `[[bench]]` target is this one (the criterion step leaves it to the session).
pub fn is_window_bench(package: &str, bench: &str) -> bool {
    package == PACKAGE && bench == BENCH
}

fn command() -> Command {
    let mut c = cmd::cargo();
    c.current_dir(paths::root())
        .args(["bench", "--locked", "-p", PACKAGE, "--bench", BENCH]);
    c
}

/// Builds the bench binary (release profile) outside the session.
pub fn build() -> TaskResult<()> {
    cmd::run(command().arg("--no-run"))
}

/// Runs it inside the session against `app`; its rows (measurement, value, detail), or one
/// "n/a" row saying why there are none.
pub fn measure(desktop: &Desktop, app: &Path) -> Vec<(String, String, String)> {
    let what = "Omnicanalidad (inbox_window bench)";
    let out = paths::target_dir().join("bench").join("inbox.md");
    let _ = std::fs::remove_file(&out);
    let mut c = command();
    desktop.apply(&mut c);
    c.env("ENLACE_E2E", "1")
        .env("ENLACE_REQUIRE_NOTIFICATIONS", "1")
        .env("ENLACE_APP_BIN", app)
        .env("ENLACE_BENCH_INBOX_OUT", &out);
    let ran = cmd::run(&mut c);
    let rows = parse_rows(&std::fs::read_to_string(&out).unwrap_or_default());
    match (ran, rows.is_empty()) {
        (_, false) => rows,
        (Err(e), true) => vec![(what.into(), "n/a".into(), e.to_string().replace('|', "/"))],
        (Ok(()), true) => vec![(what.into(), "n/a".into(), "it wrote no rows".into())],
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
        assert!(!is_window_bench("enlace-hub", "hub"));
    }
}
