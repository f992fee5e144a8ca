//! Resampling statistics over per-sample values: percentile-bootstrap confidence intervals of a mean,
//! paired differences (with a sign-flip permutation test), and bootstrap intervals of curve
//! statistics such as the AUC of the resampled mean accuracy curve.
//!
//! Everything is deterministic given [`BootstrapConfig::seed`]: the generator is SplitMix64
//! ([`SplitMix64`]) and indices are drawn with Lemire's unbiased multiply-and-reject method, so the
//! same data, seed and resample count always give bit-identical intervals on every platform.
//!
//! Percentiles use NumPy's default `'linear'` method on the sorted bootstrap statistics
//! (`pos = q·(B−1)`, linear interpolation between neighbours).

use serde::{Deserialize, Serialize};

/// Errors of the statistics helpers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// No samples to resample.
    #[error("no samples to resample")]
    Empty,
    /// Zero bootstrap resamples requested.
    #[error("the number of resamples must be at least 1")]
    NoResamples,
    /// Confidence level outside (0, 1).
    #[error("confidence level {0} must lie strictly between 0 and 1")]
    InvalidConfidence(f64),
    /// Paired inputs of different lengths.
    #[error("paired inputs have different lengths ({a} vs {b})")]
    LengthMismatch {
        /// Length of the first input.
        a: usize,
        /// Length of the second input.
        b: usize,
    },
    /// Per-sample curves of different lengths.
    #[error("curve of sample {index} has {got} points, expected {expected}")]
    RaggedCurves {
        /// Sample position.
        index: usize,
        /// Its number of points.
        got: usize,
        /// Number of points of the first curve.
        expected: usize,
    },
    /// A NaN or infinite input value.
    #[error("non-finite value {value} at sample {index}")]
    NonFinite {
        /// Sample position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The curve statistic failed (e.g. the AUC rule rejected the curve).
    #[error("curve statistic failed: {0}")]
    Statistic(String),
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of bootstrap resamples (default 1000).
    pub resamples: usize,
    /// Two-sided confidence level (default 0.95 → the 2.5 and 97.5 percentiles).
    pub confidence: f64,
    /// Seed of the SplitMix64 generator (default 0).
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 1000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

impl BootstrapConfig {
    fn validate(&self) -> Result<(), StatsError> {
        if self.resamples == 0 {
            return Err(StatsError::NoResamples);
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(StatsError::InvalidConfidence(self.confidence));
        }
        Ok(())
    }
}

/// A point estimate with a percentile-bootstrap confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// The statistic on the original (not resampled) data.
    pub estimate: f64,
    /// Lower percentile bound.
    pub lower: f64,
    /// Upper percentile bound.
    pub upper: f64,
    /// Confidence level of `[lower, upper]`.
    pub confidence: f64,
    /// Number of bootstrap resamples.
    pub resamples: usize,
    /// Number of samples.
    pub n: usize,
    /// Two-sided percentile-bootstrap p-value of "the statistic is 0" from the same resamples
    /// ([`bootstrap_p_value`]); the test of a paired difference, whose interval this is in
    /// [`paired_difference_ci`] and [`paired_curve_statistic_difference`].
    pub p_zero: f64,
}

/// Result of a paired comparison A − B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Mean of `a_i − b_i` with its bootstrap CI.
    pub difference: ConfidenceInterval,
    /// Two-sided sign-flip permutation p-value for "mean difference = 0":
    /// `(1 + #{|mean(s·d)| ≥ |mean(d)|}) / (1 + B)` over `B = resamples` random sign vectors `s`.
    pub p_value: f64,
}

pub use faithbench_data::rng::SplitMix64;

/// NumPy `percentile(sorted, 100·q)` with the default `'linear'` method on an already sorted slice.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    if lo == hi {
        sorted[lo]
    } else {
        sorted[lo] + (sorted[hi] - sorted[lo]) * frac
    }
}

