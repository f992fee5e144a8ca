//! ERASER's rationale metrics (protocols §4.7; DeYoung et al. 2020, `rationale_benchmark/metrics.py`),
//! written from the definitions in `docs/protocols.md` §4.7.
//!
//! * Hard predictions: [`token_prf`] (the paper's token-F1 is `instance_macro.f1`),
//!   [`rationale_prf`] (exact span match), [`iou_scores`] (partial match at IoU thresholds).
//!   Spans are keyed by `(annotation_id, docid)` and handled as **sets**, so duplicate predicted
//!   spans (pitfall P11) count once.
//! * Soft predictions: [`score_soft_tokens`] — per document AUPRC (trapezoid area under
//!   [`precision_recall_curve`]), average precision and ROC-AUC, averaged over documents; documents
//!   whose truth has a single class are skipped for AP and ROC-AUC (not for AUPRC).
//! * Faithfulness: [`score_faithfulness`] — comprehensiveness, sufficiency, their entropy and KL
//!   deltas, and AOPC versions over thresholds ([`DEFAULT_AOPC_THRESHOLDS`]).
//!
//! Degenerate inputs where the Python code divides by zero (no predictions at all, no truth at all)
//! are errors here instead of Python exceptions/NaNs.

use std::collections::{BTreeMap, BTreeSet};

use faithbench_data::eraser::Annotation;
use serde::{Deserialize, Serialize};

use crate::auc::{trapezoid, AucError};
use crate::rationales::EraserResult;

/// The IoU threshold ERASER uses by default for the partial-match F1.
pub const DEFAULT_IOU_THRESHOLD: f64 = 0.5;

/// ERASER's default AOPC bins (fractions of tokens removed / kept).
pub const DEFAULT_AOPC_THRESHOLDS: [f64; 5] = [0.01, 0.05, 0.1, 0.2, 0.5];

/// Errors of the ERASER metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EraserMetricError {
    /// There is nothing to score (e.g. no predicted spans at all for the micro precision, which
    /// Python answers with `ZeroDivisionError`).
    #[error("nothing to score: {0}")]
    Empty(String),
    /// An evidence span has a negative or reversed position.
    #[error("annotation {annotation_id}: invalid evidence span [{start}, {end}) in {docid}")]
    BadSpan {
        /// Annotation id.
        annotation_id: String,
        /// Document id.
        docid: String,
        /// Start.
        start: i64,
        /// End.
        end: i64,
    },
    /// Vectors that must be parallel have different lengths.
    #[error("{what}: {a} vs {b}")]
    LengthMismatch {
        /// What disagrees.
        what: String,
        /// First length.
        a: usize,
        /// Second length.
        b: usize,
    },
    /// A score or probability is NaN or infinite.
    #[error("{what}: non-finite value {value}")]
    NonFinite {
        /// Where.
        what: String,
        /// The value.
        value: f64,
    },
    /// ROC-AUC needs both classes in the truth (scikit-learn raises too).
    #[error("ROC-AUC is undefined when the truth has a single class")]
    SingleClass,
    /// Faithfulness inputs are inconsistent (missing fields, unknown class, missing threshold).
    #[error("faithfulness input: {0}")]
    Faithfulness(String),
    /// A document is unknown or a soft prediction has the wrong length.
    #[error("soft predictions: {0}")]
    Soft(String),
    /// Area computation failed.
    #[error(transparent)]
    Auc(#[from] AucError),
}

/// A rationale span of one `(annotation, document)` (ERASER `Rationale`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rationale {
    /// Annotation id.
    pub ann_id: String,
    /// Document id.
    pub docid: String,
    /// First token (inclusive).
    pub start_token: usize,
    /// Last token (exclusive).
    pub end_token: usize,
}

impl Rationale {
    /// The span split into one-token rationales `[t, t+1)`.
    pub fn to_token_level(&self) -> Vec<Rationale> {
        (self.start_token..self.end_token)
            .map(|t| Rationale {
                ann_id: self.ann_id.clone(),
                docid: self.docid.clone(),
                start_token: t,
                end_token: t + 1,
            })
            .collect()
    }

    fn key(&self) -> (String, String) {
        (self.ann_id.clone(), self.docid.clone())
    }
}

/// Ground-truth rationales: every evidence of every group of every annotation
/// (`Rationale.from_annotation`).
pub fn truth_rationales(annotations: &[Annotation]) -> Result<Vec<Rationale>, EraserMetricError> {
    let mut out = Vec::new();
    for ann in annotations {
        for ev in ann.all_evidences() {
            if ev.start_token < 0 || ev.end_token < ev.start_token {
                return Err(EraserMetricError::BadSpan {
                    annotation_id: ann.annotation_id.clone(),
                    docid: ev.docid.clone(),
                    start: ev.start_token,
                    end: ev.end_token,
                });
            }
            out.push(Rationale {
                ann_id: ann.annotation_id.clone(),
                docid: ev.docid.clone(),
                start_token: ev.start_token as usize,
                end_token: ev.end_token as usize,
            });
        }
    }
    Ok(out)
}

/// Predicted rationales: every hard span of every document of every result line
/// (`Rationale.from_instance`).
pub fn predicted_rationales(results: &[EraserResult]) -> Vec<Rationale> {
    let mut out = Vec::new();
    for r in results {
        for rat in &r.rationales {
            for s in &rat.hard_rationale_predictions {
                out.push(Rationale {
                    ann_id: r.annotation_id.clone(),
                    docid: rat.docid.clone(),
                    start_token: s.start_token,
                    end_token: s.end_token,
                });
            }
        }
    }
    out
}

/// Precision, recall, F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Precision.
    pub p: f64,
    /// Recall.
    pub r: f64,
    /// F1.
    pub f1: f64,
}

