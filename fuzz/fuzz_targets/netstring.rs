//! Fuzz baresip's ctrl_tcp framing (`enlace_telephony::netstring::Decoder`) and the JSON inside
//! each frame (`protocol::parse_message`). The byte stream is untrusted (any local process can
//! listen on the ctrl_tcp port).
//!
//! Properties: no panic; reading the stream in chunks gives the same frames and the same error
//! as reading it at once; every frame re-encodes to exactly the bytes it was read from; a frame
//! above the cap is refused, never returned.
#![no_main]

use enlace_telephony::netstring::{encode, Decoder, FrameError};
use enlace_telephony::protocol::parse_message;
use libfuzzer_sys::fuzz_target;

/// Every frame of `stream` fed `chunk` bytes at a time, and the error that stopped it, if any.
fn decode(stream: &[u8], chunk: usize, cap: usize) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut decoder = Decoder::new(cap);
    let mut frames = Vec::new();
    for part in stream.chunks(chunk) {
        decoder.push(part);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    assert!(decoder.buffered() <= stream.len());
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the read size and a small or the real frame cap.
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(pick & 0x0f) + 1;
    let cap = if pick & 0x10 == 0 {
        enlace_telephony::netstring::MAX_FRAME
    } else {
        64
    };
    let (frames, error) = decode(stream, stream.len().max(1), cap);
    let (chunked, chunked_error) = decode(stream, chunk, cap);
    assert_eq!(frames, chunked, "frames depend on how the stream was split");
    assert_eq!(
        error, chunked_error,
        "the error depends on how the stream was split"
    );

    let mut consumed = Vec::new();
    for frame in &frames {
        assert!(frame.len() <= cap);
        consumed.extend_from_slice(&encode(frame));
        let _ = parse_message(frame);
    }
    assert!(
        stream.starts_with(&consumed),
        "frames do not re-encode to the bytes they came from"
    );
});