fn check_finite(values: &[f64]) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Mean of the values (NaN for none).
pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Two-sided percentile-bootstrap p-value of "the statistic is 0" from its `B` bootstrap
/// statistics `θ*`: `min(1, 2·(1 + min(#{θ*_b ≤ 0}, #{θ*_b ≥ 0})) / (B + 1))`. Twice the share
/// of resamples on the far side of 0 (resamples at exactly 0 count on both sides), with the
/// `+1` of a Monte-Carlo p-value so that it never reaches 0: its smallest value is `2/(B + 1)`.
/// It is the CI inversion of the percentile interval: `p ≤ α` about when the `1 − α`
/// percentile interval of the same resamples excludes 0. NaN for no statistics.
pub fn bootstrap_p_value(stats: &[f64]) -> f64 {
    if stats.is_empty() {
        return f64::NAN;
    }
    let below = stats.iter().filter(|&&s| s <= 0.0).count();
    let above = stats.iter().filter(|&&s| s >= 0.0).count();
    (2.0 * (1 + below.min(above)) as f64 / (stats.len() + 1) as f64).min(1.0)
}

/// How a family of p-values is corrected for multiple comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm–Bonferroni step-down (controls the family-wise error rate; uniformly more
    /// powerful than Bonferroni).
    Holm,
    /// Bonferroni: each p-value times the family size.
    Bonferroni,
    /// No correction.
    None,
}

impl Correction {
    /// Every correction, in the order the CLI lists them.
    pub const ALL: [Correction; 3] = [Correction::Holm, Correction::Bonferroni, Correction::None];

    /// The name on the command line and in reports (`holm`, `bonferroni`, `none`).
    pub fn name(self) -> &'static str {
        match self {
            Correction::Holm => "holm",
            Correction::Bonferroni => "bonferroni",
            Correction::None => "none",
        }
    }

    /// The correction of this name.
    pub fn parse(name: &str) -> Option<Correction> {
        Correction::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Adjusted p-values of a family, in input order (see [`adjust_p_values`]).
    pub fn adjust(self, p: &[f64]) -> Vec<f64> {
        adjust_p_values(p, self)
    }
}

/// Adjusts a family of `m` p-values for multiple comparisons, in input order; a hypothesis is
/// rejected at family-wise level α when its adjusted p-value is below α.
///
/// * Bonferroni: `min(1, m·p_i)`.
/// * Holm: with the p-values sorted ascending `p_(1) ≤ … ≤ p_(m)`,
///   `p̃_(i) = min(1, max_{j ≤ i} (m − j + 1)·p_(j))` — the running maximum keeps the adjusted
///   values in the order of the raw ones (ties in p keep their input order).
/// * None: the p-values unchanged.
pub fn adjust_p_values(p: &[f64], correction: Correction) -> Vec<f64> {
    let m = p.len() as f64;
    match correction {
        Correction::None => p.to_vec(),
        Correction::Bonferroni => p.iter().map(|&v| (v * m).min(1.0)).collect(),
        Correction::Holm => {
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let mut out = vec![0.0; p.len()];
            let mut running = 0.0f64;
            for (j, &i) in order.iter().enumerate() {
                running = running.max((m - j as f64) * p[i]).min(1.0);
                out[i] = running;
            }
            out
        }
    }
}

fn interval(
    estimate: f64,
    mut stats: Vec<f64>,
    cfg: &BootstrapConfig,
    n: usize,
) -> ConfidenceInterval {
    stats.sort_by(f64::total_cmp);
    let alpha = 1.0 - cfg.confidence;
    ConfidenceInterval {
        estimate,
        lower: percentile_sorted(&stats, alpha / 2.0),
        upper: percentile_sorted(&stats, 1.0 - alpha / 2.0),
        confidence: cfg.confidence,
        resamples: cfg.resamples,
        n,
        p_zero: bootstrap_p_value(&stats),
    }
}

