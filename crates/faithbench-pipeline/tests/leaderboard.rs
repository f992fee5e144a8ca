//! `faithbench report` end to end on a small run of the tiny fixture ViT (32×32, patch 8): the
//! first 9 images of the shipped faithbench-shapes (positive perturbation) and the `gtsegs_small.mat` fixture
//! (segmentation), three explainers (Ours-H with 3 IG steps, rollout, random). The run is made
//! once and copied per test.
//!
//! Covers: the leaderboard files in the run folder, which metrics are ranked, values from the
//! summary, the paired p-value against `stats` on the id-aligned records (also after records are
//! reordered and one is dropped), the corrections, every table id in the page, every image the
//! Markdown and the HTML reference present in the output folder, several runs (`--out` needed,
//! images copied, runs compared separately), and bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use faithbench_eval::stats::{paired_difference_ci, BootstrapConfig};
use faithbench_pipeline::leaderboard::{report, Correction, ReportOptions};
use faithbench_pipeline::{run, ErrorKind, RunOptions};
use faithbench_report::leaderboard::Leaderboard;
use faithbench_report::table::read_summary_csv;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The shared run folder (made once).
fn fixture() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tiny.toml");
        let repo = repo();
        std::fs::write(
            &config,
            format!(
                r#"
[run]
name = "tiny"
batch_size = 4
gallery = 2
bootstrap_resamples = 200

[model]
dir = "{model}"

[datasets.val]
kind = "imagenet_val"
root = "{shapes}"
limit = 9

[datasets.seg]
kind = "imagenet_seg"
path = "{seg}"

[[explainers]]
label = "Ours-H"
method = "ours_h"
steps = 3

[[explainers]]
method = "rollout"

[[explainers]]
method = "random"
seed = 0

[[evaluators]]
kind = "perturbation"
dataset = "val"
mode = "positive"

[[evaluators]]
kind = "segmentation"
dataset = "seg"
"#,
                model = repo.join("fixtures/models/timm_vit_cls").display(),
                shapes = repo.join("datasets/shapes").display(),
                seg = repo.join("fixtures/data/gtsegs_small.mat").display(),
            ),
        )
        .unwrap();
        let mut opts = RunOptions::default();
        opts.overrides.out_dir = Some(dir.path().join("run"));
        let outcome = run(&config, &opts, &mut |_| {}).expect("tiny run");
        (dir, outcome.out_dir)
    });
    out
}

/// A copy of the shared run folder at `to`.
fn copy_run(to: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                copy(&p, &to.join(e.file_name()));
            } else {
                std::fs::copy(&p, to.join(e.file_name())).unwrap();
            }
        }
    }
    copy(fixture(), to);
    to.to_path_buf()
}

fn opts(out: Option<PathBuf>) -> ReportOptions {
    ReportOptions {
        out,
        resamples: 500,
        ..ReportOptions::default()
    }
}

/// Percent-decoding of the page's relative URLs.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The values of `attr="…"` after every `tag` in `text`.
fn attrs(text: &str, tag: &str, attr: &str) -> Vec<String> {
    text.match_indices(tag)
        .filter_map(|(i, _)| {
            let rest = &text[i..];
            let end = rest.find('>')?;
            let el = &rest[..end];
            let k = el.find(&format!("{attr}=\""))? + attr.len() + 2;
            let v = &el[k..];
            Some(v[..v.find('"')?].to_string())
        })
        .collect()
}

/// Every image of the HTML page and of the Markdown exists under `out`; returns the count.
fn images_exist(out: &Path, lb: &Leaderboard) -> usize {
    let html = std::fs::read_to_string(out.join("leaderboard.html")).unwrap();
    let md = std::fs::read_to_string(out.join("leaderboard.md")).unwrap();
    let srcs = attrs(&html, "<img ", "src");
    assert_eq!(srcs.len(), lb.images().len());
    for s in &srcs {
        assert!(!s.contains("://") && !s.starts_with('/'), "relative: {s}");
        let p = out.join(decode(s));
        assert!(p.is_file(), "missing image {}", p.display());
    }
    let mut md_images = 0;
    for (i, _) in md.match_indices("![") {
        let rest = &md[i..];
        let open = rest.find("](").unwrap() + 2;
        let close = rest[open..].find(')').unwrap();
        let p = out.join(decode(&rest[open..open + close]));
        assert!(p.is_file(), "missing Markdown image {}", p.display());
        md_images += 1;
    }
    assert_eq!(
        md_images,
        lb.sections.iter().map(|s| s.plots.len()).sum::<usize>()
    );
    srcs.len()
}

