//! The linter: every problem of a runbook as `file:line:col: message`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::cond::{Cond, input_names};
use super::model::*;
use super::parse::parse_runbook;
use crate::config::{Config, nearest, trigger_key};

/// A position `off` bytes into a one-line text that starts at `pos`.
fn shifted(pos: Pos, text: &str, off: usize) -> Pos {
    let cols = text
        .get(..off.min(text.len()))
        .map(|s| s.chars().count())
        .unwrap_or(off);
    Pos {
        line: pos.line,
        col: pos.col + cols as u32,
    }
}

fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

/// Metric names that appear in a PromQL expression (identifiers that are
/// not followed by `(` and are not keywords).
fn promql_metrics(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    let mut in_braces = false;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == b'{' {
            in_braces = true;
        } else if c == b'}' {
            in_braces = false;
        } else if c == b'[' {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
        }
        if (c.is_ascii_alphabetic() || c == b'_' || c == b':') && !in_braces {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[s..i];
            let rest = expr[i..].trim_start();
            let kw = matches!(
                word,
                "by" | "without"
                    | "on"
                    | "ignoring"
                    | "group_left"
                    | "group_right"
                    | "and"
                    | "or"
                    | "unless"
                    | "bool"
                    | "offset"
            );
            if matches!(word, "by" | "without" | "on" | "ignoring") && rest.starts_with('(') {
                // A label list, not metrics.
                while i < b.len() && b[i] != b')' {
                    i += 1;
                }
            } else if !kw
                && !rest.starts_with('(')
                && !rest.starts_with("by")
                && !rest.starts_with("without")
            {
                out.insert(word.to_string());
            }
            continue;
        }
        i += 1;
    }
    out
}

struct Lint<'a> {
    rb: &'a Runbook,
    config: Option<&'a Config>,
    out: Vec<Problem>,
    provided: BTreeSet<String>,
    configured: BTreeSet<String>,
    triggers: BTreeSet<String>,
    inputs: BTreeSet<String>,
}

impl Lint<'_> {
    fn push(&mut self, pos: Pos, message: impl Into<String>) {
        self.out.push(Problem {
            pos,
            message: message.into(),
        });
    }

    fn check_cond(&mut self, what: &str, c: &Cond, text: &str, pos: Pos) {
        for s in c.selectors() {
            if !self.provided.contains(&s.metric) && !self.configured.contains(&s.metric) {
                let where_ = if self.config.is_some() {
                    "no `watch` query of this runbook nor any configured trigger provides it"
                } else {
                    "no `watch` query of this runbook provides it"
                };
                let h = hint(&s.metric, self.provided.iter().map(String::as_str));
                self.push(
                    shifted(pos, text, s.offset),
                    format!("{what}: selector `{}`: {where_}{h}", s.metric),
                );
            }
        }
        for (key, off) in c.triggers() {
            if self.config.is_some() && !self.triggers.contains(&key) {
                let h = hint(&key, self.triggers.iter().map(String::as_str));
                self.push(
                    shifted(pos, text, off),
                    format!("{what}: `trigger:{key}` names no configured trigger{h}"),
                );
            }
        }
        self.check_inputs(what, text, pos);
    }

    fn check_inputs(&mut self, what: &str, text: &str, pos: Pos) {
        for (name, off) in input_names(text) {
            if !self.inputs.contains(&name) {
                let h = hint(&name, self.inputs.iter().map(String::as_str));
                self.push(
                    shifted(pos, text, off),
                    format!("{what}: `${{{name}}}` names no input in [inputs]{h}"),
                );
            }
        }
    }
}

