//! capdeck: a terminal capacity cockpit.
//!
//! The engine (`config`, `source`, `series`, `forecast`, `capacity`,
//! `runbook`) knows nothing of the terminal; `tui` and `report` are two faces
//! of the same snapshot.

pub mod capacity;
pub mod cli;
pub mod config;
pub mod forecast;
pub mod logging;
pub mod observe;
pub mod paths;
pub mod report;
pub mod runbook;
pub mod series;
pub mod source;
pub mod time;
pub mod tui;
pub mod units;
