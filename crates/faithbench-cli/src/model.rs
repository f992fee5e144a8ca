//! Model resolution (folder or weights + preset), loading, and the classifier wrappers the
//! evaluators drive: [`Classifier`] ([`ImageClassifier`], pixel perturbation) and
//! [`TextClassifierModel`] ([`TextClassifier`], token removal).
//!
//! A model folder is described by its `faithbench.json`; a Hugging Face BERT folder without one
//! (`config.json` with `"model_type": "bert"` next to `model.safetensors` / `pytorch_model.bin`)
//! is read as a `BertForSequenceClassification` checkpoint.

use burn::prelude::*;
use faithbench_eval::text_perturbation::TextClassifier;
use faithbench_eval::ImageClassifier;
use faithbench_models::preprocess::Normalization;
use faithbench_models::TextBatch;
use faithbench_models::{Explainable, ModelError, ModelInput};

pub use faithbench_models::source::ModelSource;

/// Runs a ViT on raw `[0, 1]` images, normalising them itself (the perturbation evaluator removes
/// pixels in raw space, spec §4.1).
pub struct Classifier<'a> {
    /// The model.
    pub model: &'a dyn Explainable,
    /// Its input normalisation.
    pub normalization: Normalization,
    /// Number of classes.
    pub num_classes: usize,
}

impl Classifier<'_> {
    /// Normalised model input from raw images `batch × 3 × h × w`.
    pub fn input(&self, raw: &[f32], batch: usize, h: usize, w: usize) -> ModelInput {
        let t = Tensor::<4>::from_data(
            TensorData::new(raw.to_vec(), [batch, 3, h, w]),
            &self.model.device(),
        );
        ModelInput::Image(self.normalization.apply(t))
    }

    /// Logits of a model input, row-major `batch × C`.
    pub fn logits_of(&self, input: &ModelInput) -> Result<Vec<f32>, ModelError> {
        let t = self.model.logits(input)?;
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| ModelError::Input(format!("cannot read logits: {e:?}")))
    }
}

impl ImageClassifier for Classifier<'_> {
    type Error = ModelError;

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn logits(
        &mut self,
        images: &[f32],
        batch: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, ModelError> {
        let input = self.input(images, batch, h, w);
        self.logits_of(&input)
    }
}

/// Runs a BERT classifier on token-id sequences with explicit attention masks (the text
/// perturbation and ERASER faithfulness tests).
///
/// Sequences of a call are right-padded to a common length with the `[PAD]` id and mask 0.
/// Trailing masked positions are cut off first (the longest row decides the length): keys with
/// mask 0 get exactly zero attention weight (the additive mask is `f32::MIN`), so this does not
/// change the logits of a row with at least one unmasked position. A row whose positions are all
/// masked (e.g. 100 % removed) keeps its full length, because there the attention is uniform over
/// all (masked) positions, as in the reference.
pub struct TextClassifierModel<'a> {
    /// The model.
    pub model: &'a dyn Explainable,
    /// Number of classes.
    pub num_classes: usize,
    /// The `[PAD]` id.
    pub pad_id: u32,
}

impl TextClassifierModel<'_> {
    /// The padded batch of `ids` / `masks` (rows may differ in length).
    pub fn batch(&self, ids: &[Vec<u32>], masks: &[Vec<u8>]) -> Result<TextBatch, ModelError> {
        let b = ids.len();
        if b == 0 || masks.len() != b {
            return Err(ModelError::Input(format!(
                "{b} id rows and {} mask rows",
                masks.len()
            )));
        }
        let mut n = 1;
        for (i, m) in ids.iter().zip(masks) {
            if i.len() != m.len() {
                return Err(ModelError::Input(format!(
                    "{} ids with {} mask values",
                    i.len(),
                    m.len()
                )));
            }
            let keep = match m.iter().rposition(|&v| v != 0) {
                Some(p) => p + 1,
                None => m.len(),
            };
            n = n.max(keep);
        }
        let mut flat_ids = vec![self.pad_id as i64; b * n];
        let mut flat_mask = vec![0i64; b * n];
        for (r, (i, m)) in ids.iter().zip(masks).enumerate() {
            for j in 0..i.len().min(n) {
                flat_ids[r * n + j] = i[j] as i64;
                flat_mask[r * n + j] = i64::from(m[j] != 0);
            }
        }
        let dev = self.model.device();
        Ok(TextBatch {
            input_ids: Tensor::from_data(TensorData::new(flat_ids, [b, n]), &dev),
            attention_mask: Tensor::from_data(TensorData::new(flat_mask, [b, n]), &dev),
            token_type_ids: Tensor::<2, Int>::zeros([b, n], &dev),
            lengths: vec![n; b],
        })
    }

    /// Logits rows of a batch of sequences.
    pub fn logits_rows(
        &self,
        ids: &[Vec<u32>],
        masks: &[Vec<u8>],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let batch = self.batch(ids, masks)?;
        let t = self.model.logits(&ModelInput::Text(batch))?;
        let v = t
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| ModelError::Input(format!("cannot read logits: {e:?}")))?;
        let c = self.num_classes;
        Ok(v.chunks(c).map(<[f32]>::to_vec).collect())
    }
}

impl TextClassifier for TextClassifierModel<'_> {
    type Error = ModelError;

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn logits(&mut self, ids: &[Vec<u32>], masks: &[Vec<u8>]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.logits_rows(ids, masks)
    }
}
