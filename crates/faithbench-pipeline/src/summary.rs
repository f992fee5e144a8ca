//! Aggregation of a run's records into `summary.csv`, `summary.md`, the evaluators' figures and
//! their extra outputs. A pure function of the records files (read back from disk, restricted to
//! the plan's samples, first record per sample id, sorted by sample id), so a resumed run, a
//! merged sharded run and an uninterrupted one write byte-identical summaries. What each metric
//! means is the evaluator's (see `faithbench list`).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use faithbench_eval::{Curve, Direction, Evaluator, Figure, PairNames, SummaryRow};
use faithbench_report::plot::{plot_bars_with_ci, plot_curves};
use faithbench_report::table::{summary_markdown, write_summary_csv};

use crate::error::{Classify, Context, Result};
use crate::plan::{records_path, Plan, PlanEvaluator, PlanExplainer};
use crate::published::lookup;
use crate::records::read_records;

/// The aggregated results of a run folder.
pub struct RunSummary {
    /// All rows.
    pub rows: Vec<SummaryRow>,
    /// The figures of each evaluator (plan order).
    pub figures: Vec<Vec<Figure>>,
    /// Pairs with fewer records than planned samples: (evaluator, explainer, have, planned).
    pub incomplete: Vec<(String, String, usize, usize)>,
}

/// The plan's sample ids of an evaluator's dataset.
fn plan_ids<'a>(plan: &'a Plan, e: &PlanEvaluator) -> BTreeSet<&'a str> {
    plan.dataset(&e.dataset)
        .map(|d| d.sample_ids.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The records of a pair in a run folder, restricted to the plan's samples, sorted by id.
pub fn pair_records(
    plan: &Plan,
    run_dir: &Path,
    e: &PlanEvaluator,
    x: &PlanExplainer,
) -> Result<Vec<String>> {
    let keep = plan_ids(plan, e);
    read_records(&records_path(run_dir, e, x), Some(&keep))
}

/// The evaluators of a plan, built from their registry entries (plan order).
pub fn evaluators(plan: &Plan) -> Result<Vec<Box<dyn Evaluator>>> {
    plan.plan
        .evaluators
        .iter()
        .map(|e| plan.evaluator(e))
        .collect()
}

/// Aggregates every (evaluator, explainer) pair of a run folder.
pub fn summarise_run(plan: &Plan, run_dir: &Path) -> Result<RunSummary> {
    let cfg = &plan.plan.bootstrap;
    let evs = evaluators(plan)?;
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    let mut incomplete = Vec::new();
    // the records of the removal tests, kept for their symmetric relevance gain
    let mut removal_records: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (e, ev) in plan.plan.evaluators.iter().zip(&evs) {
        let planned = plan.dataset(&e.dataset).map_or(0, |d| d.num_samples);
        let mut erows = Vec::new();
        let mut curves: Vec<Curve> = Vec::new();
        for (_, x) in plan.explainers_for(e) {
            let ctx = || format!("summarising {} × {}", e.name, x.label);
            let recs = pair_records(plan, run_dir, e, x).context(ctx)?;
            if recs.len() < planned {
                incomplete.push((e.name.clone(), x.label.clone(), recs.len(), planned));
            }
            if recs.is_empty() {
                continue;
            }
            let names = PairNames {
                evaluator: &e.name,
                explainer: &x.label,
            };
            let s = ev.summarise(names, &recs, cfg).context(ctx)?;
            erows.extend(s.rows.into_iter().map(|mut r| {
                r.published = lookup(
                    &plan.options.published,
                    &r.evaluator,
                    &r.explainer,
                    &r.metric,
                )
                .map(|c| c.value);
                r
            }));
            curves.extend(s.curves);
            if ev.removal_test().is_some() {
                removal_records.insert((e.name.clone(), x.label.clone()), recs);
            }
        }
        figures.push(ev.figures(&e.name, &e.stem, &erows, &curves));
        rows.extend(erows);
    }
    let records = |e: &PlanEvaluator, x: &PlanExplainer| match removal_records
        .get(&(e.name.clone(), x.label.clone()))
    {
        Some(r) => Ok(r.clone()),
        None => pair_records(plan, run_dir, e, x),
    };
    let (srg_rows, srg_figures) = crate::symmetric::rows(plan, &evs, &records)?;
    rows.extend(srg_rows);
    figures.push(srg_figures);
    Ok(RunSummary {
        rows,
        figures,
        incomplete,
    })
}

/// Markdown of a run summary: per evaluator a main table (metrics without `@`) with the
/// evaluator's description, then the per-level tables it asks for.
pub fn markdown(plan: &Plan, evaluators: &[Box<dyn Evaluator>], rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "# {} — summary\n\nValues with {:.0}% bootstrap confidence intervals ({} resamples, seed {}); \
         ↑ higher is better, ↓ lower is better, best in **bold**. config hash `{}`.\n\n",
        plan.plan.name,
        plan.plan.bootstrap.confidence * 100.0,
        plan.plan.bootstrap.resamples,
        plan.plan.bootstrap.seed,
        &plan.config_hash[..12.min(plan.config_hash.len())]
    );
    for (e, ev) in plan.plan.evaluators.iter().zip(evaluators) {
        let mine: Vec<SummaryRow> = rows
            .iter()
            .filter(|r| r.evaluator == e.name)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let dirs: HashMap<String, Direction> = mine
            .iter()
            .map(|r| (r.metric.clone(), ev.direction(&r.metric)))
            .collect();
        let (main, per): (Vec<SummaryRow>, Vec<SummaryRow>) =
            mine.into_iter().partition(|r| !r.metric.contains('@'));
        out.push_str(&summary_markdown(&main, &dirs));
        out.push('\n');
        out.push_str(&ev.describe());
        out.push('\n');
        // one table per `prefix@…` family, in order of first appearance
        let mut prefixes: Vec<String> = Vec::new();
        for r in &per {
            let p = r.metric.split('@').next().unwrap_or_default().to_string();
            if !prefixes.contains(&p) {
                prefixes.push(p);
            }
        }
        for (prefix, title) in ev.markdown_tables(&prefixes) {
            let renamed: Vec<SummaryRow> = per
                .iter()
                .filter(|r| r.metric.split('@').next() == Some(prefix.as_str()))
                .cloned()
                .map(|mut r| {
                    r.evaluator = format!("{} — {title}", r.evaluator);
                    r
                })
                .collect();
            out.push_str(&summary_markdown(&renamed, &dirs));
            out.push('\n');
        }
    }
    for p in crate::symmetric::pairs(plan, evaluators) {
        let mine: Vec<SummaryRow> = rows
            .iter()
            .filter(|r| r.evaluator == p.name)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let dirs = HashMap::from([("srg".to_string(), Direction::HigherBetter)]);
        out.push_str(&summary_markdown(&mine, &dirs));
        out.push('\n');
        out.push_str(&format!(
            "*symmetric relevance gain: per sample AUC(`{}`) − AUC(`{}`), mean with its bootstrap CI over the samples both hold; higher is better.*\n\n",
            plan.plan.evaluators[p.negative].name, plan.plan.evaluators[p.positive].name
        ));
    }
    out
}

