//! Shared helpers of the integration tests: running the real binary with a
//! temporary configuration, a real Prometheus, and a misbehaving HTTP server.

#![allow(dead_code)]

pub mod faults;
pub mod prometheus;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The instant every test evaluates at: the newest written sample.
pub const NOW: &str = "2026-11-30T12:00:00Z";
pub const NOW_S: i64 = 1_796_040_000;

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e})\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// Neither stream mentions a panic.
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
    }
}

/// Longest a single run of the binary may take before the test fails: a
/// safety bound against hangs, far above what any run needs.
const RUN_BOUND: Duration = Duration::from_secs(60);

/// Runs `capdeck ARGS…` and waits, killing it past `RUN_BOUND`.
pub fn capdeck(args: &[&str], dir: &Path) -> Run {
    capdeck_env(args, dir, &[])
}

/// `capdeck` with extra environment variables.
pub fn capdeck_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capdeck"))
        .args(args)
        .current_dir(dir)
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the capdeck binary");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("cannot wait for capdeck") {
            Some(_) => break,
            None if started.elapsed() > RUN_BOUND => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "capdeck {args:?} did not exit within {RUN_BOUND:?}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child
        .wait_with_output()
        .expect("cannot read capdeck's output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary folder holding `capdeck.toml` with `config`.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(config: &str) -> Workdir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("capdeck.toml"), config).expect("write config");
        Workdir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `capdeck --config capdeck.toml --now NOW ARGS… report --format json`.
    pub fn report(&self, extra: &[&str]) -> Run {
        let mut args = vec!["--config", "capdeck.toml", "--now", NOW];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["report", "--format", "json"]);
        capdeck(&args, self.path())
    }
}

/// The trigger `key` (`domain/id`) of a report.
pub fn trigger<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["triggers"]
        .as_array()
        .and_then(|ts| {
            ts.iter().find(|t| {
                format!(
                    "{}/{}",
                    t["domain"].as_str().unwrap_or(""),
                    t["id"].as_str().unwrap_or("")
                ) == key
            })
        })
        .unwrap_or_else(|| panic!("no trigger {key} in {report}"))
}

/// The source `name` of a report.
pub fn source<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no source {name} in {report}"))
}

pub fn approx(v: &serde_json::Value, want: f64) -> bool {
    v.as_f64()
        .is_some_and(|x| (x - want).abs() <= 1e-9 * want.abs().max(1.0))
}

/// The poller of a configuration running in this process, as the cockpit
/// runs it, with every answer kept for the test to read.
pub struct Polling {
    pub answers: std::sync::Arc<std::sync::Mutex<Vec<capdeck::source::Answered>>>,
    cancel: tokio_util::sync::CancellationToken,
    _rt: tokio::runtime::Runtime,
}

impl Polling {
    /// Polls the queries of `config_file` whose names `keep` accepts, on a
    /// clock standing at NOW.
    pub fn start(config_file: &Path, keep: impl Fn(&str) -> bool) -> Polling {
        use capdeck::source::{Poller, Sink, SourceEvent, build_sources, trigger_queries};
        use std::sync::{Arc, Mutex};
        let loaded = capdeck::config::load_file(config_file).expect("config");
        let clock = capdeck::time::Clock::fixed(NOW_S * 1000);
        let sources = build_sources(&loaded.config, &clock).expect("sources");
        let poller = Arc::new(Poller::new(&loaded.config, sources));
        let queries: Vec<_> = trigger_queries(&loaded.config)
            .into_iter()
            .filter(|q| keep(&q.name))
            .collect();
        let answers: Arc<Mutex<Vec<capdeck::source::Answered>>> = Arc::default();
        let seen = answers.clone();
        let sink: Sink = Arc::new(move |SourceEvent::Answered(a)| {
            if let Ok(mut v) = seen.lock() {
                v.push(a);
            }
        });
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let cancel = tokio_util::sync::CancellationToken::new();
        {
            let _inside = rt.enter();
            poller.spawn(queries, clock, sink, cancel.clone());
        }
        Polling {
            answers,
            cancel,
            _rt: rt,
        }
    }

    /// Waits until `done` holds for the answers so far, at most `limit`.
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&[capdeck::source::Answered]) -> bool,
    ) {
        let started = Instant::now();
        loop {
            let answers = self.answers.lock().expect("answers");
            if done(&answers) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "no {what} within {limit:?}: {:?}",
                answers
                    .iter()
                    .map(|a| (a.backfill, a.refill, a.result.as_ref().err()))
                    .collect::<Vec<_>>()
            );
            drop(answers);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops polling; the answers stay readable.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}
