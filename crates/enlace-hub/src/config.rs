//! `enlace-hub.toml`: what an administrator configures. Every field has a default so a minimal
//! file (or none, in tests) works.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// `sqlite://path/to/hub.db` (one instance) or `postgres://user@host:port/db` (several
    /// instances sharing one database; see `cluster`).
    pub database_url: String,
    /// Optional TLS certificate chain and private key (PEM files); HTTPS/WSS when set.
    pub tls: Option<TlsConfig>,
    /// The Asterisk manager connection; without it the hub runs without a PBX.
    pub ami: Option<AmiSettings>,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AmiSettings {
    /// host:port of the manager interface.
    pub addr: String,
    pub username: String,
    pub secret: String,
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
            interface_template: "PJSIP/{extension}".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 30,
        }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            listen: "127.0.0.1:8640".into(),
            database_url: "sqlite://enlace-hub.db".into(),
            tls: None,
            ami: None,
            event_retention_days: 7,
            session_idle_minutes: 12 * 60,
            session_max_hours: 7 * 24,
            heartbeat_seconds: 15,
            password_memory_kib: 19 * 1024,
            password_iterations: 2,
        }
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
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config_unreadable",
            ConfigError::Parse { .. } => "config_invalid",
        }
    }
}

impl HubConfig {
    pub fn load(path: &Path) -> Result<HubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        HubConfig::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<HubConfig, String> {
        let config: HubConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(ami) = &config.ami {
            if !ami.interface_template.contains("{extension}") {
                return Err("ami.interface_template must contain {extension}".into());
            }
        }
        if config.password_memory_kib < 8 || config.password_iterations == 0 {
            return Err(
                "password_memory_kib must be at least 8 and password_iterations at least 1".into(),
            );
        }
        if config.heartbeat_seconds == 0 {
            return Err("heartbeat_seconds must be at least 1".into());
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
    fn unknown_keys_and_bad_templates_are_refused() {
        assert!(HubConfig::parse("lisen = \"x\"").is_err());
        assert!(HubConfig::parse("[ami]\ninterface_template = \"PJSIP/1001\"").is_err());
    }
}
