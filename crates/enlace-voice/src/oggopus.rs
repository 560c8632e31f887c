//! OGG/Opus (RFC 7845): the encoder side that muxes 20 ms Opus packets into an OGG stream as
//! they come, and a decoder side for files from anywhere (customers' voice notes), which parses
//! the pages itself (CRC checked, every length bounded) so that no input can make it panic.

use std::borrow::Cow;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels, Decoder, Encoder};

use crate::VoiceError;

/// Opus always runs at 48 kHz here.
pub const SAMPLE_RATE: u32 = 48_000;
/// 20 ms at 48 kHz.
pub(crate) const FRAME_SAMPLES: usize = 960;
/// The voice-note bit rate.
pub(crate) const BITRATE: i32 = 24_000;
/// Audio packets per OGG page (one page per second: a cut file loses at most a second).
const PACKETS_PER_PAGE: u64 = 50;
/// The largest Opus packet we ask libopus for.
const MAX_PACKET: usize = 4_000;
/// The longest Opus frame (120 ms) at 48 kHz, per channel.
const MAX_FRAME_SAMPLES: usize = 5_760;
const VENDOR: &str = "enlace-voice";
/// Stream serial number of the single logical stream we write.
const SERIAL: u32 = 0x656e_6c61;

/// Encodes mono 48 kHz samples into an OGG/Opus byte stream, frame by frame.
pub(crate) struct OpusOggWriter {
    encoder: Encoder,
    writer: PacketWriter<'static, Vec<u8>>,
    pre_skip: u64,
    /// Samples not yet making a full frame.
    pending: Vec<f32>,
    /// Real input samples accepted so far.
    samples: u64,
    /// Samples handed to the encoder, padding included.
    encoded: u64,
    packets: u64,
    packet: Vec<u8>,
}

impl std::fmt::Debug for OpusOggWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusOggWriter")
            .field("pre_skip", &self.pre_skip)
            .field("samples", &self.samples)
            .field("bytes", &self.writer.inner().len())
            .finish()
    }
}

fn enc_err(e: opus::Error) -> VoiceError {
    VoiceError::Encoder {
        detail: e.to_string(),
    }
}

fn io_err(e: std::io::Error) -> VoiceError {
    VoiceError::Encoder {
        detail: format!("ogg: {e}"),
    }
}

impl OpusOggWriter {
    /// VOIP application, 24 kbit/s VBR, 20 ms frames, mono; writes OpusHead and OpusTags.
    pub(crate) fn new() -> Result<OpusOggWriter, VoiceError> {
        let mut encoder =
            Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip).map_err(enc_err)?;
        encoder
            .set_bitrate(Bitrate::Bits(BITRATE))
            .map_err(enc_err)?;
        let lookahead = encoder.get_lookahead().map_err(enc_err)?;
        let pre_skip = u16::try_from(lookahead).map_err(|_| VoiceError::Encoder {
            detail: format!("lookahead {lookahead}"),
        })?;

        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&SAMPLE_RATE.to_le_bytes()); // input sample rate
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family 0 (mono/stereo)

        let mut tags = Vec::with_capacity(8 + 4 + VENDOR.len() + 4);
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
        tags.extend_from_slice(VENDOR.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments

        let mut writer = PacketWriter::new(Vec::with_capacity(64 * 1024));
        // RFC 7845: each header packet alone on its page, granule position 0.
        writer
            .write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(io_err)?;
        writer
            .write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(io_err)?;
        Ok(OpusOggWriter {
            encoder,
            writer,
            pre_skip: u64::from(pre_skip),
            pending: Vec::with_capacity(FRAME_SAMPLES * 4),
            samples: 0,
            encoded: 0,
            packets: 0,
            packet: vec![0; MAX_PACKET],
        })
    }

    /// Bytes of OGG written so far.
    pub(crate) fn bytes(&self) -> usize {
        self.writer.inner().len()
    }

    /// Real samples accepted so far.
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    /// Appends mono 48 kHz samples; encodes every full 20 ms frame.
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<(), VoiceError> {
        self.samples += samples.len() as u64;
        self.pending.extend_from_slice(samples);
        let full = self.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        let mut at = 0;
        while at < full {
            let frame: [f32; FRAME_SAMPLES] = std::array::from_fn(|i| self.pending[at + i]);
            self.encode_frame(&frame, false)?;
            at += FRAME_SAMPLES;
        }
        self.pending.drain(..full);
        Ok(())
    }

    fn encode_frame(&mut self, frame: &[f32], last: bool) -> Result<(), VoiceError> {
        let len = self
            .encoder
            .encode_float(frame, &mut self.packet)
            .map_err(enc_err)?;
        self.encoded += FRAME_SAMPLES as u64;
        self.packets += 1;
        let (end, granule) = if last {
            // The end page's granule position trims the padding (RFC 7845 §4.4).
            (PacketWriteEndInfo::EndStream, self.pre_skip + self.samples)
        } else if self.packets.is_multiple_of(PACKETS_PER_PAGE) {
            (PacketWriteEndInfo::EndPage, self.encoded)
        } else {
            (PacketWriteEndInfo::NormalPacket, self.encoded)
        };
        let packet = self.packet[..len].to_vec();
        self.writer
            .write_packet(Cow::Owned(packet), SERIAL, end, granule)
            .map_err(io_err)
    }

    /// Pads with silence until the encoder has given out every real sample (its lookahead
    /// included), ends the stream, and returns the OGG bytes.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, VoiceError> {
        let needed = self.samples + self.pre_skip;
        // At least one audio packet, so the end-of-stream page exists.
        loop {
            let mut frame = [0.0f32; FRAME_SAMPLES];
            let n = self.pending.len().min(FRAME_SAMPLES);
            frame[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            let last = self.encoded + FRAME_SAMPLES as u64 >= needed;
            self.encode_frame(&frame, last)?;
            if last {
                break;
            }
        }
        Ok(self.writer.into_inner())
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// PCM decoded from an OGG/Opus file.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Always 48 000 (libopus decodes at 48 kHz).
    pub rate: u32,
    pub channels: u8,
    /// Interleaved samples, pre-skip and end padding removed.
    pub samples: Vec<f32>,
}

