//! Summary tables: the long-format summary CSV, Markdown tables, and baseline-vs-candidate
//! comparisons (used by `faithbench check` and `faithbench compare`).
//!
//! A summary is a list of [`SummaryRow`]s, one per (evaluator, explainer, metric), holding
//! a point estimate, a confidence interval and the number of samples.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ReportError;

/// The header of the summary CSV, in column order.
pub const SUMMARY_HEADER: [&str; 7] = [
    "evaluator",
    "explainer",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
];

/// The two columns a summary CSV has after [`SUMMARY_HEADER`] when any of its rows has a
/// published value: the value in the same unit and `value − published` (empty where a row
/// has none).
pub const PUBLISHED_HEADER: [&str; 2] = ["published", "published_diff"];

/// Number of decimals used for floats in the summary CSV.
pub const CSV_DECIMALS: usize = 6;

pub use faithbench_eval::summary::{Direction, SummaryRow};

/// Total, deterministic order of rows: `(evaluator, metric, explainer)`, then `n`, `value`,
/// `ci_low`, `ci_high` (floats by [`f64::total_cmp`]) so that even duplicate keys sort the
/// same way whatever the input order.
fn row_order(a: &SummaryRow, b: &SummaryRow) -> Ordering {
    a.key()
        .cmp(&b.key())
        .then(a.n.cmp(&b.n))
        .then(a.value.total_cmp(&b.value))
        .then(a.ci_low.total_cmp(&b.ci_low))
        .then(a.ci_high.total_cmp(&b.ci_high))
}

/// Returns the rows sorted by `(evaluator, metric, explainer)` (see [`write_summary_csv`]).
pub fn sorted_rows(rows: &[SummaryRow]) -> Vec<SummaryRow> {
    let mut v = rows.to_vec();
    v.sort_by(row_order);
    v
}

