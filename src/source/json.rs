//! JSON endpoints (`kind = "json"`): GET the source URL plus the trigger's
//! `query` path and pick the value with a JSON Pointer (RFC 6901).
//!
//! The same source reads forecast results made elsewhere (a nightly
//! capacity job, a notebook): a list of `{ts, value, lower, upper}` points,
//! stored under the query `DOMAIN/TRIGGER#external` as three series labelled
//! `band="value"`, `band="lower"` and `band="upper"`. `external_forecast`
//! reads them back for display.

use std::path::Path;

use serde_json::Value;

use crate::config::{Domain, SourceConfig, SourceKind, Trigger};
use crate::series::{Labels, Sample, SeriesStore};

use super::http::{HttpClient, excerpt};
use super::{Answer, BoxFuture, QuerySpec, SeriesData, Source, SourceError};

/// The suffix of the query name an external forecast is stored under.
pub const EXTERNAL_SUFFIX: &str = "#external";
/// The label that tells the three series of an external forecast apart.
pub const BAND_LABEL: &str = "band";

/// `DOMAIN/TRIGGER#external`: where a trigger's external forecast is stored.
pub fn external_forecast_query(d: &Domain, t: &Trigger) -> String {
    format!("{}/{}{EXTERNAL_SUFFIX}", d.id, t.id)
}

/// One point of a forecast made elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ExternalPoint {
    /// Unix milliseconds.
    pub t: i64,
    pub value: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// The external forecast stored under `query` (see
/// `external_forecast_query`), oldest first; empty when there is none.
pub fn external_forecast(store: &SeriesStore, query: &str) -> Vec<ExternalPoint> {
    let mut value = Vec::new();
    let mut lower = std::collections::HashMap::new();
    let mut upper = std::collections::HashMap::new();
    for (labels, series) in store.of_query(query) {
        match labels.get(BAND_LABEL).map(String::as_str) {
            Some("value") => value = series.to_vec(),
            Some("lower") => lower.extend(series.iter().map(|s| (s.t, s.v))),
            Some("upper") => upper.extend(series.iter().map(|s| (s.t, s.v))),
            _ => {}
        }
    }
    value
        .into_iter()
        .map(|s| ExternalPoint {
            t: s.t,
            value: s.v,
            lower: lower.get(&s.t).copied(),
            upper: upper.get(&s.t).copied(),
        })
        .collect()
}

pub struct JsonSource {
    name: String,
    http: HttpClient,
}

impl JsonSource {
    pub fn new(cfg: &SourceConfig, base_dir: &Path) -> Result<JsonSource, String> {
        Ok(JsonSource {
            name: cfg.name.clone(),
            http: HttpClient::new(cfg, base_dir)?,
        })
    }

    async fn answer(&self, q: &QuerySpec, at_ms: i64) -> Result<Answer, SourceError> {
        let f = self.http.get(&q.expr, &[], self.http.timeout).await?;
        if !f.is_success() {
            return Err(SourceError::Http {
                status: f.status,
                body: format!("{} (GET {})", f.body_excerpt(), f.url),
            });
        }
        let doc: Value = serde_json::from_slice(&f.body).map_err(|e| {
            SourceError::Decode(format!(
                "GET {}: not JSON ({e}); it starts: {}",
                f.url,
                excerpt(&f.body, 120)
            ))
        })?;
        let pointer = q.pointer.as_deref().unwrap_or("");
        let picked = doc.pointer(pointer).ok_or_else(|| {
            SourceError::Decode(format!(
                "GET {}: pointer `{pointer}` matches nothing",
                f.url
            ))
        })?;
        let series = if q.name.ends_with(EXTERNAL_SUFFIX) {
            forecast_series(picked)
                .map_err(|m| SourceError::Decode(format!("GET {} at `{pointer}`: {m}", f.url)))?
        } else {
            let v = number_of(picked)
                .map_err(|m| SourceError::Decode(format!("GET {} at `{pointer}`: {m}", f.url)))?;
            vec![SeriesData {
                labels: Labels::new(),
                samples: vec![Sample::new(at_ms, v)],
            }]
        };
        Ok(Answer {
            series,
            warnings: Vec::new(),
            bytes: f.body.len() as u64,
        })
    }
}

/// A number, or a string holding one ("42", "NaN", "+Inf").
pub fn number_of(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("\"{}\" is not a number", excerpt(s.as_bytes(), 40))),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Null => Ok(f64::NAN),
        Value::Array(_) => Err("found a list, not a number".into()),
        Value::Object(_) => Err("found an object, not a number".into()),
    }
}

/// A point's time: Unix seconds or milliseconds (from 1e11 up), RFC 3339,
/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (UTC).
fn time_of(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => {
            let x = n.as_f64().ok_or("an unreadable time")?;
            Ok(if x.abs() >= 1e11 {
                x.round() as i64
            } else {
                (x * 1000.0).round() as i64
            })
        }
        Value::String(s) => {
            if let Ok(ms) = crate::time::parse_rfc3339(s) {
                return Ok(ms);
            }
            if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
                return Ok(dt.and_utc().timestamp_millis());
            }
            if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(d
                    .and_hms_opt(0, 0, 0)
                    .map_or(0, |dt| dt.and_utc().timestamp_millis()));
            }
            Err(format!(
                "time \"{}\" is not a date",
                excerpt(s.as_bytes(), 40)
            ))
        }
        _ => Err("a time must be a number or a date string".into()),
    }
}

