//! Entry point for the cargo-fuzz target `crm_salesforce` in `fuzz/` (not an API): a reply of
//! Salesforce, read the way the calls in `salesforce.rs` read it, without the network.

use super::*;

/// The token grants, by `op` (what the token endpoint's reply is read for).
const GRANTS: [Grant; 3] = [Grant::Code, Grant::Password, Grant::Refresh];

/// Reads a reply with `status`, `content_type` and `body` as the reply to operation `op`:
/// 0-2 a token call (code, password, refresh grant), 3 a search, 4 a SOQL query, 5 a record
/// creation, 6 anything else (the invalid-session check, the `Sforce-Limit-Info` header read
/// from `content_type`, the identity URL of a token reply). Returns what the caller would get,
/// as text: the result's shape or the error's code and message.
pub fn reply(op: u8, status: u16, content_type: &str, body: &[u8]) -> String {
    let reply = Reply {
        status,
        host: "acme.my.salesforce.com".into(),
        content_type: content_type.into(),
        location: Some(content_type.into()),
        retry_after: None,
        limit_info: Some(content_type.into()),
        body: body.to_vec(),
    };
    let outcome = match op % 7 {
        op @ 0..=2 => token(&reply, GRANTS[usize::from(op)]),
        3 => data(&reply, "search/?q=FIND").and_then(|r| search(&r)),
        4 => data(&reply, "query/?q=SELECT").and_then(|r| {
            #[derive(Deserialize)]
            struct Query {
                #[serde(default)]
                records: Vec<Value>,
            }
            let query: Query = r.json()?;
            Ok(format!(
                "{:?}",
                query
                    .records
                    .iter()
                    .find_map(|r| r.get("Id").and_then(Value::as_str))
            ))
        }),
        5 => data(&reply, "sobjects/Contact/").and_then(|r| created_id(&r)),
        _ => Ok(format!(
            "{} {:?}",
            is_invalid_session(&reply),
            parse_limit_info(content_type)
        )),
    };
    match outcome {
        Ok(text) => text,
        Err(e) => format!("{:?} {e} {e:?}", e.code()),
    }
}

/// `Api::send` after the round trip.
fn data(reply: &Reply, path: &str) -> Result<Reply, CrmError> {
    reply.check_common()?;
    if reply.is_success() {
        Ok(Reply {
            status: reply.status,
            host: reply.host.clone(),
            content_type: reply.content_type.clone(),
            location: reply.location.clone(),
            retry_after: reply.retry_after,
            limit_info: reply.limit_info.clone(),
            body: reply.body.clone(),
        })
    } else {
        let url = format!("https://acme.my.salesforce.com/services/data/{API_VERSION}/{path}");
        Err(rest_error(reply, Target::of(&url)))
    }
}

/// `Api::search` after `send`.
fn search(reply: &Reply) -> Result<String, CrmError> {
    let value: Value = reply.json()?;
    let records = match value {
        Value::Object(mut o) => match o.remove("searchRecords") {
            Some(Value::Array(items)) => items,
            _ => return Err(CrmError::bad_reply(&reply.host, "no searchRecords")),
        },
        Value::Array(items) => items,
        _ => return Err(CrmError::bad_reply(&reply.host, "unexpected search reply")),
    };
    let found: Vec<Contact> = records.iter().filter_map(contact_from_record).collect();
    Ok(format!("{found:?}"))
}

/// `token_call` after the round trip, then `account_from` for a password sign-in (which
/// makes no further call).
fn token(reply: &Reply, grant: Grant) -> Result<String, CrmError> {
    reply.check_common()?;
    reply.check_rate_limit(Crm::Salesforce)?;
    let parsed: TokenReply = reply.json()?;
    if let Some(error) = parsed.error.as_deref() {
        return Err(oauth_error(
            grant,
            error,
            parsed.error_description.as_deref().unwrap_or(""),
        ));
    }
    if !reply.is_success() || parsed.access_token.as_deref().is_none_or(str::is_empty) {
        return Err(CrmError::bad_reply(&reply.host, "no access token"));
    }
    let config = SalesforceConfig {
        login_host: "https://login.salesforce.com".into(),
        ..SalesforceConfig::default()
    };
    let (account, _tokens) = account_from(&Http::new(), &config, parsed, Some("ana@acme.test"))?;
    Ok(format!("{account:?}"))
}
