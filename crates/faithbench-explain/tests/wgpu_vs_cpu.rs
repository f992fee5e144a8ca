//! Every registered explainer on the shipped demo models (`models/`), computed on the flex CPU
//! backend and on a wgpu device, must give the same maps: max |flex − wgpu| ≤ 1e-4 relative to
//! the map's scale (max |flex|), per model and method, for a batch of two real inputs each —
//! except transformer attribution, whose float32 LRP is ill-conditioned (see [`tolerance`]).
//!
//! Only built with `--features wgpu`. The wgpu device is `wgpu` (the best adapter: a GPU, else
//! the CPU/software adapter), or the one `FAITHBENCH_TEST_DEVICE` names (`wgpu-cpu`). Without an
//! adapter the test fails naming the problem. `scripts/gpu_check.sh` runs it; `docs/gpu.md` has
//! the measured differences.
//!
//! `precomputed` is left out: it reads maps from files and computes nothing on the device.
#![cfg(feature = "wgpu")]

use std::path::{Path, PathBuf};

use burn::prelude::*;
use faithbench_explain::{ExplainBatch, MethodConfig, TokenMaps, METHODS};
use faithbench_models::clip::{Clip, ClipImageClassifier, ClipTextView};
use faithbench_models::clip_tokenize::ClipTokenizer;
use faithbench_models::preprocess::{open_rgb, prepare, raw_batch, ResizeMode};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::*;

/// Largest accepted max |flex − wgpu| / max |flex| of one method's maps on one model.
const TOL: f32 = 1e-4;

/// Methods without device computation, not compared.
const NOT_COMPARED: &[&str] = &["precomputed"];

/// Wider bounds for methods whose float32 maps are ill-conditioned, with the reason.
///
/// Transformer attribution's LRP divides by near-cancelling sums (stabiliser 1e-9) through every
/// layer, so its float32 map is only determined to the amplified rounding: on the flex device
/// alone, float32 and float64 differ by 3.9e-3 of the maximum on the triangle image this test
/// uses (`faithbench explain --precision`), and by 9–43 % on a random ViT-B/16
/// (docs/explainers.md, "LRP precision"). lavapipe's division and exp are less exact than
/// flex's (Vulkan allows 2.5 ulp and more), and the measured flex–wgpu difference is 2.1e-2 on
/// the ViT-CLS, 4.1e-4 on the ViT-GAP (docs/gpu.md). Every other method is held to [`TOL`].
fn tolerance(method: &str) -> f32 {
    match method {
        "transformer_attribution" => 5e-2,
        _ => TOL,
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The wgpu device name under test.
fn gpu_name() -> String {
    match std::env::var(TEST_DEVICE_ENV) {
        Ok(n) if n.starts_with("wgpu") => n,
        Ok(n) if n.is_empty() || n == "cpu" || n == "flex" => "wgpu".to_string(),
        Ok(n) => panic!("{TEST_DEVICE_ENV}={n}: this test compares flex with a wgpu device"),
        Err(_) => "wgpu".to_string(),
    }
}

/// Both devices, with autodiff: (flex, wgpu).
fn devices() -> (Device, Device) {
    let name = gpu_name();
    let gpu = device_by_name(&name).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "comparing flex with `{name}`: {}",
        describe_device(&name).unwrap_or_else(|e| panic!("{e}"))
    );
    (default_device().autodiff(), gpu.autodiff())
}

/// Two validation images of different classes, as raw `[0, 1]` pixels `2 × 3 × size × size`.
fn raw_images(size: usize, dev: &Device) -> Tensor<4> {
    let val = root().join("datasets/shapes/val");
    let images: Vec<_> = ["0_disc", "2_triangle"]
        .iter()
        .map(|class| {
            let path = first_file(&val.join(class));
            prepare(
                &open_rgb(&path).unwrap_or_else(|e| panic!("{e}")),
                size,
                ResizeMode::Squash,
            )
        })
        .collect();
    raw_batch(&images, dev).expect("batch")
}

fn first_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{}: empty", dir.display()))
}

/// Two planted-test documents of different lengths (a padded batch).
/// Two planted documents, the second cut to its first 12 words so that the batch is padded (the
/// first two test documents tokenise to the same length).
fn texts() -> Vec<String> {
    let docs = root().join("datasets/planted/docs");
    ["test_00000.txt", "test_00001.txt"]
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let p = docs.join(f);
            let t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            if i == 1 {
                t.split_whitespace().take(12).collect::<Vec<_>>().join(" ")
            } else {
                t
            }
        })
        .collect()
}

