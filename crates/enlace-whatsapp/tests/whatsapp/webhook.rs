//! Every inbound type and status, parsed from fixtures written field by field from api-facts C2.

use enlace_whatsapp::webhook::{OrderItem, ReferredProduct, SharedPhone};
use enlace_whatsapp::{
    parse_webhook, sign, verify_signature, AppSecret, Change, DeliveryStatus, ErrorClass,
    InboundMedia, InboundMessage, MessageKind, SignatureCheck, StatusUpdate, WebhookBatch,
};

const SHA: &str = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
const WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn batch(name: &str) -> WebhookBatch {
    parse_webhook(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The one message of a fixture, with the envelope checked.
fn only_message(name: &str) -> InboundMessage {
    let batch = batch(name);
    assert_eq!(batch.object.as_deref(), Some("whatsapp_business_account"));
    assert_eq!(batch.entries.len(), 1);
    assert_eq!(batch.entries[0].waba_id.as_deref(), Some("102290129340398"));
    let mut messages: Vec<_> = batch.messages().collect();
    assert_eq!(messages.len(), 1, "{name}");
    let (value, message) = messages.remove(0);
    assert_eq!(value.phone_number_id.as_deref(), Some("106540352242922"));
    assert_eq!(value.display_phone_number.as_deref(), Some("15550783881"));
    let message = message
        .clone()
        .unwrap_or_else(|m| panic!("{name}: {}", m.error));
    assert_eq!(message.from, "16505551234");
    assert_eq!(message.timestamp, 1749416383);
    assert!(message.raw.is_object());
    message
}

fn media(id: &str, mime: &str, caption: Option<&str>) -> InboundMedia {
    InboundMedia {
        id: id.into(),
        mime_type: Some(mime.into()),
        sha256: Some(SHA.into()),
        caption: caption.map(Into::into),
    }
}

#[test]
fn text() {
    let m = only_message("text");
    assert_eq!(m.wamid, WAMID);
    assert_eq!(
        m.kind,
        MessageKind::Text {
            body: "Does it come in another color?".into()
        }
    );
    assert_eq!(m.context, None);
    let batch = batch("text");
    let value = batch.messages_values().next().expect("value");
    assert_eq!(value.contact_name("16505551234"), Some("Sheena Nelson"));
    assert_eq!(value.contact_name("1"), None);
}

#[test]
fn image_video_document_sticker() {
    assert_eq!(
        only_message("image").kind,
        MessageKind::Image(media("1003383421387256", "image/jpeg", Some("optional")))
    );
    assert_eq!(
        only_message("video").kind,
        MessageKind::Video(media("1003383421387258", "video/mp4", Some("the box")))
    );
    let doc = only_message("document");
    assert_eq!(
        doc.kind,
        MessageKind::Document {
            media: media("1003383421387259", "application/pdf", Some("optional")),
            filename: Some("invoice.pdf".into()),
        }
    );
    assert_eq!(
        doc.kind.media().map(|m| m.id.as_str()),
        Some("1003383421387259")
    );
    assert_eq!(
        only_message("sticker").kind,
        MessageKind::Sticker {
            media: media("1003383421387260", "image/webp", None),
            animated: true,
        }
    );
}

#[test]
fn audio_voice_note_or_file() {
    assert_eq!(
        only_message("audio_voice").kind,
        MessageKind::Audio {
            media: media("1003383421387256", "audio/ogg; codecs=opus", None),
            voice: true,
        }
    );
    assert_eq!(
        only_message("audio_file").kind,
        MessageKind::Audio {
            media: media("1003383421387257", "audio/mpeg", None),
            voice: false,
        }
    );
}

#[test]
fn location_pin_and_named_place() {
    assert_eq!(
        only_message("location_pin").kind,
        MessageKind::Location {
            latitude: 37.4847,
            longitude: -122.1472,
            name: None,
            address: None,
            url: None,
        }
    );
    assert_eq!(
        only_message("location_place").kind,
        MessageKind::Location {
            latitude: 37.4847,
            longitude: -122.1472,
            name: Some("Philz Coffee".into()),
            address: Some("101 Forest Ave, Palo Alto".into()),
            url: Some("https://philzcoffee.com".into()),
        }
    );
}

#[test]
fn contacts() {
    let MessageKind::Contacts(cards) = only_message("contacts").kind else {
        panic!("contacts")
    };
    assert_eq!(cards.len(), 1);
    let card = &cards[0];
    assert_eq!(card.formatted_name.as_deref(), Some("John Smith"));
    assert_eq!(card.company.as_deref(), Some("Acme"));
    assert_eq!(card.emails, vec!["jsmith@example.com".to_owned()]);
    assert_eq!(
        card.phones,
        vec![
            SharedPhone {
                phone: Some("+1 (650) 555-1234".into()),
                wa_id: Some("16505551234".into()),
                phone_type: Some("CELL".into()),
            },
            SharedPhone {
                phone: Some("+1 (650) 555-0000".into()),
                wa_id: None,
                phone_type: Some("WORK".into()),
            },
        ]
    );
    assert_eq!(card.raw["birthday"], "2012-08-18");
}

#[test]
fn interactive_replies() {
    let button = only_message("button_reply");
    assert_eq!(
        button.kind,
        MessageKind::ButtonReply {
            id: "btn_yes".into(),
            title: "Yes".into()
        }
    );
    let context = button.context.expect("context");
    assert_eq!(context.quoted_id.as_deref(), Some("wamid.BUTTONS"));
    assert_eq!(context.quoted_from.as_deref(), Some("15550783881"));
    assert_eq!(
        only_message("list_reply").kind,
        MessageKind::ListReply {
            id: "row1".into(),
            title: "Tuesday".into(),
            description: Some("10:00 to 12:00".into()),
        }
    );
    let flow = only_message("nfm_reply");
    let MessageKind::FlowReply {
        name,
        body,
        response_json,
    } = &flow.kind
    else {
        panic!("flow reply")
    };
    assert_eq!(name.as_deref(), Some("flow"));
    assert_eq!(body.as_deref(), Some("Sent"));
    let response: serde_json::Value = serde_json::from_str(response_json).expect("json");
    assert_eq!(response["rating"], "5");
    assert_eq!(flow.kind.type_name(), "nfm_reply");
}

#[test]
fn template_quick_reply_button() {
    let m = only_message("template_button");
    assert_eq!(
        m.kind,
        MessageKind::TemplateButton {
            text: "Stop promotions".into(),
            payload: Some("STOP".into()),
        }
    );
    assert_eq!(
        m.context.and_then(|c| c.quoted_id).as_deref(),
        Some("wamid.TEMPLATE")
    );
}

#[test]
fn reactions_attach_to_their_message_and_an_empty_emoji_removes() {
    assert_eq!(
        only_message("reaction").kind,
        MessageKind::Reaction {
            message_id: "wamid.OURS".into(),
            emoji: Some("👍".into()),
        }
    );
    assert_eq!(
        only_message("reaction_removed").kind,
        MessageKind::Reaction {
            message_id: "wamid.OURS".into(),
            emoji: None,
        }
    );
}

#[test]
fn order() {
    assert_eq!(
        only_message("order").kind,
        MessageKind::Order {
            catalog_id: Some("1234567890".into()),
            text: Some("Please hurry".into()),
            items: vec![
                OrderItem {
                    product_retailer_id: Some("SKU-1".into()),
                    quantity: Some(2),
                    item_price: Some(10.5),
                    currency: Some("USD".into()),
                },
                OrderItem {
                    product_retailer_id: Some("SKU-2".into()),
                    quantity: Some(1),
                    item_price: Some(3.0),
                    currency: Some("USD".into()),
                },
            ],
        }
    );
}

#[test]
fn system_number_changed() {
    assert_eq!(
        only_message("system").kind,
        MessageKind::System {
            system_type: Some("user_changed_number".into()),
            body: Some("Sheena changed from 16505551234 to 16505550000".into()),
            new_wa_id: Some("16505550000".into()),
        }
    );
}

#[test]
fn unsupported_keeps_its_error() {
    let m = only_message("unsupported");
    assert_eq!(m.kind, MessageKind::Unsupported);
    assert_eq!(m.errors.len(), 1);
    assert_eq!(m.errors[0].code, 131051);
    assert_eq!(m.errors[0].title, "Message type unknown");
    assert_eq!(
        m.errors[0].details.as_deref(),
        Some("Message type is currently not supported.")
    );
}

#[test]
fn unknown_types_are_kept_not_rejected() {
    let m = only_message("unknown_type");
    assert_eq!(m.kind.type_name(), "hologram");
    let MessageKind::Unknown { type_name, raw } = &m.kind else {
        panic!("unknown")
    };
    assert_eq!(type_name, "hologram");
    assert_eq!(raw["depth"], 3);
    assert_eq!(m.from_user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(m.raw["hologram"]["id"], "h1");
}

#[test]
fn replies_keep_the_quoted_message_and_forwarded_flags() {
    let batch = batch("reply_forwarded");
    let messages: Vec<InboundMessage> = batch
        .messages()
        .map(|(_, m)| m.clone().expect("message"))
        .collect();
    assert_eq!(messages.len(), 3);
    let reply = messages[0].context.clone().expect("context");
    assert_eq!(reply.quoted_id.as_deref(), Some("wamid.QUOTED"));
    assert!(!reply.forwarded);
    let forwarded = messages[1].context.clone().expect("context");
    assert!(forwarded.forwarded);
    assert!(forwarded.frequently_forwarded);
    assert_eq!(forwarded.quoted_id, None);
    let product = messages[2].context.clone().expect("context");
    assert_eq!(
        product.referred_product,
        Some(ReferredProduct {
            catalog_id: Some("CAT1".into()),
            product_retailer_id: Some("SKU-1".into()),
        })
    );
}

fn only_status(name: &str) -> StatusUpdate {
    let batch = batch(name);
    let statuses: Vec<_> = batch.statuses().collect();
    assert_eq!(statuses.len(), 1);
    assert_eq!(batch.messages().count(), 0);
    statuses[0].1.clone().expect("status")
}

#[test]
fn delivered_status_keeps_conversation_and_pricing() {
    let s = only_status("status_delivered");
    assert_eq!(s.wamid, "wamid.OURS");
    assert_eq!(s.status, DeliveryStatus::Delivered);
    assert_eq!(s.recipient_id.as_deref(), Some("16505551234"));
    assert_eq!(s.timestamp, 1750263773);
    assert_eq!(
        s.conversation.as_ref().map(|c| c["origin"]["type"].clone()),
        Some("service".into())
    );
    assert_eq!(
        s.pricing.as_ref().map(|p| p["type"].clone()),
        Some("free_customer_service".into())
    );
    assert!(s.errors.is_empty());
}

#[test]
fn failed_status_keeps_code_title_and_details() {
    let s = only_status("status_failed");
    assert_eq!(s.status, DeliveryStatus::Failed);
    assert_eq!(s.errors.len(), 1);
    let e = &s.errors[0];
    assert_eq!(e.code, 131047);
    assert_eq!(e.title, "Re-engagement message");
    assert!(e
        .details
        .as_deref()
        .is_some_and(|d| d.starts_with("Message failed to send")));
    assert_eq!(e.class(), ErrorClass::WindowClosed);
    assert_eq!(e.class().code(), "whatsapp_window_closed");
}

#[test]
fn a_batch_yields_every_entry_change_message_and_status() {
    let batch = batch("batch");
    assert_eq!(batch.entries.len(), 2);
    assert!(matches!(
        &batch.entries[1].changes[0],
        Change::Other { field, value } if field == "message_template_status_update"
            && value["event"] == "APPROVED"
    ));

    let messages: Vec<_> = batch.messages().collect();
    assert_eq!(messages.len(), 6);
    let ok: Vec<&str> = messages
        .iter()
        .filter_map(|(_, m)| m.as_ref().ok().map(|m| m.wamid.as_str()))
        .collect();
    assert_eq!(ok, ["wamid.M1", "wamid.M2", "wamid.M4", "wamid.M5"]);
    // A message without an id and an image without a media id are kept, raw, with the reason;
    // the rest of the batch still parses.
    let bad: Vec<_> = messages
        .iter()
        .filter_map(|(_, m)| m.as_ref().err())
        .collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].id, None);
    assert_eq!(bad[0].error, "no id");
    assert_eq!(bad[0].raw["text"]["body"], "no id");
    assert_eq!(bad[1].id.as_deref(), Some("wamid.M3"));
    assert_eq!(bad[1].error, "media without id");
    // A number timestamp, and an unknown field inside text, are fine.
    let m2 = messages[1].1.as_ref().expect("m2");
    assert_eq!(m2.timestamp, 1749416390);
    assert_eq!(messages[1].0.contact_name("5215512345678"), Some("Ana"));
    // The second business number of the batch.
    let (value, m5) = &messages[5];
    assert_eq!(value.phone_number_id.as_deref(), Some("200000000000000"));
    assert_eq!(value.contact_name("5491123456789"), Some("Luis"));
    assert!(m5.is_ok());
    let first = batch.messages_values().next().expect("value");
    assert_eq!(first.contacts[0].user_id.as_deref(), Some("US.1"));

    // Statuses out of order: keep the highest.
    let statuses: Vec<_> = batch.statuses().collect();
    assert_eq!(statuses.len(), 6);
    let mut best: std::collections::HashMap<String, DeliveryStatus> = Default::default();
    for (_, s) in &statuses {
        let Ok(s) = s else { continue };
        if s.status.supersedes(best.get(&s.wamid)) {
            best.insert(s.wamid.clone(), s.status.clone());
        }
    }
    assert_eq!(best["wamid.OUT1"], DeliveryStatus::Read);
    assert_eq!(best["wamid.OUT2"], DeliveryStatus::Played);
    assert_eq!(
        best["wamid.OUT3"],
        DeliveryStatus::Unknown("deleted".into())
    );
    assert_eq!(statuses.iter().filter(|(_, s)| s.is_err()).count(), 1);
    // value.errors
    assert_eq!(statuses[0].0.errors.len(), 1);
    assert_eq!(statuses[0].0.errors[0].class(), ErrorClass::Unavailable);
}

#[test]
fn fixtures_verify_as_signed_raw_bytes() {
    let secret = AppSecret::new("0123456789abcdef0123456789abcdef");
    for name in ["text", "batch", "status_failed"] {
        let raw = fixture(name);
        let header = sign(&secret, &raw);
        assert_eq!(
            verify_signature(&secret, Some(&header), &raw),
            SignatureCheck::Valid
        );
        let value: serde_json::Value = serde_json::from_slice(&raw).expect("json");
        let compact = serde_json::to_vec(&value).expect("json");
        assert_eq!(
            verify_signature(&secret, Some(&header), &compact),
            SignatureCheck::Mismatch,
            "{name}: re-serialized"
        );
    }
}

#[test]
fn the_fuzz_entry_point_reads_every_fixture() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(enlace_whatsapp::fuzzing::webhook(&bytes), "{path:?}");
        count += 1;
    }
    assert!(count >= 20);
}
