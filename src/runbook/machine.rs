//! The run state machine: `apply(&mut Run, Event) -> Vec<Effect>`.
//!
//! A run's state is a fold of its journal: `Event::Journaled` folds one
//! line. Every other event is a request (an operator's key, a clock tick,
//! fresh metric readings) that the machine answers with effects: facts to
//! append, commands to start, text to copy, questions to ask. The driver
//! performs them and feeds each appended line back as `Event::Journaled`,
//! so two sessions following one journal hold the same state.
//!
//! Facts the machine derives by itself (a gate holding, a step done, the
//! next step started) are appended on condition that the journal still ends
//! at the line they were derived from (`Effect::Append::if_last_seq`); a
//! session that lost that race re-derives from the newer state. No clock is
//! read here: time comes in with the events.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::cond::{self, Cond, Lookup, Reading, Seen, Selector};
use super::model::*;
use super::record::*;

/// The state of one action of the current step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionState {
    Pending,
    Ticked {
        by: String,
        at: i64,
    },
    Running {
        since: i64,
        pid: u32,
        host: String,
        simulated: bool,
    },
    Finished {
        exit: Option<i32>,
        ok: bool,
        at: i64,
        duration_ms: u64,
        output: String,
    },
    /// The process was lost with its outcome: the operator must say.
    Unknown {
        reason: String,
    },
    Reported {
        ok: bool,
        note: String,
        by: String,
    },
    Gate {
        state: GateState,
        since: i64,
        entered: i64,
        seen: Vec<Seen>,
    },
    Overridden {
        reason: String,
        by: String,
        at: i64,
    },
    Asserted {
        result: Option<bool>,
        at: i64,
        seen: Vec<Seen>,
    },
}

impl ActionState {
    /// Done, so the next action may start.
    pub fn complete(&self) -> bool {
        match self {
            ActionState::Ticked { .. } | ActionState::Overridden { .. } => true,
            ActionState::Finished { ok, .. } | ActionState::Reported { ok, .. } => *ok,
            ActionState::Gate { state, .. } => *state == GateState::Passed,
            ActionState::Asserted { result, .. } => *result == Some(true),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Active,
    Done,
    Skipped,
    Failed,
    /// Done, then undone by a rollback step.
    Undone,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepState {
    pub status: StepStatus,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub actions: Vec<ActionState>,
    pub ponr_acknowledged: bool,
    /// Who approved, in order (uid, label).
    pub approvals: Vec<(u32, String)>,
    pub note: Option<String>,
}

impl StepState {
    fn new(n: usize) -> StepState {
        StepState {
            status: StepStatus::Pending,
            started_at: None,
            ended_at: None,
            actions: vec![ActionState::Pending; n],
            ponr_acknowledged: false,
            approvals: Vec::new(),
            note: None,
        }
    }
}

/// A question the run waits on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub step: String,
    pub reason: String,
    pub choices: Vec<Choice>,
}

/// What the run waits for now: what the run screen asks of the operator.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "waiting", rename_all = "snake_case")]
pub enum Waiting {
    /// `Event::Start` with these inputs.
    Inputs,
    /// `Event::AckPonr`: this step is a point of no return.
    PonrAck {
        step: String,
    },
    /// `Event::Approve`; for two-person, from a user other than `first`.
    Approval {
        step: String,
        two_person: bool,
        first: Option<String>,
    },
    /// `Event::Check` for one of these actions.
    Check {
        step: String,
        actions: Vec<usize>,
    },
    /// `Event::RunCommand`/`CopyCommand`/`ReportCommand`.
    Command {
        step: String,
        action: usize,
    },
    /// The command runs; its child journals the end.
    CommandRunning {
        step: String,
        action: usize,
    },
    /// The outcome is unknown: `Event::ReportCommand` with what was verified.
    CommandUnknown {
        step: String,
        action: usize,
    },
    /// The gate is evaluated from readings; `Event::Override` with a reason.
    Gate {
        step: String,
        action: usize,
        state: GateState,
        held_ms: i64,
    },
    /// An assert is evaluated when readings arrive.
    Assert {
        step: String,
        action: usize,
    },
    /// A step without actions: `Event::AckStep`.
    Ack {
        step: String,
    },
    /// `Event::Decide`.
    Decision(Question),
    /// The run stopped on a failure: `Event::Decide` (retry, skip) or finish.
    Stopped {
        step: String,
        reason: String,
    },
    /// Steps remain whose `requires` cannot be met.
    Blocked {
        steps: Vec<String>,
    },
    /// Every step is done or skipped: `Event::Finish`.
    Finish,
    Finished {
        outcome: String,
    },
}

/// A command to execute, with everything the child needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandRequest {
    pub step: String,
    pub action: usize,
    pub text: String,
    /// The inputs, exported in the child's environment.
    pub env: Vec<(String, String)>,
    pub timeout_ms: i64,
    /// A drill without `drills_execute`: journal it, do not run it.
    pub simulated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Warning {
    /// Shown before a point-of-no-return step starts: what can still be
    /// rolled back now, and will not be after.
    PointOfNoReturn {
        step: String,
        rollbacks: Vec<String>,
    },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append a fact. `if_last_seq`: only if the journal still ends at
    /// this seq (a derived fact), else drop it.
    Append {
        fact: Fact,
        if_last_seq: Option<u64>,
    },
    Execute(CommandRequest),
    /// Put this text on the clipboard (OSC 52).
    Copy {
        text: String,
    },
    Warn(Warning),
    Ask(Question),
    /// The request was refused, and why, in words for the operator.
    Rejected(String),
}

/// Requests and observations.
// Events live for one `apply`; boxing the journal line would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One journal line to fold.
    Journaled(Entry),
    /// Start the run with these inputs (defaults fill the rest).
    Start {
        inputs: BTreeMap<String, String>,
        drill: bool,
        origin: String,
        file: String,
    },
    /// Time passes (gate holds and timeouts, the RTO clock).
    Tick {
        now_ms: i64,
    },
    /// Fresh live values, keyed by substituted selector text.
    Readings(Readings),
    Join,
    Leave,
    Check {
        step: String,
        action: usize,
    },
    RunCommand {
        step: String,
        action: usize,
        confirm: Option<String>,
    },
    CopyCommand {
        step: String,
        action: usize,
    },
    /// The operator ran it by hand, or verified a lost command's outcome.
    ReportCommand {
        step: String,
        action: usize,
        ok: bool,
        note: String,
    },
    /// The driver found a started command's process gone without an end.
    CommandLost {
        step: String,
        action: usize,
        reason: String,
    },
    Override {
        step: String,
        action: usize,
        reason: String,
    },
    /// An approval from `actor` (identity comes with the request).
    Approve {
        step: String,
        actor: Actor,
    },
    AckPonr {
        step: String,
    },
    AckStep {
        step: String,
    },
    Decide {
        step: String,
        choice: Choice,
        reason: String,
    },
    StartRollback {
        step: String,
    },
    Mark {
        mark: Mark,
    },
    Note {
        text: String,
    },
    ImpactStart {
        at_ms: i64,
    },
    Finish {
        outcome: String,
    },
}

/// Live values, taken by the driver from the series store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Readings {
    pub at_ms: i64,
    pub stale_after_ms: i64,
    pub selectors: HashMap<String, Vec<Reading>>,
    pub triggers: HashMap<String, (i64, f64)>,
}

