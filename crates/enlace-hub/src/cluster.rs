//! Several hub instances on one PostgreSQL database.
//!
//! - **Events between instances.** Appends `NOTIFY enlace_events` with the new id at commit
//!   (under an advisory lock, so ids commit in order). Every instance LISTENs and then
//!   publishes from the log past its cursor ([`crate::events::EventLog::catch_up`]); a poll
//!   every second covers notifications lost while the listener reconnects. An agent connected
//!   to instance B therefore receives what instance A wrote, in id order, exactly once.
//! - **PBX ownership.** Exactly one instance holds the session-level advisory lock
//!   [`crate::store::PBX_LOCK`] on a connection of its own; it runs the AMI connection, the
//!   call tracking and the housekeeping ([`crate::Hub::tick`]). The others try to take the
//!   lock every second: when the owner dies its database session ends, the lock is released
//!   and another instance takes over within a few seconds — also when the owner's host
//!   crashes or the network splits, since the server drops a silent session after seconds
//!   ([`crate::store::SESSION_KEEPALIVES`]). The owner checks its lock connection every
//!   [`OWNER_CHECK`] (a check unanswered in [`HEALTH_TIMEOUT`] counts as lost) and drops its
//!   AMI connection as soon as it is lost; a new owner waits [`OWNER_GRACE`], longer than
//!   that check, before connecting to the PBX, so two owners never act together (a silent
//!   owner gives up after at most `OWNER_CHECK + HEALTH_TIMEOUT`, before the server frees
//!   its lock).
//! - **PBX commands from the other instances** (pause, unpause, queue membership,
//!   click-to-dial) are rows in `pbx_requests` with `NOTIFY enlace_pbx_requests`; the owner
//!   claims them, carries them out and writes the reply (`NOTIFY enlace_pbx_replies`). The
//!   asking instance waits a bounded time and reports `pbx_offline` when no owner answers.
//!
//! To extend: a new PBX operation is a [`crate::pbx::PbxCommand`] variant plus its arm in
//! `Hub::execute_pbx_command`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use enlace_hub_api::ApiErrorCode;
use tokio::sync::Notify;

use crate::error::HubError;
use crate::pbx::{Pbx, PbxCommand, PbxReply};
use crate::store::{EVENTS_CHANNEL, PBX_REPLIES_CHANNEL, PBX_REQUESTS_CHANNEL};
use crate::Hub;

/// How often the log is polled and the ownership lock tried or checked.
const TICK: Duration = Duration::from_secs(1);
/// A relayed request older than this when the owner sees it is refused (its asker gave up).
const REQUEST_STALE_MS: i64 = 15_000;
/// Answered or abandoned requests are removed after this long.
pub(crate) const REQUEST_RETENTION_MS: i64 = 10 * 60 * 1000;
/// How often the owner checks that its lock connection is alive.
pub(crate) const OWNER_CHECK: Duration = Duration::from_millis(500);
/// How long the owner's lock connection may take to answer its health check. With
/// [`OWNER_CHECK`] it stays under the time the server takes to drop a silent session.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a new owner waits after taking the lock before it connects to the PBX: a previous
/// owner whose session the server ended notices within [`OWNER_CHECK`] and lets go first.
pub(crate) const OWNER_GRACE: Duration = Duration::from_millis(1500);

/// Whether the lock connection answers in time.
async fn alive(lock: &mut sqlx::postgres::PgConnection) -> bool {
    matches!(
        tokio::time::timeout(HEALTH_TIMEOUT, sqlx::query("SELECT 1").execute(&mut *lock)).await,
        Ok(Ok(_))
    )
}

/// Per-instance cluster state: requests this instance waits on, and the owner's wake-up.
#[derive(Debug, Default)]
pub struct Cluster {
    waiters: Mutex<HashMap<i64, Arc<Notify>>>,
    requests: Notify,
}

impl Cluster {
    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Notify>>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_waiter(&self, id: i64) {
        if let Some(waiter) = self.waiters().get(&id) {
            waiter.notify_one();
        }
    }

    fn wake_all_waiters(&self) {
        for waiter in self.waiters().values() {
            waiter.notify_one();
        }
    }
}

