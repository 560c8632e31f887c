//! The Salesforce double: OAuth (password, web server + PKCE, refresh, revoke), identity URL,
//! REST data API v60.0–v62.0 (SOSL search, SOQL subset, create and read Contact/Lead/Task,
//! limits), with the reply shapes of api-facts §A.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enlace_core::ContactKind;
use serde_json::{json, Map, Value};

use crate::common::{
    append_query, b64, b64url_nopad, digits, hmac_sha256, html_escape, is_loopback_http, lock,
    now_ms, plausible_email, random_alnum, salesforce_datetime, sha256, take_fault, with_fault,
    Fault, RecordedRequest,
};
use crate::http::{Handler, Reply, Request, Response, Server};
use crate::sf_search::{parse_select, parse_sosl, SearchGroup};

/// API versions the double serves (`/services/data/vXX.X/…`).
pub const SALESFORCE_VERSIONS: [(&str, &str); 3] = [
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
];
/// The daily request allocation reported in `Sforce-Limit-Info`.
pub const SALESFORCE_DAILY_LIMIT: u64 = 15_000;
/// How long an authorization code stays valid.
pub const SALESFORCE_CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The user the authorize page signs in when `authorize_as` was never called.
pub const SALESFORCE_DEFAULT_USER: &str = "agente@enlace-demo.example";

const SOBJECTS: [&str; 3] = ["Contact", "Lead", "Task"];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text(usize),
    Email,
    Phone,
    Date,
    Int,
    Pick(&'static [&'static str]),
    Ref(&'static [&'static str]),
    ReadOnly,
}

#[derive(Debug, Clone, Copy)]
struct FieldDef {
    name: &'static str,
    label: &'static str,
    kind: Kind,
}

const fn f(name: &'static str, label: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, label, kind }
}

const CONTACT_FIELDS: &[FieldDef] = &[
    f("Id", "Contact ID", Kind::ReadOnly),
    f("FirstName", "First Name", Kind::Text(40)),
    f("LastName", "Last Name", Kind::Text(80)),
    f("Name", "Full Name", Kind::ReadOnly),
    f("Email", "Email", Kind::Email),
    f("Phone", "Business Phone", Kind::Phone),
    f("MobilePhone", "Mobile Phone", Kind::Phone),
    f("HomePhone", "Home Phone", Kind::Phone),
    f("OtherPhone", "Other Phone", Kind::Phone),
    f("Title", "Title", Kind::Text(128)),
    f("Department", "Department", Kind::Text(80)),
    f("AccountId", "Account ID", Kind::Ref(&["001"])),
    f("Description", "Contact Description", Kind::Text(32_000)),
    f("LeadSource", "Lead Source", Kind::Text(40)),
    f("MailingCity", "Mailing City", Kind::Text(40)),
    f("MailingCountry", "Mailing Country", Kind::Text(80)),
    f("OwnerId", "Owner ID", Kind::Ref(&["005"])),
    f("CreatedById", "Created By ID", Kind::ReadOnly),
    f("CreatedDate", "Created Date", Kind::ReadOnly),
    f("LastModifiedDate", "Last Modified Date", Kind::ReadOnly),
];

const LEAD_FIELDS: &[FieldDef] = &[
    f("Id", "Lead ID", Kind::ReadOnly),
    f("FirstName", "First Name", Kind::Text(40)),
    f("LastName", "Last Name", Kind::Text(80)),
    f("Name", "Full Name", Kind::ReadOnly),
    f("Company", "Company", Kind::Text(255)),
    f("Email", "Email", Kind::Email),
    f("Phone", "Phone", Kind::Phone),
    f("MobilePhone", "Mobile Phone", Kind::Phone),
    f("Title", "Title", Kind::Text(128)),
    f(
        "Status",
        "Lead Status",
        Kind::Pick(&[
            "Open - Not Contacted",
            "Working - Contacted",
            "Closed - Converted",
            "Closed - Not Converted",
        ]),
    ),
    f("LeadSource", "Lead Source", Kind::Text(40)),
    f("Description", "Description", Kind::Text(32_000)),
    f("City", "City", Kind::Text(40)),
    f("Country", "Country", Kind::Text(80)),
    f("IsConverted", "Converted", Kind::ReadOnly),
    f("OwnerId", "Owner ID", Kind::Ref(&["005", "00G"])),
    f("CreatedById", "Created By ID", Kind::ReadOnly),
    f("CreatedDate", "Created Date", Kind::ReadOnly),
    f("LastModifiedDate", "Last Modified Date", Kind::ReadOnly),
];

const TASK_FIELDS: &[FieldDef] = &[
    f("Id", "Activity ID", Kind::ReadOnly),
    f("Subject", "Subject", Kind::Text(255)),
    f("Description", "Description", Kind::Text(32_000)),
    f("WhoId", "Name ID", Kind::Ref(&["003", "00Q"])),
    f("WhatId", "Related To ID", Kind::Ref(&["001", "006", "500"])),
    f(
        "Status",
        "Status",
        Kind::Pick(&[
            "Not Started",
            "In Progress",
            "Completed",
            "Waiting on someone else",
            "Deferred",
        ]),
    ),
    f(
        "Priority",
        "Priority",
        Kind::Pick(&["High", "Normal", "Low"]),
    ),
    f("ActivityDate", "Due Date Only", Kind::Date),
    f(
        "TaskSubtype",
        "Task Subtype",
        Kind::Pick(&["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"]),
    ),
    f(
        "CallType",
        "Call Type",
        Kind::Pick(&["Internal", "Inbound", "Outbound"]),
    ),
    f("CallDurationInSeconds", "Call Duration", Kind::Int),
    f("CallObject", "Call Object Identifier", Kind::Text(255)),
    f("CallDisposition", "Call Result", Kind::Text(255)),
    f("IsClosed", "Closed", Kind::ReadOnly),
    f("OwnerId", "Assigned To ID", Kind::Ref(&["005", "00G"])),
    f("CreatedById", "Created By ID", Kind::ReadOnly),
    f("CreatedDate", "Created Date", Kind::ReadOnly),
    f("LastModifiedDate", "Last Modified Date", Kind::ReadOnly),
];

fn schema(object: &str) -> Option<(&'static str, &'static [FieldDef], &'static str)> {
    match object.to_ascii_lowercase().as_str() {
        "contact" => Some(("Contact", CONTACT_FIELDS, "003")),
        "lead" => Some(("Lead", LEAD_FIELDS, "00Q")),
        "task" => Some(("Task", TASK_FIELDS, "00T")),
        _ => None,
    }
}

