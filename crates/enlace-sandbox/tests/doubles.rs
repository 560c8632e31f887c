//! The doubles over real sockets, with a real HTTP client (reqwest): reply shapes of api-facts §A
//! and §B, every fault, and hostile input.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use enlace_core::ContactKind;
use enlace_sandbox::{Fault, SalesforceDouble, ZohoDouble};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ----------------------------------------------------------------------------------------------
// Client helpers

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn agent() -> reqwest::blocking::Client {
    // reqwest's features choose no crypto provider: ring, as in the clients.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client")
}

fn finish(resp: reqwest::Result<reqwest::blocking::Response>) -> reqwest::Result<Reply> {
    let resp = resp?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.text()?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn get(url: &str, auth: Option<&str>) -> reqwest::Result<Reply> {
    let mut req = agent().get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    finish(req.send())
}

fn post_form(url: &str, pairs: &[(&str, &str)]) -> Reply {
    let form: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish();
    let req = agent()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form);
    finish(req.send()).expect("form post")
}

fn post_json(url: &str, auth: Option<&str>, body: &Value) -> reqwest::Result<Reply> {
    let mut req = agent().post(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    finish(req.json(body).send())
}

fn ok_get(url: &str, auth: Option<&str>) -> Reply {
    get(url, auth).expect("get")
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(location).expect("absolute Location");
    url.query_pairs().into_owned().collect()
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

// ----------------------------------------------------------------------------------------------
// Salesforce

const SF_REDIRECT: &str = "http://localhost:1717/OauthRedirect";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkdBjftJeZ4CVP";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn sf_authorize_url(
    sf: &SalesforceDouble,
    redirect: &str,
    state: &str,
    challenge: Option<&str>,
) -> String {
    let mut url = format!(
        "{}/services/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&prompt=login",
        sf.base_url(),
        enc(sf.client_id()),
        enc(redirect),
        enc("refresh_token api web"),
        enc(state)
    );
    if let Some(c) = challenge {
        url.push_str(&format!(
            "&code_challenge={}&code_challenge_method=S256",
            enc(c)
        ));
    }
    url
}

fn sf_code(sf: &SalesforceDouble) -> String {
    let r = ok_get(
        &sf_authorize_url(sf, SF_REDIRECT, "st4te", Some(&challenge(VERIFIER))),
        None,
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.header("location").expect("Location").to_string();
    assert!(loc.starts_with(&format!("{SF_REDIRECT}?")), "{loc}");
    let q = query_of(&loc);
    assert_eq!(param(&q, "state").as_deref(), Some("st4te"));
    param(&q, "code").expect("code")
}

fn sf_exchange(sf: &SalesforceDouble, code: &str, verifier: Option<&str>) -> Reply {
    let token_url = format!("{}/services/oauth2/token", sf.base_url());
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", sf.client_id()),
        ("redirect_uri", SF_REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    post_form(&token_url, &form)
}

/// A signed-in double: (double, access token, refresh token).
fn sf_signed_in() -> (SalesforceDouble, String, String) {
    let sf = SalesforceDouble::start().expect("start");
    sf.register_redirect_uri(SF_REDIRECT);
    let code = sf_code(&sf);
    let r = sf_exchange(&sf, &code, Some(VERIFIER));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let at = v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let rt = v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    (sf, at, rt)
}

fn sf_data(sf: &SalesforceDouble, rest: &str) -> String {
    format!("{}/services/data/v61.0/{rest}", sf.base_url())
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[test]
fn salesforce_versions_list_needs_no_auth() {
    let sf = SalesforceDouble::start().expect("start");
    let r = ok_get(&format!("{}/services/data/", sf.base_url()), None);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v
        .as_array()
        .expect("array")
        .iter()
        .any(|e| e["version"] == "61.0"
            && e["url"] == "/services/data/v61.0"
            && e["label"] == "Summer '24"));
}

#[test]
fn salesforce_password_flow_replies_like_a1_and_fails_identically_when_disabled() {
    let sf = SalesforceDouble::start().expect("start");
    sf.set_client_secret(Some("consumer-secret"));
    sf.add_user("ana@example.com", "pw123TOKEN");
    let url = format!("{}/services/oauth2/token", sf.base_url());
    let form = |pw: &'static str| {
        vec![
            ("grant_type", "password"),
            ("client_id", "PlatformCLI"),
            ("client_secret", "consumer-secret"),
            ("username", "ana@example.com"),
            ("password", pw),
        ]
    };
    let r = post_form(&url, &form("pw123TOKEN"));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v.get("refresh_token").is_none() && v.get("expires_in").is_none());
    assert_eq!(v["instance_url"], sf.base_url());
    assert_eq!(v["token_type"], "Bearer");
    let issued = v["issued_at"].as_str().expect("issued_at is a string");
    assert!(issued.len() >= 13 && issued.bytes().all(|b| b.is_ascii_digit()));
    let id = v["id"].as_str().expect("id");
    assert!(id.starts_with(&format!("{}/id/00D", sf.base_url())), "{id}");
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        b"consumer-secret",
        format!("{id}{issued}").as_bytes(),
    ));
    assert_eq!(v["signature"], expected.as_str());
    assert!(v["access_token"]
        .as_str()
        .expect("token")
        .starts_with("00D"));

    // The identity URL answers with the user.
    let who = ok_get(id, Some(&bearer(v["access_token"].as_str().unwrap_or("")))).json();
    assert_eq!(who["username"], "ana@example.com");

    let wrong = post_form(&url, &form("pw123"));
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.json(),
        json!({"error":"invalid_grant","error_description":"authentication failure"})
    );
    sf.set_password_flow_enabled(false);
    let disabled = post_form(&url, &form("pw123TOKEN"));
    assert_eq!(
        (disabled.status, disabled.body.as_str()),
        (wrong.status, wrong.body.as_str())
    );

    // Wrong consumer secret, unknown client, JSON body.
    let mut bad_secret = form("pw123TOKEN");
    bad_secret[2] = ("client_secret", "nope");
    assert_eq!(
        post_form(&url, &bad_secret).json()["error"],
        "invalid_client"
    );
    let mut bad_client = form("pw123TOKEN");
    bad_client[1] = ("client_id", "Other");
    assert_eq!(
        post_form(&url, &bad_client).json()["error"],
        "invalid_client_id"
    );
    let json_body = post_json(&url, None, &json!({"grant_type":"password"})).expect("post");
    assert_eq!(json_body.status, 400);
    assert_eq!(json_body.json()["error"], "unsupported_grant_type");
}

