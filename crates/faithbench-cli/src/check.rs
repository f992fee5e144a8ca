//! `faithbench check`: compare a candidate `summary.csv` against a baseline with tolerances.
//!
//! Default absolute tolerances (a candidate passes when `|candidate − baseline| ≤ tol`):
//!
//! | metric                          | tolerance |
//! |---------------------------------|-----------|
//! | `auc`                           | 0.005     |
//! | `clean_accuracy`, `accuracy@*`  | 0.005     |
//! | `pixel_accuracy`, `miou`        | 0.005     |
//! | `map`, `mf1`                    | 0.005     |
//! | anything else                   | 1e-6 (equal at the CSV's 6 decimals) |
//!
//! 0.005 is half a percentage point: above the cross-platform float noise of a run with ≥ 1000
//! samples (one flipped prediction moves an accuracy by 1/n) and below the differences between
//! methods that the paper's tables discuss. `--tol-abs X` replaces every default by `X`;
//! `--tol METRIC=X` (repeatable; `METRIC` may end in `*` to match a prefix) then overrides single
//! metrics.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context, Result};
use faithbench_report::table::{read_summary_csv, SummaryDiff, Tolerance, ToleranceSpec};

/// Built-in per-metric tolerances (pattern, absolute tolerance).
pub const DEFAULT_TOLERANCES: [(&str, f64); 8] = [
    ("auc", 0.005),
    ("clean_accuracy", 0.005),
    ("accuracy@*", 0.005),
    ("pixel_accuracy", 0.005),
    ("miou", 0.005),
    ("map", 0.005),
    ("mf1", 0.005),
    ("*", 1e-6),
];

fn matches(pattern: &str, metric: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => metric.starts_with(prefix),
        None => pattern == metric,
    }
}

/// Parses `METRIC=ABS`.
pub fn parse_tol(s: &str) -> Result<(String, f64)> {
    let (m, v) = s
        .split_once('=')
        .with_context(|| format!("--tol {s:?}: expected METRIC=ABS (e.g. auc=0.01)"))?;
    let v: f64 = v
        .trim()
        .parse()
        .with_context(|| format!("--tol {s:?}: {v:?} is not a number"))?;
    if !(v >= 0.0 && v.is_finite()) {
        bail!("--tol {s:?}: the tolerance must be a finite number ≥ 0");
    }
    if m.trim().is_empty() {
        bail!("--tol {s:?}: empty metric name");
    }
    Ok((m.trim().to_string(), v))
}

/// The tolerances for the given metrics.
pub fn tolerance_spec(
    metrics: &BTreeSet<String>,
    tol_abs: Option<f64>,
    overrides: &[(String, f64)],
) -> ToleranceSpec {
    let abs_of = |metric: &str| -> f64 {
        let mut v = match tol_abs {
            Some(x) => x,
            None => DEFAULT_TOLERANCES
                .iter()
                .find(|(p, _)| matches(p, metric))
                .map_or(1e-6, |(_, v)| *v),
        };
        for (p, x) in overrides {
            if matches(p, metric) {
                v = *x;
            }
        }
        v
    };
    let mut spec = ToleranceSpec::uniform(abs_of("\u{0}no-such-metric"), 0.0);
    for m in metrics {
        spec.per_metric.insert(
            m.clone(),
            Tolerance {
                abs: abs_of(m),
                rel: 0.0,
            },
        );
    }
    spec
}

/// Runs the check; returns whether it passed and the Markdown report.
pub fn check(
    baseline: &Path,
    candidate: &Path,
    tol_abs: Option<f64>,
    tols: &[String],
) -> Result<(bool, String)> {
    if let Some(x) = tol_abs {
        if !(x >= 0.0 && x.is_finite()) {
            bail!("--tol-abs {x}: the tolerance must be a finite number ≥ 0");
        }
    }
    let overrides = tols
        .iter()
        .map(|s| parse_tol(s))
        .collect::<Result<Vec<_>>>()?;
    let b = read_summary_csv(baseline)?;
    let c = read_summary_csv(candidate)?;
    let metrics: BTreeSet<String> = b.iter().chain(&c).map(|r| r.metric.clone()).collect();
    let spec = tolerance_spec(&metrics, tol_abs, &overrides);
    let diff = SummaryDiff::compute(&b, &c, &spec).with_context(|| {
        format!(
            "comparing {} with {}",
            baseline.display(),
            candidate.display()
        )
    })?;
    let header = format!(
        "baseline: {}\ncandidate: {}\n\n",
        baseline.display(),
        candidate.display()
    );
    Ok((diff.passed(), header + &diff.to_markdown()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_patterns() {
        let metrics: BTreeSet<String> = ["auc", "accuracy@0.1", "weird"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = tolerance_spec(&metrics, None, &[]);
        assert_eq!(s.for_metric("auc").abs, 0.005);
        assert_eq!(s.for_metric("accuracy@0.1").abs, 0.005);
        assert_eq!(s.for_metric("weird").abs, 1e-6);
        let s = tolerance_spec(
            &metrics,
            Some(0.1),
            &[("accuracy@*".into(), 0.2), ("auc".into(), 0.0)],
        );
        assert_eq!(s.for_metric("auc").abs, 0.0);
        assert_eq!(s.for_metric("accuracy@0.1").abs, 0.2);
        assert_eq!(s.for_metric("weird").abs, 0.1);
        assert!(parse_tol("auc").is_err());
        assert!(parse_tol("auc=x").is_err());
        assert!(parse_tol("auc=-1").is_err());
        assert_eq!(parse_tol("miou=0.01").unwrap(), ("miou".into(), 0.01));
    }
}
