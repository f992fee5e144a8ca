//! Image perturbation test (protocols §4.1 stage 2), independent of any model.
//!
//! For every sample the evaluator takes the raw `[0, 1]` image (`3 × H × W`, channel-major,
//! row-major inside a channel), its full-resolution saliency map (`H × W`, normally min–max
//! normalised) and its ground-truth label. For each removal level `p` it copies the clean image,
//! sets the `k = int(H·W·p)` top-ranked pixels ([`top_k_indices`], tie-break: lower flat index
//! first) to the removal value in **all three channels**, and asks the classifier for logits. The
//! classifier normalises internally, because removal happens in raw pixel space (the ViT reference
//! zeroes raw pixels → black, *then* normalises).
//!
//! Hits are always scored against the **ground-truth label** (pitfall P12), whichever class was
//! explained; the explained class is only recorded. Aggregation ([`accuracy_curve`],
//! [`summarise`]) is a pure function of the records, so a resumed run and a single run give the
//! same summary.
//!
//! Argmax ties (equal logits) resolve to the lowest class index, like `torch.max` on CPU.

use serde::{Deserialize, Serialize};

use crate::auc::{auc, AucError, AucRule};
use crate::maps::{
    count_for_fraction, tie_share, top_k_indices_with, validate_map, MapError, Order, TieBreak,
};
use crate::stats::{
    bootstrap_curve_statistic, paired_curve_statistic_difference, BootstrapConfig,
    ConfidenceInterval, StatsError,
};

/// A classifier that maps raw `[0, 1]` images to logits. Implementations apply their own input
/// normalisation (e.g. `(x − 0.5)/0.5` for the ViT reference).
pub trait ImageClassifier {
    /// The classifier's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Number of classes `C` (length of each logit row).
    fn num_classes(&self) -> usize;

    /// Logits for a batch of images.
    ///
    /// `images` holds `batch × 3 × h × w` raw pixel values in `[0, 1]`, row-major
    /// (`[b][c][y][x]`). Returns `batch × C` logits, row-major.
    fn logits(
        &mut self,
        images: &[f32],
        batch: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, Self::Error>;
}

/// Errors of the perturbation evaluator.
#[derive(Debug, thiserror::Error)]
pub enum PerturbationError {
    /// The configuration is unusable.
    #[error("invalid perturbation config: {0}")]
    Config(String),
    /// A sample's image has the wrong number of values.
    #[error("sample {sample_id}: image has {got} values, expected 3x{h}x{w} = {expected}")]
    ImageShape {
        /// Sample id.
        sample_id: String,
        /// Image height.
        h: usize,
        /// Image width.
        w: usize,
        /// `3·h·w`.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A sample's map is malformed (shape, NaN/inf); the inner error names the sample.
    #[error(transparent)]
    Map(#[from] MapError),
    /// The label is not a valid class index for the classifier.
    #[error(
        "sample {sample_id}: label {label} is out of range for a {num_classes}-class classifier"
    )]
    LabelOutOfRange {
        /// Sample id.
        sample_id: String,
        /// The label.
        label: usize,
        /// Classifier's class count.
        num_classes: usize,
    },
    /// The classifier failed.
    #[error("classifier failed on a batch of {batch} images: {source}")]
    Classifier {
        /// Batch size of the failing call.
        batch: usize,
        /// Underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The classifier returned the wrong number of logits.
    #[error(
        "classifier returned {got} logits for a batch of {batch} images with {num_classes} classes"
    )]
    LogitShape {
        /// Batch size.
        batch: usize,
        /// Classes.
        num_classes: usize,
        /// Number of values returned.
        got: usize,
    },
    /// The classifier returned NaN/inf logits.
    #[error("sample {sample_id}: classifier returned a non-finite logit ({value}) for class {class} ({stage})")]
    NonFiniteLogit {
        /// Sample id.
        sample_id: String,
        /// Class index.
        class: usize,
        /// The value.
        value: f32,
        /// "clean" or "level p".
        stage: String,
    },
    /// Records cannot be aggregated together.
    #[error("cannot aggregate records: {0}")]
    Aggregate(String),
    /// AUC computation failed.
    #[error(transparent)]
    Auc(#[from] AucError),
    /// Bootstrap failed.
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// Which pixels are removed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerturbationMode {
    /// Positive perturbation: remove the **most** relevant pixels first (`topk(vis)`); a faithful
    /// map makes accuracy drop fast (lower AUC is better).
    Positive,
    /// Negative perturbation (`--neg`): remove the **least** relevant pixels first
    /// (`topk(−vis)`); a faithful map keeps accuracy high (higher AUC is better).
    Negative,
}

impl PerturbationMode {
    /// The map order used for selection.
    pub fn order(self) -> Order {
        match self {
            PerturbationMode::Positive => Order::Largest,
            PerturbationMode::Negative => Order::Smallest,
        }
    }
}

/// The raw-space value written into removed pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalValue {
    /// Raw pixel value 0 in all three channels (black), the ViT reference
    /// (`_data.scatter_(-1, idx, 0)` on the un-normalised image).
    RawBlack,
    /// The same raw value in all three channels.
    Value(f32),
    /// One raw value per channel. CLIP's reference zeroes the *normalised* tensor, which equals
    /// writing the per-channel normalisation mean (0.48145466, 0.4578275, 0.40821073) in raw space.
    PerChannel([f32; 3]),
}

