//! The connector against `enlace-sandbox`'s WhatsApp Cloud API double: its signed webhooks
//! verify and parse into every inbound type, and the client's sends, uploads, downloads,
//! templates and errors are what the double (built from the same api-facts) takes and answers.

use enlace_sandbox::{Inbound, InboundMedia, InboundMessage as DoubleMessage, WhatsAppDouble};
use enlace_whatsapp::{
    parse_webhook, verify_signature, AccessToken, AppSecret, DeliveryStatus, GraphClient,
    GraphConfig, MediaKind, MessageKind, OutboundMessage, SignatureCheck, Template,
    TemplateComponent, TemplateParameter, WebhookBatch,
};
use serde_json::json;

fn client(double: &WhatsAppDouble) -> GraphClient {
    GraphClient::new(
        GraphConfig::new(AccessToken::new(double.access_token())).with_base_url(double.graph_url()),
    )
    .expect("client")
}

/// The last webhook the double recorded, signature checked, parsed.
fn last_batch(double: &WhatsAppDouble) -> WebhookBatch {
    let delivery = double.webhooks().pop().expect("a webhook");
    let secret = AppSecret::new(double.app_secret());
    assert_eq!(
        verify_signature(&secret, Some(&delivery.signature), delivery.body.as_bytes()),
        SignatureCheck::Valid
    );
    parse_webhook(delivery.body.as_bytes()).expect("batch")
}

fn last_kind(double: &WhatsAppDouble, wamid: &str) -> MessageKind {
    let batch = last_batch(double);
    let (value, message) = batch.messages().next().expect("message");
    assert_eq!(
        value.phone_number_id.as_deref(),
        Some(double.phone_number_id().as_str())
    );
    let message = message.clone().expect("parsed");
    assert_eq!(message.wamid, wamid);
    message.kind
}

#[test]
fn every_inbound_type_of_the_double_parses() {
    let double = WhatsAppDouble::start().expect("double");
    let from = "5215512345678";
    let cases: Vec<(Inbound, &str)> = vec![
        (Inbound::Text("Hola".into()), "text"),
        (Inbound::Media(InboundMedia::image(Some("foto"))), "image"),
        (Inbound::Media(InboundMedia::voice_note()), "audio"),
        (Inbound::Media(InboundMedia::audio_file()), "audio"),
        (Inbound::Media(InboundMedia::video(None)), "video"),
        (
            Inbound::Media(InboundMedia::document("factura.pdf", Some("la factura"))),
            "document",
        ),
        (Inbound::Media(InboundMedia::sticker(true)), "sticker"),
        (
            Inbound::Location {
                latitude: 19.4326,
                longitude: -99.1332,
                name: None,
                address: None,
                url: None,
            },
            "location",
        ),
        (
            Inbound::Contacts(json!([{"name": {"formatted_name": "Ana"},
                "phones": [{"phone": "+52 55 1234 5678", "wa_id": "5215512345678", "type": "CELL"}]}])),
            "contacts",
        ),
        (
            Inbound::TemplateButton {
                text: "Stop".into(),
                payload: "STOP".into(),
            },
            "button",
        ),
        (
            Inbound::Reaction {
                message_id: "wamid.X".into(),
                emoji: None,
            },
            "reaction",
        ),
        (
            Inbound::Order {
                catalog_id: "C1".into(),
                text: None,
                product_items: json!([{"product_retailer_id": "SKU", "quantity": 1, "item_price": 9.5, "currency": "MXN"}]),
            },
            "order",
        ),
        (
            Inbound::NumberChanged {
                new_wa_id: "5215500000000".into(),
            },
            "system",
        ),
        (Inbound::Unsupported, "unsupported"),
    ];
    for (content, type_name) in cases {
        let wamid = double.customer_sends(from, content.clone());
        let kind = last_kind(&double, &wamid);
        assert_eq!(kind.type_name(), type_name, "{content:?}");
        match (&content, &kind) {
            (Inbound::Media(m), MessageKind::Audio { voice, .. }) => assert_eq!(*voice, m.voice),
            (Inbound::Reaction { .. }, MessageKind::Reaction { emoji, .. }) => {
                assert_eq!(*emoji, None)
            }
            (Inbound::NumberChanged { new_wa_id }, MessageKind::System { new_wa_id: n, .. }) => {
                assert_eq!(n.as_deref(), Some(new_wa_id.as_str()))
            }
            _ => {}
        }
    }
    let quoted = double.customer_sends(from, Inbound::Text("first".into()));
    let reply = double.customer_sends_message(
        DoubleMessage::new(
            from,
            Inbound::ButtonReply {
                id: "yes".into(),
                title: "Sí".into(),
            },
        )
        .reply_to(&quoted),
    );
    let batch = last_batch(&double);
    let message = batch
        .messages()
        .next()
        .expect("message")
        .1
        .clone()
        .expect("parsed");
    assert_eq!(message.wamid, reply);
    assert_eq!(
        message.context.and_then(|c| c.quoted_id).as_deref(),
        Some(quoted.as_str())
    );
}

