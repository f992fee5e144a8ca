//! Bad checkpoints give errors that name the file and the tensor — never a panic (issue #2.7).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use faithbench_models::load::{load_vit, read_spec, ModelSpec};
use faithbench_models::weights::WeightFile;
use faithbench_models::{autodiff_device, ModelError};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/models")
        .join(name)
}

/// Rewrites the timm fixture with `edit` applied to its (name → (shape, values)) map.
fn rewrite(dir: &Path, edit: impl FnOnce(&mut HashMap<String, (Vec<usize>, Vec<f32>)>)) -> PathBuf {
    let src = WeightFile::open(fixture("timm_vit_cls").join("model.safetensors")).expect("fixture");
    let mut map: HashMap<String, (Vec<usize>, Vec<f32>)> = src
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

fn load(path: &Path) -> Result<(), ModelError> {
    let spec = read_spec(&fixture("timm_vit_cls").join("faithbench.json")).expect("spec");
    let ModelSpec::Vit { layout, config } = spec else {
        panic!("fixture is a ViT")
    };
    let file = WeightFile::open(path)?;
    load_vit(&file, layout, &config.into(), &autodiff_device()).map(|_| ())
}

#[test]
fn missing_tensor_names_file_and_tensor() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.remove("blocks.2.attn.proj.weight");
    });
    let e = load(&p).expect_err("must fail");
    assert!(
        matches!(&e, ModelError::MissingTensor { name, .. } if name == "blocks.2.attn.proj.weight"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("blocks.2.attn.proj.weight"),
        "{msg}"
    );
}

#[test]
fn unexpected_tensor_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.insert(
            "blocks.9.attn.qkv.weight".into(),
            (vec![2, 2], vec![0.0; 4]),
        );
    });
    let e = load(&p).expect_err("must fail");
    assert!(
        matches!(&e, ModelError::UnexpectedTensors { names, .. } if names == &vec!["blocks.9.attn.qkv.weight".to_string()]),
        "{e}"
    );
    assert!(e.to_string().contains("model.safetensors"));
}

#[test]
fn wrong_shape_names_expected_and_found() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.insert("head.weight".into(), (vec![7, 32], vec![0.0; 7 * 32]));
    });
    let e = load(&p).expect_err("must fail");
    match &e {
        ModelError::ShapeMismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "head.weight");
            assert_eq!(expected, &vec![10, 32]);
            assert_eq!(found, &vec![7, 32]);
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn non_finite_weight_is_rejected() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = rewrite(tmp.path(), |m| {
        m.get_mut("pos_embed").expect("pos").1[3] = f32::NAN;
    });
    let e = load(&p).expect_err("must fail");
    assert!(
        e.to_string().contains("pos_embed") && e.to_string().contains("non-finite"),
        "{e}"
    );
}

#[test]
fn truncated_safetensors_is_corrupt_not_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(fixture("timm_vit_cls").join("model.safetensors")).expect("read");
    let p = tmp.path().join("cut.safetensors");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
    let e = load(&p).expect_err("must fail");
    assert!(matches!(e, ModelError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("cut.safetensors"));
}

#[test]
fn truncated_pth_is_corrupt_not_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(fixture("timm_vit_gap").join("model.pth")).expect("read");
    let p = tmp.path().join("cut.pth");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let e = WeightFile::open(&p).expect_err("must fail");
    assert!(matches!(e, ModelError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("cut.pth"));
}

#[test]
fn unknown_format_is_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = tmp.path().join("weights.bin");
    std::fs::write(&p, b"GGUF\x03\x00\x00\x00 not a checkpoint").expect("write");
    let e = WeightFile::open(&p).expect_err("must fail");
    assert!(matches!(e, ModelError::UnknownFormat { .. }), "{e}");
    assert!(e.to_string().contains("weights.bin"));
}

#[test]
fn missing_file_is_io_error_with_path() {
    let e = WeightFile::open("/nonexistent/dir/model.safetensors").expect_err("must fail");
    assert!(matches!(e, ModelError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/dir/model.safetensors"));
}

#[test]
fn hf_layout_checkpoint_with_timm_config_explains_the_mismatch() {
    let spec = read_spec(&fixture("timm_vit_cls").join("faithbench.json")).expect("spec");
    let ModelSpec::Vit { config, .. } = spec else {
        panic!("vit")
    };
    let file = WeightFile::open(fixture("hf_vit").join("model.safetensors")).expect("open");
    let e = load_vit(
        &file,
        faithbench_models::Layout::Timm,
        &config.into(),
        &autodiff_device(),
    )
    .expect_err("must fail");
    assert!(matches!(e, ModelError::MissingTensor { .. }), "{e}");
}
