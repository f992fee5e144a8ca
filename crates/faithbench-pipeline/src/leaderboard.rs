//! `faithbench report RUN_DIR...`: rebuilds each run folder's summary, plots and gallery index
//! from its records ([`crate::run::report`]) and writes one leaderboard of the runs
//! (`leaderboard.md`, `leaderboard.html`, `leaderboard.json`; docs/report.md): per (evaluator,
//! metric) the explainers of each run ranked with their summary CIs, and every pair of them
//! tested with the evaluator's own paired bootstrap (`compare`, the machinery of
//! `faithbench compare`) on the samples both have records for, paired by sample id; p-values
//! corrected per table and run. Explainers are only compared within a run.
//!
//! The leaderboard metrics of an evaluator are those its `compare` tests for which
//! `on_leaderboard` holds (docs/report.md lists them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use faithbench_data::files::{file_stem, write_atomic};
use faithbench_eval::summary::ComparisonLine;
pub use faithbench_eval::Correction;
use faithbench_eval::{BootstrapConfig, Direction, Evaluator, Figure, PairNames};
use faithbench_report::leaderboard::{
    self, rank, slug, Candidate, EvaluatorSection, Gallery, GalleryRow, Image, Leaderboard,
    MetricTable, Ranking, RawTest, RunInfo, TestSettings,
};

use crate::compare::intersect;
use crate::error::{Classify, Context, Error, Result};
use crate::gallery::{class_name, image_items};
use crate::plan::Plan;
use crate::summary::{pair_records, RunSummary};

/// Options of `faithbench report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Where the leaderboard goes; default (one run only): the run folder.
    pub out: Option<PathBuf>,
    /// Family-wise significance level (default 0.05).
    pub alpha: f64,
    /// Multiple-comparison correction (default Holm).
    pub correction: Correction,
    /// Bootstrap resamples of the pairwise tests (default 10 000).
    pub resamples: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            out: None,
            alpha: 0.05,
            correction: Correction::Holm,
            resamples: DEFAULT_RESAMPLES,
        }
    }
}

/// Default bootstrap resamples of the leaderboard's tests: enough that the smallest p-value,
/// 2/(B + 1), survives Holm over the 45 pairs of 10 explainers at α = 0.05 (45 · 2/10001 ≈ 0.009).
pub const DEFAULT_RESAMPLES: usize = 10_000;

/// The file names of the leaderboard.
pub const FILES: [&str; 3] = ["leaderboard.md", "leaderboard.html", "leaderboard.json"];

/// The folder (under the output folder) that copies of other folders' images go to.
pub const ASSETS: &str = "leaderboard_files";

/// What `faithbench report` wrote.
pub struct ReportOutcome {
    /// Each run folder with its rebuilt summary.
    pub runs: Vec<(PathBuf, RunSummary)>,
    /// The leaderboard.
    pub leaderboard: Leaderboard,
    /// `leaderboard.md`.
    pub markdown: PathBuf,
    /// `leaderboard.html`.
    pub html: PathBuf,
    /// `leaderboard.json`.
    pub json: PathBuf,
}

/// One run being reported.
struct Run {
    dir: PathBuf,
    plan: Plan,
    summary: RunSummary,
    label: String,
    /// Prefix of its images' paths as seen from the output folder (`""`: it is the output folder).
    prefix: String,
}

/// Checks the options and the folders (bad input is an error naming the folder).
fn check(run_dirs: &[PathBuf], opts: &ReportOptions) -> Result<PathBuf> {
    if run_dirs.is_empty() {
        return Err(Error::input("report needs at least one run folder"));
    }
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(Error::input(format!(
            "--alpha {} must lie strictly between 0 and 1",
            opts.alpha
        )));
    }
    if opts.resamples == 0 {
        return Err(Error::input("--resamples must be at least 1"));
    }
    let mut seen = BTreeSet::new();
    for d in run_dirs {
        if !d.is_dir() {
            return Err(Error::input(format!("{}: no such run folder", d.display())));
        }
        if !d.join("resolved_config.json").is_file() {
            return Err(Error::input(format!(
                "{}: not a run folder (no resolved_config.json)",
                d.display()
            )));
        }
        let c = d.canonicalize().unwrap_or_else(|_| d.clone());
        if !seen.insert(c) {
            return Err(Error::input(format!(
                "{}: run folder named twice",
                d.display()
            )));
        }
    }
    match (&opts.out, run_dirs) {
        (Some(o), _) => Ok(o.clone()),
        (None, [one]) => Ok(one.clone()),
        (None, _) => Err(Error::input(
            "a leaderboard of several runs needs --out DIR (where to write it)",
        )),
    }
}

