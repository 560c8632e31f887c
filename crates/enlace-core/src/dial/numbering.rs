//! Numbering plans: from a syntactically clean [`Subscriber`] to a [`DialTarget`], using the
//! libphonenumber metadata of the `phonenumber` crate.
//!
//! The metadata database (`phonenumber::metadata::DATABASE`) is a process-wide lazy static,
//! built once. Its regular expressions are compiled on first use and kept in an LRU cache
//! inside the database, which holds only 100 by default: a working set larger than that (a
//! few countries, `+1` alone spans 25 regions) would recompile patterns on every call. We
//! raise it once to [`REGEX_CACHE_CAPACITY`]. Not unbounded: a compiled pattern takes about
//! 100 KB and the whole metadata has ~1,700 of them (measured: ~170 MB).
//!
//! Only strings of ASCII digits (with a leading `+`) ever reach `phonenumber::parse`.

use super::uri::{Context, Subscriber};
use super::{Country, DialError, DialTarget, MAX_EXTENSION_LEN, MAX_LOCAL_DIGITS};
use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber, Type};
use std::sync::Once;

/// Compiled numbering-plan patterns kept in memory (see the module documentation).
pub const REGEX_CACHE_CAPACITY: usize = 256;

/// Grow the metadata's regex cache once per process.
fn ensure_regex_cache() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(mut cache) = phonenumber::metadata::DATABASE.cache().lock() {
            if cache.capacity() < REGEX_CACHE_CAPACITY {
                cache.set_capacity(REGEX_CACHE_CAPACITY);
            }
        }
    });
}

pub(super) fn resolve(sub: Subscriber, country: Country) -> Result<DialTarget, DialError> {
    ensure_regex_cache();
    let Subscriber {
        number,
        extension,
        context,
    } = sub;

    // Global numbers carry no phone-context (RFC 3966); one given anyway is ignored.
    if let Some(global) = number.strip_prefix('+') {
        let e164 = global_e164(global).ok_or(DialError::InvalidNumber)?;
        return Ok(DialTarget::Number { e164, extension });
    }

    let is_service_code = number.contains(['*', '#']);
    match context {
        Some(Context::Domain) => {
            if number.len() > MAX_LOCAL_DIGITS {
                return Err(DialError::InvalidNumber);
            }
            extension_target(number, extension)
        }
        _ if is_service_code => {
            if number.len() > MAX_EXTENSION_LEN {
                return Err(DialError::InvalidNumber);
            }
            extension_target(number, extension)
        }
        Some(Context::Global(prefix)) => {
            let e164 = context_e164(&prefix, &number).ok_or(DialError::InvalidNumber)?;
            Ok(DialTarget::Number { e164, extension })
        }
        None => {
            let region = country.region();
            if let Some(e164) = region.and_then(|region| national_e164(&number, region)) {
                return Ok(DialTarget::Number { e164, extension });
            }
            if number.len() <= MAX_EXTENSION_LEN {
                return extension_target(number, extension);
            }
            Err(if region.is_none() {
                DialError::InvalidCountry
            } else {
                DialError::InvalidNumber
            })
        }
    }
}

/// A local number under a global-number-digits context. The context names the number range
/// the local number belongs to; the local digits complete it:
///
/// * `863-1234;phone-context=+1-914-555` → `+1 914 863 1234`: the longest leading part of the
///   context (never shorter than its country calling code) that makes a valid number with
///   the local digits (`+1914555` + `8631234` is too long; `+1914` + `8631234` is valid);
/// * `03-331-6005;phone-context=+64` → `+64 3 331 6005`: the local part is written nationally
///   (with the national prefix `0`) in the context's country.
fn context_e164(prefix: &str, local: &str) -> Option<String> {
    let code_len = (1..=prefix.len().min(3)).find(|&k| main_region(&prefix[..k]).is_some())?;
    (code_len..=prefix.len())
        .rev()
        .find_map(|k| global_e164(&format!("{}{local}", &prefix[..k])))
        .or_else(|| national_e164(local, main_region(&prefix[..code_len])?))
}

/// An extension has no extension of its own.
fn extension_target(number: String, extension: Option<String>) -> Result<DialTarget, DialError> {
    match extension {
        Some(_) => Err(DialError::InvalidExtension),
        None => Ok(DialTarget::Extension(number)),
    }
}

