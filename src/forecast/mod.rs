//! Forecasts and time to breach.
//!
//! This module's public result types are what the capacity snapshot carries;
//! the models, selection and simulation live in the submodules.

use serde::Serialize;

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
}