/// Unique labels: the run's name, with its folder name where names repeat, else the folder.
fn labels(runs: &[(PathBuf, String)]) -> Vec<String> {
    let count = |f: &dyn Fn(&(PathBuf, String)) -> String, v: &str| {
        runs.iter().filter(|r| f(r) == v).count()
    };
    let by_name = |r: &(PathBuf, String)| r.1.clone();
    let with_folder = |r: &(PathBuf, String)| {
        let folder =
            r.0.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
        format!("{} ({folder})", r.1)
    };
    runs.iter()
        .map(|r| {
            if count(&by_name, &r.1) == 1 {
                r.1.clone()
            } else if count(&with_folder, &with_folder(r)) == 1 {
                with_folder(r)
            } else {
                format!("{} ({})", r.1, r.0.display())
            }
        })
        .collect()
}

/// Rebuilds the runs' reports and writes their leaderboard.
pub fn report(run_dirs: &[PathBuf], opts: &ReportOptions) -> Result<ReportOutcome> {
    let out = check(run_dirs, opts)?;
    std::fs::create_dir_all(&out).failure(|| format!("{}: cannot create folder", out.display()))?;
    let out_canon = out.canonicalize().unwrap_or_else(|_| out.clone());
    // the copies of an earlier report (of other runs, or older plots) go
    let assets = out.join(ASSETS);
    if assets.is_dir() {
        std::fs::remove_dir_all(&assets)
            .failure(|| format!("{}: cannot remove the old copies", assets.display()))?;
    }
    let mut named = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    for d in run_dirs {
        let plan = Plan::of_run(d)?;
        let summary =
            crate::run::report(d).context(|| format!("{}: rebuilding the report", d.display()))?;
        if summary.rows.is_empty() {
            return Err(Error::input(format!(
                "{}: no records to report (records/ holds no sample of the plan)",
                d.display()
            )));
        }
        named.push((d.clone(), plan.plan.name.clone()));
        runs.push(Run {
            dir: d.clone(),
            plan,
            summary,
            label: String::new(),
            prefix: String::new(),
        });
    }
    for (k, (r, l)) in runs.iter_mut().zip(labels(&named)).enumerate() {
        let canon = r.dir.canonicalize().unwrap_or_else(|_| r.dir.clone());
        r.prefix = if canon == out_canon {
            String::new()
        } else {
            format!("{ASSETS}/{}-{}/", k + 1, file_stem(&l))
        };
        r.label = l;
    }
    let tests = TestSettings {
        alpha: opts.alpha,
        correction: opts.correction,
        resamples: opts.resamples,
    };
    let mut lb = Leaderboard {
        title: if runs.len() == 1 {
            format!("Leaderboard — {}", runs[0].label)
        } else {
            format!(
                "Leaderboard — {}",
                runs.iter()
                    .map(|r| r.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        runs: runs
            .iter()
            .map(|r| RunInfo {
                label: r.label.clone(),
                name: r.plan.plan.name.clone(),
                folder: r.dir.display().to_string(),
                config_hash: r.plan.config_hash.clone(),
                confidence: r.plan.plan.bootstrap.confidence,
                resamples: r.plan.plan.bootstrap.resamples,
                seed: r.plan.plan.bootstrap.seed,
            })
            .collect(),
        tests,
        sections: Vec::new(),
        galleries: Vec::new(),
        notes: Vec::new(),
    };
    let mut ids: BTreeSet<String> = [leaderboard::RUNS_ID, "galleries"]
        .into_iter()
        .map(String::from)
        .collect();
    for (k, r) in runs.iter().enumerate() {
        add_run(&mut lb, &mut ids, r, opts, &out)?;
        add_gallery(&mut lb, &mut ids, k, r, &out)?;
    }
    let md_path = out.join(FILES[0]);
    let html_path = out.join(FILES[1]);
    let json_path = out.join(FILES[2]);
    write_atomic(&md_path, leaderboard::markdown(&lb).as_bytes())?;
    write_atomic(&html_path, leaderboard::html(&lb).as_bytes())?;
    // the page's table ids and images first (scripts/check_report.sh reads them), then the data
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        table_ids: Vec<String>,
        images: Vec<&'a str>,
        leaderboard: &'a Leaderboard,
    }
    let doc = Doc {
        table_ids: lb.table_ids(),
        images: lb.images(),
        leaderboard: &lb,
    };
    let json = serde_json::to_string_pretty(&doc)
        .failure(|| format!("{}: cannot serialise the leaderboard", json_path.display()))?;
    write_atomic(&json_path, format!("{json}\n").as_bytes())?;
    Ok(ReportOutcome {
        runs: runs.into_iter().map(|r| (r.dir, r.summary)).collect(),
        leaderboard: lb,
        markdown: md_path,
        html: html_path,
        json: json_path,
    })
}

/// A unique HTML id from `base`.
fn unique(ids: &mut BTreeSet<String>, base: String) -> String {
    let mut id = base.clone();
    let mut k = 2;
    while !ids.insert(id.clone()) {
        id = format!("{base}-{k}");
        k += 1;
    }
    id
}

/// Copies an image of a run (its path relative to the output folder starts with the run's
/// prefix) into the output folder.
fn copy_asset(run: &Run, out: &Path, src: &str) -> Result<()> {
    let Some(rel) = src
        .strip_prefix(&run.prefix)
        .filter(|_| !run.prefix.is_empty())
    else {
        return Ok(());
    };
    let to = out.join(src);
    let from = run.dir.join(rel);
    let bytes = std::fs::read(&from).input_err(|| format!("{}: cannot read", from.display()))?;
    Ok(write_atomic(&to, &bytes)?)
}

/// The leaderboard metrics an evaluator's `compare` tests, in its order: learnt from comparing
/// the first explainer's records with themselves (one resample).
fn metrics(ev: &dyn Evaluator, names: PairNames<'_>, recs: &[String]) -> Result<Vec<String>> {
    let one = BootstrapConfig {
        resamples: 1,
        ..BootstrapConfig::default()
    };
    let c = ev.compare(names, recs, recs, &one)?;
    Ok(c.lines
        .into_iter()
        .map(|l| l.metric)
        .filter(|m| ev.on_leaderboard(m))
        .collect())
}

/// The lines of a pair's comparison (None: no common samples) and its notes.
type Tested = (Option<Vec<ComparisonLine>>, Vec<String>);

/// The paired comparisons of every pair of explainers `(i, j)`, `i < j` (None: no common
/// samples), spread over the CPUs; with the notes of the comparisons.
fn pair_lines(
    ev: &dyn Evaluator,
    evaluator: &str,
    labels: &[&str],
    recs: &[Vec<String>],
    cfg: &BootstrapConfig,
) -> Result<Vec<((usize, usize), Tested)>> {
    let pairs: Vec<(usize, usize)> = (0..recs.len())
        .flat_map(|i| (i + 1..recs.len()).map(move |j| (i, j)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pairs.len().max(1));
    let one = |&(i, j): &(usize, usize)| -> Result<Tested> {
        let (a, b) = intersect(recs[i].clone(), recs[j].clone());
        if a.is_empty() {
            return Ok((None, Vec::new()));
        }
        let pair = format!("{} vs {}", labels[i], labels[j]);
        let names = PairNames {
            evaluator,
            explainer: &pair,
        };
        let c = ev
            .compare(names, &a, &b, cfg)
            .context(|| format!("testing {evaluator}: {pair}"))?;
        Ok((Some(c.lines), c.notes))
    };
    let chunks: Vec<Result<Vec<_>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<(usize, usize)> =
                    pairs.iter().copied().skip(t).step_by(threads).collect();
                s.spawn(move || -> Result<Vec<_>> {
                    mine.iter().map(|p| Ok((*p, one(p)?))).collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::failure("a test thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::new();
    for c in chunks {
        all.extend(c?);
    }
    all.sort_by_key(|(p, _)| *p);
    Ok(all)
}

/// The tables, descriptions and plots of one run.
fn add_run(
    lb: &mut Leaderboard,
    ids: &mut BTreeSet<String>,
    r: &Run,
    opts: &ReportOptions,
    out: &Path,
) -> Result<()> {
    let plan = &r.plan;
    let cfg = BootstrapConfig {
        resamples: opts.resamples,
        ..plan.plan.bootstrap
    };
    for (ei, e) in plan.plan.evaluators.iter().enumerate() {
        let ev = plan.evaluator(e)?;
        let mut labels: Vec<&str> = Vec::new();
        let mut recs: Vec<Vec<String>> = Vec::new();
        for (_, x) in plan.explainers_for(e) {
            let rs = pair_records(plan, &r.dir, e, x)?;
            if !rs.is_empty() {
                labels.push(&x.label);
                recs.push(rs);
            }
        }
        if recs.is_empty() {
            lb.notes
                .push(format!("{}: {} has no records", r.label, e.name));
            continue;
        }
        let names = PairNames {
            evaluator: &e.name,
            explainer: labels[0],
        };
        let ms =
            metrics(ev.as_ref(), names, &recs[0]).context(|| format!("{}: {}", r.label, e.name))?;
        if ms.is_empty() {
            lb.notes.push(format!(
                "{}: {} tests no leaderboard metric",
                r.label, e.name
            ));
            continue;
        }
        let lines = pair_lines(ev.as_ref(), &e.name, &labels, &recs, &cfg)
            .context(|| format!("{}: {}", r.label, e.name))?;
        for (_, (_, notes)) in &lines {
            lb.notes
                .extend(notes.iter().map(|n| format!("{}: {n}", r.label)));
        }
        let section = match lb.sections.iter().position(|s| s.evaluator == e.name) {
            Some(i) => i,
            None => {
                let id = unique(ids, format!("ev-{}", slug(&e.name)));
                lb.sections.push(EvaluatorSection {
                    evaluator: e.name.clone(),
                    id,
                    descriptions: Vec::new(),
                    tables: Vec::new(),
                    plots: Vec::new(),
                });
                lb.sections.len() - 1
            }
        };
        for m in &ms {
            let direction = ev.direction(m);
            let mut candidates: Vec<Candidate> = Vec::new();
            let mut index: Vec<Option<usize>> = Vec::new();
            for l in &labels {
                let row =
                    r.summary.rows.iter().find(|row| {
                        row.evaluator == e.name && row.explainer == *l && row.metric == *m
                    });
                index.push(row.map(|_| candidates.len()));
                if let Some(row) = row {
                    candidates.push(Candidate {
                        explainer: row.explainer.clone(),
                        value: row.value,
                        ci_low: row.ci_low,
                        ci_high: row.ci_high,
                        n: row.n,
                    });
                }
            }
            if candidates.is_empty() {
                continue;
            }
            let tests: Vec<RawTest> = lines
                .iter()
                .filter_map(|((i, j), ls)| {
                    let (a, b) = (index[*i]?, index[*j]?);
                    let l = ls.0.as_ref()?.iter().find(|l| l.metric == *m)?;
                    Some(RawTest {
                        a,
                        b,
                        diff: l.diff.estimate,
                        ci_low: l.diff.lower,
                        ci_high: l.diff.upper,
                        n: l.diff.n,
                        p: l.diff.p_zero,
                    })
                })
                .collect();
            let ranking = rank(
                &r.label,
                direction,
                &candidates,
                &tests,
                opts.alpha,
                opts.correction,
                opts.resamples,
            );
            add_ranking(lb, ids, section, &e.name, m, direction, ranking);
        }
        let s = &mut lb.sections[section];
        s.descriptions.push((r.label.clone(), ev.describe()));
        for f in r.summary.figures.get(ei).into_iter().flatten() {
            let (Figure::Curves { file, title, .. } | Figure::Bars { file, title, .. }) = f;
            let rel = format!("plots/{file}.png");
            if r.dir.join(&rel).is_file() {
                let src = format!("{}{rel}", r.prefix);
                copy_asset(r, out, &src)?;
                s.plots.push(Image {
                    src,
                    caption: if lb.runs.len() > 1 {
                        format!("{}: {title}", r.label)
                    } else {
                        title.clone()
                    },
                });
            }
        }
    }
    Ok(())
}

/// Adds a run's ranking to the table of (evaluator, metric, direction), creating it.
fn add_ranking(
    lb: &mut Leaderboard,
    ids: &mut BTreeSet<String>,
    section: usize,
    evaluator: &str,
    metric: &str,
    direction: Direction,
    ranking: Ranking,
) {
    let s = &mut lb.sections[section];
    match s
        .tables
        .iter_mut()
        .find(|t| t.metric == metric && t.direction == direction)
    {
        Some(t) => t.rankings.push(ranking),
        None => {
            let id = unique(ids, format!("lb-{}--{}", slug(evaluator), slug(metric)));
            s.tables.push(MetricTable {
                id,
                evaluator: evaluator.to_string(),
                metric: metric.to_string(),
                direction,
                rankings: vec![ranking],
            });
        }
    }
}

/// The overlay galleries of a run's image datasets, with their images copied when the run is
/// not the output folder.
fn add_gallery(
    lb: &mut Leaderboard,
    ids: &mut BTreeSet<String>,
    k: usize,
    r: &Run,
    out: &Path,
) -> Result<()> {
    let items = image_items(&r.plan)?;
    let mut datasets: Vec<&str> = Vec::new();
    for it in &items {
        if !datasets.contains(&it.dataset.as_str()) {
            datasets.push(&it.dataset);
        }
    }
    for ds in datasets {
        let mine: Vec<_> = items.iter().filter(|i| i.dataset == ds).collect();
        let mut columns: Vec<String> = Vec::new();
        let mut positions: Vec<(usize, &str)> = Vec::new();
        for it in &mine {
            let c = format!("{} ({} class)", it.explainer, class_name(it.class));
            if !columns.contains(&c) {
                columns.push(c);
            }
            if !positions.iter().any(|(p, _)| *p == it.position) {
                positions.push((it.position, &it.sample_id));
            }
        }
        let mut rows = Vec::new();
        for (pos, id) in positions {
            let mut images = vec![None; columns.len()];
            for it in mine.iter().filter(|i| i.position == pos) {
                let c = format!("{} ({} class)", it.explainer, class_name(it.class));
                let Some(col) = columns.iter().position(|x| *x == c) else {
                    continue;
                };
                let rel = it
                    .path
                    .strip_prefix(&r.dir)
                    .unwrap_or(&it.path)
                    .to_string_lossy()
                    .replace('\\', "/");
                let src = format!("{}{rel}", r.prefix);
                copy_asset(r, out, &src)?;
                images[col] = Some(src);
            }
            rows.push(GalleryRow {
                sample: format!("{id} (#{pos})"),
                images,
            });
        }
        let id = unique(ids, format!("gallery-{}-{}", k + 1, slug(ds)));
        lb.galleries.push(Gallery {
            id,
            run: r.label.clone(),
            dataset: ds.to_string(),
            columns,
            rows,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique() {
        let runs = vec![
            (PathBuf::from("/a/x"), "demo".to_string()),
            (PathBuf::from("/b/y"), "demo".to_string()),
            (PathBuf::from("/c/z"), "other".to_string()),
            (PathBuf::from("/d/z"), "other2".to_string()),
        ];
        assert_eq!(labels(&runs), ["demo (x)", "demo (y)", "other", "other2"]);
        let same = vec![
            (PathBuf::from("/a/x"), "demo".to_string()),
            (PathBuf::from("/b/x"), "demo".to_string()),
        ];
        assert_eq!(labels(&same), ["demo (/a/x)", "demo (/b/x)"]);
    }

    #[test]
    fn bad_options_and_folders_are_input_errors() {
        let dir = std::env::temp_dir().join(format!("fb-lb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let opts = ReportOptions::default();
        let e = check(&[dir.join("missing")], &opts).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Input);
        assert!(e.to_string().contains("no such run folder"), "{e}");
        let e = check(std::slice::from_ref(&dir), &opts).unwrap_err();
        assert!(e.to_string().contains("not a run folder"), "{e}");
        std::fs::write(dir.join("resolved_config.json"), "{}").unwrap();
        assert_eq!(check(std::slice::from_ref(&dir), &opts).unwrap(), dir);
        let e = check(&[dir.clone(), dir.clone()], &opts).unwrap_err();
        assert!(e.to_string().contains("named twice"), "{e}");
        let bad = ReportOptions {
            alpha: 1.0,
            ..ReportOptions::default()
        };
        assert!(check(std::slice::from_ref(&dir), &bad)
            .unwrap_err()
            .to_string()
            .contains("--alpha"));
        let e = check(&[], &opts).unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
        // a malformed plan is bad input naming the file
        let e = report(std::slice::from_ref(&dir), &opts).err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::Input);
        assert!(e.to_string().contains("resolved_config.json"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
