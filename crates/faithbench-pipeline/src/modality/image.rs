//! Images: samples resized to the model's input side S (PIL-exact, protocols §4.8), raw `[0, 1]`
//! CHW pixels normalised by the model's statistics, token maps on the patch grid upsampled
//! bilinearly (PyTorch `align_corners=False`) to S × S and min–max normalised.

use std::path::Path;

use faithbench_data::{DatasetReader, ImageItem};
use faithbench_eval::maps::{min_max_normalise, upsample_bilinear, MapError};
use faithbench_eval::{
    argmax, EvalChunk, Evaluator, ExplainedClass, ImageChunk, ImageSampleView, Reexplain,
};
use faithbench_explain::Explainer;
use faithbench_models::preprocess::{prepare, resize_mask_nearest, to_chw_unit, ResizeMode};
use faithbench_models::{Explainable, ModelInput};
use image::RgbImage;

use crate::classifier::ImageModel;
use crate::error::{Context, Error, Result};
use crate::gallery;
use crate::modality::reexplain::{MapForm, ModelReexplain};
use crate::modality::Modality;
use crate::plan::{PlanDataset, PlanExplainer};

/// An image, resized for the model, with its raw CHW pixels.
pub struct PreparedImage {
    /// The resized image (`S × S`).
    pub image: RgbImage,
    /// Its pixels in `[0, 1]`, `3 × S × S`, channel-major.
    pub raw: Vec<f32>,
}

/// Resizes an image for a model of input side `size` and converts it to raw CHW pixels.
pub fn prepare_image(image: &RgbImage, size: usize, resize: ResizeMode) -> PreparedImage {
    let image = prepare(image, size, resize);
    let mut raw = Vec::with_capacity(3 * size * size);
    to_chw_unit(&image, &mut raw);
    PreparedImage { image, raw }
}

