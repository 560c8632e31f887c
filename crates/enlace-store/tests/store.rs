//! Integration tests of the store against real SQLite files in temporary folders.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a failure is a test failure

use std::sync::Arc;

use enlace_core::{
    CallDirection, CallId, CallRecord, CallStatus, Clock, EndReason, ErrorCode, LogState, Timestamp,
};
use enlace_store::{
    CallLog, CallRecordLink, Contact, ContactKind, Country, Crm, OutboxCounts, OutboxEntry,
    OutboxError, OutboxKind, OutboxState, RecordRef, Store, StoreError, MIGRATIONS,
};
use tempfile::TempDir;

fn cr() -> Country {
    Country::parse("CR").unwrap()
}

/// The tests' contacts are Costa Rican unless they say otherwise.
trait UpsertCr {
    fn upsert_contact_cr(&self, contact: &Contact) -> enlace_store::Result<i64>;
}

impl UpsertCr for Store {
    fn upsert_contact_cr(&self, contact: &Contact) -> enlace_store::Result<i64> {
        self.upsert_contact(contact, cr())
    }
}

struct FixedClock(i64);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0)
    }
}

fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("enlace.sqlite3")).unwrap();
    (dir, store.with_clock(Arc::new(FixedClock(9_999))))
}

fn ended_call(id: &str, started: i64) -> CallRecord {
    CallRecord {
        id: CallId(id.into()),
        line_call_id: format!("line-{id}"),
        direction: CallDirection::Incoming,
        peer_number: "+50688881234".into(),
        peer_display_name: Some("Ana".into()),
        local_number: Some("1001".into()),
        status: CallStatus::Ended,
        started_at: Timestamp(started),
        answered_at: Some(Timestamp(started + 2_000)),
        ended_at: Some(Timestamp(started + 62_000)),
        end_reason: Some(EndReason::Completed),
        log_state: LogState::Pending,
    }
}

fn ids(calls: &[CallRecord]) -> Vec<&str> {
    calls.iter().map(|c| c.id.as_str()).collect()
}

fn raw(dir: &TempDir) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.path().join("enlace.sqlite3")).unwrap()
}

// ---------------------------------------------------------------- migrations and pragmas

#[test]
fn empty_database_migrates_to_the_newest_version_in_wal_mode() {
    let (dir, store) = temp_store();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    assert_eq!(store.journal_mode().unwrap(), "wal");
    // Foreign keys are enforced: a dial attempt cannot point at a call that does not exist.
    let attempt = store
        .record_dial_attempt("88881234", Some("+50688881234"), None, "ui", Timestamp(1))
        .unwrap();
    let err = store
        .link_dial_attempt(attempt, &CallId("missing".into()))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage, "{err}");
    // Opening again is a no-op.
    drop(store);
    let again = Store::open(&dir.path().join("enlace.sqlite3")).unwrap();
    assert_eq!(again.schema_version().unwrap(), MIGRATIONS.len() as u32);
}

#[test]
fn version_1_database_is_migrated_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    {
        let old = Store::open_with_migrations(&path, &MIGRATIONS[..1]).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        old.upsert_call(&ended_call("old-call", 1_000)).unwrap();
        old.record_dial_attempt(
            "+506 8888 1234",
            Some("+50688881234"),
            None,
            "link",
            Timestamp(5),
        )
        .unwrap();
        old.set_setting("app", r#"{"language":"es"}"#).unwrap();
    }
    let index_exists = |conn: &rusqlite::Connection| -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'dial_attempts_call'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    };
    assert!(!index_exists(&raw(&dir)), "version 1 has no call index yet");

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    assert!(index_exists(&raw(&dir)));
    assert_eq!(
        store.call(&CallId("old-call".into())).unwrap(),
        Some(ended_call("old-call", 1_000))
    );
    let attempts = store.recent_dial_attempts(10).unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].input, "+506 8888 1234");
    assert_eq!(attempts[0].source, "link");
    assert_eq!(
        store.setting("app").unwrap().as_deref(),
        Some(r#"{"language":"es"}"#)
    );
    // The new index serves the lookup it was made for.
    let plan: String = raw(&dir)
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM dial_attempts WHERE call_id = 'x'",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("dial_attempts_call"), "{plan}");
}

#[test]
fn newer_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE future (x TEXT); INSERT INTO future VALUES ('keep me');
             PRAGMA user_version = 99;",
        )
        .unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, known } if known == MIGRATIONS.len() as u32),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains("99"), "{err}");

    let conn = raw(&dir);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "delete",
        "the journal mode must not have been switched to WAL"
    );
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'calls'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "no migration may run on a newer database");
    let kept: String = conn
        .query_row("SELECT x FROM future", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "keep me");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

#[test]
fn a_failing_migration_rolls_back_entirely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    let broken = [
        MIGRATIONS[0],
        enlace_store::Migration {
            name: "0002_broken",
            sql: "CREATE TABLE extra (x TEXT); CREATE TABLE calls (x TEXT);",
        },
    ];
    let err = Store::open_with_migrations(&path, &broken).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Migration {
                version: 2,
                name: "0002_broken",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::Storage);
    let conn = raw(&dir);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1, "the first migration stays applied");
    let extra: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'extra'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(extra, 0, "the failed migration left nothing behind");
    // The real migrations still apply afterwards.
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as u32
    );
}

#[test]
fn an_older_app_refuses_a_database_migrated_by_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    Store::open(&path).unwrap();
    let err = Store::open_with_migrations(&path, &MIGRATIONS[..1]).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, known: 1 } if found == MIGRATIONS.len() as u32),
        "{err:?}"
    );
}

#[test]
fn open_creates_missing_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("enlace.sqlite3");
    Store::open(&path).unwrap();
    assert!(path.exists());
}

#[test]
fn garbage_file_is_a_storage_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    std::fs::write(
        &path,
        b"this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage, "{err}");
}

// ---------------------------------------------------------------- calls

#[test]
fn pending_lists_ended_pending_calls_newest_first_and_history_lists_all() {
    let (_dir, store) = temp_store();
    store.upsert_call(&ended_call("a", 1_000)).unwrap();
    store.upsert_call(&ended_call("c", 3_000)).unwrap();
    store.upsert_call(&ended_call("b", 2_000)).unwrap();
    let ringing = CallRecord {
        status: CallStatus::Ringing,
        answered_at: None,
        ended_at: None,
        end_reason: None,
        ..ended_call("d", 4_000)
    };
    store.upsert_call(&ringing).unwrap();

    assert_eq!(ids(&store.pending_calls().unwrap()), ["c", "b", "a"]);
    store
        .set_call_log_state(&CallId("b".into()), LogState::Ignored)
        .unwrap();
    assert_eq!(ids(&store.pending_calls().unwrap()), ["c", "a"]);
    store
        .set_call_log_state(&CallId("c".into()), LogState::Logged)
        .unwrap();
    assert_eq!(ids(&store.pending_calls().unwrap()), ["a"]);

    assert_eq!(ids(&store.call_history(100).unwrap()), ["d", "c", "b", "a"]);
    assert_eq!(ids(&store.call_history(2).unwrap()), ["d", "c"]);
    let b = store.call(&CallId("b".into())).unwrap().unwrap();
    assert_eq!(b.log_state, LogState::Ignored);
    assert_eq!(b.duration_seconds(), 60);
}

#[test]
fn call_round_trips_every_field() {
    let (_dir, store) = temp_store();
    let failed = CallRecord {
        direction: CallDirection::Outgoing,
        peer_display_name: None,
        local_number: None,
        answered_at: None,
        end_reason: Some(EndReason::Failed("408 Request Timeout".into())),
        ..ended_call("f", 7_000)
    };
    store.upsert_call(&failed).unwrap();
    assert_eq!(store.call(&failed.id).unwrap(), Some(failed));
    assert_eq!(store.call(&CallId("nope".into())).unwrap(), None);
}

