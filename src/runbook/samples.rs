//! Live values for gates: the `Samples` trait, its implementation over the
//! series store, and the `watch` queries that fill it.
//!
//! How `watch` results are stored: every `watch` entry of runbook `ID` is
//! polled as a query named `watch:ID/NAME`, where NAME is the metric name of
//! a list entry (`pg_replication_lag_seconds{cluster="main"}` → NAME
//! `pg_replication_lag_seconds`) or the key of a `[watch]` table entry. Its
//! series are stored under that query name with the labels the source
//! answered, `__name__` included when the source sends it. A gate selector
//! `NAME{label='v'}` reads the series of `watch:ID/NAME` whose labels match,
//! each by its newest sample.

use std::collections::HashMap;

use super::cond::{Matcher, Reading};
use super::machine::{Readings, Run, reading_key};
use super::model::Runbook;
use crate::capacity::Snapshot;
use crate::config::{Config, SourceKind};
use crate::series::{Labels, SeriesStore};
use crate::source::QuerySpec;

/// Where gates read live values from.
pub trait Samples {
    /// Series of `metric` whose labels match every matcher, each with its
    /// newest sample (Unix ms, value), `None` when it has none.
    fn matching(&self, metric: &str, matchers: &[Matcher]) -> Vec<(Labels, Option<(i64, f64)>)>;
    /// A trigger's utilisation (`trigger:DOMAIN/ID`) and when it was measured.
    fn trigger_utilization(&self, _key: &str) -> Option<(i64, f64)> {
        None
    }
}

/// The series store seen from one runbook's `watch` queries, plus the
/// latest capacity snapshot for `trigger:` operands.
pub struct WatchSamples<'a> {
    pub store: &'a SeriesStore,
    pub runbook_id: &'a str,
    pub snapshot: Option<&'a Snapshot>,
}

/// The query name a `watch` entry's results are stored under.
pub fn watch_query_name(runbook_id: &str, name: &str) -> String {
    format!("watch:{runbook_id}/{name}")
}

impl Samples for WatchSamples<'_> {
    fn matching(&self, metric: &str, matchers: &[Matcher]) -> Vec<(Labels, Option<(i64, f64)>)> {
        let q = watch_query_name(self.runbook_id, metric);
        self.store
            .of_query(&q)
            .into_iter()
            .filter(|(labels, _)| {
                labels.get("__name__").is_none_or(|n| n == metric)
                    && matchers.iter().all(|m| m.matches(labels))
            })
            .map(|(labels, series)| (labels.clone(), series.last().map(|s| (s.t, s.v))))
            .collect()
    }

    fn trigger_utilization(&self, key: &str) -> Option<(i64, f64)> {
        let snap = self.snapshot?;
        let t = snap
            .triggers
            .iter()
            .find(|t| format!("{}/{}", t.domain, t.id) == key)?;
        let u = t.utilization?;
        let age_ms = (t.age_seconds.unwrap_or(0.0) * 1000.0) as i64;
        let at = crate::time::parse_rfc3339(&snap.generated_at).ok()?;
        Some((at - age_ms, u))
    }
}

/// What the run's conditions need now, read from `samples`: the event the
/// driver feeds the machine on every poll (and before a `when` is decided).
pub fn readings(run: &Run, samples: &dyn Samples, now_ms: i64, stale_after_ms: i64) -> Readings {
    let mut selectors: HashMap<String, Vec<Reading>> = HashMap::new();
    for sel in run.selectors() {
        let rows = samples.matching(&sel.metric, &sel.matchers);
        selectors.insert(reading_key(&sel), rows);
    }
    let triggers = run
        .trigger_keys()
        .into_iter()
        .filter_map(|k| samples.trigger_utilization(&k).map(|v| (k, v)))
        .collect();
    Readings {
        at_ms: now_ms,
        stale_after_ms,
        selectors,
        triggers,
    }
}

/// The queries to poll while a run of `rb` is active. The source is the
/// runbook's `source`, else the first Prometheus source, else the first
/// source (the demo under `--demo`).
pub fn watch_queries(rb: &Runbook, config: &Config) -> Vec<QuerySpec> {
    let source = rb
        .meta
        .source
        .clone()
        .or_else(|| {
            config
                .sources
                .iter()
                .find(|s| s.kind == SourceKind::Prometheus)
                .map(|s| s.name.clone())
        })
        .or_else(|| config.sources.first().map(|s| s.name.clone()));
    let Some(source) = source else {
        return Vec::new();
    };
    rb.meta
        .watch
        .iter()
        .map(|w| QuerySpec {
            name: watch_query_name(&rb.meta.id, &w.name).into(),
            source: source.clone(),
            expr: w.expr.clone(),
            pointer: None,
            command: Vec::new(),
            shell: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::machine::ExecPolicy;
    use crate::runbook::parse_runbook;
    use crate::series::{Retention, Sample, SeriesKey};
    use std::sync::Arc;

    const RB: &str = "+++\nschema = 1\nid = \"pg\"\ntitle = \"t\"\nkind = \"other\"\nwatch = ['lag{cluster=\"main\"}']\n[inputs.R]\nprompt = \"r\"\n+++\n# t\n\n## G {#g}\n\n```gate\nexpect = [\"lag{instance='${R}'} < 5s\"]\n```\n";

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn watch_queries_are_named_by_runbook_and_metric() {
        let rb = parse_runbook(RB);
        let c = crate::config::parse(
            crate::config::EMBEDDED_EXAMPLE,
            crate::config::Origin::Embedded,
        )
        .unwrap()
        .config;
        let q = watch_queries(&rb, &c);
        assert_eq!(q.len(), 1);
        assert_eq!(&*q[0].name, "watch:pg/lag");
        assert_eq!(q[0].expr, "lag{cluster=\"main\"}");
        assert_eq!(q[0].source, c.sources[0].name);
    }

    #[test]
    fn the_store_answers_selectors_with_matching_series() {
        let mut store = SeriesStore::new(Retention::default());
        for (inst, v) in [("r2", 1.0), ("r3", 9.0)] {
            let l = labels(&[("__name__", "lag"), ("instance", inst)]);
            store.extend(SeriesKey::new("watch:pg/lag", l), [Sample::new(1000, v)]);
        }
        store.extend(
            SeriesKey::new("watch:other/lag", labels(&[("instance", "r2")])),
            [Sample::new(1000, 0.0)],
        );
        let s = WatchSamples {
            store: &store,
            runbook_id: "pg",
            snapshot: None,
        };
        let m = [Matcher {
            name: "instance".into(),
            negated: false,
            value: "r2".into(),
        }];
        let got = s.matching("lag", &m);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, Some((1000, 1.0)));
        assert_eq!(s.matching("lag", &[]).len(), 2);
        assert!(s.matching("other", &[]).is_empty());

        let rb = Arc::new(parse_runbook(RB));
        let mut run = Run::new("r", rb, ExecPolicy::default(), Default::default());
        run.inputs.insert("R".into(), "r3".into());
        let r = readings(&run, &s, 2000, 60_000);
        assert_eq!(
            r.selectors.get("lag{instance='r3'}").map(|v| v[0].1),
            Some(Some((1000, 9.0)))
        );
    }
}
