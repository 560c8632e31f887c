//! `enlace-app` is Enlace without Tauri: the use-cases (dial, answer, reject, hang up, ignore,
//! list calls, settings, link a CRM, search contacts, log calls, the WhatsApp inbox) over a
//! small [`Host`] trait,
//! emitting [`DomainEvent`]s.
//!
//! It owns the flow between the pure domain (`enlace-core`), the store (`enlace-store`), the
//! phone line (`enlace-telephony`), the CRMs (`enlace-crm`, writes through the outbox courier
//! in `outbox`) and the keyring (`enlace-secrets`). The desktop shell implements [`Host`] to
//! turn events into UI events, notifications and tray pictures; tests implement it with a
//! channel.
//!
//! Start-up never fails on storage: [`open_store`] falls back to a database in memory and
//! returns what to tell the agent (also a data folder in the temporary folder). [`doctor`]
//! holds what `enlace doctor` asks the phone line.
//!
//! To extend: add a use-case as a method on [`App`]; if the UI must react to something new, add
//! a [`DomainEvent`] variant. Blocking work (SQLite) runs on the blocking pool, never on the
//! caller's thread.

pub mod crm;
pub mod doctor;
mod error;
pub mod feed;
pub mod hub;
pub mod inbox;
mod location;
pub mod map_tiles;
mod outbox;
pub mod outgoing;
pub mod settings;
pub mod voice;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use enlace_core::{
    parse_dial_uri, CallDirection, CallId, CallRecord, CallStatus, Clock, Contact, DialTarget,
    LogState,
};
use enlace_crm::CrmConfig;
use enlace_secrets::SecretStore;
use enlace_store::Store;
use enlace_telephony::{CallIdSource, LineEvent, LineStatus, PhoneLine, RandomCallIds};
use tokio::sync::RwLock;

pub use crm::{ChatLogRequest, CrmLinkStatus, CrmStatus, LinkState};
pub use enlace_crm::{format_transcript, TranscriptLine};
pub use enlace_store::{CallLog, CallRecordLink, OutboxEntry, OutboxKind, OutboxState};
pub use error::AppError;
pub use hub::{ExitCheck, HubStatus};
pub use inbox::{
    BusinessNumber, CannedResponse, ChatComment, ChatMessage, ChatMessageError, ChatPage,
    ChatStatus, ChatTemplate, ExitChat, InboxConversation, InboxConversationState, InboxCounts,
    InboxFilter, OutgoingMessage,
};
pub use outgoing::{Position, PositionSource, QuickAddress, StagedFile};
pub use settings::{DemoLine, HandOffKind, Language, LineKind, Settings, DEFAULT_MAP_TILE_URL};
pub use voice::{AudioInput, RecordingStatus};

/// What the agent is doing, as far as the phone line tells: drives the tray picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Idle,
    Ringing,
    InCall,
    Offline,
}

/// Where a dial request came from (kept with each dial attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialSource {
    /// A `tel:`/`callto:` link opened by another program.
    Link,
    /// The dial pad or a number clicked in the app.
    Ui,
}

impl DialSource {
    fn as_str(self) -> &'static str {
        match self {
            DialSource::Link => "link",
            DialSource::Ui => "ui",
        }
    }
}

