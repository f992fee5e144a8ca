//! ImageNet-Segmentation test (protocols §4.2 steps 2–5), reproducing Chefer et al.'s
//! `imagenet_seg_eval.py` + `utils/metrices.py` as used by the paper's code.
//!
//! Per image (map `H × W` already min–max normalised, ground-truth mask `H × W` in `{0, 1}`):
//! * threshold `τ = mean(map)`; predicted foreground = `map > τ`, background = `map ≤ τ`;
//! * `correct = #{pred == gt}`, `labeled = H·W`;
//! * per class `c ∈ {bg, fg}`: `inter_c = #{pred = gt = c}`, `union_c = #{pred = c} + #{gt = c} − inter_c`;
//! * `AP` = scikit-learn `average_precision_score(y_true, y_score)` over the `2·H·W` one-hot layout
//!   `y_score = concat(1 − map, map)`, `y_true = concat(gt == 0, gt == 1)` (step function, ties grouped
//!   at distinct thresholds); NaN → 0;
//! * `F1` = scikit-learn `f1_score(gt, pred_fg)` with zero-division → 0.
//!
//! Dataset totals ([`aggregate`]): `pixAcc = Σcorrect/(ε + Σlabeled)`, `IoU_c = Σinter_c/(ε + Σunion_c)`,
//! `mIoU = mean_c IoU_c`, `mAP = mean AP`, `mF1 = mean F1`, `ε = np.spacing(1) = 2.220446049250313e-16`.
//!
//! # Numerics
//! The map and the AP scores (`1 − map`, `map`) are `f32`, as in the PyTorch reference. The threshold
//! is the mean accumulated in `f64` and compared in `f64`; PyTorch's `f32` mean can differ in the last
//! bits, which only matters for pixels within ~1e-7 of the mean.
//!
//! # Constant and NaN maps
//! * [`segmentation_record`] takes an already normalised map and rejects NaN/inf (error naming the
//!   sample). A constant normalised map (e.g. all zeros) is evaluated as given: `τ` equals the value,
//!   nothing is `> τ`, so the prediction is all background.
//! * [`segmentation_record_from_raw`] normalises itself and reproduces the reference's behaviour for a
//!   **constant raw map**, where `(m − min)/(max − min)` is NaN everywhere: both thresholded masks are
//!   `NaN > NaN = false`, `NaN ≤ NaN = false` → zeros, `argmax` of two zeros = background, and the AP
//!   scores are NaN mapped to 0 → all scores tie at 0 → `AP = 0.5` (exactly half of the one-hot entries
//!   are positive). The record is flagged `degenerate = true` and has no threshold.

use serde::{Deserialize, Serialize};

use crate::maps::{min_max_normalise, validate_map, MapError};

/// `np.spacing(1, dtype=np.float64)`, the ε of the reference's totals.
pub const EPS: f64 = 2.220446049250313e-16;

/// Errors of the segmentation protocol.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentationError {
    /// The map is malformed (shape, NaN/inf); the error names the sample.
    #[error(transparent)]
    Map(#[from] MapError),
    /// The mask's length does not match the map.
    #[error("sample {sample_id}: mask has {got} values, expected {h}x{w} = {expected}")]
    MaskShape {
        /// Sample id.
        sample_id: String,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
        /// `h·w`.
        expected: usize,
        /// Mask length.
        got: usize,
    },
    /// A mask value other than 0 or 1.
    #[error("sample {sample_id}: mask value {value} at flat index {index} is not 0 or 1")]
    MaskValue {
        /// Sample id.
        sample_id: String,
        /// Flat index.
        index: usize,
        /// The value.
        value: u8,
    },
    /// `y_true`/`y_score` or `y_true`/`y_pred` of different lengths.
    #[error("length mismatch: {a} vs {b}")]
    LengthMismatch {
        /// First length.
        a: usize,
        /// Second length.
        b: usize,
    },
    /// Nothing to aggregate.
    #[error("no segmentation records to aggregate")]
    Empty,
}

