//! The run configuration file (`faithbench run CONFIG.toml`), typed and strict: every table
//! rejects unknown keys, so a typo is an error naming the key and the file. `docs/config.md`
//! documents every key.
//!
//! Paths: `${VAR}` expands to the environment variable `VAR` (an unset variable is an error naming
//! it), `${CONFIG_DIR}` to the folder of the config file, `$$` to a literal `$`. After expansion, a
//! relative path is relative to the **current working directory** (run from the repository root;
//! use `${CONFIG_DIR}/...` for paths next to the config).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use faithbench_data::Split;
use faithbench_eval::rationales::SpanListing;
use faithbench_eval::text_perturbation::{FractionPreset, TextAucRule, TextMode};
use faithbench_eval::word_aggregation::WordAlignment;
use faithbench_eval::{AucRule, ExplainedClass, PerturbationMode, RemovalValue};
use faithbench_explain::MethodConfig;
use faithbench_models::preprocess::{Normalization, ResizeMode};
use faithbench_models::Layout;
use serde::{Deserialize, Serialize};

/// Errors of loading a config file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read config: {source}")]
    Io {
        /// Config file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax error, unknown key, wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// Config file.
        path: PathBuf,
        /// The TOML error (with line and column).
        message: String,
    },
    /// A `${VAR}` is unset or malformed.
    #[error("{path}: {key}: {message}")]
    Env {
        /// Config file.
        path: PathBuf,
        /// The config key holding the path.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The config parses but is inconsistent.
    #[error("{path}: {message}")]
    Invalid {
        /// Config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn d_batch() -> usize {
    8
}
fn d_eval_batch() -> usize {
    32
}
fn d_gallery() -> usize {
    8
}
fn d_resamples() -> usize {
    1000
}
fn d_confidence() -> f64 {
    0.95
}
fn d_true() -> bool {
    true
}
fn d_resize() -> ResizeMode {
    ResizeMode::Squash
}
fn d_class() -> ExplainedClass {
    ExplainedClass::Predicted
}
fn d_auc() -> AucRule {
    AucRule::Bi2023
}
fn d_target() -> ExplainedClass {
    ExplainedClass::Target
}
fn d_max_length() -> usize {
    512
}
fn d_alignment() -> WordAlignment {
    WordAlignment::Offsets
}
fn d_listing() -> SpanListing {
    SpanListing::Fresh
}
fn d_iou() -> f64 {
    faithbench_eval::eraser_metrics::DEFAULT_IOU_THRESHOLD
}
fn d_text_auc() -> TextAucRule {
    TextAucRule::TrapezoidNormalised
}

/// A whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[run]`: name, output folder, batching, gallery, statistics.
    #[serde(default)]
    pub run: RunSection,
    /// `[model]`: the network (named `default`); or use `[models.NAME]` tables.
    #[serde(default)]
    pub model: Option<ModelSection>,
    /// `[models.NAME]`: several named networks (datasets pick one with `model = "NAME"`).
    #[serde(default)]
    pub models: BTreeMap<String, ModelSection>,
    /// `[dataset]`: the one dataset (named `default`); or use `[datasets.NAME]` tables.
    #[serde(default)]
    pub dataset: Option<DatasetSection>,
    /// `[datasets.NAME]`: several named datasets (evaluators pick one with `dataset = "NAME"`).
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetSection>,
    /// `[[explainers]]`: attribution methods.
    #[serde(default)]
    pub explainers: Vec<ExplainerEntry>,
    /// `[[evaluators]]`: protocols.
    #[serde(default)]
    pub evaluators: Vec<EvaluatorEntry>,
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Run name (default: the config file name without `.toml`).
    #[serde(default)]
    pub name: Option<String>,
    /// Output folder (default `results/<name>`); `--out` overrides it.
    #[serde(default)]
    pub out_dir: Option<String>,
    /// Samples per explainer call (default 8). Results never depend on where a run was
    /// interrupted because all work happens on these fixed chunks.
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Images per classifier call in the perturbation test (default 32).
    #[serde(default = "d_eval_batch")]
    pub eval_batch_size: usize,
    /// Heat-map overlays for the first `gallery` samples of each dataset (default 8; 0 = none).
    #[serde(default = "d_gallery")]
    pub gallery: usize,
    /// Seed of the bootstrap (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Bootstrap resamples for confidence intervals (default 1000).
    #[serde(default = "d_resamples")]
    pub bootstrap_resamples: usize,
    /// Confidence level of the intervals (default 0.95).
    #[serde(default = "d_confidence")]
    pub confidence: f64,
    /// Device (`cpu`; `wgpu` / `cuda` in builds with those features); `--device` overrides it.
    #[serde(default)]
    pub device: Option<String>,
    /// Keep token maps in the explanation cache (default true).
    #[serde(default = "d_true")]
    pub cache: bool,
    /// Cache folder (default `<out_dir>/cache`). Keys are content hashes, so several runs (e.g.
    /// the positive and negative perturbation tables) may share one folder.
    #[serde(default)]
    pub cache_dir: Option<String>,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            name: None,
            out_dir: None,
            batch_size: d_batch(),
            eval_batch_size: d_eval_batch(),
            gallery: d_gallery(),
            seed: 0,
            bootstrap_resamples: d_resamples(),
            confidence: d_confidence(),
            device: None,
            cache: true,
            cache_dir: None,
        }
    }
}

/// `[model]`: either `dir` (a folder with `faithbench.json` and `model.safetensors`/`.pth`) or
/// `weights` + `preset` (+ `layout`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Model folder.
    #[serde(default)]
    pub dir: Option<String>,
    /// Checkpoint file (`.safetensors`, `.pth`, `.bin`).
    #[serde(default)]
    pub weights: Option<String>,
    /// Architecture preset for `weights`: `vit_b16`, `vit_l16`, `vit_mae_b16`.
    #[serde(default)]
    pub preset: Option<String>,
    /// Key layout of `weights`: `timm` (default) or `hf_vit`.
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Override of the input normalisation: `"half"`, `"imagenet"`, `"clip"` or
    /// `{ custom = { mean = [..], std = [..] } }`.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

