//! ERASER benchmark reader (Movie Reviews, protocols §5.3; DeYoung et al. 2020, `rationale_benchmark/utils.py`).
//!
//! Layout of a dataset folder (e.g. `movies/`):
//! * `docs/<docid>` — one sentence per line, tokens separated by single spaces. As in ERASER's
//!   `load_documents`, each line is stripped, empty lines are dropped, and each line is split on
//!   `' '` with empty tokens dropped. The flattened document is the concatenation of all sentences.
//! * `{train,val,test}.jsonl` — one [`Annotation`] per line. Evidence `start_token` is inclusive,
//!   `end_token` exclusive (indices into the flattened document); `start_sentence` inclusive,
//!   `end_sentence` exclusive.
//!
//! Validation ([`Eraser::split`]) rejects unknown docids and spans outside their document
//! (`start ≤ end ≤ len`), with the file and line number. Malformed JSON is reported with the file
//! and 1-based line number; a blank line is malformed too (Python's `json.loads('')` fails). Whether
//! an evidence's `text` equals its tokens is *not* an error (tokenisation artefacts exist in
//! public data); [`Eraser::text_mismatches`] lists such cases.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors of the ERASER reader; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum EraserError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A JSONL line is not a valid annotation.
    #[error("{path}:{line}: malformed annotation: {reason}")]
    Json {
        /// File.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Parser message.
        reason: String,
    },
    /// An evidence (or `docids` entry) names a document that is not in `docs/`.
    #[error("{path}:{line}: annotation {annotation_id} refers to unknown document {docid:?}")]
    UnknownDocid {
        /// File.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Annotation id.
        annotation_id: String,
        /// The unknown docid.
        docid: String,
    },
    /// An evidence span lies outside its document.
    #[error("{path}:{line}: annotation {annotation_id}: {kind} span [{start}, {end}) is invalid for document {docid} with {len} {kind}s")]
    SpanOutOfRange {
        /// File.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Annotation id.
        annotation_id: String,
        /// Document id.
        docid: String,
        /// "token" or "sentence".
        kind: &'static str,
        /// Span start.
        start: i64,
        /// Span end.
        end: i64,
        /// Document length in that unit.
        len: usize,
    },
    /// A document file is not valid UTF-8.
    #[error("{path}: document is not valid UTF-8")]
    NotUtf8 {
        /// Document path.
        path: PathBuf,
    },
}

/// One evidence span (ERASER `Evidence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Document id.
    pub docid: String,
    /// First token (inclusive), index into the flattened document.
    pub start_token: i64,
    /// Last token (exclusive).
    pub end_token: i64,
    /// First sentence (inclusive).
    pub start_sentence: i64,
    /// Last sentence (exclusive).
    pub end_sentence: i64,
    /// The span's tokens joined by spaces.
    pub text: String,
}

/// One annotation line (ERASER `Annotation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// Annotation id (for Movies the document id, e.g. `negR_000.txt`).
    pub annotation_id: String,
    /// The query (Movies: "What is the sentiment of this review?").
    pub query: String,
    /// Evidence groups; each group is a list of spans (Movies: one span per group).
    pub evidences: Vec<Vec<Evidence>>,
    /// Gold label, e.g. `"NEG"` / `"POS"`.
    pub classification: String,
    /// Optional query type.
    #[serde(default)]
    pub query_type: Option<String>,
    /// Optional explicit document ids.
    #[serde(default)]
    pub docids: Option<Vec<String>>,
}

impl Annotation {
    /// All evidence spans, flattened in file order.
    pub fn all_evidences(&self) -> impl Iterator<Item = &Evidence> {
        self.evidences.iter().flatten()
    }

    /// The documents this annotation is about: `docids` if given, else the distinct evidence
    /// docids in order of appearance, else the annotation id (the Movies convention, where the
    /// annotation id is the document id).
    pub fn doc_ids(&self) -> Vec<String> {
        if let Some(d) = &self.docids {
            return d.clone();
        }
        let mut out: Vec<String> = Vec::new();
        for e in self.all_evidences() {
            if !out.contains(&e.docid) {
                out.push(e.docid.clone());
            }
        }
        if out.is_empty() {
            out.push(self.annotation_id.clone());
        }
        out
    }
}

/// A tokenised document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Document id (file name in `docs/`).
    pub docid: String,
    /// Sentences of tokens.
    pub sentences: Vec<Vec<String>>,
}

