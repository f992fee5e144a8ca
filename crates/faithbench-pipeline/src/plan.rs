//! The resolved plan of a run: everything a config leaves implicit made explicit (model
//! architectures, weights and tokenizer hashes, explainer parameters with their
//! model-dependent defaults, each dataset's sample list and content fingerprint, evaluator
//! settings), serialised as `resolved_config.json` with a stable hash.
//!
//! The hash (`config_hash`) is the sha256 of the canonical JSON (sorted keys, compact) of
//! [`PlanCore`], i.e. of what determines the records. Paths ([`Locations`]) and presentation
//! options ([`Options`]) are recorded but not hashed, so moving the dataset or changing the gallery
//! size does not invalidate a run folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faithbench_data::files::sha256_file;
use faithbench_data::{DatasetReader, Modality};
use faithbench_eval::evaluator::{evaluator_kind, ImageFacts, TextFacts};
use faithbench_eval::{BootstrapConfig, Evaluator, ResolveContext, Resolved};
use faithbench_explain::MethodConfig;
use faithbench_models::precision::Precision;
use faithbench_models::preprocess::Normalization;
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::{Family, ModelSource, ModelSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{DatasetEntry, ModelSection, Preprocess, Settings, ZeroShot, DEFAULT_MODEL};
use crate::error::{Classify, Context, Error, Result};
use crate::published::PublishedCell;
use crate::util::canonical_hash;

/// `resolved_config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
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
    /// Models by config name (`[model]` is `default`).
    pub models: BTreeMap<String, PlanModel>,
    /// Samples per chunk (explainer call).
    pub batch_size: usize,
    /// Samples per classifier call in the evaluators.
    pub eval_batch_size: usize,
    /// Bootstrap settings of the summary's confidence intervals.
    pub bootstrap: BootstrapConfig,
    /// Datasets.
    pub datasets: Vec<PlanDataset>,
    /// Explainers (an `[[explainers]]` entry without `model` becomes one per model).
    pub explainers: Vec<PlanExplainer>,
    /// Evaluators.
    pub evaluators: Vec<PlanEvaluator>,
}

/// A model of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanModel {
    /// Architecture, key layout and normalisation (as in `faithbench.json`).
    pub spec: ModelSpec,
    /// sha256 of the weights file.
    pub weights_sha256: String,
    /// Float precision of the run (`[run] precision`); maps of another precision are other
    /// maps (cache keys differ).
    #[serde(default, skip_serializing_if = "Precision::is_default")]
    pub precision: Precision,
    /// sha256 of the tokenizer file (text models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_sha256: Option<String>,
    /// CLIP models: how the zero-shot prompts are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_shot: Option<ZeroShot>,
}

/// What an image model needs of its input: side, patch, normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageInput {
    /// Input side S.
    pub size: usize,
    /// Patch side.
    pub patch: usize,
    /// Input normalisation.
    pub normalization: Normalization,
}

/// The image input of a model description (`None` for text models).
pub fn image_input(spec: &ModelSpec) -> Option<ImageInput> {
    match spec {
        ModelSpec::Vit { config, .. } => Some(ImageInput {
            size: config.image_size,
            patch: config.patch_size,
            normalization: config.normalization(),
        }),
        ModelSpec::Clip { config, .. } => Some(ImageInput {
            size: config.image_size,
            patch: config.patch_size,
            normalization: config.normalization(),
        }),
        ModelSpec::Bert { .. } => None,
    }
}

/// A dataset of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanDataset {
    /// Name (`default` for `[dataset]`).
    pub name: String,
    /// The dataset kind.
    pub kind: String,
    /// The model it is evaluated with.
    pub model: String,
    /// Resize (images) or word-piece budget capped at the model's positions (text).
    pub preprocess: Preprocess,
    /// Model input side S (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
    /// Class names in label order, where the dataset names them (text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// The zero-shot prompt of each class, in label order (datasets of CLIP models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<String>>,
    /// What identifies the samples' contents (file hashes, splits, …).
    pub fingerprint: Value,
    /// Number of samples.
    pub num_samples: usize,
    /// Sample ids in plan order.
    pub sample_ids: Vec<String>,
}

impl PlanDataset {
    /// Images or texts.
    pub fn modality(&self) -> Modality {
        match self.preprocess {
            Preprocess::Image { .. } => Modality::Image,
            Preprocess::Text { .. } => Modality::Text,
        }
    }
}

/// An explainer of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanExplainer {
    /// Name in tables and plots.
    pub label: String,
    /// File-name form of the label.
    pub stem: String,
    /// The explainer's own name (method and variant), e.g. `generic_attention[mean_then_clamp]`.
    pub name: String,
    /// Method and parameters with every default made explicit for the model.
    pub method: MethodConfig,
    /// The model it explains.
    pub model: String,
}

