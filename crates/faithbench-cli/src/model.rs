//! Model resolution (folder or weights + preset), loading, and the classifier wrappers the
//! evaluators drive: [`Classifier`] ([`ImageClassifier`], pixel perturbation) and
//! [`TextClassifierModel`] ([`TextClassifier`], token removal).
//!
//! A model folder is described by its `faithbench.json`; a Hugging Face BERT folder without one
//! (`config.json` with `"model_type": "bert"` next to `model.safetensors` / `pytorch_model.bin`)
//! is read as a `BertForSequenceClassification` checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use faithbench_eval::text_perturbation::TextClassifier;
use faithbench_eval::ImageClassifier;
use faithbench_models::bert::BertConfig;
use faithbench_models::load::{find_weights_in_dir, read_spec, VitSpec};
use faithbench_models::preprocess::Normalization;
use faithbench_models::vit::VitConfig;
use faithbench_models::TextBatch;
use faithbench_models::{AnyModel, Explainable, Family, Layout, ModelError, ModelInput, ModelSpec};

/// Where a model comes from and what it is, before loading.
#[derive(Debug, Clone)]
pub struct ModelSource {
    /// The description (architecture, layout, normalisation).
    pub spec: ModelSpec,
    /// The checkpoint file.
    pub weights: PathBuf,
    /// The model folder, if one was given.
    pub dir: Option<PathBuf>,
}

/// Facts about a resolved model that plans and explainers need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelFacts {
    /// ViT or BERT.
    pub family: Family,
    /// Number of attention layers.
    pub num_layers: usize,
    /// Number of classes.
    pub num_classes: usize,
}

impl ModelSource {
    /// A model folder (`faithbench.json` + weights).
    pub fn from_dir(dir: &Path, normalization: Option<Normalization>) -> Result<Self> {
        if !dir.is_dir() {
            bail!("{}: model folder not found", dir.display());
        }
        let fj = dir.join("faithbench.json");
        let hf = dir.join("config.json");
        let mut spec = if !fj.exists() && hf.exists() {
            let text = std::fs::read_to_string(&hf)
                .with_context(|| format!("{}: cannot read", hf.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", hf.display()))?;
            if v.get("model_type").and_then(|t| t.as_str()) != Some("bert") {
                bail!(
                    "{}: no faithbench.json, and config.json is not a BERT config (model_type {}); \
                     write a faithbench.json or give `weights` + `preset`",
                    dir.display(),
                    v.get("model_type").map(|t| t.to_string()).unwrap_or_else(|| "missing".into())
                );
            }
            ModelSpec::Bert {
                layout: Layout::HfBert,
                config: BertConfig::from_hf_json(&hf, false)?,
            }
        } else {
            read_spec(&fj)?
        };
        if let Some(n) = normalization {
            set_normalization(&mut spec, n, &dir.join("faithbench.json"))?;
        }
        let weights = find_weights_in_dir(dir)?;
        Ok(ModelSource {
            spec,
            weights,
            dir: Some(dir.to_path_buf()),
        })
    }

    /// A checkpoint file with a preset architecture.
    pub fn from_weights(
        weights: &Path,
        preset: &str,
        layout: Option<Layout>,
        normalization: Option<Normalization>,
    ) -> Result<Self> {
        if !weights.is_file() {
            bail!("{}: weights file not found", weights.display());
        }
        let mut config = VitConfig::preset(preset).with_context(|| {
            format!("unknown preset `{preset}` (known: vit_b16, vit_l16, vit_mae_b16)")
        })?;
        if let Some(n) = normalization {
            config.normalization = n;
        }
        let layout = layout.unwrap_or(Layout::Timm);
        if layout == Layout::HfBert {
            bail!(
                "layout `hf_bert` cannot build the ViT preset `{preset}`; use a BERT model folder"
            );
        }
        Ok(ModelSource {
            spec: ModelSpec::Vit {
                layout,
                config: VitSpec::from(&config),
            },
            weights: weights.to_path_buf(),
            dir: None,
        })
    }

    /// Family, depth and classes from the spec (no weights read).
    pub fn facts(&self) -> ModelFacts {
        match &self.spec {
            ModelSpec::Vit { config, .. } => ModelFacts {
                family: Family::Vit,
                num_layers: config.depth,
                num_classes: config.num_classes,
            },
            ModelSpec::Bert { config, .. } => ModelFacts {
                family: Family::Bert,
                num_layers: config.depth,
                num_classes: config.num_classes,
            },
        }
    }

    /// The ViT config, or an error for text models.
    pub fn vit_config(&self) -> Result<VitConfig> {
        match &self.spec {
            ModelSpec::Vit { config, .. } => Ok(config.clone().into()),
            ModelSpec::Bert { .. } => bail!(
                "{}: this is a BERT (text) model; image datasets need a ViT",
                self.weights.display()
            ),
        }
    }

    /// The tokenizer file of a BERT model folder: `tokenizer.json`, else `vocab.txt`.
    pub fn tokenizer_path(&self) -> Result<PathBuf> {
        let dir = self.dir.as_deref().with_context(|| {
            format!(
                "{}: text models need a model folder with tokenizer.json or vocab.txt",
                self.weights.display()
            )
        })?;
        ["tokenizer.json", "vocab.txt"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .with_context(|| {
                format!(
                    "{}: no tokenizer.json or vocab.txt in the model folder",
                    dir.display()
                )
            })
    }

    /// The BERT config, or an error for image models.
    pub fn bert_config(&self) -> Result<BertConfig> {
        match &self.spec {
            ModelSpec::Bert { config, .. } => Ok(config.clone()),
            ModelSpec::Vit { .. } => bail!(
                "{}: this is a ViT (image) model; text datasets need a BERT",
                self.weights.display()
            ),
        }
    }

    /// Loads the weights onto `device`.
    pub fn load(&self, device: &Device) -> Result<AnyModel> {
        Ok(faithbench_models::load_model(
            &self.weights,
            self.spec.clone(),
            device,
        )?)
    }
}

fn set_normalization(spec: &mut ModelSpec, n: Normalization, path: &Path) -> Result<()> {
    match spec {
        ModelSpec::Vit { config, .. } => {
            let (m, s) = n.mean_std();
            config.norm_mean = m;
            config.norm_std = s;
            Ok(())
        }
        ModelSpec::Bert { .. } => bail!(
            "{}: `normalization` applies to image models only",
            path.display()
        ),
    }
}

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
