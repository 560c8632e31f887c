//! Provider-neutral checks of what the agent typed: what a search query is (number, e-mail or
//! name) and whether a new contact can be sent at all.

use enlace_core::{
    equivalent_digits, CallActivity, CallDirection, Contact, ContactKind, Country, Crm, NewContact,
};
use serde_json::{Map, Value};

use crate::error::CrmError;

/// Longest query sent to a CRM, in characters; longer input is cut at a character boundary
/// (nobody searches by a paragraph, and SOSL/Zoho reject very long terms).
pub(crate) const MAX_QUERY_CHARS: usize = 80;

/// What a search query looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchKey {
    /// Digit-only forms of one number (E.164 digits, national number, as typed), most
    /// specific first; also extensions ("4000").
    Phone(Vec<String>),
    Email(String),
    Name(String),
}

impl SearchKey {
    pub fn parse(query: &str, country: Country) -> Result<SearchKey, CrmError> {
        let trimmed: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
        let trimmed = trimmed.trim();
        if trimmed.chars().count() < 2 {
            return Err(CrmError::SearchTooShort);
        }
        if trimmed.contains('@') {
            return Ok(SearchKey::Email(trimmed.to_owned()));
        }
        let phone_like = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().#*/".contains(c));
        if phone_like {
            let digits = trimmed.chars().filter(char::is_ascii_digit).count();
            if digits < 2 {
                return Err(CrmError::SearchTooShort);
            }
            let forms = equivalent_digits(trimmed, country);
            return Ok(SearchKey::Phone(forms));
        }
        Ok(SearchKey::Name(trimmed.to_owned()))
    }
}

/// A trimmed, non-empty optional field.
pub(crate) fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A provider's API names of the "Nuevo contacto" fields.
pub(crate) struct FieldNames {
    pub last_name: &'static str,
    pub first_name: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub mobile: &'static str,
    pub company: &'static str,
}

/// The JSON record to create: the fields the agent filled in, under the provider's names
/// (Company only for a Lead), and whether a last name is present.
pub(crate) fn record_fields(new: &NewContact, names: &FieldNames) -> (Map<String, Value>, bool) {
    let mut fields = Map::new();
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            fields.insert(name.to_owned(), Value::String(v.to_owned()));
        }
    };
    let last_name = Some(new.last_name.trim()).filter(|v| !v.is_empty());
    put(names.last_name, last_name);
    put(names.first_name, present(&new.first_name));
    put(names.email, present(&new.email));
    put(names.phone, present(&new.phone));
    put(names.mobile, present(&new.mobile));
    if new.kind == ContactKind::Lead {
        put(names.company, present(&new.company));
    }
    (fields, last_name.is_some())
}

/// The contact as created from `new`, now that the CRM gave it an id.
pub(crate) fn contact_from_new(crm: Crm, new: &NewContact, id: String) -> Contact {
    let own = |v: &Option<String>| present(v).map(str::to_owned);
    Contact {
        crm,
        crm_id: id,
        kind: new.kind,
        first_name: own(&new.first_name),
        last_name: Some(new.last_name.trim().to_owned()).filter(|v| !v.is_empty()),
        email: own(&new.email),
        phone: own(&new.phone),
        mobile: own(&new.mobile),
        company: if new.kind == ContactKind::Lead {
            own(&new.company)
        } else {
            None
        },
    }
}

/// Local check before anything is sent: a Lead needs a company. Everything else (last name,
/// e-mail format, duplicates) is the CRM's call, mapped back to our field names.
pub(crate) fn validate_new_contact(crm: Crm, new: &NewContact) -> Result<(), CrmError> {
    if new.kind == ContactKind::Lead && present(&new.company).is_none() {
        return Err(CrmError::InvalidField {
            crm,
            field: Some("company".into()),
            message: "La empresa es obligatoria para un candidato (Lead).".into(),
        });
    }
    Ok(())
}

/// The activity's subject, or "Llamada entrante/saliente {number}" when the agent left it
/// empty (both CRMs require one).
pub(crate) fn call_subject(activity: &CallActivity) -> String {
    let subject = activity.subject.trim();
    if !subject.is_empty() {
        return subject.to_owned();
    }
    let what = match activity.direction {
        CallDirection::Incoming => "Llamada entrante",
        CallDirection::Outgoing => "Llamada saliente",
    };
    format!("{what} {}", activity.peer_number.trim())
        .trim()
        .to_owned()
}

