//! [`CrmLink`]: the facade. One closed `match` per operation sends it to the provider module;
//! the [`Session`] holds what both providers share (HTTP client, clock, current tokens, last
//! API usage).

use std::sync::{Arc, Mutex, PoisonError};

use enlace_core::{CallActivity, Clock, Contact, Country, Crm, NewContact, RecordRef, Timestamp};
use enlace_secrets::Sensitive;

use crate::account::{CrmAccount, CrmConfig, Tokens};
use crate::chat::ChatActivity;
use crate::error::CrmError;
use crate::http::Http;
use crate::input::{validate_new_contact, SearchKey};
use crate::{salesforce, zoho};

/// One CRM write across its attempts (an outbox entry).
#[derive(Debug, Clone, Copy)]
pub struct WriteAttempt<'a> {
    /// The write's idempotency key. It is stored with what the write creates (Salesforce
    /// Task: `CallObject`; everything else: a `[enlace:{key}]` line in `Description`) and is
    /// what a retry looks for.
    pub key: &'a str,
    /// When the write was queued: no attempt of it can have reached the CRM earlier.
    pub queued_at: Timestamp,
    /// An earlier attempt may have reached the CRM (a lost reply, a crash): look for the key
    /// first and return what it created instead of writing again.
    pub retrying: bool,
}

/// A linked account ready for API calls. Refreshes its access token itself (Salesforce: once
/// after `INVALID_SESSION_ID`; Zoho: a minute before expiry and once after `INVALID_TOKEN`)
/// and reports new tokens once through [`CrmLink::take_refreshed_tokens`].
///
/// Blocking; share it between threads behind an `Arc`. A rate-limited call is never retried
/// here: the error carries `retry_after` for the caller's back-off.
#[derive(Debug)]
pub struct CrmLink {
    account: CrmAccount,
    config: CrmConfig,
    session: Session,
}

impl CrmLink {
    pub fn new(
        account: CrmAccount,
        tokens: Tokens,
        config: CrmConfig,
        clock: Arc<dyn Clock>,
    ) -> CrmLink {
        CrmLink {
            account,
            config,
            session: Session {
                http: Http::new(),
                clock,
                tokens: Mutex::new(TokenState {
                    tokens,
                    refreshed: false,
                }),
                usage: Mutex::new(None),
            },
        }
    }

    pub fn account(&self) -> &CrmAccount {
        &self.account
    }

    /// The tokens after a refresh, once: the caller saves them to the keyring.
    pub fn take_refreshed_tokens(&self) -> Option<Tokens> {
        let mut state = self.session.lock_tokens();
        if state.refreshed {
            state.refreshed = false;
            Some(state.tokens.clone())
        } else {
            None
        }
    }

    /// Find Contacts and Leads by phone number (every equivalent form of it), e-mail, name or
    /// extension. At least 2 characters; very long input is cut.
    pub fn search(&self, query: &str, country: Country) -> Result<Vec<Contact>, CrmError> {
        let key = SearchKey::parse(query, country)?;
        match &self.account {
            CrmAccount::Salesforce(a) => {
                salesforce::Api::new(&self.session, a, &self.config.salesforce).search(&key)
            }
            CrmAccount::Zoho(a) => zoho::Api::new(&self.session, a, &self.config.zoho).search(&key),
        }
    }

    /// Create a Contact or Lead carrying the attempt's key. When `attempt.retrying`, first look
    /// for the record an earlier attempt created with that key (never by matching fields) and
    /// return it.
    pub fn create_contact(
        &self,
        new: &NewContact,
        attempt: &WriteAttempt<'_>,
    ) -> Result<Contact, CrmError> {
        validate_new_contact(self.account.crm(), new)?;
        match &self.account {
            CrmAccount::Salesforce(a) => {
                salesforce::Api::new(&self.session, a, &self.config.salesforce)
                    .create_contact(new, attempt)
            }
            CrmAccount::Zoho(a) => {
                zoho::Api::new(&self.session, a, &self.config.zoho).create_contact(new, attempt)
            }
        }
        .inspect(|_| {
            tracing::debug!(
                key = attempt.key,
                retrying = attempt.retrying,
                "CRM record created or found"
            );
        })
    }

