use std::collections::HashMap;

use super::*;
use crate::config::{Origin, parse};
use crate::series::{Sample, SeriesKey};

const CONFIG: &str = r#"
[cockpit]
refresh = "10s"

[[source]]
name = "demo"
kind = "demo"

[[domain]]
id = "db"
title = "Database"

  [[domain.trigger]]
  id = "pool"
  title = "Pool"
  capacity = 400
  unit = "conn"
  for = "20s"

  [[domain.trigger]]
  id = "quota"
  title = "Quota"
  capacity_query = "quota"
  by = "tenant"
  top = 2
"#;

const NOW: i64 = 1_000_000;

fn config() -> Config {
    parse(CONFIG, Origin::Embedded).unwrap().config
}

fn store_with(points: &[(i64, f64)]) -> SeriesStore {
    let mut s = SeriesStore::default();
    s.extend(
        SeriesKey::unlabelled("db/pool"),
        points.iter().map(|&(t, v)| Sample::new(t, v)),
    );
    s
}

fn eval(store: &SeriesStore) -> Snapshot {
    evaluate(
        &config(),
        &Inputs {
            store: Some(store),
            ..Inputs::default()
        },
        NOW,
    )
}

fn pool(s: &Snapshot) -> &TriggerStatus {
    s.trigger("db/pool").unwrap()
}

#[test]
fn value_capacity_utilisation_and_headroom() {
    let s = eval(&store_with(&[(NOW - 10_000, 200.0)]));
    let p = pool(&s);
    assert_eq!(p.value, Some(200.0));
    assert_eq!(p.capacity, Some(400.0));
    assert_eq!(p.utilization, Some(0.5));
    assert_eq!(p.headroom, Some(400.0 * 0.8 - 200.0));
    assert!((p.headroom_pct.unwrap() - 0.3).abs() < 1e-12);
    assert_eq!(p.state, State::Ok);
    assert_eq!(p.age_seconds, Some(10.0));
}

#[test]
fn for_must_hold_before_scale_is_entered() {
    let rising = [
        (NOW - 30_000, 200.0),
        (NOW - 20_000, 340.0),
        (NOW - 10_000, 340.0),
    ];
    let p = eval(&store_with(&rising));
    assert_eq!(pool(&p).state, State::Ok, "warn needs `for` too");
    assert_eq!(pool(&p).pending, Some(State::Scale));
    let held = [
        (NOW - 30_000, 340.0),
        (NOW - 20_000, 340.0),
        (NOW - 10_000, 340.0),
        (NOW, 340.0),
    ];
    assert_eq!(pool(&eval(&store_with(&held))).state, State::Scale);
}

#[test]
fn hysteresis_holds_until_the_clear_level() {
    let pts: Vec<_> = (0..5)
        .map(|i| (NOW - 50_000 + i * 10_000, 340.0))
        .chain([(NOW, 305.0)])
        .collect();
    assert_eq!(
        pool(&eval(&store_with(&pts))).state,
        State::Scale,
        "305/400 = 76% > clear 75%"
    );
    let pts: Vec<_> = (0..5)
        .map(|i| (NOW - 50_000 + i * 10_000, 340.0))
        .chain([(NOW, 290.0)])
        .collect();
    assert_eq!(pool(&eval(&store_with(&pts))).state, State::Warn);
}

#[test]
fn an_old_sample_is_stale_never_healthy() {
    // stale_after defaults to 3 × refresh = 30 s.
    let s = eval(&store_with(&[(NOW - 31_000, 100.0)]));
    assert_eq!(pool(&s).state, State::Stale);
    assert_eq!(pool(&s).value, Some(100.0), "the last value is still shown");
    let s = eval(&store_with(&[(NOW - 29_000, 100.0)]));
    assert_eq!(pool(&s).state, State::Ok);
}

#[test]
fn no_samples_is_unknown_and_sorted_last() {
    let s = eval(&SeriesStore::default());
    assert!(s.triggers.iter().all(|t| t.state == State::Unknown));
    let s = eval(&store_with(&[(NOW, 100.0)]));
    assert_eq!(s.triggers[0].key(), "db/pool");
}

#[test]
fn nan_values_are_no_value() {
    let s = eval(&store_with(&[(NOW - 10_000, 100.0), (NOW, f64::NAN)]));
    assert_eq!(pool(&s).value, Some(100.0));
}

