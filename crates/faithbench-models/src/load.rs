//! Checkpoint loaders, one key table per checkpoint family.
//!
//! | faithbench field            | timm / MAE (`.pth` under `model`)  | HF `ViTForImageClassification`                          |
//! |-----------------------------|------------------------------------|----------------------------------------------------------|
//! | `cls_token`                 | `cls_token`                        | `vit.embeddings.cls_token`                               |
//! | `pos_embed`                 | `pos_embed`                        | `vit.embeddings.position_embeddings`                     |
//! | `patch_embed.proj`          | `patch_embed.proj.{weight,bias}`   | `vit.embeddings.patch_embeddings.projection.*`           |
//! | `blocks.N.norm1`            | `blocks.N.norm1.*`                 | `vit.encoder.layer.N.layernorm_before.*`                 |
//! | `blocks.N.attn.qkv`         | `blocks.N.attn.qkv.*` (fused)      | `…layer.N.attention.attention.{query,key,value}.*` fused |
//! | `blocks.N.attn.proj`        | `blocks.N.attn.proj.*`             | `…layer.N.attention.output.dense.*`                      |
//! | `blocks.N.norm2`            | `blocks.N.norm2.*`                 | `…layer.N.layernorm_after.*`                             |
//! | `blocks.N.mlp.fc1` / `fc2`  | `blocks.N.mlp.fc1/fc2.*`           | `…layer.N.intermediate.dense` / `…layer.N.output.dense`  |
//! | `norm` / `fc_norm`          | `norm.*` / `fc_norm.*`             | `vit.layernorm.*` / —                                    |
//! | `head`                      | `head.*`                           | `classifier.*`                                           |
//!
//! BERT (`BertForSequenceClassification`; the `bert.` prefix is optional so that plain
//! `BertModel` checkpoints such as all-MiniLM-L6-v2 load too):
//! `embeddings.{word,position,token_type}_embeddings.weight`, `embeddings.LayerNorm`,
//! `encoder.layer.N.attention.self.{query,key,value}` (fused into `attention.qkv`),
//! `encoder.layer.N.attention.output.dense` / `.LayerNorm`, `encoder.layer.N.intermediate.dense`,
//! `encoder.layer.N.output.dense` / `.LayerNorm`, `pooler.dense`, `classifier`.
//! LayerNorm parameters may be named `weight/bias` or the old `gamma/beta`.
//!
//! CLIP, OpenAI state dict ([`Layout::OpenaiClip`]) and Hugging Face `CLIPModel`
//! ([`Layout::HfClip`]):
//!
//! | faithbench field                      | OpenAI                                        | HF `CLIPModel`                                              |
//! |---------------------------------------|-----------------------------------------------|-------------------------------------------------------------|
//! | `visual.conv1` (no bias)              | `visual.conv1.weight`                         | `vision_model.embeddings.patch_embedding.weight`            |
//! | `visual.class_embedding`              | `visual.class_embedding`                      | `vision_model.embeddings.class_embedding`                   |
//! | `visual.positional_embedding`         | `visual.positional_embedding`                 | `vision_model.embeddings.position_embedding.weight`         |
//! | `visual.ln_pre` / `visual.ln_post`    | `visual.ln_pre.*` / `visual.ln_post.*`        | `vision_model.pre_layrnorm.*` / `vision_model.post_layernorm.*` |
//! | `….resblocks.N.ln_1` / `ln_2`         | `…resblocks.N.ln_1.*` / `ln_2.*`              | `…encoder.layers.N.layer_norm1.*` / `layer_norm2.*`         |
//! | `….resblocks.N.attn.qkv`              | `…resblocks.N.attn.in_proj_{weight,bias}`     | `…layers.N.self_attn.{q,k,v}_proj.*` (fused)                |
//! | `….resblocks.N.attn.proj`             | `…resblocks.N.attn.out_proj.*`                | `…layers.N.self_attn.out_proj.*`                            |
//! | `….resblocks.N.mlp.c_fc` / `c_proj`   | `…resblocks.N.mlp.c_fc.*` / `c_proj.*`        | `…layers.N.mlp.fc1.*` / `fc2.*`                             |
//! | `visual.proj` (width × embed)         | `visual.proj`                                 | `visual_projection.weight`ᵀ                                 |
//! | `token_embedding`                     | `token_embedding.weight`                      | `text_model.embeddings.token_embedding.weight`              |
//! | `positional_embedding`                | `positional_embedding`                        | `text_model.embeddings.position_embedding.weight`           |
//! | `ln_final`                            | `ln_final.*`                                  | `text_model.final_layer_norm.*`                             |
//! | `text_projection` (width × embed)     | `text_projection`                             | `text_projection.weight`ᵀ                                   |
//! | `logit_scale` (0-d)                   | `logit_scale`                                 | `logit_scale`                                               |
//!
//! Image blocks are under `visual.transformer.resblocks` / `vision_model.encoder.layers`, text
//! blocks under `transformer.resblocks` / `text_model.encoder.layers`. transformers scales `q`
//! inside attention like OpenAI, so both layouts give the same model.
//!
//! Tensors that carry no parameters of ours are ignored by name: `position_ids` buffers and
//! HF's pooler of `ViTModel`. Anything else unused is an error ([`ModelError::UnexpectedTensors`]).

