//! End to end through the `faithbench` binary on text: the fixture BERT
//! (`fixtures/models/hf_bert`, 3 layers, 2 classes, 64 positions) on the two-document ERASER
//! fixture (`fixtures/data/eraser_tiny`), and a random 20-class BERT (written by
//! `save_bert_hf`) on the 20 Newsgroups fixture.
//!
//! Covers: the eraser_rationales and text_perturbation outputs (records, summary rows, ERASER
//! results files consistent with the records), resuming a killed text run to a byte-identical
//! summary, the padded_to_512 / real_tokens rules, a mixed image + text config with `[models.*]`,
//! a text dataset on an image model being refused, and a Hugging Face folder without
//! faithbench.json.

use std::path::{Path, PathBuf};

mod common;
use common::{faithbench, ok, repo, run, stderr};

use faithbench_eval::rationales::{read_results_jsonl, top_k_words};

fn eraser_config(dir: &Path, extra: &str) -> PathBuf {
    let repo = repo();
    let text = format!(
        r#"
[run]
name = "tiny_text"
batch_size = 2
eval_batch_size = 5
gallery = 1
bootstrap_resamples = 100

[models.bert]
dir = "{model}"

[datasets.movies]
kind = "eraser"
root = "{data}"
split = "test"

[[explainers]]
label = "Ours-H"
method = "ours_h"
steps = 3

[[explainers]]
method = "rollout"

[[explainers]]
method = "random"

[[evaluators]]
kind = "eraser_rationales"
name = "token_f1"
ks = [1, 2, 3]
aopc_thresholds = [0.1, 0.5]

[[evaluators]]
kind = "text_perturbation"
mode = "positive"
fractions = "movies_reference"

[[evaluators]]
kind = "text_perturbation"
mode = "negative"
fractions = [0.0, 0.5, 1.0]
{extra}
"#,
        model = repo.join("fixtures/models/hf_bert").display(),
        data = repo.join("fixtures/data/eraser_tiny").display(),
    );
    let p = dir.join("text.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn eraser_run_writes_records_summary_and_eraser_results() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = eraser_config(dir.path(), "");
    let out = dir.path().join("out");
    ok(&run(&cfg, &out, &[]));

    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    for x in ["Ours-H", "rollout", "random"] {
        for m in [
            "token_f1@01",
            "token_f1@03",
            "token_precision@02",
            "token_recall@02",
            "token_micro_f1@01",
            "iou_f1@01",
            "comprehensiveness@01",
            "sufficiency@03",
            "auprc",
            "roc_auc",
            "comprehensiveness_aopc",
            "sufficiency_aopc",
            "clean_accuracy",
        ] {
            let key = format!("token_f1,{x},{m},");
            assert!(csv.contains(&key), "missing {key}\n{csv}");
        }
        for m in ["auc", "clean_accuracy", "accuracy@0.52", "accuracy@0.68"] {
            let key = format!("text_perturbation_positive,{x},{m},");
            assert!(csv.contains(&key), "missing {key}\n{csv}");
        }
        for m in ["accuracy@0.0", "accuracy@0.5", "accuracy@1.0"] {
            let key = format!("text_perturbation_negative,{x},{m},");
            assert!(csv.contains(&key), "missing {key}\n{csv}");
        }
    }
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("### token_f1 — token_f1 per k"), "{md}");
    assert!(md.contains("### text_perturbation_positive — accuracy per removed fraction"));
    for f in [
        "plots/token_f1_token_f1.png",
        "plots/text_perturbation_positive.png",
        "plots/text_perturbation_negative.svg",
        "gallery/movies/index.html",
        "gallery/movies/00000__Ours-H__target.html",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }

    // records: one line per document, word scores over the 17 / 13 document words
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("records/token_f1__Ours-H.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(lines.len(), 2);
    let neg = lines
        .iter()
        .find(|l| l["sample_id"] == "negR_000.txt")
        .unwrap();
    assert_eq!(neg["num_words"], 17);
    assert_eq!(neg["label"], 0);
    assert_eq!(neg["explained_class"], 0, "the ground truth is explained");
    assert_eq!(neg["evidence"], serde_json::json!([[4, 7], [10, 13]]));
    assert_eq!(neg["comprehensiveness"].as_array().unwrap().len(), 3);
    assert_eq!(neg["thresholded_sufficiency"].as_array().unwrap().len(), 2);
    let scores: Vec<f32> = neg["word_scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(
        scores.len(),
        neg["covered_words"].as_u64().unwrap() as usize
    );
    assert!(scores.iter().all(|&s| s >= 0.0), "clamped at 0");

    // ERASER results files agree with the records
    for k in [1, 2, 3] {
        let p = out.join(format!(
            "eraser/token_f1/Ours-H/identifier_results_{k}.jsonl"
        ));
        let results =
            read_results_jsonl(std::io::BufReader::new(std::fs::File::open(&p).unwrap())).unwrap();
        assert_eq!(results.len(), 2, "{}", p.display());
        let r = results
            .iter()
            .find(|r| r.annotation_id == "negR_000.txt")
            .unwrap();
        let rat = &r.rationales[0];
        assert_eq!(rat.docid, "negR_000.txt");
        let want: Vec<usize> = top_k_words(&scores, k).unwrap();
        let got: Vec<usize> = rat
            .hard_rationale_predictions
            .iter()
            .map(|s| s.start_token)
            .collect();
        assert_eq!(got, want, "k = {k}");
        assert!(rat
            .hard_rationale_predictions
            .iter()
            .all(|s| s.end_token == s.start_token + 1));
        assert_eq!(rat.soft_rationale_predictions.as_ref().unwrap().len(), 17);
        let scores_map = r.classification_scores.as_ref().unwrap();
        assert_eq!(
            scores_map.keys().cloned().collect::<Vec<_>>(),
            vec!["NEG", "POS"]
        );
        assert!((scores_map.values().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(r.thresholded_scores.as_ref().unwrap().len(), 2);
    }

    // text perturbation records: real-token lengths, cumulative removals
    let tp: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("records/text_perturbation_negative__rollout.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(tp.len(), 2);
    for l in &tp {
        let len = l["length"].as_u64().unwrap();
        assert_eq!(l["ks"], serde_json::json!([0, len / 2, len]));
        assert_eq!(l["length_rule"], "real_tokens");
    }

    // a second run resumes and changes nothing
    let before = std::fs::read(out.join("summary.csv")).unwrap();
    ok(&run(&cfg, &out, &[]));
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), before);

    // compare works on text runs
    let o = faithbench(
        &["compare", out.to_str().unwrap(), out.to_str().unwrap()],
        &[],
    );
    ok(&o);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("token_f1@01") && md.contains("text_perturbation_positive"),
        "{md}"
    );
}

#[test]
fn killed_text_runs_resume_to_a_byte_identical_summary() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = eraser_config(dir.path(), "");
    let full = dir.path().join("full");
    ok(&run(&cfg, &full, &[]));
    let want_csv = std::fs::read(full.join("summary.csv")).unwrap();
    let want_md = std::fs::read(full.join("summary.md")).unwrap();
    for n in ["1", "4", "11"] {
        let out = dir.path().join(format!("killed{n}"));
        let o = run(&cfg, &out, &[("FAITHBENCH_FAIL_AFTER", n)]);
        assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
        ok(&run(&cfg, &out, &[]));
        assert_eq!(
            std::fs::read(out.join("summary.csv")).unwrap(),
            want_csv,
            "kill after {n}"
        );
        assert_eq!(std::fs::read(out.join("summary.md")).unwrap(), want_md);
        for k in [1, 2, 3] {
            let f = format!("eraser/token_f1/rollout/identifier_results_{k}.jsonl");
            assert_eq!(
                std::fs::read(out.join(&f)).unwrap(),
                std::fs::read(full.join(&f)).unwrap(),
                "{f}"
            );
        }
    }
}

