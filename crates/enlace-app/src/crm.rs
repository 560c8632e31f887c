//! CRM use-cases: link and unlink accounts (tokens in the OS keyring, the account reference in
//! the database), search contacts (cache first, then the CRM), attach a call to a record,
//! create a record and log a call through the durable outbox, log an attended WhatsApp chat
//! (when the agent turned it on) through the same outbox, and open a record in the browser.
//!
//! Invariants:
//! - Tokens only ever live in [`SecretStore`] and in memory inside [`CrmLink`]; the database
//!   keeps [`CrmAccount`] (no secrets). A keyring that is missing or locked leaves the account
//!   listed with the problem; nothing falls back to a file.
//! - Every CRM write goes through the outbox ([`crate::outbox`]): queued in the same
//!   transaction that changes the call, delivered later by the courier.
//! - A chat is logged on the customer's record as the contacts cache knows it when it is queued
//!   (the caller-ID resolver; the first by its ranking); with none, as an unattached activity.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{CallId, Contact, ContactKind, Crm, ErrorCode, NewContact, RecordRef};
use enlace_crm::{
    salesforce_password_sign_in, CrmAccount, CrmError, CrmLink, PendingSignIn, Tokens,
};
use enlace_secrets::{SecretStore, SecretsError, Sensitive};
use enlace_store::{CallLog, OutboxState, Store};

use crate::error::AppError;
use crate::outbox::{self, ChatFacts, Payload, RecordTarget};
use crate::{blocking, lock, App, DomainEvent, Host};

/// How long the browser sign-in waits for the agent.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);
/// Most contacts a search returns.
const SEARCH_LIMIT: usize = 50;
/// Zoho deletes the oldest refresh token of a user beyond this many per client.
const ZOHO_REFRESH_TOKEN_CAP: usize = 20;

/// The state of one CRM link.
#[derive(Clone)]
pub(crate) enum LinkSlot {
    Linked(Arc<CrmLink>),
    /// An account is recorded but cannot be used: keyring unavailable, tokens gone or revoked.
    Broken {
        account: CrmAccount,
        code: ErrorCode,
        detail: String,
    },
}

/// What the CRM side of the app holds.
pub(crate) struct CrmSide {
    pub(crate) secrets: SecretStore,
    pub(crate) links: std::sync::Mutex<HashMap<Crm, LinkSlot>>,
    pub(crate) keyring: std::sync::Mutex<Result<(), String>>,
}

/// An attended WhatsApp conversation to log to the CRM ([`App::queue_chat_log`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLogRequest {
    /// The hub's conversation id.
    pub conversation_id: i64,
    /// The customer's number, E.164 (`+50688881234`).
    pub customer: String,
    pub customer_name: Option<String>,
    /// The organization's WhatsApp number the conversation is on.
    pub business_number: String,
    /// First and last message, milliseconds since the Unix epoch.
    pub started_at: i64,
    pub ended_at: i64,
    /// `[dd/mm/yyyy HH:MM] Cliente|Agente: text` lines, oldest first
    /// ([`enlace_crm::format_transcript`]).
    pub transcript: String,
}

/// Longest customer number and name accepted in a [`ChatLogRequest`].
const MAX_CHAT_NUMBER: usize = 40;
const MAX_CHAT_NAME: usize = 255;

/// One CRM's link state, for Configuración.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmLinkStatus {
    pub crm: Crm,
    /// Username (Salesforce) or e-mail (Zoho) of the linked account.
    pub account: Option<String>,
    pub state: LinkState,
    pub detail: Option<String>,
    pub access_expires_at: Option<enlace_core::Timestamp>,
    pub warning: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Ok,
    NeedsReauth,
    KeyringUnavailable,
    NotLinked,
}

/// Everything Configuración shows about the CRMs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmStatus {
    pub keyring: Result<(), String>,
    pub links: Vec<CrmLinkStatus>,
    pub pending_writes: u32,
    pub needs_attention: u32,
}

impl CrmSide {
    pub(crate) fn new(secrets: SecretStore) -> CrmSide {
        CrmSide {
            secrets,
            links: std::sync::Mutex::new(HashMap::new()),
            keyring: std::sync::Mutex::new(Ok(())),
        }
    }

