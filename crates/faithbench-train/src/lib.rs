//! faithbench-train: the reproducible recipes behind the models shipped with faithbench's
//! ground-truth benchmark (`faithbench-shapes`, see `faithbench_data::synthetic`).
//!
//! * [`write_shapes_dataset`] writes the evaluation split in the real formats' folder layout
//!   (ImageNet `val/<class>/<file>.png`) plus mask PNGs (converted to the `gtsegs_ijcv.mat`
//!   layout by `scripts/make_shapes_mat.py`).
//! * [`train_shapes_vit`] trains a small ViT with AdamW on freshly generated samples (a seed
//!   disjoint from the evaluation split), evaluates on the evaluation split, and saves a
//!   timm-layout checkpoint loaded by the same code as users' checkpoints.
//! * [`train_planted_bert`] trains a small BERT on faithbench-planted (see
//!   `faithbench_data::planted`) from the generated training stream, evaluates it on the shipped
//!   test split, and saves it in the Hugging Face `BertForSequenceClassification` layout.
//! * [`train_shapes_clip`] ([`clip`]) trains a tiny CLIP from scratch on faithbench-shapes with
//!   generated captions (symmetric InfoNCE), checks its zero-shot accuracy through
//!   `ClipImageClassifier`, and saves it as an OpenAI-layout state dict.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use faithbench_data::planted::{self, PlantedSplit};
use faithbench_data::synthetic::{generate, CLASSES};
use faithbench_models::bert::{Bert, BertConfig};
use faithbench_models::preprocess::{raw_batch, Normalization};
use faithbench_models::save::{save_bert_hf, save_vit_timm};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::vit::{Pool, VisionTransformer, VitConfig};
use faithbench_models::{TextBatch, TraceOptions};
use serde::{Deserialize, Serialize};

pub mod clip;

pub use clip::{
    evaluate_zero_shot, shapes_clip_config, train_shapes_clip, ClipTrainReport,
    ShapesClipTrainConfig,
};