/// Starts the listener and the ownership loop (PostgreSQL only).
pub(crate) fn start(hub: &Hub) {
    tokio::spawn(listen(hub.clone()));
    tokio::spawn(own_pbx(hub.clone()));
}

/// Sends `command` to the PBX owner. With `wait`, waits up to that long for its reply;
/// without, returns once it is queued.
pub(crate) async fn relay(
    hub: &Hub,
    command: &PbxCommand,
    wait: Option<Duration>,
) -> Result<PbxReply, HubError> {
    let text =
        serde_json::to_string(command).map_err(|e| HubError::Internal(format!("encode: {e}")))?;
    let waiter = Arc::new(Notify::new());
    // A reply notified before the waiter is registered is caught by the poll below.
    let id = hub.store().insert_pbx_request(&text, hub.now()).await?;
    let Some(wait) = wait else {
        return Ok(PbxReply::Done);
    };
    hub.cluster().waiters().insert(id, waiter.clone());
    let deadline = tokio::time::Instant::now() + wait;
    let reply = loop {
        if let Some(reply) = hub.store().pbx_reply(id).await? {
            break Some(reply);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break None;
        }
        let nap = (deadline - now).min(Duration::from_millis(250));
        let _ = tokio::time::timeout(nap, waiter.notified()).await;
    };
    hub.cluster().waiters().remove(&id);
    match reply {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| HubError::Internal(format!("unreadable PBX reply {id}: {e}"))),
        None => Err(HubError::PbxOffline(
            "no hub instance holds the PBX connection right now".into(),
        )),
    }
}

/// Follows the notifications: new events are published, replies wake their askers, requests
/// wake the owner. Reconnects on its own; polls every [`TICK`] whatever happens.
async fn listen(hub: Hub) {
    let mut stopping = hub.stopping();
    loop {
        if *stopping.borrow() {
            return;
        }
        let mut listener = match hub.store().listener().await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN on the database; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(TICK) => continue,
                    _ = stopping.changed() => return,
                }
            }
        };
        catch_up(&hub).await;
        loop {
            tokio::select! {
                next = listener.try_recv() => match next {
                    Ok(Some(note)) => match note.channel() {
                        EVENTS_CHANNEL => catch_up(&hub).await,
                        PBX_REQUESTS_CHANNEL => hub.cluster().requests.notify_one(),
                        PBX_REPLIES_CHANNEL => {
                            if let Ok(id) = note.payload().parse::<i64>() {
                                hub.cluster().wake_waiter(id);
                            }
                        }
                        _ => {}
                    },
                    // The connection was lost and re-established: notifications may be lost.
                    Ok(None) => {
                        catch_up(&hub).await;
                        hub.cluster().wake_all_waiters();
                        hub.cluster().requests.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "database listener failed; reconnecting");
                        break;
                    }
                },
                _ = tokio::time::sleep(TICK) => catch_up(&hub).await,
                _ = stopping.changed() => return,
            }
        }
    }
}

async fn catch_up(hub: &Hub) {
    if let Err(e) = hub.events().catch_up().await {
        tracing::warn!(error = %e, "reading new events failed");
    }
}

