//! The CRM facade against the local Salesforce and Zoho doubles (`enlace-sandbox`): sign-in
//! through a driven browser redirect, token refresh and revoke, search, create, log call,
//! rate limits and the faults a real network produces. Each test starts its own doubles on
//! free loopback ports; dropping them stops them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{
    CallActivity, CallDirection, CallId, Clock, ContactKind, Country, Crm, ErrorCode, NewContact,
    RecordRef, SystemClock, Timestamp,
};
use enlace_crm::{
    salesforce_password_sign_in, ChatActivity, CrmAccount, CrmConfig, CrmError, CrmLink,
    PendingSignIn, SalesforceConfig, Tokens, WriteAttempt, ZohoConfig,
};
use enlace_sandbox::{Fault, RecordedRequest, SalesforceDouble, ZohoDouble};
use enlace_secrets::Sensitive;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// helpers

struct TestClock(AtomicI64);

impl TestClock {
    fn now_real() -> Arc<TestClock> {
        Arc::new(TestClock(AtomicI64::new(SystemClock.now().millis())))
    }
    fn set(&self, at: i64) {
        self.0.store(at, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

fn cr() -> Country {
    Country::parse("CR").expect("CR")
}

/// A browser with redirects off: GET the authorize URL, expect a 302, GET its Location (the
/// app's loopback listener) and return that page.
fn drive_browser(authorize_url: &str) -> String {
    // No crypto provider is chosen by reqwest's features: ring, as in the crate.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let agent = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let reply = agent.get(authorize_url).send().expect("authorize page");
    assert_eq!(reply.status().as_u16(), 302, "authorize should redirect");
    let location = reply
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let page = agent.get(&location).send().expect("loopback page");
    assert_eq!(page.status().as_u16(), 200);
    page.text().expect("page body")
}

fn sign_in(pending: PendingSignIn) -> Result<(CrmAccount, Tokens), CrmError> {
    let url = pending.authorize_url().to_owned();
    let waiter = std::thread::spawn(move || pending.finish(Duration::from_secs(30)));
    let page = drive_browser(&url);
    let result = waiter.join().expect("finish thread");
    if result.is_ok() {
        assert!(page.contains("volver a Enlace"), "{page}");
    }
    result
}

fn sf_config(d: &SalesforceDouble) -> SalesforceConfig {
    SalesforceConfig {
        login_host: d.base_url(),
        client_id: d.client_id().to_owned(),
        client_secret: None,
        redirect_port: 0,
    }
}

fn zoho_config(d: &ZohoDouble) -> ZohoConfig {
    ZohoConfig {
        accounts_server: d.accounts_url(),
        client_id: d.client_id().to_owned(),
        client_secret: d.client_secret().to_owned(),
        redirect_port: 0,
    }
}

fn sf_sign_in(d: &SalesforceDouble) -> (CrmAccount, Tokens) {
    let pending = PendingSignIn::salesforce(&sf_config(d)).expect("listen");
    d.register_redirect_uri(pending.redirect_uri());
    sign_in(pending).expect("Salesforce sign-in")
}

fn zoho_sign_in(d: &ZohoDouble) -> (CrmAccount, Tokens) {
    let pending = PendingSignIn::zoho(&zoho_config(d)).expect("listen");
    d.register_redirect_uri(pending.redirect_uri());
    sign_in(pending).expect("Zoho sign-in")
}

fn sf_link(d: &SalesforceDouble) -> CrmLink {
    let (account, tokens) = sf_sign_in(d);
    let config = CrmConfig {
        salesforce: sf_config(d),
        ..CrmConfig::default()
    };
    CrmLink::new(account, tokens, config, TestClock::now_real())
}

fn zoho_link_with_clock(d: &ZohoDouble, clock: Arc<TestClock>) -> CrmLink {
    let (account, tokens) = zoho_sign_in(d);
    let config = CrmConfig {
        zoho: zoho_config(d),
        ..CrmConfig::default()
    };
    CrmLink::new(account, tokens, config, clock)
}

fn zoho_link(d: &ZohoDouble) -> CrmLink {
    zoho_link_with_clock(d, TestClock::now_real())
}

fn form(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn requests_to(requests: &[RecordedRequest], path_part: &str) -> Vec<RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.path.contains(path_part))
        .cloned()
        .collect()
}

fn sosl_queries(d: &SalesforceDouble) -> Vec<String> {
    requests_to(&d.requests(), "/search")
        .iter()
        .filter_map(|r| form(&r.query).get("q").cloned())
        .collect()
}

fn new_contact(kind: ContactKind, last: &str, email: Option<&str>) -> NewContact {
    NewContact {
        kind,
        first_name: Some("Ana".into()),
        last_name: last.into(),
        email: email.map(Into::into),
        phone: Some("+506 8888-1234".into()),
        mobile: Some("+506 7000-0001".into()),
        company: (kind == ContactKind::Lead).then(|| "Acme S.A.".to_owned()),
    }
}

fn activity(record: RecordRef, direction: CallDirection) -> CallActivity {
    CallActivity {
        call_id: CallId("call-1".into()),
        record,
        direction,
        peer_number: "+50688881234".into(),
        // 2024-06-10T06:13:20Z
        started_at: Timestamp(1_718_000_000_000),
        duration_seconds: 4_510,
        subject: "Consulta de saldo".into(),
        comment: "El cliente pide un estado de cuenta.".into(),
    }
}

/// An attempt of a write queued a minute ago.
fn attempt(key: &str, retrying: bool) -> WriteAttempt<'_> {
    WriteAttempt {
        key,
        queued_at: Timestamp(SystemClock.now().millis() - 60_000),
        retrying,
    }
}

fn str_field<'a>(record: &'a Value, name: &str) -> &'a str {
    record.get(name).and_then(Value::as_str).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Salesforce: sign-in, tokens

#[test]
fn salesforce_browser_sign_in_uses_pkce_and_reads_the_identity() {
    let d = SalesforceDouble::start().expect("double");
    d.authorize_as("ana.mora@acme.example");
    let pending = PendingSignIn::salesforce(&sf_config(&d)).expect("listen");
    let url = pending.authorize_url().to_owned();
    assert!(pending.redirect_uri().starts_with("http://localhost:"));
    assert!(pending.redirect_uri().ends_with("/OauthRedirect"));
    d.register_redirect_uri(pending.redirect_uri());
    let (account, tokens) = sign_in(pending).expect("sign-in");

    let params = form(url.split_once('?').expect("query").1);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["prompt"], "login");
    assert_eq!(params["scope"], "api refresh_token web");
    assert_eq!(params["client_id"], d.client_id());

    let CrmAccount::Salesforce(sf) = &account else {
        panic!("not Salesforce: {account:?}");
    };
    assert_eq!(sf.username, "ana.mora@acme.example");
    assert_eq!(sf.org_id, d.org_id());
    assert!(sf.user_id.starts_with("005"));
    assert_eq!(sf.instance_url, d.base_url());
    assert_eq!(
        account.key(),
        format!("salesforce:{}:{}", sf.org_id, sf.user_id)
    );
    assert!(tokens.refresh.is_some());
    assert_eq!(tokens.access_expires_at, None);

    let token_call = requests_to(&d.requests(), "/services/oauth2/token");
    let sent = form(&token_call[0].body);
    assert_eq!(sent["grant_type"], "authorization_code");
    assert_eq!(sent["redirect_uri"], params["redirect_uri"]);
    assert_eq!(sent["code_verifier"].len(), 86);
    // The stored secret round-trips.
    let back = Tokens::from_secret(&tokens.to_secret()).expect("secret");
    assert_eq!(back.access.expose(), tokens.access.expose());
}