/// Every problem of a parsed runbook, parser problems included, by position.
pub fn lint(rb: &Runbook, config: Option<&Config>) -> Vec<Problem> {
    let mut l = Lint {
        rb,
        config,
        out: rb.problems.clone(),
        provided: rb.meta.watch.iter().map(|w| w.name.clone()).collect(),
        configured: BTreeSet::new(),
        triggers: BTreeSet::new(),
        inputs: rb.meta.inputs.iter().map(|i| i.name.clone()).collect(),
    };
    if let Some(c) = config {
        for (d, t) in c.triggers() {
            l.triggers.insert(trigger_key(d, t));
            for q in t.query.iter().chain(t.capacity_query.iter()) {
                l.configured.extend(promql_metrics(q));
            }
        }
        let front_triggers: Vec<(String, Pos)> = rb.meta.triggers.clone();
        for (t, pos) in front_triggers {
            if !l.triggers.contains(&t) {
                let h = hint(&t, l.triggers.iter().map(String::as_str));
                l.push(
                    pos,
                    format!("front matter: trigger `{t}` is not configured{h}"),
                );
            }
        }
    }
    // One namespace for step and fence ids.
    let mut claims: Vec<(&str, Pos)> = Vec::new();
    for s in &rb.steps {
        if !s.id.is_empty() {
            claims.push((&s.id, s.attr_pos.get("#id").copied().unwrap_or(s.pos)));
        }
        claims.extend(
            s.actions
                .iter()
                .filter_map(|a| a.id.as_deref().map(|id| (id, a.pos))),
        );
    }
    let mut ids: BTreeMap<&str, Pos> = BTreeMap::new();
    for (id, pos) in claims {
        match ids.get(id) {
            Some(first) => l.push(
                pos,
                format!("duplicate id `{id}` (first used at line {})", first.line),
            ),
            None => {
                ids.insert(id, pos);
            }
        }
    }
    let step_ids: Vec<&str> = rb
        .steps
        .iter()
        .map(|s| s.id.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let cond_names: Vec<&str> = rb.meta.conditions.iter().map(|c| c.name.as_str()).collect();
    for s in &rb.steps {
        let at = |k: &str| s.attr_pos.get(k).copied().unwrap_or(s.pos);
        for r in s.requires.ids() {
            if !step_ids.contains(&r.as_str()) {
                l.push(
                    at("requires"),
                    format!(
                        "requires `{r}`: no step has that id{}",
                        hint(r, step_ids.iter().copied())
                    ),
                );
            } else if *r == s.id {
                l.push(at("requires"), format!("step `{r}` requires itself"));
            }
        }
        for u in &s.undoes {
            if !step_ids.contains(&u.as_str()) {
                l.push(
                    at("undoes"),
                    format!(
                        "undoes `{u}`: no step has that id{}",
                        hint(u, step_ids.iter().copied())
                    ),
                );
            }
        }
        if let Some(OnFail::Step(t)) = &s.on_fail
            && !step_ids.contains(&t.as_str())
        {
            l.push(
                at("on_fail"),
                format!(
                    "on_fail `{t}`: no step has that id, and it is not `stop` or `ask`{}",
                    hint(t, step_ids.iter().copied())
                ),
            );
        }
        if let Some(w) = &s.when
            && !cond_names.contains(&w.as_str())
        {
            l.push(
                at("when"),
                format!(
                    "when `{w}`: no condition of that name in [conditions]{}",
                    hint(w, cond_names.iter().copied())
                ),
            );
        }
        for a in &s.actions {
            match &a.kind {
                ActionKind::Command { confirm, .. } => {
                    if s.danger == Danger::Critical && confirm.is_none() {
                        l.push(
                            a.pos,
                            format!("command in danger=critical step `{}` has no `confirm=\"…\"` phrase", s.id),
                        );
                    }
                    if let Some(c) = confirm {
                        // Positions of fence attributes are on the fence line.
                        l.check_inputs("confirm", c, a.pos);
                    }
                }
                ActionKind::Gate {
                    expect,
                    on_timeout_step,
                    ..
                } => {
                    for e in expect {
                        if let Some(c) = &e.cond {
                            l.check_cond("gate", c, &e.text, e.pos);
                        }
                    }
                    if let Some(t) = on_timeout_step
                        && !step_ids.contains(&t.as_str())
                    {
                        l.push(
                            a.pos,
                            format!("gate on_timeout `{t}`: no step has that id, and it is not `ask` or `fail`{}", hint(t, step_ids.iter().copied())),
                        );
                    }
                }
                ActionKind::Assert { expect } => {
                    for e in expect {
                        if let Some(c) = &e.cond {
                            l.check_cond("assert", c, &e.text, e.pos);
                        }
                    }
                }
                ActionKind::Check { .. } => {}
            }
        }
    }
    for c in &rb.meta.conditions {
        if let Some(cond) = &c.cond {
            let what = format!("condition `{}`", c.name);
            l.check_cond(&what, cond, &c.text, c.pos);
        }
    }
    // A point of no return needs a way back for what comes before it.
    for (i, s) in rb.steps.iter().enumerate() {
        if !s.ponr {
            continue;
        }
        let before: Vec<&str> = rb.steps[..i]
            .iter()
            .filter(|x| !x.rollback)
            .map(|x| x.id.as_str())
            .collect();
        let covered = rb
            .steps
            .iter()
            .filter(|r| r.rollback)
            .any(|r| r.undoes.iter().any(|u| before.contains(&u.as_str())));
        if !covered {
            l.push(
                s.attr_pos.get("ponr").copied().unwrap_or(s.pos),
                format!(
                    "point of no return `{}`: no rollback step undoes a step before it (add a `role=rollback undoes=…` step)",
                    s.id
                ),
            );
        }
    }
    let _ = l.rb;
    let mut out = l.out;
    out.sort();
    out.dedup();
    out
}

/// One linted file.
#[derive(Debug, Clone)]
pub struct Linted {
    pub path: PathBuf,
    pub runbook: Option<Runbook>,
    pub problems: Vec<Problem>,
}

impl Linted {
    /// `file:line:col: message` lines.
    pub fn lines(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{}: {}",
                    self.path.display(),
                    p.pos.line,
                    p.pos.col,
                    p.message
                )
            })
            .collect()
    }
}

