//! BERT token-removal perturbation tests (protocols §4.5 Movie Reviews, §4.6 20 Newsgroups, P10),
//! independent of any model.
//!
//! Per document the evaluator takes the token ids (incl. `[CLS]`/`[SEP]`, and `[PAD]`s for
//! padded inputs), the attention mask, one **non-negative** relevance per position (the reference
//! clamps explanations at 0; the explanation is computed once, on the clean input) and the label.
//! For each fraction `p`, in the configured order and **cumulatively on the same tensors** (removed
//! tokens stay removed), the `k = int(len·p)` positions of highest relevance ([`TextMode::Positive`])
//! or lowest relevance ([`TextMode::Negative`], the reference's `topk(−cam)`) get the `[PAD]` id
//! and mask 0, and the classifier is asked again. Hit = `argmax(logits) == label`.
//!
//! Ranking tie-break: among equal relevance the **lower position first**
//! ([`crate::maps::top_k_indices`]; `torch.topk` on GPU leaves it unspecified). With a fixed
//! ranking, cumulative removal at `p_i` equals removing the top `max_{j≤i} k_j` positions.
//!
//! `len` follows a named [`LengthRule`]. Aggregation ([`accuracy_curve`], [`summarise`]) is a pure
//! function of the per-document records. Argmax ties resolve to the lowest class index.

use serde::{Deserialize, Serialize};

use crate::auc::{trapezoid, AucError};
use crate::maps::{count_for_fraction, top_k_indices, MapError, Order};

/// A sequence classifier over token ids.
pub trait TextClassifier {
    /// The classifier's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Number of classes `C`.
    fn num_classes(&self) -> usize;

    /// Logits for a batch of sequences: `ids[b]` and `masks[b]` have equal lengths (sequences
    /// of a batch may differ in length; pad internally if needed). Returns `batch` rows of `C`
    /// logits.
    fn logits(&mut self, ids: &[Vec<u32>], masks: &[Vec<u8>])
        -> Result<Vec<Vec<f32>>, Self::Error>;
}

/// Errors of the text perturbation evaluator.
#[derive(Debug, thiserror::Error)]
pub enum TextPerturbationError {
    /// The configuration is unusable.
    #[error("invalid text perturbation config: {0}")]
    Config(String),
    /// A document's inputs are malformed.
    #[error("document {doc_id}: {reason}")]
    Input {
        /// Document id.
        doc_id: String,
        /// What is wrong.
        reason: String,
    },
    /// Relevance ranking failed (non-finite values).
    #[error(transparent)]
    Map(#[from] MapError),
    /// The classifier failed.
    #[error("classifier failed on a batch of {batch} sequences: {source}")]
    Classifier {
        /// Batch size.
        batch: usize,
        /// Underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The classifier returned the wrong shape or non-finite logits.
    #[error("classifier output: {0}")]
    Output(String),
    /// Records cannot be aggregated together.
    #[error("cannot aggregate records: {0}")]
    Aggregate(String),
    /// AUC computation failed.
    #[error(transparent)]
    Auc(#[from] AucError),
}

/// Which tokens are removed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextMode {
    /// Remove the **most** relevant tokens first (accuracy should drop fast).
    Positive,
    /// `--neg`: remove the **least** relevant tokens first (accuracy should stay high).
    Negative,
}

impl TextMode {
    fn order(self) -> Order {
        match self {
            TextMode::Positive => Order::Largest,
            TextMode::Negative => Order::Smallest,
        }
    }
}

/// What `len` in `k = int(len·p)` counts, and which positions may be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthRule {
    /// The Movie Reviews script (`int(len(tokens)·p)` on an unpadded input): `len` = number of
    /// real positions (mask 1 on the clean input, `[CLS]`/`[SEP]` included) and only those
    /// positions are candidates.
    RealTokens,
    /// The 20 Newsgroups script's quirk: every input is padded to `n` (512) and
    /// `k = int(n·p)` counts padding; **all `n` positions are candidates**, so zero-relevance
    /// `[PAD]` positions can be "removed" (a no-op on an already padded position). In negative
    /// mode, padding (relevance 0, the minimum after clamping) ties with zero-relevance real
    /// tokens and, with the lower-position-first tie-break, is removed after them. Inputs must
    /// have exactly `n` positions.
    PaddedTo(usize),
}

/// The reference fraction lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FractionPreset {
    /// `np.arange(0.52, 0.68, 0.02)`: 9 float64 values `0.52 + i·δ` with
    /// `δ = (0.52 + 0.02) − 0.52 = 0.020000000000000018` (NumPy's `arange` fill rule), i.e.
    /// 0.52, 0.54, 0.56, 0.5800000000000001, 0.6000000000000001, 0.6200000000000001,
    /// 0.6400000000000001, 0.6600000000000001, 0.6800000000000002 — the end point 0.68 is included
    /// by float artefact. (`0.52 + i·0.02` differs from these from `i = 4` on.)
    MoviesReference,
    /// `np.arange(0, 1.1, 0.1)`: 11 values `i·0.1` (0, 0.1, 0.2, 0.30000000000000004, …, 1.0).
    NewsgroupsReference,
}

