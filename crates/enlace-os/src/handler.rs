//! Is Enlace the operating system's default handler for `tel:` and `callto:` links, and make it
//! so.
//!
//! - Linux/BSD (freedesktop): the default handler of `x-scheme-handler/<scheme>` is asked with
//!   `xdg-mime query default`. [`register`] writes `$XDG_DATA_HOME/applications/<id>.desktop`
//!   (`Exec=<absolute program path> %u`, quoted only when needed, see [`exec`]), runs
//!   `update-desktop-database <dir>` when installed and `xdg-mime default <id>.desktop
//!   x-scheme-handler/<scheme>`, which writes `$XDG_CONFIG_HOME/mimeapps.list`.
//! - Windows and macOS: the installer bundle declares the schemes; since Windows 8 an app cannot
//!   make itself the default silently, so [`status`] only reports where the user chooses it.
//!
//! The desktop-file id carries the build channel ([`RELEASE_DESKTOP_ID`], [`DEV_DESKTOP_ID`]) so
//! a dev build never takes over the links of the installed release.
//!
//! Known limit: the generic `xdg-open` of xdg-utils 1.1.3 (no desktop environment detected)
//! splits `Exec` on spaces, so a program path containing a space works through `gio open` and
//! desktop environments but not through that generic backend.

pub mod exec;

use std::path::{Path, PathBuf};

pub use exec::{exec_value, parse_exec, ExecError};

/// Desktop-file id (without `.desktop`) of the release channel.
pub const RELEASE_DESKTOP_ID: &str = "enlace-handler";
/// Desktop-file id (without `.desktop`) of the dev channel.
pub const DEV_DESKTOP_ID: &str = "enlace-dev-handler";

/// A link scheme Enlace handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `tel:` (RFC 3966).
    Tel,
    /// `callto:` (de facto).
    Callto,
}

impl Scheme {
    /// Every scheme Enlace registers for, in display order.
    pub const ALL: [Scheme; 2] = [Scheme::Tel, Scheme::Callto];

    /// `"tel"` / `"callto"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Tel => "tel",
            Scheme::Callto => "callto",
        }
    }

    /// `x-scheme-handler/<scheme>`.
    pub fn mime_type(self) -> String {
        format!("x-scheme-handler/{}", self.as_str())
    }
}

/// The XDG base directories used for registration, passed explicitly to every program started
/// (so tests can sandbox them without changing the process environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XdgDirs {
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$XDG_DATA_HOME` (default `$HOME/.local/share`).
    pub data_home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME` (default `$HOME/.config`; `mimeapps.list` lives there).
    pub config_home: Option<PathBuf>,
    /// `$XDG_DATA_DIRS` split on `:` (default `/usr/local/share`, `/usr/share`).
    pub data_dirs: Vec<PathBuf>,
}

impl XdgDirs {
    /// The directories of this process' environment. Relative values are ignored, as the XDG
    /// Base Directory Specification requires.
    pub fn from_env() -> Self {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let data_dirs = std::env::var_os("XDG_DATA_DIRS")
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| p.is_absolute())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        XdgDirs {
            home: absolute("HOME"),
            data_home: absolute("XDG_DATA_HOME"),
            config_home: absolute("XDG_CONFIG_HOME"),
            data_dirs,
        }
    }

    /// A sandbox below `root`: `root/home`, `root/data`, `root/config`, no system data dirs
    /// besides the defaults.
    pub fn sandboxed(root: &Path) -> Self {
        XdgDirs {
            home: Some(root.join("home")),
            data_home: Some(root.join("data")),
            config_home: Some(root.join("config")),
            data_dirs: Vec::new(),
        }
    }

    /// `$XDG_DATA_HOME/applications`, where the handler's `.desktop` file goes.
    pub fn applications_dir(&self) -> Option<PathBuf> {
        let data_home = match (&self.data_home, &self.home) {
            (Some(d), _) => d.clone(),
            (None, Some(h)) => h.join(".local").join("share"),
            (None, None) => return None,
        };
        Some(data_home.join("applications"))
    }

    /// Every `applications` directory searched for a desktop file, most important first.
    pub fn all_applications_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.applications_dir().into_iter().collect();
        let system: Vec<PathBuf> = if self.data_dirs.is_empty() {
            vec![
                PathBuf::from("/usr/local/share"),
                PathBuf::from("/usr/share"),
            ]
        } else {
            self.data_dirs.clone()
        };
        dirs.extend(system.into_iter().map(|d| d.join("applications")));
        dirs
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    fn apply(&self, cmd: &mut std::process::Command) {
        if let Some(h) = &self.home {
            cmd.env("HOME", h);
        }
        if let Some(d) = &self.data_home {
            cmd.env("XDG_DATA_HOME", d);
        }
        if let Some(c) = &self.config_home {
            cmd.env("XDG_CONFIG_HOME", c);
        }
        if !self.data_dirs.is_empty() {
            if let Ok(joined) = std::env::join_paths(&self.data_dirs) {
                cmd.env("XDG_DATA_DIRS", joined);
            }
        }
    }
}

