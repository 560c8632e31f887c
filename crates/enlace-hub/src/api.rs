//! The HTTP API (axum): JSON in and out, errors as `{code, message, retryAfter?}`, a 64 KiB
//! body limit, and the WebSocket stream of events. Bodies, replies and events are the types of
//! `enlace-hub-api`. Every route is declared once in [`routes`], which builds the router; the
//! OpenAPI document is generated from the handlers' `#[utoipa::path]` (see [`crate::openapi`],
//! which says how to add a route) and a test fails when a route is missing from it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use enlace_hub_api::{
    AgentOverview, AgentState, ApiError, DayPause, DayQuery, DaySummary, DialReply, DialRequest,
    EventEnvelope, HubEvent, LoginRequest, Me, PauseReason, SessionCreated, StateRequest,
    StreamQuery, StreamTruncated,
};
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;

use crate::agents::{agent_api, reason_api};
use crate::auth::Authed;
use crate::error::HubError;
use crate::Hub;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The OpenAPI 3.1 description of this API, generated from the types (see [`crate::openapi`]).
pub static OPENAPI: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(crate::openapi::document);
/// WebSocket close code sent when the session ends (logout, exit, expiry, disabled agent).
pub const CLOSE_SESSION_ENDED: u16 = 4001;
const REPLAY_PAGE: i64 = 500;

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let status = match &self {
            HubError::BadCredentials | HubError::SessionExpired => StatusCode::UNAUTHORIZED,
            HubError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            HubError::AgentDisabled | HubError::Forbidden => StatusCode::FORBIDDEN,
            HubError::NotFound(_) => StatusCode::NOT_FOUND,
            HubError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            HubError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::PbxOffline(_) => StatusCode::SERVICE_UNAVAILABLE,
            HubError::PbxRefused(_) => StatusCode::BAD_GATEWAY,
            HubError::Store(_) | HubError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            HubError::Store(_) | HubError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after = self.retry_after();
        let body = ApiError {
            code: self.api_code(),
            message,
            retry_after,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// The client's address (for login throttling), from plain TCP or TLS connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// JSON body whose rejections are our errors (400 invalid_request, 413 payload_too_large).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = HubError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HubError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

pub(crate) fn json_rejection(rejection: JsonRejection) -> HubError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        HubError::TooLarge
    } else {
        HubError::InvalidRequest(rejection.body_text())
    }
}

/// Query string whose rejections are 400 invalid_request.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HubError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|e: QueryRejection| HubError::InvalidRequest(e.body_text()))
    }
}

impl FromRequestParts<Hub> for Authed {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, HubError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(HubError::SessionExpired)?;
        hub.authenticate(token.trim()).await
    }
}

/// Every route: (method, path, handler). The router and the OpenAPI test both use this.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Hub>)> {
    vec![
        ("post", "/api/v1/sessions", post(create_session)),
        ("delete", "/api/v1/sessions/current", delete(delete_session)),
        ("get", "/api/v1/me", get(me)),
        ("post", "/api/v1/me/state", post(set_state)),
        ("get", "/api/v1/me/day", get(day)),
        ("get", "/api/v1/pause-reasons", get(pause_reasons)),
        ("post", "/api/v1/calls", post(dial)),
        ("get", "/api/v1/agents", get(agents)),
        ("get", "/api/v1/stream", get(stream)),
        ("get", "/api/v1/openapi.json", get(openapi)),
    ]
}

/// Every route the router serves: [`routes`] and each feature module's own list.
pub fn every_route() -> Vec<(&'static str, &'static str, MethodRouter<Hub>)> {
    routes()
        .into_iter()
        .chain(crate::whatsapp::api::routes())
        .collect()
}

pub fn router(hub: Hub) -> Router {
    let mut router = Router::new();
    for (_, path, handler) in every_route() {
        router = router.route(path, handler);
    }
    router
        .fallback(|| async { HubError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(hub)
}

/// Serves the API on `listener` (plain TCP or [`crate::tls::TlsListener`]) until `shutdown` resolves, running the hub's housekeeping
/// every few seconds meanwhile.
pub async fn serve<L>(
    hub: Hub,
    listener: L,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    PeerAddr: for<'a> Connected<IncomingStream<'a, L>>,
{
    let ticker = {
        let hub = hub.clone();
        let mut stopping = hub.stopping();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        if let Err(e) = hub.tick().await {
                            tracing::warn!(error = %e, "housekeeping failed");
                        }
                    }
                    _ = stopping.changed() => break,
                }
            }
        })
    };
    let app = router(hub.clone()).into_make_service_with_connect_info::<PeerAddr>();
    let stopping_hub = hub.clone();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping_hub.shutdown().await;
        })
        .await;
    ticker.abort();
    result
}

