//! Parity with PyTorch (timm / transformers) on tiny random-init models in the real checkpoint
//! layouts. Fixtures: `fixtures/models/*`, made by `scripts/fixtures/make_model_fixtures.py`.
//! Tolerances (issue #2): logits, attention, z and v·W_Oᵀ within 1e-4 absolute; ∂y/∂A within
//! 1e-4 relative to the largest reference magnitude of that layer.

use std::path::PathBuf;

use burn::prelude::*;
use faithbench_models::tokenize::{batch_from_ids, TextTokenizer};
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

mod common;
use common::{max_abs_diff, max_rel_diff, vec_of};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models")
}

struct Maxima {
    logits: f32,
    attn: f32,
    grad_rel: f32,
    z: f32,
    vproj: f32,
}

fn input_for(model: &AnyModel, r: &WeightFile, dev: &Device) -> ModelInput {
    match model {
        AnyModel::Vit(_) => {
            let t = r.get("input").expect("input");
            let s: [usize; 4] = t.shape.clone().try_into().expect("rank 4");
            ModelInput::Image(Tensor::from_data(TensorData::new(t.data.clone(), s), dev))
        }
        AnyModel::Bert(_) => {
            let int = |k: &str| {
                let t = r.get(k).expect(k);
                let s: [usize; 2] = t.shape.clone().try_into().expect("rank 2");
                Tensor::<2, Int>::from_data(
                    TensorData::new(t.data.iter().map(|&v| v as i64).collect::<Vec<_>>(), s),
                    dev,
                )
            };
            let mask = r.get("attention_mask").expect("mask");
            let n = mask.shape[1];
            let lengths = mask
                .data
                .chunks(n)
                .map(|c| c.iter().filter(|&&v| v > 0.0).count())
                .collect();
            ModelInput::Text(TextBatch {
                input_ids: int("input_ids"),
                attention_mask: int("attention_mask"),
                token_type_ids: int("token_type_ids"),
                lengths,
            })
        }
    }
}

fn check_model(name: &str, weights: Option<&str>) -> Maxima {
    let dir = fixtures().join(name);
    let dev = test_autodiff_device();
    let model = match weights {
        None => load_model_dir(&dir, &dev).expect("load model"),
        Some(file) => {
            let spec = load::read_spec(&dir.join("faithbench.json")).expect("spec");
            load_model(&dir.join(file), spec, &dev).expect("load model")
        }
    };
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let input = input_for(&model, &r, &dev);
    let m = model.as_explainable();
    let targets: Vec<usize> = r
        .get("target")
        .expect("target")
        .data
        .iter()
        .map(|&v| v as usize)
        .collect();
    let l = m.num_layers();
    let mut mx = Maxima {
        logits: 0.0,
        attn: 0.0,
        grad_rel: 0.0,
        z: 0.0,
        vproj: 0.0,
    };
    for (alpha, sfx) in [(1.0f32, ""), (0.5, "_a05")] {
        let opts = TraceOptions {
            attn: true,
            z_vproj: true,
            grad: Some(GradRequest {
                targets: targets.clone(),
                objective: Objective::Logit,
                layers: (0..l).collect(),
            }),
        };
        let tr = m
            .trace(&input, &vec![alpha; targets.len()], &opts)
            .expect("trace");
        let d = max_abs_diff(
            &vec_of(&tr.logits),
            &r.get(&format!("logits{sfx}")).expect("logits").data,
        );
        mx.logits = mx.logits.max(d);
        for (i, layer) in tr.layers.iter().enumerate() {
            let a = max_abs_diff(
                &vec_of(layer.attn.as_ref().expect("attn")),
                &r.get(&format!("attn{sfx}.{i}")).expect("attn ref").data,
            );
            mx.attn = mx.attn.max(a);
            let g = max_rel_diff(
                &vec_of(layer.grad.as_ref().expect("grad")),
                &r.get(&format!("grad{sfx}.{i}")).expect("grad ref").data,
            );
            mx.grad_rel = mx.grad_rel.max(g);
            if alpha == 1.0 {
                mx.z = mx.z.max(max_abs_diff(
                    &vec_of(layer.z.as_ref().expect("z")),
                    &r.get(&format!("z.{i}")).expect("z ref").data,
                ));
                mx.vproj = mx.vproj.max(max_abs_diff(
                    &vec_of(layer.vproj.as_ref().expect("vproj")),
                    &r.get(&format!("vproj.{i}")).expect("vproj ref").data,
                ));
            }
        }
    }
    eprintln!(
        "parity {name}{}: logits {:.2e}, attn {:.2e}, grad(rel) {:.2e}, z {:.2e}, vproj {:.2e}",
        weights.map(|w| format!(" ({w})")).unwrap_or_default(),
        mx.logits,
        mx.attn,
        mx.grad_rel,
        mx.z,
        mx.vproj
    );
    assert!(mx.logits <= 1e-4, "{name}: logits differ by {}", mx.logits);
    assert!(mx.attn <= 1e-4, "{name}: attention differs by {}", mx.attn);
    assert!(
        mx.grad_rel <= 1e-4,
        "{name}: attention gradient differs by {} (relative)",
        mx.grad_rel
    );
    assert!(mx.z <= 1e-4, "{name}: block input differs by {}", mx.z);
    assert!(mx.vproj <= 1e-4, "{name}: v·W_Oᵀ differs by {}", mx.vproj);
    mx
}

