//! The secrets store against a real Secret Service (gnome-keyring), and against buses where
//! none is usable. The test command runs this inside a private session bus:
//!
//! ```sh
//! ENLACE_REQUIRE_KEYRING=1 dbus-run-session -- sh -c \
//!   'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test -p enlace-secrets'
//! ```
//!
//! With `ENLACE_REQUIRE_KEYRING=1` a missing Secret Service (or a missing `dbus-daemon` /
//! `secret-tool`) FAILS these tests; without it they print why they did not run and return.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too; a failure is a test failure

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enlace_core::{Crm, ErrorCode};
use enlace_peers::{BusKind, BusOptions, PrivateBus};
use enlace_secrets::{
    crm_account_ref, probe, Channel, SecretStore, SecretsError, Sensitive, LOCKED_DETAIL,
};

const REQUIRE_ENV: &str = "ENLACE_REQUIRE_KEYRING";
/// Set in a child test process that checks a bus prepared by its parent (see [`run_child`]).
const CHILD_ENV: &str = "ENLACE_SECRETS_TEST_CHILD";
const HOW_TO_RUN: &str = "ENLACE_REQUIRE_KEYRING=1 dbus-run-session -- sh -c 'echo -n pw | \
     gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test -p enlace-secrets'";

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// Fail (when required) or explain and skip.
fn unavailable(test: &str, why: &str) -> bool {
    assert!(!required(), "{REQUIRE_ENV}=1 but {test} cannot run: {why}");
    eprintln!("NOT RUN {test}: {why}. Run it with: {HOW_TO_RUN}");
    false
}

/// Whether an unlocked Secret Service answers on the session bus.
fn real_keyring(test: &str) -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return unavailable(test, "DBUS_SESSION_BUS_ADDRESS is not set");
    }
    match probe(Channel::Dev) {
        Ok(()) => true,
        Err(e) => unavailable(test, &format!("no usable Secret Service: {e}")),
    }
}

fn has_program(test: &str, program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    found || unavailable(test, &format!("`{program}` is not installed"))
}

fn account(test: &str) -> String {
    format!("test:{test}:{}", std::process::id())
}

/// `secret-tool lookup service <service> username <account>`: what other programs see.
fn secret_tool_lookup(service: &str, account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", account])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

#[test]
fn secrets_persist_in_the_real_keyring() {
    if !real_keyring("secrets_persist_in_the_real_keyring") {
        return;
    }
    let account = account("persist");
    let value = "00Dxx!AQ4AQ.token/with+symbols= ñ 💥";
    SecretStore::new(Channel::Dev)
        .put(&account, &Sensitive::new(value.to_owned()))
        .unwrap();
    // A new store (new keyring entry) reads what the first one wrote: it is really persisted.
    let read = SecretStore::new(Channel::Dev).get(&account).unwrap();
    assert_eq!(read.expose(), value);

    SecretStore::new(Channel::Dev)
        .put(&account, &Sensitive::new("second".into()))
        .unwrap();
    assert_eq!(
        SecretStore::new(Channel::Dev)
            .get(&account)
            .unwrap()
            .expose(),
        "second"
    );

    SecretStore::new(Channel::Dev).delete(&account).unwrap();
    let err = SecretStore::new(Channel::Dev)
        .get(&account)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, SecretsError::NotFound { account: a } if *a == account),
        "{err:?}"
    );
    let err = SecretStore::new(Channel::Dev).delete(&account).unwrap_err();
    assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
}

