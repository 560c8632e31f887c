//! Salesforce: OAuth (Web Server flow with PKCE, username-password, refresh, revoke) and the
//! REST API v61.0 (SOSL search, sObject create, Task of subtype Call, SOQL existence checks).
//! Facts: `api-facts.md` section A.

use enlace_core::{
    CallActivity, CallDirection, Contact, ContactKind, Crm, NewContact, RecordRef, Timestamp,
};
use enlace_secrets::Sensitive;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::{CrmAccount, SalesforceAccount, SalesforceConfig, Tokens};
use crate::chat::{transcript_with_marker, ChatActivity, TRANSCRIPT_FIELD_MAX};
use crate::dates;
use crate::error::CrmError;
use crate::http::{host_label, Body, Http, Reply};
use crate::input::{
    call_subject, contact_from_new, encode_component, key_marker, record_fields, truncate_chars,
    FieldNames, SearchKey, KEY_SEARCH_MARGIN_MS,
};

/// The API names of the contact form's fields.
const FIELD_NAMES: FieldNames = FieldNames {
    last_name: "LastName",
    first_name: "FirstName",
    email: "Email",
    phone: "Phone",
    mobile: "MobilePhone",
    company: "Company",
};
use crate::link::{Session, WriteAttempt};

/// REST API version of every data call.
pub(crate) const API_VERSION: &str = "v61.0";

/// Characters SOSL reserves inside `FIND {…}`; each is escaped with a backslash.
const SOSL_RESERVED: &str = "?&|!{}[]()^~*:\\\"'+-";

const CONTACT_FIELDS: &str = "Id,FirstName,LastName,Name,Email,Phone,MobilePhone";
const LEAD_FIELDS: &str = "Id,FirstName,LastName,Name,Company,Email,Phone,MobilePhone";

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

pub(crate) fn authorize_url(
    config: &SalesforceConfig,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "api refresh_token web")
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "login")
        .finish();
    format!(
        "{}/services/oauth2/authorize?{query}",
        base(&config.login_host)
    )
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: Option<String>,
    refresh_token: Option<String>,
    instance_url: Option<String>,
    id: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Grant {
    Code,
    Password,
    Refresh,
}

fn token_form(
    config: &SalesforceConfig,
    grant: &str,
) -> form_urlencoded::Serializer<'static, String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", grant)
        .append_pair("client_id", &config.client_id);
    if let Some(secret) = config.client_secret.as_deref().filter(|s| !s.is_empty()) {
        form.append_pair("client_secret", secret);
    }
    form
}

fn token_call(
    http: &Http,
    login_host: &str,
    form: String,
    grant: Grant,
) -> Result<TokenReply, CrmError> {
    let url = format!("{}/services/oauth2/token", base(login_host));
    let reply = http.post(&url, None, Body::Form(form))?;
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
        return Err(CrmError::bad_reply(
            &reply.host,
            format!("HTTP {} without an access token", reply.status),
        ));
    }
    Ok(parsed)
}

/// OAuth error reply (`{"error":…,"error_description":…}`) → our error, by grant.
fn oauth_error(grant: Grant, error: &str, description: &str) -> CrmError {
    let detail = if description.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {description}")
    };
    match (grant, error) {
        (Grant::Refresh, _) => CrmError::ReauthRequired {
            crm: Crm::Salesforce,
            detail,
        },
        (Grant::Password, "invalid_grant") => CrmError::AuthFailed {
            crm: Crm::Salesforce,
            detail: format!(
                "{detail}. Either the username, password or security token is wrong (append the \
                 security token to the password), or the org blocks the username-password flow \
                 (Setup → OAuth and OpenID Connect Settings → Allow OAuth Username-Password \
                 Flows); the browser sign-in always works"
            ),
        },
        (Grant::Password, "unsupported_grant_type") => CrmError::PasswordFlowBlocked { detail },
        (Grant::Code, "invalid_grant") => CrmError::AuthFailed {
            crm: Crm::Salesforce,
            detail: format!("{detail} (the sign-in took too long or was already used; try again)"),
        },
        (_, "invalid_client_id" | "invalid_client") => CrmError::AuthFailed {
            crm: Crm::Salesforce,
            detail: format!("{detail} (check the client id and secret in Configuración)"),
        },
        (_, "access_denied") => CrmError::AccessDenied {
            crm: Crm::Salesforce,
            detail,
        },
        _ => CrmError::AuthFailed {
            crm: Crm::Salesforce,
            detail,
        },
    }
}

