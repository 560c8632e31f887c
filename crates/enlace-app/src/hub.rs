//! The organization's server (`enlace-hub`) from the agent's desk: log in with the 7-digit
//! user and 6-digit password, keep the session token in the OS keyring, make the hub the phone
//! line while logged in, pause / unpause / Salida, the agent's day and the supervisor's table.
//!
//! Invariants:
//! - The session token lives in the keyring entry `hub/<server>/<user>` and in memory; the
//!   database keeps only the server address and the user (settings).
//! - While a session is open the phone line is the hub line (click-to-dial through the PBX);
//!   logging out returns to the line chosen in Settings.
//! - The session's stream is the [`HubFeed`]'s (`crate::feed`), for the session's life, not
//!   the line's: it hands calls to the call list (through the line's [`HubCallTracker`]),
//!   states to Pausas and the supervisor's table, chats to the inbox cache (`crate::inbox`),
//!   and saves the cursor only after all of them stored an event.
//! - Every HTTP call to the hub runs on the blocking pool.
//! - The stream is followed, not polled: the agent's own state changes (from any
//!   of its sessions, or the hub's) arrive as [`DomainEvent::AgentState`]; for a supervisor,
//!   every agent's change updates the live table (`LiveTable`, seeded from
//!   `GET /api/v1/agents` at login and whenever Gestión asks) and is emitted whole as
//!   [`DomainEvent::AgentsLive`]. A state only replaces an older one (by its `since`), so the
//!   replay of the log and a late snapshot never step back in time.
//! - Where the stream stopped ([`settings::HubCursor`], its own settings row, per hub and
//!   user) is saved after every event all consumers stored and given to the next feed of the
//!   same session, with the calls already stored, so restarting the app neither loses nor
//!   repeats a call. Logging in afresh or out drops it.
//! - When the hub had pruned events the feed had not read (as [`LineEvent::HubTruncated`]), the
//!   agent's state (and a supervisor's table) is read again from the hub and the status says
//!   when ([`HubStatus::resynced_at`]): the UI reads the day again and tells the agent.
//!
//! [`LineEvent::HubTruncated`]: enlace_telephony::LineEvent::HubTruncated

use std::sync::Arc;

use enlace_core::{CallRecord, EndReason};
use enlace_core::{ErrorCode, LogState, Timestamp};
use enlace_hub_client::api::{EventEnvelope, HubEvent};
use enlace_hub_client::HubEvent as StreamItem;
use enlace_hub_client::{
    Agent, AgentLive, AgentState, AgentStateKind, DaySummary, HubClient, HubError, PauseReason,
    StateChange,
};
use enlace_secrets::{SecretsError, Sensitive};
use enlace_telephony::{AgentUpdate, HubCallTracker, HubLineConfig, LineConfig, LineStatus};

use crate::feed::{CursorSink, FeedConsumer, HubFeed, Stored};
use crate::inbox::InboxConsumer;

use crate::error::AppError;
use crate::settings::{self, HubCursor};
use crate::{blocking, lock, App, DomainEvent, Host};

/// How many recent calls a new hub line is told about (to continue or skip them).
const KNOWN_CALLS: usize = 100;

/// An open session with the hub.
#[derive(Clone)]
pub(crate) struct HubSession {
    pub(crate) client: HubClient,
    pub(crate) token: Arc<Sensitive<String>>,
    pub(crate) agent: Agent,
    pub(crate) state: AgentState,
    /// Tells this session's line events from an earlier session's.
    pub(crate) serial: u64,
    /// The last hub event handled by this session's lines (where a new line resumes).
    pub(crate) last_event_id: Option<u64>,
    /// When the state was last read again after the hub had pruned unread events.
    pub(crate) resynced_at: Option<Timestamp>,
}

/// The supervisor's live table: the hub's agents with their latest states.
#[derive(Debug, Default)]
pub(crate) struct LiveTable {
    rows: Vec<AgentLive>,
    /// Read whole from the hub at least once; until then events only collect.
    seeded: bool,
}

impl LiveTable {
    /// One agent's state from the stream; whether the table changed.
    fn apply(&mut self, agent: &Agent, state: &AgentState) -> bool {
        match self.rows.iter_mut().find(|r| r.agent.id == agent.id) {
            Some(row) => {
                if state.since < row.state.since || (row.state == *state && row.agent == *agent) {
                    return false;
                }
                row.agent = agent.clone();
                row.state = state.clone();
                true
            }
            None => {
                self.rows.push(AgentLive {
                    agent: agent.clone(),
                    disabled: false,
                    state: state.clone(),
                });
                true
            }
        }
    }

