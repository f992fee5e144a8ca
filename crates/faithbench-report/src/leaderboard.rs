//! The leaderboard of `faithbench report` (docs/report.md): per evaluator and metric, the
//! explainers of each run ranked by value with their confidence intervals, the pairwise paired
//! tests between them with p-values corrected for multiple comparisons, a compact letter
//! display of which rank differences are real, the runs' plots and overlay galleries; rendered
//! as Markdown ([`markdown`]) and as one self-contained HTML page ([`html`]: inline CSS, no
//! scripts, images by relative paths).
//!
//! This module holds the data ([`Leaderboard`]), the ranking ([`rank`], [`compact_letters`])
//! and the rendering; the pipeline gathers the values and tests from run folders.

use std::fmt::Write as _;

use serde::Serialize;

use faithbench_eval::{Correction, Direction};

use crate::html::{escape, url_path};
use crate::table::{format_cell, md_cell};

/// Text for Markdown: a table cell ([`md_cell`]) with `<` and `>` escaped, so labels never
/// become HTML.
fn md(s: &str) -> String {
    md_cell(s).replace('<', "&lt;").replace('>', "&gt;")
}

/// A run of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The label the tables use: the run's name, with its folder where names repeat.
    pub label: String,
    /// The run's name (`[run] name`).
    pub name: String,
    /// The run folder, as given.
    pub folder: String,
    /// The plan's config hash.
    pub config_hash: String,
    /// Confidence level of the summary intervals.
    pub confidence: f64,
    /// Bootstrap resamples of the summary intervals.
    pub resamples: usize,
    /// Bootstrap seed of the run (also the seed of the leaderboard's tests).
    pub seed: u64,
}

/// An explainer's value in one run, before ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Explainer label.
    pub explainer: String,
    /// The metric's value (the run's summary).
    pub value: f64,
    /// Lower end of its confidence interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Samples aggregated.
    pub n: usize,
}

/// A paired test of two candidates (indices into the candidate list), before correction:
/// `diff` is candidate `a` − candidate `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTest {
    /// Index of A.
    pub a: usize,
    /// Index of B.
    pub b: usize,
    /// A − B.
    pub diff: f64,
    /// Lower end of the paired bootstrap CI of A − B.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Samples both have.
    pub n: usize,
    /// Two-sided p-value.
    pub p: f64,
}

/// One explainer's place in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Explainer label.
    pub explainer: String,
    /// Competition rank: 1 + the number of explainers with a strictly better value (equal values
    /// share a rank).
    pub rank: usize,
    /// Value (the run's summary).
    pub value: f64,
    /// Lower end of its CI.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Samples.
    pub n: usize,
    /// Compact letter display: explainers sharing a letter are not significantly different;
    /// two without a common letter are.
    pub group: String,
    /// Whether it is significantly better than the explainer ranked right below it (None for
    /// the last, or when that pair has no test).
    pub better_than_next: Option<bool>,
    /// The adjusted p-value of that step.
    pub next_p_adjusted: Option<f64>,
}

/// A paired test between two explainers of a run, oriented so that A is ranked above B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairTest {
    /// The better-ranked explainer.
    pub a: String,
    /// The other.
    pub b: String,
    /// A − B (the evaluator's statistic of A minus that of B).
    pub diff: f64,
    /// Lower end of the paired bootstrap CI of A − B.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Samples both have.
    pub n: usize,
    /// Two-sided p-value.
    pub p: f64,
    /// The p-value corrected within the table's family of tests.
    pub p_adjusted: f64,
    /// `p_adjusted < alpha`.
    pub significant: bool,
}

/// The explainers of one run for one metric, ranked, with their pairwise tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// The run's label.
    pub run: String,
    /// Best first.
    pub entries: Vec<Entry>,
    /// Every tested pair (the family the correction runs over), by rank of A then of B.
    pub tests: Vec<PairTest>,
    /// The smallest adjusted p-value the tests can reach (`2/(B + 1)` corrected as the
    /// family's smallest p-value would be).
    pub p_floor: f64,
    /// Pairs without a test, and other remarks.
    pub notes: Vec<String>,
}

/// One leaderboard table: an evaluator's metric across the runs that have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricTable {
    /// The HTML id of the table (unique in the page).
    pub id: String,
    /// Evaluator name.
    pub evaluator: String,
    /// Metric.
    pub metric: String,
    /// Which direction is better.
    pub direction: Direction,
    /// One ranking per run.
    pub rankings: Vec<Ranking>,
}

/// An image of the page, by its path relative to the page's folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    /// Path relative to the folder the page is written in (`/`-separated, not encoded).
    pub src: String,
    /// Caption.
    pub caption: String,
}

/// The tables and plots of one evaluator name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluatorSection {
    /// Evaluator name.
    pub evaluator: String,
    /// HTML id of its heading.
    pub id: String,
    /// `(run label, the evaluator's description of its protocol)`.
    pub descriptions: Vec<(String, String)>,
    /// Its metric tables.
    pub tables: Vec<MetricTable>,
    /// Its plots, from every run.
    pub plots: Vec<Image>,
}

