//! The snapshot: everything the overview shows, as plain data. It is what
//! `capdeck report --format json` prints; field names are stable.

use serde::Serialize;

use crate::forecast::TriggerForecast;

/// A trigger's state. Ordered from best to worst for sorting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Warn,
    Scale,
    Critical,
    /// The newest sample is older than `stale_after`: not known to be healthy.
    Stale,
    /// No sample, or no capacity, so no utilisation.
    Unknown,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warn => "WARN",
            State::Scale => "SCALE",
            State::Critical => "CRIT",
            State::Stale => "STALE",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The word in at most five letters, for a table's state column.
    pub fn short(self) -> &'static str {
        match self {
            State::Unknown => "UNKN",
            s => s.word(),
        }
    }

    /// A glyph that tells the state without colour.
    pub fn glyph(self, ascii: bool) -> &'static str {
        match (self, ascii) {
            (State::Ok, false) => "●",
            (State::Warn, false) => "▲",
            (State::Scale, false) => "◆",
            (State::Critical, false) => "✖",
            (State::Stale, false) => "◌",
            (State::Unknown, false) => "?",
            (State::Ok, true) => "o",
            (State::Warn, true) => "!",
            (State::Scale, true) => "^",
            (State::Critical, true) => "X",
            (State::Stale, true) => "~",
            (State::Unknown, true) => "?",
        }
    }

    /// Nagios-style exit code for `capdeck check`.
    pub fn exit_code(self) -> i32 {
        match self {
            State::Ok => 0,
            State::Warn => 1,
            State::Scale | State::Critical => 2,
            State::Stale | State::Unknown => 3,
        }
    }

    pub fn is_breach(self) -> bool {
        matches!(self, State::Scale | State::Critical)
    }
}

/// The thresholds of a trigger, as fractions of capacity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub warn: f64,
    pub scale: f64,
    pub critical: f64,
}

/// What the policy says now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyOutcome {
    pub kind: String,
    /// The scaling step, in words (`add 1 read replica (2 → 3)`).
    pub action: String,
    /// Whether the step is due now (state scale or critical, or urgent).
    pub due: bool,
    pub units_now: Option<u32>,
    pub units_after: Option<u32>,
    pub cost_month_now: Option<f64>,
    pub cost_month_after: Option<f64>,
    pub currency: String,
}

/// One series of a trigger whose query answers several (`by` rows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The value of the `by` label (or `other (N)` for the summary row).
    pub label: String,
    pub value: Option<f64>,
    pub capacity: Option<f64>,
    pub utilization: Option<f64>,
    pub headroom: Option<f64>,
    pub headroom_pct: Option<f64>,
    pub state: State,
    pub age_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerStatus {
    pub domain: String,
    pub domain_title: String,
    pub id: String,
    pub title: String,
    pub unit: String,
    pub source: String,
    /// The newest value (the largest row's value for `by` triggers).
    pub value: Option<f64>,
    pub capacity: Option<f64>,
    /// value / capacity.
    pub utilization: Option<f64>,
    /// capacity × scale − value, in the unit.
    pub headroom: Option<f64>,
    /// headroom as a share of capacity (scale − utilization).
    pub headroom_pct: Option<f64>,
    pub state: State,
    /// A worse state whose threshold is crossed but whose `for` has not held yet.
    pub pending: Option<State>,
    /// Age of the newest sample, in seconds.
    pub age_seconds: Option<f64>,
    pub thresholds: Thresholds,
    pub lead_time_seconds: f64,
    /// The forecast's p10 time to breach falls inside the lead time.
    pub urgent: bool,
    pub forecast: Option<TriggerForecast>,
    /// A forecast made elsewhere (`external_forecast`), shown beside ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalForecastStatus>,
    pub policy: Option<PolicyOutcome>,
    pub runbook: Option<String>,
    /// Why there is no value: the source's last error for this query.
    pub error: Option<String>,
    /// What the server warned about with its last answer (Prometheus `warnings`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<Row>,
}

impl TriggerStatus {
    pub fn key(&self) -> String {
        format!("{}/{}", self.domain, self.id)
    }
}

/// A trigger's external forecast as the snapshot carries it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalForecastStatus {
    /// The json source it is read from.
    pub source: String,
    /// Its points from now on, oldest first, at most [`EXTERNAL_POINTS_MAX`].
    pub points: Vec<crate::source::ExternalPoint>,
    /// When its value first reaches the scale threshold (Unix ms).
    pub breach_at: Option<i64>,
    /// When its upper bound first does: the pessimistic end of its band.
    pub breach_upper_at: Option<i64>,
    /// Why there are no points: the source's last error for it.
    pub error: Option<String>,
}

/// Points of an external forecast kept in the snapshot: a chart is at most
/// a few hundred cells wide.
pub const EXTERNAL_POINTS_MAX: usize = 400;

/// How a source is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceHealth {
    pub name: String,
    pub kind: String,
    pub ok: bool,
    /// Unix milliseconds of the last successful answer.
    pub last_success: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// Unix milliseconds of the first failure since the last answer, while
    /// the source is down.
    pub down_since: Option<i64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub bytes_received: u64,
    pub requests: u64,
    pub failures: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainSummary {
    pub id: String,
    pub title: String,
    /// The worst state among its triggers.
    pub state: State,
    pub triggers: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub platform: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub timezone: String,
    pub domains: Vec<DomainSummary>,
    /// Sorted by least headroom first (unknown and stale last).
    pub triggers: Vec<TriggerStatus>,
    pub sources: Vec<SourceHealth>,
}

impl Snapshot {
    pub fn worst_state(&self) -> State {
        self.triggers
            .iter()
            .map(|t| t.state)
            .max()
            .unwrap_or(State::Unknown)
    }

    pub fn trigger(&self, key: &str) -> Option<&TriggerStatus> {
        self.triggers.iter().find(|t| t.key() == key)
    }
}
