//! The contacts cache and the outbox at 100,000 cached contacts: caller-ID lookup,
//! search-as-you-type, and outbox enqueue + claim + deliver.
//!
//! Run: `cargo bench -p enlace-store --bench contacts -- --warm-up-time 1 --measurement-time 3`.
//! Before the criterion groups it prints p50/p99 latencies of the lookups (the budgets are
//! caller ID well under 1 ms and search p99 ≤ 2 ms). With `BENCH_OPTIMIZE=1` the full-text
//! index is merged (`Store::optimize_contacts_index`) before measuring.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use enlace_core::{CallDirection, CallId, CallRecord, CallStatus, EndReason, LogState, Timestamp};
use enlace_store::{Contact, ContactKind, Country, Crm, RecordRef, Store};

const CONTACTS: usize = 100_000;
const PREFIXES: [&str; 5] = ["a", "an", "ana", "ana m", "8888"];

const FIRST: [&str; 24] = [
    "Ana", "Andrés", "Ángela", "Antonio", "María", "Mariana", "Luis", "Lucía", "José", "Josefina",
    "Carlos", "Carmen", "Diego", "Daniela", "Fernando", "Gabriela", "Jorge", "Laura", "Miguel",
    "Mónica", "Pablo", "Paula", "Ricardo", "Sofía",
];
const LAST: [&str; 24] = [
    "García",
    "Martínez",
    "Rodríguez",
    "López",
    "Mora",
    "Méndez",
    "Hernández",
    "Jiménez",
    "Vargas",
    "Rojas",
    "Castro",
    "Solís",
    "Araya",
    "Alfaro",
    "Quesada",
    "Chaves",
    "Salazar",
    "Navarro",
    "Arias",
    "Brenes",
    "Campos",
    "Acuña",
    "Monge",
    "Madrigal",
];

/// A small deterministic generator (xorshift64*): same data on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn cr() -> Country {
    Country::parse("CR").unwrap()
}

