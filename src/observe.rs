//! What the sources have said so far: the series store, the last error of
//! each query, and each source's health. Both the TUI and the headless
//! commands fold poll answers into one of these and evaluate from it.

use std::collections::{HashMap, VecDeque};

use crate::capacity::{Inputs, SourceHealth};
use crate::config::Config;
use crate::series::{Labels, Retention, SeriesStore};
use crate::source::Answered;

#[derive(Debug, Default, Clone)]
struct Health {
    kind: String,
    last_success: Option<i64>,
    last_error: Option<(i64, String)>,
    /// The first failure since the last answer: when the outage began.
    failing_since: Option<i64>,
    latencies_ms: VecDeque<f64>,
    bytes: u64,
    requests: u64,
    failures: u64,
}

const LATENCY_WINDOW: usize = 256;

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[idx])
}

pub struct Observations {
    pub store: SeriesStore,
    pub query_errors: HashMap<String, String>,
    /// Warnings the server sent with each query's latest answer
    /// (Prometheus `warnings`, such as partial data from a down store).
    pub query_warnings: HashMap<String, Vec<String>>,
    health: HashMap<String, Health>,
    order: Vec<String>,
}

impl Observations {
    pub fn new(config: &Config) -> Observations {
        let retention = Retention {
            max_age_ms: config.cockpit.history.as_millis_i64() + 86_400_000,
            max_samples: config.cockpit.max_samples,
        };
        let health = config
            .sources
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    Health {
                        kind: s.kind.name().into(),
                        ..Health::default()
                    },
                )
            })
            .collect();
        Observations {
            store: SeriesStore::new(retention),
            query_errors: HashMap::new(),
            query_warnings: HashMap::new(),
            health,
            order: config.sources.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Folds one answer in.
    pub fn apply(&mut self, a: Answered) {
        let h = self.health.entry(a.source.clone()).or_default();
        // A query the poller held back (the source's breaker is open) was
        // never sent: it counts as neither a request nor a failure.
        let sent = !matches!(a.result, Err(crate::source::SourceError::NotAsked(_)));
        if sent {
            h.requests += 1;
            h.latencies_ms.push_back(a.latency.as_secs_f64() * 1000.0);
            if h.latencies_ms.len() > LATENCY_WINDOW {
                h.latencies_ms.pop_front();
            }
        }
        match a.result {
            Ok(answer) => {
                h.last_success = Some(a.at_ms);
                h.failing_since = None;
                h.bytes += answer.bytes;
                self.query_errors.remove(&*a.query);
                if answer.warnings.is_empty() {
                    self.query_warnings.remove(&*a.query);
                } else {
                    self.query_warnings
                        .insert(a.query.to_string(), answer.warnings.clone());
                }
                let labels: Vec<Labels> = answer.series.iter().map(|s| s.labels.clone()).collect();
                for s in answer.series {
                    let key = crate::series::SeriesKey::new(a.query.clone(), s.labels);
                    self.store.extend(key, s.samples);
                }
                if !a.backfill {
                    // A series gone from the answer is gone from the screen.
                    self.store.retain_query(&a.query, &labels);
                }
            }
            Err(e) => {
                h.failures += u64::from(sent);
                h.failing_since.get_or_insert(a.at_ms);
                let msg = format!("{}: {e}", a.source);
                h.last_error = Some((a.at_ms, e.to_string()));
                self.query_errors.insert(a.query.to_string(), msg);
            }
        }
    }

    pub fn source_health(&self) -> Vec<SourceHealth> {
        self.order
            .iter()
            .filter_map(|name| self.health.get(name).map(|h| (name, h)))
            .map(|(name, h)| {
                let mut lat: Vec<f64> = h.latencies_ms.iter().copied().collect();
                lat.sort_by(f64::total_cmp);
                let ok = match (h.last_success, &h.last_error) {
                    (_, None) => true,
                    (Some(s), Some((e, _))) => s >= *e,
                    (None, Some(_)) => false,
                };
                SourceHealth {
                    name: name.clone(),
                    kind: h.kind.clone(),
                    ok,
                    last_success: h.last_success,
                    last_error: h.last_error.as_ref().map(|e| e.1.clone()),
                    last_error_at: h.last_error.as_ref().map(|e| e.0),
                    down_since: if ok { None } else { h.failing_since },
                    latency_p50_ms: quantile(&lat, 0.5),
                    latency_p95_ms: quantile(&lat, 0.95),
                    bytes_received: h.bytes,
                    requests: h.requests,
                    failures: h.failures,
                }
            })
            .collect()
    }

    /// The evaluator's inputs; `health` is what `source_health` returned.
    pub fn inputs<'a>(
        &'a self,
        health: &'a [SourceHealth],
        forecasts: Option<&'a HashMap<String, crate::forecast::TriggerForecast>>,
    ) -> Inputs<'a> {
        Inputs {
            store: Some(&self.store),
            query_errors: Some(&self.query_errors),
            sources: health,
            forecasts,
            query_warnings: Some(&self.query_warnings),
        }
    }
}