#[test]
fn salesforce_web_server_flow_checks_pkce_and_single_use_codes() {
    let sf = SalesforceDouble::start().expect("start");
    sf.register_redirect_uri(SF_REDIRECT);

    // The code carries characters that must be URL-encoded in the redirect.
    let r = ok_get(
        &sf_authorize_url(&sf, SF_REDIRECT, "s", Some(&challenge(VERIFIER))),
        None,
    );
    assert!(r.header("location").expect("Location").contains("%3D%3D"));

    let code = sf_code(&sf);
    let wrong = sf_exchange(&sf, &code, Some("x".repeat(43).as_str()));
    assert_eq!(
        (wrong.status, wrong.json()["error"].clone()),
        (400, json!("invalid_request"))
    );

    let code = sf_code(&sf);
    let missing = sf_exchange(&sf, &code, None);
    assert_eq!(
        (missing.status, missing.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );

    let code = sf_code(&sf);
    let ok = sf_exchange(&sf, &code, Some(VERIFIER));
    assert_eq!(ok.status, 200, "{}", ok.body);
    let v = ok.json();
    assert!(v["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(v["scope"], "refresh_token api web");
    let again = sf_exchange(&sf, &code, Some(VERIFIER));
    assert_eq!(
        again.json(),
        json!({"error":"invalid_grant","error_description":"expired authorization code"})
    );

    let code = sf_code(&sf);
    sf.expire_authorization_codes();
    assert_eq!(
        sf_exchange(&sf, &code, Some(VERIFIER)).json()["error"],
        "invalid_grant"
    );

    // Redirect URI must match character for character.
    let other = ok_get(
        &sf_authorize_url(&sf, "http://127.0.0.1:1717/OauthRedirect", "s", None),
        None,
    );
    assert_eq!(other.status, 400);
    assert!(other
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(
        other.body.contains("redirect_uri_mismatch")
            && other.body.contains("redirect_uri must match configuration")
    );

    // The user says no.
    sf.deny_next_authorization();
    let denied = ok_get(&sf_authorize_url(&sf, SF_REDIRECT, "abc", None), None);
    assert_eq!(denied.status, 302);
    assert_eq!(
        denied.header("location"),
        Some("http://localhost:1717/OauthRedirect?error=access_denied&error_description=end-user+denied+authorization&state=abc")
    );
}

#[test]
fn salesforce_refresh_and_revoke() {
    let (sf, at, rt) = sf_signed_in();
    let url = format!("{}/services/oauth2/token", sf.base_url());
    let r = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", "PlatformCLI"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v.get("refresh_token").is_none());
    let at2 = v["access_token"].as_str().expect("new token").to_string();
    assert_ne!(at2, at);
    assert_eq!(
        ok_get(&sf_data(&sf, "limits"), Some(&bearer(&at2))).status,
        200
    );

    let revoke = format!("{}/services/oauth2/revoke", sf.base_url());
    let r = post_form(&revoke, &[("token", &rt)]);
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(sf.revoked_tokens(), vec![rt.clone()]);
    // The refresh token and the access tokens issued from it are dead.
    let again = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", "PlatformCLI"),
        ],
    );
    assert_eq!(
        (again.status, again.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    assert_eq!(
        ok_get(&sf_data(&sf, "limits"), Some(&bearer(&at2))).status,
        401
    );
    let bad = post_form(&revoke, &[("token", "nope")]);
    assert_eq!(
        (bad.status, bad.json()["error"].clone()),
        (400, json!("invalid_token"))
    );
}

#[test]
fn salesforce_data_calls_need_a_valid_bearer_and_report_usage() {
    let (sf, at, _) = sf_signed_in();
    let expect_401 =
        json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]);
    let none = ok_get(&sf_data(&sf, "limits"), None);
    assert_eq!((none.status, none.json()), (401, expect_401.clone()));
    let bad = ok_get(&sf_data(&sf, "limits"), Some("Bearer nope"));
    assert_eq!((bad.status, bad.json()), (401, expect_401.clone()));

    let a = ok_get(&sf_data(&sf, "limits"), Some(&bearer(&at)));
    let b = ok_get(&sf_data(&sf, "limits"), Some(&bearer(&at)));
    assert_eq!(a.header("sforce-limit-info"), Some("api-usage=1/15000"));
    assert_eq!(b.header("sforce-limit-info"), Some("api-usage=2/15000"));

    sf.set_request_limit_exceeded(true);
    let limited = ok_get(&sf_data(&sf, "limits"), Some(&bearer(&at)));
    assert_eq!(limited.status, 403);
    assert_eq!(
        limited.json(),
        json!([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])
    );
    assert!(limited.header("sforce-limit-info").is_some());
    sf.set_request_limit_exceeded(false);

    sf.expire_access_tokens();
    let expired = ok_get(&sf_data(&sf, "limits"), Some(&bearer(&at)));
    assert_eq!((expired.status, expired.json()), (401, expect_401));

    // Unknown version and resource.
    assert_eq!(
        ok_get(
            &format!("{}/services/data/v12.0/limits", sf.base_url()),
            Some(&bearer(&at))
        )
        .status,
        404
    );
}

fn sosl(sf: &SalesforceDouble, at: &str, q: &str) -> Reply {
    ok_get(
        &format!("{}?q={}", sf_data(sf, "search/"), enc(q)),
        Some(&bearer(at)),
    )
}

#[test]
fn salesforce_sosl_search_matches_digits_names_and_emails() {
    let (sf, at, _) = sf_signed_in();
    let ana = sf.insert_record(
        ContactKind::Contact,
        json!({"FirstName":"Ana","LastName":"Martínez","Email":"ana@example.com","Phone":"+52 (55) 1234-5678"}),
    );
    let lead = sf.insert_record(
        ContactKind::Lead,
        json!({"FirstName":"José","LastName":"Pérez","Company":"Acme","MobilePhone":"55 1234 5678"}),
    );
    assert_eq!(ana.len(), 18);
    assert!(ana.starts_with("003") && lead.starts_with("00Q"));

    let r = sosl(
        &sf,
        &at,
        "FIND {525512345678} IN PHONE FIELDS RETURNING Contact(Id,Name,Email,Phone,MobilePhone), Lead(Id,Name,Company,Phone,MobilePhone)",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let recs = r.json()["searchRecords"]
        .as_array()
        .expect("searchRecords")
        .clone();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        recs[0]["attributes"],
        json!({"type":"Contact","url":format!("/services/data/v61.0/sobjects/Contact/{ana}")})
    );
    assert_eq!(recs[0]["Name"], "Ana Martínez");
    assert_eq!(recs[0]["MobilePhone"], Value::Null);

    // Escaped term and OR of equivalent forms.
    let r = sosl(
        &sf,
        &at,
        r"FIND {\+52 55 1234 5678 OR 5512345678} IN PHONE FIELDS RETURNING Contact(Id), Lead(Id,Company)",
    );
    let recs = r.json()["searchRecords"].as_array().expect("array").clone();
    let ids: Vec<&str> = recs.iter().filter_map(|x| x["Id"].as_str()).collect();
    assert_eq!(ids, vec![ana.as_str(), lead.as_str()]);
    assert_eq!(recs[1]["Company"], "Acme");

    let by_name = sosl(
        &sf,
        &at,
        "FIND {martí} IN NAME FIELDS RETURNING Contact(Id), Lead(Id)",
    );
    assert_eq!(
        by_name.json()["searchRecords"].as_array().map(Vec::len),
        Some(1)
    );
    let by_email = sosl(
        &sf,
        &at,
        "FIND {ANA@EXAMPLE} IN EMAIL FIELDS RETURNING Contact(Id)",
    );
    assert_eq!(by_email.json()["searchRecords"][0]["Id"], ana.as_str());
    let none = sosl(&sf, &at, "FIND {zzzz} RETURNING Contact(Id)");
    assert_eq!(
        (none.status, none.json()),
        (200, json!({"searchRecords": []}))
    );

    for bad in [
        "FIND {abc",
        "FIND {a}",
        "FIND abc",
        "FIND {abc} IN PHONES FIELDS",
    ] {
        let r = sosl(&sf, &at, bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()[0]["errorCode"], "MALFORMED_SEARCH", "{bad}");
    }
    let bad_field = sosl(&sf, &at, "FIND {ana} RETURNING Contact(Id, Nope)");
    assert_eq!(bad_field.json()[0]["errorCode"], "INVALID_FIELD");
}

#[test]
fn salesforce_create_validates_and_returns_18_char_ids() {
    let (sf, at, _) = sf_signed_in();
    let auth = bearer(&at);
    let contact_url = sf_data(&sf, "sobjects/Contact/");
    let r = post_json(&contact_url, Some(&auth), &json!({"FirstName":"Ana"})).expect("post");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!([{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}])
    );
    let lead = post_json(
        &sf_data(&sf, "sobjects/Lead/"),
        Some(&auth),
        &json!({"LastName":"Gómez"}),
    )
    .expect("post");
    assert_eq!(lead.json()[0]["fields"], json!(["Company"]));
    let bad_email = post_json(
        &contact_url,
        Some(&auth),
        &json!({"LastName":"X","Email":"not-an-email"}),
    )
    .expect("post");
    assert_eq!(bad_email.json()[0]["errorCode"], "INVALID_EMAIL_ADDRESS");
    let unknown = post_json(
        &contact_url,
        Some(&auth),
        &json!({"LastName":"X","Nope__c":"1"}),
    )
    .expect("post");
    assert_eq!(unknown.json()[0]["errorCode"], "INVALID_FIELD");

    let ok = post_json(&contact_url, Some(&auth), &json!({"FirstName":"Ana","LastName":"Ruiz","Email":"ana@ruiz.mx","Phone":"+52 55 0000 1111"}))
        .expect("post");
    assert_eq!(ok.status, 201, "{}", ok.body);
    let v = ok.json();
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v, json!({"id": id, "success": true, "errors": []}));
    assert!(id.starts_with("003") && id.len() == 18);

    let dup = post_json(
        &contact_url,
        Some(&auth),
        &json!({"LastName":"Otra","Email":"ANA@ruiz.mx"}),
    )
    .expect("post");
    assert_eq!(dup.status, 400);
    assert_eq!(dup.json()[0]["errorCode"], "DUPLICATES_DETECTED");
    assert_eq!(
        dup.json()[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]["Id"],
        id.as_str()
    );

    let task = json!({"Subject":"Call Inbound +525500001111","WhoId": id,"Status":"Completed","Priority":"Normal",
        "ActivityDate":"2024-06-10","TaskSubtype":"Call","CallType":"Inbound","CallDurationInSeconds":125,
        "CallObject":"enlace-key-1","CallDisposition":"Answered","Description":"Notas"});
    let t = post_json(&sf_data(&sf, "sobjects/Task/"), Some(&auth), &task).expect("post");
    assert_eq!(t.status, 201, "{}", t.body);
    let task_id = t.json()["id"].as_str().expect("id").to_string();
    assert!(task_id.starts_with("00T"));
    let bad_type = post_json(
        &sf_data(&sf, "sobjects/Task/"),
        Some(&auth),
        &json!({"CallType":"Sideways"}),
    )
    .expect("post");
    assert_eq!(
        bad_type.json()[0]["errorCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    let bad_who = post_json(
        &sf_data(&sf, "sobjects/Task/"),
        Some(&auth),
        &json!({"WhoId":"003000000000000AAA"}),
    )
    .expect("post");
    assert_eq!(
        bad_who.json()[0]["errorCode"],
        "INVALID_CROSS_REFERENCE_KEY"
    );

    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["CallObject"], "enlace-key-1");
    assert_eq!(tasks[0]["IsClosed"], true);

    // Read back and the SOQL existence check the crm uses.
    let back = ok_get(
        &sf_data(&sf, &format!("sobjects/Contact/{id}")),
        Some(&auth),
    );
    assert_eq!(
        (back.status, back.json()["Name"].clone()),
        (200, json!("Ana Ruiz"))
    );
    assert_eq!(
        ok_get(
            &sf_data(&sf, "sobjects/Contact/003000000000000AAA"),
            Some(&auth)
        )
        .status,
        404
    );
    let q = format!(
        "{}?q={}",
        sf_data(&sf, "query"),
        enc("SELECT Id FROM Task WHERE CallObject = 'enlace-key-1' LIMIT 1")
    );
    let found = ok_get(&q, Some(&auth)).json();
    assert_eq!(found["totalSize"], 1);
    assert_eq!(found["done"], true);
    assert_eq!(found["records"][0]["Id"], task_id.as_str());
    assert_eq!(found["records"][0]["attributes"]["type"], "Task");
    let q = format!(
        "{}?q={}",
        sf_data(&sf, "query"),
        enc("SELECT Id FROM Task WHERE CallObject = 'other'")
    );
    assert_eq!(ok_get(&q, Some(&auth)).json()["totalSize"], 0);
    let q = format!(
        "{}?q={}",
        sf_data(&sf, "query"),
        enc("SELECT Id FROM Task WHERE")
    );
    assert_eq!(
        ok_get(&q, Some(&auth)).json()[0]["errorCode"],
        "MALFORMED_QUERY"
    );
}