#[test]
fn salesforce_denied_sign_in_is_access_denied() {
    let d = SalesforceDouble::start().expect("double");
    d.deny_next_authorization();
    let pending = PendingSignIn::salesforce(&sf_config(&d)).expect("listen");
    d.register_redirect_uri(pending.redirect_uri());
    let err = sign_in(pending).expect_err("denied");
    assert_eq!(err.code(), ErrorCode::CrmAccessDenied);
    assert!(err.needs_agent());
}

#[test]
fn salesforce_password_flow_signs_in_or_explains_both_causes() {
    let d = SalesforceDouble::start().expect("double");
    d.add_user("ventas@acme.example", "Secreto1TOKEN123");
    let config = sf_config(&d);
    let (account, tokens) = salesforce_password_sign_in(
        &config,
        "ventas@acme.example",
        &Sensitive::new("Secreto1TOKEN123".into()),
    )
    .expect("password sign-in");
    assert_eq!(account.display(), "ventas@acme.example");
    assert!(tokens.refresh.is_none());

    let wrong = salesforce_password_sign_in(
        &config,
        "ventas@acme.example",
        &Sensitive::new("Secreto1".into()),
    )
    .expect_err("no token appended");
    d.set_password_flow_enabled(false);
    let blocked = salesforce_password_sign_in(
        &config,
        "ventas@acme.example",
        &Sensitive::new("Secreto1TOKEN123".into()),
    )
    .expect_err("flow disabled");
    for err in [&wrong, &blocked] {
        assert_eq!(err.code(), ErrorCode::CrmAuthFailed);
        let text = err.to_string();
        assert!(text.contains("security token"), "{text}");
        assert!(text.contains("Allow OAuth Username-Password"), "{text}");
        assert!(!text.contains("Secreto1"), "{text}");
    }
    assert_eq!(wrong.to_string(), blocked.to_string());
}

#[test]
fn salesforce_refreshes_once_after_invalid_session_and_reports_it_once() {
    let d = SalesforceDouble::start().expect("double");
    d.insert_record(
        ContactKind::Contact,
        json!({"FirstName": "Ana", "LastName": "Mora", "Phone": "+506 8888-1234"}),
    );
    let link = sf_link(&d);
    let before = link.search("Mora", cr()).expect("search");
    assert_eq!(before.len(), 1);
    assert!(link.take_refreshed_tokens().is_none());

    d.expire_access_tokens();
    let after = link.search("Mora", cr()).expect("search after refresh");
    assert_eq!(after, before);
    let refreshed = link.take_refreshed_tokens().expect("new tokens");
    assert!(refreshed.refresh.is_some());
    assert!(link.take_refreshed_tokens().is_none(), "reported once");
    let refreshes: Vec<_> = requests_to(&d.requests(), "/services/oauth2/token")
        .into_iter()
        .filter(|r| form(&r.body)["grant_type"] == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert!(link
        .api_usage()
        .is_some_and(|(used, max)| used > 0 && max > used));
}

#[test]
fn salesforce_session_without_refresh_token_needs_the_agent() {
    let d = SalesforceDouble::start().expect("double");
    d.add_user("ventas@acme.example", "pwTOKEN");
    let config = sf_config(&d);
    let (account, tokens) = salesforce_password_sign_in(
        &config,
        "ventas@acme.example",
        &Sensitive::new("pwTOKEN".into()),
    )
    .expect("sign-in");
    let link = CrmLink::new(
        account,
        tokens,
        CrmConfig {
            salesforce: config,
            ..CrmConfig::default()
        },
        TestClock::now_real(),
    );
    d.expire_access_tokens();
    let err = link.search("Mora", cr()).expect_err("expired");
    assert_eq!(err.code(), ErrorCode::CrmReauthRequired);
    assert!(err.needs_agent() && !err.is_transient());
}

#[test]
fn salesforce_revoke_follows_a_same_origin_redirect_and_kills_the_grant() {
    let d = SalesforceDouble::start().expect("double");
    let (account, tokens) = sf_sign_in(&d);
    let refresh = tokens.refresh.clone().expect("refresh").into_exposed();
    let link = CrmLink::new(
        account,
        tokens,
        CrmConfig {
            salesforce: sf_config(&d),
            ..CrmConfig::default()
        },
        TestClock::now_real(),
    );
    d.inject(Fault::RedirectTo(format!(
        "{}/services/oauth2/revoke",
        d.base_url()
    )));
    link.revoke().expect("revoke");
    assert_eq!(d.revoked_tokens(), vec![refresh]);
    assert_eq!(
        requests_to(&d.requests(), "/services/oauth2/revoke").len(),
        2
    );
    let err = link.search("Mora", cr()).expect_err("revoked");
    assert_eq!(err.code(), ErrorCode::CrmReauthRequired);
    // Revoking again is harmless.
    link.revoke().expect("already revoked");
}

#[test]
fn salesforce_revoke_does_not_follow_a_redirect_to_another_host() {
    let d = SalesforceDouble::start().expect("double");
    let link = sf_link(&d);
    d.inject(Fault::RedirectTo(
        "http://elsewhere.invalid/services/oauth2/revoke".into(),
    ));
    let err = link.revoke().expect_err("foreign redirect");
    assert_eq!(err.code(), ErrorCode::CrmBadReply);
    assert!(err.to_string().contains("elsewhere.invalid"), "{err}");
    assert!(d.revoked_tokens().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Salesforce: search, create, log

#[test]
fn salesforce_search_by_every_key() {
    let d = SalesforceDouble::start().expect("double");
    let ana = d.insert_record(
        ContactKind::Contact,
        json!({"FirstName": "Ana", "LastName": "Mora", "Phone": "+506 8888-1234", "Email": "ana.mora@acme.example"}),
    );
    let lead = d.insert_record(
        ContactKind::Lead,
        json!({"FirstName": "Luis", "LastName": "O'Brien-Soto", "Company": "Acme", "MobilePhone": "8777 0000"}),
    );
    let ext = d.insert_record(
        ContactKind::Contact,
        json!({"LastName": "Recepción", "Phone": "4000"}),
    );
    let link = sf_link(&d);

    // A national number finds the record stored in international format (equivalent forms).
    let found = link.search("8888 1234", cr()).expect("phone");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].crm_id, ana);
    assert_eq!(found[0].kind, ContactKind::Contact);
    assert_eq!(found[0].email.as_deref(), Some("ana.mora@acme.example"));
    assert_eq!(found[0].display_name(), "Ana Mora");
    // And the other way round: +506 finds the one stored nationally (a Lead's mobile).
    let found = link.search("+506 8777-0000", cr()).expect("phone");
    assert_eq!(
        found.iter().map(|c| c.crm_id.clone()).collect::<Vec<_>>(),
        vec![lead.clone()]
    );
    assert_eq!(found[0].kind, ContactKind::Lead);
    assert_eq!(found[0].company.as_deref(), Some("Acme"));
    assert_eq!(link.search("4000", cr()).expect("extension")[0].crm_id, ext);

    let found = link.search("ana.mora@acme.example", cr()).expect("email");
    assert_eq!(found[0].crm_id, ana);
    // Reserved characters are escaped (an unescaped quote or dash would change the query).
    let found = link.search("O'Brien-Soto", cr()).expect("name");
    assert_eq!(found[0].crm_id, lead);
    assert!(link.search("Ana {Mora}", cr()).expect("braces").is_empty());

    let queries = sosl_queries(&d);
    assert!(queries[0].starts_with("FIND {50688881234 OR 88881234} IN PHONE FIELDS RETURNING Contact(Id,FirstName,LastName,Name,Email,Phone,MobilePhone), Lead(Id,FirstName,LastName,Name,Company,Email,Phone,MobilePhone)"), "{}", queries[0]);
    assert!(queries
        .iter()
        .any(|q| q.starts_with("FIND {ana.mora@acme.example} IN EMAIL FIELDS")));
    assert!(queries
        .iter()
        .any(|q| q.starts_with("FIND {O\\'Brien\\-Soto} IN NAME FIELDS")));
    assert!(queries
        .iter()
        .any(|q| q.starts_with("FIND {Ana \\{Mora\\}} IN NAME FIELDS")));

    let before = d.requests().len();
    let err = link.search(" a ", cr()).expect_err("too short");
    assert_eq!(err.code(), ErrorCode::SearchTooShort);
    assert_eq!(d.requests().len(), before, "nothing sent for a short query");
    // Very long input is cut, not rejected.
    assert!(link.search(&"Mora ".repeat(200), cr()).is_ok());
}

#[test]
fn salesforce_creates_contacts_and_leads_and_maps_field_errors() {
    let d = SalesforceDouble::start().expect("double");
    let link = sf_link(&d);
    let contact = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Mora", Some("ana@acme.example")),
            &attempt("k1", false),
        )
        .expect("contact");
    assert!(contact.crm_id.starts_with("003"));
    let stored = d.records("Contact");
    assert_eq!(stored.len(), 1);
    assert_eq!(str_field(&stored[0], "LastName"), "Mora");
    assert_eq!(str_field(&stored[0], "FirstName"), "Ana");
    assert_eq!(str_field(&stored[0], "Email"), "ana@acme.example");
    assert_eq!(str_field(&stored[0], "Phone"), "+506 8888-1234");
    assert_eq!(str_field(&stored[0], "MobilePhone"), "+506 7000-0001");

    let lead = link
        .create_contact(
            &new_contact(ContactKind::Lead, "Rojas", None),
            &attempt("k2", false),
        )
        .expect("lead");
    assert!(lead.crm_id.starts_with("00Q"));
    assert_eq!(lead.company.as_deref(), Some("Acme S.A."));
    assert_eq!(str_field(&d.records("Lead")[0], "Company"), "Acme S.A.");

    // A Lead without a company is refused before anything is sent.
    let before = d.requests().len();
    let mut no_company = new_contact(ContactKind::Lead, "Rojas", None);
    no_company.company = None;
    let err = link
        .create_contact(&no_company, &attempt("k3", false))
        .expect_err("company");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("company"))
    );
    assert_eq!(d.requests().len(), before);

    // The CRM's own field errors come back with our field names.
    let err = link
        .create_contact(
            &new_contact(ContactKind::Contact, "  ", None),
            &attempt("k4", false),
        )
        .expect_err("last name");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("last_name"))
    );
    let err = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Mora", Some("no-es-correo")),
            &attempt("k5", false),
        )
        .expect_err("email");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("email"))
    );
    let err = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Mora", Some("ana@acme.example")),
            &attempt("k6", false),
        )
        .expect_err("duplicate");
    assert_eq!(err.code(), ErrorCode::CrmDuplicate);
    assert!(
        matches!(err, CrmError::Duplicate { existing: Some(ref r), .. } if r.id == contact.crm_id && r.kind == ContactKind::Contact)
    );
    assert_eq!(d.records("Contact").len(), 1);
}