#[test]
fn upsert_never_brings_an_ignored_or_logged_call_back_to_pending() {
    let (_dir, store) = temp_store();
    let ringing = CallRecord {
        status: CallStatus::Answered,
        ended_at: None,
        end_reason: None,
        ..ended_call("x", 1_000)
    };
    store.upsert_call(&ringing).unwrap();
    store
        .set_call_log_state(&ringing.id, LogState::Ignored)
        .unwrap();
    // The line's hang-up event arrives afterwards, carrying the default `pending`.
    store.upsert_call(&ended_call("x", 1_000)).unwrap();
    let stored = store.call(&ringing.id).unwrap().unwrap();
    assert_eq!(
        stored.status,
        CallStatus::Ended,
        "the event itself is applied"
    );
    assert_eq!(stored.log_state, LogState::Ignored);
    assert!(store.pending_calls().unwrap().is_empty());

    store.upsert_call(&ended_call("y", 2_000)).unwrap();
    store
        .set_call_log_state(&CallId("y".into()), LogState::Logged)
        .unwrap();
    store.upsert_call(&ended_call("y", 2_000)).unwrap();
    assert_eq!(
        store.call(&CallId("y".into())).unwrap().unwrap().log_state,
        LogState::Logged
    );

    // An explicit non-pending state in the record does apply.
    let logged = CallRecord {
        log_state: LogState::Logged,
        ..ended_call("z", 3_000)
    };
    store.upsert_call(&ended_call("z", 3_000)).unwrap();
    store.upsert_call(&logged).unwrap();
    assert_eq!(
        store.call(&logged.id).unwrap().unwrap().log_state,
        LogState::Logged
    );
}

#[test]
fn set_log_state_of_a_missing_call_is_not_found() {
    let (_dir, store) = temp_store();
    let err = store
        .set_call_log_state(&CallId("ghost".into()), LogState::Ignored)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "call", id } if id == "ghost"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[test]
fn calls_left_open_by_a_crash_end_as_line_lost() {
    let (_dir, store) = temp_store();
    let ringing = CallRecord {
        status: CallStatus::Ringing,
        answered_at: None,
        ended_at: None,
        end_reason: None,
        ..ended_call("ringing", 1_000)
    };
    let answered = CallRecord {
        status: CallStatus::Answered,
        ended_at: None,
        end_reason: None,
        ..ended_call("answered", 5_000)
    };
    store.upsert_call(&ringing).unwrap();
    store.upsert_call(&answered).unwrap();
    store.upsert_call(&ended_call("done", 500)).unwrap();

    assert_eq!(
        store.mark_open_calls_lost(Timestamp(86_400_000)).unwrap(),
        2
    );
    for id in ["ringing", "answered"] {
        let call = store.call(&CallId(id.into())).unwrap().unwrap();
        assert_eq!(call.status, CallStatus::Ended, "{id}");
        assert_eq!(call.end_reason, Some(EndReason::LineLost), "{id}");
        assert_eq!(call.log_state, LogState::Pending, "{id}");
        assert!(call.ended_at.is_some(), "{id}");
        assert_eq!(call.duration_seconds(), 0, "no invented talk time for {id}");
    }
    let done = store.call(&CallId("done".into())).unwrap().unwrap();
    assert_eq!(
        done.end_reason,
        Some(EndReason::Completed),
        "ended calls are untouched"
    );
    assert_eq!(
        ids(&store.pending_calls().unwrap()),
        ["answered", "ringing", "done"]
    );
    assert_eq!(
        store.mark_open_calls_lost(Timestamp(86_400_001)).unwrap(),
        0
    );
}

#[test]
fn hostile_strings_are_stored_verbatim() {
    let (_dir, store) = temp_store();
    let long = "9".repeat(100_000);
    let nasty = "'); DROP TABLE calls; -- \"\u{0}\u{202e}ñ";
    let call = CallRecord {
        peer_number: long.clone(),
        peer_display_name: Some(nasty.into()),
        ..ended_call(nasty, 1)
    };
    store.upsert_call(&call).unwrap();
    assert_eq!(store.call(&call.id).unwrap(), Some(call));

    let id = store
        .record_dial_attempt(
            &format!("tel:{long}"),
            None,
            Some("too_long"),
            "link",
            Timestamp(2),
        )
        .unwrap();
    let attempts = store.recent_dial_attempts(1).unwrap();
    assert_eq!(attempts[0].id, id);
    assert_eq!(attempts[0].input.chars().count(), 256);
    assert!(attempts[0].input.starts_with("tel:999"));
    assert_eq!(attempts[0].error_code.as_deref(), Some("too_long"));
    // Multi-byte characters are cut on a character boundary.
    store
        .record_dial_attempt(&"ñ".repeat(300), None, None, "ui", Timestamp(3))
        .unwrap();
    assert_eq!(
        store.recent_dial_attempts(1).unwrap()[0].input,
        "ñ".repeat(256)
    );
}

// ---------------------------------------------------------------- dial attempts

