//! Time to breach: the first sustained crossing of an absolute threshold by
//! the point forecast (p50) and by simulated sample paths (p10, p90, and the
//! probability of breaching within the lead time).
//!
//! Paths are Gaussian with each step's predictive standard deviation, their
//! noise accumulated like a random walk (`sd_k · W_k / √k`), so a path that
//! is high at one step tends to stay high at the next, as real series do.
//! The generator is seeded: the same forecast always gives the same answer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::models::Prediction;
use super::{Breach, Crossings};

/// Consecutive steps at or above the threshold that make a crossing
/// sustained (a single spike above the line is not a breach).
pub const SUSTAIN_STEPS: usize = 3;
/// Simulated paths per forecast.
pub const PATHS: usize = 400;
/// "capdeck" in ASCII: any fixed seed would do.
const SEED: u64 = 0x6361_7064_6563_6b00;

/// Index of the first step that starts a sustained crossing of `thr`: a run
/// of `SUSTAIN_STEPS` points at or above it, or a shorter run reaching the
/// end of the horizon.
pub fn first_sustained(values: &[f64], thr: f64) -> Option<usize> {
    let mut run = 0;
    for (i, v) in values.iter().enumerate() {
        if *v >= thr {
            run += 1;
            if run == SUSTAIN_STEPS {
                return Some(i + 1 - SUSTAIN_STEPS);
            }
        } else {
            run = 0;
        }
    }
    (run > 0).then(|| values.len() - run)
}

/// Everything the breach computation needs besides the forecast itself.
#[derive(Debug, Clone, Copy)]
pub struct BreachSpec {
    /// The absolute threshold.
    pub threshold: f64,
    /// Unix ms of forecast step 0 (one step after the last observation).
    pub first_ms: i64,
    pub step_ms: i64,
    pub now_ms: i64,
    pub lead_ms: i64,
    /// The latest observed value.
    pub current: f64,
    /// Whether the recent trend is statistically significant.
    pub trending: bool,
}

/// Time to breach from a forecast, plus the crossing times of the paths.
pub fn time_to_breach(pred: &Prediction, spec: &BreachSpec) -> (Breach, Crossings) {
    let h = pred.mean.len();
    let horizon_end_ms = spec.first_ms + spec.step_ms * h.saturating_sub(1) as i64;
    let mut crossings = Crossings {
        at_ms: Vec::new(),
        paths: 0,
        point_ms: None,
        lead_ms: spec.lead_ms,
        horizon_end_ms,
    };
    if spec.current >= spec.threshold {
        return (Breach::Breached, crossings);
    }
    if h == 0 {
        return (Breach::InsufficientData, crossings);
    }
    let t_of = |k: usize| spec.first_ms + spec.step_ms * k as i64;
    let point = first_sustained(&pred.mean, spec.threshold).map(t_of);
    crossings.point_ms = point;

    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut path = vec![0.0; h];
    for _ in 0..PATHS {
        let mut w = 0.0;
        for (k, slot) in path.iter_mut().enumerate() {
            w += standard_normal(&mut rng);
            *slot = pred.mean[k] + pred.sd[k] * w / ((k + 1) as f64).sqrt();
        }
        if let Some(k) = first_sustained(&path, spec.threshold) {
            crossings.at_ms.push(t_of(k));
        }
    }
    crossings.paths = PATHS;
    crossings.at_ms.sort_unstable();
    (crossings.breach_at(spec.now_ms, spec.trending), crossings)
}

impl Crossings {
    /// The breach as seen from `now_ms` (the crossing times are absolute, so
    /// a fit can be re-expressed later without refitting).
    pub fn breach_at(&self, now_ms: i64, trending: bool) -> Breach {
        let secs = |t: i64| ((t - now_ms) as f64 / 1000.0).max(0.0);
        let paths = self.paths.max(1) as f64;
        let share = |limit: i64| self.at_ms.iter().filter(|t| **t <= limit).count() as f64 / paths;
        match self.point_ms {
            Some(p50) => {
                let q = |p: f64| {
                    let idx = ((p * paths).ceil() as usize).saturating_sub(1);
                    self.at_ms.get(idx).copied()
                };
                let p50_s = secs(p50);
                let p10_s = q(0.1).map(secs).unwrap_or(p50_s).min(p50_s);
                let p90_s = q(0.9).map(secs).map(|s| s.max(p50_s));
                Breach::Forecast {
                    p10_s,
                    p50_s,
                    p90_s,
                    prob_within_lead: share(now_ms + self.lead_ms),
                }
            }
            None if trending => Breach::NoBreachWithinHorizon {
                prob_within_horizon: share(self.horizon_end_ms),
            },
            None => Breach::NotTrending,
        }
    }
}

/// A standard normal draw (Box–Muller; one of the pair is enough here).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(threshold: f64, current: f64) -> BreachSpec {
        BreachSpec {
            threshold,
            first_ms: 60_000,
            step_ms: 60_000,
            now_ms: 0,
            lead_ms: 30 * 60_000,
            current,
            trending: true,
        }
    }

    #[test]
    fn sustained_means_three_in_a_row_or_the_end() {
        assert_eq!(
            first_sustained(&[0.0, 5.0, 0.0, 5.0, 5.0, 5.0], 1.0),
            Some(3)
        );
        assert_eq!(first_sustained(&[0.0, 0.0, 5.0], 1.0), Some(2));
        assert_eq!(first_sustained(&[0.0, 0.0], 1.0), None);
    }

    #[test]
    fn a_ramp_breaches_when_the_line_says() {
        // Value 1 per minute from 0; threshold 42 is reached at step 41 = 42 min.
        let pred = Prediction {
            mean: (1..=120).map(f64::from).collect(),
            sd: (1..=120).map(|k| 0.5 * f64::from(k).sqrt()).collect(),
        };
        let (b, c) = time_to_breach(&pred, &spec(42.0, 0.0));
        match b {
            Breach::Forecast {
                p10_s,
                p50_s,
                p90_s,
                prob_within_lead,
            } => {
                assert!((p50_s - 42.0 * 60.0).abs() <= 60.0, "p50 {p50_s}");
                assert!(p10_s <= p50_s && p90_s.expect("p90") >= p50_s);
                assert!(prob_within_lead < 0.05);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.paths, PATHS);
        // Deterministic.
        assert_eq!(time_to_breach(&pred, &spec(42.0, 0.0)).0, b);
    }

    #[test]
    fn breached_not_trending_and_no_breach() {
        let flat = Prediction {
            mean: vec![1.0; 50],
            sd: vec![0.1; 50],
        };
        assert_eq!(time_to_breach(&flat, &spec(2.0, 3.0)).0, Breach::Breached);
        let mut s = spec(2.0, 1.0);
        s.trending = false;
        assert_eq!(time_to_breach(&flat, &s).0, Breach::NotTrending);
        match time_to_breach(&flat, &spec(2.0, 1.0)).0 {
            Breach::NoBreachWithinHorizon {
                prob_within_horizon,
            } => {
                assert!(prob_within_horizon < 0.01)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn re_expressing_later_shortens_the_eta() {
        let pred = Prediction {
            mean: (1..=120).map(f64::from).collect(),
            sd: vec![0.1; 120],
        };
        let (_, c) = time_to_breach(&pred, &spec(60.0, 0.0));
        let Breach::Forecast { p50_s: early, .. } = c.breach_at(0, true) else {
            panic!()
        };
        let Breach::Forecast { p50_s: later, .. } = c.breach_at(600_000, true) else {
            panic!()
        };
        assert!((early - later - 600.0).abs() < 1e-9);
    }
}
