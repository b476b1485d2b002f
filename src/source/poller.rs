//! Runs queries: one task per query, a backfill first, then an instant
//! query every refresh. A task awaits its own request before the next tick,
//! so a slow query is never stacked; missed ticks are skipped.
//!
//! A source that keeps failing (refused, timed out, 5xx, 429) is left alone
//! for a while after `TRIP_AFTER` failures in a row, then probed with one
//! request (see `Breaker`): a stalled Prometheus is not sent every query on
//! every poll, and its queries fail at once instead of each waiting out its
//! timeout.
//!
//! History that a failed backfill or failed polls left out is fetched again
//! with a range query once the source answers (see `Gap`): a Prometheus
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

/// Polls to wait at most between two tries to refill a gap: with a
/// 15 s refresh, a source that stays down is asked for its history about
/// every 8 minutes, not on every poll.
pub const MAX_REFILL_WAIT_POLLS: u32 = 32;

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

/// Requests in a row that find a source down before it is left alone.
pub const TRIP_AFTER: u32 = 3;
/// The longest a tripped source is left alone before one request probes it.
const MAX_COOL_DOWN: Duration = Duration::from_secs(60);

/// Whether a failure says the source itself is down or overloaded (and not
/// that one query is wrong).
fn says_down(e: &SourceError) -> bool {
    match e {
        SourceError::Timeout(_) | SourceError::Connect(_) => true,
        SourceError::Http { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// One source's circuit breaker, shared by its queries: a pure state
/// machine over real time. Closed, it lets every request go; after
/// `TRIP_AFTER` requests in a row found the source down it opens for a
/// cool-down (the refresh interval, doubling on each failed probe up to
/// `MAX_COOL_DOWN`); then one request goes as a probe and its answer
/// closes it or opens it again.
#[derive(Debug, Clone)]
struct Breaker {
    first_cool: Duration,
    cool: Duration,
    in_row: u32,
    open_until: Option<Instant>,
    probing: bool,
    last: String,
}

impl Breaker {
    fn new(refresh: Duration) -> Breaker {
        let first_cool = refresh.min(MAX_COOL_DOWN);
        Breaker {
            first_cool,
            cool: first_cool,
            in_row: 0,
            open_until: None,
            probing: false,
            last: String::new(),
        }
    }

    /// May a request go now? The error says why not.
    fn admit(&mut self, now: Instant) -> Result<(), SourceError> {
        let Some(until) = self.open_until else {
            return Ok(());
        };
        if now >= until && !self.probing {
            self.probing = true;
            return Ok(());
        }
        let next = if now < until {
            format!("next try in {:.0}s", (until - now).as_secs_f64().ceil())
        } else {
            "a probe is under way".into()
        };
        Err(SourceError::NotAsked(format!(
            "{} requests in a row found the source down ({}); {next}",
            self.in_row, self.last
        )))
    }

    /// Takes the outcome of a request that went.
    fn record(&mut self, now: Instant, result: &Result<Answer, SourceError>) {
        match result {
            Err(e) if says_down(e) => {
                self.in_row += 1;
                self.last = e.to_string();
                if self.probing {
                    self.probing = false;
                    self.cool = (self.cool * 2).min(MAX_COOL_DOWN);
                    self.open_until = Some(now + self.cool);
                } else if self.in_row >= TRIP_AFTER && self.open_until.is_none() {
                    self.open_until = Some(now + self.cool);
                }
            }
            // An answer, even an error about the query, shows it is up.
            _ => {
                self.in_row = 0;
                self.open_until = None;
                self.probing = false;
                self.cool = self.first_cool;
            }
        }
    }
}

/// What one request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fetch {
    /// The value now.
    Instant,
    /// The whole history window, at start-up.
    Backfill,
    /// From this clock time (ms) to now, at most the history window.
    Refill(i64),
}

/// The history one query's store is missing: a pure state machine fed with
/// the query's answers, asked once per poll whether to refill now.
///
/// A failed backfill leaves the whole window missing; a failed poll leaves
/// what came after the last answer. The refill is tried on the next poll,
/// then after 2, 4, … up to `MAX_REFILL_WAIT_POLLS` polls while it keeps
/// failing, so a dead source is not asked for days of data every poll.
#[derive(Debug, Default, Clone, PartialEq)]
struct Gap {
    /// Start of the missing stretch (clock ms), when something is missing.
    since_ms: Option<i64>,
    /// The newest clock time an answer covered.
    last_ok_ms: Option<i64>,
    wait: u32,
    left: u32,
}

impl Gap {
    /// Takes one answer of the query. `history_start_ms`: where the history
    /// window began for this answer.
    fn answered(&mut self, a: &Answered, history_start_ms: i64) {
        match (&a.result, a.backfill) {
            (Ok(_), true) => {
                *self = Gap {
                    last_ok_ms: Some(a.at_ms),
                    ..Gap::default()
                };
            }
            (Ok(_), false) => self.last_ok_ms = Some(a.at_ms),
            (Err(_), true) => {
                self.since_ms.get_or_insert(history_start_ms);
                self.wait = (self.wait * 2).clamp(1, MAX_REFILL_WAIT_POLLS);
                self.left = if a.refill { self.wait } else { 0 };
            }
            (Err(_), false) => {
                if self.since_ms.is_none() {
                    self.since_ms = Some(self.last_ok_ms.unwrap_or(history_start_ms));
                    self.wait = 0;
                    self.left = 0;
                }
            }
        }
    }

    /// Called once per poll: the start of the stretch to refill now, if any.
    fn due(&mut self) -> Option<i64> {
        let since = self.since_ms?;
        if self.left > 0 {
            self.left -= 1;
            return None;
        }
        Some(since)
    }
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

    const HISTORY_START: i64 = 1_000;

    fn answer(at_ms: i64, ok: bool, fetch: Fetch) -> Answered {
        Answered {
            query: "q".into(),
            source: "prom".into(),
            result: if ok {
                Ok(Answer::default())
            } else {
                Err(SourceError::Connect("refused".into()))
            },
            latency: Duration::ZERO,
            at_ms,
            backfill: fetch != Fetch::Instant,
            refill: matches!(fetch, Fetch::Refill(_)),
        }
    }

    /// Feeds one answer and asks whether the next poll refills.
    fn feed(g: &mut Gap, at_ms: i64, ok: bool, fetch: Fetch) -> Option<i64> {
        g.answered(&answer(at_ms, ok, fetch), HISTORY_START);
        g.due()
    }

    fn refused() -> Result<Answer, SourceError> {
        Err(SourceError::Connect("refused".into()))
    }

    #[test]
    fn a_breaker_opens_after_failures_in_a_row_and_probes_with_one_request() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut b = Breaker::new(Duration::from_secs(15));
        for _ in 0..TRIP_AFTER {
            assert!(b.admit(at(0)).is_ok());
            b.record(at(0), &refused());
        }
        let e = b.admit(at(1)).expect_err("open").to_string();
        assert_eq!(
            e,
            "not asked: 3 requests in a row found the source down (cannot connect: refused); next try in 14s"
        );
        // After the cool-down one probe goes; the others wait for it.
        assert!(b.admit(at(15)).is_ok());
        assert!(
            b.admit(at(15))
                .expect_err("probing")
                .to_string()
                .contains("a probe is under way")
        );
        // A failed probe doubles the cool-down, up to a minute.
        b.record(at(16), &refused());
        assert!(b.admit(at(45)).is_err());
        assert!(b.admit(at(46)).is_ok());
        b.record(at(46), &refused());
        assert!(b.admit(at(105)).is_err());
        assert!(b.admit(at(106)).is_ok());
        b.record(at(106), &refused());
        assert!(b.admit(at(165)).is_err());
        assert!(b.admit(at(166)).is_ok(), "capped at 60 s");
        // The probe answers: closed, and the cool-down starts over.
        b.record(at(166), &Ok(Answer::default()));
        assert!(b.admit(at(166)).is_ok());
        for _ in 0..TRIP_AFTER {
            b.record(at(170), &refused());
        }
        assert!(b.admit(at(184)).is_err());
        assert!(b.admit(at(185)).is_ok());
    }

    #[test]
    fn errors_about_the_query_do_not_trip_the_breaker() {
        let now = Instant::now();
        let mut b = Breaker::new(Duration::from_secs(15));
        for _ in 0..10 {
            b.record(
                now,
                &Err(SourceError::Api {
                    error_type: "bad_data".into(),
                    error: "parse error".into(),
                }),
            );
            b.record(
                now,
                &Err(SourceError::Http {
                    status: 404,
                    body: "not found".into(),
                }),
            );
        }
        assert!(b.admit(now).is_ok());
        // Overload does: 503 and 429, and timeouts.
        b.record(
            now,
            &Err(SourceError::Http {
                status: 503,
                body: String::new(),
            }),
        );
        b.record(
            now,
            &Err(SourceError::Http {
                status: 429,
                body: String::new(),
            }),
        );
        b.record(now, &Err(SourceError::Timeout("1.0s".into())));
        assert!(b.admit(now).is_err());
    }

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
    fn nothing_is_refilled_while_every_answer_comes() {
        let mut g = Gap::default();
        assert_eq!(feed(&mut g, 5_000, true, Fetch::Backfill), None);
        for t in 1..10 {
            assert_eq!(feed(&mut g, 5_000 + t * 15_000, true, Fetch::Instant), None);
        }
    }

    #[test]
    fn a_failed_backfill_is_retried_with_growing_waits_until_it_answers() {
        let mut g = Gap::default();
        // The start-up backfill fails: the whole window, on the next poll.
        assert_eq!(
            feed(&mut g, 5_000, false, Fetch::Backfill),
            Some(HISTORY_START)
        );
        // Each failed refill doubles the polls skipped before the next try.
        let mut waits = Vec::new();
        for _ in 0..8 {
            g.answered(
                &answer(5_000, false, Fetch::Refill(HISTORY_START)),
                HISTORY_START,
            );
            let mut skipped = 0;
            while g.due().is_none() {
                skipped += 1;
            }
            waits.push(skipped);
        }
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 32, 32, 32]);
        // Polls that answer meanwhile do not close the gap; a refill does.
        g.answered(&answer(9_000, true, Fetch::Instant), HISTORY_START);
        assert_eq!(g.due(), Some(HISTORY_START));
        assert_eq!(
            feed(&mut g, 9_000, true, Fetch::Refill(HISTORY_START)),
            None
        );
    }

    #[test]
    fn failed_polls_are_refilled_from_the_last_answer() {
        let mut g = Gap::default();
        feed(&mut g, 5_000, true, Fetch::Backfill);
        feed(&mut g, 20_000, true, Fetch::Instant);
        // Down for three polls: the gap starts at the last answer.
        assert_eq!(feed(&mut g, 35_000, false, Fetch::Instant), Some(20_000));
        g.answered(&answer(50_000, false, Fetch::Refill(20_000)), HISTORY_START);
        assert_eq!(g.due(), None, "one poll skipped after a failed refill");
        assert_eq!(feed(&mut g, 50_000, false, Fetch::Instant), Some(20_000));
        // Back: the refill covers it and the gap is closed.
        assert_eq!(feed(&mut g, 65_000, true, Fetch::Refill(20_000)), None);
        assert_eq!(feed(&mut g, 65_000, true, Fetch::Instant), None);
        // A later outage starts a new gap at the newest answer.
        assert_eq!(feed(&mut g, 80_000, false, Fetch::Instant), Some(65_000));
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
