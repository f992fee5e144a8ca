//! `faithbench check`: compare a candidate `summary.csv` against a baseline with tolerances
//! (CI regression on faithfulness scores).
//!
//! Default absolute tolerances come from the evaluators' registry entries (a candidate passes
//! when `|candidate − baseline| ≤ tol`): each evaluator names patterns of its headline metrics
//! (`auc`, `accuracy@*`, `miou`, …, 0.005: half a percentage point, above the cross-platform
//! float noise of a run with ≥ 1000 samples and below the differences the paper's tables
//! discuss); any other metric gets 1e-6 (equal at the CSV's 6 decimals). When the candidate's
//! (or else the baseline's) folder holds the run's `resolved_config.json`, each evaluator's
//! defaults come from its resolved settings ([`faithbench_eval::evaluator::Evaluator::tolerance`]:
//! e.g. an AUC in percent gets 0.5, its fraction's 0.005 × 100); without it, the metric names
//! of all registered evaluators decide. `--tol-abs X` replaces every default by `X`;
//! `--tol METRIC=X` (repeatable; `METRIC` may end in `*` to match a prefix) then overrides
//! single metrics.

use std::collections::BTreeSet;
use std::path::Path;

use faithbench_eval::evaluator::{default_tolerance, pattern_matches};
use faithbench_report::table::{read_summary_csv, SummaryDiff, Tolerance, ToleranceSpec};

use crate::error::{Classify, Context, Error, Result};
use crate::plan::Plan;

/// Parses `METRIC=ABS`.
pub fn parse_tol(s: &str) -> Result<(String, f64)> {
    let (m, v) = s
        .split_once('=')
        .ok_or_else(|| Error::input(format!("--tol {s:?}: expected METRIC=ABS (e.g. auc=0.01)")))?;
    let v: f64 = v
        .trim()
        .parse()
        .input_err(|| format!("--tol {s:?}: {v:?} is not a number"))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(Error::input(format!(
            "--tol {s:?}: the tolerance must be a finite number ≥ 0"
        )));
    }
    if m.trim().is_empty() {
        return Err(Error::input(format!("--tol {s:?}: empty metric name")));
    }
    Ok((m.trim().to_string(), v))
}

/// `--tol-abs` or the default, then the `--tol` overrides in order.
fn with_overrides(
    default: f64,
    tol_abs: Option<f64>,
    overrides: &[(String, f64)],
    metric: &str,
) -> f64 {
    let mut v = tol_abs.unwrap_or(default);
    for (p, x) in overrides {
        if pattern_matches(p, metric) {
            v = *x;
        }
    }
    v
}

/// The tolerances for the given metrics, by metric name (any evaluator).
pub fn tolerance_spec(
    metrics: &BTreeSet<String>,
    tol_abs: Option<f64>,
    overrides: &[(String, f64)],
) -> ToleranceSpec {
    let abs_of =
        |metric: &str| with_overrides(default_tolerance(metric), tol_abs, overrides, metric);
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

/// Adds the per-evaluator tolerances of a run's plan: for every (evaluator, metric) of `rows`
/// whose evaluator the plan has, the evaluator's own default for its resolved settings.
pub fn add_plan_tolerances(
    spec: &mut ToleranceSpec,
    plan: &Plan,
    rows: &[(String, String)],
    tol_abs: Option<f64>,
    overrides: &[(String, f64)],
) -> Result<()> {
    for pe in &plan.plan.evaluators {
        let ev = plan.evaluator(pe)?;
        for (e, m) in rows.iter().filter(|(e, _)| *e == pe.name) {
            spec.per_evaluator_metric
                .entry(e.clone())
                .or_default()
                .insert(
                    m.clone(),
                    Tolerance {
                        abs: with_overrides(ev.tolerance(m), tol_abs, overrides, m),
                        rel: 0.0,
                    },
                );
        }
    }
    Ok(())
}

/// The outcome of a check.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Whether every baseline score is present and within its tolerance.
    pub passed: bool,
    /// The diff as Markdown.
    pub markdown: String,
}

