//! What evaluators summarise records into: long-format [`SummaryRow`]s (one per evaluator ×
//! explainer × metric, with a confidence interval), accuracy-style [`Curve`]s, the [`Figure`]s an
//! evaluator wants drawn, and paired [`Comparison`]s of two runs. `faithbench-report` renders
//! them (CSV, Markdown, PNG/SVG); the types live here so evaluators stay free of rendering.

use serde::{Deserialize, Serialize};

use crate::stats::ConfidenceInterval;

/// One aggregated result: `metric` of `explainer` under `evaluator`, with a confidence
/// interval `[ci_low, ci_high]` over `n` samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Evaluator (protocol) name, e.g. `perturbation-vit` or `segmentation`.
    pub evaluator: String,
    /// Explainer (attribution method) name, e.g. `rollout`.
    pub explainer: String,
    /// Metric name, e.g. `auc_positive`.
    pub metric: String,
    /// Point estimate.
    pub value: f64,
    /// Lower end of the confidence interval.
    pub ci_low: f64,
    /// Upper end of the confidence interval.
    pub ci_high: f64,
    /// Number of samples aggregated.
    pub n: usize,
    /// The published value of this cell in the same unit, when the run's config wires one
    /// (`configs/paper/published.toml`); the summary shows it and the difference beside `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<f64>,
}

impl SummaryRow {
    /// A row from a point estimate and its interval.
    pub fn new(
        evaluator: &str,
        explainer: &str,
        metric: &str,
        value: f64,
        ci: &ConfidenceInterval,
    ) -> Self {
        SummaryRow {
            evaluator: evaluator.to_string(),
            explainer: explainer.to_string(),
            metric: metric.to_string(),
            value,
            ci_low: ci.lower,
            ci_high: ci.upper,
            n: ci.n,
            published: None,
        }
    }

    /// The deterministic sort key `(evaluator, metric, explainer)`.
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.evaluator, &self.metric, &self.explainer)
    }
}

/// Whether larger or smaller values of a metric are better (decides which cell is bold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Larger is better (e.g. segmentation mIoU, negative-perturbation AUC).
    HigherBetter,
    /// Smaller is better (e.g. positive-perturbation AUC).
    LowerBetter,
}

impl Direction {
    /// Arrow shown after the metric name in Markdown headers (`↑` / `↓`).
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::HigherBetter => "↑",
            Direction::LowerBetter => "↓",
        }
    }

    /// True when `a` is strictly better than `b` in this direction.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::HigherBetter => a > b,
            Direction::LowerBetter => a < b,
        }
    }
}

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// X coordinates.
    pub xs: Vec<f64>,
    /// Y coordinates (same length as `xs`).
    pub ys: Vec<f64>,
    /// Optional confidence band `(lower, upper)`, each the same length as `xs`; drawn as a
    /// translucent area in the curve's colour.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

/// A chart an evaluator wants drawn under `plots/<file>.{png,svg}` of the run folder.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// One curve per explainer.
    Curves {
        /// File name without extension.
        file: String,
        /// Title.
        title: String,
        /// X axis label.
        x_label: String,
        /// Y axis label.
        y_label: String,
        /// The curves.
        curves: Vec<Curve>,
    },
    /// One bar per explainer with its confidence interval.
    Bars {
        /// File name without extension.
        file: String,
        /// Title.
        title: String,
        /// Value axis label.
        value_label: String,
        /// `(label, value, ci_low, ci_high)`.
        bars: Vec<(String, f64, f64, f64)>,
    },
}

/// The summary of one (evaluator, explainer) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairSummary {
    /// Metric rows.
    pub rows: Vec<SummaryRow>,
    /// Curves (accuracy vs removed fraction, token-F1 vs k, …) for the evaluator's figures.
    pub curves: Vec<Curve>,
}

/// One metric of a paired comparison of two runs (A − B).
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonLine {
    /// Metric.
    pub metric: String,
    /// Value in run A.
    pub a: f64,
    /// Value in run B.
    pub b: f64,
    /// A − B with its paired bootstrap CI.
    pub diff: ConfidenceInterval,
    /// Sign-flip permutation p-value, where the metric is a mean of per-sample values.
    pub p: Option<f64>,
}

impl ComparisonLine {
    /// The line of a metric that is the mean of per-sample values `a` and `b` (same samples,
    /// same order): both means, the paired bootstrap CI of the difference and its sign-flip
    /// p-value.
    pub fn paired_means(
        metric: &str,
        a: &[f64],
        b: &[f64],
        cfg: &crate::stats::BootstrapConfig,
    ) -> Result<Self, crate::stats::StatsError> {
        let pc = crate::stats::paired_difference_ci(a, b, cfg)?;
        Ok(ComparisonLine {
            metric: metric.to_string(),
            a: crate::stats::mean(a),
            b: crate::stats::mean(b),
            diff: pc.difference,
            p: Some(pc.p_value),
        })
    }
}

/// A paired comparison of one (evaluator, explainer) pair across two runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// The metrics compared.
    pub lines: Vec<ComparisonLine>,
    /// Why something was not compared.
    pub notes: Vec<String>,
}

/// Index of the largest value (ties: the lowest index, like `torch.max` on CPU; NaN never
/// wins). The one argmax of faithbench.
pub fn argmax<T: PartialOrd + Copy>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Softmax of a logit row in f64 (shifted by the maximum).
pub fn softmax(row: &[f32]) -> Vec<f64> {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_ties_take_lowest_index() {
        assert_eq!(argmax(&[1.0f32, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[0.2f64, 0.8]), 1);
        assert_eq!(argmax::<f32>(&[]), 0);
        assert_eq!(
            argmax(&[f32::NAN, 1.0]),
            0,
            "comparisons with NaN are false"
        );
    }
}