/// Errors of the training recipes.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Writing a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// File.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
    /// The model layer failed.
    #[error(transparent)]
    Model(#[from] faithbench_models::ModelError),
    /// Training ended below the required accuracy.
    #[error("test accuracy {accuracy:.4} is below the required {required:.2}")]
    TooInaccurate {
        /// Achieved.
        accuracy: f64,
        /// Required.
        required: f64,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Seed of the shipped evaluation split (`datasets/shapes`).
pub const EVAL_SEED: u64 = 0;
/// Seed of the training stream (disjoint from the evaluation split).
pub const TRAIN_SEED: u64 = 1;
/// Image side of faithbench-shapes.
pub const IMAGE_SIZE: u32 = 64;

/// Folder name of class `i` (sorted order = label order, as torchvision's ImageFolder needs).
pub fn class_dir(i: usize) -> String {
    format!("{i}_{}", CLASSES[i])
}

/// File id of evaluation sample `i`.
pub fn sample_file(i: usize) -> String {
    format!("shapes_{i:05}.png")
}

/// Writes evaluation samples `0..n` as `out/val/<class>/<file>.png` and `out/masks/<file>.png`
/// (mask 0/255), plus `out/classes.txt`.
pub fn write_shapes_dataset(out: &Path, n: usize) -> Result<()> {
    let io = |path: &Path, reason: String| TrainError::Io {
        path: path.to_path_buf(),
        reason,
    };
    for c in 0..CLASSES.len() {
        let d = out.join("val").join(class_dir(c));
        std::fs::create_dir_all(&d).map_err(|e| io(&d, e.to_string()))?;
    }
    let md = out.join("masks");
    std::fs::create_dir_all(&md).map_err(|e| io(&md, e.to_string()))?;
    for i in 0..n {
        let s = generate(EVAL_SEED, i as u64, IMAGE_SIZE);
        let p = out
            .join("val")
            .join(class_dir(s.label))
            .join(sample_file(i));
        s.image.save(&p).map_err(|e| io(&p, e.to_string()))?;
        let mask = image::GrayImage::from_raw(
            IMAGE_SIZE,
            IMAGE_SIZE,
            s.mask.iter().map(|&m| m * 255).collect(),
        )
        .ok_or_else(|| io(&md, "mask buffer size".into()))?;
        let mp = md.join(sample_file(i));
        mask.save(&mp).map_err(|e| io(&mp, e.to_string()))?;
    }
    let cp = out.join("classes.txt");
    let text: String = (0..CLASSES.len()).map(|c| class_dir(c) + "\n").collect();
    std::fs::write(&cp, text).map_err(|e| io(&cp, e.to_string()))
}

/// Hyper-parameters of [`train_shapes_vit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShapesTrainConfig {
    /// Pooling of the trained ViT.
    pub pool: Pool,
    /// Optimiser steps.
    pub steps: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak learning rate (linear warm-up, cosine decay).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Evaluation samples (indices `0..n` of the evaluation split).
    pub eval_samples: usize,
    /// Required test accuracy; below it the recipe fails.
    pub min_accuracy: f64,
    /// Initialisation seed.
    pub seed: u64,
}

impl ShapesTrainConfig {
    /// The shipped recipe.
    pub fn shipped(pool: Pool) -> Self {
        Self {
            pool,
            steps: 2000,
            batch_size: 64,
            lr: 1e-3,
            warmup: 100,
            weight_decay: 0.05,
            eval_samples: 500,
            min_accuracy: 0.95,
            seed: 0,
        }
    }
}

/// The model shape of faithbench-shapes: 64×64, patch 8 (an 8×8 grid), width 64, 4 blocks, 4 heads.
pub fn shapes_vit_config(pool: Pool) -> VitConfig {
    VitConfig {
        image_size: IMAGE_SIZE as usize,
        patch_size: 8,
        hidden: 64,
        depth: 4,
        heads: 4,
        mlp_hidden: 128,
        num_classes: CLASSES.len(),
        qkv_bias: true,
        ln_eps: 1e-6,
        pool,
        norm_mean: [0.5; 3],
        norm_std: [0.5; 3],
        fc_norm_order: Default::default(),
    }
}

/// One training/evaluation log line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLine {
    /// Step.
    pub step: usize,
    /// Mean training loss since the last line.
    pub loss: f64,
    /// Learning rate.
    pub lr: f64,
    /// Seconds since start.
    pub seconds: f64,
}

/// What training produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// The recipe.
    pub config: ShapesTrainConfig,
    /// Loss log.
    pub log: Vec<LogLine>,
    /// Accuracy on the evaluation split.
    pub test_accuracy: f64,
    /// Evaluation samples.
    pub test_samples: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

fn batch(
    seed: u64,
    start: u64,
    n: usize,
    norm: Normalization,
    device: &Device,
) -> Result<(Tensor<4>, Vec<usize>)> {
    let samples: Vec<_> = (0..n as u64)
        .map(|i| generate(seed, start + i, IMAGE_SIZE))
        .collect();
    let images: Vec<image::RgbImage> = samples.iter().map(|s| s.image.clone()).collect();
    let raw = raw_batch(&images, device)?;
    Ok((norm.apply(raw), samples.iter().map(|s| s.label).collect()))
}

/// Accuracy of a model on evaluation samples `0..n`.
pub fn evaluate(model: &VisionTransformer, n: usize, device: &Device) -> Result<f64> {
    let mut correct = 0usize;
    let norm = model.config.normalization();
    for start in (0..n).step_by(100) {
        let m = 100.min(n - start);
        let (x, labels) = batch(EVAL_SEED, start as u64, m, norm, device)?;
        let logits = model.forward(x).inner().into_data().convert::<f32>();
        let v = logits.try_into_vec::<f32>().unwrap_or_default();
        let c = model.config.num_classes;
        for (i, &y) in labels.iter().enumerate() {
            let row = &v[i * c..(i + 1) * c];
            let pred = faithbench_eval::argmax(row);
            correct += usize::from(pred == y);
        }
    }
    Ok(correct as f64 / n as f64)
}