/// Draws a figure under `plots/`.
pub fn draw(run_dir: &Path, f: &Figure) -> Result<()> {
    match f {
        Figure::Curves {
            file,
            title,
            x_label,
            y_label,
            curves,
        } => {
            plot_curves(
                run_dir.join("plots").join(file),
                title,
                x_label,
                y_label,
                curves,
            )?;
        }
        Figure::Bars {
            file,
            title,
            value_label,
            bars,
        } => {
            plot_bars_with_ci(run_dir.join("plots").join(file), title, value_label, bars)?;
        }
    }
    Ok(())
}

/// Writes `summary.csv`, `summary.md`, `plots/` and the evaluators' extra outputs for a run
/// folder. Returns the summary.
pub fn write_reports(plan: &Plan, run_dir: &Path) -> Result<RunSummary> {
    let s = summarise_run(plan, run_dir)?;
    let evs = evaluators(plan)?;
    write_summary_csv(run_dir.join("summary.csv"), &s.rows)?;
    let md = markdown(plan, &evs, &s.rows);
    let md_path = run_dir.join("summary.md");
    std::fs::write(&md_path, md).failure(|| format!("{}: cannot write", md_path.display()))?;
    for figs in &s.figures {
        for f in figs {
            draw(run_dir, f)?;
        }
    }
    for (e, ev) in plan.plan.evaluators.iter().zip(&evs) {
        for (_, x) in plan.explainers_for(e) {
            let recs = pair_records(plan, run_dir, e, x)?;
            if recs.is_empty() {
                continue;
            }
            ev.write_outputs(run_dir, &e.stem, &x.label, &recs)
                .context(|| format!("outputs of {} × {}", e.name, x.label))?;
        }
    }
    Ok(s)
}
