//! CLIP (OpenAI's ViT image tower and causal text tower, protocols §3.5) with traced attention,
//! and the two views through which explainers see it.
//!
//! Field names mirror OpenAI's checkpoint names (`visual.conv1`, `visual.class_embedding`,
//! `visual.transformer.resblocks.N.{ln_1, attn, ln_2, mlp.c_fc, mlp.c_proj}`, `visual.ln_post`,
//! `visual.proj`, `token_embedding`, `positional_embedding`, `transformer.resblocks.N…`,
//! `ln_final`, `text_projection`, `logit_scale`). Attention is the crate's one traced block:
//! `qkv` = OpenAI's `in_proj_weight`/`in_proj_bias` (rows `[W_q; W_k; W_v]`, heads contiguous,
//! as `nn.MultiheadAttention` splits them), `proj` = `out_proj`. `nn.MultiheadAttention` scales
//! `q` by `d^-½` before `q·kᵀ`; the block scales the product — the same number up to rounding.
//!
//! * Image tower: bias-free stride-p convolution → `[class_embedding; patches] +
//!   positional_embedding` → `ln_pre` → pre-LN blocks with QuickGELU `x·σ(1.702x)` MLPs →
//!   `ln_post` of the class token → `@ proj` (width × embed).
//! * Text tower: `token_embedding[ids] + positional_embedding` → blocks with a causal mask →
//!   `ln_final` → the end-of-text position (the largest id of the row, OpenAI's `argmax`) →
//!   `@ text_projection` (width × embed, applied as `x @ P`).
//! * Logits: `exp(logit_scale) · cos(f_img, f_txt)`, with the checkpoint's `logit_scale`.
//!
//! Views ([`Explainable`]):
//! * [`ClipImageClassifier`]: the image tower against C fixed, normalised text embeddings
//!   (zero-shot prompts). Logits (B, C); explaining class c is explaining the logit of text c,
//!   the paper's `y_c`. IG scales the CLIP-normalised image (protocols §1.5); `z` is the block
//!   input, `v·W_Oᵀ` that of the attention input, or with [`Explainable::trace_vproj`] and
//!   [`VprojSource::PostAttention`] TI's variant (pitfall P9a). [`Family::Clip`],
//!   [`Readout::ClsRow`].
//! * [`ClipTextView`]: the text tower against M fixed, normalised image embeddings. Logits
//!   (B, M); IG scales the token embeddings before the positional embedding is added
//!   (protocols §1.5). [`Family::ClipText`], [`Readout::EotRow`].
//!
//! LRP ([`ClipImageClassifier`]'s `attn_relevance`, Chefer's rules of [`crate::lrp`]): the
//! relevance starts from the one-hot of the explained logit. The last layer is taken to be a
//! bias-free Linear whose weights are the normalised text embeddings times `exp(logit_scale)`,
//! applied to the normalised image embedding; the division by the image norm is a per-sample
//! constant and passes relevance unchanged (as LayerNorm does in these rules). Then `proj`
//! (bias-free Linear), `ln_post` (identity), selection of the class token, and the blocks in
//! reverse, exactly as for the ViT (QuickGELU is the identity like GELU). This is what makes
//! partial LRP and transformer attribution defined on CLIP.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::attention::SelfAttention;
use crate::error::{ModelError, Result};
use crate::preprocess::Normalization;
use crate::rules::{
    activation, layer_norm, patch_sums, ActivationRule, GradRules, InputGradRequest, NormRule,
};
use crate::trace::{
    alpha_tensor, finish_trace, leaf_gradient, make_probes, scaled_leaf, Explainable, Family,
    ForwardTrace, LayerTrace, ModelInput, Readout, TextBatch, TraceOptions, VprojSource,
};
use crate::vit::PatchEmbed;

/// CLIP hyper-parameters (OpenAI's `CLIP(...)` arguments). MLPs are 4 × width wide.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipConfig {
    /// Input side S of the image tower (square images).
    pub image_size: usize,
    /// Patch side p.
    pub patch_size: usize,
    /// Image tower width.
    pub vision_width: usize,
    /// Image tower blocks.
    pub vision_layers: usize,
    /// Image tower heads (OpenAI: width / 64).
    pub vision_heads: usize,
    /// Text context length (77).
    pub context_length: usize,
    /// Text vocabulary size (49408).
    pub vocab_size: usize,
    /// Text tower width.
    pub text_width: usize,
    /// Text tower heads (OpenAI: width / 64).
    pub text_heads: usize,
    /// Text tower blocks.
    pub text_layers: usize,
    /// Joint embedding size.
    pub embed_dim: usize,
    /// LayerNorm epsilon (1e-5).
    pub ln_eps: f64,
    /// Per-channel mean of the image normalisation (CLIP's by default).
    pub norm_mean: [f32; 3],
    /// Per-channel std of the image normalisation.
    pub norm_std: [f32; 3],
}

