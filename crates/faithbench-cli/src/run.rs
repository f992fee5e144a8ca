//! `faithbench run`: plan → execute (resumable) → report.
//!
//! Execution walks each dataset in fixed chunks of `batch_size` plan positions. A chunk is
//! skipped when every (evaluator, explainer) pair has records for all its samples; otherwise the
//! whole chunk is loaded, classified, explained (or read from the cache) and evaluated, and only
//! the records still missing are appended. Every computation therefore happens on the same
//! chunk whether or not the run was interrupted, which is what makes resumed summaries
//! byte-identical to uninterrupted ones.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use faithbench_eval::maps::{min_max_normalise, upsample_bilinear, MapError};
use faithbench_eval::{
    run_perturbation, segmentation_record_from_raw, ExplainedClass, PerturbationSample,
};
use faithbench_explain::{ExplainBatch, Explainer};
use faithbench_models::preprocess::to_chw_unit;
use faithbench_models::{AnyModel, Explainable};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cache::Cache;
use crate::config::{load_config, process_env};
use crate::dataset::Item;
use crate::gallery;
use crate::model::Classifier;
use crate::plan::{resolve, Overrides, Protocol, ResolvedPlan};
use crate::records::{self, SegmentationLine};
use crate::summary::{records_path, write_reports};
use crate::text_run::{execute_text_dataset, TextModel};
use crate::util::{argmax, canonicalize, rfc3339, write_atomic};

/// The evaluators reading dataset `di` (plan order) and, per explainer, whether it applies to
/// the dataset's model.
pub(crate) fn dataset_work(plan: &ResolvedPlan, di: usize) -> (Vec<usize>, Vec<bool>) {
    let ds = &plan.plan.datasets[di];
    let evs = plan
        .plan
        .evaluators
        .iter()
        .enumerate()
        .filter(|(_, e)| e.dataset == ds.name)
        .map(|(i, _)| i)
        .collect();
    let applicable = plan
        .plan
        .explainers
        .iter()
        .map(|x| plan.applies(x, ds))
        .collect();
    (evs, applicable)
}

/// The explained classes explainer `xi` is needed for in this chunk (in evaluator order, each once).
pub(crate) fn classes_to_explain(
    plan: &ResolvedPlan,
    evs: &[usize],
    pending: &[Vec<Vec<usize>>],
    xi: usize,
) -> Vec<ExplainedClass> {
    let mut classes = Vec::new();
    for (k, &ei) in evs.iter().enumerate() {
        if !pending[k][xi].is_empty() {
            let cl = plan.plan.evaluators[ei].protocol.explained();
            if !classes.contains(&cl) {
                classes.push(cl);
            }
        }
    }
    classes
}

/// Rows of a chunk (by position in `ids`) that still lack a record, per (evaluator, explainer);
/// empty for explainers that do not apply to the dataset.
pub(crate) fn pending_rows(
    evs: &[usize],
    applicable: &[bool],
    done: &[Vec<BTreeSet<String>>],
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
                        .filter(|&r| !done[ei][xi].contains(&ids[r]))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Test hook: exit with status [`FAIL_EXIT_CODE`] once this many records were appended.
pub const FAIL_AFTER_ENV: &str = "FAITHBENCH_FAIL_AFTER";
/// Exit status of the [`FAIL_AFTER_ENV`] hook.
pub const FAIL_EXIT_CODE: i32 = 75;

/// Settings of `faithbench run` from the command line.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Config file.
    pub config: PathBuf,
    /// Overrides.
    pub overrides: Overrides,
    /// No progress bars or info lines.
    pub quiet: bool,
    /// Discard records/summary/gallery of a run folder holding another plan.
    pub fresh: bool,
}

