//! Syntax of dial links: scheme, percent-decoding, screening for dangerous characters, the
//! number part and RFC 3966 parameters. Produces a [`Subscriber`]; knows nothing about
//! numbering plans.

use super::{DialError, MAX_LOCAL_DIGITS};
use percent_encoding::percent_decode_str;

/// Characters that are never part of a phone link but are meaningful to shells and script
/// interpreters. A link containing one (anywhere, after percent-decoding) is rejected outright
/// with [`DialError::ForbiddenCharacter`] rather than cleaned up.
const FORBIDDEN: &[char] = &['`', '$', '|', '&', '<', '>', '\\', '{', '}', '\'', '"'];

/// A parsed telephone subscriber (the part of a link that names a number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subscriber {
    /// Optional leading `+`, then ASCII digits, `*` and `#` (at least one digit).
    pub number: String,
    /// `;ext=` (or a typed `x102`): ASCII digits only.
    pub extension: Option<String>,
    /// `;phone-context=`.
    pub context: Option<Context>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Context {
    /// A global-number-digits prefix (`+1-914-555` → `1914555`, no `+`).
    Global(String),
    /// A domain name (`example.com`): the number is local to that domain.
    Domain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `tel:`, `callto:` (after unwrapping a nested `tel:`/`sip:`).
    Tel,
    /// `sip:` / `sips:`: only the user part is a number.
    Sip,
    /// Typed on the dial pad or pasted without a scheme: no percent-decoding.
    Typed,
}

/// Parse a trimmed, non-empty input free of control characters.
pub(super) fn parse(input: &str) -> Result<Subscriber, DialError> {
    let (form, rest) = match split_scheme(input) {
        None => (Form::Typed, input),
        Some((scheme, rest)) => unwrap_scheme(scheme, rest)?,
    };

    let subscriber = match form {
        Form::Typed => {
            if rest.contains(FORBIDDEN) {
                return Err(DialError::ForbiddenCharacter);
            }
            rest
        }
        Form::Tel | Form::Sip => {
            screen_decoded(rest)?;
            // A query (`?call`, SIP headers) is never part of the number.
            let rest = rest.split('?').next().unwrap_or_default();
            if form == Form::Sip {
                user_part(rest)
            } else {
                rest
            }
        }
    };
    if subscriber.trim().is_empty() {
        return Err(if rest.trim().is_empty() {
            DialError::Empty
        } else {
            DialError::NotAPhoneNumber
        });
    }
    parse_subscriber(subscriber, form)
}

/// `scheme ":" rest` when `input` starts with an RFC 3986 scheme.
fn split_scheme(input: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = input.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_is_alpha = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let valid = first_is_alpha
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some((scheme, rest))
}

/// The form of a supported scheme and what follows it (without `//`); `callto:` may wrap a
/// `tel:` or `sip:` link (Skype for Business / Lync).
fn unwrap_scheme<'a>(scheme: &str, rest: &'a str) -> Result<(Form, &'a str), DialError> {
    let mut form = scheme_kind(scheme)?;
    let mut rest = strip_slashes(rest);
    if scheme.eq_ignore_ascii_case("callto") {
        if let Some((inner, inner_rest)) = split_scheme(rest) {
            form = match scheme_kind(inner)? {
                Form::Sip => Form::Sip,
                Form::Tel if inner.eq_ignore_ascii_case("tel") => Form::Tel,
                // `callto:callto:…` is not something anyone sends.
                _ => return Err(DialError::UnsupportedScheme),
            };
            rest = strip_slashes(inner_rest);
        }
    }
    Ok((form, rest))
}

fn scheme_kind(scheme: &str) -> Result<Form, DialError> {
    if scheme.eq_ignore_ascii_case("tel") || scheme.eq_ignore_ascii_case("callto") {
        Ok(Form::Tel)
    } else if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        Ok(Form::Sip)
    } else {
        Err(DialError::UnsupportedScheme)
    }
}

/// `tel://…`, `callto://…` and a space after the colon (`Tel: 8888-1234`) are all seen.
fn strip_slashes(rest: &str) -> &str {
    let rest = rest.trim_start();
    rest.strip_prefix("//").unwrap_or(rest).trim_start()
}

