//! 20 Newsgroups test split as exported by `scripts/export_20newsgroups.py` (protocols §4.6, §5.4).
//!
//! Files (one folder):
//! * `newsgroups_test.jsonl` — one document per line,
//!   `{"id": i, "text": ..., "label": int, "label_name": ...}`, in scikit-learn's
//!   `fetch_20newsgroups(subset='test', remove=('headers','footers','quotes'))` order (7532 lines
//!   for the real corpus). `id` must equal the 0-based line position.
//! * `newsgroups_sample3000.json` — a JSON list of indices into that order: the reference's
//!   `random.seed(0); random.sample(range(7532), 3000)`, in sampling order (the order the
//!   reference evaluates the documents in).
//!
//! Validation: ids in order, labels consistent with their names (one name per label), sample
//! indices in range and distinct. Errors name the file and 1-based line.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the documents.
pub const DOCS_FILE: &str = "newsgroups_test.jsonl";
/// File name of the sample index list.
pub const SAMPLE_FILE: &str = "newsgroups_sample3000.json";

/// Errors of the 20 Newsgroups reader; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum NewsgroupsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A line (or the sample file) is not valid JSON of the expected shape.
    #[error("{path}:{line}: malformed: {reason}")]
    Json {
        /// File.
        path: PathBuf,
        /// 1-based line number (1 for the sample file).
        line: usize,
        /// Parser message.
        reason: String,
    },
    /// The content is inconsistent (id out of order, label/name mismatch, bad sample index).
    #[error("{path}:{line}: {reason}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// 1-based line number (1 for the sample file).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// One test document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewsgroupsDoc {
    /// Position in the exported order.
    pub id: usize,
    /// Post body (headers, footers and quotes removed by scikit-learn).
    pub text: String,
    /// Class index (0..20).
    pub label: usize,
    /// Class name, e.g. `"rec.autos"`.
    pub label_name: String,
}