#[test]
fn salesforce_logs_calls_as_tasks_with_every_field() {
    let d = SalesforceDouble::start().expect("double");
    let contact = d.insert_record(ContactKind::Contact, json!({"LastName": "Mora"}));
    let lead = d.insert_record(
        ContactKind::Lead,
        json!({"LastName": "Soto", "Company": "Acme"}),
    );
    let link = sf_link(&d);
    let record = |kind, id: &str| RecordRef {
        crm: Crm::Salesforce,
        kind,
        id: id.to_owned(),
    };
    let t1 = link
        .log_call(
            &activity(
                record(ContactKind::Contact, &contact),
                CallDirection::Incoming,
            ),
            &attempt("call-1:log", false),
        )
        .expect("log contact");
    let t2 = link
        .log_call(
            &activity(record(ContactKind::Lead, &lead), CallDirection::Outgoing),
            &attempt("call-2:log", false),
        )
        .expect("log lead");
    assert!(t1.starts_with("00T") && t2.starts_with("00T"));
    let tasks = d.records("Task");
    assert_eq!(tasks.len(), 2);
    let task = tasks
        .iter()
        .find(|t| str_field(t, "Id") == t1)
        .expect("task 1");
    assert_eq!(str_field(task, "Subject"), "Consulta de saldo");
    assert_eq!(
        str_field(task, "Description"),
        "El cliente pide un estado de cuenta."
    );
    assert_eq!(str_field(task, "WhoId"), contact);
    assert_eq!(str_field(task, "Status"), "Completed");
    assert_eq!(str_field(task, "Priority"), "Normal");
    assert_eq!(str_field(task, "ActivityDate"), "2024-06-10");
    assert_eq!(str_field(task, "TaskSubtype"), "Call");
    assert_eq!(str_field(task, "CallType"), "Inbound");
    assert_eq!(task["CallDurationInSeconds"], 4_510);
    assert_eq!(str_field(task, "CallObject"), "call-1:log");
    let task = tasks
        .iter()
        .find(|t| str_field(t, "Id") == t2)
        .expect("task 2");
    assert_eq!(str_field(task, "WhoId"), lead);
    assert_eq!(str_field(task, "CallType"), "Outbound");

    assert_eq!(
        link.record_url(&record(ContactKind::Lead, &lead)),
        format!("{}/lightning/r/Lead/{lead}/view", d.base_url())
    );
}

