//! Vision Transformer (ViT-B/16, ViT-L/16, ViT-MAE) with traced attention.
//!
//! Field names mirror timm's checkpoint names (`patch_embed`, `blocks.N.norm1`, `attn.qkv`,
//! `attn.proj`, `mlp.fc1`, `norm`, `fc_norm`, `head`). Loaders for the three checkpoint
//! layouts users have live in [`crate::load`].

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;

use crate::attention::SelfAttention;
use crate::error::{ModelError, Result};
use crate::preprocess::Normalization;
use crate::rules::{
    activation, layer_norm, patch_sums, ActivationRule, GradRules, InputGradRequest, NormRule,
};
use crate::trace::{
    alpha_tensor, finish_trace, first_probe, gelu, gelu_untracked, leaf_gradient, make_probes,
    scaled_leaf, Explainable, Family, ForwardTrace, LayerTrace, ModelInput, Readout, TraceOptions,
};

/// How the final token representation is pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// Class token after the final LayerNorm `norm` (supervised ViT).
    Cls,
    /// Mean of the patch tokens (class token excluded), then `fc_norm` (MAE fine-tuned,
    /// the order of TI's HEAD `a76854a`, protocols §3.3 / pitfall P7).
    Avg,
}

/// Where an average-pooled ViT's `fc_norm` sits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FcNormOrder {
    /// Mean of the patch tokens, then `fc_norm`, then the head: timm's MAE, the reference's
    /// plain model since its commit `a76854a`. The faithful default.
    #[default]
    PoolThenNorm,
    /// `fc_norm` on every token, then the mean of the patch tokens: the reference's LRP model
    /// for MAE (`ViT_LRP.py`, `mae=True`) and its plain model before `a76854a` (pitfall P7).
    /// Offered as a variant of the LRP methods (`fc_norm_order` of transformer attribution and
    /// partial LRP), which then run their forward, gradients and relevance on this order.
    NormThenPool,
}

impl FcNormOrder {
    /// The default order (kept out of serialised configs, so their hashes do not change).
    pub fn is_default(&self) -> bool {
        *self == FcNormOrder::PoolThenNorm
    }
}

/// ViT hyper-parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitConfig {
    /// Input side length S (square images).
    pub image_size: usize,
    /// Patch side p.
    pub patch_size: usize,
    /// Hidden size D.
    pub hidden: usize,
    /// Number of blocks L.
    pub depth: usize,
    /// Number of heads H.
    pub heads: usize,
    /// MLP hidden size.
    pub mlp_hidden: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Whether qkv has a bias.
    pub qkv_bias: bool,
    /// LayerNorm epsilon (timm 1e-6, HF ViT 1e-12).
    pub ln_eps: f64,
    /// Pooling.
    pub pool: Pool,
    /// Per-channel mean of the input normalisation the checkpoint was trained with.
    pub norm_mean: [f32; 3],
    /// Per-channel std of the input normalisation.
    pub norm_std: [f32; 3],
    /// Average pooling: where `fc_norm` sits (default: after the mean).
    #[serde(default, skip_serializing_if = "FcNormOrder::is_default")]
    pub fc_norm_order: FcNormOrder,
}

impl VitConfig {
    /// ViT-B/16 at 224 (timm `vit_base_patch16_224`, "jx" weights), mean = std = 0.5.
    pub fn vit_b16() -> Self {
        Self {
            image_size: 224,
            patch_size: 16,
            hidden: 768,
            depth: 12,
            heads: 12,
            mlp_hidden: 3072,
            num_classes: 1000,
            qkv_bias: true,
            ln_eps: 1e-6,
            pool: Pool::Cls,
            norm_mean: [0.5; 3],
            norm_std: [0.5; 3],
            fc_norm_order: FcNormOrder::PoolThenNorm,
        }
    }
    /// ViT-L/16 at 224 (timm `vit_large_patch16_224`), mean = std = 0.5.
    pub fn vit_l16() -> Self {
        Self {
            hidden: 1024,
            depth: 24,
            heads: 16,
            mlp_hidden: 4096,
            ..Self::vit_b16()
        }
    }
    /// MAE fine-tuned ViT-B/16 with global average pooling + `fc_norm`. The reference config
    /// uses mean = std = 0.5 while MAE was fine-tuned with ImageNet statistics (pitfall P7/P17);
    /// the preset follows MAE's own training (ImageNet mean/std) — override if you need TI's.
    pub fn vit_mae_b16() -> Self {
        Self {
            pool: Pool::Avg,
            ..Self::vit_b16()
        }
        .with_normalization(Normalization::Imagenet)
    }

