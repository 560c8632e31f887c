//! Property tests of `parse_dial_uri`: it never panics, whatever it is given, and what it
//! accepts is always safe to hand to a phone line and stable under re-parsing.

use enlace_core::{parse_dial_uri, Country, DialTarget, MAX_LOCAL_DIGITS};
use proptest::prelude::*;

const COUNTRIES: &[&str] = &["CR", "MX", "US", "AR", "BR", "CO", "ES", "DE", "NZ", "GT"];

fn country() -> impl Strategy<Value = Country> {
    proptest::sample::select(COUNTRIES)
        .prop_map(|c| Country::parse(c).unwrap_or_else(|e| panic!("{c}: {e}")))
}

/// Valid numbers of several countries (international, national, with prefixes), with random
/// separators between the digits.
fn realistic_number() -> impl Strategy<Value = String> {
    const NUMBERS: &[&str] = &[
        "+50640004000",
        "+50688881234",
        "88881234",
        "0050640004000",
        "+12015550123",
        "2015550123",
        "+525512345678",
        "5512345678",
        "+5215512345678",
        "0445512345678",
        "+5491123456789",
        "+5511987654321",
        "+6433316005",
    ];
    let seps = proptest::collection::vec(
        proptest::sample::select(vec!["", "", "", " ", "-", ".", "(", ")", "%20", "\u{a0}"]),
        16,
    );
    (proptest::sample::select(NUMBERS), seps).prop_map(|(number, seps)| {
        let mut out = String::new();
        for (c, sep) in number.chars().zip(seps.iter().cycle()) {
            out.push(c);
            out.push_str(sep);
        }
        out
    })
}

/// Inputs shaped like links and typed numbers, so that many of them parse.
fn link_like() -> impl Strategy<Value = String> {
    let scheme = proptest::sample::select(vec![
        "",
        "tel:",
        "TEL:",
        "tel://",
        "callto:",
        "callto://",
        "sip:",
        "sips:",
        "callto:sip:",
        "Tel: ",
    ]);
    let number = prop_oneof![
        realistic_number(),
        "[0-9*#]{1,6}",
        "[+]?[0-9 ().#*,-]{1,18}",
        "[+]?(%2B|%20|[0-9]){1,16}",
    ];
    let user_host =
        proptest::sample::select(vec!["", "@pbx", "@10.0.0.1;user=phone", "@h?Subject=x"]);
    let param = proptest::sample::select(vec![
        "",
        ";ext=102",
        ";ext=1-2",
        ";phone-context=+1-914-555",
        ";phone-context=+506",
        ";phone-context=example.com",
        ";isub=12",
        ";npdi",
        "?call",
        ",,5",
        " x12",
    ]);
    (scheme, number, user_host, param).prop_map(|(s, n, u, p)| format!("{s}{n}{p}{u}"))
}

/// Every accepted result is dialable and nothing else.
fn assert_safe(input: &str, target: &DialTarget) {
    match target {
        DialTarget::Number { e164, extension } => {
            let digits = e164
                .strip_prefix('+')
                .unwrap_or_else(|| panic!("{input:?} → {e164:?} lacks +"));
            assert!(
                !digits.is_empty()
                    && digits.len() <= 15
                    && digits.bytes().all(|b| b.is_ascii_digit()),
                "{input:?} → e164 {e164:?}"
            );
            if let Some(ext) = extension {
                assert!(
                    !ext.is_empty()
                        && ext.len() <= MAX_LOCAL_DIGITS
                        && ext.bytes().all(|b| b.is_ascii_digit()),
                    "{input:?} → ext {ext:?}"
                );
            }
        }
        DialTarget::Extension(ext) => {
            assert!(
                !ext.is_empty()
                    && ext.len() <= MAX_LOCAL_DIGITS
                    && ext
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'),
                "{input:?} → extension {ext:?}"
            );
            assert!(
                ext.bytes().any(|b| b.is_ascii_digit()),
                "{input:?} → extension {ext:?}"
            );
        }
    }
    let dial = target.dial_string();
    assert!(
        dial.bytes()
            .all(|b| b.is_ascii_digit() || b == b'+' || b == b'*' || b == b'#'),
        "{input:?} → dial {dial:?}"
    );
}