/// What to register: which desktop-file id, which program, with which name and icon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerSpec {
    /// Desktop-file id without `.desktop`; carries the channel ([`RELEASE_DESKTOP_ID`],
    /// [`DEV_DESKTOP_ID`]). Letters, digits, `-`, `_` and `.` only.
    pub desktop_id: String,
    /// Absolute path of the program the desktop starts with the link as its only argument.
    pub exe: PathBuf,
    /// `Name=` of the desktop entry (default `Enlace`).
    pub name: String,
    /// `Icon=`: an icon-theme name or an absolute path to a PNG/SVG (omitted when `None`).
    pub icon: Option<String>,
    /// XDG directories (default: this process' environment).
    pub dirs: XdgDirs,
    /// The entry came with the installed package ([`HandlerSpec::adopt_installed_entry`]):
    /// [`register`] only makes it the default and writes no desktop file of its own.
    pub packaged: bool,
}

impl HandlerSpec {
    /// A spec named `Enlace`, without icon, using this process' XDG environment.
    pub fn new(desktop_id: impl Into<String>, exe: impl Into<PathBuf>) -> Self {
        HandlerSpec {
            desktop_id: desktop_id.into(),
            exe: exe.into(),
            name: "Enlace".to_owned(),
            icon: None,
            dirs: XdgDirs::from_env(),
            packaged: false,
        }
    }

    /// When a system applications folder (`$XDG_DATA_DIRS/applications`, not the user's)
    /// holds an entry that starts this spec's program for `tel:` links — the one the package
    /// installed — use it: its id becomes this spec's and [`register`] writes nothing, so an
    /// installed Enlace has one handler entry and removing the package leaves none behind.
    pub fn adopt_installed_entry(mut self) -> Self {
        let user_dir = self.dirs.applications_dir();
        let system_dirs = self
            .dirs
            .all_applications_dirs()
            .into_iter()
            .filter(|d| Some(d) != user_dir.as_ref());
        for dir in system_dirs {
            for path in tel_candidates(&dir) {
                let Some(id) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".desktop"))
                else {
                    continue;
                };
                if validate_desktop_id(id).is_ok() && entry_starts(&path, &self.exe) {
                    self.desktop_id = id.to_owned();
                    self.packaged = true;
                    return self;
                }
            }
        }
        self
    }

    /// `<desktop_id>.desktop`, the value `xdg-mime` stores and reports.
    pub fn file_name(&self) -> String {
        format!("{}.desktop", self.desktop_id)
    }

    /// Where [`register`] writes the desktop file.
    pub fn desktop_file(&self) -> Option<PathBuf> {
        self.dirs
            .applications_dir()
            .map(|d| d.join(self.file_name()))
    }

    /// The text of the desktop file [`register`] writes.
    pub fn desktop_entry(&self) -> Result<String, HandlerError> {
        validate_desktop_id(&self.desktop_id)?;
        let exec = exec_value(&self.exe).map_err(HandlerError::ExePath)?;
        let mime: String = Scheme::ALL
            .iter()
            .map(|s| format!("{};", s.mime_type()))
            .collect();
        let mut text = String::from("[Desktop Entry]\nType=Application\n");
        text.push_str(&format!("Name={}\n", escape_value(&self.name)));
        text.push_str(&format!("Exec={exec}\n"));
        if let Some(icon) = &self.icon {
            text.push_str(&format!("Icon={}\n", escape_value(icon)));
        }
        text.push_str("Terminal=false\nNoDisplay=true\n");
        text.push_str(&format!("MimeType={mime}\n"));
        Ok(text)
    }
}

