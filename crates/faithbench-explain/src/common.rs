//! Shared tensor helpers: per-sample groups (text is sliced to its real tokens), read-out,
//! row normalisation, min–max, identity.

use burn::prelude::*;
use faithbench_models::{Explainable, ForwardTrace, ModelInput, Readout};

use crate::{ExplainError, Result, TokenMaps};

/// A set of batch rows that share one token count n (images: the whole batch; text: each
/// sample on its own, sliced to its real tokens), with the query row each is read out at
/// (0, or the end-of-text position for [`Readout::EotRow`]).
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub rows: Vec<usize>,
    pub n: usize,
    pub readout_rows: Vec<usize>,
}

/// Groups of a batch with `n_tokens` tokens per row (padded length for text).
pub(crate) fn groups(
    model: &dyn Explainable,
    input: &ModelInput,
    n_tokens: usize,
) -> Result<Vec<Group>> {
    let rr = model.readout_rows(input)?;
    Ok(match input {
        ModelInput::Image(_) => vec![Group {
            rows: (0..input.batch_size()).collect(),
            n: n_tokens,
            readout_rows: rr,
        }],
        ModelInput::Text(t) => t
            .lengths
            .iter()
            .enumerate()
            .map(|(b, &n)| Group {
                rows: vec![b],
                // the read-out row must lie inside the slice (CLIP text: the EOT position)
                n: n.max(rr[b] + 1).min(n_tokens),
                readout_rows: vec![rr[b]],
            })
            .collect(),
    })
}

fn index(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(
        TensorData::new(
            rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
            [rows.len()],
        ),
        device,
    )
}

/// Rows of `t` (B, H, N, N) for a group, sliced to its n tokens.
pub(crate) fn slice4(t: &Tensor<4>, g: &Group) -> Tensor<4> {
    let [b, _, n, _] = t.dims();
    let t = if g.rows.len() == b && g.rows.iter().enumerate().all(|(i, &r)| i == r) {
        t.clone()
    } else {
        t.clone().select(0, index(&g.rows, &t.device()))
    };
    if g.n == n {
        t
    } else {
        t.narrow(2, 0, g.n).narrow(3, 0, g.n)
    }
}

/// Rows of `t` (B, N, D) for a group, sliced to its n tokens.
pub(crate) fn slice3(t: &Tensor<3>, g: &Group) -> Tensor<3> {
    let [b, n, _] = t.dims();
    let t = if g.rows.len() == b && g.rows.iter().enumerate().all(|(i, &r)| i == r) {
        t.clone()
    } else {
        t.clone().select(0, index(&g.rows, &t.device()))
    };
    if g.n == n {
        t
    } else {
        t.narrow(1, 0, g.n)
    }
}

/// Head mean of (b, H, n, n) → (b, n, n).
pub(crate) fn head_mean(t: Tensor<4>) -> Tensor<3> {
    let [b, _, n, m] = t.dims();
    t.mean_dim(1).reshape([b, n, m])
}

