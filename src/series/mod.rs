//! Bounded per-series sample store.
//!
//! Every series keeps at most `max_samples` samples no older than `retention`
//! behind the newest sample it holds. A sample is 16 bytes (an `i64` of Unix
//! milliseconds and an `f64`), stored in a ring buffer, so the memory budget of
//! a store is about `series × max_samples × 16` bytes plus the keys.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// One observation: Unix time in milliseconds and a value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

impl Sample {
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
}

/// A series' labels, sorted by name (a Prometheus label set).
pub type Labels = BTreeMap<String, String>;

/// Which query a series answers, and which of its series it is.
///
/// `query` is a stable name such as `database/pool` (a trigger's value),
/// `database/pool#capacity` (its capacity) or `watch:RUNBOOK/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub query: Arc<str>,
    pub labels: Labels,
}

impl SeriesKey {
    pub fn new(query: impl Into<Arc<str>>, labels: Labels) -> Self {
        SeriesKey {
            query: query.into(),
            labels,
        }
    }

    pub fn unlabelled(query: impl Into<Arc<str>>) -> Self {
        Self::new(query, Labels::new())
    }
}

/// Limits applied to every series of a store.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Samples older than this behind the newest one are dropped.
    pub max_age_ms: i64,
    /// At most this many samples per series; the oldest go first.
    pub max_samples: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_ms: 15 * 24 * 3600 * 1000,
            max_samples: 16_384,
        }
    }
}

/// The samples of one series, oldest first, timestamps strictly increasing.
#[derive(Debug, Clone, Default)]
pub struct Series {
    samples: VecDeque<Sample>,
}

impl Series {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn last(&self) -> Option<Sample> {
        self.samples.back().copied()
    }

    pub fn first(&self) -> Option<Sample> {
        self.samples.front().copied()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + '_ {
        self.samples.iter().copied()
    }

    /// Samples with `t >= since_ms`, oldest first.
    pub fn since(&self, since_ms: i64) -> impl DoubleEndedIterator<Item = Sample> + '_ {
        let start = self.samples.partition_point(|s| s.t < since_ms);
        self.samples.range(start..).copied()
    }

    /// The newest sample at or before `t_ms`.
    pub fn at_or_before(&self, t_ms: i64) -> Option<Sample> {
        let idx = self.samples.partition_point(|s| s.t <= t_ms);
        idx.checked_sub(1).map(|i| self.samples[i])
    }

    pub fn to_vec(&self) -> Vec<Sample> {
        self.samples.iter().copied().collect()
    }

    /// Inserts a sample in time order. A sample at an existing timestamp
    /// replaces the old value (a re-poll or an overlapping backfill).
    /// Non-finite timestamps do not exist (i64); NaN values are kept, since
    /// Prometheus can answer NaN and the evaluator must see it as "no value".
    pub fn insert(&mut self, s: Sample) {
        self.insert_within(s, usize::MAX);
    }

    /// Like `insert`, growing the buffer no further than `max_samples`, so
    /// a full series costs exactly 16 bytes a sample (no doubling slack).
    fn insert_within(&mut self, s: Sample, max_samples: usize) {
        let (len, cap) = (self.samples.len(), self.samples.capacity());
        if len == cap && cap < max_samples {
            let grow = cap.max(64).min(max_samples - cap);
            self.samples.reserve_exact(grow);
        }
        match self.samples.back() {
            None => self.samples.push_back(s),
            Some(last) if s.t > last.t => self.samples.push_back(s),
            Some(last) if s.t == last.t => {
                if let Some(b) = self.samples.back_mut() {
                    b.v = s.v;
                }
            }
            Some(_) => {
                let idx = self.samples.partition_point(|x| x.t < s.t);
                if idx < self.samples.len() && self.samples[idx].t == s.t {
                    self.samples[idx].v = s.v;
                } else {
                    self.samples.insert(idx, s);
                }
            }
        }
    }

    fn prune(&mut self, r: Retention) {
        if let Some(newest) = self.samples.back().map(|s| s.t) {
            let cutoff = newest.saturating_sub(r.max_age_ms);
            while self.samples.front().is_some_and(|s| s.t < cutoff) {
                self.samples.pop_front();
            }
        }
        while self.samples.len() > r.max_samples {
            self.samples.pop_front();
        }
    }

    /// Bytes held by the sample buffer (its capacity, not just its length).
    pub fn sample_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<Sample>()
    }
}

/// All series, by key.
#[derive(Debug, Default)]
pub struct SeriesStore {
    series: HashMap<SeriesKey, Series>,
    retention: Retention,
}

