//! Preprocessing: from raw samples (unsorted, duplicated, gappy, maybe a
//! counter with resets) to a regular grid the models can read by index.

use crate::series::Sample;

/// A series on a fixed step: `values[i]` is the value at
/// `start_ms + i * step_ms`; the last value is at the newest sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Regular {
    pub start_ms: i64,
    pub step_ms: i64,
    pub values: Vec<f64>,
    /// Counter resets that were compensated.
    pub resets: usize,
}

impl Regular {
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.step_ms * (self.values.len().max(1) as i64 - 1)
    }
}

/// Finite samples sorted by time, duplicates of one timestamp merged into
/// their mean (a DST repeat or a double scrape must not count twice).
pub fn clean(samples: &[Sample]) -> Vec<Sample> {
    let mut s: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.v.is_finite())
        .collect();
    s.sort_by_key(|s| s.t);
    let mut out: Vec<Sample> = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let t = s[i].t;
        let mut j = i;
        let mut sum = 0.0;
        while j < s.len() && s[j].t == t {
            sum += s[j].v;
            j += 1;
        }
        out.push(Sample::new(t, sum / (j - i) as f64));
        i = j;
    }
    out
}

/// The most common spacing, taken as the median of the positive gaps.
pub fn median_step(s: &[Sample]) -> Option<i64> {
    let mut d: Vec<i64> = s
        .windows(2)
        .map(|w| w[1].t - w[0].t)
        .filter(|d| *d > 0)
        .collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// A counter-like series (never falling except by resets to near zero) gets
/// its resets compensated the way Prometheus' `increase` does: after a drop,
/// the value before the drop is added to everything that follows. Gauges are
/// left alone. Returns how many resets were compensated.
pub fn fix_counter_resets(v: &mut [f64]) -> usize {
    if v.len() < 3 || v.iter().any(|x| *x < 0.0) {
        return 0;
    }
    let drops: Vec<usize> = (1..v.len()).filter(|&i| v[i] < v[i - 1]).collect();
    let rises = (1..v.len()).filter(|&i| v[i] > v[i - 1]).count();
    // Only a series that mostly rises and whose every drop lands near zero.
    let counter_like = !drops.is_empty()
        && drops.len() * 20 <= v.len()
        && rises * 2 >= v.len()
        && drops.iter().all(|&i| v[i] <= 0.1 * v[i - 1]);
    if !counter_like {
        return 0;
    }
    let mut offset = 0.0;
    let mut prev_raw = v[0];
    for x in v.iter_mut().skip(1) {
        let raw = *x;
        if raw < prev_raw {
            offset += prev_raw;
        }
        prev_raw = raw;
        *x = raw + offset;
    }
    drops.len()
}

/// Resample cleaned samples onto a grid of `step_ms` ending at the newest
/// sample: each grid point takes the mean of the samples within half a step
/// of it, and empty points are interpolated linearly (gaps). History before a
/// gap longer than `max_gap_steps` is dropped, and at most `max_points` of the
/// newest points are kept.
pub fn regularise(
    s: &[Sample],
    step_ms: i64,
    max_points: usize,
    max_gap_steps: i64,
) -> Option<Regular> {
    let last = s.last()?;
    if step_ms <= 0 {
        return None;
    }
    // Cut at the newest long gap: older data describes another regime.
    let mut first = 0;
    for i in (1..s.len()).rev() {
        if s[i].t - s[i - 1].t > max_gap_steps * step_ms {
            first = i;
            break;
        }
    }
    let s = &s[first..];
    let span = last.t - s[0].t;
    let n = ((span + step_ms / 2) / step_ms + 1) as usize;
    let n = n.min(max_points.max(1));
    let start = last.t - (n as i64 - 1) * step_ms;
    let mut sum = vec![0.0; n];
    let mut cnt = vec![0u32; n];
    for x in s {
        let k = (x.t - start + step_ms / 2).div_euclid(step_ms);
        if (0..n as i64).contains(&k) {
            sum[k as usize] += x.v;
            cnt[k as usize] += 1;
        }
    }
    let mut values = vec![f64::NAN; n];
    for k in 0..n {
        if cnt[k] > 0 {
            values[k] = sum[k] / cnt[k] as f64;
        }
    }
    fill_gaps(&mut values);
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(Regular {
        start_ms: start,
        step_ms,
        values,
        resets: 0,
    })
}

/// Linear interpolation over NaN runs; leading NaNs take the first value.
pub fn fill_gaps(v: &mut [f64]) {
    let Some(first) = v.iter().position(|x| !x.is_nan()) else {
        return;
    };
    let fv = v[first];
    v[..first].fill(fv);
    let mut prev = first;
    for i in first + 1..v.len() {
        if v[i].is_nan() {
            continue;
        }
        if i > prev + 1 {
            let (a, b) = (v[prev], v[i]);
            let len = (i - prev) as f64;
            for (j, slot) in v.iter_mut().enumerate().take(i).skip(prev + 1) {
                *slot = a + (b - a) * (j - prev) as f64 / len;
            }
        }
        prev = i;
    }
    let lv = v[prev];
    v[prev + 1..].fill(lv);
}

/// How a lasting level shift is told apart from noise, a burst, a trend or
/// the season.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftRule {
    /// Points the old level is judged on.
    pub before: usize,
    /// Points the new level must have held.
    pub after: usize,
    /// The least size, in robust standard deviations of the first differences.
    pub k_sigma: f64,
    /// Season lengths in points: a change that also happened one season
    /// earlier at the same phase is the season (a weekend, a nightly batch),
    /// not a shift.
    pub seasons: Vec<usize>,
}