/// Formats a float for the CSV with [`CSV_DECIMALS`] decimals; negative zero (also a tiny
/// negative number that rounds to zero) is written as positive zero, NaN as `NaN`, and
/// infinities as `inf` / `-inf`.
pub fn format_csv_float(x: f64) -> String {
    let s = format!("{x:.prec$}", prec = CSV_DECIMALS);
    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Writes a summary in long format to `path`.
///
/// The header is `evaluator,explainer,metric,value,ci_low,ci_high,n`, followed by
/// `published,published_diff` when any row has a published value. Rows are sorted by
/// `(evaluator, metric, explainer)` (ties by `n`, then the floats), and floats are written
/// with [`format_csv_float`] (6 decimals), so the same rows give a byte-identical file
/// whatever their input order. Line endings are `\n`. Parent directories are created.
pub fn write_summary_csv(path: impl AsRef<Path>, rows: &[SummaryRow]) -> Result<(), ReportError> {
    let path = path.as_ref();
    let bytes = summary_csv_bytes(rows).map_err(|e| ReportError::Csv {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    create_parent(path)?;
    std::fs::write(path, bytes).map_err(|e| ReportError::io(path, e))
}

/// The bytes [`write_summary_csv`] writes.
fn summary_csv_bytes(rows: &[SummaryRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let with_published = rows.iter().any(|r| r.published.is_some());
    let mut header: Vec<&str> = SUMMARY_HEADER.to_vec();
    if with_published {
        header.extend(PUBLISHED_HEADER);
    }
    w.write_record(&header)?;
    for r in sorted_rows(rows) {
        let mut rec = vec![
            r.evaluator.clone(),
            r.explainer.clone(),
            r.metric.clone(),
            format_csv_float(r.value),
            format_csv_float(r.ci_low),
            format_csv_float(r.ci_high),
            r.n.to_string(),
        ];
        if with_published {
            match r.published {
                Some(p) => rec.extend([format_csv_float(p), format_csv_float(r.value - p)]),
                None => rec.extend([String::new(), String::new()]),
            }
        }
        w.write_record(&rec)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Creates the parent directory of `path` if it has one.
pub(crate) fn create_parent(path: &Path) -> Result<(), ReportError> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => {
            std::fs::create_dir_all(p).map_err(|e| ReportError::io(p, e))
        }
        _ => Ok(()),
    }
}

/// Reads a summary CSV written by [`write_summary_csv`].
///
/// Columns are matched by header name, so their order does not matter, but all seven must
/// be present; a `published` column is optional (empty cells: no published value) and
/// `published_diff` is ignored (it is derived). Floats accept anything [`str::parse::<f64>`] does (including `NaN`, `inf`).
/// Errors name the file and the 1-based line (the header is line 1). Rows are returned in
/// file order.
pub fn read_summary_csv(path: impl AsRef<Path>) -> Result<Vec<SummaryRow>, ReportError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| ReportError::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new().from_reader(std::io::BufReader::new(file));
    let headers = rdr
        .headers()
        .map_err(|e| csv_read_error(path, e, 1))?
        .clone();
    let mut idx = [0usize; 7];
    for (k, name) in SUMMARY_HEADER.iter().enumerate() {
        idx[k] = headers
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| ReportError::Parse {
                path: path.to_path_buf(),
                line: 1,
                msg: format!(
                    "missing column `{name}` in header (expected {})",
                    SUMMARY_HEADER.join(",")
                ),
            })?;
    }
    let published_idx = headers.iter().position(|h| h.trim() == PUBLISHED_HEADER[0]);
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line_guess = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_read_error(path, e, line_guess)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line_guess);
        let field = |k: usize| record.get(idx[k]).unwrap_or("").trim();
        let parse_f = |k: usize| -> Result<f64, ReportError> {
            field(k).parse::<f64>().map_err(|_| ReportError::Parse {
                path: path.to_path_buf(),
                line,
                msg: format!(
                    "invalid float {:?} in column `{}`",
                    field(k),
                    SUMMARY_HEADER[k]
                ),
            })
        };
        let n = field(6).parse::<usize>().map_err(|_| ReportError::Parse {
            path: path.to_path_buf(),
            line,
            msg: format!("invalid count {:?} in column `n`", field(6)),
        })?;
        for (k, name) in SUMMARY_HEADER.iter().enumerate().take(3) {
            if field(k).is_empty() {
                return Err(ReportError::Parse {
                    path: path.to_path_buf(),
                    line,
                    msg: format!("empty `{name}`"),
                });
            }
        }
        let published = match published_idx.map(|i| record.get(i).unwrap_or("").trim()) {
            None | Some("") => None,
            Some(p) => Some(p.parse::<f64>().map_err(|_| ReportError::Parse {
                path: path.to_path_buf(),
                line,
                msg: format!("invalid float {p:?} in column `published`"),
            })?),
        };
        rows.push(SummaryRow {
            published,
            evaluator: field(0).to_string(),
            explainer: field(1).to_string(),
            metric: field(2).to_string(),
            value: parse_f(3)?,
            ci_low: parse_f(4)?,
            ci_high: parse_f(5)?,
            n,
        });
    }
    Ok(rows)
}

/// Maps a csv read error to [`ReportError`], keeping the line the csv crate reports.
fn csv_read_error(path: &Path, e: csv::Error, fallback_line: u64) -> ReportError {
    let line = e.position().map(|p| p.line()).unwrap_or(fallback_line);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ReportError::io(path, source),
        kind => ReportError::Parse {
            path: path.to_path_buf(),
            line,
            msg: csv_kind_msg(&kind),
        },
    }
}

/// Human-readable text of a csv error kind (without the position, which we print).
fn csv_kind_msg(kind: &csv::ErrorKind) -> String {
    match kind {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("record has {len} fields, expected {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8: {err}"),
        other => format!("{other:?}"),
    }
}

/// Escapes a string for a Markdown table cell (`|` → `\|`, newlines → spaces).
pub(crate) fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Formats a Markdown cell `value [lo, hi]` with 4 decimals.
pub fn format_cell(value: f64, lo: f64, hi: f64) -> String {
    format!("{value:.4} [{lo:.4}, {hi:.4}]")
}

