//! Writing models back to checkpoints in the layouts users' checkpoints have — timm for ViTs,
//! Hugging Face `BertForSequenceClassification` for BERT, OpenAI's state dict for CLIP — so that
//! faithbench's own trained models load through the same path as users' checkpoints, plus
//! `faithbench.json`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::bert::Bert;
use crate::clip::{Clip, ClipTransformer};
use crate::error::{ModelError, Result};
use crate::load::{Layout, ModelSpec};
use crate::vit::VisionTransformer;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

struct Out(BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl Out {
    fn put<const D: usize>(&mut self, name: &str, t: Tensor<D>) {
        let shape = t.dims().to_vec();
        self.0.insert(name.to_string(), (shape, values(t)));
    }
    /// A tensor stored with another shape of the same size (e.g. a 0-d scalar).
    fn put_shaped<const D: usize>(&mut self, name: &str, shape: &[usize], t: Tensor<D>) {
        debug_assert_eq!(shape.iter().product::<usize>(), t.shape().num_elements());
        self.0.insert(name.to_string(), (shape.to_vec(), values(t)));
    }
    fn linear(&mut self, prefix: &str, l: &Linear) {
        self.put(&format!("{prefix}.weight"), l.weight.val().transpose());
        if let Some(b) = &l.bias {
            self.put(&format!("{prefix}.bias"), b.val());
        }
    }
    /// Writes every tensor as f32 safetensors.
    fn write(self, path: &Path) -> Result<()> {
        let bytes: BTreeMap<String, (Vec<usize>, Vec<u8>)> = self
            .0
            .into_iter()
            .map(|(k, (s, d))| (k, (s, d.iter().flat_map(|v| v.to_le_bytes()).collect())))
            .collect();
        let mut views = BTreeMap::new();
        for (k, (s, b)) in &bytes {
            let v = TensorView::new(Dtype::F32, s.clone(), b).map_err(|e| ModelError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("tensor `{k}`: {e}"),
            })?;
            views.insert(k.clone(), v);
        }
        safetensors::serialize_to_file(&views, &None, path).map_err(|e| ModelError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }
    fn ln(&mut self, prefix: &str, l: &LayerNorm) {
        self.put(&format!("{prefix}.weight"), l.gamma.val());
        if let Some(b) = &l.beta {
            self.put(&format!("{prefix}.bias"), b.val());
        }
    }
}

/// Saves a ViT as timm-layout safetensors (`model.safetensors`) and its `faithbench.json` in `dir`.
pub fn save_vit_timm(model: &VisionTransformer, dir: &Path) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let c = &model.config;
    let mut out = Out(BTreeMap::new());
    out.put("cls_token", model.cls_token.val());
    out.put("pos_embed", model.pos_embed.val());
    let p = c.patch_size;
    out.put(
        "patch_embed.proj.weight",
        model
            .patch_embed
            .proj
            .weight
            .val()
            .transpose()
            .reshape([c.hidden, 3, p, p]),
    );
    if let Some(b) = &model.patch_embed.proj.bias {
        out.put("patch_embed.proj.bias", b.val());
    }
    for (i, blk) in model.blocks.iter().enumerate() {
        out.ln(&format!("blocks.{i}.norm1"), &blk.norm1);
        out.linear(&format!("blocks.{i}.attn.qkv"), &blk.attn.qkv);
        out.linear(&format!("blocks.{i}.attn.proj"), &blk.attn.proj);
        out.ln(&format!("blocks.{i}.norm2"), &blk.norm2);
        out.linear(&format!("blocks.{i}.mlp.fc1"), &blk.mlp.fc1);
        out.linear(&format!("blocks.{i}.mlp.fc2"), &blk.mlp.fc2);
    }
    if let Some(n) = &model.norm {
        out.ln("norm", n);
    }
    if let Some(n) = &model.fc_norm {
        out.ln("fc_norm", n);
    }
    out.linear("head", &model.head);
    out.write(&dir.join("model.safetensors"))?;
    let spec = ModelSpec::Vit {
        layout: Layout::Timm,
        config: c.clone(),
    };
    write_json(&dir.join("faithbench.json"), &spec)
}

