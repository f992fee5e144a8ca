//! The paper's method, "Beyond Intuition" (Chen et al., TMLR 2023; protocols §1): attention
//! perception `P` times integrated-gradient reasoning feedback `F`.
//!
//! * Perception (§1.2–1.4): `P = (I + Ā^(L-1)) ⋯ (I + Ā^(s))` with, per layer,
//!   - **Ours-H** (head-wise): `I_h = mean_{ij} |A_hᵀ G_h|`, `w_h = I_h / Σ_h I_h`,
//!     `Ā = Σ_h w_h A_h` (`G` from one clean backward);
//!   - **Ours-T** (token-wise): `s_j = ‖v_j W_Oᵀ‖₂ / ‖z_j‖₂`, `Ā = E_h[A] · diag(s)`.
//! * Feedback (§1.5): `α_k = k/(m−1)`, k = 0..m−1 (both ends included, pitfall P13),
//!   `Ĝ = (1/m) Σ_k ∂y_c(α_k x̃)/∂A^(L-1)`, `F = E_h[(Ĝ_h)⁺]` — clamp per head before the head
//!   mean. `x̃` is the normalised image (ViT) or the embedding output (BERT).
//! * `T = F ⊙ P` (H) or `F ⊙ |P|` (T), read out per model (§1.6).
//! * `perception_only = true` is the reference's "ssl" variant: `|P|` without feedback.
//!
//! IG steps of all samples are flattened into (sample, α) rows and run in chunks of at most
//! `max_internal_batch` rows, so memory stays bounded whatever the batch size.
//!
//! Default start layers (§1.7, 0-based first included layer): ViT Ours-H 3 and Ours-T 6 (the
//! ViT-B/16 perturbation settings), BERT Ours-H L−1 (last layer) and Ours-T L−4 (last four);
//! capped at L−1 for shallower models.
//! If every head's importance `I_h` is zero (possible only with an all-zero gradient), the
//! head weights fall back to uniform instead of 0/0.

use burn::prelude::*;
use faithbench_models::{Explainable, GradRequest, Objective, TraceOptions, VprojSource};
use serde::{Deserialize, Serialize};

use crate::common::{
    assemble, attn, check_start, eye, grad, groups, head_mean, ig_mean, n_tokens, out_len, readout,
    slice3, slice4, Group,
};
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{defaults, ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry of Ours-H.
pub const OURS_H: MethodInfo = MethodInfo {
    name: "ours_h",
    summary: "Ours-H: head-wise attention perception × integrated-gradient reasoning feedback",
    reference: "Chen et al. 2023 (TMLR), the paper's `generate_ours`",
    path_params: &[],
    example: "{}",
    parse: parse_as::<BeyondConfig>,
    build: |p| Ok(Box::new(Beyond::new(Variant::Head, typed(p)?)?)),
};

/// Registry entry of Ours-T.
pub const OURS_T: MethodInfo = MethodInfo {
    name: "ours_t",
    summary: "Ours-T: token-wise attention perception (‖vW_Oᵀ‖/‖z‖) × integrated-gradient reasoning feedback",
    reference: "Chen et al. 2023 (TMLR), the paper's `generate_ours_c`",
    path_params: &[],
    example: "{}",
    parse: parse_as::<BeyondConfig>,
    build: |p| Ok(Box::new(Beyond::new(Variant::Token, typed(p)?)?)),
};

/// Head-wise or token-wise perception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Ours-H.
    Head,
    /// Ours-T.
    Token,
}

fn default_steps() -> usize {
    20
}
fn default_chunk() -> usize {
    16
}

