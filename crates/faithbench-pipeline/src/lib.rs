//! faithbench-pipeline: the faithbench benchmark as a library.
//!
//! ```text
//! config (TOML) ──► Settings ──► Plan (resolved, hashed) ──► execute ──► records ──► summaries
//!   config.rs       (validated)    plan.rs                    execute.rs   records.rs  summary.rs
//!                                                             + modality/{image,text}.rs
//! ```
//!
//! * [`config::Settings`] — a run config parsed and checked: unknown keys, unknown kinds,
//!   dangling references and incompatible evaluator/dataset pairs are errors naming the file;
//!   nothing but the config is read.
//! * [`plan::resolve`] — the [`plan::Plan`]: model architectures, weights and tokenizer hashes,
//!   explainer parameters with their per-family defaults, each dataset's samples and content
//!   fingerprint, evaluator settings; hashed into `config_hash`. [`plan::Plan::evaluator`]
//!   rebuilds an evaluator from its registry entry.
//! * [`run::run`] — executes a plan in a run folder: resumable (records are appended per chunk,
//!   a rerun skips what is done and gives a byte-identical summary), cached (token maps keyed by
//!   content hash), with a manifest, galleries and reports.
//! * [`leaderboard::report`] — `faithbench report`: rebuilds run folders' summaries from their
//!   records and writes their leaderboard (ranks, paired tests, corrected p-values; HTML page).
//! * [`run::report`], [`check::check`], [`compare::compare`], [`explain::explain`],
//!   [`listing::listing`] — the other commands of the `faithbench` binary, which only parses
//!   flags and prints.
//!
//! Extension points are registries in the lower crates: explainers
//! (`faithbench_explain::METHODS`), evaluators (`faithbench_eval::EVALUATORS`), dataset kinds
//! (`faithbench_data::DATASETS`), model presets (`faithbench_models::MODEL_PRESETS`);
//! `docs/extending.md` lists the files each kind of extension touches.
//!
//! Errors ([`Error`]) are bad input (exit 2) or failures (exit 1).
//!
//! # Example
//!
//! ```no_run
//! use faithbench_pipeline::{run, RunOptions};
//!
//! let outcome = run(
//!     std::path::Path::new("configs/demo.toml"),
//!     &RunOptions::default(),
//!     &mut |line| eprintln!("{line}"),
//! )?;
//! println!("summary: {}", outcome.out_dir.join("summary.csv").display());
//! # Ok::<(), faithbench_pipeline::Error>(())
//! ```
//!
//! `examples/run_config.rs` runs a config from code and reads its summary back.

pub mod bench;
pub mod cache;
pub mod check;
pub mod classifier;
pub mod compare;
pub mod config;
pub mod error;
pub mod execute;
pub mod explain;
pub mod gallery;
pub mod leaderboard;
pub mod listing;
pub mod lock;
pub mod merge;
pub mod modality;
pub mod plan;
pub mod published;
pub mod records;
pub mod run;
pub mod shard;
pub mod summary;
pub mod symmetric;
pub mod util;

pub use check::{check, CheckReport};
pub use compare::compare;
pub use config::{ConfigError, Settings};
pub use error::{Error, ErrorKind, Result};
pub use explain::{explain, ExplainRequest, Tower};
pub use listing::{listing, registry_markdown};
pub use merge::{merge, MergeOutcome};
pub use plan::{resolve, Overrides, Plan};
pub use run::{report, run, run_settings, RunOptions, RunOutcome};
pub use shard::Shard;