#[test]
fn salesforce_takes_a_chat_task_with_or_without_whoid_and_refuses_wrong_fields() {
    let (sf, at, _) = sf_signed_in();
    let auth = bearer(&at);
    let id = sf.insert_record(ContactKind::Contact, json!({"LastName":"Mora"}));
    let post =
        |body: Value| post_json(&sf_data(&sf, "sobjects/Task/"), Some(&auth), &body).expect("post");
    let chat = |extra: Value| {
        let mut t = json!({"Subject":"WhatsApp +50688881234","Status":"Completed",
            "Priority":"Normal","ActivityDate":"2024-06-10","TaskSubtype":"Task",
            "Description":"[10/06/2024 06:13] Cliente: Hola\n\n[enlace:k1]"});
        if let (Some(obj), Value::Object(extra)) = (t.as_object_mut(), extra) {
            obj.extend(extra);
        }
        t
    };
    let on_contact = post(chat(json!({"WhoId": id})));
    assert_eq!(on_contact.status, 201, "{}", on_contact.body);
    let unattached = post(chat(json!({})));
    assert_eq!(unattached.status, 201, "{}", unattached.body);
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["WhoId"], json!(id));
    assert_eq!(tasks[1]["IsClosed"], true);
    let code = |r: Reply| r.json()[0]["errorCode"].clone();
    assert_eq!(
        code(post(chat(json!({"TaskSubtype":"WhatsApp"})))),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(
        code(post(chat(json!({"Description": "x".repeat(32_001)})))),
        "STRING_TOO_LONG"
    );
    assert_eq!(
        code(post(chat(json!({"ActivityDate":"10/06/2024"})))),
        "JSON_PARSER_ERROR"
    );
    assert_eq!(
        code(post(chat(json!({"WhoId":"00T000000000000AAA"})))),
        "FIELD_INTEGRITY_EXCEPTION"
    );
    assert_eq!(sf.records("Task").len(), 2, "nothing refused was stored");
}

#[test]
fn salesforce_search_lag_hides_new_records_from_sosl_only() {
    let (sf, at, _) = sf_signed_in();
    sf.set_search_lag(1);
    let id = sf.insert_record(
        ContactKind::Contact,
        json!({"LastName":"Nueva","Phone":"5511112222"}),
    );
    let q = "FIND {5511112222} IN PHONE FIELDS RETURNING Contact(Id)";
    assert_eq!(sosl(&sf, &at, q).json()["searchRecords"], json!([]));
    let soql = format!(
        "{}?q={}",
        sf_data(&sf, "query"),
        enc(&format!("SELECT Id FROM Contact WHERE Id = '{id}'"))
    );
    assert_eq!(ok_get(&soql, Some(&bearer(&at))).json()["totalSize"], 1);
    assert_eq!(
        sosl(&sf, &at, q).json()["searchRecords"][0]["Id"],
        id.as_str()
    );
}