/// `digits` after the `+`: the E.164 string when it is a valid number that parses back to
/// itself. The metadata applies national-prefix rules to international numbers too: Russia's
/// trunk `8` turns `+7 888 179 502 361` into `+7 817 950 2361`, which does not parse back.
/// Such a number is refused rather than dialed as a different one (found by the
/// `dial_props` properties).
fn global_e164(digits: &str) -> Option<String> {
    let e164 = global_e164_once(digits)?;
    let again = global_e164_once(e164.strip_prefix('+')?)?;
    (again == e164).then_some(e164)
}

fn global_e164_once(digits: &str) -> Option<String> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = mexico_mobile_one(digits);
    let parsed = phonenumber::parse(None, format!("+{digits}")).ok()?;
    valid_e164(&parsed)
}

/// A national number of `region` (or one dialed with its international prefix, `00…`,
/// `011…`, or with the country code but no `+`): the E.164 string when valid, and only when
/// that E.164 string is itself accepted as the same number: it is what is stored, shown and
/// dialed again from the history. (Brazil's `0900 053 0880` is valid written nationally, yet
/// `+559000530880` is not valid to the metadata, whose national-prefix rule for Brazil eats
/// its `90`; found by the `dial` fuzz target.)
fn national_e164(digits: &str, region: Id) -> Option<String> {
    let parsed = phonenumber::parse(Some(region), digits).ok()?;
    valid_e164(&parsed)
        .or_else(|| {
            let stripped = mexico_legacy(digits, region)?;
            let parsed = phonenumber::parse(Some(region), stripped).ok()?;
            valid_e164(&parsed)
        })
        .filter(|e164| {
            e164.strip_prefix('+')
                .and_then(global_e164)
                .is_some_and(|again| &again == e164)
        })
}

/// The E.164 form of a parsed number, applying the retired mobile forms (Mexico's `1`,
/// Brazil's missing ninth digit), if valid.
fn valid_e164(parsed: &PhoneNumber) -> Option<String> {
    if parsed.is_valid() {
        return Some(parsed.format().mode(Mode::E164).to_string());
    }
    // `00 52 1 55…` dialed from abroad, or `1 55…` typed in Mexico, parse to `+521…`;
    // `(11) 8765-4321` typed in Brazil parses to `+551187654321`.
    let e164 = parsed.format().mode(Mode::E164).to_string();
    let digits = e164.strip_prefix('+')?;
    let fixed = mexico_mobile_one(digits);
    if fixed.len() != digits.len() {
        let reparsed = phonenumber::parse(None, format!("+{fixed}")).ok()?;
        return reparsed
            .is_valid()
            .then(|| reparsed.format().mode(Mode::E164).to_string());
    }
    let with_nine = brazil_ninth_digit(digits)?;
    let reparsed = phonenumber::parse(None, format!("+{with_nine}")).ok()?;
    let mobile = reparsed.number_type(&phonenumber::metadata::DATABASE) == Type::Mobile;
    (reparsed.is_valid() && mobile).then(|| reparsed.format().mode(Mode::E164).to_string())
}

/// Brazil gave every mobile a leading `9` (2012–2016): an 8-digit mobile number (first digit
/// 6 to 9) after the 2-digit area code becomes 9 digits: `55 11 8765 4321` →
/// `55 11 98765 4321`. Landlines (first digit 2 to 5) never get it. Only the shape is checked
/// here; the caller keeps the result only when the metadata says it is a valid mobile and the
/// original was not a valid number.
pub(crate) fn brazil_ninth_digit(digits: &str) -> Option<String> {
    let national = digits.strip_prefix("55")?;
    let bytes = national.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] != b'0'
        && bytes[1] != b'0'
        && (b'6'..=b'9').contains(&bytes[2]);
    shaped.then(|| format!("55{}9{}", &national[..2], &national[2..]))
}

/// What the numbering data says about a valid E.164 string, for [`crate::number`].
pub(crate) struct NumberFacts {
    /// Country calling code (`54`).
    pub code: String,
    /// National significant number (`91161234567`).
    pub national: String,
    /// Region (`AR`), when the number belongs to one.
    pub region: Option<Country>,
    /// The metadata classifies it as a mobile number.
    pub mobile: bool,
    /// Digits of the national format, trunk prefix included (`01115 61234567`).
    pub national_format_digits: String,
}

