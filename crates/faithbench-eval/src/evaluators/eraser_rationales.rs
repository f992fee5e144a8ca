//! `kind = "eraser_rationales"`: ERASER's rationale metrics of top-k word rationales
//! (protocols §4.4, §4.7). The token map (clamped at 0) is aggregated to word scores
//! ([`crate::word_aggregation`]), the top-k words of every k are the predicted rationale, and
//! ERASER's hard, soft and (optionally) faithfulness metrics score them against the evidence.
//! Records hold everything the summary and ERASER's results files need, so the summary never
//! reads the dataset again.
//!
//! Summary metrics (`@KK` = the k, zero-padded so that names sort by k):
//! * `token_f1@KK` — ERASER `token_prf` `instance_macro.f1`, the paper's token-F1;
//!   `token_precision@KK`, `token_recall@KK` (macro), `token_micro_f1@KK`;
//! * `rationale_f1@KK` (exact span match, macro F1), `iou_f1@KK` (IoU partial match at the
//!   evaluator's threshold, macro F1 of the mean P and R);
//! * `comprehensiveness@KK`, `sufficiency@KK` — `mean[p(ŷ|x) − p(ŷ|x∖r_k)]`,
//!   `mean[p(ŷ|x) − p(ŷ|r_k)]`, ŷ the prediction on the full input;
//! * `auprc`, `average_precision`, `roc_auc` — soft word scores against the evidence mask (per
//!   document, averaged; AP and ROC-AUC skip documents whose truth has a single class);
//! * `comprehensiveness_aopc`, `sufficiency_aopc` — over the AOPC bins; `clean_accuracy`.
//!
//! CIs are percentile bootstraps over documents (per-document values, or per-document counts for
//! the micro and IoU scores). Each run also writes
//! `eraser/<evaluator>/<explainer>/identifier_results_<k>.jsonl` in ERASER's results format
//! (unless `results_files = false`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_data::files::{file_stem, write_atomic};
use faithbench_data::{Capability, Modality};

use crate::eraser_faithfulness::{faithfulness_probabilities, FaithfulnessDoc, TextRemoval};
use crate::eraser_metrics::{
    auprc, average_precision, f1, iou_scores, rationale_prf, roc_auc, score_faithfulness,
    token_prf, FaithfulnessInstance, PredictedClassRule, Rationale, ThresholdedProbabilities,
    DEFAULT_AOPC_THRESHOLDS, DEFAULT_IOU_THRESHOLD,
};
use crate::evaluator::{
    config, from_settings, to_settings, EvalChunk, EvalError, EvalResult, Evaluator, EvaluatorInfo,
    PairNames, Protocol, ResolveContext, Resolved,
};
use crate::evaluators::perturbation::snake;
use crate::perturbation::ExplainedClass;
use crate::rationales::{
    rationales_for_ks, soft_predictions, top_k_words, write_results_jsonl, EraserResult,
    RationaleConfig, RationalePrediction, SpanListing, ThresholdedScores, REFERENCE_KS,
};
use crate::stats::{
    bootstrap_curve_statistic, bootstrap_mean_ci, paired_difference_ci, BootstrapConfig,
};
use crate::summary::{
    argmax, Comparison, ComparisonLine, Curve, Direction, Figure, PairSummary, SummaryRow,
};
use crate::word_aggregation::{
    word_scores, OffsetUnit, WordAggregationInput, WordAlignment, BERT_SPECIAL_TOKENS,
};

/// One line of an `eraser_rationales` records file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraserLine {
    /// Sample id (= annotation id).
    pub sample_id: String,
    /// Document id.
    pub docid: String,
    /// Ground-truth class index.
    pub label: usize,
    /// The explained class.
    pub explained_class: usize,
    /// The model's prediction on the full input.
    pub predicted: usize,
    /// Class probabilities on the full input.
    pub probs: Vec<f64>,
    /// Tokens (ERASER words) of the document.
    pub num_words: usize,
    /// Leading words the (truncated) model input covers.
    pub covered_words: usize,
    /// Score per covered word (word-level aggregation of the clamped token map).
    pub word_scores: Vec<f32>,
    /// Evidence spans `[start_token, end_token)`.
    pub evidence: Vec<(usize, usize)>,
    /// The k values (a document's k is capped at `covered_words`).
    pub ks: Vec<usize>,
    /// Per k: probabilities with the top-k words removed.
    pub comprehensiveness: Vec<Vec<f64>>,
    /// Per k: probabilities with only the top-k words kept.
    pub sufficiency: Vec<Vec<f64>>,
    /// AOPC bins.
    pub thresholds: Vec<f64>,
    /// Per bin: probabilities with the top fraction of words removed.
    pub thresholded_comprehensiveness: Vec<Vec<f64>>,
    /// Per bin: probabilities with only the top fraction of words kept.
    pub thresholded_sufficiency: Vec<Vec<f64>>,
    /// `reference` alignment: the first word whose reconstructed characters differ (the
    /// reference script would abort on this document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment_mismatch: Option<usize>,
}

