//! The resolved plan of a run: everything a config leaves implicit made explicit (model
//! architecture, weights hash, explainer parameters with their model-dependent defaults, the
//! dataset's sample list, protocol settings), serialised as `resolved_config.json` with a stable
//! hash.
//!
//! The hash (`config_hash`) is the sha256 of the canonical JSON (sorted keys, compact) of
//! [`PlanCore`], i.e. of what determines the records. Paths ([`Locations`]) and presentation
//! options ([`Options`]) are recorded but not hashed, so moving the dataset or changing the gallery
//! size does not invalidate a run folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use faithbench_data::Split;
use faithbench_eval::eraser_metrics::DEFAULT_AOPC_THRESHOLDS;
use faithbench_eval::rationales::{SpanListing, REFERENCE_KS};
use faithbench_eval::text_perturbation::{LengthRule, TextAucRule, TextPerturbationConfig};
use faithbench_eval::word_aggregation::WordAlignment;
use faithbench_eval::{
    AucRule, BootstrapConfig, ExplainedClass, PerturbationConfig, PerturbationMode, RemovalValue,
    ScoredClass,
};
use faithbench_explain::MethodConfig;
use faithbench_models::preprocess::ResizeMode;
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::{Family, ModelSpec};
use serde::{Deserialize, Serialize};

use crate::config::{DatasetSection, EvaluatorEntry, LengthRuleName, LoadedConfig, TextRemoval};
use crate::dataset::OpenDataset;
use crate::model::ModelSource;
use crate::util::{canonical_hash, file_stem, sha256_file};

/// `resolved_config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolvedPlan {
    /// sha256 of the canonical JSON of `plan`.
    pub config_hash: String,
    /// What determines the results.
    pub plan: PlanCore,
    /// Where things are on this machine (not hashed).
    pub locations: Locations,
    /// Presentation options (not hashed).
    pub options: Options,
}

/// The hashed part of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanCore {
    /// Run name.
    pub name: String,
    /// The model of a single-model config (`[model]` or one `[models.NAME]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ResolvedModel>,
    /// The models of a multi-model config by name (`[model]` is `default`); datasets and
    /// explainers name theirs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, ResolvedModel>,
    /// Samples per chunk (explainer call).
    pub batch_size: usize,
    /// Images per classifier call in the perturbation test.
    pub eval_batch_size: usize,
    /// Bootstrap settings of the summary's confidence intervals.
    pub bootstrap: BootstrapConfig,
    /// Datasets.
    pub datasets: Vec<ResolvedDataset>,
    /// Explainers.
    pub explainers: Vec<ResolvedExplainer>,
    /// Evaluators.
    pub evaluators: Vec<ResolvedEvaluator>,
}

/// The model of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolvedModel {
    /// Architecture, key layout and normalisation (as in `faithbench.json`).
    pub spec: ModelSpec,
    /// sha256 of the weights file.
    pub weights_sha256: String,
    /// sha256 of the tokenizer file (text models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_sha256: Option<String>,
}

/// A dataset of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResolvedDataset {
    /// Name (`default` for `[dataset]`).
    pub name: String,
    /// `imagenet_val` / `imagenet_seg` / `eraser` / `newsgroups`.
    pub kind: String,
    /// The model's name in a multi-model config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Resize pipeline (image datasets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<ResizeMode>,
    /// Model input side S (image datasets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
    /// Tokenisation and classes (text datasets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextDataset>,
    /// sha256 of the subset index file, if any.
    pub subset_sha256: Option<String>,
    /// Number of samples.
    pub num_samples: usize,
    /// Sample ids in plan order.
    pub sample_ids: Vec<String>,
}

/// The text side of a dataset of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TextDataset {
    /// Word-piece budget incl. `[CLS]`/`[SEP]` (the config's, capped at the model's positions).
    pub max_length: usize,
    /// Class names in label order.
    pub classes: Vec<String>,
    /// ERASER splits in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<Vec<Split>>,
    /// 20 Newsgroups: the reference's 3000-document sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample3000: Option<bool>,
}

