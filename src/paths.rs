//! Where capdeck keeps files: XDG base directories, with overrides for tests
//! and for shared war-room setups.

use std::path::PathBuf;

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn home() -> Option<PathBuf> {
    env_dir("HOME")
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> Option<PathBuf> {
    env_dir("XDG_CONFIG_HOME").or_else(|| home().map(|h| h.join(".config")))
}

/// capdeck's state folder (logs, runs): `$CAPDECK_STATE_DIR`, else
/// `$XDG_STATE_HOME/capdeck`, else `~/.local/state/capdeck`, else a folder
/// under the system's temporary directory.
pub fn state_dir() -> PathBuf {
    env_dir("CAPDECK_STATE_DIR")
        .or_else(|| env_dir("XDG_STATE_HOME").map(|d| d.join("capdeck")))
        .or_else(|| home().map(|h| h.join(".local/state/capdeck")))
        .unwrap_or_else(|| std::env::temp_dir().join("capdeck-state"))
}
