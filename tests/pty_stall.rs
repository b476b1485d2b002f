//! A source that accepts connections and never answers must not freeze the
//! screen: keys keep changing it, and the banner names the source and what
//! went wrong once the request times out.

mod common;

use std::time::Duration;

use common::faults::{FaultServer, stall};
use common::tmux::Tmux;

/// A bound on hangs, not a speed assertion.
const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn keys_work_while_a_source_stalls() {
    let server = FaultServer::start(stall());
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[cockpit]
platform = "Stalled"
refresh = "2s"
history = "1h"

[[source]]
name = "slowprom"
kind = "prometheus"
url = "{}"
timeout = "2s"
retries = 0

[[domain]]
id = "db"
title = "Database"

  [[domain.trigger]]
  id = "pool"
  title = "Pooled connections"
  query = "sum(pgbouncer_pools_server_active_connections)"
  capacity = 400

  [[domain.trigger]]
  id = "lag"
  title = "Replica lag"
  query = "max(pg_replication_lag_seconds)"
  capacity = 30
"#,
        server.url
    );
    let cfg = dir.path().join("capdeck.toml");
    std::fs::write(&cfg, config).unwrap();
    let cmd = format!(
        "{} --config {}; sleep 30",
        env!("CARGO_BIN_EXE_capdeck"),
        cfg.display()
    );
    let t = Tmux::start("stall", 100, 24, &cmd, dir.path());

    t.wait_for("Stalled", LIMIT);
    // The backfill is still hanging: the screen answers keys regardless.
    t.keys(&["?"]);
    t.wait_for("Keys on this screen", LIMIT);
    t.keys(&["Escape"]);
    t.wait_for("Triggers, least headroom first", LIMIT);
    t.keys(&["s"]);
    t.wait_for("Source health", LIMIT);
    t.keys(&["Escape"]);

    // Once the request times out, the banner says which source and why.
    let screen = t.wait_for("slowprom down", LIMIT);
    assert!(screen.contains("timed out"), "{screen}");
    // Still responsive after the failure.
    t.keys(&["/"]);
    t.wait_for("filter:", LIMIT);
    t.keys(&["l", "a", "g", "Enter"]);
    let screen = t.wait_for("filter “lag”", LIMIT);
    assert!(!screen.contains("Pooled connections"), "{screen}");
    t.keys(&["q"]);
}