    /// The usable link of `crm`, or the error that explains why there is none.
    pub(crate) fn link(&self, crm: Crm) -> Result<Arc<CrmLink>, AppError> {
        match lock(&self.links).get(&crm) {
            Some(LinkSlot::Linked(link)) => Ok(Arc::clone(link)),
            Some(LinkSlot::Broken { code, detail, .. }) => {
                Err(AppError::Crm(detail.clone(), *code, None))
            }
            None => Err(AppError::Crm(
                format!("{} is not linked", crm.as_str()),
                ErrorCode::CrmNotLinked,
                None,
            )),
        }
    }

    /// The CRM new records go to: the only linked one (Salesforce first when both are).
    pub(crate) fn active_crm(&self) -> Option<Crm> {
        let links = lock(&self.links);
        Crm::ALL
            .into_iter()
            .find(|crm| matches!(links.get(crm), Some(LinkSlot::Linked(_))))
    }

    /// The CRM a chat's log goes to: the active one, else one with an account that needs the
    /// agent (the write waits for the sign-in like a call's).
    pub(crate) fn chat_crm(&self) -> Option<Crm> {
        self.active_crm().or_else(|| {
            let links = lock(&self.links);
            Crm::ALL.into_iter().find(|crm| links.contains_key(crm))
        })
    }

    /// Save tokens a link refreshed on its own.
    pub(crate) fn persist_refreshed(&self, link: &CrmLink) {
        if let Some(tokens) = link.take_refreshed_tokens() {
            let account = link.account().key();
            if let Err(e) = self
                .secrets
                .put(&account_ref(link.account()), &tokens.to_secret())
            {
                tracing::warn!(code = %e.code(), %account, "could not save refreshed CRM tokens");
            }
        }
    }

    /// Mark a link broken after the CRM refused its tokens.
    pub(crate) fn mark_needs_reauth(&self, crm: Crm, detail: String) {
        let mut links = lock(&self.links);
        if let Some(LinkSlot::Linked(link)) = links.get(&crm) {
            let account = link.account().clone();
            links.insert(
                crm,
                LinkSlot::Broken {
                    account,
                    code: ErrorCode::CrmReauthRequired,
                    detail,
                },
            );
        }
    }
}

/// The keyring entry of an account's tokens: namespaced by CRM and account.
pub(crate) fn account_ref(account: &CrmAccount) -> String {
    enlace_secrets::crm_account_ref(account.crm(), &account.key())
}