impl RemovalValue {
    fn channel(self, c: usize) -> f32 {
        match self {
            RemovalValue::RawBlack => 0.0,
            RemovalValue::Value(v) => v,
            RemovalValue::PerChannel(v) => v[c],
        }
    }
}

/// Which class a hit is scored against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoredClass {
    /// Hit = `argmax(logits) == ground-truth label`, the only rule the reference uses (pitfall P12).
    GroundTruth,
}

/// Which class the explanations were computed for (recorded, not used for scoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplainedClass {
    /// The model's prediction on the clean image (`--vis-class top`, the reference default).
    Predicted,
    /// The ground-truth label (`--vis-class target`).
    Target,
}

/// Settings of one perturbation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerturbationConfig {
    /// Positive or negative perturbation.
    pub mode: PerturbationMode,
    /// Removal fractions, each in `[0, 1]`, in the order they are reported.
    /// Default `[0.1, 0.2, …, 0.9]` (the reference's literal list).
    pub levels: Vec<f64>,
    /// Value written into removed pixels. Default [`RemovalValue::RawBlack`].
    pub removal: RemovalValue,
    /// Class hits are scored against. Default (and only) [`ScoredClass::GroundTruth`].
    pub scored_class: ScoredClass,
    /// Class the maps explain (metadata). Default [`ExplainedClass::Predicted`].
    pub explained_class: ExplainedClass,
    /// Order of equal map values at a level's cut. Default [`TieBreak::LowestIndex`].
    #[serde(default, skip_serializing_if = "TieBreak::is_default")]
    pub ties: TieBreak,
}

/// The reference's removal levels `[0.1, 0.2, …, 0.9]`.
pub const VIT_LEVELS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

impl Default for PerturbationConfig {
    fn default() -> Self {
        PerturbationConfig::vit_reference(PerturbationMode::Positive, ExplainedClass::Predicted)
    }
}

impl PerturbationConfig {
    /// The ViT reference protocol (protocols §4.1): levels 0.1…0.9, raw black removal, hits against the
    /// ground truth.
    pub fn vit_reference(mode: PerturbationMode, explained_class: ExplainedClass) -> Self {
        PerturbationConfig {
            mode,
            levels: VIT_LEVELS.to_vec(),
            removal: RemovalValue::RawBlack,
            scored_class: ScoredClass::GroundTruth,
            explained_class,
            ties: TieBreak::LowestIndex,
        }
    }

    /// Checks the levels (non-empty, each in `[0, 1]`) and the removal value (finite).
    pub fn validate(&self) -> Result<(), PerturbationError> {
        if self.levels.is_empty() {
            return Err(PerturbationError::Config("no removal levels".into()));
        }
        for &p in &self.levels {
            if !(0.0..=1.0).contains(&p) {
                return Err(PerturbationError::Config(format!(
                    "removal level {p} is outside [0, 1]"
                )));
            }
        }
        let finite = (0..3).all(|c| self.removal.channel(c).is_finite());
        if !finite {
            return Err(PerturbationError::Config(format!(
                "removal value {:?} is not finite",
                self.removal
            )));
        }
        Ok(())
    }
}

/// One sample to perturb.
#[derive(Debug, Clone, Copy)]
pub struct PerturbationSample<'a> {
    /// Stable id (e.g. the image's relative path).
    pub sample_id: &'a str,
    /// Ground-truth class index.
    pub label: usize,
    /// The class the map explains, if known (recorded only).
    pub explained_class: Option<usize>,
    /// Raw `[0, 1]` image, `3 × h × w`, channel-major.
    pub image: &'a [f32],
    /// Saliency map at full resolution, `h × w` (normally min–max normalised; must be finite).
    pub map: &'a [f32],
}

/// Per-sample result of a perturbation run. All per-level vectors are indexed like `levels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerturbationRecord {
    /// Sample id.
    pub sample_id: String,
    /// Ground-truth label.
    pub label: usize,
    /// Class the map explains, if recorded.
    pub explained_class: Option<usize>,
    /// How the explained class was chosen.
    pub explained: ExplainedClass,
    /// Positive or negative perturbation.
    pub mode: PerturbationMode,
    /// Argmax on the clean image.
    pub clean_pred: usize,
    /// `clean_pred == label`.
    pub clean_hit: bool,
    /// Logit of the label on the clean image.
    pub clean_label_logit: f64,
    /// Softmax probability of the label on the clean image.
    pub clean_label_prob: f64,
    /// Removal fractions.
    pub levels: Vec<f64>,
    /// Number of removed pixels per level, `int(h·w·p)`.
    pub ks: Vec<usize>,
    /// Argmax per level.
    pub preds: Vec<usize>,
    /// `preds[i] == label`.
    pub hits: Vec<bool>,
    /// Logit of the label per level.
    pub label_logits: Vec<f64>,
    /// Softmax probability of the label per level.
    pub label_probs: Vec<f64>,
    /// `clean_label_logit − label_logits[i]` (positive = the label's logit fell).
    pub logit_drops: Vec<f64>,
    /// `clean_label_prob − label_probs[i]` (positive = the label's probability fell).
    pub prob_drops: Vec<f64>,
    /// Reference `perturbations_logit_diff.npy` convention: max logit after perturbation minus max
    /// logit of the clean image (the arg-max classes may differ).
    pub top_logit_diffs: Vec<f64>,
    /// Reference `perturbations_prob_diff.npy` convention: max probability after minus before.
    pub top_prob_diffs: Vec<f64>,
    /// Reference "dissimilarity" `ln(p_label / p_second)` per level, `p_second` = second-largest
    /// probability of the row; computed as the equal logit difference `l_label − l_second`, which
    /// stays finite where the reference's float32 probabilities underflow.
    pub dissimilarities: Vec<f64>,
    /// The same dissimilarity on the clean image.
    pub clean_dissimilarity: f64,
    /// Per level, the share of the map's pixels in the tied group the level's cut falls into
    /// ([`crate::maps::tie_share`]): how much of the removed set the tie order decided. Empty
    /// in records written before faithbench recorded it.
    #[serde(default)]
    pub tie_shares: Vec<f64>,
}