/// One scheme's registration state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeStatus {
    /// The scheme.
    pub scheme: Scheme,
    /// Enlace (this program, this channel) is the default handler.
    pub registered: bool,
    /// What is wrong and what to do, when not registered.
    pub detail: Option<String>,
}

/// Registration state of every scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerStatus {
    /// One entry per [`Scheme::ALL`], same order.
    pub schemes: Vec<SchemeStatus>,
    /// [`register`] can be used on this system.
    pub can_register: bool,
    /// A summary of the problems (the per-scheme details joined), `None` when all is well.
    pub detail: Option<String>,
    /// The desktop file that should be the default (`Enlace.desktop` when installed from the
    /// package), where the system has such files.
    pub desktop_file: Option<String>,
}

impl HandlerStatus {
    /// Every scheme is registered.
    pub fn all_registered(&self) -> bool {
        self.schemes.iter().all(|s| s.registered)
    }

    /// The state of one scheme.
    pub fn scheme(&self, scheme: Scheme) -> Option<&SchemeStatus> {
        self.schemes.iter().find(|s| s.scheme == scheme)
    }

    fn from_schemes(schemes: Vec<SchemeStatus>, can_register: bool) -> Self {
        let mut details: Vec<&str> = Vec::new();
        for d in schemes.iter().filter_map(|s| s.detail.as_deref()) {
            if !details.contains(&d) {
                details.push(d);
            }
        }
        let detail = (!details.is_empty()).then(|| details.join("; "));
        HandlerStatus {
            schemes,
            can_register,
            detail,
            desktop_file: None,
        }
    }
}

/// Why registration failed. `code()` is stable and meant for the UI.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// This OS registers handlers through the installer bundle.
    #[error("this system registers link handlers at install time; choose Enlace in Settings → Default apps")]
    Unsupported,
    /// The desktop-file id has characters a desktop-file id cannot have.
    #[error("invalid desktop-file id {0:?}")]
    InvalidDesktopId(String),
    /// The program path cannot be written into `Exec=`.
    #[error("cannot register this program: {0}")]
    ExePath(#[source] ExecError),
    /// Neither `$XDG_DATA_HOME` nor `$HOME` is set.
    #[error("neither XDG_DATA_HOME nor HOME is set")]
    NoDataDir,
    /// Writing the desktop file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `xdg-mime` is not installed.
    #[error("xdg-mime not found — install xdg-utils")]
    XdgMimeMissing,
    /// `xdg-mime default …` failed.
    #[error("xdg-mime could not make Enlace the default for {scheme}: links: {detail}")]
    XdgMimeFailed {
        /// `tel` / `callto`.
        scheme: &'static str,
        /// Exit status and standard error.
        detail: String,
    },
}

impl HandlerError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            HandlerError::Unsupported => "handler_unsupported",
            HandlerError::InvalidDesktopId(_) => "handler_invalid_id",
            HandlerError::ExePath(_) => "handler_exe_path",
            HandlerError::NoDataDir => "handler_no_data_dir",
            HandlerError::Write { .. } => "handler_write",
            HandlerError::XdgMimeMissing => "handler_xdg_mime_missing",
            HandlerError::XdgMimeFailed { .. } => "handler_xdg_mime_failed",
        }
    }
}

/// Text shown on systems where the bundle registers the schemes.
pub const BUNDLE_REGISTERED_DETAIL: &str =
    "registered at install by the bundle (check Settings → Default apps)";