/// `[dataset]` / `[datasets.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DatasetSection {
    /// ImageNet-1k val in torchvision order (spec §5.1).
    ImagenetVal {
        /// The `val/` folder or a folder containing it.
        root: String,
        /// Optional `.npy` index list into the full order (e.g. `pert_index.npy`).
        #[serde(default)]
        subset: Option<String>,
        /// Keep only the first `limit` samples (after `subset`).
        #[serde(default)]
        limit: Option<usize>,
        /// Resize pipeline (default `squash` = PIL `Resize((S, S))`).
        #[serde(default = "d_resize")]
        resize: ResizeMode,
        /// Model name (needed when there are several models).
        #[serde(default)]
        model: Option<String>,
    },
    /// ImageNet-Segmentation `gtsegs_ijcv.mat` (spec §5.2).
    ImagenetSeg {
        /// The `.mat` file.
        path: String,
        /// Keep only the first `limit` images.
        #[serde(default)]
        limit: Option<usize>,
        /// Resize pipeline of the images (default `squash`); masks use PIL NEAREST.
        #[serde(default = "d_resize")]
        resize: ResizeMode,
        /// Model name (needed when there are several models).
        #[serde(default)]
        model: Option<String>,
    },
    /// An ERASER dataset folder (Movie Reviews, spec §5.3; or faithbench-planted): `docs/` +
    /// `{train,val,test}.jsonl`.
    Eraser {
        /// The folder holding `docs/` and the split files.
        root: String,
        /// One split (`"test"`) or several in order (`["test", "train", "val"]`).
        split: Splits,
        /// Word-piece budget incl. `[CLS]`/`[SEP]` (default 512; capped at the model's maximum
        /// positions). Longer documents are truncated (keeping the final `[SEP]`).
        #[serde(default = "d_max_length")]
        max_length: usize,
        /// Keep only the first `limit` annotations (after concatenating the splits).
        #[serde(default)]
        limit: Option<usize>,
        /// Class names in label order (default `["NEG", "POS"]`, the Movie Reviews classifier's).
        #[serde(default)]
        classes: Option<Vec<String>>,
        /// Model name (needed when there are several models).
        #[serde(default)]
        model: Option<String>,
    },
    /// The 20 Newsgroups test split exported by `scripts/export_20newsgroups.py` (spec §5.4).
    Newsgroups {
        /// The export folder (`newsgroups_test.jsonl`, `newsgroups_sample3000.json`).
        root: String,
        /// Evaluate the reference's 3000-document sample in sampling order (default true), or
        /// all documents in export order.
        #[serde(default = "d_true")]
        sample3000: bool,
        /// Word-piece budget (default 512; capped at the model's maximum positions).
        #[serde(default = "d_max_length")]
        max_length: usize,
        /// Keep only the first `limit` documents.
        #[serde(default)]
        limit: Option<usize>,
        /// Model name (needed when there are several models).
        #[serde(default)]
        model: Option<String>,
    },
}

/// One ERASER split or several.
#[derive(Debug, Clone, PartialEq)]
pub enum Splits {
    /// `split = "test"`.
    One(Split),
    /// `split = ["test", "train", "val"]`.
    Many(Vec<Split>),
}

fn split_named<E: serde::de::Error>(v: &str) -> Result<Split, E> {
    match v {
        "train" => Ok(Split::Train),
        "val" => Ok(Split::Val),
        "test" => Ok(Split::Test),
        other => Err(E::custom(format!(
            "unknown split `{other}` (train, val, test)"
        ))),
    }
}

impl<'de> Deserialize<'de> for Splits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Splits;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a split (\"test\") or a list of splits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Splits, E> {
                split_named(v).map(Splits::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Splits, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = a.next_element::<String>()? {
                    out.push(split_named(&x)?);
                }
                Ok(Splits::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Splits {
    /// The splits in order.
    pub fn list(&self) -> Vec<Split> {
        match self {
            Splits::One(s) => vec![*s],
            Splits::Many(v) => v.clone(),
        }
    }
}

impl DatasetSection {
    /// `imagenet_val` / `imagenet_seg` / `eraser` / `newsgroups`.
    pub fn kind(&self) -> &'static str {
        match self {
            DatasetSection::ImagenetVal { .. } => "imagenet_val",
            DatasetSection::ImagenetSeg { .. } => "imagenet_seg",
            DatasetSection::Eraser { .. } => "eraser",
            DatasetSection::Newsgroups { .. } => "newsgroups",
        }
    }

    /// Whether the dataset holds text (BERT models) rather than images (ViT models).
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            DatasetSection::Eraser { .. } | DatasetSection::Newsgroups { .. }
        )
    }

    /// The `model = "NAME"` of the dataset, if given.
    pub fn model_ref(&self) -> Option<&str> {
        match self {
            DatasetSection::ImagenetVal { model, .. }
            | DatasetSection::ImagenetSeg { model, .. }
            | DatasetSection::Eraser { model, .. }
            | DatasetSection::Newsgroups { model, .. } => model.as_deref(),
        }
    }
}

/// `[[explainers]]`: `label`, `model` plus every field of [`MethodConfig`] (`method = "..."` and
/// its parameters).
#[derive(Debug, Clone, Deserialize)]
pub struct ExplainerEntry {
    /// Name in tables, plots and file names (default: the method's name).
    #[serde(default)]
    pub label: Option<String>,
    /// Restrict the explainer to the datasets of this model (default: every model).
    #[serde(default)]
    pub model: Option<String>,
    /// The method and its parameters (unknown keys are rejected by the method's own struct).
    #[serde(flatten)]
    pub method: MethodConfig,
}

