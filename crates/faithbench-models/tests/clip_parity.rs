//! CLIP parity with OpenAI's code (clip-anytorch) and Hugging Face `CLIPModel` on a tiny
//! random-init CLIP in both checkpoint layouts. Fixtures: `fixtures/clip/`, made by
//! `scripts/fixtures/make_clip_fixtures.py`. Tolerances as for the ViT/BERT parity tests:
//! features, logits, attention, z and v·W_Oᵀ within 1e-4 absolute; ∂y/∂A within 1e-4 relative
//! to the largest reference magnitude of that layer; LRP relevance (float64 reference) within
//! 1e-4 relative at the last layer (what partial LRP reads) and within max(1e-4, 10 × the
//! reference's own float32 drift) below it.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use faithbench_models::clip::{eot_positions, Clip, ClipImageClassifier, ClipTextView};
use faithbench_models::clip_tokenize::clip_batch_from_ids;
use faithbench_models::lrp::LrpRules;
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

mod common;
use common::{max_abs_diff, max_rel_diff, vec_of};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/clip")
}

fn get<'a>(r: &'a WeightFile, k: &str) -> &'a [f32] {
    &r.get(k)
        .unwrap_or_else(|| panic!("reference has no `{k}`"))
        .data
}

fn load_clip(dir: &Path, weights: Option<&str>, dev: &Device) -> Clip {
    match weights {
        None => load_clip_dir(dir, dev).expect("load model"),
        Some(f) => {
            let spec = load::read_spec(&dir.join("faithbench.json")).expect("spec");
            load_clip_model(&dir.join(f), spec, dev).expect("load model")
        }
    }
}

fn image_input(r: &WeightFile, dev: &Device) -> Tensor<4> {
    let t = r.get("image").expect("image");
    let s: [usize; 4] = t.shape.clone().try_into().expect("rank 4");
    Tensor::from_data(TensorData::new(t.data.clone(), s), dev)
}