/// Parameters of Ours-H / Ours-T.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeyondConfig {
    /// First layer of the perception product (0-based). Note: the reference ViT script's
    /// argument `start_layer=k` means layers `k-1..L-1`, i.e. `start_layer = k-1` here.
    #[serde(default)]
    pub start_layer: Option<usize>,
    /// Integrated-gradient points m (≥ 2), default 20.
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Gradient of the logit (reference) or of the probability (InterpretDL's CV default).
    #[serde(default)]
    pub objective: Objective,
    /// Maximum rows (sample × α) per forward/backward of the IG loop.
    #[serde(default = "default_chunk")]
    pub max_internal_batch: usize,
    /// The "ssl" variant: return `|P|` read out, without the feedback term.
    #[serde(default)]
    pub perception_only: bool,
    /// Ours-T: the stream `v·W_Oᵀ` is computed on — `attention_input` (default: the values the
    /// attention uses, the method's definition) or `post_attention` (the paper's CLIP code,
    /// pitfall P9a; CLIP models only). Omitted from the canonical form when default.
    #[serde(default, skip_serializing_if = "is_attention_input")]
    pub vproj: VprojSource,
}

fn is_attention_input(v: &VprojSource) -> bool {
    *v == VprojSource::AttentionInput
}

impl Default for BeyondConfig {
    fn default() -> Self {
        Self {
            start_layer: None,
            steps: default_steps(),
            objective: Objective::Logit,
            max_internal_batch: default_chunk(),
            perception_only: false,
            vproj: VprojSource::AttentionInput,
        }
    }
}

/// Ours-H / Ours-T.
#[derive(Debug, Clone)]
pub struct Beyond {
    variant: Variant,
    config: BeyondConfig,
}

impl Beyond {
    /// Validates the parameters.
    pub fn new(variant: Variant, config: BeyondConfig) -> Result<Self> {
        if config.steps < 2 && !config.perception_only {
            return Err(ExplainError::Config(format!(
                "steps must be at least 2 (the IG grid includes α = 0 and α = 1), got {}",
                config.steps
            )));
        }
        if config.max_internal_batch == 0 {
            return Err(ExplainError::Config(
                "max_internal_batch must be positive".into(),
            ));
        }
        Ok(Self { variant, config })
    }

    fn start(&self, model: &dyn Explainable) -> Result<usize> {
        match self.config.start_layer {
            Some(s) => Ok(s),
            None => {
                let method = match self.variant {
                    Variant::Head => OURS_H.name,
                    Variant::Token => OURS_T.name,
                };
                defaults::for_model(method, "start_layer", model)
            }
        }
    }

    /// The perception matrices P of one group, (b, n, n).
    fn perception(
        &self,
        tr: &faithbench_models::ForwardTrace,
        g: &Group,
        s: usize,
        layers: usize,
    ) -> Result<Tensor<3>> {
        let missing = |w: &str| ExplainError::Internal(format!("{w} not recorded"));
        let mut abars = Vec::with_capacity(layers - s);
        for l in s..layers {
            let a = slice4(attn(tr, l)?, g);
            abars.push(match self.variant {
                Variant::Head => abar_head(a, slice4(grad(tr, l)?, g)),
                Variant::Token => abar_token(
                    a,
                    slice3(tr.layers[l].z.as_ref().ok_or_else(|| missing("z"))?, g),
                    slice3(
                        tr.layers[l]
                            .vproj
                            .as_ref()
                            .ok_or_else(|| missing("vproj"))?,
                        g,
                    ),
                ),
            });
        }
        let dev = tr.logits.device();
        Ok(perception_product(abars, g.rows.len(), g.n, &dev))
    }