/// Canonical field name (case-insensitive lookup).
fn field_def(defs: &'static [FieldDef], name: &str) -> Option<&'static FieldDef> {
    defs.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// 18-character Salesforce id from a 15-character one (the real case-safe checksum).
pub(crate) fn id18(id15: &str) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let bytes = id15.as_bytes();
    let mut suffix = String::new();
    for chunk in 0..3 {
        let mut bits = 0usize;
        for i in 0..5 {
            if bytes
                .get(chunk * 5 + i)
                .is_some_and(|b| b.is_ascii_uppercase())
            {
                bits |= 1 << i;
            }
        }
        suffix.push(TABLE[bits] as char);
    }
    format!("{id15}{suffix}")
}

fn looks_like_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    username: String,
    password: Option<String>,
}

#[derive(Debug, Clone)]
struct AuthCode {
    user_id: String,
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    issued: Instant,
    expired: bool,
}

#[derive(Debug, Clone)]
struct AccessToken {
    user_id: String,
    valid: bool,
    refresh: Option<String>,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    user_id: String,
    scope: String,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct StoredRecord {
    fields: Map<String, Value>,
    /// Searches that still do not see this record (index lag).
    hidden_for: u32,
}

#[derive(Debug)]
struct State {
    base: String,
    client_id: String,
    client_secret: Option<String>,
    demo: bool,
    redirect_uris: Vec<String>,
    org_id: String,
    users: Vec<User>,
    password_flow: bool,
    authorize_as: Option<String>,
    deny_next: bool,
    codes: HashMap<String, AuthCode>,
    used_codes: HashSet<String>,
    code_lifetime: Duration,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    revoked: Vec<String>,
    limit_exceeded: bool,
    usage: u64,
    faults: VecDeque<Fault>,
    lag: u32,
    records: HashMap<&'static str, Vec<StoredRecord>>,
    /// Ids of deleted records (the Recycle Bin): `ENTITY_IS_DELETED` when referenced.
    deleted: HashSet<String>,
    /// Objects this org does not offer (not licensed, disabled): 404 `NOT_FOUND`.
    disabled: HashSet<&'static str>,
    next_id: u64,
    requests: Vec<RecordedRequest>,
}

/// A local Salesforce: login host and instance on `http://127.0.0.1:PORT`. Runs until dropped.
#[derive(Debug)]
pub struct SalesforceDouble {
    state: Arc<Mutex<State>>,
    client_id: String,
    base: String,
    // Declared last: dropped (stopped and joined) after nothing else needs it.
    _server: Server,
}

impl SalesforceDouble {
    /// Starts on a free loopback port (`127.0.0.1:0`).
    pub fn start() -> std::io::Result<SalesforceDouble> {
        SalesforceDouble::start_on(0)
    }

    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start_on(port: u16) -> std::io::Result<SalesforceDouble> {
        let state = Arc::new(Mutex::new(State {
            base: String::new(),
            client_id: "PlatformCLI".into(),
            client_secret: None,
            demo: false,
            redirect_uris: Vec::new(),
            org_id: id18("00D8d000004Enlc"),
            users: Vec::new(),
            password_flow: true,
            authorize_as: None,
            deny_next: false,
            codes: HashMap::new(),
            used_codes: HashSet::new(),
            code_lifetime: SALESFORCE_CODE_LIFETIME,
            access: HashMap::new(),
            refresh: HashMap::new(),
            revoked: Vec::new(),
            limit_exceeded: false,
            usage: 0,
            faults: VecDeque::new(),
            lag: 0,
            records: SOBJECTS.iter().map(|o| (*o, Vec::new())).collect(),
            deleted: HashSet::new(),
            disabled: HashSet::new(),
            next_id: 1,
            requests: Vec::new(),
        }));
        let st = Arc::clone(&state);
        let handler: Handler = Arc::new(move |req| handle(&st, req));
        let server = Server::start(port, handler)?;
        let base = server.base_url();
        lock(&state).base = base.clone();
        Ok(SalesforceDouble {
            state,
            client_id: "PlatformCLI".into(),
            base,
            _server: server,
        })
    }

    /// `http://127.0.0.1:PORT`: the login host and also the `instance_url` it hands out.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// The registered consumer key (`PlatformCLI`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Requires this consumer secret on the token endpoint (default: none, like `PlatformCLI`).
    /// It also keys the `signature` of token replies (empty key when none).
    pub fn set_client_secret(&self, secret: Option<&str>) {
        lock(&self.state).client_secret = secret.map(str::to_string);
    }

    /// Adds a callback URL; redirect URIs must match one character for character.
    pub fn register_redirect_uri(&self, uri: &str) {
        lock(&self.state).redirect_uris.push(uri.to_string());
    }

    /// Demo mode: any `http://` loopback redirect URI and any client id are accepted.
    pub fn set_demo_mode(&self, on: bool) {
        lock(&self.state).demo = on;
    }

    /// Adds (or updates) a user for the password flow: `password_plus_token` is the password
    /// with the security token appended.
    pub fn add_user(&self, username: &str, password_plus_token: &str) {
        let mut s = lock(&self.state);
        let id = s.user_id(username);
        if let Some(u) = s.users.iter_mut().find(|u| u.id == id) {
            u.password = Some(password_plus_token.to_string());
        }
    }

    /// Off: the password flow answers `invalid_grant` / `authentication failure`, exactly like a
    /// wrong password (which is what Salesforce does when the flow is blocked).
    pub fn set_password_flow_enabled(&self, on: bool) {
        lock(&self.state).password_flow = on;
    }

    /// Whom the authorize endpoint signs in (created if unknown).
    pub fn authorize_as(&self, username: &str) {
        let mut s = lock(&self.state);
        s.user_id(username);
        s.authorize_as = Some(username.to_string());
    }

    /// The next authorization is refused by the "user" (`error=access_denied`).
    pub fn deny_next_authorization(&self) {
        lock(&self.state).deny_next = true;
    }

    /// Every authorization code issued so far expires now.
    pub fn expire_authorization_codes(&self) {
        for c in lock(&self.state).codes.values_mut() {
            c.expired = true;
        }
    }