impl ClipConfig {
    /// OpenAI `ViT-B/32` (the paper's CLIP, protocols §3.5).
    pub fn clip_vit_b32() -> Self {
        let (norm_mean, norm_std) = Normalization::Clip.mean_std();
        Self {
            image_size: 224,
            patch_size: 32,
            vision_width: 768,
            vision_layers: 12,
            vision_heads: 12,
            context_length: 77,
            vocab_size: 49408,
            text_width: 512,
            text_heads: 8,
            text_layers: 12,
            embed_dim: 512,
            ln_eps: 1e-5,
            norm_mean,
            norm_std,
        }
    }
    /// OpenAI `ViT-B/16`.
    pub fn clip_vit_b16() -> Self {
        Self {
            patch_size: 16,
            ..Self::clip_vit_b32()
        }
    }
    /// OpenAI `ViT-L/14` (224 px).
    pub fn clip_vit_l14() -> Self {
        Self {
            patch_size: 14,
            vision_width: 1024,
            vision_layers: 24,
            vision_heads: 16,
            text_width: 768,
            text_heads: 12,
            embed_dim: 768,
            ..Self::clip_vit_b32()
        }
    }
    /// A preset by name: `clip_vit_b32`, `clip_vit_b16`, `clip_vit_l14`.
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "clip_vit_b32" => Some(Self::clip_vit_b32()),
            "clip_vit_b16" => Some(Self::clip_vit_b16()),
            "clip_vit_l14" => Some(Self::clip_vit_l14()),
            _ => None,
        }
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Image tokens N (patches + class token).
    pub fn num_image_tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }

    /// The image normalisation (a named preset when the statistics match one).
    pub fn normalization(&self) -> Normalization {
        Normalization::from_mean_std(self.norm_mean, self.norm_std)
    }

    /// Checks internal consistency.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(format!(
                "image_size {} is not a multiple of patch_size {}",
                self.image_size, self.patch_size
            ));
        }
        for (what, w, h) in [
            ("vision", self.vision_width, self.vision_heads),
            ("text", self.text_width, self.text_heads),
        ] {
            if h == 0 || !w.is_multiple_of(h) {
                return Err(format!(
                    "{what}_width {w} is not divisible by {what}_heads {h}"
                ));
            }
        }
        if self.vision_layers == 0
            || self.text_layers == 0
            || self.embed_dim == 0
            || self.vocab_size == 0
            || self.context_length < 2
        {
            return Err(
                "vision_layers, text_layers, embed_dim and vocab_size must be positive and \
                 context_length at least 2"
                    .into(),
            );
        }
        Ok(())
    }

    /// A randomly initialised model with OpenAI's initialisation (normal embeddings and
    /// projections with its standard deviations, zero attention biases, unit LayerNorms,
    /// `logit_scale = ln(1/0.07)`), for training and benchmarks.
    pub fn init(&self, device: &Device) -> Clip {
        use burn::nn::LayerNormConfig;
        use burn::tensor::Distribution;
        let normal = |shape: [usize; 2], std: f64| {
            Tensor::<2>::random(shape, Distribution::Normal(0.0, std), device)
        };
        let ln = |d: usize| {
            LayerNormConfig::new(d)
                .with_epsilon(self.ln_eps)
                .init(device)
        };
        let linear = |i: usize, o: usize, std: f64, bias: bool| Linear {
            weight: Param::from_tensor(normal([i, o], std)),
            bias: bias.then(|| Param::from_tensor(Tensor::<1>::zeros([o], device))),
        };
        let tower = |width: usize, layers: usize, heads: usize| {
            let attn_std = (width as f64).powf(-0.5);
            let proj_std = attn_std * ((2 * layers) as f64).powf(-0.5);
            let fc_std = ((2 * width) as f64).powf(-0.5);
            ClipTransformer {
                resblocks: (0..layers)
                    .map(|_| ResidualAttentionBlock {
                        ln_1: ln(width),
                        attn: SelfAttention {
                            qkv: linear(width, 3 * width, attn_std, true),
                            proj: linear(width, width, proj_std, true),
                            num_heads: heads,
                        },
                        ln_2: ln(width),
                        mlp: ClipMlp {
                            c_fc: linear(width, 4 * width, fc_std, true),
                            c_proj: linear(4 * width, width, proj_std, true),
                        },
                    })
                    .collect(),
            }
        };
        let vw = self.vision_width;
        let scale = (vw as f64).powf(-0.5);
        let p = self.patch_size;
        Clip {
            visual: ClipVisual {
                conv1: PatchEmbed {
                    proj: linear(3 * p * p, vw, ((3 * p * p) as f64).powf(-0.5), false),
                    patch_size: p,
                },
                class_embedding: Param::from_tensor(Tensor::<1>::random(
                    [vw],
                    Distribution::Normal(0.0, scale),
                    device,
                )),
                positional_embedding: Param::from_tensor(normal(
                    [self.num_image_tokens(), vw],
                    scale,
                )),
                ln_pre: ln(vw),
                transformer: tower(vw, self.vision_layers, self.vision_heads),
                ln_post: ln(vw),
                proj: Param::from_tensor(normal([vw, self.embed_dim], scale)),
            },
            transformer: tower(self.text_width, self.text_layers, self.text_heads),
            token_embedding: Param::from_tensor(normal([self.vocab_size, self.text_width], 0.02)),
            positional_embedding: Param::from_tensor(normal(
                [self.context_length, self.text_width],
                0.01,
            )),
            ln_final: ln(self.text_width),
            text_projection: Param::from_tensor(normal(
                [self.text_width, self.embed_dim],
                (self.text_width as f64).powf(-0.5),
            )),
            logit_scale: Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(vec![(1.0f32 / 0.07).ln()], [1]),
                device,
            )),
            config: self.clone(),
        }
    }
}

