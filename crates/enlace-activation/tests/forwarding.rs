#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The link forwarder against a real, private `dbus-daemon`: a served instance receives
//! `Open` with the links and the launcher's token; with nobody serving, `enlace-open` becomes
//! the program beside it with the same arguments; a second server is refused the name.
//! Every process started is stopped by its PID when the test ends.
#![cfg(all(unix, not(target_os = "macos")))]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

use enlace_activation::{app_id, forward, serve, ActivationError, Request};
use enlace_peers::{BusOptions, PrivateBus};

const WAIT: Duration = Duration::from_secs(10);

/// A child process killed (by its PID) and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private session bus (stopped when dropped) and its address.
fn private_bus() -> (PrivateBus, String) {
    let bus = PrivateBus::start(BusOptions::SESSION)
        .expect("a private session bus (cargo xtask setup installs dbus)");
    let address = bus.address().to_owned();
    (bus, address)
}

fn recorder() -> (enlace_activation::OnRequest, mpsc::Receiver<Request>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    (
        Box::new(move |r| {
            let _ = tx.lock().unwrap().send(r);
        }),
        rx,
    )
}

/// The built `enlace-open` (cargo builds a package's binaries for its integration tests).
fn forwarder() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_enlace-open"))
}

#[test]
fn links_reach_the_running_instance_with_the_launchers_token() {
    let (_bus, address) = private_bus();

    // Nobody serves yet: the caller is told to start the app.
    let open = Request::Open {
        uris: vec!["tel:+50640004000".into()],
        token: None,
    };
    assert_eq!(
        forward(app_id(), Some(&address), &open, WAIT),
        Err(ActivationError::NoInstance)
    );

    let (on_request, received) = recorder();
    let service = serve(app_id(), Some(&address), on_request).unwrap();
    assert_eq!(service.app_id(), app_id());

    forward(app_id(), Some(&address), &open, WAIT).unwrap();
    assert_eq!(received.recv_timeout(WAIT).unwrap(), open);

    // The binary, as a launcher starts it: token from the environment, links as arguments.
    let status = Command::new(forwarder())
        .args(["tel:+50640004001", "callto:+50640004002"])
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("XDG_ACTIVATION_TOKEN", "token_1234")
        .env_remove("DESKTOP_STARTUP_ID")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        received.recv_timeout(WAIT).unwrap(),
        Request::Open {
            uris: vec!["tel:+50640004001".into(), "callto:+50640004002".into()],
            token: Some("token_1234".into()),
        }
    );

    // Started from the menu (no arguments): the window comes forward.
    let status = Command::new(forwarder())
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env_remove("XDG_ACTIVATION_TOKEN")
        .env_remove("DESKTOP_STARTUP_ID")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        received.recv_timeout(WAIT).unwrap(),
        Request::Activate { token: None }
    );

    // Hidden to the tray by a script (the bench does this).
    forward(app_id(), Some(&address), &Request::Hide, WAIT).unwrap();
    assert_eq!(received.recv_timeout(WAIT).unwrap(), Request::Hide);

    // A second instance cannot take the name.
    let (second, _) = recorder();
    assert_eq!(
        serve(app_id(), Some(&address), second).map(drop),
        Err(ActivationError::NameTaken)
    );

    // Untrusted callers: empty or oversized link lists are cut down, never passed on whole.
    let many = Request::Open {
        uris: (0..100).map(|i| format!("tel:{i}")).collect(),
        token: Some("bad token with spaces".into()),
    };
    forward(app_id(), Some(&address), &many, WAIT).unwrap();
    match received.recv_timeout(WAIT).unwrap() {
        Request::Open { uris, token } => {
            assert_eq!(uris.len(), enlace_activation::MAX_URIS);
            assert_eq!(token, None);
        }
        other => panic!("expected Open, got {other:?}"),
    }
}

#[test]
fn with_no_instance_the_forwarder_becomes_the_app_with_the_same_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (_bus, address) = private_bus();
    // `enlace-open` beside a stand-in `enlace` that records how it was started.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(forwarder(), bin.join("enlace-open")).unwrap();
    let record = dir.path().join("started-with");
    std::fs::write(
        bin.join("enlace"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$$\" \"$MALLOC_ARENA_MAX\" \"$@\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("enlace"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }

    for args in [
        vec!["tel:+50640004000"],
        vec!["--help"],
        vec!["dial", "4000 4000"],
    ] {
        let _ = std::fs::remove_file(&record);
        let child = Command::new(bin.join("enlace-open"))
            .args(&args)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env_remove("MALLOC_ARENA_MAX")
            .spawn()
            .unwrap();
        let pid = child.id();
        let status = Running(child).0.wait().unwrap();
        assert!(status.success(), "{args:?}: {status}");
        let recorded = std::fs::read_to_string(&record).unwrap();
        let mut lines = recorded.lines();
        // exec, not a child: the app runs in the forwarder's own process.
        assert_eq!(lines.next(), Some(pid.to_string().as_str()), "{args:?}");
        assert_eq!(lines.next(), Some("2"), "MALLOC_ARENA_MAX for the app");
        assert_eq!(lines.collect::<Vec<_>>(), args);
    }

    // No session bus at all: the same.
    let _ = std::fs::remove_file(&record);
    let status = Command::new(bin.join("enlace-open"))
        .arg("tel:+50640004000")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", dir.path().join("nobody").display()),
        )
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read_to_string(&record)
        .unwrap()
        .ends_with("tel:+50640004000\n"));
}
