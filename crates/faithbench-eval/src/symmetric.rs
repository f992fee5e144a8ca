//! The symmetric relevance gain (SRG; Blücher, Vielhaben & Strodthoff, TMLR 2024): for a removal
//! test run in both orders on the same samples with otherwise identical settings, the per-sample
//! AUC of the least-relevant-first order (negative) minus the AUC of the most-relevant-first
//! order (positive). One number per explainer in which a faithful map gains from both ends:
//! removing what it marks unimportant must keep the prediction (high negative AUC) and removing
//! what it marks important must destroy it (low positive AUC). Higher is better; the mean's
//! CI is a bootstrap over samples of the paired differences (docs/protocols.md, "Symmetric
//! relevance gain").

use serde_json::Value;

use crate::stats::{bootstrap_mean_ci, mean, BootstrapConfig, ConfidenceInterval};

/// Which end of the ranking a removal test removes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalOrder {
    /// Most relevant first (positive perturbation, MoRF, deletion).
    MostRelevantFirst,
    /// Least relevant first (negative perturbation, LeRF).
    LeastRelevantFirst,
}

/// What a removal evaluator tells about itself for the SRG: its order and the settings that
/// must match (everything but the order).
#[derive(Debug, Clone, PartialEq)]
pub struct RemovalTest {
    /// The order.
    pub order: RemovalOrder,
    /// Every other setting (two evaluators pair when these are equal).
    pub key: Value,
}

/// Errors of the SRG.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SymmetricError {
    /// The two orders were not run on the same samples.
    #[error("the two orders hold different samples ({0} and {1} records, or other ids)")]
    Samples(usize, usize),
    /// Nothing to summarise.
    #[error("no samples")]
    Empty,
}

/// Per-sample AUCs of one order, by sample id (sorted by id).
pub type SampleAucs = Vec<(String, f64)>;

/// The SRG of paired per-sample AUCs: the mean of `negative − positive` with its bootstrap CI.
pub fn srg(
    positive: &SampleAucs,
    negative: &SampleAucs,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, SymmetricError> {
    if positive.len() != negative.len() || positive.iter().zip(negative).any(|(p, n)| p.0 != n.0) {
        return Err(SymmetricError::Samples(positive.len(), negative.len()));
    }
    if positive.is_empty() {
        return Err(SymmetricError::Empty);
    }
    let d: Vec<f64> = positive
        .iter()
        .zip(negative)
        .map(|(p, n)| n.1 - p.1)
        .collect();
    let mut ci = bootstrap_mean_ci(&d, cfg).map_err(|_| SymmetricError::Empty)?;
    ci.estimate = mean(&d);
    Ok(ci)
}

/// The evaluator name of the SRG rows of a pair of evaluators.
pub fn srg_name(positive: &str, negative: &str) -> String {
    format!("srg({negative} - {positive})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: negative AUCs (0.9, 0.5), positive (0.3, 0.4) → differences (0.6, 0.1), mean
    /// 0.35; with identical differences the CI collapses onto the mean.
    #[test]
    fn srg_is_the_mean_paired_difference() {
        let cfg = BootstrapConfig {
            resamples: 500,
            confidence: 0.95,
            seed: 3,
        };
        let pos = vec![("a".to_string(), 0.3), ("b".to_string(), 0.4)];
        let neg = vec![("a".to_string(), 0.9), ("b".to_string(), 0.5)];
        let ci = srg(&pos, &neg, &cfg).unwrap();
        assert!((ci.estimate - 0.35).abs() < 1e-12);
        assert!(ci.lower >= 0.1 - 1e-12 && ci.upper <= 0.6 + 1e-12);
        let same = vec![("a".to_string(), 0.5), ("b".to_string(), 0.6)];
        let ci = srg(&same, &same, &cfg).unwrap();
        assert_eq!((ci.estimate, ci.lower, ci.upper), (0.0, 0.0, 0.0));
        let other = vec![("a".to_string(), 0.5), ("c".to_string(), 0.6)];
        assert_eq!(
            srg(&same, &other, &cfg).unwrap_err(),
            SymmetricError::Samples(2, 2)
        );
        assert_eq!(
            srg(&vec![], &vec![], &cfg).unwrap_err(),
            SymmetricError::Empty
        );
        assert_eq!(srg_name("pos", "neg"), "srg(neg - pos)");
    }
}