/// An overlay gallery: the first samples of an image dataset of a run × its explainers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gallery {
    /// HTML id of its table.
    pub id: String,
    /// Run label.
    pub run: String,
    /// Dataset name.
    pub dataset: String,
    /// Column headings (explainer, and the class explained).
    pub columns: Vec<String>,
    /// One row per sample.
    pub rows: Vec<GalleryRow>,
}

/// One sample of a [`Gallery`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GalleryRow {
    /// `sample id (position)`.
    pub sample: String,
    /// One image per column (None where the run has none).
    pub images: Vec<Option<String>>,
}

/// The test settings of a leaderboard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestSettings {
    /// Family-wise significance level.
    pub alpha: f64,
    /// The multiple-comparison correction.
    pub correction: Correction,
    /// Bootstrap resamples of the tests.
    pub resamples: usize,
}

/// A whole leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    /// Title.
    pub title: String,
    /// The runs.
    pub runs: Vec<RunInfo>,
    /// How the tests were made.
    pub tests: TestSettings,
    /// Evaluator sections, in order of first appearance.
    pub sections: Vec<EvaluatorSection>,
    /// Overlay galleries.
    pub galleries: Vec<Gallery>,
    /// Remarks (skipped pairs, evaluators without tables).
    pub notes: Vec<String>,
}

impl Leaderboard {
    /// Every table id of the page, in page order: the runs table, each metric table and its
    /// pairwise tables, each gallery.
    pub fn table_ids(&self) -> Vec<String> {
        let mut ids = vec![RUNS_ID.to_string()];
        for s in &self.sections {
            for t in &s.tables {
                ids.push(t.id.clone());
                for k in 0..t.rankings.len() {
                    ids.push(pairs_id(&t.id, k));
                }
            }
        }
        ids.extend(self.galleries.iter().map(|g| g.id.clone()));
        ids
    }

    /// Every image the page shows (paths relative to its folder), in page order.
    pub fn images(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.sections {
            out.extend(s.plots.iter().map(|p| p.src.as_str()));
        }
        for g in &self.galleries {
            for r in &g.rows {
                out.extend(r.images.iter().flatten().map(String::as_str));
            }
        }
        out
    }
}

/// The id of the runs table.
pub const RUNS_ID: &str = "runs";

/// The id of the pairwise-test table of the `k`-th ranking of a metric table.
pub fn pairs_id(table_id: &str, k: usize) -> String {
    format!("{table_id}-pairs-{}", k + 1)
}

