//! Demo data: a few Latin-American contacts and leads, the same people in both CRMs.

use enlace_core::ContactKind;
use serde_json::json;

use crate::{SalesforceDouble, ZohoDouble};

/// (kind, first, last, email, phone, mobile, company)
pub const DEMO_PEOPLE: &[(ContactKind, &str, &str, &str, &str, &str, &str)] = &[
    (
        ContactKind::Contact,
        "Ana",
        "Martínez",
        "ana.martinez@example.com",
        "+52 55 1234 5678",
        "+52 1 55 8765 4321",
        "Ferretería La Paz",
    ),
    (
        ContactKind::Contact,
        "Carlos",
        "Rodríguez",
        "carlos.rodriguez@example.com",
        "+57 601 555 0101",
        "+57 310 555 0102",
        "Café Andino",
    ),
    (
        ContactKind::Contact,
        "Lucía",
        "Fernández",
        "lucia.fernandez@example.com",
        "+54 11 4555-0103",
        "",
        "Estudio Fernández",
    ),
    (
        ContactKind::Contact,
        "Mateo",
        "Silva",
        "mateo.silva@example.com",
        "+56 2 2555 0104",
        "+56 9 5555 0105",
        "Viña del Valle",
    ),
    (
        ContactKind::Lead,
        "Valentina",
        "Gómez",
        "valentina.gomez@example.com",
        "+51 1 555 0106",
        "+51 955 550 107",
        "Textiles Inca",
    ),
    (
        ContactKind::Lead,
        "José",
        "Hernández",
        "jose.hernandez@example.com",
        "+52 33 3555 0108",
        "",
        "Tortillería Jalisco",
    ),
    (
        ContactKind::Lead,
        "Camila",
        "López",
        "camila.lopez@example.com",
        "+506 2555 0109",
        "+506 8555 0110",
        "Pura Vida Tours",
    ),
];

/// Seeds the Salesforce double with [`DEMO_PEOPLE`].
pub fn seed_salesforce(sf: &SalesforceDouble) {
    for (kind, first, last, email, phone, mobile, company) in DEMO_PEOPLE {
        let mut fields =
            json!({"FirstName": first, "LastName": last, "Email": email, "Phone": phone});
        if !mobile.is_empty() {
            fields["MobilePhone"] = json!(mobile);
        }
        if *kind == ContactKind::Lead {
            fields["Company"] = json!(company);
        }
        sf.insert_record(*kind, fields);
    }
}

/// Seeds the Zoho double with [`DEMO_PEOPLE`].
pub fn seed_zoho(zoho: &ZohoDouble) {
    for (kind, first, last, email, phone, mobile, company) in DEMO_PEOPLE {
        let mut fields =
            json!({"First_Name": first, "Last_Name": last, "Email": email, "Phone": phone});
        if !mobile.is_empty() {
            fields["Mobile"] = json!(mobile);
        }
        let module = match kind {
            ContactKind::Contact => "Contacts",
            ContactKind::Lead => {
                fields["Company"] = json!(company);
                "Leads"
            }
        };
        zoho.insert_record(module, fields);
    }
}

/// Both doubles in demo mode (any loopback callback, immediate sign-in) with [`DEMO_PEOPLE`]:
/// what `cargo xtask run` and the end-to-end tests link the app to. Stopped when dropped.
#[derive(Debug)]
pub struct DemoCrm {
    pub salesforce: SalesforceDouble,
    pub zoho: ZohoDouble,
}

impl DemoCrm {
    /// Start on free loopback ports (0) or the given ones.
    pub fn start_on(salesforce_port: u16, zoho_port: u16) -> std::io::Result<DemoCrm> {
        let salesforce = SalesforceDouble::start_on(salesforce_port)?;
        let zoho = ZohoDouble::start_on(zoho_port)?;
        salesforce.set_demo_mode(true);
        zoho.set_demo_mode(true);
        seed_salesforce(&salesforce);
        seed_zoho(&zoho);
        Ok(DemoCrm { salesforce, zoho })
    }

    /// The one-line JSON the app reads from `ENLACE_DEMO_CRM`.
    pub fn env_value(&self) -> String {
        json!({
            "salesforce": self.salesforce.base_url(),
            "zoho_accounts": self.zoho.accounts_url(),
            "zoho_api": self.zoho.api_domain(),
            "zoho_client_id": self.zoho.client_id(),
            "zoho_client_secret": self.zoho.client_secret(),
        })
        .to_string()
    }
}
