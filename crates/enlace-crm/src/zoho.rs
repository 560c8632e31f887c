//! Zoho CRM: OAuth (authorization code with the data center named by the redirect, refresh,
//! revoke) and the REST API v7 (search, insert Contacts/Leads/Calls, COQL existence checks).
//! Facts: `api-facts.md` section B.

use enlace_core::{
    CallActivity, CallDirection, Clock, Contact, ContactKind, Crm, NewContact, RecordRef, Timestamp,
};
use enlace_secrets::Sensitive;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::account::{CrmAccount, Tokens, ZohoAccount, ZohoConfig};
use crate::chat::{transcript_with_marker, ChatActivity, TRANSCRIPT_FIELD_MAX};
use crate::dates;
use crate::error::{CrmError, DEFAULT_RETRY_AFTER};
use crate::http::{host_label, Body, Http, Reply};
use crate::input::{
    call_subject, contact_from_new, encode_component, key_marker, record_fields, truncate_chars,
    with_key_marker, FieldNames, SearchKey, KEY_SEARCH_MARGIN_MS,
};

/// The API names of the contact form's fields.
const FIELD_NAMES: FieldNames = FieldNames {
    last_name: "Last_Name",
    first_name: "First_Name",
    email: "Email",
    phone: "Phone",
    mobile: "Mobile",
    company: "Company",
};
use crate::link::{Session, WriteAttempt};

const SCOPES: &str = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,\
ZohoCRM.coql.READ,ZohoSearch.securesearch.READ";

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_MS: i64 = 60_000;

/// Zoho data centers (table B0): location code, accounts host, API host, CRM web host.
const DATA_CENTERS: &[(&str, &str, &str, &str)] = &[
    (
        "us",
        "accounts.zoho.com",
        "www.zohoapis.com",
        "crm.zoho.com",
    ),
    ("eu", "accounts.zoho.eu", "www.zohoapis.eu", "crm.zoho.eu"),
    ("in", "accounts.zoho.in", "www.zohoapis.in", "crm.zoho.in"),
    (
        "au",
        "accounts.zoho.com.au",
        "www.zohoapis.com.au",
        "crm.zoho.com.au",
    ),
    ("jp", "accounts.zoho.jp", "www.zohoapis.jp", "crm.zoho.jp"),
    (
        "cn",
        "accounts.zoho.com.cn",
        "www.zohoapis.com.cn",
        "crm.zoho.com.cn",
    ),
    // Canada is the exception: zohocloud.ca for accounts and the web UI.
    (
        "ca",
        "accounts.zohocloud.ca",
        "www.zohoapis.ca",
        "crm.zohocloud.ca",
    ),
    ("sa", "accounts.zoho.sa", "www.zohoapis.sa", "crm.zoho.sa"),
    ("ae", "accounts.zoho.ae", "www.zohoapis.ae", "crm.zoho.ae"),
];

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

pub(crate) fn authorize_url(config: &ZohoConfig, redirect_uri: &str, state: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("scope", SCOPES)
        .append_pair("client_id", &config.client_id)
        .append_pair("response_type", "code")
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .finish();
    format!("{}/oauth/v2/auth?{query}", base(&config.accounts_server))
}

fn origin_of(url: &str) -> Option<url::Origin> {
    url::Url::parse(url).ok().map(|u| u.origin())
}

/// The accounts server for the token exchange: the redirect's `accounts-server` when it is an
/// https Zoho accounts host (B0) or the configured server's origin; else derived from
/// `location`; else the configured one. `accounts.zoho.ca` is corrected to
/// `accounts.zohocloud.ca`.
pub(crate) fn token_server(
    configured: &str,
    from_redirect: Option<&str>,
    location: Option<&str>,
) -> Result<String, CrmError> {
    if let Some(named) = from_redirect.map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = url::Url::parse(named)
            .map_err(|_| CrmError::bad_reply(&host_label(configured), "invalid accounts-server"))?;
        if origin_of(configured).is_some_and(|o| o == parsed.origin()) {
            return Ok(base(configured).to_owned());
        }
        let host = parsed.host_str().unwrap_or_default();
        let host = if host == "accounts.zoho.ca" {
            "accounts.zohocloud.ca"
        } else {
            host
        };
        let known = DATA_CENTERS.iter().any(|dc| dc.1 == host);
        if parsed.scheme() == "https" && known && parsed.port().is_none() {
            return Ok(format!("https://{host}"));
        }
        return Err(CrmError::bad_reply(
            &host_label(configured),
            format!(
                "the sign-in redirect named an unknown Zoho accounts server ({})",
                host_label(named)
            ),
        ));
    }
    let configured_is_zoho = url::Url::parse(configured)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| DATA_CENTERS.iter().any(|dc| dc.1 == h));
    if let (true, Some(loc)) = (configured_is_zoho, location) {
        if let Some(dc) = DATA_CENTERS
            .iter()
            .find(|dc| dc.0.eq_ignore_ascii_case(loc.trim()))
        {
            return Ok(format!("https://{}", dc.1));
        }
    }
    Ok(base(configured).to_owned())
}

/// The API domain a token reply names must be an https Zoho API host, or (test doubles,
/// loopback) on the same host as the accounts server that issued the token.
fn trusted_api_domain(api_domain: &str, accounts_server: &str) -> bool {
    let (Ok(api), Ok(accounts)) = (
        url::Url::parse(api_domain),
        url::Url::parse(accounts_server),
    ) else {
        return false;
    };
    let host = api.host_str().unwrap_or_default();
    let zoho_api = DATA_CENTERS
        .iter()
        .any(|dc| dc.2 == host || dc.2.strip_prefix("www.") == Some(host));
    (api.scheme() == "https" && zoho_api && api.port().is_none())
        || (api.scheme() == accounts.scheme() && api.host_str() == accounts.host_str())
}

