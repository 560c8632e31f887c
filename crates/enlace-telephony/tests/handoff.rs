//! The hand-off line for real: a small script records the argv it gets.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlace_core::{DialTarget, ErrorCode, SystemClock};
use enlace_telephony::{
    HandOffConfig, HandOffMode, LineConfig, LineEvent, LineStatus, PhoneLine, RandomCallIds,
};

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with("END\n") {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn program_gets_the_number_as_its_own_last_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("argv.txt");
    let script = dir.path().join("dialer.sh");
    // Records the argument count and each argument in brackets.
    std::fs::write(
        &script,
        format!(
            "printf '%s\\n' \"$#\" > '{out}'\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\" >> '{out}'; done\necho END >> '{out}'\n",
            out = out.display()
        ),
    )
    .unwrap();
    // `/bin/sh <script> --dial <number>`: args_before are the script and a flag.
    let config = LineConfig::HandOff(HandOffConfig {
        mode: HandOffMode::Program {
            path: "/bin/sh".into(),
            args_before: vec![script.display().to_string(), "--dial".into()],
        },
    });
    let (line, mut rx) = PhoneLine::start(
        config,
        Arc::new(SystemClock),
        Arc::new(RandomCallIds::default()),
    );
    assert_eq!(line.kind(), "hand_off");
    assert_eq!(rx.recv().await, Some(LineEvent::Status(LineStatus::Online)));

    let target = DialTarget::Number {
        e164: "+50640004000".into(),
        extension: None,
    };
    line.dial(&target).await.unwrap();
    let text = wait_for_file(&out);
    assert_eq!(text, "2\n[--dial]\n[+50640004000]\nEND\n");

    // Hostile "numbers" are refused before anything runs.
    std::fs::remove_file(&out).unwrap();
    let pwned = dir.path().join("pwned");
    for hostile in [
        format!("4000;touch {}", pwned.display()),
        format!("$(touch {})", pwned.display()),
        "4000 --evil".to_owned(),
        "-rf".to_owned(),
    ] {
        let err = line
            .dial(&DialTarget::Extension(hostile.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidNumber, "{hostile}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!out.exists() && !pwned.exists());

    // An extension with * and # is still exactly one argument.
    line.dial(&DialTarget::Extension("*72#".into()))
        .await
        .unwrap();
    assert_eq!(wait_for_file(&out), "2\n[--dial]\n[*72#]\nEND\n");

    // A hand-off line sees no calls and emits no call events.
    assert_eq!(
        line.answer("x").await.unwrap_err().code(),
        ErrorCode::NoActiveCall
    );
    assert!(rx.try_recv().is_err());
    line.shutdown().await;
}

#[tokio::test]
async fn unusable_settings_make_the_line_offline() {
    let config = LineConfig::HandOff(HandOffConfig {
        mode: HandOffMode::Uri {
            template: "tel:+1555".into(),
        },
    });
    let (line, mut rx) = PhoneLine::start(
        config,
        Arc::new(SystemClock),
        Arc::new(RandomCallIds::default()),
    );
    assert!(matches!(
        rx.recv().await,
        Some(LineEvent::Status(LineStatus::Offline { .. }))
    ));
    let err = line
        .dial(&DialTarget::Extension("4000".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSetting);
}
