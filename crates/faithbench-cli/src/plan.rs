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
use faithbench_eval::{
    AucRule, BootstrapConfig, ExplainedClass, PerturbationConfig, PerturbationMode, RemovalValue,
    ScoredClass,
};
use faithbench_explain::MethodConfig;
use faithbench_models::preprocess::ResizeMode;
use faithbench_models::{Family, ModelSpec};
use serde::{Deserialize, Serialize};

use crate::config::{DatasetSection, EvaluatorEntry, LoadedConfig};
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
    /// Model.
    pub model: ResolvedModel,
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
}

/// A dataset of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResolvedDataset {
    /// Name (`default` for `[dataset]`).
    pub name: String,
    /// `imagenet_val` / `imagenet_seg`.
    pub kind: String,
    /// Resize pipeline.
    pub resize: ResizeMode,
    /// Model input side S.
    pub image_size: usize,
    /// sha256 of the subset index file, if any.
    pub subset_sha256: Option<String>,
    /// Number of samples.
    pub num_samples: usize,
    /// Sample ids in plan order.
    pub sample_ids: Vec<String>,
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
}

impl Protocol {
    /// Which class this protocol explains.
    pub fn explained(&self) -> ExplainedClass {
        match self {
            Protocol::Perturbation { config, .. } => config.explained_class,
            Protocol::Segmentation => ExplainedClass::Predicted,
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
    /// Model source.
    pub model: ModelSource,
    /// Datasets in `plan.plan.datasets` order.
    pub datasets: Vec<OpenDataset>,
}

/// Resolves a loaded config: reads the model description, hashes the weights, opens the datasets
/// and lists their samples.
pub fn resolve(cfg: &LoadedConfig, ov: &Overrides) -> Result<Resolved> {
    let c = &cfg.config;
    let m = &c.model;
    let model = match (&m.dir, &m.weights) {
        (Some(d), _) => ModelSource::from_dir(Path::new(d), m.normalization),
        (None, Some(w)) => ModelSource::from_weights(
            Path::new(w),
            m.preset.as_deref().unwrap_or_default(),
            m.layout,
            m.normalization,
        ),
        (None, None) => bail!(
            "{}: [model] has neither dir nor weights",
            cfg.path.display()
        ),
    }
    .with_context(|| format!("[model] of {}", cfg.path.display()))?;
    let facts = model.facts();
    if facts.family != Family::Vit {
        bail!(
            "{}: `faithbench run` evaluates image models; {} is a text model (use `faithbench explain --text`)",
            cfg.path.display(),
            model.weights.display()
        );
    }
    let vit = model.vit_config()?;
    let weights_sha256 = sha256_file(&model.weights)?;

    let mut datasets = Vec::new();
    let mut opened = Vec::new();
    let mut ds_locations = BTreeMap::new();
    for (name, d) in &cfg.datasets {
        let limit_of = |l: &Option<usize>| match (l, ov.limit) {
            (Some(a), Some(b)) => Some((*a).min(b)),
            (a, b) => a.or(b),
        };
        let (open, resize, subset_sha256, loc) = match d {
            DatasetSection::ImagenetVal {
                root,
                subset,
                limit,
                resize,
            } => {
                let open = OpenDataset::open_val(
                    Path::new(root),
                    subset.as_deref().map(Path::new),
                    limit_of(limit),
                )
                .with_context(|| format!("dataset `{name}` of {}", cfg.path.display()))?;
                let sha = match subset {
                    Some(s) => Some(sha256_file(Path::new(s))?),
                    None => None,
                };
                (
                    open,
                    *resize,
                    sha,
                    DatasetLocation {
                        path: root.into(),
                        subset: subset.as_ref().map(PathBuf::from),
                    },
                )
            }
            DatasetSection::ImagenetSeg {
                path,
                limit,
                resize,
            } => {
                let open = OpenDataset::open_seg(Path::new(path), limit_of(limit))
                    .with_context(|| format!("dataset `{name}` of {}", cfg.path.display()))?;
                (
                    open,
                    *resize,
                    None,
                    DatasetLocation {
                        path: path.into(),
                        subset: None,
                    },
                )
            }
        };
        let ids = open.ids()?;
        datasets.push(ResolvedDataset {
            name: name.clone(),
            kind: d.kind().into(),
            resize,
            image_size: vit.image_size,
            subset_sha256,
            num_samples: ids.len(),
            sample_ids: ids,
        });
        ds_locations.insert(name.clone(), loc);
        opened.push(open);
    }

    let explainers = cfg
        .labels
        .iter()
        .zip(&c.explainers)
        .map(|(label, e)| {
            let method = e.method.resolved(facts.family, facts.num_layers);
            let name = method
                .build()
                .with_context(|| format!("explainer `{label}`"))?
                .name();
            Ok(ResolvedExplainer {
                label: label.clone(),
                stem: file_stem(label),
                name,
                method,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let evaluators = c
        .evaluators
        .iter()
        .zip(&cfg.evaluator_datasets)
        .map(|(e, ds)| {
            let name = e.name();
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
            };
            ResolvedEvaluator {
                stem: file_stem(&name),
                name,
                dataset: ds.clone(),
                protocol,
            }
        })
        .collect();

    let core = PlanCore {
        name: cfg.name.clone(),
        model: crate::plan::ResolvedModel {
            spec: model.spec.clone(),
            weights_sha256,
        },
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
    let plan = ResolvedPlan {
        config_hash: canonical_hash(&core)?,
        plan: core,
        locations: Locations {
            config: cfg.path.clone(),
            out_dir,
            model_dir: model.dir.clone(),
            weights: model.weights.clone(),
            datasets: ds_locations,
        },
        options: Options {
            device: ov
                .device
                .clone()
                .or_else(|| c.run.device.clone())
                .unwrap_or_else(|| "cpu".into()),
            gallery: c.run.gallery,
            cache_dir,
        },
    };
    Ok(Resolved {
        plan,
        model,
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
}
