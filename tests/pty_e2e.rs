//! The real binary in a real terminal: overview, help, detail, quit, and the
//! terminal left as it was found.

mod common;

use std::time::Duration;

use common::tmux::Tmux;

const LIMIT: Duration = Duration::from_secs(20);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_capdeck")
}

#[test]
fn overview_help_detail_quit_in_a_real_terminal() {
    let state = tempfile::tempdir().unwrap();
    let cmd = format!("{}; echo \"capdeck exited $?\"; sleep 30", bin());
    let t = Tmux::start("e2e", 80, 24, &cmd, state.path());

    let screen = t.wait_for("Triggers, least headroom first", LIMIT);
    assert!(screen.contains("BuildMate"), "{screen}");
    assert!(
        screen.contains("UTC"),
        "the clock shows its zone:\n{screen}"
    );
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the cockpit uses the alternate screen"
    );
    t.wait_for("sources ok", LIMIT);

    t.keys(&["?"]);
    t.wait_for("Keys on this screen", LIMIT);
    t.keys(&["Escape"]);
    let screen = t.wait_for("Triggers, least headroom first", LIMIT);
    assert!(!screen.contains("Keys on this screen"), "{screen}");

    t.keys(&["Enter"]);
    let screen = t.wait_for("thresholds", LIMIT);
    assert!(screen.contains("history 1d"), "{screen}");
    t.keys(&["Escape"]);
    t.wait_for("Triggers, least headroom first", LIMIT);

    t.keys(&["q"]);
    let screen = t.wait_for("capdeck exited 0", LIMIT);
    assert!(
        !screen.contains("Triggers, least headroom first"),
        "the alternate screen was left:\n{screen}"
    );
    assert_eq!(t.display("#{alternate_on}"), "0");
    assert!(
        state.path().join("capdeck.log").exists(),
        "logs go to the state folder"
    );
}

#[test]
fn sighup_restores_the_terminal() {
    let state = tempfile::tempdir().unwrap();
    let cmd = format!(
        "{} & pid=$!; sleep 2; kill -HUP $pid; wait $pid; echo \"capdeck exited $?\"; sleep 30",
        bin()
    );
    let t = Tmux::start("hup", 80, 24, &cmd, state.path());
    t.wait_for("capdeck exited", LIMIT);
    assert_eq!(t.display("#{alternate_on}"), "0");
}

#[test]
fn a_too_small_terminal_is_told_so_and_resizes_redraw() {
    let state = tempfile::tempdir().unwrap();
    let cmd = format!("{}; sleep 30", bin());
    let t = Tmux::start("small", 50, 12, &cmd, state.path());
    t.wait_for("terminal too small", LIMIT);
    t.run_resize(80, 24);
    t.wait_for("Triggers, least headroom first", LIMIT);
    t.keys(&["q"]);
}

#[test]
fn refuses_when_stdout_is_not_a_terminal() {
    let out = std::process::Command::new(bin()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a terminal") && err.contains("capdeck report"),
        "{err}"
    );
}

#[test]
fn exits_when_the_terminal_goes_away() {
    // The shell in the pane does not pass SIGHUP on: capdeck must notice
    // the dead terminal by itself, not spin on it.
    let state = tempfile::tempdir().unwrap();
    let cmd = format!("{}; sleep 30", bin());
    let t = Tmux::start("gone", 80, 24, &cmd, state.path());
    t.wait_for("Triggers, least headroom first", LIMIT);
    let shell = t.display("#{pane_pid}");
    let out = std::process::Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pid.is_empty(), "capdeck runs under the pane's shell");
    drop(t); // kills the tmux server: the terminal is gone
    let started = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            started.elapsed() < LIMIT,
            "capdeck (pid {pid}) kept running after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
