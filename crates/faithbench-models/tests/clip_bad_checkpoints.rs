//! Bad CLIP checkpoints give errors that name the file and the problem — never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use faithbench_models::clip::ClipConfig;
use faithbench_models::load::{load_clip, load_vit, read_spec, ModelSpec};
use faithbench_models::weights::WeightFile;
use faithbench_models::{autodiff_device, Layout, ModelError, ModelSource};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

fn fixture(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/clip")
        .join(dir)
}

type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Rewrites the OpenAI-layout fixture with `edit` applied to its (name → (shape, values)) map.
fn rewrite(dir: &Path, edit: impl FnOnce(&mut Tensors)) -> PathBuf {
    let src = WeightFile::open(fixture("openai").join("model.safetensors")).expect("fixture");
    let mut map: Tensors = src
        .names()
        .map(|n| {
            let t = src.get(n).expect("tensor");
            (n.to_string(), (t.shape.clone(), t.data.clone()))
        })
        .collect();
    edit(&mut map);
    let bytes: HashMap<String, (Vec<usize>, Vec<u8>)> = map
        .into_iter()
        .map(|(k, (s, d))| (k, (s, d.iter().flat_map(|v| v.to_le_bytes()).collect())))
        .collect();
    let views: HashMap<String, TensorView> = bytes
        .iter()
        .map(|(k, (s, b))| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("view"),
            )
        })
        .collect();
    let out = dir.join("model.safetensors");
    safetensors::serialize_to_file(&views, &None, &out).expect("write");
    out
}

fn config() -> ClipConfig {
    match read_spec(&fixture("openai").join("faithbench.json")).expect("spec") {
        ModelSpec::Clip { config, .. } => config,
        other => panic!("fixture is a CLIP, got {other:?}"),
    }
}

fn load(path: &Path, layout: Layout, config: &ClipConfig) -> Result<(), ModelError> {
    let file = WeightFile::open(path)?;
    load_clip(&file, layout, config, &autodiff_device()).map(|_| ())
}

#[test]
fn missing_tensor_names_file_and_tensor() {
    let tmp = tempfile::tempdir().expect("tmp");
    let name = "visual.transformer.resblocks.1.attn.out_proj.weight";
    let p = rewrite(tmp.path(), |m| {
        m.remove(name);
    });
    let e = load(&p, Layout::OpenaiClip, &config()).expect_err("must fail");
    assert!(
        matches!(&e, ModelError::MissingTensor { name: n, .. } if n == name),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains(name),
        "{msg}"
    );
}

#[test]
fn unexpected_tensor_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.insert(
            "visual.transformer.resblocks.7.ln_1.weight".into(),
            (vec![24], vec![1.0; 24]),
        );
    });
    let e = load(&p, Layout::OpenaiClip, &config()).expect_err("must fail");
    assert!(
        matches!(&e, ModelError::UnexpectedTensors { names, .. }
            if names == &vec!["visual.transformer.resblocks.7.ln_1.weight".to_string()]),
        "{e}"
    );
}

#[test]
fn wrong_shape_names_expected_and_found() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.insert("text_projection".into(), (vec![16, 8], vec![0.0; 128]));
    });
    match load(&p, Layout::OpenaiClip, &config()).expect_err("must fail") {
        ModelError::ShapeMismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "text_projection");
            assert_eq!(expected, vec![16, 16]);
            assert_eq!(found, vec![16, 8]);
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn jit_metadata_entries_are_checked() {
    // OpenAI's JIT state dicts also hold input_resolution / context_length / vocab_size.
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.insert("input_resolution".into(), (vec![], vec![32.0]));
        m.insert("vocab_size".into(), (vec![], vec![64.0]));
    });
    load(&p, Layout::OpenaiClip, &config()).expect("matching entries load");
    let p = rewrite(tmp.path(), |m| {
        m.insert("context_length".into(), (vec![], vec![77.0]));
    });
    let e = load(&p, Layout::OpenaiClip, &config()).expect_err("must fail");
    assert!(
        matches!(&e, ModelError::Config { reason, .. } if reason.contains("context_length") && reason.contains("77")),
        "{e}"
    );
}

#[test]
fn config_that_does_not_fit_the_checkpoint() {
    let mut cfg = config();
    cfg.vision_layers = 4;
    let e = load(
        &fixture("openai").join("model.safetensors"),
        Layout::OpenaiClip,
        &cfg,
    )
    .expect_err("must fail");
    assert!(
        matches!(&e, ModelError::MissingTensor { name, .. } if name.starts_with("visual.transformer.resblocks.3.")),
        "{e}"
    );
    let mut cfg = config();
    cfg.vision_heads = 5;
    let e = load(
        &fixture("openai").join("model.safetensors"),
        Layout::OpenaiClip,
        &cfg,
    )
    .expect_err("24 is not divisible by 5");
    assert!(matches!(e, ModelError::Config { .. }), "{e}");
}