impl FractionPreset {
    /// The fractions, bit-exact NumPy float64 values.
    pub fn fractions(self) -> Vec<f64> {
        match self {
            FractionPreset::MoviesReference => {
                let (start, step) = (0.52f64, 0.02f64);
                let delta = (start + step) - start;
                (0..9).map(|i| start + i as f64 * delta).collect()
            }
            FractionPreset::NewsgroupsReference => (0..11).map(|i| i as f64 * 0.1).collect(),
        }
    }
}

/// Settings of one text perturbation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPerturbationConfig {
    /// Positive or negative.
    pub mode: TextMode,
    /// Removal fractions in `[0, 1]`, applied in this order, cumulatively.
    pub fractions: Vec<f64>,
    /// What `len` counts.
    pub length_rule: LengthRule,
    /// Id written into removed positions (BERT `[PAD]` = 0).
    pub pad_id: u32,
}

impl TextPerturbationConfig {
    /// Movie Reviews (protocols §4.5): [`FractionPreset::MoviesReference`], [`LengthRule::RealTokens`],
    /// `[PAD]` = 0.
    pub fn movies_reference(mode: TextMode) -> Self {
        TextPerturbationConfig {
            mode,
            fractions: FractionPreset::MoviesReference.fractions(),
            length_rule: LengthRule::RealTokens,
            pad_id: 0,
        }
    }

    /// 20 Newsgroups (protocols §4.6): [`FractionPreset::NewsgroupsReference`],
    /// [`LengthRule::PaddedTo`]`(512)`, `[PAD]` = 0.
    pub fn newsgroups_reference(mode: TextMode) -> Self {
        TextPerturbationConfig {
            mode,
            fractions: FractionPreset::NewsgroupsReference.fractions(),
            length_rule: LengthRule::PaddedTo(512),
            pad_id: 0,
        }
    }

    /// Checks the fractions (non-empty, each in `[0, 1]`) and the length rule.
    pub fn validate(&self) -> Result<(), TextPerturbationError> {
        if self.fractions.is_empty() {
            return Err(TextPerturbationError::Config("no fractions".into()));
        }
        if let Some(p) = self.fractions.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(TextPerturbationError::Config(format!(
                "fraction {p} is outside [0, 1]"
            )));
        }
        if self.length_rule == LengthRule::PaddedTo(0) {
            return Err(TextPerturbationError::Config("PaddedTo(0)".into()));
        }
        Ok(())
    }
}