/// An explainer of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResolvedExplainer {
    /// Name in tables and plots.
    pub label: String,
    /// File-name form of the label.
    pub stem: String,
    /// The explainer's own name (method and variant), e.g. `generic_attention[mean_then_clamp]`.
    pub name: String,
    /// Method and parameters with every default made explicit for the model.
    pub method: MethodConfig,
    /// The model it explains, in a multi-model config (an `[[explainers]]` entry without
    /// `model` becomes one explainer per model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// An evaluator of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResolvedEvaluator {
    /// Name in tables and file names.
    pub name: String,
    /// File-name form of the name.
    pub stem: String,
    /// Dataset name.
    pub dataset: String,
    /// Protocol and settings.
    pub protocol: Protocol,
}

/// A protocol with its settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Protocol {
    /// Pixel-removal test.
    Perturbation {
        /// Mode, levels, removal value, scored and explained class.
        config: PerturbationConfig,
        /// AUC rule of the summary.
        auc: AucRule,
    },
    /// Segmentation test (explains the predicted class).
    Segmentation,
    /// ERASER rationale metrics of top-k word rationales.
    EraserRationales {
        /// Explained class.
        explained: ExplainedClass,
        /// The k values (capped per document at its number of words).
        ks: Vec<usize>,
        /// Word-piece → word alignment.
        alignment: WordAlignment,
        /// Span listing of the results files.
        listing: SpanListing,
        /// AOPC bins.
        aopc_thresholds: Vec<f64>,
        /// IoU threshold of the partial-match F1.
        iou_threshold: f64,
        /// Whether comprehensiveness/sufficiency/AOPC are measured.
        #[serde(default = "yes")]
        faithfulness: bool,
        /// How words are removed for comprehensiveness/sufficiency.
        removal: TextRemoval,
    },
    /// Token-removal perturbation.
    TextPerturbation {
        /// Mode, fractions, length rule, `[PAD]` id.
        config: TextPerturbationConfig,
        /// Explained class.
        explained: ExplainedClass,
        /// AUC rule of the summary.
        auc: TextAucRule,
    },
}

impl Protocol {
    /// Which class this protocol explains.
    pub fn explained(&self) -> ExplainedClass {
        match self {
            Protocol::Perturbation { config, .. } => config.explained_class,
            Protocol::Segmentation => ExplainedClass::Predicted,
            Protocol::EraserRationales { explained, .. }
            | Protocol::TextPerturbation { explained, .. } => *explained,
        }
    }
}

/// Paths on this machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Locations {
    /// The config file.
    pub config: PathBuf,
    /// The run folder.
    pub out_dir: PathBuf,
    /// The model folder, if any.
    pub model_dir: Option<PathBuf>,
    /// The weights file.
    pub weights: PathBuf,
    /// Dataset files per dataset name.
    pub datasets: BTreeMap<String, DatasetLocation>,
    /// Every model of a multi-model config by name (`model_dir` / `weights` above are the first).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, ModelLocation>,
}

/// Where a model is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelLocation {
    /// The model folder, if any.
    pub dir: Option<PathBuf>,
    /// The weights file.
    pub weights: PathBuf,
    /// The tokenizer file (text models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
}

/// Where a dataset is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetLocation {
    /// ImageNet root or `.mat` file.
    pub path: PathBuf,
    /// Subset index file.
    pub subset: Option<PathBuf>,
}

/// Options that do not change results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Options {
    /// Device name.
    pub device: String,
    /// Gallery size per dataset.
    pub gallery: usize,
    /// The token-map cache folder, if the cache is used.
    pub cache_dir: Option<PathBuf>,
    /// `eraser_rationales` evaluators that do not write ERASER results files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_results_files: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Command-line overrides of a config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--out`.
    pub out_dir: Option<PathBuf>,
    /// `--limit`.
    pub limit: Option<usize>,
    /// `--device`.
    pub device: Option<String>,
}

