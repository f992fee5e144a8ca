//! Texts: documents tokenised to `[CLS] text [SEP]` (truncated to the dataset's word-piece
//! budget, keeping the final `[SEP]`), classified in one padded batch per chunk, explained for
//! their class (the ground truth by default, pitfall P12); token maps clamped at 0 for the
//! evaluators (the reference clamps text maps), shown unclamped in the gallery.

use std::path::Path;

use faithbench_data::{DatasetReader, TextItem};
use faithbench_eval::{
    argmax, softmax, EvalChunk, Evaluator, ExplainedClass, Reexplain, TextChunk, TextDocView,
};
use faithbench_explain::Explainer;
use faithbench_models::tokenize::{batch_from_ids, Encoded, TextTokenizer};
use faithbench_models::{Explainable, ModelInput};

use crate::classifier::TextModel;
use crate::error::{Context, Error, Result};
use crate::gallery;
use crate::modality::reexplain::{MapForm, ModelReexplain};
use crate::modality::Modality;
use crate::plan::{PlanDataset, PlanExplainer};

/// The text side of a run: a dataset reader, the model as a classifier and its tokenizer.
pub struct TextModality<'a> {
    /// The dataset.
    pub reader: &'a dyn DatasetReader,
    /// Dataset name (for messages).
    pub dataset: &'a str,
    /// The model as a classifier on token ids.
    pub classifier: TextModel<'a>,
    /// Its tokenizer.
    pub tokenizer: &'a TextTokenizer,
    /// Word-piece budget incl. `[CLS]`/`[SEP]`.
    pub max_length: usize,
    /// Class names in label order (for the gallery).
    pub classes: Vec<String>,
}

/// A loaded chunk of documents.
pub struct TextBatchChunk {
    /// The documents.
    pub items: Vec<TextItem>,
    /// Their encodings.
    pub encs: Vec<Encoded>,
    /// The padded model input.
    pub input: ModelInput,
    /// Clean class probabilities.
    pub probs: Vec<Vec<f64>>,
    /// Clean predictions.
    pub preds: Vec<usize>,
}

/// Token maps of a chunk.
pub struct TextMaps {
    /// As the explainer returned them (for the gallery).
    pub raw: Vec<Vec<f32>>,
    /// Clamped at 0 (for the evaluators).
    pub clamped: Vec<Vec<f32>>,
}

