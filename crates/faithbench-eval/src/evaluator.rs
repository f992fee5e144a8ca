//! The evaluator trait and the registry of evaluator kinds.
//!
//! An evaluator owns everything about its protocol: its config keys (parsed, unknown keys
//! rejected), its resolved settings (hashed into the run's plan), what it records per sample,
//! how records become summary rows and curves, which direction of each metric is better, which
//! figures to draw and how two runs compare. The pipeline hands it chunks of samples with their
//! maps and a classifier ([`EvalChunk`]) and stores what it returns; it never looks inside.
//! Adding an evaluator is its file under `evaluators/` (with a `pub const EVALUATOR:
//! EvaluatorInfo`) plus one line in [`EVALUATORS`]; `check`, `compare`, `list`, the plots and
//! the docs' evaluator table read from there.
//!
//! Typed implementations implement [`Protocol`]; the blanket impl turns one into an
//! [`Evaluator`] whose records are JSON lines (one JSON object per sample, each with a
//! `sample_id`), the format of the run folder's `records/*.jsonl`.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use faithbench_data::{Capability, EraserDoc, Modality};

use crate::perturbation::{ExplainedClass, ImageClassifier};
use crate::stats::BootstrapConfig;
use crate::summary::{Comparison, Direction, Figure, PairSummary, SummaryRow};
use crate::text_perturbation::TextClassifier;

/// A boxed error of a classifier behind an evaluator.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error type of the classifiers evaluators drive through trait objects.
#[derive(Debug)]
pub struct ClassifierError(pub BoxError);

impl std::fmt::Display for ClassifierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ClassifierError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// An image classifier behind a trait object.
pub type DynImageClassifier<'a> = dyn ImageClassifier<Error = ClassifierError> + 'a;
/// A text classifier behind a trait object.
pub type DynTextClassifier<'a> = dyn TextClassifier<Error = ClassifierError> + 'a;

/// Errors of evaluators.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Bad evaluator settings (unknown key, wrong type, inconsistent values): bad input.
    #[error("{0}")]
    Config(String),
    /// A record could not be read back (written by another version, or edited).
    #[error("record of sample `{sample_id}`: {message}")]
    Record {
        /// Sample id (or `?`).
        sample_id: String,
        /// What is wrong.
        message: String,
    },
    /// The chunk is not of the evaluator's modality (a pipeline bug).
    #[error("evaluator `{kind}` evaluates {wanted} samples, got {got}")]
    Modality {
        /// Evaluator kind.
        kind: &'static str,
        /// Its modality.
        wanted: &'static str,
        /// The chunk's.
        got: &'static str,
    },
    /// A sample lacks what the evaluator needs (a label, a mask, evidence).
    #[error("sample `{sample_id}`: {message}")]
    Sample {
        /// Sample id.
        sample_id: String,
        /// What is missing.
        message: String,
    },
    /// Writing an output file failed.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        message: String,
    },
    /// The protocol computation failed.
    #[error(transparent)]
    Protocol(BoxError),
}

impl EvalError {
    /// Wraps a protocol module's error.
    pub fn protocol(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        EvalError::Protocol(Box::new(e))
    }
}

/// Result alias of evaluators.
pub type EvalResult<T> = std::result::Result<T, EvalError>;

/// Re-explains a chunk's samples on randomised copies of the model, for the model-randomisation
/// sanity check: the same explainer, the same explained classes, maps in the form the chunk's own
/// maps have (images: upsampled to the input size, not normalised; text: per word piece, clamped
/// at 0). The pipeline offers it to evaluators whose [`Protocol::reexplains`] is true.
pub trait Reexplain {
    /// The model's randomisation steps, from the output down (`head`, `block L-1` … `block 0`,
    /// `embeddings`).
    fn steps(&self) -> Vec<String>;
    /// The maps of every sample of the chunk (chunk order) with the parameters of the steps
    /// `randomized` (indices into [`steps`](Reexplain::steps)) re-initialised from `seed`.
    fn maps(&mut self, randomized: &[usize], seed: u64) -> Result<Vec<Vec<f32>>, ClassifierError>;
}

/// A re-explainer behind a trait object.
pub type DynReexplain<'a> = dyn Reexplain + 'a;

