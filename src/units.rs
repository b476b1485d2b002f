//! Formatting values for people: SI prefixes for counts and rates, IEC
//! prefixes for bytes, percentages, money.

/// `1.23k req/s`, `412 conn`, `2.50 TiB`, `73.1 %`.
pub fn format_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let (bytes, rest) = match unit {
        "B" => (true, ""),
        u if u.starts_with("B/") => (true, &u[1..]),
        _ => (false, unit),
    };
    if bytes {
        return format!("{}{rest}", iec(v));
    }
    if unit == "%" {
        return format!("{} %", trim(v, 1));
    }
    let body = si(v);
    if unit.is_empty() {
        body
    } else {
        format!("{body} {unit}")
    }
}

fn trim(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// Three significant digits with an SI prefix.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (div, p) = match a {
        a if a >= 1e15 => (1e15, "P"),
        a if a >= 1e12 => (1e12, "T"),
        a if a >= 1e9 => (1e9, "G"),
        a if a >= 1e6 => (1e6, "M"),
        a if a >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let x = v / div;
    let whole = p.is_empty() && x.fract().abs() < 1e-9 && x.abs() < 1e4;
    let digits = if whole || x.abs() >= 100.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{}{p}", trim(x, digits))
}

/// Bytes with IEC prefixes: `512 B`, `1.50 KiB`, `2.00 TiB`.
pub fn iec(v: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i < units.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{} B", trim(x, 0))
    } else {
        let d = if x.abs() >= 100.0 {
            0
        } else if x.abs() >= 10.0 {
            1
        } else {
            2
        };
        format!("{} {}", trim(x, d), units[i])
    }
}

/// A value and a capacity in bytes with the capacity's prefix once:
/// `388/500 GiB`, `6.78/10.0 TiB` (for narrow columns).
pub fn iec_pair(v: f64, c: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    let mut scale = 1.0;
    while c.abs() / scale >= 1024.0 && i < units.len() - 1 {
        scale *= 1024.0;
        i += 1;
    }
    let num = |x: f64| {
        let x = x / scale;
        let d = if i == 0 || x.abs() >= 100.0 {
            0
        } else if x.abs() >= 10.0 {
            1
        } else {
            2
        };
        format!("{x:.d$}")
    };
    format!("{}/{} {}", num(v), num(c), units[i])
}

/// A share as a percentage: `0.731` → `73.1%`.
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return "—".into();
    }
    let p = share * 100.0;
    if p.abs() >= 100.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// Money per month: `$1,230/mo` style, with the currency code.
pub fn money(v: f64, currency: &str) -> String {
    let whole = v.round() as i64;
    let s = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if whole < 0 { "-" } else { "" };
    format!("{sign}{grouped} {currency}/mo")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_prefixes() {
        assert_eq!(format_value(412.0, "conn"), "412 conn");
        assert_eq!(format_value(1234.5, "req/s"), "1234 req/s");
        assert_eq!(format_value(12_345.0, "req/s"), "12.3k req/s");
        assert_eq!(format_value(2_500_000.0, ""), "2.50M");
        assert_eq!(format_value(0.25, "s"), "0.25 s");
        assert_eq!(format_value(f64::NAN, "s"), "NaN");
        assert_eq!(format_value(f64::INFINITY, "s"), "+Inf");
    }

    #[test]
    fn iec_prefixes_for_bytes() {
        assert_eq!(format_value(512.0, "B"), "512 B");
        assert_eq!(format_value(1536.0, "B"), "1.50 KiB");
        assert_eq!(format_value(2.0 * 1024f64.powi(4), "B"), "2.00 TiB");
        assert_eq!(format_value(300.0 * 1024f64.powi(3), "B/s"), "300 GiB/s");
    }

    #[test]
    fn byte_pairs_share_the_capacity_prefix() {
        assert_eq!(
            iec_pair(388.0 * 1024f64.powi(3), 500.0 * 1024f64.powi(3)),
            "388/500 GiB"
        );
        assert_eq!(
            iec_pair(6.78 * 1024f64.powi(4), 10.0 * 1024f64.powi(4)),
            "6.78/10.0 TiB"
        );
        assert_eq!(iec_pair(100.0, 512.0), "100/512 B");
    }

    #[test]
    fn percent_and_money() {
        assert_eq!(percent(0.731), "73.1%");
        assert_eq!(percent(-0.05), "-5.0%");
        assert_eq!(format_value(73.14, "%"), "73.1 %");
        assert_eq!(money(1_234_567.4, "USD"), "1,234,567 USD/mo");
    }
}