/// One document to perturb.
#[derive(Debug, Clone, Copy)]
pub struct TextDocument<'a> {
    /// Stable id.
    pub doc_id: &'a str,
    /// Token ids incl. specials (and padding for [`LengthRule::PaddedTo`]).
    pub ids: &'a [u32],
    /// Attention mask (1 = real token), same length as `ids`.
    pub mask: &'a [u8],
    /// Relevance per position (finite, `≥ 0`), same length as `ids`.
    pub relevance: &'a [f32],
    /// Ground-truth class.
    pub label: usize,
}

/// Per-document result; per-fraction vectors are indexed like `fractions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPerturbationRecord {
    /// Document id.
    pub doc_id: String,
    /// Ground-truth label.
    pub label: usize,
    /// Positive or negative.
    pub mode: TextMode,
    /// Length rule used.
    pub length_rule: LengthRule,
    /// The `len` of `k = int(len·p)`.
    pub length: usize,
    /// Fractions.
    pub fractions: Vec<f64>,
    /// `k` per fraction.
    pub ks: Vec<usize>,
    /// Positions removed so far (cumulative, distinct) after each fraction.
    pub removed: Vec<usize>,
    /// Argmax per fraction.
    pub preds: Vec<usize>,
    /// `preds[i] == label`.
    pub hits: Vec<bool>,
    /// Softmax probability of the label per fraction.
    pub label_probs: Vec<f64>,
}

fn check_doc(
    d: &TextDocument<'_>,
    cfg: &TextPerturbationConfig,
    num_classes: usize,
) -> Result<(), TextPerturbationError> {
    let err = |reason: String| TextPerturbationError::Input {
        doc_id: d.doc_id.to_string(),
        reason,
    };
    let n = d.ids.len();
    if d.mask.len() != n || d.relevance.len() != n {
        return Err(err(format!(
            "{} ids, {} mask values, {} relevance values",
            n,
            d.mask.len(),
            d.relevance.len()
        )));
    }
    if let Some((i, v)) = d
        .relevance
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(err(format!(
            "relevance {v} at position {i} (must be finite and >= 0; clamp first)"
        )));
    }
    if let LengthRule::PaddedTo(m) = cfg.length_rule {
        if n != m {
            return Err(err(format!("{n} positions, PaddedTo({m}) needs {m}")));
        }
    }
    if d.label >= num_classes {
        return Err(err(format!(
            "label {} out of range for {num_classes} classes",
            d.label
        )));
    }
    Ok(())
}

fn softmax_prob(row: &[f32], c: usize) -> f64 {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
    (row[c] as f64 - m).exp() / s
}

use crate::summary::argmax;

/// The cumulative perturbed inputs of one document, one entry per fraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerturbedInputs {
    /// `k = int(len·p)` per fraction.
    pub ks: Vec<usize>,
    /// Distinct positions removed so far after each fraction.
    pub removed: Vec<usize>,
    /// Token ids after each fraction.
    pub ids: Vec<Vec<u32>>,
    /// Attention masks after each fraction.
    pub masks: Vec<Vec<u8>>,
    /// The `len` of `k = int(len·p)` under the length rule.
    pub length: usize,
}