/// Something the shell should show.
#[derive(Debug, Clone)]
// Events are moved once to the shell, not stored: a boxed variant would only add a pointer.
#[allow(clippy::large_enum_variant)]
pub enum DomainEvent {
    /// A call was created or changed (ringing, answered, ended, ignored, attached to a record,
    /// logged, or one of its CRM writes changed state).
    CallUpdated(CallLog),
    /// An incoming call started ringing: notify and show the answer/reject card, with the
    /// cached CRM records that share the caller's number.
    IncomingRinging {
        call: CallRecord,
        matches: Vec<Contact>,
    },
    /// An incoming call stopped ringing (answered, rejected, caller gave up).
    IncomingStopped(CallId),
    /// The phone line's state changed.
    LineStatus(LineStatus),
    /// The agent's activity changed (tray picture).
    Activity(Activity),
    /// A link from another program could not be dialed.
    DialFailed { input: String, error: AppError },
    /// A CRM was linked, unlinked or needs the agent.
    CrmStatus(CrmStatus),
    /// The outbox changed (counts of pending and blocked CRM writes).
    CrmWritesChanged,
    /// Logged in or out of the organization's server, or its stream went up or down.
    HubStatus(HubStatus),
    /// The agent's state at the hub changed (paused, available…): by this app, by another
    /// session of the agent, or by the hub (a call, a pause past its budget).
    AgentState(enlace_hub_client::AgentState),
    /// Supervisors: the organization's agents and their live states, after one changed.
    AgentsLive(Vec<enlace_hub_client::AgentLive>),
    /// A conversation of the inbox was created or changed (assigned, attended, read, a new
    /// message moved its preview).
    InboxConversation(InboxConversation),
    /// A message arrived, was queued here, was taken by the hub or changed status.
    InboxMessage {
        conversation: InboxConversation,
        message: ChatMessage,
    },
    /// An internal comment was added.
    InboxComment(ChatComment),
    /// The badge and tray counts changed.
    InboxCounts(InboxCounts),
    /// Show a desktop notification: a customer wrote or a conversation was assigned to the
    /// agent, and that chat is not on screen (already throttled and silenced while paused).
    ChatNotify {
        conversation: InboxConversation,
        preview: String,
    },
    /// Bytes of a queued file handed to the hub so far (its pending message's `key`); at most
    /// a few a second, the last with `sent == total`.
    InboxUpload {
        conversation_id: i64,
        key: String,
        sent: u64,
        total: u64,
    },
}

/// What the use-cases need from their surroundings.
pub trait Host: Send + Sync + 'static {
    fn emit(&self, event: DomainEvent);
    /// Open an `http(s)` URL in the system browser (CRM sign-in, Ver).
    fn open_url(&self, url: &str) -> Result<(), String>;
    /// The computer's position from the OS's location service (latitude, longitude, accuracy
    /// in metres), or `None`. May block for a few seconds: called from a blocking thread.
    fn os_position(&self) -> Option<(f64, f64, Option<f64>)> {
        None
    }
}

/// Start-up options.
#[derive(Clone, Default)]
pub struct AppOptions {
    /// Demo line used while no phone line is configured (`cargo xtask run`).
    pub demo_line: Option<DemoLine>,
    /// Benchmarks: append `<unix micros> <event>` lines to this file: `dial-sent` when the line
    /// accepted a dial, `ringing` when an incoming call first rings (the shell adds
    /// `notification-shown`, see [`App::trace`]).
    pub dial_trace: Option<PathBuf>,
    /// Source of call ids (random by default; tests inject their own).
    pub call_ids: Option<Arc<dyn CallIdSource>>,
    /// Where CRM tokens are kept: the OS keyring of the build channel. Tests and the demo may
    /// pass [`SecretStore::in_memory`] explicitly; there is no silent fallback.
    pub secrets: Option<SecretStore>,
    /// Local CRM doubles used instead of the configured CRM hosts (`cargo xtask run`, tests).
    pub demo_crm: Option<CrmConfig>,
    /// A local tile server's URL template used while the `map_tile_url` setting is the
    /// default (`cargo xtask run`: `ENLACE_DEMO_MAP_TILES`).
    pub demo_map_tiles: Option<String>,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("demo_line", &self.demo_line)
            .field("dial_trace", &self.dial_trace)
            .field("demo_crm", &self.demo_crm.is_some())
            .field("demo_map_tiles", &self.demo_map_tiles)
            .finish_non_exhaustive()
    }
}

/// The running application.
pub struct App<H: Host> {
    shared: Arc<Shared<H>>,
}