/// A step must be this many interquartile ranges of the values on either
/// side of it: a ramp or a half cycle of a wave spreads its windows wide, a
/// step between two quiet levels does not.
const SPREAD_FACTOR: f64 = 5.0;

/// The newest lasting level shift in `y`: an index `k` where the median of
/// the points after it differs from the median of the `before` points ahead
/// of it by more than `k_sigma` robust standard deviations of the first
/// differences and by more than [`SPREAD_FACTOR`] times either window's
/// interquartile range; where at least `after` points have passed, 90 % of
/// them on the new side of the midpoint and 90 % of the `before` points on
/// the old side (the end of a burst fails that: its window holds both
/// levels); and where no season earlier shows the same change. Returns the
/// index and the shift's size.
pub fn recent_level_shift(y: &[f64], rule: &ShiftRule) -> Option<(usize, f64)> {
    use super::stats::{median, quantile};
    let (n, before, after) = (y.len(), rule.before, rule.after);
    if after < 4 || before < after || n < before + after {
        return None;
    }
    let diffs: Vec<f64> = y.windows(2).map(|p| (p[1] - p[0]).abs()).collect();
    let sigma = 1.4826 * median(&diffs);
    if sigma.is_nan() || sigma <= 0.0 {
        return None;
    }
    let share_on = |v: &[f64], mid: f64, sign: f64| {
        v.iter().filter(|x| (**x - mid).signum() == sign).count() as f64 / v.len() as f64
    };
    let iqr = |v: &[f64]| quantile(v, 0.75) - quantile(v, 0.25);
    let step_at = |k: usize| -> Option<f64> {
        let (old_w, new_w) = (&y[k - before..k], &y[k..(k + before).min(n)]);
        let (old, new) = (median(old_w), median(new_w));
        let shift = new - old;
        let mid = old + shift / 2.0;
        // Cheapest tests first; the tail share, which reads every point
        // since k, goes last.
        let found = shift.abs() > rule.k_sigma * sigma
            && shift.abs() > SPREAD_FACTOR * iqr(old_w).max(iqr(new_w))
            && share_on(old_w, mid, -shift.signum()) >= 0.9
            && share_on(&y[k..], mid, shift.signum()) >= 0.9;
        found.then_some(shift)
    };
    let seasonal = |k: usize, shift: f64| {
        rule.seasons.iter().any(|&p| {
            let Some(j) = k.checked_sub(p).filter(|j| *j >= before) else {
                return false;
            };
            let then = median(&y[j..j + after]) - median(&y[j - before..j]);
            then.signum() == shift.signum() && then.abs() >= 0.5 * shift.abs()
        })
    };
    let stride = (after / 4).max(1);
    // Scan back from the newest split; once a step is found, keep going
    // while it grows, so the split lands where the level moved.
    let mut best: Option<(usize, f64)> = None;
    let mut k = n - after;
    while k >= before {
        match (best, step_at(k)) {
            (Some((_, b)), Some(s)) if s.abs() > b.abs() => best = Some((k, s)),
            (Some(_), None) => break,
            (None, Some(s)) => best = Some((k, s)),
            _ => {}
        }
        if k < stride {
            break;
        }
        k -= stride;
    }
    let (k, shift) = best?;
    // The scan moves in strides: put the split on the point where the
    // values nearby change sides.
    let old = median(&y[k - before..k]);
    let new = old + shift;
    let (lo, hi) = (
        k.saturating_sub(stride).max(before),
        (k + stride).min(n - 1),
    );
    let cost = |j: usize| -> f64 {
        (lo..=hi)
            .map(|i| (y[i] - if i < j { old } else { new }).abs())
            .sum()
    };
    let k = (lo..=hi)
        .min_by(|a, b| cost(*a).total_cmp(&cost(*b)))
        .unwrap_or(k);
    (!seasonal(k, shift)).then_some((k, shift))
}

