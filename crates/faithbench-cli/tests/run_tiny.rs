//! End to end through the `faithbench` binary on the tiny fixture ViT (32×32, patch 8, 10 classes):
//! a generated ImageNet-layout folder (perturbation, positive and negative) plus the
//! `gtsegs_small.mat` fixture (segmentation), two explainers (Ours-H with 3 IG steps, rollout).
//!
//! Covers: the outputs of a run, resuming a killed run (also with a partial last record line) to a
//! byte-identical summary, unknown config keys, refusing a run folder of another plan, `check` exit
//! codes, `compare`, `report`, `explain` (image and text) and `list`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{faithbench, ok, repo, status, stderr, stdout};

/// 3 classes × 3 PNGs of varied sizes (resized to 32×32 by the run), deterministic content.
fn make_imagenet(root: &Path) {
    let mut state: u32 = 12345;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    };
    for c in 0..3 {
        let dir = root.join("val").join(format!("n0000000{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..3u32 {
            let (w, h) = (40 + 3 * k, 36 + 2 * c);
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let n = next();
                image::Rgb([
                    (x * 6) as u8 ^ n,
                    (y * 7) as u8,
                    n.wrapping_add((c * 60) as u8),
                ])
            });
            img.save(dir.join(format!("ILSVRC2012_val_0000{c}{k}.png")))
                .unwrap();
        }
        // non-image files are ignored, like torchvision does
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Fixture {
    fn new(extra_run: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        make_imagenet(&dir.path().join("imagenet"));
        let config = dir.path().join("tiny.toml");
        write_config(&config, extra_run, "steps = 3");
        Fixture { dir, config }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn run(&self, out: &str, env: &[(&str, &str)]) -> Output {
        faithbench(
            &[
                "run",
                self.config.to_str().unwrap(),
                "--out",
                self.path(out).to_str().unwrap(),
                "--quiet",
            ],
            env,
        )
    }
}

fn write_config(path: &Path, extra_run: &str, ours_params: &str) {
    let repo = repo();
    let text = format!(
        r#"
[run]
name = "tiny"
batch_size = 2
eval_batch_size = 7
gallery = 3
bootstrap_resamples = 200
{extra_run}

[model]
dir = "{model}"

[datasets.val]
kind = "imagenet_val"
root = "${{CONFIG_DIR}}/imagenet"

[datasets.seg]
kind = "imagenet_seg"
path = "{seg}"

[[explainers]]
label = "Ours-H"
method = "ours_h"
{ours_params}

[[explainers]]
method = "rollout"

[[evaluators]]
kind = "perturbation"
dataset = "val"
mode = "positive"

[[evaluators]]
kind = "perturbation"
dataset = "val"
mode = "negative"

[[evaluators]]
kind = "segmentation"
dataset = "seg"
"#,
        model = repo.join("fixtures/models/timm_vit_cls").display(),
        seg = repo.join("fixtures/data/gtsegs_small.mat").display(),
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn run_writes_every_output_with_expected_summary_rows() {
    let f = Fixture::new("");
    let o = f.run("out", &[]);
    ok(&o);
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "--quiet prints nothing"
    );
    let out = f.path("out");
    for p in [
        "resolved_config.json",
        "manifest.json",
        "summary.csv",
        "summary.md",
        "plots/perturbation_positive_predicted.png",
        "plots/perturbation_positive_predicted.svg",
        "plots/perturbation_negative_predicted.png",
        "plots/perturbation_negative_predicted.svg",
        "plots/segmentation_miou.png",
        "gallery/index.html",
        "gallery/val/00000__Ours-H__predicted.png",
        "gallery/val/00002__rollout__predicted.png",
        "gallery/seg/00002__Ours-H__predicted.png",
        "records/segmentation__rollout.jsonl",
    ] {
        assert!(out.join(p).is_file(), "missing {p}");
    }
    assert!(!out
        .join("gallery/val/00003__Ours-H__predicted.png")
        .exists());
    let mut records = 0;
    for e in [
        "perturbation_positive_predicted",
        "perturbation_negative_predicted",
        "segmentation",
    ] {
        for x in ["Ours-H", "rollout"] {
            let text =
                std::fs::read_to_string(out.join(format!("records/{e}__{x}.jsonl"))).unwrap();
            let want = if e == "segmentation" { 4 } else { 9 };
            assert_eq!(text.lines().count(), want, "{e}__{x}");
            records += want;
        }
    }
    // 2 maps per sample and explainer pair (the two perturbation tests share the predicted-class maps)
    let cached = std::fs::read_dir(out.join("cache")).unwrap().count();
    assert_eq!(cached, 2 * (9 + 4));

    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("evaluator,explainer,metric,value,ci_low,ci_high,n")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // perturbation: auc + clean_accuracy + 9 levels + tie_share + 9 levels of it, × 2 tests
    // × 2 explainers; segmentation: pixel_accuracy, miou, map, mf1, mf1_rows_reference × 2;
    // the symmetric relevance gain of the positive/negative pair × 2
    assert_eq!(rows.len(), 21 * 2 * 2 + 5 * 2 + 2, "{csv}");
    let value = |e: &str, x: &str, m: &str| -> f64 {
        rows.iter()
            .find(|r| r[0] == e && r[1] == x && r[2] == m)
            .unwrap_or_else(|| panic!("no row {e} {x} {m}"))[3]
            .parse()
            .unwrap()
    };
    for x in ["Ours-H", "rollout"] {
        let srg = value(
            "srg(perturbation_negative_predicted - perturbation_positive_predicted)",
            x,
            "srg",
        );
        let want = value("perturbation_negative_predicted", x, "auc")
            - value("perturbation_positive_predicted", x, "auc");
        assert!((srg - want).abs() < 2e-6, "{x}: SRG {srg} vs {want}");
    }
    for (e, n) in [
        ("perturbation_positive_predicted", "9"),
        ("perturbation_negative_predicted", "9"),
    ] {
        for x in ["Ours-H", "rollout"] {
            for m in ["auc", "clean_accuracy", "accuracy@0.1", "accuracy@0.9"] {
                let r = rows
                    .iter()
                    .find(|r| r[0] == e && r[1] == x && r[2] == m)
                    .unwrap_or_else(|| panic!("no row {e} {x} {m}"));
                assert_eq!(r[6], n);
                let (v, lo, hi): (f64, f64, f64) = (
                    r[3].parse().unwrap(),
                    r[4].parse().unwrap(),
                    r[5].parse().unwrap(),
                );
                assert!(
                    lo <= v + 1e-9 && v <= hi + 1e-9 && (0.0..=1.0).contains(&v),
                    "{r:?}"
                );
            }
        }
    }
    for x in ["Ours-H", "rollout"] {
        for m in ["pixel_accuracy", "miou", "map", "mf1", "mf1_rows_reference"] {
            assert!(
                rows.iter()
                    .any(|r| r[0] == "segmentation" && r[1] == x && r[2] == m && r[6] == "4"),
                "segmentation {x} {m}"
            );
        }
    }
    // clean accuracy does not depend on the explainer
    let clean: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == "clean_accuracy")
        .map(|r| r[3])
        .collect();
    assert!(clean.windows(2).all(|w| w[0] == w[1]), "{clean:?}");

    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("### segmentation") && md.contains("| Ours-H |"),
        "{md}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["records_written"], records);
    assert_eq!(manifest["samples_processed"], 13);
    assert!(manifest["stage_seconds"]["explain"].is_number());
    assert!(manifest["samples_per_second"].as_f64().unwrap() > 0.0);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("resolved_config.json")).unwrap())
            .unwrap();
    assert_eq!(plan["config_hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        plan["plan"]["explainers"][0]["method"]["start_layer"], 3,
        "resolved default"
    );
    assert_eq!(plan["plan"]["explainers"][0]["method"]["steps"], 3);
    assert_eq!(plan["plan"]["explainers"][1]["method"]["start_layer"], 1);

    // a second run of the same plan resumes with nothing to do and the same summary
    ok(&f.run("out", &[]));
    assert_eq!(
        std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        csv
    );
    let m2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m2["records_written"], 0);
    assert_eq!(m2["samples_skipped_as_done"], 13);

    // `report` rebuilds the same summary from the records, and writes the leaderboard
    std::fs::remove_file(out.join("summary.csv")).unwrap();
    let o = faithbench(
        &[
            "report",
            out.to_str().unwrap(),
            "--resamples",
            "300",
            "--correction",
            "bonferroni",
        ],
        &[],
    );
    ok(&o);
    assert_eq!(
        std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        csv
    );
    assert_eq!(
        stdout(&o),
        format!(
            "{}\n{}\n{}\n",
            out.join("summary.md").display(),
            out.join("leaderboard.md").display(),
            out.join("leaderboard.html").display()
        )
    );
    let lb = std::fs::read_to_string(out.join("leaderboard.md")).unwrap();
    for t in [
        "### perturbation_positive_predicted — auc ↓",
        "### perturbation_negative_predicted — auc ↑",
        "### segmentation — miou ↑",
        "corrected by Bonferroni (`bonferroni`)",
        "300 resamples",
    ] {
        assert!(lb.contains(t), "{t}\n{lb}");
    }
    assert!(
        !lb.contains("— clean_accuracy") && !lb.contains("— accuracy@"),
        "{lb}"
    );
    let html = std::fs::read_to_string(out.join("leaderboard.html")).unwrap();
    assert!(html.contains("<table id=\"lb-segmentation--miou\">"));
    assert!(html.contains("<img src=\"plots/segmentation_miou.png\""));

    // compare a run with itself: zero differences
    let o = faithbench(
        &["compare", out.to_str().unwrap(), out.to_str().unwrap()],
        &[],
    );
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("| Ours-H | auc |") && text.contains("+0.0000"),
        "{text}"
    );
    assert!(text.contains("| rollout | miou |"), "{text}");
}