impl<H: Host> Clone for App<H> {
    fn clone(&self) -> Self {
        App {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<H: Host> std::fmt::Debug for App<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

struct Shared<H: Host> {
    host: H,
    store: Arc<Mutex<Store>>,
    clock: Arc<dyn Clock>,
    call_ids: Arc<dyn CallIdSource>,
    options: AppOptions,
    settings: Mutex<Settings>,
    /// Problem found while loading settings (shown once, then defaults are used).
    settings_problem: Mutex<Option<String>>,
    /// Saves that changed the Zoho client secret (a keyring read at start-up that raced one
    /// of them is dropped).
    client_secret_edits: std::sync::atomic::AtomicU64,
    line: RwLock<Line>,
    state: Mutex<LiveState>,
    crm: Arc<crm::CrmSide>,
    /// Wakes the outbox courier when something was queued or a CRM was linked.
    courier: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    /// The open session with the organization's server, if any.
    hub: Mutex<Option<hub::HubSession>>,
    /// Why the last hub session ended or cannot be kept, for the Login screen.
    hub_detail: Mutex<Option<String>>,
    /// Numbers the hub sessions opened here (events of a line tell whose they are).
    hub_serial: std::sync::atomic::AtomicU64,
    /// Supervisors: the agents' live table, kept by the stream (see `hub`).
    live: Mutex<Option<hub::LiveTable>>,
    /// One line restart at a time.
    restarting: tokio::sync::Mutex<()>,
    /// The hub session's event stream and its consumers (see `feed`, `hub`).
    feed: tokio::sync::Mutex<Option<feed::HubFeed>>,
    /// The inbox's live state and its sender's wake-up (see `inbox`).
    inbox: inbox::InboxSide,
    /// The running voice recording (see `voice`).
    voice: voice::VoiceSide,
}

struct Line {
    phone: PhoneLine,
    generation: u64,
    /// The task handling the line's events (ends once the line stopped and they are handled).
    pump: Option<tokio::task::JoinHandle<()>>,
}

/// How long a restart waits for the old line's last events to be handled.
const PUMP_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Default)]
struct LiveState {
    status: Option<LineStatus>,
    /// Calls not yet ended, by our id.
    open: HashMap<CallId, CallRecord>,
    activity: Option<Activity>,
}

impl<H: Host> App<H> {
    /// Open the app over an already opened store. Calls a crash left open are closed as lost.
    pub async fn start(
        host: H,
        store: Store,
        clock: Arc<dyn Clock>,
        options: AppOptions,
    ) -> Result<App<H>, AppError> {
        let store = Arc::new(Mutex::new(store));
        let now = clock.now();
        let (settings, problem) = {
            let store = Arc::clone(&store);
            blocking(move || {
                let store = lock(&store);
                let recovered = store.mark_open_calls_lost(now)?;
                if recovered > 0 {
                    tracing::warn!(recovered, "closed calls left open by an earlier run");
                }
                Ok(load_settings(&store))
            })
            .await?
        };
        let phone = PhoneLine::None;
        let call_ids = options
            .call_ids
            .clone()
            .unwrap_or_else(|| Arc::new(RandomCallIds::default()));
        let secrets = options
            .secrets
            .clone()
            .unwrap_or_else(|| SecretStore::new(enlace_secrets::Channel::Release));
        let shared = Arc::new(Shared {
            crm: Arc::new(crm::CrmSide::new(secrets)),
            courier: Mutex::new(None),
            hub: Mutex::new(None),
            hub_detail: Mutex::new(None),
            hub_serial: std::sync::atomic::AtomicU64::new(0),
            live: Mutex::new(None),
            restarting: tokio::sync::Mutex::new(()),
            feed: tokio::sync::Mutex::new(None),
            inbox: inbox::InboxSide::new(),
            voice: voice::VoiceSide::default(),
            host,
            store,
            clock,
            call_ids,
            options,
            settings: Mutex::new(settings),
            settings_problem: Mutex::new(problem),
            client_secret_edits: std::sync::atomic::AtomicU64::new(0),
            line: RwLock::new(Line {
                phone,
                generation: 0,
                pump: None,
            }),
            state: Mutex::new(LiveState::default()),
        });
        inbox::start_sender(&shared);
        let app = App { shared };
        app.start_courier();
        // The keyring may be slow (a D-Bus round trip, an unlock prompt): never hold the
        // window for it. Configuración learns the result through `DomainEvent::CrmStatus`.
        let loader = app.clone();
        tokio::spawn(async move {
            loader.resume_hub_session().await;
            loader.load_zoho_client_secret().await;
            loader.load_crm_links().await;
            loader.wake_courier();
            if let Err(e) = loader.emit_crm_status().await {
                tracing::warn!(code = %e.code(), "could not report the CRM links");
            }
        });
        app.restart_line().await;
        Ok(app)
    }