use std::path::Path;

use burn::module::{Module, Param};
use burn::prelude::*;

use crate::attention::SelfAttention;
use crate::bert::{Bert, BertConfig, BertEmbeddings, BertLayer};
use crate::clip::{Clip, ClipConfig, ClipMlp, ClipTransformer, ClipVisual, ResidualAttentionBlock};
use crate::error::{ModelError, Result};
use crate::vit::{Block, Mlp, PatchEmbed, Pool, VisionTransformer, VitConfig};
use crate::weights::{linear_from, Loader, WeightFile};

/// The checkpoint key layouts faithbench reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// timm `VisionTransformer` (also the MAE fine-tuned release and TI's `ViT_new`).
    Timm,
    /// Hugging Face `ViTForImageClassification`.
    HfVit,
    /// Hugging Face `BertForSequenceClassification` / `BertModel`.
    HfBert,
    /// OpenAI CLIP state dict (`visual.*`, `transformer.resblocks.*`, `token_embedding`, …),
    /// as `torch.save(model.state_dict())` of `clip.load(..., jit=False)` or safetensors.
    OpenaiClip,
    /// Hugging Face `CLIPModel` (`vision_model.*`, `text_model.*`, `visual_projection`, …).
    HfClip,
}

impl Layout {
    /// The name used in configs (`timm`, `hf_vit`, `hf_bert`).
    pub fn name(self) -> &'static str {
        match self {
            Layout::Timm => "timm",
            Layout::HfVit => "hf_vit",
            Layout::HfBert => "hf_bert",
            Layout::OpenaiClip => "openai_clip",
            Layout::HfClip => "hf_clip",
        }
    }

    /// Guesses the layout from the tensor names.
    pub fn detect(file: &WeightFile) -> Option<Layout> {
        if file.contains("cls_token") && file.names().any(|n| n.starts_with("blocks.0.attn.qkv")) {
            Some(Layout::Timm)
        } else if file.contains("vit.embeddings.cls_token") {
            Some(Layout::HfVit)
        } else if file.contains("visual.class_embedding")
            && file.contains("transformer.resblocks.0.attn.in_proj_weight")
        {
            Some(Layout::OpenaiClip)
        } else if file.contains("vision_model.embeddings.class_embedding")
            && file.contains("text_model.embeddings.token_embedding.weight")
        {
            Some(Layout::HfClip)
        } else if file.names().any(|n| {
            n == "bert.embeddings.word_embeddings.weight"
                || n == "embeddings.word_embeddings.weight"
        }) {
            Some(Layout::HfBert)
        } else {
            None
        }
    }
}

