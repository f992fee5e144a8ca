//! GradCAM on the last attention map (Chefer's variant; protocols §2.3).
//!
//! ViT (CLS): `g_h = mean_{j≥1} G_h[0, j]`, `cam_j = (E_h[A_h[0, j]·g_h])⁺`, min–max.
//! ViT (average pooling): `g_j = mean_{h,i≥1} G[h, i, j]`, `C = E_h[A[:, 1:, 1:] ⊙ g]`, then the
//! mean over query rows ([`MaeAxis::Query`]) or over keys (the reference, [`MaeAxis::Key`]),
//! clamp, min–max.
//! BERT: `g_h = mean_{i,j} G_h`, `C = (E_h[A_h·g_h])⁺`, min–max over the matrix, `C[0,0] := 0`, row 0.

use faithbench_models::{Explainable, GradRequest, Readout, TraceOptions};
use serde::{Deserialize, Serialize};

use crate::common::{assemble, attn, grad, groups, minmax, n_tokens, out_len, slice4, to_rows};
use crate::raw_attention::norm_rows;
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{ExplainBatch, Explainer, MaeAxis, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "attn_gradcam",
    summary: "GradCAM on the last attention map (Chefer's variant); mae_axis = query | key",
    reference: "Selvaraju et al. 2017, as adapted by Chefer et al. 2021a",
    path_params: &[],
    example: "{}",
    parse: parse_as::<GradcamConfig>,
    build: |p| Ok(Box::new(AttnGradcam(typed(p)?))),
};

/// Parameters of attention GradCAM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradcamConfig {
    /// Read-out axis for average-pooled ViTs.
    #[serde(default)]
    pub mae_axis: MaeAxis,
    /// Gradient of the logit (default) or the probability.
    #[serde(default)]
    pub objective: faithbench_models::Objective,
}

/// Attention GradCAM.
#[derive(Debug, Clone)]
pub struct AttnGradcam(pub GradcamConfig);

impl Explainer for AttnGradcam {
    fn name(&self) -> String {
        "attn_gradcam".into()
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let b = batch.input.batch_size();
        let last = model.num_layers() - 1;
        let opts = TraceOptions {
            attn: true,
            z_vproj: false,
            grad: Some(GradRequest {
                targets: batch.targets.to_vec(),
                objective: self.0.objective,
                layers: vec![last],
            }),
        };
        let tr = model.trace(batch.input, &vec![1.0; b], &opts)?;
        let n = n_tokens(&tr)?;
        let ro = model.readout();
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let a = slice4(attn(&tr, last)?, &g);
            let gr = slice4(grad(&tr, last)?, &g);
            let (bs, k) = (g.rows.len(), g.n - 1);
            let rows = match ro {
                Readout::ClsRow => {
                    let gh = gr.narrow(2, 0, 1).narrow(3, 1, k).mean_dim(3); // (b,H,1,1)
                    let cam = (a.narrow(2, 0, 1).narrow(3, 1, k) * gh).mean_dim(1); // (b,1,1,k)
                    norm_rows(to_rows(cam.reshape([bs, k])))
                }
                Readout::MeanPatchRows => {
                    let a1 = a.narrow(2, 1, k).narrow(3, 1, k);
                    let gj = gr.narrow(2, 1, k).narrow(3, 1, k).mean_dim(1).mean_dim(2); // (b,1,1,k)
                    let c = (a1 * gj).mean_dim(1); // (b,1,k,k)
                    let v = match self.0.mae_axis {
                        MaeAxis::Query => c.mean_dim(2),
                        MaeAxis::Key => c.mean_dim(3),
                    };
                    norm_rows(to_rows(v.reshape([bs, k])))
                }
                Readout::EotRow => g
                    .readout_rows
                    .iter()
                    .enumerate()
                    .map(|(i, &e)| {
                        // as the class-token rule, on the row of the end-of-text token
                        let e = e.max(1);
                        let gi = gr
                            .clone()
                            .narrow(0, i, 1)
                            .narrow(2, e, 1)
                            .narrow(3, 1, e - 1);
                        let gh = gi.mean_dim(3); // (1,H,1,1)
                        let ai = a
                            .clone()
                            .narrow(0, i, 1)
                            .narrow(2, e, 1)
                            .narrow(3, 1, e - 1);
                        let cam = (ai * gh).mean_dim(1).reshape([1, e - 1]);
                        norm_rows(to_rows(cam)).remove(0)
                    })
                    .collect(),
                Readout::BertClsRow => {
                    let gh = gr.mean_dim(2).mean_dim(3); // (b,H,1,1)
                    let c = (a * gh).mean_dim(1).clamp_min(0.0).reshape([bs, g.n * g.n]);
                    to_rows(c)
                        .into_iter()
                        .map(|mut m| {
                            minmax(&mut m);
                            m[0] = 0.0;
                            m[..g.n].to_vec()
                        })
                        .collect()
                }
            };
            parts.push((g.rows, rows));
        }
        assemble(b, out_len(ro, n), parts, "attn_gradcam")
    }
}
