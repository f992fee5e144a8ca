//! Random maps: a seeded sanity floor. Each sample's map depends only on (seed, sample id),
//! so it is the same whatever the batch composition or order.

use faithbench_data::rng::SplitMix64;
use faithbench_models::Explainable;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::registry::{parse_as, typed, MethodInfo};
use crate::{ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "random",
    summary: "seeded uniform noise per (seed, sample id), a sanity floor",
    reference: "—",
    path_params: &[],
    example: "{}",
    parse: parse_as::<RandomConfig>,
    build: |p| Ok(Box::new(RandomMap(typed(p)?))),
};

/// Parameters of the random baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomConfig {
    /// Seed.
    #[serde(default)]
    pub seed: u64,
}

/// Uniform [0, 1) relevance per token.
#[derive(Debug, Clone)]
pub struct RandomMap(pub RandomConfig);

/// Deterministic uniform values for one sample.
pub fn random_row(seed: u64, id: &str, len: usize) -> Vec<f32> {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(id.as_bytes());
    let d = h.finalize();
    let mut rng = SplitMix64::new(u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8])));
    (0..len)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
        .collect()
}

impl Explainer for RandomMap {
    fn name(&self) -> String {
        "random".into()
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let b = batch.input.batch_size();
        if batch.ids.len() != b {
            return Err(ExplainError::Config(format!(
                "{} sample ids for a batch of {b}",
                batch.ids.len()
            )));
        }
        let (len, valid): (usize, Vec<usize>) = match (batch.input, model.patch_grid()) {
            (faithbench_models::ModelInput::Image(_), Some((h, w))) => (h * w, vec![h * w; b]),
            (faithbench_models::ModelInput::Text(t), _) => {
                (t.input_ids.dims()[1], t.lengths.clone())
            }
            _ => {
                return Err(ExplainError::Config(
                    "random: input does not match the model".into(),
                ))
            }
        };
        let mut values = vec![0f32; b * len];
        for (i, id) in batch.ids.iter().enumerate() {
            let mut row = random_row(self.0.seed, id, valid[i]);
            if matches!(batch.input, faithbench_models::ModelInput::Text(_)) {
                row[0] = 0.0; // [CLS], as every text method
            }
            values[i * len..i * len + valid[i]].copy_from_slice(&row);
        }
        Ok(TokenMaps {
            batch: b,
            len,
            values,
            valid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rows_are_reproducible_uniform_and_id_dependent() {
        let a = random_row(3, "img_7", 1000);
        assert_eq!(a, random_row(3, "img_7", 1000));
        assert_ne!(a, random_row(3, "img_8", 1000));
        assert_ne!(a, random_row(4, "img_7", 1000));
        assert!(a.iter().all(|&v| (0.0..1.0).contains(&v)));
        let mean = a.iter().sum::<f32>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "mean {mean}");
    }
}