/// One image of an image chunk, with the map explaining one class.
#[derive(Debug, Clone, Copy)]
pub struct ImageSampleView<'a> {
    /// Sample id.
    pub id: &'a str,
    /// Ground-truth class, if the dataset has labels.
    pub label: Option<usize>,
    /// Foreground mask at the model's input size (`height × width`), if the dataset has masks.
    pub mask: Option<&'a [u8]>,
    /// The raw `[0, 1]` image at the model's input size, `3 × height × width`.
    pub image: &'a [f32],
    /// The token map bilinearly upsampled to `height × width` (not normalised).
    pub map: &'a [f32],
    /// The same min–max normalised; `None` when the map is constant.
    pub normalised: Option<&'a [f32]>,
    /// The class the map explains.
    pub explained_class: usize,
}

/// A chunk of images for image evaluators.
pub struct ImageChunk<'a> {
    /// The samples, in plan order.
    pub samples: Vec<ImageSampleView<'a>>,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// The classifier on raw `[0, 1]` images (normalises internally).
    pub classifier: &'a mut DynImageClassifier<'a>,
    /// Images per classifier call.
    pub eval_batch: usize,
    /// Re-explanation on randomised models (only for evaluators that ask for it).
    pub reexplain: Option<&'a mut DynReexplain<'a>>,
}

/// One document of a text chunk, with the map explaining one class.
#[derive(Debug, Clone, Copy)]
pub struct TextDocView<'a> {
    /// Sample id.
    pub id: &'a str,
    /// The classifier's input text.
    pub text: &'a str,
    /// Ground-truth class.
    pub label: usize,
    /// ERASER documents: id, length and evidence.
    pub eraser: Option<&'a EraserDoc>,
    /// Token ids incl. specials (truncated to the dataset's budget).
    pub ids: &'a [u32],
    /// Word-piece strings.
    pub tokens: &'a [String],
    /// Byte offsets `(start, end)` of each piece in `text`; `(0, 0)` for specials.
    pub offsets: &'a [(usize, usize)],
    /// Whether each piece is a special token.
    pub special: &'a [bool],
    /// Relevance per piece, clamped at 0 (the reference clamps text maps).
    pub relevance: &'a [f32],
    /// Class probabilities on the clean input.
    pub probs: &'a [f64],
    /// The prediction on the clean input.
    pub predicted: usize,
    /// The class the map explains.
    pub explained_class: usize,
}

/// A chunk of documents for text evaluators.
pub struct TextChunk<'a> {
    /// The documents, in plan order.
    pub docs: Vec<TextDocView<'a>>,
    /// The classifier on token ids with attention masks.
    pub classifier: &'a mut DynTextClassifier<'a>,
    /// The `[PAD]` id.
    pub pad_id: u32,
    /// Sequences per classifier call.
    pub eval_batch: usize,
    /// Re-explanation on randomised models (only for evaluators that ask for it).
    pub reexplain: Option<&'a mut DynReexplain<'a>>,
}

