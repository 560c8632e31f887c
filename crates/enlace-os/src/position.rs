//! Where the computer is, from the OS's location service, for the first view of the map in
//! Enviar ubicación.
//!
//! - Linux/BSD: GeoClue2 on the system D-Bus (`org.freedesktop.GeoClue2`): `Manager.GetClient`,
//!   the client's `DesktopId` ([`GEOCLUE_DESKTOP_ID`], the `.desktop` file a desktop's GeoClue
//!   agent looks up to ask the user) and `RequestedAccuracyLevel`, `Start`, then the client's
//!   `Location` object (`Latitude`, `Longitude`, `Accuracy`) once it is set; `Stop` after.
//! - Windows (`Windows.Devices.Geolocation.Geolocator`) and macOS (CoreLocation's
//!   `CLLocationManager`, which needs a signed bundle with `NSLocationUsageDescription`) are
//!   not asked yet: [`os_position`] returns `None` there and the app falls back to the last
//!   location sent.
//!
//! Every failure — no system bus, no GeoClue, the agent or the configuration denying the app,
//! no fix within the time given — is `None`: a position is a convenience, never an error.

use std::time::Duration;

/// The longest [`os_position`] waits, whatever it is asked.
pub const MAX_POSITION_WAIT: Duration = Duration::from_secs(3);

/// The desktop-file id GeoClue is told (see [`crate::handler::RELEASE_DESKTOP_ID`]): desktop
/// agents look it up to name the app when they ask the user, and `geoclue.conf` allows apps by
/// it (`[enlace-handler]`, `allowed=true`).
pub const GEOCLUE_DESKTOP_ID: &str = crate::handler::RELEASE_DESKTOP_ID;

/// Latitude and longitude in degrees, and the accuracy radius in metres when known.
pub type OsPosition = (f64, f64, Option<f64>);

/// The computer's position from the OS's location service, waiting at most `timeout` (capped
/// at [`MAX_POSITION_WAIT`]), or `None`. Blocks: call it from a blocking thread.
pub fn os_position(timeout: Duration) -> Option<OsPosition> {
    os_position_as(GEOCLUE_DESKTOP_ID, timeout)
}

/// [`os_position`] for the app installed as `desktop_id` (the build channel's desktop file, so
/// the desktop's agent finds the app's name and icon when it asks the user).
pub fn os_position_as(desktop_id: &str, timeout: Duration) -> Option<OsPosition> {
    let timeout = timeout.min(MAX_POSITION_WAIT);
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        // The D-Bus conversation runs on its own thread: a bus that stops answering cannot hold
        // the caller past the timeout (the thread ends at the connection's method timeout).
        let (tx, rx) = std::sync::mpsc::channel();
        let desktop_id = desktop_id.to_owned();
        std::thread::Builder::new()
            .name("enlace-geoclue".into())
            .spawn(move || {
                let _ = tx.send(geoclue::position(None, &desktop_id, timeout));
            })
            .ok()?;
        let grace = Duration::from_millis(250);
        rx.recv_timeout(timeout + grace).ok().flatten()
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        // Windows: Windows.Devices.Geolocation (Geolocator::GetGeopositionAsync); macOS:
        // CoreLocation (CLLocationManager requestLocation). Not wired yet.
        let _ = (desktop_id, timeout);
        None
    }
}

/// [`os_position`] through GeoClue on the D-Bus at `bus_address` instead of the system bus
/// (tests run GeoClue on a private bus).
#[cfg(all(unix, not(target_os = "macos")))]
pub fn os_position_on(bus_address: &str, timeout: Duration) -> Option<OsPosition> {
    geoclue::position(
        Some(bus_address),
        GEOCLUE_DESKTOP_ID,
        timeout.min(MAX_POSITION_WAIT),
    )
}

/// Whether a latitude/longitude pair is a place on Earth.
pub fn valid_position(latitude: f64, longitude: f64) -> bool {
    latitude.is_finite()
        && longitude.is_finite()
        && (-90.0..=90.0).contains(&latitude)
        && (-180.0..=180.0).contains(&longitude)
}

#[cfg(all(unix, not(target_os = "macos")))]
mod geoclue {
    use std::time::{Duration, Instant};

    use zbus::proxy::{Builder, CacheProperties};
    use zbus::{block_on, Connection, OwnedObjectPath, Proxy};

    use super::{valid_position, OsPosition};

