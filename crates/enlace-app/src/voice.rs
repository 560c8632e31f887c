//! Mensaje de audio: one recording at a time from the microphone chosen in Configuración
//! (`audio_input_device`, else the system default), through `enlace-voice` (OGG/Opus, mono,
//! 48 kHz); stopping hands the note to [`App::inbox_stage_recording`] so it is sent like any
//! staged file. Also the microphones to choose from and the waveform of received voice notes.
//!
//! Opening a device, stopping (the encoder finishes the file) and decoding run on the blocking
//! pool. Starting, stopping and discarding are serialized by one async lock; the status reads
//! the running recording's counters without waiting for it.

use std::sync::Mutex;

use enlace_core::ErrorCode;
use enlace_voice::{Recorder, Recording, VoiceError};

use crate::outgoing::StagedFile;
use crate::{App, AppError, Host};

/// What Mensaje de audio shows while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingStatus {
    /// A recording is running (false once stopped, discarded, or stopped by itself at a cap).
    pub recording: bool,
    pub elapsed_ms: u64,
    /// The loudest sample of the last ~100 ms, 0..=1.
    pub level: f32,
    /// The device recording (its name, as [`App::audio_inputs`] lists it).
    pub device: Option<String>,
}

impl RecordingStatus {
    fn idle() -> RecordingStatus {
        RecordingStatus {
            recording: false,
            elapsed_ms: 0,
            level: 0.0,
            device: None,
        }
    }
}

/// A microphone the agent can choose in Configuración.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInput {
    pub name: String,
    /// The system's default input.
    pub default: bool,
}

/// What the app keeps for recording (see `Shared`).
#[derive(Debug, Default)]
pub(crate) struct VoiceSide {
    /// Start, stop and discard one at a time (opening a device may take seconds).
    op: tokio::sync::Mutex<()>,
    current: Mutex<Option<Recording>>,
}

/// Bars in a received voice note's waveform at most.
const MAX_BARS: usize = 1024;

impl From<VoiceError> for AppError {
    fn from(e: VoiceError) -> Self {
        AppError::Voice(e.to_string(), e.code())
    }
}

fn status_of(recording: &Recording) -> RecordingStatus {
    let s = recording.status();
    RecordingStatus {
        recording: !s.finished,
        elapsed_ms: u64::try_from(s.elapsed.as_millis()).unwrap_or(u64::MAX),
        level: s.level,
        device: Some(recording.device().to_owned()),
    }
}

fn task_error(e: tokio::task::JoinError) -> AppError {
    AppError::Internal(format!("voice task: {e}"))
}

impl<H: Host> App<H> {
    fn voice(&self) -> &VoiceSide {
        &self.shared.voice
    }

    fn take_recording(&self) -> Option<Recording> {
        self.voice()
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Starts recording from the microphone chosen in Configuración (else the default one).
    /// While one runs, returns its status instead of starting another.
    /// `microphone_unavailable` / `microphone_denied` when the device cannot be opened.
    pub async fn voice_record_start(&self) -> Result<RecordingStatus, AppError> {
        let _op = self.voice().op.lock().await;
        if let Some(running) = self
            .voice()
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(status_of(running));
        }
        let device = self.settings().audio_input_device;
        let recording =
            tokio::task::spawn_blocking(move || Recorder::default().start(device.as_deref()))
                .await
                .map_err(task_error)??;
        let status = status_of(&recording);
        *self
            .voice()
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(recording);
        Ok(status)
    }

    /// The running recording's time and level (idle when there is none).
    pub async fn voice_record_status(&self) -> RecordingStatus {
        self.voice()
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or_else(RecordingStatus::idle, status_of)
    }

    /// Stops the recording and stages it as a voice note (see [`App::inbox_stage_recording`]).
    /// `recording_empty` when shorter than half a second or silent (nothing is staged), or
    /// when no recording runs.
    pub async fn voice_record_stop(&self) -> Result<StagedFile, AppError> {
        let note = self.voice_record_finish().await?;
        self.inbox_stage_recording(note.ogg, note.duration_ms, note.peaks)
            .await
    }

    /// Stops the recording and returns the note (not staged).
    pub(crate) async fn voice_record_finish(&self) -> Result<enlace_voice::VoiceNote, AppError> {
        let _op = self.voice().op.lock().await;
        let recording = self.take_recording().ok_or_else(|| {
            AppError::Voice("no recording is running".into(), ErrorCode::RecordingEmpty)
        })?;
        let note = tokio::task::spawn_blocking(move || recording.stop())
            .await
            .map_err(task_error)??;
        tracing::info!(
            duration_ms = note.duration_ms,
            bytes = note.ogg.len(),
            "voice note recorded"
        );
        Ok(note)
    }

    /// Stops the recording and throws it away (nothing happens when none runs).
    pub async fn voice_record_discard(&self) {
        let _op = self.voice().op.lock().await;
        if let Some(recording) = self.take_recording() {
            // Dropping stops the threads and discards the audio.
            let _ = tokio::task::spawn_blocking(move || drop(recording)).await;
        }
    }

    /// The microphones, the system default first.
    pub async fn audio_inputs(&self) -> Result<Vec<AudioInput>, AppError> {
        let devices = tokio::task::spawn_blocking(enlace_voice::input_devices)
            .await
            .map_err(task_error)??;
        Ok(devices
            .into_iter()
            .map(|d| AudioInput {
                name: d.name,
                default: d.default,
            })
            .collect())
    }

    /// The waveform of a received voice note (hub media `media_id`, through the media cache):
    /// `bars` peaks scaled 0–255 (`bars` clamped to 1..=1024). `whatsapp_media_content` when
    /// the file is not OGG/Opus.
    pub async fn inbox_media_waveform(
        &self,
        media_id: &str,
        bars: usize,
    ) -> Result<Vec<u8>, AppError> {
        let path = self.inbox_media_path(media_id).await?;
        let bars = bars.clamp(1, MAX_BARS);
        let result = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&path).map_err(|e| {
                AppError::Store(format!("could not read the file: {e}"), ErrorCode::Storage)
            })?;
            enlace_voice::waveform(&bytes, bars).map_err(AppError::from)
        })
        .await
        .map_err(task_error)?;
        result
    }
}
