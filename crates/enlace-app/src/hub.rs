//! The organization's server (`enlace-hub`) from the agent's desk: log in with the 7-digit
//! user and 6-digit password, keep the session token in the OS keyring, make the hub the phone
//! line while logged in, pause / unpause / Salida, the agent's day and the supervisor's table.
//!
//! Invariants:
//! - The session token lives in the keyring entry `hub/<server>/<user>` and in memory; the
//!   database keeps only the server address and the user (settings).
//! - While a session is open the phone line is the hub line (calls from the hub's stream,
//!   click-to-dial through the PBX); logging out returns to the line chosen in Settings.
//! - Every HTTP call to the hub runs on the blocking pool.

use std::sync::Arc;

use enlace_core::{ErrorCode, LogState, Timestamp};
use enlace_hub_client::{
    Agent, AgentLive, AgentState, AgentStateKind, DaySummary, HubClient, HubError, PauseReason,
    StateChange,
};
use enlace_secrets::{SecretsError, Sensitive};
use enlace_telephony::{HubLineConfig, LineConfig};

use crate::error::AppError;
use crate::{blocking, lock, App, DomainEvent, Host};

/// An open session with the hub.
#[derive(Clone)]
pub(crate) struct HubSession {
    pub(crate) client: HubClient,
    pub(crate) token: Arc<Sensitive<String>>,
    pub(crate) agent: Agent,
    pub(crate) state: AgentState,
}

impl HubSession {
    pub(crate) fn line_config(&self) -> LineConfig {
        LineConfig::Hub(HubLineConfig::new(
            self.client.clone(),
            Sensitive::new(self.token.expose().clone()),
        ))
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
}

/// What a Salida would leave behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCheck {
    pub pending_calls: u32,
    pub pending_writes: u32,
}

fn token_ref(server: &str, user: &str) -> String {
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
        let client = HubClient::new(&server).map_err(|_| {
            AppError::invalid_setting(
                "server",
                "must be an address such as https://hub.example.com",
            )
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
        *lock(&self.shared.hub) = Some(HubSession {
            client,
            token,
            agent: session.agent,
            state: session.state,
        });
        self.restart_line().await;
        Ok(self.emit_hub_status())
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
                *lock(&self.shared.hub) = Some(HubSession {
                    client,
                    token: Arc::new(token),
                    agent: me.agent,
                    state: me.state,
                });
                self.restart_line().await;
            }
            Err(e) => {
                tracing::info!(code = %e.code(), "no hub session to resume");
            }
        }
        self.emit_hub_status();
    }

    fn hub_session(&self) -> Result<HubSession, AppError> {
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
        self.restart_line().await;
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
    async fn with_hub<T: Send + 'static>(
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

    /// Before Salida: calls still waiting to be logged and CRM writes not delivered.
    pub async fn agent_exit_check(&self) -> Result<ExitCheck, AppError> {
        let (calls, counts) = self
            .with_store(|s| Ok((s.calls_to_log()?, s.outbox_counts()?)))
            .await?;
        let pending_calls = calls
            .iter()
            .filter(|c| c.call.log_state == LogState::Pending)
            .count();
        Ok(ExitCheck {
            pending_calls: u32::try_from(pending_calls).unwrap_or(u32::MAX),
            pending_writes: counts.pending + counts.needs_attention,
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

    pub async fn agents_live(&self) -> Result<Vec<AgentLive>, AppError> {
        self.with_hub(|c, t| c.agents(t)).await
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
            _ => ErrorCode::HubBadReply,
        };
        let wait = e.retry_after().map(|d| d.as_secs());
        AppError::Hub(e.to_string(), code, wait)
    }
}
