//! Small text widgets: utilisation bars, sparklines, an ASCII chart.

use crate::series::Sample;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII_RAMP: [char; 8] = ['_', '.', '-', '~', '=', '+', '*', '#'];

/// A bar of `width` cells filled to `share` (0..1, clamped), with eighths.
pub fn bar(share: f64, width: usize, ascii: bool) -> String {
    if width == 0 {
        return String::new();
    }
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if ascii {
        let full = (share * width as f64).round() as usize;
        return format!("{}{}", "#".repeat(full), ".".repeat(width - full));
    }
    let eighths = (share * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let part = eighths % 8;
    let mut s = "█".repeat(full.min(width));
    if full < width {
        if part > 0 {
            s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][part - 1]);
        } else {
            s.push('·');
        }
        s.push_str(&"·".repeat(width - full - 1));
    }
    s
}

/// The largest value of each of `width` equal time buckets from `from_ms`
/// to `to_ms` (None where a bucket has no sample).
pub fn bucket_max(
    samples: impl Iterator<Item = Sample>,
    from_ms: i64,
    to_ms: i64,
    width: usize,
) -> Vec<Option<f64>> {
    let mut out = vec![None; width];
    if width == 0 || to_ms <= from_ms {
        return out;
    }
    let span = (to_ms - from_ms) as f64;
    for s in samples {
        if s.t < from_ms || s.t > to_ms || !s.v.is_finite() {
            continue;
        }
        let i = (((s.t - from_ms) as f64 / span) * width as f64) as usize;
        let i = i.min(width - 1);
        out[i] = Some(out[i].map_or(s.v, |m: f64| m.max(s.v)));
    }
    out
}

/// A sparkline scaled from 0 to `top` (the capacity), so the height means
/// utilisation, not just shape.
pub fn sparkline(buckets: &[Option<f64>], top: f64, ascii: bool) -> String {
    let ramp = if ascii { ASCII_RAMP } else { BLOCKS };
    buckets
        .iter()
        .map(|b| match b {
            None => ' ',
            Some(v) => {
                let share = if top > 0.0 {
                    (v / top).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                ramp[((share * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

/// A chart made of ASCII only, for terminals without Braille fonts: `*` for
/// samples, `-` for threshold lines, returned as text lines.
pub fn ascii_chart(
    buckets: &[Option<f64>],
    lines: &[f64],
    y_max: f64,
    height: usize,
) -> Vec<String> {
    let width = buckets.len();
    let mut grid = vec![vec![' '; width]; height];
    if height == 0 || y_max <= 0.0 {
        return grid.into_iter().map(|r| r.into_iter().collect()).collect();
    }
    let row_of = |v: f64| {
        let share = (v / y_max).clamp(0.0, 1.0);
        height - 1 - ((share * (height - 1) as f64).round() as usize).min(height - 1)
    };
    for &l in lines {
        let r = row_of(l);
        for c in grid[r].iter_mut() {
            *c = '-';
        }
    }
    for (x, b) in buckets.iter().enumerate() {
        if let Some(v) = b {
            grid[row_of(*v)][x] = '*';
        }
    }
    grid.into_iter().map(|r| r.into_iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_in_eighths_and_ascii() {
        assert_eq!(bar(0.5, 4, false), "██··");
        assert_eq!(bar(1.2, 3, false), "███");
        assert_eq!(bar(0.0, 3, false), "···");
        assert_eq!(bar(0.5, 4, true), "##..");
        assert_eq!(bar(f64::NAN, 2, true), "..");
        assert_eq!(bar(0.0625, 2, false), "▏·");
    }

    #[test]
    fn sparkline_scales_to_capacity() {
        let b = vec![Some(0.0), Some(50.0), Some(100.0), None];
        assert_eq!(sparkline(&b, 100.0, false), "▁▅█ ");
        assert_eq!(sparkline(&b, 100.0, true), "_=# ");
    }

    #[test]
    fn buckets_take_the_maximum() {
        let s = [
            Sample::new(0, 1.0),
            Sample::new(1, 5.0),
            Sample::new(9, 2.0),
        ];
        assert_eq!(
            bucket_max(s.into_iter(), 0, 10, 2),
            vec![Some(5.0), Some(2.0)]
        );
    }

    #[test]
    fn ascii_chart_draws_points_over_threshold_lines() {
        let rows = ascii_chart(&[Some(0.0), Some(10.0)], &[5.0], 10.0, 3);
        assert_eq!(rows, vec![" *", "--", "* "]);
    }
}
