//! The runbook list and the runs on disk: what `runbook list` prints and
//! what the list screen shows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::journal::{self, JOURNAL};
use super::lint::lint_file;
use super::record::Fact;
use crate::config::{Config, trigger_key};

/// One run folder, summarised from its journal.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub dir: PathBuf,
    pub runbook: String,
    pub title: String,
    pub drill: bool,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    pub last_ts: i64,
    pub entries: usize,
    pub damaged_lines: Vec<u64>,
}

impl RunSummary {
    pub fn open(&self) -> bool {
        self.finished_at.is_none()
    }
}

/// Every run under `runs_dir`, newest first. Unreadable folders are skipped.
pub fn scan_runs(runs_dir: &Path) -> Vec<RunSummary> {
    let Ok(rd) = std::fs::read_dir(runs_dir) else {
        return Vec::new();
    };
    let mut out: Vec<RunSummary> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(JOURNAL).is_file())
        .filter_map(|dir| summarise(&dir))
        .collect();
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    out
}

pub fn summarise(dir: &Path) -> Option<RunSummary> {
    let r = journal::read(&dir.join(JOURNAL)).ok()?;
    let mut s = RunSummary {
        id: dir.file_name()?.to_string_lossy().into_owned(),
        dir: dir.to_path_buf(),
        runbook: String::new(),
        title: String::new(),
        drill: false,
        started_at: None,
        finished_at: None,
        outcome: None,
        last_ts: 0,
        entries: r.entries.len(),
        damaged_lines: r.damage.iter().map(|d| d.line).collect(),
    };
    for e in &r.entries {
        s.last_ts = s.last_ts.max(e.ts);
        match &e.fact {
            Fact::RunStarted {
                runbook,
                title,
                drill,
                ..
            } if s.started_at.is_none() => {
                s.runbook = runbook.clone();
                s.title = title.clone();
                s.drill = *drill;
                s.started_at = Some(e.ts);
            }
            Fact::RunFinished { outcome } if s.finished_at.is_none() => {
                s.finished_at = Some(e.ts);
                s.outcome = Some(outcome.clone());
            }
            _ => {}
        }
    }
    Some(s)
}

#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub path: PathBuf,
    pub id: String,
    pub title: String,
    pub kind: String,
    pub rto: Option<String>,
    pub rpo: Option<String>,
    /// Triggers that offer it: its own `triggers` and configured triggers
    /// naming it as their `runbook`.
    pub triggers: Vec<String>,
    /// Lint problems as `file:line:col: message`; empty when it lints clean.
    pub problems: Vec<String>,
    /// Start of the newest drill of it, from the journals.
    pub last_drilled: Option<i64>,
    pub never_drilled: bool,
    pub open_runs: Vec<String>,
}

/// Every runbook in a folder, with its lint problems; a malformed file is
/// listed with them, never dropped.
pub fn list(
    dir: &Path,
    config: Option<&Config>,
    runs: &[RunSummary],
) -> std::io::Result<Vec<Listed>> {
    let files = super::lint::runbook_files(dir)?;
    let mut out = Vec::new();
    for f in files {
        let l = lint_file(&f, config);
        let problems = l.lines();
        let (id, title, kind, rto, rpo, mut triggers) = match &l.runbook {
            Some(rb) => (
                rb.meta.id.clone(),
                if rb.meta.title.is_empty() {
                    rb.title.clone()
                } else {
                    rb.meta.title.clone()
                },
                rb.meta.kind.name().to_string(),
                rb.meta.rto.map(|d| d.to_string()),
                rb.meta.rpo.map(|d| d.to_string()),
                rb.meta
                    .triggers
                    .iter()
                    .map(|t| t.0.clone())
                    .collect::<BTreeSet<_>>(),
            ),
            None => (
                String::new(),
                String::new(),
                String::new(),
                None,
                None,
                BTreeSet::new(),
            ),
        };
        if let Some(c) = config
            && !id.is_empty()
        {
            for (d, t) in c.triggers() {
                if t.runbook.as_deref() == Some(id.as_str()) {
                    triggers.insert(trigger_key(d, t));
                }
            }
        }
        let mine = || runs.iter().filter(|r| !id.is_empty() && r.runbook == id);
        let last_drilled = mine()
            .filter(|r| r.drill)
            .filter_map(|r| r.started_at)
            .max();
        out.push(Listed {
            path: f.clone(),
            id: if id.is_empty() {
                f.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                id.clone()
            },
            title,
            kind,
            rto,
            rpo,
            triggers: triggers.into_iter().collect(),
            problems,
            last_drilled,
            never_drilled: last_drilled.is_none(),
            open_runs: mine().filter(|r| r.open()).map(|r| r.id.clone()).collect(),
        });
    }
    Ok(out)
}

pub fn list_text(entries: &[Listed]) -> String {
    let mut s = String::new();
    for e in entries {
        let objectives = match (&e.rto, &e.rpo) {
            (None, None) => "no objectives".to_string(),
            (rto, rpo) => format!(
                "RTO {} RPO {}",
                rto.as_deref().unwrap_or("-"),
                rpo.as_deref().unwrap_or("-")
            ),
        };
        let drilled = match e.last_drilled {
            Some(t) => format!("last drilled {}", crate::time::rfc3339(t)),
            None => "NEVER DRILLED".to_string(),
        };
        s.push_str(&format!(
            "{}  [{}]  {}\n    {}; {}; triggers: {}\n",
            e.id,
            if e.kind.is_empty() { "?" } else { &e.kind },
            e.title,
            objectives,
            drilled,
            if e.triggers.is_empty() {
                "none".to_string()
            } else {
                e.triggers.join(", ")
            }
        ));
        if !e.open_runs.is_empty() {
            s.push_str(&format!("    open runs: {}\n", e.open_runs.join(", ")));
        }
        for p in &e.problems {
            s.push_str(&format!("    LINT {p}\n"));
        }
    }
    if entries.is_empty() {
        s.push_str("no runbooks\n");
    }
    s
}
