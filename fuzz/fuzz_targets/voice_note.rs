//! Fuzz the reading of customers' voice notes (`enlace_voice::decode_ogg_opus` and `waveform`):
//! OGG pages (checksums, segment tables, packets across pages), the OpusHead/OpusTags headers
//! and the Opus packets handed to libopus. The files come from WhatsApp customers: untrusted.
//!
//! Properties: no panic; a decoded file has whole frames of one or two channels; the waveform
//! reads exactly the files the decoder reads and has the bars asked for.
#![no_main]

use enlace_voice::{decode_ogg_opus, waveform};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the number of bars (0 is clamped to 1).
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let bars = usize::from(pick);
    let decoded = decode_ogg_opus(file);
    let peaks = waveform(file, bars);
    if let Ok(d) = &decoded {
        assert!(d.channels == 1 || d.channels == 2, "{} channels", d.channels);
        assert_eq!(d.samples.len() % usize::from(d.channels), 0, "a frame cut in half");
        assert!(d.samples.iter().all(|s| s.is_finite()), "a sample that is not a number");
    }
    assert_eq!(
        decoded.is_ok(),
        peaks.is_ok(),
        "the decoder and the waveform disagree on whether the file is readable"
    );
    if let Ok(p) = peaks {
        assert_eq!(p.len(), bars.clamp(1, 1024));
    }
});
