//! Open a web page in the agent's browser (CRM sign-in pages and records, map links of chat
//! locations) and a downloaded file with the program the OS has for it (chat documents).
//!
//! Only `http`/`https` URLs without whitespace or control characters are opened, and only
//! absolute paths of existing files; always as one argument of the OS opener (`xdg-open`,
//! `open`, `explorer.exe`) — never through a shell. A [`Browser::Program`] (e.g. from
//! `ENLACE_BROWSER="curl -sfL"`) replaces the opener for both: the end-to-end tests use it to
//! follow the sign-in redirects without a desktop browser.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

/// How URLs are opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Browser {
    /// The desktop's default browser.
    System,
    /// `program args… <url>`.
    Program { program: String, args: Vec<String> },
}

impl Browser {
    /// Parse `program arg…` (split on whitespace; no quoting, no shell).
    pub fn from_command_line(value: &str) -> Option<Browser> {
        let mut parts = value.split_whitespace().map(str::to_owned);
        let program = parts.next()?;
        Some(Browser::Program {
            program,
            args: parts.collect(),
        })
    }

    /// Open `url`; returns once the opener started (it is reaped on a thread).
    pub fn open(&self, url: &str) -> Result<(), BrowserError> {
        check_url(url)?;
        self.start(url.as_ref())
    }

    /// Open the file at `path` (absolute, existing) with the OS's program for its type;
    /// returns once the opener started.
    pub fn open_file(&self, path: &Path) -> Result<(), BrowserError> {
        check_file(path)?;
        self.start(path.as_os_str())
    }

    fn start(&self, target: &OsStr) -> Result<(), BrowserError> {
        let mut cmd = match self {
            Browser::System => system_opener(),
            Browser::Program { program, args } => {
                let mut cmd = Command::new(program);
                cmd.args(args);
                cmd
            }
        };
        cmd.arg(target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| BrowserError::Failed(e.to_string()))?;
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrowserError {
    #[error("only http and https addresses are opened")]
    NotWeb,
    #[error("only an existing file given by its absolute path is opened")]
    NotFile,
    #[error("could not start the browser: {0}")]
    Failed(String),
}

fn check_url(url: &str) -> Result<(), BrowserError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    if !web || url.len() > 8_192 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(BrowserError::NotWeb);
    }
    Ok(())
}

fn check_file(path: &Path) -> Result<(), BrowserError> {
    let clean = path
        .to_str()
        .is_some_and(|p| !p.chars().any(char::is_control));
    if !clean || !path.is_absolute() || !path.is_file() {
        return Err(BrowserError::NotFile);
    }
    Ok(())
}

fn system_opener() -> Command {
    #[cfg(target_os = "macos")]
    let program = "open";
    #[cfg(target_os = "windows")]
    let program = "explorer.exe";
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let program = "xdg-open";
    Command::new(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_web_urls_are_opened() {
        assert!(check_url("https://login.salesforce.com/services/oauth2/authorize?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:5000/a").is_ok());
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://a b",
            "https://a\n",
            "tel:+50640004000",
            "",
        ] {
            assert_eq!(check_url(bad), Err(BrowserError::NotWeb), "{bad:?}");
        }
    }

    #[test]
    fn only_existing_files_by_absolute_path_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("factura.pdf");
        std::fs::write(&file, b"%PDF-1.4").unwrap();
        assert!(check_file(&file).is_ok());
        for bad in [
            dir.path().to_path_buf(),
            dir.path().join("missing.pdf"),
            Path::new("factura.pdf").to_path_buf(),
            dir.path().join("a\nb"),
        ] {
            assert_eq!(check_file(&bad), Err(BrowserError::NotFile), "{bad:?}");
        }
    }

    /// The path is one argument, as it is (GNU `cp -t <dir> <file>` copies what it received).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_reaches_the_program_as_one_argument() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("foto de Ana; rm -rf x.jpg");
        std::fs::write(&file, b"jpeg").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let program = Browser::Program {
            program: "cp".into(),
            args: vec!["-t".into(), out.display().to_string()],
        };
        program.open_file(&file).unwrap();
        let copied = out.join("foto de Ana; rm -rf x.jpg");
        // The opener runs on its own; wait for its copy (bounded), no timing asserted.
        for _ in 0..400 {
            if std::fs::read(&copied).is_ok_and(|b| b == b"jpeg") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("the program never received the path");
    }

    #[test]
    fn command_lines_split_on_whitespace() {
        assert_eq!(
            Browser::from_command_line("curl -sfL"),
            Some(Browser::Program {
                program: "curl".into(),
                args: vec!["-sfL".into()]
            })
        );
        assert_eq!(Browser::from_command_line("  "), None);
    }
}