/// The longest audio [`decode_ogg_opus`] returns (per channel): 16 minutes.
pub const MAX_DECODE_SAMPLES: u64 = SAMPLE_RATE as u64 * 60 * 16;
/// The longest audio [`waveform`] looks at: 2 hours (longer files show their first 2 hours).
const MAX_WAVEFORM_SAMPLES: u64 = SAMPLE_RATE as u64 * 60 * 120;

/// Encodes mono 48 kHz samples (−1..1) into an OGG/Opus voice note, the way a recording is
/// written (VOIP, 24 kbit/s, 20 ms frames). For files made without a microphone: tests,
/// benchmarks, fixtures.
pub fn encode_ogg_opus(samples: &[f32]) -> Result<Vec<u8>, VoiceError> {
    let mut writer = OpusOggWriter::new()?;
    writer.push(samples)?;
    writer.finish()
}

/// Reads an OGG/Opus file (mono or stereo, channel mapping family 0) into 48 kHz samples.
/// Any malformed input is a [`VoiceError::Decode`], never a panic.
pub fn decode_ogg_opus(bytes: &[u8]) -> Result<Decoded, VoiceError> {
    let mut samples = Vec::new();
    let mut over = false;
    let head = for_each_pcm(
        bytes,
        MAX_DECODE_SAMPLES,
        |pcm, _| samples.extend_from_slice(pcm),
        &mut over,
    )?;
    if over {
        return Err(VoiceError::decode("longer than 16 minutes"));
    }
    Ok(Decoded {
        rate: SAMPLE_RATE,
        channels: head.channels,
        samples,
    })
}

/// Peak level per bar over the whole file (`bars` bars of equal length), scaled 0–255. For the
/// waveform of a received voice note. `bars` is clamped to 1..=1024.
pub fn waveform(bytes: &[u8], bars: usize) -> Result<Vec<u8>, VoiceError> {
    let bars = bars.clamp(1, 1024);
    // Peaks per 20 ms (of the loudest channel), then grouped into bars.
    let mut frames: Vec<f32> = Vec::new();
    let mut current = 0.0f32;
    let mut in_frame = 0usize;
    let mut over = false;
    for_each_pcm(
        bytes,
        MAX_WAVEFORM_SAMPLES,
        |pcm, channels| {
            for frame in pcm.chunks(channels) {
                let p = frame.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                current = current.max(p);
                in_frame += 1;
                if in_frame == FRAME_SAMPLES {
                    frames.push(current);
                    current = 0.0;
                    in_frame = 0;
                }
            }
        },
        &mut over,
    )?;
    if in_frame > 0 {
        frames.push(current);
    }
    Ok(bars_of(&frames, bars))
}

