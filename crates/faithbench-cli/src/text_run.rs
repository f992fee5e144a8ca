//! Execution of text datasets (ERASER, 20 Newsgroups) with a BERT classifier: the same fixed
//! chunks, cache and resume rules as the image datasets (see [`crate::run`]).
//!
//! Per chunk: tokenise (`[CLS] text [SEP]`, truncated to the dataset's `max_length`), classify,
//! explain each document for its class (the ground truth by default, spec P12), clamp the token
//! maps at 0, and hand them to the evaluators:
//!
//! * `eraser_rationales` — word-level aggregation ([`word_scores`]), top-k words for every k,
//!   and the classifier on the inputs with the top-k words (and the top fractions of words, for
//!   AOPC) removed or kept alone. A word is removed with all its word pieces (mapped through the
//!   tokenizer's offsets); `[CLS]`/`[SEP]` always stay. Records hold everything the summary and
//!   the ERASER results files need.
//! * `text_perturbation` — [`run_text_perturbation`] on the token ids (padded to 512 for the
//!   `padded_to_512` rule, with zero relevance on the padding).
//!
//! Every classifier call of a chunk is made for all its documents (records already written are
//! filtered out afterwards), so batches, and hence results, do not depend on where a run was
//! interrupted.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use faithbench_eval::maps::count_for_fraction;
use faithbench_eval::rationales::top_k_words;
use faithbench_eval::text_perturbation::{
    run_text_perturbation, LengthRule, TextDocument, TextPerturbationConfig,
};
use faithbench_eval::word_aggregation::{
    python_split, word_scores, OffsetUnit, WordAggregationInput, WordAlignment, BERT_SPECIAL_TOKENS,
};
use faithbench_eval::ExplainedClass;
use faithbench_models::tokenize::{batch_from_ids, Encoded, TextTokenizer};
use faithbench_models::{Explainable, ModelInput};

use crate::config::TextRemoval;
use crate::dataset::{OpenDataset, TextItem};
use crate::gallery;
use crate::model::TextClassifierModel;
use crate::plan::Protocol;
use crate::records::{self, EraserLine, TextPerturbationLine};
use crate::run::{progress_bar, Ctx};
use crate::summary::records_path;
use crate::util::argmax;

/// The model of a text dataset.
pub(crate) struct TextModel<'a> {
    /// The BERT.
    pub model: &'a dyn Explainable,
    /// Its tokenizer.
    pub tokenizer: &'a TextTokenizer,
    /// Number of classes.
    pub num_classes: usize,
}

/// Softmax of a logits row in f64.
pub(crate) fn softmax(row: &[f32]) -> Vec<f64> {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The word (index into the whitespace words of `text`) each piece belongs to, by its byte
/// offsets; `None` for special tokens and pieces with an empty span.
pub(crate) fn piece_words(text: &str, enc: &Encoded) -> Vec<Option<usize>> {
    let base = text.as_ptr() as usize;
    let spans: Vec<(usize, usize)> = python_split(text)
        .iter()
        .map(|w| {
            let s = w.as_ptr() as usize - base;
            (s, s + w.len())
        })
        .collect();
    enc.offsets
        .iter()
        .zip(&enc.special)
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
fn edit(
    enc: &Encoded,
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
            let ids: Vec<u32> = (0..enc.ids.len())
                .filter(|&i| keep(i))
                .map(|i| enc.ids[i])
                .collect();
            let n = ids.len();
            (ids, vec![1; n])
        }
        TextRemoval::Mask => (0..enc.ids.len())
            .map(|i| {
                if keep(i) {
                    (enc.ids[i], 1)
                } else {
                    (pad_id, 0)
                }
            })
            .unzip(),
    }
}

