//! Typed errors with stable codes (mapped onto [`enlace_core::ErrorCode`]).

use enlace_core::ErrorCode;

/// Why recording, encoding or decoding a voice note failed.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// No input device, the chosen one does not exist or is gone, or its stream failed.
    #[error("microphone unavailable: {detail}")]
    MicrophoneUnavailable { detail: String },
    /// The OS or the audio server refused access to the microphone.
    #[error("microphone access denied: {detail}")]
    MicrophoneDenied { detail: String },
    /// Shorter than [`crate::MIN_DURATION_MS`] or silent: nothing worth sending.
    #[error("the recording is empty (too short or silent)")]
    RecordingEmpty,
    /// Over WhatsApp's size limit for audio.
    #[error("the recording is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The bytes are not an OGG/Opus file this crate can read (or libopus refused a packet).
    #[error("not a readable OGG/Opus file: {detail}")]
    Decode { detail: String },
    /// libopus refused to set up or encode (should not happen with valid settings).
    #[error("opus encoder: {detail}")]
    Encoder { detail: String },
}

impl VoiceError {
    /// The stable code the UI acts on.
    pub fn code(&self) -> ErrorCode {
        match self {
            VoiceError::MicrophoneUnavailable { .. } => ErrorCode::MicrophoneUnavailable,
            VoiceError::MicrophoneDenied { .. } => ErrorCode::MicrophoneDenied,
            VoiceError::RecordingEmpty => ErrorCode::RecordingEmpty,
            VoiceError::TooLarge { .. } => ErrorCode::WhatsappMediaTooLarge,
            VoiceError::Decode { .. } => ErrorCode::WhatsappMediaContent,
            VoiceError::Encoder { .. } => ErrorCode::Internal,
        }
    }

    pub(crate) fn decode(detail: impl Into<String>) -> Self {
        VoiceError::Decode {
            detail: detail.into(),
        }
    }

    pub(crate) fn unavailable(detail: impl Into<String>) -> Self {
        VoiceError::MicrophoneUnavailable {
            detail: detail.into(),
        }
    }

    /// Maps a cpal error: permission errors to `MicrophoneDenied`, the rest to
    /// `MicrophoneUnavailable`.
    pub(crate) fn from_cpal(context: &str, e: &cpal::Error) -> Self {
        let detail = format!("{context}: {e}");
        match e.kind() {
            cpal::ErrorKind::PermissionDenied => VoiceError::MicrophoneDenied { detail },
            _ => VoiceError::MicrophoneUnavailable { detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_onto_the_core_codes() {
        assert_eq!(
            VoiceError::unavailable("x").code().as_str(),
            "microphone_unavailable"
        );
        assert_eq!(
            VoiceError::MicrophoneDenied { detail: "x".into() }
                .code()
                .as_str(),
            "microphone_denied"
        );
        assert_eq!(
            VoiceError::RecordingEmpty.code().as_str(),
            "recording_empty"
        );
        assert_eq!(
            VoiceError::TooLarge { limit: 1 }.code().as_str(),
            "whatsapp_media_too_large"
        );
        assert_eq!(
            VoiceError::decode("x").code().as_str(),
            "whatsapp_media_content"
        );
    }
}