/// ERASER's `_f1`: `2PR/(P+R)`, and 0 when `P` or `R` is 0.
pub fn f1(p: f64, r: f64) -> f64 {
    if p == 0.0 || r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Micro and macro scores of hard predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HardScores {
    /// P and R over the union of all `(annotation, doc, span)` items; F1 of those.
    pub instance_micro: Prf,
    /// Mean per-instance P, mean per-instance R, **mean per-instance F1** (not the F1 of the
    /// means). Instances = union of the `(annotation_id, docid)` keys of truth and prediction.
    pub instance_macro: Prf,
    /// Number of instances of the macro average.
    pub instances: usize,
}

type Keyed = BTreeMap<(String, String), BTreeSet<Rationale>>;

fn keyed(rats: &[Rationale]) -> Keyed {
    let mut m: Keyed = BTreeMap::new();
    for r in rats {
        m.entry(r.key()).or_default().insert(r.clone());
    }
    m
}

/// ERASER `score_hard_rationale_predictions` on the given items (exact matches of whole items).
///
/// # Errors
/// [`EraserMetricError::Empty`] when there are no predictions or no truth items (Python divides
/// by zero there).
pub fn score_hard_rationale_predictions(
    truth: &[Rationale],
    pred: &[Rationale],
) -> Result<HardScores, EraserMetricError> {
    let t: BTreeSet<&Rationale> = truth.iter().collect();
    let p: BTreeSet<&Rationale> = pred.iter().collect();
    if p.is_empty() {
        return Err(EraserMetricError::Empty("no predicted rationales".into()));
    }
    if t.is_empty() {
        return Err(EraserMetricError::Empty(
            "no ground-truth rationales".into(),
        ));
    }
    let inter = t.intersection(&p).count() as f64;
    let micro_p = inter / p.len() as f64;
    let micro_r = inter / t.len() as f64;
    let instance_micro = Prf {
        p: micro_p,
        r: micro_r,
        f1: f1(micro_p, micro_r),
    };
    let tk = keyed(truth);
    let pk = keyed(pred);
    let keys: BTreeSet<&(String, String)> = tk.keys().chain(pk.keys()).collect();
    let empty = BTreeSet::new();
    let (mut sp, mut sr, mut sf) = (0.0, 0.0, 0.0);
    for k in &keys {
        let tt = tk.get(*k).unwrap_or(&empty);
        let pp = pk.get(*k).unwrap_or(&empty);
        let both = tt.intersection(pp).count() as f64;
        let ip = if pp.is_empty() {
            0.0
        } else {
            both / pp.len() as f64
        };
        let ir = if tt.is_empty() {
            0.0
        } else {
            both / tt.len() as f64
        };
        sp += ip;
        sr += ir;
        sf += f1(ip, ir);
    }
    let n = keys.len() as f64;
    Ok(HardScores {
        instance_micro,
        instance_macro: Prf {
            p: sp / n,
            r: sr / n,
            f1: sf / n,
        },
        instances: keys.len(),
    })
}

/// Token-level P/R/F1 (`token_prf`): both sides expanded to one-token spans, then
/// [`score_hard_rationale_predictions`]. The paper's token-F1 is `instance_macro.f1`.
pub fn token_prf(truth: &[Rationale], pred: &[Rationale]) -> Result<HardScores, EraserMetricError> {
    let t: Vec<Rationale> = truth.iter().flat_map(Rationale::to_token_level).collect();
    let p: Vec<Rationale> = pred.iter().flat_map(Rationale::to_token_level).collect();
    score_hard_rationale_predictions(&t, &p)
}

/// Rationale-level P/R/F1 (`rationale_prf`): whole spans must match exactly.
pub fn rationale_prf(
    truth: &[Rationale],
    pred: &[Rationale],
) -> Result<HardScores, EraserMetricError> {
    score_hard_rationale_predictions(truth, pred)
}

/// Partial-match scores at one IoU threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IouScores {
    /// The IoU threshold (a predicted span is a TP if its best IoU ≥ threshold).
    pub threshold: f64,
    /// `P = ΣTP/Σ#pred`, `R = ΣTP/Σ#truth`, F1 of those.
    pub micro: Prf,
    /// `P̄ = mean over prediction keys of TP_k/#pred_k`, `R̄ = mean over truth keys of
    /// TP_k/#truth_k`, F1 of (P̄, R̄).
    #[serde(rename = "macro")]
    pub macro_: Prf,
}

