//! The demo simulator: a deterministic drawing of every trigger of a
//! configuration. A value is a pure function of (seed, query, time), so a
//! backfill and the live samples after it agree, and a fixed seed and clock
//! always give the same screen.
//!
//! Each trigger is drawn from its `demo` profile (fractions of capacity):
//! a base level, a growth trend, daily and weekly cycles, noise, onboarding
//! steps and incident bumps. What a profile leaves out is derived from a hash
//! of the trigger's name, so any configuration runs on the demo.

use std::collections::HashMap;
use std::f64::consts::PI;

use crate::capacity::{capacity_query, value_query};
use crate::config::{Config, DemoProfile, SourceKind};
use crate::series::{Labels, Sample};

use super::{Answer, BoxFuture, QuerySpec, SeriesData, Source, SourceError};

const DAY_MS: f64 = 86_400_000.0;
const WEEK_MS: f64 = 7.0 * DAY_MS;

/// A profile with every field settled.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    base: f64,
    trend_per_day: f64,
    daily: f64,
    weekly: f64,
    noise: f64,
    step_every_ms: f64,
    step: f64,
    incident_every_ms: f64,
    incident_length_ms: f64,
    incident_height: f64,
    ceiling: f64,
}

#[derive(Debug, Clone)]
struct Drawn {
    /// Hash of the query name, mixed into every random draw.
    salt: u64,
    shape: Shape,
    capacity: f64,
    /// `by` label name and its values, each drawn with its own salt.
    rows: Option<(String, Vec<String>)>,
}

