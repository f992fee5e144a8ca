//! `kind = "segmentation"`: the ImageNet-Segmentation test (protocols §4.2). Explains the
//! predicted class (pitfall P12), thresholds the min–max normalised map at its mean and scores
//! it against the mask; see [`crate::segmentation`] for the metrics themselves.
//!
//! Summary metrics: `pixel_accuracy` and `miou` (micro totals as in the reference; CI: bootstrap
//! of the same ratio on resampled images), `map`, `mf1` (means over images), and
//! `mf1_rows_reference`, the reference script's row-wise F1 (pitfall P18; the paper's mF1
//! column), next to the per-image `mf1`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_data::{Capability, Modality};

use crate::evaluator::{
    config, EvalChunk, EvalError, EvalResult, Evaluator, EvaluatorInfo, PairNames, Protocol,
    ResolveContext, Resolved,
};
use crate::perturbation::ExplainedClass;
use crate::segmentation::{aggregate, segmentation_record_from_raw, SegmentationRecord, EPS};
use crate::stats::{
    bootstrap_curve_statistic, bootstrap_mean_ci, paired_curve_statistic_difference,
    paired_difference_ci, BootstrapConfig,
};
use crate::summary::{
    Comparison, ComparisonLine, Curve, Direction, Figure, PairSummary, SummaryRow,
};

/// One line of a segmentation records file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationLine {
    /// The counts and scores of the image.
    #[serde(flatten)]
    pub record: SegmentationRecord,
    /// The explained (= predicted) class.
    pub explained_class: usize,
}

/// `[[evaluators]] kind = "segmentation"` has no keys of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {}

/// The segmentation evaluator.
#[derive(Debug, Clone, Default)]
pub struct Segmentation;

/// Registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "segmentation",
    summary: "ImageNet-Segmentation: the min–max map thresholded at its mean against the foreground mask; explains the predicted class",
    protocol: "protocols §4.2",
    modality: Modality::Image,
    needs: &[Capability::Masks],
    metrics: "pixel_accuracy, miou, map, mf1, mf1_rows_reference",
    example: "{}",
    tolerances: &[
        ("pixel_accuracy", 0.005),
        ("miou", 0.005),
        ("map", 0.005),
        ("mf1", 0.005),
        ("mf1_rows_reference", 0.005),
    ],
    resolve,
    default_name: |_| "segmentation".into(),
    build: |_| Ok(Box::new(Segmentation) as Box<dyn Evaluator>),
};

fn resolve(table: &Map<String, Value>, _: &ResolveContext<'_>) -> EvalResult<Resolved> {
    let _: Keys = config("segmentation", table)?;
    Ok(Resolved {
        settings: Value::Object(Map::new()),
        options: Value::Null,
    })
}

fn pix_acc(c: &[f64]) -> Result<f64, String> {
    Ok(c[0] / (EPS + c[1]))
}

fn miou(c: &[f64]) -> Result<f64, String> {
    Ok((c[0] / (EPS + c[2]) + c[1] / (EPS + c[3])) / 2.0)
}

/// Per-image count vectors for the micro pixel accuracy: `[correct, labeled]`.
fn pix_counts(recs: &[SegmentationRecord]) -> Vec<Vec<f64>> {
    recs.iter()
        .map(|r| vec![r.correct as f64, r.labeled as f64])
        .collect()
}

/// Per-image count vectors for mIoU: `[inter_bg, inter_fg, union_bg, union_fg]`.
fn iou_counts(recs: &[SegmentationRecord]) -> Vec<Vec<f64>> {
    recs.iter()
        .map(|r| {
            vec![
                r.inter[0] as f64,
                r.inter[1] as f64,
                r.union[0] as f64,
                r.union[1] as f64,
            ]
        })
        .collect()
}

fn records(lines: &[SegmentationLine]) -> Vec<SegmentationRecord> {
    lines.iter().map(|l| l.record.clone()).collect()
}

impl Protocol for Segmentation {
    type Record = SegmentationLine;

