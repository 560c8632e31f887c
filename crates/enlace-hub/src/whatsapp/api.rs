//! The WhatsApp routes: Meta's webhook and the agents' API. [`routes`] is merged into the
//! hub's router by `crate::api::router`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Json;
use enlace_hub_api::whatsapp::{
    AssignRequest, BusinessNumber, CannedResponse, Comment, CommentAdded, CommentRequest,
    Conversation, ConversationAttended, ConversationQuery, ConversationStarted, MediaUploadQuery,
    MediaUploaded, Message, MessagePage, MessageQuery, MessageTemplate, QuickAddress,
    SendMessageRequest, StartConversationRequest, TemplateQuery, WindowClosedError,
};
use enlace_hub_api::{ApiError, HubEvent};

use crate::api::{Body, Params};
use crate::auth::Authed;
use crate::error::HubError;
use crate::store::{ConversationRow, NewOutbound, TemplateRow};
use crate::Hub;

use super::outbox::SendRequest;
use super::{message_api, WaError, WINDOW_MS};

/// Largest webhook body (Meta's batches are far smaller).
const WEBHOOK_LIMIT: usize = 4 * 1024 * 1024;
/// Largest upload: the largest document WhatsApp carries.
const UPLOAD_LIMIT: usize = 100 * 1_000_000;

/// Every WhatsApp route: (method, path, handler), one per method (each documented in
/// `crate::openapi`).
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Hub>)> {
    vec![
        ("get", "/webhooks/whatsapp", get(super::intake::verify)),
        (
            "post",
            "/webhooks/whatsapp",
            post(super::intake::receive).layer(DefaultBodyLimit::max(WEBHOOK_LIMIT)),
        ),
        ("get", "/api/v1/conversations", get(list_conversations)),
        ("post", "/api/v1/conversations", post(start_conversation)),
        (
            "get",
            "/api/v1/conversations/{id}/messages",
            get(list_messages),
        ),
        (
            "post",
            "/api/v1/conversations/{id}/messages",
            post(send_message),
        ),
        ("post", "/api/v1/conversations/{id}/read", post(mark_read)),
        (
            "post",
            "/api/v1/conversations/{id}/attended",
            post(attended),
        ),
        ("get", "/api/v1/conversations/{id}/comments", get(comments)),
        (
            "post",
            "/api/v1/conversations/{id}/comments",
            post(add_comment),
        ),
        ("post", "/api/v1/conversations/{id}/assign", post(assign)),
        ("post", "/api/v1/conversations/{id}/release", post(release)),
        (
            "post",
            "/api/v1/media",
            post(upload_media).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        ),
        ("get", "/api/v1/media/{id}", get(download_media)),
        ("get", "/api/v1/whatsapp/templates", get(templates)),
        ("get", "/api/v1/whatsapp/numbers", get(numbers)),
        ("get", "/api/v1/quick-addresses", get(quick_addresses)),
        ("get", "/api/v1/canned-responses", get(canned_responses)),
    ]
}

/// The conversation, if `authed` may see it: supervisors all; agents theirs, every one of
/// their queues (assigned to others too: read and comment only, see [`may_act`]) and those
/// they served last.
async fn visible(hub: &Hub, authed: &Authed, id: i64) -> Result<ConversationRow, HubError> {
    let c = hub
        .store()
        .wa_conversation(id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))?;
    let agent = &authed.agent;
    let ok = agent.supervisor
        || c.agent_id == Some(agent.id)
        || agent.queues.contains(&c.queue)
        || c.last_agent_id == Some(agent.id);
    if ok {
        Ok(c)
    } else {
        Err(HubError::NotFound("conversation".into()))
    }
}

/// Writing, marking read or attended: supervisors any conversation, agents theirs and
/// unassigned ones; another agent's conversation is `forbidden`.
fn may_act(authed: &Authed, c: &ConversationRow) -> Result<(), HubError> {
    let me = &authed.agent;
    if me.supervisor || c.agent_id.is_none() || c.agent_id == Some(me.id) {
        Ok(())
    } else {
        Err(HubError::Forbidden)
    }
}

async fn reread(hub: &Hub, id: i64) -> Result<ConversationRow, HubError> {
    hub.store()
        .wa_conversation(id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))
}