/// Is Enlace (this spec's program and channel) the default handler of each scheme? Never fails:
/// problems are reported in the details.
pub fn status(spec: &HandlerSpec) -> HandlerStatus {
    platform::status(spec)
}

/// Makes Enlace the default handler of every scheme and returns the resulting status.
pub fn register(spec: &HandlerSpec) -> Result<HandlerStatus, HandlerError> {
    platform::register(spec)
}

fn validate_desktop_id(id: &str) -> Result<(), HandlerError> {
    let ok = !id.is_empty()
        && !id.ends_with(".desktop")
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(HandlerError::InvalidDesktopId(id.to_owned()))
    }
}

/// General escape rule for desktop-entry string values.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The `Exec=` value of the `[Desktop Entry]` group of a desktop file's text.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn desktop_exec(text: &str) -> Option<&str> {
    let mut in_main_group = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('[') {
            in_main_group = line == "[Desktop Entry]";
            continue;
        }
        if in_main_group {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim_end() == "Exec" {
                    return Some(value.trim_start());
                }
            }
        }
    }
    None
}

/// The desktop files of `dir` that may handle `tel:` links: the ones its `mimeinfo.cache` lists
/// for them (one small read, as installed packages refresh it), else every `.desktop` file.
fn tel_candidates(dir: &Path) -> Vec<PathBuf> {
    if let Ok(cache) = std::fs::read_to_string(dir.join("mimeinfo.cache")) {
        return cache
            .lines()
            .filter_map(|l| l.strip_prefix("x-scheme-handler/tel="))
            .flat_map(|ids| ids.split(';'))
            .filter(|id| !id.is_empty())
            .map(|id| dir.join(id))
            .collect();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    names
}

/// Whether the desktop file at `path` handles `tel:` links by starting `exe`.
fn entry_starts(path: &Path, exe: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let handles_tel = text.lines().any(|l| {
        l.strip_prefix("MimeType=")
            .is_some_and(|v| v.split(';').any(|m| m.trim() == "x-scheme-handler/tel"))
    });
    handles_tel
        && desktop_exec(&text)
            .and_then(|exec| parse_exec(exec).ok())
            .and_then(|args| args.into_iter().next())
            .is_some_and(|program| Path::new(&program) == exe)
}

/// Checks that the desktop file the system uses starts this spec's program.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn check_desktop_file(spec: &HandlerSpec) -> Result<(), String> {
    let name = spec.file_name();
    let Some(path) = spec
        .dirs
        .all_applications_dirs()
        .into_iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
    else {
        return Err(format!(
            "{name} is the default but the file is missing — register again"
        ));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e} — register again", path.display()))?;
    let exec = desktop_exec(&text)
        .ok_or_else(|| format!("{} has no Exec line — register again", path.display()))?;
    let args = parse_exec(exec).map_err(|e| {
        format!(
            "{} has an invalid Exec line ({e}) — register again",
            path.display()
        )
    })?;
    match args.first() {
        Some(program) if Path::new(program) == spec.exe => Ok(()),
        Some(program) => Err(format!(
            "{name} starts {program}, not this program ({}) — register again",
            spec.exe.display()
        )),
        None => Err(format!(
            "{} has an empty Exec line — register again",
            path.display()
        )),
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
mod platform {
    use super::*;
    use std::io::ErrorKind;
    use std::process::{Command, Output, Stdio};

    enum Query {
        Missing,
        Failed(String),
        Default(String),
    }

    fn run(spec: &HandlerSpec, program: &str, args: &[&str]) -> std::io::Result<Output> {
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null());
        spec.dirs.apply(&mut cmd);
        cmd.output()
    }

    fn failure_text(out: &Output) -> String {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim();
        if stderr.is_empty() {
            format!("{}", out.status)
        } else {
            format!("{}: {stderr}", out.status)
        }
    }

    fn query_default(spec: &HandlerSpec, scheme: Scheme) -> Query {
        match run(spec, "xdg-mime", &["query", "default", &scheme.mime_type()]) {
            Err(e) if e.kind() == ErrorKind::NotFound => Query::Missing,
            Err(e) => Query::Failed(e.to_string()),
            Ok(out) if !out.status.success() => Query::Failed(failure_text(&out)),
            Ok(out) => Query::Default(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        }
    }

    pub(super) fn status(spec: &HandlerSpec) -> HandlerStatus {
        if let Err(e) = validate_desktop_id(&spec.desktop_id) {
            let schemes = Scheme::ALL
                .iter()
                .map(|&scheme| SchemeStatus {
                    scheme,
                    registered: false,
                    detail: Some(e.to_string()),
                })
                .collect();
            return HandlerStatus::from_schemes(schemes, false);
        }
        let ours = spec.file_name();
        let mut xdg_mime_missing = false;
        let schemes = Scheme::ALL
            .iter()
            .map(|&scheme| {
                let s = scheme.as_str();
                let problem = match query_default(spec, scheme) {
                    Query::Missing => {
                        xdg_mime_missing = true;
                        Some(HandlerError::XdgMimeMissing.to_string())
                    }
                    Query::Failed(e) => Some(format!(
                        "xdg-mime could not tell the default for {s}: links ({e})"
                    )),
                    Query::Default(id) if id.is_empty() => {
                        Some(format!("no application is the default for {s}: links"))
                    }
                    Query::Default(id) if id == ours => check_desktop_file(spec).err(),
                    Query::Default(id) => Some(format!("{s}: links open {id}, not Enlace")),
                };
                SchemeStatus {
                    scheme,
                    registered: problem.is_none(),
                    detail: problem,
                }
            })
            .collect();
        let can_register = !xdg_mime_missing
            && spec.dirs.applications_dir().is_some()
            && exec_value(&spec.exe).is_ok();
        HandlerStatus {
            desktop_file: Some(ours),
            ..HandlerStatus::from_schemes(schemes, can_register)
        }
    }

    /// Writes this spec's own desktop file and refreshes the folder's MIME cache.
    fn write_entry(spec: &HandlerSpec) -> Result<(), HandlerError> {
        let text = spec.desktop_entry()?;
        let dir = spec
            .dirs
            .applications_dir()
            .ok_or(HandlerError::NoDataDir)?;
        std::fs::create_dir_all(&dir).map_err(|source| HandlerError::Write {
            path: dir.clone(),
            source,
        })?;
        let file = dir.join(spec.file_name());
        let tmp = dir.join(format!(".{}.tmp", spec.file_name()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|source| HandlerError::Write {
                path: file.clone(),
                source,
            })?;
        tracing::info!(file = %file.display(), "wrote the tel:/callto: handler desktop file");

        let dir_arg = dir.to_string_lossy();
        match run(spec, "update-desktop-database", &[&dir_arg]) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::debug!("update-desktop-database not installed; skipped");
            }
            Err(e) => tracing::warn!("update-desktop-database could not start: {e}"),
            Ok(out) if !out.status.success() => {
                tracing::warn!("update-desktop-database failed: {}", failure_text(&out));
            }
            Ok(_) => {}
        }
        Ok(())
    }

    pub(super) fn register(spec: &HandlerSpec) -> Result<HandlerStatus, HandlerError> {
        if !spec.packaged {
            write_entry(spec)?;
        }
        let ours = spec.file_name();
        for scheme in Scheme::ALL {
            match run(spec, "xdg-mime", &["default", &ours, &scheme.mime_type()]) {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(HandlerError::XdgMimeMissing)
                }
                Err(e) => {
                    return Err(HandlerError::XdgMimeFailed {
                        scheme: scheme.as_str(),
                        detail: e.to_string(),
                    })
                }
                Ok(out) if !out.status.success() => {
                    return Err(HandlerError::XdgMimeFailed {
                        scheme: scheme.as_str(),
                        detail: failure_text(&out),
                    })
                }
                Ok(_) => {}
            }
        }
        Ok(status(spec))
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
mod platform {
    use super::*;

    pub(super) fn status(_spec: &HandlerSpec) -> HandlerStatus {
        let schemes = Scheme::ALL
            .iter()
            .map(|&scheme| SchemeStatus {
                scheme,
                registered: false,
                detail: Some(BUNDLE_REGISTERED_DETAIL.to_owned()),
            })
            .collect();
        HandlerStatus::from_schemes(schemes, false)
    }

    pub(super) fn register(_spec: &HandlerSpec) -> Result<HandlerStatus, HandlerError> {
        Err(HandlerError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(exe: &str) -> HandlerSpec {
        HandlerSpec {
            icon: Some("/opt/enlace/icon.png".into()),
            dirs: XdgDirs::sandboxed(Path::new("/sandbox")),
            ..HandlerSpec::new(DEV_DESKTOP_ID, exe)
        }
    }

    #[test]
    fn desktop_entry_has_every_key() {
        let text = spec("/opt/enlace/enlace").desktop_entry().unwrap();
        assert_eq!(
            text,
            "[Desktop Entry]\nType=Application\nName=Enlace\nExec=/opt/enlace/enlace %u\n\
             Icon=/opt/enlace/icon.png\nTerminal=false\nNoDisplay=true\n\
             MimeType=x-scheme-handler/tel;x-scheme-handler/callto;\n"
        );
        assert_eq!(desktop_exec(&text), Some("/opt/enlace/enlace %u"));
    }

    #[test]
    fn channel_ids_differ_and_bad_ids_are_refused() {
        assert_eq!(spec("/a").file_name(), "enlace-dev-handler.desktop");
        assert_eq!(
            HandlerSpec::new(RELEASE_DESKTOP_ID, "/a").file_name(),
            "enlace-handler.desktop"
        );
        for bad in ["", "a b", "x.desktop", "../evil", ".hidden", "a/b"] {
            let s = HandlerSpec::new(bad, "/a");
            let err = s.desktop_entry().unwrap_err();
            assert_eq!(err.code(), "handler_invalid_id", "{bad:?}");
        }
        let relative = HandlerSpec::new(DEV_DESKTOP_ID, "enlace").desktop_entry();
        assert_eq!(relative.unwrap_err().code(), "handler_exe_path");
    }

    #[test]
    fn xdg_dirs_defaults() {
        let d = XdgDirs {
            home: Some("/home/ana".into()),
            ..XdgDirs::default()
        };
        assert_eq!(
            d.applications_dir(),
            Some(PathBuf::from("/home/ana/.local/share/applications"))
        );
        assert_eq!(
            d.all_applications_dirs()[1..],
            [
                PathBuf::from("/usr/local/share/applications"),
                PathBuf::from("/usr/share/applications")
            ]
        );
        assert_eq!(XdgDirs::default().applications_dir(), None);
        assert_eq!(
            spec("/a").desktop_file(),
            Some(PathBuf::from(
                "/sandbox/data/applications/enlace-dev-handler.desktop"
            ))
        );
    }

    #[test]
    fn exec_is_read_from_the_main_group_only() {
        let text = "[Desktop Action x]\nExec=/wrong\n[Desktop Entry]\nName=A\nExec = /right %u\n";
        assert_eq!(desktop_exec(text), Some("/right %u"));
        assert_eq!(desktop_exec("[Other]\nExec=/x\n"), None);
    }

    #[test]
    fn status_summary_dedupes_details() {
        let s = HandlerStatus::from_schemes(
            vec![
                SchemeStatus {
                    scheme: Scheme::Tel,
                    registered: false,
                    detail: Some("xdg-mime not found — install xdg-utils".into()),
                },
                SchemeStatus {
                    scheme: Scheme::Callto,
                    registered: false,
                    detail: Some("xdg-mime not found — install xdg-utils".into()),
                },
            ],
            false,
        );
        assert_eq!(
            s.detail.as_deref(),
            Some("xdg-mime not found — install xdg-utils")
        );
        assert!(!s.all_registered());
        assert_eq!(s.scheme(Scheme::Callto).map(|c| c.registered), Some(false));
    }

    #[test]
    fn values_are_escaped() {
        assert_eq!(escape_value("a\\b\nc\u{7}"), "a\\\\b\\nc");
    }
}
