//! Embedded schema migrations, applied in order, one transaction each.

use rusqlite::Connection;

use crate::error::{DatabaseError, StoreError};

/// One schema step. Its version is its position in [`MIGRATIONS`] plus one.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Append only; never edit or reorder a released entry.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        name: "0002_dial_attempts_call_index",
        sql: include_str!("../migrations/0002_dial_attempts_call_index.sql"),
    },
    Migration {
        name: "0003_crm",
        sql: include_str!("../migrations/0003_crm.sql"),
    },
    Migration {
        name: "0004_outbox_existing_record",
        sql: include_str!("../migrations/0004_outbox_existing_record.sql"),
    },
    Migration {
        name: "0005_chats",
        sql: include_str!("../migrations/0005_chats.sql"),
    },
    Migration {
        name: "0006_outbox_chat_log",
        sql: include_str!("../migrations/0006_outbox_chat_log.sql"),
    },
    Migration {
        name: "0007_chat_facts_at",
        sql: include_str!("../migrations/0007_chat_facts_at.sql"),
    },
    Migration {
        name: "0008_outgoing_files",
        sql: include_str!("../migrations/0008_outgoing_files.sql"),
    },
];

fn known_version(migrations: &[Migration]) -> u32 {
    u32::try_from(migrations.len()).unwrap_or(u32::MAX)
}

fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    // A negative user_version is not ours; treat it as "too new" rather than as empty.
    let raw: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(u32::try_from(raw).unwrap_or(u32::MAX))
}

/// Fail with [`StoreError::TooNew`] if the file was written by a newer schema. Reads only.
pub(crate) fn check_version(conn: &Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    let found = user_version(conn)?;
    let known = known_version(migrations);
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    Ok(())
}

/// Apply every migration newer than the database's `user_version`.
pub(crate) fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    for (index, migration) in migrations.iter().enumerate() {
        let version = u32::try_from(index + 1).unwrap_or(u32::MAX);
        // Re-read inside the loop: another process may have migrated meanwhile.
        let current = user_version(conn)?;
        if current > known_version(migrations) {
            return Err(StoreError::TooNew {
                found: current,
                known: known_version(migrations),
            });
        }
        if current >= version {
            continue;
        }
        let step = |conn: &mut Connection| -> Result<(), rusqlite::Error> {
            // IMMEDIATE: take the write lock first so two processes cannot both migrate.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if now < i64::from(version) {
                tx.execute_batch(migration.sql)?;
                tx.pragma_update(None, "user_version", version)?;
            }
            tx.commit()
        };
        step(conn).map_err(|e| StoreError::Migration {
            version,
            name: migration.name,
            source: DatabaseError::from(e),
        })?;
    }
    Ok(())
}
