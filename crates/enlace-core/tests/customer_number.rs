//! One number resolver for calls and WhatsApp: wa_ids and typed numbers of the same customer
//! resolve to one `NumberKey`, with the E.164 string to dial and every equivalent form.
#![allow(clippy::unwrap_used)]

use enlace_core::{equivalent_digits, Country, CustomerNumber, DialError, DialTarget, NumberKey};

fn country(code: &str) -> Country {
    Country::parse(code).unwrap()
}

/// (input, agent's country, expected key, expected E.164). `wa:` inputs go through
/// `from_wa_id`, the others through `parse`.
const TABLE: &[(&str, &str, &str, &str)] = &[
    // Mexico: the mobile `1` after 52 was retired in 2019; wa_ids still carry it.
    ("wa:5215512345678", "CR", "525512345678", "+525512345678"),
    ("wa:525512345678", "CR", "525512345678", "+525512345678"),
    ("+52 55 1234 5678", "CR", "525512345678", "+525512345678"),
    ("+52 1 55 1234 5678", "CR", "525512345678", "+525512345678"),
    ("55 1234 5678", "MX", "525512345678", "+525512345678"),
    ("044 55 1234 5678", "MX", "525512345678", "+525512345678"),
    ("wa:5213312345678", "MX", "523312345678", "+523312345678"),
    (
        "tel:+52-33-1234-5678",
        "US",
        "523312345678",
        "+523312345678",
    ),
    // Argentina: +54 9 area number (wa_id, international), 0 area 15 number (national),
    // 54 area number (CRMs): one key, 54 + area + number.
    ("wa:5491161234567", "CR", "541161234567", "+5491161234567"),
    ("wa:54111561234567", "CR", "541161234567", "+5491161234567"),
    ("wa:541161234567", "CR", "541161234567", "+541161234567"),
    ("+54 9 11 6123-4567", "MX", "541161234567", "+5491161234567"),
    ("011 15 6123-4567", "AR", "541161234567", "+5491161234567"),
    ("11 15 6123-4567", "AR", "541161234567", "+5491161234567"),
    ("011 6123-4567", "AR", "541161234567", "+541161234567"),
    ("wa:5493516123456", "CR", "543516123456", "+5493516123456"),
    ("0351 15 612-3456", "AR", "543516123456", "+5493516123456"),
    ("+54 351 612-3456", "AR", "543516123456", "+543516123456"),
    ("wa:541143215678", "CR", "541143215678", "+541143215678"),
    // Brazil: mobiles have 9 digits after the 2-digit area code; old contacts and some wa_ids
    // lack the leading 9. Landlines (2 to 5) are never touched.
    ("wa:5511987654321", "CR", "5511987654321", "+5511987654321"),
    ("wa:551187654321", "CR", "5511987654321", "+5511987654321"),
    ("+55 11 8765-4321", "MX", "5511987654321", "+5511987654321"),
    ("(11) 8765-4321", "BR", "5511987654321", "+5511987654321"),
    ("(11) 98765-4321", "BR", "5511987654321", "+5511987654321"),
    (
        "0 21 11 98765-4321",
        "BR",
        "5511987654321",
        "+5511987654321",
    ),
    ("wa:552166543210", "CR", "5521966543210", "+5521966543210"),
    ("wa:551134567890", "CR", "551134567890", "+551134567890"),
    ("(11) 3456-7890", "BR", "551134567890", "+551134567890"),
    ("wa:556135678901", "CR", "556135678901", "+556135678901"),
    // Elsewhere the key is the E.164 digits.
    ("wa:50688881234", "MX", "50688881234", "+50688881234"),
    ("8888-1234", "CR", "50688881234", "+50688881234"),
    ("wa:12015550123", "CR", "12015550123", "+12015550123"),
    (
        "+1 (201) 555-0123 ext. 9",
        "CR",
        "12015550123",
        "+12015550123",
    ),
];

fn resolve(input: &str, agent: &str) -> Result<CustomerNumber, DialError> {
    match input.strip_prefix("wa:") {
        Some(wa_id) => CustomerNumber::from_wa_id(wa_id),
        None => CustomerNumber::parse(input, country(agent)),
    }
}