    /// The input normalisation (a named preset when the statistics match one).
    pub fn normalization(&self) -> Normalization {
        Normalization::from_mean_std(self.norm_mean, self.norm_std)
    }

    /// The same config with another input normalisation.
    pub fn with_normalization(mut self, n: Normalization) -> Self {
        (self.norm_mean, self.norm_std) = n.mean_std();
        self
    }

    /// A preset by name: `vit_b16`, `vit_l16`, `vit_mae_b16`.
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "vit_b16" => Some(Self::vit_b16()),
            "vit_l16" => Some(Self::vit_l16()),
            "vit_mae_b16" => Some(Self::vit_mae_b16()),
            _ => None,
        }
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens N (patches + class token).
    pub fn num_tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }

    /// A randomly initialised model (timm-style: truncated-normal-like N(0, 0.02) embeddings,
    /// burn's Kaiming-uniform Linears, unit LayerNorms), for training and benchmarks.
    pub fn init(&self, device: &Device) -> VisionTransformer {
        use burn::nn::{LayerNormConfig, LinearConfig};
        use burn::tensor::Distribution;
        let d = self.hidden;
        let ln = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.ln_eps)
                .init(device)
        };
        let lin =
            |i: usize, o: usize, bias: bool| LinearConfig::new(i, o).with_bias(bias).init(device);
        let normal = |shape: [usize; 3]| {
            Param::from_tensor(Tensor::<3>::random(
                shape,
                Distribution::Normal(0.0, 0.02),
                device,
            ))
        };
        let p = self.patch_size;
        VisionTransformer {
            cls_token: normal([1, 1, d]),
            pos_embed: normal([1, self.num_tokens(), d]),
            patch_embed: PatchEmbed {
                proj: lin(3 * p * p, d, true),
                patch_size: p,
            },
            blocks: (0..self.depth)
                .map(|_| Block {
                    norm1: ln(),
                    attn: SelfAttention {
                        qkv: lin(d, 3 * d, self.qkv_bias),
                        proj: lin(d, d, true),
                        num_heads: self.heads,
                    },
                    norm2: ln(),
                    mlp: Mlp {
                        fc1: lin(d, self.mlp_hidden, true),
                        fc2: lin(self.mlp_hidden, d, true),
                    },
                })
                .collect(),
            norm: (self.pool == Pool::Cls).then(ln),
            fc_norm: (self.pool == Pool::Avg).then(ln),
            head: lin(d, self.num_classes, true),
            config: self.clone(),
        }
    }

    /// Checks internal consistency.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.patch_size == 0 || self.image_size % self.patch_size != 0 {
            return Err(format!(
                "image_size {} is not a multiple of patch_size {}",
                self.image_size, self.patch_size
            ));
        }
        if self.heads == 0 || self.hidden % self.heads != 0 {
            return Err(format!(
                "hidden {} is not divisible by heads {}",
                self.hidden, self.heads
            ));
        }
        if self.fc_norm_order == FcNormOrder::NormThenPool && self.pool != Pool::Avg {
            return Err("fc_norm_order = \"norm_then_pool\" needs pool = \"avg\"".into());
        }
        if self.depth == 0 || self.num_classes == 0 || self.mlp_hidden == 0 {
            return Err("depth, num_classes and mlp_hidden must be positive".into());
        }
        Ok(())
    }
}

