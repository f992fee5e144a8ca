//! Runs a faithbench config from Rust and reads its results back.
//!
//! ```sh
//! cargo run --release -p faithbench-pipeline --example run_config -- configs/demo.toml 20
//! ```
//! (arguments: the config, default `configs/demo.toml`; at most N samples per dataset, default
//! 20). The run folder is a temporary folder; the example prints each evaluator's AUC / mIoU /
//! token-F1 rows and the paths of the written files.

use std::path::PathBuf;

use faithbench_pipeline::config::Settings;
use faithbench_pipeline::plan::{Overrides, Plan};
use faithbench_pipeline::summary::summarise_run;
use faithbench_pipeline::{run_settings, RunOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let config = PathBuf::from(args.next().unwrap_or_else(|| "configs/demo.toml".into()));
    let limit: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);

    // 1. the config, validated (nothing but the file is read)
    let settings = Settings::load(&config)?;
    println!(
        "{}: {} models, {} datasets, {} explainers, {} evaluators",
        config.display(),
        settings.models.len(),
        settings.datasets.len(),
        settings.explainers.len(),
        settings.evaluators.len()
    );

    // 2. run it into a temporary folder, at most `limit` samples per dataset
    let out = std::env::temp_dir().join(format!("faithbench-example-{}", std::process::id()));
    let opts = RunOptions {
        overrides: Overrides {
            out_dir: Some(out.clone()),
            limit: Some(limit),
            device: None,
        },
        ..Default::default()
    };
    let outcome = run_settings(&settings, &opts, &mut |line| eprintln!("{line}"))?;
    println!(
        "plan {} → {} ({} records, {:.1} s)",
        &outcome.config_hash[..12],
        outcome.out_dir.display(),
        outcome.records_written,
        outcome.seconds
    );

    // 3. the summary, recomputed from the records
    let plan = Plan::of_run(&outcome.out_dir)?;
    let summary = summarise_run(&plan, &outcome.out_dir)?;
    for r in summary
        .rows
        .iter()
        .filter(|r| ["auc", "miou", "token_f1@02"].contains(&r.metric.as_str()))
    {
        println!(
            "{:<28} {:<28} {:<12} {:.4} [{:.4}, {:.4}] n = {}",
            r.evaluator, r.explainer, r.metric, r.value, r.ci_low, r.ci_high, r.n
        );
    }
    println!("summary: {}", outcome.out_dir.join("summary.csv").display());
    Ok(())
}
