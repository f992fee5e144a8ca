//! Maps computed elsewhere (another toolkit, a Python prototype), keyed by sample id.
//!
//! Two layouts:
//! * a `.safetensors` file whose tensor names are sample ids, each a 1-D f32/f16/f64 tensor;
//! * a folder of `.npy` files named after the sample id with `/` replaced by `__`
//!   (e.g. `n01440764__ILSVRC2012_val_00000293.JPEG.npy`).
//!
//! Each map must have one value per output token: N−1 patch tokens for images (row-major
//! patch order), the tokenised length for text. Wrong lengths, missing ids and non-finite
//! values are errors naming the file and the id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use faithbench_models::{Explainable, ModelInput};
use serde::{Deserialize, Serialize};

use crate::registry::{parse_as, typed, MethodInfo};
use crate::{ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "precomputed",
    summary: "maps computed elsewhere: a folder of .npy files or a .safetensors keyed by sample id; needs `path`",
    reference: "—",
    path_params: &["path"],
    example: r#"{"path": "maps/"}"#,
    parse: parse_as::<PrecomputedConfig>,
    build: |p| Ok(Box::new(Precomputed::open(typed(p)?)?)),
};

/// Parameters of the precomputed explainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecomputedConfig {
    /// A `.safetensors` file or a folder of `.npy` files.
    pub path: PathBuf,
    /// Display name in tables (default `precomputed`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Precomputed maps.
#[derive(Debug, Clone)]
pub struct Precomputed {
    config: PrecomputedConfig,
    table: Option<BTreeMap<String, Vec<f32>>>,
}

/// File name of a sample id inside a `.npy` folder.
pub fn npy_name(id: &str) -> String {
    format!("{}.npy", id.replace('/', "__"))
}

impl Precomputed {
    /// Opens the source (a safetensors file is read eagerly; a folder lazily).
    pub fn open(config: PrecomputedConfig) -> Result<Self> {
        let p = &config.path;
        let err = |reason: String| ExplainError::Precomputed {
            path: p.clone(),
            id: String::new(),
            reason,
        };
        if p.is_dir() {
            return Ok(Self {
                config,
                table: None,
            });
        }
        if !p.exists() {
            return Err(err("no such file or folder".into()));
        }
        let file =
            faithbench_models::weights::WeightFile::open(p).map_err(|e| err(e.to_string()))?;
        let mut table = BTreeMap::new();
        for name in file.names() {
            let t = file
                .get(name)
                .ok_or_else(|| err(format!("tensor `{name}` vanished")))?;
            if t.shape.len() != 1 {
                return Err(ExplainError::Precomputed {
                    path: p.clone(),
                    id: name.to_string(),
                    reason: format!("expected a 1-D map, found shape {:?}", t.shape),
                });
            }
            table.insert(name.to_string(), t.data.clone());
        }
        Ok(Self {
            config,
            table: Some(table),
        })
    }

    fn lookup(&self, id: &str) -> Result<Vec<f32>> {
        let p = &self.config.path;
        match &self.table {
            Some(t) => t.get(id).cloned().ok_or_else(|| ExplainError::Precomputed {
                path: p.clone(),
                id: id.to_string(),
                reason: "no map for this sample id".into(),
            }),
            None => {
                let f = p.join(npy_name(id));
                let arr =
                    faithbench_data::npy::read_npy(&f).map_err(|e| ExplainError::Precomputed {
                        path: f.clone(),
                        id: id.to_string(),
                        reason: e.to_string(),
                    })?;
                arr.to_f32_vec().map_err(|e| ExplainError::Precomputed {
                    path: f,
                    id: id.to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

impl Explainer for Precomputed {
    fn name(&self) -> String {
        self.config
            .name
            .clone()
            .unwrap_or_else(|| "precomputed".into())
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let b = batch.input.batch_size();
        let (len, valid): (usize, Vec<usize>) = match (batch.input, model.patch_grid()) {
            (ModelInput::Image(_), Some((h, w))) => (h * w, vec![h * w; b]),
            (ModelInput::Text(t), _) => (t.input_ids.dims()[1], t.lengths.clone()),
            _ => {
                return Err(ExplainError::Config(
                    "precomputed: input does not match the model".into(),
                ))
            }
        };
        let mut values = vec![0f32; b * len];
        for (i, id) in batch.ids.iter().enumerate() {
            let row = self.lookup(id)?;
            if row.len() != valid[i] {
                return Err(ExplainError::Precomputed {
                    path: self.config.path.clone(),
                    id: id.clone(),
                    reason: format!(
                        "map has {} values, the model has {} tokens for this sample",
                        row.len(),
                        valid[i]
                    ),
                });
            }
            if let Some(pos) = row.iter().position(|v| !v.is_finite()) {
                return Err(ExplainError::Precomputed {
                    path: self.config.path.clone(),
                    id: id.clone(),
                    reason: format!("non-finite value at token {pos}"),
                });
            }
            values[i * len..i * len + valid[i]].copy_from_slice(&row);
        }
        Ok(TokenMaps {
            batch: b,
            len,
            values,
            valid,
        })
    }
}