/// Executes the text evaluators of dataset `di`.
pub(crate) fn execute_text_dataset(
    ctx: &mut Ctx,
    tm: &TextModel,
    di: usize,
    dataset: &OpenDataset,
    done: &[Vec<BTreeSet<String>>],
    bars_hidden: bool,
) -> Result<()> {
    let plan = ctx.plan;
    let ds = &plan.plan.datasets[di];
    let text = ds
        .text
        .as_ref()
        .with_context(|| format!("dataset `{}` has no text settings", ds.name))?;
    let (evs, applicable) = crate::run::dataset_work(plan, di);
    if evs.is_empty() {
        return Ok(());
    }
    let n = ds.num_samples;
    let b = plan.plan.batch_size;
    let pb = progress_bar(n, bars_hidden, format!("{} ({})", ds.name, ds.kind))?;
    let mut clf = TextClassifierModel {
        model: tm.model,
        num_classes: tm.num_classes,
        pad_id: tm.tokenizer.pad_id(),
    };
    for start in (0..n).step_by(b) {
        let positions: Vec<usize> = (start..(start + b).min(n)).collect();
        let ids = &ds.sample_ids[start..start + positions.len()];
        let pending = crate::run::pending_rows(&evs, &applicable, done, ids);
        if pending.iter().flatten().all(Vec::is_empty) {
            ctx.samples_skipped += ids.len();
            pb.inc(ids.len() as u64);
            continue;
        }
        let (items, encs): (Vec<TextItem>, Vec<Encoded>) =
            Ctx::timed(&mut ctx.stages.data, || {
                let items = positions
                    .iter()
                    .map(|&p| dataset.load_text(p))
                    .collect::<Result<Vec<_>>>()?;
                let encs = items
                    .iter()
                    .map(|it| {
                        tm.tokenizer
                            .encode(&it.text, text.max_length)
                            .with_context(|| format!("tokenising `{}`", it.id))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((items, encs))
            })?;
        for (it, id) in items.iter().zip(ids) {
            if &it.id != id {
                bail!(
                    "dataset `{}` changed since the plan was made: position holds `{}`, the plan says `{id}`",
                    ds.name,
                    it.id
                );
            }
            if it.label >= tm.num_classes {
                bail!(
                    "sample `{}`: label {} is out of range for a model with {} classes",
                    it.id,
                    it.label,
                    tm.num_classes
                );
            }
        }
        let seqs: Vec<Vec<u32>> = encs.iter().map(|e| e.ids.clone()).collect();
        let batch = batch_from_ids(&seqs, tm.tokenizer.pad_id(), &tm.model.device())?;
        let input = ModelInput::Text(batch);
        let logits: Vec<f32> = Ctx::timed(&mut ctx.stages.classify, || {
            tm.model
                .logits(&input)?
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow!("cannot read logits: {e:?}"))
        })?;
        let c = tm.num_classes;
        let probs: Vec<Vec<f64>> = logits.chunks(c).map(softmax).collect();
        let preds: Vec<usize> = logits.chunks(c).map(argmax).collect();
        let shapes: Vec<Vec<usize>> = seqs.iter().map(|s| vec![s.len()]).collect();

        for (xi, x) in plan.plan.explainers.iter().enumerate() {
            if !applicable[xi] {
                continue;
            }
            let classes = crate::run::classes_to_explain(plan, &evs, &pending, xi);
            for cl in classes {
                let targets: Vec<usize> = match cl {
                    ExplainedClass::Predicted => preds.clone(),
                    ExplainedClass::Target => items.iter().map(|it| it.label).collect(),
                };
                let maps = ctx.maps(tm.model, xi, di, &input, ids, &targets, &shapes)?;
                let relevance: Vec<Vec<f32>> = maps
                    .iter()
                    .map(|m| m.iter().map(|&v| v.max(0.0)).collect())
                    .collect();
                // gallery
                let t = Instant::now();
                for (r, &p) in positions.iter().enumerate() {
                    if p >= plan.options.gallery {
                        break;
                    }
                    let path =
                        gallery::text_item_path(&plan.locations.out_dir, &ds.name, p, &x.stem, cl);
                    let class_name = |k: usize| {
                        text.classes
                            .get(k)
                            .cloned()
                            .unwrap_or_else(|| k.to_string())
                    };
                    let meta = vec![
                        ("sample".to_string(), items[r].id.clone()),
                        ("explainer".to_string(), x.label.clone()),
                        ("label".to_string(), class_name(items[r].label)),
                        ("predicted".to_string(), class_name(preds[r])),
                        ("explained class".to_string(), class_name(targets[r])),
                    ];
                    gallery::write_text_item(
                        &path,
                        &format!("{} — {} #{p}", x.label, ds.name),
                        &encs[r].tokens,
                        &maps[r],
                        &meta,
                    )?;
                }
                ctx.stages.gallery += t.elapsed().as_secs_f64();

                for (k, &ei) in evs.iter().enumerate() {
                    let e = &plan.plan.evaluators[ei];
                    if e.protocol.explained() != cl || pending[k][xi].is_empty() {
                        continue;
                    }
                    let want: BTreeSet<usize> = pending[k][xi].iter().copied().collect();
                    let path = records_path(&plan.locations.out_dir, e, x);
                    let t = Instant::now();
                    let ctx_msg = || format!("evaluator `{}` with explainer `{}`", e.name, x.label);
                    match &e.protocol {
                        Protocol::EraserRationales {
                            ks,
                            alignment,
                            aopc_thresholds,
                            faithfulness,
                            removal,
                            ..
                        } => {
                            let lines = eraser_lines(
                                &mut clf,
                                &EraserJob {
                                    items: &items,
                                    encs: &encs,
                                    relevance: &relevance,
                                    probs: &probs,
                                    preds: &preds,
                                    targets: &targets,
                                    ks,
                                    alignment: *alignment,
                                    thresholds: aopc_thresholds,
                                    faithfulness: *faithfulness,
                                    removal: *removal,
                                    eval_batch: plan.plan.eval_batch_size,
                                },
                            )
                            .with_context(ctx_msg)?;
                            let keep: Vec<EraserLine> = lines
                                .into_iter()
                                .enumerate()
                                .filter(|(r, _)| want.contains(r))
                                .map(|(_, l)| l)
                                .collect();
                            ctx.stages.evaluate += t.elapsed().as_secs_f64();
                            records::append(&path, &keep)?;
                            ctx.note_written(keep.len());
                        }
                        Protocol::TextPerturbation { config, .. } => {
                            let lines = perturbation_lines(
                                &mut clf,
                                &items,
                                &encs,
                                &relevance,
                                &preds,
                                &targets,
                                config,
                                plan.plan.eval_batch_size,
                            )
                            .with_context(ctx_msg)?;
                            let keep: Vec<TextPerturbationLine> = lines
                                .into_iter()
                                .enumerate()
                                .filter(|(r, _)| want.contains(r))
                                .map(|(_, l)| l)
                                .collect();
                            ctx.stages.evaluate += t.elapsed().as_secs_f64();
                            records::append(&path, &keep)?;
                            ctx.note_written(keep.len());
                        }
                        Protocol::Perturbation { .. } | Protocol::Segmentation => bail!(
                            "evaluator `{}` is an image evaluator on the text dataset `{}`",
                            e.name,
                            ds.name
                        ),
                    }
                }
            }
        }
        ctx.samples_processed += ids.len();
        pb.inc(ids.len() as u64);
    }
    pb.finish_and_clear();
    Ok(())
}

/// Inputs of [`eraser_lines`] for one chunk.
pub(crate) struct EraserJob<'a> {
    pub items: &'a [TextItem],
    pub encs: &'a [Encoded],
    /// Clamped token maps.
    pub relevance: &'a [Vec<f32>],
    pub probs: &'a [Vec<f64>],
    pub preds: &'a [usize],
    pub targets: &'a [usize],
    pub ks: &'a [usize],
    pub alignment: WordAlignment,
    pub thresholds: &'a [f64],
    pub faithfulness: bool,
    pub removal: TextRemoval,
    pub eval_batch: usize,
}

