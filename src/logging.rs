//! Logs go to a file in the state directory, never to the terminal: the
//! TUI owns the screen, and the headless commands own stdout.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;

/// Starts logging to `<state dir>/capdeck.log` (level from `CAPDECK_LOG`,
/// default `info`). Keep the guard alive: dropping it flushes the log.
pub fn init() -> Result<(WorkerGuard, PathBuf), String> {
    let dir = crate::paths::state_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("{}: cannot create the state folder: {e}", dir.display()))?;
    let file = tracing_appender::rolling::never(&dir, "capdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAPDECK_LOG")
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok((guard, dir.join("capdeck.log")))
}
