//! The durable event log and its in-process fan-out.
//!
//! Every event is written to the `events` table (increasing id) and then published, both under
//! one lock so the publication order equals the id order: a stream that subscribes first, replays
//! the log after the client's last id and then skips ids it already sent has neither gaps nor
//! duplicates. A subscriber that lags behind its channel re-reads the log.
//!
//! Fan-out is per connected agent, so a stream only wakes for events it will send: each agent
//! with at least one open stream has one channel (created by [`EventLog::subscribe`], removed
//! when its last [`Subscription`] is dropped) carrying exactly the events visible to it
//! ([`Event::visible_to`]): its own, the broadcasts (`agent_id` `None`) and, for a supervisor,
//! every agent's [`SUPERVISOR_TYPES`]. One channel per stream key keeps a single, id-ordered
//! source per stream, which the de-duplication by id relies on. To route a new kind of event,
//! change [`Event::visible_to`] and [`Routes::publish`] together.
//!
//! With several instances (PostgreSQL) an instance does not publish what it appends: every
//! instance, the writer included, publishes from the log ([`EventLog::catch_up`], woken by
//! `NOTIFY` and by a periodic poll), reading past its cursor in id order, so all of them send
//! the same events in the same order whichever instance wrote them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex, MutexGuard, PoisonError, Weak};

use axum::extract::ws::Utf8Bytes;
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, Mutex};

use crate::store::{EventRow, Store, StoreError};

/// Event types a supervisor receives for every agent.
const SUPERVISOR_TYPES: &[&str] = &["agent_state", "pause_budget_exceeded"];
/// Buffered events per agent channel. Small because there is one per connected agent (the ring
/// is allocated up front); a stream that falls further behind re-reads the log.
const AGENT_CAPACITY: usize = 64;
/// Buffered events per supervisor channel: they carry every agent's state changes.
const SUPERVISOR_CAPACITY: usize = 1024;

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

    /// Wire form: `{id, type, at, …payload}` ([`enlace_hub_api::EventEnvelope`]).
    pub fn to_json(&self) -> Value {
        enlace_hub_api::events::wire(self.id, &self.event_type, self.at, &self.payload)
    }
}

/// A published event with its wire text, serialized once however many streams send it.
#[derive(Debug)]
pub struct Live {
    pub event: Arc<Event>,
    /// [`Event::to_json`] as text; cloning it shares the bytes.
    pub text: Utf8Bytes,
}

impl Live {
    fn new(event: Arc<Event>) -> Live {
        let text = Utf8Bytes::from(event.to_json().to_string());
        Live { event, text }
    }
}

/// The live channels, keyed by agent id; supervisors apart so their events reach only them.
#[derive(Debug, Default)]
struct Routes {
    agents: HashMap<i64, broadcast::Sender<Arc<Live>>>,
    supervisors: HashMap<i64, broadcast::Sender<Arc<Live>>>,
}

impl Routes {
    fn map(&mut self, supervisor: bool) -> &mut HashMap<i64, broadcast::Sender<Arc<Live>>> {
        if supervisor {
            &mut self.supervisors
        } else {
            &mut self.agents
        }
    }

    /// Sends `event` to every channel whose agent can see it (no receivers is fine: the log
    /// has it).
    fn publish(&self, live: &Arc<Live>) {
        let event = &live.event;
        match event.agent_id {
            None => {
                for tx in self.agents.values().chain(self.supervisors.values()) {
                    let _ = tx.send(live.clone());
                }
            }
            Some(agent) => {
                if let Some(tx) = self.agents.get(&agent) {
                    let _ = tx.send(live.clone());
                }
                if SUPERVISOR_TYPES.contains(&event.event_type.as_str()) {
                    for tx in self.supervisors.values() {
                        let _ = tx.send(live.clone());
                    }
                } else if let Some(tx) = self.supervisors.get(&agent) {
                    let _ = tx.send(live.clone());
                }
            }
        }
    }
}

fn subscribe(routes: &Arc<SyncMutex<Routes>>, agent_id: i64, supervisor: bool) -> Subscription {
    let capacity = if supervisor {
        SUPERVISOR_CAPACITY
    } else {
        AGENT_CAPACITY
    };
    let rx = lock(routes)
        .map(supervisor)
        .entry(agent_id)
        .or_insert_with(|| broadcast::channel(capacity).0)
        .subscribe();
    Subscription {
        rx: Some(rx),
        routes: Arc::downgrade(routes),
        agent_id,
        supervisor,
    }
}

