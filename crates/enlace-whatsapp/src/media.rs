//! The media limits of api-facts C4, checked before an upload: the MIME types each kind accepts,
//! the size limits, and the file's first bytes (a file that is not what its type says is
//! refused, so a renamed `.exe` never leaves as a "PDF").
//!
//! Sizes are decimal (1 MB = 1,000,000 bytes), the stricter reading of Meta's "5 MB".

use crate::send::MediaKind;

const MB: u64 = 1_000_000;
const KB: u64 = 1_000;

/// Largest image (JPEG, PNG).
pub const MAX_IMAGE_BYTES: u64 = 5 * MB;
/// Largest audio file or voice note.
pub const MAX_AUDIO_BYTES: u64 = 16 * MB;
/// Largest video (MP4, 3GPP).
pub const MAX_VIDEO_BYTES: u64 = 16 * MB;
/// Largest document.
pub const MAX_DOCUMENT_BYTES: u64 = 100 * MB;
/// Largest static sticker (WebP).
pub const MAX_STATIC_STICKER_BYTES: u64 = 100 * KB;
/// Largest animated sticker (WebP).
pub const MAX_ANIMATED_STICKER_BYTES: u64 = 500 * KB;
/// Voice notes up to this size show with a play button (per Meta's documentation).
pub const VOICE_NOTE_PLAY_ICON_BYTES: u64 = 512 * KB;

/// Why a file cannot be sent as that kind of media.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    /// Over the kind's limit; `limit` names it for people (`5 MB`).
    #[error("the file has {size} bytes; WhatsApp accepts {kind} files up to {limit}")]
    TooLarge {
        kind: &'static str,
        size: u64,
        limit: &'static str,
    },
    /// A MIME type the kind does not accept; `accepted` lists those it does.
    #[error("WhatsApp does not accept {mime} as {kind} (accepted: {accepted})")]
    UnsupportedType {
        kind: &'static str,
        mime: String,
        accepted: &'static str,
    },
    /// The bytes are not a file of the declared type (or an OGG that is not mono OPUS).
    #[error("the file is not a valid {mime}: {detail}")]
    ContentMismatch { mime: String, detail: &'static str },
}

impl MediaError {
    /// Stable code: `whatsapp_media_empty`, `whatsapp_media_too_large`, `whatsapp_media_type` or
    /// `whatsapp_media_content`.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Empty => "whatsapp_media_empty",
            MediaError::TooLarge { .. } => "whatsapp_media_too_large",
            MediaError::UnsupportedType { .. } => "whatsapp_media_type",
            MediaError::ContentMismatch { .. } => "whatsapp_media_content",
        }
    }
}

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png"];
const AUDIO_TYPES: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
];
const VIDEO_TYPES: &[&str] = &["video/mp4", "video/3gpp"];
const DOCUMENT_TYPES: &[&str] = &[
    "text/plain",
    "application/pdf",
    "application/msword",
    DOCX,
    "application/vnd.ms-excel",
    XLSX,
    "application/vnd.ms-powerpoint",
    PPTX,
];
const STICKER_TYPES: &[&str] = &["image/webp"];

/// The base MIME type, lower-case, without parameters (`audio/ogg; codecs=opus` → `audio/ogg`).
pub fn base_mime(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl MediaKind {
    /// The kind a file of `mime` is sent as (WebP as a sticker), or `None` when WhatsApp takes
    /// it as none.
    pub fn for_mime(mime: &str) -> Option<MediaKind> {
        let base = base_mime(mime);
        [
            MediaKind::Image,
            MediaKind::Audio,
            MediaKind::Video,
            MediaKind::Document,
            MediaKind::Sticker,
        ]
        .into_iter()
        .find(|k| k.accepted_types().contains(&base.as_str()))
    }

    /// The MIME types this kind accepts (api-facts C4).
    pub fn accepted_types(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => IMAGE_TYPES,
            MediaKind::Audio => AUDIO_TYPES,
            MediaKind::Video => VIDEO_TYPES,
            MediaKind::Document => DOCUMENT_TYPES,
            MediaKind::Sticker => STICKER_TYPES,
        }
    }

    fn accepted_label(self) -> &'static str {
        match self {
            MediaKind::Image => "JPEG, PNG",
            MediaKind::Audio => "AAC, AMR, MP3, M4A, OGG (OPUS, mono)",
            MediaKind::Video => "MP4, 3GPP",
            MediaKind::Document => "TXT, PDF, Word, Excel, PowerPoint",
            MediaKind::Sticker => "WebP",
        }
    }
}

