//! Headless faces of the snapshot: `report` (JSON or Markdown) and `check`
//! (one line per trigger, Nagios exit codes).

pub mod rules;

use std::fmt::Write as _;

use crate::capacity::{Snapshot, State, TriggerStatus};
use crate::forecast::Breach;
use crate::time::human_secs;
use crate::units::{format_value, money, percent};

/// The snapshot as pretty JSON: the stable, documented field names.
pub fn json(s: &Snapshot) -> String {
    serde_json::to_string_pretty(s).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn opt_value(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format_value(v, unit))
        .unwrap_or_else(|| "—".into())
}

/// Time to breach as the overview shows it: `ETA 3d [1d–6d]`.
pub fn eta_text(t: &TriggerStatus) -> String {
    match t.forecast.as_ref().map(|f| &f.breach) {
        None => "—".into(),
        Some(Breach::Breached) => "now".into(),
        Some(Breach::Forecast {
            p10_s,
            p50_s,
            p90_s,
            ..
        }) => format!(
            "{} [{}–{}]",
            human_secs(*p50_s),
            human_secs(*p10_s),
            p90_s.map(human_secs).unwrap_or_else(|| ">horizon".into())
        ),
        Some(Breach::NoBreachWithinHorizon { .. }) => "none in horizon".into(),
        Some(Breach::NotTrending) => "not trending".into(),
        Some(Breach::InsufficientData) => "too little data".into(),
    }
}

/// The chance of breaching the simulated paths give: within the lead time
/// for a forecast crossing, within the horizon otherwise. `12 % within the
/// 5d lead time`. None when there is nothing simulated to tell.
pub fn breach_chance_text(t: &TriggerStatus) -> Option<String> {
    let pct = |p: f64| format!("{:.0} %", (p * 100.0).clamp(0.0, 100.0));
    match t.forecast.as_ref().map(|f| &f.breach)? {
        Breach::Forecast {
            prob_within_lead, ..
        } if t.lead_time_seconds > 0.0 => Some(format!(
            "{} within the {} lead time",
            pct(*prob_within_lead),
            human_secs(t.lead_time_seconds)
        )),
        Breach::NoBreachWithinHorizon {
            prob_within_horizon,
        } => Some(format!("{} within the horizon", pct(*prob_within_horizon))),
        _ => None,
    }
}

/// The p50 time to breach alone, for narrow screens: `6d1h`, `now`.
pub fn eta_short(t: &TriggerStatus) -> String {
    match t.forecast.as_ref().map(|f| &f.breach) {
        None | Some(Breach::InsufficientData) => "—".into(),
        Some(Breach::Breached) => "now".into(),
        Some(Breach::Forecast { p50_s, .. }) => human_secs(*p50_s),
        Some(Breach::NoBreachWithinHorizon { .. }) => "none".into(),
        Some(Breach::NotTrending) => "flat".into(),
    }
}

/// What a forecast made elsewhere says, in words: when it reaches the scale
/// line (and when its upper band does), that it stays below, or why it is
/// missing. `time` formats a Unix-ms instant for "until …".
pub fn external_text(
    x: &crate::capacity::ExternalForecastStatus,
    now_ms: i64,
    time: impl Fn(i64) -> String,
) -> String {
    let until = |at: i64| human_secs(((at - now_ms) as f64 / 1000.0).max(0.0));
    let mut out = match (x.points.last(), x.breach_at) {
        (None, _) => match &x.error {
            Some(e) => format!("none: {e}"),
            None => "no points ahead of now".to_string(),
        },
        (Some(_), Some(at)) => format!("reaches scale in {}", until(at)),
        (Some(last), None) => format!("stays below scale until {}", time(last.t)),
    };
    if let Some(up) = x.breach_upper_at.filter(|u| Some(*u) != x.breach_at) {
        out.push_str(&format!(" (its upper band in {})", until(up)));
    }
    out
}

