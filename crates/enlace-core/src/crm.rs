//! CRM records as the rest of Enlace sees them, whatever CRM they live in: which CRM, a
//! reference to one Contact or Lead, a cached record, a record to create, and a call to log as
//! a CRM activity. Provider specifics (field names, endpoints) live in `enlace-crm`.

use crate::call::{CallDirection, CallId};
use crate::clock::Timestamp;

/// The CRMs Enlace links to. A closed set: add a variant when a third provider arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Crm {
    Salesforce,
    Zoho,
}

impl Crm {
    pub const ALL: [Crm; 2] = [Crm::Salesforce, Crm::Zoho];

    pub fn as_str(self) -> &'static str {
        match self {
            Crm::Salesforce => "salesforce",
            Crm::Zoho => "zoho",
        }
    }

    pub fn parse(s: &str) -> Option<Crm> {
        match s {
            "salesforce" => Some(Crm::Salesforce),
            "zoho" => Some(Crm::Zoho),
            _ => None,
        }
    }
}

/// Whether a CRM record is a contact or a lead ("Candidato" in the Spanish UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactKind {
    Contact,
    Lead,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Contact => "contact",
            ContactKind::Lead => "lead",
        }
    }

    pub fn parse(s: &str) -> Option<ContactKind> {
        match s {
            "contact" => Some(ContactKind::Contact),
            "lead" => Some(ContactKind::Lead),
            _ => None,
        }
    }
}

/// A pointer to one Contact or Lead in one CRM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordRef {
    pub crm: Crm,
    pub kind: ContactKind,
    /// The record's id in its CRM (Salesforce 18-character id, Zoho numeric id as text).
    pub id: String,
}

/// A CRM contact or lead as cached locally and shown in the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub crm: Crm,
    /// The record's id in its CRM (unique per CRM).
    pub crm_id: String,
    pub kind: ContactKind,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub company: Option<String>,
}

impl Contact {
    pub fn reference(&self) -> RecordRef {
        RecordRef {
            crm: self.crm,
            kind: self.kind,
            id: self.crm_id.clone(),
        }
    }

    /// "First Last", or whichever part exists, or the company, or the id.
    pub fn display_name(&self) -> String {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
        self.company
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.crm_id)
            .to_owned()
    }
}

/// A Contact or Lead the agent asks to create ("Nuevo contacto" form). A Lead needs a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub kind: ContactKind,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub company: Option<String>,
}

/// A finished call to save in the CRM as a call activity (Salesforce Task of subtype Call,
/// Zoho Calls record) linked to `record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallActivity {
    pub call_id: CallId,
    pub record: RecordRef,
    pub direction: CallDirection,
    /// The other party's number as the line reported it.
    pub peer_number: String,
    pub started_at: Timestamp,
    pub duration_seconds: u32,
    /// "Asunto".
    pub subject: String,
    /// "Comentario".
    pub comment: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(first: Option<&str>, last: Option<&str>, company: Option<&str>) -> Contact {
        Contact {
            crm: Crm::Zoho,
            crm_id: "42".into(),
            kind: ContactKind::Lead,
            first_name: first.map(Into::into),
            last_name: last.map(Into::into),
            email: None,
            phone: None,
            mobile: None,
            company: company.map(Into::into),
        }
    }

    #[test]
    fn display_name_falls_back_in_order() {
        assert_eq!(
            contact(Some("Ana"), Some("Mora"), None).display_name(),
            "Ana Mora"
        );
        assert_eq!(contact(None, Some("Mora"), None).display_name(), "Mora");
        assert_eq!(
            contact(Some(" "), None, Some("Acme")).display_name(),
            "Acme"
        );
        assert_eq!(contact(None, None, None).display_name(), "42");
    }

    #[test]
    fn names_round_trip() {
        for crm in Crm::ALL {
            assert_eq!(Crm::parse(crm.as_str()), Some(crm));
        }
        for kind in [ContactKind::Contact, ContactKind::Lead] {
            assert_eq!(ContactKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Crm::parse("hubspot"), None);
    }
}