/// The open conversations an agent sees: those assigned to them and every open one of their
/// queues, unassigned or assigned to another agent (the desktop filters mine / my queues /
/// unassigned itself); supervisors: all open ones. With `search`, any state, by number or name.
/// Each carries `agentName` and `lastMessage`. At most 500.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "whatsapp", security(("bearer" = [])),
    params(ConversationQuery),
    responses(
        (status = 200, description = "Newest activity first", body = [Conversation]),
        (status = 401, description = "session_expired", body = ApiError),
    ))]
pub(crate) async fn list_conversations(
    State(hub): State<Hub>,
    authed: Authed,
    Params(q): Params<ConversationQuery>,
) -> Result<Json<Vec<Conversation>>, HubError> {
    let a = &authed.agent;
    let list = hub
        .store()
        .wa_conversations(a.id, &a.queues, a.supervisor, q.search.as_deref(), 500)
        .await?;
    Ok(Json(hub.wa_views(&list).await?))
}

/// A page of a conversation's messages, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id"), MessageQuery),
    responses(
        (status = 200, description = "The page", body = MessagePage),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn list_messages(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Params(q): Params<MessageQuery>,
) -> Result<Json<MessagePage>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let page = hub.store().wa_messages(c.id, q.before, limit).await?;
    let next_before = if page.len() as i64 == limit {
        page.first().map(|m| m.id)
    } else {
        None
    };
    Ok(Json(MessagePage {
        messages: page.iter().map(message_api).collect(),
        next_before,
    }))
}

/// The approved templates (cached; fetched when the cache is empty).
async fn approved_templates(hub: &Hub) -> Vec<MessageTemplate> {
    match hub.wa_templates(false).await {
        Ok(list) => list
            .iter()
            .filter(|t| t.status.eq_ignore_ascii_case("APPROVED"))
            .map(template_api)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn template_api(t: &TemplateRow) -> MessageTemplate {
    MessageTemplate {
        name: t.name.clone(),
        language: t.language.clone(),
        status: t.status.clone(),
        category: t.category.clone(),
        components: serde_json::from_str(&t.components).unwrap_or(serde_json::Value::Null),
    }
}

impl Hub {
    /// Queues `message` in conversation `c` (window checked first, client id idempotent).
    pub async fn wa_queue_message(
        &self,
        c: &ConversationRow,
        agent_id: i64,
        client_id: &str,
        message: &SendRequest,
    ) -> Result<(crate::store::MessageRow, bool), WaError> {
        if self.wa().settings.is_none() {
            return Err(WaError::NotConfigured);
        }
        let client_id = client_id.trim();
        if client_id.is_empty() || client_id.len() > 128 {
            return Err(WaError::Hub(HubError::InvalidRequest(
                "clientId must be 1 to 128 characters".into(),
            )));
        }
        if let Some(existing) = self.store().wa_message_by_client_id(client_id).await? {
            if existing.conversation_id != c.id {
                return Err(WaError::Hub(HubError::InvalidRequest(
                    "this clientId belongs to another conversation".into(),
                )));
            }
            return Ok((existing, false));
        }
        // Validated now so the agent hears about a bad message at once.
        super::outbox::build(message, &c.wa_id, None).map_err(|e| WaError::Invalid {
            message: e.to_string(),
        })?;
        let now = self.now();
        let window_open = c.last_customer_at.is_some_and(|t| now < t + WINDOW_MS);
        if !message.is_template() && !window_open {
            return Err(WaError::WindowClosed {
                templates: approved_templates(self).await,
            });
        }
        let media_id = match message {
            SendRequest::Media {
                media_id, voice, ..
            } => {
                let Some(row) = self.store().wa_media(media_id).await? else {
                    return Err(WaError::Hub(HubError::NotFound("media".into())));
                };
                // WhatsApp plays OGG/OPUS only as a voice note (api-facts C3, C4).
                if *voice && enlace_whatsapp::media::base_mime(&row.mime_type) != "audio/ogg" {
                    return Err(WaError::Invalid {
                        message: format!(
                            "a voice note must be an OGG file with OPUS audio, not {}",
                            row.mime_type
                        ),
                    });
                }
                Some(media_id.as_str())
            }
            _ => None,
        };
        let content = serde_json::to_string(message)
            .map_err(|e| HubError::Internal(format!("encode: {e}")))?;
        let (row, created) = self
            .store()
            .insert_wa_outbound(&NewOutbound {
                conversation_id: c.id,
                client_id,
                msg_type: message.type_name(),
                content: &content,
                media_id,
                agent_id: Some(agent_id),
                at: now,
            })
            .await?;
        if created {
            self.wa().wake.notify_one();
        }
        Ok((row, created))
    }

    /// The WABA's templates: the cache, or Meta's list when `refresh` or the cache is empty.
    pub async fn wa_templates(&self, refresh: bool) -> Result<Vec<TemplateRow>, WaError> {
        let (cached, fetched) = self.store().wa_templates().await?;
        if !refresh && fetched.is_some() {
            return Ok(cached);
        }
        let (Some(settings), Some(graph)) = (&self.wa().settings, &self.wa().graph) else {
            return Err(WaError::NotConfigured);
        };
        let list =
            graph
                .list_templates(&settings.waba_id)
                .await
                .map_err(|e| WaError::Upstream {
                    message: e.to_string(),
                })?;
        let rows: Vec<TemplateRow> = list
            .into_iter()
            .map(|t| TemplateRow {
                name: t.name,
                language: t.language,
                status: t.status,
                category: t.category.unwrap_or_default(),
                components: t.components.to_string(),
            })
            .collect();
        self.store().replace_wa_templates(&rows, self.now()).await?;
        Ok(self.store().wa_templates().await?.0)
    }
}

/// Queues a message (text, template, media, location, reaction). A repeated `clientId`
/// answers 200 with the first message and sends nothing; writing to an unassigned
/// conversation takes it.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = SendMessageRequest,
    responses(
        (status = 202, description = "Queued", body = Message),
        (status = 200, description = "Already queued with this clientId", body = Message),
        (status = 400, description = "whatsapp_invalid_message, invalid_request", body = ApiError),
        (status = 404, description = "not_found", body = ApiError),
        (status = 409, description = "window_closed: send one of these templates", body = WindowClosedError),
        (status = 503, description = "whatsapp_not_configured", body = ApiError),
    ))]