/// Settings that decide whether commands may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecPolicy {
    pub allow_exec: bool,
    pub drills_execute: bool,
}

/// What the RTO panel shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RtoClock {
    pub target_ms: Option<i64>,
    pub impact_start_ms: Option<i64>,
    pub elapsed_ms: i64,
    pub remaining_ms: Option<i64>,
    /// When restoring is expected, from the remaining steps' `eta`.
    pub projected_ms: Option<i64>,
    pub stopped: bool,
}

/// RPO evidence: what gates with a time limit saw when they passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpoEvidence {
    pub step: String,
    pub condition: String,
    pub value_s: Option<f64>,
    pub at: i64,
    pub overridden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant {
    pub actor: Actor,
    pub joined_at: i64,
    pub last_seen: i64,
    pub present: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub runbook: Arc<Runbook>,
    pub policy: ExecPolicy,
    /// Who this session is (its own approvals are checked against it).
    pub me: Actor,
    pub started_at: Option<i64>,
    pub started_by: Option<Actor>,
    pub inputs: BTreeMap<String, String>,
    pub secret_inputs: Vec<String>,
    pub drill: bool,
    pub steps: Vec<StepState>,
    /// The step being worked, an index into `runbook.steps`.
    pub current: Option<usize>,
    /// Set by `on_fail`/`on_timeout`: the next step to start.
    pub jump_to: Option<usize>,
    pub stopped: Option<(String, String)>,
    pub question: Option<Question>,
    pub impact_start: Option<i64>,
    pub marks: Vec<(Mark, i64, String)>,
    pub notes: Vec<(i64, String, String)>,
    pub overrides: Vec<(i64, String, String, String)>,
    /// Gates that timed out (`step#action`), for the drill report.
    pub gate_timeouts: Vec<String>,
    pub rpo: Vec<RpoEvidence>,
    pub participants: BTreeMap<String, Participant>,
    pub finished: Option<(i64, String)>,
    pub last_seq: u64,
    pub last_ts: i64,
    pub now_ms: i64,
    pub readings: Readings,
    /// Lines that did not change anything (a duplicate from a race).
    pub ignored: Vec<u64>,
    /// The hash the run's runbook copy was started with.
    pub runbook_hash: Option<String>,
}

fn who(a: &Actor) -> String {
    a.label()
}

struct Env<'a> {
    run: &'a Run,
}

impl Lookup for Env<'_> {
    fn input(&self, name: &str) -> Option<&str> {
        self.run.inputs.get(name).map(String::as_str)
    }
    fn selector(&self, sel: &Selector) -> Vec<Reading> {
        self.run
            .readings
            .selectors
            .get(&sel.to_string())
            .cloned()
            .unwrap_or_default()
    }
    fn trigger(&self, key: &str) -> Option<(i64, f64)> {
        self.run.readings.triggers.get(key).copied()
    }
    fn now_ms(&self) -> i64 {
        self.run.now_ms.max(self.run.readings.at_ms)
    }
    fn stale_after_ms(&self) -> i64 {
        if self.run.readings.stale_after_ms > 0 {
            self.run.readings.stale_after_ms
        } else {
            60_000
        }
    }
}

impl Run {
    pub fn new(id: impl Into<String>, runbook: Arc<Runbook>, policy: ExecPolicy, me: Actor) -> Run {
        let steps = runbook
            .steps
            .iter()
            .map(|s| StepState::new(s.actions.len()))
            .collect();
        Run {
            id: id.into(),
            runbook,
            policy,
            me,
            started_at: None,
            started_by: None,
            inputs: BTreeMap::new(),
            secret_inputs: Vec::new(),
            drill: false,
            steps,
            current: None,
            jump_to: None,
            stopped: None,
            question: None,
            impact_start: None,
            marks: Vec::new(),
            notes: Vec::new(),
            overrides: Vec::new(),
            gate_timeouts: Vec::new(),
            rpo: Vec::new(),
            participants: BTreeMap::new(),
            finished: None,
            last_seq: 0,
            last_ts: 0,
            now_ms: 0,
            readings: Readings::default(),
            ignored: Vec::new(),
            runbook_hash: None,
        }
    }

    fn idx(&self, step: &str) -> Option<usize> {
        self.runbook.step_index(step)
    }

    fn done_for_requires(&self, id: &str) -> bool {
        self.idx(id)
            .is_some_and(|i| matches!(self.steps[i].status, StepStatus::Done | StepStatus::Skipped))
    }