    /// Integrated-gradient feedback `F` per sample, (1, N, N) each.
    fn feedback(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<Vec<Tensor<3>>> {
        let last = model.num_layers() - 1;
        let means = ig_mean(
            batch,
            self.config.steps,
            self.config.max_internal_batch,
            |input, alphas, targets| {
                let opts = TraceOptions {
                    attn: false,
                    z_vproj: false,
                    grad: Some(GradRequest {
                        targets: targets.to_vec(),
                        objective: self.config.objective,
                        layers: vec![last],
                    }),
                };
                let tr = model.trace(input, alphas, &opts)?;
                Ok(grad(&tr, last)?.clone())
            },
        )?;
        Ok(means
            .into_iter()
            .map(|t| {
                let [_, _, n, _] = t.dims();
                t.clamp_min(0.0).mean_dim(1).reshape([1, n, n])
            })
            .collect())
    }
}

/// Ours-H layer matrix: `I_h = mean_{ij} |A_hᵀ G_h|`, `w_h = I_h / Σ I`, `Ā = Σ_h w_h A_h`
/// (uniform weights if every `I_h` is 0). `a`, `g`: (b, H, n, n) → (b, n, n).
pub fn abar_head(a: Tensor<4>, g: Tensor<4>) -> Tensor<3> {
    let [bs, h, n, _] = a.dims();
    let dev = a.device();
    let imp = a
        .clone()
        .swap_dims(2, 3)
        .matmul(g)
        .abs()
        .mean_dim(2)
        .mean_dim(3); // (b,H,1,1)
    let total = imp.clone().sum_dim(1); // (b,1,1,1)
    let uniform = Tensor::<4>::ones([bs, h, 1, 1], &dev).div_scalar(h as f64);
    let zero = total.clone().equal_elem(0.0).expand([bs, h, 1, 1]);
    let w = (imp / total.expand([bs, h, 1, 1])).mask_where(zero, uniform);
    (a * w).sum_dim(1).reshape([bs, n, n])
}

/// Ours-T layer matrix: `s_j = ‖u_j‖₂ / ‖z_j‖₂`, `Ā = E_h[A] · diag(s)`. `a` (b, H, n, n),
/// `z`, `u` (b, n, D) → (b, n, n).
pub fn abar_token(a: Tensor<4>, z: Tensor<3>, u: Tensor<3>) -> Tensor<3> {
    let [bs, n, _] = z.dims();
    let s_j = u.powi_scalar(2).sum_dim(2).sqrt() / z.powi_scalar(2).sum_dim(2).sqrt(); // (b,n,1)
    head_mean(a) * s_j.reshape([bs, 1, n])
}

/// `P = (I + Ā_k) ⋯ (I + Ā_1)` for the layer matrices in forward order; the identity if empty.
pub fn perception_product(abars: Vec<Tensor<3>>, b: usize, n: usize, device: &Device) -> Tensor<3> {
    let mut p = eye(b, n, device);
    for a_bar in abars {
        p = p.clone() + a_bar.matmul(p);
    }
    p
}

impl Explainer for Beyond {
    fn name(&self) -> String {
        let base = match self.variant {
            Variant::Head => "ours_h",
            Variant::Token => "ours_t",
        };
        let mut name = base.to_string();
        if self.config.vproj == VprojSource::PostAttention {
            name.push_str("[post_attention]");
        }
        if self.config.perception_only {
            name.push_str("[perception_only]");
        }
        name
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let layers = model.num_layers();
        let s = self.start(model)?;
        // start_layer = L is allowed: no layer in the product, P = I (feedback only, §1.8).
        if s > layers {
            check_start(s, layers, &self.name())?;
        }
        let b = batch.input.batch_size();
        if batch.targets.len() != b {
            return Err(ExplainError::Config(format!(
                "{} targets for a batch of {b}",
                batch.targets.len()
            )));
        }
        let opts = TraceOptions {
            attn: true,
            z_vproj: self.variant == Variant::Token,
            grad: (self.variant == Variant::Head).then(|| GradRequest {
                targets: batch.targets.to_vec(),
                objective: self.config.objective,
                layers: (s..layers).collect(),
            }),
        };
        let tr = model.trace_vproj(
            batch.input,
            &vec![1.0; b],
            &TraceOptions {
                grad: opts.grad.filter(|g| !g.layers.is_empty()),
                ..opts
            },
            self.config.vproj,
        )?;
        let n = n_tokens(&tr)?;
        let feedback = if self.config.perception_only {
            None
        } else {
            Some(self.feedback(model, batch)?)
        };
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let p = self.perception(&tr, &g, s, layers)?;
            let t = match &feedback {
                None => p.abs(),
                Some(fs) => {
                    let f = Tensor::cat(g.rows.iter().map(|&r| fs[r].clone()).collect(), 0)
                        .narrow(1, 0, g.n)
                        .narrow(2, 0, g.n);
                    match self.variant {
                        Variant::Head => f * p,
                        Variant::Token => f * p.abs(),
                    }
                }
            };
            let rows = readout(t, model.readout(), &g);
            parts.push((g.rows, rows));
        }
        assemble(b, out_len(model.readout(), n), parts, &self.name())
    }
}