/// Scores derived from one logit row.
#[derive(Debug, Clone, Copy)]
struct RowScores {
    pred: usize,
    label_logit: f64,
    label_prob: f64,
    top_logit: f64,
    top_prob: f64,
    dissimilarity: f64,
}

fn row_scores(row: &[f32], label: usize) -> RowScores {
    let pred = crate::summary::argmax(row);
    let top_logit = row[pred] as f64;
    let sum: f64 = row.iter().map(|&v| (v as f64 - top_logit).exp()).sum();
    let prob = |c: usize| (row[c] as f64 - top_logit).exp() / sum;
    // second-largest value (topk(2)[1]): the max over all classes except the arg-max position
    let second_logit = row
        .iter()
        .enumerate()
        .filter(|(c, _)| *c != pred)
        .map(|(_, &v)| v as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let label_prob = prob(label);
    RowScores {
        pred,
        label_logit: row[label] as f64,
        label_prob,
        top_logit,
        top_prob: 1.0 / sum,
        // ln(p_label / p_second) = l_label − l_second exactly, without the underflow of the
        // probability form (the reference's float32 log can give −inf for confident models).
        dissimilarity: row[label] as f64 - second_logit,
    }
}

/// A pending classifier job: which sample and which stage (None = clean image).
struct Job {
    sample: usize,
    level: Option<usize>,
}

/// Runs the perturbation test on `samples`, sending at most `max_batch` images per classifier call
/// (clean and perturbed copies of several samples are packed together in sample order).
///
/// Returns one [`PerturbationRecord`] per sample, in input order.
pub fn run_perturbation<C: ImageClassifier + ?Sized>(
    classifier: &mut C,
    samples: &[PerturbationSample<'_>],
    h: usize,
    w: usize,
    config: &PerturbationConfig,
    max_batch: usize,
) -> Result<Vec<PerturbationRecord>, PerturbationError> {
    config.validate()?;
    if max_batch == 0 {
        return Err(PerturbationError::Config(
            "max_batch must be at least 1".into(),
        ));
    }
    let num_classes = classifier.num_classes();
    if num_classes < 2 {
        return Err(PerturbationError::Config(format!(
            "classifier reports {num_classes} classes; at least 2 are needed (second-largest probability)"
        )));
    }
    let hw = h * w;
    let ks: Vec<usize> = config
        .levels
        .iter()
        .map(|&p| count_for_fraction(hw, p))
        .collect::<Result<_, _>>()?;
    let k_max = ks.iter().copied().max().unwrap_or(0);
    for s in samples {
        if s.image.len() != 3 * hw {
            return Err(PerturbationError::ImageShape {
                sample_id: s.sample_id.to_string(),
                h,
                w,
                expected: 3 * hw,
                got: s.image.len(),
            });
        }
        validate_map(s.sample_id, s.map, h, w)?;
        if s.label >= num_classes {
            return Err(PerturbationError::LabelOutOfRange {
                sample_id: s.sample_id.to_string(),
                label: s.label,
                num_classes,
            });
        }
    }

    let stages = 1 + config.levels.len();
    let mut scores: Vec<Vec<Option<RowScores>>> = vec![vec![None; stages]; samples.len()];
    let mut batch_images: Vec<f32> = Vec::with_capacity(max_batch * 3 * hw);
    let mut batch_jobs: Vec<Job> = Vec::with_capacity(max_batch);

    let mut flush = |images: &mut Vec<f32>,
                     jobs: &mut Vec<Job>,
                     scores: &mut Vec<Vec<Option<RowScores>>>|
     -> Result<(), PerturbationError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let batch = jobs.len();
        let logits =
            classifier
                .logits(images, batch, h, w)
                .map_err(|e| PerturbationError::Classifier {
                    batch,
                    source: Box::new(e),
                })?;
        if logits.len() != batch * num_classes {
            return Err(PerturbationError::LogitShape {
                batch,
                num_classes,
                got: logits.len(),
            });
        }
        for (job, row) in jobs.iter().zip(logits.chunks_exact(num_classes)) {
            let s = &samples[job.sample];
            if let Some((class, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(PerturbationError::NonFiniteLogit {
                    sample_id: s.sample_id.to_string(),
                    class,
                    value,
                    stage: match job.level {
                        None => "clean".into(),
                        Some(l) => format!("level {}", config.levels[l]),
                    },
                });
            }
            let stage = job.level.map_or(0, |l| l + 1);
            scores[job.sample][stage] = Some(row_scores(row, s.label));
        }
        images.clear();
        jobs.clear();
        Ok(())
    };

    let order = config.mode.order();
    let mut shares: Vec<Vec<f64>> = Vec::with_capacity(samples.len());
    for (si, s) in samples.iter().enumerate() {
        // One ranking per sample; each level uses its prefix (the order is total, see maps.rs).
        let ranking = top_k_indices_with(s.map, k_max, order, config.ties, s.sample_id)?;
        shares.push(
            ks.iter()
                .map(|&k| tie_share(s.map, &ranking, k))
                .collect::<Vec<f64>>(),
        );
        for stage in 0..stages {
            let start = batch_images.len();
            batch_images.extend_from_slice(s.image);
            if stage > 0 {
                let img = &mut batch_images[start..];
                for &idx in &ranking[..ks[stage - 1]] {
                    for c in 0..3 {
                        img[c * hw + idx] = config.removal.channel(c);
                    }
                }
            }
            batch_jobs.push(Job {
                sample: si,
                level: if stage == 0 { None } else { Some(stage - 1) },
            });
            if batch_jobs.len() == max_batch {
                flush(&mut batch_images, &mut batch_jobs, &mut scores)?;
            }
        }
    }
    flush(&mut batch_images, &mut batch_jobs, &mut scores)?;

    samples
        .iter()
        .zip(scores)
        .zip(shares)
        .map(|((s, row), tie_shares)| {
            let row: Vec<RowScores> =
                row.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| {
                    PerturbationError::Aggregate(format!(
                        "sample {}: missing classifier output",
                        s.sample_id
                    ))
                })?;
            let clean = row[0];
            let lv = &row[1..];
            Ok(PerturbationRecord {
                sample_id: s.sample_id.to_string(),
                label: s.label,
                explained_class: s.explained_class,
                explained: config.explained_class,
                mode: config.mode,
                clean_pred: clean.pred,
                clean_hit: clean.pred == s.label,
                clean_label_logit: clean.label_logit,
                clean_label_prob: clean.label_prob,
                levels: config.levels.clone(),
                ks: ks.clone(),
                preds: lv.iter().map(|r| r.pred).collect(),
                hits: lv.iter().map(|r| r.pred == s.label).collect(),
                label_logits: lv.iter().map(|r| r.label_logit).collect(),
                label_probs: lv.iter().map(|r| r.label_prob).collect(),
                logit_drops: lv
                    .iter()
                    .map(|r| clean.label_logit - r.label_logit)
                    .collect(),
                prob_drops: lv.iter().map(|r| clean.label_prob - r.label_prob).collect(),
                top_logit_diffs: lv.iter().map(|r| r.top_logit - clean.top_logit).collect(),
                top_prob_diffs: lv.iter().map(|r| r.top_prob - clean.top_prob).collect(),
                dissimilarities: lv.iter().map(|r| r.dissimilarity).collect(),
                clean_dissimilarity: clean.dissimilarity,
                tie_shares,
            })
        })
        .collect()
}

/// Mean accuracy per level over a set of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyCurve {
    /// Number of samples.
    pub n: usize,
    /// Perturbation mode of all records.
    pub mode: PerturbationMode,
    /// Removal fractions.
    pub levels: Vec<f64>,
    /// Clean accuracy (fraction of clean hits).
    pub acc0: f64,
    /// Accuracy (fraction) per level.
    pub acc: Vec<f64>,
}