/// Per-image segmentation counts and scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationRecord {
    /// Sample id.
    pub sample_id: String,
    /// Map/mask height.
    pub height: usize,
    /// Map/mask width.
    pub width: usize,
    /// Threshold `τ` (mean of the normalised map); `None` for a degenerate (constant) raw map.
    pub threshold: Option<f64>,
    /// True when the raw map was constant and the reference's NaN pathway was reproduced.
    pub degenerate: bool,
    /// Pixels whose predicted class equals the ground truth.
    pub correct: u64,
    /// Labelled pixels (`H·W`: every pixel is labelled).
    pub labeled: u64,
    /// Intersection per class `[background, foreground]`.
    pub inter: [u64; 2],
    /// Union per class `[background, foreground]`.
    pub union: [u64; 2],
    /// Average precision over the one-hot layout (NaN → 0).
    pub ap: f64,
    /// Foreground F1 (zero division → 0).
    pub f1: f64,
    /// The reference's F1 (`get_f1_scores(output[0, 1], labels[0])`): its batch size is
    /// `predict.shape[0]`, the image **height**, so it scores every pixel row on its own
    /// (scikit-learn F1 of the row, zero division → 0) and this is the mean over the rows
    /// (pitfall P18). Records written before this field existed read back as 0.
    #[serde(default)]
    pub f1_rows: f64,
}

/// Dataset-level segmentation metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationSummary {
    /// Number of images.
    pub n: usize,
    /// `Σcorrect / (ε + Σlabeled)`.
    pub pix_acc: f64,
    /// `Σinter_c / (ε + Σunion_c)` for `[background, foreground]`.
    pub iou: [f64; 2],
    /// Mean of `iou`.
    pub miou: f64,
    /// Mean per-image AP.
    pub map: f64,
    /// Mean per-image F1.
    pub mf1: f64,
    /// Mean over images of the per-row F1 ([`SegmentationRecord::f1_rows`]) — the paper's mF1
    /// column; with equal heights (224 in the protocol) the mean over all rows.
    pub mf1_rows: f64,
    /// Number of degenerate (constant raw map) records included.
    pub degenerate: usize,
}

fn cmp_desc(a: f32, b: f32) -> std::cmp::Ordering {
    b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal)
}

/// scikit-learn `average_precision_score(y_true, y_score)` for binary labels:
/// `AP = Σ_n (R_n − R_{n−1}) · P_n` over the distinct score thresholds in decreasing order (step
/// function, no interpolation; tied scores form one threshold).
///
/// Returns 0.0 when `y_true` has no positive (scikit-learn's recall is undefined there; the
/// reference maps the resulting NaN to 0). Scores must be finite.
pub fn average_precision(y_true: &[bool], y_score: &[f32]) -> Result<f64, SegmentationError> {
    if y_true.len() != y_score.len() {
        return Err(SegmentationError::LengthMismatch {
            a: y_true.len(),
            b: y_score.len(),
        });
    }
    if let Some(index) = y_score.iter().position(|v| !v.is_finite()) {
        return Err(MapError::NonFiniteValue {
            index,
            value: y_score[index],
        }
        .into());
    }
    let positives = y_true.iter().filter(|&&t| t).count();
    if positives == 0 {
        return Ok(0.0);
    }
    let mut order: Vec<usize> = (0..y_score.len()).collect();
    order.sort_unstable_by(|&a, &b| cmp_desc(y_score[a], y_score[b]));
    let total = positives as f64;
    let (mut tp, mut seen) = (0u64, 0u64);
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    for (pos, &i) in order.iter().enumerate() {
        seen += 1;
        if y_true[i] {
            tp += 1;
        }
        let last_of_group = match order.get(pos + 1) {
            Some(&next) => y_score[next] != y_score[i],
            None => true,
        };
        if last_of_group {
            let recall = tp as f64 / total;
            let precision = tp as f64 / seen as f64;
            ap += (recall - prev_recall) * precision;
            prev_recall = recall;
        }
    }
    Ok(ap)
}

