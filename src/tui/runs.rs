//! The runbook screens' state: the catalog, the start form (inputs), the
//! open run with its session, and the prompts a step asks for. Keys become
//! runbook `Event`s; the session journals them and hands back what to show.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::runbook::catalog::{self, Listed, RunSummary};
use crate::runbook::machine::{ActionState, ExecPolicy, Waiting};
use crate::runbook::record::Choice;
use crate::runbook::session::{self, Launcher, Outcome, Session};
use crate::runbook::{Event, InputSpec, Mark, Runbook};

/// The runbooks shipped with the example platform, for the embedded demo
/// when no `runbooks/` folder is at hand.
pub const EMBEDDED_RUNBOOKS: [(&str, &str); 6] = [
    (
        "cdn-origin-failover.md",
        include_str!("../../runbooks/cdn-origin-failover.md"),
    ),
    (
        "imagegen-provider-outage.md",
        include_str!("../../runbooks/imagegen-provider-outage.md"),
    ),
    (
        "object-storage-restore.md",
        include_str!("../../runbooks/object-storage-restore.md"),
    ),
    (
        "pg-primary-failover.md",
        include_str!("../../runbooks/pg-primary-failover.md"),
    ),
    (
        "pool-exhaustion.md",
        include_str!("../../runbooks/pool-exhaustion.md"),
    ),
    (
        "serverless-deploy-rollback.md",
        include_str!("../../runbooks/serverless-deploy-rollback.md"),
    ),
];

/// Writes the embedded runbooks into `<state dir>/runbooks` (never over a
/// file that is there: an operator may have edited it) and returns the folder.
pub fn materialise_embedded() -> std::io::Result<PathBuf> {
    let dir = crate::paths::state_dir().join("runbooks");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in EMBEDDED_RUNBOOKS {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, text)?;
        }
    }
    Ok(dir)
}

/// The runbook folder of a configuration: `runbooks.dir` from the config
/// file's folder. The embedded example falls back to the shipped runbooks,
/// written to the state folder, when `./runbooks` is not there.
pub fn runbooks_folder(loaded: &crate::config::Loaded) -> PathBuf {
    let d = &loaded.config.runbooks.dir;
    let dir = if d.is_absolute() {
        d.clone()
    } else {
        loaded.base_dir().join(d)
    };
    if loaded.origin == crate::config::Origin::Embedded && !dir.is_dir() {
        return materialise_embedded().unwrap_or(dir);
    }
    dir
}

/// A line of the runbook list.
#[derive(Debug, Clone)]
pub enum CatalogRow {
    /// An open run: enter resumes (or joins) it.
    Run(RunSummary),
    Runbook(Listed),
}

/// One input being asked before a run starts.
#[derive(Debug, Clone)]
pub struct Field {
    pub spec: InputSpec,
    pub value: String,
}

/// The inputs of a runbook, asked when a run starts.
#[derive(Debug, Clone)]
pub struct StartForm {
    pub path: PathBuf,
    pub runbook: Arc<Runbook>,
    pub drill: bool,
    pub fields: Vec<Field>,
    pub idx: usize,
}

