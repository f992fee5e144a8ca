//! Float64 runs (`[run] precision = "f64"`): with the CPU device configured for float64 before
//! anything is created, every tensor — weights as loaded, activations, gradients, LRP
//! relevance — is float64, and every explainer's maps meet the float64 PyTorch reference
//! (`fixtures/explain/`) to the reference's float32 storage precision, including the LRP keys
//! whose float32 runs drift by up to 8e-4 (`params.json` `f32_rel_diff`; `docs/explainers.md`,
//! "LRP precision"). Its own test binary: the device's dtype is fixed per process.

use burn::prelude::*;
use faithbench_explain::ExplainBatch;
use faithbench_models::precision::{configure, Precision};
use faithbench_models::weights::WeightFile;

mod common;
use common::{fixture_method_config as method_config, load_fixture, rel_err as rel, root};

#[test]
fn f64_runs_meet_the_float64_reference_where_f32_cannot() {
    configure(&Device::flex(), Precision::F64).expect("configure f64");
    assert!(
        configure(&Device::flex(), Precision::F32).is_err(),
        "the dtype is fixed once tensors may exist"
    );
    let params: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/explain/params.json")).expect("params"),
    )
    .expect("json");
    let mut worst_f32_drift = 0f64;
    for name in ["timm_vit_cls", "timm_vit_gap", "hf_bert"] {
        let mp = &params["models"][name];
        let reference = WeightFile::open(
            root()
                .join("fixtures/explain")
                .join(format!("{name}.safetensors")),
        )
        .expect("reference");
        let (model, input, targets) = load_fixture(name);
        let ids: Vec<String> = (0..targets.len()).map(|i| format!("s{i}")).collect();
        let batch = ExplainBatch {
            input: &input,
            targets: &targets,
            ids: &ids,
        };
        for (key, p) in mp["keys"].as_object().expect("keys") {
            let maps = method_config(p)
                .build()
                .expect("build")
                .explain(model.as_explainable(), &batch)
                .expect(key);
            let r = rel(&maps.values, &reference.get(key).expect(key).data);
            eprintln!("f64 {name}/{key}: rel {r:.2e}");
            // the reference is stored in float32: 2⁻²³ of the map's maximum is its resolution
            assert!(r <= 1e-6, "{name}/{key}: {r:.3e}");
            if p["method"] == "transformer_attribution" && name == "timm_vit_gap" {
                // the identity-free part, whose float32 drift is the largest
                let n = 16.0f32;
                let got: Vec<f32> = maps.values.iter().map(|v| v - 1.0 / n).collect();
                let k = format!("{key}.minus_identity");
                let want = &reference.get(&k).expect(&k).data;
                let r = rel(&got, want);
                // the maps leave the explainer as f32: a value just above 1/16 is rounded to
                // half an ulp there, 2⁻²⁸, which bounds the error of the identity-free part
                let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
                let bound = 2f32.powi(-28) / scale * 1.01 + 1e-6;
                eprintln!("f64 {name}/{k}: rel {r:.2e} (f32 output rounding bound {bound:.2e})");
                assert!(r <= bound, "{k}: {r:.3e} > {bound:.3e}");
                worst_f32_drift = worst_f32_drift.max(mp["f32_rel_diff"][&k].as_f64().expect(&k));
            }
        }
    }
    assert!(
        worst_f32_drift > 1e-4,
        "the float32 drift these keys are compared against"
    );
}