    fn start_courier(&self) {
        let (wake, woken) = std::sync::mpsc::channel();
        *lock(&self.shared.courier) = Some(wake);
        let shared = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("enlace-outbox".into())
            .spawn(move || outbox::run_courier(shared, woken));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the outbox courier");
        }
    }

    pub(crate) fn wake_courier(&self) {
        if let Some(wake) = lock(&self.shared.courier).as_ref() {
            let _ = wake.send(());
        }
    }

    /// The CRM hosts and clients in use: the demo doubles, or the agent's settings.
    pub fn crm_config(&self) -> CrmConfig {
        self.shared
            .options
            .demo_crm
            .clone()
            .unwrap_or_else(|| self.settings().crm_config())
    }

    /// A problem found in the stored settings at start-up, if any (defaults are in use).
    pub fn settings_problem(&self) -> Option<String> {
        lock(&self.shared.settings_problem).clone()
    }

    pub fn settings(&self) -> Settings {
        lock(&self.shared.settings).clone()
    }

    /// Validate, store and apply new settings; the phone line restarts when it changed. A
    /// changed Zoho client secret goes to the keyring first (an empty one is forgotten); the
    /// settings row never holds it.
    pub async fn save_settings(&self, new: Settings) -> Result<Settings, AppError> {
        new.validate()?;
        let old = self.settings();
        if new.zoho.client_secret != old.zoho.client_secret {
            self.store_zoho_client_secret(new.zoho.client_secret.clone())
                .await?;
        }
        let json = settings::to_json(&new);
        self.with_store(move |s| s.set_setting(settings::SETTINGS_KEY, &json))
            .await?;
        *lock(&self.shared.settings) = new.clone();
        *lock(&self.shared.settings_problem) = None;
        let demo = self.shared.options.demo_line.as_ref();
        if old.line_config(demo) != new.line_config(demo) {
            self.restart_line().await;
        }
        Ok(new)
    }

    /// The kind of line in use: the configured one, or baresip while the demo line stands in.
    pub fn line_kind(&self) -> LineKind {
        if lock(&self.shared.hub).is_some() {
            return LineKind::Hub;
        }
        let configured = self.settings().line_kind;
        if configured == LineKind::None && self.shared.options.demo_line.is_some() {
            LineKind::Baresip
        } else {
            configured
        }
    }

    pub fn line_status(&self) -> LineStatus {
        lock(&self.shared.state)
            .status
            .clone()
            .unwrap_or(LineStatus::Offline {
                reason: "no phone line configured".to_owned(),
            })
    }

    /// Parse `input` (a link or a typed number) and dial it on the phone line.
    pub async fn dial(&self, input: &str, source: DialSource) -> Result<DialTarget, AppError> {
        let country = self.settings().default_country;
        let parsed = parse_dial_uri(input, country);
        let attempt_input: String = input.chars().take(256).collect();
        let (target_str, code) = match &parsed {
            Ok(t) => (Some(t.dial_string().to_owned()), None),
            Err(e) => (None, Some(e.code().as_str())),
        };
        let now = self.shared.clock.now();
        let src = source.as_str();
        self.with_store(move |s| {
            s.record_dial_attempt(&attempt_input, target_str.as_deref(), code, src, now)
        })
        .await?;
        let target = parsed?;
        self.shared.line.read().await.phone.dial(&target).await?;
        self.trace("dial-sent");
        Ok(target)
    }

    /// Dial a link from another program; failures are reported as [`DomainEvent::DialFailed`].
    pub async fn dial_link(&self, url: &str) {
        if let Err(error) = self.dial(url, DialSource::Link).await {
            tracing::warn!(code = %error.code(), "could not dial a link");
            self.shared.host.emit(DomainEvent::DialFailed {
                input: url.chars().take(256).collect(),
                error,
            });
        }
    }