/// A Markdown capacity report, for a ticket or a weekly review.
pub fn markdown(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Capacity report: {}\n", s.platform);
    let _ = writeln!(
        out,
        "Generated {} (times in {}).\n",
        s.generated_at, s.timezone
    );
    let counts = |st: State| s.triggers.iter().filter(|t| t.state == st).count();
    let _ = writeln!(
        out,
        "{} triggers: {} critical, {} at scale, {} warn, {} ok, {} stale, {} unknown.\n",
        s.triggers.len(),
        counts(State::Critical),
        counts(State::Scale),
        counts(State::Warn),
        counts(State::Ok),
        counts(State::Stale),
        counts(State::Unknown)
    );
    let _ = writeln!(out, "## Triggers, least headroom first\n");
    let _ = writeln!(
        out,
        "| state | trigger | value / capacity | used | headroom | time to breach | lead time |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for t in &s.triggers {
        let _ = writeln!(
            out,
            "| {} | {} ({}) | {} / {} | {} | {} ({}) | {} | {} |",
            t.state.word(),
            t.title,
            t.key(),
            opt_value(t.value, &t.unit),
            opt_value(t.capacity, &t.unit),
            t.utilization.map(percent).unwrap_or_else(|| "—".into()),
            opt_value(t.headroom, &t.unit),
            t.headroom_pct.map(percent).unwrap_or_else(|| "—".into()),
            match breach_chance_text(t) {
                Some(c) => format!("{}; {c}", eta_text(t)),
                None => eta_text(t),
            },
            human_secs(t.lead_time_seconds),
        );
    }
    let due: Vec<_> = s
        .triggers
        .iter()
        .filter_map(|t| t.policy.as_ref().filter(|p| p.due).map(|p| (t, p)))
        .collect();
    let _ = writeln!(out, "\n## Scaling steps due\n");
    if due.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for (t, p) in due {
        let cost = match (p.cost_month_now, p.cost_month_after) {
            (Some(a), Some(b)) => {
                format!(": {} → {}", money(a, &p.currency), money(b, &p.currency))
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "- **{}** ({}): {}{cost}", t.title, t.key(), p.action);
    }
    let external: Vec<_> = s
        .triggers
        .iter()
        .filter_map(|t| t.external.as_ref().map(|x| (t, x)))
        .collect();
    if !external.is_empty() {
        let now_ms = crate::time::parse_rfc3339(&s.generated_at).unwrap_or(0);
        let _ = writeln!(out, "\n## External forecasts\n");
        for (t, x) in external {
            let text = external_text(x, now_ms, |ms| {
                crate::time::to_datetime(ms)
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string()
            });
            let _ = writeln!(
                out,
                "- **{}** ({}), from `{}`: {text}",
                t.title,
                t.key(),
                x.source
            );
        }
    }
    let broken: Vec<_> = s.sources.iter().filter(|h| !h.ok).collect();
    if !broken.is_empty() {
        let _ = writeln!(out, "\n## Sources with errors\n");
        for h in broken {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                h.name,
                h.last_error.as_deref().unwrap_or("failing")
            );
        }
    }
    out
}

/// One line per trigger, worst first, and the Nagios exit code of the worst.
pub fn check_lines(s: &Snapshot) -> (Vec<String>, i32) {
    let mut triggers: Vec<&TriggerStatus> = s.triggers.iter().collect();
    triggers.sort_by_key(|t| std::cmp::Reverse(t.state.exit_code()));
    let lines = triggers
        .iter()
        .map(|t| {
            let detail = match (t.value, t.capacity, t.utilization) {
                (Some(v), Some(c), Some(u)) => format!(
                    "{} / {} ({} used, headroom {})",
                    format_value(v, &t.unit),
                    format_value(c, &t.unit),
                    percent(u),
                    opt_value(t.headroom, &t.unit)
                ),
                _ => t.error.clone().unwrap_or_else(|| "no data".into()),
            };
            format!("{:<7} {} {detail}", t.state.word(), t.key())
        })
        .collect();
    let code = s
        .triggers
        .iter()
        .map(|t| t.state.exit_code())
        .max()
        .unwrap_or(3);
    (lines, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::ExternalForecastStatus;
    use crate::source::ExternalPoint;

    fn status(breach_at: Option<i64>, upper: Option<i64>, n: usize) -> ExternalForecastStatus {
        ExternalForecastStatus {
            source: "billing".into(),
            points: (1..=n as i64)
                .map(|h| ExternalPoint {
                    t: h * 3_600_000,
                    value: 1.0,
                    lower: None,
                    upper: None,
                })
                .collect(),
            breach_at,
            breach_upper_at: upper,
            error: None,
        }
    }

    #[test]
    fn external_forecasts_in_words() {
        let time = |ms: i64| format!("t{}", ms / 3_600_000);
        let hour = 3_600_000;
        assert_eq!(
            external_text(&status(Some(8 * hour), Some(5 * hour), 12), 0, time),
            "reaches scale in 8h (its upper band in 5h)"
        );
        assert_eq!(
            external_text(&status(None, Some(5 * hour), 12), 0, time),
            "stays below scale until t12 (its upper band in 5h)"
        );
        assert_eq!(
            external_text(&status(None, None, 0), 0, time),
            "no points ahead of now"
        );
        let mut failed = status(None, None, 0);
        failed.error = Some("billing: HTTP 404 Not Found".into());
        assert_eq!(
            external_text(&failed, 0, time),
            "none: billing: HTTP 404 Not Found"
        );
    }
}
