//! Run configuration files (`faithbench run CONFIG.toml`) → validated [`Settings`].
//!
//! Every table rejects unknown keys, so a typo is an error naming the key and the file; the
//! kind-specific keys of datasets, explainers and evaluators are parsed by their registries
//! (`faithbench_data::DATASETS`, `faithbench_explain::METHODS`,
//! `faithbench_eval::EVALUATORS`). `docs/config.md` documents every key.
//!
//! Paths: `${VAR}` expands to the environment variable `VAR` (an unset variable is an error naming
//! it), `${CONFIG_DIR}` to the folder of the config file, `$$` to a literal `$`. After expansion, a
//! relative path is relative to the **current working directory** (run from the repository root;
//! use `${CONFIG_DIR}/...` for paths next to the config).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use faithbench_data::files::file_stem;
use faithbench_data::{Capability, DatasetInfo, Modality};
use faithbench_eval::evaluator::{evaluator_kind, evaluator_kind_names, ImageFacts, TextFacts};
use faithbench_eval::{EvaluatorInfo, ResolveContext};
use faithbench_explain::MethodConfig;
use faithbench_models::preprocess::{Normalization, ResizeMode};
use faithbench_models::Layout;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::published::{PublishedCell, PublishedFile};

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

/// A whole config file as written (kind-specific tables still untyped).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    run: RunSection,
    #[serde(default)]
    model: Option<ModelSection>,
    #[serde(default)]
    models: BTreeMap<String, ModelSection>,
    #[serde(default)]
    dataset: Option<toml::Table>,
    #[serde(default)]
    datasets: BTreeMap<String, toml::Table>,
    #[serde(default)]
    explainers: Vec<toml::Table>,
    #[serde(default)]
    evaluators: Vec<toml::Table>,
    #[serde(default)]
    published: Option<PublishedSection>,
}

/// `[published]`: the published-numbers file the config's `published` keys refer to
/// (`configs/paper/published.toml` format; docs/config.md, "Published numbers").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedSection {
    file: String,
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
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
    /// Images (sequences) per classifier call in the evaluators (default 32).
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
    /// Device (`cpu`; `wgpu`, `wgpu-cpu` / `cuda` in builds with those features, docs/gpu.md); `--device` overrides it.
    #[serde(default)]
    pub device: Option<String>,
    /// Float precision of every tensor: `f32` (default) or `f64` (LRP to the first layers;
    /// about 2× the cost). Part of the plan: it changes the maps.
    #[serde(default)]
    pub precision: faithbench_models::precision::Precision,
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
            precision: Default::default(),
            cache: true,
            cache_dir: None,
        }
    }
}

/// `[model]` / `[models.NAME]`: either `dir` (a folder with `faithbench.json` and weights, or a
/// Hugging Face BERT folder) or `weights` + `preset` (+ `layout`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Model folder.
    #[serde(default)]
    pub dir: Option<String>,
    /// Checkpoint file (`.safetensors`, `.pth`, `.bin`).
    #[serde(default)]
    pub weights: Option<String>,
    /// Architecture preset for `weights` (`faithbench list` shows them).
    #[serde(default)]
    pub preset: Option<String>,
    /// Key layout of `weights` (default: the preset's).
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Override of the input normalisation: `"half"`, `"imagenet"`, `"clip"` or
    /// `{ custom = { mean = [..], std = [..] } }`.
    #[serde(default)]
    pub normalization: Option<Normalization>,
    /// CLIP models: the zero-shot prompts of the dataset's classes (default
    /// `{ template = "a photo of a {}", names = "first_synonym" }`).
    #[serde(default)]
    pub zero_shot: Option<ZeroShot>,
}

fn d_template() -> String {
    "a photo of a {}".to_string()
}

