//! Recording from a microphone: a capture thread owns the cpal stream (`cpal::Stream` is not
//! `Send`), down-mixes each callback's frames to mono and hands them over a bounded channel to
//! an encoder thread, which resamples to 48 kHz, encodes 20 ms Opus frames and muxes them into
//! OGG as they come. Memory is the OGG so far (≈ 3 KB per second) plus a few buffers.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use crate::oggopus::{bars_of, OpusOggWriter, FRAME_SAMPLES, SAMPLE_RATE};
use crate::resample::{downmix_into, Resampler};
use crate::VoiceError;

/// WhatsApp's limit for audio (api-facts C4): 16 MB.
pub const MAX_BYTES: u64 = 16_000_000;
/// The longest recording: 15 minutes.
pub const MAX_DURATION: Duration = Duration::from_secs(15 * 60);
/// Recordings shorter than this are [`VoiceError::RecordingEmpty`].
pub const MIN_DURATION_MS: u64 = 500;
/// A recording whose loudest sample stays below this (≈ −60 dBFS) is silence.
pub const SILENCE_PEAK: f32 = 0.001;
/// Bars in [`VoiceNote::peaks`].
pub const NOTE_BARS: usize = 64;
/// Room kept under [`MAX_BYTES`] for the pages still to be written when the cap is reached.
const BYTES_MARGIN: u64 = 16 * 1024;
/// Chunks of captured audio the encoder may fall behind by before chunks are dropped.
const CHANNEL_CHUNKS: usize = 512;
/// How long opening the device may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A microphone (an input device of the platform's audio host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDevice {
    /// The name to pass to [`Recorder::start`] (on Linux the ALSA PCM name: `default`,
    /// `pulse`, `hw:CARD=…,DEV=0`).
    pub name: String,
    /// The system's default input.
    pub default: bool,
}

/// A finished recording.
#[derive(Clone, PartialEq, Eq)]
pub struct VoiceNote {
    /// OGG/Opus, mono, 48 kHz.
    pub ogg: Vec<u8>,
    pub duration_ms: u64,
    /// [`NOTE_BARS`] bar heights 0–255.
    pub peaks: Vec<u8>,
}

impl std::fmt::Debug for VoiceNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceNote")
            .field("bytes", &self.ogg.len())
            .field("duration_ms", &self.duration_ms)
            .field("peaks", &self.peaks.len())
            .finish()
    }
}

/// What a running recording shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordingStatus {
    pub elapsed: Duration,
    /// The loudest sample of the last ~100 ms, 0..=1.
    pub level: f32,
    /// The recording stopped by itself: a cap was reached or the device failed.
    pub finished: bool,
}

/// Limits of a recording (defaults: [`MAX_DURATION`], [`MAX_BYTES`]).
#[derive(Debug, Clone, Copy)]
pub struct Recorder {
    pub max_duration: Duration,
    pub max_bytes: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            max_duration: MAX_DURATION,
            max_bytes: MAX_BYTES,
        }
    }
}

/// The platform's audio host: ALSA on Linux (which reaches PulseAudio/PipeWire through the
/// `pulse`/`default` PCMs), the default one elsewhere.
fn host() -> Result<cpal::Host, VoiceError> {
    #[cfg(target_os = "linux")]
    {
        cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| VoiceError::from_cpal("audio host", &e))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(cpal::default_host())
    }
}

fn device_name(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.id().to_owned())
}

/// ALSA PCMs that are converters, sinks or emulations rather than microphones: not offered in
/// Configuración (they can still be named there by hand).
const NOT_MICROPHONES: &[&str] = &[
    "null",
    "lavrate",
    "samplerate",
    "speexrate",
    "speex",
    "upmix",
    "vdownmix",
    "a52",
    "dmix",
    "oss",
    "usbstream",
];

fn offered(name: &str) -> bool {
    !NOT_MICROPHONES.contains(&name)
}

/// The input devices, the default first (on Linux: `default`, `pulse`/`pipewire` and the sound
/// cards' PCMs; ALSA's converter and sink plugins are left out).
pub fn input_devices() -> Result<Vec<InputDevice>, VoiceError> {
    let host = host()?;
    let default = host.default_input_device().and_then(|d| device_name(&d));
    let mut out: Vec<InputDevice> = Vec::new();
    if let Some(name) = &default {
        out.push(InputDevice {
            name: name.clone(),
            default: true,
        });
    }
    let devices = host
        .input_devices()
        .map_err(|e| VoiceError::from_cpal("list input devices", &e))?;
    for device in devices {
        if let Some(name) = device_name(&device) {
            if offered(&name) && !out.iter().any(|d| d.name == name) {
                out.push(InputDevice {
                    name,
                    default: false,
                });
            }
        }
    }
    Ok(out)
}

