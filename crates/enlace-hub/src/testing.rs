//! A hub for the tests of the crates that talk to it (the desktop's client, the hub phone line,
//! the app, the end-to-end tests): in-process on a free loopback port, a SQLite file in the
//! given folder, a cheap password cost, optionally the AMI double as its PBX, one agent in
//! queue `support` and the pause reasons Baño (15 min) and Salida. Not for production use.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use enlace_core::Clock;

use crate::auth::{hash_password, PasswordCost};
use crate::config::{AmiSettings, HubConfig};
use crate::store::NewAgent;
use crate::Hub;

/// A password cost that keeps tests fast (never use it for real passwords).
pub const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
/// The seeded agent: user, password, name, extension.
pub const AGENT: (&str, &str, &str, &str) = ("1234567", "123456", "Ana", "1001");
/// Its queue.
pub const QUEUE: &str = "support";

/// The configuration of a test hub in `dir`, with `ami` (the double's address) as its PBX.
pub fn config(dir: &Path, ami: Option<SocketAddr>) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        ami: ami.map(|addr| AmiSettings {
            addr: addr.to_string(),
            username: "ami".into(),
            secret: "amisecret".into(),
            secret_file: None,
            interface_template: "PJSIP/{extension}".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 5,
        }),
        ..HubConfig::default()
    }
}

/// How long [`Served::shutdown`] waits for the server to finish.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// Any hub serving its API on a listener (plain or TLS); a graceful [`Served::shutdown`] or,
/// when dropped, stopped at once. The server of every hub test.
pub struct Served {
    pub addr: SocketAddr,
    pub hub: Hub,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").field("addr", &self.addr).finish()
    }
}

impl Served {
    /// Opens a hub with `config` and serves it on `addr` (`127.0.0.1:0` for a free port, or
    /// the address of a hub being restarted).
    pub async fn start(config: HubConfig, clock: Arc<dyn Clock>, addr: &str) -> Served {
        let hub = match Hub::open(config, clock).await {
            Ok(hub) => hub,
            Err(e) => panic!("test hub: {e}"),
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => panic!("test hub: bind {addr}: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("test hub: {e}"),
        };
        Served::serve(hub, listener, addr)
    }

    /// Serves an open hub on `listener`, whose address is `addr`.
    pub fn serve<L>(hub: Hub, listener: L, addr: SocketAddr) -> Served
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
        crate::api::PeerAddr:
            for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::api::serve(hub.clone(), listener, async move {
            let _ = stopped.await;
        }));
        Served {
            addr,
            hub,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop: open streams close, the server finishes (it must, and without error),
    /// the database is closed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(STOP_WAIT, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("test hub: serve failed: {e}"),
                Ok(Err(e)) => panic!("test hub: server task: {e}"),
                Err(_) => panic!("test hub: the server did not stop in {STOP_WAIT:?}"),
            }
        }
        self.hub.store().close().await;
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The seeded test hub ([`AGENT`], the pause reasons) serving on a free port.
pub struct TestHub {
    pub addr: SocketAddr,
    pub hub: Hub,
    _served: Served,
}

impl std::fmt::Debug for TestHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHub").field("addr", &self.addr).finish()
    }
}

impl TestHub {
    /// Open, seed [`AGENT`] with the pause reasons, and serve on a free port.
    pub async fn start(dir: &Path, ami: Option<SocketAddr>, clock: Arc<dyn Clock>) -> TestHub {
        let served = Served::start(config(dir, ami), clock, "127.0.0.1:0").await;
        seed(&served.hub).await;
        TestHub {
            addr: served.addr,
            hub: served.hub.clone(),
            _served: served,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self._served.url()
    }
}

async fn seed(hub: &Hub) {
    let (user, password, name, extension) = AGENT;
    let now = 1_767_225_600_000;
    let seeded = async {
        let hash = hash_password(password, CHEAP)?;
        hub.store()
            .insert_agent(
                &NewAgent {
                    user,
                    password_hash: &hash,
                    name,
                    extension,
                    queues: &[QUEUE.to_string()],
                    supervisor: false,
                },
                now,
            )
            .await?;
        for (reason, budget, exit) in [("Baño", Some(900), false), ("Salida", None, true)] {
            hub.store()
                .insert_pause_reason(reason, budget, exit, now)
                .await?;
        }
        Ok::<(), crate::error::HubError>(())
    };
    if let Err(e) = seeded.await {
        panic!("test hub: seed: {e}");
    }
}