/// Reject control characters hidden behind percent-encoding (`%00`, `%0A`), invalid UTF-8
/// and shell/script characters anywhere in the link, including parts we would drop.
fn screen_decoded(rest: &str) -> Result<(), DialError> {
    if percent_decode_str(rest).any(|b| b < 0x20 || b == 0x7f) {
        return Err(DialError::ControlCharacter);
    }
    let decoded = percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| DialError::NotAPhoneNumber)?;
    if decoded.chars().any(char::is_control) {
        return Err(DialError::ControlCharacter);
    }
    if decoded.contains(FORBIDDEN) {
        return Err(DialError::ForbiddenCharacter);
    }
    Ok(())
}

/// The user part of a SIP URI: before `@`, without a `:password`.
fn user_part(rest: &str) -> &str {
    let user = rest.split('@').next().unwrap_or_default();
    user.split(':').next().unwrap_or_default()
}

fn decode(part: &str, form: Form) -> Result<String, DialError> {
    if form == Form::Typed {
        return Ok(part.to_owned());
    }
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| DialError::NotAPhoneNumber)
}

/// `number *(";" param)`.
fn parse_subscriber(subscriber: &str, form: Form) -> Result<Subscriber, DialError> {
    let mut parts = subscriber.split(';');
    let number_raw = decode(parts.next().unwrap_or_default(), form)?;
    let (number_raw, typed_extension) = if form == Form::Typed {
        split_typed_extension(&number_raw)
    } else {
        (number_raw.as_str(), None)
    };
    let mut out = Subscriber {
        number: clean_number(number_raw)?,
        extension: typed_extension,
        context: None,
    };
    for param in parts {
        apply_param(&decode(param, form)?, &mut out)?;
    }
    Ok(out)
}

/// Visual separators (RFC 3966 `-.()`), whitespace, typographic dashes and invisible
/// direction/zero-width marks that pasted numbers carry (WhatsApp wraps numbers in
/// U+202A…U+202C). They carry no meaning.
fn is_ignorable(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')')
        || c.is_whitespace()
        || matches!(
            c,
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Reduce the number part to an optional `+` and digits, `*`, `#`. A `,` (pause) ends the
/// number: what follows is post-dial input and is dropped; so does a `#` on a global number.
fn clean_number(raw: &str) -> Result<String, DialError> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            // On a global number a `#` is a pause marker or a URI fragment; locally it is a
            // key of a service code (`*21#`).
            '#' if out.starts_with('+') => break,
            '0'..='9' | '*' | '#' => out.push(c),
            '+' if out.is_empty() => out.push(c),
            ',' => break,
            c if is_ignorable(c) => {}
            _ => return Err(DialError::NotAPhoneNumber),
        }
    }
    if out.starts_with('+') && out.contains('*') {
        return Err(DialError::NotAPhoneNumber);
    }
    if !out.bytes().any(|b| b.is_ascii_digit()) {
        return Err(DialError::NotAPhoneNumber);
    }
    Ok(out)
}

/// A typed number may end with an extension: `555 0123 x102`, `ext. 102`, `extension 102`.
fn split_typed_extension(raw: &str) -> (&str, Option<String>) {
    let without_digits = raw.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &raw[without_digits.len()..];
    if digits.is_empty() {
        return (raw, None);
    }
    let before =
        without_digits.trim_end_matches(|c: char| c.is_whitespace() || c == '.' || c == ':');
    let lower = before.to_ascii_lowercase();
    for marker in ["extension", "ext", "x"] {
        if lower.ends_with(marker) {
            let number = &before[..before.len() - marker.len()];
            if number.bytes().any(|b| b.is_ascii_digit()) {
                return (number, Some(digits.to_owned()));
            }
        }
    }
    (raw, None)
}

fn apply_param(param: &str, out: &mut Subscriber) -> Result<(), DialError> {
    let param = param.trim();
    if param.is_empty() {
        // `tel:+1…;` or `;;`: nothing there.
        return Ok(());
    }
    let (name, value) = match param.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (param, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        // `tel:+1;rm -rf /`: not a parameter, and not something to pass on.
        return Err(DialError::ForbiddenCharacter);
    }
    if name.eq_ignore_ascii_case("ext") {
        if out.extension.is_some() {
            return Err(DialError::InvalidExtension);
        }
        out.extension = Some(clean_extension(value.unwrap_or_default())?);
    } else if name.eq_ignore_ascii_case("phone-context") {
        if out.context.is_some() {
            return Err(DialError::NotAPhoneNumber);
        }
        out.context = Some(parse_context(value.unwrap_or_default())?);
    }
    // `isub` (ISDN subaddress) is accepted and dropped; so are `user=phone`, `npdi`, `rn`…
    Ok(())
}