    pub async fn answer(&self, id: &CallId) -> Result<(), AppError> {
        let line_id = self.open_call_line_id(id)?;
        self.shared.line.read().await.phone.answer(&line_id).await?;
        Ok(())
    }

    pub async fn reject(&self, id: &CallId) -> Result<(), AppError> {
        let line_id = self.open_call_line_id(id)?;
        self.shared.line.read().await.phone.reject(&line_id).await?;
        Ok(())
    }

    pub async fn hangup(&self, id: &CallId) -> Result<(), AppError> {
        let line_id = self.open_call_line_id(id)?;
        self.shared.line.read().await.phone.hangup(&line_id).await?;
        Ok(())
    }

    /// Ignorar: the call leaves Llamadas (it is never logged) but stays in Historial.
    pub async fn ignore(&self, id: &CallId) -> Result<CallLog, AppError> {
        let key = id.clone();
        let record = self
            .with_store(move |s| {
                s.set_call_log_state(&key, LogState::Ignored)?;
                s.call_log(&key)
            })
            .await?
            .ok_or_else(|| AppError::CallNotFound(id.to_string()))?;
        self.shared
            .host
            .emit(DomainEvent::CallUpdated(record.clone()));
        Ok(record)
    }

    /// Llamadas: calls waiting to be logged, and logged calls whose CRM writes are not all
    /// delivered yet; newest first.
    pub async fn pending_calls(&self) -> Result<Vec<CallLog>, AppError> {
        self.with_store(|s| s.calls_to_log()).await
    }

    /// The call log with each call's CRM record, newest first.
    pub async fn history(&self) -> Result<Vec<CallLog>, AppError> {
        self.with_store(|s| s.call_log_history(HISTORY_LIMIT)).await
    }

    /// Calls still ringing or in progress (for a window opened mid-call).
    pub fn open_calls(&self) -> Vec<CallRecord> {
        let mut calls: Vec<_> = lock(&self.shared.state).open.values().cloned().collect();
        calls.sort_by_key(|c| c.started_at);
        calls
    }

    /// Stop the phone line (on quit); its last events (calls it closed, where the hub stream
    /// stopped) are handled before this returns.
    pub async fn shutdown(&self) {
        // The hub feed first: its last events and open calls are stored before the line goes.
        self.stop_feed().await;
        let _one = self.shared.restarting.lock().await;
        self.stop_line().await;
    }

    /// Stops the line without starting another (until the next restart).
    pub(crate) async fn stop_line_now(&self) {
        let _one = self.shared.restarting.lock().await;
        self.stop_line().await;
    }

    /// Stops the current line and waits (bounded) until its events are handled.
    async fn stop_line(&self) {
        let (phone, pump) = {
            let mut line = self.shared.line.write().await;
            line.generation += 1;
            (
                std::mem::replace(&mut line.phone, PhoneLine::None),
                line.pump.take(),
            )
        };
        phone.shutdown().await;
        if let Some(pump) = pump {
            if tokio::time::timeout(PUMP_DRAIN, pump).await.is_err() {
                tracing::warn!("the old phone line's events are still being handled");
            }
        }
    }

    fn open_call_line_id(&self, id: &CallId) -> Result<String, AppError> {
        lock(&self.shared.state)
            .open
            .get(id)
            .map(|c| c.line_call_id.clone())
            .ok_or_else(|| AppError::CallNotFound(id.to_string()))
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, enlace_store::StoreError> + Send + 'static,
    ) -> Result<T, AppError> {
        let store = Arc::clone(&self.shared.store);
        blocking(move || f(&mut lock(&store)).map_err(AppError::from)).await
    }

    /// Replace the phone line: the hub line while a hub session is open (resuming its stream
    /// where the previous line of the same session stopped), else the configured one.
    async fn restart_line(&self) {
        let _one = self.shared.restarting.lock().await;
        // The old line's last events first: they move the hub cursor and close its calls.
        self.stop_line().await;
        let (config, serial) = match self.hub_line_config().await {
            Some((config, serial)) => (config, Some(serial)),
            None => (
                self.settings()
                    .line_config(self.shared.options.demo_line.as_ref()),
                None,
            ),
        };
        let mut line = self.shared.line.write().await;
        line.generation += 1;
        let generation = line.generation;
        let (phone, events) = PhoneLine::start(
            config,
            Arc::clone(&self.shared.clock),
            Arc::clone(&self.shared.call_ids),
        );
        line.phone = phone;
        let app = self.clone();
        line.pump = Some(tokio::spawn(async move {
            app.pump(generation, serial, events).await
        }));
    }