fn read(path: &Path) -> Result<String, NewsgroupsError> {
    fs::read_to_string(path).map_err(|source| NewsgroupsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and validates `newsgroups_test.jsonl` (blank lines are errors, like Python's
/// `json.loads('')`).
pub fn load_documents(path: impl AsRef<Path>) -> Result<Vec<NewsgroupsDoc>, NewsgroupsError> {
    let path = path.as_ref();
    let text = read(path)?;
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let doc: NewsgroupsDoc = serde_json::from_str(line).map_err(|e| NewsgroupsError::Json {
            path: path.to_path_buf(),
            line: i + 1,
            reason: if line.trim().is_empty() {
                "empty line".into()
            } else {
                e.to_string()
            },
        })?;
        let invalid = |reason: String| NewsgroupsError::Invalid {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        if doc.id != i {
            return Err(invalid(format!("id {} at position {i}", doc.id)));
        }
        match names.get(&doc.label) {
            Some(n) if *n != doc.label_name => {
                return Err(invalid(format!(
                    "label {} is named {:?} here but {:?} earlier",
                    doc.label, doc.label_name, n
                )))
            }
            Some(_) => {}
            None => {
                names.insert(doc.label, doc.label_name.clone());
            }
        }
        out.push(doc);
    }
    Ok(out)
}

/// Reads `newsgroups_sample3000.json` and checks every index is `< num_docs` and distinct.
pub fn load_sample(path: impl AsRef<Path>, num_docs: usize) -> Result<Vec<usize>, NewsgroupsError> {
    let path = path.as_ref();
    let text = read(path)?;
    let idx: Vec<usize> = serde_json::from_str(&text).map_err(|e| NewsgroupsError::Json {
        path: path.to_path_buf(),
        line: 1,
        reason: e.to_string(),
    })?;
    let mut seen = vec![false; num_docs];
    for &i in &idx {
        if i >= num_docs || seen[i] {
            return Err(NewsgroupsError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                reason: if i >= num_docs {
                    format!("index {i} out of range for {num_docs} documents")
                } else {
                    format!("index {i} appears twice")
                },
            });
        }
        seen[i] = true;
    }
    Ok(idx)
}

/// The exported test split with its sample list.
#[derive(Debug, Clone)]
pub struct Newsgroups {
    /// All documents in export order.
    pub documents: Vec<NewsgroupsDoc>,
    /// The reference subset (indices into `documents`, sampling order).
    pub sample: Vec<usize>,
}

impl Newsgroups {
    /// Reads [`DOCS_FILE`] and [`SAMPLE_FILE`] from `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, NewsgroupsError> {
        let dir = dir.as_ref();
        let documents = load_documents(dir.join(DOCS_FILE))?;
        let sample = load_sample(dir.join(SAMPLE_FILE), documents.len())?;
        Ok(Newsgroups { documents, sample })
    }

    /// The sampled documents in sampling order.
    pub fn sampled(&self) -> impl Iterator<Item = &NewsgroupsDoc> {
        self.sample.iter().map(|&i| &self.documents[i])
    }

    /// Class names by label (labels never seen are absent).
    pub fn label_names(&self) -> BTreeMap<usize, &str> {
        self.documents
            .iter()
            .map(|d| (d.label, d.label_name.as_str()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The `newsgroups` dataset kind.

use crate::reader::{
    settings, Capability, DataError, DataResult, DatasetInfo, DatasetReader, Modality, Opened,
    TextItem,
};

fn yes() -> bool {
    true
}

/// `[datasets.NAME] kind = "newsgroups"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewsgroupsSettings {
    /// The export folder.
    root: PathBuf,
    /// The reference's 3000-document sample in sampling order (default), or every document.
    #[serde(default = "yes")]
    sample3000: bool,
}

/// Registry entry.
pub const DATASET: DatasetInfo = DatasetInfo {
    kind: "newsgroups",
    summary: "the 20 Newsgroups test split exported by scripts/export_20newsgroups.py, optionally the reference's 3000-document sample (protocols §5.4)",
    modality: Modality::Text,
    capabilities: &[Capability::Labels],
    keys: &[
        ("root", "the export folder (newsgroups_test.jsonl, newsgroups_sample3000.json)"),
        ("sample3000", "true (default): the reference's 3000-document sample in sampling order; false: every document"),
    ],
    path_keys: &["root"],
    open: |keys| {
        let s: NewsgroupsSettings = settings("newsgroups", keys)?;
        let ng = Newsgroups::open(&s.root)?;
        let docs: Vec<NewsgroupsDoc> = if s.sample3000 {
            ng.sampled().cloned().collect()
        } else {
            ng.documents.clone()
        };
        let by_label = ng.label_names();
        let n = by_label.keys().next_back().map_or(0, |l| l + 1);
        let names = (0..n)
            .map(|l| by_label.get(&l).map_or("?".to_string(), |s| s.to_string()))
            .collect();
        Ok(Opened {
            reader: Box::new(NewsgroupsReader {
                root: s.root.clone(),
                docs,
                names,
            }),
            fingerprint: serde_json::json!({ "sample3000": s.sample3000 }),
            locations: vec![s.root],
        })
    },
};

/// Sample id of a 20 Newsgroups document: its zero-padded export position.
pub fn newsgroups_id(doc: &NewsgroupsDoc) -> String {
    format!("{:04}", doc.id)
}

/// The documents of an export in evaluation order, with the class names by label.
pub struct NewsgroupsReader {
    root: PathBuf,
    docs: Vec<NewsgroupsDoc>,
    /// Class names by label, from the whole export (`?` for labels never seen).
    names: Vec<String>,
}

impl DatasetReader for NewsgroupsReader {
    fn kind(&self) -> &'static str {
        DATASET.kind
    }
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn capabilities(&self) -> &'static [Capability] {
        DATASET.capabilities
    }
    fn len(&self) -> usize {
        self.docs.len()
    }
    fn id(&self, i: usize) -> DataResult<String> {
        Ok(newsgroups_id(self.doc(i)?))
    }
    fn text(&self, i: usize) -> DataResult<TextItem> {
        let d = self.doc(i)?;
        Ok(TextItem {
            id: newsgroups_id(d),
            text: d.text.clone(),
            label: d.label,
            eraser: None,
        })
    }
    /// The export's label names, padded with `LABEL_k` up to the model's outputs.
    fn class_names(&self, num_outputs: usize) -> DataResult<Option<Vec<String>>> {
        if self.names.len() > num_outputs {
            return Err(DataError::Invalid {
                path: self.root.clone(),
                message: format!(
                    "the export has labels up to {} but the model has {num_outputs} outputs",
                    self.names.len() - 1
                ),
            });
        }
        let mut names = self.names.clone();
        while names.len() < num_outputs {
            names.push(format!("LABEL_{}", names.len()));
        }
        Ok(Some(names))
    }
}

impl NewsgroupsReader {
    fn doc(&self, i: usize) -> DataResult<&NewsgroupsDoc> {
        self.docs.get(i).ok_or_else(|| DataError::Invalid {
            path: self.root.clone(),
            message: format!("sample {i} is out of range ({} documents)", self.docs.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/data/newsgroups_tiny"
    );

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "faithbench-newsgroups-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn reads_tiny_fixture() {
        let ng = Newsgroups::open(TINY).unwrap();
        assert_eq!(ng.documents.len(), 3);
        assert_eq!(ng.documents[0].label, 7);
        assert_eq!(ng.documents[0].label_name, "rec.autos");
        assert!(ng.documents[1].text.contains('\n'));
        assert_eq!(ng.documents[2].text, "");
        assert_eq!(ng.sample, vec![2, 0]);
        let ids: Vec<usize> = ng.sampled().map(|d| d.id).collect();
        assert_eq!(ids, vec![2, 0]);
        assert_eq!(ng.label_names().get(&11), Some(&"sci.crypt"));
    }

    #[test]
    fn validation_errors() {
        let dir = tmp("bad");
        let line = |id: usize, label: usize, name: &str| {
            format!(r#"{{"id": {id}, "text": "t", "label": {label}, "label_name": "{name}"}}"#)
        };
        fs::write(
            dir.join(DOCS_FILE),
            format!("{}\n{}\n", line(0, 1, "a"), line(2, 1, "a")),
        )
        .unwrap();
        let e = load_documents(dir.join(DOCS_FILE)).unwrap_err();
        assert!(matches!(e, NewsgroupsError::Invalid { line: 2, .. }), "{e}");
        fs::write(
            dir.join(DOCS_FILE),
            format!("{}\n{}\n", line(0, 1, "a"), line(1, 1, "b")),
        )
        .unwrap();
        assert!(load_documents(dir.join(DOCS_FILE)).is_err());
        fs::write(dir.join(DOCS_FILE), format!("{}\n\n", line(0, 1, "a"))).unwrap();
        let e = load_documents(dir.join(DOCS_FILE)).unwrap_err();
        assert!(matches!(e, NewsgroupsError::Json { line: 2, .. }), "{e}");
        fs::write(dir.join(SAMPLE_FILE), "[0, 3]").unwrap();
        assert!(load_sample(dir.join(SAMPLE_FILE), 3).is_err());
        fs::write(dir.join(SAMPLE_FILE), "[1, 1]").unwrap();
        assert!(load_sample(dir.join(SAMPLE_FILE), 3).is_err());
        fs::write(dir.join(SAMPLE_FILE), "[2, 1]\n").unwrap();
        assert_eq!(load_sample(dir.join(SAMPLE_FILE), 3).unwrap(), vec![2, 1]);
        let e = load_sample(dir.join("missing.json"), 3).unwrap_err();
        assert!(e.to_string().contains("missing.json"));
        let _ = fs::remove_dir_all(&dir);
    }
}
