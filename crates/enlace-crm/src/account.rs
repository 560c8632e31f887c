//! What a link to a CRM is made of: the non-secret account (stored in the database as JSON),
//! the configuration of each provider, and the tokens (one OS keyring entry).

use std::fmt;

use enlace_core::{Crm, Timestamp};
use enlace_secrets::{Sensitive, MAX_SECRET_BYTES};
use serde::{Deserialize, Serialize};

use crate::error::CrmError;

/// A linked CRM account. Non-secret: safe to store in the database and show in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "crm", rename_all = "snake_case")]
pub enum CrmAccount {
    Salesforce(SalesforceAccount),
    Zoho(ZohoAccount),
}

/// A Salesforce user in one org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceAccount {
    /// `005…` user id (from the identity URL).
    pub user_id: String,
    /// `00D…` org id (from the identity URL).
    pub org_id: String,
    /// The username when known (password flow, identity call), else the user id.
    pub username: String,
    /// Where data calls go (`https://yourorg.my.salesforce.com`).
    pub instance_url: String,
    /// Where the tokens were issued: refresh and revoke go there.
    pub login_host: String,
}

/// A Zoho CRM user in one data center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZohoAccount {
    /// The user's e-mail when the CRM told us, else empty.
    pub email: String,
    /// Zoho user id when known, else empty.
    pub user_id: String,
    /// Accounts server of the user's data center (refresh and revoke go there).
    pub accounts_server: String,
    /// API domain returned with the token (`https://www.zohoapis.eu`).
    pub api_domain: String,
}

impl CrmAccount {
    pub fn crm(&self) -> Crm {
        match self {
            CrmAccount::Salesforce(_) => Crm::Salesforce,
            CrmAccount::Zoho(_) => Crm::Zoho,
        }
    }

    /// The account reference of the keyring entry that holds the tokens.
    pub fn key(&self) -> String {
        match self {
            CrmAccount::Salesforce(a) => format!("salesforce:{}:{}", a.org_id, a.user_id),
            CrmAccount::Zoho(a) => {
                let who = if a.user_id.is_empty() {
                    &a.email
                } else {
                    &a.user_id
                };
                format!("zoho:{}:{}", host_of(&a.accounts_server), who)
            }
        }
    }

    /// What the UI shows: the Salesforce username or the Zoho e-mail.
    pub fn display(&self) -> String {
        match self {
            CrmAccount::Salesforce(a) => a.username.clone(),
            CrmAccount::Zoho(a) if !a.email.is_empty() => a.email.clone(),
            CrmAccount::Zoho(a) => format!("Zoho CRM ({})", host_of(&a.api_domain)),
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings cannot fail; fall back to an empty object just in case.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    pub fn from_json(json: &str) -> Result<CrmAccount, CrmError> {
        serde_json::from_str(json).map_err(|e| CrmError::Corrupt {
            what: "CRM account",
            detail: e.to_string(),
        })
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// Salesforce connected-app settings.
#[derive(Clone, PartialEq, Eq)]
pub struct SalesforceConfig {
    /// `https://login.salesforce.com`, `https://test.salesforce.com`, a My Domain URL, or a
    /// test double.
    pub login_host: String,
    /// Consumer key; `PlatformCLI` (the Salesforce CLI's app, callback
    /// `http://localhost:1717/OauthRedirect`) unless the org registered its own.
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Loopback port of the redirect `http://localhost:{port}/OauthRedirect`. 0 picks a free
    /// port (tests; a real connected app needs the registered one).
    pub redirect_port: u16,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        SalesforceConfig {
            login_host: "https://login.salesforce.com".into(),
            client_id: "PlatformCLI".into(),
            client_secret: None,
            redirect_port: 1717,
        }
    }
}

/// Zoho API-console client settings (a "Server-based Application").
#[derive(Clone, PartialEq, Eq)]
pub struct ZohoConfig {
    /// Where sign-in starts; the data center named by the redirect wins for the token exchange.
    pub accounts_server: String,
    pub client_id: String,
    pub client_secret: String,
    /// Loopback port of the redirect `http://localhost:{port}/callback`; 0 picks a free port.
    pub redirect_port: u16,
}

impl Default for ZohoConfig {
    fn default() -> Self {
        ZohoConfig {
            accounts_server: "https://accounts.zoho.com".into(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_port: 8765,
        }
    }
}

// Client secrets of desktop apps are not really secret, but they stay out of logs anyway.
impl fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("login_host", &self.login_host)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_port", &self.redirect_port)
            .finish()
    }
}

impl fmt::Debug for ZohoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZohoConfig")
            .field("accounts_server", &self.accounts_server)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_port", &self.redirect_port)
            .finish()
    }
}

/// Both providers' settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CrmConfig {
    pub salesforce: SalesforceConfig,
    pub zoho: ZohoConfig,
}

