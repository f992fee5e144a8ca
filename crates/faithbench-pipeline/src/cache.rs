//! The explanation cache: token maps (before upsampling, f32 `.npy`) under `<cache>/<key>.npy`.
//!
//! `key` = sha256 of the canonical JSON of: the weights' sha256, the model description
//! (architecture, layout, normalisation), the float precision when not f32, the explainer's name and resolved parameters, the
//! dataset kind and preprocessing (images: resize mode, input size; text: the tokenizer's sha256
//! and the word-piece budget), the explained class and the sample id. Anything that changes a
//! map changes its key, so a hit is always valid. Files are written atomically (temporary file
//! + rename); an unreadable cache file counts as a miss and is rewritten.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use faithbench_data::files::write_atomic;
use faithbench_data::npy::{encode_npy_f32, read_npy};
use faithbench_models::preprocess::ResizeMode;
use serde::Serialize;

use crate::config::Preprocess;
use crate::error::Result;
use crate::plan::{PlanDataset, PlanExplainer, PlanModel};
use crate::util::canonical_hash;

/// The cache of one run (or a disabled cache).
pub struct Cache {
    dir: Option<PathBuf>,
    /// Hits so far.
    pub hits: AtomicUsize,
    /// Misses so far.
    pub misses: AtomicUsize,
}

#[derive(Serialize)]
struct KeyParts<'a> {
    weights_sha256: &'a str,
    model: &'a faithbench_models::ModelSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    precision: Option<&'a str>,
    explainer: &'a str,
    params: &'a faithbench_explain::MethodConfig,
    dataset_kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resize: Option<ResizeMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokenizer_sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_length: Option<usize>,
    /// CLIP: the prompts (the explained logit is a prompt's).
    #[serde(skip_serializing_if = "Option::is_none")]
    prompts_sha256: Option<String>,
    class: usize,
    sample_id: &'a str,
}

impl Cache {
    /// A cache in `dir` (created on first write), or a disabled one.
    pub fn new(dir: Option<&Path>) -> Self {
        Cache {
            dir: dir.map(Path::to_path_buf),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        }
    }

    /// Whether the cache is enabled.
    pub fn enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// The key of one map.
    pub fn key(
        model: &PlanModel,
        explainer: &PlanExplainer,
        dataset: &PlanDataset,
        class: usize,
        sample_id: &str,
    ) -> Result<String> {
        let (resize, max_length) = match dataset.preprocess {
            Preprocess::Image { resize } => (Some(resize), None),
            Preprocess::Text { max_length } => (None, Some(max_length)),
        };
        canonical_hash(&KeyParts {
            weights_sha256: &model.weights_sha256,
            model: &model.spec,
            precision: (!model.precision.is_default()).then(|| model.precision.name()),
            explainer: &explainer.name,
            params: &explainer.method,
            dataset_kind: &dataset.kind,
            resize,
            image_size: dataset.image_size,
            tokenizer_sha256: model.tokenizer_sha256.as_deref(),
            max_length,
            prompts_sha256: match &dataset.prompts {
                Some(p) => Some(canonical_hash(p)?),
                None => None,
            },
            class,
            sample_id,
        })
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}.npy")))
    }

    /// A cached map of `len` values, if present and readable.
    pub fn get(&self, key: &str, len: usize) -> Option<Vec<f32>> {
        let p = self.path(key)?;
        let got = read_npy(&p)
            .ok()
            .and_then(|a| a.to_f32_vec().ok())
            .filter(|v| v.len() == len && v.iter().all(|x| x.is_finite()));
        match &got {
            Some(_) => _ = self.hits.fetch_add(1, Ordering::Relaxed),
            None => _ = self.misses.fetch_add(1, Ordering::Relaxed),
        }
        got
    }

    /// Stores a map (no-op when disabled).
    pub fn put(&self, key: &str, shape: &[usize], data: &[f32]) -> Result<()> {
        match self.path(key) {
            Some(p) => Ok(write_atomic(&p, &encode_npy_f32(shape, data))?),
            None => Ok(()),
        }
    }
}
