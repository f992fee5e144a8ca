//! The one self-attention block every faithbench model uses.
//!
//! burn's stock transformer hides its attention maps and burn has no retain-grad, so the block
//! records what the explainers need itself:
//! - `A`: the post-softmax attention probabilities, (B, H, N, N);
//! - `u = v·W_Oᵀ`: the value vectors of all heads (concatenated, heads contiguous) times the
//!   output projection weight, **without** its bias, (B, N, D) — the token-wise perception of
//!   the paper (protocols §1.3);
//! - a zero **probe** leaf `Z` is added to `A` (`A' = A + Z`), so after one backward pass
//!   `∂y/∂Z = ∂y/∂A` (the total derivative, all paths kept) for every probed layer.

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::rules::{divide_gradient, AttentionRule};

/// Multi-head self-attention with a fused `qkv` projection (timm layout: output rows are
/// `[q | k | v]`, each `(heads, head_dim)` with heads contiguous) and an output projection.
/// Hugging Face checkpoints with separate query/key/value are fused at load time.
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// Fused query/key/value projection, D → 3D.
    pub qkv: Linear,
    /// Output projection W_O (timm `attn.proj`, HF `attention.output.dense`), D → D.
    pub proj: Linear,
    /// Number of heads H.
    pub num_heads: usize,
}

/// What one attention call recorded (plain tensors, detached from autodiff).
#[derive(Debug, Clone)]
pub struct AttentionRecord {
    /// Post-softmax probabilities A, (B, H, N, N).
    pub attn: Option<Tensor<4>>,
    /// `v·W_Oᵀ` without bias, (B, N, D).
    pub vproj: Option<Tensor<3>>,
}

impl SelfAttention {
    /// Hidden size D.
    pub fn hidden(&self) -> usize {
        self.proj.weight.dims()[0]
    }

    /// Runs attention on `x` (B, N, D), already layer-normed where the model does so.
    ///
    /// * `mask`: additive key mask broadcastable to (B, 1, 1, N) (0 keep, a large negative
    ///   number drop), for padded text.
    /// * `probe`: a zero leaf (B, H, N, N) that requires grad; it is added to the
    ///   probabilities so that its gradient is ∂y/∂A.
    /// * `record_attn` / `record_vproj`: which quantities to keep.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Option<&Tensor<4>>,
        probe: Option<Tensor<4>>,
        record_attn: bool,
        record_vproj: bool,
    ) -> (Tensor<3>, AttentionRecord) {
        self.forward_ruled(
            x,
            mask,
            probe,
            record_attn,
            record_vproj,
            AttentionRule::Gradient,
        )
    }

    /// [`forward`](SelfAttention::forward) with the gradient of `q`, `k`, `v` under `rule`
    /// ([`crate::rules`]); the forward values are the same. `AttentionRule::Gradient` is
    /// `forward` itself.
    pub fn forward_ruled(
        &self,
        x: Tensor<3>,
        mask: Option<&Tensor<4>>,
        probe: Option<Tensor<4>>,
        record_attn: bool,
        record_vproj: bool,
        rule: AttentionRule,
    ) -> (Tensor<3>, AttentionRecord) {
        let [b, n, d] = x.dims();
        let h = self.num_heads;
        let hd = d / h;
        let qkv = self.qkv.forward(x);
        let heads = |t: Tensor<3>| t.reshape([b, n, h, hd]).swap_dims(1, 2);
        let q = heads(qkv.clone().narrow(2, 0, d));
        let k = heads(qkv.clone().narrow(2, d, d));
        let v_flat = qkv.narrow(2, 2 * d, d);
        let v = heads(v_flat.clone());
        let (q, k, v) = match rule {
            AttentionRule::Gradient => (q, k, v),
            AttentionRule::Uniform => (
                divide_gradient(q, 4.0),
                divide_gradient(k, 4.0),
                divide_gradient(v, 2.0),
            ),
            AttentionRule::Constant => (q.detach(), k.detach(), v),
        };
        let scale = (hd as f64).powf(-0.5);
        let mut scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
        if let Some(m) = mask {
            scores = scores + m.clone();
        }
        let probs = softmax(scores, 3);
        let record = AttentionRecord {
            attn: record_attn.then(|| probs.clone().inner()),
            vproj: record_vproj.then(|| {
                v_flat
                    .matmul(self.proj.weight.val().unsqueeze::<3>())
                    .inner()
            }),
        };
        let probs = match probe {
            Some(z) => probs + z,
            None => probs,
        };
        let out = probs.matmul(v).swap_dims(1, 2).reshape([b, n, d]);
        (self.proj.forward(out), record)
    }
}

