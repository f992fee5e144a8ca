//! `faithbench bench`: CPU speed of a randomly initialised ViT (ViT-B/16 by default) — plain
//! forward, forward + backward to every attention map, each explainer, the image perturbation
//! evaluator — with PyTorch side by side in the same invocation: timm's `vit_base_patch16_224`
//! whenever a Python with torch and timm is given, and the paper's reference code when the path
//! of a user's clone of it is given (`scripts/bench_reference.py`, embedded in this library, runs
//! that side; it contains none of the reference's code).
//!
//! Timings are seconds per image, minimum over `reps × rounds` timed runs after one warm-up. The
//! faithbench block and the PyTorch block alternate `rounds` times (A B A B …), so both sides see
//! the same machine load; the load average is recorded before and after every block. The result
//! is one JSON object ([`run_bench`] returns it, the binary writes it); where there is no Python
//! (CI) the PyTorch section says `"status": "absent"` and why, and its ratios are `null`.
//!
//! Goals of the speed work (issue 12, `docs/speed.md`) are reported, never asserted:
//! `goals.forward_vs_timm` (faithbench's batch-1 forward time over timm's, goal ≤ 1),
//! `goals.ours_h_budget` (Ours-H over the time of 20 forwards + 1 forward+backward, goal ≤ 1.2)
//! and `goals.perturbation_throughput` (the perturbation evaluator's images/s over the plain
//! forward's at the same batch size, goal ≥ 0.7).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use faithbench_eval::perturbation::{run_perturbation, PerturbationConfig, PerturbationSample};
use faithbench_explain::{ExplainBatch, MethodConfig};
use faithbench_models::preprocess::Normalization;
use faithbench_models::vit::{VisionTransformer, VitConfig};
use faithbench_models::{Explainable, GradRequest, ModelInput, Objective, TraceOptions};
use serde_json::{json, Map, Value};

use crate::classifier::ImageModel;
use crate::error::{Classify, Error, Result};

/// The PyTorch runner, embedded so that the binary works from any folder.
pub const REFERENCE_SCRIPT: &str = include_str!("../../../scripts/bench_reference.py");

/// The environment variable naming the Python interpreter (when `--python` is not given).
pub const PYTHON_ENV: &str = "FAITHBENCH_PYTHON";

/// The explainers timed by default, in the order of the paper's table.
pub const DEFAULT_METHODS: [&str; 8] = [
    "ours_h",
    "ours_t",
    "transformer_attribution",
    "partial_lrp",
    "attn_gradcam",
    "generic_attention",
    "rollout",
    "raw_attention",
];

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Model name recorded in the JSON.
    pub model_name: String,
    /// Architecture (random weights, seed 0).
    pub model: VitConfig,
    /// Timed runs per measurement and round (after one warm-up).
    pub reps: usize,
    /// Alternations of the faithbench block and the PyTorch block.
    pub rounds: usize,
    /// Batch sizes of the plain forward (per-image times are reported).
    pub forward_batches: Vec<usize>,
    /// Explainers to time (faithbench method names, paper defaults); empty: none.
    pub methods: Vec<String>,
    /// Samples of the perturbation evaluator (each costs 1 + 9 classifier images); 0: skip.
    pub perturbation_samples: usize,
    /// Batch size of the perturbation evaluator's classifier calls (and of the forward it is
    /// compared with).
    pub perturbation_batch: usize,
    /// Python interpreter with torch (+ timm); `None`: the PyTorch side is skipped.
    pub python: Option<PathBuf>,
    /// Root of a clone of the paper's code, for the reference timings.
    pub reference_repo: Option<PathBuf>,
    /// How the process's allocator is set up (recorded only; the binary tunes glibc malloc).
    pub allocator: Option<String>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            model_name: "vit_b16".into(),
            model: VitConfig::vit_b16(),
            reps: 3,
            rounds: 2,
            forward_batches: vec![1, 8],
            methods: DEFAULT_METHODS.iter().map(|s| s.to_string()).collect(),
            perturbation_samples: 2,
            perturbation_batch: 10,
            python: None,
            reference_repo: None,
            allocator: None,
        }
    }
}

