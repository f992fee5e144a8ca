//! `faithbench compare RUN_A RUN_B`: the two runs' results side by side, with paired differences
//! (A − B) and bootstrap CIs computed from the records, paired by sample id (samples present in
//! both runs only). Pairs are matched by evaluator name and explainer label; what is compared
//! for each metric is the evaluator's (its `compare`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use faithbench_eval::evaluator::record_id;
use faithbench_eval::summary::ComparisonLine;
use faithbench_eval::PairNames;

use crate::error::{Context, Error, Result};
use crate::plan::Plan;
use crate::summary::pair_records;

/// The records of both runs restricted to the sample ids both hold (sorted by id).
pub(crate) fn intersect(a: Vec<String>, b: Vec<String>) -> (Vec<String>, Vec<String>) {
    let ids =
        |v: &[String]| -> BTreeSet<String> { v.iter().filter_map(|l| record_id(l)).collect() };
    let both: BTreeSet<String> = ids(&a).intersection(&ids(&b)).cloned().collect();
    let keep = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|l| record_id(l).is_some_and(|id| both.contains(&id)))
            .collect()
    };
    (keep(a), keep(b))
}

/// Compares two run folders; returns the Markdown report.
pub fn compare(run_a: &Path, run_b: &Path) -> Result<String> {
    let pa = Plan::of_run(run_a)?;
    let pb = Plan::of_run(run_b)?;
    let cfg = pa.plan.bootstrap;
    let mut lines: Vec<(String, String, ComparisonLine)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for ea in &pa.plan.evaluators {
        let Some(eb) = pb.plan.evaluators.iter().find(|e| e.name == ea.name) else {
            notes.push(format!("evaluator `{}` is only in A", ea.name));
            continue;
        };
        if ea.kind != eb.kind {
            notes.push(format!(
                "evaluator `{}` is a different protocol in A ({}) and B ({}); skipped",
                ea.name, ea.kind, eb.kind
            ));
            continue;
        }
        let ev = pa.evaluator(ea)?;
        let xbs = pb.explainers_for(eb);
        for (_, xa) in pa.explainers_for(ea) {
            let Some((_, xb)) = xbs.iter().find(|(_, x)| x.label == xa.label) else {
                continue;
            };
            let (ra, rb) = intersect(
                pair_records(&pa, run_a, ea, xa)?,
                pair_records(&pb, run_b, eb, xb)?,
            );
            if ra.is_empty() {
                notes.push(format!("{} × {}: no common samples", ea.name, xa.label));
                continue;
            }
            let names = PairNames {
                evaluator: &ea.name,
                explainer: &xa.label,
            };
            let c = ev
                .compare(names, &ra, &rb, &cfg)
                .context(|| format!("comparing {} × {}", ea.name, xa.label))?;
            notes.extend(c.notes);
            for l in c.lines {
                lines.push((ea.name.clone(), xa.label.clone(), l));
            }
        }
    }
    if lines.is_empty() {
        return Err(Error::input(format!(
            "{} and {} share no (evaluator, explainer) pair with common samples{}",
            run_a.display(),
            run_b.display(),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        )));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# compare\n\nA: {} (plan {})\nB: {} (plan {})\n\nA − B with {:.0}% paired bootstrap CIs ({} resamples, seed {}) over the samples both runs hold; \
         p = two-sided sign-flip permutation test where available.\n",
        run_a.display(),
        &pa.config_hash[..12.min(pa.config_hash.len())],
        run_b.display(),
        &pb.config_hash[..12.min(pb.config_hash.len())],
        cfg.confidence * 100.0,
        cfg.resamples,
        cfg.seed
    );
    let mut current = String::new();
    for (evaluator, explainer, l) in &lines {
        if *evaluator != current {
            current = evaluator.clone();
            let _ = writeln!(
                out,
                "\n### {current}\n\n| explainer | metric | A | B | A − B | CI | p | n |\n|---|---|---|---|---|---|---|---|"
            );
        }
        let _ = writeln!(
            out,
            "| {} | {} | {:.4} | {:.4} | {:+.4} | [{:+.4}, {:+.4}] | {} | {} |",
            explainer.replace('|', "\\|"),
            l.metric,
            l.a,
            l.b,
            l.diff.estimate,
            l.diff.lower,
            l.diff.upper,
            l.p.map(|p| format!("{p:.4}")).unwrap_or_else(|| "–".into()),
            l.diff.n
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    Ok(out)
}