    /// Every access token issued so far answers 401 `INVALID_SESSION_ID` (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for t in lock(&self.state).access.values_mut() {
            t.valid = false;
        }
    }

    /// On: every data call answers 403 `REQUEST_LIMIT_EXCEEDED`.
    pub fn set_request_limit_exceeded(&self, on: bool) {
        lock(&self.state).limit_exceeded = on;
    }

    /// Queues a one-shot fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// Records created from now on are invisible to the next `n_searches` SOSL searches
    /// (SOQL queries see them at once, like Salesforce).
    pub fn set_search_lag(&self, n_searches: u32) {
        lock(&self.state).lag = n_searches;
    }

    /// Seeds a Contact or Lead without validation; returns its 18-character id.
    pub fn insert_record(&self, kind: ContactKind, fields: Value) -> String {
        let object = match kind {
            ContactKind::Contact => "Contact",
            ContactKind::Lead => "Lead",
        };
        let mut s = lock(&self.state);
        let map = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        s.store(object, map)
    }

    /// Deletes a record (to the Recycle Bin, as the UI does): it leaves searches, queries and
    /// [`records`](Self::records); reading it answers 404 `ENTITY_IS_DELETED`, and a Task whose
    /// `WhoId` names it is refused with 400 `ENTITY_IS_DELETED`. Returns whether it existed.
    pub fn delete_record(&self, id: &str) -> bool {
        let mut s = lock(&self.state);
        let mut found = false;
        for list in s.records.values_mut() {
            let before = list.len();
            list.retain(|r| r.fields.get("Id").and_then(Value::as_str) != Some(id));
            found |= list.len() != before;
        }
        if found {
            s.deleted.insert(id.to_owned());
        }
        found
    }

    /// Makes `sobject` ("Contact", "Lead", "Task") unknown to the org, like an object that is
    /// disabled or not licensed: every URL under `sobjects/{sobject}` answers 404 `NOT_FOUND`
    /// "The requested resource does not exist", and queries of it answer `INVALID_TYPE`.
    pub fn disable_object(&self, sobject: &str) {
        if let Some((object, _, _)) = schema(sobject) {
            lock(&self.state).disabled.insert(object);
        }
    }

    /// Everything stored for `"Contact"`, `"Lead"` or `"Task"`, as the REST API shows it.
    pub fn records(&self, sobject: &str) -> Vec<Value> {
        let s = lock(&self.state);
        let Some((object, defs, _)) = schema(sobject) else {
            return Vec::new();
        };
        s.records
            .get(object)
            .map(|rs| {
                rs.iter()
                    .map(|r| render(object, defs, &r.fields, None, "61.0"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Tokens revoked through `/services/oauth2/revoke`, in order.
    pub fn revoked_tokens(&self) -> Vec<String> {
        lock(&self.state).revoked.clone()
    }

    /// The org id (18 characters) in identity URLs.
    pub fn org_id(&self) -> String {
        lock(&self.state).org_id.clone()
    }

    /// Authenticated data calls counted so far (the `N` of `api-usage=N/15000`).
    pub fn api_usage(&self) -> u64 {
        lock(&self.state).usage
    }
}

impl State {
    fn new_id(&mut self, prefix: &str) -> String {
        let n = self.next_id;
        self.next_id += 1;
        const SET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut tail = String::new();
        let mut v = n;
        for _ in 0..5 {
            tail.insert(0, SET[(v % 62) as usize] as char);
            v /= 62;
        }
        id18(&format!("{prefix}8d00000{tail}"))
    }

    /// The user's id, creating the user (without a password) if unknown.
    fn user_id(&mut self, username: &str) -> String {
        if let Some(u) = self
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
        {
            return u.id.clone();
        }
        let id = self.new_id("005");
        self.users.push(User {
            id: id.clone(),
            username: username.to_string(),
            password: None,
        });
        id
    }

    fn store(&mut self, object: &'static str, mut fields: Map<String, Value>) -> String {
        let prefix = schema(object).map(|(_, _, p)| p).unwrap_or("000");
        let id = self.new_id(prefix);
        let now = salesforce_datetime(now_ms());
        fields.insert("Id".into(), Value::String(id.clone()));
        fields
            .entry("CreatedDate")
            .or_insert_with(|| Value::String(now.clone()));
        fields
            .entry("LastModifiedDate")
            .or_insert_with(|| Value::String(now));
        let owner = self.user_id(SALESFORCE_DEFAULT_USER);
        fields
            .entry("OwnerId")
            .or_insert_with(|| Value::String(owner.clone()));
        fields
            .entry("CreatedById")
            .or_insert_with(|| Value::String(owner));
        match object {
            "Lead" => {
                fields
                    .entry("Status")
                    .or_insert_with(|| json!("Open - Not Contacted"));
                fields.entry("IsConverted").or_insert(Value::Bool(false));
            }
            "Task" => {
                fields
                    .entry("Status")
                    .or_insert_with(|| json!("Not Started"));
                fields.entry("Priority").or_insert_with(|| json!("Normal"));
                let closed = fields.get("Status") == Some(&json!("Completed"));
                fields.insert("IsClosed".into(), Value::Bool(closed));
            }
            _ => {}
        }
        let hidden_for = self.lag;
        self.records
            .entry(object)
            .or_default()
            .push(StoredRecord { fields, hidden_for });
        id
    }

    fn is_disabled(&self, object: &str) -> bool {
        schema(object).is_some_and(|(o, _, _)| self.disabled.contains(o))
    }

    /// A deleted record's id (15 or 18 characters).
    fn is_deleted(&self, id: &str) -> bool {
        self.deleted
            .iter()
            .any(|d| d == id || (id.len() == 15 && d.starts_with(id)))
    }

    fn find_record(&self, id: &str) -> Option<(&'static str, &StoredRecord)> {
        for (object, list) in &self.records {
            if let Some(r) = list
                .iter()
                .find(|r| r.fields.get("Id").and_then(Value::as_str) == Some(id))
            {
                return Some((object, r));
            }
        }
        None
    }

    fn signature(&self, id_url: &str, issued_at: &str) -> String {
        let key = self.client_secret.clone().unwrap_or_default();
        b64(&hmac_sha256(
            key.as_bytes(),
            format!("{id_url}{issued_at}").as_bytes(),
        ))
    }

    fn identity_url(&self, user_id: &str) -> String {
        format!("{}/id/{}/{}", self.base, self.org_id, user_id)
    }

    fn new_access_token(&mut self, user_id: &str, refresh: Option<String>) -> String {
        let token = format!("{}!AQ{}", &self.org_id[..15], random_alnum(96));
        self.access.insert(
            token.clone(),
            AccessToken {
                user_id: user_id.to_string(),
                valid: true,
                refresh,
            },
        );
        token
    }

    fn token_reply(
        &mut self,
        user_id: &str,
        refresh: Option<String>,
        new_refresh: bool,
        scope: Option<&str>,
    ) -> Response {
        let access = self.new_access_token(user_id, refresh.clone());
        let id_url = self.identity_url(user_id);
        let issued_at = now_ms().to_string();
        let mut body = Map::new();
        body.insert("access_token".into(), json!(access));
        if new_refresh {
            if let Some(rt) = &refresh {
                body.insert("refresh_token".into(), json!(rt));
            }
        }
        body.insert(
            "signature".into(),
            json!(self.signature(&id_url, &issued_at)),
        );
        if let Some(scope) = scope {
            body.insert("scope".into(), json!(scope));
        }
        body.insert("instance_url".into(), json!(self.base));
        body.insert("id".into(), json!(id_url));
        body.insert("token_type".into(), json!("Bearer"));
        body.insert("issued_at".into(), json!(issued_at));
        oauth_json(200, Value::Object(body))
    }
}

fn oauth_json(status: u16, v: Value) -> Response {
    Response::json(status, &v).with_header(
        "Cache-Control",
        "no-cache,must-revalidate,max-age=0,no-store,private",
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    oauth_json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn rest_error(status: u16, code: &str, message: &str, fields: Option<Vec<String>>) -> Response {
    let mut e = json!({"message": message, "errorCode": code});
    if let Some(fields) = fields {
        e["fields"] = json!(fields);
    }
    Response::json(status, &json!([e]))
}

fn not_found() -> Response {
    rest_error(
        404,
        "NOT_FOUND",
        "The requested resource does not exist",
        None,
    )
}

/// A record in the Recycle Bin: 404 when its own URL is read, 400 when a write points at it.
fn entity_is_deleted(status: u16) -> Response {
    rest_error(
        status,
        "ENTITY_IS_DELETED",
        "entity is deleted",
        Some(Vec::new()),
    )
}

fn service_unavailable() -> Response {
    rest_error(
        503,
        "SERVER_UNAVAILABLE",
        "Server temporarily unavailable, please try again later.",
        None,
    )
}

fn error_page(status: u16, error: &str, description: &str) -> Response {
    Response::html(
        status,
        &format!(
            "<html><head><title>Error</title></head><body><h1>OAuth Error</h1>\
             <p>We can't authorize you because of an OAuth error. For more information, contact your \
             Salesforce administrator.</p><p>error={}&amp;error_description={}</p></body></html>",
            html_escape(error),
            html_escape(description)
        ),
    )
}

fn handle(state: &Arc<Mutex<State>>, req: Request) -> Reply {
    let path = req.decoded_path();
    let is_write =
        req.method == "POST" && path.starts_with("/services/data/") && path.contains("/sobjects/");
    let taken = {
        let mut s = lock(state);
        s.requests.push(RecordedRequest::from(&req));
        take_fault(&mut s.faults, is_write)
    };
    with_fault(taken, service_unavailable, || {
        route(&mut lock(state), &req, &path)
    })
}

fn route(s: &mut State, req: &Request, path: &str) -> Response {
    match path {
        "/services/oauth2/authorize" => match req.method.as_str() {
            "GET" | "POST" => authorize(s, req),
            _ => Response::new(405),
        },
        "/services/oauth2/token" => match req.method.as_str() {
            "POST" => token(s, req),
            _ => oauth_error(400, "invalid_request", "must use HTTP POST"),
        },
        "/services/oauth2/revoke" => revoke(s, req),
        "/services/oauth2/userinfo" => match bearer_user(s, req) {
            Some(user) => Response::json(200, &identity(s, &user)),
            None => Response::new(403)
                .with_header("Content-Type", "text/plain")
                .tap_body("Bad_OAuth_Token"),
        },
        "/services/data" | "/services/data/" => {
            let list: Vec<Value> = SALESFORCE_VERSIONS
                .iter()
                .map(|(v, label)| json!({"label": label, "url": format!("/services/data/v{v}"), "version": v}))
                .collect();
            Response::json(200, &Value::Array(list))
        }
        p if p.starts_with("/id/") => {
            let parts: Vec<&str> = p.trim_start_matches("/id/").split('/').collect();
            match (parts.as_slice(), bearer_user(s, req)) {
                ([org, user_id], Some(user)) if *org == s.org_id && *user_id == user.id => {
                    Response::json(200, &identity(s, &user))
                }
                ([_, _], Some(_)) => Response::new(404)
                    .with_header("Content-Type", "text/plain")
                    .tap_body("Bad_Id"),
                _ => Response::new(403)
                    .with_header("Content-Type", "text/plain")
                    .tap_body("Bad_OAuth_Token"),
            }
        }
        p if p.starts_with("/services/data/v") => data(s, req, p),
        _ => not_found(),
    }
}

trait TapBody {
    fn tap_body(self, body: &str) -> Response;
}
impl TapBody for Response {
    fn tap_body(mut self, body: &str) -> Response {
        self.body = body.as_bytes().to_vec();
        self
    }
}

fn identity(s: &State, user: &User) -> Value {
    let local = user.username.split('@').next().unwrap_or(&user.username);
    json!({
        "id": s.identity_url(&user.id),
        "asserted_user": true,
        "user_id": user.id,
        "organization_id": s.org_id,
        "username": user.username,
        "nick_name": local,
        "display_name": local,
        "email": user.username,
        "email_verified": true,
        "active": true,
        "user_type": "STANDARD",
        "language": "es",
        "locale": "es_MX",
        "timezone": "America/Mexico_City",
        "urls": {
            "rest": format!("{}/services/data/v{{version}}/", s.base),
            "sobjects": format!("{}/services/data/v{{version}}/sobjects/", s.base),
            "search": format!("{}/services/data/v{{version}}/search/", s.base),
            "query": format!("{}/services/data/v{{version}}/query/", s.base),
            "profile": format!("{}/{}", s.base, user.id),
        }
    })
}

fn bearer_user(s: &State, req: &Request) -> Option<User> {
    let token = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("OAuth "))
        })
        .map(|t| t.trim().to_string())
        .or_else(|| req.query_param("oauth_token"))?;
    let t = s.access.get(&token)?;
    if !t.valid {
        return None;
    }
    s.users.iter().find(|u| u.id == t.user_id).cloned()
}

fn authorize(s: &mut State, req: &Request) -> Response {
    let mut params: HashMap<String, String> = req.query_pairs().into_iter().collect();
    if req.method == "POST" {
        params.extend(form_urlencoded::parse(&req.body).into_owned());
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    if client_id != s.client_id && !s.demo {
        return error_page(400, "invalid_client_id", "client identifier invalid");
    }
    let redirect_uri = get("redirect_uri");
    let accepted =
        s.redirect_uris.contains(&redirect_uri) || (s.demo && is_loopback_http(&redirect_uri));
    if !accepted {
        return error_page(
            400,
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    }
    let state_param = params.get("state").cloned();
    let redirect_with = |pairs: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        if let Some(st) = &state_param {
            all.push(("state", st));
        }
        Response::redirect(&append_query(&redirect_uri, &all))
    };
    if get("response_type") != "code" {
        return redirect_with(&[
            ("error", "unsupported_response_type"),
            ("error_description", "response type not supported"),
        ]);
    }
    let challenge = params
        .get("code_challenge")
        .filter(|c| !c.is_empty())
        .cloned();
    if challenge.is_some() {
        let method = get("code_challenge_method");
        if !(method.is_empty() || method == "S256") {
            return redirect_with(&[
                ("error", "invalid_request"),
                ("error_description", "invalid code_challenge_method"),
            ]);
        }
    }
    if s.deny_next {
        s.deny_next = false;
        return redirect_with(&[
            ("error", "access_denied"),
            ("error_description", "end-user denied authorization"),
        ]);
    }
    let username = s
        .authorize_as
        .clone()
        .unwrap_or_else(|| SALESFORCE_DEFAULT_USER.to_string());
    let user_id = s.user_id(&username);
    let scope = params
        .get("scope")
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "api refresh_token web".into());
    let code = format!("aPrx{}==", random_alnum(56));
    s.codes.insert(
        code.clone(),
        AuthCode {
            user_id,
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope,
            issued: Instant::now(),
            expired: false,
        },
    );
    redirect_with(&[("code", &code)])
}

fn client_credentials(req: &Request, form: &HashMap<String, String>) -> (String, Option<String>) {
    if let Some(basic) = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
    {
        use base64::Engine as _;
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) {
            let raw = String::from_utf8_lossy(&raw).into_owned();
            if let Some((id, secret)) = raw.split_once(':') {
                return (id.to_string(), Some(secret.to_string()));
            }
        }
    }
    (
        form.get("client_id").cloned().unwrap_or_default(),
        form.get("client_secret").cloned(),
    )
}

fn token(s: &mut State, req: &Request) -> Response {
    // Form body only: a JSON body carries no grant_type Salesforce can read.
    let form: HashMap<String, String> = if req.content_type() == "application/x-www-form-urlencoded"
    {
        form_urlencoded::parse(&req.body).into_owned().collect()
    } else {
        HashMap::new()
    };
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    if !matches!(
        grant.as_str(),
        "password" | "authorization_code" | "refresh_token"
    ) {
        return oauth_error(400, "unsupported_grant_type", "grant type not supported");
    }
    let (client_id, client_secret) = client_credentials(req, &form);
    if client_id != s.client_id && !s.demo {
        return oauth_error(400, "invalid_client_id", "client identifier invalid");
    }
    if let Some(expected) = &s.client_secret {
        if !s.demo && client_secret.as_deref() != Some(expected.as_str()) {
            return oauth_error(400, "invalid_client", "invalid client credentials");
        }
    }
    match grant.as_str() {
        "password" => {
            let username = form.get("username").cloned().unwrap_or_default();
            let password = form.get("password").cloned().unwrap_or_default();
            let user = s
                .users
                .iter()
                .find(|u| {
                    u.username.eq_ignore_ascii_case(&username)
                        && u.password.as_deref() == Some(password.as_str())
                })
                .cloned();
            match user {
                Some(u) if s.password_flow => s.token_reply(&u.id, None, false, None),
                _ => oauth_error(400, "invalid_grant", "authentication failure"),
            }
        }
        "authorization_code" => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(grant) = s.codes.remove(&code) else {
                return if s.used_codes.contains(&code) {
                    oauth_error(400, "invalid_grant", "expired authorization code")
                } else {
                    oauth_error(400, "invalid_grant", "invalid authorization code")
                };
            };
            s.used_codes.insert(code);
            if grant.expired || grant.issued.elapsed() > s.code_lifetime {
                return oauth_error(400, "invalid_grant", "expired authorization code");
            }
            if grant.client_id != client_id {
                return oauth_error(400, "invalid_grant", "invalid authorization code");
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(
                    400,
                    "redirect_uri_mismatch",
                    "redirect_uri must match configuration",
                );
            }
            if let Some(challenge) = &grant.challenge {
                let Some(verifier) = form.get("code_verifier").filter(|v| !v.is_empty()) else {
                    return oauth_error(400, "invalid_grant", "invalid code verifier");
                };
                let well_formed = (43..=128).contains(&verifier.len())
                    && verifier
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
                if !well_formed || b64url_nopad(&sha256(verifier.as_bytes())) != *challenge {
                    return oauth_error(400, "invalid_request", "invalid code verifier");
                }
            }
            let wants_refresh = grant
                .scope
                .split_whitespace()
                .any(|sc| sc == "refresh_token" || sc == "offline_access");
            let rt = if wants_refresh {
                let rt = format!("5Aep861{}", random_alnum(80));
                s.refresh.insert(
                    rt.clone(),
                    RefreshToken {
                        user_id: grant.user_id.clone(),
                        scope: grant.scope.clone(),
                        revoked: false,
                    },
                );
                Some(rt)
            } else {
                None
            };
            s.token_reply(&grant.user_id, rt, true, Some(&grant.scope))
        }
        _ => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            match s.refresh.get(&rt).cloned() {
                Some(t) if !t.revoked => s.token_reply(&t.user_id, Some(rt), false, Some(&t.scope)),
                _ => oauth_error(400, "invalid_grant", "expired access/refresh token"),
            }
        }
    }
}

