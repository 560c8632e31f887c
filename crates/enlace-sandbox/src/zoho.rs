//! The Zoho CRM double: an accounts server under `{base}/accounts` (authorize, token, refresh,
//! revoke, user info) and the CRM API v7 under `{base}` (search, insert Contacts/Leads/Calls,
//! Notes on a record, COQL, org, current user), with the reply shapes of api-facts §B and of
//! Zoho's Notes API (`POST /Notes` with `Parent_Id` {module, id} and a mandatory
//! `Note_Content`; `GET /{module}/{id}/Notes?fields=…`, oldest first, 204 when none).
//!
//! Guesses (UNCONFIRMED in the fact sheet) made here, so a client must tolerate variation:
//! `phone=` matches digits-only equality with any phone field; `email=` is a case-insensitive
//! equality; `Bearer` is refused (only `Zoho-oauthtoken`); `Call_Start_Time` must carry a numeric
//! offset (`Z` refused); Leads require `Company`; every token-endpoint error is HTTP 200.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::common::{
    append_query, digits, html_escape, is_loopback_http, lock, now_ms, plausible_email, random_hex,
    take_fault, with_fault, zoho_datetime, Fault, RecordedRequest,
};
use crate::http::{Handler, Reply, Request, Response, Server};
use crate::sf_search::{parse_instant, parse_select, Cmp, Literal};

/// How long a Zoho grant code stays valid.
pub const ZOHO_CODE_LIFETIME: Duration = Duration::from_secs(120);
/// The user the authorize endpoint signs in when `authorize_as` was never called.
pub const ZOHO_DEFAULT_USER: &str = "agente@enlace-demo.example";
const ACCESS_LIFETIME: Duration = Duration::from_secs(3600);
const MAX_REFRESH_TOKENS_PER_USER: usize = 20;
const MAX_REFRESHES_PER_WINDOW: usize = 10;
const REFRESH_WINDOW: Duration = Duration::from_secs(600);
const MAX_INSERT: usize = 100;
/// Longest `Note_Content` and `Note_Title` accepted (guesses: the real limits are not in the
/// fact sheet; the content's is taken as the Description's).
const NOTE_CONTENT_MAX: usize = 32_000;
const NOTE_TITLE_MAX: usize = 120;
const NOTE_FIELDS: &[&str] = &[
    "id",
    "Note_Title",
    "Note_Content",
    "Parent_Id",
    "Owner",
    "Created_Time",
    "Modified_Time",
];

const MODULES: [&str; 3] = ["Contacts", "Leads", "Calls"];
const CONTACT_PHONES: &[&str] = &["Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone"];
const LEAD_PHONES: &[&str] = &["Phone", "Mobile"];
const EMAILS: &[&str] = &["Email", "Secondary_Email"];
const CONTACT_FIELDS: &[&str] = &[
    "id",
    "First_Name",
    "Last_Name",
    "Full_Name",
    "Email",
    "Secondary_Email",
    "Phone",
    "Mobile",
    "Home_Phone",
    "Other_Phone",
    "Asst_Phone",
    "Account_Name",
    "Title",
    "Department",
    "Description",
    "Lead_Source",
    "Mailing_City",
    "Mailing_Country",
    "Owner",
    "Created_Time",
    "Modified_Time",
];
const LEAD_FIELDS: &[&str] = &[
    "id",
    "First_Name",
    "Last_Name",
    "Full_Name",
    "Company",
    "Email",
    "Secondary_Email",
    "Phone",
    "Mobile",
    "Lead_Status",
    "Lead_Source",
    "Designation",
    "Description",
    "City",
    "Country",
    "Owner",
    "Created_Time",
    "Modified_Time",
];
const CALL_FIELDS: &[&str] = &[
    "id",
    "Subject",
    "Call_Type",
    "Call_Start_Time",
    "Call_Duration",
    "Call_Duration_in_seconds",
    "Description",
    "Call_Purpose",
    "Call_Result",
    "Who_Id",
    "What_Id",
    "$se_module",
    "Outbound_Call_Status",
    "Dialled_Number",
    "Owner",
    "Created_Time",
    "Modified_Time",
];

fn module(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    MODULES
        .iter()
        .find(|m| m.eq_ignore_ascii_case(name))
        .map(|m| {
            let fields = match *m {
                "Contacts" => CONTACT_FIELDS,
                "Leads" => LEAD_FIELDS,
                _ => CALL_FIELDS,
            };
            (*m, fields)
        })
}

fn phone_fields(module: &str) -> &'static [&'static str] {
    match module {
        "Contacts" => CONTACT_PHONES,
        "Leads" => LEAD_PHONES,
        _ => &[],
    }
}

#[derive(Debug, Clone)]
struct User {
    zuid: String,
    crm_id: String,
    email: String,
}

#[derive(Debug, Clone)]
struct Code {
    email: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    offline: bool,
    consent: bool,
    issued: Instant,
    expired: bool,
}

#[derive(Debug, Clone)]
struct Refresh {
    token: String,
    email: String,
    client_id: String,
    scope: String,
    revoked: bool,
    refreshes: VecDeque<Instant>,
}

#[derive(Debug, Clone)]
struct Access {
    email: String,
    expires: Instant,
    valid: bool,
    refresh: Option<String>,
}

#[derive(Debug, Clone)]
struct Stored {
    fields: Map<String, Value>,
    hidden_for: u32,
}

#[derive(Debug)]
struct State {
    base: String,
    client_id: String,
    client_secret: String,
    demo: bool,
    redirect_uris: Vec<String>,
    location: String,
    users: Vec<User>,
    authorize_as: Option<String>,
    deny_next: bool,
    codes: HashMap<String, Code>,
    used_codes: HashSet<String>,
    refresh: Vec<Refresh>,
    access: HashMap<String, Access>,
    revoked: Vec<String>,
    refresh_issued: usize,
    too_many: bool,
    faults: VecDeque<Fault>,
    lag: u32,
    records: HashMap<&'static str, Vec<Stored>>,
    /// Modules this org does not offer: `INVALID_MODULE`, like a module that is disabled.
    disabled: HashSet<&'static str>,
    next_id: u64,
    org_id: String,
    requests: Vec<RecordedRequest>,
}

/// A local Zoho CRM: accounts server at `{base}/accounts`, API domain `{base}`. Runs until dropped.
#[derive(Debug)]
pub struct ZohoDouble {
    state: Arc<Mutex<State>>,
    client_id: String,
    client_secret: String,
    base: String,
    _server: Server,
}

