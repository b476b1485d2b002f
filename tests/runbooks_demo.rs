//! The shipped runbooks on the embedded demo: every gate and assert both
//! passes and fails as demo time goes by, and a run survives its session.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capdeck::config::{Config, EMBEDDED_EXAMPLE, Origin, parse, trigger_key};
use capdeck::runbook::cond::{Matcher, Reading};
use capdeck::runbook::machine::{ExecPolicy, Run, Waiting};
use capdeck::runbook::model::{ActionKind, Runbook};
use capdeck::runbook::samples::{Samples, readings, watch_queries};
use capdeck::runbook::session::{Launcher, Session};
use capdeck::runbook::{Event, parse_runbook};
use capdeck::series::{Labels, Retention, SeriesKey, SeriesStore};
use capdeck::source::{DemoSource, Source};

const T0: i64 = 1_790_000_000_000;

fn config() -> Config {
    parse(EMBEDDED_EXAMPLE, Origin::Embedded)
        .unwrap()
        .config
        .with_demo(Some(7))
}

fn shipped() -> Vec<(PathBuf, Runbook)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    capdeck::runbook::lint::runbook_files(&dir)
        .unwrap()
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, parse_runbook(&text))
        })
        .collect()
}

/// The demo's answers stored as the poller stores them, plus trigger
/// utilisation straight from the simulator.
struct Demo<'a> {
    store: SeriesStore,
    rb: &'a str,
    demo: &'a DemoSource,
    config: &'a Config,
    at: i64,
}

impl Samples for Demo<'_> {
    fn matching(&self, metric: &str, matchers: &[Matcher]) -> Vec<(Labels, Option<(i64, f64)>)> {
        let s = capdeck::runbook::samples::WatchSamples {
            store: &self.store,
            runbook_id: self.rb,
            snapshot: None,
        };
        s.matching(metric, matchers)
    }
    fn trigger_utilization(&self, key: &str) -> Option<(i64, f64)> {
        let (d, t) = self
            .config
            .triggers()
            .find(|(d, t)| trigger_key(d, t) == key)?;
        let cap =
            t.capacity
                .map(|c| c.0)
                .or(t.demo.as_ref().and_then(|p| p.capacity).map(|c| c.0))?;
        let v = self
            .demo
            .value_at(&capdeck::capacity::value_query(d, t), self.at)?;
        Some((self.at, v / cap))
    }
}

fn poll(rb: &Runbook, config: &Config, demo: &DemoSource, at: i64) -> SeriesStore {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut store = SeriesStore::new(Retention::default());
    for q in watch_queries(rb, config) {
        let a = rt.block_on(demo.instant(&q, at)).unwrap();
        for s in a.series {
            store.extend(SeriesKey::new(q.name.clone(), s.labels), s.samples);
        }
    }
    store
}

fn default_inputs(rb: &Runbook) -> BTreeMap<String, String> {
    rb.meta
        .inputs
        .iter()
        .map(|i| {
            let v = i
                .default
                .clone()
                .or_else(|| i.choices.first().cloned())
                .unwrap_or_else(|| match i.name.as_str() {
                    // A count from the inventory, inside the demo's range.
                    "EXPECTED" => "1000000".into(),
                    other => format!("demo-{}", other.to_lowercase()),
                });
            (i.name.clone(), v)
        })
        .collect()
}

#[test]
fn every_gate_and_assert_passes_and_fails_over_demo_time() {
    let config = config();
    let demo = DemoSource::anchored(&config, &config.sources[0].name, 7, T0);
    for (path, rb) in shipped() {
        let rb = Arc::new(rb);
        let mut run = Run::new("t", rb.clone(), ExecPolicy::default(), Default::default());
        run.inputs = default_inputs(&rb);
        let mut outcomes: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        // Two hours of one-minute polls.
        for i in 0..120 {
            let at = T0 + i * 60_000;
            let d = Demo {
                store: poll(&rb, &config, &demo, at),
                rb: &rb.meta.id,
                demo: &demo,
                config: &config,
                at,
            };
            run.readings = readings(&run, &d, at, 60_000);
            run.now_ms = at;
            for s in &rb.steps {
                for a in &s.actions {
                    if let ActionKind::Gate { expect, .. } | ActionKind::Assert { expect } = &a.kind
                    {
                        for e in expect {
                            let (r, _) = run.evaluate(e.cond.as_ref().unwrap());
                            let slot = outcomes.entry(format!("{}: {}", s.id, e.text)).or_default();
                            slot.0 |= r == Some(true);
                            slot.1 |= r == Some(false);
                        }
                    }
                }
            }
        }
        assert!(!outcomes.is_empty(), "{} has no gates", path.display());
        for (cond, (passed, failed)) in outcomes {
            assert!(
                passed && failed,
                "{}: `{cond}` passed={passed} failed={failed}",
                path.display()
            );
        }
    }
}