fn lock(routes: &SyncMutex<Routes>) -> MutexGuard<'_, Routes> {
    // The critical sections cannot leave the maps inconsistent: recover from poisoning.
    routes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The live events of one stream, in id order; dropping it unsubscribes (and removes the
/// agent's channel when it was the last stream of that agent).
#[derive(Debug)]
pub struct Subscription {
    rx: Option<broadcast::Receiver<Arc<Live>>>,
    routes: Weak<SyncMutex<Routes>>,
    agent_id: i64,
    supervisor: bool,
}

impl Subscription {
    /// The next event; `Lagged` when this stream fell behind its channel (re-read the log),
    /// `Closed` when the event log is gone.
    pub async fn recv(&mut self) -> Result<Arc<Live>, RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(routes) = self.routes.upgrade() else {
            return;
        };
        let mut routes = lock(&routes);
        // Drop the receiver under the lock so the count below is exact against concurrent
        // subscribes and drops of the same agent.
        self.rx = None;
        let map = routes.map(self.supervisor);
        if map
            .get(&self.agent_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            map.remove(&self.agent_id);
        }
    }
}

#[derive(Debug)]
pub struct EventLog {
    store: Store,
    routes: Arc<SyncMutex<Routes>>,
    write: Mutex<()>,
    /// `Some(last published id)` when events are published from the log (several instances),
    /// `None` when [`EventLog::append`] publishes (one instance).
    cursor: Option<Mutex<i64>>,
}

/// Events read from the log per query while catching up.
const CATCH_UP_BATCH: i64 = 512;

impl EventLog {
    /// One instance: appends publish at once.
    pub fn new(store: Store) -> EventLog {
        EventLog {
            store,
            routes: Arc::default(),
            write: Mutex::new(()),
            cursor: None,
        }
    }

    /// Several instances: events are published by [`EventLog::catch_up`], after `last_id`.
    pub fn following(store: Store, last_id: i64) -> EventLog {
        EventLog {
            cursor: Some(Mutex::new(last_id)),
            ..EventLog::new(store)
        }
    }