#[test]
fn salesforce_faults() {
    let (sf, at, _) = sf_signed_in();
    let auth = bearer(&at);
    let url = sf_data(&sf, "sobjects/Contact/");

    // Committed, then no reply.
    sf.inject(Fault::DropReplyAfterCommit);
    // A read passes by the write fault.
    assert_eq!(ok_get(&sf_data(&sf, "limits"), Some(&auth)).status, 200);
    let lost = post_json(&url, Some(&auth), &json!({"LastName":"Perdido"}));
    assert!(lost.is_err(), "no reply expected");
    assert_eq!(sf.records("Contact").len(), 1);

    sf.inject(Fault::DropConnection);
    assert!(post_json(&url, Some(&auth), &json!({"LastName":"Nunca"})).is_err());
    assert_eq!(sf.records("Contact").len(), 1);

    sf.inject(Fault::ServerErrors(2));
    for _ in 0..2 {
        let r = post_json(&url, Some(&auth), &json!({"LastName":"Cinco"})).expect("reply");
        assert_eq!(r.status, 503);
    }
    assert_eq!(sf.records("Contact").len(), 1);
    assert_eq!(
        post_json(&url, Some(&auth), &json!({"LastName":"Cinco"}))
            .expect("reply")
            .status,
        201
    );

    sf.inject(Fault::HtmlErrorPage);
    let html = ok_get(&sf_data(&sf, "limits"), Some(&auth));
    assert_eq!(html.status, 502);
    assert!(html
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));

    sf.inject(Fault::Truncated);
    let cut = post_json(&url, Some(&auth), &json!({"LastName":"Cortado"})).expect("reply");
    assert_eq!(cut.status, 201);
    assert!(
        serde_json::from_str::<Value>(&cut.body).is_err(),
        "{}",
        cut.body
    );
    assert_eq!(
        sf.records("Contact").len(),
        3,
        "a truncated reply still commits"
    );

    sf.inject(Fault::RedirectTo("http://example.invalid/elsewhere".into()));
    let moved = ok_get(&sf_data(&sf, "limits"), Some(&auth));
    assert_eq!(
        (moved.status, moved.header("location")),
        (302, Some("http://example.invalid/elsewhere"))
    );

    sf.inject(Fault::SlowReply(Duration::from_millis(50)));
    assert_eq!(ok_get(&sf_data(&sf, "limits"), Some(&auth)).status, 200);
}

#[test]
fn salesforce_records_every_request() {
    let (sf, at, _) = sf_signed_in();
    let r = post_json(
        &sf_data(&sf, "sobjects/Lead/"),
        Some(&bearer(&at)),
        &json!({"LastName":"L","Company":"C"}),
    )
    .expect("post");
    assert_eq!(r.status, 201);
    let reqs = sf.requests();
    let token = reqs
        .iter()
        .find(|r| r.path == "/services/oauth2/token")
        .expect("token call recorded");
    assert_eq!(token.form_param("code_verifier").as_deref(), Some(VERIFIER));
    let auth = reqs
        .iter()
        .find(|r| r.path == "/services/oauth2/authorize")
        .expect("authorize recorded");
    assert_eq!(
        auth.query_param("code_challenge_method").as_deref(),
        Some("S256")
    );
    let last = reqs.last().expect("some");
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/services/data/v61.0/sobjects/Lead/");
    assert_eq!(last.header("authorization"), Some(bearer(&at).as_str()));
    assert_eq!(
        last.json_body(),
        Some(json!({"LastName":"L","Company":"C"}))
    );
}

// ----------------------------------------------------------------------------------------------
// Zoho

const Z_REDIRECT: &str = "http://localhost:8765/callback";

fn z_authorize(z: &ZohoDouble, state: &str) -> Reply {
    let url = format!(
        "{}/oauth/v2/auth?scope={}&client_id={}&response_type=code&access_type=offline&prompt=consent&redirect_uri={}&state={}",
        z.accounts_url(),
        enc("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL"),
        enc(z.client_id()),
        enc(Z_REDIRECT),
        enc(state)
    );
    ok_get(&url, None)
}

fn z_code(z: &ZohoDouble) -> String {
    let r = z_authorize(z, "zs");
    assert_eq!(r.status, 302, "{}", r.body);
    let q = query_of(r.header("location").expect("Location"));
    param(&q, "code").expect("code")
}

fn z_exchange(z: &ZohoDouble, code: &str, secret: &str, redirect: &str) -> Reply {
    post_form(
        &format!("{}/oauth/v2/token", z.accounts_url()),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", z.client_id()),
            ("client_secret", secret),
            ("redirect_uri", redirect),
            ("code", code),
        ],
    )
}

fn z_signed_in() -> (ZohoDouble, String, String) {
    let z = ZohoDouble::start().expect("start");
    z.register_redirect_uri(Z_REDIRECT);
    let code = z_code(&z);
    let r = z_exchange(&z, &code, z.client_secret(), Z_REDIRECT);
    assert_eq!(r.status, 200);
    let v = r.json();
    (
        z,
        v["access_token"].as_str().expect("at").into(),
        v["refresh_token"].as_str().expect("rt").into(),
    )
}

fn zauth(t: &str) -> String {
    format!("Zoho-oauthtoken {t}")
}

fn z_api(z: &ZohoDouble, rest: &str) -> String {
    format!("{}/crm/v7/{rest}", z.api_domain())
}

#[test]
fn zoho_authorize_redirect_carries_location_and_accounts_server() {
    let z = ZohoDouble::start().expect("start");
    z.register_redirect_uri(Z_REDIRECT);
    z.set_location("eu");
    let r = z_authorize(&z, "xyz");
    let loc = r.header("location").expect("Location").to_string();
    assert!(
        loc.starts_with(&format!("{Z_REDIRECT}?state=xyz&code=1000.")),
        "{loc}"
    );
    let q = query_of(&loc);
    assert_eq!(param(&q, "location").as_deref(), Some("eu"));
    assert_eq!(param(&q, "accounts-server"), Some(z.accounts_url()));

    z.deny_next_authorization();
    let denied = z_authorize(&z, "d");
    assert_eq!(
        denied.header("location"),
        Some(format!("{Z_REDIRECT}?state=d&error=access_denied").as_str())
    );

    let other = ok_get(
        &format!(
            "{}/oauth/v2/auth?scope=a&client_id={}&response_type=code&redirect_uri={}",
            z.accounts_url(),
            enc(z.client_id()),
            enc("http://localhost:9/x")
        ),
        None,
    );
    assert_eq!(other.status, 400);
    assert!(other
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
}

#[test]
fn zoho_token_endpoint_replies_b3_and_errors_in_a_200() {
    let z = ZohoDouble::start().expect("start");
    z.register_redirect_uri(Z_REDIRECT);
    let secret = z.client_secret().to_string();
    let code = z_code(&z);
    let r = z_exchange(&z, &code, &secret, Z_REDIRECT);
    let v = r.json();
    assert_eq!(v["api_domain"], z.api_domain());
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["access_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("1000.")));
    assert!(v["refresh_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("1000.")));
    assert_eq!(z.refresh_tokens_issued(), 1);

    let reused = z_exchange(&z, &code, &secret, Z_REDIRECT);
    assert_eq!(
        (reused.status, reused.json()),
        (200, json!({"error":"invalid_code"}))
    );
    let code = z_code(&z);
    assert_eq!(
        z_exchange(&z, &code, "wrong", Z_REDIRECT).json(),
        json!({"error":"invalid_client_secret"})
    );
    let code = z_code(&z);
    assert_eq!(
        z_exchange(&z, &code, &secret, "http://localhost:1/x").json(),
        json!({"error":"invalid_redirect_uri"})
    );
    let code = z_code(&z);
    z.expire_authorization_codes();
    assert_eq!(
        z_exchange(&z, &code, &secret, Z_REDIRECT).json(),
        json!({"error":"invalid_code"})
    );
}

#[test]
fn zoho_refresh_and_revoke() {
    let (z, at, rt) = z_signed_in();
    let url = format!("{}/oauth/v2/token", z.accounts_url());
    let secret = z.client_secret().to_string();
    let r = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", z.client_id()),
            ("client_secret", &secret),
        ],
    );
    let v = r.json();
    assert!(v.get("refresh_token").is_none());
    assert_eq!(v["api_domain"], z.api_domain());
    let at2 = v["access_token"].as_str().expect("at").to_string();
    assert_ne!(at, at2);
    assert_eq!(ok_get(&z_api(&z, "org"), Some(&zauth(&at2))).status, 200);

    let revoke = finish(
        agent()
            .post(format!(
                "{}/oauth/v2/token/revoke?token={}",
                z.accounts_url(),
                enc(&rt)
            ))
            .body("")
            .send(),
    )
    .expect("revoke");
    assert_eq!(
        (revoke.status, revoke.json()),
        (200, json!({"status":"success"}))
    );
    assert_eq!(z.revoked_tokens(), vec![rt.clone()]);
    let after = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", z.client_id()),
            ("client_secret", &secret),
        ],
    );
    assert_eq!(
        (after.status, after.json()["error"].clone()),
        (200, json!("invalid_code"))
    );
    assert_eq!(ok_get(&z_api(&z, "org"), Some(&zauth(&at2))).status, 401);
}