#[test]
fn hf_checkpoint_with_openai_layout_and_vit_layouts_explain_the_mismatch() {
    let hf = fixture("hf").join("model.safetensors");
    let e = load(&hf, Layout::OpenaiClip, &config()).expect_err("must fail");
    assert!(matches!(e, ModelError::MissingTensor { .. }), "{e}");
    let file = WeightFile::open(&hf).expect("open");
    let e = load_clip(&file, Layout::Timm, &config(), &autodiff_device()).expect_err("timm");
    assert!(e.to_string().contains("cannot build a CLIP"), "{e}");
    let vit = faithbench_models::vit::VitConfig::vit_b16();
    let e = load_vit(&file, Layout::HfClip, &vit, &autodiff_device()).expect_err("vit");
    assert!(e.to_string().contains("cannot build a ViT"), "{e}");
}

#[test]
fn truncated_files_are_corrupt_not_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    for (src, cut) in [
        (
            fixture("openai").join("model.safetensors"),
            "cut.safetensors",
        ),
        (fixture("openai").join("model.pth"), "cut.pth"),
        (fixture("hf").join("model.pth"), "cut_hf.pth"),
    ] {
        let bytes = std::fs::read(&src).expect("read");
        let p = tmp.path().join(cut);
        std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).expect("write");
        let e = WeightFile::open(&p).expect_err("must fail");
        assert!(matches!(e, ModelError::Corrupt { .. }), "{cut}: {e}");
        assert!(e.to_string().contains(cut), "{e}");
    }
}

#[test]
fn unknown_format_is_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = tmp.path().join("ViT-B-32.bin");
    std::fs::write(&p, b"\x00\x01 definitely not a checkpoint").expect("write");
    let e = WeightFile::open(&p).expect_err("must fail");
    assert!(matches!(e, ModelError::UnknownFormat { .. }), "{e}");
    assert!(e.to_string().contains("ViT-B-32.bin"));
}

#[test]
fn torchscript_archive_says_how_to_convert_it() {
    // `torch.jit.save` of the traced fixture model: the format of OpenAI's downloads.
    let e = WeightFile::open(fixture("openai").join("jit.pt")).expect_err("TorchScript");
    let msg = e.to_string();
    assert!(matches!(e, ModelError::UnknownFormat { .. }), "{msg}");
    assert!(
        msg.contains("jit.pt") && msg.contains("TorchScript"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "python -c \"import torch; m = torch.jit.load('jit.pt', map_location='cpu'); \
             torch.save(m.state_dict(), 'jit.state_dict.pt')\""
        ),
        "{msg}"
    );
    // plain torch.save zips are not mistaken for TorchScript
    WeightFile::open(fixture("openai").join("model.pth")).expect("state dict zip");
}

#[test]
fn model_folder_and_bare_weights_sources() {
    let dev = autodiff_device();
    let src = ModelSource::from_dir(&fixture("openai"), None).expect("folder");
    assert_eq!(src.facts().family, faithbench_models::Family::Clip);
    assert_eq!(src.facts().num_layers, 3);
    assert_eq!(src.clip_config().expect("clip").vision_width, 24);
    assert!(src.vit_config().is_err());
    let m = src.load_clip(&dev).expect("load");
    assert_eq!(m.config, src.clip_config().unwrap());
    let e = src.load(&dev).expect_err("load() is for ViT/BERT");
    assert!(e.to_string().contains("load_clip"), "{e}");
    let vit = ModelSource::from_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models/timm_vit_cls"),
        None,
    )
    .expect("vit folder");
    let e = vit.load_clip(&dev).expect_err("a ViT is not a CLIP");
    assert!(e.to_string().contains("not a CLIP"), "{e}");
    // a bare file with a preset: the fixture is not ViT-B/32, so the shapes are reported
    let s = ModelSource::from_weights(
        &fixture("hf").join("model.safetensors"),
        "clip_vit_b32",
        Some(Layout::HfClip),
        None,
    )
    .expect("source");
    let e = s
        .load_clip(&dev)
        .expect_err("tiny checkpoint, full-size preset");
    assert!(matches!(e, ModelError::ShapeMismatch { .. }), "{e}");
    let e = ModelSource::from_weights(
        &fixture("hf").join("model.safetensors"),
        "clip_vit_b32",
        Some(Layout::Timm),
        None,
    )
    .expect_err("timm layout for a CLIP preset");
    assert!(e.to_string().contains("openai_clip, hf_clip"), "{e}");
}