fn revoke(s: &mut State, req: &Request) -> Response {
    let token = match req.method.as_str() {
        "POST" => form_urlencoded::parse(&req.body)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .or_else(|| req.query_param("token")),
        "GET" => req.query_param("token"),
        _ => return Response::new(405),
    }
    .unwrap_or_default();
    if let Some(rt) = s.refresh.get_mut(&token).filter(|t| !t.revoked) {
        rt.revoked = true;
        for a in s
            .access
            .values_mut()
            .filter(|a| a.refresh.as_deref() == Some(token.as_str()))
        {
            a.valid = false;
        }
        s.revoked.push(token);
        return Response::new(200);
    }
    if let Some(at) = s.access.get_mut(&token).filter(|t| t.valid) {
        at.valid = false;
        s.revoked.push(token);
        return Response::new(200);
    }
    oauth_error(400, "invalid_token", "invalid token")
}

fn data(s: &mut State, req: &Request, path: &str) -> Response {
    let rest = &path["/services/data/v".len()..];
    let (version, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !SALESFORCE_VERSIONS.iter().any(|(v, _)| *v == version) {
        return not_found();
    }
    // Authentication first.
    let auth = req.header("authorization").unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("OAuth "))
        .map(str::trim);
    if !auth.is_empty() && token.is_none() {
        return with_limit_info(
            rest_error(401, "INVALID_AUTH_HEADER", "INVALID_HEADER_TYPE", None),
            s,
        );
    }
    let valid = token.and_then(|t| s.access.get(t)).is_some_and(|t| t.valid);
    if !valid {
        return with_limit_info(
            rest_error(
                401,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
                None,
            ),
            s,
        );
    }
    if s.limit_exceeded {
        return with_limit_info(
            rest_error(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
                None,
            ),
            s,
        );
    }
    s.usage += 1;
    let user_id = token
        .and_then(|t| s.access.get(t))
        .map(|t| t.user_id.clone())
        .unwrap_or_default();
    let segments: Vec<&str> = tail.split('/').filter(|p| !p.is_empty()).collect();
    let resp = match (req.method.as_str(), segments.as_slice()) {
        ("GET", []) => Response::json(
            200,
            &json!({
                "sobjects": format!("/services/data/v{version}/sobjects"),
                "search": format!("/services/data/v{version}/search"),
                "query": format!("/services/data/v{version}/query"),
                "limits": format!("/services/data/v{version}/limits"),
            }),
        ),
        ("GET", ["limits"]) => Response::json(
            200,
            &json!({"DailyApiRequests": {"Max": SALESFORCE_DAILY_LIMIT, "Remaining": SALESFORCE_DAILY_LIMIT.saturating_sub(s.usage)}}),
        ),
        ("GET", ["search"]) => search(s, req, version),
        ("GET", ["query"]) => query(s, req, version),
        (_, ["sobjects", object, ..]) if s.is_disabled(object) => not_found(),
        ("POST", ["sobjects", object]) => create(s, req, object, version, &user_id),
        ("GET", ["sobjects", object, id]) => read(s, req, object, id, version),
        (_, ["search"]) | (_, ["query"]) | (_, ["limits"]) => rest_error(
            405,
            "METHOD_NOT_ALLOWED",
            &format!(
                "HTTP Method '{}' not allowed. Allowed are GET,HEAD",
                req.method
            ),
            None,
        ),
        (_, ["sobjects", object]) if schema(object).is_some() => rest_error(
            405,
            "METHOD_NOT_ALLOWED",
            &format!(
                "HTTP Method '{}' not allowed. Allowed are GET,HEAD,POST",
                req.method
            ),
            None,
        ),
        _ => not_found(),
    };
    with_limit_info(resp, s)
}