/// The facts of a valid E.164 string (`+` and digits), `None` when it is not valid.
pub(crate) fn facts(e164: &str) -> Option<NumberFacts> {
    ensure_regex_cache();
    let parsed = phonenumber::parse(None, e164).ok()?;
    if !parsed.is_valid() {
        return None;
    }
    let code = parsed.code().value().to_string();
    let national = e164
        .strip_prefix('+')?
        .strip_prefix(code.as_str())?
        .to_owned();
    let region = parsed
        .country()
        .id()
        .and_then(|id| Country::parse(id.as_ref()).ok());
    let mobile = parsed.number_type(&phonenumber::metadata::DATABASE) == Type::Mobile;
    let national_format_digits = parsed
        .format()
        .mode(Mode::National)
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    Some(NumberFacts {
        code,
        national,
        region,
        mobile,
        national_format_digits,
    })
}

/// The E.164 string of international digits (no `+`): a wa_id, or a number written with its
/// country code. Applies the retired mobile forms; `None` when not a valid number.
pub(crate) fn international_e164(digits: &str) -> Option<String> {
    ensure_regex_cache();
    global_e164(digits)
}

/// Mexico retired the mobile `1` after `+52` in 2019: `521 55 1234 5678` → `52 55 1234 5678`.
/// Only the exact shape (country code, `1`, ten national digits) is rewritten.
fn mexico_mobile_one(digits: &str) -> std::borrow::Cow<'_, str> {
    match digits.strip_prefix("521") {
        Some(national) if national.len() == 10 => format!("52{national}").into(),
        _ => digits.into(),
    }
}

/// Mexico's retired national prefixes, still typed by habit: `044`/`045` (mobile), `01`
/// (long distance) and `1` (mobile) before the ten-digit national number.
fn mexico_legacy(digits: &str, region: Id) -> Option<&str> {
    if region != Id::MX {
        return None;
    }
    ["044", "045", "01", "1"]
        .iter()
        .find_map(|prefix| digits.strip_prefix(prefix).filter(|rest| rest.len() == 10))
}

/// The main region of a country calling code (`64` → NZ), if `code` is one.
fn main_region(code: &str) -> Option<Id> {
    if code.is_empty() || code.len() > 3 {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    let metadata = phonenumber::metadata::DATABASE.by_code(&code)?;
    let main = metadata
        .iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| metadata.first())?;
    main.id().parse().ok()
}

/// International format (`+506 4000 4000`) of an E.164 string.
pub(crate) fn international(e164: &str) -> Option<String> {
    ensure_regex_cache();
    if !e164.starts_with('+') {
        return None;
    }
    let parsed = phonenumber::parse(None, e164).ok()?;
    Some(parsed.format().mode(Mode::International).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mexico_mobile_one_only_rewrites_the_exact_shape() {
        assert_eq!(mexico_mobile_one("5215512345678"), "525512345678");
        assert_eq!(mexico_mobile_one("525512345678"), "525512345678");
        assert_eq!(mexico_mobile_one("52155123456789"), "52155123456789");
        assert_eq!(mexico_mobile_one("12015550123"), "12015550123");
    }

    #[test]
    fn brazil_ninth_digit_only_for_the_old_mobile_shape() {
        assert_eq!(
            brazil_ninth_digit("551187654321").as_deref(),
            Some("5511987654321")
        );
        assert_eq!(
            brazil_ninth_digit("552166543210").as_deref(),
            Some("5521966543210")
        );
        // Landlines start 2 to 5.
        assert_eq!(brazil_ninth_digit("551134567890"), None);
        assert_eq!(brazil_ninth_digit("551156789012"), None);
        // Already 9 digits, another country, malformed area.
        assert_eq!(brazil_ninth_digit("5511987654321"), None);
        assert_eq!(brazil_ninth_digit("541187654321"), None);
        assert_eq!(brazil_ninth_digit("550187654321"), None);
    }

    #[test]
    fn mexico_legacy_prefixes() {
        assert_eq!(mexico_legacy("0445512345678", Id::MX), Some("5512345678"));
        assert_eq!(mexico_legacy("015512345678", Id::MX), Some("5512345678"));
        assert_eq!(mexico_legacy("15512345678", Id::MX), Some("5512345678"));
        assert_eq!(mexico_legacy("15512345678", Id::CR), None);
        assert_eq!(mexico_legacy("5512345678", Id::MX), None);
    }

    #[test]
    fn main_region_of_calling_codes() {
        assert_eq!(main_region("1"), Some(Id::US));
        assert_eq!(main_region("506"), Some(Id::CR));
        assert_eq!(main_region("64"), Some(Id::NZ));
        assert_eq!(main_region("1914555"), None);
        assert_eq!(main_region(""), None);
    }
}
