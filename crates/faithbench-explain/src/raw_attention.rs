//! Raw attention of the last layer (protocols §2.1).
//!
//! `M = E_h[A^(L-1)]`; ViT (CLS): `minmax((M[0, 1:])⁺)`; ViT (average pooling):
//! `minmax((mean_{i≥1} M[i, 1:])⁺)` ([`MaeAxis::Query`]) or the reference's per-query
//! `minmax((mean_{j≥1} M[1:, j])⁺)` ([`MaeAxis::Key`]); BERT: `M[0,0] := 0`, row 0.

use faithbench_models::{Explainable, Readout, TraceOptions};
use serde::{Deserialize, Serialize};

use crate::common::{
    assemble, attn, groups, head_mean, minmax, n_tokens, out_len, readout, slice4, to_rows,
};
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{ExplainBatch, Explainer, MaeAxis, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "raw_attention",
    summary: "last-layer attention, head mean; mae_axis = query | key (the reference's MAE quirk)",
    reference: "attention visualisation as in Chefer et al. 2021a",
    path_params: &[],
    example: "{}",
    parse: parse_as::<RawAttentionConfig>,
    build: |p| Ok(Box::new(RawAttention(typed(p)?))),
};

/// Parameters of raw attention.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttentionConfig {
    /// Read-out axis for average-pooled ViTs.
    #[serde(default)]
    pub mae_axis: MaeAxis,
}

/// Raw last-layer attention.
#[derive(Debug, Clone)]
pub struct RawAttention(pub RawAttentionConfig);

impl Explainer for RawAttention {
    fn name(&self) -> String {
        "raw_attention".into()
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let b = batch.input.batch_size();
        let opts = TraceOptions {
            attn: true,
            ..Default::default()
        };
        let tr = model.trace(batch.input, &vec![1.0; b], &opts)?;
        let last = model.num_layers() - 1;
        let n = n_tokens(&tr)?;
        let ro = model.readout();
        let mut parts = Vec::new();
        for g in groups(model, batch.input, n)? {
            let m = head_mean(slice4(attn(&tr, last)?, &g));
            let k = g.n - 1;
            let rows = match ro {
                Readout::BertClsRow => readout(m, ro, &g),
                Readout::EotRow => g
                    .readout_rows
                    .iter()
                    .enumerate()
                    .map(|(i, &e)| {
                        let e = e.max(1);
                        let mut v = to_rows(
                            m.clone()
                                .narrow(0, i, 1)
                                .narrow(1, e, 1)
                                .narrow(2, 1, e - 1)
                                .reshape([1, e - 1]),
                        )
                        .remove(0);
                        v.iter_mut().for_each(|x| *x = x.max(0.0));
                        minmax(&mut v);
                        v
                    })
                    .collect(),
                Readout::ClsRow => norm_rows(to_rows(
                    m.narrow(1, 0, 1).narrow(2, 1, k).reshape([g.rows.len(), k]),
                )),
                Readout::MeanPatchRows => {
                    let sub = m.narrow(1, 1, k).narrow(2, 1, k);
                    let v = match self.0.mae_axis {
                        MaeAxis::Query => sub.mean_dim(1),
                        MaeAxis::Key => sub.mean_dim(2),
                    };
                    norm_rows(to_rows(v.reshape([g.rows.len(), k])))
                }
            };
            parts.push((g.rows, rows));
        }
        assemble(b, out_len(ro, n), parts, "raw_attention")
    }
}

/// `minmax(v⁺)` per row.
pub(crate) fn norm_rows(mut rows: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    for r in &mut rows {
        r.iter_mut().for_each(|x| *x = x.max(0.0));
        minmax(r);
    }
    rows
}
