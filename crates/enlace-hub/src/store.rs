//! The only module that speaks SQL. Everything else asks it typed questions.
//!
//! Two backends through sqlx's `Any` driver, chosen by the URL: a SQLite file (the default: one
//! instance, WAL) or PostgreSQL (several instances sharing one database). Statements are
//! portable (BIGINT millisecond timestamps, integer flags, `$n` placeholders that both accept);
//! each backend has its own migration folder with the same versions and the same tables.
//! Migrations are embedded, applied in order, each in a transaction (on PostgreSQL under an
//! advisory lock, so instances starting together do not race); a database written by a newer
//! hub is refused instead of being damaged.
//!
//! PostgreSQL-only parts live here too: the event append takes a transaction-scoped advisory
//! lock so ids commit in id order and announces the new id with `NOTIFY`, and
//! [`crate::cluster`] gets its listener and PBX-ownership lock connection from [`Store`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

mod whatsapp;
pub use whatsapp::{
    CommentRow, ConversationRow, MediaRow, MessageRow, NewInbound, NewOutbound, RoutingCandidate,
    StatusFact, TemplateRow,
};

/// Embedded migrations per backend: (version, SQL). Append only; never edit a released one.
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_pbx_requests.sql"),
    ),
    (3, include_str!("../migrations/sqlite/0003_whatsapp.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_pbx_requests.sql"),
    ),
    (3, include_str!("../migrations/postgres/0003_whatsapp.sql")),
];

/// Advisory-lock keys (PostgreSQL), one per purpose.
pub(crate) const MIGRATION_LOCK: i64 = 0x656e_6c61_6365_0001;
pub(crate) const EVENT_LOCK: i64 = 0x656e_6c61_6365_0002;
pub(crate) const PBX_LOCK: i64 = 0x656e_6c61_6365_0003;
/// Per-agent state locks: this base plus the agent id.
pub const AGENT_STATE_LOCK_BASE: i64 = 0x656e_6c61_6400_0000;
/// TCP keepalives of every PostgreSQL session, set on the server's side of the socket (sqlx
/// exposes no socket options and `unsafe` is forbidden here, so the client side cannot be
/// tuned): a crashed host or a network split ends the session — and releases its advisory
/// locks, PBX ownership above all — after about 2 s idle + 3 probes 1 s apart, or 5 s of
/// unacknowledged data (`tcp_user_timeout`), instead of the two hours of the Linux defaults.
/// The client side is covered by the owner's health check ([`crate::cluster`]).
pub(crate) const SESSION_KEEPALIVES: [&str; 4] = [
    "SET tcp_keepalives_idle = 2",
    "SET tcp_keepalives_interval = 1",
    "SET tcp_keepalives_count = 3",
    "SET tcp_user_timeout = 5000",
];

/// Applies [`SESSION_KEEPALIVES`]; a server too old for one of them keeps its default.
async fn set_keepalives(conn: &mut sqlx::postgres::PgConnection) {
    for statement in SESSION_KEEPALIVES {
        if let Err(e) = sqlx::raw_sql(statement).execute(&mut *conn).await {
            tracing::debug!(statement, error = %e, "keepalive setting refused");
        }
    }
}

/// `NOTIFY` channels (PostgreSQL): a new event id; a PBX request id; a PBX reply id.
pub(crate) const EVENTS_CHANNEL: &str = "enlace_events";
pub(crate) const PBX_REQUESTS_CHANNEL: &str = "enlace_pbx_requests";
pub(crate) const PBX_REPLIES_CHANNEL: &str = "enlace_pbx_replies";

/// Which database the hub runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One hub instance, an embedded file.
    Sqlite,
    /// Several hub instances sharing one server.
    Postgres,
}

impl Backend {
    /// The backend of a database URL: `sqlite:…` or `postgres://…` / `postgresql://…`.
    pub fn of(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Invalid(format!(
                "unsupported database URL {:?}: use sqlite://path or postgres://user@host/db",
                redact_url(url)
            )))
        }
    }

    fn migrations(self) -> &'static [(i64, &'static str)] {
        match self {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }
}

