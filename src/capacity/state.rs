//! The trigger state machine: thresholds with hysteresis and `for`.
//!
//! The state at any moment is a function of the samples before it, so
//! instead of keeping mutable state between evaluations the machine is
//! replayed over the retained samples. That keeps `evaluate` pure: the same
//! store and clock always give the same state.

use super::snapshot::State;

/// A level's enter and clear utilisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub state: State,
    pub enter: f64,
    pub clear: f64,
}

/// Warn, scale and critical levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    pub levels: [Level; 3],
    /// How long a level must hold before it is entered, in milliseconds.
    pub hold_ms: i64,
    /// A gap longer than this between samples breaks a pending hold.
    pub max_gap_ms: i64,
}

/// The state after the last sample, and a worse state still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub state: State,
    pub pending: Option<State>,
}

fn rank(s: State) -> usize {
    match s {
        State::Ok => 0,
        State::Warn => 1,
        State::Scale => 2,
        State::Critical => 3,
        State::Stale | State::Unknown => 0,
    }
}

/// Replays `(t_ms, utilisation)` points, oldest first.
pub fn replay(levels: &Levels, points: impl IntoIterator<Item = (i64, f64)>) -> Outcome {
    let mut current = 0usize; // 0 ok, 1 warn, 2 scale, 3 critical
    let mut above_since: [Option<i64>; 3] = [None; 3];
    let mut last_t: Option<i64> = None;
    for (t, u) in points {
        if last_t.is_some_and(|lt| t - lt > levels.max_gap_ms) {
            above_since = [None; 3];
        }
        last_t = Some(t);
        if !u.is_finite() {
            // NaN compares false, as in Prometheus: no level holds.
            above_since = [None; 3];
            continue;
        }
        for (i, l) in levels.levels.iter().enumerate() {
            if u >= l.enter {
                above_since[i].get_or_insert(t);
            } else {
                above_since[i] = None;
            }
        }
        // Enter the highest level that has held for `for`.
        for i in (0..3).rev() {
            if i + 1 > current && above_since[i].is_some_and(|s| t - s >= levels.hold_ms) {
                current = i + 1;
                break;
            }
        }
        // Clear down to the highest level whose clear mark is still exceeded.
        while current > 0 && u < levels.levels[current - 1].clear {
            current -= 1;
        }
    }
    let state = [State::Ok, State::Warn, State::Scale, State::Critical][current];
    let pending = (0..3)
        .rev()
        .find(|&i| i + 1 > current && above_since[i].is_some())
        .map(|i| levels.levels[i].state);
    debug_assert!(pending.is_none_or(|p| rank(p) > rank(state)));
    Outcome { state, pending }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(hold_ms: i64) -> Levels {
        Levels {
            levels: [
                Level {
                    state: State::Warn,
                    enter: 0.70,
                    clear: 0.65,
                },
                Level {
                    state: State::Scale,
                    enter: 0.80,
                    clear: 0.75,
                },
                Level {
                    state: State::Critical,
                    enter: 0.95,
                    clear: 0.90,
                },
            ],
            hold_ms,
            max_gap_ms: 60_000,
        }
    }

    fn run(hold: i64, us: &[f64]) -> Outcome {
        replay(
            &levels(hold),
            us.iter().enumerate().map(|(i, &u)| (i as i64 * 10_000, u)),
        )
    }

    #[test]
    fn thresholds_without_hold_enter_at_once() {
        assert_eq!(run(0, &[0.5]).state, State::Ok);
        assert_eq!(run(0, &[0.7]).state, State::Warn);
        assert_eq!(run(0, &[0.85]).state, State::Scale);
        assert_eq!(run(0, &[0.96]).state, State::Critical);
    }

    #[test]
    fn hysteresis_keeps_a_state_until_its_clear_level() {
        assert_eq!(run(0, &[0.82, 0.77]).state, State::Scale);
        assert_eq!(run(0, &[0.82, 0.74]).state, State::Warn);
        assert_eq!(run(0, &[0.82, 0.60]).state, State::Ok);
        assert_eq!(run(0, &[0.97, 0.91]).state, State::Critical);
        assert_eq!(run(0, &[0.97, 0.89]).state, State::Scale);
    }

    #[test]
    fn hold_delays_entry_and_reports_pending() {
        // 30 s hold, samples every 10 s.
        let o = run(30_000, &[0.5, 0.85, 0.85]);
        assert_eq!(
            o,
            Outcome {
                state: State::Ok,
                pending: Some(State::Scale)
            }
        );
        let o = run(30_000, &[0.5, 0.85, 0.85, 0.85, 0.85]);
        assert_eq!(
            o,
            Outcome {
                state: State::Scale,
                pending: None
            }
        );
        // A dip below the enter level restarts the hold.
        let o = run(30_000, &[0.85, 0.85, 0.79, 0.85, 0.85]);
        assert_eq!(o.state, State::Warn);
        assert_eq!(o.pending, Some(State::Scale));
    }

    #[test]
    fn a_gap_breaks_a_pending_hold() {
        let l = levels(30_000);
        let o = replay(&l, [(0, 0.85), (20_000, 0.85), (200_000, 0.85)]);
        assert_eq!(o.state, State::Ok);
        assert_eq!(o.pending, Some(State::Scale));
    }

    #[test]
    fn nan_never_enters_a_state() {
        assert_eq!(run(0, &[f64::NAN]).state, State::Ok);
        let o = run(20_000, &[0.9, f64::NAN, 0.9, 0.9]);
        assert_eq!(
            o,
            Outcome {
                state: State::Ok,
                pending: Some(State::Scale)
            }
        );
    }
}