/// Identity (b, n, n).
pub(crate) fn eye(b: usize, n: usize, device: &Device) -> Tensor<3> {
    let mut v = vec![0f32; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    Tensor::<2>::from_data(TensorData::new(v, [n, n]), device)
        .reshape([1, n, n])
        .expand([b, n, n])
}

/// `M[i,:] / Σ_j M[i,j]`.
pub(crate) fn rownorm(m: Tensor<3>) -> Tensor<3> {
    let s = m.clone().sum_dim(2);
    m / s
}

/// Reads a token matrix T (b, n, n) of group `g` out into token vectors (b rows).
pub(crate) fn readout(t: Tensor<3>, readout: Readout, g: &Group) -> Vec<Vec<f32>> {
    let [b, n, _] = t.dims();
    if readout == Readout::EotRow {
        return (0..b)
            .map(|i| {
                let e = g.readout_rows[i];
                if e == 0 {
                    return Vec::new();
                }
                let row = t
                    .clone()
                    .narrow(0, i, 1)
                    .narrow(1, e, 1)
                    .narrow(2, 1, e - 1);
                to_rows(row.reshape([1, e - 1])).remove(0)
            })
            .collect();
    }
    let v: Tensor<2> = match readout {
        Readout::ClsRow => t.narrow(1, 0, 1).narrow(2, 1, n - 1).reshape([b, n - 1]),
        Readout::MeanPatchRows => t
            .narrow(1, 1, n - 1)
            .narrow(2, 1, n - 1)
            .mean_dim(1)
            .reshape([b, n - 1]),
        Readout::BertClsRow => t.narrow(1, 0, 1).reshape([b, n]),
        Readout::EotRow => unreachable!("handled above"),
    };
    let mut rows = to_rows(v);
    if readout == Readout::BertClsRow {
        for r in &mut rows {
            r[0] = 0.0;
        }
    }
    rows
}

/// A (b, k) tensor as rows.
pub(crate) fn to_rows(v: Tensor<2>) -> Vec<Vec<f32>> {
    let [b, k] = v.dims();
    let data = v
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    (0..b).map(|i| data[i * k..(i + 1) * k].to_vec()).collect()
}

/// Min–max normalisation of a vector in place. A constant vector carries no ranking; the
/// reference code would produce NaN (0/0), we produce all zeros (documented in the crate docs).
pub fn minmax(v: &mut [f32]) {
    let (lo, hi) = v
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let span = hi - lo;
    if !(span > 0.0) || !span.is_finite() {
        v.iter_mut().for_each(|x| *x = 0.0);
    } else {
        v.iter_mut().for_each(|x| *x = (*x - lo) / span);
    }
}

/// Collects per-group rows into batch-ordered [`TokenMaps`] of row length `len` (text rows
/// shorter than `len` are zero-padded).
pub(crate) fn assemble(
    batch: usize,
    len: usize,
    parts: Vec<(Vec<usize>, Vec<Vec<f32>>)>,
    method: &str,
) -> Result<TokenMaps> {
    let mut values = vec![0f32; batch * len];
    let mut valid = vec![0usize; batch];
    for (rows, vecs) in parts {
        for (r, v) in rows.into_iter().zip(vecs) {
            if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
                return Err(ExplainError::NonFinite {
                    method: method.to_string(),
                    row: r,
                    token: pos,
                });
            }
            values[r * len..r * len + v.len()].copy_from_slice(&v);
            valid[r] = v.len();
        }
    }
    Ok(TokenMaps {
        batch,
        len,
        values,
        valid,
    })
}

/// Attention of layer `l` from a trace, or an internal error.
pub(crate) fn attn(tr: &ForwardTrace, l: usize) -> Result<&Tensor<4>> {
    tr.layers
        .get(l)
        .and_then(|x| x.attn.as_ref())
        .ok_or_else(|| ExplainError::Internal(format!("attention of layer {l} was not recorded")))
}

/// Gradient of layer `l` from a trace, or an internal error.
pub(crate) fn grad(tr: &ForwardTrace, l: usize) -> Result<&Tensor<4>> {
    tr.layers
        .get(l)
        .and_then(|x| x.grad.as_ref())
        .ok_or_else(|| ExplainError::Internal(format!("gradient of layer {l} was not recorded")))
}

/// Output row length for a model and input: N-1 patch tokens for images, N for text.
pub(crate) fn out_len(readout: Readout, n_tokens: usize) -> usize {
    match readout {
        Readout::ClsRow | Readout::MeanPatchRows => n_tokens - 1,
        // the rows are the tokens between start and end of each text (shorter than n)
        Readout::BertClsRow | Readout::EotRow => n_tokens,
    }
}

/// Token count N of the traced input.
pub(crate) fn n_tokens(tr: &ForwardTrace) -> Result<usize> {
    tr.layers
        .iter()
        .find_map(|l| l.attn.as_ref().or(l.grad.as_ref()))
        .map(|a| a.dims()[2])
        .ok_or_else(|| ExplainError::Internal("trace recorded no attention".into()))
}