/// `x · σ(1.702 x)`.
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone() * sigmoid(x.mul_scalar(1.702))
}

/// The MLP of a block: `c_proj(quick_gelu(c_fc(x)))`.
#[derive(Module, Debug)]
pub struct ClipMlp {
    /// width → 4·width.
    pub c_fc: Linear,
    /// 4·width → width.
    pub c_proj: Linear,
}

impl ClipMlp {
    /// Forward.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.c_proj.forward(quick_gelu(self.c_fc.forward(x)))
    }

    /// Forward with QuickGELU under `rule` ([`crate::rules`]).
    pub fn forward_ruled(&self, x: Tensor<3>, rule: ActivationRule) -> Tensor<3> {
        self.c_proj
            .forward(activation(self.c_fc.forward(x), quick_gelu, rule))
    }
}

/// One pre-LN block: `x + attn(ln_1 x)`, then `x + mlp(ln_2 x)`.
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    /// LayerNorm before attention.
    pub ln_1: LayerNorm,
    /// Self-attention (`in_proj` fused as `qkv`, `out_proj` as `proj`).
    pub attn: SelfAttention,
    /// LayerNorm before the MLP.
    pub ln_2: LayerNorm,
    /// MLP.
    pub mlp: ClipMlp,
}

/// A stack of blocks (OpenAI's `Transformer`).
#[derive(Module, Debug)]
pub struct ClipTransformer {
    /// The blocks.
    pub resblocks: Vec<ResidualAttentionBlock>,
}

impl ClipTransformer {
    /// Plain forward keeping the autodiff graph.
    pub fn forward(&self, x: Tensor<3>, mask: Option<&Tensor<4>>) -> Tensor<3> {
        self.forward_ruled(x, mask, &GradRules::default(), 0.0)
    }

    /// [`forward`](ClipTransformer::forward) with LayerNorms (epsilon `eps`), attention and
    /// QuickGELU under `rules` ([`crate::rules`]).
    pub fn forward_ruled(
        &self,
        mut x: Tensor<3>,
        mask: Option<&Tensor<4>>,
        rules: &GradRules,
        eps: f64,
    ) -> Tensor<3> {
        let ln = |m: &LayerNorm, x: Tensor<3>| layer_norm(m, x, rules.layer_norm, eps);
        for blk in &self.resblocks {
            let (a, _) = blk.attn.forward_ruled(
                ln(&blk.ln_1, x.clone()),
                mask,
                None,
                false,
                false,
                rules.attention,
            );
            x = x + a;
            x = x.clone() + blk.mlp.forward_ruled(ln(&blk.ln_2, x), rules.activation);
        }
        x
    }