fn span_iou(a: &Rationale, b: &Rationale) -> f64 {
    let inter = a
        .end_token
        .min(b.end_token)
        .saturating_sub(a.start_token.max(b.start_token));
    let la = a.end_token - a.start_token;
    let lb = b.end_token - b.start_token;
    let union = la + lb - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// ERASER `partial_match_score`: for each distinct predicted span, its best token-set IoU with any
/// truth span of the same `(annotation, doc)` key; per threshold, TPs are the spans with best
/// IoU ≥ threshold. Keys without predictions contribute 0 TPs; a ratio with a zero denominator is 0.
pub fn iou_scores(truth: &[Rationale], pred: &[Rationale], thresholds: &[f64]) -> Vec<IouScores> {
    let tk = keyed(truth);
    let pk = keyed(pred);
    let empty = BTreeSet::new();
    let best: BTreeMap<&(String, String), Vec<f64>> = pk
        .iter()
        .map(|(k, ps)| {
            let ts = tk.get(k).unwrap_or(&empty);
            let ious = ps
                .iter()
                .map(|p| ts.iter().map(|t| span_iou(p, t)).fold(0.0, f64::max))
                .collect();
            (k, ious)
        })
        .collect();
    let n_truth: usize = tk.values().map(BTreeSet::len).sum();
    let n_pred: usize = pk.values().map(BTreeSet::len).sum();
    thresholds
        .iter()
        .map(|&threshold| {
            let tps: BTreeMap<&(String, String), usize> = best
                .iter()
                .map(|(k, v)| (*k, v.iter().filter(|&&x| x >= threshold).count()))
                .collect();
            let total_tp: usize = tps.values().sum();
            let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
            let micro_r = ratio(total_tp, n_truth);
            let micro_p = ratio(total_tp, n_pred);
            let mean = |v: Vec<f64>| {
                if v.is_empty() {
                    0.0
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            let macro_r = mean(
                tk.iter()
                    .map(|(k, ts)| ratio(tps.get(k).copied().unwrap_or(0), ts.len()))
                    .collect(),
            );
            let macro_p = mean(
                pk.iter()
                    .map(|(k, ps)| ratio(tps.get(k).copied().unwrap_or(0), ps.len()))
                    .collect(),
            );
            IouScores {
                threshold,
                micro: Prf {
                    p: micro_p,
                    r: micro_r,
                    f1: f1(micro_p, micro_r),
                },
                macro_: Prf {
                    p: macro_p,
                    r: macro_r,
                    f1: f1(macro_p, macro_r),
                },
            }
        })
        .collect()
}

/// All hard-prediction metrics of one results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardMetrics {
    /// Token-level scores.
    pub token_prf: HardScores,
    /// Rationale-level (exact span) scores.
    pub rationale_prf: HardScores,
    /// IoU partial-match scores, one per threshold.
    pub iou_scores: Vec<IouScores>,
}

/// Scores a results file's hard predictions against **all** given annotations (annotations
/// without predictions count with P = R = F1 = 0 in the macro averages, as in `metrics.py`).
pub fn score_hard(
    annotations: &[Annotation],
    results: &[EraserResult],
    iou_thresholds: &[f64],
) -> Result<HardMetrics, EraserMetricError> {
    let truth = truth_rationales(annotations)?;
    let pred = predicted_rationales(results);
    Ok(HardMetrics {
        token_prf: token_prf(&truth, &pred)?,
        rationale_prf: rationale_prf(&truth, &pred)?,
        iou_scores: iou_scores(&truth, &pred, iou_thresholds),
    })
}

// ------------------------------------------------------------------------------------------------
// Soft predictions

/// A precision–recall curve with scikit-learn's `precision_recall_curve` layout: one point per
/// distinct score (highest threshold **last**), then the point `(recall 0, precision 1)` appended;
/// `thresholds` in increasing order (one fewer than the points).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    /// Precision per point.
    pub precision: Vec<f64>,
    /// Recall per point (non-increasing).
    pub recall: Vec<f64>,
    /// Score thresholds (increasing).
    pub thresholds: Vec<f64>,
}

fn check_binary(y_true: &[bool], y_score: &[f64]) -> Result<(), EraserMetricError> {
    if y_true.len() != y_score.len() {
        return Err(EraserMetricError::LengthMismatch {
            what: "y_true vs y_score".into(),
            a: y_true.len(),
            b: y_score.len(),
        });
    }
    if y_true.is_empty() {
        return Err(EraserMetricError::Empty("no samples".into()));
    }
    if let Some(&value) = y_score.iter().find(|v| !v.is_finite()) {
        return Err(EraserMetricError::NonFinite {
            what: "y_score".into(),
            value,
        });
    }
    Ok(())
}

/// scikit-learn's `_binary_clf_curve`: for each distinct score in decreasing order, the cumulative
/// true and false positives of all samples scoring at least that much. Returns `(tps, fps, thr)`.
fn binary_clf_curve(y_true: &[bool], y_score: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..y_score.len()).collect();
    order.sort_by(|&a, &b| y_score[b].total_cmp(&y_score[a]));
    let (mut tps, mut fps, mut thr) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut seen) = (0u64, 0u64);
    for (pos, &i) in order.iter().enumerate() {
        seen += 1;
        if y_true[i] {
            tp += 1;
        }
        // -0.0 == 0.0 for grouping, like NumPy's diff
        let last = order.get(pos + 1).is_none_or(|&n| y_score[n] != y_score[i]);
        if last {
            tps.push(tp as f64);
            fps.push((seen - tp) as f64);
            thr.push(y_score[i]);
        }
    }
    (tps, fps, thr)
}

/// scikit-learn `precision_recall_curve(y_true, y_score)` (binary, `drop_intermediate=False`).
///
/// With no positive in `y_true`, recall is 1 at every threshold (current scikit-learn; TI's pinned
/// scikit-learn 1.0.2 returned NaN recall there, and also cut the curve at the first point of full
/// recall, which removes only zero-width segments and leaves the area unchanged).
pub fn precision_recall_curve(
    y_true: &[bool],
    y_score: &[f64],
) -> Result<PrCurve, EraserMetricError> {
    check_binary(y_true, y_score)?;
    let (tps, fps, thr) = binary_clf_curve(y_true, y_score);
    let total = *tps.last().expect("non-empty");
    let mut precision: Vec<f64> = tps
        .iter()
        .zip(&fps)
        .map(|(&t, &f)| if t + f != 0.0 { t / (t + f) } else { 0.0 })
        .collect();
    let mut recall: Vec<f64> = tps
        .iter()
        .map(|&t| if total == 0.0 { 1.0 } else { t / total })
        .collect();
    precision.reverse();
    recall.reverse();
    precision.push(1.0);
    recall.push(0.0);
    let mut thresholds = thr;
    thresholds.reverse();
    Ok(PrCurve {
        precision,
        recall,
        thresholds,
    })
}

/// ERASER's per-document AUPRC: `sklearn.metrics.auc(recall, precision)` of
/// [`precision_recall_curve`] (trapezoid rule — not average precision).
pub fn auprc(y_true: &[bool], y_score: &[f64]) -> Result<f64, EraserMetricError> {
    let c = precision_recall_curve(y_true, y_score)?;
    Ok(trapezoid(&c.recall, &c.precision)?)
}

/// scikit-learn `average_precision_score`: `−Σ diff(recall)·precision[:-1]` over
/// [`precision_recall_curve`] (step function, no interpolation). 0 when there is no positive.
pub fn average_precision(y_true: &[bool], y_score: &[f64]) -> Result<f64, EraserMetricError> {
    let c = precision_recall_curve(y_true, y_score)?;
    let mut s = 0.0;
    for i in 0..c.recall.len() - 1 {
        s += (c.recall[i + 1] - c.recall[i]) * c.precision[i];
    }
    Ok(-s)
}

/// scikit-learn `roc_auc_score` (binary): trapezoid area under the ROC curve through `(0, 0)` and
/// one point per distinct score.
///
/// # Errors
/// [`EraserMetricError::SingleClass`] when `y_true` has a single class.
pub fn roc_auc(y_true: &[bool], y_score: &[f64]) -> Result<f64, EraserMetricError> {
    check_binary(y_true, y_score)?;
    let (tps, fps, _) = binary_clf_curve(y_true, y_score);
    let (tp_total, fp_total) = (*tps.last().expect("n>0"), *fps.last().expect("n>0"));
    if tp_total == 0.0 || fp_total == 0.0 {
        return Err(EraserMetricError::SingleClass);
    }
    let mut fpr = vec![0.0];
    let mut tpr = vec![0.0];
    fpr.extend(fps.iter().map(|f| f / fp_total));
    tpr.extend(tps.iter().map(|t| t / tp_total));
    Ok(trapezoid(&fpr, &tpr)?)
}

