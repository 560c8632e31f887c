//! The memory of a 5-minute recording for `cargo xtask bench`: `enlace-voice`'s
//! `record_memory` example records from a real audio path (a PulseAudio server whose default
//! source plays a tone) for five minutes and prints Markdown rows `| measurement | value |
//! detail |`. It is built before the headless session ([`build`]) and run inside it
//! ([`measure`]); its rows join the app table of `target/bench/summary.md`.

use std::process::Command;

use crate::cmd::{self, TaskResult};
use crate::paths;
use crate::session::Desktop;

const PACKAGE: &str = "enlace-voice";
const EXAMPLE: &str = "record_memory";
const WHAT: &str = "memory while recording 5 minutes (enlace-voice record_memory)";

fn command(verb: &str) -> Command {
    let mut c = cmd::cargo();
    c.current_dir(paths::root()).args([
        verb,
        "--release",
        "--locked",
        "-p",
        PACKAGE,
        "--example",
        EXAMPLE,
    ]);
    c
}

fn example_exists() -> bool {
    paths::root()
        .join("crates")
        .join(PACKAGE)
        .join("examples")
        .join(format!("{EXAMPLE}.rs"))
        .is_file()
}

/// Builds the example (release profile) outside the session.
pub fn build() -> TaskResult<()> {
    if !example_exists() {
        println!("crates/{PACKAGE}/examples/{EXAMPLE}.rs is missing: nothing to build");
        return Ok(());
    }
    cmd::run(&mut command("build"))
}

/// Runs it inside the session; its rows, or one "n/a" row saying why there are none.
pub fn measure(desktop: &Desktop) -> Vec<(String, String, String)> {
    if !example_exists() {
        return vec![(
            WHAT.into(),
            "n/a".into(),
            format!("crates/{PACKAGE}/examples/{EXAMPLE}.rs is missing"),
        )];
    }
    let mut c = command("run");
    desktop.apply(&mut c);
    match cmd::output(&mut c) {
        Ok(out) => {
            print!("{out}");
            let rows = parse_rows(&out);
            if rows.is_empty() {
                vec![(WHAT.into(), "n/a".into(), "it printed no rows".into())]
            } else {
                rows
            }
        }
        Err(e) => vec![(WHAT.into(), "n/a".into(), e.to_string().replace('|', "/"))],
    }
}

/// `| a | b | c |` lines (not the header or its `|---|` rule) → (a, b, c).
fn parse_rows(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
            let mut cells = inner.split('|').map(|c| c.trim().to_owned());
            let row = (cells.next()?, cells.next()?, cells.next()?);
            let rule = row.0.chars().all(|c| c == '-' || c == ':');
            let header = row.0.eq_ignore_ascii_case("measurement");
            (!rule && !header).then_some(row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_but_not_the_header() {
        let rows = parse_rows(
            "recording…\n| measurement | value | detail |\n|---|---|---|\n| peak RSS | 12.0 MiB | 5 min |\n",
        );
        assert_eq!(
            rows,
            vec![("peak RSS".into(), "12.0 MiB".into(), "5 min".into())]
        );
    }
}
