//! Secrets stay secret (issue 9): the `enlace-hub` binary at TRACE level through logins,
//! pauses and a PBX reconnection writes no password, hash, session token or AMI secret; files
//! holding secrets are private; passwords never travel as arguments; `Debug` redacts; and
//! login throttling sees through trusted proxies only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::SystemClock;
use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::config::{
    AmiSettings, WhatsAppNumber, WhatsAppSettings, AMI_SECRET_ENV, DATABASE_URL_ENV,
    WHATSAPP_ACCESS_TOKEN_ENV, WHATSAPP_APP_SECRET_ENV, WHATSAPP_VERIFY_TOKEN_ENV,
};
use enlace_hub::store::{NewAgent, Store};
use enlace_hub::testing::Served;
use enlace_hub::HubConfig;
use enlace_sandbox::{AmiDouble, AmiFault};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
const AMI_USER: &str = "enlace";
const AMI_SECRET: &str = "ami-S3cret-7f3a9c1e";
const USER: &str = "1234567";
const PASSWORD: &str = "480317";

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `enlace-hub init` in `dir`, then the test's settings written into its configuration.
fn init(dir: &Path, edit: impl FnOnce(&mut HubConfig)) -> PathBuf {
    let (ok, _, err) = hub_bin(&["init", "--dir", dir.to_str().unwrap()], dir);
    assert!(ok, "{err}");
    let path = dir.join("enlace-hub.toml");
    let mut config = HubConfig::load(&path).unwrap();
    config.listen = "127.0.0.1:0".into();
    config.password_memory_kib = CHEAP.memory_kib;
    config.password_iterations = CHEAP.iterations;
    config.heartbeat_seconds = 3600;
    edit(&mut config);
    // Rewriting an existing file keeps its (private) mode.
    std::fs::write(&path, config.to_toml()).unwrap();
    path
}

fn ami(double: &AmiDouble, secret: &str) -> AmiSettings {
    AmiSettings {
        addr: double.addr().to_string(),
        username: AMI_USER.into(),
        secret: secret.into(),
        interface_template: "Local/{extension}@test".into(),
        ..AmiSettings::default()
    }
}