/// Same scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The instance URL a token reply names must be https (or the login host itself: a test
/// double over http).
fn trusted_instance(instance_url: &str, login_host: &str) -> bool {
    url::Url::parse(instance_url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
        || same_origin(instance_url, login_host)
}

fn is_salesforce_host(url: &url::Url) -> bool {
    url.scheme() == "https"
        && url
            .host_str()
            .is_some_and(|h| h == "salesforce.com" || h.ends_with(".salesforce.com"))
}

fn account_from(
    http: &Http,
    config: &SalesforceConfig,
    reply: TokenReply,
    username: Option<&str>,
) -> Result<(CrmAccount, Tokens), CrmError> {
    let host = host_label(&config.login_host);
    let access = reply.access_token.unwrap_or_default();
    let instance_url = reply
        .instance_url
        .filter(|u| trusted_instance(u, &config.login_host))
        .ok_or_else(|| {
            CrmError::bad_reply(&host, "no usable https instance_url in the token reply")
        })?;
    let id_url = reply.id.unwrap_or_default();
    let mut ids = id_url.trim_end_matches('/').rsplit('/');
    let (user_id, org_id) = match (ids.next(), ids.next()) {
        (Some(user), Some(org)) if !user.is_empty() && !org.is_empty() && org != "id" => {
            (user.to_owned(), org.to_owned())
        }
        _ => {
            return Err(CrmError::bad_reply(
                &host,
                "no identity URL in the token reply",
            ))
        }
    };
    let username = match username {
        Some(u) => u.to_owned(),
        None => identity_username(http, &id_url, &config.login_host, &instance_url, &access)
            .unwrap_or_else(|| user_id.clone()),
    };
    let account = SalesforceAccount {
        user_id,
        org_id,
        username,
        instance_url: base(&instance_url).to_owned(),
        login_host: base(&config.login_host).to_owned(),
    };
    let tokens = Tokens {
        access: Sensitive::new(access),
        refresh: reply
            .refresh_token
            .filter(|r| !r.is_empty())
            .map(Sensitive::new),
        access_expires_at: None,
    };
    Ok((CrmAccount::Salesforce(account), tokens))
}

/// The username from the identity URL, when that URL is a Salesforce host (or the login or
/// instance host): the token is never sent anywhere else.
fn identity_username(
    http: &Http,
    id_url: &str,
    login_host: &str,
    instance_url: &str,
    access: &str,
) -> Option<String> {
    let parsed = url::Url::parse(id_url).ok()?;
    if !(is_salesforce_host(&parsed)
        || same_origin(id_url, login_host)
        || same_origin(id_url, instance_url))
    {
        return None;
    }
    #[derive(Deserialize)]
    struct Identity {
        username: Option<String>,
    }
    let reply = http.get(id_url, Some(&format!("Bearer {access}"))).ok()?;
    if !reply.is_success() || reply.is_html() {
        tracing::debug!(status = reply.status, "Salesforce identity call failed");
        return None;
    }
    reply
        .json::<Identity>()
        .ok()?
        .username
        .filter(|u| !u.is_empty())
}

pub(crate) fn exchange_code(
    http: &Http,
    config: &SalesforceConfig,
    redirect_uri: &str,
    code: &Sensitive<String>,
    verifier: &Sensitive<String>,
) -> Result<(CrmAccount, Tokens), CrmError> {
    let form = token_form(config, "authorization_code")
        .append_pair("code", code.expose())
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier.expose())
        .finish();
    let reply = token_call(http, &config.login_host, form, Grant::Code)?;
    account_from(http, config, reply, None)
}

pub(crate) fn password_sign_in(
    http: &Http,
    config: &SalesforceConfig,
    username: &str,
    password_and_token: &Sensitive<String>,
) -> Result<(CrmAccount, Tokens), CrmError> {
    let form = token_form(config, "password")
        .append_pair("username", username.trim())
        .append_pair("password", password_and_token.expose())
        .finish();
    let reply = token_call(http, &config.login_host, form, Grant::Password)?;
    account_from(http, config, reply, Some(username.trim()))
}

fn refresh(
    http: &Http,
    account: &SalesforceAccount,
    config: &SalesforceConfig,
    tokens: &Tokens,
) -> Result<Tokens, CrmError> {
    let Some(refresh_token) = tokens.refresh.as_ref() else {
        return Err(CrmError::ReauthRequired {
            crm: Crm::Salesforce,
            detail: "the session expired and this sign-in has no refresh token".into(),
        });
    };
    let form = token_form(config, "refresh_token")
        .append_pair("refresh_token", refresh_token.expose())
        .finish();
    let reply = token_call(http, &account.login_host, form, Grant::Refresh)?;
    tracing::info!("Salesforce access token refreshed");
    Ok(Tokens {
        access: Sensitive::new(reply.access_token.unwrap_or_default()),
        // Without refresh-token rotation the old one stays valid.
        refresh: reply
            .refresh_token
            .filter(|r| !r.is_empty())
            .map(Sensitive::new)
            .or_else(|| tokens.refresh.clone()),
        access_expires_at: None,
    })
}