/// `1*phonedigit`: digits with visual separators; a `,` or `#` ends it.
fn clean_extension(value: &str) -> Result<String, DialError> {
    let mut digits = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ',' | '#' => break,
            c if is_ignorable(c) => {}
            _ => return Err(DialError::InvalidExtension),
        }
    }
    if digits.is_empty() || digits.len() > MAX_LOCAL_DIGITS {
        return Err(DialError::InvalidExtension);
    }
    Ok(digits)
}

/// `descriptor = domainname / global-number-digits`.
fn parse_context(value: &str) -> Result<Context, DialError> {
    if let Some(global) = value.strip_prefix('+') {
        let mut digits = String::with_capacity(global.len());
        for c in global.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | '.' | '(' | ')' => {}
                _ => return Err(DialError::NotAPhoneNumber),
            }
        }
        if digits.is_empty() {
            return Err(DialError::NotAPhoneNumber);
        }
        return Ok(Context::Global(digits));
    }
    let is_domain = !value.is_empty()
        && value.bytes().any(|b| b.is_ascii_alphanumeric())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if is_domain {
        Ok(Context::Domain)
    } else {
        Err(DialError::NotAPhoneNumber)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(number: &str, extension: Option<&str>, context: Option<Context>) -> Subscriber {
        Subscriber {
            number: number.to_owned(),
            extension: extension.map(str::to_owned),
            context,
        }
    }

    #[test]
    fn scheme_split_only_takes_rfc3986_schemes() {
        assert_eq!(split_scheme("tel:+1"), Some(("tel", "+1")));
        assert_eq!(split_scheme("x-foo.bar+1:z"), Some(("x-foo.bar+1", "z")));
        assert_eq!(split_scheme("+1:2"), None);
        assert_eq!(split_scheme("4000"), None);
        assert_eq!(split_scheme("a b:c"), None);
    }

    #[test]
    fn subscriber_structure() {
        assert_eq!(
            parse("tel:+1-201-555-0123;ext=1-02"),
            Ok(sub("+12015550123", Some("102"), None))
        );
        assert_eq!(
            parse("tel:863-1234;phone-context=+1-914-555"),
            Ok(sub(
                "8631234",
                None,
                Some(Context::Global("1914555".into()))
            ))
        );
        assert_eq!(
            parse("tel:7042;phone-context=example.com"),
            Ok(sub("7042", None, Some(Context::Domain)))
        );
        assert_eq!(
            parse("sip:+1-212-555-1212:1234@gateway.com;user=phone"),
            Ok(sub("+12125551212", None, None))
        );
        assert_eq!(parse("callto:sip:4000@pbx"), Ok(sub("4000", None, None)));
        assert_eq!(
            parse("+1 201 555 0123 ext. 102"),
            Ok(sub("+12015550123", Some("102"), None))
        );
        assert_eq!(
            parse("tel:+12015550123#77"),
            Ok(sub("+12015550123", None, None))
        );
        assert_eq!(parse("*21#"), Ok(sub("*21#", None, None)));
    }

    #[test]
    fn typed_extension_markers() {
        assert_eq!(
            split_typed_extension("555 0123 x 7"),
            ("555 0123 ", Some("7".into()))
        );
        assert_eq!(
            split_typed_extension("555 0123 EXT: 7"),
            ("555 0123 ", Some("7".into()))
        );
        assert_eq!(split_typed_extension("Box 12"), ("Box 12", None));
        assert_eq!(split_typed_extension("x12"), ("x12", None));
        assert_eq!(split_typed_extension("5550123"), ("5550123", None));
    }

    #[test]
    fn bad_parameters() {
        assert_eq!(parse("tel:+1;rm -rf /"), Err(DialError::ForbiddenCharacter));
        assert_eq!(
            parse("tel:+1;ext=1;ext=2"),
            Err(DialError::InvalidExtension)
        );
        assert_eq!(parse("tel:+1;ext="), Err(DialError::InvalidExtension));
        assert_eq!(
            parse("tel:1;phone-context=+"),
            Err(DialError::NotAPhoneNumber)
        );
        assert_eq!(
            parse("tel:1;phone-context=a_b"),
            Err(DialError::NotAPhoneNumber)
        );
    }
}
