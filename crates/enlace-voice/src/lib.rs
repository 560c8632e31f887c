//! `enlace-voice` owns WhatsApp voice notes as audio: recording from a microphone into an
//! OGG/Opus file WhatsApp plays as a voice note (mono, 48 kHz, VOIP mode, ~24 kbit/s, 20 ms
//! frames), and reading received ones (decoding, waveform bars).
//!
//! - [`Recorder::start`] opens an input device with `cpal` (ALSA on Linux; PulseAudio or
//!   PipeWire are reached through ALSA's `pulse`/`default` PCMs) and encodes on the fly in a
//!   worker thread: memory stays at the size of the OGG so far. A recording stops by itself at
//!   [`MAX_DURATION`] or near [`MAX_BYTES`] (WhatsApp's 16 MB audio limit).
//! - [`decode_ogg_opus`] and [`waveform`] read untrusted files: every malformed input is a
//!   [`VoiceError::Decode`], never a panic (OGG pages are parsed here, CRC checked).
//!
//! Errors carry stable codes ([`VoiceError::code`]): `microphone_unavailable`,
//! `microphone_denied`, `recording_empty`, `whatsapp_media_too_large`,
//! `whatsapp_media_content`.
//!
//! To extend: another container or codec goes in a module beside `oggopus.rs`; another capture
//! backend is a cpal feature (the capture thread does not care which host it is given).

mod capture;
mod error;
mod oggopus;
mod resample;

pub use capture::{
    input_devices, InputDevice, Recorder, Recording, RecordingStatus, VoiceNote, MAX_BYTES,
    MAX_DURATION, MIN_DURATION_MS, NOTE_BARS, SILENCE_PEAK,
};
pub use error::VoiceError;
pub use oggopus::{
    decode_ogg_opus, encode_ogg_opus, waveform, Decoded, MAX_DECODE_SAMPLES, SAMPLE_RATE,
};
