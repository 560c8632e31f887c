//! Omnicanalidad in the real window, measured (run by `cargo xtask bench` inside its headless
//! session; never an assertion in a test):
//!
//! (a) a customer's message accepted by the hub (the webhook POST answered 200, seen by polling
//!     the WhatsApp double every 0.5 ms) → painted in the open chat: a MutationObserver
//!     installed through WebDriver records, for each `chat-message` node, the animation frame
//!     after it entered the DOM (`performance.timeOrigin + performance.now()`, the same wall
//!     clock as the bench); p50/p99 over 50 messages, one at a time;
//! (b) opening a conversation of 5,000 messages (Ver pressed → the frame that paints its first
//!     messages; the timeline is virtualized), first opening and then reopened;
//! (c) the panel with 500 open conversations (side-bar button pressed → the frame that paints
//!     its first rows), and the memory of the web process.
//!
//! Needs `ENLACE_E2E=1` (Xvfb, a session bus, dunst, gnome-keyring) and the app
//! (`ENLACE_APP_BIN`, the release build in `cargo xtask bench`). Rows `| measurement | value |
//! detail |` are appended to `ENLACE_BENCH_INBOX_OUT` when set, and printed.

use std::fmt::Write as _;
use std::thread::sleep;
use std::time::{Duration, Instant};

use enlace_tests::inbox_ui;
use enlace_tests::omnichannel::{self, HubOptions, OrgServer, AGENT_LOGIN};
use enlace_tests::{app, e2e_enabled, AppEnv, Session, WebDriverError};
use serde_json::json;

const MESSAGES: usize = 50;
const LONG_CHAT: u64 = 5_000;
const OPEN_CONVERSATIONS: u64 = 500;
const REOPENS: usize = 5;
const UI: Duration = Duration::from_secs(30);
/// The desktop taking in thousands of stream events.
const SYNC: Duration = Duration::from_secs(600);

type Rows = Vec<(String, String, String)>;