fn target() -> ExplainedClass {
    ExplainedClass::Target
}
fn offsets() -> WordAlignment {
    WordAlignment::Offsets
}
fn fresh() -> SpanListing {
    SpanListing::Fresh
}
fn iou() -> f64 {
    DEFAULT_IOU_THRESHOLD
}
fn yes() -> bool {
    true
}

/// The config keys of `[[evaluators]] kind = "eraser_rationales"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    /// Explained class: `target` (default, the ground truth as in the reference) or `predicted`.
    #[serde(default = "target")]
    class: ExplainedClass,
    /// The k values (default 5, 10, …, 80, the reference's).
    #[serde(default)]
    ks: Option<Vec<usize>>,
    /// Word-piece → word alignment: `offsets` (default, exact) or `reference`.
    #[serde(default = "offsets")]
    alignment: WordAlignment,
    /// How the results files list spans: `fresh` (default) or `reference_accumulated`.
    #[serde(default = "fresh")]
    listing: SpanListing,
    /// AOPC bins (default 0.01, 0.05, 0.1, 0.2, 0.5).
    #[serde(default)]
    aopc_thresholds: Option<Vec<f64>>,
    /// IoU threshold of the partial-match F1 (default 0.5).
    #[serde(default = "iou")]
    iou_threshold: f64,
    /// Measure comprehensiveness, sufficiency and AOPC (default true).
    #[serde(default = "yes")]
    faithfulness: bool,
    /// How comprehensiveness/sufficiency remove words: `delete` (default) or `mask`.
    #[serde(default)]
    removal: TextRemoval,
    /// Write ERASER results files (default true).
    #[serde(default = "yes")]
    results_files: bool,
}

/// Resolved settings (hashed into the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Explained class.
    pub explained: ExplainedClass,
    /// The k values (capped per document at its number of words).
    pub ks: Vec<usize>,
    /// Word-piece → word alignment.
    pub alignment: WordAlignment,
    /// Span listing of the results files.
    pub listing: SpanListing,
    /// AOPC bins (empty without faithfulness).
    pub aopc_thresholds: Vec<f64>,
    /// IoU threshold of the partial-match F1.
    pub iou_threshold: f64,
    /// Whether comprehensiveness/sufficiency/AOPC are measured.
    pub faithfulness: bool,
    /// How words are removed for comprehensiveness/sufficiency.
    pub removal: TextRemoval,
}

/// Presentation options (not hashed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Write `identifier_results_<k>.jsonl` files.
    pub results_files: bool,
    /// Class names of the results files, in label order.
    pub classes: Vec<String>,
}

/// The ERASER rationale evaluator.
#[derive(Debug, Clone)]
pub struct EraserRationales {
    /// Settings.
    pub settings: Settings,
    /// Options.
    pub options: Options,
}

/// Registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "eraser_rationales",
    summary: "top-k word rationales of the clamped token map against ERASER evidence: token/rationale/IoU P/R/F1, soft AUPRC/AP/ROC, comprehensiveness/sufficiency/AOPC; ERASER results files",
    protocol: "protocols §4.4, §4.7",
    modality: Modality::Text,
    needs: &[Capability::Evidence],
    metrics: "token_f1@k (the paper's token-F1), token_precision/recall/micro_f1@k, rationale_f1@k, iou_f1@k, comprehensiveness@k, sufficiency@k, auprc, average_precision, roc_auc, comprehensiveness_aopc, sufficiency_aopc, clean_accuracy",
    example: "{}",
    tolerances: &[],
    resolve,
    default_name: |_| "eraser_rationales".into(),
    build: |r| {
        Ok(Box::new(EraserRationales {
            settings: from_settings("eraser_rationales", &r.settings)?,
            options: if r.options.is_null() {
                Options::default()
            } else {
                from_settings("eraser_rationales", &r.options)?
            },
        }) as Box<dyn Evaluator>)
    },
};