/// Revoke `token`. The endpoint may redirect to the My Domain host: a 302 is followed (twice
/// at most) when it keeps the scheme and stays on a Salesforce host or the login host.
pub(crate) fn revoke(
    http: &Http,
    account: &SalesforceAccount,
    token: &Sensitive<String>,
) -> Result<(), CrmError> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token.expose())
        .finish();
    let mut url = format!("{}/services/oauth2/revoke", base(&account.login_host));
    for _ in 0..3 {
        let reply = http.post(&url, None, Body::Form(form.clone()))?;
        if matches!(reply.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(next) = allowed_revoke_redirect(&url, reply.location.as_deref()) {
                url = next;
                continue;
            }
        }
        reply.check_common()?;
        if reply.is_success() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct RevokeError {
            error: Option<String>,
        }
        let error = serde_json::from_slice::<RevokeError>(&reply.body)
            .ok()
            .and_then(|e| e.error)
            .unwrap_or_default();
        return match error.as_str() {
            // Already revoked or expired: nothing left to revoke.
            "invalid_token" => Ok(()),
            _ if reply.status == 429 => Err(reply.rate_limited(Crm::Salesforce)),
            _ => Err(CrmError::AuthFailed {
                crm: Crm::Salesforce,
                detail: format!("revoking failed (HTTP {} {error})", reply.status),
            }),
        };
    }
    Err(CrmError::bad_reply(
        &host_label(&url),
        "too many redirects while revoking",
    ))
}

fn allowed_revoke_redirect(current: &str, location: Option<&str>) -> Option<String> {
    let current = url::Url::parse(current).ok()?;
    let next = current.join(location?).ok()?;
    let ok = next.scheme() == current.scheme()
        && (next.origin() == current.origin() || is_salesforce_host(&next));
    ok.then(|| next.to_string())
}

/// `{instance_url}/lightning/r/{Contact|Lead}/{id}/view`.
pub(crate) fn record_url(instance_url: &str, record: &RecordRef) -> String {
    format!(
        "{}/lightning/r/{}/{}/view",
        base(instance_url),
        sobject(record.kind),
        encode_component(&record.id)
    )
}

fn sobject(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Contact => "Contact",
        ContactKind::Lead => "Lead",
    }
}

/// Backslash-escape every SOSL reserved character.
pub(crate) fn escape_sosl(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 8);
    for c in term.chars() {
        if SOSL_RESERVED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SOSL statement for a search key.
pub(crate) fn sosl(key: &SearchKey) -> String {
    let (term, group) = match key {
        SearchKey::Phone(forms) => (
            forms
                .iter()
                .map(|f| escape_sosl(f))
                .collect::<Vec<_>>()
                .join(" OR "),
            "PHONE",
        ),
        SearchKey::Email(email) => (escape_sosl(email), "EMAIL"),
        SearchKey::Name(name) => (escape_sosl(name), "NAME"),
    };
    format!(
        "FIND {{{term}}} IN {group} FIELDS RETURNING Contact({CONTACT_FIELDS}), Lead({LEAD_FIELDS})"
    )
}

/// A string literal for SOQL: backslash and quote escaped.
pub(crate) fn soql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `Sforce-Limit-Info: api-usage=18/15000` → `(18, 15000)`.
pub(crate) fn parse_limit_info(header: &str) -> Option<(u64, u64)> {
    let usage = header
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("api-usage="))?;
    let (used, max) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
}

/// Salesforce field name → the "Nuevo contacto" field it belongs to.
pub(crate) fn our_field(salesforce_field: &str) -> Option<&'static str> {
    Some(match salesforce_field {
        "LastName" => "last_name",
        "FirstName" => "first_name",
        "Email" => "email",
        "Phone" => "phone",
        "MobilePhone" => "mobile",
        "Company" => "company",
        _ => return None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    fields: Vec<String>,
}

/// What a data URL names: a record (`sobjects/{Object}/{id}`) or an endpoint (anything else:
/// `search/`, `query/`, `sobjects/{Object}/`). A 404 means "deleted" only for the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Record,
    Endpoint,
}

impl Target {
    /// Read from a data URL `…/services/data/vXX.X/{path}[?query]`.
    pub(crate) fn of(url: &str) -> Target {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let after = path
            .split_once("/services/data/")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let segments: Vec<&str> = after.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [_version, "sobjects", _object, id, ..] if *id != "describe" => Target::Record,
            _ => Target::Endpoint,
        }
    }
}