/// What an evaluator evaluates: a chunk of one modality.
pub enum EvalChunk<'a> {
    /// Images.
    Image(ImageChunk<'a>),
    /// Texts.
    Text(TextChunk<'a>),
}

impl<'a> EvalChunk<'a> {
    /// The chunk's modality.
    pub fn modality(&self) -> Modality {
        match self {
            EvalChunk::Image(_) => Modality::Image,
            EvalChunk::Text(_) => Modality::Text,
        }
    }

    /// The image chunk, or a modality error naming `kind`.
    pub fn image(&mut self, kind: &'static str) -> EvalResult<&mut ImageChunk<'a>> {
        let got = self.modality().name();
        match self {
            EvalChunk::Image(c) => Ok(c),
            EvalChunk::Text(_) => Err(EvalError::Modality {
                kind,
                wanted: "image",
                got,
            }),
        }
    }

    /// The text chunk, or a modality error naming `kind`.
    pub fn text(&mut self, kind: &'static str) -> EvalResult<&mut TextChunk<'a>> {
        let got = self.modality().name();
        match self {
            EvalChunk::Text(c) => Ok(c),
            EvalChunk::Image(_) => Err(EvalError::Modality {
                kind,
                wanted: "text",
                got,
            }),
        }
    }
}

/// Names of the pair being summarised or compared (for the rows).
#[derive(Debug, Clone, Copy)]
pub struct PairNames<'a> {
    /// Evaluator name.
    pub evaluator: &'a str,
    /// Explainer label.
    pub explainer: &'a str,
}

impl PairNames<'_> {
    /// The comparison of a pair that cannot be compared: no lines, one note
    /// "`evaluator` × `explainer`: `why`; skipped".
    pub fn skipped(&self, why: &str) -> Comparison {
        Comparison {
            notes: vec![format!(
                "{} × {}: {why}; skipped",
                self.evaluator, self.explainer
            )],
            ..Comparison::default()
        }
    }

    /// A summary row of this pair.
    pub fn row(
        &self,
        metric: &str,
        value: f64,
        ci: &crate::stats::ConfidenceInterval,
    ) -> SummaryRow {
        SummaryRow::new(self.evaluator, self.explainer, metric, value, ci)
    }
}

/// A typed evaluator. Implement this; [`Evaluator`] follows.
pub trait Protocol: Send + Sync + 'static {
    /// One record per sample (serialised as a JSON object with a `sample_id` field).
    type Record: Serialize + DeserializeOwned;

    /// The kind name.
    fn kind(&self) -> &'static str;
    /// Which class the maps must explain.
    fn explained(&self) -> ExplainedClass;
    /// Evaluates a chunk; one record per sample, in chunk order.
    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<Self::Record>>;
    /// Whether the evaluator re-explains samples on randomised models (the chunk then carries
    /// a [`Reexplain`]). Default: no.
    fn reexplains(&self) -> bool {
        false
    }
    /// A removal test's order and the settings that must match for two evaluators to form a
    /// symmetric pair (the symmetric relevance gain, [`crate::symmetric`]). Default: none.
    fn removal_test(&self) -> Option<crate::symmetric::RemovalTest> {
        None
    }
    /// The AUC of each record (the unit of the summary's `auc`), for the symmetric relevance
    /// gain of removal tests. Default: an error (not a removal test).
    fn record_aucs(&self, records: &[Self::Record]) -> EvalResult<Vec<f64>> {
        let _ = records;
        Err(EvalError::Config(format!(
            "`{}` is not a removal test",
            self.kind()
        )))
    }
    /// The rows and curves of one explainer's records (non-empty, sorted by sample id).
    fn summarise(
        &self,
        names: PairNames<'_>,
        records: &[Self::Record],
        boot: &BootstrapConfig,
    ) -> EvalResult<PairSummary>;
    /// Whether higher or lower values of `metric` are better.
    fn direction(&self, metric: &str) -> Direction;
    /// The default `faithbench check` tolerance of `metric` for these settings (e.g. AUCs in
    /// percent get 100× the fraction's). Default: [`default_tolerance`].
    fn tolerance(&self, metric: &str) -> f64 {
        default_tolerance(metric)
    }
    /// One Markdown line describing the protocol and its settings.
    fn describe(&self) -> String;
    /// Which `prefix@…` metric families get their own Markdown table, with titles, given the
    /// families present in order of first appearance. Default: all, titled "`prefix` per level".
    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)> {
        prefixes
            .iter()
            .map(|p| (p.clone(), format!("{p} per level")))
            .collect()
    }
    /// The figures of the evaluator named `name` (file stem `stem`) from every explainer's rows
    /// and curves. Default: none.
    fn figures(
        &self,
        name: &str,
        stem: &str,
        rows: &[SummaryRow],
        curves: &[crate::summary::Curve],
    ) -> Vec<Figure> {
        let _ = (name, stem, rows, curves);
        Vec::new()
    }
    /// Paired comparison of two runs' records of one pair (same samples, same order).
    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[Self::Record],
        b: &[Self::Record],
        boot: &BootstrapConfig,
    ) -> EvalResult<Comparison>;
    /// Whether `metric`, one of those [`Protocol::compare`] tests, ranks explainers on the
    /// leaderboard of `faithbench report` (docs/report.md). Default: every one of them; an
    /// evaluator leaves out what does not depend on the explainer (`clean_accuracy`) or repeats
    /// another metric.
    fn on_leaderboard(&self, metric: &str) -> bool {
        let _ = metric;
        true
    }
    /// Extra files of one pair in the run folder (e.g. ERASER results files). Default: none.
    fn write_outputs(
        &self,
        run_dir: &Path,
        stem: &str,
        explainer: &str,
        records: &[Self::Record],
    ) -> EvalResult<()> {
        let _ = (run_dir, stem, explainer, records);
        Ok(())
    }
}