#[test]
fn timm_vit_cls_matches_pytorch() {
    check_model("timm_vit_cls", None);
}

#[test]
fn timm_vit_gap_fc_norm_matches_pytorch() {
    check_model("timm_vit_gap", None);
}

#[test]
fn mae_style_pth_under_model_key_matches_pytorch() {
    check_model("timm_vit_gap", Some("model.pth"));
}

#[test]
fn hf_vit_matches_pytorch() {
    check_model("hf_vit", None);
}

#[test]
fn hf_bert_padded_batch_matches_pytorch() {
    check_model("hf_bert", None);
}

#[test]
fn batched_trace_equals_single_traces() {
    // Row b of a batched trace must equal a batch-of-one trace of input b.
    let dir = fixtures().join("timm_vit_cls");
    let dev = test_autodiff_device();
    let model = load_model_dir(&dir, &dev).expect("load");
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let input = input_for(&model, &r, &dev);
    let m = model.as_explainable();
    let opts = |t: Vec<usize>| TraceOptions {
        attn: true,
        z_vproj: false,
        grad: Some(GradRequest {
            targets: t,
            objective: Objective::Probability,
            layers: vec![1, 3],
        }),
    };
    let full = m
        .trace(&input, &[1.0, 0.3], &opts(vec![2, 5]))
        .expect("trace");
    for (b, (alpha, t)) in [(1.0f32, 2usize), (0.3, 5)].into_iter().enumerate() {
        let one = m
            .trace(&input.select_rows(&[b]), &[alpha], &opts(vec![t]))
            .expect("trace");
        for l in [1, 3] {
            let g_full = full.layers[l].grad.clone().expect("grad").narrow(0, b, 1);
            let g_one = one.layers[l].grad.clone().expect("grad");
            assert!(max_rel_diff(&vec_of(&g_full), &vec_of(&g_one)) < 1e-5);
        }
        assert!(
            full.layers[0].grad.is_none(),
            "only probed layers get gradients"
        );
    }
}

#[test]
fn tokenizer_json_and_vocab_txt_reproduce_hf_ids() {
    let dir = fixtures().join("hf_bert");
    let refj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).expect("json"))
            .expect("parse");
    let sentences: Vec<String> =
        serde_json::from_value(refj["sentences"].clone()).expect("sentences");
    let ids: Vec<Vec<i64>> = serde_json::from_value(refj["input_ids"].clone()).expect("ids");
    for file in ["tokenizer.json", "vocab.txt"] {
        let tok = TextTokenizer::from_file(dir.join(file)).expect("tokenizer");
        for (s, want) in sentences.iter().zip(&ids) {
            let enc = tok.encode(s, 512).expect("encode");
            let want: Vec<u32> = want
                .iter()
                .filter(|&&v| v != 0)
                .map(|&v| v as u32)
                .collect();
            assert_eq!(enc.ids, want, "{file}: `{s}`");
        }
    }
    let tok = TextTokenizer::from_file(dir.join("vocab.txt")).expect("tokenizer");
    let enc = tok.encode(&sentences[0], 5).expect("encode");
    assert_eq!(enc.ids.len(), 5, "truncation keeps max_len tokens");
    assert_eq!(
        enc.ids[4],
        tok.token_to_id("[SEP]").expect("sep"),
        "truncation keeps [SEP] last"
    );
    let b = batch_from_ids(&[vec![3, 4, 5], vec![3, 4]], 0, &default_device()).expect("batch");
    assert_eq!(b.lengths, vec![3, 2]);
    assert_eq!(
        b.attention_mask
            .to_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("i64"),
        vec![1, 1, 1, 1, 1, 0]
    );
}