#[test]
fn zoho_api_auth_and_rate_limit() {
    let (z, at, _) = z_signed_in();
    let none = ok_get(&z_api(&z, "org"), None);
    assert_eq!(none.status, 401);
    let bearer_scheme = ok_get(&z_api(&z, "org"), Some(&bearer(&at)));
    assert_eq!(bearer_scheme.status, 401);
    let bad = ok_get(&z_api(&z, "org"), Some("Zoho-oauthtoken nope"));
    assert_eq!(
        (bad.status, bad.json()),
        (
            401,
            json!({"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"})
        )
    );

    let org = ok_get(&z_api(&z, "org"), Some(&zauth(&at))).json();
    assert_eq!(org["org"][0]["zgid"], z.org_id());
    assert_eq!(
        ok_get(&z_api(&z, "users?type=CurrentUser"), Some(&zauth(&at))).json()["users"][0]["email"],
        "agente@enlace-demo.example"
    );

    z.set_too_many_requests(true);
    let limited = ok_get(&z_api(&z, "org"), Some(&zauth(&at)));
    assert_eq!(
        (limited.status, limited.json()["code"].clone()),
        (429, json!("TOO_MANY_REQUESTS"))
    );
    z.set_too_many_requests(false);

    z.expire_access_tokens();
    assert_eq!(
        ok_get(&z_api(&z, "org"), Some(&zauth(&at))).json()["code"],
        "INVALID_TOKEN"
    );
}

#[test]
fn zoho_search_by_phone_email_word_and_criteria() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let id = z.insert_record("Contacts", json!({"First_Name":"Lucía","Last_Name":"Fernández","Email":"lucia@example.com","Phone":"+54 11 4555-0103","Title":"Burns,B"}));
    let r = ok_get(
        &z_api(&z, "Contacts/search?phone=541145550103"),
        Some(&auth),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["data"][0]["id"], id.as_str());
    assert_eq!(v["data"][0]["Full_Name"], "Lucía Fernández");
    assert_eq!(
        v["info"],
        json!({"per_page":200,"count":1,"page":1,"more_records":false})
    );

    let none = ok_get(&z_api(&z, "Contacts/search?phone=5555555555"), Some(&auth));
    assert_eq!((none.status, none.body.as_str()), (204, ""));
    assert_eq!(
        ok_get(&z_api(&z, "Leads/search?phone=541145550103"), Some(&auth)).status,
        204
    );
    assert_eq!(
        ok_get(
            &z_api(&z, "Contacts/search?email=LUCIA@example.com"),
            Some(&auth)
        )
        .status,
        200
    );
    assert_eq!(
        ok_get(&z_api(&z, "Contacts/search?word=fern"), Some(&auth)).status,
        200
    );

    let short = ok_get(&z_api(&z, "Contacts/search?word=a"), Some(&auth));
    assert_eq!(
        (short.status, short.json()["code"].clone()),
        (400, json!("INVALID_DATA"))
    );

    let criteria = format!(
        "Contacts/search?criteria={}",
        enc(r"((Last_Name:equals:Fern)and(Title:equals:Burns\,B))")
    );
    assert_eq!(
        ok_get(&z_api(&z, &criteria), Some(&auth)).json()["data"][0]["id"],
        id.as_str()
    );
    let criteria = format!(
        "Contacts/search?criteria={}",
        enc("(Phone:starts_with:5411)")
    );
    assert_eq!(ok_get(&z_api(&z, &criteria), Some(&auth)).status, 200);
    let bad = format!(
        "Contacts/search?criteria={}",
        enc("((Last_Name:equals:Fern)")
    );
    assert_eq!(
        ok_get(&z_api(&z, &bad), Some(&auth)).json()["code"],
        "INVALID_QUERY"
    );
    let unknown = format!("Contacts/search?criteria={}", enc("(Nope:equals:x)"));
    assert_eq!(
        ok_get(&z_api(&z, &unknown), Some(&auth)).json()["code"],
        "INVALID_QUERY"
    );
    assert_eq!(
        ok_get(&z_api(&z, "Widgets/search?word=ab"), Some(&auth)).json()["code"],
        "INVALID_MODULE"
    );

    // Index lag: a new record is missing from the next search, COQL sees it.
    z.set_search_lag(1);
    let new = z.insert_record(
        "Contacts",
        json!({"Last_Name":"Nuevo","Phone":"5512341234"}),
    );
    assert_eq!(
        ok_get(&z_api(&z, "Contacts/search?phone=5512341234"), Some(&auth)).status,
        204
    );
    let coql = post_json(
        &z_api(&z, "coql"),
        Some(&auth),
        &json!({"select_query":"select id from Contacts where Phone = '5512341234' limit 1"}),
    )
    .expect("coql");
    assert_eq!(coql.json()["data"][0]["id"], new.as_str());
    assert_eq!(
        ok_get(&z_api(&z, "Contacts/search?phone=5512341234"), Some(&auth)).json()["data"][0]["id"],
        new.as_str()
    );
}

