//! Running a command in a detached child that journals its own start and
//! end: a killed TUI or a dropped SSH session loses nothing.
//!
//! The session starts `capdeck runbook exec-child RUN_DIR STEP ACTION` in a
//! new session (`setsid`, so the terminal's hangup does not reach it) with
//! the inputs in its environment. The child appends `command_started`
//! (with its own pid) before it executes anything, runs the command text
//! from the run's runbook copy with `bash -euo pipefail` in `RUN_DIR/work`,
//! output to `RUN_DIR/out/…log`, kills the process group at the timeout,
//! and appends `command_finished` with the exit status, duration and the
//! output's sha256. If the child dies in between, the start line stays
//! without an end, and the next session marks the outcome unknown.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::journal::{self, FILE_MODE, JOURNAL, Journal, RUNBOOK_COPY};
use super::machine::CommandRequest;
use super::model::ActionKind;
use super::parse::{parse_runbook, sha256_hex};
use super::record::Fact;

/// Starts the child and returns at once; a thread reaps it.
pub fn spawn_detached(exe: &Path, run_dir: &Path, req: &CommandRequest) -> std::io::Result<u32> {
    let dir = std::fs::canonicalize(run_dir)?;
    let mut cmd = Command::new(exe);
    cmd.args(["runbook", "exec-child"])
        .arg(&dir)
        .arg(&req.step)
        .arg(req.action.to_string())
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("{0}")]
    Other(String),
}

/// The child's side: journal the start, run, journal the end. Returns the
/// command's exit status (or 128 + signal).
pub fn run_child(run_dir: &Path, step: &str, action: usize) -> Result<i32, ExecError> {
    let text = std::fs::read_to_string(run_dir.join(RUNBOOK_COPY))
        .map_err(|e| ExecError::Other(format!("cannot read the runbook copy: {e}")))?;
    let rb = parse_runbook(&text);
    let s = rb
        .step(step)
        .ok_or_else(|| ExecError::Other(format!("no step `{step}`")))?;
    let Some(ActionKind::Command {
        text: script,
        timeout,
        ..
    }) = s.actions.get(action).map(|a| &a.kind)
    else {
        return Err(ExecError::Other(format!(
            "step `{step}` has no command #{action}"
        )));
    };
    let run_id = run_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let me = super::identity::current();
    let mut j = Journal::open(&run_dir.join(JOURNAL))?;
    let started_ms = crate::time::now_ms();
    let out_name = format!("out/{step}-{action}-{started_ms}.log");
    let out_path = run_dir.join(&out_name);
    j.append(
        &run_id,
        &me,
        started_ms,
        &Fact::CommandStarted {
            step: step.to_string(),
            action,
            pid: std::process::id(),
            output: out_name.clone(),
            simulated: false,
            text_hash: sha256_hex(script.as_bytes()),
        },
        None,
    )?;
    let t0 = Instant::now();
    let result = execute(run_dir, script, &out_path, timeout.0);
    let duration_ms = t0.elapsed().as_millis() as u64;
    let bytes = std::fs::read(&out_path).unwrap_or_default();
    let (exit, signal, timed_out) = match &result {
        Ok(r) => (r.0, r.1, r.2),
        Err(e) => {
            // Could not even start bash: say so in the output file.
            let _ = std::fs::write(&out_path, format!("capdeck: cannot run the command: {e}\n"));
            (Some(127), None, false)
        }
    };
    let bytes = if result.is_err() {
        std::fs::read(&out_path).unwrap_or_default()
    } else {
        bytes
    };
    j.append(
        &run_id,
        &me,
        crate::time::now_ms(),
        &Fact::CommandFinished {
            step: step.to_string(),
            action,
            exit,
            signal,
            timed_out,
            duration_ms,
            output_hash: sha256_hex(&bytes),
            output_bytes: bytes.len() as u64,
            simulated: false,
        },
        None,
    )?;
    Ok(exit.unwrap_or_else(|| 128 + signal.unwrap_or(0)))
}

/// Runs the script; (exit code, signal, timed out).
fn execute(
    run_dir: &Path,
    script: &str,
    out: &Path,
    timeout: Duration,
) -> std::io::Result<(Option<i32>, Option<i32>, bool)> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(FILE_MODE)
        .open(out)?;
    let err = file.try_clone()?;
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(run_dir.join("work"))
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status.code(), status.signal(), timed_out));
        }
        if !timed_out && Instant::now() >= deadline {
            timed_out = true;
            kill_group(child.id(), libc::SIGTERM);
            let grace = Instant::now() + Duration::from_secs(5);
            while Instant::now() < grace {
                if let Some(status) = child.try_wait()? {
                    return Ok((status.code(), status.signal(), true));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            kill_group(child.id(), libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_group(pid: u32, sig: i32) {
    if let Ok(p) = i32::try_from(pid) {
        // SAFETY: signals the process group the child leads.
        unsafe {
            libc::kill(-p, sig);
        }
    }
}

/// The first `max` bytes of a command's output, for an excerpt on screen.
pub fn output_excerpt(run_dir: &Path, output: &str, max: usize) -> String {
    let bytes = std::fs::read(run_dir.join(output)).unwrap_or_default();
    let cut = &bytes[..bytes.len().min(max)];
    String::from_utf8_lossy(cut).into_owned()
}