/// Builds the cumulative perturbed inputs of one document (no classifier involved).
pub fn perturbed_inputs(
    doc: &TextDocument<'_>,
    cfg: &TextPerturbationConfig,
) -> Result<PerturbedInputs, TextPerturbationError> {
    cfg.validate()?;
    // candidates and length
    let candidates: Vec<usize> = match cfg.length_rule {
        LengthRule::RealTokens => (0..doc.ids.len()).filter(|&i| doc.mask[i] != 0).collect(),
        LengthRule::PaddedTo(_) => (0..doc.ids.len()).collect(),
    };
    let length = candidates.len();
    let cand_rel: Vec<f32> = candidates.iter().map(|&i| doc.relevance[i]).collect();
    let ks: Vec<usize> = cfg
        .fractions
        .iter()
        .map(|&p| count_for_fraction(length, p))
        .collect::<Result<_, _>>()?;
    let k_max = ks.iter().copied().max().unwrap_or(0);
    let ranking: Vec<usize> = top_k_indices(&cand_rel, k_max, cfg.mode.order())?
        .into_iter()
        .map(|j| candidates[j])
        .collect();
    let mut ids = doc.ids.to_vec();
    let mut mask = doc.mask.to_vec();
    let mut removed = vec![false; ids.len()];
    let (mut out_ids, mut out_masks, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    for &k in &ks {
        for &pos in &ranking[..k] {
            ids[pos] = cfg.pad_id;
            mask[pos] = 0;
            removed[pos] = true;
        }
        counts.push(removed.iter().filter(|&&r| r).count());
        out_ids.push(ids.clone());
        out_masks.push(mask.clone());
    }
    Ok(PerturbedInputs {
        ks,
        removed: counts,
        ids: out_ids,
        masks: out_masks,
        length,
    })
}

/// Runs the protocol on `docs`, packing up to `max_batch` sequences per classifier call.
pub fn run_text_perturbation<C: TextClassifier + ?Sized>(
    classifier: &mut C,
    docs: &[TextDocument<'_>],
    cfg: &TextPerturbationConfig,
    max_batch: usize,
) -> Result<Vec<TextPerturbationRecord>, TextPerturbationError> {
    cfg.validate()?;
    if max_batch == 0 {
        return Err(TextPerturbationError::Config("max_batch is 0".into()));
    }
    let num_classes = classifier.num_classes();
    if num_classes == 0 {
        return Err(TextPerturbationError::Config(
            "classifier has 0 classes".into(),
        ));
    }
    for d in docs {
        check_doc(d, cfg, num_classes)?;
    }
    let nf = cfg.fractions.len();
    let mut rows: Vec<Vec<Option<Vec<f32>>>> = vec![vec![None; nf]; docs.len()];
    let mut meta = Vec::with_capacity(docs.len());
    let mut queue_ids: Vec<Vec<u32>> = Vec::new();
    let mut queue_masks: Vec<Vec<u8>> = Vec::new();
    let mut queue_jobs: Vec<(usize, usize)> = Vec::new();

    let mut flush = |ids: &mut Vec<Vec<u32>>,
                     masks: &mut Vec<Vec<u8>>,
                     jobs: &mut Vec<(usize, usize)>,
                     rows: &mut Vec<Vec<Option<Vec<f32>>>>|
     -> Result<(), TextPerturbationError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let batch = jobs.len();
        let out = classifier
            .logits(ids, masks)
            .map_err(|e| TextPerturbationError::Classifier {
                batch,
                source: Box::new(e),
            })?;
        if out.len() != batch {
            return Err(TextPerturbationError::Output(format!(
                "{} rows for a batch of {batch}",
                out.len()
            )));
        }
        for (&(d, f), row) in jobs.iter().zip(out) {
            if row.len() != num_classes {
                return Err(TextPerturbationError::Output(format!(
                    "document {}: {} logits, expected {num_classes}",
                    docs[d].doc_id,
                    row.len()
                )));
            }
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(TextPerturbationError::Output(format!(
                    "document {}: non-finite logit {v} at fraction {}",
                    docs[d].doc_id, cfg.fractions[f]
                )));
            }
            rows[d][f] = Some(row);
        }
        ids.clear();
        masks.clear();
        jobs.clear();
        Ok(())
    };

    for (di, d) in docs.iter().enumerate() {
        let p = perturbed_inputs(d, cfg)?;
        meta.push((p.ks, p.removed, p.length));
        for (fi, (i, m)) in p.ids.into_iter().zip(p.masks).enumerate() {
            queue_ids.push(i);
            queue_masks.push(m);
            queue_jobs.push((di, fi));
            if queue_jobs.len() == max_batch {
                flush(&mut queue_ids, &mut queue_masks, &mut queue_jobs, &mut rows)?;
            }
        }
    }
    flush(&mut queue_ids, &mut queue_masks, &mut queue_jobs, &mut rows)?;

    docs.iter()
        .zip(rows)
        .zip(meta)
        .map(|((d, r), (ks, removed, length))| {
            let r: Vec<Vec<f32>> = r.into_iter().collect::<Option<_>>().ok_or_else(|| {
                TextPerturbationError::Output(format!("document {}: missing output", d.doc_id))
            })?;
            let preds: Vec<usize> = r.iter().map(|row| argmax(row)).collect();
            Ok(TextPerturbationRecord {
                doc_id: d.doc_id.to_string(),
                label: d.label,
                mode: cfg.mode,
                length_rule: cfg.length_rule,
                length,
                fractions: cfg.fractions.clone(),
                ks,
                removed,
                hits: preds.iter().map(|&p| p == d.label).collect(),
                preds,
                label_probs: r.iter().map(|row| softmax_prob(row, d.label)).collect(),
            })
        })
        .collect()
}