    /// The hub's table, keeping the states the stream brought that are newer than it.
    fn seed(&mut self, fetched: Vec<AgentLive>) {
        let rows = fetched
            .into_iter()
            .map(|mut row| {
                if let Some(seen) = self.rows.iter().find(|r| r.agent.id == row.agent.id) {
                    if seen.state.since > row.state.since {
                        row.state = seen.state.clone();
                    }
                }
                row
            })
            .collect();
        self.rows = rows;
        self.seeded = true;
    }
}

/// What the Login screen, Pausas and the side bar show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubStatus {
    pub server: Option<String>,
    pub agent: Option<Agent>,
    pub state: Option<AgentState>,
    pub stream_online: bool,
    pub detail: Option<String>,
    /// The stream had lost events (the hub no longer kept them): at this instant the agent's
    /// state was read again; the day and the calls shown should be read again too.
    pub resynced_at: Option<Timestamp>,
}

/// What a Salida would leave behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitCheck {
    pub pending_calls: u32,
    pub pending_writes: u32,
    /// Open chats assigned to the agent (Salida offers to hand them back:
    /// [`App::inbox_release_all_mine`]).
    pub chats: Vec<crate::inbox::ExitChat>,
}

pub(crate) fn token_ref(server: &str, user: &str) -> String {
    format!("hub/{server}/{user}")
}

fn valid_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

impl<H: Host> App<H> {
    /// The hub as the UI sees it.
    pub fn hub_status(&self) -> HubStatus {
        let session = lock(&self.shared.hub).clone();
        let server = self.settings().hub_server;
        let stream_online =
            session.is_some() && matches!(self.line_status(), enlace_telephony::LineStatus::Online);
        HubStatus {
            server: (!server.is_empty()).then_some(server),
            agent: session.as_ref().map(|s| s.agent.clone()),
            resynced_at: session.as_ref().and_then(|s| s.resynced_at),
            state: session.map(|s| s.state),
            stream_online,
            detail: lock(&self.shared.hub_detail).clone(),
        }
    }

    fn emit_hub_status(&self) -> HubStatus {
        let status = self.hub_status();
        self.shared
            .host
            .emit(DomainEvent::HubStatus(status.clone()));
        status
    }

    /// Ingresar: check the formats, log in, keep the token in the keyring, switch the line.
    pub async fn hub_login(
        &self,
        server: &str,
        user: &str,
        password: Sensitive<String>,
    ) -> Result<HubStatus, AppError> {
        let server = server.trim().trim_end_matches('/').to_owned();
        let user = user.trim().to_owned();
        let client = HubClient::new(&server).map_err(|e| match e {
            // Plain http:// to another computer: its own code, so the UI can say why.
            HubError::InsecureUrl(_) => AppError::from(e),
            _ => AppError::invalid_setting(
                "server",
                "must be an address such as https://hub.example.com",
            ),
        })?;
        if !valid_digits(&user, 7) {
            return Err(AppError::invalid_setting(
                "user",
                "must be the 7-digit user",
            ));
        }
        if !valid_digits(password.expose().trim(), 6) {
            return Err(AppError::invalid_setting(
                "password",
                "must be the 6-digit password",
            ));
        }
        let session = {
            let (client, user) = (client.clone(), user.clone());
            blocking(move || client.login(&user, &password).map_err(AppError::from)).await?
        };
        let token = Arc::new(session.token);
        let secrets = self.shared.crm.secrets.clone();
        let (entry, secret) = (
            token_ref(&server, &user),
            Sensitive::new(token.expose().clone()),
        );
        let kept = blocking(move || Ok(secrets.put(&entry, &secret))).await?;
        *lock(&self.shared.hub_detail) = kept
            .err()
            .map(|e: SecretsError| format!("the session is kept only until Enlace closes: {e}"));
        let mut settings = self.settings();
        settings.hub_server = server;
        settings.hub_user = user;
        self.save_settings(settings).await?;
        // A new session follows the stream from now: an older cursor is not for it. The old
        // session's line stops first, so it cannot save its cursor after this.
        lock(&self.shared.hub).take();
        self.stop_line_now().await;
        self.forget_cursor().await;
        let supervisor = session.agent.supervisor;
        self.open_session(client, token, session.agent, session.state, None);
        // Events since the last session were not followed: cached timelines may have gaps.
        self.inbox_session_opened(true).await;
        self.restart_line().await;
        self.start_feed().await;
        if supervisor {
            self.seed_live_in_background();
        }
        Ok(self.emit_hub_status())
    }

