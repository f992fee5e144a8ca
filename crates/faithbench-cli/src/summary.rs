//! Aggregation of a run's records into `summary.csv`, `summary.md` and the curve plots. A pure
//! function of the records files (read back from disk, restricted to the plan's samples, first
//! record per sample id, sorted by sample id), so a resumed run and an uninterrupted one write
//! byte-identical summaries.
//!
//! Metrics (confidence intervals: percentile bootstrap over samples, `[run]` seed/resamples):
//! * perturbation: `auc` (CI: bootstrap of the AUC of the resampled mean accuracy curve),
//!   `clean_accuracy`, `accuracy@<p>` per level;
//! * segmentation: `pixel_accuracy` and `miou` (micro totals as in the reference; CI: bootstrap of
//!   the same ratio on resampled images), `map`, `mf1` (means over images);
//! * text evaluators: see [`crate::text_summary`].

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use faithbench_eval::perturbation::{auc_bootstrap_ci, hit_curve};
use faithbench_eval::segmentation::EPS;
use faithbench_eval::stats::bootstrap_curve_statistic;
use faithbench_eval::{
    aggregate_segmentation, bootstrap_mean_ci, summarise, BootstrapConfig, ConfidenceInterval,
    PerturbationMode, PerturbationRecord, SegmentationRecord,
};
use faithbench_report::plot::{plot_bars_with_ci, plot_curves, Curve};
use faithbench_report::table::{summary_markdown, write_summary_csv, Direction, SummaryRow};

use crate::plan::{Protocol, ResolvedEvaluator, ResolvedExplainer, ResolvedPlan};
use crate::records::{read_records, EraserLine, SegmentationLine, TextPerturbationLine};
use crate::text_summary::{
    eraser_results_dir, eraser_rows, text_perturbation_rows, write_eraser_results,
};
use crate::util::level_name;

/// Records file of an (evaluator, explainer) pair.
pub fn records_path(out: &Path, e: &ResolvedEvaluator, x: &ResolvedExplainer) -> PathBuf {
    out.join("records")
        .join(format!("{}__{}.jsonl", e.stem, x.stem))
}

/// Perturbation records of a pair, restricted to the plan's samples, sorted by id.
pub fn perturbation_records(
    plan: &ResolvedPlan,
    run_dir: &Path,
    e: &ResolvedEvaluator,
    x: &ResolvedExplainer,
) -> Result<Vec<PerturbationRecord>> {
    let keep = plan_ids(plan, e);
    read_records(&records_path(run_dir, e, x), Some(&keep))
}

/// Segmentation records of a pair, restricted to the plan's samples, sorted by id.
pub fn segmentation_records(
    plan: &ResolvedPlan,
    run_dir: &Path,
    e: &ResolvedEvaluator,
    x: &ResolvedExplainer,
) -> Result<Vec<SegmentationRecord>> {
    let keep = plan_ids(plan, e);
    let lines: Vec<SegmentationLine> = read_records(&records_path(run_dir, e, x), Some(&keep))?;
    Ok(lines.into_iter().map(|l| l.record).collect())
}

/// Records of a text pair (`eraser_rationales` or `text_perturbation` lines), restricted to the
/// plan's samples, sorted by id.
pub fn text_records<T: serde::de::DeserializeOwned + crate::records::HasId>(
    plan: &ResolvedPlan,
    run_dir: &Path,
    e: &ResolvedEvaluator,
    x: &ResolvedExplainer,
) -> Result<Vec<T>> {
    let keep = plan_ids(plan, e);
    read_records(&records_path(run_dir, e, x), Some(&keep))
}

