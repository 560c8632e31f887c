//! End-to-end tests of the real Enlace window, driven through WebKitWebDriver, against real
//! SIP peers (baresip as the agent's softphone, SIPp as far ends and callers).
//!
//! They run only when `ENLACE_E2E` is set, which `cargo xtask test` / `cargo xtask e2e` do
//! inside Xvfb + a private session bus with gnome-keyring and dunst. In that mode nothing is
//! skipped: a missing app binary or WebDriver fails the test. Element ids: the `data-testid`s of
//! `ui/src/panels/` and `ui/src/components/`.

use std::fmt::Display;
use std::path::PathBuf;
use std::thread::sleep;
use std::time::Duration;

use enlace_peers::{Baresip, BaresipConfig, Scenario, Sipp};
use enlace_tests::app::{self, run_second_instance};
use enlace_tests::{e2e_enabled, AppEnv, Session};

#[path = "e2e/omnichannel.rs"]
mod omnichannel;
#[path = "e2e/sending.rs"]
mod sending;

const PANELS: [&str; 8] = [
    "calls",
    "dialer",
    "omnichannel",
    "contacts",
    "history",
    "management",
    "pauses",
    "settings",
];
/// First window of a debug build under software rendering can take a while.
const FIRST_PAINT: Duration = Duration::from_secs(60);
const UI: Duration = Duration::from_secs(20);
const CALL: Duration = Duration::from_secs(30);

/// `false` (after saying so) when the e2e tests are not requested.
fn requested() -> bool {
    if e2e_enabled() {
        return true;
    }
    println!("ENLACE_E2E is not set: the end-to-end tests of the real window run with `cargo xtask e2e` / `cargo xtask test`");
    false
}

/// Unwraps with the error's Display (WebDriver errors carry the app's log tail).
trait OrFail<T> {
    fn or_fail(self, what: &str) -> T;
}

trait OrFailNone<T> {
    fn or_fail_none(self, what: &str) -> T;
}