    const SERVICE: &str = "org.freedesktop.GeoClue2";
    const MANAGER_PATH: &str = "/org/freedesktop/GeoClue2/Manager";
    const MANAGER: &str = "org.freedesktop.GeoClue2.Manager";
    const CLIENT: &str = "org.freedesktop.GeoClue2.Client";
    const LOCATION: &str = "org.freedesktop.GeoClue2.Location";
    /// `GCLUE_ACCURACY_LEVEL_EXACT`: the best the machine has (Wi-Fi, GPS).
    const ACCURACY_EXACT: u32 = 8;
    const POLL: Duration = Duration::from_millis(100);

    /// One attempt, `None` on any failure (logged at debug level: it is not the agent's
    /// problem).
    /// `bus`: a D-Bus address instead of the system bus (tests).
    pub(super) fn position(
        bus: Option<&str>,
        desktop_id: &str,
        timeout: Duration,
    ) -> Option<OsPosition> {
        let deadline = Instant::now() + timeout;
        let builder = match bus {
            Some(address) => zbus::connection::Builder::address(address),
            None => zbus::connection::Builder::system(),
        };
        let conn = block_on(builder.method_timeout(timeout).build())
            .map_err(|e| tracing::debug!(error = %e, "position: no system bus"))
            .ok()?;
        let client = start_client(&conn, desktop_id)
            .map_err(|e| tracing::debug!(error = %e, "position: GeoClue refused"))
            .ok()?;
        let found = wait_for_location(&conn, &client, deadline);
        let _ = block_on(client.call::<_, _, ()>("Stop", &()));
        found
    }

    fn proxy<'a>(
        conn: &Connection,
        path: OwnedObjectPath,
        interface: &'static str,
    ) -> zbus::Result<Proxy<'a>> {
        block_on(
            Builder::<Proxy<'a>>::new(conn)
                .destination(SERVICE)
                .path(path)
                .interface(interface)
                .cache_properties(CacheProperties::No)
                .build(),
        )
    }

    fn start_client<'a>(conn: &Connection, desktop_id: &str) -> zbus::Result<Proxy<'a>> {
        let manager = block_on(Proxy::new(conn, SERVICE, MANAGER_PATH, MANAGER))?;
        let path: OwnedObjectPath = block_on(manager.call("GetClient", &()))?;
        let client = proxy(conn, path, CLIENT)?;
        block_on(client.set_property("DesktopId", desktop_id))?;
        block_on(client.set_property("RequestedAccuracyLevel", ACCURACY_EXACT))?;
        block_on(client.call::<_, _, ()>("Start", &()))?;
        Ok(client)
    }

    /// Polls the client's `Location` until GeoClue sets it (it stays `/` until the first
    /// fix), then reads that object. The sleeps happen outside `block_on`, so zbus's helper
    /// thread keeps the connection read meanwhile.
    fn wait_for_location(
        conn: &Connection,
        client: &Proxy<'_>,
        deadline: Instant,
    ) -> Option<OsPosition> {
        loop {
            let path: OwnedObjectPath = block_on(client.get_property("Location"))
                .map_err(|e| tracing::debug!(error = %e, "position: no location"))
                .ok()?;
            if path.as_str() != "/" {
                let location = proxy(conn, path, LOCATION).ok()?;
                let latitude: f64 = block_on(location.get_property("Latitude")).ok()?;
                let longitude: f64 = block_on(location.get_property("Longitude")).ok()?;
                let accuracy: Option<f64> = block_on(location.get_property::<f64>("Accuracy"))
                    .ok()
                    .filter(|a| a.is_finite() && *a > 0.0);
                return valid_position(latitude, longitude)
                    .then_some((latitude, longitude, accuracy));
            }
            if Instant::now() + POLL >= deadline {
                tracing::debug!("position: GeoClue gave no fix in time");
                return None;
            }
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn no_bus_is_no_position_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("unix:path={}", dir.path().join("no-bus").display());
        assert_eq!(
            geoclue::position(Some(&address), GEOCLUE_DESKTOP_ID, Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn positions_on_earth_only() {
        assert!(valid_position(9.9281, -84.0907));
        assert!(valid_position(-90.0, 180.0));
        assert!(!valid_position(90.1, 0.0));
        assert!(!valid_position(0.0, -180.5));
        assert!(!valid_position(f64::NAN, 0.0));
        assert!(!valid_position(0.0, f64::INFINITY));
    }
}
