//! Season detection and the automatic choice of a model per series.
//!
//! Lasting level shifts are taken out of the history first (see
//! `prep::remove_level_shifts`), so that seasonal and long-window models
//! forecast today's level and no fold is decided by one jump.
//!
//! Seasons are looked for only at calendar lags (one day, one week, in points
//! of the grid), with the M4 competition's autocorrelation test. The choice is
//! a rolling-origin cross-validation over the most recent history: every
//! candidate (naive and both seasonal naives included, since a level shift
//! breaks the seasonal ones and a weekly cycle defeats the smooth models) is
//! fitted at a few origins and scored by MASE, with the interval score
//! breaking near-ties; equal-weight combinations of the best few are scored
//! on the same origins for free. The winner is refitted on all the data and
//! its intervals are calibrated on its own cross-validation errors.

use super::models::{self, Fitted, Forecaster, ModelError, Prediction};
use super::stats;

const DAY_MS: i64 = 86_400_000;
/// The standardised cross-validation error the 95 % band is stretched to
/// cover. Above 0.95 on purpose: the future is a little less like the
/// recent past than the folds are like each other.
const CALIBRATION_QUANTILE: f64 = 0.975;
/// The calibration never narrows a band below this share of the model's
/// own: quiet folds (the hours before an incident, say) do not promise a
/// quiet future. Measured with a 10 % holdout on the 17 NAB AWS files at
/// their three latest windows and on 8 NAB series from other folders: 0.6
/// covered 89.7 % of one window's holdout at the 95 % level (93.0 % on
/// average); 0.8 keeps every set between 90.6 % and 97.1 % (94.7 % on
/// average, near the nominal 95 %) and leaves every MASE as it was.
const MIN_CALIBRATION: f64 = 0.8;
/// Nor widens it past this many times.
const MAX_CALIBRATION: f64 = 5.0;
/// Rolling origins of the cross-validation, one validation horizon apart.
/// Four was best on the NAB CloudWatch files (two and six were worse: too
/// noisy, and too far back for series that change).
pub const CV_ORIGINS: usize = 4;
/// Cross-validated MASEs this close (relative) to the best count as a tie,
/// which the calibrated interval score breaks. Only near-exact ties: a wider
/// band (3 % was tried) trades point accuracy for narrower bands, and on the
/// NAB files' earlier windows it cost 5 % of MASE.
pub const TIE_BAND: f64 = 0.001;
const WEEK_MS: i64 = 7 * DAY_MS;
/// The recent line is fitted on this part (1/n) of the long line's window:
/// three hours of a day.
const RECENT_LINE_PART: usize = 8;
/// Fewer points than this make a line of noise.
const MIN_RECENT_LINE: usize = 8;

/// How large a jump must be, in robust standard deviations of the first
/// differences, to count as a level shift.
const SHIFT_SIGMAS: f64 = 8.0;

/// How level shifts are recognised on this grid: the old level judged over
/// a quarter of a day, the new one holding for at least an hour, and a
/// change that recurs daily or weekly left to the seasonal models.
fn shift_rule(cfg: &AutoConfig) -> super::prep::ShiftRule {
    let before = (cfg.daily.unwrap_or(96) / 4).max(8);
    super::prep::ShiftRule {
        before,
        after: (before / 6).max(4),
        k_sigma: SHIFT_SIGMAS,
        seasons: [cfg.daily, cfg.weekly].into_iter().flatten().collect(),
    }
}

/// Two or more shifts, all in the same direction.
fn is_staircase(shifts: &[(usize, f64)]) -> bool {
    shifts.len() >= 2
        && (shifts.iter().all(|(_, s)| *s > 0.0) || shifts.iter().all(|(_, s)| *s < 0.0))
}

/// Points per day and per week on a grid of `step_ms`, when the step divides
/// them into at least two points.
pub fn calendar_seasons(step_ms: i64) -> (Option<usize>, Option<usize>) {
    let per = |span: i64| {
        if step_ms <= 0 {
            return None;
        }
        let p = (span as f64 / step_ms as f64).round() as usize;
        (p >= 2).then_some(p)
    };
    (per(DAY_MS), per(WEEK_MS))
}