/// How a CLIP model classifies a dataset's images: the image against one prompt per class
/// (protocols §4.3).
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZeroShot {
    /// The prompt, with `{}` for the class name (the reference's `"a photo of a {}"`).
    #[serde(default = "d_template")]
    pub template: String,
    /// How a class's synonyms fill `{}`: `first_synonym` (default, `a photo of a tench`) or
    /// `reference_tuple` (the reference script's Python tuple, `a photo of a ('tench', 'Tinca
    /// tinca')`, pitfall P9c).
    #[serde(default)]
    pub names: faithbench_data::imagenet_classes::ClassNameRule,
    /// The class names in label order, replacing the dataset's (e.g. `["disc", "square", …]`
    /// for folders named `0_disc`, `1_square`, …); each is one synonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

impl Default for ZeroShot {
    fn default() -> Self {
        ZeroShot {
            template: d_template(),
            names: Default::default(),
            classes: None,
        }
    }
}

/// Preprocessing settings of a dataset, by modality.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "modality", rename_all = "snake_case")]
pub enum Preprocess {
    /// Images: how they are resized to the model's input.
    Image {
        /// Resize pipeline (`squash` = PIL `Resize((S, S))`, the default).
        resize: ResizeMode,
    },
    /// Texts: the word-piece budget incl. `[CLS]`/`[SEP]` (capped at the model's positions;
    /// longer documents are truncated keeping the final `[SEP]`).
    Text {
        /// Word pieces.
        max_length: usize,
    },
}

/// A validated `[datasets.NAME]` table.
#[derive(Debug, Clone)]
pub struct DatasetEntry {
    /// Name (`default` for `[dataset]`).
    pub name: String,
    /// The kind's registry entry.
    pub kind: &'static DatasetInfo,
    /// The model it is evaluated with.
    pub model: String,
    /// Keep only the first `limit` samples.
    pub limit: Option<usize>,
    /// Resize (images) or word-piece budget (text).
    pub preprocess: Preprocess,
    /// The kind's own keys, paths expanded.
    pub keys: Map<String, Value>,
}

/// A validated `[[explainers]]` table.
#[derive(Debug, Clone)]
pub struct ExplainerEntry {
    /// Name in tables, plots and file names.
    pub label: String,
    /// File-name form of the label.
    pub stem: String,
    /// The method and its parameters (paths expanded).
    pub method: MethodConfig,
    /// The models it explains (those some dataset uses).
    pub models: Vec<String>,
    /// Its column in the published tables (`published = "ours_h"`), if any.
    pub published: Option<String>,
}

/// A validated `[[evaluators]]` table.
#[derive(Debug, Clone)]
pub struct EvaluatorEntry {
    /// Name in tables and file names (explicit or the kind's default).
    pub name: String,
    /// File-name form of the name.
    pub stem: String,
    /// The kind's registry entry.
    pub kind: &'static EvaluatorInfo,
    /// The dataset it reads.
    pub dataset: String,
    /// The kind's own keys.
    pub keys: Map<String, Value>,
    /// The published tables its cells are held against, searched in order
    /// (`published = "bi2023/vit_b16/…"` or a list).
    pub published: Vec<String>,
    /// Its settings as resolved from the config alone, which the published tables'
    /// `requires` (mode, class, AUC rule: nothing the data decides) are checked against.
    dry_settings: Value,
}

/// A parsed, expanded and checked config. Nothing has been read besides the config file.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file.
    pub path: PathBuf,
    /// The run name.
    pub name: String,
    /// `[run]` with paths expanded.
    pub run: RunSection,
    /// Models by name (`[model]` is `default`), paths expanded.
    pub models: BTreeMap<String, ModelSection>,
    /// Datasets in name order.
    pub datasets: Vec<DatasetEntry>,
    /// Explainers in config order.
    pub explainers: Vec<ExplainerEntry>,
    /// Evaluators in config order.
    pub evaluators: Vec<EvaluatorEntry>,
    /// The published cells the `published` keys wire (checked against the evaluators'
    /// settings; see [`crate::published`]).
    pub published: Vec<PublishedCell>,
}

/// Name of the `[model]` table among the models.
pub const DEFAULT_MODEL: &str = "default";

impl Settings {
    /// Reads and checks a config file; `${VAR}` come from the process environment.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with(path, &process_env)
    }

    /// Reads and checks a config file with variables from `lookup`.
    pub fn load_with(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, lookup)
    }

    /// The dataset of this name.
    pub fn dataset(&self, name: &str) -> Option<&DatasetEntry> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Parses a config string (`path` names it in errors and anchors `${CONFIG_DIR}`).
    pub fn parse(
        text: &str,
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Parser::new(path, lookup).parse(text)
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

/// Expands `preset = "method/setting"` in `[[explainers]]` tables
/// (`faithbench_explain::presets`): the preset's parameters are filled in and keys written next
/// to `preset` override them.
fn apply_preset(table: &mut Map<String, Value>, i: usize) -> Result<(), String> {
    let Some(name) = table.remove("preset") else {
        return Ok(());
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
        table.entry(k).or_insert(v);
    }
    Ok(())
}

fn to_json(t: &toml::Table) -> Map<String, Value> {
    match serde_json::to_value(t) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn take_str(m: &mut Map<String, Value>, key: &str, what: &str) -> Result<Option<String>, String> {
    match m.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("{what}.{key} must be a string, got {other}")),
    }
}