/// The series with its lasting level shifts taken out: scanning back from
/// the newest one, everything before each shift is moved by its size, so
/// the whole history sits at today's level. Models that remember days or
/// weeks (seasonal naive, seasonal medians, MSTL) then forecast today's
/// level with yesterday's shape, and the cross-validation folds are no
/// longer ruled by one step nobody could have forecast. Returns the adjusted
/// series and the shifts found, newest first.
pub fn remove_level_shifts(y: &[f64], rule: &ShiftRule) -> (Vec<f64>, Vec<(usize, f64)>) {
    const MAX_SHIFTS: usize = 8;
    let mut out = y.to_vec();
    let mut shifts = Vec::new();
    let mut end = out.len();
    while shifts.len() < MAX_SHIFTS {
        let Some((k, s)) = recent_level_shift(&out[..end], rule) else {
            break;
        };
        out[..k].iter_mut().for_each(|v| *v += s);
        shifts.push((k, s));
        end = k;
    }
    (out, shifts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_sorts_and_merges_duplicates() {
        let s = [
            Sample::new(20, 4.0),
            Sample::new(10, 1.0),
            Sample::new(20, 2.0),
            Sample::new(30, f64::NAN),
        ];
        let c = clean(&s);
        assert_eq!(c, vec![Sample::new(10, 1.0), Sample::new(20, 3.0)]);
    }

    #[test]
    fn regularise_fills_gaps_and_ends_at_newest() {
        let s: Vec<Sample> = [0, 10, 20, 50, 60]
            .iter()
            .map(|&t| Sample::new(t, t as f64))
            .collect();
        let r = regularise(&s, 10, 100, 10).expect("regular");
        assert_eq!(r.start_ms, 0);
        assert_eq!(r.end_ms(), 60);
        assert_eq!(r.values, vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
    }

    #[test]
    fn regularise_drops_history_before_a_long_gap() {
        let mut s: Vec<Sample> = (0..5).map(|i| Sample::new(i * 10, 1.0)).collect();
        s.extend((0..5).map(|i| Sample::new(1000 + i * 10, 2.0)));
        let r = regularise(&s, 10, 100, 20).expect("regular");
        assert_eq!(r.values, vec![2.0; 5]);
    }

    #[test]
    fn counter_resets_are_compensated_but_gauges_are_not() {
        let mut c = vec![1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 2.0];
        c.extend((3..40).map(f64::from));
        assert_eq!(fix_counter_resets(&mut c), 1);
        assert_eq!(&c[..7], &[1.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0]);
        let mut g = vec![5.0, 6.0, 4.0, 7.0, 3.0, 6.0];
        let before = g.clone();
        assert_eq!(fix_counter_resets(&mut g), 0);
        assert_eq!(g, before);
    }

    fn rule() -> ShiftRule {
        ShiftRule {
            before: 72,
            after: 12,
            k_sigma: 8.0,
            seasons: vec![288],
        }
    }

    #[test]
    fn a_ramp_a_wave_and_a_daily_step_are_not_shifts() {
        let ramp: Vec<f64> = (0..600).map(f64::from).collect();
        assert_eq!(recent_level_shift(&ramp, &rule()), None);
        let wave: Vec<f64> = (0..600)
            .map(|i| (2.0 * std::f64::consts::PI * f64::from(i) / 144.0).sin())
            .collect();
        assert_eq!(recent_level_shift(&wave, &rule()), None);
        // Every day the level drops from 50 to 10 for the last 100 points:
        // the season, not a shift.
        let daily: Vec<f64> = (0..288 * 3 - 150)
            .map(|i| if i % 288 >= 188 { 10.0 } else { 50.0 } + ((i * 7919) % 11) as f64 * 0.1)
            .collect();
        assert_eq!(recent_level_shift(&daily, &rule()), None);
    }

    fn noisy(n: usize, level: f64) -> Vec<f64> {
        (0..n)
            .map(|i| level + ((i * 7919) % 11) as f64 * 0.1)
            .collect()
    }

    #[test]
    fn a_recent_shift_is_taken_out_of_the_history() {
        // 400 points at 10, then 30 points at 40 (the newest half hour).
        let mut y = noisy(400, 10.0);
        y.extend(noisy(30, 40.0));
        let (k, shift) = recent_level_shift(&y, &rule()).expect("shift");
        assert!((395..=405).contains(&k), "k = {k}");
        assert!((shift - 30.0).abs() < 1.0, "shift = {shift}");
        let (adj, shifts) = remove_level_shifts(&y, &rule());
        assert_eq!(shifts.len(), 1);
        let med = super::super::stats::median(&adj[..390]);
        assert!((med - 40.5).abs() < 1.0, "history now at {med}");
        assert_eq!(&adj[410..], &y[410..], "the new level is left alone");
    }

    #[test]
    fn the_end_of_a_burst_is_not_a_shift() {
        // A level of 10 with a 20-point burst to 60 that ended 30 points ago.
        let mut y = noisy(400, 10.0);
        y.extend(noisy(20, 60.0));
        y.extend(noisy(30, 10.0));
        assert_eq!(recent_level_shift(&y, &rule()), None);
        let (adj, shifts) = remove_level_shifts(&y, &rule());
        assert!(shifts.is_empty());
        assert_eq!(adj, y);
    }

    #[test]
    fn a_dip_and_its_recovery_are_both_taken_out() {
        let mut y = noisy(300, 90.0);
        y.extend(noisy(150, 25.0));
        y.extend(noisy(300, 90.0));
        let (adj, shifts) = remove_level_shifts(&y, &rule());
        assert_eq!(shifts.len(), 2, "{shifts:?}");
        let off: Vec<(usize, f64)> = adj
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, v)| (*v - 90.5).abs() >= 3.0)
            .collect();
        assert!(off.is_empty(), "{shifts:?} {off:?}");
    }

    #[test]
    fn a_shift_too_young_to_judge_is_left_alone() {
        let mut y = noisy(400, 10.0);
        y.extend(noisy(6, 40.0));
        assert_eq!(recent_level_shift(&y, &rule()), None);
    }
}
