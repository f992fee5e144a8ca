//! The one run loop, for every modality ([`crate::modality::Modality`]).
//!
//! Each dataset is walked in fixed chunks of `batch_size` plan positions. A chunk is skipped
//! when every (evaluator, explainer) pair has records for all its samples; otherwise the whole
//! chunk is loaded, classified, explained (or read from the cache) and evaluated, and only the
//! records still missing are appended. Every computation therefore happens on the same chunk
//! whether or not the run was interrupted, which is what makes resumed summaries byte-identical
//! to uninterrupted ones.

use std::collections::BTreeSet;
use std::time::Instant;

use faithbench_data::DatasetReader;
use faithbench_eval::{Evaluator, ExplainedClass};
use faithbench_explain::{ExplainBatch, Explainer};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::{Explainable, ModelInput};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::cache::Cache;
use crate::classifier::{ImageModel, TextModel};
use crate::config::Preprocess;
use crate::error::{Context, Error, Result};
use crate::modality::image::ImageModality;
use crate::modality::text::TextModality;
use crate::modality::Modality;
use crate::plan::{records_path, ImageInput, Plan, PlanDataset};
use crate::records;

/// Seconds spent per stage of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stages {
    /// Config, plan, run folder.
    pub plan: f64,
    /// Reading the weights.
    pub load_model: f64,
    /// Reading and preprocessing samples.
    pub data: f64,
    /// Clean forward passes.
    pub classify: f64,
    /// Explainers (cache misses).
    pub explain: f64,
    /// Evaluators.
    pub evaluate: f64,
    /// Gallery images and pages.
    pub gallery: f64,
    /// Summaries and plots.
    pub report: f64,
}

impl Stages {
    /// The same rounded to milliseconds.
    pub fn rounded(&self) -> Stages {
        let r = |s: f64| (s * 1000.0).round() / 1000.0;
        Stages {
            plan: r(self.plan),
            load_model: r(self.load_model),
            data: r(self.data),
            classify: r(self.classify),
            explain: r(self.explain),
            evaluate: r(self.evaluate),
            gallery: r(self.gallery),
            report: r(self.report),
        }
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Record lines appended.
    pub records_written: usize,
    /// Samples of chunks that were processed.
    pub samples_processed: usize,
    /// Samples of chunks skipped because all their records existed.
    pub samples_skipped: usize,
    /// Computed maps that were constant (the perturbation test ranks their pixels by index).
    pub constant_maps: usize,
}

/// What one (explainer, class) job of a chunk computed.
struct JobOutput<Maps> {
    /// The prepared maps (for the gallery).
    prepared: Maps,
    /// How many maps were constant.
    constant: usize,
    /// Per evaluator: (plan index, the record lines still missing, their chunk rows).
    records: Vec<(usize, Vec<String>, BTreeSet<usize>)>,
    /// Seconds explaining (cache misses).
    explain_secs: f64,
    /// Seconds evaluating.
    evaluate_secs: f64,
}

/// Whether to go on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on.
    Continue,
    /// The record budget (`stop_after_records`) is used up: stop, as if killed.
    Stop,
}

/// The state of one execution.
pub(crate) struct Exec<'a> {
    pub plan: &'a Plan,
    pub explainers: Vec<Box<dyn Explainer>>,
    pub evaluators: Vec<Box<dyn Evaluator>>,
    pub cache: Cache,
    pub stages: Stages,
    pub counters: Counters,
    /// `done[evaluator][explainer]` = sample ids with a record.
    pub done: Vec<Vec<BTreeSet<String>>>,
    /// Only this shard's chunks are evaluated.
    pub shard: Option<crate::shard::Shard>,
    pub stop_after: Option<usize>,
    pub progress: bool,
}

fn timed<T>(slot: &mut f64, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    let r = f();
    *slot += t.elapsed().as_secs_f64();
    r
}

/// A progress bar over `n` samples (hidden unless `shown`).
fn progress_bar(n: usize, shown: bool, message: String) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(n as u64),
        if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {pos}/{len} samples, {elapsed_precise} elapsed, ETA {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message);
    pb
}

