#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Where the map opens: the OS's position (through the host, GeoClue in the desktop shell),
//! else the last location sent, else nothing.

use std::sync::Arc;

use enlace_app::{App, AppOptions, DomainEvent, Host, Position, PositionSource};
use enlace_core::SystemClock;
use enlace_store::Store;

/// A host whose OS location service answers `position`.
struct PositionHost(Option<(f64, f64, Option<f64>)>);

impl Host for PositionHost {
    fn emit(&self, _event: DomainEvent) {}

    fn open_url(&self, _url: &str) -> Result<(), String> {
        Err("no browser here".into())
    }

    fn os_position(&self) -> Option<(f64, f64, Option<f64>)> {
        self.0
    }
}

async fn app(os: Option<(f64, f64, Option<f64>)>, last: Option<(f64, f64)>) -> App<PositionHost> {
    let store = Store::open_in_memory().unwrap();
    if let Some((lat, lon)) = last {
        store.set_last_position(lat, lon).unwrap();
    }
    App::start(
        PositionHost(os),
        store,
        Arc::new(SystemClock),
        AppOptions {
            secrets: Some(enlace_secrets::SecretStore::in_memory()),
            ..AppOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_os_position_comes_first_then_the_last_one_sent() {
    let here = app(
        Some((9.9281, -84.0907, Some(25.0))),
        Some((19.4326, -99.1332)),
    )
    .await;
    assert_eq!(
        here.location_here().await.unwrap(),
        Some(Position {
            latitude: 9.9281,
            longitude: -84.0907,
            accuracy: Some(25.0),
            source: PositionSource::Os,
        })
    );

    let last = app(None, Some((19.4326, -99.1332))).await;
    let p = last.location_here().await.unwrap().unwrap();
    assert_eq!((p.latitude, p.longitude), (19.4326, -99.1332));
    assert_eq!(p.source, PositionSource::LastUsed);

    assert_eq!(app(None, None).await.location_here().await.unwrap(), None);
}

#[tokio::test]
async fn an_os_position_off_the_earth_is_not_used() {
    for bad in [(f64::NAN, 0.0), (91.0, 0.0), (0.0, -180.5)] {
        let a = app(Some((bad.0, bad.1, None)), Some((10.0, -84.0))).await;
        let p = a.location_here().await.unwrap().unwrap();
        assert_eq!(p.source, PositionSource::LastUsed, "{bad:?}");
    }
    // An accuracy of zero or less is no accuracy.
    let a = app(Some((10.0, -84.0, Some(0.0))), None).await;
    assert_eq!(a.location_here().await.unwrap().unwrap().accuracy, None);
}