    /// Handles the events of one line. `hub_serial`: the hub session the line belongs to.
    async fn pump(
        self,
        generation: u64,
        hub_serial: Option<u64>,
        mut events: tokio::sync::mpsc::Receiver<LineEvent>,
    ) {
        while let Some(event) = events.recv().await {
            if self.shared.line.read().await.generation != generation {
                // A newer line replaced this one; its last calls still get stored.
                if let LineEvent::Status(_) = event {
                    continue;
                }
            }
            match event {
                LineEvent::Status(status) => self.on_status(status),
                LineEvent::Call(record) => self.on_call(record).await,
                LineEvent::AgentState(update) => {
                    if let Some(serial) = hub_serial {
                        self.on_agent_update(serial, update);
                    }
                }
                LineEvent::HubCursor(id) => {
                    if let Some(serial) = hub_serial {
                        self.on_hub_cursor(serial, id).await;
                    }
                }
                LineEvent::HubTruncated => {
                    if let Some(serial) = hub_serial {
                        self.on_hub_truncated(serial).await;
                    }
                }
            }
        }
    }

    fn on_status(&self, status: LineStatus) {
        let changed = {
            let mut state = lock(&self.shared.state);
            let changed = state.status.as_ref() != Some(&status);
            state.status = Some(status.clone());
            changed
        };
        if changed {
            self.shared.host.emit(DomainEvent::LineStatus(status));
        }
        self.update_activity();
    }

    /// Benchmarks: append `<unix micros> <event>` to the trace file, when one is configured.
    pub fn trace(&self, event: &str) {
        if let Some(path) = &self.shared.options.dial_trace {
            trace_event(path, event);
        }
    }

    async fn on_call(&self, record: CallRecord) {
        self.trace_ringing(&record);
        let record = match self.store_call(&record).await {
            Ok(Some(r)) => r,
            Ok(None) => record,
            Err(e) => {
                // Keep going: the UI still shows the call; the error is logged.
                tracing::error!(error = %e, "could not store a call");
                record
            }
        };
        self.show_call(record).await;
    }

    /// A call from the hub feed: stored first; when it cannot be, nothing is shown and the
    /// error goes back to the feed, which offers the event again (its cursor stays put).
    pub(crate) async fn on_hub_call(&self, record: CallRecord) -> Result<(), AppError> {
        self.trace_ringing(&record);
        let stored = self.store_call(&record).await?;
        self.show_call(stored.unwrap_or(record)).await;
        Ok(())
    }

    async fn store_call(&self, record: &CallRecord) -> Result<Option<CallRecord>, AppError> {
        let r = record.clone();
        self.with_store(move |s| {
            s.upsert_call(&r)?;
            s.call(&r.id)
        })
        .await
    }

    /// Benchmarks: a call starts ringing in.
    fn trace_ringing(&self, record: &CallRecord) {
        if is_ringing_in(record) && !lock(&self.shared.state).open.contains_key(&record.id) {
            self.trace("ringing");
        }
    }

