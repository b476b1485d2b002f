//! Runs the real binary in a real pseudo-terminal: a private tmux server
//! (its own socket), driven with send-keys and read with capture-pane.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    pub session: String,
}

fn tmux_path() -> &'static str {
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!(
            "tmux is not installed: install the Debian package `tmux` (the test command does this)"
        );
    }
    "tmux"
}

impl Tmux {
    /// Starts `command` (a shell command line) in a `w`×`h` pane.
    pub fn start(name: &str, w: u16, h: u16, command: &str, state_dir: &Path) -> Tmux {
        let socket = format!("capdeck-test-{name}-{}", std::process::id());
        let t = Tmux {
            socket,
            session: name.to_string(),
        };
        let status = Command::new(tmux_path())
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                name,
            ])
            .args(["-x", &w.to_string(), "-y", &h.to_string()])
            .env("TERM", "xterm-256color")
            .env("CAPDECK_STATE_DIR", state_dir)
            .env_remove("NO_COLOR")
            .arg(command)
            .status()
            .expect("tmux new-session");
        assert!(status.success(), "tmux new-session failed");
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.session])
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// `#{alternate_on}` and friends.
    pub fn display(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", &self.session, format])
            .trim()
            .to_string()
    }

    /// Waits until the screen contains `text`; panics with the screen after
    /// `limit` (a bound on a hang, not a speed assertion).
    pub fn wait_for(&self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > limit {
                panic!("`{text}` did not appear within {limit:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

impl Tmux {
    pub fn run_resize(&self, w: u16, h: u16) {
        self.run(&[
            "resize-window",
            "-t",
            &self.session,
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ]);
    }
}