fn start_pg(state: &Path, policy: ExecPolicy) -> Session {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/pg-primary-failover.md");
    let inputs = [("REPLICA".to_string(), "pg-main-2".to_string())].into();
    let me = capdeck::runbook::session::me();
    let launcher = Launcher {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_capdeck")),
    };
    Session::start(
        &state.join("runs"),
        &file,
        inputs,
        false,
        policy,
        me,
        launcher,
        T0,
    )
    .unwrap()
}

#[test]
fn a_run_walks_the_demo_resumes_after_its_session_dies_and_is_seen_by_another() {
    let state = tempfile::tempdir().unwrap();
    let config = config();
    let demo = DemoSource::anchored(&config, &config.sources[0].name, 7, T0);
    let mut s = start_pg(state.path(), ExecPolicy::default());
    let dir = s.dir.clone();
    // A second session follows the same journal.
    let launcher = Launcher {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_capdeck")),
    };
    let mut other = Session::open(
        &dir,
        ExecPolicy::default(),
        capdeck::runbook::session::me(),
        launcher.clone(),
        T0,
    )
    .unwrap();
    for a in 0..3 {
        let o = s
            .send(
                Event::Check {
                    step: "assess".into(),
                    action: a,
                },
                T0 + 1000,
            )
            .unwrap();
        assert!(o.rejected.is_empty(), "{:?}", o.rejected);
    }
    other.refresh(T0 + 1500).unwrap();
    assert!(matches!(
        other.run.steps[0].actions[0],
        capdeck::runbook::machine::ActionState::Ticked { .. }
    ));
    // The assert needs live values: poll the demo until it holds.
    let mut t = T0 + 2000;
    while s.run.current == Some(0) && t < T0 + 3_600_000 {
        let d = Demo {
            store: poll(&s.run.runbook, &config, &demo, t),
            rb: "pg-primary-failover",
            demo: &demo,
            config: &config,
            at: t,
        };
        s.observe(&d, t, 60_000).unwrap();
        if matches!(s.run.waiting(), Waiting::Decision(_)) {
            s.send(
                Event::Decide {
                    step: "assess".into(),
                    choice: capdeck::runbook::record::Choice::Retry,
                    reason: String::new(),
                },
                t,
            )
            .unwrap();
        }
        t += 60_000;
    }
    // lost-primary: drain is skipped; fence is next.
    assert_eq!(
        s.run.current.map(|i| s.run.runbook.steps[i].id.as_str()),
        Some("fence"),
        "{:?}",
        s.run.waiting()
    );
    let step = "fence".to_string();
    s.send(
        Event::ReportCommand {
            step: step.clone(),
            action: 0,
            ok: true,
            note: "fenced by hand".into(),
        },
        t,
    )
    .unwrap();
    let at_step = s.run.waiting();
    let steps = s.run.steps.clone();
    // The session dies without a word (no Leave): open the run again.
    drop(s);
    let resumed = Session::open(
        &dir,
        ExecPolicy::default(),
        capdeck::runbook::session::me(),
        launcher,
        t + 5000,
    )
    .unwrap();
    assert_eq!(resumed.run.waiting(), at_step);
    assert_eq!(resumed.run.steps, steps);
    assert!(resumed.runbook_changed.is_none());
    assert!(
        capdeck::runbook::journal::verify(&dir.join("journal.jsonl"))
            .unwrap()
            .ok()
    );
    other.refresh(t + 6000).unwrap();
    assert_eq!(other.run.steps, steps);
    // The export is made from the journal alone.
    let x = capdeck::runbook::export::export(&dir).unwrap();
    assert_eq!(x.header.runbook, "pg-primary-failover");
    assert!(x.timeline.iter().any(|r| r.kind == "step_skipped"));
    assert!(capdeck::runbook::export::markdown(&x).contains("the hash chain verifies"));
}