/// REST error array → our error (after redirects, HTML and 5xx were handled). `target` says
/// whether the URL named a record: only there does a 404 mean the record is gone.
fn rest_error(reply: &Reply, target: Target) -> CrmError {
    let first_value = match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Array(items)) => items.into_iter().next(),
        Ok(object @ Value::Object(_)) => Some(object),
        _ => None,
    };
    let existing = first_value.as_ref().and_then(duplicate_match);
    let first = first_value.and_then(|v| serde_json::from_value::<RestError>(v).ok());
    let Some(first) = first else {
        if reply.status == 429 {
            return reply.rate_limited(Crm::Salesforce);
        }
        return CrmError::bad_reply(
            &reply.host,
            format!("HTTP {} without the REST error array", reply.status),
        );
    };
    let code = first.error_code.as_str();
    let field = first
        .fields
        .iter()
        .find_map(|f| our_field(f))
        .map(str::to_owned);
    let message = if first.message.is_empty() {
        format!("Salesforce: {code}")
    } else {
        format!("Salesforce: {}", first.message)
    };
    match (reply.status, code) {
        (429, _) | (403, "REQUEST_LIMIT_EXCEEDED") => reply.rate_limited(Crm::Salesforce),
        (401, _) => CrmError::ReauthRequired {
            crm: Crm::Salesforce,
            detail: format!("{code}: {}", first.message),
        },
        (403, _) => CrmError::NoPermission {
            crm: Crm::Salesforce,
            detail: format!("{code}: {}", first.message),
        },
        (_, "DUPLICATES_DETECTED" | "DUPLICATE_VALUE") => CrmError::Duplicate {
            crm: Crm::Salesforce,
            field,
            existing,
            message,
        },
        (_, "ENTITY_IS_DELETED") => CrmError::RecordDeleted {
            crm: Crm::Salesforce,
            detail: message,
        },
        (404, _) if target == Target::Record => CrmError::RecordDeleted {
            crm: Crm::Salesforce,
            detail: message,
        },
        // Wrong API version, an object the org does not have or disabled (a query of it is
        // INVALID_TYPE "sObject type 'Task' is not supported"): configuration.
        (404, _) | (_, "INVALID_TYPE") => CrmError::EndpointNotFound {
            crm: Crm::Salesforce,
            detail: format!("HTTP {} {code}: {}", reply.status, first.message),
        },
        (
            400,
            "REQUIRED_FIELD_MISSING"
            | "INVALID_EMAIL_ADDRESS"
            | "STRING_TOO_LONG"
            | "FIELD_CUSTOM_VALIDATION_EXCEPTION"
            | "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
            | "FIELD_INTEGRITY_EXCEPTION"
            | "INVALID_CROSS_REFERENCE_KEY"
            | "MALFORMED_ID",
        ) => CrmError::InvalidField {
            crm: Crm::Salesforce,
            field,
            message,
        },
        (400, _) if !first.fields.is_empty() => CrmError::InvalidField {
            crm: Crm::Salesforce,
            field,
            message,
        },
        _ => CrmError::Internal {
            detail: format!(
                "Salesforce refused the request (HTTP {}, {code}: {})",
                reply.status, first.message
            ),
        },
    }
}

/// The first Contact or Lead a `DUPLICATES_DETECTED` error matched:
/// `duplicateResut.matchResults[].matchRecords[].record` (Salesforce spells the key
/// `duplicateResut` in REST replies; `duplicateResult`, as in the SOAP and Apex docs, is read
/// too). Its type is `record.attributes.type`, else the match result's `entityType`.
fn duplicate_match(error: &Value) -> Option<RecordRef> {
    let result = error
        .get("duplicateResut")
        .or_else(|| error.get("duplicateResult"))?;
    let kind_of = |name: &str| match name {
        "Contact" => Some(ContactKind::Contact),
        "Lead" => Some(ContactKind::Lead),
        _ => None,
    };
    result
        .get("matchResults")?
        .as_array()?
        .iter()
        .flat_map(|m| {
            let entity = m.get("entityType").and_then(Value::as_str);
            m.get("matchRecords")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(move |r| (entity, r))
        })
        .find_map(|(entity, r)| {
            let record = r.get("record")?;
            let id = record.get("Id").and_then(Value::as_str)?.trim();
            let kind = record
                .pointer("/attributes/type")
                .and_then(Value::as_str)
                .or(entity)
                .and_then(kind_of)?;
            (!id.is_empty()).then(|| RecordRef {
                crm: Crm::Salesforce,
                kind,
                id: id.to_owned(),
            })
        })
}

/// One linked Salesforce account's REST calls.
pub(crate) struct Api<'a> {
    session: &'a Session,
    account: &'a SalesforceAccount,
    config: &'a SalesforceConfig,
}