/// Sample autocorrelation of `y` at `lag`.
pub fn acf(y: &[f64], lag: usize) -> f64 {
    acf_all(y, lag).last().copied().unwrap_or(0.0)
}

/// Autocorrelations at lags 1..=max_lag.
fn acf_all(y: &[f64], max_lag: usize) -> Vec<f64> {
    let n = y.len();
    if n < 2 || max_lag == 0 || max_lag >= n {
        return Vec::new();
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let c0: f64 = d.iter().map(|v| v * v).sum();
    if c0 == 0.0 {
        return vec![0.0; max_lag];
    }
    (1..=max_lag)
        .map(|k| d[k..].iter().zip(&d).map(|(a, b)| a * b).sum::<f64>() / c0)
        .collect()
}

/// One calendar lag's test result.
#[derive(Debug, Clone, PartialEq)]
pub struct SeasonTest {
    pub period: usize,
    pub acf: f64,
    /// The 90 % limit the autocorrelation must exceed.
    pub limit: f64,
    pub significant: bool,
}

/// The M4 seasonality test: the autocorrelation at lag `m` is significant at
/// 90 % when it exceeds 1.645 √((1 + 2 Σ_{k<m} r_k²) / n) (Bartlett's
/// variance). Needs at least three seasons of data.
pub fn season_test(y: &[f64], m: usize) -> Option<SeasonTest> {
    let n = y.len();
    if m < 2 || n < 3 * m {
        return None;
    }
    let r = acf_all(y, m);
    let rm = *r.last()?;
    let sum_sq: f64 = r[..m - 1].iter().map(|v| v * v).sum();
    let limit = 1.645 * ((1.0 + 2.0 * sum_sq) / n as f64).sqrt();
    Some(SeasonTest {
        period: m,
        acf: rm,
        limit,
        significant: rm > limit,
    })
}

/// The seasons (in points) that the data support, daily before weekly.
/// The weekly lag cannot be tested on less than three weeks of data; it is
/// then kept when the daily one is significant and two weeks are there (the
/// test cannot say no, and MSTL needs two cycles anyway).
pub fn detect_seasons(y: &[f64], daily: Option<usize>, weekly: Option<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut daily_sig = false;
    if let Some(t) = daily.and_then(|d| season_test(y, d)) {
        daily_sig = t.significant;
        if t.significant {
            out.push(t.period);
        }
    }
    if let Some(w) = weekly {
        match season_test(y, w) {
            Some(t) if t.significant => out.push(w),
            None if daily_sig && y.len() >= 2 * w => out.push(w),
            _ => {}
        }
    }
    out
}

/// What the automatic choice may use.
#[derive(Debug, Clone)]
pub struct AutoConfig {
    /// Points per day / week on this grid.
    pub daily: Option<usize>,
    pub weekly: Option<usize>,
    /// Steps ahead that matter (the cross-validation horizon is capped).
    pub horizon: usize,
    /// Rolling origins.
    pub origins: usize,
    /// Seasons to give MSTL; `None` = detect them.
    pub seasons: Option<Vec<usize>>,
    /// Only these candidates (by name); `None` = all.
    pub only: Option<Vec<String>>,
}

/// One candidate's cross-validation score.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub model: String,
    pub mase: f64,
    /// Mean scaled interval score of the 95 % interval.
    pub msis: f64,
}

/// The automatic choice: the winner fitted on all data.
pub struct Choice {
    pub model: String,
    pub fitted: Box<dyn Fitted>,
    /// The winner's cross-validation MASE (None when there was no room to
    /// cross-validate and the choice fell back to a default).
    pub mase: Option<f64>,
    /// Factor applied to the predictive sd so that the cross-validation
    /// errors are covered at the nominal rate.
    pub calibration: f64,
    pub scores: Vec<Score>,
    pub seasons: Vec<usize>,
    /// The history the models were fitted on: the input with lasting level
    /// shifts taken out (kept when they form a staircase). What a trend is
    /// judged on, so that a jump is not read as growth.
    pub history: Vec<f64>,
}

impl Choice {
    pub fn predict(&self, h: usize) -> Prediction {
        let mut p = self.fitted.predict(h);
        p.scale_sd(self.calibration);
        p
    }
}