/// A random-init 20-class BERT in the Hugging Face layout (no faithbench.json), with the fixture
/// vocabulary, 512 positions.
fn newsgroups_model(dir: &Path) -> PathBuf {
    use faithbench_models::bert::BertConfig;
    let vocab = repo().join("fixtures/models/hf_bert/vocab.txt");
    let n = std::fs::read_to_string(&vocab).unwrap().lines().count();
    let cfg = BertConfig {
        vocab_size: n,
        hidden: 16,
        depth: 2,
        heads: 2,
        intermediate: 32,
        max_position: 512,
        type_vocab: 2,
        num_classes: 20,
        ln_eps: 1e-12,
    };
    let dev = faithbench_models::default_device();
    dev.seed(3);
    let m = cfg.init(&dev);
    let out = dir.join("ng_bert");
    faithbench_models::save::save_bert_hf(&m, &out, &[]).unwrap();
    std::fs::remove_file(out.join("faithbench.json")).unwrap();
    std::fs::copy(&vocab, out.join("vocab.txt")).unwrap();
    out
}

#[test]
fn newsgroups_padded_and_real_token_rules() {
    let dir = tempfile::tempdir().unwrap();
    let model = newsgroups_model(dir.path());
    let cfg = dir.path().join("ng.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[model]
dir = "{model}"

[dataset]
kind = "newsgroups"
root = "{data}"

[[explainers]]
method = "rollout"

[[evaluators]]
kind = "text_perturbation"
name = "padded"
mode = "positive"
fractions = "newsgroups_reference"
length_rule = "padded_to_512"

[[evaluators]]
kind = "text_perturbation"
name = "real"
mode = "negative"
fractions = "newsgroups_reference"
"#,
            model = model.display(),
            data = repo().join("fixtures/data/newsgroups_tiny").display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&run(&cfg, &out, &[]));
    let recs: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("records/padded__rollout.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    // the sample [2, 0]: ids "0002" (empty post) and "0000"
    let ids: Vec<&str> = recs
        .iter()
        .map(|r| r["sample_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["0002", "0000"]);
    for r in &recs {
        assert_eq!(r["length"], 512);
        assert_eq!(
            r["ks"],
            serde_json::json!([0, 51, 102, 153, 204, 256, 307, 358, 409, 460, 512])
        );
    }
    let empty = recs.iter().find(|r| r["sample_id"] == "0002").unwrap();
    assert_eq!(empty["label"], 11);
    let real: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("records/real__rollout.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let empty = real.iter().find(|r| r["sample_id"] == "0002").unwrap();
    assert_eq!(empty["length"], 2, "[CLS] [SEP] only");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(csv.contains("padded,rollout,accuracy@1.0,"), "{csv}");

    // explain --text on the HF folder (no faithbench.json)
    let o = faithbench(
        &[
            "explain",
            "--model",
            model.to_str().unwrap(),
            "--text",
            "the film was great",
            "--method",
            "raw_attention",
            "--out",
            dir.path().join("ex").to_str().unwrap(),
        ],
        &[],
    );
    ok(&o);
    assert!(dir.path().join("ex/raw_attention_tokens.html").exists());
}

#[test]
fn mixed_image_and_text_models_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo();
    let cfg = dir.path().join("mixed.toml");
    let text = format!(
        r#"
[model]
dir = "{vit}"

[models.bert]
dir = "{bert}"

[datasets.seg]
kind = "imagenet_seg"
path = "{seg}"
limit = 2

[datasets.movies]
kind = "eraser"
root = "{data}"
split = "test"
model = "bert"

[[explainers]]
label = "Ours-H"
method = "ours_h"
steps = 2

[[explainers]]
label = "R"
method = "rollout"
model = "default"

[[explainers]]
label = "R"
method = "raw_attention"
model = "bert"

[[evaluators]]
kind = "segmentation"
dataset = "seg"

[[evaluators]]
kind = "eraser_rationales"
dataset = "movies"
ks = [2]
faithfulness = false
"#,
        vit = repo.join("fixtures/models/timm_vit_cls").display(),
        bert = repo.join("fixtures/models/hf_bert").display(),
        seg = repo.join("fixtures/data/gtsegs_small.mat").display(),
        data = repo.join("fixtures/data/eraser_tiny").display(),
    );
    std::fs::write(&cfg, &text).unwrap();
    let out = dir.path().join("out");
    ok(&run(&cfg, &out, &[]));
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    // the label `R` is rollout on the ViT and raw attention on the BERT
    assert!(csv.contains("segmentation,R,miou,"), "{csv}");
    assert!(csv.contains("eraser_rationales,R,token_f1@02,"), "{csv}");
    assert!(
        csv.contains("eraser_rationales,Ours-H,token_f1@02,"),
        "{csv}"
    );
    assert!(csv.contains("segmentation,Ours-H,miou,"), "{csv}");
    assert!(!csv.contains("comprehensiveness"), "faithfulness = false");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("resolved_config.json")).unwrap())
            .unwrap();
    assert_eq!(plan["plan"]["explainers"].as_array().unwrap().len(), 4);
    assert!(plan["plan"]["models"]["bert"]["tokenizer_sha256"].is_string());

    // a text dataset on the image model is refused with a clear message
    let bad = format!(
        "[model]\ndir = \"{vit}\"\n\n[dataset]\nkind = \"eraser\"\nroot = \"{data}\"\nsplit = \"test\"\n\n\
         [[explainers]]\nmethod = \"rollout\"\n\n[[evaluators]]\nkind = \"eraser_rationales\"\n",
        vit = repo.join("fixtures/models/timm_vit_cls").display(),
        data = repo.join("fixtures/data/eraser_tiny").display(),
    );
    let bad_cfg = dir.path().join("bad.toml");
    std::fs::write(&bad_cfg, bad).unwrap();
    let o = run(&bad_cfg, &dir.path().join("bad"), &[]);
    assert_eq!(o.status.code(), Some(2), "bad input");
    assert!(
        stderr(&o).contains("its model `default` is a vit model, which reads image data"),
        "{}",
        stderr(&o)
    );

    // an image evaluator on a text dataset is a config error
    let bad = text.replace(
        "kind = \"segmentation\"\ndataset = \"seg\"",
        "kind = \"segmentation\"\ndataset = \"movies\"",
    );
    std::fs::write(&cfg, bad).unwrap();
    let o = run(&cfg, &dir.path().join("bad2"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("segmentation evaluates image datasets"),
        "{}",
        stderr(&o)
    );
}