/// The Python to use: the flag, else `$FAITHBENCH_PYTHON` (an empty value counts as unset).
pub fn resolve_python(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        std::env::var_os(PYTHON_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// One measurement: every timed run, in seconds for the whole batch.
#[derive(Debug, Clone, Default)]
struct Timing {
    batch: usize,
    runs: Vec<f64>,
}

impl Timing {
    fn min(&self) -> f64 {
        self.runs.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn median(&self) -> f64 {
        let mut r = self.runs.clone();
        r.sort_by(f64::total_cmp);
        match r.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => r[n / 2],
            n => 0.5 * (r[n / 2 - 1] + r[n / 2]),
        }
    }
    fn per_image(&self) -> f64 {
        self.min() / self.batch as f64
    }
    fn to_json(&self) -> Value {
        json!({
            "batch": self.batch,
            "s_per_image": self.per_image(),
            "images_per_s": 1.0 / self.per_image(),
            "min_s": self.min(),
            "median_s": self.median(),
            "runs_s": self.runs,
        })
    }
}

/// Runs `f` once untimed, then `reps` times, appending the times to `t`.
fn time_into<T>(t: &mut Timing, reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<()> {
    f()?;
    for _ in 0..reps {
        let start = Instant::now();
        f()?;
        t.runs.push(start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The 1-minute, 5-minute and 15-minute load averages (Linux; `null` elsewhere).
pub fn load_average() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let v: Vec<f64> = s
                .split_whitespace()
                .take(3)
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() == 3).then(|| json!(v))
        })
        .unwrap_or(Value::Null)
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_string())
    });
    #[cfg(target_arch = "x86_64")]
    let simd = json!({
        "avx2": std::arch::is_x86_feature_detected!("avx2"),
        "fma": std::arch::is_x86_feature_detected!("fma"),
        "avx512f": std::arch::is_x86_feature_detected!("avx512f"),
    });
    #[cfg(not(target_arch = "x86_64"))]
    let simd = Value::Null;
    json!({
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": cpu,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "simd": simd,
    })
}

/// Everything the faithbench side measures, accumulated over rounds.
struct Side {
    forward: Vec<Timing>,
    /// The same forwards with the fused kernels switched off (burn's op-by-op forward).
    forward_burn_ops: Vec<Timing>,
    forward_autodiff: Timing,
    forward_backward: Timing,
    explainers: Vec<(String, Timing)>,
    perturbation: Timing,
    perturbation_forward: Timing,
    perturbation_images: usize,
}

struct Models {
    plain: VisionTransformer,
    autodiff: VisionTransformer,
    plain_dev: Device,
    ad_dev: Device,
}

fn image_on(cfg: &VitConfig, b: usize, dev: &Device) -> ModelInput {
    let s = cfg.image_size;
    ModelInput::Image(Tensor::<4>::random(
        [b, 3, s, s],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        dev,
    ))
}

fn logits_ready(t: Tensor<2>) -> Result<f32> {
    let v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::failure(format!("cannot read logits: {e:?}")))?;
    v.first()
        .copied()
        .ok_or_else(|| Error::failure("the model returned no logits"))
}

fn all_attention_grads(b: usize, depth: usize) -> TraceOptions {
    TraceOptions {
        attn: false,
        z_vproj: false,
        grad: Some(GradRequest {
            targets: vec![0; b],
            objective: Objective::Logit,
            layers: (0..depth).collect(),
        }),
    }
}

