//! Real-system tests of enlace-os: handler registration through xdg-utils in a sandboxed HOME,
//! and the incoming-call notification checked on the D-Bus session bus.
//!
//! Notifications need a notification server (dunst) on the session bus:
//! `xvfb-run -a dbus-run-session -- sh -c 'dunst & sleep 1; ENLACE_REQUIRE_NOTIFICATIONS=1 cargo test -p enlace-os'`.
//! Without a server the notification test prints why and passes, unless
//! `ENLACE_REQUIRE_NOTIFICATIONS=1`.

// A test binary: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enlace_os::handler::{self, HandlerSpec, Scheme, XdgDirs, DEV_DESKTOP_ID};
use enlace_os::notify::{self, IncomingCall, NotificationAction};

// ---------------------------------------------------------------------------------------------
// handler

fn sandbox_spec(root: &Path, exe: PathBuf) -> HandlerSpec {
    HandlerSpec {
        icon: Some("/opt/enlace/icons/icon.png".into()),
        dirs: XdgDirs::sandboxed(root),
        ..HandlerSpec::new(DEV_DESKTOP_ID, exe)
    }
}

/// A command with the sandbox's XDG environment, passed explicitly.
fn xdg_command(program: &str, dirs: &XdgDirs) -> Command {
    let mut cmd = Command::new(program);
    for (key, value) in [
        ("HOME", &dirs.home),
        ("XDG_DATA_HOME", &dirs.data_home),
        ("XDG_CONFIG_HOME", &dirs.config_home),
    ] {
        if let Some(v) = value {
            cmd.env(key, v);
        }
    }
    if !dirs.data_dirs.is_empty() {
        cmd.env(
            "XDG_DATA_DIRS",
            std::env::join_paths(&dirs.data_dirs).unwrap(),
        );
    }
    cmd
}

fn query_default(dirs: &XdgDirs, scheme: &str) -> String {
    let out = xdg_command("xdg-mime", dirs)
        .args(["query", "default", &format!("x-scheme-handler/{scheme}")])
        .output()
        .expect("xdg-mime runs (install xdg-utils)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn fake_exe(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let exe = dir.join("enlace");
    std::fs::write(&exe, b"not really a program").unwrap();
    exe
}

fn exec_line(desktop_file: &Path) -> String {
    let text = std::fs::read_to_string(desktop_file).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line")
        .to_owned()
}

/// `desktop-file-validate` accepts the file (skipped with a note when desktop-file-utils is
/// missing).
fn assert_valid_desktop_file(path: &Path) {
    match Command::new("desktop-file-validate").arg(path).output() {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "desktop-file-validate: {text}");
            assert!(!text.contains("error:"), "desktop-file-validate: {text}");
        }
        Err(e) => println!("desktop-file-validate not run ({e}): install desktop-file-utils"),
    }
}

fn register_and_verify(root: &Path, exe: PathBuf) -> HandlerSpec {
    let spec = sandbox_spec(root, exe);
    let before = handler::status(&spec);
    assert!(!before.all_registered(), "fresh sandbox: {before:?}");
    assert!(before.can_register, "{before:?}");
    assert!(
        before.detail.is_some(),
        "a problem must say what it is: {before:?}"
    );

    let after = handler::register(&spec).expect("register");
    assert!(after.all_registered(), "{after:?}");
    assert_eq!(after.detail, None);
    assert_eq!(after.schemes.len(), 2);

    // The system (not only our own status) sees us as the default.
    for scheme in ["tel", "callto"] {
        assert_eq!(
            query_default(&spec.dirs, scheme),
            "enlace-dev-handler.desktop"
        );
    }
    let mimeapps =
        std::fs::read_to_string(root.join("config").join("mimeapps.list")).unwrap_or_default();
    assert!(
        mimeapps.contains("x-scheme-handler/tel=enlace-dev-handler.desktop"),
        "{mimeapps}"
    );

    let file = root
        .join("data")
        .join("applications")
        .join("enlace-dev-handler.desktop");
    assert_eq!(spec.desktop_file().as_deref(), Some(file.as_path()));
    assert_valid_desktop_file(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("MimeType=x-scheme-handler/tel;x-scheme-handler/callto;\n"),
        "{text}"
    );
    assert!(text.contains("NoDisplay=true\n") && text.contains("Terminal=false\n"));
    assert!(text.contains("Name=Enlace\n"));
    let exec = exec_line(&file);
    assert!(exec.ends_with(" %u"), "{exec}");
    let args = handler::parse_exec(&exec).unwrap();
    assert_eq!(
        args,
        vec![spec.exe.to_str().unwrap().to_owned(), "%u".into()]
    );
    spec
}

