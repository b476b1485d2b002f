//! Human-readable durations (`15s`, `1h30m`, `14d`) and quantities
//! (`400`, `2TiB`, `1.5k`), as written in the configuration.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a number followed by a unit: `ms`, `s`, `m`, `h`,
/// `d`, `w`; several may follow each other (`1h30m`). `0` alone is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    pub const ZERO: Dur = Dur(Duration::ZERO);

    pub fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }

    pub fn as_millis_i64(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

pub fn parse_duration(text: &str) -> Result<Dur, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Dur::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration: write a number and a unit, such as `15s`".into());
    }
    let mut total_ms: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "invalid duration `{text}`: expected a number before `{rest}`"
            ));
        }
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: `{num}` is not a number"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, after) = tail.split_at(unit_len);
        let ms_per = match unit {
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            "d" => 86_400e3,
            "w" => 604_800e3,
            "" => {
                return Err(format!(
                    "invalid duration `{text}`: `{num}` has no unit (ms, s, m, h, d or w)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{other}` (use ms, s, m, h, d or w)"
                ));
            }
        };
        total_ms += n * ms_per;
        rest = after;
    }
    if !total_ms.is_finite() || total_ms > 1e15 {
        return Err(format!("invalid duration `{text}`: too large"));
    }
    Ok(Dur(Duration::from_micros(
        (total_ms * 1000.0).round() as u64
    )))
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis() as u64;
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let mut s = ms / 1000;
        let mut out = String::new();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= size {
                out.push_str(&format!("{}{unit}", s / size));
                s %= size;
            }
        }
        f.write_str(&out)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A plain number, or a string with an SI (`k M G T P`) or IEC (`KiB MiB
/// GiB TiB PiB`) multiplier and an optional unit after it: `400`, `"2TiB"`,
/// `"1.5k"`, `"500GB"`, `"80%"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Quantity(pub f64);

pub fn parse_quantity(text: &str) -> Result<f64, String> {
    let s = text.trim().replace('_', "");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid quantity `{text}`: `{num}` is not a number"))?;
    let mult = match suffix.trim() {
        "" => 1.0,
        "%" => 0.01,
        "k" | "K" | "KB" | "kB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "P" | "PB" => 1e15,
        "B" => 1.0,
        "KiB" | "Ki" => 1024.0,
        "MiB" | "Mi" => 1024f64.powi(2),
        "GiB" | "Gi" => 1024f64.powi(3),
        "TiB" | "Ti" => 1024f64.powi(4),
        "PiB" | "Pi" => 1024f64.powi(5),
        other => {
            return Err(format!(
                "invalid quantity `{text}`: unknown suffix `{other}` (use k M G T P, KiB MiB GiB TiB PiB, B or %)"
            ));
        }
    };
    let v = n * mult;
    if !v.is_finite() {
        return Err(format!("invalid quantity `{text}`: not a finite number"));
    }
    Ok(v)
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string such as \"2TiB\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                if v.is_finite() {
                    Ok(Quantity(v))
                } else {
                    Err(E::custom("a quantity must be a finite number"))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                parse_quantity(v).map(Quantity).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("15s").unwrap(), Dur::secs(15));
        assert_eq!(parse_duration("1h30m").unwrap(), Dur::secs(5400));
        assert_eq!(parse_duration("14d").unwrap(), Dur::secs(14 * 86_400));
        assert_eq!(parse_duration("2w").unwrap(), Dur::secs(14 * 86_400));
        assert_eq!(parse_duration("1.5m").unwrap(), Dur::secs(90));
        assert_eq!(parse_duration("250ms").unwrap().0.as_millis(), 250);
        assert_eq!(parse_duration("0").unwrap(), Dur::ZERO);
        assert_eq!(Dur::secs(5400).to_string(), "1h30m");
        assert_eq!(Dur::secs(3 * 86_400).to_string(), "3d");
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("15").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("15x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!(
            parse_duration("s")
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(parse_duration("").unwrap_err().contains("empty"));
    }

    #[test]
    fn quantities_parse_si_and_iec() {
        assert_eq!(parse_quantity("400").unwrap(), 400.0);
        assert_eq!(parse_quantity("2TiB").unwrap(), 2.0 * 1024f64.powi(4));
        assert_eq!(parse_quantity("1.5k").unwrap(), 1500.0);
        assert_eq!(parse_quantity("500GB").unwrap(), 500e9);
        assert_eq!(parse_quantity("80%").unwrap(), 0.8);
        assert_eq!(parse_quantity("10_000").unwrap(), 10_000.0);
        assert!(
            parse_quantity("5 parsecs")
                .unwrap_err()
                .contains("unknown suffix")
        );
    }
}
