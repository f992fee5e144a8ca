//! Layer-wise relevance propagation with Chefer et al.'s rules (protocols §2.4), over activations
//! recorded in a forward pass. Only what the LRP-based explainers need is propagated: the
//! relevance arriving at every layer's attention probabilities ("attn_cam"), from the output
//! down to a chosen layer.
//!
//! Rules (`safe_div(a, b) = a / (b + 1e-9) · [b ≠ 0]`):
//! * Linear, [`LrpRules::LayersOurs`] (α = 1, β = 0): `Z = X⁺W⁺ + X⁻W⁻` (no bias),
//!   `S = safe_div(R, Z)`, `R_X = X⁺ ⊙ (S W⁺ᵀ) + X⁻ ⊙ (S W⁻ᵀ)`; [`LrpRules::LayersLrp`] uses separate
//!   denominators `S₁ = safe_div(R, X⁺W⁺)`, `S₂ = safe_div(R, X⁻W⁻)`.
//! * Product `Z = A·B` (gradient × input on each operand): `S = safe_div(R, Z)`,
//!   `R_A = A ⊙ (S Bᵀ)`, `R_B = B ⊙ (Aᵀ S)`; in attention both halves are divided by 2.
//! * Residual add `Z = X₀ + X₁`: `a = X₀ ⊙ S`, `b = X₁ ⊙ S`; `LayersOurs` rescales them so that
//!   they keep ΣR split by |mass| (sums per sample), `LayersLrp` does not.
//! * Fan-out (clone): `R_X = X ⊙ Σ_k safe_div(R_k, X)`.
//! * LayerNorm, GELU, tanh, softmax, dropout: identity. CLS selection: relevance lands on the
//!   class token only; average pooling: `R_xᵢ = xᵢ ⊙ safe_div(R, mean) / (N−1)` over patches.
//!
//! The propagation starts from the one-hot vector of the explained class (not the logit), as
//! the reference does. Text is propagated per sample on its real tokens. CLIP's image tower
//! (a zero-shot classifier over fixed text embeddings) is defined in [`crate::clip`]'s module
//! docs: the text embeddings times the logit scale are a bias-free last Linear, the image-norm
//! division, `ln_post` and QuickGELU are the identity.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::bert::Bert;
use crate::clip::{l2_normalize, quick_gelu, ClipImageClassifier};
use crate::error::{ModelError, Result};
use crate::trace::gelu;
use crate::trace::{ModelInput, TextBatch};
use crate::vit::{FcNormOrder, Pool, VisionTransformer};

/// Which of Chefer's two rule sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrpRules {
    /// `layers_ours.py` (Chefer 2021a): α-β Linear with one denominator, rescaled residual adds.
    LayersOurs,
    /// `layers_lrp.py` ("orig"): separate Linear denominators, plain residual adds.
    LayersLrp,
}

/// Relevance at the tokens `t` (B, N, D) of an average pool over the patch tokens
/// `1..N`: `R_i = t_i ⊙ safe_div(r, mean_i t_i) / (N−1)` for patches, 0 for the class token.
/// `pooled` is the mean the relevance `r` (B, D) arrived at.
fn avg_pool_rel(t: Tensor<3>, pooled: Tensor<2>, r: Tensor<2>) -> Tensor<3> {
    let [b, n, d] = t.dims();
    let s = safe_div(r, pooled)
        .div_scalar((n - 1) as f64)
        .reshape([b, 1, d]);
    let patches = t.clone().narrow(1, 1, n - 1) * s;
    Tensor::cat(vec![t.narrow(1, 0, 1).zeros_like(), patches], 1)
}

fn safe_div<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    let keep = b.clone().not_equal_elem(0.0).float();
    a / (b + 1e-9) * keep
}