fn plan_ids<'a>(plan: &'a ResolvedPlan, e: &ResolvedEvaluator) -> BTreeSet<&'a str> {
    plan.dataset(&e.dataset)
        .map(|d| d.sample_ids.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn row(e: &str, x: &str, metric: &str, value: f64, ci: &ConfidenceInterval) -> SummaryRow {
    SummaryRow {
        evaluator: e.to_string(),
        explainer: x.to_string(),
        metric: metric.to_string(),
        value,
        ci_low: ci.lower,
        ci_high: ci.upper,
        n: ci.n,
    }
}

/// Summary rows of one perturbation pair, and its accuracy curve with CI band.
pub fn perturbation_rows(
    e: &str,
    x: &str,
    recs: &[PerturbationRecord],
    rule: faithbench_eval::AucRule,
    cfg: &BootstrapConfig,
) -> Result<(Vec<SummaryRow>, Curve)> {
    let s = summarise(recs, rule)?;
    let auc_ci = auc_bootstrap_ci(recs, rule, cfg)?;
    let mut rows = vec![row(e, x, "auc", s.auc, &auc_ci)];
    let curves: Vec<Vec<f64>> = recs.iter().map(hit_curve).collect();
    let column = |i: usize| curves.iter().map(|c| c[i]).collect::<Vec<f64>>();
    let clean = bootstrap_mean_ci(&column(0), cfg)?;
    rows.push(row(e, x, "clean_accuracy", s.curve.acc0, &clean));
    let (mut lo, mut hi) = (vec![clean.lower], vec![clean.upper]);
    for (i, &p) in s.curve.levels.iter().enumerate() {
        let ci = bootstrap_mean_ci(&column(i + 1), cfg)?;
        rows.push(row(
            e,
            x,
            &format!("accuracy@{}", level_name(p)),
            s.curve.acc[i],
            &ci,
        ));
        lo.push(ci.lower);
        hi.push(ci.upper);
    }
    let curve = Curve {
        label: x.to_string(),
        xs: std::iter::once(0.0)
            .chain(s.curve.levels.iter().copied())
            .collect(),
        ys: std::iter::once(s.curve.acc0)
            .chain(s.curve.acc.iter().copied())
            .collect(),
        band: Some((lo, hi)),
    };
    Ok((rows, curve))
}

fn pix_acc(c: &[f64]) -> Result<f64, String> {
    Ok(c[0] / (EPS + c[1]))
}
fn miou(c: &[f64]) -> Result<f64, String> {
    Ok((c[0] / (EPS + c[2]) + c[1] / (EPS + c[3])) / 2.0)
}

/// Per-image count vectors for the micro ratios: `[correct, labeled]`.
pub fn pix_curves(recs: &[SegmentationRecord]) -> Vec<Vec<f64>> {
    recs.iter()
        .map(|r| vec![r.correct as f64, r.labeled as f64])
        .collect()
}

/// Per-image count vectors for mIoU: `[inter_bg, inter_fg, union_bg, union_fg]`.
pub fn iou_curves(recs: &[SegmentationRecord]) -> Vec<Vec<f64>> {
    recs.iter()
        .map(|r| {
            vec![
                r.inter[0] as f64,
                r.inter[1] as f64,
                r.union[0] as f64,
                r.union[1] as f64,
            ]
        })
        .collect()
}

/// Statistic of the pixel accuracy on a mean count vector.
pub fn pix_acc_stat(c: &[f64]) -> Result<f64, String> {
    pix_acc(c)
}

/// Statistic of the mIoU on a mean count vector.
pub fn miou_stat(c: &[f64]) -> Result<f64, String> {
    miou(c)
}

/// Summary rows of one segmentation pair.
pub fn segmentation_rows(
    e: &str,
    x: &str,
    recs: &[SegmentationRecord],
    cfg: &BootstrapConfig,
) -> Result<Vec<SummaryRow>> {
    let s = aggregate_segmentation(recs)?;
    let pix_ci = bootstrap_curve_statistic(&pix_curves(recs), pix_acc, cfg)?;
    let iou_ci = bootstrap_curve_statistic(&iou_curves(recs), miou, cfg)?;
    let ap: Vec<f64> = recs.iter().map(|r| r.ap).collect();
    let f1: Vec<f64> = recs.iter().map(|r| r.f1).collect();
    Ok(vec![
        row(e, x, "pixel_accuracy", s.pix_acc, &pix_ci),
        row(e, x, "miou", s.miou, &iou_ci),
        row(e, x, "map", s.map, &bootstrap_mean_ci(&ap, cfg)?),
        row(e, x, "mf1", s.mf1, &bootstrap_mean_ci(&f1, cfg)?),
    ])
}

/// The aggregated results of a run folder.
pub struct RunSummary {
    /// All rows.
    pub rows: Vec<SummaryRow>,
    /// Curves per evaluator (evaluator index, curves): accuracy vs removed fraction
    /// (perturbation), token-F1 vs k (`eraser_rationales`).
    pub curves: Vec<(usize, Vec<Curve>)>,
    /// Pairs with fewer records than planned samples: (evaluator, explainer, have, planned).
    pub incomplete: Vec<(String, String, usize, usize)>,
}

/// Aggregates every (evaluator, explainer) pair of a run folder.
pub fn summarise_run(plan: &ResolvedPlan, run_dir: &Path) -> Result<RunSummary> {
    let cfg = &plan.plan.bootstrap;
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut incomplete = Vec::new();
    for (ei, e) in plan.plan.evaluators.iter().enumerate() {
        let planned = plan.dataset(&e.dataset).map_or(0, |d| d.num_samples);
        let mut ecurves = Vec::new();
        for (_, x) in plan.explainers_for(e) {
            let ctx = || format!("summarising {} × {}", e.name, x.label);
            match &e.protocol {
                Protocol::EraserRationales {
                    ks,
                    iou_threshold,
                    aopc_thresholds,
                    ..
                } => {
                    let recs: Vec<EraserLine> =
                        text_records(plan, run_dir, e, x).with_context(ctx)?;
                    if recs.len() < planned {
                        incomplete.push((e.name.clone(), x.label.clone(), recs.len(), planned));
                    }
                    if recs.is_empty() {
                        continue;
                    }
                    let (r, c) = eraser_rows(
                        &e.name,
                        &x.label,
                        &recs,
                        ks,
                        *iou_threshold,
                        aopc_thresholds,
                        cfg,
                    )
                    .with_context(ctx)?;
                    rows.extend(r);
                    ecurves.extend(c);
                }
                Protocol::TextPerturbation { auc, .. } => {
                    let recs: Vec<TextPerturbationLine> =
                        text_records(plan, run_dir, e, x).with_context(ctx)?;
                    if recs.len() < planned {
                        incomplete.push((e.name.clone(), x.label.clone(), recs.len(), planned));
                    }
                    if recs.is_empty() {
                        continue;
                    }
                    let (r, c) = text_perturbation_rows(&e.name, &x.label, &recs, *auc, cfg)
                        .with_context(ctx)?;
                    rows.extend(r);
                    ecurves.push(c);
                }
                Protocol::Perturbation { auc, .. } => {
                    let recs = perturbation_records(plan, run_dir, e, x).with_context(ctx)?;
                    if recs.len() < planned {
                        incomplete.push((e.name.clone(), x.label.clone(), recs.len(), planned));
                    }
                    if recs.is_empty() {
                        continue;
                    }
                    let (r, c) =
                        perturbation_rows(&e.name, &x.label, &recs, *auc, cfg).with_context(ctx)?;
                    rows.extend(r);
                    ecurves.push(c);
                }
                Protocol::Segmentation => {
                    let recs = segmentation_records(plan, run_dir, e, x).with_context(ctx)?;
                    if recs.len() < planned {
                        incomplete.push((e.name.clone(), x.label.clone(), recs.len(), planned));
                    }
                    if recs.is_empty() {
                        continue;
                    }
                    rows.extend(
                        segmentation_rows(&e.name, &x.label, &recs, cfg).with_context(ctx)?,
                    );
                }
            }
        }
        if !ecurves.is_empty() {
            curves.push((ei, ecurves));
        }
    }
    Ok(RunSummary {
        rows,
        curves,
        incomplete,
    })
}

/// Which direction is better for a metric of an evaluator.
pub fn direction(protocol: &Protocol, metric: &str) -> Direction {
    match protocol {
        Protocol::Perturbation { config, .. } => match (config.mode, metric) {
            (PerturbationMode::Positive, m) if m == "auc" || m.starts_with("accuracy@") => {
                Direction::LowerBetter
            }
            _ => Direction::HigherBetter,
        },
        Protocol::Segmentation => Direction::HigherBetter,
        Protocol::EraserRationales { .. } => {
            if metric.starts_with("sufficiency") {
                Direction::LowerBetter
            } else {
                Direction::HigherBetter
            }
        }
        Protocol::TextPerturbation { config, .. } => match (config.mode, metric) {
            (faithbench_eval::text_perturbation::TextMode::Positive, m)
                if m == "auc" || m.starts_with("accuracy@") =>
            {
                Direction::LowerBetter
            }
            _ => Direction::HigherBetter,
        },
    }
}

/// Per-k metric families shown as their own Markdown table (the others are in `summary.csv`).
const MD_PER_K: [&str; 6] = [
    "token_f1",
    "token_precision",
    "token_recall",
    "iou_f1",
    "comprehensiveness",
    "sufficiency",
];

/// Markdown of a run summary: per evaluator a main table (AUC and clean accuracy, or the
/// segmentation metrics) and, for perturbation, a table of accuracy per level.
pub fn markdown(plan: &ResolvedPlan, rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "# {} — summary\n\nValues with {:.0}% bootstrap confidence intervals ({} resamples, seed {}); \
         ↑ higher is better, ↓ lower is better, best in **bold**. config hash `{}`.\n\n",
        plan.plan.name,
        plan.plan.bootstrap.confidence * 100.0,
        plan.plan.bootstrap.resamples,
        plan.plan.bootstrap.seed,
        &plan.config_hash[..12.min(plan.config_hash.len())]
    );
    for e in &plan.plan.evaluators {
        let mine: Vec<SummaryRow> = rows
            .iter()
            .filter(|r| r.evaluator == e.name)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let dirs: HashMap<String, Direction> = mine
            .iter()
            .map(|r| (r.metric.clone(), direction(&e.protocol, &r.metric)))
            .collect();
        let (main, per): (Vec<SummaryRow>, Vec<SummaryRow>) =
            mine.into_iter().partition(|r| !r.metric.contains('@'));
        out.push_str(&summary_markdown(&main, &dirs));
        out.push('\n');
        out.push_str(&protocol_line(&e.protocol));
        out.push('\n');
        // one table per `prefix@…` family, in order of first appearance
        let mut prefixes: Vec<String> = Vec::new();
        for r in &per {
            let p = r.metric.split('@').next().unwrap_or_default().to_string();
            if !prefixes.contains(&p) {
                prefixes.push(p);
            }
        }
        if matches!(e.protocol, Protocol::EraserRationales { .. }) {
            prefixes.retain(|p| MD_PER_K.contains(&p.as_str()));
            prefixes.sort_by_key(|p| MD_PER_K.iter().position(|m| m == p));
        }
        for prefix in prefixes {
            let title = if prefix == "accuracy" {
                "accuracy per removed fraction".to_string()
            } else {
                format!("{prefix} per k")
            };
            let renamed: Vec<SummaryRow> = per
                .iter()
                .filter(|r| r.metric.split('@').next() == Some(prefix.as_str()))
                .cloned()
                .map(|mut r| {
                    r.evaluator = format!("{} — {title}", r.evaluator);
                    r
                })
                .collect();
            out.push_str(&summary_markdown(&renamed, &dirs));
            out.push('\n');
        }
    }
    out
}