/// OAuth tokens of one linked account. Stored as one keyring secret (see [`Tokens::to_secret`]).
#[derive(Clone)]
pub struct Tokens {
    pub access: Sensitive<String>,
    pub refresh: Option<Sensitive<String>>,
    /// When the access token expires, when the CRM said (Zoho); Salesforce does not say.
    pub access_expires_at: Option<Timestamp>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &"<redacted>")
            .field("refresh", &self.refresh.as_ref().map(|_| "<redacted>"))
            .field("access_expires_at", &self.access_expires_at)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredTokens {
    v: u8,
    access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl Tokens {
    /// The JSON text stored in the keyring. Use [`Tokens::check_fits_keyring`] (done by every
    /// sign-in and refresh here) before storing tokens built elsewhere.
    pub fn to_secret(&self) -> Sensitive<String> {
        let stored = StoredTokens {
            v: 1,
            access: self.access.expose().clone(),
            refresh: self.refresh.as_ref().map(|r| r.expose().clone()),
            expires_at: self.access_expires_at.map(Timestamp::millis),
        };
        Sensitive::new(serde_json::to_string(&stored).unwrap_or_default())
    }

    pub fn from_secret(secret: &Sensitive<String>) -> Result<Tokens, CrmError> {
        check_size(secret.expose())?;
        let stored: StoredTokens =
            serde_json::from_str(secret.expose()).map_err(|e| CrmError::Corrupt {
                what: "CRM tokens",
                // serde's message names the position and the expected type, never the value.
                detail: format!(
                    "not the expected JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        if stored.access.is_empty() {
            return Err(CrmError::Corrupt {
                what: "CRM tokens",
                detail: "the access token is empty".into(),
            });
        }
        Ok(Tokens {
            access: Sensitive::new(stored.access),
            refresh: stored.refresh.map(Sensitive::new),
            access_expires_at: stored.expires_at.map(Timestamp),
        })
    }

    /// Fails with [`CrmError::TokensTooLarge`] when the secret would not fit a Windows
    /// credential (2,560 bytes as UTF-16), so tokens that work on Linux work everywhere.
    pub fn check_fits_keyring(&self) -> Result<(), CrmError> {
        check_size(self.to_secret().expose())
    }
}

fn check_size(text: &str) -> Result<(), CrmError> {
    let size = text.encode_utf16().count() * 2;
    if size > MAX_SECRET_BYTES {
        return Err(CrmError::TokensTooLarge {
            size,
            limit: MAX_SECRET_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str, refresh: Option<&str>) -> Tokens {
        Tokens {
            access: Sensitive::new(access.to_owned()),
            refresh: refresh.map(|r| Sensitive::new(r.to_owned())),
            access_expires_at: Some(Timestamp(1_718_000_000_000)),
        }
    }

    #[test]
    fn tokens_round_trip_through_one_secret() {
        let t = tokens("00D!AQ0.access", Some("5Aep861.refresh"));
        let back = Tokens::from_secret(&t.to_secret()).expect("round trip");
        assert_eq!(back.access.expose(), "00D!AQ0.access");
        assert_eq!(
            back.refresh.map(Sensitive::into_exposed).as_deref(),
            Some("5Aep861.refresh")
        );
        assert_eq!(back.access_expires_at, Some(Timestamp(1_718_000_000_000)));
        let none = tokens("a", None);
        assert!(Tokens::from_secret(&none.to_secret())
            .expect("ok")
            .refresh
            .is_none());
    }

    #[test]
    fn tokens_too_large_for_windows_are_rejected_with_their_size() {
        let fits = tokens(&"a".repeat(1_100), Some("r"));
        assert!(fits.check_fits_keyring().is_ok());
        let big = tokens(&"a".repeat(1_300), None);
        let err = big.check_fits_keyring().expect_err("too large");
        assert!(matches!(err, CrmError::TokensTooLarge { limit: 2_560, size } if size > 2_600));
        assert!(err.to_string().contains("UTF-16"));
        assert!(Tokens::from_secret(&big.to_secret()).is_err());
    }

    #[test]
    fn corrupt_secret_is_reported_without_its_content() {
        let err = Tokens::from_secret(&Sensitive::new("{\"access\": secret-tok".into()))
            .expect_err("corrupt");
        assert!(!err.to_string().contains("secret-tok"));
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmReauthRequired);
    }

    #[test]
    fn debug_never_shows_tokens() {
        let shown = format!("{:?}", tokens("very-secret", Some("also-secret")));
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn account_json_round_trips_and_keys_are_stable() {
        let sf = CrmAccount::Salesforce(SalesforceAccount {
            user_id: "005A".into(),
            org_id: "00DB".into(),
            username: "ana@acme.com".into(),
            instance_url: "https://acme.my.salesforce.com".into(),
            login_host: "https://login.salesforce.com".into(),
        });
        assert_eq!(sf.key(), "salesforce:00DB:005A");
        assert_eq!(sf.display(), "ana@acme.com");
        assert_eq!(CrmAccount::from_json(&sf.to_json()).expect("json"), sf);
        assert!(sf.to_json().contains("\"crm\":\"salesforce\""));

        let zoho = CrmAccount::Zoho(ZohoAccount {
            email: "ana@acme.com".into(),
            user_id: "9001".into(),
            accounts_server: "https://accounts.zoho.eu".into(),
            api_domain: "https://www.zohoapis.eu".into(),
        });
        assert_eq!(zoho.key(), "zoho:accounts.zoho.eu:9001");
        assert_eq!(zoho.crm(), Crm::Zoho);
        assert_eq!(CrmAccount::from_json(&zoho.to_json()).expect("json"), zoho);
        assert_eq!(
            CrmAccount::from_json("{\"crm\":\"hubspot\"}").map_err(|e| e.code()),
            Err(enlace_core::ErrorCode::CrmReauthRequired)
        );
    }
}