impl StartForm {
    pub fn new(path: &Path, drill: bool) -> Result<StartForm, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let rb = crate::runbook::parse_runbook(&text);
        let fields = rb
            .meta
            .inputs
            .iter()
            .map(|spec| Field {
                value: spec
                    .default
                    .clone()
                    .or_else(|| spec.choices.first().cloned())
                    .unwrap_or_default(),
                spec: spec.clone(),
            })
            .collect();
        Ok(StartForm {
            path: path.to_path_buf(),
            runbook: Arc::new(rb),
            drill,
            fields,
            idx: 0,
        })
    }

    pub fn inputs(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .map(|f| (f.spec.name.clone(), f.value.clone()))
            .collect()
    }

    /// Keys of the form: ←/→ cycle choices, typing edits free text, ↑/↓ or
    /// tab move, enter on the last field starts. `Some(true)` starts,
    /// `Some(false)` cancels.
    pub fn key(&mut self, k: KeyEvent) -> Option<bool> {
        let n = self.fields.len();
        match k.code {
            KeyCode::Esc => return Some(false),
            KeyCode::Enter if self.idx + 1 >= n => return Some(true),
            KeyCode::Enter | KeyCode::Tab | KeyCode::Down => {
                self.idx = (self.idx + 1).min(n.saturating_sub(1))
            }
            KeyCode::BackTab | KeyCode::Up => self.idx = self.idx.saturating_sub(1),
            _ => {
                let f = self.fields.get_mut(self.idx)?;
                if !f.spec.choices.is_empty() {
                    let pos = f
                        .spec
                        .choices
                        .iter()
                        .position(|c| *c == f.value)
                        .unwrap_or(0);
                    let len = f.spec.choices.len();
                    match k.code {
                        KeyCode::Right | KeyCode::Char(' ') => {
                            f.value = f.spec.choices[(pos + 1) % len].clone()
                        }
                        KeyCode::Left => f.value = f.spec.choices[(pos + len - 1) % len].clone(),
                        _ => {}
                    }
                } else {
                    match k.code {
                        KeyCode::Backspace => {
                            f.value.pop();
                        }
                        KeyCode::Char(c)
                            if !k.modifiers.contains(KeyModifiers::CONTROL)
                                && f.value.len() < 200 =>
                        {
                            f.value.push(c)
                        }
                        _ => {}
                    }
                }
            }
        }
        None
    }
}

/// What a typed answer is for.
#[derive(Debug, Clone, PartialEq)]
pub enum TextFor {
    Confirm {
        step: String,
        action: usize,
        phrase: String,
    },
    Override {
        step: String,
        action: usize,
    },
    Note,
    Report {
        step: String,
        action: usize,
        ok: bool,
    },
    /// A secret input, typed again after a resume (never journaled).
    Secret {
        name: String,
    },
}

