//! A parsed runbook: front matter, steps and their actions, each with the
//! line and column it was written at.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cond::Cond;
use crate::config::Dur;

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Byte offset → line and column.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let col = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        Pos {
            line: line as u32 + 1,
            col: col as u32 + 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Failover,
    Restore,
    Degrade,
    Scale,
    Drill,
    #[default]
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Failover => "failover",
            Kind::Restore => "restore",
            Kind::Degrade => "degrade",
            Kind::Scale => "scale",
            Kind::Drill => "drill",
            Kind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSpec {
    pub name: String,
    pub prompt: String,
    pub choices: Vec<String>,
    pub default: Option<String>,
    pub secret: bool,
    pub pos: Pos,
}

/// One `watch` query: the name its results are known by and its PromQL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watch {
    pub name: String,
    pub expr: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamedCond {
    pub name: String,
    pub text: String,
    /// `None` when it did not parse (the linter says why).
    pub cond: Option<Cond>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meta {
    pub schema: i64,
    pub id: String,
    pub title: String,
    pub kind: Kind,
    pub version: Option<String>,
    pub summary: Option<String>,
    pub owners: Vec<String>,
    pub source: Option<String>,
    /// Trigger keys (`database/pool`) with their positions.
    pub triggers: Vec<(String, Pos)>,
    pub watch: Vec<Watch>,
    pub rto: Option<Dur>,
    pub rpo: Option<Dur>,
    pub inputs: Vec<InputSpec>,
    pub conditions: Vec<NamedCond>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Danger {
    #[default]
    None,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    Ack,
    TwoPerson,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    Stop,
    Ask,
    Step(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Mitigated,
    Restored,
    Resolved,
}

impl Mark {
    pub fn name(self) -> &'static str {
        match self {
            Mark::Mitigated => "mitigated",
            Mark::Restored => "restored",
            Mark::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Mark> {
        Some(match s {
            "mitigated" => Mark::Mitigated,
            "restored" => Mark::Restored,
            "resolved" => Mark::Resolved,
            _ => return None,
        })
    }
}

/// `requires`: every group must be met; a group is met by any of its ids
/// (`a,b` is two groups, `a|b` one group of two).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Requires(pub Vec<Vec<String>>);

impl Requires {
    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.0.iter().flatten()
    }

    pub fn met(&self, done: impl Fn(&str) -> bool) -> bool {
        self.0.iter().all(|g| g.iter().any(|id| done(id)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub text: String,
    pub cond: Option<Cond>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    Ask,
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    Check {
        text: String,
    },
    Command {
        /// The shell text, never rewritten.
        text: String,
        timeout: Dur,
        /// The phrase to type, `${INPUT}` not yet substituted.
        confirm: Option<String>,
    },
    Gate {
        expect: Vec<Expect>,
        hold: Dur,
        timeout: Option<Dur>,
        on_timeout: OnTimeout,
        /// `on_timeout = "STEP"`.
        on_timeout_step: Option<String>,
    },
    Assert {
        expect: Vec<Expect>,
    },
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Check { .. } => "check",
            ActionKind::Command { .. } => "command",
            ActionKind::Gate { .. } => "gate",
            ActionKind::Assert { .. } => "assert",
        }
    }
}

/// One action of a step, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The fence's `id`, when it has one.
    pub id: Option<String>,
    pub kind: ActionKind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub pos: Pos,
    pub eta: Option<Dur>,
    pub owner: Option<String>,
    pub danger: Danger,
    pub approval: Option<Approval>,
    pub requires: Requires,
    pub when: Option<String>,
    pub ponr: bool,
    pub rollback: bool,
    pub undoes: Vec<String>,
    pub on_fail: Option<OnFail>,
    pub marks: Vec<Mark>,
    /// The step's Markdown below its heading, as written.
    pub body: String,
    pub actions: Vec<Action>,
    /// Positions of attributes, for the linter (`requires` → its position).
    pub attr_pos: BTreeMap<String, Pos>,
}

impl Step {
    pub fn on_fail(&self) -> OnFail {
        self.on_fail.clone().unwrap_or(OnFail::Stop)
    }
}

/// A problem found while reading a runbook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
}

/// A runbook as read from its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    pub meta: Meta,
    /// The `#` heading.
    pub title: String,
    /// Prose under the title: when to use it, when not to.
    pub intro: String,
    pub steps: Vec<Step>,
    /// sha256 of the bytes, hex.
    pub hash: String,
    /// Problems the parser found (the linter adds its own).
    pub problems: Vec<Problem>,
}

impl Runbook {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    pub fn condition(&self, name: &str) -> Option<&NamedCond> {
        self.meta.conditions.iter().find(|c| c.name == name)
    }

    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        self.meta.inputs.iter().find(|i| i.name == name)
    }
}
