//! Writing models back to checkpoints in the timm layout (so that faithbench's own trained
//! models load through the same path as users' checkpoints), plus `faithbench.json`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::error::{ModelError, Result};
use crate::load::{Layout, ModelSpec, VitSpec};
use crate::vit::VisionTransformer;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

struct Out(BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl Out {
    fn put<const D: usize>(&mut self, name: &str, t: Tensor<D>) {
        let shape = t.dims().to_vec();
        self.0.insert(name.to_string(), (shape, values(t)));
    }
    fn linear(&mut self, prefix: &str, l: &Linear) {
        self.put(&format!("{prefix}.weight"), l.weight.val().transpose());
        if let Some(b) = &l.bias {
            self.put(&format!("{prefix}.bias"), b.val());
        }
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
    let io = |path: &Path, e: std::io::Error| ModelError::Io { path: path.to_path_buf(), source: e };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let c = &model.config;
    let mut out = Out(BTreeMap::new());
    out.put("cls_token", model.cls_token.val());
    out.put("pos_embed", model.pos_embed.val());
    let p = c.patch_size;
    out.put("patch_embed.proj.weight", model.patch_embed.proj.weight.val().transpose().reshape([c.hidden, 3, p, p]));
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
    let bytes: BTreeMap<String, (Vec<usize>, Vec<u8>)> = out
        .0
        .into_iter()
        .map(|(k, (s, d))| (k, (s, d.iter().flat_map(|v| v.to_le_bytes()).collect())))
        .collect();
    let mut views = BTreeMap::new();
    for (k, (s, b)) in &bytes {
        let v = TensorView::new(Dtype::F32, s.clone(), b).map_err(|e| ModelError::Corrupt {
            path: dir.join("model.safetensors"),
            reason: format!("tensor `{k}`: {e}"),
        })?;
        views.insert(k.clone(), v);
    }
    let path = dir.join("model.safetensors");
    safetensors::serialize_to_file(&views, &None, &path).map_err(|e| ModelError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let spec = ModelSpec::Vit { layout: Layout::Timm, config: VitSpec::from(c) };
    let spec_path = dir.join("faithbench.json");
    let text = serde_json::to_string_pretty(&spec).map_err(|e| ModelError::Config {
        path: spec_path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&spec_path, text + "\n").map_err(|e| io(&spec_path, e))
}
