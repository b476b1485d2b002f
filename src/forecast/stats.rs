//! Small numeric helpers: quantiles of the normal and Student t laws, and the
//! M4 accuracy measures the backtest and the model selection share.

/// Quantile of the standard normal law (Acklam's rational approximation,
/// relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Complementary error function (Chebyshev-fitted exponential form,
/// relative error below 1.2e-7: plenty for probabilities shown as percents).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Quantile of Student's t with `df` degrees of freedom (Cornish–Fisher
/// expansion around the normal quantile; accurate to a few 1e-4 from df 5 on,
/// which is far finer than any interval here needs).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    if !df.is_finite() || df > 1e6 {
        return z;
    }
    let z3 = z.powi(3);
    let z5 = z.powi(5);
    let z7 = z.powi(7);
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
}

/// z for a central interval of `level` (0.8 → 1.2816).
pub fn z_of(level: f64) -> f64 {
    normal_quantile(0.5 + level / 2.0)
}

/// Mean absolute seasonal difference of `y` at lag `m` (1 when `y` is too
/// short for `m`): the M4 MASE scale. `None` when it is zero or undefined.
pub fn mase_scale(y: &[f64], m: usize) -> Option<f64> {
    let m = if m == 0 || y.len() <= m { 1 } else { m };
    if y.len() <= m {
        return None;
    }
    let s: f64 = y[m..].iter().zip(y).map(|(a, b)| (a - b).abs()).sum();
    let s = s / (y.len() - m) as f64;
    (s.is_finite() && s > 0.0).then_some(s)
}

pub fn mae(actual: &[f64], fc: &[f64]) -> f64 {
    let n = actual.len().min(fc.len()).max(1);
    actual
        .iter()
        .zip(fc)
        .map(|(a, f)| (a - f).abs())
        .sum::<f64>()
        / n as f64
}

/// M4 sMAPE in percent; a step where both values are 0 counts as 0.
pub fn smape(actual: &[f64], fc: &[f64]) -> f64 {
    let n = actual.len().min(fc.len()).max(1);
    let s: f64 = actual
        .iter()
        .zip(fc)
        .map(|(a, f)| {
            let d = a.abs() + f.abs();
            if d == 0.0 { 0.0 } else { (a - f).abs() / d }
        })
        .sum();
    200.0 * s / n as f64
}

/// Share of `actual` inside `[lo, hi]`.
pub fn coverage(actual: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
    let n = actual.len().min(lo.len()).min(hi.len()).max(1);
    let inside = actual
        .iter()
        .zip(lo.iter().zip(hi))
        .filter(|(a, (l, h))| *a >= *l && *a <= *h)
        .count();
    inside as f64 / n as f64
}

/// Mean interval score of a central `1 - alpha` interval (unscaled).
pub fn interval_score(actual: &[f64], lo: &[f64], hi: &[f64], alpha: f64) -> f64 {
    let n = actual.len().min(lo.len()).min(hi.len()).max(1);
    let s: f64 = actual
        .iter()
        .zip(lo.iter().zip(hi))
        .map(|(&y, (&l, &u))| {
            let mut p = u - l;
            if y < l {
                p += 2.0 / alpha * (l - y);
            }
            if y > u {
                p += 2.0 / alpha * (y - u);
            }
            p
        })
        .sum();
    s / n as f64
}

/// Median of a slice (NaN when empty, NaNs ignored); selects in a copy in
/// linear time rather than sorting it.
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    let (_, hi, _) = s.select_nth_unstable_by(n / 2, |a, b| a.total_cmp(b));
    let hi = *hi;
    if n % 2 == 1 {
        return hi;
    }
    // The largest of the lower half is the other middle value.
    let lo = s[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

/// Linear-interpolation quantile (type 7) of a slice; NaN when empty.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 5e-9);
        assert!((normal_quantile(0.9) - 1.281_551_565_544_600_5).abs() < 5e-9);
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-6);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813_5).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
    }

    #[test]
    fn t_quantiles_approach_tables() {
        // t(0.975, 10) = 2.228139, t(0.975, 30) = 2.042272.
        assert!((t_quantile(0.975, 10.0) - 2.228_139).abs() < 2e-3);
        assert!((t_quantile(0.975, 30.0) - 2.042_272).abs() < 1e-4);
    }

    #[test]
    fn mase_scale_uses_lag_or_falls_back_to_one() {
        let y = [1.0, 2.0, 4.0, 7.0];
        assert_eq!(mase_scale(&y, 1), Some(2.0));
        assert_eq!(mase_scale(&y, 2), Some(4.0));
        assert_eq!(mase_scale(&y, 10), Some(2.0));
        assert_eq!(mase_scale(&[3.0, 3.0], 1), None);
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[1.0, f64::NAN]), 1.0);
        assert!(median(&[]).is_nan());
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
    }

    #[test]
    fn smape_and_coverage() {
        assert_eq!(smape(&[0.0, 1.0], &[0.0, 1.0]), 0.0);
        assert!((smape(&[1.0], &[3.0]) - 100.0).abs() < 1e-12);
        assert_eq!(coverage(&[1.0, 5.0], &[0.0, 0.0], &[2.0, 2.0]), 0.5);
        // Width 2 plus a miss of 3 at alpha 0.05: 2 + 40 * 3.
        assert!((interval_score(&[5.0], &[0.0], &[2.0], 0.05) - 122.0).abs() < 1e-9);
    }
}