pub struct DemoSource {
    name: String,
    seed: u64,
    /// The instant the trend and steps are anchored to: the demo's "today".
    anchor_ms: i64,
    values: HashMap<String, Drawn>,
    capacities: HashMap<String, f64>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A uniform draw in [0, 1) from a key.
fn unit(x: u64) -> f64 {
    (splitmix(x) >> 11) as f64 / (1u64 << 53) as f64
}

fn gaussian(x: u64) -> f64 {
    let u1 = unit(x).max(1e-12);
    let u2 = unit(x ^ 0xA5A5_A5A5_A5A5_A5A5);
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

impl Shape {
    fn resolve(p: &DemoProfile, salt: u64) -> Shape {
        let r = |i: u64| unit(salt ^ i.wrapping_mul(0x1000_0000_01b3));
        let dur = |d: Option<crate::config::Dur>, default_days: f64| {
            d.map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(default_days * DAY_MS)
        };
        Shape {
            base: p.base.unwrap_or(0.30 + 0.30 * r(1)),
            trend_per_day: p.trend_per_day.unwrap_or(0.002 + 0.008 * r(2)),
            daily: p.daily.unwrap_or(0.05 + 0.12 * r(3)),
            weekly: p.weekly.unwrap_or(0.02 + 0.05 * r(4)),
            noise: p.noise.unwrap_or(0.015),
            step_every_ms: dur(p.step_every, 0.0),
            step: p.step.unwrap_or(0.0),
            incident_every_ms: dur(p.incident_every, 0.0),
            incident_length_ms: dur(p.incident_length, 40.0 / 1440.0),
            incident_height: p.incident_height.unwrap_or(0.0),
            ceiling: p.ceiling.unwrap_or(1.15),
        }
    }

    /// Steps taken at or before `t`: one per period, at a drawn offset in it.
    fn steps_until(&self, salt: u64, t: f64) -> f64 {
        if self.step_every_ms <= 0.0 || self.step == 0.0 {
            return 0.0;
        }
        let period = (t / self.step_every_ms).floor();
        let offset = unit(salt ^ 0x57E9 ^ (period as i64 as u64)) * self.step_every_ms;
        period
            + if t - period * self.step_every_ms >= offset {
                1.0
            } else {
                0.0
            }
    }

    fn incident(&self, salt: u64, t: f64) -> f64 {
        if self.incident_every_ms <= 0.0 || self.incident_height == 0.0 {
            return 0.0;
        }
        let len = self.incident_length_ms.min(self.incident_every_ms);
        let period = (t / self.incident_every_ms).floor();
        let start = period * self.incident_every_ms
            + unit(salt ^ 0x1C1D ^ (period as i64 as u64)) * (self.incident_every_ms - len);
        if t >= start && t < start + len {
            self.incident_height * (PI * (t - start) / len).sin()
        } else {
            0.0
        }
    }

    /// Utilisation at `t_ms`.
    fn at(&self, seed: u64, salt: u64, anchor_ms: i64, t_ms: i64) -> f64 {
        let t = t_ms as f64;
        let days = (t - anchor_ms as f64) / DAY_MS;
        // Daily cycle peaking at 14:00 UTC; weekly: weekdays up, weekends down.
        let hour = (t.rem_euclid(DAY_MS)) / 3_600_000.0;
        let daily = (2.0 * PI * (hour - 14.0) / 24.0).cos();
        // 1970-01-01 was a Thursday: day 0 of the week is Thursday.
        let weekday = ((t.rem_euclid(WEEK_MS)) / DAY_MS + 3.0).rem_euclid(7.0); // 0 = Monday
        let weekly = if weekday < 5.0 { 0.4 } else { -1.0 };
        let steps =
            self.step * (self.steps_until(salt, t) - self.steps_until(salt, anchor_ms as f64));
        let noise = self.noise * gaussian(seed ^ salt ^ (t_ms / 1000) as u64);
        let u = self.base
            + self.trend_per_day * days
            + self.daily * daily
            + self.weekly * weekly
            + steps
            + self.incident(salt ^ seed, t)
            + noise;
        u.clamp(0.0, self.ceiling)
    }
}

impl DemoSource {
    /// The simulator for the triggers of `config` that read source `name`
    /// (or every trigger, when `name` is the only source).
    pub fn new(config: &Config, name: &str, seed: u64) -> DemoSource {
        Self::anchored(config, name, seed, crate::time::now_ms())
    }

    pub fn anchored(config: &Config, name: &str, seed: u64, anchor_ms: i64) -> DemoSource {
        let mut values = HashMap::new();
        let mut capacities = HashMap::new();
        for (d, t) in config.triggers() {
            let reads_here = config.source_of(t).is_none_or(|s| s.name == name)
                || config.sources.iter().all(|s| s.kind != SourceKind::Demo);
            if !reads_here {
                continue;
            }
            let profile = t.demo.clone().unwrap_or_default();
            let q = value_query(d, t);
            let salt = fnv(&q);
            let capacity = t
                .capacity
                .map(|c| c.0)
                .or(profile.capacity.map(|c| c.0))
                .unwrap_or(100.0);
            let rows = t.by.clone().map(|by| {
                (
                    by,
                    if profile.series.is_empty() {
                        vec!["a".into(), "b".into(), "c".into()]
                    } else {
                        profile.series.clone()
                    },
                )
            });
            values.insert(
                q,
                Drawn {
                    salt,
                    shape: Shape::resolve(&profile, salt),
                    capacity,
                    rows,
                },
            );
            if t.capacity_query.is_some() {
                capacities.insert(capacity_query(d, t), capacity);
            }
        }
        DemoSource {
            name: name.to_string(),
            seed,
            anchor_ms,
            values,
            capacities,
        }
    }

    fn series(
        &self,
        q: &QuerySpec,
        times: impl Iterator<Item = i64> + Clone,
    ) -> Result<Answer, SourceError> {
        if let Some(rest) = q.name.strip_prefix("watch:") {
            let metric = rest.rsplit('/').next().unwrap_or(rest);
            return Ok(watch_series(self.seed, metric, times));
        }
        if let Some(cap) = self.capacities.get(&*q.name) {
            return Ok(Answer {
                series: vec![SeriesData {
                    labels: Labels::new(),
                    samples: times.map(|t| Sample::new(t, *cap)).collect(),
                }],
                ..Answer::default()
            });
        }
        let drawn = self.values.get(&*q.name).ok_or_else(|| {
            SourceError::Other(format!("the demo does not simulate `{}`", q.name))
        })?;
        let draw = |salt: u64, scale: f64, times: &mut dyn Iterator<Item = i64>| -> Vec<Sample> {
            times
                .map(|t| {
                    Sample::new(
                        t,
                        drawn.capacity * scale * drawn.shape.at(self.seed, salt, self.anchor_ms, t),
                    )
                })
                .collect()
        };
        let series = match &drawn.rows {
            None => vec![SeriesData {
                labels: Labels::new(),
                samples: draw(drawn.salt, 1.0, &mut times.clone()),
            }],
            Some((by, labels)) => labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    // The first rows are the big tenants.
                    let scale = (1.0 - 0.11 * i as f64).max(0.15);
                    SeriesData {
                        labels: [(by.clone(), l.clone())].into(),
                        samples: draw(drawn.salt ^ fnv(l), scale, &mut times.clone()),
                    }
                })
                .collect(),
        };
        Ok(Answer {
            series,
            ..Answer::default()
        })
    }

    /// The value of a query at `t_ms` (the first series for `by` queries).
    pub fn value_at(&self, query: &str, t_ms: i64) -> Option<f64> {
        let q = QuerySpec {
            name: query.into(),
            source: self.name.clone(),
            expr: String::new(),
            pointer: None,
            command: Vec::new(),
            shell: false,
        };
        self.series(&q, std::iter::once(t_ms))
            .ok()?
            .series
            .first()?
            .samples
            .first()
            .map(|s| s.v)
    }
}