impl<'a> Api<'a> {
    pub fn new(
        session: &'a Session,
        account: &'a SalesforceAccount,
        config: &'a SalesforceConfig,
    ) -> Api<'a> {
        Api {
            session,
            account,
            config,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/services/data/{API_VERSION}/{path}",
            base(&self.account.instance_url)
        )
    }

    fn once(&self, url: &str, body: Option<&Value>, access: &str) -> Result<Reply, CrmError> {
        let auth = format!("Bearer {access}");
        let reply = match body {
            None => self.session.http.get(url, Some(&auth))?,
            Some(v) => self
                .session
                .http
                .post(url, Some(&auth), Body::Json(v.to_string()))?,
        };
        if let Some(usage) = reply.limit_info.as_deref().and_then(parse_limit_info) {
            self.session.set_usage(usage);
        }
        Ok(reply)
    }

    /// GET (no body) or POST JSON; refresh once on `INVALID_SESSION_ID`; errors mapped.
    fn send(&self, url: &str, body: Option<&Value>) -> Result<Reply, CrmError> {
        let access = self.session.access();
        let mut reply = self.once(url, body, access.expose())?;
        if reply.status == 401 && is_invalid_session(&reply) {
            self.session.refresh_after(access.expose(), |tokens| {
                refresh(&self.session.http, self.account, self.config, tokens)
            })?;
            reply = self.once(url, body, self.session.access().expose())?;
        }
        reply.check_common()?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(rest_error(&reply, Target::of(url)))
        }
    }

    pub fn search(&self, key: &SearchKey) -> Result<Vec<Contact>, CrmError> {
        let url = format!("{}?q={}", self.url("search/"), encode_component(&sosl(key)));
        let reply = self.send(&url, None)?;
        let value: Value = reply.json()?;
        let records = match value {
            Value::Object(mut o) => match o.remove("searchRecords") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(CrmError::bad_reply(
                        &reply.host,
                        "no searchRecords in the reply",
                    ))
                }
            },
            // Before v36 the body was a bare array.
            Value::Array(items) => items,
            _ => return Err(CrmError::bad_reply(&reply.host, "unexpected search reply")),
        };
        Ok(records.iter().filter_map(contact_from_record).collect())
    }

    /// The records of a SOQL query.
    fn query(&self, soql: &str) -> Result<Vec<Value>, CrmError> {
        let url = format!("{}?q={}", self.url("query/"), encode_component(soql));
        let reply = self.send(&url, None)?;
        #[derive(Deserialize)]
        struct Query {
            #[serde(default)]
            records: Vec<Value>,
        }
        let query: Query = reply.json()?;
        Ok(query.records)
    }

    /// `SELECT Id FROM … WHERE …`: the first Id, if any.
    fn first_id(&self, soql: &str) -> Result<Option<String>, CrmError> {
        Ok(self
            .query(soql)?
            .iter()
            .find_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned)))
    }

    /// The Contact or Lead an earlier attempt of `attempt` created: its key marker is in the
    /// `Description` (see [`key_query`]).
    fn created_with_key(
        &self,
        object: &str,
        attempt: &WriteAttempt<'_>,
    ) -> Result<Option<String>, CrmError> {
        let marker = key_marker(attempt.key);
        let records = self.query(&key_query(object, &self.account.user_id, attempt.queued_at))?;
        Ok(records.iter().find_map(|r| {
            let description = r.get("Description").and_then(Value::as_str)?;
            description
                .contains(&marker)
                .then(|| r.get("Id").and_then(Value::as_str).map(str::to_owned))?
        }))
    }

    pub fn create_contact(
        &self,
        new: &NewContact,
        attempt: &WriteAttempt<'_>,
    ) -> Result<Contact, CrmError> {
        let object = sobject(new.kind);
        let (mut fields, _) = record_fields(new, &FIELD_NAMES);
        fields.insert("Description".into(), json!(key_marker(attempt.key)));
        if attempt.retrying {
            if let Some(id) = self.created_with_key(object, attempt)? {
                tracing::info!(object, "Salesforce record from an earlier attempt found");
                return Ok(contact_from_new(Crm::Salesforce, new, id));
            }
        }
        let reply = self.send(
            &self.url(&format!("sobjects/{object}/")),
            Some(&Value::Object(fields)),
        )?;
        Ok(contact_from_new(Crm::Salesforce, new, created_id(&reply)?))
    }

    pub fn log_call(
        &self,
        activity: &CallActivity,
        attempt: &WriteAttempt<'_>,
    ) -> Result<String, CrmError> {
        let call_object = truncate_chars(attempt.key, 255);
        if attempt.retrying {
            let soql = format!(
                "SELECT Id FROM Task WHERE CallObject = {} LIMIT 1",
                soql_literal(&call_object)
            );
            if let Some(id) = self.first_id(&soql)? {
                tracing::info!("Salesforce Task from an earlier attempt found");
                return Ok(id);
            }
        }
        let task = task_body(activity, &call_object);
        let reply = self.send(&self.url("sobjects/Task/"), Some(&task))?;
        created_id(&reply)
    }

    /// A conversation as a completed Task (subtype Task) on its Contact or Lead, or without
    /// `WhoId` when it has none; the key marker closes the `Description`.
    pub fn log_chat(
        &self,
        chat: &ChatActivity,
        attempt: &WriteAttempt<'_>,
    ) -> Result<String, CrmError> {
        if attempt.retrying {
            if let Some(id) = self.created_with_key("Task", attempt)? {
                tracing::info!("Salesforce chat Task from an earlier attempt found");
                return Ok(id);
            }
        }
        let task = chat_task_body(chat, attempt.key);
        let reply = self.send(&self.url("sobjects/Task/"), Some(&task))?;
        created_id(&reply)
    }
}

/// The Task body of a logged conversation. `ActivityDate` is the day it ended, in UTC.
pub(crate) fn chat_task_body(chat: &ChatActivity, key: &str) -> Value {
    let mut task = json!({
        "Subject": chat.subject(255),
        "Description": transcript_with_marker(&chat.transcript, key, TRANSCRIPT_FIELD_MAX),
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": dates::date(chat.ended_at),
        "TaskSubtype": "Task",
    });
    if let Some(record) = &chat.record {
        task["WhoId"] = json!(record.id);
    }
    task
}