/// Logs an agent in.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Logged in", body = SessionCreated),
        (status = 400, description = "Malformed body", body = ApiError),
        (status = 401, description = "bad_credentials", body = ApiError),
        (status = 403, description = "agent_disabled", body = ApiError),
        (status = 429, description = "throttled (Retry-After)", body = ApiError),
    ))]
pub(crate) async fn create_session(
    State(hub): State<Hub>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    headers: axum::http::HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, HubError> {
    // The parser's message may quote a value (a password sent as a number): not repeated.
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(HubError::TooLarge)
        }
        Err(_) => {
            return Err(HubError::InvalidRequest(
                "expected {\"user\": \"7 digits\", \"password\": \"6 digits\"}".into(),
            ))
        }
    };
    let address = hub.client_address(peer.ip(), &headers);
    let login = hub
        .login(&body.user, &body.password, &address.to_string())
        .await?;
    let state = hub.agent_state(login.agent.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            token: login.token,
            expires_at: login.expires_at,
            agent: agent_api(&login.agent),
            state: state.to_api(),
        }),
    )
        .into_response())
}

/// Logs out: ends this session.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "session_expired", body = ApiError),
    ))]
pub(crate) async fn delete_session(
    State(hub): State<Hub>,
    authed: Authed,
) -> Result<StatusCode, HubError> {
    hub.logout(&authed).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The agent, its state and the session's expiry.
#[utoipa::path(get, path = "/api/v1/me", tag = "agent", security(("bearer" = [])),
    responses(
        (status = 200, description = "The agent", body = Me),
        (status = 401, description = "session_expired", body = ApiError),
    ))]
pub(crate) async fn me(State(hub): State<Hub>, authed: Authed) -> Result<Json<Me>, HubError> {
    let state = hub.agent_state(authed.agent.id).await?;
    Ok(Json(Me {
        agent: agent_api(&authed.agent),
        state: state.to_api(),
        expires_at: authed.expires_at,
    }))
}

/// The organization's pause reasons (`Salida` has `isExit`).
#[utoipa::path(get, path = "/api/v1/pause-reasons", tag = "agent", security(("bearer" = [])),
    responses(
        (status = 200, description = "Pause reasons", body = [PauseReason]),
        (status = 401, description = "session_expired", body = ApiError),
    ))]
pub(crate) async fn pause_reasons(
    State(hub): State<Hub>,
    _authed: Authed,
) -> Result<Json<Vec<PauseReason>>, HubError> {
    let reasons = hub.store().pause_reasons().await?;
    Ok(Json(reasons.iter().map(reason_api).collect()))
}

/// Changes the agent's state (mirrored to the PBX first; a refusal leaves it unchanged).
#[utoipa::path(post, path = "/api/v1/me/state", tag = "agent", security(("bearer" = [])),
    request_body = StateRequest,
    responses(
        (status = 200, description = "The new state", body = AgentState),
        (status = 400, description = "invalid_request", body = ApiError),
        (status = 401, description = "session_expired", body = ApiError),
        (status = 502, description = "pbx_refused", body = ApiError),
        (status = 503, description = "pbx_offline", body = ApiError),
    ))]
pub(crate) async fn set_state(
    State(hub): State<Hub>,
    authed: Authed,
    Body(body): Body<StateRequest>,
) -> Result<Json<AgentState>, HubError> {
    let request = match body {
        StateRequest::Available => crate::agents::StateRequest::Available,
        StateRequest::Paused { reason } => {
            crate::agents::StateRequest::Paused { reason_id: reason }
        }
        StateRequest::Exit => crate::agents::StateRequest::Exit,
    };
    let state = hub.request_state(&authed.agent, request).await?;
    Ok(Json(state.to_api()))
}

/// Click-to-dial: rings the agent's phone, then the number (waits for the agent's phone).
#[utoipa::path(post, path = "/api/v1/calls", tag = "calls", security(("bearer" = [])),
    request_body = DialRequest,
    responses(
        (status = 200, description = "How the agent's leg ended", body = DialReply),
        (status = 400, description = "invalid_request", body = ApiError),
        (status = 401, description = "session_expired", body = ApiError),
        (status = 502, description = "pbx_refused", body = ApiError),
        (status = 503, description = "pbx_offline", body = ApiError),
    ))]
