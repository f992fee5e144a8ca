//! End to end through the `faithbench` binary: the model-parameter randomisation sanity check
//! (images and text), the symmetric relevance gain of removal tests run in both orders, and
//! insertion / deletion curves (images and text), on the demo's trained shapes ViT and planted BERT
//! (`models/shapes_vit_cls`, `models/planted_bert`) with a few samples each.
//!
//! What is checked by construction rather than by stored numbers:
//! * the `random` explainer's maps do not depend on the model, so every Spearman and SSIM with
//!   the original is exactly 1 and it fails the check; raw attention does not depend on the
//!   classifier head, so randomising the head leaves its maps unchanged (ρ = 1), and it passes
//!   once the blocks are random;
//! * the SRG row equals AUC(negative) − AUC(positive) of the two evaluators' own summary rows;
//! * a killed run resumes to a byte-identical summary with the re-explaining evaluator in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod common;
use common::{faithbench, ok, repo, run};

fn config(dir: &Path) -> PathBuf {
    let repo = repo();
    let text = format!(
        r#"
[run]
name = "sanity"
batch_size = 4
eval_batch_size = 32
gallery = 0
bootstrap_resamples = 100

[models.vit]
dir = "{repo}/models/shapes_vit_cls"

[models.bert]
dir = "{repo}/models/planted_bert"

[datasets.val]
kind = "imagenet_val"
root = "{repo}/datasets/shapes"
model = "vit"
limit = 6

[datasets.planted]
kind = "eraser"
root = "{repo}/datasets/planted"
split = "test"
model = "bert"
limit = 5

[[explainers]]
model = "vit"
method = "raw_attention"

[[explainers]]
model = "vit"
method = "random"
seed = 0

[[explainers]]
model = "vit"
method = "transformer_attribution"

[[explainers]]
model = "bert"
method = "raw_attention"

[[explainers]]
model = "bert"
method = "random"
seed = 0

[[evaluators]]
kind = "model_randomization"
name = "mprt"
dataset = "val"

[[evaluators]]
kind = "model_randomization"
name = "mprt_independent"
dataset = "val"
order = "independent"

[[evaluators]]
kind = "text_model_randomization"
name = "text_mprt"
dataset = "planted"
class = "target"

[[evaluators]]
kind = "perturbation"
name = "pos"
dataset = "val"
mode = "positive"

[[evaluators]]
kind = "perturbation"
name = "neg"
dataset = "val"
mode = "negative"

[[evaluators]]
kind = "insertion_deletion"
name = "deletion"
dataset = "val"
mode = "deletion"
levels = [0.0, 0.25, 0.5, 0.75, 1.0]

[[evaluators]]
kind = "text_insertion_deletion"
name = "text_deletion"
dataset = "planted"
mode = "deletion"
class = "target"
levels = [0.0, 0.5, 1.0]

[[evaluators]]
kind = "text_insertion_deletion"
name = "text_insertion"
dataset = "planted"
mode = "insertion"
class = "target"
levels = [0.0, 0.5, 1.0]

[[evaluators]]
kind = "insertion_deletion"
name = "insertion"
dataset = "val"
mode = "insertion"
baseline = {{ blur = 2.0 }}
levels = [0.0, 0.5, 1.0]
"#,
        repo = repo.display()
    );
    let p = dir.join("sanity.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// (evaluator, explainer, metric) → value of a summary.csv (no field of this config holds a
/// comma or a quote, so the lines split plainly).
fn summary(path: &Path) -> HashMap<(String, String, String), f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                (f[0].to_string(), f[1].to_string(), f[2].to_string()),
                f[3].parse::<f64>().unwrap(),
            )
        })
        .collect()
}

