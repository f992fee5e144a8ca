//! Shared test helpers: the tiny fixture models and their inputs.
#![allow(dead_code)]

pub mod clip_fixture;

use std::path::PathBuf;

use burn::prelude::*;
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn load_fixture(name: &str) -> (AnyModel, ModelInput, Vec<usize>) {
    let dev = test_autodiff_device();
    let dir = root().join("fixtures/models").join(name);
    let model = load_model_dir(&dir, &dev).expect("model");
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let targets = r
        .get("target")
        .expect("target")
        .data
        .iter()
        .map(|&v| v as usize)
        .collect();
    let input = match &model {
        AnyModel::Vit(_) => {
            let t = r.get("input").expect("input");
            let s: [usize; 4] = t.shape.clone().try_into().expect("rank 4");
            ModelInput::Image(Tensor::from_data(TensorData::new(t.data.clone(), s), &dev))
        }
        AnyModel::Bert(_) => {
            let int = |k: &str| {
                let t = r.get(k).expect(k);
                let s: [usize; 2] = t.shape.clone().try_into().expect("rank 2");
                Tensor::<2, Int>::from_data(
                    TensorData::new(t.data.iter().map(|&v| v as i64).collect::<Vec<_>>(), s),
                    &dev,
                )
            };
            let mask = r.get("attention_mask").expect("mask");
            let n = mask.shape[1];
            ModelInput::Text(TextBatch {
                input_ids: int("input_ids"),
                attention_mask: int("attention_mask"),
                token_type_ids: int("token_type_ids"),
                lengths: mask
                    .data
                    .chunks(n)
                    .map(|c| c.iter().filter(|&&v| v > 0.0).count())
                    .collect(),
            })
        }
    };
    (model, input, targets)
}

/// Relative error: max |got − want| / max |want| (the plain max difference when `want` is all
/// zeros).
pub fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "length");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    if scale > 0.0 {
        diff / scale
    } else {
        diff
    }
}

/// The method config of a `fixtures/explain/params.json` key (the reference's parameter names
/// mapped to faithbench's: `ssl` → `perception_only`; no `readout`; no `objective` for methods
/// without one).
pub fn fixture_method_config(params: &serde_json::Value) -> faithbench_explain::MethodConfig {
    let mut p = params.as_object().expect("object").clone();
    p.remove("readout");
    if let Some(ssl) = p.remove("ssl") {
        p.insert("perception_only".into(), ssl);
    }
    let m = p["method"].as_str().expect("method").to_string();
    if [
        "partial_lrp",
        "transformer_attribution",
        "raw_attention",
        "rollout",
    ]
    .contains(&m.as_str())
    {
        p.remove("objective");
    }
    serde_json::from_value(serde_json::Value::Object(p)).expect("method config")
}