/// An evaluator of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanEvaluator {
    /// Name in tables and file names.
    pub name: String,
    /// File-name form of the name.
    pub stem: String,
    /// The evaluator kind.
    pub kind: String,
    /// Dataset name.
    pub dataset: String,
    /// Resolved settings.
    pub settings: Value,
}

/// Paths on this machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Locations {
    /// The config file.
    pub config: PathBuf,
    /// The run folder.
    pub out_dir: PathBuf,
    /// Every model by name.
    pub models: BTreeMap<String, ModelLocation>,
    /// Files and folders each dataset reads, by dataset name.
    pub datasets: BTreeMap<String, Vec<PathBuf>>,
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

/// Options that do not change results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Options {
    /// Device name.
    pub device: String,
    /// Gallery size per dataset.
    pub gallery: usize,
    /// The token-map cache folder, if the cache is used.
    pub cache_dir: Option<PathBuf>,
    /// Presentation options of evaluators, by evaluator name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub evaluators: BTreeMap<String, Value>,
    /// The published values the config wires to its cells (shown beside the summary's values;
    /// not hashed: they do not change what is computed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedCell>,
}

/// Command-line overrides of a config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--out`.
    pub out_dir: Option<PathBuf>,
    /// `--limit`: at most this many samples per dataset (on top of the config's `limit`).
    pub limit: Option<usize>,
    /// `--device`.
    pub device: Option<String>,
}

/// What a plan was resolved from, opened: model sources, tokenizers, dataset readers.
pub struct Resources {
    /// Model sources by config name.
    pub models: BTreeMap<String, ModelSource>,
    /// Tokenizers of the text models by config name.
    pub tokenizers: BTreeMap<String, TextTokenizer>,
    /// Dataset readers in `plan.datasets` order.
    pub datasets: Vec<Box<dyn DatasetReader>>,
}

/// The modality a model family reads.
pub fn family_modality(family: Family) -> Modality {
    match family {
        Family::Vit | Family::Clip => Modality::Image,
        Family::Bert | Family::ClipText => Modality::Text,
    }
}

fn model_what(name: &str) -> String {
    if name == DEFAULT_MODEL {
        "[model]".to_string()
    } else {
        format!("[models.{name}]")
    }
}

fn open_model(m: &ModelSection) -> Result<ModelSource> {
    Ok(match (&m.dir, &m.weights) {
        (Some(d), _) => ModelSource::from_dir(Path::new(d), m.normalization)?,
        (None, Some(w)) => ModelSource::from_weights(
            Path::new(w),
            m.preset.as_deref().unwrap_or_default(),
            m.layout,
            m.normalization,
        )?,
        (None, None) => return Err(Error::input("a model needs `dir` or `weights`")),
    })
}