fn run_side(
    opts: &BenchOptions,
    m: &Models,
    side: &mut Side,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    let cfg = &opts.model;
    for (i, &b) in opts.forward_batches.iter().enumerate() {
        let x = image_on(cfg, b, &m.plain_dev);
        time_into(&mut side.forward[i], opts.reps, || {
            logits_ready(m.plain.logits(&x)?)
        })?;
        log(&format!(
            "  forward b={b}: {:.3} s/image",
            side.forward[i].per_image()
        ));
        faithbench_models::fast::without_fused_kernels(|| {
            time_into(&mut side.forward_burn_ops[i], opts.reps, || {
                logits_ready(m.plain.logits(&x)?)
            })
        })?;
        log(&format!(
            "  forward b={b}, burn ops (fused kernels off): {:.3} s/image",
            side.forward_burn_ops[i].per_image()
        ));
    }
    let x = image_on(cfg, 1, &m.ad_dev);
    time_into(&mut side.forward_autodiff, opts.reps, || {
        logits_ready(m.autodiff.logits(&x)?)
    })?;
    log(&format!(
        "  forward b=1 (autodiff device): {:.3} s/image",
        side.forward_autodiff.per_image()
    ));
    let grads = all_attention_grads(1, cfg.depth);
    time_into(&mut side.forward_backward, opts.reps, || {
        let tr = m.autodiff.trace(&x, &[1.0], &grads)?;
        logits_ready(tr.logits)
    })?;
    log(&format!(
        "  forward+backward b=1: {:.3} s/image",
        side.forward_backward.per_image()
    ));
    let ids = vec!["0".to_string()];
    let targets = [3usize.min(cfg.num_classes - 1)];
    for (name, t) in side.explainers.iter_mut() {
        let e = MethodConfig::new(name, &Map::new())?.build()?;
        time_into(t, opts.reps, || {
            e.explain(
                &m.autodiff,
                &ExplainBatch {
                    input: &x,
                    targets: &targets,
                    ids: &ids,
                },
            )
            .map_err(Error::from)
        })?;
        log(&format!("  {name}: {:.3} s/image", t.per_image()));
    }
    if opts.perturbation_samples > 0 {
        perturbation(opts, m, side)?;
        log(&format!(
            "  perturbation evaluator: {:.2} images/s (forward b={}: {:.2} images/s)",
            1.0 / side.perturbation.per_image(),
            opts.perturbation_batch,
            1.0 / side.perturbation_forward.per_image()
        ));
    }
    Ok(())
}

/// The perturbation evaluator on random images and maps, driving the model the way a run does
/// (raw images normalised by [`ImageModel`], the model on the autodiff device), against the plain
/// forward of the same model at the evaluator's batch size.
fn perturbation(opts: &BenchOptions, m: &Models, side: &mut Side) -> Result<()> {
    let cfg = &opts.model;
    let s = cfg.image_size;
    let n = opts.perturbation_samples;
    let pcfg = PerturbationConfig::default();
    let mut rng = faithbench_data::rng::SplitMix64::new(7);
    let images: Vec<Vec<f32>> = (0..n)
        .map(|_| (0..3 * s * s).map(|_| rng.unit() as f32).collect())
        .collect();
    let maps: Vec<Vec<f32>> = (0..n)
        .map(|_| (0..s * s).map(|_| rng.unit() as f32).collect())
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("bench{i}")).collect();
    let samples: Vec<PerturbationSample> = (0..n)
        .map(|i| PerturbationSample {
            sample_id: &ids[i],
            label: i % cfg.num_classes,
            explained_class: None,
            image: &images[i],
            map: &maps[i],
        })
        .collect();
    let mut cls = ImageModel {
        model: &m.autodiff,
        normalization: Normalization::Half,
        num_classes: cfg.num_classes,
    };
    let per_sample = 1 + pcfg.levels.len();
    side.perturbation_images = n * per_sample;
    side.perturbation.batch = n * per_sample;
    time_into(&mut side.perturbation, opts.reps.min(2), || {
        run_perturbation(&mut cls, &samples, s, s, &pcfg, opts.perturbation_batch)
            .map_err(|e| Error::failure(format!("perturbation evaluator: {e}")))
    })?;
    let b = opts.perturbation_batch;
    let x = image_on(cfg, b, &m.plain_dev);
    side.perturbation_forward.batch = b;
    time_into(&mut side.perturbation_forward, opts.reps, || {
        logits_ready(m.plain.logits(&x)?)
    })
}