#[test]
fn crm_tokens_are_stored_read_and_deleted_under_their_account_ref() {
    let test = "crm_tokens_are_stored_read_and_deleted_under_their_account_ref";
    if !real_keyring(test) || !has_program(test, "secret-tool") {
        return;
    }
    let key = format!("00Dxx0000001gPL:005xx000001Sv6e:{}", std::process::id());
    let account = crm_account_ref(Crm::Salesforce, &key);
    assert_eq!(account, format!("crm/salesforce/{key}"));
    // The shape enlace-crm stores: one JSON document with both tokens.
    let tokens = r#"{"access":"00Dxx!AQ4AQ.x/y+z=","refresh":"5Aep861.refresh","expires_at":null}"#;
    let store = SecretStore::new(Channel::Dev);
    store
        .put(&account, &Sensitive::new(tokens.to_owned()))
        .unwrap();
    // Another program sees it under the namespaced reference, not under the bare key.
    assert_eq!(
        secret_tool_lookup("enlace.dev", &account).as_deref(),
        Some(tokens)
    );
    assert_eq!(secret_tool_lookup("enlace.dev", &key), None);
    assert_eq!(
        SecretStore::new(Channel::Dev)
            .get(&account)
            .unwrap()
            .expose(),
        tokens
    );
    // The other CRM's reference for the same key is another entry.
    let zoho = crm_account_ref(Crm::Zoho, &key);
    assert!(matches!(
        store.get(&zoho),
        Err(SecretsError::NotFound { .. })
    ));
    store.delete(&account).unwrap();
    assert_eq!(secret_tool_lookup("enlace.dev", &account), None);
    assert!(matches!(
        store.get(&account),
        Err(SecretsError::NotFound { .. })
    ));
}

#[test]
fn channels_are_separate_keyring_services() {
    let test = "channels_are_separate_keyring_services";
    if !real_keyring(test) || !has_program(test, "secret-tool") {
        return;
    }
    let account = account("channels");
    let dev = SecretStore::new(Channel::Dev);
    let release = SecretStore::new(Channel::Release);
    dev.put(&account, &Sensitive::new("dev-secret".into()))
        .unwrap();
    let err = release.get(&account).map(|_| ()).unwrap_err();
    assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
    // As other programs see it: service "enlace.dev", not "enlace".
    assert_eq!(
        secret_tool_lookup("enlace.dev", &account).as_deref(),
        Some("dev-secret")
    );
    assert_eq!(secret_tool_lookup("enlace", &account), None);

    release
        .put(&account, &Sensitive::new("release-secret".into()))
        .unwrap();
    assert_eq!(
        secret_tool_lookup("enlace", &account).as_deref(),
        Some("release-secret")
    );
    assert_eq!(dev.get(&account).unwrap().expose(), "dev-secret");
    dev.delete(&account).unwrap();
    release.delete(&account).unwrap();
    assert_eq!(secret_tool_lookup("enlace.dev", &account), None);
}

#[test]
fn oversized_secrets_never_reach_the_keyring() {
    if !real_keyring("oversized_secrets_never_reach_the_keyring") {
        return;
    }
    let account = account("oversized");
    let store = SecretStore::new(Channel::Dev);
    let err = store
        .put(&account, &Sensitive::new("x".repeat(1_281)))
        .unwrap_err();
    assert!(matches!(err, SecretsError::TooLarge { .. }), "{err:?}");
    assert!(matches!(
        store.get(&account),
        Err(SecretsError::NotFound { .. })
    ));
    // The largest accepted secret round-trips.
    store
        .put(&account, &Sensitive::new("x".repeat(1_280)))
        .unwrap();
    assert_eq!(store.get(&account).unwrap().expose().len(), 1_280);
    store.delete(&account).unwrap();
}

#[test]
fn probe_round_trips_and_leaves_nothing_behind() {
    let test = "probe_round_trips_and_leaves_nothing_behind";
    if !real_keyring(test) || !has_program(test, "secret-tool") {
        return;
    }
    probe(Channel::Release).unwrap();
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "enlace"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let listing =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let own_probe = format!("doctor-probe-{}-", std::process::id());
    assert!(
        !listing.contains(&own_probe),
        "probe entry left behind:\n{listing}"
    );
}

// ------------------------------------------------------------------ buses without a keyring

