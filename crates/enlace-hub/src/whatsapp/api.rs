//! The WhatsApp routes: Meta's webhook and the agents' API. [`routes`] is merged into the
//! hub's router by `crate::api::router`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::{Body, Params};
use crate::auth::Authed;
use crate::error::HubError;
use crate::store::{ConversationRow, NewOutbound, TemplateRow};
use crate::Hub;

use super::outbox::SendRequest;
use super::{conversation_json, message_json, WaError, WINDOW_MS};

/// Largest webhook body (Meta's batches are far smaller).
const WEBHOOK_LIMIT: usize = 4 * 1024 * 1024;
/// Largest upload: the largest document WhatsApp carries.
const UPLOAD_LIMIT: usize = 100 * 1_000_000;

/// Every WhatsApp route: (method, path, handler).
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Hub>)> {
    vec![
        (
            "get",
            "/webhooks/whatsapp",
            get(super::intake::verify)
                .post(super::intake::receive)
                .layer(DefaultBodyLimit::max(WEBHOOK_LIMIT)),
        ),
        (
            "get",
            "/api/v1/conversations",
            get(list_conversations).post(start_conversation),
        ),
        (
            "get",
            "/api/v1/conversations/{id}/messages",
            get(list_messages).post(send_message),
        ),
        ("post", "/api/v1/conversations/{id}/read", post(mark_read)),
        (
            "post",
            "/api/v1/conversations/{id}/attended",
            post(attended),
        ),
        (
            "post",
            "/api/v1/conversations/{id}/comments",
            post(add_comment).get(comments),
        ),
        ("post", "/api/v1/conversations/{id}/assign", post(assign)),
        (
            "post",
            "/api/v1/media",
            post(upload_media).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        ),
        ("get", "/api/v1/media/{id}", get(download_media)),
        ("get", "/api/v1/whatsapp/templates", get(templates)),
        ("get", "/api/v1/quick-addresses", get(quick_addresses)),
        ("get", "/api/v1/canned-responses", get(canned_responses)),
    ]
}

/// The conversation, if `authed` may see it: supervisors all; agents theirs and the
/// unassigned ones of their queues.
async fn visible(hub: &Hub, authed: &Authed, id: i64) -> Result<ConversationRow, HubError> {
    let c = hub
        .store()
        .wa_conversation(id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))?;
    let agent = &authed.agent;
    let ok = agent.supervisor
        || c.agent_id == Some(agent.id)
        || (c.agent_id.is_none() && agent.queues.contains(&c.queue))
        || c.last_agent_id == Some(agent.id);
    if ok {
        Ok(c)
    } else {
        Err(HubError::NotFound("conversation".into()))
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    search: Option<String>,
}

