//! A real Prometheus (Debian's `prometheus` package) on a free loopback port,
//! over a TSDB built by `promtool tsdb create-blocks-from openmetrics` from
//! data the test writes. Killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Finds `bin` on PATH, or fails naming the package that provides it.
pub fn require(bin: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        let p = dir.join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{bin}` is not installed: these tests need a real Prometheus. \
         Install the Debian package `prometheus` (apt-get install prometheus), \
         which provides /usr/bin/prometheus and /usr/bin/promtool"
    );
}

/// One series of written data: name, labels, and `(unix seconds, value)`.
pub struct Written {
    pub name: &'static str,
    pub labels: Vec<(&'static str, &'static str)>,
    pub points: Vec<(i64, f64)>,
}

fn om_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// OpenMetrics text of `series`, grouped by metric family as the format
/// requires, ending in `# EOF`.
pub fn openmetrics(series: &[Written]) -> String {
    let mut names: Vec<&str> = series.iter().map(|s| s.name).collect();
    names.dedup();
    let mut out = String::new();
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            continue;
        }
        out.push_str(&format!("# TYPE {name} gauge\n"));
        for s in series.iter().filter(|s| s.name == name) {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            for (t, v) in &s.points {
                out.push_str(&format!("{name}{labels} {} {t}\n", om_value(*v)));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

pub struct Prometheus {
    pub url: String,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GET `path` on 127.0.0.1:port; the status code, if the server answered.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Prometheus {
    /// Builds a TSDB from `series` and starts Prometheus over it.
    pub fn start(series: &[Written]) -> Prometheus {
        require("prometheus");
        let promtool = require("promtool");
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data.om");
        let tsdb = dir.path().join("tsdb");
        std::fs::write(&data, openmetrics(series)).expect("write OpenMetrics");
        std::fs::create_dir_all(&tsdb).expect("tsdb dir");
        run(
            Command::new(&promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&data)
                .arg(&tsdb),
            "promtool tsdb create-blocks-from openmetrics",
        );
        // No scrape targets: the TSDB holds exactly what the test wrote.
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let mut p = Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            child: None,
            port,
            dir,
        };
        p.launch();
        p
    }

    /// Starts the server over the TSDB in `dir` on `port` and waits for it.
    fn launch(&mut self) {
        let prometheus = require("prometheus");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("prometheus.log"))
            .expect("log file");
        let child = Command::new(&prometheus)
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.path().join("tsdb").display()
            ))
            .arg("--storage.tsdb.retention.time=36500d")
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", prometheus.display()));
        self.child = Some(child);
        self.wait_ready(self.port);
    }

    /// Starts a stopped server again, on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Polls /-/ready, at most 30 s; fails with Prometheus's log.
    fn wait_ready(&mut self, port: u16) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if get_status(port, "/-/ready") == Some(200) {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!(
                    "prometheus exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus was not ready within 30s:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server now (a later request is refused).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}