    fn kind(&self) -> &'static str {
        EVALUATOR.kind
    }

    fn explained(&self) -> ExplainedClass {
        ExplainedClass::Predicted
    }

    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<SegmentationLine>> {
        let c = chunk.image(EVALUATOR.kind)?;
        c.samples
            .iter()
            .map(|s| {
                let mask = s.mask.ok_or_else(|| EvalError::Sample {
                    sample_id: s.id.to_string(),
                    message: "has no mask".into(),
                })?;
                let record = segmentation_record_from_raw(s.id, s.map, mask, c.height, c.width)
                    .map_err(EvalError::protocol)?;
                Ok(SegmentationLine {
                    record,
                    explained_class: s.explained_class,
                })
            })
            .collect()
    }

    fn summarise(
        &self,
        names: PairNames<'_>,
        lines: &[SegmentationLine],
        cfg: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        let recs = records(lines);
        let s = aggregate(&recs).map_err(EvalError::protocol)?;
        let pix_ci = bootstrap_curve_statistic(&pix_counts(&recs), pix_acc, cfg)
            .map_err(EvalError::protocol)?;
        let iou_ci = bootstrap_curve_statistic(&iou_counts(&recs), miou, cfg)
            .map_err(EvalError::protocol)?;
        let ap: Vec<f64> = recs.iter().map(|r| r.ap).collect();
        let f1: Vec<f64> = recs.iter().map(|r| r.f1).collect();
        let f1_rows: Vec<f64> = recs.iter().map(|r| r.f1_rows).collect();
        Ok(PairSummary {
            rows: vec![
                names.row("pixel_accuracy", s.pix_acc, &pix_ci),
                names.row("miou", s.miou, &iou_ci),
                names.row(
                    "map",
                    s.map,
                    &bootstrap_mean_ci(&ap, cfg).map_err(EvalError::protocol)?,
                ),
                names.row(
                    "mf1",
                    s.mf1,
                    &bootstrap_mean_ci(&f1, cfg).map_err(EvalError::protocol)?,
                ),
                names.row(
                    "mf1_rows_reference",
                    s.mf1_rows,
                    &bootstrap_mean_ci(&f1_rows, cfg).map_err(EvalError::protocol)?,
                ),
            ],
            curves: Vec::new(),
        })
    }

    /// Pixel accuracy, mIoU, mAP and mF1; `mf1_rows_reference` (the reference script's row-wise
    /// F1, kept to match the published column) repeats mF1 under another averaging.
    fn on_leaderboard(&self, metric: &str) -> bool {
        metric != "mf1_rows_reference"
    }

    fn direction(&self, _: &str) -> Direction {
        Direction::HigherBetter
    }

    fn describe(&self) -> String {
        "*segmentation; explains the predicted class; threshold = mean of the min–max normalised map.*\n"
            .into()
    }

    fn figures(&self, name: &str, stem: &str, rows: &[SummaryRow], _: &[Curve]) -> Vec<Figure> {
        let bars: Vec<(String, f64, f64, f64)> = rows
            .iter()
            .filter(|r| r.metric == "miou")
            .map(|r| (r.explainer.clone(), r.value, r.ci_low, r.ci_high))
            .collect();
        if bars.is_empty() {
            return Vec::new();
        }
        vec![Figure::Bars {
            file: format!("{stem}_miou"),
            title: format!("{name} — mIoU"),
            value_label: "mIoU".into(),
            bars,
        }]
    }

    fn compare(
        &self,
        _: PairNames<'_>,
        a: &[SegmentationLine],
        b: &[SegmentationLine],
        cfg: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        let (ra, rb) = (records(a), records(b));
        let sa = aggregate(&ra).map_err(EvalError::protocol)?;
        let sb = aggregate(&rb).map_err(EvalError::protocol)?;
        let mut out = Comparison::default();
        let d = paired_curve_statistic_difference(&pix_counts(&ra), &pix_counts(&rb), pix_acc, cfg)
            .map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "pixel_accuracy".into(),
            a: sa.pix_acc,
            b: sb.pix_acc,
            diff: d,
            p: None,
        });
        let d = paired_curve_statistic_difference(&iou_counts(&ra), &iou_counts(&rb), miou, cfg)
            .map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "miou".into(),
            a: sa.miou,
            b: sb.miou,
            diff: d,
            p: None,
        });
        let ap = |r: &[SegmentationRecord]| r.iter().map(|x| x.ap).collect::<Vec<_>>();
        let f1 = |r: &[SegmentationRecord]| r.iter().map(|x| x.f1).collect::<Vec<_>>();
        let pc = paired_difference_ci(&ap(&ra), &ap(&rb), cfg).map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "map".into(),
            a: sa.map,
            b: sb.map,
            diff: pc.difference,
            p: Some(pc.p_value),
        });
        let pc = paired_difference_ci(&f1(&ra), &f1(&rb), cfg).map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "mf1".into(),
            a: sa.mf1,
            b: sb.mf1,
            diff: pc.difference,
            p: Some(pc.p_value),
        });
        let f1r = |r: &[SegmentationRecord]| r.iter().map(|x| x.f1_rows).collect::<Vec<_>>();
        let pc = paired_difference_ci(&f1r(&ra), &f1r(&rb), cfg).map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "mf1_rows_reference".into(),
            a: sa.mf1_rows,
            b: sb.mf1_rows,
            diff: pc.difference,
            p: Some(pc.p_value),
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two images with hand-counted totals: pixel accuracy (3 + 1) / (4 + 4) = 0.5, IoU of the
    /// foreground 1 / (2 + 2) and of the background 3 / (4 + 2), mIoU = (0.25 + 0.5) / 2.
    #[test]
    fn micro_ratios_by_hand() {
        let rec = |correct, inter: [u64; 2], union: [u64; 2]| SegmentationRecord {
            sample_id: "x".into(),
            height: 2,
            width: 2,
            threshold: Some(0.5),
            degenerate: false,
            correct,
            labeled: 4,
            inter,
            union,
            ap: 1.0,
            f1: 0.0,
            f1_rows: 0.0,
        };
        let recs = vec![rec(3, [2, 1], [3, 2]), rec(1, [1, 0], [3, 2])];
        let pix = pix_counts(&recs);
        let total: Vec<f64> = (0..2).map(|i| pix.iter().map(|c| c[i]).sum()).collect();
        assert!((pix_acc(&total).unwrap() - 0.5).abs() < 1e-12);
        let iou = iou_counts(&recs);
        let total: Vec<f64> = (0..4).map(|i| iou.iter().map(|c| c[i]).sum()).collect();
        assert!((miou(&total).unwrap() - (0.5 + 0.25) / 2.0).abs() < 1e-12);
        let e = resolve(
            serde_json::json!({"x": 1}).as_object().unwrap(),
            &ResolveContext {
                evaluator: "e",
                dataset: "d",
                classes: None,
                text: None,
                image: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`x`"), "{e}");
    }
}
