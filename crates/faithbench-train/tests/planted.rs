//! The planted-rationale BERT recipe: a few steps train and save a Hugging Face folder that loads
//! back through the users' checkpoint path, and the shipped model reaches its recorded accuracy.

use std::path::PathBuf;

use faithbench_data::planted::{PlantedSplit, PLANTED_SEED};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::AnyModel;
use faithbench_train::{evaluate_planted, train_planted_bert, PlantedTrainConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn short_training_saves_a_loadable_hf_folder() {
    let dir = std::env::temp_dir().join(format!("faithbench-planted-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = PlantedTrainConfig::shipped();
    cfg.steps = 4;
    cfg.warmup = 2;
    cfg.batch_size = 8;
    cfg.test_samples = 20;
    cfg.val_samples = 10;
    cfg.min_accuracy = 0.0;
    let mut lines = 0;
    let report = train_planted_bert(&cfg, &dir, |_| lines += 1).unwrap();
    assert_eq!(lines, 1, "one log line at the last step");
    assert_eq!(report.test_samples, 20);
    for f in [
        "model.safetensors",
        "config.json",
        "vocab.txt",
        "faithbench.json",
        "train_report.json",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let dev = faithbench_models::default_device();
    let AnyModel::Bert(m) = faithbench_models::load_model_dir(&dir, &dev).unwrap() else {
        panic!("bert")
    };
    let tok = TextTokenizer::from_file(dir.join("vocab.txt")).unwrap();
    let acc = evaluate_planted(&m, &tok, PLANTED_SEED, PlantedSplit::Test, 20, &dev).unwrap();
    assert_eq!(
        acc, report.test_accuracy,
        "the saved model is the evaluated one"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_model_reaches_its_recorded_accuracy() {
    let dir = repo().join("models/planted_bert");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is committed with the repository",
        dir.display()
    );
    let dev = faithbench_models::default_device();
    let AnyModel::Bert(m) = faithbench_models::load_model_dir(&dir, &dev).unwrap() else {
        panic!("bert")
    };
    let tok = TextTokenizer::from_file(dir.join("vocab.txt")).unwrap();
    let acc = evaluate_planted(&m, &tok, PLANTED_SEED, PlantedSplit::Test, 200, &dev).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("train_report.json")).unwrap())
            .unwrap();
    assert_eq!(acc, report["test_accuracy"].as_f64().unwrap());
    assert!(acc >= 0.95, "{acc}");
}