/// One document's soft scores paired with its truth (ERASER `PositionScoredDocument`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionScoredDocument {
    /// Annotation id.
    pub ann_id: String,
    /// Document id.
    pub docid: String,
    /// One score per document token.
    pub scores: Vec<f64>,
    /// `true` for tokens inside any evidence span of this `(annotation, doc)`.
    pub truths: Vec<bool>,
}

/// Pairs every result document's `soft_rationale_predictions` with its truth mask
/// (`PositionScoredDocument.from_results`, token level). `doc_lengths` gives each document's token
/// count; the soft list must have exactly that length. A document with predictions but no evidence
/// gets an all-`false` truth. Result documents without soft predictions are skipped.
pub fn position_scored_documents(
    results: &[EraserResult],
    annotations: &[Annotation],
    doc_lengths: &BTreeMap<String, usize>,
) -> Result<Vec<PositionScoredDocument>, EraserMetricError> {
    let mut truth: BTreeMap<(String, String), Vec<bool>> = BTreeMap::new();
    for r in truth_rationales(annotations)? {
        let len = *doc_lengths
            .get(&r.docid)
            .ok_or_else(|| EraserMetricError::Soft(format!("unknown document {}", r.docid)))?;
        if r.end_token > len {
            return Err(EraserMetricError::Soft(format!(
                "evidence [{}, {}) outside document {} of {len} tokens",
                r.start_token, r.end_token, r.docid
            )));
        }
        let mask = truth
            .entry((r.ann_id.clone(), r.docid.clone()))
            .or_insert_with(|| vec![false; len]);
        mask[r.start_token..r.end_token].fill(true);
    }
    let mut out = Vec::new();
    for res in results {
        for rat in &res.rationales {
            let Some(scores) = &rat.soft_rationale_predictions else {
                continue;
            };
            let len = *doc_lengths.get(&rat.docid).ok_or_else(|| {
                EraserMetricError::Soft(format!("unknown document {}", rat.docid))
            })?;
            if scores.len() != len {
                return Err(EraserMetricError::Soft(format!(
                    "{} / {}: {} soft scores for a document of {len} tokens",
                    res.annotation_id,
                    rat.docid,
                    scores.len()
                )));
            }
            let truths = truth
                .get(&(res.annotation_id.clone(), rat.docid.clone()))
                .cloned()
                .unwrap_or_else(|| vec![false; len]);
            out.push(PositionScoredDocument {
                ann_id: res.annotation_id.clone(),
                docid: rat.docid.clone(),
                scores: scores.clone(),
                truths,
            });
        }
    }
    Ok(out)
}

/// Averages of the soft metrics over documents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoftScores {
    /// Mean per-document AUPRC (all documents).
    pub auprc: f64,
    /// Mean average precision over documents whose truth has both classes (`None` if none has).
    pub average_precision: Option<f64>,
    /// Mean ROC-AUC over documents whose truth has both classes (`None` if none has).
    pub roc_auc_score: Option<f64>,
    /// Documents scored.
    pub documents: usize,
    /// Documents skipped for AP / ROC-AUC (single-class truth).
    pub single_class_skipped: usize,
}

/// ERASER `score_soft_tokens`. Documents are keyed by `(ann_id, docid)`; a later duplicate key
/// replaces an earlier one (Python dict semantics).
pub fn score_soft_tokens(docs: &[PositionScoredDocument]) -> Result<SoftScores, EraserMetricError> {
    let mut keyed: Vec<((String, String), &PositionScoredDocument)> = Vec::new();
    for d in docs {
        let k = (d.ann_id.clone(), d.docid.clone());
        match keyed.iter_mut().find(|(kk, _)| *kk == k) {
            Some(slot) => slot.1 = d,
            None => keyed.push((k, d)),
        }
    }
    if keyed.is_empty() {
        return Err(EraserMetricError::Empty("no soft predictions".into()));
    }
    let mut auprcs = Vec::new();
    let (mut aps, mut rocs) = (Vec::new(), Vec::new());
    for (_, d) in &keyed {
        auprcs.push(auprc(&d.truths, &d.scores)?);
        let positives = d.truths.iter().filter(|&&t| t).count();
        if positives == 0 || positives == d.truths.len() {
            continue;
        }
        aps.push(average_precision(&d.truths, &d.scores)?);
        rocs.push(roc_auc(&d.truths, &d.scores)?);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(SoftScores {
        auprc: mean(&auprcs),
        average_precision: (!aps.is_empty()).then(|| mean(&aps)),
        roc_auc_score: (!rocs.is_empty()).then(|| mean(&rocs)),
        documents: keyed.len(),
        single_class_skipped: keyed.len() - aps.len(),
    })
}

// ------------------------------------------------------------------------------------------------
// Faithfulness

/// Which class `ŷ` the faithfulness deltas are read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictedClassRule {
    /// `ŷ = argmax` of the full-input probabilities (ties → lowest class index). Equal to ERASER's
    /// rule whenever the results file's `classification` is the model's arg-max.
    ArgmaxFull,
    /// ERASER `metrics.py` literally: the class named by the result's `classification` field
    /// ([`FaithfulnessInstance::recorded_class`] must be set).
    Recorded,
}

/// Probabilities at one AOPC threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdedProbabilities {
    /// The fraction of tokens.
    pub threshold: f64,
    /// Class probabilities with the top fraction removed.
    pub comprehensiveness: Vec<f64>,
    /// Class probabilities with only the top fraction kept.
    pub sufficiency: Vec<f64>,
}

/// One document's class probabilities (all vectors indexed by class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessInstance {
    /// `p(·|x)` on the full input.
    pub full: Vec<f64>,
    /// `p(·|x∖r)` (rationale removed), if measured.
    pub comprehensiveness: Option<Vec<f64>>,
    /// `p(·|r)` (rationale only), if measured.
    pub sufficiency: Option<Vec<f64>>,
    /// Per-threshold probabilities (may be empty).
    pub thresholded: Vec<ThresholdedProbabilities>,
    /// Class index of the result's `classification` field, if any.
    pub recorded_class: Option<usize>,
}

