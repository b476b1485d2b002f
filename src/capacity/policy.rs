//! Scaling policies: which step is due and what it costs.

use crate::config::{Policy, PolicyKind};

use super::snapshot::PolicyOutcome;

/// What `policy` says for a trigger at `utilization`, given whether it is
/// in breach (scale or critical) or urgent by its forecast.
pub fn outcome(
    policy: &Policy,
    utilization: Option<f64>,
    breach: bool,
    urgent: bool,
) -> PolicyOutcome {
    let unit_name = policy.unit_name.clone().unwrap_or_else(|| "unit".into());
    let cost = |units: Option<u32>| {
        policy
            .unit_cost_month
            .zip(units)
            .map(|(c, u)| c * f64::from(u))
    };
    let clamp = |u: u32| {
        let lo = policy.min_units.unwrap_or(0);
        let hi = policy.max_units.unwrap_or(u32::MAX);
        u.clamp(lo, hi.max(lo))
    };
    let units_now = policy.units;
    let (action, due, units_after) = match policy.kind {
        PolicyKind::TargetTracking => {
            let target = policy.target.unwrap_or(1.0);
            match (units_now, utilization) {
                (Some(n), Some(u)) if u.is_finite() => {
                    let desired = clamp(desired_units(n, u, target));
                    let action = if desired > n {
                        format!(
                            "scale {unit_name} {n} → {desired} (target {:.0} %)",
                            target * 100.0
                        )
                    } else if desired < n {
                        format!("could shrink {unit_name} {n} → {desired}")
                    } else {
                        format!("hold {n} {unit_name}")
                    };
                    (action, desired > n, Some(desired))
                }
                _ => ("no value to scale on".to_string(), false, units_now),
            }
        }
        PolicyKind::Step => {
            let add = policy.add.unwrap_or(1);
            let after = units_now.map(|n| clamp(n.saturating_add(add)));
            let action = match (units_now, after) {
                (Some(n), Some(a)) => format!("add {add} {unit_name} ({n} → {a})"),
                _ => format!("add {add} {unit_name}"),
            };
            (action, breach || urgent, after.or(units_now))
        }
        PolicyKind::Manual => {
            let action = policy
                .note
                .clone()
                .unwrap_or_else(|| "manual action".into());
            (action, breach || urgent, units_now)
        }
    };
    PolicyOutcome {
        kind: match policy.kind {
            PolicyKind::TargetTracking => "target_tracking",
            PolicyKind::Step => "step",
            PolicyKind::Manual => "manual",
        }
        .into(),
        action,
        due,
        units_now,
        units_after,
        cost_month_now: cost(units_now),
        cost_month_after: cost(units_after),
        currency: policy.currency.clone().unwrap_or_else(|| "USD".into()),
    }
}

/// `ceil(units × utilisation / target)`, the Kubernetes HPA rule, with a
/// tolerance so float noise at the exact target does not add a unit.
pub fn desired_units(units: u32, utilization: f64, target: f64) -> u32 {
    let raw = f64::from(units) * utilization / target;
    let desired = (raw - 1e-9).ceil();
    desired.clamp(0.0, f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(kind: PolicyKind) -> Policy {
        Policy {
            kind,
            units: Some(4),
            target: Some(0.6),
            add: Some(1),
            min_units: None,
            max_units: Some(10),
            unit_name: Some("replica".into()),
            unit_cost_month: Some(100.0),
            note: None,
            currency: None,
        }
    }

    #[test]
    fn target_tracking_follows_the_hpa_formula() {
        assert_eq!(desired_units(4, 0.9, 0.6), 6);
        assert_eq!(desired_units(4, 0.6, 0.6), 4);
        assert_eq!(desired_units(3, 0.2, 0.6), 1);
        let o = outcome(&policy(PolicyKind::TargetTracking), Some(0.9), true, false);
        assert_eq!(o.units_after, Some(6));
        assert!(o.due);
        assert_eq!(o.cost_month_now, Some(400.0));
        assert_eq!(o.cost_month_after, Some(600.0));
        // max_units caps the step.
        let o = outcome(&policy(PolicyKind::TargetTracking), Some(3.0), true, false);
        assert_eq!(o.units_after, Some(10));
    }

    #[test]
    fn step_is_due_on_breach_or_urgency() {
        let p = policy(PolicyKind::Step);
        assert!(!outcome(&p, Some(0.5), false, false).due);
        assert!(outcome(&p, Some(0.5), false, true).due);
        let o = outcome(&p, Some(0.85), true, false);
        assert_eq!(o.action, "add 1 replica (4 → 5)");
        assert_eq!(o.cost_month_after, Some(500.0));
    }
}