pub(crate) async fn send_message(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Body(body): Body<SendMessageRequest>,
) -> Result<Response, WaError> {
    let c = visible(&hub, &authed, id).await?;
    may_act(&authed, &c)?;
    if c.agent_id.is_none()
        && hub
            .store()
            .take_wa_conversation(c.id, authed.agent.id)
            .await?
    {
        hub.wa_assigned_event(&reread(&hub, c.id).await?, None)
            .await?;
    }
    let (row, created) = hub
        .wa_queue_message(&c, authed.agent.id, &body.client_id, &body.message)
        .await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(message_api(&row))).into_response())
}

/// Starts (or continues) a conversation from a call card: a template, or text inside the
/// window. The conversation is mine.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "whatsapp", security(("bearer" = [])),
    request_body = StartConversationRequest,
    responses(
        (status = 201, description = "Queued", body = ConversationStarted),
        (status = 400, description = "whatsapp_invalid_message, invalid_request", body = ApiError),
        (status = 404, description = "not_found: no such business number", body = ApiError),
        (status = 409, description = "window_closed: send one of these templates", body = WindowClosedError),
        (status = 503, description = "whatsapp_not_configured", body = ApiError),
    ))]
pub(crate) async fn start_conversation(
    State(hub): State<Hub>,
    authed: Authed,
    Body(body): Body<StartConversationRequest>,
) -> Result<Response, WaError> {
    let Some(settings) = &hub.wa().settings else {
        return Err(WaError::NotConfigured);
    };
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let wanted = body.business_number.trim();
    let number = settings
        .numbers
        .iter()
        .find(|n| n.phone_number_id == wanted || digits(&n.display_number) == digits(wanted))
        .ok_or_else(|| HubError::NotFound("business number".into()))?
        .clone();
    let customer = digits(&body.customer_number);
    if customer.len() < 5 || customer.len() > 20 {
        return Err(WaError::Invalid {
            message: "the customer number must have 5 to 20 digits".into(),
        });
    }
    let now = hub.now();
    let id = hub
        .store()
        .ensure_wa_conversation(&number.phone_number_id, &customer, &number.queue, now)
        .await?;
    let c = reread(&hub, id).await?;
    if c.agent_id.is_none() || c.state != "open" {
        hub.store()
            .set_wa_conversation(c.id, "open", Some(authed.agent.id))
            .await?;
    }
    let c = reread(&hub, id).await?;
    let (row, _) = hub
        .wa_queue_message(&c, authed.agent.id, &body.client_id, &body.message)
        .await?;
    let conversation = hub.wa_view(&reread(&hub, id).await?).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConversationStarted {
            conversation,
            message: message_api(&row),
        }),
    )
        .into_response())
}

