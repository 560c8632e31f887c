//! Entry points for the cargo-fuzz targets in `fuzz/` (not an API): every parser of bytes that
//! come from outside, walked the way the hub walks them.

use crate::error::ApiError;
use crate::webhook::parse_webhook;

/// Parses `data` as a webhook POST body and visits every message, status and error (their
/// type names, ranks, media and Debug text). `true` when the body is a batch. Never panics.
pub fn webhook(data: &[u8]) -> bool {
    let Ok(batch) = parse_webhook(data) else {
        return false;
    };
    for (value, message) in batch.messages() {
        if let Ok(m) = message {
            let _ = value.contact_name(&m.from);
            let _ = m.kind.type_name();
            let _ = m.kind.media();
        }
    }
    for (_, status) in batch.statuses() {
        if let Ok(s) = status {
            let _ = s.status.rank();
            let _ = s.errors.iter().map(ApiError::class).count();
        }
    }
    !format!("{batch:?}").is_empty()
}

/// Reads `data` as the other replies of the API: a Graph error body (`route` 0), a send reply
/// (1), a template page (any other value). `true` when it parsed.
pub fn reply(route: u8, data: &[u8]) -> bool {
    match route {
        0 => ApiError::from_body(400, data).map(|e| e.class()).is_some(),
        1 => crate::send::parse_send_reply(data).is_some(),
        _ => crate::templates::parse_template_page(data).is_some(),
    }
}
