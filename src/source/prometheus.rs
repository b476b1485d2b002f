//! The Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`), which
//! Thanos, Cortex, Mimir and VictoriaMetrics serve as well: pointing capdeck
//! at one of those is how it scales past one machine.
//!
//! The decoder reads the answer in one pass straight into samples: no
//! intermediate JSON tree, values parsed from borrowed strings.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config::{SourceConfig, SourceKind};
use crate::series::{Labels, Sample};

use super::http::{HttpClient, excerpt};
use super::{Answer, BoxFuture, QuerySpec, SeriesData, Source, SourceError};

pub struct PrometheusSource {
    name: String,
    http: HttpClient,
}

impl PrometheusSource {
    pub fn new(cfg: &SourceConfig, base_dir: &Path) -> Result<PrometheusSource, String> {
        Ok(PrometheusSource {
            name: cfg.name.clone(),
            http: HttpClient::new(cfg, base_dir)?,
        })
    }

    async fn ask(
        &self,
        path: &str,
        params: &[(&str, String)],
        budget: std::time::Duration,
    ) -> Result<Answer, SourceError> {
        let f = self.http.get(path, params, budget).await?;
        let decoded = decode(&f.body);
        if !f.is_success() {
            // An error payload is shown verbatim, whatever the status.
            return match decoded {
                Err(e @ SourceError::Api { .. }) => Err(e),
                _ => Err(SourceError::Http {
                    status: f.status,
                    body: format!("{} ({} {})", f.body_excerpt(), f.method, f.url),
                }),
            };
        }
        match decoded {
            Ok(mut a) => {
                a.bytes = f.body.len() as u64;
                Ok(a)
            }
            Err(SourceError::Decode(m)) => {
                Err(SourceError::Decode(format!("{m} ({} {})", f.method, f.url)))
            }
            Err(e) => Err(e),
        }
    }
}

/// Seconds with millisecond precision, as the API takes them.
fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

impl Source for PrometheusSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Prometheus
    }

    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move {
            let params = [("query", q.expr.clone()), ("time", secs(at_ms))];
            self.ask("/api/v1/query", &params, self.http.timeout).await
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a QuerySpec,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(async move {
            let params = [
                ("query", q.expr.clone()),
                ("start", secs(start_ms)),
                ("end", secs(end_ms)),
                ("step", secs(step_ms.max(1))),
            ];
            // A backfill may take longer; the poller allows it three times.
            self.ask("/api/v1/query_range", &params, self.http.timeout * 3)
                .await
        })
    }
}

/// Decodes an API answer of any result type (vector, matrix, scalar) into
/// series; an error payload becomes `SourceError::Api` with its text as sent.
pub fn decode(body: &[u8]) -> Result<Answer, SourceError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| {
        SourceError::Decode(format!(
            "not a Prometheus API answer ({e}); it starts: {}",
            excerpt(body, 120)
        ))
    })?;
    if env.status.as_deref() == Some("error") || env.error.is_some() {
        return Err(SourceError::Api {
            error_type: env.error_type.map(Cow::into_owned).unwrap_or_default(),
            error: env.error.map(Cow::into_owned).unwrap_or_default(),
        });
    }
    if env.status.as_deref() != Some("success") {
        return Err(SourceError::Decode(format!(
            "no `status: success` in the answer; it starts: {}",
            excerpt(body, 120)
        )));
    }
    let Some(data) = env.data else {
        return Err(SourceError::Decode(
            "a success answer without `data`".into(),
        ));
    };
    if let Some(t) = &data.result_type
        && !matches!(t.as_ref(), "vector" | "matrix" | "scalar" | "string")
    {
        return Err(SourceError::Decode(format!("unknown resultType `{t}`")));
    }
    let series = match data.result {
        Some(ResultData::Series(s)) => s,
        Some(ResultData::Scalar(s)) => vec![SeriesData {
            labels: Labels::new(),
            samples: s.into_iter().collect(),
        }],
        None => Vec::new(),
    };
    Ok(Answer {
        series,
        warnings: env.warnings,
        bytes: body.len() as u64,
    })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    data: Option<Data<'a>>,
    #[serde(borrow, default, rename = "errorType")]
    error_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default, rename = "resultType")]
    result_type: Option<Cow<'a, str>>,
    #[serde(default)]
    result: Option<ResultData>,
}

/// `result`: a list of series (vector, matrix) or one `[ts, "v"]` pair
/// (scalar, string). Told apart by the first element, so the order of
/// `resultType` and `result` in the object does not matter.
enum ResultData {
    Series(Vec<SeriesData>),
    Scalar(Option<Sample>),
}

