//! The shapes CLIP: the OpenAI-layout writer round-trips through the users' loader, a few
//! training steps lower the loss and are deterministic, and the shipped model reaches its
//! recorded zero-shot accuracy.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::Distribution;
use faithbench_models::clip::ClipConfig;
use faithbench_models::clip_tokenize::clip_batch_from_ids;
use faithbench_models::preprocess::Normalization;
use faithbench_models::save::save_clip_openai;
use faithbench_models::weights::WeightFile;
use faithbench_models::ModelSource;
use faithbench_train::{
    evaluate_zero_shot, shapes_clip_config, train_shapes_clip, ShapesClipTrainConfig,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faithbench-clip-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn tiny() -> ClipConfig {
    let (norm_mean, norm_std) = Normalization::Clip.mean_std();
    ClipConfig {
        image_size: 16,
        patch_size: 8,
        vision_width: 16,
        vision_layers: 2,
        vision_heads: 2,
        context_length: 8,
        vocab_size: 64,
        text_width: 12,
        text_heads: 3,
        text_layers: 1,
        embed_dim: 8,
        ln_eps: 1e-5,
        norm_mean,
        norm_std,
    }
}

#[test]
fn openai_writer_round_trips_through_the_loader() {
    let dev = faithbench_models::default_device();
    dev.seed(7);
    let cfg = tiny();
    let model = cfg.init(&dev);
    let dir = tmp("roundtrip");
    save_clip_openai(&model, &dir).unwrap();

    // OpenAI's names and shapes.
    let file = WeightFile::open(dir.join("model.safetensors")).unwrap();
    let shape = |k: &str| file.get(k).unwrap_or_else(|| panic!("{k}")).shape.clone();
    assert_eq!(shape("visual.conv1.weight"), [16, 3, 8, 8]);
    assert_eq!(shape("visual.class_embedding"), [16]);
    assert_eq!(shape("visual.positional_embedding"), [5, 16]);
    assert_eq!(
        shape("visual.transformer.resblocks.1.attn.in_proj_weight"),
        [48, 16]
    );
    assert_eq!(
        shape("visual.transformer.resblocks.1.attn.in_proj_bias"),
        [48]
    );
    assert_eq!(
        shape("visual.transformer.resblocks.0.attn.out_proj.weight"),
        [16, 16]
    );
    assert_eq!(
        shape("visual.transformer.resblocks.0.mlp.c_fc.weight"),
        [64, 16]
    );
    assert_eq!(
        shape("visual.transformer.resblocks.0.mlp.c_proj.weight"),
        [16, 64]
    );
    assert_eq!(shape("visual.proj"), [16, 8]);
    assert_eq!(shape("token_embedding.weight"), [64, 12]);
    assert_eq!(shape("positional_embedding"), [8, 12]);
    assert_eq!(
        shape("transformer.resblocks.0.attn.in_proj_weight"),
        [36, 12]
    );
    assert_eq!(shape("ln_final.weight"), [12]);
    assert_eq!(shape("text_projection"), [12, 8]);
    assert_eq!(
        shape("logit_scale"),
        Vec::<usize>::new(),
        "0-d like OpenAI's"
    );
    // conv1 3 + ln_pre 2 + 12 per block + ln_post 2 + proj | token, pos, 12 per block, ln_final 2,
    // text_projection, logit_scale
    assert_eq!(file.len(), (3 + 2 + 2 * 12 + 2 + 1) + (2 + 12 + 2 + 1 + 1));
    // PyTorch (out, in) = burn's (in, out) transposed: in_proj row 1 (q feature 1), column 2.
    let w = vec_of(model.visual.transformer.resblocks[0].attn.qkv.weight.val());
    let f = &file
        .get("visual.transformer.resblocks.0.attn.in_proj_weight")
        .unwrap()
        .data;
    assert_eq!(f[16 + 2], w[2 * 48 + 1]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("faithbench.json")).unwrap())
            .unwrap();
    assert_eq!(json["family"], "clip");
    assert_eq!(json["layout"], "openai_clip");

    // The same model through ModelSource, the path users' checkpoints take.
    let src = ModelSource::from_dir(&dir, None).unwrap();
    assert_eq!(src.clip_config().unwrap(), cfg);
    let again = src.load_clip(&dev).unwrap();
    // The weights are the same numbers: writing the loaded model again gives the same bytes.
    let dir2 = tmp("roundtrip-again");
    save_clip_openai(&again, &dir2).unwrap();
    assert!(
        std::fs::read(dir.join("model.safetensors")).unwrap()
            == std::fs::read(dir2.join("model.safetensors")).unwrap(),
        "save ∘ load is the identity on the weights"
    );
    // Features and logits: the loader keeps PyTorch's (out, in) matrices as transposed views,
    // so matrix products may round differently in the last bits; loaded twice, bit-identical.
    let third = ModelSource::from_dir(&dir2, None)
        .unwrap()
        .load_clip(&dev)
        .unwrap();
    let images = Tensor::<4>::random([2, 3, 16, 16], Distribution::Normal(0.0, 1.0), &dev);
    let text =
        clip_batch_from_ids(&[vec![1, 5, 9, 63], vec![2, 40, 7, 3, 62, 0]], 8, &dev).unwrap();
    let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
        assert_eq!(a.len(), b.len());
        let d = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-5, "{what}: max |Δ| {d}");
    };
    close(
        vec_of(model.image_features(&images).unwrap()),
        vec_of(again.image_features(&images).unwrap()),
        "image features",
    );
    close(
        vec_of(model.text_features(&text).unwrap()),
        vec_of(again.text_features(&text).unwrap()),
        "text features",
    );
    let (a, _) = model.forward(images.clone(), &text).unwrap();
    let (b, _) = again.forward(images.clone(), &text).unwrap();
    let (c, _) = third.forward(images, &text).unwrap();
    close(vec_of(a), vec_of(b.clone()), "logits");
    assert_eq!(vec_of(b), vec_of(c), "loaded twice: identical logits");
    assert_eq!(model.logit_scale_exp(), again.logit_scale_exp());
    let _ = std::fs::remove_dir_all(&dir2);
    let _ = std::fs::remove_dir_all(&dir);
}

