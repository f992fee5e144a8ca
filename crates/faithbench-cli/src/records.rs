//! Per-sample records as JSON lines, appended per chunk and read back for resuming and
//! aggregating.
//!
//! A process killed while writing can leave a partial last line. [`repair`] truncates a file to
//! its last complete line (`\n`-terminated) before a run appends to it, and [`read_records`]
//! ignores an unterminated tail, so such a line is recomputed, never half-read. A complete line
//! that is not valid JSON is corruption and an error naming the file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use faithbench_eval::text_perturbation::TextPerturbationRecord;
use faithbench_eval::{PerturbationRecord, SegmentationRecord};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One line of a segmentation records file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationLine {
    /// The counts and scores of the image.
    #[serde(flatten)]
    pub record: SegmentationRecord,
    /// The explained (= predicted) class.
    pub explained_class: usize,
}

/// One line of an `eraser_rationales` records file: everything the ERASER metrics and results
/// files need for one document, so the summary never reads the dataset again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraserLine {
    /// Sample id (= annotation id).
    pub sample_id: String,
    /// Document id.
    pub docid: String,
    /// Ground-truth class index.
    pub label: usize,
    /// The explained class.
    pub explained_class: usize,
    /// The model's prediction on the full input.
    pub predicted: usize,
    /// Class probabilities on the full input.
    pub probs: Vec<f64>,
    /// Tokens (ERASER words) of the document.
    pub num_words: usize,
    /// Leading words the (truncated) model input covers.
    pub covered_words: usize,
    /// Score per covered word (word-level aggregation of the clamped token map).
    pub word_scores: Vec<f32>,
    /// Evidence spans `[start_token, end_token)`.
    pub evidence: Vec<(usize, usize)>,
    /// The k values (a document's k is capped at `covered_words`).
    pub ks: Vec<usize>,
    /// Per k: probabilities with the top-k words removed.
    pub comprehensiveness: Vec<Vec<f64>>,
    /// Per k: probabilities with only the top-k words kept.
    pub sufficiency: Vec<Vec<f64>>,
    /// AOPC bins.
    pub thresholds: Vec<f64>,
    /// Per bin: probabilities with the top fraction of words removed.
    pub thresholded_comprehensiveness: Vec<Vec<f64>>,
    /// Per bin: probabilities with only the top fraction of words kept.
    pub thresholded_sufficiency: Vec<Vec<f64>>,
    /// `reference` alignment: the first word whose reconstructed characters differ (the
    /// reference script would abort on this document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment_mismatch: Option<usize>,
}

/// One line of a `text_perturbation` records file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPerturbationLine {
    /// Sample id.
    pub sample_id: String,
    /// The explained class.
    pub explained_class: usize,
    /// The model's prediction on the clean input.
    pub clean_pred: usize,
    /// The per-fraction results.
    #[serde(flatten)]
    pub record: TextPerturbationRecord,
}

/// Anything with a sample id.
pub trait HasId {
    /// The sample id.
    fn id(&self) -> &str;
}

impl HasId for PerturbationRecord {
    fn id(&self) -> &str {
        &self.sample_id
    }
}

impl HasId for SegmentationLine {
    fn id(&self) -> &str {
        &self.record.sample_id
    }
}

impl HasId for EraserLine {
    fn id(&self) -> &str {
        &self.sample_id
    }
}

impl HasId for TextPerturbationLine {
    fn id(&self) -> &str {
        &self.sample_id
    }
}

#[derive(Deserialize)]
struct IdOnly {
    sample_id: String,
}

/// Complete lines of a file (an unterminated tail is dropped); a missing file has none.
fn complete_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let text = std::str::from_utf8(&bytes[..end])
        .with_context(|| format!("{}: records file is not UTF-8", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Truncates a records file to its last complete line. Returns the number of bytes dropped.
pub fn repair(path: &Path) -> Result<u64> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    if end == bytes.len() {
        return Ok(0);
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("{}: cannot open to repair", path.display()))?;
    f.set_len(end as u64)
        .with_context(|| format!("{}: cannot truncate the partial last line", path.display()))?;
    Ok((bytes.len() - end) as u64)
}

/// Sample ids already recorded in a file.
pub fn done_ids(path: &Path) -> Result<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    for (i, line) in complete_lines(path)?.iter().enumerate() {
        let r: IdOnly = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: corrupt record (delete the line or the file to recompute it)",
                path.display(),
                i + 1
            )
        })?;
        ids.insert(r.sample_id);
    }
    Ok(ids)
}

/// Records of a file, restricted to `keep` (if given), first occurrence per id, sorted by id.
pub fn read_records<T: DeserializeOwned + HasId>(
    path: &Path,
    keep: Option<&BTreeSet<&str>>,
) -> Result<Vec<T>> {
    let mut by_id: BTreeMap<String, T> = BTreeMap::new();
    for (i, line) in complete_lines(path)?.iter().enumerate() {
        let r: T = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: corrupt record", path.display(), i + 1))?;
        if keep.is_some_and(|k| !k.contains(r.id())) {
            continue;
        }
        by_id.entry(r.id().to_string()).or_insert(r);
    }
    Ok(by_id.into_values().collect())
}

/// Appends records as lines and flushes.
pub fn append<T: Serialize>(path: &Path, records: &[T]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut buf = Vec::new();
    for r in records {
        serde_json::to_writer(&mut buf, r).context("cannot serialise a record")?;
        buf.push(b'\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot open for appending", path.display()))?;
    f.write_all(&buf)
        .and_then(|_| f.flush())
        .with_context(|| format!("{}: write failed", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct R {
        sample_id: String,
        v: u32,
    }
    impl HasId for R {
        fn id(&self) -> &str {
            &self.sample_id
        }
    }

    #[test]
    fn partial_last_line_is_ignored_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        append(
            &p,
            &[
                R {
                    sample_id: "b".into(),
                    v: 1,
                },
                R {
                    sample_id: "a".into(),
                    v: 2,
                },
            ],
        )
        .unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let partial = br#"{"sample_id": "c", "v"#;
        f.write_all(partial).unwrap();
        drop(f);
        assert_eq!(done_ids(&p).unwrap().len(), 2);
        let rs: Vec<R> = read_records(&p, None).unwrap();
        assert_eq!(rs[0].sample_id, "a"); // sorted by id
        assert_eq!(repair(&p).unwrap(), partial.len() as u64);
        append(
            &p,
            &[
                R {
                    sample_id: "c".into(),
                    v: 3,
                },
                R {
                    sample_id: "a".into(),
                    v: 9,
                },
            ],
        )
        .unwrap();
        let rs: Vec<R> = read_records(&p, None).unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[0].v, 2, "first occurrence wins");
        let keep: BTreeSet<&str> = ["a", "c"].into_iter().collect();
        assert_eq!(read_records::<R>(&p, Some(&keep)).unwrap().len(), 2);
    }

    #[test]
    fn corrupt_complete_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        std::fs::write(&p, "{\"sample_id\": \"a\", \"v\": 1}\nnot json\n").unwrap();
        let e = format!("{:#}", done_ids(&p).unwrap_err());
        assert!(e.contains("r.jsonl:2"), "{e}");
    }
}