fn with_limit_info(resp: Response, s: &State) -> Response {
    resp.with_header(
        "Sforce-Limit-Info",
        &format!("api-usage={}/{}", s.usage, SALESFORCE_DAILY_LIMIT),
    )
}

/// A record as the REST API shows it: `attributes`, then the asked fields (all when `None`).
fn render(
    object: &str,
    defs: &[FieldDef],
    fields: &Map<String, Value>,
    only: Option<&[String]>,
    version: &str,
) -> Value {
    let id = fields.get("Id").and_then(Value::as_str).unwrap_or("");
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object, "url": format!("/services/data/v{version}/sobjects/{object}/{id}")}),
    );
    let names: Vec<String> = match only {
        Some(list) => list.to_vec(),
        None => defs.iter().map(|d| d.name.to_string()).collect(),
    };
    for name in names {
        let canonical = defs
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(&name))
            .map(|d| d.name)
            .unwrap_or(name.as_str());
        let value = if canonical == "Name" {
            let first = fields
                .get("FirstName")
                .and_then(Value::as_str)
                .unwrap_or("");
            let last = fields.get("LastName").and_then(Value::as_str).unwrap_or("");
            let full = format!("{first} {last}").trim().to_string();
            if full.is_empty() {
                Value::Null
            } else {
                Value::String(full)
            }
        } else {
            fields.get(canonical).cloned().unwrap_or(Value::Null)
        };
        out.insert(canonical.to_string(), value);
    }
    Value::Object(out)
}