async fn list_conversations(
    State(hub): State<Hub>,
    authed: Authed,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>, HubError> {
    let a = &authed.agent;
    let list = hub
        .store()
        .wa_conversations(a.id, &a.queues, a.supervisor, q.search.as_deref(), 500)
        .await?;
    let now = hub.now();
    Ok(Json(Value::Array(
        list.iter().map(|c| conversation_json(c, now)).collect(),
    )))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn list_messages(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Value>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let page = hub.store().wa_messages(c.id, q.before, limit).await?;
    let next = if page.len() as i64 == limit {
        page.first().map(|m| Value::from(m.id))
    } else {
        None
    };
    Ok(Json(json!({
        "messages": page.iter().map(message_json).collect::<Vec<_>>(),
        "nextBefore": next,
    })))
}

#[derive(Debug, Deserialize)]
struct SendBody {
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(flatten)]
    message: SendRequest,
}

/// The approved templates (cached; fetched when the cache is empty).
async fn approved_templates(hub: &Hub) -> Vec<Value> {
    match hub.wa_templates(false).await {
        Ok(list) => list
            .iter()
            .filter(|t| t.status.eq_ignore_ascii_case("APPROVED"))
            .map(template_json)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn template_json(t: &TemplateRow) -> Value {
    json!({
        "name": t.name,
        "language": t.language,
        "status": t.status,
        "category": t.category,
        "components": serde_json::from_str::<Value>(&t.components).unwrap_or(Value::Null),
    })
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
            return Err(WaError::Invalid {
                code: "invalid_request",
                message: "clientId must be 1 to 128 characters".into(),
            });
        }
        if let Some(existing) = self.store().wa_message_by_client_id(client_id).await? {
            if existing.conversation_id != c.id {
                return Err(WaError::Invalid {
                    code: "client_id_reused",
                    message: "this clientId belongs to another conversation".into(),
                });
            }
            return Ok((existing, false));
        }
        // Validated now so the agent hears about a bad message at once.
        message
            .build(&c.wa_id, None)
            .map_err(|e| WaError::Invalid {
                code: e.code(),
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
            SendRequest::Media { media_id, .. } => {
                if self.store().wa_media(media_id).await?.is_none() {
                    return Err(WaError::Hub(HubError::NotFound("media".into())));
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
                    code: e.code(),
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

async fn send_message(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Body(body): Body<SendBody>,
) -> Result<Response, WaError> {
    let c = visible(&hub, &authed, id).await?;
    if c.agent_id.is_none() {
        // Writing to an unassigned conversation takes it.
        if hub
            .store()
            .take_wa_conversation(c.id, authed.agent.id)
            .await?
        {
            if let Some(updated) = hub.store().wa_conversation(c.id).await? {
                hub.wa_assigned_event(&updated, None).await?;
            }
        }
    }
    let (row, created) = hub
        .wa_queue_message(&c, authed.agent.id, &body.client_id, &body.message)
        .await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(message_json(&row))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// The business number: its phone_number_id or its display number.
    #[serde(rename = "businessNumber")]
    business_number: String,
    #[serde(rename = "customerNumber")]
    customer_number: String,
    #[serde(rename = "clientId")]
    client_id: String,
    message: SendRequest,
}

async fn start_conversation(
    State(hub): State<Hub>,
    authed: Authed,
    Body(body): Body<StartBody>,
) -> Result<Response, WaError> {
    let Some(settings) = &hub.wa().settings else {
        return Err(WaError::NotConfigured);
    };
    let wanted = body.business_number.trim();
    let wanted_digits: String = wanted.chars().filter(char::is_ascii_digit).collect();
    let number = settings
        .numbers
        .iter()
        .find(|n| {
            n.phone_number_id == wanted
                || n.display_number
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    == wanted_digits
        })
        .ok_or_else(|| HubError::NotFound("business number".into()))?
        .clone();
    let customer: String = body
        .customer_number
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if customer.len() < 5 || customer.len() > 20 {
        return Err(WaError::Invalid {
            code: "whatsapp_bad_recipient",
            message: "the customer number must have 5 to 20 digits".into(),
        });
    }
    let now = hub.now();
    let id = hub
        .store()
        .ensure_wa_conversation(&number.phone_number_id, &customer, &number.queue, now)
        .await?;
    let c = hub
        .store()
        .wa_conversation(id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))?;
    if c.agent_id.is_none() || c.state != "open" {
        hub.store()
            .set_wa_conversation(c.id, "open", Some(authed.agent.id))
            .await?;
    }
    let c = hub
        .store()
        .wa_conversation(id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))?;
    let (row, _) = hub
        .wa_queue_message(&c, authed.agent.id, &body.client_id, &body.message)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"conversation": conversation_json(&c, now), "message": message_json(&row)})),
    )
        .into_response())
}

