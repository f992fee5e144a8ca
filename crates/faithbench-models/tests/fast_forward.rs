//! The fused inference forward (`src/fast.rs`, behind `Explainable::logits` of the ViT on the
//! flex device) against the PyTorch references of `fixtures/models` and against burn's
//! op-by-op forward of the same model, on every pooling variant, batch sizes 1 and 3, with
//! and without the autodiff decorator.

use std::path::PathBuf;

use burn::prelude::*;
use faithbench_models::vit::{FcNormOrder, Pool, VitConfig};
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

mod common;
use common::{max_abs, max_abs_diff, vec_of};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models")
}

/// burn's op-by-op forward of the same model (the fused kernels switched off).
fn burn_logits(m: &dyn Explainable, input: &ModelInput) -> Vec<f32> {
    faithbench_models::fast::without_fused_kernels(|| vec_of(&m.logits(input).expect("logits")))
}

/// A small random-init ViT (32², patches of 8, 3 blocks, width 96, 4 heads).
fn tiny_config() -> VitConfig {
    VitConfig {
        image_size: 32,
        patch_size: 8,
        hidden: 96,
        depth: 3,
        heads: 4,
        mlp_hidden: 192,
        num_classes: 7,
        qkv_bias: true,
        ln_eps: 1e-6,
        pool: Pool::Cls,
        norm_mean: [0.5; 3],
        norm_std: [0.5; 3],
        fc_norm_order: FcNormOrder::PoolThenNorm,
    }
}

/// The fused logits of `model` on `input` equal burn's to 2e-6 of the largest logit.
fn assert_fast_matches_burn(name: &str, model: &dyn Explainable, input: &ModelInput) {
    let fast = vec_of(&model.logits(input).expect("logits"));
    let slow = burn_logits(model, input);
    let scale = max_abs(&slow);
    let d = max_abs_diff(&fast, &slow);
    eprintln!("{name}: fast vs burn {d:.2e} (max |logit| {scale:.2})");
    assert!(scale > 0.1, "{name}: degenerate logits");
    assert!(d <= 2e-6 * scale.max(1.0), "{name}: differ by {d}");
}

/// timm / Hugging Face logits of the three ViT fixtures, on the plain and the autodiff device.
#[test]
fn fast_logits_match_pytorch_references() {
    for name in ["timm_vit_cls", "timm_vit_gap", "hf_vit"] {
        for dev in [Device::flex(), Device::flex().autodiff()] {
            let dir = fixtures().join(name);
            let model = load_model_dir(&dir, &dev).expect("load model");
            let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
            let t = r.get("input").expect("input");
            let s: [usize; 4] = t.shape.clone().try_into().expect("rank 4");
            let input =
                ModelInput::Image(Tensor::from_data(TensorData::new(t.data.clone(), s), &dev));
            let m = model.as_explainable();
            let fast = vec_of(&m.logits(&input).expect("logits"));
            let want = &r.get("logits").expect("logits").data;
            let d = max_abs_diff(&fast, want);
            eprintln!("{name}: fast logits vs PyTorch {d:.2e}");
            assert!(d <= 1e-5, "{name}: fast logits differ from PyTorch by {d}");
            // And burn's forward of the same model agrees as closely.
            let d = max_abs_diff(&fast, &burn_logits(m, &input));
            assert!(d <= 1e-5, "{name}: fast logits differ from burn's by {d}");
        }
    }
}

fn random_input(b: usize, s: usize, dev: &Device) -> ModelInput {
    // A deterministic, non-constant image batch in roughly the normalised range.
    let data: Vec<f32> = (0..b * 3 * s * s)
        .map(|i| ((i * 7919 % 1009) as f32 / 1009.0 - 0.5) * 2.0)
        .collect();
    ModelInput::Image(Tensor::from_data(TensorData::new(data, [b, 3, s, s]), dev))
}

/// Random models of every pooling variant: the fused forward equals burn's to float rounding.
#[test]
fn fast_logits_match_burn_forward_on_every_pooling() {
    let base = tiny_config();
    let variants = [
        ("cls", base.clone()),
        (
            "avg",
            VitConfig {
                pool: Pool::Avg,
                ..base.clone()
            },
        ),
        (
            "avg_norm_then_pool",
            VitConfig {
                pool: Pool::Avg,
                fc_norm_order: FcNormOrder::NormThenPool,
                ..base.clone()
            },
        ),
        (
            "no_qkv_bias",
            VitConfig {
                qkv_bias: false,
                ln_eps: 1e-12,
                ..base.clone()
            },
        ),
    ];
    for (name, cfg) in variants {
        let dev = Device::flex().autodiff();
        let model = cfg.init(&dev);
        for b in [1, 3] {
            let input = random_input(b, cfg.image_size, &dev);
            assert_fast_matches_burn(&format!("{name} b={b}"), &model, &input);
        }
    }
}