/// A question the run screen asks in its bottom line.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Text {
        purpose: TextFor,
        label: String,
        typed: String,
    },
    /// Pick one with a digit key.
    Choose {
        purpose: ChooseFor,
        label: String,
        options: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChooseFor {
    Mark,
    Rollback { steps: Vec<String> },
    Decide { step: String, choices: Vec<Choice> },
    Outcome { step: String, action: usize },
}

/// What a key on the run screen leads to.
pub enum KeyOutcome {
    /// Texts to copy to the clipboard (often none).
    Copies(Vec<String>),
    /// Back to the runbook list; the run stays open.
    Leave,
}

/// An open run on screen.
pub struct RunPane {
    pub session: Session,
    pub prompt: Option<Prompt>,
    /// The last thing the run said back (a refusal, a warning, a copy).
    pub message: Option<(bool, String)>,
    /// Journal lines as `HH:MM:SS who: what`, oldest first.
    pub timeline: Vec<String>,
    /// Watch queries that have not answered yet since the run was opened.
    pub awaiting: std::collections::HashSet<String>,
    opened: std::time::Instant,
}

/// Run-screen keys, besides `enter` (do what the step waits for).
pub const RUN_KEYS: &[(&str, &str)] = &[
    ("enter", "tick / acknowledge / approve / run"),
    (
        "x",
        "run the command (asks the confirm phrase when critical)",
    ),
    ("c", "copy the command (OSC 52)"),
    ("y", "report a command I ran or verified by hand"),
    ("o", "override the gate (a written reason)"),
    ("n", "add a note"),
    ("m", "mark mitigated / restored / resolved"),
    (
        "u",
        "start a rollback step (offered while what it undoes is done)",
    ),
    ("F", "finish the run"),
    ("esc", "back to the runbook list (the run stays open)"),
];

impl RunPane {
    pub fn new(session: Session) -> RunPane {
        let mut p = RunPane {
            session,
            prompt: None,
            message: None,
            timeline: Vec::new(),
            awaiting: Default::default(),
            opened: std::time::Instant::now(),
        };
        p.reload_timeline();
        p.ask_next_secret();
        p
    }

    /// After a resume the journal has only masked secrets: ask for them.
    fn ask_next_secret(&mut self) {
        if self.prompt.is_none()
            && let Some(name) = self.session.missing_secrets().into_iter().next()
        {
            self.prompt = Some(Prompt::Text {
                label: format!("secret input {name} (not journaled; needed to run commands)"),
                purpose: TextFor::Secret { name },
                typed: String::new(),
            });
        }
    }

    /// Whether gates may be fed: every watch query answered once, or a
    /// source is too slow to wait for (then gates read "missing" and fail
    /// closed, as they must).
    pub fn watch_ready(&self) -> bool {
        self.awaiting.is_empty() || self.opened.elapsed() > std::time::Duration::from_secs(15)
    }

    /// Re-reads the journal's lines for the timeline pane.
    pub fn reload_timeline(&mut self) {
        if let Ok(read) = crate::runbook::journal::read(&self.session.journal_path()) {
            self.timeline = read
                .entries
                .iter()
                .map(|e| {
                    format!(
                        "{} {}: {}",
                        crate::time::to_datetime(e.ts).format("%H:%M:%S"),
                        e.actor.user,
                        crate::runbook::export::describe(&e.fact)
                    )
                })
                .collect();
        }
    }

    /// Shows what a session call said back.
    pub fn absorb(&mut self, r: Result<Outcome, session::SessionError>) -> Vec<String> {
        match r {
            Err(e) => {
                self.message = Some((true, e.to_string()));
                Vec::new()
            }
            Ok(o) => {
                if let Some(r) = o.rejected.last() {
                    self.message = Some((true, r.clone()));
                } else if let Some(w) = o.warnings.last() {
                    self.message = Some((true, format!("{w:?}")));
                } else if let Some(d) = o.damage.last() {
                    self.message = Some((true, format!("journal damage: {d:?}")));
                }
                if o.read > 0 || !o.appended.is_empty() {
                    self.reload_timeline();
                }
                o.copies
            }
        }
    }

    fn send(&mut self, ev: Event, now: i64) -> Vec<String> {
        let r = self.session.send(ev, now);
        self.absorb(r)
    }

    /// The current step's id and what the run waits for.
    pub fn waiting(&self) -> Waiting {
        self.session.run.waiting()
    }

    fn command_confirm(&self, step: &str, action: usize) -> Option<String> {
        let rb = &self.session.run.runbook;
        let st = rb.step(step)?;
        match &st.actions.get(action)?.kind {
            crate::runbook::ActionKind::Command {
                confirm: Some(c), ..
            } => {
                let mut phrase = c.clone();
                for (k, v) in &self.session.run.inputs {
                    phrase = phrase.replace(&format!("${{{k}}}"), v);
                }
                Some(phrase)
            }
            _ => None,
        }
    }

    fn current_command(&self) -> Option<(String, usize)> {
        match self.waiting() {
            Waiting::Command { step, action } | Waiting::CommandUnknown { step, action } => {
                Some((step, action))
            }
            _ => None,
        }
    }

    fn current_gate(&self) -> Option<(String, usize)> {
        match self.waiting() {
            Waiting::Gate { step, action, .. } | Waiting::Assert { step, action } => {
                Some((step, action))
            }
            _ => None,
        }
    }

    /// A key on the run screen: texts to copy to the clipboard, or leave.
    pub fn key(&mut self, k: KeyEvent, now: i64) -> KeyOutcome {
        if let Some(p) = self.prompt.take() {
            return KeyOutcome::Copies(self.prompt_key(p, k, now));
        }
        self.message = None;
        let me = session::me();
        match k.code {
            KeyCode::Esc => return KeyOutcome::Leave,
            KeyCode::Enter => {
                let ev = match self.waiting() {
                    Waiting::PonrAck { step } => Some(Event::AckPonr { step }),
                    Waiting::Approval { step, .. } => Some(Event::Approve { step, actor: me }),
                    Waiting::Check { step, actions } => {
                        actions.first().map(|&action| Event::Check { step, action })
                    }
                    Waiting::Ack { step } => Some(Event::AckStep { step }),
                    Waiting::Finish => Some(Event::Finish {
                        outcome: "completed".into(),
                    }),
                    Waiting::Command { step, action } => {
                        return KeyOutcome::Copies(self.run_command(step, action, now));
                    }
                    Waiting::CommandUnknown { step, action } => {
                        self.ask_outcome(step, action);
                        None
                    }
                    Waiting::Decision(q) => {
                        self.ask_decision(q.step.clone(), &q.reason, q.choices.clone());
                        None
                    }
                    Waiting::Stopped { step, reason } => {
                        self.ask_decision(
                            step,
                            &reason,
                            vec![Choice::Retry, Choice::Skip, Choice::Stop],
                        );
                        None
                    }
                    Waiting::Gate { .. } | Waiting::Assert { .. } => {
                        self.message = Some((
                            false,
                            "waiting for live values; `o` overrides with a reason".into(),
                        ));
                        None
                    }
                    Waiting::CommandRunning { .. } => {
                        self.message = Some((
                            false,
                            "the command is running; its end is journaled by its own process"
                                .into(),
                        ));
                        None
                    }
                    Waiting::Blocked { steps } => {
                        self.message = Some((
                            true,
                            format!(
                                "blocked: {} cannot start (requires); `F` finishes",
                                steps.join(", ")
                            ),
                        ));
                        None
                    }
                    Waiting::Inputs | Waiting::Finished { .. } => None,
                };
                if let Some(ev) = ev {
                    return KeyOutcome::Copies(self.send(ev, now));
                }
            }
            KeyCode::Char('x') => {
                if let Some((step, action)) = self.current_command() {
                    return KeyOutcome::Copies(self.run_command(step, action, now));
                }
                self.message = Some((true, "no command is waiting".into()));
            }
            KeyCode::Char('c') => {
                if let Some((step, action)) = self.current_command() {
                    return KeyOutcome::Copies(self.send(Event::CopyCommand { step, action }, now));
                }
                self.message = Some((true, "no command is waiting".into()));
            }
            KeyCode::Char('y') => {
                if let Some((step, action)) = self.current_command() {
                    self.ask_outcome(step, action);
                }
            }
            KeyCode::Char('o') => match self.current_gate() {
                Some((step, action)) => {
                    self.prompt = Some(Prompt::Text {
                        purpose: TextFor::Override { step, action },
                        label: "override the gate, reason (journaled, shown in red)".into(),
                        typed: String::new(),
                    })
                }
                None => self.message = Some((true, "no gate is waiting".into())),
            },
            KeyCode::Char('n') => {
                self.prompt = Some(Prompt::Text {
                    purpose: TextFor::Note,
                    label: "note".into(),
                    typed: String::new(),
                })
            }
            KeyCode::Char('m') => {
                self.prompt = Some(Prompt::Choose {
                    purpose: ChooseFor::Mark,
                    label: "mark".into(),
                    options: vec!["mitigated".into(), "restored".into(), "resolved".into()],
                })
            }
            KeyCode::Char('u') => {
                let steps = self.session.run.rollbacks_offered();
                if steps.is_empty() {
                    self.message = Some((true, "no rollback is offered now".into()));
                } else {
                    let rb = &self.session.run.runbook;
                    let options = steps
                        .iter()
                        .map(|id| {
                            rb.step(id)
                                .map(|s| s.title.clone())
                                .unwrap_or_else(|| id.clone())
                        })
                        .collect();
                    self.prompt = Some(Prompt::Choose {
                        purpose: ChooseFor::Rollback { steps },
                        label: "roll back with".into(),
                        options,
                    });
                }
            }
            KeyCode::Char('F') => {
                return KeyOutcome::Copies(self.send(
                    Event::Finish {
                        outcome: "finished by operator".into(),
                    },
                    now,
                ));
            }
            _ => {}
        }
        KeyOutcome::Copies(Vec::new())
    }

    fn ask_outcome(&mut self, step: String, action: usize) {
        self.prompt = Some(Prompt::Choose {
            purpose: ChooseFor::Outcome { step, action },
            label: "what did you verify?".into(),
            options: vec!["it succeeded".into(), "it failed".into()],
        });
    }

    fn ask_decision(&mut self, step: String, reason: &str, choices: Vec<Choice>) {
        let options = choices
            .iter()
            .map(|c| {
                match c {
                    Choice::Retry => "retry",
                    Choice::Skip => "skip the step",
                    Choice::Stop => "stop the run",
                    Choice::Proceed => "do the step anyway",
                }
                .to_string()
            })
            .collect();
        self.prompt = Some(Prompt::Choose {
            purpose: ChooseFor::Decide { step, choices },
            label: format!("{reason}: decide"),
            options,
        });
    }

    fn run_command(&mut self, step: String, action: usize, now: i64) -> Vec<String> {
        if let Some(phrase) = self.command_confirm(&step, action) {
            self.prompt = Some(Prompt::Text {
                label: format!("type `{phrase}` to run it"),
                purpose: TextFor::Confirm {
                    step,
                    action,
                    phrase,
                },
                typed: String::new(),
            });
            return Vec::new();
        }
        self.send(
            Event::RunCommand {
                step,
                action,
                confirm: None,
            },
            now,
        )
    }

    fn prompt_key(&mut self, p: Prompt, k: KeyEvent, now: i64) -> Vec<String> {
        match p {
            Prompt::Text {
                purpose,
                label,
                mut typed,
            } => match k.code {
                KeyCode::Esc => Vec::new(),
                KeyCode::Enter if typed.trim().is_empty() && purpose != TextFor::Note => {
                    self.prompt = Some(Prompt::Text {
                        purpose,
                        label,
                        typed,
                    });
                    Vec::new()
                }
                KeyCode::Enter => {
                    let ev = match purpose {
                        TextFor::Confirm { step, action, .. } => Event::RunCommand {
                            step,
                            action,
                            confirm: Some(typed),
                        },
                        TextFor::Override { step, action } => Event::Override {
                            step,
                            action,
                            reason: typed,
                        },
                        TextFor::Note => Event::Note { text: typed },
                        TextFor::Secret { name } => {
                            self.session.set_secret(&name, &typed);
                            self.message = Some((false, format!("{name} set for this session")));
                            self.ask_next_secret();
                            return Vec::new();
                        }
                        TextFor::Report { step, action, ok } => Event::ReportCommand {
                            step,
                            action,
                            ok,
                            note: typed,
                        },
                    };
                    self.send(ev, now)
                }
                KeyCode::Backspace => {
                    typed.pop();
                    self.prompt = Some(Prompt::Text {
                        purpose,
                        label,
                        typed,
                    });
                    Vec::new()
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    if typed.chars().count() < 500 {
                        typed.push(c);
                    }
                    self.prompt = Some(Prompt::Text {
                        purpose,
                        label,
                        typed,
                    });
                    Vec::new()
                }
                _ => {
                    self.prompt = Some(Prompt::Text {
                        purpose,
                        label,
                        typed,
                    });
                    Vec::new()
                }
            },
            Prompt::Choose {
                purpose,
                label,
                options,
            } => {
                let pick = match k.code {
                    KeyCode::Esc => return Vec::new(),
                    KeyCode::Char(c) => c
                        .to_digit(10)
                        .map(|d| d as usize)
                        .filter(|d| (1..=options.len()).contains(d)),
                    _ => None,
                };
                let Some(n) = pick else {
                    self.prompt = Some(Prompt::Choose {
                        purpose,
                        label,
                        options,
                    });
                    return Vec::new();
                };
                match purpose {
                    ChooseFor::Rollback { steps } => {
                        let step = steps[n - 1].clone();
                        self.send(Event::StartRollback { step }, now)
                    }
                    ChooseFor::Mark => {
                        let mark = [Mark::Mitigated, Mark::Restored, Mark::Resolved][n - 1];
                        self.send(Event::Mark { mark }, now)
                    }
                    ChooseFor::Decide { step, choices } => {
                        let choice = choices[n - 1];
                        self.send(
                            Event::Decide {
                                step,
                                choice,
                                reason: "operator decision".into(),
                            },
                            now,
                        )
                    }
                    ChooseFor::Outcome { step, action } => {
                        self.prompt = Some(Prompt::Text {
                            purpose: TextFor::Report {
                                step,
                                action,
                                ok: n == 1,
                            },
                            label: "what you verified (journaled)".into(),
                            typed: String::new(),
                        });
                        Vec::new()
                    }
                }
            }
        }
    }

    /// The state of one action, in words, for the step pane.
    pub fn action_text(state: &ActionState) -> String {
        match state {
            ActionState::Pending => "pending".into(),
            ActionState::Ticked { by, .. } => format!("ticked by {by}"),
            ActionState::Running { simulated, pid, .. } => {
                if *simulated {
                    "simulated".into()
                } else {
                    format!("running (pid {pid})")
                }
            }
            ActionState::Finished {
                ok,
                exit,
                duration_ms,
                ..
            } => format!(
                "{} (exit {}, {:.1}s)",
                if *ok { "done" } else { "FAILED" },
                exit.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                *duration_ms as f64 / 1000.0
            ),
            ActionState::Unknown { reason } => format!("OUTCOME UNKNOWN: {reason}"),
            ActionState::Reported { ok, note, by } => {
                format!(
                    "reported {} by {by}: {note}",
                    if *ok { "ok" } else { "failed" }
                )
            }
            ActionState::Gate { state, seen, .. } => {
                let values: Vec<String> = seen
                    .iter()
                    .map(|s| {
                        format!(
                            "{} = {}",
                            s.what,
                            s.value
                                .map(|v| format!("{v:.3}"))
                                .unwrap_or_else(|| "missing".into())
                        )
                    })
                    .collect();
                format!("gate {state:?}: {}", values.join(", "))
            }
            ActionState::Overridden { reason, by, .. } => format!("OVERRIDDEN by {by}: {reason}"),
            ActionState::Asserted { result, .. } => format!(
                "assert {}",
                match result {
                    Some(true) => "holds",
                    Some(false) => "FAILED",
                    None => "unknown",
                }
            ),
        }
    }
}

/// Everything the runbook list shows: open runs first, then runbooks, those
/// linked to a trigger in breach before the rest.
pub fn catalog_rows(
    dir: &Path,
    config: &crate::config::Config,
    breaching: &[String],
) -> (Vec<CatalogRow>, Option<String>) {
    let runs = catalog::scan_runs(&session::runs_dir());
    let mut rows: Vec<CatalogRow> = runs
        .iter()
        .filter(|r| r.open())
        .cloned()
        .map(CatalogRow::Run)
        .collect();
    match catalog::list(dir, Some(config), &runs) {
        Ok(mut list) => {
            list.sort_by_key(|l| {
                (
                    !l.triggers.iter().any(|t| breaching.contains(t)),
                    l.id.clone(),
                )
            });
            rows.extend(list.into_iter().map(CatalogRow::Runbook));
            (rows, None)
        }
        Err(e) => (rows, Some(format!("{}: {e}", dir.display()))),
    }
}

pub fn policy(config: &crate::config::Config) -> ExecPolicy {
    ExecPolicy {
        allow_exec: config.runbooks.allow_exec,
        drills_execute: config.runbooks.drills_execute,
    }
}

pub fn start(
    form: &StartForm,
    config: &crate::config::Config,
    now: i64,
) -> Result<Session, String> {
    Session::start(
        &session::runs_dir(),
        &form.path,
        form.inputs(),
        form.drill,
        policy(config),
        session::me(),
        Launcher::current(),
        now,
    )
    .map_err(|e| e.to_string())
}

pub fn open(dir: &Path, config: &crate::config::Config, now: i64) -> Result<Session, String> {
    Session::open(dir, policy(config), session::me(), Launcher::current(), now)
        .map_err(|e| e.to_string())
}
