//! The crate's one integration binary: webhook fixtures (api-facts C2), the client against a
//! local HTTP server speaking the Graph API's wire format and against the sandbox's WhatsApp
//! double, and property tests.

mod client;
mod properties;
mod sandbox;
mod webhook;
