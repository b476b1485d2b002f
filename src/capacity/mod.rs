//! Triggers, headroom, states and policies: `evaluate` turns the series
//! store into a `Snapshot`. Pure: no clock, no IO, no terminal.

mod policy;
mod snapshot;
mod state;

use std::collections::HashMap;

use crate::config::{Config, Domain, ForecastMode, Trigger};
use crate::forecast::{Breach, ForecastRequest, TriggerForecast};
use crate::series::{Labels, Series, SeriesStore};

pub use policy::{desired_units, outcome as policy_outcome};
pub use snapshot::*;
pub use state::{Level, Levels, Outcome, replay};

/// How far back the state machine is replayed: longer than any sensible
/// `for`, short enough that evaluating every second stays cheap.
pub const REPLAY_WINDOW_MS: i64 = 24 * 3_600_000;

/// The query name of a trigger's value.
pub fn value_query(d: &Domain, t: &Trigger) -> String {
    format!("{}/{}", d.id, t.id)
}

/// The query name of a trigger's capacity.
pub fn capacity_query(d: &Domain, t: &Trigger) -> String {
    format!("{}/{}#capacity", d.id, t.id)
}

/// What `evaluate` reads besides the configuration.
#[derive(Default)]
pub struct Inputs<'a> {
    pub store: Option<&'a SeriesStore>,
    /// Last error per query name, cleared by the source on success.
    pub query_errors: Option<&'a HashMap<String, String>>,
    pub sources: &'a [SourceHealth],
    /// Latest forecast per trigger key.
    pub forecasts: Option<&'a HashMap<String, TriggerForecast>>,
    /// Warnings the server sent with the last answer, per query name.
    pub query_warnings: Option<&'a HashMap<String, Vec<String>>>,
}

/// The levels of a trigger, from its thresholds and clear settings.
pub fn levels_of(config: &Config, t: &Trigger) -> Levels {
    let clear = t.clear.unwrap_or_default();
    let stale = t.stale_after.unwrap_or(config.cockpit.stale_after());
    let mk = |state, enter: f64, c: Option<f64>| Level {
        state,
        enter,
        clear: c.unwrap_or((enter - t.hysteresis).max(0.0)),
    };
    Levels {
        levels: [
            mk(State::Warn, t.warn, clear.warn),
            mk(State::Scale, t.scale, clear.scale),
            mk(State::Critical, t.critical, clear.critical),
        ],
        hold_ms: t.hold.as_millis_i64(),
        // Backfilled history is coarser than live polls: a gap of two
        // backfill steps is still continuous data, not an outage.
        max_gap_ms: stale.as_millis_i64().max(
            2 * crate::source::backfill_step_ms(
                config.cockpit.history.as_millis_i64(),
                config.cockpit.refresh.as_millis_i64(),
            ),
        ),
    }
}

/// Everything the overview shows, at `now_ms`.
pub fn evaluate(config: &Config, inputs: &Inputs, now_ms: i64) -> Snapshot {
    let empty_store = SeriesStore::default();
    let (empty_errors, empty_forecasts, empty_warnings) =
        (HashMap::new(), HashMap::new(), HashMap::new());
    let seen = Seen {
        store: inputs.store.unwrap_or(&empty_store),
        errors: inputs.query_errors.unwrap_or(&empty_errors),
        forecasts: inputs.forecasts.unwrap_or(&empty_forecasts),
        warnings: inputs.query_warnings.unwrap_or(&empty_warnings),
    };

    let mut triggers: Vec<TriggerStatus> = config
        .triggers()
        .map(|(d, t)| evaluate_trigger(config, d, t, &seen, now_ms))
        .collect();
    triggers.sort_by(|a, b| {
        sort_rank(a)
            .partial_cmp(&sort_rank(b))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.key().cmp(&b.key()))
    });

    let domains = config
        .domains
        .iter()
        .map(|d| {
            let states = triggers
                .iter()
                .filter(|t| t.domain == d.id)
                .map(|t| t.state);
            DomainSummary {
                id: d.id.clone(),
                title: d.title.clone(),
                state: states.clone().max().unwrap_or(State::Unknown),
                triggers: states.count(),
            }
        })
        .collect();

    Snapshot {
        platform: config.cockpit.platform.clone(),
        generated_at: crate::time::rfc3339(now_ms),
        timezone: config.cockpit.timezone.clone(),
        domains,
        triggers,
        sources: inputs.sources.to_vec(),
    }
}