impl Document {
    /// Parses document text with ERASER's rules (strip lines, drop empty lines, split on `' '`,
    /// drop empty tokens).
    pub fn parse(docid: &str, text: &str) -> Self {
        let sentences = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split(' ')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        Document {
            docid: docid.to_string(),
            sentences,
        }
    }

    /// The flattened token sequence.
    pub fn tokens(&self) -> Vec<&str> {
        self.sentences
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// Number of tokens in the flattened document.
    pub fn num_tokens(&self) -> usize {
        self.sentences.iter().map(Vec::len).sum()
    }
}

/// Which annotation file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// `train.jsonl`
    Train,
    /// `val.jsonl`
    Val,
    /// `test.jsonl`
    Test,
}

impl Split {
    /// File name of the split.
    pub fn file_name(self) -> &'static str {
        match self {
            Split::Train => "train.jsonl",
            Split::Val => "val.jsonl",
            Split::Test => "test.jsonl",
        }
    }
}

/// Reads `{split}.jsonl`-style annotations without validating them against documents.
pub fn load_annotations(path: impl AsRef<Path>) -> Result<Vec<Annotation>, EraserError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| EraserError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str::<Annotation>(line).map_err(|e| EraserError::Json {
                path: path.to_path_buf(),
                line: i + 1,
                reason: if line.trim().is_empty() {
                    "empty line".into()
                } else {
                    e.to_string()
                },
            })
        })
        .collect()
}

/// Reads every file of a `docs/` folder (sorted by docid).
pub fn load_documents(
    docs_dir: impl AsRef<Path>,
) -> Result<BTreeMap<String, Document>, EraserError> {
    let dir = docs_dir.as_ref();
    let io = |path: &Path, source| EraserError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        if !fs::metadata(&path).map_err(|e| io(&path, e))?.is_file() {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
        let text =
            String::from_utf8(bytes).map_err(|_| EraserError::NotUtf8 { path: path.clone() })?;
        let docid = entry.file_name().to_string_lossy().into_owned();
        out.insert(docid.clone(), Document::parse(&docid, &text));
    }
    Ok(out)
}

/// An ERASER dataset folder with its documents loaded.
#[derive(Debug, Clone)]
pub struct Eraser {
    root: PathBuf,
    documents: BTreeMap<String, Document>,
}

/// An evidence whose `text` differs from its tokens (see [`Eraser::text_mismatches`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMismatch {
    /// Annotation id.
    pub annotation_id: String,
    /// Document id.
    pub docid: String,
    /// Span start.
    pub start_token: i64,
    /// The `text` field.
    pub text: String,
    /// The document tokens of the span joined by spaces.
    pub tokens: String,
}

