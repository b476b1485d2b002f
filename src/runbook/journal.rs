//! The run journal: one append-only JSON-lines file per run.
//!
//! Appends take an exclusive lock on the file, read its tail for the last
//! `seq` and the previous line's hash, write the new line in one `write`,
//! `sync_data`, and unlock. Each line carries the sha256 of the previous
//! line's bytes (`prev`), so a changed, lost or reordered line breaks the
//! chain. A torn last line (an append cut short by a crash) is left in place:
//! the next append ends it with a newline and writes a `repair` line naming
//! it. Readers take no lock: they read complete lines only and follow the
//! file as it grows.
//!
//! Files are shared with the group, never with the world: run folders are
//! created mode 2770 (setgid, so files take the folder's group), the journal
//! and output files 0660, the runbook copy 0440. Modes are set explicitly
//! after creation, so a umask of 077 does not lock a teammate out and a
//! umask of 000 does not open the files to everyone.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::parse::sha256_hex;
use super::record::{Actor, Entry, Fact, GENESIS};

pub const JOURNAL: &str = "journal.jsonl";
pub const RUNBOOK_COPY: &str = "runbook.md";
pub const DIR_MODE: u32 = 0o2770;
pub const FILE_MODE: u32 = 0o660;
pub const COPY_MODE: u32 = 0o440;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot encode a journal line: {0}")]
    Encode(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a folder (and its parents) shared with the group.
pub fn make_dir(path: &Path) -> Result<(), JournalError> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        make_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io_err(path)(e)),
    }
    fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE)).map_err(io_err(path))
}

/// Writes a new file with `mode` (fails when it exists).
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), JournalError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

/// A line that could not be read as an entry, or that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    /// 1-based line number.
    pub line: u64,
    pub what: String,
}

/// A journal as read: every readable entry, and what was wrong.
#[derive(Debug, Clone, Default)]
pub struct JournalRead {
    pub entries: Vec<Entry>,
    pub damage: Vec<Damage>,
    /// Lines repaired by a later `repair` line (torn appends).
    pub repaired: Vec<u64>,
    /// Bytes after the last newline: an append in progress, or torn.
    pub partial_tail: Option<u64>,
    /// Hash of the last complete line.
    pub last_hash: String,
    pub lines: u64,
}

/// Reads a whole journal. Damage is reported, never fatal: entries after a
/// damaged line are still read.
pub fn read(path: &Path) -> Result<JournalRead, JournalError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    let mut c = Chain::default();
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if complete > 0 {
        for line in bytes[..complete - 1].split(|&b| b == b'\n') {
            c.push(line);
        }
    }
    let mut out = c.finish();
    if complete < bytes.len() {
        out.partial_tail = Some(out.lines + 1);
    }
    Ok(out)
}

/// Checks lines one by one: parse, `prev` chain, strictly increasing `seq`.
#[derive(Debug, Default)]
struct Chain {
    read: JournalRead,
    lines: u64,
    prev_hash: Option<String>,
    last_seq: u64,
    unparsed: Vec<u64>,
}

impl Chain {
    fn push(&mut self, line: &[u8]) {
        self.lines += 1;
        let n = self.lines;
        let expected_prev = self
            .prev_hash
            .clone()
            .unwrap_or_else(|| GENESIS.to_string());
        let hash = sha256_hex(line);
        self.prev_hash = Some(hash.clone());
        self.read.last_hash = hash;
        match serde_json::from_slice::<Entry>(line) {
            Err(e) => {
                self.unparsed.push(n);
                self.read.damage.push(Damage {
                    line: n,
                    what: format!("unreadable line: {e}"),
                });
            }
            Ok(entry) => {
                if entry.prev != expected_prev {
                    self.read.damage.push(Damage {
                        line: n,
                        what: format!(
                            "hash chain broken: `prev` is {}…, the previous line hashes to {}…",
                            &entry.prev.get(..12).unwrap_or(&entry.prev),
                            &expected_prev[..12]
                        ),
                    });
                }
                if entry.seq <= self.last_seq {
                    self.read.damage.push(Damage {
                        line: n,
                        what: format!(
                            "seq {} after seq {}: not increasing",
                            entry.seq, self.last_seq
                        ),
                    });
                }
                self.last_seq = self.last_seq.max(entry.seq);
                if let Fact::Repair { line, .. } = &entry.fact
                    && self.unparsed.contains(line)
                {
                    self.read.repaired.push(*line);
                    self.read.damage.retain(|d| d.line != *line);
                }
                self.read.entries.push(entry);
            }
        }
    }

    fn finish(mut self) -> JournalRead {
        self.read.lines = self.lines;
        if self.read.last_hash.is_empty() {
            self.read.last_hash = GENESIS.to_string();
        }
        self.read
    }
}

