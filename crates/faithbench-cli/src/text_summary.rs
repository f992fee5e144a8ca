//! Summaries of the text evaluators, pure functions of their records (see [`crate::summary`]).
//!
//! `eraser_rationales` (one row per metric; `@KK` = the k of the top-k rationale, zero-padded so
//! that columns sort by k):
//! * `token_f1@KK` — ERASER `token_prf` `instance_macro.f1`, the paper's token-F1 (spec §4.4);
//!   `token_precision@KK`, `token_recall@KK` (macro), `token_micro_f1@KK`;
//! * `rationale_f1@KK` (exact span match, macro F1), `iou_f1@KK` (IoU partial match at the
//!   evaluator's threshold, macro F1 of the mean P and R);
//! * `comprehensiveness@KK`, `sufficiency@KK` — `mean[p(ŷ|x) − p(ŷ|x∖r_k)]`,
//!   `mean[p(ŷ|x) − p(ŷ|r_k)]`, ŷ the prediction on the full input;
//! * `auprc`, `average_precision`, `roc_auc` — soft word scores against the evidence mask (per
//!   document, averaged; AP and ROC-AUC skip documents whose truth has a single class);
//! * `comprehensiveness_aopc`, `sufficiency_aopc` — over the AOPC bins; `clean_accuracy`.
//!
//! Values come from `faithbench_eval::eraser_metrics` (ERASER `metrics.py` semantics); CIs are
//! percentile bootstraps over documents (per-document values, or per-document counts for the
//! micro and IoU scores).
//!
//! `text_perturbation`: `auc` (under the evaluator's rule; `trapezoid_normalised` is reported as a
//! fraction, the mean accuracy over the fraction range), `clean_accuracy`, `accuracy@<p>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use faithbench_eval::eraser_metrics::{
    auprc, average_precision, f1, iou_scores, rationale_prf, roc_auc, score_faithfulness,
    token_prf, FaithfulnessInstance, PredictedClassRule, Rationale, ThresholdedProbabilities,
};
use faithbench_eval::rationales::{
    rationales_for_ks, soft_predictions, top_k_words, write_results_jsonl, EraserResult,
    RationaleConfig, RationalePrediction, SpanListing, ThresholdedScores,
};
use faithbench_eval::stats::bootstrap_curve_statistic;
use faithbench_eval::text_perturbation::TextAucRule;
use faithbench_eval::{bootstrap_mean_ci, trapezoid, BootstrapConfig, ConfidenceInterval};
use faithbench_report::plot::Curve;
use faithbench_report::table::SummaryRow;

use crate::records::{EraserLine, TextPerturbationLine};
use crate::util::{file_stem, write_atomic};

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

/// Metric name of a per-k metric: `prefix@KK` with k zero-padded to the width of the largest k
/// (at least 2), so that metric names sort by k.
pub fn k_metric(prefix: &str, k: usize, ks: &[usize]) -> String {
    let width = ks
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .to_string()
        .len()
        .max(2);
    format!("{prefix}@{k:0width$}")
}