/// The reference ids (padded rows) as a CLIP text batch built by the crate's own helper.
fn text_input(r: &WeightFile, dev: &Device) -> TextBatch {
    let t = r.get("text").expect("text");
    let n = t.shape[1];
    let rows: Vec<Vec<u32>> = t
        .data
        .chunks(n)
        .map(|row| {
            let ids: Vec<u32> = row.iter().map(|&v| v as u32).collect();
            let eot = ids
                .iter()
                .enumerate()
                .max_by_key(|(i, &v)| (v, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
                .expect("row");
            ids[..=eot].to_vec()
        })
        .collect();
    let b = clip_batch_from_ids(&rows, n, dev).expect("batch");
    assert_eq!(
        b.input_ids
            .to_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap(),
        t.data,
        "re-padded ids equal the reference rows"
    );
    b
}

fn targets(r: &WeightFile, k: &str) -> Vec<usize> {
    get(r, k).iter().map(|&v| v as usize).collect()
}

#[derive(Default, Debug)]
struct Maxima {
    features: f32,
    logits: f32,
    attn: f32,
    grad_rel: f32,
    z: f32,
    vproj: f32,
}

impl Maxima {
    fn assert_within(&self, what: &str) {
        eprintln!(
            "clip parity {what}: features {:.2e}, logits {:.2e}, attn {:.2e}, grad(rel) {:.2e}, \
             z {:.2e}, vproj {:.2e}",
            self.features, self.logits, self.attn, self.grad_rel, self.z, self.vproj
        );
        assert!(
            self.features <= 1e-4,
            "{what}: features differ by {}",
            self.features
        );
        assert!(
            self.logits <= 1e-4,
            "{what}: logits differ by {}",
            self.logits
        );
        assert!(
            self.attn <= 1e-4,
            "{what}: attention differs by {}",
            self.attn
        );
        assert!(
            self.grad_rel <= 1e-4,
            "{what}: attention gradient differs by {} (relative)",
            self.grad_rel
        );
        assert!(self.z <= 1e-4, "{what}: block input differs by {}", self.z);
        assert!(
            self.vproj <= 1e-4,
            "{what}: v·W_Oᵀ differs by {}",
            self.vproj
        );
    }
}

fn opts(targets: &[usize], layers: usize) -> TraceOptions {
    TraceOptions {
        attn: true,
        z_vproj: true,
        grad: Some(GradRequest {
            targets: targets.to_vec(),
            objective: Objective::Logit,
            layers: (0..layers).collect(),
        }),
    }
}

/// Everything in `reference.safetensors` of one folder; `full` = the reference also has the
/// alpha-0.5 traces and z / v·W_Oᵀ (the OpenAI folder).
fn check_folder(name: &str, weights: Option<&str>, full: bool) -> Maxima {
    let dir = fixtures().join(name);
    let dev = test_autodiff_device();
    let model = load_clip(&dir, weights, &dev);
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let img = image_input(&r, &dev);
    let text = text_input(&r, &dev);
    let mut mx = Maxima::default();

    // features and logits of the plain model
    let f_img = model.encode_image(img.clone()).expect("image features");
    let f_txt = model.encode_text(&text).expect("text features");
    mx.features = max_abs_diff(&vec_of(&f_img), get(&r, "image_features"))
        .max(max_abs_diff(&vec_of(&f_txt), get(&r, "text_features")));
    let (per_image, per_text) = model.forward(img.clone(), &text).expect("forward");
    mx.logits = max_abs_diff(&vec_of(&per_image), get(&r, "logits_per_image"));
    assert_eq!(vec_of(&per_text), vec_of(&per_image.transpose()));

    // image view against the text features
    let view = ClipImageClassifier::new(model.clone(), model.text_features(&text).expect("tf"))
        .expect("image view");
    assert_eq!(view.num_classes(), 3);
    let it = targets(&r, "img.target");
    let input = ModelInput::Image(img.clone());
    let l = view.num_layers();
    let alphas: &[(f32, &str)] = if full {
        &[(1.0, ""), (0.5, "_a05")]
    } else {
        &[(1.0, "")]
    };
    for &(alpha, sfx) in alphas {
        let tr = view
            .trace(&input, &[alpha; 2], &opts(&it, l))
            .expect("trace");
        mx.logits = mx.logits.max(max_abs_diff(
            &vec_of(&tr.logits),
            get(&r, &format!("img.logits{sfx}")),
        ));
        for (i, layer) in tr.layers.iter().enumerate() {
            mx.attn = mx.attn.max(max_abs_diff(
                &vec_of(layer.attn.as_ref().expect("attn")),
                get(&r, &format!("img.attn{sfx}.{i}")),
            ));
            mx.grad_rel = mx.grad_rel.max(max_rel_diff(
                &vec_of(layer.grad.as_ref().expect("grad")),
                get(&r, &format!("img.grad{sfx}.{i}")),
            ));
            if full && alpha == 1.0 {
                mx.z = mx.z.max(max_abs_diff(
                    &vec_of(layer.z.as_ref().expect("z")),
                    get(&r, &format!("img.z.{i}")),
                ));
                mx.vproj = mx.vproj.max(max_abs_diff(
                    &vec_of(layer.vproj.as_ref().expect("vproj")),
                    get(&r, &format!("img.vproj.{i}")),
                ));
            }
        }
    }
    if full {
        // TI's CLIP variant of v·W_Oᵀ (pitfall P9a), and that it really differs
        let tr = view
            .trace_vproj(&input, &[1.0; 2], &opts(&it, l), VprojSource::PostAttention)
            .expect("trace");
        for (i, layer) in tr.layers.iter().enumerate() {
            let got = vec_of(layer.vproj.as_ref().expect("vproj"));
            mx.vproj = mx
                .vproj
                .max(max_abs_diff(&got, get(&r, &format!("img.vproj_post.{i}"))));
            assert!(max_abs_diff(&got, get(&r, &format!("img.vproj.{i}"))) > 1e-2);
        }
    }

    // text view against the image features
    let tview =
        ClipTextView::new(model.clone(), model.image_features(&img).expect("if")).expect("view");
    let tt = targets(&r, "txt.target");
    let tinput = ModelInput::Text(text.clone());
    assert_eq!(tview.readout_rows(&tinput).expect("rows"), vec![15, 8, 4]);
    assert_eq!(eot_positions(&text.input_ids).expect("eot"), vec![15, 8, 4]);
    let lt = tview.num_layers();
    for &(alpha, sfx) in alphas {
        let tr = tview
            .trace(&tinput, &[alpha; 3], &opts(&tt, lt))
            .expect("trace");
        mx.logits = mx.logits.max(max_abs_diff(
            &vec_of(&tr.logits),
            get(&r, &format!("txt.logits{sfx}")),
        ));
        for (i, layer) in tr.layers.iter().enumerate() {
            mx.attn = mx.attn.max(max_abs_diff(
                &vec_of(layer.attn.as_ref().expect("attn")),
                get(&r, &format!("txt.attn{sfx}.{i}")),
            ));
            mx.grad_rel = mx.grad_rel.max(max_rel_diff(
                &vec_of(layer.grad.as_ref().expect("grad")),
                get(&r, &format!("txt.grad{sfx}.{i}")),
            ));
        }
    }
    mx
}

#[test]
fn openai_state_dict_safetensors_matches_openai_clip() {
    check_folder("openai", None, true).assert_within("openai (model.safetensors)");
}

#[test]
fn openai_state_dict_pth_matches_openai_clip() {
    check_folder("openai", Some("model.pth"), true).assert_within("openai (model.pth)");
}

#[test]
fn hf_safetensors_matches_transformers_clip() {
    check_folder("hf", None, false).assert_within("hf (model.safetensors)");
}

#[test]
fn hf_pth_matches_transformers_clip() {
    check_folder("hf", Some("model.pth"), false).assert_within("hf (model.pth)");
}

#[test]
fn layouts_are_detected_from_tensor_names() {
    for (dir, layout) in [("openai", Layout::OpenaiClip), ("hf", Layout::HfClip)] {
        let f = WeightFile::open(fixtures().join(dir).join("model.safetensors")).expect("open");
        assert_eq!(Layout::detect(&f), Some(layout), "{dir}");
    }
}

#[test]
fn lrp_relevance_matches_float64_reference() {
    let dir = fixtures().join("openai");
    let dev = test_autodiff_device();
    let model = load_clip(&dir, None, &dev);
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let lrp = WeightFile::open(fixtures().join("lrp.safetensors")).expect("lrp reference");
    let text = text_input(&r, &dev);
    let view = ClipImageClassifier::from_prompts(model, &text).expect("view");
    let input = ModelInput::Image(image_input(&r, &dev));
    let t = targets(&lrp, "target");
    for (rules, key) in [
        (LrpRules::LayersOurs, "layers_ours"),
        (LrpRules::LayersLrp, "layers_lrp"),
    ] {
        let cams = view.attn_relevance(&input, &t, rules, 0).expect("lrp");
        let drift = get(&lrp, &format!("f32_drift.{key}"));
        assert_eq!(cams.len(), drift.len());
        for (l, cam) in cams.iter().enumerate() {
            let got = vec_of(cam.as_ref().expect("every layer down to 0"));
            let want = get(&lrp, &format!("{key}.{l}"));
            assert!(
                want.iter().any(|v| v.abs() > 1e-6),
                "reference is not trivial"
            );
            let rel = max_rel_diff(&got, want);
            // The relevance of the lower layers is ill-conditioned in float32 (S = R_A / (q·kᵀ)
            // with tiny scores): the reference itself moves by `drift` when run in float32.
            let tol = if l + 1 == cams.len() {
                1e-4
            } else {
                1e-4f32.max(10.0 * drift[l])
            };
            eprintln!(
                "clip LRP {key} layer {l}: relative difference {rel:.2e} (reference f32 drift \
                 {:.1e}, tolerance {tol:.1e})",
                drift[l]
            );
            assert!(
                rel <= tol,
                "{key} layer {l}: LRP relevance differs by {rel} (relative)"
            );
        }
        // down_to skips the lower layers
        let top = view.attn_relevance(&input, &t, rules, 2).expect("lrp");
        assert!(top[0].is_none() && top[1].is_none() && top[2].is_some());
    }
}

#[test]
fn view_metadata_and_wrong_inputs() {
    let dir = fixtures().join("openai");
    let dev = test_autodiff_device();
    let model = load_clip(&dir, None, &dev);
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let img = image_input(&r, &dev);
    let text = text_input(&r, &dev);
    let view = ClipImageClassifier::from_prompts(model.clone(), &text).expect("view");
    assert_eq!(view.family(), Family::Clip);
    assert_eq!(view.readout(), Readout::ClsRow);
    assert_eq!(view.patch_grid(), Some((4, 4)));
    assert_eq!((view.num_layers(), view.num_heads()), (3, 4));
    assert_eq!(
        view.readout_rows(&ModelInput::Image(img.clone())).unwrap(),
        vec![0, 0]
    );
    let tview = ClipTextView::from_images(model.clone(), &img).expect("text view");
    assert_eq!(tview.family(), Family::ClipText);
    assert_eq!(tview.readout(), Readout::EotRow);
    assert_eq!(tview.patch_grid(), None);
    assert_eq!((tview.num_layers(), tview.num_heads()), (2, 4));
    // the loaded logit scale is used (the fixture stores 1.7, not CLIP's initial ln(1/0.07))
    assert!((model.logit_scale_exp() - 1.7f32.exp()).abs() < 1e-5);
    // wrong inputs are errors, not panics
    let e = view
        .trace(
            &ModelInput::Text(text.clone()),
            &[1.0; 3],
            &TraceOptions::default(),
        )
        .expect_err("text into the image view");
    assert!(e.to_string().contains("image input"), "{e}");
    let e = tview
        .trace(
            &ModelInput::Image(img.clone()),
            &[1.0; 2],
            &TraceOptions::default(),
        )
        .expect_err("image into the text view");
    assert!(e.to_string().contains("text input"), "{e}");
    let small = img.clone().narrow(2, 0, 16).narrow(3, 0, 16);
    assert!(view.logits(&ModelInput::Image(small)).is_err());
    assert!(view
        .trace(
            &ModelInput::Image(img.clone()),
            &[1.0],
            &TraceOptions::default()
        )
        .is_err());
    let bad_ids = TextBatch {
        input_ids: Tensor::from_data(TensorData::new(vec![0i64, 64], [1, 2]), &dev),
        attention_mask: Tensor::ones([1, 2], &dev),
        token_type_ids: Tensor::zeros([1, 2], &dev),
        lengths: vec![2],
    };
    let e = tview
        .logits(&ModelInput::Text(bad_ids))
        .expect_err("id 64 >= vocab 64");
    assert!(e.to_string().contains("out of range"), "{e}");
    let wrong_dim = Tensor::<2>::zeros([3, 5], &dev);
    assert!(ClipImageClassifier::new(model.clone(), wrong_dim).is_err());
    let e = view
        .attn_relevance(&ModelInput::Image(img), &[0], LrpRules::LayersOurs, 0)
        .expect_err("one target for two images");
    assert!(e.to_string().contains("targets"), "{e}");
    // a CLIP folder is not an AnyModel: the error says what to call
    let e = load_model_dir(&dir, &dev).expect_err("CLIP through load_model_dir");
    assert!(e.to_string().contains("load_clip_model"), "{e}");
    // TI's post-attention v·W_Oᵀ is CLIP-only
    let vit = load_model_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models/timm_vit_cls"),
        &dev,
    )
    .expect("vit fixture");
    let x = Tensor::<4>::zeros([1, 3, 32, 32], &dev);
    let z_opts = TraceOptions {
        z_vproj: true,
        ..Default::default()
    };
    let e = vit
        .as_explainable()
        .trace_vproj(
            &ModelInput::Image(x.clone()),
            &[1.0],
            &z_opts,
            VprojSource::PostAttention,
        )
        .expect_err("post-attention vproj on a ViT");
    assert!(e.to_string().contains("P9a"), "{e}");
    let a = vit
        .as_explainable()
        .trace_vproj(
            &ModelInput::Image(x.clone()),
            &[1.0],
            &z_opts,
            VprojSource::AttentionInput,
        )
        .expect("default source is trace");
    let b = vit
        .as_explainable()
        .trace(&ModelInput::Image(x), &[1.0], &z_opts)
        .expect("trace");
    assert_eq!(
        vec_of(a.layers[1].vproj.as_ref().unwrap()),
        vec_of(b.layers[1].vproj.as_ref().unwrap())
    );
}

#[test]
fn batched_image_trace_equals_single_traces() {
    let dir = fixtures().join("openai");
    let dev = test_autodiff_device();
    let model = load_clip(&dir, None, &dev);
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let text = text_input(&r, &dev);
    let view = ClipImageClassifier::from_prompts(model, &text).expect("view");
    let input = ModelInput::Image(image_input(&r, &dev));
    let o = |t: Vec<usize>| TraceOptions {
        attn: true,
        grad: Some(GradRequest {
            targets: t,
            objective: Objective::Probability,
            layers: vec![2],
        }),
        ..Default::default()
    };
    let full = view
        .trace(&input, &[1.0, 0.3], &o(vec![1, 2]))
        .expect("trace");
    for (b, (alpha, t)) in [(1.0f32, 1usize), (0.3, 2)].into_iter().enumerate() {
        let one = view
            .trace(&input.select_rows(&[b]), &[alpha], &o(vec![t]))
            .expect("trace");
        let g_full = full.layers[2].grad.clone().expect("grad").narrow(0, b, 1);
        let g_one = one.layers[2].grad.clone().expect("grad");
        assert!(max_rel_diff(&vec_of(&g_full), &vec_of(&g_one)) < 1e-5);
        assert!(
            one.layers[0].grad.is_none(),
            "only probed layers get gradients"
        );
    }
}

#[test]
fn presets_and_random_init() {
    for name in ["clip_vit_b32", "clip_vit_b16", "clip_vit_l14"] {
        let p = model_preset(name).expect(name);
        assert_eq!(p.default_layout, Layout::OpenaiClip);
        let spec = (p.spec)(Layout::HfClip);
        assert_eq!(spec.facts().family, Family::Clip);
        let ModelSpec::Clip { config, .. } = spec else {
            panic!("clip spec")
        };
        config.validate().expect("preset is consistent");
        assert_eq!(config.context_length, 77);
        assert_eq!(config.vocab_size, 49408);
    }
    let b32 = clip::ClipConfig::clip_vit_b32();
    assert_eq!((b32.grid(), b32.num_image_tokens()), (7, 50));
    assert_eq!(clip::ClipConfig::clip_vit_l14().num_image_tokens(), 257);
    // a tiny random model runs both towers and trains (gradients reach the weights)
    let dev = test_autodiff_device();
    let cfg = clip::ClipConfig {
        image_size: 16,
        patch_size: 8,
        vision_width: 8,
        vision_layers: 1,
        vision_heads: 2,
        context_length: 6,
        vocab_size: 10,
        text_width: 8,
        text_heads: 2,
        text_layers: 1,
        embed_dim: 4,
        ..clip::ClipConfig::clip_vit_b32()
    };
    let m = cfg.init(&dev);
    let img = Tensor::<4>::ones([2, 3, 16, 16], &dev);
    let text = clip_batch_from_ids(&[vec![8, 3, 9], vec![8, 9]], 6, &dev).expect("batch");
    let (per_image, _) = m.forward(img, &text).expect("forward");
    assert_eq!(per_image.dims(), [2, 2]);
    let grads = per_image.sum().backward();
    assert!(m.token_embedding.val().grad(&grads).is_some());
    assert!((m.logit_scale_exp() - 1.0 / 0.07).abs() < 1e-3);
}