    /// Traced forward: per-layer records as [`TraceOptions`] asks, `v·W_Oᵀ` on `source`.
    fn trace(
        &self,
        mut x: Tensor<3>,
        mask: Option<&Tensor<4>>,
        probes: &[Option<Tensor<4>>],
        opts: &TraceOptions,
        source: VprojSource,
    ) -> (Tensor<3>, Vec<LayerTrace>) {
        let post = source == VprojSource::PostAttention;
        let mut layers = Vec::with_capacity(self.resblocks.len());
        for (blk, probe) in self.resblocks.iter().zip(probes.iter()) {
            let z = opts.z_vproj.then(|| x.clone().inner());
            let (a, rec) = blk.attn.forward(
                blk.ln_1.forward(x.clone()),
                mask,
                probe.clone(),
                opts.attn,
                opts.z_vproj && !post,
            );
            x = x + a;
            let vproj = if opts.z_vproj && post {
                Some(
                    blk.attn
                        .value_projection(blk.ln_1.forward(x.clone().inner()))
                        .inner(),
                )
            } else {
                rec.vproj
            };
            x = x.clone() + blk.mlp.forward(blk.ln_2.forward(x));
            layers.push(LayerTrace {
                attn: rec.attn,
                grad: None,
                z,
                vproj,
            });
        }
        (x, layers)
    }
}

/// The image tower (OpenAI's `VisionTransformer`, `visual.*`).
#[derive(Module, Debug)]
pub struct ClipVisual {
    /// `visual.conv1`: bias-free stride-p convolution, as a Linear over flattened patches.
    pub conv1: PatchEmbed,
    /// `visual.class_embedding` (width).
    pub class_embedding: Param<Tensor<1>>,
    /// `visual.positional_embedding` (N, width).
    pub positional_embedding: Param<Tensor<2>>,
    /// `visual.ln_pre`.
    pub ln_pre: LayerNorm,
    /// `visual.transformer`.
    pub transformer: ClipTransformer,
    /// `visual.ln_post`.
    pub ln_post: LayerNorm,
    /// `visual.proj` (width, embed), applied as `x @ proj`.
    pub proj: Param<Tensor<2>>,
}

impl ClipVisual {
    /// The token sequence entering the blocks: `ln_pre([class; patches] + positional)`.
    pub fn embed(&self, images: Tensor<4>) -> Tensor<3> {
        self.embed_ruled(images, NormRule::Gradient, 0.0)
    }

    /// [`embed`](ClipVisual::embed) with `ln_pre` under `rule` (epsilon `eps`).
    pub fn embed_ruled(&self, images: Tensor<4>, rule: NormRule, eps: f64) -> Tensor<3> {
        let b = images.dims()[0];
        let patches = self.conv1.forward(images);
        let w = patches.dims()[2];
        let cls = self
            .class_embedding
            .val()
            .reshape([1, 1, w])
            .expand([b, 1, w]);
        let x =
            Tensor::cat(vec![cls, patches], 1) + self.positional_embedding.val().unsqueeze::<3>();
        layer_norm(&self.ln_pre, x, rule, eps)
    }

    /// `ln_post(x[:, 0]) @ proj` on the output of the last block: image features (B, embed).
    pub fn head(&self, x: Tensor<3>) -> Tensor<2> {
        self.head_ruled(x, NormRule::Gradient, 0.0)
    }

    /// [`head`](ClipVisual::head) with `ln_post` under `rule` (epsilon `eps`).
    pub fn head_ruled(&self, x: Tensor<3>, rule: NormRule, eps: f64) -> Tensor<2> {
        let [b, _, w] = x.dims();
        let cls = layer_norm(&self.ln_post, x.narrow(1, 0, 1).reshape([b, w]), rule, eps);
        cls.matmul(self.proj.val())
    }
}

/// A CLIP model (OpenAI's `CLIP`).
#[derive(Module, Debug)]
pub struct Clip {
    /// Image tower.
    pub visual: ClipVisual,
    /// Text blocks.
    pub transformer: ClipTransformer,
    /// `token_embedding.weight` (vocab, width).
    pub token_embedding: Param<Tensor<2>>,
    /// `positional_embedding` (context, width).
    pub positional_embedding: Param<Tensor<2>>,
    /// `ln_final`.
    pub ln_final: LayerNorm,
    /// `text_projection` (width, embed), applied as `x @ P`.
    pub text_projection: Param<Tensor<2>>,
    /// `logit_scale` (a scalar stored as a 1-element tensor); logits use `exp(logit_scale)`.
    pub logit_scale: Param<Tensor<1>>,
    /// Configuration.
    #[module(skip)]
    pub config: ClipConfig,
}