fn inputs_warnings(map: &HashMap<String, Vec<String>>, vq: &str, cq: &str) -> Vec<String> {
    let mut out: Vec<String> = map
        .get(vq)
        .into_iter()
        .chain(map.get(cq))
        .flatten()
        .cloned()
        .collect();
    out.dedup();
    out
}

/// Least headroom first; triggers without a known state last.
fn sort_rank(t: &TriggerStatus) -> (u8, f64) {
    match (t.state, t.headroom_pct) {
        (State::Stale | State::Unknown, _) | (_, None) => (1, 0.0),
        (_, Some(h)) => (0, h),
    }
}

struct RowEval {
    label: String,
    value: Option<f64>,
    capacity: Option<f64>,
    utilization: Option<f64>,
    outcome: Option<Outcome>,
    age_s: Option<f64>,
    stale: bool,
}

fn capacity_series<'a>(
    caps: &'a [(&'a Labels, &'a Series)],
    by: Option<&str>,
    labels: &Labels,
) -> Option<&'a Series> {
    if let Some(by) = by
        && let Some(v) = labels.get(by)
        && let Some((_, s)) = caps.iter().find(|(l, _)| l.get(by) == Some(v))
    {
        return Some(s);
    }
    caps.first().map(|(_, s)| *s)
}

fn evaluate_row(
    config: &Config,
    t: &Trigger,
    series: &Series,
    cap_series: Option<&Series>,
    label: String,
    now_ms: i64,
) -> RowEval {
    let levels = levels_of(config, t);
    let static_cap = t.capacity.map(|q| q.0);
    let cap_at = |ts: i64| {
        cap_series
            .and_then(|s| s.at_or_before(ts).or_else(|| s.first()))
            .map(|s| s.v)
            .filter(|c| c.is_finite() && *c > 0.0)
            .or(static_cap)
    };
    let last = series.iter().rev().find(|s| s.v.is_finite());
    let capacity = cap_at(now_ms);
    let value = last.map(|s| s.v);
    let utilization = value.zip(capacity).map(|(v, c)| v / c);
    let outcome = capacity.map(|_| {
        replay(
            &levels,
            series
                .since(now_ms - REPLAY_WINDOW_MS)
                .map(|s| match cap_at(s.t) {
                    Some(c) => (s.t, s.v / c),
                    None => (s.t, f64::NAN),
                }),
        )
    });
    let age_s = last.map(|s| ((now_ms - s.t).max(0)) as f64 / 1000.0);
    let stale_after = t
        .stale_after
        .unwrap_or(config.cockpit.stale_after())
        .as_secs_f64();
    RowEval {
        label,
        value,
        capacity,
        utilization,
        outcome,
        stale: age_s.is_some_and(|a| a > stale_after),
        age_s,
    }
}

fn row_state(r: &RowEval) -> State {
    match (r.value, r.outcome) {
        _ if r.stale => State::Stale,
        (Some(_), Some(o)) => o.state,
        _ => State::Unknown,
    }
}

/// `Inputs` with the absent parts filled in.
struct Seen<'a> {
    store: &'a SeriesStore,
    errors: &'a HashMap<String, String>,
    forecasts: &'a HashMap<String, TriggerForecast>,
    warnings: &'a HashMap<String, Vec<String>>,
}

