//! `enlace-hub.toml`: what an administrator configures. Every field has a default so a minimal
//! file (or none, in tests) works.
//!
//! Secrets (the AMI secret, a database URL with a password) may sit in the file, in a file of
//! their own (`ami.secret_file`, `database_url_file`) or in an environment variable
//! ([`AMI_SECRET_ENV`], [`DATABASE_URL_ENV`]); the variable wins over the file's keys. Every file
//! holding a secret must not be accessible to other users (`chmod 600`), or loading fails.
//! The structs print secrets as `<redacted>` in `Debug`; add any new secret the same way (a
//! `*_file` key, a variable, the redaction and [`HubConfig::holds_inline_secret`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::forwarded::Cidr;

/// Environment variable holding the AMI secret (overrides `ami.secret` / `ami.secret_file`).
pub const AMI_SECRET_ENV: &str = "ENLACE_HUB_AMI_SECRET";
/// Environment variable holding the database URL (overrides `database_url` /
/// `database_url_file`; the command line's `--database` overrides it).
pub const DATABASE_URL_ENV: &str = "ENLACE_HUB_DATABASE_URL";

/// Environment variables holding the WhatsApp secrets (override `whatsapp.*` and `*_file`).
pub const WHATSAPP_VERIFY_TOKEN_ENV: &str = "ENLACE_HUB_WHATSAPP_VERIFY_TOKEN";
pub const WHATSAPP_APP_SECRET_ENV: &str = "ENLACE_HUB_WHATSAPP_APP_SECRET";
pub const WHATSAPP_ACCESS_TOKEN_ENV: &str = "ENLACE_HUB_WHATSAPP_ACCESS_TOKEN";
/// Environment variable holding the media store's S3 secret access key.
pub const WHATSAPP_S3_SECRET_ENV: &str = "ENLACE_HUB_WHATSAPP_S3_SECRET_ACCESS_KEY";

/// What `Debug` prints instead of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// `sqlite://path/to/hub.db` (one instance) or `postgres://user@host:port/db` (several
    /// instances sharing one database; see `cluster`).
    pub database_url: String,
    /// A file holding the database URL (e.g. with its password); wins over `database_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url_file: Option<String>,
    /// Reverse proxies (CIDRs such as `10.0.0.0/8`, `::1/128`) whose `Forwarded` /
    /// `X-Forwarded-For` headers are believed for the client's address; empty: none.
    pub trusted_proxies: Vec<String>,
    /// Optional TLS certificate chain and private key (PEM files); HTTPS/WSS when set.
    pub tls: Option<TlsConfig>,
    /// The Asterisk manager connection; without it the hub runs without a PBX.
    pub ami: Option<AmiSettings>,
    /// The WhatsApp Cloud API (`[whatsapp]`); without it the hub has no WhatsApp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<WhatsAppSettings>,
    /// Days the event log keeps events for resuming streams.
    pub event_retention_days: u32,
    /// Minutes a session lives without being used (renewed on every use).
    pub session_idle_minutes: u32,
    /// Hours after which a session ends even if used.
    pub session_max_hours: u32,
    /// Seconds between WebSocket pings.
    pub heartbeat_seconds: u32,
    /// argon2id memory cost (KiB) and passes for new password hashes.
    pub password_memory_kib: u32,
    pub password_iterations: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: String,
    pub key: String,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AmiSettings {
    /// host:port of the manager interface.
    pub addr: String,
    pub username: String,
    pub secret: String,
    /// A file holding the secret (instead of `secret`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// Queue member interface of an agent; `{extension}` is replaced.
    pub interface_template: String,
    /// Dialplan context click-to-dial sends the number to.
    pub dial_context: String,
    /// Seconds to let the agent's phone ring on click-to-dial.
    pub originate_timeout_seconds: u32,
}

impl Default for AmiSettings {
    fn default() -> Self {
        AmiSettings {
            addr: "127.0.0.1:5038".into(),
            username: "enlace".into(),
            secret: String::new(),
            secret_file: None,
            interface_template: "PJSIP/{extension}".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 30,
        }
    }
}