/// The optimisation schedule shared by the recipes: AdamW, linear warm-up to `lr`, cosine decay.
struct Schedule {
    steps: usize,
    warmup: usize,
    lr: f64,
    weight_decay: f32,
}

impl Schedule {
    fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup {
            self.lr * (step + 1) as f64 / self.warmup as f64
        } else {
            let t = (step - self.warmup) as f64 / (self.steps - self.warmup).max(1) as f64;
            self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        }
    }
}

/// Trains `model` for `schedule.steps` AdamW steps on cross-entropy; `batch(model, step)` returns
/// the logits of step `step`'s batch and its labels. Logs the mean loss every 50 steps.
fn fit<M: Module>(
    model: M,
    schedule: &Schedule,
    device: &Device,
    mut batch: impl FnMut(&M, usize) -> Result<(Tensor<2>, Vec<usize>)>,
    progress: &mut dyn FnMut(&LogLine),
) -> Result<(M, Vec<LogLine>)> {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    fit_loss(
        model,
        schedule,
        50,
        |model, step| {
            let (logits, labels) = batch(model, step)?;
            let targets = Tensor::<1, Int>::from_data(
                TensorData::new(
                    labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
                    [labels.len()],
                ),
                device,
            );
            Ok(loss_fn.forward(logits, targets))
        },
        |model| model,
        progress,
    )
}

/// Trains `model` for `schedule.steps` AdamW steps on the scalar `loss(model, step)`;
/// `after_step` sees the model after every optimiser step (e.g. to clamp a parameter). Logs the
/// mean loss every `log_every` steps and at the last step.
fn fit_loss<M: Module>(
    mut model: M,
    schedule: &Schedule,
    log_every: usize,
    mut loss: impl FnMut(&M, usize) -> Result<Tensor<1>>,
    mut after_step: impl FnMut(M) -> M,
    progress: &mut dyn FnMut(&LogLine),
) -> Result<(M, Vec<LogLine>)> {
    let mut optim = AdamWConfig::new()
        .with_weight_decay(schedule.weight_decay)
        .init();
    let t0 = Instant::now();
    let mut log = Vec::new();
    let (mut acc_loss, mut acc_n) = (0.0, 0usize);
    let log_every = log_every.max(1);
    for step in 0..schedule.steps {
        let lr = schedule.lr_at(step);
        let loss = loss(&model, step)?;
        acc_loss += loss.clone().inner().into_scalar::<f32>() as f64;
        acc_n += 1;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = after_step(optim.step(lr, model, grads));
        if (step + 1) % log_every == 0 || step + 1 == schedule.steps {
            let line = LogLine {
                step: step + 1,
                loss: acc_loss / acc_n as f64,
                lr,
                seconds: t0.elapsed().as_secs_f64(),
            };
            progress(&line);
            log.push(line);
            acc_loss = 0.0;
            acc_n = 0;
        }
    }
    Ok((model, log))
}

/// Trains a shapes ViT, saves it to `out` (model.safetensors, faithbench.json, train_report.json).
pub fn train_shapes_vit(
    cfg: &ShapesTrainConfig,
    out: &Path,
    mut progress: impl FnMut(&LogLine),
) -> Result<TrainReport> {
    let device = faithbench_models::autodiff_device();
    device.seed(cfg.seed);
    let vit = shapes_vit_config(cfg.pool);
    let model = vit.init(&device);
    let t0 = Instant::now();
    let schedule = Schedule {
        steps: cfg.steps,
        warmup: cfg.warmup,
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
    };
    let (model, log) = fit(
        model,
        &schedule,
        &device,
        |model, step| {
            let (x, labels) = batch(
                TRAIN_SEED,
                (step * cfg.batch_size) as u64,
                cfg.batch_size,
                vit.normalization(),
                &device,
            )?;
            Ok((model.forward(x), labels))
        },
        &mut progress,
    )?;
    let model = model.no_grad();
    let test_accuracy = evaluate(&model, cfg.eval_samples, &device)?;
    let report = TrainReport {
        config: cfg.clone(),
        log,
        test_accuracy,
        test_samples: cfg.eval_samples,
        seconds: t0.elapsed().as_secs_f64(),
    };
    save_vit_timm(&model, out)?;
    let rp = out.join("train_report.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| TrainError::Io {
        path: rp.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&rp, text + "\n").map_err(|e| TrainError::Io {
        path: rp.clone(),
        reason: e.to_string(),
    })?;
    if test_accuracy < cfg.min_accuracy {
        return Err(TrainError::TooInaccurate {
            accuracy: test_accuracy,
            required: cfg.min_accuracy,
        });
    }
    Ok(report)
}