#[test]
fn zoho_insert_contacts_and_leads() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let r = post_json(&z_api(&z, "Contacts"), Some(&auth), &json!({"data":[{"Last_Name":"Doe","First_Name":"Jane","Email":"jane@example.com"}],"trigger":["workflow"]})).expect("post");
    assert_eq!(r.status, 201, "{}", r.body);
    let d = &r.json()["data"][0];
    assert_eq!(
        (d["code"].clone(), d["status"].clone(), d["message"].clone()),
        (json!("SUCCESS"), json!("success"), json!("record added"))
    );
    let id = d["details"]["id"].as_str().expect("id").to_string();
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert!(d["details"]["Created_Time"]
        .as_str()
        .is_some_and(|t| t.len() == 25));
    assert_eq!(d["details"]["$approval_state"], "approved");
    assert!(d["details"]["Created_By"]["id"].is_string());

    let missing = post_json(
        &z_api(&z, "Contacts"),
        Some(&auth),
        &json!({"data":[{"First_Name":"X"}]}),
    )
    .expect("post");
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json(),
        json!({"data":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Last_Name","json_path":"$.data[0].Last_Name"},"message":"required field not found","status":"error"}]})
    );
    let mixed = post_json(
        &z_api(&z, "Contacts"),
        Some(&auth),
        &json!({"data":[{"Last_Name":"Ok"},{"First_Name":"NoLast"}]}),
    )
    .expect("post");
    assert_eq!(mixed.status, 207);
    assert_eq!(
        mixed.json()["data"][1]["details"]["json_path"],
        "$.data[1].Last_Name"
    );

    let dup = post_json(
        &z_api(&z, "Contacts"),
        Some(&auth),
        &json!({"data":[{"Last_Name":"Otro","Email":"JANE@example.com"}]}),
    )
    .expect("post");
    let e = &dup.json()["data"][0];
    assert_eq!(
        (
            dup.status,
            e["code"].clone(),
            e["details"]["duplicate_record"]["id"].clone()
        ),
        (400, json!("DUPLICATE_DATA"), json!(id))
    );

    let lead = post_json(
        &z_api(&z, "Leads"),
        Some(&auth),
        &json!({"data":[{"Last_Name":"Gómez"}]}),
    )
    .expect("post");
    assert_eq!(lead.json()["data"][0]["details"]["api_name"], "Company");

    let form = finish(
        agent()
            .post(z_api(&z, "Contacts"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("Last_Name=X")
            .send(),
    )
    .expect("post");
    assert_eq!(
        (form.status, form.json()),
        (
            400,
            json!({"code":"INVALID_DATA","details":{},"message":"JSON is not well formed","status":"error"})
        )
    );
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"Last_Name": format!("N{i}")}))
        .collect();
    let too_many =
        post_json(&z_api(&z, "Contacts"), Some(&auth), &json!({"data": many})).expect("post");
    assert_eq!(
        (too_many.status, too_many.json()["code"].clone()),
        (400, json!("LIMIT_EXCEEDED"))
    );
    assert_eq!(z.records("Contacts").len(), 2);
}

#[test]
fn zoho_calls_validation_and_coql() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let contact = z.insert_record("Contacts", json!({"Last_Name":"Silva"}));
    let lead = z.insert_record("Leads", json!({"Last_Name":"Gómez","Company":"Textiles"}));
    let call = |extra: Value| {
        let mut c = json!({"Subject":"Inbound call from +5255","Call_Type":"Inbound","Call_Start_Time":"2024-06-10T14:05:00+02:00","Call_Duration":"02:05","Description":"Notas"});
        if let (Some(obj), Value::Object(extra)) = (c.as_object_mut(), extra) {
            obj.extend(extra);
        }
        post_json(&z_api(&z, "Calls"), Some(&auth), &json!({"data":[c]})).expect("post")
    };
    let ok = call(json!({"Who_Id":{"id": contact}}));
    assert_eq!(ok.status, 201, "{}", ok.body);
    let on_lead = call(json!({"$se_module":"Leads","What_Id":{"id": lead}}));
    assert_eq!(on_lead.status, 201, "{}", on_lead.body);
    let stored = z.records("Calls");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["Call_Duration_in_seconds"], 125);

    let api_name = |r: Reply| {
        (
            r.status,
            r.json()["data"][0]["code"].clone(),
            r.json()["data"][0]["details"]["api_name"].clone(),
        )
    };
    assert_eq!(
        api_name(call(json!({"Who_Id":{"id": lead}}))),
        (400, json!("INVALID_DATA"), json!("Who_Id"))
    );
    assert_eq!(
        api_name(call(
            json!({"Call_Start_Time":"2024-06-10T14:05:00.000+02:00"})
        )),
        (400, json!("INVALID_DATA"), json!("Call_Start_Time"))
    );
    assert_eq!(
        api_name(call(json!({"Call_Duration":"125"}))),
        (400, json!("INVALID_DATA"), json!("Call_Duration"))
    );
    assert_eq!(
        api_name(call(json!({"Call_Type":"Sideways"}))),
        (400, json!("INVALID_DATA"), json!("Call_Type"))
    );
    assert_eq!(
        api_name(call(json!({"Subject": null}))),
        (400, json!("MANDATORY_NOT_FOUND"), json!("Subject"))
    );
    assert_eq!(
        api_name(call(json!({"What_Id":{"id": lead}}))),
        (400, json!("MANDATORY_NOT_FOUND"), json!("$se_module"))
    );

    let q = |sql: &str| {
        post_json(
            &z_api(&z, "coql"),
            Some(&auth),
            &json!({"select_query": sql}),
        )
        .expect("coql")
    };
    // The same instant written with another offset still matches.
    let found = q("select id from Calls where Subject = 'Inbound call from +5255' and Call_Start_Time = '2024-06-10T12:05:00+00:00' limit 1");
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(
        found.json()["info"],
        json!({"count":1,"more_records":false})
    );
    assert!(found.json()["data"][0]["id"].is_string());
    let none = q("select id from Calls where Subject = 'nope' limit 1");
    assert_eq!((none.status, none.body.as_str()), (204, ""));
    assert_eq!(q("select from Calls").json()["code"], "SYNTAX_ERROR");
    assert_eq!(
        q("select Nope from Calls where Subject = 'x'").json()["code"],
        "INVALID_QUERY"
    );
}

#[test]
fn zoho_notes_need_a_parent_and_content_and_list_oldest_first() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let contact = z.insert_record("Contacts", json!({"Last_Name":"Silva"}));
    let lead = z.insert_record("Leads", json!({"Last_Name":"Gómez","Company":"Textiles"}));
    let note =
        |n: Value| post_json(&z_api(&z, "Notes"), Some(&auth), &json!({"data":[n]})).expect("post");
    let parent = |module: &str, id: &str| json!({"module":{"api_name": module}, "id": id});
    let ok = note(
        json!({"Parent_Id": parent("Contacts", &contact), "Note_Title":"WhatsApp", "Note_Content":"primera"}),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.json()["data"][0]["message"], "record added");
    let second = note(json!({"Parent_Id": parent("Contacts", &contact), "Note_Content":"segunda"}));
    assert_eq!(second.status, 201, "{}", second.body);
    let on_lead = post_json(
        &z_api(&z, &format!("Leads/{lead}/Notes")),
        Some(&auth),
        &json!({"data":[{"Note_Content":"del lead"}]}),
    )
    .expect("post");
    assert_eq!(on_lead.status, 201, "{}", on_lead.body);
    let stored = z.records("Notes");
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[2]["Parent_Id"]["module"]["api_name"], "Leads");
    assert_eq!(stored[2]["Parent_Id"]["id"], json!(lead));

    let api_name = |r: Reply| {
        (
            r.status,
            r.json()["data"][0]["code"].clone(),
            r.json()["data"][0]["details"]["api_name"].clone(),
        )
    };
    assert_eq!(
        api_name(note(json!({"Parent_Id": parent("Contacts", &contact)}))),
        (400, json!("MANDATORY_NOT_FOUND"), json!("Note_Content"))
    );
    assert_eq!(
        api_name(note(json!({"Note_Content":"huérfana"}))),
        (400, json!("MANDATORY_NOT_FOUND"), json!("Parent_Id"))
    );
    // The v2 shape is refused; so is a parent that does not exist, and a content too long.
    assert_eq!(
        api_name(note(
            json!({"Parent_Id": contact, "se_module": "Contacts", "Note_Content":"x"})
        )),
        (400, json!("INVALID_DATA"), json!("se_module"))
    );
    assert_eq!(
        api_name(note(json!({"Parent_Id": contact, "Note_Content":"x"}))),
        (400, json!("INVALID_DATA"), json!("Parent_Id"))
    );
    let gone = note(json!({"Parent_Id": parent("Leads", &contact), "Note_Content":"x"}));
    assert_eq!(
        gone.json()["data"][0]["message"],
        "the related id given seems to be invalid"
    );
    assert_eq!(
        api_name(note(
            json!({"Parent_Id": parent("Contacts", &contact), "Note_Content": "x".repeat(32_001)})
        )),
        (400, json!("INVALID_DATA"), json!("Note_Content"))
    );
    assert_eq!(z.records("Notes").len(), 3, "nothing refused was stored");

    // A record's notes, oldest first; `fields` is mandatory; none is 204.
    let list = ok_get(
        &z_api(
            &z,
            &format!("Contacts/{contact}/Notes?fields=Note_Content&per_page=1"),
        ),
        Some(&auth),
    );
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["data"][0]["Note_Content"], "primera");
    assert_eq!(list.json()["info"]["more_records"], true);
    let page2 = ok_get(
        &z_api(
            &z,
            &format!("Contacts/{contact}/Notes?fields=Note_Content&per_page=1&page=2"),
        ),
        Some(&auth),
    );
    assert_eq!(page2.json()["data"][0]["Note_Content"], "segunda");
    assert_eq!(page2.json()["info"]["more_records"], false);
    let no_fields = ok_get(
        &z_api(&z, &format!("Contacts/{contact}/Notes")),
        Some(&auth),
    );
    assert_eq!(no_fields.json()["code"], "REQUIRED_PARAM_MISSING");
    let other = z.insert_record("Contacts", json!({"Last_Name":"Sin notas"}));
    let none = ok_get(
        &z_api(&z, &format!("Contacts/{other}/Notes?fields=Note_Content")),
        Some(&auth),
    );
    assert_eq!((none.status, none.body.as_str()), (204, ""));
}