#[test]
fn by_rows_each_get_their_own_capacity_and_state() {
    let mut store = SeriesStore::default();
    let tenant =
        |t: &str| -> crate::series::Labels { [("tenant".to_string(), t.to_string())].into() };
    for (t, v, cap) in [
        ("a", 90.0, 100.0),
        ("b", 10.0, 100.0),
        ("c", 50.0, 200.0),
        ("d", 5.0, 100.0),
    ] {
        store.extend(SeriesKey::new("db/quota", tenant(t)), [Sample::new(NOW, v)]);
        store.extend(
            SeriesKey::new("db/quota#capacity", tenant(t)),
            [Sample::new(NOW, cap)],
        );
    }
    let s = eval(&store);
    let q = s.trigger("db/quota").unwrap();
    assert_eq!(q.state, State::Scale, "the worst row decides");
    assert_eq!(q.value, Some(90.0));
    let labels: Vec<_> = q.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, vec!["a", "c", "2 more (highest: b)"]);
    assert_eq!(q.rows[1].utilization, Some(0.25));
}

#[test]
fn errors_are_carried_to_the_trigger() {
    let mut errors = HashMap::new();
    errors.insert(
        "db/pool".to_string(),
        "prom: timed out after 5.0s".to_string(),
    );
    let store = SeriesStore::default();
    let s = evaluate(
        &config(),
        &Inputs {
            store: Some(&store),
            query_errors: Some(&errors),
            ..Inputs::default()
        },
        NOW,
    );
    assert_eq!(
        pool(&s).error.as_deref(),
        Some("prom: timed out after 5.0s")
    );
}

const EXTERNAL_CONFIG: &str = r#"
[[source]]
name = "billing"
kind = "json"
url = "http://127.0.0.1:9/"

[[domain]]
id = "images"
title = "Image generation"

  [[domain.trigger]]
  id = "spend"
  title = "Spend today"
  source = "billing"
  query = "/v1/usage"
  pointer = "/spend"
  capacity = 200
  scale = 0.8
  external_forecast = { source = "billing", path = "/forecasts/spend.json", pointer = "/points" }
"#;

fn external_store(points: &[(i64, f64, f64, f64)]) -> SeriesStore {
    let mut s = SeriesStore::default();
    for (band, pick) in [("value", 1usize), ("lower", 2), ("upper", 3)] {
        let mut labels = crate::series::Labels::new();
        labels.insert("band".into(), band.into());
        s.extend(
            SeriesKey::new("images/spend#external", labels),
            points.iter().map(|p| {
                let v = [p.1, p.1, p.2, p.3][pick];
                Sample::new(p.0, v)
            }),
        );
    }
    s
}

#[test]
fn an_external_forecast_is_carried_with_its_crossings() {
    let config = parse(EXTERNAL_CONFIG, Origin::Embedded).unwrap().config;
    // The scale line is 160: the upper band reaches it at NOW+3000, the
    // value at NOW+4000; the point before now is history, not forecast.
    let store = external_store(&[
        (NOW - 1000, 100.0, 90.0, 110.0),
        (NOW + 1000, 120.0, 110.0, 130.0),
        (NOW + 2000, 140.0, 120.0, 155.0),
        (NOW + 3000, 150.0, 130.0, 170.0),
        (NOW + 4000, 165.0, 140.0, 190.0),
    ]);
    let s = evaluate(
        &config,
        &Inputs {
            store: Some(&store),
            ..Inputs::default()
        },
        NOW,
    );
    let ext = s
        .trigger("images/spend")
        .and_then(|t| t.external.clone())
        .expect("external forecast");
    assert_eq!(ext.source, "billing");
    assert_eq!(ext.points.len(), 4);
    assert_eq!(ext.points[0].t, NOW + 1000);
    assert_eq!(ext.breach_upper_at, Some(NOW + 3000));
    assert_eq!(ext.breach_at, Some(NOW + 4000));
    assert_eq!(ext.error, None);
}

#[test]
fn an_external_forecast_without_points_says_why() {
    let config = parse(EXTERNAL_CONFIG, Origin::Embedded).unwrap().config;
    let mut errors = HashMap::new();
    errors.insert(
        "images/spend#external".to_string(),
        "billing: HTTP 404 Not Found".to_string(),
    );
    let store = SeriesStore::default();
    let s = evaluate(
        &config,
        &Inputs {
            store: Some(&store),
            query_errors: Some(&errors),
            ..Inputs::default()
        },
        NOW,
    );
    let ext = s
        .trigger("images/spend")
        .and_then(|t| t.external.clone())
        .expect("external forecast");
    assert!(ext.points.is_empty());
    assert_eq!(ext.breach_at, None);
    assert_eq!(ext.error.as_deref(), Some("billing: HTTP 404 Not Found"));
    // A trigger without `external_forecast` carries none.
    assert!(
        eval(&store_with(&[(NOW, 1.0)]))
            .trigger("db/pool")
            .unwrap()
            .external
            .is_none()
    );
}