#[tokio::test]
async fn sends_of_every_type_are_accepted_and_statuses_parse() {
    let double = WhatsAppDouble::start().expect("double");
    let client = client(&double);
    let pnid = double.phone_number_id();
    let customer = "5215512345678";
    let inbound = double.customer_sends(customer, Inbound::Text("Hola".into()));

    let media_id = client
        .upload_media(
            &pnid,
            MediaKind::Document,
            "application/pdf",
            "q.pdf",
            b"%PDF-1.7 x".to_vec(),
        )
        .await
        .expect("uploaded");
    let messages = vec![
        OutboundMessage::text(&format!("+{customer}"), "Buenos días")
            .and_then(|m| m.in_reply_to(&inbound))
            .expect("text"),
        OutboundMessage::media(
            customer,
            MediaKind::Document,
            &media_id,
            Some("cotización"),
            Some("q.pdf"),
            false,
        )
        .expect("document"),
        OutboundMessage::location(
            customer,
            19.4326,
            -99.1332,
            Some("Oficina"),
            Some("Reforma 1"),
        )
        .expect("location"),
        OutboundMessage::reaction(customer, &inbound, Some("👍")).expect("reaction"),
        OutboundMessage::template(
            customer,
            Template {
                name: "hello_world".into(),
                language: "en_US".into(),
                components: vec![],
            },
        )
        .expect("template"),
    ];
    for m in &messages {
        let receipt = client
            .send_message(&pnid, m)
            .await
            .unwrap_or_else(|e| panic!("{}: {} {e}", m.type_name(), e.code()));
        assert_eq!(receipt.wa_id.as_deref(), Some(customer));
    }
    let sent = double.sent_messages();
    assert_eq!(sent.len(), messages.len());
    for (s, m) in sent.iter().zip(&messages) {
        assert_eq!(s.body, m.to_json());
    }
    client.mark_read(&pnid, &inbound, true).await.expect("read");
    assert!(double
        .read_marks()
        .iter()
        .any(|r| r.message_id == inbound && r.typing_indicator));

    // The double's status webhooks for our sends parse, and ranking keeps the highest.
    let first = &sent[0].wamid;
    assert!(double.post_status(first, "read"));
    assert!(double.post_status(first, "delivered"));
    let mut best: Option<DeliveryStatus> = None;
    for delivery in double.webhooks() {
        let batch = parse_webhook(delivery.body.as_bytes()).expect("batch");
        for (_, status) in batch.statuses() {
            let status = status.as_ref().expect("status");
            if &status.wamid == first && status.status.supersedes(best.as_ref()) {
                best = Some(status.status.clone());
            }
        }
    }
    assert_eq!(best, Some(DeliveryStatus::Read));
}

#[tokio::test]
async fn inbound_media_downloads_and_matches_the_webhook_hash() {
    let double = WhatsAppDouble::start().expect("double");
    let client = client(&double);
    let wamid = double.customer_sends(
        "5215512345678",
        Inbound::Media(InboundMedia::document("factura.pdf", None)),
    );
    let MessageKind::Document { media, filename } = last_kind(&double, &wamid) else {
        panic!("document")
    };
    assert_eq!(filename.as_deref(), Some("factura.pdf"));
    let file = client
        .download_media(&media.id, media.sha256.as_deref())
        .await
        .expect("downloaded");
    assert_eq!(Some(file.bytes), double.media_bytes(&media.id));
}

#[tokio::test]
async fn the_double_s_errors_classify() {
    let double = WhatsAppDouble::start().expect("double");
    let client = client(&double);
    let pnid = double.phone_number_id();
    let m = OutboundMessage::text("5215512345678", "hola").expect("text");
    for (code, stable) in [
        (130429, "whatsapp_rate_limited"),
        (131056, "whatsapp_rate_limited"),
        (190, "whatsapp_token_expired"),
        (131047, "whatsapp_window_closed"),
        (132001, "whatsapp_template"),
    ] {
        double.reject_next_send(code);
        let err = client.send_message(&pnid, &m).await.expect_err("rejected");
        assert_eq!(err.code(), stable, "{code}");
    }
    let templates = client
        .list_templates(&double.waba_id())
        .await
        .expect("templates");
    assert!(templates
        .iter()
        .any(|t| t.name == "hello_world" && t.is_approved()));
    assert!(templates.iter().any(|t| !t.is_approved()));
    // A template with body parameters is accepted in our shape.
    let catalog = enlace_whatsapp::TemplateCatalog::new(templates);
    let with_parameters = catalog
        .approved()
        .find(|t| t.body_parameter_count() > 0)
        .cloned();
    if let Some(t) = with_parameters {
        let params = (0..t.body_parameter_count())
            .map(|i| TemplateParameter::Text(format!("p{i}")))
            .collect();
        let send = OutboundMessage::template(
            "5215512345678",
            Template {
                name: t.name.clone(),
                language: t.language.clone(),
                components: vec![TemplateComponent::Body(params)],
            },
        )
        .expect("template");
        client
            .send_message(&pnid, &send)
            .await
            .expect("template sent");
    }
}
