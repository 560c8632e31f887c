//! Arbitrary input never panics the parsers of untrusted bytes.

use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_webhook_parser(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = enlace_whatsapp::fuzzing::webhook(&data);
        let _ = enlace_whatsapp::fuzzing::reply(0, &data);
        let _ = enlace_whatsapp::fuzzing::reply(1, &data);
        let _ = enlace_whatsapp::fuzzing::reply(2, &data);
    }

    #[test]
    fn arbitrary_json_never_panics_the_webhook_parser(value in json_value()) {
        let body = serde_json::to_vec(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": value.clone(), "contacts": value.clone(),
                "messages": [value.clone(), {"id": "w", "from": "1", "timestamp": "1", "type": "text", "text": value.clone()}],
                "statuses": [value.clone()], "errors": value.clone()
            }}]}]
        })).expect("json");
        let _ = enlace_whatsapp::fuzzing::webhook(&body);
    }

    #[test]
    fn any_signature_header_is_classified(header in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let secret = enlace_whatsapp::AppSecret::new("s");
        let check = enlace_whatsapp::verify_signature(&secret, Some(&header), &body);
        prop_assert!(!check.is_valid() || header.trim().len() == 71);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "[a-z_]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("from".to_owned()),
                    Just("type".to_owned()),
                    Just("timestamp".to_owned()),
                    Just("status".to_owned()),
                    Just("body".to_owned()),
                    Just("latitude".to_owned()),
                    Just("errors".to_owned()),
                    Just("code".to_owned()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
