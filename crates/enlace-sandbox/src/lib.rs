//! `enlace-sandbox` owns faithful local doubles of the services Enlace cannot run in tests:
//! Salesforce ([`SalesforceDouble`]) and Zoho CRM ([`ZohoDouble`]). Each serves HTTP/1.1 on
//! `127.0.0.1` (port 0 by default) from a small hand-written server ([`http`](crate) module,
//! shared by both), keeps its state behind a mutex, records every request
//! ([`RecordedRequest`]) so tests can assert exactly what a client sent, and can misbehave on
//! demand ([`Fault`]: a reply lost after the write was committed, a dropped connection, 5xx
//! bursts, slow replies, an HTML proxy page, truncated JSON, a redirect to another host).
//! Dropping a double stops its listener and joins the thread. Nothing is ever sent beyond
//! loopback: the doubles only answer.
//!
//! [`AmiDouble`] is an Asterisk Manager Interface server on TCP that answers byte for byte like
//! `crates/enlace-ami/tests/data/asterisk-ami-transcript.txt` (banner, login, originate, queue
//! actions, lists), runs scripted calls ([`AmiScenario`]) and misbehaves on demand ([`AmiFault`]).
//!
//! The reply shapes follow `../shared/reference/api-facts.md` §A (Salesforce) and §B (Zoho),
//! errors included. The binary `enlace-sandbox` starts both with demo data
//! (`cargo run -p enlace-sandbox -- --salesforce-port P --zoho-port Q`).
//!
//! [`WhatsAppDouble`] is the WhatsApp Cloud API (api-facts §C, C7): Graph sends, media and
//! templates over HTTP, and Meta's side of the webhook — signed status and customer-message
//! POSTs to the app, customers simulated with their 24-hour windows, errors on demand.
//!
//! [`TileDouble`] is a map tile server (`/{z}/{x}/{y}.png`, generated PNGs, requests counted)
//! for the map of Enviar ubicación.
//!
//! To extend: add an endpoint by adding a match arm in the double's `route`/`api` function and a
//! test in `tests/doubles.rs`; add a fault by adding a [`Fault`] variant and its handling in
//! `common::with_fault`; keep every reply byte-for-byte what the real service sends, and mark
//! guesses in the doc comment.

pub mod ami;
mod common;
pub mod demo;
mod http;
mod salesforce;
mod sf_search;
pub mod tiles;
mod whatsapp;
mod zoho;

pub use ami::{AmiDouble, AmiFault, AmiScenario, OriginateScript};
pub use common::{Fault, RecordedRequest};
pub use salesforce::{
    SalesforceDouble, SALESFORCE_CODE_LIFETIME, SALESFORCE_DAILY_LIMIT, SALESFORCE_DEFAULT_USER,
    SALESFORCE_VERSIONS,
};
pub use tiles::{TileDouble, TileReply};
pub use whatsapp::{
    opus_ogg_head, BatchLayout, DemoCustomers, Inbound, InboundMedia, InboundMessage, MediaKind,
    ReadMark, SentMessage, StatusPlan, Template, UploadedFile, WebhookDelivery, WhatsAppConfig,
    WhatsAppDouble, WindowRule, DEMO_CUSTOMERS, WHATSAPP_MEDIA_URL_LIFETIME, WHATSAPP_WINDOW,
};
pub use zoho::{ZohoDouble, ZOHO_CODE_LIFETIME, ZOHO_DEFAULT_USER};