/// A token map on a `grid × grid` patch grid, upsampled ×`patch` and min–max normalised
/// (`None` when the upsampled map is constant).
pub fn upsample_map(
    tokens: &[f32],
    grid: usize,
    patch: usize,
) -> std::result::Result<(Vec<f32>, Option<Vec<f32>>), MapError> {
    let up = upsample_bilinear(tokens, grid, grid, patch)?;
    let norm = match min_max_normalise(&up) {
        Ok(v) => Some(v),
        Err(MapError::Constant { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok((up, norm))
}

/// The image side of a run: a dataset reader and the model as a classifier.
pub struct ImageModality<'a> {
    /// The dataset.
    pub reader: &'a dyn DatasetReader,
    /// Dataset name (for messages).
    pub dataset: &'a str,
    /// The model as a classifier on raw images.
    pub classifier: ImageModel<'a>,
    /// Input side S.
    pub image_size: usize,
    /// Patch side.
    pub patch: usize,
    /// Patches per side.
    pub grid: usize,
    /// Resize pipeline.
    pub resize: ResizeMode,
}

/// A loaded chunk of images.
pub struct ImageBatch {
    /// Samples resized to `S × S` (masks with PIL NEAREST).
    pub items: Vec<ImageItem>,
    /// Raw pixels of all samples, `b × 3 × S × S`.
    pub raw: Vec<f32>,
    /// The normalised model input.
    pub input: ModelInput,
    /// Clean predictions.
    pub preds: Vec<usize>,
}

/// Token maps of a chunk prepared for image evaluators.
pub struct ImageMaps {
    /// Upsampled to `S × S`.
    pub upsampled: Vec<Vec<f32>>,
    /// Upsampled and min–max normalised (`None`: constant map).
    pub normalised: Vec<Option<Vec<f32>>>,
}

impl Modality for ImageModality<'_> {
    type Chunk = ImageBatch;
    type Maps = ImageMaps;

    fn model(&self) -> &dyn Explainable {
        self.classifier.model
    }

    fn load(&mut self, positions: &[usize], ids: &[String]) -> Result<ImageBatch> {
        let s = self.image_size;
        let mut items = Vec::with_capacity(positions.len());
        let mut raw = Vec::with_capacity(positions.len() * 3 * s * s);
        for (&p, id) in positions.iter().zip(ids) {
            let it = self.reader.image(p)?;
            if &it.id != id {
                return Err(Error::input(format!(
                    "dataset `{}` changed since the plan was made: position {p} holds `{}`, the plan says `{id}`",
                    self.dataset, it.id
                )));
            }
            let (w, h) = (it.image.width() as usize, it.image.height() as usize);
            let mask = it.mask.as_ref().map(|m| resize_mask_nearest(m, w, h, s, s));
            let prepared = prepare_image(&it.image, s, self.resize);
            raw.extend_from_slice(&prepared.raw);
            items.push(ImageItem {
                id: it.id,
                label: it.label,
                image: prepared.image,
                mask,
            });
        }
        let input = self.classifier.input(&raw, items.len(), s, s);
        Ok(ImageBatch {
            items,
            raw,
            input,
            preds: Vec::new(),
        })
    }

    fn classify(&mut self, chunk: &mut ImageBatch) -> Result<()> {
        let logits = self.classifier.logits_of(&chunk.input)?;
        chunk.preds = logits
            .chunks(self.classifier.num_classes)
            .map(argmax)
            .collect();
        Ok(())
    }

    fn input<'c>(&self, chunk: &'c ImageBatch) -> &'c ModelInput {
        &chunk.input
    }

    fn predictions<'c>(&self, chunk: &'c ImageBatch) -> &'c [usize] {
        &chunk.preds
    }

    fn labels(&self, chunk: &ImageBatch) -> Vec<Option<usize>> {
        chunk.items.iter().map(|it| it.label).collect()
    }

    fn map_shapes(&self, chunk: &ImageBatch) -> Vec<Vec<usize>> {
        vec![vec![self.grid, self.grid]; chunk.items.len()]
    }

    fn prepare(&self, chunk: &ImageBatch, maps: Vec<Vec<f32>>) -> Result<(ImageMaps, usize)> {
        let mut upsampled = Vec::with_capacity(maps.len());
        let mut normalised = Vec::with_capacity(maps.len());
        for (tm, it) in maps.iter().zip(&chunk.items) {
            let (up, norm) = upsample_map(tm, self.grid, self.patch)
                .map_err(|e| Error::failure(e.to_string()))
                .context(|| format!("sample `{}`: upsampling its map", it.id))?;
            upsampled.push(up);
            normalised.push(norm);
        }
        let constant = normalised.iter().filter(|n| n.is_none()).count();
        Ok((
            ImageMaps {
                upsampled,
                normalised,
            },
            constant,
        ))
    }

    fn gallery(
        &self,
        out: &Path,
        dataset: &PlanDataset,
        chunk: &ImageBatch,
        maps: &ImageMaps,
        row: usize,
        position: usize,
        explainer: &PlanExplainer,
        class: ExplainedClass,
        _target: usize,
    ) -> Result<()> {
        let it = &chunk.items[row];
        let path = gallery::item_path(out, &dataset.name, position, &explainer.stem, class);
        gallery::write_item(
            &path,
            &it.image,
            maps.normalised[row].as_deref(),
            it.mask.as_deref(),
            &explainer.label,
        )
    }

    fn evaluate(
        &self,
        evaluator: &dyn Evaluator,
        chunk: &ImageBatch,
        maps: &ImageMaps,
        targets: &[usize],
        eval_batch: usize,
        explainer: Option<&dyn Explainer>,
    ) -> Result<Vec<String>> {
        let mut classifier = self.classifier;
        let s = self.image_size;
        let mut re = ModelReexplain::of_chunk(
            self.classifier.model,
            explainer,
            &chunk.input,
            targets,
            chunk.items.iter().map(|it| it.id.clone()),
            MapForm::Upsampled {
                grid: self.grid,
                patch: self.patch,
            },
        );
        let samples = chunk
            .items
            .iter()
            .enumerate()
            .map(|(r, it)| ImageSampleView {
                id: &it.id,
                label: it.label,
                mask: it.mask.as_deref(),
                image: &chunk.raw[r * 3 * s * s..(r + 1) * 3 * s * s],
                map: &maps.upsampled[r],
                normalised: maps.normalised[r].as_deref(),
                explained_class: targets[r],
            })
            .collect();
        let mut ec = EvalChunk::Image(ImageChunk {
            samples,
            height: s,
            width: s,
            classifier: &mut classifier,
            eval_batch,
            reexplain: re.as_mut().map(|r| r as &mut dyn Reexplain),
        });
        Ok(evaluator.evaluate(&mut ec)?)
    }
}