/// A resolved plan plus the opened resources it was resolved from.
pub struct Resolved {
    /// The plan.
    pub plan: ResolvedPlan,
    /// Model sources by config name (`[model]` is `default`).
    pub models: BTreeMap<String, ModelSource>,
    /// Tokenizers of the text models by config name.
    pub tokenizers: BTreeMap<String, TextTokenizer>,
    /// Config model name of each dataset (same order as `plan.plan.datasets`).
    pub dataset_models: Vec<String>,
    /// Datasets in `plan.plan.datasets` order.
    pub datasets: Vec<OpenDataset>,
}

/// Resolves a loaded config: reads the model descriptions, hashes the weights (and tokenizers),
/// opens the datasets and lists their samples.
pub fn resolve(cfg: &LoadedConfig, ov: &Overrides) -> Result<Resolved> {
    let c = &cfg.config;
    let multi = cfg.multi_model();
    let key_of = |name: &str| multi.then(|| name.to_string());
    let mut sources = BTreeMap::new();
    let mut tokenizers = BTreeMap::new();
    let mut resolved_models = BTreeMap::new();
    let mut model_locations = BTreeMap::new();
    for (name, m) in &cfg.models {
        let what = if c.model.is_some() && name == crate::config::DEFAULT_MODEL {
            "[model]".to_string()
        } else {
            format!("[models.{name}]")
        };
        let source = match (&m.dir, &m.weights) {
            (Some(d), _) => ModelSource::from_dir(Path::new(d), m.normalization),
            (None, Some(w)) => ModelSource::from_weights(
                Path::new(w),
                m.preset.as_deref().unwrap_or_default(),
                m.layout,
                m.normalization,
            ),
            (None, None) => bail!("{}: {what} has neither dir nor weights", cfg.path.display()),
        }
        .with_context(|| format!("{what} of {}", cfg.path.display()))?;
        let weights_sha256 = sha256_file(&source.weights)?;
        let (tokenizer_sha256, tok_path) = if source.facts().family == Family::Bert {
            let p = source
                .tokenizer_path()
                .with_context(|| format!("{what} of {}", cfg.path.display()))?;
            let tok = TextTokenizer::from_file(&p)
                .with_context(|| format!("{what} of {}", cfg.path.display()))?;
            tokenizers.insert(name.clone(), tok);
            (Some(sha256_file(&p)?), Some(p))
        } else {
            (None, None)
        };
        resolved_models.insert(
            name.clone(),
            ResolvedModel {
                spec: source.spec.clone(),
                weights_sha256,
                tokenizer_sha256,
            },
        );
        model_locations.insert(
            name.clone(),
            ModelLocation {
                dir: source.dir.clone(),
                weights: source.weights.clone(),
                tokenizer: tok_path,
            },
        );
        sources.insert(name.clone(), source);
    }

    let mut datasets = Vec::new();
    let mut opened = Vec::new();
    let mut dataset_models = Vec::new();
    let mut ds_locations = BTreeMap::new();
    for (name, d) in &cfg.datasets {
        let limit_of = |l: &Option<usize>| match (l, ov.limit) {
            (Some(a), Some(b)) => Some((*a).min(b)),
            (a, b) => a.or(b),
        };
        let mname = &cfg.dataset_models[name];
        let source = &sources[mname];
        let ctx = || format!("dataset `{name}` of {}", cfg.path.display());
        let family = source.facts().family;
        if d.is_text() && family != Family::Bert {
            bail!(
                "{}: dataset `{name}` is {} (text) but its model `{mname}` is a ViT; text datasets need a BERT model folder",
                cfg.path.display(),
                d.kind()
            );
        }
        if !d.is_text() && family != Family::Vit {
            bail!(
                "{}: dataset `{name}` is {} (images) but its model `{mname}` is a BERT (text) model",
                cfg.path.display(),
                d.kind()
            );
        }
        let (open, resolved) = match d {
            DatasetSection::ImagenetVal {
                root,
                subset,
                limit,
                resize,
                ..
            } => {
                let vit = source.vit_config()?;
                let open = OpenDataset::open_val(
                    Path::new(root),
                    subset.as_deref().map(Path::new),
                    limit_of(limit),
                )
                .with_context(ctx)?;
                let sha = match subset {
                    Some(s) => Some(sha256_file(Path::new(s))?),
                    None => None,
                };
                ds_locations.insert(
                    name.clone(),
                    DatasetLocation {
                        path: root.into(),
                        subset: subset.as_ref().map(PathBuf::from),
                    },
                );
                let r = ResolvedDataset {
                    name: name.clone(),
                    kind: d.kind().into(),
                    model: key_of(mname),
                    resize: Some(*resize),
                    image_size: Some(vit.image_size),
                    text: None,
                    subset_sha256: sha,
                    num_samples: 0,
                    sample_ids: Vec::new(),
                };
                (open, r)
            }
            DatasetSection::ImagenetSeg {
                path,
                limit,
                resize,
                ..
            } => {
                let vit = source.vit_config()?;
                let open =
                    OpenDataset::open_seg(Path::new(path), limit_of(limit)).with_context(ctx)?;
                ds_locations.insert(
                    name.clone(),
                    DatasetLocation {
                        path: path.into(),
                        subset: None,
                    },
                );
                let r = ResolvedDataset {
                    name: name.clone(),
                    kind: d.kind().into(),
                    model: key_of(mname),
                    resize: Some(*resize),
                    image_size: Some(vit.image_size),
                    text: None,
                    subset_sha256: None,
                    num_samples: 0,
                    sample_ids: Vec::new(),
                };
                (open, r)
            }
            DatasetSection::Eraser {
                root,
                split,
                max_length,
                limit,
                classes,
                ..
            } => {
                let bert = source.bert_config()?;
                let classes = classes
                    .clone()
                    .unwrap_or_else(|| vec!["NEG".to_string(), "POS".to_string()]);
                if classes.len() != bert.num_classes {
                    bail!(
                        "{}: dataset `{name}` has {} classes ({}) but model `{mname}` has {} outputs; set `classes`",
                        cfg.path.display(),
                        classes.len(),
                        classes.join(", "),
                        bert.num_classes
                    );
                }
                let splits = split.list();
                let open = OpenDataset::open_eraser(
                    Path::new(root),
                    &splits,
                    limit_of(limit),
                    classes.clone(),
                )
                .with_context(ctx)?;
                ds_locations.insert(
                    name.clone(),
                    DatasetLocation {
                        path: root.into(),
                        subset: None,
                    },
                );
                let r = ResolvedDataset {
                    name: name.clone(),
                    kind: d.kind().into(),
                    model: key_of(mname),
                    resize: None,
                    image_size: None,
                    text: Some(TextDataset {
                        max_length: (*max_length).min(bert.max_position),
                        classes,
                        splits: Some(splits),
                        sample3000: None,
                    }),
                    subset_sha256: None,
                    num_samples: 0,
                    sample_ids: Vec::new(),
                };
                (open, r)
            }
            DatasetSection::Newsgroups {
                root,
                sample3000,
                max_length,
                limit,
                ..
            } => {
                let bert = source.bert_config()?;
                let open =
                    OpenDataset::open_newsgroups(Path::new(root), *sample3000, limit_of(limit))
                        .with_context(ctx)?;
                let mut classes = open.class_names();
                if classes.len() > bert.num_classes {
                    bail!(
                        "{}: dataset `{name}` has labels up to {} but model `{mname}` has {} outputs",
                        cfg.path.display(),
                        classes.len() - 1,
                        bert.num_classes
                    );
                }
                while classes.len() < bert.num_classes {
                    classes.push(format!("LABEL_{}", classes.len()));
                }
                ds_locations.insert(
                    name.clone(),
                    DatasetLocation {
                        path: root.into(),
                        subset: None,
                    },
                );
                let r = ResolvedDataset {
                    name: name.clone(),
                    kind: d.kind().into(),
                    model: key_of(mname),
                    resize: None,
                    image_size: None,
                    text: Some(TextDataset {
                        max_length: (*max_length).min(bert.max_position),
                        classes,
                        splits: None,
                        sample3000: Some(*sample3000),
                    }),
                    subset_sha256: None,
                    num_samples: 0,
                    sample_ids: Vec::new(),
                };
                (open, r)
            }
        };
        let ids = open.ids()?;
        let mut r = resolved;
        r.num_samples = ids.len();
        r.sample_ids = ids;
        datasets.push(r);
        dataset_models.push(mname.clone());
        opened.push(open);
    }

    let mut explainers = Vec::new();
    for ((label, e), applies) in cfg
        .labels
        .iter()
        .zip(&c.explainers)
        .zip(&cfg.explainer_models)
    {
        for m in applies {
            let facts = sources[m].facts();
            let method = e.method.resolved(facts.family, facts.num_layers);
            let name = method
                .build()
                .with_context(|| format!("explainer `{label}`"))?
                .name();
            explainers.push(ResolvedExplainer {
                label: label.clone(),
                stem: file_stem(label),
                name,
                method,
                model: key_of(m),
            });
        }
    }

    let mut evaluators = Vec::new();
    let mut no_results_files = Vec::new();
    for (e, ds) in c.evaluators.iter().zip(&cfg.evaluator_datasets) {
        let name = e.name();
        let di = datasets
            .iter()
            .position(|d| &d.name == ds)
            .context("evaluator dataset")?;
        let protocol = match e {
            EvaluatorEntry::Perturbation {
                mode,
                class,
                auc,
                levels,
                removal,
                ..
            } => Protocol::Perturbation {
                config: perturbation_config(*mode, *class, levels.clone(), *removal),
                auc: *auc,
            },
            EvaluatorEntry::Segmentation { .. } => Protocol::Segmentation,
            EvaluatorEntry::EraserRationales {
                class,
                ks,
                alignment,
                listing,
                aopc_thresholds,
                iou_threshold,
                faithfulness,
                removal,
                results_files,
                ..
            } => {
                if !results_files {
                    no_results_files.push(name.clone());
                }
                Protocol::EraserRationales {
                    explained: *class,
                    ks: ks.clone().unwrap_or_else(|| REFERENCE_KS.to_vec()),
                    alignment: *alignment,
                    listing: *listing,
                    aopc_thresholds: if *faithfulness {
                        aopc_thresholds
                            .clone()
                            .unwrap_or_else(|| DEFAULT_AOPC_THRESHOLDS.to_vec())
                    } else {
                        Vec::new()
                    },
                    iou_threshold: *iou_threshold,
                    faithfulness: *faithfulness,
                    removal: *removal,
                }
            }
            EvaluatorEntry::TextPerturbation {
                mode,
                class,
                fractions,
                length_rule,
                auc,
                ..
            } => {
                let mname = &dataset_models[di];
                let bert = sources[mname].bert_config()?;
                let tok = &tokenizers[mname];
                let max_length = datasets[di].text.as_ref().map_or(0, |t| t.max_length);
                let length_rule = match length_rule {
                    LengthRuleName::RealTokens => LengthRule::RealTokens,
                    LengthRuleName::PaddedTo512 => {
                        if bert.max_position < 512 {
                            bail!(
                                "{}: evaluator `{name}`: length_rule = \"padded_to_512\" needs a model with 512 positions; `{mname}` has {}",
                                cfg.path.display(),
                                bert.max_position
                            );
                        }
                        if max_length > 512 {
                            bail!(
                                "{}: evaluator `{name}`: length_rule = \"padded_to_512\" needs max_length <= 512",
                                cfg.path.display()
                            );
                        }
                        LengthRule::PaddedTo(512)
                    }
                };
                Protocol::TextPerturbation {
                    config: TextPerturbationConfig {
                        mode: *mode,
                        fractions: fractions.values(),
                        length_rule,
                        pad_id: tok.pad_id(),
                    },
                    explained: *class,
                    auc: *auc,
                }
            }
        };
        evaluators.push(ResolvedEvaluator {
            stem: file_stem(&name),
            name,
            dataset: ds.clone(),
            protocol,
        });
    }

    let (model, models) = if multi {
        (None, resolved_models)
    } else {
        (resolved_models.into_values().next(), BTreeMap::new())
    };
    let core = PlanCore {
        name: cfg.name.clone(),
        model,
        models,
        batch_size: c.run.batch_size,
        eval_batch_size: c.run.eval_batch_size,
        bootstrap: BootstrapConfig {
            resamples: c.run.bootstrap_resamples,
            confidence: c.run.confidence,
            seed: c.run.seed,
        },
        datasets,
        explainers,
        evaluators,
    };
    let out_dir = match (&ov.out_dir, &c.run.out_dir) {
        (Some(o), _) => o.clone(),
        (None, Some(o)) => PathBuf::from(o),
        (None, None) => PathBuf::from("results").join(file_stem(&cfg.name)),
    };
    let cache_dir = c.run.cache.then(|| {
        c.run
            .cache_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| out_dir.join("cache"))
    });
    let first = model_locations
        .values()
        .next()
        .cloned()
        .context("no model")?;
    let plan = ResolvedPlan {
        config_hash: canonical_hash(&core)?,
        plan: core,
        locations: Locations {
            config: cfg.path.clone(),
            out_dir,
            model_dir: first.dir.clone(),
            weights: first.weights.clone(),
            datasets: ds_locations,
            models: if multi {
                model_locations
            } else {
                BTreeMap::new()
            },
        },
        options: Options {
            device: ov
                .device
                .clone()
                .or_else(|| c.run.device.clone())
                .unwrap_or_else(|| "cpu".into()),
            gallery: c.run.gallery,
            cache_dir,
            no_results_files,
        },
    };
    Ok(Resolved {
        plan,
        models: sources,
        tokenizers,
        dataset_models,
        datasets: opened,
    })
}