#[derive(Default, Serialize)]
pub(crate) struct Stages {
    pub(crate) plan: f64,
    pub(crate) load_model: f64,
    pub(crate) data: f64,
    pub(crate) classify: f64,
    pub(crate) explain: f64,
    pub(crate) evaluate: f64,
    pub(crate) gallery: f64,
    pub(crate) report: f64,
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[derive(Serialize)]
struct Manifest {
    faithbench_version: &'static str,
    git_commit: Option<String>,
    status: &'static str,
    config: PathBuf,
    config_hash: String,
    weights: PathBuf,
    weights_sha256: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    models: BTreeMap<String, ManifestModel>,
    device: String,
    command: Vec<String>,
    started_at: String,
    finished_at: Option<String>,
    wall_seconds: f64,
    stage_seconds: Stages,
    samples_planned: usize,
    samples_processed: usize,
    samples_skipped_as_done: usize,
    records_written: usize,
    images_per_second: f64,
    cache_hits: usize,
    cache_misses: usize,
    constant_maps: usize,
    repaired_partial_lines: usize,
}

#[derive(Serialize)]
struct ManifestModel {
    weights: PathBuf,
    weights_sha256: String,
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn write_manifest(out: &Path, m: &Manifest) -> Result<()> {
    let v = canonicalize(&serde_json::to_value(m)?);
    write_atomic(
        &out.join("manifest.json"),
        (serde_json::to_string_pretty(&v)? + "\n").as_bytes(),
    )
}

/// Creates/validates the run folder and writes `resolved_config.json`.
fn prepare_run_dir(plan: &ResolvedPlan, fresh: bool, info: &dyn Fn(&str)) -> Result<()> {
    let out = &plan.locations.out_dir;
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the run folder", out.display()))?;
    let rc = out.join("resolved_config.json");
    let mut wipe = fresh;
    if rc.exists() {
        let old = ResolvedPlan::read(&rc)?;
        if old.config_hash != plan.config_hash {
            if !fresh {
                bail!(
                    "{}: this run folder holds a different plan (hash {}, the config now resolves to {}); \
                     pass --fresh to discard its records, or choose another --out",
                    rc.display(),
                    &old.config_hash[..12.min(old.config_hash.len())],
                    &plan.config_hash[..12]
                );
            }
        } else if !fresh {
            info(&format!(
                "resuming in {} (same plan {})",
                out.display(),
                &plan.config_hash[..12]
            ));
        }
    } else {
        let has_records = std::fs::read_dir(out.join("records"))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if has_records && !fresh {
            bail!(
                "{}: holds records but no resolved_config.json, so they cannot be matched to this plan; \
                 pass --fresh to discard them, or choose another --out",
                out.display()
            );
        }
        wipe = wipe && has_records;
    }
    if wipe {
        for d in ["records", "plots", "gallery"] {
            let p = out.join(d);
            if p.exists() {
                std::fs::remove_dir_all(&p)
                    .with_context(|| format!("{}: cannot remove", p.display()))?;
            }
        }
        for f in ["summary.csv", "summary.md", "manifest.json"] {
            let p = out.join(f);
            if p.exists() {
                std::fs::remove_file(&p)
                    .with_context(|| format!("{}: cannot remove", p.display()))?;
            }
        }
        info(&format!(
            "--fresh: discarded previous records in {}",
            out.display()
        ));
    }
    std::fs::create_dir_all(out.join("records"))
        .with_context(|| format!("{}: cannot create", out.join("records").display()))?;
    let v = canonicalize(&serde_json::to_value(plan)?);
    write_atomic(&rc, (serde_json::to_string_pretty(&v)? + "\n").as_bytes())
}

pub(crate) struct Ctx<'a> {
    pub(crate) plan: &'a ResolvedPlan,
    pub(crate) explainers: Vec<Box<dyn Explainer>>,
    pub(crate) cache: Cache,
    pub(crate) stages: Stages,
    pub(crate) fail_after: Option<usize>,
    pub(crate) records_written: usize,
    pub(crate) samples_processed: usize,
    pub(crate) samples_skipped: usize,
    pub(crate) constant_maps: usize,
}

/// The model of an image dataset and what the pixel evaluators need of it.
struct ImageModel<'a> {
    model: &'a dyn Explainable,
    classifier: Classifier<'a>,
    image_size: usize,
    patch: usize,
    grid: usize,
}