#[test]
fn register_makes_enlace_the_default_tel_and_callto_handler() {
    let root = tempfile::tempdir().unwrap();
    let exe = fake_exe(&root.path().join("opt"));
    let spec = register_and_verify(root.path(), exe.clone());
    // A plain path is written unquoted (generic xdg-open cannot start a quoted one).
    let exec = exec_line(&spec.desktop_file().unwrap());
    assert_eq!(exec, format!("{} %u", exe.display()));

    // Registering again is harmless.
    assert!(handler::register(&spec).unwrap().all_registered());
}

#[test]
fn register_quotes_a_program_path_with_spaces() {
    let root = tempfile::tempdir().unwrap();
    let exe = fake_exe(&root.path().join("my apps").join("Enlace (dev)"));
    let spec = register_and_verify(root.path(), exe.clone());
    let exec = exec_line(&spec.desktop_file().unwrap());
    assert_eq!(exec, format!("\"{}\" %u", exe.display()));
}

/// An installed package brings its own entry (`/usr/share/applications/Enlace.desktop`):
/// registering makes that one the default and writes no second entry of ours.
#[test]
fn an_installed_entry_is_made_the_default_without_writing_another() {
    let root = tempfile::tempdir().unwrap();
    let forwarder = fake_exe(&root.path().join("usr/bin"));
    let system = root.path().join("usr/share");
    std::fs::create_dir_all(system.join("applications")).unwrap();
    std::fs::write(
        system.join("applications/Enlace.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=Enlace\nExec={} %u\n\
             MimeType=x-scheme-handler/tel;x-scheme-handler/callto;\n",
            forwarder.display()
        ),
    )
    .unwrap();
    // Another program's entry for tel: links is not ours.
    std::fs::write(
        system.join("applications/aaa-softphone.desktop"),
        "[Desktop Entry]\nType=Application\nName=Other\nExec=/usr/bin/other %u\n\
         MimeType=x-scheme-handler/tel;\n",
    )
    .unwrap();
    let mut dirs = XdgDirs::sandboxed(root.path());
    dirs.data_dirs = vec![system.clone()];
    let spec = HandlerSpec {
        dirs: dirs.clone(),
        ..HandlerSpec::new(handler::RELEASE_DESKTOP_ID, &forwarder)
    }
    .adopt_installed_entry();
    assert!(spec.packaged);
    assert_eq!(spec.desktop_id, "Enlace");

    let status = handler::register(&spec).unwrap();
    assert!(status.all_registered(), "{status:?}");
    assert_eq!(query_default(&dirs, "tel"), "Enlace.desktop");
    assert_eq!(query_default(&dirs, "callto"), "Enlace.desktop");
    let user_dir = dirs.applications_dir().unwrap();
    let written: Vec<_> = std::fs::read_dir(&user_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        written.is_empty(),
        "wrote {written:?} beside the package's entry"
    );

    // Not installed (another program): nothing adopted, our own entry as before.
    let other = HandlerSpec {
        dirs,
        ..HandlerSpec::new(handler::RELEASE_DESKTOP_ID, root.path().join("elsewhere"))
    }
    .adopt_installed_entry();
    assert!(!other.packaged);
    assert_eq!(other.desktop_id, handler::RELEASE_DESKTOP_ID);
}

#[test]
fn status_notices_a_moved_program_and_another_default() {
    let root = tempfile::tempdir().unwrap();
    let old = fake_exe(&root.path().join("old"));
    let spec = sandbox_spec(root.path(), old);
    assert!(handler::register(&spec).unwrap().all_registered());

    // Same channel, program moved: the desktop file points elsewhere.
    let moved = HandlerSpec {
        exe: fake_exe(&root.path().join("new")),
        ..spec.clone()
    };
    let status = handler::status(&moved);
    assert!(!status.all_registered());
    let detail = status.scheme(Scheme::Tel).unwrap().detail.clone().unwrap();
    assert!(detail.contains("not this program"), "{detail}");
    assert!(detail.contains("register again"), "{detail}");
    assert!(handler::register(&moved).unwrap().all_registered());

    // The release channel is a different handler: the dev registration does not count for it.
    let release = HandlerSpec {
        desktop_id: handler::RELEASE_DESKTOP_ID.into(),
        ..moved.clone()
    };
    let status = handler::status(&release);
    assert!(!status.all_registered());
    let detail = status
        .scheme(Scheme::Callto)
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert_eq!(
        detail,
        "callto: links open enlace-dev-handler.desktop, not Enlace"
    );
}

