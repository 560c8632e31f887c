//! Entry points for the cargo-fuzz targets in `fuzz/` (not an API): the reply bodies of the
//! routes whose wire types are private, read as [`crate::HubClient`] reads them.

use crate::model::{dial_outcome, AgentLiveWire, DialWire, SessionWire};

/// Reads `body` as the 2xx reply of `POST /sessions` (`route` 0), `POST /calls` (1) or
/// `GET /agents` (2, any other value). `true` when it parsed.
pub fn reply(route: u8, body: &[u8]) -> bool {
    match route {
        0 => serde_json::from_slice::<SessionWire>(body).is_ok(),
        1 => serde_json::from_slice::<DialWire>(body)
            .map(|wire| format!("{:?}", dial_outcome(wire)))
            .is_ok(),
        _ => serde_json::from_slice::<Vec<AgentLiveWire>>(body).is_ok(),
    }
}
