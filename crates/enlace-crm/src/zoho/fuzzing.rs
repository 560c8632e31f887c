//! Entry point for the cargo-fuzz target `crm_zoho` in `fuzz/` (not an API): a reply of Zoho
//! CRM or its accounts server, read the way the calls in `zoho.rs` read it, without the
//! network.

use super::*;

/// Reads a reply with `status`, `content_type` and `body` as the reply to operation `op`:
/// 0-1 a token call (code, refresh grant), 2-3 a Contacts / Leads search, 4 a COQL query, 5
/// an insert, 6 the sign-in redirect's `accounts-server` and `location` (the body's first two
/// lines), anything else the invalid-token check. Returns what the caller would get, as text:
/// the result's shape or the error's code and message.
pub fn reply(op: u8, status: u16, content_type: &str, body: &[u8]) -> String {
    let reply = Reply {
        status,
        host: "www.zohoapis.com".into(),
        content_type: content_type.into(),
        location: Some(content_type.into()),
        retry_after: None,
        limit_info: None,
        body: body.to_vec(),
    };
    let outcome = match op % 8 {
        0 => token(&reply, Grant::Code),
        1 => token(&reply, Grant::Refresh),
        op @ 2..=3 => {
            let kind = if op == 2 {
                ContactKind::Contact
            } else {
                ContactKind::Lead
            };
            data(&reply, Some(kind)).and_then(|()| search(&reply, kind))
        }
        4 => data(&reply, None).and_then(|()| coql_first_id(&reply)),
        5 => data(&reply, Some(ContactKind::Lead)).and_then(|()| insert(&reply)),
        6 => {
            let text = String::from_utf8_lossy(body);
            let mut lines = text.lines();
            let named = lines.next();
            let location = lines.next();
            token_server("https://accounts.zoho.com", named, location)
                .map(|server| format!("{server} {}", web_host(&server)))
        }
        _ => Ok(format!("{:?}", error_code(&reply))),
    };
    match outcome {
        Ok(text) => text,
        Err(e) => format!("{:?} {e} {e:?}", e.code()),
    }
}

/// `Api::send` after the round trip, for a URL of `module` (`None`: not a module's URL).
fn data(reply: &Reply, module: Option<ContactKind>) -> Result<(), CrmError> {
    reply.check_common()?;
    if reply.is_success() {
        Ok(())
    } else {
        Err(reply_error(reply, module))
    }
}

/// `Api::search_module` after `send`.
fn search(reply: &Reply, kind: ContactKind) -> Result<String, CrmError> {
    if reply.status == 204 || reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok("[]".into());
    }
    let value: Value = reply.json()?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| CrmError::bad_reply(&reply.host, "no data in the search reply"))?;
    let found: Vec<Contact> = data
        .iter()
        .filter_map(|r| contact_from_record(kind, r))
        .collect();
    Ok(format!("{found:?}"))
}

/// `Api::coql_first_id` after `send`.
fn coql_first_id(reply: &Reply) -> Result<String, CrmError> {
    if reply.status == 204 || reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok("None".into());
    }
    let value: Value = reply.json()?;
    Ok(format!("{:?}", value.pointer("/data/0/id")))
}

/// `Api::insert` after `send`.
fn insert(reply: &Reply) -> Result<String, CrmError> {
    let value: Value = reply.json()?;
    let item = value
        .pointer("/data/0")
        .ok_or_else(|| CrmError::bad_reply(&reply.host, "no data in the insert reply"))?;
    if item.get("status").and_then(Value::as_str) != Some("success") {
        return Err(item_error(
            reply.status,
            item,
            reply,
            Some(ContactKind::Lead),
        ));
    }
    item.pointer("/details/id")
        .and_then(|id| match id {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| CrmError::bad_reply(&reply.host, "inserted, but no id in the reply"))
}

/// `token_call` after the round trip, then what `exchange_code` / `refresh` read from it.
fn token(reply: &Reply, grant: Grant) -> Result<String, CrmError> {
    reply.check_common()?;
    reply.check_rate_limit(Crm::Zoho)?;
    let parsed: TokenReply = reply.json()?;
    if let Some(error) = parsed.error.as_deref() {
        return Err(oauth_error(
            grant,
            error,
            parsed.error_description.as_deref().unwrap_or(""),
        ));
    }
    if parsed.access_token.as_deref().is_none_or(str::is_empty) {
        return Err(CrmError::bad_reply(&reply.host, "no access token"));
    }
    let server = "https://accounts.zoho.com";
    let lifetime = lifetime_seconds(&parsed.expires_in, &parsed.expires_in_sec);
    let api_domain = parsed
        .api_domain
        .map(|d| base(&d).to_owned())
        .filter(|d| trusted_api_domain(d, server));
    Ok(format!(
        "{lifetime} {api_domain:?} {:?}",
        api_domain.as_deref().map(web_host)
    ))
}
