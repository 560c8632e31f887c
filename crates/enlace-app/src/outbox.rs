//! The outbox courier: delivers queued CRM writes (create a contact, log a call, log an
//! attended WhatsApp chat) in order, one at a time, on its own thread.
//!
//! Invariants:
//! - An entry is queued in the same SQLite transaction that changes its call (`enlace-store`),
//!   so a crash never loses a write the agent saw accepted; a chat's log is queued before
//!   `queue_chat_log` returns.
//! - Each entry has an idempotency key, written into the CRM with every record it creates
//!   (Salesforce Task `CallObject`; a `[enlace:{key}]` line in the `Description` of a
//!   Salesforce Contact/Lead and of a Zoho Contact/Lead/Call, at the end of a chat's Salesforce
//!   Task `Description` and of its Zoho `Note_Content` or Call `Description`). Before each attempt the entry
//!   is marked in flight; an entry found in flight again (a crash, a lost reply) is delivered
//!   with `retrying = true`, and the CRM client first looks for that key among the records
//!   created since the entry was queued — never for records with the same fields.
//! - Transient failures (network, 5xx, rate limits) wait with exponential back-off; failures
//!   that need the agent (validation, duplicate, sign-in) stop the entry until they retry it.
//! - The payload JSON is private to this module: a storage format, not a wire type.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use enlace_core::{
    CallActivity, CallDirection, CallId, CallRecord, ContactKind, Crm, ErrorCode, NewContact,
    RecordRef, Timestamp,
};
use enlace_crm::{ChatActivity, CrmError, WriteAttempt};
use enlace_store::{OutboxEntry, OutboxError};
use enlace_telephony::CallIdSource;
use serde::{Deserialize, Serialize};

use crate::{lock, DomainEvent, Host, Shared};

/// Longest wait between two attempts of a failing entry.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the courier looks for entries that became due while nobody woke it.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What an outbox entry asks the CRM to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload {
    CreateContact {
        contact: NewContact,
    },
    LogCall {
        call: CallFacts,
        record: RecordTarget,
        subject: String,
        comment: String,
    },
    LogChat {
        chat: ChatFacts,
    },
}

/// The facts of an attended conversation its CRM log needs, frozen when it was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChatFacts {
    pub conversation_id: i64,
    pub customer: String,
    pub customer_name: Option<String>,
    pub business_number: String,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub transcript: String,
    /// The cached Contact or Lead of the customer's number, if any (of the entry's CRM).
    pub record: Option<RecordRef>,
}

/// The record a call is logged on: known, or the result of an earlier queued creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordTarget {
    Known(RecordRef),
    Created {
        crm: Crm,
        kind: ContactKind,
        key: String,
    },
}

/// The facts of a call a CRM activity needs, frozen when the agent pressed Salvar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallFacts {
    pub id: CallId,
    pub direction: CallDirection,
    pub peer_number: String,
    pub started_at: Timestamp,
    pub duration_seconds: u32,
}

impl CallFacts {
    pub(crate) fn from_record(call: &CallRecord) -> CallFacts {
        CallFacts {
            id: call.id.clone(),
            direction: call.direction,
            peer_number: call.peer_number.clone(),
            started_at: call.started_at,
            duration_seconds: call.duration_seconds(),
        }
    }
}

/// A fresh idempotency key.
pub(crate) fn new_key(ids: &Arc<dyn CallIdSource>) -> String {
    format!("enl-{}", ids.next_id())
}

// ---- storage format -------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StoredPayload {
    CreateContact {
        kind: String,
        first_name: Option<String>,
        last_name: String,
        email: Option<String>,
        phone: Option<String>,
        mobile: Option<String>,
        company: Option<String>,
    },
    LogCall {
        call_id: String,
        direction: String,
        peer_number: String,
        started_at: i64,
        duration_seconds: u32,
        crm: String,
        kind: String,
        record_id: Option<String>,
        created_by: Option<String>,
        subject: String,
        comment: String,
    },
    LogChat {
        conversation_id: i64,
        customer: String,
        customer_name: Option<String>,
        business_number: String,
        started_at: i64,
        ended_at: i64,
        transcript: String,
        /// The record's CRM, kind and id, all three or none.
        crm: Option<String>,
        kind: Option<String>,
        record_id: Option<String>,
    },
}