/// Percentile-bootstrap CI of the mean of per-sample values (e.g. per-image hits, AP, F1).
///
/// Each resample draws `n` indices with replacement; the CI is the `(1−c)/2` and `(1+c)/2`
/// percentiles of the resampled means. Constant data gives `lower = estimate = upper`.
pub fn bootstrap_mean_ci(
    values: &[f64],
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    cfg.validate()?;
    if values.is_empty() {
        return Err(StatsError::Empty);
    }
    check_finite(values)?;
    let n = values.len();
    let mut rng = SplitMix64::new(cfg.seed);
    let stats: Vec<f64> = (0..cfg.resamples)
        .map(|_| (0..n).map(|_| values[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    Ok(interval(mean(values), stats, cfg, n))
}

/// Paired comparison of two methods on the same samples (same order): bootstrap CI of the mean of
/// `a_i − b_i` plus a two-sided sign-flip permutation p-value (see [`PairedComparison::p_value`]).
pub fn paired_difference_ci(
    a: &[f64],
    b: &[f64],
    cfg: &BootstrapConfig,
) -> Result<PairedComparison, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    check_finite(a)?;
    check_finite(b)?;
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let difference = bootstrap_mean_ci(&diffs, cfg)?;
    // Sign-flip test with an independent stream (seed + 1) so the CI is unaffected by it.
    let n = diffs.len() as f64;
    let observed = mean(&diffs).abs();
    let tolerance = 1e-12 * (1.0 + observed);
    let mut rng = SplitMix64::new(cfg.seed.wrapping_add(1));
    let mut extreme = 0usize;
    for _ in 0..cfg.resamples {
        let flipped: f64 = diffs
            .iter()
            .map(|d| if rng.next_u64() >> 63 == 1 { -d } else { *d })
            .sum::<f64>()
            / n;
        if flipped.abs() >= observed - tolerance {
            extreme += 1;
        }
    }
    let p_value = (1 + extreme) as f64 / (1 + cfg.resamples) as f64;
    Ok(PairedComparison {
        difference,
        p_value,
    })
}

fn check_curves(curves: &[Vec<f64>]) -> Result<usize, StatsError> {
    let first = curves.first().ok_or(StatsError::Empty)?;
    let len = first.len();
    for (index, c) in curves.iter().enumerate() {
        if c.len() != len {
            return Err(StatsError::RaggedCurves {
                index,
                got: c.len(),
                expected: len,
            });
        }
        if let Some(v) = c.iter().find(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite { index, value: *v });
        }
    }
    Ok(len)
}

fn mean_curve(curves: &[Vec<f64>], picks: impl Iterator<Item = usize>, len: usize) -> Vec<f64> {
    let mut acc = vec![0.0; len];
    let mut count = 0usize;
    for i in picks {
        for (a, v) in acc.iter_mut().zip(&curves[i]) {
            *a += v;
        }
        count += 1;
    }
    acc.iter().map(|a| a / count as f64).collect()
}

/// Bootstrap CI of `statistic(mean curve)` where each sample contributes one curve (e.g.
/// `[clean_hit, hit@0.1, …, hit@0.9]` as 0/1) and `statistic` maps the resampled **mean** curve to
/// a number (e.g. its AUC under an [`crate::auc::AucRule`]).
///
/// The resample indices are drawn exactly as in [`bootstrap_mean_ci`] for the same seed and `n`.
pub fn bootstrap_curve_statistic<F, E>(
    curves: &[Vec<f64>],
    statistic: F,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError>
where
    F: Fn(&[f64]) -> Result<f64, E>,
    E: std::fmt::Display,
{
    cfg.validate()?;
    let len = check_curves(curves)?;
    let n = curves.len();
    let stat = |c: &[f64]| statistic(c).map_err(|e| StatsError::Statistic(e.to_string()));
    let estimate = stat(&mean_curve(curves, 0..n, len))?;
    let mut rng = SplitMix64::new(cfg.seed);
    let mut stats = Vec::with_capacity(cfg.resamples);
    for _ in 0..cfg.resamples {
        let picks: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
        stats.push(stat(&mean_curve(curves, picks.into_iter(), len))?);
    }
    Ok(interval(estimate, stats, cfg, n))
}

/// Paired bootstrap CI of `statistic(mean curve of A) − statistic(mean curve of B)`, resampling the
/// same sample indices for both methods (samples must be aligned: same images, same order).
pub fn paired_curve_statistic_difference<F, E>(
    a: &[Vec<f64>],
    b: &[Vec<f64>],
    statistic: F,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError>
where
    F: Fn(&[f64]) -> Result<f64, E>,
    E: std::fmt::Display,
{
    cfg.validate()?;
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    let len_a = check_curves(a)?;
    let len_b = check_curves(b)?;
    let n = a.len();
    let stat = |c: &[f64]| statistic(c).map_err(|e| StatsError::Statistic(e.to_string()));
    let estimate = stat(&mean_curve(a, 0..n, len_a))? - stat(&mean_curve(b, 0..n, len_b))?;
    let mut rng = SplitMix64::new(cfg.seed);
    let mut stats = Vec::with_capacity(cfg.resamples);
    for _ in 0..cfg.resamples {
        let picks: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
        let sa = stat(&mean_curve(a, picks.iter().copied(), len_a))?;
        let sb = stat(&mean_curve(b, picks.iter().copied(), len_b))?;
        stats.push(sa - sb);
    }
    Ok(interval(estimate, stats, cfg, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auc::{auc, AucRule};

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of SplitMix64 from seed 0 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SplitMix64::new(42);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[r.below(7)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1,2,3,4], 25) = 1.75 ; 97.5 -> 3.925
        let s = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_sorted(&s, 0.25) - 1.75).abs() < 1e-12);
        assert!((percentile_sorted(&s, 0.975) - 3.925).abs() < 1e-12);
        assert_eq!(percentile_sorted(&[5.0], 0.5), 5.0);
    }

    #[test]
    fn constant_data_collapses_ci() {
        let ci = bootstrap_mean_ci(&[0.25; 40], &BootstrapConfig::default()).unwrap();
        assert_eq!((ci.estimate, ci.lower, ci.upper), (0.25, 0.25, 0.25));
        assert_eq!((ci.n, ci.resamples), (40, 1000));
    }

    #[test]
    fn known_mean_and_plausible_interval() {
        // 0/1 hits, 30 of 100 -> mean 0.3; binomial s.e. = sqrt(.3*.7/100) = 0.0458,
        // so the 95 % percentile interval is about 0.3 ± 0.09.
        let v: Vec<f64> = (0..100)
            .map(|i| if i % 10 < 3 { 1.0 } else { 0.0 })
            .collect();
        let ci = bootstrap_mean_ci(&v, &BootstrapConfig::default()).unwrap();
        assert!((ci.estimate - 0.3).abs() < 1e-15);
        assert!(ci.lower > 0.19 && ci.lower < 0.23, "{ci:?}");
        assert!(ci.upper > 0.37 && ci.upper < 0.41, "{ci:?}");
        // deterministic
        assert_eq!(
            ci,
            bootstrap_mean_ci(&v, &BootstrapConfig::default()).unwrap()
        );
        // on continuous data a different seed gives a (slightly) different interval
        let c: Vec<f64> = (0..50).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
        let s0 = bootstrap_mean_ci(&c, &BootstrapConfig::default()).unwrap();
        let s7 = bootstrap_mean_ci(
            &c,
            &BootstrapConfig {
                seed: 7,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s0.estimate, s7.estimate);
        assert_ne!((s0.lower, s0.upper), (s7.lower, s7.upper));
    }

    #[test]
    fn single_resample_of_single_value() {
        let cfg = BootstrapConfig {
            resamples: 1,
            confidence: 0.9,
            seed: 3,
        };
        let ci = bootstrap_mean_ci(&[2.5], &cfg).unwrap();
        assert_eq!((ci.lower, ci.upper), (2.5, 2.5));
    }

    #[test]
    fn paired_constant_difference() {
        let a = [0.9, 0.8, 0.7, 0.6, 0.5];
        let b = [0.4, 0.3, 0.2, 0.1, 0.0];
        let r = paired_difference_ci(&a, &b, &BootstrapConfig::default()).unwrap();
        assert!((r.difference.estimate - 0.5).abs() < 1e-12);
        assert!(
            (r.difference.lower - 0.5).abs() < 1e-12 && (r.difference.upper - 0.5).abs() < 1e-12
        );
        // sign flips: |mean| = 0.5 only when all 5 signs agree (prob 2/32); p ≈ (1 + 1000/16)/1001
        assert!(r.p_value > 0.03 && r.p_value < 0.10, "{}", r.p_value);
    }

    /// The percentile-bootstrap p-value by hand: twice the smaller tail share with the +1 of a
    /// Monte-Carlo p-value, zeros counted on both sides.
    #[test]
    fn bootstrap_p_value_by_hand() {
        // below (≤ 0): 1, above (≥ 0): 3 → 2·(1 + 1)/(4 + 1)
        assert!((bootstrap_p_value(&[-1.0, 0.5, 1.0, 2.0]) - 0.8).abs() < 1e-15);
        // none below → the floor 2/(B + 1)
        assert!((bootstrap_p_value(&[1.0, 2.0, 3.0]) - 0.5).abs() < 1e-15);
        // a zero counts on both sides: below 2, above 2 → 2·3/5 = 1.2, capped at 1
        assert_eq!(bootstrap_p_value(&[-1.0, 0.0, 1.0]), 1.0);
        assert_eq!(bootstrap_p_value(&[0.0; 9]), 1.0);
        assert!(bootstrap_p_value(&[]).is_nan());
    }

    /// The paired bootstrap test on a tiny case: every resampled mean of the differences
    /// [1, 2, 3] is positive, so p sits at its floor 2/(B + 1); identical inputs give 1.
    #[test]
    fn paired_bootstrap_p_on_a_tiny_case() {
        let cfg = BootstrapConfig::default();
        let r = paired_difference_ci(&[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0], &cfg).unwrap();
        assert!((r.difference.estimate - 2.0).abs() < 1e-15);
        assert!((r.difference.p_zero - 2.0 / 1001.0).abs() < 1e-15);
        let r = paired_difference_ci(&[0.3, 0.1], &[0.3, 0.1], &cfg).unwrap();
        assert_eq!(r.difference.p_zero, 1.0);
        // differences [1, 1, −1]: a resampled mean is ≤ 0 exactly when it draws the −1 at
        // least twice (probability 7/27) and ≥ 0 otherwise; count those draws with the same
        // generator and seed as the bootstrap
        let d = [1.0, 1.0, -1.0];
        let mut rng = SplitMix64::new(cfg.seed);
        let mut below = 0usize;
        for _ in 0..cfg.resamples {
            let negatives = (0..3).filter(|_| d[rng.below(3)] < 0.0).count();
            below += usize::from(negatives >= 2);
        }
        let want = 2.0 * (1 + below) as f64 / 1001.0;
        let r = paired_difference_ci(&[1.0, 1.0, 0.0], &[0.0, 0.0, 1.0], &cfg).unwrap();
        assert_eq!(r.difference.p_zero, want);
        assert!((want - 2.0 * 7.0 / 27.0).abs() < 0.06, "{want}");
    }

    /// Holm and Bonferroni by hand on p = [0.01, 0.04, 0.03, 0.005] (m = 4). Sorted: 0.005,
    /// 0.01, 0.03, 0.04; Holm multiplies by 4, 3, 2, 1 → 0.02, 0.03, 0.06, 0.04, and the running
    /// maximum lifts the last to 0.06 (monotone in the raw p).
    #[test]
    fn holm_and_bonferroni_by_hand() {
        let p = [0.01, 0.04, 0.03, 0.005];
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        let holm = adjust_p_values(&p, Correction::Holm);
        assert!(close(&holm, &[0.03, 0.06, 0.06, 0.02]), "{holm:?}");
        let bonf = Correction::Bonferroni.adjust(&p);
        assert!(close(&bonf, &[0.04, 0.16, 0.12, 0.02]), "{bonf:?}");
        assert_eq!(Correction::None.adjust(&p), p.to_vec());
        // monotone: a smaller raw p never gets a larger adjusted p
        for (i, j) in [(0, 1), (0, 2), (3, 0), (2, 1)] {
            assert!(p[i] <= p[j] && holm[i] <= holm[j]);
        }
        // capped at 1; Holm never exceeds Bonferroni
        let big = [0.3, 0.5, 0.2];
        let b = adjust_p_values(&big, Correction::Bonferroni);
        assert!(close(&b, &[0.9, 1.0, 0.6]), "{b:?}");
        let h = adjust_p_values(&big, Correction::Holm);
        assert!(close(&h, &[0.6, 0.6, 0.6]), "{h:?}");
        assert!(adjust_p_values(&[], Correction::Holm).is_empty());
        assert_eq!(
            Correction::parse("bonferroni"),
            Some(Correction::Bonferroni)
        );
        assert_eq!(Correction::parse("fdr"), None);
    }

    #[test]
    fn paired_zero_difference_has_p_one() {
        let a = [0.3, 0.1, 0.2];
        let r = paired_difference_ci(&a, &a, &BootstrapConfig::default()).unwrap();
        assert_eq!(r.p_value, 1.0);
        assert_eq!(
            (
                r.difference.estimate,
                r.difference.lower,
                r.difference.upper
            ),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn paired_clear_difference_is_significant() {
        let a = vec![1.0; 20];
        let b = vec![0.0; 20];
        let r = paired_difference_ci(&a, &b, &BootstrapConfig::default()).unwrap();
        // only the all-equal sign vectors reach |mean| = 1 (prob 2^-19): p = 1/1001 almost surely
        assert!((r.p_value - 1.0 / 1001.0).abs() < 1e-12, "{}", r.p_value);
    }

    #[test]
    fn curve_bootstrap_of_linear_auc_equals_mean_bootstrap_of_per_sample_auc() {
        // The trapezoid AUC is linear in the curve, so AUC(mean curve) = mean(per-sample AUC),
        // and with the same seed the two bootstraps draw identical indices.
        let levels = [0.25, 0.5, 0.75];
        let curves: Vec<Vec<f64>> = (0..23)
            .map(|i| {
                (0..4)
                    .map(|j| {
                        if (i * 7 + j * 3) % 5 < 2 + (j == 0) as usize {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let stat = |c: &[f64]| auc(AucRule::Bi2023, c[0], &levels, &c[1..]);
        let cfg = BootstrapConfig {
            resamples: 200,
            ..Default::default()
        };
        let curve_ci = bootstrap_curve_statistic(&curves, stat, &cfg).unwrap();
        let per_sample: Vec<f64> = curves.iter().map(|c| stat(c).unwrap()).collect();
        let mean_ci = bootstrap_mean_ci(&per_sample, &cfg).unwrap();
        assert!((curve_ci.estimate - mean_ci.estimate).abs() < 1e-12);
        assert!((curve_ci.lower - mean_ci.lower).abs() < 1e-12);
        assert!((curve_ci.upper - mean_ci.upper).abs() < 1e-12);
    }

    #[test]
    fn paired_curve_difference_of_identical_methods_is_zero() {
        let curves = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        let stat = |c: &[f64]| auc(AucRule::Trapezoid, 0.0, &[0.0, 1.0], c);
        let ci =
            paired_curve_statistic_difference(&curves, &curves, stat, &BootstrapConfig::default())
                .unwrap();
        assert_eq!((ci.estimate, ci.lower, ci.upper), (0.0, 0.0, 0.0));
    }

    #[test]
    fn errors() {
        assert_eq!(
            bootstrap_mean_ci(&[], &BootstrapConfig::default()),
            Err(StatsError::Empty)
        );
        assert_eq!(
            bootstrap_mean_ci(
                &[1.0],
                &BootstrapConfig {
                    resamples: 0,
                    ..Default::default()
                }
            ),
            Err(StatsError::NoResamples)
        );
        assert_eq!(
            bootstrap_mean_ci(
                &[1.0],
                &BootstrapConfig {
                    confidence: 1.0,
                    ..Default::default()
                }
            ),
            Err(StatsError::InvalidConfidence(1.0))
        );
        assert!(matches!(
            bootstrap_mean_ci(&[1.0, f64::NAN], &BootstrapConfig::default()),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert_eq!(
            paired_difference_ci(&[1.0], &[1.0, 2.0], &BootstrapConfig::default()),
            Err(StatsError::LengthMismatch { a: 1, b: 2 })
        );
        let ragged = vec![vec![1.0, 2.0], vec![1.0]];
        assert_eq!(
            bootstrap_curve_statistic(
                &ragged,
                |c: &[f64]| Ok::<f64, String>(c[0]),
                &BootstrapConfig::default()
            ),
            Err(StatsError::RaggedCurves {
                index: 1,
                got: 1,
                expected: 2
            })
        );
    }
}