async fn mark_read(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<StatusCode, HubError> {
    let c = visible(&hub, &authed, id).await?;
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

async fn attended(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    hub.store()
        .set_wa_conversation(c.id, "attended", None)
        .await?;
    let updated = hub
        .store()
        .wa_conversation(c.id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))?;
    let now = hub.now();
    let mut payload = Map::new();
    payload.insert("conversation".into(), conversation_json(&updated, now));
    payload.insert("by".into(), Value::from(authed.agent.id));
    // The agent who had it hears it (the conversation now has none).
    let target = c.agent_id.unwrap_or(authed.agent.id);
    hub.events()
        .append(Some(target), "conversation_attended", payload, now)
        .await?;
    Ok(Json(conversation_json(&updated, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
}

async fn add_comment(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Body(body): Body<CommentBody>,
) -> Result<Response, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let text = body.body.trim();
    if text.is_empty() || text.chars().count() > 4096 {
        return Err(HubError::InvalidRequest(
            "a comment has 1 to 4096 characters".into(),
        ));
    }
    let comment = hub
        .store()
        .insert_wa_comment(c.id, authed.agent.id, text, hub.now())
        .await?;
    let json = json!({
        "id": comment.id,
        "conversationId": comment.conversation_id,
        "agentId": comment.agent_id,
        "body": comment.body,
        "at": comment.at,
    });
    let mut payload = Map::new();
    payload.insert("comment".into(), json.clone());
    hub.wa_event(&c, "comment_added", payload).await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

async fn comments(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, HubError> {
    let c = visible(&hub, &authed, id).await?;
    let list = hub.store().wa_comments(c.id).await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|m| {
                json!({"id": m.id, "conversationId": m.conversation_id, "agentId": m.agent_id,
                       "body": m.body, "at": m.at})
            })
            .collect(),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    /// The agent to give it to; absent: me (taking an unassigned conversation).
    #[serde(default, rename = "agentId")]
    agent_id: Option<i64>,
}

async fn assign(
    State(hub): State<Hub>,
    authed: Authed,
    Path(id): Path<i64>,
    Body(body): Body<AssignBody>,
) -> Result<Json<Value>, HubError> {
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
    let updated = hub
        .store()
        .wa_conversation(c.id)
        .await?
        .ok_or_else(|| HubError::NotFound("conversation".into()))?;
    hub.wa_assigned_event(&updated, c.agent_id).await?;
    Ok(Json(conversation_json(&updated, hub.now())))
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    kind: String,
    filename: Option<String>,
}

/// `POST /media?kind=image&filename=…` with the file as the body and its `Content-Type`.
async fn upload_media(
    State(hub): State<Hub>,
    _authed: Authed,
    Params(q): Params<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WaError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let row = hub
        .wa_upload_media(&q.kind, &mime, q.filename.as_deref(), &body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": row.id, "mimeType": row.mime_type, "size": row.size, "sha256": row.sha256})),
    )
        .into_response())
}

async fn download_media(
    State(hub): State<Hub>,
    _authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, HubError> {
    let (row, bytes) = hub.wa_read_media(&id).await?;
    let mime = axum::http::HeaderValue::from_str(&row.mime_type).unwrap_or(
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                axum::http::HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct TemplatesQuery {
    refresh: Option<bool>,
}

async fn templates(
    State(hub): State<Hub>,
    _authed: Authed,
    Params(q): Params<TemplatesQuery>,
) -> Result<Json<Value>, WaError> {
    let list = hub.wa_templates(q.refresh.unwrap_or(false)).await?;
    Ok(Json(Value::Array(list.iter().map(template_json).collect())))
}

async fn quick_addresses(State(hub): State<Hub>, _authed: Authed) -> Result<Json<Value>, HubError> {
    let list = hub.store().wa_quick_addresses().await?;
    Ok(Json(Value::Array(
        list.into_iter()
            .map(|(id, name, address)| json!({"id": id, "name": name, "address": address}))
            .collect(),
    )))
}

async fn canned_responses(
    State(hub): State<Hub>,
    _authed: Authed,
) -> Result<Json<Value>, HubError> {
    let list = hub.store().wa_canned_responses().await?;
    Ok(Json(Value::Array(
        list.into_iter()
            .map(|(id, shortcut, body)| json!({"id": id, "shortcut": shortcut, "body": body}))
            .collect(),
    )))
}