/// The CRM web host for an API domain: `www.zohoapis.X` → `crm.zoho.X`, `zohoapis.ca` →
/// `crm.zohocloud.ca`; anything else (a loopback double) is used as it is.
pub(crate) fn web_host(api_domain: &str) -> String {
    let Ok(api) = url::Url::parse(api_domain) else {
        return base(api_domain).to_owned();
    };
    let host = api.host_str().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    if let Some(dc) = DATA_CENTERS
        .iter()
        .find(|dc| dc.2.strip_prefix("www.") == Some(host))
    {
        return format!("https://{}", dc.3);
    }
    base(api_domain).to_owned()
}

/// `{crm web host}/crm/tab/{Contacts|Leads}/{id}`.
pub(crate) fn record_url(api_domain: &str, record: &RecordRef) -> String {
    format!(
        "{}/crm/tab/{}/{}",
        web_host(api_domain),
        module(record.kind),
        encode_component(&record.id)
    )
}

fn module(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Contact => "Contacts",
        ContactKind::Lead => "Leads",
    }
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: Option<String>,
    refresh_token: Option<String>,
    api_domain: Option<String>,
    expires_in: Option<Value>,
    expires_in_sec: Option<Value>,
    error: Option<String>,
    error_description: Option<String>,
}

fn number(v: &Option<Value>) -> Option<i64> {
    match v.as_ref()? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Access-token lifetime in seconds: `expires_in_sec` when present (older servers sent
/// `expires_in` in ms alongside it), else `expires_in` — read as ms when implausibly large for
/// seconds — else the usual hour.
pub(crate) fn lifetime_seconds(expires_in: &Option<Value>, expires_in_sec: &Option<Value>) -> i64 {
    if let Some(secs) = number(expires_in_sec).filter(|s| *s > 0) {
        return secs;
    }
    match number(expires_in) {
        Some(v) if v > 86_400 => v / 1000,
        Some(v) if v > 0 => v,
        _ => 3_600,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Grant {
    Code,
    Refresh,
}

fn token_call(
    http: &Http,
    server: &str,
    form: String,
    grant: Grant,
) -> Result<TokenReply, CrmError> {
    let url = format!("{}/oauth/v2/token", base(server));
    let reply = http.post(&url, None, Body::Form(form))?;
    reply.check_common()?;
    reply.check_rate_limit(Crm::Zoho)?;
    let parsed: TokenReply = reply.json()?;
    // Zoho reports token errors in a 200: failure is "no access_token".
    if let Some(error) = parsed.error.as_deref() {
        return Err(oauth_error(
            grant,
            error,
            parsed.error_description.as_deref().unwrap_or(""),
        ));
    }
    if parsed.access_token.as_deref().is_none_or(str::is_empty) {
        return Err(CrmError::bad_reply(
            &reply.host,
            format!("HTTP {} without an access token", reply.status),
        ));
    }
    Ok(parsed)
}

fn oauth_error(grant: Grant, error: &str, description: &str) -> CrmError {
    let detail = if description.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {description}")
    };
    let too_many = description
        .to_ascii_lowercase()
        .contains("too many requests");
    match (grant, error) {
        (_, "access_denied") if too_many => CrmError::RateLimited {
            crm: Crm::Zoho,
            retry_after: DEFAULT_RETRY_AFTER,
        },
        (Grant::Refresh, _) => CrmError::ReauthRequired {
            crm: Crm::Zoho,
            detail,
        },
        (Grant::Code, "invalid_code") => CrmError::AuthFailed {
            crm: Crm::Zoho,
            detail: format!(
                "{detail} (the sign-in code is valid for 2 minutes, once, in one data center; \
                 try again)"
            ),
        },
        (Grant::Code, "invalid_client" | "invalid_client_secret") => CrmError::AuthFailed {
            crm: Crm::Zoho,
            detail: format!(
                "{detail} (check the client id and secret in Configuración, and that Multi-DC \
                 is enabled for the client)"
            ),
        },
        (Grant::Code, "access_denied") => CrmError::AccessDenied {
            crm: Crm::Zoho,
            detail,
        },
        _ => CrmError::AuthFailed {
            crm: Crm::Zoho,
            detail,
        },
    }
}

fn client_form(config: &ZohoConfig, grant: &str) -> form_urlencoded::Serializer<'static, String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", grant)
        .append_pair("client_id", &config.client_id)
        .append_pair("client_secret", &config.client_secret);
    form
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn exchange_code(
    http: &Http,
    config: &ZohoConfig,
    redirect_uri: &str,
    code: &Sensitive<String>,
    accounts_server: Option<&str>,
    location: Option<&str>,
    clock: &dyn Clock,
) -> Result<(CrmAccount, Tokens), CrmError> {
    let server = token_server(&config.accounts_server, accounts_server, location)?;
    let form = client_form(config, "authorization_code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code", code.expose())
        .finish();
    let reply = token_call(http, &server, form, Grant::Code)?;
    let api_domain = reply
        .api_domain
        .clone()
        .map(|d| base(&d).to_owned())
        .or_else(|| {
            // Servers that omit api_domain: the API host of the accounts server's DC.
            let host = url::Url::parse(&server).ok()?.host_str()?.to_owned();
            let dc = DATA_CENTERS.iter().find(|dc| dc.1 == host)?;
            Some(format!("https://{}", dc.2))
        })
        .filter(|d| trusted_api_domain(d, &server))
        .ok_or_else(|| {
            CrmError::bad_reply(
                &host_label(&server),
                "no trusted api_domain in the token reply",
            )
        })?;
    let access = reply.access_token.unwrap_or_default();
    let lifetime = lifetime_seconds(&reply.expires_in, &reply.expires_in_sec);
    let (email, user_id) = current_user(http, &api_domain, &access).unwrap_or_default();
    let account = ZohoAccount {
        email,
        user_id,
        accounts_server: server,
        api_domain,
    };
    let tokens = Tokens {
        access: Sensitive::new(access),
        refresh: reply
            .refresh_token
            .filter(|r| !r.is_empty())
            .map(Sensitive::new),
        access_expires_at: Some(Timestamp(clock.now().millis() + lifetime * 1000)),
    };
    Ok((CrmAccount::Zoho(account), tokens))
}

/// `(email, id)` of the signed-in user (`GET /crm/v7/users?type=CurrentUser`); `None` when the
/// call fails (the sign-in still works, the UI shows the data center instead).
fn current_user(http: &Http, api_domain: &str, access: &str) -> Option<(String, String)> {
    let url = format!("{api_domain}/crm/v7/users?type=CurrentUser");
    let reply = http
        .get(&url, Some(&format!("Zoho-oauthtoken {access}")))
        .ok()?;
    if !reply.is_success() || reply.is_html() {
        tracing::debug!(status = reply.status, "Zoho current-user call failed");
        return None;
    }
    let value: Value = reply.json().ok()?;
    let user = value.get("users")?.get(0)?;
    let text = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some((text("email"), text("id")))
}

fn refresh(
    http: &Http,
    account: &ZohoAccount,
    config: &ZohoConfig,
    tokens: &Tokens,
    now: Timestamp,
) -> Result<Tokens, CrmError> {
    let Some(refresh_token) = tokens.refresh.as_ref() else {
        return Err(CrmError::ReauthRequired {
            crm: Crm::Zoho,
            detail: "the access token expired and there is no refresh token".into(),
        });
    };
    let form = client_form(config, "refresh_token")
        .append_pair("refresh_token", refresh_token.expose())
        .finish();
    let reply = token_call(http, &account.accounts_server, form, Grant::Refresh)?;
    tracing::info!("Zoho access token refreshed");
    let lifetime = lifetime_seconds(&reply.expires_in, &reply.expires_in_sec);
    Ok(Tokens {
        access: Sensitive::new(reply.access_token.unwrap_or_default()),
        refresh: tokens.refresh.clone(),
        access_expires_at: Some(Timestamp(now.millis() + lifetime * 1000)),
    })
}

/// Revoke the refresh token (`POST {accounts}/oauth/v2/token/revoke?token=…`). A token Zoho
/// no longer knows counts as revoked.
pub(crate) fn revoke(
    http: &Http,
    account: &ZohoAccount,
    token: &Sensitive<String>,
) -> Result<(), CrmError> {
    let url = format!(
        "{}/oauth/v2/token/revoke?token={}",
        base(&account.accounts_server),
        encode_component(token.expose())
    );
    let reply = http.post(&url, None, Body::Empty)?;
    reply.check_common()?;
    reply.check_rate_limit(Crm::Zoho)?;
    let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let error = value
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match error {
        None if reply.is_success() => Ok(()),
        Some(e) if e.starts_with("invalid") => Ok(()),
        other => Err(CrmError::AuthFailed {
            crm: Crm::Zoho,
            detail: format!(
                "revoking failed (HTTP {} {})",
                reply.status,
                other.unwrap_or_default()
            ),
        }),
    }
}

/// Zoho API name → the "Nuevo contacto" field it belongs to.
pub(crate) fn our_field(api_name: &str) -> Option<&'static str> {
    Some(match api_name {
        "Last_Name" => "last_name",
        "First_Name" => "first_name",
        "Email" => "email",
        "Phone" => "phone",
        "Mobile" => "mobile",
        "Company" => "company",
        _ => return None,
    })
}

/// One error object (`{"code","details","message","status"}`) → our error. `module` is the
/// Contacts/Leads module the request wrote to, if any (the kind of a duplicate's record when
/// Zoho does not name its module).
fn item_error(status: u16, item: &Value, reply: &Reply, module: Option<ContactKind>) -> CrmError {
    let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
    let code = text("code");
    let api_name = item
        .pointer("/details/api_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let field = our_field(api_name).map(str::to_owned);
    let message = if api_name.is_empty() {
        format!("Zoho CRM: {} ({code})", text("message"))
    } else {
        format!("Zoho CRM: {} ({code}: {api_name})", text("message"))
    };
    match (status, code) {
        (429, _) | (_, "TOO_MANY_REQUESTS" | "LIMIT_EXCEEDED") => reply.rate_limited(Crm::Zoho),
        (_, "INVALID_TOKEN" | "AUTHENTICATION_FAILURE" | "AUTHENTICATION_FAILED") | (401, _) => {
            CrmError::ReauthRequired {
                crm: Crm::Zoho,
                detail: format!("{code}: {}", text("message")),
            }
        }
        (_, "OAUTH_SCOPE_MISMATCH" | "NO_PERMISSION") | (403, _) => CrmError::NoPermission {
            crm: Crm::Zoho,
            detail: format!("{code}: {}", text("message")),
        },
        // A call's Who_Id / What_Id that Zoho no longer knows: the record was deleted.
        (_, "INVALID_DATA") if matches!(api_name, "Who_Id" | "What_Id" | "Parent_Id") => {
            CrmError::RecordDeleted {
                crm: Crm::Zoho,
                detail: message,
            }
        }
        // A URL or module this org does not have (API version, module disabled): configuration.
        (_, "INVALID_URL_PATTERN" | "INVALID_MODULE") | (404, _) => CrmError::EndpointNotFound {
            crm: Crm::Zoho,
            detail: format!("HTTP {status} {code}: {}", text("message")),
        },
        (_, "MANDATORY_NOT_FOUND" | "INVALID_DATA" | "PATTERN_NOT_MATCHED") => {
            CrmError::InvalidField {
                crm: Crm::Zoho,
                field,
                message,
            }
        }
        (_, "DUPLICATE_DATA") => CrmError::Duplicate {
            crm: Crm::Zoho,
            field,
            existing: duplicate_record(item, module),
            message,
        },
        _ => CrmError::Internal {
            detail: format!(
                "Zoho CRM refused the request (HTTP {status}, {code}: {})",
                text("message")
            ),
        },
    }
}

/// The record a `DUPLICATE_DATA` error names: `details.duplicate_record.id` (a string or a
/// number), of the module `details.duplicate_record.module.api_name`, else of `module`.
fn duplicate_record(item: &Value, module: Option<ContactKind>) -> Option<RecordRef> {
    let duplicate = item.pointer("/details/duplicate_record")?;
    let id = match duplicate.get("id")? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let kind = match duplicate
        .pointer("/module/api_name")
        .and_then(Value::as_str)
    {
        Some("Contacts") => ContactKind::Contact,
        Some("Leads") => ContactKind::Lead,
        Some(_) => return None,
        None => module?,
    };
    (!id.is_empty()).then_some(RecordRef {
        crm: Crm::Zoho,
        kind,
        id,
    })
}

/// The Contacts or Leads module a data URL (`…/crm/v7/{module}…`) names.
fn module_of(url: &str) -> Option<ContactKind> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let (_, rest) = path.split_once("/crm/")?;
    match rest.split('/').nth(1)? {
        "Contacts" => Some(ContactKind::Contact),
        "Leads" => Some(ContactKind::Lead),
        _ => None,
    }
}

/// An error reply: the single-error envelope or the first item of `data`.
fn reply_error(reply: &Reply, module: Option<ContactKind>) -> CrmError {
    let value: Value = match serde_json::from_slice(&reply.body) {
        Ok(v) => v,
        Err(_) if reply.status == 429 => return reply.rate_limited(Crm::Zoho),
        Err(_) => {
            return CrmError::bad_reply(
                &reply.host,
                format!("HTTP {} without Zoho's error JSON", reply.status),
            )
        }
    };
    let item = value.get("data").and_then(|d| d.get(0)).unwrap_or(&value);
    item_error(reply.status, item, reply, module)
}

fn error_code(reply: &Reply) -> Option<String> {
    let value: Value = serde_json::from_slice(&reply.body).ok()?;
    value.get("code").and_then(Value::as_str).map(str::to_owned)
}

/// A COQL string literal.
pub(crate) fn coql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A name for `word=`: letters, digits and single spaces (Zoho rejects special characters).
fn search_word(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Calls record of a logged call; its `Description` is the agent's comment with the
/// write's key marker on the last line.
pub(crate) fn call_record(activity: &CallActivity, key: &str) -> Value {
    let mut record = Map::new();
    record.insert(
        "Subject".into(),
        json!(truncate_chars(&call_subject(activity), 255)),
    );
    record.insert(
        "Call_Type".into(),
        json!(match activity.direction {
            CallDirection::Incoming => "Inbound",
            CallDirection::Outgoing => "Outbound",
        }),
    );
    record.insert(
        "Call_Start_Time".into(),
        json!(dates::datetime_utc(activity.started_at)),
    );
    record.insert(
        "Call_Duration".into(),
        json!(dates::minutes_seconds(activity.duration_seconds)),
    );
    record.insert(
        "Description".into(),
        json!(with_key_marker(&activity.comment, key, 32_000)),
    );
    match activity.record.kind {
        ContactKind::Contact => {
            record.insert("Who_Id".into(), json!({ "id": activity.record.id }));
        }
        ContactKind::Lead => {
            record.insert("$se_module".into(), json!("Leads"));
            record.insert("What_Id".into(), json!({ "id": activity.record.id }));
        }
    }
    if activity.direction == CallDirection::Outgoing {
        record.insert("Outbound_Call_Status".into(), json!("Completed"));
    }
    Value::Object(record)
}

/// One linked Zoho account's REST calls.
pub(crate) struct Api<'a> {
    session: &'a Session,
    account: &'a ZohoAccount,
    config: &'a ZohoConfig,
}

impl<'a> Api<'a> {
    pub fn new(session: &'a Session, account: &'a ZohoAccount, config: &'a ZohoConfig) -> Api<'a> {
        Api {
            session,
            account,
            config,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/crm/v7/{path}", base(&self.account.api_domain))
    }

    fn refresh_after(&self, stale: &str) -> Result<(), CrmError> {
        let now = self.session.now();
        self.session.refresh_after(stale, |tokens| {
            refresh(&self.session.http, self.account, self.config, tokens, now)
        })
    }

    fn once(&self, url: &str, body: Option<&Value>, access: &str) -> Result<Reply, CrmError> {
        let auth = format!("Zoho-oauthtoken {access}");
        match body {
            None => self.session.http.get(url, Some(&auth)),
            Some(v) => self
                .session
                .http
                .post(url, Some(&auth), Body::Json(v.to_string())),
        }
    }

    /// GET or POST JSON with a fresh token (a minute early; once more after INVALID_TOKEN).
    /// Returns 2xx replies (204 included); everything else is mapped to an error.
    fn send(&self, url: &str, body: Option<&Value>) -> Result<Reply, CrmError> {
        let tokens = self.session.tokens();
        let expiring = tokens
            .access_expires_at
            .is_some_and(|at| at.millis() - self.session.now().millis() <= REFRESH_MARGIN_MS);
        if expiring && tokens.refresh.is_some() {
            self.refresh_after(tokens.access.expose())?;
        }
        let access = self.session.access();
        let mut reply = self.once(url, body, access.expose())?;
        if reply.status == 401 && error_code(&reply).as_deref() == Some("INVALID_TOKEN") {
            self.refresh_after(access.expose())?;
            reply = self.once(url, body, self.session.access().expose())?;
        }
        reply.check_common()?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(reply_error(&reply, module_of(url)))
        }
    }

    fn search_module(
        &self,
        kind: ContactKind,
        param: &str,
        value: &str,
    ) -> Result<Vec<Contact>, CrmError> {
        let fields = match kind {
            ContactKind::Contact => "First_Name,Last_Name,Full_Name,Email,Phone,Mobile",
            ContactKind::Lead => "First_Name,Last_Name,Full_Name,Email,Phone,Mobile,Company",
        };
        let url = format!(
            "{}?{param}={}&fields={fields}&per_page=50",
            self.url(&format!("{}/search", module(kind))),
            encode_component(value)
        );
        let reply = self.send(&url, None)?;
        if reply.status == 204 || reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let value: Value = reply.json()?;
        let data = value
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| CrmError::bad_reply(&reply.host, "no data in the search reply"))?;
        Ok(data
            .iter()
            .filter_map(|r| contact_from_record(kind, r))
            .collect())
    }

    fn search_both(&self, param: &str, value: &str) -> Result<Vec<Contact>, CrmError> {
        let mut found = self.search_module(ContactKind::Contact, param, value)?;
        found.extend(self.search_module(ContactKind::Lead, param, value)?);
        Ok(found)
    }

    pub fn search(&self, key: &SearchKey) -> Result<Vec<Contact>, CrmError> {
        match key {
            SearchKey::Phone(forms) => {
                // Most specific form first; stop at the first form that finds someone.
                for form in forms {
                    let found = self.search_both("phone", form)?;
                    if !found.is_empty() {
                        return Ok(found);
                    }
                }
                Ok(Vec::new())
            }
            SearchKey::Email(email) => self.search_both("email", email),
            SearchKey::Name(name) => {
                let word = search_word(name);
                if word.chars().count() < 2 {
                    return Err(CrmError::SearchTooShort);
                }
                self.search_both("word", &word)
            }
        }
    }

    /// The rows a COQL query returns (204: none).
    fn coql(&self, query: &str) -> Result<Vec<Value>, CrmError> {
        let reply = self.send(&self.url("coql"), Some(&json!({ "select_query": query })))?;
        if reply.status == 204 || reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let mut value: Value = reply.json()?;
        match value.get_mut("data").map(Value::take) {
            Some(Value::Array(rows)) => Ok(rows),
            _ => Err(CrmError::bad_reply(
                &reply.host,
                "no data in the COQL reply",
            )),
        }
    }

    /// The id of the row whose `Description` holds the key marker of `key`.
    fn created_with_key(&self, query: &str, key: &str) -> Result<Option<String>, CrmError> {
        let marker = key_marker(key);
        Ok(self.coql(query)?.iter().find_map(|row| {
            let description = row.get("Description").and_then(Value::as_str)?;
            if !description.contains(&marker) {
                return None;
            }
            match row.get("id")? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        }))
    }

    /// POST one record to `module`; its id.
    fn insert(&self, module: &str, record: Value) -> Result<String, CrmError> {
        let reply = self.send(&self.url(module), Some(&json!({ "data": [record] })))?;
        let value: Value = reply.json()?;
        let item = value
            .pointer("/data/0")
            .ok_or_else(|| CrmError::bad_reply(&reply.host, "no data in the insert reply"))?;
        if item.get("status").and_then(Value::as_str) != Some("success") {
            return Err(item_error(
                reply.status,
                item,
                &reply,
                module_of(&self.url(module)),
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

    pub fn create_contact(
        &self,
        new: &NewContact,
        attempt: &WriteAttempt<'_>,
    ) -> Result<Contact, CrmError> {
        let module = module(new.kind);
        let (mut record, _) = record_fields(new, &FIELD_NAMES);
        record.insert("Description".into(), json!(key_marker(attempt.key)));
        if attempt.retrying {
            let query = key_query(module, None, attempt.queued_at);
            if let Some(id) = self.created_with_key(&query, attempt.key)? {
                tracing::info!(module, "Zoho record from an earlier attempt found");
                return Ok(contact_from_new(Crm::Zoho, new, id));
            }
        }
        let id = self.insert(module, Value::Object(record))?;
        Ok(contact_from_new(Crm::Zoho, new, id))
    }

    pub fn log_call(
        &self,
        activity: &CallActivity,
        attempt: &WriteAttempt<'_>,
    ) -> Result<String, CrmError> {
        let record = call_record(activity, attempt.key);
        if attempt.retrying {
            let query = key_query("Calls", Some(&activity.record), attempt.queued_at);
            if let Some(id) = self.created_with_key(&query, attempt.key)? {
                tracing::info!("Zoho call from an earlier attempt found");
                return Ok(id);
            }
        }
        self.insert("Calls", record)
    }

    /// A conversation as a Note on its Contact or Lead, or — a Note needs a parent — as a
    /// completed inbound Call without `Who_Id`; the key marker closes `Note_Content` /
    /// `Description`.
    pub fn log_chat(
        &self,
        chat: &ChatActivity,
        attempt: &WriteAttempt<'_>,
    ) -> Result<String, CrmError> {
        match &chat.record {
            Some(parent) => {
                if attempt.retrying {
                    if let Some(id) = self.note_with_key(parent, attempt.key)? {
                        tracing::info!("Zoho chat note from an earlier attempt found");
                        return Ok(id);
                    }
                }
                self.insert("Notes", chat_note(chat, parent, attempt.key))
            }
            None => {
                if attempt.retrying {
                    let query = key_query("Calls", None, attempt.queued_at);
                    if let Some(id) = self.created_with_key(&query, attempt.key)? {
                        tracing::info!("Zoho chat call from an earlier attempt found");
                        return Ok(id);
                    }
                }
                self.insert("Calls", chat_call(chat, attempt.key))
            }
        }
    }

    /// The note on `parent` whose `Note_Content` holds the key marker of `key`: the record's
    /// notes, oldest first, a page of 200 at a time (at most [`NOTE_PAGES`] pages).
    fn note_with_key(&self, parent: &RecordRef, key: &str) -> Result<Option<String>, CrmError> {
        let marker = key_marker(key);
        for page in 1..=NOTE_PAGES {
            let url = format!(
                "{}?fields=Note_Content,Created_Time&per_page=200&page={page}",
                self.url(&format!(
                    "{}/{}/Notes",
                    module(parent.kind),
                    encode_component(&parent.id)
                ))
            );
            let reply = self.send(&url, None)?;
            if reply.status == 204 || reply.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            let value: Value = reply.json()?;
            let notes = value
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| CrmError::bad_reply(&reply.host, "no data in the notes reply"))?;
            let found = notes.iter().find_map(|note| {
                let content = note.get("Note_Content").and_then(Value::as_str)?;
                if !content.contains(&marker) {
                    return None;
                }
                match note.get("id")? {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            });
            if found.is_some() {
                return Ok(found);
            }
            let more = value
                .pointer("/info/more_records")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !more {
                break;
            }
        }
        Ok(None)
    }
}

/// Pages of a record's notes a retry reads looking for its key (200 notes each).
const NOTE_PAGES: u32 = 10;

/// Longest `Note_Title` sent (the API's limit is not in the fact sheet; titles here are short).
const NOTE_TITLE_MAX: usize = 120;

/// The Notes record of a conversation on its Contact or Lead (`POST /crm/v7/Notes`:
/// `Parent_Id` with the parent's module and id, `Note_Content` mandatory).
pub(crate) fn chat_note(chat: &ChatActivity, parent: &RecordRef, key: &str) -> Value {
    json!({
        "Parent_Id": {
            "module": { "api_name": module(parent.kind) },
            "id": parent.id,
        },
        "Note_Title": chat.subject(NOTE_TITLE_MAX),
        "Note_Content": transcript_with_marker(&chat.transcript, key, TRANSCRIPT_FIELD_MAX),
    })
}

/// The Calls record of a conversation with no Contact or Lead: a completed inbound call from
/// the first message to the last (Subject, Call_Type, Call_Start_Time and Call_Duration are
/// what a completed call requires; `Who_Id` is optional).
pub(crate) fn chat_call(chat: &ChatActivity, key: &str) -> Value {
    json!({
        "Subject": chat.subject(200),
        "Call_Type": "Inbound",
        "Call_Start_Time": dates::datetime_utc(chat.started_at),
        "Call_Duration": dates::minutes_seconds(chat.duration_seconds()),
        "Description": transcript_with_marker(&chat.transcript, key, TRANSCRIPT_FIELD_MAX),
    })
}

/// The records of `module` created since the write was queued (an hour early, for clock
/// skew), oldest first, with their `Description` — for a call, only those on its record.
/// COQL cannot use a multi-line field in criteria, so the key marker is looked for in what
/// this returns (COQL, not the search API: a just-created record is not searchable yet).
fn key_query(module: &str, on: Option<&RecordRef>, queued_at: Timestamp) -> String {
    let since = Timestamp(queued_at.millis().saturating_sub(KEY_SEARCH_MARGIN_MS));
    let since = coql_literal(&dates::datetime_utc(since));
    let criteria = match on {
        Some(record) => {
            let link = match record.kind {
                ContactKind::Contact => "Who_Id",
                ContactKind::Lead => "What_Id",
            };
            format!(
                "({link} = {} and Created_Time >= {since})",
                coql_literal(&record.id)
            )
        }
        None => format!("Created_Time >= {since}"),
    };
    format!(
        "select id, Description from {module} where {criteria} order by Created_Time asc \
         limit 200"
    )
}

fn contact_from_record(kind: ContactKind, record: &Value) -> Option<Contact> {
    let text = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let id = match record.get("id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let first_name = text("First_Name");
    let mut last_name = text("Last_Name");
    if first_name.is_none() && last_name.is_none() {
        last_name = text("Full_Name");
    }
    Some(Contact {
        crm: Crm::Zoho,
        crm_id: id,
        kind,
        first_name,
        last_name,
        email: text("Email"),
        phone: text("Phone"),
        mobile: text("Mobile"),
        company: text("Company"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlace_core::CallId;

    #[test]
    fn the_redirect_names_the_token_server_within_the_known_data_centers() {
        let us = "https://accounts.zoho.com";
        assert_eq!(
            token_server(us, Some("https://accounts.zoho.eu"), Some("eu")).as_deref(),
            Ok("https://accounts.zoho.eu")
        );
        assert_eq!(
            token_server(us, Some("https://accounts.zoho.ca"), Some("ca")).as_deref(),
            Ok("https://accounts.zohocloud.ca")
        );
        assert_eq!(
            token_server(us, None, Some("ca")).as_deref(),
            Ok("https://accounts.zohocloud.ca")
        );
        assert_eq!(token_server(us, None, None).as_deref(), Ok(us));
        for bad in [
            "https://accounts.evil.example",
            "http://accounts.zoho.eu",
            "https://accounts.zoho.eu:8443",
            "not a url",
        ] {
            assert!(token_server(us, Some(bad), None).is_err(), "{bad}");
        }
        // A double: the configured server's origin is accepted (with its path).
        let double = "http://127.0.0.1:4100/accounts";
        assert_eq!(
            token_server(double, Some("http://127.0.0.1:4100"), Some("us")).as_deref(),
            Ok(double)
        );
        assert!(token_server(double, Some("http://127.0.0.1:4101"), None).is_err());
    }

    #[test]
    fn api_domains_must_be_zoho_or_next_to_the_accounts_server() {
        assert!(trusted_api_domain(
            "https://www.zohoapis.eu",
            "https://accounts.zoho.eu"
        ));
        assert!(trusted_api_domain(
            "https://zohoapis.ca",
            "https://accounts.zohocloud.ca"
        ));
        assert!(!trusted_api_domain(
            "https://www.evil.example",
            "https://accounts.zoho.eu"
        ));
        assert!(!trusted_api_domain(
            "http://www.zohoapis.com",
            "https://accounts.zoho.com"
        ));
        assert!(trusted_api_domain(
            "http://127.0.0.1:9",
            "http://127.0.0.1:8/accounts"
        ));
    }

    #[test]
    fn record_urls_use_the_data_centers_web_host() {
        let r = RecordRef {
            crm: Crm::Zoho,
            kind: ContactKind::Contact,
            id: "554023000000527002".into(),
        };
        assert_eq!(
            record_url("https://www.zohoapis.com", &r),
            "https://crm.zoho.com/crm/tab/Contacts/554023000000527002"
        );
        assert_eq!(
            web_host("https://www.zohoapis.com.au"),
            "https://crm.zoho.com.au"
        );
        assert_eq!(web_host("https://zohoapis.ca"), "https://crm.zohocloud.ca");
        assert_eq!(
            web_host("https://www.zohoapis.ca"),
            "https://crm.zohocloud.ca"
        );
        let lead = RecordRef {
            kind: ContactKind::Lead,
            ..r
        };
        assert_eq!(
            record_url("http://127.0.0.1:5000/", &lead),
            "http://127.0.0.1:5000/crm/tab/Leads/554023000000527002"
        );
    }

    #[test]
    fn lifetimes_are_read_defensively() {
        assert_eq!(lifetime_seconds(&Some(json!(3600)), &None), 3600);
        assert_eq!(
            lifetime_seconds(&Some(json!(3_600_000)), &Some(json!(3600))),
            3600
        );
        assert_eq!(lifetime_seconds(&Some(json!(3_600_000)), &None), 3600);
        assert_eq!(lifetime_seconds(&Some(json!("3600")), &None), 3600);
        assert_eq!(lifetime_seconds(&None, &None), 3600);
    }

    /// The error of a reply to a write to Contacts.
    fn reply_error_at(reply: &Reply) -> CrmError {
        reply_error(reply, Some(ContactKind::Contact))
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            host: "www.zohoapis.com".into(),
            content_type: "application/json".into(),
            location: None,
            retry_after: None,
            limit_info: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn errors_map_api_names_to_our_fields() {
        use enlace_core::ErrorCode as C;
        for (api, ours) in [
            ("Last_Name", "last_name"),
            ("First_Name", "first_name"),
            ("Email", "email"),
            ("Phone", "phone"),
            ("Mobile", "mobile"),
            ("Company", "company"),
        ] {
            let body = format!(
                r#"{{"data":[{{"code":"MANDATORY_NOT_FOUND","details":{{"api_name":"{api}"}},"message":"required field not found","status":"error"}}]}}"#
            );
            let err = reply_error_at(&reply(400, &body));
            assert_eq!(err.code(), C::CrmInvalidField);
            assert_eq!(err.field(), Some(ours));
        }
        let dup = reply_error_at(&reply(
            400,
            r#"{"data":[{"code":"DUPLICATE_DATA","details":{"api_name":"Email","duplicate_record":{"id":"77"}},"message":"duplicate data","status":"error"}]}"#,
        ));
        assert_eq!(dup.code(), C::CrmDuplicate);
        assert_eq!(dup.field(), Some("email"));
        assert_eq!(
            dup.existing_record(),
            Some(&RecordRef {
                crm: Crm::Zoho,
                kind: ContactKind::Contact,
                id: "77".into()
            })
        );
        // The module Zoho names wins; a numeric id is read too.
        let lead = reply_error_at(&reply(
            400,
            r#"{"data":[{"code":"DUPLICATE_DATA","details":{"api_name":"Email","duplicate_record":{"module":{"api_name":"Leads","id":"4150868000000002175"},"id":554023000000527002}},"message":"duplicate data","status":"error"}]}"#,
        ));
        assert_eq!(
            lead.existing_record().map(|r| (r.kind, r.id.as_str())),
            Some((ContactKind::Lead, "554023000000527002"))
        );
        assert_eq!(
            module_of("https://www.zohoapis.com/crm/v7/Leads"),
            Some(ContactKind::Lead)
        );
        assert_eq!(module_of("https://www.zohoapis.com/crm/v7/Calls"), None);
        let invalid = reply_error_at(&reply(
            400,
            r#"{"data":[{"code":"INVALID_DATA","details":{"api_name":"Phone"},"message":"invalid","status":"error"}]}"#,
        ));
        assert_eq!(invalid.field(), Some("phone"));
        let perm = reply_error_at(&reply(
            403,
            r#"{"code":"NO_PERMISSION","details":{},"message":"permission denied","status":"error"}"#,
        ));
        assert_eq!(perm.code(), C::CrmNoPermission);
        assert_eq!(reply_error_at(&reply(429, "")).code(), C::CrmRateLimited);
    }

    #[test]
    fn a_missing_url_or_module_is_configuration_and_a_gone_lookup_is_a_deleted_record() {
        use enlace_core::ErrorCode as C;
        let url = reply_error_at(&reply(
            404,
            r#"{"code":"INVALID_URL_PATTERN","details":{},"message":"Please check if the URL trying to access is a correct one","status":"error"}"#,
        ));
        assert_eq!(url.code(), C::CrmEndpointNotFound);
        let module = reply_error_at(&reply(
            400,
            r#"{"code":"INVALID_MODULE","details":{"resource_path_index":0},"message":"the module name given seems to be invalid","status":"error"}"#,
        ));
        assert_eq!(module.code(), C::CrmEndpointNotFound);
        for link in ["Who_Id", "What_Id"] {
            let body = format!(
                r#"{{"data":[{{"code":"INVALID_DATA","details":{{"api_name":"{link}","json_path":"$.data[0].{link}","expected_data_type":"lookup"}},"message":"the related id given seems to be invalid","status":"error"}}]}}"#
            );
            let gone = reply_error_at(&reply(400, &body));
            assert_eq!(gone.code(), C::CrmRecordDeleted);
            assert!(gone.to_string().contains("no longer exists"), "{gone}");
        }
    }

    #[test]
    fn token_errors_in_a_200_are_failures() {
        assert_eq!(
            oauth_error(Grant::Code, "invalid_code", "").code(),
            enlace_core::ErrorCode::CrmAuthFailed
        );
        assert_eq!(
            oauth_error(Grant::Refresh, "invalid_code", "").code(),
            enlace_core::ErrorCode::CrmReauthRequired
        );
        assert_eq!(
            oauth_error(
                Grant::Refresh,
                "access_denied",
                "You have made too many requests continuously"
            )
            .code(),
            enlace_core::ErrorCode::CrmRateLimited
        );
    }

    #[test]
    fn call_records_link_contacts_and_leads_differently() {
        let mut activity = CallActivity {
            call_id: CallId("c".into()),
            record: RecordRef {
                crm: Crm::Zoho,
                kind: ContactKind::Contact,
                id: "1".into(),
            },
            direction: CallDirection::Incoming,
            peer_number: "+50688881234".into(),
            started_at: Timestamp(1_718_000_000_000),
            duration_seconds: 4_510,
            subject: "Soporte".into(),
            comment: "ok".into(),
        };
        let c = call_record(&activity, "enl-1");
        assert_eq!(c["Who_Id"]["id"], "1");
        assert_eq!(c["Call_Type"], "Inbound");
        assert_eq!(c["Call_Duration"], "75:10");
        assert_eq!(c["Call_Start_Time"], "2024-06-10T06:13:20+00:00");
        assert_eq!(c["Description"], "ok\n\n[enlace:enl-1]");
        assert!(c.get("What_Id").is_none() && c.get("Outbound_Call_Status").is_none());
        activity.record.kind = ContactKind::Lead;
        activity.direction = CallDirection::Outgoing;
        let l = call_record(&activity, "enl-1");
        assert_eq!(l["$se_module"], "Leads");
        assert_eq!(l["What_Id"]["id"], "1");
        assert!(l.get("Who_Id").is_none());
        assert_eq!(l["Outbound_Call_Status"], "Completed");
    }

    #[test]
    fn coql_and_words_are_safe() {
        assert_eq!(coql_literal("it's \\"), "'it\\'s \\\\'");
        assert_eq!(search_word("  O'Brien (Acme), S.A. "), "O Brien Acme S A");
        // A retry reads what was created since an hour before the write was queued.
        let queued = Timestamp(1_718_000_000_000);
        assert_eq!(
            key_query("Contacts", None, queued),
            "select id, Description from Contacts where Created_Time >= \
             '2024-06-10T05:13:20+00:00' order by Created_Time asc limit 200"
        );
        let lead = RecordRef {
            crm: Crm::Zoho,
            kind: ContactKind::Lead,
            id: "57".into(),
        };
        assert_eq!(
            key_query("Calls", Some(&lead), queued),
            "select id, Description from Calls where (What_Id = '57' and Created_Time >= \
             '2024-06-10T05:13:20+00:00') order by Created_Time asc limit 200"
        );
    }
}

#[doc(hidden)]
pub mod fuzzing;