#[test]
fn salesforce_rate_limit_is_reported_with_a_back_off_and_not_retried() {
    let d = SalesforceDouble::start().expect("double");
    let link = sf_link(&d);
    d.set_request_limit_exceeded(true);
    let before = d.requests().len();
    let err = link.search("Mora", cr()).expect_err("limited");
    assert_eq!(err.code(), ErrorCode::CrmRateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.is_transient());
    assert_eq!(d.requests().len(), before + 1, "no retry inside the client");
}

#[test]
fn salesforce_faults_become_typed_errors() {
    let d = SalesforceDouble::start().expect("double");
    let link = sf_link(&d);

    d.inject(Fault::HtmlErrorPage);
    let err = link.search("Mora", cr()).expect_err("html");
    assert_eq!(err.code(), ErrorCode::CrmBadReply);
    assert!(err.is_transient());

    d.insert_record(
        ContactKind::Contact,
        json!({"LastName": "Mora", "FirstName": "Ana"}),
    );
    d.inject(Fault::Truncated);
    let err = link.search("Mora", cr()).expect_err("truncated");
    assert_eq!(err.code(), ErrorCode::CrmBadReply);
    assert!(err.to_string().contains("truncated"), "{err}");

    d.inject(Fault::RedirectTo(
        "https://phishing.invalid/services/data".into(),
    ));
    let err = link.search("Mora", cr()).expect_err("redirect");
    assert_eq!(err.code(), ErrorCode::CrmBadReply);
    assert!(err.to_string().contains("phishing.invalid"), "{err}");
    assert!(!err.is_transient());

    d.inject(Fault::ServerErrors(1));
    let err = link.search("Mora", cr()).expect_err("503");
    assert_eq!(err.code(), ErrorCode::CrmUnavailable);
    assert!(err.is_transient() && !err.needs_agent());

    d.inject(Fault::DropConnection);
    assert_eq!(
        link.search("Mora", cr()).expect_err("drop").code(),
        ErrorCode::CrmUnavailable
    );

    // And the link still works afterwards.
    assert_eq!(link.search("Mora", cr()).expect("recovered").len(), 1);
}

#[test]
fn salesforce_retrying_after_a_lost_reply_writes_exactly_once() {
    let d = SalesforceDouble::start().expect("double");
    let contact_id = d.insert_record(ContactKind::Contact, json!({"LastName": "Mora"}));
    let link = sf_link(&d);
    let call = activity(
        RecordRef {
            crm: Crm::Salesforce,
            kind: ContactKind::Contact,
            id: contact_id,
        },
        CallDirection::Incoming,
    );
    d.inject(Fault::DropReplyAfterCommit);
    let err = link
        .log_call(&call, &attempt("call-1:log", false))
        .expect_err("lost reply");
    assert!(err.is_transient(), "{err}");
    assert_eq!(d.records("Task").len(), 1, "the write was committed");
    let id = link
        .log_call(&call, &attempt("call-1:log", true))
        .expect("retry");
    let tasks = d.records("Task");
    assert_eq!(tasks.len(), 1, "exactly one Task");
    assert_eq!(str_field(&tasks[0], "Id"), id);

    d.set_search_lag(5); // the search index must not be what finds the record
    let new = new_contact(ContactKind::Lead, "Quesada", Some("q@acme.example"));
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .create_contact(&new, &attempt("c1", false))
        .expect_err("lost")
        .is_transient());
    let created = link
        .create_contact(&new, &attempt("c1", true))
        .expect("retry create");
    let leads = d.records("Lead");
    assert_eq!(leads.len(), 1, "exactly one Lead");
    assert_eq!(str_field(&leads[0], "Id"), created.crm_id);
    // Retrying when nothing was committed creates it.
    let other = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Nuevo", None),
            &attempt("c2", true),
        )
        .expect("first attempt flagged as retry");
    assert_eq!(d.records("Contact").len(), 2);
    assert!(other.crm_id.starts_with("003"));
}

// ---------------------------------------------------------------------------------------------
// Zoho

#[test]
fn zoho_browser_sign_in_takes_the_data_center_from_the_redirect() {
    let d = ZohoDouble::start().expect("double");
    d.authorize_as("ana.mora@acme.example");
    d.set_location("eu");
    let pending = PendingSignIn::zoho(&zoho_config(&d)).expect("listen");
    let url = pending.authorize_url().to_owned();
    assert!(pending.redirect_uri().ends_with("/callback"));
    d.register_redirect_uri(pending.redirect_uri());
    let started = SystemClock.now().millis();
    let (account, tokens) = sign_in(pending).expect("sign-in");

    let params = form(url.split_once('?').expect("query").1);
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    assert_eq!(params["response_type"], "code");
    assert!(params["scope"].contains("ZohoCRM.modules.ALL"));

    let CrmAccount::Zoho(z) = &account else {
        panic!("not Zoho: {account:?}");
    };
    assert_eq!(z.email, "ana.mora@acme.example");
    assert_eq!(z.api_domain, d.api_domain());
    assert_eq!(z.accounts_server, d.accounts_url());
    assert_eq!(account.display(), "ana.mora@acme.example");
    assert!(tokens.refresh.is_some());
    let expires = tokens.access_expires_at.expect("expiry").millis();
    assert!(expires >= started + 3_500_000 && expires <= SystemClock.now().millis() + 3_600_000);
    let exchange = requests_to(&d.requests(), "/oauth/v2/token");
    let sent = form(&exchange[0].body);
    assert_eq!(sent["grant_type"], "authorization_code");
    assert_eq!(sent["client_secret"], d.client_secret());
}

#[test]
fn zoho_denied_sign_in_is_access_denied() {
    let d = ZohoDouble::start().expect("double");
    d.deny_next_authorization();
    let pending = PendingSignIn::zoho(&zoho_config(&d)).expect("listen");
    d.register_redirect_uri(pending.redirect_uri());
    assert_eq!(
        sign_in(pending).expect_err("denied").code(),
        ErrorCode::CrmAccessDenied
    );
}

#[test]
fn zoho_refreshes_a_minute_before_expiry_and_after_invalid_token() {
    let d = ZohoDouble::start().expect("double");
    d.insert_record(
        "Contacts",
        json!({"First_Name": "Ana", "Last_Name": "Mora", "Phone": "+506 8888-1234"}),
    );
    let clock = TestClock::now_real();
    let link = zoho_link_with_clock(&d, clock.clone());
    let refreshes = |d: &ZohoDouble| {
        requests_to(&d.requests(), "/oauth/v2/token")
            .iter()
            .filter(|r| {
                form(&r.body).get("grant_type").map(String::as_str) == Some("refresh_token")
            })
            .count()
    };
    assert_eq!(link.search("Mora", cr()).expect("search").len(), 1);
    assert_eq!(refreshes(&d), 0);
    assert!(link.take_refreshed_tokens().is_none());

    // 30 s before expiry: refreshed before the call.
    let expires = link.access_expires_at().expect("expiry").millis();
    clock.set(expires - 30_000);
    assert_eq!(link.search("Mora", cr()).expect("search").len(), 1);
    assert_eq!(refreshes(&d), 1);
    let fresh = link.take_refreshed_tokens().expect("refreshed");
    assert_eq!(
        fresh.access_expires_at,
        Some(Timestamp(expires - 30_000 + 3_600_000))
    );
    assert!(link.take_refreshed_tokens().is_none());

    // Revoked behind our back: one refresh after INVALID_TOKEN, then the call succeeds.
    d.expire_access_tokens();
    assert_eq!(link.search("Mora", cr()).expect("search").len(), 1);
    assert_eq!(refreshes(&d), 2);
    assert!(link.take_refreshed_tokens().is_some());
}

