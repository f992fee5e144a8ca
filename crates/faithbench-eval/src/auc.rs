//! Area-under-curve rules for perturbation accuracy curves (protocols §4.1 step 3, §4.3 step 6, P9e).
//!
//! Three published conventions are named as [`AucRule`] values. All use the trapezoid rule of
//! `sklearn.metrics.auc` / `np.trapz`; they differ in which points are integrated and in the unit.

use serde::{Deserialize, Serialize};

/// Errors of the AUC computations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AucError {
    /// x and y (or levels and accuracies) have different lengths.
    #[error("curve has {x} x-values but {y} y-values")]
    LengthMismatch {
        /// Number of x values (levels).
        x: usize,
        /// Number of y values (accuracies).
        y: usize,
    },
    /// Fewer than two points to integrate.
    #[error("need at least 2 points to compute an area, got {n}")]
    TooFewPoints {
        /// Number of points supplied.
        n: usize,
    },
    /// x is neither non-decreasing nor non-increasing (sklearn raises here too).
    #[error("x values are not monotonic (first violation at position {index})")]
    NotMonotonic {
        /// Position of the first point that breaks monotonicity.
        index: usize,
    },
    /// A level outside the range the rule allows, or levels not strictly increasing.
    #[error("rule {rule:?}: level {level} at position {index} is invalid ({reason})")]
    InvalidLevel {
        /// The rule being applied.
        rule: AucRule,
        /// Position of the level.
        index: usize,
        /// The level value.
        level: f64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A NaN or infinite coordinate.
    #[error("non-finite value {value} in the curve at position {index}")]
    NonFinite {
        /// Position of the value.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// How a perturbation accuracy curve is turned into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AucRule {
    /// The paper's ViT rule (TI `pertubation_eval_from_hdf5.py` + `sklearn.metrics.auc`):
    /// trapezoid over `x = [0, levels…, 1]`, `y = [acc0, acc_levels…, 0]` — the clean accuracy is
    /// put at 0 and the point `(1, 0)` is **assumed**, not measured. Result is a **fraction**
    /// (accuracies given as fractions in `[0, 1]`). Levels must lie strictly inside `(0, 1)`.
    Bi2023,
    /// Chefer et al. 2021 style: trapezoid (`np.trapz`) over `x = [0, levels…]`,
    /// `y = [acc0, acc_levels…]` (nothing appended), multiplied by 100 → **percent**.
    /// Levels must lie in `(0, 1]`.
    Chefer2021,
    /// Plain trapezoid over the measured points only, `x = levels`, `y = acc_levels`
    /// (`acc0` is ignored), multiplied by 100 → **percent**. This is the CLIP protocol, whose
    /// levels `0, 0.1, …, 1` include both ends measured (`sklearn.metrics.auc(arange(0,1.1,0.1), acc%)`).
    Trapezoid,
}

/// `sklearn.metrics.auc(x, y)`: trapezoid rule, `x` monotonic (a non-increasing `x` gives the
/// positive area, like sklearn's `direction = -1`). Sums `(x[i+1]−x[i])·(y[i+1]+y[i])/2` in order.
pub fn trapezoid(x: &[f64], y: &[f64]) -> Result<f64, AucError> {
    if x.len() != y.len() {
        return Err(AucError::LengthMismatch {
            x: x.len(),
            y: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(AucError::TooFewPoints { n: x.len() });
    }
    for (index, &value) in x.iter().chain(y.iter()).enumerate() {
        if !value.is_finite() {
            return Err(AucError::NonFinite {
                index: index % x.len(),
                value,
            });
        }
    }
    let increasing = x.windows(2).all(|p| p[1] >= p[0]);
    let decreasing = x.windows(2).all(|p| p[1] <= p[0]);
    if !increasing && !decreasing {
        // Direction of the first non-zero step; report the first step going the other way.
        let first_sign = x
            .windows(2)
            .map(|p| p[1] - p[0])
            .find(|d| *d != 0.0)
            .unwrap_or(0.0)
            .signum();
        let index = x
            .windows(2)
            .position(|p| (p[1] - p[0]) * first_sign < 0.0)
            .map_or(1, |i| i + 1);
        return Err(AucError::NotMonotonic { index });
    }
    let direction = if increasing { 1.0 } else { -1.0 };
    let area: f64 = x
        .windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| (xs[1] - xs[0]) * (ys[1] + ys[0]) / 2.0)
        .sum();
    Ok(direction * area)
}

fn check_levels(
    rule: AucRule,
    levels: &[f64],
    lo_open: bool,
    lo: f64,
    hi: f64,
    hi_open: bool,
) -> Result<(), AucError> {
    for (index, &level) in levels.iter().enumerate() {
        let below = if lo_open { level <= lo } else { level < lo };
        let above = if hi_open { level >= hi } else { level > hi };
        if !level.is_finite() || below || above {
            return Err(AucError::InvalidLevel {
                rule,
                index,
                level,
                reason: match rule {
                    AucRule::Bi2023 => "must lie strictly inside (0, 1)",
                    AucRule::Chefer2021 => "must lie in (0, 1]",
                    AucRule::Trapezoid => "must lie in [0, 1]",
                },
            });
        }
        if index > 0 && level <= levels[index - 1] {
            return Err(AucError::InvalidLevel {
                rule,
                index,
                level,
                reason: "levels must be strictly increasing",
            });
        }
    }
    Ok(())
}

/// The `(x, y)` points a rule integrates (before its unit factor), for plotting and auditing.
pub fn auc_points(
    rule: AucRule,
    acc0: f64,
    levels: &[f64],
    acc: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), AucError> {
    if levels.len() != acc.len() {
        return Err(AucError::LengthMismatch {
            x: levels.len(),
            y: acc.len(),
        });
    }
    match rule {
        AucRule::Bi2023 => {
            check_levels(rule, levels, true, 0.0, 1.0, true)?;
            let mut x = Vec::with_capacity(levels.len() + 2);
            let mut y = Vec::with_capacity(levels.len() + 2);
            x.push(0.0);
            y.push(acc0);
            x.extend_from_slice(levels);
            y.extend_from_slice(acc);
            x.push(1.0);
            y.push(0.0);
            Ok((x, y))
        }
        AucRule::Chefer2021 => {
            check_levels(rule, levels, true, 0.0, 1.0, false)?;
            let mut x = vec![0.0];
            let mut y = vec![acc0];
            x.extend_from_slice(levels);
            y.extend_from_slice(acc);
            Ok((x, y))
        }
        AucRule::Trapezoid => {
            check_levels(rule, levels, false, 0.0, 1.0, false)?;
            Ok((levels.to_vec(), acc.to_vec()))
        }
    }
}

/// AUC of an accuracy curve under `rule`.
///
/// `acc0` is the clean accuracy (fraction), `acc[i]` the accuracy (fraction) after removing the
/// fraction `levels[i]` of pixels. Unit of the result: fraction for [`AucRule::Bi2023`], percent for
/// [`AucRule::Chefer2021`] and [`AucRule::Trapezoid`].
pub fn auc(rule: AucRule, acc0: f64, levels: &[f64], acc: &[f64]) -> Result<f64, AucError> {
    let (x, y) = auc_points(rule, acc0, levels, acc)?;
    let area = trapezoid(&x, &y)?;
    Ok(match rule {
        AucRule::Bi2023 => area,
        AucRule::Chefer2021 | AucRule::Trapezoid => area * 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    const ACC: [f64; 9] = [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04];

    #[test]
    fn bi2023_hand_computed() {
        // Segments (width 0.1), mean heights:
        // (0.8,0.7)=.75 (0.7,.6)=.65 .55 .45 .35 .25 .15 (0.1,.05)=.075 (.05,.04)=.045 (.04,0)=.02
        // sum = 3.29 -> area 0.329 (fraction); sklearn.metrics.auc gives 0.329 too.
        let a = auc(AucRule::Bi2023, 0.8, &LEVELS, &ACC).unwrap();
        assert!((a - 0.329).abs() < 1e-12, "{a}");
    }

    #[test]
    fn chefer2021_hand_computed() {
        // Same segments without the assumed (1,0) end: sum = 3.27 -> 0.327 -> 32.7 %
        // (np.trapz([0.8]+acc, [0]+levels)*100 = 32.7)
        let a = auc(AucRule::Chefer2021, 0.8, &LEVELS, &ACC).unwrap();
        assert!((a - 32.7).abs() < 1e-10, "{a}");
    }

    #[test]
    fn trapezoid_rule_clip_levels_percent() {
        // CLIP: levels 0..1 measured, acc falls linearly from 0.6 to 0.0 -> triangle 0.5*1*0.6 = 0.3 -> 30 %
        let levels: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
        let acc: Vec<f64> = (0..=10).map(|i| 0.6 - 0.06 * i as f64).collect();
        let a = auc(AucRule::Trapezoid, 123.0 /* ignored */, &levels, &acc).unwrap();
        assert!((a - 30.0).abs() < 1e-10, "{a}");
    }

    #[test]
    fn trapezoid_matches_sklearn_direction() {
        // sklearn.metrics.auc([0, 1, 3], [1, 1, 0]) = 1 + 1 = 2; decreasing x gives the same area
        assert_eq!(trapezoid(&[0.0, 1.0, 3.0], &[1.0, 1.0, 0.0]).unwrap(), 2.0);
        assert_eq!(trapezoid(&[3.0, 1.0, 0.0], &[0.0, 1.0, 1.0]).unwrap(), 2.0);
        assert_eq!(
            trapezoid(&[0.0, 2.0, 1.0], &[1.0, 1.0, 1.0]),
            Err(AucError::NotMonotonic { index: 2 })
        );
        assert_eq!(
            trapezoid(&[0.0], &[1.0]),
            Err(AucError::TooFewPoints { n: 1 })
        );
    }

    #[test]
    fn level_validation() {
        assert!(matches!(
            auc(AucRule::Bi2023, 1.0, &[0.5, 1.0], &[0.5, 0.2]),
            Err(AucError::InvalidLevel { index: 1, .. })
        ));
        assert!(matches!(
            auc(AucRule::Chefer2021, 1.0, &[0.5, 0.4], &[0.5, 0.2]),
            Err(AucError::InvalidLevel { index: 1, .. })
        ));
        assert_eq!(
            auc(AucRule::Bi2023, 1.0, &[0.5], &[0.5, 0.2]),
            Err(AucError::LengthMismatch { x: 1, y: 2 })
        );
    }

    #[test]
    fn rule_serde_names() {
        assert_eq!(
            serde_json::to_string(&AucRule::Bi2023).unwrap(),
            "\"bi2023\""
        );
        assert_eq!(
            serde_json::to_string(&AucRule::Chefer2021).unwrap(),
            "\"chefer2021\""
        );
        let r: AucRule = serde_json::from_str("\"trapezoid\"").unwrap();
        assert_eq!(r, AucRule::Trapezoid);
    }
}
