//! The models behind one trait: naive, seasonal naive, least squares
//! (Prometheus `predict_linear`), AutoETS and MSTL (augurs), and an equal-weight
//! combination of others.
//!
//! Every model reads a regular series by index (the grid comes from
//! `prep::regularise`) and forecasts a Gaussian predictive distribution per
//! step: a mean and a standard deviation, from which the 80 % and 95 %
//! intervals and the simulated paths are drawn.

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_mstl::MSTLModel;

use super::stats;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ModelError {
    #[error("{model} needs at least {need} points, got {got}")]
    TooShort {
        model: String,
        need: usize,
        got: usize,
    },
    #[error("{model}: {message}")]
    Fit { model: String, message: String },
}

/// A forecast over `h` steps: the mean and the predictive standard deviation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prediction {
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
}

impl Prediction {
    /// Lower and upper bounds of the central `level` interval.
    pub fn bounds(&self, level: f64) -> (Vec<f64>, Vec<f64>) {
        let z = stats::z_of(level);
        let lo = self.mean.iter().zip(&self.sd).map(|(m, s)| m - z * s);
        let hi = self.mean.iter().zip(&self.sd).map(|(m, s)| m + z * s);
        (lo.collect(), hi.collect())
    }

    /// Multiply every standard deviation by `k` (interval calibration).
    pub fn scale_sd(&mut self, k: f64) {
        if k.is_finite() && k > 0.0 {
            self.sd.iter_mut().for_each(|s| *s *= k);
        }
    }
}

/// A model that can be fitted to a regular series.
pub trait Forecaster: Send + Sync {
    /// Stable name shown to operators (`naive`, `seasonal_naive_daily`, …).
    fn name(&self) -> String;
    /// The fewest points this model can fit.
    fn min_points(&self) -> usize;
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError>;
}

/// A fitted model: forecasts `h` steps after the last point it was fitted on.
pub trait Fitted: Send + Sync {
    fn predict(&self, h: usize) -> Prediction;
}

fn too_short(model: &dyn Forecaster, got: usize) -> Result<(), ModelError> {
    if got < model.min_points() {
        return Err(ModelError::TooShort {
            model: model.name(),
            need: model.min_points(),
            got,
        });
    }
    Ok(())
}

fn rms(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
    if n == 0 { 0.0 } else { (s / n as f64).sqrt() }
}

// ---------------------------------------------------------------- naive

/// The last value, with random-walk intervals (sd grows with √h).
#[derive(Debug, Clone, Copy, Default)]
pub struct Naive;

struct NaiveFit {
    last: f64,
    sigma: f64,
}

impl Forecaster for Naive {
    fn name(&self) -> String {
        "naive".into()
    }
    fn min_points(&self) -> usize {
        2
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let sigma = rms(y.windows(2).map(|w| w[1] - w[0]));
        Ok(Box::new(NaiveFit {
            last: y[y.len() - 1],
            sigma,
        }))
    }
}

impl Fitted for NaiveFit {
    fn predict(&self, h: usize) -> Prediction {
        Prediction {
            mean: vec![self.last; h],
            sd: (1..=h).map(|k| self.sigma * (k as f64).sqrt()).collect(),
        }
    }
}

// ------------------------------------------------------- seasonal naive

/// The value one season ago; intervals grow with the number of seasons ahead.
#[derive(Debug, Clone)]
pub struct SeasonalNaive {
    pub period: usize,
    pub label: &'static str,
}

struct SeasonalNaiveFit {
    last_season: Vec<f64>,
    sigma: f64,
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> String {
        format!("seasonal_naive_{}", self.label)
    }
    fn min_points(&self) -> usize {
        self.period.max(1) + 2
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let m = self.period.max(1);
        let sigma = rms(y[m..].iter().zip(y).map(|(a, b)| a - b));
        Ok(Box::new(SeasonalNaiveFit {
            last_season: y[y.len() - m..].to_vec(),
            sigma,
        }))
    }
}

impl Fitted for SeasonalNaiveFit {
    fn predict(&self, h: usize) -> Prediction {
        let m = self.last_season.len();
        Prediction {
            mean: (0..h).map(|k| self.last_season[k % m]).collect(),
            sd: (0..h)
                .map(|k| self.sigma * ((k / m + 1) as f64).sqrt())
                .collect(),
        }
    }
}

// ------------------------------------------------------ robust levels

