//! What a journal line records: who did what, when. A run's state is a fold
//! of these facts, so replaying a journal rebuilds the run exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cond::Seen;
use super::model::Mark;

/// Who appended a line: the OS user, where they sit, how they came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    pub user: String,
    pub uid: u32,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// `SSH_CONNECTION`: client address and port, server address and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    /// The process that wrote the line.
    #[serde(default)]
    pub pid: u32,
}

impl Actor {
    /// `alice@bastion-1 (pts/3, from 10.0.0.5)`.
    pub fn label(&self) -> String {
        let mut s = format!("{}@{}", self.user, self.host);
        let mut extra = Vec::new();
        if let Some(t) = &self.tty {
            extra.push(t.trim_start_matches("/dev/").to_string());
        }
        if let Some(ssh) = &self.ssh
            && let Some(from) = ssh.split_whitespace().next()
        {
            extra.push(format!("from {from}"));
        }
        if !extra.is_empty() {
            s.push_str(&format!(" ({})", extra.join(", ")));
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    /// Conditions are false.
    Waiting,
    /// A value is missing or stale: never counts as true.
    Unknown,
    /// Conditions true since the `since` of the journal line.
    Holding,
    Passed,
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Evaluate the gate or assert again, or run the step again.
    Retry,
    /// Count the step as skipped and go on.
    Skip,
    /// Stop the run here.
    Stop,
    /// Do the step although its `when` could not be decided.
    Proceed,
}

/// One fact of a run, as journaled (`"type"` names the variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fact {
    RunStarted {
        runbook: String,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// sha256 of the runbook bytes copied into the run folder.
        hash: String,
        /// The copy's file name in the run folder.
        file: String,
        /// Where it was read from.
        #[serde(default)]
        origin: String,
        inputs: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        secret_inputs: Vec<String>,
        #[serde(default)]
        drill: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rto_s: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rpo_s: Option<f64>,
    },
    Joined,
    Left,
    StepStarted {
        step: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        rollback: bool,
        /// The `when` result and the values it saw (unknown: not skipped).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<Option<bool>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        seen: Vec<Seen>,
    },
    StepSkipped {
        step: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        seen: Vec<Seen>,
    },
    StepDone {
        step: String,
        /// The step's `marks`, set as it is done.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        marks: Vec<Mark>,
    },
    StepFailed {
        step: String,
        reason: String,
    },
    PonrAcknowledged {
        step: String,
    },
    ApprovalRequested {
        step: String,
    },
    ApprovalGranted {
        step: String,
    },
    Ticked {
        step: String,
        action: usize,
        text: String,
    },
    CommandStarted {
        step: String,
        action: usize,
        /// Process id of the child running it (0 when simulated).
        pid: u32,
        /// Output file in the run folder.
        #[serde(default)]
        output: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        simulated: bool,
        /// sha256 of the command text.
        text_hash: String,
    },
    CommandFinished {
        step: String,
        action: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
        duration_ms: u64,
        output_hash: String,
        output_bytes: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        simulated: bool,
    },
    CommandUnknown {
        step: String,
        action: usize,
        reason: String,
    },
    /// The operator says what they verified (after an unknown outcome, or
    /// for a command run by hand).
    CommandReported {
        step: String,
        action: usize,
        ok: bool,
        note: String,
    },
    GateChanged {
        step: String,
        action: usize,
        state: GateState,
        seen: Vec<Seen>,
        /// On passing: the largest value its time-limited conditions saw
        /// (a lag, in seconds): RPO evidence.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rpo_s: Option<f64>,
    },
    GateOverridden {
        step: String,
        action: usize,
        reason: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        seen: Vec<Seen>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rpo_s: Option<f64>,
    },
    AssertChecked {
        step: String,
        action: usize,
        result: Option<bool>,
        seen: Vec<Seen>,
    },
    Decided {
        step: String,
        choice: Choice,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    Jumped {
        from: String,
        to: String,
        reason: String,
    },
    Marked {
        mark: Mark,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
    Note {
        text: String,
    },
    ImpactStarted {
        at: i64,
    },
    RunFinished {
        outcome: String,
    },
    DrillReport {
        report: DrillReport,
    },
    /// A torn line (an append cut short) was found before this one.
    Repair {
        line: u64,
        bytes: u64,
        hash: String,
    },
}

impl Fact {
    pub fn type_name(&self) -> &'static str {
        match self {
            Fact::RunStarted { .. } => "run_started",
            Fact::Joined => "joined",
            Fact::Left => "left",
            Fact::StepStarted { .. } => "step_started",
            Fact::StepSkipped { .. } => "step_skipped",
            Fact::StepDone { .. } => "step_done",
            Fact::StepFailed { .. } => "step_failed",
            Fact::PonrAcknowledged { .. } => "ponr_acknowledged",
            Fact::ApprovalRequested { .. } => "approval_requested",
            Fact::ApprovalGranted { .. } => "approval_granted",
            Fact::Ticked { .. } => "ticked",
            Fact::CommandStarted { .. } => "command_started",
            Fact::CommandFinished { .. } => "command_finished",
            Fact::CommandUnknown { .. } => "command_unknown",
            Fact::CommandReported { .. } => "command_reported",
            Fact::GateChanged { .. } => "gate_changed",
            Fact::GateOverridden { .. } => "gate_overridden",
            Fact::AssertChecked { .. } => "assert_checked",
            Fact::Decided { .. } => "decided",
            Fact::Jumped { .. } => "jumped",
            Fact::Marked { .. } => "marked",
            Fact::Note { .. } => "note",
            Fact::ImpactStarted { .. } => "impact_started",
            Fact::RunFinished { .. } => "run_finished",
            Fact::DrillReport { .. } => "drill_report",
            Fact::Repair { .. } => "repair",
        }
    }
}

/// One step of a drill report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillStep {
    pub step: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_s: Option<f64>,
}

/// What a drill showed, journaled at its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DrillReport {
    pub steps: Vec<DrillStep>,
    pub gates_timed_out: Vec<String>,
    pub overrides: Vec<String>,
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_target_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_observed_s: Option<f64>,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub v: u32,
    pub seq: u64,
    /// Unix milliseconds.
    pub ts: i64,
    pub run: String,
    pub actor: Actor,
    #[serde(flatten)]
    pub fact: Fact,
    /// sha256 of the previous line's bytes (64 zeros for the first).
    pub prev: String,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