/// Runs `scripts/bench_reference.py` (embedded) with `python`; the parsed JSON, or a section
/// saying why there is none.
fn run_python(opts: &BenchOptions, python: &Path, round: usize) -> Value {
    let dir = std::env::temp_dir().join(format!("faithbench-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return json!({"status": "failed", "reason": format!("cannot create {}: {e}", dir.display())});
    }
    let script = dir.join("bench_reference.py");
    let out = dir.join(format!("round{round}.json"));
    if let Err(e) = std::fs::write(&script, REFERENCE_SCRIPT) {
        return json!({"status": "failed", "reason": format!("cannot write {}: {e}", script.display())});
    }
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script)
        .arg("--out")
        .arg(&out)
        .arg("--reps")
        .arg(opts.reps.to_string())
        .arg("--depth")
        .arg(opts.model.depth.to_string());
    if let Some(r) = &opts.reference_repo {
        cmd.arg("--reference-repo").arg(r);
    }
    let result = match cmd.output() {
        Err(e) => json!({
            "status": "absent",
            "reason": format!("cannot run {}: {e}", python.display()),
        }),
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            let tail: String = err.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            json!({
                "status": "failed",
                "reason": format!("{} exited with {}", python.display(), o.status),
                "stderr_tail": tail,
            })
        }
        Ok(_) => match std::fs::read_to_string(&out) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                json!({"status": "failed", "reason": format!("{}: not JSON: {e}", out.display())})
            }),
            Err(e) => json!({"status": "failed", "reason": format!("{}: {e}", out.display())}),
        },
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The smallest `s_per_image` of `path` (an array of timings or one timing) over rounds, for
/// the entry with `batch`.
fn py_best(rounds: &[Value], path: &[&str], batch: usize) -> Option<f64> {
    rounds
        .iter()
        .filter_map(|r| {
            let mut v = r;
            for p in path {
                v = v.get(p)?;
            }
            let entry = match v {
                Value::Array(a) => a
                    .iter()
                    .find(|e| e.get("batch").and_then(Value::as_u64) == Some(batch as u64))?,
                other => other,
            };
            entry.get("s_per_image").and_then(Value::as_f64)
        })
        .reduce(f64::min)
}

fn ratio(a: f64, b: Option<f64>) -> Value {
    match b {
        Some(b) if b > 0.0 => json!(a / b),
        _ => Value::Null,
    }
}

/// Runs the benchmark; `log` gets one line per measurement.
pub fn run_bench(opts: &BenchOptions, log: &mut dyn FnMut(&str)) -> Result<Value> {
    if opts.reps == 0 || opts.rounds == 0 {
        return Err(Error::input("--reps and --rounds must be at least 1"));
    }
    if opts.forward_batches.is_empty() || opts.forward_batches.contains(&0) {
        return Err(Error::input("forward batch sizes must be at least 1"));
    }
    if opts.perturbation_batch == 0 {
        return Err(Error::input(
            "the perturbation batch size must be at least 1",
        ));
    }
    opts.model
        .validate()
        .map_err(|e| Error::input(format!("model {}: {e}", opts.model_name)))?;
    for name in &opts.methods {
        MethodConfig::new(name, &Map::new())?;
    }
    if let Some(r) = &opts.reference_repo {
        if !r.is_dir() {
            return Err(Error::input(format!(
                "--reference-repo {}: not a folder",
                r.display()
            )));
        }
    }
    let plain_dev = Device::flex();
    let ad_dev = plain_dev.clone().autodiff();
    plain_dev.seed(0);
    let plain = opts.model.init(&plain_dev).no_grad();
    ad_dev.seed(0);
    let autodiff = opts.model.init(&ad_dev).no_grad();
    let models = Models {
        plain,
        autodiff,
        plain_dev,
        ad_dev,
    };
    let per_forward_batch = || -> Vec<Timing> {
        opts.forward_batches
            .iter()
            .map(|&b| Timing {
                batch: b,
                runs: vec![],
            })
            .collect()
    };
    let mut side = Side {
        forward: per_forward_batch(),
        forward_burn_ops: per_forward_batch(),
        forward_autodiff: Timing {
            batch: 1,
            runs: vec![],
        },
        forward_backward: Timing {
            batch: 1,
            runs: vec![],
        },
        explainers: opts
            .methods
            .iter()
            .map(|m| {
                (
                    m.clone(),
                    Timing {
                        batch: 1,
                        runs: vec![],
                    },
                )
            })
            .collect(),
        perturbation: Timing::default(),
        perturbation_forward: Timing::default(),
        perturbation_images: 0,
    };
    let mut py_rounds: Vec<Value> = Vec::new();
    let mut loads = Vec::new();
    for round in 0..opts.rounds {
        log(&format!("round {}/{}: faithbench", round + 1, opts.rounds));
        let before = load_average();
        run_side(opts, &models, &mut side, log)?;
        loads.push(json!({"round": round, "side": "faithbench", "before": before, "after": load_average()}));
        if let Some(py) = &opts.python {
            log(&format!(
                "round {}/{}: PyTorch ({})",
                round + 1,
                opts.rounds,
                py.display()
            ));
            let before = load_average();
            py_rounds.push(run_python(opts, py, round));
            loads.push(json!({"round": round, "side": "pytorch", "before": before, "after": load_average()}));
        }
    }
    Ok(assemble(opts, &side, &py_rounds, loads))
}