/// The median of the last `window` points, flat: the forecast that
/// minimises absolute error for a noisy series around a level, and one that
/// a single spike at the end (which misleads the naive forecast) cannot move.
#[derive(Debug, Clone)]
pub struct MedianLevel {
    pub window: usize,
    pub label: &'static str,
}

struct FlatFit {
    level: Vec<f64>,
    sigma: f64,
    /// The sd grows as √(1 + k / grow) over the horizon.
    grow: f64,
}

impl Fitted for FlatFit {
    fn predict(&self, h: usize) -> Prediction {
        let m = self.level.len().max(1);
        Prediction {
            mean: (0..h).map(|k| self.level[k % m]).collect(),
            sd: (0..h)
                .map(|k| self.sigma * (1.0 + k as f64 / self.grow).sqrt())
                .collect(),
        }
    }
}

/// About `want` evenly spaced indices in `from..to`.
fn sample_points(from: usize, to: usize, want: usize) -> impl Iterator<Item = usize> {
    let stride = ((to.saturating_sub(from)) / want.max(1)).max(1);
    (from..to).step_by(stride)
}

impl Forecaster for MedianLevel {
    fn name(&self) -> String {
        format!("median_{}", self.label)
    }
    fn min_points(&self) -> usize {
        self.window.max(1) + 2
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let w = self.window.max(1);
        let n = y.len();
        let level = stats::median(&y[n - w..]);
        // One-step-behind errors at a few hundred places.
        let sigma = rms(sample_points(w, n, 200).map(|t| y[t] - stats::median(&y[t - w..t])));
        Ok(Box::new(FlatFit {
            level: vec![level],
            sigma,
            grow: w as f64 * 4.0,
        }))
    }
}

/// Per phase of the season, the median of that phase over the last
/// `cycles` seasons: a seasonal naive that one anomalous day cannot fool.
#[derive(Debug, Clone)]
pub struct SeasonalMedian {
    pub period: usize,
    pub cycles: usize,
    pub label: &'static str,
}

impl SeasonalMedian {
    fn profile(y: &[f64], end: usize, m: usize, k: usize) -> impl Fn(usize) -> f64 + '_ {
        move |j: usize| {
            let v: Vec<f64> = (1..=k)
                .filter_map(|c| (end + j).checked_sub(c * m))
                .filter(|i| *i < end)
                .map(|i| y[i])
                .collect();
            stats::median(&v)
        }
    }
}

/// The season length and how many of the `cycles` asked for the `n` points
/// hold (at least two).
fn seasons_held(period: usize, cycles: usize, n: usize) -> (usize, usize) {
    let m = period.max(1);
    (m, cycles.max(2).min(n / m))
}

impl Forecaster for SeasonalMedian {
    fn name(&self) -> String {
        format!("seasonal_median_{}", self.label)
    }
    fn min_points(&self) -> usize {
        self.period.max(1) * 2
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let n = y.len();
        let (m, k) = seasons_held(self.period, self.cycles, n);
        let prof = Self::profile(y, n, m, k);
        let level: Vec<f64> = (0..m).map(prof).collect();
        // Errors of the same rule one season back, where the data allow.
        let from = m * k;
        let sigma = rms(sample_points(from, n, 300).map(|t| {
            let j = t % m;
            let start = t - j;
            let f = Self::profile(y, start, m, k)(j);
            y[t] - f
        }));
        Ok(Box::new(FlatFit {
            level,
            sigma,
            grow: (m * k) as f64,
        }))
    }
}

/// The seasonal median's shape on today's level: per phase, the median
/// over the last `cycles` seasons of the deviation from that season's own
/// median, added to the median of the newest season. A level shift moves the
/// level without bending the shape.
#[derive(Debug, Clone)]
pub struct SeasonalProfile {
    pub period: usize,
    pub cycles: usize,
    pub label: &'static str,
}

impl SeasonalProfile {
    /// Forecast profile from the `k` full cycles ending at `end`.
    fn shape(y: &[f64], end: usize, m: usize, k: usize) -> Vec<f64> {
        let starts: Vec<usize> = (1..=k).filter_map(|c| end.checked_sub(c * m)).collect();
        let meds: Vec<f64> = starts
            .iter()
            .map(|s| stats::median(&y[*s..*s + m]))
            .collect();
        let level = meds.first().copied().unwrap_or(0.0);
        (0..m)
            .map(|j| {
                let dev: Vec<f64> = starts
                    .iter()
                    .zip(&meds)
                    .map(|(s, md)| y[s + j] - md)
                    .collect();
                level + stats::median(&dev)
            })
            .collect()
    }
}

