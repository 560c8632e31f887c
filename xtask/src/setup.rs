//! `cargo xtask setup`: installs the system packages the build, the app and the tests need
//! (Debian/Ubuntu through apt; elsewhere it prints what to install), then the UI's npm
//! packages. To need a new system package, add it to [`DEBIAN_BUILD`] or [`DEBIAN_RUNTIME`]
//! (and its Fedora/Arch name to the hints).

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::cmd::{self, Report, TaskError, TaskResult};
use crate::paths;

/// Build dependencies of a Tauri 2 app on Debian 12 (tauri-on-linux.md §3).
pub const DEBIAN_BUILD: &[&str] = &[
    "build-essential",
    "pkg-config",
    "curl",
    "wget",
    "file",
    "patchelf",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "libssl-dev",
    "libxdo-dev",
    // only a Recommends of WebKitGTK, but without it the web process aborts (pitfall P1)
    "libgl1-mesa-dri",
    // keyring (sync-secret-service) and notify-rust link libdbus
    "libdbus-1-dev",
    // used by the deep-link plugin's runtime registration
    "desktop-file-utils",
    "xdg-utils",
    // enlace-voice: cpal's ALSA backend (alsa-sys)
    "libasound2-dev",
    // enlace-voice: the Opus encoder/decoder (audiopus_sys finds it through pkg-config)
    "libopus-dev",
];

/// Tools the app and the tests use at run time: headless X, a private session bus, the
/// WebDriver, the OS keyring and notification daemons, the real SIP peers.
pub const DEBIAN_RUNTIME: &[&str] = &[
    "xvfb",
    "xauth",
    "dbus",
    // the position test runs GeoClue (its NMEA source and demo agent) on a private bus
    "geoclue-2.0",
    "webkit2gtk-driver",
    "gnome-keyring",
    "libsecret-tools",
    "dunst",
    "libnotify-bin",
    "imagemagick",
    "baresip-core",
    "sip-tester",
    "sipsak",
    "iproute2",
    "librsvg2-bin",
    "fonts-dejavu-core",
    // the chat's emoji (picker and messages) in the real window under Xvfb
    "fonts-noto-color-emoji",
    "libglib2.0-bin",
    "postgresql",
    // pip for moto's S3 server (ensure_python_peers)
    "python3-pip",
    // the e2e test drives the OS file dialog (Agregar archivo) under Xvfb; the bench finds windows
    "xdotool",
    // the audio-path tests run a private PulseAudio server whose microphone hears a tone
    "pulseaudio",
    // pactl: PulseServer waits until the private server answers
    "pulseaudio-utils",
    // ALSA's pulse/default PCMs, through which cpal reaches PulseAudio
    "libasound2-plugins",
    // WebKitGTK plays <audio>/<video> through GStreamer, and without these it refuses every
    // source (MEDIA_ERR_SRC_NOT_SUPPORTED): base has playbin, oggdemux, opusdec and vorbis;
    // good has pulsesink/autoaudiosink, wavparse and the MP4 demuxer; libav decodes the AAC,
    // AMR and H.264 that customers' phones send; bad has the fakevideosink WebKit's player
    // uses for audio-only media, and gl its video path (both Recommends of WebKitGTK)
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-libav",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-gl",
    // the desktop package check reads the .rpm's file list and scripts (`rpm -qlp`)
    "rpm",
];

/// Extra tools only `cargo xtask bench` uses.
pub const DEBIAN_BENCH: &[&str] = &["linphone-desktop"];

const FEDORA_HINT: &str = "sudo dnf install -y @development-tools webkit2gtk4.1-devel \
openssl-devel curl wget file patchelf libappindicator-gtk3-devel librsvg2-devel libxdo-devel \
dbus-devel mesa-dri-drivers desktop-file-utils xdg-utils alsa-lib-devel opus-devel \
xorg-x11-server-Xvfb xorg-x11-xauth dbus-daemon gnome-keyring libsecret dunst libnotify \
ImageMagick baresip sipp sipsak iproute librsvg2-tools dejavu-sans-fonts \
google-noto-emoji-color-fonts glib2 pulseaudio pulseaudio-utils alsa-plugins-pulseaudio \
geoclue2 gstreamer1-plugins-base gstreamer1-plugins-good gstreamer1-plugin-libav \
gstreamer1-plugins-bad-free";

const ARCH_HINT: &str = "sudo pacman -S --needed base-devel webkit2gtk-4.1 openssl curl wget \
file patchelf libappindicator-gtk3 librsvg xdotool dbus mesa desktop-file-utils xdg-utils \
xorg-server-xvfb xorg-xauth gnome-keyring libsecret dunst libnotify imagemagick baresip \
iproute2 ttf-dejavu glib2 alsa-lib opus pulseaudio alsa-plugins geoclue gst-plugins-base \
gst-plugins-good gst-plugins-bad gst-libav   # plus sipp and sipsak \
from the AUR";

/// The operating system families we know how to prepare.
#[derive(Debug, PartialEq, Eq)]
pub enum Os {
    Debian,
    Fedora,
    Arch,
    Mac,
    Windows,
    Other(String),
}

