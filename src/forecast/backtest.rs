//! `capdeck backtest`: score every model, and the automatic choice, on
//! `timestamp,value` CSV files (the Numenta Anomaly Benchmark layout).
//!
//! Rows are taken in file order, one per step, the way the Python forecasting
//! libraries read such files: the timestamps only give the step (and with it
//! the season lengths). The last `holdout` rows are held out, every model is
//! fitted on the rest and forecasts them; `--origins K` repeats that from K
//! origins, each `horizon` rows before the next, and averages the scores.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::models::{self, Forecaster, Prediction};
use super::select::{self, AutoConfig};
use super::stats;

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Shape { file: String, message: String },
    #[error("{0}")]
    Arg(String),
}

/// Season lengths in points: detected from the step, or given.
#[derive(Debug, Clone, PartialEq)]
pub enum SeasonArg {
    Auto,
    Fixed(Vec<usize>),
}

impl std::str::FromStr for SeasonArg {
    type Err = BacktestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "auto" {
            return Ok(SeasonArg::Auto);
        }
        let v = s
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                BacktestError::Arg(format!("--season: expected auto, N or N,M, got {s:?}"))
            })?;
        if v.is_empty() || v.len() > 2 || v.contains(&0) {
            return Err(BacktestError::Arg(format!(
                "--season: expected auto, N or N,M (positive), got {s:?}"
            )));
        }
        Ok(SeasonArg::Fixed(v))
    }
}

/// How much to hold out: a share of the rows or a count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holdout {
    Percent(f64),
    Points(usize),
}

impl std::str::FromStr for Holdout {
    type Err = BacktestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BacktestError::Arg(format!("--holdout: expected 10% or a count, got {s:?}"));
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(p > 0.0 && p < 100.0) {
                return Err(bad());
            }
            Ok(Holdout::Percent(p))
        } else {
            let n: usize = s.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            Ok(Holdout::Points(n))
        }
    }
}

impl Holdout {
    /// Points held out of `n` (a percentage rounds like the Python tools do).
    pub fn points(&self, n: usize) -> usize {
        match *self {
            Holdout::Percent(p) => ((n as f64 * p / 100.0).round() as usize).max(1),
            Holdout::Points(k) => k,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub season: SeasonArg,
    pub holdout: Holdout,
    pub origins: usize,
    /// Steps forecast per origin (default: the holdout).
    pub horizon: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            season: SeasonArg::Auto,
            holdout: Holdout::Percent(10.0),
            origins: 1,
            horizon: None,
        }
    }
}

/// One model's scores on one file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub file: String,
    pub model: String,
    /// What `auto` chose (its last origin's choice), for `auto` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    pub n_train: usize,
    pub horizon: usize,
    pub origins: usize,
    pub season_length: String,
    pub mase: Option<f64>,
    pub smape: Option<f64>,
    pub coverage80: Option<f64>,
    pub coverage95: Option<f64>,
    pub msis: Option<f64>,
    pub fit_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Read a `timestamp,value` CSV: a header line, then one row per sample.
/// Timestamps are `YYYY-MM-DD HH:MM:SS` (no zone, read as UTC), RFC 3339, or
/// Unix seconds. Returns Unix ms and values in file order.
pub fn read_csv(path: &Path) -> Result<(Vec<i64>, Vec<f64>), BacktestError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| BacktestError::Io {
        file: file.clone(),
        source,
    })?;
    parse_csv(&file, &text)
}

pub fn parse_csv(file: &str, text: &str) -> Result<(Vec<i64>, Vec<f64>), BacktestError> {
    let mut t = Vec::new();
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| BacktestError::Parse {
            file: file.to_string(),
            line: i + 1,
            message,
        };
        let Some((ts, val)) = line.split_once(',') else {
            return Err(err("expected two columns: timestamp,value".into()));
        };
        let ts = ts.trim().trim_matches('"');
        let val = val.trim().trim_matches('"');
        let parsed_t = parse_time(ts);
        let parsed_v = val.parse::<f64>();
        match (parsed_t, parsed_v) {
            (Some(ms), Ok(x)) => {
                t.push(ms);
                v.push(x);
            }
            // The header line.
            _ if t.is_empty() && i == 0 => {}
            (None, _) => return Err(err(format!("unreadable timestamp {ts:?}"))),
            (_, Err(_)) => return Err(err(format!("unreadable value {val:?}"))),
        }
    }
    Ok((t, v))
}

fn parse_time(s: &str) -> Option<i64> {
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(dt.and_utc().timestamp_millis());
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(|x| (x * 1000.0) as i64)
}

