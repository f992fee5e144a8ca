//! Datasets of a run, opened once, read by plan position.

use std::path::Path;

use anyhow::{Context, Result};
use faithbench_data::{ImageNetSeg, ImageNetVal};
use faithbench_models::preprocess::{prepare, resize_mask_nearest, ResizeMode};
use image::RgbImage;

/// An opened dataset restricted to the plan's samples.
pub enum OpenDataset {
    /// ImageNet val (after subset), first `len` samples.
    Val {
        /// Reader.
        data: ImageNetVal,
        /// Samples in the plan.
        len: usize,
    },
    /// ImageNet-Segmentation, first `len` images.
    Seg {
        /// Reader.
        data: ImageNetSeg,
        /// Samples in the plan.
        len: usize,
    },
}

/// One sample, resized for the model.
pub struct Item {
    /// Sample id (ImageNet: relative path; segmentation: zero-padded index).
    pub id: String,
    /// Ground-truth class (ImageNet val only).
    pub label: Option<usize>,
    /// Image resized to `S × S`.
    pub image: RgbImage,
    /// Mask resized to `S × S` with PIL NEAREST (segmentation only).
    pub mask: Option<Vec<u8>>,
}

impl OpenDataset {
    /// Opens ImageNet val with an optional subset file and limit.
    pub fn open_val(root: &Path, subset: Option<&Path>, limit: Option<usize>) -> Result<Self> {
        let mut data = ImageNetVal::open(root)?;
        if let Some(s) = subset {
            data = data.with_subset_file(s)?;
        }
        let len = limit.map_or(data.len(), |l| l.min(data.len()));
        Ok(OpenDataset::Val { data, len })
    }

    /// Opens a `gtsegs_ijcv.mat` with an optional limit.
    pub fn open_seg(path: &Path, limit: Option<usize>) -> Result<Self> {
        let data = ImageNetSeg::open(path)?;
        let len = limit.map_or(data.len(), |l| l.min(data.len()));
        Ok(OpenDataset::Seg { data, len })
    }

    /// Sample ids in plan order (no decoding).
    pub fn ids(&self) -> Result<Vec<String>> {
        match self {
            OpenDataset::Val { data, len } => (0..*len)
                .map(|i| Ok(data.id_and_label(i)?.0.to_string()))
                .collect(),
            OpenDataset::Seg { len, .. } => Ok((0..*len)
                .map(faithbench_data::imagenet_seg::sample_id)
                .collect()),
        }
    }

    /// Decodes and resizes sample `i` for a model of input side `size`.
    pub fn load(&self, i: usize, size: usize, resize: ResizeMode) -> Result<Item> {
        match self {
            OpenDataset::Val { data, .. } => {
                let s = data.get(i)?;
                Ok(Item {
                    id: s.id,
                    label: Some(s.label),
                    image: prepare(&s.image, size, resize),
                    mask: None,
                })
            }
            OpenDataset::Seg { data, .. } => {
                let s = data
                    .get(i)
                    .with_context(|| format!("{}: image {i}", data.path().display()))?;
                let mask = resize_mask_nearest(&s.mask, s.width, s.height, size, size);
                Ok(Item {
                    id: s.id,
                    label: None,
                    image: prepare(&s.image, size, resize),
                    mask: Some(mask),
                })
            }
        }
    }
}