fn fused_qkv(
    ld: &Loader,
    q: &str,
    k: &str,
    v: &str,
    d: usize,
    bias: bool,
) -> Result<burn::nn::Linear> {
    let mut w = ld.raw(&format!("{q}.weight"), &[d, d])?;
    w.extend(ld.raw(&format!("{k}.weight"), &[d, d])?);
    w.extend(ld.raw(&format!("{v}.weight"), &[d, d])?);
    let w = Tensor::<2>::from_data(TensorData::new(w, [3 * d, d]), ld.device());
    let b = if bias {
        let mut b = ld.raw(&format!("{q}.bias"), &[d])?;
        b.extend(ld.raw(&format!("{k}.bias"), &[d])?);
        b.extend(ld.raw(&format!("{v}.bias"), &[d])?);
        Some(Param::from_tensor(Tensor::<1>::from_data(
            TensorData::new(b, [3 * d]),
            ld.device(),
        )))
    } else {
        None
    };
    Ok(linear_from(w, b))
}

/// Builds a ViT from a checkpoint in the given layout. The config must match the checkpoint;
/// every tensor is shape-checked and unused tensors are reported.
pub fn load_vit(
    file: &WeightFile,
    layout: Layout,
    config: &VitConfig,
    device: &Device,
) -> Result<VisionTransformer> {
    config.validate().map_err(|reason| ModelError::Config {
        path: file.path.clone(),
        reason,
    })?;
    let ld = Loader::new(file, device);
    let (d, p, n) = (config.hidden, config.patch_size, config.num_tokens());
    let patch_in = 3 * p * p;
    let names = match layout {
        Layout::Timm => VitNames::timm(),
        Layout::HfVit => VitNames::hf(),
        other => {
            return Err(ModelError::Config {
                path: file.path.clone(),
                reason: format!("the `{}` layout cannot build a ViT", other.name()),
            })
        }
    };
    let conv_w = ld.raw(&format!("{}.weight", names.patch), &[d, 3, p, p])?;
    let conv_w = Tensor::<2>::from_data(TensorData::new(conv_w, [d, patch_in]), device);
    let conv_b = ld.param(&format!("{}.bias", names.patch), [d])?;
    let mut blocks = Vec::with_capacity(config.depth);
    for i in 0..config.depth {
        let pre = names.block(i);
        let qkv = match layout {
            Layout::Timm => ld.linear(&format!("{pre}.attn.qkv"), d, 3 * d, config.qkv_bias)?,
            _ => fused_qkv(
                &ld,
                &format!("{pre}.attention.attention.query"),
                &format!("{pre}.attention.attention.key"),
                &format!("{pre}.attention.attention.value"),
                d,
                config.qkv_bias,
            )?,
        };
        blocks.push(Block {
            norm1: ld.layer_norm(&format!("{pre}.{}", names.norm1), d, config.ln_eps)?,
            attn: SelfAttention {
                qkv,
                proj: ld.linear(&format!("{pre}.{}", names.proj), d, d, true)?,
                num_heads: config.heads,
            },
            norm2: ld.layer_norm(&format!("{pre}.{}", names.norm2), d, config.ln_eps)?,
            mlp: Mlp {
                fc1: ld.linear(&format!("{pre}.{}", names.fc1), d, config.mlp_hidden, true)?,
                fc2: ld.linear(&format!("{pre}.{}", names.fc2), config.mlp_hidden, d, true)?,
            },
        });
    }
    // CLS pooling needs the final norm; avg pooling (MAE) needs fc_norm and has no final norm.
    let (norm, fc_norm) = match config.pool {
        Pool::Cls => (Some(ld.layer_norm(names.norm, d, config.ln_eps)?), None),
        Pool::Avg => {
            let fc = ld.layer_norm("fc_norm", d, config.ln_eps)?;
            let norm = if ld.has(&format!("{}.weight", names.norm)) {
                Some(ld.layer_norm(names.norm, d, config.ln_eps)?)
            } else {
                None
            };
            (norm, Some(fc))
        }
    };
    let model = VisionTransformer {
        cls_token: ld.param(names.cls, [1, 1, d])?,
        pos_embed: ld.param(names.pos, [1, n, d])?,
        patch_embed: PatchEmbed {
            proj: linear_from(conv_w, Some(conv_b)),
            patch_size: p,
        },
        blocks,
        norm,
        fc_norm,
        head: ld.linear(names.head, d, config.num_classes, true)?,
        config: config.clone(),
    };
    ld.finish(&["vit.pooler.", "vit.embeddings.mask_token"])?;
    // Explaining needs gradients w.r.t. attention probes only; weights that required grad would
    // make every backward pass compute all weight gradients too.
    Ok(model.no_grad())
}

