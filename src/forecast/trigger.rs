//! The entry point for one trigger: raw samples in, `TriggerForecast` out.
//! Pure and synchronous; the caller runs it off the UI task.

use super::breach::{self, BreachSpec};
use super::models::Linear;
use super::select::{self, AutoConfig};
use super::{Breach, Crossings, ForecastPoint, TriggerForecast, prep};
use crate::config::ForecastMode;
use crate::series::Sample;

/// At most this many grid points of history are fitted (older ones dropped
/// or, for long windows, averaged into a coarser step).
pub const MAX_HISTORY_POINTS: usize = 4000;
/// At most this many forecast steps; a longer horizon coarsens the step.
pub const MAX_HORIZON_POINTS: usize = 2000;
/// The fewest clean samples worth forecasting from.
pub const MIN_SAMPLES: usize = 10;
/// |t| of the recent slope above which the series counts as trending.
pub const TREND_T: f64 = 2.0;

/// What to forecast.
#[derive(Debug, Clone)]
pub struct ForecastRequest {
    /// The trigger's value samples, in any order, duplicates allowed.
    pub samples: Vec<Sample>,
    pub now_ms: i64,
    /// Absolute value at the scale level (capacity × scale).
    pub threshold: f64,
    pub lead_time_ms: i64,
    /// How far ahead to forecast, from `now_ms`.
    pub horizon_ms: i64,
    pub mode: ForecastMode,
}

fn empty(model: &str, now_ms: i64, breach: Breach) -> TriggerForecast {
    TriggerForecast {
        model: model.into(),
        mase: None,
        breach,
        fitted_at: now_ms,
        points: Vec::new(),
        crossings: Crossings::default(),
        trending: false,
    }
}

/// Candidate names a mode restricts the choice to (`None` = all).
fn allowed(mode: ForecastMode) -> Option<Vec<String>> {
    let v = |names: &[&str]| Some(names.iter().map(|s| s.to_string()).collect());
    match mode {
        ForecastMode::Auto | ForecastMode::None => None,
        ForecastMode::Linear => v(&["linear"]),
        ForecastMode::Naive => v(&["naive"]),
        ForecastMode::SeasonalNaive => v(&["seasonal_naive_daily", "seasonal_naive_weekly"]),
        ForecastMode::Ets => v(&["ets"]),
        ForecastMode::Mstl => v(&["mstl"]),
    }
}

