#![allow(clippy::unwrap_used)]
//! Mensaje de audio through the app on a real audio server: a private PulseAudio whose
//! microphone hears 440 Hz. The chosen device from the settings, one recording at a time, stop
//! → a staged voice note, discard, the typed errors, and the waveform of a cached voice note.
//!
//! ALSA finds the server through `PULSE_SERVER`, which is process-wide, so the body runs in a
//! child process (this test binary, told to run just this test) started with it set.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use enlace_app::{App, AppOptions, DomainEvent, Host};
use enlace_core::{ErrorCode, SystemClock};
use enlace_peers::pulse::{PulseServer, PULSE_SERVER_ENV};
use enlace_store::Store;

const CHILD_ENV: &str = "ENLACE_APP_VOICE_TEST_CHILD";

struct QuietHost;

impl Host for QuietHost {
    fn emit(&self, _event: DomainEvent) {}

    fn open_url(&self, _url: &str) -> Result<(), String> {
        Err("no browser in these tests".to_owned())
    }
}

/// Runs `body` in a child process whose PulseAudio server is a private one hearing `hz`.
fn with_private_pulse(test: &str, hz: u32, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let server = PulseServer::start(hz).expect("a private pulseaudio starts");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env(PULSE_SERVER_ENV, server.server())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn a_voice_note_is_recorded_from_the_chosen_microphone_and_staged() {
    with_private_pulse(
        "a_voice_note_is_recorded_from_the_chosen_microphone_and_staged",
        440,
        || {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(record_through_the_app());
        },
    );
}

async fn record_through_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("enlace.sqlite3")).unwrap();
    let options = AppOptions {
        secrets: Some(enlace_secrets::SecretStore::in_memory()),
        ..AppOptions::default()
    };
    let app = App::start(QuietHost, store, Arc::new(SystemClock), options)
        .await
        .unwrap();

    let inputs = app.audio_inputs().await.unwrap();
    assert!(inputs.iter().any(|i| i.default), "{inputs:?}");

    // A microphone chosen in Configuración that is not there.
    let mut settings = app.settings();
    settings.audio_input_device = Some("enlace-no-such-microphone".into());
    app.save_settings(settings.clone()).await.unwrap();
    let err = app.voice_record_start().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::MicrophoneUnavailable);
    assert!(!app.voice_record_status().await.recording);

    // The default one; a second start while it runs answers the same recording.
    settings.audio_input_device = None;
    app.save_settings(settings).await.unwrap();
    let started = app.voice_record_start().await.unwrap();
    assert!(started.recording);
    let again = app.voice_record_start().await.unwrap();
    assert_eq!(again.device, started.device);
    wait_for_elapsed(&app, 1_500).await;
    let status = app.voice_record_status().await;
    assert!(status.recording && status.level > 0.0, "{status:?}");

    let staged = app.voice_record_stop().await.unwrap();
    assert!(staged.voice);
    assert_eq!(staged.mime, "audio/ogg");
    assert!(staged.duration_ms.unwrap() >= 1_500, "{staged:?}");
    assert!(!staged.peaks.is_empty());
    assert!(!app.voice_record_status().await.recording);
    let (path, _) = app.inbox_staged_path(&staged.token).await.unwrap();
    let ogg = std::fs::read(&path).unwrap();
    assert!(ogg.starts_with(b"OggS"));

    // Stop with nothing running, and a discarded recording.
    let err = app.voice_record_stop().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::RecordingEmpty);
    app.voice_record_start().await.unwrap();
    app.voice_record_discard().await;
    assert_eq!(app.voice_record_status().await.elapsed_ms, 0);

    // A received voice note already in the media cache: its waveform, without the hub.
    let cached = dir.path().join("media").join("wamid-voice-1");
    std::fs::create_dir_all(&cached).unwrap();
    std::fs::write(cached.join("voice.ogg"), &ogg).unwrap();
    let bars = app.inbox_media_waveform("wamid-voice-1", 32).await.unwrap();
    assert_eq!(bars.len(), 32);
    assert!(bars.iter().skip(4).all(|&b| b > 50), "{bars:?}");
    // Not an OGG/Opus file.
    let other = dir.path().join("media").join("wamid-text-1");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("note.ogg"), b"OggS but not really").unwrap();
    let err = app
        .inbox_media_waveform("wamid-text-1", 32)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WhatsappMediaContent);
}

async fn wait_for_elapsed(app: &App<QuietHost>, ms: u64) {
    for _ in 0..1_500 {
        if app.voice_record_status().await.elapsed_ms >= ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no audio arrived: {:?}", app.voice_record_status().await);
}
