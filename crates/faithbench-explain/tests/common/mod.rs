//! Shared test helpers: the tiny fixture models and their inputs.
#![allow(dead_code)]

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