fn prompts() -> Vec<String> {
    ["disc", "square", "triangle", "plus", "ring"]
        .iter()
        .map(|c| format!("a photo of a {c}"))
        .collect()
}

fn logits(model: &dyn Explainable, input: &ModelInput) -> Vec<f32> {
    model
        .logits(input)
        .expect("logits")
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32")
}

/// Targets: row 0's predicted class and a class row 1 does not predict, from the flex logits.
fn targets(model: &dyn Explainable, input: &ModelInput) -> Vec<usize> {
    let l = logits(model, input);
    let c = l.len() / 2;
    let argmax = |r: &[f32]| (0..r.len()).fold(0, |b, j| if r[j] > r[b] { j } else { b });
    let t1 = (argmax(&l[c..]) + 1) % c;
    vec![argmax(&l[..c]), t1]
}

/// One model view on both devices: (name, flex model, its input, wgpu model, its input).
struct Case<'a> {
    name: &'a str,
    cpu: (&'a dyn Explainable, &'a ModelInput),
    gpu: (&'a dyn Explainable, &'a ModelInput),
}

/// Per method: (method, max |Δ|, max |flex|), or the method's error on both devices.
fn compare(case: &Case) -> Vec<String> {
    let (cm, ci) = case.cpu;
    let (gm, gi) = case.gpu;
    // The models agree before any explainer runs.
    let (lc, lg) = (logits(cm, ci), logits(gm, gi));
    let d = max_diff(&lc, &lg);
    let s = lc.iter().fold(0f32, |m, v| m.max(v.abs()));
    eprintln!("{}: logits max |Δ| {d:.2e} (scale {s:.2e})", case.name);
    let mut failed = Vec::new();
    if d > TOL * s.max(1.0) {
        failed.push(format!("{}: logits differ by {d:.3e}", case.name));
    }
    let tg = targets(cm, ci);
    let ids = vec!["s0".to_string(), "s1".to_string()];
    let mut compared = 0;
    for m in METHODS {
        if NOT_COMPARED.contains(&m.name) {
            continue;
        }
        let example: serde_json::Value = serde_json::from_str(m.example).expect("example");
        let config = MethodConfig::new(m.name, example.as_object().expect("object"))
            .expect("config")
            .resolved(cm.family(), cm.num_layers());
        let run = |model: &dyn Explainable,
                   input: &ModelInput|
         -> faithbench_explain::Result<TokenMaps> {
            let batch = ExplainBatch {
                input,
                targets: &tg,
                ids: &ids,
            };
            config.build().expect("build").explain(model, &batch)
        };
        match (run(cm, ci), run(gm, gi)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    (a.batch, a.len, &a.valid),
                    (b.batch, b.len, &b.valid),
                    "{}/{}: map shape",
                    case.name,
                    m.name
                );
                let scale = a.values.iter().fold(0f32, |m, v| m.max(v.abs()));
                let diff = max_diff(&a.values, &b.values);
                if scale == 0.0 {
                    // e.g. GradCAM on CLIP's text tower, clamped to zero everywhere: the wgpu map
                    // must be exactly zero too
                    eprintln!(
                        "{}/{}: all-zero flex map, wgpu max |map| {diff:.2e}",
                        case.name, m.name
                    );
                    if diff != 0.0 {
                        failed.push(format!("{}/{}: flex all zero, wgpu not", case.name, m.name));
                    }
                    compared += 1;
                    continue;
                }
                let rel = diff / scale;
                eprintln!(
                    "{}/{}: max |flex − wgpu| {diff:.2e}, max |flex| {scale:.2e}, rel {rel:.2e}",
                    case.name, m.name
                );
                let tol = tolerance(m.name);
                if rel > tol {
                    failed.push(format!(
                        "{}/{}: rel {rel:.3e} > {tol:.0e}",
                        case.name, m.name
                    ));
                }
                compared += 1;
            }
            (Err(a), Err(b)) => {
                // e.g. LRP on CLIP's text tower: unsupported on both devices alike.
                assert_eq!(a.to_string(), b.to_string(), "{}/{}", case.name, m.name);
                eprintln!("{}/{}: an error on both devices: {a}", case.name, m.name);
            }
            (a, b) => panic!(
                "{}/{}: flex {:?} but wgpu {:?}",
                case.name,
                m.name,
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            ),
        }
    }
    assert!(
        compared >= 6,
        "{}: only {compared} methods compared",
        case.name
    );
    failed
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert!(
                x.is_finite() && y.is_finite(),
                "non-finite value: {x} / {y}"
            );
            (x - y).abs()
        })
        .fold(0f32, f32::max)
}

