//! Stable error codes. The UI and the CLI act on these strings; never rename one.

/// A stable, machine-readable error code (snake_case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // dial targets
    Empty,
    TooLong,
    ControlCharacter,
    UnsupportedScheme,
    NotAPhoneNumber,
    InvalidNumber,
    InvalidCountry,
    ForbiddenCharacter,
    InvalidExtension,
    // phone line
    LineOffline,
    LineTimeout,
    LineRejected,
    NoActiveCall,
    HandOffFailed,
    // operating system
    HandlerFailed,
    // storage and settings
    Storage,
    InvalidSetting,
    NotFound,
    // OS keyring
    KeyringUnavailable,
    // CRM
    CrmNotLinked,
    CrmAuthFailed,
    CrmPasswordFlowBlocked,
    CrmReauthRequired,
    CrmAccessDenied,
    CrmSignInTimeout,
    CrmRateLimited,
    CrmUnavailable,
    CrmBadReply,
    CrmInvalidField,
    CrmDuplicate,
    CrmNoPermission,
    /// The CRM record a write points at was deleted: the agent chooses another one.
    CrmRecordDeleted,
    /// The CRM does not offer the API the app called (API version, object disabled): a
    /// configuration problem, not a missing record.
    CrmEndpointNotFound,
    SearchTooShort,
    // the organization's hub
    BadCredentials,
    Throttled,
    AgentDisabled,
    SessionExpired,
    HubUnreachable,
    HubBadReply,
    /// The hub address is plain `http://` on another computer: it needs `https://`.
    InsecureHubAddress,
    Forbidden,
    PbxOffline,
    InvalidRequest,
    // WhatsApp through the hub
    /// More than 24 hours since the customer wrote: only a template can be sent.
    WindowClosed,
    /// WhatsApp would refuse the message as given.
    WhatsappInvalidMessage,
    /// The hub has no WhatsApp configured.
    WhatsappNotConfigured,
    /// WhatsApp (Meta) is not reachable or refused for now.
    WhatsappUnavailable,
    /// A file is larger than this app downloads.
    MediaTooLarge,
    // sending files, voice notes and locations (api-facts C4)
    /// The file is empty (or a recording heard nothing).
    WhatsappMediaEmpty,
    /// Over WhatsApp's limit for that kind of file (the message names the limit).
    WhatsappMediaTooLarge,
    /// A type WhatsApp does not take (the message lists those it does).
    WhatsappMediaType,
    /// The file is not what its name or type says.
    WhatsappMediaContent,
    /// No microphone, or the chosen one is gone.
    MicrophoneUnavailable,
    /// The OS refused access to the microphone.
    MicrophoneDenied,
    /// A recording too short or silent to send.
    RecordingEmpty,
    /// Latitude or longitude out of range (or not a number).
    InvalidLocation,
    // anything else
    Internal,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Empty,
        ErrorCode::TooLong,
        ErrorCode::ControlCharacter,
        ErrorCode::UnsupportedScheme,
        ErrorCode::NotAPhoneNumber,
        ErrorCode::InvalidNumber,
        ErrorCode::InvalidCountry,
        ErrorCode::ForbiddenCharacter,
        ErrorCode::InvalidExtension,
        ErrorCode::LineOffline,
        ErrorCode::LineTimeout,
        ErrorCode::LineRejected,
        ErrorCode::NoActiveCall,
        ErrorCode::HandOffFailed,
        ErrorCode::HandlerFailed,
        ErrorCode::Storage,
        ErrorCode::InvalidSetting,
        ErrorCode::NotFound,
        ErrorCode::KeyringUnavailable,
        ErrorCode::CrmNotLinked,
        ErrorCode::CrmAuthFailed,
        ErrorCode::CrmPasswordFlowBlocked,
        ErrorCode::CrmReauthRequired,
        ErrorCode::CrmAccessDenied,
        ErrorCode::CrmSignInTimeout,
        ErrorCode::CrmRateLimited,
        ErrorCode::CrmUnavailable,
        ErrorCode::CrmBadReply,
        ErrorCode::CrmInvalidField,
        ErrorCode::CrmDuplicate,
        ErrorCode::CrmNoPermission,
        ErrorCode::CrmRecordDeleted,
        ErrorCode::CrmEndpointNotFound,
        ErrorCode::SearchTooShort,
        ErrorCode::BadCredentials,
        ErrorCode::Throttled,
        ErrorCode::AgentDisabled,
        ErrorCode::SessionExpired,
        ErrorCode::HubUnreachable,
        ErrorCode::HubBadReply,
        ErrorCode::InsecureHubAddress,
        ErrorCode::Forbidden,
        ErrorCode::PbxOffline,
        ErrorCode::InvalidRequest,
        ErrorCode::WindowClosed,
        ErrorCode::WhatsappInvalidMessage,
        ErrorCode::WhatsappNotConfigured,
        ErrorCode::WhatsappUnavailable,
        ErrorCode::MediaTooLarge,
        ErrorCode::WhatsappMediaEmpty,
        ErrorCode::WhatsappMediaTooLarge,
        ErrorCode::WhatsappMediaType,
        ErrorCode::WhatsappMediaContent,
        ErrorCode::MicrophoneUnavailable,
        ErrorCode::MicrophoneDenied,
        ErrorCode::RecordingEmpty,
        ErrorCode::InvalidLocation,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Empty => "empty",
            ErrorCode::TooLong => "too_long",
            ErrorCode::ControlCharacter => "control_character",
            ErrorCode::UnsupportedScheme => "unsupported_scheme",
            ErrorCode::NotAPhoneNumber => "not_a_phone_number",
            ErrorCode::InvalidNumber => "invalid_number",
            ErrorCode::InvalidCountry => "invalid_country",
            ErrorCode::ForbiddenCharacter => "forbidden_character",
            ErrorCode::InvalidExtension => "invalid_extension",
            ErrorCode::LineOffline => "line_offline",
            ErrorCode::LineTimeout => "line_timeout",
            ErrorCode::LineRejected => "line_rejected",
            ErrorCode::NoActiveCall => "no_active_call",
            ErrorCode::HandOffFailed => "hand_off_failed",
            ErrorCode::HandlerFailed => "handler_failed",
            ErrorCode::Storage => "storage",
            ErrorCode::InvalidSetting => "invalid_setting",
            ErrorCode::NotFound => "not_found",
            ErrorCode::KeyringUnavailable => "keyring_unavailable",
            ErrorCode::CrmNotLinked => "crm_not_linked",
            ErrorCode::CrmAuthFailed => "crm_auth_failed",
            ErrorCode::CrmPasswordFlowBlocked => "crm_password_flow_blocked",
            ErrorCode::CrmReauthRequired => "crm_reauth_required",
            ErrorCode::CrmAccessDenied => "crm_access_denied",
            ErrorCode::CrmSignInTimeout => "crm_sign_in_timeout",
            ErrorCode::CrmRateLimited => "crm_rate_limited",
            ErrorCode::CrmUnavailable => "crm_unavailable",
            ErrorCode::CrmBadReply => "crm_bad_reply",
            ErrorCode::CrmInvalidField => "crm_invalid_field",
            ErrorCode::CrmDuplicate => "crm_duplicate",
            ErrorCode::CrmNoPermission => "crm_no_permission",
            ErrorCode::CrmRecordDeleted => "crm_record_deleted",
            ErrorCode::CrmEndpointNotFound => "crm_endpoint_not_found",
            ErrorCode::SearchTooShort => "search_too_short",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::Throttled => "throttled",
            ErrorCode::AgentDisabled => "agent_disabled",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::HubUnreachable => "hub_unreachable",
            ErrorCode::HubBadReply => "hub_bad_reply",
            ErrorCode::InsecureHubAddress => "insecure_hub_address",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::PbxOffline => "pbx_offline",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::WindowClosed => "window_closed",
            ErrorCode::WhatsappInvalidMessage => "whatsapp_invalid_message",
            ErrorCode::WhatsappNotConfigured => "whatsapp_not_configured",
            ErrorCode::WhatsappUnavailable => "whatsapp_unavailable",
            ErrorCode::MediaTooLarge => "media_too_large",
            ErrorCode::WhatsappMediaEmpty => "whatsapp_media_empty",
            ErrorCode::WhatsappMediaTooLarge => "whatsapp_media_too_large",
            ErrorCode::WhatsappMediaType => "whatsapp_media_type",
            ErrorCode::WhatsappMediaContent => "whatsapp_media_content",
            ErrorCode::MicrophoneUnavailable => "microphone_unavailable",
            ErrorCode::MicrophoneDenied => "microphone_denied",
            ErrorCode::RecordingEmpty => "recording_empty",
            ErrorCode::InvalidLocation => "invalid_location",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
    }
}