struct VitNames {
    block_prefix: &'static str,
    cls: &'static str,
    pos: &'static str,
    patch: &'static str,
    norm1: &'static str,
    proj: &'static str,
    norm2: &'static str,
    fc1: &'static str,
    fc2: &'static str,
    norm: &'static str,
    head: &'static str,
}

impl VitNames {
    fn timm() -> Self {
        Self {
            block_prefix: "blocks",
            cls: "cls_token",
            pos: "pos_embed",
            patch: "patch_embed.proj",
            norm1: "norm1",
            proj: "attn.proj",
            norm2: "norm2",
            fc1: "mlp.fc1",
            fc2: "mlp.fc2",
            norm: "norm",
            head: "head",
        }
    }
    fn hf() -> Self {
        Self {
            block_prefix: "vit.encoder.layer",
            cls: "vit.embeddings.cls_token",
            pos: "vit.embeddings.position_embeddings",
            patch: "vit.embeddings.patch_embeddings.projection",
            norm1: "layernorm_before",
            proj: "attention.output.dense",
            norm2: "layernorm_after",
            fc1: "intermediate.dense",
            fc2: "output.dense",
            norm: "vit.layernorm",
            head: "classifier",
        }
    }
    fn block(&self, i: usize) -> String {
        format!("{}.{i}", self.block_prefix)
    }
}

/// Builds a BERT from a Hugging Face checkpoint. With `config.num_classes == 0` the pooler
/// and classifier are not loaded (encoder-only checkpoints) and are ignored if present.
pub fn load_bert(file: &WeightFile, config: &BertConfig, device: &Device) -> Result<Bert> {
    if config.heads == 0 || config.hidden % config.heads != 0 {
        return Err(ModelError::Config {
            path: file.path.clone(),
            reason: format!(
                "hidden {} not divisible by heads {}",
                config.hidden, config.heads
            ),
        });
    }
    let ld = Loader::new(file, device);
    let pre = if file.contains("bert.embeddings.word_embeddings.weight") {
        "bert."
    } else {
        ""
    };
    let d = config.hidden;
    let e = format!("{pre}embeddings");
    let embeddings = BertEmbeddings {
        word_embeddings: ld.param(
            &format!("{e}.word_embeddings.weight"),
            [config.vocab_size, d],
        )?,
        position_embeddings: ld.param(
            &format!("{e}.position_embeddings.weight"),
            [config.max_position, d],
        )?,
        token_type_embeddings: ld.param(
            &format!("{e}.token_type_embeddings.weight"),
            [config.type_vocab, d],
        )?,
        layer_norm: ld.layer_norm(&format!("{e}.LayerNorm"), d, config.ln_eps)?,
    };
    let mut layers = Vec::with_capacity(config.depth);
    for i in 0..config.depth {
        let l = format!("{pre}encoder.layer.{i}");
        layers.push(BertLayer {
            attention: SelfAttention {
                qkv: fused_qkv(
                    &ld,
                    &format!("{l}.attention.self.query"),
                    &format!("{l}.attention.self.key"),
                    &format!("{l}.attention.self.value"),
                    d,
                    true,
                )?,
                proj: ld.linear(&format!("{l}.attention.output.dense"), d, d, true)?,
                num_heads: config.heads,
            },
            attention_norm: ld.layer_norm(
                &format!("{l}.attention.output.LayerNorm"),
                d,
                config.ln_eps,
            )?,
            intermediate: ld.linear(
                &format!("{l}.intermediate.dense"),
                d,
                config.intermediate,
                true,
            )?,
            output: ld.linear(&format!("{l}.output.dense"), config.intermediate, d, true)?,
            output_norm: ld.layer_norm(&format!("{l}.output.LayerNorm"), d, config.ln_eps)?,
        });
    }
    let (pooler, classifier) = if config.num_classes > 0 {
        (
            Some(ld.linear(&format!("{pre}pooler.dense"), d, d, true)?),
            Some(ld.linear("classifier", d, config.num_classes, true)?),
        )
    } else {
        (None, None)
    };
    let model = Bert {
        embeddings,
        layers,
        pooler,
        classifier,
        config: config.clone(),
    };
    let mut ignorable = vec![
        "bert.embeddings.position_ids".to_string(),
        "embeddings.position_ids".to_string(),
    ];
    if config.num_classes == 0 {
        ignorable.push(format!("{pre}pooler."));
        ignorable.push("classifier.".into());
    }
    let ig: Vec<&str> = ignorable.iter().map(|s| s.as_str()).collect();
    ld.finish(&ig)?;
    Ok(model.no_grad())
}

