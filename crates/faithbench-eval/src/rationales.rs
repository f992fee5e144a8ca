//! Top-k word rationales and the ERASER results file (protocols §4.4 step 4, §5.3, P11).
//!
//! The token-F1 test turns word scores ([`crate::word_aggregation`]) into hard rationales: for each
//! `k` (default `5, 10, …, 80`, one results file per `k`) the `k` highest-scoring words, each written
//! as the one-word span `{"start_token": i, "end_token": i + 1}` (word index into the flattened
//! ERASER document).
//!
//! **Tie-break.** `torch.topk` breaks ties arbitrarily; here the order is total: higher score first,
//! among equal scores the **lower word index first** ([`crate::maps::top_k_indices`]). Hence the top
//! `k1` words are a prefix of the top `k2` words for `k1 ≤ k2`. Spans are listed in rank order.
//!
//! The results file is ERASER's JSONL results format ([`EraserResult`]), readable by ERASER's own
//! `rationale_benchmark/metrics.py` and by [`crate::eraser_metrics`].

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::maps::{top_k_indices, MapError, Order};

/// The reference's `k` values: `range(5, 85, 5)` = 5, 10, …, 80 (16 files).
pub const REFERENCE_KS: [usize; 16] = [
    5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80,
];

/// Errors of rationale extraction and the results file.
#[derive(Debug, thiserror::Error)]
pub enum RationaleError {
    /// Word scores are malformed (NaN/inf).
    #[error(transparent)]
    Map(#[from] MapError),
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A results line is not valid JSON of the expected shape.
    #[error("results line {line}: {reason}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// Parser message.
        reason: String,
    },
    /// A configuration value is unusable.
    #[error("invalid rationale config: {0}")]
    Config(String),
}

/// One hard rationale span `[start_token, end_token)` (word indices into the flattened document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HardSpan {
    /// First word (inclusive).
    pub start_token: usize,
    /// Last word (exclusive).
    pub end_token: usize,
}

/// How the spans of file `k` are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanListing {
    /// File `k` lists exactly the top-`k` words (default).
    Fresh,
    /// The reference's quirk (pitfall P11): the span list is not reset between `k` values, so file
    /// `k` lists the spans of every earlier `k` in the configured order, then its own top-`k`
    /// (duplicates included). Scores are unchanged because ERASER's metrics use sets.
    ReferenceAccumulated,
}

/// Settings of the top-k rationale extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RationaleConfig {
    /// The `k` values, in file order. Default [`REFERENCE_KS`].
    pub ks: Vec<usize>,
    /// How spans are listed. Default [`SpanListing::Fresh`].
    pub listing: SpanListing,
}

impl Default for RationaleConfig {
    fn default() -> Self {
        RationaleConfig {
            ks: REFERENCE_KS.to_vec(),
            listing: SpanListing::Fresh,
        }
    }
}

/// Indices of the top-`k` words, best first (tie-break: lower index first). `k` larger than the
/// number of words is capped (the reference's `torch.topk` would raise; Movie Reviews documents
/// always have more than 80 words).
pub fn top_k_words(word_scores: &[f32], k: usize) -> Result<Vec<usize>, RationaleError> {
    Ok(top_k_indices(
        word_scores,
        k.min(word_scores.len()),
        Order::Largest,
    )?)
}

/// The top-`k` words as one-word spans `{i, i+1}`, best first.
pub fn top_k_spans(word_scores: &[f32], k: usize) -> Result<Vec<HardSpan>, RationaleError> {
    Ok(top_k_words(word_scores, k)?
        .into_iter()
        .map(|i| HardSpan {
            start_token: i,
            end_token: i + 1,
        })
        .collect())
}

/// Spans for every `k` of `config`, in the order of `config.ks`: `(k, spans)`.
pub fn rationales_for_ks(
    word_scores: &[f32],
    config: &RationaleConfig,
) -> Result<Vec<(usize, Vec<HardSpan>)>, RationaleError> {
    let mut out = Vec::with_capacity(config.ks.len());
    let mut accumulated: Vec<HardSpan> = Vec::new();
    for &k in &config.ks {
        let spans = top_k_spans(word_scores, k)?;
        match config.listing {
            SpanListing::Fresh => out.push((k, spans)),
            SpanListing::ReferenceAccumulated => {
                accumulated.extend_from_slice(&spans);
                out.push((k, accumulated.clone()));
            }
        }
    }
    Ok(out)
}

