//! The durable event log and its in-process fan-out.
//!
//! Every event is written to the `events` table (increasing id) and then broadcast, both under
//! one lock so the broadcast order equals the id order: a stream that subscribes first, replays
//! the log after the client's last id and then skips ids it already sent has neither gaps nor
//! duplicates. A subscriber that lags behind the broadcast re-reads the log.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::{broadcast, Mutex};

use crate::store::{EventRow, Store, StoreError};

/// Event types a supervisor receives for every agent.
const SUPERVISOR_TYPES: &[&str] = &["agent_state", "pause_budget_exceeded"];

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    /// The agent it concerns; `None` for broadcasts to everyone.
    pub agent_id: Option<i64>,
    pub event_type: String,
    pub at: i64,
    pub payload: Map<String, Value>,
}

impl Event {
    fn from_row(row: EventRow) -> Result<Event, StoreError> {
        let payload = match serde_json::from_str(&row.payload) {
            Ok(Value::Object(map)) => map,
            _ => return Err(StoreError::Invalid(format!("event {} payload", row.id))),
        };
        Ok(Event {
            id: row.id,
            agent_id: row.agent_id,
            event_type: row.event_type,
            at: row.at,
            payload,
        })
    }

    /// Whether a stream of `agent_id` (a supervisor or not) carries this event.
    pub fn visible_to(&self, agent_id: i64, supervisor: bool) -> bool {
        match self.agent_id {
            None => true,
            Some(a) if a == agent_id => true,
            Some(_) => supervisor && SUPERVISOR_TYPES.contains(&self.event_type.as_str()),
        }
    }

    /// Wire form: `{id, type, at, …payload}`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), Value::from(self.id));
        map.insert("type".into(), Value::from(self.event_type.clone()));
        map.insert("at".into(), Value::from(self.at));
        for (k, v) in &self.payload {
            if !map.contains_key(k) {
                map.insert(k.clone(), v.clone());
            }
        }
        Value::Object(map)
    }
}

#[derive(Debug)]
pub struct EventLog {
    store: Store,
    tx: broadcast::Sender<Arc<Event>>,
    write: Mutex<()>,
}

impl EventLog {
    pub fn new(store: Store) -> EventLog {
        let (tx, _) = broadcast::channel(1024);
        EventLog {
            store,
            tx,
            write: Mutex::new(()),
        }
    }

    /// Appends durably, then fans out.
    pub async fn append(
        &self,
        agent_id: Option<i64>,
        event_type: &str,
        payload: Map<String, Value>,
        at: i64,
    ) -> Result<Arc<Event>, StoreError> {
        let text = Value::Object(payload.clone()).to_string();
        let _guard = self.write.lock().await;
        let id = self
            .store
            .append_event(agent_id, event_type, &text, at)
            .await?;
        let event = Arc::new(Event {
            id,
            agent_id,
            event_type: event_type.to_owned(),
            at,
            payload,
        });
        // No receivers is fine: the log has it.
        let _ = self.tx.send(event.clone());
        Ok(event)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Up to `limit` events after `after`, oldest first.
    pub async fn after(&self, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        self.store
            .events_after(after, limit)
            .await?
            .into_iter()
            .map(Event::from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(agent: Option<i64>, kind: &str) -> Event {
        Event {
            id: 1,
            agent_id: agent,
            event_type: kind.into(),
            at: 0,
            payload: Map::new(),
        }
    }

    #[test]
    fn visibility_rules() {
        assert!(event(None, "notice").visible_to(3, false));
        assert!(event(Some(3), "call_ringing").visible_to(3, false));
        assert!(!event(Some(4), "agent_state").visible_to(3, false));
        assert!(event(Some(4), "agent_state").visible_to(3, true));
        assert!(!event(Some(4), "call_ringing").visible_to(3, true));
    }

    #[test]
    fn payload_cannot_override_envelope_fields() {
        let mut e = event(Some(1), "agent_state");
        e.payload.insert("id".into(), Value::from(99));
        e.payload.insert("state".into(), Value::from("available"));
        let json = e.to_json();
        assert_eq!(json["id"], 1);
        assert_eq!(json["state"], "available");
    }
}
