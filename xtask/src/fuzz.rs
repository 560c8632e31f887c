//! `cargo xtask fuzz [--secs N] [--stable] [target…]`: builds every cargo-fuzz target in `fuzz/` once,
//! seeds each corpus from the project's test data, runs the targets one after the other for
//! `N` seconds each (default 60) and writes `target/fuzz/summary.md` (executions per target).
//! `cargo xtask test` runs the same for [`TEST_SECS`] seconds per target.
//!
//! Toolchain: `cargo +nightly fuzz` (AddressSanitizer) when a nightly toolchain is installed,
//! else the stable toolchain with `RUSTC_BOOTSTRAP=1` and `--sanitizer none` (cargo-fuzz needs
//! `-Z` flags only for the sanitizer); `--stable` picks the latter even with nightly installed
//! (faster, no sanitizer). cargo-fuzz itself is installed when missing.
//!
//! Layout: `fuzz/fuzz_targets/<target>.rs` (one `[[bin]]` each in `fuzz/Cargo.toml`),
//! `fuzz/seeds/<target>/` committed seed inputs, `fuzz/corpus/<target>/` the growing corpus
//! (not committed), `target/fuzz/artifacts/<target>/` crashing inputs, `target/fuzz/logs/`.
//! To add a target: write it, add its `[[bin]]`, add it to [`TARGETS`] with the crate whose
//! tests get its regression tests, and put a few seed inputs in `fuzz/seeds/<target>/`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::paths;

/// Seconds per target in `cargo xtask test`.
pub const TEST_SECS: u64 = 30;
/// Targets run at once in `cargo xtask test` (one per core of the 2-core test machines; each
/// libFuzzer process is single-threaded).
const TEST_JOBS: usize = 2;
/// Seconds per target in `cargo xtask fuzz` without `--secs`.
const DEFAULT_SECS: u64 = 60;
/// One input running longer than this is a hang (libFuzzer `-timeout`).
const HANG_SECS: u64 = 10;
/// Memory limit per target process.
const RSS_LIMIT_MB: u64 = 2048;
/// The AMI transcript the AMI targets are seeded from.
const AMI_TRANSCRIPT: &str = "crates/enlace-ami/tests/data/asterisk-ami-transcript.txt";
/// The webhook bodies the `whatsapp` target is seeded from.
const WHATSAPP_FIXTURES: &str = "crates/enlace-whatsapp/tests/fixtures";

/// A fuzz target and the crate that owns what it parses (where its regression tests go).
pub struct Target {
    pub name: &'static str,
    pub owner: &'static str,
    /// Longest input (libFuzzer `-max_len`); `None`: libFuzzer's default (4096 bytes, or the
    /// largest seed). The AMI targets go past `MAX_LINE` (8 KiB) so overlong lines are reached.
    pub max_len: Option<usize>,
}

/// Every target, in the order they run.
pub const TARGETS: &[Target] = &[
    Target {
        name: "dial",
        owner: "enlace-core",
        max_len: None,
    },
    Target {
        name: "netstring",
        owner: "enlace-telephony",
        max_len: None,
    },
    Target {
        name: "baresip_events",
        owner: "enlace-telephony",
        max_len: None,
    },
    Target {
        name: "ami_decoder",
        owner: "enlace-ami",
        max_len: Some(9 * 1024),
    },
    Target {
        name: "ami_tracker",
        owner: "enlace-ami",
        max_len: Some(16 * 1024),
    },
    Target {
        name: "hub_requests",
        owner: "enlace-hub",
        max_len: None,
    },
    Target {
        name: "hub_client",
        owner: "enlace-hub-client",
        max_len: None,
    },
    Target {
        name: "crm_salesforce",
        owner: "enlace-crm",
        max_len: None,
    },
    Target {
        name: "crm_zoho",
        owner: "enlace-crm",
        max_len: None,
    },
    Target {
        name: "whatsapp",
        owner: "enlace-whatsapp",
        max_len: None,
    },
    Target {
        name: "voice_note",
        owner: "enlace-voice",
        max_len: Some(16 * 1024),
    },
];

