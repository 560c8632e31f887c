//! Integration tests of the store against real SQLite files in temporary folders.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a failure is a test failure

use std::sync::Arc;

use enlace_core::{
    CallDirection, CallId, CallRecord, CallStatus, Clock, EndReason, ErrorCode, LogState, Timestamp,
};
use enlace_store::{Contact, ContactKind, Crm, Store, StoreError, MIGRATIONS};
use tempfile::TempDir;

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
    assert_eq!(store.schema_version().unwrap(), 2);
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
    // The real second migration still applies afterwards.
    assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), 2);
}

#[test]
fn an_older_app_refuses_a_database_migrated_by_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    Store::open(&path).unwrap();
    let err = Store::open_with_migrations(&path, &MIGRATIONS[..1]).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 2, known: 1 }),
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
        .upsert_contact(&contact(
            "003A",
            "Ana",
            "García",
            "ana.garcia@example.com",
            Some("+506 8888-1234"),
        ))
        .unwrap();
    store
        .upsert_contact(&contact(
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
    store.upsert_contact(&lead).unwrap();
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
        .upsert_contact(&contact(
            "003A",
            "Anabel",
            "Quesada",
            "aq@example.com",
            None,
        ))
        .unwrap();
    let again = store
        .upsert_contact(&contact(
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
        .upsert_contact(&Contact {
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

#[test]
fn contacts_are_found_by_phone_in_any_format() {
    let (_dir, store) = seeded_contacts();
    store
        .upsert_contact(&contact(
            "003D",
            "Dora",
            "Exacta",
            "d@x",
            Some("50688881234"),
        ))
        .unwrap();
    store
        .upsert_contact(&contact("003E", "Ext", "Short", "e@x", Some("1001")))
        .unwrap();
    store
        .upsert_contact(&contact("003F", "Nat", "Ional", "n@x", Some("8888 1234")))
        .unwrap();

    let found = crm_ids(&store.contacts_by_phone("+50688881234").unwrap()).join(",");
    assert!(
        found.starts_with("003A,003D") || found.starts_with("003D,003A"),
        "exact first: {found}"
    );
    assert!(found.ends_with("003F"), "{found}");
    assert_eq!(
        crm_ids(&store.contacts_by_phone("8888-1234").unwrap()),
        ["003F", "003A", "003D"]
    );
    assert_eq!(crm_ids(&store.contacts_by_phone("1001").unwrap()), ["003E"]);
    assert!(
        store.contacts_by_phone("001").unwrap().is_empty(),
        "short numbers match exactly only"
    );
    assert_eq!(
        crm_ids(&store.contacts_by_phone("(506) 7000-0001").unwrap()),
        ["00QC"],
        "mobile"
    );
    assert!(store.contacts_by_phone("no digits %_").unwrap().is_empty());
    assert!(store
        .contacts_by_phone(&"9".repeat(5_000))
        .unwrap()
        .is_empty());
}
