//! The hand-off line: gives the number to another dialer (a softphone registered for `tel:`,
//! a vendor's click-to-dial program, …). It never sees the call, so it emits no call events.
//! Nothing goes through a shell: the URI or the number is exactly ONE program argument.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use enlace_core::DialTarget;
use tokio::process::Command;

use crate::error::{check_dial_string, LineError};

/// Settings of a hand-off line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOffConfig {
    pub mode: HandOffMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOffMode {
    /// Opens `template` with `{number}` replaced (e.g. `tel:{number}`, `sip:{number}@pbx`)
    /// through the OS (`xdg-open` / `open` / `explorer.exe`).
    Uri { template: String },
    /// Runs `path args_before… <number>`.
    Program {
        path: PathBuf,
        args_before: Vec<String>,
    },
}

/// A line that hands numbers to another program.
#[derive(Debug, Clone)]
pub struct HandOffLine {
    config: HandOffConfig,
}

impl HandOffLine {
    /// A hand-off line; unusable settings show in [`HandOffLine::check`] and make `dial` fail.
    pub fn new(config: HandOffConfig) -> HandOffLine {
        HandOffLine { config }
    }

    /// Checks the settings (the template has a scheme and `{number}`; the program exists).
    pub fn check(&self) -> Result<(), LineError> {
        match &self.config.mode {
            HandOffMode::Uri { template } => {
                check_template(template)?;
            }
            HandOffMode::Program { path, .. } => {
                if !program_exists(path) {
                    return Err(LineError::InvalidSetting(format!(
                        "program {} not found",
                        path.display()
                    )));
                }
            }
        }
        Ok(())
    }

    /// `Online`, or `Offline` with the reason when the settings are unusable.
    pub fn status(&self) -> crate::LineStatus {
        match self.check() {
            Ok(()) => crate::LineStatus::Online,
            Err(e) => crate::LineStatus::Offline {
                reason: e.to_string(),
            },
        }
    }

    pub fn config(&self) -> &HandOffConfig {
        &self.config
    }

    /// The URI that would be opened for `target` (URI mode only).
    pub fn uri_for(&self, target: &DialTarget) -> Result<Option<String>, LineError> {
        match &self.config.mode {
            HandOffMode::Uri { template } => {
                fill_template(template, target.dial_string()).map(Some)
            }
            HandOffMode::Program { .. } => Ok(None),
        }
    }

    /// Hands the number over. `Ok` once the program was started (its exit is not awaited).
    pub async fn dial(&self, target: &DialTarget) -> Result<(), LineError> {
        self.check()?;
        let number = target.dial_string();
        check_dial_string(number)?;
        let mut cmd = match &self.config.mode {
            HandOffMode::Uri { template } => opener(&fill_template(template, number)?),
            HandOffMode::Program { path, args_before } => {
                let mut cmd = Command::new(path);
                cmd.args(args_before).arg(number);
                cmd
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| LineError::HandOffFailed(e.to_string()))?;
        // Reap it whenever it exits.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }
}

/// A path to a file, or a bare program name found on `PATH` (as `Command` would run it).
fn program_exists(path: &Path) -> bool {
    if path.is_file() {
        return true;
    }
    let bare = path.components().count() == 1 && !path.as_os_str().is_empty();
    bare && std::env::var_os("PATH").is_some_and(|dirs| {
        std::env::split_paths(&dirs).any(|dir| {
            let candidate = dir.join(path);
            candidate.is_file() || candidate.with_extension("exe").is_file()
        })
    })
}

fn check_template(template: &str) -> Result<(), LineError> {
    let scheme_len = template.find(':').filter(|&i| {
        i > 0
            && template[..i].starts_with(|c: char| c.is_ascii_alphabetic())
            && template[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if scheme_len.is_none() {
        return Err(LineError::InvalidSetting(
            "the URI template needs a scheme such as tel:".into(),
        ));
    }
    if !template.contains("{number}") {
        return Err(LineError::InvalidSetting(
            "the URI template has no {number}".into(),
        ));
    }
    if template
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(LineError::InvalidSetting(
            "the URI template contains spaces".into(),
        ));
    }
    Ok(())
}

/// Percent-encodes everything but digits, `+` and `*` (`#` would start a URI fragment).
pub(crate) fn encode_number(number: &str) -> String {
    let mut out = String::with_capacity(number.len());
    for b in number.bytes() {
        if b.is_ascii_digit() || b == b'+' || b == b'*' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn fill_template(template: &str, number: &str) -> Result<String, LineError> {
    check_template(template)?;
    Ok(template.replace("{number}", &encode_number(number)))
}

/// The OS's "open this URI" program, with the URI as its one argument.
fn opener(uri: &str) -> Command {
    #[cfg(target_os = "macos")]
    let program = "open";
    #[cfg(target_os = "windows")]
    let program = "explorer.exe";
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let program = "xdg-open";
    let mut cmd = Command::new(program);
    cmd.arg(uri);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            fill_template("tel:{number}", "+50640004000").unwrap(),
            "tel:+50640004000"
        );
        assert_eq!(
            fill_template("sip:{number}@pbx.example.com", "*72#").unwrap(),
            "sip:*72%23@pbx.example.com"
        );
        assert_eq!(
            fill_template("callto:{number}", "4000a").unwrap(),
            "callto:4000%61"
        );
        for bad in [
            "{number}",
            "--help {number}",
            "tel:",
            "tel:{number} x",
            ":{number}",
            "1x:{number}",
        ] {
            assert!(
                matches!(fill_template(bad, "1"), Err(LineError::InvalidSetting(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_program_is_an_invalid_setting() {
        let cfg = HandOffConfig {
            mode: HandOffMode::Program {
                path: "/nonexistent/dialer".into(),
                args_before: vec![],
            },
        };
        let line = HandOffLine::new(cfg);
        assert!(matches!(line.check(), Err(LineError::InvalidSetting(_))));
        let by_name = HandOffConfig {
            mode: HandOffMode::Program {
                path: "sh".into(),
                args_before: vec![],
            },
        };
        assert_eq!(HandOffLine::new(by_name).check(), Ok(()));
        assert_eq!(line.status().as_str(), "offline");
    }
}
