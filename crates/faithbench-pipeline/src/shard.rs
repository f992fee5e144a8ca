//! Sharded runs: `faithbench run CONFIG --shard K/N` evaluates a deterministic 1/N of every
//! dataset, `faithbench merge DIRS… --out DIR` joins the shards into the run a single process
//! would have made.
//!
//! A dataset is walked in chunks of `batch_size` plan positions (the run loop's unit, so every
//! map is computed on the same chunk as in an unsharded run); shard `K` of `N` takes the chunks
//! whose index `c` has `c mod N = K`. Shards of one config share its plan hash; each shard's run
//! folder holds `shard.json` (`index`, `count`, `config_hash`) and its own records, resumes like
//! any run, and writes no summary. The merge checks that the shards are from one plan (same
//! hash), that their indices are exactly `0..N`, that each is complete (every planned record of
//! its chunks present) and that they are disjoint (no record outside its own chunks); then it
//! writes the union of the records, the galleries, and the summary — byte-identical to an
//! unsharded run's, because the summary is a pure function of the records.
//!
//! The merge itself is [`crate::merge`].
//!
//! The explanation cache may be shared between shards (`run.cache_dir` on a common file
//! system): keys are content hashes, and every file is written to a uniquely named temporary
//! file and renamed into place, so two writers of one key never leave a torn file.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use faithbench_data::files::write_atomic;

use crate::error::{Classify, Error, Result};
use crate::plan::PlanDataset;

/// The file in a shard's run folder that says which shard it is.
pub const SHARD_FILE: &str = "shard.json";

/// Shard `index` of `count` (0-based: `0/3`, `1/3`, `2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0 ≤ index < count`.
    pub index: usize,
    /// Number of shards, ≥ 1.
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `K/N` (0-based `K < N`; e.g. Slurm's `$SLURM_ARRAY_TASK_ID/$N`).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = |why: &str| {
            Error::input(format!(
                "--shard {s:?}: {why} (expected K/N with 0 ≤ K < N, e.g. 0/4)"
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let index: usize = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("K must be below N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether chunk `chunk` (of `batch_size` positions) belongs to this shard.
    pub fn has_chunk(&self, chunk: usize) -> bool {
        chunk % self.count == self.index
    }

    /// The plan positions of this shard in a dataset of `n` samples walked in chunks of `batch`.
    pub fn positions(&self, n: usize, batch: usize) -> Vec<usize> {
        (0..n)
            .filter(|p| self.has_chunk(p / batch.max(1)))
            .collect()
    }
}

/// The sample ids of a dataset that `shard` evaluates (all of them for `None`).
pub fn shard_ids(ds: &PlanDataset, batch: usize, shard: Option<Shard>) -> BTreeSet<String> {
    match shard {
        None => ds.sample_ids.iter().cloned().collect(),
        Some(s) => s
            .positions(ds.num_samples, batch)
            .into_iter()
            .map(|p| ds.sample_ids[p].clone())
            .collect(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShardFile {
    index: usize,
    count: usize,
    config_hash: String,
}

/// The shard of a run folder (`None`: an unsharded run or no run yet).
pub fn read_shard(dir: &Path) -> Result<Option<Shard>> {
    let p = dir.join(SHARD_FILE);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).failure(|| format!("{}: cannot read", p.display())),
    };
    let f: ShardFile = serde_json::from_str(&text)
        .input_err(|| format!("{}: not a faithbench shard file", p.display()))?;
    if f.count == 0 || f.index >= f.count {
        return Err(Error::input(format!(
            "{}: shard {}/{} is not a valid shard",
            p.display(),
            f.index,
            f.count
        )));
    }
    Ok(Some(Shard {
        index: f.index,
        count: f.count,
    }))
}

/// Writes (or, for `None`, removes) the shard file of a run folder.
pub fn write_shard(dir: &Path, shard: Option<Shard>, config_hash: &str) -> Result<()> {
    let p = dir.join(SHARD_FILE);
    match shard {
        Some(s) => {
            let f = ShardFile {
                index: s.index,
                count: s.count,
                config_hash: config_hash.to_string(),
            };
            Ok(write_atomic(&p, crate::util::pretty_json(&f)?.as_bytes())?)
        }
        None if p.exists() => {
            std::fs::remove_file(&p).failure(|| format!("{}: cannot remove", p.display()))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_chunks_round_robin() {
        // 10 samples in chunks of 3: chunks 0..=3 = [0,1,2] [3,4,5] [6,7,8] [9]
        let s = |k, n| Shard { index: k, count: n };
        assert_eq!(s(0, 2).positions(10, 3), vec![0, 1, 2, 6, 7, 8]);
        assert_eq!(s(1, 2).positions(10, 3), vec![3, 4, 5, 9]);
        assert_eq!(s(2, 3).positions(10, 3), vec![6, 7, 8]);
        assert_eq!(s(0, 1).positions(4, 3), vec![0, 1, 2, 3]);
        // more shards than chunks: some are empty
        assert!(s(4, 5).positions(10, 3).is_empty());
        // every position in exactly one shard
        let mut all: Vec<usize> = (0..3).flat_map(|k| s(k, 3).positions(10, 3)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn shard_parse_rejects_bad_specs() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert_eq!(
            Shard::parse(" 0 / 1 ").unwrap(),
            Shard { index: 0, count: 1 }
        );
        for bad in ["4/4", "1/0", "x/2", "2", "-1/3", "1/y"] {
            let e = Shard::parse(bad).unwrap_err();
            assert_eq!(e.kind(), crate::error::ErrorKind::Input, "{bad}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
