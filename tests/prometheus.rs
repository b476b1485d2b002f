//! capdeck against a real Prometheus: `report --format json` shows exactly
//! what was written, the backfill holds the written history, and a recorded
//! session replays to the same report with Prometheus stopped; capdeck's
//! least-squares line gives what Prometheus' own `predict_linear` gives.

mod common;

use common::prometheus::{Prometheus, Written};
use common::{NOW_S, Polling, Workdir, approx, source, trigger};

const MIN: i64 = 60;
/// Six hours of history, one sample a minute, ending at NOW.
const HISTORY_S: i64 = 6 * 3600;

fn minutes() -> impl Iterator<Item = i64> + Clone {
    (0..=HISTORY_S / MIN).map(|i| NOW_S - HISTORY_S + i * MIN)
}

/// `before` until `since` seconds before NOW, then `after`.
fn step(before: f64, after: f64, since: i64) -> Vec<(i64, f64)> {
    minutes()
        .map(|t| (t, if t >= NOW_S - since { after } else { before }))
        .collect()
}

fn pool_active() -> Vec<(i64, f64)> {
    step(300.0, 340.0, 20 * MIN)
}

fn data() -> Vec<Written> {
    let flat = |v: f64| minutes().map(|t| (t, v)).collect::<Vec<_>>();
    vec![
        Written {
            name: "db_pool_active",
            labels: vec![("instance", "pg-1")],
            points: pool_active(),
        },
        Written {
            name: "db_pool_size",
            labels: vec![("instance", "pg-1")],
            points: flat(400.0),
        },
        Written {
            name: "tenant_api_requests",
            labels: vec![("tenant", "acme")],
            points: step(50.0, 90.0, 40 * MIN),
        },
        Written {
            name: "tenant_api_requests",
            labels: vec![("tenant", "globex")],
            points: step(100.0, 170.0, 10 * MIN),
        },
        Written {
            name: "tenant_api_requests",
            labels: vec![("tenant", "initech")],
            points: flat(10.0),
        },
        Written {
            name: "tenant_api_quota",
            labels: vec![("tenant", "acme")],
            points: flat(100.0),
        },
        Written {
            name: "tenant_api_quota",
            labels: vec![("tenant", "globex")],
            points: flat(200.0),
        },
        Written {
            name: "tenant_api_quota",
            labels: vec![("tenant", "initech")],
            points: flat(50.0),
        },
    ]
}

fn config(url: &str) -> String {
    format!(
        r#"
[cockpit]
platform = "Test platform"
refresh = "60s"
history = "6h"

[[source]]
name = "prom"
kind = "prometheus"
url = "{url}"
timeout = "5s"
headers = {{ "X-Scope-OrgID" = "test" }}

[[domain]]
id = "database"
title = "Database load"

  [[domain.trigger]]
  id = "pool"
  title = "Pooled connections"
  query = 'sum(db_pool_active)'
  capacity_query = 'max(db_pool_size)'
  unit = "conn"
  for = "10m"

  [[domain.trigger]]
  id = "scalar"
  title = "Pool as a scalar"
  query = 'scalar(sum(db_pool_active))'
  capacity = 1000
  unit = "conn"

[[domain]]
id = "b2b"
title = "Commercial B2B"

  [[domain.trigger]]
  id = "api_quota"
  title = "Per-tenant API quota use"
  query = 'tenant_api_requests'
  capacity_query = 'tenant_api_quota'
  unit = "req"
  by = "tenant"
  top = 2
  for = "30m"
"#
    )
}