#[test]
fn a_changed_runbook_file_is_noticed_and_the_run_keeps_its_copy() {
    let state = tempfile::tempdir().unwrap();
    let src = state.path().join("rb.md");
    std::fs::write(&src, "+++\nschema = 1\nid = \"tiny\"\ntitle = \"Tiny\"\nkind = \"other\"\n+++\n# Tiny\n\n## Read {#read}\n").unwrap();
    let launcher = Launcher {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_capdeck")),
    };
    let me = capdeck::runbook::session::me();
    let s = Session::start(
        &state.path().join("runs"),
        &src,
        BTreeMap::new(),
        false,
        ExecPolicy::default(),
        me.clone(),
        launcher.clone(),
        T0,
    )
    .unwrap();
    let dir = s.dir.clone();
    drop(s);
    std::fs::write(&src, "+++\nschema = 1\nid = \"tiny\"\ntitle = \"Tiny\"\nkind = \"other\"\n+++\n# Tiny\n\n## Read {#read}\n\n## New {#new}\n").unwrap();
    let s = Session::open(&dir, ExecPolicy::default(), me, launcher, T0 + 1).unwrap();
    assert!(
        s.runbook_changed
            .as_deref()
            .unwrap()
            .contains("changed on disk")
    );
    assert_eq!(s.run.runbook.steps.len(), 1, "the run keeps its copy");
}