/// `[[evaluators]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EvaluatorEntry {
    /// Pixel-removal test (spec §4.1).
    Perturbation {
        /// Name (default `perturbation_<mode>_<class>`).
        #[serde(default)]
        name: Option<String>,
        /// Dataset name (needed when there are several).
        #[serde(default)]
        dataset: Option<String>,
        /// `positive` (remove most relevant first) or `negative`.
        mode: PerturbationMode,
        /// Explained class: `predicted` (default) or `target` (ground truth). Hits are always
        /// scored against the ground truth (spec P12).
        #[serde(default = "d_class")]
        class: ExplainedClass,
        /// AUC rule: `bi2023` (default, the paper's), `chefer2021`, `trapezoid`.
        #[serde(default = "d_auc")]
        auc: AucRule,
        /// Removal fractions (default `[0.1, 0.2, …, 0.9]`).
        #[serde(default)]
        levels: Option<Vec<f64>>,
        /// Raw value written into removed pixels (default `"raw_black"`; or `{ value = v }`,
        /// `{ per_channel = [r, g, b] }`).
        #[serde(default)]
        removal: Option<RemovalValue>,
    },
    /// ImageNet-Segmentation test (spec §4.2); explains the predicted class (spec P12).
    Segmentation {
        /// Name (default `segmentation`).
        #[serde(default)]
        name: Option<String>,
        /// Dataset name (needed when there are several).
        #[serde(default)]
        dataset: Option<String>,
    },
    /// ERASER rationale metrics of top-k word rationales (spec §4.4, §4.7): token-F1 and the rest.
    EraserRationales {
        /// Name (default `eraser_rationales`).
        #[serde(default)]
        name: Option<String>,
        /// Dataset name (an `eraser` dataset).
        #[serde(default)]
        dataset: Option<String>,
        /// Explained class: `target` (default, the ground truth as in the reference, spec P12)
        /// or `predicted`.
        #[serde(default = "d_target")]
        class: ExplainedClass,
        /// The k values (default 5, 10, …, 80, the reference's); capped per document at its
        /// number of words.
        #[serde(default)]
        ks: Option<Vec<usize>>,
        /// Word-piece → word alignment: `offsets` (default, exact) or `reference`.
        #[serde(default = "d_alignment")]
        alignment: WordAlignment,
        /// How the results files list spans: `fresh` (default) or `reference_accumulated`
        /// (spec P11; the scores are the same).
        #[serde(default = "d_listing")]
        listing: SpanListing,
        /// AOPC bins (default 0.01, 0.05, 0.1, 0.2, 0.5).
        #[serde(default)]
        aopc_thresholds: Option<Vec<f64>>,
        /// IoU threshold of the partial-match F1 (default 0.5).
        #[serde(default = "d_iou")]
        iou_threshold: f64,
        /// Measure comprehensiveness, sufficiency and AOPC (default true; needs
        /// `2·(|ks| + |aopc_thresholds|)` extra classifier calls per document).
        #[serde(default = "d_true")]
        faithfulness: bool,
        /// How comprehensiveness/sufficiency remove words: `delete` (default; the word pieces
        /// are dropped from the sequence) or `mask` (`[PAD]` id and attention mask 0).
        #[serde(default)]
        removal: TextRemoval,
        /// Write `eraser/<evaluator>/<explainer>/identifier_results_<k>.jsonl` (default true).
        #[serde(default = "d_true")]
        results_files: bool,
    },
    /// Token-removal perturbation of a BERT classifier (spec §4.5, §4.6).
    TextPerturbation {
        /// Name (default `text_perturbation_<mode>`).
        #[serde(default)]
        name: Option<String>,
        /// Dataset name (an `eraser` or `newsgroups` dataset).
        #[serde(default)]
        dataset: Option<String>,
        /// `positive` (remove most relevant first) or `negative`.
        mode: TextMode,
        /// Explained class: `target` (default, spec P12) or `predicted`.
        #[serde(default = "d_target")]
        class: ExplainedClass,
        /// `"movies_reference"`, `"newsgroups_reference"` or a list of fractions.
        fractions: Fractions,
        /// `real_tokens` (default) or `padded_to_512` (the 20 Newsgroups script's quirk).
        #[serde(default)]
        length_rule: LengthRuleName,
        /// `trapezoid_normalised` (default: mean accuracy over the fraction range, a fraction)
        /// or `trapezoid` (`sklearn.metrics.auc` of accuracy in percent).
        #[serde(default = "d_text_auc")]
        auc: TextAucRule,
    },
}

/// How words are removed for comprehensiveness/sufficiency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextRemoval {
    /// Drop the word pieces from the sequence (ERASER's "x without r").
    #[default]
    Delete,
    /// Keep the length; removed pieces get the `[PAD]` id and attention mask 0 (as the text
    /// perturbation test does).
    Mask,
}

/// Fractions of a text perturbation test.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fractions {
    /// A preset name.
    Preset(FractionPreset),
    /// Explicit fractions.
    List(Vec<f64>),
}