fn is_invalid_session(reply: &Reply) -> bool {
    serde_json::from_slice::<Vec<RestError>>(&reply.body)
        .map(|errors| errors.iter().any(|e| e.error_code == "INVALID_SESSION_ID"))
        .unwrap_or(false)
}

/// The records of `object` the signed-in user created since the write was queued (an hour
/// early, for clock skew), oldest first, with their `Description`. SOQL cannot filter on a
/// long text area, so the key marker is looked for in what this returns; the record an
/// earlier attempt created is among the first (only what the agent created in the CRM
/// meanwhile comes before it).
fn key_query(object: &str, user_id: &str, queued_at: Timestamp) -> String {
    let since = Timestamp(queued_at.millis().saturating_sub(KEY_SEARCH_MARGIN_MS));
    format!(
        "SELECT Id, Description FROM {object} WHERE CreatedById = {} AND CreatedDate >= {} \
         ORDER BY CreatedDate ASC LIMIT 200",
        soql_literal(user_id),
        dates::soql_datetime(since)
    )
}

/// The Task body of a logged call. `ActivityDate` is the call's start date **in UTC** (the
/// desktop does not know the org's time zone; a call near midnight may land on the UTC day).
pub(crate) fn task_body(activity: &CallActivity, call_object: &str) -> Value {
    json!({
        "Subject": truncate_chars(&call_subject(activity), 255),
        "Description": truncate_chars(&activity.comment, 32_000),
        "WhoId": activity.record.id,
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": dates::date(activity.started_at),
        "TaskSubtype": "Call",
        "CallType": match activity.direction {
            CallDirection::Incoming => "Inbound",
            CallDirection::Outgoing => "Outbound",
        },
        "CallDurationInSeconds": activity.duration_seconds,
        "CallObject": call_object,
    })
}

fn created_id(reply: &Reply) -> Result<String, CrmError> {
    #[derive(Deserialize)]
    struct Created {
        id: Option<String>,
    }
    let created: Created = reply.json()?;
    created
        .id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| CrmError::bad_reply(&reply.host, "created, but no id in the reply"))
}

