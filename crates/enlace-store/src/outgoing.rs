//! What the agent sends besides messages (issue 12): the agent's own quick addresses (the
//! organization's come from the hub) and the last position sent, the map's fallback when the
//! OS gives none.

use rusqlite::{params, OptionalExtension};

use crate::error::StoreError;
use crate::{Result, Store};

/// A quick address the agent saved on this computer.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnQuickAddress {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub created_at: i64,
}

/// A position the agent sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentPosition {
    pub latitude: f64,
    pub longitude: f64,
    pub at: i64,
}

fn in_range(latitude: f64, longitude: f64) -> bool {
    latitude.is_finite()
        && longitude.is_finite()
        && (-90.0..=90.0).contains(&latitude)
        && (-180.0..=180.0).contains(&longitude)
}

fn invalid(field: &'static str, reason: &str) -> StoreError {
    StoreError::InvalidValue {
        field,
        reason: reason.into(),
    }
}

impl Store {
    /// Saves a quick address of the agent's: a name and an address (both non-empty), with
    /// coordinates (both, in range) or without.
    pub fn add_own_quick_address(
        &self,
        name: &str,
        address: &str,
        coordinates: Option<(f64, f64)>,
    ) -> Result<OwnQuickAddress> {
        let (name, address) = (name.trim(), address.trim());
        if name.is_empty() {
            return Err(invalid("name", "empty"));
        }
        if address.is_empty() {
            return Err(invalid("address", "empty"));
        }
        if coordinates.is_some_and(|(lat, lon)| !in_range(lat, lon)) {
            return Err(invalid("coordinates", "out of range"));
        }
        let created_at = self.now_millis();
        self.conn
            .prepare_cached(
                "INSERT INTO own_quick_addresses (name, address, latitude, longitude, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                name,
                address,
                coordinates.map(|c| c.0),
                coordinates.map(|c| c.1),
                created_at
            ])?;
        Ok(OwnQuickAddress {
            id: self.conn.last_insert_rowid(),
            name: name.to_owned(),
            address: address.to_owned(),
            latitude: coordinates.map(|c| c.0),
            longitude: coordinates.map(|c| c.1),
            created_at,
        })
    }

    /// The agent's quick addresses, oldest first.
    pub fn own_quick_addresses(&self) -> Result<Vec<OwnQuickAddress>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, address, latitude, longitude, created_at FROM own_quick_addresses
             ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OwnQuickAddress {
                id: r.get(0)?,
                name: r.get(1)?,
                address: r.get(2)?,
                latitude: r.get(3)?,
                longitude: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Deletes one of the agent's quick addresses; `false` when there was none with that id.
    pub fn delete_own_quick_address(&self, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM own_quick_addresses WHERE id = ?1")?
            .execute([id])?
            > 0)
    }

    /// Remembers the last position sent (replacing the one before).
    pub fn set_last_position(&self, latitude: f64, longitude: f64) -> Result<()> {
        if !in_range(latitude, longitude) {
            return Err(invalid("coordinates", "out of range"));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO last_position (id, latitude, longitude, at) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET latitude = excluded.latitude,
                     longitude = excluded.longitude, at = excluded.at",
            )?
            .execute(params![latitude, longitude, self.now_millis()])?;
        Ok(())
    }

    /// The last position sent, if any.
    pub fn last_position(&self) -> Result<Option<SentPosition>> {
        Ok(self
            .conn
            .prepare_cached("SELECT latitude, longitude, at FROM last_position WHERE id = 1")?
            .query_row([], |r| {
                Ok(SentPosition {
                    latitude: r.get(0)?,
                    longitude: r.get(1)?,
                    at: r.get(2)?,
                })
            })
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_quick_addresses_are_checked_listed_and_deleted() {
        let store = Store::open_in_memory().unwrap();
        let office = store
            .add_own_quick_address(" Oficina ", "Av. Reforma 1, CDMX", Some((19.43, -99.13)))
            .unwrap();
        assert_eq!(office.name, "Oficina");
        let home = store
            .add_own_quick_address("Bodega", "Calle 5", None)
            .unwrap();
        for (name, address, coords) in [
            ("", "Calle 5", None),
            ("Bodega", "  ", None),
            ("X", "Y", Some((91.0, 0.0))),
            ("X", "Y", Some((0.0, -180.5))),
            ("X", "Y", Some((f64::NAN, 0.0))),
        ] {
            let err = store
                .add_own_quick_address(name, address, coords)
                .unwrap_err();
            assert!(matches!(err, StoreError::InvalidValue { .. }), "{name:?}");
        }
        let list = store.own_quick_addresses().unwrap();
        assert_eq!(list, vec![office.clone(), home.clone()]);
        assert!(store.delete_own_quick_address(home.id).unwrap());
        assert!(!store.delete_own_quick_address(home.id).unwrap());
        assert_eq!(store.own_quick_addresses().unwrap(), vec![office]);
    }

    #[test]
    fn the_last_position_sent_replaces_the_one_before() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.last_position().unwrap(), None);
        store.set_last_position(9.93, -84.08).unwrap();
        store.set_last_position(19.43, -99.13).unwrap();
        let last = store.last_position().unwrap().unwrap();
        assert_eq!((last.latitude, last.longitude), (19.43, -99.13));
        assert!(store.set_last_position(100.0, 0.0).is_err());
        assert_eq!(store.last_position().unwrap().unwrap().latitude, 19.43);
    }
}