/// The MLP of a block.
#[derive(Module, Debug)]
pub struct Mlp {
    /// D → mlp_hidden.
    pub fc1: Linear,
    /// mlp_hidden → D.
    pub fc2: Linear,
}

impl Mlp {
    /// `fc2(gelu(fc1(x)))` with exact (erf) GELU.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2.forward(gelu(self.fc1.forward(x)))
    }

    /// [`Mlp::forward`] with the GELU under `rule` ([`crate::rules`]).
    pub fn forward_ruled(&self, x: Tensor<3>, rule: ActivationRule) -> Tensor<3> {
        self.fc2
            .forward(activation(self.fc1.forward(x), gelu, rule))
    }

    /// The same values as [`Mlp::forward`] for a stream no gradient has to flow through (the
    /// GELU is computed outside the autodiff graph, on all CPU threads; see
    /// [`crate::trace`]'s `gelu_untracked`).
    pub fn forward_untracked(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2.forward(gelu_untracked(self.fc1.forward(x)))
    }
}

/// One pre-LN block: `x + attn(norm1 x)`, then `x + mlp(norm2 x)`.
#[derive(Module, Debug)]
pub struct Block {
    /// LayerNorm before attention.
    pub norm1: LayerNorm,
    /// Self-attention.
    pub attn: SelfAttention,
    /// LayerNorm before the MLP.
    pub norm2: LayerNorm,
    /// MLP.
    pub mlp: Mlp,
}

/// Patch embedding: a stride-p convolution, computed as a Linear over flattened patches
/// (weights `(D, 3, p, p)` flattened in (channel, row, column) order — identical to the conv).
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// 3·p·p → D.
    pub proj: Linear,
    /// Patch side p.
    pub patch_size: usize,
}

impl PatchEmbed {
    /// (B, 3, S, S) → (B, (S/p)², D), patches in row-major order.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let [b, c, h, w] = x.dims();
        let p = self.patch_size;
        let (gh, gw) = (h / p, w / p);
        let patches = x
            .reshape([b, c, gh, p, gw, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([b, gh * gw, c * p * p]);
        self.proj.forward(patches)
    }
}

/// A Vision Transformer classifier.
#[derive(Module, Debug)]
pub struct VisionTransformer {
    /// Learned class token (1, 1, D).
    pub cls_token: Param<Tensor<3>>,
    /// Learned position embedding (1, N, D).
    pub pos_embed: Param<Tensor<3>>,
    /// Patch embedding.
    pub patch_embed: PatchEmbed,
    /// Blocks.
    pub blocks: Vec<Block>,
    /// Final LayerNorm on all tokens (CLS pooling).
    pub norm: Option<LayerNorm>,
    /// LayerNorm after average pooling (MAE).
    pub fc_norm: Option<LayerNorm>,
    /// Classifier head.
    pub head: Linear,
    /// Configuration.
    #[module(skip)]
    pub config: VitConfig,
}

impl VisionTransformer {
    /// Checks that an image batch fits the model.
    fn check_image(&self, x: &Tensor<4>) -> Result<()> {
        let [_, c, h, w] = x.dims();
        let s = self.config.image_size;
        if c != 3 || h != s || w != s {
            return Err(ModelError::Input(format!(
                "the model expects images of shape (B, 3, {s}, {s}), got (B, {c}, {h}, {w})"
            )));
        }
        Ok(())
    }

    /// The token sequence before the blocks: [CLS; patches] + pos_embed.
    pub fn embed(&self, x: Tensor<4>) -> Tensor<3> {
        let b = x.dims()[0];
        let patches = self.patch_embed.forward(x);
        let d = self.config.hidden;
        let cls = self.cls_token.val().expand([b, 1, d]);
        Tensor::cat(vec![cls, patches], 1) + self.pos_embed.val()
    }

    /// Plain forward keeping the autodiff graph (training): normalised images → logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_ruled(x, &GradRules::default())
    }

