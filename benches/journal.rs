//! Journal benchmarks: append with `sync_data` (latency percentiles) and
//! follow latency (from an append returning to a follower reading it, with
//! the notify watcher and its poll fallback as the TUI uses them).
//!
//! `cargo bench --bench journal` prints the percentiles first, then
//! criterion's own measurement of one append.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capdeck::runbook::journal::{Follower, Journal, watch};
use capdeck::runbook::record::{Actor, Fact};
use criterion::Criterion;

fn actor() -> Actor {
    Actor {
        user: "bench".into(),
        uid: 1,
        host: "localhost".into(),
        ..Actor::default()
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: n={} p50={:.3} ms p90={:.3} ms p99={:.3} ms max={:.3} ms",
        ms.len(),
        pct(&ms, 0.5),
        pct(&ms, 0.9),
        pct(&ms, 0.99),
        ms[ms.len() - 1]
    );
}

fn note(i: usize) -> Fact {
    Fact::Note {
        text: format!("tick {i}: checklist item ticked by the bench"),
    }
}

fn append_latency(dir: &Path) {
    let p = dir.join("append.jsonl");
    let mut j = Journal::open(&p).unwrap();
    let mut ms = Vec::new();
    for i in 0..2000 {
        let t = Instant::now();
        j.append("bench", &actor(), i as i64, &note(i), None)
            .unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("append+sync_data", ms);
}

/// The disk's own floor: the same bytes with `write` + `sync_data`, no lock,
/// no tail read, no hashing.
fn raw_sync_latency(dir: &Path) {
    use std::io::Write;
    let p = dir.join("raw.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .unwrap();
    let line = vec![b'x'; 300];
    let mut ms = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        f.write_all(&line).unwrap();
        f.sync_data().unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("raw write+sync_data (disk floor)", ms);
}

/// Follow latency with the polling fallback alone (no notify): bounded by
/// the poll interval.
fn poll_only_latency(dir: &Path) {
    let p = dir.join("poll.jsonl");
    let mut j = Journal::open(&p).unwrap();
    let mut f = Follower::new(&p);
    let mut ms = Vec::new();
    for i in 0..20 {
        j.append("bench", &actor(), i, &note(i as usize), None)
            .unwrap();
        let t = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            if !f.poll().unwrap().entries.is_empty() {
                break;
            }
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        // Desynchronise the next append from the poll tick.
        std::thread::sleep(Duration::from_millis(37 * (i as u64 % 13)));
    }
    report("follow, poll fallback only (500 ms)", ms);
}

fn follow_latency(dir: &Path) {
    let p = dir.join("follow.jsonl");
    let mut j = Journal::open(&p).unwrap();
    j.append("bench", &actor(), 0, &note(0), None).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let _w = watch(&p, Duration::from_millis(500), move || {
        let _ = tx.send(());
    });
    let mut f = Follower::new(&p);
    f.poll().unwrap();
    let mut ms = Vec::new();
    for i in 1..=200 {
        // Drain stale wake-ups so each sample waits for its own append.
        while rx.try_recv().is_ok() {}
        std::thread::sleep(Duration::from_millis(5));
        j.append("bench", &actor(), i, &note(i as usize), None)
            .unwrap();
        let t = Instant::now();
        loop {
            let _ = rx.recv_timeout(Duration::from_secs(2));
            if !f.poll().unwrap().entries.is_empty() {
                break;
            }
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("follow (append returned -> follower read it)", ms);
}

fn main() {
    let dir =
        tempfile::tempdir_in(std::env::var_os("CAPDECK_BENCH_DIR").unwrap_or_else(|| ".".into()))
            .unwrap();
    raw_sync_latency(dir.path());
    append_latency(dir.path());
    follow_latency(dir.path());
    poll_only_latency(dir.path());
    let mut c = Criterion::default().configure_from_args().sample_size(50);
    let p = dir.path().join("criterion.jsonl");
    let mut j = Journal::open(&p).unwrap();
    let mut i = 0usize;
    c.bench_function("journal append with sync_data", |b| {
        b.iter(|| {
            i += 1;
            j.append("bench", &actor(), i as i64, &note(i), None)
                .unwrap()
        })
    });
    c.final_summary();
}