#[test]
fn zoho_revoke_kills_the_refresh_token() {
    let d = ZohoDouble::start().expect("double");
    let (account, tokens) = zoho_sign_in(&d);
    let refresh = tokens.refresh.clone().expect("refresh").into_exposed();
    let link = CrmLink::new(
        account,
        tokens,
        CrmConfig {
            zoho: zoho_config(&d),
            ..CrmConfig::default()
        },
        TestClock::now_real(),
    );
    link.revoke().expect("revoke");
    assert_eq!(d.revoked_tokens(), vec![refresh.clone()]);
    let err = link.search("Mora", cr()).expect_err("revoked");
    assert_eq!(err.code(), ErrorCode::CrmReauthRequired);
    assert!(!err.to_string().contains(&refresh), "{err}");
}

#[test]
fn zoho_search_by_every_key() {
    let d = ZohoDouble::start().expect("double");
    let ana = d.insert_record(
        "Contacts",
        json!({"First_Name": "Ana", "Last_Name": "Mora", "Phone": "+506 8888-1234", "Email": "ana.mora@acme.example"}),
    );
    let lead = d.insert_record(
        "Leads",
        json!({"First_Name": "Luis", "Last_Name": "Soto", "Company": "Acme", "Mobile": "87770000"}),
    );
    let link = zoho_link(&d);
    let found = link.search("8888-1234", cr()).expect("phone");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].crm_id.as_str(), found[0].kind),
        (ana.as_str(), ContactKind::Contact)
    );
    assert_eq!(found[0].phone.as_deref(), Some("+506 8888-1234"));
    let found = link.search("+506 8777 0000", cr()).expect("phone");
    assert_eq!(
        (found[0].crm_id.as_str(), found[0].kind),
        (lead.as_str(), ContactKind::Lead)
    );
    assert_eq!(found[0].company.as_deref(), Some("Acme"));
    assert_eq!(
        link.search("ana.mora@acme.example", cr()).expect("email")[0].crm_id,
        ana
    );
    assert_eq!(link.search("Soto", cr()).expect("name")[0].crm_id, lead);
    // 204 No Content is "nothing found".
    assert!(link.search("Zamora", cr()).expect("none").is_empty());

    let searches = requests_to(&d.requests(), "/search");
    assert!(searches.iter().all(|r| r
        .header("authorization")
        .is_some_and(|h| h.starts_with("Zoho-oauthtoken "))));
    let queries: Vec<HashMap<String, String>> = searches.iter().map(|r| form(&r.query)).collect();
    assert_eq!(queries[0]["phone"], "50688881234");
    assert!(queries
        .iter()
        .any(|q| q.get("email").map(String::as_str) == Some("ana.mora@acme.example")));
    assert!(queries
        .iter()
        .any(|q| q.get("word").map(String::as_str) == Some("Soto")));
    assert_eq!(
        link.search("x", cr()).expect_err("short").code(),
        ErrorCode::SearchTooShort
    );
}

#[test]
fn zoho_creates_contacts_and_leads_and_maps_field_errors() {
    let d = ZohoDouble::start().expect("double");
    let link = zoho_link(&d);
    let contact = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Mora", Some("ana@acme.example")),
            &attempt("k1", false),
        )
        .expect("contact");
    let stored = d.records("Contacts");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"].as_str(), Some(contact.crm_id.as_str()));
    assert_eq!(str_field(&stored[0], "Last_Name"), "Mora");
    assert_eq!(str_field(&stored[0], "First_Name"), "Ana");
    assert_eq!(str_field(&stored[0], "Email"), "ana@acme.example");
    assert_eq!(str_field(&stored[0], "Phone"), "+506 8888-1234");
    assert_eq!(str_field(&stored[0], "Mobile"), "+506 7000-0001");

    let lead = link
        .create_contact(
            &new_contact(ContactKind::Lead, "Rojas", None),
            &attempt("k2", false),
        )
        .expect("lead");
    assert_eq!(lead.kind, ContactKind::Lead);
    assert_eq!(str_field(&d.records("Leads")[0], "Company"), "Acme S.A.");

    let err = link
        .create_contact(
            &new_contact(ContactKind::Contact, "", None),
            &attempt("k3", false),
        )
        .expect_err("last name");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("last_name"))
    );
    let err = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Mora", Some("sin-arroba")),
            &attempt("k4", false),
        )
        .expect_err("email");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("email"))
    );
    let mut bad_phone = new_contact(ContactKind::Contact, "Mora", None);
    bad_phone.phone = Some("llamar a Ana".into());
    let err = link
        .create_contact(&bad_phone, &attempt("k5", false))
        .expect_err("phone");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("phone"))
    );
    let err = link
        .create_contact(
            &new_contact(ContactKind::Contact, "Mora", Some("ana@acme.example")),
            &attempt("k6", false),
        )
        .expect_err("duplicate");
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmDuplicate, Some("email"))
    );
    assert!(
        matches!(err, CrmError::Duplicate { existing: Some(ref r), .. } if r.id == contact.crm_id && r.kind == ContactKind::Contact)
    );
    let mut no_company = new_contact(ContactKind::Lead, "Rojas", None);
    no_company.company = Some(" ".into());
    assert_eq!(
        link.create_contact(&no_company, &attempt("k7", false))
            .expect_err("company")
            .field(),
        Some("company")
    );
    assert_eq!(d.records("Contacts").len(), 1);
}

