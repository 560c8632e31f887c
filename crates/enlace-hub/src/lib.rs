//! `enlace-hub`: the organization's server. It owns agents and their logins, pause reasons and
//! agent states, the PBX connector (Asterisk AMI through `enlace-ami`), the durable event log
//! and the per-agent WebSocket stream.
//!
//! Layout (one concern per module):
//! - [`store`] owns ALL SQL (sqlx, embedded migrations, portable statements);
//! - [`auth`] logins, sessions, throttling; [`agents`] the agent state machine and budgets;
//! - [`events`] the durable log + per-agent fan-out; [`pbx`] the AMI connector;
//! - [`cluster`] several instances on PostgreSQL: events between instances (LISTEN/NOTIFY),
//!   PBX ownership (an advisory lock) and PBX commands relayed to the owner;
//! - [`api`] the axum HTTP/WebSocket surface; [`cli`] the `enlace-hub` commands;
//! - [`config`] the `enlace-hub.toml` file (secrets from files or the environment, never in
//!   `Debug`); [`forwarded`] the client's address behind trusted proxies; [`tls`] the rustls
//!   listener.
//!
//! To extend: add SQL to `store` (new migration file for schema changes), the behaviour as an
//! `impl Hub` method in the module that owns the concern, then the route in `api::routes()` and
//! its `#[utoipa::path]` in [`openapi`] (a test fails if a route is missing there); the wire
//! types live in `enlace-hub-api`.

pub mod agents;
pub mod api;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod events;
pub mod forwarded;
pub mod openapi;
pub mod pbx;
pub mod store;
pub mod testing;
pub mod tls;
pub mod whatsapp;

use std::collections::HashSet;
use std::sync::Arc;

use enlace_core::Clock;
use tokio::sync::Mutex;

pub use config::HubConfig;
pub use error::HubError;

use crate::events::EventLog;
use crate::pbx::Pbx;
use crate::store::{Backend, Store};

