//! A tiny CLIP trained from scratch on faithbench-shapes with generated captions, the shipped
//! `models/shapes_clip` ([`train_shapes_clip`]).
//!
//! * **Images**: the training stream of faithbench-shapes ([`TRAIN_SEED`], samples
//!   `step·batch …`), prepared exactly as the pipeline prepares a dataset image for a 64-pixel
//!   CLIP (`prepare(…, ResizeMode::ClipBicubic)`, the identity at 64 × 64, then `[0, 1]` CHW
//!   pixels and CLIP's mean/std).
//! * **Captions** ([`shapes_caption`]): one per image, deterministic in (seed, index): one of
//!   [`CAPTION_TEMPLATES`] around the class name, and for a share of the samples
//!   ([`ShapesClipTrainConfig::colour_fraction`]) the object's colour word before it
//!   (`"a photo of a red disc"`, `"an orange ring shape"`). The generator does not expose the
//!   object's colour, so it is read off the rendered sample: the mean RGB of the pixels under
//!   the object mask (all of them carry the object colour plus ±12 pixel noise), named by its
//!   hue ([`colour_name_of`], [`COLOUR_NAMES`]). The generator draws the object's saturation in
//!   [0.6, 1] and value in [0.75, 1], so the hue is always well defined; a hue near a boundary
//!   gets one of the two neighbouring names.
//! * **Loss** ([`clip_loss`]): OpenAI's symmetric InfoNCE over the batch — cross-entropy of the
//!   image→text logits `exp(logit_scale)·cos` and of the text→image logits — with soft targets:
//!   a batch holds many images of each class (labels cycle through the classes), so caption `j`
//!   is a positive of image `i` whenever it is *true* of it (same class, and the same colour
//!   name when the caption names one). The image→text target of image `i` is uniform over the
//!   captions true of it, the text→image target of caption `j` uniform over the images it is
//!   true of (each image's own caption is always among them). One-hot targets on the diagonal
//!   would push apart an image and a correct caption of another image of the same class, the
//!   thing zero-shot classification needs to hold. `logit_scale` is clamped to [0, ln 100]
//!   after every optimiser step, as OpenAI's training does.
//! * **Zero-shot evaluation** ([`evaluate_zero_shot`]): samples `0..n` of the evaluation split
//!   ([`EVAL_SEED`], the shipped `datasets/shapes`) through [`ClipImageClassifier`] against the
//!   prompts `"a photo of a {class}"` ([`zero_shot_prompts`]), on the model as saved and loaded
//!   back through [`ModelSource::load_clip`].

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use faithbench_data::rng::SplitMix64;
use faithbench_data::synthetic::{generate, ShapeSample, CLASSES};
use faithbench_models::clip::{Clip, ClipConfig, ClipImageClassifier};
use faithbench_models::clip_tokenize::ClipTokenizer;
use faithbench_models::preprocess::{prepare, raw_batch, Normalization, ResizeMode};
use faithbench_models::save::save_clip_openai;
use faithbench_models::{Explainable, ModelInput, ModelSource, TextBatch, TraceOptions};
use serde::{Deserialize, Serialize};

use crate::{fit_loss, LogLine, Result, Schedule, TrainError, EVAL_SEED, IMAGE_SIZE, TRAIN_SEED};

/// Caption templates; `{}` is the noun phrase with its article (`a disc`, `an orange disc`).
/// The first is the zero-shot prompt ([`ZERO_SHOT_TEMPLATE`]).
pub const CAPTION_TEMPLATES: [&str; 6] = [
    "a photo of {}",
    "an image of {}",
    "a picture of {}",
    "a drawing of {}",
    "{} shape",
    "{}",
];

/// The zero-shot prompt of the evaluation: `"a photo of a {class}"`.
pub const ZERO_SHOT_TEMPLATE: &str = "a photo of a {}";

/// Colour words, by hue (see [`colour_name_of`]).
pub const COLOUR_NAMES: [&str; 8] = [
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink",
];

/// Upper hue bounds (degrees) of [`COLOUR_NAMES`]; hues from 345° on are red again.
const HUE_BOUNDS: [f64; 8] = [15.0, 45.0, 70.0, 160.0, 200.0, 250.0, 290.0, 345.0];

/// Seed mixed into the caption choices, so that they are independent of the image draws.
const CAPTION_SEED: u64 = 0xCA97_1015_5EED_0001;

