//! Errors of the AMI client, each with a stable machine-readable code.

/// Everything that can go wrong talking to an Asterisk manager.
///
/// [`AmiError::code`] returns a stable string that callers may forward to their own clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmiError {
    /// Not connected / logged in, or the connection dropped while the action was pending.
    #[error("AMI offline: {reason}")]
    Offline {
        /// Why the manager is unreachable.
        reason: String,
    },
    /// No answer to an action within the configured time-out.
    #[error("AMI action {action} timed out")]
    Timeout {
        /// The action name.
        action: String,
    },
    /// Asterisk answered `Response: Error`.
    #[error("AMI refused the action: {message}")]
    Refused {
        /// The `Message:` field of the reply.
        message: String,
    },
    /// Bytes that are not AMI (bad line, limits exceeded, missing fields).
    #[error("AMI protocol error: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// Login rejected.
    #[error("AMI authentication failed: {message}")]
    Auth {
        /// The `Message:` field of the reply.
        message: String,
    },
}

impl AmiError {
    /// Stable code: `ami_offline`, `ami_timeout`, `ami_refused`, `ami_protocol` or `ami_auth`.
    pub fn code(&self) -> &'static str {
        match self {
            AmiError::Offline { .. } => "ami_offline",
            AmiError::Timeout { .. } => "ami_timeout",
            AmiError::Refused { .. } => "ami_refused",
            AmiError::Protocol { .. } => "ami_protocol",
            AmiError::Auth { .. } => "ami_auth",
        }
    }

    pub(crate) fn offline(reason: impl Into<String>) -> Self {
        AmiError::Offline {
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        AmiError::Protocol {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(AmiError::offline("x").code(), "ami_offline");
        assert_eq!(
            AmiError::Timeout {
                action: "Ping".into()
            }
            .code(),
            "ami_timeout"
        );
        assert_eq!(
            AmiError::Refused {
                message: "m".into()
            }
            .code(),
            "ami_refused"
        );
        assert_eq!(AmiError::protocol("p").code(), "ami_protocol");
        assert_eq!(
            AmiError::Auth {
                message: "m".into()
            }
            .code(),
            "ami_auth"
        );
    }
}