fn evaluate_trigger(
    config: &Config,
    d: &Domain,
    t: &Trigger,
    seen: &Seen,
    now_ms: i64,
) -> TriggerStatus {
    let (store, errors, forecasts) = (seen.store, seen.errors, seen.forecasts);
    let vq = value_query(d, t);
    let cq = capacity_query(d, t);
    let values = store.of_query(&vq);
    let caps = store.of_query(&cq);
    let by = t.by.as_deref();

    let mut rows: Vec<RowEval> = values
        .iter()
        .map(|(labels, s)| {
            let label = by
                .and_then(|b| labels.get(b).cloned())
                .unwrap_or_else(|| crate::source::labels_text(labels));
            evaluate_row(
                config,
                t,
                s,
                capacity_series(&caps, by, labels),
                label,
                now_ms,
            )
        })
        .collect();
    rows.sort_by(|a, b| {
        b.utilization
            .unwrap_or(f64::NEG_INFINITY)
            .partial_cmp(&a.utilization.unwrap_or(f64::NEG_INFINITY))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.label.cmp(&b.label))
    });

    let scale = t.scale;
    let headroom = |v: Option<f64>, c: Option<f64>| v.zip(c).map(|(v, c)| c * scale - v);
    let headroom_pct = |u: Option<f64>| u.map(|u| scale - u);

    let lead_s = t.lead_time.as_secs_f64();
    let forecast = forecasts.get(&vq).cloned();
    let urgent = match forecast.as_ref().map(|f| &f.breach) {
        Some(Breach::Forecast { p10_s, .. }) => *p10_s <= lead_s,
        _ => false,
    };

    // The trigger shows its worst row (for a single series, the only one).
    let worst = rows.first();
    let state = if rows.is_empty() {
        State::Unknown
    } else {
        let states: Vec<State> = rows.iter().map(row_state).collect();
        let known: Vec<State> = states
            .iter()
            .copied()
            .filter(|s| !matches!(s, State::Stale | State::Unknown))
            .collect();
        if known.is_empty() {
            states.into_iter().max().unwrap_or(State::Unknown)
        } else if known.len() == states.len() {
            known.into_iter().max().unwrap_or(State::Unknown)
        } else {
            // Some rows are stale: never show the trigger healthier than that.
            let k = known.into_iter().max().unwrap_or(State::Ok);
            if k.is_breach() { k } else { State::Stale }
        }
    };
    let pending = worst.and_then(|r| r.outcome).and_then(|o| o.pending);
    let value = worst.and_then(|r| r.value);
    let capacity = worst.and_then(|r| r.capacity).or(t.capacity.map(|q| q.0));
    let utilization = worst.and_then(|r| r.utilization);
    let age_seconds = rows.iter().filter_map(|r| r.age_s).reduce(f64::max);

    let to_row = |r: &RowEval| Row {
        label: r.label.clone(),
        value: r.value,
        capacity: r.capacity,
        utilization: r.utilization,
        headroom: headroom(r.value, r.capacity),
        headroom_pct: headroom_pct(r.utilization),
        state: row_state(r),
        age_seconds: r.age_s,
    };
    let shown_rows = if by.is_some() {
        let mut out: Vec<Row> = rows.iter().take(t.top).map(to_row).collect();
        let rest = &rows[rows.len().min(t.top)..];
        if !rest.is_empty() {
            let top = &rest[0];
            let mut summary = to_row(top);
            summary.label = format!("{} more (highest: {})", rest.len(), top.label);
            summary.state = rest.iter().map(row_state).max().unwrap_or(State::Unknown);
            out.push(summary);
        }
        out
    } else {
        Vec::new()
    };

    let external = t
        .external_forecast
        .as_ref()
        .map(|ef| external_status(ef, d, t, seen, capacity, now_ms));
    let warnings = inputs_warnings(seen.warnings, &vq, &cq);
    let error = errors.get(&vq).or_else(|| errors.get(&cq)).cloned();
    let policy = t
        .policy
        .as_ref()
        .map(|p| policy::outcome(p, utilization, state.is_breach(), urgent));

    TriggerStatus {
        domain: d.id.clone(),
        domain_title: d.title.clone(),
        id: t.id.clone(),
        title: t.title.clone(),
        unit: t.unit.clone(),
        source: config
            .source_of(t)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        value,
        capacity,
        utilization,
        headroom: headroom(value, capacity),
        headroom_pct: headroom_pct(utilization),
        state,
        pending,
        age_seconds,
        thresholds: Thresholds {
            warn: t.warn,
            scale: t.scale,
            critical: t.critical,
        },
        lead_time_seconds: lead_s,
        urgent,
        forecast,
        external,
        policy,
        runbook: t.runbook.clone(),
        error,
        warnings,
        rows: shown_rows,
    }
}

