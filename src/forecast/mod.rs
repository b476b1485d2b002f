//! Forecasts and time to breach.
//!
//! This module's public result types are what the capacity snapshot carries;
//! the models, selection and simulation live in the submodules.

use serde::Serialize;

pub mod backtest;
pub mod breach;
pub mod models;
pub mod prep;
pub mod schedule;
pub mod select;
pub mod stats;

mod trigger;

pub use models::{Fitted, Forecaster, Prediction};
pub use schedule::Scheduler;

/// However fast the clock runs (`--speed`), one trigger is refitted at most
/// this often in real time.
pub const MIN_REFIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
pub use trigger::{ForecastRequest, forecast_trigger};

/// One forecast step: the point forecast and its 80 % and 95 % intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastPoint {
    /// Unix milliseconds.
    pub t: i64,
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    pub lo95: f64,
    pub hi95: f64,
}

/// When the scale threshold will be crossed, as the forecast sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Breach {
    /// The value is at or above the threshold now.
    Breached,
    /// A sustained crossing is forecast: seconds from now at p10, p50, p90
    /// (p90 absent when fewer than 90 % of paths cross within the horizon).
    Forecast {
        p10_s: f64,
        p50_s: f64,
        p90_s: Option<f64>,
        /// Share of simulated paths that cross within the lead time.
        prob_within_lead: f64,
    },
    /// The point forecast stays below the threshold over the horizon.
    NoBreachWithinHorizon { prob_within_horizon: f64 },
    /// No significant trend: the series is flat or seasonal around a level.
    NotTrending,
    /// Too little history to fit anything.
    InsufficientData,
}

/// A trigger's fitted forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerForecast {
    /// The model that was chosen (`linear`, `seasonal_naive_weekly`, …).
    pub model: String,
    /// Its rolling-origin MASE on recent history, when it was scored.
    pub mase: Option<f64>,
    pub breach: Breach,
    /// Unix milliseconds of the fit.
    pub fitted_at: i64,
    #[serde(skip)]
    pub points: Vec<ForecastPoint>,
    /// The simulated paths' crossing times, kept so that the scheduler can
    /// re-express the breach relative to a later "now" without refitting.
    #[serde(skip)]
    pub crossings: Crossings,
    /// Whether the recent trend was significant at the fit.
    #[serde(skip)]
    pub trending: bool,
}

/// Absolute crossing times of the simulated paths of one fit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Crossings {
    /// Unix ms at which each crossing path first crossed, sorted; paths that
    /// never crossed within the horizon are absent.
    pub at_ms: Vec<i64>,
    /// How many paths were simulated.
    pub paths: usize,
    /// Unix ms of the point forecast's crossing.
    pub point_ms: Option<i64>,
    pub lead_ms: i64,
    /// Unix ms of the last forecast step.
    pub horizon_end_ms: i64,
}
