//! Fuzz the AMI codec (`enlace_ami::Decoder`): the bytes come from the PBX over TCP.
//!
//! Properties: no panic; the frames do not depend on how the stream is split into reads; no
//! packet holds more than `MAX_FIELDS` fields or a key with whitespace; every packet survives
//! `to_bytes` → decode unchanged.
#![no_main]

use enlace_ami::{AmiError, Decoder, Frame, Packet, MAX_FIELDS};
use libfuzzer_sys::fuzz_target;

fn decode(stream: &[u8], chunk: usize) -> Vec<Result<Frame, AmiError>> {
    let mut decoder = Decoder::new();
    stream
        .chunks(chunk)
        .flat_map(|part| decoder.push(part))
        .collect()
}

fn packets(frames: &[Result<Frame, AmiError>]) -> Vec<&Packet> {
    frames
        .iter()
        .filter_map(|f| match f {
            Ok(Frame::Packet(p)) => Some(p),
            _ => None,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(pick) + 1;
    let whole = decode(stream, stream.len().max(1));
    let split = decode(stream, chunk);
    let ok = |frames: &[Result<Frame, AmiError>]| -> Vec<Frame> {
        frames
            .iter()
            .filter_map(|f| f.as_ref().ok().cloned())
            .collect()
    };
    assert_eq!(ok(&whole), ok(&split), "frames depend on the read size");
    for packet in packets(&whole) {
        assert!(!packet.fields().is_empty() && packet.fields().len() <= MAX_FIELDS);
        for (key, _) in packet.fields() {
            assert!(!key.is_empty() && !key.chars().any(char::is_whitespace));
        }
        let _ = (packet.event(), packet.response(), packet.action_id());
        let _ = format!("{packet:?}");
        // What we would send back (actions are packets too) reads back the same.
        let again = decode(&packet.to_bytes(), usize::MAX);
        let again: Vec<&Packet> = packets(&again);
        // (CR and LF inside a value are sent as spaces: those cannot come back the same.)
        if !packet
            .fields()
            .iter()
            .any(|(_, v)| v.contains(['\r', '\n']))
        {
            assert_eq!(again, vec![packet], "a packet does not survive to_bytes");
        }
    }
});
