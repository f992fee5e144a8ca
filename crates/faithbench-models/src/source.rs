//! Where a model comes from, before its weights are read: a model folder (`faithbench.json`, or a
//! Hugging Face BERT folder with `config.json`) or a checkpoint file plus a named architecture
//! preset ([`MODEL_PRESETS`]). [`ModelSource::load`] reads the weights.

use std::path::{Path, PathBuf};

use burn::prelude::Device;

use crate::bert::BertConfig;
use crate::clip::Clip;
use crate::clip::ClipConfig;
use crate::error::{ModelError, Result};
use crate::load::{
    find_weights_in_dir, load_clip_model, load_model, read_spec, AnyModel, Layout, ModelSpec,
};
use crate::preprocess::Normalization;
use crate::trace::Family;
use crate::vit::VitConfig;

/// A named architecture for a bare checkpoint file (`weights` + `preset` in a run config).
#[derive(Debug, Clone, Copy)]
pub struct ModelPreset {
    /// Preset name (`vit_b16`, …).
    pub name: &'static str,
    /// One line on what it is and which checkpoints it fits.
    pub description: &'static str,
    /// The key layout assumed when the config names none.
    pub default_layout: Layout,
    /// The layouts it can be read from.
    pub layouts: &'static [Layout],
    /// The architecture.
    pub spec: fn(Layout) -> ModelSpec,
}

/// Every architecture preset.
pub const MODEL_PRESETS: &[ModelPreset] = &[
    ModelPreset {
        name: "vit_b16",
        description: "ViT-B/16 at 224, CLS pooling, LN eps 1e-6, mean = std = 0.5 (timm `jx_vit_base_p16_224`, HF ViTForImageClassification)",
        default_layout: Layout::Timm,
        layouts: &[Layout::Timm, Layout::HfVit],
        spec: |layout| ModelSpec::Vit {
            layout,
            config: VitConfig::vit_b16(),
        },
    },
    ModelPreset {
        name: "vit_l16",
        description: "ViT-L/16 at 224 (24 blocks, 16 heads, width 1024), mean = std = 0.5 (timm `jx_vit_large_p16_224`)",
        default_layout: Layout::Timm,
        layouts: &[Layout::Timm, Layout::HfVit],
        spec: |layout| ModelSpec::Vit {
            layout,
            config: VitConfig::vit_l16(),
        },
    },
    ModelPreset {
        name: "vit_mae_b16",
        description: "MAE fine-tuned ViT-B/16: global average pooling + fc_norm, ImageNet mean/std (`mae_finetuned_vit_base.pth`, state dict under `model`)",
        default_layout: Layout::Timm,
        layouts: &[Layout::Timm],
        spec: |layout| ModelSpec::Vit {
            layout,
            config: VitConfig::vit_mae_b16(),
        },
    },
    ModelPreset {
        name: "clip_vit_b32",
        description: "OpenAI CLIP ViT-B/32 (the paper's CLIP): image 224/32, width 768, 12 blocks; text width 512, 8 heads, 12 blocks; embed 512; CLIP mean/std. OpenAI state dict (`.pt`/`.pth`/safetensors) or HF CLIPModel",
        default_layout: Layout::OpenaiClip,
        layouts: &[Layout::OpenaiClip, Layout::HfClip],
        spec: |layout| ModelSpec::Clip {
            layout,
            config: ClipConfig::clip_vit_b32(),
        },
    },
    ModelPreset {
        name: "clip_vit_b16",
        description: "OpenAI CLIP ViT-B/16: as ViT-B/32 with 16-pixel patches (197 image tokens)",
        default_layout: Layout::OpenaiClip,
        layouts: &[Layout::OpenaiClip, Layout::HfClip],
        spec: |layout| ModelSpec::Clip {
            layout,
            config: ClipConfig::clip_vit_b16(),
        },
    },
    ModelPreset {
        name: "clip_vit_l14",
        description: "OpenAI CLIP ViT-L/14 at 224: image width 1024, 24 blocks, 16 heads; text width 768, 12 heads; embed 768",
        default_layout: Layout::OpenaiClip,
        layouts: &[Layout::OpenaiClip, Layout::HfClip],
        spec: |layout| ModelSpec::Clip {
            layout,
            config: ClipConfig::clip_vit_l14(),
        },
    },
];

/// The preset of this name.
pub fn model_preset(name: &str) -> Option<&'static ModelPreset> {
    MODEL_PRESETS.iter().find(|p| p.name == name)
}

/// The names of every preset, comma-separated (for error messages).
pub fn model_preset_names() -> String {
    MODEL_PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

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

/// Facts about a model that plans and explainers need, read from its spec (no weights).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelFacts {
    /// The family.
    pub family: Family,
    /// Number of attention layers.
    pub num_layers: usize,
    /// Number of classes.
    pub num_classes: usize,
}

