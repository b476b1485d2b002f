//! Decoding `query_range` answers, and the series store's cost per sample.
//!
//! `cargo bench --bench decode` prints samples per second for the decoder
//! (criterion's throughput line) and, once, the store's bytes per sample.

use std::hint::black_box;

use capdeck::series::{Retention, SeriesKey, SeriesStore};
use capdeck::source::prometheus::{decode, synthetic_matrix};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// 20 series of 11,000 points: the largest backfill one query may ask for.
const SERIES: usize = 20;
const POINTS: usize = 11_000;

fn bench_decode(c: &mut Criterion) {
    let body = synthetic_matrix(SERIES, POINTS);
    let mut g = c.benchmark_group("query_range");
    g.throughput(Throughput::Elements((SERIES * POINTS) as u64));
    g.bench_function("decode_20x11000", |b| {
        b.iter(|| {
            let a = decode(black_box(body.as_bytes())).expect("decodes");
            black_box(a.series.len())
        })
    });
    g.finish();
}

fn bench_store(c: &mut Criterion) {
    let body = synthetic_matrix(SERIES, POINTS);
    let answer = decode(body.as_bytes()).expect("decodes");
    let retention = Retention {
        max_age_ms: i64::MAX,
        max_samples: 12_000,
    };
    let fill = || {
        let mut store = SeriesStore::new(retention);
        for s in &answer.series {
            store.extend(
                SeriesKey::new("d/t", s.labels.clone()),
                s.samples.iter().copied(),
            );
        }
        // Then live samples past the cap, as a long session adds them.
        for s in &answer.series {
            let last = s.samples.last().map_or(0, |x| x.t);
            store.extend(
                SeriesKey::new("d/t", s.labels.clone()),
                (1..=2_000).map(|i| capdeck::series::Sample::new(last + i * 15_000, 1.0)),
            );
        }
        store
    };
    let store = fill();
    eprintln!(
        "series store: {} samples in {} series, {} bytes of sample buffers: {:.2} bytes per stored sample",
        store.sample_count(),
        store.series_count(),
        store.sample_bytes(),
        store.sample_bytes() as f64 / store.sample_count() as f64
    );
    let mut g = c.benchmark_group("series_store");
    g.throughput(Throughput::Elements((SERIES * (POINTS + 2_000)) as u64));
    g.bench_function("fill_20x13000", |b| {
        b.iter(|| black_box(fill().sample_count()))
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_store);
criterion_main!(benches);