/// Accuracy per fraction over a set of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextAccuracyCurve {
    /// Number of documents.
    pub n: usize,
    /// Mode of all records.
    pub mode: TextMode,
    /// Fractions.
    pub fractions: Vec<f64>,
    /// Accuracy in **percent** per fraction (the reference prints `round(hits/n·100, 2)`; not
    /// rounded here).
    pub accuracy_percent: Vec<f64>,
    /// Mean softmax probability of the label per fraction.
    pub mean_label_prob: Vec<f64>,
}

/// How a text accuracy curve is summarised (the reference computes no AUC; these are ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextAucRule {
    /// `sklearn.metrics.auc(fractions, accuracy_percent)`: trapezoid over the measured fractions
    /// only (no assumed end points). Units: percent × fraction, so Movie Reviews (fractions
    /// 0.52…0.68, width 0.16) and 20 Newsgroups (0…1) areas are not comparable.
    Trapezoid,
    /// [`TextAucRule::Trapezoid`] divided by `last − first` fraction: the curve's mean accuracy in
    /// percent, comparable across fraction lists.
    TrapezoidNormalised,
}

/// Curve plus its area under one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPerturbationSummary {
    /// The accuracy curve.
    pub curve: TextAccuracyCurve,
    /// Rule applied.
    pub rule: TextAucRule,
    /// The area.
    pub auc: f64,
}

/// Accuracy curve of records sharing fractions and mode.
pub fn accuracy_curve(
    records: &[TextPerturbationRecord],
) -> Result<TextAccuracyCurve, TextPerturbationError> {
    let first = records
        .first()
        .ok_or_else(|| TextPerturbationError::Aggregate("no records".into()))?;
    for r in records {
        if r.fractions != first.fractions || r.mode != first.mode {
            return Err(TextPerturbationError::Aggregate(format!(
                "document {} differs from {} in fractions or mode",
                r.doc_id, first.doc_id
            )));
        }
        if r.hits.len() != r.fractions.len() || r.label_probs.len() != r.fractions.len() {
            return Err(TextPerturbationError::Aggregate(format!(
                "document {}: per-fraction vectors have the wrong length",
                r.doc_id
            )));
        }
    }
    let n = records.len();
    let nf = first.fractions.len();
    Ok(TextAccuracyCurve {
        n,
        mode: first.mode,
        fractions: first.fractions.clone(),
        accuracy_percent: (0..nf)
            .map(|i| records.iter().filter(|r| r.hits[i]).count() as f64 / n as f64 * 100.0)
            .collect(),
        mean_label_prob: (0..nf)
            .map(|i| records.iter().map(|r| r.label_probs[i]).sum::<f64>() / n as f64)
            .collect(),
    })
}