/// Marks the conversation read (unread 0) and the customer's last message read on WhatsApp.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "Read"),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn mark_read(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<StatusCode, HubError> {
    let c = visible(&hub, &authed, id).await?;
    may_act(&authed, &c)?;
    hub.store().mark_wa_conversation_read(c.id).await?;
    // Blue ticks for the customer: the last inbound message, best effort.
    if let Some(graph) = hub.wa().graph.clone() {
        let last = hub
            .store()
            .wa_messages(c.id, None, 50)
            .await?
            .into_iter()
            .rev()
            .find(|m| m.direction == "in")
            .and_then(|m| m.wamid);
        if let Some(wamid) = last {
            let number = c.phone_number_id.clone();
            tokio::spawn(async move {
                if let Err(e) = graph.mark_read(&number, &wamid, false).await {
                    tracing::debug!(error = %e.code(), "whatsapp: mark as read failed");
                }
            });
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Marks the conversation attended: closed (it reopens when the customer writes) and still
/// searchable.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attended", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Attended", body = Conversation),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn attended(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<Conversation>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    may_act(&authed, &c)?;
    hub.store()
        .set_wa_conversation(c.id, "attended", None)
        .await?;
    let updated = reread(&hub, c.id).await?;
    let now = hub.now();
    let view = hub.wa_view(&updated).await?;
    let event = HubEvent::ConversationAttended(ConversationAttended {
        conversation: view.clone(),
        by: authed.agent.id,
    });
    // The agent who had it hears it (the conversation now has none).
    let target = c.agent_id.unwrap_or(authed.agent.id);
    hub.events().append_event(Some(target), &event, now).await?;
    Ok(Json(view))
}

/// Adds an internal comment (never sent to the customer).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/comments", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = CommentRequest,
    responses(
        (status = 201, description = "Added", body = Comment),
        (status = 400, description = "invalid_request", body = ApiError),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn add_comment(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Body(body): Body<CommentRequest>,
) -> Result<Response, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let text = body.body.trim();
    if text.is_empty() || text.chars().count() > 4096 {
        return Err(HubError::InvalidRequest(
            "a comment has 1 to 4096 characters".into(),
        ));
    }
    let row = hub
        .store()
        .insert_wa_comment(c.id, authed.agent.id, text, hub.now())
        .await?;
    let comment = Comment {
        id: row.id,
        conversation_id: row.conversation_id,
        agent_id: row.agent_id,
        body: row.body,
        at: row.at,
    };
    hub.wa_event(
        &c,
        HubEvent::CommentAdded(CommentAdded {
            comment: comment.clone(),
        }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

/// The conversation's internal comments, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/comments", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Comments", body = [Comment]),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn comments(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Comment>>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let list = hub.store().wa_comments(c.id).await?;
    Ok(Json(
        list.into_iter()
            .map(|m| Comment {
                id: m.id,
                conversation_id: m.conversation_id,
                agent_id: m.agent_id,
                body: m.body,
                at: m.at,
            })
            .collect(),
    ))
}

/// A supervisor gives the conversation to `agentId`; an agent takes an unassigned one (no
/// `agentId`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "Assigned", body = Conversation),
        (status = 400, description = "invalid_request: another agent has it", body = ApiError),
        (status = 403, description = "forbidden: only supervisors give it to someone else", body = ApiError),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn assign(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Body(body): Body<AssignRequest>,
) -> Result<Json<Conversation>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let me = &authed.agent;
    let target = body.agent_id.unwrap_or(me.id);
    if me.supervisor {
        let agent = hub
            .store()
            .agent_by_id(target)
            .await?
            .filter(|a| !a.disabled)
            .ok_or_else(|| HubError::NotFound("agent".into()))?;
        hub.store()
            .set_wa_conversation(c.id, "open", Some(agent.id))
            .await?;
    } else {
        if target != me.id {
            return Err(HubError::Forbidden);
        }
        if !hub.store().take_wa_conversation(c.id, me.id).await? {
            return Err(HubError::InvalidRequest(
                "another agent already has this conversation".into(),
            ));
        }
        if c.state != "open" {
            hub.store()
                .set_wa_conversation(c.id, "open", Some(me.id))
                .await?;
        }
    }
    let updated = reread(&hub, c.id).await?;
    hub.wa_assigned_event(&updated, c.agent_id).await?;
    Ok(Json(hub.wa_view(&updated).await?))
}

/// The agent hands the conversation back to its queue: it is unassigned and routed like a
/// waiting one, to another eligible agent when there is one (never straight back to the agent
/// who released it while someone else is eligible); otherwise it waits in the queue, visible to
/// its agents. It stops being sticky to that agent. Only the assigned agent or a supervisor;
/// an unassigned or attended conversation is answered as it is. `conversation_assigned` (with
/// `previousAgentId`) goes to the new agent, or to the queue's agents, and to the one who had
/// it.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/release", tag = "whatsapp",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Released (and routed when an agent was eligible)", body = Conversation),
        (status = 403, description = "forbidden: another agent has it", body = ApiError),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn release(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<Conversation>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let me = &authed.agent;
    let Some(holder) = c.agent_id else {
        return Ok(Json(hub.wa_view(&c).await?));
    };
    if holder != me.id && !me.supervisor {
        return Err(HubError::Forbidden);
    }
    if !hub.store().release_wa_conversation(c.id, holder).await? {
        // Someone else changed it meanwhile: answer it as it is now.
        return Ok(Json(hub.wa_view(&reread(&hub, c.id).await?).await?));
    }
    let waiting = reread(&hub, c.id).await?;
    if let Some(next) = hub.wa_choose_agent_except(&waiting, Some(holder)).await? {
        hub.store().take_wa_conversation(c.id, next).await?;
    }
    let updated = reread(&hub, c.id).await?;
    hub.wa_assigned_event(&updated, Some(holder)).await?;
    Ok(Json(hub.wa_view(&updated).await?))
}

/// Uploads a file to send: `multipart/form-data` with a `file` part, or the file itself as the
/// body with its `Content-Type`. WhatsApp's type and size limits are checked first.
#[utoipa::path(post, path = "/api/v1/media", tag = "whatsapp", security(("bearer" = [])),
    params(MediaUploadQuery),
    request_body(content = Vec<u8>, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Kept", body = MediaUploaded),
        (status = 400, description = "whatsapp_media_empty, whatsapp_media_content (the bytes are not of the declared type) or invalid_request", body = ApiError),
        (status = 413, description = "whatsapp_media_too_large (over the kind's limit, named in the message) or payload_too_large", body = ApiError),
        (status = 415, description = "whatsapp_media_type: WhatsApp does not take that type as that kind", body = ApiError),
    ))]
