//! The configuration file's typed schema. Every table refuses unknown keys,
//! so a typo is an error with a suggestion, never a silently ignored key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::units::{Dur, Quantity};

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub cockpit: Cockpit,
    #[serde(default, rename = "source", skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceConfig>,
    #[serde(default, rename = "domain", skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
    /// Action name → keys, such as `quit = ["q", "ctrl-c"]`. Merged over the
    /// default bindings; an action named here loses its default keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub runbooks: RunbookSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cockpit {
    /// Shown in the header.
    pub platform: String,
    /// Default poll interval of every source.
    pub refresh: Dur,
    /// How much history to backfill on start (range queries).
    pub history: Dur,
    /// IANA zone name for every time shown (`UTC`, `Europe/Berlin`).
    pub timezone: String,
    /// A theme name from `themes/` or a path to a theme file.
    pub theme: String,
    /// A sample older than this turns its trigger STALE (default: 3 × refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<Dur>,
    /// Most samples kept per series.
    pub max_samples: usize,
    /// How often a trigger's forecast is refitted at most.
    pub forecast_every: Dur,
    /// How far ahead forecasts look.
    pub horizon: Dur,
    /// Draw charts with ASCII instead of Braille.
    pub ascii: bool,
    /// Capture the mouse (off: terminal selection keeps working).
    pub mouse: bool,
}

impl Default for Cockpit {
    fn default() -> Self {
        Cockpit {
            platform: "capdeck".into(),
            refresh: Dur::secs(15),
            history: Dur::secs(14 * 86_400),
            timezone: "UTC".into(),
            theme: "default".into(),
            stale_after: None,
            max_samples: 12_000,
            forecast_every: Dur::secs(300),
            horizon: Dur::secs(30 * 86_400),
            ascii: false,
            mouse: false,
        }
    }
}

impl Cockpit {
    pub fn stale_after(&self) -> Dur {
        self.stale_after
            .unwrap_or(Dur(self.refresh.0.saturating_mul(3)))
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Prometheus,
    Json,
    Command,
    Demo,
    Replay,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Prometheus => "prometheus",
            SourceKind::Json => "json",
            SourceKind::Command => "command",
            SourceKind::Demo => "demo",
            SourceKind::Replay => "replay",
        }
    }
}

/// One place metrics come from. Which keys apply depends on `kind`; a key
/// that does not apply to the kind is refused when the config is checked.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    /// Base URL (prometheus, json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Poll interval of this source (default: cockpit.refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Dur>,
    /// Time limit of one request or command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// Name of the environment variable holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
    /// File holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    /// Basic-auth user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_password_file: Option<PathBuf>,
    /// Extra request headers (`X-Scope-OrgID` for Mimir and Cortex tenants).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// Largest response body accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response: Option<Quantity>,
    /// Retries of a failed request, with jittered exponential backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Requests of this source in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Demo: the simulator's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Replay: the recorded file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "trigger", skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

fn d_warn() -> f64 {
    0.70
}
fn d_scale() -> f64 {
    0.80
}
fn d_critical() -> f64 {
    0.95
}
fn d_hysteresis() -> f64 {
    0.05
}
fn d_top() -> usize {
    5
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// One metric of a domain with a capacity and thresholds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub id: String,
    pub title: String,
    /// The source's name (default: the first source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// PromQL for prometheus; a path below the source URL for json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// JSON Pointer (RFC 6901) to the value in a json source's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Command source: the program and its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Command source: run `command` as one `sh -c` string.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shell: bool,
    /// A fixed capacity in the metric's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Quantity>,
    /// A query whose answer is the capacity (a pool size, a quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_query: Option<String>,
    /// Unit of the value: `B` (bytes, IEC prefixes), `conn`, `req/s`, `%`…
    #[serde(default)]
    pub unit: String,
    /// Thresholds as fractions of capacity.
    #[serde(default = "d_warn")]
    pub warn: f64,
    #[serde(default = "d_scale")]
    pub scale: f64,
    #[serde(default = "d_critical")]
    pub critical: f64,
    /// A state clears only this far (fraction of capacity) below its level.
    #[serde(default = "d_hysteresis")]
    pub hysteresis: f64,
    /// Explicit clear levels, overriding `hysteresis` per state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<ClearLevels>,
    /// How long a level must hold before the state enters it.
    #[serde(default, rename = "for")]
    pub hold: Dur,
    /// How long adding capacity takes.
    #[serde(default)]
    pub lead_time: Dur,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<Dur>,
    #[serde(default)]
    pub forecast: ForecastMode,
    /// Label whose values name the rows of a query answering several series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// How many `by` rows to show (the rest are summarised).
    #[serde(default = "d_top")]
    pub top: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// Runbook id offered when this trigger breaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// Forecast results produced elsewhere, shown beside capdeck's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_forecast: Option<ExternalForecast>,
    /// How the demo simulator draws this trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo: Option<DemoProfile>,
}