    /// [`forward`](VisionTransformer::forward) with every LayerNorm, attention and GELU under
    /// `rules` ([`crate::rules`]): the same logits, a modified backward.
    pub fn forward_ruled(&self, x: Tensor<4>, rules: &GradRules) -> Tensor<2> {
        let eps = self.config.ln_eps;
        let ln = |n: &LayerNorm, x: Tensor<3>| layer_norm(n, x, rules.layer_norm, eps);
        let mut x = self.embed(x);
        for blk in &self.blocks {
            let (a, _) = blk.attn.forward_ruled(
                ln(&blk.norm1, x.clone()),
                None,
                None,
                false,
                false,
                rules.attention,
            );
            x = x + a;
            x = x.clone() + blk.mlp.forward_ruled(ln(&blk.norm2, x), rules.activation);
        }
        self.head_forward_ruled(x, rules.layer_norm)
    }

    /// Pooling + head on the output of the last block.
    pub fn head_forward(&self, x: Tensor<3>) -> Tensor<2> {
        self.head_forward_ruled(x, NormRule::Gradient)
    }

    /// [`head_forward`](VisionTransformer::head_forward) with `norm` / `fc_norm` under `rule`.
    pub fn head_forward_ruled(&self, x: Tensor<3>, rule: NormRule) -> Tensor<2> {
        let eps = self.config.ln_eps;
        let x = match &self.norm {
            Some(n) => layer_norm(n, x, rule, eps),
            None => x,
        };
        let [b, n, d] = x.dims();
        if let (FcNormOrder::NormThenPool, Some(f)) = (self.config.fc_norm_order, &self.fc_norm) {
            let tokens = layer_norm(f, x, rule, eps);
            let pooled = tokens.narrow(1, 1, n - 1).mean_dim(1).reshape([b, d]);
            return self.head.forward(pooled);
        }
        let pooled = match self.config.pool {
            Pool::Cls => x.narrow(1, 0, 1).reshape([b, d]),
            Pool::Avg => x.narrow(1, 1, n - 1).mean_dim(1).reshape([b, d]),
        };
        let pooled = match &self.fc_norm {
            Some(n) => layer_norm(n, pooled, rule, eps),
            None => pooled,
        };
        self.head.forward(pooled)
    }
}

impl Explainable for VisionTransformer {
    fn randomization_steps(&self) -> Vec<String> {
        crate::randomize::step_labels(self.blocks.len())
    }
    fn randomized(&self, steps: &[usize], seed: u64) -> Result<Box<dyn Explainable>> {
        Ok(Box::new(self.randomized_copy(steps, seed)?))
    }
    fn family(&self) -> Family {
        Family::Vit
    }
    fn num_layers(&self) -> usize {
        self.blocks.len()
    }
    fn num_heads(&self) -> usize {
        self.config.heads
    }
    fn readout(&self) -> Readout {
        match self.config.pool {
            Pool::Cls => Readout::ClsRow,
            Pool::Avg => Readout::MeanPatchRows,
        }
    }
    fn patch_grid(&self) -> Option<(usize, usize)> {
        Some((self.config.grid(), self.config.grid()))
    }
    fn device(&self) -> Device {
        self.cls_token.val().device()
    }

    fn with_fc_norm_order(&self, order: FcNormOrder) -> Result<Option<Box<dyn Explainable>>> {
        if order == self.config.fc_norm_order {
            return Ok(None);
        }
        if self.config.pool != Pool::Avg || self.fc_norm.is_none() {
            return Err(ModelError::Input(format!(
                "fc_norm_order = \"{}\" applies to average-pooled ViTs with fc_norm (MAE); this ViT pools the class token",
                if order == FcNormOrder::NormThenPool { "norm_then_pool" } else { "pool_then_norm" }
            )));
        }
        let mut m = self.clone();
        m.config.fc_norm_order = order;
        Ok(Some(Box::new(m)))
    }