#[test]
fn zoho_logs_calls_for_contacts_and_leads_with_every_field() {
    let d = ZohoDouble::start().expect("double");
    let contact = d.insert_record("Contacts", json!({"Last_Name": "Mora"}));
    let lead = d.insert_record("Leads", json!({"Last_Name": "Soto", "Company": "Acme"}));
    let link = zoho_link(&d);
    let record = |kind, id: &str| RecordRef {
        crm: Crm::Zoho,
        kind,
        id: id.to_owned(),
    };
    let c1 = link
        .log_call(
            &activity(
                record(ContactKind::Contact, &contact),
                CallDirection::Incoming,
            ),
            &attempt("k1", false),
        )
        .expect("contact call");
    let c2 = link
        .log_call(
            &activity(record(ContactKind::Lead, &lead), CallDirection::Outgoing),
            &attempt("k2", false),
        )
        .expect("lead call");
    let posted: Vec<Value> = requests_to(&d.requests(), "/crm/v7/Calls")
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).expect("json")["data"][0].clone())
        .collect();
    assert_eq!(posted.len(), 2);
    let inbound = &posted[0];
    assert_eq!(inbound["Subject"], "Consulta de saldo");
    assert_eq!(inbound["Call_Type"], "Inbound");
    assert_eq!(inbound["Call_Start_Time"], "2024-06-10T06:13:20+00:00");
    assert_eq!(inbound["Call_Duration"], "75:10");
    // The comment, then the write's key on a line of its own.
    assert_eq!(
        inbound["Description"],
        "El cliente pide un estado de cuenta.\n\n[enlace:k1]"
    );
    assert_eq!(inbound["Who_Id"], json!({"id": contact}));
    assert!(inbound.get("What_Id").is_none() && inbound.get("$se_module").is_none());
    assert!(inbound.get("Outbound_Call_Status").is_none());
    let outbound = &posted[1];
    assert_eq!(outbound["Call_Type"], "Outbound");
    assert_eq!(outbound["$se_module"], "Leads");
    assert_eq!(outbound["What_Id"], json!({"id": lead}));
    assert!(outbound.get("Who_Id").is_none());
    assert_eq!(outbound["Outbound_Call_Status"], "Completed");

    let calls = d.records("Calls");
    assert_eq!(calls.len(), 2);
    let ids: Vec<&str> = calls.iter().map(|c| str_field(c, "id")).collect();
    assert!(ids.contains(&c1.as_str()) && ids.contains(&c2.as_str()));
    assert_eq!(
        link.record_url(&record(ContactKind::Contact, &contact)),
        format!("{}/crm/tab/Contacts/{contact}", d.api_domain())
    );
}

#[test]
fn zoho_rate_limit_and_faults() {
    let d = ZohoDouble::start().expect("double");
    d.insert_record("Contacts", json!({"Last_Name": "Mora"}));
    let link = zoho_link(&d);
    d.set_too_many_requests(true);
    let err = link.search("Mora", cr()).expect_err("429");
    assert_eq!(err.code(), ErrorCode::CrmRateLimited);
    assert!(err
        .retry_after()
        .is_some_and(|d| d >= Duration::from_secs(1)));
    d.set_too_many_requests(false);

    d.inject(Fault::HtmlErrorPage);
    assert_eq!(
        link.search("Mora", cr()).expect_err("html").code(),
        ErrorCode::CrmBadReply
    );
    d.inject(Fault::Truncated);
    assert_eq!(
        link.search("Mora", cr()).expect_err("cut").code(),
        ErrorCode::CrmBadReply
    );
    d.inject(Fault::RedirectTo(
        "https://accounts.zoho.invalid/crm".into(),
    ));
    let err = link.search("Mora", cr()).expect_err("redirect");
    assert!(err.to_string().contains("accounts.zoho.invalid"), "{err}");
    d.inject(Fault::ServerErrors(1));
    assert_eq!(
        link.search("Mora", cr()).expect_err("500").code(),
        ErrorCode::CrmUnavailable
    );
    assert_eq!(link.search("Mora", cr()).expect("recovered").len(), 1);
}

#[test]
fn zoho_retrying_after_a_lost_reply_writes_exactly_once() {
    let d = ZohoDouble::start().expect("double");
    let lead = d.insert_record("Leads", json!({"Last_Name": "Soto", "Company": "Acme"}));
    let link = zoho_link(&d);
    let call = activity(
        RecordRef {
            crm: Crm::Zoho,
            kind: ContactKind::Lead,
            id: lead,
        },
        CallDirection::Outgoing,
    );
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .log_call(&call, &attempt("k1", false))
        .expect_err("lost")
        .is_transient());
    assert_eq!(d.records("Calls").len(), 1, "committed");
    let id = link.log_call(&call, &attempt("k1", true)).expect("retry");
    let calls = d.records("Calls");
    assert_eq!(calls.len(), 1, "exactly one call");
    assert_eq!(str_field(&calls[0], "id"), id);

    d.set_search_lag(5);
    let new = new_contact(ContactKind::Contact, "Quesada", Some("q@acme.example"));
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .create_contact(&new, &attempt("c1", false))
        .expect_err("lost")
        .is_transient());
    let created = link
        .create_contact(&new, &attempt("c1", true))
        .expect("retry");
    let contacts = d.records("Contacts");
    assert_eq!(contacts.len(), 1, "exactly one contact");
    assert_eq!(str_field(&contacts[0], "id"), created.crm_id);
}

// ---------------------------------------------------------------------------------------------
// A retry looks for the write's key, never for records with the same fields

#[test]
fn salesforce_a_retry_finds_its_contact_and_lead_by_key_not_an_unrelated_namesake() {
    let d = SalesforceDouble::start().expect("double");
    let link = sf_link(&d);
    for kind in [ContactKind::Contact, ContactKind::Lead] {
        let object = match kind {
            ContactKind::Contact => "Contact",
            ContactKind::Lead => "Lead",
        };
        // Someone else's record with exactly the fields the agent typed.
        let new = new_contact(kind, "Mora", None);
        let mut same = json!({"FirstName": "Ana", "LastName": "Mora", "Phone": "+506 8888-1234",
                              "MobilePhone": "+506 7000-0001"});
        if kind == ContactKind::Lead {
            same["Company"] = json!("Acme S.A.");
        }
        let namesake = d.insert_record(kind, same);

        // The first attempt never reached the CRM; the retry must create the record.
        d.inject(Fault::ServerErrors(1));
        let key = format!("enl-{object}-1");
        assert!(link
            .create_contact(&new, &attempt(&key, false))
            .expect_err("503")
            .is_transient());
        let created = link
            .create_contact(&new, &attempt(&key, true))
            .expect("retry");
        assert_ne!(
            created.crm_id, namesake,
            "attached to an unrelated {object}"
        );
        let records = d.records(object);
        assert_eq!(records.len(), 2, "{records:?}");
        let mine = records
            .iter()
            .find(|r| str_field(r, "Id") == created.crm_id)
            .expect("created");
        assert_eq!(str_field(mine, "Description"), format!("[enlace:{key}]"));

        // A reply lost after the commit: the retry finds that record by its key.
        let key = format!("enl-{object}-2");
        d.inject(Fault::DropReplyAfterCommit);
        assert!(link
            .create_contact(&new, &attempt(&key, false))
            .expect_err("lost")
            .is_transient());
        let found = link
            .create_contact(&new, &attempt(&key, true))
            .expect("retry");
        let records = d.records(object);
        assert_eq!(records.len(), 3, "exactly one more {object}");
        assert_eq!(
            str_field(
                records
                    .iter()
                    .find(|r| str_field(r, "Id") == found.crm_id)
                    .expect("found"),
                "Description"
            ),
            format!("[enlace:{key}]")
        );
    }
    // The key was looked for in the user's records created since the write was queued, with
    // SOQL (no Description filter: Salesforce refuses it on a long text area).
    let queries: Vec<String> = requests_to(&d.requests(), "/query")
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert!(!queries.is_empty());
    assert!(
        queries.iter().all(|q| q.contains("CreatedById")),
        "{queries:?}"
    );
}

