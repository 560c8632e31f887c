//! `HubFeed`: the hub's event stream for a login session, handed to the parts of the app that
//! store what it says, with the cursor (the last event id) moved only after all of them did.
//!
//! One task owns the stream and its consumers. For each event, in id order:
//! 1. every consumer stores its part ([`FeedConsumer::store`]); an event that is not a
//!    consumer's business is `Ok` for it at once;
//! 2. when one fails, the same event is offered again to the consumers that have not stored
//!    it yet, with back-off, and nothing after it is read meanwhile (the stream waits: its
//!    channel is bounded);
//! 3. only then is the cursor saved ([`CursorSink::save`], retried the same way) and moved.
//!
//! An event this desktop does not know (`HubEvent::Unknown`, from a newer hub) goes through
//! the same steps: no consumer has a part in it, the feed acknowledges it on purpose (logged at
//! debug with its `type`) and the cursor moves past it once. Nothing is skipped by accident.
//!
//! Consumers: the calls (the hub line's records, stored in the calls table), the agents' states
//! (Pausas and the supervisor's table) and the inbox ([`crate::inbox::InboxConsumer`]: every
//! chat event into the desktop's chat cache).
//!
//! To add a consumer: implement [`FeedConsumer`] (store its part, `Ok` for events that are not
//! its business) and add it to the list the feed is started with.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use enlace_hub_client::api::{EventEnvelope, HubEvent};
use enlace_hub_client::HubEvent as StreamItem;
use tokio::task::JoinHandle;

/// Why a consumer (or the cursor) could not store its part now; the event is offered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{consumer} could not store event {id}: {reason}")]
pub struct FeedError {
    pub consumer: &'static str,
    pub id: u64,
    pub reason: String,
}

/// A boxed future of a consumer's work.
pub type Stored<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A part of the app that stores what some hub events say.
pub trait FeedConsumer: Send {
    /// Short name for logs.
    fn name(&self) -> &'static str;
    /// Stores this consumer's part of `event`; `Ok` when stored or when it has none.
    fn store<'a>(&'a mut self, event: &'a EventEnvelope) -> Stored<'a>;
    /// The stream's connection state changed, or the hub pruned events before they were read
    /// (`Truncated`) or ended the session. Default: nothing.
    fn notice<'a>(&'a mut self, _item: &'a StreamItem) -> Stored<'a> {
        Box::pin(async { Ok(()) })
    }
    /// The feed stops for good (logout, end of the session). Default: nothing.
    fn finish(&mut self) -> Stored<'_> {
        Box::pin(async { Ok(()) })
    }
}

/// Where the cursor is kept (for the app: its settings row, per hub and user).
pub trait CursorSink: Send {
    /// Saves `id` as the last event every consumer stored.
    fn save(&mut self, id: u64) -> Stored<'_>;
}

/// Where the feed reads from: the hub's stream, or a channel in tests.
pub trait FeedSource: Send {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = Option<StreamItem>> + Send + '_>>;
}

impl FeedSource for enlace_hub_client::HubStream {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = Option<StreamItem>> + Send + '_>> {
        Box::pin(enlace_hub_client::HubStream::next(self))
    }
}

impl FeedSource for tokio::sync::mpsc::Receiver<StreamItem> {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = Option<StreamItem>> + Send + '_>> {
        Box::pin(self.recv())
    }
}

/// Back-off between attempts to store an event again.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long [`HubFeed::shutdown`] waits for the feed to stop before abandoning it (quitting
/// must not hang on a consumer or a stalled stream; the saved cursor makes this safe).
const STOP_DRAIN: Duration = Duration::from_secs(2);

/// A running feed; dropping it stops it (what was not stored is read again next time, from
/// the saved cursor).
#[derive(Debug)]
pub struct HubFeed {
    task: Option<JoinHandle<()>>,
    last: tokio::sync::watch::Receiver<Option<u64>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl HubFeed {
    /// Starts following `source`, whose events come after `after` (the saved cursor).
    pub fn start(
        source: impl FeedSource + 'static,
        after: Option<u64>,
        consumers: Vec<Box<dyn FeedConsumer>>,
        cursor: Box<dyn CursorSink>,
    ) -> HubFeed {
        let (last_tx, last) = tokio::sync::watch::channel(after);
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(source, consumers, cursor, last_tx, stopping));
        HubFeed {
            task: Some(task),
            last,
            stop,
        }
    }