/// Fit, choose and forecast one trigger.
///
/// `mode = none` gives model `"none"` and `InsufficientData` without fitting
/// (callers normally do not ask). The forecast grid continues the samples'
/// own step (coarsened for long histories or horizons); `points` holds one
/// point per step from the step after the newest sample to the horizon.
pub fn forecast_trigger(req: &ForecastRequest) -> TriggerForecast {
    if req.mode == ForecastMode::None {
        return empty("none", req.now_ms, Breach::InsufficientData);
    }
    let clean = prep::clean(&req.samples);
    let (Some(native), Some(last)) = (prep::median_step(&clean), clean.last().copied()) else {
        return empty("none", req.now_ms, Breach::InsufficientData);
    };
    if clean.len() < MIN_SAMPLES {
        return empty("none", req.now_ms, Breach::InsufficientData);
    }
    // Coarsen the step so history and horizon both fit their budgets.
    let span = last.t - clean[0].t;
    let ahead = (req.now_ms + req.horizon_ms.max(0) - last.t).max(native);
    let k_hist = span / (native * MAX_HISTORY_POINTS as i64) + 1;
    let k_ahead = ahead / (native * MAX_HORIZON_POINTS as i64) + 1;
    let step = native * k_hist.max(k_ahead).max(1);
    let max_gap_steps = (86_400_000 / step).max(12);
    let Some(mut reg) = prep::regularise(&clean, step, MAX_HISTORY_POINTS, max_gap_steps) else {
        return empty("none", req.now_ms, Breach::InsufficientData);
    };
    reg.resets = prep::fix_counter_resets(&mut reg.values);
    let y = &reg.values;
    if y.len() < MIN_SAMPLES {
        return empty("none", req.now_ms, Breach::InsufficientData);
    }
    let h = ((ahead + step - 1) / step).clamp(1, MAX_HORIZON_POINTS as i64) as usize;
    let (daily, weekly) = select::calendar_seasons(step);
    let cfg = AutoConfig {
        daily,
        weekly,
        horizon: h,
        origins: select::CV_ORIGINS,
        seasons: None,
        only: allowed(req.mode),
    };
    let choice = match select::auto(y, &cfg) {
        Ok(c) => c,
        Err(_) => return empty("none", req.now_ms, Breach::InsufficientData),
    };
    let pred = choice.predict(h);
    // A level shift is not a trend: the slope is tested on the history with
    // lasting shifts taken out, the one the models were fitted on.
    let trending = Linear::trend_t(&choice.history).is_some_and(|(_, t)| t.abs() >= TREND_T);
    let first_ms = reg.end_ms() + step;
    let spec = BreachSpec {
        threshold: req.threshold,
        first_ms,
        step_ms: step,
        now_ms: req.now_ms,
        lead_ms: req.lead_time_ms,
        current: y[y.len() - 1],
        trending,
    };
    let (breach, crossings) = breach::time_to_breach(&pred, &spec);
    let (lo80, hi80) = pred.bounds(0.8);
    let (lo95, hi95) = pred.bounds(0.95);
    let points = (0..h)
        .map(|k| ForecastPoint {
            t: first_ms + step * k as i64,
            mean: pred.mean[k],
            lo80: lo80[k],
            hi80: hi80[k],
            lo95: lo95[k],
            hi95: hi95[k],
        })
        .collect();
    TriggerForecast {
        model: choice.model,
        mase: choice.mase.map(|m| (m * 1000.0).round() / 1000.0),
        breach,
        fitted_at: req.now_ms,
        points,
        crossings,
        trending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn ramp(n: i64, slope_per_min: f64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                Sample::new(
                    i * MIN,
                    10.0 + slope_per_min * i as f64 + ((i * 7) % 3) as f64 * 0.01,
                )
            })
            .collect()
    }

    fn req(samples: Vec<Sample>, now_ms: i64, threshold: f64) -> ForecastRequest {
        ForecastRequest {
            samples,
            now_ms,
            threshold,
            lead_time_ms: 60 * MIN,
            horizon_ms: 24 * 60 * MIN,
            mode: ForecastMode::Auto,
        }
    }

    #[test]
    fn a_linear_ramp_breaches_within_one_step_of_the_truth() {
        // 10 + 0.5/min; now = last sample (t = 599 min, value 309.5).
        // Threshold 400 is crossed at 780 min, i.e. 181 min after now.
        let s = ramp(600, 0.5);
        let now = 599 * MIN;
        let f = forecast_trigger(&req(s, now, 400.0));
        let Breach::Forecast {
            p50_s,
            p10_s,
            p90_s,
            ..
        } = f.breach
        else {
            panic!("{:?} ({})", f.breach, f.model)
        };
        assert!(
            (p50_s - 181.0 * 60.0).abs() <= 60.0,
            "p50 {p50_s} via {}",
            f.model
        );
        assert!(p10_s <= p50_s && p90_s.is_none_or(|p| p >= p50_s));
        assert!(f.trending);
        assert!(!f.points.is_empty() && f.mase.is_some());
    }

    #[test]
    fn breached_insufficient_and_not_trending() {
        let s = ramp(100, 0.5);
        assert_eq!(
            forecast_trigger(&req(s.clone(), 99 * MIN, 20.0)).breach,
            Breach::Breached
        );
        assert_eq!(
            forecast_trigger(&req(s[..5].to_vec(), 5 * MIN, 100.0)).breach,
            Breach::InsufficientData
        );
        let flat = ramp(300, 0.0);
        let f = forecast_trigger(&req(flat, 299 * MIN, 100.0));
        assert_eq!(f.breach, Breach::NotTrending, "{}", f.model);
    }

    #[test]
    fn unsorted_duplicated_input_gives_the_same_forecast() {
        let s = ramp(300, 0.2);
        let mut shuffled: Vec<Sample> = s.iter().rev().copied().collect();
        shuffled.extend_from_slice(&s[100..110]);
        let a = forecast_trigger(&req(s, 299 * MIN, 200.0));
        let b = forecast_trigger(&req(shuffled, 299 * MIN, 200.0));
        assert_eq!(a, b);
    }

    #[test]
    fn a_constant_series_and_a_counter_with_resets_do_not_break_anything() {
        let flat: Vec<Sample> = (0..200).map(|i| Sample::new(i * MIN, 5.0)).collect();
        let f = forecast_trigger(&req(flat, 199 * MIN, 10.0));
        assert_eq!(f.breach, Breach::NotTrending);
        assert!(f.points.iter().all(|p| p.mean == 5.0));
        // A counter rising 1/min that resets twice: compensated, it is a ramp.
        let counter: Vec<Sample> = (0..300)
            .map(|i| Sample::new(i * MIN, (i % 120) as f64 + 1.0))
            .collect();
        let f = forecast_trigger(&req(counter, 299 * MIN, 1000.0));
        assert!(f.trending, "{}", f.model);
        assert!(
            matches!(f.breach, Breach::Forecast { .. }),
            "{:?}",
            f.breach
        );
    }

    #[test]
    fn a_level_shift_is_not_a_trend() {
        // Flat at 10, then flat at 30 for the last 200 minutes.
        let s: Vec<Sample> = (0..600)
            .map(|i| {
                let base = if i < 400 { 10.0 } else { 30.0 };
                Sample::new(i * MIN, base + ((i * 7) % 3) as f64 * 0.1)
            })
            .collect();
        let f = forecast_trigger(&req(s, 599 * MIN, 50.0));
        assert!(!f.trending);
        assert_eq!(f.breach, Breach::NotTrending, "{}", f.model);
    }

    #[test]
    fn growth_after_a_jump_is_a_trend_that_breaches_on_time() {
        // Flat at 10, a jump to 30, then rising 0.1/min for 200 minutes.
        let s: Vec<Sample> = (0..600)
            .map(|i| {
                let base = if i < 400 {
                    10.0
                } else {
                    30.0 + 0.1 * (i - 400) as f64
                };
                Sample::new(i * MIN, base + ((i * 7) % 3) as f64 * 0.1)
            })
            .collect();
        let f = forecast_trigger(&req(s, 599 * MIN, 60.0));
        assert!(f.trending);
        // 49.9 now, 0.1/min: 60 is crossed for good 101 minutes later.
        let Breach::Forecast { p50_s, .. } = f.breach else {
            panic!("{:?} ({})", f.breach, f.model)
        };
        assert!(
            (p50_s - 101.0 * 60.0).abs() <= 2.0 * 60.0,
            "{p50_s} ({})",
            f.model
        );
    }

    #[test]
    fn a_fixed_mode_uses_that_model() {
        let mut r = req(ramp(300, 0.2), 299 * MIN, 200.0);
        r.mode = ForecastMode::Naive;
        assert_eq!(forecast_trigger(&r).model, "naive");
        r.mode = ForecastMode::None;
        assert_eq!(forecast_trigger(&r).model, "none");
    }
}