#[test]
fn zoho_faults() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let url = z_api(&z, "Contacts");
    z.inject(Fault::ServerErrors(1));
    let r = post_json(&url, Some(&auth), &json!({"data":[{"Last_Name":"A"}]})).expect("reply");
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (500, json!("INTERNAL_ERROR"))
    );
    assert!(z.records("Contacts").is_empty());

    z.inject(Fault::DropReplyAfterCommit);
    assert!(post_json(&url, Some(&auth), &json!({"data":[{"Last_Name":"B"}]})).is_err());
    assert_eq!(z.records("Contacts").len(), 1);

    z.inject(Fault::Truncated);
    let cut = ok_get(&z_api(&z, "Contacts/search?word=ab"), Some(&auth));
    assert_eq!(cut.status, 200);
    assert!(serde_json::from_str::<Value>(&cut.body).is_err());

    z.inject(Fault::HtmlErrorPage);
    assert_eq!(ok_get(&z_api(&z, "org"), Some(&auth)).status, 502);
    z.inject(Fault::DropConnection);
    assert!(get(&z_api(&z, "org"), Some(&auth)).is_err());
    assert_eq!(ok_get(&z_api(&z, "org"), Some(&auth)).status, 200);
}

// ----------------------------------------------------------------------------------------------
// Hostile input

fn raw(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn hostile_input_gets_an_error_and_the_server_keeps_serving() {
    let sf = SalesforceDouble::start().expect("start");
    let addr = sf.base_url().trim_start_matches("http://").to_string();
    assert!(raw(&addr, b"\x00\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(raw(&addr, b"GET /x HTTP/9.9\r\n\r\n").starts_with("HTTP/1.1 400"));
    let huge = raw(
        &addr,
        b"POST /services/oauth2/token HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n",
    );
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    let long_header = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(64 * 1024));
    assert!(raw(&addr, long_header.as_bytes()).starts_with("HTTP/1.1 431"));
    let many_headers: String = (0..500).map(|i| format!("X-{i}: y\r\n")).collect();
    assert!(raw(
        &addr,
        format!("GET / HTTP/1.1\r\n{many_headers}\r\n").as_bytes()
    )
    .starts_with("HTTP/1.1 431"));
    let bad_chunk = raw(
        &addr,
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert!(bad_chunk.starts_with("HTTP/1.1 400"));
    // A client that connects and leaves.
    drop(TcpStream::connect(&addr).expect("connect"));
    // Bad JSON bodies are errors, not panics.
    let (sf2, at, _) = sf_signed_in();
    let r = finish(
        agent()
            .post(sf_data(&sf2, "sobjects/Contact/"))
            .header("Authorization", bearer(&at))
            .header("Content-Type", "application/json")
            .body("{\"LastName\":")
            .send(),
    )
    .expect("reply");
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].clone()),
        (400, json!("JSON_PARSER_ERROR"))
    );
    // Still serving.
    assert_eq!(
        ok_get(&format!("{}/services/data/", sf.base_url()), None).status,
        200
    );
    let z = ZohoDouble::start().expect("start");
    let zaddr = z.api_domain().trim_start_matches("http://").to_string();
    assert!(raw(&zaddr, b"GET\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert_eq!(ok_get(&z_api(&z, "org"), None).status, 401);
}

#[test]
fn parallel_clients_are_served() {
    let sf = SalesforceDouble::start().expect("start");
    let url = format!("{}/services/data/", sf.base_url());
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || get(&url, None).map(|r| r.status).unwrap_or(0))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), 200);
    }
    assert_eq!(sf.requests().len(), 16);
}