fn assemble(opts: &BenchOptions, side: &Side, py_rounds: &[Value], loads: Vec<Value>) -> Value {
    let fwd1 = side
        .forward
        .iter()
        .find(|t| t.batch == 1)
        .map(Timing::per_image);
    let fb = side.forward_backward.per_image();
    let explainer_s = |name: &str| {
        side.explainers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.per_image())
    };

    // PyTorch side: the last round that ran, with every round's timings folded to the minimum.
    let pytorch = match (
        &opts.python,
        py_rounds
            .iter()
            .rfind(|r| r.get("status") == Some(&json!("ran"))),
    ) {
        (None, _) => json!({
            "status": "absent",
            "reason": format!("no Python given (--python or ${PYTHON_ENV}); PyTorch side not run"),
        }),
        (Some(_), None) => {
            let mut v = py_rounds.last().cloned().unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("rounds".into(), json!(py_rounds.len()));
            }
            v
        }
        (Some(_), Some(last)) => {
            let mut v = last.clone();
            if let Value::Object(m) = &mut v {
                m.insert("rounds".into(), json!(py_rounds.len()));
                m.insert("all_rounds".into(), json!(py_rounds));
            }
            v
        }
    };
    let timm_fwd = |b| py_best(py_rounds, &["timm", "forward"], b);
    let timm_fb = py_best(py_rounds, &["timm", "forward_backward"], 1);
    let ref_fwd = py_best(py_rounds, &["reference", "forward"], 1);
    let ref_fb = py_best(py_rounds, &["reference", "forward_backward"], 1);

    let mut ratios = Map::new();
    for t in &side.forward {
        ratios.insert(
            format!("forward_b{}_over_timm", t.batch),
            ratio(t.per_image(), timm_fwd(t.batch)),
        );
    }
    ratios.insert("forward_backward_over_timm".into(), ratio(fb, timm_fb));
    if let Some(f) = fwd1 {
        ratios.insert("forward_b1_over_reference".into(), ratio(f, ref_fwd));
    }
    ratios.insert("forward_backward_over_reference".into(), ratio(fb, ref_fb));
    let mut per_method = Map::new();
    for (name, t) in &side.explainers {
        per_method.insert(
            name.clone(),
            ratio(
                t.per_image(),
                py_best(py_rounds, &["reference", "explainers", name], 1),
            ),
        );
    }
    ratios.insert(
        "explainers_over_reference".into(),
        Value::Object(per_method),
    );

    let mut explainers = Map::new();
    for (name, t) in &side.explainers {
        explainers.insert(name.clone(), t.to_json());
    }
    let mut goals = Map::new();
    goals.insert(
        "forward_vs_timm".into(),
        json!({
            "what": "faithbench batch-1 forward s/image over timm's (goal <= 1)",
            "value": fwd1.map(|f| ratio(f, timm_fwd(1))).unwrap_or(Value::Null),
            "goal_max": 1.0,
        }),
    );
    if let (Some(h), Some(f)) = (explainer_s("ours_h"), fwd1) {
        let budget = 20.0 * f + fb;
        goals.insert(
            "ours_h_budget".into(),
            json!({
                "what": "Ours-H (20 IG steps) over 20 plain batch-1 forwards + 1 forward+backward (goal <= 1.2)",
                "ours_h_s": h,
                "budget_s": budget,
                "value": h / budget,
                "goal_max": 1.2,
            }),
        );
    }
    let mut faithbench = Map::new();
    faithbench.insert(
        "forward".into(),
        json!(side.forward.iter().map(Timing::to_json).collect::<Vec<_>>()),
    );
    faithbench.insert(
        "forward_burn_ops".into(),
        json!(side
            .forward_burn_ops
            .iter()
            .map(Timing::to_json)
            .collect::<Vec<_>>()),
    );
    faithbench.insert(
        "forward_autodiff_device".into(),
        side.forward_autodiff.to_json(),
    );
    faithbench.insert("forward_backward".into(), side.forward_backward.to_json());
    faithbench.insert("explainers".into(), Value::Object(explainers));
    if opts.perturbation_samples > 0 {
        let ev = 1.0 / side.perturbation.per_image();
        let fw = 1.0 / side.perturbation_forward.per_image();
        faithbench.insert(
            "perturbation".into(),
            json!({
                "samples": opts.perturbation_samples,
                "classifier_images": side.perturbation_images,
                "batch": opts.perturbation_batch,
                "evaluator": side.perturbation.to_json(),
                "evaluator_images_per_s": ev,
                "forward_same_batch": side.perturbation_forward.to_json(),
                "forward_images_per_s": fw,
            }),
        );
        goals.insert(
            "perturbation_throughput".into(),
            json!({
                "what": "perturbation evaluator images/s over the plain forward's at the same batch size (goal >= 0.7)",
                "value": ev / fw,
                "goal_min": 0.7,
            }),
        );
    }
    json!({
        "schema": "faithbench-bench/1",
        "what": "seconds per image (minimum over reps x rounds timed runs after a warm-up), random weights, f32, CPU",
        "model": {
            "name": opts.model_name,
            "config": opts.model,
        },
        "settings": {
            "reps": opts.reps,
            "rounds": opts.rounds,
            "methods": opts.methods,
            "reference_repo": opts.reference_repo,
            "python": opts.python,
            "allocator": opts.allocator.as_deref().unwrap_or("system allocator defaults"),
        },
        "machine": machine(),
        "load_average": loads,
        "faithbench": faithbench,
        "pytorch": pytorch,
        "ratios_time_faithbench_over_pytorch": ratios,
        "goals": goals,
    })
}