/// An evaluator behind a trait object. Records are JSON lines: one JSON object per sample,
/// with a `sample_id` field.
pub trait Evaluator: Send + Sync {
    /// The kind name.
    fn kind(&self) -> &'static str;
    /// Which class the maps must explain.
    fn explained(&self) -> ExplainedClass;
    /// Evaluates a chunk; one record (JSON line, no newline) per sample, in chunk order.
    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<String>>;
    /// See [`Protocol::reexplains`].
    fn reexplains(&self) -> bool;
    /// See [`Protocol::removal_test`].
    fn removal_test(&self) -> Option<crate::symmetric::RemovalTest>;
    /// See [`Protocol::record_aucs`].
    fn record_aucs(&self, records: &[String]) -> EvalResult<Vec<f64>>;
    /// The rows and curves of one explainer's records (non-empty, sorted by sample id).
    fn summarise(
        &self,
        names: PairNames<'_>,
        records: &[String],
        boot: &BootstrapConfig,
    ) -> EvalResult<PairSummary>;
    /// Whether higher or lower values of `metric` are better.
    fn direction(&self, metric: &str) -> Direction;
    /// See [`Protocol::tolerance`].
    fn tolerance(&self, metric: &str) -> f64;
    /// One Markdown line describing the protocol and its settings.
    fn describe(&self) -> String;
    /// See [`Protocol::markdown_tables`].
    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)>;
    /// See [`Protocol::figures`].
    fn figures(
        &self,
        name: &str,
        stem: &str,
        rows: &[SummaryRow],
        curves: &[crate::summary::Curve],
    ) -> Vec<Figure>;
    /// Paired comparison of two runs' records of one pair (same samples, same order).
    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[String],
        b: &[String],
        boot: &BootstrapConfig,
    ) -> EvalResult<Comparison>;
    /// See [`Protocol::on_leaderboard`].
    fn on_leaderboard(&self, metric: &str) -> bool;
    /// See [`Protocol::write_outputs`].
    fn write_outputs(
        &self,
        run_dir: &Path,
        stem: &str,
        explainer: &str,
        records: &[String],
    ) -> EvalResult<()>;
}

#[derive(serde::Deserialize)]
struct IdOnly {
    sample_id: String,
}

/// The `sample_id` of a record line, if it has one.
pub fn record_id(line: &str) -> Option<String> {
    serde_json::from_str::<IdOnly>(line)
        .ok()
        .map(|r| r.sample_id)
}

fn parse_records<T: DeserializeOwned>(records: &[String]) -> EvalResult<Vec<T>> {
    records
        .iter()
        .map(|line| {
            serde_json::from_str(line).map_err(|e| EvalError::Record {
                sample_id: record_id(line).unwrap_or_else(|| "?".into()),
                message: e.to_string(),
            })
        })
        .collect()
}

impl<P: Protocol> Evaluator for P {
    fn kind(&self) -> &'static str {
        Protocol::kind(self)
    }
    fn explained(&self) -> ExplainedClass {
        Protocol::explained(self)
    }
    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<String>> {
        Protocol::evaluate(self, chunk)?
            .iter()
            .map(|r| {
                serde_json::to_string(r).map_err(|e| EvalError::Record {
                    sample_id: "?".into(),
                    message: e.to_string(),
                })
            })
            .collect()
    }
    fn reexplains(&self) -> bool {
        Protocol::reexplains(self)
    }
    fn removal_test(&self) -> Option<crate::symmetric::RemovalTest> {
        Protocol::removal_test(self)
    }
    fn record_aucs(&self, records: &[String]) -> EvalResult<Vec<f64>> {
        Protocol::record_aucs(self, &parse_records(records)?)
    }
    fn summarise(
        &self,
        names: PairNames<'_>,
        records: &[String],
        boot: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        Protocol::summarise(self, names, &parse_records(records)?, boot)
    }
    fn direction(&self, metric: &str) -> Direction {
        Protocol::direction(self, metric)
    }
    fn tolerance(&self, metric: &str) -> f64 {
        Protocol::tolerance(self, metric)
    }
    fn describe(&self) -> String {
        Protocol::describe(self)
    }
    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)> {
        Protocol::markdown_tables(self, prefixes)
    }
    fn figures(
        &self,
        name: &str,
        stem: &str,
        rows: &[SummaryRow],
        curves: &[crate::summary::Curve],
    ) -> Vec<Figure> {
        Protocol::figures(self, name, stem, rows, curves)
    }
    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[String],
        b: &[String],
        boot: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        Protocol::compare(self, names, &parse_records(a)?, &parse_records(b)?, boot)
    }
    fn on_leaderboard(&self, metric: &str) -> bool {
        Protocol::on_leaderboard(self, metric)
    }
    fn write_outputs(
        &self,
        run_dir: &Path,
        stem: &str,
        explainer: &str,
        records: &[String],
    ) -> EvalResult<()> {
        Protocol::write_outputs(self, run_dir, stem, explainer, &parse_records(records)?)
    }
}

