//! Running a config: settings → plan → run folder → execution (resumable) → reports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::cache::Cache;
use crate::classifier::clip_zero_shot;
use crate::config::Settings;
use crate::error::{Classify, Context, Error, Result};
use crate::execute::{Counters, DatasetModel, Exec, Stages, Step};
use crate::gallery;
use crate::lock::RunLock;
use crate::plan::{image_input, records_path, resolve, Overrides, Plan};
use crate::records;
use crate::shard::{read_shard, shard_ids, write_shard, Shard};
use crate::summary::{evaluators, write_reports, RunSummary};
use crate::util::{git_commit, pretty_json, rfc3339};

/// How to run a config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Command-line overrides.
    pub overrides: Overrides,
    /// Discard records, summary, plots and gallery of a run folder made from another plan (the
    /// explanation cache is kept: its keys are content hashes).
    pub fresh: bool,
    /// Draw progress bars on stderr.
    pub progress: bool,
    /// Stop (as if killed) once this many records were appended: the run folder is left as a
    /// killed run leaves it, and a rerun resumes. For tests of resumption and for budgets.
    pub stop_after_records: Option<usize>,
    /// The command line, recorded in the manifest.
    pub command: Vec<String>,
    /// Evaluate only this shard of every dataset (`--shard K/N`; see [`crate::shard`]).
    pub shard: Option<Shard>,
}

/// A loaded model.
enum Loaded {
    Vit(faithbench_models::vit::VisionTransformer),
    Bert(faithbench_models::bert::Bert),
    Clip(faithbench_models::clip::Clip),
}

