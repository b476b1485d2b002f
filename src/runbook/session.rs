//! A session: one process working one run. It owns the journal writer and
//! a follower, feeds the machine, and performs its effects: appends,
//! commands (in a detached child), the rest handed back to the caller.
//!
//! The TUI calls `Session::start` or `Session::open`, then `send` for each
//! operator action, `refresh` when the journal changed (see `watch_changes`)
//! or a timer fired, and `observe` after each poll with the series store.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::identity;
use super::journal::{self, Damage, Follower, JOURNAL, Journal, JournalError, RUNBOOK_COPY};
use super::lint::lint;
use super::machine::{
    ActionState, CommandRequest, Effect, Event, ExecPolicy, Question, Readings, Run, Warning, apply,
};
use super::parse::{parse_runbook, sha256_hex};
use super::record::{Actor, Entry, Fact};
use super::samples::{Samples, readings};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{path}: {message}")]
    Runbook { path: PathBuf, message: String },
    #[error("{0}")]
    Refused(String),
}

/// What a `send` or `refresh` produced for the caller to show or do.
#[derive(Debug, Default)]
pub struct Outcome {
    pub rejected: Vec<String>,
    /// Text to put on the clipboard (the TUI wraps it in OSC 52).
    pub copies: Vec<String>,
    pub warnings: Vec<Warning>,
    pub questions: Vec<Question>,
    /// Commands handed to a child (or simulated).
    pub commands: Vec<CommandRequest>,
    /// Lines this session appended.
    pub appended: Vec<Entry>,
    /// Lines read from the journal (this session's and others').
    pub read: usize,
    pub damage: Vec<Damage>,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.rejected.extend(o.rejected);
        self.copies.extend(o.copies);
        self.warnings.extend(o.warnings);
        self.questions.extend(o.questions);
        self.commands.extend(o.commands);
        self.appended.extend(o.appended);
        self.read += o.read;
        self.damage.extend(o.damage);
    }
}

/// How to start commands: the capdeck binary that runs `runbook exec-child`.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub exe: PathBuf,
}

impl Launcher {
    pub fn current() -> Launcher {
        Launcher {
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("capdeck")),
        }
    }
}

pub struct Session {
    pub dir: PathBuf,
    pub run: Run,
    journal: Journal,
    follower: Follower,
    /// Damaged journal lines seen so far.
    pub damage: Vec<Damage>,
    /// Set when the runbook file the run started from changed on disk.
    pub runbook_changed: Option<String>,
    launcher: Launcher,
    /// Commands handed to a child whose start line is not read yet.
    launching: HashSet<(String, usize)>,
    /// Secret input values, kept in memory only (the journal masks them).
    secrets: BTreeMap<String, String>,
}

/// `20261203T230501Z-pg-primary-failover-3f2a`: sortable, unique per start.
pub fn new_run_id(runbook_id: &str, now_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    let salt = sha256_hex(
        format!(
            "{now_ms}{}{:?}",
            std::process::id(),
            std::time::Instant::now()
        )
        .as_bytes(),
    );
    format!(
        "{}-{}-{}",
        t.format("%Y%m%dT%H%M%SZ"),
        runbook_id,
        &salt[..4]
    )
}

/// `<state dir>/runs`.
pub fn runs_dir() -> PathBuf {
    crate::paths::state_dir().join("runs")
}

