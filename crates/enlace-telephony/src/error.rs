//! Errors of phone lines, each with a stable [`ErrorCode`].

use enlace_core::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line is not connected (baresip not running, no line configured, …).
    #[error("the phone line is offline: {0}")]
    Offline(String),
    /// The line did not answer a command in time.
    #[error("the phone line did not answer `{command}` in time")]
    Timeout { command: String },
    /// The line answered a command with an error.
    #[error("the phone line refused `{command}`: {detail}")]
    Refused { command: String, detail: String },
    /// The call to answer / reject / hang up is not (or no longer) on the line.
    #[error("no such call on the phone line: {0}")]
    NoActiveCall(String),
    /// The number could not be handed to the other program.
    #[error("could not hand the number to another program: {0}")]
    HandOffFailed(String),
    /// The dial string cannot be sent on this line (characters that would break the URI).
    #[error("this number cannot be dialed: {0}")]
    InvalidTarget(String),
    /// The line's settings are not usable.
    #[error("invalid phone line setting: {0}")]
    InvalidSetting(String),
}

impl LineError {
    pub fn code(&self) -> ErrorCode {
        match self {
            LineError::Offline(_) => ErrorCode::LineOffline,
            LineError::Timeout { .. } => ErrorCode::LineTimeout,
            LineError::Refused { .. } => ErrorCode::LineRejected,
            LineError::NoActiveCall(_) => ErrorCode::NoActiveCall,
            LineError::HandOffFailed(_) => ErrorCode::HandOffFailed,
            LineError::InvalidTarget(_) => ErrorCode::InvalidNumber,
            LineError::InvalidSetting(_) => ErrorCode::InvalidSetting,
        }
    }
}

/// Checks that a dial string is safe to put into a URI or to pass as one program argument:
/// digits, letters, `+*#._-`, not starting with `-`, at most 64 bytes.
pub(crate) fn check_dial_string(s: &str) -> Result<(), LineError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+*#._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LineError::InvalidTarget(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(
            LineError::Offline("x".into()).code().as_str(),
            "line_offline"
        );
        assert_eq!(
            LineError::Timeout {
                command: "dial".into()
            }
            .code()
            .as_str(),
            "line_timeout"
        );
        assert_eq!(
            LineError::NoActiveCall("x".into()).code().as_str(),
            "no_active_call"
        );
        assert_eq!(
            LineError::HandOffFailed("x".into()).code().as_str(),
            "hand_off_failed"
        );
        assert_eq!(
            LineError::Refused {
                command: "dial".into(),
                detail: String::new()
            }
            .code()
            .as_str(),
            "line_rejected"
        );
    }

    #[test]
    fn dial_strings() {
        for ok in ["+50640004000", "4000", "*72", "#31#", "ext.12"] {
            assert_eq!(check_dial_string(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "4000; rm -rf /",
            "a b",
            "1@evil",
            "x\"",
            "<sip:x>",
            &"1".repeat(65),
        ] {
            assert!(check_dial_string(bad).is_err(), "{bad}");
        }
    }
}