#[test]
fn zoho_a_retry_finds_its_contact_and_call_by_key_not_an_unrelated_namesake() {
    let d = ZohoDouble::start().expect("double");
    let link = zoho_link(&d);
    let namesake = d.insert_record(
        "Contacts",
        json!({"First_Name": "Ana", "Last_Name": "Mora", "Phone": "+506 8888-1234",
               "Mobile": "+506 7000-0001"}),
    );
    let new = new_contact(ContactKind::Contact, "Mora", None);
    d.inject(Fault::ServerErrors(1));
    assert!(link
        .create_contact(&new, &attempt("enl-c1", false))
        .expect_err("503")
        .is_transient());
    let created = link
        .create_contact(&new, &attempt("enl-c1", true))
        .expect("retry");
    assert_ne!(created.crm_id, namesake, "attached to an unrelated contact");
    assert_eq!(d.records("Contacts").len(), 2);

    // A call: a colleague already logged one with the same subject, start and contact.
    let call = activity(
        RecordRef {
            crm: Crm::Zoho,
            kind: ContactKind::Contact,
            id: namesake.clone(),
        },
        CallDirection::Incoming,
    );
    let other = d.insert_record(
        "Calls",
        json!({"Subject": "Consulta de saldo", "Call_Type": "Inbound",
               "Call_Start_Time": "2024-06-10T06:13:20+00:00", "Call_Duration": "75:10",
               "Who_Id": {"id": namesake}, "Description": "Llamada de un colega"}),
    );
    d.inject(Fault::ServerErrors(1));
    assert!(link
        .log_call(&call, &attempt("enl-l1", false))
        .expect_err("503")
        .is_transient());
    let logged = link
        .log_call(&call, &attempt("enl-l1", true))
        .expect("retry");
    assert_ne!(logged, other, "attached to a colleague's call");
    assert_eq!(d.records("Calls").len(), 2);
    // Lost after the commit: found by its key, not written twice.
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .log_call(&call, &attempt("enl-l2", false))
        .expect_err("lost")
        .is_transient());
    let found = link
        .log_call(&call, &attempt("enl-l2", true))
        .expect("retry");
    let calls = d.records("Calls");
    assert_eq!(calls.len(), 3, "exactly one more call");
    let mine = calls
        .iter()
        .find(|c| str_field(c, "id") == found)
        .expect("found");
    assert!(str_field(mine, "Description").ends_with("[enlace:enl-l2]"));
}

// ---------------------------------------------------------------------------------------------
// A missing endpoint is configuration; only a deleted record says "choose another one"

#[test]
fn salesforce_a_disabled_object_is_configuration_and_a_deleted_record_is_deleted() {
    let d = SalesforceDouble::start().expect("double");
    let contact = d.insert_record(ContactKind::Contact, json!({"LastName": "Mora"}));
    let link = sf_link(&d);
    let call = activity(
        RecordRef {
            crm: Crm::Salesforce,
            kind: ContactKind::Contact,
            id: contact.clone(),
        },
        CallDirection::Incoming,
    );
    d.disable_object("Task");
    let err = link
        .log_call(&call, &attempt("k1", false))
        .expect_err("no Task object");
    assert_eq!(err.code(), ErrorCode::CrmEndpointNotFound, "{err}");
    assert!(!err.to_string().contains("no longer exists"), "{err}");
    assert!(err.needs_agent() && !err.is_transient());
    // Retrying (a SOQL query on the disabled object) says the same.
    let err = link
        .log_call(&call, &attempt("k1", true))
        .expect_err("no Task object");
    assert_eq!(err.code(), ErrorCode::CrmEndpointNotFound, "{err}");

    let d = SalesforceDouble::start().expect("double");
    let contact = d.insert_record(ContactKind::Contact, json!({"LastName": "Mora"}));
    let link = sf_link(&d);
    d.delete_record(&contact);
    let call = activity(
        RecordRef {
            crm: Crm::Salesforce,
            kind: ContactKind::Contact,
            id: contact,
        },
        CallDirection::Incoming,
    );
    let err = link
        .log_call(&call, &attempt("k2", false))
        .expect_err("deleted");
    assert_eq!(err.code(), ErrorCode::CrmRecordDeleted, "{err}");
    assert!(err.to_string().contains("no longer exists"), "{err}");
    assert!(d.records("Task").is_empty());
}

#[test]
fn zoho_a_disabled_module_is_configuration_and_a_deleted_record_is_deleted() {
    let d = ZohoDouble::start().expect("double");
    let contact = d.insert_record("Contacts", json!({"Last_Name": "Silva"}));
    let link = zoho_link(&d);
    let call = activity(
        RecordRef {
            crm: Crm::Zoho,
            kind: ContactKind::Contact,
            id: contact.clone(),
        },
        CallDirection::Incoming,
    );
    d.delete_record("Contacts", &contact);
    let err = link
        .log_call(&call, &attempt("k1", false))
        .expect_err("deleted");
    assert_eq!(err.code(), ErrorCode::CrmRecordDeleted, "{err}");
    d.disable_module("Calls");
    let err = link
        .log_call(&call, &attempt("k1", false))
        .expect_err("no Calls module");
    assert_eq!(err.code(), ErrorCode::CrmEndpointNotFound, "{err}");
    assert!(!err.to_string().contains("no longer exists"), "{err}");
    assert!(d.records("Calls").is_empty());
}