/// How the demo draws a runbook's `watch` series, by metric name: a label
/// naming the rows, the rows, and the range the value sweeps.
struct Watched {
    metric: &'static str,
    label: &'static str,
    rows: &'static [&'static str],
    lo: f64,
    hi: f64,
    /// 0 or 1 (an `up`-like health metric) instead of a level.
    boolean: bool,
}

const WATCHED: &[Watched] = &[
    Watched {
        metric: "pg_replication_lag_seconds",
        label: "instance",
        rows: &["pg-main-2", "pg-main-3"],
        lo: 0.2,
        hi: 25.0,
        boolean: false,
    },
    Watched {
        metric: "pg_up",
        label: "instance",
        rows: &["pg-main-1", "pg-main-2", "pg-main-3"],
        lo: 0.0,
        hi: 1.0,
        boolean: true,
    },
    Watched {
        metric: "pgbouncer_clients_waiting",
        label: "",
        rows: &[],
        lo: -10.0,
        hi: 60.0,
        boolean: false,
    },
    Watched {
        metric: "pgbouncer_idle_in_transaction",
        label: "",
        rows: &[],
        lo: -5.0,
        hi: 40.0,
        boolean: false,
    },
    Watched {
        metric: "imagegen_error_ratio",
        label: "",
        rows: &[],
        lo: -0.1,
        hi: 0.6,
        boolean: false,
    },
    Watched {
        metric: "buildmate_render_queue_depth",
        label: "",
        rows: &[],
        lo: -2000.0,
        hi: 12_000.0,
        boolean: false,
    },
    Watched {
        metric: "render_cache_hit_ratio",
        label: "",
        rows: &[],
        lo: 0.2,
        hi: 0.95,
        boolean: false,
    },
    Watched {
        metric: "restore_pending_objects",
        label: "bucket",
        rows: &[
            "buildmate-documents",
            "buildmate-compliance",
            "buildmate-media",
        ],
        lo: -20_000.0,
        hi: 50_000.0,
        boolean: false,
    },
    Watched {
        metric: "objectstore_bucket_objects",
        label: "bucket",
        rows: &[
            "buildmate-documents",
            "buildmate-compliance",
            "buildmate-media",
        ],
        lo: 800_000.0,
        hi: 1_200_000.0,
        boolean: false,
    },
    Watched {
        metric: "origin_error_ratio",
        label: "origin",
        rows: &["primary", "secondary"],
        lo: -0.05,
        hi: 0.2,
        boolean: false,
    },
    Watched {
        metric: "origin_up",
        label: "origin",
        rows: &["primary", "secondary"],
        lo: 0.0,
        hi: 1.0,
        boolean: true,
    },
    Watched {
        metric: "cdn_cache_miss_ratio",
        label: "",
        rows: &[],
        lo: 0.1,
        hi: 0.5,
        boolean: false,
    },
    Watched {
        metric: "api_error_ratio",
        label: "region",
        rows: &["iad1", "sfo1", "fra1"],
        lo: -0.05,
        hi: 0.05,
        boolean: false,
    },
    Watched {
        metric: "api_p99_seconds",
        label: "",
        rows: &[],
        lo: 0.2,
        hi: 3.0,
        boolean: false,
    },
];

/// A `watch` series cycles through its range every half hour (each row at
/// its own phase), so a gate on it passes and fails in turn during a
/// walk-through. Unknown names sweep 0..100 unlabelled.
fn watch_series(seed: u64, metric: &str, times: impl Iterator<Item = i64> + Clone) -> Answer {
    const PERIOD_MS: f64 = 30.0 * 60_000.0;
    let fallback = Watched {
        metric: "",
        label: "",
        rows: &[],
        lo: 0.0,
        hi: 100.0,
        boolean: false,
    };
    let w = WATCHED
        .iter()
        .find(|w| w.metric == metric)
        .unwrap_or(&fallback);
    let rows: Vec<Option<&str>> = if w.rows.is_empty() {
        vec![None]
    } else {
        w.rows.iter().map(|r| Some(*r)).collect()
    };
    let series = rows
        .into_iter()
        .map(|row| {
            let mut labels: Labels = [("__name__".to_string(), metric.to_string())].into();
            if let Some(r) = row {
                labels.insert(w.label.to_string(), r.to_string());
            }
            // Series without rows share one phase, as metrics of one
            // incident move together; rows (replicas, regions) differ.
            let phase = unit(seed ^ row.map(fnv).unwrap_or(0x5EED)) * 2.0 * PI;
            let samples = times
                .clone()
                .map(|t| {
                    let wave = (2.0 * PI * t as f64 / PERIOD_MS + phase).sin();
                    let v = if w.boolean {
                        if wave > -0.8 { 1.0 } else { 0.0 }
                    } else {
                        (w.lo + (w.hi - w.lo) * (0.5 + 0.5 * wave)).max(0.0)
                    };
                    Sample::new(t, v)
                })
                .collect();
            SeriesData { labels, samples }
        })
        .collect();
    Answer {
        series,
        ..Answer::default()
    }
}