impl Loaded {
    fn load(
        source: &faithbench_models::ModelSource,
        device: &burn::prelude::Device,
    ) -> Result<Self> {
        Ok(match &source.spec {
            faithbench_models::ModelSpec::Clip { .. } => Loaded::Clip(source.load_clip(device)?),
            _ => match source.load(device)? {
                faithbench_models::AnyModel::Vit(v) => Loaded::Vit(v),
                faithbench_models::AnyModel::Bert(b) => Loaded::Bert(b),
            },
        })
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run folder.
    pub out_dir: PathBuf,
    /// The plan's hash.
    pub config_hash: String,
    /// Whether the run stopped early (`stop_after_records`); no summary was written then.
    pub stopped: bool,
    /// The shard this run evaluated (no summary is written for a shard).
    pub shard: Option<Shard>,
    /// Records appended.
    pub records_written: usize,
    /// The gallery index, if one was written.
    pub gallery: Option<PathBuf>,
    /// Computed maps that were constant.
    pub constant_maps: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

#[derive(Serialize)]
struct Manifest {
    faithbench_version: &'static str,
    git_commit: Option<String>,
    status: &'static str,
    config: PathBuf,
    config_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
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
    samples_per_second: f64,
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

fn write_manifest(out: &Path, m: &Manifest) -> Result<()> {
    Ok(faithbench_data::files::write_atomic(
        &out.join("manifest.json"),
        pretty_json(m)?.as_bytes(),
    )?)
}

/// Creates or validates the run folder of `plan` for `shard` (`None`: the whole plan) and writes
/// `resolved_config.json` (and `shard.json` for a shard). A folder holding records of another
/// plan or another shard is refused unless `fresh`.
pub fn prepare_run_dir(
    plan: &Plan,
    shard: Option<Shard>,
    fresh: bool,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    let out = &plan.locations.out_dir;
    std::fs::create_dir_all(out)
        .failure(|| format!("{}: cannot create the run folder", out.display()))?;
    let rc = out.join("resolved_config.json");
    let has_records = std::fs::read_dir(out.join("records"))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    let old_shard = read_shard(out)?;
    if has_records && !fresh && old_shard != shard {
        let name = |s: Option<Shard>| match s {
            Some(s) => format!("shard {s}"),
            None => "the whole plan".to_string(),
        };
        return Err(Error::input(format!(
            "{}: this run folder holds records of {}, not {}; pass --fresh to discard them, or choose another --out",
            out.display(),
            name(old_shard),
            name(shard)
        )));
    }
    let mut wipe = fresh;
    if rc.exists() {
        let old = Plan::read(&rc)?;
        if old.config_hash != plan.config_hash {
            if !fresh {
                return Err(Error::input(format!(
                    "{}: this run folder holds a different plan (hash {}, the config now resolves to {}); \
                     pass --fresh to discard its records, or choose another --out",
                    rc.display(),
                    &old.config_hash[..12.min(old.config_hash.len())],
                    &plan.config_hash[..12]
                )));
            }
        } else if !fresh {
            log(&format!(
                "resuming in {} (same plan {})",
                out.display(),
                &plan.config_hash[..12]
            ));
        }
    } else {
        if has_records && !fresh {
            return Err(Error::input(format!(
                "{}: holds records but no resolved_config.json, so they cannot be matched to this plan; \
                 pass --fresh to discard them, or choose another --out",
                out.display()
            )));
        }
        wipe = wipe && has_records;
    }
    if wipe {
        for d in ["records", "plots", "gallery", "eraser"] {
            let p = out.join(d);
            if p.exists() {
                std::fs::remove_dir_all(&p)
                    .failure(|| format!("{}: cannot remove", p.display()))?;
            }
        }
        for f in ["summary.csv", "summary.md", "manifest.json"] {
            let p = out.join(f);
            if p.exists() {
                std::fs::remove_file(&p).failure(|| format!("{}: cannot remove", p.display()))?;
            }
        }
        log(&format!(
            "--fresh: discarded previous records in {}",
            out.display()
        ));
    }
    std::fs::create_dir_all(out.join("records"))
        .failure(|| format!("{}: cannot create", out.join("records").display()))?;
    write_shard(out, shard, &plan.config_hash)?;
    Ok(faithbench_data::files::write_atomic(
        &rc,
        pretty_json(plan)?.as_bytes(),
    )?)
}

/// Runs a config file. `log` receives progress messages (one line each).
pub fn run(config: &Path, opts: &RunOptions, log: &mut dyn FnMut(&str)) -> Result<RunOutcome> {
    let settings = Settings::load(config)?;
    run_settings(&settings, opts, log)
}

/// Runs validated settings.
pub fn run_settings(
    settings: &Settings,
    opts: &RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<RunOutcome> {
    let started = SystemTime::now();
    let t_start = Instant::now();
    let (plan, resources) = resolve(settings, &opts.overrides)?;
    let out = plan.locations.out_dir.clone();
    let device = faithbench_models::device_by_name(&plan.options.device)
        .context(|| format!("device of {}", settings.path.display()))?;
    faithbench_models::precision::configure(&device, settings.run.precision)
        .context(|| format!("run.precision of {}", settings.path.display()))?;
    let device = device.autodiff();
    log(&format!(
        "plan {} → {} ({} explainers × {} evaluators, {} samples{})",
        &plan.config_hash[..12],
        out.display(),
        plan.plan.explainers.len(),
        plan.plan.evaluators.len(),
        plan.num_samples(),
        opts.shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default()
    ));
    if let Ok(about) = faithbench_models::describe_device(&plan.options.device) {
        log(&format!("device {}: {about}", plan.options.device));
    }
    std::fs::create_dir_all(&out)
        .failure(|| format!("{}: cannot create the run folder", out.display()))?;
    let _lock = RunLock::acquire(&out, log)?;
    prepare_run_dir(&plan, opts.shard, opts.fresh, log)?;
    let plan_secs = t_start.elapsed().as_secs_f64();

    // repair partial lines, collect what is done
    let mut repaired = 0;
    let mut done: Vec<Vec<BTreeSet<String>>> = Vec::new();
    for e in &plan.plan.evaluators {
        let ds = plan
            .dataset(&e.dataset)
            .ok_or_else(|| Error::failure(format!("evaluator `{}`: no dataset", e.name)))?;
        let mut row = Vec::new();
        for x in &plan.plan.explainers {
            if !plan.applies(x, ds) {
                row.push(BTreeSet::new());
                continue;
            }
            let p = records_path(&out, e, x);
            if records::repair(&p)? > 0 {
                repaired += 1;
                log(&format!(
                    "{}: dropped a partial last line (interrupted run)",
                    p.display()
                ));
            }
            row.push(records::done_ids(&p)?);
        }
        done.push(row);
    }

    let t = Instant::now();
    let mut loaded = BTreeMap::new();
    for ds in &plan.plan.datasets {
        if !loaded.contains_key(&ds.model) {
            let m = Loaded::load(&resources.models[&ds.model], &device)
                .context(|| format!("loading model `{}`", ds.model))?;
            loaded.insert(ds.model.clone(), m);
        }
    }
    let load_secs = t.elapsed().as_secs_f64();
    let explainers = plan
        .plan
        .explainers
        .iter()
        .map(|x| {
            x.method
                .build()
                .context(|| format!("explainer `{}`", x.label))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut exec = Exec {
        plan: &plan,
        explainers,
        evaluators: evaluators(&plan)?,
        cache: Cache::new(plan.options.cache_dir.as_deref()),
        stages: Stages {
            plan: plan_secs,
            load_model: load_secs,
            ..Default::default()
        },
        counters: Counters::default(),
        done,
        shard: opts.shard,
        stop_after: opts.stop_after_records,
        progress: opts.progress,
    };
    let mut manifest = Manifest {
        faithbench_version: env!("CARGO_PKG_VERSION"),
        git_commit: git_commit(),
        status: "running",
        config: settings.path.clone(),
        config_hash: plan.config_hash.clone(),
        shard: opts.shard.map(|s| s.to_string()),
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
        command: opts.command.clone(),
        started_at: rfc3339(started),
        finished_at: None,
        wall_seconds: 0.0,
        stage_seconds: Stages::default(),
        samples_planned: plan.num_samples(),
        samples_processed: 0,
        samples_skipped_as_done: 0,
        records_written: 0,
        samples_per_second: 0.0,
        cache_hits: 0,
        cache_misses: 0,
        constant_maps: 0,
        repaired_partial_lines: repaired,
    };
    write_manifest(&out, &manifest)?;

    let t_exec = Instant::now();
    for (di, ds) in plan.plan.datasets.iter().enumerate() {
        let zero_shot;
        let model = match &loaded[&ds.model] {
            Loaded::Vit(v) => DatasetModel::Image {
                model: v,
                input: image_input(&plan.plan.models[&ds.model].spec)
                    .ok_or_else(|| Error::failure("a ViT without image input"))?,
                num_classes: v.config.num_classes,
            },
            Loaded::Bert(b) => DatasetModel::Text {
                model: b,
                tokenizer: resources.tokenizers.get(&ds.model).ok_or_else(|| {
                    Error::failure(format!("model `{}` has no tokenizer", ds.model))
                })?,
                num_classes: b.config.num_classes,
            },
            Loaded::Clip(c) => {
                let prompts = ds.prompts.as_deref().ok_or_else(|| {
                    Error::failure(format!("dataset `{}` has no zero-shot prompts", ds.name))
                })?;
                zero_shot = clip_zero_shot(c, prompts)
                    .context(|| format!("the zero-shot prompts of dataset `{}`", ds.name))?;
                DatasetModel::Image {
                    model: &zero_shot,
                    input: image_input(&plan.plan.models[&ds.model].spec)
                        .ok_or_else(|| Error::failure("a CLIP without image input"))?,
                    num_classes: prompts.len(),
                }
            }
        };
        let step = exec.run_dataset(di, model, resources.datasets[di].as_ref())?;
        if step == Step::Stop {
            log(&format!(
                "stopped after {} records, as asked; rerun to resume",
                exec.counters.records_written
            ));
            return Ok(RunOutcome {
                out_dir: out,
                config_hash: plan.config_hash.clone(),
                stopped: true,
                shard: opts.shard,
                records_written: exec.counters.records_written,
                gallery: None,
                constant_maps: exec.counters.constant_maps,
                seconds: t_start.elapsed().as_secs_f64(),
            });
        }
    }
    let exec_secs = t_exec.elapsed().as_secs_f64();

    let t = Instant::now();
    let index = if let Some(s) = opts.shard {
        // a shard writes no summary; its records must cover its chunks
        for e in &plan.plan.evaluators {
            let Some(ds) = plan.dataset(&e.dataset) else {
                continue;
            };
            let want = shard_ids(ds, plan.plan.batch_size, Some(s));
            for (xi, x) in plan.explainers_for(e) {
                let ei = plan
                    .plan
                    .evaluators
                    .iter()
                    .position(|p| p.name == e.name)
                    .unwrap_or(0);
                let have = &exec.done[ei][xi];
                let lacking = want.iter().filter(|id| !have.contains(*id)).count();
                if lacking > 0 {
                    return Err(Error::failure(format!(
                        "{}: shard {s}: {} × {} lacks {lacking} records after the run; rerun to resume",
                        out.display(),
                        e.name,
                        x.label
                    )));
                }
            }
        }
        log(&format!(
            "shard {s} complete in {}; join the shards with `faithbench merge`",
            out.display()
        ));
        None
    } else {
        let summary: RunSummary = write_reports(&plan, &out)?;
        let index = gallery::write_index(&plan)?;
        if !summary.incomplete.is_empty() {
            let list: Vec<String> = summary
                .incomplete
                .iter()
                .map(|(e, x, have, want)| format!("{e} × {x}: {have}/{want}"))
                .collect();
            return Err(Error::failure(format!(
                "{}: records are incomplete after the run ({}); rerun to resume",
                out.join("records").display(),
                list.join(", ")
            )));
        }
        index
    };
    exec.stages.report += t.elapsed().as_secs_f64();

    let c = &exec.counters;
    manifest.status = "complete";
    manifest.finished_at = Some(rfc3339(SystemTime::now()));
    manifest.wall_seconds = (t_start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    manifest.stage_seconds = exec.stages.rounded();
    manifest.samples_processed = c.samples_processed;
    manifest.samples_skipped_as_done = c.samples_skipped;
    manifest.records_written = c.records_written;
    manifest.samples_per_second = if exec_secs > 0.0 {
        ((c.samples_processed as f64 / exec_secs) * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    manifest.cache_hits = exec.cache.hits.load(std::sync::atomic::Ordering::Relaxed);
    manifest.cache_misses = exec.cache.misses.load(std::sync::atomic::Ordering::Relaxed);
    manifest.constant_maps = c.constant_maps;
    write_manifest(&out, &manifest)?;
    if c.constant_maps > 0 {
        log(&format!(
            "warning: {} maps were constant; the perturbation test ranked their pixels by index (lowest first)",
            c.constant_maps
        ));
    }
    Ok(RunOutcome {
        out_dir: out,
        config_hash: plan.config_hash.clone(),
        stopped: false,
        shard: opts.shard,
        records_written: c.records_written,
        gallery: index,
        constant_maps: c.constant_maps,
        seconds: manifest.wall_seconds,
    })
}

/// Rebuilds `summary.csv`, `summary.md`, plots, evaluator outputs and the gallery index of a run
/// folder from its records. Returns the summary (with any incomplete pairs).
pub fn report(run_dir: &Path) -> Result<RunSummary> {
    let plan = Plan::of_run(run_dir)?;
    let s = write_reports(&plan, run_dir)?;
    gallery::write_index(&plan)?;
    Ok(s)
}