pub(crate) async fn upload_media(
    State(hub): State<Hub>,
    _authed: Authed,
    Params(q): Params<MediaUploadQuery>,
    request: axum::extract::Request,
) -> Result<Response, WaError> {
    use axum::extract::FromRequest;
    let content_type = header_text(request.headers(), header::CONTENT_TYPE)
        .unwrap_or_else(|| "application/octet-stream".into());
    let bad = |m: String| WaError::Hub(HubError::InvalidRequest(m));
    let (mime, filename, bytes) = if content_type.starts_with("multipart/form-data") {
        let mut form = axum::extract::Multipart::from_request(request, &hub)
            .await
            .map_err(|e| bad(e.body_text()))?;
        let mut file = None;
        while let Some(field) = form.next_field().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WaError::Hub(HubError::TooLarge)
            } else {
                bad(e.body_text())
            }
        })? {
            if field.name() != Some("file") {
                continue;
            }
            let mime = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let name = field.file_name().map(str::to_owned);
            let data = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    WaError::Hub(HubError::TooLarge)
                } else {
                    bad(e.body_text())
                }
            })?;
            file = Some((mime, name, data));
            break;
        }
        file.ok_or_else(|| bad("the form has no part named file".into()))?
    } else {
        let data = Bytes::from_request(request, &hub).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WaError::Hub(HubError::TooLarge)
            } else {
                bad(e.body_text())
            }
        })?;
        (content_type, None, data)
    };
    let kind = match &q.kind {
        Some(k) => k.clone(),
        None => enlace_whatsapp::MediaKind::for_mime(&mime)
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
    };
    let filename = q.filename.clone().or(filename);
    let row = hub
        .wa_upload_media(&kind, &mime, filename.as_deref(), &bytes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(MediaUploaded {
            id: row.id,
            mime_type: row.mime_type,
            size: row.size,
            sha256: row.sha256,
        }),
    )
        .into_response())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A file kept by the hub (a customer's or an upload), with its type.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = String, Path, description = "Media id")),
    responses(
        (status = 200, description = "The file; `Content-Disposition` names it when the hub knows its name", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "not_found", body = ApiError),
    ))]
