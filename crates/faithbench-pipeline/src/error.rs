//! The pipeline's error type. Every error is one of two kinds, which decide the `faithbench`
//! exit status: **bad input** (a config, checkpoint, dataset, map or run folder the user
//! supplied is missing, malformed or inconsistent — exit 2) or a **failure** (anything else:
//! a write that failed, a model that produced non-finite values, an internal error — exit 1).
//! `faithbench check` finding a regression is not an error (exit 3).
//!
//! Messages carry their context (file, key, sample); [`Context::context`] adds a layer and keeps
//! the kind, so the chain printed by the binary reads from the outermost situation to the cause.

use faithbench_data::files::FileError;
use faithbench_data::DataError;
use faithbench_eval::EvalError;
use faithbench_explain::ExplainError;
use faithbench_models::ModelError;

use crate::config::ConfigError;

/// A boxed cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The two kinds of error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input or usage: the user can fix it (exit status 2).
    Input,
    /// Anything else (exit status 1).
    Failure,
}

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a config, checkpoint, dataset, map or run folder is missing, malformed or
    /// inconsistent.
    #[error("{message}")]
    Input {
        /// What is wrong, with the file or key.
        message: String,
        /// The cause.
        #[source]
        source: Option<BoxError>,
    },
    /// A failure that is not the input's fault.
    #[error("{message}")]
    Failure {
        /// What failed.
        message: String,
        /// The cause.
        #[source]
        source: Option<BoxError>,
    },
}

/// Result alias of the pipeline.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A bad-input error without a cause.
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            source: None,
        }
    }

    /// A failure without a cause.
    pub fn failure(message: impl Into<String>) -> Self {
        Error::Failure {
            message: message.into(),
            source: None,
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Input { .. } => ErrorKind::Input,
            Error::Failure { .. } => ErrorKind::Failure,
        }
    }

    /// The same kind, with `message` as the outer layer and `self` as its cause.
    pub fn wrap(self, message: String) -> Self {
        let kind = self.kind();
        let source: Option<BoxError> = Some(Box::new(self));
        match kind {
            ErrorKind::Input => Error::Input { message, source },
            ErrorKind::Failure => Error::Failure { message, source },
        }
    }

    fn with_kind(kind: ErrorKind, message: String, source: BoxError) -> Self {
        match kind {
            ErrorKind::Input => Error::Input {
                message,
                source: Some(source),
            },
            ErrorKind::Failure => Error::Failure {
                message,
                source: Some(source),
            },
        }
    }
}

fn classified(kind: ErrorKind, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::with_kind(kind, e.to_string(), Box::new(e))
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        classified(ErrorKind::Input, e)
    }
}

/// Checkpoints, configs, tokenizers, images and input shapes: all supplied by the user.
impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        classified(ErrorKind::Input, e)
    }
}

impl From<ExplainError> for Error {
    fn from(e: ExplainError) -> Self {
        let kind = match &e {
            ExplainError::Model(_) | ExplainError::Config(_) | ExplainError::Precomputed { .. } => {
                ErrorKind::Input
            }
            ExplainError::NonFinite { .. } | ExplainError::Internal(_) => ErrorKind::Failure,
        };
        classified(kind, e)
    }
}

impl From<EvalError> for Error {
    fn from(e: EvalError) -> Self {
        let kind = match &e {
            EvalError::Config(_) | EvalError::Record { .. } | EvalError::Sample { .. } => {
                ErrorKind::Input
            }
            EvalError::Modality { .. } | EvalError::Output { .. } | EvalError::Protocol(_) => {
                ErrorKind::Failure
            }
        };
        classified(kind, e)
    }
}

/// Every dataset problem is the dataset's (or its settings').
impl From<DataError> for Error {
    fn from(e: DataError) -> Self {
        classified(ErrorKind::Input, e)
    }
}

/// Writing files of the run folder; reading a user file goes through [`Context::input`].
impl From<FileError> for Error {
    fn from(e: FileError) -> Self {
        classified(ErrorKind::Failure, e)
    }
}

impl From<faithbench_report::ReportError> for Error {
    fn from(e: faithbench_report::ReportError) -> Self {
        classified(ErrorKind::Failure, e)
    }
}

/// Adding context to results.
pub trait Context<T> {
    /// Adds an outer message, keeping the error's kind.
    fn context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| e.into().wrap(message().into()))
    }
}

/// Classifying foreign errors (I/O, JSON) at the call site.
pub trait Classify<T> {
    /// The error is bad input (a file the user supplied).
    fn input_err<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T>;
    /// The error is a failure.
    fn failure<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Classify<T> for std::result::Result<T, E> {
    fn input_err<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| Error::with_kind(ErrorKind::Input, message().into(), Box::new(e)))
    }
    fn failure<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| Error::with_kind(ErrorKind::Failure, message().into(), Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_chains_the_cause() {
        let r: std::result::Result<(), ModelError> = Err(ModelError::Input("bad shape".into()));
        let e = r.context(|| "loading model `m`").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Input);
        assert_eq!(e.to_string(), "loading model `m`");
        let cause = std::error::Error::source(&e).expect("cause").to_string();
        assert!(cause.contains("bad shape"), "{cause}");
        let io: std::result::Result<(), std::io::Error> =
            Err(std::io::Error::new(std::io::ErrorKind::Other, "disk full"));
        let e = io.failure(|| "x.csv: cannot write").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Failure);
        let e = Err::<(), _>(ExplainError::Internal("bug".into()))
            .context(|| "explaining")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Failure);
    }
}