/// Linear relevance rule; `x` (…, in), `w` burn layout [in, out], `r` (…, out).
fn linear_rel<const D: usize>(
    x: Tensor<D>,
    w: Tensor<2>,
    r: Tensor<D>,
    rules: LrpRules,
) -> Tensor<D> {
    let wp = w.clone().clamp_min(0.0).unsqueeze::<D>();
    let wn = w.clamp_max(0.0).unsqueeze::<D>();
    let xp = x.clone().clamp_min(0.0);
    let xn = x.clamp_max(0.0);
    let z1 = xp.clone().matmul(wp.clone());
    let z2 = xn.clone().matmul(wn.clone());
    let (s1, s2) = match rules {
        LrpRules::LayersOurs => {
            let s = safe_div(r, z1 + z2);
            (s.clone(), s)
        }
        LrpRules::LayersLrp => (safe_div(r.clone(), z1), safe_div(r, z2)),
    };
    xp * s1.matmul(wp.swap_dims(D - 2, D - 1)) + xn * s2.matmul(wn.swap_dims(D - 2, D - 1))
}

/// Product rule for `Z = a·b` (rank-4), returning (R_a, R_b) without the /2.
fn matmul_rel(a: Tensor<4>, b: Tensor<4>, r: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let z = a.clone().matmul(b.clone());
    let s = safe_div(r, z);
    let ra = a.clone() * s.clone().matmul(b.clone().swap_dims(2, 3));
    let rb = b * a.swap_dims(2, 3).matmul(s);
    (ra, rb)
}

/// Residual-add rule on (B, N, D) operands.
fn add_rel(x0: Tensor<3>, x1: Tensor<3>, r: Tensor<3>, rules: LrpRules) -> (Tensor<3>, Tensor<3>) {
    let s = safe_div(r.clone(), x0.clone() + x1.clone());
    let a = x0 * s.clone();
    let b = x1 * s;
    match rules {
        LrpRules::LayersLrp => (a, b),
        LrpRules::LayersOurs => {
            let sum = |t: Tensor<3>| t.sum_dim(2).sum_dim(1); // (B,1,1) per sample
            let (sa, sb, sr) = (sum(a.clone()), sum(b.clone()), sum(r));
            let denom = sa.clone().abs() + sb.clone().abs();
            let fa = safe_div(sa.clone().abs(), denom.clone()) * sr.clone();
            let fb = safe_div(sb.clone().abs(), denom) * sr;
            (a * safe_div(fa, sa), b * safe_div(fb, sb))
        }
    }
}

/// Fan-out rule.
fn clone_rel(x: Tensor<3>, rs: Vec<Tensor<3>>) -> Tensor<3> {
    let mut acc: Option<Tensor<3>> = None;
    for r in rs {
        let t = safe_div(r, x.clone());
        acc = Some(match acc {
            Some(a) => a + t,
            None => t,
        });
    }
    match acc {
        Some(a) => x * a,
        None => x.zeros_like(),
    }
}

fn w(l: &burn::nn::Linear) -> Tensor<2> {
    l.weight.val().inner()
}

fn onehot(targets: &[usize], classes: usize, device: &Device) -> Result<Tensor<2>> {
    let mut v = vec![0f32; targets.len() * classes];
    for (i, &t) in targets.iter().enumerate() {
        if t >= classes {
            return Err(ModelError::Input(format!(
                "target class {t} out of range ({classes} classes)"
            )));
        }
        v[i * classes + t] = 1.0;
    }
    Ok(Tensor::from_data(
        TensorData::new(v, [targets.len(), classes]),
        device,
    ))
}

/// Per-head split (B, N, D) → (B, H, N, d) and back.
fn heads(t: Tensor<3>, h: usize) -> Tensor<4> {
    let [b, n, d] = t.dims();
    t.reshape([b, n, h, d / h]).swap_dims(1, 2)
}
fn merge(t: Tensor<4>) -> Tensor<3> {
    let [b, h, n, d] = t.dims();
    t.swap_dims(1, 2).reshape([b, n, h * d])
}