fn snake<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// One line describing a protocol's settings.
pub fn protocol_line(p: &Protocol) -> String {
    match p {
        Protocol::Perturbation { config, auc } => format!(
            "*{} perturbation; explains the {} class; hits scored against the ground truth; \
             levels {:?}; removal {}; AUC rule `{}` ({}).*\n",
            snake(&config.mode),
            snake(&config.explained_class),
            config.levels,
            serde_json::to_string(&config.removal).unwrap_or_default(),
            snake(auc),
            if *auc == faithbench_eval::AucRule::Bi2023 {
                "fraction"
            } else {
                "percent"
            }
        ),
        Protocol::Segmentation => {
            "*segmentation; explains the predicted class; threshold = mean of the min–max normalised map.*\n"
                .into()
        }
        Protocol::EraserRationales {
            explained,
            ks,
            alignment,
            aopc_thresholds,
            iou_threshold,
            faithfulness,
            removal,
            ..
        } => format!(
            "*ERASER rationales; explains the {} class; token maps clamped at 0, word scores by `{}` alignment; \
             top-k words for k in {:?} (capped at the words covered); token-F1 = `token_prf` instance-macro F1; \
             IoU threshold {}; {}. Per-k precision, recall, micro and rationale-level F1 are in summary.csv.*\n",
            snake(explained),
            snake(alignment),
            ks,
            iou_threshold,
            if *faithfulness {
                format!(
                    "comprehensiveness/sufficiency with words removed by `{}`, AOPC bins {:?}",
                    snake(removal),
                    aopc_thresholds
                )
            } else {
                "faithfulness not measured".to_string()
            }
        ),
        Protocol::TextPerturbation {
            config,
            explained,
            auc,
        } => format!(
            "*{} text perturbation; explains the {} class; relevance clamped at 0; fractions {:?} (cumulative); \
             length rule {}; removed tokens get [PAD] (id {}) and mask 0; hits scored against the ground truth; \
             AUC rule `{}` ({}).*\n",
            snake(&config.mode),
            snake(explained),
            config.fractions.iter().map(|&p| crate::text_summary::fraction_name(p)).collect::<Vec<_>>(),
            serde_json::to_string(&config.length_rule).unwrap_or_default(),
            config.pad_id,
            snake(auc),
            if *auc == faithbench_eval::text_perturbation::TextAucRule::TrapezoidNormalised {
                "mean accuracy over the fraction range, a fraction"
            } else {
                "sklearn auc of accuracy in percent"
            }
        ),
    }
}