/// scikit-learn `f1_score(y_true, y_pred)` (binary, `pos_label = 1`):
/// `2·TP / (2·TP + FP + FN)`, and 0 when the denominator is 0 (zero-division → 0).
pub fn f1_binary(y_true: &[bool], y_pred: &[bool]) -> Result<f64, SegmentationError> {
    if y_true.len() != y_pred.len() {
        return Err(SegmentationError::LengthMismatch {
            a: y_true.len(),
            b: y_pred.len(),
        });
    }
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for (&t, &p) in y_true.iter().zip(y_pred) {
        match (t, p) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denom = 2 * tp + fp + fn_;
    Ok(if denom == 0 || tp == 0 {
        0.0
    } else {
        (2 * tp) as f64 / denom as f64
    })
}

fn check_mask(
    sample_id: &str,
    gt: &[u8],
    h: usize,
    w: usize,
) -> Result<Vec<bool>, SegmentationError> {
    if gt.len() != h * w {
        return Err(SegmentationError::MaskShape {
            sample_id: sample_id.to_string(),
            h,
            w,
            expected: h * w,
            got: gt.len(),
        });
    }
    gt.iter()
        .enumerate()
        .map(|(index, &value)| match value {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(SegmentationError::MaskValue {
                sample_id: sample_id.to_string(),
                index,
                value,
            }),
        })
        .collect()
}

/// Counts, AP and F1 from a foreground prediction and the AP score layout.
fn record_from_prediction(
    sample_id: &str,
    h: usize,
    w: usize,
    gt: &[bool],
    pred_fg: &[bool],
    scores: &[f32],
    threshold: Option<f64>,
) -> Result<SegmentationRecord, SegmentationError> {
    let mut inter = [0u64; 2];
    let mut pred_count = [0u64; 2];
    let mut gt_count = [0u64; 2];
    for (&g, &p) in gt.iter().zip(pred_fg) {
        let (g, p) = (g as usize, p as usize);
        gt_count[g] += 1;
        pred_count[p] += 1;
        if g == p {
            inter[g] += 1;
        }
    }
    let union = [
        pred_count[0] + gt_count[0] - inter[0],
        pred_count[1] + gt_count[1] - inter[1],
    ];
    let y_true: Vec<bool> = gt.iter().map(|&g| !g).chain(gt.iter().copied()).collect();
    let ap = average_precision(&y_true, scores)?;
    let f1 = f1_binary(gt, pred_fg)?;
    let f1_rows = f1_per_row(gt, pred_fg, h, w)?;
    Ok(SegmentationRecord {
        sample_id: sample_id.to_string(),
        height: h,
        width: w,
        threshold,
        degenerate: threshold.is_none(),
        correct: inter[0] + inter[1],
        labeled: (h * w) as u64,
        inter,
        union,
        ap: if ap.is_nan() { 0.0 } else { ap },
        f1: if f1.is_nan() { 0.0 } else { f1 },
        f1_rows,
    })
}

/// The reference's row-wise F1: the mean over the `h` rows of `f1_binary(gt_row, pred_row)`
/// (zero division → 0, NaN → 0 like its `np.nan_to_num`).
pub fn f1_per_row(
    gt: &[bool],
    pred_fg: &[bool],
    h: usize,
    w: usize,
) -> Result<f64, SegmentationError> {
    if h == 0 || w == 0 {
        return Ok(0.0);
    }
    let mut total = 0.0;
    for r in 0..h {
        let f = f1_binary(&gt[r * w..(r + 1) * w], &pred_fg[r * w..(r + 1) * w])?;
        total += if f.is_nan() { 0.0 } else { f };
    }
    Ok(total / h as f64)
}

/// Per-image record from a **normalised** map (`H × W`, finite) and a `{0,1}` mask (`H × W`).
///
/// See the module docs for the exact rules; a constant map gives an all-background prediction.
pub fn segmentation_record(
    sample_id: &str,
    map: &[f32],
    gt: &[u8],
    h: usize,
    w: usize,
) -> Result<SegmentationRecord, SegmentationError> {
    validate_map(sample_id, map, h, w)?;
    let gt = check_mask(sample_id, gt, h, w)?;
    let tau = map.iter().map(|&v| v as f64).sum::<f64>() / map.len() as f64;
    let pred_fg: Vec<bool> = map.iter().map(|&v| v as f64 > tau).collect();
    let scores: Vec<f32> = map
        .iter()
        .map(|&v| 1.0 - v)
        .chain(map.iter().copied())
        .collect();
    record_from_prediction(sample_id, h, w, &gt, &pred_fg, &scores, Some(tau))
}

/// Per-image record from a **raw** (un-normalised) map: min–max normalises it and, for a constant
/// raw map, reproduces the reference's NaN pathway (all-background prediction, all-zero AP scores,
/// `degenerate = true`; see the module docs).
pub fn segmentation_record_from_raw(
    sample_id: &str,
    raw_map: &[f32],
    gt: &[u8],
    h: usize,
    w: usize,
) -> Result<SegmentationRecord, SegmentationError> {
    validate_map(sample_id, raw_map, h, w)?;
    match min_max_normalise(raw_map) {
        Ok(map) => segmentation_record(sample_id, &map, gt, h, w),
        Err(MapError::Constant { .. }) => {
            let gt = check_mask(sample_id, gt, h, w)?;
            let pred_fg = vec![false; h * w];
            let scores = vec![0.0f32; 2 * h * w];
            record_from_prediction(sample_id, h, w, &gt, &pred_fg, &scores, None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Dataset totals (micro pixel accuracy and IoU, mean AP and F1 over images).
pub fn aggregate(records: &[SegmentationRecord]) -> Result<SegmentationSummary, SegmentationError> {
    if records.is_empty() {
        return Err(SegmentationError::Empty);
    }
    let n = records.len();
    let correct: u64 = records.iter().map(|r| r.correct).sum();
    let labeled: u64 = records.iter().map(|r| r.labeled).sum();
    let mut iou = [0.0; 2];
    for (c, v) in iou.iter_mut().enumerate() {
        let inter: u64 = records.iter().map(|r| r.inter[c]).sum();
        let union: u64 = records.iter().map(|r| r.union[c]).sum();
        *v = inter as f64 / (EPS + union as f64);
    }
    Ok(SegmentationSummary {
        n,
        pix_acc: correct as f64 / (EPS + labeled as f64),
        iou,
        miou: (iou[0] + iou[1]) / 2.0,
        map: records.iter().map(|r| r.ap).sum::<f64>() / n as f64,
        mf1: records.iter().map(|r| r.f1).sum::<f64>() / n as f64,
        mf1_rows: records.iter().map(|r| r.f1_rows).sum::<f64>() / n as f64,
        degenerate: records.iter().filter(|r| r.degenerate).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ap_hand_computed_with_ties() {
        // scores .9(T) .8(F) .8(T) .1(F); P = 2
        // thresholds: .9 -> tp1 seen1 R.5 P1 ; .8 -> tp2 seen3 R1 P2/3 ; .1 -> R1 (no gain)
        // AP = .5*1 + .5*(2/3) = 0.8333…
        let ap = average_precision(&[true, false, true, false], &[0.9, 0.8, 0.8, 0.1]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15, "{ap}");
        // all tied: AP = precision = positives / n
        let ap = average_precision(&[true, false, false, false], &[0.5; 4]).unwrap();
        assert!((ap - 0.25).abs() < 1e-15);
        assert_eq!(
            average_precision(&[false, false], &[0.1, 0.2]).unwrap(),
            0.0
        );
    }

    /// A 2 × 3 image: row 0 truth [1 1 0] / prediction [1 0 0] → F1 = 2·1/(2·1 + 0 + 1) = 2/3;
    /// row 1 truth [0 0 0] / prediction [0 1 0] → no true positive → 0. Row mean 1/3, while the
    /// image F1 is 2·1/(2·1 + 1 + 1) = 1/2.
    #[test]
    fn f1_per_row_reference_by_hand() {
        let gt = [true, true, false, false, false, false];
        let pred = [true, false, false, false, true, false];
        assert!((f1_per_row(&gt, &pred, 2, 3).unwrap() - 1.0 / 3.0).abs() < 1e-15);
        assert!((f1_binary(&gt, &pred).unwrap() - 0.5).abs() < 1e-15);
        // an all-background row with an all-background prediction counts as 0 (zero division)
        assert_eq!(f1_per_row(&[false; 3], &[false; 3], 1, 3).unwrap(), 0.0);
    }

    #[test]
    fn f1_hand_computed_and_zero_division() {
        // tp=1 fp=1 fn=1 -> 2/(2+1+1) = 0.5
        assert_eq!(
            f1_binary(&[true, true, false], &[true, false, true]).unwrap(),
            0.5
        );
        assert_eq!(f1_binary(&[false, false], &[false, false]).unwrap(), 0.0);
        assert_eq!(f1_binary(&[true, false], &[false, false]).unwrap(), 0.0);
    }

    #[test]
    fn record_hand_computed_2x2() {
        // map [0.0, 0.2, 0.6, 1.0] mean 0.45 -> pred fg [F, F, T, T]; gt [0, 1, 1, 1]
        let r = segmentation_record("x", &[0.0, 0.2, 0.6, 1.0], &[0, 1, 1, 1], 2, 2).unwrap();
        assert!((r.threshold.unwrap() - 0.45).abs() < 1e-7);
        assert_eq!(r.correct, 3);
        assert_eq!(r.labeled, 4);
        assert_eq!(r.inter, [1, 2]);
        // bg: pred 2 + gt 1 - 1 = 2 ; fg: pred 2 + gt 3 - 2 = 3
        assert_eq!(r.union, [2, 3]);
        // F1: tp 2, fp 0, fn 1 -> 4/5
        assert_eq!(r.f1, 0.8);
        // AP layout: scores [1, .8, .4, 0 | 0, .2, .6, 1], truth [T F F F | F T T T], P = 4
        // desc thresholds: 1 (2 items, both T) R .5 P 1 ; .8 (F) ; .6 (T) R .75 P 3/4 ;
        // .4 (F) ; .2 (T) R 1 P 4/6 ; 0 (F, F) no gain -> AP = .5 + .25*.75 + .25*(2/3)
        let expected = 0.5 + 0.25 * 0.75 + 0.25 * (2.0 / 3.0);
        assert!((r.ap - expected).abs() < 1e-12, "{} vs {}", r.ap, expected);
        assert!(!r.degenerate);
    }

    #[test]
    fn constant_raw_map_reproduces_reference_nan_path() {
        let r =
            segmentation_record_from_raw("const", &[0.3; 6], &[0, 1, 1, 0, 0, 0], 2, 3).unwrap();
        assert!(r.degenerate);
        assert_eq!(r.threshold, None);
        assert_eq!(r.inter, [4, 0]);
        assert_eq!(r.union, [6, 2]);
        assert_eq!(r.correct, 4);
        assert_eq!(r.ap, 0.5);
        assert_eq!(r.f1, 0.0);
        // a constant *normalised* map (all zeros) is evaluated as given: all background, but its
        // AP scores are (1, 0) per pixel, not the reference's NaN -> (0, 0)
        let z = segmentation_record("zeros", &[0.0; 6], &[0, 1, 1, 0, 0, 0], 2, 3).unwrap();
        assert_eq!((z.inter, z.union, z.correct), ([4, 0], [6, 2], 4));
        // scores [1 x6 | 0 x6], truth [gt==0 | gt==1]: threshold 1 -> tp 4 of 6 seen, R 4/6 ... = 4/6*4/6 + 2/6*6/12
        let expected = (4.0 / 6.0) * (4.0 / 6.0) + (2.0 / 6.0) * 0.5;
        assert!((z.ap - expected).abs() < 1e-12);
    }

    #[test]
    fn raw_map_is_normalised_first() {
        let raw = [2.0, 2.4, 3.2, 4.0];
        let a = segmentation_record_from_raw("r", &raw, &[0, 1, 1, 1], 2, 2).unwrap();
        let b = segmentation_record("r", &[0.0, 0.2, 0.6, 1.0], &[0, 1, 1, 1], 2, 2).unwrap();
        assert_eq!((a.inter, a.union, a.f1), (b.inter, b.union, b.f1));
        assert!((a.ap - b.ap).abs() < 1e-6);
    }

    #[test]
    fn aggregate_hand_computed() {
        let a = segmentation_record("a", &[0.0, 0.2, 0.6, 1.0], &[0, 1, 1, 1], 2, 2).unwrap();
        let b = segmentation_record_from_raw("b", &[0.3; 6], &[0, 1, 1, 0, 0, 0], 2, 3).unwrap();
        let s = aggregate(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(s.n, 2);
        assert!((s.pix_acc - 7.0 / 10.0).abs() < 1e-15);
        assert!((s.iou[0] - 5.0 / 8.0).abs() < 1e-15);
        assert!((s.iou[1] - 2.0 / 5.0).abs() < 1e-15);
        assert!((s.miou - (5.0 / 8.0 + 0.4) / 2.0).abs() < 1e-15);
        assert!((s.map - (a.ap + 0.5) / 2.0).abs() < 1e-15);
        assert!((s.mf1 - 0.4).abs() < 1e-15);
        assert_eq!(s.degenerate, 1);
        assert_eq!(aggregate(&[]), Err(SegmentationError::Empty));
    }

    #[test]
    fn input_errors() {
        assert!(matches!(
            segmentation_record("m", &[0.0; 4], &[0, 1, 2, 0], 2, 2),
            Err(SegmentationError::MaskValue {
                index: 2,
                value: 2,
                ..
            })
        ));
        assert!(matches!(
            segmentation_record("m", &[0.0; 4], &[0, 1, 0], 2, 2),
            Err(SegmentationError::MaskShape {
                expected: 4,
                got: 3,
                ..
            })
        ));
        let err =
            segmentation_record("nan-map", &[0.0, f32::NAN, 0.0, 0.0], &[0; 4], 2, 2).unwrap_err();
        assert!(err.to_string().contains("nan-map"));
    }
}
