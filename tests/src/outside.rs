//! What the sending tests (issue 12) need outside the window: the agent's Documents folder
//! (XDG user dirs in a per-test config home), a PDF fixture, the OS file dialog (GTK's file
//! chooser, opened by the app's dialog plugin) driven with `xdotool` on the same X display,
//! and a reader of the OGG/Opus headers of a voice note.
//!
//! `xdotool` talks to the X server of `DISPLAY` through XTEST, like a keyboard would: the dialog
//! is found as the visible window that appeared after the click, focused
//! (`windowfocus`, which needs no window manager), then given Ctrl+L, the path and Return.

use std::path::PathBuf;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::webdriver::WebDriverError;

/// A per-test `XDG_CONFIG_HOME` whose `user-dirs.dirs` names a fresh Documents folder. Pass
/// [`AgentFolders::config_home`] as the app's `XDG_CONFIG_HOME`: GLib (the GTK dialog) and the
/// `dirs` crate both read the Documents folder from there. Removed on drop.
#[derive(Debug)]
pub struct AgentFolders {
    root: TempDir,
}

impl AgentFolders {
    pub fn new() -> std::io::Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("enlace-e2e-folders-")
            .tempdir()?;
        let config = root.path().join("config");
        let documents = root.path().join("Documents");
        std::fs::create_dir_all(&config)?;
        std::fs::create_dir_all(&documents)?;
        // Absolute paths are allowed in user-dirs.dirs (xdg-user-dirs(5)).
        std::fs::write(
            config.join("user-dirs.dirs"),
            format!("XDG_DOCUMENTS_DIR=\"{}\"\n", documents.display()),
        )?;
        Ok(Self { root })
    }

    /// The `XDG_CONFIG_HOME` to give the app.
    pub fn config_home(&self) -> PathBuf {
        self.root.path().join("config")
    }

    /// The Documents folder.
    pub fn documents(&self) -> PathBuf {
        self.root.path().join("Documents")
    }

    /// Writes `bytes` as `name` in Documents; returns its path.
    pub fn put_document(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.documents().join(name);
        std::fs::write(&path, bytes)?;
        Ok(path)
    }
}

