//! The audio path, end to end on a real audio server: a private PulseAudio whose default source
//! plays 440 Hz → cpal (ALSA `default` → `pulse`) → `Recorder` → OGG/Opus → `decode_ogg_opus`
//! → the tone is there, and WhatsApp's upload check accepts the file as a voice note. Also the
//! recorder's typed errors and its duration cap, on the same kind of server.

mod common;

use std::time::{Duration, Instant};

use enlace_voice::{
    decode_ogg_opus, input_devices, waveform, Recorder, VoiceError, MAX_BYTES, NOTE_BARS,
};
use enlace_whatsapp::media::check_upload;
use enlace_whatsapp::send::MediaKind;

const TONE_HZ: u32 = 440;

#[test]
fn a_tone_recorded_from_the_microphone_decodes_to_that_tone_and_whatsapp_accepts_it() {
    common::with_private_pulse(
        "a_tone_recorded_from_the_microphone_decodes_to_that_tone_and_whatsapp_accepts_it",
        TONE_HZ,
        record_the_tone,
    );
}

fn record_the_tone() {
    let recording = Recorder::default().start(None).expect("recording starts");
    // Record about 2 s of audio (by the recorder's own count, not the wall clock).
    let deadline = Instant::now() + Duration::from_secs(30);
    while recording.status().elapsed < Duration::from_millis(2_000) {
        assert!(
            Instant::now() < deadline,
            "no audio arrived: {:?}",
            recording.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = recording.status();
    assert!(!status.finished);
    assert!(status.level > 0.0, "{status:?}");
    let note = recording.stop().expect("a voice note");

    // The container WhatsApp plays as a voice note: OGG, OpusHead, 1 channel, 48 kHz.
    let ogg = &note.ogg;
    assert!(ogg.starts_with(b"OggS"));
    assert_eq!(&ogg[28..36], b"OpusHead");
    assert_eq!(ogg[28 + 9], 1, "one channel");
    let input_rate = u32::from_le_bytes([ogg[40], ogg[41], ogg[42], ogg[43]]);
    assert_eq!(input_rate, 48_000);
    assert!(note.duration_ms >= 2_000, "{note:?}");
    assert_eq!(note.peaks.len(), NOTE_BARS);

    let decoded = decode_ogg_opus(ogg).expect("decodes");
    assert_eq!((decoded.rate, decoded.channels), (48_000, 1));
    assert_eq!(
        decoded.samples.len() as u64 / 48,
        note.duration_ms,
        "length matches duration"
    );
    // One second from the middle (away from the stream start).
    let window = &decoded.samples[24_000..72_000];
    let freq = common::dominant_frequency(window, 48_000.0);
    let tolerance = TONE_HZ as f32 * 0.02;
    assert!(
        (freq - TONE_HZ as f32).abs() <= tolerance,
        "dominant {freq} Hz, expected {TONE_HZ} ± {tolerance}"
    );
    let rms = common::rms(window);
    let peak = window.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(rms > 0.005 && peak <= 1.0, "rms {rms}, peak {peak}");

    // The steady tone gives an even waveform.
    let bars = waveform(ogg, 16).expect("waveform");
    assert!(bars[2..].iter().all(|&b| b > 0), "{bars:?}");

    let checked = check_upload(MediaKind::Audio, "audio/ogg", ogg).expect("WhatsApp accepts it");
    assert_eq!(checked.mime, "audio/ogg");
}

#[test]
fn an_unknown_device_is_unavailable_and_an_instant_stop_is_empty() {
    common::with_private_pulse(
        "an_unknown_device_is_unavailable_and_an_instant_stop_is_empty",
        TONE_HZ,
        typed_errors,
    );
}

fn typed_errors() {
    let devices = input_devices().expect("input devices");
    assert!(devices.iter().any(|d| d.default), "{devices:?}");
    // ALSA's pulse PCM is offered; its converter plugins are not.
    assert!(devices.iter().any(|d| d.name == "pulse"), "{devices:?}");
    assert!(
        !devices
            .iter()
            .any(|d| d.name == "samplerate" || d.name == "null"),
        "{devices:?}"
    );
    // The pulse PCM by name records too.
    let named = Recorder::default()
        .start(Some("pulse"))
        .expect("pulse by name");
    assert_eq!(named.device(), "pulse");
    drop(named);

    let err = Recorder::default()
        .start(Some("enlace-no-such-microphone"))
        .expect_err("no such device");
    assert!(
        matches!(err, VoiceError::MicrophoneUnavailable { .. }),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "microphone_unavailable");

    let recording = Recorder::default().start(None).expect("recording starts");
    let err = recording.stop().expect_err("nothing recorded");
    assert!(matches!(err, VoiceError::RecordingEmpty), "{err:?}");
    assert_eq!(err.code().as_str(), "recording_empty");

    // Started and dropped: discarded without a hang, and the device can be opened again.
    drop(Recorder::default().start(None).expect("recording starts"));
    drop(Recorder::default().start(None).expect("and again"));
}

#[test]
fn a_recording_stops_by_itself_at_its_duration_cap() {
    common::with_private_pulse(
        "a_recording_stops_by_itself_at_its_duration_cap",
        1_000,
        stop_at_the_cap,
    );
}

fn stop_at_the_cap() {
    let recorder = Recorder {
        max_duration: Duration::from_millis(1_200),
        max_bytes: MAX_BYTES,
    };
    let recording = recorder.start(None).expect("recording starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !recording.status().finished {
        assert!(
            Instant::now() < deadline,
            "never capped: {:?}",
            recording.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let note = recording.stop().expect("the capped note");
    assert_eq!(note.duration_ms, 1_200);
    let decoded = decode_ogg_opus(&note.ogg).expect("decodes");
    assert_eq!(decoded.samples.len(), 1_200 * 48);
    let freq = common::dominant_frequency(&decoded.samples[9_600..57_600], 48_000.0);
    assert!((freq - 1_000.0).abs() <= 20.0, "{freq}");
}

#[test]
fn a_microphone_gone_mid_recording_keeps_what_came_before_and_is_then_unavailable() {
    common::with_private_pulse(
        "a_microphone_gone_mid_recording_keeps_what_came_before_and_is_then_unavailable",
        TONE_HZ,
        unplug_mid_recording,
    );
}

fn unplug_mid_recording() {
    let server = std::env::var(enlace_peers::pulse::PULSE_SERVER_ENV).expect("set by the parent");
    let recording = Recorder::default().start(None).expect("recording starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while recording.status().elapsed < Duration::from_millis(1_000) {
        assert!(Instant::now() < deadline, "no audio arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    // "Unplug" the microphone: the null sinks (and with them the default source) go away.
    let out = std::process::Command::new("pactl")
        .args(["-s", &server, "unload-module", "module-null-sink"])
        .output()
        .expect("pactl");
    assert!(out.status.success(), "{out:?}");
    while !recording.status().finished {
        assert!(Instant::now() < deadline, "the failure was not noticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let note = recording.stop().expect("what came before the failure");
    assert!(note.duration_ms >= 1_000, "{note:?}");
    let decoded = decode_ogg_opus(&note.ogg).expect("decodes");
    let freq = common::dominant_frequency(&decoded.samples[..48_000], 48_000.0);
    assert!(
        (freq - TONE_HZ as f32).abs() <= TONE_HZ as f32 * 0.02,
        "{freq}"
    );

    let err = Recorder::default()
        .start(None)
        .expect_err("no microphone any more");
    assert_eq!(err.code().as_str(), "microphone_unavailable", "{err:?}");
}
