//! AMI decoding throughput: the bytes Asterisk really sent (every "RECEIVED (raw)" block of
//! `tests/data/asterisk-ami-transcript.txt`, after the banner), repeated into a ~1 MB stream and
//! fed through [`Decoder::push`] in chunks of different sizes, as a socket would deliver them.
//!
//! Run: `cargo bench -p enlace-ami --bench ami -- --warm-up-time 1 --measurement-time 2`.
//! Throughput is in packets (events and responses; the stream is mostly events) per second.
//! Before the criterion groups it prints p50/p99 of decoding one whole transcript pass.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use enlace_ami::{Decoder, Frame};

const TRANSCRIPT: &[u8] = include_bytes!("../tests/data/asterisk-ami-transcript.txt");
/// Transcript passes in the benchmark stream.
const REPEAT: usize = 25;
/// Socket-like read sizes: tiny reads, one TCP segment, a full read buffer.
const CHUNKS: [usize; 3] = [64, 1460, 16 * 1024];

/// The banner line and every received block, byte for byte (same extraction as `tests/ami.rs`).
fn received() -> (Vec<u8>, Vec<u8>) {
    let mut banner = Vec::new();
    let mut blocks = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in TRANSCRIPT.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"#####") {
            if let Some(mut block) = current.take() {
                // The marker is preceded by one bare "\n" separator that is not part of the bytes.
                if block.ends_with(b"\n\n") {
                    block.pop();
                }
                blocks.extend_from_slice(&block);
            }
            if line.windows(12).any(|w| w == b"<<< RECEIVED") {
                current = Some(Vec::new());
            }
            continue;
        }
        if let Some(block) = current.as_mut() {
            block.extend_from_slice(line);
        } else if line.starts_with(b"Asterisk Call Manager/") {
            banner = line.to_vec();
        }
    }
    (banner, blocks)
}

/// Decodes `stream` in `chunk`-sized pushes; returns (packets, events). Panics on any error:
/// the transcript is valid AMI, so an error means the decoder broke.
fn decode(stream: &[u8], chunk: usize) -> (usize, usize) {
    let mut decoder = Decoder::new();
    let mut packets = 0;
    let mut events = 0;
    for part in stream.chunks(chunk) {
        for frame in decoder.push(part) {
            match frame.expect("transcript bytes decode") {
                Frame::Packet(p) => {
                    packets += 1;
                    events += usize::from(p.event().is_some());
                    black_box(p);
                }
                Frame::Banner { version } => {
                    black_box(version);
                }
            }
        }
    }
    (packets, events)
}

fn main() {
    let (banner, blocks) = received();
    assert!(
        !banner.is_empty() && !blocks.is_empty(),
        "transcript layout"
    );
    let (per_pass, events_per_pass) = decode(&blocks, blocks.len());
    let mut stream = banner.clone();
    for _ in 0..REPEAT {
        stream.extend_from_slice(&blocks);
    }
    let (packets, events) = decode(&stream, 1460);
    assert_eq!(packets, per_pass * REPEAT);
    eprintln!(
        "stream: {} bytes, {packets} packets ({events} events, {} responses), {REPEAT} passes \
         of the transcript ({per_pass} packets / {events_per_pass} events, {} bytes each)",
        stream.len(),
        packets - events,
        blocks.len()
    );

    // One pass of the transcript (what a reconnect + a couple of calls look like), 1460-byte reads.
    let mut times: Vec<Duration> = (0..2_000)
        .map(|_| {
            let t = Instant::now();
            black_box(decode(black_box(&blocks), 1460));
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    eprintln!(
        "decode one transcript pass ({per_pass} packets)  p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}",
        at(0.50),
        at(0.99),
        at(1.0)
    );

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("ami_decode");
    group.throughput(Throughput::Elements(packets as u64));
    for chunk in CHUNKS {
        group.bench_function(format!("chunks_of_{chunk}"), |b| {
            b.iter(|| decode(black_box(&stream), chunk))
        });
    }
    group.finish();
    criterion.final_summary();
}
