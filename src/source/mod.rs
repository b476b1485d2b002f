//! Where samples come from. A `Source` answers instant and range queries;
//! the poller runs one task per query, so a slow query never blocks another
//! nor the screen, and at most one request per query is in flight.

mod breaker;
mod command;
mod demo;
mod gap;
pub mod http;
mod json;
mod poller;
pub mod prometheus;
pub mod record;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::capacity::{capacity_query, value_query};
use crate::config::{Config, SourceKind};
use crate::series::{Labels, Sample};

pub use breaker::TRIP_AFTER;
pub use command::CommandSource;
pub use demo::DemoSource;
pub use gap::MAX_REFILL_WAIT_POLLS;
pub use json::{
    BAND_LABEL, EXTERNAL_SUFFIX, ExternalPoint, JsonSource, external_forecast,
    external_forecast_query,
};
pub use poller::{Answered, MIN_POLL_INTERVAL, Poller, Sink, SourceEvent, backfill_step_ms};
pub use prometheus::PrometheusSource;
pub use record::{Recorder, RecordingSource, ReplaySource};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One query that the poller runs against one source.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// The name its series are stored under (`database/pool`,
    /// `database/pool#capacity`, `watch:RUNBOOK/NAME`).
    pub name: Arc<str>,
    pub source: String,
    /// PromQL, a JSON path, or empty.
    pub expr: String,
    pub pointer: Option<String>,
    pub command: Vec<String>,
    pub shell: bool,
}

/// A series in an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// A source's answer to one query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub series: Vec<SeriesData>,
    /// Warnings the server sent with its answer.
    pub warnings: Vec<String>,
    /// Bytes received for it.
    pub bytes: u64,
}

/// Why a query got no answer. Each message names what failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceError {
    #[error("timed out after {0}")]
    Timeout(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("{error_type}: {error}")]
    Api { error_type: String, error: String },
    #[error("unreadable answer: {0}")]
    Decode(String),
    #[error("answer larger than the {} limit (max_response)", size_text(*limit))]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Command(String),
    /// The poller left a source that keeps failing alone for a while.
    #[error("not asked: {0}")]
    NotAsked(String),
    #[error("{0}")]
    Other(String),
}

/// `32 MiB`, `512 KiB`, `1000 bytes`: a limit as it is usually written.
fn size_text(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// A place samples come from.
pub trait Source: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> SourceKind;
    /// Each series' value at `at_ms`.
    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>>;
    /// Each series' samples from `start_ms` to `end_ms`, one every `step_ms`.
    /// A source without history (a JSON endpoint, a command) keeps this
    /// default: the backfill is one answer now, at the range's end.
    fn range<'a>(
        &'a self,
        q: &'a QuerySpec,
        _start_ms: i64,
        end_ms: i64,
        _step_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        self.instant(q, end_ms)
    }

    /// The poller gave up on a request of this source at its hard bound:
    /// `range` is the range asked for, if any. A recording notes it; other
    /// sources have nothing to do.
    fn cut_off(
        &self,
        _q: &QuerySpec,
        _at_ms: i64,
        _range: Option<(i64, i64, i64)>,
        _error: &SourceError,
    ) {
    }
}

/// Every query the configuration's triggers need: each value, and each
/// capacity that comes from a query.
pub fn trigger_queries(config: &Config) -> Vec<QuerySpec> {
    let mut out = Vec::new();
    for (d, t) in config.triggers() {
        let Some(source) = config.source_of(t) else {
            continue;
        };
        out.push(QuerySpec {
            name: value_query(d, t).into(),
            source: source.name.clone(),
            expr: t.query.clone().unwrap_or_default(),
            pointer: t.pointer.clone(),
            command: t.command.clone(),
            shell: t.shell,
        });
        if let Some(cq) = &t.capacity_query {
            out.push(QuerySpec {
                name: capacity_query(d, t).into(),
                source: source.name.clone(),
                expr: cq.clone(),
                pointer: None,
                command: Vec::new(),
                shell: false,
            });
        }
        // Under --demo the simulator has no forecasts to give; skip it there.
        if let Some(ef) = &t.external_forecast
            && config
                .source(&ef.source)
                .is_some_and(|s| matches!(s.kind, SourceKind::Json | SourceKind::Replay))
        {
            out.push(QuerySpec {
                name: external_forecast_query(d, t).into(),
                source: ef.source.clone(),
                expr: ef.path.clone(),
                pointer: ef.pointer.clone(),
                command: Vec::new(),
                shell: false,
            });
        }
    }
    out
}

/// `{a="1", b="2"}`, or empty for no labels.
pub fn labels_text(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// What building sources needs besides the configuration.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// Relative paths in source tables (CA files, token files, recordings)
    /// are taken from here: the configuration file's folder.
    pub base_dir: std::path::PathBuf,
    /// Record every exchange of every source here.
    pub recorder: Option<Arc<Recorder>>,
}

/// Builds the sources a configuration names, relative to the current folder
/// and without recording. The demo is anchored at the clock's start, so a
/// fixed clock gives a fixed screen.
pub fn build_sources(
    config: &Config,
    clock: &crate::time::Clock,
) -> Result<Vec<Arc<dyn Source>>, String> {
    build_sources_with(config, clock, &BuildOptions::default())
}

/// Builds the sources a configuration names. A source that cannot be built
/// (an unreadable CA file, a bad header, a missing recording) is an error
/// naming it.
pub fn build_sources_with(
    config: &Config,
    clock: &crate::time::Clock,
    opts: &BuildOptions,
) -> Result<Vec<Arc<dyn Source>>, String> {
    let base = if opts.base_dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        opts.base_dir.as_path()
    };
    let mut out: Vec<Arc<dyn Source>> = Vec::new();
    for s in &config.sources {
        let src: Arc<dyn Source> = match s.kind {
            SourceKind::Demo => Arc::new(DemoSource::anchored(
                config,
                &s.name,
                s.seed.unwrap_or(1),
                clock.start_ms(),
            )),
            SourceKind::Prometheus => Arc::new(PrometheusSource::new(s, base)?),
            SourceKind::Json => Arc::new(JsonSource::new(s, base)?),
            SourceKind::Command => Arc::new(CommandSource::new(s)),
            SourceKind::Replay => {
                let file = s
                    .file
                    .as_ref()
                    .ok_or_else(|| format!("source `{}` of kind replay needs `file`", s.name))?;
                let file = if file.is_absolute() {
                    file.clone()
                } else {
                    base.join(file)
                };
                Arc::new(ReplaySource::open(&s.name, &file)?)
            }
        };
        out.push(match &opts.recorder {
            // Replaying while recording would only copy the file.
            Some(rec) if s.kind != SourceKind::Replay => {
                Arc::new(RecordingSource::new(src, rec.clone()))
            }
            _ => src,
        });
    }
    Ok(out)
}
