//! Fuzz `parse_dial_uri`: it must never panic, and whatever it accepts must be dialable.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run dial` (or `cargo +nightly fuzz run dial`).
#![no_main]

use enlace_core::{format_for_display, parse_dial_uri, Country, DialTarget};
use libfuzzer_sys::fuzz_target;

const COUNTRIES: [&str; 6] = ["CR", "MX", "US", "AR", "BR", "NZ"];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the agent's country; the rest is the link.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(country) = Country::parse(COUNTRIES[usize::from(pick) % COUNTRIES.len()]) else {
        return;
    };
    let input = String::from_utf8_lossy(rest);
    let Ok(target) = parse_dial_uri(&input, country) else {
        return;
    };
    let dial = target.dial_string();
    match &target {
        DialTarget::Number { e164, extension } => {
            assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()));
            assert!(extension
                .as_deref()
                .is_none_or(|ext| ext.bytes().all(|b| b.is_ascii_digit())));
            // Re-parsing the E.164 form gives the same number.
            let again = parse_dial_uri(&format!("tel:{e164}"), country);
            assert!(matches!(again, Ok(DialTarget::Number { e164: ref e, .. }) if e == e164));
        }
        DialTarget::Extension(ext) => {
            assert!(ext
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'));
        }
    }
    assert!(!dial.is_empty());
    let _ = format_for_display(&target);
});
