//! Voice notes in the real window, measured (run by `cargo xtask bench` inside its headless
//! session; never an assertion in a test):
//!
//! Enviar pressed on a recorded voice note → the WhatsApp double has it: the click is made in
//! the page (its time read there, `performance.timeOrigin + performance.now()`, the wall clock
//! of this process) and the double's accepted sends are polled every 0.5 ms. The path: the
//! app queues the staged OGG, uploads it to the hub, the hub uploads it to the double's
//! `/media` and sends `type: audio` with `voice: true`. p50/p99 over [`RUNS`] notes of
//! [`SPEAK`] each, recorded from a PulseAudio server whose default source plays a tone
//! (`enlace_peers::PulseServer`, handed to the app as `PULSE_SERVER`).
//!
//! Needs `ENLACE_E2E=1` (Xvfb, a session bus, dunst, gnome-keyring) and the app
//! (`ENLACE_APP_BIN`, the release build in `cargo xtask bench`). Rows `| measurement | value |
//! detail |` are appended to `ENLACE_BENCH_INBOX_OUT` when set, and printed.

use std::fmt::Write as _;
use std::thread::sleep;
use std::time::{Duration, Instant};

use enlace_peers::PulseServer;
use enlace_tests::inbox_ui;
use enlace_tests::omnichannel::{self, HubOptions, OrgServer, AGENT_LOGIN};
use enlace_tests::{app, e2e_enabled, AppEnv, Session, WebDriverError};

const RUNS: usize = 20;
/// How long each note records.
const SPEAK: Duration = Duration::from_secs(1);
const UI: Duration = Duration::from_secs(30);
const CUSTOMER: &str = "50664440000";
/// The microphone's tone.
const TONE_HZ: u32 = 440;

type Rows = Vec<(String, String, String)>;

fn main() {
    if !e2e_enabled() {
        println!(
            "voice_window: needs the headless session of `cargo xtask bench` (ENLACE_E2E=1); \
             nothing measured"
        );
        return;
    }
    let mut rows: Rows = Vec::new();
    if let Err(e) = run(&mut rows) {
        eprintln!("voice_window: {e}");
        rows.push((
            "voice note: Enviar → the WhatsApp double has it".into(),
            "n/a".into(),
            one_line(&e.to_string()),
        ));
    }
    let mut md = String::new();
    for (what, value, detail) in &rows {
        let _ = writeln!(md, "| {what} | {value} | {detail} |");
    }
    println!("\n{md}");
    if let Some(path) = std::env::var_os("ENLACE_BENCH_INBOX_OUT").filter(|p| !p.is_empty()) {
        let path = std::path::PathBuf::from(path);
        if let Some(dir) = path.parent() {
            // `--voice-only` may be the first bench to write there.
            let _ = std::fs::create_dir_all(dir);
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, md.as_bytes()));
        if let Err(e) = written {
            eprintln!("voice_window: cannot write {}: {e}", path.display());
        }
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .replace('|', "/")
        .chars()
        .take(300)
        .collect()
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> WebDriverError + '_ {
    move |source| WebDriverError::Io {
        context: context.to_owned(),
        source,
    }
}