/// How much earlier than its queuing a write may look for its key in the CRM: the CRM's
/// clock and this computer's may disagree.
pub(crate) const KEY_SEARCH_MARGIN_MS: i64 = 60 * 60 * 1000;

/// The text that carries a write's idempotency key in the `Description` of what it creates
/// (a Salesforce Contact/Lead, a Zoho Contact/Lead/Call): `[enlace:{key}]`. Both CRMs store
/// it with the record; neither lets a query filter on a long text field, so a retry reads
/// the candidates' `Description` and looks for this exact text.
pub(crate) fn key_marker(key: &str) -> String {
    format!("[enlace:{key}]")
}

/// `comment` with the key marker on a line of its own at the end, the whole within `max`
/// characters (the comment is cut, never the marker).
pub(crate) fn with_key_marker(comment: &str, key: &str, max: usize) -> String {
    let marker = key_marker(key);
    let comment = comment.trim_end();
    if comment.is_empty() {
        return marker;
    }
    let room = max.saturating_sub(marker.chars().count() + 2);
    format!("{}\n\n{marker}", truncate_chars(comment, room))
}

/// Percent-encode a query or path component (everything but RFC 3986 unreserved bytes).
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Cut `text` to at most `max` characters.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cr() -> Country {
        Country::parse("CR").expect("CR")
    }

    #[test]
    fn queries_are_classified() {
        assert_eq!(SearchKey::parse("a", cr()), Err(CrmError::SearchTooShort));
        assert_eq!(SearchKey::parse("  ", cr()), Err(CrmError::SearchTooShort));
        assert_eq!(SearchKey::parse("+ 5", cr()), Err(CrmError::SearchTooShort));
        assert_eq!(
            SearchKey::parse(" ana@acme.cr ", cr()),
            Ok(SearchKey::Email("ana@acme.cr".into()))
        );
        assert_eq!(
            SearchKey::parse("Ana María", cr()),
            Ok(SearchKey::Name("Ana María".into()))
        );
        match SearchKey::parse("+506 8888-1234", cr()) {
            Ok(SearchKey::Phone(forms)) => {
                assert_eq!(forms[0], "50688881234");
                assert!(forms.contains(&"88881234".to_owned()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            SearchKey::parse("4000", cr()),
            Ok(SearchKey::Phone(vec!["4000".into()]))
        );
    }

    #[test]
    fn long_queries_are_cut_at_a_character_boundary() {
        let long = "ñ".repeat(500);
        match SearchKey::parse(&long, cr()) {
            Ok(SearchKey::Name(n)) => assert_eq!(n.chars().count(), MAX_QUERY_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("a b+c/ñ\\{"), "a%20b%2Bc%2F%C3%B1%5C%7B");
        assert_eq!(encode_component("00Q5e-._~"), "00Q5e-._~");
    }

    #[test]
    fn the_key_marker_closes_the_description() {
        assert_eq!(key_marker("enl-1"), "[enlace:enl-1]");
        assert_eq!(with_key_marker("", "enl-1", 100), "[enlace:enl-1]");
        assert_eq!(
            with_key_marker("Notas\n", "enl-1", 100),
            "Notas\n\n[enlace:enl-1]"
        );
        let long = "x".repeat(50);
        let cut = with_key_marker(&long, "enl-1", 30);
        assert_eq!(cut.chars().count(), 30);
        assert!(cut.ends_with("\n\n[enlace:enl-1]"), "{cut}");
        // A key is never found inside a longer one.
        assert!(!with_key_marker("", "enl-12", 100).contains(&key_marker("enl-1")));
    }

    #[test]
    fn a_lead_needs_a_company() {
        let mut new = NewContact {
            kind: ContactKind::Lead,
            first_name: Some("Ana".into()),
            last_name: "Mora".into(),
            email: None,
            phone: None,
            mobile: None,
            company: Some("  ".into()),
        };
        let err = validate_new_contact(Crm::Salesforce, &new).expect_err("company");
        assert_eq!(err.field(), Some("company"));
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmInvalidField);
        new.company = Some("Acme".into());
        assert!(validate_new_contact(Crm::Salesforce, &new).is_ok());
        new.kind = ContactKind::Contact;
        new.company = None;
        assert!(validate_new_contact(Crm::Zoho, &new).is_ok());
    }
}
