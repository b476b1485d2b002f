//! The clock: real time, a fixed instant (for reproducible reports and
//! tests), or demo time running `speed` times faster than real time.

use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor_real: Instant,
    anchor_ms: i64,
    speed: f64,
}

impl Clock {
    /// Real time, optionally starting at `start_ms` and running `speed`×.
    pub fn new(start_ms: Option<i64>, speed: f64) -> Clock {
        Clock {
            anchor_real: Instant::now(),
            anchor_ms: start_ms.unwrap_or_else(now_ms),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    /// Time stands still at `ms`.
    pub fn fixed(ms: i64) -> Clock {
        Clock {
            anchor_real: Instant::now(),
            anchor_ms: ms,
            speed: 0.0,
        }
    }

    pub fn is_fixed(&self) -> bool {
        self.speed == 0.0
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// When this clock started, in Unix milliseconds.
    pub fn start_ms(&self) -> i64 {
        self.anchor_ms
    }

    pub fn now_ms(&self) -> i64 {
        let elapsed = self.anchor_real.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.anchor_ms + elapsed as i64
    }
}

/// The system clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    to_datetime(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 instant into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| {
            format!("invalid time `{s}` ({e}): use RFC 3339, such as 2026-12-03T14:00:00Z")
        })
}

/// A short human duration: `45s`, `12m`, `3h20m`, `4d6h`, `3w`.
pub fn human_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "∞".into();
    }
    let s = secs.abs().round() as u64;
    let sign = if secs < 0.0 { "-" } else { "" };
    let body = match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => {
            let m = (s % 3600) / 60;
            if m == 0 {
                format!("{}h", s / 3600)
            } else {
                format!("{}h{:02}m", s / 3600, m)
            }
        }
        86_400..1_209_600 => {
            let h = (s % 86_400) / 3600;
            if h == 0 {
                format!("{}d", s / 86_400)
            } else {
                format!("{}d{}h", s / 86_400, h)
            }
        }
        _ => format!("{}w", s / 604_800),
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_secs(5.0), "5s");
        assert_eq!(human_secs(600.0), "10m");
        assert_eq!(human_secs(3600.0 * 3.0 + 1200.0), "3h20m");
        assert_eq!(human_secs(86_400.0 * 2.0), "2d");
        assert_eq!(human_secs(86_400.0 * 4.0 + 3600.0 * 6.0), "4d6h");
        assert_eq!(human_secs(86_400.0 * 30.0), "4w");
        assert_eq!(human_secs(-90.0), "-1m");
    }

    #[test]
    fn fixed_clocks_stand_still() {
        let c = Clock::fixed(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert!(c.is_fixed());
    }
}
