//! The agent's settings: phone line, default country, language, notifications (and WhatsApp
//! ones while paused), whether attended chats are logged to the CRM, and how to reach each CRM
//! (login hosts, OAuth client ids, loopback redirect ports).
//!
//! Stored as one JSON document in the `settings` table under [`SETTINGS_KEY`]. The JSON shape
//! is private to this module (a storage format, not a wire type); a corrupt or unreadable row
//! falls back to the defaults and is reported, never fatal.
//!
//! The Zoho client secret is the one secret among the settings: it lives in the keyring
//! ([`enlace_secrets::crm_client_secret_ref`]) and in memory, never in the row ([`to_json`]
//! leaves it out). A row written by an older Enlace may still carry it: [`from_json`] reads
//! it so the app can move it to the keyring and rewrite the row without it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use enlace_core::{Country, Crm};
use enlace_crm::{CrmConfig, SalesforceConfig, ZohoConfig};
use enlace_secrets::{crm_client_secret_ref, SecretsError, Sensitive};
use enlace_telephony::{BaresipConfig, HandOffConfig, HandOffMode, LineConfig};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::{blocking, lock, App, Host};

pub const SETTINGS_KEY: &str = "agent_settings";
/// Where the hub line's stream stopped, for the session saved in the keyring (its own row:
/// it changes with every burst of hub events, the settings only when the agent edits them).
pub const HUB_CURSOR_KEY: &str = "hub_stream_cursor";

/// The hub stream's last handled event id for one hub and user: a restarted app resumes the
/// stream after it ([`enlace_telephony::HubLineConfig::after`]). Dropped at logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubCursor {
    /// The hub's origin (`HubClient::base_url`).
    pub server: String,
    pub user: String,
    pub last_event_id: u64,
}

impl HubCursor {
    /// The id to resume from, if this cursor belongs to `server` and `user`.
    pub fn resume_for(&self, server: &str, user: &str) -> Option<u64> {
        (self.server == server && self.user == user).then_some(self.last_event_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    None,
    Baresip,
    HandOff,
    /// The organization's PBX through the hub: in use while logged in, never stored.
    Hub,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Follow the operating system's locale.
    Auto,
    Spanish,
    English,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOffKind {
    Uri,
    Program,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub line_kind: LineKind,
    /// baresip's ctrl_tcp address, e.g. `127.0.0.1:4444`.
    pub baresip_ctrl_address: String,
    /// Where numbers are sent: `sip:<number>@<sip_domain>`.
    pub baresip_sip_domain: String,
    pub hand_off_kind: HandOffKind,
    /// e.g. `sip:{number}`.
    pub hand_off_uri_template: String,
    /// Absolute path of a dialer program that takes the number as its last argument.
    pub hand_off_program: String,
    pub default_country: Country,
    pub language: Language,
    pub notifications: bool,
    /// Desktop notifications of WhatsApp chats (assigned, a customer wrote) also while the agent
    /// is paused. Off by default: a paused agent is not disturbed.
    pub chat_notify_while_paused: bool,
    /// Marking a WhatsApp chat attended logs its transcript to the CRM through the outbox
    /// (`App::queue_chat_log`). Off by default.
    pub chat_log_to_crm: bool,
    /// The microphone Mensaje de audio records from; `None` is the system's default input.
    pub audio_input_device: Option<String>,
    /// Map tiles for Enviar ubicación: a URL template with `{z}`, `{x}`, `{y}`
    /// ([`DEFAULT_MAP_TILE_URL`] by default).
    pub map_tile_url: String,
    /// Salesforce: login host (production, sandbox or My Domain), connected app and the
    /// loopback port registered as its callback.
    pub salesforce: SalesforceConfig,
    /// Zoho: accounts server of the data center, client id/secret, loopback port. The secret
    /// is kept in the keyring and only in memory here (see the module's documentation).
    pub zoho: ZohoConfig,
    /// The organization's server (`https://hub.example.com`), empty when there is none.
    pub hub_server: String,
    /// The agent's 7-digit user at the hub (the last one that logged in here).
    pub hub_user: String,
}

/// OpenStreetMap's standard tiles (their usage policy asks for a User-Agent and caching, which
/// the app's tile fetcher does).
pub const DEFAULT_MAP_TILE_URL: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            line_kind: LineKind::None,
            baresip_ctrl_address: "127.0.0.1:4444".to_owned(),
            baresip_sip_domain: String::new(),
            hand_off_kind: HandOffKind::Uri,
            hand_off_uri_template: "sip:{number}".to_owned(),
            hand_off_program: String::new(),
            default_country: default_country(),
            language: Language::Auto,
            notifications: true,
            chat_notify_while_paused: false,
            chat_log_to_crm: false,
            audio_input_device: None,
            map_tile_url: DEFAULT_MAP_TILE_URL.to_owned(),
            salesforce: SalesforceConfig::default(),
            zoho: ZohoConfig::default(),
            hub_server: String::new(),
            hub_user: String::new(),
        }
    }
}