/// What one target's run gave.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunStats {
    pub executions: Option<u64>,
    pub seconds: Option<u64>,
    pub corpus: Option<u64>,
}

struct Outcome {
    target: &'static str,
    stats: RunStats,
    took: Duration,
    /// `None`: passed; else what went wrong and the input that did it.
    failure: Option<String>,
}

/// How the targets are built: which cargo, which sanitizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toolchain {
    /// `rustup run nightly cargo fuzz …` with the default sanitizer (address).
    Nightly,
    /// The current cargo with `RUSTC_BOOTSTRAP=1` and `--sanitizer none`.
    Bootstrap,
}

impl Toolchain {
    /// Nightly when installed, unless `stable` is asked for.
    fn detect(stable: bool) -> Toolchain {
        let nightly = !stable
            && cmd::which("rustup").is_some()
            && cmd::output(Command::new("rustup").args(["run", "nightly", "cargo", "--version"]))
                .is_ok();
        if nightly {
            Toolchain::Nightly
        } else {
            Toolchain::Bootstrap
        }
    }

    /// Build folder under `target/fuzz/` (the two builds use different compiler flags).
    fn build_dir(self) -> PathBuf {
        fuzz_dir().join(match self {
            Toolchain::Nightly => "build",
            Toolchain::Bootstrap => "build-stable",
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Toolchain::Nightly => "nightly, AddressSanitizer",
            Toolchain::Bootstrap => "stable with RUSTC_BOOTSTRAP=1, no sanitizer",
        }
    }

    /// `cargo fuzz <sub>` with this toolchain's program, environment and sanitizer flag.
    fn cargo_fuzz(self, sub: &str) -> Command {
        let mut c = match self {
            Toolchain::Nightly => {
                let mut c = Command::new("rustup");
                c.args(["run", "nightly", "cargo", "fuzz", sub]);
                c
            }
            Toolchain::Bootstrap => {
                let mut c = cmd::cargo();
                c.args(["fuzz", sub, "--sanitizer", "none"])
                    .env("RUSTC_BOOTSTRAP", "1");
                c
            }
        };
        c.current_dir(paths::root());
        c
    }
}

/// `cargo xtask fuzz [--secs N] [--stable] [target…]`.
pub fn fuzz(args: &[String]) -> TaskResult<()> {
    let options = parse_args(args)?;
    let mut report = Report::new("cargo xtask fuzz");
    let outcome = run(&mut report, &options);
    report.print_summary(outcome.as_ref().err());
    outcome
}

/// The `cargo xtask test` step: every target for [`TEST_SECS`] seconds.
pub fn test_step(report: &mut Report) -> TaskResult<()> {
    let options = Options {
        secs: TEST_SECS,
        jobs: TEST_JOBS,
        ..Options::default()
    };
    run(report, &options)
}

/// The command line of `cargo xtask fuzz`.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    secs: u64,
    stable: bool,
    targets: Vec<String>,
    /// Targets fuzzed at the same time (`--jobs N`).
    jobs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secs: DEFAULT_SECS,
            stable: false,
            targets: Vec::new(),
            jobs: 1,
        }
    }
}