/// The tokenizer file of a text model folder: `tokenizer.json`, else `vocab.txt`.
pub fn find_tokenizer(dir: &Path) -> Result<PathBuf> {
    ["tokenizer.json", "vocab.txt"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .ok_or_else(|| ModelError::Io {
            path: dir.join("tokenizer.json"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no tokenizer.json or vocab.txt in the model folder",
            ),
        })
}

impl ModelSource {
    /// A model folder: `faithbench.json` + weights, or a Hugging Face BERT folder (`config.json`
    /// with `"model_type": "bert"` next to `model.safetensors` / `pytorch_model.bin`). A
    /// `normalization` overrides the folder's (image models only).
    pub fn from_dir(dir: &Path, normalization: Option<Normalization>) -> Result<Self> {
        if !dir.is_dir() {
            return Err(ModelError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "model folder not found"),
            });
        }
        let fj = dir.join("faithbench.json");
        let hf = dir.join("config.json");
        let mut spec = if !fj.exists() && hf.exists() {
            let config_err = |reason: String| ModelError::Config {
                path: hf.clone(),
                reason,
            };
            let text = std::fs::read_to_string(&hf).map_err(|source| ModelError::Io {
                path: hf.clone(),
                source,
            })?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| config_err(format!("not JSON: {e}")))?;
            if v.get("model_type").and_then(|t| t.as_str()) != Some("bert") {
                return Err(config_err(format!(
                    "no faithbench.json next to it, and it is not a BERT config (model_type {}); \
                     write a faithbench.json or give `weights` + `preset`",
                    v.get("model_type")
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "missing".into())
                )));
            }
            ModelSpec::Bert {
                layout: Layout::HfBert,
                config: BertConfig::from_hf_json(&hf, false)?,
            }
        } else {
            read_spec(&fj)?
        };
        if let Some(n) = normalization {
            spec.set_normalization(n)
                .map_err(|reason| ModelError::Config { path: fj, reason })?;
        }
        let weights = find_weights_in_dir(dir)?;
        Ok(ModelSource {
            spec,
            weights,
            dir: Some(dir.to_path_buf()),
        })
    }

    /// A checkpoint file with a named architecture preset ([`MODEL_PRESETS`]) and key layout
    /// (default: the preset's).
    pub fn from_weights(
        weights: &Path,
        preset: &str,
        layout: Option<Layout>,
        normalization: Option<Normalization>,
    ) -> Result<Self> {
        if !weights.is_file() {
            return Err(ModelError::Io {
                path: weights.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "weights file not found"),
            });
        }
        let config_err = |reason: String| ModelError::Config {
            path: weights.to_path_buf(),
            reason,
        };
        let p = model_preset(preset).ok_or_else(|| {
            config_err(format!(
                "unknown preset `{preset}` (known: {})",
                model_preset_names()
            ))
        })?;
        let layout = layout.unwrap_or(p.default_layout);
        if !p.layouts.contains(&layout) {
            return Err(config_err(format!(
                "layout `{}` cannot build the preset `{preset}` (it reads {})",
                layout.name(),
                p.layouts
                    .iter()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut spec = (p.spec)(layout);
        if let Some(n) = normalization {
            spec.set_normalization(n).map_err(config_err)?;
        }
        Ok(ModelSource {
            spec,
            weights: weights.to_path_buf(),
            dir: None,
        })
    }

    /// Family, depth and classes from the model description (no weights read).
    pub fn facts(&self) -> ModelFacts {
        self.spec.facts()
    }

    /// The ViT config, or an error naming the weights for other families.
    pub fn vit_config(&self) -> Result<VitConfig> {
        match &self.spec {
            ModelSpec::Vit { config, .. } => Ok(config.clone()),
            _ => Err(ModelError::Config {
                path: self.weights.clone(),
                reason: format!("this is a {} model, not a ViT", self.facts().family.name()),
            }),
        }
    }

    /// The BERT config, or an error naming the weights for other families.
    pub fn bert_config(&self) -> Result<BertConfig> {
        match &self.spec {
            ModelSpec::Bert { config, .. } => Ok(config.clone()),
            _ => Err(ModelError::Config {
                path: self.weights.clone(),
                reason: format!("this is a {} model, not a BERT", self.facts().family.name()),
            }),
        }
    }

    /// The CLIP config, or an error naming the weights for other families.
    pub fn clip_config(&self) -> Result<ClipConfig> {
        match &self.spec {
            ModelSpec::Clip { config, .. } => Ok(config.clone()),
            _ => Err(ModelError::Config {
                path: self.weights.clone(),
                reason: format!("this is a {} model, not a CLIP", self.facts().family.name()),
            }),
        }
    }

    /// The tokenizer file of a text model (its folder's `tokenizer.json` or `vocab.txt`).
    pub fn tokenizer_path(&self) -> Result<PathBuf> {
        let dir = self.dir.as_deref().ok_or_else(|| ModelError::Config {
            path: self.weights.clone(),
            reason: "text models need a model folder with tokenizer.json or vocab.txt".into(),
        })?;
        find_tokenizer(dir)
    }

    /// Loads the weights onto `device` (ViT and BERT; a CLIP spec is an error naming
    /// [`ModelSource::load_clip`]).
    pub fn load(&self, device: &Device) -> Result<AnyModel> {
        load_model(&self.weights, self.spec.clone(), device)
    }

    /// Loads a CLIP onto `device` (an error for other families).
    pub fn load_clip(&self, device: &Device) -> Result<Clip> {
        load_clip_model(&self.weights, self.spec.clone(), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_build_their_architectures() {
        for p in MODEL_PRESETS {
            for &l in p.layouts {
                let spec = (p.spec)(l);
                assert_eq!(spec.layout(), l, "{}", p.name);
            }
            assert!(p.layouts.contains(&p.default_layout), "{}", p.name);
        }
        assert!(model_preset("vit_b16").is_some());
        assert!(model_preset("vit_x").is_none());
        assert_eq!(
            model_preset_names(),
            "vit_b16, vit_l16, vit_mae_b16, clip_vit_b32, clip_vit_b16, clip_vit_l14"
        );
    }
}