    /// Publishes the events appended (by any instance) since the last call, in id order.
    /// Returns how many were published. Does nothing for a single instance.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let Some(cursor) = &self.cursor else {
            return Ok(0);
        };
        let mut cursor = cursor.lock().await;
        let mut published = 0;
        loop {
            let rows = self.store.events_after(*cursor, CATCH_UP_BATCH).await?;
            let full = rows.len() as i64 == CATCH_UP_BATCH;
            for row in rows {
                let id = row.id;
                match Event::from_row(row) {
                    Ok(event) => {
                        let live = Arc::new(Live::new(Arc::new(event)));
                        lock(&self.routes).publish(&live);
                        published += 1;
                    }
                    // Streams that replay the log skip it the same way.
                    Err(e) => tracing::warn!(error = %e, "unreadable event skipped"),
                }
                *cursor = id;
            }
            if !full {
                return Ok(published);
            }
        }
    }

    /// Appends `event` durably, then fans out. `HubEvent::Unknown` is refused (nothing to send).
    pub async fn append_event(
        &self,
        agent_id: Option<i64>,
        event: &enlace_hub_api::HubEvent,
        at: i64,
    ) -> Result<Arc<Event>, StoreError> {
        let Some((kind, payload)) = event.to_parts() else {
            return Err(StoreError::Invalid(format!(
                "event {} has no wire form",
                event.kind()
            )));
        };
        self.append(agent_id, kind, payload, at).await
    }

    /// Appends `event` for each of `agent_ids` in one transaction, then fans them out.
    pub async fn append_event_to_each(
        &self,
        agent_ids: &[i64],
        event: &enlace_hub_api::HubEvent,
        at: i64,
    ) -> Result<(), StoreError> {
        let Some((kind, payload)) = event.to_parts() else {
            return Err(StoreError::Invalid(format!(
                "event {} has no wire form",
                event.kind()
            )));
        };
        let text = Value::Object(payload.clone()).to_string();
        let _guard = self.write.lock().await;
        let ids = self.store.append_events(agent_ids, kind, &text, at).await?;
        if self.cursor.is_none() {
            for (id, agent_id) in ids.into_iter().zip(agent_ids) {
                let event = Arc::new(Event {
                    id,
                    agent_id: Some(*agent_id),
                    event_type: kind.to_owned(),
                    at,
                    payload: payload.clone(),
                });
                let live = Arc::new(Live::new(event));
                lock(&self.routes).publish(&live);
            }
        }
        Ok(())
    }

    /// Appends an agent's state row and its `event` in one transaction, then fans the event
    /// out: a state is never stored without the event that announces it.
    pub async fn append_state_event(
        &self,
        agent_id: i64,
        state: (&str, Option<i64>, i64),
        event: &enlace_hub_api::HubEvent,
        at: i64,
    ) -> Result<Arc<Event>, StoreError> {
        let Some((kind, payload)) = event.to_parts() else {
            return Err(StoreError::Invalid(format!(
                "event {} has no wire form",
                event.kind()
            )));
        };
        let text = Value::Object(payload.clone()).to_string();
        let _guard = self.write.lock().await;
        let (_, id) = self
            .store
            .append_state_and_event(agent_id, state.0, state.1, state.2, kind, &text, at)
            .await?;
        let event = Arc::new(Event {
            id,
            agent_id: Some(agent_id),
            event_type: kind.to_owned(),
            at,
            payload,
        });
        if self.cursor.is_none() {
            let live = Arc::new(Live::new(event.clone()));
            lock(&self.routes).publish(&live);
        }
        Ok(event)
    }

    /// Appends durably, then fans out. Prefer [`EventLog::append_event`]: a `type` that is
    /// not a [`enlace_hub_api::HubEvent`] variant reaches desktops as `Unknown`.
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
        if self.cursor.is_none() {
            // Serialized outside the routes lock (still under the write lock, so in id order).
            let live = Arc::new(Live::new(event.clone()));
            lock(&self.routes).publish(&live);
        }
        Ok(event)
    }

    /// Live events visible to a stream of `agent_id` (a supervisor or not), from now on.
    /// Subscribe before replaying the log, then skip ids already sent.
    pub fn subscribe(&self, agent_id: i64, supervisor: bool) -> Subscription {
        subscribe(&self.routes, agent_id, supervisor)
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
        event_with_id(1, agent, kind)
    }

    fn event_with_id(id: i64, agent: Option<i64>, kind: &str) -> Event {
        Event {
            id,
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
        // The text streams send is this same wire form.
        let sent: Value = serde_json::from_str(&live(e).text).unwrap();
        assert_eq!(sent, json);
    }

    fn live(e: Event) -> Arc<Live> {
        Arc::new(Live::new(Arc::new(e)))
    }

    /// Ids waiting in a subscription, without blocking.
    fn pending(sub: &mut Subscription) -> Vec<i64> {
        let mut ids = Vec::new();
        while let Some(Ok(e)) = sub.rx.as_mut().map(|rx| rx.try_recv()) {
            ids.push(e.event.id);
        }
        ids
    }

    #[test]
    fn channels_carry_exactly_the_visible_events_in_id_order() {
        let routes = Arc::new(SyncMutex::new(Routes::default()));
        let mut three = subscribe(&routes, 3, false);
        let mut four = subscribe(&routes, 4, false);
        let mut boss = subscribe(&routes, 9, true);
        let events = [
            event_with_id(1, None, "notice"),
            event_with_id(2, Some(3), "call_ringing"),
            event_with_id(3, Some(4), "agent_state"),
            event_with_id(4, Some(9), "call_ringing"),
            event_with_id(5, Some(3), "pause_budget_exceeded"),
            event_with_id(6, Some(4), "call_ringing"),
        ];
        for e in &events {
            lock(&routes).publish(&live(e.clone()));
        }
        for (sub, me, supervisor) in [
            (&mut three, 3, false),
            (&mut four, 4, false),
            (&mut boss, 9, true),
        ] {
            let expected: Vec<i64> = events
                .iter()
                .filter(|e| e.visible_to(me, supervisor))
                .map(|e| e.id)
                .collect();
            assert_eq!(pending(sub), expected, "agent {me}");
        }
    }

    #[test]
    fn channel_lives_while_any_stream_of_the_agent_does() {
        let routes = Arc::new(SyncMutex::new(Routes::default()));
        let first = subscribe(&routes, 3, false);
        let mut second = subscribe(&routes, 3, false);
        let boss = subscribe(&routes, 3, true);
        assert_eq!(lock(&routes).agents.len(), 1);
        assert_eq!(lock(&routes).supervisors.len(), 1);
        drop(first);
        assert_eq!(lock(&routes).agents.len(), 1);
        lock(&routes).publish(&live(event_with_id(7, Some(3), "call_ringing")));
        assert_eq!(pending(&mut second), vec![7]);
        drop(second);
        assert!(lock(&routes).agents.is_empty());
        drop(boss);
        assert!(lock(&routes).supervisors.is_empty());
    }

    #[tokio::test]
    async fn lagging_stream_is_told_and_closed_log_ends_it() {
        let routes = Arc::new(SyncMutex::new(Routes::default()));
        let mut sub = subscribe(&routes, 3, false);
        for id in 0..(AGENT_CAPACITY as i64 + 5) {
            lock(&routes).publish(&live(event_with_id(id, Some(3), "call_ringing")));
        }
        assert!(matches!(sub.recv().await, Err(RecvError::Lagged(5))));
        drop(routes);
        // Buffered events drain, then the stream sees the end.
        let mut rest = 0;
        loop {
            match sub.recv().await {
                Ok(_) => rest += 1,
                Err(RecvError::Closed) => break,
                Err(RecvError::Lagged(n)) => panic!("lagged again by {n}"),
            }
        }
        assert_eq!(rest, AGENT_CAPACITY);
    }
}
