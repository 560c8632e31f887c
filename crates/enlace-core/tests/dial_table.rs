//! Table test of `parse_dial_uri`: every supported form and every rejection, with the expected
//! target or stable error code.

use enlace_core::{
    digits_only, format_for_display, parse_dial_uri, Country, DialError, DialTarget, ErrorCode,
    MAX_INPUT_BYTES,
};

#[derive(Debug)]
enum Expect {
    Num(&'static str),
    NumExt(&'static str, &'static str),
    Ext(&'static str),
    Err(&'static str),
}
use Expect::{Err as E, Ext, Num, NumExt};

const ROWS: &[(&str, &str, Expect)] = &[
    // --- the exact rows from the issue (country CR) ---
    ("tel:+50640004000", "CR", Num("+50640004000")),
    ("tel:4000", "CR", Ext("4000")),
    ("callto://+50640004000", "CR", Num("+50640004000")),
    ("callto:+506 4000 4000", "CR", Num("+50640004000")),
    ("tel:%2B506%204000-4000", "CR", Num("+50640004000")),
    ("TEL:+506-4000-4000", "CR", Num("+50640004000")),
    ("tel://+50640004000", "CR", Num("+50640004000")),
    (
        "tel:+1-201-555-0123;ext=102",
        "CR",
        NumExt("+12015550123", "102"),
    ),
    (
        "tel:863-1234;phone-context=+1-914-555",
        "CR",
        Num("+19148631234"),
    ),
    ("tel:7042;phone-context=example.com", "CR", Ext("7042")),
    (
        "sip:+50640004000@10.0.0.1;user=phone",
        "CR",
        Num("+50640004000"),
    ),
    ("callto:skypename", "CR", E("not_a_phone_number")),
    ("mailto:a@b.c", "CR", E("unsupported_scheme")),
    ("", "CR", E("empty")),
    // --- tel: (RFC 3966) ---
    ("tel:+506.4000.4000", "CR", Num("+50640004000")),
    ("tel:+506(4000)4000", "CR", Num("+50640004000")),
    ("tel:+506%204000%204000", "CR", Num("+50640004000")),
    ("tel:+506 8888 1234", "CR", Num("+50688881234")),
    ("Tel: 8888-1234", "CR", Num("+50688881234")),
    ("tel:+50640004000;isub=1411", "CR", Num("+50640004000")),
    (
        "tel:+50640004000;npdi;rn=+506-4000-4001",
        "CR",
        Num("+50640004000"),
    ),
    ("tel:+50640004000;user=phone;", "CR", Num("+50640004000")),
    ("tel:+50640004000;EXT=7", "CR", NumExt("+50640004000", "7")),
    (
        "tel:+50688881234;ext=1-2-3",
        "CR",
        NumExt("+50688881234", "123"),
    ),
    (
        "tel:+50640004000;phone-context=example.com",
        "CR",
        Num("+50640004000"),
    ),
    (
        "tel:03-331-6005;phone-context=+64",
        "CR",
        Num("+6433316005"),
    ),
    ("tel:331-6005;phone-context=+64-3", "CR", Num("+6433316005")),
    ("tel:4000;phone-context=+506", "CR", E("invalid_number")),
    ("tel:8631234;phone-context=+999", "CR", E("invalid_number")),
    ("tel:*21#;phone-context=+49", "CR", Ext("*21#")),
    ("tel:*21%23;phone-context=+49", "CR", Ext("*21#")),
    ("tel:8568;phone-context=pbx.example.com", "MX", Ext("8568")),
    ("tel:+5491123456789", "CR", Num("+5491123456789")),
    ("tel:+5511987654321", "MX", Num("+5511987654321")),
    // --- cut-offs: ? query, , pause, # fragment/pause on global numbers ---
    ("tel:+50640004000?call", "CR", Num("+50640004000")),
    ("callto:+50640004000,,,123", "CR", Num("+50640004000")),
    ("tel:+50640004000#frag", "CR", Num("+50640004000")),
    (
        "tel:+1-201-555-0123;ext=102,5",
        "CR",
        NumExt("+12015550123", "102"),
    ),
    // --- callto: ---
    ("Callto:+50640004000", "CR", Num("+50640004000")),
    ("CALLTO://+506-4000-4000", "CR", Num("+50640004000")),
    ("callto:%2B50640004000", "CR", Num("+50640004000")),
    ("callto:+506%204000%204000", "CR", Num("+50640004000")),
    ("callto:tel:+50640004000", "CR", Num("+50640004000")),
    ("callto:sip:+50640004000@pbx", "CR", Num("+50640004000")),
    ("callto:user@domain.com", "CR", E("not_a_phone_number")),
    ("callto:sip:user@domain.com", "CR", E("not_a_phone_number")),
    ("callto:javascript:alert(1)", "CR", E("unsupported_scheme")),
    // --- sip:/sips: ---
    (
        "sips:+50640004000@pbx.example.com;transport=tls",
        "CR",
        Num("+50640004000"),
    ),
    ("sip:4000@pbx", "CR", Ext("4000")),
    ("sip:8568@10.0.0.1", "CR", Ext("8568")),
    ("sip:077@pbx", "CR", Ext("077")),
    (
        "SIP:+1-201-555-0123:secret@gw.example.com;user=phone",
        "CR",
        Num("+12015550123"),
    ),
    (
        "sip:+50640004000@pbx?Subject=hello",
        "CR",
        Num("+50640004000"),
    ),
    ("sip:alice@example.com", "CR", E("not_a_phone_number")),
    ("sip:@pbx", "CR", E("not_a_phone_number")),
    // --- Mexico ---
    ("tel:+52 1 55 1234 5678", "MX", Num("+525512345678")),
    ("+5215512345678", "CR", Num("+525512345678")),
    ("tel:+525512345678", "MX", Num("+525512345678")),
    ("(55) 1234 5678", "MX", Num("+525512345678")),
    ("55 1234 5678", "MX", Num("+525512345678")),
    ("044 55 1234 5678", "MX", Num("+525512345678")),
    ("01 55 1234 5678", "MX", Num("+525512345678")),
    ("1 55 1234 5678", "MX", Num("+525512345678")),
    ("00 52 1 55 1234 5678", "CR", Num("+525512345678")),
    ("tel:4000", "MX", Ext("4000")),
    // --- Brazil: an old 8-digit mobile is dialed with its ninth digit; landlines never ---
    ("tel:+55 11 8765-4321", "CR", Num("+5511987654321")),
    ("(11) 8765-4321", "BR", Num("+5511987654321")),
    ("tel:+55 21 6654-3210", "BR", Num("+5521966543210")),
    ("tel:+55 11 3456-7890", "BR", Num("+551134567890")),
    ("(11) 3456-7890", "BR", Num("+551134567890")),
    // --- Argentina: mobiles are dialed +54 9 area number, nationally 0 area 15 number ---
    ("tel:+54 11 15 6123-4567", "CR", Num("+5491161234567")),
    ("011 15 6123-4567", "AR", Num("+5491161234567")),
    ("tel:+54 11 6123-4567", "CR", Num("+541161234567")),
    // --- typed on the dial pad ---
    ("8888-1234", "CR", Num("+50688881234")),
    ("8888 1234", "CR", Num("+50688881234")),
    ("506 8888 1234", "CR", Num("+50688881234")),
    ("00 506 8888 1234", "CR", Num("+50688881234")),
    ("011 506 8888 1234", "US", Num("+50688881234")),
    ("+1 (201) 555-0123", "CR", Num("+12015550123")),
    ("201-555-0123", "US", Num("+12015550123")),
    ("+1 201 555 0123 x102", "CR", NumExt("+12015550123", "102")),
    ("201.555.0123 ext. 7", "US", NumExt("+12015550123", "7")),
    ("  +506 4000 4000\n", "CR", Num("+50640004000")),
    ("\u{202a}+506 4000 4000\u{202c}", "CR", Num("+50640004000")),
    ("+506 4000\u{2013}4000", "CR", Num("+50640004000")),
    ("4000", "CR", Ext("4000")),
    ("077", "CR", Ext("077")),
    ("8568", "CR", Ext("8568")),
    ("123456", "CR", Ext("123456")),
    ("*21#", "CR", Ext("*21#")),
    ("*72", "US", Ext("*72")),
    // --- invalid numbers ---
    ("1234567", "CR", E("invalid_number")),
    ("tel:+999123456", "CR", E("invalid_number")),
    ("tel:+5064000", "CR", E("invalid_number")),
    ("88881234", "MX", E("invalid_number")),
    ("*7288881234", "CR", E("invalid_number")),
    (
        "tel:12345678901234567890;phone-context=example.com",
        "CR",
        E("invalid_number"),
    ),
    // --- extensions that are not ---
    ("tel:+1-201-555-0123;ext=abc", "CR", E("invalid_extension")),
    ("tel:+1-201-555-0123;ext=", "CR", E("invalid_extension")),
    ("tel:4000;ext=1", "CR", E("invalid_extension")),
    (
        "tel:7042;phone-context=example.com;ext=1",
        "CR",
        E("invalid_extension"),
    ),
    // --- other schemes ---
    (
        "http://example.com/tel:+50640004000",
        "CR",
        E("unsupported_scheme"),
    ),
    (
        "https://api.whatsapp.com/send?phone=50640004000",
        "CR",
        E("unsupported_scheme"),
    ),
    ("javascript:alert(1)", "CR", E("unsupported_scheme")),
    ("skype:+50640004000?call", "CR", E("unsupported_scheme")),
    ("mailto:soporte@example.com", "CR", E("unsupported_scheme")),
    ("file:///etc/passwd", "CR", E("unsupported_scheme")),
    // --- not phone numbers ---
    ("1-800-LAWYERS", "US", E("not_a_phone_number")),
    ("tel:1-800-FLOWERS", "US", E("not_a_phone_number")),
    ("tel:+", "CR", E("not_a_phone_number")),
    ("tel:()", "CR", E("not_a_phone_number")),
    ("tel:+506+4000", "CR", E("not_a_phone_number")),
    ("tel:%FF%FE", "CR", E("not_a_phone_number")),
    ("tel:4000;phone-context=", "CR", E("not_a_phone_number")),
    ("tel:4000;phone-context=a_b", "CR", E("not_a_phone_number")),
    (
        "tel:ABC;phone-context=example.com",
        "CR",
        E("not_a_phone_number"),
    ),
    ("ext 102", "CR", E("not_a_phone_number")),
    ("%2B50640004000", "CR", E("not_a_phone_number")),
    // --- shell and script characters ---
    ("tel:+1;rm -rf /", "CR", E("forbidden_character")),
    ("tel:+50640004000`reboot`", "CR", E("forbidden_character")),
    ("tel:+50640004000$(reboot)", "CR", E("forbidden_character")),
    ("callto:+506|sh", "CR", E("forbidden_character")),
    (
        "tel:+50640004000;x=%24%28id%29",
        "CR",
        E("forbidden_character"),
    ),
    ("tel:+50640004000?a=1&b=2", "CR", E("forbidden_character")),
    ("+506 4000 4000 && reboot", "CR", E("forbidden_character")),
    ("tel:+50640004000%3Brm%20-rf", "CR", E("not_a_phone_number")),
    // --- control characters, emptiness ---
    ("tel:+50640004000%00", "CR", E("control_character")),
    ("tel:+506\u{0}40004000", "CR", E("control_character")),
    ("tel:+506%0A40004000", "CR", E("control_character")),
    ("tel:+506%C2%8540004000", "CR", E("control_character")),
    ("+506 4000\n4000", "CR", E("control_character")),
    ("   ", "CR", E("empty")),
    ("tel:", "CR", E("empty")),
    ("callto://", "CR", E("empty")),
];

fn check(input: &str, country: &str, expect: &Expect) -> Result<(), String> {
    let country = Country::parse(country).map_err(|e| format!("country {country}: {e}"))?;
    let got = parse_dial_uri(input, country);
    let ok = match (expect, &got) {
        (
            Num(e),
            Ok(DialTarget::Number {
                e164,
                extension: None,
            }),
        ) => e164 == e,
        (
            NumExt(e, x),
            Ok(DialTarget::Number {
                e164,
                extension: Some(ext),
            }),
        ) => e164 == e && ext == x,
        (Ext(x), Ok(DialTarget::Extension(ext))) => ext == x,
        (E(code), Err(err)) => err.code().as_str() == *code,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{input:?} ({country}): expected {expect:?}, got {got:?}"
        ))
    }
}

#[test]
fn table_has_every_form() {
    assert!(ROWS.len() >= 60, "{} rows", ROWS.len());
    let failures: Vec<String> = ROWS
        .iter()
        .filter_map(|(input, country, expect)| check(input, country, expect).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}

#[test]
fn too_long_is_checked_before_anything_else() {
    let cr = Country::parse("CR").expect("CR");
    let at_limit = format!("tel:+50640004000;x={}", "a".repeat(MAX_INPUT_BYTES - 19));
    assert_eq!(at_limit.len(), MAX_INPUT_BYTES);
    assert_eq!(
        parse_dial_uri(&at_limit, cr).map(|t| t.dial_string().to_owned()),
        Ok("+50640004000".to_owned())
    );
    let over = format!("{at_limit}a");
    assert_eq!(parse_dial_uri(&over, cr), Err(DialError::TooLong));
    // Even when the input is also full of control characters or a bad scheme.
    assert_eq!(
        parse_dial_uri(&"\0".repeat(300), cr),
        Err(DialError::TooLong)
    );
    assert_eq!(
        parse_dial_uri(&format!("javascript:{}", "1".repeat(300)), cr),
        Err(DialError::TooLong)
    );
    assert_eq!(
        parse_dial_uri(&" ".repeat(300), cr),
        Err(DialError::TooLong)
    );
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (DialError::Empty, "empty"),
        (DialError::TooLong, "too_long"),
        (DialError::ControlCharacter, "control_character"),
        (DialError::UnsupportedScheme, "unsupported_scheme"),
        (DialError::NotAPhoneNumber, "not_a_phone_number"),
        (DialError::InvalidNumber, "invalid_number"),
        (DialError::InvalidCountry, "invalid_country"),
        (DialError::ForbiddenCharacter, "forbidden_character"),
        (DialError::InvalidExtension, "invalid_extension"),
    ];
    for (err, code) in cases {
        assert_eq!(err.code().as_str(), code);
        assert!(
            ErrorCode::ALL.contains(&err.code()),
            "{code} missing from ErrorCode::ALL"
        );
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn country_parsing() {
    assert_eq!(
        Country::parse("cr").map(|c| c.to_string()),
        Ok("CR".to_owned())
    );
    assert_eq!(
        "mx".parse::<Country>().map(|c| c.as_str().to_owned()),
        Ok("MX".to_owned())
    );
    for bad in ["", "C", "CRI", "1A", "ZZ", "XX", "ñ"] {
        assert_eq!(
            Country::parse(bad),
            Err(DialError::InvalidCountry),
            "{bad:?}"
        );
    }
}

#[test]
fn display_format() {
    let number = |e164: &str, ext: Option<&str>| DialTarget::Number {
        e164: e164.to_owned(),
        extension: ext.map(str::to_owned),
    };
    assert_eq!(
        format_for_display(&number("+50640004000", None)),
        "+506 4000 4000"
    );
    assert_eq!(
        format_for_display(&number("+525512345678", None)),
        "+52 55 1234 5678"
    );
    assert_eq!(
        format_for_display(&number("+12015550123", Some("102"))),
        "+1 201-555-0123 ext. 102"
    );
    assert_eq!(
        format_for_display(&DialTarget::Extension("4000".to_owned())),
        "4000"
    );
    // A hand-built target that is not E.164 is shown as it is.
    assert_eq!(format_for_display(&number("garbage", None)), "garbage");
}

#[test]
fn display_of_parsed_links() {
    let cr = Country::parse("CR").expect("CR");
    let shown = |input: &str| parse_dial_uri(input, cr).map(|t| format_for_display(&t));
    assert_eq!(
        shown("tel:%2B506%204000-4000"),
        Ok("+506 4000 4000".to_owned())
    );
    assert_eq!(shown("sip:077@pbx"), Ok("077".to_owned()));
}

#[test]
fn digits_only_keeps_ascii_digits() {
    assert_eq!(digits_only("+506 4000-4000"), "50640004000");
    assert_eq!(digits_only("(55) 1234 5678 ext. 9"), "55123456789");
    assert_eq!(digits_only("abc"), "");
    assert_eq!(digits_only("٣٤"), "");
}

#[test]
fn dial_string_is_what_the_line_gets() {
    let cr = Country::parse("CR").expect("CR");
    let target = parse_dial_uri("tel:+1-201-555-0123;ext=102", cr).expect("parses");
    assert_eq!(target.dial_string(), "+12015550123");
    let target = parse_dial_uri("tel:4000", cr).expect("parses");
    assert_eq!(target.dial_string(), "4000");
}