/// An HTML id fragment: ASCII letters and digits lower-cased, `_` kept, anything else `-`.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Ranks the candidates of one run and corrects their tests.
///
/// Candidates are ordered best first by value in `direction` (NaN last; equal values keep the
/// input order and share a competition rank). The tests' p-values are adjusted together, as one
/// family, by `correction`; a pair is significant when its adjusted p-value is below `alpha`.
/// Pairs without a test count as not significant.
pub fn rank(
    run: &str,
    direction: Direction,
    candidates: &[Candidate],
    tests: &[RawTest],
    alpha: f64,
    correction: Correction,
    resamples: usize,
) -> Ranking {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    let key = |i: usize| {
        let v = candidates[i].value;
        match direction {
            Direction::HigherBetter => -v,
            Direction::LowerBetter => v,
        }
    };
    // NaN last, then by value; stable, so ties keep the input order
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(a), key(b));
        ka.is_nan()
            .cmp(&kb.is_nan())
            .then(ka.partial_cmp(&kb).unwrap_or(std::cmp::Ordering::Equal))
    });
    let mut position = vec![0usize; candidates.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let adjusted = correction.adjust(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
    let mut ptests: Vec<(usize, usize, PairTest)> = tests
        .iter()
        .zip(&adjusted)
        .map(|(t, &pa)| {
            let (a, b, diff, lo, hi) = if position[t.a] <= position[t.b] {
                (t.a, t.b, t.diff, t.ci_low, t.ci_high)
            } else {
                (t.b, t.a, -t.diff, -t.ci_high, -t.ci_low)
            };
            (
                position[a],
                position[b],
                PairTest {
                    a: candidates[a].explainer.clone(),
                    b: candidates[b].explainer.clone(),
                    diff,
                    ci_low: lo,
                    ci_high: hi,
                    n: t.n,
                    p: t.p,
                    p_adjusted: pa,
                    significant: pa < alpha,
                },
            )
        })
        .collect();
    ptests.sort_by_key(|(a, b, _)| (*a, *b));
    let significant: Vec<(usize, usize)> = ptests
        .iter()
        .filter(|(_, _, t)| t.significant)
        .map(|(a, b, _)| (*a, *b))
        .collect();
    let letters = compact_letters(candidates.len(), &significant);
    let step = |pos: usize| {
        ptests
            .iter()
            .find(|(a, b, _)| *a == pos && *b == pos + 1)
            .map(|(_, _, t)| t)
    };
    let mut notes = Vec::new();
    for x in 0..candidates.len() {
        for y in x + 1..candidates.len() {
            if !ptests.iter().any(|(a, b, _)| (*a, *b) == (x, y)) {
                notes.push(format!(
                    "{} vs {}: no paired test (no common samples, or the evaluator could not compare them; see the notes); counted as not significant",
                    candidates[order[x]].explainer, candidates[order[y]].explainer
                ));
            }
        }
    }
    let entries = order
        .iter()
        .enumerate()
        .map(|(pos, &i)| {
            let c = &candidates[i];
            // NaN ranks after every number
            let better = if c.value.is_nan() {
                candidates.iter().filter(|d| !d.value.is_nan()).count()
            } else {
                order
                    .iter()
                    .filter(|&&j| direction.better(candidates[j].value, c.value))
                    .count()
            };
            let next = if pos + 1 < order.len() {
                step(pos)
            } else {
                None
            };
            Entry {
                explainer: c.explainer.clone(),
                rank: better + 1,
                value: c.value,
                ci_low: c.ci_low,
                ci_high: c.ci_high,
                n: c.n,
                group: letters[pos].clone(),
                better_than_next: next.map(|t| t.significant),
                next_p_adjusted: next.map(|t| t.p_adjusted),
            }
        })
        .collect();
    let floor = 2.0 / (resamples + 1) as f64;
    let p_floor = correction
        .adjust(&vec![floor; tests.len().max(1)])
        .first()
        .copied()
        .unwrap_or(floor);
    Ranking {
        run: run.to_string(),
        entries,
        tests: ptests.into_iter().map(|(_, _, t)| t).collect(),
        p_floor,
        notes,
    }
}

/// Compact letter display of `k` ranked items (positions `0..k`, best first) given the
/// significantly different pairs, by insert-and-absorb (Piepho 2004, *J. Comput. Graph. Stat.*
/// 13:456): start with one letter shared by all; for each significant pair split every letter
/// holding both into one without either member; drop letters whose items another letter
/// holds. Two items then share a letter exactly when they are not significantly different.
/// Letters are named `a`, `b`, … (then `aa`, `ab`, …) in the order of their best member.
pub fn compact_letters(k: usize, significant: &[(usize, usize)]) -> Vec<String> {
    if k == 0 {
        return Vec::new();
    }
    let mut cols: Vec<Vec<bool>> = vec![vec![true; k]];
    for &(i, j) in significant {
        if i >= k || j >= k || i == j {
            continue;
        }
        let mut next: Vec<Vec<bool>> = Vec::new();
        for c in cols {
            if c[i] && c[j] {
                let mut without_i = c.clone();
                without_i[i] = false;
                let mut without_j = c;
                without_j[j] = false;
                next.push(without_i);
                next.push(without_j);
            } else {
                next.push(c);
            }
        }
        cols = absorb(next);
    }
    let members = |c: &Vec<bool>| -> Vec<usize> { (0..k).filter(|&x| c[x]).collect() };
    cols.sort_by_key(members);
    let mut out = vec![String::new(); k];
    for (n, c) in cols.iter().enumerate() {
        let name = letter_name(n);
        for x in members(c) {
            out[x].push_str(&name);
        }
    }
    out
}

/// Removes columns contained in another (the first of equal ones stays).
fn absorb(cols: Vec<Vec<bool>>) -> Vec<Vec<bool>> {
    let subset = |a: &Vec<bool>, b: &Vec<bool>| a.iter().zip(b).all(|(x, y)| !*x || *y);
    let mut keep: Vec<Vec<bool>> = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        let absorbed = cols
            .iter()
            .enumerate()
            .any(|(j, d)| j != i && subset(c, d) && (c != d || j < i));
        if !absorbed {
            keep.push(c.clone());
        }
    }
    keep
}