/// Checks a start layer against the model depth.
/// The name of an LRP-based method with its variant: `method[rules]`, and
/// `method[rules,norm_then_pool]` for the reference's MAE pooling order.
pub(crate) fn lrp_name(
    method: &str,
    rules: Option<faithbench_models::lrp::LrpRules>,
    order: Option<faithbench_models::vit::FcNormOrder>,
) -> String {
    use faithbench_models::lrp::LrpRules;
    use faithbench_models::vit::FcNormOrder;
    let mut parts = Vec::new();
    match rules {
        Some(LrpRules::LayersLrp) => parts.push("layers_lrp"),
        Some(LrpRules::LayersOurs) => parts.push("layers_ours"),
        None => {}
    }
    if order == Some(FcNormOrder::NormThenPool) {
        parts.push("norm_then_pool");
    }
    if parts.is_empty() {
        method.to_string()
    } else {
        format!("{method}[{}]", parts.join(","))
    }
}

pub(crate) fn check_start(start: usize, layers: usize, what: &str) -> Result<()> {
    if start >= layers {
        return Err(ExplainError::Config(format!(
            "{what}: start_layer {start} is out of range for a model with {layers} layers (0-based; the last is {})",
            layers - 1
        )));
    }
    Ok(())
}

/// The integrated-gradient loop of Ours and of integrated gradients: for every sample of the
/// batch and `α_k = k/(m−1)`, k = 0..m−1 (`m = steps`, both ends included, pitfall P13), `f`
/// maps a chunk of at most `max_rows` (sample, α) rows — its input rows, alphas and targets —
/// to one tensor whose first dimension is the chunk's rows; returns per sample the mean over
/// its m rows, (1, …). Rows of one sample are contiguous, so memory stays bounded whatever
/// the batch size.
pub(crate) fn ig_mean<const D: usize>(
    batch: &crate::ExplainBatch,
    steps: usize,
    max_rows: usize,
    mut f: impl FnMut(&ModelInput, &[f32], &[usize]) -> Result<Tensor<D>>,
) -> Result<Vec<Tensor<D>>> {
    let b = batch.input.batch_size();
    let m = steps;
    if m < 2 || max_rows == 0 {
        return Err(ExplainError::Config(format!(
            "the IG grid needs steps ≥ 2 and max_internal_batch ≥ 1, got {m} and {max_rows}"
        )));
    }
    let pairs: Vec<(usize, f32)> = (0..b)
        .flat_map(|s| (0..m).map(move |k| (s, k as f32 / (m - 1) as f32)))
        .collect();
    let mut acc: Vec<Option<Tensor<D>>> = vec![None; b];
    for chunk in pairs.chunks(max_rows) {
        let rows: Vec<usize> = chunk.iter().map(|p| p.0).collect();
        let alphas: Vec<f32> = chunk.iter().map(|p| p.1).collect();
        let targets: Vec<usize> = rows.iter().map(|&r| batch.targets[r]).collect();
        let g = f(&batch.input.select_rows(&rows), &alphas, &targets)?;
        // Sum runs of rows that belong to the same sample.
        let mut i = 0;
        while i < rows.len() {
            let mut j = i;
            while j < rows.len() && rows[j] == rows[i] {
                j += 1;
            }
            let part = g.clone().narrow(0, i, j - i).sum_dim(0);
            let slot = &mut acc[rows[i]];
            *slot = Some(match slot.take() {
                Some(t) => t + part,
                None => part,
            });
            i = j;
        }
    }
    acc.into_iter()
        .map(|t| {
            t.map(|t| t.div_scalar(m as f64))
                .ok_or_else(|| ExplainError::Internal("no IG gradient accumulated".into()))
        })
        .collect()
}