/// The text side of what an evaluator may need to resolve its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextFacts {
    /// The tokenizer's `[PAD]` id.
    pub pad_id: u32,
    /// The dataset's word-piece budget.
    pub max_length: usize,
    /// The model's maximum positions.
    pub max_position: usize,
}

/// The image side of what an evaluator may need to resolve its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageFacts {
    /// The model's input normalisation mean (raw `[0, 1]` units).
    pub mean: [f32; 3],
    /// The model's input normalisation std.
    pub std: [f32; 3],
}

/// What an evaluator may need to know about its dataset and model to resolve its settings.
#[derive(Debug, Clone, Copy)]
pub struct ResolveContext<'a> {
    /// The evaluator's name (for messages).
    pub evaluator: &'a str,
    /// The dataset's name.
    pub dataset: &'a str,
    /// Class names in label order, if the dataset has them.
    pub classes: Option<&'a [String]>,
    /// Text datasets: tokenizer and length facts.
    pub text: Option<TextFacts>,
    /// Image datasets: the model's input normalisation (`None` when not known yet, e.g. when a
    /// config is checked before its model is read).
    pub image: Option<ImageFacts>,
}

#[cfg(test)]
impl ResolveContext<'static> {
    /// The context of an evaluator "e" on dataset "d" without classes or text facts, with the
    /// given image facts (tests).
    pub(crate) fn for_tests(image: Option<ImageFacts>) -> Self {
        ResolveContext {
            evaluator: "e",
            dataset: "d",
            classes: None,
            text: None,
            image,
        }
    }
}

/// Resolved settings of an evaluator.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// What determines the records (hashed into the plan).
    pub settings: Value,
    /// Presentation options (not hashed: changing them never invalidates records).
    pub options: Value,
}

/// One registered evaluator kind.
#[derive(Debug, Clone, Copy)]
pub struct EvaluatorInfo {
    /// The config name (`kind = "..."`).
    pub kind: &'static str,
    /// One line on what it measures.
    pub summary: &'static str,
    /// Where the protocol is described (`docs/protocols.md` section).
    pub protocol: &'static str,
    /// The modality it evaluates.
    pub modality: Modality,
    /// Annotations its datasets must carry.
    pub needs: &'static [Capability],
    /// The metrics it reports (for listings and docs).
    pub metrics: &'static str,
    /// The smallest valid config table as JSON (without `kind`/`name`/`dataset`), for listings.
    pub example: &'static str,
    /// Default `faithbench check` tolerances by metric pattern (`name` or `prefix*`) for the
    /// kind's default settings; [`Evaluator::tolerance`] gives them for resolved settings (what
    /// `check` uses when the run's `resolved_config.json` is at hand), and without a plan the
    /// first matching pattern of any kind applies.
    pub tolerances: &'static [(&'static str, f64)],
    /// Resolves a config table (without `kind`, `name`, `dataset`) for a dataset; unknown keys
    /// are errors naming them.
    pub resolve: fn(&Map<String, Value>, &ResolveContext<'_>) -> EvalResult<Resolved>,
    /// The evaluator's name when the config gives none, from its resolved settings.
    pub default_name: fn(&Value) -> String,
    /// Builds the evaluator from resolved settings and options.
    pub build: fn(&Resolved) -> EvalResult<Box<dyn Evaluator>>,
}

/// Every evaluator kind, in listing order.
pub const EVALUATORS: &[EvaluatorInfo] = &[
    crate::evaluators::perturbation::EVALUATOR,
    crate::evaluators::segmentation::EVALUATOR,
    crate::evaluators::eraser_rationales::EVALUATOR,
    crate::evaluators::text_perturbation::EVALUATOR,
    crate::evaluators::zero_shot_perturbation::EVALUATOR,
    crate::evaluators::insertion_deletion::EVALUATOR,
    crate::evaluators::model_randomization::EVALUATOR,
    crate::evaluators::text_model_randomization::EVALUATOR,
    crate::evaluators::text_insertion_deletion::EVALUATOR,
];