impl<'de> Deserialize<'de> for ResultData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ResultVisitor)
    }
}

struct ResultVisitor;

impl<'de> Visitor<'de> for ResultVisitor {
    type Value = ResultData;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of series or a [time, value] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultData, A::Error> {
        let Some(first) = seq.next_element::<First>()? else {
            return Ok(ResultData::Series(Vec::new()));
        };
        match first {
            First::Series(s) => {
                let mut out = vec![s];
                while let Some(s) = seq.next_element_seed(SeriesSeed)? {
                    out.push(s);
                }
                Ok(ResultData::Series(out))
            }
            First::Time(ts) => {
                let v: ValueNum = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("a scalar without its value"))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ResultData::Scalar(v.0.map(|v| Sample::new(to_ms(ts), v))))
            }
        }
    }
}

/// The first element of `result`: a series object or a scalar's time.
enum First {
    Series(SeriesData),
    Time(f64),
}

impl<'de> Deserialize<'de> for First {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = First;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a series object or a time")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<First, E> {
                Ok(First::Time(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<First, E> {
                Ok(First::Time(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<First, E> {
                Ok(First::Time(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<First, A::Error> {
                SeriesVisitor.visit_map(map).map(First::Series)
            }
        }
        d.deserialize_any(V)
    }
}

struct SeriesSeed;

impl<'de> DeserializeSeed<'de> for SeriesSeed {
    type Value = SeriesData;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SeriesData, D::Error> {
        d.deserialize_map(SeriesVisitor)
    }
}

struct SeriesVisitor;

impl<'de> Visitor<'de> for SeriesVisitor {
    type Value = SeriesData;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series with `metric` and `value` or `values`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SeriesData, A::Error> {
        let mut labels = Labels::new();
        let mut samples = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "metric" => labels = map.next_value::<Labels>()?,
                "value" => {
                    let p: Pair = map.next_value()?;
                    samples.extend(p.0);
                }
                "values" => samples = map.next_value_seed(PairsSeed)?,
                // Native histograms and anything newer: not a number to show.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(SeriesData { labels, samples })
    }
}

struct PairsSeed;

impl<'de> DeserializeSeed<'de> for PairsSeed {
    type Value = Vec<Sample>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Sample>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Sample>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of [time, value] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Sample>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(256));
                while let Some(p) = seq.next_element::<Pair>()? {
                    out.extend(p.0);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

fn to_ms(ts: f64) -> i64 {
    (ts * 1000.0).round() as i64
}

/// `[1700000000.123, "42"]`: a sample (`None` when the value is unreadable
/// would hide data, so an unreadable value is an error instead).
struct Pair(Option<Sample>);

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pair;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [time, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                let ts: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("an empty sample pair"))?;
                let v: ValueNum = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("a sample pair without its value"))?;
                // A pair has two elements; anything more is refused by serde_json.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Pair(v.0.map(|v| Sample::new(to_ms(ts), v))))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A sample value: Prometheus sends a string ("42", "NaN", "+Inf", "-Inf");
/// a bare number is accepted too.
struct ValueNum(Option<f64>);

fn parse_value<E: de::Error>(s: &str) -> Result<ValueNum, E> {
    s.parse::<f64>()
        .map(|v| ValueNum(Some(v)))
        .map_err(|_| E::custom(format_args!("sample value `{s}` is not a number")))
}

impl<'de> Deserialize<'de> for ValueNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueNum;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<ValueNum, E> {
                parse_value(s)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ValueNum, E> {
                parse_value(s)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ValueNum, E> {
                Ok(ValueNum(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueNum, E> {
                Ok(ValueNum(Some(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueNum, E> {
                Ok(ValueNum(Some(v as f64)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ValueNum, E> {
                Ok(ValueNum(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `query_range` answer with `series` series of `points` samples each, as
/// Prometheus writes it: for the decoder's benchmark and tests.
pub fn synthetic_matrix(series: usize, points: usize) -> String {
    use std::fmt::Write;
    let mut s = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for i in 0..series {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r#"{{"metric":{{"__name__":"http_requests_total","job":"api","tenant":"t{i}"}},"values":["#
        );
        for p in 0..points {
            if p > 0 {
                s.push(',');
            }
            let t = 1_700_000_000 + p as i64 * 15;
            let v = (p as f64 * 0.37 + i as f64).sin() * 100.0 + 500.0;
            let _ = write!(s, r#"[{t},"{v}"]"#);
        }
        s.push_str("]}");
    }
    s.push_str("]}}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_vector_with_every_label() {
        let a = decode(
            br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"1"]},
            {"metric":{"job":"b"},"value":[1700000000.5,"NaN"]}]}}"#,
        )
        .unwrap();
        assert_eq!(a.series.len(), 2);
        assert_eq!(a.series[0].labels["__name__"], "up");
        assert_eq!(
            a.series[0].samples,
            vec![Sample::new(1_700_000_000_500, 1.0)]
        );
        assert!(a.series[1].samples[0].v.is_nan());
    }

    #[test]
    fn decodes_a_matrix_with_infinities_and_warnings() {
        let a = decode(br#"{"status":"success","warnings":["partial data"],"data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"+Inf"],[2,"-Inf"],[3,"2.5e3"]]}]}}"#)
        .unwrap();
        let v: Vec<f64> = a.series[0].samples.iter().map(|s| s.v).collect();
        assert_eq!(v, vec![f64::INFINITY, f64::NEG_INFINITY, 2500.0]);
        assert_eq!(a.series[0].samples[2].t, 3000);
        assert_eq!(a.warnings, vec!["partial data".to_string()]);
    }

    #[test]
    fn decodes_a_scalar_whatever_the_key_order() {
        let a = decode(
            br#"{"data":{"result":[1700000000,"42"],"resultType":"scalar"},"status":"success"}"#,
        )
        .unwrap();
        assert_eq!(a.series.len(), 1);
        assert!(a.series[0].labels.is_empty());
        assert_eq!(
            a.series[0].samples,
            vec![Sample::new(1_700_000_000_000, 42.0)]
        );
    }

    #[test]
    fn an_error_payload_is_kept_verbatim() {
        let e = decode(br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad_data: 1:5: parse error: unexpected \"}\""
        );
    }

    #[test]
    fn garbage_is_a_decode_error() {
        for body in [
            &b"<html>"[..],
            b"{\"status\":\"success\"",
            b"[1,2]",
            b"{\"status\":\"success\",\"data\":{\"result\":[[1,\"x\"]]}}",
        ] {
            assert!(
                matches!(decode(body), Err(SourceError::Decode(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_synthetic_matrix_decodes_fully() {
        let body = synthetic_matrix(3, 100);
        let a = decode(body.as_bytes()).unwrap();
        assert_eq!(a.series.len(), 3);
        assert!(a.series.iter().all(|s| s.samples.len() == 100));
        assert_eq!(a.series[2].labels["tenant"], "t2");
    }

    fn prom_text(v: f64) -> String {
        if v.is_nan() {
            "NaN".into()
        } else if v == f64::INFINITY {
            "+Inf".into()
        } else if v == f64::NEG_INFINITY {
            "-Inf".into()
        } else {
            format!("{v}")
        }
    }

    proptest::proptest! {
        /// Whatever the values and labels, the decoder gives back exactly
        /// what the server wrote (times to the millisecond).
        #[test]
        fn matrices_round_trip(
            series in proptest::collection::vec(
                (
                    proptest::collection::btree_map("[a-z_]{1,8}", "[ -~]{0,12}", 0..4),
                    proptest::collection::vec((0i64..4_000_000_000_000, proptest::num::f64::ANY), 0..20),
                ),
                0..5,
            )
        ) {
            let mut body = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
            for (i, (labels, points)) in series.iter().enumerate() {
                if i > 0 { body.push(','); }
                let metric = serde_json::to_string(labels).unwrap();
                let values: Vec<String> = points
                    .iter()
                    .map(|(ms, v)| format!("[{}.{:03},{}]", ms / 1000, ms % 1000, serde_json::to_string(&prom_text(*v)).unwrap()))
                    .collect();
                body.push_str(&format!(r#"{{"metric":{metric},"values":[{}]}}"#, values.join(",")));
            }
            body.push_str("]}}");
            let a = decode(body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(a.series.len(), series.len());
            for (got, (labels, points)) in a.series.iter().zip(&series) {
                proptest::prop_assert_eq!(&got.labels, labels);
                proptest::prop_assert_eq!(got.samples.len(), points.len());
                for (s, (ms, v)) in got.samples.iter().zip(points) {
                    proptest::prop_assert_eq!(s.t, *ms);
                    proptest::prop_assert!(s.v == *v || (s.v.is_nan() && v.is_nan()), "{} vs {}", s.v, v);
                }
            }
        }
    }

    #[test]
    fn seconds_keep_milliseconds() {
        assert_eq!(secs(1_700_000_000_123), "1700000000.123");
        assert_eq!(secs(15_000), "15.000");
    }
}
