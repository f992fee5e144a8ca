//! Model resolution (folder or weights + preset), loading, and the [`ImageClassifier`] wrapper the
//! perturbation evaluator drives.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use faithbench_eval::ImageClassifier;
use faithbench_models::load::{find_weights_in_dir, read_spec, VitSpec};
use faithbench_models::preprocess::Normalization;
use faithbench_models::vit::VitConfig;
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
        let mut spec = read_spec(&dir.join("faithbench.json"))?;
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
