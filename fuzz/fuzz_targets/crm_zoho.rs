//! Fuzz how Enlace reads Zoho's replies (`enlace-crm`): token replies (code and refresh
//! grants: lifetime, API domain), Contacts/Leads searches, COQL queries, inserts, error
//! envelopes, the invalid-token check, and the sign-in redirect's `accounts-server` and
//! `location`.
//! A CRM's reply (or whatever answers at its address: a proxy, a captive portal) is untrusted.
//!
//! Input: byte 0 picks the operation, bytes 1-2 the HTTP status, byte 3 the content type; the
//! rest is the body. Properties: no panic; errors have a stable code and print.
#![no_main]

use enlace_crm::fuzzing::zoho;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [&str; 4] = [
    "application/json;charset=UTF-8",
    "text/html",
    "",
    "api-usage=18/15000",
];

fuzz_target!(|data: &[u8]| {
    let [op, hi, lo, ct, body @ ..] = data else {
        return;
    };
    // Mostly real statuses (100-599); sometimes anything.
    let raw = u16::from_be_bytes([*hi, *lo]);
    let status = if raw & 0x8000 == 0 {
        100 + raw % 500
    } else {
        raw
    };
    let content_type = CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()];
    let text = zoho::reply(*op, status, content_type, body);
    assert!(!text.is_empty());
});
