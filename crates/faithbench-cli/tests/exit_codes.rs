//! One meaning per exit status, as `faithbench --help` and the README say: 0 success; 1 failure;
//! 2 bad input or usage; 3 a regression found by `check`. One test per class, with the bad-input
//! cases users meet (a missing document, a malformed annotation file, a truncated `.mat`, a
//! precomputed map of the wrong size, a typo in a config, an unknown flag).

use std::path::{Path, PathBuf};

mod common;
use common::{faithbench, ok, repo, run, status, stderr, stdout};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let t = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// A text config on the fixture BERT and an ERASER folder.
fn text_config(dir: &Path, data: &Path) -> PathBuf {
    let text = format!(
        "[run]\nbootstrap_resamples = 20\n\n[model]\ndir = \"{}\"\n\n[dataset]\nkind = \"eraser\"\nroot = \"{}\"\nsplit = \"test\"\n\n\
         [[explainers]]\nmethod = \"rollout\"\n\n[[evaluators]]\nkind = \"eraser_rationales\"\nks = [1]\nfaithfulness = false\n",
        repo().join("fixtures/models/hf_bert").display(),
        data.display()
    );
    let p = dir.join("text.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// An image config on the fixture ViT and the segmentation fixture (or another `.mat`).
fn seg_config(dir: &Path, mat: &Path, explainer: &str) -> PathBuf {
    let text = format!(
        "[run]\nbootstrap_resamples = 20\n\n[model]\ndir = \"{}\"\n\n[dataset]\nkind = \"imagenet_seg\"\npath = \"{}\"\n\n\
         [[explainers]]\n{explainer}\n\n[[evaluators]]\nkind = \"segmentation\"\n",
        repo().join("fixtures/models/timm_vit_cls").display(),
        mat.display()
    );
    let p = dir.join("seg.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn success_is_0() {
    let o = faithbench(&["list"], &[]);
    status(&o, 0);
}

#[test]
fn bad_input_and_usage_are_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tiny = repo().join("fixtures/data/eraser_tiny");

    // an annotation refers to a document that is not in docs/
    let missing = d.join("missing_doc");
    copy_dir(&tiny, &missing);
    std::fs::remove_file(missing.join("docs/negR_000.txt")).unwrap();
    let o = run(&text_config(d, &missing), &d.join("o1"), &[]);
    status(&o, 2);
    assert!(stderr(&o).contains("negR_000.txt"), "{}", stderr(&o));

    // a malformed annotation line names the file and the line
    let broken = d.join("broken_jsonl");
    copy_dir(&tiny, &broken);
    let t = std::fs::read_to_string(broken.join("test.jsonl")).unwrap();
    std::fs::write(broken.join("test.jsonl"), t.replacen('}', "", 1)).unwrap();
    let o = run(&text_config(d, &broken), &d.join("o2"), &[]);
    status(&o, 2);
    assert!(stderr(&o).contains("test.jsonl"), "{}", stderr(&o));

    // a truncated MATLAB file
    let mat = std::fs::read(repo().join("fixtures/data/gtsegs_small.mat")).unwrap();
    let cut = d.join("cut.mat");
    std::fs::write(&cut, &mat[..mat.len() / 2]).unwrap();
    let o = run(
        &seg_config(d, &cut, "method = \"rollout\""),
        &d.join("o3"),
        &[],
    );
    status(&o, 2);
    assert!(stderr(&o).contains("cut.mat"), "{}", stderr(&o));

    // a precomputed map with the wrong number of values (the fixture ViT has a 4×4 grid)
    let maps = d.join("maps");
    std::fs::create_dir_all(&maps).unwrap();
    faithbench_data::npy::write_npy_f32(&maps.join("00000.npy"), &[3], &[0.1, 0.2, 0.3]).unwrap();
    let cfg = seg_config(
        d,
        &repo().join("fixtures/data/gtsegs_small.mat"),
        &format!("method = \"precomputed\"\npath = \"{}\"", maps.display()),
    );
    let o = run(&cfg, &d.join("o4"), &[]);
    status(&o, 2);
    assert!(stderr(&o).contains("00000"), "{}", stderr(&o));

    // a typo in a config key
    let typo = d.join("typo.toml");
    std::fs::write(
        &typo,
        std::fs::read_to_string(text_config(d, &tiny))
            .unwrap()
            .replace("ks = [1]", "kz = [1]"),
    )
    .unwrap();
    let o = run(&typo, &d.join("o5"), &[]);
    status(&o, 2);
    assert!(stderr(&o).contains("`kz`"), "{}", stderr(&o));

    // usage: an unknown flag, a missing argument
    status(&faithbench(&["run", "--no-such-flag"], &[]), 2);
    status(&faithbench(&["check"], &[]), 2);

    // report: a missing folder, a folder that is not a run, several runs without --out, a bad
    // --alpha or --correction, no folder
    let refused = |args: &[&Path], flags: &[&str], message: &str| {
        let mut all: Vec<&str> = vec!["report"];
        all.extend(args.iter().map(|p| p.to_str().unwrap()));
        all.extend(flags);
        let o = faithbench(&all, &[]);
        status(&o, 2);
        assert!(stderr(&o).contains(message), "{message}: {}", stderr(&o));
    };
    refused(
        &[&d.join("no_such_run")],
        &[],
        "no_such_run: no such run folder",
    );
    refused(&[&tiny], &[], "eraser_tiny: not a run folder");
    let (r1, r2) = (d.join("r1"), d.join("r2"));
    for r in [&r1, &r2] {
        std::fs::create_dir_all(r).unwrap();
        std::fs::write(r.join("resolved_config.json"), "{}").unwrap();
    }
    refused(&[&r1, &r2], &[], "needs --out");
    refused(&[&r1], &["--alpha", "2"], "--alpha 2");
    refused(&[&r1], &[], "not a faithbench resolved_config.json");
    refused(&[&r1], &["--correction", "fdr"], "fdr");
    status(&faithbench(&["report"], &[]), 2);
}

#[test]
fn failure_is_1() {
    // the run folder cannot be created (its parent is a regular file): not the input's fault
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    let cfg = text_config(dir.path(), &repo().join("fixtures/data/eraser_tiny"));
    let o = run(&cfg, &file.join("run"), &[]);
    status(&o, 1);
    assert!(
        stderr(&o).contains("cannot create the run folder"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn regression_found_by_check_is_3() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = text_config(dir.path(), &repo().join("fixtures/data/eraser_tiny"));
    let out = dir.path().join("run");
    ok(&run(&cfg, &out, &[]));
    let base = out.join("summary.csv");
    let csv = std::fs::read_to_string(&base).unwrap();
    let moved: String = csv
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            if c.len() == 7 && c[2] == "token_f1@01" {
                let v: f64 = c[3].parse().unwrap();
                format!(
                    "{},{},{},{:.6},{},{},{}",
                    c[0],
                    c[1],
                    c[2],
                    v + 0.5,
                    c[4],
                    c[5],
                    c[6]
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(moved, csv, "the test moves a score");
    let cand = dir.path().join("moved.csv");
    std::fs::write(&cand, moved).unwrap();
    let o = faithbench(
        &[
            "check",
            "--baseline",
            base.to_str().unwrap(),
            cand.to_str().unwrap(),
        ],
        &[],
    );
    status(&o, 3);
    assert!(stdout(&o).contains("FAIL"), "{}", stdout(&o));
    // the same files with a loose tolerance pass
    ok(&faithbench(
        &[
            "check",
            "--baseline",
            base.to_str().unwrap(),
            cand.to_str().unwrap(),
            "--tol-abs",
            "1",
        ],
        &[],
    ));
}

#[test]
fn help_states_the_exit_statuses() {
    let o = faithbench(&["--help"], &[]);
    ok(&o);
    let h = stdout(&o);
    for s in [
        "0 success",
        "1 failure",
        "2 bad input or usage",
        "3 a regression",
    ] {
        assert!(h.contains(s), "{s}: {h}");
    }
}