/// The evaluator kind of this name.
pub fn evaluator_kind(kind: &str) -> Option<&'static EvaluatorInfo> {
    EVALUATORS.iter().find(|e| e.kind == kind)
}

/// The registered kinds, comma-separated.
pub fn evaluator_kind_names() -> String {
    EVALUATORS
        .iter()
        .map(|e| e.kind)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a config table into a typed struct (unknown keys are errors naming them).
pub fn config<T: DeserializeOwned>(kind: &str, table: &Map<String, Value>) -> EvalResult<T> {
    serde_json::from_value(Value::Object(table.clone()))
        .map_err(|e| EvalError::Config(format!("{kind}: {e}")))
}

/// Serialises resolved settings.
pub fn to_settings<T: Serialize>(v: &T) -> EvalResult<Value> {
    serde_json::to_value(v).map_err(|e| EvalError::Config(e.to_string()))
}

/// Parses resolved settings back.
pub fn from_settings<T: DeserializeOwned>(kind: &str, v: &Value) -> EvalResult<T> {
    serde_json::from_value(v.clone())
        .map_err(|e| EvalError::Config(format!("{kind}: resolved settings: {e}")))
}

/// The default tolerance of `faithbench check` for a metric when its evaluator is not known:
/// the first pattern of any registered evaluator that matches it (`prefix*` matches by
/// prefix), else 1e-6 (equal at the summary's 6 decimals).
pub fn default_tolerance(metric: &str) -> f64 {
    EVALUATORS
        .iter()
        .flat_map(|e| e.tolerances.iter())
        .find(|(p, _)| pattern_matches(p, metric))
        .map_or(1e-6, |(_, t)| *t)
}

/// The per-level Markdown tables of the removal tests (image and text perturbation): the
/// `accuracy@…` family titled "accuracy per removed fraction", any other `prefix@…` family
/// "`prefix` per k".
pub fn removal_tables(prefixes: &[String]) -> Vec<(String, String)> {
    prefixes
        .iter()
        .map(|p| {
            let title = if p == "accuracy" {
                "accuracy per removed fraction".to_string()
            } else if p == "tie_share" {
                "share of pixels in the tied group at the cut, per removed fraction".to_string()
            } else {
                format!("{p} per k")
            };
            (p.clone(), title)
        })
        .collect()
}

/// Whether a tolerance pattern (`name`, or `prefix*`) matches a metric.
pub fn pattern_matches(pattern: &str, metric: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => metric.starts_with(prefix),
        None => pattern == metric,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_examples_resolve() {
        let names: std::collections::BTreeSet<_> = EVALUATORS.iter().map(|e| e.kind).collect();
        assert_eq!(names.len(), EVALUATORS.len());
        let classes = ["NEG".to_string(), "POS".to_string()];
        for e in EVALUATORS {
            let ex: Value = serde_json::from_str(e.example).expect("example JSON");
            let ctx = ResolveContext {
                evaluator: "x",
                dataset: "d",
                classes: Some(&classes),
                text: Some(TextFacts {
                    pad_id: 0,
                    max_length: 512,
                    max_position: 512,
                }),
                image: Some(ImageFacts {
                    mean: [0.5; 3],
                    std: [0.5; 3],
                }),
            };
            let r = (e.resolve)(ex.as_object().expect("object"), &ctx).expect(e.kind);
            let built = (e.build)(&r).expect(e.kind);
            assert_eq!(built.kind(), e.kind);
            assert!(!(e.default_name)(&r.settings).is_empty());
        }
    }

    /// The default tolerances of `faithbench check` (0.005 for the headline metrics of the
    /// image and text evaluators, 1e-6 otherwise).
    #[test]
    fn default_tolerances_by_hand() {
        assert_eq!(default_tolerance("auc"), 0.005);
        assert_eq!(default_tolerance("accuracy@0.1"), 0.005);
        assert_eq!(default_tolerance("clean_accuracy"), 0.005);
        assert_eq!(default_tolerance("miou"), 0.005);
        assert_eq!(default_tolerance("mf1"), 0.005);
        assert_eq!(default_tolerance("token_f1@05"), 1e-6);
        assert!(pattern_matches("accuracy@*", "accuracy@0.5"));
        assert!(!pattern_matches("auc", "auc_x"));
    }
}
