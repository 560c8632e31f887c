//! `enlace-telephony` owns Enlace's phone lines: how a number is dialed and how the calls of
//! the line become [`enlace_core::CallRecord`]s.
//!
//! A line is chosen in the settings ([`LineConfig`], a closed enum) and started with
//! [`PhoneLine::start`], which returns the line and a channel of [`LineEvent`]s: status changes
//! and every change of a call (ringing, answered, ended). The app stores the records it gets.
//!
//! * [`BaresipLine`]: drives a baresip softphone over ctrl_tcp (netstring JSON), with
//!   reconnect and back-off; calls are tracked by the pure [`CallTracker`].
//! * [`HandOffLine`]: gives the number to another program (URI through the OS, or a program
//!   with the number as its last argument). It cannot see calls and emits no call events.
//! * [`HubLine`]: the organization's PBX through `enlace-hub`: calls come from the hub's
//!   event stream, dialing is the hub's click-to-dial; answer/reject/hang-up happen on the
//!   agent's own phone. It also reports agents' states ([`LineEvent::AgentState`]) and where
//!   to resume the stream ([`LineEvent::HubCursor`]).
//! * `None`: no line; dialing fails with `line_offline`.
//!
//! To add a line kind: a module with a `XxxLine` type offering `dial` / `answer` / `reject` /
//! `hangup` / `status` / `shutdown`, a variant in [`LineConfig`] and [`PhoneLine`], and the
//! match arms below. Errors are [`LineError`]s with stable codes.

mod baresip;
pub mod calls;
mod error;
mod handoff;
mod hub;
pub mod netstring;
pub mod protocol;

use std::sync::Arc;

use enlace_core::{CallRecord, Clock, DialTarget};
use tokio::sync::mpsc;

pub use baresip::{BaresipConfig, BaresipLine, Timings};
pub use calls::{CallIdSource, CallTracker, RandomCallIds};
pub use error::LineError;
pub use handoff::{HandOffConfig, HandOffLine, HandOffMode};
pub use hub::{AgentUpdate, HubCallTracker, HubLine, HubLineConfig};

/// Capacity of the event channel returned by [`PhoneLine::start`].
pub const EVENT_CHANNEL_CAPACITY: usize = 256;

/// Which phone line to use (from the settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineConfig {
    Baresip(BaresipConfig),
    HandOff(HandOffConfig),
    Hub(HubLineConfig),
    None,
}

/// Whether the line can place calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineStatus {
    Online,
    Connecting,
    Offline { reason: String },
}

impl LineStatus {
    /// `online` / `connecting` / `offline` (the UI's `LineState`).
    pub fn as_str(&self) -> &'static str {
        match self {
            LineStatus::Online => "online",
            LineStatus::Connecting => "connecting",
            LineStatus::Offline { .. } => "offline",
        }
    }

    /// The reason when offline.
    pub fn detail(&self) -> Option<&str> {
        match self {
            LineStatus::Offline { reason } => Some(reason),
            _ => None,
        }
    }
}

/// What a line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    Status(LineStatus),
    /// A call appeared or changed (ringing, answered, ended). Same `id` for the same call.
    Call(CallRecord),
    /// Hub line only: an agent's state at the hub changed (the line's own agent or, on a
    /// supervisor's line, any agent of the organization).
    AgentState(AgentUpdate),
    /// Hub line only: every hub event up to this id was handled and what it produced was sent
    /// before this. Persist it and pass it as [`HubLineConfig::after`] to resume a later line
    /// without losing or repeating anything. Sent once per burst of events, not per event.
    HubCursor(u64),
    /// Hub line only: the hub had pruned events this line had not read yet (it was away longer
    /// than the hub keeps its log). The calls it had open were reported ended as `line_lost`
    /// (a later event of one continues its record); the agent's state and the day must be read
    /// again from the hub.
    HubTruncated,
}

/// The running phone line.
#[derive(Debug)]
pub enum PhoneLine {
    Baresip(BaresipLine),
    HandOff(HandOffLine),
    Hub(HubLine),
    None,
}

impl PhoneLine {
    /// Starts the configured line. Must be called inside a Tokio runtime. The first event is
    /// the line's status. For a hand-off line with unusable settings the line is `Offline`
    /// with the reason.
    pub fn start(
        config: LineConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
    ) -> (PhoneLine, mpsc::Receiver<LineEvent>) {
        Self::start_with(config, Timings::default(), clock, ids)
    }

