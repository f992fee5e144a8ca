//! Per-sample records as JSON lines (`records/<evaluator>__<explainer>.jsonl`), appended per
//! chunk and read back for resuming and aggregating. What a line holds is the evaluator's
//! business; the pipeline only needs each line's `sample_id`.
//!
//! A process killed while writing can leave a partial last line. [`repair`] truncates a file to
//! its last complete line (`\n`-terminated) before a run appends to it, and [`read_records`]
//! ignores an unterminated tail, so such a line is recomputed, never half-read. A complete line
//! that is not valid JSON with a `sample_id` is corruption and an error naming the file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use faithbench_eval::evaluator::record_id;

use crate::error::{Classify, Error, Result};

/// Complete lines of a file (an unterminated tail is dropped); a missing file has none.
fn complete_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).failure(|| format!("{}: cannot read", path.display())),
    };
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let text = std::str::from_utf8(&bytes[..end])
        .input_err(|| format!("{}: records file is not UTF-8", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

fn corrupt(path: &Path, line: usize) -> Error {
    Error::input(format!(
        "{}:{line}: corrupt record (delete the line or the file to recompute it)",
        path.display()
    ))
}

/// Truncates a records file to its last complete line. Returns the number of bytes dropped.
pub fn repair(path: &Path) -> Result<u64> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).failure(|| format!("{}: cannot read", path.display())),
    };
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    if end == bytes.len() {
        return Ok(0);
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .failure(|| format!("{}: cannot open to repair", path.display()))?;
    f.set_len(end as u64)
        .failure(|| format!("{}: cannot truncate the partial last line", path.display()))?;
    Ok((bytes.len() - end) as u64)
}

/// Sample ids already recorded in a file.
pub fn done_ids(path: &Path) -> Result<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    for (i, line) in complete_lines(path)?.iter().enumerate() {
        ids.insert(record_id(line).ok_or_else(|| corrupt(path, i + 1))?);
    }
    Ok(ids)
}

/// Record lines of a file, restricted to `keep` (if given), first occurrence per id, sorted by
/// id.
pub fn read_records(path: &Path, keep: Option<&BTreeSet<&str>>) -> Result<Vec<String>> {
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for (i, line) in complete_lines(path)?.into_iter().enumerate() {
        let id = record_id(&line).ok_or_else(|| corrupt(path, i + 1))?;
        if keep.is_some_and(|k| !k.contains(id.as_str())) {
            continue;
        }
        by_id.entry(id).or_insert(line);
    }
    Ok(by_id.into_values().collect())
}

/// Appends record lines and flushes.
pub fn append(path: &Path, records: &[String]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut buf = Vec::new();
    for r in records {
        buf.extend_from_slice(r.as_bytes());
        buf.push(b'\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .failure(|| format!("{}: cannot open for appending", path.display()))?;
    f.write_all(&buf)
        .and_then(|_| f.flush())
        .failure(|| format!("{}: write failed", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, v: u32) -> String {
        format!("{{\"sample_id\":\"{id}\",\"v\":{v}}}")
    }

    #[test]
    fn partial_last_line_is_ignored_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        append(&p, &[rec("b", 1), rec("a", 2)]).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let partial = br#"{"sample_id": "c", "v"#;
        f.write_all(partial).unwrap();
        drop(f);
        assert_eq!(done_ids(&p).unwrap().len(), 2);
        let rs = read_records(&p, None).unwrap();
        assert_eq!(rs[0], rec("a", 2), "sorted by id");
        assert_eq!(repair(&p).unwrap(), partial.len() as u64);
        append(&p, &[rec("c", 3), rec("a", 9)]).unwrap();
        let rs = read_records(&p, None).unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[0], rec("a", 2), "first occurrence wins");
        let keep: BTreeSet<&str> = ["a", "c"].into_iter().collect();
        assert_eq!(read_records(&p, Some(&keep)).unwrap().len(), 2);
    }

    #[test]
    fn corrupt_complete_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        std::fs::write(&p, "{\"sample_id\": \"a\", \"v\": 1}\nnot json\n").unwrap();
        let e = done_ids(&p).unwrap_err();
        assert!(e.to_string().contains("r.jsonl:2"), "{e}");
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
    }
}
