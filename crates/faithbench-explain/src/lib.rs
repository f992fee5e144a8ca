//! faithbench-explain: token-attribution methods for transformers, behind one [`Explainer`]
//! trait, batched, with the exact definitions of `docs/explainers.md` (parity-tested against a
//! PyTorch reference).
//!
//! | config `method`            | file                          | paper / reference                              |
//! |----------------------------|-------------------------------|------------------------------------------------|
//! | `ours_h`, `ours_t`         | [`beyond`]                    | Chen et al. 2023 (head-wise / token-wise)      |
//! | `raw_attention`            | [`raw_attention`]             | last-layer attention                            |
//! | `rollout`                  | [`rollout`]                   | Abnar & Zuidema 2020                            |
//! | `attn_gradcam`             | [`attn_gradcam`]              | GradCAM on the last attention map (Chefer)      |
//! | `generic_attention`        | [`generic_attention`]         | Chefer et al. 2021b, both clamp orders          |
//! | `partial_lrp`              | [`partial_lrp`]               | Voita et al. 2019 via Chefer's LRP              |
//! | `transformer_attribution`  | [`transformer_attribution`]   | Chefer et al. 2021a (LRP ⊙ gradient, rollout)   |
//! | `attnlrp`                  | [`attnlrp`] ([`lrp_rules`])   | Achtibat et al. 2024 (lxt, Gradient × Input)    |
//! | `cp_lrp`                   | [`cp_lrp`] ([`lrp_rules`])    | Ali et al. 2022 (lxt, Gradient × Input)         |
//! | `input_x_gradient`         | [`input_x_gradient`]          | gradient × input at the model input             |
//! | `integrated_gradients`     | [`integrated_gradients`]      | Sundararajan et al. 2017, zero baseline         |
//! | `random`                   | [`random`]                    | seeded uniform noise, a sanity floor            |
//! | `precomputed`              | [`precomputed`]               | maps computed elsewhere (`.npy` / `.safetensors`)|
//!
//! Output: [`TokenMaps`], one f32 vector per sample — patch tokens (N−1) for images, all N
//! tokens for text (zero at padding) — before upsampling; evaluators upsample and min–max.
//! The four input-gradient methods (AttnLRP, CP-LRP, input × gradient, IG) are signed.
//!
//! Constant maps: where a method min–max normalises internally (raw attention, GradCAM), a
//! constant vector becomes all zeros instead of the reference's NaN.
//!
//! # Adding an explainer
//! 1. Create `src/my_method.rs` with a parameter struct (`serde::Deserialize + Serialize`,
//!    `#[serde(deny_unknown_fields)]`, serde defaults; a model-dependent parameter is an
//!    `Option` whose per-family default goes in [`defaults::FAMILY_DEFAULTS`]), a type
//!    implementing [`Explainer`] — call `model.trace(..)` with the
//!    [`TraceOptions`](faithbench_models::TraceOptions) you need (attention, block inputs/value
//!    projections, gradients of chosen layers), compute one vector per sample, return
//!    [`TokenMaps`] (use [`common`]'s `groups`/`readout` to handle text padding and the model's
//!    read-out) — and a `pub const METHOD: MethodInfo`.
//! 2. Add `crate::my_method::METHOD` to [`registry::METHODS`]. `faithbench list`, config
//!    validation and the docs' method table pick it up from there.
//! 3. Add a hand-computed unit test and, if a reference exists, a parity fixture.
//!
//! `docs/extending.md` lists the files each kind of extension touches.
//!
//! An explainer written outside faithbench (Python, another toolkit) needs no code: save its maps
//! and use the `precomputed` method.

pub mod attn_gradcam;
pub mod attnlrp;
pub mod beyond;
pub mod common;
pub mod cp_lrp;
pub mod defaults;
pub mod generic_attention;
pub mod input_x_gradient;
pub mod integrated_gradients;
pub mod lrp_rules;
pub mod partial_lrp;
pub mod precomputed;
pub mod presets;
pub mod random;
pub mod raw_attention;
pub mod registry;
pub mod rollout;
pub mod transformer_attribution;

use faithbench_models::{Explainable, ModelError, ModelInput};

pub use registry::{MethodConfig, MethodInfo, METHODS};
use serde::{Deserialize, Serialize};

/// Errors of the explainers.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The model failed (bad input shape, missing gradients ...).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Invalid method parameters.
    #[error("invalid explainer config: {0}")]
    Config(String),
    /// A precomputed map is missing or malformed.
    #[error("{path}: precomputed map for sample `{id}`: {reason}")]
    Precomputed {
        /// File or folder.
        path: std::path::PathBuf,
        /// Sample id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A map holds NaN or infinity.
    #[error("{method}: non-finite relevance for batch row {row} at token {token}")]
    NonFinite {
        /// Method name.
        method: String,
        /// Batch row.
        row: usize,
        /// Token index.
        token: usize,
    },
    /// A bug: a quantity that should have been recorded was not.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, ExplainError>;

/// Token relevance maps of a batch: row `b` is `values[b*len .. b*len + len]`, of which the
/// first `valid[b]` entries are real tokens (text rows are zero-padded to `len`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenMaps {
    /// Batch size.
    pub batch: usize,
    /// Row length.
    pub len: usize,
    /// Row-major values.
    pub values: Vec<f32>,
    /// Real tokens per row.
    pub valid: Vec<usize>,
}

impl TokenMaps {
    /// Row `b` (its real tokens only).
    pub fn row(&self, b: usize) -> &[f32] {
        &self.values[b * self.len..b * self.len + self.valid[b]]
    }
}

/// One batch to explain.
#[derive(Debug, Clone, Copy)]
pub struct ExplainBatch<'a> {
    /// Model input (normalised images or tokenised text).
    pub input: &'a ModelInput,
    /// Explained class per sample.
    pub targets: &'a [usize],
    /// Sample ids (used by `random` seeding and `precomputed` look-up).
    pub ids: &'a [String],
}

/// An attribution method.
pub trait Explainer: Send + Sync {
    /// Short name with its variant, e.g. `generic_attention[mean_then_clamp]`.
    fn name(&self) -> String;
    /// Resolved parameters (for cache keys and manifests).
    fn params(&self) -> serde_json::Value;
    /// Computes the maps of a batch.
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps>;
}

/// The reference code's MAE read-out quirk (pitfall P8): raw attention and GradCAM average over
/// keys while every other method averages over query rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaeAxis {
    /// Average over query rows (consistent with rollout/Ours/generic; faithbench's default).
    #[default]
    Query,
    /// Average over keys, as the reference code does for raw attention and GradCAM.
    Key,
}
