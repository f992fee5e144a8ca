//! `faithbench`: the command line of the faithbench benchmark (re-implementation of "Beyond
//! Intuition: Rethinking Token Attributions inside Transformers" and its baselines).
//!
//! This binary only parses flags ([`Cli`]) and prints: every command is a call into
//! `faithbench_pipeline` (settings → plan → execution → reports) or `faithbench_train`.
//!
//! Exit status: 0 success; 1 failure; 2 bad input or usage; 3 a regression found by `check`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use faithbench_models::preprocess::ResizeMode;
use faithbench_models::Layout;
use faithbench_pipeline::{Error, ErrorKind};

#[derive(Parser, Debug)]
#[command(
    name = "faithbench",
    version,
    about = "Faithfulness benchmark of token attributions for transformers (Ours-H/Ours-T and baselines)",
    after_help = EXIT_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a benchmark config: explain, evaluate, summarise (resumable).
    #[command(long_about = RUN_HELP)]
    Run(RunArgs),
    /// Join the run folders of shards 0..N of one config (`run --shard K/N`) into one run folder
    /// with the summary an unsharded run writes; checks that the shards are complete, disjoint
    /// and of the same plan.
    Merge {
        /// The shards' run folders (all N of them, any order).
        #[arg(required = true)]
        run_dirs: Vec<PathBuf>,
        /// The merged run folder.
        #[arg(long)]
        out: PathBuf,
        /// Discard a previous merge of another plan in OUT.
        #[arg(long)]
        fresh: bool,
        /// No info lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Rebuild run folders' summaries, plots and gallery indexes from their records, and write
    /// their leaderboard (leaderboard.md, .html, .json): explainers ranked per metric with CIs
    /// and corrected paired bootstrap tests.
    #[command(long_about = REPORT_HELP)]
    Report(ReportArgs),
    /// Compare a summary.csv with a baseline; exit 3 when a score moved past its tolerance.
    #[command(long_about = CHECK_HELP)]
    Check(CheckArgs),
    /// Two run folders side by side, with paired differences and bootstrap CIs from their records.
    Compare {
        /// Run folder A.
        run_a: PathBuf,
        /// Run folder B.
        run_b: PathBuf,
        /// Also write the report to this Markdown file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Explain one image or text with one method; writes the token map (.npy) and an overlay / HTML view.
    Explain(ExplainArgs),
    /// Time the ViT forward, forward+backward, each explainer and the perturbation evaluator on
    /// the CPU (random weights) and, with a Python that has torch and timm, timm (and the paper's
    /// reference code, given a clone) side by side; writes JSON.
    #[command(long_about = BENCH_HELP)]
    Bench(BenchArgs),
    /// List methods (with parameters and defaults), evaluators, datasets and model presets.
    List {
        /// Print the registry as Markdown (the contents of docs/registry.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Write the faithbench-shapes evaluation split (ImageNet folder layout + mask PNGs).
    Synth {
        /// Output folder (the shipped copy is datasets/shapes).
        #[arg(long, default_value = "datasets/shapes")]
        out: PathBuf,
        /// Number of samples (indices 0..n of the evaluation seed).
        #[arg(long, default_value_t = 250)]
        n: usize,
    },
    /// Train the shipped faithbench-shapes ViTs (CLS and global-pooling) from scratch; fails if
    /// the test accuracy is below 95 %.
    TrainShapes {
        /// Output folder; models go to OUT/shapes_vit_cls and OUT/shapes_vit_gap.
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Override the number of optimiser steps (default: the shipped recipe).
        #[arg(long)]
        steps: Option<usize>,
        /// Train only this pooling (`cls` or `avg`).
        #[arg(long)]
        pool: Option<String>,
    },
    /// Train the shipped faithbench-shapes CLIP (image and text towers) from scratch on
    /// captioned shapes; fails if its zero-shot accuracy is below 90 %.
    TrainShapesClip {
        /// Output folder (the shipped copy is models/shapes_clip).
        #[arg(long, default_value = "models/shapes_clip")]
        out: PathBuf,
        /// Override the number of optimiser steps (default: the shipped recipe).
        #[arg(long)]
        steps: Option<usize>,
    },
    /// Write faithbench-planted, the generated ERASER-format text dataset with known rationales
    /// (docs/ + test.jsonl + val.jsonl).
    SynthText {
        /// Output folder (the shipped copy is datasets/planted).
        #[arg(long, default_value = "datasets/planted")]
        out: PathBuf,
        /// Test documents.
        #[arg(long, default_value_t = 200)]
        n_test: usize,
        /// Validation documents.
        #[arg(long, default_value_t = 100)]
        n_val: usize,
        /// Also write this many training documents (training generates them on the fly).
        #[arg(long, default_value_t = 0)]
        n_train: usize,
    },
    /// Train the shipped faithbench-planted BERT from scratch (Hugging Face layout, with
    /// vocab.txt); fails if the test accuracy is below 95 %.
    TrainPlanted {
        /// Output folder; the model goes to OUT/planted_bert.
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Override the number of optimiser steps (default: the shipped recipe).
        #[arg(long)]
        steps: Option<usize>,
    },
}

const BENCH_HELP: &str = "Time faithbench on the CPU, with PyTorch side by side; writes JSON.

Measures, with random weights and seconds per image (minimum over REPS x ROUNDS runs after a
warm-up): the plain forward (batch 1 and 8), the forward on the autodiff device, forward +
backward to every attention map, each explainer (paper defaults, batch 1), and the image
perturbation evaluator's images/s against the plain forward's. When a Python is given (--python,
else $FAITHBENCH_PYTHON) it runs the embedded scripts/bench_reference.py: timm's
vit_base_patch16_224, and with --reference-repo the paper's own ViT code from a clone of it. The
faithbench and PyTorch blocks alternate ROUNDS times so both see the same load. Without Python
the JSON marks the PyTorch side absent. See docs/speed.md.";

#[derive(Args, Debug)]
struct BenchArgs {
    /// JSON output.
    #[arg(long, default_value = "results/bench/speed.json")]
    out: PathBuf,
    /// Python interpreter with torch and timm (default: $FAITHBENCH_PYTHON; none: faithbench only).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Root of a clone of the paper's code (jiaminchen-1031/transformerinterp) for the reference
    /// timings; without it the PyTorch side times timm only.
    #[arg(long)]
    reference_repo: Option<PathBuf>,
    /// Architecture preset (random weights).
    #[arg(long, default_value = "vit_b16")]
    model: String,
    /// Override the number of blocks (a quick smoke test: --depth 2).
    #[arg(long)]
    depth: Option<usize>,
    /// Timed runs per measurement and round.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Alternations of the faithbench and PyTorch blocks.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Explainers to time, comma-separated (default: all eight of the paper's table; `none`).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// Samples for the perturbation evaluator (10 classifier images each; 0 skips it).
    #[arg(long, default_value_t = 2)]
    perturbation_samples: usize,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
}

fn bench_cmd(a: BenchArgs) -> ExitCode {
    use faithbench_pipeline::bench;
    let Some(mut model) = faithbench_models::vit::VitConfig::preset(&a.model) else {
        eprintln!(
            "error: unknown model preset `{}` (vit_b16, vit_l16, vit_mae_b16)",
            a.model
        );
        return ExitCode::from(EXIT_INPUT);
    };
    if let Some(d) = a.depth {
        model.depth = d;
    }
    let methods = match a.methods {
        None => bench::DEFAULT_METHODS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Some(m) if m.iter().any(|x| x == "none") => vec![],
        Some(m) => m,
    };
    let opts = bench::BenchOptions {
        model_name: match a.depth {
            Some(d) => format!("{} (depth {d})", a.model),
            None => a.model.clone(),
        },
        model,
        reps: a.reps,
        rounds: a.rounds,
        methods,
        perturbation_samples: a.perturbation_samples,
        python: bench::resolve_python(a.python),
        reference_repo: a.reference_repo,
        allocator: Some(allocator_note().to_string()),
        ..Default::default()
    };
    let quiet = a.quiet;
    let mut log = |m: &str| {
        if !quiet {
            eprintln!("faithbench: {m}");
        }
    };
    match bench::run_bench(&opts, &mut log).and_then(|v| bench::write_json(&a.out, &v).map(|_| v)) {
        Ok(v) => {
            for line in bench::summary_lines(&v) {
                println!("{line}");
            }
            println!("{}", a.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

const RUN_HELP: &str = "Run a benchmark config: explain, evaluate, summarise.

CONFIG is a TOML file (see docs/config.md and `faithbench list`). Paths in it may use ${VAR}
(environment variable; unset is an error naming it), ${CONFIG_DIR} (the config file's folder) and
$$ (a literal $). After expansion, relative paths are relative to the CURRENT WORKING DIRECTORY —
run the shipped configs from the repository root.

The run folder (run.out_dir, default results/<name>; --out overrides) receives
resolved_config.json, records/<evaluator>__<explainer>.jsonl, cache/, summary.csv, summary.md,
plots/, gallery/ and manifest.json. Rerunning resumes: samples already in the records are
skipped, and the summary is byte-identical to an uninterrupted run's. A run folder holding a
different plan is refused unless --fresh is given.";

const REPORT_HELP: &str =
    "Rebuild run folders' reports from their records and write their leaderboard.

Each RUN_DIR's summary.csv, summary.md, plots and gallery index are rebuilt from its records (as
before). Then one leaderboard of all the runs is written: leaderboard.md, leaderboard.html (one
self-contained page: inline CSS, no scripts, the runs' plots and overlay galleries by relative
paths, copied under leaderboard_files/ when the page is not in the run folder) and
leaderboard.json. Per evaluator and metric, the explainers of each run are ranked with their
summary CIs; every pair of them is tested with the evaluator's paired bootstrap (as in `compare`)
on the samples both have, paired by sample id; the p-values of a table and run are corrected as
one family (--correction) and a difference is significant below --alpha. Explainers are compared
only within a run. docs/report.md describes the page.

One run without --out writes into the run folder; several runs need --out.";

const CHECK_HELP: &str = "Compare a candidate summary.csv with a baseline summary.csv.

Prints the diff as Markdown. Exit status 0 when every baseline score is present and within its
tolerance, 3 when a score moved past its tolerance or is missing, 2 on bad input (unreadable or
malformed CSV, bad --tol), 1 on any other failure.

Default absolute tolerances come from the evaluators (`faithbench list`): auc, clean_accuracy,
accuracy@*, pixel_accuracy, miou, map, mf1: 0.005; any other metric: 1e-6. --tol-abs X replaces
all defaults by X; --tol METRIC=X (repeatable, METRIC may end in * to match a prefix, e.g.
'accuracy@*=0.01') overrides one metric.

--against-published TOL (without --baseline) holds the candidate to the published values its run
wired in (configs/paper/published.toml): exit 3 when a cell is further than TOL from its
published value, in the summary's unit.";

const EXIT_HELP: &str =
    "Exit status: 0 success; 1 failure (a write failed, a model produced non-finite values, an
internal error); 2 bad input or usage (a config, checkpoint, dataset, map or run folder that is
missing, malformed or inconsistent; bad flags); 3 a regression found by `check`.";

/// Exit status of a failure.
const EXIT_FAILURE: u8 = 1;
/// Exit status of bad input or usage.
const EXIT_INPUT: u8 = 2;
/// Exit status of `check` finding a regression.
const EXIT_REGRESSION: u8 = 3;
/// Test hook: stop (as if killed) once this many records were appended, exiting with
/// [`STOPPED_EXIT_CODE`].
const FAIL_AFTER_ENV: &str = "FAITHBENCH_FAIL_AFTER";
/// Exit status of the [`FAIL_AFTER_ENV`] hook.
const STOPPED_EXIT_CODE: u8 = 75;

#[derive(Args, Debug)]
struct RunArgs {
    /// The run config (TOML).
    config: PathBuf,
    /// Run folder (overrides run.out_dir).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Evaluate at most N samples per dataset (on top of the config's `limit`).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Device: cpu (default); wgpu, wgpu-cpu / cuda in builds with those features (docs/gpu.md).
    #[arg(long)]
    device: Option<String>,
    /// No progress bars or info lines (bars are also off when stdout is not a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// Discard records, summary, plots and gallery of a run folder made from another plan (the
    /// explanation cache is kept: its keys are content hashes).
    #[arg(long)]
    fresh: bool,
    /// Evaluate only shard K of N (0-based, e.g. 0/4): every N-th chunk of `batch_size` samples
    /// of every dataset, into its own run folder; join the shards with `faithbench merge`
    /// (docs/scaling.md).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Run folders (each holds resolved_config.json and records/).
    #[arg(required = true, value_name = "RUN_DIR")]
    run_dirs: Vec<PathBuf>,
    /// Folder of the leaderboard (default: the run folder; required with several runs).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Family-wise significance level of the pairwise tests.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Multiple-comparison correction within each table's family of tests.
    #[arg(long, default_value = "holm", value_parser = ["holm", "bonferroni", "none"])]
    correction: String,
    /// Bootstrap resamples of the pairwise tests (the CIs are the runs' summaries).
    #[arg(long, default_value_t = faithbench_pipeline::leaderboard::DEFAULT_RESAMPLES)]
    resamples: usize,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The baseline summary.csv.
    #[arg(long, required_unless_present = "against_published")]
    baseline: Option<PathBuf>,
    /// Instead of a baseline, hold the candidate's cells to their published values (a run of a
    /// config that wires `published` tables): exit 3 when a cell is further than TOL from its
    /// published value (TOL in the summary's unit, e.g. 0.01 = one point of a fractional AUC).
    #[arg(long, value_name = "TOL", conflicts_with_all = ["baseline", "tol_abs", "tol"])]
    against_published: Option<f64>,
    /// The candidate summary.csv.
    candidate: PathBuf,
    /// Absolute tolerance for every metric (replaces the per-metric defaults).
    #[arg(long, value_name = "X")]
    tol_abs: Option<f64>,
    /// Tolerance for one metric, METRIC=X (repeatable; METRIC may end in `*`).
    #[arg(long, value_name = "METRIC=X")]
    tol: Vec<String>,
    /// Also write the diff to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["image", "text"])))]
struct ExplainArgs {
    /// A model folder (faithbench.json + weights) or a weights file (then --preset).
    #[arg(long)]
    model: PathBuf,
    /// Architecture of a weights file (`faithbench list` shows the presets).
    #[arg(long)]
    preset: Option<String>,
    /// Key layout of a weights file: timm, hf_vit, openai_clip, hf_clip (default: the preset's).
    #[arg(long, value_parser = parse_layout)]
    layout: Option<Layout>,
    /// An image file (ViT and CLIP models).
    #[arg(long)]
    image: Option<PathBuf>,
    /// A text: the input of a BERT (one), or a CLIP's prompts (repeatable; with --image).
    #[arg(long)]
    text: Vec<String>,
    /// CLIP: explain the image tower (the image for one prompt, default) or the text tower
    /// (each prompt's tokens for the image).
    #[arg(long, value_parser = parse_tower, default_value = "image")]
    tower: faithbench_pipeline::Tower,
    /// The method (see `faithbench list`).
    #[arg(long)]
    method: String,
    /// A method parameter KEY=VALUE (repeatable; VALUE is a TOML literal, e.g. start_layer=3).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// The class to explain, or the index of a CLIP prompt (default: the model's prediction).
    #[arg(long)]
    class: Option<usize>,
    /// Image resize pipeline: squash (default), shorter_crop, clip_bicubic.
    #[arg(long, value_parser = parse_resize, default_value = "squash")]
    resize: ResizeMode,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Device: cpu (default); wgpu, wgpu-cpu / cuda in builds with those features (docs/gpu.md).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Float precision of every tensor: f32 (default) or f64.
    #[arg(long, value_parser = parse_precision, default_value = "f32")]
    precision: faithbench_models::precision::Precision,
}

fn parse_precision(s: &str) -> Result<faithbench_models::precision::Precision, String> {
    match s {
        "f32" => Ok(faithbench_models::precision::Precision::F32),
        "f64" => Ok(faithbench_models::precision::Precision::F64),
        other => Err(format!("unknown precision `{other}` (f32 or f64)")),
    }
}

fn parse_layout(s: &str) -> Result<Layout, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown layout `{s}` (timm, hf_vit, hf_bert, openai_clip, hf_clip)"))
}

fn parse_tower(s: &str) -> Result<faithbench_pipeline::Tower, String> {
    match s {
        "image" => Ok(faithbench_pipeline::Tower::Image),
        "text" => Ok(faithbench_pipeline::Tower::Text),
        other => Err(format!("unknown tower `{other}` (image, text)")),
    }
}

fn parse_resize(s: &str) -> Result<ResizeMode, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown resize mode `{s}` (squash, shorter_crop, clip_bicubic)"))
}

/// Prints an error and its causes (each once: library errors often repeat their source).
fn print_error(e: &dyn std::error::Error) {
    eprintln!("error: {e}");
    let mut shown = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !shown.contains(&s) {
            eprintln!("  caused by: {s}");
        }
        shown = s;
        cause = c.source();
    }
}

/// The exit status of an error, printed.
fn fail(e: &Error) -> ExitCode {
    print_error(e);
    ExitCode::from(match e.kind() {
        ErrorKind::Input => EXIT_INPUT,
        ErrorKind::Failure => EXIT_FAILURE,
    })
}

fn write_out(path: &Option<PathBuf>, text: &str) -> Result<(), Error> {
    if let Some(p) = path {
        std::fs::write(p, text)
            .map_err(|e| Error::failure(format!("{}: cannot write: {e}", p.display())))?;
    }
    Ok(())
}

fn run_cmd(a: RunArgs) -> ExitCode {
    let stop_after_records = match std::env::var(FAIL_AFTER_ENV) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                eprintln!("error: {FAIL_AFTER_ENV}={v:?} is not a number");
                return ExitCode::from(EXIT_INPUT);
            }
        },
        Err(_) => None,
    };
    let quiet = a.quiet;
    let shard = match a
        .shard
        .as_deref()
        .map(faithbench_pipeline::Shard::parse)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let opts = faithbench_pipeline::RunOptions {
        shard,
        overrides: faithbench_pipeline::Overrides {
            out_dir: a.out,
            limit: a.limit,
            device: a.device,
        },
        fresh: a.fresh,
        progress: !quiet && std::io::stdout().is_terminal(),
        stop_after_records,
        command: std::env::args().collect(),
    };
    let mut log = |m: &str| {
        if !quiet {
            eprintln!("faithbench: {m}");
        }
    };
    match faithbench_pipeline::run(&a.config, &opts, &mut log) {
        Ok(o) if o.stopped => {
            eprintln!(
                "faithbench: {FAIL_AFTER_ENV}={} reached after {} records; exiting with status {STOPPED_EXIT_CODE}",
                stop_after_records.unwrap_or_default(),
                o.records_written
            );
            ExitCode::from(STOPPED_EXIT_CODE)
        }
        Ok(o) if o.shard.is_some() => {
            log(&format!(
                "shard done in {:.1} s: {} ({} new records)",
                o.seconds,
                o.out_dir.display(),
                o.records_written
            ));
            ExitCode::SUCCESS
        }
        Ok(o) => {
            log(&format!(
                "done in {:.1} s: {} ({} new records){}",
                o.seconds,
                o.out_dir.join("summary.md").display(),
                o.records_written,
                o.gallery
                    .map(|p| format!(", gallery {}", p.display()))
                    .unwrap_or_default()
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Keeps freed tensor buffers inside the process (glibc only): burn allocates a fresh buffer
/// for every op's output, and with glibc's defaults the large ones are mmap-ed and returned
/// on free, so every op pays page faults and TLB flushes on new memory (about a fifth of a
/// ViT-B/16 forward's CPU time; docs/speed.md). Raising the mmap and trim thresholds makes
/// the buffers come back from the heap instead. Set before any allocation of note.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called once, before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// What [`tune_allocator`] did, for the benchmark JSON.
fn allocator_note() -> &'static str {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        "glibc malloc: mmap threshold 32 MiB, trim threshold 1 GiB, top pad 64 MiB (faithbench binary)"
    } else {
        "system allocator defaults"
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(a) => run_cmd(a),
        Command::Bench(a) => bench_cmd(a),
        Command::Merge {
            run_dirs,
            out,
            fresh,
            quiet,
        } => {
            let mut log = |m: &str| {
                if !quiet {
                    eprintln!("faithbench: {m}");
                }
            };
            match faithbench_pipeline::merge(&run_dirs, &out, fresh, &mut log) {
                Ok(o) => {
                    if !quiet {
                        println!("{}", o.out_dir.join("summary.md").display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Report(a) => {
            let Some(correction) =
                faithbench_pipeline::leaderboard::Correction::parse(&a.correction)
            else {
                return fail(&Error::input(format!(
                    "unknown --correction {}",
                    a.correction
                )));
            };
            let opts = faithbench_pipeline::leaderboard::ReportOptions {
                out: a.out,
                alpha: a.alpha,
                correction,
                resamples: a.resamples,
            };
            match faithbench_pipeline::leaderboard::report(&a.run_dirs, &opts) {
                Ok(o) => {
                    for (dir, s) in &o.runs {
                        for (e, x, have, want) in &s.incomplete {
                            eprintln!(
                                "warning: {}: {e} × {x}: {have} of {want} samples have records",
                                dir.display()
                            );
                        }
                        println!("{}", dir.join("summary.md").display());
                    }
                    println!("{}", o.markdown.display());
                    println!("{}", o.html.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Check(a) => {
            let report = match (&a.baseline, a.against_published) {
                (_, Some(tol)) => {
                    faithbench_pipeline::check::check_against_published(&a.candidate, tol)
                }
                (Some(b), None) => faithbench_pipeline::check(b, &a.candidate, a.tol_abs, &a.tol),
                (None, None) => Err(faithbench_pipeline::Error::input(
                    "check needs --baseline or --against-published",
                )),
            };
            match report.and_then(|r| write_out(&a.out, &r.markdown).map(|_| r)) {
                Ok(r) => {
                    print!("{}", r.markdown);
                    if r.passed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(EXIT_REGRESSION)
                    }
                }
                Err(e) => fail(&e),
            }
        }
        Command::Compare { run_a, run_b, out } => {
            match faithbench_pipeline::compare(&run_a, &run_b)
                .and_then(|md| write_out(&out, &md).map(|_| md))
            {
                Ok(md) => {
                    print!("{md}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Explain(a) => {
            let method = match faithbench_pipeline::explain::method_config(&a.method, &a.params) {
                Ok(m) => m,
                Err(e) => return fail(&e),
            };
            let req = faithbench_pipeline::ExplainRequest {
                model: a.model,
                preset: a.preset,
                layout: a.layout,
                image: a.image,
                texts: a.text,
                tower: a.tower,
                method,
                class: a.class,
                resize: a.resize,
                out: a.out,
                device: a.device,
                precision: a.precision,
            };
            match faithbench_pipeline::explain(&req) {
                Ok(files) => {
                    for f in files {
                        println!("{}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::List { markdown } => {
            if markdown {
                print!("{}", faithbench_pipeline::registry_markdown());
            } else {
                print!("{}", faithbench_pipeline::listing());
            }
            ExitCode::SUCCESS
        }
        Command::Synth { out, n } => match faithbench_train::write_shapes_dataset(&out, n) {
            Ok(()) => {
                println!("wrote {n} samples to {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                print_error(&e);
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::TrainShapes { out, steps, pool } => train_shapes(&out, steps, pool.as_deref()),
        Command::TrainShapesClip { out, steps } => {
            let mut cfg = faithbench_train::ShapesClipTrainConfig::shipped();
            if let Some(n) = steps {
                cfg.steps = n;
            }
            let res = faithbench_train::train_shapes_clip(&cfg, &out, |l| {
                eprintln!(
                    "shapes_clip: step {:>5}  loss {:.4}  lr {:.2e}  {:.0} s",
                    l.step, l.loss, l.lr, l.seconds
                )
            });
            match res {
                Ok(r) => {
                    println!(
                        "shapes_clip: zero-shot accuracy {:.2} % on {} samples ({:.0} s) -> {}",
                        100.0 * r.test_accuracy,
                        r.test_samples,
                        r.seconds,
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    print_error(&e);
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
        Command::SynthText {
            out,
            n_test,
            n_val,
            n_train,
        } => {
            use faithbench_data::planted::{write_planted, PlantedSplit, PLANTED_SEED};
            let splits = [
                (PlantedSplit::Test, n_test),
                (PlantedSplit::Val, n_val),
                (PlantedSplit::Train, n_train),
            ];
            match write_planted(&out, PLANTED_SEED, &splits) {
                Ok(()) => {
                    println!(
                        "wrote {n_test} test, {n_val} val and {n_train} train documents to {}",
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    print_error(&e);
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
        Command::TrainPlanted { out, steps } => {
            let mut cfg = faithbench_train::PlantedTrainConfig::shipped();
            if let Some(s) = steps {
                cfg.steps = s;
            }
            let dir = out.join("planted_bert");
            let res = faithbench_train::train_planted_bert(&cfg, &dir, |l| {
                eprintln!(
                    "planted_bert: step {:>5}  loss {:.4}  lr {:.2e}  {:.0} s",
                    l.step, l.loss, l.lr, l.seconds
                )
            });
            match res {
                Ok(r) => {
                    println!(
                        "planted_bert: test accuracy {:.2} % on {} documents, val {:.2} % on {} ({:.0} s) -> {}",
                        100.0 * r.test_accuracy,
                        r.test_samples,
                        100.0 * r.val_accuracy,
                        r.val_samples,
                        r.seconds,
                        dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    print_error(&e);
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}

fn train_shapes(out: &std::path::Path, steps: Option<usize>, pool: Option<&str>) -> ExitCode {
    use faithbench_models::vit::Pool;
    let pools: Vec<(Pool, &str)> = match pool {
        None => vec![(Pool::Cls, "shapes_vit_cls"), (Pool::Avg, "shapes_vit_gap")],
        Some("cls") => vec![(Pool::Cls, "shapes_vit_cls")],
        Some("avg") => vec![(Pool::Avg, "shapes_vit_gap")],
        Some(other) => {
            eprintln!("error: --pool must be `cls` or `avg`, got `{other}`");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    for (p, name) in pools {
        let mut cfg = faithbench_train::ShapesTrainConfig::shipped(p);
        if let Some(s) = steps {
            cfg.steps = s;
        }
        let dir = out.join(name);
        let res = faithbench_train::train_shapes_vit(&cfg, &dir, |l| {
            eprintln!(
                "{name}: step {:>5}  loss {:.4}  lr {:.2e}  {:.0} s",
                l.step, l.loss, l.lr, l.seconds
            )
        });
        match res {
            Ok(r) => println!(
                "{name}: test accuracy {:.2} % on {} samples ({:.0} s) -> {}",
                100.0 * r.test_accuracy,
                r.test_samples,
                r.seconds,
                dir.display()
            ),
            Err(e) => {
                print_error(&e);
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    ExitCode::SUCCESS
}