// ------------------------------------------------------------------------------------------------
// faithbench-planted: a small BERT on the planted-rationale text dataset

/// Hyper-parameters of [`train_planted_bert`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlantedTrainConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Documents per step.
    pub batch_size: usize,
    /// Peak learning rate (linear warm-up, cosine decay).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Test documents (indices `0..n` of the test split, the shipped `datasets/planted`).
    pub test_samples: usize,
    /// Validation documents (indices `0..n` of the val split).
    pub val_samples: usize,
    /// Required test accuracy; below it the recipe fails.
    pub min_accuracy: f64,
    /// Initialisation seed.
    pub seed: u64,
    /// Dataset seed ([`faithbench_data::planted::PLANTED_SEED`]).
    pub data_seed: u64,
}

impl PlantedTrainConfig {
    /// The shipped recipe.
    pub fn shipped() -> Self {
        Self {
            steps: 600,
            batch_size: 32,
            lr: 1e-3,
            warmup: 60,
            weight_decay: 0.01,
            test_samples: 200,
            val_samples: 100,
            min_accuracy: 0.95,
            seed: 0,
            data_seed: faithbench_data::planted::PLANTED_SEED,
        }
    }
}

/// The shipped model shape: hidden 64, 2 post-LN layers, 4 heads, FFN 128, 128 positions, the
/// planted vocabulary, 2 classes (`NEG` = 0, `POS` = 1).
pub fn planted_bert_config() -> BertConfig {
    BertConfig {
        vocab_size: faithbench_data::planted::vocabulary().len(),
        hidden: 64,
        depth: 2,
        heads: 4,
        intermediate: 128,
        max_position: 128,
        type_vocab: 2,
        num_classes: 2,
        ln_eps: 1e-12,
    }
}

/// What [`train_planted_bert`] produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlantedTrainReport {
    /// The recipe.
    pub config: PlantedTrainConfig,
    /// The model shape.
    pub model: BertConfig,
    /// Loss log.
    pub log: Vec<LogLine>,
    /// Accuracy on the test split.
    pub test_accuracy: f64,
    /// Test documents.
    pub test_samples: usize,
    /// Accuracy on the val split.
    pub val_accuracy: f64,
    /// Val documents.
    pub val_samples: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