    fn open_session(
        &self,
        client: HubClient,
        token: Arc<Sensitive<String>>,
        agent: Agent,
        state: AgentState,
        last_event_id: Option<u64>,
    ) {
        let serial = self
            .shared
            .hub_serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        *lock(&self.shared.live) = None;
        *lock(&self.shared.hub) = Some(HubSession {
            client,
            token,
            agent,
            state,
            serial,
            last_event_id,
            resynced_at: None,
        });
    }

    /// The hub line of the open session, resuming where its previous line stopped, and the
    /// session's serial. `None` without a session.
    pub(crate) async fn hub_line_config(&self) -> Option<(LineConfig, u64)> {
        lock(&self.shared.hub).as_ref()?;
        let known_calls = match self.with_store(|s| s.call_history(KNOWN_CALLS)).await {
            Ok(calls) => calls,
            Err(e) => {
                tracing::warn!(code = %e.code(), "could not read the calls a hub line resumes");
                Vec::new()
            }
        };
        let session = lock(&self.shared.hub).clone()?;
        let config = HubLineConfig {
            client: session.client.clone(),
            token: Sensitive::new(session.token.expose().clone()),
            after: session.last_event_id,
            known_calls,
            // The session's HubFeed follows the stream; the line only dials.
            follow_stream: false,
        };
        Some((LineConfig::Hub(config), session.serial))
    }

    /// The hub line handled every event up to `id`: remember it, and save it for a restart.
    pub(crate) async fn on_hub_cursor(&self, serial: u64, id: u64) {
        if let Err(e) = self.save_hub_cursor(serial, id).await {
            tracing::warn!(code = %e.code(), "could not save where the hub stream stopped");
        }
    }

    /// Saves `id` as the last hub event of session `serial` every part of the app stored (a
    /// session that ended has nothing to save).
    pub(crate) async fn save_hub_cursor(&self, serial: u64, id: u64) -> Result<(), AppError> {
        let cursor = {
            let mut hub = lock(&self.shared.hub);
            let Some(session) = hub.as_mut().filter(|s| s.serial == serial) else {
                return Ok(());
            };
            if session.last_event_id.is_some_and(|last| last >= id) {
                return Ok(());
            }
            session.last_event_id = Some(id);
            HubCursor {
                server: session.client.base_url().to_owned(),
                user: session.agent.user.clone(),
                last_event_id: id,
            }
        };
        self.with_store(move |s| s.set_setting_json(settings::HUB_CURSOR_KEY, &cursor))
            .await
    }

    /// Follows the open session's stream with a [`HubFeed`] (replacing an earlier one): calls
    /// to the call list (through a [`HubCallTracker`]), states to Pausas and the supervisor's
    /// table, chats to the inbox; the cursor is saved once all of them stored an event.
    pub(crate) async fn start_feed(&self) {
        let Some(session) = lock(&self.shared.hub).clone() else {
            return;
        };
        let known_calls = match self.with_store(|s| s.call_history(KNOWN_CALLS)).await {
            Ok(calls) => calls,
            Err(e) => {
                tracing::warn!(code = %e.code(), "could not read the calls the hub feed resumes");
                Vec::new()
            }
        };
        let after = session.last_event_id;
        let tracker = HubCallTracker::new(
            Arc::clone(&self.shared.clock),
            Arc::clone(&self.shared.call_ids),
            after,
            known_calls,
        );
        self.on_status(LineStatus::Connecting);
        let stream = session.client.stream(&session.token, after);
        let consumers: Vec<Box<dyn FeedConsumer>> = vec![
            Box::new(CallsConsumer {
                app: self.clone(),
                serial: session.serial,
                tracker,
                pending: None,
                had_cursor: after.is_some(),
            }),
            Box::new(StatesConsumer {
                app: self.clone(),
                serial: session.serial,
            }),
            Box::new(InboxConsumer::new(self.clone(), session.serial)),
        ];
        let cursor = Box::new(SessionCursor {
            app: self.clone(),
            serial: session.serial,
        });
        let feed = HubFeed::start(stream, after, consumers, cursor);
        let earlier = self.shared.feed.lock().await.replace(feed);
        if let Some(earlier) = earlier {
            earlier.shutdown().await;
        }
    }

