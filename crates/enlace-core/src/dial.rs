//! Dial targets: turning untrusted `tel:` / `callto:` / `sip:` links and numbers typed on the
//! dial pad into something a phone line can dial.
//!
//! The pipeline (see [`parse_dial_uri`]) is pure and runs in three steps:
//!
//! 1. **Screening** (this module): length, control characters, emptiness.
//! 2. **Syntax** (`uri`): scheme, percent-decoding, shell/script characters, RFC 3966
//!    parameters (`ext`, `phone-context`, `isub`) and the liberal real-world forms
//!    (`tel://`, `callto://`, spaces, `%20`, `,`/`?` cut-offs, `sip:` user parts).
//! 3. **Numbering** (`numbering`): E.164 normalization with libphonenumber metadata (the
//!    `phonenumber` crate, whose database is a process-wide lazy static: nothing is rebuilt
//!    per call), the short-extension rule, the Mexican legacy prefixes and Brazil's ninth digit
//!    (the key and equivalent forms of a customer's number live in [`crate::number`]).
//!
//! To extend: add a scheme in `uri::scheme_kind`, a parameter in `uri::apply_param`, or a
//! country rule next to `numbering::mexico_legacy`; add rows to `tests/dial_table.rs`.

pub(crate) mod numbering;
mod uri;

pub use crate::number::equivalent_digits;

pub use numbering::REGEX_CACHE_CAPACITY;

use crate::error::ErrorCode;

/// Inputs longer than this many bytes are rejected before any other work.
pub const MAX_INPUT_BYTES: usize = 256;

/// A number with only digits (no `+`) of at most this many characters that is not a valid
/// national number of the agent's country is an internal extension (`4000`, `077`).
/// Service codes with `*`/`#` (`*21#`) are extensions up to this length too.
pub const MAX_EXTENSION_LEN: usize = 6;

/// Longest local number accepted as an extension under a domain `phone-context`, and the
/// longest `;ext=` value (E.164 allows 15 digits).
pub const MAX_LOCAL_DIGITS: usize = 15;

/// An ISO 3166-1 alpha-2 country known to the numbering plan data, upper case (`CR`, `MX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Parse a two-letter region code (case-insensitive). Regions unknown to the numbering
    /// data (`ZZ`, `XX`) are rejected with [`DialError::InvalidCountry`].
    pub fn parse(code: &str) -> Result<Self, DialError> {
        let bytes = code.as_bytes();
        if bytes.len() == 2 && bytes.iter().all(u8::is_ascii_alphabetic) {
            let country = Country([bytes[0].to_ascii_uppercase(), bytes[1].to_ascii_uppercase()]);
            if country.region().is_some() {
                return Ok(country);
            }
        }
        Err(DialError::InvalidCountry)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }

    /// The region in the `phonenumber` crate.
    fn region(&self) -> Option<phonenumber::country::Id> {
        self.as_str().parse().ok()
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Country {
    type Err = DialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::parse(s)
    }
}

/// What to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A public number in E.164 (`+50640004000`), with an optional extension (`;ext=`,
    /// digits only) to send as post-dial DTMF.
    Number {
        e164: String,
        extension: Option<String>,
    },
    /// A short internal number of the organization (`4000`, `077`) or a service code
    /// (`*21#`): digits, `*` and `#` only.
    Extension(String),
}

impl DialTarget {
    /// The string handed to the phone line: `+` and digits for numbers; digits, `*` and `#`
    /// for extensions.
    pub fn dial_string(&self) -> &str {
        match self {
            DialTarget::Number { e164, .. } => e164,
            DialTarget::Extension(ext) => ext,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    #[error("the link is empty")]
    Empty,
    #[error("the link is too long")]
    TooLong,
    #[error("the link contains control characters")]
    ControlCharacter,
    #[error("only tel:, callto: and sip: links can be dialed")]
    UnsupportedScheme,
    #[error("the link is not a phone number")]
    NotAPhoneNumber,
    #[error("the phone number is not valid")]
    InvalidNumber,
    #[error("the country code must be two letters, such as CR or MX")]
    InvalidCountry,
    #[error("the link contains characters that are never part of a phone link (such as shell or script characters)")]
    ForbiddenCharacter,
    #[error("the extension is not valid: it must be digits and belong to a public number")]
    InvalidExtension,
}

impl DialError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DialError::Empty => ErrorCode::Empty,
            DialError::TooLong => ErrorCode::TooLong,
            DialError::ControlCharacter => ErrorCode::ControlCharacter,
            DialError::UnsupportedScheme => ErrorCode::UnsupportedScheme,
            DialError::NotAPhoneNumber => ErrorCode::NotAPhoneNumber,
            DialError::InvalidNumber => ErrorCode::InvalidNumber,
            DialError::InvalidCountry => ErrorCode::InvalidCountry,
            DialError::ForbiddenCharacter => ErrorCode::ForbiddenCharacter,
            DialError::InvalidExtension => ErrorCode::InvalidExtension,
        }
    }
}

/// Parse a link (`tel:`, `callto:`, `sip:`/`sips:`) or a number typed on the dial pad into a
/// dial target, normalizing national numbers with `default_country`.
///
/// Never panics; every rejection has a stable [`DialError::code`].
pub fn parse_dial_uri(input: &str, default_country: Country) -> Result<DialTarget, DialError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(DialError::TooLong);
    }
    // Surrounding whitespace (a pasted line's `\n`) is harmless; anything inside is not.
    let trimmed = input.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(DialError::ControlCharacter);
    }
    if trimmed.is_empty() {
        return Err(DialError::Empty);
    }
    let subscriber = uri::parse(trimmed)?;
    numbering::resolve(subscriber, default_country)
}

/// A target as an agent reads it: international format for numbers (`+506 4000 4000`,
/// `+1 201-555-0123 ext. 102`), plain characters for extensions (`4000`).
pub fn format_for_display(target: &DialTarget) -> String {
    match target {
        DialTarget::Number { e164, extension } => {
            let number = numbering::international(e164).unwrap_or_else(|| e164.clone());
            match extension {
                Some(ext) => format!("{number} ext. {ext}"),
                None => number,
            }
        }
        DialTarget::Extension(ext) => ext.clone(),
    }
}

/// The ASCII digits of `s`, in order (`"+506 4000-4000"` → `"50640004000"`); handy for
/// searching stored numbers.
pub fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}