    /// Save a finished call as a call activity on its record, carrying the attempt's key;
    /// returns the activity id. When `attempt.retrying`, an activity an earlier attempt
    /// created with that key is found and returned instead.
    pub fn log_call(
        &self,
        activity: &CallActivity,
        attempt: &WriteAttempt<'_>,
    ) -> Result<String, CrmError> {
        if activity.record.crm != self.account.crm() {
            return Err(CrmError::Internal {
                detail: format!(
                    "a {} record cannot be logged in {}",
                    activity.record.crm.as_str(),
                    self.account.crm().as_str()
                ),
            });
        }
        match &self.account {
            CrmAccount::Salesforce(a) => {
                salesforce::Api::new(&self.session, a, &self.config.salesforce)
                    .log_call(activity, attempt)
            }
            CrmAccount::Zoho(a) => {
                zoho::Api::new(&self.session, a, &self.config.zoho).log_call(activity, attempt)
            }
        }
    }

    /// Save an attended WhatsApp conversation with its transcript, carrying the attempt's key;
    /// returns the id of what was created (Salesforce Task; Zoho Note, or Call when the chat
    /// has no record). When `attempt.retrying`, what an earlier attempt created with that key
    /// is found and returned instead.
    pub fn log_chat(
        &self,
        chat: &ChatActivity,
        attempt: &WriteAttempt<'_>,
    ) -> Result<String, CrmError> {
        if let Some(record) = chat.record.as_ref().filter(|r| r.crm != self.account.crm()) {
            return Err(CrmError::Internal {
                detail: format!(
                    "a {} record cannot be logged in {}",
                    record.crm.as_str(),
                    self.account.crm().as_str()
                ),
            });
        }
        match &self.account {
            CrmAccount::Salesforce(a) => {
                salesforce::Api::new(&self.session, a, &self.config.salesforce)
                    .log_chat(chat, attempt)
            }
            CrmAccount::Zoho(a) => {
                zoho::Api::new(&self.session, a, &self.config.zoho).log_chat(chat, attempt)
            }
        }
    }

    /// Where the record opens in the CRM's web UI.
    pub fn record_url(&self, record: &RecordRef) -> String {
        match &self.account {
            CrmAccount::Salesforce(a) => salesforce::record_url(&a.instance_url, record),
            CrmAccount::Zoho(a) => zoho::record_url(&a.api_domain, record),
        }
    }

    /// Revoke the grant at the CRM (refresh token, else access token). A token the CRM no
    /// longer knows counts as revoked.
    pub fn revoke(&self) -> Result<(), CrmError> {
        let tokens = self.session.tokens();
        let token = tokens.refresh.unwrap_or(tokens.access);
        match &self.account {
            CrmAccount::Salesforce(a) => salesforce::revoke(&self.session.http, a, &token),
            CrmAccount::Zoho(a) => zoho::revoke(&self.session.http, a, &token),
        }
    }

    /// `(used, max)` daily API requests from the last Salesforce `Sforce-Limit-Info` header.
    pub fn api_usage(&self) -> Option<(u64, u64)> {
        *self
            .session
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// When the current access token expires, if the CRM said (Zoho).
    pub fn access_expires_at(&self) -> Option<Timestamp> {
        self.session.lock_tokens().tokens.access_expires_at
    }

    /// Which CRM this link talks to.
    pub fn crm(&self) -> Crm {
        self.account.crm()
    }
}

struct TokenState {
    tokens: Tokens,
    refreshed: bool,
}

/// What the provider modules share for one link.
pub(crate) struct Session {
    pub http: Http,
    pub clock: Arc<dyn Clock>,
    tokens: Mutex<TokenState>,
    usage: Mutex<Option<(u64, u64)>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    fn lock_tokens(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn tokens(&self) -> Tokens {
        self.lock_tokens().tokens.clone()
    }

    pub fn access(&self) -> Sensitive<String> {
        self.lock_tokens().tokens.access.clone()
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Replace the tokens with `refresh(current)` unless another thread already replaced the
    /// access token `stale` (then its result is used). Holds the lock during the refresh so
    /// concurrent calls refresh once.
    pub fn refresh_after(
        &self,
        stale: &str,
        refresh: impl FnOnce(&Tokens) -> Result<Tokens, CrmError>,
    ) -> Result<(), CrmError> {
        let mut state = self.lock_tokens();
        if state.tokens.access.expose() != stale {
            return Ok(());
        }
        let fresh = refresh(&state.tokens)?;
        fresh.check_fits_keyring()?;
        state.tokens = fresh;
        state.refreshed = true;
        Ok(())
    }

    pub fn set_usage(&self, usage: (u64, u64)) {
        *self.usage.lock().unwrap_or_else(PoisonError::into_inner) = Some(usage);
    }
}
