//! The dataset reader trait and the registry of dataset kinds.
//!
//! A run config's `[datasets.NAME]` table names a `kind`; [`DATASETS`] maps it to a
//! [`DatasetInfo`] that opens a [`DatasetReader`] from the kind's own keys (unknown keys are
//! errors naming them). Readers return plain data — RGB images with their labels and masks, or
//! texts with labels and evidence — and know nothing about models: resizing and tokenisation
//! happen in the pipeline. Adding a dataset kind is its reader (in its module, with a
//! `pub const DATASET: DatasetInfo`) plus one line in [`DATASETS`].

use std::path::PathBuf;

use image::RgbImage;
use serde_json::{Map, Value};

/// What a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Images (ViT, the CLIP image tower).
    Image,
    /// Texts (BERT).
    Text,
}

impl Modality {
    /// `image` / `text`.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Text => "text",
        }
    }
}

/// Annotations a dataset may carry, which evaluators require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// A ground-truth class per sample.
    Labels,
    /// A foreground mask per image.
    Masks,
    /// Human rationale spans per document (ERASER evidence).
    Evidence,
}

impl Capability {
    /// How the capability reads in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Capability::Labels => "class labels",
            Capability::Masks => "segmentation masks",
            Capability::Evidence => "evidence annotations",
        }
    }
}

/// One image sample, at its stored size.
#[derive(Debug, Clone)]
pub struct ImageItem {
    /// Sample id (ImageNet: relative path; segmentation: zero-padded index).
    pub id: String,
    /// Ground-truth class, if the dataset has labels.
    pub label: Option<usize>,
    /// The image.
    pub image: RgbImage,
    /// Foreground mask (row-major, `height × width` of `image`, values 0/1), if any.
    pub mask: Option<Vec<u8>>,
}

/// The ERASER side of a text sample.
#[derive(Debug, Clone, PartialEq)]
pub struct EraserDoc {
    /// Document id.
    pub docid: String,
    /// Tokens of the flattened document.
    pub num_tokens: usize,
    /// Evidence spans `[start_token, end_token)`.
    pub evidence: Vec<(usize, usize)>,
}

/// One text sample.
#[derive(Debug, Clone)]
pub struct TextItem {
    /// Sample id (ERASER: the annotation id; 20 Newsgroups: the zero-padded export position).
    pub id: String,
    /// The classifier's input text (ERASER: the flattened document, tokens joined by single
    /// spaces, so that its whitespace words are the document's tokens).
    pub text: String,
    /// Ground-truth class.
    pub label: usize,
    /// ERASER documents: id, length and evidence.
    pub eraser: Option<EraserDoc>,
}