    /// Stops the session's feed: calls still open end as `line_lost` (a later session that
    /// resumes the stream continues them).
    pub(crate) async fn stop_feed(&self) {
        let feed = self.shared.feed.lock().await.take();
        if let Some(feed) = feed {
            feed.shutdown().await;
        }
    }

    async fn forget_cursor(&self) {
        if let Err(e) = self
            .with_store(|s| s.delete_setting(settings::HUB_CURSOR_KEY))
            .await
        {
            tracing::warn!(code = %e.code(), "could not drop the hub stream's cursor");
        }
    }

    /// An agent's state from the hub line of session `serial`: the agent's own becomes
    /// [`DomainEvent::AgentState`]; for a supervisor every agent's updates the live table.
    pub(crate) fn on_agent_update(&self, serial: u64, update: AgentUpdate) {
        let (own, live) = {
            let mut hub = lock(&self.shared.hub);
            let Some(session) = hub.as_mut().filter(|s| s.serial == serial) else {
                return;
            };
            let agent = update.agent.unwrap_or_else(|| session.agent.clone());
            let state = update.state;
            let mut own = None;
            if agent.id == session.agent.id
                && state.since >= session.state.since
                && (state != session.state || update.over_budget)
            {
                session.state = state.clone();
                own = Some(state.clone());
            }
            let live = if session.agent.supervisor {
                let mut table = lock(&self.shared.live);
                let table = table.get_or_insert_with(LiveTable::default);
                (table.apply(&agent, &state) && table.seeded).then(|| table.rows.clone())
            } else {
                None
            };
            (own, live)
        };
        if let Some(state) = own {
            self.shared.host.emit(DomainEvent::AgentState(state));
        }
        if let Some(rows) = live {
            self.shared.host.emit(DomainEvent::AgentsLive(rows));
        }
    }

    /// The hub line of session `serial` missed events the hub no longer keeps: read the
    /// agent's state again (and a supervisor's table), then say so in the hub status.
    pub(crate) async fn on_hub_truncated(&self, serial: u64) {
        let Some(session) = self.hub_session().ok().filter(|s| s.serial == serial) else {
            return;
        };
        // Not `with_hub`: an ended session shows on the stream itself (and the line's events
        // must not restart the line).
        let me = match blocking(move || Ok(session.client.me(&session.token))).await {
            Ok(Ok(me)) => me,
            Ok(Err(e)) => {
                let e = AppError::from(e);
                tracing::warn!(code = %e.code(), "could not read the agent's state again");
                return;
            }
            Err(e) => {
                tracing::warn!(code = %e.code(), "could not read the agent's state again");
                return;
            }
        };
        let now = self.shared.clock.now();
        let supervisor = {
            let mut hub = lock(&self.shared.hub);
            let Some(session) = hub.as_mut().filter(|s| s.serial == serial) else {
                return;
            };
            session.agent = me.agent;
            session.state = me.state.clone();
            session.resynced_at = Some(now);
            session.agent.supervisor
        };
        self.shared.host.emit(DomainEvent::AgentState(me.state));
        if supervisor {
            self.seed_live_in_background();
        }
        self.emit_hub_status();
    }