/// Activations of one attention call needed by relprop.
struct AttnActs {
    input: Tensor<3>,
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    probs: Tensor<4>,
    ctx: Tensor<3>,
    out: Tensor<3>,
}

fn attn_forward(
    a: &crate::attention::SelfAttention,
    x: Tensor<3>,
    mask: Option<Tensor<4>>,
) -> AttnActs {
    let d = x.dims()[2];
    let h = a.num_heads;
    let qkv = a.qkv.forward(x.clone());
    let q = heads(qkv.clone().narrow(2, 0, d), h);
    let k = heads(qkv.clone().narrow(2, d, d), h);
    let v = heads(qkv.narrow(2, 2 * d, d), h);
    let mut scores = q
        .clone()
        .matmul(k.clone().swap_dims(2, 3))
        .mul_scalar(((d / h) as f64).powf(-0.5));
    if let Some(m) = mask {
        scores = scores + m;
    }
    let probs = softmax(scores, 3);
    let ctx = merge(probs.clone().matmul(v.clone()));
    let out = a.proj.forward(ctx.clone());
    AttnActs {
        input: x,
        q,
        k,
        v,
        probs,
        ctx,
        out,
    }
}

/// Relprop through one attention: returns (relevance at its input, attn_cam).
fn attn_relprop(
    a: &crate::attention::SelfAttention,
    acts: &AttnActs,
    r_out: Tensor<3>,
    rules: LrpRules,
) -> (Tensor<3>, Tensor<4>) {
    let h = a.num_heads;
    let r_ctx = heads(linear_rel(acts.ctx.clone(), w(&a.proj), r_out, rules), h);
    let (r_a, r_v) = matmul_rel(acts.probs.clone(), acts.v.clone(), r_ctx);
    let (r_a, r_v) = (r_a.div_scalar(2.0), r_v.div_scalar(2.0));
    let (r_q, r_kt) = matmul_rel(acts.q.clone(), acts.k.clone().swap_dims(2, 3), r_a.clone());
    let (r_q, r_k) = (r_q.div_scalar(2.0), r_kt.swap_dims(2, 3).div_scalar(2.0));
    let r_qkv = Tensor::cat(vec![merge(r_q), merge(r_k), merge(r_v)], 2);
    (linear_rel(acts.input.clone(), w(&a.qkv), r_qkv, rules), r_a)
}

/// Activations of one pre-LN block (`x + attn(ln1 x)`, then `+ fc2(act(fc1(ln2 x)))`).
struct PreLnActs {
    x_in: Tensor<3>,
    attn: AttnActs,
    x_mid: Tensor<3>,
    h2: Tensor<3>,
    g: Tensor<3>,
    f2: Tensor<3>,
}

/// The parts of a pre-LN block relprop needs (LayerNorm and activation are the identity).
struct PreLnBlock<'a> {
    attn: &'a crate::attention::SelfAttention,
    fc1: &'a burn::nn::Linear,
    fc2: &'a burn::nn::Linear,
}

/// Forward through one pre-LN block, recording its activations; returns them and the output.
fn pre_ln_forward(
    x_in: Tensor<3>,
    blk: &PreLnBlock,
    norm1: impl Fn(Tensor<3>) -> Tensor<3>,
    norm2: impl Fn(Tensor<3>) -> Tensor<3>,
    act: impl Fn(Tensor<3>) -> Tensor<3>,
) -> (PreLnActs, Tensor<3>) {
    let a = attn_forward(blk.attn, norm1(x_in.clone()), None);
    let x_mid = x_in.clone() + a.out.clone();
    let h2 = norm2(x_mid.clone());
    let g = act(blk.fc1.forward(h2.clone()));
    let f2 = blk.fc2.forward(g.clone());
    let x = x_mid.clone() + f2.clone();
    (
        PreLnActs {
            x_in,
            attn: a,
            x_mid,
            h2,
            g,
            f2,
        },
        x,
    )
}