/// Resolves validated settings: reads the model descriptions, hashes the weights (and
/// tokenizers), opens the datasets and lists their samples, resolves explainers and evaluators
/// for their models and datasets.
pub fn resolve(settings: &Settings, ov: &Overrides) -> Result<(Plan, Resources)> {
    let cfg_path = settings.path.display().to_string();
    let mut sources = BTreeMap::new();
    let mut tokenizers = BTreeMap::new();
    let mut models = BTreeMap::new();
    let mut model_locations = BTreeMap::new();
    for (name, m) in &settings.models {
        let what = model_what(name);
        let ctx = || format!("{what} of {cfg_path}");
        let source = open_model(m).context(ctx)?;
        let weights_sha256 = sha256_file(&source.weights)
            .input_err(|| format!("{what}: cannot hash the weights"))?;
        let (tokenizer_sha256, tok_path) = if family_modality(source.facts().family)
            == Modality::Text
        {
            let p = source.tokenizer_path().context(ctx)?;
            let tok = TextTokenizer::from_file(&p).context(ctx)?;
            tokenizers.insert(name.clone(), tok);
            (
                Some(sha256_file(&p).input_err(|| format!("{what}: cannot hash the tokenizer"))?),
                Some(p),
            )
        } else {
            (None, None)
        };
        let is_clip = matches!(source.spec, ModelSpec::Clip { .. });
        let zero_shot = match (&m.zero_shot, is_clip) {
            (z, true) => Some(z.clone().unwrap_or_default()),
            (None, false) => None,
            (Some(_), false) => {
                return Err(Error::input(format!(
                    "{what} of {cfg_path}: `zero_shot` applies to CLIP models; this is a {} model",
                    source.facts().family.name()
                )))
            }
        };
        models.insert(
            name.clone(),
            PlanModel {
                spec: source.spec.clone(),
                weights_sha256,
                precision: settings.run.precision,
                tokenizer_sha256,
                zero_shot,
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
    let mut readers = Vec::new();
    let mut ds_locations = BTreeMap::new();
    for d in &settings.datasets {
        let source = &sources[&d.model];
        let (pd, reader, locations) =
            resolve_dataset(d, source, models[&d.model].zero_shot.as_ref(), ov.limit)
                .context(|| format!("dataset `{}` of {cfg_path}", d.name))?;
        ds_locations.insert(d.name.clone(), locations);
        datasets.push(pd);
        readers.push(reader);
    }

    let mut explainers = Vec::new();
    for x in &settings.explainers {
        for m in &x.models {
            let facts = sources[m].facts();
            let method = x.method.resolved(facts.family, facts.num_layers);
            let name = method
                .build()
                .context(|| format!("explainer `{}`", x.label))?
                .name();
            explainers.push(PlanExplainer {
                label: x.label.clone(),
                stem: x.stem.clone(),
                name,
                method,
                model: m.clone(),
            });
        }
    }

    let mut evaluators = Vec::new();
    let mut evaluator_options = BTreeMap::new();
    for e in &settings.evaluators {
        let d = datasets
            .iter()
            .find(|d| d.name == e.dataset)
            .ok_or_else(|| Error::failure(format!("evaluator `{}`: no dataset", e.name)))?;
        let text = match d.preprocess {
            Preprocess::Text { max_length } => {
                let tok = &tokenizers[&d.model];
                Some(TextFacts {
                    pad_id: tok.pad_id(),
                    max_length,
                    max_position: sources[&d.model].bert_config()?.max_position,
                })
            }
            Preprocess::Image { .. } => None,
        };
        let image = image_input(&sources[&d.model].spec).map(|i| {
            let (mean, std) = i.normalization.mean_std();
            ImageFacts { mean, std }
        });
        let ctx = ResolveContext {
            evaluator: &e.name,
            dataset: &d.name,
            classes: d.classes.as_deref(),
            text,
            image,
        };
        let r = (e.kind.resolve)(&e.keys, &ctx).context(|| format!("{cfg_path}"))?;
        if !r.options.is_null() {
            evaluator_options.insert(e.name.clone(), r.options);
        }
        evaluators.push(PlanEvaluator {
            name: e.name.clone(),
            stem: e.stem.clone(),
            kind: e.kind.kind.to_string(),
            dataset: e.dataset.clone(),
            settings: r.settings,
        });
    }

    let run = &settings.run;
    let core = PlanCore {
        name: settings.name.clone(),
        models,
        batch_size: run.batch_size,
        eval_batch_size: run.eval_batch_size,
        bootstrap: BootstrapConfig {
            resamples: run.bootstrap_resamples,
            confidence: run.confidence,
            seed: run.seed,
        },
        datasets,
        explainers,
        evaluators,
    };
    let out_dir = match (&ov.out_dir, &run.out_dir) {
        (Some(o), _) => o.clone(),
        (None, Some(o)) => PathBuf::from(o),
        (None, None) => {
            PathBuf::from("results").join(faithbench_data::files::file_stem(&settings.name))
        }
    };
    let cache_dir = run.cache.then(|| {
        run.cache_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| out_dir.join("cache"))
    });
    let plan = Plan {
        config_hash: canonical_hash(&core)?,
        plan: core,
        locations: Locations {
            config: settings.path.clone(),
            out_dir,
            models: model_locations,
            datasets: ds_locations,
        },
        options: Options {
            device: ov
                .device
                .clone()
                .or_else(|| run.device.clone())
                .unwrap_or_else(|| "cpu".into()),
            gallery: run.gallery,
            cache_dir,
            evaluators: evaluator_options,
            published: settings.published.clone(),
        },
    };
    Ok((
        plan,
        Resources {
            models: sources,
            tokenizers,
            datasets: readers,
        },
    ))
}

fn resolve_dataset(
    d: &DatasetEntry,
    source: &ModelSource,
    zero_shot: Option<&ZeroShot>,
    limit: Option<usize>,
) -> Result<(PlanDataset, Box<dyn DatasetReader>, Vec<PathBuf>)> {
    let facts = source.facts();
    let wants = family_modality(facts.family);
    if wants != d.kind.modality {
        return Err(Error::input(format!(
            "it is {} ({} data) but its model `{}` is a {} model, which reads {} data",
            d.kind.kind,
            d.kind.modality.name(),
            d.model,
            facts.family.name(),
            wants.name()
        )));
    }
    let opened = (d.kind.open)(&d.keys)?;
    let reader = opened.reader;
    let mut prompts = None;
    let (preprocess, image_size, classes) = match d.preprocess {
        Preprocess::Image { resize } => {
            let input = image_input(&source.spec)
                .ok_or_else(|| Error::failure(format!("model `{}` has no image input", d.model)))?;
            if let Some(z) = zero_shot {
                let synonyms = match &z.classes {
                    Some(names) => {
                        let n = reader.class_synonyms()?.map(|s| s.len());
                        if let Some(n) = n.filter(|&n| n != names.len()) {
                            return Err(Error::input(format!(
                                "dataset `{}`: zero_shot.classes names {} classes, the dataset has {n}",
                                d.name,
                                names.len()
                            )));
                        }
                        names.iter().map(|c| vec![c.clone()]).collect()
                    }
                    None => reader.class_synonyms()?.ok_or_else(|| {
                        Error::input(format!(
                            "CLIP's zero-shot classifier needs the classes' names; {} datasets have none \
                             (name them with zero_shot.classes)",
                            d.kind.kind
                        ))
                    })?,
                };
                prompts = Some(
                    synonyms
                        .iter()
                        .map(|s| {
                            faithbench_data::imagenet_classes::prompt(&z.template, s, z.names)
                                .input_err(|| format!("dataset `{}`: zero-shot prompt", d.name))
                        })
                        .collect::<Result<Vec<_>>>()?,
                );
            }
            (Preprocess::Image { resize }, Some(input.size), None)
        }
        Preprocess::Text { max_length } => {
            let bert = source.bert_config()?;
            let classes = reader.class_names(bert.num_classes)?;
            (
                Preprocess::Text {
                    max_length: max_length.min(bert.max_position),
                },
                None,
                classes,
            )
        }
    };
    let n = [d.limit, limit]
        .into_iter()
        .flatten()
        .fold(reader.len(), usize::min);
    let sample_ids = (0..n)
        .map(|i| reader.id(i))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let pd = PlanDataset {
        name: d.name.clone(),
        kind: d.kind.kind.to_string(),
        model: d.model.clone(),
        preprocess,
        image_size,
        classes,
        prompts,
        fingerprint: opened.fingerprint,
        num_samples: n,
        sample_ids,
    };
    Ok((pd, reader, opened.locations))
}

impl Plan {
    /// Reads `resolved_config.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .input_err(|| format!("{}: cannot read the resolved plan", path.display()))?;
        serde_json::from_str(&text)
            .input_err(|| format!("{}: not a faithbench resolved_config.json", path.display()))
    }

    /// Reads the plan of a run folder, pointing its output at that folder.
    pub fn of_run(run_dir: &Path) -> Result<Self> {
        let mut plan = Self::read(&run_dir.join("resolved_config.json"))?;
        plan.locations.out_dir = run_dir.to_path_buf();
        Ok(plan)
    }

    /// The dataset of this name.
    pub fn dataset(&self, name: &str) -> Option<&PlanDataset> {
        self.plan.datasets.iter().find(|d| d.name == name)
    }

    /// The model of a dataset.
    pub fn model_of(&self, ds: &PlanDataset) -> Option<&PlanModel> {
        self.plan.models.get(&ds.model)
    }

    /// Whether an explainer runs on a dataset (it explains the dataset's model).
    pub fn applies(&self, x: &PlanExplainer, ds: &PlanDataset) -> bool {
        x.model == ds.model
    }

    /// The explainers of an evaluator (those of its dataset's model), with their plan indices.
    pub fn explainers_for(&self, e: &PlanEvaluator) -> Vec<(usize, &PlanExplainer)> {
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

    /// Builds an evaluator of the plan from its registry entry.
    pub fn evaluator(&self, e: &PlanEvaluator) -> Result<Box<dyn Evaluator>> {
        let info = evaluator_kind(&e.kind).ok_or_else(|| {
            Error::input(format!(
                "evaluator `{}` is of kind `{}`, which this faithbench does not know",
                e.name, e.kind
            ))
        })?;
        let r = Resolved {
            settings: e.settings.clone(),
            options: self
                .options
                .evaluators
                .get(&e.name)
                .cloned()
                .unwrap_or(Value::Null),
        };
        (info.build)(&r).context(|| format!("evaluator `{}`", e.name))
    }

    /// The number of samples planned over all datasets.
    pub fn num_samples(&self) -> usize {
        self.plan.datasets.iter().map(|d| d.num_samples).sum()
    }
}

/// Records file of an (evaluator, explainer) pair.
pub fn records_path(out: &Path, e: &PlanEvaluator, x: &PlanExplainer) -> PathBuf {
    out.join("records")
        .join(format!("{}__{}.jsonl", e.stem, x.stem))
}
