//! What each command does, between the argument parser and the engine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::capacity::{Snapshot, evaluate};
use crate::config::{self, Loaded, Origin};
use crate::observe::Observations;
use crate::source::{BuildOptions, Poller, Recorder, Source, build_sources_with, trigger_queries};
use crate::time::Clock;

/// Settings from the command line that every command shares.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub demo: bool,
    pub seed: Option<u64>,
    /// `--speed`; `None` is real time (or a still clock with `--now`).
    pub speed: Option<f64>,
    pub now_ms: Option<i64>,
    pub theme: Option<String>,
    pub ascii: bool,
    pub mouse: bool,
    /// Record every request and answer of every source to this file.
    pub record: Option<PathBuf>,
    /// Answer every query from this recording instead of the network.
    pub replay: Option<PathBuf>,
}

impl Options {
    /// `--now` alone stands the clock still; with `--speed` it is where
    /// the clock starts. A replay without `--now` starts where its
    /// recording started. `--speed` runs the clock that many times faster.
    pub fn clock(&self) -> Clock {
        let speed = self.speed.unwrap_or(1.0);
        match (self.now_ms, &self.replay, self.speed) {
            (Some(ms), _, None) => Clock::fixed(ms),
            (Some(ms), _, Some(_)) => Clock::new(Some(ms), speed),
            (None, Some(file), _) => {
                let start = crate::source::record::recording_start(file).ok().flatten();
                Clock::new(start, speed)
            }
            (None, None, _) => Clock::new(None, speed),
        }
    }
}

/// The configuration to run: found as `config::discover` says, on the demo
/// simulator when asked or when it is the embedded example.
pub fn load(opts: &Options) -> Result<Loaded> {
    let mut loaded = config::discover(opts.config.as_deref())?;
    if let Some(file) = &opts.replay {
        // From the current folder, not the config's, as typed.
        let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        loaded.config = loaded.config.with_replay(&file);
    } else if opts.demo || loaded.origin == Origin::Embedded {
        loaded.config = loaded.config.with_demo(opts.seed);
    }
    if let Some(theme) = &opts.theme {
        loaded.config.cockpit.theme = theme.clone();
    }
    loaded.config.cockpit.ascii |= opts.ascii;
    loaded.config.cockpit.mouse |= opts.mouse;
    if let Some(speed) = opts.speed {
        let floors = config::RealTimeFloors {
            poll: crate::source::MIN_POLL_INTERVAL,
            refit: crate::forecast::MIN_REFIT_INTERVAL,
        };
        loaded.config = loaded.config.for_clock_speed(speed, floors);
    }
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

pub type Sources = Vec<Arc<dyn Source>>;

/// The sources of a loaded configuration, recording to `opts.record` when
/// asked (the recorder is returned so its write errors can be shown).
pub fn sources_for(
    loaded: &Loaded,
    opts: &Options,
    clock: &Clock,
) -> Result<(Sources, Option<Arc<Recorder>>)> {
    let recorder = opts
        .record
        .as_deref()
        .map(Recorder::create)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .map(Arc::new);
    let build = BuildOptions {
        base_dir: loaded.base_dir(),
        recorder: recorder.clone(),
    };
    let sources = build_sources_with(&loaded.config, clock, &build).map_err(anyhow::Error::msg)?;
    Ok((sources, recorder))
}

/// Backfills and polls every source once, then evaluates: what `report`
/// and `check` print, and what the overview shows after its backfill.
pub fn snapshot_once(loaded: &Loaded, clock: &Clock) -> Result<(Snapshot, Observations)> {
    let build = BuildOptions {
        base_dir: loaded.base_dir(),
        recorder: None,
    };
    let sources = build_sources_with(&loaded.config, clock, &build).map_err(anyhow::Error::msg)?;
    snapshot_with(loaded, clock, sources)
}

/// `snapshot_once` over sources already built (see `sources_for`).
pub fn snapshot_with(
    loaded: &Loaded,
    clock: &Clock,
    sources: Vec<Arc<dyn Source>>,
) -> Result<(Snapshot, Observations)> {
    let config = &loaded.config;
    let poller = Arc::new(Poller::new(config, sources));
    let queries = trigger_queries(config);
    let rt = runtime()?;
    let answers = rt.block_on(poller.collect_once(&queries, clock));
    let mut obs = Observations::new(config);
    for a in answers {
        obs.apply(a);
    }
    let health = obs.source_health();
    let forecasts = forecast_all(config, &obs, clock.now_ms());
    let snap = evaluate(
        config,
        &obs.inputs(&health, Some(&forecasts)),
        clock.now_ms(),
    );
    Ok((snap, obs))
}

/// Every trigger's forecast, fitted on two threads (the headless commands
/// wait for them; the TUI fits in the background instead).
fn forecast_all(
    config: &config::Config,
    obs: &Observations,
    now_ms: i64,
) -> HashMap<String, crate::forecast::TriggerForecast> {
    let requests = crate::capacity::forecast_requests(config, &obs.store, now_ms, |_, _| true);
    let (a, b) = requests.split_at(requests.len() / 2);
    let fit = |part: &[(String, crate::forecast::ForecastRequest)]| {
        part.iter()
            .map(|(k, r)| (k.clone(), crate::forecast::forecast_trigger(r)))
            .collect::<Vec<_>>()
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| fit(a));
        let mut out = fit(b);
        out.extend(h.join().unwrap_or_default());
        out.into_iter().collect()
    })
}

