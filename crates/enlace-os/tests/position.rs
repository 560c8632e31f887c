#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The position through the real GeoClue: its service (`/usr/libexec/geoclue`, Debian's
//! `geoclue-2.0`, installed by `cargo xtask setup`) on a private D-Bus daemon, fed by its NMEA
//! source from a UNIX socket this test writes `$GPGGA` sentences to (San José, Costa Rica), with
//! GeoClue's demo agent authorizing the app, as a desktop's agent (GNOME Shell…) would.
//!
//! Nothing here touches the machine's system bus or configuration: GeoClue reads the stock
//! `/etc/geoclue/geoclue.conf` (the NMEA source on, the demo agent in the agents' whitelist).
//! Every process started is stopped by its PID when the test ends.
#![cfg(all(unix, not(target_os = "macos")))]

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlace_os::position::{os_position_on, MAX_POSITION_WAIT};
use enlace_peers::{BusOptions, PrivateBus};

const GEOCLUE: &str = "/usr/libexec/geoclue";
const DEMO_AGENT: &str = "/usr/libexec/geoclue-2.0/demos/agent";
const WAIT: Duration = Duration::from_secs(30);

/// A child process killed (by its PID) and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install GeoClue (Debian/Ubuntu: apt-get install geoclue-2.0, or \
         run `cargo xtask setup`)"
    );
}

fn nmea(body: &str) -> String {
    let checksum = body.bytes().fold(0u8, |c, b| c ^ b);
    format!("${body}*{checksum:02X}\r\n")
}

/// Serves `$GPGGA` fixes at 9°55.686′N 84°05.442′W to every client until `stop`.
fn nmea_server(path: &Path, stop: Arc<AtomicBool>) {
    let listener = UnixListener::bind(path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut clients = Vec::new();
        let mut n = 0u32;
        while !stop.load(Ordering::SeqCst) {
            if let Ok((stream, _)) = listener.accept() {
                clients.push(stream);
            }
            n += 1;
            let line = nmea(&format!(
                "GPGGA,{:02}{:02}{:02}.00,0955.6860,N,08405.4420,W,1,08,0.9,1150.0,M,0.0,M,,",
                (n / 3600) % 24,
                (n / 60) % 60,
                n % 60
            ));
            clients.retain_mut(|c| c.write_all(line.as_bytes()).is_ok());
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

#[test]
fn geoclue_gives_the_position_of_its_nmea_source() {
    require(GEOCLUE);
    require(DEMO_AGENT);
    let dir = tempfile::tempdir().unwrap();
    let bus = PrivateBus::start(BusOptions::SYSTEM)
        .expect("a private bus (Debian/Ubuntu: apt-get install dbus)");
    let address = bus.address().to_owned();

    // Without GeoClue on the bus: no position, quickly, and no error.
    assert_eq!(os_position_on(&address, Duration::from_secs(1)), None);

    let stop = Arc::new(AtomicBool::new(false));
    let nmea_socket = dir.path().join("nmea");
    nmea_server(&nmea_socket, Arc::clone(&stop));
    let _geoclue = Running(
        Command::new(GEOCLUE)
            .args(["--timeout", "0", "--nmea-socket"])
            .arg(&nmea_socket)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _agent = Running(
        Command::new(DEMO_AGENT)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // GeoClue and its agent come up in their own time: ask until the first fix arrives.
    let deadline = Instant::now() + WAIT;
    let position = loop {
        if let Some(p) = os_position_on(&address, MAX_POSITION_WAIT) {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "GeoClue gave no position (is the NMEA source enabled in /etc/geoclue/geoclue.conf?)"
        );
    };
    stop.store(true, Ordering::SeqCst);
    let (latitude, longitude, accuracy) = position;
    assert!((latitude - 9.9281).abs() < 1e-4, "latitude {latitude}");
    assert!((longitude + 84.0907).abs() < 1e-4, "longitude {longitude}");
    assert!(accuracy.is_none_or(|a| a > 0.0 && a.is_finite()));
}
