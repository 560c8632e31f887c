//! A real PostgreSQL server: databases are created and answer queries, servers run side by
//! side, and dropping the handle stops the process and frees the port.

#![allow(clippy::unwrap_used)]

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use enlace_peers::postgres::PostgresServer;

/// `psql -h 127.0.0.1 -p PORT -U enlace -d NAME -Atc SQL` (argv only); its trimmed stdout.
fn psql(port: u16, db: &str, sql: &str) -> String {
    let bin = PostgresServer::find_bin_dir().unwrap().join("psql");
    let out = Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "enlace"])
        .args(["-d", db, "-Atc", sql])
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql on {db} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// The effective uid of a process, from `/proc/<pid>/status`.
fn process_uid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[test]
fn creates_databases_that_answer_queries() {
    let server = PostgresServer::start().unwrap();
    let alpha = server.create_database("alpha").unwrap();
    let beta = server.create_database("beta_2").unwrap();
    let port = server.port();
    assert_eq!(alpha, format!("postgres://enlace@127.0.0.1:{port}/alpha"));
    assert_eq!(beta, format!("postgres://enlace@127.0.0.1:{port}/beta_2"));

    assert_eq!(psql(port, "alpha", "SELECT 1"), "1");
    assert_eq!(psql(port, "beta_2", "SELECT 1"), "1");
    assert_eq!(psql(port, "alpha", "SELECT current_database()"), "alpha");
    assert_eq!(
        psql(port, "beta_2", "SELECT current_setting('server_encoding')"),
        "UTF8"
    );
    // The two databases are separate: a table in one is not in the other.
    psql(
        port,
        "alpha",
        "CREATE TABLE t (x int); INSERT INTO t VALUES (7)",
    );
    assert_eq!(psql(port, "alpha", "SELECT x FROM t"), "7");
    assert_eq!(psql(port, "beta_2", "SELECT to_regclass('t') IS NULL"), "t");
    assert_eq!(psql(port, "alpha", "SHOW max_connections"), "200");
    assert_eq!(psql(port, "alpha", "SHOW fsync"), "off");

    // Never as root: `postgres` refuses it, so the server runs as the `postgres` user then.
    let our_uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(server.log_path()).unwrap().uid()
    };
    let server_uid = process_uid(server.pid()).unwrap();
    if our_uid == 0 {
        assert_ne!(server_uid, 0);
    } else {
        assert_eq!(server_uid, our_uid);
    }

    // An existing name is an error, and so is a name that is not a plain identifier.
    assert!(server.create_database("alpha").is_err());
    for bad in ["", "a-b", "x; DROP DATABASE alpha", "caf\u{e9}"] {
        let err = server.create_database(bad).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
    }
    assert_eq!(psql(port, "alpha", "SELECT 1"), "1");
}

#[test]
fn two_servers_run_side_by_side() {
    let first = PostgresServer::start().unwrap();
    let second = PostgresServer::start().unwrap();
    assert_ne!(first.port(), second.port());
    assert_ne!(first.pid(), second.pid());
    first.create_database("one").unwrap();
    second.create_database("two").unwrap();
    assert_eq!(psql(first.port(), "one", "SELECT 1"), "1");
    assert_eq!(psql(second.port(), "two", "SELECT 1"), "1");
    // Each server only has its own database.
    let dbs = |port| {
        psql(port, "postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname IN ('one','two')")
    };
    assert_eq!(dbs(first.port()), "one");
    assert_eq!(dbs(second.port()), "two");
}

#[test]
fn dropping_the_server_stops_it_and_removes_its_data() {
    let server = PostgresServer::start().unwrap();
    let (pid, port) = (server.pid(), server.port());
    let dir = server.log_path().parent().unwrap().to_path_buf();
    assert!(accepts(port));
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(dir.join("data").join("PG_VERSION").exists());

    drop(server);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still there"
    );
    assert!(!accepts(port), "port {port} still accepts connections");
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[test]
fn finds_the_server_binaries() {
    let dir = PostgresServer::find_bin_dir().unwrap();
    assert!(dir.join("postgres").is_file());
    assert!(dir.join("initdb").is_file());
}