/// The colour word (index into [`COLOUR_NAMES`]) of an RGB colour in [0, 1], by its hue.
pub fn colour_name_of(rgb: [f64; 3]) -> usize {
    let [r, g, b] = rgb;
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let hue = if d <= 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    HUE_BOUNDS.iter().position(|&h| hue < h).unwrap_or(0)
}

/// The colour word of a sample's object: the hue of the mean RGB under its mask.
pub fn object_colour(sample: &ShapeSample) -> usize {
    let mut sum = [0f64; 3];
    let mut n = 0usize;
    for (i, &m) in sample.mask.iter().enumerate() {
        if m == 1 {
            let w = sample.image.width() as usize;
            let p = sample.image.get_pixel((i % w) as u32, (i / w) as u32).0;
            for c in 0..3 {
                sum[c] += p[c] as f64 / 255.0;
            }
            n += 1;
        }
    }
    colour_name_of(sum.map(|v| v / n.max(1) as f64))
}

/// A caption and what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeCaption {
    /// Class index into [`CLASSES`].
    pub class: usize,
    /// Colour index into [`COLOUR_NAMES`], when the caption names the colour.
    pub colour: Option<usize>,
    /// The caption text.
    pub text: String,
}

impl ShapeCaption {
    /// Whether the caption is true of an image of `class` whose object has colour `colour`.
    pub fn describes(&self, class: usize, colour: usize) -> bool {
        self.class == class && self.colour.is_none_or(|c| c == colour)
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The caption of training sample `index` of the stream with `seed`: a template drawn from
/// [`CAPTION_TEMPLATES`], with the object's colour word for a share `colour_fraction` of the
/// samples. Deterministic in (seed, index).
pub fn shapes_caption(
    seed: u64,
    index: u64,
    sample: &ShapeSample,
    colour_fraction: f64,
) -> ShapeCaption {
    let mut rng = SplitMix64::new(
        (seed ^ CAPTION_SEED).wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    );
    rng.next_u64();
    let template = CAPTION_TEMPLATES[rng.below(CAPTION_TEMPLATES.len())];
    let colour = (rng.unit() < colour_fraction).then(|| object_colour(sample));
    let class = CLASSES[sample.label];
    let phrase = match colour {
        Some(c) => format!("{} {class}", COLOUR_NAMES[c]),
        None => class.to_string(),
    };
    let noun = format!("{} {phrase}", article(&phrase));
    ShapeCaption {
        class: sample.label,
        colour,
        text: template.replace("{}", &noun),
    }
}

/// The zero-shot prompts, one per class in label order: `"a photo of a disc"`, ….
pub fn zero_shot_prompts() -> Vec<String> {
    CLASSES
        .iter()
        .map(|c| ZERO_SHOT_TEMPLATE.replace("{}", c))
        .collect()
}

/// The shipped model shape: image 64/8 (an 8 × 8 grid, 65 tokens), width 64, 4 blocks,
/// 4 heads; text context 16, OpenAI's 49408-token vocabulary, width 32, 2 blocks, 4 heads;
/// joint embedding 32; LayerNorm eps 1e-5; CLIP's mean/std.
pub fn shapes_clip_config() -> ClipConfig {
    let (norm_mean, norm_std) = Normalization::Clip.mean_std();
    ClipConfig {
        image_size: IMAGE_SIZE as usize,
        patch_size: 8,
        vision_width: 64,
        vision_layers: 4,
        vision_heads: 4,
        context_length: 16,
        vocab_size: 49408,
        text_width: 32,
        text_heads: 4,
        text_layers: 2,
        embed_dim: 32,
        ln_eps: 1e-5,
        norm_mean,
        norm_std,
    }
}

/// Hyper-parameters of [`train_shapes_clip`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShapesClipTrainConfig {
    /// The model shape.
    pub model: ClipConfig,
    /// Optimiser steps.
    pub steps: usize,
    /// Image–caption pairs per step.
    pub batch_size: usize,
    /// Peak learning rate (linear warm-up, cosine decay).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Share of captions that name the object's colour.
    pub colour_fraction: f64,
    /// Evaluation samples (indices `0..n` of the evaluation split).
    pub eval_samples: usize,
    /// Required zero-shot accuracy; below it the recipe fails.
    pub min_accuracy: f64,
    /// Steps between log lines (and the last step).
    pub log_every: usize,
    /// Initialisation seed.
    pub seed: u64,
}

impl ShapesClipTrainConfig {
    /// The shipped recipe.
    pub fn shipped() -> Self {
        Self {
            model: shapes_clip_config(),
            steps: 1500,
            batch_size: 64,
            lr: 1e-3,
            warmup: 100,
            weight_decay: 0.05,
            colour_fraction: 0.5,
            eval_samples: 500,
            min_accuracy: 0.9,
            log_every: 50,
            seed: 0,
        }
    }
}

/// What [`train_shapes_clip`] produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipTrainReport {
    /// The recipe.
    pub config: ShapesClipTrainConfig,
    /// Caption templates.
    pub templates: Vec<String>,
    /// Colour words.
    pub colour_names: Vec<String>,
    /// The zero-shot prompts of the evaluation.
    pub prompts: Vec<String>,
    /// Loss log (mean symmetric InfoNCE).
    pub log: Vec<LogLine>,
    /// Zero-shot accuracy on the evaluation split, of the saved model loaded back.
    pub test_accuracy: f64,
    /// Evaluation samples.
    pub test_samples: usize,
    /// `exp(logit_scale)` of the trained model.
    pub logit_scale: f32,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A batch of image–caption pairs.
#[derive(Debug, Clone)]
pub struct ClipBatch {
    /// Normalised images (B, 3, S, S).
    pub images: Tensor<4>,
    /// One caption per image.
    pub captions: Vec<ShapeCaption>,
    /// (class, colour index) of each image's object.
    pub facts: Vec<(usize, usize)>,
}

/// Training pairs `start..start + n` of the stream with `seed`: normalised images and captions.
pub fn shapes_clip_batch(
    cfg: &ClipConfig,
    seed: u64,
    start: u64,
    n: usize,
    colour_fraction: f64,
    device: &Device,
) -> Result<ClipBatch> {
    let samples: Vec<ShapeSample> = (0..n as u64)
        .map(|i| generate(seed, start + i, IMAGE_SIZE))
        .collect();
    let images: Vec<image::RgbImage> = samples
        .iter()
        .map(|s| prepare(&s.image, cfg.image_size, ResizeMode::ClipBicubic))
        .collect();
    let images = cfg.normalization().apply(raw_batch(&images, device)?);
    let captions = samples
        .iter()
        .enumerate()
        .map(|(i, s)| shapes_caption(seed, start + i as u64, s, colour_fraction))
        .collect();
    let facts = samples
        .iter()
        .map(|s| (s.label, object_colour(s)))
        .collect();
    Ok(ClipBatch {
        images,
        captions,
        facts,
    })
}

/// Tokenises captions to the model's context length.
fn tokenize(
    tok: &ClipTokenizer,
    texts: &[&str],
    context_length: usize,
    device: &Device,
) -> Result<TextBatch> {
    Ok(tok.tokenize_batch(texts, context_length, false, device)?.0)
}

/// The symmetric InfoNCE loss of a batch (see the module docs): `images` (B, 3, S, S) with
/// their (class, colour) `facts`, and one caption per image. Keeps the autodiff graph.
pub fn clip_loss(
    model: &Clip,
    tok: &ClipTokenizer,
    images: Tensor<4>,
    facts: &[(usize, usize)],
    captions: &[ShapeCaption],
) -> Result<Tensor<1>> {
    let b = facts.len();
    if captions.len() != b || images.dims()[0] != b {
        return Err(TrainError::Model(faithbench_models::ModelError::Input(
            format!(
                "{} images, {} facts and {} captions",
                images.dims()[0],
                b,
                captions.len()
            ),
        )));
    }
    let device = model.device();
    let texts: Vec<&str> = captions.iter().map(|c| c.text.as_str()).collect();
    let text = tokenize(tok, &texts, model.config.context_length, &device)?;
    let (per_image, per_text) = model.forward(images.to_device(&device), &text)?;
    // true_of[i][j]: caption j describes image i.
    let true_of: Vec<Vec<bool>> = facts
        .iter()
        .map(|&(class, colour)| {
            captions
                .iter()
                .map(|c| c.describes(class, colour))
                .collect()
        })
        .collect();
    let targets = |rows: Vec<Vec<bool>>| {
        let mut t = Vec::with_capacity(b * b);
        for row in rows {
            let k = row.iter().filter(|&&v| v).count().max(1) as f32;
            t.extend(row.iter().map(|&v| if v { 1.0 / k } else { 0.0 }));
        }
        Tensor::<2>::from_data(TensorData::new(t, [b, b]), &device)
    };
    let t_img = targets(true_of.clone());
    let t_txt = targets(
        (0..b)
            .map(|j| (0..b).map(|i| true_of[i][j]).collect())
            .collect(),
    );
    let ce = |logits: Tensor<2>, t: Tensor<2>| (log_softmax(logits, 1) * t).sum_dim(1).mean().neg();
    Ok((ce(per_image, t_img) + ce(per_text, t_txt)).div_scalar(2.0))
}

/// A zero-shot classifier over [`zero_shot_prompts`] (class `c` = `"a photo of a {CLASSES[c]}"`).
pub fn zero_shot_classifier(model: Clip, tok: &ClipTokenizer) -> Result<ClipImageClassifier> {
    let prompts = zero_shot_prompts();
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let batch = tokenize(tok, &refs, model.config.context_length, &model.device())?;
    Ok(ClipImageClassifier::from_prompts(model, &batch)?)
}

/// Zero-shot accuracy of a CLIP on evaluation samples `0..n` ([`EVAL_SEED`]) through
/// [`ClipImageClassifier`] against [`zero_shot_prompts`].
pub fn evaluate_zero_shot(model: &Clip, n: usize) -> Result<f64> {
    let tok = ClipTokenizer::new()?;
    let clf = zero_shot_classifier(model.clone(), &tok)?;
    let device = model.device();
    let mut correct = 0usize;
    for start in (0..n).step_by(100) {
        let m = 100.min(n - start);
        let batch = shapes_clip_batch(&model.config, EVAL_SEED, start as u64, m, 0.0, &device)?;
        let logits = clf
            .trace(
                &ModelInput::Image(batch.images),
                &vec![1.0; m],
                &TraceOptions::default(),
            )?
            .logits
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let c = clf.num_classes();
        for (i, &(y, _)) in batch.facts.iter().enumerate() {
            correct += usize::from(faithbench_eval::argmax(&logits[i * c..(i + 1) * c]) == y);
        }
    }
    Ok(correct as f64 / n.max(1) as f64)
}

/// Trains the shapes CLIP from scratch and saves it to `out` in OpenAI's layout
/// (`model.safetensors`, `faithbench.json`) with `train_report.json`. The zero-shot accuracy
/// is measured on the saved model loaded back; below `cfg.min_accuracy` the recipe fails
/// (after writing the files, so that the report can be read).
pub fn train_shapes_clip(
    cfg: &ShapesClipTrainConfig,
    out: &Path,
    mut progress: impl FnMut(&LogLine),
) -> Result<ClipTrainReport> {
    cfg.model.validate().map_err(|reason| {
        TrainError::Model(faithbench_models::ModelError::Input(format!(
            "CLIP config: {reason}"
        )))
    })?;
    let tok = ClipTokenizer::new()?;
    if cfg.model.vocab_size < tok.vocab_size() {
        return Err(TrainError::Model(faithbench_models::ModelError::Input(
            format!(
                "vocab_size {} is below the tokenizer's {} ids",
                cfg.model.vocab_size,
                tok.vocab_size()
            ),
        )));
    }
    let device = faithbench_models::autodiff_device();
    device.seed(cfg.seed);
    let model = cfg.model.init(&device);
    let t0 = Instant::now();
    let schedule = Schedule {
        steps: cfg.steps,
        warmup: cfg.warmup,
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
    };
    let max_scale = 100f32.ln();
    let (model, log) = fit_loss(
        model,
        &schedule,
        cfg.log_every,
        |model: &Clip, step| {
            let b = shapes_clip_batch(
                &cfg.model,
                TRAIN_SEED,
                (step * cfg.batch_size) as u64,
                cfg.batch_size,
                cfg.colour_fraction,
                &device,
            )?;
            clip_loss(model, &tok, b.images, &b.facts, &b.captions)
        },
        |mut model: Clip| {
            model.logit_scale = model
                .logit_scale
                .map(|t| t.clamp(0.0, max_scale).detach().require_grad());
            model
        },
        &mut progress,
    )?;
    let model = model.no_grad();
    save_clip_openai(&model, out)?;
    let saved = ModelSource::from_dir(out, None)?.load_clip(&faithbench_models::default_device())?;
    let test_accuracy = evaluate_zero_shot(&saved, cfg.eval_samples)?;
    let report = ClipTrainReport {
        config: cfg.clone(),
        templates: CAPTION_TEMPLATES.iter().map(|s| s.to_string()).collect(),
        colour_names: COLOUR_NAMES.iter().map(|s| s.to_string()).collect(),
        prompts: zero_shot_prompts(),
        log,
        test_accuracy,
        test_samples: cfg.eval_samples,
        logit_scale: saved.logit_scale_exp(),
        seconds: t0.elapsed().as_secs_f64(),
    };
    let rp = out.join("train_report.json");
    let io = |reason: String| TrainError::Io {
        path: rp.clone(),
        reason,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| io(e.to_string()))?;
    std::fs::write(&rp, text + "\n").map_err(|e| io(e.to_string()))?;
    if test_accuracy < cfg.min_accuracy {
        return Err(TrainError::TooInaccurate {
            accuracy: test_accuracy,
            required: cfg.min_accuracy,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hue_names_by_hand() {
        assert_eq!(COLOUR_NAMES[colour_name_of([1.0, 0.0, 0.0])], "red");
        assert_eq!(COLOUR_NAMES[colour_name_of([1.0, 0.5, 0.0])], "orange");
        assert_eq!(COLOUR_NAMES[colour_name_of([1.0, 1.0, 0.0])], "yellow");
        assert_eq!(COLOUR_NAMES[colour_name_of([0.0, 1.0, 0.0])], "green");
        assert_eq!(COLOUR_NAMES[colour_name_of([0.0, 1.0, 1.0])], "cyan");
        assert_eq!(COLOUR_NAMES[colour_name_of([0.0, 0.0, 1.0])], "blue");
        assert_eq!(COLOUR_NAMES[colour_name_of([0.6, 0.0, 1.0])], "purple");
        assert_eq!(COLOUR_NAMES[colour_name_of([1.0, 0.0, 0.6])], "pink");
        assert_eq!(COLOUR_NAMES[colour_name_of([1.0, 0.0, 0.1])], "red");
    }

    #[test]
    fn object_colours_follow_the_generators_uniform_hue() {
        // The generator draws the object hue uniformly, so each name's share is its hue range.
        let n = 2000;
        let mut counts = [0usize; 8];
        for i in 0..n {
            counts[object_colour(&generate(TRAIN_SEED, i, IMAGE_SIZE))] += 1;
        }
        let mut lo = 0.0;
        for (k, &hi) in HUE_BOUNDS.iter().enumerate() {
            let want = (hi - lo) / 360.0 + if k == 0 { 15.0 / 360.0 } else { 0.0 };
            let got = counts[k] as f64 / n as f64;
            assert!(
                (got - want).abs() < 0.03,
                "{}: {got:.3} of the samples, hue range {want:.3}",
                COLOUR_NAMES[k]
            );
            lo = hi;
        }
    }

    #[test]
    fn captions_are_deterministic_and_true() {
        let s = generate(TRAIN_SEED, 3, IMAGE_SIZE);
        let a = shapes_caption(TRAIN_SEED, 3, &s, 0.5);
        assert_eq!(a, shapes_caption(TRAIN_SEED, 3, &s, 0.5));
        assert_eq!(a.class, 3);
        assert!(a.text.contains("plus"), "{}", a.text);
        let plain = shapes_caption(TRAIN_SEED, 3, &s, 0.0);
        assert_eq!(plain.colour, None);
        let coloured = shapes_caption(TRAIN_SEED, 3, &s, 1.0);
        let c = coloured.colour.expect("colour");
        assert!(coloured.text.contains(&format!("{} plus", COLOUR_NAMES[c])));
        assert!(coloured.describes(3, c) && !coloured.describes(3, (c + 1) % 8));
        assert!(plain.describes(3, 0) && !plain.describes(2, 0));
        assert_eq!(article("orange disc"), "an");
        assert_eq!(article("disc"), "a");
        assert_eq!(zero_shot_prompts()[0], "a photo of a disc");
        assert_eq!(
            CAPTION_TEMPLATES[0].replace("{}", "a ring"),
            ZERO_SHOT_TEMPLATE.replace("{}", "ring")
        );
    }
}