/// Renders a summary as Markdown: one table per evaluator.
///
/// Each evaluator gets a `### {evaluator}` heading and a table whose rows are explainers
/// and whose columns are metrics (both sorted by name). A cell reads
/// `value [ci_low, ci_high]` with 4 decimals, followed by ` · published P (±D)` when the row
/// has a published value (D = value − P); a missing combination reads `–`. Metric
/// headers carry `↑` / `↓` when `directions` knows the metric, and in such a column the
/// best finite value (all ties) is set in **bold**. Metrics absent from `directions` get no
/// arrow and no bold. If a key occurs more than once, the first row in sorted order is
/// shown. Tables are separated by blank lines; the output ends with a newline.
pub fn summary_markdown(rows: &[SummaryRow], directions: &HashMap<String, Direction>) -> String {
    let mut by_eval: BTreeMap<&str, Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows {
        by_eval.entry(r.evaluator.as_str()).or_default().push(r);
    }
    let mut out = String::new();
    for (evaluator, rs) in by_eval {
        let metrics: BTreeSet<&str> = rs.iter().map(|r| r.metric.as_str()).collect();
        let explainers: BTreeSet<&str> = rs.iter().map(|r| r.explainer.as_str()).collect();
        let mut rs_sorted: Vec<&SummaryRow> = rs.clone();
        rs_sorted.sort_by(|a, b| row_order(a, b));
        let mut cells: HashMap<(&str, &str), &SummaryRow> = HashMap::new();
        for r in rs_sorted {
            cells
                .entry((r.explainer.as_str(), r.metric.as_str()))
                .or_insert(r);
        }
        // best value per metric column
        let mut best: HashMap<&str, f64> = HashMap::new();
        for m in &metrics {
            if let Some(dir) = directions.get(*m) {
                let mut b: Option<f64> = None;
                for e in &explainers {
                    if let Some(r) = cells.get(&(*e, *m)) {
                        if r.value.is_finite() && b.is_none_or(|bv| dir.better(r.value, bv)) {
                            b = Some(r.value);
                        }
                    }
                }
                if let Some(b) = b {
                    best.insert(m, b);
                }
            }
        }

        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "### {}\n", md_cell(evaluator));
        out.push_str("| explainer |");
        for m in &metrics {
            match directions.get(*m) {
                Some(d) => {
                    let _ = write!(out, " {} {} |", md_cell(m), d.arrow());
                }
                None => {
                    let _ = write!(out, " {} |", md_cell(m));
                }
            }
        }
        out.push_str("\n|---|");
        for _ in &metrics {
            out.push_str("---|");
        }
        out.push('\n');
        for e in &explainers {
            let _ = write!(out, "| {} |", md_cell(e));
            for m in &metrics {
                match cells.get(&(*e, *m)) {
                    Some(r) => {
                        let mut cell = format_cell(r.value, r.ci_low, r.ci_high);
                        if let Some(p) = r.published {
                            let _ = write!(cell, " · published {p:.4} ({:+.4})", r.value - p);
                        }
                        if best.get(*m) == Some(&r.value) {
                            let _ = write!(out, " **{cell}** |");
                        } else {
                            let _ = write!(out, " {cell} |");
                        }
                    }
                    None => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Allowed deviation for one metric: a candidate passes when
/// `|candidate − baseline| <= abs + rel · |baseline|`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub abs: f64,
    /// Relative tolerance (fraction of `|baseline|`).
    pub rel: f64,
}

impl Tolerance {
    /// The allowed absolute deviation for a given baseline value.
    pub fn allowed(&self, baseline: f64) -> f64 {
        self.abs + self.rel * baseline.abs()
    }
}

impl Default for Tolerance {
    /// `abs = 1e-6, rel = 0`: equality up to the CSV precision.
    fn default() -> Self {
        Tolerance {
            abs: 1e-6,
            rel: 0.0,
        }
    }
}

/// Tolerances for a comparison: a default, per-metric overrides, and per-(evaluator, metric)
/// overrides (which win).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToleranceSpec {
    /// Tolerance for metrics without an override.
    pub default: Tolerance,
    /// Overrides keyed by metric name.
    #[serde(default)]
    pub per_metric: BTreeMap<String, Tolerance>,
    /// Overrides keyed by evaluator name, then metric name.
    #[serde(default)]
    pub per_evaluator_metric: BTreeMap<String, BTreeMap<String, Tolerance>>,
}

impl ToleranceSpec {
    /// A spec with the same tolerance for every metric.
    pub fn uniform(abs: f64, rel: f64) -> Self {
        ToleranceSpec {
            default: Tolerance { abs, rel },
            per_metric: BTreeMap::new(),
            per_evaluator_metric: BTreeMap::new(),
        }
    }

    /// The tolerance that applies to `metric` (of any evaluator).
    pub fn for_metric(&self, metric: &str) -> Tolerance {
        self.per_metric.get(metric).copied().unwrap_or(self.default)
    }

    /// The tolerance that applies to `metric` of `evaluator`.
    pub fn for_row(&self, evaluator: &str, metric: &str) -> Tolerance {
        self.per_evaluator_metric
            .get(evaluator)
            .and_then(|m| m.get(metric))
            .copied()
            .unwrap_or_else(|| self.for_metric(metric))
    }
}

/// Outcome of comparing one (evaluator, explainer, metric) entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiffStatus {
    /// Both present and within tolerance (or both NaN).
    Pass,
    /// Both present but the deviation exceeds the tolerance (or exactly one is NaN, or
    /// an infinity differs).
    Fail,
    /// Present in the baseline but missing from the candidate (counts as a failure).
    Missing,
    /// Present only in the candidate (informational, not a failure).
    New,
}

impl DiffStatus {
    /// Whether this status makes the whole comparison fail (`Fail` or `Missing`).
    pub fn is_failure(self) -> bool {
        matches!(self, DiffStatus::Fail | DiffStatus::Missing)
    }

    /// Short label used in Markdown (`ok`, `FAIL`, `MISSING`, `new`).
    pub fn label(self) -> &'static str {
        match self {
            DiffStatus::Pass => "ok",
            DiffStatus::Fail => "FAIL",
            DiffStatus::Missing => "MISSING",
            DiffStatus::New => "new",
        }
    }
}