/// Where a trigger's external forecast is read: a json source, a path below
/// its URL, and a JSON Pointer to a list of `{ts, value, lower, upper}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExternalForecast {
    /// A source of kind json.
    pub source: String,
    /// Path (and query string) below the source's URL.
    #[serde(default)]
    pub path: String,
    /// JSON Pointer to the list of points (default: the whole answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClearLevels {
    pub warn: Option<f64>,
    pub scale: Option<f64>,
    pub critical: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ForecastMode {
    #[default]
    Auto,
    Linear,
    Naive,
    SeasonalNaive,
    Ets,
    Mstl,
    None,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// `desired = ceil(units × utilisation / target)` (the Kubernetes HPA rule).
    TargetTracking,
    /// Add `add` units when the scale threshold is crossed.
    Step,
    /// A person acts, following `runbook` or `note`.
    Manual,
}

/// What to do at the scale threshold, and what it costs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub kind: PolicyKind,
    /// Units running now (replicas, instances, plan tiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    /// Target tracking: the utilisation to aim for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// Step: units added per step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_units: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_units: Option<u32>,
    /// What a unit is called (`read replica`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_name: Option<String>,
    /// Monthly cost of one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cost_month: Option<f64>,
    /// Manual: what to do, in a few words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Currency code shown with costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The demo simulator's drawing of one trigger, in fractions of capacity.
/// Every field is optional; what is left out is derived from the trigger's
/// id, so any configuration runs on the demo.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DemoProfile {
    /// Utilisation at the start of the demo, before cycles and noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<f64>,
    /// Growth per day (0.01: one point of capacity a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend_per_day: Option<f64>,
    /// Amplitude of the daily cycle (peak in the afternoon, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<f64>,
    /// Amplitude of the weekly cycle (weekdays busier than weekends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<f64>,
    /// Standard deviation of the noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Onboarding steps: one step of `step` this often on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_every: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Incidents: one of `incident_height` lasting `incident_length` this
    /// often on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_every: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_length: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_height: Option<f64>,
    /// The capacity the demo reports for a trigger with `capacity_query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Quantity>,
    /// Values of the trigger's `by` label, each drawn on its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<String>,
    /// Never let the value fall below zero or above this many capacities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunbookSettings {
    /// Folder of runbook files (relative paths are from the config file).
    pub dir: PathBuf,
    /// Let capdeck execute runbook commands (otherwise: copy only).
    pub allow_exec: bool,
    /// Let drills execute commands too (otherwise they are simulated).
    pub drills_execute: bool,
}

impl Default for RunbookSettings {
    fn default() -> Self {
        RunbookSettings {
            dir: PathBuf::from("runbooks"),
            allow_exec: false,
            drills_execute: false,
        }
    }
}

impl Config {
    /// Every trigger with its domain, in configuration order.
    pub fn triggers(&self) -> impl Iterator<Item = (&Domain, &Trigger)> {
        self.domains
            .iter()
            .flat_map(|d| d.triggers.iter().map(move |t| (d, t)))
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The source a trigger reads from: its own, or the first one.
    pub fn source_of(&self, t: &Trigger) -> Option<&SourceConfig> {
        match &t.source {
            Some(name) => self.source(name),
            None => self.sources.first(),
        }
    }
}

/// `domain/trigger`, the stable name of a trigger.
pub fn trigger_key(domain: &Domain, trigger: &Trigger) -> String {
    format!("{}/{}", domain.id, trigger.id)
}