    /// Every selector the run's conditions use, with inputs substituted:
    /// what the driver must read for `Event::Readings`.
    pub fn selectors(&self) -> Vec<Selector> {
        let mut conds: Vec<&Cond> = self
            .runbook
            .meta
            .conditions
            .iter()
            .filter_map(|c| c.cond.as_ref())
            .collect();
        for s in &self.runbook.steps {
            for a in &s.actions {
                if let ActionKind::Gate { expect, .. } | ActionKind::Assert { expect } = &a.kind {
                    conds.extend(expect.iter().filter_map(|e| e.cond.as_ref()));
                }
            }
        }
        let mut out: Vec<Selector> = conds
            .into_iter()
            .flat_map(|c| {
                c.selectors()
                    .into_iter()
                    .map(|s| s.substituted(&self.inputs))
            })
            .map(|mut s| {
                s.offset = 0;
                s
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Trigger keys the conditions use.
    pub fn trigger_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .runbook
            .meta
            .conditions
            .iter()
            .filter_map(|c| c.cond.as_ref())
            .flat_map(|c| c.triggers().into_iter().map(|t| t.0))
            .collect();
        for s in &self.runbook.steps {
            for a in &s.actions {
                if let ActionKind::Gate { expect, .. } | ActionKind::Assert { expect } = &a.kind {
                    out.extend(
                        expect
                            .iter()
                            .filter_map(|e| e.cond.as_ref())
                            .flat_map(|c| c.triggers().into_iter().map(|t| t.0)),
                    );
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Evaluates a condition against the run's inputs and latest readings
    /// (what the run screen shows beside a gate).
    pub fn evaluate(&self, c: &Cond) -> (Option<bool>, Vec<Seen>) {
        let env = Env { run: self };
        let mut seen = Vec::new();
        let r = cond::eval(c, &env, &mut seen);
        (r, seen)
    }

    fn eval_all(&self, expect: &[Expect]) -> (Option<bool>, Vec<Seen>) {
        let env = Env { run: self };
        let mut seen = Vec::new();
        let mut all = Some(true);
        for e in expect {
            let r = match &e.cond {
                Some(c) => cond::eval(c, &env, &mut seen),
                None => None,
            };
            all = match (all, r) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
        }
        (all, seen)
    }

    /// Steps a rollback is offered for now: a rollback step whose undone
    /// steps include one that is done, while no point of no return after
    /// those steps has started.
    pub fn rollbacks_offered(&self) -> Vec<String> {
        let rb = &self.runbook;
        rb.steps
            .iter()
            .enumerate()
            .filter(|(i, s)| s.rollback && !matches!(self.steps[*i].status, StepStatus::Active))
            .filter(|(_, s)| {
                s.undoes.iter().any(|u| {
                    let Some(ui) = rb.step_index(u) else {
                        return false;
                    };
                    if self.steps[ui].status != StepStatus::Done {
                        return false;
                    }
                    // Past a started point of no return after it: fail forward only.
                    !rb.steps.iter().enumerate().any(|(pi, p)| {
                        p.ponr && pi > ui && self.steps[pi].status != StepStatus::Pending
                    })
                })
            })
            .map(|(_, s)| s.id.clone())
            .collect()
    }

    /// The next main-path step that may start, or those blocked.
    fn next_step(&self) -> Result<Option<usize>, Vec<String>> {
        if let Some(j) = self.jump_to {
            return Ok(Some(j));
        }
        let mut blocked = Vec::new();
        for (i, s) in self.runbook.steps.iter().enumerate() {
            if s.rollback
                || self.steps[i].status != StepStatus::Pending
                    && self.steps[i].status != StepStatus::Undone
            {
                continue;
            }
            if s.requires.met(|id| self.done_for_requires(id)) {
                return Ok(Some(i));
            }
            blocked.push(s.id.clone());
        }
        if blocked.is_empty() {
            Ok(None)
        } else {
            Err(blocked)
        }
    }

    fn cursor(&self, i: usize) -> Option<usize> {
        self.steps[i].actions.iter().position(|a| !a.complete())
    }

    /// What the run waits for now.
    pub fn waiting(&self) -> Waiting {
        if let Some((_, outcome)) = &self.finished {
            return Waiting::Finished {
                outcome: outcome.clone(),
            };
        }
        if self.started_at.is_none() {
            return Waiting::Inputs;
        }
        if let Some(q) = &self.question {
            return Waiting::Decision(q.clone());
        }
        if let Some((step, reason)) = &self.stopped {
            return Waiting::Stopped {
                step: step.clone(),
                reason: reason.clone(),
            };
        }
        let Some(i) = self.current else {
            return match self.next_step() {
                Ok(Some(_)) => Waiting::Finish, // about to start: derived on the next apply
                Ok(None) => Waiting::Finish,
                Err(blocked) => Waiting::Blocked { steps: blocked },
            };
        };
        let s = &self.runbook.steps[i];
        let st = &self.steps[i];
        let id = s.id.clone();
        if s.ponr && !st.ponr_acknowledged {
            return Waiting::PonrAck { step: id };
        }
        if let Some(a) = s.approval {
            let need = if a == Approval::TwoPerson { 2 } else { 1 };
            if st.approvals.len() < need {
                return Waiting::Approval {
                    step: id,
                    two_person: a == Approval::TwoPerson,
                    first: st.approvals.first().map(|x| x.1.clone()),
                };
            }
        }
        let Some(c) = self.cursor(i) else {
            return Waiting::Ack { step: id };
        };
        match (&s.actions[c].kind, &st.actions[c]) {
            (ActionKind::Check { .. }, _) => {
                let actions = (c..s.actions.len())
                    .take_while(|&k| matches!(s.actions[k].kind, ActionKind::Check { .. }))
                    .filter(|&k| !st.actions[k].complete())
                    .collect();
                Waiting::Check { step: id, actions }
            }
            (ActionKind::Command { .. }, ActionState::Running { .. }) => Waiting::CommandRunning {
                step: id,
                action: c,
            },
            (ActionKind::Command { .. }, ActionState::Unknown { .. }) => Waiting::CommandUnknown {
                step: id,
                action: c,
            },
            (ActionKind::Command { .. }, _) => Waiting::Command {
                step: id,
                action: c,
            },
            (ActionKind::Gate { .. }, ActionState::Gate { state, since, .. }) => Waiting::Gate {
                step: id,
                action: c,
                state: *state,
                held_ms: if *state == GateState::Holding {
                    self.now_ms.saturating_sub(*since).max(0)
                } else {
                    0
                },
            },
            (ActionKind::Gate { .. }, _) => Waiting::Gate {
                step: id,
                action: c,
                state: GateState::Unknown,
                held_ms: 0,
            },
            (ActionKind::Assert { .. }, _) => Waiting::Assert {
                step: id,
                action: c,
            },
        }
    }

    /// The RTO clock at `now_ms`.
    pub fn rto(&self) -> RtoClock {
        let target_ms = self.runbook.meta.rto.map(|d| d.as_millis_i64());
        let restored = self
            .marks
            .iter()
            .find(|m| m.0 == Mark::Restored)
            .map(|m| m.1);
        let end = restored.unwrap_or(self.now_ms.max(self.last_ts));
        let elapsed_ms = self.impact_start.map(|s| (end - s).max(0)).unwrap_or(0);
        let projected_ms = if restored.is_some() || self.impact_start.is_none() {
            None
        } else {
            let now = self.now_ms.max(self.last_ts);
            let mut left = 0i64;
            let restoring = self
                .runbook
                .steps
                .iter()
                .position(|s| !s.rollback && s.marks.contains(&Mark::Restored));
            for (i, s) in self.runbook.steps.iter().enumerate() {
                if s.rollback {
                    continue;
                }
                if restoring.is_some_and(|r| i > r) {
                    break;
                }
                let eta = s.eta.map(|d| d.as_millis_i64()).unwrap_or(0);
                match self.steps[i].status {
                    StepStatus::Pending | StepStatus::Undone | StepStatus::Failed => left += eta,
                    StepStatus::Active => {
                        let spent = self.steps[i].started_at.map(|t| now - t).unwrap_or(0);
                        left += (eta - spent).max(0);
                    }
                    _ => {}
                }
            }
            Some(now + left)
        };
        RtoClock {
            target_ms,
            impact_start_ms: self.impact_start,
            elapsed_ms,
            remaining_ms: target_ms.map(|t| t - elapsed_ms),
            projected_ms,
            stopped: restored.is_some(),
        }
    }

    /// The highest lag a time-limited gate saw when it passed.
    pub fn rpo_observed_s(&self) -> Option<f64> {
        self.rpo
            .iter()
            .filter_map(|e| e.value_s)
            .fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
    }

    /// Who is in the run now.
    pub fn present(&self) -> Vec<&Participant> {
        self.participants.values().filter(|p| p.present).collect()
    }

    /// The command text as a copy puts it on the clipboard: `export` lines
    /// for the inputs, then the text as written.
    pub fn copy_text(&self, step: usize, action: usize) -> Option<String> {
        let ActionKind::Command { text, .. } =
            &self.runbook.steps.get(step)?.actions.get(action)?.kind
        else {
            return None;
        };
        let mut out = String::new();
        for (k, v) in &self.inputs {
            out.push_str(&format!("export {k}='{}'\n", v.replace('\'', "'\\''")));
        }
        out.push_str(text);
        Some(out)
    }

    fn participant(&mut self, e: &Entry, present: Option<bool>) {
        let key = format!("{}:{}@{}", e.actor.uid, e.actor.pid, e.actor.host);
        let p = self.participants.entry(key).or_insert(Participant {
            actor: e.actor.clone(),
            joined_at: e.ts,
            last_seen: e.ts,
            present: true,
        });
        p.last_seen = e.ts;
        if let Some(pr) = present {
            p.present = pr;
        }
    }
}

// ------------------------------------------------------------------ folding

/// Folds one journal line; returns whether it changed the run.
pub fn fold(run: &mut Run, e: &Entry) -> bool {
    if e.seq <= run.last_seq && run.last_seq != 0 {
        return false;
    }
    run.last_seq = e.seq;
    run.last_ts = run.last_ts.max(e.ts);
    run.now_ms = run.now_ms.max(e.ts);
    let changed = fold_fact(run, e);
    if !changed {
        run.ignored.push(e.seq);
    }
    changed
}

fn action_mut<'a>(
    run: &'a mut Run,
    step: &str,
    action: usize,
) -> Option<(usize, &'a mut ActionState)> {
    let i = run.idx(step)?;
    let a = run.steps[i].actions.get_mut(action)?;
    Some((i, a))
}

/// The action a fact is about, when it exists and is in a state the fact
/// may move it from (`accepts`); a fact about anything else changes nothing.
fn open_action<'a>(
    run: &'a mut Run,
    step: &str,
    action: usize,
    accepts: impl Fn(&ActionState) -> bool,
) -> Option<(usize, &'a mut ActionState)> {
    action_mut(run, step, action).filter(|(_, a)| accepts(a))
}

fn fold_fact(run: &mut Run, e: &Entry) -> bool {
    let ts = e.ts;
    match &e.fact {
        Fact::RunStarted {
            inputs,
            secret_inputs,
            drill,
            hash,
            ..
        } => {
            if run.started_at.is_some() {
                return false;
            }
            run.started_at = Some(ts);
            run.started_by = Some(e.actor.clone());
            run.inputs = inputs.clone();
            run.secret_inputs = secret_inputs.clone();
            run.drill = *drill;
            run.impact_start = Some(ts);
            run.runbook_hash = Some(hash.clone());
            run.participant(e, Some(true));
            true
        }
        Fact::Joined => {
            run.participant(e, Some(true));
            true
        }
        Fact::Left => {
            run.participant(e, Some(false));
            true
        }
        Fact::StepStarted {
            step,
            rollback,
            when,
            ..
        } => {
            let Some(i) = run.idx(step) else { return false };
            if run.current.is_some() && !*rollback {
                return false;
            }
            if run.steps[i].status == StepStatus::Active {
                return false;
            }
            let n = run.runbook.steps[i].actions.len();
            run.steps[i] = StepState {
                started_at: Some(ts),
                status: StepStatus::Active,
                ..StepState::new(n)
            };
            if run.jump_to == Some(i) {
                run.jump_to = None;
            }
            // A rollback interrupts the current step, which starts over after.
            if let Some(c) = run.current
                && c != i
            {
                let n = run.runbook.steps[c].actions.len();
                run.steps[c] = StepState::new(n);
            }
            run.current = Some(i);
            if *when == Some(None) {
                // Not skipped: the operator decides.
                let name = run.runbook.steps[i].when.clone().unwrap_or_default();
                run.question = Some(Question {
                    step: step.clone(),
                    reason: format!(
                        "`when` {name} cannot be decided (a value is missing or stale): do the step or skip it"
                    ),
                    choices: vec![Choice::Proceed, Choice::Skip],
                });
            }
            run.participant(e, None);
            true
        }
        Fact::StepSkipped { step, .. } => {
            let Some(i) = run.idx(step) else { return false };
            if matches!(run.steps[i].status, StepStatus::Done | StepStatus::Skipped) {
                return false;
            }
            run.steps[i].status = StepStatus::Skipped;
            run.steps[i].ended_at = Some(ts);
            if run.current == Some(i) {
                run.current = None;
            }
            if run.jump_to == Some(i) {
                run.jump_to = None;
            }
            if run.stopped.as_ref().is_some_and(|s| &s.0 == step) {
                run.stopped = None;
            }
            if run.question.as_ref().is_some_and(|q| &q.step == step) {
                run.question = None;
            }
            true
        }
        Fact::StepDone { step, marks } => {
            let Some(i) = run.idx(step) else { return false };
            if run.steps[i].status != StepStatus::Active {
                return false;
            }
            for m in marks {
                if !run.marks.iter().any(|x| x.0 == *m) {
                    run.marks.push((*m, ts, step.clone()));
                }
            }
            run.steps[i].status = StepStatus::Done;
            run.steps[i].ended_at = Some(ts);
            if run.current == Some(i) {
                run.current = None;
            }
            let s = run.runbook.steps[i].clone();
            if s.rollback {
                for u in &s.undoes {
                    if let Some(ui) = run.idx(u)
                        && run.steps[ui].status == StepStatus::Done
                    {
                        run.steps[ui].status = StepStatus::Undone;
                    }
                }
                // The rollback can be offered again if they are redone.
                run.steps[i].status = StepStatus::Pending;
                run.steps[i].ended_at = Some(ts);
            }
            run.participant(e, None);
            true
        }
        Fact::StepFailed { step, reason } => {
            let Some(i) = run.idx(step) else { return false };
            if run.steps[i].status != StepStatus::Active {
                return false;
            }
            run.steps[i].status = StepStatus::Failed;
            run.steps[i].ended_at = Some(ts);
            run.steps[i].note = Some(reason.clone());
            run.current = None;
            match run.runbook.steps[i].on_fail() {
                OnFail::Stop => run.stopped = Some((step.clone(), reason.clone())),
                OnFail::Ask => {
                    run.question = Some(Question {
                        step: step.clone(),
                        reason: reason.clone(),
                        choices: vec![Choice::Retry, Choice::Skip, Choice::Stop],
                    })
                }
                OnFail::Step(t) => {
                    run.jump_to = run.idx(&t);
                    if run.jump_to.is_none() {
                        run.stopped = Some((step.clone(), reason.clone()));
                    }
                }
            }
            true
        }
        Fact::PonrAcknowledged { step } => {
            let Some(i) = run.idx(step) else { return false };
            if run.steps[i].ponr_acknowledged {
                return false;
            }
            run.steps[i].ponr_acknowledged = true;
            true
        }
        Fact::ApprovalRequested { step } | Fact::ApprovalGranted { step } => {
            let Some(i) = run.idx(step) else { return false };
            let st = &mut run.steps[i];
            if st.approvals.iter().any(|a| a.0 == e.actor.uid) {
                return false;
            }
            st.approvals.push((e.actor.uid, who(&e.actor)));
            true
        }
        Fact::Ticked { step, action, .. } => {
            let by = who(&e.actor);
            let Some((_, a)) = open_action(run, step, *action, |a| *a == ActionState::Pending)
            else {
                return false;
            };
            *a = ActionState::Ticked { by, at: ts };
            true
        }
        Fact::CommandStarted {
            step,
            action,
            pid,
            simulated,
            ..
        } => {
            let host = e.actor.host.clone();
            let Some((_, a)) = open_action(run, step, *action, |a| {
                !matches!(a, ActionState::Running { .. }) && !a.complete()
            }) else {
                return false;
            };
            *a = ActionState::Running {
                since: ts,
                pid: *pid,
                host,
                simulated: *simulated,
            };
            true
        }
        Fact::CommandFinished {
            step,
            action,
            exit,
            duration_ms,
            timed_out,
            signal,
            ..
        } => {
            let Some((i, a)) = open_action(run, step, *action, |a| {
                matches!(a, ActionState::Running { .. } | ActionState::Unknown { .. })
            }) else {
                return false;
            };
            let ok = *exit == Some(0) && !*timed_out;
            *a = ActionState::Finished {
                exit: *exit,
                ok,
                at: ts,
                duration_ms: *duration_ms,
                output: String::new(),
            };
            if !ok {
                let why = if *timed_out {
                    "command timed out".to_string()
                } else if let Some(s) = signal {
                    format!("command killed by signal {s}")
                } else {
                    format!(
                        "command exited with status {}",
                        exit.map(|x| x.to_string()).unwrap_or("?".into())
                    )
                };
                run.steps[i].note = Some(why);
            }
            true
        }
        Fact::CommandUnknown {
            step,
            action,
            reason,
        } => {
            let Some((_, a)) = open_action(run, step, *action, |a| {
                matches!(a, ActionState::Running { .. })
            }) else {
                return false;
            };
            *a = ActionState::Unknown {
                reason: reason.clone(),
            };
            true
        }
        Fact::CommandReported {
            step,
            action,
            ok,
            note,
        } => {
            let by = who(&e.actor);
            let Some((_, a)) = open_action(run, step, *action, |a| !a.complete()) else {
                return false;
            };
            *a = ActionState::Reported {
                ok: *ok,
                note: note.clone(),
                by,
            };
            true
        }
        Fact::GateChanged {
            step,
            action,
            state,
            seen,
            ..
        } => {
            let Some((_, a)) = action_mut(run, step, *action) else {
                return false;
            };
            let (since, entered) = match a {
                ActionState::Gate {
                    state: old,
                    since,
                    entered,
                    ..
                } => {
                    if old == state {
                        return false;
                    }
                    (*since, *entered)
                }
                ActionState::Pending => (ts, ts),
                _ => return false,
            };
            let since = if *state == GateState::Holding {
                ts
            } else {
                since
            };
            *a = ActionState::Gate {
                state: *state,
                since,
                entered,
                seen: seen.clone(),
            };
            if *state == GateState::Passed {
                record_rpo(run, step, *action, seen, ts, false);
            }
            if *state == GateState::TimedOut {
                run.gate_timeouts.push(format!("{step}#{action}"));
                apply_timeout(run, step, *action);
            }
            true
        }
        Fact::GateOverridden {
            step,
            action,
            reason,
            seen,
            ..
        } => {
            let by = who(&e.actor);
            let Some((_, a)) = open_action(run, step, *action, |a| !a.complete()) else {
                return false;
            };
            *a = ActionState::Overridden {
                reason: reason.clone(),
                by: by.clone(),
                at: ts,
            };
            run.overrides
                .push((ts, by, format!("{step}#{action}"), reason.clone()));
            record_rpo(run, step, *action, seen, ts, true);
            if run.question.as_ref().is_some_and(|q| &q.step == step) {
                run.question = None;
            }
            true
        }
        Fact::AssertChecked {
            step,
            action,
            result,
            seen,
        } => {
            let Some((i, a)) = open_action(run, step, *action, |a| !a.complete()) else {
                return false;
            };
            *a = ActionState::Asserted {
                result: *result,
                at: ts,
                seen: seen.clone(),
            };
            if *result == Some(false) {
                run.steps[i].note = Some(format!("assert #{action} is false"));
            } else if result.is_none() {
                run.question = Some(Question {
                    step: step.clone(),
                    reason: format!(
                        "assert #{action} cannot be evaluated: a value is missing or stale"
                    ),
                    choices: vec![Choice::Retry, Choice::Stop],
                });
            }
            true
        }
        Fact::Decided { step, choice, .. } => {
            let Some(i) = run.idx(step) else { return false };
            run.question = None;
            match choice {
                Choice::Retry => {
                    run.stopped = None;
                    // Values seen before the decision do not count again.
                    run.readings = Readings::default();
                    if run.steps[i].status == StepStatus::Active {
                        // Re-evaluate the action under the cursor.
                        if let Some(c) = run.cursor(i) {
                            run.steps[i].actions[c] = ActionState::Pending;
                        }
                    } else {
                        run.steps[i].status = StepStatus::Pending;
                        run.jump_to = Some(i);
                    }
                }
                Choice::Skip => {
                    run.stopped = None;
                    run.steps[i].status = StepStatus::Skipped;
                    run.steps[i].ended_at = Some(ts);
                    if run.current == Some(i) {
                        run.current = None;
                    }
                }
                Choice::Stop => {
                    run.stopped = Some((step.clone(), "stopped by the operator".into()))
                }
                // The question is cleared: the step goes on.
                Choice::Proceed => {}
            }
            true
        }
        Fact::Jumped { to, .. } => {
            let Some(t) = run.idx(to) else { return false };
            run.jump_to = Some(t);
            if let Some(c) = run.current.take() {
                run.steps[c].status = StepStatus::Failed;
                run.steps[c].ended_at = Some(ts);
            }
            if run.steps[t].status != StepStatus::Active {
                run.steps[t].status = StepStatus::Pending;
            }
            true
        }
        Fact::Marked { mark, step } => {
            if run.marks.iter().any(|m| m.0 == *mark) {
                return false;
            }
            run.marks
                .push((*mark, ts, step.clone().unwrap_or_else(|| who(&e.actor))));
            true
        }
        Fact::Note { text } => {
            run.notes.push((ts, who(&e.actor), text.clone()));
            true
        }
        Fact::ImpactStarted { at } => {
            run.impact_start = Some(*at);
            true
        }
        Fact::RunFinished { outcome } => {
            if run.finished.is_some() {
                return false;
            }
            run.finished = Some((ts, outcome.clone()));
            run.current = None;
            true
        }
        Fact::DrillReport { .. } | Fact::Repair { .. } => true,
    }
}

/// The largest value a gate's time-limited conditions saw (RPO evidence).
fn rpo_max(run: &Run, step: &str, action: usize, seen: &[Seen]) -> Option<f64> {
    let i = run.idx(step)?;
    let Some(ActionKind::Gate { expect, .. }) =
        run.runbook.steps[i].actions.get(action).map(|a| &a.kind)
    else {
        return None;
    };
    let mut best: Option<f64> = None;
    for e in expect {
        let Some(c) = &e.cond else { continue };
        if !c.has_duration_literal() {
            continue;
        }
        let metrics: Vec<String> = c.selectors().iter().map(|s| s.metric.clone()).collect();
        for v in seen
            .iter()
            .filter(|s| metrics.iter().any(|m| s.what.starts_with(m.as_str())))
            .filter_map(|s| s.value)
        {
            best = Some(best.map_or(v, |b| b.max(v)));
        }
    }
    best
}

fn record_rpo(run: &mut Run, step: &str, action: usize, seen: &[Seen], ts: i64, overridden: bool) {
    let Some(i) = run.idx(step) else { return };
    let Some(ActionKind::Gate { expect, .. }) =
        run.runbook.steps[i].actions.get(action).map(|a| &a.kind)
    else {
        return;
    };
    for e in expect {
        let Some(c) = &e.cond else { continue };
        if !c.has_duration_literal() {
            continue;
        }
        let metrics: Vec<String> = c.selectors().iter().map(|s| s.metric.clone()).collect();
        let v = seen
            .iter()
            .filter(|s| metrics.iter().any(|m| s.what.starts_with(m.as_str())))
            .filter_map(|s| s.value)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        run.rpo.push(RpoEvidence {
            step: step.to_string(),
            condition: e.text.clone(),
            value_s: v,
            at: ts,
            overridden,
        });
    }
}

fn apply_timeout(run: &mut Run, step: &str, action: usize) {
    let Some(i) = run.idx(step) else { return };
    let Some(ActionKind::Gate {
        on_timeout,
        on_timeout_step,
        ..
    }) = run.runbook.steps[i]
        .actions
        .get(action)
        .map(|a| a.kind.clone())
    else {
        return;
    };
    // What happens next is derived (`StepFailed`, `Jumped`) or asked.
    if on_timeout == OnTimeout::Ask && on_timeout_step.is_none() {
        run.question = Some(Question {
            step: step.to_string(),
            reason: format!("gate #{action} timed out"),
            choices: vec![Choice::Retry, Choice::Skip, Choice::Stop],
        });
    }
}

// ---------------------------------------------------------------- deciding

fn append(fact: Fact) -> Effect {
    Effect::Append {
        fact,
        if_last_seq: None,
    }
}

/// Facts the run derives from its state now (conditional appends).
fn progress(run: &Run, fresh: bool) -> Vec<Effect> {
    let mut out = Vec::new();
    let derived = |f: Fact| Effect::Append {
        fact: f,
        if_last_seq: Some(run.last_seq),
    };
    if run.started_at.is_none()
        || run.finished.is_some()
        || run.question.is_some()
        || run.stopped.is_some()
    {
        return out;
    }
    let Some(i) = run.current else {
        if let Ok(Some(n)) = run.next_step() {
            let s = &run.runbook.steps[n];
            let (when, seen) = match s.when.as_ref().and_then(|w| run.runbook.condition(w)) {
                Some(nc) => {
                    let env = Env { run };
                    let mut seen = Vec::new();
                    let r = nc
                        .cond
                        .as_ref()
                        .and_then(|c| cond::eval(c, &env, &mut seen));
                    (Some(r), seen)
                }
                None => (None, Vec::new()),
            };
            if when == Some(Some(false)) {
                out.push(derived(Fact::StepSkipped {
                    step: s.id.clone(),
                    reason: format!("when `{}` is false", s.when.clone().unwrap_or_default()),
                    seen,
                }));
            } else {
                if s.ponr {
                    out.push(Effect::Warn(Warning::PointOfNoReturn {
                        step: s.id.clone(),
                        rollbacks: run.rollbacks_offered(),
                    }));
                }
                out.push(derived(Fact::StepStarted {
                    step: s.id.clone(),
                    rollback: false,
                    when,
                    seen,
                }));
            }
        }
        return out;
    };
    let s = &run.runbook.steps[i];
    let st = &run.steps[i];
    if s.ponr && !st.ponr_acknowledged {
        return out;
    }
    if let Some(a) = s.approval {
        let need = if a == Approval::TwoPerson { 2 } else { 1 };
        if st.approvals.len() < need {
            return out;
        }
    }
    let Some(c) = run.cursor(i) else {
        if !s.actions.is_empty() {
            out.push(derived(Fact::StepDone {
                step: s.id.clone(),
                marks: s.marks.clone(),
            }));
        }
        return out;
    };
    match (&s.actions[c].kind, &st.actions[c]) {
        (ActionKind::Command { .. }, ActionState::Finished { ok: false, .. })
        | (ActionKind::Command { .. }, ActionState::Reported { ok: false, .. }) => {
            let reason = st.note.clone().unwrap_or_else(|| "command failed".into());
            out.push(derived(Fact::StepFailed {
                step: s.id.clone(),
                reason,
            }));
        }
        // Evaluated on the first readings after the operator reaches it
        // (or at once when it reads no live value).
        (ActionKind::Assert { expect }, ActionState::Pending)
            if fresh
                || expect.iter().all(|e| {
                    e.cond
                        .as_ref()
                        .is_some_and(|c| c.selectors().is_empty() && c.triggers().is_empty())
                }) =>
        {
            let (r, seen) = run.eval_all(expect);
            out.push(derived(Fact::AssertChecked {
                step: s.id.clone(),
                action: c,
                result: r,
                seen,
            }));
        }
        (
            ActionKind::Assert { .. },
            ActionState::Asserted {
                result: Some(false),
                ..
            },
        ) => {
            out.push(derived(Fact::StepFailed {
                step: s.id.clone(),
                reason: format!("assert #{c} is false"),
            }));
        }
        (
            ActionKind::Gate {
                expect,
                hold,
                timeout,
                on_timeout,
                on_timeout_step,
            },
            state,
        ) => {
            let (r, seen) = run.eval_all(expect);
            let now = run.now_ms.max(run.readings.at_ms);
            let to_state = |r: Option<bool>| match r {
                Some(true) => GateState::Holding,
                Some(false) => GateState::Waiting,
                None => GateState::Unknown,
            };
            match state {
                ActionState::Pending => {
                    out.push(derived(Fact::GateChanged {
                        step: s.id.clone(),
                        action: c,
                        state: to_state(r),
                        seen,
                        rpo_s: None,
                    }));
                }
                ActionState::Gate {
                    state: gs,
                    since,
                    entered,
                    ..
                } => {
                    let timed_out = timeout.is_some_and(|t| now - entered >= t.as_millis_i64());
                    match gs {
                        GateState::TimedOut => {
                            if on_timeout_step.is_some() || *on_timeout == OnTimeout::Fail {
                                match on_timeout_step {
                                    Some(t) => out.push(derived(Fact::Jumped {
                                        from: s.id.clone(),
                                        to: t.clone(),
                                        reason: format!("gate #{c} timed out"),
                                    })),
                                    None => out.push(derived(Fact::StepFailed {
                                        step: s.id.clone(),
                                        reason: format!("gate #{c} timed out"),
                                    })),
                                }
                            }
                        }
                        GateState::Holding if r == Some(true) => {
                            if now - since >= hold.as_millis_i64() {
                                out.push(derived(Fact::GateChanged {
                                    step: s.id.clone(),
                                    action: c,
                                    state: GateState::Passed,
                                    rpo_s: rpo_max(run, &s.id, c, &seen),
                                    seen,
                                }));
                            } else if timed_out {
                                out.push(derived(Fact::GateChanged {
                                    step: s.id.clone(),
                                    action: c,
                                    state: GateState::TimedOut,
                                    seen,
                                    rpo_s: None,
                                }));
                            }
                        }
                        GateState::Passed => {}
                        _ => {
                            let next = to_state(r);
                            if timed_out {
                                out.push(derived(Fact::GateChanged {
                                    step: s.id.clone(),
                                    action: c,
                                    state: GateState::TimedOut,
                                    seen,
                                    rpo_s: None,
                                }));
                            } else if next != *gs {
                                out.push(derived(Fact::GateChanged {
                                    step: s.id.clone(),
                                    action: c,
                                    state: next,
                                    seen,
                                    rpo_s: None,
                                }));
                            } else if next == GateState::Holding && hold.is_zero() {
                                out.push(derived(Fact::GateChanged {
                                    step: s.id.clone(),
                                    action: c,
                                    state: GateState::Passed,
                                    rpo_s: rpo_max(run, &s.id, c, &seen),
                                    seen,
                                }));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    // A gate that turned true with no hold passes on the same evaluation.
    out
}

fn reject(msg: impl Into<String>) -> Vec<Effect> {
    vec![Effect::Rejected(msg.into())]
}

/// The current step and the action under its cursor, checked against a request.
fn at_cursor(run: &Run, step: &str, action: usize) -> Result<usize, String> {
    let Some(i) = run.idx(step) else {
        return Err(format!("no step `{step}`"));
    };
    if run.current != Some(i) {
        return Err(format!("step `{step}` is not the current step"));
    }
    if !matches!(
        run.waiting(),
        Waiting::Check { .. }
            | Waiting::Command { .. }
            | Waiting::CommandRunning { .. }
            | Waiting::CommandUnknown { .. }
            | Waiting::Gate { .. }
            | Waiting::Assert { .. }
    ) {
        return Err(format!("step `{step}` is waiting for something else first"));
    }
    if run.runbook.steps[i].actions.get(action).is_none() {
        return Err(format!("step `{step}` has no action #{action}"));
    }
    Ok(i)
}

/// The one entry point: fold a journal line or answer a request.
pub fn apply(run: &mut Run, ev: Event) -> Vec<Effect> {
    match ev {
        Event::Journaled(e) => {
            let mut out = Vec::new();
            let was_started = run.started_at.is_some();
            fold(run, &e);
            if !was_started && run.started_at.is_some() {
                // First line: nothing else to say.
            }
            out.extend(progress(run, false));
            out
        }
        Event::Tick { now_ms } => {
            run.now_ms = run.now_ms.max(now_ms);
            progress(run, false)
        }
        Event::Readings(r) => {
            run.now_ms = run.now_ms.max(r.at_ms);
            run.readings = r;
            progress(run, true)
        }
        Event::Start {
            mut inputs,
            drill,
            origin,
            file,
        } => {
            if run.started_at.is_some() {
                return reject("the run has already started");
            }
            let mut missing = Vec::new();
            for spec in &run.runbook.meta.inputs {
                match inputs.get(&spec.name) {
                    Some(v) if !spec.choices.is_empty() && !spec.choices.contains(v) => {
                        return reject(format!(
                            "input {}: `{v}` is not one of {}",
                            spec.name,
                            spec.choices.join(", ")
                        ));
                    }
                    Some(_) => {}
                    None => match &spec.default {
                        Some(d) => {
                            inputs.insert(spec.name.clone(), d.clone());
                        }
                        None => missing.push(spec.name.clone()),
                    },
                }
            }
            if let Some(extra) = inputs.keys().find(|k| run.runbook.input(k).is_none()) {
                return reject(format!("input {extra} is not declared by the runbook"));
            }
            if !missing.is_empty() {
                return reject(format!("inputs needed: {}", missing.join(", ")));
            }
            let secret: Vec<String> = run
                .runbook
                .meta
                .inputs
                .iter()
                .filter(|i| i.secret)
                .map(|i| i.name.clone())
                .collect();
            let journaled: BTreeMap<String, String> = inputs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if secret.contains(k) {
                            "********".to_string()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect();
            let rb = &run.runbook;
            vec![append(Fact::RunStarted {
                runbook: rb.meta.id.clone(),
                title: rb.meta.title.clone(),
                version: rb.meta.version.clone(),
                hash: rb.hash.clone(),
                file,
                origin,
                inputs: journaled,
                secret_inputs: secret,
                drill,
                rto_s: rb.meta.rto.map(|d| d.as_secs_f64()),
                rpo_s: rb.meta.rpo.map(|d| d.as_secs_f64()),
            })]
        }
        Event::Join => vec![append(Fact::Joined)],
        Event::Leave => vec![append(Fact::Left)],
        Event::Check { step, action } => {
            let i = match at_cursor(run, &step, action) {
                Ok(i) => i,
                Err(e) => return reject(e),
            };
            match run.waiting() {
                Waiting::Check { actions, .. } if actions.contains(&action) => {}
                _ => return reject("that is not a checklist item open now"),
            }
            let ActionKind::Check { text } = &run.runbook.steps[i].actions[action].kind else {
                return reject("not a checklist item");
            };
            vec![append(Fact::Ticked {
                step,
                action,
                text: text.clone(),
            })]
        }
        Event::RunCommand {
            step,
            action,
            confirm,
        } => {
            let i = match at_cursor(run, &step, action) {
                Ok(i) => i,
                Err(e) => return reject(e),
            };
            let s = &run.runbook.steps[i];
            let ActionKind::Command {
                text,
                timeout,
                confirm: phrase,
            } = &s.actions[action].kind
            else {
                return reject("not a command");
            };
            if !matches!(run.waiting(), Waiting::Command { action: a, .. } if a == action) {
                return reject(match run.waiting() {
                    Waiting::CommandRunning { .. } => "the command is running".to_string(),
                    Waiting::CommandUnknown { .. } => "its outcome is unknown: say what you verified (report) before anything else; it is never re-run by itself".to_string(),
                    _ => "that command is not the next action".to_string(),
                });
            }
            let simulated = run.drill && !run.policy.drills_execute;
            if !simulated && !run.policy.allow_exec {
                return reject(
                    "executing commands is off (runbooks.allow_exec = false): copy it and report the outcome",
                );
            }
            if let Some(p) = phrase {
                let want = cond::substitute(p, &run.inputs);
                if confirm.as_deref().map(str::trim) != Some(want.as_str()) {
                    return reject(format!("type `{want}` to run this command"));
                }
            } else if s.danger == Danger::Critical {
                return reject("a danger=critical command needs a confirm phrase");
            }
            let env = run
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            vec![Effect::Execute(CommandRequest {
                step,
                action,
                text: text.clone(),
                env,
                timeout_ms: timeout.as_millis_i64(),
                simulated,
            })]
        }
        Event::CopyCommand { step, action } => {
            let Some(i) = run.idx(&step) else {
                return reject(format!("no step `{step}`"));
            };
            match run.copy_text(i, action) {
                Some(text) => vec![Effect::Copy { text }],
                None => reject("not a command"),
            }
        }
        Event::ReportCommand {
            step,
            action,
            ok,
            note,
        } => {
            let i = match at_cursor(run, &step, action) {
                Ok(i) => i,
                Err(e) => return reject(e),
            };
            if !matches!(
                run.runbook.steps[i].actions[action].kind,
                ActionKind::Command { .. }
            ) {
                return reject("not a command");
            }
            if matches!(run.steps[i].actions[action], ActionState::Running { .. }) {
                return reject("the command is still running");
            }
            if note.trim().is_empty() {
                return reject("say what you ran or verified");
            }
            vec![append(Fact::CommandReported {
                step,
                action,
                ok,
                note,
            })]
        }
        Event::CommandLost {
            step,
            action,
            reason,
        } => {
            let Some(i) = run.idx(&step) else {
                return vec![];
            };
            if !matches!(
                run.steps[i].actions.get(action),
                Some(ActionState::Running { .. })
            ) {
                return vec![];
            }
            vec![Effect::Append {
                fact: Fact::CommandUnknown {
                    step,
                    action,
                    reason,
                },
                if_last_seq: Some(run.last_seq),
            }]
        }
        Event::Override {
            step,
            action,
            reason,
        } => {
            let i = match at_cursor(run, &step, action) {
                Ok(i) => i,
                Err(e) => {
                    // A timed-out gate waits on a question; overriding answers it.
                    match run.idx(&step) {
                        Some(i) if run.current == Some(i) => i,
                        _ => return reject(e),
                    }
                }
            };
            if reason.trim().is_empty() {
                return reject("an override needs a written reason");
            }
            match (
                &run.runbook.steps[i].actions.get(action).map(|a| &a.kind),
                run.steps[i].actions.get(action),
            ) {
                (Some(ActionKind::Gate { .. } | ActionKind::Assert { .. }), Some(st))
                    if !st.complete() => {}
                _ => return reject("only a gate or an assert not yet passed can be overridden"),
            }
            let seen = match &run.steps[i].actions[action] {
                ActionState::Gate { seen, .. } | ActionState::Asserted { seen, .. } => seen.clone(),
                _ => Vec::new(),
            };
            let rpo_s = rpo_max(run, &step, action, &seen);
            vec![append(Fact::GateOverridden {
                step,
                action,
                reason,
                seen,
                rpo_s,
            })]
        }
        Event::Approve { step, actor } => {
            let Some(i) = run.idx(&step) else {
                return reject(format!("no step `{step}`"));
            };
            if run.current != Some(i) {
                return reject(format!("step `{step}` is not the current step"));
            }
            let Some(kind) = run.runbook.steps[i].approval else {
                return reject("this step needs no approval");
            };
            if run.runbook.steps[i].ponr && !run.steps[i].ponr_acknowledged {
                return reject("acknowledge the point of no return first");
            }
            let have = &run.steps[i].approvals;
            let need = if kind == Approval::TwoPerson { 2 } else { 1 };
            if have.len() >= need {
                return reject("already approved");
            }
            if have.iter().any(|a| a.0 == actor.uid) {
                return reject(format!(
                    "a second person must approve from their own session: {} already did (uid {})",
                    actor.user, actor.uid
                ));
            }
            if kind == Approval::TwoPerson && have.is_empty() {
                vec![append(Fact::ApprovalRequested { step })]
            } else {
                vec![append(Fact::ApprovalGranted { step })]
            }
        }
        Event::AckPonr { step } => {
            let Some(i) = run.idx(&step) else {
                return reject(format!("no step `{step}`"));
            };
            if run.current != Some(i) || !run.runbook.steps[i].ponr {
                return reject("no point of no return to acknowledge here");
            }
            if run.steps[i].ponr_acknowledged {
                return reject("already acknowledged");
            }
            vec![append(Fact::PonrAcknowledged { step })]
        }
        Event::AckStep { step } => match run.waiting() {
            Waiting::Ack { step: s } if s == step => {
                let marks = run
                    .idx(&step)
                    .map(|i| run.runbook.steps[i].marks.clone())
                    .unwrap_or_default();
                vec![append(Fact::StepDone { step, marks })]
            }
            _ => reject("this step is not waiting for an acknowledgement"),
        },
        Event::Decide {
            step,
            choice,
            reason,
        } => {
            let waiting_here = run
                .question
                .as_ref()
                .is_some_and(|q| q.step == step && q.choices.contains(&choice))
                || run
                    .stopped
                    .as_ref()
                    .is_some_and(|s| s.0 == step && choice != Choice::Stop);
            if !waiting_here {
                return reject("there is no such question on this step");
            }
            let mut out = vec![append(Fact::Decided {
                step: step.clone(),
                choice,
                reason: reason.clone(),
            })];
            if choice == Choice::Skip {
                out.push(append(Fact::StepSkipped {
                    step,
                    reason: if reason.is_empty() {
                        "skipped by the operator".into()
                    } else {
                        reason
                    },
                    seen: vec![],
                }));
            }
            out
        }
        Event::StartRollback { step } => {
            if !run.rollbacks_offered().contains(&step) {
                return reject(format!("rollback `{step}` is not offered now"));
            }
            vec![append(Fact::StepStarted {
                step,
                rollback: true,
                when: None,
                seen: vec![],
            })]
        }
        Event::Mark { mark } => {
            if run.marks.iter().any(|m| m.0 == mark) {
                return reject(format!("already marked {}", mark.name()));
            }
            vec![append(Fact::Marked { mark, step: None })]
        }
        Event::Note { text } => {
            if text.trim().is_empty() {
                return reject("empty note");
            }
            vec![append(Fact::Note { text })]
        }
        Event::ImpactStart { at_ms } => vec![append(Fact::ImpactStarted { at: at_ms })],
        Event::Finish { outcome } => {
            if run.finished.is_some() {
                return reject("the run is already finished");
            }
            if run.started_at.is_none() {
                return reject("the run has not started");
            }
            let mut out = Vec::new();
            if run.drill {
                out.push(append(Fact::DrillReport {
                    report: drill_report(run),
                }));
            }
            out.push(append(Fact::RunFinished { outcome }));
            out
        }
    }
}

/// Each step's duration against its `eta`, gates that timed out, overrides, notes.
pub fn drill_report(run: &Run) -> DrillReport {
    let mut r = DrillReport {
        rto_target_s: run.runbook.meta.rto.map(|d| d.as_secs_f64()),
        rto_observed_s: Some(run.rto().elapsed_ms as f64 / 1000.0),
        ..DrillReport::default()
    };
    for (i, s) in run.runbook.steps.iter().enumerate() {
        let st = &run.steps[i];
        r.steps.push(DrillStep {
            step: s.id.clone(),
            status: format!("{:?}", st.status).to_lowercase(),
            duration_s: match (st.started_at, st.ended_at) {
                (Some(a), Some(b)) => Some((b - a) as f64 / 1000.0),
                _ => None,
            },
            eta_s: s.eta.map(|d| d.as_secs_f64()),
        });
    }
    r.gates_timed_out = run.gate_timeouts.clone();
    r.overrides = run
        .overrides
        .iter()
        .map(|o| format!("{} by {}: {}", o.2, o.1, o.3))
        .collect();
    r.notes = run
        .notes
        .iter()
        .map(|n| format!("{}: {}", n.1, n.2))
        .collect();
    r
}

/// Rebuilds a run from its journal lines.
pub fn replay(mut run: Run, entries: &[Entry]) -> Run {
    for e in entries {
        fold(&mut run, e);
    }
    run
}

/// Keys for `Readings::selectors`: a selector's text after substitution.
pub fn reading_key(sel: &Selector) -> String {
    sel.to_string()
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