/// One line of a [`SummaryDiff`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffRow {
    /// Evaluator name.
    pub evaluator: String,
    /// Explainer name.
    pub explainer: String,
    /// Metric name.
    pub metric: String,
    /// Baseline row (value, CI, n), if present.
    pub baseline: Option<SummaryRow>,
    /// Candidate row, if present.
    pub candidate: Option<SummaryRow>,
    /// `candidate.value − baseline.value` when both are present.
    pub delta: Option<f64>,
    /// Allowed absolute deviation ([`Tolerance::allowed`] at the baseline value); `None`
    /// when there is no baseline.
    pub allowed: Option<f64>,
    /// Whether the candidate value lies inside the baseline CI (when both are present).
    pub within_baseline_ci: Option<bool>,
    /// The verdict.
    pub status: DiffStatus,
}

/// A side-by-side comparison of two summaries (baseline vs candidate).
///
/// Rows are keyed by (evaluator, explainer, metric) and sorted by
/// `(evaluator, metric, explainer)`. The comparison passes when no row is
/// [`DiffStatus::Fail`] or [`DiffStatus::Missing`]; rows only in the candidate are
/// reported as [`DiffStatus::New`] and do not fail it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryDiff {
    /// One row per key present in either summary.
    pub rows: Vec<DiffRow>,
}