/// `x / ‖x‖₂` per row.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = row_norms(&x);
    x / norm
}

/// The L2 norm of every row, (B, 1).
fn row_norms(x: &Tensor<2>) -> Tensor<2> {
    (x.clone() * x.clone()).sum_dim(1).sqrt()
}

/// End-of-text position of each row: the first position of the row's largest id (OpenAI's
/// `text.argmax(dim=-1)`).
pub fn eot_positions(input_ids: &Tensor<2, Int>) -> Result<Vec<usize>> {
    let [b, n] = input_ids.dims();
    let ids = input_ids
        .to_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| ModelError::Input(format!("token ids: {e:?}")))?;
    if n == 0 {
        return Err(ModelError::Input("empty token sequences".into()));
    }
    Ok((0..b)
        .map(|r| {
            let row = &ids[r * n..(r + 1) * n];
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect())
}

fn causal_mask(n: usize, device: &Device) -> Tensor<4> {
    let mut m = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            m[i * n + j] = f32::NEG_INFINITY;
        }
    }
    Tensor::from_data(TensorData::new(m, [1, 1, n, n]), device)
}

impl Clip {
    /// Device of the weights.
    pub fn device(&self) -> Device {
        self.logit_scale.val().device()
    }

    /// `exp(logit_scale)` as a (1, 1) tensor.
    fn scale(&self) -> Tensor<2> {
        self.logit_scale.val().exp().reshape([1, 1])
    }

    /// `exp(logit_scale)`, the factor of the cosine similarities (≈ 100 for OpenAI's weights).
    pub fn logit_scale_exp(&self) -> f32 {
        self.logit_scale.val().exp().into_scalar::<f32>()
    }

    /// Checks that an image batch fits the image tower.
    pub fn check_image(&self, x: &Tensor<4>) -> Result<()> {
        let [_, c, h, w] = x.dims();
        let s = self.config.image_size;
        if c != 3 || h != s || w != s {
            return Err(ModelError::Input(format!(
                "the CLIP image tower expects images of shape (B, 3, {s}, {s}), got (B, {c}, {h}, {w})"
            )));
        }
        Ok(())
    }

    /// Checks token ids (range, length) and returns the end-of-text positions.
    pub fn check_text(&self, batch: &TextBatch) -> Result<Vec<usize>> {
        let [_, n] = batch.input_ids.dims();
        if n == 0 || n > self.config.context_length {
            return Err(ModelError::Input(format!(
                "token sequences of length {n}; the CLIP text tower takes 1..={} tokens",
                self.config.context_length
            )));
        }
        let max_id = batch.input_ids.clone().max().into_scalar::<i64>();
        let min_id = batch.input_ids.clone().min().into_scalar::<i64>();
        if min_id < 0 || max_id as usize >= self.config.vocab_size {
            return Err(ModelError::Input(format!(
                "token id out of range [0, {}): min {min_id}, max {max_id}",
                self.config.vocab_size
            )));
        }
        eot_positions(&batch.input_ids)
    }

