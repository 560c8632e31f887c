//! Fuzz what the hub reads from WhatsApp's Cloud API (`enlace-whatsapp`): webhook POST bodies
//! (messages, statuses, errors of every type) and the Graph API's replies (error bodies, send
//! replies, template pages). Webhooks come from the internet; their signature is checked first,
//! but the parser must hold on its own.
//!
//! Input: byte 0 picks a reply kind (0 error, 1 send, 2 template page) or, for any other value,
//! a webhook body. Properties: no panic.
#![no_main]

use enlace_whatsapp::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick {
        0..=2 => {
            let _ = fuzzing::reply(pick, body);
        }
        _ => {
            let _ = fuzzing::webhook(body);
        }
    }
});