impl<T> OrFailNone<T> for Option<T> {
    fn or_fail_none(self, what: &str) -> T {
        self.unwrap_or_else(|| panic!("{what}: none"))
    }
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

fn app_bin() -> PathBuf {
    app::require_app_bin().or_fail("e2e run without the app binary")
}

fn start(env: &AppEnv) -> Session {
    let session =
        Session::start(&app_bin(), &env.vars()).or_fail("start the app through WebKitWebDriver");
    session
        .wait_for("nav-calls", FIRST_PAINT)
        .or_fail("the window shows its side bar");
    session
}

fn open_panel(s: &Session, panel: &str) {
    s.click_testid(&format!("nav-{panel}"), UI)
        .or_fail(&format!("click nav-{panel}"));
    s.wait_for(&format!("panel-{panel}"), UI)
        .or_fail(&format!("panel-{panel} is displayed"));
}

fn wait_line_online(s: &Session) {
    s.wait_until(CALL, "line-status data-state=online", |s| {
        let status = s.find("line-status")?;
        Ok((s.attr(&status, "data-state")?.as_deref() == Some("online")).then_some(()))
    })
    .or_fail("the phone line comes online");
}

/// The app on a demo line whose far end (SIPp) rings, then answers: the agent's baresip, the
/// far end and the window, with the line online. Fields drop in order: the window first.
struct OnLine {
    s: Session,
    env: AppEnv,
    far: Sipp,
    _agent: Baresip,
}

impl OnLine {
    fn start() -> Self {
        let agent = Baresip::start(BaresipConfig::agent()).or_fail("agent baresip");
        let far = Sipp::uas(Scenario::RingAnswer { ring_ms: 300 }).or_fail("SIPp far end");
        let env = AppEnv::new()
            .or_fail("app data dir")
            .with_demo_line(agent.ctrl_addr(), &far.domain());
        let s = start(&env);
        wait_line_online(&s);
        Self {
            s,
            env,
            far,
            _agent: agent,
        }
    }
}

/// Waits for the active call bar (`up` says which call should be up), talks for `talk`, then
/// hangs up from the bar and waits for it to go away.
fn talk_then_hang_up(s: &Session, up: &str, talk: Duration) {
    s.wait_for("active-call", CALL).or_fail(up);
    sleep(talk);
    s.click_testid("active-hangup", UI).or_fail("hang up");
    s.wait_gone("active-call", CALL)
        .or_fail("the active call bar goes away");
}

/// [`talk_then_hang_up`], then checks the far end ended well and was asked for `number`.
fn hang_up_and_check_far_end(s: &Session, far: &mut Sipp, up: &str, talk: Duration, number: &str) {
    talk_then_hang_up(s, up, talk);
    let status = far.wait(CALL).or_fail("SIPp far end finishes");
    assert!(
        status.success(),
        "SIPp far end: {status}\n{}",
        far.messages()
    );
    let uri = far.received_request_uri().unwrap_or_default();
    assert!(
        uri.starts_with(&format!("sip:{number}@")),
        "the far end got an INVITE for {uri:?}, not {number}"
    );
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// A card or row of a list, as the UI exposes it through data attributes.
#[derive(Debug)]
struct Listed {
    id: String,
    duration: u64,
}

/// Waits for an element `item` (`call-card` / `history-row`) matching `direction` (and
/// `id` if given) with a numeric `data-duration`.
fn wait_listed(s: &Session, item: &str, direction: &str, id: Option<&str>) -> Listed {
    s.wait_until(
        UI,
        &format!("a {item} with data-direction={direction}"),
        |s| {
            for element in s.find_all(item)? {
                if s.attr(&element, "data-direction")?.as_deref() != Some(direction) {
                    continue;
                }
                let Some(found_id) = s.attr(&element, "data-call-id")? else {
                    continue;
                };
                if id.is_some_and(|wanted| wanted != found_id) {
                    continue;
                }
                let duration = s
                    .attr(&element, "data-duration")?
                    .and_then(|d| d.parse().ok());
                if let Some(duration) = duration {
                    return Ok(Some(Listed {
                        id: found_id,
                        duration,
                    }));
                }
            }
            Ok(None)
        },
    )
    .or_fail(&format!("{item} ({direction}) is listed"))
}

fn set_language(s: &Session, lang: &str) {
    open_panel(s, "settings");
    s.select_option("settings-language", lang, UI)
        .or_fail(&format!("choose language {lang}"));
    s.click_testid("settings-save", UI).or_fail("save settings");
    s.wait_until(UI, &format!("<html lang={lang}>"), |s| {
        Ok((s.html_lang()? == lang).then_some(()))
    })
    .or_fail("the page language follows the setting");
}

#[test]
fn every_panel_opens_in_spanish_and_in_english() {
    if !requested() {
        return;
    }
    let env = AppEnv::new().or_fail("app data dir");
    let s = start(&env);
    let shots = app::artifacts_dir();
    for (lang, calls_label) in [("es", "Llamadas"), ("en", "Calls")] {
        set_language(&s, lang);
        s.wait_until(UI, &format!("nav-calls reads {calls_label}"), |s| {
            let text = s.text(&s.find("nav-calls")?)?;
            Ok(text.contains(calls_label).then_some(()))
        })
        .or_fail("the side bar is translated");
        for panel in PANELS {
            open_panel(&s, panel);
            let path = shots.join(format!("{lang}-{panel}.png"));
            s.screenshot_png(&path).or_fail("screenshot");
            let png = std::fs::read(&path).or_fail("read the screenshot back");
            assert!(
                png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
                "{} is not a real PNG",
                path.display()
            );
        }
    }
}

#[test]
fn dial_from_ui_reaches_far_end_and_shows_in_calls_and_history() {
    if !requested() {
        return;
    }
    let mut line = OnLine::start();
    let s = &line.s;

    open_panel(s, "dialer");
    let input = s.wait_for("dial-input", UI).or_fail("dial-input");
    s.clear(&input).or_fail("clear dial-input");
    s.send_keys(&input, "+50640004000")
        .or_fail("type the number");
    s.click_testid("dial-button", UI)
        .or_fail("click dial-button");
    hang_up_and_check_far_end(
        s,
        &mut line.far,
        "the call is up",
        Duration::from_millis(1500),
        "+50640004000",
    );

    open_panel(s, "calls");
    let card = wait_listed(s, "call-card", "outgoing", None);
    assert!(
        card.duration >= 1,
        "call lasted ~1.5 s but data-duration={}",
        card.duration
    );

    s.screenshot_png(&app::artifacts_dir().join("calls-after-dial.png"))
        .or_fail("screenshot of Llamadas with the call");

    open_panel(s, "history");
    let row = wait_listed(s, "history-row", "outgoing", Some(&card.id));
    assert_eq!(row.duration, card.duration);
    s.screenshot_png(&app::artifacts_dir().join("history-after-dial.png"))
        .or_fail("screenshot of Historial with the call");
}

#[test]
fn second_process_tel_link_dials() {
    if !requested() {
        return;
    }
    let mut line = OnLine::start();
    let s = &line.s;

    // What the desktop runs for a tel: link: a second process that hands the URL over.
    let second = run_second_instance(&app_bin(), &line.env.vars(), &["tel:+50640004001"], CALL)
        .or_fail("second process");
    assert!(
        second.status.success(),
        "`enlace tel:+50640004001` exited with {} after {:?}:\n{}",
        second.status,
        second.took,
        second.output
    );

    hang_up_and_check_far_end(
        s,
        &mut line.far,
        "the tel: link started a call",
        Duration::from_millis(1200),
        "+50640004001",
    );

    open_panel(s, "calls");
    let card = wait_listed(s, "call-card", "outgoing", None);
    let number = s
        .wait_until(UI, "call-number of the card", |s| {
            let css = format!(
                "[data-testid=\"call-card\"][data-call-id=\"{}\"] [data-testid=\"call-number\"]",
                card.id
            );
            Ok(Some(s.text(&s.find_css(&css)?)?))
        })
        .or_fail("the card shows the number");
    assert!(
        digits(&number).ends_with("40004001"),
        "call-number shows {number:?}"
    );
}

/// A link clicked in another program, the way the desktop delivers it: the handler entry
/// Enlace registers names `enlace-open` (the forwarder beside the app), `gio open` starts it,
/// and it hands the link to the running window over D-Bus without starting a GUI process.
#[test]
fn a_clicked_link_reaches_the_running_app_through_enlace_open() {
    if !requested() {
        return;
    }
    let mut line = OnLine::start();
    let built = app_bin().with_file_name(format!("enlace-open{}", std::env::consts::EXE_SUFFIX));
    assert!(built.is_file(), "{} is missing", built.display());
    // A copy with no `enlace` beside it: were the link not handed over the bus, the forwarder
    // could not fall back to starting the app, and nothing would dial.
    let alone = tempfile::tempdir().or_fail("folder for the forwarder");
    let forwarder = alone.path().join("enlace-open");
    std::fs::copy(&built, &forwarder).or_fail("copy enlace-open");

    // The handler entry, written the way Settings → "Hacer predeterminado" does, in a
    // sandboxed XDG tree that `gio` then reads.
    let xdg = tempfile::tempdir().or_fail("xdg sandbox");
    let dirs = enlace_os::handler::XdgDirs::sandboxed(xdg.path());
    let spec = enlace_os::handler::HandlerSpec {
        dirs: dirs.clone(),
        ..enlace_os::handler::HandlerSpec::new(enlace_os::handler::DEV_DESKTOP_ID, &forwarder)
    };
    enlace_os::handler::register(&spec).or_fail("register the handler");
    let entry = std::fs::read_to_string(spec.desktop_file().or_fail_none("desktop file"))
        .or_fail("read the handler entry");
    assert!(
        entry.contains(&format!("Exec={} %u", forwarder.display())),
        "the entry does not start enlace-open:\n{entry}"
    );

    let mut gio = std::process::Command::new("gio");
    gio.args(["open", "tel:+50640004001"])
        .envs(line.env.vars().iter().map(|(k, v)| (k, v)))
        .env("XDG_DATA_HOME", xdg.path().join("data"))
        .env("XDG_CONFIG_HOME", xdg.path().join("config"))
        .env("HOME", xdg.path().join("home"))
        .env("XDG_ACTIVATION_TOKEN", "e2e-token");
    let opened = gio.output().or_fail("run gio open");
    assert!(
        opened.status.success(),
        "gio open failed: {}",
        String::from_utf8_lossy(&opened.stderr)
    );

    hang_up_and_check_far_end(
        &line.s,
        &mut line.far,
        "the link clicked elsewhere started a call",
        Duration::from_millis(1200),
        "+50640004001",
    );
}

/// `WebKitWebProcess` descendants of `pid` (the webview's renderer; bubblewrap may sit
/// between).
fn web_processes(pid: u32) -> usize {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat[stat.rfind(')')? + 1..]
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.starts_with("WebKitWebProces"))
        })
        .filter(|p| {
            let mut at = *p;
            for _ in 0..4 {
                match parent_of(at) {
                    Some(parent) if parent == pid => return true,
                    Some(parent) if parent > 1 => at = parent,
                    _ => return false,
                }
            }
            false
        })
        .count()
}