fn parse_args(args: &[String]) -> TaskResult<Options> {
    let mut options = Options::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if let Some(value) = arg
            .strip_prefix("--secs=")
            .or_else(|| (arg == "--secs").then(|| rest.next().map_or("", String::as_str)))
        {
            options.secs =
                value.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    TaskError::Usage(format!("--secs needs seconds, got {value:?}"))
                })?;
        } else if let Some(value) = arg
            .strip_prefix("--jobs=")
            .or_else(|| (arg == "--jobs").then(|| rest.next().map_or("", String::as_str)))
        {
            options.jobs =
                value.parse().ok().filter(|j| *j > 0).ok_or_else(|| {
                    TaskError::Usage(format!("--jobs needs a count, got {value:?}"))
                })?;
        } else if arg == "--stable" {
            options.stable = true;
        } else if TARGETS.iter().any(|t| t.name == arg) {
            options.targets.push(arg.clone());
        } else {
            let known: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            return Err(TaskError::Usage(format!(
                "unknown fuzz option or target `{arg}`; targets: {}",
                known.join(", ")
            )));
        }
    }
    Ok(options)
}

fn run(report: &mut Report, options: &Options) -> TaskResult<()> {
    let secs = options.secs;
    let targets: Vec<&Target> = TARGETS
        .iter()
        .filter(|t| options.targets.is_empty() || options.targets.iter().any(|n| n == t.name))
        .collect();
    report.step("cargo-fuzz installed", ensure_cargo_fuzz)?;
    let toolchain = Toolchain::detect(options.stable);
    println!("fuzzing with {}", toolchain.describe());
    let build_dir = toolchain.build_dir();
    report.step("cargo fuzz build (every target)", || {
        let mut c = toolchain.cargo_fuzz("build");
        c.arg("--target-dir").arg(&build_dir);
        cmd::run(&mut c)
    })?;
    report.step("seed corpora from the test data", || {
        targets.iter().try_for_each(|t| seed(t.name))
    })?;
    let started = now_utc();
    let mut outcomes = Vec::new();
    for group in targets.chunks(options.jobs.max(1)) {
        let names: Vec<&str> = group.iter().map(|t| t.name).collect();
        let name = format!("fuzz {} ({secs} s)", names.join(" + "));
        let done = report.step(&name, || {
            std::thread::scope(|scope| {
                let runs: Vec<_> = group
                    .iter()
                    .map(|target| scope.spawn(|| run_target(&build_dir, target, secs)))
                    .collect();
                runs.into_iter()
                    .map(|run| {
                        run.join().unwrap_or_else(|_| {
                            Err(TaskError::Precondition(
                                "a fuzz runner thread panicked".into(),
                            ))
                        })
                    })
                    .collect::<TaskResult<Vec<Outcome>>>()
            })
        })?;
        outcomes.extend(done);
    }
    let summary = summary_md(&started, toolchain, secs, &outcomes);
    report.step("write target/fuzz/summary.md", || {
        let path = fuzz_dir().join("summary.md");
        fs::write(&path, &summary)
            .map_err(|e| TaskError::io(format!("write {}", path.display()), e))?;
        println!("\n{summary}\nwritten to {}", path.display());
        Ok(())
    })?;
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.failure.as_ref().map(|f| format!("{}: {f}", o.target)))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(TaskError::Precondition(format!(
            "fuzzing found {} problem(s):\n  {}\nReproduce with the target binary and the input \
             file; fix it, then add the input as a regression test in the owning crate's tests",
            failed.len(),
            failed.join("\n  ")
        )))
    }
}

/// `target/fuzz` (build, artifacts, logs, summary).
fn fuzz_dir() -> PathBuf {
    paths::target_dir().join("fuzz")
}

fn ensure_cargo_fuzz() -> TaskResult<()> {
    if let Ok(version) = cmd::output(cmd::cargo().args(["fuzz", "--version"])) {
        println!("{}", version.trim());
        return Ok(());
    }
    cmd::run(cmd::cargo().args(["install", "cargo-fuzz", "--locked"]))
}