/// `*.md` files of a folder (sorted), or the file itself.
pub fn runbook_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut out: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "md"))
            .collect();
        out.sort();
        Ok(out)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// Lints one file; an unreadable file is a problem at 1:1.
pub fn lint_file(path: &Path, config: Option<&Config>) -> Linted {
    match std::fs::read(path) {
        Err(e) => Linted {
            path: path.to_path_buf(),
            runbook: None,
            problems: vec![Problem {
                pos: Pos { line: 1, col: 1 },
                message: format!("cannot read: {e}"),
            }],
        },
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(e) => Linted {
                path: path.to_path_buf(),
                runbook: None,
                problems: vec![Problem {
                    pos: Pos { line: 1, col: 1 },
                    message: format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                }],
            },
            Ok(text) => {
                let rb = parse_runbook(&text);
                let problems = lint(&rb, config);
                Linted {
                    path: path.to_path_buf(),
                    runbook: Some(rb),
                    problems,
                }
            }
        },
    }
}

/// Lints files and folders; also reports two files claiming one runbook id.
pub fn lint_paths(paths: &[PathBuf], config: Option<&Config>) -> Vec<Linted> {
    let mut out = Vec::new();
    for p in paths {
        match runbook_files(p) {
            Ok(files) => out.extend(files.iter().map(|f| lint_file(f, config))),
            Err(e) => out.push(Linted {
                path: p.clone(),
                runbook: None,
                problems: vec![Problem {
                    pos: Pos { line: 1, col: 1 },
                    message: format!("cannot read: {e}"),
                }],
            }),
        }
    }
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for l in &mut out {
        let Some(rb) = &l.runbook else { continue };
        if rb.meta.id.is_empty() {
            continue;
        }
        match seen.get(&rb.meta.id) {
            Some(first) => l.problems.push(Problem {
                pos: Pos { line: 1, col: 1 },
                message: format!(
                    "runbook id `{}` is also used by {}",
                    rb.meta.id,
                    first.display()
                ),
            }),
            None => {
                seen.insert(rb.meta.id.clone(), l.path.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_metric_names() {
        let m = promql_metrics(
            "max by (tenant) (rate(http_requests_total{job=\"api\",code=~\"5..\"}[5m])) / sum(pg_up)",
        );
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec!["http_requests_total".to_string(), "pg_up".into()]
        );
    }
}
