//! ERASER's faithfulness protocol for word rationales (protocols §4.7): the classifier on the
//! input with the top-k words **removed** (comprehensiveness) and with **only** those words kept
//! (sufficiency), for every k and for the AOPC bins (the top fraction of words), independent of
//! any model.
//!
//! A word is removed with all its word pieces, mapped through the tokenizer's byte offsets into
//! the document's whitespace words ([`piece_words`]); pieces outside any word (`[CLS]`, `[SEP]`)
//! always stay. [`TextRemoval`] names how pieces are removed. Every edited input of a chunk is
//! classified in batches of `eval_batch`, in document order, so results never depend on where a
//! run was interrupted. The metrics over these probabilities are in
//! [`crate::eraser_metrics::score_faithfulness`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::maps::count_for_fraction;
use crate::rationales::top_k_words;
use crate::summary::softmax;
use crate::text_perturbation::TextClassifier;
use crate::word_aggregation::python_split;

/// How words are removed for comprehensiveness/sufficiency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextRemoval {
    /// Drop the word pieces from the sequence (ERASER's "x without r").
    #[default]
    Delete,
    /// Keep the length; removed pieces get the `[PAD]` id and attention mask 0 (as the text
    /// perturbation test does).
    Mask,
}

/// Errors of the faithfulness protocol.
#[derive(Debug, thiserror::Error)]
pub enum FaithfulnessError {
    /// Word scores or fractions are unusable.
    #[error("{0}")]
    Input(String),
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
}

/// The word (index into the whitespace words of `text`) each piece belongs to, by its byte
/// offsets; `None` for special tokens and pieces with an empty span.
pub fn piece_words(text: &str, offsets: &[(usize, usize)], special: &[bool]) -> Vec<Option<usize>> {
    let base = text.as_ptr() as usize;
    let spans: Vec<(usize, usize)> = python_split(text)
        .iter()
        .map(|w| {
            let s = w.as_ptr() as usize - base;
            (s, s + w.len())
        })
        .collect();
    offsets
        .iter()
        .zip(special)
        .map(|(&(s, e), &special)| {
            if special || s >= e {
                return None;
            }
            let i = spans.partition_point(|&(_, we)| we <= s);
            (i < spans.len() && spans[i].0 < e).then_some(i)
        })
        .collect()
}

/// The input with the pieces of `words` removed (`keep_only = false`) or with only those pieces
/// (and the pieces outside any word, i.e. `[CLS]`/`[SEP]`) kept.
pub fn edit(
    ids: &[u32],
    piece_word: &[Option<usize>],
    words: &BTreeSet<usize>,
    keep_only: bool,
    removal: TextRemoval,
    pad_id: u32,
) -> (Vec<u32>, Vec<u8>) {
    let keep = |i: usize| match piece_word[i] {
        None => true,
        Some(w) => words.contains(&w) == keep_only,
    };
    match removal {
        TextRemoval::Delete => {
            let kept: Vec<u32> = (0..ids.len())
                .filter(|&i| keep(i))
                .map(|i| ids[i])
                .collect();
            let n = kept.len();
            (kept, vec![1; n])
        }
        TextRemoval::Mask => (0..ids.len())
            .map(|i| if keep(i) { (ids[i], 1) } else { (pad_id, 0) })
            .unzip(),
    }
}

/// One document of the protocol.
#[derive(Debug, Clone, Copy)]
pub struct FaithfulnessDoc<'a> {
    /// The classifier's input text.
    pub text: &'a str,
    /// Token ids of the full input.
    pub ids: &'a [u32],
    /// Byte offsets of each piece in `text`.
    pub offsets: &'a [(usize, usize)],
    /// Whether each piece is a special token.
    pub special: &'a [bool],
    /// Score per covered word.
    pub word_scores: &'a [f32],
}

/// Class probabilities of one document's edited inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocFaithfulness {
    /// Per k: with the top-k words removed.
    pub comprehensiveness: Vec<Vec<f64>>,
    /// Per k: with only the top-k words kept.
    pub sufficiency: Vec<Vec<f64>>,
    /// Per AOPC bin: with the top fraction of words removed.
    pub thresholded_comprehensiveness: Vec<Vec<f64>>,
    /// Per AOPC bin: with only the top fraction of words kept.
    pub thresholded_sufficiency: Vec<Vec<f64>>,
}