/// What `verify` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    pub lines: u64,
    pub entries: usize,
    pub damage: Vec<Damage>,
    pub repaired: Vec<u64>,
    pub partial_tail: Option<u64>,
    pub last_hash: String,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.damage.is_empty() && self.partial_tail.is_none()
    }
}

pub fn verify(path: &Path) -> Result<Verified, JournalError> {
    let r = read(path)?;
    Ok(Verified {
        lines: r.lines,
        entries: r.entries.len(),
        damage: r.damage,
        repaired: r.repaired,
        partial_tail: r.partial_tail,
        last_hash: r.last_hash,
    })
}

/// The writer side of a journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

/// The tail of a journal: what the next line chains to.
struct Tail {
    last_seq: u64,
    prev_hash: String,
    /// Torn bytes after the last newline: (their line number, length, hash).
    torn: Option<(u64, u64, String)>,
}

impl Journal {
    /// Opens (creating with mode 0660) a journal for appending.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Ok(f) = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
        {
            // Created here: the mode is set past the umask.
            f.set_permissions(fs::Permissions::from_mode(FILE_MODE))
                .map_err(io_err(path))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(FILE_MODE)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tail(&self) -> io::Result<Tail> {
        let len = self.file.metadata()?.len();
        let mut window = 64 * 1024u64;
        loop {
            let start = len.saturating_sub(window);
            let mut buf = vec![0u8; (len - start) as usize];
            self.file.read_exact_at(&mut buf, start)?;
            let complete = buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
            let torn_bytes = &buf[complete.unwrap_or(0)..];
            // Complete lines in the window, newest first; the first may be cut
            // by the window unless the window reaches the file's start.
            let body = &buf[..complete.unwrap_or(0)];
            let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
            lines.pop(); // after the final newline
            let whole_from = if start == 0 { 0 } else { 1 };
            let last_line = lines.last().copied();
            let seq = lines
                .iter()
                .skip(whole_from)
                .rev()
                .find_map(|l| serde_json::from_slice::<Entry>(l).ok().map(|e| e.seq));
            let need_more = start > 0 && (seq.is_none() || lines.len() <= whole_from);
            if need_more {
                window = window.saturating_mul(4);
                continue;
            }
            let torn = if torn_bytes.is_empty() {
                None
            } else {
                // The torn line's number: lines before it plus one.
                let mut count = 0u64;
                let mut f = &self.file;
                let mut rbuf = vec![0u8; 64 * 1024];
                let mut off = 0u64;
                let end = len - torn_bytes.len() as u64;
                while off < end {
                    let n = ((end - off) as usize).min(rbuf.len());
                    f.read_exact_at(&mut rbuf[..n], off)?;
                    count += rbuf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                    off += n as u64;
                }
                let _ = f.seek(SeekFrom::End(0));
                Some((count + 1, torn_bytes.len() as u64, sha256_hex(torn_bytes)))
            };
            let prev_hash = match (&torn, last_line) {
                (Some((_, _, h)), _) => h.clone(),
                (None, Some(l)) => sha256_hex(l),
                (None, None) => GENESIS.to_string(),
            };
            return Ok(Tail {
                last_seq: seq.unwrap_or(0),
                prev_hash,
                torn,
            });
        }
    }

    /// Appends one fact. With `if_last_seq`, only when the journal still
    /// ends at that seq (`Ok(None)` otherwise). Returns the entry written.
    pub fn append(
        &mut self,
        run: &str,
        actor: &Actor,
        ts: i64,
        fact: &Fact,
        if_last_seq: Option<u64>,
    ) -> Result<Option<Entry>, JournalError> {
        let path = self.path.clone();
        self.file.lock().map_err(io_err(&path))?;
        let result = self.append_locked(run, actor, ts, fact, if_last_seq);
        let unlocked = self.file.unlock().map_err(io_err(&path));
        let r = result?;
        unlocked?;
        Ok(r)
    }

    fn append_locked(
        &mut self,
        run: &str,
        actor: &Actor,
        ts: i64,
        fact: &Fact,
        if_last_seq: Option<u64>,
    ) -> Result<Option<Entry>, JournalError> {
        let path = self.path.clone();
        let tail = self.tail().map_err(io_err(&path))?;
        if let Some(want) = if_last_seq
            && want != tail.last_seq
        {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut seq = tail.last_seq + 1;
        let mut prev = tail.prev_hash;
        if let Some((line, bytes, hash)) = tail.torn {
            // End the torn line where it is, and say so on the next line.
            out.push(b'\n');
            let repair = Entry {
                v: 1,
                seq,
                ts,
                run: run.to_string(),
                actor: actor.clone(),
                fact: Fact::Repair { line, bytes, hash },
                prev: prev.clone(),
            };
            let line =
                serde_json::to_vec(&repair).map_err(|e| JournalError::Encode(e.to_string()))?;
            prev = sha256_hex(&line);
            out.extend_from_slice(&line);
            out.push(b'\n');
            seq += 1;
        }
        let entry = Entry {
            v: 1,
            seq,
            ts,
            run: run.to_string(),
            actor: actor.clone(),
            fact: fact.clone(),
            prev,
        };
        let line = serde_json::to_vec(&entry).map_err(|e| JournalError::Encode(e.to_string()))?;
        out.extend_from_slice(&line);
        out.push(b'\n');
        self.file.write_all(&out).map_err(io_err(&path))?;
        self.file.sync_data().map_err(io_err(&path))?;
        Ok(Some(entry))
    }
}

/// Reads a journal as it grows, complete lines only, without a lock.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    offset: u64,
    chain: Chain,
}

/// New lines since the last read.
#[derive(Debug, Default)]
pub struct Update {
    pub entries: Vec<Entry>,
    pub damage: Vec<Damage>,
}

impl Follower {
    pub fn new(path: &Path) -> Follower {
        Follower {
            path: path.to_path_buf(),
            offset: 0,
            chain: Chain::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines appended since the last call.
    pub fn poll(&mut self) -> Result<Update, JournalError> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Update::default()),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        let len = f.metadata().map_err(io_err(&self.path))?.len();
        if len <= self.offset {
            return Ok(Update::default());
        }
        f.seek(SeekFrom::Start(self.offset))
            .map_err(io_err(&self.path))?;
        let mut buf = Vec::with_capacity((len - self.offset) as usize);
        f.take(len - self.offset)
            .read_to_end(&mut buf)
            .map_err(io_err(&self.path))?;
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return Ok(Update::default());
        };
        let n_entries = self.chain.read.entries.len();
        let n_damage = self.chain.read.damage.len();
        for line in buf[..end].split(|&b| b == b'\n') {
            self.chain.push(line);
        }
        self.offset += end as u64 + 1;
        let update = Update {
            entries: self.chain.read.entries[n_entries..].to_vec(),
            damage: self
                .chain
                .read
                .damage
                .get(n_damage..)
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
        };
        // Keep memory flat: the follower needs only the chain's tail state.
        self.chain.read.entries.clear();
        self.chain.read.damage.clear();
        Ok(update)
    }
}