impl Fractions {
    /// The fractions.
    pub fn values(&self) -> Vec<f64> {
        match self {
            Fractions::Preset(p) => p.fractions(),
            Fractions::List(v) => v.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Fractions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fractions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"movies_reference\", \"newsgroups_reference\" or a list of fractions")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fractions, E> {
                match v {
                    "movies_reference" => Ok(Fractions::Preset(FractionPreset::MoviesReference)),
                    "newsgroups_reference" => {
                        Ok(Fractions::Preset(FractionPreset::NewsgroupsReference))
                    }
                    other => Err(E::custom(format!(
                        "unknown fractions preset `{other}` (movies_reference, newsgroups_reference; or give a list of fractions)"
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Fractions, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element::<f64>()? {
                    v.push(x);
                }
                Ok(Fractions::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `length_rule` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthRuleName {
    /// `k = int(real tokens · p)`, only real tokens are candidates (Movie Reviews script).
    #[default]
    RealTokens,
    /// Inputs padded to 512, `k = int(512 · p)`, padding positions are candidates (20 Newsgroups
    /// script).
    #[serde(rename = "padded_to_512")]
    PaddedTo512,
}

impl EvaluatorEntry {
    /// The evaluator's name (explicit or default).
    pub fn name(&self) -> String {
        match self {
            EvaluatorEntry::Perturbation {
                name, mode, class, ..
            } => name.clone().unwrap_or_else(|| {
                format!(
                    "perturbation_{}_{}",
                    match mode {
                        PerturbationMode::Positive => "positive",
                        PerturbationMode::Negative => "negative",
                    },
                    match class {
                        ExplainedClass::Predicted => "predicted",
                        ExplainedClass::Target => "target",
                    }
                )
            }),
            EvaluatorEntry::Segmentation { name, .. } => {
                name.clone().unwrap_or_else(|| "segmentation".into())
            }
            EvaluatorEntry::EraserRationales { name, .. } => {
                name.clone().unwrap_or_else(|| "eraser_rationales".into())
            }
            EvaluatorEntry::TextPerturbation { name, mode, .. } => {
                name.clone().unwrap_or_else(|| {
                    format!(
                        "text_perturbation_{}",
                        match mode {
                            TextMode::Positive => "positive",
                            TextMode::Negative => "negative",
                        }
                    )
                })
            }
        }
    }

    fn dataset_ref(&self) -> Option<&str> {
        match self {
            EvaluatorEntry::Perturbation { dataset, .. }
            | EvaluatorEntry::Segmentation { dataset, .. }
            | EvaluatorEntry::EraserRationales { dataset, .. }
            | EvaluatorEntry::TextPerturbation { dataset, .. } => dataset.as_deref(),
        }
    }
}

/// Expands `${VAR}` (via `lookup`), `${CONFIG_DIR}` and `$$` in `s`.
pub fn expand_vars(
    s: &str,
    config_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
            let name = &r[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!("invalid variable name `${{{name}}}` in {s:?}"));
            }
            if name == "CONFIG_DIR" {
                out.push_str(&config_dir.to_string_lossy());
            } else {
                let v = lookup(name).ok_or_else(|| {
                    format!("environment variable `{name}` is not set (used in {s:?})")
                })?;
                out.push_str(&v);
            }
            rest = &r[end + 1..];
        } else {
            return Err(format!(
                "a `$` must start `${{VAR}}` or be doubled (`$$`) in {s:?}"
            ));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The process environment as a lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Name of the `[model]` table among the models.
pub const DEFAULT_MODEL: &str = "default";

/// A parsed, expanded and checked config.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config file.
    pub path: PathBuf,
    /// The run name.
    pub name: String,
    /// Contents with every path expanded.
    pub config: Config,
    /// Models by name (`[model]` becomes `default`), paths expanded.
    pub models: BTreeMap<String, ModelSection>,
    /// Datasets by name (`[dataset]` becomes `default`).
    pub datasets: BTreeMap<String, DatasetSection>,
    /// Model of each dataset.
    pub dataset_models: BTreeMap<String, String>,
    /// Dataset of each evaluator (same order as `config.evaluators`).
    pub evaluator_datasets: Vec<String>,
    /// Label of each explainer (same order as `config.explainers`).
    pub labels: Vec<String>,
    /// Models each explainer applies to (same order as `config.explainers`; only models some
    /// dataset uses).
    pub explainer_models: Vec<Vec<String>>,
}

impl LoadedConfig {
    /// Whether the config names more than one model (then datasets and explainers record theirs
    /// in the plan).
    pub fn multi_model(&self) -> bool {
        self.models.len() > 1
    }
}

fn check_model(m: &ModelSection, what: &str) -> Result<(), String> {
    match (&m.dir, &m.weights) {
        (Some(_), Some(_)) => {
            return Err(format!("{what}: give either `dir` or `weights`, not both"))
        }
        (None, None) => {
            return Err(format!(
                "{what}: give `dir` (a model folder) or `weights` + `preset`"
            ))
        }
        (Some(_), None) if m.preset.is_some() || m.layout.is_some() => {
            return Err(format!(
                "{what}: `preset` and `layout` go with `weights`; a model folder describes itself in faithbench.json"
            ))
        }
        (None, Some(_)) if m.preset.is_none() => {
            return Err(format!(
                "{what}: `weights` needs a `preset` (vit_b16, vit_l16, vit_mae_b16)"
            ))
        }
        _ => {}
    }
    if let Some(p) = &m.preset {
        if faithbench_models::vit::VitConfig::preset(p).is_none() {
            return Err(format!(
                "{what}: unknown preset `{p}` (known: vit_b16, vit_l16, vit_mae_b16)"
            ));
        }
    }
    Ok(())
}

/// Parses a config string (no file access besides none: paths are only expanded).
/// Expands `preset = "method/setting"` in `[[explainers]]` tables (faithbench_explain::presets):
/// the preset's parameters are filled in and keys written next to `preset` override them.
/// Returns None when no explainer uses a preset.
fn apply_presets(text: &str) -> Result<Option<toml::Value>, String> {
    if !text.contains("preset") {
        return Ok(None);
    }
    let mut value: toml::Value =
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let mut used = false;
    if let Some(list) = value.get_mut("explainers").and_then(|v| v.as_array_mut()) {
        for (i, entry) in list.iter_mut().enumerate() {
            let Some(table) = entry.as_table_mut() else {
                continue;
            };
            let Some(name) = table.remove("preset") else {
                continue;
            };
            let name = name
                .as_str()
                .ok_or_else(|| format!("explainers[{i}].preset must be a string"))?
                .to_string();
            let preset = faithbench_explain::presets::preset(&name).ok_or_else(|| {
                let known: Vec<&str> = faithbench_explain::presets::PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect();
                format!(
                    "explainers[{i}]: unknown preset `{name}` (known: {})",
                    known.join(", ")
                )
            })?;
            for (k, v) in preset.object() {
                if !table.contains_key(&k) {
                    let v: toml::Value =
                        serde_json::from_value(v).map_err(|e| format!("preset {name}: {e}"))?;
                    table.insert(k, v);
                }
            }
            used = true;
        }
    }
    Ok(used.then_some(value))
}

pub fn parse_config(
    text: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let parse_err = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let mut config: Config = match apply_presets(text).map_err(parse_err)? {
        // No `preset` key: deserialise the text itself, so errors keep their line numbers.
        None => {
            toml::from_str(text).map_err(|e| parse_err(e.to_string().trim_end().to_string()))?
        }
        Some(value) => value
            .try_into()
            .map_err(|e: toml::de::Error| parse_err(e.to_string().trim_end().to_string()))?,
    };
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let config_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let config_dir = std::fs::canonicalize(&config_dir).unwrap_or(config_dir);
    let expand = |key: &str, v: &mut String| -> Result<(), ConfigError> {
        *v = expand_vars(v, &config_dir, lookup).map_err(|message| ConfigError::Env {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        })?;
        Ok(())
    };
    if let Some(o) = config.run.out_dir.as_mut() {
        expand("run.out_dir", o)?;
    }
    if let Some(o) = config.run.cache_dir.as_mut() {
        expand("run.cache_dir", o)?;
    }
    let mut models = config.models.clone();
    if let Some(m) = &config.model {
        if models.contains_key(DEFAULT_MODEL) {
            return Err(invalid(format!(
                "[model] is the model named `{DEFAULT_MODEL}`; do not also define [models.{DEFAULT_MODEL}]"
            )));
        }
        models.insert(DEFAULT_MODEL.into(), m.clone());
    }
    for (name, m) in models.iter_mut() {
        let key = if config.model.is_some() && name == DEFAULT_MODEL {
            "model".to_string()
        } else {
            format!("models.{name}")
        };
        if let Some(d) = m.dir.as_mut() {
            expand(&format!("{key}.dir"), d)?;
        }
        if let Some(w) = m.weights.as_mut() {
            expand(&format!("{key}.weights"), w)?;
        }
    }
    if let Some(m) = config.model.as_mut() {
        if let Some(d) = m.dir.as_mut() {
            expand("model.dir", d)?;
        }
        if let Some(w) = m.weights.as_mut() {
            expand("model.weights", w)?;
        }
    }
    let mut datasets = config.datasets.clone();
    if let Some(d) = &config.dataset {
        if !datasets.is_empty() {
            return Err(invalid(
                "use either [dataset] or [datasets.NAME] tables, not both".into(),
            ));
        }
        datasets.insert("default".into(), d.clone());
    }
    for (name, d) in datasets.iter_mut() {
        match d {
            DatasetSection::ImagenetVal { root, subset, .. } => {
                expand(&format!("datasets.{name}.root"), root)?;
                if let Some(s) = subset {
                    expand(&format!("datasets.{name}.subset"), s)?;
                }
            }
            DatasetSection::ImagenetSeg {
                path: p, resize, ..
            } => {
                expand(&format!("datasets.{name}.path"), p)?;
                if *resize != ResizeMode::Squash {
                    return Err(invalid(format!(
                        "datasets.{name}: imagenet_seg supports only resize = \"squash\" (masks are squashed with PIL NEAREST like the reference)"
                    )));
                }
            }
            DatasetSection::Eraser {
                root,
                split,
                max_length,
                classes,
                ..
            } => {
                expand(&format!("datasets.{name}.root"), root)?;
                let list = split.list();
                if list.is_empty() {
                    return Err(invalid(format!("datasets.{name}: `split` is empty")));
                }
                if (1..list.len()).any(|i| list[..i].contains(&list[i])) {
                    return Err(invalid(format!("datasets.{name}: a split is listed twice")));
                }
                if *max_length < 2 {
                    return Err(invalid(format!(
                        "datasets.{name}: max_length must be at least 2 ([CLS] and [SEP])"
                    )));
                }
                if let Some(c) = classes {
                    if c.len() < 2 || c.iter().collect::<BTreeSet<_>>().len() != c.len() {
                        return Err(invalid(format!(
                            "datasets.{name}: `classes` needs at least two distinct names"
                        )));
                    }
                }
            }
            DatasetSection::Newsgroups {
                root, max_length, ..
            } => {
                expand(&format!("datasets.{name}.root"), root)?;
                if *max_length < 2 {
                    return Err(invalid(format!(
                        "datasets.{name}: max_length must be at least 2 ([CLS] and [SEP])"
                    )));
                }
            }
        }
    }
    for (i, e) in config.explainers.iter_mut().enumerate() {
        if let MethodConfig::Precomputed(p) = &mut e.method {
            let mut s = p.path.to_string_lossy().into_owned();
            expand(&format!("explainers[{i}].path"), &mut s)?;
            p.path = PathBuf::from(s);
        }
    }

    // consistency
    let name = match &config.run.name {
        Some(n) => n.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into()),
    };
    if name.is_empty() {
        return Err(invalid("run.name is empty".into()));
    }
    if models.is_empty() {
        return Err(invalid(
            "no model: add a [model] table (or [models.NAME] tables)".into(),
        ));
    }
    for (n, m) in &models {
        let what = if config.model.is_some() && n == DEFAULT_MODEL {
            "[model]".to_string()
        } else {
            format!("[models.{n}]")
        };
        check_model(m, &what).map_err(invalid)?;
    }
    if config.run.batch_size == 0 || config.run.eval_batch_size == 0 {
        return Err(invalid(
            "[run]: batch_size and eval_batch_size must be at least 1".into(),
        ));
    }
    if config.run.bootstrap_resamples == 0 {
        return Err(invalid(
            "[run]: bootstrap_resamples must be at least 1".into(),
        ));
    }
    if !(config.run.confidence > 0.0 && config.run.confidence < 1.0) {
        return Err(invalid(format!(
            "[run]: confidence must lie in (0, 1), got {}",
            config.run.confidence
        )));
    }
    if datasets.is_empty() {
        return Err(invalid("no dataset: add a [dataset] table".into()));
    }
    if config.explainers.is_empty() {
        return Err(invalid(
            "no explainer: add at least one [[explainers]]".into(),
        ));
    }
    if config.evaluators.is_empty() {
        return Err(invalid(
            "no evaluator: add at least one [[evaluators]]".into(),
        ));
    }
    let known_models = || models.keys().cloned().collect::<Vec<_>>().join(", ");
    let mut dataset_models = BTreeMap::new();
    for (dn, d) in &datasets {
        let m = match d.model_ref() {
            Some(m) if models.contains_key(m) => m.to_string(),
            Some(m) => {
                return Err(invalid(format!(
                    "datasets.{dn}: unknown model `{m}` (defined: {})",
                    known_models()
                )))
            }
            None if models.len() == 1 => models.keys().next().cloned().unwrap_or_default(),
            // datasets without `model` use the [model] table
            None if config.model.is_some() => DEFAULT_MODEL.to_string(),
            None => {
                return Err(invalid(format!(
                    "datasets.{dn}: several models are defined; say which with `model = \"NAME\"`"
                )))
            }
        };
        dataset_models.insert(dn.clone(), m);
    }
    let used: BTreeSet<&String> = dataset_models.values().collect();
    if let Some(unused) = models.keys().find(|m| !used.contains(m)) {
        return Err(invalid(format!(
            "model `{unused}` is not used by any dataset"
        )));
    }
    let mut labels = Vec::new();
    let mut explainer_models = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for e in &config.explainers {
        let label = match &e.label {
            Some(l) => l.clone(),
            None => e
                .method
                .build()
                .map(|x| x.name())
                .unwrap_or_else(|_| e.method.method().to_string()),
        };
        if label.is_empty() {
            return Err(invalid("an explainer has an empty label".into()));
        }
        let applies: Vec<String> = match &e.model {
            Some(m) if models.contains_key(m) => vec![m.clone()],
            Some(m) => {
                return Err(invalid(format!(
                    "explainer `{label}`: unknown model `{m}` (defined: {})",
                    known_models()
                )))
            }
            None => models.keys().cloned().collect(),
        };
        for m in &applies {
            if !seen.insert((m.clone(), crate::util::file_stem(&label))) {
                return Err(invalid(format!(
                    "two explainers are labelled `{label}` (or labels that map to the same file name); give them distinct `label`s"
                )));
            }
        }
        labels.push(label);
        explainer_models.push(applies);
    }
    let mut names = BTreeSet::new();
    let mut evaluator_datasets = Vec::new();
    for ev in &config.evaluators {
        let n = ev.name();
        if !names.insert(crate::util::file_stem(&n)) {
            return Err(invalid(format!(
                "two evaluators are named `{n}`; give them distinct `name`s"
            )));
        }
        let ds = match ev.dataset_ref() {
            Some(d) => {
                if !datasets.contains_key(d) {
                    return Err(invalid(format!(
                        "evaluator `{n}`: unknown dataset `{d}` (defined: {})",
                        datasets.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
                d.to_string()
            }
            None if datasets.len() == 1 => datasets.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(invalid(format!(
                    "evaluator `{n}`: several datasets are defined; say which with `dataset = \"NAME\"`"
                )))
            }
        };
        match (ev, &datasets[&ds]) {
            (EvaluatorEntry::Perturbation { levels, .. }, DatasetSection::ImagenetVal { .. }) => {
                if let Some(l) = levels {
                    if l.is_empty() || l.iter().any(|p| !(0.0..=1.0).contains(p)) {
                        return Err(invalid(format!(
                            "evaluator `{n}`: levels must be a non-empty list of fractions in [0, 1]"
                        )));
                    }
                }
            }
            (EvaluatorEntry::Segmentation { .. }, DatasetSection::ImagenetSeg { .. }) => {}
            (
                EvaluatorEntry::EraserRationales {
                    ks,
                    aopc_thresholds,
                    iou_threshold,
                    ..
                },
                DatasetSection::Eraser { .. },
            ) => {
                if let Some(k) = ks {
                    if k.is_empty() || k.contains(&0) {
                        return Err(invalid(format!(
                            "evaluator `{n}`: ks must be a non-empty list of positive integers"
                        )));
                    }
                    if (1..k.len()).any(|i| k[..i].contains(&k[i])) {
                        return Err(invalid(format!("evaluator `{n}`: a k is listed twice")));
                    }
                }
                if let Some(t) = aopc_thresholds {
                    if t.iter().any(|p| !(0.0..=1.0).contains(p)) {
                        return Err(invalid(format!(
                            "evaluator `{n}`: aopc_thresholds must be fractions in [0, 1]"
                        )));
                    }
                }
                if !(0.0..=1.0).contains(iou_threshold) {
                    return Err(invalid(format!(
                        "evaluator `{n}`: iou_threshold must lie in [0, 1]"
                    )));
                }
            }
            (
                EvaluatorEntry::TextPerturbation { fractions, .. },
                DatasetSection::Eraser { .. } | DatasetSection::Newsgroups { .. },
            ) => {
                let f = fractions.values();
                if f.is_empty() || f.iter().any(|p| !(0.0..=1.0).contains(p)) {
                    return Err(invalid(format!(
                        "evaluator `{n}`: fractions must be a non-empty list of fractions in [0, 1] (or \"movies_reference\" / \"newsgroups_reference\")"
                    )));
                }
            }
            (EvaluatorEntry::Perturbation { .. }, other) => {
                return Err(invalid(format!(
                    "evaluator `{n}`: the perturbation test needs class labels; dataset `{ds}` is {} (use imagenet_val)",
                    other.kind()
                )))
            }
            (EvaluatorEntry::Segmentation { .. }, other) => {
                return Err(invalid(format!(
                    "evaluator `{n}`: the segmentation test needs masks; dataset `{ds}` is {} (use imagenet_seg)",
                    other.kind()
                )))
            }
            (EvaluatorEntry::EraserRationales { .. }, other) => {
                return Err(invalid(format!(
                    "evaluator `{n}`: eraser_rationales needs evidence annotations; dataset `{ds}` is {} (use eraser)",
                    other.kind()
                )))
            }
            (EvaluatorEntry::TextPerturbation { .. }, other) => {
                return Err(invalid(format!(
                    "evaluator `{n}`: text_perturbation needs a text dataset; dataset `{ds}` is {} (use eraser or newsgroups)",
                    other.kind()
                )))
            }
        }
        evaluator_datasets.push(ds);
    }
    for (label, e) in labels.iter().zip(&config.explainers) {
        e.method
            .build()
            .map_err(|err| invalid(format!("explainer `{label}`: {err}")))?;
    }
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        name,
        config,
        models,
        datasets,
        dataset_models,
        evaluator_datasets,
        labels,
        explainer_models,
    })
}

/// Reads and parses a config file.
pub fn load_config(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config(&text, path, lookup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "IMAGENET_ROOT" => Some("/data/imagenet".into()),
            "FAITHBENCH_VIT_B16" => Some("/w/vit.pth".into()),
            "IMAGENET_SEG_MAT" => Some("/data/gtsegs_ijcv.mat".into()),
            "FAITHBENCH_WEIGHTS" => Some("/w".into()),
            _ => None,
        }
    }

    const GOOD: &str = r#"
[run]
name = "t"
batch_size = 4

[model]
weights = "${FAITHBENCH_WEIGHTS}/vit.pth"
preset = "vit_b16"

[dataset]
kind = "imagenet_val"
root = "${IMAGENET_ROOT}"
subset = "${CONFIG_DIR}/idx.npy"
limit = 10

[[explainers]]
method = "ours_h"
start_layer = 3
label = "Ours-H"

[[explainers]]
method = "generic_attention"
order = "mean_then_clamp"

[[evaluators]]
kind = "perturbation"
mode = "positive"

[[evaluators]]
kind = "perturbation"
mode = "negative"
class = "target"
auc = "chefer2021"
levels = [0.5]
"#;

    #[test]
    fn explainer_presets_fill_parameters_and_keys_override_them() {
        let text = GOOD.replace(
            "method = \"ours_h\"\nstart_layer = 3\nlabel = \"Ours-H\"",
            "preset = \"ours_t/vit_b16_perturbation\"\nsteps = 7\nlabel = \"Ours-T\"",
        );
        assert_ne!(text, GOOD, "the test edits the first explainer");
        let c = parse_config(&text, Path::new("cfg/run.toml"), &env).unwrap();
        match &c.config.explainers[0].method {
            MethodConfig::OursT(b) => assert_eq!((b.start_layer, b.steps), (Some(6), 7)),
            other => panic!("expected ours_t, got {other:?}"),
        }
        let bad = GOOD.replace(
            "method = \"ours_h\"\nstart_layer = 3",
            "preset = \"ours_h/nope\"",
        );
        let e = parse_config(&bad, Path::new("cfg/run.toml"), &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown preset `ours_h/nope`") && e.contains("cfg/run.toml"),
            "{e}"
        );
    }

    #[test]
    fn good_config_parses_and_expands() {
        let c = parse_config(GOOD, Path::new("cfg/run.toml"), &env).unwrap();
        assert_eq!(c.name, "t");
        assert_eq!(c.models["default"].weights.as_deref(), Some("/w/vit.pth"));
        match &c.datasets["default"] {
            DatasetSection::ImagenetVal {
                root,
                subset,
                limit,
                resize,
                ..
            } => {
                assert_eq!(root, "/data/imagenet");
                assert_eq!(subset.as_deref(), Some("cfg/idx.npy"));
                assert_eq!(*limit, Some(10));
                assert_eq!(*resize, ResizeMode::Squash);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            c.labels,
            vec!["Ours-H", "generic_attention[mean_then_clamp]"]
        );
        assert_eq!(
            c.config.evaluators[0].name(),
            "perturbation_positive_predicted"
        );
        assert_eq!(
            c.config.evaluators[1].name(),
            "perturbation_negative_target"
        );
        assert_eq!(c.evaluator_datasets, vec!["default", "default"]);
    }

    #[test]
    fn unknown_keys_are_errors_naming_key_and_file() {
        for (bad, key) in [
            (GOOD.replace("batch_size = 4", "batchsize = 4"), "batchsize"),
            (
                GOOD.replace("start_layer = 3", "start_layr = 3"),
                "start_layr",
            ),
            (GOOD.replace("limit = 10", "limits = 10"), "limits"),
            (
                GOOD.replace("mode = \"negative\"", "mode = \"negative\"\nfoo = 1"),
                "foo",
            ),
            (
                GOOD.replace("preset = \"vit_b16\"", "preset = \"vit_b16\"\nsize = 3"),
                "size",
            ),
            (format!("{GOOD}\n[extra]\nx = 1\n"), "extra"),
        ] {
            let e = parse_config(&bad, Path::new("cfg/run.toml"), &env)
                .unwrap_err()
                .to_string();
            assert!(e.contains("cfg/run.toml"), "{e}");
            assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
        }
    }

    #[test]
    fn unset_variable_is_named() {
        let bad = GOOD.replace("${IMAGENET_ROOT}", "${NO_SUCH_VAR_X}");
        let e = parse_config(&bad, Path::new("c.toml"), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("NO_SUCH_VAR_X") && e.contains("c.toml"), "{e}");
        assert!(e.contains("root"), "{e}");
    }

    #[test]
    fn expansion_rules() {
        let d = Path::new("/cfg");
        assert_eq!(expand_vars("a$$b", d, &env).unwrap(), "a$b");
        assert_eq!(
            expand_vars("${CONFIG_DIR}/x/${IMAGENET_ROOT}", d, &env).unwrap(),
            "/cfg/x//data/imagenet"
        );
        assert!(expand_vars("$HOME", d, &env).is_err());
        assert!(expand_vars("${HOME", d, &env).is_err());
        assert!(expand_vars("${1X}", d, &env).is_err());
    }

    #[test]
    fn inconsistent_configs_are_rejected() {
        let cases = [
            (GOOD.replace("kind = \"imagenet_val\"\nroot = \"${IMAGENET_ROOT}\"\nsubset = \"${CONFIG_DIR}/idx.npy\"", "kind = \"imagenet_seg\"\npath = \"x.mat\""), "needs class labels"),
            (GOOD.replace("label = \"Ours-H\"", "label = \"x\"").replace("order = \"mean_then_clamp\"", "order = \"mean_then_clamp\"\nlabel = \"x\""), "two explainers"),
            (GOOD.replace("preset = \"vit_b16\"", "preset = \"vit_x\""), "unknown preset"),
            (GOOD.replace("preset = \"vit_b16\"", ""), "needs a `preset`"),
            (GOOD.replace("steps = 3", "").replace("start_layer = 3", "steps = 1"), "steps"),
        ];
        for (bad, msg) in cases {
            let e = parse_config(&bad, Path::new("c.toml"), &env)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
    }

    const TEXT: &str = r#"
[models.vit]
dir = "m/vit"

[models.bert]
dir = "m/bert"

[datasets.img]
kind = "imagenet_val"
root = "i"
model = "vit"

[datasets.movies]
kind = "eraser"
root = "${CONFIG_DIR}/movies"
split = ["test", "train"]
model = "bert"

[[explainers]]
label = "Ours-H"
method = "ours_h"

[[explainers]]
label = "X"
method = "rollout"
model = "vit"

[[explainers]]
label = "X"
method = "raw_attention"
model = "bert"

[[evaluators]]
kind = "perturbation"
dataset = "img"
mode = "positive"

[[evaluators]]
kind = "eraser_rationales"
dataset = "movies"
ks = [1, 5]

[[evaluators]]
kind = "text_perturbation"
dataset = "movies"
mode = "negative"
fractions = "movies_reference"
length_rule = "padded_to_512"
"#;

    #[test]
    fn multi_model_text_config_parses() {
        let c = parse_config(TEXT, Path::new("/cfg/t.toml"), &env).unwrap();
        assert!(c.multi_model());
        assert_eq!(c.dataset_models["movies"], "bert");
        assert_eq!(c.dataset_models["img"], "vit");
        assert_eq!(
            c.explainer_models,
            vec![
                vec!["bert".to_string(), "vit".to_string()],
                vec!["vit".to_string()],
                vec!["bert".to_string()]
            ]
        );
        match &c.datasets["movies"] {
            DatasetSection::Eraser {
                root,
                split,
                max_length,
                ..
            } => {
                assert!(root.ends_with("/movies"));
                assert_eq!(split.list(), vec![Split::Test, Split::Train]);
                assert_eq!(*max_length, 512);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.config.evaluators[1].name(), "eraser_rationales");
        assert_eq!(c.config.evaluators[2].name(), "text_perturbation_negative");
        match &c.config.evaluators[2] {
            EvaluatorEntry::TextPerturbation {
                fractions,
                length_rule,
                class,
                ..
            } => {
                assert_eq!(fractions.values().len(), 9);
                assert_eq!(*length_rule, LengthRuleName::PaddedTo512);
                assert_eq!(
                    *class,
                    ExplainedClass::Target,
                    "BERT explains the ground truth"
                );
            }
            other => panic!("{other:?}"),
        }
        // [model] plus [models.NAME]: datasets without `model` use [model]
        let mixed = TEXT
            .replace("[models.vit]", "[model]")
            .replace(
                "model = \"vit\"\n\n[datasets.movies]",
                "\n[datasets.movies]",
            )
            .replace("model = \"vit\"", "model = \"default\"");
        let c = parse_config(&mixed, Path::new("/cfg/t.toml"), &env).unwrap();
        assert_eq!(c.dataset_models["img"], DEFAULT_MODEL);
    }

    #[test]
    fn inconsistent_text_configs_are_rejected() {
        let cases = [
            (
                TEXT.replace("model = \"bert\"\n\n[[explainers]]", "\n[[explainers]]"),
                "several models",
            ),
            (
                TEXT.replace(
                    "label = \"X\"\nmethod = \"raw_attention\"\nmodel = \"bert\"",
                    "label = \"Ours-H\"\nmethod = \"raw_attention\"",
                ),
                "two explainers",
            ),
            (
                TEXT.replace(
                    "dataset = \"img\"\nmode = \"positive\"",
                    "dataset = \"movies\"\nmode = \"positive\"",
                ),
                "needs class labels",
            ),
            (
                TEXT.replace(
                    "kind = \"eraser_rationales\"\ndataset = \"movies\"",
                    "kind = \"eraser_rationales\"\ndataset = \"img\"",
                ),
                "needs evidence",
            ),
            (TEXT.replace("ks = [1, 5]", "ks = [0]"), "ks must be"),
            (TEXT.replace("ks = [1, 5]", "ks = [5, 5]"), "listed twice"),
            (
                TEXT.replace("fractions = \"movies_reference\"", "fractions = [1.5]"),
                "fractions",
            ),
            (
                TEXT.replace("fractions = \"movies_reference\"", "fractions = \"sst\""),
                "unknown fractions preset `sst`",
            ),
            (
                TEXT.replace(
                    "split = [\"test\", \"train\"]",
                    "split = [\"test\", \"test\"]",
                ),
                "twice",
            ),
            (
                TEXT.replace("split = [\"test\", \"train\"]", "split = \"dev\""),
                "unknown split `dev`",
            ),
            (
                TEXT.replace(
                    "model = \"vit\"\n\n[datasets.movies]",
                    "model = \"bert\"\n\n[datasets.movies]",
                ),
                "not used by any dataset",
            ),
            (
                TEXT.replace(
                    "method = \"rollout\"\nmodel = \"vit\"",
                    "method = \"rollout\"\nmodel = \"gpt\"",
                ),
                "unknown model `gpt`",
            ),
            (
                format!("[model]\ndir = \"x\"\n{TEXT}").replace("[models.vit]", "[models.default]"),
                "[models.default]",
            ),
        ];
        for (bad, msg) in cases {
            let e = parse_config(&bad, Path::new("c.toml"), &env)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
    }

    /// Every config shipped under `configs/` parses (with dummy environment variables), so they
    /// never rot.
    #[test]
    fn shipped_configs_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut found = 0;
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().and_then(|e| e.to_str()) == Some("toml") {
                    let dummy = |name: &str| Some(format!("/dummy/{name}"));
                    if let Err(e) = load_config(&p, &dummy) {
                        panic!("{e}");
                    }
                    found += 1;
                }
            }
        }
        assert!(found >= 5, "only {found} configs under {}", root.display());
    }
}