impl ZohoDouble {
    /// Starts on a free loopback port.
    pub fn start() -> std::io::Result<ZohoDouble> {
        ZohoDouble::start_on(0)
    }

    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start_on(port: u16) -> std::io::Result<ZohoDouble> {
        let client_id = format!("1000.{}", random_hex(15).to_ascii_uppercase());
        let client_secret = random_hex(21);
        let state = Arc::new(Mutex::new(State {
            base: String::new(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            demo: false,
            redirect_uris: Vec::new(),
            location: "us".into(),
            users: Vec::new(),
            authorize_as: None,
            deny_next: false,
            codes: HashMap::new(),
            used_codes: HashSet::new(),
            refresh: Vec::new(),
            access: HashMap::new(),
            revoked: Vec::new(),
            refresh_issued: 0,
            too_many: false,
            faults: VecDeque::new(),
            lag: 0,
            records: MODULES.iter().map(|m| (*m, Vec::new())).collect(),
            disabled: HashSet::new(),
            next_id: 1,
            org_id: "7712345678".into(),
            requests: Vec::new(),
        }));
        let st = Arc::clone(&state);
        let handler: Handler = Arc::new(move |req| handle(&st, req));
        let server = Server::start(port, handler)?;
        let base = server.base_url();
        lock(&state).base = base.clone();
        Ok(ZohoDouble {
            state,
            client_id,
            client_secret,
            base,
            _server: server,
        })
    }

    /// The accounts server, `http://127.0.0.1:PORT/accounts` (also the `accounts-server` sent on
    /// the redirect).
    pub fn accounts_url(&self) -> String {
        format!("{}/accounts", self.base)
    }

    /// The API domain returned as `api_domain`: `http://127.0.0.1:PORT`.
    pub fn api_domain(&self) -> String {
        self.base.clone()
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Adds a redirect URL; it must match exactly.
    pub fn register_redirect_uri(&self, uri: &str) {
        lock(&self.state).redirect_uris.push(uri.to_string());
    }

    /// Demo mode: any loopback `http://` redirect URI and any client id / secret are accepted.
    pub fn set_demo_mode(&self, on: bool) {
        lock(&self.state).demo = on;
    }

    /// The `location` sent on the redirect ("us" by default).
    pub fn set_location(&self, loc: &str) {
        lock(&self.state).location = loc.to_string();
    }

    /// Whom the authorize endpoint signs in.
    pub fn authorize_as(&self, email: &str) {
        let mut s = lock(&self.state);
        s.user(email);
        s.authorize_as = Some(email.to_string());
    }

    /// The next authorization is refused (`error=access_denied`).
    pub fn deny_next_authorization(&self) {
        lock(&self.state).deny_next = true;
    }

    /// Every grant code issued so far expires now.
    pub fn expire_authorization_codes(&self) {
        for c in lock(&self.state).codes.values_mut() {
            c.expired = true;
        }
    }

    /// Every access token issued so far answers 401 `INVALID_TOKEN`.
    pub fn expire_access_tokens(&self) {
        for t in lock(&self.state).access.values_mut() {
            t.valid = false;
        }
    }

    /// On: every API call answers 429 `TOO_MANY_REQUESTS`.
    pub fn set_too_many_requests(&self, on: bool) {
        lock(&self.state).too_many = on;
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// Records created from now on are missing (204) from the next `n_searches` searches; COQL
    /// sees them at once.
    pub fn set_search_lag(&self, n_searches: u32) {
        lock(&self.state).lag = n_searches;
    }

    /// Seeds a record in `"Contacts"`, `"Leads"` or `"Calls"` without validation; returns its id
    /// (empty for an unknown module).
    pub fn insert_record(&self, module_name: &str, fields: Value) -> String {
        let Some((m, _)) = module(module_name) else {
            return String::new();
        };
        let map = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        lock(&self.state).store(m, map)
    }

    /// Deletes a record: it leaves searches, COQL and [`records`](Self::records), and a call
    /// whose `Who_Id` / `What_Id` names it is refused with `INVALID_DATA` "the related id given
    /// seems to be invalid". Returns whether it existed.
    pub fn delete_record(&self, module_name: &str, id: &str) -> bool {
        let Some((m, _)) = module(module_name) else {
            return false;
        };
        let mut s = lock(&self.state);
        let Some(list) = s.records.get_mut(m) else {
            return false;
        };
        let before = list.len();
        list.retain(|r| r.fields.get("id").and_then(Value::as_str) != Some(id));
        list.len() != before
    }

    /// Makes a module ("Contacts", "Leads", "Calls") unknown to the org, like a module that is
    /// disabled or hidden from the user's profile: 400 `INVALID_MODULE` on every URL under it.
    pub fn disable_module(&self, module_name: &str) {
        if let Some((m, _)) = module(module_name) {
            lock(&self.state).disabled.insert(m);
        }
    }

    /// Everything stored in a module (`"Notes"` too), as the API shows it.
    pub fn records(&self, module_name: &str) -> Vec<Value> {
        let s = lock(&self.state);
        let m = match module(module_name) {
            Some((m, _)) => m,
            None if module_name.eq_ignore_ascii_case("Notes") => "Notes",
            None => return Vec::new(),
        };
        s.records
            .get(m)
            .map(|rs| rs.iter().map(|r| render(&r.fields, None)).collect())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Tokens revoked through `/oauth/v2/token/revoke`, in order.
    pub fn revoked_tokens(&self) -> Vec<String> {
        lock(&self.state).revoked.clone()
    }

    /// Refresh tokens handed out so far (Zoho keeps at most 20 per user and client).
    pub fn refresh_tokens_issued(&self) -> usize {
        lock(&self.state).refresh_issued
    }

    /// The org id returned by `/crm/v7/org`.
    pub fn org_id(&self) -> String {
        lock(&self.state).org_id.clone()
    }
}

impl State {
    fn accounts(&self) -> String {
        format!("{}/accounts", self.base)
    }

    fn user(&mut self, email: &str) -> User {
        if let Some(u) = self
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
        {
            return u.clone();
        }
        let n = self.users.len() as u64 + 1;
        let u = User {
            zuid: format!("{}", 80_000_000 + n),
            crm_id: format!("4150868000000{:06}", 200_000 + n),
            email: email.to_string(),
        };
        self.users.push(u.clone());
        u
    }

    fn owner(&mut self, email: &str) -> Value {
        let u = self.user(email);
        let name = display_name(&u.email);
        json!({"name": name, "id": u.crm_id, "email": u.email})
    }

    fn store(&mut self, module: &'static str, mut fields: Map<String, Value>) -> String {
        let id = format!("4150868000000{:06}", 500_000 + self.next_id);
        self.next_id += 1;
        let now = zoho_datetime(now_ms());
        fields.insert("id".into(), json!(id));
        fields.entry("Created_Time").or_insert_with(|| json!(now));
        fields.entry("Modified_Time").or_insert_with(|| json!(now));
        let owner = self.owner(ZOHO_DEFAULT_USER);
        fields.entry("Owner").or_insert(owner);
        if module == "Calls" {
            if let Some(secs) = fields
                .get("Call_Duration")
                .and_then(Value::as_str)
                .and_then(duration_seconds)
            {
                fields.insert("Call_Duration_in_seconds".into(), json!(secs));
            }
        }
        let hidden_for = self.lag;
        self.records
            .entry(module)
            .or_default()
            .push(Stored { fields, hidden_for });
        id
    }

    fn find(&self, module: &str, id: &str) -> Option<&Stored> {
        self.records
            .get(module)?
            .iter()
            .find(|r| r.fields.get("id").and_then(Value::as_str) == Some(id))
    }

    fn new_token(&self) -> String {
        format!("1000.{}.{}", random_hex(16), random_hex(16))
    }
}

fn display_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut out = String::new();
    for (i, part) in local.split(['.', '_']).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let mut c = part.chars();
        if let Some(f) = c.next() {
            out.extend(f.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    out
}

/// `mm:ss` (minutes may exceed 59) → seconds.
fn duration_seconds(s: &str) -> Option<u64> {
    let (m, sec) = s.split_once(':')?;
    if m.is_empty()
        || sec.len() != 2
        || !m.bytes().all(|b| b.is_ascii_digit())
        || !sec.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let m: u64 = m.parse().ok()?;
    let sec: u64 = sec.parse().ok()?;
    (sec < 60).then_some(m * 60 + sec)
}

/// `yyyy-MM-ddTHH:mm:ss±HH:mm` → seconds since the epoch (`None` when not exactly that form).
fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 25
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[22] != b':'
    {
        return None;
    }
    if b[19] != b'+' && b[19] != b'-' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d, h, mi, se, oh, om) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
        n(20..22)?,
        n(23..25)?,
    );
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || se > 59
        || oh > 14
        || om > 59
    {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let offset = (oh * 3600 + om * 60) * if b[19] == b'-' { -1 } else { 1 };
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

fn render(fields: &Map<String, Value>, only: Option<&[String]>) -> Value {
    let mut out = fields.clone();
    let first = fields
        .get("First_Name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let last = fields.get("Last_Name").and_then(Value::as_str);
    if let Some(last) = last {
        out.insert("Full_Name".into(), json!(format!("{first} {last}").trim()));
    }
    match only {
        None => Value::Object(out),
        Some(list) => {
            let mut m = Map::new();
            m.insert("id".into(), out.get("id").cloned().unwrap_or(Value::Null));
            for f in list {
                m.insert(f.clone(), out.get(f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(m)
        }
    }
}

fn envelope(status: u16, code: &str, message: &str, details: Value) -> Response {
    Response::json(
        status,
        &json!({"code": code, "details": details, "message": message, "status": "error"}),
    )
}

fn internal_error() -> Response {
    envelope(
        500,
        "INTERNAL_ERROR",
        "Internal Server Error occurred while processing this request",
        json!({}),
    )
}

fn token_error(error: &str) -> Response {
    Response::json(200, &json!({"error": error}))
}

fn error_page(title: &str, detail: &str) -> Response {
    Response::html(
        400,
        &format!(
            "<html><head><title>Zoho Accounts</title></head><body><div class=\"error\"><h2>{}</h2><p>{}</p></div></body></html>",
            html_escape(title),
            html_escape(detail)
        ),
    )
}

fn handle(state: &Arc<Mutex<State>>, req: Request) -> Reply {
    let path = req.decoded_path();
    let is_write = req.method == "POST"
        && path
            .strip_prefix("/crm/")
            .and_then(|p| p.split_once('/'))
            .is_some_and(|(_, m)| module(m).is_some() || m == "Notes" || m.ends_with("/Notes"));
    let taken = {
        let mut s = lock(state);
        s.requests.push(RecordedRequest::from(&req));
        take_fault(&mut s.faults, is_write)
    };
    with_fault(taken, internal_error, || {
        route(&mut lock(state), &req, &path)
    })
}

fn route(s: &mut State, req: &Request, path: &str) -> Response {
    match path {
        "/accounts/oauth/v2/auth" => authorize(s, req),
        "/accounts/oauth/v2/token" if req.method == "POST" => token(s, req),
        "/accounts/oauth/v2/token/revoke" if req.method == "POST" => revoke(s, req),
        "/accounts/oauth/user/info" => match access_user(s, req) {
            Ok(email) => {
                let u = s.user(&email);
                let name = display_name(&u.email);
                Response::json(
                    200,
                    &json!({"First_Name": name, "Last_Name": "", "Email": u.email, "Display_Name": name, "ZUID": u.zuid.parse::<u64>().unwrap_or(0)}),
                )
            }
            Err(resp) => resp,
        },
        p if p.starts_with("/crm/") => api(s, req, p),
        _ => envelope(
            404,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            json!({}),
        ),
    }
}

fn authorize(s: &mut State, req: &Request) -> Response {
    let params: HashMap<String, String> = req.query_pairs().into_iter().collect();
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    if client_id != s.client_id && !s.demo {
        return error_page(
            "Invalid Client",
            "The client_id is not valid for this accounts server (invalid_client).",
        );
    }
    let redirect_uri = get("redirect_uri");
    let accepted =
        s.redirect_uris.contains(&redirect_uri) || (s.demo && is_loopback_http(&redirect_uri));
    if !accepted {
        return error_page(
            "Invalid Redirect Uri",
            "Redirect URI passed does not match with the one configured (invalid_redirect_uri).",
        );
    }
    let state_param = params.get("state").cloned();
    let with_state = |mut pairs: Vec<(&'static str, String)>| {
        if let Some(st) = &state_param {
            pairs.insert(0, ("state", st.clone()));
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Response::redirect(&append_query(&redirect_uri, &refs))
    };
    if get("response_type") != "code" {
        return with_state(vec![("error", "unsupported_response_type".into())]);
    }
    let scope = get("scope");
    if scope.trim().is_empty() {
        return error_page(
            "Invalid OAuth Scope",
            "The scope parameter is missing (invalid_scope).",
        );
    }
    if s.deny_next {
        s.deny_next = false;
        return with_state(vec![("error", "access_denied".into())]);
    }
    let email = s
        .authorize_as
        .clone()
        .unwrap_or_else(|| ZOHO_DEFAULT_USER.to_string());
    s.user(&email);
    let code = s.new_token();
    s.codes.insert(
        code.clone(),
        Code {
            email,
            client_id,
            redirect_uri: redirect_uri.clone(),
            scope: scope
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
            offline: get("access_type") == "offline",
            consent: get("prompt") == "consent",
            issued: Instant::now(),
            expired: false,
        },
    );
    let location = s.location.clone();
    let accounts = s.accounts();
    with_state(vec![
        ("code", code),
        ("location", location),
        ("accounts-server", accounts),
    ])
}

fn token(s: &mut State, req: &Request) -> Response {
    // Zoho takes the parameters from the query string or a form body.
    let mut p: HashMap<String, String> = req.query_pairs().into_iter().collect();
    if req.content_type() == "application/x-www-form-urlencoded" {
        p.extend(form_urlencoded::parse(&req.body).into_owned());
    }
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let grant = get("grant_type");
    if grant != "authorization_code" && grant != "refresh_token" {
        return token_error("unsupported_grant_type");
    }
    let client_id = get("client_id");
    if client_id != s.client_id && !s.demo {
        return token_error("invalid_client");
    }
    if get("client_secret") != s.client_secret && !s.demo {
        return token_error("invalid_client_secret");
    }
    let api_domain = s.base.clone();
    if grant == "authorization_code" {
        let code = get("code");
        let Some(c) = s.codes.remove(&code) else {
            return token_error("invalid_code");
        };
        s.used_codes.insert(code);
        if c.expired || c.issued.elapsed() > ZOHO_CODE_LIFETIME || c.client_id != client_id {
            return token_error("invalid_code");
        }
        if get("redirect_uri") != c.redirect_uri {
            return token_error("invalid_redirect_uri");
        }
        let has_rt = s
            .refresh
            .iter()
            .any(|r| !r.revoked && r.email == c.email && r.client_id == c.client_id);
        let rt = if c.offline && (c.consent || !has_rt) {
            let rt = s.new_token();
            s.refresh.push(Refresh {
                token: rt.clone(),
                email: c.email.clone(),
                client_id: c.client_id.clone(),
                scope: c.scope.clone(),
                revoked: false,
                refreshes: VecDeque::new(),
            });
            s.refresh_issued += 1;
            // At most 20 per user and client: the oldest goes.
            let live: Vec<usize> = s
                .refresh
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.revoked && r.email == c.email && r.client_id == c.client_id)
                .map(|(i, _)| i)
                .collect();
            if live.len() > MAX_REFRESH_TOKENS_PER_USER {
                if let Some(oldest) = live.first().copied() {
                    let old = s.refresh[oldest].token.clone();
                    s.refresh[oldest].revoked = true;
                    for a in s
                        .access
                        .values_mut()
                        .filter(|a| a.refresh.as_deref() == Some(old.as_str()))
                    {
                        a.valid = false;
                    }
                }
            }
            Some(rt)
        } else {
            None
        };
        let access = s.new_token();
        s.access.insert(
            access.clone(),
            Access {
                email: c.email.clone(),
                expires: Instant::now() + ACCESS_LIFETIME,
                valid: true,
                refresh: rt.clone(),
            },
        );
        let mut body = Map::new();
        body.insert("access_token".into(), json!(access));
        if let Some(rt) = rt {
            body.insert("refresh_token".into(), json!(rt));
        }
        body.insert("scope".into(), json!(c.scope));
        body.insert("api_domain".into(), json!(api_domain));
        body.insert("token_type".into(), json!("Bearer"));
        body.insert("expires_in".into(), json!(ACCESS_LIFETIME.as_secs()));
        return Response::json(200, &Value::Object(body));
    }
    let rt = get("refresh_token");
    let Some(r) = s.refresh.iter_mut().find(|r| r.token == rt && !r.revoked) else {
        return token_error("invalid_code");
    };
    if r.client_id != client_id && !s.demo {
        return token_error("invalid_client");
    }
    while r
        .refreshes
        .front()
        .is_some_and(|t| t.elapsed() > REFRESH_WINDOW)
    {
        r.refreshes.pop_front();
    }
    if r.refreshes.len() >= MAX_REFRESHES_PER_WINDOW {
        return Response::json(
            200,
            &json!({"error": "access_denied", "error_description": "You have made too many requests continuously. Please try again after some time."}),
        );
    }
    r.refreshes.push_back(Instant::now());
    let (email, scope) = (r.email.clone(), r.scope.clone());
    let access = s.new_token();
    s.access.insert(
        access.clone(),
        Access {
            email,
            expires: Instant::now() + ACCESS_LIFETIME,
            valid: true,
            refresh: Some(rt),
        },
    );
    Response::json(
        200,
        &json!({"access_token": access, "scope": scope, "api_domain": api_domain, "token_type": "Bearer", "expires_in": ACCESS_LIFETIME.as_secs()}),
    )
}

fn revoke(s: &mut State, req: &Request) -> Response {
    let token = req
        .query_param("token")
        .or_else(|| {
            form_urlencoded::parse(&req.body)
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    if let Some(r) = s
        .refresh
        .iter_mut()
        .find(|r| r.token == token && !r.revoked)
    {
        r.revoked = true;
        for a in s
            .access
            .values_mut()
            .filter(|a| a.refresh.as_deref() == Some(token.as_str()))
        {
            a.valid = false;
        }
        s.revoked.push(token);
        return Response::json(200, &json!({"status": "success"}));
    }
    if let Some(a) = s.access.get_mut(&token).filter(|a| a.valid) {
        a.valid = false;
        s.revoked.push(token);
        return Response::json(200, &json!({"status": "success"}));
    }
    Response::json(400, &json!({"error": "invalid_token", "status": "failure"}))
}

/// The signed-in user's e-mail for a `Zoho-oauthtoken`, or the 401 reply.
fn access_user(s: &State, req: &Request) -> Result<String, Response> {
    let Some(header) = req.header("authorization") else {
        return Err(envelope(
            401,
            "AUTHENTICATION_FAILURE",
            "Authentication failed",
            json!({}),
        ));
    };
    let Some(token) = header.strip_prefix("Zoho-oauthtoken ").map(str::trim) else {
        return Err(envelope(
            401,
            "AUTHENTICATION_FAILURE",
            "Authentication failed",
            json!({}),
        ));
    };
    match s.access.get(token) {
        Some(a) if a.valid && a.expires > Instant::now() => Ok(a.email.clone()),
        _ => Err(envelope(
            401,
            "INVALID_TOKEN",
            "invalid oauth token",
            json!({}),
        )),
    }
}

fn api(s: &mut State, req: &Request, path: &str) -> Response {
    let segments: Vec<&str> = path
        .trim_start_matches("/crm/")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let Some((version, rest)) = segments.split_first() else {
        return envelope(
            404,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            json!({}),
        );
    };
    if !matches!(
        *version,
        "v2" | "v2.1" | "v3" | "v4" | "v5" | "v6" | "v7" | "v8"
    ) {
        return envelope(
            404,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            json!({}),
        );
    }
    let email = match access_user(s, req) {
        Ok(e) => e,
        Err(resp) => return resp,
    };
    if s.too_many {
        return envelope(
            429,
            "TOO_MANY_REQUESTS",
            "Too many requests continuously, please try again after some time.",
            json!({}),
        );
    }
    let method = req.method.as_str();
    if rest
        .first()
        .and_then(|m| module(m))
        .is_some_and(|(m, _)| s.disabled.contains(m))
    {
        return invalid_module();
    }
    match rest {
        ["org"] if method == "GET" => {
            let org = s.org_id.clone();
            Response::json(
                200,
                &json!({"org": [{
                    "id": format!("4150868000000{:06}", 1),
                    "company_name": "Enlace Demo",
                    "domain_name": format!("org{org}"),
                    "zgid": org,
                    "primary_email": ZOHO_DEFAULT_USER,
                    "time_zone": "America/Mexico_City",
                    "country_code": "MX",
                    "currency": "MXN",
                    "iso_code": "MXN",
                    "type": "production"
                }]}),
            )
        }
        ["users"] if method == "GET" => {
            let u = s.user(&email);
            let name = display_name(&u.email);
            Response::json(
                200,
                &json!({"users": [{"id": u.crm_id, "full_name": name, "email": u.email, "zuid": u.zuid, "status": "active",
                                   "role": {"name": "CEO", "id": "4150868000000015969"}}],
                        "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false}}),
            )
        }
        ["coql"] if method == "POST" => coql(s, req),
        ["Notes"] if method == "POST" => insert_notes(s, req, None, &email),
        [m, id, "Notes"] => match module(m) {
            Some((m, _)) if s.find(m, id).is_none() => envelope(
                400,
                "INVALID_DATA",
                "the related id given seems to be invalid",
                json!({"api_name": "Parent_Id"}),
            ),
            Some((m, _)) if method == "GET" => notes_of(s, req, m, id),
            Some((m, _)) if method == "POST" => insert_notes(s, req, Some((m, id)), &email),
            Some(_) => envelope(
                400,
                "INVALID_REQUEST_METHOD",
                "The http request method type is not a valid one",
                json!({}),
            ),
            None => invalid_module(),
        },
        [m, "search"] if method == "GET" => match module(m) {
            Some((m, fields)) if m != "Calls" => search(s, req, m, fields),
            Some(_) => envelope(
                400,
                "NOT_SUPPORTED",
                "the module is not supported for search",
                json!({}),
            ),
            None => invalid_module(),
        },
        [m] if method == "POST" => match module(m) {
            Some((m, _)) => insert(s, req, m, &email),
            None => invalid_module(),
        },
        [m, id] if method == "GET" => match module(m) {
            Some((m, _)) => match s.find(m, id) {
                Some(r) => Response::json(200, &json!({"data": [render(&r.fields, None)]})),
                None => Response::new(204),
            },
            None => invalid_module(),
        },
        [m] | [m, _] if module(m).is_some() || *m == "coql" || *m == "org" => envelope(
            400,
            "INVALID_REQUEST_METHOD",
            "The http request method type is not a valid one",
            json!({}),
        ),
        [m, ..] if module(m).is_none() && rest.len() <= 2 => invalid_module(),
        _ => envelope(
            404,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            json!({}),
        ),
    }
}

fn invalid_module() -> Response {
    envelope(
        400,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        json!({"resource_path_index": 0}),
    )
}

// ---------------------------------------------------------------------------------------------
// Search

#[derive(Debug, Clone)]
enum Criteria {
    Cond {
        field: String,
        op: String,
        values: Vec<String>,
    },
    Group {
        first: Box<Criteria>,
        rest: Vec<(bool /* and */, Criteria)>,
    },
}

fn parse_criteria(s: &str) -> Result<Criteria, String> {
    let chars: Vec<char> = s.trim().chars().collect();
    let mut pos = 0;
    let c = parse_group(&chars, &mut pos, 0)?;
    if pos != chars.len() {
        return Err("unexpected text after the criteria".into());
    }
    Ok(c)
}

fn parse_group(c: &[char], pos: &mut usize, depth: usize) -> Result<Criteria, String> {
    if depth > 20 {
        return Err("criteria nested too deeply".into());
    }
    if c.get(*pos) != Some(&'(') {
        return Err("expected '('".into());
    }
    *pos += 1;
    if c.get(*pos) == Some(&'(') {
        let first = parse_group(c, pos, depth + 1)?;
        let mut rest = Vec::new();
        loop {
            match c.get(*pos) {
                Some(')') => {
                    *pos += 1;
                    return Ok(Criteria::Group {
                        first: Box::new(first),
                        rest,
                    });
                }
                Some(_) => {
                    let word: String = c[*pos..]
                        .iter()
                        .take_while(|ch| ch.is_ascii_alphabetic())
                        .collect();
                    let and = match word.to_ascii_lowercase().as_str() {
                        "and" => true,
                        "or" => false,
                        _ => return Err("expected 'and' or 'or'".into()),
                    };
                    *pos += word.len();
                    rest.push((and, parse_group(c, pos, depth + 1)?));
                }
                None => return Err("missing ')'".into()),
            }
        }
    }
    // field:operator:value
    let mut field = String::new();
    while let Some(&ch) = c.get(*pos) {
        *pos += 1;
        if ch == ':' {
            break;
        }
        field.push(ch);
    }
    let mut op = String::new();
    while let Some(&ch) = c.get(*pos) {
        *pos += 1;
        if ch == ':' {
            break;
        }
        op.push(ch);
    }
    let mut values = vec![String::new()];
    loop {
        match c.get(*pos) {
            None => return Err("missing ')'".into()),
            Some('\\') => {
                *pos += 1;
                match c.get(*pos) {
                    Some(&ch) => {
                        if let Some(v) = values.last_mut() {
                            v.push(ch);
                        }
                        *pos += 1;
                    }
                    None => return Err("dangling backslash".into()),
                }
            }
            Some(')') => {
                *pos += 1;
                break;
            }
            Some('(') => return Err("unescaped '(' in a value".into()),
            Some(',') => {
                values.push(String::new());
                *pos += 1;
            }
            Some(&ch) => {
                if let Some(v) = values.last_mut() {
                    v.push(ch);
                }
                *pos += 1;
            }
        }
    }
    if field.trim().is_empty() || op.trim().is_empty() {
        return Err("expected field:operator:value".into());
    }
    Ok(Criteria::Cond {
        field: field.trim().to_string(),
        op: op.trim().to_string(),
        values,
    })
}

fn count_conditions(c: &Criteria) -> usize {
    match c {
        Criteria::Cond { .. } => 1,
        Criteria::Group { first, rest } => {
            count_conditions(first) + rest.iter().map(|(_, c)| count_conditions(c)).sum::<usize>()
        }
    }
}

fn check_criteria(c: &Criteria, fields: &[&str]) -> Result<(), Response> {
    match c {
        Criteria::Cond { field, op, values } => {
            if !fields.contains(&field.as_str()) {
                return Err(envelope(
                    400,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"api_name": field, "reason": "the field is not available"}),
                ));
            }
            if !matches!(op.as_str(), "equals" | "not_equal" | "starts_with" | "in") {
                return Err(envelope(
                    400,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"operator": op, "api_name": field, "reason": "invalid operator found"}),
                ));
            }
            if op != "in" && values.len() > 1 {
                return Err(envelope(
                    400,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"api_name": field, "reason": "unescaped ',' in the value"}),
                ));
            }
            if values.iter().any(|v| v.trim().is_empty()) {
                return Err(envelope(
                    400,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"api_name": field, "reason": "empty value"}),
                ));
            }
            Ok(())
        }
        Criteria::Group { first, rest } => {
            check_criteria(first, fields)?;
            for (_, c) in rest {
                check_criteria(c, fields)?;
            }
            Ok(())
        }
    }
}

fn eval_criteria(c: &Criteria, module: &str, rec: &Map<String, Value>) -> bool {
    match c {
        Criteria::Cond { field, op, values } => {
            let stored = match rec.get(field.as_str()) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Object(o)) => o
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let is_phone = phone_fields(module).contains(&field.as_str());
            let norm = |v: &str| {
                if is_phone {
                    digits(v)
                } else {
                    v.to_lowercase()
                }
            };
            let stored_n = norm(&stored);
            // Zoho's `equals` behaves like "contains".
            let hit = |v: &String| {
                let v = norm(v);
                !v.is_empty() && stored_n.contains(&v)
            };
            match op.as_str() {
                "equals" | "in" => values.iter().any(hit),
                "not_equal" => !values.iter().any(hit),
                "starts_with" => values.iter().any(|v| {
                    let v = norm(v);
                    !v.is_empty() && stored_n.starts_with(&v)
                }),
                _ => false,
            }
        }
        Criteria::Group { first, rest } => {
            let mut acc = eval_criteria(first, module, rec);
            for (and, c) in rest {
                let v = eval_criteria(c, module, rec);
                acc = if *and { acc && v } else { acc || v };
            }
            acc
        }
    }
}

fn search(s: &mut State, req: &Request, module_name: &'static str, fields: &[&str]) -> Response {
    enum By {
        Criteria(Criteria),
        Email(String),
        Phone(String),
        Word(Vec<String>),
    }
    let too_short = |param: &str| {
        envelope(
            400,
            "INVALID_DATA",
            "the given data is not valid",
            json!({"param_name": param, "reason": "the search value must have at least 2 characters"}),
        )
    };
    let by = if let Some(c) = req.query_param("criteria") {
        let parsed = match parse_criteria(&c) {
            Ok(p) => p,
            Err(reason) => {
                return envelope(
                    400,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"reason": reason}),
                )
            }
        };
        if count_conditions(&parsed) > 10 {
            return envelope(
                400,
                "LIMIT_EXCEEDED",
                "the limit exceeded",
                json!({"limit": 10, "param_name": "criteria"}),
            );
        }
        if let Err(resp) = check_criteria(&parsed, fields) {
            return resp;
        }
        By::Criteria(parsed)
    } else if let Some(e) = req.query_param("email") {
        if e.trim().chars().count() < 2 {
            return too_short("email");
        }
        By::Email(e.trim().to_lowercase())
    } else if let Some(p) = req.query_param("phone") {
        let d = digits(&p);
        if p.trim().chars().count() < 2 || d.is_empty() {
            return too_short("phone");
        }
        By::Phone(d)
    } else if let Some(w) = req.query_param("word") {
        if w.trim().chars().count() < 2 {
            return too_short("word");
        }
        By::Word(w.split_whitespace().map(str::to_lowercase).collect())
    } else {
        return envelope(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "criteria/email/phone/word"}),
        );
    };
    let per_page = req
        .query_param("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(200);
    let page = req
        .query_param("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    if per_page == 0 || per_page > 200 || page == 0 {
        return envelope(
            400,
            "INVALID_DATA",
            "the given data is not valid",
            json!({"param_name": "per_page/page"}),
        );
    }
    let only: Option<Vec<String>> = req.query_param("fields").map(|f| {
        f.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    });
    let phones = phone_fields(module_name);
    let matched: Vec<Value> = s
        .records
        .get(module_name)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|r| r.hidden_for == 0)
        .filter(|r| {
            let text = |f: &str| {
                r.fields
                    .get(f)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            match &by {
                By::Criteria(c) => eval_criteria(c, module_name, &r.fields),
                By::Email(e) => EMAILS.iter().any(|f| text(f).to_lowercase() == *e),
                By::Phone(d) => phones.iter().any(|f| digits(&text(f)) == *d),
                By::Word(words) => {
                    let all: Vec<String> = r
                        .fields
                        .iter()
                        .filter_map(|(_, v)| v.as_str().map(str::to_lowercase))
                        .chain(std::iter::once(
                            format!("{} {}", text("First_Name"), text("Last_Name")).to_lowercase(),
                        ))
                        .collect();
                    words
                        .iter()
                        .all(|w| all.iter().any(|t| t.contains(w.as_str())))
                }
            }
        })
        .map(|r| render(&r.fields, only.as_deref()))
        .collect();
    for list in s.records.values_mut() {
        for r in list.iter_mut() {
            r.hidden_for = r.hidden_for.saturating_sub(1);
        }
    }
    let start = (page - 1) * per_page;
    let page_items: Vec<Value> = matched.iter().skip(start).take(per_page).cloned().collect();
    if page_items.is_empty() {
        return Response::new(204);
    }
    let count = page_items.len();
    Response::json(
        200,
        &json!({"data": page_items, "info": {"per_page": per_page, "count": count, "page": page, "more_records": matched.len() > start + count}}),
    )
}