/// Classifies every edited input of `docs`: for each k of `ks` and each fraction of `thresholds`
/// (as `count_for_fraction(covered words, t)` words), the top words removed and kept alone.
pub fn faithfulness_probabilities<C: TextClassifier + ?Sized>(
    classifier: &mut C,
    docs: &[FaithfulnessDoc<'_>],
    ks: &[usize],
    thresholds: &[f64],
    removal: TextRemoval,
    pad_id: u32,
    eval_batch: usize,
) -> Result<Vec<DocFaithfulness>, FaithfulnessError> {
    let input = |e: String| FaithfulnessError::Input(e);
    let mut queue_ids: Vec<Vec<u32>> = Vec::new();
    let mut queue_masks: Vec<Vec<u8>> = Vec::new();
    let mut firsts = Vec::with_capacity(docs.len());
    for d in docs {
        let pw = piece_words(d.text, d.offsets, d.special);
        firsts.push(queue_ids.len());
        let mut push = |words: Vec<usize>| {
            let set: BTreeSet<usize> = words.into_iter().collect();
            for keep_only in [false, true] {
                let (i, m) = edit(d.ids, &pw, &set, keep_only, removal, pad_id);
                queue_ids.push(i);
                queue_masks.push(m);
            }
        };
        for &k in ks {
            push(top_k_words(d.word_scores, k).map_err(|e| input(e.to_string()))?);
        }
        for &t in thresholds {
            let k = count_for_fraction(d.word_scores.len(), t).map_err(|e| input(e.to_string()))?;
            push(top_k_words(d.word_scores, k).map_err(|e| input(e.to_string()))?);
        }
    }
    let num_classes = classifier.num_classes();
    let mut probs: Vec<Vec<f64>> = Vec::with_capacity(queue_ids.len());
    let b = eval_batch.max(1);
    for (ids, masks) in queue_ids.chunks(b).zip(queue_masks.chunks(b)) {
        let rows = classifier
            .logits(ids, masks)
            .map_err(|e| FaithfulnessError::Classifier {
                batch: ids.len(),
                source: Box::new(e),
            })?;
        if rows.len() != ids.len() || rows.iter().any(|r| r.len() != num_classes) {
            return Err(FaithfulnessError::Output(format!(
                "{} rows for {} sequences of {num_classes} classes",
                rows.len(),
                ids.len()
            )));
        }
        for row in rows {
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(FaithfulnessError::Output(format!("a non-finite logit {v}")));
            }
            probs.push(softmax(&row));
        }
    }
    let (nk, nt) = (ks.len(), thresholds.len());
    Ok(firsts
        .into_iter()
        .map(|first| {
            let at =
                |j: usize, keep_only: bool| probs[first + 2 * j + usize::from(keep_only)].clone();
            DocFaithfulness {
                comprehensiveness: (0..nk).map(|j| at(j, false)).collect(),
                sufficiency: (0..nk).map(|j| at(j, true)).collect(),
                thresholded_comprehensiveness: (0..nt).map(|j| at(nk + j, false)).collect(),
                thresholded_sufficiency: (0..nt).map(|j| at(nk + j, true)).collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_map_to_words_and_edits_remove_whole_words() {
        // "a superb film" ; pieces [CLS] a super ##b film [SEP], ids 10..15
        let text = "a superb film";
        let ids: Vec<u32> = (10..16).collect();
        let offsets = [(0, 0), (0, 1), (2, 7), (7, 8), (9, 13), (0, 0)];
        let special = [true, false, false, false, false, true];
        let pw = piece_words(text, &offsets, &special);
        assert_eq!(pw, vec![None, Some(0), Some(1), Some(1), Some(2), None]);
        let words: BTreeSet<usize> = [1].into_iter().collect();
        let (kept, mask) = edit(&ids, &pw, &words, false, TextRemoval::Delete, 0);
        assert_eq!(kept, vec![10, 11, 14, 15]);
        assert_eq!(mask, vec![1; 4]);
        let (kept, _) = edit(&ids, &pw, &words, true, TextRemoval::Delete, 0);
        assert_eq!(kept, vec![10, 12, 13, 15]);
        let (kept, mask) = edit(&ids, &pw, &words, false, TextRemoval::Mask, 0);
        assert_eq!(kept, vec![10, 11, 0, 0, 14, 15]);
        assert_eq!(mask, vec![1, 1, 0, 0, 1, 1]);
        assert_eq!(softmax(&[0.0, 0.0]), vec![0.5, 0.5]);
    }
}
