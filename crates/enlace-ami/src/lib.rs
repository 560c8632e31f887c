//! `enlace-ami`: the Asterisk Manager Interface (AMI) client used by the hub.
//!
//! It owns three things:
//! * [`packet`]: the wire format ([`Packet`], [`Frame`], the streaming [`Decoder`] with limits
//!   and resynchronization),
//! * [`client`]: [`AmiClient`], one supervised tokio connection (login, `Events: on`, ActionID
//!   correlation, list actions, Ping keep-alive, time-outs, reconnection with back-off) plus the
//!   typed actions the hub needs (Originate, QueueAdd/QueueRemove/QueuePause),
//! * [`tracker`]: [`CallTracker`], which turns events into each agent's calls ([`PbxCall`]),
//!   each phase announced once ([`CallChange`]), and failed Originates into dial attempts.
//!
//! To add an action, build it on [`AmiClient::action`] (single reply) or [`AmiClient::list`]
//! (event list) in `client.rs`. To follow a new event in calls, extend
//! `CallTracker::apply_leg` in `tracker.rs`; keep every fact order-independent.
//! Facts: `../shared/reference/api-facts.md` section D and the transcript in `tests/data/`.

pub mod client;
pub mod error;
pub mod packet;
pub mod tracker;

pub use client::{AmiClient, AmiConfig, AmiEvent, Originate, OriginateOutcome};
pub use error::AmiError;
pub use packet::{Decoder, Frame, Packet, MAX_FIELDS, MAX_LINE};
pub use tracker::{CallChange, CallTracker, DialFailure, Direction, PbxCall, PbxCallState};
