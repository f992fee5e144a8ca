//! Attention rollout with the residual identity (Abnar & Zuidema 2020; protocols §2.2):
//! `Â^(l) = rownorm(E_h[A^(l)] + I)`, `R = Â^(L-1) ⋯ Â^(s)`, read out per model.
//! Default start layer: ViT 1 (the reference excludes layer 0), BERT 0.

use faithbench_models::{Explainable, TraceOptions};
use serde::{Deserialize, Serialize};

use crate::common::{
    assemble, attn, check_start, eye, groups, head_mean, n_tokens, out_len, readout, rownorm,
    slice4,
};
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{defaults, ExplainBatch, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "rollout",
    summary: "attention rollout with the residual identity, row-normalised",
    reference: "Abnar & Zuidema 2020",
    path_params: &[],
    example: "{}",
    parse: parse_as::<RolloutConfig>,
    build: |p| Ok(Box::new(Rollout(typed(p)?))),
};

/// Parameters of rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// First layer included (0-based); default ViT 1, BERT 0.
    #[serde(default)]
    pub start_layer: Option<usize>,
}

/// Attention rollout.
#[derive(Debug, Clone)]
pub struct Rollout(pub RolloutConfig);

impl Rollout {
    fn start(&self, model: &dyn Explainable) -> Result<usize> {
        match self.0.start_layer {
            Some(s) => Ok(s),
            None => defaults::for_model(METHOD.name, "start_layer", model),
        }
    }
}

impl Explainer for Rollout {
    fn name(&self) -> String {
        "rollout".into()
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let s = self.start(model)?;
        let layers = model.num_layers();
        check_start(s, layers, "rollout")?;
        let b = batch.input.batch_size();
        let tr = model.trace(
            batch.input,
            &vec![1.0; b],
            &TraceOptions {
                attn: true,
                ..Default::default()
            },
        )?;
        let n = n_tokens(&tr)?;
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let id = eye(g.rows.len(), g.n, &model.device().inner());
            let mut r = id.clone();
            for l in s..layers {
                let a_hat = rownorm(head_mean(slice4(attn(&tr, l)?, &g)) + id.clone());
                r = a_hat.matmul(r);
            }
            let rows = readout(r, model.readout(), &g);
            parts.push((g.rows, rows));
        }
        assemble(b, out_len(model.readout(), n), parts, "rollout")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;

    /// Hand-computed rollout on a 3-token, 1-head, 2-layer example.
    #[test]
    fn three_token_rollout_by_hand() {
        let dev = Device::flex();
        let a0 = [[0.5f32, 0.5, 0.0], [0.2, 0.6, 0.2], [0.0, 0.0, 1.0]];
        let a1 = [[1.0f32, 0.0, 0.0], [0.0, 0.5, 0.5], [0.25, 0.25, 0.5]];
        let t =
            |a: [[f32; 3]; 3]| Tensor::<3>::from_data(TensorData::new(a.concat(), [1, 3, 3]), &dev);
        let id = eye(1, 3, &dev);
        let r = rownorm(t(a1) + id.clone()).matmul(rownorm(t(a0) + id));
        // rownorm(A0 + I) = [[.75,.25,0],[.1,.8,.1],[0,0,1]]; rownorm(A1 + I) = [[1,0,0],[0,.75,.25],[.125,.125,.75]]
        // product row 0 = [.75, .25, 0]; row 1 = [.075, .6, .325]; row 2 = [.10625, .13125, .7625]
        let got = r.into_data().try_to_vec::<f32>().expect("f32");
        let want = [0.75, 0.25, 0.0, 0.075, 0.6, 0.325, 0.10625, 0.13125, 0.7625];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }
}