/// Relprop through pre-LN blocks from the last down to `down_to`, starting with the relevance
/// `r_x` at the output of the last block; returns attn_cam per layer (None below `down_to`).
fn pre_ln_relprop(
    blocks: &[PreLnBlock],
    acts: &[PreLnActs],
    mut r_x: Tensor<3>,
    rules: LrpRules,
    down_to: usize,
) -> Vec<Option<Tensor<4>>> {
    let inner = |t: Tensor<3>| t.inner();
    let mut cams = vec![None; blocks.len()];
    for (l, (blk, a)) in blocks.iter().zip(acts.iter()).enumerate().rev() {
        if l < down_to {
            break;
        }
        let (r_res, r_mlp) = add_rel(inner(a.x_mid.clone()), inner(a.f2.clone()), r_x, rules);
        let r_g = linear_rel(inner(a.g.clone()), w(blk.fc2), r_mlp, rules);
        let r_h2 = linear_rel(inner(a.h2.clone()), w(blk.fc1), r_g, rules);
        let r_mid = clone_rel(inner(a.x_mid.clone()), vec![r_res, r_h2]);
        let (r_res1, r_attn) = add_rel(
            inner(a.x_in.clone()),
            inner(a.attn.out.clone()),
            r_mid,
            rules,
        );
        let at = plain_acts(&a.attn);
        let (r_h1, cam) = attn_relprop(blk.attn, &at, r_attn, rules);
        cams[l] = Some(cam);
        r_x = clone_rel(inner(a.x_in.clone()), vec![r_res1, r_h1]);
    }
    cams
}

impl VisionTransformer {
    /// LRP relevance at the attention probabilities of layers `down_to..L` (None below),
    /// each (B, H, N, N), for the explained classes `targets`.
    pub fn attn_relevance(
        &self,
        images: &Tensor<4>,
        targets: &[usize],
        rules: LrpRules,
        down_to: usize,
    ) -> Result<Vec<Option<Tensor<4>>>> {
        let dev = self.cls_token.val().device();
        let img = images.clone().to_device(&dev);
        let mut x = self.embed(img);
        let blocks: Vec<PreLnBlock> = self
            .blocks
            .iter()
            .map(|b| PreLnBlock {
                attn: &b.attn,
                fc1: &b.mlp.fc1,
                fc2: &b.mlp.fc2,
            })
            .collect();
        let mut acts = Vec::with_capacity(self.blocks.len());
        for (blk, refs) in self.blocks.iter().zip(blocks.iter()) {
            let (a, next) = pre_ln_forward(
                x,
                refs,
                |t| blk.norm1.forward(t),
                |t| blk.norm2.forward(t),
                gelu,
            );
            acts.push(a);
            x = next;
        }
        let xn = match &self.norm {
            Some(n) => n.forward(x),
            None => x,
        };
        let r_x = self.head_relevance(xn, targets, rules)?;
        Ok(pre_ln_relprop(&blocks, &acts, r_x, rules, down_to))
    }