    /// Supervisors: read the live table now and show it (after login).
    fn seed_live_in_background(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            match app.agents_live().await {
                Ok(rows) => app.shared.host.emit(DomainEvent::AgentsLive(rows)),
                Err(e) => tracing::info!(code = %e.code(), "could not read the agents' table"),
            }
        });
    }

    /// Resume the session saved in the keyring (at start-up). Failures only leave the agent
    /// logged out, with the reason in the status.
    pub(crate) async fn resume_hub_session(&self) {
        let settings = self.settings();
        if settings.hub_server.is_empty() || settings.hub_user.is_empty() {
            return;
        }
        let Ok(client) = HubClient::new(&settings.hub_server) else {
            return;
        };
        let secrets = self.shared.crm.secrets.clone();
        let entry = token_ref(&settings.hub_server, &settings.hub_user);
        let resumed = blocking(move || {
            let token = secrets.get(&entry).map_err(AppError::from)?;
            let me = client.me(&token).map_err(AppError::from)?;
            Ok((client, token, me))
        })
        .await;
        match resumed {
            Ok((client, token, me)) => {
                let cursor = match self
                    .with_store(|s| s.setting_json::<HubCursor>(settings::HUB_CURSOR_KEY))
                    .await
                {
                    Ok(cursor) => cursor,
                    Err(e) => {
                        tracing::warn!(code = %e.code(), "unreadable hub stream cursor");
                        None
                    }
                };
                let after = cursor.and_then(|c| c.resume_for(client.base_url(), &me.agent.user));
                let supervisor = me.agent.supervisor;
                let resumed_stream = after.is_some();
                self.open_session(client, Arc::new(token), me.agent, me.state, after);
                self.inbox_session_opened(!resumed_stream).await;
                self.restart_line().await;
                self.start_feed().await;
                if supervisor {
                    self.seed_live_in_background();
                }
            }
            Err(e) => {
                tracing::info!(code = %e.code(), "no hub session to resume");
            }
        }
        self.emit_hub_status();
    }

    pub(crate) fn hub_session(&self) -> Result<HubSession, AppError> {
        lock(&self.shared.hub).clone().ok_or_else(|| {
            AppError::Hub(
                "log in to the organization's server first".into(),
                ErrorCode::SessionExpired,
                None,
            )
        })
    }

    /// Forget the session locally (token, line).
    async fn end_hub_session(&self) {
        let Some(session) = lock(&self.shared.hub).take() else {
            return;
        };
        *lock(&self.shared.live) = None;
        let settings = self.settings();
        let secrets = self.shared.crm.secrets.clone();
        let entry = token_ref(&settings.hub_server, &session.agent.user);
        let _ = blocking(move || {
            match secrets.delete(&entry) {
                Ok(()) | Err(SecretsError::NotFound { .. }) => {}
                Err(e) => tracing::warn!(code = %e.code(), "could not delete the hub token"),
            }
            Ok(())
        })
        .await;
        // The session's feed and line are drained first, so its cursor is not saved again.
        self.stop_feed().await;
        self.restart_line().await;
        self.forget_cursor().await;
        self.emit_inbox_counts().await;
    }

    /// Cerrar sesión without Salida.
    pub async fn hub_logout(&self) -> Result<HubStatus, AppError> {
        if let Ok(session) = self.hub_session() {
            let result = blocking(move || {
                Ok(session
                    .client
                    .logout(&session.token)
                    .map_err(AppError::from))
            })
            .await?;
            if let Err(e) = result {
                tracing::warn!(code = %e.code(), "the hub did not confirm the logout");
            }
        }
        self.end_hub_session().await;
        Ok(self.emit_hub_status())
    }

    /// Run a call to the hub with the session; an expired session logs the agent out here.
    pub(crate) async fn with_hub<T: Send + 'static>(
        &self,
        f: impl FnOnce(&HubClient, &Sensitive<String>) -> Result<T, HubError> + Send + 'static,
    ) -> Result<T, AppError> {
        let session = self.hub_session()?;
        let result = blocking(move || Ok(f(&session.client, &session.token))).await?;
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                let error = AppError::from(e);
                if matches!(
                    error.code(),
                    ErrorCode::SessionExpired | ErrorCode::AgentDisabled
                ) {
                    self.end_hub_session().await;
                    *lock(&self.shared.hub_detail) = Some(error.to_string());
                    self.emit_hub_status();
                }
                Err(error)
            }
        }
    }

    pub async fn pause_reasons(&self) -> Result<Vec<PauseReason>, AppError> {
        self.with_hub(|c, t| c.pause_reasons(t)).await
    }

    async fn change_state(&self, change: StateChange) -> Result<AgentState, AppError> {
        let state = self.with_hub(move |c, t| c.set_state(t, change)).await?;
        if let Some(session) = lock(&self.shared.hub).as_mut() {
            session.state = state.clone();
        }
        self.shared
            .host
            .emit(DomainEvent::AgentState(state.clone()));
        Ok(state)
    }

    pub async fn agent_pause(&self, reason_id: i64) -> Result<AgentState, AppError> {
        self.change_state(StateChange::Paused { reason_id }).await
    }

    pub async fn agent_unpause(&self) -> Result<AgentState, AppError> {
        self.change_state(StateChange::Available).await
    }

    /// Before Salida: calls still waiting to be logged, CRM writes not delivered and the
    /// open chats assigned to the agent.
    pub async fn agent_exit_check(&self) -> Result<ExitCheck, AppError> {
        let (calls, counts, chats) = self
            .with_store(|s| Ok((s.calls_to_log()?, s.outbox_counts()?, s.my_open_chats()?)))
            .await?;
        let pending_calls = calls
            .iter()
            .filter(|c| c.call.log_state == LogState::Pending)
            .count();
        Ok(ExitCheck {
            pending_calls: u32::try_from(pending_calls).unwrap_or(u32::MAX),
            pending_writes: counts.pending + counts.needs_attention,
            chats: chats.iter().map(crate::inbox::ExitChat::of).collect(),
        })
    }

    /// Salida: leave the queues, end the session at the hub and here.
    pub async fn agent_exit(&self) -> Result<HubStatus, AppError> {
        self.with_hub(|c, t| c.set_state(t, StateChange::Exit))
            .await?;
        self.end_hub_session().await;
        Ok(self.emit_hub_status())
    }

    pub async fn agent_day(&self) -> Result<DaySummary, AppError> {
        self.with_hub(|c, t| c.day(t)).await
    }

    /// Supervisors: the agents' table, read from the hub; it also (re)seeds the table the
    /// stream keeps up to date ([`DomainEvent::AgentsLive`]).
    pub async fn agents_live(&self) -> Result<Vec<AgentLive>, AppError> {
        let serial = self.hub_session()?.serial;
        let fetched = self.with_hub(|c, t| c.agents(t)).await?;
        let hub = lock(&self.shared.hub);
        if hub.as_ref().is_none_or(|s| s.serial != serial) {
            // The session changed meanwhile: the table is not its to keep.
            return Ok(fetched);
        }
        let mut table = lock(&self.shared.live);
        let table = table.get_or_insert_with(LiveTable::default);
        table.seed(fetched);
        Ok(table.rows.clone())
    }

    /// Whether the current pause has run past its reason's budget.
    pub fn over_budget(&self, state: &AgentState) -> bool {
        let now = self.shared.clock.now();
        match (
            &state.kind,
            state.reason.as_ref().and_then(|r| r.budget_seconds),
        ) {
            (AgentStateKind::Paused, Some(budget)) => {
                Timestamp(state.since).seconds_until(now) as i64 > budget
            }
            _ => false,
        }
    }
}