#[test]
fn table_of_keys_and_e164() {
    for (input, agent, key, e164) in TABLE {
        let number = resolve(input, agent).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(number.key().as_str(), *key, "key of {input}");
        assert_eq!(number.e164(), *e164, "E.164 of {input}");
        assert_eq!(
            number.dial_target(),
            DialTarget::Number {
                e164: (*e164).to_owned(),
                extension: None
            }
        );
        // Every form of every row resolves to the same key.
        for form in number.international_forms() {
            let again = CustomerNumber::from_wa_id(form).unwrap();
            assert_eq!(again.key().as_str(), *key, "{input}: form {form}");
        }
        let home = number.country().unwrap();
        for form in number.national_forms() {
            let again = CustomerNumber::parse(form, home).unwrap();
            assert_eq!(again.key().as_str(), *key, "{input}: national form {form}");
        }
        assert_eq!(NumberKey::parse(key).unwrap().as_str(), *key);
        assert_eq!(number.equivalent_forms().first().unwrap(), key);
    }
}

#[test]
fn mexican_forms_with_and_without_the_one() {
    let number = CustomerNumber::from_wa_id("5215512345678").unwrap();
    assert_eq!(
        number.international_forms(),
        ["525512345678", "5215512345678"]
    );
    assert_eq!(number.national_forms(), ["5512345678"]);
    assert_eq!(number.display(), "+52 55 1234 5678");
    assert_eq!(number.country(), Some(country("MX")));
}

#[test]
fn argentine_forms_with_nine_with_fifteen_and_plain() {
    let expected_international = ["541161234567", "5491161234567", "54111561234567"];
    let expected_national = ["1161234567", "111561234567"];
    for input in ["5491161234567", "54111561234567", "541161234567"] {
        let number = CustomerNumber::from_wa_id(input).unwrap();
        let mut international = number.international_forms().to_vec();
        international.sort();
        let mut expected = expected_international.map(str::to_owned).to_vec();
        expected.sort();
        assert_eq!(international, expected, "{input}");
        assert_eq!(number.national_forms(), expected_national, "{input}");
    }
    let mobile = CustomerNumber::from_wa_id("5491161234567").unwrap();
    assert_eq!(mobile.display(), "+54 9 11 6123-4567");
}

#[test]
fn brazilian_mobile_forms_with_and_without_the_ninth_digit() {
    for input in ["5511987654321", "551187654321"] {
        let number = CustomerNumber::from_wa_id(input).unwrap();
        assert_eq!(
            number.international_forms(),
            ["5511987654321", "551187654321"]
        );
        assert_eq!(number.national_forms(), ["11987654321", "1187654321"]);
        assert_eq!(number.display(), "+55 11 98765-4321");
    }
}

#[test]
fn brazilian_landlines_and_valid_ten_digit_mobiles_keep_their_digits() {
    let landline = CustomerNumber::from_wa_id("551134567890").unwrap();
    assert_eq!(landline.international_forms(), ["551134567890"]);
    assert_eq!(landline.national_forms(), ["1134567890"]);
    // 7 + 7 digits is a valid (trunked-radio) mobile in the metadata: a different number
    // from 11 97654-3210, so neither gets the other's form.
    let short = CustomerNumber::from_wa_id("551176543210").unwrap();
    assert_eq!(short.key().as_str(), "551176543210");
    let long = CustomerNumber::from_wa_id("5511976543210").unwrap();
    assert_eq!(long.international_forms(), ["5511976543210"]);
}

#[test]
fn equivalent_digits_puts_the_key_first_and_keeps_the_typed_digits() {
    assert_eq!(
        equivalent_digits("+52 1 55 1234 5678", country("CR")),
        ["525512345678", "5215512345678", "5512345678"]
    );
    assert_eq!(
        equivalent_digits("(11) 8765-4321", country("BR")),
        ["5511987654321", "551187654321", "11987654321", "1187654321"]
    );
    assert_eq!(
        equivalent_digits("0351 15 612-3456", country("AR")),
        [
            "543516123456",
            "5493516123456",
            "54351156123456",
            "3516123456",
            "351156123456",
            "0351156123456"
        ]
    );
}

