//! The digit forms a number is searched under in the CRMs and the contacts cache.
#![allow(clippy::unwrap_used)]

use enlace_core::{equivalent_digits, Country};

fn forms(input: &str, country: &str) -> Vec<String> {
    equivalent_digits(input, Country::parse(country).unwrap())
}

#[test]
fn national_and_international_forms_are_equivalent() {
    let expected = vec!["50688881234".to_owned(), "88881234".to_owned()];
    assert_eq!(forms("8888-1234", "CR"), expected);
    assert_eq!(forms("+506 8888 1234", "CR"), expected);
    assert_eq!(forms("tel:+50688881234", "MX"), expected);
    // Typed with the international prefix: the typed digits are kept too.
    assert_eq!(
        forms("00506 8888 1234", "CR"),
        vec!["50688881234", "88881234", "0050688881234"]
    );
}

#[test]
fn us_number_keeps_country_code_and_ten_digits() {
    assert_eq!(
        forms("(415) 555-1212", "US"),
        vec!["14155551212", "4155551212"]
    );
}

#[test]
fn partial_or_invalid_input_gives_its_digits() {
    assert_eq!(forms("555-12", "CR"), vec!["55512"]);
    assert_eq!(forms("ext 1001", "CR"), vec!["1001"]);
    assert!(forms("Ana María", "CR").is_empty());
    assert!(forms("", "CR").is_empty());
}