/// Costa Rica, the country of the seed manuals' numbers, until the agent picks theirs.
#[allow(clippy::expect_used)]
fn default_country() -> Country {
    Country::parse("CR").expect("a two-letter literal is a valid country")
}

impl Settings {
    /// Check every field; the first problem names the field so the UI can show it in place.
    pub fn validate(&self) -> Result<(), AppError> {
        if self.line_kind == LineKind::Baresip {
            if self.baresip_ctrl_address.parse::<SocketAddr>().is_err() {
                return Err(AppError::invalid_setting(
                    "baresipCtrlAddress",
                    "must be an address such as 127.0.0.1:4444",
                ));
            }
            if !valid_sip_domain(&self.baresip_sip_domain) {
                return Err(AppError::invalid_setting(
                    "baresipSipDomain",
                    "must be a host or host:port, such as pbx.example.com or 127.0.0.1:5060",
                ));
            }
        }
        if !valid_https_origin(&self.salesforce.login_host) {
            return Err(AppError::invalid_setting(
                "salesforceLoginHost",
                "must be an https address such as https://login.salesforce.com",
            ));
        }
        if !valid_https_origin(&self.zoho.accounts_server) {
            return Err(AppError::invalid_setting(
                "zohoAccountsServer",
                "must be an https address such as https://accounts.zoho.com",
            ));
        }
        if self.salesforce.client_id.trim().is_empty() || self.salesforce.client_id.len() > 256 {
            return Err(AppError::invalid_setting(
                "salesforceClientId",
                "must be the connected app's consumer key",
            ));
        }
        if self.zoho.client_id.len() > 256 || self.zoho.client_id.chars().any(char::is_control) {
            return Err(AppError::invalid_setting(
                "zohoClientId",
                "must be the client id the Zoho API console gives",
            ));
        }
        let secret = &self.zoho.client_secret;
        if secret.len() > 256 || secret.chars().any(char::is_control) {
            return Err(AppError::invalid_setting(
                "zohoClientSecret",
                "must be the client secret the Zoho API console gives",
            ));
        }
        for (field, port) in [
            ("salesforceRedirectPort", self.salesforce.redirect_port),
            ("zohoRedirectPort", self.zoho.redirect_port),
        ] {
            if port < 1024 {
                return Err(AppError::invalid_setting(
                    field,
                    "must be a port from 1024 to 65535, registered as the callback",
                ));
            }
        }
        if let Some(reason) = crate::map_tiles::tile_url_problem(&self.map_tile_url) {
            return Err(AppError::invalid_setting("mapTileUrl", reason));
        }
        if self.line_kind == LineKind::HandOff {
            match self.hand_off_kind {
                HandOffKind::Uri => {
                    let t = &self.hand_off_uri_template;
                    if !t.contains("{number}") || t.len() > 512 || t.chars().any(char::is_control) {
                        return Err(AppError::invalid_setting(
                            "handOffUriTemplate",
                            "must contain {number}, e.g. sip:{number}",
                        ));
                    }
                }
                HandOffKind::Program => {
                    let p = PathBuf::from(&self.hand_off_program);
                    if !p.is_absolute() {
                        return Err(AppError::invalid_setting(
                            "handOffProgram",
                            "must be the absolute path of a program",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The CRM configuration these settings describe.
    pub fn crm_config(&self) -> CrmConfig {
        CrmConfig {
            salesforce: self.salesforce.clone(),
            zoho: self.zoho.clone(),
        }
    }

    /// The phone line these settings describe, or `demo` when no line is configured.
    pub fn line_config(&self, demo: Option<&DemoLine>) -> LineConfig {
        match self.line_kind {
            LineKind::Baresip => match self.baresip_ctrl_address.parse::<SocketAddr>() {
                Ok(ctrl_addr) => LineConfig::Baresip(BaresipConfig {
                    ctrl_addr,
                    sip_domain: self.baresip_sip_domain.clone(),
                }),
                Err(_) => LineConfig::None,
            },
            LineKind::HandOff => LineConfig::HandOff(HandOffConfig {
                mode: match self.hand_off_kind {
                    HandOffKind::Uri => HandOffMode::Uri {
                        template: self.hand_off_uri_template.clone(),
                    },
                    HandOffKind::Program => HandOffMode::Program {
                        path: PathBuf::from(&self.hand_off_program),
                        args_before: Vec::new(),
                    },
                },
            }),
            LineKind::None | LineKind::Hub => match demo {
                Some(d) => LineConfig::Baresip(BaresipConfig {
                    ctrl_addr: d.ctrl_addr,
                    sip_domain: d.sip_domain.clone(),
                }),
                None => LineConfig::None,
            },
        }
    }
}

/// `https://host[:port]` with nothing after the host: where OAuth requests go.
fn valid_https_origin(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://") else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

fn valid_sip_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// A local demo line (headless baresip + a far end that answers), started by `cargo xtask run`
/// and handed to the app as `ENLACE_DEMO_LINE="<ctrl addr> <sip domain>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLine {
    pub ctrl_addr: SocketAddr,
    pub sip_domain: String,
}

impl DemoLine {
    pub fn parse(value: &str) -> Option<DemoLine> {
        let mut parts = value.split_whitespace();
        let ctrl_addr = parts.next()?.parse().ok()?;
        let sip_domain = parts.next()?.to_owned();
        if parts.next().is_some() || !valid_sip_domain(&sip_domain) {
            return None;
        }
        Some(DemoLine {
            ctrl_addr,
            sip_domain,
        })
    }
}

/// The CRM doubles of `enlace-sandbox` started by `cargo xtask run` (and the end-to-end tests),
/// handed to the app as `ENLACE_DEMO_CRM` = the JSON line the sandbox prints. Redirect ports
/// are 0: the doubles accept any loopback callback, so a free port is taken at sign-in.
pub fn demo_crm_config(json: &str) -> Option<CrmConfig> {
    #[derive(Deserialize)]
    struct Demo {
        salesforce: String,
        zoho_accounts: String,
        #[serde(default)]
        salesforce_client_id: Option<String>,
        #[serde(default)]
        zoho_client_id: Option<String>,
        #[serde(default)]
        zoho_client_secret: Option<String>,
    }
    let demo: Demo = serde_json::from_str(json).ok()?;
    let loopback =
        |u: &str| u.starts_with("http://127.0.0.1:") || u.starts_with("http://localhost:");
    if !loopback(&demo.salesforce) || !loopback(&demo.zoho_accounts) {
        return None;
    }
    let sf = SalesforceConfig::default();
    let zoho = ZohoConfig::default();
    Some(CrmConfig {
        salesforce: SalesforceConfig {
            login_host: demo.salesforce,
            client_id: demo.salesforce_client_id.unwrap_or(sf.client_id.clone()),
            redirect_port: 0,
            ..sf
        },
        zoho: ZohoConfig {
            accounts_server: demo.zoho_accounts,
            client_id: demo.zoho_client_id.unwrap_or(zoho.client_id.clone()),
            client_secret: demo
                .zoho_client_secret
                .unwrap_or(zoho.client_secret.clone()),
            redirect_port: 0,
        },
    })
}

/// The stored JSON shape. Unknown or missing fields take their defaults.
#[derive(Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Stored {
    line_kind: String,
    baresip_ctrl_address: String,
    baresip_sip_domain: String,
    hand_off_kind: String,
    hand_off_uri_template: String,
    hand_off_program: String,
    default_country: String,
    language: String,
    notifications: bool,
    chat_notify_while_paused: bool,
    chat_log_to_crm: bool,
    audio_input_device: Option<String>,
    map_tile_url: String,
    salesforce_login_host: String,
    salesforce_client_id: String,
    salesforce_redirect_port: u16,
    zoho_accounts_server: String,
    zoho_client_id: String,
    /// Only read: rows of older versions carried the secret. Never written.
    #[serde(skip_serializing)]
    zoho_client_secret: String,
    zoho_redirect_port: u16,
    hub_server: String,
    hub_user: String,
}

impl Default for Stored {
    fn default() -> Self {
        Stored::from(&Settings::default())
    }
}

impl From<&Settings> for Stored {
    fn from(s: &Settings) -> Self {
        Stored {
            line_kind: match s.line_kind {
                LineKind::None => "none",
                LineKind::Baresip => "baresip",
                LineKind::HandOff => "hand_off",
                LineKind::Hub => "none",
            }
            .to_owned(),
            baresip_ctrl_address: s.baresip_ctrl_address.clone(),
            baresip_sip_domain: s.baresip_sip_domain.clone(),
            hand_off_kind: match s.hand_off_kind {
                HandOffKind::Uri => "uri",
                HandOffKind::Program => "program",
            }
            .to_owned(),
            hand_off_uri_template: s.hand_off_uri_template.clone(),
            hand_off_program: s.hand_off_program.clone(),
            default_country: s.default_country.as_str().to_owned(),
            language: match s.language {
                Language::Auto => "auto",
                Language::Spanish => "es",
                Language::English => "en",
            }
            .to_owned(),
            notifications: s.notifications,
            chat_notify_while_paused: s.chat_notify_while_paused,
            chat_log_to_crm: s.chat_log_to_crm,
            audio_input_device: s.audio_input_device.clone(),
            map_tile_url: s.map_tile_url.clone(),
            salesforce_login_host: s.salesforce.login_host.clone(),
            salesforce_client_id: s.salesforce.client_id.clone(),
            salesforce_redirect_port: s.salesforce.redirect_port,
            zoho_accounts_server: s.zoho.accounts_server.clone(),
            zoho_client_id: s.zoho.client_id.clone(),
            zoho_client_secret: String::new(),
            zoho_redirect_port: s.zoho.redirect_port,
            hub_server: s.hub_server.clone(),
            hub_user: s.hub_user.clone(),
        }
    }
}

/// Serialize for storage: everything but the Zoho client secret (it goes to the keyring).
pub fn to_json(settings: &Settings) -> String {
    serde_json::to_string(&Stored::from(settings)).unwrap_or_else(|_| "{}".to_owned())
}

/// Read stored settings. Any problem gives an error naming it; the caller falls back to defaults.
/// The Zoho client secret is empty unless an older version wrote it into the row.
pub fn from_json(json: &str) -> Result<Settings, String> {
    let stored: Stored = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let defaults = Settings::default();
    Ok(Settings {
        line_kind: match stored.line_kind.as_str() {
            "baresip" => LineKind::Baresip,
            "hand_off" => LineKind::HandOff,
            "none" => LineKind::None,
            other => return Err(format!("unknown line kind {other:?}")),
        },
        baresip_ctrl_address: stored.baresip_ctrl_address,
        baresip_sip_domain: stored.baresip_sip_domain,
        hand_off_kind: match stored.hand_off_kind.as_str() {
            "program" => HandOffKind::Program,
            _ => HandOffKind::Uri,
        },
        hand_off_uri_template: stored.hand_off_uri_template,
        hand_off_program: stored.hand_off_program,
        default_country: Country::parse(&stored.default_country)
            .unwrap_or(defaults.default_country),
        language: match stored.language.as_str() {
            "es" => Language::Spanish,
            "en" => Language::English,
            _ => Language::Auto,
        },
        notifications: stored.notifications,
        chat_notify_while_paused: stored.chat_notify_while_paused,
        chat_log_to_crm: stored.chat_log_to_crm,
        audio_input_device: stored.audio_input_device.filter(|d| !d.trim().is_empty()),
        map_tile_url: if stored.map_tile_url.trim().is_empty() {
            defaults.map_tile_url.clone()
        } else {
            stored.map_tile_url
        },
        salesforce: SalesforceConfig {
            login_host: stored.salesforce_login_host,
            client_id: stored.salesforce_client_id,
            redirect_port: stored.salesforce_redirect_port,
            ..defaults.salesforce
        },
        zoho: ZohoConfig {
            accounts_server: stored.zoho_accounts_server,
            client_id: stored.zoho_client_id,
            client_secret: stored.zoho_client_secret,
            redirect_port: stored.zoho_redirect_port,
        },
        hub_server: stored.hub_server,
        hub_user: stored.hub_user,
    })
}

impl<H: Host> App<H> {
    /// At start-up, off the window's path: the Zoho client secret from the keyring into the
    /// settings in memory, before the CRM links are loaded (a Zoho refresh needs it). A secret
    /// an older version left in the settings row moves to the keyring and leaves the row.
    pub(crate) async fn load_zoho_client_secret(&self) {
        let secrets = self.shared.crm.secrets.clone();
        let account = crm_client_secret_ref(Crm::Zoho);
        let legacy = self.settings().zoho.client_secret;
        if !legacy.is_empty() {
            let moved = {
                let secrets = secrets.clone();
                blocking(move || {
                    secrets
                        .put(&account, &Sensitive::new(legacy))
                        .map_err(AppError::from)
                })
                .await
            };
            // The row loses the secret either way: no keyring never means a file instead.
            let json = to_json(&self.settings());
            let scrubbed = self
                .with_store(move |s| s.overwrite_setting(SETTINGS_KEY, &json))
                .await;
            if let Err(e) = scrubbed {
                tracing::error!(code = %e.code(), "could not rewrite the settings row");
            }
            if let Err(e) = moved {
                tracing::warn!(code = %e.code(), "the Zoho client secret is kept in memory only");
                *lock(&self.shared.settings_problem) = Some(format!(
                    "the Zoho client secret could not be moved to the keyring ({e}); \
                     it works until Enlace closes: type it again in Settings once the \
                     keyring works"
                ));
            }
            return;
        }
        let edits = self.shared.client_secret_edits.load(Ordering::SeqCst);
        let read = blocking(move || match secrets.get(&account) {
            Ok(secret) => Ok(Some(secret)),
            Err(SecretsError::NotFound { .. }) => Ok(None),
            Err(e) => Err(AppError::from(e)),
        })
        .await;
        match read {
            Ok(Some(secret)) => {
                let mut settings = lock(&self.shared.settings);
                // An agent who saved a new secret meanwhile wins.
                if self.shared.client_secret_edits.load(Ordering::SeqCst) == edits {
                    settings.zoho.client_secret = secret.expose().clone();
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(code = %e.code(), "could not read the Zoho client secret"),
        }
    }

    /// Store (or, when empty, forget) the Zoho client secret in the keyring.
    pub(crate) async fn store_zoho_client_secret(&self, secret: String) -> Result<(), AppError> {
        self.shared
            .client_secret_edits
            .fetch_add(1, Ordering::SeqCst);
        let secrets = self.shared.crm.secrets.clone();
        let account = crm_client_secret_ref(Crm::Zoho);
        blocking(move || {
            let done = if secret.is_empty() {
                match secrets.delete(&account) {
                    Err(SecretsError::NotFound { .. }) => Ok(()),
                    other => other,
                }
            } else {
                secrets.put(&account, &Sensitive::new(secret))
            };
            done.map_err(|e| AppError::Crm(e.to_string(), e.code(), Some("zohoClientSecret")))
        })
        .await
    }
}

/// The settings saved in the database of `data_dir`, for command-line use without starting
/// the app. `None` when there is no database yet or nothing readable in it.
pub fn saved_settings(data_dir: &std::path::Path) -> Option<Settings> {
    let path = data_dir.join(crate::DATABASE_FILE);
    if !path.exists() {
        return None;
    }
    let store = enlace_store::Store::open(&path).ok()?;
    let json = store.setting(SETTINGS_KEY).ok()??;
    from_json(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let s = Settings {
            line_kind: LineKind::Baresip,
            baresip_sip_domain: "127.0.0.1:5072".into(),
            language: Language::English,
            default_country: Country::parse("mx").unwrap(),
            ..Settings::default()
        };
        assert_eq!(from_json(&to_json(&s)).unwrap(), s);
    }

    #[test]
    fn the_chat_settings_are_off_by_default_stored_and_absent_from_old_rows() {
        let defaults = Settings::default();
        assert!(!defaults.chat_notify_while_paused && !defaults.chat_log_to_crm);
        let on = Settings {
            chat_notify_while_paused: true,
            chat_log_to_crm: true,
            ..Settings::default()
        };
        let json = to_json(&on);
        assert!(json.contains(r#""chatNotifyWhilePaused":true"#), "{json}");
        assert!(json.contains(r#""chatLogToCrm":true"#), "{json}");
        assert_eq!(from_json(&json).unwrap(), on);
        // A row written before these settings existed reads them as off.
        let old = json
            .replace(r#""chatNotifyWhilePaused":true,"#, "")
            .replace(r#""chatLogToCrm":true,"#, "");
        assert!(!old.contains("chat"), "{old}");
        let back = from_json(&old).unwrap();
        assert!(!back.chat_notify_while_paused && !back.chat_log_to_crm);
        assert!(on.validate().is_ok());
    }

    #[test]
    fn the_zoho_client_secret_never_reaches_the_row_but_an_old_row_still_gives_it() {
        let mut s = Settings::default();
        s.zoho.client_id = "1000.ABC".into();
        s.zoho.client_secret = "zoho-secret-7f3a9c".into();
        let json = to_json(&s);
        assert!(!json.contains("zoho-secret-7f3a9c"), "{json}");
        assert!(!json.contains("zohoClientSecret"), "{json}");
        let back = from_json(&json).unwrap();
        assert_eq!(back.zoho.client_id, "1000.ABC");
        assert_eq!(back.zoho.client_secret, "");
        // A row an older Enlace wrote.
        let old = json.replacen('{', r#"{"zohoClientSecret":"zoho-secret-7f3a9c","#, 1);
        assert_eq!(
            from_json(&old).unwrap().zoho.client_secret,
            "zoho-secret-7f3a9c"
        );
    }

    #[test]
    fn corrupt_json_is_an_error_not_a_panic() {
        assert!(from_json("{not json").is_err());
        assert!(from_json(r#"{"lineKind":"pigeon"}"#).is_err());
        assert!(from_json(r#"[1,2,3]"#).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let s = Settings {
            line_kind: LineKind::Baresip,
            ..Settings::default()
        };
        let err = s.validate().unwrap_err();
        assert_eq!(err.field(), Some("baresipSipDomain"));
        let s = Settings {
            line_kind: LineKind::HandOff,
            hand_off_uri_template: "sip:nothing".into(),
            ..Settings::default()
        };
        assert_eq!(
            s.validate().unwrap_err().field(),
            Some("handOffUriTemplate")
        );
        let s = Settings {
            line_kind: LineKind::HandOff,
            hand_off_kind: HandOffKind::Program,
            hand_off_program: "dialer; rm -rf /".into(),
            ..Settings::default()
        };
        assert_eq!(s.validate().unwrap_err().field(), Some("handOffProgram"));
        let mut s = Settings::default();
        s.zoho.client_secret = "a\nb".into();
        assert_eq!(s.validate().unwrap_err().field(), Some("zohoClientSecret"));
        s.zoho.client_secret = "x".repeat(257);
        assert_eq!(s.validate().unwrap_err().field(), Some("zohoClientSecret"));
    }

    #[test]
    fn demo_line_parses_only_well_formed_values() {
        let d = DemoLine::parse("127.0.0.1:4444 127.0.0.1:5072").unwrap();
        assert_eq!(d.sip_domain, "127.0.0.1:5072");
        assert!(DemoLine::parse("127.0.0.1:4444").is_none());
        assert!(DemoLine::parse("nonsense 127.0.0.1:5072").is_none());
        assert!(DemoLine::parse("127.0.0.1:4444 a;b").is_none());
    }
}