impl<H: Host> App<H> {
    /// Load the linked accounts and their tokens (at start-up).
    pub(crate) async fn load_crm_links(&self) {
        let accounts = match self.with_store(|s| s.crm_accounts()).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(code = %e.code(), "could not read the linked CRM accounts");
                return;
            }
        };
        let side = Arc::clone(&self.shared.crm);
        let config = self.crm_config();
        let clock = Arc::clone(&self.shared.clock);
        let loaded = blocking(move || {
            let mut slots = HashMap::new();
            let mut keyring = Ok(());
            for stored in accounts {
                let crm = stored.crm;
                let account = match CrmAccount::from_json(&stored.account_json) {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(crm = crm.as_str(), code = %e.code(), "unreadable CRM account");
                        continue;
                    }
                };
                let slot = match side.secrets.get(&account_ref(&account)) {
                    Ok(secret) => match Tokens::from_secret(&secret) {
                        Ok(tokens) => LinkSlot::Linked(Arc::new(CrmLink::new(
                            account,
                            tokens,
                            config.clone(),
                            Arc::clone(&clock),
                        ))),
                        Err(e) => LinkSlot::Broken {
                            account,
                            code: ErrorCode::CrmReauthRequired,
                            detail: e.to_string(),
                        },
                    },
                    Err(e) => {
                        if e.code() == ErrorCode::KeyringUnavailable {
                            keyring = Err(e.to_string());
                        }
                        LinkSlot::Broken {
                            account,
                            code: match e {
                                SecretsError::NotFound { .. } => ErrorCode::CrmReauthRequired,
                                ref other => other.code(),
                            },
                            detail: e.to_string(),
                        }
                    }
                };
                slots.insert(crm, slot);
            }
            Ok((slots, keyring))
        })
        .await;
        if let Ok((slots, keyring)) = loaded {
            let mut links = lock(&self.shared.crm.links);
            for (crm, slot) in slots {
                // A sign-in that finished while we were loading wins.
                if !matches!(links.get(&crm), Some(LinkSlot::Linked(_))) {
                    links.insert(crm, slot);
                }
            }
            drop(links);
            if keyring.is_err() {
                *lock(&self.shared.crm.keyring) = keyring;
            }
        }
        // No probe here: writing a test entry at every start could raise an unlock prompt
        // before the agent asked for anything. Sign-in probes (`ensure_keyring`).
    }

    async fn refresh_keyring_probe(&self) {
        let side = Arc::clone(&self.shared.crm);
        let probe = blocking(move || Ok(side.secrets.probe().map_err(|e| e.to_string()))).await;
        if let Ok(result) = probe {
            *lock(&self.shared.crm.keyring) = result;
        }
    }

    /// Configuración's view of the CRM links.
    pub async fn crm_status(&self) -> Result<CrmStatus, AppError> {
        let counts = self.with_store(|s| s.outbox_counts()).await?;
        let links = lock(&self.shared.crm.links).clone();
        let keyring = lock(&self.shared.crm.keyring).clone();
        let statuses = Crm::ALL
            .into_iter()
            .map(|crm| match links.get(&crm) {
                Some(LinkSlot::Linked(link)) => CrmLinkStatus {
                    crm,
                    account: Some(link.account().display()),
                    state: LinkState::Ok,
                    detail: None,
                    access_expires_at: link.access_expires_at(),
                    warning: (crm == Crm::Zoho).then(|| {
                        format!(
                            "Zoho keeps at most {ZOHO_REFRESH_TOKEN_CAP} sign-ins per user and \
                             app; linking again on more devices signs out the oldest one"
                        )
                    }),
                },
                Some(LinkSlot::Broken {
                    account,
                    code,
                    detail,
                }) => CrmLinkStatus {
                    crm,
                    account: Some(account.display()),
                    state: if *code == ErrorCode::KeyringUnavailable {
                        LinkState::KeyringUnavailable
                    } else {
                        LinkState::NeedsReauth
                    },
                    detail: Some(detail.clone()),
                    access_expires_at: None,
                    warning: None,
                },
                None => CrmLinkStatus {
                    crm,
                    account: None,
                    state: if keyring.is_err() {
                        LinkState::KeyringUnavailable
                    } else {
                        LinkState::NotLinked
                    },
                    detail: keyring.clone().err(),
                    access_expires_at: None,
                    warning: None,
                },
            })
            .collect();
        Ok(CrmStatus {
            keyring,
            links: statuses,
            pending_writes: counts.pending,
            needs_attention: counts.needs_attention,
        })
    }

    /// Link a CRM through the system browser: open the authorize page and wait for the
    /// redirect to the loopback listener.
    pub async fn crm_sign_in(&self, crm: Crm) -> Result<CrmStatus, AppError> {
        self.ensure_keyring().await?;
        let config = self.crm_config();
        let pending = blocking(move || {
            match crm {
                Crm::Salesforce => PendingSignIn::salesforce(&config.salesforce),
                Crm::Zoho => PendingSignIn::zoho(&config.zoho),
            }
            .map_err(AppError::from)
        })
        .await?;
        self.shared
            .host
            .open_url(pending.authorize_url())
            .map_err(|e| AppError::Internal(format!("could not open the browser: {e}")))?;
        let (account, tokens) =
            blocking(move || pending.finish(SIGN_IN_TIMEOUT).map_err(AppError::from)).await?;
        self.finish_link(account, tokens).await
    }

    /// Link Salesforce with username and password + security token (orgs that allow it).
    pub async fn crm_password_sign_in(
        &self,
        username: String,
        password_and_token: Sensitive<String>,
    ) -> Result<CrmStatus, AppError> {
        self.ensure_keyring().await?;
        let config = self.crm_config();
        let (account, tokens) = blocking(move || {
            salesforce_password_sign_in(&config.salesforce, &username, &password_and_token)
                .map_err(AppError::from)
        })
        .await?;
        self.finish_link(account, tokens).await
    }

    async fn ensure_keyring(&self) -> Result<(), AppError> {
        self.refresh_keyring_probe().await;
        match lock(&self.shared.crm.keyring).clone() {
            Ok(()) => Ok(()),
            Err(detail) => Err(AppError::Crm(detail, ErrorCode::KeyringUnavailable, None)),
        }
    }

    async fn finish_link(
        &self,
        account: CrmAccount,
        tokens: Tokens,
    ) -> Result<CrmStatus, AppError> {
        let crm = account.crm();
        let side = Arc::clone(&self.shared.crm);
        let secret_ref = account_ref(&account);
        let secret = tokens.to_secret();
        blocking(move || {
            side.secrets
                .put(&secret_ref, &secret)
                .map_err(AppError::from)
        })
        .await?;
        let json = account.to_json();
        let now = self.shared.clock.now();
        self.with_store(move |s| s.set_crm_account(crm, &json, now))
            .await?;
        let link = CrmLink::new(
            account,
            tokens,
            self.crm_config(),
            Arc::clone(&self.shared.clock),
        );
        lock(&self.shared.crm.links).insert(crm, LinkSlot::Linked(Arc::new(link)));
        // Writes parked because this CRM was not linked (or its session ended) go back in line.
        let now = self.shared.clock.now();
        self.with_store(move |s| {
            for entry in s.outbox_attention()? {
                let parked = matches!(
                    entry.last_error.as_ref().map(|e| e.code),
                    Some(
                        ErrorCode::CrmNotLinked
                            | ErrorCode::CrmReauthRequired
                            | ErrorCode::KeyringUnavailable
                    )
                );
                if entry.crm == crm && parked {
                    s.retry_outbox_entry(entry.id, None, now)?;
                }
            }
            Ok(())
        })
        .await?;
        self.wake_courier();
        self.emit_crm_status().await
    }

    /// Unlink: revoke the tokens at the CRM (best effort), forget them and the account.
    pub async fn crm_unlink(&self, crm: Crm) -> Result<CrmStatus, AppError> {
        let slot = lock(&self.shared.crm.links).remove(&crm);
        let side = Arc::clone(&self.shared.crm);
        if let Some(slot) = slot {
            blocking(move || {
                let account = match &slot {
                    LinkSlot::Linked(link) => {
                        if let Err(e) = link.revoke() {
                            tracing::warn!(code = %e.code(), "revoking the CRM tokens failed");
                        }
                        link.account().clone()
                    }
                    LinkSlot::Broken { account, .. } => account.clone(),
                };
                match side.secrets.delete(&account_ref(&account)) {
                    Ok(()) | Err(SecretsError::NotFound { .. }) => Ok(()),
                    Err(e) => Err(AppError::from(e)),
                }
            })
            .await?;
        }
        self.with_store(move |s| s.delete_crm_account(crm).map(|_| ()))
            .await?;
        self.emit_crm_status().await
    }

    pub(crate) async fn emit_crm_status(&self) -> Result<CrmStatus, AppError> {
        let status = self.crm_status().await?;
        self.shared
            .host
            .emit(DomainEvent::CrmStatus(status.clone()));
        Ok(status)
    }

    /// Contacts in the local cache matching `query` (search as you type).
    pub async fn cached_contacts(&self, query: &str) -> Result<Vec<Contact>, AppError> {
        let query = query.to_owned();
        let found = self
            .with_store(move |s| s.search_contacts(&query, SEARCH_LIMIT))
            .await?;
        Ok(found.into_iter().map(|c| c.contact).collect())
    }

    /// Search the cache, then every linked CRM; CRM results are cached. A CRM failure is
    /// returned only when the cache found nothing to show.
    pub async fn search_contacts(&self, query: &str) -> Result<Vec<Contact>, AppError> {
        let trimmed = query.trim();
        if trimmed.chars().count() < 2 {
            return Err(AppError::Crm(
                "type at least two characters".to_owned(),
                ErrorCode::SearchTooShort,
                None,
            ));
        }
        let mut found = self.cached_contacts(trimmed).await?;
        let crms: Vec<Crm> = Crm::ALL
            .into_iter()
            .filter(|crm| self.shared.crm.link(*crm).is_ok())
            .collect();
        if crms.is_empty() && found.is_empty() {
            return Err(self
                .shared
                .crm
                .link(Crm::Salesforce)
                .err()
                .unwrap_or_else(|| {
                    AppError::Crm("no CRM is linked".into(), ErrorCode::CrmNotLinked, None)
                }));
        }
        let mut last_error = None;
        let country = self.settings().default_country;
        for crm in crms {
            let link = self.shared.crm.link(crm)?;
            let side = Arc::clone(&self.shared.crm);
            let q = trimmed.to_owned();
            let result = blocking(move || {
                let r = link.search(&q, country);
                side.persist_refreshed(&link);
                Ok(r)
            })
            .await?;
            match result {
                Ok(remote) => {
                    let cached = remote.clone();
                    self.with_store(move |s| s.upsert_contacts(&cached, country).map(|_| ()))
                        .await?;
                    for c in remote {
                        if !found.iter().any(|f| f.crm == c.crm && f.crm_id == c.crm_id) {
                            found.push(c);
                        }
                    }
                }
                Err(e) => {
                    if e.code() == ErrorCode::CrmReauthRequired {
                        self.shared.crm.mark_needs_reauth(crm, e.to_string());
                    }
                    last_error = Some(AppError::from(e));
                }
            }
        }
        match last_error {
            Some(e) if found.is_empty() => Err(e),
            _ => Ok(found),
        }
    }

    /// Attach a call to a CRM record (a search result or a caller-ID match).
    pub async fn attach_record(
        &self,
        call: &CallId,
        record: RecordRef,
    ) -> Result<CallLog, AppError> {
        let id = call.clone();
        let log = self
            .with_store(move |s| {
                let name = s
                    .contact(record.crm, &record.id)?
                    .map(|c| c.contact.display_name())
                    .unwrap_or_else(|| record.id.clone());
                s.attach_record(&id, &record, &name)?;
                s.call_log(&id)
            })
            .await?
            .ok_or_else(|| AppError::CallNotFound(call.to_string()))?;
        self.shared.host.emit(DomainEvent::CallUpdated(log.clone()));
        Ok(log)
    }

    /// Nuevo contacto: queue the record's creation and attach the call to it.
    pub async fn create_contact_for_call(
        &self,
        call: &CallId,
        contact: NewContact,
    ) -> Result<CallLog, AppError> {
        let contact = validate_new_contact(contact)?;
        let crm = self.shared.crm.active_crm().ok_or_else(|| {
            AppError::Crm("no CRM is linked".into(), ErrorCode::CrmNotLinked, None)
        })?;
        let key = outbox::new_key(&self.shared.call_ids);
        let payload = Payload::CreateContact {
            contact: contact.clone(),
        }
        .to_json();
        let name = contact_display_name(&contact);
        let kind = contact.kind;
        let id = call.clone();
        let now = self.shared.clock.now();
        let log = self
            .with_store(move |s| {
                s.queue_create_contact(Some(&id), crm, kind, &key, &payload, &name, now)?;
                s.call_log(&id)
            })
            .await?
            .ok_or_else(|| AppError::CallNotFound(call.to_string()))?;
        self.wake_courier();
        self.shared.host.emit(DomainEvent::CallUpdated(log.clone()));
        Ok(log)
    }

    /// Salvar: queue the call as a CRM call activity on its attached record.
    pub async fn log_call(
        &self,
        call: &CallId,
        subject: String,
        comment: String,
    ) -> Result<CallLog, AppError> {
        let subject = subject.trim().to_owned();
        if subject.is_empty() {
            return Err(AppError::Crm(
                "the subject is required".into(),
                ErrorCode::CrmInvalidField,
                Some("subject"),
            ));
        }
        if subject.chars().count() > 255 || comment.chars().count() > 32_000 {
            return Err(AppError::Crm(
                "the subject or comment is too long".into(),
                ErrorCode::TooLong,
                Some(if subject.chars().count() > 255 {
                    "subject"
                } else {
                    "comment"
                }),
            ));
        }
        let id = call.clone();
        let log = self
            .with_store(move |s| s.call_log(&id))
            .await?
            .ok_or_else(|| AppError::CallNotFound(call.to_string()))?;
        let Some(link) = log.record.clone() else {
            return Err(AppError::Crm(
                "attach a contact or lead before saving".into(),
                ErrorCode::CrmInvalidField,
                Some("record"),
            ));
        };
        let target = match (&link.id, &link.pending_key) {
            (Some(id), _) => RecordTarget::Known(RecordRef {
                crm: link.crm,
                kind: link.kind,
                id: id.clone(),
            }),
            (None, Some(key)) => RecordTarget::Created {
                crm: link.crm,
                kind: link.kind,
                key: key.clone(),
            },
            (None, None) => {
                return Err(AppError::Internal("the attached record has no id".into()));
            }
        };
        let payload = Payload::LogCall {
            call: outbox::CallFacts::from_record(&log.call),
            record: target,
            subject: subject.clone(),
            comment: comment.clone(),
        }
        .to_json();
        let key = outbox::new_key(&self.shared.call_ids);
        let id = call.clone();
        let now = self.shared.clock.now();
        let crm = link.crm;
        let log = self
            .with_store(move |s| {
                s.queue_log_call(&id, crm, &key, &payload, &subject, &comment, now)?;
                s.call_log(&id)
            })
            .await?
            .ok_or_else(|| AppError::CallNotFound(call.to_string()))?;
        self.wake_courier();
        self.shared.host.emit(DomainEvent::CallUpdated(log.clone()));
        Ok(log)
    }

    /// Marcar atendido with "log chats to the CRM" on: queue the conversation's transcript for
    /// the CRM (Salesforce: a completed Task; Zoho: a Note on the record, or a Call when the
    /// number matches no cached record). A no-op when the setting is off. The record is the
    /// cached Contact or Lead of the customer's number (the caller-ID resolver, first by its
    /// ranking) of the CRM the log goes to. Fails with `crm_not_linked` when no CRM account is
    /// linked, `crm_invalid_field` (field `customer`) for a number that is empty or too long.
    pub async fn queue_chat_log(&self, chat: ChatLogRequest) -> Result<(), AppError> {
        let settings = self.settings();
        if !settings.chat_log_to_crm {
            return Ok(());
        }
        let customer = chat.customer.trim().to_owned();
        if customer.is_empty()
            || customer.chars().count() > MAX_CHAT_NUMBER
            || customer.chars().any(char::is_control)
        {
            return Err(AppError::Crm(
                "the customer's number is empty or not valid".into(),
                ErrorCode::CrmInvalidField,
                Some("customer"),
            ));
        }
        let crm = self.shared.crm.chat_crm().ok_or_else(|| {
            AppError::Crm("no CRM is linked".into(), ErrorCode::CrmNotLinked, None)
        })?;
        let country = settings.default_country;
        let number = customer.clone();
        let record = self
            .with_store(move |s| s.contacts_for_caller(&number, country))
            .await?
            .into_iter()
            .map(|c| c.contact)
            .find(|c| c.crm == crm)
            .map(|c| c.reference());
        let facts = ChatFacts {
            conversation_id: chat.conversation_id,
            customer,
            customer_name: chat
                .customer_name
                .map(|n| n.trim().chars().take(MAX_CHAT_NAME).collect::<String>())
                .filter(|n| !n.is_empty()),
            business_number: chat.business_number.trim().to_owned(),
            started_at: enlace_core::Timestamp(chat.started_at),
            ended_at: enlace_core::Timestamp(chat.ended_at.max(chat.started_at)),
            transcript: chat.transcript,
            record,
        };
        let payload = Payload::LogChat { chat: facts }.to_json();
        let key = outbox::new_key(&self.shared.call_ids);
        let now = self.shared.clock.now();
        let conversation = chat.conversation_id;
        self.with_store(move |s| s.queue_log_chat(conversation, crm, &key, &payload, now))
            .await?;
        self.wake_courier();
        self.shared.host.emit(DomainEvent::CrmWritesChanged);
        Ok(())
    }

    /// Reintentar: a write that needed the agent goes back in line. A call's log goes to the
    /// record the call points at now: after `crm_record_deleted` the agent attaches another
    /// record, then retries. A chat's log whose record was deleted goes to the next cached
    /// record of the customer's number, or unattached when there is none.
    pub async fn retry_crm_write(&self, entry: i64) -> Result<Option<CallLog>, AppError> {
        let now = self.shared.clock.now();
        let country = self.settings().default_country;
        let log = self
            .with_store(move |s| {
                let retargeted = match s.outbox_entry(entry)? {
                    Some(e) if e.state == OutboxState::NeedsAttention => {
                        match retarget_log(s, &e)? {
                            Some(payload) => Some(payload),
                            None => retarget_chat(s, &e, country)?,
                        }
                    }
                    _ => None,
                };
                s.retry_outbox_entry(entry, retargeted.as_deref(), now)?;
                match s.outbox_entry(entry)?.and_then(|e| e.call_id) {
                    Some(call) => s.call_log(&call),
                    None => Ok(None),
                }
            })
            .await?;
        self.wake_courier();
        if let Some(log) = &log {
            self.shared.host.emit(DomainEvent::CallUpdated(log.clone()));
        }
        Ok(log)
    }

    /// "Asociar al registro existente": a creation the CRM refused as a duplicate of a record
    /// it named is settled with that record instead — the call (and a log queued for it) goes
    /// to the existing record, and the CRM's queue moves on. Nothing is sent to the CRM.
    pub async fn use_existing_record(&self, entry: i64) -> Result<Option<CallLog>, AppError> {
        let now = self.shared.clock.now();
        let log = self
            .with_store(move |s| {
                let existing = s
                    .outbox_entry(entry)?
                    .and_then(|e| e.last_error)
                    .filter(|error| error.code == ErrorCode::CrmDuplicate)
                    .and_then(|error| error.existing);
                let Some(existing) = existing else {
                    return Err(enlace_store::StoreError::NotFound {
                        what: "record matched by CRM write",
                        id: entry.to_string(),
                    });
                };
                s.settle_with_existing_record(entry, &existing, now)?;
                match s.outbox_entry(entry)?.and_then(|e| e.call_id) {
                    Some(call) => s.call_log(&call),
                    None => Ok(None),
                }
            })
            .await?;
        self.wake_courier();
        if let Some(log) = &log {
            self.shared.host.emit(DomainEvent::CallUpdated(log.clone()));
        }
        self.shared.host.emit(DomainEvent::CrmWritesChanged);
        Ok(log)
    }

    /// Ver: the record's page in the CRM's web UI, opened in the browser.
    pub async fn open_record(&self, record: RecordRef) -> Result<(), AppError> {
        let link = self.shared.crm.link(record.crm)?;
        let url = link.record_url(&record);
        self.shared
            .host
            .open_url(&url)
            .map_err(|e| AppError::Internal(format!("could not open the browser: {e}")))
    }

    /// Records in the cache that share the caller's number (screen-pop).
    pub(crate) async fn caller_matches(&self, number: &str) -> Vec<Contact> {
        let number = number.to_owned();
        let country = self.settings().default_country;
        match self
            .with_store(move |s| s.contacts_for_caller(&number, country))
            .await
        {
            Ok(found) => found.into_iter().map(|c| c.contact).collect(),
            Err(e) => {
                tracing::warn!(code = %e.code(), "caller lookup failed");
                Vec::new()
            }
        }
    }
}