impl Ctx<'_> {
    pub(crate) fn timed<T>(slot: &mut f64, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let r = f();
        *slot += t.elapsed().as_secs_f64();
        r
    }

    pub(crate) fn note_written(&mut self, n: usize) {
        self.records_written += n;
        if let Some(limit) = self.fail_after {
            if self.records_written >= limit {
                eprintln!(
                    "faithbench: {FAIL_AFTER_ENV}={limit} reached after {} records; exiting with status {FAIL_EXIT_CODE}",
                    self.records_written
                );
                std::process::exit(FAIL_EXIT_CODE);
            }
        }
    }

    /// Token maps of a chunk for one explainer and class choice: from the cache when every
    /// sample hits, else computed for the whole chunk (and cached). `shapes[b]` is the shape of
    /// sample b's map (images: the patch grid; text: its number of word pieces).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn maps(
        &mut self,
        model: &dyn Explainable,
        xi: usize,
        di: usize,
        input: &faithbench_models::ModelInput,
        ids: &[String],
        targets: &[usize],
        shapes: &[Vec<usize>],
    ) -> Result<Vec<Vec<f32>>> {
        let plan = self.plan;
        let x = &plan.plan.explainers[xi];
        let ds = &plan.plan.datasets[di];
        let m = plan
            .model_of(ds)
            .with_context(|| format!("dataset `{}` has no model in the plan", ds.name))?;
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
        let tm = Self::timed(&mut self.stages.explain, || {
            explainer
                .explain(
                    model,
                    &ExplainBatch {
                        input,
                        targets,
                        ids,
                    },
                )
                .with_context(|| {
                    format!(
                        "explainer `{}` on samples {} … {}",
                        x.label,
                        ids.first().map(String::as_str).unwrap_or(""),
                        ids.last().map(String::as_str).unwrap_or("")
                    )
                })
        })?;
        if tm.batch != ids.len() || (0..tm.batch).any(|b| tm.row(b).len() != lens[b]) {
            bail!(
                "explainer `{}` returned {} maps of {:?} values, expected {} of {:?}",
                x.label,
                tm.batch,
                (0..tm.batch).map(|b| tm.row(b).len()).collect::<Vec<_>>(),
                ids.len(),
                lens
            );
        }
        let rows: Vec<Vec<f32>> = (0..tm.batch).map(|b| tm.row(b).to_vec()).collect();
        for ((k, r), shape) in keys.iter().zip(&rows).zip(shapes) {
            self.cache.put(k, shape, r)?;
        }
        Ok(rows)
    }
}

/// A progress bar over `n` samples (hidden when `hidden`).
pub(crate) fn progress_bar(n: usize, hidden: bool, message: String) -> Result<ProgressBar> {
    let pb = ProgressBar::with_draw_target(
        Some(n as u64),
        if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} samples, {elapsed_precise} elapsed, ETA {eta}",
        )
        .map_err(|e| anyhow!("progress template: {e}"))?
        .progress_chars("=> "),
    );
    pb.set_message(message);
    Ok(pb)
}