    /// Relevance at the tokens after the final norm `xn` (B, N, D), from the one-hot of
    /// `targets` through the head, `fc_norm` and the pooling (in the config's `fc_norm_order`).
    pub(crate) fn head_relevance(
        &self,
        xn: Tensor<3>,
        targets: &[usize],
        rules: LrpRules,
    ) -> Result<Tensor<3>> {
        let plain = xn.device().inner();
        let [b, n, d] = xn.dims();
        let r = onehot(targets, self.config.num_classes, &plain)?;
        let r_x = match (self.config.pool, &self.fc_norm, self.config.fc_norm_order) {
            (pool, _, FcNormOrder::PoolThenNorm) => {
                let pooled = match pool {
                    Pool::Cls => xn.clone().narrow(1, 0, 1).reshape([b, d]),
                    Pool::Avg => xn.clone().narrow(1, 1, n - 1).mean_dim(1).reshape([b, d]),
                };
                let head_in = match &self.fc_norm {
                    Some(f) => f.forward(pooled.clone()),
                    None => pooled.clone(),
                };
                let r_pooled = linear_rel(head_in.inner(), w(&self.head), r, rules); // fc_norm: identity
                let (xn, pooled) = (xn.inner(), pooled.inner());
                match pool {
                    Pool::Cls => {
                        let r0 = safe_div(r_pooled, pooled);
                        let cls = xn.narrow(1, 0, 1) * r0.reshape([b, 1, d]);
                        Tensor::cat(vec![cls, Tensor::zeros([b, n - 1, d], &plain)], 1)
                    }
                    Pool::Avg => avg_pool_rel(xn, pooled, r_pooled),
                }
            }
            (Pool::Avg, Some(f), FcNormOrder::NormThenPool) => {
                let tokens = f.forward(xn).inner();
                let pooled = tokens.clone().narrow(1, 1, n - 1).mean_dim(1).reshape([b, d]);
                let r_pooled = linear_rel(pooled.clone(), w(&self.head), r, rules);
                avg_pool_rel(tokens, pooled, r_pooled) // fc_norm on the tokens: identity
            }
            (_, _, FcNormOrder::NormThenPool) => {
                return Err(ModelError::Input(
                    "fc_norm_order = \"norm_then_pool\" applies to average-pooled ViTs with fc_norm (MAE); this ViT pools the class token or has no fc_norm".into(),
                ))
            }
        };
        Ok(r_x)
    }
}

/// LRP relevance at the attention probabilities of the image tower of a CLIP zero-shot
/// classifier (the rules of [`crate::clip`]'s module docs): layers `down_to..L`, each
/// (B, H, N, N).
pub(crate) fn clip_image_attn_relevance(
    view: &ClipImageClassifier,
    images: &Tensor<4>,
    targets: &[usize],
    rules: LrpRules,
    down_to: usize,
) -> Result<Vec<Option<Tensor<4>>>> {
    let model = &view.model;
    let visual = &model.visual;
    let dev = model.device();
    let plain = dev.clone().inner();
    let b = images.dims()[0];
    if targets.len() != b {
        return Err(ModelError::Input(format!(
            "{} targets for a batch of {b}",
            targets.len()
        )));
    }
    let mut x = visual.embed(images.clone().to_device(&dev));
    let blocks: Vec<PreLnBlock> = visual
        .transformer
        .resblocks
        .iter()
        .map(|r| PreLnBlock {
            attn: &r.attn,
            fc1: &r.mlp.c_fc,
            fc2: &r.mlp.c_proj,
        })
        .collect();
    let mut acts = Vec::with_capacity(blocks.len());
    for (blk, refs) in visual.transformer.resblocks.iter().zip(blocks.iter()) {
        let (a, next) = pre_ln_forward(
            x,
            refs,
            |t| blk.ln_1.forward(t),
            |t| blk.ln_2.forward(t),
            quick_gelu,
        );
        acts.push(a);
        x = next;
    }
    let [_, n, width] = x.dims();
    let x = x.inner();
    let cls = x.clone().narrow(1, 0, 1).reshape([b, width]); // ln_post input
    let cls_ln = visual.ln_post.forward(cls.clone()).inner();
    let feat = cls_ln.clone().matmul(visual.proj.val().inner());
    let feat_n = l2_normalize(feat);
    // Final "linear": logits = feat_n · (exp(logit_scale) · T_n)ᵀ, no bias.
    let scale = model.logit_scale_exp() as f64;
    let w_txt = view.text_features().clone().mul_scalar(scale).transpose(); // [embed, C]
    let r = onehot(targets, view.num_classes(), &plain)?;
    let r_feat = linear_rel(feat_n, w_txt, r, rules); // 1/‖f‖: identity
    let r_cls = linear_rel(cls_ln, visual.proj.val().inner(), r_feat, rules); // ln_post: identity
    let r0 = cls.clone() * safe_div(r_cls, cls); // class-token selection
    let r_x = Tensor::cat(
        vec![
            r0.reshape([b, 1, width]),
            Tensor::zeros([b, n - 1, width], &plain),
        ],
        1,
    );
    Ok(pre_ln_relprop(&blocks, &acts, r_x, rules, down_to))
}