fn unknown_field(object: &str, field: &str) -> Response {
    rest_error(
        400,
        "INVALID_FIELD",
        &format!("No such column '{field}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."),
        None,
    )
}

fn search(s: &mut State, req: &Request, version: &str) -> Response {
    let Some(q) = req.query_param("q") else {
        return rest_error(
            400,
            "MALFORMED_SEARCH",
            "No search term found. The search term must be at least 2 characters long.",
            None,
        );
    };
    let sosl = match parse_sosl(&q) {
        Ok(p) => p,
        Err(msg) => return rest_error(400, "MALFORMED_SEARCH", &msg, None),
    };
    let returning: Vec<(String, Option<Vec<String>>, Option<usize>)> = if sosl.returning.is_empty()
    {
        vec![("Contact".into(), None, None), ("Lead".into(), None, None)]
    } else {
        sosl.returning
            .iter()
            .map(|r| (r.object.clone(), Some(r.fields.clone()), r.limit))
            .collect()
    };
    let mut out = Vec::new();
    for (object, fields, limit) in &returning {
        let Some((object, defs, _)) = schema(object) else {
            return rest_error(
                400,
                "INVALID_TYPE",
                &format!("sObject type '{object}' is not supported."),
                None,
            );
        };
        let fields: Vec<String> = match fields {
            Some(f) if !f.is_empty() => f.clone(),
            _ => vec!["Id".into()],
        };
        for name in &fields {
            if field_def(defs, name).is_none() {
                return unknown_field(object, name);
            }
        }
        let mut n = 0;
        for rec in s.records.get(object).map(Vec::as_slice).unwrap_or(&[]) {
            if rec.hidden_for > 0 || !sosl_matches(defs, &rec.fields, sosl.scope, &sosl.groups) {
                continue;
            }
            if limit.is_some_and(|l| n >= l) || sosl.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            out.push(render(object, defs, &rec.fields, Some(&fields), version));
            n += 1;
        }
    }
    // Index lag: every search brings hidden records one step closer to visible.
    for list in s.records.values_mut() {
        for r in list.iter_mut() {
            r.hidden_for = r.hidden_for.saturating_sub(1);
        }
    }
    Response::json(200, &json!({"searchRecords": out}))
}

