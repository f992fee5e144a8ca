//! Partial LRP (Voita et al. 2019, via Chefer's LRP; spec §2.5): the LRP relevance reaching the
//! last layer's attention probabilities, `p = E_h[(R_A^(L-1))⁺]`, read out per model
//! (BERT `[0,0] := 0`, row 0). Default rules follow the reference: ViT `layers_ours`, BERT
//! `layers_lrp` (pitfall P5: Chefer used the opposite choice for ViT).

use faithbench_models::lrp::LrpRules;
use faithbench_models::{Explainable, Family};
use serde::{Deserialize, Serialize};

use crate::common::{assemble, groups, head_mean, out_len, readout, slice4};
use crate::{ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Parameters of partial LRP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialLrpConfig {
    /// Rule set; default ViT `layers_ours`, BERT `layers_lrp`.
    #[serde(default)]
    pub rules: Option<LrpRules>,
}

/// Default LRP rules of the reference code per family.
pub fn default_rules(family: Family) -> LrpRules {
    match family {
        Family::Vit => LrpRules::LayersOurs,
        Family::Bert => LrpRules::LayersLrp,
    }
}

/// Partial LRP.
#[derive(Debug, Clone)]
pub struct PartialLrp(pub PartialLrpConfig);

impl Explainer for PartialLrp {
    fn name(&self) -> String {
        match self.0.rules {
            Some(LrpRules::LayersLrp) => "partial_lrp[layers_lrp]".into(),
            Some(LrpRules::LayersOurs) => "partial_lrp[layers_ours]".into(),
            None => "partial_lrp".into(),
        }
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let last = model.num_layers() - 1;
        let rules = self
            .0
            .rules
            .unwrap_or_else(|| default_rules(model.family()));
        let cams = model.attn_relevance(batch.input, batch.targets, rules, last)?;
        let cam = cams[last]
            .as_ref()
            .ok_or_else(|| ExplainError::Internal("no relevance for the last layer".into()))?;
        let n = cam.dims()[2];
        let mut parts = Vec::new();
        for g in groups(batch.input, n) {
            let p = head_mean(slice4(cam, &g).clamp_min(0.0));
            parts.push((g.rows, readout(p, model.readout())));
        }
        assemble(
            batch.input.batch_size(),
            out_len(model.readout(), n),
            parts,
            &self.name(),
        )
    }
}
