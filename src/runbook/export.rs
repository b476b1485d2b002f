//! A run's timeline, made from its journal alone: for the postmortem.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::cond::Seen;
use super::journal::{self, Damage, JOURNAL, JournalError};
use super::model::Mark;
use super::record::{Entry, Fact, GateState};
use crate::time::{human_secs, rfc3339};

#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub run: String,
    pub runbook: String,
    pub title: String,
    pub version: Option<String>,
    pub hash: String,
    pub drill: bool,
    pub inputs: BTreeMap<String, String>,
    pub participants: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyTimes {
    pub impact_start: Option<i64>,
    pub started: Option<i64>,
    pub mitigated: Option<i64>,
    pub restored: Option<i64>,
    pub resolved: Option<i64>,
    pub finished: Option<i64>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    pub target_s: Option<f64>,
    pub observed_s: Option<f64>,
    /// `None` when either side is unknown.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    pub seq: u64,
    pub ts: i64,
    pub who: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<Seen>,
    #[serde(rename = "override")]
    pub override_: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub header: Header,
    pub key_times: KeyTimes,
    pub rto: Objective,
    pub rpo: Objective,
    pub timeline: Vec<TimelineRow>,
    pub overrides: Vec<TimelineRow>,
    pub damage: Vec<Damage>,
    pub lines: u64,
    pub last_hash: String,
    pub chain_ok: bool,
}

fn seen_text(seen: &[Seen]) -> String {
    let parts: Vec<String> = seen
        .iter()
        .map(|s| {
            let labels = if s.labels.is_empty() {
                String::new()
            } else {
                crate::source::labels_text(&s.labels)
            };
            let v = match s.value {
                Some(v) if s.stale => format!("{v} (stale)"),
                Some(v) => format!("{v}"),
                None => "no value".into(),
            };
            format!("{}{labels} = {v}", s.what)
        })
        .collect();
    parts.join("; ")
}

/// One line of plain words for a fact, as the timeline shows it.
pub fn describe(f: &Fact) -> String {
    match f {
        Fact::RunStarted {
            runbook,
            drill,
            inputs,
            ..
        } => {
            let ins: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "started {}{runbook}{}",
                if *drill { "a DRILL of " } else { "" },
                if ins.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", ins.join(", "))
                }
            )
        }
        Fact::Joined => "joined".into(),
        Fact::Left => "left".into(),
        Fact::StepStarted {
            step,
            rollback,
            when,
            ..
        } => format!(
            "started {}step `{step}`{}",
            if *rollback { "rollback " } else { "" },
            match when {
                Some(None) => " (its `when` was unknown: not skipped)",
                _ => "",
            }
        ),
        Fact::StepSkipped { step, reason, .. } => format!("skipped `{step}`: {reason}"),
        Fact::StepDone { step, marks } => {
            if marks.is_empty() {
                format!("finished `{step}`")
            } else {
                let m: Vec<&str> = marks.iter().map(|m| m.name()).collect();
                format!("finished `{step}`, marked {}", m.join(", "))
            }
        }
        Fact::StepFailed { step, reason } => format!("`{step}` FAILED: {reason}"),
        Fact::PonrAcknowledged { step } => {
            format!("acknowledged the point of no return at `{step}`")
        }
        Fact::ApprovalRequested { step } => format!("approved `{step}` (first of two)"),
        Fact::ApprovalGranted { step } => format!("approved `{step}`"),
        Fact::Ticked { step, text, .. } => format!("ticked `{step}`: {text}"),
        Fact::CommandStarted {
            step,
            action,
            simulated,
            pid,
            ..
        } => {
            if *simulated {
                format!("simulated command #{action} of `{step}` (drill)")
            } else {
                format!("ran command #{action} of `{step}` (pid {pid})")
            }
        }
        Fact::CommandFinished {
            step,
            action,
            exit,
            timed_out,
            duration_ms,
            output_hash,
            signal,
            simulated,
            ..
        } => {
            if *simulated {
                format!("simulated command #{action} of `{step}` done")
            } else {
                let how = if *timed_out {
                    "TIMED OUT".to_string()
                } else if let Some(s) = signal {
                    format!("killed by signal {s}")
                } else {
                    format!("exit {}", exit.map(|e| e.to_string()).unwrap_or("?".into()))
                };
                format!(
                    "command #{action} of `{step}`: {how} after {}, output sha256 {}",
                    human_secs(*duration_ms as f64 / 1000.0),
                    &output_hash[..output_hash.len().min(12)]
                )
            }
        }
        Fact::CommandUnknown {
            step,
            action,
            reason,
        } => format!("OUTCOME UNKNOWN of command #{action} of `{step}`: {reason}"),
        Fact::CommandReported {
            step,
            action,
            ok,
            note,
        } => format!(
            "reported command #{action} of `{step}` {}: {note}",
            if *ok { "done" } else { "failed" }
        ),
        Fact::GateChanged {
            step,
            action,
            state,
            rpo_s,
            ..
        } => format!(
            "gate #{action} of `{step}`: {}{}",
            match state {
                GateState::Waiting => "waiting (false)",
                GateState::Unknown => "unknown (missing or stale values)",
                GateState::Holding => "holding",
                GateState::Passed => "PASSED",
                GateState::TimedOut => "TIMED OUT",
            },
            rpo_s
                .map(|v| format!(", lag {}", human_secs(v)))
                .unwrap_or_default()
        ),
        Fact::GateOverridden {
            step,
            action,
            reason,
            ..
        } => format!("OVERRODE gate #{action} of `{step}`: {reason}"),
        Fact::AssertChecked {
            step,
            action,
            result,
            ..
        } => format!(
            "assert #{action} of `{step}`: {}",
            match result {
                Some(true) => "true",
                Some(false) => "FALSE",
                None => "unknown",
            }
        ),
        Fact::Decided {
            step,
            choice,
            reason,
        } => format!(
            "decided {:?} at `{step}`{}",
            choice,
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        )
        .to_lowercase(),
        Fact::Jumped { from, to, reason } => format!("went from `{from}` to `{to}`: {reason}"),
        Fact::Marked { mark, .. } => format!("marked {}", mark.name()),
        Fact::Note { text } => format!("note: {text}"),
        Fact::ImpactStarted { at } => format!("set impact start to {}", rfc3339(*at)),
        Fact::RunFinished { outcome } => format!("finished the run: {outcome}"),
        Fact::DrillReport { report } => format!(
            "drill report: {} steps, {} gate timeouts, {} overrides",
            report.steps.len(),
            report.gates_timed_out.len(),
            report.overrides.len()
        ),
        Fact::Repair { line, bytes, .. } => format!("repaired a torn line {line} ({bytes} bytes)"),
    }
}