impl Modality for TextModality<'_> {
    type Chunk = TextBatchChunk;
    type Maps = TextMaps;

    fn model(&self) -> &dyn Explainable {
        self.classifier.model
    }

    fn load(&mut self, positions: &[usize], ids: &[String]) -> Result<TextBatchChunk> {
        let nc = self.classifier.num_classes;
        let mut items = Vec::with_capacity(positions.len());
        let mut encs = Vec::with_capacity(positions.len());
        for (&p, id) in positions.iter().zip(ids) {
            let it = self.reader.text(p)?;
            if &it.id != id {
                return Err(Error::input(format!(
                    "dataset `{}` changed since the plan was made: position {p} holds `{}`, the plan says `{id}`",
                    self.dataset, it.id
                )));
            }
            if it.label >= nc {
                return Err(Error::input(format!(
                    "sample `{}`: label {} is out of range for a model with {nc} classes",
                    it.id, it.label
                )));
            }
            encs.push(
                self.tokenizer
                    .encode(&it.text, self.max_length)
                    .context(|| format!("tokenising `{}`", it.id))?,
            );
            items.push(it);
        }
        let seqs: Vec<Vec<u32>> = encs.iter().map(|e| e.ids.clone()).collect();
        let batch = batch_from_ids(
            &seqs,
            self.tokenizer.pad_id(),
            &self.classifier.model.device(),
        )?;
        Ok(TextBatchChunk {
            items,
            encs,
            input: ModelInput::Text(batch),
            probs: Vec::new(),
            preds: Vec::new(),
        })
    }

    fn classify(&mut self, chunk: &mut TextBatchChunk) -> Result<()> {
        let logits = self.classifier.logits_of(&chunk.input)?;
        let c = self.classifier.num_classes;
        chunk.probs = logits.chunks(c).map(softmax).collect();
        chunk.preds = logits.chunks(c).map(argmax).collect();
        Ok(())
    }

    fn input<'c>(&self, chunk: &'c TextBatchChunk) -> &'c ModelInput {
        &chunk.input
    }

    fn predictions<'c>(&self, chunk: &'c TextBatchChunk) -> &'c [usize] {
        &chunk.preds
    }

    fn labels(&self, chunk: &TextBatchChunk) -> Vec<Option<usize>> {
        chunk.items.iter().map(|it| Some(it.label)).collect()
    }

    fn map_shapes(&self, chunk: &TextBatchChunk) -> Vec<Vec<usize>> {
        chunk.encs.iter().map(|e| vec![e.ids.len()]).collect()
    }

    fn prepare(&self, _: &TextBatchChunk, maps: Vec<Vec<f32>>) -> Result<(TextMaps, usize)> {
        let clamped = maps
            .iter()
            .map(|m| m.iter().map(|&v| v.max(0.0)).collect())
            .collect();
        Ok((TextMaps { raw: maps, clamped }, 0))
    }

    fn gallery(
        &self,
        out: &Path,
        dataset: &PlanDataset,
        chunk: &TextBatchChunk,
        maps: &TextMaps,
        row: usize,
        position: usize,
        explainer: &PlanExplainer,
        class: ExplainedClass,
        target: usize,
    ) -> Result<()> {
        let it = &chunk.items[row];
        let path = gallery::text_item_path(out, &dataset.name, position, &explainer.stem, class);
        let class_name = |k: usize| {
            self.classes
                .get(k)
                .cloned()
                .unwrap_or_else(|| k.to_string())
        };
        let meta = vec![
            ("sample".to_string(), it.id.clone()),
            ("explainer".to_string(), explainer.label.clone()),
            ("label".to_string(), class_name(it.label)),
            ("predicted".to_string(), class_name(chunk.preds[row])),
            ("explained class".to_string(), class_name(target)),
        ];
        gallery::write_text_item(
            &path,
            &format!("{} — {} #{position}", explainer.label, dataset.name),
            &chunk.encs[row].tokens,
            &maps.raw[row],
            &meta,
        )
    }

    fn evaluate(
        &self,
        evaluator: &dyn Evaluator,
        chunk: &TextBatchChunk,
        maps: &TextMaps,
        targets: &[usize],
        eval_batch: usize,
        explainer: Option<&dyn Explainer>,
    ) -> Result<Vec<String>> {
        let mut classifier = self.classifier;
        let mut re = ModelReexplain::of_chunk(
            self.classifier.model,
            explainer,
            &chunk.input,
            targets,
            chunk.items.iter().map(|it| it.id.clone()),
            MapForm::Clamped,
        );
        let docs = chunk
            .items
            .iter()
            .enumerate()
            .map(|(r, it)| {
                let enc = &chunk.encs[r];
                TextDocView {
                    id: &it.id,
                    text: &it.text,
                    label: it.label,
                    eraser: it.eraser.as_ref(),
                    ids: &enc.ids,
                    tokens: &enc.tokens,
                    offsets: &enc.offsets,
                    special: &enc.special,
                    relevance: &maps.clamped[r],
                    probs: &chunk.probs[r],
                    predicted: chunk.preds[r],
                    explained_class: targets[r],
                }
            })
            .collect();
        let pad_id = self.classifier.pad_id;
        let mut ec = EvalChunk::Text(TextChunk {
            docs,
            classifier: &mut classifier,
            pad_id,
            eval_batch,
            reexplain: re.as_mut().map(|r| r as &mut dyn Reexplain),
        });
        Ok(evaluator.evaluate(&mut ec)?)
    }
}
