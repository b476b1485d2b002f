//! Runbooks in a real terminal: start a run on the demo platform, tick,
//! a second session on the same run sees the first one's tick and note
//! live, the first is killed with SIGKILL and a new one resumes at the
//! same step.

mod common;

use std::time::Duration;

use common::tmux::Tmux;

const LIMIT: Duration = Duration::from_secs(20);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_capdeck")
}

/// Presses `j` until the line holding `text` is the selected one: rows are
/// ordered by what is in breach now, so positions are found, not assumed.
fn select_row(t: &Tmux, header: &str, text: &str) {
    let screen = t.wait_for(text, LIMIT);
    let lines: Vec<&str> = screen.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.contains(header))
        .expect("list header");
    let row = lines.iter().position(|l| l.contains(text)).expect("row");
    for _ in 0..row.saturating_sub(head + 1) {
        t.keys(&["j"]);
    }
}

#[test]
fn start_tick_share_kill_and_resume_a_run() {
    let state = tempfile::tempdir().unwrap();
    // A fixed instant: the demo's values (and so the first step's assert)
    // are the same on every run.
    let cmd = format!("{} --now 2026-12-01T14:15:00Z; sleep 60", bin());
    let a = Tmux::start("rb-a", 100, 30, &cmd, state.path());
    a.wait_for("Triggers, least headroom first", LIMIT);
    a.keys(&["b"]);
    select_row(&a, "RUNBOOK", "pool-exhaustion");
    a.keys(&["Enter"]);
    a.wait_for("PgBouncer connection pool exhaustion run", LIMIT);
    a.wait_for("enter ticks the next item", LIMIT);
    a.keys(&["Enter"]);
    let screen = a.wait_for("started step `clear-idle`", LIMIT);
    assert!(screen.contains("✔ Confirm clients are waiting"), "{screen}");

    // A second session joins the open run and sees the tick.
    let b = Tmux::start("rb-b", 100, 30, &cmd, state.path());
    b.wait_for("Triggers, least headroom first", LIMIT);
    b.keys(&["b"]);
    select_row(&b, "RUNBOOK", "▶ OPEN");
    b.keys(&["Enter"]);
    let screen = b.wait_for("ticked `confirm`", LIMIT);
    assert!(screen.contains("▶ Clear idle transactions"), "{screen}");

    // A note from the first session reaches the second one live.
    a.keys(&["n"]);
    a.wait_for("note:", LIMIT);
    a.keys(&["-l", "hello from the first session"]);
    a.keys(&["Enter"]);
    b.wait_for("hello from the first session", LIMIT);

    // Kill the first session outright; a new one resumes at the same step.
    let pid = a.display("#{pane_pid}");
    let _ = std::process::Command::new("pkill")
        .args(["-KILL", "-P", &pid])
        .status();
    a.wait_for("$", LIMIT);
    let c = Tmux::start("rb-c", 100, 30, &cmd, state.path());
    c.wait_for("Triggers, least headroom first", LIMIT);
    c.wait_for("1 open run", LIMIT);
    c.keys(&["b"]);
    select_row(&c, "RUNBOOK", "▶ OPEN");
    c.keys(&["Enter"]);
    let screen = c.wait_for("hello from the first session", LIMIT);
    assert!(screen.contains("▶ Clear idle transactions"), "{screen}");
    assert!(screen.contains("✔ Confirm clients are waiting"), "{screen}");
    c.keys(&["q"]);
    b.keys(&["q"]);
}