/// Reads `/etc/debian_version` and `/etc/os-release` (ID, ID_LIKE).
pub fn detect_os() -> Os {
    if cfg!(target_os = "macos") {
        return Os::Mac;
    }
    if cfg!(windows) {
        return Os::Windows;
    }
    if Path::new("/etc/debian_version").exists() {
        return Os::Debian;
    }
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let ids = os_release_ids(&release);
    let has = |name: &str| ids.iter().any(|id| id == name);
    if has("debian") || has("ubuntu") {
        Os::Debian
    } else if has("fedora") || has("rhel") {
        Os::Fedora
    } else if has("arch") {
        Os::Arch
    } else {
        Os::Other(ids.first().cloned().unwrap_or_else(|| "unknown".to_owned()))
    }
}

/// The words of `ID` and `ID_LIKE` in an os-release file, lowercase, quotes removed.
fn os_release_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            line.strip_prefix("ID=")
                .or_else(|| line.strip_prefix("ID_LIKE="))
        })
        .flat_map(|value| {
            value
                .trim_matches(|c| c == '"' || c == '\'')
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `cargo xtask setup`.
pub fn setup(report: &mut Report) -> TaskResult<()> {
    report.step("system packages", || {
        ensure_packages(&[DEBIAN_BUILD, DEBIAN_RUNTIME])
    })?;
    report.step("toolchain components", ensure_rust_components)?;
    report.step("ui packages (npm ci)", ensure_ui_packages)?;
    report.step("python test peers (moto S3 server)", ensure_python_peers)?;
    Ok(())
}

/// moto's S3 server (PyPI), the S3-compatible storage the hub's WhatsApp media tests use.
const PYTHON_PEERS: &[&str] = &["moto[server]>=5,<6"];

/// `pip install` of [`PYTHON_PEERS`] when `moto_server` is missing (with
/// `--break-system-packages` where the system Python refuses otherwise).
fn ensure_python_peers() -> TaskResult<()> {
    if cmd::which("moto_server").is_some() {
        println!("moto_server is installed");
        return Ok(());
    }
    let pip = |extra: &[&str]| {
        let mut c = Command::new("python3");
        c.args(["-m", "pip", "install", "--quiet"])
            .args(extra)
            .args(PYTHON_PEERS);
        c
    };
    cmd::run(&mut pip(&[])).or_else(|_| cmd::run(&mut pip(&["--break-system-packages"])))?;
    if let Some(pyenv) = cmd::which("pyenv") {
        // pyenv's shims learn about new console scripts only after a rehash.
        let _ = cmd::run(Command::new(pyenv).arg("rehash"));
    }
    Ok(())
}

/// Installs the missing packages of `groups` on Debian/Ubuntu; elsewhere explains and stops.
pub fn ensure_packages(groups: &[&[&str]]) -> TaskResult<()> {
    let wanted: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    match detect_os() {
        Os::Debian => install_debian(&wanted),
        Os::Fedora => Err(not_debian("Fedora", FEDORA_HINT)),
        Os::Arch => Err(not_debian("Arch Linux", ARCH_HINT)),
        Os::Mac => Err(TaskError::Precondition(
            "macOS: install the Xcode Command Line Tools (`xcode-select --install`) and \
             Node.js >= 20.19; the headless test session (Xvfb, gnome-keyring, dunst, baresip) \
             is Linux-only, use `cargo test` for the unit tests"
                .to_owned(),
        )),
        Os::Windows => Err(TaskError::Precondition(
            "Windows: install the Microsoft C++ Build Tools and the WebView2 runtime \
             (preinstalled on Windows 11) and Node.js >= 20.19; the headless test session is \
             Linux-only, use `cargo test` for the unit tests"
                .to_owned(),
        )),
        Os::Other(id) => Err(TaskError::Precondition(format!(
            "unknown Linux distribution `{id}`: install the equivalents of these Debian \
             packages, then rerun: {}",
            wanted.join(" ")
        ))),
    }
}

fn not_debian(name: &str, hint: &str) -> TaskError {
    TaskError::Precondition(format!(
        "{name} is not set up automatically (package names unverified); install roughly:\n  \
         {hint}\nand Node.js >= 20.19, then rerun"
    ))
}

fn install_debian(wanted: &[&str]) -> TaskResult<()> {
    let mut missing = missing_debian_packages(wanted)?;
    if !node_is_recent() {
        match apt_candidate("nodejs") {
            Some(version) if node_version_ok(&version) => {
                missing.push("nodejs".to_owned());
                if cmd::which("npm").is_none() {
                    missing.push("npm".to_owned());
                }
            }
            other => {
                return Err(TaskError::Precondition(format!(
                    "Node.js >= 20.19 is needed for the UI (Vite 8); apt offers {}; install it \
                     from https://nodejs.org or NodeSource, then rerun",
                    other.unwrap_or_else(|| "no nodejs".to_owned())
                )))
            }
        }
    }
    if missing.is_empty() {
        println!("all {} system packages are installed", wanted.len());
        return Ok(());
    }
    println!("missing system packages: {}", missing.join(" "));
    cmd::run(&mut apt(&["update"])?)?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(missing.iter().map(String::as_str));
    cmd::run(&mut apt(&install)?)
}

/// Which of `wanted` are not installed according to `dpkg-query`.
fn missing_debian_packages(wanted: &[&str]) -> TaskResult<Vec<String>> {
    let mut missing = Vec::new();
    for package in wanted {
        let installed = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .stderr(std::process::Stdio::null())
            .output()
            .map_err(|source| TaskError::Spawn {
                program: "dpkg-query".to_owned(),
                source,
            })
            .map(|out| {
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains("install ok installed")
            })?;
        if !installed {
            missing.push((*package).to_owned());
        }
    }
    Ok(missing)
}

/// `apt-get <args>` as root, through `sudo env DEBIAN_FRONTEND=noninteractive` when needed.
fn apt(args: &[&str]) -> TaskResult<Command> {
    let mut command = if is_root() {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    } else {
        if cmd::which("sudo").is_none() {
            return Err(TaskError::Precondition(
                "installing system packages needs root, and `sudo` is not installed; rerun \
                 `cargo xtask setup` as root"
                    .to_owned(),
            ));
        }
        let mut c = Command::new("sudo");
        c.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        c
    };
    command.args(args);
    Ok(command)
}

pub fn is_root() -> bool {
    cmd::output(Command::new("id").arg("-u"))
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false)
}

/// The candidate version apt would install, e.g. `20.20.2-1nodesource1`.
fn apt_candidate(package: &str) -> Option<String> {
    let policy = cmd::output(Command::new("apt-cache").args(["policy", package])).ok()?;
    policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| v != "(none)")
}

