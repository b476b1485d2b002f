//! The automatic choice on a 4,000-point series (target: at most 100 ms),
//! and the whole per-trigger entry point on the same data.
//!
//! Run: `cargo bench --bench forecast`. The series is the NAB file kept
//! under tests/data/nab (4,032 five-minute CPU samples, 14 days).

use std::path::Path;

use capdeck::config::ForecastMode;
use capdeck::forecast::backtest::read_csv;
use capdeck::forecast::select::{self, AutoConfig, CV_ORIGINS};
use capdeck::forecast::{ForecastRequest, forecast_trigger};
use capdeck::series::Sample;
use criterion::{Criterion, criterion_group, criterion_main};

fn data() -> (Vec<i64>, Vec<f64>) {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab/ec2_cpu_utilization_5f5533.csv");
    read_csv(&p).expect("bench data")
}

fn bench(c: &mut Criterion) {
    let (t, y) = data();
    assert!(y.len() >= 4000);
    let cfg = AutoConfig {
        daily: Some(288),
        weekly: Some(2016),
        horizon: 403,
        origins: CV_ORIGINS,
        seasons: None,
        only: None,
    };
    let mut g = c.benchmark_group("forecast");
    g.sample_size(20);
    g.bench_function("auto_4032_points_h403", |b| {
        b.iter(|| select::auto(std::hint::black_box(&y), &cfg).expect("auto"))
    });
    let samples: Vec<Sample> = t.iter().zip(&y).map(|(t, v)| Sample::new(*t, *v)).collect();
    let req = ForecastRequest {
        now_ms: *t.last().expect("t"),
        samples,
        threshold: 80.0,
        lead_time_ms: 86_400_000,
        horizon_ms: 2 * 86_400_000,
        mode: ForecastMode::Auto,
    };
    g.bench_function("forecast_trigger_4032_points_2d", |b| {
        b.iter(|| forecast_trigger(std::hint::black_box(&req)))
    });
    g.finish();

    // Wall time above includes waiting for a core on a shared machine; the
    // thread's own CPU time does not, so print that too.
    let runs = 20;
    let t0 = thread_cpu_s();
    for _ in 0..runs {
        std::hint::black_box(select::auto(&y, &cfg).expect("auto"));
    }
    let auto_ms = (thread_cpu_s() - t0) / runs as f64 * 1e3;
    let t0 = thread_cpu_s();
    for _ in 0..runs {
        std::hint::black_box(forecast_trigger(&req));
    }
    let trig_ms = (thread_cpu_s() - t0) / runs as f64 * 1e3;
    println!("thread CPU time per call: auto {auto_ms:.1} ms, forecast_trigger {trig_ms:.1} ms");
}

fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

criterion_group!(benches, bench);
criterion_main!(benches);
