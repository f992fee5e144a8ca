//! Transformer attribution (Chefer et al. 2021a; protocols §2.6): per layer
//! `Ā^(l) = E_h[(G_h ⊙ R_A_h)⁺]` (gradient ⊙ LRP relevance at the attention probabilities), then
//! a rollout: ViT `C = (I + Ā^(L-1)) ⋯ (I + Ā^(s))` **without** row normalisation, s = 1, rules
//! `layers_ours`; BERT (the reference, pitfall P6) `C = rownorm(I + Ā^(L-1))`, last layer only,
//! rules `layers_lrp`. Read out per model (BERT `[0,0] := 0`).

use faithbench_models::lrp::LrpRules;
use faithbench_models::vit::FcNormOrder;
use faithbench_models::{Explainable, GradRequest, Objective, TraceOptions};
use serde::{Deserialize, Serialize};

use crate::common::{
    assemble, check_start, eye, grad, groups, head_mean, lrp_name, out_len, readout, rownorm,
    slice4,
};
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{defaults, ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "transformer_attribution",
    summary: "LRP relevance ⊙ gradient at every attention map, rolled out; rules, start_layer, row_normalise",
    reference: "Chefer et al. 2021a",
    path_params: &[],
    example: "{}",
    parse: parse_as::<TaConfig>,
    build: |p| Ok(Box::new(TransformerAttribution(typed(p)?))),
};

/// Parameters of transformer attribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaConfig {
    /// Rule set; default ViT `layers_ours`, BERT `layers_lrp`.
    #[serde(default)]
    pub rules: Option<LrpRules>,
    /// First layer of the rollout; default ViT 1, BERT L−1.
    #[serde(default)]
    pub start_layer: Option<usize>,
    /// Row-normalise `(I + Ā)`; default ViT false, BERT true (as the reference).
    #[serde(default)]
    pub row_normalise: Option<bool>,
    /// Average-pooled ViTs (MAE): `pool_then_norm` (default, the model's own forward) or
    /// `norm_then_pool` (the reference's LRP model, pitfall P7: `fc_norm` on every token, then
    /// the patch mean; the forward, its gradients and the relevance all use that order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fc_norm_order: Option<FcNormOrder>,
}

/// Transformer attribution.
#[derive(Debug, Clone)]
pub struct TransformerAttribution(pub TaConfig);

impl Explainer for TransformerAttribution {
    fn name(&self) -> String {
        lrp_name(METHOD.name, self.0.rules, self.0.fc_norm_order)
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        // the reference's MAE pooling order: forward, gradients and relevance all on it
        let variant = model.with_fc_norm_order(self.0.fc_norm_order.unwrap_or_default())?;
        let model: &dyn Explainable = variant.as_deref().unwrap_or(model);
        let layers = model.num_layers();
        let s = match self.0.start_layer {
            Some(s) => s,
            None => defaults::for_model(METHOD.name, "start_layer", model)?,
        };
        check_start(s, layers, "transformer_attribution")?;
        let norm = match self.0.row_normalise {
            Some(n) => n,
            None => defaults::for_model(METHOD.name, "row_normalise", model)?,
        };
        let rules: LrpRules = match self.0.rules {
            Some(r) => r,
            None => defaults::for_model(METHOD.name, "rules", model)?,
        };
        let b = batch.input.batch_size();
        let tr = model.trace(
            batch.input,
            &vec![1.0; b],
            &TraceOptions {
                attn: false,
                z_vproj: false,
                grad: Some(GradRequest {
                    targets: batch.targets.to_vec(),
                    objective: Objective::Logit,
                    layers: (s..layers).collect(),
                }),
            },
        )?;
        let cams = model.attn_relevance(batch.input, batch.targets, rules, s)?;
        let n = grad(&tr, s)?.dims()[2];
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let id = eye(g.rows.len(), g.n, &grad(&tr, s)?.device());
            let mut c = id.clone();
            for l in s..layers {
                let cam = cams[l]
                    .as_ref()
                    .ok_or_else(|| ExplainError::Internal(format!("no relevance for layer {l}")))?;
                let a_bar = head_mean((slice4(grad(&tr, l)?, &g) * slice4(cam, &g)).clamp_min(0.0));
                let step = if norm {
                    rownorm(a_bar + id.clone())
                } else {
                    a_bar + id.clone()
                };
                c = step.matmul(c);
            }
            let rows = readout(c, model.readout(), &g);
            parts.push((g.rows, rows));
        }
        assemble(b, out_len(model.readout(), n), parts, &self.name())
    }
}