/// Errors of the dataset readers. Every variant names the file or the config key.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// ImageNet val.
    #[error(transparent)]
    ImageNet(#[from] crate::imagenet::ImageNetError),
    /// ImageNet-Segmentation.
    #[error(transparent)]
    Seg(#[from] crate::imagenet_seg::SegDataError),
    /// ERASER.
    #[error(transparent)]
    Eraser(#[from] crate::eraser::EraserError),
    /// 20 Newsgroups.
    #[error(transparent)]
    Newsgroups(#[from] crate::newsgroups::NewsgroupsError),
    /// `.npy` files.
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// Bad dataset settings (unknown key, wrong type, inconsistent values).
    #[error("{kind} dataset: {message}")]
    Settings {
        /// Dataset kind.
        kind: String,
        /// What is wrong.
        message: String,
    },
    /// The data does not fit the settings or the model (e.g. a class outside the list).
    #[error("{path}: {message}")]
    Invalid {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A sample of the wrong modality was asked for.
    #[error("{kind} datasets hold no {wanted} samples")]
    WrongModality {
        /// Dataset kind.
        kind: &'static str,
        /// `image` / `text`.
        wanted: &'static str,
    },
}

/// Result alias of the readers.
pub type DataResult<T> = std::result::Result<T, DataError>;

/// An opened dataset: samples by position `0..len()`.
pub trait DatasetReader: Send + Sync {
    /// The kind name (`imagenet_val`, …).
    fn kind(&self) -> &'static str;
    /// Images or texts.
    fn modality(&self) -> Modality;
    /// Annotations every sample carries.
    fn capabilities(&self) -> &'static [Capability];
    /// Number of samples.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Id of sample `i` (cheap: no decoding).
    fn id(&self, i: usize) -> DataResult<String>;
    /// Image sample `i` (image datasets).
    fn image(&self, i: usize) -> DataResult<ImageItem> {
        let _ = i;
        Err(DataError::WrongModality {
            kind: self.kind(),
            wanted: "image",
        })
    }
    /// Text sample `i` (text datasets).
    fn text(&self, i: usize) -> DataResult<TextItem> {
        let _ = i;
        Err(DataError::WrongModality {
            kind: self.kind(),
            wanted: "text",
        })
    }
    /// Class names in label order for a classifier with `num_outputs` outputs, or an error
    /// saying why the dataset's classes do not fit it. `None` for datasets without named classes.
    fn class_names(&self, num_outputs: usize) -> DataResult<Option<Vec<String>>> {
        let _ = num_outputs;
        Ok(None)
    }
    /// The names of every class in label order, each a list of synonyms (the first is the
    /// preferred name), for zero-shot prompts (CLIP). `None` for datasets without named classes.
    fn class_synonyms(&self) -> DataResult<Option<Vec<Vec<String>>>> {
        Ok(None)
    }
}

/// An opened dataset and what identifies its contents.
pub struct Opened {
    /// The reader.
    pub reader: Box<dyn DatasetReader>,
    /// Settings and content facts that determine the samples (file hashes, splits, …): part
    /// of the run's hashed plan.
    pub fingerprint: Value,
    /// The files and folders read (recorded in the plan, not hashed).
    pub locations: Vec<PathBuf>,
}

/// One registered dataset kind.
#[derive(Debug, Clone, Copy)]
pub struct DatasetInfo {
    /// The config name (`kind = "..."`).
    pub kind: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// Images or texts.
    pub modality: Modality,
    /// Annotations every sample carries.
    pub capabilities: &'static [Capability],
    /// The kind's own keys with their meaning, for listings (`key = default: what`).
    pub keys: &'static [(&'static str, &'static str)],
    /// Keys that hold paths (expanded like every config path).
    pub path_keys: &'static [&'static str],
    /// Opens the dataset from its keys (without `kind`, `model`, `limit` and the modality's
    /// preprocessing keys).
    pub open: fn(&Map<String, Value>) -> DataResult<Opened>,
}

/// Every dataset kind, in listing order.
pub const DATASETS: &[DatasetInfo] = &[
    crate::imagenet::DATASET,
    crate::imagenet_seg::DATASET,
    crate::eraser::DATASET,
    crate::newsgroups::DATASET,
];

/// The dataset kind of this name.
pub fn dataset_kind(kind: &str) -> Option<&'static DatasetInfo> {
    DATASETS.iter().find(|d| d.kind == kind)
}

/// The registered kinds, comma-separated.
pub fn dataset_kind_names() -> String {
    DATASETS
        .iter()
        .map(|d| d.kind)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a kind's settings table into its typed struct (unknown keys are errors naming them).
pub fn settings<T: serde::de::DeserializeOwned>(
    kind: &str,
    keys: &Map<String, Value>,
) -> DataResult<T> {
    serde_json::from_value(Value::Object(keys.clone())).map_err(|e| DataError::Settings {
        kind: kind.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_declare_their_modality() {
        let names: std::collections::BTreeSet<_> = DATASETS.iter().map(|d| d.kind).collect();
        assert_eq!(names.len(), DATASETS.len());
        assert_eq!(
            dataset_kind_names(),
            "imagenet_val, imagenet_seg, eraser, newsgroups"
        );
        assert_eq!(
            dataset_kind("imagenet_seg").map(|d| d.capabilities),
            Some(&[Capability::Masks][..])
        );
    }

    #[test]
    fn unknown_settings_keys_are_named() {
        let mut m = Map::new();
        m.insert("roott".into(), Value::from("x"));
        let e = (dataset_kind("imagenet_val").expect("kind").open)(&m)
            .err()
            .expect("error")
            .to_string();
        assert!(e.contains("`roott`") && e.contains("imagenet_val"), "{e}");
    }
}