/// Runs a config. Returns the run folder.
pub fn run(req: &RunRequest) -> Result<PathBuf> {
    let started = SystemTime::now();
    let t_start = Instant::now();
    let quiet = req.quiet;
    let info = |m: &str| {
        if !quiet {
            eprintln!("faithbench: {m}");
        }
    };
    let fail_after = match std::env::var(FAIL_AFTER_ENV) {
        Ok(v) => Some(
            v.trim()
                .parse::<usize>()
                .map_err(|_| anyhow!("{FAIL_AFTER_ENV}={v:?} is not a number"))?,
        ),
        Err(_) => None,
    };

    let t = Instant::now();
    let cfg = load_config(&req.config, &process_env)?;
    let resolved = resolve(&cfg, &req.overrides)?;
    let plan = resolved.plan;
    let out = plan.locations.out_dir.clone();
    let device = faithbench_models::device_by_name(&plan.options.device)
        .with_context(|| format!("device of {}", req.config.display()))?
        .autodiff();
    info(&format!(
        "plan {} → {} ({} explainers × {} evaluators, {} samples)",
        &plan.config_hash[..12],
        out.display(),
        plan.plan.explainers.len(),
        plan.plan.evaluators.len(),
        plan.plan
            .datasets
            .iter()
            .map(|d| d.num_samples)
            .sum::<usize>()
    ));
    prepare_run_dir(&plan, req.fresh, &info)?;
    let plan_secs = t.elapsed();

    // repair partial lines, collect what is done
    let mut repaired = 0;
    let mut done: Vec<Vec<BTreeSet<String>>> = Vec::new();
    for e in &plan.plan.evaluators {
        let mut row = Vec::new();
        let ds = plan.dataset(&e.dataset).context("evaluator dataset")?;
        for x in &plan.plan.explainers {
            if !plan.applies(x, ds) {
                row.push(BTreeSet::new());
                continue;
            }
            let p = records_path(&out, e, x);
            if records::repair(&p)? > 0 {
                repaired += 1;
                info(&format!(
                    "{}: dropped a partial last line (interrupted run)",
                    p.display()
                ));
            }
            row.push(records::done_ids(&p)?);
        }
        done.push(row);
    }

    let t = Instant::now();
    let mut loaded: BTreeMap<String, AnyModel> = BTreeMap::new();
    for name in &resolved.dataset_models {
        if !loaded.contains_key(name) {
            let m = resolved.models[name]
                .load(&device)
                .with_context(|| format!("loading model `{name}`"))?;
            loaded.insert(name.clone(), m);
        }
    }
    let load_secs = t.elapsed();
    let explainers = plan
        .plan
        .explainers
        .iter()
        .map(|x| {
            x.method
                .build()
                .with_context(|| format!("explainer `{}`", x.label))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut ctx = Ctx {
        plan: &plan,
        explainers,
        cache: Cache::new(plan.options.cache_dir.as_deref()),
        stages: Stages {
            plan: plan_secs.as_secs_f64(),
            load_model: load_secs.as_secs_f64(),
            ..Default::default()
        },
        fail_after,
        records_written: 0,
        samples_processed: 0,
        samples_skipped: 0,
        constant_maps: 0,
    };
    let first_model = plan
        .plan
        .model
        .as_ref()
        .or_else(|| plan.plan.models.values().next())
        .context("the plan has no model")?;
    let mut manifest = Manifest {
        faithbench_version: env!("CARGO_PKG_VERSION"),
        git_commit: git_commit(),
        status: "running",
        config: req.config.clone(),
        config_hash: plan.config_hash.clone(),
        weights: plan.locations.weights.clone(),
        weights_sha256: first_model.weights_sha256.clone(),
        models: plan
            .plan
            .models
            .iter()
            .map(|(n, m)| {
                (
                    n.clone(),
                    ManifestModel {
                        weights: plan
                            .locations
                            .models
                            .get(n)
                            .map(|l| l.weights.clone())
                            .unwrap_or_default(),
                        weights_sha256: m.weights_sha256.clone(),
                    },
                )
            })
            .collect(),
        device: plan.options.device.clone(),
        command: std::env::args().collect(),
        started_at: rfc3339(started),
        finished_at: None,
        wall_seconds: 0.0,
        stage_seconds: Stages::default(),
        samples_planned: plan.plan.datasets.iter().map(|d| d.num_samples).sum(),
        samples_processed: 0,
        samples_skipped_as_done: 0,
        records_written: 0,
        images_per_second: 0.0,
        cache_hits: 0,
        cache_misses: 0,
        constant_maps: 0,
        repaired_partial_lines: repaired,
    };
    write_manifest(&out, &manifest)?;

    let bars_hidden = quiet || !std::io::stdout().is_terminal();
    let t_exec = Instant::now();
    for (di, dataset) in resolved.datasets.iter().enumerate() {
        let mname = &resolved.dataset_models[di];
        let model = loaded[mname].as_explainable();
        match &loaded[mname] {
            AnyModel::Vit(_) => {
                let vit = resolved.models[mname].vit_config()?;
                let mut im = ImageModel {
                    model,
                    classifier: Classifier {
                        model,
                        normalization: vit.normalization(),
                        num_classes: vit.num_classes,
                    },
                    image_size: vit.image_size,
                    patch: vit.patch_size,
                    grid: vit.grid(),
                };
                execute_dataset(&mut ctx, &mut im, di, dataset, &done, bars_hidden)?;
            }
            AnyModel::Bert(bert) => {
                let tokenizer = resolved
                    .tokenizers
                    .get(mname)
                    .with_context(|| format!("model `{mname}` has no tokenizer"))?;
                let tm = TextModel {
                    model,
                    tokenizer,
                    num_classes: bert.config.num_classes,
                };
                execute_text_dataset(&mut ctx, &tm, di, dataset, &done, bars_hidden)?;
            }
        }
    }
    let exec_secs = t_exec.elapsed().as_secs_f64();

    let t = Instant::now();
    let summary = write_reports(&plan, &out)?;
    let index = gallery::write_index(&plan)?;
    ctx.stages.report += t.elapsed().as_secs_f64();
    if !summary.incomplete.is_empty() {
        let list: Vec<String> = summary
            .incomplete
            .iter()
            .map(|(e, x, have, want)| format!("{e} × {x}: {have}/{want}"))
            .collect();
        bail!(
            "{}: records are incomplete after the run ({}); rerun to resume",
            out.join("records").display(),
            list.join(", ")
        );
    }

    let st = &ctx.stages;
    manifest.status = "complete";
    manifest.finished_at = Some(rfc3339(SystemTime::now()));
    manifest.wall_seconds = secs(t_start.elapsed());
    manifest.stage_seconds = Stages {
        plan: secs(Duration::from_secs_f64(st.plan)),
        load_model: secs(Duration::from_secs_f64(st.load_model)),
        data: secs(Duration::from_secs_f64(st.data)),
        classify: secs(Duration::from_secs_f64(st.classify)),
        explain: secs(Duration::from_secs_f64(st.explain)),
        evaluate: secs(Duration::from_secs_f64(st.evaluate)),
        gallery: secs(Duration::from_secs_f64(st.gallery)),
        report: secs(Duration::from_secs_f64(st.report)),
    };
    manifest.samples_processed = ctx.samples_processed;
    manifest.samples_skipped_as_done = ctx.samples_skipped;
    manifest.records_written = ctx.records_written;
    manifest.images_per_second = if exec_secs > 0.0 {
        ((ctx.samples_processed as f64 / exec_secs) * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    manifest.cache_hits = ctx.cache.hits.get();
    manifest.cache_misses = ctx.cache.misses.get();
    manifest.constant_maps = ctx.constant_maps;
    write_manifest(&out, &manifest)?;
    if ctx.constant_maps > 0 {
        info(&format!(
            "warning: {} maps were constant; the perturbation test ranked their pixels by index (lowest first)",
            ctx.constant_maps
        ));
    }
    info(&format!(
        "done in {:.1} s: {} ({} new records){}",
        manifest.wall_seconds,
        out.join("summary.md").display(),
        ctx.records_written,
        index
            .map(|p| format!(", gallery {}", p.display()))
            .unwrap_or_default()
    ));
    Ok(out)
}

fn execute_dataset(
    ctx: &mut Ctx,
    im: &mut ImageModel,
    di: usize,
    dataset: &crate::dataset::OpenDataset,
    done: &[Vec<BTreeSet<String>>],
    bars_hidden: bool,
) -> Result<()> {
    let plan = ctx.plan;
    let ds = &plan.plan.datasets[di];
    let (evs, applicable) = dataset_work(plan, di);
    if evs.is_empty() {
        return Ok(());
    }
    let n = ds.num_samples;
    let b = plan.plan.batch_size;
    let s = im.image_size;
    let resize = ds
        .resize
        .unwrap_or(faithbench_models::preprocess::ResizeMode::Squash);
    let pb = progress_bar(n, bars_hidden, format!("{} ({})", ds.name, ds.kind))?;
    for start in (0..n).step_by(b) {
        let positions: Vec<usize> = (start..(start + b).min(n)).collect();
        let ids = &ds.sample_ids[start..start + positions.len()];
        // pending[(e, x)] = chunk rows without a record
        let pending = pending_rows(&evs, &applicable, done, ids);
        if pending.iter().flatten().all(Vec::is_empty) {
            ctx.samples_skipped += ids.len();
            pb.inc(ids.len() as u64);
            continue;
        }
        let items: Vec<Item> = Ctx::timed(&mut ctx.stages.data, || {
            positions
                .iter()
                .map(|&p| dataset.load(p, s, resize))
                .collect::<Result<Vec<_>>>()
        })?;
        for (it, id) in items.iter().zip(ids) {
            if &it.id != id {
                bail!(
                    "dataset `{}` changed since the plan was made: position holds `{}`, the plan says `{id}`",
                    ds.name,
                    it.id
                );
            }
        }
        let mut raw = Vec::with_capacity(items.len() * 3 * s * s);
        for it in &items {
            to_chw_unit(&it.image, &mut raw);
        }
        let input = im.classifier.input(&raw, items.len(), s, s);
        let logits = Ctx::timed(&mut ctx.stages.classify, || {
            Ok(im.classifier.logits_of(&input)?)
        })?;
        let c = im.classifier.num_classes;
        let preds: Vec<usize> = logits.chunks(c).map(argmax).collect();

        for (xi, x) in plan.plan.explainers.iter().enumerate() {
            if !applicable[xi] {
                continue;
            }
            let classes = crate::run::classes_to_explain(plan, &evs, &pending, xi);
            for cl in classes {
                let targets: Vec<usize> = match cl {
                    ExplainedClass::Predicted => preds.clone(),
                    ExplainedClass::Target => items
                        .iter()
                        .map(|it| {
                            it.label.ok_or_else(|| {
                                anyhow!("sample `{}` has no class label to explain", it.id)
                            })
                        })
                        .collect::<Result<_>>()?,
                };
                let shapes = vec![vec![im.grid, im.grid]; ids.len()];
                let tokens = ctx.maps(im.model, xi, di, &input, ids, &targets, &shapes)?;
                let mut upsampled = Vec::with_capacity(tokens.len());
                let mut normalised = Vec::with_capacity(tokens.len());
                for (tm, id) in tokens.iter().zip(ids) {
                    let up = upsample_bilinear(tm, im.grid, im.grid, im.patch)
                        .with_context(|| format!("sample `{id}`: upsampling its map"))?;
                    let norm = match min_max_normalise(&up) {
                        Ok(v) => Some(v),
                        Err(MapError::Constant { .. }) => None,
                        Err(e) => return Err(e).with_context(|| format!("sample `{id}`")),
                    };
                    upsampled.push(up);
                    normalised.push(norm);
                }
                // gallery
                let t = Instant::now();
                for (r, &p) in positions.iter().enumerate() {
                    if p >= plan.options.gallery {
                        break;
                    }
                    let path =
                        gallery::item_path(&plan.locations.out_dir, &ds.name, p, &x.stem, cl);
                    gallery::write_item(
                        &path,
                        &items[r].image,
                        normalised[r].as_deref(),
                        items[r].mask.as_deref(),
                        &x.label,
                    )?;
                }
                ctx.stages.gallery += t.elapsed().as_secs_f64();

                for (k, &ei) in evs.iter().enumerate() {
                    let e = &plan.plan.evaluators[ei];
                    if e.protocol.explained() != cl || pending[k][xi].is_empty() {
                        continue;
                    }
                    let want: BTreeSet<usize> = pending[k][xi].iter().copied().collect();
                    let path = records_path(&plan.locations.out_dir, e, x);
                    let t = Instant::now();
                    match &e.protocol {
                        Protocol::Perturbation { config, .. } => {
                            let zeros = vec![0.0f32; s * s];
                            let samples: Vec<PerturbationSample> = items
                                .iter()
                                .enumerate()
                                .map(|(r, it)| {
                                    Ok(PerturbationSample {
                                        sample_id: &it.id,
                                        label: it.label.ok_or_else(|| {
                                            anyhow!("sample `{}` has no class label", it.id)
                                        })?,
                                        explained_class: Some(targets[r]),
                                        image: &raw[r * 3 * s * s..(r + 1) * 3 * s * s],
                                        map: normalised[r].as_deref().unwrap_or(&zeros),
                                    })
                                })
                                .collect::<Result<_>>()?;
                            ctx.constant_maps += normalised
                                .iter()
                                .enumerate()
                                .filter(|(r, m)| m.is_none() && want.contains(r))
                                .count();
                            let recs = run_perturbation(
                                &mut im.classifier,
                                &samples,
                                s,
                                s,
                                config,
                                plan.plan.eval_batch_size,
                            )
                            .with_context(|| {
                                format!("evaluator `{}` with explainer `{}`", e.name, x.label)
                            })?;
                            let keep: Vec<_> = recs
                                .into_iter()
                                .enumerate()
                                .filter(|(r, _)| want.contains(r))
                                .map(|(_, rec)| rec)
                                .collect();
                            ctx.stages.evaluate += t.elapsed().as_secs_f64();
                            records::append(&path, &keep)?;
                            ctx.note_written(keep.len());
                        }
                        Protocol::EraserRationales { .. } | Protocol::TextPerturbation { .. } => {
                            bail!(
                                "evaluator `{}` is a text evaluator on the image dataset `{}`",
                                e.name,
                                ds.name
                            )
                        }
                        Protocol::Segmentation => {
                            let mut keep = Vec::new();
                            for (r, it) in items.iter().enumerate() {
                                let mask = it
                                    .mask
                                    .as_deref()
                                    .ok_or_else(|| anyhow!("sample `{}` has no mask", it.id))?;
                                let rec =
                                    segmentation_record_from_raw(&it.id, &upsampled[r], mask, s, s)
                                        .with_context(|| {
                                            format!(
                                                "evaluator `{}` with explainer `{}`",
                                                e.name, x.label
                                            )
                                        })?;
                                if want.contains(&r) {
                                    keep.push(SegmentationLine {
                                        record: rec,
                                        explained_class: targets[r],
                                    });
                                }
                            }
                            ctx.stages.evaluate += t.elapsed().as_secs_f64();
                            records::append(&path, &keep)?;
                            ctx.note_written(keep.len());
                        }
                    }
                }
            }
        }
        ctx.samples_processed += ids.len();
        pb.inc(ids.len() as u64);
    }
    pb.finish_and_clear();
    Ok(())
}