fn find_device(host: &cpal::Host, name: Option<&str>) -> Result<cpal::Device, VoiceError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => host
            .default_input_device()
            .ok_or_else(|| VoiceError::unavailable("no default input device")),
        Some(wanted) => {
            let devices = host
                .input_devices()
                .map_err(|e| VoiceError::from_cpal("list input devices", &e))?;
            for device in devices {
                let by_id = device_name(&device).is_some_and(|n| n == wanted);
                let by_description = device.description().is_ok_and(|d| d.name() == wanted);
                if by_id || by_description {
                    return Ok(device);
                }
            }
            // Names ALSA does not list (hints) can still be opened, `pulse` on some systems.
            let default = host.default_input_device();
            if default
                .as_ref()
                .and_then(device_name)
                .is_some_and(|n| n == wanted)
            {
                if let Some(d) = default {
                    return Ok(d);
                }
            }
            Err(VoiceError::unavailable(format!(
                "no input device named {wanted:?}"
            )))
        }
    }
}

/// Picks a capture configuration: 48 kHz (no resampling) in f32 or i16 when the device offers
/// it, else the device's default.
fn pick_config(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig, VoiceError> {
    let preferred = device.supported_input_configs().ok().and_then(|configs| {
        let mut best: Option<cpal::SupportedStreamConfig> = None;
        for range in configs {
            let fmt_ok = matches!(range.sample_format(), SampleFormat::F32 | SampleFormat::I16);
            if !fmt_ok {
                continue;
            }
            if let Some(c) = range.try_with_sample_rate(SAMPLE_RATE) {
                let better = match &best {
                    None => true,
                    Some(b) => {
                        (c.channels() < b.channels())
                            || (c.channels() == b.channels()
                                && c.sample_format() == SampleFormat::F32)
                    }
                };
                if better {
                    best = Some(c);
                }
            }
        }
        best
    });
    match preferred {
        Some(c) => Ok(c),
        None => device
            .default_input_config()
            .map_err(|e| VoiceError::from_cpal("input configuration", &e)),
    }
}

/// What the capture callback sends to the encoder.
enum Captured {
    Mono(Vec<f32>),
    Failed(VoiceError),
}

/// Shared between the threads and [`Recording::status`].
#[derive(Debug, Default)]
struct Shared {
    samples: AtomicU64,
    level_bits: AtomicU32,
    finished: AtomicBool,
    dropped_chunks: AtomicU64,
}

/// A recording in progress. [`Recording::stop`] ends it and returns the note; dropping it
/// discards everything.
#[derive(Debug)]
pub struct Recording {
    device: String,
    stop_tx: Option<SyncSender<()>>,
    capture: Option<JoinHandle<()>>,
    encoder: Option<JoinHandle<Result<Encoded, VoiceError>>>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Encoded {
    ogg: Vec<u8>,
    samples: u64,
    peak: f32,
    frame_peaks: Vec<f32>,
    /// The stream failed (device gone): what came before is kept.
    failure: Option<VoiceError>,
}

impl Recorder {
    /// Starts recording from `device` (a name from [`input_devices`]; `None` = the default).
    /// Returns once the stream runs, or with `MicrophoneUnavailable`/`MicrophoneDenied`.
    pub fn start(&self, device: Option<&str>) -> Result<Recording, VoiceError> {
        let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Captured>(CHANNEL_CHUNKS);
        let (stop_tx, stop_rx) = mpsc::sync_channel::<()>(1);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(String, u32), VoiceError>>(1);
        let shared = Arc::new(Shared::default());
        let wanted = device.map(str::to_owned);
        let shared_cb = shared.clone();
        let capture = std::thread::Builder::new()
            .name("voice-capture".into())
            .spawn(move || {
                capture_thread(wanted.as_deref(), chunk_tx, stop_rx, ready_tx, shared_cb)
            })
            .map_err(|e| VoiceError::unavailable(format!("capture thread: {e}")))?;
        let (device, rate) = match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => {
                let _ = capture.join();
                return Err(e);
            }
            Err(_) => {
                let _ = stop_tx.try_send(());
                return Err(VoiceError::unavailable(
                    "the input device did not open in time",
                ));
            }
        };
        let limits = *self;
        let shared_enc = shared.clone();
        let stop_enc = stop_tx.clone();
        let encoder = std::thread::Builder::new()
            .name("voice-encoder".into())
            .spawn(move || encoder_thread(chunk_rx, rate, limits, shared_enc, stop_enc));
        let encoder = match encoder {
            Ok(h) => h,
            Err(e) => {
                let _ = stop_tx.try_send(());
                let _ = capture.join();
                return Err(VoiceError::unavailable(format!("encoder thread: {e}")));
            }
        };
        tracing::info!(device = %device, rate, "recording started");
        Ok(Recording {
            device,
            stop_tx: Some(stop_tx),
            capture: Some(capture),
            encoder: Some(encoder),
            shared,
        })
    }
}

impl Recording {
    /// The device actually recording (its name).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Elapsed time, the current level, and whether it stopped by itself.
    pub fn status(&self) -> RecordingStatus {
        let samples = self.shared.samples.load(Ordering::Relaxed);
        RecordingStatus {
            elapsed: Duration::from_millis(samples * 1000 / u64::from(SAMPLE_RATE)),
            level: f32::from_bits(self.shared.level_bits.load(Ordering::Relaxed)),
            finished: self.shared.finished.load(Ordering::Relaxed),
        }
    }

    fn end(&mut self) -> Option<Result<Encoded, VoiceError>> {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.try_send(());
        }
        if let Some(h) = self.capture.take() {
            let _ = h.join();
        }
        // The capture thread has dropped the stream and with it the chunk sender: the encoder
        // drains what is left and finishes.
        self.encoder.take().map(|h| {
            h.join().unwrap_or_else(|_| {
                Err(VoiceError::Encoder {
                    detail: "the encoder thread panicked".into(),
                })
            })
        })
    }

    /// Stops and returns the voice note; `RecordingEmpty` when shorter than
    /// [`MIN_DURATION_MS`] or silent. When the device failed during the recording (unplugged,
    /// the audio server gone: [`RecordingStatus::finished`]), the audio before the failure is
    /// the note; the failure itself (`MicrophoneUnavailable`/`MicrophoneDenied`) is the error
    /// only when too little came before it.
    pub fn stop(mut self) -> Result<VoiceNote, VoiceError> {
        let encoded = self.end().unwrap_or(Err(VoiceError::RecordingEmpty))?;
        let duration_ms = encoded.samples * 1000 / u64::from(SAMPLE_RATE);
        let dropped = self.shared.dropped_chunks.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "the encoder fell behind; captured chunks were dropped"
            );
        }
        if duration_ms < MIN_DURATION_MS || encoded.peak < SILENCE_PEAK {
            // A device that failed before anything worth keeping: say so, not "empty".
            return Err(encoded.failure.unwrap_or(VoiceError::RecordingEmpty));
        }
        if let Some(e) = &encoded.failure {
            tracing::warn!(error = %e, duration_ms, "the microphone failed; keeping what was recorded");
        }
        Ok(VoiceNote {
            duration_ms,
            peaks: bars_of(&encoded.frame_peaks, NOTE_BARS),
            ogg: encoded.ogg,
        })
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