/// The models the backtest scores, besides `auto`.
fn fixed_models(
    daily: Option<usize>,
    weekly: Option<usize>,
    seasons: &[usize],
) -> Vec<Box<dyn Forecaster>> {
    let mut m: Vec<Box<dyn Forecaster>> = vec![Box::new(models::Naive)];
    if let Some(d) = daily {
        m.push(Box::new(models::SeasonalNaive {
            period: d,
            label: "daily",
        }));
    }
    if let Some(w) = weekly {
        m.push(Box::new(models::SeasonalNaive {
            period: w,
            label: "weekly",
        }));
    }
    let day = daily.unwrap_or(192);
    m.push(Box::new(models::MedianLevel {
        window: day,
        label: "day",
    }));
    if let Some(d) = daily {
        m.push(Box::new(models::SeasonalProfile {
            period: d,
            cycles: 7,
            label: "daily",
        }));
    }
    m.push(Box::new(models::Linear {
        window: day,
        label: "",
    }));
    m.push(Box::new(models::Ets));
    if !seasons.is_empty() {
        m.push(Box::new(models::Mstl {
            periods: seasons.to_vec(),
        }));
    }
    m
}

#[derive(Default)]
struct Acc {
    mase: Vec<f64>,
    smape: Vec<f64>,
    c80: Vec<f64>,
    c95: Vec<f64>,
    msis: Vec<f64>,
    secs: f64,
    error: Option<String>,
    chosen: Option<String>,
}