impl Forecaster for SeasonalProfile {
    fn name(&self) -> String {
        format!("seasonal_profile_{}", self.label)
    }
    fn min_points(&self) -> usize {
        self.period.max(1) * 2
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let n = y.len();
        let (m, k) = seasons_held(self.period, self.cycles, n);
        let level = Self::shape(y, n, m, k);
        // The rule's errors one season back (its profile from the seasons
        // before), where there is room.
        let sigma = if n >= m * (k + 1) {
            let past = Self::shape(y, n - m, m, k);
            rms((0..m).map(|j| y[n - m + j] - past[j]))
        } else {
            rms(y[m..].iter().zip(y).map(|(a, b)| a - b))
        };
        Ok(Box::new(FlatFit {
            level,
            sigma,
            grow: (m * k) as f64,
        }))
    }
}

// -------------------------------------------------------- least squares

/// Slope and intercept of the least-squares line of `v` on `t`, with the
/// intercept taken at `intercept_t`: exactly what Prometheus'
/// `predict_linear(v[range], d)` computes (it then returns
/// `intercept + slope * d`). Times in seconds. A constant series has slope 0.
/// Uses centred sums, which give the same line as Prometheus' running sums
/// with less cancellation.
pub fn linear_regression(t: &[f64], v: &[f64], intercept_t: f64) -> Option<(f64, f64)> {
    let n = t.len().min(v.len());
    if n == 0 {
        return None;
    }
    if v[..n].iter().all(|x| *x == v[0]) {
        return Some((0.0, v[0]));
    }
    let nf = n as f64;
    let tm = t[..n].iter().sum::<f64>() / nf;
    let vm = v[..n].iter().sum::<f64>() / nf;
    let mut sxx = 0.0;
    let mut sxy = 0.0;
    for i in 0..n {
        let dx = t[i] - tm;
        sxx += dx * dx;
        sxy += dx * (v[i] - vm);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((slope, vm + slope * (intercept_t - tm)))
}

/// Prometheus `predict_linear`: the value the least-squares line of the
/// samples predicts `d_s` seconds after the evaluation time `eval_t`.
pub fn predict_linear(t: &[f64], v: &[f64], eval_t: f64, d_s: f64) -> Option<f64> {
    linear_regression(t, v, eval_t).map(|(slope, icpt)| icpt + slope * d_s)
}

/// Least squares over the last `window` points, extrapolated from the last
/// point (`predict_linear` on the grid), with OLS prediction intervals.
#[derive(Debug, Clone)]
pub struct Linear {
    pub window: usize,
    /// Empty for the standard `linear` (one day); "all" for the line through
    /// the whole history, which follows growth that comes in steps;
    /// "recent" for the last few hours, which follows growth that began
    /// lately.
    pub label: &'static str,
}

struct LinearFit {
    slope: f64,
    intercept: f64,
    s: f64,
    n: f64,
    xbar: f64,
    sxx: f64,
    t_adj: f64,
}

impl Linear {
    /// Slope per step of the fitted line and its t statistic, the residuals'
    /// autocorrelation taken into account through an effective sample size.
    pub fn trend_t(y: &[f64]) -> Option<(f64, f64)> {
        let n = y.len();
        if n < 8 {
            return None;
        }
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let (slope, icpt) = linear_regression(&x, y, 0.0)?;
        let resid: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| v - (icpt + slope * i as f64))
            .collect();
        let ss: f64 = resid.iter().map(|r| r * r).sum();
        if ss == 0.0 {
            return Some((slope, if slope == 0.0 { 0.0 } else { f64::INFINITY }));
        }
        let r1 = resid.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / ss;
        let r1 = r1.clamp(0.0, 0.999);
        let n_eff = (n as f64 * (1.0 - r1) / (1.0 + r1)).max(3.0);
        let xbar = (n as f64 - 1.0) / 2.0;
        let sxx: f64 = x.iter().map(|v| (v - xbar).powi(2)).sum();
        let s2 = ss / (n as f64 - 2.0);
        // The slope's variance grows by n / n_eff under AR(1) residuals.
        let se = (s2 / sxx * n as f64 / n_eff).sqrt();
        Some((slope, slope / se))
    }
}