/// The payload of a call's log that needs attention, pointed at the record the call has now
/// (`None` when that is the record it already names, or the call has none with an id).
fn retarget_log(
    store: &Store,
    entry: &enlace_store::OutboxEntry,
) -> Result<Option<String>, enlace_store::StoreError> {
    let Some(call) = entry.call_id.as_ref() else {
        return Ok(None);
    };
    let Ok(Payload::LogCall {
        call: facts,
        record: RecordTarget::Known(logged_on),
        subject,
        comment,
    }) = Payload::from_json(&entry.payload)
    else {
        return Ok(None);
    };
    let current = store
        .call_log(call)?
        .and_then(|log| log.record)
        .and_then(|r| {
            Some(RecordRef {
                crm: r.crm,
                kind: r.kind,
                id: r.id?,
            })
        });
    Ok(current
        .filter(|now| now.crm == logged_on.crm && *now != logged_on)
        .map(|record| {
            Payload::LogCall {
                call: facts,
                record: RecordTarget::Known(record),
                subject,
                comment,
            }
            .to_json()
        }))
}

/// The payload of a chat's log refused because its record was deleted, pointed at the next
/// cached record of the customer's number (of the entry's CRM, other than the deleted one), or
/// at none. `None` for anything else.
fn retarget_chat(
    store: &Store,
    entry: &enlace_store::OutboxEntry,
    country: enlace_core::Country,
) -> Result<Option<String>, enlace_store::StoreError> {
    let deleted = entry
        .last_error
        .as_ref()
        .is_some_and(|e| e.code == ErrorCode::CrmRecordDeleted);
    let Ok(Payload::LogChat { mut chat }) = Payload::from_json(&entry.payload) else {
        return Ok(None);
    };
    let Some(gone) = chat.record.clone().filter(|_| deleted) else {
        return Ok(None);
    };
    chat.record = store
        .contacts_for_caller(&chat.customer, country)?
        .into_iter()
        .map(|c| c.contact.reference())
        .find(|r| r.crm == entry.crm && *r != gone);
    Ok(Some(Payload::LogChat { chat }.to_json()))
}