fn capture_thread(
    wanted: Option<&str>,
    chunk_tx: SyncSender<Captured>,
    stop_rx: Receiver<()>,
    ready_tx: SyncSender<Result<(String, u32), VoiceError>>,
    shared: Arc<Shared>,
) {
    let opened = (|| {
        let host = host()?;
        let device = find_device(&host, wanted)?;
        let name = device_name(&device).unwrap_or_else(|| "default".into());
        let config = pick_config(&device)?;
        let stream = build_stream(&device, &config, chunk_tx, shared)?;
        stream
            .play()
            .map_err(|e| VoiceError::from_cpal("start the input stream", &e))?;
        Ok((stream, name, config.sample_rate()))
    })();
    let stream = match opened {
        Ok((stream, name, rate)) => {
            if ready_tx.send(Ok((name, rate))).is_err() {
                return;
            }
            stream
        }
        Err(e) => {
            let _ = ready_tx.send(Err(e));
            return;
        }
    };
    // Until stop (or every sender gone).
    let _ = stop_rx.recv();
    drop(stream);
}

fn build_stream(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    chunk_tx: SyncSender<Captured>,
    shared: Arc<Shared>,
) -> Result<cpal::Stream, VoiceError> {
    let mut stream_config = config.config();
    // About 20 ms per callback: a live level meter and a short first chunk (the backend's
    // default can be a second or more).
    if let cpal::SupportedBufferSize::Range { min, max } = *config.buffer_size() {
        let want = (config.sample_rate() / 50).clamp(min, max);
        stream_config.buffer_size = cpal::BufferSize::Fixed(want);
    }
    match config.sample_format() {
        SampleFormat::F32 => build_typed::<f32>(device, stream_config, chunk_tx, shared),
        SampleFormat::I16 => build_typed::<i16>(device, stream_config, chunk_tx, shared),
        SampleFormat::I32 => build_typed::<i32>(device, stream_config, chunk_tx, shared),
        SampleFormat::U16 => build_typed::<u16>(device, stream_config, chunk_tx, shared),
        SampleFormat::U8 => build_typed::<u8>(device, stream_config, chunk_tx, shared),
        SampleFormat::I8 => build_typed::<i8>(device, stream_config, chunk_tx, shared),
        SampleFormat::F64 => build_typed::<f64>(device, stream_config, chunk_tx, shared),
        other => Err(VoiceError::unavailable(format!(
            "unsupported sample format {other}"
        ))),
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    chunk_tx: SyncSender<Captured>,
    shared: Arc<Shared>,
) -> Result<cpal::Stream, VoiceError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let err_tx = chunk_tx.clone();
    let mut converted: Vec<f32> = Vec::new();
    let data_cb = move |data: &[T], _: &cpal::InputCallbackInfo| {
        converted.clear();
        converted.extend(data.iter().map(|&s| f32::from_sample_(s)));
        let mut mono = Vec::with_capacity(converted.len() / channels + 1);
        downmix_into(&converted, channels, &mut mono);
        match chunk_tx.try_send(Captured::Mono(mono)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                shared.dropped_chunks.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let err_cb = move |e: cpal::Error| {
        match e.kind() {
            // Glitches, not failures.
            cpal::ErrorKind::Xrun
            | cpal::ErrorKind::DeviceChanged
            | cpal::ErrorKind::RealtimeDenied => {
                tracing::debug!(error = %e, "input stream glitch");
            }
            _ => {
                let _ =
                    err_tx.try_send(Captured::Failed(VoiceError::from_cpal("input stream", &e)));
            }
        }
    };
    device
        .build_input_stream::<T, _, _>(config, data_cb, err_cb, Some(OPEN_TIMEOUT))
        .map_err(|e| VoiceError::from_cpal("open the input stream", &e))
}

fn encoder_thread(
    chunk_rx: Receiver<Captured>,
    rate: u32,
    limits: Recorder,
    shared: Arc<Shared>,
    stop_tx: SyncSender<()>,
) -> Result<Encoded, VoiceError> {
    let mut writer = OpusOggWriter::new()?;
    let mut resampler = Resampler::new(rate, SAMPLE_RATE);
    let max_samples = limits
        .max_duration
        .as_millis()
        .saturating_mul(u128::from(SAMPLE_RATE))
        / 1000;
    let max_samples = u64::try_from(max_samples).unwrap_or(u64::MAX);
    let max_bytes = limits.max_bytes.saturating_sub(BYTES_MARGIN);
    let mut out = Vec::with_capacity(8192);
    let mut frame_peaks: Vec<f32> = Vec::new();
    let mut frame_peak = 0.0f32;
    let mut in_frame = 0usize;
    let mut recent = [0.0f32; 5];
    let mut recent_at = 0usize;
    let mut peak = 0.0f32;
    let mut failure: Option<VoiceError> = None;
    let mut capped = false;
    while let Ok(msg) = chunk_rx.recv() {
        if capped || failure.is_some() {
            continue; // drain until the capture thread has stopped
        }
        let mono = match msg {
            Captured::Mono(m) => m,
            Captured::Failed(e) => {
                tracing::warn!(error = %e, "recording failed");
                failure = Some(e);
                shared.finished.store(true, Ordering::Relaxed);
                let _ = stop_tx.try_send(());
                continue;
            }
        };
        out.clear();
        resampler.process(&mono, &mut out);
        let room = max_samples.saturating_sub(writer.samples());
        let take = out.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let piece = &mut out[..take];
        for s in piece.iter_mut() {
            // Guard the encoder against NaN/inf from a misbehaving driver.
            if !s.is_finite() {
                *s = 0.0;
            }
            let a = s.abs();
            frame_peak = frame_peak.max(a);
            in_frame += 1;
            if in_frame == FRAME_SAMPLES {
                frame_peaks.push(frame_peak);
                peak = peak.max(frame_peak);
                recent[recent_at] = frame_peak;
                recent_at = (recent_at + 1) % recent.len();
                let level = recent.iter().fold(0.0f32, |m, x| m.max(*x)).min(1.0);
                shared.level_bits.store(level.to_bits(), Ordering::Relaxed);
                frame_peak = 0.0;
                in_frame = 0;
            }
        }
        writer.push(piece)?;
        shared.samples.store(writer.samples(), Ordering::Relaxed);
        if take < out.len() || writer.samples() >= max_samples || writer.bytes() as u64 >= max_bytes
        {
            tracing::info!(
                samples = writer.samples(),
                bytes = writer.bytes(),
                "recording cap reached"
            );
            capped = true;
            shared.finished.store(true, Ordering::Relaxed);
            let _ = stop_tx.try_send(());
        }
    }
    if in_frame > 0 {
        frame_peaks.push(frame_peak);
        peak = peak.max(frame_peak);
    }
    let samples = writer.samples();
    let ogg = writer.finish()?;
    if ogg.len() as u64 > limits.max_bytes {
        return Err(VoiceError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    Ok(Encoded {
        ogg,
        samples,
        peak,
        frame_peaks,
        failure,
    })
}
