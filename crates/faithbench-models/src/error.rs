//! Errors of the models crate. Every variant names the file (and, where it applies, the
//! tensor) it is about, so a user with a bad checkpoint sees what to fix.

use std::path::PathBuf;

/// Any failure while loading weights, configs, tokenizers or images, or while running a model
/// on inputs of the wrong shape.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read at all.
    #[error("{path}: cannot read file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a checkpoint format faithbench reads.
    #[error("{path}: unknown or unsupported checkpoint format: {reason}")]
    UnknownFormat { path: PathBuf, reason: String },
    /// The file has the right format but is damaged (for example truncated).
    #[error("{path}: corrupt checkpoint: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A tensor the model needs is not in the checkpoint.
    #[error("{path}: missing tensor `{name}` (expected shape {expected:?}){hint}")]
    MissingTensor {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        hint: String,
    },
    /// The checkpoint holds tensors the model does not use (a different architecture?).
    #[error("{path}: unexpected tensor(s) not used by the model: {names:?}")]
    UnexpectedTensors { path: PathBuf, names: Vec<String> },
    /// A tensor has a different shape than the configuration implies.
    #[error("{path}: tensor `{name}` has shape {found:?}, the model config expects {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A tensor is stored in a dtype that cannot be converted to f32.
    #[error("{path}: tensor `{name}` has unsupported dtype {dtype}")]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    /// A model configuration (JSON or preset) is invalid.
    #[error("{path}: invalid model config: {reason}")]
    Config { path: PathBuf, reason: String },
    /// A tokenizer file could not be loaded or used.
    #[error("{path}: tokenizer error: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {reason}")]
    Image { path: PathBuf, reason: String },
    /// Inputs do not fit the model (shape, class index, sequence length ...).
    #[error("invalid input: {0}")]
    Input(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