/// Writes the seeds generated from test data into `fuzz/corpus/<target>/` (idempotent; the
/// committed seeds in `fuzz/seeds/<target>/` are read in place).
fn seed(target: &str) -> TaskResult<()> {
    let corpus = paths::root().join("fuzz").join("corpus").join(target);
    fs::create_dir_all(&corpus)
        .map_err(|e| TaskError::io(format!("create {}", corpus.display()), e))?;
    let generated: Vec<(String, Vec<u8>)> = match target {
        "ami_decoder" | "ami_tracker" => {
            let path = paths::root().join(AMI_TRANSCRIPT);
            let text = fs::read(&path)
                .map_err(|e| TaskError::io(format!("read {}", path.display()), e))?;
            let blocks = transcript_blocks(&text);
            // The decoder target reads a chunk size first (7: 8 bytes), the tracker a clock step
            // (10: about a second).
            let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
            if target == "ami_tracker" {
                // Whole blocks: the event sequences of each call, and the session end to end.
                for (i, block) in blocks.iter().enumerate() {
                    seeds.push((format!("transcript-{i:03}"), [&[10][..], block].concat()));
                }
                seeds.push((
                    "transcript-all".into(),
                    [vec![10], blocks.concat()].concat(),
                ));
            } else {
                // One packet per seed (the banner alone too): small inputs mutate faster.
                let mut packet = Vec::new();
                for line in blocks
                    .iter()
                    .flat_map(|b| b.split_inclusive(|c| *c == b'\n'))
                {
                    packet.extend_from_slice(line);
                    let end = line == b"\r\n" || line == b"\n" || line.starts_with(b"Asterisk");
                    if end {
                        let name = format!("packet-{:03}", seeds.len());
                        seeds.push((name, [&[7][..], &packet].concat()));
                        packet.clear();
                    }
                }
            }
            seeds
        }
        "whatsapp" => {
            // Every recorded webhook body, behind the byte that picks "webhook".
            let dir = paths::root().join(WHATSAPP_FIXTURES);
            let mut seeds = Vec::new();
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "json") {
                    let body = fs::read(&path)
                        .map_err(|e| TaskError::io(format!("read {}", path.display()), e))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    seeds.push((format!("fixture-{name}"), [&[b'w'][..], &body].concat()));
                }
            }
            seeds
        }
        _ => Vec::new(),
    };
    for (name, bytes) in generated {
        let path = corpus.join(name);
        fs::write(&path, bytes)
            .map_err(|e| TaskError::io(format!("write {}", path.display()), e))?;
    }
    Ok(())
}

/// What Asterisk sent in the transcript: the banner line, then each `<<< RECEIVED` block byte
/// for byte (the reading of `crates/enlace-ami/tests/ami.rs`).
pub fn transcript_blocks(text: &[u8]) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in text.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"#####") {
            if let Some(mut block) = current.take() {
                // The marker is preceded by one bare "\n" separator that is not part of the bytes.
                if block.ends_with(b"\n\n") {
                    block.pop();
                }
                blocks.push(block);
            }
            if line.windows(12).any(|w| w == b"<<< RECEIVED") {
                current = Some(Vec::new());
            }
            continue;
        }
        if let Some(block) = current.as_mut() {
            block.extend_from_slice(line);
        } else if line.starts_with(b"Asterisk Call Manager/") {
            blocks.push(line.to_vec());
        }
    }
    if let Some(block) = current {
        blocks.push(block);
    }
    blocks
}

/// The binary `cargo fuzz build` left for `target` under `build_dir/<triple>/release/`.
fn binary(build_dir: &Path, target: &str) -> TaskResult<PathBuf> {
    let entries = fs::read_dir(build_dir)
        .map_err(|e| TaskError::io(format!("read {}", build_dir.display()), e))?;
    entries
        .flatten()
        .map(|e| e.path().join("release").join(target))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            TaskError::Precondition(format!(
                "no fuzz binary `{target}` under {}: is it a [[bin]] in fuzz/Cargo.toml?",
                build_dir.display()
            ))
        })
}

