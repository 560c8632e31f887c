//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! attributes and the `enlace-hub-api` types (served at `/api/v1/openapi.json`).
//!
//! To add a route:
//! 1. put its request/response types in `enlace-hub-api` (derive `ToSchema`, or `IntoParams`
//!    for a query);
//! 2. write the handler with `#[utoipa::path(method, path = "/api/v1/…", tag = "…",
//!    security(("bearer" = [])), request_body = …, responses(…))]` and make it `pub(crate)`;
//! 3. add it to `routes()` of its module (the router is built from those lists) and its path
//!    to `paths(…)` below, its types to `components(schemas(…))`.
//!
//! `tests::every_route_event_and_error_code_is_documented` fails when a route of the router,
//! a `HubEvent` kind or an `ApiErrorCode` is missing from the document.

use enlace_hub_api::events::EnvelopeFields;
use enlace_hub_api::*;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "enlace-hub",
        description = "The organization's server of Enlace: agents, sessions, pause reasons, \
                       agent states, click-to-dial and the agent's event stream. Errors are \
                       ApiError {code, message, retryAfter?}; clients act on `code`."
    ),
    paths(
        crate::api::create_session,
        crate::api::delete_session,
        crate::api::me,
        crate::api::set_state,
        crate::api::day,
        crate::api::pause_reasons,
        crate::api::dial,
        crate::api::agents,
        crate::api::stream,
        crate::api::openapi,
        crate::whatsapp::intake::verify,
        crate::whatsapp::intake::receive,
        crate::whatsapp::api::list_conversations,
        crate::whatsapp::api::start_conversation,
        crate::whatsapp::api::list_messages,
        crate::whatsapp::api::send_message,
        crate::whatsapp::api::mark_read,
        crate::whatsapp::api::attended,
        crate::whatsapp::api::comments,
        crate::whatsapp::api::add_comment,
        crate::whatsapp::api::assign,
        crate::whatsapp::api::release,
        crate::whatsapp::api::upload_media,
        crate::whatsapp::api::download_media,
        crate::whatsapp::api::templates,
        crate::whatsapp::api::numbers,
        crate::whatsapp::api::quick_addresses,
        crate::whatsapp::api::canned_responses,
    ),
    components(schemas(
        ApiError,
        ApiErrorCode,
        Agent,
        AgentState,
        AgentStateKind,
        PauseReason,
        LoginRequest,
        SessionCreated,
        Me,
        StateRequest,
        DialRequest,
        DialReply,
        DialOutcomeCode,
        DaySummary,
        DayPause,
        AgentOverview,
        EnvelopeFields,
        HubEvent,
        AgentStateChanged,
        StateSource,
        PauseBudgetExceeded,
        CallChanged,
        HubCall,
        HubCallDirection,
        HangupCause,
        DialFailed,
        HubDialAttempt,
        HubDialFailure,
        StreamTruncated,
        whatsapp::Conversation,
        whatsapp::Message,
        whatsapp::MessageError,
        whatsapp::MessagePage,
        whatsapp::OutgoingMessage,
        whatsapp::SendMessageRequest,
        whatsapp::StartConversationRequest,
        whatsapp::ConversationStarted,
        whatsapp::CommentRequest,
        whatsapp::Comment,
        whatsapp::AssignRequest,
        whatsapp::MessageTemplate,
        whatsapp::WindowClosedError,
        whatsapp::QuickAddress,
        whatsapp::BusinessNumber,
        whatsapp::CannedResponse,
        whatsapp::MediaUploaded,
        whatsapp::MessageReceived,
        whatsapp::MessageStatus,
        whatsapp::ConversationAssigned,
        whatsapp::ConversationAttended,
        whatsapp::CommentAdded,
        whatsapp::WindowClosing,
        whatsapp::WhatsappAlert,
    )),
    modifiers(&Bearer)
)]
struct ApiDoc;

/// Sessions are `Authorization: Bearer <token>`.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON text.
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_pretty_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document could not be written");
        "{}".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Routes served before this document covered them: the WhatsApp conversation routes
    /// (issue 10 §1) whose handlers still need their `#[utoipa::path]`. The test fails when one
    /// of them gets documented (remove it here) and for any other route that is not: the list
    /// only shrinks.
    const NOT_DOCUMENTED_YET: &[(&str, &str)] = &[];

    #[test]
    fn every_route_event_and_error_code_is_documented() {
        let doc: Value = serde_json::from_str(&document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let routes: Vec<(&str, &str)> = crate::api::every_route()
            .into_iter()
            .map(|(method, path, _)| (method, path))
            .collect();
        let documented = |(method, path): &(&str, &str)| doc["paths"][*path][*method].is_object();
        let missing: Vec<_> = routes
            .iter()
            .filter(|r| !documented(r) && !NOT_DOCUMENTED_YET.contains(r))
            .collect();
        assert!(
            missing.is_empty(),
            "routes missing from the document: {missing:?}"
        );
        let now_documented: Vec<_> = NOT_DOCUMENTED_YET
            .iter()
            .filter(|r| documented(r) || !routes.contains(r))
            .collect();
        assert!(
            now_documented.is_empty(),
            "documented or gone, remove from NOT_DOCUMENTED_YET: {now_documented:?}"
        );
        // And nothing is documented that the router does not serve.
        for path in doc["paths"].as_object().unwrap().keys() {
            assert!(
                routes.iter().any(|(_, p)| p == path),
                "{path} is documented but not served"
            );
        }

        let schemas = &doc["components"]["schemas"];
        let events = schemas["HubEvent"].to_string();
        for kind in HubEvent::KINDS {
            assert!(
                events.contains(&format!("\"{kind}\"")),
                "event {kind} missing"
            );
        }
        let codes = schemas["ApiErrorCode"].to_string();
        for code in ApiErrorCode::ALL {
            assert!(
                codes.contains(&format!("\"{}\"", code.as_str())),
                "error code {code:?} missing"
            );
        }
        // Every schema a path or another schema refers to is there.
        for reference in doc.to_string().split("#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(schemas.get(name).is_some(), "{name} not in components");
        }
    }
}