impl Forecaster for Linear {
    fn name(&self) -> String {
        if self.label.is_empty() {
            "linear".into()
        } else {
            format!("linear_{}", self.label)
        }
    }
    fn min_points(&self) -> usize {
        3
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let w = self.window.clamp(3, y.len());
        let yw = &y[y.len() - w..];
        // x = 0 at the last point, so the intercept is the fitted "now".
        let x: Vec<f64> = (0..w).map(|i| i as f64 - (w - 1) as f64).collect();
        let (slope, intercept) = linear_regression(&x, yw, 0.0).ok_or(ModelError::Fit {
            model: self.name(),
            message: "degenerate window".into(),
        })?;
        let n = w as f64;
        let xbar = x.iter().sum::<f64>() / n;
        let sxx: f64 = x.iter().map(|v| (v - xbar).powi(2)).sum();
        let ss: f64 = x
            .iter()
            .zip(yw)
            .map(|(xi, yi)| (yi - intercept - slope * xi).powi(2))
            .sum();
        let s = (ss / (n - 2.0).max(1.0)).sqrt();
        // Student t instead of the normal law for short windows.
        let t_adj = stats::t_quantile(0.975, (n - 2.0).max(1.0)) / stats::z_of(0.95);
        Ok(Box::new(LinearFit {
            slope,
            intercept,
            s,
            n,
            xbar,
            sxx,
            t_adj,
        }))
    }
}

impl Fitted for LinearFit {
    fn predict(&self, h: usize) -> Prediction {
        let mean = (1..=h)
            .map(|k| self.intercept + self.slope * k as f64)
            .collect();
        let sd = (1..=h)
            .map(|k| {
                let x0 = k as f64;
                self.t_adj
                    * self.s
                    * (1.0 + 1.0 / self.n + (x0 - self.xbar).powi(2) / self.sxx).sqrt()
            })
            .collect();
        Prediction { mean, sd }
    }
}

// ------------------------------------------------------------- AutoETS

/// augurs' AutoETS without a seasonal component (`ZZN`), chosen by AICc,
/// fitted on the newest `ETS_MAX_POINTS` points: exponential smoothing
/// forgets old data anyway, and the fit costs time linear in the length.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ets;

/// The longest tail AutoETS is fitted on (alone or as MSTL's trend model).
pub const ETS_MAX_POINTS: usize = 800;

fn tail(y: &[f64], max: usize) -> &[f64] {
    &y[y.len().saturating_sub(max)..]
}

/// MSTL's trend model: AutoETS on the newest points of the deseasonalised
/// series (the in-sample fit is not needed, so it is not offered).
#[derive(Debug, Clone)]
struct TailEts {
    max_points: usize,
}

#[derive(Debug)]
struct TailEtsFit(augurs_ets::FittedAutoETS);

impl augurs_mstl::TrendModel for TailEts {
    fn name(&self) -> std::borrow::Cow<'_, str> {
        "AutoETS (tail)".into()
    }
    fn fit(
        &self,
        y: &[f64],
    ) -> Result<
        Box<dyn augurs_mstl::FittedTrendModel + Sync + Send>,
        Box<dyn std::error::Error + Send + Sync + 'static>,
    > {
        let fit = AutoETS::non_seasonal().fit(tail(y, self.max_points))?;
        Ok(Box::new(TailEtsFit(fit)))
    }
}

impl augurs_mstl::FittedTrendModel for TailEtsFit {
    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut augurs_core::Forecast,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        Ok(self.0.predict_inplace(horizon, level, forecast)?)
    }
    fn predict_in_sample_inplace(
        &self,
        _level: Option<f64>,
        _forecast: &mut augurs_core::Forecast,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        Err("in-sample predictions are not kept for the tail fit".into())
    }
    fn training_data_size(&self) -> Option<usize> {
        None
    }
}

struct AugursFit<F: Predict + Send + Sync> {
    fit: F,
    last: f64,
}

fn augurs_predict<F: Predict>(fit: &F, h: usize, last: f64) -> Prediction {
    if h == 0 {
        return Prediction::default();
    }
    let z95 = stats::z_of(0.95);
    match fit.predict(h, 0.95) {
        Ok(f) => {
            let sd = match &f.intervals {
                Some(iv) => iv
                    .lower
                    .iter()
                    .zip(&iv.upper)
                    .map(|(l, u)| ((u - l) / (2.0 * z95)).max(0.0))
                    .collect(),
                None => vec![0.0; h],
            };
            let mean: Vec<f64> = f
                .point
                .iter()
                .map(|m| if m.is_finite() { *m } else { last })
                .collect();
            let sd = sd
                .into_iter()
                .map(|s: f64| if s.is_finite() { s } else { 0.0 })
                .collect();
            Prediction { mean, sd }
        }
        Err(_) => Prediction {
            mean: vec![last; h],
            sd: vec![0.0; h],
        },
    }
}