// ---------------------------------------------------------------------------------------------
// Insert

fn record_error(code: &str, message: &str, details: Value) -> Value {
    json!({"code": code, "details": details, "message": message, "status": "error"})
}

fn field_error(code: &str, message: &str, i: usize, field: &str, extra: &[(&str, Value)]) -> Value {
    let mut d = Map::new();
    d.insert("api_name".into(), json!(field));
    d.insert("json_path".into(), json!(format!("$.data[{i}].{field}")));
    for (k, v) in extra {
        d.insert((*k).to_string(), v.clone());
    }
    record_error(code, message, Value::Object(d))
}

fn insert(s: &mut State, req: &Request, module_name: &'static str, email: &str) -> Response {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return envelope(400, "INVALID_DATA", "JSON is not well formed", json!({})),
    };
    let Some(items) = body.get("data") else {
        return envelope(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "data"}),
        );
    };
    let Some(items) = items.as_array() else {
        return envelope(
            400,
            "INVALID_DATA",
            "the given data is not valid",
            json!({"expected_data_type": "jsonarray", "api_name": "data"}),
        );
    };
    if items.is_empty() {
        return envelope(
            400,
            "INVALID_DATA",
            "the given data is not valid",
            json!({"expected_data_type": "jsonarray", "api_name": "data"}),
        );
    }
    if items.len() > MAX_INSERT {
        return envelope(
            400,
            "LIMIT_EXCEEDED",
            "the limit exceeded",
            json!({"limit": MAX_INSERT, "api_name": "data"}),
        );
    }
    let mut results = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        match validate(s, module_name, i, item) {
            Err(e) => {
                failed += 1;
                results.push(e);
            }
            Ok(fields) => {
                ok += 1;
                let id = s.store(module_name, fields);
                let now = s
                    .find(module_name, &id)
                    .and_then(|r| r.fields.get("Created_Time").cloned())
                    .unwrap_or(Value::Null);
                let who = s.owner(email);
                let who = json!({"name": who["name"], "id": who["id"]});
                results.push(json!({
                    "code": "SUCCESS",
                    "details": {"Modified_Time": now, "Modified_By": who, "Created_Time": now, "id": id, "Created_By": who, "$approval_state": "approved"},
                    "message": "record added",
                    "status": "success"
                }));
            }
        }
    }
    let status = match (ok, failed) {
        (_, 0) => 201,
        (0, _) => 400,
        _ => 207,
    };
    Response::json(status, &json!({"data": results}))
}