/// Every candidate for a series of `n` points.
/// `staircase`: the history grows in same-direction steps, so the line
/// through all of it (the average growth, steps included) is a candidate.
///
/// Not a candidate: a damped additive Holt-Winters. Measured as one, it
/// moved the NAB and outside series by under half a percent either way,
/// and it won the cross-validation on the demo's daily-total triggers
/// with a damped trend that stops their steady growth: their time to
/// breach went from about three weeks to "none in horizon". A capacity
/// forecast that quietly stops growing is the wrong way to be wrong.
pub fn candidates(
    n: usize,
    cfg: &AutoConfig,
    seasons: &[usize],
    staircase: bool,
) -> Vec<Box<dyn Forecaster>> {
    let mut c: Vec<Box<dyn Forecaster>> = vec![Box::new(models::Naive)];
    if let Some(d) = cfg.daily.filter(|d| n > d + 2) {
        c.push(Box::new(models::SeasonalNaive {
            period: d,
            label: "daily",
        }));
    }
    if let Some(w) = cfg.weekly.filter(|w| n > w + 2) {
        c.push(Box::new(models::SeasonalNaive {
            period: w,
            label: "weekly",
        }));
    }
    let day = cfg.daily.unwrap_or(192);
    for (w, label) in [(day / 24, "hour"), (day / 4, "quarter_day"), (day, "day")] {
        if w >= 3 && n > w + 2 {
            c.push(Box::new(models::MedianLevel { window: w, label }));
        }
    }
    if let Some(d) = cfg.daily.filter(|d| n >= 3 * d) {
        c.push(Box::new(models::SeasonalMedian {
            period: d,
            cycles: (n / d).min(7),
            label: "daily",
        }));
        c.push(Box::new(models::SeasonalProfile {
            period: d,
            cycles: (n / d).min(7),
            label: "daily",
        }));
    }
    let window = cfg.daily.unwrap_or(n).min(n).max(3);
    c.push(Box::new(models::Linear { window, label: "" }));
    // Growth that began lately (memory climbing since a restart) shows
    // only at the end of the day-long window; the line through its last
    // eighth follows it. On the NAB files it never wins, so it changes
    // nothing there.
    let recent = window / RECENT_LINE_PART;
    if recent >= MIN_RECENT_LINE && n > recent + 2 {
        c.push(Box::new(models::Linear {
            window: recent,
            label: "recent",
        }));
    }
    if staircase && n > 2 * window {
        c.push(Box::new(models::Linear {
            window: n,
            label: "all",
        }));
    }
    c.push(Box::new(models::Ets));
    let periods: Vec<usize> = seasons.iter().copied().filter(|p| 2 * p <= n).collect();
    if !periods.is_empty() {
        c.push(Box::new(models::Mstl { periods }));
    }
    if let Some(only) = &cfg.only {
        c.retain(|m| only.iter().any(|o| *o == m.name()));
    }
    c
}

/// Build a fresh candidate by name (to refit the winner on all the data).
fn by_name(
    name: &str,
    n: usize,
    cfg: &AutoConfig,
    seasons: &[usize],
    staircase: bool,
) -> Option<Box<dyn Forecaster>> {
    candidates(n, cfg, seasons, staircase)
        .into_iter()
        .find(|c| c.name() == name)
}

struct Fold {
    actual: Vec<f64>,
    scale: f64,
}