/// Contact `n`: Costa Rican numbers, half international ("+506 8xxx-xxxx"), half national.
fn contact(rng: &mut Rng, n: usize) -> Contact {
    let first = rng.pick(&FIRST);
    let last = rng.pick(&LAST);
    let number = 80_000_000 + (rng.next() % 9_999_999);
    let phone = if matches!(n % 2, 0) {
        format!("+506 {}-{:04}", number / 10_000, number % 10_000)
    } else {
        format!("{} {:04}", number / 10_000, number % 10_000)
    };
    let mobile = matches!(n % 3, 0).then(|| format!("6{:07}", rng.next() % 9_999_999));
    Contact {
        crm: if matches!(n % 4, 0) {
            Crm::Zoho
        } else {
            Crm::Salesforce
        },
        crm_id: format!("003{n:015}"),
        kind: if matches!(n % 5, 0) {
            ContactKind::Lead
        } else {
            ContactKind::Contact
        },
        first_name: Some(first.to_owned()),
        last_name: Some(last.to_owned()),
        email: Some(format!(
            "{}.{}{n}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        )),
        phone: Some(phone),
        mobile,
        company: Some(format!("Empresa {}", n % 1_000)),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    /// Caller numbers that are in the cache, in the caller's format.
    known: Vec<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite3")).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let all: Vec<Contact> = (0..CONTACTS).map(|n| contact(&mut rng, n)).collect();
    let started = Instant::now();
    for batch in all.chunks(1_000) {
        store.upsert_contacts(batch, cr()).unwrap();
    }
    println!(
        "setup: {CONTACTS} contacts written in batches of 1,000 in {:.2?}",
        started.elapsed()
    );
    if std::env::var_os("BENCH_OPTIMIZE").is_some() {
        let t = Instant::now();
        store.optimize_contacts_index().unwrap();
        println!("optimize: {:.2?}", t.elapsed());
    }
    let known = all
        .iter()
        .step_by(997)
        .filter_map(|c| c.phone.as_deref())
        .map(|p| {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            format!("+506{}", &digits[digits.len() - 8..])
        })
        .collect();
    Fixture {
        _dir: dir,
        store,
        known,
    }
}

fn percentiles(name: &str, runs: usize, mut f: impl FnMut(usize)) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{name:<28} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}",
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

fn report_percentiles(fx: &Fixture) {
    let country = cr();
    percentiles("caller_id/known", 2_000, |i| {
        let found = fx
            .store
            .contacts_for_caller(&fx.known[i % fx.known.len()], country)
            .unwrap();
        assert!(!found.is_empty());
    });
    percentiles("caller_id/unknown", 2_000, |i| {
        let number = format!("+1 202 555 {:04}", i % 10_000);
        black_box(fx.store.contacts_for_caller(&number, country).unwrap());
    });
    for prefix in PREFIXES {
        percentiles(&format!("search/{prefix:?}"), 1_000, |_| {
            let found = fx.store.search_contacts(prefix, 20).unwrap();
            assert!(!found.is_empty(), "{prefix}");
        });
    }
}

fn ended_call(id: &str) -> CallRecord {
    CallRecord {
        id: CallId(id.into()),
        line_call_id: format!("line-{id}"),
        direction: CallDirection::Incoming,
        peer_number: "+50688881234".into(),
        peer_display_name: None,
        local_number: None,
        status: CallStatus::Ended,
        started_at: Timestamp(1_000),
        answered_at: Some(Timestamp(2_000)),
        ended_at: Some(Timestamp(62_000)),
        end_reason: Some(EndReason::Completed),
        log_state: LogState::Pending,
    }
}

fn bench(c: &mut Criterion, fx: &Fixture) {
    let country = cr();
    let mut group = c.benchmark_group("caller_id");
    let mut i = 0;
    group.bench_function("known_number", |b| {
        b.iter(|| {
            i += 1;
            black_box(
                fx.store
                    .contacts_for_caller(&fx.known[i % fx.known.len()], country)
                    .unwrap(),
            )
        })
    });
    group.bench_function("unknown_number", |b| {
        b.iter(|| {
            black_box(
                fx.store
                    .contacts_for_caller("+1 202 555 0143", country)
                    .unwrap(),
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("search_as_you_type");
    for prefix in PREFIXES {
        group.bench_function(format!("{prefix:?}"), |b| {
            b.iter(|| black_box(fx.store.search_contacts(black_box(prefix), 20).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("outbox");
    group.throughput(Throughput::Elements(1));
    let call = CallId("bench-call".into());
    fx.store.upsert_call(&ended_call("bench-call")).unwrap();
    let record = RecordRef {
        crm: Crm::Salesforce,
        kind: ContactKind::Contact,
        id: "003000000000000001".into(),
    };
    fx.store
        .attach_record(&call, &record, "Ana García")
        .unwrap();
    static KEY: AtomicU64 = AtomicU64::new(0);
    group.bench_function("enqueue_claim_deliver", |b| {
        b.iter(|| {
            let key = format!("log-{}", KEY.fetch_add(1, Ordering::Relaxed));
            let now = Timestamp(10_000);
            let entry = fx
                .store
                .queue_log_call(
                    &call,
                    Crm::Salesforce,
                    &key,
                    "{}",
                    "Asunto",
                    "Comentario",
                    now,
                )
                .unwrap();
            let next = fx.store.next_outbox_entry(now).unwrap().unwrap();
            assert_eq!(next.id, entry.id);
            fx.store.mark_in_flight(next.id).unwrap();
            fx.store.mark_delivered(next.id, "00T", now).unwrap();
        })
    });
    group.finish();

    let mut group = c.benchmark_group("contacts_sync");
    let mut rng = Rng(7);
    let batch: Vec<Contact> = (0..1_000).map(|n| contact(&mut rng, n * 100)).collect();
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.sample_size(10);
    group.bench_function("upsert_1000_existing", |b| {
        b.iter(|| fx.store.upsert_contacts(&batch, country).unwrap())
    });
    group.finish();
}

fn main() {
    let fx = fixture();
    report_percentiles(&fx);
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &fx);
    criterion.final_summary();
}
