//! `faithbench compare RUN_A RUN_B`: the two runs' results side by side, with paired differences
//! (A − B) and bootstrap CIs computed from the records, paired by sample id (samples present in
//! both runs only).
//!
//! Pairs are matched by evaluator name and explainer label. Differences:
//! * `auc`: paired bootstrap of AUC(A) − AUC(B) (same resampled images for both);
//! * `clean_accuracy`, `map`, `mf1`: mean paired difference with a bootstrap CI and a sign-flip
//!   permutation p-value;
//! * `pixel_accuracy`, `miou`: paired bootstrap of the difference of the micro ratios;
//! * text perturbation: `auc` (paired bootstrap of the curves' areas) and `clean_accuracy`;
//! * ERASER rationales: `token_f1@k` per k (mean paired difference of per-document F1).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use faithbench_eval::perturbation::auc_difference_ci;
use faithbench_eval::stats::paired_curve_statistic_difference;
use faithbench_eval::{
    aggregate_segmentation, paired_difference_ci, summarise, ConfidenceInterval,
    PerturbationRecord, SegmentationRecord,
};

use faithbench_eval::text_perturbation::TextAucRule;

use crate::plan::{Protocol, ResolvedPlan};
use crate::records::{EraserLine, TextPerturbationLine};
use crate::summary::{
    iou_curves, miou_stat, perturbation_records, pix_acc_stat, pix_curves, segmentation_records,
    text_records,
};
use crate::text_summary::text_perturbation_rows;

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Per-document token F1 of the top-k words (0 for a document without evidence and
/// predictions, which the ERASER macro average would leave out).
fn doc_token_f1(recs: &[EraserLine], k: usize) -> Result<Vec<f64>> {
    recs.iter()
        .map(|r| {
            let pred: BTreeSet<usize> =
                faithbench_eval::rationales::top_k_words(&r.word_scores, k)?
                    .into_iter()
                    .collect();
            let truth: BTreeSet<usize> = r.evidence.iter().flat_map(|&(s, e)| s..e).collect();
            let inter = pred.intersection(&truth).count() as f64;
            let p = if pred.is_empty() {
                0.0
            } else {
                inter / pred.len() as f64
            };
            let q = if truth.is_empty() {
                0.0
            } else {
                inter / truth.len() as f64
            };
            Ok(faithbench_eval::eraser_metrics::f1(p, q))
        })
        .collect()
}

struct Line {
    evaluator: String,
    explainer: String,
    metric: String,
    a: f64,
    b: f64,
    diff: ConfidenceInterval,
    p: Option<f64>,
}

fn intersect<T: Clone>(a: Vec<T>, b: Vec<T>, id: impl Fn(&T) -> &str) -> (Vec<T>, Vec<T>) {
    let ia: BTreeSet<String> = a.iter().map(|r| id(r).to_string()).collect();
    let ib: BTreeSet<String> = b.iter().map(|r| id(r).to_string()).collect();
    let both: BTreeSet<&String> = ia.intersection(&ib).collect();
    let keep = |v: Vec<T>| -> Vec<T> {
        v.into_iter()
            .filter(|r| both.contains(&id(r).to_string()))
            .collect()
    };
    (keep(a), keep(b))
}

/// Compares two run folders; returns the Markdown report.
pub fn compare(run_a: &Path, run_b: &Path) -> Result<String> {
    let pa = ResolvedPlan::read(&run_a.join("resolved_config.json"))?;
    let pb = ResolvedPlan::read(&run_b.join("resolved_config.json"))?;
    let cfg = pa.plan.bootstrap;
    let mut lines: Vec<Line> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for ea in &pa.plan.evaluators {
        let Some(eb) = pb.plan.evaluators.iter().find(|e| e.name == ea.name) else {
            notes.push(format!("evaluator `{}` is only in A", ea.name));
            continue;
        };
        if std::mem::discriminant(&ea.protocol) != std::mem::discriminant(&eb.protocol) {
            notes.push(format!(
                "evaluator `{}` is a different protocol in A and B; skipped",
                ea.name
            ));
            continue;
        }
        let xbs = pb.explainers_for(eb);
        for (_, xa) in pa.explainers_for(ea) {
            let Some((_, xb)) = xbs.iter().find(|(_, x)| x.label == xa.label) else {
                continue;
            };
            let xb = *xb;
            let mk =
                |metric: &str, a: f64, b: f64, diff: ConfidenceInterval, p: Option<f64>| Line {
                    evaluator: ea.name.clone(),
                    explainer: xa.label.clone(),
                    metric: metric.to_string(),
                    a,
                    b,
                    diff,
                    p,
                };
            match (&ea.protocol, &eb.protocol) {
                (Protocol::Perturbation { auc: rule, config }, Protocol::Perturbation { .. }) => {
                    let (ra, rb) = intersect(
                        perturbation_records(&pa, run_a, ea, xa)?,
                        perturbation_records(&pb, run_b, eb, xb)?,
                        |r: &PerturbationRecord| r.sample_id.as_str(),
                    );
                    if ra.is_empty() {
                        notes.push(format!("{} × {}: no common samples", ea.name, xa.label));
                        continue;
                    }
                    if ra[0].levels != rb[0].levels || ra[0].mode != rb[0].mode {
                        notes.push(format!(
                            "{} × {}: levels or mode differ between A and B; skipped",
                            ea.name, xa.label
                        ));
                        continue;
                    }
                    let _ = config;
                    let sa = summarise(&ra, *rule)?;
                    let sb = summarise(&rb, *rule)?;
                    let d = auc_difference_ci(&ra, &rb, *rule, &cfg)?;
                    lines.push(mk("auc", sa.auc, sb.auc, d, None));
                    let hits = |r: &[PerturbationRecord]| -> Vec<f64> {
                        r.iter()
                            .map(|x| if x.clean_hit { 1.0 } else { 0.0 })
                            .collect()
                    };
                    let pc = paired_difference_ci(&hits(&ra), &hits(&rb), &cfg)?;
                    lines.push(mk(
                        "clean_accuracy",
                        sa.curve.acc0,
                        sb.curve.acc0,
                        pc.difference,
                        Some(pc.p_value),
                    ));
                }
                (Protocol::Segmentation, Protocol::Segmentation) => {
                    let (ra, rb) = intersect(
                        segmentation_records(&pa, run_a, ea, xa)?,
                        segmentation_records(&pb, run_b, eb, xb)?,
                        |r: &SegmentationRecord| r.sample_id.as_str(),
                    );
                    if ra.is_empty() {
                        notes.push(format!("{} × {}: no common samples", ea.name, xa.label));
                        continue;
                    }
                    let sa = aggregate_segmentation(&ra)?;
                    let sb = aggregate_segmentation(&rb)?;
                    let d = paired_curve_statistic_difference(
                        &pix_curves(&ra),
                        &pix_curves(&rb),
                        pix_acc_stat,
                        &cfg,
                    )?;
                    lines.push(mk("pixel_accuracy", sa.pix_acc, sb.pix_acc, d, None));
                    let d = paired_curve_statistic_difference(
                        &iou_curves(&ra),
                        &iou_curves(&rb),
                        miou_stat,
                        &cfg,
                    )?;
                    lines.push(mk("miou", sa.miou, sb.miou, d, None));
                    let ap = |r: &[SegmentationRecord]| r.iter().map(|x| x.ap).collect::<Vec<_>>();
                    let f1 = |r: &[SegmentationRecord]| r.iter().map(|x| x.f1).collect::<Vec<_>>();
                    let pc = paired_difference_ci(&ap(&ra), &ap(&rb), &cfg)?;
                    lines.push(mk("map", sa.map, sb.map, pc.difference, Some(pc.p_value)));
                    let pc = paired_difference_ci(&f1(&ra), &f1(&rb), &cfg)?;
                    lines.push(mk("mf1", sa.mf1, sb.mf1, pc.difference, Some(pc.p_value)));
                }
                (
                    Protocol::TextPerturbation { auc: rule, .. },
                    Protocol::TextPerturbation { .. },
                ) => {
                    let (ra, rb) = intersect(
                        text_records::<TextPerturbationLine>(&pa, run_a, ea, xa)?,
                        text_records::<TextPerturbationLine>(&pb, run_b, eb, xb)?,
                        |r: &TextPerturbationLine| r.sample_id.as_str(),
                    );
                    if ra.is_empty() {
                        notes.push(format!("{} × {}: no common samples", ea.name, xa.label));
                        continue;
                    }
                    if ra[0].record.fractions != rb[0].record.fractions {
                        notes.push(format!(
                            "{} × {}: fractions differ between A and B; skipped",
                            ea.name, xa.label
                        ));
                        continue;
                    }
                    let (rows_a, _) =
                        text_perturbation_rows(&ea.name, &xa.label, &ra, *rule, &cfg)?;
                    let (rows_b, _) =
                        text_perturbation_rows(&eb.name, &xb.label, &rb, *rule, &cfg)?;
                    let get = |rows: &[faithbench_report::table::SummaryRow], m: &str| {
                        rows.iter().find(|r| r.metric == m).map(|r| r.value)
                    };
                    let hits = |r: &[TextPerturbationLine]| -> Vec<Vec<f64>> {
                        r.iter()
                            .map(|x| {
                                x.record
                                    .hits
                                    .iter()
                                    .map(|&h| f64::from(u8::from(h)))
                                    .collect()
                            })
                            .collect()
                    };
                    let fr = ra[0].record.fractions.clone();
                    let stat = |c: &[f64]| -> Result<f64, String> {
                        let pct: Vec<f64> = c.iter().map(|a| a * 100.0).collect();
                        let a = faithbench_eval::trapezoid(&fr, &pct).map_err(|e| e.to_string())?;
                        Ok(match rule {
                            TextAucRule::Trapezoid => a,
                            TextAucRule::TrapezoidNormalised => {
                                a / (fr[fr.len() - 1] - fr[0]) / 100.0
                            }
                        })
                    };
                    if let (Some(a), Some(b)) = (get(&rows_a, "auc"), get(&rows_b, "auc")) {
                        let d =
                            paired_curve_statistic_difference(&hits(&ra), &hits(&rb), stat, &cfg)?;
                        lines.push(mk("auc", a, b, d, None));
                    }
                    let clean = |r: &[TextPerturbationLine]| -> Vec<f64> {
                        r.iter()
                            .map(|x| f64::from(u8::from(x.clean_pred == x.record.label)))
                            .collect()
                    };
                    let pc = paired_difference_ci(&clean(&ra), &clean(&rb), &cfg)?;
                    lines.push(mk(
                        "clean_accuracy",
                        mean(&clean(&ra)),
                        mean(&clean(&rb)),
                        pc.difference,
                        Some(pc.p_value),
                    ));
                }
                (Protocol::EraserRationales { ks, .. }, Protocol::EraserRationales { .. }) => {
                    let (ra, rb) = intersect(
                        text_records::<EraserLine>(&pa, run_a, ea, xa)?,
                        text_records::<EraserLine>(&pb, run_b, eb, xb)?,
                        |r: &EraserLine| r.sample_id.as_str(),
                    );
                    if ra.is_empty() {
                        notes.push(format!("{} × {}: no common samples", ea.name, xa.label));
                        continue;
                    }
                    for &k in ks {
                        let fa = doc_token_f1(&ra, k)?;
                        let fb = doc_token_f1(&rb, k)?;
                        let pc = paired_difference_ci(&fa, &fb, &cfg)?;
                        lines.push(mk(
                            &crate::text_summary::k_metric("token_f1", k, ks),
                            mean(&fa),
                            mean(&fb),
                            pc.difference,
                            Some(pc.p_value),
                        ));
                    }
                }
                _ => unreachable!("protocols checked above"),
            }
        }
    }
    if lines.is_empty() {
        bail!(
            "{} and {} share no (evaluator, explainer) pair with common samples{}",
            run_a.display(),
            run_b.display(),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        );
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# compare\n\nA: {} (plan {})\nB: {} (plan {})\n\nA − B with {:.0}% paired bootstrap CIs ({} resamples, seed {}) over the samples both runs hold; \
         p = two-sided sign-flip permutation test where available.\n",
        run_a.display(),
        &pa.config_hash[..12.min(pa.config_hash.len())],
        run_b.display(),
        &pb.config_hash[..12.min(pb.config_hash.len())],
        cfg.confidence * 100.0,
        cfg.resamples,
        cfg.seed
    );
    let mut current = String::new();
    for l in &lines {
        if l.evaluator != current {
            current = l.evaluator.clone();
            let _ = writeln!(
                out,
                "\n### {current}\n\n| explainer | metric | A | B | A − B | CI | p | n |\n|---|---|---|---|---|---|---|---|"
            );
        }
        let _ = writeln!(
            out,
            "| {} | {} | {:.4} | {:.4} | {:+.4} | [{:+.4}, {:+.4}] | {} | {} |",
            l.explainer.replace('|', "\\|"),
            l.metric,
            l.a,
            l.b,
            l.diff.estimate,
            l.diff.lower,
            l.diff.upper,
            l.p.map(|p| format!("{p:.4}")).unwrap_or_else(|| "–".into()),
            l.diff.n
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    Ok(out)
}