/// `[whatsapp]`: the organization's WhatsApp Business Account. The three secrets may also come
/// from `*_file` keys or the `ENLACE_HUB_WHATSAPP_*` variables; `Debug` redacts them.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsAppSettings {
    /// The token Meta echoes when verifying the webhook (`hub.verify_token`).
    pub verify_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_token_file: Option<String>,
    /// The app secret: the key of `X-Hub-Signature-256`.
    pub app_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_secret_file: Option<String>,
    /// The Graph API access token (System User).
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_file: Option<String>,
    /// `https://graph.facebook.com/v21.0` by default (tests point it at the double).
    pub graph_url: String,
    /// The WhatsApp Business Account id (its templates).
    pub waba_id: String,
    /// The business numbers and the queue each one's conversations go to.
    pub numbers: Vec<WhatsAppNumber>,
    /// Messages per second the outbox sends from one number (Meta's default throughput: 80).
    pub messages_per_second: u32,
    /// Pair limit (one customer): a burst of this many messages, then one every
    /// `pair_interval_ms`.
    pub pair_burst: u32,
    pub pair_interval_ms: u64,
    /// Most open conversations routed to one agent.
    pub max_open_per_agent: u32,
    /// Minutes before the 24-hour window ends that `window_closing` is sent.
    pub window_warning_minutes: u32,
    /// Folder for media files (relative to the working directory); `whatsapp-media` by default.
    /// Used when `s3` is not set (one instance).
    pub media_dir: String,
    /// S3-compatible storage for media files, shared by several instances (`[whatsapp.s3]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Settings>,
}

/// `[whatsapp.s3]`: where media files go when several instances share the work. The secret
/// key may come from `secret_access_key_file` or [`WHATSAPP_S3_SECRET_ENV`].
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// `https://s3.amazonaws.com`, or a compatible server (`http://` is allowed on purpose for a
    /// local one).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &REDACTED)
            .field("secret_access_key_file", &self.secret_access_key_file)
            .finish()
    }
}

/// `[[whatsapp.numbers]]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppNumber {
    pub phone_number_id: String,
    /// The number as customers see it (`+52 55 1234 5678`); optional.
    #[serde(default)]
    pub display_number: String,
    /// A name agents pick the number by (`Ventas`); optional.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub queue: String,
}

impl Default for WhatsAppSettings {
    fn default() -> Self {
        WhatsAppSettings {
            verify_token: String::new(),
            verify_token_file: None,
            app_secret: String::new(),
            app_secret_file: None,
            access_token: String::new(),
            access_token_file: None,
            graph_url: "https://graph.facebook.com/v21.0".into(),
            waba_id: String::new(),
            numbers: Vec::new(),
            messages_per_second: 80,
            pair_burst: 5,
            pair_interval_ms: 6_000,
            max_open_per_agent: 10,
            window_warning_minutes: 60,
            media_dir: "whatsapp-media".into(),
            s3: None,
        }
    }
}

impl std::fmt::Debug for WhatsAppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppSettings")
            .field("verify_token", &REDACTED)
            .field("verify_token_file", &self.verify_token_file)
            .field("app_secret", &REDACTED)
            .field("app_secret_file", &self.app_secret_file)
            .field("access_token", &REDACTED)
            .field("access_token_file", &self.access_token_file)
            .field("graph_url", &self.graph_url)
            .field("waba_id", &self.waba_id)
            .field("numbers", &self.numbers)
            .field("messages_per_second", &self.messages_per_second)
            .field("pair_burst", &self.pair_burst)
            .field("pair_interval_ms", &self.pair_interval_ms)
            .field("max_open_per_agent", &self.max_open_per_agent)
            .field("window_warning_minutes", &self.window_warning_minutes)
            .field("media_dir", &self.media_dir)
            .field("s3", &self.s3)
            .finish()
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            listen: "127.0.0.1:8640".into(),
            database_url: "sqlite://enlace-hub.db".into(),
            database_url_file: None,
            trusted_proxies: Vec::new(),
            tls: None,
            ami: None,
            whatsapp: None,
            event_retention_days: 7,
            session_idle_minutes: 12 * 60,
            session_max_hours: 7 * 24,
            heartbeat_seconds: 15,
            password_memory_kib: 19 * 1024,
            password_iterations: 2,
        }
    }
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("listen", &self.listen)
            .field(
                "database_url",
                &crate::store::redact_url(&self.database_url),
            )
            .field("database_url_file", &self.database_url_file)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("tls", &self.tls)
            .field("ami", &self.ami)
            .field("whatsapp", &self.whatsapp)
            .field("event_retention_days", &self.event_retention_days)
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_max_hours", &self.session_max_hours)
            .field("heartbeat_seconds", &self.heartbeat_seconds)
            .field("password_memory_kib", &self.password_memory_kib)
            .field("password_iterations", &self.password_iterations)
            .finish()
    }
}

