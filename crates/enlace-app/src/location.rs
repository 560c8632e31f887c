//! Where the agent is, for the first view of Enviar ubicación's map: the operating system's
//! location service through [`Host::os_position`] (GeoClue on Linux, in the shell), else the
//! last location the agent sent ([`App::last_position`]).

use std::sync::Arc;

use crate::{App, AppError, Host, Position, PositionSource};

impl<H: Host> App<H> {
    /// The OS's position (asked off the async threads: it may take up to a few seconds),
    /// otherwise the last location sent, otherwise `None`.
    pub async fn location_here(&self) -> Result<Option<Position>, AppError> {
        let shared = Arc::clone(&self.shared);
        let os = tokio::task::spawn_blocking(move || shared.host.os_position())
            .await
            .ok()
            .flatten()
            .filter(|&(lat, lon, _)| {
                lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0
            });
        if let Some((latitude, longitude, accuracy)) = os {
            return Ok(Some(Position {
                latitude,
                longitude,
                accuracy: accuracy.filter(|a| a.is_finite() && *a > 0.0),
                source: PositionSource::Os,
            }));
        }
        self.last_position().await
    }
}