/// The URL without its password (user info or `?password=`), for messages, logs and `Debug`.
/// A URL that does not parse is shown only if it cannot hold a password.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            if parsed.query_pairs().any(|(k, _)| k == "password") {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "password" {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) if url.contains('@') || url.contains("password") => "<unparsable URL>".into(),
        Err(_) => url.to_owned(),
    }
}

/// Whether a database URL carries a password (user info or `?password=`).
pub fn url_has_password(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(parsed) => {
            parsed.password().is_some() || parsed.query_pairs().any(|(k, _)| k == "password")
        }
        Err(_) => url.contains('@') || url.contains("password"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("already exists")]
    Duplicate,
    #[error("the database was written by a newer hub (schema {found}, this hub knows {known})")]
    NewerSchema { found: i64, known: i64 },
    #[error("stored data is invalid: {0}")]
    Invalid(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Database(_) => "storage",
            StoreError::Duplicate => "duplicate",
            StoreError::NewerSchema { .. } => "storage_newer_schema",
            StoreError::Invalid(_) => "storage_invalid",
        }
    }
}

fn map_unique(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
        _ => StoreError::Database(e),
    }
}

/// `Debug` leaves the password hash out (it would let a log reader search 6-digit passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: i64,
    pub user: String,
    pub password_hash: String,
    pub name: String,
    pub extension: String,
    pub queues: Vec<String>,
    pub supervisor: bool,
    pub disabled: bool,
}

impl std::fmt::Debug for AgentRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRow")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("password_hash", &crate::config::REDACTED)
            .field("name", &self.name)
            .field("extension", &self.extension)
            .field("queues", &self.queues)
            .field("supervisor", &self.supervisor)
            .field("disabled", &self.disabled)
            .finish()
    }
}

#[derive(Clone)]
pub struct NewAgent<'a> {
    pub user: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
    pub extension: &'a str,
    pub queues: &'a [String],
    pub supervisor: bool,
}