/// Writes `summary.csv`, `summary.md` and `plots/` for a run folder. Returns the summary.
pub fn write_reports(plan: &ResolvedPlan, run_dir: &Path) -> Result<RunSummary> {
    let s = summarise_run(plan, run_dir)?;
    write_summary_csv(run_dir.join("summary.csv"), &s.rows)?;
    let md = markdown(plan, &s.rows);
    std::fs::write(run_dir.join("summary.md"), md)
        .with_context(|| format!("{}: cannot write", run_dir.join("summary.md").display()))?;
    for (ei, curves) in &s.curves {
        let e = &plan.plan.evaluators[*ei];
        match &e.protocol {
            Protocol::Perturbation { auc, .. } => {
                plot_curves(
                    run_dir.join("plots").join(&e.stem),
                    &format!("{} (AUC {})", e.name, snake(auc)),
                    "fraction of pixels removed",
                    "top-1 accuracy",
                    curves,
                )?;
            }
            Protocol::TextPerturbation { auc, .. } => {
                plot_curves(
                    run_dir.join("plots").join(&e.stem),
                    &format!("{} (AUC {})", e.name, snake(auc)),
                    "fraction of tokens removed",
                    "accuracy",
                    curves,
                )?;
            }
            Protocol::EraserRationales { .. } => {
                plot_curves(
                    run_dir.join("plots").join(format!("{}_token_f1", e.stem)),
                    &format!("{} — token-F1 of the top-k words", e.name),
                    "k (words)",
                    "token F1",
                    curves,
                )?;
            }
            Protocol::Segmentation => continue,
        }
    }
    // ERASER results files
    for e in &plan.plan.evaluators {
        let Protocol::EraserRationales { ks, listing, .. } = &e.protocol else {
            continue;
        };
        if plan.options.no_results_files.contains(&e.name) {
            continue;
        }
        let classes = plan
            .dataset(&e.dataset)
            .and_then(|d| d.text.as_ref())
            .map(|t| t.classes.clone())
            .unwrap_or_default();
        for (_, x) in plan.explainers_for(e) {
            let recs: Vec<EraserLine> = text_records(plan, run_dir, e, x)?;
            if recs.is_empty() {
                continue;
            }
            write_eraser_results(
                &eraser_results_dir(run_dir, &e.stem, &x.label),
                &recs,
                ks,
                *listing,
                &classes,
            )
            .with_context(|| format!("ERASER results of {} × {}", e.name, x.label))?;
        }
    }
    for e in &plan.plan.evaluators {
        if let Protocol::Segmentation = e.protocol {
            let bars: Vec<(String, f64, f64, f64)> = s
                .rows
                .iter()
                .filter(|r| r.evaluator == e.name && r.metric == "miou")
                .map(|r| (r.explainer.clone(), r.value, r.ci_low, r.ci_high))
                .collect();
            if !bars.is_empty() {
                plot_bars_with_ci(
                    run_dir.join("plots").join(format!("{}_miou", e.stem)),
                    &format!("{} — mIoU", e.name),
                    "mIoU",
                    &bars,
                )?;
            }
        }
    }
    Ok(s)
}
