//! Generic attention explainability (Chefer et al. 2021b; protocols §2.8):
//! `R = I`; for `l = s..L-1`: `Ā = E_h[(G_h ⊙ A_h)⁺]` ([`ClampOrder::ClampThenMean`], Chefer) or
//! `Ā = (E_h[G_h ⊙ A_h])⁺` ([`ClampOrder::MeanThenClamp`], the paper's ViT code, pitfall P4);
//! `R ← R + Ā·R`; read out per model.
//! Default start layers follow the reference: ViT 1 (perturbation script), BERT last layer only.

use faithbench_models::{Explainable, GradRequest, Objective, TraceOptions};
use serde::{Deserialize, Serialize};

use crate::common::{
    assemble, attn, check_start, eye, grad, groups, head_mean, n_tokens, out_len, readout, slice4,
};
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{defaults, ExplainBatch, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "generic_attention",
    summary: "generic attention explainability; order = clamp_then_mean (Chefer) | mean_then_clamp (the paper's ViT code)",
    reference: "Chefer et al. 2021b",
    path_params: &[],
    example: "{}",
    parse: parse_as::<GenericConfig>,
    build: |p| Ok(Box::new(GenericAttention(typed(p)?))),
};

/// Where the clamp goes relative to the head mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClampOrder {
    /// `E_h[(G ⊙ A)⁺]` — Chefer et al. 2021b (and the reference's BERT/CLIP code).
    #[default]
    ClampThenMean,
    /// `(E_h[G ⊙ A])⁺` — the reference's ViT `generate_genattr`.
    MeanThenClamp,
}

/// Parameters of generic attention.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericConfig {
    /// Clamp order.
    #[serde(default)]
    pub order: ClampOrder,
    /// First layer (0-based); default ViT 1, BERT L-1.
    #[serde(default)]
    pub start_layer: Option<usize>,
    /// Gradient of the logit (default) or the probability.
    #[serde(default)]
    pub objective: Objective,
}

/// Generic attention explainability.
#[derive(Debug, Clone)]
pub struct GenericAttention(pub GenericConfig);

impl Explainer for GenericAttention {
    fn name(&self) -> String {
        match self.0.order {
            ClampOrder::ClampThenMean => "generic_attention".into(),
            ClampOrder::MeanThenClamp => "generic_attention[mean_then_clamp]".into(),
        }
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let layers = model.num_layers();
        let s = match self.0.start_layer {
            Some(s) => s,
            None => defaults::for_model(METHOD.name, "start_layer", model)?,
        };
        check_start(s, layers, "generic_attention")?;
        let b = batch.input.batch_size();
        let opts = TraceOptions {
            attn: true,
            z_vproj: false,
            grad: Some(GradRequest {
                targets: batch.targets.to_vec(),
                objective: self.0.objective,
                layers: (s..layers).collect(),
            }),
        };
        let tr = model.trace(batch.input, &vec![1.0; b], &opts)?;
        let n = n_tokens(&tr)?;
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let mut r = eye(g.rows.len(), g.n, &model.device().inner());
            for l in s..layers {
                let ga = slice4(grad(&tr, l)?, &g) * slice4(attn(&tr, l)?, &g);
                let a_bar = match self.0.order {
                    ClampOrder::ClampThenMean => head_mean(ga.clamp_min(0.0)),
                    ClampOrder::MeanThenClamp => head_mean(ga).clamp_min(0.0),
                };
                r = r.clone() + a_bar.matmul(r);
            }
            let rows = readout(r, model.readout(), &g);
            parts.push((g.rows, rows));
        }
        assemble(b, out_len(model.readout(), n), parts, &self.name())
    }
}