/// The checkpoint names of one CLIP layout.
struct ClipNames {
    visual_block: &'static str,
    text_block: &'static str,
    conv: &'static str,
    class_embedding: &'static str,
    visual_pos: &'static str,
    ln_pre: &'static str,
    ln_post: &'static str,
    token_embedding: &'static str,
    text_pos: &'static str,
    ln_final: &'static str,
    ln_1: &'static str,
    ln_2: &'static str,
    out_proj: &'static str,
    fc1: &'static str,
    fc2: &'static str,
}

impl ClipNames {
    fn openai() -> Self {
        Self {
            visual_block: "visual.transformer.resblocks",
            text_block: "transformer.resblocks",
            conv: "visual.conv1.weight",
            class_embedding: "visual.class_embedding",
            visual_pos: "visual.positional_embedding",
            ln_pre: "visual.ln_pre",
            ln_post: "visual.ln_post",
            token_embedding: "token_embedding.weight",
            text_pos: "positional_embedding",
            ln_final: "ln_final",
            ln_1: "ln_1",
            ln_2: "ln_2",
            out_proj: "attn.out_proj",
            fc1: "mlp.c_fc",
            fc2: "mlp.c_proj",
        }
    }
    fn hf() -> Self {
        Self {
            visual_block: "vision_model.encoder.layers",
            text_block: "text_model.encoder.layers",
            conv: "vision_model.embeddings.patch_embedding.weight",
            class_embedding: "vision_model.embeddings.class_embedding",
            visual_pos: "vision_model.embeddings.position_embedding.weight",
            ln_pre: "vision_model.pre_layrnorm",
            ln_post: "vision_model.post_layernorm",
            token_embedding: "text_model.embeddings.token_embedding.weight",
            text_pos: "text_model.embeddings.position_embedding.weight",
            ln_final: "text_model.final_layer_norm",
            ln_1: "layer_norm1",
            ln_2: "layer_norm2",
            out_proj: "self_attn.out_proj",
            fc1: "mlp.fc1",
            fc2: "mlp.fc2",
        }
    }
}

/// A 0-d tensor (`logit_scale`, the `input_resolution` … entries of OpenAI's JIT state dicts),
/// also accepted as shape (1,).
fn scalar(ld: &Loader, name: &str) -> Result<f32> {
    let shape: &[usize] = match ld.shape_of(name) {
        Some(s) if s == [1] => &[1],
        _ => &[],
    };
    Ok(ld.raw(name, shape)?[0])
}

