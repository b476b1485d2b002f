//! Two processes on one run: `runbook follow` in one sees what another
//! appends, without either taking turns.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

fn capdeck(state: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_capdeck"));
    c.env("CAPDECK_STATE_DIR", state)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn a_follower_in_another_process_sees_a_note() {
    let state = tempfile::tempdir().unwrap();
    let out = capdeck(state.path())
        .args(["runbook", "start", "runbooks/pool-exhaustion.md"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut follower = capdeck(state.path())
        .args(["runbook", "follow", &run])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // The history first.
    let first = rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
    assert!(first.contains("started pool-exhaustion"), "{first}");
    let note = capdeck(state.path())
        .args(["runbook", "note", &run, "DBA joined the bridge"])
        .output()
        .unwrap();
    assert!(note.status.success());
    // A guard against hanging, not a speed check (the bench measures that).
    let mut seen = false;
    while let Ok(l) = rx.recv_timeout(std::time::Duration::from_secs(20)) {
        if l.contains("note: DBA joined the bridge") {
            seen = true;
            break;
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(seen, "the follower never showed the note");
    let v = capdeck(state.path())
        .args(["runbook", "verify", &run])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}