#[test]
fn killed_runs_resume_to_a_byte_identical_summary() {
    let f = Fixture::new("");
    ok(&f.run("full", &[]));
    let want_csv = std::fs::read(f.path("full/summary.csv")).unwrap();
    let want_md = std::fs::read(f.path("full/summary.md")).unwrap();
    // kill points: inside the first segmentation chunk, between explainers, late in perturbation
    for (i, n) in [1usize, 5, 19, 33].into_iter().enumerate() {
        let name = format!("killed{i}");
        let o = f.run(&name, &[("FAITHBENCH_FAIL_AFTER", &n.to_string())]);
        assert_eq!(o.status.code(), Some(75), "kill after {n}: {}", stderr(&o));
        assert!(!f.path(&format!("{name}/summary.csv")).exists());
        // also simulate a kill in the middle of writing a line
        let partial = f.path(&format!(
            "{name}/records/perturbation_negative_predicted__rollout.jsonl"
        ));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .unwrap();
        file.write_all(br#"{"sample_id":"n00000002/ILSVRC2012_val_000020.png","label":2,"expl"#)
            .unwrap();
        drop(file);
        ok(&f.run(&name, &[]));
        assert_eq!(
            std::fs::read(f.path(&format!("{name}/summary.csv"))).unwrap(),
            want_csv,
            "summary.csv after a kill at record {n}"
        );
        assert_eq!(
            std::fs::read(f.path(&format!("{name}/summary.md"))).unwrap(),
            want_md,
            "summary.md after a kill at record {n}"
        );
        let text = std::fs::read_to_string(&partial).unwrap();
        assert!(text.ends_with('\n') && text.lines().count() == 9, "{text}");
    }
}

#[test]
fn unknown_config_key_is_an_error_naming_key_and_file() {
    let f = Fixture::new("batchsize = 4");
    let o = f.run("out", &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("tiny.toml") && e.contains("`batchsize`"), "{e}");
    assert!(
        !f.path("out").exists(),
        "nothing is written for a bad config"
    );

    // inside an explainer table (the method's own parameters)
    write_config(&f.config, "", "steps = 3\nstart_layr = 1");
    let o = f.run("out", &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("tiny.toml") && e.contains("`start_layr`"), "{e}");

    // an unset variable is named
    write_config(
        &f.config,
        "out_dir = \"${FB_TEST_UNSET_VAR}/x\"",
        "steps = 3",
    );
    let o = faithbench(&["run", f.config.to_str().unwrap(), "-q"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("FB_TEST_UNSET_VAR") && e.contains("run.out_dir"),
        "{e}"
    );
}

#[test]
fn a_run_folder_of_another_plan_is_refused_unless_fresh() {
    let f = Fixture::new("");
    ok(&f.run("out", &[]));
    let before = std::fs::read(f.path("out/summary.csv")).unwrap();
    write_config(&f.config, "", "steps = 4");
    let o = f.run("out", &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a run folder of another plan is bad input"
    );
    let e = stderr(&o);
    assert!(e.contains("different plan") && e.contains("--fresh"), "{e}");
    assert_eq!(std::fs::read(f.path("out/summary.csv")).unwrap(), before);
    let o = faithbench(
        &[
            "run",
            f.config.to_str().unwrap(),
            "--out",
            f.path("out").to_str().unwrap(),
            "--fresh",
            "-q",
        ],
        &[],
    );
    ok(&o);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("out/manifest.json")).unwrap())
            .unwrap();
    // rollout maps come from the cache (unchanged key), Ours-H maps are new (steps changed)
    assert_eq!(m["cache_hits"], 13);
    assert_eq!(m["records_written"], 44);
}