/// Builds a CLIP from a checkpoint in the OpenAI ([`Layout::OpenaiClip`]) or Hugging Face
/// ([`Layout::HfClip`]) layout. The config must match the checkpoint; every tensor is
/// shape-checked and unused tensors are reported. OpenAI's JIT state dicts also hold
/// `input_resolution`, `context_length` and `vocab_size`; when present they must agree with
/// the config.
pub fn load_clip(
    file: &WeightFile,
    layout: Layout,
    config: &ClipConfig,
    device: &Device,
) -> Result<Clip> {
    config.validate().map_err(|reason| ModelError::Config {
        path: file.path.clone(),
        reason,
    })?;
    let names = match layout {
        Layout::OpenaiClip => ClipNames::openai(),
        Layout::HfClip => ClipNames::hf(),
        other => {
            return Err(ModelError::Config {
                path: file.path.clone(),
                reason: format!("the `{}` layout cannot build a CLIP", other.name()),
            })
        }
    };
    let hf = layout == Layout::HfClip;
    let ld = Loader::new(file, device);
    let eps = config.ln_eps;
    let (vw, tw, e, p) = (
        config.vision_width,
        config.text_width,
        config.embed_dim,
        config.patch_size,
    );
    let block = |prefix: String, d: usize, heads: usize| -> Result<ResidualAttentionBlock> {
        let qkv = if hf {
            fused_qkv(
                &ld,
                &format!("{prefix}.self_attn.q_proj"),
                &format!("{prefix}.self_attn.k_proj"),
                &format!("{prefix}.self_attn.v_proj"),
                d,
                true,
            )?
        } else {
            linear_from(
                ld.tensor(&format!("{prefix}.attn.in_proj_weight"), [3 * d, d])?,
                Some(ld.param(&format!("{prefix}.attn.in_proj_bias"), [3 * d])?),
            )
        };
        Ok(ResidualAttentionBlock {
            ln_1: ld.layer_norm(&format!("{prefix}.{}", names.ln_1), d, eps)?,
            attn: SelfAttention {
                qkv,
                proj: ld.linear(&format!("{prefix}.{}", names.out_proj), d, d, true)?,
                num_heads: heads,
            },
            ln_2: ld.layer_norm(&format!("{prefix}.{}", names.ln_2), d, eps)?,
            mlp: ClipMlp {
                c_fc: ld.linear(&format!("{prefix}.{}", names.fc1), d, 4 * d, true)?,
                c_proj: ld.linear(&format!("{prefix}.{}", names.fc2), 4 * d, d, true)?,
            },
        })
    };
    // A projection used as `x @ P` (width, embed); HF stores it as a bias-free Linear (embed, width).
    let projection = |openai: &str, hf_name: &str, width: usize| -> Result<Param<Tensor<2>>> {
        Ok(Param::from_tensor(if hf {
            ld.tensor(hf_name, [e, width])?.transpose()
        } else {
            ld.tensor(openai, [width, e])?
        }))
    };
    let conv = ld.raw(names.conv, &[vw, 3, p, p])?;
    let conv = Tensor::<2>::from_data(TensorData::new(conv, [vw, 3 * p * p]), device);
    let visual = ClipVisual {
        conv1: PatchEmbed {
            proj: linear_from(conv, None),
            patch_size: p,
        },
        class_embedding: ld.param(names.class_embedding, [vw])?,
        positional_embedding: ld.param(names.visual_pos, [config.num_image_tokens(), vw])?,
        ln_pre: ld.layer_norm(names.ln_pre, vw, eps)?,
        transformer: ClipTransformer {
            resblocks: (0..config.vision_layers)
                .map(|i| {
                    block(
                        format!("{}.{i}", names.visual_block),
                        vw,
                        config.vision_heads,
                    )
                })
                .collect::<Result<_>>()?,
        },
        ln_post: ld.layer_norm(names.ln_post, vw, eps)?,
        proj: projection("visual.proj", "visual_projection.weight", vw)?,
    };
    let logit_scale = scalar(&ld, "logit_scale")?;
    let model = Clip {
        visual,
        transformer: ClipTransformer {
            resblocks: (0..config.text_layers)
                .map(|i| block(format!("{}.{i}", names.text_block), tw, config.text_heads))
                .collect::<Result<_>>()?,
        },
        token_embedding: ld.param(names.token_embedding, [config.vocab_size, tw])?,
        positional_embedding: ld.param(names.text_pos, [config.context_length, tw])?,
        ln_final: ld.layer_norm(names.ln_final, tw, eps)?,
        text_projection: projection("text_projection", "text_projection.weight", tw)?,
        logit_scale: Param::from_tensor(Tensor::<1>::from_data(
            TensorData::new(vec![logit_scale], [1]),
            device,
        )),
        config: config.clone(),
    };
    if !hf {
        for (key, want) in [
            ("input_resolution", config.image_size),
            ("context_length", config.context_length),
            ("vocab_size", config.vocab_size),
        ] {
            if ld.has(key) {
                let got = scalar(&ld, key)?;
                if got != want as f32 {
                    return Err(ModelError::Config {
                        path: file.path.clone(),
                        reason: format!(
                            "the checkpoint's `{key}` is {got}, the config says {want}"
                        ),
                    });
                }
            }
        }
    }
    ld.finish(&[
        "vision_model.embeddings.position_ids",
        "text_model.embeddings.position_ids",
    ])?;
    Ok(model.no_grad())
}