impl<F: Predict + Send + Sync> Fitted for AugursFit<F> {
    fn predict(&self, h: usize) -> Prediction {
        augurs_predict(&self.fit, h, self.last)
    }
}

/// Scale the series to unit size before augurs sees it: its optimiser starts
/// from fixed parameter guesses and behaves best near unit scale, and byte
/// counts of 1e9 would otherwise dominate the likelihood's arithmetic.
struct Scaled<F: Fitted> {
    inner: F,
    scale: f64,
    shift: f64,
}

impl<F: Fitted> Fitted for Scaled<F> {
    fn predict(&self, h: usize) -> Prediction {
        let mut p = self.inner.predict(h);
        p.mean
            .iter_mut()
            .for_each(|m| *m = *m * self.scale + self.shift);
        p.sd.iter_mut().for_each(|s| *s *= self.scale);
        p
    }
}

fn scaling(y: &[f64]) -> (f64, f64, Vec<f64>) {
    let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len().max(1) as f64).sqrt();
    let scale = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
    // Centring also keeps AutoETS to additive forms: multiplicative errors
    // are unstable on the near-zero series capacity metrics often are.
    (scale, mean, y.iter().map(|v| (v - mean) / scale).collect())
}

impl Forecaster for Ets {
    fn name(&self) -> String {
        "ets".into()
    }
    fn min_points(&self) -> usize {
        12
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let (scale, shift, ys) = scaling(tail(y, ETS_MAX_POINTS));
        let fit = AutoETS::non_seasonal()
            .fit(&ys)
            .map_err(|e| ModelError::Fit {
                model: self.name(),
                message: e.to_string(),
            })?;
        Ok(Box::new(Scaled {
            inner: AugursFit { fit, last: 0.0 },
            scale,
            shift,
        }))
    }
}

// ---------------------------------------------------------------- MSTL

/// augurs' MSTL over the given seasons, the deseasonalised rest forecast by
/// a non-seasonal AutoETS. Seasons longer than half the series are dropped.
#[derive(Debug, Clone)]
pub struct Mstl {
    pub periods: Vec<usize>,
}

impl Mstl {
    fn usable(&self, n: usize) -> Vec<usize> {
        self.periods
            .iter()
            .copied()
            .filter(|p| *p >= 2 && 2 * p <= n)
            .collect()
    }
}

impl Forecaster for Mstl {
    fn name(&self) -> String {
        "mstl".into()
    }
    fn min_points(&self) -> usize {
        2 * self.periods.iter().copied().min().unwrap_or(2).max(2) + 2
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let periods = self.usable(y.len());
        // The decomposition needs a few seasons, not all history: two of the
        // longest, six of the shortest.
        let longest = periods.iter().copied().max().unwrap_or(2);
        let shortest = periods.iter().copied().min().unwrap_or(2);
        let y = tail(y, (2 * longest).max(6 * shortest));
        if periods.is_empty() {
            return Err(ModelError::TooShort {
                model: self.name(),
                need: self.min_points(),
                got: y.len(),
            });
        }
        let (scale, shift, ys) = scaling(y);
        let model = MSTLModel::new(
            periods,
            TailEts {
                max_points: ETS_MAX_POINTS,
            },
        );
        let fit = model.fit(&ys).map_err(|e| ModelError::Fit {
            model: self.name(),
            message: e.to_string(),
        })?;
        Ok(Box::new(Scaled {
            inner: AugursFit { fit, last: 0.0 },
            scale,
            shift,
        }))
    }
}

// --------------------------------------------------------- combination

/// The equal-weight mean of other models' forecasts; its standard deviation
/// is the mean of theirs (the members' errors are strongly correlated, so
/// averaging variances would make the band too narrow).
pub struct Combo {
    pub members: Vec<Box<dyn Forecaster>>,
    pub label: String,
}

struct ComboFit(Vec<Box<dyn Fitted>>);

impl Forecaster for Combo {
    fn name(&self) -> String {
        self.label.clone()
    }
    fn min_points(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.min_points())
            .max()
            .unwrap_or(1)
    }
    fn fit(&self, y: &[f64]) -> Result<Box<dyn Fitted>, ModelError> {
        too_short(self, y.len())?;
        let fits = self
            .members
            .iter()
            .map(|m| m.fit(y))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(ComboFit(fits)))
    }
}

impl Fitted for ComboFit {
    fn predict(&self, h: usize) -> Prediction {
        let preds: Vec<Prediction> = self.0.iter().map(|f| f.predict(h)).collect();
        combine(&preds, h)
    }
}