/// A small, valid one-page PDF (correct cross-reference offsets) that shows `line`.
pub fn pdf_with_text(line: &str) -> Vec<u8> {
    let text: String = line
        .chars()
        .filter(|c| c.is_ascii() && !matches!(c, '(' | ')' | '\\'))
        .collect();
    let content = format!("BT /F1 24 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        table.push_str(&format!("{offset:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.extend_from_slice(table.as_bytes());
    pdf
}

// ---------------------------------------------------------------------------------------------
// The OS file dialog

fn xdotool(args: &[&str]) -> Result<String, WebDriverError> {
    let out = Command::new("xdotool")
        .args(args)
        .output()
        .map_err(|e| WebDriverError::io("run xdotool (Debian package xdotool)", e))?;
    // `search` exits 1 when nothing matches: that is an empty answer, not a failure.
    if out.status.success() || args.first() == Some(&"search") {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(WebDriverError::Reply {
            what: format!("xdotool {}", args.join(" ")),
            body: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// The X windows that are mapped now (ids as xdotool prints them).
pub fn visible_windows() -> Result<Vec<String>, WebDriverError> {
    Ok(xdotool(&["search", "--onlyvisible", "--name", ""])?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// A window's title (`getwindowname`).
fn window_name(id: &str) -> String {
    xdotool(&["getwindowname", id])
        .map(|n| n.trim().to_owned())
        .unwrap_or_default()
}

/// A window's size in pixels (`getwindowgeometry --shell`), `(0, 0)` when unknown.
fn window_size(id: &str) -> (u32, u32) {
    let text = xdotool(&["getwindowgeometry", "--shell", id]).unwrap_or_default();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (value("WIDTH="), value("HEIGHT="))
}

/// Waits for a visible window that was not in `before` (the dialog the app just opened) and
/// returns its id and title. GTK also maps a 1×1 helper window, and a dialog may have no title:
/// the largest new window at least 100×100 is the dialog.
pub fn wait_new_window(
    before: &[String],
    timeout: Duration,
) -> Result<(String, String), WebDriverError> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = visible_windows()?;
        let dialog = now
            .iter()
            .filter(|w| !before.contains(w))
            .map(|w| (w, window_size(w)))
            .filter(|(_, (width, height))| *width >= 100 && *height >= 100)
            .max_by_key(|(_, (width, height))| u64::from(*width) * u64::from(*height));
        if let Some((id, _)) = dialog {
            return Ok((id.clone(), window_name(id)));
        }
        if Instant::now() >= deadline {
            return Err(WebDriverError::Timeout(format!(
                "no new window (the OS file dialog) within {timeout:?}; visible windows: {}",
                now.iter()
                    .map(|w| format!("{w} {:?} {:?}", window_name(w), window_size(w)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        sleep(Duration::from_millis(100));
    }
}

/// In the GTK file dialog `window`: focus it, Ctrl+L, type `location`, Return; waits until the
/// dialog is gone (one more Return if the location's completion swallowed the first). A bare
/// file name is looked up in the folder the dialog opened in; a path starting with `/` anywhere.
pub fn choose_file_in_dialog(
    window: &str,
    location: &str,
    timeout: Duration,
) -> Result<(), WebDriverError> {
    xdotool(&["windowfocus", "--sync", window])?;
    // The chooser builds its widgets after mapping: give it a frame or two.
    sleep(Duration::from_millis(300));
    xdotool(&["key", "--clearmodifiers", "ctrl+l"])?;
    sleep(Duration::from_millis(200));
    xdotool(&["type", "--delay", "5", "--clearmodifiers", location])?;
    sleep(Duration::from_millis(300));
    xdotool(&["key", "--clearmodifiers", "Return"])?;
    let deadline = Instant::now() + timeout;
    let mut pressed_again = false;
    loop {
        if !visible_windows()?.iter().any(|w| w == window) {
            return Ok(());
        }
        if !pressed_again && Instant::now() + timeout / 2 >= deadline {
            xdotool(&["windowfocus", "--sync", window])?;
            xdotool(&["key", "--clearmodifiers", "Return"])?;
            pressed_again = true;
        }
        if Instant::now() >= deadline {
            return Err(WebDriverError::Timeout(format!(
                "the file dialog {:?} did not close after choosing {location:?} ({timeout:?})",
                window_name(window)
            )));
        }
        sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// OGG/Opus

/// What the headers of an OGG/Opus file say (RFC 7845).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggOpus {
    pub channels: u8,
    /// The input sample rate the encoder was given (OpusHead), in Hz.
    pub input_rate: u32,
    pub pre_skip: u16,
    /// The last page's granule position (48 kHz samples).
    pub last_granule: u64,
    pub pages: usize,
    /// The second packet is OpusTags.
    pub has_tags: bool,
}

impl OggOpus {
    /// Audio length from the granule positions, in ms.
    pub fn duration_ms(&self) -> u64 {
        self.last_granule.saturating_sub(u64::from(self.pre_skip)) / 48
    }
}

/// Reads the pages of an OGG stream and the OpusHead of its first packet. Errors say what is
/// wrong (not OGG, no OpusHead, a truncated page).
pub fn read_ogg_opus(bytes: &[u8]) -> Result<OggOpus, String> {
    let mut at = 0;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut pages = 0;
    let mut last_granule = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 27)
            .ok_or_else(|| format!("a truncated page header at byte {at}"))?;
        if &header[..4] != b"OggS" {
            return Err(format!("no OggS capture pattern at byte {at}"));
        }
        let granule = u64::from_le_bytes(
            header[6..14]
                .try_into()
                .map_err(|_| "granule position".to_owned())?,
        );
        if granule != u64::MAX {
            last_granule = granule;
        }
        let segments = usize::from(header[26]);
        let table = bytes
            .get(at + 27..at + 27 + segments)
            .ok_or_else(|| format!("a truncated segment table at byte {at}"))?;
        let mut body = at + 27 + segments;
        for &lacing in table {
            let len = usize::from(lacing);
            let data = bytes
                .get(body..body + len)
                .ok_or_else(|| format!("a truncated page body at byte {body}"))?;
            if packets.len() < 2 {
                partial.extend_from_slice(data);
                if lacing < 255 {
                    packets.push(std::mem::take(&mut partial));
                }
            }
            body += len;
        }
        pages += 1;
        at = body;
    }
    let head = packets.first().ok_or("no packet")?;
    if head.len() < 19 || &head[..8] != b"OpusHead" {
        return Err("the first packet is not OpusHead".to_owned());
    }
    Ok(OggOpus {
        channels: head[9],
        pre_skip: u16::from_le_bytes([head[10], head[11]]),
        input_rate: u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
        last_granule,
        pages,
        has_tags: packets.get(1).is_some_and(|p| p.starts_with(b"OpusTags")),
    })
}

/// The frequency (Hz) of the tone in `samples` (mono, `rate` Hz), from the rising zero
/// crossings of its middle half (the edges may hold silence or the encoder's warm-up). `NaN`
/// when there is no tone (fewer than two crossings).
pub fn dominant_frequency<S: Copy + Into<f64>>(samples: &[S], rate: u32) -> f64 {
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let peak = middle
        .iter()
        .map(|s| (*s).into().abs())
        .fold(0.0_f64, f64::max);
    // Hysteresis: a crossing counts once the signal went below -10 % of the peak.
    let threshold = peak * 0.1;
    let mut armed = false;
    let mut first = None;
    let mut last = 0;
    let mut crossings = 0_u32;
    for (i, s) in middle.iter().enumerate() {
        let v: f64 = (*s).into();
        if v < -threshold {
            armed = true;
        } else if armed && v >= 0.0 {
            armed = false;
            if first.is_none() {
                first = Some(i);
            } else {
                crossings += 1;
            }
            last = i;
        }
    }
    match first {
        Some(first) if crossings > 0 && last > first => {
            #[allow(clippy::cast_precision_loss)] // sample counts are far below 2^52
            let span = (last - first) as f64;
            f64::from(crossings) * f64::from(rate) / span
        }
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn page(granule: u64, packet: &[u8], flags: u8, seq: u32) -> Vec<u8> {
        let mut p = b"OggS".to_vec();
        p.push(0);
        p.push(flags);
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        let mut lacing = vec![255u8; packet.len() / 255];
        lacing.push(u8::try_from(packet.len() % 255).unwrap());
        p.push(u8::try_from(lacing.len()).unwrap());
        p.extend_from_slice(&lacing);
        p.extend_from_slice(packet);
        p
    }

    #[test]
    fn reads_opus_head_tags_and_the_length() {
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&[0, 0, 0]);
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&[0u8; 300]); // spans two lacing values
        let mut file = page(0, &head, 2, 0);
        file.extend(page(0, &tags, 0, 1));
        file.extend(page(312 + 96_000, &[0xfc; 40], 4, 2));
        let info = read_ogg_opus(&file).unwrap();
        assert_eq!(info.channels, 1);
        assert_eq!(info.input_rate, 48_000);
        assert!(info.has_tags);
        assert_eq!(info.pages, 3);
        assert_eq!(info.duration_ms(), 2_000);

        assert!(read_ogg_opus(b"RIFF....WAVE").is_err());
        assert!(read_ogg_opus(&file[..file.len() - 3]).is_err());
        let mut not_opus = page(0, b"\x01vorbis\0\0\0\0\0\0\0\0\0\0\0\0\0", 2, 0);
        not_opus.extend(page(0, &tags, 0, 1));
        assert!(read_ogg_opus(&not_opus).is_err());
    }

    #[test]
    fn finds_the_frequency_of_a_tone() {
        let rate = 48_000;
        let tone: Vec<f32> = (0..rate)
            .map(|i| {
                let t = f64::from(i) / f64::from(rate);
                #[allow(clippy::cast_possible_truncation)]
                let v = (0.3 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32;
                v
            })
            .collect();
        let hz = dominant_frequency(&tone, rate);
        assert!((hz - 440.0).abs() < 2.0, "{hz}");
        let ints: Vec<i16> = (0..16_000)
            .map(|i| {
                let t = f64::from(i) / 16_000.0;
                #[allow(clippy::cast_possible_truncation)]
                let v = (8_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * t).sin()) as i16;
                v
            })
            .collect();
        let hz = dominant_frequency(&ints, 16_000);
        assert!((hz - 1_000.0).abs() < 5.0, "{hz}");
        assert!(dominant_frequency(&[0.0_f32; 1000], rate).is_nan());
    }

    #[test]
    fn the_pdf_fixture_has_true_offsets() {
        let pdf = pdf_with_text("Cotización (tour)");
        let text = String::from_utf8_lossy(&pdf).into_owned();
        assert!(pdf.starts_with(b"%PDF-1.4"));
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[start..].starts_with(b"xref"));
        let first = text.find("0000000000 65535 f \n").unwrap() + 20;
        for (i, line) in text[first..].lines().take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(
                pdf[offset..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "object {}",
                i + 1
            );
        }
    }

    #[test]
    fn user_dirs_name_the_documents_folder() {
        let folders = AgentFolders::new().unwrap();
        let dirs = std::fs::read_to_string(folders.config_home().join("user-dirs.dirs")).unwrap();
        assert!(dirs.contains(&format!(
            "XDG_DOCUMENTS_DIR=\"{}\"",
            folders.documents().display()
        )));
        let path = folders.put_document("a.pdf", b"%PDF").unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"%PDF");
    }
}