/// A model of either family, loaded.
#[derive(Debug)]
pub enum AnyModel {
    /// A vision transformer.
    Vit(VisionTransformer),
    /// A BERT classifier.
    Bert(Bert),
}

impl AnyModel {
    /// The model as an [`Explainable`](crate::trace::Explainable).
    pub fn as_explainable(&self) -> &dyn crate::trace::Explainable {
        match self {
            AnyModel::Vit(m) => m,
            AnyModel::Bert(m) => m,
        }
    }
}

/// `faithbench.json`: the description of a model folder (written by our fixture scripts and
/// by `faithbench` for trained demo models). Users of real checkpoints can instead name a
/// preset and a layout in the run config.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A ViT.
    Vit {
        /// Key layout.
        layout: Layout,
        /// Hyper-parameters (the normalisation as explicit `norm_mean` / `norm_std`).
        #[serde(flatten)]
        config: VitConfig,
    },
    /// A BERT.
    Bert {
        /// Key layout (always `hf_bert`).
        layout: Layout,
        /// Hyper-parameters.
        #[serde(flatten)]
        config: BertConfig,
    },
    /// A CLIP.
    Clip {
        /// Key layout (`openai_clip` or `hf_clip`).
        layout: Layout,
        /// Hyper-parameters (the image normalisation as explicit `norm_mean` / `norm_std`).
        #[serde(flatten)]
        config: ClipConfig,
    },
}

impl ModelSpec {
    /// Family, depth and classes.
    pub fn facts(&self) -> crate::source::ModelFacts {
        use crate::trace::Family;
        match self {
            ModelSpec::Vit { config, .. } => crate::source::ModelFacts {
                family: Family::Vit,
                num_layers: config.depth,
                num_classes: config.num_classes,
            },
            ModelSpec::Bert { config, .. } => crate::source::ModelFacts {
                family: Family::Bert,
                num_layers: config.depth,
                num_classes: config.num_classes,
            },
            // Zero-shot: the classes are the prompts of the view, not part of the model.
            ModelSpec::Clip { config, .. } => crate::source::ModelFacts {
                family: Family::Clip,
                num_layers: config.vision_layers,
                num_classes: 0,
            },
        }
    }