fn node_is_recent() -> bool {
    cmd::output(Command::new("node").arg("--version"))
        .map(|v| node_version_ok(&v))
        .unwrap_or(false)
}

/// Vite 8 needs Node `^20.19 || >= 22.12`. Accepts `v20.20.2`, `20.19.0-1nodesource`, `1:22.1`.
fn node_version_ok(version: &str) -> bool {
    let v = version.trim().trim_start_matches('v');
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    match major {
        20 => minor >= 19,
        22 => minor >= 12,
        m => m > 22,
    }
}

/// rustfmt and clippy are needed by `cargo xtask test`; add them through rustup if missing.
fn ensure_rust_components() -> TaskResult<()> {
    let has = |sub: &str| {
        cmd::output(cmd::cargo().args([sub, "--version"]))
            .map(|_| true)
            .unwrap_or(false)
    };
    let missing: Vec<&str> = [("fmt", "rustfmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(sub, _)| !has(sub))
        .map(|(_, component)| component)
        .collect();
    if missing.is_empty() {
        println!("rustfmt and clippy are installed");
        return Ok(());
    }
    if cmd::which("rustup").is_none() {
        return Err(TaskError::Precondition(format!(
            "the Rust components {} are missing and rustup is not installed",
            missing.join(", ")
        )));
    }
    cmd::run(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
}

/// `npm ci` in `ui/` when `node_modules` is missing or older than `package-lock.json`.
pub fn ensure_ui_packages() -> TaskResult<()> {
    let ui = paths::ui();
    let lock = ui.join("package-lock.json");
    if !lock.exists() {
        return Err(TaskError::Precondition(format!(
            "{} is missing: the UI must commit its lock file",
            lock.display()
        )));
    }
    // npm writes node_modules/.package-lock.json on every install; fall back to the folder.
    let marker = ui.join("node_modules").join(".package-lock.json");
    let installed = modified(&marker).or_else(|| modified(&ui.join("node_modules")));
    let stale = match (installed, modified(&lock)) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if !stale {
        println!("ui/node_modules is up to date");
        return Ok(());
    }
    cmd::run(crate::ui::npm().arg("ci").current_dir(&ui))
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_ids_reads_id_and_id_like() {
        let ubuntu = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n";
        assert_eq!(os_release_ids(ubuntu), vec!["ubuntu", "debian"]);
        let mint = "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n";
        assert_eq!(os_release_ids(mint), vec!["linuxmint", "ubuntu", "debian"]);
    }

    #[test]
    fn node_versions_follow_vite_requirements() {
        assert!(node_version_ok("v20.20.2"));
        assert!(node_version_ok("20.19.0-1nodesource1"));
        assert!(node_version_ok("v24.1.0"));
        assert!(!node_version_ok("v20.18.1"));
        assert!(!node_version_ok("18.19.0+dfsg-6~deb12u2"));
        assert!(!node_version_ok("v22.11.0"));
        assert!(node_version_ok("v22.12.0"));
    }

    #[test]
    fn package_lists_have_no_duplicates() {
        let mut all: Vec<&str> = DEBIAN_BUILD
            .iter()
            .chain(DEBIAN_RUNTIME)
            .chain(DEBIAN_BENCH)
            .copied()
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
