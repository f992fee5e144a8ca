//! faithbench-models: the transformer models of faithbench (ViT-B/16, ViT-L/16, ViT-MAE,
//! BERT classifiers, CLIP) built on burn, with one self-attention block that records what
//! attribution methods need (attention probabilities, their gradients, block inputs and
//! value projections), loaders for the checkpoints users have (timm, Hugging Face, MAE `.pth`,
//! OpenAI CLIP state dicts), PIL-compatible preprocessing, BERT tokenisation and CLIP's BPE
//! tokenizer. CLIP is explained through two views ([`clip::ClipImageClassifier`],
//! [`clip::ClipTextView`]).
//!
//! Devices: models run on burn's pure-Rust `flex` CPU backend by default ([`default_device`]);
//! explainers need the autodiff decorator ([`autodiff_device`]). GPU backends are the cargo
//! features `wgpu` and `cuda`.

pub mod attention;
pub mod bert;
pub mod clip;
pub mod clip_tokenize;
pub mod error;
pub mod load;
pub mod lrp;
pub mod precision;
pub mod preprocess;
pub mod save;
pub mod source;
pub mod tokenize;
pub mod trace;
pub mod vit;
pub mod weights;

pub use error::{ModelError, Result};
pub use load::{
    load_clip_dir, load_clip_model, load_model, load_model_dir, AnyModel, Layout, ModelSpec,
};
pub use source::{
    find_tokenizer, model_preset, ModelFacts, ModelPreset, ModelSource, MODEL_PRESETS,
};
pub use trace::{
    Explainable, Family, ForwardTrace, GradRequest, LayerTrace, ModelInput, Objective, Readout,
    TextBatch, TraceOptions, VprojSource,
};

use burn::prelude::Device;

/// The plain CPU device (burn flex).
pub fn default_device() -> Device {
    Device::flex()
}

/// The CPU device with autodiff, on which explainers run models.
pub fn autodiff_device() -> Device {
    Device::flex().autodiff()
}

/// A device by name: `cpu` (flex), `wgpu` / `cuda` when compiled with those features.
pub fn device_by_name(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        other => Err(ModelError::Input(format!(
            "unknown device `{other}` (this build supports: cpu{}{})",
            if cfg!(feature = "wgpu") { ", wgpu" } else { "" },
            if cfg!(feature = "cuda") { ", cuda" } else { "" }
        ))),
    }
}
