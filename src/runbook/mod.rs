//! Runbooks: the parser and linter of the runbook format, the pure run state
//! machine, the journal a run is recorded in, and the session that drives
//! a run from a terminal or the command line.
//!
//! | module | what |
//! |---|---|
//! | `parse`, `model`, `cond` | a runbook file → `Runbook` with positions; the condition language |
//! | `lint` | every problem as `file:line:col: message` |
//! | `catalog` | the runbook list (with lint problems, linked triggers, last drill) and runs on disk |
//! | `machine` | `apply(&mut Run, Event) -> Vec<Effect>`, pure; `Run::waiting()`, `rto()`, `rollbacks_offered()` |
//! | `record` | journal facts (`Fact`) and lines (`Entry`) |
//! | `journal` | append with lock + `sync_data` + hash chain, torn-line repair, `Follower`, `watch` |
//! | `session` | one process working one run: start, open (resume/join), send, refresh, observe |
//! | `samples` | gates' live values from the series store; `watch` queries |
//! | `exec` | the detached child that runs a command and journals its start and end |
//! | `export` | the timeline from the journal alone, Markdown or JSON |
//!
//! A screen works a run through `session::Session`: `start` or `open`, then
//! `send(Event::…)` for each key, `observe(&samples, now, stale_after)`
//! after each poll, `refresh(now)` when `session::watch_changes` calls back
//! (another session or a command child appended), and `send(Event::Leave)`
//! on quit. It renders from `session.run` (`waiting()`, `steps`, `rto()`,
//! `present()`, `notes`, `marks`) and the `Outcome` of each call (copies for
//! OSC 52, warnings, questions, refusals).

pub mod catalog;
pub mod cond;
pub mod exec;
pub mod export;
pub mod identity;
pub mod journal;
pub mod lint;
pub mod machine;
pub mod model;
pub mod parse;
pub mod record;
pub mod samples;
pub mod session;

pub use machine::{Effect, Event, Run, apply};
pub use model::*;
pub use parse::{parse_runbook, sha256_hex};
