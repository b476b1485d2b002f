//! When to refit, and how to show a fit between refits.
//!
//! A trigger is refitted at most every `every_ms` (the `forecast_every`
//! setting), sooner only when the operator forces it, and never while no new
//! sample has arrived or a fit is already running for it. Between refits the
//! last fit is only re-expressed relative to the new "now": its crossing times
//! are absolute, so the ETA counts down without any model work, and an idle
//! cockpit costs next to nothing.

use std::collections::HashMap;

use super::{Breach, TriggerForecast};

#[derive(Debug, Clone, Default)]
struct Entry {
    fit: Option<TriggerForecast>,
    /// Unix ms when the last fit was requested.
    requested_ms: Option<i64>,
    /// Newest sample the last requested fit saw.
    newest_ms: i64,
    in_flight: bool,
}

/// Decides which triggers are due for a refit and keeps their latest fits.
/// Keys are trigger keys (`domain/id`).
#[derive(Debug, Clone)]
pub struct Scheduler {
    every_ms: i64,
    entries: HashMap<String, Entry>,
}

impl Scheduler {
    pub fn new(every_ms: i64) -> Self {
        Scheduler {
            every_ms: every_ms.max(0),
            entries: HashMap::new(),
        }
    }

    /// Whether `key` should be refitted now. A `true` answer marks the fit
    /// as in flight: the caller runs `forecast_trigger` and hands the result
    /// to `accept` (or calls `abandon` if it could not run it).
    pub fn due(&mut self, key: &str, now_ms: i64, newest_sample_ms: i64, force: bool) -> bool {
        let every = self.every_ms;
        let e = self.entries.entry(key.to_string()).or_default();
        let due = match e.requested_ms {
            None => true,
            // A forced refit still waits for the running one to finish.
            Some(_) if e.in_flight => false,
            Some(_) if force => true,
            Some(_) if newest_sample_ms <= e.newest_ms => false,
            Some(at) => now_ms - at >= every,
        };
        if due {
            e.requested_ms = Some(now_ms);
            e.newest_ms = newest_sample_ms;
            e.in_flight = true;
        }
        due
    }

    /// Store a finished fit.
    pub fn accept(&mut self, key: &str, f: TriggerForecast) {
        let e = self.entries.entry(key.to_string()).or_default();
        e.fit = Some(f);
        e.in_flight = false;
    }

    /// A requested fit will not come (the task failed): allow a new request.
    pub fn abandon(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            e.in_flight = false;
            e.requested_ms = e.fit.as_ref().map(|f| f.fitted_at);
        }
    }

    /// Forget triggers that are no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }

    /// Every trigger's latest fit, its time to breach re-expressed from
    /// `now_ms` (forecast points are absolute and stay as they are).
    pub fn current(&self, now_ms: i64) -> HashMap<String, TriggerForecast> {
        self.entries
            .iter()
            .filter_map(|(k, e)| {
                let f = e.fit.as_ref()?;
                let mut f = f.clone();
                f.breach = reexpress(&f, now_ms);
                Some((k.clone(), f))
            })
            .collect()
    }
}

fn reexpress(f: &TriggerForecast, now_ms: i64) -> Breach {
    match &f.breach {
        Breach::Forecast { .. } | Breach::NoBreachWithinHorizon { .. } if f.crossings.paths > 0 => {
            f.crossings.breach_at(now_ms, f.trending)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ForecastMode;
    use crate::forecast::{ForecastRequest, forecast_trigger};
    use crate::series::Sample;

    const MIN: i64 = 60_000;

    fn fit(now: i64) -> TriggerForecast {
        let samples = (0..300)
            .map(|i| Sample::new(i * MIN, 10.0 + 0.5 * i as f64 + (i % 3) as f64 * 0.01))
            .collect();
        forecast_trigger(&ForecastRequest {
            samples,
            now_ms: now,
            threshold: 300.0,
            lead_time_ms: 60 * MIN,
            horizon_ms: 24 * 60 * MIN,
            mode: ForecastMode::Linear,
        })
    }

    #[test]
    fn first_request_is_due_then_waits_for_the_interval_and_new_data() {
        let mut s = Scheduler::new(5 * MIN);
        assert!(s.due("db/pool", 0, 0, false));
        // In flight: not again, even forced.
        assert!(!s.due("db/pool", 1, 1, true));
        s.accept("db/pool", fit(0));
        assert!(!s.due("db/pool", 4 * MIN, 4 * MIN, false), "too soon");
        assert!(!s.due("db/pool", 6 * MIN, 0, false), "no new sample");
        assert!(s.due("db/pool", 6 * MIN, 6 * MIN, false));
        s.accept("db/pool", fit(6 * MIN));
        assert!(s.due("db/pool", 7 * MIN, 6 * MIN, true), "operator forced");
        // Another key is independent.
        assert!(s.due("api/rps", 7 * MIN, 0, false));
    }

    #[test]
    fn abandon_allows_a_new_request() {
        let mut s = Scheduler::new(5 * MIN);
        assert!(s.due("k", 0, 0, false));
        s.abandon("k");
        assert!(s.due("k", 1, 0, false));
    }

    #[test]
    fn current_counts_the_eta_down_without_refitting() {
        let mut s = Scheduler::new(5 * MIN);
        assert!(s.due("db/pool", 299 * MIN, 299 * MIN, false));
        s.accept("db/pool", fit(299 * MIN));
        let at = |now| match s.current(now)["db/pool"].breach {
            Breach::Forecast { p50_s, .. } => p50_s,
            ref other => panic!("{other:?}"),
        };
        let a = at(299 * MIN);
        let b = at(309 * MIN);
        assert!((a - b - 600.0).abs() < 1e-6, "{a} {b}");
        assert!(s.current(0).len() == 1);
        s.retain(|k| k != "db/pool");
        assert!(s.current(0).is_empty());
    }
}