fn planted_batch(
    tok: &TextTokenizer,
    cfg_seed: u64,
    split: PlantedSplit,
    start: usize,
    n: usize,
    max_len: usize,
    device: &Device,
) -> Result<(TextBatch, Vec<usize>)> {
    let docs: Vec<_> = (start..start + n)
        .map(|i| planted::generate(cfg_seed, split, i))
        .collect();
    let texts: Vec<String> = docs.iter().map(|d| d.text()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (batch, _) = tok.batch(&refs, max_len, device)?;
    Ok((batch, docs.iter().map(|d| d.label).collect()))
}

/// Logits with the autodiff graph kept (the explainers' `trace` returns plain tensors).
fn bert_logits(model: &Bert, batch: &TextBatch) -> Result<Tensor<2>> {
    let b = batch.input_ids.dims()[0];
    let probes = vec![None; model.layers.len()];
    let (h, _) = model.encode(batch, &vec![1.0; b], &TraceOptions::default(), &probes)?;
    let (Some(pooler), Some(classifier)) = (&model.pooler, &model.classifier) else {
        return Err(TrainError::Model(faithbench_models::ModelError::Input(
            "no classifier".into(),
        )));
    };
    let d = model.config.hidden;
    let pooled = pooler.forward(h.narrow(1, 0, 1).reshape([b, d])).tanh();
    Ok(classifier.forward(pooled))
}

/// Accuracy of a BERT on documents `0..n` of `split`.
pub fn evaluate_planted(
    model: &Bert,
    tok: &TextTokenizer,
    data_seed: u64,
    split: PlantedSplit,
    n: usize,
    device: &Device,
) -> Result<f64> {
    let mut correct = 0usize;
    for start in (0..n).step_by(100) {
        let m = 100.min(n - start);
        let (batch, labels) = planted_batch(
            tok,
            data_seed,
            split,
            start,
            m,
            model.config.max_position,
            device,
        )?;
        let v = bert_logits(model, &batch)?
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let c = model.config.num_classes;
        for (i, &y) in labels.iter().enumerate() {
            let row = &v[i * c..(i + 1) * c];
            let pred = faithbench_eval::argmax(row);
            correct += usize::from(pred == y);
        }
    }
    Ok(correct as f64 / n.max(1) as f64)
}

/// Trains the planted-rationale BERT from scratch on the generated training stream (documents
/// `step·batch …` of the train split, never the shipped test/val documents) and saves it to `out`
/// in the Hugging Face layout: `model.safetensors`, `config.json`, `vocab.txt`,
/// `faithbench.json`, `train_report.json`.
pub fn train_planted_bert(
    cfg: &PlantedTrainConfig,
    out: &Path,
    mut progress: impl FnMut(&LogLine),
) -> Result<PlantedTrainReport> {
    let io = |path: &Path, reason: String| TrainError::Io {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(out).map_err(|e| io(out, e.to_string()))?;
    let vocab_path = out.join("vocab.txt");
    let vocab: String = planted::vocabulary()
        .into_iter()
        .map(|w| w + "\n")
        .collect();
    std::fs::write(&vocab_path, vocab).map_err(|e| io(&vocab_path, e.to_string()))?;
    let tok = TextTokenizer::from_file(&vocab_path)?;
    let device = faithbench_models::autodiff_device();
    device.seed(cfg.seed);
    let bert = planted_bert_config();
    let model = bert.init(&device);
    let t0 = Instant::now();
    let schedule = Schedule {
        steps: cfg.steps,
        warmup: cfg.warmup,
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
    };
    let (model, log) = fit(
        model,
        &schedule,
        &device,
        |model, step| {
            let (batch, labels) = planted_batch(
                &tok,
                cfg.data_seed,
                PlantedSplit::Train,
                step * cfg.batch_size,
                cfg.batch_size,
                bert.max_position,
                &device,
            )?;
            Ok((bert_logits(model, &batch)?, labels))
        },
        &mut progress,
    )?;
    let model = model.no_grad();
    let test_accuracy = evaluate_planted(
        &model,
        &tok,
        cfg.data_seed,
        PlantedSplit::Test,
        cfg.test_samples,
        &device,
    )?;
    let val_accuracy = evaluate_planted(
        &model,
        &tok,
        cfg.data_seed,
        PlantedSplit::Val,
        cfg.val_samples,
        &device,
    )?;
    let report = PlantedTrainReport {
        config: cfg.clone(),
        model: bert,
        log,
        test_accuracy,
        test_samples: cfg.test_samples,
        val_accuracy,
        val_samples: cfg.val_samples,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let labels: Vec<String> = planted::CLASSES.iter().map(|s| s.to_string()).collect();
    save_bert_hf(&model, out, &labels)?;
    let rp = out.join("train_report.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| io(&rp, e.to_string()))?;
    std::fs::write(&rp, text + "\n").map_err(|e| io(&rp, e.to_string()))?;
    if test_accuracy < cfg.min_accuracy {
        return Err(TrainError::TooInaccurate {
            accuracy: test_accuracy,
            required: cfg.min_accuracy,
        });
    }
    Ok(report)
}
