//! What each command does, between the argument parser and the engine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::capacity::{Snapshot, evaluate};
use crate::config::{self, Loaded, Origin};
use crate::observe::Observations;
use crate::source::{Poller, build_sources, trigger_queries};
use crate::time::Clock;

/// Settings from the command line that every command shares.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub demo: bool,
    pub seed: Option<u64>,
    pub speed: f64,
    pub now_ms: Option<i64>,
    pub theme: Option<String>,
    pub ascii: bool,
    pub mouse: bool,
}

impl Options {
    pub fn clock(&self) -> Clock {
        match self.now_ms {
            Some(ms) => Clock::fixed(ms),
            None => Clock::new(None, self.speed),
        }
    }
}

/// The configuration to run: found as `config::discover` says, on the demo
/// simulator when asked or when it is the embedded example.
pub fn load(opts: &Options) -> Result<Loaded> {
    let mut loaded = config::discover(opts.config.as_deref())?;
    if opts.demo || loaded.origin == Origin::Embedded {
        loaded.config = loaded.config.with_demo(opts.seed);
    }
    if let Some(theme) = &opts.theme {
        loaded.config.cockpit.theme = theme.clone();
    }
    loaded.config.cockpit.ascii |= opts.ascii;
    loaded.config.cockpit.mouse |= opts.mouse;
    Ok(loaded)
}

pub fn effective_config_text(loaded: &Loaded) -> String {
    format!(
        "# effective configuration, from {}\n{}",
        loaded.origin,
        loaded.config.to_toml()
    )
}

pub fn config_check(file: Option<&Path>) -> Result<ExitCode> {
    let loaded = config::discover(file)?;
    let triggers = loaded.config.triggers().count();
    println!(
        "{}: ok ({} sources, {} domains, {} triggers)",
        loaded.origin,
        loaded.config.sources.len(),
        loaded.config.domains.len(),
        triggers
    );
    Ok(ExitCode::SUCCESS)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Backfills and polls every source once, then evaluates: what `report`
/// and `check` print, and what the overview shows after its backfill.
pub fn snapshot_once(loaded: &Loaded, clock: &Clock) -> Result<(Snapshot, Observations)> {
    let config = &loaded.config;
    let sources = build_sources(config).map_err(anyhow::Error::msg)?;
    let poller = Arc::new(Poller::new(config, sources));
    let queries = trigger_queries(config);
    let rt = runtime()?;
    let answers = rt.block_on(poller.collect_once(&queries, clock));
    let mut obs = Observations::new(config);
    for a in answers {
        obs.apply(a);
    }
    let health = obs.source_health();
    let forecasts = HashMap::new();
    let snap = evaluate(
        config,
        &obs.inputs(&health, Some(&forecasts)),
        clock.now_ms(),
    );
    Ok((snap, obs))
}

fn failed_sources(s: &Snapshot) -> Vec<String> {
    s.sources
        .iter()
        .filter(|h| !h.ok)
        .map(|h| {
            format!(
                "source `{}`: {}",
                h.name,
                h.last_error.as_deref().unwrap_or("failing")
            )
        })
        .collect()
}

pub fn report(opts: &Options, json: bool) -> Result<ExitCode> {
    let loaded = load(opts)?;
    let (snap, _) = snapshot_once(&loaded, &opts.clock())?;
    if json {
        println!("{}", crate::report::json(&snap));
    } else {
        print!("{}", crate::report::markdown(&snap));
    }
    let failed = failed_sources(&snap);
    for f in &failed {
        eprintln!("capdeck: {f}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn check(opts: &Options, json: bool) -> Result<ExitCode> {
    let loaded = load(opts)?;
    let (snap, _) = snapshot_once(&loaded, &opts.clock())?;
    let (lines, code) = crate::report::check_lines(&snap);
    if json {
        let rows: Vec<_> = snap
            .triggers
            .iter()
            .map(|t| {
                serde_json::json!({
                    "domain": t.domain, "id": t.id, "state": t.state,
                    "value": t.value, "capacity": t.capacity, "utilization": t.utilization,
                    "headroom": t.headroom, "age_seconds": t.age_seconds, "error": t.error,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "exit": code, "triggers": rows }));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(ExitCode::from(code as u8))
}

pub fn tui(opts: &Options) -> Result<ExitCode> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        bail!(
            "standard output is not a terminal; for a text report run `capdeck report` (or `capdeck report --format json`)"
        );
    }
    let loaded = load(opts)?;
    crate::tui::run(loaded, opts)?;
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------ runbooks

/// The configuration `runbook` commands check against: only one given
/// with `--config` (the embedded example is not assumed).
fn runbook_config(opts: &Options) -> Result<Option<Loaded>> {
    match &opts.config {
        Some(p) => Ok(Some(config::load_file(p)?)),
        None => Ok(None),
    }
}

/// The runbook folder: `--dir`, else the configuration's `runbooks.dir`.
fn runbook_dir(opts: &Options, dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    let loaded = load(opts)?;
    let d = &loaded.config.runbooks.dir;
    Ok(if d.is_absolute() {
        d.clone()
    } else {
        loaded.base_dir().join(d)
    })
}

pub fn runbook_lint(opts: &Options, paths: &[PathBuf]) -> Result<ExitCode> {
    let loaded = runbook_config(opts)?;
    let linted = crate::runbook::lint::lint_paths(paths, loaded.as_ref().map(|l| &l.config));
    let mut bad = 0;
    for l in &linted {
        for line in l.lines() {
            println!("{line}");
            bad += 1;
        }
    }
    if bad > 0 {
        eprintln!(
            "capdeck: {bad} problem{} in {} file{}",
            if bad == 1 { "" } else { "s" },
            linted.len(),
            if linted.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(1))
    } else {
        eprintln!(
            "capdeck: {} runbook file{} ok",
            linted.len(),
            if linted.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::SUCCESS)
    }
}

pub fn runbook_list(opts: &Options, dir: Option<&Path>, json: bool) -> Result<ExitCode> {
    let dir = runbook_dir(opts, dir)?;
    let loaded = load(opts)?;
    let runs = crate::runbook::catalog::scan_runs(&crate::paths::state_dir().join("runs"));
    let entries = crate::runbook::catalog::list(&dir, Some(&loaded.config), &runs)
        .with_context(|| format!("cannot read runbook folder {}", dir.display()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".into())
        );
    } else {
        print!("{}", crate::runbook::catalog::list_text(&entries));
    }
    Ok(ExitCode::SUCCESS)
}