fn run_target(build_dir: &Path, target: &Target, secs: u64) -> TaskResult<Outcome> {
    let bin = binary(build_dir, target.name)?;
    let fuzz = paths::root().join("fuzz");
    let corpus = fuzz.join("corpus").join(target.name);
    let seeds = fuzz.join("seeds").join(target.name);
    let artifacts = fuzz_dir().join("artifacts").join(target.name);
    let logs = fuzz_dir().join("logs");
    for dir in [&corpus, &artifacts, &logs] {
        fs::create_dir_all(dir)
            .map_err(|e| TaskError::io(format!("create {}", dir.display()), e))?;
    }
    let log_path = logs.join(format!("{}.log", target.name));
    let log = fs::File::create(&log_path)
        .map_err(|e| TaskError::io(format!("create {}", log_path.display()), e))?;
    let before = artifact_names(&artifacts);
    let mut c = Command::new(&bin);
    c.arg(format!("-max_total_time={secs}"))
        .arg(format!("-timeout={HANG_SECS}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg("-print_final_stats=1")
        .args(target.max_len.map(|n| format!("-max_len={n}")))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus);
    if seeds.is_dir() {
        c.arg(&seeds);
    }
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    println!("$ {}  2> {}", cmd::describe(&c), log_path.display());
    let started = Instant::now();
    let status = c.status().map_err(|source| TaskError::Spawn {
        program: bin.display().to_string(),
        source,
    })?;
    let took = started.elapsed();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let stats = parse_stats(&text);
    println!(
        "{}: {} executions in {} s, corpus {}",
        target.name,
        stats.executions.map_or("?".into(), |n| n.to_string()),
        stats.seconds.map_or("?".into(), |n| n.to_string()),
        stats.corpus.map_or("?".into(), |n| n.to_string()),
    );
    let failure = if status.success() {
        None
    } else {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        let new: Vec<String> = artifact_names(&artifacts)
            .into_iter()
            .filter(|n| !before.contains(n))
            .map(|n| artifacts.join(n).display().to_string())
            .collect();
        Some(format!(
            "{status}; input: {}; log: {}; regression test goes in {}",
            if new.is_empty() {
                "none saved".to_owned()
            } else {
                new.join(", ")
            },
            log_path.display(),
            target.owner
        ))
    };
    Ok(Outcome {
        target: target.name,
        stats,
        took,
        failure,
    })
}

fn artifact_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads libFuzzer's end of run: `stat::number_of_executed_units: N` (or `Done N runs in S
/// second(s)`) and the last `#N … corp: C/…` status line.
pub fn parse_stats(log: &str) -> RunStats {
    let mut stats = RunStats::default();
    for line in log.lines() {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            stats.executions = n.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("Done ") {
            let mut words = rest.split_whitespace();
            let runs = words.next().and_then(|n| n.parse().ok());
            if stats.executions.is_none() {
                stats.executions = runs;
            }
            stats.seconds = words.nth(2).and_then(|s| s.parse().ok());
        } else if line.starts_with('#') {
            if let Some(corp) = line.split_whitespace().skip_while(|w| *w != "corp:").nth(1) {
                stats.corpus = corp.split('/').next().and_then(|c| c.parse().ok());
            }
        }
    }
    stats
}

fn summary_md(started: &str, toolchain: Toolchain, secs: u64, outcomes: &[Outcome]) -> String {
    let mut md = String::from("# Enlace fuzzing\n\n");
    let _ = writeln!(
        md,
        "Started {started} UTC on {}; {}; {secs} s per target, one process each.\n",
        crate::bench::machine(),
        toolchain.describe()
    );
    md.push_str("| target | executions | exec/s | corpus | result |\n|---|---:|---:|---:|---|\n");
    for o in outcomes {
        let per_sec = match (o.stats.executions, o.took.as_secs()) {
            (Some(n), s) if s > 0 => (n / s).to_string(),
            _ => "?".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {per_sec} | {} | {} |",
            o.target,
            o.stats.executions.map_or("?".into(), |n| n.to_string()),
            o.stats.corpus.map_or("?".into(), |n| n.to_string()),
            o.failure.as_deref().unwrap_or("no crash, no hang")
        );
    }
    md
}

/// `YYYY-MM-DD HH:MM`.
fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{} {:02}:{:02}",
        crate::bench::today_utc(),
        secs / 3600 % 24,
        secs / 60 % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_final_stats_are_read() {
        let log = "\
INFO: Seed: 1
#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb
#65536\tpulse  cov: 120 ft: 300 corp: 42/1200b lim: 4 exec/s: 32768 rss: 40Mb
#90000\tNEW    cov: 121 ft: 301 corp: 43/1300b lim: 4 exec/s: 30000 rss: 40Mb
Done 123456 runs in 6 second(s)
stat::number_of_executed_units: 123457
stat::average_exec_per_sec:     20576
";
        assert_eq!(
            parse_stats(log),
            RunStats {
                executions: Some(123_457),
                seconds: Some(6),
                corpus: Some(43),
            }
        );
        let short = "#1\tINITED corp: 3/9b\nDone 10 runs in 0 second(s)\n";
        assert_eq!(
            parse_stats(short),
            RunStats {
                executions: Some(10),
                seconds: Some(0),
                corpus: Some(3),
            }
        );
        assert_eq!(
            parse_stats("==1== ERROR: libFuzzer: deadly signal"),
            RunStats::default()
        );
    }

    #[test]
    fn the_transcript_gives_the_banner_and_every_received_block() {
        let text = b"# comment\n\nAsterisk Call Manager/11.0.0\r\n\n##### 0.1 >>> SENT Login\r\n\
Action: Login\r\n\r\n\n##### 0.2 <<< RECEIVED (raw)\nResponse: Success\r\n\r\n\n\
##### 0.3 <<< RECEIVED (raw)\nEvent: A\r\n\r\n";
        let blocks = transcript_blocks(text);
        assert_eq!(
            blocks,
            vec![
                b"Asterisk Call Manager/11.0.0\r\n".to_vec(),
                b"Response: Success\r\n\r\n".to_vec(),
                b"Event: A\r\n\r\n".to_vec(),
            ]
        );
        let real = fs::read(paths::root().join(AMI_TRANSCRIPT)).expect("transcript");
        let blocks = transcript_blocks(&real);
        assert!(blocks.len() >= 10, "{} blocks", blocks.len());
        assert!(blocks[0].starts_with(b"Asterisk Call Manager/"));
    }

    #[test]
    fn arguments_are_seconds_and_known_targets() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(args(&[]).unwrap(), Options::default());
        assert_eq!(
            args(&["--secs", "5", "dial", "--stable"]).unwrap(),
            Options {
                secs: 5,
                stable: true,
                targets: vec!["dial".to_owned()],
                jobs: 1,
            }
        );
        assert_eq!(args(&["--secs=7"]).unwrap().secs, 7);
        assert_eq!(args(&["--jobs", "2"]).unwrap().jobs, 2);
        assert!(args(&["--jobs", "0"]).is_err());
        assert!(args(&["--secs"]).is_err());
        assert!(args(&["--secs", "0"]).is_err());
        assert!(args(&["nope"]).is_err());
    }

    #[test]
    fn every_target_is_a_bin_of_the_fuzz_crate_with_a_source_file() {
        let manifest = fs::read_to_string(paths::root().join("fuzz/Cargo.toml")).expect("manifest");
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{}\"", target.name)),
                "{} is not a [[bin]] of fuzz/Cargo.toml",
                target.name
            );
            let source = paths::root()
                .join("fuzz/fuzz_targets")
                .join(format!("{}.rs", target.name));
            assert!(source.is_file(), "{} is missing", source.display());
        }
        let bins = manifest.lines().filter(|l| l.trim() == "[[bin]]").count();
        assert_eq!(
            bins,
            TARGETS.len(),
            "fuzz/Cargo.toml has bins xtask does not run"
        );
    }
}
