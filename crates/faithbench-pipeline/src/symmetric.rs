//! The symmetric relevance gain (SRG, [`faithbench_eval::symmetric`]) of a run: wherever two
//! evaluators of one dataset are the same removal test in both orders (equal settings but the
//! order), every explainer they share gets an `srg` row under the evaluator name
//! `srg(NEGATIVE - POSITIVE)`, computed from the two evaluators' records paired by sample id,
//! plus a bar chart. Part of the summary, so a resumed, merged or uninterrupted run writes the
//! same rows.

use std::collections::HashSet;

use faithbench_eval::symmetric::{srg, srg_name, RemovalOrder, SampleAucs};
use faithbench_eval::{Evaluator, Figure, SummaryRow};

use crate::error::{Context, Result};
use crate::plan::{Plan, PlanEvaluator, PlanExplainer};

/// A symmetric pair of evaluators (plan indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymmetricPair {
    /// The most-relevant-first evaluator.
    pub positive: usize,
    /// The least-relevant-first evaluator.
    pub negative: usize,
    /// The rows' evaluator name.
    pub name: String,
    /// The figure's file stem.
    pub stem: String,
}

/// The symmetric pairs of a plan, in plan order of their positive evaluator.
pub fn pairs(plan: &Plan, evs: &[Box<dyn Evaluator>]) -> Vec<SymmetricPair> {
    let es = &plan.plan.evaluators;
    let mut out = Vec::new();
    for (i, ei) in es.iter().enumerate() {
        let Some(ti) = evs[i].removal_test() else {
            continue;
        };
        if ti.order != RemovalOrder::MostRelevantFirst {
            continue;
        }
        for (j, ej) in es.iter().enumerate() {
            let Some(tj) = evs[j].removal_test() else {
                continue;
            };
            if ej.dataset == ei.dataset
                && tj.order == RemovalOrder::LeastRelevantFirst
                && tj.key == ti.key
            {
                out.push(SymmetricPair {
                    positive: i,
                    negative: j,
                    name: srg_name(&ei.name, &ej.name),
                    stem: format!("srg_{}_{}", ej.stem, ei.stem),
                });
            }
        }
    }
    out
}

/// The records of an (evaluator, explainer) pair, restricted to the plan's samples and sorted
/// by sample id (the summary's `pair_records`).
pub type PairRecords<'a> = dyn Fn(&PlanEvaluator, &PlanExplainer) -> Result<Vec<String>> + 'a;

fn aucs(
    records: &PairRecords<'_>,
    e: &PlanEvaluator,
    ev: &dyn Evaluator,
    x: &PlanExplainer,
) -> Result<SampleAucs> {
    let recs = records(e, x)?;
    let ids: Vec<String> = recs
        .iter()
        .map(|l| faithbench_eval::evaluator::record_id(l).unwrap_or_default())
        .collect();
    let a = ev
        .record_aucs(&recs)
        .context(|| format!("per-sample AUCs of {} × {}", e.name, x.label))?;
    Ok(ids.into_iter().zip(a).collect())
}

/// The SRG rows and figures of a run, from its pairs' `records`.
pub fn rows(
    plan: &Plan,
    evs: &[Box<dyn Evaluator>],
    records: &PairRecords<'_>,
) -> Result<(Vec<SummaryRow>, Vec<Figure>)> {
    let cfg = &plan.plan.bootstrap;
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for p in pairs(plan, evs) {
        let (ep, en) = (
            &plan.plan.evaluators[p.positive],
            &plan.plan.evaluators[p.negative],
        );
        let negatives = plan.explainers_for(en);
        let mut bars = Vec::new();
        for (_, x) in plan.explainers_for(ep) {
            if !negatives.iter().any(|(_, y)| y.label == x.label) {
                continue;
            }
            let mut pos = aucs(records, ep, evs[p.positive].as_ref(), x)?;
            let mut neg = aucs(records, en, evs[p.negative].as_ref(), x)?;
            // pair by sample id: the samples both orders hold
            let ids = |v: &SampleAucs| -> HashSet<String> {
                v.iter().map(|(id, _)| id.clone()).collect()
            };
            let (in_pos, in_neg) = (ids(&pos), ids(&neg));
            pos.retain(|(id, _)| in_neg.contains(id));
            neg.retain(|(id, _)| in_pos.contains(id));
            if pos.is_empty() {
                continue;
            }
            let ci = srg(&pos, &neg, cfg)
                .map_err(faithbench_eval::EvalError::protocol)
                .context(|| format!("SRG of {} × {}", p.name, x.label))?;
            rows.push(SummaryRow::new(&p.name, &x.label, "srg", ci.estimate, &ci));
            bars.push((x.label.clone(), ci.estimate, ci.lower, ci.upper));
        }
        if !bars.is_empty() {
            figures.push(Figure::Bars {
                file: p.stem.clone(),
                title: format!("{}: symmetric relevance gain", p.name),
                value_label: "AUC(negative) − AUC(positive)".into(),
                bars,
            });
        }
    }
    Ok((rows, figures))
}