/// Writes the benchmark JSON (pretty-printed), creating the parent folder.
pub fn write_json(path: &Path, v: &Value) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .failure(|| format!("{}: cannot create the folder", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(v)
        .failure(|| "cannot serialise the benchmark JSON".to_string())?;
    std::fs::write(path, text + "\n").failure(|| format!("{}: cannot write", path.display()))
}

/// A short plain-text table of a benchmark result (what the binary prints).
pub fn summary_lines(v: &Value) -> Vec<String> {
    let f = |x: &Value| {
        x.as_f64()
            .map(|x| format!("{x:.3}"))
            .unwrap_or_else(|| "—".into())
    };
    let mut out = vec![format!(
        "{:<34} {:>12} {:>10} {:>10}",
        "seconds per image", "faithbench", "timm", "reference"
    )];
    let fb = &v["faithbench"];
    let py = &v["pytorch"];
    let best = |path: &[&str], b: usize| {
        py.get("all_rounds")
            .and_then(Value::as_array)
            .and_then(|r| py_best(r, path, b))
            .map(Value::from)
            .unwrap_or(Value::Null)
    };
    if let Some(arr) = fb["forward"].as_array() {
        for e in arr {
            let b = e["batch"].as_u64().unwrap_or(1);
            out.push(format!(
                "{:<34} {:>12} {:>10} {:>10}",
                format!("forward b={b}"),
                f(&e["s_per_image"]),
                f(&best(&["timm", "forward"], b as usize)),
                f(&if b == 1 {
                    best(&["reference", "forward"], 1)
                } else {
                    Value::Null
                }),
            ));
        }
    }
    if let Some(arr) = fb["forward_burn_ops"].as_array() {
        for e in arr {
            out.push(format!(
                "{:<34} {:>12} {:>10} {:>10}",
                format!("forward b={}, burn ops", e["batch"].as_u64().unwrap_or(1)),
                f(&e["s_per_image"]),
                "",
                "",
            ));
        }
    }
    out.push(format!(
        "{:<34} {:>12} {:>10} {:>10}",
        "forward+backward b=1",
        f(&fb["forward_backward"]["s_per_image"]),
        f(&best(&["timm", "forward_backward"], 1)),
        f(&best(&["reference", "forward_backward"], 1)),
    ));
    if let Some(ex) = fb["explainers"].as_object() {
        for (name, e) in ex {
            out.push(format!(
                "{:<34} {:>12} {:>10} {:>10}",
                name,
                f(&e["s_per_image"]),
                "",
                f(&best(&["reference", "explainers", name], 1)),
            ));
        }
    }
    if let Some(g) = v["goals"].as_object() {
        for (k, g) in g {
            out.push(format!(
                "goal {k}: {} ({})",
                f(&g["value"]),
                g["what"].as_str().unwrap_or("")
            ));
        }
    }
    for side in ["timm", "reference"] {
        let s = if side == "timm" {
            &py["timm"]
        } else {
            &py["reference"]
        };
        if let Some(reason) = s["reason"].as_str().or_else(|| {
            (py["status"] != "ran")
                .then(|| py["reason"].as_str())
                .flatten()
        }) {
            out.push(format!(
                "{side}: {} — {reason}",
                s["status"]
                    .as_str()
                    .or(py["status"].as_str())
                    .unwrap_or("absent")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> VitConfig {
        VitConfig {
            image_size: 32,
            patch_size: 8,
            hidden: 32,
            depth: 2,
            heads: 2,
            mlp_hidden: 64,
            num_classes: 10,
            ..VitConfig::vit_b16()
        }
    }

    #[test]
    fn tiny_bench_without_python_marks_pytorch_absent() {
        let opts = BenchOptions {
            model_name: "tiny".into(),
            model: tiny(),
            reps: 1,
            rounds: 1,
            forward_batches: vec![1, 2],
            methods: vec!["rollout".into(), "ours_h".into()],
            perturbation_samples: 1,
            perturbation_batch: 4,
            python: None,
            reference_repo: None,
            allocator: None,
        };
        let mut lines = Vec::new();
        let v = run_bench(&opts, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(v["schema"], "faithbench-bench/1");
        assert_eq!(v["pytorch"]["status"], "absent");
        let fwd = v["faithbench"]["forward"].as_array().unwrap();
        assert_eq!(fwd.len(), 2);
        assert_eq!(fwd[1]["batch"], 2);
        for t in fwd {
            assert!(t["s_per_image"].as_f64().unwrap() > 0.0);
            assert_eq!(t["runs_s"].as_array().unwrap().len(), 1);
        }
        let ex = &v["faithbench"]["explainers"];
        assert!(ex["ours_h"]["s_per_image"].as_f64().unwrap() > 0.0);
        assert!(ex["rollout"]["s_per_image"].as_f64().unwrap() > 0.0);
        // 1 sample × (clean + 9 levels) classifier images.
        assert_eq!(v["faithbench"]["perturbation"]["classifier_images"], 10);
        assert!(v["goals"]["ours_h_budget"]["value"].as_f64().unwrap() > 0.0);
        assert!(
            v["goals"]["perturbation_throughput"]["value"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(v["goals"]["forward_vs_timm"]["value"].is_null());
        assert!(v["ratios_time_faithbench_over_pytorch"]["forward_b1_over_timm"].is_null());
        assert!(lines.iter().any(|l| l.contains("forward b=1")));
        assert!(lines.iter().any(|l| l.contains("forward b=1, burn ops")));
        assert!(
            v["faithbench"]["forward_burn_ops"][0]["s_per_image"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }

    #[test]
    fn bad_options_are_input_errors() {
        let base = BenchOptions {
            model: tiny(),
            methods: vec![],
            perturbation_samples: 0,
            ..BenchOptions::default()
        };
        let bad = [
            BenchOptions {
                reps: 0,
                ..base.clone()
            },
            BenchOptions {
                methods: vec!["no_such_method".into()],
                ..base.clone()
            },
            BenchOptions {
                reference_repo: Some(PathBuf::from("/nonexistent/faithbench-ref")),
                ..base.clone()
            },
        ];
        for o in bad {
            let e = run_bench(&o, &mut |_| {}).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Input, "{e}");
        }
    }

    #[test]
    fn python_that_fails_is_recorded_not_fatal() {
        let opts = BenchOptions {
            model: tiny(),
            reps: 1,
            rounds: 1,
            forward_batches: vec![1],
            methods: vec![],
            perturbation_samples: 0,
            python: Some(PathBuf::from("/nonexistent/python-for-faithbench")),
            ..BenchOptions::default()
        };
        let v = run_bench(&opts, &mut |_| {}).unwrap();
        assert_eq!(v["pytorch"]["status"], "absent");
        assert!(v["pytorch"]["reason"]
            .as_str()
            .unwrap()
            .contains("python-for-faithbench"));
    }

    #[test]
    fn python_best_takes_the_minimum_over_rounds() {
        let r = |s: f64| json!({"timm": {"forward": [{"batch": 1, "s_per_image": s}, {"batch": 8, "s_per_image": s / 2.0}]}});
        let rounds = [r(0.5), r(0.3), json!({"status": "failed"})];
        assert_eq!(py_best(&rounds, &["timm", "forward"], 1), Some(0.3));
        assert_eq!(py_best(&rounds, &["timm", "forward"], 8), Some(0.15));
        assert_eq!(py_best(&rounds, &["timm", "forward"], 4), None);
        assert_eq!(py_best(&rounds, &["reference", "forward"], 1), None);
    }
}