fn validate(
    s: &State,
    module_name: &str,
    i: usize,
    item: &Value,
) -> Result<Map<String, Value>, Value> {
    let Some(obj) = item.as_object() else {
        return Err(record_error(
            "INVALID_DATA",
            "the given data is not valid",
            json!({"expected_data_type": "jsonobject", "json_path": format!("$.data[{i}]")}),
        ));
    };
    let text = |f: &str| {
        obj.get(f)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let invalid = |f: &str, kind: &str| {
        field_error(
            "INVALID_DATA",
            "the given data is not valid",
            i,
            f,
            &[("expected_data_type", json!(kind))],
        )
    };
    let mandatory =
        |f: &str| field_error("MANDATORY_NOT_FOUND", "required field not found", i, f, &[]);
    if obj.contains_key("id") {
        return Err(invalid("id", "bigint"));
    }
    let required: &[&str] = match module_name {
        "Contacts" => &["Last_Name"],
        "Leads" => &["Last_Name", "Company"],
        _ => &["Subject", "Call_Type", "Call_Start_Time"],
    };
    for f in required {
        if text(f).is_none() {
            if obj.get(*f).is_some_and(|v| !v.is_null() && !v.is_string()) {
                return Err(invalid(f, "text"));
            }
            return Err(mandatory(f));
        }
    }
    // Types and formats.
    let limits: &[(&str, usize)] = &[
        ("First_Name", 40),
        ("Last_Name", 80),
        ("Company", 200),
        ("Subject", 200),
        ("Title", 100),
        ("Description", 32_000),
    ];
    for (k, v) in obj {
        if v.is_null() || matches!(k.as_str(), "Who_Id" | "What_Id" | "Owner" | "Account_Name") {
            continue;
        }
        if !v.is_string() {
            return Err(invalid(k, "text"));
        }
        let t = v.as_str().unwrap_or("");
        if let Some((_, max)) = limits.iter().find(|(f, _)| f == k) {
            if t.chars().count() > *max {
                return Err(field_error(
                    "INVALID_DATA",
                    "the given data is not valid",
                    i,
                    k,
                    &[("maximum_length", json!(max))],
                ));
            }
        }
        if EMAILS.contains(&k.as_str()) && !t.is_empty() && !plausible_email(t) {
            return Err(invalid(k, "email"));
        }
        if phone_fields(module_name).contains(&k.as_str())
            && (t.chars().count() > 30
                || !t
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c)))
        {
            return Err(invalid(k, "phone"));
        }
    }
    if module_name == "Contacts" || module_name == "Leads" {
        if let Some(e) = text("Email") {
            let dup = s.records.get(module_name).and_then(|rs| {
                rs.iter().find(|r| {
                    r.fields
                        .get("Email")
                        .and_then(Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(e))
                })
            });
            if let Some(dup) = dup {
                let id = dup.fields.get("id").cloned().unwrap_or(Value::Null);
                let owner = dup.fields.get("Owner").cloned().unwrap_or(Value::Null);
                return Err(field_error(
                    "DUPLICATE_DATA",
                    "duplicate data",
                    i,
                    "Email",
                    &[(
                        "duplicate_record",
                        json!({"module": {"api_name": module_name, "id": "4150868000000002175"}, "id": id, "Owner": owner}),
                    )],
                ));
            }
        }
    }
    if module_name == "Calls" {
        let call_type = text("Call_Type").unwrap_or("");
        if !matches!(call_type, "Inbound" | "Outbound" | "Missed") {
            return Err(invalid("Call_Type", "picklist"));
        }
        if text("Call_Start_Time").and_then(parse_datetime).is_none() {
            return Err(invalid("Call_Start_Time", "datetime"));
        }
        let scheduled =
            call_type == "Outbound" && text("Outbound_Call_Status") == Some("Scheduled");
        if let Some(st) = text("Outbound_Call_Status") {
            if !matches!(st, "Completed" | "Scheduled" | "Overdue" | "Cancelled") {
                return Err(invalid("Outbound_Call_Status", "picklist"));
            }
        }
        match text("Call_Duration") {
            None if !scheduled => return Err(mandatory("Call_Duration")),
            Some(d) if duration_seconds(d).is_none() => {
                return Err(invalid("Call_Duration", "text"))
            }
            _ => {}
        }
        let lookup_id = |f: &str| -> Result<Option<String>, Value> {
            match obj.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(o)) => match o.get("id").and_then(Value::as_str) {
                    Some(id) => Ok(Some(id.to_string())),
                    None => Err(invalid(f, "lookup")),
                },
                Some(_) => Err(invalid(f, "lookup")),
            }
        };
        let who = lookup_id("Who_Id")?;
        let what = lookup_id("What_Id")?;
        let se_module = obj.get("$se_module").and_then(Value::as_str);
        if let Some(who) = &who {
            if s.find("Contacts", who).is_none() {
                return Err(field_error(
                    "INVALID_DATA",
                    "the related id given seems to be invalid",
                    i,
                    "Who_Id",
                    &[("expected_data_type", json!("lookup"))],
                ));
            }
        }
        match (what, se_module) {
            (Some(_), None) => return Err(mandatory("$se_module")),
            (None, Some(_)) => return Err(mandatory("What_Id")),
            (Some(what), Some("Leads")) => {
                if s.find("Leads", &what).is_none() {
                    return Err(field_error(
                        "INVALID_DATA",
                        "the related id given seems to be invalid",
                        i,
                        "What_Id",
                        &[("expected_data_type", json!("lookup"))],
                    ));
                }
                if who.is_some() {
                    // Who_Id must stay empty when What_Id points to a Lead.
                    return Err(invalid("Who_Id", "lookup"));
                }
            }
            (Some(_), Some(_)) => return Err(invalid("$se_module", "text")),
            (None, None) => {}
        }
    }
    Ok(obj.clone())
}