/// Per-token soft predictions of a whole document: the covered words' scores, then `0.0` for the
/// words the (truncated) input did not reach, so the list has the document's length as ERASER's
/// verifier requires.
pub fn soft_predictions(word_scores: &[f32], doc_len: usize) -> Vec<f64> {
    let mut out: Vec<f64> = word_scores
        .iter()
        .take(doc_len)
        .map(|&v| v as f64)
        .collect();
    out.resize(doc_len, 0.0);
    out
}

/// One document's predictions inside a result line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RationalePrediction {
    /// Document id.
    pub docid: String,
    /// Hard spans.
    #[serde(default)]
    pub hard_rationale_predictions: Vec<HardSpan>,
    /// One score per document token (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_rationale_predictions: Option<Vec<f64>>,
    /// One score per sentence (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_sentence_predictions: Option<Vec<f64>>,
}

/// Class probabilities after keeping / removing the top `threshold` fraction of tokens (one entry
/// of ERASER's `thresholded_scores`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdedScores {
    /// Fraction of tokens (e.g. 0.01, 0.05, 0.1, 0.2, 0.5).
    pub threshold: f64,
    /// Probabilities with the top-`threshold` tokens removed.
    pub comprehensiveness_classification_scores: BTreeMap<String, f64>,
    /// Probabilities with only the top-`threshold` tokens kept.
    pub sufficiency_classification_scores: BTreeMap<String, f64>,
}

/// One line of an ERASER results file (protocols §5.3 "Results file read by `metrics.py`"). Optional
/// fields are omitted from the JSON when `None`. Class-score maps are `BTreeMap`s, so every map
/// lists the classes in the same (sorted) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraserResult {
    /// Annotation id.
    pub annotation_id: String,
    /// Per-document predictions.
    pub rationales: Vec<RationalePrediction>,
    /// Predicted class name (ERASER scores faithfulness against this class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
    /// Class probabilities on the full input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_scores: Option<BTreeMap<String, f64>>,
    /// Class probabilities with the hard rationale removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comprehensiveness_classification_scores: Option<BTreeMap<String, f64>>,
    /// Class probabilities with only the hard rationale kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sufficiency_classification_scores: Option<BTreeMap<String, f64>>,
    /// Per-threshold probabilities (AOPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholded_scores: Option<Vec<ThresholdedScores>>,
    /// Number of tokens that had to be removed to flip the prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_to_flip: Option<usize>,
}

impl EraserResult {
    /// A result with hard predictions for one document only (what the reference writes):
    /// `{"annotation_id", "rationales": [{"docid", "hard_rationale_predictions"}]}`.
    pub fn hard_only(annotation_id: &str, docid: &str, spans: Vec<HardSpan>) -> Self {
        EraserResult {
            annotation_id: annotation_id.to_string(),
            rationales: vec![RationalePrediction {
                docid: docid.to_string(),
                hard_rationale_predictions: spans,
                soft_rationale_predictions: None,
                soft_sentence_predictions: None,
            }],
            classification: None,
            classification_scores: None,
            comprehensiveness_classification_scores: None,
            sufficiency_classification_scores: None,
            thresholded_scores: None,
            tokens_to_flip: None,
        }
    }
}

