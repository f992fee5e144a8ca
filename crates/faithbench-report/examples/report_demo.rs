//! Renders one example of every report artefact into a directory, for eyeballing:
//! `cargo run --release -p faithbench-report --example report_demo -- /tmp/report-demo`.
//!
//! Writes `summary.csv`, `summary.md`, `diff.md`, `curves.{png,svg}`, `bars.{png,svg}`,
//! `overlay.png`, `panels.png`, `index.html` (gallery) and `tokens.html`.

use std::collections::HashMap;
use std::path::PathBuf;

use faithbench_report::overlay::{gallery_html, heatmap_overlay, side_by_side, GalleryItem};
use faithbench_report::plot::{plot_bars_with_ci, plot_curves, Curve};
use faithbench_report::table::{
    diff_markdown, summary_markdown, write_summary_csv, Direction, SummaryRow, ToleranceSpec,
};
use faithbench_report::tokens_html::token_heatmap_html;
use image::{Rgb, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "report-demo".into()),
    );
    std::fs::create_dir_all(&out)?;

    // tables
    let methods = [
        "rollout",
        "transformer-attr",
        "ours-tokentm",
        "raw-attention",
    ];
    let mut rows = Vec::new();
    for (k, m) in methods.iter().enumerate() {
        let v = 0.15 + 0.05 * k as f64;
        rows.push(row("perturbation", m, "auc_positive", v));
        rows.push(row("perturbation", m, "auc_negative", 0.6 - v / 2.0));
        rows.push(row("segmentation", m, "miou", 0.4 + 0.06 * k as f64));
    }
    write_summary_csv(out.join("summary.csv"), &rows)?;
    let dirs: HashMap<String, Direction> = [
        ("auc_positive", Direction::LowerBetter),
        ("auc_negative", Direction::HigherBetter),
        ("miou", Direction::HigherBetter),
    ]
    .into_iter()
    .map(|(k, d)| (k.to_string(), d))
    .collect();
    std::fs::write(out.join("summary.md"), summary_markdown(&rows, &dirs))?;
    let mut cand = rows.clone();
    cand[0].value += 0.01;
    cand.pop();
    let (md, ok) = diff_markdown(&rows, &cand, &ToleranceSpec::uniform(1e-3, 0.0))?;
    std::fs::write(out.join("diff.md"), md)?;
    println!("diff passed: {ok}");

    // curves
    let xs: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
    let curves: Vec<Curve> = methods
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let ys: Vec<f64> = xs
                .iter()
                .map(|x| 0.8 * (1.0 - x).powf(1.0 + k as f64))
                .collect();
            Curve {
                label: m.to_string(),
                band: Some((
                    ys.iter().map(|y| y - 0.03).collect(),
                    ys.iter().map(|y| y + 0.03).collect(),
                )),
                xs: xs.clone(),
                ys,
            }
        })
        .collect();
    plot_curves(
        out.join("curves"),
        "Positive perturbation (ViT-B)",
        "fraction of tokens removed",
        "top-1 accuracy",
        &curves,
    )?;
    let bars: Vec<(&str, f64, f64, f64)> = methods
        .iter()
        .enumerate()
        .map(|(k, m)| {
            (
                *m,
                0.4 + 0.06 * k as f64,
                0.37 + 0.06 * k as f64,
                0.43 + 0.06 * k as f64,
            )
        })
        .collect();
    plot_bars_with_ci(out.join("bars"), "Segmentation mIoU", "mIoU", &bars)?;

    // overlay on a synthetic 224×224 image
    let (w, h) = (224u32, 224u32);
    let img = RgbImage::from_fn(w, h, |x, y| {
        let inside = (x as i32 - 140).pow(2) + (y as i32 - 90).pow(2) < 45 * 45;
        if inside {
            Rgb([200, 170, 60])
        } else {
            Rgb([(x / 2) as u8 + 40, (y / 2) as u8 + 40, 120])
        }
    });
    let map: Vec<f32> = (0..h)
        .flat_map(|y| {
            (0..w).map(move |x| {
                let d2 = (x as f32 - 140.0).powi(2) + (y as f32 - 90.0).powi(2);
                (-d2 / (2.0 * 35.0f32.powi(2))).exp()
            })
        })
        .collect();
    let ov = heatmap_overlay(&img, &map)?;
    ov.save(out.join("overlay.png"))?;
    let panels = side_by_side(
        &[img.clone(), ov.clone(), ov],
        &[
            "input",
            "ours-tokentm",
            "a rather long explainer name that will not fit",
        ],
    )?;
    panels.save(out.join("panels.png"))?;
    let items = vec![
        GalleryItem {
            image: "overlay.png".into(),
            sample_id: "ILSVRC2012_val_00000001".into(),
            label: "snake".into(),
            explainer: "ours-tokentm".into(),
        },
        GalleryItem {
            image: "panels.png".into(),
            sample_id: "ILSVRC2012_val_00000001".into(),
            label: "snake".into(),
            explainer: "all".into(),
        },
    ];
    gallery_html(&out, "faithbench demo gallery", &items)?;

    // token heat map
    let tokens: Vec<String> = [
        "[CLS]",
        "this",
        "movie",
        "was",
        "absolutely",
        "un",
        "##believ",
        "##able",
        "!",
        "the",
        "acting",
        "<script>",
        "was",
        "terrible",
        ",",
        "but",
        "the",
        "plot",
        "kept",
        "me",
        "hooked",
        "until",
        "the",
        "end",
        ".",
        "[SEP]",
        "[PAD]",
        "[PAD]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let scores: Vec<f32> = vec![
        2.5, 0.02, 0.3, 0.05, 0.7, 0.9, 1.0, 0.8, 0.1, 0.01, 0.35, 0.2, 0.04, 0.95, 0.0, 0.15,
        0.01, 0.4, 0.2, 0.05, 0.6, 0.1, 0.02, 0.12, 0.0, -1.0, 0.0, 0.0,
    ];
    let meta = vec![
        ("model".to_string(), "bert-base-uncased (SST-2)".to_string()),
        ("label".to_string(), "positive".to_string()),
        ("prediction".to_string(), "positive (0.93)".to_string()),
        ("explainer".to_string(), "ours-tokentm".to_string()),
    ];
    std::fs::write(
        out.join("tokens.html"),
        token_heatmap_html("Token attribution — sample 17", &tokens, &scores, &meta)?,
    )?;
    println!("wrote {}", out.display());
    Ok(())
}

fn row(ev: &str, ex: &str, m: &str, v: f64) -> SummaryRow {
    SummaryRow {
        evaluator: ev.into(),
        explainer: ex.into(),
        metric: m.into(),
        value: v,
        ci_low: v - 0.02,
        ci_high: v + 0.02,
        n: 500,
        published: None,
    }
}
