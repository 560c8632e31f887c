//! The WABA's message templates (`GET /{waba-id}/message_templates`): the only messages that
//! may open a conversation or reach a customer outside the 24-hour window.
//!
//! [`crate::GraphClient::list_templates`] reads every page; [`TemplateCatalog`] is the cached
//! list a caller keeps and replaces when asked to refresh.

use serde_json::Value;

/// One template of the WABA.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageTemplate {
    pub id: Option<String>,
    pub name: String,
    /// Language code, e.g. `es_MX`.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, …
    pub status: String,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: Option<String>,
    /// The text of the `BODY` component, with `{{1}}`-style placeholders.
    pub body_text: Option<String>,
    /// `components` as received (header, footer, buttons).
    pub components: Value,
}

impl MessageTemplate {
    pub fn is_approved(&self) -> bool {
        self.status.eq_ignore_ascii_case("APPROVED")
    }

    /// How many distinct `{{n}}` (or named `{{name}}`) placeholders the body has: the body
    /// parameters a send must carry.
    pub fn body_parameter_count(&self) -> usize {
        let Some(text) = &self.body_text else {
            return 0;
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = after[..end].trim();
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !seen.contains(&name)
            {
                seen.push(name);
            }
            rest = &after[end + 2..];
        }
        seen.len()
    }
}

/// One page of `message_templates`: the templates, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePage {
    pub templates: Vec<MessageTemplate>,
    /// `paging.cursors.after`, when `paging.next` says there is another page.
    pub next_cursor: Option<String>,
}

/// Reads one page; `None` when the body is not a template list. Items without a name or
/// language are skipped.
pub fn parse_template_page(body: &[u8]) -> Option<TemplatePage> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let data = value.get("data")?.as_array()?;
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let templates = data
        .iter()
        .filter_map(|t| {
            let components = t.get("components").cloned().unwrap_or(Value::Null);
            let body_text = components.as_array().and_then(|cs| {
                cs.iter()
                    .find(|c| {
                        c.get("type")
                            .and_then(Value::as_str)
                            .is_some_and(|ty| ty.eq_ignore_ascii_case("BODY"))
                    })
                    .and_then(|c| s(c, "text"))
            });
            Some(MessageTemplate {
                id: s(t, "id"),
                name: s(t, "name")?,
                language: s(t, "language")?,
                status: s(t, "status").unwrap_or_default(),
                category: s(t, "category"),
                body_text,
                components,
            })
        })
        .collect();
    let paging = value.get("paging");
    let has_next = paging
        .and_then(|p| p.get("next"))
        .is_some_and(Value::is_string);
    let next_cursor = paging
        .and_then(|p| p.get("cursors"))
        .and_then(|c| s(c, "after"))
        .filter(|c| has_next && !c.is_empty());
    Some(TemplatePage {
        templates,
        next_cursor,
    })
}

/// The templates of one WABA as last fetched. Keep one per WABA; replace it with a fresh
/// [`crate::GraphClient::list_templates`] when a refresh is asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateCatalog {
    pub templates: Vec<MessageTemplate>,
}

impl TemplateCatalog {
    pub fn new(templates: Vec<MessageTemplate>) -> TemplateCatalog {
        TemplateCatalog { templates }
    }

    /// The templates that can be sent now.
    pub fn approved(&self) -> impl Iterator<Item = &MessageTemplate> {
        self.templates.iter().filter(|t| t.is_approved())
    }

    /// The approved template `name` in `language`.
    pub fn find(&self, name: &str, language: &str) -> Option<&MessageTemplate> {
        self.approved()
            .find(|t| t.name == name && t.language == language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = br#"{"data":[
        {"name":"hello_world","language":"en_US","status":"APPROVED","category":"UTILITY","id":"1",
         "components":[{"type":"HEADER","format":"TEXT","text":"Hello"},
                       {"type":"BODY","text":"Hola {{1}}, tu pedido {{2}} esta listo. {{1}}"}]},
        {"name":"promo","language":"es_MX","status":"PAUSED","category":"MARKETING","id":"2","components":[]},
        {"language":"es_MX","status":"APPROVED"}
      ],
      "paging":{"cursors":{"before":"QVFI","after":"QVFIUm"},"next":"https://graph.facebook.com/v21.0/1/message_templates?after=QVFIUm"}}"#;

    #[test]
    fn a_page_is_read() {
        let page = parse_template_page(PAGE).expect("page");
        assert_eq!(page.templates.len(), 2);
        assert_eq!(page.next_cursor.as_deref(), Some("QVFIUm"));
        let hello = &page.templates[0];
        assert!(hello.is_approved());
        assert_eq!(hello.body_parameter_count(), 2);
        assert_eq!(hello.category.as_deref(), Some("UTILITY"));
        let catalog = TemplateCatalog::new(page.templates);
        assert_eq!(catalog.approved().count(), 1);
        assert!(catalog.find("hello_world", "en_US").is_some());
        assert!(catalog.find("promo", "es_MX").is_none(), "paused");
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let last =
            parse_template_page(br#"{"data":[],"paging":{"cursors":{"before":"A","after":"B"}}}"#)
                .expect("page");
        assert_eq!(last.next_cursor, None);
        assert_eq!(parse_template_page(b"{}"), None);
        assert_eq!(parse_template_page(b"x"), None);
    }
}