/// Choose, fit and calibrate a model for `y`.
pub fn auto(y: &[f64], cfg: &AutoConfig) -> Result<Choice, ModelError> {
    // Lasting level shifts are taken out first: every model then sees the
    // history at today's level, and no fold is ruled by one jump. Steps
    // that all go the same way are a staircase (storage growing by one
    // tenant's onboarding at a time): that is the trend, and it is kept.
    let (adjusted, shifts) = super::prep::remove_level_shifts(y, &shift_rule(cfg));
    let staircase = is_staircase(&shifts);
    let history = if staircase { y.to_vec() } else { adjusted };
    let y = &history[..];
    let n = y.len();
    let seasons = match &cfg.seasons {
        Some(s) => s.clone(),
        None => detect_seasons(y, cfg.daily, cfg.weekly),
    };
    let m_scale = cfg.daily.unwrap_or(1);
    // Validation horizon: the requested one, but leave most data to train.
    let h = cfg.horizon.clamp(1, (n / 5).max(1));
    let origins = cfg.origins.max(1);
    let mut folds: Vec<(usize, Fold)> = Vec::new();
    for k in (1..=origins).rev() {
        let Some(end) = n.checked_sub(k * h) else {
            continue;
        };
        if end < 24 {
            continue;
        }
        let Some(scale) = stats::mase_scale(&y[..end], m_scale) else {
            continue;
        };
        folds.push((
            end,
            Fold {
                actual: y[end..end + h].to_vec(),
                scale,
            },
        ));
    }

    // Candidates come from the newest fold; one that needs more history
    // than the older folds have (a weekly season) is scored on the folds it
    // can fit, at least two of them.
    let need = folds.len().min(2);
    let mut scored: Vec<(String, Vec<Option<Prediction>>)> = Vec::new();
    if let Some((newest, _)) = folds.last() {
        for cand in candidates(*newest, cfg, &seasons, staircase) {
            let preds: Vec<Option<Prediction>> = folds
                .iter()
                .map(|(end, _)| cand.fit(&y[..*end]).ok().map(|f| f.predict(h)))
                .collect();
            if preds.iter().flatten().count() >= need.max(1) {
                scored.push((cand.name(), preds));
            }
        }
    }
    let fold_mase = |preds: &[Option<Prediction>]| -> Vec<Option<f64>> {
        preds
            .iter()
            .zip(&folds)
            .map(|(p, (_, f))| p.as_ref().map(|p| stats::mae(&f.actual, &p.mean) / f.scale))
            .collect()
    };
    let score_of = |preds: &[Option<Prediction>]| -> (f64, f64, f64) {
        let pairs: Vec<(&Prediction, &Fold)> = preds
            .iter()
            .zip(&folds)
            .filter_map(|(p, (_, f))| p.as_ref().map(|p| (p, f)))
            .collect();
        let mut mase = 0.0;
        let mut u = Vec::new();
        for (p, f) in &pairs {
            mase += stats::mae(&f.actual, &p.mean) / f.scale;
            u.extend(
                f.actual
                    .iter()
                    .zip(p.mean.iter().zip(&p.sd))
                    .map(|(a, (m, s))| {
                        if *s > 0.0 {
                            (a - m).abs() / s
                        } else {
                            f64::INFINITY
                        }
                    }),
            );
        }
        let k = pairs.len().max(1) as f64;
        let calib = stats::quantile(&u, CALIBRATION_QUANTILE) / stats::z_of(0.95);
        // Score the intervals as they will be shown: calibrated.
        let shown = if calib.is_finite() && calib > 0.0 {
            calib.clamp(MIN_CALIBRATION, MAX_CALIBRATION)
        } else {
            1.0
        };
        let mut msis = 0.0;
        for (p, f) in &pairs {
            let mut p = (*p).clone();
            p.scale_sd(shown);
            let (lo, hi) = p.bounds(0.95);
            msis += stats::interval_score(&f.actual, &lo, &hi, 0.05) / f.scale;
        }
        (mase / k, msis / k, calib)
    };
    let mut scores: Vec<(Score, f64, Vec<String>)> = scored
        .iter()
        .map(|(name, preds)| {
            let (mase, msis, calib) = score_of(preds);
            (
                Score {
                    model: name.clone(),
                    mase,
                    msis,
                },
                calib,
                vec![name.clone()],
            )
        })
        .collect();
    // A candidate scored on fewer folds is put on the same footing as the
    // others: its MASE relative to the best full candidate on its own folds,
    // times that candidate's MASE over all folds. Otherwise two lucky folds
    // would beat four honest ones.
    let full = |p: &[Option<Prediction>]| p.iter().all(|x| x.is_some());
    let reference = scored
        .iter()
        .zip(&scores)
        .filter(|((_, p), (s, _, _))| full(p) && s.mase.is_finite())
        .min_by(|a, b| a.1.0.mase.total_cmp(&b.1.0.mase))
        .map(|((_, p), (s, _, _))| (fold_mase(p), s.mase));
    let normalise = |p: &[Option<Prediction>], s: &mut Score| {
        let Some((ref_folds, ref_mase)) = &reference else {
            return;
        };
        if full(p) {
            return;
        }
        let (a, b) = fold_mase(p)
            .iter()
            .zip(ref_folds)
            .filter_map(|(m, r)| m.zip(*r))
            .fold((0.0, 0.0), |(a, b), (m, r)| (a + m, b + r));
        if b > 0.0 {
            s.mase = a / b * ref_mase;
        }
    };
    for ((_, p), (s, _, _)) in scored.iter().zip(scores.iter_mut()) {
        normalise(p, s);
    }
    scores.retain(|(s, _, _)| s.mase.is_finite());
    // Combinations of the best two and three, scored on the same folds.
    let mut ranked: Vec<usize> = (0..scores.len()).collect();
    ranked.sort_by(|a, b| scores[*a].0.mase.total_cmp(&scores[*b].0.mase));
    for top in [2usize, 3] {
        if cfg.only.is_some() || ranked.len() < top {
            break;
        }
        let members: Vec<usize> = ranked[..top].to_vec();
        let names: Vec<String> = members.iter().map(|i| scores[*i].0.model.clone()).collect();
        // A fold counts for the combination when every member has it.
        let combined: Vec<Option<Prediction>> = (0..folds.len())
            .map(|f| {
                let ps: Option<Vec<Prediction>> = names
                    .iter()
                    .map(|nm| {
                        scored
                            .iter()
                            .find(|(n, _)| n == nm)
                            .and_then(|(_, p)| p[f].clone())
                    })
                    .collect();
                ps.map(|ps| models::combine(&ps, h))
            })
            .collect();
        if combined.iter().flatten().count() < need.max(1) {
            continue;
        }
        let (mase, msis, calib) = score_of(&combined);
        let mut score = Score {
            model: format!("combo({})", names.join("+")),
            mase,
            msis,
        };
        normalise(&combined, &mut score);
        if score.mase.is_finite() {
            scores.push((score, calib, names));
        }
    }

    // Lowest MASE; within the tie band of it, the lowest interval score.
    let best = scores
        .iter()
        .map(|s| s.0.mase)
        .fold(f64::INFINITY, f64::min);
    let winner = scores
        .iter()
        .filter(|s| s.0.mase <= best * (1.0 + TIE_BAND))
        .min_by(|a, b| a.0.msis.total_cmp(&b.0.msis))
        .cloned();

    let (model, mase, calibration, members) = match winner {
        Some((s, calib, members)) => (s.model, Some(s.mase), calib, members),
        None => ("naive".to_string(), None, 1.0, vec!["naive".to_string()]),
    };
    let fits: Vec<Box<dyn Fitted>> = members
        .iter()
        .filter_map(|nm| by_name(nm, n, cfg, &seasons, staircase))
        .map(|f| f.fit(y))
        .collect::<Result<_, _>>()?;
    let fitted: Box<dyn Fitted> = if fits.len() == 1 {
        fits.into_iter().next().ok_or(ModelError::Fit {
            model: model.clone(),
            message: "no fit".into(),
        })?
    } else if fits.is_empty() {
        models::Naive.fit(y)?
    } else {
        Box::new(Fits(fits))
    };
    let calibration = if calibration.is_finite() {
        calibration.clamp(MIN_CALIBRATION, MAX_CALIBRATION)
    } else {
        1.0
    };
    Ok(Choice {
        model,
        fitted,
        mase,
        calibration,
        scores: scores.into_iter().map(|s| s.0).collect(),
        seasons,
        history,
    })
}