pub(crate) async fn download_media(
    State(hub): State<Hub>,
    _authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, HubError> {
    let (row, bytes) = hub.wa_read_media(&id).await?;
    let mime = axum::http::HeaderValue::from_str(&row.mime_type).unwrap_or(
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, mime),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                axum::http::HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response();
    if let Some(value) = row.filename.as_deref().and_then(disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `attachment` with the file's name: an ASCII `filename` (others replaced by `_`) and the
/// exact name as `filename*` (RFC 8187, UTF-8 percent-encoded).
fn disposition(name: &str) -> Option<axum::http::HeaderValue> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let plain: String = name
        .chars()
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut exact = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            exact.push(char::from(b));
        } else {
            exact.push_str(&format!("%{b:02X}"));
        }
    }
    axum::http::HeaderValue::from_str(&format!(
        "attachment; filename=\"{plain}\"; filename*=UTF-8''{exact}"
    ))
    .ok()
}

/// The WhatsApp Business Account's templates (cached; `refresh=true` asks Meta again).
#[utoipa::path(get, path = "/api/v1/whatsapp/templates", tag = "whatsapp",
    security(("bearer" = [])),
    params(TemplateQuery),
    responses(
        (status = 200, description = "Templates", body = [MessageTemplate]),
        (status = 502, description = "whatsapp_unavailable", body = ApiError),
        (status = 503, description = "whatsapp_not_configured", body = ApiError),
    ))]
pub(crate) async fn templates(
    State(hub): State<Hub>,
    _authed: Authed,
    Params(q): Params<TemplateQuery>,
) -> Result<Json<Vec<MessageTemplate>>, WaError> {
    let list = hub.wa_templates(q.refresh.unwrap_or(false)).await?;
    Ok(Json(list.iter().map(template_api).collect()))
}

/// The organization's business numbers, each with the queue its conversations go to: any of
/// them can start a conversation (`businessNumber` of `POST /api/v1/conversations`). Empty
/// when WhatsApp is not configured.
#[utoipa::path(get, path = "/api/v1/whatsapp/numbers", tag = "whatsapp",
    security(("bearer" = [])),
    responses((status = 200, description = "Numbers", body = [BusinessNumber])))]
pub(crate) async fn numbers(State(hub): State<Hub>, _authed: Authed) -> Json<Vec<BusinessNumber>> {
    let list = hub.wa().settings.as_ref().map_or_else(Vec::new, |s| {
        s.numbers
            .iter()
            .map(|n| BusinessNumber {
                phone_number_id: n.phone_number_id.clone(),
                display_number: n.display_number.clone(),
                name: n.name.clone(),
                queue: n.queue.clone(),
            })
            .collect()
    });
    Json(list)
}

/// The organization's quick addresses.
#[utoipa::path(get, path = "/api/v1/quick-addresses", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, description = "Addresses", body = [QuickAddress])))]
pub(crate) async fn quick_addresses(
    State(hub): State<Hub>,
    _authed: Authed,
) -> Result<Json<Vec<QuickAddress>>, HubError> {
    let list = hub.store().wa_quick_addresses().await?;
    Ok(Json(
        list.into_iter()
            .map(|(id, name, address)| QuickAddress { id, name, address })
            .collect(),
    ))
}

/// The organization's canned responses.
#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, description = "Responses", body = [CannedResponse])))]
pub(crate) async fn canned_responses(
    State(hub): State<Hub>,
    _authed: Authed,
) -> Result<Json<Vec<CannedResponse>>, HubError> {
    let list = hub.store().wa_canned_responses().await?;
    Ok(Json(
        list.into_iter()
            .map(|(id, shortcut, body)| CannedResponse { id, shortcut, body })
            .collect(),
    ))
}
