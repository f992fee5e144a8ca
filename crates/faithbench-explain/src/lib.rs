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
//! | `random`                   | [`random`]                    | seeded uniform noise, a sanity floor            |
//! | `precomputed`              | [`precomputed`]               | maps computed elsewhere (`.npy` / `.safetensors`)|
//!
//! Output: [`TokenMaps`], one f32 vector per sample — patch tokens (N−1) for images, all N
//! tokens for text (zero at padding) — before upsampling; evaluators upsample and min–max.
//!
//! Constant maps: where a method min–max normalises internally (raw attention, GradCAM), a
//! constant vector becomes all zeros instead of the reference's NaN.
//!
//! # Adding an explainer
//! 1. Create `src/my_method.rs` with a config struct (`serde::Deserialize`,
//!    `#[serde(deny_unknown_fields)]`, defaults) and a type implementing [`Explainer`]:
//!    call `model.trace(..)` with the [`TraceOptions`](faithbench_models::TraceOptions) you need
//!    (attention, block inputs/value projections, gradients of chosen layers), compute one vector
//!    per sample, return [`TokenMaps`] (use [`common`]'s `groups`/`readout` to handle text padding
//!    and the model's read-out).
//! 2. Add a variant to [`MethodConfig`] and a line to [`MethodConfig::build`].
//! 3. Add a hand-computed unit test and, if a reference exists, a parity fixture.
//!
//! An explainer written outside faithbench (Python, another toolkit) needs no code: save its maps
//! and use the `precomputed` method.

pub mod attn_gradcam;
pub mod beyond;
pub mod common;
pub mod generic_attention;
pub mod partial_lrp;
pub mod precomputed;
pub mod presets;
pub mod random;
pub mod raw_attention;
pub mod rollout;
pub mod transformer_attribution;

use faithbench_models::{Explainable, Family, ModelError, ModelInput};
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

/// Every method with its parameters, as written in a run config (`method = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum MethodConfig {
    /// See [`raw_attention`].
    RawAttention(raw_attention::RawAttentionConfig),
    /// See [`rollout`].
    Rollout(rollout::RolloutConfig),
    /// See [`attn_gradcam`].
    AttnGradcam(attn_gradcam::GradcamConfig),
    /// See [`generic_attention`].
    GenericAttention(generic_attention::GenericConfig),
    /// Ours-H, see [`beyond`].
    OursH(beyond::BeyondConfig),
    /// Ours-T, see [`beyond`].
    OursT(beyond::BeyondConfig),
    /// See [`partial_lrp`].
    PartialLrp(partial_lrp::PartialLrpConfig),
    /// See [`transformer_attribution`].
    TransformerAttribution(transformer_attribution::TaConfig),
    /// See [`random`].
    Random(random::RandomConfig),
    /// See [`precomputed`].
    Precomputed(precomputed::PrecomputedConfig),
}