fn contact_from_record(record: &Value) -> Option<Contact> {
    let kind = match record.pointer("/attributes/type").and_then(Value::as_str)? {
        "Contact" => ContactKind::Contact,
        "Lead" => ContactKind::Lead,
        _ => return None,
    };
    let text = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut last_name = text("LastName");
    let first_name = text("FirstName");
    if last_name.is_none() && first_name.is_none() {
        last_name = text("Name");
    }
    Some(Contact {
        crm: Crm::Salesforce,
        crm_id: text("Id")?,
        kind,
        first_name,
        last_name,
        email: text("Email"),
        phone: text("Phone"),
        mobile: text("MobilePhone"),
        company: text("Company"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlace_core::{CallId, Timestamp};

    #[test]
    fn every_reserved_character_is_escaped() {
        assert_eq!(
            escape_sosl("+1 (415) 555-1212"),
            "\\+1 \\(415\\) 555\\-1212"
        );
        let all = "? & | ! { } [ ] ( ) ^ ~ * : \\ \" ' + -";
        let escaped = escape_sosl(all);
        for c in SOSL_RESERVED.chars() {
            assert!(
                escaped.contains(&format!("\\{c}")),
                "{c} not escaped in {escaped}"
            );
        }
        assert_eq!(escape_sosl("O'Brien"), "O\\'Brien");
        assert_eq!(escape_sosl("Ana María"), "Ana María");
    }

    #[test]
    fn sosl_uses_the_right_group_and_fields() {
        let phone = sosl(&SearchKey::Phone(vec![
            "50688881234".into(),
            "88881234".into(),
        ]));
        assert_eq!(
            phone,
            "FIND {50688881234 OR 88881234} IN PHONE FIELDS RETURNING \
             Contact(Id,FirstName,LastName,Name,Email,Phone,MobilePhone), \
             Lead(Id,FirstName,LastName,Name,Company,Email,Phone,MobilePhone)"
        );
        assert!(sosl(&SearchKey::Email("a-b@x.cr".into()))
            .starts_with("FIND {a\\-b@x.cr} IN EMAIL FIELDS"));
        assert!(sosl(&SearchKey::Name("Mora*".into())).starts_with("FIND {Mora\\*} IN NAME FIELDS"));
    }

    #[test]
    fn soql_literals_are_escaped() {
        assert_eq!(soql_literal("O'Brien \\ x"), "'O\\'Brien \\\\ x'");
    }

    #[test]
    fn a_retry_reads_the_users_records_created_since_the_write_was_queued() {
        // Queued at 2024-06-10T06:13:20Z: from an hour earlier, by key, never by fields.
        assert_eq!(
            key_query("Lead", "0058d00000Enlc1AAA", Timestamp(1_718_000_000_000)),
            "SELECT Id, Description FROM Lead WHERE CreatedById = '0058d00000Enlc1AAA' AND \
             CreatedDate >= 2024-06-10T05:13:20Z ORDER BY CreatedDate ASC LIMIT 200"
        );
    }

    #[test]
    fn limit_info_is_parsed() {
        assert_eq!(parse_limit_info("api-usage=18/15000"), Some((18, 15_000)));
        assert_eq!(
            parse_limit_info("per-app-api-usage=1/2, api-usage=3/4"),
            Some((3, 4))
        );
        assert_eq!(parse_limit_info("nonsense"), None);
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            host: "acme.my.salesforce.com".into(),
            content_type: "application/json".into(),
            location: None,
            retry_after: None,
            limit_info: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn rest_errors_map_to_our_fields_and_codes() {
        use enlace_core::ErrorCode as C;
        for (sf, ours) in [
            ("LastName", "last_name"),
            ("Company", "company"),
            ("Email", "email"),
            ("Phone", "phone"),
            ("MobilePhone", "mobile"),
            ("FirstName", "first_name"),
        ] {
            let body = format!(
                r#"[{{"message":"Required fields are missing: [{sf}]","errorCode":"REQUIRED_FIELD_MISSING","fields":["{sf}"]}}]"#
            );
            let err = rest_error(&reply(400, &body), Target::Endpoint);
            assert_eq!(err.code(), C::CrmInvalidField);
            assert_eq!(err.field(), Some(ours));
        }
        let dup = rest_error(
            &reply(
                400,
                r#"[{"message":"dup","errorCode":"DUPLICATES_DETECTED"}]"#,
            ),
            Target::Endpoint,
        );
        assert_eq!(dup.code(), C::CrmDuplicate);
        assert_eq!(dup.existing_record(), None);
        let limit = rest_error(
            &reply(
                403,
                r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
            ),
            Target::Endpoint,
        );
        assert_eq!(limit.code(), C::CrmRateLimited);
        assert_eq!(limit.retry_after(), Some(crate::error::DEFAULT_RETRY_AFTER));
        let denied = rest_error(
            &reply(
                403,
                r#"[{"message":"no","errorCode":"INSUFFICIENT_ACCESS_OR_READONLY"}]"#,
            ),
            Target::Endpoint,
        );
        assert_eq!(denied.code(), C::CrmNoPermission);
        let garbage = rest_error(&reply(400, "{\"unexpected\":true"), Target::Endpoint);
        assert_eq!(garbage.code(), C::CrmBadReply);
    }

    /// A `DUPLICATES_DETECTED` reply as real orgs send it (note `duplicateResut`).
    const DUPLICATES_DETECTED: &str = r#"[{"duplicateResut":{"allowSave":false,"duplicateRule":"Standard_Contact_Duplicate_Rule","duplicateRuleEntityType":"Contact","errorMessage":"You're creating a duplicate record. We recommend you use an existing record instead.","matchResults":[{"entityType":"Lead","errors":[],"matchEngine":"FuzzyMatchEngine","matchRecords":[],"rule":"Contact_to_Lead_Rule","size":0,"success":true},{"entityType":"Contact","errors":[],"matchEngine":"FuzzyMatchEngine","matchRecords":[{"additionalInformation":[],"fieldDiffs":[],"matchConfidence":100.0,"record":{"attributes":{"type":"Contact","url":"/services/data/v61.0/sobjects/Contact/0035e00000ABCDeAAF"},"Id":"0035e00000ABCDeAAF"}}],"rule":"Standard_Contact_Match_Rule_v1_1","size":1,"success":true}],"errors":[]},"errorCode":"DUPLICATES_DETECTED","message":"You're creating a duplicate record. We recommend you use an existing record instead."}]"#;

    #[test]
    fn a_duplicate_names_the_matched_record() {
        let err = rest_error(&reply(400, DUPLICATES_DETECTED), Target::Endpoint);
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmDuplicate);
        assert_eq!(
            err.existing_record(),
            Some(&RecordRef {
                crm: Crm::Salesforce,
                kind: ContactKind::Contact,
                id: "0035e00000ABCDeAAF".into(),
            })
        );
        // A Contact rule that matched a Lead: the Lead, from entityType when the record has no
        // attributes; the documented spelling is read as well.
        let lead = r#"[{"duplicateResult":{"matchResults":[{"entityType":"Lead","matchRecords":[{"record":{"Id":"00Q5e00000XYZ12EAB"}}]}]},"errorCode":"DUPLICATES_DETECTED","message":"dup"}]"#;
        let err = rest_error(&reply(400, lead), Target::Endpoint);
        assert_eq!(
            err.existing_record().map(|r| (r.kind, r.id.as_str())),
            Some((ContactKind::Lead, "00Q5e00000XYZ12EAB"))
        );
        // A match on another object (an Account) is no record to attach a call to.
        let account = r#"[{"duplicateResut":{"matchResults":[{"entityType":"Account","matchRecords":[{"record":{"attributes":{"type":"Account"},"Id":"0015e00000ABCDeAAF"}}]}]},"errorCode":"DUPLICATES_DETECTED","message":"dup"}]"#;
        let err = rest_error(&reply(400, account), Target::Endpoint);
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmDuplicate);
        assert_eq!(err.existing_record(), None);
    }

    #[test]
    fn only_a_deleted_record_reads_as_deleted() {
        use enlace_core::ErrorCode as C;
        let missing =
            r#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#;
        let deleted =
            r#"[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]"#;
        let base = "https://acme.my.salesforce.com/services/data/v61.0";
        for url in [
            format!("{base}/sobjects/Task/"),
            format!("{base}/sobjects/Task"),
            format!("{base}/query/?q=SELECT%20Id%20FROM%20Task"),
            format!("{base}/search/?q=FIND"),
            "https://acme.my.salesforce.com/services/data/v99.0/sobjects/Contact/".to_owned(),
        ] {
            let err = rest_error(&reply(404, missing), Target::of(&url));
            assert_eq!(err.code(), C::CrmEndpointNotFound, "{url}");
            assert!(err.needs_agent() && !err.is_transient());
            assert!(!err.to_string().contains("no longer exists"), "{err}");
        }
        let no_type =
            r#"[{"message":"sObject type 'Task' is not supported.","errorCode":"INVALID_TYPE"}]"#;
        let err = rest_error(&reply(400, no_type), Target::Endpoint);
        assert_eq!(err.code(), C::CrmEndpointNotFound);
        let record = format!("{base}/sobjects/Contact/0035e00000ABCDeAAF");
        assert_eq!(Target::of(&record), Target::Record);
        let err = rest_error(&reply(404, missing), Target::of(&record));
        assert_eq!(err.code(), C::CrmRecordDeleted);
        for status in [400, 404] {
            let err = rest_error(&reply(status, deleted), Target::Endpoint);
            assert_eq!(err.code(), C::CrmRecordDeleted);
            assert!(err.to_string().contains("no longer exists"), "{err}");
        }
    }

    #[test]
    fn password_flow_errors_explain_both_causes() {
        let err = oauth_error(Grant::Password, "invalid_grant", "authentication failure");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmAuthFailed);
        let text = err.to_string();
        assert!(
            text.contains("security token") && text.contains("Username-Password"),
            "{text}"
        );
        assert_eq!(
            oauth_error(Grant::Password, "unsupported_grant_type", "").code(),
            enlace_core::ErrorCode::CrmPasswordFlowBlocked
        );
        assert_eq!(
            oauth_error(
                Grant::Refresh,
                "invalid_grant",
                "expired access/refresh token"
            )
            .code(),
            enlace_core::ErrorCode::CrmReauthRequired
        );
    }

    #[test]
    fn record_urls_and_revoke_redirects() {
        let r = RecordRef {
            crm: Crm::Salesforce,
            kind: ContactKind::Lead,
            id: "00Q5e00000XYZ12EAB".into(),
        };
        assert_eq!(
            record_url("https://acme.my.salesforce.com/", &r),
            "https://acme.my.salesforce.com/lightning/r/Lead/00Q5e00000XYZ12EAB/view"
        );
        let from = "https://login.salesforce.com/services/oauth2/revoke";
        assert_eq!(
            allowed_revoke_redirect(
                from,
                Some("https://acme.my.salesforce.com/services/oauth2/revoke")
            )
            .as_deref(),
            Some("https://acme.my.salesforce.com/services/oauth2/revoke")
        );
        assert_eq!(
            allowed_revoke_redirect(from, Some("https://evil.example/revoke")),
            None
        );
        assert_eq!(
            allowed_revoke_redirect(from, Some("http://acme.my.salesforce.com/x")),
            None
        );
        assert!(allowed_revoke_redirect("http://127.0.0.1:9/a", Some("/b")).is_some());
    }

    #[test]
    fn task_body_has_every_call_field() {
        let activity = CallActivity {
            call_id: CallId("c1".into()),
            record: RecordRef {
                crm: Crm::Salesforce,
                kind: ContactKind::Contact,
                id: "0035e00000ABCDeAAF".into(),
            },
            direction: CallDirection::Outgoing,
            peer_number: "+50688881234".into(),
            started_at: Timestamp(1_718_000_000_000),
            duration_seconds: 125,
            subject: " ".into(),
            comment: "Notas".into(),
        };
        let body = task_body(&activity, "key-1");
        assert_eq!(body["Subject"], "Llamada saliente +50688881234");
        assert_eq!(body["ActivityDate"], "2024-06-10");
        assert_eq!(body["CallType"], "Outbound");
        assert_eq!(body["CallDurationInSeconds"], 125);
        assert_eq!(body["CallObject"], "key-1");
        assert_eq!(body["WhoId"], "0035e00000ABCDeAAF");
        assert_eq!(body["TaskSubtype"], "Call");
        assert_eq!(body["Status"], "Completed");
        assert_eq!(body["Priority"], "Normal");
        assert_eq!(body["Description"], "Notas");
    }
}

#[doc(hidden)]
pub mod fuzzing;
