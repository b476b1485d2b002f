//! Runs queries: one task per query, a backfill first, then an instant
//! query every refresh. A task awaits its own request before the next tick,
//! so a slow query is never stacked; missed ticks are skipped.
//!
//! A source that keeps failing (refused, timed out, 5xx, 429) is left alone
//! for a while after `TRIP_AFTER` failures in a row, then probed with one
//! request (see `breaker.rs`): a stalled Prometheus is not sent every query on
//! every poll, and its queries fail at once instead of each waiting out its
//! timeout.
//!
//! History that a failed backfill or failed polls left out is fetched again
//! with a range query once the source answers (see `gap.rs`): a Prometheus
//! that was down when the cockpit started, or during an incident, still
//! ends up with its whole history on the screen and in the forecasts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::time::Clock;

use super::breaker::Breaker;
use super::gap::Gap;
use super::{Answer, QuerySpec, Source, SourceError};

/// Most points one range query may ask for per series.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// Polls of one query never come closer than this in real time, however
/// fast the clock runs (`--speed`): the screen and the sources stay calm.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The range-query step for a history: the refresh interval, or coarser so
/// that no query asks for more than 11,000 points per series.
pub fn backfill_step_ms(history_ms: i64, refresh_ms: i64) -> i64 {
    let min_step = (history_ms + MAX_POINTS_PER_SERIES - 1) / MAX_POINTS_PER_SERIES;
    let step = refresh_ms.max(min_step).max(1000);
    // Whole seconds, rounded up.
    (step + 999) / 1000 * 1000
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Answered {
    pub query: Arc<str>,
    pub source: String,
    pub result: Result<Answer, SourceError>,
    pub latency: Duration,
    /// The time the query asked about (the range end for a backfill).
    pub at_ms: i64,
    /// A range query: the start-up backfill or a refill.
    pub backfill: bool,
    /// A range query that fills a gap failed requests left, not the
    /// start-up backfill.
    pub refill: bool,
}

/// What one request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Fetch {
    /// The value now.
    Instant,
    /// The whole history window, at start-up.
    Backfill,
    /// From this clock time (ms) to now, at most the history window.
    Refill(i64),
}

#[derive(Debug, Clone)]
pub enum SourceEvent {
    Answered(Answered),
}

pub type Sink = Arc<dyn Fn(SourceEvent) + Send + Sync>;

/// The answer to `q` asked at `at_ms`.
fn answered(
    q: &QuerySpec,
    fetch: Fetch,
    at_ms: i64,
    result: Result<Answer, SourceError>,
    latency: Duration,
) -> Answered {
    Answered {
        query: q.name.clone(),
        source: q.source.clone(),
        result,
        latency,
        at_ms,
        backfill: fetch != Fetch::Instant,
        refill: matches!(fetch, Fetch::Refill(_)),
    }
}

/// Timing settings of one source.
#[derive(Debug, Clone, Copy)]
struct Timing {
    refresh: Duration,
    timeout: Duration,
    history_ms: i64,
}

pub struct Poller {
    sources: HashMap<String, Arc<dyn Source>>,
    limits: HashMap<String, Arc<Semaphore>>,
    concurrency: HashMap<String, usize>,
    timing: HashMap<String, Timing>,
    breakers: HashMap<String, Mutex<Breaker>>,
}