fn load(dir: &str, dev: &Device) -> AnyModel {
    load_model_dir(&root().join("models").join(dir), dev).unwrap_or_else(|e| panic!("{e}"))
}

fn vit_input(model: &AnyModel, dev: &Device) -> ModelInput {
    let AnyModel::Vit(vit) = model else {
        panic!("not a ViT")
    };
    let n = vit.config.normalization();
    ModelInput::Image(n.apply(raw_images(vit.config.image_size, dev)))
}

fn check_vit(dir: &str) {
    let (cpu, gpu) = devices();
    let (mc, mg) = (load(dir, &cpu), load(dir, &gpu));
    let (ic, ig) = (vit_input(&mc, &cpu), vit_input(&mg, &gpu));
    let failed = compare(&Case {
        name: dir,
        cpu: (mc.as_explainable(), &ic),
        gpu: (mg.as_explainable(), &ig),
    });
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn shapes_vit_cls_maps_match_flex() {
    check_vit("shapes_vit_cls");
}

#[test]
fn shapes_vit_gap_maps_match_flex() {
    check_vit("shapes_vit_gap");
}

#[test]
fn planted_bert_maps_match_flex() {
    let (cpu, gpu) = devices();
    let dir = root().join("models/planted_bert");
    let tok = TextTokenizer::from_file(find_tokenizer(&dir).expect("tokenizer")).expect("tok");
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let input = |dev: &Device| ModelInput::Text(tok.batch(&texts, 512, dev).expect("batch").0);
    let (mc, mg) = (load("planted_bert", &cpu), load("planted_bert", &gpu));
    let (ic, ig) = (input(&cpu), input(&gpu));
    let ModelInput::Text(b) = &ic else { panic!() };
    assert_ne!(b.lengths[0], b.lengths[1], "the batch should be padded");
    let failed = compare(&Case {
        name: "planted_bert",
        cpu: (mc.as_explainable(), &ic),
        gpu: (mg.as_explainable(), &ig),
    });
    assert!(failed.is_empty(), "{failed:#?}");
}

fn load_clip(dev: &Device) -> Clip {
    load_clip_dir(&root().join("models/shapes_clip"), dev).unwrap_or_else(|e| panic!("{e}"))
}

fn clip_images(clip: &Clip, dev: &Device) -> Tensor<4> {
    clip.config
        .normalization()
        .apply(raw_images(clip.config.image_size, dev))
}

#[test]
fn shapes_clip_image_view_maps_match_flex() {
    let (cpu, gpu) = devices();
    let tok = ClipTokenizer::new().expect("tokenizer");
    let prompts = prompts();
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let view = |dev: &Device| {
        let clip = load_clip(dev);
        let (batch, _) = tok
            .tokenize_batch(&prompts, clip.config.context_length, true, dev)
            .expect("prompts");
        let images = ModelInput::Image(clip_images(&clip, dev));
        (
            ClipImageClassifier::from_prompts(clip, &batch).expect("view"),
            images,
        )
    };
    let ((vc, ic), (vg, ig)) = (view(&cpu), view(&gpu));
    let failed = compare(&Case {
        name: "shapes_clip/image",
        cpu: (&vc, &ic),
        gpu: (&vg, &ig),
    });
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn shapes_clip_text_view_maps_match_flex() {
    let (cpu, gpu) = devices();
    let tok = ClipTokenizer::new().expect("tokenizer");
    let prompts = prompts();
    let texts = [prompts[0].as_str(), "a photo of a small red triangle"];
    let view = |dev: &Device| {
        let clip = load_clip(dev);
        let images = clip_images(&clip, dev);
        let (batch, _) = tok
            .tokenize_batch(&texts, clip.config.context_length, true, dev)
            .expect("texts");
        (
            ClipTextView::from_images(clip, &images).expect("view"),
            ModelInput::Text(batch),
        )
    };
    let ((vc, ic), (vg, ig)) = (view(&cpu), view(&gpu));
    let failed = compare(&Case {
        name: "shapes_clip/text",
        cpu: (&vc, &ic),
        gpu: (&vg, &ig),
    });
    assert!(failed.is_empty(), "{failed:#?}");
}