/// Regression: loaded weights required grad, so every explainer backward pass also computed
/// all weight gradients (IG ran 3× slower). Loaded models must not track weight gradients.
#[test]
fn loaded_models_do_not_track_weight_gradients() {
    let dev = test_autodiff_device();
    for name in ["timm_vit_cls", "hf_bert"] {
        match load_model_dir(&fixtures().join(name), &dev).expect("load") {
            AnyModel::Vit(m) => {
                assert!(!m.blocks[0].attn.qkv.weight.val().is_require_grad());
                assert!(!m.head.weight.val().is_require_grad());
            }
            AnyModel::Bert(m) => {
                assert!(!m.embeddings.word_embeddings.val().is_require_grad());
                assert!(!m.layers[0].attention.qkv.weight.val().is_require_grad());
            }
        }
    }
}

#[test]
fn saved_timm_checkpoint_round_trips() {
    let dev = test_autodiff_device();
    let dir = fixtures().join("timm_vit_gap");
    let AnyModel::Vit(m) = load_model_dir(&dir, &dev).expect("load") else {
        panic!("vit")
    };
    let tmp = tempfile::tempdir().expect("tmp");
    faithbench_models::save::save_vit_timm(&m, tmp.path()).expect("save");
    let again = load_model_dir(tmp.path(), &dev).expect("reload");
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let input = input_for(&again, &r, &dev);
    let a = vec_of(&m.logits(&input).expect("logits"));
    let b = vec_of(&again.as_explainable().logits(&input).expect("logits"));
    assert_eq!(a, b, "bit-identical logits after save + load");
    let original = std::fs::read(dir.join("model.safetensors")).expect("read");
    let saved = WeightFile::open(tmp.path().join("model.safetensors")).expect("open");
    assert_eq!(
        saved.len(),
        WeightFile::open(dir.join("model.safetensors"))
            .expect("open")
            .len()
    );
    assert!(!original.is_empty());
}

#[test]
fn saved_hf_bert_checkpoint_round_trips() {
    let dev = test_autodiff_device();
    let dir = fixtures().join("hf_bert");
    let AnyModel::Bert(m) = load_model_dir(&dir, &dev).expect("load") else {
        panic!("bert")
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let labels = vec!["NEG".to_string(), "POS".to_string()];
    faithbench_models::save::save_bert_hf(&m, tmp.path(), &labels).expect("save");
    let again = load_model_dir(tmp.path(), &dev).expect("reload");
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let input = input_for(&again, &r, &dev);
    let a = vec_of(&m.logits(&input).expect("logits"));
    let b = vec_of(&again.as_explainable().logits(&input).expect("logits"));
    assert_eq!(a, b, "bit-identical logits after save + load");
    // the same tensor names and shapes as the transformers checkpoint (minus position_ids)
    let orig = WeightFile::open(dir.join("model.safetensors")).expect("open");
    let saved = WeightFile::open(tmp.path().join("model.safetensors")).expect("open");
    let mut want: Vec<String> = orig
        .names()
        .filter(|n| !n.ends_with("position_ids"))
        .map(String::from)
        .collect();
    let mut got: Vec<String> = saved.names().map(String::from).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    for n in &got {
        assert_eq!(
            saved.get(n).expect(n).shape,
            orig.get(n).expect(n).shape,
            "{n}"
        );
        assert_eq!(
            saved.get(n).expect(n).data,
            orig.get(n).expect(n).data,
            "{n}: values"
        );
    }
    // config.json is a Hugging Face BertConfig that reads back to the same config
    let cfg = bert::BertConfig::from_hf_json(&tmp.path().join("config.json"), false)
        .expect("config.json");
    assert_eq!(cfg, m.config);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(v["id2label"]["1"], "POS");
    assert_eq!(v["architectures"][0], "BertForSequenceClassification");
}
