//! `enlace-core` is the pure domain of Enlace: phone numbers and dial targets (`tel:`,
//! `callto:`, `sip:` parsing and normalization), customer numbers (one key for calls,
//! WhatsApp and CRMs: [`CustomerNumber`]), calls and their life cycle, stable error
//! codes, CRM records as the app sees them and the injected [`Clock`]. It performs no I/O and depends on no other crate of ours.
//!
//! To extend: add a module per domain concept; keep types free of `Serialize` (wire types
//! live in `src-tauri`), and give every new error a stable [`ErrorCode`].

pub mod call;
pub mod clock;
pub mod crm;
pub mod dial;
pub mod error;
pub mod number;

pub use call::{CallDirection, CallId, CallRecord, CallStatus, EndReason, LogState};
pub use clock::{Clock, SystemClock, Timestamp};
pub use crm::{CallActivity, Contact, ContactKind, Crm, NewContact, RecordRef};
pub use dial::{
    digits_only, equivalent_digits, format_for_display, parse_dial_uri, Country, DialError,
    DialTarget, MAX_EXTENSION_LEN, MAX_INPUT_BYTES, MAX_LOCAL_DIGITS, REGEX_CACHE_CAPACITY,
};
pub use error::ErrorCode;
pub use number::{CustomerNumber, NumberKey};