fn sosl_matches(
    defs: &[FieldDef],
    fields: &Map<String, Value>,
    scope: SearchGroup,
    groups: &[Vec<String>],
) -> bool {
    let text = |name: &str| -> Option<String> {
        if name == "Name" {
            let first = fields
                .get("FirstName")
                .and_then(Value::as_str)
                .unwrap_or("");
            let last = fields.get("LastName").and_then(Value::as_str).unwrap_or("");
            return Some(format!("{first} {last}"));
        }
        fields.get(name).and_then(Value::as_str).map(str::to_string)
    };
    let phones: Vec<String> = defs
        .iter()
        .filter(|d| matches!(d.kind, Kind::Phone))
        .filter_map(|d| text(d.name))
        .map(|p| digits(&p))
        .collect();
    let names: Vec<String> = ["FirstName", "LastName", "Name", "Company"]
        .iter()
        .filter_map(|n| text(n))
        .collect();
    let emails: Vec<String> = defs
        .iter()
        .filter(|d| matches!(d.kind, Kind::Email))
        .filter_map(|d| text(d.name))
        .collect();
    let all: Vec<String> = defs
        .iter()
        .filter(|d| matches!(d.kind, Kind::Text(_) | Kind::Email | Kind::Phone) || d.name == "Name")
        .filter_map(|d| text(d.name))
        .collect();
    let words_in = |haystack: &[String], words: &[String]| {
        words.iter().all(|w| {
            let w = w.to_lowercase();
            haystack.iter().any(|h| h.to_lowercase().contains(&w))
        })
    };
    let phone_match = |words: &[String]| {
        let d = digits(&words.concat());
        !d.is_empty() && phones.contains(&d)
    };
    groups.iter().any(|g| match scope {
        SearchGroup::Phone => phone_match(g),
        SearchGroup::Email => words_in(&emails, g),
        SearchGroup::Name => words_in(&names, g),
        SearchGroup::All => phone_match(g) || words_in(&all, g),
    })
}

fn query(s: &mut State, req: &Request, version: &str) -> Response {
    let Some(q) = req.query_param("q") else {
        return rest_error(
            400,
            "MALFORMED_QUERY",
            "A query string has to be specified",
            None,
        );
    };
    let sel = match parse_select(&q) {
        Ok(sel) => sel,
        Err(msg) => return rest_error(400, "MALFORMED_QUERY", &msg, None),
    };
    let Some((object, defs, _)) = schema(&sel.object).filter(|(o, _, _)| !s.disabled.contains(o))
    else {
        return rest_error(
            400,
            "INVALID_TYPE",
            &format!("sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.", sel.object),
            None,
        );
    };
    for name in sel
        .fields
        .iter()
        .chain(sel.conditions.iter().map(|c| &c.field))
        .chain(sel.order_by.iter().map(|(f, _)| f))
    {
        if field_def(defs, name).is_none() {
            return unknown_field(object, name);
        }
    }
    // Long text areas (Description) can be selected but never filtered or sorted on.
    for name in sel
        .conditions
        .iter()
        .map(|c| &c.field)
        .chain(sel.order_by.iter().map(|(f, _)| f))
    {
        if let Some(def) = field_def(defs, name).filter(|d| is_long_text(d.kind)) {
            return rest_error(
                400,
                "INVALID_FIELD",
                &format!("field '{}' can not be filtered in a query call", def.name),
                None,
            );
        }
    }
    let value_of = |rec: &StoredRecord, field: &str| {
        let canonical = field_def(defs, field).map(|d| d.name).unwrap_or("");
        if canonical == "Name" {
            render(
                object,
                defs,
                &rec.fields,
                Some(&["Name".to_string()]),
                version,
            )
            .get("Name")
            .cloned()
        } else {
            rec.fields.get(canonical).cloned()
        }
    };
    let mut found: Vec<&StoredRecord> = s
        .records
        .get(object)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|rec| {
            sel.conditions
                .iter()
                .all(|c| c.cmp.holds(&c.value, value_of(rec, &c.field).as_ref()))
        })
        .collect();
    if let Some((field, desc)) = &sel.order_by {
        let key = |rec: &StoredRecord| {
            value_of(rec, field)
                .and_then(|v| v.as_str().map(str::to_owned))
                .map(|t| crate::sf_search::parse_instant(&t).map_or(t, |ms| format!("{ms:020}")))
        };
        found.sort_by_key(|rec| key(rec));
        if *desc {
            found.reverse();
        }
    }
    let records: Vec<Value> = found
        .into_iter()
        .take(sel.limit.unwrap_or(usize::MAX))
        .map(|rec| render(object, defs, &rec.fields, Some(&sel.fields), version))
        .collect();
    Response::json(
        200,
        &json!({"totalSize": records.len(), "done": true, "records": records}),
    )
}

fn read(s: &State, req: &Request, object: &str, id: &str, version: &str) -> Response {
    let Some((object, defs, _)) = schema(object) else {
        return not_found();
    };
    let only: Option<Vec<String>> = req.query_param("fields").map(|f| {
        f.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    });
    if let Some(list) = &only {
        for name in list {
            if field_def(defs, name).is_none() {
                return unknown_field(object, name);
            }
        }
    }
    let found = s.records.get(object).and_then(|rs| {
        rs.iter().find(|r| {
            r.fields
                .get("Id")
                .and_then(Value::as_str)
                .is_some_and(|rid| rid == id || (id.len() == 15 && rid.starts_with(id)))
        })
    });
    match found {
        Some(r) => Response::json(
            200,
            &render(object, defs, &r.fields, only.as_deref(), version),
        ),
        None if s.is_deleted(id) => entity_is_deleted(404),
        None if !looks_like_id(id) => rest_error(
            404,
            "NOT_FOUND",
            &format!("Provided external ID field does not exist or is not accessible: {id}"),
            None,
        ),
        None => not_found(),
    }
}