/// ERASER records of every document of a chunk.
pub(crate) fn eraser_lines(
    clf: &mut TextClassifierModel,
    job: &EraserJob,
) -> Result<Vec<EraserLine>> {
    struct Doc {
        scores: Vec<f32>,
        covered: usize,
        mismatch: Option<usize>,
        /// Index of the first queued sequence of this document.
        first: usize,
    }
    let mut queue_ids: Vec<Vec<u32>> = Vec::new();
    let mut queue_masks: Vec<Vec<u8>> = Vec::new();
    let mut docs = Vec::with_capacity(job.items.len());
    for (r, it) in job.items.iter().enumerate() {
        let enc = &job.encs[r];
        let ws = word_scores(
            job.alignment,
            &WordAggregationInput {
                text: &it.text,
                pieces: &enc.tokens,
                scores: &job.relevance[r],
                offsets: Some(&enc.offsets),
                offset_unit: OffsetUnit::Bytes,
                special_tokens: &BERT_SPECIAL_TOKENS,
            },
        )
        .with_context(|| format!("sample `{}`: word aggregation", it.id))?;
        let pw = piece_words(&it.text, enc);
        let first = queue_ids.len();
        let covered = ws.scores.len();
        let mut push = |words: Vec<usize>| {
            let set: BTreeSet<usize> = words.into_iter().collect();
            for keep_only in [false, true] {
                let (i, m) = edit(enc, &pw, &set, keep_only, job.removal, clf.pad_id);
                queue_ids.push(i);
                queue_masks.push(m);
            }
        };
        if job.faithfulness {
            for &k in job.ks {
                push(top_k_words(&ws.scores, k)?);
            }
            for &t in job.thresholds {
                let k = count_for_fraction(covered, t)?;
                push(top_k_words(&ws.scores, k)?);
            }
        }
        docs.push(Doc {
            scores: ws.scores,
            covered,
            mismatch: ws.first_mismatch,
            first,
        });
    }
    let mut out_probs: Vec<Vec<f64>> = Vec::with_capacity(queue_ids.len());
    for (ids, masks) in queue_ids
        .chunks(job.eval_batch.max(1))
        .zip(queue_masks.chunks(job.eval_batch.max(1)))
    {
        let rows = clf.logits_rows(ids, masks)?;
        for row in rows {
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                bail!("the classifier returned a non-finite logit {v}");
            }
            out_probs.push(softmax(&row));
        }
    }
    let (nk, nt) = if job.faithfulness {
        (job.ks.len(), job.thresholds.len())
    } else {
        (0, 0)
    };
    Ok(job
        .items
        .iter()
        .zip(docs)
        .enumerate()
        .map(|(r, (it, d))| {
            let er = it.eraser.as_ref();
            let at = |j: usize, keep_only: bool| {
                out_probs[d.first + 2 * j + usize::from(keep_only)].clone()
            };
            EraserLine {
                sample_id: it.id.clone(),
                docid: er.map(|e| e.docid.clone()).unwrap_or_default(),
                label: it.label,
                explained_class: job.targets[r],
                predicted: job.preds[r],
                probs: job.probs[r].clone(),
                num_words: er.map_or(0, |e| e.num_tokens),
                covered_words: d.covered,
                word_scores: d.scores,
                evidence: er.map(|e| e.evidence.clone()).unwrap_or_default(),
                ks: job.ks.to_vec(),
                comprehensiveness: (0..nk).map(|j| at(j, false)).collect(),
                sufficiency: (0..nk).map(|j| at(j, true)).collect(),
                thresholds: job.thresholds[..nt].to_vec(),
                thresholded_comprehensiveness: (0..nt).map(|j| at(nk + j, false)).collect(),
                thresholded_sufficiency: (0..nt).map(|j| at(nk + j, true)).collect(),
                alignment_mismatch: d.mismatch,
            }
        })
        .collect())
}