/// Faithfulness scores averaged over documents. A field is `None` when its inputs were not given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessScores {
    /// Number of documents.
    pub instances: usize,
    /// `mean[p(ŷ|x) − p(ŷ|x∖r)]`.
    pub comprehensiveness: Option<f64>,
    /// `mean[p(ŷ|x) − p(ŷ|r)]`.
    pub sufficiency: Option<f64>,
    /// `mean[H(p(·|x)) − H(p(·|x∖r))]` (SciPy `entropy`, natural log, inputs renormalised).
    pub comprehensiveness_entropy: Option<f64>,
    /// `mean[KL(p(·|x∖r) ‖ p(·|x))]` (SciPy `entropy(faith, full)`).
    pub comprehensiveness_kl: Option<f64>,
    /// `mean[H(p(·|x)) − H(p(·|r))]`.
    pub sufficiency_entropy: Option<f64>,
    /// `mean[KL(p(·|r) ‖ p(·|x))]`.
    pub sufficiency_kl: Option<f64>,
    /// Thresholds of the AOPC averages.
    pub aopc_thresholds: Vec<f64>,
    /// Mean over thresholds of [`Self::comprehensiveness_aopc_points`].
    pub comprehensiveness_aopc: Option<f64>,
    /// Per threshold: mean over documents of `p(ŷ|x) − p(ŷ|x∖r_t)`.
    pub comprehensiveness_aopc_points: Vec<f64>,
    /// Mean over thresholds of [`Self::sufficiency_aopc_points`].
    pub sufficiency_aopc: Option<f64>,
    /// Per threshold: mean over documents of `p(ŷ|x) − p(ŷ|r_t)`.
    pub sufficiency_aopc_points: Vec<f64>,
}

/// SciPy `entropy(pk)`: `−Σ p ln p` after normalising `pk` to sum 1 (`0·ln 0 = 0`).
pub fn entropy(pk: &[f64]) -> f64 {
    let s: f64 = pk.iter().sum();
    -pk.iter()
        .map(|&p| {
            let q = p / s;
            if q > 0.0 {
                q * q.ln()
            } else {
                0.0
            }
        })
        .sum::<f64>()
}

/// SciPy `entropy(pk, qk)` = `KL(pk ‖ qk)` after normalising both (`+∞` where `q = 0 < p`).
pub fn kl_divergence(pk: &[f64], qk: &[f64]) -> f64 {
    let sp: f64 = pk.iter().sum();
    let sq: f64 = qk.iter().sum();
    pk.iter()
        .zip(qk)
        .map(|(&p, &q)| {
            let (p, q) = (p / sp, q / sq);
            if p == 0.0 && q >= 0.0 {
                0.0
            } else if p > 0.0 && q > 0.0 {
                p * (p / q).ln()
            } else {
                f64::INFINITY
            }
        })
        .sum()
}

use crate::summary::argmax;