#[test]
fn dropping_a_double_closes_its_port() {
    let sf = SalesforceDouble::start().expect("start");
    let addr = sf.base_url().trim_start_matches("http://").to_string();
    drop(sf);
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn demo_mode_accepts_any_loopback_redirect() {
    let sf = SalesforceDouble::start().expect("start");
    let z = ZohoDouble::start().expect("start");
    sf.set_demo_mode(true);
    z.set_demo_mode(true);
    enlace_sandbox::demo::seed_salesforce(&sf);
    enlace_sandbox::demo::seed_zoho(&z);
    assert_eq!(sf.records("Contact").len(), 4);
    assert_eq!(z.records("Leads").len(), 3);
    let r = ok_get(
        &sf_authorize_url(&sf, "http://127.0.0.1:4242/cb", "s", None),
        None,
    );
    assert_eq!(r.status, 302);
    let r = ok_get(
        &sf_authorize_url(&sf, "https://evil.example/cb", "s", None),
        None,
    );
    assert_eq!(r.status, 400);
}

/// Kills the child it holds (by its own PID, through `Child::kill`) even if the test fails.
struct ChildGuard(std::process::Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_prints_its_urls_and_serves_demo_data() {
    use std::io::BufRead;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_enlace-sandbox"))
        .args(["--salesforce-port", "0", "--zoho-port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("line");
    let v: Value = serde_json::from_str(&line).expect("one JSON line");
    let sf = v["salesforce"].as_str().expect("salesforce").to_string();
    let zoho_accounts = v["zoho_accounts"].as_str().expect("zoho_accounts");
    assert!(zoho_accounts.starts_with(v["zoho_api"].as_str().expect("zoho_api")));
    // Demo sign-in: any loopback redirect, straight to the 302.
    let r = ok_get(
        &format!(
            "{sf}/services/oauth2/authorize?response_type=code&client_id=PlatformCLI&redirect_uri={}&state=s",
            enc("http://localhost:1717/OauthRedirect")
        ),
        None,
    );
    assert_eq!(r.status, 302);
    let code = param(&query_of(r.header("location").expect("Location")), "code").expect("code");
    let t = post_form(
        &format!("{sf}/services/oauth2/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "PlatformCLI"),
            ("redirect_uri", "http://localhost:1717/OauthRedirect"),
        ],
    );
    let at = t.json()["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let found = ok_get(
        &format!(
            "{sf}/services/data/v61.0/search/?q={}",
            enc("FIND {525512345678} IN PHONE FIELDS RETURNING Contact(Id,Name)")
        ),
        Some(&bearer(&at)),
    );
    assert_eq!(found.json()["searchRecords"][0]["Name"], "Ana Martínez");
}

// ---- missing endpoints vs deleted records (issue 9, item 16) ------------------------------

#[test]
fn salesforce_a_missing_endpoint_and_a_deleted_record_answer_differently() {
    let (sf, at, _) = sf_signed_in();
    let auth = bearer(&at);
    let not_found =
        json!([{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]);
    // An API version the org does not serve, and an object it does not have.
    let old = format!("{}/services/data/v20.0/sobjects/Task/", sf.base_url());
    let r = post_json(&old, Some(&auth), &json!({"Subject":"x"})).expect("post");
    assert_eq!((r.status, r.json()), (404, not_found.clone()));
    let r = post_json(&sf_data(&sf, "sobjects/Widget/"), Some(&auth), &json!({})).expect("post");
    assert_eq!((r.status, r.json()), (404, not_found.clone()));
    // An object disabled for the org: the same 404 on its URLs.
    sf.disable_object("Task");
    let r = post_json(
        &sf_data(&sf, "sobjects/Task/"),
        Some(&auth),
        &json!({"Subject":"x"}),
    )
    .expect("post");
    assert_eq!((r.status, r.json()), (404, not_found.clone()));

    // A deleted record: its URL says ENTITY_IS_DELETED, and so does a write pointing at it.
    let contact = sf.insert_record(ContactKind::Contact, json!({"LastName":"Mora"}));
    assert!(sf.delete_record(&contact));
    assert!(!sf.delete_record(&contact));
    let deleted =
        json!([{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]);
    let r = ok_get(
        &sf_data(&sf, &format!("sobjects/Contact/{contact}")),
        Some(&auth),
    );
    assert_eq!((r.status, r.json()), (404, deleted.clone()));
    assert!(sf.records("Contact").is_empty());
    let lead = sf.insert_record(
        ContactKind::Lead,
        json!({"LastName":"Soto","Company":"Acme"}),
    );
    // A record id that never existed is a plain 404 NOT_FOUND on its URL.
    let never = lead.replace(&lead[lead.len() - 6..], "ZZZZZZ");
    let r = ok_get(
        &sf_data(&sf, &format!("sobjects/Lead/{never}")),
        Some(&auth),
    );
    assert_eq!((r.status, r.json()), (404, not_found));
}

#[test]
fn salesforce_a_task_on_a_deleted_record_is_entity_is_deleted() {
    let (sf, at, _) = sf_signed_in();
    let auth = bearer(&at);
    let contact = sf.insert_record(ContactKind::Contact, json!({"LastName":"Mora"}));
    sf.delete_record(&contact);
    let r = post_json(
        &sf_data(&sf, "sobjects/Task/"),
        Some(&auth),
        &json!({"Subject":"Llamada","WhoId": contact,"Status":"Completed","TaskSubtype":"Call"}),
    )
    .expect("post");
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!([{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}])
        )
    );
    assert!(sf.records("Task").is_empty());
}

#[test]
fn zoho_a_disabled_module_and_a_deleted_record() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let contact = z.insert_record("Contacts", json!({"Last_Name":"Silva"}));
    assert!(z.delete_record("Contacts", &contact));
    let r = post_json(
        &z_api(&z, "Calls"),
        Some(&auth),
        &json!({"data":[{"Subject":"x","Call_Type":"Inbound","Call_Start_Time":"2024-06-10T14:05:00+02:00","Call_Duration":"02:05","Who_Id":{"id": contact}}]}),
    )
    .expect("post");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["data"][0]["code"], "INVALID_DATA");
    assert_eq!(r.json()["data"][0]["details"]["api_name"], "Who_Id");
    assert_eq!(
        r.json()["data"][0]["message"],
        "the related id given seems to be invalid"
    );
    z.disable_module("Calls");
    let r = post_json(&z_api(&z, "Calls"), Some(&auth), &json!({"data":[{}]})).expect("post");
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("INVALID_MODULE"))
    );
    let r = ok_get(&format!("{}/crm/v1/Calls", z.api_domain()), Some(&auth));
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("INVALID_URL_PATTERN"))
    );
}

// ---- looking for a write's key (issue 9, item 17) -----------------------------------------

#[test]
fn salesforce_soql_reads_recent_records_by_creator_and_refuses_a_description_filter() {
    let (sf, at, _) = sf_signed_in();
    let auth = bearer(&at);
    let created = |last: &str| {
        let r = post_json(
            &sf_data(&sf, "sobjects/Contact/"),
            Some(&auth),
            &json!({"LastName": last, "Description": format!("[enlace:{last}]")}),
        )
        .expect("post");
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().expect("id").to_owned()
    };
    let first = created("Uno");
    let second = created("Dos");
    let user = ok_get(
        &sf_data(&sf, &format!("sobjects/Contact/{first}")),
        Some(&auth),
    )
    .json()["CreatedById"]
        .as_str()
        .expect("CreatedById")
        .to_owned();
    assert!(user.starts_with("005"));
    let query = |soql: &str| {
        ok_get(
            &sf_data(&sf, &format!("query/?q={}", enc(soql))),
            Some(&auth),
        )
    };
    let r = query(&format!(
        "SELECT Id, Description FROM Contact WHERE CreatedById = '{user}' AND CreatedDate >= 2020-01-01T00:00:00Z ORDER BY CreatedDate DESC LIMIT 200"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<String> = r.json()["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|x| x["Id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, [second, first.clone()]);
    assert_eq!(r.json()["records"][1]["Description"], "[enlace:Uno]");
    // Nothing created in the future; nobody else's records.
    let r = query("SELECT Id FROM Contact WHERE CreatedDate >= 2999-01-01T00:00:00Z");
    assert_eq!(r.json()["totalSize"], 0);
    let r = query("SELECT Id FROM Contact WHERE CreatedById = '0058d000000XXXXAAA'");
    assert_eq!(r.json()["totalSize"], 0);
    // A long text area cannot be filtered on, as in Salesforce.
    let r = query("SELECT Id FROM Contact WHERE Description = '[enlace:Uno]'");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!([{"message":"field 'Description' can not be filtered in a query call","errorCode":"INVALID_FIELD"}])
    );
    // CreatedById is the API's to set.
    let r = post_json(
        &sf_data(&sf, "sobjects/Contact/"),
        Some(&auth),
        &json!({"LastName": "X", "CreatedById": user}),
    )
    .expect("post");
    assert_eq!(r.json()[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
}

#[test]
fn zoho_coql_reads_recent_records_in_order_and_refuses_a_description_criterion() {
    let (z, at, _) = z_signed_in();
    let auth = zauth(&at);
    let contact = z.insert_record("Contacts", json!({"Last_Name":"Silva"}));
    for n in 1..=2 {
        let r = post_json(
            &z_api(&z, "Calls"),
            Some(&auth),
            &json!({"data":[{"Subject":"x","Call_Type":"Inbound","Call_Start_Time":"2024-06-10T14:05:00+02:00",
                    "Call_Duration":"02:05","Who_Id":{"id": contact},"Description": format!("[enlace:k{n}]")}]}),
        )
        .expect("post");
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let coql = |q: &str| {
        post_json(&z_api(&z, "coql"), Some(&auth), &json!({"select_query": q})).expect("post")
    };
    let r = coql(&format!(
        "select id, Description from Calls where (Who_Id = '{contact}' and Created_Time >= '2020-01-01T00:00:00+00:00') order by Created_Time desc limit 200"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let descriptions: Vec<Value> = r.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|row| row["Description"].clone())
        .collect();
    assert_eq!(descriptions, [json!("[enlace:k2]"), json!("[enlace:k1]")]);
    let r = coql("select id from Calls where Created_Time >= '2999-01-01T00:00:00+00:00'");
    assert_eq!(r.status, 204);
    let r = coql("select id from Calls where Description = '[enlace:k1]'");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "INVALID_QUERY");
}
