//! `faithbench merge`: joins the run folders of shards `0..N` of one config into the run a
//! single process would have made (see [`crate::shard`] for how shards split a run).

use std::path::{Path, PathBuf};

use faithbench_data::files::write_atomic;
use faithbench_eval::evaluator::record_id;

use crate::error::{Classify, Context, Error, Result};
use crate::lock::RunLock;
use crate::plan::{records_path, Plan};
use crate::records::{done_ids, read_records};
use crate::run::prepare_run_dir;
use crate::shard::{read_shard, shard_ids, SHARD_FILE};
use crate::summary::{write_reports, RunSummary};

/// What a merge produced.
pub struct MergeOutcome {
    /// The merged run folder.
    pub out_dir: PathBuf,
    /// The plan hash the shards share.
    pub config_hash: String,
    /// Number of shards merged.
    pub shards: usize,
    /// Record lines written.
    pub records: usize,
    /// The summary of the merged records.
    pub summary: RunSummary,
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(from) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).failure(|| format!("{}: cannot list", from.display())),
    };
    for entry in entries {
        let entry = entry.failure(|| format!("{}: cannot list", from.display()))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else if entry.file_name() != "index.html" {
            std::fs::create_dir_all(to).failure(|| format!("{}: cannot create", to.display()))?;
            std::fs::copy(&src, &dst)
                .failure(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// Merges the run folders of shards `0..N` of one config into `out`.
/// Bad shard sets (different plans, missing or repeated indices, incomplete or overlapping
/// shards) are input errors naming the folder and what is wrong.
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    fresh: bool,
    log: &mut dyn FnMut(&str),
) -> Result<MergeOutcome> {
    if dirs.is_empty() {
        return Err(Error::input("merge: no shard run folders given"));
    }
    let mut parts = Vec::new();
    for d in dirs {
        let plan = Plan::of_run(d)?;
        let shard = read_shard(d)?.ok_or_else(|| {
            Error::input(format!(
                "{}: not a shard's run folder (no {SHARD_FILE}); shards are run with --shard K/N",
                d.display()
            ))
        })?;
        parts.push((d.clone(), plan, shard));
    }
    let (d0, p0, s0) = &parts[0];
    for (d, p, s) in &parts[1..] {
        if p.config_hash != p0.config_hash {
            return Err(Error::input(format!(
                "{} (plan {}) and {} (plan {}) are shards of different plans",
                d0.display(),
                &p0.config_hash[..12],
                d.display(),
                &p.config_hash[..12]
            )));
        }
        if s.count != s0.count {
            return Err(Error::input(format!(
                "{} is shard {s} and {} shard {s0}: different shard counts",
                d.display(),
                d0.display()
            )));
        }
    }
    let n = s0.count;
    let mut seen: Vec<Option<&Path>> = vec![None; n];
    for (d, _, s) in &parts {
        if let Some(prev) = seen[s.index] {
            return Err(Error::input(format!(
                "{} and {} are both shard {s}",
                prev.display(),
                d.display()
            )));
        }
        seen[s.index] = Some(d);
    }
    let missing: Vec<String> = (0..n)
        .filter(|&k| seen[k].is_none())
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::input(format!(
            "merge: shard(s) {} of plan {} are missing",
            missing.join(", "),
            &p0.config_hash[..12]
        )));
    }
    // every shard complete and inside its own chunks
    let batch = p0.plan.batch_size;
    for (d, plan, s) in &parts {
        for e in &plan.plan.evaluators {
            let ds = plan.dataset(&e.dataset).ok_or_else(|| {
                Error::input(format!(
                    "{}: evaluator `{}` has no dataset",
                    d.display(),
                    e.name
                ))
            })?;
            let want = shard_ids(ds, batch, Some(*s));
            for (_, x) in plan.explainers_for(e) {
                let p = records_path(d, e, x);
                let have = done_ids(&p)?;
                let lacking = want.difference(&have).count();
                if lacking > 0 {
                    return Err(Error::input(format!(
                        "{}: shard {s} is incomplete: {} × {} has {} of its {} records; rerun that shard \
                         (faithbench run CONFIG --shard {s} --out {}) to finish it",
                        d.display(),
                        e.name,
                        x.label,
                        want.len() - lacking,
                        want.len(),
                        d.display()
                    )));
                }
                if let Some(extra) = have.difference(&want).next() {
                    return Err(Error::input(format!(
                        "{}: shard {s} holds a record of sample `{extra}` ({} × {}), which belongs to another shard; \
                         the shards are not disjoint",
                        p.display(),
                        e.name,
                        x.label
                    )));
                }
            }
        }
    }
    // write the merged run
    let mut plan = p0.clone();
    plan.locations.out_dir = out.to_path_buf();
    std::fs::create_dir_all(out).failure(|| format!("{}: cannot create", out.display()))?;
    let _lock = RunLock::acquire(out, log)?;
    prepare_run_dir(&plan, None, fresh, log)?;
    let mut written = 0;
    for e in &plan.plan.evaluators {
        for (_, x) in plan.explainers_for(e) {
            let mut lines: Vec<(String, String)> = Vec::new();
            for (d, _, _) in &parts {
                for l in read_records(&records_path(d, e, x), None)? {
                    let id = record_id(&l).unwrap_or_default();
                    lines.push((id, l));
                }
            }
            lines.sort();
            let mut buf = String::new();
            for (_, l) in &lines {
                buf.push_str(l);
                buf.push('\n');
            }
            written += lines.len();
            write_atomic(&records_path(out, e, x), buf.as_bytes())?;
        }
    }
    for (d, _, _) in &parts {
        copy_tree(&d.join("gallery"), &out.join("gallery"))?;
    }
    let summary = write_reports(&plan, out).context(|| format!("summarising {}", out.display()))?;
    crate::gallery::write_index(&plan)?;
    if !summary.incomplete.is_empty() {
        return Err(Error::failure(format!(
            "{}: the merged records are incomplete ({} pairs)",
            out.display(),
            summary.incomplete.len()
        )));
    }
    let manifest = serde_json::json!({
        "faithbench_version": env!("CARGO_PKG_VERSION"),
        "status": "merged",
        "config_hash": plan.config_hash,
        "shards": parts.iter().map(|(d, _, s)| serde_json::json!({"shard": s.to_string(), "run_dir": d})).collect::<Vec<_>>(),
        "records_written": written,
    });
    write_atomic(
        &out.join("manifest.json"),
        crate::util::pretty_json(&manifest)?.as_bytes(),
    )?;
    log(&format!(
        "merged {n} shards of plan {} into {} ({written} records)",
        &plan.config_hash[..12],
        out.display()
    ));
    Ok(MergeOutcome {
        out_dir: out.to_path_buf(),
        config_hash: plan.config_hash.clone(),
        shards: n,
        records: written,
        summary,
    })
}