fn plain_acts(a: &AttnActs) -> AttnActs {
    AttnActs {
        input: a.input.clone().inner(),
        q: a.q.clone().inner(),
        k: a.k.clone().inner(),
        v: a.v.clone().inner(),
        probs: a.probs.clone().inner(),
        ctx: a.ctx.clone().inner(),
        out: a.out.clone().inner(),
    }
}

impl Bert {
    /// LRP relevance at the attention probabilities of layers `down_to..L`, per sample on its
    /// real tokens, zero-padded to the batch length: each (B, H, N, N).
    pub fn attn_relevance(
        &self,
        batch: &TextBatch,
        targets: &[usize],
        rules: LrpRules,
        down_to: usize,
    ) -> Result<Vec<Option<Tensor<4>>>> {
        let (Some(pooler), Some(classifier)) = (&self.pooler, &self.classifier) else {
            return Err(ModelError::Input(
                "this BERT checkpoint has no classifier".into(),
            ));
        };
        let dev = self.embeddings.word_embeddings.val().device();
        let plain = dev.clone().inner();
        let [bsz, n_max] = batch.input_ids.dims();
        if targets.len() != bsz {
            return Err(ModelError::Input(format!(
                "{} targets for a batch of {bsz}",
                targets.len()
            )));
        }
        let h = self.config.heads;
        let mut per_layer: Vec<Vec<Tensor<4>>> = vec![Vec::new(); self.layers.len()];
        for s in 0..bsz {
            let n = batch.lengths[s];
            let one = ModelInput::Text(batch.clone()).select_rows(&[s]);
            let ModelInput::Text(one) = one.to_device(&dev) else {
                return Err(ModelError::Input("text batch expected".into()));
            };
            let one = TextBatch {
                input_ids: one.input_ids.narrow(1, 0, n),
                attention_mask: one.attention_mask.narrow(1, 0, n),
                token_type_ids: one.token_type_ids.narrow(1, 0, n),
                lengths: vec![n],
            };
            // Forward with recording.
            struct LayerActs {
                h: Tensor<3>,
                attn: AttnActs,
                a: Tensor<3>,
                gi: Tensor<3>,
                o: Tensor<3>,
            }
            let mut x = self.embeddings.forward(&one);
            let mut acts = Vec::with_capacity(self.layers.len());
            for layer in &self.layers {
                let at = attn_forward(&layer.attention, x.clone(), None);
                let a = layer.attention_norm.forward(at.out.clone() + x.clone());
                let gi = gelu(layer.intermediate.forward(a.clone()));
                let o = layer.output.forward(gi.clone());
                let next = layer.output_norm.forward(o.clone() + a.clone());
                acts.push(LayerActs {
                    h: x,
                    attn: at,
                    a,
                    gi,
                    o,
                });
                x = next;
            }
            let d = self.config.hidden;
            let cls = x.clone().narrow(1, 0, 1).reshape([1, d]);
            let pooled = pooler.forward(cls.clone()).tanh();
            let r = onehot(&targets[s..s + 1], self.config.num_classes, &plain)?;
            let r_pooled = linear_rel(pooled.inner(), w(classifier), r, rules);
            let r_cls = linear_rel(cls.clone().inner(), w(pooler), r_pooled, rules);
            let x_plain = x.inner();
            let r0 =
                x_plain.clone().narrow(1, 0, 1) * safe_div(r_cls, cls.inner()).reshape([1, 1, d]);
            let mut r_x = if n > 1 {
                Tensor::cat(vec![r0, Tensor::zeros([1, n - 1, d], &plain)], 1)
            } else {
                r0
            };
            for (l, (layer, a)) in self.layers.iter().zip(acts.iter()).enumerate().rev() {
                if l < down_to {
                    break;
                }
                let (r_o, r_a2) = add_rel(a.o.clone().inner(), a.a.clone().inner(), r_x, rules);
                let r_gi = linear_rel(a.gi.clone().inner(), w(&layer.output), r_o, rules);
                let r_a1 = linear_rel(a.a.clone().inner(), w(&layer.intermediate), r_gi, rules);
                let r_a = clone_rel(a.a.clone().inner(), vec![r_a1, r_a2]);
                let (r_so, r_h2) =
                    add_rel(a.attn.out.clone().inner(), a.h.clone().inner(), r_a, rules);
                let at = plain_acts(&a.attn);
                let (r_h1, cam) = attn_relprop_split(&layer.attention, &at, r_so, rules);
                let [_, hh, _, _] = cam.dims();
                debug_assert_eq!(hh, h);
                let padded = if n < n_max {
                    let z = Tensor::<4>::zeros([1, h, n_max, n_max], &plain);
                    z.slice_assign([0..1, 0..h, 0..n, 0..n], cam)
                } else {
                    cam
                };
                per_layer[l].push(padded);
                let mut rs = r_h1;
                rs.push(r_h2);
                r_x = clone_rel(a.h.clone().inner(), rs);
            }
        }
        Ok(per_layer
            .into_iter()
            .map(|v| {
                if v.len() == bsz {
                    Some(Tensor::cat(v, 0))
                } else {
                    None
                }
            })
            .collect())
    }
}