fn run(rows: &mut Rows) -> Result<(), WebDriverError> {
    let bin = app::require_app_bin()?;
    let org = OrgServer::start(&HubOptions::default())?;
    let pulse = PulseServer::start(TONE_HZ).map_err(|e| WebDriverError::Reply {
        what: "PulseAudio with a tone".into(),
        body: e.to_string(),
    })?;
    let env = AppEnv::new()
        .map_err(io("app data dir"))?
        .with("PULSE_SERVER", pulse.server());
    let s = Session::start(&bin, &env.vars())?;
    inbox_ui::wait_window(&s, Duration::from_secs(60))?;
    let (user, password) = AGENT_LOGIN;
    inbox_ui::log_in(&s, &org.url(), user, password, UI)?;
    org.customer_writes(CUSTOMER, "Cliente Voz", "hola");
    inbox_ui::wait_badge(&s, 1, UI)?;
    inbox_ui::open_panel(&s, "omnichannel", UI)?;
    inbox_ui::open_chat(&s, CUSTOMER, UI)?;
    inbox_ui::wait_message(&s, "hola", None, UI)?;

    let mut samples = Vec::new();
    let mut bytes = Vec::new();
    for i in 0..RUNS {
        let (took, size) = send_one(&s, &org, i)?;
        println!("voice note {}: {took:.1} ms ({size} bytes)", i + 1);
        samples.push(took);
        bytes.push(size);
    }
    let (p50, p99, max) = (
        pct(&mut samples, 50),
        pct(&mut samples, 99),
        pct(&mut samples, 100),
    );
    bytes.sort_unstable();
    let size = bytes.get(bytes.len() / 2).copied().unwrap_or(0);
    rows.push((
        "voice note: Enviar pressed → the WhatsApp double has it".into(),
        format!("p50 {p50:.1} ms, p99 {p99:.1} ms"),
        format!(
            "n={RUNS}, {} s notes (~{size} bytes OGG/Opus), one at a time; max {max:.1} ms; \
             click in the page → app upload to the hub → hub upload to the double's /media → \
             send accepted (double polled every 0.5 ms)",
            SPEAK.as_secs()
        ),
    ));
    Ok(())
}

/// Records one note and sends it; ms from the click on Enviar to the double's accepted send,
/// and the note's size.
fn send_one(s: &Session, org: &OrgServer, i: usize) -> Result<(f64, usize), WebDriverError> {
    let before = org.sent_to(CUSTOMER).len();
    s.click_testid("composer-audio", UI)?;
    s.wait_for("voice-panel", UI)?;
    s.click_testid("voice-start", UI)?;
    s.wait_for("voice-stop", UI)?;
    // The timer counts captured audio: once it moves, the microphone delivers (a fresh
    // PulseAudio stream can take a moment), and the note is not refused as empty.
    let timer = s.wait_for("voice-timer", UI)?;
    let first = s.text(&timer)?;
    s.wait_until(UI, "the timer runs while recording", |s| {
        Ok((s.text(&timer)? != first).then_some(()))
    })?;
    sleep(SPEAK);
    s.click_testid("voice-stop", UI)?;
    let send = s.wait_for("voice-send", UI)?;
    let clicked = s.execute(
        "const at = performance.timeOrigin + performance.now(); arguments[0].click(); return at;",
        vec![send.to_json()],
    )?;
    let clicked = clicked.as_f64().ok_or_else(|| WebDriverError::Reply {
        what: "the click time".into(),
        body: clicked.to_string(),
    })?;
    let deadline = Instant::now() + UI;
    let sent = loop {
        let sent = org.wa.sent_messages();
        let mine: Vec<_> = sent
            .into_iter()
            .filter(|m| omnichannel::digits(&m.to) == CUSTOMER || m.wa_id == CUSTOMER)
            .collect();
        if mine.len() > before {
            break mine;
        }
        if Instant::now() >= deadline {
            return Err(WebDriverError::Timeout(format!(
                "voice note {i}: the double did not get it within {UI:?}"
            )));
        }
        sleep(Duration::from_micros(500));
    };
    let took = omnichannel::unix_millis_f64() - clicked;
    let note = &sent[before];
    if note.kind != "audio" || note.body["audio"]["voice"] != true {
        return Err(WebDriverError::Reply {
            what: format!("voice note {i}"),
            body: note.body.to_string(),
        });
    }
    let size = note.body["audio"]["id"]
        .as_str()
        .and_then(|id| org.wa.media_bytes(id))
        .map_or(0, |b| b.len());
    s.wait_gone("voice-panel", UI)?;
    Ok((took, size))
}

/// Nearest-rank percentile of ms samples (sorts in place); NaN when empty.
fn pct(samples: &mut [f64], p: usize) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (p * samples.len()).div_ceil(100).clamp(1, samples.len());
    samples[rank - 1]
}