/// A file that passed [`check_upload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedMedia {
    pub kind: MediaKind,
    /// The base MIME type to upload with (`audio/ogg`).
    pub mime: String,
    /// A WebP with animation (stickers).
    pub animated: bool,
}

/// Checks that `bytes` can be uploaded as `kind` with type `mime`: an accepted type, within the
/// kind's size limit, and first bytes that match the type.
pub fn check_upload(kind: MediaKind, mime: &str, bytes: &[u8]) -> Result<CheckedMedia, MediaError> {
    let base = base_mime(mime);
    if !kind.accepted_types().contains(&base.as_str()) {
        return Err(MediaError::UnsupportedType {
            kind: kind.as_str(),
            mime: base,
            accepted: kind.accepted_label(),
        });
    }
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    let mismatch = |detail: &'static str| MediaError::ContentMismatch {
        mime: base.clone(),
        detail,
    };
    sniff(&base, bytes).map_err(mismatch)?;
    let animated = base == "image/webp" && webp_is_animated(bytes);
    let (max, limit) = match kind {
        MediaKind::Image => (MAX_IMAGE_BYTES, "5 MB"),
        MediaKind::Audio => (MAX_AUDIO_BYTES, "16 MB"),
        MediaKind::Video => (MAX_VIDEO_BYTES, "16 MB"),
        MediaKind::Document => (MAX_DOCUMENT_BYTES, "100 MB"),
        MediaKind::Sticker if animated => (MAX_ANIMATED_STICKER_BYTES, "500 KB (animated)"),
        MediaKind::Sticker => (MAX_STATIC_STICKER_BYTES, "100 KB (static)"),
    };
    let size = bytes.len() as u64;
    if size > max {
        return Err(MediaError::TooLarge {
            kind: kind.as_str(),
            size,
            limit,
        });
    }
    Ok(CheckedMedia {
        kind,
        mime: base,
        animated,
    })
}

/// Whether `bytes` start like a file of `base` type; the error says what is wrong.
fn sniff(base: &str, b: &[u8]) -> Result<(), &'static str> {
    let ok = |cond: bool, why: &'static str| if cond { Ok(()) } else { Err(why) };
    match base {
        "image/jpeg" => ok(b.starts_with(&[0xFF, 0xD8, 0xFF]), "no JPEG signature"),
        "image/png" => ok(b.starts_with(b"\x89PNG\r\n\x1a\n"), "no PNG signature"),
        "image/webp" => ok(is_webp(b), "no WebP signature"),
        "audio/ogg" => {
            if !b.starts_with(b"OggS") {
                return Err("no OGG signature");
            }
            // The first page holds the codec header at byte 28 (after a one-segment table).
            let segments = usize::from(*b.get(26).ok_or("cut short")?);
            let head = b.get(27 + segments..).ok_or("cut short")?;
            if !head.starts_with(b"OpusHead") {
                return Err("the OGG file is not OPUS (WhatsApp takes OPUS only)");
            }
            ok(head.get(9) == Some(&1), "the OPUS audio is not mono")
        }
        "audio/mpeg" => ok(
            b.starts_with(b"ID3")
                || (b.len() > 1 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0 && b[1] & 0x06 != 0),
            "no MP3 signature",
        ),
        "audio/aac" => ok(
            b.starts_with(b"ADIF") || (b.len() > 1 && b[0] == 0xFF && b[1] & 0xF6 == 0xF0),
            "no AAC (ADTS) signature",
        ),
        "audio/amr" => ok(b.starts_with(b"#!AMR"), "no AMR signature"),
        "audio/mp4" | "video/mp4" | "video/3gpp" => {
            ok(b.get(4..8) == Some(b"ftyp"), "no MP4/3GPP signature")
        }
        "application/pdf" => ok(b.starts_with(b"%PDF-"), "no PDF signature"),
        "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint" => ok(
            b.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
            "not a legacy Office file",
        ),
        DOCX => office_zip(b, b"word/"),
        XLSX => office_zip(b, b"xl/"),
        PPTX => office_zip(b, b"ppt/"),
        "text/plain" => {
            let head = &b[..b.len().min(8192)];
            ok(!head.contains(&0), "binary data in a text file")
        }
        _ => Err("unknown type"),
    }
}

fn is_webp(b: &[u8]) -> bool {
    b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP")
}