// ---------------------------------------------------------------------------------------------
// Notes

/// `POST /Notes` (each note names its parent in `Parent_Id`) or `POST /{module}/{id}/Notes`
/// (`parent`; a `Parent_Id` in the note must then name the same record).
fn insert_notes(
    s: &mut State,
    req: &Request,
    parent: Option<(&'static str, &str)>,
    email: &str,
) -> Response {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return envelope(400, "INVALID_DATA", "JSON is not well formed", json!({})),
    };
    let Some(items) = body.get("data").and_then(Value::as_array) else {
        return envelope(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "data"}),
        );
    };
    if items.is_empty() || items.len() > MAX_INSERT {
        return envelope(
            400,
            "INVALID_DATA",
            "the given data is not valid",
            json!({"expected_data_type": "jsonarray", "api_name": "data"}),
        );
    }
    let mut results = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        match validate_note(s, i, item, parent) {
            Err(e) => {
                failed += 1;
                results.push(e);
            }
            Ok(fields) => {
                ok += 1;
                let id = s.store("Notes", fields);
                let now = s
                    .find("Notes", &id)
                    .and_then(|r| r.fields.get("Created_Time").cloned())
                    .unwrap_or(Value::Null);
                let who = s.owner(email);
                let who = json!({"name": who["name"], "id": who["id"]});
                results.push(json!({
                    "code": "SUCCESS",
                    "details": {"Modified_Time": now, "Modified_By": who, "Created_Time": now, "id": id, "Created_By": who},
                    "message": "record added",
                    "status": "success"
                }));
            }
        }
    }
    let status = match (ok, failed) {
        (_, 0) => 201,
        (0, _) => 400,
        _ => 207,
    };
    Response::json(status, &json!({"data": results}))
}