/// A removal fraction for metric names: rounded to 6 decimals, trailing zeros dropped, at least
/// one decimal (`0.5800000000000001` → `0.58`, `1` → `1.0`).
pub fn fraction_name(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn truth_of(r: &EraserLine) -> Vec<Rationale> {
    r.evidence
        .iter()
        .map(|&(s, e)| Rationale {
            ann_id: r.sample_id.clone(),
            docid: r.docid.clone(),
            start_token: s,
            end_token: e,
        })
        .collect()
}

fn pred_of(r: &EraserLine, k: usize) -> Result<Vec<Rationale>> {
    Ok(top_k_words(&r.word_scores, k)?
        .into_iter()
        .map(|i| Rationale {
            ann_id: r.sample_id.clone(),
            docid: r.docid.clone(),
            start_token: i,
            end_token: i + 1,
        })
        .collect())
}

fn prf(inter: usize, pred: usize, truth: usize) -> (f64, f64, f64) {
    let p = if pred > 0 {
        inter as f64 / pred as f64
    } else {
        0.0
    };
    let r = if truth > 0 {
        inter as f64 / truth as f64
    } else {
        0.0
    };
    (p, r, f1(p, r))
}

/// Summary rows of one `eraser_rationales` pair, and its token-F1-vs-k curve.
#[allow(clippy::too_many_arguments)]
pub fn eraser_rows(
    e: &str,
    x: &str,
    recs: &[EraserLine],
    ks: &[usize],
    iou_threshold: f64,
    thresholds: &[f64],
    cfg: &BootstrapConfig,
) -> Result<(Vec<SummaryRow>, Option<Curve>)> {
    let mut rows = Vec::new();
    let truth: Vec<Vec<Rationale>> = recs.iter().map(truth_of).collect();
    let truth_all: Vec<Rationale> = truth.iter().flatten().cloned().collect();
    let truth_tokens: Vec<BTreeSet<usize>> = recs
        .iter()
        .map(|r| r.evidence.iter().flat_map(|&(s, e)| s..e).collect())
        .collect();
    let truth_spans: Vec<BTreeSet<(usize, usize)>> = recs
        .iter()
        .map(|r| r.evidence.iter().copied().collect())
        .collect();
    let mut curve_k = Vec::new();
    let mut curve_f1 = Vec::new();
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    for (j, &k) in ks.iter().enumerate() {
        let preds: Vec<Vec<Rationale>> =
            recs.iter().map(|r| pred_of(r, k)).collect::<Result<_>>()?;
        let pred_all: Vec<Rationale> = preds.iter().flatten().cloned().collect();
        // per-document values for the CIs
        let (mut f1s, mut ps, mut rs, mut counts, mut rat_f1s, mut iou_pr) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (i, p) in preds.iter().enumerate() {
            let pt: BTreeSet<usize> = p.iter().map(|r| r.start_token).collect();
            let inter = pt.intersection(&truth_tokens[i]).count();
            if !pt.is_empty() || !truth_tokens[i].is_empty() {
                let (pp, rr, ff) = prf(inter, pt.len(), truth_tokens[i].len());
                ps.push(pp);
                rs.push(rr);
                f1s.push(ff);
            }
            counts.push(vec![
                inter as f64,
                pt.len() as f64,
                truth_tokens[i].len() as f64,
            ]);
            let pspans: BTreeSet<(usize, usize)> =
                p.iter().map(|r| (r.start_token, r.end_token)).collect();
            if !pspans.is_empty() || !truth_spans[i].is_empty() {
                let m = pspans.intersection(&truth_spans[i]).count();
                rat_f1s.push(prf(m, pspans.len(), truth_spans[i].len()).2);
            }
            if let Some(s) = iou_scores(&truth[i], p, &[iou_threshold]).first() {
                iou_pr.push(vec![s.macro_.p, s.macro_.r]);
            }
        }
        if let Ok(t) = token_prf(&truth_all, &pred_all) {
            let ci = bootstrap_mean_ci(&f1s, cfg)?;
            rows.push(row(
                e,
                x,
                &k_metric("token_f1", k, ks),
                t.instance_macro.f1,
                &ci,
            ));
            curve_k.push(k as f64);
            curve_f1.push(t.instance_macro.f1);
            lo.push(ci.lower);
            hi.push(ci.upper);
            rows.push(row(
                e,
                x,
                &k_metric("token_precision", k, ks),
                t.instance_macro.p,
                &bootstrap_mean_ci(&ps, cfg)?,
            ));
            rows.push(row(
                e,
                x,
                &k_metric("token_recall", k, ks),
                t.instance_macro.r,
                &bootstrap_mean_ci(&rs, cfg)?,
            ));
            let micro = |c: &[f64]| -> Result<f64, String> { Ok(prf_f(c[0], c[1], c[2])) };
            rows.push(row(
                e,
                x,
                &k_metric("token_micro_f1", k, ks),
                t.instance_micro.f1,
                &bootstrap_curve_statistic(&counts, micro, cfg)?,
            ));
        }
        if let Ok(t) = rationale_prf(&truth_all, &pred_all) {
            if !rat_f1s.is_empty() {
                rows.push(row(
                    e,
                    x,
                    &k_metric("rationale_f1", k, ks),
                    t.instance_macro.f1,
                    &bootstrap_mean_ci(&rat_f1s, cfg)?,
                ));
            }
        }
        if let Some(s) = iou_scores(&truth_all, &pred_all, &[iou_threshold]).first() {
            if !iou_pr.is_empty() && !truth_all.is_empty() {
                let stat = |c: &[f64]| -> Result<f64, String> { Ok(f1(c[0], c[1])) };
                rows.push(row(
                    e,
                    x,
                    &k_metric("iou_f1", k, ks),
                    s.macro_.f1,
                    &bootstrap_curve_statistic(&iou_pr, stat, cfg)?,
                ));
            }
        }
        // faithfulness of the top-k rationale
        let inst: Vec<FaithfulnessInstance> = recs
            .iter()
            .map(|r| FaithfulnessInstance {
                full: r.probs.clone(),
                comprehensiveness: r.comprehensiveness.get(j).cloned(),
                sufficiency: r.sufficiency.get(j).cloned(),
                thresholded: Vec::new(),
                recorded_class: None,
            })
            .collect();
        let f = score_faithfulness(&inst, PredictedClassRule::ArgmaxFull, &[])?;
        let delta = |which: &dyn Fn(&EraserLine) -> Option<&Vec<f64>>| -> Vec<f64> {
            recs.iter()
                .filter_map(|r| {
                    let y = argmax(&r.probs);
                    which(r).map(|q| r.probs[y] - q[y])
                })
                .collect()
        };
        if let Some(v) = f.comprehensiveness {
            let d = delta(&|r| r.comprehensiveness.get(j));
            rows.push(row(
                e,
                x,
                &k_metric("comprehensiveness", k, ks),
                v,
                &bootstrap_mean_ci(&d, cfg)?,
            ));
        }
        if let Some(v) = f.sufficiency {
            let d = delta(&|r| r.sufficiency.get(j));
            rows.push(row(
                e,
                x,
                &k_metric("sufficiency", k, ks),
                v,
                &bootstrap_mean_ci(&d, cfg)?,
            ));
        }
    }

    // soft scores
    let (mut auprcs, mut aps, mut rocs) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in recs.iter().enumerate() {
        let mask: Vec<bool> = (0..r.num_words)
            .map(|t| truth_tokens[i].contains(&t))
            .collect();
        if mask.is_empty() {
            continue;
        }
        let scores = soft_predictions(&r.word_scores, r.num_words);
        auprcs.push(auprc(&mask, &scores)?);
        let pos = mask.iter().filter(|&&m| m).count();
        if pos > 0 && pos < mask.len() {
            aps.push(average_precision(&mask, &scores)?);
            rocs.push(roc_auc(&mask, &scores)?);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (name, v) in [
        ("auprc", &auprcs),
        ("average_precision", &aps),
        ("roc_auc", &rocs),
    ] {
        if !v.is_empty() {
            rows.push(row(e, x, name, mean(v), &bootstrap_mean_ci(v, cfg)?));
        }
    }

    // AOPC
    if !thresholds.is_empty() {
        let inst: Vec<FaithfulnessInstance> = recs
            .iter()
            .map(|r| FaithfulnessInstance {
                full: r.probs.clone(),
                comprehensiveness: None,
                sufficiency: None,
                thresholded: r
                    .thresholds
                    .iter()
                    .enumerate()
                    .map(|(j, &t)| ThresholdedProbabilities {
                        threshold: t,
                        comprehensiveness: r.thresholded_comprehensiveness[j].clone(),
                        sufficiency: r.thresholded_sufficiency[j].clone(),
                    })
                    .collect(),
                recorded_class: None,
            })
            .collect();
        let f = score_faithfulness(&inst, PredictedClassRule::ArgmaxFull, thresholds)?;
        let per_doc = |which: &dyn Fn(&EraserLine, usize) -> f64| -> Vec<f64> {
            recs.iter()
                .map(|r| {
                    let y = argmax(&r.probs);
                    let n = r.thresholds.len().max(1) as f64;
                    (0..r.thresholds.len())
                        .map(|j| r.probs[y] - which(r, j))
                        .sum::<f64>()
                        / n
                })
                .collect()
        };
        if let Some(v) = f.comprehensiveness_aopc {
            let d = per_doc(&|r, j| r.thresholded_comprehensiveness[j][argmax(&r.probs)]);
            rows.push(row(
                e,
                x,
                "comprehensiveness_aopc",
                v,
                &bootstrap_mean_ci(&d, cfg)?,
            ));
        }
        if let Some(v) = f.sufficiency_aopc {
            let d = per_doc(&|r, j| r.thresholded_sufficiency[j][argmax(&r.probs)]);
            rows.push(row(
                e,
                x,
                "sufficiency_aopc",
                v,
                &bootstrap_mean_ci(&d, cfg)?,
            ));
        }
    }
    let hits: Vec<f64> = recs
        .iter()
        .map(|r| f64::from(u8::from(r.predicted == r.label)))
        .collect();
    rows.push(row(
        e,
        x,
        "clean_accuracy",
        mean(&hits),
        &bootstrap_mean_ci(&hits, cfg)?,
    ));
    let curve = (!curve_k.is_empty()).then(|| Curve {
        label: x.to_string(),
        xs: curve_k,
        ys: curve_f1,
        band: Some((lo, hi)),
    });
    Ok((rows, curve))
}

fn prf_f(inter: f64, pred: f64, truth: f64) -> f64 {
    let p = if pred > 0.0 { inter / pred } else { 0.0 };
    let r = if truth > 0.0 { inter / truth } else { 0.0 };
    f1(p, r)
}

fn class_map(classes: &[String], probs: &[f64]) -> BTreeMap<String, f64> {
    classes
        .iter()
        .zip(probs)
        .map(|(c, &p)| (c.clone(), p))
        .collect()
}

/// The ERASER results lines of one pair, one list per k (in `ks` order).
pub fn eraser_results(
    recs: &[EraserLine],
    ks: &[usize],
    listing: SpanListing,
    classes: &[String],
) -> Result<Vec<Vec<EraserResult>>> {
    let mut per_k: Vec<Vec<EraserResult>> = vec![Vec::new(); ks.len()];
    let config = RationaleConfig {
        ks: ks.to_vec(),
        listing,
    };
    for r in recs {
        let spans = rationales_for_ks(&r.word_scores, &config)?;
        let soft = soft_predictions(&r.word_scores, r.num_words);
        let thresholded: Vec<ThresholdedScores> = r
            .thresholds
            .iter()
            .enumerate()
            .map(|(j, &t)| ThresholdedScores {
                threshold: t,
                comprehensiveness_classification_scores: class_map(
                    classes,
                    &r.thresholded_comprehensiveness[j],
                ),
                sufficiency_classification_scores: class_map(
                    classes,
                    &r.thresholded_sufficiency[j],
                ),
            })
            .collect();
        for (j, (_, hard)) in spans.into_iter().enumerate() {
            per_k[j].push(EraserResult {
                annotation_id: r.sample_id.clone(),
                rationales: vec![RationalePrediction {
                    docid: r.docid.clone(),
                    hard_rationale_predictions: hard,
                    soft_rationale_predictions: Some(soft.clone()),
                    soft_sentence_predictions: None,
                }],
                classification: classes.get(r.predicted).cloned(),
                classification_scores: Some(class_map(classes, &r.probs)),
                comprehensiveness_classification_scores: r
                    .comprehensiveness
                    .get(j)
                    .map(|p| class_map(classes, p)),
                sufficiency_classification_scores: r
                    .sufficiency
                    .get(j)
                    .map(|p| class_map(classes, p)),
                thresholded_scores: (!thresholded.is_empty()).then(|| thresholded.clone()),
                tokens_to_flip: None,
            });
        }
    }
    Ok(per_k)
}

/// Folder of the ERASER results files of one pair.
pub fn eraser_results_dir(run_dir: &Path, evaluator_stem: &str, explainer_label: &str) -> PathBuf {
    run_dir
        .join("eraser")
        .join(evaluator_stem)
        .join(file_stem(explainer_label))
}

/// Writes `identifier_results_<k>.jsonl` for every k of one pair (atomically).
pub fn write_eraser_results(
    dir: &Path,
    recs: &[EraserLine],
    ks: &[usize],
    listing: SpanListing,
    classes: &[String],
) -> Result<()> {
    let per_k = eraser_results(recs, ks, listing, classes)?;
    for (&k, results) in ks.iter().zip(&per_k) {
        let mut buf = Vec::new();
        write_results_jsonl(&mut buf, results)?;
        let p = dir.join(format!("identifier_results_{k}.jsonl"));
        write_atomic(&p, &buf).with_context(|| format!("{}: ERASER results", p.display()))?;
    }
    Ok(())
}

/// Summary rows of one `text_perturbation` pair, and its accuracy curve with CI band.
pub fn text_perturbation_rows(
    e: &str,
    x: &str,
    recs: &[TextPerturbationLine],
    rule: TextAucRule,
    cfg: &BootstrapConfig,
) -> Result<(Vec<SummaryRow>, Curve)> {
    let records: Vec<_> = recs.iter().map(|r| r.record.clone()).collect();
    let curve = faithbench_eval::text_perturbation::accuracy_curve(&records)?;
    let fr = curve.fractions.clone();
    let hits: Vec<Vec<f64>> = recs
        .iter()
        .map(|r| {
            r.record
                .hits
                .iter()
                .map(|&h| f64::from(u8::from(h)))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    let area = |acc_frac: &[f64]| -> Result<f64, String> {
        let pct: Vec<f64> = acc_frac.iter().map(|a| a * 100.0).collect();
        let a = trapezoid(&fr, &pct).map_err(|e| e.to_string())?;
        match rule {
            TextAucRule::Trapezoid => Ok(a),
            TextAucRule::TrapezoidNormalised => {
                let w = fr[fr.len() - 1] - fr[0];
                if w == 0.0 {
                    Err("the fractions span zero width".into())
                } else {
                    Ok(a / w / 100.0)
                }
            }
        }
    };
    if let Ok(ci) = bootstrap_curve_statistic(&hits, area, cfg) {
        rows.push(row(e, x, "auc", ci.estimate, &ci));
    }
    let clean: Vec<f64> = recs
        .iter()
        .map(|r| f64::from(u8::from(r.clean_pred == r.record.label)))
        .collect();
    let clean_ci = bootstrap_mean_ci(&clean, cfg)?;
    rows.push(row(e, x, "clean_accuracy", clean_ci.estimate, &clean_ci));
    let (mut lo, mut hi, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &p) in fr.iter().enumerate() {
        let col: Vec<f64> = hits.iter().map(|h| h[i]).collect();
        let ci = bootstrap_mean_ci(&col, cfg)?;
        let acc = curve.accuracy_percent[i] / 100.0;
        rows.push(row(
            e,
            x,
            &format!("accuracy@{}", fraction_name(p)),
            acc,
            &ci,
        ));
        ys.push(acc);
        lo.push(ci.lower);
        hi.push(ci.upper);
    }
    Ok((
        rows,
        Curve {
            label: x.to_string(),
            xs: fr,
            ys,
            band: Some((lo, hi)),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, scores: &[f32], evidence: &[(usize, usize)], probs: [f64; 2]) -> EraserLine {
        EraserLine {
            sample_id: id.into(),
            docid: id.into(),
            label: 1,
            explained_class: 1,
            predicted: usize::from(probs[1] > probs[0]),
            probs: probs.to_vec(),
            num_words: scores.len() + 1,
            covered_words: scores.len(),
            word_scores: scores.to_vec(),
            evidence: evidence.to_vec(),
            ks: vec![1, 2],
            comprehensiveness: vec![vec![0.6, 0.4], vec![0.9, 0.1]],
            sufficiency: vec![vec![0.3, 0.7], vec![0.2, 0.8]],
            thresholds: vec![0.5],
            thresholded_comprehensiveness: vec![vec![0.5, 0.5]],
            thresholded_sufficiency: vec![vec![0.1, 0.9]],
            alignment_mismatch: None,
        }
    }

    fn get(rows: &[SummaryRow], m: &str) -> f64 {
        rows.iter()
            .find(|r| r.metric == m)
            .map(|r| r.value)
            .unwrap()
    }

    #[test]
    fn names_sort_by_k_and_fraction() {
        assert_eq!(k_metric("token_f1", 5, &[5, 80]), "token_f1@05");
        assert_eq!(k_metric("token_f1", 5, &[5, 100]), "token_f1@005");
        assert_eq!(fraction_name(0.5800000000000001), "0.58");
        assert_eq!(fraction_name(0.0), "0.0");
        assert_eq!(fraction_name(1.0), "1.0");
        assert_eq!(fraction_name(0.30000000000000004), "0.3");
    }

    #[test]
    fn eraser_rows_hand_computed() {
        // doc a: words 0..4 scores [.1 .9 .5 .2], evidence [1, 3) (tokens 1, 2)
        //   k=1: top {1}   -> P 1, R 1/2, F1 2/3
        //   k=2: top {1,2} -> P 1, R 1,   F1 1
        // doc b: scores [.8 .1 .1], evidence [2, 3) (token 2)
        //   k=1: top {0}   -> P 0, R 0, F1 0
        //   k=2: top {0,1} (tie .1: lower index first) -> 0
        let recs = vec![
            line("a", &[0.1, 0.9, 0.5, 0.2], &[(1, 3)], [0.2, 0.8]),
            line("b", &[0.8, 0.1, 0.1], &[(2, 3)], [0.3, 0.7]),
        ];
        let cfg = BootstrapConfig {
            resamples: 50,
            ..Default::default()
        };
        let (rows, curve) = eraser_rows("ev", "x", &recs, &[1, 2], 0.5, &[0.5], &cfg).unwrap();
        assert!((get(&rows, "token_f1@01") - (2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((get(&rows, "token_f1@02") - 0.5).abs() < 1e-12);
        assert!((get(&rows, "token_precision@01") - 0.5).abs() < 1e-12);
        assert!((get(&rows, "token_recall@01") - 0.25).abs() < 1e-12);
        // micro at k=1: inter 1, pred 2, truth 3 -> P .5 R 1/3 F1 .4
        assert!((get(&rows, "token_micro_f1@01") - 0.4).abs() < 1e-12);
        // comprehensiveness@01: ŷ = POS for both: (.8 - .4 + .7 - .4) / 2 = .35
        assert!((get(&rows, "comprehensiveness@01") - 0.35).abs() < 1e-12);
        // sufficiency@02: (.8 - .8 + .7 - .8) / 2 = -.05
        assert!((get(&rows, "sufficiency@02") + 0.05).abs() < 1e-12);
        // aopc with one bin: comp (.8-.5 + .7-.5)/2 = .25 ; suff (.8-.9 + .7-.9)/2 = -.15
        assert!((get(&rows, "comprehensiveness_aopc") - 0.25).abs() < 1e-12);
        assert!((get(&rows, "sufficiency_aopc") + 0.15).abs() < 1e-12);
        assert_eq!(get(&rows, "clean_accuracy"), 1.0);
        let c = curve.unwrap();
        assert_eq!(c.xs, vec![1.0, 2.0]);
        // results files: one line per doc per k, soft scores padded to the document length
        let per_k = eraser_results(
            &recs,
            &[1, 2],
            SpanListing::Fresh,
            &["NEG".into(), "POS".into()],
        )
        .unwrap();
        assert_eq!(per_k.len(), 2);
        let r = &per_k[1][0];
        assert_eq!(r.rationales[0].hard_rationale_predictions.len(), 2);
        assert_eq!(
            r.rationales[0]
                .soft_rationale_predictions
                .as_ref()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(r.classification.as_deref(), Some("POS"));
        assert_eq!(
            r.comprehensiveness_classification_scores.as_ref().unwrap()["POS"],
            0.1
        );
    }
}