/// `a`, …, `z`, `aa`, `ab`, ….
fn letter_name(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// A p-value for a table: 4 decimals, or two significant digits in exponent form below 0.001.
pub fn format_p(p: f64) -> String {
    if p.is_nan() {
        "–".into()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn correction_title(c: Correction) -> &'static str {
    match c {
        Correction::Holm => "Holm–Bonferroni step-down",
        Correction::Bonferroni => "Bonferroni",
        Correction::None => "no correction",
    }
}

fn next_cell(e: &Entry) -> String {
    match (e.better_than_next, e.next_p_adjusted) {
        (Some(true), Some(p)) => format!("yes (p_adj {})", format_p(p)),
        (Some(false), Some(p)) => format!("no (p_adj {})", format_p(p)),
        _ => "–".into(),
    }
}

/// The paragraphs explaining the tables (plain text, shared by both renderings).
fn method_paragraphs(lb: &Leaderboard) -> Vec<String> {
    let t = &lb.tests;
    let mut out = vec![
        "Each table ranks the explainers of one evaluator and metric within each run, best first \
         (↑ higher is better, ↓ lower is better; equal values share a rank). The value and its \
         confidence interval are the run's summary (summary.csv)."
            .to_string(),
        format!(
            "Every pair of explainers of the same run is compared on the samples both have records \
             for, paired by sample id, with the evaluator's own paired bootstrap (the one of \
             `faithbench compare`): {} resamples of the samples, seed = the run's bootstrap seed, \
             the statistic recomputed on each resample for both explainers. p is the two-sided \
             percentile-bootstrap p-value of 'A − B = 0': p = min(1, 2·(1 + min(#{{δ* ≤ 0}}, \
             #{{δ* ≥ 0}}))/(B + 1)) over the B resampled differences δ*; it is never below \
             2/(B + 1).",
            t.resamples
        ),
        format!(
            "The p-values of a table's k(k−1)/2 tests within a run form one family, corrected by \
             {} (`{}`); a difference is significant when its adjusted p-value is below α = {}. \
             Group: explainers sharing a letter are not significantly different, two without a \
             common letter are (compact letter display, insert-and-absorb). '> next': whether \
             the explainer is significantly better than the one ranked right below it.",
            correction_title(t.correction),
            t.correction.name(),
            t.alpha
        ),
    ];
    if lb.runs.len() > 1 {
        out.push(
            "Explainers are compared only within a run: different runs may hold different \
             samples, models and settings, so no test crosses runs and ranks of different runs \
             are not comparable."
                .to_string(),
        );
    }
    out
}

/// The ids of the per-run pairwise tables of a metric table, with their runs.
fn pair_tables(t: &MetricTable) -> impl Iterator<Item = (String, &Ranking)> {
    t.rankings
        .iter()
        .enumerate()
        .map(|(k, r)| (pairs_id(&t.id, k), r))
}

/// The leaderboard as Markdown. Each table is preceded by an HTML anchor with its id; images
/// are referenced by their relative paths.
pub fn markdown(lb: &Leaderboard) -> String {
    let mut out = String::new();
    let multi = lb.runs.len() > 1;
    let _ = writeln!(out, "# {}\n", md(&lb.title));
    for p in method_paragraphs(lb) {
        let _ = writeln!(out, "{p}\n");
    }
    let _ = writeln!(
        out,
        "The HTML version (leaderboard.html) also shows the overlay galleries.\n"
    );
    let _ = writeln!(
        out,
        "<a id=\"{RUNS_ID}\"></a>\n\n## Runs\n\n| run | name | folder | config | summary CI |\n|---|---|---|---|---|"
    );
    for r in &lb.runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | `{}` | {:.0}%, {} resamples, seed {} |",
            md(&r.label),
            md(&r.name),
            md(&r.folder),
            &r.config_hash[..12.min(r.config_hash.len())],
            r.confidence * 100.0,
            r.resamples,
            r.seed
        );
    }
    for s in &lb.sections {
        let _ = writeln!(out, "\n## {}\n", md(&s.evaluator));
        for (run, d) in &s.descriptions {
            if multi {
                let _ = writeln!(out, "{}: {}", md(run), d.trim());
            } else {
                let _ = writeln!(out, "{}", d.trim());
            }
        }
        for t in &s.tables {
            let _ = writeln!(
                out,
                "\n<a id=\"{}\"></a>\n\n### {} — {} {}\n",
                escape(&t.id),
                md(&t.evaluator),
                md(&t.metric),
                t.direction.arrow()
            );
            if multi {
                out.push_str("| run | rank | explainer | value [CI] | group | > next | n |\n|---|---|---|---|---|---|---|\n");
            } else {
                out.push_str("| rank | explainer | value [CI] | group | > next | n |\n|---|---|---|---|---|---|\n");
            }
            for r in &t.rankings {
                for e in &r.entries {
                    if multi {
                        let _ = write!(out, "| {} ", md(&r.run));
                    }
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} |",
                        e.rank,
                        md(&e.explainer),
                        format_cell(e.value, e.ci_low, e.ci_high),
                        e.group,
                        next_cell(e),
                        e.n
                    );
                }
            }
            for (id, r) in pair_tables(t) {
                let _ = writeln!(
                    out,
                    "\n<a id=\"{}\"></a>\n\nPairwise tests{} ({} tests; smallest reachable adjusted p {}):\n\n\
                     | A | B | A − B [CI] | p | p_adj | significant | n |\n|---|---|---|---|---|---|---|",
                    escape(&id),
                    if multi { format!(", {}", md(&r.run)) } else { String::new() },
                    r.tests.len(),
                    format_p(r.p_floor)
                );
                for p in &r.tests {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        md(&p.a),
                        md(&p.b),
                        format_cell(p.diff, p.ci_low, p.ci_high),
                        format_p(p.p),
                        format_p(p.p_adjusted),
                        if p.significant { "yes" } else { "no" },
                        p.n
                    );
                }
                for n in &r.notes {
                    let _ = writeln!(out, "\n- {}", md(n));
                }
            }
        }
        if !s.plots.is_empty() {
            out.push('\n');
            for p in &s.plots {
                let _ = writeln!(
                    out,
                    "![{}]({})\n",
                    p.caption.replace(['[', ']'], ""),
                    url_path(&p.src)
                );
            }
        }
    }
    if !lb.galleries.is_empty() {
        let _ = writeln!(out, "\n## Overlay galleries\n");
        for g in &lb.galleries {
            let n: usize = g
                .rows
                .iter()
                .map(|r| r.images.iter().flatten().count())
                .sum();
            let _ = writeln!(
                out,
                "- {} — {}: {} images (in leaderboard.html)",
                md(&g.run),
                md(&g.dataset),
                n
            );
        }
    }
    if !lb.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for n in &lb.notes {
            let _ = writeln!(out, "- {}", md(n));
        }
    }
    out
}