    /// The token embeddings `token_embedding[ids]` (B, N, width), before the positions.
    fn tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, n] = ids.dims();
        let w = self.config.text_width;
        self.token_embedding
            .val()
            .select(0, ids.reshape([b * n]))
            .reshape([b, n, w])
    }

    /// Token embeddings plus `positional_embedding`.
    fn add_positions(&self, tok: Tensor<3>) -> Tensor<3> {
        let n = tok.dims()[1];
        tok + self
            .positional_embedding
            .val()
            .narrow(0, 0, n)
            .unsqueeze::<3>()
    }

    /// Text tokens before the blocks: `alpha · token_embedding[ids] + positional_embedding`.
    fn text_embed(&self, ids: Tensor<2, Int>, alphas: Option<&[f32]>) -> Tensor<3> {
        let mut tok = self.tokens(ids);
        if let Some(a) = alphas {
            if !a.iter().all(|&v| v == 1.0) {
                tok = tok * alpha_tensor::<3>(a, &self.device());
            }
        }
        self.add_positions(tok)
    }

    /// `ln_final` at the end-of-text positions, `@ text_projection`: text features (B, embed).
    fn text_head(&self, x: Tensor<3>, eot: &[usize]) -> Tensor<2> {
        self.text_head_ruled(x, eot, NormRule::Gradient)
    }

    /// [`text_head`](Clip::text_head) with `ln_final` under `rule`.
    fn text_head_ruled(&self, x: Tensor<3>, eot: &[usize], rule: NormRule) -> Tensor<2> {
        let [b, n, w] = x.dims();
        let idx: Vec<i64> = eot
            .iter()
            .enumerate()
            .map(|(r, &e)| (r * n + e) as i64)
            .collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &x.device());
        let pooled = x.reshape([b * n, w]).select(0, idx);
        layer_norm(&self.ln_final, pooled, rule, self.config.ln_eps)
            .matmul(self.text_projection.val())
    }

    /// Image features (B, embed), not normalised, keeping the autodiff graph (training).
    pub fn encode_image(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        self.check_image(&images)?;
        let x = self.visual.embed(images);
        Ok(self.visual.head(self.visual.transformer.forward(x, None)))
    }

    /// Text features (B, embed), not normalised, keeping the autodiff graph (training).
    pub fn encode_text(&self, batch: &TextBatch) -> Result<Tensor<2>> {
        let eot = self.check_text(batch)?;
        let n = batch.input_ids.dims()[1];
        let dev = self.device();
        let x = self.text_embed(batch.input_ids.clone().to_device(&dev), None);
        let mask = causal_mask(n, &dev);
        Ok(self.text_head(self.transformer.forward(x, Some(&mask)), &eot))
    }

    /// L2-normalised image features (B, embed), detached (plain device): the fixed image side
    /// of a [`ClipTextView`].
    pub fn image_features(&self, images: &Tensor<4>) -> Result<Tensor<2>> {
        let img = images.clone().to_device(&self.device());
        Ok(l2_normalize(self.encode_image(img)?).inner())
    }

    /// L2-normalised text features (B, embed), detached (plain device): compute once for the
    /// prompts of a zero-shot classifier ([`ClipImageClassifier`]).
    pub fn text_features(&self, batch: &TextBatch) -> Result<Tensor<2>> {
        Ok(l2_normalize(self.encode_text(batch)?).inner())
    }

    /// `(logits_per_image (B_img, B_txt), logits_per_text (B_txt, B_img))`, keeping the graph.
    pub fn forward(&self, images: Tensor<4>, text: &TextBatch) -> Result<(Tensor<2>, Tensor<2>)> {
        let i = l2_normalize(self.encode_image(images)?);
        let t = l2_normalize(self.encode_text(text)?);
        let per_image = i.matmul(t.transpose()) * self.scale();
        Ok((per_image.clone(), per_image.transpose()))
    }

    /// `exp(logit_scale) · a_n @ b_nᵀ` with `b_n` a fixed, normalised set of features.
    fn similarity(&self, a: Tensor<2>, b_n: &Tensor<2>) -> Tensor<2> {
        l2_normalize(a).matmul(b_n.clone().transpose()) * self.scale()
    }

    /// [`similarity`](Self::similarity) with the L2 normalisation under a normalisation rule:
    /// `Identity` detaches the norm, as the LRP rules treat every normalisation (the plain
    /// gradient of a scale-invariant normalisation has a Gradient × Input that sums to zero).
    fn similarity_ruled(
        &self,
        a: Tensor<2>,
        b_n: &Tensor<2>,
        rule: crate::rules::NormRule,
    ) -> Tensor<2> {
        match rule {
            crate::rules::NormRule::Gradient => self.similarity(a, b_n),
            crate::rules::NormRule::Identity => {
                let norm = row_norms(&a).detach();
                (a / norm).matmul(b_n.clone().transpose()) * self.scale()
            }
        }
    }
}

fn check_features(f: &Tensor<2>, embed: usize, what: &str) -> Result<()> {
    let [c, e] = f.dims();
    if c == 0 || e != embed {
        return Err(ModelError::Input(format!(
            "{what} features must be (C ≥ 1, {embed}), got ({c}, {e})"
        )));
    }
    Ok(())
}

fn check_alphas(alphas: &[f32], b: usize) -> Result<()> {
    if alphas.len() != b {
        return Err(ModelError::Input(format!(
            "{} alphas for a batch of {b}",
            alphas.len()
        )));
    }
    Ok(())
}

/// The image tower of a CLIP against fixed text embeddings: a zero-shot classifier whose
/// classes are the texts. Cloning the model for a view is cheap (tensors are shared).
#[derive(Debug, Clone)]
pub struct ClipImageClassifier {
    /// The model.
    pub model: Clip,
    text_features: Tensor<2>,
}