/// One note: `Note_Content` a non-empty string within its limit, `Note_Title` a string within
/// its limit, `Parent_Id` an object naming a module (`module.api_name`) and an existing record
/// of it (`id`) — the v2 shape (`Parent_Id` a string plus `se_module`) is refused.
fn validate_note(
    s: &State,
    i: usize,
    item: &Value,
    parent: Option<(&'static str, &str)>,
) -> Result<Map<String, Value>, Value> {
    let Some(obj) = item.as_object() else {
        return Err(record_error(
            "INVALID_DATA",
            "the given data is not valid",
            json!({"expected_data_type": "jsonobject", "json_path": format!("$.data[{i}]")}),
        ));
    };
    let invalid = |f: &str, kind: &str| {
        field_error(
            "INVALID_DATA",
            "the given data is not valid",
            i,
            f,
            &[("expected_data_type", json!(kind))],
        )
    };
    let too_long = |f: &str, max: usize| {
        field_error(
            "INVALID_DATA",
            "the given data is not valid",
            i,
            f,
            &[("maximum_length", json!(max))],
        )
    };
    let mandatory =
        |f: &str| field_error("MANDATORY_NOT_FOUND", "required field not found", i, f, &[]);
    if obj.contains_key("id") {
        return Err(invalid("id", "bigint"));
    }
    for k in obj.keys() {
        if !NOTE_FIELDS.contains(&k.as_str()) {
            // Unknown fields, and `se_module`: the v2 shape, where this version wants the
            // module inside `Parent_Id`.
            return Err(invalid(k, "field"));
        }
    }
    match obj.get("Note_Content") {
        None | Some(Value::Null) => return Err(mandatory("Note_Content")),
        Some(Value::String(t)) if t.trim().is_empty() => return Err(mandatory("Note_Content")),
        Some(Value::String(t)) if t.chars().count() > NOTE_CONTENT_MAX => {
            return Err(too_long("Note_Content", NOTE_CONTENT_MAX))
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(invalid("Note_Content", "textarea")),
    }
    match obj.get("Note_Title") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.chars().count() > NOTE_TITLE_MAX => {
            return Err(too_long("Note_Title", NOTE_TITLE_MAX))
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(invalid("Note_Title", "text")),
    }
    let named = match obj.get("Parent_Id") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            let module_name = p
                .get("module")
                .and_then(|m| m.get("api_name"))
                .and_then(Value::as_str);
            let id = p.get("id").and_then(Value::as_str);
            match (module_name, id) {
                (Some(m), Some(id)) => Some((m.to_owned(), id.to_owned())),
                _ => return Err(invalid("Parent_Id", "jsonobject")),
            }
        }
        Some(_) => return Err(invalid("Parent_Id", "jsonobject")),
    };
    let (module_name, id) = match (named, parent) {
        (None, None) => return Err(mandatory("Parent_Id")),
        (None, Some((m, id))) => (m.to_owned(), id.to_owned()),
        (Some((m, id)), Some((pm, pid))) if !m.eq_ignore_ascii_case(pm) || id != pid => {
            return Err(invalid("Parent_Id", "jsonobject"))
        }
        (Some(named), _) => named,
    };
    let Some((m, _)) = module(&module_name) else {
        return Err(invalid("Parent_Id", "module"));
    };
    if s.disabled.contains(m) {
        return Err(invalid("Parent_Id", "module"));
    }
    let Some(record) = s.find(m, &id) else {
        return Err(field_error(
            "INVALID_DATA",
            "the related id given seems to be invalid",
            i,
            "Parent_Id",
            &[("expected_data_type", json!("lookup"))],
        ));
    };
    let name = render(&record.fields, None)
        .get("Full_Name")
        .or_else(|| record.fields.get("Subject"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut fields = Map::new();
    for f in ["Note_Title", "Note_Content"] {
        if let Some(v) = obj.get(f).filter(|v| !v.is_null()) {
            fields.insert(f.to_owned(), v.clone());
        }
    }
    fields.insert(
        "Parent_Id".into(),
        json!({"module": {"api_name": m}, "name": name, "id": id}),
    );
    Ok(fields)
}

/// `GET /{module}/{id}/Notes?fields=…`: the record's notes, oldest first, `per_page` (at most
/// 200) from `page`; 204 when there are none; `fields` is mandatory.
fn notes_of(s: &State, req: &Request, module_name: &str, id: &str) -> Response {
    let Some(fields) = req.query_param("fields").filter(|f| !f.trim().is_empty()) else {
        return envelope(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "fields"}),
        );
    };
    let fields: Vec<String> = fields.split(',').map(|f| f.trim().to_owned()).collect();
    if let Some(bad) = fields.iter().find(|f| !NOTE_FIELDS.contains(&f.as_str())) {
        return envelope(
            400,
            "INVALID_DATA",
            "the given data is not valid",
            json!({"api_name": bad}),
        );
    }
    let per_page = req
        .query_param("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(200)
        .clamp(1, 200);
    let page = req
        .query_param("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let all: Vec<&Stored> = s
        .records
        .get("Notes")
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|n| {
            n.fields.get("Parent_Id").is_some_and(|p| {
                p.get("id").and_then(Value::as_str) == Some(id)
                    && p.pointer("/module/api_name").and_then(Value::as_str) == Some(module_name)
            })
        })
        .collect();
    let rows: Vec<Value> = all
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|n| render(&n.fields, Some(&fields)))
        .collect();
    if rows.is_empty() {
        return Response::new(204);
    }
    let more = all.len() > page.saturating_mul(per_page);
    Response::json(
        200,
        &json!({"data": rows, "info": {"per_page": per_page, "count": rows.len(), "page": page, "more_records": more}}),
    )
}

