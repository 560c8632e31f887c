#![allow(clippy::unwrap_used)]
//! The `enlace` command line, run as a real process with no display.

use std::process::Command;

fn enlace(args: &[&str]) -> (i32, String, String) {
    enlace_with(args, &[])
}

fn enlace_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_enlace"))
        .args(args)
        .envs(env.iter().copied())
        .env("ENLACE_DATA_DIR", data.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run enlace");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dry_run_json_prints_exactly_one_object() {
    let cases = [
        (
            "tel:+50640004000",
            r#"{"ok":true,"kind":"number","e164":"+50640004000","extension":null,"dial":"+50640004000"}"#,
        ),
        (
            "tel:4000",
            r#"{"ok":true,"kind":"extension","e164":null,"extension":"4000","dial":"4000"}"#,
        ),
        (
            "callto://+506 4000-4000",
            r#"{"ok":true,"kind":"number","e164":"+50640004000","extension":null,"dial":"+50640004000"}"#,
        ),
        (
            "tel:+1-201-555-0123;ext=102",
            r#"{"ok":true,"kind":"number","e164":"+12015550123","extension":"102","dial":"+12015550123"}"#,
        ),
    ];
    for (uri, want) in cases {
        let (code, stdout, _) = enlace(&["dial", "--dry-run", "--json", uri]);
        assert_eq!(code, 0, "{uri}");
        assert_eq!(stdout, format!("{want}\n"), "{uri}");
    }
}

#[test]
fn dry_run_uses_the_country_given() {
    let (code, stdout, _) = enlace(&[
        "dial",
        "--dry-run",
        "--json",
        "--country",
        "MX",
        "tel:55 1234 5678",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["e164"], "+525512345678");
}

#[test]
fn refused_links_exit_2_with_a_stable_code() {
    for (uri, want) in [
        ("javascript:alert(1)", "unsupported_scheme"),
        ("callto:skypename", "not_a_phone_number"),
        ("tel:+1`reboot`", "forbidden_character"),
        ("", "empty"),
    ] {
        let (code, stdout, _) = enlace(&["dial", "--dry-run", "--json", uri]);
        assert_eq!(code, 2, "{uri:?}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "exactly one JSON object for {uri:?}: {stdout}"
        );
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["code"], want, "{uri:?}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let huge = format!("tel:+{}", "1".repeat(100_000));
    let (code, stdout, _) = enlace(&["dial", "--dry-run", "--json", &huge]);
    assert_eq!(code, 2);
    assert!(stdout.contains(r#""code":"too_long""#));
}

#[test]
fn a_bad_link_is_refused_before_any_window_starts() {
    // No display: reaching the GUI would fail differently (exit 1, gtk error).
    let (code, _, stderr) = enlace(&["dial", "mailto:someone@example.com"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unsupported_scheme"), "{stderr}");
}

#[test]
fn unknown_arguments_are_refused() {
    let (code, _, stderr) = enlace(&["--format-disk"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown option"), "{stderr}");
}

#[test]
fn doctor_reports_one_line_per_check() {
    let (code, stdout, _) = enlace(&["doctor"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for key in ["tel:", "callto:", "phone line", "keyring", "notifications"] {
        assert!(
            stdout.to_lowercase().contains(key),
            "{key} missing in {stdout}"
        );
    }
    // Without a phone line configured the doctor must say so (and fail).
    assert_ne!(code, 0);
    assert!(stdout.contains("problem"), "{stdout}");
}

#[test]
fn doctor_asks_baresip_itself_and_leaves_a_connected_enlace_alone() {
    let baresip =
        enlace_peers::Baresip::start(enlace_peers::BaresipConfig::agent()).expect("baresip");
    let demo = format!("{} 127.0.0.1:5060", baresip.ctrl_addr());
    let line = |stdout: &str| {
        stdout
            .lines()
            .find(|l| l.contains("phone line"))
            .unwrap_or_default()
            .to_owned()
    };
    let (_, stdout, _) = enlace_with(&["doctor"], &[("ENLACE_DEMO_LINE", &demo)]);
    let answered = line(&stdout);
    assert!(answered.starts_with("ok "), "{stdout}");
    assert!(answered.contains("baresip answers: sip:1001@"), "{stdout}");

    // A program holds baresip's one control connection (as the running Enlace does): the
    // doctor does not take it away.
    let held = std::net::TcpStream::connect(baresip.ctrl_addr()).unwrap();
    let (_, stdout, _) = enlace_with(&["doctor"], &[("ENLACE_DEMO_LINE", &demo)]);
    assert!(line(&stdout).starts_with("not checked "), "{stdout}");
    held.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut byte = [0u8; 1];
    let still_open = match std::io::Read::read(&mut &held, &mut byte) {
        Ok(n) => n > 0,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(still_open, "the held connection was dropped");
}