#[test]
fn check_exit_codes() {
    let f = Fixture::new("");
    ok(&f.run("out", &[]));
    let base = f.path("out/summary.csv");
    let b = base.to_str().unwrap();
    let o = faithbench(&["check", "--baseline", b, b], &[]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS"));

    // move one score by 0.05
    let cand = f.path("moved.csv");
    move_score(&base, &cand, "segmentation", "rollout", "miou", 0.05);
    let c = cand.to_str().unwrap();
    let o = faithbench(&["check", "--baseline", b, c], &[]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));
    // a looser tolerance for that metric passes
    ok(&faithbench(
        &["check", "--baseline", b, c, "--tol", "miou=0.1"],
        &[],
    ));
    ok(&faithbench(
        &["check", "--baseline", b, c, "--tol-abs", "0.06"],
        &[],
    ));
    // bad input
    let o = faithbench(&["check", "--baseline", "/no/such/summary.csv", c], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/summary.csv"));
    let o = faithbench(&["check", "--baseline", b, c, "--tol", "miou"], &[]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::write(f.path("bad.csv"), "evaluator,explainer\nx,y\n").unwrap();
    let o = faithbench(
        &[
            "check",
            "--baseline",
            b,
            f.path("bad.csv").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.csv"), "{}", stderr(&o));
}

/// Moves one score of a summary CSV by `delta`, writing the result to `to`.
fn move_score(from: &Path, to: &Path, evaluator: &str, explainer: &str, metric: &str, delta: f64) {
    let csv = std::fs::read_to_string(from).unwrap();
    let mut hit = false;
    let moved: String = csv
        .lines()
        .map(|l| {
            let mut c: Vec<String> = l.split(',').map(str::to_string).collect();
            if c[0] == evaluator && c[1] == explainer && c[2] == metric {
                let v: f64 = c[3].parse().unwrap();
                c[3] = format!("{:.6}", v + delta);
                hit = true;
            }
            c.join(",") + "\n"
        })
        .collect();
    assert!(
        hit,
        "{evaluator}/{explainer}/{metric} not in {}",
        from.display()
    );
    std::fs::write(to, moved).unwrap();
}

/// `check` takes each evaluator's default tolerance from the run's resolved settings when the
/// run's `resolved_config.json` sits beside the CSV: a percent AUC (`auc = "chefer2021"`) gets
/// 0.5 points, so a move of 0.3 passes; the same CSVs away from their run fall back to the
/// metric-name default (0.005) and fail.
#[test]
fn check_takes_tolerances_from_the_runs_evaluators() {
    let f = Fixture::new("");
    let cfg = std::fs::read_to_string(&f.config).unwrap().replacen(
        "mode = \"positive\"",
        "mode = \"positive\"\nauc = \"chefer2021\"",
        1,
    );
    std::fs::write(&f.config, cfg).unwrap();
    ok(&f.run("out", &[]));
    let base = f.path("baseline.csv");
    std::fs::copy(f.path("out/summary.csv"), &base).unwrap();
    // moves rollout's positive AUC by `delta` into `cand` and checks it against the baseline
    let check_moved = |cand: &Path, delta: f64| {
        let (e, x) = ("perturbation_positive_predicted", "rollout");
        move_score(&base, cand, e, x, "auc", delta);
        let args = [
            "check",
            "--baseline",
            base.to_str().unwrap(),
            cand.to_str().unwrap(),
        ];
        let o = faithbench(&args, &[]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = check_moved(&f.path("out/summary.csv"), 0.3);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("resolved_config.json"), "{out}");
    // 0.6 is past 0.5
    let (code, out) = check_moved(&f.path("out/summary.csv"), 0.6);
    assert_eq!(code, Some(3), "{out}");
    // away from the run: metric-name defaults
    let (code, out) = check_moved(&f.path("away.csv"), 0.3);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("metric names"), "{out}");
}

/// A config that wires published numbers gets `published` / `published_diff` columns in its
/// summary (published × scale, value − published), a note in summary.md, and `check
/// --against-published TOL` exits 3 exactly when a cell is further than TOL from its value.
/// Wiring a table measured under other evaluator settings, or `published` keys without the
/// file, are bad input.
#[test]
fn published_numbers_sit_beside_ours_and_check_against_them() {
    let f = Fixture::new("");
    let table = |requires: &str| {
        format!(
            "[sources.s]\ncitation = \"test\"\n\n[tables.\"tiny/pos\"]\nsource = \"s\"\nwhere = \"t1\"\nscale = 0.01\nrequires = {{ {requires} }}\nvalues.rollout = {{ auc = 50.0 }}\nvalues.ours_h = {{ auc = 40.0, clean_accuracy = 100.0 }}\n"
        )
    };
    std::fs::write(
        f.path("pub.toml"),
        table("\"config.mode\" = \"positive\", auc = \"bi2023\""),
    )
    .unwrap();
    let plain = std::fs::read_to_string(&f.config).unwrap();
    let wired = plain
        .replacen(
            "mode = \"positive\"",
            "mode = \"positive\"\npublished = \"tiny/pos\"",
            1,
        )
        .replacen(
            "method = \"rollout\"",
            "method = \"rollout\"\npublished = \"rollout\"",
            1,
        )
        .replacen(
            "method = \"ours_h\"",
            "method = \"ours_h\"\npublished = \"ours_h\"",
            1,
        )
        + "\n[published]\nfile = \"${CONFIG_DIR}/pub.toml\"\n";
    std::fs::write(&f.config, &wired).unwrap();
    ok(&f.run("out", &[]));
    let csv = std::fs::read_to_string(f.path("out/summary.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("evaluator,explainer,metric,value,ci_low,ci_high,n,published,published_diff")
    );
    let mut diffs = Vec::new();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        let want = match (c[0], c[1], c[2]) {
            ("perturbation_positive_predicted", "rollout", "auc") => Some(0.5),
            ("perturbation_positive_predicted", "Ours-H", "auc") => Some(0.4),
            ("perturbation_positive_predicted", "Ours-H", "clean_accuracy") => Some(1.0),
            _ => None,
        };
        match want {
            Some(p) => {
                let v: f64 = c[3].parse().unwrap();
                assert_eq!(c[7], format!("{p:.6}"), "{l}");
                let d: f64 = c[8].parse().unwrap();
                assert!((d - (v - p)).abs() < 2e-6, "{l}");
                diffs.push(d.abs());
            }
            None => assert_eq!((c[7], c[8]), ("", ""), "{l}"),
        }
    }
    assert_eq!(diffs.len(), 3, "{csv}");
    let md = std::fs::read_to_string(f.path("out/summary.md")).unwrap();
    assert!(md.contains(" · published 0.5000 ("), "{md}");

    let cand = f.path("out/summary.csv");
    let check = |tol: f64| {
        faithbench(
            &[
                "check",
                cand.to_str().unwrap(),
                "--against-published",
                &tol.to_string(),
            ],
            &[],
        )
    };
    let max = diffs.iter().cloned().fold(0.0, f64::max);
    let o = check(max + 1e-3);
    ok(&o);
    assert!(
        stdout(&o).contains("3 of 3 published cells"),
        "{}",
        stdout(&o)
    );
    let o = check(max - 1e-3);
    status(&o, 3);
    assert!(stdout(&o).contains("FAIL"), "{}", stdout(&o));
    // a run without published values has nothing to check against
    let unwired = f.path("unwired.csv");
    move_score(&cand, &unwired, "segmentation", "rollout", "miou", 0.0);
    let text = std::fs::read_to_string(&unwired).unwrap();
    let stripped: String = text
        .lines()
        .map(|l| l.split(',').take(7).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    std::fs::write(&unwired, stripped).unwrap();
    let o = faithbench(
        &[
            "check",
            unwired.to_str().unwrap(),
            "--against-published",
            "0.1",
        ],
        &[],
    );
    status(&o, 2);
    assert!(
        stderr(&o).contains("no row has a published value"),
        "{}",
        stderr(&o)
    );

    // the table was measured with another AUC rule: not comparable
    std::fs::write(
        f.path("pub.toml"),
        table("\"config.mode\" = \"positive\", auc = \"chefer2021\""),
    )
    .unwrap();
    let o = f.run("out2", &[]);
    status(&o, 2);
    assert!(stderr(&o).contains("not comparable"), "{}", stderr(&o));
    // `published` keys without the file
    let orphan = wired.replace("\n[published]\nfile = \"${CONFIG_DIR}/pub.toml\"\n", "");
    std::fs::write(&f.config, orphan).unwrap();
    let o = f.run("out3", &[]);
    status(&o, 2);
    assert!(stderr(&o).contains("[published] file"), "{}", stderr(&o));
}

/// `[run] precision = "f64"` runs every tensor in float64: another plan (hash), no cache hits
/// from the float32 run's maps, and scores that agree with the float32 run's to float32 noise
/// on this tiny model (every auc / accuracy / segmentation score within 0.005).
#[test]
fn f64_precision_is_part_of_the_plan_and_its_cache_keys() {
    let f = Fixture::new("cache_dir = \"${CONFIG_DIR}/cache\"");
    ok(&f.run("f32", &[]));
    write_config(
        &f.config,
        "cache_dir = \"${CONFIG_DIR}/cache\"\nprecision = \"f64\"",
        "steps = 3",
    );
    ok(&f.run("f64", &[]));
    let plan = |d: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(f.path(d).join("resolved_config.json")).unwrap(),
        )
        .unwrap()
    };
    let (a, b) = (plan("f32"), plan("f64"));
    assert_ne!(a["config_hash"], b["config_hash"]);
    assert!(
        a["plan"]["models"]["default"].get("precision").is_none(),
        "f32 is not serialised"
    );
    assert_eq!(b["plan"]["models"]["default"]["precision"], "f64");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("f64/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["cache_hits"], 0, "{m}");
    let base = f.path("f32/summary.csv");
    let o = faithbench(
        &[
            "check",
            "--baseline",
            base.to_str().unwrap(),
            f.path("f64/summary.csv").to_str().unwrap(),
        ],
        &[],
    );
    ok(&o);
}

#[test]
fn three_shards_merge_to_the_unsharded_summary() {
    let f = Fixture::new("");
    ok(&f.run("whole", &[]));
    let cfg = f.config.to_str().unwrap();
    let mut dirs = Vec::new();
    for k in 0..3 {
        let d = f.path(&format!("shard{k}"));
        let shard = format!("{k}/3");
        // shard 1 is killed after 3 records and resumed
        let env: &[(&str, &str)] = if k == 1 {
            &[("FAITHBENCH_FAIL_AFTER", "3")]
        } else {
            &[]
        };
        let o = faithbench(
            &[
                "run",
                cfg,
                "--out",
                d.to_str().unwrap(),
                "--shard",
                &shard,
                "-q",
            ],
            env,
        );
        if k == 1 {
            assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
            // merging now names the incomplete shard
            let o = faithbench(
                &[
                    "merge",
                    f.path("shard0").to_str().unwrap(),
                    d.to_str().unwrap(),
                    "--out",
                    f.path("early").to_str().unwrap(),
                ],
                &[],
            );
            assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
            ok(&faithbench(
                &[
                    "run",
                    cfg,
                    "--out",
                    d.to_str().unwrap(),
                    "--shard",
                    &shard,
                    "-q",
                ],
                &[],
            ));
        } else {
            ok(&o);
        }
        assert!(!d.join("summary.csv").exists(), "a shard writes no summary");
        // a shard folder refuses another shard
        if k == 0 {
            let o = faithbench(
                &[
                    "run",
                    cfg,
                    "--out",
                    d.to_str().unwrap(),
                    "--shard",
                    "1/3",
                    "-q",
                ],
                &[],
            );
            assert_eq!(o.status.code(), Some(2));
            assert!(stderr(&o).contains("shard 0/3"), "{}", stderr(&o));
        }
        dirs.push(d);
    }
    let d: Vec<&str> = dirs.iter().map(|p| p.to_str().unwrap()).collect();
    // `faithbench merge SHARDS… --out OUT` (extra flags after)
    let merge = |shards: &[&str], out: &str, extra: &[&str]| {
        let out = f.path(out);
        let mut args = vec!["merge"];
        args.extend_from_slice(shards);
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        faithbench(&args, &[])
    };
    // incomplete set: shard 2 missing
    let o = merge(&[d[0], d[1]], "m2", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("2/3"), "{}", stderr(&o));
    // a shard given twice
    let o = merge(&[d[0], d[1], d[1]], "m3", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("both shard 1/3"), "{}", stderr(&o));
    // the whole run is not a shard
    let o = merge(&[f.path("whole").to_str().unwrap()], "m4", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("shard.json"), "{}", stderr(&o));
    // the merge, in shuffled order
    ok(&merge(&[d[2], d[0], d[1]], "merged", &["-q"]));
    let merged = f.path("merged");
    for file in ["summary.csv", "summary.md"] {
        assert_eq!(
            std::fs::read(f.path("whole").join(file)).unwrap(),
            std::fs::read(merged.join(file)).unwrap(),
            "{file} of the merge differs from the unsharded run's"
        );
    }
    // the shards are disjoint: a record copied into another shard is refused
    let rec = std::fs::read_dir(dirs[0].join("records"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let line = std::fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let other = dirs[1].join("records").join(rec.file_name().unwrap());
    let mut text = std::fs::read_to_string(&other).unwrap();
    text.push_str(&line);
    text.push('\n');
    std::fs::write(&other, text).unwrap();
    let o = merge(&[d[0], d[1], d[2]], "m5", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not disjoint"), "{}", stderr(&o));
}

/// A run folder held by a live run is refused (the lock names its process); a lock of a dead
/// process is taken over.
#[test]
fn a_locked_run_folder_is_refused_and_a_stale_lock_replaced() {
    let f = Fixture::new("");
    let out = f.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    // process 1 is alive on every Linux machine
    let live = format!(r#"{{"pid":1,"host":"{host}","started_at":"2026-12-01T00:00:00Z"}}"#);
    std::fs::write(out.join(".faithbench.lock"), &live).unwrap();
    let o = f.run("out", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another faithbench (process 1"),
        "{}",
        stderr(&o)
    );
    let dead = format!(r#"{{"pid":4194321,"host":"{host}","started_at":"2026-12-01T00:00:00Z"}}"#);
    std::fs::write(out.join(".faithbench.lock"), &dead).unwrap();
    let o = faithbench(
        &[
            "run",
            f.config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    ok(&o);
    assert!(
        stderr(&o).contains("stale lock of process 4194321"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.join(".faithbench.lock").exists(),
        "released at the end"
    );
}

#[test]
fn explain_image_and_text_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo();
    let img = dir.path().join("x.png");
    image::RgbImage::from_fn(50, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 90])
    })
    .save(&img)
    .unwrap();
    let out = dir.path().join("expl");
    let o = faithbench(
        &[
            "explain",
            "--model",
            repo.join("fixtures/models/timm_vit_cls").to_str().unwrap(),
            "--image",
            img.to_str().unwrap(),
            "--method",
            "ours_t",
            "--param",
            "steps=3",
            "--class",
            "4",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    ok(&o);
    let npy = std::fs::read(out.join("ours_t.npy")).unwrap();
    assert!(String::from_utf8_lossy(&npy[..80]).contains("'shape': (4, 4)"));
    assert!(out.join("ours_t_overlay.png").is_file());
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ours_t.json")).unwrap()).unwrap();
    assert_eq!(j["explained_class"], 4);
    assert_eq!(j["method"]["start_layer"], 3);

    let o = faithbench(
        &[
            "explain",
            "--model",
            repo.join("fixtures/models/hf_bert").to_str().unwrap(),
            "--text",
            "the movie was great",
            "--method",
            "ours_h",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    ok(&o);
    let html = std::fs::read_to_string(out.join("ours_h_tokens.html")).unwrap();
    assert!(html.contains("movie") || html.contains("[UNK]"), "{html}");

    // bad parameter: names it
    let o = faithbench(
        &[
            "explain",
            "--model",
            repo.join("fixtures/models/timm_vit_cls").to_str().unwrap(),
            "--image",
            img.to_str().unwrap(),
            "--method",
            "rollout",
            "--param",
            "stat_layer=1",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stat_layer"), "{}", stderr(&o));

    let o = faithbench(&["list"], &[]);
    ok(&o);
    let l = String::from_utf8_lossy(&o.stdout);
    assert!(l.contains("ours_h") && l.contains("segmentation") && l.contains("vit_b16"));
}

#[test]
fn limit_flag_caps_every_dataset() {
    let f = Fixture::new("");
    let o = faithbench(
        &[
            "run",
            f.config.to_str().unwrap(),
            "--out",
            f.path("out").to_str().unwrap(),
            "--limit",
            "2",
            "-q",
        ],
        &[],
    );
    ok(&o);
    for rec in [
        "segmentation__Ours-H",
        "perturbation_negative_predicted__rollout",
    ] {
        let text = std::fs::read_to_string(f.path(&format!("out/records/{rec}.jsonl"))).unwrap();
        assert_eq!(text.lines().count(), 2, "{rec}");
    }
    let csv = std::fs::read_to_string(f.path("out/summary.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",2")), "{csv}");
}
