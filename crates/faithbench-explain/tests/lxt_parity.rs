//! AttnLRP, CP-LRP, input × gradient and integrated gradients against the float64 references of
//! `scripts/fixtures/make_lxt_fixtures.py` (`fixtures/explain/lxt.safetensors`): lxt 2.1's
//! efficient AttnLRP / CP-LRP (its own torchvision CP-LRP patch map for the ViT, its rule
//! functions on transformers' BERT and OpenAI's CLIP modules) and plain torch autograd for the
//! two gradient baselines, on the tiny random ViT of `fixtures/explain/lxt_vit` (a torchvision
//! `VisionTransformer` converted to the timm layout), `fixtures/models/hf_bert` (padded batch)
//! and both views of `fixtures/clip/openai`.
//!
//! Every key goes through `MethodConfig` + `build()` + `explain` with the method's default
//! parameters. Error measure: max |Δ| / max |ref| per batch row, the worst row (the CLIP parity
//! measure); tolerance 1e-4, the LRP parity tests' tolerance. The measured errors are printed
//! (`--nocapture`) and listed in `docs/explainers.md`. Each map of the batch also equals the map
//! of its sample explained alone (≤ 1e-6 relative), and the AttnLRP, CP-LRP and IG maps differ
//! from input × gradient's reference by more than 1e-2 (the rules and the IG path are seen).

use burn::prelude::*;
use faithbench_explain::{ExplainBatch, MethodConfig, TokenMaps};
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

mod common;
use common::clip_fixture::fixture;
use common::{load_fixture, rel_err, root};

const TOL: f32 = 1e-4;
const METHODS: [&str; 4] = [
    "attnlrp",
    "cp_lrp",
    "input_x_gradient",
    "integrated_gradients",
];

fn reference() -> WeightFile {
    WeightFile::open(root().join("fixtures/explain/lxt.safetensors")).expect("lxt.safetensors")
}

fn targets(r: &WeightFile, family: &str) -> Vec<usize> {
    r.get(&format!("{family}.target"))
        .expect("target")
        .data
        .iter()
        .map(|&v| v as usize)
        .collect()
}

/// Worst-row relative error and the largest absolute error of `got` against the reference.
fn errors(got: &TokenMaps, want: &[f32]) -> (f32, f32) {
    assert_eq!(got.values.len(), want.len(), "length");
    let len = got.len;
    let mut rel = 0f32;
    let mut abs = 0f32;
    for b in 0..got.batch {
        let (g, w) = (
            &got.values[b * len..(b + 1) * len],
            &want[b * len..(b + 1) * len],
        );
        rel = rel.max(rel_err(g, w));
        abs = abs.max(
            g.iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max),
        );
    }
    (rel, abs)
}

fn check(family: &str, model: &dyn Explainable, input: &ModelInput, targets: &[usize]) {
    let r = reference();
    let ids: Vec<String> = (0..targets.len()).map(|i| format!("s{i}")).collect();
    let batch = ExplainBatch {
        input,
        targets,
        ids: &ids,
    };
    let mut failed = Vec::new();
    for method in METHODS {
        let cfg =
            MethodConfig::from_value(serde_json::json!({ "method": method })).expect("config");
        let maps = cfg
            .build()
            .expect("build")
            .explain(model, &batch)
            .unwrap_or_else(|e| panic!("{family}/{method}: {e}"));
        let want = &r.get(&format!("{family}.{method}")).expect(method).data;
        let (rel, abs) = errors(&maps, want);
        eprintln!("lxt parity {family}/{method}: rel {rel:.2e}, abs {abs:.2e} (tol {TOL:.0e})");
        if rel > TOL {
            failed.push(format!("{method}: {rel:.3e}"));
        }
        // batched = one sample at a time
        let explainer = cfg.build().expect("build");
        for i in 0..targets.len() {
            let one = input.select_rows(&[i]);
            let single = explainer
                .explain(
                    model,
                    &ExplainBatch {
                        input: &one,
                        targets: &targets[i..=i],
                        ids: &ids[i..=i],
                    },
                )
                .expect("single");
            let row = &maps.values[i * maps.len..(i + 1) * maps.len];
            let d = rel_err(&single.values, row);
            assert!(
                d <= 1e-6,
                "{family}/{method}: sample {i} alone differs by {d:.2e}"
            );
        }
        // the rules matter: the LRP maps are not input × gradient's
        if method != "input_x_gradient" {
            let ixg = &r
                .get(&format!("{family}.input_x_gradient"))
                .expect("ixg")
                .data;
            let (apart, _) = errors(&maps, ixg);
            assert!(
                apart > 1e-2,
                "{family}/{method} equals input × gradient ({apart:.2e})"
            );
        }
    }
    assert!(failed.is_empty(), "{family}: {failed:?}");
}

#[test]
fn vit_matches_lxt_and_autograd() {
    let dev = test_autodiff_device();
    let model = load_model_dir(&root().join("fixtures/explain/lxt_vit"), &dev).expect("model");
    let r = reference();
    let t = r.get("vit.input").expect("input");
    let s: [usize; 4] = t.shape.clone().try_into().expect("rank 4");
    let input = ModelInput::Image(Tensor::from_data(TensorData::new(t.data.clone(), s), &dev));
    check("vit", model.as_explainable(), &input, &targets(&r, "vit"));
}

#[test]
fn bert_padded_batch_matches_lxt_and_autograd() {
    let (model, input, t) = load_fixture("hf_bert");
    assert_eq!(t, targets(&reference(), "bert"));
    check("bert", model.as_explainable(), &input, &t);
}

#[test]
fn clip_image_view_matches_lxt_rules_and_autograd() {
    let f = fixture();
    let input = ModelInput::Image(f.images.clone());
    check(
        "clip_image",
        &f.image_view(),
        &input,
        &targets(&reference(), "clip_image"),
    );
}

#[test]
fn clip_text_view_matches_lxt_rules_and_autograd() {
    let f = fixture();
    let input = ModelInput::Text(f.text_batch(&[0, 1]));
    check(
        "clip_text",
        &f.text_view(),
        &input,
        &targets(&reference(), "clip_text"),
    );
}