#[test]
fn what_is_not_a_customer_number_is_refused_with_a_code() {
    assert_eq!(CustomerNumber::from_wa_id(""), Err(DialError::Empty));
    assert_eq!(CustomerNumber::from_wa_id("  "), Err(DialError::Empty));
    assert_eq!(
        CustomerNumber::from_wa_id("52 55 1234"),
        Err(DialError::NotAPhoneNumber)
    );
    assert_eq!(
        CustomerNumber::from_wa_id("wamid.HBgL"),
        Err(DialError::NotAPhoneNumber)
    );
    assert_eq!(
        CustomerNumber::from_wa_id("123"),
        Err(DialError::InvalidNumber)
    );
    assert_eq!(
        CustomerNumber::from_wa_id(&"5".repeat(18)),
        Err(DialError::InvalidNumber)
    );
    assert_eq!(
        CustomerNumber::from_wa_id(&"5".repeat(300)),
        Err(DialError::TooLong)
    );
    assert_eq!(
        CustomerNumber::parse("4000", country("CR")),
        Err(DialError::NotAPhoneNumber)
    );
    assert_eq!(NumberKey::parse("abc"), None);
    // A leading + and whitespace are tolerated.
    assert_eq!(
        CustomerNumber::from_wa_id(" +5215512345678\n")
            .unwrap()
            .key()
            .as_str(),
        "525512345678"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const COUNTRIES: &[&str] = &["MX", "AR", "BR", "CR", "US", "CO"];

    /// International digits shaped like Mexican, Argentine and Brazilian numbers in all
    /// their forms (with and without `1`, `9`, `15`, ninth digit), and a few others.
    fn international_digits() -> impl Strategy<Value = String> {
        let mexico = (
            proptest::sample::select(vec!["52", "521"]),
            proptest::sample::select(vec!["55", "33", "81", "222", "999"]),
            "[0-9]{8}",
        )
            .prop_map(|(cc, area, rest)| {
                let rest = &rest[..10 - area.len()];
                format!("{cc}{area}{rest}")
            });
        let argentina = (
            proptest::sample::select(vec!["54", "549"]),
            proptest::sample::select(vec!["11", "351", "341", "221", "2652", "3327"]),
            proptest::bool::ANY,
            "[2-8][0-9]{7}",
        )
            .prop_map(|(cc, area, fifteen, rest)| {
                let rest = &rest[..10 - area.len()];
                let mid = if fifteen { "15" } else { "" };
                format!("{cc}{area}{mid}{rest}")
            });
        let brazil = (
            proptest::sample::select(vec!["11", "21", "31", "61", "85", "47"]),
            proptest::sample::select(vec!["", "9"]),
            "[0-9]{8}",
        )
            .prop_map(|(area, nine, rest)| format!("55{area}{nine}{rest}"));
        let other = "(506|1|57)[0-9]{7,10}";
        prop_oneof![mexico, argentina, brazil, other.prop_map(|s| s)]
    }

    fn agent_country() -> impl Strategy<Value = Country> {
        proptest::sample::select(COUNTRIES).prop_map(country)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_on_any_input(input in "\\PC{0,40}", agent in agent_country()) {
            let _ = CustomerNumber::from_wa_id(&input);
            let _ = CustomerNumber::parse(&input, agent);
            let _ = NumberKey::parse(&input);
            let _ = equivalent_digits(&input, agent);
        }

        #[test]
        fn never_panics_on_digits(input in "\\+?[0-9]{0,24}", agent in agent_country()) {
            let _ = CustomerNumber::from_wa_id(&input);
            let _ = CustomerNumber::parse(&input, agent);
            let _ = equivalent_digits(&input, agent);
        }

        #[test]
        fn key_is_idempotent_and_every_form_resolves_to_it(digits in international_digits()) {
            let Ok(number) = CustomerNumber::from_wa_id(&digits) else {
                return Ok(());
            };
            let key = number.key().clone();
            prop_assert_eq!(NumberKey::parse(key.as_str()), Some(key.clone()));
            let from_e164 = CustomerNumber::from_wa_id(number.e164()).unwrap();
            prop_assert_eq!(from_e164.key(), &key);
            prop_assert_eq!(number.equivalent_forms().first(), Some(&key.as_str().to_owned()));
            for form in number.international_forms() {
                let again = CustomerNumber::from_wa_id(form);
                prop_assert_eq!(again.as_ref().map(CustomerNumber::key), Ok(&key), "form {}", form);
            }
            let home = number.country().unwrap();
            for form in number.national_forms() {
                let again = CustomerNumber::parse(form, home);
                prop_assert_eq!(again.as_ref().map(CustomerNumber::key), Ok(&key), "national form {}", form);
            }
            // The digits as received are among the lookup forms.
            let lookups = equivalent_digits(&digits, home);
            prop_assert!(lookups.contains(&digits));
            prop_assert_eq!(lookups.first(), Some(&key.as_str().to_owned()));
        }

        #[test]
        fn typed_numbers_resolve_like_their_e164(digits in international_digits(), agent in agent_country()) {
            let Ok(number) = CustomerNumber::from_wa_id(&digits) else {
                return Ok(());
            };
            let typed = format!("+{digits}");
            let parsed = CustomerNumber::parse(&typed, agent).unwrap();
            prop_assert_eq!(parsed.key(), number.key());
            prop_assert_eq!(parsed.e164(), number.e164());
        }
    }
}
