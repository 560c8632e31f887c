//! The store's error type. Every variant maps to a stable [`ErrorCode`].

use std::path::PathBuf;

use enlace_core::ErrorCode;

/// Anything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (I/O, full disk, locked past the busy timeout, constraint, ...).
    #[error("database error: {0}")]
    Database(#[from] DatabaseError),
    /// A migration failed; its transaction was rolled back, the database stays at `version - 1`.
    #[error("database migration {version} ({name}) failed: {source}")]
    Migration {
        version: u32,
        name: &'static str,
        source: DatabaseError,
    },
    /// The database was written by a newer Enlace. It was not modified.
    #[error(
        "the database has schema version {found} but this Enlace knows only up to {known}; \
         it was left untouched (update Enlace, or point ENLACE_DATA_DIR elsewhere)"
    )]
    TooNew { found: u32, known: u32 },
    /// The folder for the database could not be created.
    #[error("could not create the data folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The operating system reported no home folder to put the data folder in.
    #[error("no data folder: the home folder is unknown (set ENLACE_DATA_DIR)")]
    NoDataDir,
    /// No row with that id.
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    /// A setting holds invalid JSON or JSON of the wrong shape; callers fall back to defaults.
    #[error("setting {key} is unreadable: {reason}")]
    CorruptSetting { key: String, reason: String },
    /// A value given to the store is outside what the schema accepts (a programming error).
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: &'static str, reason: String },
    /// A stored row holds a value this version cannot read (edited by hand or damaged).
    #[error("unreadable {table} row {id}: {reason}")]
    CorruptRow {
        table: &'static str,
        id: String,
        reason: String,
    },
}

impl StoreError {
    /// The stable code the UI acts on.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::CorruptSetting { .. } => ErrorCode::InvalidSetting,
            StoreError::InvalidValue { .. } => ErrorCode::Internal,
            StoreError::Database(_)
            | StoreError::Migration { .. }
            | StoreError::TooNew { .. }
            | StoreError::CreateDir { .. }
            | StoreError::NoDataDir
            | StoreError::CorruptRow { .. } => ErrorCode::Storage,
        }
    }
}

/// An SQLite failure. Opaque so that no other crate depends on `rusqlite` types.
#[derive(Debug)]
pub struct DatabaseError(rusqlite::Error);

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(DatabaseError(e))
    }
}

impl From<rusqlite::Error> for DatabaseError {
    fn from(e: rusqlite::Error) -> Self {
        DatabaseError(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_kind_of_failure() {
        let not_found = StoreError::NotFound {
            what: "call",
            id: "c1".into(),
        };
        assert_eq!(not_found.code(), ErrorCode::NotFound);
        let corrupt = StoreError::CorruptSetting {
            key: "k".into(),
            reason: "r".into(),
        };
        assert_eq!(corrupt.code(), ErrorCode::InvalidSetting);
        assert_eq!(
            StoreError::TooNew { found: 9, known: 2 }.code(),
            ErrorCode::Storage
        );
        let db = StoreError::from(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!(db.code(), ErrorCode::Storage);
    }
}
