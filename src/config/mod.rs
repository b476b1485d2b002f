//! Configuration: the typed schema, human-readable units, and loading with
//! located errors.

mod load;
mod schema;
mod units;

pub use load::{
    ConfigError, EMBEDDED_EXAMPLE, Loaded, Origin, Problem, candidate_paths, discover, load_file,
    nearest, parse,
};
pub use schema::*;
pub use units::{Dur, Quantity, parse_duration, parse_quantity};

impl Config {
    /// The same configuration with the demo simulator standing in for every
    /// source, keeping their names so every trigger still finds its source.
    pub fn with_demo(mut self, seed: Option<u64>) -> Config {
        for s in &mut self.sources {
            *s = SourceConfig {
                refresh: s.refresh,
                ..SourceConfig::demo(&s.name, seed.or(s.seed))
            };
        }
        if self.sources.is_empty() {
            self.sources.push(SourceConfig::demo("demo", seed));
        }
        self
    }

    /// The same configuration answered from a recording: every source
    /// becomes a replay of what it answered in `file`, keeping its name.
    pub fn with_replay(mut self, file: &std::path::Path) -> Config {
        for s in &mut self.sources {
            *s = SourceConfig {
                kind: SourceKind::Replay,
                refresh: s.refresh,
                timeout: s.timeout,
                file: Some(file.to_path_buf()),
                ..SourceConfig::demo(&s.name, None)
            };
        }
        self
    }

    /// Prints the effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

impl SourceConfig {
    pub fn demo(name: &str, seed: Option<u64>) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            kind: SourceKind::Demo,
            url: None,
            refresh: None,
            timeout: None,
            bearer_token_env: None,
            bearer_token_file: None,
            basic_user: None,
            basic_password_env: None,
            basic_password_file: None,
            headers: Default::default(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            max_response: None,
            retries: None,
            concurrency: None,
            seed,
            file: None,
        }
    }
}