fn resolve(table: &Map<String, Value>, ctx: &ResolveContext<'_>) -> EvalResult<Resolved> {
    let k: Keys = config("eraser_rationales", table)?;
    let n = ctx.evaluator;
    let invalid = |m: &str| EvalError::Config(format!("evaluator `{n}`: {m}"));
    if let Some(ks) = &k.ks {
        if ks.is_empty() || ks.contains(&0) {
            return Err(invalid("ks must be a non-empty list of positive integers"));
        }
        if (1..ks.len()).any(|i| ks[..i].contains(&ks[i])) {
            return Err(invalid("a k is listed twice"));
        }
    }
    if let Some(t) = &k.aopc_thresholds {
        if t.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err(invalid("aopc_thresholds must be fractions in [0, 1]"));
        }
    }
    if !(0.0..=1.0).contains(&k.iou_threshold) {
        return Err(invalid("iou_threshold must lie in [0, 1]"));
    }
    let settings = Settings {
        explained: k.class,
        ks: k.ks.unwrap_or_else(|| REFERENCE_KS.to_vec()),
        alignment: k.alignment,
        listing: k.listing,
        aopc_thresholds: if k.faithfulness {
            k.aopc_thresholds
                .unwrap_or_else(|| DEFAULT_AOPC_THRESHOLDS.to_vec())
        } else {
            Vec::new()
        },
        iou_threshold: k.iou_threshold,
        faithfulness: k.faithfulness,
        removal: k.removal,
    };
    Ok(Resolved {
        settings: to_settings(&settings)?,
        options: to_settings(&Options {
            results_files: k.results_files,
            classes: ctx.classes.map(<[String]>::to_vec).unwrap_or_default(),
        })?,
    })
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

/// Per-k metric families shown as their own Markdown table (the others are in `summary.csv`).
const MD_PER_K: [&str; 6] = [
    "token_f1",
    "token_precision",
    "token_recall",
    "iou_f1",
    "comprehensiveness",
    "sufficiency",
];

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