/// Run this test binary's `test` alone in a child process whose session bus is `bus`, with
/// [`CHILD_ENV`] set so the test does its child part. Returns the child's output.
fn run_child(test: &str, bus: &PrivateBus) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env_remove("GNOME_KEYRING_CONTROL")
        .env_remove(REQUIRE_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Not a timing assertion: a guard so a keyring prompt that never answers cannot hang CI.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child test {test} did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(status.success(), "child test {test} failed:\n{output}");
    assert!(
        output.contains("1 passed"),
        "child test {test} did not run:\n{output}"
    );
    output
}

/// The child's part: every operation reports the keyring as unavailable, nothing else.
fn expect_unavailable_here() {
    let err = probe(Channel::Dev).unwrap_err();
    assert!(
        matches!(err, SecretsError::Unavailable { .. }),
        "probe: {err:?}"
    );
    assert_eq!(err.code(), ErrorCode::KeyringUnavailable);
    // A CRM token entry fails the same way; nothing falls back to memory.
    let crm_entry = crm_account_ref(Crm::Zoho, "user@example.com");
    let err = SecretStore::new(Channel::Dev)
        .put(&crm_entry, &Sensitive::new("tok".into()))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyringUnavailable, "{err:?}");
    let store = SecretStore::new(Channel::Dev);
    let err = store.get("test:unavailable").map(|_| ()).unwrap_err();
    assert!(
        matches!(err, SecretsError::Unavailable { .. }),
        "get: {err:?}"
    );
    let err = store
        .put("test:unavailable", &Sensitive::new("s".into()))
        .unwrap_err();
    assert!(
        matches!(err, SecretsError::Unavailable { .. }),
        "put: {err:?}"
    );
    println!("CHILD-CHECKED: {err}");
}

/// The child's `CHILD-CHECKED: <error>` report (libtest may print it after the test name).
fn child_verdict(output: &str) -> &str {
    let start = output.find("CHILD-CHECKED: ");
    let verdict = start.and_then(|i| output[i..].lines().next());
    verdict.unwrap_or_else(|| panic!("the child did not check anything:\n{output}"))
}

/// A session bus on which no program owns `org.freedesktop.secrets` and none can be started.
#[test]
fn no_secret_service_on_the_bus_is_unavailable() {
    let test = "no_secret_service_on_the_bus_is_unavailable";
    if std::env::var_os(CHILD_ENV).is_some() {
        return expect_unavailable_here();
    }
    if !has_program(test, "dbus-daemon") {
        return;
    }
    let bus = PrivateBus::start(BusOptions::SESSION).unwrap();
    let output = run_child(test, &bus);
    let checked = child_verdict(&output);
    eprintln!("{test}: {checked}");
    // Nothing answered at all (keyring's PlatformFailure), not a locked keyring.
    assert!(!checked.contains(LOCKED_DETAIL), "{checked}");
    assert!(checked.contains("no keyring service answered"), "{checked}");
}

/// A session bus where gnome-keyring is started on demand but was never unlocked (a fresh
/// home without a login keyring, no display for a password prompt): the locked case.
#[test]
fn locked_keyring_is_unavailable() {
    let test = "locked_keyring_is_unavailable";
    if std::env::var_os(CHILD_ENV).is_some() {
        return expect_unavailable_here();
    }
    if !has_program(test, "dbus-daemon") || !has_program(test, "gnome-keyring-daemon") {
        return;
    }
    // gnome-keyring is started by the bus with the bus's own, fresh home.
    let bus = PrivateBus::start(BusOptions {
        kind: BusKind::Session,
        activation: true,
    })
    .unwrap();
    let output = run_child(test, &bus);
    let checked = child_verdict(&output);
    eprintln!("{test}: {checked}");
    // gnome-keyring answered and refused (keyring's NoStorageAccess): said so, with the fix.
    assert!(checked.contains(LOCKED_DETAIL), "{checked}");
    assert!(checked.contains("unlock it"), "{checked}");
}