impl ClipImageClassifier {
    /// A classifier over L2-normalised text features (C, embed), e.g. from
    /// [`Clip::text_features`]. They are normalised again, so raw features also work.
    pub fn new(model: Clip, text_features: Tensor<2>) -> Result<Self> {
        check_features(&text_features, model.config.embed_dim, "text")?;
        let text_features = l2_normalize(text_features.inner());
        Ok(Self {
            model,
            text_features,
        })
    }

    /// A classifier over the given tokenised prompts (one class per row).
    pub fn from_prompts(model: Clip, prompts: &TextBatch) -> Result<Self> {
        let tf = model.text_features(prompts)?;
        Self::new(model, tf)
    }

    /// The normalised text features (C, embed).
    pub fn text_features(&self) -> &Tensor<2> {
        &self.text_features
    }

    /// Number of classes C.
    pub fn num_classes(&self) -> usize {
        self.text_features.dims()[0]
    }

    fn image(&self, input: &ModelInput) -> Result<Tensor<4>> {
        let ModelInput::Image(img) = input else {
            return Err(ModelError::Input(
                "the CLIP image view needs an image input".into(),
            ));
        };
        self.model.check_image(img)?;
        Ok(img.clone().to_device(&self.model.device()))
    }
}

impl Explainable for ClipImageClassifier {
    fn randomization_steps(&self) -> Vec<String> {
        crate::randomize::step_labels(self.model.visual.transformer.resblocks.len())
    }
    /// The image tower randomised; the class text embeddings (the zero-shot head) are kept.
    fn randomized(&self, steps: &[usize], seed: u64) -> Result<Box<dyn Explainable>> {
        Ok(Box::new(Self {
            model: self.model.randomized_image_tower(steps, seed)?,
            text_features: self.text_features.clone(),
        }))
    }
    fn family(&self) -> Family {
        Family::Clip
    }
    fn num_layers(&self) -> usize {
        self.model.visual.transformer.resblocks.len()
    }
    fn num_heads(&self) -> usize {
        self.model.config.vision_heads
    }
    fn readout(&self) -> Readout {
        Readout::ClsRow
    }
    fn patch_grid(&self) -> Option<(usize, usize)> {
        Some((self.model.config.grid(), self.model.config.grid()))
    }
    fn device(&self) -> Device {
        self.model.device()
    }

    fn trace(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
    ) -> Result<ForwardTrace> {
        self.trace_vproj(input, alphas, opts, VprojSource::AttentionInput)
    }

    fn trace_vproj(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
        source: VprojSource,
    ) -> Result<ForwardTrace> {
        let img = self.image(input)?;
        let b = img.dims()[0];
        check_alphas(alphas, b)?;
        let dev = self.model.device();
        let scaled = if alphas.iter().all(|&a| a == 1.0) {
            img
        } else {
            img * alpha_tensor::<4>(alphas, &dev)
        };
        let cfg = &self.model.config;
        let n = cfg.num_image_tokens();
        let probes = make_probes(opts, self.num_layers(), [b, cfg.vision_heads, n, n], &dev)?;
        let visual = &self.model.visual;
        let (x, layers) =
            visual
                .transformer
                .trace(visual.embed(scaled), None, &probes, opts, source);
        let logits = self.model.similarity(visual.head(x), &self.text_features);
        finish_trace(logits, probes, layers, opts)
    }

    fn input_relevance(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        request: &InputGradRequest,
    ) -> Result<Tensor<2>> {
        let img = self.image(input)?;
        let leaf = scaled_leaf(img.clone(), alphas)?;
        let (rules, eps) = (&request.rules, self.model.config.ln_eps);
        let visual = &self.model.visual;
        let x = visual.embed_ruled(leaf.clone(), rules.layer_norm, eps);
        let x = visual.transformer.forward_ruled(x, None, rules, eps);
        let logits = self.model.similarity_ruled(
            visual.head_ruled(x, rules.layer_norm, eps),
            &self.text_features,
            rules.layer_norm,
        );
        let g = leaf_gradient(&logits, &leaf, request)?;
        Ok(patch_sums(img.inner() * g, self.model.config.patch_size))
    }

    fn attn_relevance(
        &self,
        input: &ModelInput,
        targets: &[usize],
        rules: crate::lrp::LrpRules,
        down_to: usize,
    ) -> Result<Vec<Option<Tensor<4>>>> {
        let img = self.image(input)?;
        crate::lrp::clip_image_attn_relevance(self, &img, targets, rules, down_to)
    }
}