impl MethodConfig {
    /// The config's `method` tag (e.g. `ours_h`).
    pub fn method(&self) -> &'static str {
        match self {
            MethodConfig::RawAttention(_) => "raw_attention",
            MethodConfig::Rollout(_) => "rollout",
            MethodConfig::AttnGradcam(_) => "attn_gradcam",
            MethodConfig::GenericAttention(_) => "generic_attention",
            MethodConfig::OursH(_) => "ours_h",
            MethodConfig::OursT(_) => "ours_t",
            MethodConfig::PartialLrp(_) => "partial_lrp",
            MethodConfig::TransformerAttribution(_) => "transformer_attribution",
            MethodConfig::Random(_) => "random",
            MethodConfig::Precomputed(_) => "precomputed",
        }
    }

    /// The same config with every model-dependent default made explicit (start layers, LRP
    /// rules, row normalisation) for a model of `family` with `num_layers` layers. An explainer
    /// built from the result computes exactly what one built from `self` computes on that model;
    /// run manifests and cache keys use it so that they name the values actually used.
    pub fn resolved(&self, family: Family, num_layers: usize) -> MethodConfig {
        let mut c = self.clone();
        match &mut c {
            MethodConfig::Rollout(r) => {
                r.start_layer
                    .get_or_insert(rollout::default_start(family, num_layers));
            }
            MethodConfig::GenericAttention(g) => {
                g.start_layer
                    .get_or_insert(generic_attention::default_start(family, num_layers));
            }
            MethodConfig::OursH(b) => {
                b.start_layer.get_or_insert(beyond::default_start(
                    beyond::Variant::Head,
                    family,
                    num_layers,
                ));
            }
            MethodConfig::OursT(b) => {
                b.start_layer.get_or_insert(beyond::default_start(
                    beyond::Variant::Token,
                    family,
                    num_layers,
                ));
            }
            MethodConfig::PartialLrp(p) => {
                p.rules.get_or_insert(partial_lrp::default_rules(family));
            }
            MethodConfig::TransformerAttribution(t) => {
                t.rules.get_or_insert(partial_lrp::default_rules(family));
                t.start_layer
                    .get_or_insert(transformer_attribution::default_start(family, num_layers));
                t.row_normalise
                    .get_or_insert(transformer_attribution::default_row_normalise(family));
            }
            MethodConfig::RawAttention(_)
            | MethodConfig::AttnGradcam(_)
            | MethodConfig::Random(_)
            | MethodConfig::Precomputed(_) => {}
        }
        c
    }

    /// Builds the explainer.
    pub fn build(&self) -> Result<Box<dyn Explainer>> {
        Ok(match self {
            MethodConfig::RawAttention(c) => Box::new(raw_attention::RawAttention(c.clone())),
            MethodConfig::Rollout(c) => Box::new(rollout::Rollout(c.clone())),
            MethodConfig::AttnGradcam(c) => Box::new(attn_gradcam::AttnGradcam(c.clone())),
            MethodConfig::GenericAttention(c) => {
                Box::new(generic_attention::GenericAttention(c.clone()))
            }
            MethodConfig::OursH(c) => {
                Box::new(beyond::Beyond::new(beyond::Variant::Head, c.clone())?)
            }
            MethodConfig::OursT(c) => {
                Box::new(beyond::Beyond::new(beyond::Variant::Token, c.clone())?)
            }
            MethodConfig::PartialLrp(c) => Box::new(partial_lrp::PartialLrp(c.clone())),
            MethodConfig::TransformerAttribution(c) => {
                Box::new(transformer_attribution::TransformerAttribution(c.clone()))
            }
            MethodConfig::Random(c) => Box::new(random::RandomMap(c.clone())),
            MethodConfig::Precomputed(c) => Box::new(precomputed::Precomputed::open(c.clone())?),
        })
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    fn parse(s: &str) -> MethodConfig {
        serde_json::from_str(s).expect("config")
    }

    #[test]
    fn resolved_fills_model_dependent_defaults() {
        let c = parse(r#"{"method": "ours_t"}"#).resolved(Family::Vit, 12);
        match c {
            MethodConfig::OursT(b) => assert_eq!(b.start_layer, Some(6)),
            other => panic!("{other:?}"),
        }
        let c = parse(r#"{"method": "ours_h"}"#).resolved(Family::Vit, 4);
        assert!(matches!(c, MethodConfig::OursH(ref b) if b.start_layer == Some(3)));
        let c = parse(r#"{"method": "ours_t"}"#).resolved(Family::Vit, 4);
        assert!(matches!(c, MethodConfig::OursT(ref b) if b.start_layer == Some(3)));
        let c = parse(r#"{"method": "transformer_attribution"}"#).resolved(Family::Bert, 12);
        match c {
            MethodConfig::TransformerAttribution(t) => {
                assert_eq!(t.start_layer, Some(11));
                assert_eq!(t.row_normalise, Some(true));
                assert_eq!(t.rules, Some(faithbench_models::lrp::LrpRules::LayersLrp));
            }
            other => panic!("{other:?}"),
        }
        // explicit values are kept
        let c = parse(r#"{"method": "rollout", "start_layer": 0}"#).resolved(Family::Vit, 12);
        assert!(matches!(c, MethodConfig::Rollout(ref r) if r.start_layer == Some(0)));
        assert_eq!(c.method(), "rollout");
    }
}