/// Tries to become the PBX owner every [`TICK`]; while owner, runs the PBX and checks that
/// the lock connection is alive, giving everything up as soon as it is not.
async fn own_pbx(hub: Hub) {
    let mut stopping = hub.stopping();
    loop {
        if *stopping.borrow() {
            return;
        }
        match hub.store().try_pbx_ownership().await {
            Ok(Some(mut lock)) => {
                // A previous owner that just lost its lock lets go of the PBX first.
                tokio::select! {
                    _ = tokio::time::sleep(OWNER_GRACE) => {}
                    _ = stopping.changed() => return,
                }
                if !alive(&mut lock).await {
                    tracing::warn!("lost the PBX ownership lock connection before using it");
                    continue;
                }
                tracing::info!("this instance now owns the PBX connection");
                let mut tasks = Vec::new();
                if let Some(settings) = hub.config().ami.clone() {
                    let (pbx, events) = Pbx::start(Some(settings));
                    let pbx = Arc::new(pbx);
                    hub.set_local_pbx(Some(pbx.clone()));
                    if let Some(events) = events {
                        tasks.push(tokio::spawn(crate::pbx::follow_events(
                            hub.clone(),
                            pbx.clone(),
                            events,
                        )));
                    }
                    tasks.push(tokio::spawn(serve_requests(hub.clone(), pbx)));
                }
                hub.set_owner(true);
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(OWNER_CHECK) => {}
                        _ = stopping.changed() => break,
                    }
                    if !alive(&mut lock).await {
                        tracing::warn!("lost the PBX ownership lock connection; giving up the PBX");
                        break;
                    }
                }
                hub.set_owner(false);
                for task in tasks {
                    task.abort();
                }
                if hub.config().ami.is_some() {
                    if let Some(pbx) = hub.set_local_pbx(None) {
                        pbx.shutdown().await;
                    }
                }
                drop(lock);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot try the PBX ownership lock"),
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// The owner's side of [`relay`]: claims queued requests and carries each out on its own task
/// (a click-to-dial rings for a while; pauses must not wait behind it).
async fn serve_requests(hub: Hub, pbx: Arc<Pbx>) {
    loop {
        match hub.store().claim_pbx_requests().await {
            Ok(requests) => {
                for (id, text, created_at) in requests {
                    let hub = hub.clone();
                    let pbx = pbx.clone();
                    tokio::spawn(async move {
                        let reply = if hub.now().saturating_sub(created_at) > REQUEST_STALE_MS {
                            PbxReply::Failed {
                                code: ApiErrorCode::PbxOffline,
                                message: "the request waited too long for the PBX".into(),
                            }
                        } else {
                            match serde_json::from_str::<PbxCommand>(&text) {
                                Ok(command) => hub.execute_pbx_command(&pbx, command).await,
                                Err(e) => PbxReply::Failed {
                                    code: ApiErrorCode::InvalidRequest,
                                    message: format!("unreadable PBX request: {e}"),
                                },
                            }
                        };
                        let text = serde_json::to_string(&reply).unwrap_or_default();
                        if let Err(e) = hub.store().finish_pbx_request(id, &text, hub.now()).await {
                            tracing::warn!(error = %e, id, "storing a PBX reply failed");
                        }
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming PBX requests failed"),
        }
        let _ = tokio::time::timeout(TICK, hub.cluster().requests.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    /// The session settings that make the server drop a silent peer, as `SHOW` prints them.
    const EXPECTED: [(&str, &str); 4] = [
        ("SHOW tcp_keepalives_idle", "2"),
        ("SHOW tcp_keepalives_interval", "1"),
        ("SHOW tcp_keepalives_count", "3"),
        ("SHOW tcp_user_timeout", "5000"),
    ];

    fn text<R: Row>(row: Result<R, sqlx::Error>) -> String
    where
        usize: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        match row {
            Ok(row) => row.try_get::<String, _>(0usize).unwrap_or_default(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[tokio::test]
    async fn sessions_holding_locks_are_dropped_by_the_server_within_seconds_of_silence() {
        let pg = match enlace_peers::PostgresServer::start() {
            Ok(pg) => pg,
            Err(e) => panic!("PostgreSQL test server: {e}"),
        };
        let url = match pg.create_database("keepalive") {
            Ok(url) => url,
            Err(e) => panic!("createdb: {e}"),
        };
        let store = match crate::store::Store::open(&url).await {
            Ok(store) => store,
            Err(e) => panic!("open: {e}"),
        };
        // The PBX-ownership lock's own connection.
        let mut lock = match store.try_pbx_ownership().await {
            Ok(Some(lock)) => lock,
            other => panic!("ownership lock: {:?}", other.map(|c| c.is_some())),
        };
        for (show, want) in EXPECTED {
            let got = text(sqlx::query(show).fetch_one(&mut lock).await);
            assert_eq!(got, want, "lock connection: {show}");
        }
        // A pooled connection, as the agents' state locks use.
        let Ok(Some(mut pooled)) = store.lock_agent_state(1).await else {
            panic!("agent state lock");
        };
        for (show, want) in EXPECTED {
            let got = text(sqlx::query(show).fetch_one(&mut *pooled).await);
            assert_eq!(got, want, "pool: {show}");
        }
        crate::store::Store::unlock_agent_state(pooled, 1).await;
        store.close().await;
    }
}