/// The running hub: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    config: HubConfig,
    store: Store,
    clock: Arc<dyn Clock>,
    events: EventLog,
    /// The PBX connector when this instance holds it: always with SQLite (or without a PBX);
    /// with PostgreSQL only on the instance that owns the PBX connection.
    pbx: std::sync::RwLock<Option<Arc<Pbx>>>,
    /// Whether this instance runs the housekeeping (budgets, pruning): always with SQLite,
    /// the PBX owner with PostgreSQL.
    housekeeper: std::sync::atomic::AtomicBool,
    cluster: cluster::Cluster,
    /// One lock per agent serializing that agent's state changes (they touch the PBX and the
    /// log together); an agent whose PBX action is slow delays nobody else. See
    /// `agents::StateGuard`.
    state_locks: std::sync::Mutex<std::collections::HashMap<i64, Arc<Mutex<()>>>>,
    /// Verified against when a user does not exist, so both paths cost the same.
    dummy_hash: String,
    /// `trusted_proxies`, parsed.
    proxies: Vec<forwarded::Cidr>,
    /// Set once the hub stops: open streams close.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Pause log ids whose budget warning was already sent.
    budget_warned: std::sync::Mutex<HashSet<i64>>,
    /// One lock per user being logged in (see `auth`).
    login_locks: std::sync::Mutex<std::collections::HashMap<String, Arc<Mutex<()>>>>,
    /// WhatsApp: the Graph client, the outbox's pacing (see [`whatsapp`]).
    whatsapp: whatsapp::Runtime,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("listen", &self.inner.config.listen)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Opens the database, starts the PBX connection (when configured) and its event follower.
    /// Must run inside a tokio runtime.
    pub async fn open(config: HubConfig, clock: Arc<dyn Clock>) -> Result<Hub, HubError> {
        let proxies = config.proxies().map_err(HubError::Internal)?;
        let store = Store::open(&config.database_url).await?;
        let cost = config.password_cost();
        let dummy_hash = tokio::task::spawn_blocking(move || auth::hash_password("000000", cost))
            .await
            .map_err(|e| HubError::Internal(format!("hash task: {e}")))??;
        let clustered = store.backend() == Backend::Postgres;
        let events = if clustered {
            EventLog::following(store.clone(), store.last_event_id().await?)
        } else {
            EventLog::new(store.clone())
        };
        // One instance: the PBX connector is ours from the start. Several: the owner starts
        // it when it takes the lock; without a PBX every instance has the inert connector.
        let (pbx, ami_events) = if clustered && config.ami.is_some() {
            (None, None)
        } else {
            let (pbx, rx) = Pbx::start(config.ami.clone());
            (Some(Arc::new(pbx)), rx)
        };
        let whatsapp = whatsapp::Runtime::new(config.whatsapp.clone())?;
        let hub = Hub {
            inner: Arc::new(HubInner {
                events,
                store,
                clock,
                pbx: std::sync::RwLock::new(pbx.clone()),
                housekeeper: std::sync::atomic::AtomicBool::new(!clustered),
                cluster: cluster::Cluster::default(),
                config,
                state_locks: std::sync::Mutex::new(std::collections::HashMap::new()),
                dummy_hash,
                proxies,
                stopping: tokio::sync::watch::Sender::new(false),
                budget_warned: std::sync::Mutex::new(HashSet::new()),
                login_locks: std::sync::Mutex::new(std::collections::HashMap::new()),
                whatsapp,
            }),
        };
        if let (Some(pbx), Some(rx)) = (pbx, ami_events) {
            tokio::spawn(pbx::follow_events(hub.clone(), pbx, rx));
        }
        if clustered {
            cluster::start(&hub);
        }
        if hub.config().whatsapp.is_some() {
            tokio::spawn(whatsapp::run(hub.clone()));
        }
        Ok(hub)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn events(&self) -> &EventLog {
        &self.inner.events
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// The address a request from `peer` is throttled under (see [`forwarded`]).
    pub fn client_address(
        &self,
        peer: std::net::IpAddr,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        forwarded::client_address(peer, headers, &self.inner.proxies)
    }

    /// This instance's PBX connector, when it holds it.
    pub(crate) fn local_pbx(&self) -> Option<Arc<Pbx>> {
        self.inner
            .pbx
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_local_pbx(&self, pbx: Option<Arc<Pbx>>) -> Option<Arc<Pbx>> {
        std::mem::replace(
            &mut *self
                .inner
                .pbx
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            pbx,
        )
    }

    pub(crate) fn cluster(&self) -> &cluster::Cluster {
        &self.inner.cluster
    }

    /// Whether this instance holds the PBX connection and runs the housekeeping (always with
    /// SQLite; with PostgreSQL exactly one instance at a time).
    pub fn is_owner(&self) -> bool {
        self.inner
            .housekeeper
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn set_owner(&self, owner: bool) {
        self.inner
            .housekeeper
            .store(owner, std::sync::atomic::Ordering::SeqCst);
    }

    /// Now, from the injected clock (ms since the epoch).
    pub fn now(&self) -> i64 {
        self.inner.clock.now().millis()
    }

    /// Periodic housekeeping, run every few seconds by `serve` (tests call it directly after
    /// moving their clock): expired sessions and disabled agents are logged out, pause budgets
    /// are checked, old events and login failures are pruned.
    pub async fn tick(&self) -> Result<(), HubError> {
        if !self.is_owner() {
            return Ok(());
        }
        let now = self.now();
        self.store().delete_expired_sessions(now).await?;
        self.reconcile_logins().await?;
        self.check_budgets().await?;
        let retention =
            i64::try_from(self.config().event_retention().as_millis()).unwrap_or(i64::MAX);
        self.store()
            .prune_events(now.saturating_sub(retention))
            .await?;
        self.store()
            .prune_login_failures(now.saturating_sub(auth::FAILURE_WINDOW_MS))
            .await?;
        self.store()
            .prune_pbx_requests(now.saturating_sub(cluster::REQUEST_RETENTION_MS))
            .await?;
        Ok(())
    }

    /// A receiver that turns `true` when the hub stops.
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }

    /// Closes open streams and the PBX connection.
    pub async fn shutdown(&self) {
        self.inner.stopping.send_replace(true);
        if let Some(pbx) = self.set_local_pbx(None) {
            pbx.shutdown().await;
        }
    }
}