/// Saves a CLIP as an OpenAI-layout state dict (`model.safetensors`, f32) and its
/// `faithbench.json` (`"family": "clip"`, layout `openai_clip`) in `dir`, with the key names
/// and shapes of `torch.save(model.state_dict())` for OpenAI's `CLIP` (see [`crate::load`]):
/// `visual.conv1.weight` (width, 3, p, p), `visual.class_embedding`, `visual.positional_embedding`,
/// `visual.ln_pre`, `visual.transformer.resblocks.N.{ln_1, attn.in_proj_weight (3·width, width),
/// attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}`, `visual.ln_post`,
/// `visual.proj` (width, embed), `token_embedding.weight`, `positional_embedding`,
/// `transformer.resblocks.N.…`, `ln_final`, `text_projection` (width, embed) and the 0-d
/// `logit_scale`. JIT-only entries (`input_resolution`, `context_length`, `vocab_size`) are not
/// written; the config in `faithbench.json` carries them.
pub fn save_clip_openai(model: &Clip, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let c = &model.config;
    let mut out = Out(BTreeMap::new());
    let v = &model.visual;
    let p = c.patch_size;
    out.put(
        "visual.conv1.weight",
        v.conv1
            .proj
            .weight
            .val()
            .transpose()
            .reshape([c.vision_width, 3, p, p]),
    );
    out.put("visual.class_embedding", v.class_embedding.val());
    out.put("visual.positional_embedding", v.positional_embedding.val());
    out.ln("visual.ln_pre", &v.ln_pre);
    out.clip_blocks("visual.transformer.resblocks", &v.transformer);
    out.ln("visual.ln_post", &v.ln_post);
    out.put("visual.proj", v.proj.val());
    out.put("token_embedding.weight", model.token_embedding.val());
    out.put("positional_embedding", model.positional_embedding.val());
    out.clip_blocks("transformer.resblocks", &model.transformer);
    out.ln("ln_final", &model.ln_final);
    out.put("text_projection", model.text_projection.val());
    out.put_shaped("logit_scale", &[], model.logit_scale.val());
    out.write(&dir.join("model.safetensors"))?;
    let spec = ModelSpec::Clip {
        layout: Layout::OpenaiClip,
        config: c.clone(),
    };
    write_json(&dir.join("faithbench.json"), &spec)
}