impl SummaryDiff {
    /// Compares `candidate` against `baseline` with the given tolerances.
    ///
    /// Fails with [`ReportError::Invalid`] (target `baseline` or `candidate`) if a summary
    /// holds the same (evaluator, explainer, metric) twice.
    pub fn compute(
        baseline: &[SummaryRow],
        candidate: &[SummaryRow],
        tol: &ToleranceSpec,
    ) -> Result<Self, ReportError> {
        let b = index_unique(baseline, "baseline")?;
        let c = index_unique(candidate, "candidate")?;
        let keys: BTreeSet<(&str, &str, &str)> = b.keys().chain(c.keys()).copied().collect();
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            let (evaluator, metric, explainer) = key;
            let br = b.get(&key).copied();
            let cr = c.get(&key).copied();
            let t = tol.for_row(evaluator, metric);
            let (delta, allowed, within, status) = match (br, cr) {
                (Some(br), Some(cr)) => {
                    let delta = cr.value - br.value;
                    let allowed = t.allowed(br.value);
                    let status = if br.value.is_nan() && cr.value.is_nan() {
                        DiffStatus::Pass
                    } else if br.value.is_infinite() || cr.value.is_infinite() {
                        if br.value == cr.value {
                            DiffStatus::Pass
                        } else {
                            DiffStatus::Fail
                        }
                    } else if delta.abs() <= allowed {
                        DiffStatus::Pass
                    } else {
                        // also covers exactly one NaN (the comparison is false)
                        DiffStatus::Fail
                    };
                    let within = cr.value >= br.ci_low && cr.value <= br.ci_high;
                    (Some(delta), Some(allowed), Some(within), status)
                }
                (Some(br), None) => (None, Some(t.allowed(br.value)), None, DiffStatus::Missing),
                (None, Some(_)) => (None, None, None, DiffStatus::New),
                (None, None) => continue,
            };
            rows.push(DiffRow {
                evaluator: evaluator.to_string(),
                explainer: explainer.to_string(),
                metric: metric.to_string(),
                baseline: br.cloned(),
                candidate: cr.cloned(),
                delta,
                allowed,
                within_baseline_ci: within,
                status,
            });
        }
        Ok(SummaryDiff { rows })
    }

    /// True when no row failed (no `Fail`, no `Missing`).
    pub fn passed(&self) -> bool {
        !self.rows.iter().any(|r| r.status.is_failure())
    }

    /// The rows that make the comparison fail.
    pub fn failures(&self) -> Vec<&DiffRow> {
        self.rows.iter().filter(|r| r.status.is_failure()).collect()
    }

    /// Number of rows per status, in the order pass, fail, missing, new.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for r in &self.rows {
            match r.status {
                DiffStatus::Pass => c.0 += 1,
                DiffStatus::Fail => c.1 += 1,
                DiffStatus::Missing => c.2 += 1,
                DiffStatus::New => c.3 += 1,
            }
        }
        c
    }

    /// Renders the comparison as Markdown.
    ///
    /// First a verdict line (`**PASS**` / `**FAIL**` with counts), then one table per
    /// evaluator with columns `explainer | metric | baseline | candidate | delta | tol |
    /// in CI | status`. Values use 4 decimals with the CI in brackets, `delta` is signed
    /// with 6 decimals, `tol` is the allowed absolute deviation (`±…`, 6 decimals), `in CI`
    /// says whether the candidate value lies in the baseline CI. Absent values read `–`.
    /// Failing statuses are bold.
    pub fn to_markdown(&self) -> String {
        let (p, f, m, n) = self.counts();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "**{}**: {p} ok, {f} failed, {m} missing, {n} new\n",
            if self.passed() { "PASS" } else { "FAIL" }
        );
        let mut current: Option<&str> = None;
        for r in &self.rows {
            if current != Some(r.evaluator.as_str()) {
                if current.is_some() {
                    out.push('\n');
                }
                current = Some(r.evaluator.as_str());
                let _ = writeln!(out, "### {}\n", md_cell(&r.evaluator));
                out.push_str(
                    "| explainer | metric | baseline | candidate | delta | tol | in CI | status |\n",
                );
                out.push_str("|---|---|---|---|---|---|---|---|\n");
            }
            let val = |x: &Option<SummaryRow>| match x {
                Some(s) => format_cell(s.value, s.ci_low, s.ci_high),
                None => "–".to_string(),
            };
            let delta = r
                .delta
                .map(|d| format!("{d:+.6}"))
                .unwrap_or_else(|| "–".into());
            let tol = r
                .allowed
                .map(|a| format!("±{a:.6}"))
                .unwrap_or_else(|| "–".into());
            let within = match r.within_baseline_ci {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            };
            let status = if r.status.is_failure() {
                format!("**{}**", r.status.label())
            } else {
                r.status.label().to_string()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {delta} | {tol} | {within} | {status} |",
                md_cell(&r.explainer),
                md_cell(&r.metric),
                val(&r.baseline),
                val(&r.candidate),
            );
        }
        out
    }
}