impl From<HubError> for AppError {
    fn from(e: HubError) -> Self {
        let code = match e.code() {
            "bad_credentials" => ErrorCode::BadCredentials,
            "throttled" => ErrorCode::Throttled,
            "agent_disabled" => ErrorCode::AgentDisabled,
            "session_expired" => ErrorCode::SessionExpired,
            "forbidden" => ErrorCode::Forbidden,
            "pbx_offline" | "pbx_refused" => ErrorCode::PbxOffline,
            "invalid_request" => ErrorCode::InvalidRequest,
            "not_found" => ErrorCode::NotFound,
            "hub_unreachable" => ErrorCode::HubUnreachable,
            "invalid_setting" => ErrorCode::InvalidSetting,
            "insecure_hub_address" => ErrorCode::InsecureHubAddress,
            "window_closed" => ErrorCode::WindowClosed,
            "whatsapp_invalid_message" => ErrorCode::WhatsappInvalidMessage,
            "whatsapp_media_empty" => ErrorCode::WhatsappMediaEmpty,
            "whatsapp_media_too_large" => ErrorCode::WhatsappMediaTooLarge,
            "whatsapp_media_type" => ErrorCode::WhatsappMediaType,
            "whatsapp_media_content" => ErrorCode::WhatsappMediaContent,
            "whatsapp_not_configured" => ErrorCode::WhatsappNotConfigured,
            "whatsapp_unavailable" => ErrorCode::WhatsappUnavailable,
            "media_too_large" => ErrorCode::MediaTooLarge,
            _ => ErrorCode::HubBadReply,
        };
        let wait = e.retry_after().map(|d| d.as_secs());
        AppError::Hub(e.to_string(), code, wait)
    }
}