impl Poller {
    pub fn new(config: &Config, sources: Vec<Arc<dyn Source>>) -> Poller {
        let mut timing = HashMap::new();
        let mut limits = HashMap::new();
        let mut concurrency = HashMap::new();
        let mut breakers = HashMap::new();
        for s in &config.sources {
            let refresh = s.refresh.unwrap_or(config.cockpit.refresh).0;
            breakers.insert(s.name.clone(), Mutex::new(Breaker::new(refresh)));
            timing.insert(
                s.name.clone(),
                Timing {
                    refresh,
                    timeout: s.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10)),
                    history_ms: config.cockpit.history.as_millis_i64(),
                },
            );
            let slots = s.concurrency.unwrap_or(4).max(1);
            limits.insert(s.name.clone(), Arc::new(Semaphore::new(slots)));
            concurrency.insert(s.name.clone(), slots);
        }
        Poller {
            sources: sources
                .into_iter()
                .map(|s| (s.name().to_string(), s))
                .collect(),
            limits,
            concurrency,
            timing,
            breakers,
        }
    }

    /// `run_one` behind the source's breaker: what the poll loop uses (a
    /// one-shot `report` asks every query whatever the others found).
    async fn run_guarded(&self, q: &QuerySpec, clock: &Clock, fetch: Fetch) -> Answered {
        let breaker = self.breakers.get(&q.source);
        if let Some(Err(e)) =
            breaker.and_then(|b| b.lock().ok().map(|mut b| b.admit(Instant::now())))
        {
            return answered(q, fetch, clock.now_ms(), Err(e), Duration::ZERO);
        }
        let a = self.run_one(q, clock, fetch).await;
        if let Some(mut b) = breaker.and_then(|b| b.lock().ok()) {
            b.record(Instant::now(), &a.result);
        }
        a
    }

    async fn run_one(&self, q: &QuerySpec, clock: &Clock, fetch: Fetch) -> Answered {
        let at_ms = clock.now_ms();
        let backfill = fetch != Fetch::Instant;
        let started = Instant::now();
        let result = match (self.sources.get(&q.source), self.timing.get(&q.source)) {
            (Some(src), Some(t)) => {
                // The source has its own timeouts; this is the hard bound,
                // and it covers waiting for a request slot too: behind a
                // stalled source every query fails within one bound instead
                // of queueing for the slots one after another.
                let bound = if backfill { t.timeout * 3 } else { t.timeout };
                let deadline = tokio::time::Instant::now() + bound + Duration::from_millis(250);
                let permit = match self.limits.get(&q.source) {
                    Some(sem) => {
                        match tokio::time::timeout_at(deadline, sem.clone().acquire_owned()).await {
                            Ok(p) => Ok(p.ok()),
                            Err(_) => Err(SourceError::Timeout(format!(
                                "{:.1}s waiting for a request slot: all {} of the source's slots (concurrency) are busy",
                                bound.as_secs_f64(),
                                self.concurrency.get(&q.source).copied().unwrap_or(0)
                            ))),
                        }
                    }
                    None => Ok(None),
                };
                match permit {
                    Err(e) => Err(e),
                    Ok(_permit) => {
                        let step = backfill_step_ms(t.history_ms, t.refresh.as_millis() as i64);
                        let window_start = at_ms - t.history_ms;
                        let range = match fetch {
                            Fetch::Instant => None,
                            Fetch::Backfill => Some((window_start, at_ms, step)),
                            Fetch::Refill(since) => {
                                Some((since.clamp(window_start, at_ms), at_ms, step))
                            }
                        };
                        let fut = match range {
                            None => src.instant(q, at_ms),
                            Some((start, end, step)) => src.range(q, start, end, step),
                        };
                        match tokio::time::timeout_at(deadline, fut).await {
                            Ok(r) => r,
                            Err(_) => {
                                let e = SourceError::Timeout(format!(
                                    "{:.1}s: the poller's bound; the source had not answered",
                                    bound.as_secs_f64()
                                ));
                                src.cut_off(q, at_ms, range, &e);
                                Err(e)
                            }
                        }
                    }
                }
            }
            _ => Err(SourceError::Other(format!(
                "no source named `{}`",
                q.source
            ))),
        };
        answered(q, fetch, at_ms, result, started.elapsed())
    }

    /// Starts one task per query; they stop when `cancel` is cancelled.
    /// Under a sped-up demo clock, polls come faster in real time.
    pub fn spawn(
        self: Arc<Self>,
        queries: Vec<QuerySpec>,
        clock: Clock,
        sink: Sink,
        cancel: CancellationToken,
    ) {
        for q in queries {
            let me = self.clone();
            let sink = sink.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let Some(t) = me.timing.get(&q.source).copied() else {
                    sink(SourceEvent::Answered(
                        me.run_one(&q, &clock, Fetch::Instant).await,
                    ));
                    return;
                };
                let mut gap = Gap::default();
                let deliver = |gap: &mut Gap, a: Answered| {
                    gap.answered(&a, a.at_ms - t.history_ms);
                    sink(SourceEvent::Answered(a));
                };
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    a = me.run_guarded(&q, &clock, Fetch::Backfill) => deliver(&mut gap, a),
                }
                let real = t
                    .refresh
                    .div_f64(clock.speed().max(1.0))
                    .max(MIN_POLL_INTERVAL);
                let mut iv = tokio::time::interval(real);
                iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = iv.tick() => {}
                    }
                    if let Some(since) = gap.due() {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            a = me.run_guarded(&q, &clock, Fetch::Refill(since)) => deliver(&mut gap, a),
                        }
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        a = me.run_guarded(&q, &clock, Fetch::Instant) => deliver(&mut gap, a),
                    }
                }
            });
        }
    }

    /// Backfills every query and takes one instant answer, all at once:
    /// what `report` and `check` need.
    ///
    /// However many queries queue for a slow source's request slots, the
    /// whole collection ends within one backfill and one instant bound of
    /// the slowest source; what has not answered by then is a timeout.
    pub async fn collect_once(&self, queries: &[QuerySpec], clock: &Clock) -> Vec<Answered> {
        let bound = self
            .timing
            .values()
            .map(|t| t.timeout * 4 + Duration::from_millis(750))
            .max()
            .unwrap_or(Duration::from_secs(41));
        let deadline = tokio::time::Instant::now() + bound;
        let late = |q: &QuerySpec, fetch: Fetch| {
            let error = SourceError::Timeout(format!(
                "{:.1}s: no answer before the deadline of this run; the source's request slots (concurrency {}) stayed busy",
                bound.as_secs_f64(),
                self.concurrency.get(&q.source).copied().unwrap_or(0)
            ));
            answered(q, fetch, clock.now_ms(), Err(error), bound)
        };
        let tasks = queries.iter().map(|q| async move {
            let b = tokio::time::timeout_at(deadline, self.run_one(q, clock, Fetch::Backfill))
                .await
                .unwrap_or_else(|_| late(q, Fetch::Backfill));
            let i = tokio::time::timeout_at(deadline, self.run_one(q, clock, Fetch::Instant))
                .await
                .unwrap_or_else(|_| late(q, Fetch::Instant));
            [b, i]
        });
        futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request given up on: query, range, error.
    type Cut = (String, Option<(i64, i64, i64)>, String);

    /// Never answers; notes what the poller gave up on.
    #[derive(Default)]
    struct Silent {
        cut: std::sync::Mutex<Vec<Cut>>,
    }

    impl Source for Silent {
        fn name(&self) -> &str {
            "prom"
        }
        fn kind(&self) -> crate::config::SourceKind {
            crate::config::SourceKind::Prometheus
        }
        fn instant<'a>(
            &'a self,
            _q: &'a QuerySpec,
            _at_ms: i64,
        ) -> super::super::BoxFuture<'a, Result<Answer, SourceError>> {
            Box::pin(std::future::pending())
        }
        fn cut_off(
            &self,
            q: &QuerySpec,
            _at_ms: i64,
            range: Option<(i64, i64, i64)>,
            error: &SourceError,
        ) {
            if let Ok(mut c) = self.cut.lock() {
                c.push((q.name.to_string(), range, error.to_string()));
            }
        }
    }

    #[test]
    fn a_request_cut_off_at_the_bound_is_told_to_its_source() {
        let text = r#"
[cockpit]
refresh = "60s"
history = "1h"

[[source]]
name = "prom"
kind = "prometheus"
url = "http://127.0.0.1:9"
timeout = "50ms"

[[domain]]
id = "d"
title = "D"

  [[domain.trigger]]
  id = "t"
  title = "T"
  query = "up"
  capacity = 1
"#;
        let loaded = crate::config::parse(text, crate::config::Origin::Embedded).expect("config");
        let silent = Arc::new(Silent::default());
        let poller = Poller::new(&loaded.config, vec![silent.clone()]);
        let queries = super::super::trigger_queries(&loaded.config);
        let clock = Clock::fixed(3_600_000 * 24);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let answers = rt.block_on(poller.collect_once(&queries, &clock));
        assert_eq!(answers.len(), 2);
        let cut = silent.cut.lock().expect("cut").clone();
        let now = 3_600_000 * 24;
        assert_eq!(
            cut.iter().map(|c| (c.0.as_str(), c.1)).collect::<Vec<_>>(),
            vec![("d/t", Some((now - 3_600_000, now, 60_000))), ("d/t", None)]
        );
        assert!(cut[0].2.contains("the poller's bound"), "{}", cut[0].2);
    }

    #[test]
    fn backfill_steps_stay_under_eleven_thousand_points() {
        let day = 86_400_000;
        assert_eq!(backfill_step_ms(14 * day, 15_000), 110_000);
        assert_eq!(backfill_step_ms(3_600_000, 15_000), 15_000);
        for h in [1, 7, 14, 30, 90] {
            let step = backfill_step_ms(h * day, 15_000);
            assert!(h * day / step <= MAX_POINTS_PER_SERIES, "{h}d at {step}ms");
        }
    }
}