fn validate_new_contact(mut c: NewContact) -> Result<NewContact, AppError> {
    fn clean(v: Option<String>) -> Option<String> {
        v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    }
    c.last_name = c.last_name.trim().to_owned();
    c.first_name = clean(c.first_name);
    c.email = clean(c.email);
    c.phone = clean(c.phone);
    c.mobile = clean(c.mobile);
    c.company = clean(c.company);
    let invalid = |field: &'static str, why: &str| {
        Err(AppError::Crm(
            why.to_owned(),
            ErrorCode::CrmInvalidField,
            Some(field),
        ))
    };
    if c.last_name.is_empty() {
        return invalid("last_name", "the last name is required");
    }
    if c.kind == ContactKind::Lead && c.company.is_none() {
        return invalid("company", "a lead needs a company");
    }
    if let Some(email) = &c.email {
        let ok = email.len() <= 80
            && email.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !email.chars().any(char::is_whitespace)
            });
        if !ok {
            return invalid("email", "the e-mail address is not valid");
        }
    }
    for (field, value) in [("phone", &c.phone), ("mobile", &c.mobile)] {
        if let Some(v) = value {
            let digits = v.chars().filter(char::is_ascii_digit).count();
            let allowed = v
                .chars()
                .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch));
            if !allowed || digits < 2 || v.len() > 40 {
                return invalid(field, "the number is not valid");
            }
        }
    }
    for (field, value, max) in [
        ("first_name", c.first_name.as_deref(), 40),
        ("last_name", Some(c.last_name.as_str()), 80),
        ("company", c.company.as_deref(), 255),
    ] {
        if value.is_some_and(|v| v.chars().count() > max || v.chars().any(char::is_control)) {
            return invalid(field, "too long or has control characters");
        }
    }
    Ok(c)
}

fn contact_display_name(c: &NewContact) -> String {
    match c.first_name.as_deref() {
        Some(first) => format!("{first} {}", c.last_name),
        None => c.last_name.clone(),
    }
}

impl From<CrmError> for AppError {
    fn from(e: CrmError) -> Self {
        let field = e.field().and_then(form_field);
        AppError::Crm(e.to_string(), e.code(), field)
    }
}

impl From<SecretsError> for AppError {
    fn from(e: SecretsError) -> Self {
        AppError::Crm(e.to_string(), e.code(), None)
    }
}

/// The contact-form field (snake_case, as the UI names them) of a CRM field error.
fn form_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "first_name" | "firstName" => "first_name",
        "last_name" | "lastName" => "last_name",
        "email" => "email",
        "phone" => "phone",
        "mobile" => "mobile",
        "company" => "company",
        "subject" => "subject",
        "comment" => "comment",
        _ => return None,
    })
}

pub(crate) fn store_contacts(store: &Store, contacts: &[Contact], country: enlace_core::Country) {
    if let Err(e) = store.upsert_contacts(contacts, country) {
        tracing::warn!(code = %e.code(), "could not cache CRM contacts");
    }
}