#[test]
fn generic_xdg_open_starts_the_registered_program_with_the_link() {
    // Pitfall P7: the generic xdg-open backend must be able to run our Exec line. /usr/bin/touch
    // stands in for Enlace: it creates a file named like the link in its working directory.
    let touch = PathBuf::from("/usr/bin/touch");
    if !touch.exists() {
        println!("skipped: /usr/bin/touch missing");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let spec = sandbox_spec(root.path(), touch);
    assert!(handler::register(&spec).unwrap().all_registered());
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    let mut cmd = xdg_command("xdg-open", &spec.dirs);
    cmd.arg("tel:+50640004000")
        .current_dir(&work)
        // A display makes xdg-open look up x-scheme-handler defaults; nothing connects to it.
        .env("DISPLAY", ":0")
        .stdin(Stdio::null());
    for var in [
        "XDG_CURRENT_DESKTOP",
        "DESKTOP_SESSION",
        "XDG_SESSION_DESKTOP",
        "KDE_FULL_SESSION",
        "GNOME_DESKTOP_SESSION_ID",
        "MATE_DESKTOP_SESSION_ID",
        "BROWSER",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("xdg-open runs (install xdg-utils)");
    assert!(out.status.success(), "{out:?}");
    assert!(
        work.join("tel:+50640004000").exists(),
        "xdg-open did not start the handler with the link: {out:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// notifications

/// Kills and reaps a child process (by its own handle, i.e. its PID) when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `dbus-monitor` on the session bus; its output accumulates in `text`.
struct Monitor {
    _child: ChildGuard,
    text: Arc<Mutex<String>>,
}

impl Monitor {
    fn start(rules: &[&str]) -> Monitor {
        let mut child = Command::new("dbus-monitor")
            .arg("--session")
            .args(rules)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor runs (install dbus / dbus-bin)");
        let stdout = child.stdout.take().expect("piped stdout");
        let guard = ChildGuard(child);
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut t = sink.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        let m = Monitor {
            _child: guard,
            text,
        };
        // Becoming a monitor makes the bus send NameLost to it: from then on it sees everything.
        m.wait_for("monitor ready", |t| t.contains("member=NameLost"));
        m
    }

    fn snapshot(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Waits (bounded, so a broken feature fails instead of hanging) until `cond` holds.
    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.snapshot();
            if cond(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}; monitor saw:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn incoming(name: &str) -> IncomingCall {
    IncomingCall {
        summary: "Llamada entrante".into(),
        caller_name: Some(name.into()),
        number: "+506 4000 4000".into(),
        answer_label: "Contestar".into(),
        reject_label: "Rechazar".into(),
    }
}

fn channel_callback() -> (notify::ActionCallback, mpsc::Receiver<NotificationAction>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |action| {
            let _ = tx.send(action);
        }),
        rx,
    )
}

/// White space runs (dbus-monitor's indentation and line breaks) as single spaces.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const WAITER_SUBSCRIBED: &str = "member='NotificationClosed'";

/// The notification tests click "the newest notification" (`dunstctl action 0`): one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn incoming_call_notification_on_the_session_bus() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let required = std::env::var("ENLACE_REQUIRE_NOTIFICATIONS").as_deref() == Ok("1");
    let info = match notify::probe_server() {
        Ok(info) => info,
        Err(e) if required => panic!("ENLACE_REQUIRE_NOTIFICATIONS=1 but: {e}"),
        Err(e) => {
            println!("skipped: {e} (run under dbus-run-session with dunst)");
            return;
        }
    };
    assert!(!info.name.is_empty(), "{info:?}");
    assert!(!info.capabilities.is_empty(), "{info:?}");

    let monitor = Monitor::start(&[
        "interface='org.freedesktop.Notifications'",
        "member='AddMatch'",
    ]);

    // 1. Delivery: summary, escaped body, actions, hints, as sent on the bus.
    let (callback, actions) = channel_callback();
    let shown = notify::show_incoming_call(&incoming("Ana Perez <VIP>"), callback).unwrap();
    assert_eq!(shown.has_actions(), info.supports_actions());
    let text = monitor.wait_for("the Notify call and the action listener", |t| {
        t.contains("member=Notify") && t.contains(WAITER_SUBSCRIBED)
    });
    let flat = squash(&text);
    let notify_call = &flat[flat.find("member=Notify ").expect("a Notify call")..];
    let expect = |needle: &str| assert!(notify_call.contains(needle), "{needle}: {notify_call}");
    // app name, replaces id, icon, summary
    expect(r#"string "Enlace" uint32 0 string "call-start" string "Llamada entrante""#);
    if info.supports_body_markup() {
        assert!(
            text.contains("string \"Ana Perez &lt;VIP&gt;\n+506 4000 4000\""),
            "{text}"
        );
    } else {
        assert!(
            text.contains("string \"Ana Perez <VIP>\n+506 4000 4000\""),
            "{text}"
        );
    }
    if info.supports_actions() {
        expect(concat!(
            r#"array [ string "default" string "Llamada entrante" "#,
            r#"string "answer" string "Contestar" string "reject" string "Rechazar" ]"#
        ));
    }
    expect(r#"string "category" variant string "x-enlace.call""#);
    expect(r#"string "urgency" variant byte 2"#);
    expect("] int32 0 "); // expire timeout: never

    // 2. Clicking the notification (dunst's default action) reaches the callback as Focus.
    if info.name == "dunst" && info.supports_actions() {
        let out = Command::new("dunstctl")
            .args(["action", "0"])
            .output()
            .expect("dunstctl runs");
        assert!(out.status.success(), "{out:?}");
        let got = actions
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| {
                panic!(
                    "the action did not reach the callback ({e}): {}",
                    monitor.snapshot()
                )
            });
        assert_eq!(got, NotificationAction::Focus);
        monitor.wait_for("ActionInvoked default", |t| {
            t.contains("member=ActionInvoked") && t.contains(&format!("uint32 {}", shown.id()))
        });
    } else {
        println!(
            "click not simulated: server is {} ({:?})",
            info.name, info.capabilities
        );
    }
    shown.close();

    // 3. close() withdraws a ringing notification on the bus and reports Dismissed once.
    let subscribed_before = monitor.snapshot().matches(WAITER_SUBSCRIBED).count();
    let (callback, actions) = channel_callback();
    let second = notify::show_incoming_call(&incoming("Luis Mora"), callback).unwrap();
    monitor.wait_for("the second action listener", |t| {
        t.matches(WAITER_SUBSCRIBED).count() > subscribed_before && t.contains("Luis Mora")
    });
    second.close();
    second.close();
    let id = second.id();
    let text = monitor.wait_for("CloseNotification and NotificationClosed", |t| {
        let after = &t[t.rfind("Luis Mora").unwrap_or(0)..];
        after.contains("member=CloseNotification")
            && after.contains("member=NotificationClosed")
            && after.contains(&format!("uint32 {id}"))
    });
    assert!(text.contains("member=CloseNotification"));
    assert_eq!(
        actions.recv_timeout(Duration::from_secs(20)),
        Ok(NotificationAction::Dismissed)
    );
    // The callback (and with it the sender) is gone after its one call.
    assert_eq!(
        actions.recv_timeout(Duration::from_secs(20)),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn chat_message_notification_on_the_session_bus() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let required = std::env::var("ENLACE_REQUIRE_NOTIFICATIONS").as_deref() == Ok("1");
    let info = match notify::probe_server() {
        Ok(info) => info,
        Err(e) if required => panic!("ENLACE_REQUIRE_NOTIFICATIONS=1 but: {e}"),
        Err(e) => {
            println!("skipped: {e} (run under dbus-run-session with dunst)");
            return;
        }
    };
    let monitor = Monitor::start(&[
        "interface='org.freedesktop.Notifications'",
        "member='AddMatch'",
    ]);

    // Summary: the customer; body: the preview (escaped when the server reads markup).
    let (callback, actions) = channel_callback();
    let message = notify::ChatMessage {
        summary: "Lucía Quesada".into(),
        body: "¿Tienen <envío> a Cartago?".into(),
    };
    let shown = notify::show_chat_message(&message, callback).unwrap();
    assert_eq!(shown.has_actions(), info.supports_actions());
    let text = monitor.wait_for("the Notify call and the action listener", |t| {
        t.contains("member=Notify") && t.contains(WAITER_SUBSCRIBED)
    });
    let flat = squash(&text);
    let notify_call = &flat[flat.find("member=Notify ").expect("a Notify call")..];
    let expect = |needle: &str| assert!(notify_call.contains(needle), "{needle}: {notify_call}");
    expect(r#"string "Enlace" uint32 0 string "mail-unread" string "Lucía Quesada""#);
    if info.supports_body_markup() {
        expect(r#"string "¿Tienen &lt;envío&gt; a Cartago?""#);
    } else {
        expect(r#"string "¿Tienen <envío> a Cartago?""#);
    }
    if info.supports_actions() {
        expect(r#"array [ string "default" string "Lucía Quesada" ]"#);
    }
    expect(r#"string "category" variant string "im.received""#);
    expect(r#"string "urgency" variant byte 1"#);

    // Clicking it reaches the callback as Focus (the shell opens the chat).
    if info.name == "dunst" && info.supports_actions() {
        let out = Command::new("dunstctl")
            .args(["action", "0"])
            .output()
            .expect("dunstctl runs");
        assert!(out.status.success(), "{out:?}");
        let got = actions
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no action ({e}): {}", monitor.snapshot()));
        assert_eq!(got, NotificationAction::Focus);
    } else {
        println!(
            "click not simulated: server is {} ({:?})",
            info.name, info.capabilities
        );
    }
    shown.close();
}