impl Eraser {
    /// Loads all documents of `root/docs/`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, EraserError> {
        let root = root.as_ref().to_path_buf();
        let documents = load_documents(root.join("docs"))?;
        Ok(Eraser { root, documents })
    }

    /// All documents by docid.
    pub fn documents(&self) -> &BTreeMap<String, Document> {
        &self.documents
    }

    /// One document.
    pub fn document(&self, docid: &str) -> Option<&Document> {
        self.documents.get(docid)
    }

    /// Reads and validates the annotations of `split` against the documents.
    pub fn split(&self, split: Split) -> Result<Vec<Annotation>, EraserError> {
        let path = self.root.join(split.file_name());
        let anns = load_annotations(&path)?;
        for (i, a) in anns.iter().enumerate() {
            self.validate(&path, i + 1, a)?;
        }
        Ok(anns)
    }

    fn validate(&self, path: &Path, line: usize, a: &Annotation) -> Result<(), EraserError> {
        let unknown = |docid: &str| EraserError::UnknownDocid {
            path: path.to_path_buf(),
            line,
            annotation_id: a.annotation_id.clone(),
            docid: docid.to_string(),
        };
        if let Some(ids) = &a.docids {
            if let Some(d) = ids.iter().find(|d| !self.documents.contains_key(*d)) {
                return Err(unknown(d));
            }
        }
        for e in a.all_evidences() {
            let doc = self
                .documents
                .get(&e.docid)
                .ok_or_else(|| unknown(&e.docid))?;
            let checks = [
                ("token", e.start_token, e.end_token, doc.num_tokens()),
                (
                    "sentence",
                    e.start_sentence,
                    e.end_sentence,
                    doc.sentences.len(),
                ),
            ];
            for (kind, start, end, len) in checks {
                if start < 0 || end < start || end as u64 > len as u64 {
                    return Err(EraserError::SpanOutOfRange {
                        path: path.to_path_buf(),
                        line,
                        annotation_id: a.annotation_id.clone(),
                        docid: e.docid.clone(),
                        kind,
                        start,
                        end,
                        len,
                    });
                }
            }
        }
        Ok(())
    }

    /// Evidences of (already validated) annotations whose `text` is not their tokens joined by
    /// single spaces.
    pub fn text_mismatches(&self, annotations: &[Annotation]) -> Vec<TextMismatch> {
        let mut out = Vec::new();
        for a in annotations {
            for e in a.all_evidences() {
                let Some(doc) = self.documents.get(&e.docid) else {
                    continue;
                };
                let toks = doc.tokens();
                let (s, t) = (
                    e.start_token.max(0) as usize,
                    (e.end_token.max(0) as usize).min(toks.len()),
                );
                let joined = if s <= t {
                    toks[s..t].join(" ")
                } else {
                    String::new()
                };
                if joined != e.text {
                    out.push(TextMismatch {
                        annotation_id: a.annotation_id.clone(),
                        docid: e.docid.clone(),
                        start_token: e.start_token,
                        text: e.text.clone(),
                        tokens: joined,
                    });
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The `eraser` dataset kind.

use crate::reader::{
    settings, Capability, DataError, DataResult, DatasetInfo, DatasetReader, EraserDoc, Modality,
    Opened, TextItem,
};

/// One ERASER split or several, in order (`split = "test"` or `split = ["test", "train"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Splits(pub Vec<Split>);

fn split_named<E: serde::de::Error>(v: &str) -> Result<Split, E> {
    match v {
        "train" => Ok(Split::Train),
        "val" => Ok(Split::Val),
        "test" => Ok(Split::Test),
        other => Err(E::custom(format!(
            "unknown split `{other}` (train, val, test)"
        ))),
    }
}

impl<'de> Deserialize<'de> for Splits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Splits;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a split (\"test\") or a list of splits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Splits, E> {
                split_named(v).map(|s| Splits(vec![s]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Splits, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = a.next_element::<String>()? {
                    out.push(split_named(&x)?);
                }
                Ok(Splits(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn default_classes() -> Vec<String> {
    vec!["NEG".to_string(), "POS".to_string()]
}

/// `[datasets.NAME] kind = "eraser"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EraserSettings {
    /// The folder holding `docs/` and the split files.
    root: PathBuf,
    /// One split or several in order.
    split: Splits,
    /// Class names in label order.
    #[serde(default = "default_classes")]
    classes: Vec<String>,
}

/// Registry entry.
pub const DATASET: DatasetInfo = DatasetInfo {
    kind: "eraser",
    summary: "an ERASER folder (Movie Reviews, faithbench-planted): docs/ + {train,val,test}.jsonl, documents with evidence spans (protocols §5.3)",
    modality: Modality::Text,
    capabilities: &[Capability::Labels, Capability::Evidence],
    keys: &[
        ("root", "the folder holding docs/ and the split files"),
        ("split", "\"test\" or a list in order, e.g. [\"test\", \"train\", \"val\"]"),
        ("classes", "class names in label order (default [\"NEG\", \"POS\"], the Movie Reviews classifier's)"),
    ],
    path_keys: &["root"],
    open: |keys| {
        let s: EraserSettings = settings("eraser", keys)?;
        let invalid = |message: String| DataError::Settings {
            kind: "eraser".into(),
            message,
        };
        if s.split.0.is_empty() {
            return Err(invalid("`split` is empty".into()));
        }
        if (1..s.split.0.len()).any(|i| s.split.0[..i].contains(&s.split.0[i])) {
            return Err(invalid("a split is listed twice".into()));
        }
        let distinct: std::collections::BTreeSet<&String> = s.classes.iter().collect();
        if s.classes.len() < 2 || distinct.len() != s.classes.len() {
            return Err(invalid("`classes` needs at least two distinct names".into()));
        }
        let reader = EraserReader::open(&s.root, &s.split.0, s.classes.clone())?;
        Ok(Opened {
            reader: Box::new(reader),
            fingerprint: serde_json::json!({ "splits": s.split.0, "classes": s.classes }),
            locations: vec![s.root],
        })
    },
};

/// An ERASER folder restricted to the annotations of some splits (concatenated in order).
pub struct EraserReader {
    root: PathBuf,
    data: Eraser,
    annotations: Vec<Annotation>,
    classes: Vec<String>,
}

impl EraserReader {
    /// Opens `root` and checks the annotations of `splits`: ids distinct, one document each,
    /// that document present, its class one of `classes`.
    pub fn open(root: &Path, splits: &[Split], classes: Vec<String>) -> DataResult<Self> {
        let data = Eraser::open(root)?;
        let mut annotations = Vec::new();
        for &s in splits {
            annotations.extend(data.split(s)?);
        }
        let invalid = |message: String| DataError::Invalid {
            path: root.to_path_buf(),
            message,
        };
        let mut seen = std::collections::BTreeSet::new();
        for a in &annotations {
            if !seen.insert(a.annotation_id.as_str()) {
                return Err(invalid(format!(
                    "annotation id `{}` occurs twice in the selected splits",
                    a.annotation_id
                )));
            }
            let docs = a.doc_ids();
            if docs.len() != 1 {
                return Err(invalid(format!(
                    "annotation `{}` is about {} documents; the text evaluators handle one document per annotation (Movie Reviews)",
                    a.annotation_id,
                    docs.len()
                )));
            }
            if data.document(&docs[0]).is_none() {
                return Err(invalid(format!(
                    "annotation `{}` refers to the missing document `{}`",
                    a.annotation_id, docs[0]
                )));
            }
            if !classes.contains(&a.classification) {
                return Err(invalid(format!(
                    "annotation `{}` has class `{}`, not one of the dataset's classes {:?}",
                    a.annotation_id, a.classification, classes
                )));
            }
        }
        Ok(EraserReader {
            root: root.to_path_buf(),
            data,
            annotations,
            classes,
        })
    }
}

impl DatasetReader for EraserReader {
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
        self.annotations.len()
    }
    fn id(&self, i: usize) -> DataResult<String> {
        self.annotations
            .get(i)
            .map(|a| a.annotation_id.clone())
            .ok_or_else(|| DataError::Invalid {
                path: self.root.clone(),
                message: format!("sample {i} is out of range ({} annotations)", self.len()),
            })
    }
    fn text(&self, i: usize) -> DataResult<TextItem> {
        let invalid = |message: String| DataError::Invalid {
            path: self.root.clone(),
            message,
        };
        let a = self.annotations.get(i).ok_or_else(|| {
            invalid(format!(
                "sample {i} is out of range ({} annotations)",
                self.len()
            ))
        })?;
        let docid = a.doc_ids().remove(0);
        let doc = self
            .data
            .document(&docid)
            .ok_or_else(|| invalid(format!("document `{docid}` is missing")))?;
        let label = self
            .classes
            .iter()
            .position(|c| c == &a.classification)
            .ok_or_else(|| invalid(format!("unknown class `{}`", a.classification)))?;
        let evidence = a
            .all_evidences()
            .filter(|e| e.docid == docid)
            .map(|e| (e.start_token.max(0) as usize, e.end_token.max(0) as usize))
            .collect();
        Ok(TextItem {
            id: a.annotation_id.clone(),
            text: doc.tokens().join(" "),
            label,
            eraser: Some(EraserDoc {
                docid,
                num_tokens: doc.num_tokens(),
                evidence,
            }),
        })
    }
    fn class_names(&self, num_outputs: usize) -> DataResult<Option<Vec<String>>> {
        if self.classes.len() != num_outputs {
            return Err(DataError::Invalid {
                path: self.root.clone(),
                message: format!(
                    "the dataset has {} classes ({}) but the model has {num_outputs} outputs; set `classes`",
                    self.classes.len(),
                    self.classes.join(", ")
                ),
            });
        }
        Ok(Some(self.classes.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/data/eraser_tiny"
    );

    fn tmp(tag: &str) -> PathBuf {
        let p =
            std::env::temp_dir().join(format!("faithbench-eraser-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(p.join("docs")).unwrap();
        p
    }

    #[test]
    fn document_parsing_rules() {
        let d = Document::parse("d", "  a  b c \n\n\td e\n");
        assert_eq!(d.sentences, vec![vec!["a", "b", "c"], vec!["d", "e"]]);
        assert_eq!(d.tokens(), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(d.num_tokens(), 5);
    }

    #[test]
    fn reads_tiny_fixture() {
        let ds = Eraser::open(TINY).unwrap();
        assert_eq!(ds.documents().len(), 2);
        let neg = ds.document("negR_000.txt").unwrap();
        assert_eq!(neg.sentences.len(), 3);
        assert_eq!(neg.num_tokens(), 17);
        assert_eq!(neg.tokens()[4], "dead");
        let test = ds.split(Split::Test).unwrap();
        assert_eq!(test.len(), 2);
        let a = &test[0];
        assert_eq!(a.annotation_id, "negR_000.txt");
        assert_eq!(a.classification, "NEG");
        assert_eq!(a.query, "What is the sentiment of this review?");
        assert_eq!(a.evidences.len(), 2);
        let e = &a.evidences[0][0];
        assert_eq!(
            (e.start_token, e.end_token, e.start_sentence, e.end_sentence),
            (4, 7, 0, 1)
        );
        assert_eq!(e.text, "dead on arrival");
        assert_eq!(neg.tokens()[4..7].join(" "), "dead on arrival");
        assert_eq!(a.doc_ids(), vec!["negR_000.txt".to_string()]);
        assert_eq!(test[1].classification, "POS");
        assert_eq!(test[1].query_type, None);
        assert!(ds.text_mismatches(&test).is_empty());
        let train = ds.split(Split::Train).unwrap();
        assert_eq!(train.len(), 1);
        assert_eq!(train[0].docids, Some(vec!["posR_000.txt".to_string()]));
        assert_eq!(train[0].evidences.len(), 0);
        assert_eq!(train[0].doc_ids(), vec!["posR_000.txt".to_string()]);
        let val = ds.split(Split::Val).unwrap();
        assert_eq!(val[0].query_type.as_deref(), Some("sentiment"));
        let ev = &val[0].evidences[0][0];
        assert_eq!(
            neg.tokens()[ev.start_token as usize..ev.end_token as usize].join(" "),
            "avoid it ."
        );
    }

    fn write_case(tag: &str, jsonl: &str) -> PathBuf {
        let root = tmp(tag);
        fs::write(root.join("docs/d1"), "one two three\nfour five\n").unwrap();
        fs::write(root.join("test.jsonl"), jsonl).unwrap();
        root
    }

    const OK_EV: &str = r#"{"docid": "d1", "start_token": 1, "end_token": 3, "start_sentence": 0, "end_sentence": 1, "text": "two three"}"#;

    #[test]
    fn validation_errors() {
        let line = |ev: &str| {
            format!(
                r#"{{"annotation_id": "d1", "query": "q", "classification": "POS", "evidences": [[{ev}]]}}"#
            )
        };
        let good = line(OK_EV);
        let root = write_case("ok", &format!("{good}\n"));
        assert_eq!(
            Eraser::open(&root)
                .unwrap()
                .split(Split::Test)
                .unwrap()
                .len(),
            1
        );

        let root = write_case(
            "unknown",
            &format!("{good}\n{}\n", line(&OK_EV.replace("\"d1\"", "\"nope\""))),
        );
        let e = Eraser::open(&root).unwrap().split(Split::Test).unwrap_err();
        assert!(
            matches!(&e, EraserError::UnknownDocid { line: 2, docid, .. } if docid == "nope"),
            "{e}"
        );

        let root = write_case(
            "span",
            &line(&OK_EV.replace("\"end_token\": 3", "\"end_token\": 6")),
        );
        let e = Eraser::open(&root).unwrap().split(Split::Test).unwrap_err();
        assert!(
            matches!(
                e,
                EraserError::SpanOutOfRange {
                    kind: "token",
                    end: 6,
                    len: 5,
                    ..
                }
            ),
            "{e}"
        );

        let root = write_case(
            "sent",
            &line(&OK_EV.replace("\"end_sentence\": 1", "\"end_sentence\": 3")),
        );
        let e = Eraser::open(&root).unwrap().split(Split::Test).unwrap_err();
        assert!(
            matches!(
                e,
                EraserError::SpanOutOfRange {
                    kind: "sentence",
                    len: 2,
                    ..
                }
            ),
            "{e}"
        );

        let root = write_case(
            "json",
            &format!("{good}\n{good}\n{{\"annotation_id\": 5,\n"),
        );
        let e = Eraser::open(&root).unwrap().split(Split::Test).unwrap_err();
        assert!(matches!(e, EraserError::Json { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("test.jsonl:3"), "{e}");

        let root = write_case("blank", &format!("{good}\n\n{good}\n"));
        let e = Eraser::open(&root).unwrap().split(Split::Test).unwrap_err();
        assert!(matches!(e, EraserError::Json { line: 2, .. }), "{e}");

        let root = write_case("mismatch", &line(&OK_EV.replace("two three", "two  three")));
        let ds = Eraser::open(&root).unwrap();
        let anns = ds.split(Split::Test).unwrap();
        let m = ds.text_mismatches(&anns);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].tokens, "two three");

        assert!(matches!(
            Eraser::open(tmp("empty").join("missing")),
            Err(EraserError::Io { .. })
        ));
    }
}