#[test]
fn commands_run_in_a_detached_child_that_journals_start_and_end() {
    let state = tempfile::tempdir().unwrap();
    let src = state.path().join("rb.md");
    std::fs::write(
        &src,
        "+++\nschema = 1\nid = \"cmd\"\ntitle = \"Cmd\"\nkind = \"other\"\n[inputs.WHO]\nprompt = \"who\"\n+++\n# Cmd\n\n## Run {#run danger=critical}\n\n```sh {id=hello timeout=20s confirm=\"SAY ${WHO}\"}\necho \"hello $WHO\" > greeting.txt\necho done\n```\n\n## Fail {#fail}\n\n```sh {timeout=20s}\nfalse\n```\n",
    )
    .unwrap();
    let launcher = Launcher {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_capdeck")),
    };
    let me = capdeck::runbook::session::me();
    let policy = ExecPolicy {
        allow_exec: true,
        drills_execute: false,
    };
    let inputs = [("WHO".to_string(), "ops".to_string())].into();
    let mut s = Session::start(
        &state.path().join("runs"),
        &src,
        inputs,
        false,
        policy,
        me,
        launcher,
        T0,
    )
    .unwrap();
    let o = s
        .send(
            Event::RunCommand {
                step: "run".into(),
                action: 0,
                confirm: Some("SAY ops".into()),
            },
            T0,
        )
        .unwrap();
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
    assert_eq!(o.commands.len(), 1);
    // A second press while the child starts is refused, not a second run.
    let again = s
        .send(
            Event::RunCommand {
                step: "run".into(),
                action: 0,
                confirm: Some("SAY ops".into()),
            },
            T0,
        )
        .unwrap();
    assert!(!again.rejected.is_empty());
    // Wait (bounded) for the child's end line.
    for _ in 0..400 {
        s.refresh(capdeck::time::now_ms()).unwrap();
        if s.run.current != Some(0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        s.run.steps[0].status,
        capdeck::runbook::machine::StepStatus::Done,
        "{:?}",
        s.run.waiting()
    );
    assert_eq!(
        std::fs::read_to_string(s.dir.join("work/greeting.txt")).unwrap(),
        "hello ops\n"
    );
    let r = capdeck::runbook::journal::read(&s.journal_path()).unwrap();
    let finished = r.entries.iter().find_map(|e| match &e.fact {
        capdeck::runbook::record::Fact::CommandFinished {
            exit, output_hash, ..
        } => Some((*exit, output_hash.clone())),
        _ => None,
    });
    let started_output = r.entries.iter().find_map(|e| match &e.fact {
        capdeck::runbook::record::Fact::CommandStarted { output, pid, .. } => {
            Some((output.clone(), *pid))
        }
        _ => None,
    });
    let (out_file, pid) = started_output.unwrap();
    assert_ne!(pid, std::process::id(), "the child journaled its own start");
    let bytes = std::fs::read(s.dir.join(&out_file)).unwrap();
    assert_eq!(bytes, b"done\n");
    assert_eq!(
        finished,
        Some((Some(0), capdeck::runbook::sha256_hex(&bytes)))
    );
    // A failing command fails its step (on_fail defaults to stop).
    s.send(
        Event::RunCommand {
            step: "fail".into(),
            action: 0,
            confirm: None,
        },
        capdeck::time::now_ms(),
    )
    .unwrap();
    for _ in 0..400 {
        s.refresh(capdeck::time::now_ms()).unwrap();
        if matches!(s.run.waiting(), Waiting::Stopped { .. }) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        matches!(s.run.waiting(), Waiting::Stopped { .. }),
        "{:?}",
        s.run.waiting()
    );
}

#[test]
fn a_command_whose_child_died_is_unknown_after_a_restart() {
    use capdeck::runbook::record::Fact;
    let state = tempfile::tempdir().unwrap();
    let mut s = start_pg(
        state.path(),
        ExecPolicy {
            allow_exec: true,
            drills_execute: false,
        },
    );
    let dir = s.dir.clone();
    for a in 0..3 {
        s.send(
            Event::Check {
                step: "assess".into(),
                action: a,
            },
            T0,
        )
        .unwrap();
    }
    s.send(
        Event::Override {
            step: "assess".into(),
            action: 3,
            reason: "checked pg_up by hand".into(),
        },
        T0,
    )
    .unwrap();
    assert_eq!(
        s.run.current.map(|i| s.run.runbook.steps[i].id.as_str()),
        Some("fence")
    );
    // A child that journaled its start and then died (pid 0 never exists;
    // a spawned-and-reaped process stands in for it).
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    let mut j = capdeck::runbook::journal::Journal::open(&dir.join("journal.jsonl")).unwrap();
    let me = capdeck::runbook::session::me();
    j.append(
        &s.run.id,
        &capdeck::runbook::record::Actor { pid, ..me.clone() },
        T0,
        &Fact::CommandStarted {
            step: "fence".into(),
            action: 0,
            pid,
            output: "out/x.log".into(),
            simulated: false,
            text_hash: "h".into(),
        },
        None,
    )
    .unwrap();
    drop(s);
    let launcher = Launcher {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_capdeck")),
    };
    let mut s = Session::open(
        &dir,
        ExecPolicy {
            allow_exec: true,
            drills_execute: false,
        },
        me,
        launcher,
        T0 + 10,
    )
    .unwrap();
    assert_eq!(
        s.run.waiting(),
        Waiting::CommandUnknown {
            step: "fence".into(),
            action: 0
        }
    );
    let o = s
        .send(
            Event::RunCommand {
                step: "fence".into(),
                action: 0,
                confirm: Some("FENCE pg-main-1".into()),
            },
            T0 + 20,
        )
        .unwrap();
    assert!(o.rejected[0].contains("never re-run"));
    assert!(o.commands.is_empty());
}

#[test]
fn drills_are_marked_simulate_commands_and_journal_a_report() {
    let state = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/cdn-origin-failover.md");
    let launcher = Launcher {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_capdeck")),
    };
    let me = capdeck::runbook::session::me();
    let mut s = Session::start(
        &state.path().join("runs"),
        &file,
        BTreeMap::new(),
        true,
        ExecPolicy::default(),
        me,
        launcher,
        T0,
    )
    .unwrap();
    assert!(s.run.drill);
    s.send(
        Event::Override {
            step: "confirm".into(),
            action: 0,
            reason: "drill: pretend the origin fails".into(),
        },
        T0 + 1000,
    )
    .unwrap();
    s.send(
        Event::Override {
            step: "secondary-ok".into(),
            action: 0,
            reason: "drill".into(),
        },
        T0 + 2000,
    )
    .unwrap();
    s.send(
        Event::Approve {
            step: "switch".into(),
            actor: s.run.me.clone(),
        },
        T0 + 3000,
    )
    .unwrap();
    let o = s
        .send(
            Event::RunCommand {
                step: "switch".into(),
                action: 0,
                confirm: Some("SWITCH ORIGIN".into()),
            },
            T0 + 4000,
        )
        .unwrap();
    assert!(o.commands[0].simulated);
    assert_eq!(
        s.run.steps[2].status,
        capdeck::runbook::machine::StepStatus::Done
    );
    s.send(
        Event::Note {
            text: "the switch took 40 s in the real console last time".into(),
        },
        T0 + 5000,
    )
    .unwrap();
    s.send(
        Event::Finish {
            outcome: "drill complete".into(),
        },
        T0 + 60_000,
    )
    .unwrap();
    let runs = capdeck::runbook::catalog::scan_runs(&state.path().join("runs"));
    assert_eq!(runs.len(), 1);
    assert!(runs[0].drill);
    let listed = capdeck::runbook::catalog::list(file.parent().unwrap(), None, &runs).unwrap();
    let cdn = listed
        .iter()
        .find(|l| l.id == "cdn-origin-failover")
        .unwrap();
    assert_eq!(cdn.last_drilled, Some(T0));
    assert!(
        listed
            .iter()
            .filter(|l| l.id != "cdn-origin-failover")
            .all(|l| l.never_drilled)
    );
    let x = capdeck::runbook::export::export(&s.dir).unwrap();
    assert!(x.header.drill);
    assert_eq!(x.overrides.len(), 2);
    assert!(x.timeline.iter().any(|r| r.kind == "drill_report"));
    let md = capdeck::runbook::export::markdown(&x);
    assert!(md.starts_with("# DRILL "));
    assert!(md.contains("## Overrides"));
    let _ = Reading::default;
}