fn seen_of(f: &Fact) -> Vec<Seen> {
    match f {
        Fact::GateChanged { seen, .. }
        | Fact::GateOverridden { seen, .. }
        | Fact::AssertChecked { seen, .. }
        | Fact::StepSkipped { seen, .. }
        | Fact::StepStarted { seen, .. } => seen.clone(),
        _ => Vec::new(),
    }
}

/// Builds the export of a run folder from its journal.
pub fn export(run_dir: &Path) -> Result<Export, JournalError> {
    let read = journal::read(&run_dir.join(JOURNAL))?;
    Ok(from_entries(
        &run_dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        &read.entries,
        read.damage,
        read.lines,
        read.last_hash,
    ))
}

pub fn from_entries(
    run: &str,
    entries: &[Entry],
    damage: Vec<Damage>,
    lines: u64,
    last_hash: String,
) -> Export {
    let mut header = Header {
        run: run.to_string(),
        runbook: String::new(),
        title: String::new(),
        version: None,
        hash: String::new(),
        drill: false,
        inputs: BTreeMap::new(),
        participants: Vec::new(),
    };
    let mut kt = KeyTimes {
        impact_start: None,
        started: None,
        mitigated: None,
        restored: None,
        resolved: None,
        finished: None,
        outcome: None,
    };
    let (mut rto_t, mut rpo_t) = (None, None);
    let mut rpo_seen: Option<f64> = None;
    let mut timeline = Vec::new();
    for e in entries {
        let who = e.actor.label();
        if !header.participants.contains(&who) {
            header.participants.push(who.clone());
        }
        let mut mark = |m: Mark| {
            let slot = match m {
                Mark::Mitigated => &mut kt.mitigated,
                Mark::Restored => &mut kt.restored,
                Mark::Resolved => &mut kt.resolved,
            };
            slot.get_or_insert(e.ts);
        };
        match &e.fact {
            Fact::RunStarted {
                runbook,
                title,
                version,
                hash,
                inputs,
                drill,
                rto_s,
                rpo_s,
                ..
            } => {
                header.runbook = runbook.clone();
                header.title = title.clone();
                header.version = version.clone();
                header.hash = hash.clone();
                header.inputs = inputs.clone();
                header.drill = *drill;
                kt.started.get_or_insert(e.ts);
                kt.impact_start.get_or_insert(e.ts);
                rto_t = *rto_s;
                rpo_t = *rpo_s;
            }
            Fact::ImpactStarted { at } => kt.impact_start = Some(*at),
            Fact::Marked { mark: m, .. } => mark(*m),
            Fact::StepDone { marks, .. } => marks.iter().for_each(|m| mark(*m)),
            Fact::RunFinished { outcome } => {
                kt.finished.get_or_insert(e.ts);
                kt.outcome.get_or_insert(outcome.clone());
            }
            Fact::GateChanged {
                state: GateState::Passed,
                rpo_s: Some(v),
                ..
            }
            | Fact::GateOverridden { rpo_s: Some(v), .. } => {
                rpo_seen = Some(rpo_seen.map_or(*v, |m| m.max(*v)));
            }
            _ => {}
        }
        timeline.push(TimelineRow {
            seq: e.seq,
            ts: e.ts,
            who,
            kind: e.fact.type_name().to_string(),
            text: describe(&e.fact),
            seen: seen_of(&e.fact),
            override_: matches!(e.fact, Fact::GateOverridden { .. }),
        });
    }
    let rto_obs = match (kt.impact_start, kt.restored) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 1000.0),
        _ => None,
    };
    let met = |t: Option<f64>, o: Option<f64>| match (t, o) {
        (Some(t), Some(o)) => Some(o <= t),
        _ => None,
    };
    let overrides = timeline.iter().filter(|r| r.override_).cloned().collect();
    let chain_ok = damage.is_empty();
    Export {
        header,
        key_times: kt,
        rto: Objective {
            target_s: rto_t,
            observed_s: rto_obs,
            met: met(rto_t, rto_obs),
        },
        rpo: Objective {
            target_s: rpo_t,
            observed_s: rpo_seen,
            met: met(rpo_t, rpo_seen),
        },
        timeline,
        overrides,
        damage,
        lines,
        last_hash,
        chain_ok,
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn opt_secs(v: Option<f64>) -> String {
    v.map(human_secs).unwrap_or_else(|| "-".into())
}

/// Markdown that pastes into a postmortem.
pub fn markdown(x: &Export) -> String {
    let mut s = String::new();
    let h = &x.header;
    s.push_str(&format!(
        "# {}{}: {}\n\n",
        if h.drill { "DRILL " } else { "" },
        h.run,
        cell(&h.title)
    ));
    s.push_str("| | |\n|---|---|\n");
    s.push_str(&format!(
        "| Runbook | `{}`{} |\n",
        h.runbook,
        h.version
            .as_ref()
            .map(|v| format!(" version {v}"))
            .unwrap_or_default()
    ));
    s.push_str(&format!("| Runbook sha256 | `{}` |\n", h.hash));
    if !h.inputs.is_empty() {
        let ins: Vec<String> = h.inputs.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
        s.push_str(&format!("| Inputs | {} |\n", cell(&ins.join(", "))));
    }
    s.push_str(&format!(
        "| Participants | {} |\n\n",
        cell(&h.participants.join(", "))
    ));
    s.push_str("## Key times (UTC)\n\n| Event | Time | Since impact |\n|---|---|---|\n");
    let k = &x.key_times;
    for (name, t) in [
        ("Impact start", k.impact_start),
        ("Run started", k.started),
        ("Mitigated", k.mitigated),
        ("Restored", k.restored),
        ("Resolved", k.resolved),
        ("Run finished", k.finished),
    ] {
        let since = match (t, k.impact_start) {
            (Some(t), Some(i)) => human_secs((t - i) as f64 / 1000.0),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "| {name} | {} | {since} |\n",
            t.map(rfc3339).unwrap_or_else(|| "-".into())
        ));
    }
    if let Some(o) = &k.outcome {
        s.push_str(&format!("\nOutcome: {}\n", cell(o)));
    }
    s.push_str("\n## Objectives\n\n| | Target | Observed | Met |\n|---|---|---|---|\n");
    for (name, o) in [("RTO", &x.rto), ("RPO", &x.rpo)] {
        let met = match o.met {
            Some(true) => "yes",
            Some(false) => "**NO**",
            None => "-",
        };
        s.push_str(&format!(
            "| {name} | {} | {} | {met} |\n",
            opt_secs(o.target_s),
            opt_secs(o.observed_s)
        ));
    }
    s.push_str("\nRPO observed is the largest lag a time-limited gate saw when it passed or was overridden.\n");
    s.push_str("\n## Timeline\n\n| # | Time (UTC) | Who | What |\n|---|---|---|---|\n");
    for r in &x.timeline {
        let mut what = cell(&r.text);
        if !r.seen.is_empty() {
            what.push_str(&format!(" — saw {}", cell(&seen_text(&r.seen))));
        }
        if r.override_ {
            what = format!("**{what}**");
        }
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.seq,
            rfc3339(r.ts),
            cell(&r.who),
            what
        ));
    }
    s.push_str("\n## Overrides\n\n");
    if x.overrides.is_empty() {
        s.push_str("None.\n");
    } else {
        for r in &x.overrides {
            s.push_str(&format!("- {} {}: {}", rfc3339(r.ts), r.who, r.text));
            if !r.seen.is_empty() {
                s.push_str(&format!(" (gate saw {})", seen_text(&r.seen)));
            }
            s.push('\n');
        }
    }
    s.push_str("\n## Journal\n\n");
    s.push_str(&format!("{} lines; last hash `{}`; ", x.lines, x.last_hash));
    if x.chain_ok {
        s.push_str("the hash chain verifies.\n");
    } else {
        s.push_str("**the hash chain does not verify**:\n\n");
        for d in &x.damage {
            s.push_str(&format!("- line {}: {}\n", d.line, cell(&d.what)));
        }
    }
    s
}