    /// The key layout.
    pub fn layout(&self) -> Layout {
        match self {
            ModelSpec::Vit { layout, .. }
            | ModelSpec::Bert { layout, .. }
            | ModelSpec::Clip { layout, .. } => *layout,
        }
    }

    /// Replaces the input normalisation of an image model; an error for text models.
    pub fn set_normalization(
        &mut self,
        n: crate::preprocess::Normalization,
    ) -> std::result::Result<(), String> {
        match self {
            ModelSpec::Vit { config, .. } => {
                (config.norm_mean, config.norm_std) = n.mean_std();
                Ok(())
            }
            ModelSpec::Clip { config, .. } => {
                (config.norm_mean, config.norm_std) = n.mean_std();
                Ok(())
            }
            ModelSpec::Bert { .. } => {
                Err("`normalization` applies to image models only".to_string())
            }
        }
    }
}

/// Reads `faithbench.json`.
pub fn read_spec(path: &Path) -> Result<ModelSpec> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The weights file of a model folder: the first of `model.safetensors`, `model.pth`,
/// `model.pt`, `pytorch_model.bin` that exists.
pub fn find_weights_in_dir(dir: &Path) -> Result<std::path::PathBuf> {
    [
        "model.safetensors",
        "model.pth",
        "model.pt",
        "pytorch_model.bin",
    ]
    .iter()
    .map(|f| dir.join(f))
    .find(|p| p.exists())
    .ok_or_else(|| ModelError::Io {
        path: dir.join("model.safetensors"),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no model.safetensors / model.pth / pytorch_model.bin in the model folder",
        ),
    })
}

/// Loads a ViT/BERT model folder holding `faithbench.json` and `model.safetensors` (or
/// `model.pth`); a CLIP folder loads with [`load_clip_dir`].
pub fn load_model_dir(dir: &Path, device: &Device) -> Result<AnyModel> {
    let spec = read_spec(&dir.join("faithbench.json"))?;
    let weights = find_weights_in_dir(dir)?;
    load_model(&weights, spec, device)
}

/// Loads a ViT or BERT checkpoint file with an explicit spec (CLIP: [`load_clip_model`]).
pub fn load_model(weights: &Path, spec: ModelSpec, device: &Device) -> Result<AnyModel> {
    let file = WeightFile::open(weights)?;
    match spec {
        ModelSpec::Vit { layout, config } => {
            Ok(AnyModel::Vit(load_vit(&file, layout, &config, device)?))
        }
        ModelSpec::Bert { config, .. } => Ok(AnyModel::Bert(load_bert(&file, &config, device)?)),
        ModelSpec::Clip { .. } => Err(ModelError::Config {
            path: weights.to_path_buf(),
            reason: CLIP_LOAD_HINT.into(),
        }),
    }
}

/// Why [`load_model`] does not return a CLIP, and what to call instead.
const CLIP_LOAD_HINT: &str = "this is a CLIP checkpoint: load it with `load_clip_model` / \
     `ModelSource::load_clip` and explain it through `ClipImageClassifier` (zero-shot classes) \
     or `ClipTextView`";

/// Loads a CLIP checkpoint file with an explicit spec (`ModelSpec::Clip`).
pub fn load_clip_model(weights: &Path, spec: ModelSpec, device: &Device) -> Result<Clip> {
    match spec {
        ModelSpec::Clip { layout, config } => {
            let file = WeightFile::open(weights)?;
            load_clip(&file, layout, &config, device)
        }
        other => Err(ModelError::Config {
            path: weights.to_path_buf(),
            reason: format!(
                "this is a {} checkpoint, not a CLIP; load it with `load_model`",
                other.facts().family.name()
            ),
        }),
    }
}

/// Loads a CLIP model folder (`faithbench.json` with `"family": "clip"` + weights).
pub fn load_clip_dir(dir: &Path, device: &Device) -> Result<Clip> {
    let spec = read_spec(&dir.join("faithbench.json"))?;
    let weights = find_weights_in_dir(dir)?;
    load_clip_model(&weights, spec, device)
}