/// Compares two summary CSVs. Bad input (unreadable or malformed CSV, bad tolerances) is an
/// error; a regression is a report with `passed = false`.
pub fn check(
    baseline: &Path,
    candidate: &Path,
    tol_abs: Option<f64>,
    tols: &[String],
) -> Result<CheckReport> {
    if let Some(x) = tol_abs {
        if !(x >= 0.0 && x.is_finite()) {
            return Err(Error::input(format!(
                "--tol-abs {x}: the tolerance must be a finite number ≥ 0"
            )));
        }
    }
    let overrides = tols
        .iter()
        .map(|s| parse_tol(s))
        .collect::<Result<Vec<_>>>()?;
    let b = read_summary_csv(baseline).input_err(|| "reading the baseline")?;
    let c = read_summary_csv(candidate).input_err(|| "reading the candidate")?;
    let metrics: BTreeSet<String> = b.iter().chain(&c).map(|r| r.metric.clone()).collect();
    let mut spec = tolerance_spec(&metrics, tol_abs, &overrides);
    let plan_file = [candidate, baseline]
        .iter()
        .filter_map(|p| p.parent().map(|d| d.join("resolved_config.json")))
        .find(|p| p.is_file());
    let mut tolerances_from = "metric names".to_string();
    if let Some(pf) = &plan_file {
        let plan = Plan::read(pf)?;
        let rows: BTreeSet<(String, String)> = b
            .iter()
            .chain(&c)
            .map(|r| (r.evaluator.clone(), r.metric.clone()))
            .collect();
        let rows: Vec<_> = rows.into_iter().collect();
        add_plan_tolerances(&mut spec, &plan, &rows, tol_abs, &overrides)
            .context(|| format!("{}: the evaluators' tolerances", pf.display()))?;
        tolerances_from = format!("the evaluators of {}", pf.display());
    }
    let diff = SummaryDiff::compute(&b, &c, &spec).input_err(|| {
        format!(
            "comparing {} with {}",
            baseline.display(),
            candidate.display()
        )
    })?;
    let header = format!(
        "baseline: {}\ncandidate: {}\ndefault tolerances from: {}\n\n",
        baseline.display(),
        candidate.display(),
        tolerances_from
    );
    Ok(CheckReport {
        passed: diff.passed(),
        markdown: header + &diff.to_markdown(),
    })
}

/// Holds a summary CSV to its published values: every row with a `published` value must lie
/// within `tol` of it (`|value − published| ≤ tol`, in the summary's unit). A summary without
/// any published value is bad input (nothing to check: the config wires no published table).
pub fn check_against_published(candidate: &Path, tol: f64) -> Result<CheckReport> {
    if !(tol >= 0.0 && tol.is_finite()) {
        return Err(Error::input(format!(
            "--against-published {tol}: the tolerance must be a finite number ≥ 0"
        )));
    }
    let rows = read_summary_csv(candidate).input_err(|| "reading the candidate")?;
    let wired: Vec<_> = rows.iter().filter(|r| r.published.is_some()).collect();
    if wired.is_empty() {
        return Err(Error::input(format!(
            "{}: no row has a published value (its config wires no `published` table; see configs/paper/published.toml)",
            candidate.display()
        )));
    }
    let mut md = format!(
        "candidate: {}\nagainst the published values, tolerance {tol}\n\n| evaluator | explainer | metric | value | published | diff | status |\n|---|---|---|---|---|---|---|\n",
        candidate.display()
    );
    let mut failed = 0;
    for r in &wired {
        let p = r.published.unwrap_or(f64::NAN);
        let d = r.value - p;
        let ok = d.abs() <= tol;
        if !ok {
            failed += 1;
        }
        md.push_str(&format!(
            "| {} | {} | {} | {:.4} | {p:.4} | {d:+.4} | {} |\n",
            r.evaluator,
            r.explainer,
            r.metric,
            r.value,
            if ok { "PASS" } else { "FAIL" }
        ));
    }
    md.push_str(&format!(
        "\n{} of {} published cells within {tol}: {}\n",
        wired.len() - failed,
        wired.len(),
        if failed == 0 { "PASS" } else { "FAIL" }
    ));
    Ok(CheckReport {
        passed: failed == 0,
        markdown: md,
    })
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