#[test]
fn dial_attempts_record_source_and_link_to_their_call() {
    let (_dir, store) = temp_store();
    let err = store
        .record_dial_attempt("1", None, None, "carrier-pigeon", Timestamp(1))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");

    let first = store
        .record_dial_attempt("88881234", Some("+50688881234"), None, "ui", Timestamp(10))
        .unwrap();
    let second = store
        .record_dial_attempt(
            "abc",
            None,
            Some("not_a_phone_number"),
            "cli",
            Timestamp(20),
        )
        .unwrap();
    store.upsert_call(&ended_call("c1", 11)).unwrap();
    store
        .link_dial_attempt(first, &CallId("c1".into()))
        .unwrap();

    let attempts = store.recent_dial_attempts(10).unwrap();
    assert_eq!(
        attempts.iter().map(|a| a.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(attempts[1].call_id, Some(CallId("c1".into())));
    assert_eq!(attempts[1].target.as_deref(), Some("+50688881234"));
    assert_eq!(attempts[0].call_id, None);

    let missing = enlace_store::DialAttemptId(9_999);
    let err = store
        .link_dial_attempt(missing, &CallId("c1".into()))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

// ---------------------------------------------------------------- settings

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct LineSettings {
    ctrl_address: String,
    notifications: bool,
}

#[test]
fn settings_round_trip_and_corrupt_values_are_typed_errors() {
    let (dir, store) = temp_store();
    assert_eq!(store.setting("line").unwrap(), None);
    assert_eq!(store.setting_json::<LineSettings>("line").unwrap(), None);

    let value = LineSettings {
        ctrl_address: "127.0.0.1:4444".into(),
        notifications: true,
    };
    store.set_setting_json("line", &value).unwrap();
    assert_eq!(
        store.setting_json::<LineSettings>("line").unwrap(),
        Some(value)
    );
    store
        .set_setting("line", r#"{"ctrl_address":"x","notifications":false}"#)
        .unwrap();
    assert!(
        !store
            .setting_json::<LineSettings>("line")
            .unwrap()
            .unwrap()
            .notifications
    );

    // What we write must be JSON.
    let err = store.set_setting("line", "{not json").unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");

    // Wrong shape (valid JSON): typed error, raw text still available to the caller.
    store.set_setting("line", r#"{"ctrl_address":42}"#).unwrap();
    let err = store.setting_json::<LineSettings>("line").unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptSetting { key, .. } if key == "line"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidSetting);
    assert_eq!(
        store.setting("line").unwrap().as_deref(),
        Some(r#"{"ctrl_address":42}"#)
    );

    // Invalid JSON written behind our back (a hand edit, a damaged file).
    raw(&dir)
        .execute(
            "UPDATE settings SET value = '{\"ctrl_address\": tru' WHERE key = 'line'",
            [],
        )
        .unwrap();
    let err = store.setting_json::<LineSettings>("line").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSetting, "{err}");

    assert!(store.delete_setting("line").unwrap());
    assert!(!store.delete_setting("line").unwrap());
    assert_eq!(store.setting("line").unwrap(), None);
}

// ---------------------------------------------------------------- contacts

fn contact(crm_id: &str, first: &str, last: &str, email: &str, phone: Option<&str>) -> Contact {
    Contact {
        crm: Crm::Salesforce,
        crm_id: crm_id.into(),
        kind: ContactKind::Contact,
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        email: Some(email.into()),
        phone: phone.map(Into::into),
        mobile: None,
        company: Some("Acme".into()),
    }
}

fn crm_ids(found: &[enlace_store::StoredContact]) -> Vec<&str> {
    found.iter().map(|c| c.contact.crm_id.as_str()).collect()
}

fn seeded_contacts() -> (TempDir, Store) {
    let (dir, store) = temp_store();
    store
        .upsert_contact_cr(&contact(
            "003A",
            "Ana",
            "García",
            "ana.garcia@example.com",
            Some("+506 8888-1234"),
        ))
        .unwrap();
    store
        .upsert_contact_cr(&contact(
            "003B",
            "Andrés",
            "Mora",
            "amora@corp.example",
            Some("2222 3333"),
        ))
        .unwrap();
    let mut lead = contact("00QC", "Luis", "Anaya", "luis@example.org", None);
    lead.kind = ContactKind::Lead;
    lead.crm = Crm::Zoho;
    lead.mobile = Some("(506) 7000-0001".into());
    store.upsert_contact_cr(&lead).unwrap();
    (dir, store)
}

#[test]
fn contacts_are_found_by_name_prefix_email_and_phone_digits() {
    let (_dir, store) = seeded_contacts();
    let all = store.search_contacts("an", 10).unwrap();
    let mut by_prefix = crm_ids(&all);
    by_prefix.sort_unstable();
    assert_eq!(by_prefix, ["003A", "003B", "00QC"], "first and last names");
    assert_eq!(
        crm_ids(&store.search_contacts("ana gar", 10).unwrap()),
        ["003A"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("garcia", 10).unwrap()),
        ["003A"],
        "accents ignored"
    );
    assert_eq!(
        crm_ids(&store.search_contacts("ANDRES", 10).unwrap()),
        ["003B"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("amora@corp", 10).unwrap()),
        ["003B"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("luis@example.org", 10).unwrap()),
        ["00QC"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("50688", 10).unwrap()),
        ["003A"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("+506 7000-0", 10).unwrap()),
        ["00QC"]
    );
    assert!(store.search_contacts("zzz", 10).unwrap().is_empty());
    assert_eq!(
        store.search_contacts("an", 1).unwrap().len(),
        1,
        "limit applies"
    );

    let found = &store.search_contacts("luis", 10).unwrap()[0];
    assert_eq!(found.contact.crm, Crm::Zoho);
    assert_eq!(found.contact.kind, ContactKind::Lead);
    assert_eq!(found.updated_at, Timestamp(9_999));
}

#[test]
fn search_keeps_the_index_in_step_with_updates_and_deletes() {
    let (_dir, store) = seeded_contacts();
    let id = store
        .upsert_contact_cr(&contact(
            "003A",
            "Anabel",
            "Quesada",
            "aq@example.com",
            None,
        ))
        .unwrap();
    let again = store
        .upsert_contact_cr(&contact(
            "003A",
            "Anabel",
            "Quesada",
            "aq@example.com",
            None,
        ))
        .unwrap();
    assert_eq!(id, again, "same (crm, crm_id) is the same row");
    assert!(
        store.search_contacts("garcia", 10).unwrap().is_empty(),
        "old name left the index"
    );
    assert_eq!(
        crm_ids(&store.search_contacts("quesada", 10).unwrap()),
        ["003A"]
    );
    assert!(
        store.search_contacts("50688", 10).unwrap().is_empty(),
        "old phone left the index"
    );

    assert!(store.delete_contact(Crm::Salesforce, "003A").unwrap());
    assert!(!store.delete_contact(Crm::Salesforce, "003A").unwrap());
    assert!(store.search_contacts("quesada", 10).unwrap().is_empty());
    // Same CRM id in the other CRM is another record.
    store
        .upsert_contact_cr(&Contact {
            crm: Crm::Zoho,
            ..contact("003B", "Z", "Z", "z@z", None)
        })
        .unwrap();
    assert_eq!(store.search_contacts("amora", 10).unwrap().len(), 1);
}

#[test]
fn search_accepts_any_text_including_fts_syntax() {
    let (_dir, store) = seeded_contacts();
    let long = "a".repeat(10_000);
    let many_words = "an ".repeat(1_000);
    let hostile = [
        "\"",
        "\"\"",
        "*",
        "(",
        ")",
        "-",
        "-ana",
        "ana*",
        "\"ana",
        "ana\"",
        "(ana",
        "ana OR luis",
        "ana AND",
        "NOT",
        "NEAR(ana luis)",
        "first_name:ana",
        "{first_name}: ana",
        "^ana",
        "ana +",
        "'; DROP TABLE contacts; --",
        "\u{0}",
        "\u{202e}",
        "💥",
        "ana\tgar",
        "   ",
        "",
        "%",
        "_",
        long.as_str(),
        many_words.as_str(),
    ];
    for q in hostile {
        if let Err(e) = store.search_contacts(q, 10) {
            panic!("query {q:?} failed: {e}");
        }
    }
    // Operators are taken as words: "ana OR zzz" means both words, not either.
    assert!(store.search_contacts("ana OR zzz", 10).unwrap().is_empty());
    assert!(store.search_contacts("NOT ana", 10).unwrap().is_empty());
    assert_eq!(
        crm_ids(&store.search_contacts("\"ana\" gar*", 10).unwrap()),
        ["003A"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("(ana) -garc", 10).unwrap()),
        ["003A"]
    );
}

fn caller_ids(store: &Store, number: &str) -> Vec<String> {
    store
        .contacts_for_caller(number, cr())
        .unwrap()
        .into_iter()
        .map(|c| c.contact.crm_id)
        .collect()
}

#[test]
fn callers_are_identified_by_any_equivalent_form_of_their_number() {
    let (_dir, store) = seeded_contacts();
    store
        .upsert_contacts(
            &[
                contact("003D", "Dora", "Exacta", "d@x", Some("50688881234")),
                contact("003E", "Ext", "Short", "e@x", Some("1001")),
                contact("003F", "Nat", "Ional", "n@x", Some("8888 1234")),
                // Another country's number (Panama, 8 digits too).
                contact("003G", "Otro", "País", "o@x", Some("+507 6888-1234")),
                contact("003H", "Int", "Prefix", "i@x", Some("00 506 8888 1234")),
            ],
            cr(),
        )
        .unwrap();

    // International, national, with the international call prefix: the same four records.
    for number in [
        "+50688881234",
        "8888-1234",
        "tel:+506-8888-1234",
        "0050688881234",
    ] {
        assert_eq!(
            caller_ids(&store, number),
            ["003A", "003D", "003F", "003H"],
            "{number}"
        );
    }
    assert_eq!(caller_ids(&store, "+507 6888 1234"), ["003G"]);
    // A range the numbering data does not know yet (8237-xxxx) matches by its ending.
    store
        .upsert_contacts(
            &[
                contact("003J", "Nuevo", "Rango", "j@x", Some("+506 8237-5850")),
                contact("003K", "Otro", "Final", "k@x", Some("+506 8137-5850")),
            ],
            cr(),
        )
        .unwrap();
    assert_eq!(caller_ids(&store, "8237 5850"), ["003J"]);
    assert_eq!(caller_ids(&store, "+50682375850"), ["003J"]);
    // A number that only shares the national digits with another country's record.
    assert!(caller_ids(&store, "+52 55 8888 1234").is_empty());
    assert_eq!(
        caller_ids(&store, "1001"),
        ["003E"],
        "extensions match exactly"
    );
    assert!(caller_ids(&store, "001").is_empty(), "no partial matches");
    assert_eq!(caller_ids(&store, "(506) 7000-0001"), ["00QC"], "mobile");
    assert_eq!(caller_ids(&store, "70000001"), ["00QC"]);
    assert!(caller_ids(&store, "no digits %_").is_empty());
    assert!(caller_ids(&store, "").is_empty());
    assert!(caller_ids(&store, &"9".repeat(5_000)).is_empty());
    assert!(caller_ids(&store, "'; DROP TABLE contact_phones; --").is_empty());

    // Changing or removing a number, or the record, updates the index.
    store
        .upsert_contact_cr(&contact("003F", "Nat", "Ional", "n@x", Some("2222-0000")))
        .unwrap();
    assert_eq!(caller_ids(&store, "+50688881234"), ["003A", "003D", "003H"]);
    assert_eq!(caller_ids(&store, "+506 2222 0000"), ["003F"]);
    assert!(store.delete_contact(Crm::Salesforce, "003A").unwrap());
    assert_eq!(caller_ids(&store, "+50688881234"), ["003D", "003H"]);
}

#[test]
fn exact_international_matches_come_before_digit_only_matches() {
    let (_dir, store) = temp_store();
    // Not a valid number as stored (text around it), but its digits are the caller's.
    store
        .upsert_contact_cr(&contact(
            "003W",
            "Weak",
            "Match",
            "w@x",
            Some("8888-1234 casa"),
        ))
        .unwrap();
    store
        .upsert_contact_cr(&contact(
            "003S",
            "Strong",
            "Match",
            "s@x",
            Some("+506 8888 1234"),
        ))
        .unwrap();
    assert_eq!(caller_ids(&store, "+50688881234"), ["003S", "003W"]);
}

#[test]
fn phone_forms_follow_the_agents_country() {
    let (_dir, store) = temp_store();
    // "020 7946 0018" is a London number for a British agent (trunk prefix 0), nothing valid
    // for a Costa Rican one.
    let gb = Country::parse("GB").unwrap();
    store
        .upsert_contact_cr(&contact("003M", "Lon", "Don", "l@x", Some("020 7946 0018")))
        .unwrap();
    // Read as Costa Rican, only its digits as stored are indexed: the caller is still found
    // by the number's ending, but its international form is not searchable.
    assert_eq!(
        store
            .contacts_for_caller("+44 20 7946 0018", gb)
            .unwrap()
            .len(),
        1
    );
    assert!(store.search_contacts("4420", 10).unwrap().is_empty());
    assert_eq!(store.rebuild_contact_phones(gb).unwrap(), 1);
    let found = store.contacts_for_caller("+44 20 7946 0018", gb).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].contact.crm_id, "003M");
    // The full-text index follows too: the E.164 digits are searchable now.
    assert_eq!(
        crm_ids(&store.search_contacts("4420", 10).unwrap()),
        ["003M"]
    );
    // Writes with the new country keep it that way.
    store
        .upsert_contact(
            &contact("003M", "Lon", "Don", "l@x", Some("020 7946 0019")),
            gb,
        )
        .unwrap();
    assert_eq!(
        store
            .contacts_for_caller("+44 20 7946 0019", gb)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn search_puts_name_matches_first_then_orders_by_name() {
    let (_dir, store) = seeded_contacts();
    store
        .upsert_contact_cr(&contact("003Z", "Zoe", "Zed", "ana.z@example.com", None))
        .unwrap();
    store
        .upsert_contact_cr(&contact("003Y", "Ángela", "Zúñiga", "az@x", None))
        .unwrap();
    assert_eq!(
        crm_ids(&store.search_contacts("an", 10).unwrap()),
        ["003A", "003B", "003Y", "00QC", "003Z"],
        "Ana García, Andrés Mora, Ángela Zúñiga, Luis Anaya by name; Zoe by e-mail only"
    );
    assert_eq!(
        crm_ids(&store.search_contacts("ana", 2).unwrap()),
        ["003A", "00QC"]
    );
}

#[test]
fn search_finds_numbers_by_their_national_digits() {
    let (_dir, store) = seeded_contacts();
    assert_eq!(
        crm_ids(&store.search_contacts("8888", 10).unwrap()),
        ["003A"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("8888 12", 10).unwrap()),
        ["003A"]
    );
    assert_eq!(
        crm_ids(&store.search_contacts("2222", 10).unwrap()),
        ["003B"]
    );
    assert_eq!(store.search_contacts("ana", 0).unwrap(), []);
}

#[test]
fn a_contacts_batch_is_written_whole_or_not_at_all() {
    let (dir, store) = temp_store();
    // Make the third insert fail, as a full disk or a constraint would.
    raw(&dir)
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON contacts WHEN new.crm_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();
    let batch = [
        contact("003A", "Ana", "Uno", "a@x", Some("8888-1234")),
        contact("003B", "Bea", "Dos", "b@x", Some("8888-5678")),
        contact("boom", "Bad", "Row", "x@x", None),
    ];
    let err = store.upsert_contacts(&batch, cr()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage, "{err}");
    assert!(store.search_contacts("ana", 10).unwrap().is_empty());
    assert!(caller_ids(&store, "8888-1234").is_empty());

    let ids = store.upsert_contacts(&batch[..2], cr()).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        crm_ids(&store.search_contacts("bea", 10).unwrap()),
        ["003B"]
    );
    assert_eq!(caller_ids(&store, "+506 8888 5678"), ["003B"]);
    let stored = store.contact(Crm::Salesforce, "003B").unwrap().unwrap();
    assert_eq!(stored.id, ids[1]);
    assert_eq!(stored.contact, batch[1]);
    assert_eq!(store.contact(Crm::Zoho, "003B").unwrap(), None);
    // Writing the same batch again updates in place.
    assert_eq!(store.upsert_contacts(&batch[..2], cr()).unwrap(), ids);
}

// ---------------------------------------------------------------- CRM accounts

#[test]
fn crm_accounts_are_linked_replaced_and_unlinked() {
    let (_dir, store) = temp_store();
    assert_eq!(store.crm_account(Crm::Zoho).unwrap(), None);
    store
        .set_crm_account(Crm::Zoho, r#"{"email":"a@x"}"#, Timestamp(5))
        .unwrap();
    store
        .set_crm_account(Crm::Salesforce, r#"{"user":"u1"}"#, Timestamp(6))
        .unwrap();
    store
        .set_crm_account(Crm::Salesforce, r#"{"user":"u2"}"#, Timestamp(7))
        .unwrap();
    let sf = store.crm_account(Crm::Salesforce).unwrap().unwrap();
    assert_eq!(sf.account_json, r#"{"user":"u2"}"#);
    assert_eq!(sf.linked_at, Timestamp(7));
    let all = store.crm_accounts().unwrap();
    assert_eq!(
        all.iter().map(|a| a.crm).collect::<Vec<_>>(),
        [Crm::Salesforce, Crm::Zoho]
    );
    let err = store
        .set_crm_account(Crm::Zoho, "{not json", Timestamp(8))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    assert_eq!(
        store.crm_account(Crm::Zoho).unwrap().unwrap().account_json,
        r#"{"email":"a@x"}"#
    );
    assert!(store.delete_crm_account(Crm::Zoho).unwrap());
    assert!(!store.delete_crm_account(Crm::Zoho).unwrap());
    assert_eq!(store.crm_account(Crm::Zoho).unwrap(), None);
}

// ---------------------------------------------------------------- CRM records on calls and the outbox

fn sf_record(id: &str) -> RecordRef {
    RecordRef {
        crm: Crm::Salesforce,
        kind: ContactKind::Contact,
        id: id.into(),
    }
}

fn call_log(store: &Store, id: &str) -> CallLog {
    store.call_log(&CallId(id.into())).unwrap().unwrap()
}

fn failure(code: ErrorCode, field: Option<&str>) -> OutboxError {
    OutboxError {
        code,
        message: format!("{code} happened"),
        field: field.map(Into::into),
        existing: None,
    }
}

fn queue_log(store: &Store, call: &str, crm: Crm, key: &str, at: i64) -> OutboxEntry {
    store
        .queue_log_call(
            &CallId(call.into()),
            crm,
            key,
            &format!(r#"{{"key":"{key}"}}"#),
            "Consulta",
            "Llamó por la factura",
            Timestamp(at),
        )
        .unwrap()
}

#[test]
fn attaching_a_record_shows_on_the_call_and_survives_line_events() {
    let (_dir, store) = temp_store();
    store.upsert_call(&ended_call("c1", 1_000)).unwrap();
    assert_eq!(call_log(&store, "c1").record, None);
    store
        .attach_record(&CallId("c1".into()), &sf_record("003A"), "Ana García")
        .unwrap();
    let log = call_log(&store, "c1");
    assert_eq!(log.call, ended_call("c1", 1_000));
    assert_eq!(
        log.record,
        Some(CallRecordLink {
            crm: Crm::Salesforce,
            kind: ContactKind::Contact,
            id: Some("003A".into()),
            name: "Ana García".into(),
            pending_key: None,
        })
    );
    // A late line event rewrites the call's line fields, never its CRM fields or log state.
    queue_log(&store, "c1", Crm::Salesforce, "log-c1", 2_000);
    store.upsert_call(&ended_call("c1", 1_000)).unwrap();
    let log = call_log(&store, "c1");
    assert_eq!(log.call.log_state, LogState::Logged);
    assert_eq!(log.record.unwrap().id.as_deref(), Some("003A"));
    assert_eq!(log.subject.as_deref(), Some("Consulta"));
    assert_eq!(log.comment.as_deref(), Some("Llamó por la factura"));

    let err = store
        .attach_record(&CallId("ghost".into()), &sf_record("003A"), "x")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert_eq!(store.call_log(&CallId("ghost".into())).unwrap(), None);
}

#[test]
fn a_queued_contact_gets_its_id_on_the_call_when_delivered() {
    let (_dir, store) = temp_store();
    store.upsert_call(&ended_call("c1", 1_000)).unwrap();
    let call = CallId("c1".into());
    let entry = store
        .queue_create_contact(
            Some(&call),
            Crm::Zoho,
            ContactKind::Lead,
            "create-1",
            r#"{"last_name":"Mora"}"#,
            "Luis Mora",
            Timestamp(2_000),
        )
        .unwrap();
    assert_eq!(entry.kind, OutboxKind::CreateContact);
    assert_eq!(entry.state, OutboxState::Pending);
    assert_eq!(entry.call_id, Some(call.clone()));
    assert_eq!(entry.crm, Crm::Zoho);
    assert_eq!(entry.attempts, 0);
    assert!(!entry.uncertain);
    assert_eq!(entry.created_at, Timestamp(2_000));
    assert_eq!(entry.next_attempt_at, Timestamp(2_000));
    assert_eq!(
        call_log(&store, "c1").record,
        Some(CallRecordLink {
            crm: Crm::Zoho,
            kind: ContactKind::Lead,
            id: None,
            name: "Luis Mora".into(),
            pending_key: Some("create-1".into()),
        })
    );
    // The log is queued before the record exists; the call is logged at once.
    let log = queue_log(&store, "c1", Crm::Zoho, "log-1", 2_500);
    assert_eq!(call_log(&store, "c1").call.log_state, LogState::Logged);

    let next = store.next_outbox_entry(Timestamp(3_000)).unwrap().unwrap();
    assert_eq!(next.id, entry.id, "the creation goes first");
    store.mark_in_flight(next.id).unwrap();
    store
        .mark_delivered(next.id, "5725767000000411001", Timestamp(3_100))
        .unwrap();
    let record = call_log(&store, "c1").record.unwrap();
    assert_eq!(record.id.as_deref(), Some("5725767000000411001"));
    assert_eq!(record.pending_key, None);
    assert_eq!(record.kind, ContactKind::Lead);
    let delivered = store.outbox_entry_by_key("create-1").unwrap().unwrap();
    assert_eq!(delivered.state, OutboxState::Delivered);
    assert_eq!(delivered.result_id.as_deref(), Some("5725767000000411001"));
    assert_eq!(delivered.attempts, 1);
    assert!(!delivered.uncertain);

    assert_eq!(
        store
            .next_outbox_entry(Timestamp(3_200))
            .unwrap()
            .unwrap()
            .id,
        log.id
    );
    // Delivering the log touches no call's record.
    store.mark_in_flight(log.id).unwrap();
    store
        .mark_delivered(log.id, "00T1", Timestamp(3_300))
        .unwrap();
    assert_eq!(
        call_log(&store, "c1").record.unwrap().id.as_deref(),
        Some("5725767000000411001")
    );
    assert_eq!(store.next_outbox_entry(Timestamp(9_000)).unwrap(), None);
    assert_eq!(store.outbox_counts().unwrap(), OutboxCounts::default());

    // A contact created outside a call.
    let free = store
        .queue_create_contact(
            None,
            Crm::Salesforce,
            ContactKind::Contact,
            "create-2",
            "{}",
            "Sin Llamada",
            Timestamp(4_000),
        )
        .unwrap();
    assert_eq!(free.call_id, None);
    store
        .mark_delivered(free.id, "003X", Timestamp(4_100))
        .unwrap();
    assert_eq!(
        call_log(&store, "c1").record.unwrap().id.as_deref(),
        Some("5725767000000411001")
    );
}

#[test]
fn a_duplicate_keeps_the_matched_record_and_settles_with_it() {
    let (_dir, store) = temp_store();
    store.upsert_call(&ended_call("c1", 1_000)).unwrap();
    let call = CallId("c1".into());
    let entry = store
        .queue_create_contact(
            Some(&call),
            Crm::Salesforce,
            ContactKind::Contact,
            "create-1",
            "{}",
            "Ana Mora",
            Timestamp(2_000),
        )
        .unwrap();
    let log = queue_log(&store, "c1", Crm::Salesforce, "log-1", 2_100);
    // Settling is only for a creation that needs attention.
    let lead = RecordRef {
        crm: Crm::Salesforce,
        kind: ContactKind::Lead,
        id: "00Q5e00000XYZ12EAB".into(),
    };
    assert!(store
        .settle_with_existing_record(entry.id, &lead, Timestamp(2_200))
        .is_err());
    store.mark_in_flight(entry.id).unwrap();
    let duplicate = OutboxError {
        existing: Some(lead.clone()),
        ..failure(ErrorCode::CrmDuplicate, Some("email"))
    };
    store
        .mark_needs_attention(entry.id, &duplicate, Timestamp(2_300))
        .unwrap();
    let stored = store.outbox_entry(entry.id).unwrap().unwrap();
    assert_eq!(stored.last_error.as_ref(), Some(&duplicate));
    assert!(store
        .settle_with_existing_record(log.id, &lead, Timestamp(2_400))
        .is_err());
    let zoho = RecordRef {
        crm: Crm::Zoho,
        ..lead.clone()
    };
    assert!(store
        .settle_with_existing_record(entry.id, &zoho, Timestamp(2_400))
        .is_err());

    store
        .settle_with_existing_record(entry.id, &lead, Timestamp(2_500))
        .unwrap();
    let settled = store.outbox_entry(entry.id).unwrap().unwrap();
    assert_eq!(settled.state, OutboxState::Delivered);
    assert_eq!(settled.result_id.as_deref(), Some("00Q5e00000XYZ12EAB"));
    assert_eq!(settled.last_error, None);
    // The call now points at the existing record, of its kind, under the name it showed.
    assert_eq!(
        call_log(&store, "c1").record,
        Some(CallRecordLink {
            crm: Crm::Salesforce,
            kind: ContactKind::Lead,
            id: Some("00Q5e00000XYZ12EAB".into()),
            name: "Ana Mora".into(),
            pending_key: None,
        })
    );
    // The queue moves on to the call's log.
    assert_eq!(
        store
            .next_outbox_entry(Timestamp(3_000))
            .unwrap()
            .map(|e| e.id),
        Some(log.id)
    );
    // A retry clears the matched record with the error.
    store.mark_in_flight(log.id).unwrap();
    store
        .mark_needs_attention(log.id, &duplicate, Timestamp(3_100))
        .unwrap();
    store
        .retry_outbox_entry(log.id, None, Timestamp(3_200))
        .unwrap();
    assert_eq!(
        store.outbox_entry(log.id).unwrap().unwrap().last_error,
        None
    );
}

#[test]
fn queueing_is_atomic_with_the_calls_change() {
    let (_dir, store) = temp_store();
    let ghost = CallId("ghost".into());
    let err = store
        .queue_create_contact(
            Some(&ghost),
            Crm::Salesforce,
            ContactKind::Contact,
            "k1",
            "{}",
            "x",
            Timestamp(1),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert_eq!(store.outbox_entry_by_key("k1").unwrap(), None);

    // Logging needs a record of that CRM on the call: nothing changes otherwise.
    store.upsert_call(&ended_call("c1", 1_000)).unwrap();
    let c1 = CallId("c1".into());
    let err = store
        .queue_log_call(&c1, Crm::Salesforce, "k2", "{}", "s", "c", Timestamp(2))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    store.attach_record(&c1, &sf_record("003A"), "Ana").unwrap();
    let err = store
        .queue_log_call(&c1, Crm::Zoho, "k2", "{}", "s", "c", Timestamp(2))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    let err = store
        .queue_log_call(&ghost, Crm::Zoho, "k2", "{}", "s", "c", Timestamp(2))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    let log = call_log(&store, "c1");
    assert_eq!(log.call.log_state, LogState::Pending);
    assert_eq!((log.subject, log.comment), (None, None));
    assert!(log.writes.is_empty());

    // A key is used once; a second use changes nothing.
    let first = queue_log(&store, "c1", Crm::Salesforce, "k2", 3);
    let err = store
        .queue_create_contact(
            Some(&c1),
            Crm::Salesforce,
            ContactKind::Contact,
            "k2",
            "{}",
            "Otra",
            Timestamp(4),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    let log = call_log(&store, "c1");
    assert_eq!(log.record.unwrap().name, "Ana");
    assert_eq!(log.writes, [first]);
}

#[test]
fn each_crm_delivers_in_order_and_a_problem_blocks_only_its_crm() {
    let (_dir, store) = temp_store();
    for (id, at) in [("a", 1_000), ("b", 2_000), ("c", 3_000)] {
        store.upsert_call(&ended_call(id, at)).unwrap();
    }
    store
        .attach_record(&CallId("a".into()), &sf_record("003A"), "A")
        .unwrap();
    store
        .attach_record(&CallId("b".into()), &sf_record("003B"), "B")
        .unwrap();
    let zoho = RecordRef {
        crm: Crm::Zoho,
        kind: ContactKind::Contact,
        id: "1".into(),
    };
    store
        .attach_record(&CallId("c".into()), &zoho, "C")
        .unwrap();
    let sf1 = queue_log(&store, "a", Crm::Salesforce, "sf1", 10);
    let sf2 = queue_log(&store, "b", Crm::Salesforce, "sf2", 11);
    let z1 = queue_log(&store, "c", Crm::Zoho, "z1", 12);
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 3,
            needs_attention: 0
        }
    );
    assert_eq!(store.next_outbox_attempt_at().unwrap(), Some(Timestamp(10)));

    // Nothing is due before it was queued.
    assert_eq!(store.next_outbox_entry(Timestamp(9)).unwrap(), None);
    assert_eq!(
        store.next_outbox_entry(Timestamp(20)).unwrap().unwrap().id,
        sf1.id
    );

    // sf1 fails transiently: Salesforce waits, Zoho goes on.
    store.mark_in_flight(sf1.id).unwrap();
    store
        .mark_retry(
            sf1.id,
            &failure(ErrorCode::CrmUnavailable, None),
            Timestamp(500),
            Timestamp(21),
        )
        .unwrap();
    let next = store.next_outbox_entry(Timestamp(22)).unwrap().unwrap();
    assert_eq!(next.id, z1.id, "sf2 must not overtake sf1");
    store.mark_in_flight(z1.id).unwrap();
    store.mark_delivered(z1.id, "zz", Timestamp(23)).unwrap();
    assert_eq!(store.next_outbox_entry(Timestamp(24)).unwrap(), None);
    assert_eq!(
        store.next_outbox_attempt_at().unwrap(),
        Some(Timestamp(500))
    );

    // At its time sf1 comes back, marked uncertain, with its last error.
    let again = store.next_outbox_entry(Timestamp(500)).unwrap().unwrap();
    assert_eq!(again.id, sf1.id);
    assert!(again.uncertain);
    assert_eq!(again.attempts, 1);
    assert_eq!(again.state, OutboxState::Pending);
    assert_eq!(
        again.last_error,
        Some(failure(ErrorCode::CrmUnavailable, None))
    );

    // Now it needs the agent: Salesforce is blocked until retried.
    store.mark_in_flight(sf1.id).unwrap();
    store
        .mark_needs_attention(
            sf1.id,
            &failure(ErrorCode::CrmInvalidField, Some("email")),
            Timestamp(501),
        )
        .unwrap();
    assert_eq!(store.next_outbox_entry(Timestamp(10_000)).unwrap(), None);
    assert_eq!(store.next_outbox_attempt_at().unwrap(), None);
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 1,
            needs_attention: 1
        }
    );
    let attention = store.outbox_attention().unwrap();
    assert_eq!(attention.len(), 1);
    assert_eq!(attention[0].id, sf1.id);
    assert_eq!(
        attention[0].last_error,
        Some(failure(ErrorCode::CrmInvalidField, Some("email")))
    );
    // Llamadas keeps both Salesforce calls (logged, not delivered), not the delivered one.
    let llamadas: Vec<String> = store
        .calls_to_log()
        .unwrap()
        .into_iter()
        .map(|l| l.call.id.0)
        .collect();
    assert_eq!(llamadas, ["b", "a"]);

    // The agent fixes the payload and retries.
    store
        .retry_outbox_entry(sf1.id, Some(r#"{"fixed":true}"#), Timestamp(600))
        .unwrap();
    let retried = store.next_outbox_entry(Timestamp(600)).unwrap().unwrap();
    assert_eq!(retried.id, sf1.id);
    assert_eq!(retried.payload, r#"{"fixed":true}"#);
    assert_eq!(retried.last_error, None);
    assert_eq!(retried.attempts, 2);
    assert!(
        retried.uncertain,
        "earlier attempts may have reached the CRM"
    );
    store.mark_in_flight(sf1.id).unwrap();
    store
        .mark_delivered(sf1.id, "00T1", Timestamp(601))
        .unwrap();
    assert_eq!(
        store.next_outbox_entry(Timestamp(602)).unwrap().unwrap().id,
        sf2.id
    );
    // Retrying an entry that waits makes it due now.
    store
        .mark_retry(
            sf2.id,
            &failure(ErrorCode::CrmRateLimited, None),
            Timestamp(99_999),
            Timestamp(603),
        )
        .unwrap();
    assert_eq!(store.next_outbox_entry(Timestamp(604)).unwrap(), None);
    store
        .retry_outbox_entry(sf2.id, None, Timestamp(605))
        .unwrap();
    let sf2_now = store.next_outbox_entry(Timestamp(605)).unwrap().unwrap();
    assert_eq!(
        sf2_now.payload, sf2.payload,
        "payload kept without a new one"
    );
}

#[test]
fn an_attempt_interrupted_by_a_restart_comes_back_uncertain() {
    let (dir, store) = temp_store();
    store.upsert_call(&ended_call("a", 1_000)).unwrap();
    store
        .attach_record(&CallId("a".into()), &sf_record("003A"), "A")
        .unwrap();
    let entry = queue_log(&store, "a", Crm::Salesforce, "sf1", 10);
    store.mark_in_flight(entry.id).unwrap();
    drop(store); // the app stops before the CRM answered

    let store = Store::open(&dir.path().join("enlace.sqlite3")).unwrap();
    let found = store.next_outbox_entry(Timestamp(11)).unwrap().unwrap();
    assert_eq!(found.id, entry.id);
    assert_eq!(found.state, OutboxState::InFlight);
    assert!(found.uncertain);
    assert_eq!(found.attempts, 1);
    store.mark_in_flight(found.id).unwrap();
    assert_eq!(store.outbox_entry(found.id).unwrap().unwrap().attempts, 2);
}

#[test]
fn outbox_transitions_outside_the_life_cycle_are_refused() {
    let (dir, store) = temp_store();
    store.upsert_call(&ended_call("a", 1_000)).unwrap();
    store
        .attach_record(&CallId("a".into()), &sf_record("003A"), "A")
        .unwrap();
    let entry = queue_log(&store, "a", Crm::Salesforce, "sf1", 10);
    let err = store
        .retry_outbox_entry(entry.id + 100, None, Timestamp(1))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert_eq!(
        store.mark_in_flight(entry.id + 100).unwrap_err().code(),
        ErrorCode::NotFound
    );
    store
        .mark_delivered(entry.id, "00T", Timestamp(11))
        .unwrap();
    for err in [
        store
            .mark_delivered(entry.id, "00T-again", Timestamp(12))
            .unwrap_err(),
        store.mark_in_flight(entry.id).unwrap_err(),
        store
            .retry_outbox_entry(entry.id, Some("{}"), Timestamp(12))
            .unwrap_err(),
        store
            .mark_needs_attention(
                entry.id,
                &failure(ErrorCode::CrmDuplicate, None),
                Timestamp(12),
            )
            .unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    }
    let stored = store.outbox_entry(entry.id).unwrap().unwrap();
    assert_eq!(stored.result_id.as_deref(), Some("00T"));
    assert_eq!(stored.state, OutboxState::Delivered);

    // An error code written by a newer Enlace reads as internal, keeping its message.
    raw(&dir)
        .execute(
            "UPDATE outbox SET last_error_code = 'from_the_future', last_error_message = 'm'",
            [],
        )
        .unwrap();
    let err = store
        .outbox_entry(entry.id)
        .unwrap()
        .unwrap()
        .last_error
        .unwrap();
    assert_eq!((err.code, err.message.as_str()), (ErrorCode::Internal, "m"));
}

#[test]
fn llamadas_and_historial_carry_the_crm_columns() {
    let (_dir, store) = temp_store();
    for (id, at) in [
        ("pending", 1_000),
        ("ignored", 2_000),
        ("logged", 3_000),
        ("sent", 4_000),
    ] {
        store.upsert_call(&ended_call(id, at)).unwrap();
    }
    let ringing = CallRecord {
        status: CallStatus::Ringing,
        answered_at: None,
        ended_at: None,
        end_reason: None,
        ..ended_call("ringing", 5_000)
    };
    store.upsert_call(&ringing).unwrap();
    store
        .set_call_log_state(&CallId("ignored".into()), LogState::Ignored)
        .unwrap();
    for id in ["logged", "sent"] {
        store
            .attach_record(&CallId(id.into()), &sf_record(&format!("003{id}")), id)
            .unwrap();
        queue_log(&store, id, Crm::Salesforce, &format!("log-{id}"), 6_000);
    }
    let sent = store.outbox_entry_by_key("log-logged").unwrap().unwrap();
    store
        .mark_delivered(sent.id, "00T", Timestamp(6_001))
        .unwrap();
    // "logged" is delivered (out of the list); "sent" still waits (in it).
    let llamadas = store.calls_to_log().unwrap();
    let ids: Vec<&str> = llamadas.iter().map(|l| l.call.id.as_str()).collect();
    assert_eq!(ids, ["sent", "pending"]);
    assert_eq!(llamadas[0].writes.len(), 1);
    assert_eq!(llamadas[0].writes[0].state, OutboxState::Pending);
    assert_eq!(llamadas[0].subject.as_deref(), Some("Consulta"));
    assert_eq!(llamadas[1].record, None);
    assert!(llamadas[1].writes.is_empty());

    let history = store.call_log_history(10).unwrap();
    let ids: Vec<&str> = history.iter().map(|l| l.call.id.as_str()).collect();
    assert_eq!(ids, ["ringing", "sent", "logged", "ignored", "pending"]);
    let logged = &history[2];
    assert_eq!(
        logged.record.as_ref().unwrap().id.as_deref(),
        Some("003logged")
    );
    assert_eq!(logged.writes[0].state, OutboxState::Delivered);
    assert_eq!(store.call_log_history(2).unwrap().len(), 2);
    // The plain lists are unchanged.
    assert_eq!(ids.len(), store.call_history(10).unwrap().len());
    assert_eq!(store.pending_calls().unwrap().len(), 1);
}

#[test]
fn version_2_database_gains_the_crm_schema_and_keeps_its_calls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    {
        let old = Store::open_with_migrations(&path, &MIGRATIONS[..2]).unwrap();
        old.upsert_call(&ended_call("old", 1_000)).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    let log = call_log(&store, "old");
    assert_eq!(log.call, ended_call("old", 1_000));
    assert_eq!((log.record, log.subject, log.comment), (None, None, None));
    assert_eq!(store.calls_to_log().unwrap().len(), 1);
    // The queue head lookup uses its index.
    let plan: String = raw(&dir)
        .query_row(
            "EXPLAIN QUERY PLAN SELECT MIN(id) FROM outbox WHERE state <> 'delivered' GROUP BY crm",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("outbox_undelivered"), "{plan}");
    let plan: String = raw(&dir)
        .query_row(
            "EXPLAIN QUERY PLAN SELECT contact_id FROM contact_phones WHERE digits = '1'",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("PRIMARY KEY"), "{plan}");
    // The caller lookup (exact forms OR endings) uses both indexes, never a scan.
    let conn = raw(&dir);
    let mut stmt = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT c.id FROM contact_phones p JOIN contacts c
             ON c.id = p.contact_id WHERE p.digits IN ('1', '2') OR p.tail IN ('3', '4')",
        )
        .unwrap();
    let steps: Vec<String> = stmt
        .query_map([], |r| r.get(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let plan = steps.join(" | ");
    assert!(plan.contains("contact_phones_tail"), "{plan}");
    assert!(!plan.contains("SCAN p"), "{plan}");
}

#[test]
fn version_3_outbox_entries_read_without_a_matched_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    {
        let _old = Store::open_with_migrations(&path, &MIGRATIONS[..3]).unwrap();
    }
    raw(&dir)
        .execute_batch(
            "INSERT INTO outbox (idempotency_key, crm, kind, payload, state, attempts,
                 next_attempt_at, last_error_code, last_error_message, created_at, updated_at)
             VALUES ('k', 'zoho', 'create_contact', '{}', 'needs_attention', 1, 5,
                 'crm_duplicate', 'duplicate data', 5, 5);",
        )
        .unwrap();
    let store = Store::open(&path).unwrap();
    let entry = store.outbox_entry_by_key("k").unwrap().unwrap();
    let error = entry.last_error.unwrap();
    assert_eq!(error.code, ErrorCode::CrmDuplicate);
    assert_eq!(error.existing, None);
}

/// Issue 10: a WhatsApp customer is identified by the contact saved in the CRM, whichever form
/// of the same mobile each side holds (Mexico's `521`, Brazil's ninth digit, Argentina's `9`).
#[test]
fn whatsapp_customers_are_identified_across_mobile_number_forms() {
    use enlace_core::CustomerNumber;
    let (_dir, store) = temp_store();
    let mx = Country::parse("MX").unwrap();
    store
        .upsert_contacts(
            &[
                contact("003N", "Mexico", "Sin Uno", "m@x", Some("+52 55 1234 5678")),
                contact(
                    "003O",
                    "Brasil",
                    "Sin Nueve",
                    "b@x",
                    Some("+55 11 8765-4321"),
                ),
                contact(
                    "003P",
                    "Brasil",
                    "Con Nueve",
                    "c@x",
                    Some("+55 21 99876-5432"),
                ),
                contact(
                    "003Q",
                    "Argentina",
                    "Sin Nueve",
                    "a@x",
                    Some("+54 11 6123-4567"),
                ),
                contact("003R", "Brasil", "Fijo", "f@x", Some("+55 11 3456-7890")),
                contact("003T", "Mexico", "Otro", "o@x", Some("+52 55 1234 5679")),
            ],
            mx,
        )
        .unwrap();
    let by_wa_id = |wa_id: &str| -> Vec<String> {
        let number = CustomerNumber::from_wa_id(wa_id).unwrap();
        store
            .contacts_for_customer(&number)
            .unwrap()
            .into_iter()
            .map(|c| c.contact.crm_id)
            .collect()
    };
    assert_eq!(by_wa_id("5215512345678"), ["003N"]);
    assert_eq!(by_wa_id("525512345678"), ["003N"]);
    assert_eq!(
        by_wa_id("5511987654321"),
        ["003O"],
        "wa_id with the ninth digit"
    );
    assert_eq!(
        by_wa_id("552198765432"),
        ["003P"],
        "wa_id without the ninth digit"
    );
    assert_eq!(by_wa_id("5491161234567"), ["003Q"]);
    // A landline is not a mobile missing its 9: 11 93456-7890 is another number.
    assert!(by_wa_id("5511934567890").is_empty());
    assert_eq!(by_wa_id("551134567890"), ["003R"]);
    // Calls use the same forms: the number as the phone line reports it.
    let by_call = |number: &str| -> Vec<String> {
        store
            .contacts_for_caller(number, mx)
            .unwrap()
            .into_iter()
            .map(|c| c.contact.crm_id)
            .collect()
    };
    assert_eq!(by_call("+5215512345678"), ["003N"]);
    assert_eq!(by_call("044 55 1234 5678"), ["003N"]);
    assert_eq!(by_call("+55 11 98765-4321"), ["003O"]);
    assert_eq!(by_call("+54 9 11 6123-4567"), ["003Q"]);
}

/// A cache indexed before number keys existed holds E.164 digits (`5491161234567`) where it
/// now holds keys (`541161234567`): such rows are still the caller's number, no rebuild needed.
#[test]
fn phone_rows_indexed_before_number_keys_still_identify_the_caller() {
    use enlace_core::CustomerNumber;
    let (dir, store) = temp_store();
    let ar = Country::parse("AR").unwrap();
    store
        .upsert_contact(
            &contact("003U", "Viejo", "Índice", "v@x", Some("+54 9 11 6123-4567")),
            ar,
        )
        .unwrap();
    // The rows as the previous release wrote them.
    let conn = raw(&dir);
    conn.execute("DELETE FROM contact_phones", []).unwrap();
    conn.execute(
        "INSERT INTO contact_phones (digits, contact_id, e164, tail)
         SELECT '5491161234567', id, '5491161234567', '1234567' FROM contacts
         UNION ALL SELECT '91161234567', id, '5491161234567', '1234567' FROM contacts",
        [],
    )
    .unwrap();
    let number = CustomerNumber::from_wa_id("5491161234567").unwrap();
    let found = store.contacts_for_customer(&number).unwrap();
    assert_eq!(crm_ids(&found), ["003U"]);
    assert_eq!(
        crm_ids(&store.contacts_for_caller("+54 11 6123-4567", ar).unwrap()),
        ["003U"]
    );
}

// ---------------------------------------------------------------- chat transcripts (0006)

#[test]
fn migration_0006_keeps_the_queued_writes_and_admits_chat_logs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    let before = MIGRATIONS
        .iter()
        .position(|m| m.name == "0006_outbox_chat_log")
        .expect("0006 is listed");
    {
        let old = Store::open_with_migrations(&path, &MIGRATIONS[..before]).unwrap();
        old.upsert_call(&ended_call("c1", 1_000)).unwrap();
        drop(old);
        // A write that needs the agent, as the previous schema stored it.
        let conn = raw(&dir);
        conn.execute(
            "INSERT INTO outbox (idempotency_key, crm, kind, call_id, payload, state, attempts,
                 next_attempt_at, last_error_code, last_error_message, last_error_field,
                 created_at, updated_at)
             VALUES ('k-old', 'salesforce', 'log_call', 'c1', '{}', 'needs_attention', 1,
                 2000, 'crm_duplicate', 'dup', 'email', 2000, 3000)",
            [],
        )
        .unwrap();
        // The old schema refuses the new kind.
        assert!(conn
            .execute(
                "UPDATE outbox SET kind = 'log_chat' WHERE idempotency_key = 'k-old'",
                [],
            )
            .is_err());
    }
    let store = Store::open(&path).unwrap();
    let kept = store.outbox_entry_by_key("k-old").unwrap().expect("kept");
    assert_eq!(kept.kind, OutboxKind::LogCall);
    assert_eq!(kept.state, OutboxState::NeedsAttention);
    assert_eq!(kept.attempts, 1);
    assert_eq!(kept.call_id, Some(CallId("c1".into())));
    assert_eq!(kept.conversation_id, None);
    assert_eq!(
        kept.last_error.map(|e| (e.code, e.field)),
        Some((ErrorCode::CrmDuplicate, Some("email".into())))
    );
    let chat = store
        .queue_log_chat(77, Crm::Salesforce, "k-chat", "{}", Timestamp(4_000))
        .unwrap();
    assert!(chat.id > kept.id);
    // The rebuilt table keeps its indexes.
    let indexes: i64 = raw(&dir)
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'
               AND name IN ('outbox_undelivered', 'outbox_call', 'outbox_attention',
                            'outbox_conversation')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 4);
}

#[test]
fn a_chat_log_is_queued_for_its_conversation_and_delivered_in_its_crms_order() {
    let (dir, store) = temp_store();
    store.upsert_call(&ended_call("c1", 1_000)).unwrap();
    store
        .attach_record(&CallId("c1".into()), &sf_record("003A"), "Ana")
        .unwrap();
    let call = queue_log(&store, "c1", Crm::Salesforce, "k-call", 2_000);
    let chat = store
        .queue_log_chat(
            42,
            Crm::Salesforce,
            "k-chat",
            r#"{"x":1}"#,
            Timestamp(2_500),
        )
        .unwrap();
    assert_eq!(chat.kind, OutboxKind::LogChat);
    assert_eq!(chat.conversation_id, Some(42));
    assert_eq!(chat.call_id, None);
    assert_eq!(chat.state, OutboxState::Pending);
    assert_eq!(chat.payload, r#"{"x":1}"#);
    assert_eq!(
        store.outbox_for_conversation(42).unwrap(),
        vec![chat.clone()]
    );
    assert!(store.outbox_for_conversation(43).unwrap().is_empty());
    // A key is never reused.
    assert!(matches!(
        store.queue_log_chat(42, Crm::Zoho, "k-chat", "{}", Timestamp(3_000)),
        Err(StoreError::InvalidValue { .. })
    ));
    // Same CRM: after the call's log.
    let first = store.next_outbox_entry(Timestamp(10_000)).unwrap().unwrap();
    assert_eq!(first.id, call.id);
    store
        .mark_delivered(call.id, "00T1", Timestamp(10_000))
        .unwrap();
    let next = store.next_outbox_entry(Timestamp(10_000)).unwrap().unwrap();
    assert_eq!(next.id, chat.id);
    store.mark_in_flight(chat.id).unwrap();
    store
        .mark_delivered(chat.id, "00T2", Timestamp(11_000))
        .unwrap();
    assert_eq!(
        store
            .outbox_entry(chat.id)
            .unwrap()
            .unwrap()
            .result_id
            .as_deref(),
        Some("00T2")
    );
    assert_eq!(store.outbox_counts().unwrap(), OutboxCounts::default());
    // The table's own check: a chat log names its conversation, nothing else does.
    assert!(raw(&dir)
        .execute(
            "INSERT INTO outbox (idempotency_key, crm, kind, payload, state, next_attempt_at,
                 created_at, updated_at)
             VALUES ('bad', 'zoho', 'log_chat', '{}', 'pending', 0, 0, 0)",
            [],
        )
        .is_err());
}
