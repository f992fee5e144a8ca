//! The error type of this crate.

use std::path::PathBuf;

/// Errors raised while writing or reading reports.
///
/// Every variant that concerns a file names it (`path`), so a message such as
/// `results/summary.csv:7: invalid float "abc" in column value` is enough to locate the
/// problem.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating, writing or reading a file failed.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be parsed. `line` is 1-based (the header is line 1).
    #[error("{}:{line}: {msg}", path.display())]
    Parse {
        /// The file being read.
        path: PathBuf,
        /// 1-based line number of the offending record.
        line: u64,
        /// What was wrong.
        msg: String,
    },
    /// Writing CSV data failed for a reason other than I/O.
    #[error("{}: CSV error: {msg}", path.display())]
    Csv {
        /// The file being written.
        path: PathBuf,
        /// The underlying error, as text.
        msg: String,
    },
    /// plotters failed to draw a chart.
    #[error("{}: drawing failed: {msg}", path.display())]
    Draw {
        /// The output file being drawn.
        path: PathBuf,
        /// The underlying error, as text.
        msg: String,
    },
    /// Encoding or saving an image failed.
    #[error("{}: image error: {msg}", path.display())]
    Image {
        /// The output file.
        path: PathBuf,
        /// The underlying error, as text.
        msg: String,
    },
    /// The input data are inconsistent (e.g. mismatched lengths). `target` names the output
    /// file when there is one, otherwise the function that rejected the input.
    #[error("{target}: invalid input: {msg}")]
    Invalid {
        /// The output file (displayed) or the function name.
        target: String,
        /// What was wrong.
        msg: String,
    },
    /// The shipped font could not be registered with plotters.
    #[error("could not register the shipped font DejaVuSans.ttf: {0}")]
    Font(String),
}

impl ReportError {
    /// Shorthand for [`ReportError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`ReportError::Invalid`].
    pub(crate) fn invalid(target: impl std::fmt::Display, msg: impl Into<String>) -> Self {
        ReportError::Invalid {
            target: target.to_string(),
            msg: msg.into(),
        }
    }

    /// Shorthand for [`ReportError::Draw`].
    pub(crate) fn draw(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        ReportError::Draw {
            path: path.into(),
            msg: err.to_string(),
        }
    }
}