impl Acc {
    fn add(&mut self, actual: &[f64], p: &Prediction, scale: Option<f64>) {
        let n = actual.len().min(p.mean.len());
        let (a, f) = (&actual[..n], &p.mean[..n]);
        if let Some(s) = scale {
            self.mase.push(stats::mae(a, f) / s);
        }
        self.smape.push(stats::smape(a, f));
        let (lo80, hi80) = p.bounds(0.8);
        let (lo95, hi95) = p.bounds(0.95);
        self.c80.push(stats::coverage(a, &lo80, &hi80));
        self.c95.push(stats::coverage(a, &lo95, &hi95));
        if let Some(s) = scale {
            self.msis
                .push(stats::interval_score(a, &lo95, &hi95, 0.05) / s);
        }
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Backtest one series (values in order, timestamps for the step).
pub fn backtest_series(
    name: &str,
    t_ms: &[i64],
    y: &[f64],
    opts: &Options,
) -> Result<Vec<Row>, BacktestError> {
    let n = y.len();
    let shape = |message: String| BacktestError::Shape {
        file: name.to_string(),
        message,
    };
    let hold = opts.holdout.points(n);
    let horizon = opts.horizon.unwrap_or(hold).max(1);
    let origins = opts.origins.max(1);
    // Origin j (0 = last) trains on rows before n - hold - j·horizon.
    let ends: Vec<usize> = (0..origins)
        .rev()
        .filter_map(|j| n.checked_sub(hold + j * horizon))
        .filter(|e| *e >= 10)
        .collect();
    if ends.is_empty() || hold >= n {
        return Err(shape(format!(
            "holdout {hold} and {origins} origin(s) of {horizon} leave nothing to train on ({n} rows)"
        )));
    }
    let mut ts: Vec<i64> = t_ms.to_vec();
    ts.sort_unstable();
    let mut d: Vec<i64> = ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    d.sort_unstable();
    let step = d.get(d.len() / 2).copied().unwrap_or(0);
    let (daily, weekly, given) = match &opts.season {
        SeasonArg::Auto => {
            let (d, w) = select::calendar_seasons(step);
            (d, w, None)
        }
        SeasonArg::Fixed(v) => (
            v.first().copied().filter(|m| *m > 1),
            v.get(1).copied().filter(|m| *m > 1),
            Some(v.iter().copied().filter(|m| *m > 1).collect::<Vec<_>>()),
        ),
    };
    let m_scale = daily.unwrap_or(1);
    let season_length = match (daily, weekly) {
        (Some(d), Some(w)) => format!("{d},{w}"),
        (Some(d), None) => d.to_string(),
        _ => "1".into(),
    };

    let first_end = ends[0];
    let mstl_seasons: Vec<usize> = match &given {
        Some(g) => g.clone(),
        None => [daily, weekly].into_iter().flatten().collect(),
    };
    let fixed = fixed_models(daily, weekly, &mstl_seasons);
    let mut accs: Vec<(String, Acc)> = fixed.iter().map(|m| (m.name(), Acc::default())).collect();
    accs.push(("auto".into(), Acc::default()));

    for &end in &ends {
        let train = &y[..end];
        let stop = (end + horizon).min(n);
        let actual = &y[end..stop];
        let h = actual.len();
        let scale = stats::mase_scale(train, m_scale);
        for (model, (_, acc)) in fixed.iter().zip(accs.iter_mut()) {
            let t0 = Instant::now();
            match model.fit(train) {
                Ok(f) => {
                    let p = f.predict(h);
                    acc.secs += t0.elapsed().as_secs_f64();
                    acc.add(actual, &p, scale);
                }
                Err(e) => {
                    acc.secs += t0.elapsed().as_secs_f64();
                    acc.error = Some(e.to_string());
                }
            }
        }
        let cfg = AutoConfig {
            daily,
            weekly,
            horizon: h,
            origins: select::CV_ORIGINS,
            seasons: given.clone(),
            only: None,
        };
        let t0 = Instant::now();
        let Some((_, acc)) = accs.last_mut() else {
            continue;
        };
        match select::auto(train, &cfg) {
            Ok(c) => {
                let p = c.predict(h);
                acc.secs += t0.elapsed().as_secs_f64();
                acc.add(actual, &p, scale);
                acc.chosen = Some(c.model);
            }
            Err(e) => {
                acc.secs += t0.elapsed().as_secs_f64();
                acc.error = Some(e.to_string());
            }
        }
    }

    let r = |x: Option<f64>| x.map(|v| (v * 1e6).round() / 1e6);
    Ok(accs
        .into_iter()
        .map(|(model, a)| {
            let failed = a.smape.len() < ends.len();
            Row {
                file: name.to_string(),
                chosen: a.chosen,
                model,
                n_train: first_end,
                horizon,
                origins: ends.len(),
                season_length: season_length.clone(),
                mase: if failed { None } else { r(mean(&a.mase)) },
                smape: if failed { None } else { r(mean(&a.smape)) },
                coverage80: if failed { None } else { r(mean(&a.c80)) },
                coverage95: if failed { None } else { r(mean(&a.c95)) },
                msis: if failed { None } else { r(mean(&a.msis)) },
                fit_seconds: (a.secs * 1e4).round() / 1e4,
                error: a.error,
            }
        })
        .collect())
}

/// Backtest one file.
pub fn backtest_file(path: &Path, opts: &Options) -> Result<Vec<Row>, BacktestError> {
    let (t, y) = read_csv(path)?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    backtest_series(&name, &t, &y, opts)
}

/// One row as a text line (for `--format text`).
pub fn text_header() -> String {
    format!(
        "{:<42} {:<24} {:>8} {:>8} {:>6} {:>6} {:>8} {:>7}  chosen",
        "file", "model", "mase", "smape", "cov80", "cov95", "msis", "fit_s"
    )
}

pub fn text_line(r: &Row) -> String {
    let f = |x: Option<f64>, p: usize| x.map(|v| format!("{v:.p$}")).unwrap_or_else(|| "-".into());
    format!(
        "{:<42} {:<24} {:>8} {:>8} {:>6} {:>6} {:>8} {:>7.3}  {}",
        r.file,
        r.model,
        f(r.mase, 3),
        f(r.smape, 2),
        f(r.coverage80, 2),
        f(r.coverage95, 2),
        f(r.msis, 2),
        r.fit_seconds,
        r.chosen.as_deref().or(r.error.as_deref()).unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        assert_eq!("auto".parse::<SeasonArg>().ok(), Some(SeasonArg::Auto));
        assert_eq!(
            "288,2016".parse::<SeasonArg>().ok(),
            Some(SeasonArg::Fixed(vec![288, 2016]))
        );
        assert!("0".parse::<SeasonArg>().is_err());
        assert_eq!("10%".parse::<Holdout>().ok(), Some(Holdout::Percent(10.0)));
        assert_eq!(Holdout::Percent(10.0).points(4032), 403);
        assert_eq!("50".parse::<Holdout>().ok(), Some(Holdout::Points(50)));
        assert!("0%".parse::<Holdout>().is_err());
    }

    #[test]
    fn csv_reads_nab_layout_and_reports_bad_lines() {
        let (t, v) = parse_csv(
            "x",
            "timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14 14:35:00,1\n",
        )
        .expect("parse");
        assert_eq!(t[1] - t[0], 300_000);
        assert_eq!(v, vec![0.132, 1.0]);
        let e = parse_csv("x", "timestamp,value\n2014-02-14 14:30:00,abc\n").unwrap_err();
        assert_eq!(e.to_string(), "x:2: unreadable value \"abc\"");
    }

    #[test]
    fn a_seasonal_series_scores_seasonal_naive_near_zero() {
        let n = 600;
        let t: Vec<i64> = (0..n).map(|i| i * 3_600_000).collect();
        // A daily sine with a little deterministic jitter (so the MASE
        // scale, the mean seasonal difference, is not zero).
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let jitter = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                10.0 + 3.0 * (2.0 * std::f64::consts::PI * i as f64 / 24.0).sin() + 0.05 * jitter
            })
            .collect();
        let rows = backtest_series("sine", &t, &y, &Options::default()).expect("rows");
        let get = |m: &str| {
            rows.iter()
                .find(|r| r.model == m)
                .and_then(|r| r.mase)
                .expect("mase")
        };
        assert!(get("seasonal_naive_daily") < 1.5);
        assert!(get("naive") > 10.0 * get("seasonal_naive_daily"));
        assert!(get("auto") < 1.5, "{rows:?}");
        assert_eq!(rows[0].horizon, 60);
        assert_eq!(rows[0].season_length, "24,168");
    }
}