impl std::fmt::Debug for NewAgent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAgent")
            .field("user", &self.user)
            .field("password_hash", &crate::config::REDACTED)
            .field("name", &self.name)
            .field("extension", &self.extension)
            .field("queues", &self.queues)
            .field("supervisor", &self.supervisor)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRow {
    pub agent_id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseReasonRow {
    pub id: i64,
    pub name: String,
    pub budget_seconds: Option<i64>,
    pub is_exit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    pub id: i64,
    pub agent_id: i64,
    pub state: String,
    pub reason_id: Option<i64>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub agent_id: Option<i64>,
    pub event_type: String,
    pub payload: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub call_id: String,
    pub agent_id: i64,
    pub direction: String,
    pub other_number: String,
    pub state: String,
    pub ringing_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_seconds: i64,
}

/// Handle to the hub database (cheap to clone). `Debug` shows the URL without its password.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://path`, created if missing, or `sqlite::memory:`;
    /// `postgres://user@host:port/db`, which must exist) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let connect_url = match backend {
            Backend::Sqlite if !url.contains('?') && !url.contains(":memory:") => {
                format!("{url}?mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&connect_url)?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(sqlx::raw_sql(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                            ))
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    // Pooled sessions hold agents' state locks: a dead peer must free them too.
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for statement in SESSION_KEEPALIVES {
                                if let Err(e) = conn.execute(sqlx::raw_sql(statement)).await {
                                    tracing::debug!(statement, error = %e, "keepalive setting refused");
                                }
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
        };
        let store = Store {
            pool,
            backend,
            url: url.into(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        let applied = self.migrate_on(&mut conn).await;
        if self.backend == Backend::Postgres {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // The session lock dies with the connection.
                conn.detach();
            }
        }
        applied
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        use sqlx::Connection;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS hub_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL DEFAULT 0)",
        )
        .execute(&mut *conn)
        .await?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM hub_schema")
            .fetch_one(&mut *conn)
            .await?
            .try_get("v")?;
        let migrations = self.backend.migrations();
        let known = migrations.last().map(|m| m.0).unwrap_or(0);
        if current > known {
            return Err(StoreError::NewerSchema {
                found: current,
                known,
            });
        }
        for (version, sql) in migrations.iter().filter(|m| m.0 > current) {
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO hub_schema (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- agents ----

    pub async fn insert_agent(&self, agent: &NewAgent<'_>, now: i64) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO agents (user_code, password_hash, name, extension, supervisor, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id",
        )
        .bind(agent.user)
        .bind(agent.password_hash)
        .bind(agent.name)
        .bind(agent.extension)
        .bind(i64::from(agent.supervisor))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_unique)?
        .try_get("id")?;
        for queue in agent.queues {
            sqlx::query("INSERT INTO agent_queues (agent_id, queue) VALUES ($1, $2)")
                .bind(id)
                .bind(queue)
                .execute(&mut *tx)
                .await
                .map_err(map_unique)?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn queues_of(&self, agent_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT queue FROM agent_queues WHERE agent_id = $1 ORDER BY queue")
            .bind(agent_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("queue").map_err(StoreError::from))
            .collect()
    }

    async fn agent_from_row(&self, row: &AnyRow) -> Result<AgentRow, StoreError> {
        let id: i64 = row.try_get("id")?;
        Ok(AgentRow {
            id,
            user: row.try_get("user_code")?,
            password_hash: row.try_get("password_hash")?,
            name: row.try_get("name")?,
            extension: row.try_get("extension")?,
            queues: self.queues_of(id).await?,
            supervisor: row.try_get::<i64, _>("supervisor")? != 0,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
        })
    }

    pub async fn agent_by_user(&self, user: &str) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM agents WHERE user_code = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.agent_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn agent_by_id(&self, id: i64) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.agent_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM agents ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.agent_from_row(r).await?);
        }
        Ok(out)
    }

    /// Returns whether an agent with that user exists.
    pub async fn set_agent_disabled(&self, user: &str, disabled: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE agents SET disabled = $1 WHERE user_code = $2")
            .bind(i64::from(disabled))
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Returns whether an agent with that user exists.
    pub async fn set_password_hash(&self, user: &str, hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE agents SET password_hash = $1 WHERE user_code = $2")
            .bind(hash)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- sessions ----

    pub async fn insert_session(
        &self,
        token_hash: &str,
        agent_id: i64,
        now: i64,
        expires_at: i64,
        address: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, agent_id, created_at, expires_at, last_seen, address) \
             VALUES ($1, $2, $3, $4, $3, $5)",
        )
        .bind(token_hash)
        .bind(agent_id)
        .bind(now)
        .bind(expires_at)
        .bind(address)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT agent_id, created_at, expires_at, last_seen FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                agent_id: r.try_get("agent_id")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                last_seen: r.try_get("last_seen")?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(
        &self,
        token_hash: &str,
        last_seen: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(last_seen)
            .bind(expires_at)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_agent_sessions(&self, agent_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE agent_id = $1")
            .bind(agent_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn count_agent_sessions(&self, agent_id: i64, now: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions WHERE agent_id = $1 AND expires_at > $2",
        )
        .bind(agent_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
    }

    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // ---- login failures ----

    pub async fn record_login_failure(
        &self,
        user: &str,
        address: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO login_failures (user_code, address, at) VALUES ($1, $2, $3)")
            .bind(user)
            .bind(address)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// (count, latest failure time) for a user since `since`.
    pub async fn failures_for_user(
        &self,
        user: &str,
        since: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE user_code = $1 AND at > $2",
        )
        .bind(user)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("n")?, r.try_get("last")?))
    }

    /// (count, latest failure time) for an address since `since`.
    pub async fn failures_for_address(
        &self,
        address: &str,
        since: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE address = $1 AND at > $2",
        )
        .bind(address)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("n")?, r.try_get("last")?))
    }

    /// Moves failures stamped after `now` (the clock jumped back) to `now`.
    pub async fn restamp_future_failures(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE login_failures SET at = $1 WHERE at > $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn clear_user_failures(&self, user: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE user_code = $1")
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn prune_login_failures(&self, before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- pause reasons ----

    pub async fn insert_pause_reason(
        &self,
        name: &str,
        budget_seconds: Option<i64>,
        is_exit: bool,
        now: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO pause_reasons (name, budget_seconds, is_exit, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(budget_seconds)
        .bind(i64::from(is_exit))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(map_unique)?
        .try_get("id")?)
    }

    fn reason_from_row(r: &AnyRow) -> Result<PauseReasonRow, StoreError> {
        Ok(PauseReasonRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            budget_seconds: r.try_get("budget_seconds")?,
            is_exit: r.try_get::<i64, _>("is_exit")? != 0,
        })
    }

    pub async fn pause_reasons(&self) -> Result<Vec<PauseReasonRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM pause_reasons ORDER BY is_exit, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::reason_from_row).collect()
    }

    pub async fn pause_reason(&self, id: i64) -> Result<Option<PauseReasonRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM pause_reasons WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::reason_from_row).transpose()
    }

    // ---- agent states ----

    pub async fn append_state(
        &self,
        agent_id: i64,
        state: &str,
        reason_id: Option<i64>,
        at: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO agent_state_log (agent_id, state, reason_id, at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(agent_id)
        .bind(state)
        .bind(reason_id)
        .bind(at)
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?)
    }

    /// Appends a state row and its event in one transaction (so no state is stored that the
    /// stream never delivers); returns (state row id, event id). On PostgreSQL the event
    /// advisory lock is taken first, as in [`Store::append_event`].
    #[allow(clippy::too_many_arguments)]
    pub async fn append_state_and_event(
        &self,
        agent_id: i64,
        state: &str,
        reason_id: Option<i64>,
        at: i64,
        event_type: &str,
        payload: &str,
        event_at: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let state_id: i64 = sqlx::query(
            "INSERT INTO agent_state_log (agent_id, state, reason_id, at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(agent_id)
        .bind(state)
        .bind(reason_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let event_id: i64 = sqlx::query(
            "INSERT INTO events (agent_id, event_type, payload, at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(Some(agent_id))
        .bind(event_type)
        .bind(payload)
        .bind(event_at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        if self.backend == Backend::Postgres {
            notify(&mut tx, EVENTS_CHANNEL, event_id).await?;
        }
        tx.commit().await?;
        Ok((state_id, event_id))
    }

    fn state_from_row(r: &AnyRow) -> Result<StateRow, StoreError> {
        Ok(StateRow {
            id: r.try_get("id")?,
            agent_id: r.try_get("agent_id")?,
            state: r.try_get("state")?,
            reason_id: r.try_get("reason_id")?,
            at: r.try_get("at")?,
        })
    }

    pub async fn current_state(&self, agent_id: i64) -> Result<Option<StateRow>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM agent_state_log WHERE agent_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::state_from_row).transpose()
    }

    /// The state in force at `since` (if any) followed by every change after it.
    pub async fn states_since(
        &self,
        agent_id: i64,
        since: i64,
    ) -> Result<Vec<StateRow>, StoreError> {
        let mut out = Vec::new();
        if let Some(r) = sqlx::query(
            "SELECT * FROM agent_state_log WHERE agent_id = $1 AND at <= $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(agent_id)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?
        {
            out.push(Self::state_from_row(&r)?);
        }
        let rows = sqlx::query(
            "SELECT * FROM agent_state_log WHERE agent_id = $1 AND at > $2 ORDER BY id",
        )
        .bind(agent_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(Self::state_from_row(r)?);
        }
        Ok(out)
    }

    // ---- calls ----

    /// Records the call as it is now: every fact of the latest update replaces the stored one
    /// (the PBX tells the number and the direction as the call goes on).
    pub async fn upsert_call(&self, call: &CallRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO calls (call_id, agent_id, direction, other_number, state, ringing_at, answered_at, ended_at, duration_seconds) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (call_id, agent_id) DO UPDATE SET direction = excluded.direction, \
             other_number = excluded.other_number, state = excluded.state, ringing_at = excluded.ringing_at, \
             answered_at = excluded.answered_at, ended_at = excluded.ended_at, \
             duration_seconds = excluded.duration_seconds",
        )
        .bind(&call.call_id)
        .bind(call.agent_id)
        .bind(&call.direction)
        .bind(&call.other_number)
        .bind(&call.state)
        .bind(call.ringing_at)
        .bind(call.answered_at)
        .bind(call.ended_at)
        .bind(call.duration_seconds)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn calls_since(&self, agent_id: i64, since: i64) -> Result<Vec<CallRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM calls WHERE agent_id = $1 AND ringing_at >= $2 ORDER BY ringing_at",
        )
        .bind(agent_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Self::call_rows(&rows)
    }

    /// Every stored call that has not ended (ringing or answered), oldest first.
    pub async fn open_calls(&self) -> Result<Vec<CallRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM calls WHERE state <> 'ended' AND ended_at IS NULL ORDER BY ringing_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Self::call_rows(&rows)
    }

    fn call_rows(rows: &[AnyRow]) -> Result<Vec<CallRow>, StoreError> {
        rows.iter()
            .map(|r| {
                Ok(CallRow {
                    call_id: r.try_get("call_id")?,
                    agent_id: r.try_get("agent_id")?,
                    direction: r.try_get("direction")?,
                    other_number: r.try_get("other_number")?,
                    state: r.try_get("state")?,
                    ringing_at: r.try_get("ringing_at")?,
                    answered_at: r.try_get("answered_at")?,
                    ended_at: r.try_get("ended_at")?,
                    duration_seconds: r.try_get("duration_seconds")?,
                })
            })
            .collect()
    }

    // ---- events ----

    /// Appends an event and returns its id. On PostgreSQL the insert runs under a
    /// transaction-scoped advisory lock, so ids become visible in id order to every instance
    /// (a reader never sees id n+1 before n), and `NOTIFY` announces the id at commit.
    pub async fn append_event(
        &self,
        agent_id: Option<i64>,
        event_type: &str,
        payload: &str,
        at: i64,
    ) -> Result<i64, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO events (agent_id, event_type, payload, at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(agent_id)
        .bind(event_type)
        .bind(payload)
        .bind(at);
        match self.backend {
            Backend::Sqlite => Ok(insert.fetch_one(&self.pool).await?.try_get("id")?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(EVENT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let id: i64 = insert.fetch_one(&mut *tx).await?.try_get("id")?;
                notify(&mut tx, EVENTS_CHANNEL, id).await?;
                tx.commit().await?;
                Ok(id)
            }
        }
    }

    /// Appends the same event for each of `agent_ids` in one transaction (one commit instead
    /// of one per agent); the ids, in order. PostgreSQL: as [`Store::append_event`], one lock
    /// and one `NOTIFY` (of the last id) for all.
    pub async fn append_events(
        &self,
        agent_ids: &[i64],
        event_type: &str,
        payload: &str,
        at: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(agent_ids.len());
        if agent_ids.is_empty() {
            return Ok(ids);
        }
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        for agent_id in agent_ids {
            let id: i64 = sqlx::query(
                "INSERT INTO events (agent_id, event_type, payload, at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(agent_id)
            .bind(event_type)
            .bind(payload)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            ids.push(id);
        }
        if self.backend == Backend::Postgres {
            if let Some(last) = ids.last() {
                notify(&mut tx, EVENTS_CHANNEL, *last).await?;
            }
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// The highest event id (0 when the log is empty).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM events")
            .fetch_one(&self.pool)
            .await?
            .try_get("m")?)
    }

    /// Events with id greater than `after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    agent_id: r.try_get("agent_id")?,
                    event_type: r.try_get("event_type")?,
                    payload: r.try_get("payload")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Deletes events older than `before` and remembers the highest id removed; returns how
    /// many were removed.
    pub async fn prune_events(&self, before: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let max: Option<i64> = sqlx::query("SELECT MAX(id) AS m FROM events WHERE at < $1")
            .bind(before)
            .fetch_one(&mut *tx)
            .await?
            .try_get("m")?;
        let Some(max) = max else {
            return Ok(0);
        };
        let done = sqlx::query("DELETE FROM events WHERE id <= $1")
            .bind(max)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO hub_meta (name, value) VALUES ('pruned_through', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(max)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Highest event id removed by retention (0 if none).
    pub async fn pruned_through(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT value FROM hub_meta WHERE name = 'pruned_through'")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("value")?,
            None => 0,
        })
    }

    // ---- PBX requests between instances (PostgreSQL) ----

    /// Queues a PBX command for the instance that holds the PBX connection; returns its id.
    pub async fn insert_pbx_request(&self, command: &str, now: i64) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO pbx_requests (command, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(command)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        if self.backend == Backend::Postgres {
            notify(&mut tx, PBX_REQUESTS_CHANNEL, id).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the unclaimed requests (oldest first); each is returned to exactly one caller.
    pub async fn claim_pbx_requests(&self) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "UPDATE pbx_requests SET claimed = 1 WHERE claimed = 0 RETURNING id, command, created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("command")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect::<Result<Vec<(i64, String, i64)>, StoreError>>()?;
        out.sort_by_key(|r| r.0);
        Ok(out)
    }

    /// Stores a request's reply and announces it.
    pub async fn finish_pbx_request(
        &self,
        id: i64,
        reply: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE pbx_requests SET reply = $1, done_at = $2 WHERE id = $3")
            .bind(reply)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if self.backend == Backend::Postgres {
            notify(&mut tx, PBX_REPLIES_CHANNEL, id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A request's reply, once written.
    pub async fn pbx_reply(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT reply FROM pbx_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("reply")?,
            None => None,
        })
    }

    /// Removes requests created before `before` (answered or abandoned).
    pub async fn prune_pbx_requests(&self, before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pbx_requests WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- PostgreSQL connections of the cluster ----

    /// PostgreSQL: takes the agent's state lock (shared by every instance) on a pooled
    /// connection and returns it; give it back to [`Store::unlock_agent_state`]. SQLite: `None`
    /// (one instance; its in-process lock is enough).
    pub(crate) async fn lock_agent_state(
        &self,
        agent_id: i64,
    ) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Any>>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(AGENT_STATE_LOCK_BASE.saturating_add(agent_id))
            .execute(&mut *conn)
            .await?;
        Ok(Some(conn))
    }

    /// Releases what [`Store::lock_agent_state`] took; a connection that cannot say so is
    /// closed (its session's locks end with it).
    pub(crate) async fn unlock_agent_state(
        mut conn: sqlx::pool::PoolConnection<sqlx::Any>,
        agent_id: i64,
    ) {
        let released = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(AGENT_STATE_LOCK_BASE.saturating_add(agent_id))
            .execute(&mut *conn)
            .await;
        if released.is_err() {
            conn.close_on_drop();
        }
    }

    /// A `LISTEN` connection on the hub's channels (PostgreSQL only).
    pub(crate) async fn listener(&self) -> Result<sqlx::postgres::PgListener, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener
            .listen_all([EVENTS_CHANNEL, PBX_REQUESTS_CHANNEL, PBX_REPLIES_CHANNEL])
            .await?;
        Ok(listener)
    }

    /// Tries to take the PBX-ownership lock on a connection of its own; the lock is held as
    /// long as the returned connection lives (and dies with it, e.g. when the process dies, or
    /// within seconds when the host crashes or the network splits: [`SESSION_KEEPALIVES`]).
    pub(crate) async fn try_pbx_ownership(
        &self,
    ) -> Result<Option<sqlx::postgres::PgConnection>, StoreError> {
        use sqlx::Connection;
        let mut conn = sqlx::postgres::PgConnection::connect(&self.url).await?;
        set_keepalives(&mut conn).await;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
            .bind(PBX_LOCK)
            .fetch_one(&mut conn)
            .await?
            .try_get("got")?;
        if got {
            Ok(Some(conn))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }
}

async fn notify(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    channel: &str,
    id: i64,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
