//! The `faithbench check` workflow through the public API: write a baseline summary,
//! read it back, compare a candidate, render the report artefacts.

use std::collections::HashMap;

use faithbench_report::plot::{plot_bars_with_ci, plot_curves, Curve};
use faithbench_report::table::{
    read_summary_csv, summary_markdown, write_summary_csv, DiffStatus, Direction, SummaryDiff,
    SummaryRow, ToleranceSpec,
};

fn row(explainer: &str, metric: &str, value: f64) -> SummaryRow {
    SummaryRow {
        evaluator: "perturbation".into(),
        explainer: explainer.into(),
        metric: metric.into(),
        value,
        ci_low: value - 0.01,
        ci_high: value + 0.01,
        n: 100,
        published: None,
    }
}

#[test]
fn baseline_roundtrip_and_regression_check() {
    let dir = std::env::temp_dir().join("faithbench-report-it-check");
    let _ = std::fs::remove_dir_all(&dir);
    let baseline = vec![
        row("rollout", "auc_positive", 0.31),
        row("ours", "auc_positive", 0.21),
        row("ours", "auc_negative", 0.55),
    ];
    let path = dir.join("results/baseline/summary.csv");
    write_summary_csv(&path, &baseline).unwrap();
    let read = read_summary_csv(&path).unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].explainer, "ours"); // sorted by (evaluator, metric, explainer)
    assert_eq!(read[0].metric, "auc_negative");

    // identical candidate passes at the CSV precision
    let same = SummaryDiff::compute(&read, &baseline, &ToleranceSpec::default()).unwrap();
    assert!(same.passed());

    // a drifted candidate fails and names the culprit
    let mut cand = baseline.clone();
    cand[1].value = 0.25;
    let diff = SummaryDiff::compute(&read, &cand, &ToleranceSpec::uniform(0.01, 0.0)).unwrap();
    assert!(!diff.passed());
    let failures = diff.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].explainer, "ours");
    assert_eq!(failures[0].metric, "auc_positive");
    assert_eq!(failures[0].status, DiffStatus::Fail);
    assert!(diff.to_markdown().contains("**FAIL**"));

    let dirs: HashMap<String, Direction> =
        [("auc_positive".to_string(), Direction::LowerBetter)].into();
    let md = summary_markdown(&read, &dirs);
    assert!(md.contains("| ours | 0.5500 [0.5400, 0.5600] | **0.2100 [0.2000, 0.2200]** |"));

    let files = plot_curves(
        dir.join("plots/curves"),
        "t",
        "x",
        "y",
        &[Curve {
            label: "ours".into(),
            xs: vec![0.0, 0.5, 1.0],
            ys: vec![0.8, 0.3, 0.0],
            band: None,
        }],
    )
    .unwrap();
    assert!(files.png.is_file() && files.svg.is_file());
    let bars = plot_bars_with_ci(
        dir.join("plots/bars"),
        "t",
        "AUC",
        &[("ours", 0.2, 0.19, 0.21)],
    )
    .unwrap();
    assert!(bars.png.is_file() && bars.svg.is_file());
}
