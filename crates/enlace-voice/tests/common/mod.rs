//! Shared by the audio tests: a private PulseAudio server whose microphone hears a tone, and
//! signal analysis.
//!
//! ALSA's `pulse`/`default` PCMs find the server through `PULSE_SERVER`, which is process-wide
//! (and ALSA reads its configuration once per process), so each test runs its body in a child
//! process: the test binary itself, started with `PULSE_SERVER` in its environment and told to
//! run just that test. No `set_var`, and tests in one binary run in parallel safely.

#![allow(dead_code)]

use std::process::Command;

use enlace_peers::pulse::{PulseServer, PULSE_SERVER_ENV};

/// Set in the child: run the body.
const CHILD_ENV: &str = "ENLACE_VOICE_TEST_CHILD";

/// Runs `body` in a child process whose PulseAudio server is a private one hearing `hz`.
/// `test` is the test function's name (as libtest names it).
pub fn with_private_pulse(test: &str, hz: u32, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let server = PulseServer::start(hz).expect("a private pulseaudio starts");
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env(PULSE_SERVER_ENV, server.server())
        .output()
        .expect("run the test in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child failed ({}):\n{stdout}\n{stderr}\npulseaudio log: {}",
        out.status,
        server.log_path().display()
    );
}

/// Power of `freq` in `samples` (Goertzel).
pub fn goertzel(samples: &[f32], rate: f32, freq: f32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// The frequency with the most power between 50 Hz and 8 kHz: a 10 Hz scan, then 0.5 Hz steps
/// around the best.
pub fn dominant_frequency(samples: &[f32], rate: f32) -> f32 {
    let best_in = |from: f32, to: f32, step: f32| {
        let mut best = (from, f64::MIN);
        let mut f = from;
        while f <= to {
            let p = goertzel(samples, rate, f);
            if p > best.1 {
                best = (f, p);
            }
            f += step;
        }
        best.0
    };
    let coarse = best_in(50.0, 8_000.0, 10.0);
    best_in((coarse - 15.0).max(1.0), coarse + 15.0, 0.5)
}

pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        / samples.len() as f64)
        .sqrt() as f32
}