fn short(dir: &Path) -> faithbench_train::ClipTrainReport {
    let mut cfg = ShapesClipTrainConfig::shipped();
    cfg.steps = 24;
    cfg.warmup = 2;
    cfg.batch_size = 16;
    cfg.log_every = 8;
    cfg.eval_samples = 20;
    cfg.min_accuracy = 0.0;
    let mut lines = 0;
    let report = train_shapes_clip(&cfg, dir, |_| lines += 1).unwrap();
    assert_eq!(lines, 3);
    report
}

#[test]
fn short_training_lowers_the_loss_and_is_deterministic() {
    let (a, b) = (tmp("train-a"), tmp("train-b"));
    let ra = short(&a);
    let rb = short(&b);
    let (first, last) = (ra.log[0].loss, ra.log[2].loss);
    assert!(
        last < first - 0.05,
        "mean loss of steps 1–8 {first:.4}, of steps 17–24 {last:.4}"
    );
    for f in ["model.safetensors", "faithbench.json", "train_report.json"] {
        assert!(a.join(f).is_file(), "{f}");
    }
    let wa = std::fs::read(a.join("model.safetensors")).unwrap();
    let wb = std::fs::read(b.join("model.safetensors")).unwrap();
    assert!(wa == wb, "two runs give bit-identical weights");
    let losses = |r: &faithbench_train::ClipTrainReport| -> Vec<f64> {
        r.log.iter().map(|l| l.loss).collect()
    };
    assert_eq!(losses(&ra), losses(&rb));
    assert_eq!(ra.test_accuracy, rb.test_accuracy);
    assert_eq!(ra.test_samples, 20);
    // The report's accuracy is the saved model's.
    let m = ModelSource::from_dir(&a, None)
        .unwrap()
        .load_clip(&faithbench_models::default_device())
        .unwrap();
    assert_eq!(evaluate_zero_shot(&m, 20).unwrap(), ra.test_accuracy);
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn shipped_model_reaches_its_recorded_zero_shot_accuracy() {
    let dir = repo().join("models/shapes_clip");
    let weights = dir.join("model.safetensors");
    assert!(
        weights.is_file(),
        "{} is committed with the repository",
        weights.display()
    );
    let size = std::fs::metadata(&weights).unwrap().len();
    assert!(size <= 8 << 20, "{size} bytes");
    let src = ModelSource::from_dir(&dir, None).unwrap();
    assert_eq!(src.clip_config().unwrap(), shapes_clip_config());
    let m = src.load_clip(&faithbench_models::default_device()).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("train_report.json")).unwrap())
            .unwrap();
    let n = report["test_samples"].as_u64().unwrap() as usize;
    assert_eq!(n, 500);
    let acc = evaluate_zero_shot(&m, n).unwrap();
    assert_eq!(acc, report["test_accuracy"].as_f64().unwrap());
    assert!(acc >= 0.9, "{acc}");
}