    /// [`PhoneLine::start`] with explicit ctrl_tcp timings.
    pub fn start_with(
        config: LineConfig,
        timings: Timings,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
    ) -> (PhoneLine, mpsc::Receiver<LineEvent>) {
        let (tx, rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let line = match config {
            LineConfig::Baresip(cfg) => {
                PhoneLine::Baresip(BaresipLine::start(cfg, timings, clock, ids, tx))
            }
            LineConfig::HandOff(cfg) => {
                let line = HandOffLine::new(cfg);
                let _ = tx.try_send(LineEvent::Status(line.status()));
                PhoneLine::HandOff(line)
            }
            LineConfig::Hub(cfg) => PhoneLine::Hub(HubLine::start(cfg, clock, ids, tx)),
            LineConfig::None => {
                let _ = tx.try_send(LineEvent::Status(PhoneLine::none_status()));
                PhoneLine::None
            }
        };
        (line, rx)
    }

    fn none_status() -> LineStatus {
        LineStatus::Offline {
            reason: "no phone line configured".into(),
        }
    }

    /// `baresip` / `hand_off` / `hub` / `none` (the UI's `LineKind`).
    pub fn kind(&self) -> &'static str {
        match self {
            PhoneLine::Baresip(_) => "baresip",
            PhoneLine::HandOff(_) => "hand_off",
            PhoneLine::Hub(_) => "hub",
            PhoneLine::None => "none",
        }
    }

    pub fn status(&self) -> LineStatus {
        match self {
            PhoneLine::Baresip(line) => line.status(),
            PhoneLine::HandOff(line) => line.status(),
            PhoneLine::Hub(line) => line.status(),
            PhoneLine::None => Self::none_status(),
        }
    }

    pub async fn dial(&self, target: &DialTarget) -> Result<(), LineError> {
        match self {
            PhoneLine::Baresip(line) => line.dial(target).await,
            PhoneLine::HandOff(line) => line.dial(target).await,
            PhoneLine::Hub(line) => line.dial(target).await,
            PhoneLine::None => Err(LineError::Offline("no phone line configured".into())),
        }
    }

    /// Answers a ringing incoming call by its `line_call_id`.
    pub async fn answer(&self, line_call_id: &str) -> Result<(), LineError> {
        match self {
            PhoneLine::Baresip(line) => line.answer(line_call_id).await,
            PhoneLine::Hub(line) => line.answer(line_call_id).await,
            _ => Err(LineError::NoActiveCall(line_call_id.to_owned())),
        }
    }

    /// Rejects a ringing incoming call (the record ends as `rejected`).
    pub async fn reject(&self, line_call_id: &str) -> Result<(), LineError> {
        match self {
            PhoneLine::Baresip(line) => line.reject(line_call_id).await,
            PhoneLine::Hub(line) => line.reject(line_call_id).await,
            _ => Err(LineError::NoActiveCall(line_call_id.to_owned())),
        }
    }

    /// Hangs up a call (answered or still ringing out).
    pub async fn hangup(&self, line_call_id: &str) -> Result<(), LineError> {
        match self {
            PhoneLine::Baresip(line) => line.hangup(line_call_id).await,
            PhoneLine::Hub(line) => line.hangup(line_call_id).await,
            _ => Err(LineError::NoActiveCall(line_call_id.to_owned())),
        }
    }

    /// Stops the line (open calls are reported ended as `line_lost`).
    pub async fn shutdown(self) {
        match self {
            PhoneLine::Baresip(line) => line.shutdown().await,
            PhoneLine::Hub(line) => line.shutdown().await,
            PhoneLine::HandOff(_) | PhoneLine::None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlace_core::SystemClock;

    #[tokio::test]
    async fn none_line_is_offline_and_cannot_dial() {
        let (line, mut rx) = PhoneLine::start(
            LineConfig::None,
            Arc::new(SystemClock),
            Arc::new(RandomCallIds::default()),
        );
        assert_eq!(line.kind(), "none");
        assert_eq!(line.status().as_str(), "offline");
        assert!(matches!(
            rx.recv().await,
            Some(LineEvent::Status(LineStatus::Offline { .. }))
        ));
        let err = line
            .dial(&DialTarget::Extension("4000".into()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), enlace_core::ErrorCode::LineOffline);
        assert_eq!(
            line.answer("x").await.unwrap_err().code(),
            enlace_core::ErrorCode::NoActiveCall
        );
    }
}