/// Writes one JSON object per line (ERASER's `write_jsonl`).
pub fn write_results_jsonl<W: Write>(
    mut w: W,
    results: &[EraserResult],
) -> Result<(), RationaleError> {
    for r in results {
        let line = serde_json::to_string(r).map_err(|e| RationaleError::Json {
            line: 0,
            reason: e.to_string(),
        })?;
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Reads a results JSONL file (blank lines are skipped).
pub fn read_results_jsonl<R: BufRead>(r: R) -> Result<Vec<EraserResult>, RationaleError> {
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line).map_err(|e| RationaleError::Json {
                line: i + 1,
                reason: e.to_string(),
            })?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_with_ties_by_index() {
        // scores: w0 .5, w1 .9, w2 .5, w3 .1, w4 .9
        // rank: w1 (.9), w4 (.9, tie -> higher index later), w0 (.5), w2 (.5), w3
        let s = [0.5, 0.9, 0.5, 0.1, 0.9];
        assert_eq!(top_k_words(&s, 3).unwrap(), vec![1, 4, 0]);
        assert_eq!(top_k_words(&s, 10).unwrap(), vec![1, 4, 0, 2, 3]);
        assert_eq!(
            top_k_spans(&s, 2).unwrap(),
            vec![
                HardSpan {
                    start_token: 1,
                    end_token: 2
                },
                HardSpan {
                    start_token: 4,
                    end_token: 5
                }
            ]
        );
        assert!(top_k_words(&[f32::NAN], 1).is_err());
    }

    #[test]
    fn listings() {
        let s = [0.5, 0.9, 0.5, 0.1, 0.9];
        let sp = |i: usize| HardSpan {
            start_token: i,
            end_token: i + 1,
        };
        let cfg = RationaleConfig {
            ks: vec![1, 2],
            listing: SpanListing::Fresh,
        };
        let r = rationales_for_ks(&s, &cfg).unwrap();
        assert_eq!(r, vec![(1, vec![sp(1)]), (2, vec![sp(1), sp(4)])]);
        let cfg = RationaleConfig {
            ks: vec![1, 2],
            listing: SpanListing::ReferenceAccumulated,
        };
        let r = rationales_for_ks(&s, &cfg).unwrap();
        assert_eq!(r, vec![(1, vec![sp(1)]), (2, vec![sp(1), sp(1), sp(4)])]);
        assert_eq!(RationaleConfig::default().ks.len(), 16);
        assert_eq!(RationaleConfig::default().ks[15], 80);
    }

    #[test]
    fn soft_predictions_pad_truncated_docs() {
        assert_eq!(soft_predictions(&[0.5, 0.25], 4), vec![0.5, 0.25, 0.0, 0.0]);
        assert_eq!(soft_predictions(&[0.5, 0.25], 1), vec![0.5]);
    }

    #[test]
    fn results_json_schema_round_trip() {
        let hard = EraserResult::hard_only(
            "negR_000.txt",
            "negR_000.txt",
            vec![HardSpan {
                start_token: 3,
                end_token: 4,
            }],
        );
        let line = serde_json::to_string(&hard).unwrap();
        assert_eq!(
            line,
            r#"{"annotation_id":"negR_000.txt","rationales":[{"docid":"negR_000.txt","hard_rationale_predictions":[{"start_token":3,"end_token":4}]}]}"#
        );
        let mut full = hard.clone();
        let probs = |a: f64| BTreeMap::from([("NEG".to_string(), a), ("POS".to_string(), 1.0 - a)]);
        full.rationales[0].soft_rationale_predictions = Some(vec![0.0, 0.5]);
        full.classification = Some("NEG".into());
        full.classification_scores = Some(probs(0.75));
        full.comprehensiveness_classification_scores = Some(probs(0.5));
        full.sufficiency_classification_scores = Some(probs(0.625));
        full.thresholded_scores = Some(vec![ThresholdedScores {
            threshold: 0.1,
            comprehensiveness_classification_scores: probs(0.25),
            sufficiency_classification_scores: probs(0.5),
        }]);
        full.tokens_to_flip = Some(7);
        let v: serde_json::Value = serde_json::to_value(&full).unwrap();
        assert_eq!(v["classification_scores"]["NEG"], 0.75);
        assert_eq!(
            v["thresholded_scores"][0]["comprehensiveness_classification_scores"]["POS"],
            0.75
        );
        assert_eq!(v["thresholded_scores"][0]["threshold"], 0.1);
        assert_eq!(v["rationales"][0]["soft_rationale_predictions"][1], 0.5);
        assert_eq!(v["tokens_to_flip"], 7);
        let mut buf = Vec::new();
        write_results_jsonl(&mut buf, &[hard.clone(), full.clone()]).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back = read_results_jsonl(std::io::Cursor::new(buf)).unwrap();
        assert_eq!(back, vec![hard, full]);
        let err = read_results_jsonl(std::io::Cursor::new(b"{}\n".to_vec())).unwrap_err();
        assert!(matches!(err, RationaleError::Json { line: 1, .. }));
    }
}