fn check_probs(what: String, v: &[f64], classes: usize) -> Result<(), EraserMetricError> {
    if v.len() != classes {
        return Err(EraserMetricError::LengthMismatch {
            what,
            a: v.len(),
            b: classes,
        });
    }
    if let Some(&value) = v.iter().find(|x| !x.is_finite()) {
        return Err(EraserMetricError::NonFinite { what, value });
    }
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// ERASER's faithfulness scores (`score_classifications`, protocols §4.7).
///
/// Either every instance has a comprehensiveness (resp. sufficiency) vector or none has. AOPC is
/// computed when `aopc_thresholds` is non-empty and every instance has thresholded probabilities;
/// each instance must then hold every requested threshold (matched by exact `f64` equality, as the
/// values are copied from the same list). The AOPC is the plain mean over the given thresholds
/// (the ERASER paper's formula divides by `|B| + 1` with a `k = 0` term; `metrics.py` averages the
/// deltas it is given).
pub fn score_faithfulness(
    instances: &[FaithfulnessInstance],
    rule: PredictedClassRule,
    aopc_thresholds: &[f64],
) -> Result<FaithfulnessScores, EraserMetricError> {
    if instances.is_empty() {
        return Err(EraserMetricError::Empty("no faithfulness instances".into()));
    }
    let classes = instances[0].full.len();
    if classes == 0 {
        return Err(EraserMetricError::Faithfulness("no classes".into()));
    }
    let all_or_none = |has: &dyn Fn(&FaithfulnessInstance) -> bool, name: &str| {
        let n = instances.iter().filter(|i| has(i)).count();
        if n != 0 && n != instances.len() {
            Err(EraserMetricError::Faithfulness(format!(
                "{n} of {} instances have {name} scores",
                instances.len()
            )))
        } else {
            Ok(n != 0)
        }
    };
    let has_comp = all_or_none(&|i| i.comprehensiveness.is_some(), "comprehensiveness")?;
    let has_suff = all_or_none(&|i| i.sufficiency.is_some(), "sufficiency")?;
    let has_thr =
        !aopc_thresholds.is_empty() && all_or_none(&|i| !i.thresholded.is_empty(), "thresholded")?;

    let (mut comp, mut suff) = (Vec::new(), Vec::new());
    let (mut comp_h, mut suff_h, mut comp_kl, mut suff_kl) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut comp_pts = vec![Vec::new(); aopc_thresholds.len()];
    let mut suff_pts = vec![Vec::new(); aopc_thresholds.len()];
    for (n, inst) in instances.iter().enumerate() {
        check_probs(format!("instance {n}: full"), &inst.full, classes)?;
        let y = match rule {
            PredictedClassRule::ArgmaxFull => argmax(&inst.full),
            PredictedClassRule::Recorded => inst.recorded_class.ok_or_else(|| {
                EraserMetricError::Faithfulness(format!("instance {n} has no recorded class"))
            })?,
        };
        if y >= classes {
            return Err(EraserMetricError::Faithfulness(format!(
                "instance {n}: class {y} out of range"
            )));
        }
        let h_full = entropy(&inst.full);
        if let Some(c) = &inst.comprehensiveness {
            check_probs(format!("instance {n}: comprehensiveness"), c, classes)?;
            comp.push(inst.full[y] - c[y]);
            comp_h.push(h_full - entropy(c));
            comp_kl.push(kl_divergence(c, &inst.full));
        }
        if let Some(s) = &inst.sufficiency {
            check_probs(format!("instance {n}: sufficiency"), s, classes)?;
            suff.push(inst.full[y] - s[y]);
            suff_h.push(h_full - entropy(s));
            suff_kl.push(kl_divergence(s, &inst.full));
        }
        if has_thr {
            for (ti, &t) in aopc_thresholds.iter().enumerate() {
                let ts = inst
                    .thresholded
                    .iter()
                    .find(|x| x.threshold == t)
                    .ok_or_else(|| {
                        EraserMetricError::Faithfulness(format!(
                            "instance {n} has no scores at threshold {t}"
                        ))
                    })?;
                check_probs(
                    format!("instance {n}: comprehensiveness @ {t}"),
                    &ts.comprehensiveness,
                    classes,
                )?;
                check_probs(
                    format!("instance {n}: sufficiency @ {t}"),
                    &ts.sufficiency,
                    classes,
                )?;
                comp_pts[ti].push(inst.full[y] - ts.comprehensiveness[y]);
                suff_pts[ti].push(inst.full[y] - ts.sufficiency[y]);
            }
        }
    }
    let opt = |has: bool, v: &[f64]| has.then(|| mean(v));
    let comp_points: Vec<f64> = if has_thr {
        comp_pts.iter().map(|v| mean(v)).collect()
    } else {
        Vec::new()
    };
    let suff_points: Vec<f64> = if has_thr {
        suff_pts.iter().map(|v| mean(v)).collect()
    } else {
        Vec::new()
    };
    Ok(FaithfulnessScores {
        instances: instances.len(),
        comprehensiveness: opt(has_comp, &comp),
        sufficiency: opt(has_suff, &suff),
        comprehensiveness_entropy: opt(has_comp, &comp_h),
        comprehensiveness_kl: opt(has_comp, &comp_kl),
        sufficiency_entropy: opt(has_suff, &suff_h),
        sufficiency_kl: opt(has_suff, &suff_kl),
        aopc_thresholds: if has_thr {
            aopc_thresholds.to_vec()
        } else {
            Vec::new()
        },
        comprehensiveness_aopc: opt(has_thr, &comp_points),
        comprehensiveness_aopc_points: comp_points.clone(),
        sufficiency_aopc: opt(has_thr, &suff_points),
        sufficiency_aopc_points: suff_points,
    })
}

/// Converts result lines to [`FaithfulnessInstance`]s with the class order `classes` (e.g.
/// `["NEG", "POS"]`). Every result must have `classification_scores` naming exactly these classes.
pub fn faithfulness_instances_from_results(
    results: &[EraserResult],
    classes: &[&str],
) -> Result<Vec<FaithfulnessInstance>, EraserMetricError> {
    let vec_of = |m: &BTreeMap<String, f64>, what: &str, id: &str| {
        if m.len() != classes.len() {
            return Err(EraserMetricError::Faithfulness(format!(
                "{id}: {what} has {} classes, expected {}",
                m.len(),
                classes.len()
            )));
        }
        classes
            .iter()
            .map(|c| {
                m.get(*c).copied().ok_or_else(|| {
                    EraserMetricError::Faithfulness(format!("{id}: {what} lacks class {c}"))
                })
            })
            .collect::<Result<Vec<f64>, _>>()
    };
    results
        .iter()
        .map(|r| {
            let id = r.annotation_id.as_str();
            let full = r.classification_scores.as_ref().ok_or_else(|| {
                EraserMetricError::Faithfulness(format!("{id}: no classification_scores"))
            })?;
            let recorded_class = match &r.classification {
                Some(c) => Some(classes.iter().position(|x| x == c).ok_or_else(|| {
                    EraserMetricError::Faithfulness(format!("{id}: unknown class {c}"))
                })?),
                None => None,
            };
            Ok(FaithfulnessInstance {
                full: vec_of(full, "classification_scores", id)?,
                comprehensiveness: r
                    .comprehensiveness_classification_scores
                    .as_ref()
                    .map(|m| vec_of(m, "comprehensiveness_classification_scores", id))
                    .transpose()?,
                sufficiency: r
                    .sufficiency_classification_scores
                    .as_ref()
                    .map(|m| vec_of(m, "sufficiency_classification_scores", id))
                    .transpose()?,
                thresholded: r
                    .thresholded_scores
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .map(|t| {
                        Ok(ThresholdedProbabilities {
                            threshold: t.threshold,
                            comprehensiveness: vec_of(
                                &t.comprehensiveness_classification_scores,
                                "thresholded comprehensiveness",
                                id,
                            )?,
                            sufficiency: vec_of(
                                &t.sufficiency_classification_scores,
                                "thresholded sufficiency",
                                id,
                            )?,
                        })
                    })
                    .collect::<Result<Vec<_>, EraserMetricError>>()?,
                recorded_class,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rat(a: &str, d: &str, s: usize, e: usize) -> Rationale {
        Rationale {
            ann_id: a.into(),
            docid: d.into(),
            start_token: s,
            end_token: e,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn token_prf_hand_computed() {
        // a: truth tokens {0,1,2} ∪ {5}; pred tokens {1,2,3} (span 1..4) -> inter 2: P 2/3, R 2/4
        // b: truth {0,1}; pred {0} and {0} again (duplicate span, counted once) -> P 1, R 1/2
        // c: no truth, pred {4} -> P 0, R 0 ; d: truth {7}, no pred -> P 0 R 0
        let truth = vec![
            rat("a", "a", 0, 3),
            rat("a", "a", 5, 6),
            rat("b", "b", 0, 2),
            rat("d", "d", 7, 8),
        ];
        let pred = vec![
            rat("a", "a", 1, 4),
            rat("b", "b", 0, 1),
            rat("b", "b", 0, 1),
            rat("c", "c", 4, 5),
        ];
        let s = token_prf(&truth, &pred).unwrap();
        // micro: truth 7 tokens, pred 5 distinct tokens, inter 3 -> P 3/5, R 3/7
        assert!(close(s.instance_micro.p, 0.6));
        assert!(close(s.instance_micro.r, 3.0 / 7.0));
        assert!(close(
            s.instance_micro.f1,
            2.0 * 0.6 * (3.0 / 7.0) / (0.6 + 3.0 / 7.0)
        ));
        // macro over 4 instances: P (2/3 + 1 + 0 + 0)/4, R (1/2 + 1/2 + 0 + 0)/4
        // F1: a 2*(2/3)(1/2)/(7/6) = 4/7 ; b 2*1*(1/2)/(3/2) = 2/3 ; mean (4/7 + 2/3)/4
        assert_eq!(s.instances, 4);
        assert!(close(s.instance_macro.p, (2.0 / 3.0 + 1.0) / 4.0));
        assert!(close(s.instance_macro.r, 0.25));
        assert!(close(s.instance_macro.f1, (4.0 / 7.0 + 2.0 / 3.0) / 4.0));
        assert!(matches!(
            token_prf(&truth, &[]),
            Err(EraserMetricError::Empty(_))
        ));
    }

    #[test]
    fn rationale_prf_exact_spans() {
        // truth spans {a:0..3, a:5..6}; pred {a:0..3, a:4..6} -> 1 exact match: P 1/2 R 1/2
        let truth = vec![rat("a", "a", 0, 3), rat("a", "a", 5, 6)];
        let pred = vec![rat("a", "a", 0, 3), rat("a", "a", 4, 6)];
        let s = rationale_prf(&truth, &pred).unwrap();
        assert!(close(s.instance_micro.p, 0.5) && close(s.instance_micro.r, 0.5));
        assert!(close(s.instance_macro.f1, 0.5));
    }

    #[test]
    fn iou_hand_computed() {
        // key a: truth 0..4, 10..12 ; preds 1..4 (IoU 3/4), 11..14 (IoU 1/4 with 10..12), 20..21 (0)
        // key b: truth 0..2 ; preds none ; key c: pred 0..1, no truth
        let truth = vec![
            rat("a", "a", 0, 4),
            rat("a", "a", 10, 12),
            rat("b", "b", 0, 2),
        ];
        let pred = vec![
            rat("a", "a", 1, 4),
            rat("a", "a", 11, 14),
            rat("a", "a", 20, 21),
            rat("c", "c", 0, 1),
        ];
        let s = iou_scores(&truth, &pred, &[0.5, 0.25]);
        // t=.5: TP a=1 ; micro P 1/4, R 1/3
        assert!(close(s[0].micro.p, 0.25) && close(s[0].micro.r, 1.0 / 3.0));
        assert!(close(s[0].micro.f1, f1(0.25, 1.0 / 3.0)));
        // macro R over truth keys a,b: (1/2 + 0)/2 ; macro P over pred keys a,c: (1/3 + 0)/2
        assert!(close(s[0].macro_.r, 0.25) && close(s[0].macro_.p, 1.0 / 6.0));
        assert!(close(s[0].macro_.f1, f1(1.0 / 6.0, 0.25)));
        // t=.25: TP a=2 -> micro P 2/4 R 2/3 ; macro R (1 + 0)/2, P (2/3 + 0)/2
        assert!(close(s[1].micro.p, 0.5) && close(s[1].micro.r, 2.0 / 3.0));
        assert!(close(s[1].macro_.r, 0.5) && close(s[1].macro_.p, 1.0 / 3.0));
        let v = serde_json::to_value(s[0]).unwrap();
        assert!(v.get("macro").is_some());
    }

    #[test]
    fn pr_curve_ap_auprc_roc_hand_computed() {
        // scores .9(T) .8(F) .8(T) .1(F): thresholds .9 -> tp1 fp0 ; .8 -> tp2 fp1 ; .1 -> tp2 fp2
        let y = [true, false, true, false];
        let s = [0.9, 0.8, 0.8, 0.1];
        let c = precision_recall_curve(&y, &s).unwrap();
        assert_eq!(c.precision, vec![0.5, 2.0 / 3.0, 1.0, 1.0]);
        assert_eq!(c.recall, vec![1.0, 1.0, 0.5, 0.0]);
        assert_eq!(c.thresholds, vec![0.1, 0.8, 0.9]);
        // AUPRC trapezoid over recall: (1-1)*.. + (1-.5)*(2/3+1)/2 + (.5-0)*(1+1)/2 = 5/12 + 1/2
        assert!(close(auprc(&y, &s).unwrap(), 5.0 / 12.0 + 0.5));
        // AP = Σ (R_n − R_{n−1}) P_n = .5*1 + .5*(2/3) = 5/6
        assert!(close(average_precision(&y, &s).unwrap(), 5.0 / 6.0));
        // ROC points (0,0) (0,.5) (.5,1) (1,1): area .5*(.5+1)/2 + .5*1 = .875
        assert!(close(roc_auc(&y, &s).unwrap(), 0.875));
        assert_eq!(
            roc_auc(&[true, true], &[0.1, 0.2]),
            Err(EraserMetricError::SingleClass)
        );
        // no positive: recall 1 everywhere (modern scikit-learn) -> precision [0, 1], recall [1, 0]
        let c = precision_recall_curve(&[false, false], &[0.3, 0.3]).unwrap();
        assert_eq!((c.precision, c.recall), (vec![0.0, 1.0], vec![1.0, 0.0]));
        assert!(close(auprc(&[false, false], &[0.3, 0.3]).unwrap(), 0.5));
    }

    #[test]
    fn soft_scores_skip_single_class_for_ap_roc() {
        let docs = vec![
            PositionScoredDocument {
                ann_id: "a".into(),
                docid: "a".into(),
                scores: vec![0.9, 0.8, 0.8, 0.1],
                truths: vec![true, false, true, false],
            },
            PositionScoredDocument {
                ann_id: "b".into(),
                docid: "b".into(),
                scores: vec![0.2, 0.4],
                truths: vec![true, true],
            },
        ];
        let s = score_soft_tokens(&docs).unwrap();
        // doc b: all positive -> PR points (1, 1) (0.5, 1) (0, 1)... precision 1 everywhere -> AUPRC 1
        assert!(close(s.auprc, (5.0 / 12.0 + 0.5 + 1.0) / 2.0));
        assert!(close(s.average_precision.unwrap(), 5.0 / 6.0));
        assert!(close(s.roc_auc_score.unwrap(), 0.875));
        assert_eq!((s.documents, s.single_class_skipped), (2, 1));
    }

    #[test]
    fn position_scored_documents_from_results() {
        use crate::rationales::{EraserResult, RationalePrediction};
        let ann: Annotation = serde_json::from_str(
            r#"{"annotation_id": "d", "query": "q", "classification": "POS", "evidences": [[{"docid": "d", "start_token": 1, "end_token": 3, "start_sentence": 0, "end_sentence": 1, "text": "x y"}]]}"#,
        )
        .unwrap();
        let mut r = EraserResult::hard_only("d", "d", vec![]);
        r.rationales[0].soft_rationale_predictions = Some(vec![0.1, 0.2, 0.3, 0.4]);
        r.rationales.push(RationalePrediction {
            docid: "e".into(),
            hard_rationale_predictions: vec![],
            soft_rationale_predictions: Some(vec![0.5, 0.5]),
            soft_sentence_predictions: None,
        });
        let lens = BTreeMap::from([("d".to_string(), 4), ("e".to_string(), 2)]);
        let docs =
            position_scored_documents(std::slice::from_ref(&r), std::slice::from_ref(&ann), &lens)
                .unwrap();
        assert_eq!(docs[0].truths, vec![false, true, true, false]);
        assert_eq!(docs[1].truths, vec![false, false]);
        let bad = BTreeMap::from([("d".to_string(), 5), ("e".to_string(), 2)]);
        assert!(matches!(
            position_scored_documents(&[r], &[ann], &bad),
            Err(EraserMetricError::Soft(_))
        ));
    }

    #[test]
    fn faithfulness_hand_computed() {
        // doc 1: full [.2,.8] -> ŷ=1 ; comp [.6,.4] -> .4 ; suff [.3,.7] -> .1
        // doc 2: full [.7,.3] -> ŷ=0 ; comp [.5,.5] -> .2 ; suff [.9,.1] -> -.2
        let t = |th: f64, c: [f64; 2], s: [f64; 2]| ThresholdedProbabilities {
            threshold: th,
            comprehensiveness: c.to_vec(),
            sufficiency: s.to_vec(),
        };
        let insts = vec![
            FaithfulnessInstance {
                full: vec![0.2, 0.8],
                comprehensiveness: Some(vec![0.6, 0.4]),
                sufficiency: Some(vec![0.3, 0.7]),
                thresholded: vec![
                    t(0.1, [0.3, 0.7], [0.4, 0.6]),
                    t(0.5, [0.9, 0.1], [0.2, 0.8]),
                ],
                recorded_class: Some(0),
            },
            FaithfulnessInstance {
                full: vec![0.7, 0.3],
                comprehensiveness: Some(vec![0.5, 0.5]),
                sufficiency: Some(vec![0.9, 0.1]),
                thresholded: vec![
                    t(0.5, [0.6, 0.4], [0.7, 0.3]),
                    t(0.1, [0.7, 0.3], [0.5, 0.5]),
                ],
                recorded_class: Some(0),
            },
        ];
        let s = score_faithfulness(&insts, PredictedClassRule::ArgmaxFull, &[0.1, 0.5]).unwrap();
        assert!(close(s.comprehensiveness.unwrap(), 0.3));
        assert!(close(s.sufficiency.unwrap(), -0.05));
        // AOPC comp: t=.1: (.8-.7, .7-.7) -> .05 ; t=.5: (.8-.1, .7-.6) -> .4 ; mean .225
        assert!(close(s.comprehensiveness_aopc_points[0], 0.05));
        assert!(close(s.comprehensiveness_aopc_points[1], 0.4));
        assert!(close(s.comprehensiveness_aopc.unwrap(), 0.225));
        // AOPC suff: t=.1: (.8-.6, .7-.5) -> .2 ; t=.5: (.8-.8, .7-.7) -> 0 ; mean .1
        assert!(close(s.sufficiency_aopc.unwrap(), 0.1));
        // entropy delta doc1: H(.2,.8) − H(.6,.4)
        let h = |a: f64| -(a * a.ln() + (1.0 - a) * (1.0 - a).ln());
        let want = ((h(0.2) - h(0.6)) + (h(0.7) - h(0.5))) / 2.0;
        assert!(close(s.comprehensiveness_entropy.unwrap(), want));
        // KL(comp ‖ full) doc1: .6 ln(.6/.2) + .4 ln(.4/.8)
        let kl1 = 0.6 * (0.6f64 / 0.2).ln() + 0.4 * (0.4f64 / 0.8).ln();
        let kl2 = 0.5 * (0.5f64 / 0.7).ln() + 0.5 * (0.5f64 / 0.3).ln();
        assert!(close(s.comprehensiveness_kl.unwrap(), (kl1 + kl2) / 2.0));
        // Recorded rule reads class 0 for both: comp (.2-.6, .7-.5) -> mean -.1
        let r = score_faithfulness(&insts, PredictedClassRule::Recorded, &[]).unwrap();
        assert!(close(r.comprehensiveness.unwrap(), -0.1));
        assert_eq!(r.comprehensiveness_aopc, None);
        // missing threshold -> error
        assert!(matches!(
            score_faithfulness(&insts, PredictedClassRule::ArgmaxFull, &[0.2]),
            Err(EraserMetricError::Faithfulness(_))
        ));
    }

    #[test]
    fn entropy_and_kl_scipy_semantics() {
        // unnormalised input is renormalised: entropy([1, 1]) = ln 2
        assert!(close(entropy(&[1.0, 1.0]), 2f64.ln()));
        assert!(close(entropy(&[0.0, 1.0]), 0.0));
        assert_eq!(kl_divergence(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
        assert!(close(kl_divergence(&[0.0, 1.0], &[0.5, 0.5]), 2f64.ln()));
    }

    #[test]
    fn instances_from_results() {
        use crate::rationales::ThresholdedScores;
        let m = |a: f64| BTreeMap::from([("NEG".to_string(), a), ("POS".to_string(), 1.0 - a)]);
        let mut r = EraserResult::hard_only("x", "x", vec![]);
        r.classification = Some("POS".into());
        r.classification_scores = Some(m(0.25));
        r.comprehensiveness_classification_scores = Some(m(0.5));
        r.thresholded_scores = Some(vec![ThresholdedScores {
            threshold: 0.1,
            comprehensiveness_classification_scores: m(0.75),
            sufficiency_classification_scores: m(0.125),
        }]);
        let i = faithfulness_instances_from_results(&[r.clone()], &["NEG", "POS"]).unwrap();
        assert_eq!(i[0].full, vec![0.25, 0.75]);
        assert_eq!(i[0].comprehensiveness, Some(vec![0.5, 0.5]));
        assert_eq!(i[0].sufficiency, None);
        assert_eq!(i[0].recorded_class, Some(1));
        assert_eq!(i[0].thresholded[0].sufficiency, vec![0.125, 0.875]);
        assert!(faithfulness_instances_from_results(&[r], &["NEG", "NEUTRAL"]).is_err());
    }
}