    /// The last event every consumer stored and the cursor saved.
    pub fn last_id(&self) -> Option<u64> {
        *self.last.borrow()
    }

    /// Waits until the cursor reached `id` (or the feed stopped); for callers that need an
    /// event handled before going on.
    pub async fn reached(&mut self, id: u64) -> bool {
        self.last
            .wait_for(|last| last.is_some_and(|l| l >= id))
            .await
            .is_ok()
    }

    /// Stops the feed: an event still being offered is abandoned (read again next time, from
    /// the saved cursor), then every consumer finishes ([`FeedConsumer::finish`]).
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(STOP_DRAIN, &mut task).await.is_err() {
                tracing::warn!("the hub feed did not stop in time; abandoned at its saved cursor");
                task.abort();
            }
        }
    }

    /// Stops the feed at once, without the consumers' finish.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for HubFeed {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run(
    mut source: impl FeedSource,
    mut consumers: Vec<Box<dyn FeedConsumer>>,
    mut cursor: Box<dyn CursorSink>,
    last: tokio::sync::watch::Sender<Option<u64>>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let item = tokio::select! {
            item = source.next() => item,
            _ = stopping.wait_for(|stop| *stop) => None,
        };
        let Some(item) = item else { break };
        match &item {
            StreamItem::Event(event) => {
                if last.borrow().is_some_and(|l| event.id <= l) {
                    continue;
                }
                if !deliver(event, &mut consumers, cursor.as_mut(), &mut stopping).await {
                    break;
                }
                last.send_replace(Some(event.id));
            }
            other => {
                for consumer in consumers.iter_mut() {
                    if let Err(reason) = consumer.notice(other).await {
                        tracing::warn!(consumer = consumer.name(), %reason, "hub feed notice");
                    }
                }
            }
        }
    }
    for consumer in consumers.iter_mut() {
        if let Err(reason) = consumer.finish().await {
            tracing::warn!(consumer = consumer.name(), %reason, "hub feed: finishing");
        }
    }
}

/// Waits `wait` unless the feed is stopping; `false` when it is.
async fn pause(wait: Duration, stopping: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = stopping.wait_for(|stop| *stop) => false,
    }
}