/// A string or a list of strings.
fn take_str_list(m: &mut Map<String, Value>, key: &str, what: &str) -> Result<Vec<String>, String> {
    match m.remove(key) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(format!(
                    "{what}.{key} must be a string or a list of strings, got {other}"
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "{what}.{key} must be a string or a list of strings, got {other}"
        )),
    }
}

struct Parser<'a> {
    path: &'a Path,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    config_dir: PathBuf,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        let config_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let config_dir = std::fs::canonicalize(&config_dir).unwrap_or(config_dir);
        Parser {
            path,
            lookup,
            config_dir,
        }
    }

    fn invalid(&self, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn parse_err(&self, message: String) -> ConfigError {
        ConfigError::Parse {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn expand(&self, key: &str, v: &mut String) -> Result<(), ConfigError> {
        *v = expand_vars(v, &self.config_dir, self.lookup).map_err(|message| ConfigError::Env {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            message,
        })?;
        Ok(())
    }

    fn expand_value(&self, key: &str, v: &mut Value) -> Result<(), ConfigError> {
        if let Value::String(s) = v {
            self.expand(key, s)?;
        }
        Ok(())
    }

    fn parse(&self, text: &str) -> Result<Settings, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| self.parse_err(e.to_string().trim_end().to_string()))?;
        let mut run = raw.run.clone();
        if let Some(o) = run.out_dir.as_mut() {
            self.expand("run.out_dir", o)?;
        }
        if let Some(o) = run.cache_dir.as_mut() {
            self.expand("run.cache_dir", o)?;
        }
        let name = match &run.name {
            Some(n) => n.clone(),
            None => self
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into()),
        };
        if name.is_empty() {
            return Err(self.invalid("run.name is empty".into()));
        }
        self.check_run(&run)?;
        let models = self.models(&raw)?;
        let datasets = self.datasets(&raw, &models)?;
        let used: BTreeSet<&String> = datasets.iter().map(|d| &d.model).collect();
        if let Some(unused) = models.keys().find(|m| !used.contains(m)) {
            return Err(self.invalid(format!("model `{unused}` is not used by any dataset")));
        }
        let explainers = self.explainers(&raw, &models)?;
        let evaluators = self.evaluators(&raw, &datasets)?;
        let published_file = match &raw.published {
            Some(p) => {
                let mut f = p.file.clone();
                self.expand("published.file", &mut f)?;
                Some(PathBuf::from(f))
            }
            None => None,
        };
        let wired = explainers.iter().any(|x| x.published.is_some())
            || evaluators.iter().any(|e| !e.published.is_empty());
        if wired && published_file.is_none() {
            return Err(self.invalid(
                "`published` keys need the file they refer to: add [published] file = \"${CONFIG_DIR}/published.toml\"".into(),
            ));
        }
        let published = match &published_file {
            Some(f) => self.published_cells(f, &datasets, &explainers, &evaluators)?,
            None => Vec::new(),
        };
        Ok(Settings {
            path: self.path.to_path_buf(),
            name,
            run,
            models,
            datasets,
            explainers,
            evaluators,
            published,
        })
    }

    /// The published cells: for every evaluator with a `published` table, each explainer of
    /// its dataset's model with a `published` column.
    fn published_cells(
        &self,
        file: &Path,
        datasets: &[DatasetEntry],
        explainers: &[ExplainerEntry],
        evaluators: &[EvaluatorEntry],
    ) -> Result<Vec<PublishedCell>, ConfigError> {
        let pf = PublishedFile::read(file).map_err(|e| self.invalid(e.to_string()))?;
        let mut cells = Vec::new();
        for e in evaluators {
            if e.published.is_empty() {
                continue;
            }
            let Some(d) = datasets.iter().find(|d| d.name == e.dataset) else {
                continue;
            };
            for x in explainers.iter().filter(|x| x.models.contains(&d.model)) {
                if let Some(column) = &x.published {
                    let c = pf
                        .cells(
                            file,
                            &e.published,
                            column,
                            &e.name,
                            &e.dry_settings,
                            &x.label,
                        )
                        .map_err(|err| self.invalid(err.to_string()))?;
                    cells.extend(c);
                }
            }
        }
        Ok(cells)
    }

    fn check_run(&self, run: &RunSection) -> Result<(), ConfigError> {
        if run.batch_size == 0 || run.eval_batch_size == 0 {
            return Err(
                self.invalid("[run]: batch_size and eval_batch_size must be at least 1".into())
            );
        }
        if run.bootstrap_resamples == 0 {
            return Err(self.invalid("[run]: bootstrap_resamples must be at least 1".into()));
        }
        if !(run.confidence > 0.0 && run.confidence < 1.0) {
            return Err(self.invalid(format!(
                "[run]: confidence must lie in (0, 1), got {}",
                run.confidence
            )));
        }
        Ok(())
    }

    fn models(&self, raw: &RawConfig) -> Result<BTreeMap<String, ModelSection>, ConfigError> {
        let mut models = raw.models.clone();
        if let Some(m) = &raw.model {
            if models.contains_key(DEFAULT_MODEL) {
                return Err(self.invalid(format!(
                    "[model] is the model named `{DEFAULT_MODEL}`; do not also define [models.{DEFAULT_MODEL}]"
                )));
            }
            models.insert(DEFAULT_MODEL.into(), m.clone());
        }
        if models.is_empty() {
            return Err(
                self.invalid("no model: add a [model] table (or [models.NAME] tables)".into())
            );
        }
        for (name, m) in models.iter_mut() {
            let key = if raw.model.is_some() && name == DEFAULT_MODEL {
                "model".to_string()
            } else {
                format!("models.{name}")
            };
            if let Some(d) = m.dir.as_mut() {
                self.expand(&format!("{key}.dir"), d)?;
            }
            if let Some(w) = m.weights.as_mut() {
                self.expand(&format!("{key}.weights"), w)?;
            }
            let what = if key == "model" {
                "[model]".to_string()
            } else {
                format!("[{key}]")
            };
            check_model(m, &what).map_err(|m| self.invalid(m))?;
        }
        Ok(models)
    }

    fn datasets(
        &self,
        raw: &RawConfig,
        models: &BTreeMap<String, ModelSection>,
    ) -> Result<Vec<DatasetEntry>, ConfigError> {
        let mut tables = raw.datasets.clone();
        if let Some(d) = &raw.dataset {
            if !tables.is_empty() {
                return Err(
                    self.invalid("use either [dataset] or [datasets.NAME] tables, not both".into())
                );
            }
            tables.insert("default".into(), d.clone());
        }
        if tables.is_empty() {
            return Err(self.invalid("no dataset: add a [dataset] table".into()));
        }
        let known_models = || models.keys().cloned().collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        for (name, table) in tables {
            let what = format!("datasets.{name}");
            let mut m = to_json(&table);
            let kind = take_str(&mut m, "kind", &what)
                .map_err(|e| self.parse_err(e))?
                .ok_or_else(|| {
                    self.parse_err(format!(
                        "{what}: missing `kind` (one of {})",
                        faithbench_data::reader::dataset_kind_names()
                    ))
                })?;
            let info = faithbench_data::dataset_kind(&kind).ok_or_else(|| {
                self.parse_err(format!(
                    "{what}: unknown kind `{kind}` (known: {})",
                    faithbench_data::reader::dataset_kind_names()
                ))
            })?;
            let model = match take_str(&mut m, "model", &what).map_err(|e| self.parse_err(e))? {
                Some(mn) if models.contains_key(&mn) => mn,
                Some(mn) => {
                    return Err(self.invalid(format!(
                        "{what}: unknown model `{mn}` (defined: {})",
                        known_models()
                    )))
                }
                None if models.len() == 1 => models.keys().next().cloned().unwrap_or_default(),
                // datasets without `model` use the [model] table
                None if raw.model.is_some() => DEFAULT_MODEL.to_string(),
                None => {
                    return Err(self.invalid(format!(
                        "{what}: several models are defined; say which with `model = \"NAME\"`"
                    )))
                }
            };
            let limit = match m.remove("limit") {
                None => None,
                Some(v) => Some(serde_json::from_value::<usize>(v.clone()).map_err(|_| {
                    self.parse_err(format!(
                        "{what}.limit must be a non-negative integer, got {v}"
                    ))
                })?),
            };
            let preprocess = match info.modality {
                Modality::Image => {
                    let resize = match m.remove("resize") {
                        None => ResizeMode::Squash,
                        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
                            self.parse_err(format!(
                                "{what}.resize: unknown resize mode {v} (squash, shorter_crop, clip_bicubic)"
                            ))
                        })?,
                    };
                    if info.capabilities.contains(&Capability::Masks)
                        && resize != ResizeMode::Squash
                    {
                        return Err(self.invalid(format!(
                            "{what}: {} supports only resize = \"squash\" (masks are squashed with PIL NEAREST like the reference)",
                            info.kind
                        )));
                    }
                    Preprocess::Image { resize }
                }
                Modality::Text => {
                    let max_length = match m.remove("max_length") {
                        None => 512,
                        Some(v) => serde_json::from_value::<usize>(v.clone()).map_err(|_| {
                            self.parse_err(format!(
                                "{what}.max_length must be a positive integer, got {v}"
                            ))
                        })?,
                    };
                    if max_length < 2 {
                        return Err(self.invalid(format!(
                            "{what}: max_length must be at least 2 ([CLS] and [SEP])"
                        )));
                    }
                    Preprocess::Text { max_length }
                }
            };
            if let Some(k) = m.keys().find(|k| !info.keys.iter().any(|(n, _)| n == k)) {
                let mut known: Vec<&str> = info.keys.iter().map(|(n, _)| *n).collect();
                known.extend(["model", "limit"]);
                known.push(match info.modality {
                    Modality::Image => "resize",
                    Modality::Text => "max_length",
                });
                return Err(self.parse_err(format!(
                    "{what}: unknown key `{k}` for kind `{}` (known: {})",
                    info.kind,
                    known.join(", ")
                )));
            }
            for key in info.path_keys {
                if let Some(v) = m.get_mut(*key) {
                    self.expand_value(&format!("{what}.{key}"), v)?;
                }
            }
            out.push(DatasetEntry {
                name,
                kind: info,
                model,
                limit,
                preprocess,
                keys: m,
            });
        }
        Ok(out)
    }

    fn explainers(
        &self,
        raw: &RawConfig,
        models: &BTreeMap<String, ModelSection>,
    ) -> Result<Vec<ExplainerEntry>, ConfigError> {
        if raw.explainers.is_empty() {
            return Err(self.invalid("no explainer: add at least one [[explainers]]".into()));
        }
        let known_models = || models.keys().cloned().collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        for (i, table) in raw.explainers.iter().enumerate() {
            let what = format!("explainers[{i}]");
            let mut m = to_json(table);
            let label = take_str(&mut m, "label", &what).map_err(|e| self.parse_err(e))?;
            let model = take_str(&mut m, "model", &what).map_err(|e| self.parse_err(e))?;
            let published = take_str(&mut m, "published", &what).map_err(|e| self.parse_err(e))?;
            apply_preset(&mut m, i).map_err(|e| self.parse_err(e))?;
            let shown = label.clone().unwrap_or_else(|| what.clone());
            let mut method = MethodConfig::from_value(Value::Object(m)).map_err(|e| {
                self.parse_err(format!("explainer `{shown}`: {}", explain_message(e)))
            })?;
            for (key, v) in method.path_params_mut() {
                self.expand(&format!("{what}.{key}"), v)?;
            }
            let built = method.build().map_err(|e| {
                self.invalid(format!("explainer `{shown}`: {}", explain_message(e)))
            })?;
            let label = label.unwrap_or_else(|| built.name());
            if label.is_empty() {
                return Err(self.invalid("an explainer has an empty label".into()));
            }
            let applies: Vec<String> = match &model {
                Some(mn) if models.contains_key(mn) => vec![mn.clone()],
                Some(mn) => {
                    return Err(self.invalid(format!(
                        "explainer `{label}`: unknown model `{mn}` (defined: {})",
                        known_models()
                    )))
                }
                None => models.keys().cloned().collect(),
            };
            for mn in &applies {
                if !seen.insert((mn.clone(), file_stem(&label))) {
                    return Err(self.invalid(format!(
                        "two explainers are labelled `{label}` (or labels that map to the same file name); give them distinct `label`s"
                    )));
                }
            }
            out.push(ExplainerEntry {
                stem: file_stem(&label),
                label,
                method,
                models: applies,
                published,
            });
        }
        Ok(out)
    }

    fn evaluators(
        &self,
        raw: &RawConfig,
        datasets: &[DatasetEntry],
    ) -> Result<Vec<EvaluatorEntry>, ConfigError> {
        if raw.evaluators.is_empty() {
            return Err(self.invalid("no evaluator: add at least one [[evaluators]]".into()));
        }
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, table) in raw.evaluators.iter().enumerate() {
            let what = format!("evaluators[{i}]");
            let mut m = to_json(table);
            let kind = take_str(&mut m, "kind", &what)
                .map_err(|e| self.parse_err(e))?
                .ok_or_else(|| {
                    self.parse_err(format!(
                        "{what}: missing `kind` (one of {})",
                        evaluator_kind_names()
                    ))
                })?;
            let info = evaluator_kind(&kind).ok_or_else(|| {
                self.parse_err(format!(
                    "{what}: unknown kind `{kind}` (known: {})",
                    evaluator_kind_names()
                ))
            })?;
            let explicit = take_str(&mut m, "name", &what).map_err(|e| self.parse_err(e))?;
            let published =
                take_str_list(&mut m, "published", &what).map_err(|e| self.parse_err(e))?;
            let shown = explicit.clone().unwrap_or_else(|| what.clone());
            let dataset = match take_str(&mut m, "dataset", &what).map_err(|e| self.parse_err(e))? {
                Some(d) => datasets.iter().find(|x| x.name == d).ok_or_else(|| {
                    self.invalid(format!(
                        "evaluator `{shown}`: unknown dataset `{d}` (defined: {})",
                        datasets
                            .iter()
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
                None if datasets.len() == 1 => &datasets[0],
                None => {
                    return Err(self.invalid(format!(
                        "evaluator `{shown}`: several datasets are defined; say which with `dataset = \"NAME\"`"
                    )))
                }
            };
            check_compatible(info, dataset, &shown).map_err(|e| self.invalid(e))?;
            // Resolve once with what the config alone tells (the plan resolves again with the
            // dataset's classes and the tokenizer), so bad keys fail before anything is loaded.
            let ctx = dry_context(&shown, dataset);
            let resolved = (info.resolve)(&m, &ctx)
                .map_err(|e| self.invalid(format!("evaluator `{shown}`: {}", strip_eval(e))))?;
            let name = explicit.unwrap_or_else(|| (info.default_name)(&resolved.settings));
            if !names.insert(file_stem(&name)) {
                return Err(self.invalid(format!(
                    "two evaluators are named `{name}`; give them distinct `name`s"
                )));
            }
            out.push(EvaluatorEntry {
                stem: file_stem(&name),
                name,
                kind: info,
                dataset: dataset.name.clone(),
                keys: m,
                published,
                dry_settings: resolved.settings,
            });
        }
        Ok(out)
    }
}

/// What the config alone tells an evaluator about its dataset.
pub(crate) fn dry_context<'a>(evaluator: &'a str, d: &'a DatasetEntry) -> ResolveContext<'a> {
    ResolveContext {
        evaluator,
        dataset: &d.name,
        classes: None,
        text: match d.preprocess {
            Preprocess::Text { max_length } => Some(TextFacts {
                pad_id: 0,
                max_length,
                max_position: max_length.max(512),
            }),
            Preprocess::Image { .. } => None,
        },
        // placeholder statistics: the plan resolves again with the model's
        image: match d.preprocess {
            Preprocess::Image { .. } => Some(ImageFacts {
                mean: [0.5; 3],
                std: [0.5; 3],
            }),
            Preprocess::Text { .. } => None,
        },
    }
}

fn strip_eval(e: faithbench_eval::EvalError) -> String {
    let s = e.to_string();
    // resolve errors already name the evaluator
    match s.split_once("`: ") {
        Some((head, rest)) if head.starts_with("evaluator `") => rest.to_string(),
        _ => s,
    }
}

fn explain_message(e: faithbench_explain::ExplainError) -> String {
    match e {
        faithbench_explain::ExplainError::Config(s) => s,
        other => other.to_string(),
    }
}

/// Whether an evaluator can read a dataset: same modality, every annotation it needs present.
pub(crate) fn check_compatible(
    info: &EvaluatorInfo,
    d: &DatasetEntry,
    evaluator: &str,
) -> Result<(), String> {
    if info.modality != d.kind.modality {
        let fitting: Vec<&str> = faithbench_data::DATASETS
            .iter()
            .filter(|k| k.modality == info.modality)
            .map(|k| k.kind)
            .collect();
        return Err(format!(
            "evaluator `{evaluator}`: {} evaluates {} datasets; dataset `{}` is {} ({} data; use {})",
            info.kind,
            info.modality.name(),
            d.name,
            d.kind.kind,
            d.kind.modality.name(),
            fitting.join(" or ")
        ));
    }
    for need in info.needs {
        if !d.kind.capabilities.contains(need) {
            let fitting: Vec<&str> = faithbench_data::DATASETS
                .iter()
                .filter(|k| k.modality == info.modality && k.capabilities.contains(need))
                .map(|k| k.kind)
                .collect();
            return Err(format!(
                "evaluator `{evaluator}`: {} needs {}; dataset `{}` is {} (use {})",
                info.kind,
                need.describe(),
                d.name,
                d.kind.kind,
                fitting.join(" or ")
            ));
        }
    }
    Ok(())
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
                "{what}: `weights` needs a `preset` ({})",
                faithbench_models::source::model_preset_names()
            ))
        }
        _ => {}
    }
    if let Some(z) = &m.zero_shot {
        if z.template.matches("{}").count() != 1 {
            return Err(format!(
                "{what}: zero_shot.template must contain `{{}}` once (for the class name), got {:?}",
                z.template
            ));
        }
    }
    if let Some(p) = &m.preset {
        let preset = faithbench_models::model_preset(p).ok_or_else(|| {
            format!(
                "{what}: unknown preset `{p}` (known: {})",
                faithbench_models::source::model_preset_names()
            )
        })?;
        if let Some(l) = m.layout {
            if !preset.layouts.contains(&l) {
                return Err(format!(
                    "{what}: layout `{}` cannot build the preset `{p}`",
                    l.name()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped paper config parses (with every `${VAR}` set to a placeholder path), and
    /// the published cells each wires have the expected count.
    #[test]
    fn every_paper_config_parses_and_wires_its_published_cells() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/paper");
        let placeholder = |v: &str| Some(format!("/placeholder/{v}"));
        let mut wired = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".toml") || name == "published.toml" {
                continue;
            }
            let s = Settings::load_with(&p, &placeholder).unwrap_or_else(|e| panic!("{name}: {e}"));
            wired.insert(name, s.published.len());
        }
        let expected: BTreeMap<String, usize> = PAPER_CONFIGS_PUBLISHED
            .iter()
            .map(|(n, c)| (n.to_string(), *c))
            .collect();
        assert_eq!(wired, expected);
    }

    /// Paper configs and the number of published cells each wires.
    const PAPER_CONFIGS_PUBLISHED: &[(&str, usize)] = &[
        ("bert_20ng_perturbation.toml", 0),
        ("bert_movies_perturbation.toml", 0),
        ("bert_movies_token_f1.toml", 0),
        ("clip_vit_b32_perturbation.toml", 0),
        ("vit_b16_pert_neg_pred.toml", 8),
        ("vit_b16_pert_neg_target.toml", 0),
        ("vit_b16_pert_pos_pred.toml", 8),
        ("vit_b16_pert_pos_target.toml", 0),
        ("vit_b16_segmentation.toml", 23),
        ("vit_l16_perturbation.toml", 16),
        ("vit_l16_segmentation.toml", 4),
        ("vit_mae_perturbation.toml", 16),
        ("vit_mae_segmentation.toml", 4),
    ];

    fn env(name: &str) -> Option<String> {
        match name {
            "IMAGENET_ROOT" => Some("/data/imagenet".into()),
            "FAITHBENCH_VIT_B16" => Some("/w/vit.pth".into()),
            "IMAGENET_SEG_MAT" => Some("/data/gtsegs_ijcv.mat".into()),
            "FAITHBENCH_WEIGHTS" => Some("/w".into()),
            _ => None,
        }
    }

    fn parse(text: &str, path: &str) -> Result<Settings, ConfigError> {
        Settings::parse(text, Path::new(path), &env)
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
        let c = parse(&text, "cfg/run.toml").unwrap();
        let m = &c.explainers[0].method;
        assert_eq!(m.method(), "ours_t");
        assert_eq!(m.get("start_layer"), Some(&Value::from(6)));
        assert_eq!(m.get("steps"), Some(&Value::from(7)));
        let bad = GOOD.replace(
            "method = \"ours_h\"\nstart_layer = 3",
            "preset = \"ours_h/nope\"",
        );
        let e = parse(&bad, "cfg/run.toml").unwrap_err().to_string();
        assert!(
            e.contains("unknown preset `ours_h/nope`") && e.contains("cfg/run.toml"),
            "{e}"
        );
    }

    #[test]
    fn good_config_parses_and_expands() {
        let c = parse(GOOD, "cfg/run.toml").unwrap();
        assert_eq!(c.name, "t");
        assert_eq!(c.models["default"].weights.as_deref(), Some("/w/vit.pth"));
        let d = &c.datasets[0];
        assert_eq!(d.name, "default");
        assert_eq!(d.kind.kind, "imagenet_val");
        assert_eq!(d.keys["root"], "/data/imagenet");
        assert!(d.keys["subset"].as_str().unwrap().ends_with("cfg/idx.npy"));
        assert_eq!(d.limit, Some(10));
        assert_eq!(
            d.preprocess,
            Preprocess::Image {
                resize: ResizeMode::Squash
            }
        );
        let labels: Vec<&str> = c.explainers.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(labels, vec!["Ours-H", "generic_attention[mean_then_clamp]"]);
        assert_eq!(c.evaluators[0].name, "perturbation_positive_predicted");
        assert_eq!(c.evaluators[1].name, "perturbation_negative_target");
        assert!(c.evaluators.iter().all(|e| e.dataset == "default"));
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
            let e = parse(&bad, "cfg/run.toml").unwrap_err().to_string();
            assert!(e.contains("cfg/run.toml"), "{e}");
            assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
        }
    }

    #[test]
    fn unset_variable_is_named() {
        let bad = GOOD.replace("${IMAGENET_ROOT}", "${NO_SUCH_VAR_X}");
        let e = parse(&bad, "c.toml").unwrap_err().to_string();
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
            (GOOD.replace("start_layer = 3", "steps = 1"), "steps"),
            (GOOD.replace("kind = \"imagenet_val\"", "kind = \"imagenet\""), "unknown kind `imagenet`"),
            (GOOD.replace("kind = \"perturbation\"\nmode = \"positive\"", "kind = \"perturb\"\nmode = \"positive\""), "unknown kind `perturb`"),
            (GOOD.replace("levels = [0.5]", "levels = [1.5]"), "levels must be"),
        ];
        for (bad, msg) in cases {
            let e = parse(&bad, "c.toml").unwrap_err().to_string();
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
        let c = parse(TEXT, "/cfg/t.toml").unwrap();
        assert_eq!(c.models.len(), 2);
        assert_eq!(c.dataset("movies").unwrap().model, "bert");
        assert_eq!(c.dataset("img").unwrap().model, "vit");
        let models: Vec<Vec<String>> = c.explainers.iter().map(|x| x.models.clone()).collect();
        assert_eq!(
            models,
            vec![
                vec!["bert".to_string(), "vit".to_string()],
                vec!["vit".to_string()],
                vec!["bert".to_string()]
            ]
        );
        let movies = c.dataset("movies").unwrap();
        assert!(movies.keys["root"].as_str().unwrap().ends_with("/movies"));
        assert_eq!(movies.keys["split"], serde_json::json!(["test", "train"]));
        assert_eq!(movies.preprocess, Preprocess::Text { max_length: 512 });
        assert_eq!(c.evaluators[1].name, "eraser_rationales");
        assert_eq!(c.evaluators[2].name, "text_perturbation_negative");
        // [model] plus [models.NAME]: datasets without `model` use [model]
        let mixed = TEXT
            .replace("[models.vit]", "[model]")
            .replace(
                "model = \"vit\"\n\n[datasets.movies]",
                "\n[datasets.movies]",
            )
            .replace("model = \"vit\"", "model = \"default\"");
        let c = parse(&mixed, "/cfg/t.toml").unwrap();
        assert_eq!(c.dataset("img").unwrap().model, DEFAULT_MODEL);
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
                "perturbation evaluates image datasets",
            ),
            (
                TEXT.replace(
                    "kind = \"eraser_rationales\"\ndataset = \"movies\"",
                    "kind = \"eraser_rationales\"\ndataset = \"img\"",
                ),
                "eraser_rationales evaluates text datasets",
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
            (
                TEXT.replace(
                    "split = [\"test\", \"train\"]",
                    "split = [\"test\", \"train\"]\nmax_length = 1",
                ),
                "max_length must be at least 2",
            ),
        ];
        for (bad, msg) in cases {
            let e = parse(&bad, "c.toml").unwrap_err().to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
    }

    /// A segmentation dataset with masks cannot be cropped (masks are only squashed).
    #[test]
    fn mask_datasets_refuse_cropping_resizes() {
        let text = GOOD
            .replace(
                "kind = \"imagenet_val\"\nroot = \"${IMAGENET_ROOT}\"\nsubset = \"${CONFIG_DIR}/idx.npy\"",
                "kind = \"imagenet_seg\"\npath = \"x.mat\"\nresize = \"shorter_crop\"",
            )
            .replace(
                "kind = \"perturbation\"\nmode = \"positive\"",
                "kind = \"segmentation\"",
            );
        let text = text[..text.rfind("[[evaluators]]").unwrap()].to_string();
        let e = parse(&text, "c.toml").unwrap_err().to_string();
        assert!(e.contains("only resize = \"squash\""), "{e}");
    }
}