impl Out {
    /// The blocks of a CLIP tower under `prefix` (`….resblocks`), OpenAI's names.
    fn clip_blocks(&mut self, prefix: &str, t: &ClipTransformer) {
        for (i, blk) in t.resblocks.iter().enumerate() {
            let b = format!("{prefix}.{i}");
            self.ln(&format!("{b}.ln_1"), &blk.ln_1);
            // `nn.MultiheadAttention`'s fused input projection: rows [W_q; W_k; W_v] (out, in).
            self.put(
                &format!("{b}.attn.in_proj_weight"),
                blk.attn.qkv.weight.val().transpose(),
            );
            if let Some(bias) = &blk.attn.qkv.bias {
                self.put(&format!("{b}.attn.in_proj_bias"), bias.val());
            }
            self.linear(&format!("{b}.attn.out_proj"), &blk.attn.proj);
            self.ln(&format!("{b}.ln_2"), &blk.ln_2);
            self.linear(&format!("{b}.mlp.c_fc"), &blk.mlp.c_fc);
            self.linear(&format!("{b}.mlp.c_proj"), &blk.mlp.c_proj);
        }
    }
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Saves a BERT classifier in the Hugging Face `BertForSequenceClassification` layout:
/// `model.safetensors` (keys `bert.embeddings.*`, `bert.encoder.layer.N.attention.self.{query,key,value}`
/// — the fused qkv split back —, `…attention.output.{dense,LayerNorm}`, `…intermediate.dense`,
/// `…output.{dense,LayerNorm}`, `bert.pooler.dense`, `classifier`), an HF-style `config.json`
/// (`id2label` from `labels`, or `LABEL_i`) and `faithbench.json`, in `dir`. Encoder-only models
/// (no pooler/classifier) are written as `BertModel` keys without the `bert.` prefix.
pub fn save_bert_hf(model: &Bert, dir: &Path, labels: &[String]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let c = &model.config;
    let d = c.hidden;
    let classifier = model.pooler.is_some() && model.classifier.is_some();
    let pre = if classifier { "bert." } else { "" };
    let mut out = Out(BTreeMap::new());
    let e = format!("{pre}embeddings");
    let emb = &model.embeddings;
    out.put(
        &format!("{e}.word_embeddings.weight"),
        emb.word_embeddings.val(),
    );
    out.put(
        &format!("{e}.position_embeddings.weight"),
        emb.position_embeddings.val(),
    );
    out.put(
        &format!("{e}.token_type_embeddings.weight"),
        emb.token_type_embeddings.val(),
    );
    out.ln(&format!("{e}.LayerNorm"), &emb.layer_norm);
    for (i, l) in model.layers.iter().enumerate() {
        let p = format!("{pre}encoder.layer.{i}");
        // burn stores Linear weights as (in, out); PyTorch as (out, in)
        let w = l.attention.qkv.weight.val().transpose(); // (3d, d)
        for (j, name) in ["query", "key", "value"].iter().enumerate() {
            out.put(
                &format!("{p}.attention.self.{name}.weight"),
                w.clone().narrow(0, j * d, d),
            );
            if let Some(b) = &l.attention.qkv.bias {
                out.put(
                    &format!("{p}.attention.self.{name}.bias"),
                    b.val().narrow(0, j * d, d),
                );
            }
        }
        out.linear(&format!("{p}.attention.output.dense"), &l.attention.proj);
        out.ln(
            &format!("{p}.attention.output.LayerNorm"),
            &l.attention_norm,
        );
        out.linear(&format!("{p}.intermediate.dense"), &l.intermediate);
        out.linear(&format!("{p}.output.dense"), &l.output);
        out.ln(&format!("{p}.output.LayerNorm"), &l.output_norm);
    }
    if let (Some(pooler), Some(cls)) = (&model.pooler, &model.classifier) {
        out.linear(&format!("{pre}pooler.dense"), pooler);
        out.linear("classifier", cls);
    }
    out.write(&dir.join("model.safetensors"))?;
    let id2label: serde_json::Map<String, serde_json::Value> = (0..c.num_classes)
        .map(|i| {
            (
                i.to_string(),
                serde_json::Value::String(
                    labels
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("LABEL_{i}")),
                ),
            )
        })
        .collect();
    let label2id: serde_json::Map<String, serde_json::Value> = id2label
        .iter()
        .map(|(k, v)| {
            (
                v.as_str().unwrap_or_default().to_string(),
                serde_json::Value::from(k.parse::<u64>().unwrap_or(0)),
            )
        })
        .collect();
    let mut hf = serde_json::json!({
        "architectures": [if classifier { "BertForSequenceClassification" } else { "BertModel" }],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": c.hidden,
        "initializer_range": 0.02,
        "intermediate_size": c.intermediate,
        "layer_norm_eps": c.ln_eps,
        "max_position_embeddings": c.max_position,
        "model_type": "bert",
        "num_attention_heads": c.heads,
        "num_hidden_layers": c.depth,
        "pad_token_id": 0,
        "type_vocab_size": c.type_vocab,
        "vocab_size": c.vocab_size,
    });
    if classifier {
        hf["id2label"] = serde_json::Value::Object(id2label);
        hf["label2id"] = serde_json::Value::Object(label2id);
    }
    write_json(&dir.join("config.json"), &hf)?;
    let spec = ModelSpec::Bert {
        layout: Layout::HfBert,
        config: c.clone(),
    };
    write_json(&dir.join("faithbench.json"), &spec)
}
