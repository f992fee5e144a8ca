//! The models as the classifiers evaluators drive: [`ImageModel`] (raw `[0, 1]` images,
//! normalised here, because perturbation removes pixels in raw space, protocols §4.1) and
//! [`TextModel`] (token ids with attention masks).

use burn::prelude::*;
use faithbench_eval::evaluator::ClassifierError;
use faithbench_eval::text_perturbation::TextClassifier;
use faithbench_eval::ImageClassifier;
use faithbench_models::clip::{Clip, ClipImageClassifier};
use faithbench_models::clip_tokenize::ClipTokenizer;
use faithbench_models::preprocess::Normalization;
use faithbench_models::{Explainable, ModelError, ModelInput, TextBatch};

fn logits_vec(t: Tensor<2>) -> Result<Vec<f32>, ModelError> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ModelError::Input(format!("cannot read logits: {e:?}")))
}

/// A CLIP as a zero-shot image classifier: the image tower against the text embeddings of one
/// prompt per class (computed once here; OpenAI's tokenizer, truncating at the model's context
/// length).
pub fn clip_zero_shot(clip: &Clip, prompts: &[String]) -> Result<ClipImageClassifier, ModelError> {
    let tok = ClipTokenizer::new()?;
    let texts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let (batch, _) =
        tok.tokenize_batch(&texts, clip.config.context_length, true, &clip.device())?;
    ClipImageClassifier::from_prompts(clip.clone(), &batch)
}

/// Runs an image model on raw `[0, 1]` images, normalising them itself.
#[derive(Clone, Copy)]
pub struct ImageModel<'a> {
    /// The model.
    pub model: &'a dyn Explainable,
    /// Its input normalisation.
    pub normalization: Normalization,
    /// Number of classes.
    pub num_classes: usize,
}

impl ImageModel<'_> {
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
        logits_vec(self.model.logits(input)?)
    }
}

impl ImageClassifier for ImageModel<'_> {
    type Error = ClassifierError;

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn logits(
        &mut self,
        images: &[f32],
        batch: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, ClassifierError> {
        let input = self.input(images, batch, h, w);
        self.logits_of(&input)
            .map_err(|e| ClassifierError(Box::new(e)))
    }
}

/// Runs a text classifier on token-id sequences with explicit attention masks (the text
/// perturbation and ERASER faithfulness tests).
///
/// Sequences of a call are right-padded to a common length with the `[PAD]` id and mask 0.
/// Trailing masked positions are cut off first (the longest row decides the length): keys with
/// mask 0 get exactly zero attention weight (the additive mask is `f32::MIN`), so this does not
/// change the logits of a row with at least one unmasked position. A row whose positions are all
/// masked (e.g. 100 % removed) keeps its full length, because there the attention is uniform over
/// all (masked) positions, as in the reference.
#[derive(Clone, Copy)]
pub struct TextModel<'a> {
    /// The model.
    pub model: &'a dyn Explainable,
    /// Number of classes.
    pub num_classes: usize,
    /// The `[PAD]` id.
    pub pad_id: u32,
}

impl TextModel<'_> {
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
        let v = logits_vec(self.model.logits(&ModelInput::Text(batch))?)?;
        Ok(v.chunks(self.num_classes).map(<[f32]>::to_vec).collect())
    }

    /// Logits of a model input, row-major `batch × C`.
    pub fn logits_of(&self, input: &ModelInput) -> Result<Vec<f32>, ModelError> {
        logits_vec(self.model.logits(input)?)
    }
}

impl TextClassifier for TextModel<'_> {
    type Error = ClassifierError;

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn logits(
        &mut self,
        ids: &[Vec<u32>],
        masks: &[Vec<u8>],
    ) -> Result<Vec<Vec<f32>>, ClassifierError> {
        self.logits_rows(ids, masks)
            .map_err(|e| ClassifierError(Box::new(e)))
    }
}
