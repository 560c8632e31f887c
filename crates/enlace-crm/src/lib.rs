//! `enlace-crm` owns everything Enlace says to a CRM: signing in (browser OAuth through a
//! loopback redirect, Salesforce's legacy username-password flow), keeping tokens fresh,
//! searching Contacts and Leads, creating them, and logging calls and attended WhatsApp
//! conversations (`chat.rs`) as CRM activities with idempotent retries. Blocking HTTP
//! (`reqwest::blocking`, rustls) with fixed timeouts, no automatic redirects and a body cap;
//! every failure is a [`CrmError`] with a stable code.
//!
//! Layout: [`CrmLink`] (`link.rs`) is the facade — one closed `match` on the account per
//! operation (style rule 10) into `salesforce.rs` or `zoho.rs`, which hold each API's wire
//! format. `oauth.rs` has PKCE and the loopback listener, `http.rs` the client and reply
//! checks, `input.rs` the provider-neutral reading of what the agent typed, `dates.rs` the
//! UTC formats.
//!
//! Invariants: tokens are [`enlace_secrets::Sensitive`] and never reach an error, a log line
//! or a `Debug`; the non-secret [`CrmAccount`] is what the database stores; a rate-limited
//! call is never retried here (the outbox backs off with [`CrmError::retry_after`]).
//!
//! To extend: a new operation is a method on [`CrmLink`] plus one function per provider; a
//! third CRM is a new `CrmAccount` variant and module (the compiler lists every `match`).
//! This crate never depends on rusqlite, keyring or tauri.

mod account;
mod chat;
mod dates;
mod error;
mod http;
mod input;
mod link;
mod oauth;
mod salesforce;
mod zoho;

pub use account::{
    CrmAccount, CrmConfig, SalesforceAccount, SalesforceConfig, Tokens, ZohoAccount, ZohoConfig,
};
pub use chat::{format_transcript, ChatActivity, TranscriptLine};
pub use error::{CrmError, DEFAULT_RETRY_AFTER};
pub use link::{CrmLink, WriteAttempt};
pub use oauth::{salesforce_password_sign_in, PendingSignIn};

/// Entry points for the cargo-fuzz targets in `fuzz/` (not an API): each provider's replies
/// read without the network.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::salesforce::fuzzing as salesforce;
    pub use crate::zoho::fuzzing as zoho;
}