/// Groups per-frame peaks into `bars` bars (max of each group), scaled to 0–255.
pub(crate) fn bars_of(frames: &[f32], bars: usize) -> Vec<u8> {
    let bars = bars.max(1);
    if frames.is_empty() {
        return vec![0; bars];
    }
    (0..bars)
        .map(|b| {
            let start = b * frames.len() / bars;
            let end = ((b + 1) * frames.len() / bars)
                .max(start + 1)
                .min(frames.len());
            let start = start.min(end.saturating_sub(1));
            let peak = frames[start..end].iter().fold(0.0f32, |m, x| m.max(*x));
            scale_255(peak)
        })
        .collect()
}

pub(crate) fn scale_255(peak: f32) -> u8 {
    if peak.is_nan() {
        return 0;
    }
    (peak.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// What OpusHead says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpusHead {
    pub(crate) channels: u8,
    pub(crate) pre_skip: u16,
    #[allow(dead_code)]
    pub(crate) input_rate: u32,
    /// Output gain in dB, Q7.8 (RFC 7845 §5.1), applied by the decoder.
    pub(crate) gain: i16,
}

pub(crate) fn parse_opus_head(packet: &[u8]) -> Result<OpusHead, VoiceError> {
    if packet.len() < 19 || !packet.starts_with(b"OpusHead") {
        return Err(VoiceError::decode("the first packet is not OpusHead"));
    }
    let version = packet[8];
    if version >> 4 != 0 {
        return Err(VoiceError::decode(format!("OpusHead version {version}")));
    }
    let channels = packet[9];
    let pre_skip = u16::from_le_bytes([packet[10], packet[11]]);
    let input_rate = u32::from_le_bytes([packet[12], packet[13], packet[14], packet[15]]);
    let gain = i16::from_le_bytes([packet[16], packet[17]]);
    let family = packet[18];
    if family != 0 || !(1..=2).contains(&channels) {
        return Err(VoiceError::decode(format!(
            "channel mapping family {family} with {channels} channels is not supported"
        )));
    }
    Ok(OpusHead {
        channels,
        pre_skip,
        input_rate,
        gain,
    })
}

/// Decodes `bytes` and hands the PCM (interleaved, pre-skip and end padding removed) to `sink`
/// in pieces; stops after `max_samples` per channel and sets `over`.
fn for_each_pcm(
    bytes: &[u8],
    max_samples: u64,
    mut sink: impl FnMut(&[f32], usize),
    over: &mut bool,
) -> Result<OpusHead, VoiceError> {
    let packets = Packets::parse(bytes)?;
    let mut iter = packets.packets.iter();
    let head_packet = iter
        .next()
        .ok_or_else(|| VoiceError::decode("no packets"))?;
    let head = parse_opus_head(head_packet.data(bytes))?;
    match iter.next() {
        Some(p) if p.data(bytes).starts_with(b"OpusTags") => {}
        _ => return Err(VoiceError::decode("the second packet is not OpusTags")),
    }
    let channels = usize::from(head.channels);
    let opus_channels = if channels == 1 {
        Channels::Mono
    } else {
        Channels::Stereo
    };
    let mut decoder =
        Decoder::new(SAMPLE_RATE, opus_channels).map_err(|e| VoiceError::decode(e.to_string()))?;
    if head.gain != 0 {
        decoder
            .set_gain(i32::from(head.gain))
            .map_err(|e| VoiceError::decode(format!("output gain: {e}")))?;
    }
    // Samples to drop at the start, and how many the file says it holds (end trimming).
    let mut skip = u64::from(head.pre_skip);
    let total = packets
        .last_granule
        .filter(|g| *g >= u64::from(head.pre_skip))
        .map(|g| g - u64::from(head.pre_skip));
    let limit = total.map_or(max_samples, |t| t.min(max_samples));
    let mut given = 0u64;
    let mut out = vec![0.0f32; MAX_FRAME_SAMPLES * channels];
    for packet in iter {
        let data = packet.data(bytes);
        if data.is_empty() {
            continue;
        }
        let n = decoder
            .decode_float(data, &mut out, false)
            .map_err(|e| VoiceError::decode(format!("opus packet: {e}")))?;
        let n = n.min(MAX_FRAME_SAMPLES) as u64;
        let dropped = skip.min(n);
        skip -= dropped;
        let room = limit.saturating_sub(given);
        let keep = (n - dropped).min(room);
        if keep > 0 {
            let from = dropped as usize * channels;
            let to = from + keep as usize * channels;
            sink(&out[from..to], channels);
            given += keep;
        }
        if given >= limit {
            if total.is_none_or(|t| t > limit) {
                *over = true;
            }
            break;
        }
    }
    Ok(head)
}

/// A packet's place in the input: byte ranges (a packet may span pages).
#[derive(Debug, Default)]
struct PacketRef {
    parts: Vec<(usize, usize)>,
    joined: Option<Vec<u8>>,
}

impl PacketRef {
    fn data<'a>(&'a self, bytes: &'a [u8]) -> &'a [u8] {
        match (&self.joined, self.parts.as_slice()) {
            (Some(v), _) => v,
            (None, [(s, e)]) => bytes.get(*s..*e).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// The packets of the first logical stream of an OGG file.
#[derive(Debug)]
struct Packets {
    packets: Vec<PacketRef>,
    last_granule: Option<u64>,
}

/// Bounds so that hostile files cannot make us hold too much.
const MAX_PACKETS: usize = 2_000_000;
const MAX_PACKET_BYTES: usize = 1 << 20;

impl Packets {
    fn parse(bytes: &[u8]) -> Result<Packets, VoiceError> {
        if !bytes.starts_with(b"OggS") {
            return Err(VoiceError::decode("no OGG magic (OggS)"));
        }
        let mut at = 0usize;
        let mut serial: Option<u32> = None;
        let mut packets: Vec<PacketRef> = Vec::new();
        let mut open: Option<PacketRef> = None;
        let mut last_granule = None;
        let mut seq: Option<u32> = None;
        while at < bytes.len() {
            let page = Page::parse(bytes, at)?;
            at = page.end;
            match serial {
                None => {
                    if page.header_type & 0x02 == 0 {
                        return Err(VoiceError::decode("the first page is not a stream start"));
                    }
                    serial = Some(page.serial);
                }
                Some(s) if s != page.serial => continue, // another logical stream
                Some(_) => {}
            }
            if let Some(prev) = seq {
                if page.sequence != prev.wrapping_add(1) {
                    return Err(VoiceError::decode("pages missing (sequence gap)"));
                }
            }
            seq = Some(page.sequence);
            let continued = page.header_type & 0x01 != 0;
            if continued != open.is_some() {
                // A continuation flag without an open packet, or an open packet not continued.
                return Err(VoiceError::decode("broken packet continuation"));
            }
            let mut pos = page.body_start;
            for &lace in &page.lacing {
                let len = usize::from(lace);
                let part = (pos, pos + len);
                pos += len;
                let packet = open.get_or_insert_with(PacketRef::default);
                packet.parts.push(part);
                let size: usize = packet.parts.iter().map(|(s, e)| e - s).sum();
                if size > MAX_PACKET_BYTES {
                    return Err(VoiceError::decode("a packet larger than 1 MiB"));
                }
                if lace < 255 {
                    if let Some(mut done) = open.take() {
                        if done.parts.len() > 1 {
                            let mut joined = Vec::with_capacity(size);
                            for (s, e) in &done.parts {
                                joined.extend_from_slice(bytes.get(*s..*e).unwrap_or(&[]));
                            }
                            done.joined = Some(joined);
                            done.parts.clear();
                        }
                        if packets.len() >= MAX_PACKETS {
                            return Err(VoiceError::decode("too many packets"));
                        }
                        packets.push(done);
                    }
                }
            }
            if page.granule != u64::MAX {
                last_granule = Some(page.granule);
            }
            if page.header_type & 0x04 != 0 {
                break; // end of stream
            }
        }
        Ok(Packets {
            packets,
            last_granule,
        })
    }
}

#[derive(Debug)]
struct Page {
    header_type: u8,
    granule: u64,
    serial: u32,
    sequence: u32,
    lacing: Vec<u8>,
    body_start: usize,
    end: usize,
}

impl Page {
    fn parse(bytes: &[u8], at: usize) -> Result<Page, VoiceError> {
        let truncated = || VoiceError::decode("truncated OGG page");
        let header = bytes.get(at..at + 27).ok_or_else(truncated)?;
        if &header[..4] != b"OggS" {
            return Err(VoiceError::decode("bad OGG page magic"));
        }
        if header[4] != 0 {
            return Err(VoiceError::decode("unknown OGG version"));
        }
        let header_type = header[5];
        let mut g = [0u8; 8];
        g.copy_from_slice(&header[6..14]);
        let granule = u64::from_le_bytes(g);
        let serial = u32::from_le_bytes([header[14], header[15], header[16], header[17]]);
        let sequence = u32::from_le_bytes([header[18], header[19], header[20], header[21]]);
        let crc = u32::from_le_bytes([header[22], header[23], header[24], header[25]]);
        let nsegs = usize::from(header[26]);
        let lacing = bytes
            .get(at + 27..at + 27 + nsegs)
            .ok_or_else(truncated)?
            .to_vec();
        let body_start = at + 27 + nsegs;
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let end = body_start + body_len;
        let page = bytes.get(at..end).ok_or_else(truncated)?;
        if crc32_page(page) != crc {
            return Err(VoiceError::decode("OGG page checksum mismatch"));
        }
        Ok(Page {
            header_type,
            granule,
            serial,
            sequence,
            lacing,
            body_start,
            end,
        })
    }
}

/// The OGG CRC-32 (polynomial 0x04c11db7, not reflected, initial 0) over a page with its CRC
/// field taken as zero.
fn crc32_page(page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for (i, &byte) in page.iter().enumerate() {
        let b = if (22..26).contains(&i) { 0 } else { byte };
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, seconds: f32, amp: f32) -> Vec<f32> {
        let n = (SAMPLE_RATE as f32 * seconds) as usize;
        (0..n)
            .map(|i| {
                amp * (2.0 * std::f32::consts::PI * freq * i as f32 / SAMPLE_RATE as f32).sin()
            })
            .collect()
    }

    fn encode(samples: &[f32]) -> Vec<u8> {
        let mut w = OpusOggWriter::new().expect("encoder");
        for chunk in samples.chunks(441) {
            w.push(chunk).expect("push");
        }
        w.finish().expect("finish")
    }

    #[test]
    fn an_encoded_tone_decodes_to_the_same_length_and_level() {
        let input = tone(440.0, 1.23, 0.5);
        let ogg = encode(&input);
        assert!(ogg.starts_with(b"OggS"));
        let head = parse_opus_head(&ogg[28..47]).expect("OpusHead on the first page");
        assert_eq!(head.channels, 1);
        assert_eq!(head.input_rate, 48_000);
        assert!(head.pre_skip > 0);
        let decoded = decode_ogg_opus(&ogg).expect("decode");
        assert_eq!(decoded.rate, 48_000);
        assert_eq!(decoded.channels, 1);
        assert_eq!(decoded.samples.len(), input.len());
        let peak = decoded.samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!((0.4..0.6).contains(&peak), "peak {peak}");
        // The last page is the end of the stream.
        let last = ogg.windows(4).rposition(|w| w == b"OggS").expect("a page");
        assert_ne!(ogg[last + 5] & 0x04, 0, "EOS flag");
    }

    #[test]
    fn the_waveform_follows_the_loudness() {
        let mut input = tone(300.0, 1.0, 0.05);
        input.extend(tone(300.0, 1.0, 0.8));
        let ogg = encode(&input);
        let bars = waveform(&ogg, 10).expect("waveform");
        assert_eq!(bars.len(), 10);
        assert!(bars[..4].iter().all(|&b| b < 40), "{bars:?}");
        assert!(bars[6..].iter().all(|&b| b > 150), "{bars:?}");
    }

    #[test]
    fn garbage_and_truncated_files_are_errors_not_panics() {
        let ogg = encode(&tone(440.0, 0.7, 0.5));
        for cut in [0, 1, 4, 27, 30, 47, 60, 100, ogg.len() / 2, ogg.len() - 1] {
            let r = decode_ogg_opus(&ogg[..cut]);
            // Cutting at a page boundary may leave a valid shorter file; otherwise an error.
            if let Err(e) = r {
                assert_eq!(e.code().as_str(), "whatsapp_media_content");
            }
            let _ = waveform(&ogg[..cut], 8);
        }
        assert!(decode_ogg_opus(b"").is_err());
        assert!(decode_ogg_opus(b"OggS").is_err());
        assert!(decode_ogg_opus(&[0xffu8; 5000]).is_err());
        // Every single-byte corruption: caught by the CRC or decoded, never a panic.
        let mut seed = 0x1234_5678u32;
        for i in 0..ogg.len() {
            let mut bad = ogg.clone();
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bad[i] ^= (seed >> 24) as u8 | 1;
            let _ = decode_ogg_opus(&bad);
        }
    }

    #[test]
    fn a_file_with_a_stereo_head_and_opus_packets_decodes() {
        // Hand-built: OpusHead with 2 channels; audio packets from a stereo encoder.
        let mut enc = Encoder::new(SAMPLE_RATE, Channels::Stereo, Application::Audio).expect("enc");
        let mut w = PacketWriter::new(Vec::new());
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 2, 0, 0]);
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&[0, 0, 0]);
        w.write_packet(head, 7, PacketWriteEndInfo::EndPage, 0)
            .expect("head");
        w.write_packet(
            b"OpusTags\0\0\0\0\0\0\0\0".to_vec(),
            7,
            PacketWriteEndInfo::EndPage,
            0,
        )
        .expect("tags");
        let frame = vec![0.25f32; FRAME_SAMPLES * 2];
        let mut buf = vec![0u8; MAX_PACKET];
        for i in 1..=10u64 {
            let n = enc.encode_float(&frame, &mut buf).expect("encode");
            let end = if i == 10 {
                PacketWriteEndInfo::EndStream
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            w.write_packet(buf[..n].to_vec(), 7, end, i * FRAME_SAMPLES as u64)
                .expect("packet");
        }
        let ogg = w.into_inner();
        let decoded = decode_ogg_opus(&ogg).expect("decode");
        assert_eq!(decoded.channels, 2);
        assert_eq!(decoded.samples.len(), 10 * FRAME_SAMPLES * 2);
        // The same file with an output gain of -6.02 dB (Q7.8: -1541) plays at half the level.
        let mut quieter = ogg.clone();
        quieter[28 + 16..28 + 18].copy_from_slice(&(-1541i16).to_le_bytes());
        fix_crcs(&mut quieter);
        let half = decode_ogg_opus(&quieter).expect("decode");
        let peak = |s: &[f32]| s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let ratio = peak(&half.samples) / peak(&decoded.samples);
        assert!((0.45..0.55).contains(&ratio), "{ratio}");
    }

    #[test]
    fn bars_cover_every_frame_whatever_the_counts() {
        assert_eq!(bars_of(&[], 4), vec![0, 0, 0, 0]);
        assert_eq!(bars_of(&[1.0], 3), vec![255, 255, 255]);
        assert_eq!(bars_of(&[0.0, 1.0, 0.0, 0.5], 2), vec![255, 128]);
        assert_eq!(scale_255(f32::NAN), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_are_an_answer_not_a_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let _ = decode_ogg_opus(&bytes);
            let _ = waveform(&bytes, 16);
            let mut ogg = b"OggS".to_vec();
            ogg.extend_from_slice(&bytes);
            let _ = decode_ogg_opus(&ogg);
        }

        #[test]
        fn edits_of_a_real_file_are_an_answer_not_a_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::prelude::any::<usize>(),
            fix in proptest::prelude::any::<bool>(),
        ) {
            let mut ogg = valid_file().clone();
            for (at, byte) in edits {
                let i = at % ogg.len();
                ogg[i] = byte;
            }
            ogg.truncate(cut % (ogg.len() + 1));
            if fix {
                // Past the checksum: the parser and libopus see the edited content.
                fix_crcs(&mut ogg);
            }
            let _ = decode_ogg_opus(&ogg);
            let _ = waveform(&ogg, 7);
        }
    }

    /// Rewrites the CRC of every whole page it can walk to.
    fn fix_crcs(ogg: &mut [u8]) {
        let mut at = 0usize;
        while at + 27 <= ogg.len() && &ogg[at..at + 4] == b"OggS" {
            let nsegs = usize::from(ogg[at + 26]);
            let Some(lacing) = ogg.get(at + 27..at + 27 + nsegs) else {
                return;
            };
            let end = at + 27 + nsegs + lacing.iter().map(|&l| usize::from(l)).sum::<usize>();
            if end > ogg.len() {
                return;
            }
            let crc = crc32_page(&ogg[at..end]);
            ogg[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
            at = end;
        }
    }

    fn valid_file() -> &'static Vec<u8> {
        static FILE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        FILE.get_or_init(|| encode(&tone(440.0, 0.3, 0.5)))
    }

    #[test]
    fn the_crc_matches_what_the_ogg_crate_writes() {
        let ogg = encode(&tone(440.0, 0.1, 0.5));
        let p = Page::parse(&ogg, 0).expect("first page parses with our CRC");
        assert_eq!(p.header_type & 0x02, 0x02);
    }
}
