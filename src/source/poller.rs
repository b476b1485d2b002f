//! Runs queries: one task per query, a backfill first, then an instant
//! query every refresh. A task awaits its own request before the next tick,
//! so a slow query is never stacked; missed ticks are skipped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::time::Clock;

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
    pub backfill: bool,
}

#[derive(Debug, Clone)]
pub enum SourceEvent {
    Answered(Answered),
}

pub type Sink = Arc<dyn Fn(SourceEvent) + Send + Sync>;

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
}

impl Poller {
    pub fn new(config: &Config, sources: Vec<Arc<dyn Source>>) -> Poller {
        let mut timing = HashMap::new();
        let mut limits = HashMap::new();
        let mut concurrency = HashMap::new();
        for s in &config.sources {
            timing.insert(
                s.name.clone(),
                Timing {
                    refresh: s.refresh.unwrap_or(config.cockpit.refresh).0,
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
        }
    }

    async fn run_one(&self, q: &QuerySpec, clock: &Clock, backfill: bool) -> Answered {
        let at_ms = clock.now_ms();
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
                        let fut = if backfill {
                            let step = backfill_step_ms(t.history_ms, t.refresh.as_millis() as i64);
                            src.range(q, at_ms - t.history_ms, at_ms, step)
                        } else {
                            src.instant(q, at_ms)
                        };
                        match tokio::time::timeout_at(deadline, fut).await {
                            Ok(r) => r,
                            Err(_) => {
                                Err(SourceError::Timeout(format!("{:.1}s", bound.as_secs_f64())))
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
        Answered {
            query: q.name.clone(),
            source: q.source.clone(),
            result,
            latency: started.elapsed(),
            at_ms,
            backfill,
        }
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
                    sink(SourceEvent::Answered(me.run_one(&q, &clock, false).await));
                    return;
                };
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    a = me.run_one(&q, &clock, true) => sink(SourceEvent::Answered(a)),
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
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        a = me.run_one(&q, &clock, false) => sink(SourceEvent::Answered(a)),
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
        let late = |q: &QuerySpec, backfill: bool| Answered {
            query: q.name.clone(),
            source: q.source.clone(),
            result: Err(SourceError::Timeout(format!(
                "{:.1}s: no answer before the deadline of this run; the source's request slots (concurrency {}) stayed busy",
                bound.as_secs_f64(),
                self.concurrency.get(&q.source).copied().unwrap_or(0)
            ))),
            latency: bound,
            at_ms: clock.now_ms(),
            backfill,
        };
        let tasks = queries.iter().map(|q| async move {
            let b = tokio::time::timeout_at(deadline, self.run_one(q, clock, true))
                .await
                .unwrap_or_else(|_| late(q, true));
            let i = tokio::time::timeout_at(deadline, self.run_one(q, clock, false))
                .await
                .unwrap_or_else(|_| late(q, false));
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