impl TextAccuracyCurve {
    /// Area of the curve under `rule`.
    pub fn auc(&self, rule: TextAucRule) -> Result<f64, TextPerturbationError> {
        let area = trapezoid(&self.fractions, &self.accuracy_percent)?;
        Ok(match rule {
            TextAucRule::Trapezoid => area,
            TextAucRule::TrapezoidNormalised => {
                let width = self.fractions[self.fractions.len() - 1] - self.fractions[0];
                if width == 0.0 {
                    return Err(TextPerturbationError::Aggregate(
                        "fractions span zero width".into(),
                    ));
                }
                area / width
            }
        })
    }
}

/// Accuracy curve and its area.
pub fn summarise(
    records: &[TextPerturbationRecord],
    rule: TextAucRule,
) -> Result<TextPerturbationSummary, TextPerturbationError> {
    let curve = accuracy_curve(records)?;
    let auc = curve.auc(rule)?;
    Ok(TextPerturbationSummary { curve, rule, auc })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mock: 2 classes; logit1 = Σ over unmasked positions of (id as f32), logit0 = 10.
    /// Records every call's inputs.
    type Call = (Vec<Vec<u32>>, Vec<Vec<u8>>);

    struct Mock {
        calls: Vec<Call>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("mock")]
    struct MockError;

    impl TextClassifier for Mock {
        type Error = MockError;
        fn num_classes(&self) -> usize {
            2
        }
        fn logits(
            &mut self,
            ids: &[Vec<u32>],
            masks: &[Vec<u8>],
        ) -> Result<Vec<Vec<f32>>, MockError> {
            self.calls.push((ids.to_vec(), masks.to_vec()));
            Ok(ids
                .iter()
                .zip(masks)
                .map(|(i, m)| {
                    let s: u32 = i
                        .iter()
                        .zip(m)
                        .filter(|(_, &m)| m == 1)
                        .map(|(&v, _)| v)
                        .sum();
                    vec![10.0, s as f32]
                })
                .collect())
        }
    }

    #[test]
    fn movies_fractions_are_numpy_values() {
        let f = FractionPreset::MoviesReference.fractions();
        assert_eq!(
            f,
            vec![
                0.52,
                0.54,
                0.56,
                0.5800000000000001,
                0.6000000000000001,
                0.6200000000000001,
                0.6400000000000001,
                0.6600000000000001,
                0.6800000000000002
            ]
        );
        let g = FractionPreset::NewsgroupsReference.fractions();
        assert_eq!(g.len(), 11);
        assert_eq!(g[3], 0.30000000000000004);
        assert_eq!(g[10], 1.0);
        let ks: Vec<usize> = g
            .iter()
            .map(|&p| count_for_fraction(512, p).unwrap())
            .collect();
        assert_eq!(ks, vec![0, 51, 102, 153, 204, 256, 307, 358, 409, 460, 512]);
        // the float artefact matters: int(50 * 0.5800000000000001) = int(29.000000000000004) = 29,
        // while the decimal 0.58 gives int(28.999999999999996) = 28
        assert_eq!(count_for_fraction(50, f[3]).unwrap(), 29);
        assert_eq!(count_for_fraction(50, 0.58).unwrap(), 28);
    }

    #[test]
    fn positive_cumulative_real_tokens() {
        // ids [101, 5, 7, 3, 102], relevance [0, .5, .9, .1, 0] ; label 1 (logit1 = Σ ids)
        // RealTokens: len 5 ; fractions .2, .4, .6 -> k = 1, 2, 3
        // ranking (largest, tie lower first): 2 (.9), 1 (.5), 3 (.1), 0, 4
        let doc = TextDocument {
            doc_id: "d",
            ids: &[101, 5, 7, 3, 102],
            mask: &[1, 1, 1, 1, 1],
            relevance: &[0.0, 0.5, 0.9, 0.1, 0.0],
            label: 1,
        };
        let cfg = TextPerturbationConfig {
            mode: TextMode::Positive,
            fractions: vec![0.2, 0.4, 0.6],
            length_rule: LengthRule::RealTokens,
            pad_id: 0,
        };
        let mut m = Mock { calls: vec![] };
        let r = &run_text_perturbation(&mut m, &[doc], &cfg, 8).unwrap()[0];
        assert_eq!(r.ks, vec![1, 2, 3]);
        assert_eq!(r.removed, vec![1, 2, 3]);
        let (ids, masks) = &m.calls[0];
        assert_eq!(ids[0], vec![101, 5, 0, 3, 102]);
        assert_eq!(ids[2], vec![101, 0, 0, 0, 102]);
        assert_eq!(masks[1], vec![1, 0, 0, 1, 1]);
        // logit1: 211, 206, 203 vs logit0 10 -> always class 1
        assert_eq!(r.preds, vec![1, 1, 1]);
        assert_eq!(r.hits, vec![true, true, true]);
        assert_eq!(r.length, 5);
    }

    #[test]
    fn cumulative_keeps_earlier_removals() {
        // non-monotone fractions .6 then .2: k = 3 then 1, but the 3 removed stay removed
        let doc = TextDocument {
            doc_id: "d",
            ids: &[1, 2, 3, 4, 5],
            mask: &[1; 5],
            relevance: &[0.1, 0.2, 0.3, 0.4, 0.5],
            label: 0,
        };
        let cfg = TextPerturbationConfig {
            mode: TextMode::Negative,
            fractions: vec![0.6, 0.2],
            length_rule: LengthRule::RealTokens,
            pad_id: 0,
        };
        let p = perturbed_inputs(&doc, &cfg).unwrap();
        assert_eq!(p.ks, vec![3, 1]);
        assert_eq!(p.removed, vec![3, 3]);
        // negative: smallest first -> positions 0, 1, 2
        assert_eq!(p.ids[0], vec![0, 0, 0, 4, 5]);
        assert_eq!(p.ids[1], vec![0, 0, 0, 4, 5]);
    }

    #[test]
    fn padded_rule_counts_and_removes_padding() {
        // 6 positions: [CLS] 4 5 [SEP] PAD PAD ; relevance [0, .2, .8, 0, 0, 0]
        let doc = TextDocument {
            doc_id: "p",
            ids: &[101, 4, 5, 102, 0, 0],
            mask: &[1, 1, 1, 1, 0, 0],
            relevance: &[0.0, 0.2, 0.8, 0.0, 0.0, 0.0],
            label: 1,
        };
        // PaddedTo(6), negative, p = .5 -> k = int(6*.5) = 3: smallest relevance, lower position
        // first among the zeros: 0 ([CLS]), 3 ([SEP]), 4 (PAD)
        let cfg = TextPerturbationConfig {
            mode: TextMode::Negative,
            fractions: vec![0.5, 1.0],
            length_rule: LengthRule::PaddedTo(6),
            pad_id: 0,
        };
        let p = perturbed_inputs(&doc, &cfg).unwrap();
        assert_eq!(p.length, 6);
        assert_eq!(p.ks, vec![3, 6]);
        assert_eq!(p.removed, vec![3, 6]);
        assert_eq!(p.ids[0], vec![0, 4, 5, 0, 0, 0]);
        assert_eq!(p.masks[0], vec![0, 1, 1, 0, 0, 0]);
        // RealTokens on the same padded input: len 4, k = 2 -> positions 0, 3 (only real ones)
        let cfg2 = TextPerturbationConfig {
            length_rule: LengthRule::RealTokens,
            ..cfg.clone()
        };
        let p = perturbed_inputs(&doc, &cfg2).unwrap();
        assert_eq!((p.length, p.ks[0]), (4, 2));
        assert_eq!(p.ids[0], vec![0, 4, 5, 0, 0, 0]);
        // wrong length for PaddedTo
        let cfg3 = TextPerturbationConfig {
            length_rule: LengthRule::PaddedTo(8),
            ..cfg
        };
        let mut m = Mock { calls: vec![] };
        assert!(matches!(
            run_text_perturbation(&mut m, &[doc], &cfg3, 4),
            Err(TextPerturbationError::Input { .. })
        ));
    }

    #[test]
    fn hits_probs_batching_and_curve() {
        // label 0 (logit0 = 10). doc a: ids [3, 4] rel [.9, .1]: logit1 = 7 -> 4 -> 0 (after 1.0)
        // fractions .5, 1.0 -> k 1, 2. a: removes 3 -> logit1 4 ; then all -> 0 : preds 0, 0
        // doc b: ids [20, 1] rel [.1, .9] label 0: remove 1 -> logit1 20 -> pred 1 ; all -> 0 -> pred 0
        let a = TextDocument {
            doc_id: "a",
            ids: &[3, 4],
            mask: &[1, 1],
            relevance: &[0.9, 0.1],
            label: 0,
        };
        let b = TextDocument {
            doc_id: "b",
            ids: &[20, 1],
            mask: &[1, 1],
            relevance: &[0.1, 0.9],
            label: 0,
        };
        let cfg = TextPerturbationConfig {
            mode: TextMode::Positive,
            fractions: vec![0.5, 1.0],
            length_rule: LengthRule::RealTokens,
            pad_id: 0,
        };
        let mut m = Mock { calls: vec![] };
        let recs = run_text_perturbation(&mut m, &[a, b], &cfg, 3).unwrap();
        assert_eq!(
            m.calls.iter().map(|c| c.0.len()).collect::<Vec<_>>(),
            vec![3, 1]
        );
        assert_eq!(recs[0].hits, vec![true, true]);
        assert_eq!(recs[1].hits, vec![false, true]);
        // a at .5: logits [10, 4] -> p0 = 1/(1+e^-6)
        assert!((recs[0].label_probs[0] - 1.0 / (1.0 + (-6.0f64).exp())).abs() < 1e-15);
        let s = summarise(&recs, TextAucRule::Trapezoid).unwrap();
        assert_eq!(s.curve.accuracy_percent, vec![50.0, 100.0]);
        // trapezoid: .5 * (50 + 100)/2 = 37.5 ; normalised by width .5 -> 75
        assert!((s.auc - 37.5).abs() < 1e-12);
        let n = summarise(&recs, TextAucRule::TrapezoidNormalised).unwrap();
        assert!((n.auc - 75.0).abs() < 1e-12);
        let json = serde_json::to_string(&recs[1]).unwrap();
        assert_eq!(
            serde_json::from_str::<TextPerturbationRecord>(&json).unwrap(),
            recs[1]
        );
        // batch size does not change the results
        let mut m1 = Mock { calls: vec![] };
        assert_eq!(
            run_text_perturbation(&mut m1, &[a, b], &cfg, 1).unwrap(),
            recs
        );
    }

    #[test]
    fn input_validation() {
        let doc = TextDocument {
            doc_id: "neg",
            ids: &[1, 2],
            mask: &[1, 1],
            relevance: &[-0.1, 0.0],
            label: 0,
        };
        let cfg = TextPerturbationConfig::movies_reference(TextMode::Positive);
        let mut m = Mock { calls: vec![] };
        let e = run_text_perturbation(&mut m, &[doc], &cfg, 4).unwrap_err();
        assert!(e.to_string().contains("neg"), "{e}");
        let doc = TextDocument {
            relevance: &[0.0, 0.0],
            label: 2,
            ..doc
        };
        assert!(run_text_perturbation(&mut m, &[doc], &cfg, 4).is_err());
        let bad = TextPerturbationConfig {
            fractions: vec![1.5],
            ..cfg
        };
        assert!(matches!(
            bad.validate(),
            Err(TextPerturbationError::Config(_))
        ));
        assert_eq!(
            TextPerturbationConfig::newsgroups_reference(TextMode::Negative).length_rule,
            LengthRule::PaddedTo(512)
        );
        assert!(accuracy_curve(&[]).is_err());
    }
}