impl Exec<'_> {
    fn note_written(&mut self, n: usize) -> Step {
        self.counters.records_written += n;
        match self.stop_after {
            Some(limit) if self.counters.records_written >= limit => Step::Stop,
            _ => Step::Continue,
        }
    }

    /// The evaluators reading dataset `di` and, per explainer, whether it applies to the
    /// dataset's model.
    fn dataset_work(&self, di: usize) -> (Vec<usize>, Vec<bool>) {
        let ds = &self.plan.plan.datasets[di];
        let evs = self
            .plan
            .plan
            .evaluators
            .iter()
            .enumerate()
            .filter(|(_, e)| e.dataset == ds.name)
            .map(|(i, _)| i)
            .collect();
        let applicable = self
            .plan
            .plan
            .explainers
            .iter()
            .map(|x| self.plan.applies(x, ds))
            .collect();
        (evs, applicable)
    }

    /// Rows of a chunk (by position in `ids`) that still lack a record, per (evaluator,
    /// explainer); empty for explainers that do not apply to the dataset.
    fn pending_rows(
        &self,
        evs: &[usize],
        applicable: &[bool],
        ids: &[String],
    ) -> Vec<Vec<Vec<usize>>> {
        evs.iter()
            .map(|&ei| {
                applicable
                    .iter()
                    .enumerate()
                    .map(|(xi, &applies)| {
                        if !applies {
                            return Vec::new();
                        }
                        (0..ids.len())
                            .filter(|&r| !self.done[ei][xi].contains(&ids[r]))
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// The explained classes explainer `xi` is needed for in this chunk (in evaluator order,
    /// each once).
    fn classes_to_explain(
        &self,
        evs: &[usize],
        pending: &[Vec<Vec<usize>>],
        xi: usize,
    ) -> Vec<ExplainedClass> {
        let mut classes = Vec::new();
        for (k, &ei) in evs.iter().enumerate() {
            if !pending[k][xi].is_empty() {
                let cl = self.evaluators[ei].explained();
                if !classes.contains(&cl) {
                    classes.push(cl);
                }
            }
        }
        classes
    }

    /// Token maps of a chunk for one explainer and class choice: from the cache when every
    /// sample hits, else computed for the whole chunk (and cached). `shapes[b]` is the shape of
    /// sample b's map.
    #[allow(clippy::too_many_arguments)]
    fn maps(
        &self,
        explain_secs: &mut f64,
        model: &dyn Explainable,
        xi: usize,
        ds: &PlanDataset,
        input: &ModelInput,
        ids: &[String],
        targets: &[usize],
        shapes: &[Vec<usize>],
    ) -> Result<Vec<Vec<f32>>> {
        let x = &self.plan.plan.explainers[xi];
        let m = self.plan.model_of(ds).ok_or_else(|| {
            Error::failure(format!("dataset `{}` has no model in the plan", ds.name))
        })?;
        let lens: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
        let keys = ids
            .iter()
            .zip(targets)
            .map(|(id, &t)| Cache::key(m, x, ds, t, id))
            .collect::<Result<Vec<_>>>()?;
        if self.cache.enabled() {
            let cached: Vec<Option<Vec<f32>>> = keys
                .iter()
                .zip(&lens)
                .map(|(k, &len)| self.cache.get(k, len))
                .collect();
            if cached.iter().all(Option::is_some) {
                return Ok(cached.into_iter().flatten().collect());
            }
        }
        let explainer = &self.explainers[xi];
        let tm = timed(explain_secs, || {
            explainer
                .explain(
                    model,
                    &ExplainBatch {
                        input,
                        targets,
                        ids,
                    },
                )
                .context(|| {
                    format!(
                        "explainer `{}` on samples {} … {}",
                        x.label,
                        ids.first().map(String::as_str).unwrap_or(""),
                        ids.last().map(String::as_str).unwrap_or("")
                    )
                })
        })?;
        if tm.batch != ids.len() || (0..tm.batch).any(|b| tm.row(b).len() != lens[b]) {
            return Err(Error::input(format!(
                "explainer `{}` returned {} maps of {:?} values, expected {} of {:?}",
                x.label,
                tm.batch,
                (0..tm.batch).map(|b| tm.row(b).len()).collect::<Vec<_>>(),
                ids.len(),
                lens
            )));
        }
        let rows: Vec<Vec<f32>> = (0..tm.batch).map(|b| tm.row(b).to_vec()).collect();
        for ((k, r), shape) in keys.iter().zip(&rows).zip(shapes) {
            self.cache.put(k, shape, r)?;
        }
        Ok(rows)
    }

    /// One (explainer, class) job of a chunk: its maps (cache or explainer), prepared, and the
    /// records of every evaluator of that class still missing rows. Pure apart from cache
    /// writes (safe from several threads, `crate::cache`).
    #[allow(clippy::too_many_arguments)]
    fn run_job<M: Modality>(
        &self,
        m: &M,
        chunk: &M::Chunk,
        ds: &PlanDataset,
        evs: &[usize],
        pending: &[Vec<Vec<usize>>],
        ids: &[String],
        shapes: &[Vec<usize>],
        xi: usize,
        cl: ExplainedClass,
        targets: &[usize],
    ) -> Result<JobOutput<M::Maps>> {
        let plan = self.plan;
        let x = &plan.plan.explainers[xi];
        let mut explain_secs = 0.0;
        let maps = self.maps(
            &mut explain_secs,
            m.model(),
            xi,
            ds,
            m.input(chunk),
            ids,
            targets,
            shapes,
        )?;
        let (prepared, constant) = m.prepare(chunk, maps)?;
        let t = Instant::now();
        let mut records = Vec::new();
        for (k, &ei) in evs.iter().enumerate() {
            let e = &plan.plan.evaluators[ei];
            let ev = self.evaluators[ei].as_ref();
            if ev.explained() != cl || pending[k][xi].is_empty() {
                continue;
            }
            let want: BTreeSet<usize> = pending[k][xi].iter().copied().collect();
            let recs = m
                .evaluate(
                    ev,
                    chunk,
                    &prepared,
                    targets,
                    plan.plan.eval_batch_size,
                    ev.reexplains().then(|| self.explainers[xi].as_ref()),
                )
                .context(|| format!("evaluator `{}` with explainer `{}`", e.name, x.label))?;
            if recs.len() != ids.len() {
                return Err(Error::failure(format!(
                    "evaluator `{}` returned {} records for {} samples",
                    e.name,
                    recs.len(),
                    ids.len()
                )));
            }
            let keep: Vec<String> = recs
                .into_iter()
                .enumerate()
                .filter(|(r, _)| want.contains(r))
                .map(|(_, l)| l)
                .collect();
            records.push((ei, keep, want));
        }
        Ok(JobOutput {
            prepared,
            constant,
            records,
            explain_secs,
            evaluate_secs: t.elapsed().as_secs_f64(),
        })
    }

    /// Runs every evaluator of dataset `di` through modality `m`.
    fn run_loop<M: Modality>(&mut self, m: &mut M, di: usize) -> Result<Step> {
        let plan = self.plan;
        let ds = &plan.plan.datasets[di];
        let (evs, applicable) = self.dataset_work(di);
        if evs.is_empty() {
            return Ok(Step::Continue);
        }
        let n = ds.num_samples;
        let b = plan.plan.batch_size;
        let out_dir = &plan.locations.out_dir;
        let shard = self.shard;
        let in_shard = move |chunk: usize| shard.is_none_or(|s| s.has_chunk(chunk));
        let planned = (0..n).filter(|p| in_shard(p / b)).count();
        let pb = progress_bar(planned, self.progress, format!("{} ({})", ds.name, ds.kind));
        for (chunk, start) in (0..n).step_by(b).enumerate() {
            if !in_shard(chunk) {
                continue;
            }
            let positions: Vec<usize> = (start..(start + b).min(n)).collect();
            let ids = &ds.sample_ids[start..start + positions.len()];
            let pending = self.pending_rows(&evs, &applicable, ids);
            if pending.iter().flatten().all(Vec::is_empty) {
                self.counters.samples_skipped += ids.len();
                pb.inc(ids.len() as u64);
                continue;
            }
            let mut chunk = timed(&mut self.stages.data, || m.load(&positions, ids))?;
            timed(&mut self.stages.classify, || m.classify(&mut chunk))?;
            let preds = m.predictions(&chunk).to_vec();
            let labels = m.labels(&chunk);
            let shapes = m.map_shapes(&chunk);
            // The (explainer, class) jobs of the chunk, computed on the worker threads (each
            // job's numbers are the same on any thread: its batches do not depend on the
            // others), then written in job order, so records, cache and gallery are what a
            // sequential loop writes and the record budget stops at the same record.
            let mut jobs: Vec<(usize, ExplainedClass, Vec<usize>)> = Vec::new();
            for xi in (0..plan.plan.explainers.len()).filter(|&xi| applicable[xi]) {
                for cl in self.classes_to_explain(&evs, &pending, xi) {
                    let targets: Vec<usize> = match cl {
                        ExplainedClass::Predicted => preds.clone(),
                        ExplainedClass::Target => labels
                            .iter()
                            .zip(ids)
                            .map(|(l, id)| {
                                l.ok_or_else(|| {
                                    Error::input(format!(
                                        "sample `{id}` has no class label to explain"
                                    ))
                                })
                            })
                            .collect::<Result<_>>()?,
                    };
                    jobs.push((xi, cl, targets));
                }
            }
            let this = &*self;
            let (chunk_ref, m_ref) = (&chunk, &*m);
            let results: Vec<Result<JobOutput<M::Maps>>> = jobs
                .par_iter()
                .map(|(xi, cl, targets)| {
                    this.run_job(
                        m_ref, chunk_ref, ds, &evs, &pending, ids, &shapes, *xi, *cl, targets,
                    )
                })
                .collect();
            for ((xi, cl, targets), result) in jobs.iter().zip(results) {
                let (xi, cl) = (*xi, *cl);
                let x = &plan.plan.explainers[xi];
                let out = result?;
                self.stages.explain += out.explain_secs;
                self.stages.evaluate += out.evaluate_secs;
                self.counters.constant_maps += out.constant;
                let t = Instant::now();
                for (r, &p) in positions.iter().enumerate() {
                    if p >= plan.options.gallery {
                        break;
                    }
                    m.gallery(out_dir, ds, &chunk, &out.prepared, r, p, x, cl, targets[r])?;
                }
                self.stages.gallery += t.elapsed().as_secs_f64();
                for (ei, keep, want) in out.records {
                    let e = &plan.plan.evaluators[ei];
                    records::append(&records_path(out_dir, e, x), &keep)?;
                    for &r in &want {
                        self.done[ei][xi].insert(ids[r].clone());
                    }
                    if self.note_written(keep.len()) == Step::Stop {
                        pb.finish_and_clear();
                        return Ok(Step::Stop);
                    }
                }
            }
            self.counters.samples_processed += ids.len();
            pb.inc(ids.len() as u64);
        }
        pb.finish_and_clear();
        Ok(Step::Continue)
    }

    /// Runs dataset `di` with the model view it is evaluated with.
    pub(crate) fn run_dataset(
        &mut self,
        di: usize,
        model: DatasetModel<'_>,
        reader: &dyn DatasetReader,
    ) -> Result<Step> {
        let ds = &self.plan.plan.datasets[di];
        match (model, ds.preprocess) {
            (
                DatasetModel::Image {
                    model,
                    input,
                    num_classes,
                },
                Preprocess::Image { resize },
            ) => {
                let mut m = ImageModality {
                    reader,
                    dataset: &ds.name,
                    classifier: ImageModel {
                        model,
                        normalization: input.normalization,
                        num_classes,
                    },
                    image_size: input.size,
                    patch: input.patch,
                    grid: input.size / input.patch,
                    resize,
                };
                self.run_loop(&mut m, di)
            }
            (
                DatasetModel::Text {
                    model,
                    tokenizer,
                    num_classes,
                },
                Preprocess::Text { max_length },
            ) => {
                let mut m = TextModality {
                    reader,
                    dataset: &ds.name,
                    classifier: TextModel {
                        model,
                        num_classes,
                        pad_id: tokenizer.pad_id(),
                    },
                    tokenizer,
                    max_length,
                    classes: ds.classes.clone().unwrap_or_default(),
                };
                self.run_loop(&mut m, di)
            }
            _ => Err(Error::input(format!(
                "dataset `{}` ({}) does not fit its model `{}`",
                ds.name, ds.kind, ds.model
            ))),
        }
    }
}

/// The model a dataset is evaluated with, as the run loop needs it: the view explainers trace
/// and what its classifier needs.
pub(crate) enum DatasetModel<'a> {
    /// An image model (a ViT, or a CLIP as a zero-shot classifier over the dataset's prompts).
    Image {
        /// The view.
        model: &'a dyn Explainable,
        /// Input side, patch, normalisation.
        input: ImageInput,
        /// Number of classes.
        num_classes: usize,
    },
    /// A text classifier.
    Text {
        /// The model.
        model: &'a dyn Explainable,
        /// Its tokenizer.
        tokenizer: &'a TextTokenizer,
        /// Number of classes.
        num_classes: usize,
    },
}