/// `tel:<e164>` of a number parses back to the same number, whatever the agent's country.
fn assert_idempotent(input: &str, target: &DialTarget, country: Country) {
    if let DialTarget::Number { e164, extension } = target {
        let again = parse_dial_uri(&format!("tel:{e164}"), country);
        assert_eq!(
            again,
            Ok(DialTarget::Number {
                e164: e164.clone(),
                extension: None
            }),
            "{input:?} → {e164} does not re-parse"
        );
        if let Some(ext) = extension {
            let again = parse_dial_uri(&format!("tel:{e164};ext={ext}"), country);
            assert_eq!(
                again,
                Ok(target.clone()),
                "{input:?} with ext does not re-parse"
            );
        }
    }
}

fn check(input: &str, country: Country) {
    if let Ok(target) = parse_dial_uri(input, country) {
        assert_safe(input, &target);
        assert_idempotent(input, &target, country);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>(), country in country()) {
        check(&input, country);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), country in country()) {
        check(&String::from_utf8_lossy(&bytes), country);
    }

    #[test]
    fn percent_encoded_bytes_never_panic(
        scheme in proptest::sample::select(vec!["tel:", "callto:", "sip:"]),
        bytes in proptest::collection::vec(any::<u8>(), 0..80),
        country in country(),
    ) {
        let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        check(&format!("{scheme}{encoded}"), country);
    }

    #[test]
    fn link_like_inputs_are_safe_and_idempotent(input in link_like(), country in country()) {
        check(&input, country);
    }

    #[test]
    fn global_numbers_are_safe_and_idempotent(
        digits in "[1-9][0-9]{6,14}",
        sep in proptest::sample::select(vec!["", " ", "-", "."]),
        scheme in proptest::sample::select(vec!["tel:", "callto://", "", "sip:"]),
        country in country(),
    ) {
        let (head, tail) = digits.split_at(3);
        check(&format!("{scheme}+{head}{sep}{tail}"), country);
    }
}

#[test]
fn link_like_strategy_reaches_accepted_numbers() {
    // Guards the properties above against a generator that (almost) never produces an Ok
    // result, which would make "every Ok result is safe" vacuous.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (link_like(), country());
    let (mut numbers, mut extensions) = (0, 0);
    for _ in 0..500 {
        let (input, country) = strategy.new_tree(&mut runner).expect("value").current();
        match parse_dial_uri(&input, country) {
            Ok(DialTarget::Number { .. }) => numbers += 1,
            Ok(DialTarget::Extension(_)) => extensions += 1,
            Err(_) => {}
        }
    }
    assert!(
        numbers >= 25,
        "only {numbers} numbers in 500 link-like inputs"
    );
    assert!(
        extensions >= 25,
        "only {extensions} extensions in 500 link-like inputs"
    );
}

/// Found by the `dial` fuzz target: a Brazilian premium-rate number written nationally
/// (`0900 053 0880`) was accepted as `+559000530880`, which itself does not parse back. A number
/// is accepted only in a form that re-parses to itself.
#[test]
fn a_national_number_whose_e164_does_not_reparse_is_refused() {
    let brazil = Country::parse("BR").unwrap();
    check("09-000-53088-0", brazil);
    assert!(parse_dial_uri("09-000-53088-0", brazil).is_err());
}

/// Found by `global_numbers_are_safe_and_idempotent`: `+7 888 179 502 361` was taken as
/// `+7 817 950 2361` (Russia's trunk `8` stripped from an international number), a different
/// number that does not even parse back. It is refused, not dialed as another number.
#[test]
fn an_international_number_is_never_turned_into_another_one() {
    for country in ["RU", "CR", "US"] {
        let country = Country::parse(country).unwrap();
        check("sip:+788.8179502361", country);
        assert!(parse_dial_uri("tel:+7888179502361", country).is_err());
    }
}