/// The perturbation settings of an evaluator entry (defaults: the ViT reference protocol).
pub fn perturbation_config(
    mode: PerturbationMode,
    class: ExplainedClass,
    levels: Option<Vec<f64>>,
    removal: Option<RemovalValue>,
) -> PerturbationConfig {
    let mut p = PerturbationConfig::vit_reference(mode, class);
    if let Some(l) = levels {
        p.levels = l;
    }
    if let Some(r) = removal {
        p.removal = r;
    }
    p.scored_class = ScoredClass::GroundTruth;
    p
}

impl ResolvedPlan {
    /// Reads `resolved_config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the resolved plan", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a faithbench resolved_config.json", path.display()))
    }

    /// The dataset of an evaluator.
    pub fn dataset(&self, name: &str) -> Option<&ResolvedDataset> {
        self.plan.datasets.iter().find(|d| d.name == name)
    }

    /// The model of a dataset.
    pub fn model_of(&self, ds: &ResolvedDataset) -> Option<&ResolvedModel> {
        match &ds.model {
            None => self.plan.model.as_ref(),
            Some(m) => self.plan.models.get(m),
        }
    }

    /// Whether an explainer runs on a dataset (it explains the dataset's model).
    pub fn applies(&self, x: &ResolvedExplainer, ds: &ResolvedDataset) -> bool {
        x.model == ds.model
    }

    /// The explainers of an evaluator (those of its dataset's model), with their plan indices.
    pub fn explainers_for(&self, e: &ResolvedEvaluator) -> Vec<(usize, &ResolvedExplainer)> {
        let Some(ds) = self.dataset(&e.dataset) else {
            return Vec::new();
        };
        self.plan
            .explainers
            .iter()
            .enumerate()
            .filter(|(_, x)| self.applies(x, ds))
            .collect()
    }
}