/// A WebP whose extended header (VP8X) has the animation flag, or that has an ANIM chunk.
fn webp_is_animated(b: &[u8]) -> bool {
    if b.get(12..16) == Some(b"VP8X") {
        return b.get(20).is_some_and(|flags| flags & 0x02 != 0);
    }
    b.windows(4).any(|w| w == b"ANIM")
}

fn office_zip(b: &[u8], folder: &[u8]) -> Result<(), &'static str> {
    if !b.starts_with(b"PK\x03\x04") {
        return Err("not an Office (ZIP) file");
    }
    if b.windows(folder.len()).any(|w| w == folder) {
        Ok(())
    } else {
        Err("a ZIP file, but not this Office format")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn opus_ogg(channels: u8) -> Vec<u8> {
        let mut b = b"OggS".to_vec();
        b.extend_from_slice(&[0; 22]); // version, flags, granule, serial, seq, crc
        b.push(1); // one segment
        b.push(19); // segment size
        b.extend_from_slice(b"OpusHead");
        b.push(1); // version
        b.push(channels);
        b.extend_from_slice(&[0; 9]);
        b
    }

    fn padded(head: &[u8], size: usize) -> Vec<u8> {
        let mut b = head.to_vec();
        b.resize(size.max(head.len()), 0x20);
        b
    }

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];

    #[test]
    fn accepted_files_pass() {
        let cases: Vec<(MediaKind, &str, Vec<u8>)> = vec![
            (MediaKind::Image, "image/jpeg", JPEG.to_vec()),
            (
                MediaKind::Image,
                "image/png",
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            ),
            (MediaKind::Audio, "audio/ogg; codecs=opus", opus_ogg(1)),
            (
                MediaKind::Audio,
                "audio/mpeg",
                b"ID3\x04\0\0\0\0\0\0".to_vec(),
            ),
            (MediaKind::Audio, "audio/mpeg", vec![0xFF, 0xFB, 0x90, 0x64]),
            (MediaKind::Audio, "audio/aac", vec![0xFF, 0xF1, 0x50, 0x80]),
            (MediaKind::Audio, "audio/amr", b"#!AMR\n".to_vec()),
            (
                MediaKind::Audio,
                "audio/mp4",
                b"\0\0\0\x20ftypM4A ".to_vec(),
            ),
            (
                MediaKind::Video,
                "video/mp4",
                b"\0\0\0\x20ftypisom".to_vec(),
            ),
            (
                MediaKind::Video,
                "video/3gpp",
                b"\0\0\0\x14ftyp3gp4".to_vec(),
            ),
            (
                MediaKind::Document,
                "application/pdf",
                b"%PDF-1.7\n".to_vec(),
            ),
            (
                MediaKind::Document,
                "text/plain",
                "Cotización\n".as_bytes().to_vec(),
            ),
            (
                MediaKind::Document,
                "application/msword",
                vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0],
            ),
            (
                MediaKind::Document,
                DOCX,
                b"PK\x03\x04....[Content_Types].xml word/document.xml".to_vec(),
            ),
            (
                MediaKind::Document,
                XLSX,
                b"PK\x03\x04....xl/workbook.xml".to_vec(),
            ),
            (
                MediaKind::Sticker,
                "image/webp",
                b"RIFF\0\0\0\0WEBPVP8 ".to_vec(),
            ),
        ];
        for (kind, mime, bytes) in cases {
            let checked =
                check_upload(kind, mime, &bytes).unwrap_or_else(|e| panic!("{mime}: {e}"));
            assert_eq!(checked.kind, kind);
            assert_eq!(checked.mime, base_mime(mime));
        }
    }

    #[test]
    fn limits_name_the_limit() {
        let at = padded(JPEG, MAX_IMAGE_BYTES as usize);
        assert!(check_upload(MediaKind::Image, "image/jpeg", &at).is_ok());
        let over = padded(JPEG, MAX_IMAGE_BYTES as usize + 1);
        let err = check_upload(MediaKind::Image, "image/jpeg", &over).expect_err("too large");
        assert_eq!(err.code(), "whatsapp_media_too_large");
        assert!(err.to_string().contains("5 MB"), "{err}");

        let video = padded(b"\0\0\0\x20ftypisom", MAX_VIDEO_BYTES as usize + 1);
        assert!(check_upload(MediaKind::Video, "video/mp4", &video)
            .expect_err("too large")
            .to_string()
            .contains("16 MB"));
        let audio = padded(b"#!AMR\n", MAX_AUDIO_BYTES as usize + 1);
        assert!(matches!(
            check_upload(MediaKind::Audio, "audio/amr", &audio),
            Err(MediaError::TooLarge { limit: "16 MB", .. })
        ));
        let pdf = padded(b"%PDF-", MAX_DOCUMENT_BYTES as usize + 1);
        assert!(matches!(
            check_upload(MediaKind::Document, "application/pdf", &pdf),
            Err(MediaError::TooLarge {
                limit: "100 MB",
                ..
            })
        ));

        let static_webp = padded(
            b"RIFF\0\0\0\0WEBPVP8 ",
            MAX_STATIC_STICKER_BYTES as usize + 1,
        );
        let err = check_upload(MediaKind::Sticker, "image/webp", &static_webp).expect_err("over");
        assert!(err.to_string().contains("100 KB"), "{err}");
        // The same size animated is fine, up to 500 KB.
        let mut animated = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02".to_vec();
        animated.resize(MAX_STATIC_STICKER_BYTES as usize + 1, 0);
        let ok = check_upload(MediaKind::Sticker, "image/webp", &animated).expect("animated");
        assert!(ok.animated);
        animated.resize(MAX_ANIMATED_STICKER_BYTES as usize + 1, 0);
        assert!(check_upload(MediaKind::Sticker, "image/webp", &animated)
            .expect_err("over")
            .to_string()
            .contains("500 KB"));
    }

    #[test]
    fn types_outside_c4_are_refused() {
        for (kind, mime) in [
            (MediaKind::Image, "image/gif"),
            (MediaKind::Image, "image/webp"),
            (MediaKind::Audio, "audio/wav"),
            (MediaKind::Video, "video/quicktime"),
            (MediaKind::Document, "application/zip"),
            (MediaKind::Document, "application/x-msdownload"),
            (MediaKind::Sticker, "image/png"),
        ] {
            let err = check_upload(kind, mime, JPEG).expect_err(mime);
            assert_eq!(err.code(), "whatsapp_media_type", "{mime}");
        }
        assert_eq!(
            check_upload(MediaKind::Image, "image/jpeg", &[]),
            Err(MediaError::Empty)
        );
    }

    #[test]
    fn files_that_are_not_their_type_are_refused() {
        let exe = b"MZ\x90\0\x03\0\0\0\x04\0";
        for (kind, mime, bytes) in [
            (MediaKind::Document, "application/pdf", &exe[..]),
            (MediaKind::Image, "image/png", JPEG),
            (MediaKind::Image, "image/jpeg", b"\x89PNG\r\n\x1a\n"),
            (MediaKind::Document, "text/plain", &exe[..]),
            (MediaKind::Document, DOCX, b"PK\x03\x04....xl/workbook.xml"),
            (MediaKind::Video, "video/mp4", b"RIFF\0\0\0\0AVI "),
            (MediaKind::Audio, "audio/mpeg", b"OggS"),
            (MediaKind::Sticker, "image/webp", b"RIFF\0\0\0\0WAVE"),
        ] {
            let err = check_upload(kind, mime, bytes).expect_err(mime);
            assert_eq!(err.code(), "whatsapp_media_content", "{mime}");
        }
        // OGG must be mono OPUS.
        let stereo = check_upload(MediaKind::Audio, "audio/ogg", &opus_ogg(2)).expect_err("stereo");
        assert!(stereo.to_string().contains("mono"), "{stereo}");
        let mut vorbis = opus_ogg(1);
        vorbis[28..36].copy_from_slice(b"\x01vorbis\0");
        let err = check_upload(MediaKind::Audio, "audio/ogg", &vorbis).expect_err("vorbis");
        assert!(err.to_string().contains("OPUS"), "{err}");
        assert!(check_upload(MediaKind::Audio, "audio/ogg", b"OggS").is_err());
    }

    #[test]
    fn kinds_for_mime_types() {
        assert_eq!(MediaKind::for_mime("image/JPEG"), Some(MediaKind::Image));
        assert_eq!(
            MediaKind::for_mime("audio/ogg; codecs=opus"),
            Some(MediaKind::Audio)
        );
        assert_eq!(MediaKind::for_mime("image/webp"), Some(MediaKind::Sticker));
        assert_eq!(MediaKind::for_mime(PPTX), Some(MediaKind::Document));
        assert_eq!(MediaKind::for_mime("video/3gpp"), Some(MediaKind::Video));
        assert_eq!(MediaKind::for_mime("application/zip"), None);
    }
}
