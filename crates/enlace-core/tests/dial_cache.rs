//! The numbering data is built once and its compiled patterns stay cached: parsing the same
//! realistic mix again compiles nothing new. (Its own test binary, so no other test shares
//! the process-wide cache.)

use enlace_core::{format_for_display, parse_dial_uri, Country, REGEX_CACHE_CAPACITY};

const MIX: &[(&str, &str)] = &[
    ("tel:+50640004000", "CR"),
    ("tel:+1-201-555-0123;ext=102", "CR"),
    ("tel:863-1234;phone-context=+1-914-555", "US"),
    ("8888-1234", "CR"),
    ("(55) 1234 5678", "MX"),
    ("tel:+52 1 55 1234 5678", "MX"),
    ("+54 9 11 2345-6789", "AR"),
    ("tel:+5511987654321", "BR"),
    ("tel:+56227609072", "CL"),
    ("tel:+5116409850", "PE"),
    ("tel:+5078366060", "PA"),
    ("tel:+13056445535", "CO"),
    ("tel:+50222123456", "GT"),
    ("tel:+50321234567", "SV"),
    ("tel:+50422123456", "HN"),
    ("tel:+50522123456", "NI"),
    ("tel:+593991234567", "EC"),
    ("tel:+59822012345", "UY"),
    ("tel:+18095551234", "DO"),
    ("tel:+34912345678", "ES"),
    ("tel:+442079460000", "GB"),
    ("tel:+4930123456", "DE"),
    ("4000", "CR"),
];

fn cached_patterns() -> usize {
    phonenumber::metadata::DATABASE
        .cache()
        .lock()
        .map(|cache| cache.len())
        .unwrap_or(usize::MAX)
}

fn parse_all() -> usize {
    let mut ok = 0;
    for (input, country) in MIX {
        let country = Country::parse(country).expect("known country");
        if let Ok(target) = parse_dial_uri(input, country) {
            ok += 1;
            assert!(!format_for_display(&target).is_empty());
        }
    }
    ok
}

#[test]
fn second_pass_compiles_nothing() {
    assert_eq!(parse_all(), MIX.len());
    let capacity = phonenumber::metadata::DATABASE
        .cache()
        .lock()
        .map(|cache| cache.capacity())
        .unwrap_or(0);
    assert_eq!(capacity, REGEX_CACHE_CAPACITY);
    let after_first = cached_patterns();
    // Strictly below capacity: nothing was evicted, so an unchanged count means nothing new.
    assert!(after_first < REGEX_CACHE_CAPACITY, "{after_first}");
    assert!(
        after_first > 100,
        "the mix needs more than the default 100 patterns: {after_first}"
    );
    for _ in 0..3 {
        assert_eq!(parse_all(), MIX.len());
        assert_eq!(
            cached_patterns(),
            after_first,
            "patterns were compiled again"
        );
    }
}