impl Payload {
    pub(crate) fn to_json(&self) -> String {
        let stored = match self {
            Payload::CreateContact { contact: c } => StoredPayload::CreateContact {
                kind: c.kind.as_str().to_owned(),
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                email: c.email.clone(),
                phone: c.phone.clone(),
                mobile: c.mobile.clone(),
                company: c.company.clone(),
            },
            Payload::LogCall {
                call,
                record,
                subject,
                comment,
            } => {
                let (crm, kind, record_id, created_by) = match record {
                    RecordTarget::Known(r) => (r.crm, r.kind, Some(r.id.clone()), None),
                    RecordTarget::Created { crm, kind, key } => {
                        (*crm, *kind, None, Some(key.clone()))
                    }
                };
                StoredPayload::LogCall {
                    call_id: call.id.to_string(),
                    direction: match call.direction {
                        CallDirection::Incoming => "incoming",
                        CallDirection::Outgoing => "outgoing",
                    }
                    .to_owned(),
                    peer_number: call.peer_number.clone(),
                    started_at: call.started_at.millis(),
                    duration_seconds: call.duration_seconds,
                    crm: crm.as_str().to_owned(),
                    kind: kind.as_str().to_owned(),
                    record_id,
                    created_by,
                    subject: subject.clone(),
                    comment: comment.clone(),
                }
            }
            Payload::LogChat { chat } => StoredPayload::LogChat {
                conversation_id: chat.conversation_id,
                customer: chat.customer.clone(),
                customer_name: chat.customer_name.clone(),
                business_number: chat.business_number.clone(),
                started_at: chat.started_at.millis(),
                ended_at: chat.ended_at.millis(),
                transcript: chat.transcript.clone(),
                crm: chat.record.as_ref().map(|r| r.crm.as_str().to_owned()),
                kind: chat.record.as_ref().map(|r| r.kind.as_str().to_owned()),
                record_id: chat.record.as_ref().map(|r| r.id.clone()),
            },
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    pub(crate) fn from_json(json: &str) -> Result<Payload, String> {
        let stored: StoredPayload = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let kind_of = |k: &str| ContactKind::parse(k).ok_or_else(|| format!("unknown kind {k:?}"));
        Ok(match stored {
            StoredPayload::CreateContact {
                kind,
                first_name,
                last_name,
                email,
                phone,
                mobile,
                company,
            } => Payload::CreateContact {
                contact: NewContact {
                    kind: kind_of(&kind)?,
                    first_name,
                    last_name,
                    email,
                    phone,
                    mobile,
                    company,
                },
            },
            StoredPayload::LogCall {
                call_id,
                direction,
                peer_number,
                started_at,
                duration_seconds,
                crm,
                kind,
                record_id,
                created_by,
                subject,
                comment,
            } => {
                let crm = Crm::parse(&crm).ok_or_else(|| format!("unknown CRM {crm:?}"))?;
                let kind = kind_of(&kind)?;
                let record = match (record_id, created_by) {
                    (Some(id), _) => RecordTarget::Known(RecordRef { crm, kind, id }),
                    (None, Some(key)) => RecordTarget::Created { crm, kind, key },
                    (None, None) => return Err("the call's record is missing".to_owned()),
                };
                Payload::LogCall {
                    call: CallFacts {
                        id: CallId(call_id),
                        direction: match direction.as_str() {
                            "incoming" => CallDirection::Incoming,
                            "outgoing" => CallDirection::Outgoing,
                            other => return Err(format!("unknown direction {other:?}")),
                        },
                        peer_number,
                        started_at: Timestamp(started_at),
                        duration_seconds,
                    },
                    record,
                    subject,
                    comment,
                }
            }
            StoredPayload::LogChat {
                conversation_id,
                customer,
                customer_name,
                business_number,
                started_at,
                ended_at,
                transcript,
                crm,
                kind,
                record_id,
            } => {
                let record = match (crm, kind, record_id) {
                    (Some(crm), Some(kind), Some(id)) => Some(RecordRef {
                        crm: Crm::parse(&crm).ok_or_else(|| format!("unknown CRM {crm:?}"))?,
                        kind: kind_of(&kind)?,
                        id,
                    }),
                    (None, None, None) => None,
                    _ => return Err("the chat's record is incomplete".to_owned()),
                };
                Payload::LogChat {
                    chat: ChatFacts {
                        conversation_id,
                        customer,
                        customer_name,
                        business_number,
                        started_at: Timestamp(started_at),
                        ended_at: Timestamp(ended_at),
                        transcript,
                        record,
                    },
                }
            }
        })
    }
}

// ---- the courier ------------------------------------------------------------------------

/// Run until the app is dropped: deliver due entries, then wait to be woken (or a second).
pub(crate) fn run_courier<H: Host>(shared: Weak<Shared<H>>, wake: Receiver<()>) {
    loop {
        let Some(app) = shared.upgrade() else { return };
        let now = app.clock.now();
        let next = lock(&app.store).next_outbox_entry(now);
        match next {
            Ok(Some(entry)) => {
                deliver(&app, entry);
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(code = %e.code(), "could not read the outbox"),
        }
        drop(app);
        match wake.recv_timeout(IDLE_CHECK) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

enum Outcome {
    Delivered(String),
    Failed(OutboxError, Option<Duration>),
    NeedsAgent(OutboxError),
}

fn deliver<H: Host>(app: &Shared<H>, entry: OutboxEntry) {
    let retrying = entry.uncertain;
    // Without a usable link nothing is sent: the entry waits for the agent to sign in (linking
    // puts it back in line, see `App::finish_link`).
    let link = match app.crm.link(entry.crm) {
        Ok(link) => link,
        Err(e) => {
            let error = error_of(e.code(), e.to_string(), None);
            let now = app.clock.now();
            if let Err(e) = lock(&app.store).mark_needs_attention(entry.id, &error, now) {
                tracing::error!(code = %e.code(), "could not park an outbox entry");
            }
            tell_ui(app, &entry);
            return;
        }
    };
    if let Err(e) = lock(&app.store).mark_in_flight(entry.id) {
        tracing::error!(code = %e.code(), "could not mark an outbox entry in flight");
        return;
    }
    let outcome = attempt(app, &link, &entry, retrying);
    let now = app.clock.now();
    let saved = {
        let store = lock(&app.store);
        match &outcome {
            Outcome::Delivered(id) => store.mark_delivered(entry.id, id, now),
            Outcome::Failed(error, wait) => {
                let wait = wait.unwrap_or_else(|| backoff(entry.attempts + 1));
                let due = Timestamp(
                    now.millis()
                        .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                );
                store.mark_retry(entry.id, error, due, now)
            }
            Outcome::NeedsAgent(error) => store.mark_needs_attention(entry.id, error, now),
        }
    };
    if let Err(e) = saved {
        tracing::error!(code = %e.code(), "could not record an outbox delivery");
    }
    match &outcome {
        Outcome::Delivered(_) => tracing::info!(entry = entry.id, "CRM write delivered"),
        Outcome::Failed(e, _) => {
            tracing::warn!(entry = entry.id, code = %e.code, "CRM write will be retried")
        }
        Outcome::NeedsAgent(e) => {
            tracing::warn!(entry = entry.id, code = %e.code, "CRM write needs the agent")
        }
    }
    // Tell the UI: the call card's write state, and the counts in Configuración.
    tell_ui(app, &entry);
}

fn tell_ui<H: Host>(app: &Shared<H>, entry: &OutboxEntry) {
    if let Some(call) = &entry.call_id {
        if let Ok(Some(log)) = lock(&app.store).call_log(call) {
            app.host.emit(DomainEvent::CallUpdated(log));
        }
    }
    app.host.emit(DomainEvent::CrmWritesChanged);
}

fn attempt<H: Host>(
    app: &Shared<H>,
    link: &enlace_crm::CrmLink,
    entry: &OutboxEntry,
    retrying: bool,
) -> Outcome {
    let payload = match Payload::from_json(&entry.payload) {
        Ok(p) => p,
        Err(detail) => return Outcome::NeedsAgent(error_of(ErrorCode::Internal, detail, None)),
    };
    // The key goes with the record and is what a retry looks for (see `WriteAttempt`).
    let write = WriteAttempt {
        key: &entry.idempotency_key,
        queued_at: entry.created_at,
        retrying,
    };
    let result = match payload {
        Payload::CreateContact { contact } => {
            link.create_contact(&contact, &write).map(|created| {
                let country = lock(&app.settings).default_country;
                crate::crm::store_contacts(
                    &lock(&app.store),
                    std::slice::from_ref(&created),
                    country,
                );
                created.crm_id
            })
        }
        Payload::LogCall {
            call,
            record,
            subject,
            comment,
        } => {
            let record = match record {
                RecordTarget::Known(r) => r,
                RecordTarget::Created { crm, kind, key } => {
                    let created = lock(&app.store).outbox_entry_by_key(&key);
                    match created {
                        Ok(Some(created)) => match created.result_id {
                            Some(id) => RecordRef {
                                crm,
                                kind: settled_kind(app, entry, &id).unwrap_or(kind),
                                id,
                            },
                            None => {
                                return Outcome::Failed(
                                    error_of(
                                        ErrorCode::CrmUnavailable,
                                        "waiting for the contact to be created".into(),
                                        None,
                                    ),
                                    Some(Duration::from_secs(5)),
                                )
                            }
                        },
                        Ok(None) => {
                            return Outcome::NeedsAgent(error_of(
                                ErrorCode::NotFound,
                                "the contact this call belongs to was never queued".into(),
                                None,
                            ))
                        }
                        Err(e) => {
                            return Outcome::Failed(error_of(e.code(), e.to_string(), None), None)
                        }
                    }
                }
            };
            let activity = CallActivity {
                call_id: call.id,
                record,
                direction: call.direction,
                peer_number: call.peer_number,
                started_at: call.started_at,
                duration_seconds: call.duration_seconds,
                subject,
                comment,
            };
            link.log_call(&activity, &write)
        }
        Payload::LogChat { chat } => {
            let activity = ChatActivity {
                record: chat.record,
                customer: chat.customer,
                customer_name: chat.customer_name,
                started_at: chat.started_at,
                ended_at: chat.ended_at,
                transcript: chat.transcript,
            };
            link.log_chat(&activity, &write)
        }
    };
    app.crm.persist_refreshed(link);
    match result {
        Ok(id) => Outcome::Delivered(id),
        Err(e) => classify(app, entry.crm, e),
    }
}

/// The kind of the record a queued creation ended up as, from the call it belongs to: the
/// agent may have settled a refused creation with an existing record of the other kind (a new
/// Contact that duplicates a Lead).
fn settled_kind<H: Host>(app: &Shared<H>, entry: &OutboxEntry, id: &str) -> Option<ContactKind> {
    let call = entry.call_id.as_ref()?;
    let log = lock(&app.store).call_log(call).ok()??;
    log.record
        .filter(|r| r.id.as_deref() == Some(id))
        .map(|r| r.kind)
}

fn classify<H: Host>(app: &Shared<H>, crm: Crm, e: CrmError) -> Outcome {
    let error = OutboxError {
        // A duplicate keeps the record the CRM matched: the agent may attach the call to it.
        existing: e.existing_record().cloned(),
        ..error_of(e.code(), e.to_string(), e.field().map(str::to_owned))
    };
    if e.code() == ErrorCode::CrmReauthRequired {
        app.crm.mark_needs_reauth(crm, e.to_string());
        return Outcome::NeedsAgent(error);
    }
    if e.is_transient() {
        return Outcome::Failed(error, e.retry_after());
    }
    Outcome::NeedsAgent(error)
}

fn error_of(code: ErrorCode, message: String, field: Option<String>) -> OutboxError {
    OutboxError {
        code,
        message,
        field,
        existing: None,
    }
}

/// 2 s, 4 s, 8 s … up to [`MAX_BACKOFF`].
fn backoff(attempts: u32) -> Duration {
    let secs = 1u64.checked_shl(attempts.min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let create = Payload::CreateContact {
            contact: NewContact {
                kind: ContactKind::Lead,
                first_name: Some("Ana".into()),
                last_name: "Mora".into(),
                email: None,
                phone: Some("+50688881234".into()),
                mobile: None,
                company: Some("Acme".into()),
            },
        };
        assert_eq!(Payload::from_json(&create.to_json()).unwrap(), create);
        let log = Payload::LogCall {
            call: CallFacts {
                id: CallId("c1".to_owned()),
                direction: CallDirection::Incoming,
                peer_number: "+50688881234".into(),
                started_at: Timestamp(1_700_000_000_000),
                duration_seconds: 125,
            },
            record: RecordTarget::Created {
                crm: Crm::Zoho,
                kind: ContactKind::Lead,
                key: "enl-1".into(),
            },
            subject: "Consulta".into(),
            comment: "Llamar mañana".into(),
        };
        assert_eq!(Payload::from_json(&log.to_json()).unwrap(), log);
        let mut chat = ChatFacts {
            conversation_id: 42,
            customer: "+50688881234".into(),
            customer_name: Some("Ana".into()),
            business_number: "+50622223333".into(),
            started_at: Timestamp(1_700_000_000_000),
            ended_at: Timestamp(1_700_000_600_000),
            transcript: "[14/11/2023 22:13] Cliente: Hola".into(),
            record: Some(RecordRef {
                crm: Crm::Zoho,
                kind: ContactKind::Lead,
                id: "57".into(),
            }),
        };
        let logged = Payload::LogChat { chat: chat.clone() };
        assert_eq!(Payload::from_json(&logged.to_json()).unwrap(), logged);
        chat.record = None;
        let unattached = Payload::LogChat { chat };
        assert_eq!(
            Payload::from_json(&unattached.to_json()).unwrap(),
            unattached
        );
        assert!(Payload::from_json(
            r#"{"type":"log_chat","conversation_id":1,"customer":"+1","customer_name":null,"business_number":"+2","started_at":0,"ended_at":0,"transcript":"","crm":"zoho","kind":null,"record_id":"5"}"#
        )
        .is_err());
    }

    #[test]
    fn corrupt_payloads_are_errors() {
        assert!(Payload::from_json("{").is_err());
        assert!(
            Payload::from_json(r#"{"type":"create_contact","kind":"alien","last_name":"x"}"#)
                .is_err()
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
