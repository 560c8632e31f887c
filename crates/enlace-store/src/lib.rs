//! `enlace-store` owns the desktop's SQLite database and is the only crate that touches
//! `rusqlite`. It holds the calls (Llamadas and Historial) with the CRM record each is about,
//! the dial attempts, the settings (one JSON document per key), the linked CRM accounts, the
//! outbox of CRM writes (delivered in order per CRM, exactly once; see [`OutboxEntry`]) and the
//! local cache of CRM contacts with its FTS5 index and caller-ID phone index, and the inbox
//! cache (WhatsApp conversations, messages, comments and the sends waiting for the hub; see
//! [`ChatMessage`]).
//!
//! Invariants:
//! - The schema is the ordered list of plain `.sql` files in `migrations/`, embedded in the
//!   binary ([`MIGRATIONS`]). Each one runs in its own transaction that also bumps
//!   `PRAGMA user_version`, so a database is always at a whole version.
//! - A database whose `user_version` is newer than [`MIGRATIONS`] knows is left untouched and
//!   reported as [`StoreError::TooNew`] (an older Enlace must never damage a newer one's data).
//! - Connections use WAL, `busy_timeout` = 5 s, `foreign_keys = ON`, `synchronous = NORMAL`.
//! - [`Store`] is synchronous and owns one connection; the app runs it off the UI thread (one
//!   writer thread or `spawn_blocking`).
//! - Tokens and passwords are never stored here (see `enlace-secrets`); only account references.
//!
//! To extend: add `migrations/NNNN_what.sql` (never edit a released file) and append it to
//! [`MIGRATIONS`]; add a module with an `impl Store` block for a new table; give new errors a
//! [`StoreError`] variant with a stable [`enlace_core::ErrorCode`].

mod calls;
mod chats;
mod contacts;
mod crm_accounts;
mod dial_attempts;
mod error;
mod migrate;
mod outbox;
mod outgoing;
mod paths;
mod settings;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{Clock, SystemClock};
use rusqlite::Connection;

pub use calls::{CallLog, CallRecordLink};
pub use chats::{
    ChatComment, ChatConversation, ChatConversationFacts, ChatCounts, ChatError, ChatFilter,
    ChatMessage, ChatPage, ChatSend, ChatState, ChatStatus, MAX_CHAT_PAGE,
};
pub use contacts::StoredContact;
pub use crm_accounts::StoredCrmAccount;
pub use dial_attempts::{DialAttempt, DialAttemptId};
pub use enlace_core::{Contact, ContactKind, Country, Crm, RecordRef};
pub use error::{DatabaseError, StoreError};
pub use migrate::{Migration, MIGRATIONS};
pub use outbox::{OutboxCounts, OutboxEntry, OutboxError, OutboxKind, OutboxState};
pub use outgoing::{OwnQuickAddress, SentPosition};
pub use paths::{
    data_dir, data_dir_from, database_path, database_path_from, Channel, DATABASE_FILE_NAME,
    DATA_DIR_ENV,
};

/// Result of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a statement waits for a lock held by another connection before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The open database: one connection, already migrated to the newest schema.
pub struct Store {
    conn: Connection,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (creating the file and its folder if needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with_migrations(path, MIGRATIONS)
    }

    /// Open with only the given migrations (a prefix of [`MIGRATIONS`]). This is the test hook
    /// that builds databases as an older Enlace left them; the app uses [`Store::open`].
    pub fn open_with_migrations(path: &Path, migrations: &[Migration]) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        Store::configure(conn, migrations)
    }

    /// A private database in memory (for tests of other crates and the demo mode).
    pub fn open_in_memory() -> Result<Store> {
        Store::configure(Connection::open_in_memory()?, MIGRATIONS)
    }

    fn configure(mut conn: Connection, migrations: &[Migration]) -> Result<Store> {
        // Connection-level settings first: they do not write to the file.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Refuse a newer schema before anything (WAL included) changes the file.
        migrate::check_version(&conn, migrations)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        migrate::apply(&mut conn, migrations)?;
        Ok(Store {
            conn,
            clock: Arc::new(SystemClock),
        })
    }

    /// Use `clock` for the `updated_at` columns (tests inject a fixed clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.clock = clock;
        self
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// The database file (`None` for a database in memory).
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// The journal mode in effect (`"wal"` for files, `"memory"` for in-memory databases).
    pub fn journal_mode(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))?)
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().millis()
    }
}

// The app moves the store to its writer thread.
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<Store>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(store: &Store, name: &str) -> i64 {
        store
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn connection_pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.sqlite3")).unwrap();
        assert_eq!(pragma(&store, "foreign_keys"), 1);
        assert_eq!(pragma(&store, "synchronous"), 1, "NORMAL");
        assert_eq!(pragma(&store, "busy_timeout"), 5_000);
        assert_eq!(store.journal_mode().unwrap(), "wal");
        let memory = Store::open_in_memory().unwrap();
        assert_eq!(memory.schema_version().unwrap(), MIGRATIONS.len() as u32);
        assert_eq!(pragma(&memory, "foreign_keys"), 1);
    }
}