impl Source for DemoSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Demo
    }

    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move { self.series(q, std::iter::once(at_ms)) })
    }

    fn range<'a>(
        &'a self,
        q: &'a QuerySpec,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move {
            let step = step_ms.max(1000);
            // Aligned to the step, as Prometheus aligns range queries.
            let first = start_ms.div_euclid(step) * step
                + if start_ms.rem_euclid(step) == 0 {
                    0
                } else {
                    step
                };
            let n = if end_ms >= first {
                (end_ms - first) / step + 1
            } else {
                0
            };
            self.series(q, (0..n).map(move |i| first + i * step))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EMBEDDED_EXAMPLE, Origin, parse};

    fn demo() -> (Config, DemoSource) {
        let c = parse(EMBEDDED_EXAMPLE, Origin::Embedded)
            .unwrap()
            .config
            .with_demo(Some(7));
        let d = DemoSource::anchored(&c, "prom", 7, 1_790_000_000_000);
        (c, d)
    }

    #[test]
    fn the_same_seed_and_time_give_the_same_value() {
        let (_, a) = demo();
        let (_, b) = demo();
        for t in [0, 1_789_990_000_000, 1_790_000_000_000] {
            assert_eq!(
                a.value_at("database/pool", t),
                b.value_at("database/pool", t)
            );
        }
    }

    #[test]
    fn every_trigger_is_simulated_within_bounds() {
        let (c, d) = demo();
        for (dom, t) in c.triggers() {
            let q = value_query(dom, t);
            let v = d
                .value_at(&q, 1_790_000_000_000)
                .unwrap_or_else(|| panic!("{q} not simulated"));
            assert!(v.is_finite() && v >= 0.0, "{q} = {v}");
        }
    }

    #[test]
    fn watch_queries_sweep_their_range_by_metric_name() {
        let (_, d) = demo();
        let q = |name: &str| QuerySpec {
            name: name.into(),
            source: "prom".into(),
            expr: String::new(),
            pointer: None,
            command: Vec::new(),
            shell: false,
        };
        let times = (0..60).map(|i| 1_790_000_000_000 + i * 60_000);
        let a = d
            .series(
                &q("watch:pg-primary-failover/pg_replication_lag_seconds"),
                times.clone(),
            )
            .unwrap();
        assert_eq!(a.series.len(), 2);
        assert_eq!(
            a.series[0].labels.get("instance").map(String::as_str),
            Some("pg-main-2")
        );
        let vals: Vec<f64> = a.series[0].samples.iter().map(|s| s.v).collect();
        assert!(
            vals.iter().any(|v| *v < 5.0) && vals.iter().any(|v| *v > 5.0),
            "{vals:?}"
        );
        let b = d
            .series(
                &q("watch:pg-primary-failover/pg_replication_lag_seconds"),
                times.clone(),
            )
            .unwrap();
        assert_eq!(a, b, "deterministic in time");
        let up = d.series(&q("watch:x/pg_up"), times.clone()).unwrap();
        assert!(
            up.series
                .iter()
                .all(|s| s.samples.iter().all(|x| x.v == 0.0 || x.v == 1.0))
        );
        let other = d.series(&q("watch:x/something_else"), times).unwrap();
        assert_eq!(other.series.len(), 1);
    }

    #[test]
    fn a_day_shows_every_state_somewhere() {
        // Over a day of 10-minute samples, some trigger reaches each level.
        let (c, d) = demo();
        let mut peaks = Vec::new();
        for (dom, t) in c.triggers() {
            let q = value_query(dom, t);
            let cap = t
                .capacity
                .map(|q| q.0)
                .or(t.demo.as_ref().and_then(|p| p.capacity).map(|q| q.0))
                .unwrap_or(100.0);
            let peak = (0..144)
                .filter_map(|i| d.value_at(&q, 1_790_000_000_000 + i * 600_000))
                .fold(0.0f64, f64::max)
                / cap;
            peaks.push((q, peak, t.warn, t.scale, t.critical));
        }
        assert!(
            peaks.iter().any(|p| p.1 >= p.2 && p.1 < p.3),
            "none in warn: {peaks:?}"
        );
        assert!(
            peaks.iter().any(|p| p.1 >= p.3 && p.1 < p.4),
            "none in scale: {peaks:?}"
        );
        assert!(peaks.iter().any(|p| p.1 >= p.4), "none critical: {peaks:?}");
        assert!(peaks.iter().any(|p| p.1 < p.2), "none ok: {peaks:?}");
    }
}