fn create(s: &mut State, req: &Request, object: &str, version: &str, user_id: &str) -> Response {
    let Some((object, defs, _)) = schema(object) else {
        return not_found();
    };
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return rest_error(
                400,
                "JSON_PARSER_ERROR",
                &format!(
                    "Unexpected character: was expecting JSON at [line:{}, column:{}]",
                    e.line(),
                    e.column()
                ),
                None,
            )
        }
    };
    let Value::Object(input) = body else {
        return rest_error(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sObject from START_ARRAY value",
            None,
        );
    };
    let mut fields = Map::new();
    for (key, value) in &input {
        if key == "attributes" {
            continue;
        }
        let Some(def) = field_def(defs, key) else {
            return unknown_field(object, key);
        };
        if def.name == "Id" {
            return rest_error(
                400,
                "INVALID_FIELD",
                "The Id field should not be specified in the sobject data.",
                None,
            );
        }
        if matches!(def.kind, Kind::ReadOnly) {
            return rest_error(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                &format!("Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", def.name),
                Some(vec![def.name.to_string()]),
            );
        }
        if value.is_null() {
            continue;
        }
        let ok_type = match def.kind {
            Kind::Int => value.as_i64().is_some(),
            _ => value.is_string(),
        };
        if !ok_type {
            let kind = match def.kind {
                Kind::Int => "int",
                _ => "string",
            };
            return rest_error(
                400,
                "JSON_PARSER_ERROR",
                &format!("Cannot deserialize instance of {kind} from {} value {value} or request may be missing a required field", json_kind(value)),
                None,
            );
        }
        fields.insert(def.name.to_string(), value.clone());
    }
    // Required fields.
    let required: &[&str] = match object {
        "Contact" => &["LastName"],
        "Lead" => &["LastName", "Company"],
        _ => &[],
    };
    let missing: Vec<String> = required
        .iter()
        .filter(|r| {
            fields
                .get(**r)
                .and_then(Value::as_str)
                .is_none_or(|v| v.trim().is_empty())
        })
        .map(|r| r.to_string())
        .collect();
    if !missing.is_empty() {
        return rest_error(
            400,
            "REQUIRED_FIELD_MISSING",
            &format!("Required fields are missing: [{}]", missing.join(", ")),
            Some(missing),
        );
    }
    // Per-field checks.
    for def in defs {
        let Some(value) = fields.get(def.name) else {
            continue;
        };
        let text = value.as_str().unwrap_or("");
        match def.kind {
            Kind::Text(_) | Kind::Phone if text.chars().count() > max_len(def.kind) => {
                return rest_error(
                    400,
                    "STRING_TOO_LONG",
                    &format!(
                        "{}: data value too large: {} (max length={})",
                        def.label,
                        text.chars().take(80).collect::<String>(),
                        max_len(def.kind)
                    ),
                    Some(vec![def.name.to_string()]),
                );
            }
            Kind::Email if text.chars().count() > 80 || !plausible_email(text) => {
                return rest_error(
                    400,
                    "INVALID_EMAIL_ADDRESS",
                    &format!("{}: invalid email address: {text}", def.label),
                    Some(vec![def.name.to_string()]),
                );
            }
            Kind::Pick(values) if !values.contains(&text) => {
                return rest_error(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    &format!(
                        "{}: bad value for restricted picklist field: {text}",
                        def.label
                    ),
                    Some(vec![def.name.to_string()]),
                );
            }
            Kind::Date if !valid_date(text) => {
                return rest_error(
                    400,
                    "JSON_PARSER_ERROR",
                    &format!("Cannot deserialize instance of date from VALUE_STRING value {text} or request may be missing a required field"),
                    None,
                );
            }
            Kind::Ref(prefixes) => {
                if !looks_like_id(text) || !prefixes.iter().any(|p| text.starts_with(p)) {
                    return rest_error(
                        400,
                        "FIELD_INTEGRITY_EXCEPTION",
                        &format!("{}: id value of incorrect type: {text}", def.label),
                        Some(vec![def.name.to_string()]),
                    );
                }
                if s.is_deleted(text) {
                    return entity_is_deleted(400);
                }
                let exists = if text.starts_with("005") {
                    s.users.iter().any(|u| u.id == text)
                } else if text.starts_with("003") || text.starts_with("00Q") {
                    s.find_record(text).is_some()
                } else {
                    true
                };
                if !exists {
                    return rest_error(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                        Some(vec![def.name.to_string()]),
                    );
                }
            }
            _ => {}
        }
    }
    // Duplicate rules on e-mail (Contact and Lead), unless the caller asks to save anyway.
    let allow_save = req.header("sforce-duplicate-rule-header").is_some_and(|h| {
        h.replace(' ', "")
            .to_ascii_lowercase()
            .contains("allowsave=true")
    });
    if (object == "Contact" || object == "Lead") && !allow_save {
        if let Some(email) = fields.get("Email").and_then(Value::as_str) {
            let dup = s.records.get(object).and_then(|rs| {
                rs.iter().find(|r| {
                    r.fields
                        .get("Email")
                        .and_then(Value::as_str)
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
            });
            if let Some(dup) = dup {
                let dup_id = dup.fields.get("Id").cloned().unwrap_or(Value::Null);
                let msg = "You're creating a duplicate record. We recommend you use an existing record instead.";
                // As real orgs reply: the key is spelled `duplicateResut` (sic) in REST.
                let body = json!([{
                    "duplicateResut": {
                        "allowSave": false,
                        "duplicateRule": format!("Standard_{object}_Duplicate_Rule"),
                        "duplicateRuleEntityType": object,
                        "errorMessage": msg,
                        "matchResults": [{
                            "entityType": object,
                            "errors": [],
                            "matchEngine": "ExactMatchEngine",
                            "matchRecords": [{
                                "additionalInformation": [],
                                "fieldDiffs": [],
                                "matchConfidence": 100.0,
                                "record": {"attributes": {"type": object, "url": format!("/services/data/v{version}/sobjects/{object}/{}", dup_id.as_str().unwrap_or(""))}, "Id": dup_id}
                            }],
                            "rule": format!("Standard_{object}_Match_Rule_v1_1"),
                            "size": 1,
                            "success": true
                        }],
                        "errors": []
                    },
                    "errorCode": "DUPLICATES_DETECTED",
                    "message": msg
                }]);
                return Response::json(400, &body);
            }
        }
    }
    if !user_id.is_empty() {
        fields
            .entry("OwnerId")
            .or_insert_with(|| Value::String(user_id.to_string()));
        // The API user creates the record.
        fields.insert("CreatedById".into(), Value::String(user_id.to_string()));
    }
    let id = s.store(object, fields);
    Response::json(201, &json!({"id": id, "success": true, "errors": []})).with_header(
        "Location",
        &format!("/services/data/v{version}/sobjects/{object}/{id}"),
    )
}

/// A long text area (more than 255 characters): not filterable in SOQL.
fn is_long_text(kind: Kind) -> bool {
    matches!(kind, Kind::Text(n) if n > 255)
}

fn max_len(kind: Kind) -> usize {
    match kind {
        Kind::Text(m) => m,
        _ => 40,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => "VALUE_NUMBER_INT",
        Value::Number(_) => "VALUE_NUMBER_FLOAT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::String(_) => "VALUE_STRING",
        Value::Null => "VALUE_NULL",
    }
}

/// `YYYY-MM-DD` with a real month and day.
fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
    };
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => return false,
            };
            (1..=days).contains(&d)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id18_checksum_matches_salesforce() {
        // A known pair: 001A0000006Vm9r → 001A0000006Vm9rIAC.
        assert_eq!(id18("001A0000006Vm9r"), "001A0000006Vm9rIAC");
    }

    #[test]
    fn dates_are_checked() {
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2023-02-29"));
        assert!(!valid_date("2024-06-10T00:00:00"));
        assert!(!valid_date("2024-13-01"));
    }
}