impl SeriesStore {
    pub fn new(retention: Retention) -> Self {
        SeriesStore {
            series: HashMap::new(),
            retention,
        }
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Adds samples to a series (created when new), then applies retention.
    pub fn extend(&mut self, key: SeriesKey, samples: impl IntoIterator<Item = Sample>) {
        let r = self.retention;
        let series = self.series.entry(key).or_default();
        for s in samples {
            if series.samples.len() >= r.max_samples
                && series.samples.back().is_some_and(|last| s.t > last.t)
            {
                // Full ring: make room first so the buffer never grows.
                series.samples.pop_front();
            }
            series.insert_within(s, r.max_samples);
        }
        series.prune(r);
    }

    pub fn get(&self, key: &SeriesKey) -> Option<&Series> {
        self.series.get(key)
    }

    /// Every series that answers `query`, in label order.
    pub fn of_query<'a>(&'a self, query: &str) -> Vec<(&'a Labels, &'a Series)> {
        let mut out: Vec<_> = self
            .series
            .iter()
            .filter(|(k, _)| &*k.query == query)
            .map(|(k, s)| (&k.labels, s))
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Drops every series of `query` whose labels are not in `keep`: a
    /// series that vanished from a query's answer stops being shown.
    pub fn retain_query(&mut self, query: &str, keep: &[Labels]) {
        self.series
            .retain(|k, _| &*k.query != query || keep.contains(&k.labels));
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    pub fn sample_count(&self) -> usize {
        self.series.values().map(Series::len).sum()
    }

    /// Bytes held by sample buffers across all series.
    pub fn sample_bytes(&self) -> usize {
        self.series.values().map(Series::sample_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey::unlabelled("d/t")
    }

    #[test]
    fn inserts_keep_time_order_and_replace_equal_timestamps() {
        let mut store = SeriesStore::new(Retention::default());
        store.extend(key(), [Sample::new(10, 1.0), Sample::new(30, 3.0)]);
        store.extend(key(), [Sample::new(20, 2.0), Sample::new(30, 9.0)]);
        let got: Vec<_> = store.get(&key()).unwrap().iter().collect();
        assert_eq!(
            got,
            vec![
                Sample::new(10, 1.0),
                Sample::new(20, 2.0),
                Sample::new(30, 9.0)
            ]
        );
    }

    #[test]
    fn retention_drops_old_and_excess_samples() {
        let r = Retention {
            max_age_ms: 100,
            max_samples: 5,
        };
        let mut store = SeriesStore::new(r);
        store.extend(key(), (0..50).map(|i| Sample::new(i * 10, i as f64)));
        let s = store.get(&key()).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s.first().unwrap().t, 450);
        store.extend(key(), [Sample::new(1000, 0.0)]);
        let s = store.get(&key()).unwrap();
        assert_eq!(s.iter().map(|s| s.t).collect::<Vec<_>>(), vec![1000]);
    }

    #[test]
    fn a_sample_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Sample>(), 16);
        let mut store = SeriesStore::new(Retention {
            max_age_ms: i64::MAX,
            max_samples: 10_000,
        });
        store.extend(key(), (0..10_000).map(|i| Sample::new(i, 0.0)));
        let per_sample = store.sample_bytes() as f64 / store.sample_count() as f64;
        assert_eq!(per_sample, 16.0, "a full series holds no slack");
        store.extend(key(), (10_000..25_000).map(|i| Sample::new(i, 0.0)));
        assert_eq!(store.sample_bytes(), 10_000 * 16);
    }

    #[test]
    fn lookups_by_time() {
        let mut store = SeriesStore::new(Retention::default());
        store.extend(key(), (0..10).map(|i| Sample::new(i * 10, i as f64)));
        let s = store.get(&key()).unwrap();
        assert_eq!(s.at_or_before(35).unwrap().t, 30);
        assert_eq!(s.at_or_before(-1), None);
        assert_eq!(s.since(75).map(|s| s.t).collect::<Vec<_>>(), vec![80, 90]);
    }

    #[test]
    fn retain_query_drops_vanished_series() {
        let mut store = SeriesStore::new(Retention::default());
        let a: Labels = [("tenant".to_string(), "a".to_string())].into();
        let b: Labels = [("tenant".to_string(), "b".to_string())].into();
        store.extend(SeriesKey::new("q", a.clone()), [Sample::new(1, 1.0)]);
        store.extend(SeriesKey::new("q", b), [Sample::new(1, 1.0)]);
        store.retain_query("q", std::slice::from_ref(&a));
        assert_eq!(store.of_query("q").len(), 1);
    }
}