/// Calls `on_change` when a run folder changes: notify events, with a
/// polling fallback (file systems without inotify, such as NFS).
pub struct Watch {
    _watcher: Option<notify::RecommendedWatcher>,
    stop: Arc<AtomicBool>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn watch(
    file: &Path,
    poll_every: Duration,
    on_change: impl Fn() + Send + Sync + 'static,
) -> Watch {
    use notify::Watcher;
    let on_change = Arc::new(on_change);
    let cb = on_change.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| {
            matches!(
                e.kind,
                notify::EventKind::Modify(_) | notify::EventKind::Create(_)
            )
        }) {
            cb();
        }
    })
    .ok()
    .and_then(|mut w| {
        let dir = file.parent().unwrap_or(file);
        w.watch(dir, notify::RecursiveMode::NonRecursive)
            .ok()
            .map(|_| w)
    });
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let path = file.to_path_buf();
    std::thread::spawn(move || {
        let mut last = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        while !stop2.load(Ordering::Relaxed) {
            std::thread::sleep(poll_every);
            let now = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if now != last {
                last = now;
                on_change();
            }
        }
    });
    Watch {
        _watcher: watcher,
        stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn actor() -> Actor {
        Actor {
            user: "t".into(),
            uid: 1,
            host: "h".into(),
            ..Actor::default()
        }
    }

    fn note(i: usize) -> Fact {
        Fact::Note {
            text: format!("n{i}"),
        }
    }

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn appends_chain_and_verify() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut j = Journal::open(&p).unwrap();
        for i in 0..5 {
            let e = j
                .append("r", &actor(), i as i64, &note(i), None)
                .unwrap()
                .unwrap();
            assert_eq!(e.seq, i as u64 + 1);
        }
        let v = verify(&p).unwrap();
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.entries, 5);
        let r = read(&p).unwrap();
        assert_eq!(r.entries[0].prev, GENESIS);
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, FILE_MODE);
    }

    #[test]
    fn conditional_appends_need_the_expected_tail() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut j = Journal::open(&p).unwrap();
        j.append("r", &actor(), 0, &note(0), None).unwrap();
        assert!(
            j.append("r", &actor(), 0, &note(1), Some(0))
                .unwrap()
                .is_none()
        );
        assert!(
            j.append("r", &actor(), 0, &note(1), Some(1))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_torn_last_line_is_repaired_by_the_next_append() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut j = Journal::open(&p).unwrap();
        for i in 0..3 {
            j.append("r", &actor(), 0, &note(i), None).unwrap();
        }
        // A crash in the middle of a write leaves half a line.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"v\":1,\"seq\":4,\"ts\":0,\"ru").unwrap();
        let r = read(&p).unwrap();
        assert_eq!(r.entries.len(), 3);
        assert_eq!(r.partial_tail, Some(4));
        assert!(!verify(&p).unwrap().ok());
        let e = j.append("r", &actor(), 0, &note(9), None).unwrap().unwrap();
        assert_eq!(e.seq, 5, "the repair line took seq 4");
        let v = verify(&p).unwrap();
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.repaired, vec![4]);
        let r = read(&p).unwrap();
        assert!(matches!(r.entries[3].fact, Fact::Repair { line: 4, .. }));
        assert_eq!(r.entries.len(), 5);
    }

    #[test]
    fn a_corrupted_line_is_reported_and_nothing_after_it_is_lost() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut j = Journal::open(&p).unwrap();
        for i in 0..10 {
            j.append("r", &actor(), 0, &note(i), None).unwrap();
        }
        let text = fs::read_to_string(&p).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[2] = lines[2].replace("\"seq\":3", "\"seq\":3x");
        fs::write(&p, lines.join("\n") + "\n").unwrap();
        let r = read(&p).unwrap();
        assert_eq!(r.entries.len(), 9, "every other line is still read");
        assert_eq!(r.entries.last().map(|e| e.seq), Some(10));
        assert_eq!(r.damage[0].line, 3);
        assert!(r.damage[0].what.starts_with("unreadable line"));
        assert_eq!(r.damage[1].line, 4, "the next line no longer chains");
        // Appending after damage still works and chains to the last line.
        let e = j
            .append("r", &actor(), 0, &note(11), None)
            .unwrap()
            .unwrap();
        assert_eq!(e.seq, 11);
        let v = verify(&p).unwrap();
        assert_eq!(v.damage.len(), 2);
    }

    #[test]
    fn a_changed_line_breaks_the_chain() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut j = Journal::open(&p).unwrap();
        for i in 0..4 {
            j.append("r", &actor(), 0, &note(i), None).unwrap();
        }
        let text = fs::read_to_string(&p)
            .unwrap()
            .replace("\"n1\"", "\"n1 (edited)\"");
        fs::write(&p, text).unwrap();
        let v = verify(&p).unwrap();
        assert!(!v.ok());
        assert_eq!(v.damage.len(), 1);
        assert_eq!(v.damage[0].line, 3);
        assert!(v.damage[0].what.contains("hash chain broken"));
    }

    #[test]
    fn the_follower_reads_complete_lines_only_and_follows() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut fo = Follower::new(&p);
        assert!(fo.poll().unwrap().entries.is_empty());
        let mut j = Journal::open(&p).unwrap();
        j.append("r", &actor(), 0, &note(0), None).unwrap();
        j.append("r", &actor(), 0, &note(1), None).unwrap();
        assert_eq!(fo.poll().unwrap().entries.len(), 2);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"half").unwrap();
        assert!(fo.poll().unwrap().entries.is_empty());
        j.append("r", &actor(), 0, &note(2), None).unwrap();
        let u = fo.poll().unwrap();
        // The torn line, then the repair line and the note.
        assert_eq!(u.entries.len(), 2);
        assert!(matches!(u.entries[0].fact, Fact::Repair { .. }));
        assert!(u.damage.is_empty() || u.damage.iter().all(|d| d.line == 3));
    }

    #[test]
    fn tail_finds_the_seq_past_a_large_window() {
        let d = tmp();
        let p = d.path().join(JOURNAL);
        let mut j = Journal::open(&p).unwrap();
        let big = "x".repeat(100_000);
        j.append("r", &actor(), 0, &Fact::Note { text: big.clone() }, None)
            .unwrap();
        j.append("r", &actor(), 0, &Fact::Note { text: big }, None)
            .unwrap();
        let e = j.append("r", &actor(), 0, &note(3), None).unwrap().unwrap();
        assert_eq!(e.seq, 3);
        assert!(verify(&p).unwrap().ok());
    }

    #[test]
    fn folders_are_group_shared_with_setgid() {
        let d = tmp();
        let p = d.path().join("a/b");
        make_dir(&p).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, DIR_MODE);
        assert_eq!(mode & 0o007, 0, "never world-accessible");
    }
}
