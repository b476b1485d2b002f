//! Journal faults with real processes: writers killed with SIGKILL at
//! random points, and two writers appending at once. The helper is the
//! capdeck binary's hidden `runbook journal-stress`, which prints each seq
//! only after its append (and `sync_data`) returned.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use capdeck::runbook::journal::{self, Journal};
use capdeck::runbook::record::{Actor, Fact};

fn stress(file: &Path, count: u64, tag: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_capdeck"))
        .args(["runbook", "journal-stress"])
        .arg(file)
        .args(["--count", &count.to_string(), "--tag", tag])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the stress writer")
}

/// A small deterministic generator: the same kill points on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn writers_killed_at_random_points_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.jsonl");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // seq → text of every acknowledged append.
    let mut acknowledged: BTreeMap<u64, String> = BTreeMap::new();
    for round in 0..200 {
        let tag = format!("k{round}");
        let mut child = stress(&file, 1_000_000, &tag);
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let want = rng.next() % 12;
        for _ in 0..want {
            match lines.next() {
                Some(Ok(l)) => {
                    let (seq, text) = l.split_once(' ').unwrap();
                    acknowledged.insert(seq.parse().unwrap(), text.to_string());
                }
                _ => break,
            }
        }
        // Sometimes kill at once, sometimes a moment later: mid-append.
        if rng.next().is_multiple_of(2) {
            std::thread::sleep(std::time::Duration::from_micros(rng.next() % 3000));
        }
        // SIGKILL: no destructor, no flush, no unlock by the program.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        // Lines printed before the kill landed are acknowledged too.
        for l in lines.map_while(Result::ok) {
            let (seq, text) = l.split_once(' ').unwrap();
            acknowledged.insert(seq.parse().unwrap(), text.to_string());
        }
        let _ = child.wait();
        let r = journal::read(&file).expect("the journal always reads");
        assert!(r.damage.is_empty(), "round {round}: damage {:?}", r.damage);
        let have: BTreeMap<u64, String> = r
            .entries
            .iter()
            .filter_map(|e| match &e.fact {
                Fact::Note { text } => Some((e.seq, text.clone())),
                _ => None,
            })
            .collect();
        for (seq, text) in &acknowledged {
            assert_eq!(
                have.get(seq),
                Some(text),
                "round {round}: acknowledged seq {seq} missing"
            );
        }
    }
    // One more append repairs a torn tail if the last kill left one.
    let mut j = Journal::open(&file).unwrap();
    j.append(
        "t",
        &Actor::default(),
        0,
        &Fact::Note { text: "end".into() },
        None,
    )
    .unwrap();
    let v = journal::verify(&file).unwrap();
    assert!(v.ok(), "{v:?}");
    assert!(
        acknowledged.len() > 200,
        "the test acknowledged only {}",
        acknowledged.len()
    );
}

#[test]
fn two_processes_appending_5000_each_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.jsonl");
    let a = stress(&file, 5000, "a");
    let b = stress(&file, 5000, "b");
    for c in [a, b] {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5000);
    }
    let r = journal::read(&file).unwrap();
    assert!(r.damage.is_empty(), "{:?}", r.damage);
    assert_eq!(r.entries.len(), 10_000);
    let mut last = 0;
    for e in &r.entries {
        assert!(e.seq > last, "seq {} after {last}", e.seq);
        last = e.seq;
    }
    assert_eq!(last, 10_000);
    let texts: HashSet<String> = r
        .entries
        .iter()
        .filter_map(|e| match &e.fact {
            Fact::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    for t in ["a", "b"] {
        for i in 0..5000 {
            assert!(texts.contains(&format!("{t} {i}")), "{t} {i} lost");
        }
    }
    assert!(journal::verify(&file).unwrap().ok());
}