/// The hub feed's consumer of calls: the line's records, stored in the call list.
struct CallsConsumer<H: Host> {
    app: App<H>,
    serial: u64,
    tracker: HubCallTracker,
    /// The record of an event offered again (the tracker already moved past it).
    pending: Option<(u64, Option<CallRecord>)>,
    /// Whether this session's stream had a position (then a truncation lost state).
    had_cursor: bool,
}

impl<H: Host> CallsConsumer<H> {
    fn current(&self) -> bool {
        lock(&self.app.shared.hub)
            .as_ref()
            .is_some_and(|s| s.serial == self.serial)
    }
}

impl<H: Host> FeedConsumer for CallsConsumer<H> {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn store<'a>(&'a mut self, event: &'a EventEnvelope) -> Stored<'a> {
        Box::pin(async move {
            self.had_cursor = true;
            let record = match self.pending.take() {
                Some((id, record)) if id == event.id => record,
                _ => self.tracker.event(event),
            };
            let Some(record) = record else {
                return Ok(());
            };
            if let Err(e) = self.app.on_hub_call(record.clone()).await {
                self.pending = Some((event.id, Some(record)));
                return Err(e.to_string());
            }
            Ok(())
        })
    }

    fn notice<'a>(&'a mut self, item: &'a StreamItem) -> Stored<'a> {
        Box::pin(async move {
            if !self.current() {
                return Ok(());
            }
            match item {
                StreamItem::Online => self.app.on_status(LineStatus::Online),
                StreamItem::Offline { reason } => self.app.on_status(LineStatus::Offline {
                    reason: format!("the hub is not reachable: {reason}"),
                }),
                StreamItem::SessionEnded => self.app.on_status(LineStatus::Offline {
                    reason: "the hub session ended; log in again".into(),
                }),
                // A stream without a position expects older events to be gone.
                StreamItem::Truncated { .. } if !self.had_cursor => {
                    tracing::debug!("hub feed: older events were pruned before it started");
                }
                StreamItem::Truncated { .. } => {
                    tracing::warn!("hub feed: events were pruned before it read them");
                    for record in self.tracker.lose_open() {
                        if let Err(e) = self.app.on_hub_call(record).await {
                            tracing::warn!(code = %e.code(), "could not store a lost call");
                        }
                    }
                    self.app.on_hub_truncated(self.serial).await;
                }
                StreamItem::Event(_) => {}
            }
            Ok(())
        })
    }

    fn finish(&mut self) -> Stored<'_> {
        Box::pin(async move {
            for record in self.tracker.close_all(EndReason::LineLost) {
                if let Err(e) = self.app.on_hub_call(record).await {
                    tracing::warn!(code = %e.code(), "could not store a call left open");
                }
            }
            Ok(())
        })
    }
}

/// The hub feed's consumer of agents' states: Pausas (the agent's own) and the supervisor's
/// live table, both kept in memory.
struct StatesConsumer<H: Host> {
    app: App<H>,
    serial: u64,
}

impl<H: Host> FeedConsumer for StatesConsumer<H> {
    fn name(&self) -> &'static str {
        "states"
    }

    fn store<'a>(&'a mut self, event: &'a EventEnvelope) -> Stored<'a> {
        Box::pin(async move {
            let update = match &event.event {
                HubEvent::AgentState(changed) => AgentUpdate {
                    agent: changed.agent.clone(),
                    state: changed.state.clone(),
                    over_budget: false,
                },
                HubEvent::PauseBudgetExceeded(over) => AgentUpdate {
                    agent: over.agent.clone(),
                    state: AgentState {
                        kind: AgentStateKind::Paused,
                        since: over.since,
                        reason: Some(over.reason.clone()),
                    },
                    over_budget: true,
                },
                _ => return Ok(()),
            };
            self.app.on_agent_update(self.serial, update);
            Ok(())
        })
    }
}

/// The cursor of the hub session `serial`: its settings row.
struct SessionCursor<H: Host> {
    app: App<H>,
    serial: u64,
}

impl<H: Host> CursorSink for SessionCursor<H> {
    fn save(&mut self, id: u64) -> Stored<'_> {
        Box::pin(async move {
            self.app
                .save_hub_cursor(self.serial, id)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
