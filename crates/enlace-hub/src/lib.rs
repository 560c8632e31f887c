//! `enlace-hub`: the organization's server. It owns agents and their logins, pause reasons and
//! agent states, the PBX connector (Asterisk AMI through `enlace-ami`), the durable event log
//! and the per-agent WebSocket stream.
//!
//! Layout (one concern per module):
//! - [`store`] owns ALL SQL (sqlx, embedded migrations, portable statements);
//! - [`auth`] logins, sessions, throttling; [`agents`] the agent state machine and budgets;
//! - [`events`] the durable log + per-agent fan-out; [`pbx`] the AMI connector;
//! - [`api`] the axum HTTP/WebSocket surface; [`cli`] the `enlace-hub` commands;
//! - [`config`] the `enlace-hub.toml` file; [`tls`] the rustls listener.
//!
//! To extend: add SQL to `store` (new migration file for schema changes), the behaviour as an
//! `impl Hub` method in the module that owns the concern, then the route in `api::routes()` and
//! in `openapi.json` (a test fails if a route is missing there).

pub mod agents;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod pbx;
pub mod store;
pub mod testing;
pub mod tls;

use std::collections::HashSet;
use std::sync::Arc;

use enlace_core::Clock;
use tokio::sync::Mutex;

pub use config::HubConfig;
pub use error::HubError;

use crate::events::EventLog;
use crate::pbx::Pbx;
use crate::store::Store;

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
    pbx: Pbx,
    /// Serializes agent state changes (they touch the PBX and the log together).
    state_lock: Mutex<()>,
    /// Verified against when a user does not exist, so both paths cost the same.
    dummy_hash: String,
    /// Set once the hub stops: open streams close.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Pause log ids whose budget warning was already sent.
    budget_warned: std::sync::Mutex<HashSet<i64>>,
    /// One lock per user being logged in (see `auth`).
    login_locks: std::sync::Mutex<std::collections::HashMap<String, Arc<Mutex<()>>>>,
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
        let store = Store::open(&config.database_url).await?;
        let cost = config.password_cost();
        let dummy_hash = tokio::task::spawn_blocking(move || auth::hash_password("000000", cost))
            .await
            .map_err(|e| HubError::Internal(format!("hash task: {e}")))??;
        let (pbx, ami_events) = Pbx::start(config.ami.clone());
        let hub = Hub {
            inner: Arc::new(HubInner {
                events: EventLog::new(store.clone()),
                store,
                clock,
                pbx,
                config,
                state_lock: Mutex::new(()),
                dummy_hash,
                stopping: tokio::sync::watch::Sender::new(false),
                budget_warned: std::sync::Mutex::new(HashSet::new()),
                login_locks: std::sync::Mutex::new(std::collections::HashMap::new()),
            }),
        };
        if let Some(rx) = ami_events {
            tokio::spawn(pbx::follow_events(hub.clone(), rx));
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

    pub(crate) fn pbx(&self) -> &Pbx {
        &self.inner.pbx
    }

    /// Now, from the injected clock (ms since the epoch).
    pub fn now(&self) -> i64 {
        self.inner.clock.now().millis()
    }

    /// Periodic housekeeping, run every few seconds by `serve` (tests call it directly after
    /// moving their clock): expired sessions and disabled agents are logged out, pause budgets
    /// are checked, old events and login failures are pruned.
    pub async fn tick(&self) -> Result<(), HubError> {
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
        Ok(())
    }

    /// A receiver that turns `true` when the hub stops.
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }

    /// Closes open streams and the PBX connection.
    pub async fn shutdown(&self) {
        self.inner.stopping.send_replace(true);
        self.pbx().shutdown().await;
    }
}