impl AccuracyCurve {
    /// AUC of this curve under `rule` (see [`AucRule`] for units).
    pub fn auc(&self, rule: AucRule) -> Result<f64, AucError> {
        auc(rule, self.acc0, &self.levels, &self.acc)
    }
}

fn check_compatible(
    records: &[PerturbationRecord],
) -> Result<&PerturbationRecord, PerturbationError> {
    let first = records
        .first()
        .ok_or_else(|| PerturbationError::Aggregate("no records".into()))?;
    for r in records {
        if r.levels != first.levels {
            return Err(PerturbationError::Aggregate(format!(
                "sample {} has levels {:?}, sample {} has {:?}",
                r.sample_id, r.levels, first.sample_id, first.levels
            )));
        }
        if r.mode != first.mode {
            return Err(PerturbationError::Aggregate(format!(
                "sample {} is {:?} but sample {} is {:?}",
                r.sample_id, r.mode, first.sample_id, first.mode
            )));
        }
        if r.hits.len() != r.levels.len() {
            return Err(PerturbationError::Aggregate(format!(
                "sample {} has {} hits for {} levels",
                r.sample_id,
                r.hits.len(),
                r.levels.len()
            )));
        }
    }
    Ok(first)
}

/// Accuracy curve of a set of records (all must share levels and mode): `acc0` = clean accuracy,
/// `acc[i]` = mean hit rate at `levels[i]`.
pub fn accuracy_curve(records: &[PerturbationRecord]) -> Result<AccuracyCurve, PerturbationError> {
    let first = check_compatible(records)?;
    let n = records.len();
    let acc0 = records.iter().filter(|r| r.clean_hit).count() as f64 / n as f64;
    let acc = (0..first.levels.len())
        .map(|i| records.iter().filter(|r| r.hits[i]).count() as f64 / n as f64)
        .collect();
    Ok(AccuracyCurve {
        n,
        mode: first.mode,
        levels: first.levels.clone(),
        acc0,
        acc,
    })
}