fn field<'v>(o: &'v serde_json::Map<String, Value>, names: &[&str]) -> Option<&'v Value> {
    names.iter().find_map(|n| o.get(*n))
}

/// The points of a forecast list, as three series (value, lower, upper).
/// Prophet's names (`ds`, `yhat`, `yhat_lower`, `yhat_upper`) work too.
pub fn forecast_series(v: &Value) -> Result<Vec<SeriesData>, String> {
    let list = v
        .as_array()
        .ok_or("a forecast must be a list of {ts, value, lower, upper} points")?;
    let (mut value, mut lower, mut upper) = (Vec::new(), Vec::new(), Vec::new());
    for (i, p) in list.iter().enumerate() {
        let o = p
            .as_object()
            .ok_or_else(|| format!("point {i} is not an object"))?;
        let t = field(o, &["ts", "t", "time", "timestamp", "ds"])
            .ok_or_else(|| format!("point {i} has no `ts`"))
            .and_then(|x| time_of(x).map_err(|m| format!("point {i}: {m}")))?;
        let y = field(o, &["value", "yhat", "mean"])
            .ok_or_else(|| format!("point {i} has no `value`"))
            .and_then(|x| number_of(x).map_err(|m| format!("point {i}: value {m}")))?;
        value.push(Sample::new(t, y));
        for (names, out) in [
            (&["lower", "yhat_lower", "lo"][..], &mut lower),
            (&["upper", "yhat_upper", "hi"][..], &mut upper),
        ] {
            if let Some(x) = field(o, names).filter(|x| !x.is_null()) {
                out.push(Sample::new(
                    t,
                    number_of(x).map_err(|m| format!("point {i}: {} {m}", names[0]))?,
                ));
            }
        }
    }
    for s in [&mut value, &mut lower, &mut upper] {
        s.sort_by_key(|x| x.t);
    }
    let band = |b: &str, samples: Vec<Sample>| SeriesData {
        labels: [(BAND_LABEL.to_string(), b.to_string())].into(),
        samples,
    };
    let mut out = vec![band("value", value)];
    if !lower.is_empty() {
        out.push(band("lower", lower));
    }
    if !upper.is_empty() {
        out.push(band("upper", upper));
    }
    Ok(out)
}

impl Source for JsonSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Json
    }

    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(self.answer(q, at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_come_from_numbers_and_strings() {
        assert_eq!(number_of(&json!(3.5)), Ok(3.5));
        assert_eq!(number_of(&json!("+Inf")), Ok(f64::INFINITY));
        assert!(number_of(&json!("abc")).unwrap_err().contains("abc"));
        assert!(number_of(&json!({})).is_err());
    }

    #[test]
    fn forecasts_take_our_names_and_prophets() {
        let ours = json!([{"ts": 1_700_000_000, "value": 1.0, "lower": 0.5, "upper": 1.5},
                          {"ts": 1_700_086_400_000_i64, "value": 2.0}]);
        let s = forecast_series(&ours).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].samples,
            vec![
                Sample::new(1_700_000_000_000, 1.0),
                Sample::new(1_700_086_400_000, 2.0)
            ]
        );
        assert_eq!(s[1].samples, vec![Sample::new(1_700_000_000_000, 0.5)]);
        let prophet =
            json!([{"ds": "2026-12-04", "yhat": 3.0, "yhat_lower": 2.0, "yhat_upper": 4.0}]);
        let s = forecast_series(&prophet).unwrap();
        assert_eq!(
            s[0].samples[0].t,
            crate::time::parse_rfc3339("2026-12-04T00:00:00Z").unwrap()
        );
        assert!(
            forecast_series(&json!([{"value": 1}]))
                .unwrap_err()
                .contains("ts")
        );
    }

    #[test]
    fn stored_forecasts_read_back_with_their_bands() {
        let mut store = SeriesStore::new(Default::default());
        for s in forecast_series(
            &json!([{"ts": 10, "value": 1.0, "lower": 0.0, "upper": 2.0},
                                           {"ts": 20, "value": 3.0}]),
        )
        .unwrap()
        {
            store.extend(
                crate::series::SeriesKey::new("d/t#external", s.labels),
                s.samples,
            );
        }
        let pts = external_forecast(&store, "d/t#external");
        assert_eq!(
            pts,
            vec![
                ExternalPoint {
                    t: 10_000,
                    value: 1.0,
                    lower: Some(0.0),
                    upper: Some(2.0)
                },
                ExternalPoint {
                    t: 20_000,
                    value: 3.0,
                    lower: None,
                    upper: None
                },
            ]
        );
    }
}