pub(crate) async fn dial(
    State(hub): State<Hub>,
    authed: Authed,
    Body(body): Body<DialRequest>,
) -> Result<Json<DialReply>, HubError> {
    let outcome = hub.dial(&authed.agent, body.number.trim()).await?;
    let reason = match &outcome {
        crate::pbx::DialOutcome::Failed { reason } => Some(reason.clone()),
        _ => None,
    };
    Ok(Json(DialReply {
        outcome: outcome.api_code(),
        reason,
    }))
}

/// The agent's day: calls, talk time and pauses since `since`.
#[utoipa::path(get, path = "/api/v1/me/day", tag = "agent", security(("bearer" = [])),
    params(DayQuery),
    responses(
        (status = 200, description = "The day", body = DaySummary),
        (status = 400, description = "invalid_request", body = ApiError),
        (status = 401, description = "session_expired", body = ApiError),
    ))]
pub(crate) async fn day(
    State(hub): State<Hub>,
    authed: Authed,
    Params(query): Params<DayQuery>,
) -> Result<Json<DaySummary>, HubError> {
    let now = hub.now();
    let since = query.since.unwrap_or(now - now.rem_euclid(86_400_000));
    let summary = hub.day_summary(authed.agent.id, since).await?;
    Ok(Json(DaySummary {
        since: summary.since,
        calls_in: summary.calls_in,
        calls_out: summary.calls_out,
        talk_seconds: summary.talk_seconds,
        pauses: summary
            .pauses
            .iter()
            .map(|(reason, seconds)| DayPause {
                reason: reason_api(reason),
                seconds: *seconds,
            })
            .collect(),
    }))
}

/// Supervisors: every agent with its state.
#[utoipa::path(get, path = "/api/v1/agents", tag = "supervisors", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every agent", body = [AgentOverview]),
        (status = 401, description = "session_expired", body = ApiError),
        (status = 403, description = "forbidden", body = ApiError),
    ))]
pub(crate) async fn agents(
    State(hub): State<Hub>,
    authed: Authed,
) -> Result<Json<Vec<AgentOverview>>, HubError> {
    if !authed.agent.supervisor {
        return Err(HubError::Forbidden);
    }
    let list = hub.agents_overview().await?;
    Ok(Json(
        list.iter()
            .map(|(agent, state)| AgentOverview {
                agent: agent_api(agent),
                disabled: agent.disabled,
                state: state.to_api(),
            })
            .collect(),
    ))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.as_str(),
    )
        .into_response()
}

/// The agent's event stream (WebSocket). Each text message is one event: `{id, type, at}`
/// (`EnvelopeFields`) plus the fields of one `HubEvent`, in id order, each once. Resume with
/// `after` = the last id received. Close code 4001: the session ended.
#[utoipa::path(get, path = "/api/v1/stream", tag = "stream", security(("bearer" = [])),
    params(StreamQuery),
    responses(
        (status = 101, description = "WebSocket; every message is EnvelopeFields + HubEvent", body = HubEvent),
        (status = 401, description = "session_expired", body = ApiError),
    ))]
pub(crate) async fn stream(
    State(hub): State<Hub>,
    authed: Authed,
    Params(query): Params<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let after = query.after.unwrap_or(0).max(0);
    upgrade.on_upgrade(move |socket| async move {
        if let Err(e) = run_stream(hub, authed, after, socket).await {
            tracing::debug!(error = %e, "stream ended");
        }
    })
}