// ---------------------------------------------------------------------------------------------
// COQL

fn coql(s: &mut State, req: &Request) -> Response {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return envelope(400, "INVALID_DATA", "JSON is not well formed", json!({})),
    };
    let Some(q) = body.get("select_query").and_then(Value::as_str) else {
        return envelope(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "select_query"}),
        );
    };
    let sel = match parse_select(q) {
        Ok(s) => s,
        Err(reason) => {
            return envelope(
                400,
                "SYNTAX_ERROR",
                "error occured while parsing the query",
                json!({"reason": reason}),
            )
        }
    };
    let Some((m, fields)) = module(&sel.object) else {
        return envelope(
            400,
            "INVALID_QUERY",
            "invalid module given",
            json!({"module": sel.object}),
        );
    };
    for f in sel
        .fields
        .iter()
        .chain(sel.conditions.iter().map(|c| &c.field))
        .chain(sel.order_by.iter().map(|(f, _)| f))
    {
        if !fields.contains(&f.as_str()) {
            return envelope(
                400,
                "INVALID_QUERY",
                "column given seems to be invalid",
                json!({"column_name": f}),
            );
        }
    }
    // Multi-line fields (Description) cannot be used in criteria (documented; the exact error
    // body is a guess).
    if let Some(c) = sel.conditions.iter().find(|c| c.field == "Description") {
        return envelope(
            400,
            "INVALID_QUERY",
            "multi-line fields are not supported in criteria",
            json!({"column_name": c.field}),
        );
    }
    let limit = sel.limit.unwrap_or(200);
    if limit > 2000 {
        return envelope(
            400,
            "LIMIT_EXCEEDED",
            "the limit exceeded",
            json!({"limit": 2000}),
        );
    }
    let mut found: Vec<Value> = s
        .records
        .get(m)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|r| render(&r.fields, None))
        .filter(|r| {
            sel.conditions
                .iter()
                .all(|c| coql_matches(c.cmp, &c.value, r.get(c.field.as_str())))
        })
        .collect();
    if let Some((field, desc)) = &sel.order_by {
        let key = |r: &Value| {
            r.get(field.as_str())
                .and_then(Value::as_str)
                .map(|t| parse_instant(t).map_or(t.to_owned(), |ms| format!("{ms:020}")))
        };
        found.sort_by_key(key);
        if *desc {
            found.reverse();
        }
    }
    let rows: Vec<Value> = found
        .into_iter()
        .take(limit)
        .map(|r| {
            let mut row = Map::new();
            for f in &sel.fields {
                row.insert(f.clone(), r.get(f.as_str()).cloned().unwrap_or(Value::Null));
            }
            row.entry("id")
                .or_insert_with(|| r.get("id").cloned().unwrap_or(Value::Null));
            Value::Object(row)
        })
        .collect();
    if rows.is_empty() {
        return Response::new(204);
    }
    Response::json(
        200,
        &json!({"data": rows, "info": {"count": rows.len(), "more_records": false}}),
    )
}