impl SelfAttention {
    /// `v·W_Oᵀ` (no output bias) for the values of an arbitrary input `x` (B, N, D): the
    /// token-wise value projection recomputed on another stream (TI's CLIP variant, pitfall P9a).
    pub fn value_projection(&self, x: Tensor<3>) -> Tensor<3> {
        let d = x.dims()[2];
        let v_flat = self.qkv.forward(x).narrow(2, 2 * d, d);
        v_flat.matmul(self.proj.weight.val().unsqueeze::<3>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;

    /// One head, width 1, q = k = v = x (qkv weight [1, 1, 1]), W_O = 1: `out_i = Σ_j p_ij x_j`.
    /// The gradient of Σ out splits over the q, k and v paths, so by hand: the constant rule
    /// (CP-LRP) keeps the v path alone, the uniform rule (AttnLRP) is v/2 + (q, k)/4 =
    /// `g_const/2 + (g_plain − g_const)/4`, and the forward values are the same under every rule.
    #[test]
    fn uniform_rule_splits_v_half_and_qk_quarter_and_constant_keeps_v_only() {
        let dev = Device::flex().autodiff();
        let attn = SelfAttention {
            qkv: Linear {
                weight: Param::from_tensor(Tensor::from_data([[1.0f32, 1.0, 1.0]], &dev)),
                bias: None,
            },
            proj: Linear {
                weight: Param::from_tensor(Tensor::from_data([[1.0f32]], &dev)),
                bias: None,
            },
            num_heads: 1,
        };
        let run = |rule: AttentionRule| {
            let x = Tensor::<3>::from_data([[[0.3f32], [-1.2], [2.0]]], &dev).require_grad();
            let (out, _) = attn.forward_ruled(x.clone(), None, None, false, false, rule);
            let value: Vec<f32> = out.clone().inner().into_data().try_to_vec::<f32>().unwrap();
            let g: Vec<f32> = x
                .grad(&out.sum().backward())
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            (value, g)
        };
        let (v_plain, g_plain) = run(AttentionRule::Gradient);
        let (v_const, g_const) = run(AttentionRule::Constant);
        let (v_unif, g_unif) = run(AttentionRule::Uniform);
        assert_eq!(v_plain, v_const);
        assert_eq!(v_plain, v_unif);
        // constant rule: ∂/∂x_j Σ_i p_ij x_j with p fixed = Σ_i p_ij (column sums of A)
        let x = [0.3f32, -1.2, 2.0];
        let mut col = [0f32; 3];
        for &xi in &x {
            let s: Vec<f32> = x.iter().map(|&xj| xi * xj).collect();
            let m = s.iter().cloned().fold(f32::MIN, f32::max);
            let z: f32 = s.iter().map(|v| (v - m).exp()).sum();
            for j in 0..3 {
                col[j] += (s[j] - m).exp() / z;
            }
        }
        for j in 0..3 {
            assert!((g_const[j] - col[j]).abs() < 1e-5, "{g_const:?} vs {col:?}");
            let want = g_const[j] / 2.0 + (g_plain[j] - g_const[j]) / 4.0;
            assert!((g_unif[j] - want).abs() < 1e-5, "{g_unif:?} vs {want}");
        }
        assert!(
            (g_plain[2] - g_const[2]).abs() > 1e-2,
            "the q, k path carries gradient"
        );
    }
}