    /// The stored call in the app's state and the UI: ringing pop-up, caller ID, call list.
    async fn show_call(&self, record: CallRecord) {
        let was_ringing_in = {
            let mut state = lock(&self.shared.state);
            let previous = if record.status == CallStatus::Ended {
                state.open.remove(&record.id)
            } else {
                state.open.insert(record.id.clone(), record.clone())
            };
            previous.is_some_and(|p| is_ringing_in(&p))
        };
        if is_ringing_in(&record) && !was_ringing_in {
            let matches = self.caller_matches(&record.peer_number).await;
            if let [only] = matches.as_slice() {
                // One record has this number: attach it now (the agent can still change it).
                let (id, reference, name) =
                    (record.id.clone(), only.reference(), only.display_name());
                if let Err(e) = self
                    .with_store(move |s| s.attach_record(&id, &reference, &name))
                    .await
                {
                    tracing::warn!(code = %e.code(), "could not attach the caller's record");
                }
            }
            self.shared.host.emit(DomainEvent::IncomingRinging {
                call: record.clone(),
                matches,
            });
        } else if was_ringing_in && !is_ringing_in(&record) {
            self.shared
                .host
                .emit(DomainEvent::IncomingStopped(record.id.clone()));
        }
        let id = record.id.clone();
        match self.with_store(move |s| s.call_log(&id)).await {
            Ok(Some(log)) => self.shared.host.emit(DomainEvent::CallUpdated(log)),
            Ok(None) => {}
            Err(e) => tracing::error!(code = %e.code(), "could not read a call back"),
        }
        self.update_activity();
    }

    fn update_activity(&self) {
        let activity = {
            let mut state = lock(&self.shared.state);
            let activity = if state.open.values().any(is_ringing_in) {
                Activity::Ringing
            } else if state
                .open
                .values()
                .any(|c| c.status == CallStatus::Answered)
            {
                Activity::InCall
            } else if matches!(state.status, Some(LineStatus::Online)) {
                Activity::Idle
            } else {
                Activity::Offline
            };
            if state.activity == Some(activity) {
                return;
            }
            state.activity = Some(activity);
            activity
        };
        self.shared.host.emit(DomainEvent::Activity(activity));
    }
}

const HISTORY_LIMIT: usize = 500;

/// File name of the database inside the data folder.
pub const DATABASE_FILE: &str = enlace_store::DATABASE_FILE_NAME;

/// Opens the database in `data_dir` (creating the folder), or, when that fails, a database in
/// memory so the app still starts. The problems returned say what is wrong and what it means
/// (the shell shows them in the window): a database that could not be opened, and a data
/// folder inside the system's temporary folder (it may be emptied at any reboot). `Err` only
/// when not even a database in memory opens.
pub fn open_store(data_dir: &std::path::Path) -> Result<(Store, Vec<String>), AppError> {
    let mut problems = Vec::new();
    if in_temporary_folder(data_dir) {
        problems.push(format!(
            "data folder: {} is inside the system's temporary folder and may be emptied at the \
             next restart — set {} to a lasting folder",
            data_dir.display(),
            enlace_store::DATA_DIR_ENV
        ));
    }
    let opened = std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))
        .and_then(|()| Store::open(&data_dir.join(DATABASE_FILE)).map_err(|e| e.to_string()));
    let store = match opened {
        Ok(store) => store,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the database; running from memory");
            problems.push(format!(
                "storage: {e} — calls are kept only until Enlace closes"
            ));
            Store::open_in_memory()?
        }
    };
    Ok((store, problems))
}

/// Whether `dir` lies in the system's temporary folder (`$TMPDIR`, `/tmp`, `/var/tmp`).
fn in_temporary_folder(dir: &std::path::Path) -> bool {
    let mut temporary = vec![std::env::temp_dir()];
    if cfg!(unix) {
        temporary.extend(["/tmp", "/var/tmp"].map(PathBuf::from));
    }
    temporary
        .iter()
        .any(|t| dir.starts_with(t) || t.canonicalize().is_ok_and(|t| dir.starts_with(t)))
}

fn is_ringing_in(c: &CallRecord) -> bool {
    c.direction == CallDirection::Incoming && c.status == CallStatus::Ringing
}

fn load_settings(store: &Store) -> (Settings, Option<String>) {
    match store.setting(settings::SETTINGS_KEY) {
        Ok(None) => (Settings::default(), None),
        Ok(Some(json)) => match settings::from_json(&json) {
            Ok(s) => (s, None),
            Err(problem) => {
                tracing::warn!(%problem, "stored settings are unreadable; using defaults");
                (Settings::default(), Some(problem))
            }
        },
        Err(e) => (Settings::default(), Some(e.to_string())),
    }
}

fn trace_event(path: &std::path::Path, event: &str) {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{micros} {event}"));
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not write the dial trace");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(format!("background task failed: {e}")))?
}