/// BERT's query/key/value are separate Linears on the same input: the relevances of the three
/// are returned separately (they join the residual in one fan-out rule).
fn attn_relprop_split(
    a: &crate::attention::SelfAttention,
    acts: &AttnActs,
    r_out: Tensor<3>,
    rules: LrpRules,
) -> (Vec<Tensor<3>>, Tensor<4>) {
    let h = a.num_heads;
    let d = acts.input.dims()[2];
    let r_ctx = heads(linear_rel(acts.ctx.clone(), w(&a.proj), r_out, rules), h);
    let (r_a, r_v) = matmul_rel(acts.probs.clone(), acts.v.clone(), r_ctx);
    let (r_a, r_v) = (r_a.div_scalar(2.0), r_v.div_scalar(2.0));
    let (r_q, r_kt) = matmul_rel(acts.q.clone(), acts.k.clone().swap_dims(2, 3), r_a.clone());
    let (r_q, r_k) = (r_q.div_scalar(2.0), r_kt.swap_dims(2, 3).div_scalar(2.0));
    let wq = w(&a.qkv);
    let part = |r: Tensor<4>, i: usize| {
        linear_rel(
            acts.input.clone(),
            wq.clone().narrow(1, i * d, d),
            merge(r),
            rules,
        )
    };
    (vec![part(r_q, 0), part(r_k, 1), part(r_v, 2)], r_a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vit::VitConfig;
    use burn::module::Param;

    /// A 2-wide average-pooled ViT with an identity head (no bias) and a plain `fc_norm`
    /// (γ = 1, β = 0, ε = 1e-12): for a 2-vector `[a, b]` with `a < b`, `fc_norm` gives
    /// `[−1, 1]`.
    fn tiny_gap_vit(device: &Device) -> VisionTransformer {
        let cfg = VitConfig {
            image_size: 2,
            patch_size: 1,
            hidden: 2,
            depth: 1,
            heads: 1,
            mlp_hidden: 2,
            num_classes: 2,
            qkv_bias: true,
            ln_eps: 1e-12,
            pool: Pool::Avg,
            norm_mean: [0.5; 3],
            norm_std: [0.5; 3],
            fc_norm_order: FcNormOrder::PoolThenNorm,
        };
        let mut m = cfg.init(device);
        m.head.weight = Param::from_tensor(Tensor::from_floats([[1.0, 0.0], [0.0, 1.0]], device));
        m.head.bias = None;
        m
    }

    fn rows(t: Tensor<3>) -> Vec<Vec<f32>> {
        let [_, n, d] = t.dims();
        let v = t.into_data().try_to_vec::<f32>().unwrap();
        (0..n).map(|i| v[i * d..(i + 1) * d].to_vec()).collect()
    }

    /// Tokens CLS = [9, 9], p₁ = [0, 2], p₂ = [1, 5]; class 1 explained. Both orders give the
    /// head input [−1, 1] and, through the identity head (layers_ours: x⁺ = [0, 1], Z = [0, 1]),
    /// the relevance [0, 1] at the pooled vector.
    /// * pool_then_norm: pooled = mean(p₁, p₂) = [0.5, 3.5]; R_pᵢ = pᵢ ⊙ [0, 1]/[0.5, 3.5]/2
    ///   → p₁ [0, 2/7], p₂ [0, 5/7].
    /// * norm_then_pool (the reference's MAE LRP): n₁ = n₂ = [−1, 1], pooled = [−1, 1];
    ///   R_pᵢ = nᵢ ⊙ [0, 1]/[−1, 1]/2 → [0, 1/2] each.
    /// The class token gets nothing in either order.
    #[test]
    fn fc_norm_order_variants_spread_the_pooled_relevance_by_hand() {
        let device = Device::flex();
        let m = tiny_gap_vit(&device);
        let xn = Tensor::<3>::from_floats([[[9.0, 9.0], [0.0, 2.0], [1.0, 5.0]]], &device);
        let run = |order| {
            let mut m = m.clone();
            m.config.fc_norm_order = order;
            // both orders feed the head [-1, 1]: the logits equal the head input
            let logits = m
                .head_forward(xn.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            assert!(
                (logits[0] + 1.0).abs() < 1e-6 && (logits[1] - 1.0).abs() < 1e-6,
                "{logits:?}"
            );
            rows(
                m.head_relevance(xn.clone(), &[1], LrpRules::LayersOurs)
                    .unwrap(),
            )
        };
        let close = |got: Vec<Vec<f32>>, want: [[f32; 2]; 3]| {
            for (g, w) in got.iter().zip(want.iter()) {
                for (a, b) in g.iter().zip(w.iter()) {
                    assert!((a - b).abs() < 1e-6, "{got:?} vs {want:?}");
                }
            }
        };
        close(
            run(FcNormOrder::PoolThenNorm),
            [[0.0, 0.0], [0.0, 2.0 / 7.0], [0.0, 5.0 / 7.0]],
        );
        close(
            run(FcNormOrder::NormThenPool),
            [[0.0, 0.0], [0.0, 0.5], [0.0, 0.5]],
        );
    }

    /// The reference order needs an average-pooled model with `fc_norm`; asking a model for
    /// the order it has gives no variant.
    #[test]
    fn norm_then_pool_on_a_cls_vit_is_an_error() {
        use crate::trace::Explainable;
        let device = Device::flex();
        let gap = tiny_gap_vit(&device);
        assert!(gap
            .with_fc_norm_order(FcNormOrder::PoolThenNorm)
            .unwrap()
            .is_none());
        assert!(gap
            .with_fc_norm_order(FcNormOrder::NormThenPool)
            .unwrap()
            .is_some());
        let mut cfg = gap.config.clone();
        cfg.pool = Pool::Cls;
        let m = cfg.init(&device);
        let e = m
            .with_fc_norm_order(FcNormOrder::NormThenPool)
            .err()
            .expect("an error")
            .to_string();
        assert!(e.contains("average-pooled"), "{e}");
        let xn = Tensor::<3>::zeros([1, 3, 2], &device);
        let mut m = m;
        m.config.fc_norm_order = FcNormOrder::NormThenPool;
        assert!(m.head_relevance(xn, &[0], LrpRules::LayersOurs).is_err());
    }
}