/// `enlace-hub serve` with `env`, its output in files; returns the child and its address.
fn serve(config: &Path, dir: &Path, env: &[(&str, &str)]) -> (Child, SocketAddr) {
    let stdout = dir.join("serve.out");
    let stderr = dir.join("serve.err");
    let child = Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut child = child;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        if let Some(addr) = out
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .and_then(|a| a.trim().parse().ok())
        {
            return (child, addr);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "enlace-hub serve exited ({status}): {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "enlace-hub serve did not start: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `digits` occurs in `text` as a number of its own (not inside a longer number, nor
/// the fraction of a timestamp or a duration).
fn contains_number(text: &str, digits: &str) -> bool {
    text.match_indices(digits).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + digits.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.contains(needle))
        .take(3)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_of_logins_pauses_and_a_pbx_reconnection_holds_no_secret() {
    let double = AmiDouble::start().unwrap();
    double.add_user(AMI_USER, AMI_SECRET);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = init(dir, |c| c.ami = Some(ami(&double, AMI_SECRET)));
    let c = config.to_str().unwrap();
    let (ok, _, err) = hub_bin_input(
        &[
            "--config",
            c,
            "agent",
            "add",
            "--name",
            "Ana",
            "--extension",
            "1001",
            "--queue",
            "support",
            "--user",
            USER,
            "--password-stdin",
        ],
        dir,
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{err}");
    assert!(hub_bin(&["--config", c, "pause-reason", "add", "Baño"], dir).0);

    let (child, addr) = serve(&config, dir, &[("RUST_LOG", "trace")]);
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let mut replies: Vec<String> = Vec::new();
    let keep = |replies: &mut Vec<String>, r: &Reply| {
        replies.push(format!("{}\n{}", r.headers, r.body));
    };

    // Bad logins: a wrong password, a malformed body carrying the password as a number.
    let r = login(addr, USER, "000000").await;
    assert_eq!(r.status, 401);
    keep(&mut replies, &r);
    let r = post(
        addr,
        "/api/v1/sessions",
        None,
        json!({"user": USER, "password": PASSWORD.parse::<u32>().unwrap()}),
    )
    .await;
    assert_eq!(r.status, 400);
    keep(&mut replies, &r);
    // A good one (its reply carries the token by design; the rest must not).
    let r = login(addr, USER, PASSWORD).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();
    let mut login_reply = r.body.clone();
    login_reply["token"] = Value::Null;
    replies.push(format!("{}\n{login_reply}", r.headers));
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;

    let mut ws = stream(addr, &token, 0).await;
    let _ = next(&mut ws).await;
    let r = http(addr, "GET", "/api/v1/pause-reasons", Some(&token), None).await;
    keep(&mut replies, &r);
    let reason = r.body[0]["id"].as_i64().unwrap();
    for body in [
        json!({"state": "paused", "reason": reason}),
        json!({"state": "available"}),
    ] {
        let r = post(addr, "/api/v1/me/state", Some(&token), body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        keep(&mut replies, &r);
    }
    let r = me(addr, &token).await;
    keep(&mut replies, &r);

    // The PBX forgets Ana (a restart), drops the hub, and the re-sync puts her back: the
    // re-sync logs each correction with the agent's row.
    // (Silently, as a restart forgets: a removal the hub sees is followed as a change made on
    // the PBX instead.)
    double.remove_member_silently("support", "Local/1001@test");
    assert!(double.queue_members("support").is_empty());
    double.inject(AmiFault::DropConnections);
    eventually("the re-sync adds Ana back", || {
        double.queue_members("support").len() == 1
    })
    .await;
    let r = http(
        addr,
        "DELETE",
        "/api/v1/sessions/current",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    keep(&mut replies, &r);
    drop(ws);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop(child);

    let store = Store::open(&format!("sqlite://{}", dir.join("enlace-hub.db").display()))
        .await
        .unwrap();
    let hash = store
        .agent_by_user(USER)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    store.close().await;
    let digest = hash.rsplit('$').next().unwrap().to_string();
    assert!(digest.len() > 16, "{hash}");

    let log = format!(
        "{}\n{}",
        std::fs::read_to_string(dir.join("serve.out")).unwrap(),
        std::fs::read_to_string(dir.join("serve.err")).unwrap()
    );
    // The log is the most verbose there is, dependencies included.
    assert!(log.contains("TRACE") && log.contains("sqlx"), "{log}");
    let replies = replies.join("\n");
    for (what, text) in [("the log", &log), ("the API replies", &replies)] {
        for (secret, needle) in [
            ("the AMI secret", AMI_SECRET),
            ("the password hash", hash.as_str()),
            ("the password digest", digest.as_str()),
        ] {
            assert!(
                !text.contains(needle),
                "{secret} in {what}: {:?}",
                lines_with(text, needle)
            );
        }
        assert!(
            !contains_number(text, PASSWORD),
            "the password in {what}: {:?}",
            lines_with(text, PASSWORD)
        );
    }
    assert!(
        !log.contains(&token),
        "the session token in the log: {:?}",
        lines_with(&log, &token)
    );
}

#[test]
fn init_writes_a_private_config_and_files_with_secrets_must_stay_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (ok, _, err) = hub_bin(&["init", "--dir", dir.to_str().unwrap()], dir);
    assert!(ok, "{err}");
    let config = dir.join("enlace-hub.toml");
    #[cfg(unix)]
    {
        assert_eq!(mode(&config), 0o600);
        assert_eq!(mode(&dir.join("enlace-hub.db")), 0o600);
        let c = config.to_str().unwrap();
        let list = ["--config", c, "agent", "list"];

        // Without secrets the file may be readable by others.
        chmod(&config, 0o644);
        assert!(hub_bin(&list, dir).0);

        // With the AMI secret in it, not: a clear message, a stable code.
        let mut cfg = HubConfig::load(&config).unwrap();
        cfg.ami = Some(AmiSettings {
            secret: AMI_SECRET.into(),
            ..AmiSettings::default()
        });
        std::fs::write(&config, cfg.to_toml()).unwrap();
        let (ok, _, err) = hub_bin(&list, dir);
        assert!(!ok);
        assert!(
            err.contains("secret_file_exposed") && err.contains("chmod 600"),
            "{err}"
        );
        assert!(!err.contains(AMI_SECRET), "{err}");
        chmod(&config, 0o600);
        assert!(hub_bin(&list, dir).0);

        // The secret in a file of its own: that file must be private, the config need not be.
        let secret_file = dir.join("ami.secret");
        std::fs::write(&secret_file, format!("{AMI_SECRET}\n")).unwrap();
        chmod(&secret_file, 0o640);
        cfg.ami = Some(AmiSettings {
            secret_file: Some("ami.secret".into()),
            ..AmiSettings::default()
        });
        std::fs::write(&config, cfg.to_toml()).unwrap();
        chmod(&config, 0o644);
        let (ok, _, err) = hub_bin(&list, dir);
        assert!(!ok && err.contains("ami.secret"), "{err}");
        chmod(&secret_file, 0o600);
        assert!(hub_bin(&list, dir).0);
        let loaded = HubConfig::load_with_env(&config, &|_| None).unwrap();
        assert_eq!(loaded.ami.unwrap().secret, AMI_SECRET);

        // `serve` refuses a database other users may read (it holds the password hashes).
        chmod(&dir.join("enlace-hub.db"), 0o644);
        let (ok, err) = exits(&["--config", c, "serve", "--listen", "127.0.0.1:0"], dir);
        assert!(
            !ok && err.contains("enlace-hub.db") && err.contains("chmod 600"),
            "{err}"
        );
    }
}

#[test]
fn secrets_come_from_files_or_the_environment_which_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = dir.join("enlace-hub.toml");
    std::fs::write(
        &config,
        "database_url_file = \"db.url\"\n[ami]\nsecret_file = \"/nonexistent/never-read\"\n",
    )
    .unwrap();
    let url = "postgres://enlace:db-pa55word@127.0.0.1:5432/hub";
    std::fs::write(dir.join("db.url"), format!("{url}\n")).unwrap();
    #[cfg(unix)]
    chmod(&dir.join("db.url"), 0o600);
    let missing = HubConfig::load_with_env(&config, &|_| None).unwrap_err();
    assert_eq!(missing.code(), "config_unreadable");

    let env = |name: &str| match name {
        n if n == AMI_SECRET_ENV => Some(AMI_SECRET.to_string()),
        _ => None,
    };
    std::fs::write(
        &config,
        "database_url_file = \"db.url\"\n[ami]\nusername = \"enlace\"\n",
    )
    .unwrap();
    let loaded = HubConfig::load_with_env(&config, &env).unwrap();
    assert_eq!(loaded.database_url, url);
    assert_eq!(loaded.ami.as_ref().unwrap().secret, AMI_SECRET);
    let shown = format!("{loaded:?}");
    assert!(
        !shown.contains("db-pa55word") && !shown.contains(AMI_SECRET),
        "{shown}"
    );

    let other = "sqlite://elsewhere.db";
    let env = |name: &str| (name == DATABASE_URL_ENV).then(|| other.to_string());
    assert_eq!(
        HubConfig::load_with_env(&config, &env)
            .unwrap()
            .database_url,
        other
    );

    // Both forms at once is a mistake, and parse errors do not quote the offending line.
    std::fs::write(
        &config,
        format!("[ami]\nsecret = \"{AMI_SECRET}\"\nsecret_file = \"x\"\n"),
    )
    .unwrap();
    #[cfg(unix)]
    chmod(&config, 0o600);
    let e = HubConfig::load_with_env(&config, &|_| None).unwrap_err();
    assert_eq!(e.code(), "config_invalid");
    std::fs::write(&config, format!("[ami]\nsecrte = \"{AMI_SECRET}\"\n")).unwrap();
    let e = HubConfig::load_with_env(&config, &|_| None).unwrap_err();
    assert!(
        !e.to_string().contains(AMI_SECRET) && e.to_string().contains("line 2"),
        "{e}"
    );
}

#[tokio::test]
async fn the_ami_secret_from_the_environment_logs_the_hub_in() {
    let double = AmiDouble::start().unwrap();
    double.add_user(AMI_USER, AMI_SECRET);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = init(dir, |c| c.ami = Some(ami(&double, "")));
    // Without a secret in it, the file may be readable by others.
    #[cfg(unix)]
    chmod(&config, 0o644);
    let c = config.to_str().unwrap();
    let add = [
        "--config",
        c,
        "agent",
        "add",
        "--name",
        "Ana",
        "--extension",
        "1001",
        "--queue",
        "support",
        "--user",
        USER,
        "--password-stdin",
    ];
    assert!(hub_bin_input(&add, dir, &format!("{PASSWORD}\n")).0);
    let (child, addr) = serve(&config, dir, &[(AMI_SECRET_ENV, AMI_SECRET)]);
    // Logged in to the PBX: a login makes the agent a queue member there.
    let status = login(addr, USER, PASSWORD).await.status;
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;
    stop(child);
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_password_from_the_environment_reaches_no_log() {
    let pg = enlace_peers::PostgresServer::start().unwrap();
    let url = pg.create_database("secrets").unwrap();
    let secret_url = url.replacen("://enlace@", "://enlace:Db-Pa55word-x9@", 1);
    assert_ne!(url, secret_url);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The file names no database; the variable brings the URL and its password.
    let env = [
        (DATABASE_URL_ENV, secret_url.as_str()),
        ("RUST_LOG", "trace"),
    ];
    let config = init(dir, |c| c.database_url = "sqlite://unused.db".into());
    let c = config.to_str().unwrap();
    let add = [
        "--config",
        c,
        "agent",
        "add",
        "--name",
        "Ana",
        "--extension",
        "1001",
        "--user",
        USER,
        "--password-stdin",
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enlace-hub"));
    cmd.args(add)
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
    }
    let added = child.wait_with_output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let (child, addr) = serve(&config, dir, &env);
    assert_eq!(login(addr, USER, "000000").await.status, 401);
    assert_eq!(login(addr, USER, PASSWORD).await.status, 201);
    stop(child);
    assert!(!dir.join("unused.db").exists(), "the variable was not used");
    let log = format!(
        "{}{}{}",
        String::from_utf8_lossy(&added.stderr),
        std::fs::read_to_string(dir.join("serve.out")).unwrap(),
        std::fs::read_to_string(dir.join("serve.err")).unwrap()
    );
    assert!(log.contains("TRACE") && log.contains("sqlx"), "{log}");
    assert!(
        !log.contains("Db-Pa55word-x9"),
        "the database password in the log: {:?}",
        lines_with(&log, "Db-Pa55word-x9")
    );
}

/// Runs the binary expecting it to exit (it is killed, and the test fails, if it serves).
fn exits(args: &[&str], dir: &Path) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("exits.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(dir.join("exits.err")).unwrap_or_default();
            return (status.success(), err);
        }
        if std::time::Instant::now() > deadline {
            stop(child);
            panic!("{args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn agent_add_takes_a_chosen_password_on_stdin_never_as_an_argument() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = init(dir, |_| {});
    let c = config.to_str().unwrap();
    let add = |user: &str, extra: &[&str]| -> Vec<String> {
        [
            "--config",
            c,
            "agent",
            "add",
            "--name",
            "Ana",
            "--extension",
            "1001",
            "--user",
            user,
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    let run = |v: Vec<String>, input: Option<&str>| {
        let args: Vec<&str> = v.iter().map(String::as_str).collect();
        match input {
            Some(i) => hub_bin_input(&args, dir, i),
            None => hub_bin(&args, dir),
        }
    };

    // `--password <value>` is refused, pointing at --password-stdin; nothing is created.
    let (ok, out, err) = run(add("1234567", &["--password", PASSWORD]), None);
    assert!(!ok);
    assert!(
        err.contains("--password-stdin") && !err.contains(PASSWORD),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");

    // On standard input: accepted, not printed.
    let input = format!("{PASSWORD}\n");
    let (ok, out, err) = run(add("1234567", &["--password-stdin"]), Some(&input));
    assert!(ok, "{err}");
    assert_eq!(printed(&out, "user"), "1234567");
    assert!(
        !out.contains(PASSWORD) && !out.contains("password"),
        "{out}"
    );
    // Not six digits: refused.
    let (ok, _, err) = run(add("7654321", &["--password-stdin"]), Some("12345\n"));
    assert!(!ok && err.contains("6 digits"), "{err}");

    // Generated (the default): printed once.
    let (ok, out, err) = run(add("7654321", &[]), None);
    assert!(ok, "{err}");
    assert!(enlace_hub::auth::is_valid_password(&printed(
        &out, "password"
    )));
    let (ok, list, _) = hub_bin(&["--config", c, "agent", "list"], dir);
    assert!(ok && list.contains("1234567") && list.contains("7654321"));
}

#[test]
fn debug_of_rows_configs_and_sessions_shows_no_secret() {
    let hash = hash_password(PASSWORD, CHEAP).unwrap();
    let row = enlace_hub::store::AgentRow {
        id: 1,
        user: USER.into(),
        password_hash: hash.clone(),
        name: "Ana".into(),
        extension: "1001".into(),
        queues: vec!["support".into()],
        supervisor: false,
        disabled: false,
    };
    let new = NewAgent {
        user: USER,
        password_hash: &hash,
        name: "Ana",
        extension: "1001",
        queues: &[],
        supervisor: false,
    };
    let login = enlace_hub::auth::Login {
        token: "tok-abcdefghijklmnopqrstuvwxyz".into(),
        expires_at: 0,
        agent: row.clone(),
    };
    let authed = enlace_hub::auth::Authed {
        agent: row.clone(),
        token_hash: enlace_hub::auth::token_hash("tok-abcdefghijklmnopqrstuvwxyz"),
        expires_at: 0,
    };
    let config = HubConfig {
        database_url: "postgres://enlace:db-pa55word@db/hub?password=db-pa55word".into(),
        ami: Some(AmiSettings {
            secret: AMI_SECRET.into(),
            ..AmiSettings::default()
        }),
        ..HubConfig::default()
    };
    let cli = <enlace_hub::cli::Cli as clap::Parser>::try_parse_from([
        "enlace-hub",
        "--database",
        "postgres://enlace:db-pa55word@db/hub",
        "agent",
        "list",
    ])
    .unwrap();
    let shown = format!("{row:?} {new:?} {login:?} {authed:?} {config:?} {cli:?}");
    for secret in [
        hash.as_str(),
        "tok-abcdefghijklmnopqrstuvwxyz",
        authed.token_hash.as_str(),
        "db-pa55word",
        AMI_SECRET,
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("Ana") && shown.contains("<redacted>"));
}

// ---------------------------------------------------------------------------------------------
// Throttling behind a reverse proxy

/// A login through a raw connection, with an `X-Forwarded-For` header when given.
async fn login_from(addr: SocketAddr, user: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let body = json!({"user": user, "password": password}).to_string();
    let mut head = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(f) = forwarded {
        head.push_str(&format!("X-Forwarded-For: {f}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn proxied_hub(dir: &Path, trusted: &[&str]) -> Served {
    let config = HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
        ..HubConfig::default()
    };
    let served = Served::start(config, Arc::new(SystemClock), "127.0.0.1:0").await;
    let hash = hash_password(PASSWORD, CHEAP).unwrap();
    served
        .hub
        .store()
        .insert_agent(
            &NewAgent {
                user: USER,
                password_hash: &hash,
                name: "Ana",
                extension: "1001",
                queues: &[],
                supervisor: false,
            },
            0,
        )
        .await
        .unwrap();
    served
}

/// Enough failures from client A (each against another user) to throttle an address.
async fn fail_from(addr: SocketAddr, forwarded: &str) {
    for i in 0..enlace_hub::auth::ADDRESS_FAILURE_LIMIT {
        let user = format!("{:07}", 2_000_000 + i);
        assert_eq!(
            login_from(addr, &user, "000000", Some(forwarded)).await,
            401
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another() {
    let tmp = tempfile::tempdir().unwrap();
    let server = proxied_hub(tmp.path(), &["127.0.0.1/32", "::1/128"]).await;
    fail_from(server.addr, "203.0.113.1").await;
    // Client B, behind the same proxy, logs in; client A is throttled.
    assert_eq!(
        login_from(server.addr, USER, PASSWORD, Some("203.0.113.2")).await,
        201
    );
    assert_eq!(
        login_from(server.addr, USER, PASSWORD, Some("203.0.113.1")).await,
        429
    );
    // A forged entry left of the proxy's own does not help A.
    assert_eq!(
        login_from(
            server.addr,
            USER,
            PASSWORD,
            Some("198.51.100.9, 203.0.113.1")
        )
        .await,
        429
    );
    // Garbage falls back to the proxy's address, which nobody throttled yet.
    assert_eq!(
        login_from(server.addr, USER, PASSWORD, Some("not-an-address")).await,
        201
    );
    server.shutdown().await;
}

#[tokio::test]
async fn without_trust_forwarded_headers_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let server = proxied_hub(tmp.path(), &[]).await;
    fail_from(server.addr, "203.0.113.1").await;
    // The header is the client's own claim: the peer (127.0.0.1) is throttled.
    assert_eq!(
        login_from(server.addr, USER, PASSWORD, Some("203.0.113.2")).await,
        429
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// WhatsApp secrets (issue 10)

const WA_VERIFY: &str = "wa-verify-9d2c71";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_of_whatsapp_traffic_holds_no_whatsapp_secret() {
    let wa = enlace_sandbox::WhatsAppDouble::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The app secret in a private file, the access token in the environment, the verify token
    // in the (private) configuration file.
    std::fs::write(dir.join("wa.secret"), format!("{}\n", wa.app_secret())).unwrap();
    #[cfg(unix)]
    chmod(&dir.join("wa.secret"), 0o600);
    let config = init(dir, |c| {
        c.whatsapp = Some(WhatsAppSettings {
            verify_token: WA_VERIFY.into(),
            app_secret_file: Some("wa.secret".into()),
            graph_url: wa.graph_url(),
            waba_id: wa.waba_id(),
            numbers: vec![WhatsAppNumber {
                phone_number_id: wa.phone_number_id(),
                display_number: wa.display_phone_number(),
                name: String::new(),
                queue: "support".into(),
            }],
            ..WhatsAppSettings::default()
        })
    });
    let c = config.to_str().unwrap();
    let (ok, _, err) = hub_bin_input(
        &[
            "--config",
            c,
            "agent",
            "add",
            "--name",
            "Ana",
            "--extension",
            "1001",
            "--queue",
            "support",
            "--user",
            USER,
            "--password-stdin",
        ],
        dir,
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{err}");
    let token_env = wa.access_token();
    let (child, addr) = serve(
        &config,
        dir,
        &[
            ("RUST_LOG", "trace"),
            (WHATSAPP_ACCESS_TOKEN_ENV, token_env.as_str()),
        ],
    );
    let url = format!("http://{addr}/webhooks/whatsapp");
    assert!(tokio::task::block_in_place(|| wa.verify_webhook(&url, WA_VERIFY)).unwrap());
    wa.set_webhook_url(Some(&url));
    let token = login(addr, USER, PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    wa.customer_sends(
        "5215512345678",
        enlace_sandbox::Inbound::Text("hola".into()),
    );
    wa.customer_sends(
        "5215512345678",
        enlace_sandbox::Inbound::Media(enlace_sandbox::InboundMedia::image(None)),
    );
    let id = loop_until_conversation(addr, &token).await;
    let r = post(
        addr,
        &format!("/api/v1/conversations/{id}/messages"),
        Some(&token),
        json!({"clientId": "s-1", "type": "text", "body": "¿En qué le ayudo?"}),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    eventually("sent", || wa.sent_messages().len() == 1).await;
    assert!(tokio::task::block_in_place(|| wa.wait_webhooks_idle(WAIT)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(child);

    let log = format!(
        "{}\n{}",
        std::fs::read_to_string(dir.join("serve.out")).unwrap(),
        std::fs::read_to_string(dir.join("serve.err")).unwrap()
    );
    assert!(log.contains("TRACE"), "{log}");
    let app_secret = wa.app_secret();
    for (secret, needle) in [
        ("the access token", token_env.as_str()),
        ("the app secret", app_secret.as_str()),
        ("the verify token", WA_VERIFY),
    ] {
        assert!(
            !log.contains(needle),
            "{secret} in the log: {:?}",
            lines_with(&log, needle)
        );
    }
}

async fn loop_until_conversation(addr: SocketAddr, token: &str) -> i64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = http(addr, "GET", "/api/v1/conversations", Some(token), None).await;
        if let Some(id) = r.body.get(0).and_then(|c| c["id"].as_i64()) {
            return id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no conversation: {:?}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[test]
fn whatsapp_secrets_come_from_files_or_the_environment_and_debug_redacts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = dir.join("enlace-hub.toml");
    for (name, value) in [
        ("vt", "file-verify"),
        ("as", "file-app-secret"),
        ("at", "file-access-token"),
    ] {
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
        #[cfg(unix)]
        chmod(&dir.join(name), 0o600);
    }
    std::fs::write(
        &config,
        "[whatsapp]\nverify_token_file = \"vt\"\napp_secret_file = \"as\"\naccess_token_file = \"at\"\n",
    )
    .unwrap();
    let loaded = HubConfig::load_with_env(&config, &|_| None).unwrap();
    let wa = loaded.whatsapp.clone().unwrap();
    assert_eq!(
        (
            wa.verify_token.as_str(),
            wa.app_secret.as_str(),
            wa.access_token.as_str()
        ),
        ("file-verify", "file-app-secret", "file-access-token")
    );
    assert_eq!(wa.graph_url, "https://graph.facebook.com/v21.0");
    let env = |name: &str| match name {
        n if n == WHATSAPP_VERIFY_TOKEN_ENV => Some("env-verify".to_string()),
        n if n == WHATSAPP_APP_SECRET_ENV => Some("env-app-secret".to_string()),
        n if n == WHATSAPP_ACCESS_TOKEN_ENV => Some("env-access-token".to_string()),
        _ => None,
    };
    let from_env = HubConfig::load_with_env(&config, &env).unwrap();
    let wa2 = from_env.whatsapp.clone().unwrap();
    assert_eq!(
        (
            wa2.verify_token.as_str(),
            wa2.app_secret.as_str(),
            wa2.access_token.as_str()
        ),
        ("env-verify", "env-app-secret", "env-access-token")
    );
    let with_s3 = WhatsAppSettings {
        s3: Some(enlace_hub::config::S3Settings {
            secret_access_key: "s3-secret-key-51f".into(),
            ..Default::default()
        }),
        ..WhatsAppSettings::default()
    };
    let shown = format!("{loaded:?} {from_env:?} {with_s3:?}");
    for secret in [
        "s3-secret-key-51f",
        "file-verify",
        "file-app-secret",
        "file-access-token",
        "env-verify",
        "env-app-secret",
        "env-access-token",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    // A secret file others can read is refused; a secret inline makes the config private.
    #[cfg(unix)]
    {
        chmod(&dir.join("at"), 0o644);
        let e = HubConfig::load_with_env(&config, &|_| None).unwrap_err();
        assert_eq!(e.code(), "secret_file_exposed");
        std::fs::write(&config, "[whatsapp]\naccess_token = \"inline-token\"\n").unwrap();
        chmod(&config, 0o644);
        let e = HubConfig::load_with_env(&config, &|_| None).unwrap_err();
        assert_eq!(e.code(), "secret_file_exposed");
        assert!(!e.to_string().contains("inline-token"));
    }
    // Both forms at once is a mistake.
    std::fs::write(
        &config,
        "[whatsapp]\napp_secret = \"x\"\napp_secret_file = \"as\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    chmod(&config, 0o600);
    assert_eq!(
        HubConfig::load_with_env(&config, &|_| None)
            .unwrap_err()
            .code(),
        "config_invalid"
    );
}