/// Asserts the report shows exactly what `data()` says at NOW.
fn assert_expected(r: &serde_json::Value) {
    let pool = trigger(r, "database/pool");
    assert_eq!(pool["value"], 340.0, "{pool}");
    assert_eq!(pool["capacity"], 400.0);
    assert!(approx(&pool["utilization"], 0.85), "{pool}");
    assert!(approx(&pool["headroom"], -20.0), "{pool}");
    // 0.85 has held for 20 minutes, past `for = 10m`: SCALE, not yet critical.
    assert_eq!(pool["state"], "scale");
    assert_eq!(pool["pending"], serde_json::Value::Null);
    assert_eq!(pool["error"], serde_json::Value::Null);
    assert_eq!(pool["age_seconds"], 0.0);

    let scalar = trigger(r, "database/scalar");
    assert_eq!(scalar["value"], 340.0, "{scalar}");
    assert_eq!(scalar["capacity"], 1000.0);
    assert_eq!(scalar["state"], "ok");

    let quota = trigger(r, "b2b/api_quota");
    // The trigger shows its worst row.
    assert_eq!(quota["value"], 90.0, "{quota}");
    assert_eq!(quota["capacity"], 100.0);
    assert_eq!(quota["state"], "scale");
    let rows = quota["rows"].as_array().expect("rows");
    let labels: Vec<&str> = rows
        .iter()
        .map(|r| r["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        vec!["acme", "globex", "1 more (highest: initech)"],
        "{quota}"
    );
    // acme: 0.9 for 40 minutes, past `for = 30m`.
    assert_eq!(rows[0]["value"], 90.0);
    assert_eq!(rows[0]["capacity"], 100.0);
    assert!(approx(&rows[0]["headroom"], -10.0));
    assert_eq!(rows[0]["state"], "scale");
    // globex: its own capacity of 200; 0.85 for only 10 minutes: still OK.
    assert_eq!(rows[1]["value"], 170.0);
    assert_eq!(rows[1]["capacity"], 200.0);
    assert!(approx(&rows[1]["utilization"], 0.85));
    assert_eq!(rows[1]["state"], "ok");
    // initech: 10 of 50.
    assert_eq!(rows[2]["value"], 10.0);
    assert_eq!(rows[2]["capacity"], 50.0);
    assert_eq!(rows[2]["state"], "ok");

    let prom = source(r, "prom");
    assert_eq!(prom["ok"], true, "{prom}");
    assert_eq!(prom["failures"], 0);
    assert!(prom["bytes_received"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn report_shows_the_written_values_capacities_rows_and_states() {
    let prom = Prometheus::start(&data());
    let w = Workdir::new(&config(&prom.url));
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "stderr: {}\n{}", run.stderr, prom.log());
    assert_expected(&run.json());
}

#[test]
fn backfill_matches_the_written_history_with_every_label() {
    let prom = Prometheus::start(&data());
    let w = Workdir::new(&config(&prom.url));
    let loaded = capdeck::config::load_file(&w.file("capdeck.toml")).expect("config");
    let clock = capdeck::time::Clock::fixed(NOW_S * 1000);
    let (_, obs) = capdeck::cli::snapshot_once(&loaded, &clock).expect("snapshot");

    // 6h at a 60s step: 361 points, each exactly the written value.
    let pool = obs.store.of_query("database/pool");
    assert_eq!(pool.len(), 1);
    let got: Vec<(i64, f64)> = pool[0].1.iter().map(|s| (s.t / 1000, s.v)).collect();
    assert_eq!(got, pool_active());

    // A plain selector keeps every label, `__name__` included.
    let quota = obs.store.of_query("b2b/api_quota");
    let labels: Vec<String> = quota
        .iter()
        .map(|(l, _)| capdeck::source::labels_text(l))
        .collect();
    assert_eq!(
        labels,
        vec![
            r#"{__name__="tenant_api_requests", tenant="acme"}"#,
            r#"{__name__="tenant_api_requests", tenant="globex"}"#,
            r#"{__name__="tenant_api_requests", tenant="initech"}"#,
        ]
    );
    let acme: Vec<(i64, f64)> = quota[0].1.iter().map(|s| (s.t / 1000, s.v)).collect();
    assert_eq!(acme, step(50.0, 90.0, 40 * MIN));
}

#[test]
fn a_prometheus_error_payload_is_shown_verbatim() {
    let prom = Prometheus::start(&data());
    let w =
        Workdir::new(&config(&prom.url).replace("'sum(db_pool_active)'", "'sum(db_pool_active'"));
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let r = run.json();
    let err = trigger(&r, "database/pool")["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(err.starts_with("prom: bad_data: "), "{err}");
    assert!(err.contains("unclosed left parenthesis"), "{err}");
    // The other triggers are unaffected.
    assert_eq!(trigger(&r, "b2b/api_quota")["state"], "scale");
}

#[test]
fn a_recorded_session_replays_to_the_same_report_without_prometheus() {
    let mut prom = Prometheus::start(&data());
    let w = Workdir::new(&config(&prom.url));
    let recorded = w.report(&["--record", "session.capdeck"]);
    assert_eq!(recorded.code, Some(0), "{}", recorded.stderr);
    prom.stop();

    // Prometheus is gone: a live run fails, a replay does not.
    let live = w.report(&[]);
    assert_eq!(live.code, Some(1));
    let replayed = w.report(&["--replay", "session.capdeck"]);
    replayed.assert_no_panic();
    assert_eq!(replayed.code, Some(0), "{}", replayed.stderr);

    let (a, b) = (recorded.json(), replayed.json());
    assert_expected(&b);
    for key in ["platform", "generated_at", "domains", "triggers"] {
        assert_eq!(a[key], b[key], "{key} differs after replay");
    }
    let strip = |s: &serde_json::Value| {
        let mut s = s.clone();
        for k in ["kind", "latency_p50_ms", "latency_p95_ms"] {
            s.as_object_mut().map(|o| o.remove(k));
        }
        s
    };
    assert_eq!(strip(source(&a, "prom")), strip(source(&b, "prom")));
    assert_eq!(source(&b, "prom")["kind"], "replay");
}

#[test]
fn a_long_query_is_posted_and_answered() {
    let prom = Prometheus::start(&data());
    // About 6 KiB of PromQL: sent as a POST form, not in the URL.
    let long = format!(
        "sum(db_pool_active){}",
        " + 0 * sum(db_pool_active)".repeat(220)
    );
    assert!(long.len() > 4096);
    let w = Workdir::new(
        &config(&prom.url).replace("'scalar(sum(db_pool_active))'", &format!("'{long}'")),
    );
    let run = w.report(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(trigger(&run.json(), "database/scalar")["value"], 340.0);
}

/// A noisy ramp sampled every minute, 30 s off the minute so that no sample
/// sits on a range selector's edge (Prometheus 2 and 3 differ there).
fn ramp() -> Vec<(i64, f64)> {
    (0..360i64)
        .map(|i| {
            let t = NOW_S - 30 - i * MIN;
            let noise = ((i * 7919) % 13) as f64 * 0.29 - (i % 5) as f64 * 1.1;
            (t, 1000.0 + 0.37 * (360 - i) as f64 + noise)
        })
        .rev()
        .collect()
}

#[test]
fn predict_linear_matches_a_real_prometheus() {
    let prom = Prometheus::start(&[Written {
        name: "ramp",
        labels: vec![],
        points: ramp(),
    }]);
    let cases = [("30m", 30 * MIN, 3600), ("2h", 120 * MIN, 86_400)];
    let triggers: String = cases
        .iter()
        .enumerate()
        .map(|(i, (range, _, d))| {
            format!(
                "\n  [[domain.trigger]]\n  id = \"p{i}\"\n  title = \"predict_linear {range}\"\n  \
                 query = 'predict_linear(ramp[{range}], {d})'\n  capacity = 1e9\n"
            )
        })
        .collect();
    let w = Workdir::new(&format!(
        "[cockpit]\nplatform = \"Test\"\nrefresh = \"60s\"\n\n\
         [[source]]\nname = \"prom\"\nkind = \"prometheus\"\nurl = \"{}\"\n\n\
         [[domain]]\nid = \"d\"\ntitle = \"D\"\n{triggers}",
        prom.url
    ));
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "stderr: {}\n{}", run.stderr, prom.log());
    let report = run.json();
    for (i, (range, span_s, d)) in cases.iter().enumerate() {
        let theirs = trigger(&report, &format!("d/p{i}"))["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("no value for {range}: {report}"));
        let (t, v): (Vec<f64>, Vec<f64>) = ramp()
            .into_iter()
            .filter(|(t, _)| *t > NOW_S - span_s && *t <= NOW_S)
            .map(|(t, v)| (t as f64, v))
            .unzip();
        let ours = capdeck::forecast::models::predict_linear(&t, &v, NOW_S as f64, *d as f64)
            .expect("a line");
        let rel = (ours - theirs).abs() / theirs.abs();
        assert!(
            rel < 1e-9,
            "predict_linear(ramp[{range}], {d}): Prometheus {theirs}, capdeck {ours} ({rel:e})"
        );
    }
}

#[test]
fn history_missed_while_prometheus_was_down_is_filled_in_when_it_returns() {
    use std::time::Duration;

    // Prometheus is down when the cockpit starts.
    let mut prom = Prometheus::start(&data());
    prom.stop();
    let w = Workdir::new(&config(&prom.url).replace("refresh = \"60s\"", "refresh = \"1s\""));
    let polling = Polling::start(&w.file("capdeck.toml"), |q| q == "database/pool");
    // The backfill and a poll fail.
    polling.wait_for("failed backfill and poll", Duration::from_secs(10), |a| {
        a.iter().any(|a| a.backfill && a.result.is_err())
            && a.iter().any(|a| !a.backfill && a.result.is_err())
    });

    // Back: the whole history arrives without a restart of the cockpit.
    prom.restart();
    polling.wait_for("refill", Duration::from_secs(90), |a| {
        a.iter().any(|a| a.refill && a.result.is_ok())
    });
    polling.stop();
    let answers = polling.answers.lock().expect("answers");
    let refill = answers
        .iter()
        .find(|a| a.refill && a.result.is_ok())
        .expect("refill");
    let got: Vec<(i64, f64)> = refill.result.as_ref().expect("ok").series[0]
        .samples
        .iter()
        .map(|s| (s.t / 1000, s.v))
        .collect();
    // The whole window, at the backfill's step, each point the written
    // value in force then.
    let written = pool_active();
    assert_eq!(got.first().map(|p| p.0), Some(NOW_S - HISTORY_S));
    assert_eq!(got.last().map(|p| p.0), Some(NOW_S));
    for (t, v) in &got {
        let want = written.iter().rev().find(|(wt, _)| wt <= t).map(|p| p.1);
        assert_eq!(Some(*v), want, "at {t}");
    }
    // The source was not asked for the whole window on every poll while
    // it was down: the refill tries thinned out.
    let polls = answers.iter().filter(|a| !a.backfill).count();
    let refills = answers.iter().filter(|a| a.refill).count();
    assert!(
        refills < polls,
        "{refills} refills for {polls} polls while Prometheus was down"
    );
}
