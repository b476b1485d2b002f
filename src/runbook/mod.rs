//! Runbooks: the parser and linter of the runbook format, the pure run state
//! machine, and the journal a run is recorded in.

pub mod cond;
pub mod lint;
pub mod model;
pub mod parse;

pub use model::*;
pub use parse::{parse_runbook, sha256_hex};
pub mod machine;
pub mod record;

pub use machine::{Effect, Event, Run, apply};
pub mod catalog;
pub mod exec;
pub mod export;
pub mod identity;
pub mod journal;
pub mod samples;
pub mod session;