/// Text perturbation records of every document of a chunk.
#[allow(clippy::too_many_arguments)]
fn perturbation_lines(
    clf: &mut TextClassifierModel,
    items: &[TextItem],
    encs: &[Encoded],
    relevance: &[Vec<f32>],
    preds: &[usize],
    targets: &[usize],
    config: &TextPerturbationConfig,
    eval_batch: usize,
) -> Result<Vec<TextPerturbationLine>> {
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(items.len());
    let mut masks: Vec<Vec<u8>> = Vec::with_capacity(items.len());
    let mut rels: Vec<Vec<f32>> = Vec::with_capacity(items.len());
    for (enc, rel) in encs.iter().zip(relevance) {
        let (mut i, mut m, mut r) = (enc.ids.clone(), vec![1u8; enc.ids.len()], rel.clone());
        if let LengthRule::PaddedTo(n) = config.length_rule {
            if i.len() > n {
                bail!("an input has {} word pieces, more than {n}", i.len());
            }
            i.resize(n, config.pad_id);
            m.resize(n, 0);
            r.resize(n, 0.0);
        }
        ids.push(i);
        masks.push(m);
        rels.push(r);
    }
    let docs: Vec<TextDocument> = items
        .iter()
        .enumerate()
        .map(|(r, it)| TextDocument {
            doc_id: &it.id,
            ids: &ids[r],
            mask: &masks[r],
            relevance: &rels[r],
            label: it.label,
        })
        .collect();
    let recs = run_text_perturbation(clf, &docs, config, eval_batch.max(1))?;
    Ok(recs
        .into_iter()
        .enumerate()
        .map(|(r, record)| TextPerturbationLine {
            sample_id: items[r].id.clone(),
            explained_class: targets[r],
            clean_pred: preds[r],
            record,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(tokens: &[&str], offsets: &[(usize, usize)]) -> Encoded {
        Encoded {
            ids: (0..tokens.len() as u32).map(|i| i + 10).collect(),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            offsets: offsets.to_vec(),
            special: tokens.iter().map(|t| t.starts_with('[')).collect(),
        }
    }

    #[test]
    fn pieces_map_to_words_and_edits_remove_whole_words() {
        // "a superb film" ; pieces [CLS] a super ##b film [SEP]
        let text = "a superb film";
        let e = enc(
            &["[CLS]", "a", "super", "##b", "film", "[SEP]"],
            &[(0, 0), (0, 1), (2, 7), (7, 8), (9, 13), (0, 0)],
        );
        let pw = piece_words(text, &e);
        assert_eq!(pw, vec![None, Some(0), Some(1), Some(1), Some(2), None]);
        let words: BTreeSet<usize> = [1].into_iter().collect();
        let (ids, mask) = edit(&e, &pw, &words, false, TextRemoval::Delete, 0);
        assert_eq!(ids, vec![10, 11, 14, 15]);
        assert_eq!(mask, vec![1; 4]);
        let (ids, _) = edit(&e, &pw, &words, true, TextRemoval::Delete, 0);
        assert_eq!(ids, vec![10, 12, 13, 15]);
        let (ids, mask) = edit(&e, &pw, &words, false, TextRemoval::Mask, 0);
        assert_eq!(ids, vec![10, 11, 0, 0, 14, 15]);
        assert_eq!(mask, vec![1, 1, 0, 0, 1, 1]);
        assert_eq!(softmax(&[0.0, 0.0]), vec![0.5, 0.5]);
    }
}
