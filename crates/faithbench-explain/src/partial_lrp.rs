//! Partial LRP (Voita et al. 2019, via Chefer's LRP; protocols §2.5): the LRP relevance reaching the
//! last layer's attention probabilities, `p = E_h[(R_A^(L-1))⁺]`, read out per model
//! (BERT `[0,0] := 0`, row 0). Default rules follow the reference: ViT `layers_ours`, BERT
//! `layers_lrp` (pitfall P5: Chefer used the opposite choice for ViT).

use faithbench_models::lrp::LrpRules;
use faithbench_models::vit::FcNormOrder;
use faithbench_models::Explainable;
use serde::{Deserialize, Serialize};

use crate::common::{assemble, groups, head_mean, lrp_name, out_len, readout, slice4};
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{defaults, ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "partial_lrp",
    summary:
        "partial LRP: the LRP relevance at the last attention map; rules = layers_ours | layers_lrp",
    reference: "Voita et al. 2019, via Chefer et al. 2021a's LRP",
    path_params: &[],
    example: "{}",
    parse: parse_as::<PartialLrpConfig>,
    build: |p| Ok(Box::new(PartialLrp(typed(p)?))),
};

/// Parameters of partial LRP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialLrpConfig {
    /// Rule set; default ViT `layers_ours`, BERT `layers_lrp`.
    #[serde(default)]
    pub rules: Option<LrpRules>,
    /// Average-pooled ViTs (MAE): `pool_then_norm` (default, the model's own forward) or
    /// `norm_then_pool` (the reference's LRP model, pitfall P7: `fc_norm` on every token, then
    /// the patch mean; the forward, its gradients and the relevance all use that order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fc_norm_order: Option<FcNormOrder>,
}

/// Partial LRP.
#[derive(Debug, Clone)]
pub struct PartialLrp(pub PartialLrpConfig);

impl Explainer for PartialLrp {
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
        let last = model.num_layers() - 1;
        let rules: LrpRules = match self.0.rules {
            Some(r) => r,
            None => defaults::for_model(METHOD.name, "rules", model)?,
        };
        let cams = model.attn_relevance(batch.input, batch.targets, rules, last)?;
        let cam = cams[last]
            .as_ref()
            .ok_or_else(|| ExplainError::Internal("no relevance for the last layer".into()))?;
        let n = cam.dims()[2];
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let p = head_mean(slice4(cam, &g).clamp_min(0.0));
            let rows = readout(p, model.readout(), &g);
            parts.push((g.rows, rows));
        }
        assemble(
            batch.input.batch_size(),
            out_len(model.readout(), n),
            parts,
            &self.name(),
        )
    }
}
