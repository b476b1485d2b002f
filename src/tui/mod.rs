//! The terminal face: app loop, messages, views, widgets, themes, keymap.

use anyhow::Result;

use crate::cli::Options;
use crate::config::Loaded;

pub fn run(_loaded: Loaded, _opts: &Options) -> Result<()> {
    anyhow::bail!("the TUI is being built; use `capdeck report`")
}