    fn attn_relevance(
        &self,
        input: &ModelInput,
        targets: &[usize],
        rules: crate::lrp::LrpRules,
        down_to: usize,
    ) -> Result<Vec<Option<Tensor<4>>>> {
        let ModelInput::Image(img) = input else {
            return Err(ModelError::Input("a ViT needs an image input".into()));
        };
        self.check_image(img)?;
        VisionTransformer::attn_relevance(self, img, targets, rules, down_to)
    }

    fn input_relevance(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        request: &InputGradRequest,
    ) -> Result<Tensor<2>> {
        let ModelInput::Image(img) = input else {
            return Err(ModelError::Input("a ViT needs an image input".into()));
        };
        self.check_image(img)?;
        let img = img.clone().to_device(&self.device());
        let leaf = scaled_leaf(img.clone(), alphas)?;
        let logits = self.forward_ruled(leaf.clone(), &request.rules);
        let g = leaf_gradient(&logits, &leaf, request)?;
        Ok(patch_sums(img.inner() * g, self.config.patch_size))
    }

    /// Plain forward: on the flex device in f32 the fused kernels of [`crate::fast`] (the
    /// same logits up to float rounding, without an autodiff graph), else burn's forward.
    fn logits(&self, input: &ModelInput) -> Result<Tensor<2>> {
        let ModelInput::Image(img) = input else {
            return Err(ModelError::Input("a ViT needs an image input".into()));
        };
        self.check_image(img)?;
        if let Some(logits) = crate::fast::vit_logits(self, img) {
            return Ok(logits);
        }
        let b = img.dims()[0];
        Ok(self
            .trace(input, &vec![1.0; b], &TraceOptions::default())?
            .logits)
    }

    fn trace(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
    ) -> Result<ForwardTrace> {
        let ModelInput::Image(img) = input else {
            return Err(ModelError::Input("a ViT needs an image input".into()));
        };
        self.check_image(img)?;
        let b = img.dims()[0];
        if alphas.len() != b {
            return Err(ModelError::Input(format!(
                "{} alphas for a batch of {b}",
                alphas.len()
            )));
        }
        let dev = self.device();
        let img = img.clone().to_device(&dev);
        let scaled = if alphas.iter().all(|&a| a == 1.0) {
            img
        } else {
            img * alpha_tensor::<4>(alphas, &dev)
        };
        let n = self.config.num_tokens();
        let probes = make_probes(opts, self.blocks.len(), [b, self.config.heads, n, n], &dev)?;
        let mut layers = Vec::with_capacity(self.blocks.len());
        // Blocks before the first probed attention carry no gradient the trace returns.
        let tracked_from = first_probe(&probes);
        // The fused kernels compute those blocks and what the trace records of them
        // ([`crate::fast`]; on the flex device in f32, else burn's ops below).
        let fused = (tracked_from > 0)
            .then(|| crate::fast::vit_prefix(self, &scaled, tracked_from, opts.attn, opts.z_vproj))
            .flatten();
        let (mut x, start) = match fused {
            Some((x, prefix)) => {
                layers.extend(prefix);
                (x, tracked_from)
            }
            None => (self.embed(scaled), 0),
        };
        for (i, (blk, probe)) in self
            .blocks
            .iter()
            .zip(probes.iter())
            .enumerate()
            .skip(start)
        {
            let z = opts.z_vproj.then(|| x.clone().inner());
            let (a, rec) = blk.attn.forward(
                blk.norm1.forward(x.clone()),
                None,
                probe.clone(),
                opts.attn,
                opts.z_vproj,
            );
            x = x + a;
            let h = blk.norm2.forward(x.clone());
            let m = if i < tracked_from {
                blk.mlp.forward_untracked(h)
            } else {
                blk.mlp.forward(h)
            };
            x = x + m;
            layers.push(LayerTrace {
                attn: rec.attn,
                grad: None,
                z,
                vproj: rec.vproj,
            });
        }
        let logits = self.head_forward(x);
        finish_trace(logits, probes, layers, opts)
    }
}