/// Token maps from a per-token relevance at the model input (B, K) (see
/// `Explainable::input_relevance`), read out as the other explainers of the model: image
/// models every patch token (K = N−1); BERT the real tokens with `[CLS]` set to 0 (its
/// read-out convention); the CLIP text view the tokens between start and end of text (`1..e`).
pub(crate) fn input_maps(
    model: &dyn Explainable,
    input: &ModelInput,
    relevance: Tensor<2>,
    method: &str,
) -> Result<TokenMaps> {
    let [b, k] = relevance.dims();
    let rows = to_rows(relevance);
    if rows.len() != b || input.batch_size() != b {
        return Err(ExplainError::Internal(format!(
            "input relevance has {} rows for a batch of {}",
            rows.len(),
            input.batch_size()
        )));
    }
    let ro = model.readout();
    let mut parts = Vec::new();
    for g in groups(model, input, k)? {
        let vecs = g
            .rows
            .iter()
            .zip(&g.readout_rows)
            .map(|(&r, &e)| match ro {
                Readout::ClsRow | Readout::MeanPatchRows => rows[r].clone(),
                Readout::BertClsRow => {
                    let mut v = rows[r][..g.n].to_vec();
                    if let Some(cls) = v.first_mut() {
                        *cls = 0.0;
                    }
                    v
                }
                Readout::EotRow => rows[r][1.min(e)..e].to_vec(),
            })
            .collect();
        parts.push((g.rows, vecs));
    }
    assemble(b, k, parts, method)
}

/// A toy image model for hand-computed tests of the input-gradient methods: images
/// (B, 3, 2, 2) with 1-pixel patches (4 patch tokens), score `f(x) = Σ x²` for every class, so
/// `x ⊙ ∂f(αx)/∂(αx) = 2α x²` per pixel, summed over channels per patch. Only
/// `input_relevance` is implemented (it records the rules it was asked for).
#[cfg(test)]
pub(crate) mod toy {
    use std::sync::Mutex;

    use burn::prelude::*;
    use faithbench_models::{
        Explainable, Family, ForwardTrace, GradRules, InputGradRequest, ModelError, ModelInput,
        Readout, TraceOptions,
    };

    #[derive(Default)]
    pub struct Quadratic {
        pub rules: Mutex<Vec<GradRules>>,
    }

    pub fn image(values: &[f32; 12]) -> ModelInput {
        ModelInput::Image(Tensor::from_data(
            TensorData::new(values.to_vec(), [1, 3, 2, 2]),
            &Device::flex(),
        ))
    }

    impl Explainable for Quadratic {
        fn family(&self) -> Family {
            Family::Vit
        }
        fn num_layers(&self) -> usize {
            1
        }
        fn num_heads(&self) -> usize {
            1
        }
        fn readout(&self) -> Readout {
            Readout::ClsRow
        }
        fn patch_grid(&self) -> Option<(usize, usize)> {
            Some((2, 2))
        }
        fn device(&self) -> Device {
            Device::flex()
        }
        fn trace(
            &self,
            _: &ModelInput,
            _: &[f32],
            _: &TraceOptions,
        ) -> faithbench_models::Result<ForwardTrace> {
            Err(ModelError::Input("toy".into()))
        }
        fn input_relevance(
            &self,
            input: &ModelInput,
            alphas: &[f32],
            request: &InputGradRequest,
        ) -> faithbench_models::Result<Tensor<2>> {
            self.rules.lock().unwrap().push(request.rules);
            let ModelInput::Image(x) = input else {
                return Err(ModelError::Input("toy".into()));
            };
            let a = Tensor::<4>::from_data(
                TensorData::new(alphas.to_vec(), [alphas.len(), 1, 1, 1]),
                &x.device(),
            );
            let r = x.clone() * x.clone() * a * 2.0;
            Ok(faithbench_models::rules::patch_sums(r, 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_maps_to_unit_interval_and_constant_to_zero() {
        let mut v = vec![2.0, 4.0, 3.0];
        minmax(&mut v);
        assert_eq!(v, vec![0.0, 1.0, 0.5]);
        let mut c = vec![1.5; 4];
        minmax(&mut c);
        assert_eq!(c, vec![0.0; 4]);
    }
}
