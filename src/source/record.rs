//! Record and replay. `--record FILE` writes every request a source is asked
//! and its answer (or error), with timestamps, as gzip-compressed JSON lines;
//! `--replay FILE` answers every query from such a file with no network.
//!
//! Each line is its own gzip member, so a file cut short by a crash or a
//! dropped SSH session is readable up to its last whole line.
//!
//! A line: `{"wall_ms", "source", "query", "expr", "kind": "instant"|"range",
//! "at_ms", "start_ms", "end_ms", "step_ms", "latency_ms", "answer" | "error"}`;
//! samples are `[t_ms, "value"]` so NaN and ±Inf survive JSON.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::config::SourceKind;
use crate::series::{Labels, Sample};

use super::{Answer, BoxFuture, QuerySpec, SeriesData, Source, SourceError};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RecSeries {
    labels: Labels,
    /// `[t_ms, "value"]`.
    samples: Vec<(i64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RecAnswer {
    series: Vec<RecSeries>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    bytes: u64,
}

impl RecAnswer {
    fn from_answer(a: &Answer) -> RecAnswer {
        RecAnswer {
            series: a
                .series
                .iter()
                .map(|s| RecSeries {
                    labels: s.labels.clone(),
                    samples: s.samples.iter().map(|x| (x.t, x.v.to_string())).collect(),
                })
                .collect(),
            warnings: a.warnings.clone(),
            bytes: a.bytes,
        }
    }

    fn to_answer(&self) -> Answer {
        Answer {
            series: self
                .series
                .iter()
                .map(|s| SeriesData {
                    labels: s.labels.clone(),
                    samples: s
                        .samples
                        .iter()
                        .map(|(t, v)| Sample::new(*t, v.parse().unwrap_or(f64::NAN)))
                        .collect(),
                })
                .collect(),
            warnings: self.warnings.clone(),
            bytes: self.bytes,
        }
    }
}

/// One recorded exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    pub wall_ms: i64,
    pub source: String,
    pub query: String,
    pub expr: String,
    /// `instant` or `range`.
    pub kind: String,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ms: Option<i64>,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<RecAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<SourceError>,
}

impl Exchange {
    pub fn result(&self) -> Result<Answer, SourceError> {
        match (&self.answer, &self.error) {
            (Some(a), _) => Ok(a.to_answer()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(SourceError::Other("recorded without an answer".into())),
        }
    }
}

/// An exchange on its way to the file; its answer is converted to the
/// recorded form on the writer thread, not on the poll task.
struct Pending {
    exchange: Exchange,
    answer: Option<Answer>,
}

/// Writes exchanges to a recording file from a thread of its own, so
/// serialising and compressing a large backfill never holds up a poll.
pub struct Recorder {
    path: PathBuf,
    tx: Mutex<Option<std::sync::mpsc::Sender<Pending>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    failed: Arc<Mutex<Option<String>>>,
}

/// One gzip member holding one JSON line.
fn pack(x: &Exchange) -> std::io::Result<Vec<u8>> {
    let line = serde_json::to_vec(x).map_err(std::io::Error::other)?;
    let mut member = GzEncoder::new(
        Vec::with_capacity(line.len() / 4 + 64),
        Compression::default(),
    );
    member.write_all(&line)?;
    member.write_all(b"\n")?;
    member.finish()
}

impl Recorder {
    /// Creates (or truncates) `path` and starts the writer.
    pub fn create(path: &Path) -> Result<Recorder, String> {
        let mut file = File::create(path)
            .map_err(|e| format!("cannot create the recording {}: {e}", path.display()))?;
        let (tx, rx) = std::sync::mpsc::channel::<Pending>();
        let failed = Arc::new(Mutex::new(None));
        let fail = failed.clone();
        let shown = path.display().to_string();
        let worker = std::thread::Builder::new()
            .name("capdeck-record".into())
            .spawn(move || {
                let mut ok = true;
                for mut p in rx {
                    if !ok {
                        continue;
                    }
                    p.exchange.answer = p.answer.as_ref().map(RecAnswer::from_answer);
                    if let Err(e) = pack(&p.exchange).and_then(|b| file.write_all(&b)) {
                        if let Ok(mut f) = fail.lock() {
                            *f = Some(format!("recording {shown}: {e}"));
                        }
                        ok = false;
                    }
                }
                let _ = file.sync_data();
            })
            .map_err(|e| format!("cannot start the recorder: {e}"))?;
        Ok(Recorder {
            path: path.to_path_buf(),
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
            failed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write error, if any: recording stops at it, polling goes
    /// on. Complete only after `finish`.
    pub fn error(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }

    /// Writes what is queued and stops; later exchanges are not recorded.
    pub fn finish(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(w) = self.worker.lock().ok().and_then(|mut w| w.take()) {
            let _ = w.join();
        }
    }

    fn send(&self, exchange: Exchange, answer: Option<Answer>) {
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send(Pending { exchange, answer });
        }
    }

    #[cfg(test)]
    fn write(&self, x: &Exchange) {
        self.send(x.clone(), None);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A source that records what another answers.
pub struct RecordingSource {
    inner: Arc<dyn Source>,
    rec: Arc<Recorder>,
}

impl RecordingSource {
    pub fn new(inner: Arc<dyn Source>, rec: Arc<Recorder>) -> RecordingSource {
        RecordingSource { inner, rec }
    }

    fn log(
        &self,
        q: &QuerySpec,
        range: Option<(i64, i64, i64)>,
        at_ms: i64,
        started: Instant,
        r: &Result<Answer, SourceError>,
    ) {
        let (answer, error) = match r {
            Ok(a) => (Some(a.clone()), None),
            Err(e) => (None, Some(e.clone())),
        };
        self.rec.send(
            Exchange {
                wall_ms: crate::time::now_ms(),
                source: self.inner.name().to_string(),
                query: q.name.to_string(),
                expr: q.expr.clone(),
                kind: if range.is_some() { "range" } else { "instant" }.into(),
                at_ms,
                start_ms: range.map(|r| r.0),
                end_ms: range.map(|r| r.1),
                step_ms: range.map(|r| r.2),
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                answer: None,
                error,
            },
            answer,
        );
    }
}

impl Source for RecordingSource {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> SourceKind {
        self.inner.kind()
    }

    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move {
            let started = Instant::now();
            let r = self.inner.instant(q, at_ms).await;
            self.log(q, None, at_ms, started, &r);
            r
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a QuerySpec,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move {
            let started = Instant::now();
            let r = self.inner.range(q, start_ms, end_ms, step_ms).await;
            self.log(q, Some((start_ms, end_ms, step_ms)), end_ms, started, &r);
            r
        })
    }

    /// So that a replay shows the same gap the session saw.
    fn cut_off(
        &self,
        q: &QuerySpec,
        at_ms: i64,
        range: Option<(i64, i64, i64)>,
        error: &SourceError,
    ) {
        self.inner.cut_off(q, at_ms, range, error);
        self.log(q, range, at_ms, Instant::now(), &Err(error.clone()));
    }
}

/// Every exchange of a recording, in file order. A torn last member (the
/// recorder was killed mid-write) ends the reading without an error.
pub fn read_recording(path: &Path) -> Result<Vec<Exchange>, String> {
    let file = File::open(path)
        .map_err(|e| format!("cannot open the recording {}: {e}", path.display()))?;
    let reader = BufReader::new(MultiGzDecoder::new(BufReader::new(file)));
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let Ok(line) = line else {
            break;
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Exchange>(&line) {
            Ok(x) => out.push(x),
            Err(e) => {
                return Err(format!(
                    "{}: line {}: not a capdeck recording ({e})",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// The first instant a recording asked about: where a replay's clock starts.
pub fn recording_start(path: &Path) -> Result<Option<i64>, String> {
    Ok(read_recording(path)?.iter().map(|x| x.at_ms).min())
}

/// Answers queries from a recording, never from the network.
pub struct ReplaySource {
    name: String,
    /// (source, query) → instant exchanges by `at_ms`, and range exchanges.
    instants: HashMap<(String, String), Vec<Exchange>>,
    ranges: HashMap<(String, String), Vec<Exchange>>,
    file: PathBuf,
}

impl ReplaySource {
    /// Replays what source `name` answered in `file`.
    pub fn open(name: &str, file: &Path) -> Result<ReplaySource, String> {
        let all = read_recording(file)?;
        Ok(Self::from_exchanges(name, file, all))
    }

    pub fn from_exchanges(name: &str, file: &Path, all: Vec<Exchange>) -> ReplaySource {
        let mut instants: HashMap<(String, String), Vec<Exchange>> = HashMap::new();
        let mut ranges: HashMap<(String, String), Vec<Exchange>> = HashMap::new();
        for x in all.into_iter().filter(|x| x.source == name) {
            let key = (x.source.clone(), x.query.clone());
            match x.kind.as_str() {
                "range" => ranges.entry(key).or_default().push(x),
                _ => instants.entry(key).or_default().push(x),
            }
        }
        for v in instants.values_mut().chain(ranges.values_mut()) {
            v.sort_by_key(|x| x.at_ms);
        }
        ReplaySource {
            name: name.to_string(),
            instants,
            ranges,
            file: file.to_path_buf(),
        }
    }

    /// The last exchange at or before `at_ms`, else the first one.
    fn pick<'a>(
        &'a self,
        map: &'a HashMap<(String, String), Vec<Exchange>>,
        q: &QuerySpec,
        at_ms: i64,
    ) -> Result<&'a Exchange, SourceError> {
        let list = map
            .get(&(self.name.clone(), q.name.to_string()))
            .filter(|l| !l.is_empty())
            .ok_or_else(|| {
                SourceError::Other(format!(
                    "the recording {} has no answer for `{}` from source `{}`",
                    self.file.display(),
                    q.name,
                    self.name
                ))
            })?;
        let idx = list.partition_point(|x| x.at_ms <= at_ms);
        Ok(&list[idx.saturating_sub(1)])
    }
}

impl Source for ReplaySource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Replay
    }

    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move { self.pick(&self.instants, q, at_ms)?.result() })
    }

    fn range<'a>(
        &'a self,
        q: &'a QuerySpec,
        _start_ms: i64,
        end_ms: i64,
        _step_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move {
            match self.pick(&self.ranges, q, end_ms) {
                Ok(x) => x.result(),
                // A recording started mid-session has no backfill: use its
                // first instant answer.
                Err(e) => match self.pick(&self.instants, q, end_ms) {
                    Ok(x) => x.result(),
                    Err(_) => Err(e),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str) -> QuerySpec {
        QuerySpec {
            name: name.into(),
            source: "prom".into(),
            expr: "up".into(),
            pointer: None,
            command: Vec::new(),
            shell: false,
        }
    }

    struct Fixed;
    impl Source for Fixed {
        fn name(&self) -> &str {
            "prom"
        }
        fn kind(&self) -> SourceKind {
            SourceKind::Prometheus
        }
        fn instant<'a>(
            &'a self,
            q: &'a QuerySpec,
            at: i64,
        ) -> BoxFuture<'a, Result<Answer, SourceError>> {
            Box::pin(async move {
                if &*q.name == "bad" {
                    return Err(SourceError::Api {
                        error_type: "bad_data".into(),
                        error: "nope".into(),
                    });
                }
                Ok(Answer {
                    series: vec![SeriesData {
                        labels: [("tenant".to_string(), "a".to_string())].into(),
                        samples: vec![
                            Sample::new(at, at as f64),
                            Sample::new(at + 1, f64::NAN),
                            Sample::new(at + 2, f64::NEG_INFINITY),
                        ],
                    }],
                    warnings: vec!["w".into()],
                    bytes: 7,
                })
            })
        }
        fn range<'a>(
            &'a self,
            q: &'a QuerySpec,
            _s: i64,
            e: i64,
            _st: i64,
        ) -> BoxFuture<'a, Result<Answer, SourceError>> {
            self.instant(q, e)
        }
    }

    #[test]
    fn a_recording_replays_answers_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.capdeck");
        let rec = Arc::new(Recorder::create(&path).unwrap());
        let src = RecordingSource::new(Arc::new(Fixed), rec.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (a, b, c) = rt.block_on(async {
            (
                src.instant(&q("d/t"), 1000).await,
                src.instant(&q("d/t"), 2000).await,
                src.instant(&q("bad"), 1000).await,
            )
        });
        drop(src);
        rec.finish();
        let replay = ReplaySource::open("prom", &path).unwrap();
        let (ra, rb, rc, none) = rt.block_on(async {
            (
                replay.instant(&q("d/t"), 1500).await,
                replay.instant(&q("d/t"), 9000).await,
                replay.instant(&q("bad"), 0).await,
                replay.instant(&q("other"), 0).await,
            )
        });
        let same = |x: &Answer, y: &Answer| {
            x.series[0].labels == y.series[0].labels
                && x.series[0]
                    .samples
                    .iter()
                    .zip(&y.series[0].samples)
                    .all(|(p, q)| p.t == q.t && (p.v == q.v || (p.v.is_nan() && q.v.is_nan())))
                && x.warnings == y.warnings
        };
        assert!(same(&a.unwrap(), &ra.unwrap()));
        assert!(same(&b.unwrap(), &rb.unwrap()));
        assert_eq!(c.unwrap_err(), rc.unwrap_err());
        assert!(
            none.unwrap_err()
                .to_string()
                .contains("no answer for `other`")
        );
        assert_eq!(recording_start(&path).unwrap(), Some(1000));
    }

    #[test]
    fn a_request_the_poller_cut_off_replays_as_that_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.capdeck");
        let rec = Arc::new(Recorder::create(&path).unwrap());
        let src = RecordingSource::new(Arc::new(Fixed), rec.clone());
        let cut =
            SourceError::Timeout("3.0s: the poller's bound; the source had not answered".into());
        src.cut_off(&q("d/t"), 1000, Some((0, 1000, 100)), &cut);
        drop(src);
        rec.finish();
        let replay = ReplaySource::open("prom", &path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = rt.block_on(replay.range(&q("d/t"), 0, 1000, 100));
        assert_eq!(got.unwrap_err(), cut);
    }

    #[test]
    fn a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.capdeck");
        let rec = Recorder::create(&path).unwrap();
        let x = Exchange {
            wall_ms: 1,
            source: "prom".into(),
            query: "d/t".into(),
            expr: "up".into(),
            kind: "instant".into(),
            at_ms: 5,
            start_ms: None,
            end_ms: None,
            step_ms: None,
            latency_ms: 1.0,
            answer: Some(RecAnswer {
                series: vec![],
                warnings: vec![],
                bytes: 0,
            }),
            error: None,
        };
        rec.write(&x);
        rec.write(&x);
        drop(rec);
        let bytes = std::fs::read(&path).unwrap();
        // Cut the second member in the middle of its compressed data.
        std::fs::write(&path, &bytes[..bytes.len() * 3 / 4]).unwrap();
        assert_eq!(read_recording(&path).unwrap().len(), 1);
    }
}