fn failed_sources(s: &Snapshot) -> Vec<String> {
    let mut out: Vec<String> = s
        .sources
        .iter()
        .filter(|h| !h.ok)
        .map(|h| {
            format!(
                "source `{}`: {}",
                h.name,
                h.last_error.as_deref().unwrap_or("failing")
            )
        })
        .collect();
    // A query that failed while its source is otherwise fine (a bad
    // expression) still makes the report incomplete.
    for t in &s.triggers {
        if let Some(e) = &t.error
            && !s.sources.iter().any(|h| !h.ok && h.name == t.source)
        {
            out.push(format!("trigger `{}`: {e}", t.key()));
        }
    }
    out
}

/// Like `snapshot_once`, recording when `--record` is given.
fn snapshot_for(loaded: &Loaded, opts: &Options) -> Result<(Snapshot, Observations)> {
    let clock = opts.clock();
    let (sources, recorder) = sources_for(loaded, opts, &clock)?;
    let out = snapshot_with(loaded, &clock, sources)?;
    if let Some(r) = recorder {
        r.finish();
        if let Some(e) = r.error() {
            eprintln!("capdeck: {e}");
        }
    }
    Ok(out)
}

pub fn report(opts: &Options, json: bool) -> Result<ExitCode> {
    let loaded = load(opts)?;
    let (snap, _) = snapshot_for(&loaded, opts)?;
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
    let (snap, _) = snapshot_for(&loaded, opts)?;
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

pub fn rules(opts: &Options) -> Result<ExitCode> {
    // The rules are for the real sources: the demo stand-in is not applied.
    let loaded = config::discover(opts.config.as_deref())?;
    let (yaml, skipped) = crate::report::rules::rules_yaml(&loaded.config);
    print!("{yaml}");
    for s in skipped {
        eprintln!("capdeck: trigger `{s}` has no Prometheus query with a capacity: no rule");
    }
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

/// `capdeck backtest`: one line (text) or one JSON object per file and model.
/// A file that cannot be read is reported and the others still run; the exit
/// code is 1 when any file failed.
pub fn backtest(
    files: &[PathBuf],
    season: &str,
    holdout: &str,
    origins: usize,
    horizon: Option<usize>,
    json: bool,
) -> Result<ExitCode> {
    use crate::forecast::backtest as bt;
    let opts = bt::Options {
        season: season.parse()?,
        holdout: holdout.parse()?,
        origins,
        horizon,
    };
    if !json {
        println!("{}", bt::text_header());
    }
    let mut failed = false;
    for f in files {
        match bt::backtest_file(f, &opts) {
            Ok(rows) => {
                for r in rows {
                    if json {
                        println!("{}", serde_json::to_string(&r)?);
                    } else {
                        println!("{}", bt::text_line(&r));
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("capdeck backtest: {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A run folder from an id (in the state folder) or a path.
fn run_dir_of(run: &str) -> Result<PathBuf> {
    let p = Path::new(run);
    if p.join(crate::runbook::journal::JOURNAL).is_file() {
        return Ok(p.to_path_buf());
    }
    let runs = crate::runbook::session::runs_dir();
    let exact = runs.join(run);
    if exact.join(crate::runbook::journal::JOURNAL).is_file() {
        return Ok(exact);
    }
    let matches: Vec<PathBuf> = std::fs::read_dir(&runs)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains(run))
                })
                .collect()
        })
        .unwrap_or_default();
    match matches.len() {
        1 => Ok(matches[0].clone()),
        0 => bail!("no run `{run}` in {}", runs.display()),
        n => bail!("`{run}` matches {n} runs; give more of the id"),
    }
}

fn exec_policy(opts: &Options) -> Result<crate::runbook::machine::ExecPolicy> {
    let loaded = load(opts)?;
    Ok(crate::runbook::machine::ExecPolicy {
        allow_exec: loaded.config.runbooks.allow_exec,
        drills_execute: loaded.config.runbooks.drills_execute,
    })
}

/// A runbook file from an id in the runbook folder, or a path.
fn runbook_file(opts: &Options, runbook: &str, dir: Option<&Path>) -> Result<PathBuf> {
    let p = Path::new(runbook);
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    let dir = runbook_dir(opts, dir)?;
    for f in crate::runbook::lint::runbook_files(&dir).unwrap_or_default() {
        if let Ok(text) = std::fs::read_to_string(&f)
            && crate::runbook::parse_runbook(&text).meta.id == runbook
        {
            return Ok(f);
        }
    }
    bail!("no runbook `{runbook}` in {}", dir.display())
}

pub fn runbook_start(
    opts: &Options,
    runbook: &str,
    inputs: &[String],
    dir: Option<&Path>,
    drill: bool,
) -> Result<ExitCode> {
    let file = runbook_file(opts, runbook, dir)?;
    let mut map = std::collections::BTreeMap::new();
    for i in inputs {
        let Some((k, v)) = i.split_once('=') else {
            bail!("--input `{i}`: write NAME=VALUE");
        };
        map.insert(k.to_string(), v.to_string());
    }
    let s = crate::runbook::session::Session::start(
        &crate::runbook::session::runs_dir(),
        &file,
        map,
        drill,
        exec_policy(opts)?,
        crate::runbook::session::me(),
        crate::runbook::session::Launcher::current(),
        crate::time::now_ms(),
    )?;
    println!("{}", s.run.id);
    eprintln!(
        "capdeck: {} of {} started in {}",
        if drill { "drill" } else { "run" },
        s.run.runbook.meta.id,
        s.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn runbook_runs(json: bool) -> Result<ExitCode> {
    let runs = crate::runbook::catalog::scan_runs(&crate::runbook::session::runs_dir());
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &runs {
        println!(
            "{}  {}{}  {}  {}",
            r.id,
            if r.drill { "DRILL " } else { "" },
            r.runbook,
            r.started_at.map(crate::time::rfc3339).unwrap_or_default(),
            match &r.outcome {
                Some(o) => format!("finished: {o}"),
                None => "open".into(),
            }
        );
    }
    if runs.is_empty() {
        println!("no runs");
    }
    Ok(ExitCode::SUCCESS)
}

fn open_session(opts: &Options, run: &str) -> Result<crate::runbook::session::Session> {
    let dir = run_dir_of(run)?;
    Ok(crate::runbook::session::Session::view(
        &dir,
        exec_policy(opts)?,
        crate::runbook::session::me(),
        crate::runbook::session::Launcher::current(),
        crate::time::now_ms(),
    )?)
}

pub fn runbook_status(opts: &Options, run: &str, json: bool) -> Result<ExitCode> {
    let s = open_session(opts, run)?;
    let r = &s.run;
    let waiting = r.waiting();
    let rto = r.rto();
    let current = r.current.map(|i| r.runbook.steps[i].id.clone());
    if json {
        let v = serde_json::json!({
            "run": r.id, "runbook": r.runbook.meta.id, "drill": r.drill,
            "current": current, "waiting": waiting, "rto": rto,
            "steps": r.runbook.steps.iter().zip(&r.steps).map(|(d, st)| serde_json::json!({"id": d.id, "status": st.status})).collect::<Vec<_>>(),
            "present": r.present().iter().map(|p| p.actor.label()).collect::<Vec<_>>(),
            "runbook_changed": s.runbook_changed, "damage": s.damage, "last_seq": r.last_seq,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}{} ({}): current step {}",
            if r.drill { "DRILL " } else { "" },
            r.id,
            r.runbook.meta.id,
            current.as_deref().unwrap_or("none")
        );
        println!("waiting: {}", serde_json::to_string(&waiting)?);
        for (d, st) in r.runbook.steps.iter().zip(&r.steps) {
            println!(
                "  {:<10} {}",
                format!("{:?}", st.status).to_lowercase(),
                d.id
            );
        }
        println!(
            "RTO: elapsed {}{}",
            crate::time::human_secs(rto.elapsed_ms as f64 / 1000.0),
            rto.remaining_ms
                .map(|m| format!(", remaining {}", crate::time::human_secs(m as f64 / 1000.0)))
                .unwrap_or_default()
        );
        if let Some(c) = &s.runbook_changed {
            println!("note: {c}");
        }
        for d in &s.damage {
            println!("journal line {}: {}", d.line, d.what);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn runbook_note(opts: &Options, run: &str, text: &str) -> Result<ExitCode> {
    let mut s = open_session(opts, run)?;
    let out = s.send(
        crate::runbook::Event::Note {
            text: text.to_string(),
        },
        crate::time::now_ms(),
    )?;
    if let Some(r) = out.rejected.first() {
        bail!("{r}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn runbook_verify(run: &str) -> Result<ExitCode> {
    let dir = run_dir_of(run)?;
    let v = crate::runbook::journal::verify(&dir.join(crate::runbook::journal::JOURNAL))?;
    for d in &v.damage {
        println!(
            "{}:{}: {}",
            dir.join(crate::runbook::journal::JOURNAL).display(),
            d.line,
            d.what
        );
    }
    for l in &v.repaired {
        println!("line {l}: torn by a crash, repaired by a later line");
    }
    if let Some(l) = v.partial_tail {
        println!(
            "line {l}: incomplete (an append in progress, or torn; the next append repairs it)"
        );
    }
    println!(
        "{}: {} lines, {} entries, last hash {}: {}",
        dir.display(),
        v.lines,
        v.entries,
        v.last_hash,
        if v.ok() {
            "chain verifies"
        } else {
            "DOES NOT VERIFY"
        }
    );
    Ok(if v.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn runbook_export(run: &str, json: bool) -> Result<ExitCode> {
    let dir = run_dir_of(run)?;
    let x = crate::runbook::export::export(&dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&x)?);
    } else {
        print!("{}", crate::runbook::export::markdown(&x));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn runbook_exec_child(dir: &Path, step: &str, action: usize) -> Result<ExitCode> {
    let code = crate::runbook::exec::run_child(dir, step, action)?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

pub fn runbook_journal_stress(file: &Path, count: u64, tag: &str) -> Result<ExitCode> {
    use std::io::Write;
    let mut j = crate::runbook::journal::Journal::open(file)?;
    let me = crate::runbook::session::me();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in 0..count {
        let fact = crate::runbook::record::Fact::Note {
            text: format!("{tag} {i}"),
        };
        if let Some(e) = j.append("stress", &me, crate::time::now_ms(), &fact, None)? {
            // Printed only after sync_data returned: an acknowledged append.
            writeln!(out, "{} {tag} {i}", e.seq)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn runbook_follow(run: &str) -> Result<ExitCode> {
    use std::io::Write;
    let dir = run_dir_of(run)?;
    let path = dir.join(crate::runbook::journal::JOURNAL);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _watch =
        crate::runbook::journal::watch(&path, std::time::Duration::from_millis(500), move || {
            let _ = tx.send(());
        });
    let mut f = crate::runbook::journal::Follower::new(&path);
    let stdout = std::io::stdout();
    loop {
        let u = f.poll()?;
        let mut out = stdout.lock();
        for d in &u.damage {
            writeln!(out, "journal line {}: {}", d.line, d.what)?;
        }
        let mut finished = false;
        for e in &u.entries {
            writeln!(
                out,
                "{:>4} {} {}: {}",
                e.seq,
                crate::time::rfc3339(e.ts),
                e.actor.label(),
                crate::runbook::export::describe(&e.fact)
            )?;
            finished |= matches!(e.fact, crate::runbook::record::Fact::RunFinished { .. });
        }
        out.flush()?;
        if finished {
            return Ok(ExitCode::SUCCESS);
        }
        // Woken by notify, or by the poll fallback.
        let _ = rx.recv_timeout(std::time::Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_600_000_000;

    #[test]
    fn now_alone_stands_still_and_with_a_speed_starts_there() {
        let still = Options {
            now_ms: Some(T),
            ..Options::default()
        }
        .clock();
        assert!(still.is_fixed());
        assert_eq!(still.now_ms(), T);

        let fast = Options {
            now_ms: Some(T),
            speed: Some(600.0),
            ..Options::default()
        }
        .clock();
        assert!(!fast.is_fixed());
        assert_eq!(fast.start_ms(), T);
        assert_eq!(fast.speed(), 600.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // 20 ms of real time is at least 12 s of clock time at 600×.
        assert!(fast.now_ms() >= T + 12_000, "{}", fast.now_ms() - T);
    }

    #[test]
    fn without_now_the_clock_is_real_time_at_the_speed_asked() {
        let c = Options::default().clock();
        assert!(!c.is_fixed());
        assert_eq!(c.speed(), 1.0);
        assert!((c.start_ms() - crate::time::now_ms()).abs() < 5_000);
        let c = Options {
            speed: Some(60.0),
            ..Options::default()
        }
        .clock();
        assert_eq!(c.speed(), 60.0);
    }
}