/// The external forecast's points from now on (thinned for the chart) and
/// when its value, and its upper bound, first reach the scale threshold.
fn external_status(
    ef: &crate::config::ExternalForecast,
    d: &Domain,
    t: &Trigger,
    seen: &Seen,
    capacity: Option<f64>,
    now_ms: i64,
) -> ExternalForecastStatus {
    let query = crate::source::external_forecast_query(d, t);
    let ahead: Vec<crate::source::ExternalPoint> =
        crate::source::external_forecast(seen.store, &query)
            .into_iter()
            .filter(|p| p.t >= now_ms)
            .collect();
    let line = capacity.map(|c| c * t.scale);
    let first_at = |pick: fn(&crate::source::ExternalPoint) -> Option<f64>| {
        line.and_then(|l| {
            ahead
                .iter()
                .find(|p| pick(p).is_some_and(|v| v >= l))
                .map(|p| p.t)
        })
    };
    let breach_at = first_at(|p| Some(p.value));
    let breach_upper_at = first_at(|p| p.upper.or(Some(p.value)));
    let stride = ahead.len().div_ceil(EXTERNAL_POINTS_MAX).max(1);
    let points = ahead.iter().step_by(stride).copied().collect();
    ExternalForecastStatus {
        source: ef.source.clone(),
        points,
        breach_at,
        breach_upper_at,
        error: seen.errors.get(&query).cloned(),
    }
}

/// What to forecast for each trigger that has a forecast: its value
/// samples (for `by` triggers, the most utilised row's) against the scale
/// threshold at today's capacity. Keys are trigger keys (`domain/id`).
/// `want(key, newest_sample_ms)` picks which to build (building copies the
/// samples, so ask only for the triggers that are due).
pub fn forecast_requests(
    config: &Config,
    store: &SeriesStore,
    now_ms: i64,
    mut want: impl FnMut(&str, i64) -> bool,
) -> Vec<(String, ForecastRequest)> {
    let mut out = Vec::new();
    for (d, t) in config.triggers() {
        if t.forecast == ForecastMode::None {
            continue;
        }
        let vq = value_query(d, t);
        let caps = store.of_query(&capacity_query(d, t));
        let mut best: Option<(f64, &Series, f64)> = None;
        for (labels, s) in store.of_query(&vq) {
            let cap = capacity_series(&caps, t.by.as_deref(), labels)
                .and_then(|c| c.last())
                .map(|c| c.v)
                .filter(|c| c.is_finite() && *c > 0.0)
                .or(t.capacity.map(|q| q.0));
            let (Some(cap), Some(last)) = (cap, s.last()) else {
                continue;
            };
            let u = last.v / cap;
            if best.is_none_or(|(bu, _, _)| u > bu || bu.is_nan()) {
                best = Some((u, s, cap));
            }
        }
        if let Some((_, s, cap)) = best
            && want(&vq, s.last().map_or(i64::MIN, |x| x.t))
        {
            out.push((
                vq,
                ForecastRequest {
                    samples: s.to_vec(),
                    now_ms,
                    threshold: cap * t.scale,
                    lead_time_ms: t.lead_time.as_millis_i64(),
                    horizon_ms: config.cockpit.horizon.as_millis_i64(),
                    mode: t.forecast,
                },
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