#[test]
fn sanity_check_srg_and_curves_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let out = tmp.path().join("run");
    ok(&run(&cfg, &out, &[]));
    let s = summary(&out.join("summary.csv"));
    let get = |e: &str, x: &str, m: &str| -> f64 {
        *s.get(&(e.into(), x.into(), m.into()))
            .unwrap_or_else(|| panic!("no row {e} × {x} × {m}"))
    };
    // the random explainer ignores the model: identical maps at every step, and it fails
    for e in ["mprt", "mprt_independent"] {
        assert_eq!(get(e, "random", "spearman"), 1.0);
        assert_eq!(get(e, "random", "ssim"), 1.0);
        assert_eq!(get(e, "random", "fails"), 1.0);
        // raw attention is computed before the head: randomising the head changes nothing
        assert_eq!(get(e, "raw_attention", "spearman@00_head"), 1.0);
        assert_eq!(get(e, "raw_attention", "ssim@00_head"), 1.0);
    }
    assert_eq!(get("text_mprt", "random", "spearman"), 1.0);
    assert_eq!(get("text_mprt", "raw_attention", "spearman@00_head"), 1.0);
    // with every block random (cascading, last step) raw attention no longer looks like itself
    assert_eq!(get("mprt", "raw_attention", "fails"), 0.0);
    assert!(get("mprt", "raw_attention", "spearman_last") < 0.5);
    assert!(get("mprt", "transformer_attribution", "spearman") < 1.0);
    // the shapes ViT has 4 blocks: head, 4 blocks, embeddings
    for step in ["00_head", "01_block3", "04_block0", "05_embeddings"] {
        get("mprt", "raw_attention", &format!("spearman@{step}"));
    }
    assert!(!s.contains_key(&("text_mprt".into(), "raw_attention".into(), "ssim".into())));

    // SRG = AUC(negative) − AUC(positive), from the same records
    for x in ["raw_attention", "random", "transformer_attribution"] {
        let srg = get("srg(neg - pos)", x, "srg");
        let want = get("neg", x, "auc") - get("pos", x, "auc");
        assert!((srg - want).abs() < 2e-6, "{x}: {srg} vs {want}");
    }
    // insertion/deletion: at level 0 deletion sees the clean image, insertion the baseline;
    // at level 1 deletion sees the all-black baseline for every explainer alike
    let del0 = get("deletion", "random", "prob@0.0");
    assert!((get("deletion", "raw_attention", "prob@0.0") - del0).abs() < 1e-9);
    let del1 = get("deletion", "random", "prob@1.0");
    assert!((get("deletion", "raw_attention", "prob@1.0") - del1).abs() < 1e-9);
    let ins1 = get("insertion", "random", "prob@1.0");
    assert!(
        (ins1 - del0).abs() < 1e-9,
        "everything inserted is the clean image"
    );
    for x in ["raw_attention", "random"] {
        let auc = get("deletion", x, "auc");
        assert!((0.0..=1.0).contains(&auc));
    }
    // text: nothing deleted = everything inserted = the clean document, for every explainer;
    // everything deleted = nothing inserted = only [CLS] [SEP]
    let clean = get("text_deletion", "random", "prob@0.0");
    let empty = get("text_deletion", "random", "prob@1.0");
    for x in ["raw_attention", "random"] {
        assert!((get("text_deletion", x, "prob@0.0") - clean).abs() < 1e-9);
        assert!((get("text_insertion", x, "prob@1.0") - clean).abs() < 1e-9);
        assert!((get("text_deletion", x, "prob@1.0") - empty).abs() < 1e-9);
        assert!((get("text_insertion", x, "prob@0.0") - empty).abs() < 1e-9);
    }
    assert!(
        get("text_deletion", "raw_attention", "auc")
            < get("text_insertion", "raw_attention", "auc"),
        "on the planted BERT the attended pieces carry the label"
    );
    for f in [
        "plots/mprt_spearman.png",
        "plots/mprt_ssim.png",
        "plots/srg_neg_pos.png",
        "plots/deletion.png",
        "plots/text_mprt_spearman.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("### srg(neg - pos)") && md.contains("spearman per step"));

    // a killed run resumes to the same summary
    let killed = tmp.path().join("killed");
    let o = run(&cfg, &killed, &[("FAITHBENCH_FAIL_AFTER", "7")]);
    assert!(!o.status.success(), "the kill hook stops the run");
    ok(&run(&cfg, &killed, &[]));
    assert_eq!(
        std::fs::read(out.join("summary.csv")).unwrap(),
        std::fs::read(killed.join("summary.csv")).unwrap()
    );
    // and `check` against itself passes with the new metrics' tolerances
    let o = faithbench(
        &[
            "check",
            "--baseline",
            out.join("summary.csv").to_str().unwrap(),
            killed.join("summary.csv").to_str().unwrap(),
        ],
        &[],
    );
    ok(&o);
}