/// Several fitted members combined with equal weights.
struct Fits(Vec<Box<dyn Fitted>>);

impl Fitted for Fits {
    fn predict(&self, h: usize) -> Prediction {
        let ps: Vec<Prediction> = self.0.iter().map(|f| f.predict(h)).collect();
        models::combine(&ps, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(daily: Option<usize>, weekly: Option<usize>, horizon: usize) -> AutoConfig {
        AutoConfig {
            daily,
            weekly,
            horizon,
            origins: 3,
            seasons: None,
            only: None,
        }
    }

    #[test]
    fn calendar_seasons_from_the_step() {
        assert_eq!(calendar_seasons(300_000), (Some(288), Some(2016)));
        assert_eq!(calendar_seasons(DAY_MS), (None, Some(7)));
    }

    #[test]
    fn a_daily_sine_is_seasonal_and_noise_is_not() {
        let y: Vec<f64> = (0..480)
            .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 48.0).sin())
            .collect();
        let t = season_test(&y, 48).expect("testable");
        assert!(t.significant && t.acf > 0.9);
        let mut x = 1u64;
        let noise: Vec<f64> = (0..480)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 33) as f64 / (1u64 << 31) as f64
            })
            .collect();
        assert!(!season_test(&noise, 48).expect("testable").significant);
        assert_eq!(detect_seasons(&noise, Some(48), None), Vec::<usize>::new());
    }

    #[test]
    fn auto_continues_a_pure_sine() {
        let y: Vec<f64> = (0..480)
            .map(|i| 5.0 + (2.0 * std::f64::consts::PI * i as f64 / 48.0).sin())
            .collect();
        let c = auto(&y, &cfg(Some(48), None, 24)).expect("auto");
        let p = c.predict(48);
        for (k, m) in p.mean.iter().enumerate() {
            let want = 5.0 + (2.0 * std::f64::consts::PI * (480 + k) as f64 / 48.0).sin();
            assert!((m - want).abs() < 0.05);
        }
    }

    #[test]
    fn a_weekly_cycle_is_followed_even_with_only_two_weeks_in_older_folds() {
        // Hourly data: weekdays around 100 with a daily swing, weekends at 20.
        let at = |i: usize| {
            let day = (i / 24) % 7;
            let base = if day >= 5 { 20.0 } else { 100.0 };
            base + 10.0 * (2.0 * std::f64::consts::PI * (i % 24) as f64 / 24.0).sin()
                + ((i * 7919) % 11) as f64 * 0.1
        };
        let n = 24 * 7 * 4;
        let y: Vec<f64> = (0..n).map(at).collect();
        let c = auto(&y, &cfg(Some(24), Some(168), 48)).expect("auto");
        assert!(
            c.scores.iter().any(|s| s.model == "seasonal_naive_weekly"),
            "{:?}",
            c.scores
        );
        let p = c.predict(168);
        let err: f64 = (0..168).map(|k| (p.mean[k] - at(n + k)).abs()).sum::<f64>() / 168.0;
        assert!(err < 3.0, "{} mean abs error {err}", c.model);
    }

    #[test]
    fn auto_follows_a_line() {
        let y: Vec<f64> = (0..300).map(|i| 2.0 * i as f64).collect();
        let c = auto(&y, &cfg(None, None, 20)).expect("auto");
        let p = c.predict(10);
        assert!(
            (p.mean[9] - 2.0 * 309.0).abs() < 1.0,
            "{} {:?}",
            c.model,
            p.mean
        );
    }

    #[test]
    fn a_staircase_is_growth_not_a_string_of_shifts() {
        // Storage that grows by one tenant's data every 150 points.
        let y: Vec<f64> = (0..900)
            .map(|i| 100.0 + 20.0 * (i / 150) as f64 + ((i * 7919) % 11) as f64 * 0.05)
            .collect();
        let (_, shifts) =
            crate::forecast::prep::remove_level_shifts(&y, &shift_rule(&cfg(Some(48), None, 150)));
        assert!(is_staircase(&shifts), "{shifts:?}");
        // 300 points on, two more steps' worth of growth (40), give or take.
        let c = auto(&y, &cfg(Some(48), None, 150)).expect("auto");
        let p = c.predict(300);
        assert!(
            (y[899] + 25.0..y[899] + 55.0).contains(&p.mean[299]),
            "{} forecasts {} after {}",
            c.model,
            p.mean[299],
            y[899]
        );
    }

    #[test]
    fn auto_prefers_naive_after_a_step() {
        let y: Vec<f64> = (0..300)
            .map(|i| if i < 200 { 1.0 } else { 9.0 } + ((i * 13) % 7) as f64 * 0.01)
            .collect();
        let c = auto(&y, &cfg(Some(48), None, 20)).expect("auto");
        let p = c.predict(5);
        assert!(
            p.mean.iter().all(|m| (m - 9.03).abs() < 0.2),
            "{} {:?}",
            c.model,
            p.mean
        );
    }
}
