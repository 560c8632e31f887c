//! Dial targets: turning untrusted `tel:` / `callto:` / `sip:` links and typed numbers into
//! something a phone line can dial. (Being written: see issue 2, item 2.)

use crate::error::ErrorCode;

/// An ISO 3166-1 alpha-2 country, upper case (e.g. `CR`, `MX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    pub fn parse(code: &str) -> Result<Self, DialError> {
        let bytes = code.as_bytes();
        if bytes.len() == 2 && bytes.iter().all(u8::is_ascii_alphabetic) {
            Ok(Country([bytes[0].to_ascii_uppercase(), bytes[1].to_ascii_uppercase()]))
        } else {
            Err(DialError::InvalidCountry)
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

/// What to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A public number in E.164 (`+50640004000`), with an optional extension (`;ext=`).
    Number { e164: String, extension: Option<String> },
    /// A short internal number of the organization (`4000`, `077`).
    Extension(String),
}

impl DialTarget {
    /// The string handed to the phone line.
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
        }
    }
}

/// Parse a link (or a typed number) into a dial target, normalizing with `default_country`.
pub fn parse_dial_uri(input: &str, default_country: Country) -> Result<DialTarget, DialError> {
    let _ = default_country;
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(DialError::Empty);
    }
    Err(DialError::NotAPhoneNumber)
}