/// The X screen as a PNG at `path` (ImageMagick's `import`), and its number of colors.
fn screen_colors(path: &std::path::Path) -> usize {
    // The first paint is reported before the compositor-less window has flushed everything.
    sleep(Duration::from_millis(500));
    let shot = std::process::Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .status()
        .or_fail("import (ImageMagick)");
    assert!(shot.success(), "import -window root failed");
    let out = std::process::Command::new("convert")
        .arg(path)
        .args(["-format", "%k", "info:"])
        .output()
        .or_fail("convert (ImageMagick)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Calls the running (debug) app's `org.freedesktop.Application` method with `gdbus`.
fn app_call(env: &AppEnv, method: &str, args: &[&str]) {
    let out = std::process::Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "app.enlace.desktop.dev",
            "--object-path",
            "/app/enlace/desktop/dev",
            "--method",
            &format!("org.freedesktop.Application.{method}"),
        ])
        .args(args)
        .envs(env.vars().iter().map(|(k, v)| (k, v)))
        .output()
        .or_fail("gdbus");
    assert!(
        out.status.success(),
        "{method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Hidden in the tray for a while, the window is released (its web process ends, the app
/// goes on); showing it builds it again and the UI paints again.
#[test]
fn a_window_hidden_for_a_while_is_released_and_comes_back() {
    if !requested() {
        return;
    }
    let env = AppEnv::new()
        .or_fail("app data dir")
        .with("ENLACE_RELEASE_WINDOW_AFTER_SECS", "2");
    let ready = env.data_dir().join("ready");
    let env = env.with("ENLACE_READY_FILE", ready.as_os_str());
    let child = std::process::Command::new(app_bin())
        .envs(env.vars().iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .or_fail("start the app");
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let app = Stop(child);
    let pid = app.0.id();
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + FIRST_PAINT;
        while !done() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            sleep(Duration::from_millis(50));
        }
    };
    let painted = || std::fs::read_to_string(&ready).is_ok_and(|t| t.contains('\n'));
    wait("the first paint", &painted);
    assert!(web_processes(pid) > 0, "no web process under the app");
    // Started as shipped (no WebDriver): without a GPU, compositing is off; the window must
    // still be drawn — text, icons and colors, not a blank or black rectangle.
    let shot = app::artifacts_dir().join("shipped-settings-window.png");
    let colors = screen_colors(&shot);
    assert!(
        colors >= 64,
        "the window looks empty with the shipped settings ({colors} colors; {})",
        shot.display()
    );

    app_call(&env, "ActivateAction", &["hide", "@av []", "@a{sv} {}"]);
    wait("the web process ends once the window is released", &|| {
        web_processes(pid) == 0
    });
    sleep(Duration::from_millis(500));
    assert!(
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok(),
        "the app itself must keep running"
    );

    std::fs::remove_file(&ready).or_fail("remove the ready file");
    app_call(&env, "Activate", &["@a{sv} {}"]);
    wait("the rebuilt window paints again", &painted);
    assert!(web_processes(pid) > 0, "no web process after reopening");
}

#[test]
fn incoming_call_rings_and_is_answered_from_the_card() {
    if !requested() {
        return;
    }
    let agent = Baresip::start(BaresipConfig::agent()).or_fail("agent baresip");
    // Outgoing calls are not used here; the SIP domain only has to be well-formed.
    let env = AppEnv::new()
        .or_fail("app data dir")
        .with_demo_line(agent.ctrl_addr(), &agent.sip_addr().to_string());
    let s = start(&env);
    wait_line_online(&s);

    let mut customer = Sipp::call(
        agent.sip_addr(),
        agent.user(),
        "+50688887777",
        "Cliente Prueba",
        1500,
    )
    .or_fail("SIPp customer calls the agent");
    let card = s
        .wait_for("incoming-card", CALL)
        .or_fail("the incoming card appears");
    let card_id = s
        .attr(&card, "data-call-id")
        .or_fail("incoming-card data-call-id");
    let number = s
        .text(&s.find("incoming-number").or_fail("incoming-number"))
        .or_fail("incoming-number text");
    assert!(
        digits(&number).ends_with("88887777"),
        "incoming-number shows {number:?}"
    );
    s.click_testid("incoming-answer", UI)
        .or_fail("answer from the card");
    s.wait_gone("incoming-card", UI)
        .or_fail("the card goes away once answered");

    let status = customer
        .wait(CALL)
        .or_fail("the customer hangs up after talking");
    assert!(
        status.success(),
        "SIPp customer: {status}\n{}",
        customer.messages()
    );

    open_panel(&s, "calls");
    let listed = wait_listed(&s, "call-card", "incoming", card_id.as_deref());
    assert!(
        listed.duration >= 1,
        "the customer talked 1.5 s but data-duration={}",
        listed.duration
    );
}

/// The CRM journey on the real window: link Salesforce (a local double) through the browser
/// sign-in, find a contact so it is cached, take a call from that contact's number — the
/// notification and the card name them from the cache — and log it with subject and comment;
/// the double then holds the Task with the right fields.
#[test]
fn incoming_call_pops_the_cached_contact_and_is_logged_to_the_crm() {
    if !requested() {
        return;
    }
    let crm = enlace_sandbox::demo::DemoCrm::start_on(0, 0).or_fail("the CRM doubles");
    let contact_id = crm.salesforce.insert_record(
        enlace_core::ContactKind::Contact,
        serde_json::json!({"FirstName": "Lucía", "LastName": "Quesada",
                           "Phone": "+506 8888 7777", "Email": "lucia@example.com"}),
    );
    let agent = Baresip::start(BaresipConfig::agent()).or_fail("agent baresip");
    let env = AppEnv::new()
        .or_fail("app data dir")
        .with_demo_line(agent.ctrl_addr(), &agent.sip_addr().to_string())
        .with("ENLACE_DEMO_CRM", crm.env_value())
        // The "browser" follows the authorize page's redirect back to the app, like a person.
        .with("ENLACE_BROWSER", "curl -sfL");
    let s = start(&env);
    wait_line_online(&s);

    open_panel(&s, "settings");
    s.click_testid("crm-sign-in-salesforce", UI)
        .or_fail("sign in to Salesforce");
    s.wait_until(CALL, "crm-state-salesforce data-state=ok", |s| {
        let state = s.find("crm-state-salesforce")?;
        Ok((s.attr(&state, "data-state")?.as_deref() == Some("ok")).then_some(()))
    })
    .or_fail("Salesforce is linked");

    open_panel(&s, "contacts");
    let input = s
        .wait_for("contacts-search-input", UI)
        .or_fail("contacts search field");
    s.send_keys(&input, "Quesada").or_fail("type a name");
    s.click_testid("contacts-search-crm", UI)
        .or_fail("search the CRM");
    s.wait_until(UI, "the CRM contact is listed", |s| {
        for result in s.find_all("contacts-result")? {
            if s.attr(&result, "data-record-id")?.as_deref() == Some(contact_id.as_str()) {
                return Ok(Some(()));
            }
        }
        Ok(None)
    })
    .or_fail("Contactos finds Lucía Quesada in Salesforce");

    let mut customer = Sipp::call(agent.sip_addr(), agent.user(), "+50688887777", "", 1500)
        .or_fail("SIPp customer calls the agent");
    s.wait_for("incoming-card", CALL)
        .or_fail("the incoming card appears");
    let name = s
        .text(&s.find("incoming-name").or_fail("incoming-name"))
        .or_fail("incoming-name text");
    assert_eq!(
        name.trim(),
        "Lucía Quesada",
        "the card names the caller from the cache"
    );
    s.click_testid("incoming-answer", UI)
        .or_fail("answer from the card");
    let status = customer.wait(CALL).or_fail("the customer hangs up");
    assert!(
        status.success(),
        "SIPp customer: {status}\n{}",
        customer.messages()
    );
    assert!(
        notification_history_mentions("Lucía Quesada"),
        "the ringing notification named the caller"
    );

    open_panel(&s, "calls");
    let card = wait_listed(&s, "call-card", "incoming", None);
    s.wait_until(UI, "the call is attached to the contact", |s| {
        let name = s.text(&s.find("call-record-name")?)?;
        Ok((name.trim() == "Lucía Quesada").then_some(()))
    })
    .or_fail("the call card shows the attached contact");
    let subject = s.wait_for("call-subject", UI).or_fail("Asunto");
    s.send_keys(&subject, "Reserva de tour")
        .or_fail("type Asunto");
    let comment = s.find("call-comment").or_fail("Comentario");
    s.send_keys(&comment, "Quiere dos cupos el sábado")
        .or_fail("type Comentario");
    s.click_testid("call-save", UI).or_fail("Salvar");

    let task = s
        .wait_until(CALL, "the Task reached Salesforce", |_| {
            Ok(crm.salesforce.records("Task").into_iter().next())
        })
        .or_fail("the call is logged in the CRM");
    assert_eq!(task["WhoId"], contact_id.as_str());
    assert_eq!(task["Subject"], "Reserva de tour");
    assert_eq!(task["Description"], "Quiere dos cupos el sábado");
    assert_eq!(task["CallType"], "Inbound");
    assert_eq!(task["TaskSubtype"], "Call");
    assert_eq!(task["Status"], "Completed");
    assert_eq!(task["CallDurationInSeconds"], card.duration);
    assert_eq!(crm.salesforce.records("Task").len(), 1, "logged once");
}

/// Whether dunst's history (closed notifications) has one whose text contains `text`.
fn notification_history_mentions(text: &str) -> bool {
    for _ in 0..50 {
        let out = std::process::Command::new("dunstctl")
            .arg("history")
            .output()
            .or_fail("dunstctl history");
        if String::from_utf8_lossy(&out.stdout).contains(text) {
            return true;
        }
        sleep(Duration::from_millis(100));
    }
    false
}

/// The organization's server on the real window: `enlace-hub` in-process with the AMI double
/// as its PBX. The agent logs in from Pausas, takes a queue call (it lands in Llamadas), pauses
/// with a reason (the timer runs; the PBX gets QueuePause with it), unpauses, and leaves with
/// Salida after seeing the call still waiting to be logged; the PBX gets QueueRemove.
#[test]
fn agent_logs_in_takes_a_pbx_call_pauses_and_leaves_with_salida() {
    if !requested() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().or_fail("tokio runtime");
    let pbx = std::sync::Arc::new(enlace_sandbox::AmiDouble::start().or_fail("the AMI double"));
    let data = tempfile::tempdir().or_fail("hub data dir");
    let hub = runtime.block_on(enlace_hub::testing::TestHub::start(
        data.path(),
        Some(pbx.addr()),
        std::sync::Arc::new(enlace_core::SystemClock),
    ));
    let url = hub.url();

    let env = AppEnv::new().or_fail("app data dir");
    let s = start(&env);
    open_panel(&s, "pauses");
    s.wait_for("not-connected", UI)
        .or_fail("Pausas explains it needs the organization's server");
    s.click_testid("hub-connect", UI).or_fail("Conectar");
    s.wait_for("login-screen", UI).or_fail("the Login screen");
    for (field, value) in [
        ("login-server", url.as_str()),
        ("login-user", "1234567"),
        ("login-password", "123456"),
    ] {
        let input = s.wait_for(field, UI).or_fail(field);
        s.send_keys(&input, value).or_fail(field);
    }
    s.click_testid("login-submit", UI).or_fail("Ingresar");
    s.wait_gone("login-screen", CALL).or_fail("logged in");
    wait_line_online(&s);
    assert_eq!(
        queue_actions(&pbx, "QueueAdd").len(),
        1,
        "logging in joins the agent's queue"
    );

    let caller = std::sync::Arc::clone(&pbx);
    std::thread::spawn(move || {
        caller.run(enlace_sandbox::AmiScenario::InboundViaQueue {
            queue: "support".into(),
            caller: "+50688887777".into(),
            caller_name: "Cliente".into(),
            agent_interface: "PJSIP/1001".into(),
            talk_ms: 1_200,
        })
    })
    .join()
    .map_err(|_| "the scripted call panicked")
    .or_fail("the queue call");
    open_panel(&s, "calls");
    let call = wait_listed(&s, "call-card", "incoming", None);
    assert!(call.duration >= 1, "talked over a second: {call:?}");

    open_panel(&s, "pauses");
    let bano = s
        .wait_until(UI, "the Baño pause reason", |s| {
            for reason in s.find_all("pause-reason")? {
                if s.text(&reason)?.contains("Baño") {
                    return Ok(Some(reason));
                }
            }
            Ok(None)
        })
        .or_fail("pause reasons are listed");
    s.click(&bano).or_fail("pause for Baño");
    let current = s.wait_for("pause-current", UI).or_fail("paused");
    assert_eq!(s.text(&current).or_fail("pause name").trim(), "Baño");
    let first = s
        .text(&s.find("pause-timer").or_fail("timer"))
        .or_fail("timer text");
    sleep(Duration::from_millis(2_100));
    let later = s
        .text(&s.find("pause-timer").or_fail("timer"))
        .or_fail("timer text");
    assert_ne!(first, later, "the pause timer runs");
    let pause = queue_actions(&pbx, "QueuePause");
    assert!(
        pause
            .last()
            .is_some_and(|a| a.contains(&("Reason".into(), "Baño".into()))),
        "the PBX pauses the agent with the reason: {pause:?}"
    );
    s.click_testid("unpause", UI).or_fail("Despausar");
    s.wait_gone("pause-current", UI).or_fail("available again");

    let salida = s
        .wait_until(UI, "the Salida reason", |s| {
            for reason in s.find_all("pause-reason")? {
                if s.attr(&reason, "data-exit")?.as_deref() == Some("true") {
                    return Ok(Some(reason));
                }
            }
            Ok(None)
        })
        .or_fail("Salida is listed");
    s.click(&salida).or_fail("Salida");
    let pending = s
        .wait_for("exit-pending-calls", UI)
        .or_fail("the exit check");
    assert_eq!(
        s.attr(&pending, "data-count").or_fail("count").as_deref(),
        Some("1"),
        "the call still waiting to be logged is listed"
    );
    s.click_testid("exit-logout", UI).or_fail("Cerrar sesión");
    s.wait_for("login-screen", CALL).or_fail("logged out");
    assert_eq!(
        queue_actions(&pbx, "QueueRemove").len(),
        1,
        "left the queue"
    );
    drop(s);
    drop(hub);
    drop(runtime);
}

fn queue_actions(pbx: &enlace_sandbox::AmiDouble, name: &str) -> Vec<Vec<(String, String)>> {
    pbx.actions()
        .into_iter()
        .filter(|a| a.iter().any(|(k, v)| k == "Action" && v == name))
        .collect()
}
