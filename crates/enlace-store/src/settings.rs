//! The `settings` table: one JSON document per key.

use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::{Result, Store};

impl Store {
    /// The raw JSON stored under `key`, if any. Not validated: the caller parses it.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Store `json` under `key`. Rejects text that is not JSON, so what we write reads back.
    pub fn set_setting(&self, key: &str, json: &str) -> Result<()> {
        serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(|e| {
            StoreError::InvalidValue {
                field: "setting value",
                reason: format!("{key}: {e}"),
            }
        })?;
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, json],
        )?;
        Ok(())
    }

    /// Replace the value under `key` and leave no copy of the old one in the files: the bytes
    /// it freed are zeroed (`secure_delete`) and the WAL is checkpointed and truncated. For a
    /// row that an older Enlace wrote with a secret in it (the secret now lives in the keyring).
    pub fn overwrite_setting(&self, key: &str, json: &str) -> Result<()> {
        self.conn.pragma_update(None, "secure_delete", true)?;
        self.set_setting(key, json)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The setting under `key` parsed as `T`. Invalid JSON or the wrong shape is
    /// [`StoreError::CorruptSetting`] (code `invalid_setting`), so callers can fall back to
    /// defaults and tell the agent.
    pub fn setting_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(raw) = self.setting(key)? else {
            return Ok(None);
        };
        serde_json::from_str(&raw)
            .map(Some)
            .map_err(|e| StoreError::CorruptSetting {
                key: key.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Store `value` as JSON under `key`.
    pub fn set_setting_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).map_err(|e| StoreError::InvalidValue {
            field: "setting value",
            reason: format!("{key}: {e}"),
        })?;
        self.set_setting(key, &json)
    }

    /// Remove `key`; returns whether it existed.
    pub fn delete_setting(&self, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM settings WHERE key = ?1", [key])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn an_overwritten_setting_leaves_no_copy_in_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let secret = "old-client-secret-0123456789abcdef";
        {
            let store = Store::open(&path).unwrap();
            store.set_setting("before", r#"{"a":1}"#).unwrap();
            store
                .set_setting("k", &format!(r#"{{"clientSecret":"{secret}","a":1}}"#))
                .unwrap();
            store.set_setting("after", r#"{"a":1}"#).unwrap();
        }
        let files = || {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(path.with_extension("sqlite3-wal")).unwrap_or_default());
            bytes
        };
        assert!(contains(&files(), secret.as_bytes()), "the test writes it");
        let store = Store::open(&path).unwrap();
        store.overwrite_setting("k", r#"{"a":1}"#).unwrap();
        assert_eq!(store.setting("k").unwrap().as_deref(), Some(r#"{"a":1}"#));
        assert!(!contains(&files(), secret.as_bytes()));
    }
}
