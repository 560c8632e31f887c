//! The `crm_accounts` table: which account is linked for each CRM, as the app's JSON account
//! description (user, org, instance...). Never tokens: those live in the OS keyring.

use enlace_core::{Crm, Timestamp};
use rusqlite::{params, OptionalExtension};

use crate::error::StoreError;
use crate::{Result, Store};

/// The linked account of one CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCrmAccount {
    pub crm: Crm,
    /// The account description as the app wrote it (JSON).
    pub account_json: String,
    pub linked_at: Timestamp,
}

impl Store {
    /// The account linked for `crm`, if any.
    pub fn crm_account(&self, crm: Crm) -> Result<Option<StoredCrmAccount>> {
        let row: Option<(String, i64)> = self
            .conn
            .prepare_cached("SELECT account_json, linked_at FROM crm_accounts WHERE crm = ?1")?
            .query_row([crm.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(account_json, linked_at)| StoredCrmAccount {
            crm,
            account_json,
            linked_at: Timestamp(linked_at),
        }))
    }

    /// Every linked account, in [`Crm::ALL`] order.
    pub fn crm_accounts(&self) -> Result<Vec<StoredCrmAccount>> {
        let mut accounts = Vec::new();
        for crm in Crm::ALL {
            accounts.extend(self.crm_account(crm)?);
        }
        Ok(accounts)
    }

    /// Link `crm` to the account described by `account_json` (must be JSON), replacing any
    /// account linked before.
    pub fn set_crm_account(
        &self,
        crm: Crm,
        account_json: &str,
        linked_at: Timestamp,
    ) -> Result<()> {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(account_json) {
            return Err(StoreError::InvalidValue {
                field: "crm account",
                reason: format!("not JSON: {e}"),
            });
        }
        self.conn.execute(
            "INSERT INTO crm_accounts (crm, account_json, linked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (crm) DO UPDATE SET
                 account_json = excluded.account_json, linked_at = excluded.linked_at",
            params![crm.as_str(), account_json, linked_at.millis()],
        )?;
        Ok(())
    }

    /// Unlink `crm`; returns whether an account was linked. Its queued writes stay queued.
    pub fn delete_crm_account(&self, crm: Crm) -> Result<bool> {
        let changed = self
            .conn
            .execute("DELETE FROM crm_accounts WHERE crm = ?1", [crm.as_str()])?;
        Ok(changed > 0)
    }
}