fn pred_of(r: &EraserLine, k: usize) -> EvalResult<Vec<Rationale>> {
    Ok(top_k_words(&r.word_scores, k)
        .map_err(EvalError::protocol)?
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

fn prf_f(inter: f64, pred: f64, truth: f64) -> f64 {
    let p = if pred > 0.0 { inter / pred } else { 0.0 };
    let r = if truth > 0.0 { inter / truth } else { 0.0 };
    f1(p, r)
}

/// Per-document token F1 of the top-k words (0 for a document without evidence and
/// predictions, which the ERASER macro average would leave out).
fn doc_token_f1(recs: &[EraserLine], k: usize) -> EvalResult<Vec<f64>> {
    recs.iter()
        .map(|r| {
            let pred: BTreeSet<usize> = top_k_words(&r.word_scores, k)
                .map_err(EvalError::protocol)?
                .into_iter()
                .collect();
            let truth: BTreeSet<usize> = r.evidence.iter().flat_map(|&(s, e)| s..e).collect();
            let inter = pred.intersection(&truth).count();
            Ok(prf(inter, pred.len(), truth.len()).2)
        })
        .collect()
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
) -> EvalResult<Vec<Vec<EraserResult>>> {
    let mut per_k: Vec<Vec<EraserResult>> = vec![Vec::new(); ks.len()];
    let config = RationaleConfig {
        ks: ks.to_vec(),
        listing,
    };
    for r in recs {
        let spans = rationales_for_ks(&r.word_scores, &config).map_err(EvalError::protocol)?;
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

impl EraserRationales {
    fn lines(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<EraserLine>> {
        let c = chunk.text(EVALUATOR.kind)?;
        let s = &self.settings;
        let mut scores = Vec::with_capacity(c.docs.len());
        for d in &c.docs {
            let ws = word_scores(
                s.alignment,
                &WordAggregationInput {
                    text: d.text,
                    pieces: d.tokens,
                    scores: d.relevance,
                    offsets: Some(d.offsets),
                    offset_unit: OffsetUnit::Bytes,
                    special_tokens: &BERT_SPECIAL_TOKENS,
                },
            )
            .map_err(|e| EvalError::Sample {
                sample_id: d.id.to_string(),
                message: format!("word aggregation: {e}"),
            })?;
            scores.push(ws);
        }
        let (ks, thresholds): (&[usize], &[f64]) = if s.faithfulness {
            (&s.ks, &s.aopc_thresholds)
        } else {
            (&[], &[])
        };
        let fdocs: Vec<FaithfulnessDoc> = c
            .docs
            .iter()
            .zip(&scores)
            .map(|(d, ws)| FaithfulnessDoc {
                text: d.text,
                ids: d.ids,
                offsets: d.offsets,
                special: d.special,
                word_scores: &ws.scores,
            })
            .collect();
        let faith = faithfulness_probabilities(
            &mut *c.classifier,
            &fdocs,
            ks,
            thresholds,
            s.removal,
            c.pad_id,
            c.eval_batch,
        )
        .map_err(EvalError::protocol)?;
        Ok(c.docs
            .iter()
            .zip(scores)
            .zip(faith)
            .map(|((d, ws), f)| {
                let er = d.eraser;
                EraserLine {
                    sample_id: d.id.to_string(),
                    docid: er.map(|e| e.docid.clone()).unwrap_or_default(),
                    label: d.label,
                    explained_class: d.explained_class,
                    predicted: d.predicted,
                    probs: d.probs.to_vec(),
                    num_words: er.map_or(0, |e| e.num_tokens),
                    covered_words: ws.scores.len(),
                    word_scores: ws.scores,
                    evidence: er.map(|e| e.evidence.clone()).unwrap_or_default(),
                    ks: s.ks.clone(),
                    comprehensiveness: f.comprehensiveness,
                    sufficiency: f.sufficiency,
                    thresholds: thresholds.to_vec(),
                    thresholded_comprehensiveness: f.thresholded_comprehensiveness,
                    thresholded_sufficiency: f.thresholded_sufficiency,
                    alignment_mismatch: ws.first_mismatch,
                }
            })
            .collect())
    }
}

impl Protocol for EraserRationales {
    type Record = EraserLine;

    fn kind(&self) -> &'static str {
        EVALUATOR.kind
    }

    fn explained(&self) -> ExplainedClass {
        self.settings.explained
    }

    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<EraserLine>> {
        self.lines(chunk)
    }

    fn summarise(
        &self,
        names: PairNames<'_>,
        recs: &[EraserLine],
        cfg: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        let (rows, curve) = eraser_rows(
            names,
            recs,
            &self.settings.ks,
            self.settings.iou_threshold,
            &self.settings.aopc_thresholds,
            cfg,
        )?;
        Ok(PairSummary {
            rows,
            curves: curve.into_iter().collect(),
        })
    }

    fn direction(&self, metric: &str) -> Direction {
        if metric.starts_with("sufficiency") {
            Direction::LowerBetter
        } else {
            Direction::HigherBetter
        }
    }

    fn describe(&self) -> String {
        let s = &self.settings;
        format!(
            "*ERASER rationales; explains the {} class; token maps clamped at 0, word scores by `{}` alignment; \
             top-k words for k in {:?} (capped at the words covered); token-F1 = `token_prf` instance-macro F1; \
             IoU threshold {}; {}. Per-k precision, recall, micro and rationale-level F1 are in summary.csv.*\n",
            snake(&s.explained),
            snake(&s.alignment),
            s.ks,
            s.iou_threshold,
            if s.faithfulness {
                format!(
                    "comprehensiveness/sufficiency with words removed by `{}`, AOPC bins {:?}",
                    snake(&s.removal),
                    s.aopc_thresholds
                )
            } else {
                "faithfulness not measured".to_string()
            }
        )
    }

    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)> {
        let mut p: Vec<&String> = prefixes
            .iter()
            .filter(|p| MD_PER_K.contains(&p.as_str()))
            .collect();
        p.sort_by_key(|p| MD_PER_K.iter().position(|m| m == p));
        p.into_iter()
            .map(|p| (p.clone(), format!("{p} per k")))
            .collect()
    }

    fn figures(&self, name: &str, stem: &str, _: &[SummaryRow], curves: &[Curve]) -> Vec<Figure> {
        if curves.is_empty() {
            return Vec::new();
        }
        vec![Figure::Curves {
            file: format!("{stem}_token_f1"),
            title: format!("{name} — token-F1 of the top-k words"),
            x_label: "k (words)".into(),
            y_label: "token F1".into(),
            curves: curves.to_vec(),
        }]
    }

    fn compare(
        &self,
        _: PairNames<'_>,
        a: &[EraserLine],
        b: &[EraserLine],
        cfg: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        let mut out = Comparison::default();
        let ks = &self.settings.ks;
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        for &k in ks {
            let fa = doc_token_f1(a, k)?;
            let fb = doc_token_f1(b, k)?;
            let pc = paired_difference_ci(&fa, &fb, cfg).map_err(EvalError::protocol)?;
            out.lines.push(ComparisonLine {
                metric: k_metric("token_f1", k, ks),
                a: mean(&fa),
                b: mean(&fb),
                diff: pc.difference,
                p: Some(pc.p_value),
            });
        }
        Ok(out)
    }

    fn write_outputs(
        &self,
        run_dir: &Path,
        stem: &str,
        explainer: &str,
        recs: &[EraserLine],
    ) -> EvalResult<()> {
        if !self.options.results_files || recs.is_empty() {
            return Ok(());
        }
        let dir = eraser_results_dir(run_dir, stem, explainer);
        let per_k = eraser_results(
            recs,
            &self.settings.ks,
            self.settings.listing,
            &self.options.classes,
        )?;
        for (&k, results) in self.settings.ks.iter().zip(&per_k) {
            let mut buf = Vec::new();
            write_results_jsonl(&mut buf, results).map_err(EvalError::protocol)?;
            let p = dir.join(format!("identifier_results_{k}.jsonl"));
            write_atomic(&p, &buf).map_err(|e| EvalError::Output {
                path: p.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// Summary rows of one `eraser_rationales` pair, and its token-F1-vs-k curve.
pub fn eraser_rows(
    names: PairNames<'_>,
    recs: &[EraserLine],
    ks: &[usize],
    iou_threshold: f64,
    thresholds: &[f64],
    cfg: &BootstrapConfig,
) -> EvalResult<(Vec<SummaryRow>, Option<Curve>)> {
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
        let preds: Vec<Vec<Rationale>> = recs
            .iter()
            .map(|r| pred_of(r, k))
            .collect::<EvalResult<_>>()?;
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
            let ci = bootstrap_mean_ci(&f1s, cfg).map_err(EvalError::protocol)?;
            rows.push(names.row(&k_metric("token_f1", k, ks), t.instance_macro.f1, &ci));
            curve_k.push(k as f64);
            curve_f1.push(t.instance_macro.f1);
            lo.push(ci.lower);
            hi.push(ci.upper);
            rows.push(names.row(
                &k_metric("token_precision", k, ks),
                t.instance_macro.p,
                &bootstrap_mean_ci(&ps, cfg).map_err(EvalError::protocol)?,
            ));
            rows.push(names.row(
                &k_metric("token_recall", k, ks),
                t.instance_macro.r,
                &bootstrap_mean_ci(&rs, cfg).map_err(EvalError::protocol)?,
            ));
            let micro = |c: &[f64]| -> Result<f64, String> { Ok(prf_f(c[0], c[1], c[2])) };
            rows.push(names.row(
                &k_metric("token_micro_f1", k, ks),
                t.instance_micro.f1,
                &bootstrap_curve_statistic(&counts, micro, cfg).map_err(EvalError::protocol)?,
            ));
        }
        if let Ok(t) = rationale_prf(&truth_all, &pred_all) {
            if !rat_f1s.is_empty() {
                rows.push(names.row(
                    &k_metric("rationale_f1", k, ks),
                    t.instance_macro.f1,
                    &bootstrap_mean_ci(&rat_f1s, cfg).map_err(EvalError::protocol)?,
                ));
            }
        }
        if let Some(s) = iou_scores(&truth_all, &pred_all, &[iou_threshold]).first() {
            if !iou_pr.is_empty() && !truth_all.is_empty() {
                let stat = |c: &[f64]| -> Result<f64, String> { Ok(f1(c[0], c[1])) };
                rows.push(names.row(
                    &k_metric("iou_f1", k, ks),
                    s.macro_.f1,
                    &bootstrap_curve_statistic(&iou_pr, stat, cfg).map_err(EvalError::protocol)?,
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
        let f = score_faithfulness(&inst, PredictedClassRule::ArgmaxFull, &[])
            .map_err(EvalError::protocol)?;
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
            rows.push(names.row(
                &k_metric("comprehensiveness", k, ks),
                v,
                &bootstrap_mean_ci(&d, cfg).map_err(EvalError::protocol)?,
            ));
        }
        if let Some(v) = f.sufficiency {
            let d = delta(&|r| r.sufficiency.get(j));
            rows.push(names.row(
                &k_metric("sufficiency", k, ks),
                v,
                &bootstrap_mean_ci(&d, cfg).map_err(EvalError::protocol)?,
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
        auprcs.push(auprc(&mask, &scores).map_err(EvalError::protocol)?);
        let pos = mask.iter().filter(|&&m| m).count();
        if pos > 0 && pos < mask.len() {
            aps.push(average_precision(&mask, &scores).map_err(EvalError::protocol)?);
            rocs.push(roc_auc(&mask, &scores).map_err(EvalError::protocol)?);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (name, v) in [
        ("auprc", &auprcs),
        ("average_precision", &aps),
        ("roc_auc", &rocs),
    ] {
        if !v.is_empty() {
            rows.push(names.row(
                name,
                mean(v),
                &bootstrap_mean_ci(v, cfg).map_err(EvalError::protocol)?,
            ));
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
        let f = score_faithfulness(&inst, PredictedClassRule::ArgmaxFull, thresholds)
            .map_err(EvalError::protocol)?;
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
            rows.push(names.row(
                "comprehensiveness_aopc",
                v,
                &bootstrap_mean_ci(&d, cfg).map_err(EvalError::protocol)?,
            ));
        }
        if let Some(v) = f.sufficiency_aopc {
            let d = per_doc(&|r, j| r.thresholded_sufficiency[j][argmax(&r.probs)]);
            rows.push(names.row(
                "sufficiency_aopc",
                v,
                &bootstrap_mean_ci(&d, cfg).map_err(EvalError::protocol)?,
            ));
        }
    }
    let hits: Vec<f64> = recs
        .iter()
        .map(|r| f64::from(u8::from(r.predicted == r.label)))
        .collect();
    rows.push(names.row(
        "clean_accuracy",
        mean(&hits),
        &bootstrap_mean_ci(&hits, cfg).map_err(EvalError::protocol)?,
    ));
    let curve = (!curve_k.is_empty()).then(|| Curve {
        label: names.explainer.to_string(),
        xs: curve_k,
        ys: curve_f1,
        band: Some((lo, hi)),
    });
    Ok((rows, curve))
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
    fn names_sort_by_k() {
        assert_eq!(k_metric("token_f1", 5, &[5, 80]), "token_f1@05");
        assert_eq!(k_metric("token_f1", 5, &[5, 100]), "token_f1@005");
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
        let names = PairNames {
            evaluator: "ev",
            explainer: "x",
        };
        let (rows, curve) = eraser_rows(names, &recs, &[1, 2], 0.5, &[0.5], &cfg).unwrap();
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
        // per-document token F1 (compare): doc a 2/3 at k = 1, doc b 0
        let f = doc_token_f1(&recs, 1).unwrap();
        assert!((f[0] - 2.0 / 3.0).abs() < 1e-12 && f[1] == 0.0);
    }

    #[test]
    fn bad_settings_are_named() {
        let ctx = ResolveContext::for_tests(None);
        for (t, msg) in [
            (serde_json::json!({"ks": [0]}), "ks must be"),
            (serde_json::json!({"ks": [5, 5]}), "listed twice"),
            (serde_json::json!({"iou_threshold": 2.0}), "iou_threshold"),
            (serde_json::json!({"kz": [1]}), "`kz`"),
        ] {
            let e = resolve(t.as_object().unwrap(), &ctx)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
    }
}