fn coql_matches(cmp: Cmp, lit: &Literal, v: Option<&Value>) -> bool {
    match (lit, v) {
        // Lookups compare by id.
        (Literal::Str(s), Some(Value::Object(o))) => {
            cmp == Cmp::Eq && o.get("id").and_then(Value::as_str) == Some(s.as_str())
        }
        // Date-times compare as instants, whatever the offset.
        (Literal::Str(s), Some(Value::String(t)))
            if parse_datetime(s).is_some() && parse_datetime(t).is_some() =>
        {
            let order = parse_datetime(t).cmp(&parse_datetime(s));
            match cmp {
                Cmp::Eq => order.is_eq(),
                Cmp::Gt => order.is_gt(),
                Cmp::Ge => order.is_ge(),
                Cmp::Lt => order.is_lt(),
                Cmp::Le => order.is_le(),
            }
        }
        _ => cmp.holds(lit, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_with_offsets() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00+00:00"), Some(0));
        assert_eq!(
            parse_datetime("2024-06-10T14:05:00+02:00"),
            parse_datetime("2024-06-10T12:05:00+00:00")
        );
        assert_eq!(parse_datetime("2024-06-10T14:05:00.000+02:00"), None);
        assert_eq!(parse_datetime("2024-06-10T14:05:00Z"), None);
        assert_eq!(parse_datetime("2024-06-10 14:05:00+02:00"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("02:05"), Some(125));
        assert_eq!(duration_seconds("75:10"), Some(4510));
        assert_eq!(duration_seconds("5:00"), Some(300));
        assert_eq!(duration_seconds("02:60"), None);
        assert_eq!(duration_seconds("125"), None);
    }

    #[test]
    fn criteria_parse_with_escapes() {
        let c = parse_criteria(r"((Last_Name:equals:Burns\,B)or(Phone:starts_with:55))")
            .expect("parses");
        let mut rec = Map::new();
        rec.insert("Last_Name".into(), json!("Burns,B"));
        assert!(eval_criteria(&c, "Contacts", &rec));
        assert!(parse_criteria("(Last_Name:equals:a,b").is_err());
        assert!(parse_criteria("((A:equals:b)xor(C:equals:d))").is_err());
        assert!(parse_criteria("(Last_Name:equals:a(b))").is_err());
    }
}