const STYLE: &str = "body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 24px; color: #222; background: #fff; max-width: 1400px; }
h1 { font-size: 24px; } h2 { font-size: 20px; border-bottom: 1px solid #ccc; margin-top: 36px; } h3 { font-size: 16px; margin-top: 24px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.group { font-family: 'DejaVu Sans Mono', monospace; font-weight: bold; }
tr.sig td.sigmark { color: #0a6b0a; font-weight: bold; }
tr.first-of-run td { border-top: 2px solid #888; }
.yes { color: #0a6b0a; font-weight: bold; } .no { color: #777; }
details { margin: 4px 0 12px 0; } summary { cursor: pointer; color: #225; }
p.desc { color: #444; font-style: italic; }
p.note { color: #844; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plots figure { margin: 0; } .plots img { width: 640px; max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; }
table.gallery img { height: 112px; display: block; }
table.gallery td { padding: 2px; }
nav ul { columns: 3; font-size: 14px; }
";

/// Escaped text with `code` spans (between backticks) set as `<code>`.
fn html_text(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn html_next(e: &Entry) -> String {
    match e.better_than_next {
        Some(true) => format!("<span class=\"yes\">{}</span>", escape(&next_cell(e))),
        Some(false) => format!("<span class=\"no\">{}</span>", escape(&next_cell(e))),
        None => "–".into(),
    }
}

/// The leaderboard as one self-contained HTML page: inline CSS, no scripts, every table with
/// its id, images by their relative paths (percent-encoded), all text escaped.
pub fn html(lb: &Leaderboard) -> String {
    let multi = lb.runs.len() > 1;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(&lb.title)
    );
    for p in method_paragraphs(lb) {
        let _ = writeln!(h, "<p>{}</p>", html_text(&p));
    }
    let _ = writeln!(
        h,
        "<h2>Runs</h2>\n<table id=\"{RUNS_ID}\">\n<tr><th>run</th><th>name</th><th>folder</th><th>config</th><th>summary CI</th></tr>"
    );
    for r in &lb.runs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{:.0}%, {} resamples, seed {}</td></tr>",
            escape(&r.label),
            escape(&r.name),
            escape(&r.folder),
            escape(&r.config_hash[..12.min(r.config_hash.len())]),
            r.confidence * 100.0,
            r.resamples,
            r.seed
        );
    }
    h.push_str("</table>\n<nav>\n<h2>Contents</h2>\n<ul>\n");
    for s in &lb.sections {
        for t in &s.tables {
            let _ = writeln!(
                h,
                "<li><a href=\"#{}\">{} — {} {}</a></li>",
                escape(&t.id),
                escape(&t.evaluator),
                escape(&t.metric),
                t.direction.arrow()
            );
        }
    }
    for g in &lb.galleries {
        let _ = writeln!(
            h,
            "<li><a href=\"#{}\">gallery: {} — {}</a></li>",
            escape(&g.id),
            escape(&g.run),
            escape(&g.dataset)
        );
    }
    h.push_str("</ul>\n</nav>\n");
    for s in &lb.sections {
        let _ = writeln!(
            h,
            "<section>\n<h2 id=\"{}\">{}</h2>",
            escape(&s.id),
            escape(&s.evaluator)
        );
        for (run, d) in &s.descriptions {
            let d = d.trim().trim_matches('*');
            if multi {
                let _ = writeln!(h, "<p class=\"desc\">{}: {}</p>", escape(run), html_text(d));
            } else {
                let _ = writeln!(h, "<p class=\"desc\">{}</p>", html_text(d));
            }
        }
        for t in &s.tables {
            let _ = writeln!(
                h,
                "<h3>{} — {} {}</h3>\n<table id=\"{}\">\n<tr>{}<th>rank</th><th>explainer</th><th>value</th><th>CI</th><th>group</th><th>&gt; next</th><th>n</th></tr>",
                escape(&t.evaluator),
                escape(&t.metric),
                t.direction.arrow(),
                escape(&t.id),
                if multi { "<th>run</th>" } else { "" }
            );
            for r in &t.rankings {
                for (i, e) in r.entries.iter().enumerate() {
                    let class = if multi && i == 0 {
                        " class=\"first-of-run\""
                    } else {
                        ""
                    };
                    let _ = write!(h, "<tr{class}>");
                    if multi {
                        let _ = write!(h, "<td>{}</td>", escape(&r.run));
                    }
                    let _ = writeln!(
                        h,
                        "<td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.4}</td><td class=\"num\">[{:.4}, {:.4}]</td><td class=\"group\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                        e.rank,
                        escape(&e.explainer),
                        e.value,
                        e.ci_low,
                        e.ci_high,
                        escape(&e.group),
                        html_next(e),
                        e.n
                    );
                }
            }
            h.push_str("</table>\n");
            for (id, r) in pair_tables(t) {
                let sig = r.tests.iter().filter(|p| p.significant).count();
                let _ = writeln!(
                    h,
                    "<details>\n<summary>pairwise tests{}: {} of {} significant (smallest reachable adjusted p {})</summary>\n<table id=\"{}\">\n<tr><th>A</th><th>B</th><th>A − B</th><th>CI</th><th>p</th><th>p_adj</th><th>significant</th><th>n</th></tr>",
                    if multi { format!(", {}", escape(&r.run)) } else { String::new() },
                    sig,
                    r.tests.len(),
                    escape(&format_p(r.p_floor)),
                    escape(&id)
                );
                for p in &r.tests {
                    let _ = writeln!(
                        h,
                        "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{:+.4}</td><td class=\"num\">[{:+.4}, {:+.4}]</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"sigmark\">{}</td><td class=\"num\">{}</td></tr>",
                        if p.significant { " class=\"sig\"" } else { "" },
                        escape(&p.a),
                        escape(&p.b),
                        p.diff,
                        p.ci_low,
                        p.ci_high,
                        escape(&format_p(p.p)),
                        escape(&format_p(p.p_adjusted)),
                        if p.significant { "yes" } else { "no" },
                        p.n
                    );
                }
                h.push_str("</table>\n");
                for n in &r.notes {
                    let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(n));
                }
                h.push_str("</details>\n");
            }
        }
        if !s.plots.is_empty() {
            h.push_str("<div class=\"plots\">\n");
            for p in &s.plots {
                let _ = writeln!(
                    h,
                    "<figure><a href=\"{src}\"><img src=\"{src}\" alt=\"{c}\"></a><figcaption>{c}</figcaption></figure>",
                    src = escape(&url_path(&p.src)),
                    c = escape(&p.caption)
                );
            }
            h.push_str("</div>\n");
        }
        h.push_str("</section>\n");
    }
    if !lb.galleries.is_empty() {
        h.push_str("<section>\n<h2 id=\"galleries\">Overlay galleries</h2>\n");
        for g in &lb.galleries {
            let _ = write!(
                h,
                "<h3>{} — {}</h3>\n<table id=\"{}\" class=\"gallery\">\n<tr><th>sample</th>",
                escape(&g.run),
                escape(&g.dataset),
                escape(&g.id)
            );
            for c in &g.columns {
                let _ = write!(h, "<th>{}</th>", escape(c));
            }
            h.push_str("</tr>\n");
            for r in &g.rows {
                let _ = write!(h, "<tr><td>{}</td>", escape(&r.sample));
                for (c, img) in g.columns.iter().zip(&r.images) {
                    match img {
                        Some(src) => {
                            let _ = write!(
                                h,
                                "<td><a href=\"{s}\"><img src=\"{s}\" alt=\"{a}\"></a></td>",
                                s = escape(&url_path(src)),
                                a = escape(&format!("{} / {c}", r.sample))
                            );
                        }
                        None => h.push_str("<td>–</td>"),
                    }
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table>\n");
        }
        h.push_str("</section>\n");
    }
    if !lb.notes.is_empty() {
        h.push_str("<h2>Notes</h2>\n<ul>\n");
        for n in &lb.notes {
            let _ = writeln!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, value: f64) -> Candidate {
        Candidate {
            explainer: name.into(),
            value,
            ci_low: value - 0.1,
            ci_high: value + 0.1,
            n: 10,
        }
    }

    fn test(a: usize, b: usize, diff: f64, p: f64) -> RawTest {
        RawTest {
            a,
            b,
            diff,
            ci_low: diff - 0.05,
            ci_high: diff + 0.05,
            n: 10,
            p,
        }
    }

    /// A ranking with a tie: B and C have the same value and share rank 2; D is ranked 4.
    /// Lower is better. Holm over the 6 tests: sorted p 0.001 (×6), 0.002 (×5), 0.004 (×4),
    /// 0.03 (×3), 0.5 (×2), 0.9 (×1) → 0.006, 0.01, 0.016, 0.09, 1.0, 1.0 (capped, running max).
    #[test]
    fn ranking_with_a_tie_and_holm_groups() {
        let c = [
            cand("D", 0.9),
            cand("B", 0.4),
            cand("A", 0.1),
            cand("C", 0.4),
        ];
        // indices: D=0, B=1, A=2, C=3
        let tests = [
            test(2, 1, -0.3, 0.002), // A vs B
            test(2, 3, -0.3, 0.03),  // A vs C
            test(2, 0, -0.8, 0.001), // A vs D
            test(1, 3, 0.0, 0.9),    // B vs C
            test(0, 1, 0.5, 0.004),  // D vs B (oriented D − B, D is worse)
            test(3, 0, -0.5, 0.5),   // C vs D
        ];
        let r = rank(
            "run",
            Direction::LowerBetter,
            &c,
            &tests,
            0.05,
            Correction::Holm,
            1000,
        );
        let names: Vec<&str> = r.entries.iter().map(|e| e.explainer.as_str()).collect();
        assert_eq!(
            names,
            ["A", "B", "C", "D"],
            "ties keep the input order (B before C)"
        );
        let ranks: Vec<usize> = r.entries.iter().map(|e| e.rank).collect();
        assert_eq!(ranks, [1, 2, 2, 4]);
        let adj = |a: &str, b: &str| {
            r.tests
                .iter()
                .find(|t| t.a == a && t.b == b)
                .unwrap_or_else(|| panic!("{a} {b}"))
        };
        assert!((adj("A", "D").p_adjusted - 0.006).abs() < 1e-12);
        assert!((adj("A", "B").p_adjusted - 0.01).abs() < 1e-12);
        assert!((adj("B", "D").p_adjusted - 0.016).abs() < 1e-12);
        assert!((adj("A", "C").p_adjusted - 0.09).abs() < 1e-12);
        assert_eq!(adj("C", "D").p_adjusted, 1.0);
        assert_eq!(adj("B", "C").p_adjusted, 1.0);
        // oriented so that A is the better-ranked: D − B = +0.5 became B − D = −0.5
        let bd = adj("B", "D");
        assert!((bd.diff + 0.5).abs() < 1e-12);
        assert!((bd.ci_low + 0.55).abs() < 1e-12 && (bd.ci_high + 0.45).abs() < 1e-12);
        // significant: A–D, A–B, B–D. Groups: A, C share a; B, C share b; C, D share c
        let groups: Vec<&str> = r.entries.iter().map(|e| e.group.as_str()).collect();
        assert_eq!(groups, ["a", "b", "abc", "c"]);
        assert_eq!(r.entries[0].better_than_next, Some(true));
        assert_eq!(r.entries[1].better_than_next, Some(false));
        assert_eq!(r.entries[2].better_than_next, Some(false));
        assert_eq!(r.entries[3].better_than_next, None);
        assert!((r.entries[0].next_p_adjusted.unwrap() - 0.01).abs() < 1e-12);
        // the order of the tests: by rank of A, then of B
        let order: Vec<(&str, &str)> = r
            .tests
            .iter()
            .map(|t| (t.a.as_str(), t.b.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("A", "B"),
                ("A", "C"),
                ("A", "D"),
                ("B", "C"),
                ("B", "D"),
                ("C", "D")
            ]
        );
        assert!(r.notes.is_empty());
        // the floor: 6 × 2/1001 under Holm
        assert!((r.p_floor - 12.0 / 1001.0).abs() < 1e-12);
        // without correction A–C (0.03) is significant too: C no longer shares a letter with A;
        // under Bonferroni (×6) B–D (0.024) stays significant but A–C (0.18) does not
        let none = rank(
            "run",
            Direction::LowerBetter,
            &c,
            &tests,
            0.05,
            Correction::None,
            1000,
        );
        let groups: Vec<&str> = none.entries.iter().map(|e| e.group.as_str()).collect();
        assert_eq!(groups, ["a", "b", "bc", "c"]);
        assert!(
            none.tests
                .iter()
                .find(|t| t.a == "A" && t.b == "C")
                .unwrap()
                .significant
        );
        let bonf = rank(
            "run",
            Direction::LowerBetter,
            &c,
            &tests,
            0.05,
            Correction::Bonferroni,
            1000,
        );
        let t = |a: &str, b: &str| {
            bonf.tests
                .iter()
                .find(|t| t.a == a && t.b == b)
                .unwrap()
                .clone()
        };
        assert!((t("B", "D").p_adjusted - 0.024).abs() < 1e-12 && t("B", "D").significant);
        assert!((t("A", "C").p_adjusted - 0.18).abs() < 1e-12 && !t("A", "C").significant);
    }

    #[test]
    fn higher_better_nan_last_and_missing_pairs() {
        let c = [cand("x", f64::NAN), cand("y", 0.2), cand("z", 0.7)];
        let r = rank(
            "r",
            Direction::HigherBetter,
            &c,
            &[test(2, 1, 0.5, 0.001)],
            0.05,
            Correction::Bonferroni,
            1000,
        );
        let names: Vec<&str> = r.entries.iter().map(|e| e.explainer.as_str()).collect();
        assert_eq!(names, ["z", "y", "x"]);
        assert_eq!(r.entries[0].rank, 1);
        assert_eq!(r.entries[1].rank, 2);
        assert_eq!(r.entries[2].rank, 3, "NaN last");
        assert!(
            (r.tests[0].p_adjusted - 0.001).abs() < 1e-15,
            "a family of one"
        );
        assert_eq!(r.entries[0].group, "a");
        assert_eq!(r.entries[1].group, "b");
        assert_eq!(
            r.entries[2].group, "ab",
            "untested pairs are not significant"
        );
        assert_eq!(r.entries[1].better_than_next, None, "y–x has no test");
        assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
    }

    /// Insert-absorb by hand: four items, 0–2, 0–3 and 1–3 significant. Start {0123}; split on
    /// 0–2 → {123}, {013}; on 0–3 → {123}, {01} (013 splits into 13 ⊂ 123 and 01); on 1–3 →
    /// {12}, {23}, {01} (13 ⊂ 23 absorbed) → sorted by members: {01} a, {12} b, {23} c.
    #[test]
    fn compact_letters_by_hand() {
        assert_eq!(
            compact_letters(4, &[(0, 2), (0, 3), (1, 3)]),
            ["a", "ab", "bc", "c"]
        );
        assert_eq!(compact_letters(3, &[]), ["a", "a", "a"]);
        assert_eq!(
            compact_letters(3, &[(0, 1), (0, 2), (1, 2)]),
            ["a", "b", "c"]
        );
        assert!(compact_letters(0, &[]).is_empty());
        // the contract on every pair: a common letter exactly when not significant
        let sig = [(0, 4), (1, 4), (0, 3), (2, 5), (1, 5)];
        let l = compact_letters(6, &sig);
        for i in 0..6 {
            for j in i + 1..6 {
                let share = l[i].chars().any(|c| l[j].contains(c));
                assert_eq!(share, !sig.contains(&(i, j)), "{i} {j} {l:?}");
            }
        }
        assert_eq!(letter_name(0), "a");
        assert_eq!(letter_name(25), "z");
        assert_eq!(letter_name(26), "aa");
        assert_eq!(letter_name(27), "ab");
    }

    #[test]
    fn slugs_and_p_format() {
        assert_eq!(slug("token_f1@05"), "token_f1-05");
        assert_eq!(slug("Perturbation Pos"), "perturbation-pos");
        assert_eq!(format_p(0.01234), "0.0123");
        assert_eq!(format_p(0.0002), "2.0e-4");
        assert_eq!(format_p(f64::NAN), "–");
    }

    fn sample_board() -> Leaderboard {
        let c = [cand("<b>A</b>", 0.8), cand("B & co", 0.5)];
        let ranking = rank(
            "run 'one'",
            Direction::HigherBetter,
            &c,
            &[test(0, 1, 0.3, 0.0005)],
            0.05,
            Correction::Holm,
            1000,
        );
        Leaderboard {
            title: "Leaderboard — <demo>".into(),
            runs: vec![RunInfo {
                label: "run 'one'".into(),
                name: "one".into(),
                folder: "/tmp/a b".into(),
                config_hash: "0123456789abcdef".into(),
                confidence: 0.95,
                resamples: 1000,
                seed: 0,
            }],
            tests: TestSettings {
                alpha: 0.05,
                correction: Correction::Holm,
                resamples: 1000,
            },
            sections: vec![EvaluatorSection {
                evaluator: "seg".into(),
                id: "ev-seg".into(),
                descriptions: vec![("run 'one'".into(), "*segmentation; x < y.*\n".into())],
                tables: vec![MetricTable {
                    id: "lb-seg--miou".into(),
                    evaluator: "seg".into(),
                    metric: "miou".into(),
                    direction: Direction::HigherBetter,
                    rankings: vec![ranking],
                }],
                plots: vec![Image {
                    src: "plots/seg miou.png".into(),
                    caption: "run 'one': seg".into(),
                }],
            }],
            galleries: vec![Gallery {
                id: "gallery-1-val".into(),
                run: "run 'one'".into(),
                dataset: "val".into(),
                columns: vec![
                    "<b>A</b> (predicted class)".into(),
                    "B & co (predicted class)".into(),
                ],
                rows: vec![GalleryRow {
                    sample: "img#1 (0)".into(),
                    images: vec![Some("gallery/val/00000__A__predicted.png".into()), None],
                }],
            }],
            notes: vec![],
        }
    }

    #[test]
    fn html_has_every_table_id_escapes_text_and_encodes_paths() {
        let lb = sample_board();
        let h = html(&lb);
        assert_eq!(
            lb.table_ids(),
            [
                "runs",
                "lb-seg--miou",
                "lb-seg--miou-pairs-1",
                "gallery-1-val"
            ]
        );
        for id in lb.table_ids() {
            assert_eq!(h.matches(&format!("<table id=\"{id}\"")).count(), 1, "{id}");
        }
        assert_eq!(h.matches("<table").count(), 4);
        assert!(h.contains("&lt;b&gt;A&lt;/b&gt;") && !h.contains("<b>A</b>"));
        assert!(h.contains("B &amp; co"));
        assert!(h.contains("run &#39;one&#39;"));
        assert!(h.contains("<img src=\"plots/seg%20miou.png\""));
        assert!(h.contains("<img src=\"gallery/val/00000__A__predicted.png\""));
        assert_eq!(h.matches("<img ").count(), 2);
        assert!(!h.contains("<script") && !h.contains("http://") && !h.contains("https://"));
        assert!(
            h.contains("Holm–Bonferroni step-down (<code>holm</code>)"),
            "{h}"
        );
        assert!(
            h.contains("<td class=\"group\">a</td>") && h.contains("<td class=\"group\">b</td>")
        );
        assert!(h.contains("yes (p_adj 5.0e-4)"), "{h}");
        assert!(h.contains("segmentation; x &lt; y."));
        assert_eq!(
            lb.images(),
            ["plots/seg miou.png", "gallery/val/00000__A__predicted.png"]
        );
    }

    #[test]
    fn markdown_has_anchors_rows_and_plots() {
        let lb = sample_board();
        let md = markdown(&lb);
        for id in ["runs", "lb-seg--miou", "lb-seg--miou-pairs-1"] {
            assert!(md.contains(&format!("<a id=\"{id}\"></a>")), "{id}\n{md}");
        }
        assert!(md.contains("### seg — miou ↑"));
        assert!(
            md.contains("| 1 | &lt;b&gt;A&lt;/b&gt; | 0.8000 [0.7000, 0.9000] | a | yes (p_adj 5.0e-4) | 10 |"),
            "{md}"
        );
        assert!(
            md.contains("| 2 | B & co | 0.5000 [0.4000, 0.6000] | b | – | 10 |"),
            "{md}"
        );
        assert!(
            md.contains("| &lt;b&gt;A&lt;/b&gt; | B & co | 0.3000 [0.2500, 0.3500] | 5.0e-4 | 5.0e-4 | yes | 10 |"),
            "{md}"
        );
        assert!(md.contains("![run 'one': seg](plots/seg%20miou.png)"));
        assert!(md.contains("p = min(1, 2·(1 + min(#{δ* ≤ 0}, #{δ* ≥ 0}))/(B + 1))"));
        assert!(!md.contains("only within a run"), "one run");
    }
}