/// Indexes rows by `(evaluator, metric, explainer)`, rejecting duplicates.
fn index_unique<'a>(
    rows: &'a [SummaryRow],
    which: &str,
) -> Result<BTreeMap<(&'a str, &'a str, &'a str), &'a SummaryRow>, ReportError> {
    let mut m = BTreeMap::new();
    for r in rows {
        if m.insert(r.key(), r).is_some() {
            return Err(ReportError::invalid(
                which,
                format!(
                    "duplicate row evaluator={:?} explainer={:?} metric={:?}",
                    r.evaluator, r.explainer, r.metric
                ),
            ));
        }
    }
    Ok(m)
}

/// Compares two summaries and renders the result as Markdown (see
/// [`SummaryDiff::to_markdown`]); returns the Markdown and whether the comparison passed.
pub fn diff_markdown(
    baseline: &[SummaryRow],
    candidate: &[SummaryRow],
    tol: &ToleranceSpec,
) -> Result<(String, bool), ReportError> {
    let d = SummaryDiff::compute(baseline, candidate, tol)?;
    Ok((d.to_markdown(), d.passed()))
}

/// A path for temporary test files that is unique per test name and process.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faithbench-report-test-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ev: &str, ex: &str, m: &str, v: f64, lo: f64, hi: f64, n: usize) -> SummaryRow {
        SummaryRow {
            evaluator: ev.into(),
            explainer: ex.into(),
            metric: m.into(),
            value: v,
            ci_low: lo,
            ci_high: hi,
            n,
            published: None,
        }
    }

    fn sample() -> Vec<SummaryRow> {
        vec![
            row("seg", "rollout", "miou", 0.5, 0.45, 0.55, 100),
            row("pert", "rollout", "auc_pos", 0.3, 0.28, 0.32, 50),
            row("pert", "ours", "auc_pos", 0.2, 0.18, 0.22, 50),
            row("pert", "ours", "auc_neg", 0.6, 0.58, 0.62, 50),
            row("pert", "rollout", "auc_neg", 0.55, 0.5, 0.6, 50),
            row("seg", "ours", "miou", 0.62, 0.6, 0.64, 100),
        ]
    }

    #[test]
    fn csv_is_sorted_fixed_precision_and_byte_identical() {
        let dir = test_dir("csv");
        let a = dir.join("a.csv");
        let b = dir.join("sub/b.csv");
        let rows = sample();
        write_summary_csv(&a, &rows).unwrap();
        let mut rev = rows.clone();
        rev.reverse();
        write_summary_csv(&b, &rev).unwrap();
        let ta = std::fs::read_to_string(&a).unwrap();
        let tb = std::fs::read_to_string(&b).unwrap();
        assert_eq!(ta, tb, "input order must not matter");
        let expected = "evaluator,explainer,metric,value,ci_low,ci_high,n\n\
pert,ours,auc_neg,0.600000,0.580000,0.620000,50\n\
pert,rollout,auc_neg,0.550000,0.500000,0.600000,50\n\
pert,ours,auc_pos,0.200000,0.180000,0.220000,50\n\
pert,rollout,auc_pos,0.300000,0.280000,0.320000,50\n\
seg,ours,miou,0.620000,0.600000,0.640000,100\n\
seg,rollout,miou,0.500000,0.450000,0.550000,100\n";
        assert_eq!(ta, expected);
        // round trip gives the sorted rows back
        let back = read_summary_csv(&a).unwrap();
        assert_eq!(back, sorted_rows(&rows));
    }

    /// A row with a published value adds `published,published_diff` to every row (empty where
    /// none), the Markdown cell shows both, and reading keeps the published value.
    #[test]
    fn published_values_get_two_columns_and_a_markdown_note() {
        let dir = test_dir("published");
        let p = dir.join("s.csv");
        let mut rows = sample();
        rows[2].published = Some(0.1597); // pert, ours, auc_pos = 0.2
        write_summary_csv(&p, &rows).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "evaluator,explainer,metric,value,ci_low,ci_high,n,published,published_diff"
        );
        assert_eq!(
            lines[3],
            "pert,ours,auc_pos,0.200000,0.180000,0.220000,50,0.159700,0.040300"
        );
        assert_eq!(
            lines[4],
            "pert,rollout,auc_pos,0.300000,0.280000,0.320000,50,,"
        );
        let back = read_summary_csv(&p).unwrap();
        assert_eq!(back, sorted_rows(&rows));
        let md = summary_markdown(&rows, &HashMap::new());
        assert!(
            md.contains("| 0.2000 [0.1800, 0.2200] · published 0.1597 (+0.0403) |"),
            "{md}"
        );
        // without published values the CSV keeps its seven columns
        write_summary_csv(&p, &sample()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("evaluator,explainer,metric,value,ci_low,ci_high,n\n"));
    }

    #[test]
    fn float_formatting_edge_cases() {
        assert_eq!(format_csv_float(-1e-9), "0.000000");
        assert_eq!(format_csv_float(-0.0), "0.000000");
        assert_eq!(format_csv_float(-0.5), "-0.500000");
        assert_eq!(format_csv_float(1.0 / 3.0), "0.333333");
        assert_eq!(format_csv_float(f64::NAN), "NaN");
        assert_eq!(format_csv_float(f64::INFINITY), "inf");
        assert_eq!(format_csv_float(f64::NEG_INFINITY), "-inf");
        let dir = test_dir("nan");
        let p = dir.join("s.csv");
        let rows = vec![row(
            "e",
            "x",
            "m",
            f64::NAN,
            f64::NEG_INFINITY,
            f64::INFINITY,
            0,
        )];
        write_summary_csv(&p, &rows).unwrap();
        let back = read_summary_csv(&p).unwrap();
        assert!(back[0].value.is_nan());
        assert_eq!(back[0].ci_low, f64::NEG_INFINITY);
        assert_eq!(back[0].ci_high, f64::INFINITY);
    }

    #[test]
    fn csv_quotes_names_with_commas() {
        let dir = test_dir("quote");
        let p = dir.join("s.csv");
        let rows = vec![row("e,1", "x\"y", "m", 1.0, 0.0, 2.0, 3)];
        write_summary_csv(&p, &rows).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"e,1\",\"x\"\"y\",m,1.000000"));
        assert_eq!(read_summary_csv(&p).unwrap(), rows);
    }

    #[test]
    fn read_errors_name_file_and_line() {
        let dir = test_dir("readerr");
        let p = dir.join("bad.csv");
        std::fs::write(
            &p,
            "evaluator,explainer,metric,value,ci_low,ci_high,n\n\
             e,x,m,0.1,0.0,0.2,5\n\
             e,y,m,abc,0.0,0.2,5\n",
        )
        .unwrap();
        let err = read_summary_csv(&p).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReportError::Parse { line: 3, .. }), "{msg}");
        assert!(msg.contains("bad.csv:3"), "{msg}");
        assert!(msg.contains("value"), "{msg}");

        std::fs::write(&p, "evaluator,explainer,metric,value,n\ne,x,m,1,2\n").unwrap();
        let msg = read_summary_csv(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.csv:1") && msg.contains("ci_low"), "{msg}");

        std::fs::write(
            &p,
            "evaluator,explainer,metric,value,ci_low,ci_high,n\ne,x,m,1,0,2\n",
        )
        .unwrap();
        let msg = read_summary_csv(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.csv:2"), "{msg}");

        std::fs::write(
            &p,
            "evaluator,explainer,metric,value,ci_low,ci_high,n\ne,x,m,1,0,2,-4\n",
        )
        .unwrap();
        let msg = read_summary_csv(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.csv:2") && msg.contains("`n`"), "{msg}");

        let missing = dir.join("nope.csv");
        let err = read_summary_csv(&missing).unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }));
        assert!(err.to_string().contains("nope.csv"));
    }

    #[test]
    fn reads_columns_in_any_order() {
        let dir = test_dir("order");
        let p = dir.join("s.csv");
        std::fs::write(
            &p,
            "n,metric,value,ci_high,ci_low,explainer,evaluator\n7,m,0.5,0.6,0.4,x,e\n",
        )
        .unwrap();
        assert_eq!(
            read_summary_csv(&p).unwrap(),
            vec![row("e", "x", "m", 0.5, 0.4, 0.6, 7)]
        );
    }

    #[test]
    fn markdown_tables_with_bold_best() {
        let mut dirs = HashMap::new();
        dirs.insert("auc_pos".to_string(), Direction::LowerBetter);
        dirs.insert("auc_neg".to_string(), Direction::HigherBetter);
        let mut rows = sample();
        rows.push(row("pert", "random", "auc_neg", 0.1, 0.0, 0.2, 50));
        let md = summary_markdown(&rows, &dirs);
        let expected = "### pert\n\n\
| explainer | auc_neg ↑ | auc_pos ↓ |\n\
|---|---|---|\n\
| ours | **0.6000 [0.5800, 0.6200]** | **0.2000 [0.1800, 0.2200]** |\n\
| random | 0.1000 [0.0000, 0.2000] | – |\n\
| rollout | 0.5500 [0.5000, 0.6000] | 0.3000 [0.2800, 0.3200] |\n\
\n\
### seg\n\n\
| explainer | miou |\n\
|---|---|\n\
| ours | 0.6200 [0.6000, 0.6400] |\n\
| rollout | 0.5000 [0.4500, 0.5500] |\n";
        assert_eq!(md, expected);
    }

    #[test]
    fn markdown_bolds_ties_and_skips_nan() {
        let mut dirs = HashMap::new();
        dirs.insert("m".to_string(), Direction::HigherBetter);
        let rows = vec![
            row("e", "a", "m", 0.7, 0.6, 0.8, 1),
            row("e", "b", "m", 0.7, 0.6, 0.8, 1),
            row("e", "c", "m", f64::NAN, f64::NAN, f64::NAN, 1),
            row("e", "d|x", "m", 0.1, 0.0, 0.2, 1),
        ];
        let md = summary_markdown(&rows, &dirs);
        assert!(md.contains("| a | **0.7000 [0.6000, 0.8000]** |"), "{md}");
        assert!(md.contains("| b | **0.7000 [0.6000, 0.8000]** |"), "{md}");
        assert!(md.contains("| c | NaN [NaN, NaN] |"), "{md}");
        assert!(md.contains("| d\\|x | 0.1000"), "{md}");
    }

    #[test]
    fn diff_pass_fail_missing_new() {
        let base = vec![
            row("e", "a", "m", 0.50, 0.4, 0.6, 10),
            row("e", "b", "m", 0.50, 0.4, 0.6, 10),
            row("e", "c", "m", 0.50, 0.4, 0.6, 10),
            row("e", "n", "m", f64::NAN, 0.0, 0.0, 10),
        ];
        let cand = vec![
            row("e", "a", "m", 0.505, 0.4, 0.6, 10), // within 0.01
            row("e", "b", "m", 0.70, 0.6, 0.8, 10),  // fails
            row("e", "d", "m", 0.1, 0.0, 0.2, 10),   // new
            row("e", "n", "m", f64::NAN, 0.0, 0.0, 10),
        ];
        let tol = ToleranceSpec::uniform(0.01, 0.0);
        let d = SummaryDiff::compute(&base, &cand, &tol).unwrap();
        let status: Vec<(&str, DiffStatus)> = d
            .rows
            .iter()
            .map(|r| (r.explainer.as_str(), r.status))
            .collect();
        assert_eq!(
            status,
            vec![
                ("a", DiffStatus::Pass),
                ("b", DiffStatus::Fail),
                ("c", DiffStatus::Missing),
                ("d", DiffStatus::New),
                ("n", DiffStatus::Pass),
            ]
        );
        assert!(!d.passed());
        assert_eq!(d.counts(), (2, 1, 1, 1));
        assert_eq!(d.failures().len(), 2);
        let b = &d.rows[1];
        assert!((b.delta.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(b.within_baseline_ci, Some(false));
        assert_eq!(d.rows[0].within_baseline_ci, Some(true));

        let md = d.to_markdown();
        assert!(
            md.starts_with("**FAIL**: 2 ok, 1 failed, 1 missing, 1 new"),
            "{md}"
        );
        assert!(
            md.contains("| b | m | 0.5000 [0.4000, 0.6000] | 0.7000 [0.6000, 0.8000] | +0.200000 | ±0.010000 | no | **FAIL** |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| c | m | 0.5000 [0.4000, 0.6000] | – | – | ±0.010000 | – | **MISSING** |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| d | m | – | 0.1000 [0.0000, 0.2000] | – | – | – | new |"),
            "{md}"
        );

        // per-metric override and relative tolerance make b pass
        let mut tol2 = ToleranceSpec::uniform(0.01, 0.0);
        tol2.per_metric
            .insert("m".into(), Tolerance { abs: 0.0, rel: 0.5 });
        let (md2, ok) = diff_markdown(&base[..2], &cand[..2], &tol2).unwrap();
        assert!(ok, "{md2}");
        assert!(md2.starts_with("**PASS**: 2 ok, 0 failed, 0 missing, 0 new"));
    }

    #[test]
    fn diff_rejects_duplicates_and_one_sided_nan() {
        let base = vec![row("e", "a", "m", 0.5, 0.4, 0.6, 1)];
        let dup = vec![base[0].clone(), base[0].clone()];
        let err = SummaryDiff::compute(&base, &dup, &ToleranceSpec::default()).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("candidate: invalid input: duplicate row"));
        let nan = vec![row("e", "a", "m", f64::NAN, 0.4, 0.6, 1)];
        let d = SummaryDiff::compute(&base, &nan, &ToleranceSpec::uniform(1.0, 1.0)).unwrap();
        assert_eq!(d.rows[0].status, DiffStatus::Fail);
    }
}
