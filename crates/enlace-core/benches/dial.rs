//! Throughput of `parse_dial_uri` (parse + normalize) over a mix of realistic inputs, of
//! customer-number resolution (wa_ids) and of `equivalent_digits`.
//!
//! Run: `cargo bench -p enlace-core --bench dial -- --quick` (or `--measurement-time 2`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use enlace_core::{equivalent_digits, format_for_display, parse_dial_uri, Country, CustomerNumber};
use std::hint::black_box;

/// Twenty inputs an agent's machine really sees: CRM links, web pages, the dial pad, SIP
/// URIs, extensions, Mexican legacy forms and a few rejections.
const MIX: [(&str, &str); 20] = [
    ("tel:+50640004000", "CR"),
    ("tel:%2B506%204000-4000", "CR"),
    ("callto://+50640004000", "CR"),
    ("callto:+506 4000 4000", "CR"),
    ("TEL:+506-4000-4000", "CR"),
    ("tel:+1-201-555-0123;ext=102", "CR"),
    ("tel:863-1234;phone-context=+1-914-555", "US"),
    ("tel:7042;phone-context=example.com", "CR"),
    ("sip:+50640004000@10.0.0.1;user=phone", "CR"),
    ("sip:4000@pbx", "CR"),
    ("tel:4000", "CR"),
    ("8888-1234", "CR"),
    ("(55) 1234 5678", "MX"),
    ("tel:+52 1 55 1234 5678", "MX"),
    ("044 55 1234 5678", "MX"),
    ("+54 9 11 2345-6789", "AR"),
    ("tel:+5511987654321", "BR"),
    ("callto:skypename", "CR"),
    ("mailto:a@b.c", "CR"),
    ("tel:+1;rm -rf /", "CR"),
];

fn inputs() -> Vec<(&'static str, Country)> {
    MIX.iter()
        .filter_map(|(input, country)| Country::parse(country).ok().map(|c| (*input, c)))
        .collect()
}

fn bench_parse(c: &mut Criterion) {
    let inputs = inputs();
    assert_eq!(inputs.len(), MIX.len(), "every country in the mix is known");
    let mut group = c.benchmark_group("dial");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("parse_dial_uri/mix20", |b| {
        b.iter(|| {
            for (input, country) in &inputs {
                let _ = black_box(parse_dial_uri(black_box(input), *country));
            }
        })
    });
    let targets: Vec<_> = inputs
        .iter()
        .filter_map(|(input, country)| parse_dial_uri(input, *country).ok())
        .collect();
    group.throughput(Throughput::Elements(targets.len() as u64));
    group.bench_function("format_for_display", |b| {
        b.iter(|| {
            for target in &targets {
                black_box(format_for_display(black_box(target)));
            }
        })
    });
    // WhatsApp wa_ids: Mexico with and without the 1, Argentina with the 9, Brazil with and
    // without the ninth digit, Costa Rica.
    let wa_ids = [
        "5215512345678",
        "525512345678",
        "5491161234567",
        "5511987654321",
        "551187654321",
        "50688881234",
    ];
    group.throughput(Throughput::Elements(wa_ids.len() as u64));
    group.bench_function("customer_number/wa_id6", |b| {
        b.iter(|| {
            for wa_id in &wa_ids {
                let _ = black_box(CustomerNumber::from_wa_id(black_box(wa_id)));
            }
        })
    });
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("equivalent_digits/mix20", |b| {
        b.iter(|| {
            for (input, country) in &inputs {
                black_box(equivalent_digits(black_box(input), *country));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