/// Every table id of the leaderboard is a `<table id>` of the page exactly once, and the page
/// has no other table; the Markdown has an anchor for each but the galleries'.
fn tables_present(out: &Path, lb: &Leaderboard) {
    let html = std::fs::read_to_string(out.join("leaderboard.html")).unwrap();
    let md = std::fs::read_to_string(out.join("leaderboard.md")).unwrap();
    let ids = lb.table_ids();
    assert_eq!(attrs(&html, "<table", "id"), ids);
    for id in ids.iter().filter(|i| !i.starts_with("gallery-")) {
        assert!(md.contains(&format!("<a id=\"{id}\"></a>")), "{id}");
    }
    assert!(!html.contains("<script") && !html.contains("http"));
}

#[test]
fn one_run_gets_its_leaderboard_in_the_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_run(&tmp.path().join("run"));
    std::fs::remove_file(dir.join("summary.csv")).unwrap();
    let o = report(std::slice::from_ref(&dir), &opts(None)).expect("report");
    // the old behaviour: the summary is rebuilt from the records
    let rows = read_summary_csv(dir.join("summary.csv")).unwrap();
    assert_eq!(
        std::fs::read(dir.join("summary.csv")).unwrap(),
        std::fs::read(fixture().join("summary.csv")).unwrap()
    );
    for f in ["leaderboard.md", "leaderboard.html", "leaderboard.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert_eq!(o.html, dir.join("leaderboard.html"));
    let lb = &o.leaderboard;
    // the leaderboard metrics: perturbation's AUC; segmentation without mf1_rows_reference
    let tables: Vec<(String, Vec<String>)> = lb
        .sections
        .iter()
        .map(|s| {
            (
                s.evaluator.clone(),
                s.tables.iter().map(|t| t.metric.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        tables,
        [
            (
                "perturbation_positive_predicted".to_string(),
                vec!["auc".to_string()]
            ),
            (
                "segmentation".to_string(),
                ["pixel_accuracy", "miou", "map", "mf1"]
                    .map(String::from)
                    .to_vec()
            ),
        ]
    );
    let value = |e: &str, x: &str, m: &str| {
        rows.iter()
            .find(|r| r.evaluator == e && r.explainer == x && r.metric == m)
            .unwrap_or_else(|| panic!("{e} {x} {m}"))
            .clone()
    };
    for s in &lb.sections {
        for t in &s.tables {
            assert_eq!(t.rankings.len(), 1);
            let r = &t.rankings[0];
            assert_eq!(r.run, "tiny");
            assert_eq!(r.entries.len(), 3);
            assert_eq!(r.tests.len(), 3, "3 pairs of 3 explainers");
            for (i, e) in r.entries.iter().enumerate() {
                let row = value(&s.evaluator, &e.explainer, &t.metric);
                // the summary's value and CI (the CSV has 6 decimals)
                assert!(
                    (e.value - row.value).abs() < 1e-6,
                    "{} {}",
                    e.value,
                    row.value
                );
                assert!((e.ci_low - row.ci_low).abs() < 1e-6);
                assert!((e.ci_high - row.ci_high).abs() < 1e-6);
                assert_eq!(e.n, row.n);
                if i > 0 {
                    let prev = &r.entries[i - 1];
                    assert!(
                        !t.direction.better(e.value, prev.value),
                        "sorted best first"
                    );
                    assert_eq!(e.rank > prev.rank, e.value != prev.value);
                }
                assert!(!e.group.is_empty());
            }
            for p in &r.tests {
                assert!(p.p > 0.0 && p.p <= 1.0, "{}", p.p);
                assert!(p.p >= 2.0 / 501.0 - 1e-15, "the floor 2/(B + 1)");
                assert!(p.p_adjusted >= p.p && p.p_adjusted <= 1.0);
                assert_eq!(p.significant, p.p_adjusted < 0.05);
                // oriented: A ranked above B, so A − B is not worse than 0
                let sign = if t.direction == faithbench_eval::Direction::HigherBetter {
                    1.0
                } else {
                    -1.0
                };
                assert!(sign * p.diff >= -1e-12, "{} − {} = {}", p.a, p.b, p.diff);
            }
        }
    }
    // the p-value of a mean metric against stats on the id-aligned records
    let map = &lb.sections[1].tables[2];
    let plan_seed = 0;
    let ap = |x: &str| -> BTreeMap<String, f64> {
        std::fs::read_to_string(dir.join(format!("records/segmentation__{x}.jsonl")))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["sample_id"].as_str().unwrap().to_string(),
                    v["ap"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let cfg = BootstrapConfig {
        resamples: 500,
        confidence: 0.95,
        seed: plan_seed,
    };
    let check_pair = |lb: &Leaderboard, n_want: usize| {
        let t = lb.sections[1]
            .tables
            .iter()
            .find(|t| t.metric == "map")
            .unwrap();
        let test = t.rankings[0]
            .tests
            .iter()
            .find(|p| {
                (p.a == "Ours-H" && p.b == "rollout") || (p.a == "rollout" && p.b == "Ours-H")
            })
            .unwrap();
        let (a, b) = (ap(&test.a), ap(&test.b));
        let common: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
        assert_eq!(common.len(), n_want);
        let va: Vec<f64> = common.iter().map(|k| a[*k]).collect();
        let vb: Vec<f64> = common.iter().map(|k| b[*k]).collect();
        let want = paired_difference_ci(&va, &vb, &cfg).unwrap();
        assert_eq!(test.p, want.difference.p_zero);
        assert!((test.diff - want.difference.estimate).abs() < 1e-12);
        assert_eq!(test.n, n_want);
        test.p
    };
    assert_eq!(map.metric, "map");
    let p_full = check_pair(lb, 4);
    images_exist(&dir, lb);
    tables_present(&dir, lb);
    let html = std::fs::read_to_string(&o.html).unwrap();
    assert!(html.contains("Holm–Bonferroni step-down (<code>holm</code>)"));
    assert!(!html.contains("only within a run"), "one run");
    // plots and overlays are referenced inside the run folder, not copied
    assert!(!dir.join("leaderboard_files").exists());
    assert!(lb.images().iter().any(|i| i.starts_with("plots/")));
    assert!(lb.images().iter().any(|i| i.starts_with("gallery/seg/")));
    assert_eq!(lb.galleries.len(), 2, "val and seg");
    assert_eq!(lb.galleries[0].columns.len(), 3);
    assert_eq!(lb.galleries[0].rows.len(), 2, "gallery = 2");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&o.json).unwrap()).unwrap();
    assert_eq!(
        json["table_ids"].as_array().unwrap().len(),
        lb.table_ids().len()
    );
    assert_eq!(json["images"].as_array().unwrap().len(), lb.images().len());
    assert_eq!(json["leaderboard"]["tests"]["correction"], "holm");

    // pairing by sample id: rollout's records reversed and one dropped
    let rp = dir.join("records/segmentation__rollout.jsonl");
    let text = std::fs::read_to_string(&rp).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    lines.remove(0);
    std::fs::write(&rp, lines.join("\n") + "\n").unwrap();
    let o2 = report(std::slice::from_ref(&dir), &opts(None)).expect("report");
    let p_three = check_pair(&o2.leaderboard, 3);
    assert!(p_three > 0.0 && p_full > 0.0);

    // no correction: adjusted = raw; Bonferroni: 3 × raw (capped)
    let tests = |correction| {
        let o = report(
            std::slice::from_ref(&dir),
            &ReportOptions {
                correction,
                ..opts(None)
            },
        )
        .unwrap();
        o.leaderboard.sections[1].tables[0].rankings[0]
            .tests
            .clone()
    };
    let none = tests(Correction::None);
    let bonf = tests(Correction::Bonferroni);
    for (tn, tb) in none.iter().zip(&bonf) {
        assert_eq!(tn.p_adjusted, tn.p);
        assert_eq!(tb.p, tn.p);
        assert!((tb.p_adjusted - (3.0 * tn.p).min(1.0)).abs() < 1e-12);
    }
    let md = std::fs::read_to_string(dir.join("leaderboard.md")).unwrap();
    assert!(
        md.contains("corrected by Bonferroni (`bonferroni`)"),
        "the last report wins"
    );
}

#[test]
fn several_runs_need_out_copy_their_images_and_rank_separately() {
    let tmp = tempfile::tempdir().unwrap();
    let a = copy_run(&tmp.path().join("a"));
    let b = copy_run(&tmp.path().join("b"));
    let e = report(&[a.clone(), b.clone()], &opts(None)).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains("--out"), "{e}");
    let out = tmp.path().join("board");
    let o = report(&[a.clone(), b.clone()], &opts(Some(out.clone()))).expect("report");
    let lb = &o.leaderboard;
    let labels: Vec<&str> = lb.runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["tiny (a)", "tiny (b)"]);
    for s in &lb.sections {
        for t in &s.tables {
            let runs: Vec<&str> = t.rankings.iter().map(|r| r.run.as_str()).collect();
            assert_eq!(runs, ["tiny (a)", "tiny (b)"]);
            // the same records: the same ranking and tests in both runs
            assert_eq!(t.rankings[0].entries, t.rankings[1].entries);
            assert_eq!(t.rankings[0].tests, t.rankings[1].tests);
            assert_eq!(t.rankings[0].tests.len(), 3, "tests stay within a run");
        }
    }
    let n = images_exist(&out, lb);
    assert!(n > 0);
    for i in lb.images() {
        assert!(
            i.starts_with("leaderboard_files/1-tiny__a_/")
                || i.starts_with("leaderboard_files/2-tiny__b_/"),
            "{i}"
        );
    }
    tables_present(&out, lb);
    let html = std::fs::read_to_string(out.join("leaderboard.html")).unwrap();
    let md = std::fs::read_to_string(out.join("leaderboard.md")).unwrap();
    assert!(
        html.contains("compared only within a run") && md.contains("compared only within a run")
    );
    assert!(html.contains("<th>run</th>"));
    assert!(
        !a.join("leaderboard.html").exists(),
        "the runs keep no leaderboard of their own"
    );
    // a second report replaces the copies of the first
    let stale = out.join("leaderboard_files/stale.png");
    std::fs::write(&stale, "old").unwrap();
    report(&[a.clone(), b.clone()], &opts(Some(out.clone()))).expect("report again");
    assert!(!stale.exists());
    // the page still shows its images when the run folders are gone
    std::fs::remove_dir_all(&a).unwrap();
    images_exist(&out, lb);
}

#[test]
fn bad_folders_are_input_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let e = report(std::slice::from_ref(&missing), &opts(None))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains("nope: no such run folder"), "{e}");
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let e = report(std::slice::from_ref(&plain), &opts(None))
        .err()
        .unwrap();
    assert!(e.to_string().contains("plain: not a run folder"), "{e}");
    // a run folder without records
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(
        fixture().join("resolved_config.json"),
        empty.join("resolved_config.json"),
    )
    .unwrap();
    let e = report(std::slice::from_ref(&empty), &opts(None))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains("empty: no records to report"), "{e}");
    assert!(!empty.join("leaderboard.html").exists());
    let e = report(
        std::slice::from_ref(&empty),
        &ReportOptions {
            alpha: 0.0,
            ..opts(None)
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("--alpha 0"), "{e}");
}