impl std::fmt::Debug for AmiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiSettings")
            .field("addr", &self.addr)
            .field("username", &self.username)
            .field("secret", &REDACTED)
            .field("secret_file", &self.secret_file)
            .field("interface_template", &self.interface_template)
            .field("dial_context", &self.dial_context)
            .field("originate_timeout_seconds", &self.originate_timeout_seconds)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Parse { path: String, message: String },
    /// A file holding a secret may be read (or changed) by other users of the machine.
    #[error(
        "{path} holds secrets and is accessible to other users (mode {mode:03o}); \
         run: chmod 600 {path}"
    )]
    Exposed { path: String, mode: u32 },
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config_unreadable",
            ConfigError::Parse { .. } => "config_invalid",
            ConfigError::Exposed { .. } => "secret_file_exposed",
        }
    }
}

/// Refuses a file holding secrets that users other than its owner may read or change
/// (group or others read, group or others write: like ssh with private keys, group read is
/// refused too).
pub fn check_private(path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::Exposed {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    // Elsewhere (Windows) file modes do not exist; ACLs are the administrator's business.
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A secret read from its own file: private, trailing line break removed.
fn read_secret_file(path: &Path) -> Result<String, ConfigError> {
    check_private(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

impl HubConfig {
    /// Reads `path` (refused if it holds a secret and other users may read it), then takes
    /// secrets from their files and from the environment ([`AMI_SECRET_ENV`],
    /// [`DATABASE_URL_ENV`]).
    pub fn load(path: &Path) -> Result<HubConfig, ConfigError> {
        HubConfig::load_with_env(path, &|name| std::env::var(name).ok())
    }

    /// [`HubConfig::load`] with the environment given (tests).
    pub fn load_with_env(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = HubConfig::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })?;
        if config.holds_inline_secret() {
            check_private(path)?;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_secrets(base, env)?;
        Ok(config)
    }

    /// Whether the file itself holds a secret (an AMI secret, a database URL with a password).
    pub fn holds_inline_secret(&self) -> bool {
        self.ami.as_ref().is_some_and(|a| !a.secret.is_empty())
            || self.whatsapp.as_ref().is_some_and(|w| {
                !w.verify_token.is_empty()
                    || !w.app_secret.is_empty()
                    || !w.access_token.is_empty()
                    || w.s3
                        .as_ref()
                        .is_some_and(|s| !s.secret_access_key.is_empty())
            })
            || crate::store::url_has_password(&self.database_url)
    }

    /// Fills secrets from `*_file` keys (relative to `base`) and from the environment, which
    /// wins.
    pub fn resolve_secrets(
        &mut self,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let in_base = |p: &str| -> PathBuf { base.join(p) };
        if let Some(file) = &self.database_url_file {
            self.database_url = read_secret_file(&in_base(file))?;
        }
        if let Some(url) = env(DATABASE_URL_ENV).filter(|v| !v.is_empty()) {
            self.database_url = url;
        }
        if let Some(ami) = &mut self.ami {
            if let Some(file) = &ami.secret_file {
                ami.secret = read_secret_file(&in_base(file))?;
            }
            if let Some(secret) = env(AMI_SECRET_ENV).filter(|v| !v.is_empty()) {
                ami.secret = secret;
            }
        }
        if let Some(wa) = &mut self.whatsapp {
            for (value, file, var) in [
                (
                    &mut wa.verify_token,
                    &wa.verify_token_file,
                    WHATSAPP_VERIFY_TOKEN_ENV,
                ),
                (
                    &mut wa.app_secret,
                    &wa.app_secret_file,
                    WHATSAPP_APP_SECRET_ENV,
                ),
                (
                    &mut wa.access_token,
                    &wa.access_token_file,
                    WHATSAPP_ACCESS_TOKEN_ENV,
                ),
            ] {
                if let Some(file) = file {
                    *value = read_secret_file(&in_base(file))?;
                }
                if let Some(secret) = env(var).filter(|v| !v.is_empty()) {
                    *value = secret;
                }
            }
            if let Some(s3) = &mut wa.s3 {
                if let Some(file) = &s3.secret_access_key_file {
                    s3.secret_access_key = read_secret_file(&in_base(file))?;
                }
                if let Some(secret) = env(WHATSAPP_S3_SECRET_ENV).filter(|v| !v.is_empty()) {
                    s3.secret_access_key = secret;
                }
            }
        }
        Ok(())
    }

    /// The trusted proxies, parsed.
    pub fn proxies(&self) -> Result<Vec<Cidr>, String> {
        self.trusted_proxies
            .iter()
            .map(|c| {
                c.parse::<Cidr>()
                    .map_err(|e| format!("trusted_proxies: {e}"))
            })
            .collect()
    }

    pub fn parse(text: &str) -> Result<HubConfig, String> {
        let config: HubConfig = toml::from_str(text).map_err(|e| {
            // Not `e.to_string()`: it quotes the offending line, which may hold a secret.
            match e.span() {
                Some(span) => {
                    let line = text
                        .get(..span.start)
                        .map_or(0, |before| before.matches('\n').count())
                        + 1;
                    format!("line {line}: {}", e.message())
                }
                None => e.message().to_owned(),
            }
        })?;
        if let Some(ami) = &config.ami {
            if !ami.interface_template.contains("{extension}") {
                return Err("ami.interface_template must contain {extension}".into());
            }
            if !ami.secret.is_empty() && ami.secret_file.is_some() {
                return Err("ami: set secret or secret_file, not both".into());
            }
        }
        if let Some(wa) = &config.whatsapp {
            for (value, file, name) in [
                (&wa.verify_token, &wa.verify_token_file, "verify_token"),
                (&wa.app_secret, &wa.app_secret_file, "app_secret"),
                (&wa.access_token, &wa.access_token_file, "access_token"),
            ] {
                if !value.is_empty() && file.is_some() {
                    return Err(format!("whatsapp: set {name} or {name}_file, not both"));
                }
            }
            if wa.messages_per_second == 0 || wa.pair_burst == 0 {
                return Err(
                    "whatsapp.messages_per_second and whatsapp.pair_burst must be at least 1"
                        .into(),
                );
            }
            let mut seen = std::collections::HashSet::new();
            for n in &wa.numbers {
                if n.phone_number_id.trim().is_empty() || !seen.insert(&n.phone_number_id) {
                    return Err(
                        "whatsapp.numbers: each phone_number_id must be set and unique".into(),
                    );
                }
            }
        }
        config.proxies()?;
        if config.password_memory_kib < 8 || config.password_iterations == 0 {
            return Err(
                "password_memory_kib must be at least 8 and password_iterations at least 1".into(),
            );
        }
        if config.heartbeat_seconds == 0 {
            return Err("heartbeat_seconds must be at least 1".into());
        }
        // A session's stream must be resumable for as long as the session lives.
        if config.event_retention() < config.session_max() {
            return Err(format!(
                "event_retention_days ({} days) must be at least session_max_hours ({} h): \
                 a desktop resumes its stream from events as old as its session",
                config.event_retention_days, config.session_max_hours
            ));
        }
        Ok(config)
    }

    pub fn password_cost(&self) -> crate::auth::PasswordCost {
        crate::auth::PasswordCost {
            memory_kib: self.password_memory_kib,
            iterations: self.password_iterations,
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_idle_minutes) * 60)
    }

    pub fn session_max(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_max_hours) * 3600)
    }

    pub fn event_retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.event_retention_days) * 86_400)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(u64::from(self.heartbeat_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_defaults_and_round_trips() {
        let c = HubConfig::parse("listen = \"0.0.0.0:9000\"\n[ami]\naddr = \"pbx:5038\"\n")
            .expect("parses");
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(
            c.ami.as_ref().map(|a| a.interface_template.as_str()),
            Some("PJSIP/{extension}")
        );
        assert_eq!(HubConfig::parse(&c.to_toml()).expect("round trip"), c);
    }

    #[test]
    fn a_retention_shorter_than_the_longest_session_is_refused() {
        let err = HubConfig::parse("event_retention_days = 1\nsession_max_hours = 25\n")
            .expect_err("refused");
        assert!(err.contains("event_retention_days"), "{err}");
        assert!(HubConfig::parse("event_retention_days = 1\nsession_max_hours = 24\n").is_ok());
        assert!(HubConfig::parse("").is_ok(), "the defaults agree");
    }

    #[test]
    fn unknown_keys_and_bad_templates_are_refused() {
        assert!(HubConfig::parse("lisen = \"x\"").is_err());
        assert!(HubConfig::parse("[ami]\ninterface_template = \"PJSIP/1001\"").is_err());
    }
}
