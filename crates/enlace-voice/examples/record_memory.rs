//! Memory while recording a long voice note: a private PulseAudio server whose microphone hears
//! 440 Hz, `Recorder` recording from it for 5 minutes (or `--seconds N`), RSS and PSS of this
//! process from `/proc/self/smaps_rollup` sampled every 5 seconds. Prints Markdown rows
//! `| measurement | value | detail |` (read by `cargo xtask bench`).
//!
//! `cargo run --release -p enlace-voice --example record_memory [-- --seconds N]`
//!
//! ALSA finds the server through `PULSE_SERVER`, so the recording runs in a child process (this
//! example again) started with it set.

use std::process::Command;
use std::time::{Duration, Instant};

use enlace_peers::pulse::{PulseServer, PULSE_SERVER_ENV};
use enlace_voice::Recorder;

const CHILD_ENV: &str = "ENLACE_VOICE_BENCH_CHILD";
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

fn main() {
    let seconds = seconds_arg().unwrap_or(300);
    if std::env::var_os(CHILD_ENV).is_some() {
        if let Err(e) = record(seconds) {
            eprintln!("record_memory: {e}");
            std::process::exit(1);
        }
        return;
    }
    let server = match PulseServer::start(440) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("record_memory: pulseaudio: {e}");
            std::process::exit(1);
        }
    };
    let status = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(["--seconds", &seconds.to_string()])
            .env(CHILD_ENV, "1")
            .env(PULSE_SERVER_ENV, server.server())
            .status()
    });
    drop(server);
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!("record_memory: the recording process failed ({s})");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("record_memory: {e}");
            std::process::exit(1);
        }
    }
}

fn seconds_arg() -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--seconds")?;
    args.get(at + 1)?.parse().ok()
}

/// RSS and PSS of this process in KiB.
fn memory_kib() -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .map_err(|e| format!("/proc/self/smaps_rollup: {e}"))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("no {name} in smaps_rollup"))
    };
    Ok((field("Rss:")?, field("Pss:")?))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn record(seconds: u64) -> Result<(), String> {
    let before = memory_kib()?;
    let recording = Recorder::default()
        .start(None)
        .map_err(|e| format!("start: {e}"))?;
    // Wait for audio to flow, then measure from there.
    let deadline = Instant::now() + Duration::from_secs(30);
    while recording.status().elapsed.is_zero() {
        if Instant::now() > deadline {
            return Err("no audio arrived".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let start = memory_kib()?;
    let (mut peak_rss, mut peak_pss) = start;
    let target = Duration::from_secs(seconds);
    let mut samples = 1;
    loop {
        let status = recording.status();
        if status.elapsed >= target || status.finished {
            break;
        }
        let left = target.saturating_sub(status.elapsed).min(SAMPLE_EVERY);
        std::thread::sleep(left.max(Duration::from_millis(20)));
        let (rss, pss) = memory_kib()?;
        peak_rss = peak_rss.max(rss);
        peak_pss = peak_pss.max(pss);
        samples += 1;
        eprintln!(
            "{:>4} s: RSS {} PSS {}",
            recording.status().elapsed.as_secs(),
            mib(rss),
            mib(pss)
        );
    }
    let end = memory_kib()?;
    peak_rss = peak_rss.max(end.0);
    peak_pss = peak_pss.max(end.1);
    let note = recording.stop().map_err(|e| format!("stop: {e}"))?;
    let after = memory_kib()?;
    let minutes = note.duration_ms as f64 / 60_000.0;
    let detail = format!(
        "{:.1} min recorded from a PulseAudio tone, {samples} samples of /proc/self/smaps_rollup",
        minutes
    );
    println!("| measurement | value | detail |");
    println!("|---|---|---|");
    println!(
        "| voice recording: RSS start / peak / end | {} / {} / {} | {detail}; before opening the microphone {} |",
        mib(start.0),
        mib(peak_rss),
        mib(end.0),
        mib(before.0)
    );
    println!(
        "| voice recording: PSS start / peak / end | {} / {} / {} | {detail}; after stop {} |",
        mib(start.1),
        mib(peak_pss),
        mib(end.1),
        mib(after.1)
    );
    println!(
        "| voice note size | {:.0} KB | {:.1} min of OGG/Opus mono 48 kHz, {:.1} KB per minute (WhatsApp's limit is 16 MB) |",
        note.ogg.len() as f64 / 1000.0,
        minutes,
        note.ogg.len() as f64 / 1000.0 / minutes.max(1e-9)
    );
    Ok(())
}