/// Offers `event` to every consumer until each stored its part, then saves the cursor.
/// `false` when the feed stopped first (the cursor was not saved).
async fn deliver(
    event: &EventEnvelope,
    consumers: &mut [Box<dyn FeedConsumer>],
    cursor: &mut dyn CursorSink,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let mut stored = vec![false; consumers.len()];
    let mut wait = RETRY_MIN;
    loop {
        for (consumer, done) in consumers.iter_mut().zip(stored.iter_mut()) {
            if *done {
                continue;
            }
            match consumer.store(event).await {
                Ok(()) => *done = true,
                Err(reason) => {
                    let e = FeedError {
                        consumer: consumer.name(),
                        id: event.id,
                        reason,
                    };
                    tracing::warn!(error = %e, "hub feed: will offer the event again");
                }
            }
        }
        if stored.iter().all(|done| *done) {
            break;
        }
        if !pause(wait, stopping).await {
            return false;
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
    if matches!(event.event, HubEvent::Unknown) {
        tracing::debug!(
            id = event.id,
            kind = %event.kind,
            "hub feed: acknowledged an event this desktop does not know"
        );
    }
    let mut wait = RETRY_MIN;
    while let Err(reason) = cursor.save(event.id).await {
        tracing::warn!(id = event.id, %reason, "hub feed: could not save the cursor");
        if !pause(wait, stopping).await {
            return false;
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
    true
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the consumers and the cursor did, in order.
    type Journal = Arc<Mutex<Vec<String>>>;

    /// A consumer that stores every event in a journal, failing the first `fail` attempts.
    struct Recording {
        name: &'static str,
        journal: Journal,
        fail: usize,
    }

    impl FeedConsumer for Recording {
        fn name(&self) -> &'static str {
            self.name
        }

        fn store<'a>(&'a mut self, event: &'a EventEnvelope) -> Stored<'a> {
            Box::pin(async move {
                if self.fail > 0 {
                    self.fail -= 1;
                    self.journal
                        .lock()
                        .unwrap()
                        .push(format!("{} failed {}", self.name, event.id));
                    return Err("disk full".into());
                }
                self.journal
                    .lock()
                    .unwrap()
                    .push(format!("{} {}", self.name, event.id));
                Ok(())
            })
        }
    }

    struct Cursor(Journal);

    impl CursorSink for Cursor {
        fn save(&mut self, id: u64) -> Stored<'_> {
            Box::pin(async move {
                self.0.lock().unwrap().push(format!("cursor {id}"));
                Ok(())
            })
        }
    }

    fn event(text: &str) -> StreamItem {
        StreamItem::Event(EventEnvelope::parse(text).unwrap())
    }

    fn state_event(id: u64) -> StreamItem {
        event(&format!(
            r#"{{"id":{id},"type":"agent_state","at":1,"state":"available","since":1,"reason":null}}"#
        ))
    }

    fn start(fail: usize) -> (tokio::sync::mpsc::Sender<StreamItem>, HubFeed, Journal) {
        let journal = Journal::default();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let consumers: Vec<Box<dyn FeedConsumer>> = vec![
            Box::new(Recording {
                name: "calls",
                journal: journal.clone(),
                fail: 0,
            }),
            Box::new(Recording {
                name: "states",
                journal: journal.clone(),
                fail,
            }),
        ];
        let feed = HubFeed::start(rx, None, consumers, Box::new(Cursor(journal.clone())));
        (tx, feed, journal)
    }

    #[tokio::test(start_paused = true)]
    async fn the_cursor_moves_only_after_every_consumer_stored_the_event() {
        let (tx, mut feed, journal) = start(2);
        tx.send(state_event(5)).await.unwrap();
        tx.send(state_event(6)).await.unwrap();
        assert!(feed.reached(6).await);
        let journal = journal.lock().unwrap().clone();
        assert_eq!(
            journal,
            [
                "calls 5",
                "states failed 5",
                // Offered again only to the consumer that had not stored it.
                "states failed 5",
                "states 5",
                "cursor 5",
                "calls 6",
                "states 6",
                "cursor 6",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn while_a_consumer_cannot_store_the_cursor_does_not_move() {
        let (tx, feed, journal) = start(usize::MAX);
        tx.send(state_event(5)).await.unwrap();
        tx.send(state_event(6)).await.unwrap();
        // Many retries later (paused time runs the back-off at once) nothing moved.
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(feed.last_id(), None);
        let journal = journal.lock().unwrap().clone();
        assert!(
            journal.iter().all(|line| !line.starts_with("cursor")),
            "{journal:?}"
        );
        assert!(
            journal.iter().all(|line| !line.ends_with(" 6")),
            "event 6 read early"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_hubs_event_is_acknowledged_once_after_the_consumers() {
        let (tx, mut feed, journal) = start(0);
        tx.send(event(
            r#"{"id":7,"type":"campaign_started","at":1,"campaign":{"name":"x"}}"#,
        ))
        .await
        .unwrap();
        // The stream may deliver an id again after a reconnection: not handled twice.
        tx.send(event(r#"{"id":7,"type":"campaign_started","at":1}"#))
            .await
            .unwrap();
        tx.send(state_event(8)).await.unwrap();
        assert!(feed.reached(8).await);
        let journal = journal.lock().unwrap().clone();
        assert_eq!(
            journal,
            ["calls 7", "states 7", "cursor 7", "calls 8", "states 8", "cursor 8"]
        );
    }
}
