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

/// How often, in real time, the poller and the forecaster may work at most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RealTimeFloors {
    pub poll: std::time::Duration,
    pub refit: std::time::Duration,
}

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

    /// The same configuration for a clock running `speed` times faster than
    /// real time, given the real-time floors of the poller and the
    /// forecaster. Polls never come closer than `floors.poll`, so in clock
    /// time a sample may be `poll × speed` old between two of them: no
    /// staleness limit is kept below three of those, or a fast demo would
    /// read every trigger as stale. Refits are spaced at least
    /// `floors.refit` of real time, or a fast demo would refit every trigger
    /// several times a second.
    pub fn for_clock_speed(mut self, speed: f64, floors: RealTimeFloors) -> Config {
        let speed = speed.max(1.0);
        let floor = floors.poll.mul_f64(3.0 * speed);
        let raise = |d: Dur| Dur(d.0.max(floor));
        self.cockpit.stale_after = Some(raise(self.cockpit.stale_after()));
        for d in &mut self.domains {
            for t in &mut d.triggers {
                t.stale_after = t.stale_after.map(raise);
            }
        }
        let refit = floors.refit.mul_f64(speed);
        self.cockpit.forecast_every = Dur(self.cockpit.forecast_every.0.max(refit));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_fast_clock_neither_goes_stale_nor_refits_every_frame() {
        let base = parse(EMBEDDED_EXAMPLE, Origin::Embedded).unwrap().config;
        let floors = RealTimeFloors {
            poll: Duration::from_millis(200),
            refit: Duration::from_secs(10),
        };
        // Real time changes nothing.
        let same = base.clone().for_clock_speed(1.0, floors);
        assert_eq!(same.cockpit.stale_after(), base.cockpit.stale_after());
        assert_eq!(same.cockpit.forecast_every, base.cockpit.forecast_every);
        // At 600× a poll comes every 120 s of clock time: at least 360 s;
        // refits at most every 10 s of real time, 100 min of clock time.
        let fast = base.clone().for_clock_speed(600.0, floors);
        assert_eq!(fast.cockpit.stale_after().0, Duration::from_secs(360));
        assert_eq!(fast.cockpit.forecast_every.0, Duration::from_secs(6000));
        for ((_, a), (_, b)) in base.triggers().zip(fast.triggers()) {
            if let Some(d) = a.stale_after {
                let got = b.stale_after.unwrap().0;
                assert_eq!(got, d.0.max(Duration::from_secs(360)), "{}", a.id);
            } else {
                assert!(b.stale_after.is_none());
            }
        }
    }
}