/// Sends the log after `after`, then live events, without gaps or duplicates: subscribe first,
/// replay from the log, then skip live events whose id was already sent. The live channel
/// carries only events visible to this stream, in id order.
async fn run_stream(
    hub: Hub,
    authed: Authed,
    after: i64,
    socket: WebSocket,
) -> Result<(), HubError> {
    let (mut tx, mut rx) = socket.split();
    let me = authed.agent.id;
    let supervisor = authed.agent.supervisor;
    // Only this agent's channel: the stream wakes for events it will send, not for everyone's.
    let mut live = hub.events().subscribe(me, supervisor);
    let mut stopping = hub.stopping();
    let mut last = after;
    let send_err = |e: axum::Error| HubError::Internal(format!("stream send: {e}"));

    // Replays the log after `last`; used at start and after lagging behind the live channel.
    async fn replay(
        hub: &Hub,
        last: &mut i64,
        me: i64,
        supervisor: bool,
        tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    ) -> Result<(), HubError> {
        loop {
            let page = hub.events().after(*last, REPLAY_PAGE).await?;
            if page.is_empty() {
                return Ok(());
            }
            for event in page {
                *last = event.id;
                if event.visible_to(me, supervisor) {
                    tx.send(Message::Text(event.to_json().to_string().into()))
                        .await
                        .map_err(|e| HubError::Internal(format!("stream send: {e}")))?;
                }
            }
        }
    }

    // Events the client never saw were removed by retention: say so before replaying the rest,
    // so it refreshes its state (GET /me) instead of trusting a log with a hole.
    let pruned = hub.store().pruned_through().await?;
    if after < pruned {
        let notice = EventEnvelope {
            id: u64::try_from(after).unwrap_or(0),
            at: hub.now(),
            kind: "stream_truncated".into(),
            event: HubEvent::StreamTruncated(StreamTruncated {
                oldest_available: u64::try_from(pruned + 1).ok(),
            }),
        };
        tx.send(Message::Text(notice.to_json().to_string().into()))
            .await
            .map_err(send_err)?;
    }
    replay(&hub, &mut last, me, supervisor, &mut tx).await?;
    let heartbeat = hub.config().heartbeat();
    let mut ping = tokio::time::interval(heartbeat);
    ping.tick().await;
    let mut heard = tokio::time::Instant::now();
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(live) => {
                    let event = &live.event;
                    if event.id <= last {
                        continue;
                    }
                    last = event.id;
                    if event.visible_to(me, supervisor) {
                        tx.send(Message::Text(live.text.clone())).await.map_err(send_err)?;
                        let ended = event.agent_id == Some(me)
                            && event.event_type == "agent_state"
                            && event.payload.get("state").and_then(serde_json::Value::as_str) == Some("logged_out");
                        if ended && !hub.session_alive(&authed.token_hash).await? {
                            let _ = tx.send(close(CLOSE_SESSION_ENDED, "session ended")).await;
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => replay(&hub, &mut last, me, supervisor, &mut tx).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => heard = tokio::time::Instant::now(),
            },
            _ = ping.tick() => {
                if heard.elapsed() > heartbeat * 2 {
                    let _ = tx.send(close(1001, "no answer to pings")).await;
                    return Ok(());
                }
                if !hub.renew_session(&authed.token_hash).await? {
                    let _ = tx.send(close(CLOSE_SESSION_ENDED, "session ended")).await;
                    return Ok(());
                }
                tx.send(Message::Ping(Vec::new().into())).await.map_err(send_err)?;
            },
            _ = stopping.changed() => {
                let _ = tx.send(close(1012, "hub restarting")).await;
                return Ok(());
            }
        }
    }
}

/// Entry points for the cargo-fuzz targets in `fuzz/` (not an API): what the routes do with a
/// request's bytes before any database or PBX work.
#[doc(hidden)]
pub mod fuzzing {
    use axum::http::Uri;
    use axum::Json;

    use enlace_hub_api::{
        DayQuery, DialRequest as DialBody, LoginRequest as LoginBody, StateRequest as StateBody,
        StreamQuery,
    };

    use super::json_rejection;

    /// `body` as the JSON body of `POST /sessions` (`route` 0), `POST /me/state` (1) or
    /// `POST /calls` (2, any other value), read as the route's extractor reads it; for a call,
    /// whether the hub accepts the number. `Ok(false)`: parsed, refused.
    pub fn body(route: u8, body: &[u8]) -> Result<bool, String> {
        match route {
            0 => Json::<LoginBody>::from_bytes(body)
                .map(|_| true)
                .map_err(|r| json_rejection(r).to_string()),
            1 => Json::<StateBody>::from_bytes(body)
                .map(|Json(state)| !format!("{state:?}").is_empty())
                .map_err(|r| json_rejection(r).to_string()),
            _ => Json::<DialBody>::from_bytes(body)
                .map(|Json(dial)| crate::pbx::is_dialable(dial.number.trim()))
                .map_err(|r| json_rejection(r).to_string()),
        }
    }

    /// `query` as the query string of `GET /me/day` (`route` 0) or `GET /stream` (any other).
    pub fn query(route: u8, query: &str) -> Result<Option<i64>, String> {
        let uri: Uri = format!("/?{query}")
            .parse()
            .map_err(|_| "not a URI".to_owned())?;
        let read = |e: axum::extract::rejection::QueryRejection| e.body_text();
        match route {
            0 => axum::extract::Query::<DayQuery>::try_from_uri(&uri)
                .map(|q| q.0.since)
                .map_err(read),
            _ => axum::extract::Query::<StreamQuery>::try_from_uri(&uri)
                .map(|q| q.0.after)
                .map_err(read),
        }
    }
}