/// Curve plus its AUC under one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerturbationSummary {
    /// The accuracy curve.
    pub curve: AccuracyCurve,
    /// The AUC rule applied.
    pub rule: AucRule,
    /// AUC (fraction for `bi2023`, percent otherwise).
    pub auc: f64,
}

/// Accuracy curve and AUC of a set of records.
pub fn summarise(
    records: &[PerturbationRecord],
    rule: AucRule,
) -> Result<PerturbationSummary, PerturbationError> {
    let curve = accuracy_curve(records)?;
    let auc = curve.auc(rule)?;
    Ok(PerturbationSummary { curve, rule, auc })
}

/// Per-sample hit curve `[clean_hit, hit@levels…]` as 0/1 values.
pub fn hit_curve(record: &PerturbationRecord) -> Vec<f64> {
    std::iter::once(record.clean_hit)
        .chain(record.hits.iter().copied())
        .map(|b| if b { 1.0 } else { 0.0 })
        .collect()
}

/// Bootstrap CI (over samples) of the AUC of the resampled mean accuracy curve.
pub fn auc_bootstrap_ci(
    records: &[PerturbationRecord],
    rule: AucRule,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, PerturbationError> {
    let first = check_compatible(records)?;
    let levels = first.levels.clone();
    let curves: Vec<Vec<f64>> = records.iter().map(hit_curve).collect();
    Ok(bootstrap_curve_statistic(
        &curves,
        |c: &[f64]| auc(rule, c[0], &levels, &c[1..]),
        cfg,
    )?)
}

/// Paired bootstrap CI of `AUC(A) − AUC(B)` for two methods evaluated on the same samples (records
/// must list the same sample ids in the same order).
pub fn auc_difference_ci(
    a: &[PerturbationRecord],
    b: &[PerturbationRecord],
    rule: AucRule,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, PerturbationError> {
    let fa = check_compatible(a)?;
    let fb = check_compatible(b)?;
    if a.len() != b.len() {
        return Err(PerturbationError::Aggregate(format!(
            "{} records vs {} records",
            a.len(),
            b.len()
        )));
    }
    if let Some((ra, rb)) = a
        .iter()
        .zip(b)
        .find(|(ra, rb)| ra.sample_id != rb.sample_id)
    {
        return Err(PerturbationError::Aggregate(format!(
            "records are not aligned: {} vs {}",
            ra.sample_id, rb.sample_id
        )));
    }
    if fa.levels != fb.levels {
        return Err(PerturbationError::Aggregate(
            "the two methods used different levels".into(),
        ));
    }
    let levels = fa.levels.clone();
    let ca: Vec<Vec<f64>> = a.iter().map(hit_curve).collect();
    let cb: Vec<Vec<f64>> = b.iter().map(hit_curve).collect();
    Ok(paired_curve_statistic_difference(
        &ca,
        &cb,
        |c: &[f64]| auc(rule, c[0], &levels, &c[1..]),
        cfg,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mock: 3 classes, logits computed from the surviving (non-black) pixels of a 1-channel view:
    /// logit0 = 10·(mean of channel 0) , logit1 = 2 (constant), logit2 = 3 − 10·(mean of channel 2).
    /// Records every batch size it sees.
    struct Mock {
        batches: Vec<usize>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("mock failure")]
    struct MockError;

    impl ImageClassifier for Mock {
        type Error = MockError;
        fn num_classes(&self) -> usize {
            3
        }
        fn logits(
            &mut self,
            images: &[f32],
            batch: usize,
            h: usize,
            w: usize,
        ) -> Result<Vec<f32>, MockError> {
            self.batches.push(batch);
            let hw = h * w;
            let mut out = Vec::new();
            for b in 0..batch {
                let img = &images[b * 3 * hw..(b + 1) * 3 * hw];
                let m0: f32 = img[..hw].iter().sum::<f32>() / hw as f32;
                let m2: f32 = img[2 * hw..].iter().sum::<f32>() / hw as f32;
                out.extend_from_slice(&[10.0 * m0, 2.0, 3.0 - 10.0 * m2]);
            }
            Ok(out)
        }
    }

    /// 2×2 image, all channels 1.0 (white): clean logits [10, 2, -7] -> pred 0.
    fn white() -> Vec<f32> {
        vec![1.0; 12]
    }

    #[test]
    fn hand_computed_positive_run() {
        // map ranks pixel 3 > 1 > 0 = 2 (tie -> index 0 before 2)
        let map = [0.2, 0.7, 0.2, 1.0];
        let img = white();
        let samples = [PerturbationSample {
            sample_id: "a",
            label: 0,
            explained_class: Some(0),
            image: &img,
            map: &map,
        }];
        let cfg = PerturbationConfig {
            levels: vec![0.25, 0.5, 0.75, 1.0],
            ..PerturbationConfig::default()
        };
        let mut mock = Mock { batches: vec![] };
        let recs = run_perturbation(&mut mock, &samples, 2, 2, &cfg, 16).unwrap();
        let r = &recs[0];
        // k = int(4p) = 1, 2, 3, 4; surviving fraction 3/4, 1/2, 1/4, 0
        assert_eq!(r.ks, vec![1, 2, 3, 4]);
        // logit0 = 10*m, m = surviving fraction; logit2 = 3 - 10*m
        assert_eq!(r.label_logits, vec![7.5, 5.0, 2.5, 0.0]);
        // logits per level: [7.5, 2, -4.5], [5, 2, -2], [2.5, 2, 0.5], [0, 2, 3]
        assert_eq!(r.preds, vec![0, 0, 0, 2]);
        assert_eq!(r.hits, vec![true, true, true, false]);
        assert_eq!(r.clean_pred, 0);
        assert!(r.clean_hit);
        assert_eq!(r.logit_drops, vec![2.5, 5.0, 7.5, 10.0]);
        // dissimilarity = l_label − l_second: clean [10, 2, -7] -> 8; levels: 7.5-2, 5-2, 2.5-2, 0-2
        assert_eq!(r.clean_dissimilarity, 8.0);
        assert_eq!(r.dissimilarities, vec![5.5, 3.0, 0.5, -2.0]);
        // reference top-logit diffs: max after − max before (10): 7.5, 5, 2.5, 3 (class 2 wins)
        assert_eq!(r.top_logit_diffs, vec![-2.5, -5.0, -7.5, -7.0]);
        assert_eq!(mock.batches, vec![5]);
        // cuts after 1, 2, 3, 4 of the ranking 3, 1, 0, 2: only k = 3 splits a tied group
        // ({0, 2} at 0.2: pixel 0 removed, pixel 2 kept), 2 of 4 pixels; k = n splits nothing
        assert_eq!(r.tie_shares, vec![0.0, 0.0, 0.5, 0.0]);
    }

    /// `ties = { random = SEED }`: the same removed sets up to the order inside the tied group
    /// {0, 2}, reproducible per (seed, sample id) whatever the batch, and over 64 sample ids
    /// both members of the group are removed first sometimes (lowest index: always pixel 0).
    #[test]
    fn seeded_random_tie_break_only_reorders_ties() {
        let map = [0.2, 0.7, 0.2, 1.0];
        let img = white();
        let ids: Vec<String> = (0..64).map(|i| format!("s{i}")).collect();
        let samples: Vec<PerturbationSample> = ids
            .iter()
            .map(|id| PerturbationSample {
                sample_id: id,
                label: 0,
                explained_class: None,
                image: &img,
                map: &map,
            })
            .collect();
        let cfg = |ties| PerturbationConfig {
            levels: vec![0.75],
            ties,
            ..PerturbationConfig::default()
        };
        let removed_first = |ties: TieBreak, id: &str| {
            let r = top_k_indices_with(&map, 3, Order::Largest, ties, id).unwrap();
            assert_eq!(&r[..2], &[3, 1], "non-tied ranks are kept");
            r[2]
        };
        let lowest: Vec<usize> = ids
            .iter()
            .map(|id| removed_first(TieBreak::LowestIndex, id))
            .collect();
        assert!(lowest.iter().all(|&i| i == 0));
        let random: Vec<usize> = ids
            .iter()
            .map(|id| removed_first(TieBreak::Random(7), id))
            .collect();
        assert!(random.contains(&0) && random.contains(&2), "{random:?}");
        let again: Vec<usize> = ids
            .iter()
            .map(|id| removed_first(TieBreak::Random(7), id))
            .collect();
        assert_eq!(random, again);
        let other: Vec<usize> = ids
            .iter()
            .map(|id| removed_first(TieBreak::Random(8), id))
            .collect();
        assert_ne!(random, other, "the seed matters");
        // the evaluator gives the same records in one batch of 64 and one sample at a time
        let mut mock = Mock { batches: vec![] };
        let all =
            run_perturbation(&mut mock, &samples, 2, 2, &cfg(TieBreak::Random(7)), 128).unwrap();
        for (i, s) in samples.iter().enumerate() {
            let one =
                run_perturbation(&mut mock, &[*s], 2, 2, &cfg(TieBreak::Random(7)), 1).unwrap();
            assert_eq!(one[0], all[i]);
            assert_eq!(all[i].tie_shares, vec![0.5]);
        }
    }

    #[test]
    fn mock_logits_and_probabilities() {
        // Clean: [10, 2, -7]. p_label = 1/(1 + e^-8 + e^-17).
        let map = [0.0, 0.0, 0.0, 1.0];
        let img = white();
        let samples = [PerturbationSample {
            sample_id: "b",
            label: 1,
            explained_class: None,
            image: &img,
            map: &map,
        }];
        let cfg = PerturbationConfig {
            levels: vec![0.5],
            ..PerturbationConfig::default()
        };
        let mut mock = Mock { batches: vec![] };
        let r = &run_perturbation(&mut mock, &samples, 2, 2, &cfg, 1).unwrap()[0];
        let z: f64 = 1.0 + (-8.0f64).exp() + (-17.0f64).exp();
        assert!((r.clean_label_prob - (-8.0f64).exp() / z).abs() < 1e-15);
        assert!(!r.clean_hit);
        // level 0.5 removes pixels 3 and 0 (tie among 0,1,2 -> index 0): m = 0.5 -> [5, 2, -2]
        assert_eq!(r.label_logits, vec![2.0]);
        let z1 = 1.0 + (-3.0f64).exp() + (-7.0f64).exp();
        assert!((r.label_probs[0] - (-3.0f64).exp() / z1).abs() < 1e-15);
        assert!((r.prob_drops[0] - ((-8.0f64).exp() / z - (-3.0f64).exp() / z1)).abs() < 1e-15);
        assert_eq!(r.top_logit_diffs, vec![-5.0]);
        // dissimilarity ln(p1 / p_second): clean second = class 1 -> ln(1) = 0; level: second is class 1 again
        assert!(r.clean_dissimilarity.abs() < 1e-12);
        assert!(r.dissimilarities[0].abs() < 1e-12);
        assert_eq!(mock.batches, vec![1, 1]);
    }

    #[test]
    fn negative_mode_removes_least_relevant_first() {
        // Only pixel 0 is dark in channel 0 after removal: map low at pixel 0.
        let map = [0.0, 0.5, 0.5, 1.0];
        let img = white();
        let samples = [PerturbationSample {
            sample_id: "c",
            label: 0,
            explained_class: None,
            image: &img,
            map: &map,
        }];
        let cfg = PerturbationConfig {
            mode: PerturbationMode::Negative,
            levels: vec![0.25, 0.5],
            ..PerturbationConfig::default()
        };
        let mut mock = Mock { batches: vec![] };
        let r = &run_perturbation(&mut mock, &samples, 2, 2, &cfg, 8).unwrap()[0];
        assert_eq!(r.label_logits, vec![7.5, 5.0]);
        assert_eq!(r.mode, PerturbationMode::Negative);
    }

    /// Classifier that reports exactly which pixels are black in each channel, to check indices.
    struct Spy {
        seen: Vec<Vec<f32>>,
    }
    impl ImageClassifier for Spy {
        type Error = MockError;
        fn num_classes(&self) -> usize {
            2
        }
        fn logits(
            &mut self,
            images: &[f32],
            batch: usize,
            h: usize,
            w: usize,
        ) -> Result<Vec<f32>, MockError> {
            for b in 0..batch {
                self.seen
                    .push(images[b * 3 * h * w..(b + 1) * 3 * h * w].to_vec());
            }
            Ok(vec![0.0; 2 * batch])
        }
    }

    #[test]
    fn removal_values_and_fresh_copies_per_level() {
        // 1x3 image, channels distinct; map ranks pixel 2 > 0 > 1
        let img = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
        let map = [0.5, 0.0, 1.0];
        let samples = [PerturbationSample {
            sample_id: "d",
            label: 0,
            explained_class: None,
            image: &img,
            map: &map,
        }];
        let cfg = PerturbationConfig {
            levels: vec![0.34, 0.67],
            removal: RemovalValue::PerChannel([-1.0, -2.0, -3.0]),
            ..PerturbationConfig::default()
        };
        let mut spy = Spy { seen: vec![] };
        run_perturbation(&mut spy, &samples, 1, 3, &cfg, 2).unwrap();
        assert_eq!(spy.seen.len(), 3);
        assert_eq!(spy.seen[0], img.to_vec());
        // k = int(3*.34) = 1 -> pixel 2
        assert_eq!(
            spy.seen[1],
            vec![0.1, 0.2, -1.0, 0.4, 0.5, -2.0, 0.7, 0.8, -3.0]
        );
        // k = int(3*.67) = 2 -> pixels 2, 0 (fresh copy of the clean image)
        assert_eq!(
            spy.seen[2],
            vec![-1.0, 0.2, -1.0, -2.0, 0.5, -2.0, -3.0, 0.8, -3.0]
        );

        let cfg_black = PerturbationConfig {
            levels: vec![0.34],
            ..PerturbationConfig::default()
        };
        let mut spy = Spy { seen: vec![] };
        run_perturbation(&mut spy, &samples, 1, 3, &cfg_black, 2).unwrap();
        assert_eq!(
            spy.seen[1],
            vec![0.1, 0.2, 0.0, 0.4, 0.5, 0.0, 0.7, 0.8, 0.0]
        );
    }

    #[test]
    fn batching_packs_across_samples() {
        let img = white();
        let map = [0.1, 0.2, 0.3, 0.4];
        let ids = ["s0", "s1", "s2"];
        let samples: Vec<_> = ids
            .iter()
            .map(|id| PerturbationSample {
                sample_id: id,
                label: 0,
                explained_class: None,
                image: &img,
                map: &map,
            })
            .collect();
        let mut mock = Mock { batches: vec![] };
        let recs =
            run_perturbation(&mut mock, &samples, 2, 2, &PerturbationConfig::default(), 4).unwrap();
        // 3 samples × (1 clean + 9 levels) = 30 images in batches of 4
        assert_eq!(mock.batches, vec![4, 4, 4, 4, 4, 4, 4, 2]);
        assert_eq!(
            recs.iter()
                .map(|r| r.sample_id.as_str())
                .collect::<Vec<_>>(),
            ids.to_vec()
        );
        // 2x2 image: k = int(4p) -> 0,0,1,1,2,2,2,3,3
        assert_eq!(recs[0].ks, vec![0, 0, 1, 1, 2, 2, 2, 3, 3]);
        let single = run_perturbation(
            &mut Mock { batches: vec![] },
            &samples,
            2,
            2,
            &PerturbationConfig::default(),
            1,
        )
        .unwrap();
        assert_eq!(single, recs);
    }

    #[test]
    fn input_errors_name_the_sample() {
        let img = white();
        let bad_map = [0.0, f32::NAN, 0.0, 0.0];
        let samples = [PerturbationSample {
            sample_id: "broken",
            label: 0,
            explained_class: None,
            image: &img,
            map: &bad_map,
        }];
        let err = run_perturbation(
            &mut Mock { batches: vec![] },
            &samples,
            2,
            2,
            &PerturbationConfig::default(),
            4,
        )
        .unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
        let map = [0.0; 4];
        let samples = [PerturbationSample {
            sample_id: "lbl",
            label: 5,
            explained_class: None,
            image: &img,
            map: &map,
        }];
        let err = run_perturbation(
            &mut Mock { batches: vec![] },
            &samples,
            2,
            2,
            &PerturbationConfig::default(),
            4,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            PerturbationError::LabelOutOfRange { label: 5, .. }
        ));
        let samples = [PerturbationSample {
            sample_id: "img",
            label: 0,
            explained_class: None,
            image: &img[..11],
            map: &map,
        }];
        let err = run_perturbation(
            &mut Mock { batches: vec![] },
            &samples,
            2,
            2,
            &PerturbationConfig::default(),
            4,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            PerturbationError::ImageShape {
                expected: 12,
                got: 11,
                ..
            }
        ));
    }

    fn rec(id: &str, clean: bool, hits: &[bool]) -> PerturbationRecord {
        let n = hits.len();
        PerturbationRecord {
            sample_id: id.into(),
            label: 0,
            explained_class: None,
            explained: ExplainedClass::Predicted,
            mode: PerturbationMode::Positive,
            clean_pred: 0,
            clean_hit: clean,
            clean_label_logit: 0.0,
            clean_label_prob: 0.0,
            levels: (1..=n).map(|i| i as f64 / (n + 1) as f64).collect(),
            ks: vec![0; n],
            preds: vec![0; n],
            hits: hits.to_vec(),
            label_logits: vec![0.0; n],
            label_probs: vec![0.0; n],
            logit_drops: vec![0.0; n],
            prob_drops: vec![0.0; n],
            top_logit_diffs: vec![0.0; n],
            top_prob_diffs: vec![0.0; n],
            dissimilarities: vec![0.0; n],
            clean_dissimilarity: 0.0,
            tie_shares: vec![0.0; n],
        }
    }

    #[test]
    fn aggregation_curve_and_auc() {
        // levels 1/3, 2/3; 4 samples
        let recs = vec![
            rec("a", true, &[true, false]),
            rec("b", true, &[true, true]),
            rec("c", true, &[false, false]),
            rec("d", false, &[false, false]),
        ];
        let s = summarise(&recs, AucRule::Bi2023).unwrap();
        assert_eq!(s.curve.acc0, 0.75);
        assert_eq!(s.curve.acc, vec![0.5, 0.25]);
        // trapezoid over x=[0,1/3,2/3,1], y=[.75,.5,.25,0]: (1/3)*(.625+.375+.125) = 0.375
        assert!((s.auc - 0.375).abs() < 1e-12);
        let json = serde_json::to_string(&recs[0]).unwrap();
        let back: PerturbationRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, recs[0]);
        let ci = auc_bootstrap_ci(&recs, AucRule::Bi2023, &BootstrapConfig::default()).unwrap();
        assert!((ci.estimate - 0.375).abs() < 1e-12);
        assert!(ci.lower <= 0.375 && ci.upper >= 0.375);
        let d =
            auc_difference_ci(&recs, &recs, AucRule::Bi2023, &BootstrapConfig::default()).unwrap();
        assert_eq!((d.estimate, d.lower, d.upper), (0.0, 0.0, 0.0));
    }

    #[test]
    fn aggregation_rejects_mixed_records() {
        let mut b = rec("b", true, &[true, true]);
        b.mode = PerturbationMode::Negative;
        assert!(matches!(
            accuracy_curve(&[rec("a", true, &[true, false]), b]),
            Err(PerturbationError::Aggregate(_))
        ));
        assert!(matches!(
            accuracy_curve(&[rec("a", true, &[true]), rec("b", true, &[true, true])]),
            Err(PerturbationError::Aggregate(_))
        ));
        assert!(matches!(
            accuracy_curve(&[]),
            Err(PerturbationError::Aggregate(_))
        ));
    }
}