/// The text tower of a CLIP against fixed image embeddings: logits (B_text, M images).
#[derive(Debug, Clone)]
pub struct ClipTextView {
    /// The model.
    pub model: Clip,
    image_features: Tensor<2>,
}

impl ClipTextView {
    /// A view over image features (M, embed), e.g. from [`Clip::image_features`] (normalised
    /// again here).
    pub fn new(model: Clip, image_features: Tensor<2>) -> Result<Self> {
        check_features(&image_features, model.config.embed_dim, "image")?;
        let image_features = l2_normalize(image_features.inner());
        Ok(Self {
            model,
            image_features,
        })
    }

    /// A view over the given images (normalised pixels, one class per image).
    pub fn from_images(model: Clip, images: &Tensor<4>) -> Result<Self> {
        let f = model.image_features(images)?;
        Self::new(model, f)
    }

    /// The normalised image features (M, embed).
    pub fn image_features(&self) -> &Tensor<2> {
        &self.image_features
    }

    fn text<'a>(&self, input: &'a ModelInput) -> Result<&'a TextBatch> {
        match input {
            ModelInput::Text(t) => Ok(t),
            ModelInput::Image(_) => Err(ModelError::Input(
                "the CLIP text view needs a text input".into(),
            )),
        }
    }
}

impl Explainable for ClipTextView {
    fn randomization_steps(&self) -> Vec<String> {
        crate::randomize::step_labels(self.model.transformer.resblocks.len())
    }
    /// The text tower randomised; the image embeddings (the fixed side) are kept.
    fn randomized(&self, steps: &[usize], seed: u64) -> Result<Box<dyn Explainable>> {
        Ok(Box::new(Self {
            model: self.model.randomized_text_tower(steps, seed)?,
            image_features: self.image_features.clone(),
        }))
    }
    fn family(&self) -> Family {
        Family::ClipText
    }
    fn num_layers(&self) -> usize {
        self.model.transformer.resblocks.len()
    }
    fn num_heads(&self) -> usize {
        self.model.config.text_heads
    }
    fn readout(&self) -> Readout {
        Readout::EotRow
    }
    fn patch_grid(&self) -> Option<(usize, usize)> {
        None
    }
    fn device(&self) -> Device {
        self.model.device()
    }
    fn readout_rows(&self, input: &ModelInput) -> Result<Vec<usize>> {
        self.model.check_text(self.text(input)?)
    }

    fn input_relevance(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        request: &InputGradRequest,
    ) -> Result<Tensor<2>> {
        let batch = self.text(input)?;
        let eot = self.model.check_text(batch)?;
        let dev = self.model.device();
        let tok = self.model.tokens(batch.input_ids.clone().to_device(&dev));
        let leaf = scaled_leaf(tok.clone(), alphas)?;
        let n = tok.dims()[1];
        let mask = causal_mask(n, &dev);
        let x = self.model.transformer.forward_ruled(
            self.model.add_positions(leaf.clone()),
            Some(&mask),
            &request.rules,
            self.model.config.ln_eps,
        );
        let logits = self.model.similarity_ruled(
            self.model
                .text_head_ruled(x, &eot, request.rules.layer_norm),
            &self.image_features,
            request.rules.layer_norm,
        );
        let g = leaf_gradient(&logits, &leaf, request)?;
        Ok((tok.inner() * g).sum_dim(2).squeeze_dim(2))
    }

    fn trace(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
    ) -> Result<ForwardTrace> {
        self.trace_vproj(input, alphas, opts, VprojSource::AttentionInput)
    }

    fn trace_vproj(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
        source: VprojSource,
    ) -> Result<ForwardTrace> {
        let batch = self.text(input)?;
        let eot = self.model.check_text(batch)?;
        let [b, n] = batch.input_ids.dims();
        check_alphas(alphas, b)?;
        let dev = self.model.device();
        let cfg = &self.model.config;
        let probes = make_probes(opts, self.num_layers(), [b, cfg.text_heads, n, n], &dev)?;
        let x = self
            .model
            .text_embed(batch.input_ids.clone().to_device(&dev), Some(alphas));
        let mask = causal_mask(n, &dev);
        let (x, layers) = self
            .model
            .transformer
            .trace(x, Some(&mask), &probes, opts, source);
        let logits = self
            .model
            .similarity(self.model.text_head(x, &eot), &self.image_features);
        finish_trace(logits, probes, layers, opts)
    }
}