fn main() {
    if !e2e_enabled() {
        println!(
            "inbox_window: needs the headless session of `cargo xtask bench` (ENLACE_E2E=1); \
             nothing measured"
        );
        return;
    }
    let mut rows: Rows = Vec::new();
    if let Err(e) = run(&mut rows) {
        eprintln!("inbox_window: {e}");
        rows.push((
            "Omnicanalidad benchmarks".into(),
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
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, md.as_bytes()));
        if let Err(e) = written {
            eprintln!("inbox_window: cannot write {}: {e}", path.to_string_lossy());
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

fn run(rows: &mut Rows) -> Result<(), WebDriverError> {
    let bin = app::require_app_bin()?;
    let org = OrgServer::start(&HubOptions {
        max_open_per_agent: 1_000,
        ..HubOptions::default()
    })?;
    let env = AppEnv::new().map_err(|e| WebDriverError::Io {
        context: "app data dir".into(),
        source: e,
    })?;
    let s = Session::start(&bin, &env.vars())?;
    inbox_ui::wait_window(&s, Duration::from_secs(60))?;
    let (user, password) = AGENT_LOGIN;
    inbox_ui::log_in(&s, &org.url(), user, password, UI)?;

    rows.push(message_to_screen(&s, &org)?);
    rows.extend(long_conversation(&s, &org)?);
    rows.extend(many_conversations(&s, &org)?);
    Ok(())
}

/// (a) webhook accepted → painted in the open chat.
fn message_to_screen(
    s: &Session,
    org: &OrgServer,
) -> Result<(String, String, String), WebDriverError> {
    let what = "WhatsApp message accepted by the hub → painted in the open chat";
    let customer = "50661110000";
    org.customer_writes(customer, "Cliente Bench", "hola");
    inbox_ui::wait_badge(s, 1, UI)?;
    inbox_ui::open_panel(s, "omnichannel", UI)?;
    inbox_ui::open_chat(s, customer, UI)?;
    inbox_ui::wait_message(s, "hola", None, UI)?;
    let nonce = format!("{:x}", omnichannel::unix_millis_f64().to_bits());
    inbox_ui::install_paint_recorder(s, &format!("bench-(\\d+)-{nonce}"))?;
    let mut samples = Vec::new();
    for i in 0..MESSAGES {
        let text = format!("bench-{i}-{nonce}");
        let (_, accepted) = org.customer_writes_timed(customer, &text, UI)?;
        let painted = s.wait_until(UI, &format!("message {i} painted"), |s| {
            inbox_ui::seen_at(s, &i.to_string())
        })?;
        samples.push(painted - accepted);
        sleep(Duration::from_millis(100));
    }
    let (p50, p99, max) = (
        pct(&mut samples, 50),
        pct(&mut samples, 99),
        pct(&mut samples, 100),
    );
    Ok((
        what.into(),
        format!("p50 {p50:.1} ms, p99 {p99:.1} ms"),
        format!(
            "n={MESSAGES}, one at a time; max {max:.1} ms; hub 200 (double polled every 0.5 ms) → \
             stream → app cache → UI event → the animation frame after the bubble entered the DOM"
        ),
    ))
}

/// (b) a conversation of 5,000 messages: Ver → first messages painted.
fn long_conversation(s: &Session, org: &OrgServer) -> Result<Rows, WebDriverError> {
    let customer = "50662220000";
    let last = format!("larga {}", LONG_CHAT - 1);
    let started = Instant::now();
    org.customer_writes_many(customer, "Conversación Larga", LONG_CHAT, 100, |i| {
        format!("larga {i}")
    })?;
    s.click_testid("chat-back", UI)?;
    s.wait_until(SYNC, "the desktop has the 5,000th message", |s| {
        let Some(row) = inbox_ui::find_row(s, customer)? else {
            return Ok(None);
        };
        let preview = s.text(&s.find_in(&row, "inbox-preview")?)?;
        Ok(preview.contains(&last).then_some(()))
    })?;
    let synced = started.elapsed();
    let mut reopen = Vec::new();
    let mut first = None;
    for i in 0..=REOPENS {
        let row = inbox_ui::wait_row(s, customer, UI)?;
        let view = s.find_in(&row, "inbox-view")?;
        let took = click_until_painted(
            s,
            &view,
            "[data-testid=\"chat-view\"] [data-testid=\"chat-message\"]",
        )?;
        if i == 0 {
            first = Some(took);
        } else {
            reopen.push(took);
        }
        inbox_ui::wait_message(s, &last, None, UI)?;
        s.click_testid("chat-back", UI)?;
        s.wait_for("inbox-list", UI)?;
    }
    let first = first.unwrap_or(f64::NAN);
    let median = pct(&mut reopen, 50);
    Ok(vec![(
        "open a 5,000-message conversation → first paint".into(),
        format!("first {first:.1} ms, then median {median:.1} ms"),
        format!(
            "Ver pressed (in the page) → the frame painting its first messages; virtualized \
                 timeline; reopened {REOPENS}×; the desktop took {:.1} s to receive the 5,000 \
                 (100 per webhook POST)",
            synced.as_secs_f64()
        ),
    )])
}

/// (c) the panel with 500 open conversations.
fn many_conversations(s: &Session, org: &OrgServer) -> Result<Rows, WebDriverError> {
    let web_before = web_process_pss(s);
    let started = Instant::now();
    org.many_customers_write(50_663_000_000, OPEN_CONVERSATIONS, 100, |i| {
        format!("consulta {i}")
    })?;
    // The two earlier conversations are open and the agent's too.
    let want = u32::try_from(OPEN_CONVERSATIONS).unwrap_or(u32::MAX) + 2;
    s.wait_until(SYNC, &format!("the badge counts {want}"), |s| {
        Ok((inbox_ui::badge(s)? >= want).then_some(()))
    })?;
    let synced = started.elapsed();
    let mut samples = Vec::new();
    let mut rendered = 0;
    for _ in 0..REOPENS {
        inbox_ui::open_panel(s, "calls", UI)?;
        let nav = s.wait_for("nav-omnichannel", UI)?;
        samples.push(click_until_painted(
            s,
            &nav,
            "[data-testid=\"panel-omnichannel\"] [data-testid=\"inbox-row\"]",
        )?);
        rendered = s.find_all("inbox-row")?.len();
    }
    let web_after = web_process_pss(s);
    let heap = s.execute(
        "return (performance.memory && performance.memory.usedJSHeapSize) || null;",
        Vec::new(),
    )?;
    let nodes = s
        .execute(
            "return document.getElementsByTagName('*').length;",
            Vec::new(),
        )?
        .as_u64()
        .unwrap_or(0);
    let median = pct(&mut samples, 50);
    let max = pct(&mut samples, 100);
    let heap = match heap.as_f64() {
        Some(bytes) => format!("JS heap {:.1} MiB", bytes / 1_048_576.0),
        None => "JS heap not exposed by WebKitGTK (no performance.memory)".to_owned(),
    };
    let memory = match (web_before, web_after) {
        (Some(before), Some(after)) => format!(
            "{:.1} MiB PSS (+{:.1} MiB with the 500)",
            mib(after),
            mib(after.saturating_sub(before))
        ),
        _ => "n/a".to_owned(),
    };
    Ok(vec![
        (
            "Omnicanalidad panel with 500 open conversations → first paint".into(),
            format!("median {median:.1} ms"),
            format!(
                "side-bar button pressed (in the page) → the frame painting its first rows; \
                 n={REOPENS}, max {max:.1} ms; {rendered} rows in the DOM, {nodes} elements; the \
                 desktop took {:.1} s to receive the 500",
                synced.as_secs_f64()
            ),
        ),
        (
            "web process memory with the 500-conversation panel open".into(),
            memory,
            format!("WebKitWebProcess PSS from /proc/PID/smaps_rollup; {heap}"),
        ),
    ])
}

/// Clicks `element` from inside the page and resolves at the animation frame after an element
/// matching `css` is in the DOM: ms from the click.
fn click_until_painted(
    s: &Session,
    element: &enlace_tests::Element,
    css: &str,
) -> Result<f64, WebDriverError> {
    let value = s.execute_async(
        "const [target, css, done] = arguments;\
         const t0 = performance.now();\
         let finished = false;\
         const finish = () => { if (!finished) { finished = true; observer.disconnect();\
           requestAnimationFrame(() => done(performance.now() - t0)); } };\
         const observer = new MutationObserver(() => { if (document.querySelector(css)) finish(); });\
         observer.observe(document.body, {childList: true, subtree: true});\
         target.click();\
         if (document.querySelector(css)) finish();\
         setTimeout(() => { if (!finished) { finished = true; observer.disconnect(); done(null); } }, 25000);",
        vec![element.to_json(), json!(css)],
    )?;
    value.as_f64().ok_or_else(|| {
        WebDriverError::Timeout(format!(
            "nothing matching {css} was painted after the click"
        ))
    })
}

/// PSS (KiB) of the app's web content process(es).
fn web_process_pss(s: &Session) -> Option<u64> {
    let mut total = 0;
    let mut found = false;
    for app in s.app_pids() {
        for (pid, name) in omnichannel::process_tree(app) {
            if name.starts_with("WebKitWebProces") {
                total += omnichannel::pss_kib(pid)?;
                found = true;
            }
        }
    }
    found.then_some(total)
}

fn mib(kib: u64) -> f64 {
    // Exact for any realistic size.
    #[allow(clippy::cast_precision_loss)]
    let kib = kib as f64;
    kib / 1024.0
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