/// A ViT-B/16-shaped model (two blocks, 224²): the sizes at which the Linears are split into
/// tiles and the heads run in parallel.
#[test]
fn fast_logits_match_burn_forward_at_vit_b16_size() {
    let cfg = VitConfig {
        depth: 2,
        ..VitConfig::vit_b16()
    };
    let dev = Device::flex();
    let model = cfg.init(&dev);
    for b in [1, 2] {
        let input = random_input(b, 224, &dev);
        assert_fast_matches_burn(&format!("vit_b16 depth 2, b={b}"), &model, &input);
    }
}

/// A trace whose gradient starts at the last block runs the blocks before it on the fused
/// kernels, recording what the trace asks for (as Ours-H's integrated-gradient steps, GradCAM and
/// Ours-T's main pass do); `without_fused_kernels` computes the same trace with burn's ops.
#[test]
fn fused_prefix_keeps_records_and_the_last_layer_gradient() {
    let cfg = tiny_config();
    let dev = Device::flex().autodiff();
    let model = cfg.init(&dev);
    let input = random_input(2, 32, &dev);
    let alphas = [0.5f32, 1.0];
    for (attn, z_vproj) in [(false, false), (true, false), (true, true)] {
        let trace = || {
            model
                .trace(
                    &input,
                    &alphas,
                    &TraceOptions {
                        attn,
                        z_vproj,
                        grad: Some(GradRequest {
                            targets: vec![3, 5],
                            objective: Objective::Logit,
                            layers: vec![2],
                        }),
                    },
                )
                .expect("trace")
        };
        let fused = trace();
        let plain = faithbench_models::fast::without_fused_kernels(trace);
        let (gf, gp) = (
            vec_of(fused.layers[2].grad.as_ref().expect("grad")),
            vec_of(plain.layers[2].grad.as_ref().expect("grad")),
        );
        let scale = max_abs(&gp);
        let d = max_abs_diff(&gf, &gp);
        eprintln!("attn {attn} z/vproj {z_vproj}: last-layer gradient fused vs burn {d:.2e} (max {scale:.2e})");
        assert!(scale > 1e-6, "degenerate gradient");
        assert!(d <= 1e-5 * scale, "gradients differ by {d} (max {scale})");
        assert!(max_abs_diff(&vec_of(&fused.logits), &vec_of(&plain.logits)) <= 2e-6);
        for (i, (f, p)) in fused.layers.iter().zip(&plain.layers).enumerate() {
            assert_eq!(f.attn.is_some(), attn, "layer {i}: attention recorded");
            assert_eq!(f.z.is_some(), z_vproj, "layer {i}: block input recorded");
            assert_eq!(f.vproj.is_some(), z_vproj, "layer {i}: v·W_O recorded");
            assert_eq!(f.grad.is_some(), i == 2, "layer {i}: gradient");
            if let (Some(a), Some(b)) = (&f.attn, &p.attn) {
                let d = max_abs_diff(&vec_of(a), &vec_of(b));
                assert!(d <= 1e-6, "layer {i}: attention differs by {d}");
            }
            for (name, a, b) in [("z", &f.z, &p.z), ("vproj", &f.vproj, &p.vproj)] {
                if let (Some(a), Some(b)) = (a, b) {
                    let (a, b) = (vec_of(a), vec_of(b));
                    let scale = max_abs(&b);
                    let d = max_abs_diff(&a, &b);
                    assert!(
                        d <= 2e-6 * scale.max(1.0),
                        "layer {i}: {name} differs by {d}"
                    );
                }
            }
        }
    }
}

/// `without_fused_kernels` really switches the kernels off: the two logits of a ViT-B/16-sized
/// block differ in their last bits (the fused summation order is another), and are equal to
/// burn's own forward bit for bit when switched off.
#[test]
fn without_fused_kernels_is_burns_forward() {
    let cfg = VitConfig {
        depth: 1,
        ..VitConfig::vit_b16()
    };
    let dev = Device::flex();
    let model = cfg.init(&dev);
    let input = random_input(1, 224, &dev);
    let ModelInput::Image(img) = &input else {
        unreachable!()
    };
    let burn = vec_of(&model.forward(img.clone()));
    let off = faithbench_models::fast::without_fused_kernels(|| {
        vec_of(&model.logits(&input).expect("logits"))
    });
    let on = vec_of(&model.logits(&input).expect("logits"));
    assert_eq!(off, burn, "switched off, logits are burn's forward");
    assert_ne!(on, burn, "switched on, the fused kernels ran");
    assert!(max_abs_diff(&on, &burn) <= 2e-6 * max_abs(&burn).max(1.0));
}