#[test]
fn the_link_refuses_a_record_of_the_other_crm() {
    let d = ZohoDouble::start().expect("double");
    let link = zoho_link(&d);
    let call = activity(
        RecordRef {
            crm: Crm::Salesforce,
            kind: ContactKind::Contact,
            id: "003".into(),
        },
        CallDirection::Incoming,
    );
    assert_eq!(
        link.log_call(&call, &attempt("k", false))
            .expect_err("wrong crm")
            .code(),
        ErrorCode::Internal
    );
    assert!(requests_to(&d.requests(), "/Calls").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Attended WhatsApp conversations

fn chat(record: Option<RecordRef>) -> ChatActivity {
    ChatActivity {
        record,
        customer: "+50688881234".into(),
        customer_name: Some("Ana Mora".into()),
        // 2024-06-10T06:13:20Z to 06:20:45Z.
        started_at: Timestamp(1_718_000_000_000),
        ended_at: Timestamp(1_718_000_445_000),
        transcript: "[10/06/2024 00:13] Cliente: Hola, ¿mi pedido?\n\
                     [10/06/2024 00:20] Agente: Sale mañana 👍"
            .into(),
    }
}

/// A transcript far longer than any CRM text field: 3,000 messages.
fn long_transcript() -> String {
    (0..3_000)
        .map(|i| {
            format!(
                "[10/06/2024 00:{:02}] Cliente: mensaje {i:04} del cliente",
                i % 60
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn salesforce_logs_a_chat_as_a_completed_task_with_the_transcript_and_the_key() {
    let d = SalesforceDouble::start().expect("double");
    let contact_id = d.insert_record(
        ContactKind::Contact,
        json!({"LastName": "Mora", "Phone": "+50688881234"}),
    );
    let link = sf_link(&d);
    let on_contact = chat(Some(RecordRef {
        crm: Crm::Salesforce,
        kind: ContactKind::Contact,
        id: contact_id.clone(),
    }));
    let id = link
        .log_chat(&on_contact, &attempt("chat-1", false))
        .expect("log chat");
    let tasks = d.records("Task");
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(str_field(task, "Id"), id);
    assert!(id.starts_with("00T"));
    assert_eq!(str_field(task, "Subject"), "WhatsApp +50688881234");
    assert_eq!(str_field(task, "WhoId"), contact_id);
    assert_eq!(str_field(task, "TaskSubtype"), "Task");
    assert_eq!(str_field(task, "Status"), "Completed");
    assert_eq!(str_field(task, "Priority"), "Normal");
    assert_eq!(str_field(task, "ActivityDate"), "2024-06-10");
    assert_eq!(
        str_field(task, "Description"),
        "[10/06/2024 00:13] Cliente: Hola, ¿mi pedido?\n[10/06/2024 00:20] Agente: Sale mañana \
         👍\n\n[enlace:chat-1]"
    );
    assert_eq!(task["IsClosed"], true);

    // No record: a Task without WhoId; a long transcript is cut to the field, newest kept.
    let unknown = ChatActivity {
        transcript: long_transcript(),
        ..chat(None)
    };
    link.log_chat(&unknown, &attempt("chat-2", false))
        .expect("log chat without a record");
    let tasks = d.records("Task");
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks[1].get("WhoId").is_none_or(Value::is_null),
        "{}",
        tasks[1]
    );
    let description = str_field(&tasks[1], "Description");
    assert!(description.chars().count() <= 32_000);
    assert!(
        description.starts_with("[Transcripción recortada"),
        "{}",
        &description[..100]
    );
    assert!(description.ends_with("mensaje 2999 del cliente\n\n[enlace:chat-2]"));

    // A lost reply, then the retry: exactly one Task, found by its key.
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .log_chat(&on_contact, &attempt("chat-3", false))
        .expect_err("lost reply")
        .is_transient());
    assert_eq!(d.records("Task").len(), 3, "the write was committed");
    let again = link
        .log_chat(&on_contact, &attempt("chat-3", true))
        .expect("retry");
    let tasks = d.records("Task");
    assert_eq!(tasks.len(), 3, "exactly one Task for chat-3");
    assert_eq!(str_field(&tasks[2], "Id"), again);

    // A deleted record needs the agent.
    assert!(d.delete_record(&contact_id));
    let err = link
        .log_chat(&on_contact, &attempt("chat-4", false))
        .expect_err("deleted");
    assert_eq!(err.code(), ErrorCode::CrmRecordDeleted, "{err}");
}

#[test]
fn zoho_logs_a_chat_as_a_note_on_its_record_or_a_call_without_one() {
    let d = ZohoDouble::start().expect("double");
    let contact = d.insert_record("Contacts", json!({"Last_Name": "Mora"}));
    let lead = d.insert_record("Leads", json!({"Last_Name": "Soto", "Company": "Acme"}));
    let link = zoho_link(&d);
    let on = |kind: ContactKind, id: &str| {
        chat(Some(RecordRef {
            crm: Crm::Zoho,
            kind,
            id: id.to_owned(),
        }))
    };
    let note_id = link
        .log_chat(&on(ContactKind::Contact, &contact), &attempt("z-1", false))
        .expect("note on a contact");
    link.log_chat(&on(ContactKind::Lead, &lead), &attempt("z-2", false))
        .expect("note on a lead");
    let notes = d.records("Notes");
    assert_eq!(notes.len(), 2);
    assert_eq!(str_field(&notes[0], "id"), note_id);
    assert_eq!(notes[0]["Parent_Id"]["module"]["api_name"], "Contacts");
    assert_eq!(notes[0]["Parent_Id"]["id"], json!(contact));
    assert_eq!(notes[1]["Parent_Id"]["module"]["api_name"], "Leads");
    assert_eq!(str_field(&notes[0], "Note_Title"), "WhatsApp +50688881234");
    assert_eq!(
        str_field(&notes[0], "Note_Content"),
        "[10/06/2024 00:13] Cliente: Hola, ¿mi pedido?\n[10/06/2024 00:20] Agente: Sale mañana \
         👍\n\n[enlace:z-1]"
    );
    assert!(d.records("Calls").is_empty());

    // No record: a completed inbound Call without Who_Id, cut like the Task.
    let unknown = ChatActivity {
        transcript: long_transcript(),
        ..chat(None)
    };
    link.log_chat(&unknown, &attempt("z-3", false))
        .expect("call without a record");
    let calls = d.records("Calls");
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(str_field(call, "Subject"), "WhatsApp +50688881234");
    assert_eq!(str_field(call, "Call_Type"), "Inbound");
    assert_eq!(
        str_field(call, "Call_Start_Time"),
        "2024-06-10T06:13:20+00:00"
    );
    assert_eq!(str_field(call, "Call_Duration"), "07:25");
    assert!(call.get("Who_Id").is_none_or(Value::is_null));
    let description = str_field(call, "Description");
    assert!(description.chars().count() <= 32_000);
    assert!(description.starts_with("[Transcripción recortada"));
    assert!(description.ends_with("mensaje 2999 del cliente\n\n[enlace:z-3]"));

    // Lost replies, then retries: exactly one note and one call, found by their keys.
    let on_contact = on(ContactKind::Contact, &contact);
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .log_chat(&on_contact, &attempt("z-4", false))
        .expect_err("lost")
        .is_transient());
    assert_eq!(d.records("Notes").len(), 3, "committed");
    let found = link
        .log_chat(&on_contact, &attempt("z-4", true))
        .expect("retry");
    assert_eq!(d.records("Notes").len(), 3, "exactly one note for z-4");
    assert_eq!(str_field(&d.records("Notes")[2], "id"), found);
    d.inject(Fault::DropReplyAfterCommit);
    assert!(link
        .log_chat(&chat(None), &attempt("z-5", false))
        .expect_err("lost")
        .is_transient());
    link.log_chat(&chat(None), &attempt("z-5", true))
        .expect("retry");
    assert_eq!(d.records("Calls").len(), 2, "exactly one call for z-5");
    // A retry of a write that never arrived writes it.
    link.log_chat(&on_contact, &attempt("z-6", true))
        .expect("first attempt flagged as retry");
    assert_eq!(d.records("Notes").len(), 4);

    // A deleted parent needs the agent.
    assert!(d.delete_record("Leads", &lead));
    let err = link
        .log_chat(&on(ContactKind::Lead, &lead), &attempt("z-7", false))
        .expect_err("deleted");
    assert_eq!(err.code(), ErrorCode::CrmRecordDeleted, "{err}");
}

#[test]
fn a_chat_on_a_record_of_the_other_crm_is_refused() {
    let d = ZohoDouble::start().expect("double");
    let link = zoho_link(&d);
    let wrong = chat(Some(RecordRef {
        crm: Crm::Salesforce,
        kind: ContactKind::Contact,
        id: "0035e00000ABCDeAAF".into(),
    }));
    let err = link
        .log_chat(&wrong, &attempt("x", false))
        .expect_err("other CRM");
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(d.records("Notes").is_empty() && d.records("Calls").is_empty());
}