/// Equal-weight mean of several predictions of the same horizon.
pub fn combine(preds: &[Prediction], h: usize) -> Prediction {
    let k = preds.len().max(1) as f64;
    let mut out = Prediction {
        mean: vec![0.0; h],
        sd: vec![0.0; h],
    };
    for p in preds {
        for i in 0..h {
            out.mean[i] += p.mean.get(i).copied().unwrap_or(0.0) / k;
            out.sd[i] += p.sd.get(i).copied().unwrap_or(0.0) / k;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> Vec<f64> {
        (0..n).map(|i| 5.0 + 0.5 * i as f64).collect()
    }

    fn sine(n: usize, m: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 10.0 + 3.0 * (2.0 * std::f64::consts::PI * i as f64 / m as f64).sin())
            .collect()
    }

    fn step(n: usize) -> Vec<f64> {
        (0..n).map(|i| if i < n / 2 { 1.0 } else { 7.0 }).collect()
    }

    #[test]
    fn naive_repeats_the_last_value_of_a_step() {
        let y = step(40);
        let p = Naive.fit(&y).expect("fit").predict(5);
        assert_eq!(p.mean, vec![7.0; 5]);
        // One jump of 6 in 39 differences.
        let sigma = (36.0f64 / 39.0).sqrt();
        assert!((p.sd[3] - sigma * 2.0).abs() < 1e-12);
    }

    #[test]
    fn seasonal_naive_repeats_a_pure_sine_exactly() {
        let y = sine(100, 20);
        let p = SeasonalNaive {
            period: 20,
            label: "test",
        }
        .fit(&y)
        .expect("fit")
        .predict(30);
        let truth = sine(130, 20);
        for (k, m) in p.mean.iter().enumerate() {
            assert!((m - truth[100 + k]).abs() < 1e-9);
        }
        assert!(p.sd.iter().all(|s| s.abs() < 1e-9));
    }

    #[test]
    fn linear_extends_a_line_exactly() {
        let y = line(50);
        let p = Linear {
            window: 20,
            label: "",
        }
        .fit(&y)
        .expect("fit")
        .predict(10);
        for (k, m) in p.mean.iter().enumerate() {
            assert!((m - (5.0 + 0.5 * (50 + k) as f64)).abs() < 1e-9);
        }
    }

    #[test]
    fn linear_trend_test_sees_a_ramp_and_not_noise() {
        let (slope, t) = Linear::trend_t(&line(50)).expect("trend");
        assert!((slope - 0.5).abs() < 1e-12 && t.is_infinite());
        let flat: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64).collect();
        let (_, t) = Linear::trend_t(&flat).expect("trend");
        assert!(t.abs() < 2.0, "t = {t}");
    }

    #[test]
    fn ets_follows_a_line() {
        let y = line(60);
        let p = Ets.fit(&y).expect("fit").predict(5);
        for (k, m) in p.mean.iter().enumerate() {
            let want = 5.0 + 0.5 * (60 + k) as f64;
            assert!((m - want).abs() < 0.05 * want, "{m} vs {want}");
        }
    }

    #[test]
    fn ets_settles_on_the_new_level_of_a_step() {
        let y = step(80);
        let p = Ets.fit(&y).expect("fit").predict(3);
        assert!(p.mean.iter().all(|m| (m - 7.0).abs() < 0.1), "{:?}", p.mean);
    }

    #[test]
    fn mstl_reproduces_a_pure_sine() {
        let y = sine(200, 20);
        let p = Mstl { periods: vec![20] }.fit(&y).expect("fit").predict(20);
        let truth = sine(220, 20);
        for (k, m) in p.mean.iter().enumerate() {
            assert!((m - truth[200 + k]).abs() < 0.05, "{k}: {m}");
        }
    }

    #[test]
    fn mstl_refuses_a_series_shorter_than_two_seasons() {
        assert!(Mstl { periods: vec![50] }.fit(&sine(60, 50)).is_err());
    }

    #[test]
    fn combo_averages_members() {
        let y = step(40);
        let c = Combo {
            members: vec![
                Box::new(Naive),
                Box::new(SeasonalNaive {
                    period: 30,
                    label: "t",
                }),
            ],
            label: "c".into(),
        };
        let p = c.fit(&y).expect("fit").predict(1);
        // Naive says 7, one season (30) back is index 10, which is 1.
        assert!((p.mean[0] - 4.0).abs() < 1e-12);
    }
}
