//! `cargo xtask soak [--agents N] [--secs S] [--seed X]`: the hub's fault soak, long. It runs
//! the same test as `cargo test -p enlace-hub --test soak` (the short version: 20 agents, 25 s)
//! in release mode with more agents for longer: a real `enlace-hub serve` process, the AMI
//! double and the simulated agents behind seeded fault proxies, the hub killed with `SIGKILL`
//! and restarted, the AMI link dropped, reset and stalled. At the end what was produced is
//! counted against what the hub recorded and what each agent's stream delivered; the table is
//! printed and written to `target/soak/summary.md`. A failure prints its seed: pass it back
//! with `--seed` to replay the same fault choices.

use std::process::ExitCode;

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::paths;

const USAGE: &str = "cargo xtask soak [--agents N (200)] [--secs S (180)] [--seed X (random)]";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    agents: u32,
    secs: u32,
    seed: Option<u64>,
}

fn parse(args: &[String]) -> TaskResult<Options> {
    let mut options = Options {
        agents: 200,
        secs: 180,
        seed: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| TaskError::Usage(format!("{flag} needs a value\n\n{USAGE}")))?;
        let bad = || TaskError::Usage(format!("{flag} {value}: not a number\n\n{USAGE}"));
        match flag.as_str() {
            "--agents" => options.agents = value.parse().map_err(|_| bad())?,
            "--secs" => options.secs = value.parse().map_err(|_| bad())?,
            "--seed" => options.seed = Some(value.parse().map_err(|_| bad())?),
            other => {
                return Err(TaskError::Usage(format!(
                    "unknown option {other}\n\n{USAGE}"
                )))
            }
        }
    }
    if options.agents == 0 || options.secs < 10 {
        return Err(TaskError::Usage(format!(
            "at least 1 agent and 10 seconds\n\n{USAGE}"
        )));
    }
    Ok(options)
}

/// `cargo xtask soak`.
pub fn soak(args: &[String]) -> TaskResult<ExitCode> {
    let options = parse(args)?;
    let summary = paths::target_dir().join("soak").join("summary.md");
    let mut report = Report::new("cargo xtask soak");
    let outcome = report.step("cargo test --release -p enlace-hub --test soak", || {
        let mut test = cmd::cargo();
        test.args([
            "test",
            "--release",
            "-p",
            "enlace-hub",
            "--test",
            "soak",
            "--",
            "--nocapture",
        ])
        .env("ENLACE_SOAK_AGENTS", options.agents.to_string())
        .env("ENLACE_SOAK_SECS", options.secs.to_string())
        .env("ENLACE_SOAK_SUMMARY", &summary);
        if let Some(seed) = options.seed {
            test.env("ENLACE_SOAK_SEED", seed.to_string());
        }
        cmd::run(&mut test)
    });
    if summary.exists() {
        println!("\nsummary: {}", summary.display());
    }
    report.print_summary(outcome.as_ref().err());
    outcome.map(|()| ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn options_parse_with_defaults() {
        assert_eq!(
            parse(&[]).ok(),
            Some(Options {
                agents: 200,
                secs: 180,
                seed: None
            })
        );
        assert_eq!(
            parse(&args(&["--agents", "50", "--seed", "7", "--secs", "60"])).ok(),
            Some(Options {
                agents: 50,
                secs: 60,
                seed: Some(7)
            })
        );
        assert!(parse(&args(&["--agents"])).is_err());
        assert!(parse(&args(&["--agents", "many"])).is_err());
        assert!(parse(&args(&["--secs", "1"])).is_err());
        assert!(parse(&args(&["--fast", "1"])).is_err());
    }
}