impl Session {
    /// Starts a run: copies the runbook's bytes into a new run folder,
    /// journals the start with the inputs, and starts the first step.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        runs: &Path,
        runbook_path: &Path,
        inputs: BTreeMap<String, String>,
        drill: bool,
        policy: ExecPolicy,
        me: Actor,
        launcher: Launcher,
        now_ms: i64,
    ) -> Result<Session, SessionError> {
        let bytes = std::fs::read(runbook_path).map_err(|e| SessionError::Runbook {
            path: runbook_path.to_path_buf(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| SessionError::Runbook {
            path: runbook_path.to_path_buf(),
            message: "not UTF-8 text".into(),
        })?;
        let rb = parse_runbook(&text);
        let problems = lint(&rb, None);
        if let Some(p) = problems.first() {
            return Err(SessionError::Runbook {
                path: runbook_path.to_path_buf(),
                message: format!(
                    "{}:{}: {} ({} problem{}; run `capdeck runbook lint`)",
                    p.pos.line,
                    p.pos.col,
                    p.message,
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                ),
            });
        }
        let id = new_run_id(&rb.meta.id, now_ms);
        let dir = runs.join(&id);
        journal::make_dir(runs)?;
        journal::make_dir(&dir)?;
        journal::make_dir(&dir.join("work"))?;
        journal::make_dir(&dir.join("out"))?;
        journal::write_new(&dir.join(RUNBOOK_COPY), &bytes, journal::COPY_MODE)?;
        let jpath = dir.join(JOURNAL);
        let journal = Journal::open(&jpath)?;
        std::fs::set_permissions(
            &jpath,
            std::os::unix::fs::PermissionsExt::from_mode(journal::FILE_MODE),
        )
        .map_err(|e| JournalError::Io {
            path: jpath.clone(),
            source: e,
        })?;
        let secrets: BTreeMap<String, String> = rb
            .meta
            .inputs
            .iter()
            .filter(|i| i.secret)
            .filter_map(|i| inputs.get(&i.name).map(|v| (i.name.clone(), v.clone())))
            .collect();
        let run = Run::new(&id, Arc::new(rb), policy, me);
        let mut s = Session {
            follower: Follower::new(&jpath),
            dir,
            run,
            journal,
            damage: Vec::new(),
            runbook_changed: None,
            launcher,
            launching: HashSet::new(),
            secrets,
        };
        let origin = std::fs::canonicalize(runbook_path)
            .unwrap_or_else(|_| runbook_path.to_path_buf())
            .display()
            .to_string();
        let out = s.send(
            Event::Start {
                inputs,
                drill,
                origin,
                file: RUNBOOK_COPY.into(),
            },
            now_ms,
        )?;
        if let Some(r) = out.rejected.first() {
            let _ = std::fs::remove_dir_all(&s.dir);
            return Err(SessionError::Refused(r.clone()));
        }
        Ok(s)
    }

    /// Opens an existing run (to resume it or to join it): the runbook copy
    /// of the run folder, the journal replayed, and a `joined` line.
    pub fn open(
        dir: &Path,
        policy: ExecPolicy,
        me: Actor,
        launcher: Launcher,
        now_ms: i64,
    ) -> Result<Session, SessionError> {
        let mut s = Session::view(dir, policy, me, launcher, now_ms)?;
        if s.run.finished.is_none() {
            s.send(Event::Join, now_ms)?;
            s.check_lost(now_ms)?;
        }
        Ok(s)
    }

    /// Opens a run to look at it: the journal replayed, nothing appended.
    pub fn view(
        dir: &Path,
        policy: ExecPolicy,
        me: Actor,
        launcher: Launcher,
        _now_ms: i64,
    ) -> Result<Session, SessionError> {
        let copy = dir.join(RUNBOOK_COPY);
        let text = std::fs::read_to_string(&copy).map_err(|e| SessionError::Runbook {
            path: copy.clone(),
            message: e.to_string(),
        })?;
        let rb = parse_runbook(&text);
        let id = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let jpath = dir.join(JOURNAL);
        let mut s = Session {
            journal: Journal::open(&jpath)?,
            follower: Follower::new(&jpath),
            dir: dir.to_path_buf(),
            run: Run::new(id, Arc::new(rb), policy, me),
            damage: Vec::new(),
            runbook_changed: None,
            launcher,
            launching: HashSet::new(),
            secrets: BTreeMap::new(),
        };
        // Fold only: derived facts are left to the sessions working the run.
        let update = s.follower.poll()?;
        s.damage.extend(update.damage);
        for e in update.entries {
            super::machine::fold(&mut s.run, &e);
        }
        for (k, v) in &s.secrets {
            s.run.inputs.insert(k.clone(), v.clone());
        }
        s.runbook_changed = s.origin_changed();
        Ok(s)
    }

    /// Whether the file the run started from now differs from its copy.
    fn origin_changed(&self) -> Option<String> {
        let entry = self.journal_start()?;
        let Fact::RunStarted { origin, hash, .. } = &entry.fact else {
            return None;
        };
        match std::fs::read(origin) {
            Ok(bytes) if sha256_hex(&bytes) == *hash => None,
            Ok(_) => Some(format!(
                "{origin} changed on disk since the run started; the run keeps its copy ({})",
                &hash[..12]
            )),
            Err(_) => Some(format!(
                "{origin} is gone; the run keeps its copy ({})",
                &hash[..12]
            )),
        }
    }

    fn journal_start(&self) -> Option<Entry> {
        journal::read(&self.dir.join(JOURNAL))
            .ok()?
            .entries
            .into_iter()
            .find(|e| matches!(e.fact, Fact::RunStarted { .. }))
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL)
    }

    /// Secret inputs this session has no value for (after a resume: the
    /// journal masks them, so they must be typed again before commands run).
    pub fn missing_secrets(&self) -> Vec<String> {
        self.run
            .secret_inputs
            .iter()
            .filter(|n| !self.secrets.contains_key(*n))
            .cloned()
            .collect()
    }

    /// Supplies a secret input again (after a resume: the journal masks it).
    pub fn set_secret(&mut self, name: &str, value: &str) {
        self.secrets.insert(name.to_string(), value.to_string());
        self.run.inputs.insert(name.to_string(), value.to_string());
    }

    /// Reads new journal lines and folds them; performs what they derive.
    pub fn refresh(&mut self, now_ms: i64) -> Result<Outcome, SessionError> {
        let mut out = self.pull(now_ms)?;
        out.merge(self.send(Event::Tick { now_ms }, now_ms)?);
        Ok(out)
    }

    /// Fresh live values for the run's gates, then whatever they decide.
    pub fn observe(
        &mut self,
        samples: &dyn Samples,
        now_ms: i64,
        stale_after_ms: i64,
    ) -> Result<Outcome, SessionError> {
        let r: Readings = readings(&self.run, samples, now_ms, stale_after_ms);
        self.send(Event::Readings(r), now_ms)
    }

    /// Marks commands whose process is gone as unknown (on this host only:
    /// another host's process cannot be seen from here).
    pub fn check_lost(&mut self, now_ms: i64) -> Result<Outcome, SessionError> {
        let mut lost = Vec::new();
        for (i, st) in self.run.steps.iter().enumerate() {
            for (a, s) in st.actions.iter().enumerate() {
                if let ActionState::Running {
                    pid,
                    host,
                    simulated: false,
                    ..
                } = s
                    && *host == self.run.me.host
                    && !process_alive(*pid)
                {
                    lost.push((self.run.runbook.steps[i].id.clone(), a, *pid));
                }
            }
        }
        let mut out = Outcome::default();
        for (step, action, pid) in lost {
            out.merge(self.send(
                Event::CommandLost {
                    step,
                    action,
                    reason: format!("process {pid} ended without journaling an outcome"),
                },
                now_ms,
            )?);
        }
        Ok(out)
    }

    fn pull(&mut self, now_ms: i64) -> Result<Outcome, SessionError> {
        let mut out = Outcome::default();
        let update = self.follower.poll()?;
        out.read = update.entries.len();
        out.damage = update.damage.clone();
        self.damage.extend(update.damage);
        let mut effects = Vec::new();
        for e in update.entries {
            if let Fact::CommandStarted { step, action, .. } = &e.fact {
                self.launching.remove(&(step.clone(), *action));
            }
            effects.extend(apply(&mut self.run, Event::Journaled(e)));
        }
        for (k, v) in &self.secrets {
            self.run.inputs.insert(k.clone(), v.clone());
        }
        out.merge(self.perform(effects, now_ms)?);
        Ok(out)
    }

    /// Applies one request and performs its effects.
    pub fn send(&mut self, ev: Event, now_ms: i64) -> Result<Outcome, SessionError> {
        if let Event::RunCommand { step, action, .. } = &ev {
            if self.launching.contains(&(step.clone(), *action)) {
                return Ok(Outcome {
                    rejected: vec!["the command is starting".into()],
                    ..Outcome::default()
                });
            }
            if let Some(name) = self
                .run
                .secret_inputs
                .iter()
                .find(|n| !self.secrets.contains_key(*n))
            {
                return Ok(Outcome {
                    rejected: vec![format!(
                        "enter the secret input {name} again before running commands"
                    )],
                    ..Outcome::default()
                });
            }
        }
        let effects = apply(&mut self.run, ev);
        self.perform(effects, now_ms)
    }

    /// Performs effects depth first: what an appended line derives is
    /// performed before the next effect, as the machine decided it against
    /// that line.
    fn perform(&mut self, effects: Vec<Effect>, now_ms: i64) -> Result<Outcome, SessionError> {
        let mut out = Outcome::default();
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        let mut budget = 10_000usize;
        while let Some(eff) = queue.pop_front() {
            budget -= 1;
            if budget == 0 {
                // A cascade this long is a loop; stop rather than spin.
                out.rejected
                    .push("too many derived steps in one go; stopped".into());
                break;
            }
            match eff {
                Effect::Append { fact, if_last_seq } => {
                    let me = self.run.me.clone();
                    if let Some(e) =
                        self.journal
                            .append(&self.run.id, &me, now_ms, &fact, if_last_seq)?
                    {
                        out.appended.push(e);
                    }
                    // Fold in journal order, with whatever others appended.
                    let update = self.follower.poll()?;
                    out.read += update.entries.len();
                    self.damage.extend(update.damage.clone());
                    out.damage.extend(update.damage);
                    let mut next = Vec::new();
                    for e in update.entries {
                        if let Fact::CommandStarted { step, action, .. } = &e.fact {
                            self.launching.remove(&(step.clone(), *action));
                        }
                        next.extend(apply(&mut self.run, Event::Journaled(e)));
                    }
                    for (k, v) in &self.secrets {
                        self.run.inputs.insert(k.clone(), v.clone());
                    }
                    for n in next.into_iter().rev() {
                        queue.push_front(n);
                    }
                }
                Effect::Execute(req) => {
                    if req.simulated {
                        let started = Fact::CommandStarted {
                            step: req.step.clone(),
                            action: req.action,
                            pid: 0,
                            output: String::new(),
                            simulated: true,
                            text_hash: self.command_hash(&req),
                        };
                        let finished = Fact::CommandFinished {
                            step: req.step.clone(),
                            action: req.action,
                            exit: Some(0),
                            signal: None,
                            timed_out: false,
                            duration_ms: 0,
                            output_hash: sha256_hex(b""),
                            output_bytes: 0,
                            simulated: true,
                        };
                        queue.push_front(Effect::Append {
                            fact: finished,
                            if_last_seq: None,
                        });
                        queue.push_front(Effect::Append {
                            fact: started,
                            if_last_seq: None,
                        });
                    } else {
                        super::exec::spawn_detached(&self.launcher.exe, &self.dir, &req).map_err(
                            |e| SessionError::Refused(format!("cannot start the command: {e}")),
                        )?;
                        self.launching.insert((req.step.clone(), req.action));
                    }
                    out.commands.push(req);
                }
                Effect::Copy { text } => out.copies.push(text),
                Effect::Warn(w) => out.warnings.push(w),
                Effect::Ask(q) => out.questions.push(q),
                Effect::Rejected(r) => out.rejected.push(r),
            }
        }
        Ok(out)
    }

    fn command_hash(&self, req: &CommandRequest) -> String {
        sha256_hex(req.text.as_bytes())
    }
}

/// Whether a process exists (EPERM: it exists, owned by someone else).
pub fn process_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Calls `on_change` within about a second whenever the run's journal
/// changes (notify, with a poll every 500 ms as the fallback).
pub fn watch_changes(dir: &Path, on_change: impl Fn() + Send + Sync + 'static) -> journal::Watch {
    journal::watch(
        &dir.join(JOURNAL),
        std::time::Duration::from_millis(500),
        on_change,
    )
}

/// This process's identity (see `identity`).
pub fn me() -> Actor {
    identity::current()
}
