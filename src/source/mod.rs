//! Where samples come from. A `Source` answers instant and range queries;
//! the poller runs one task per query, so a slow query never blocks another
//! nor the screen, and at most one request per query is in flight.

mod demo;
mod poller;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::capacity::{capacity_query, value_query};
use crate::config::{Config, SourceKind};
use crate::series::{Labels, Sample};

pub use demo::DemoSource;
pub use poller::{Answered, Poller, Sink, SourceEvent, backfill_step_ms};

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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    #[error("answer larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Command(String),
    #[error("{0}")]
    Other(String),
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
    fn range<'a>(
        &'a self,
        q: &'a QuerySpec,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>>;
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

/// Builds the sources a configuration names. Kinds whose client this build
/// does not have yet are reported, not silently replaced. The demo is
/// anchored at the clock's start, so a fixed clock gives a fixed screen.
pub fn build_sources(
    config: &Config,
    clock: &crate::time::Clock,
) -> Result<Vec<Arc<dyn Source>>, String> {
    let mut out: Vec<Arc<dyn Source>> = Vec::new();
    for s in &config.sources {
        match s.kind {
            SourceKind::Demo => out.push(Arc::new(DemoSource::anchored(
                config,
                &s.name,
                s.seed.unwrap_or(1),
                clock.start_ms(),
            ))),
            other => {
                return Err(format!(
                    "source `{}`: kind {} is not available in this build; run with --demo to use the simulator",
                    s.name,
                    other.name()
                ));
            }
        }
    }
    Ok(out)
}
