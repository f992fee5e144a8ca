//! Preprocessing parity with PIL/torchvision on the real photos in `fixtures/preprocess/images`
//! (fixture made by `scripts/fixtures/make_preprocess_fixtures.py`).
//!
//! PNG inputs decode identically in both stacks, so the resize itself must match PIL exactly.
//! JPEG inputs are decoded by the `image` crate here and by libjpeg-turbo in PIL; their IDCT and
//! chroma upsampling differ by a few levels, so those images carry the decoder difference too.

use std::path::PathBuf;

use faithbench_models::preprocess::{open_rgb, prepare, resize, Filter, ResizeMode};
use faithbench_models::weights::WeightFile;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn pil_resize_parity_on_shared_photos() {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/preprocess/manifest.json"))
            .expect("manifest"),
    )
    .expect("json");
    let reference = WeightFile::open(root().join("fixtures/preprocess/reference.safetensors"))
        .expect("reference");
    let mut worst_png = 0f32;
    let mut worst_jpeg = 0f32;
    for img in manifest["images"].as_array().expect("images") {
        let stem = img["stem"].as_str().expect("stem");
        let file = root().join(img["file"].as_str().expect("file"));
        let is_png = img["format"].as_str() == Some("PNG");
        let src = open_rgb(&file).expect("decode");
        for (key, mode) in [
            ("resize224", ResizeMode::Squash),
            ("resize256_crop224", ResizeMode::ShorterCrop),
            ("clip224", ResizeMode::ClipBicubic),
        ] {
            let ours = prepare(&src, 224, mode);
            let want = reference
                .get(&format!("{stem}.{key}"))
                .expect("reference key");
            assert_eq!(want.shape, vec![224, 224, 3], "{stem}.{key}");
            let diff = ours
                .as_raw()
                .iter()
                .zip(&want.data)
                .map(|(&a, &b)| (a as f32 - b).abs())
                .fold(0f32, f32::max);
            eprintln!("preprocess {stem}.{key}: max |Δ| = {diff} levels");
            if is_png {
                worst_png = worst_png.max(diff);
            } else {
                worst_jpeg = worst_jpeg.max(diff);
            }
        }
    }
    eprintln!("preprocess parity: PNG max {worst_png}, JPEG max {worst_jpeg} (0-255 levels)");
    assert_eq!(
        worst_png, 0.0,
        "PIL resize must be reproduced exactly on PNG inputs"
    );
    assert!(
        worst_jpeg <= 8.0,
        "JPEG decode+resize differs by {worst_jpeg} levels"
    );
}

#[test]
fn pil_resize_is_exact_on_synthetic_png_up_and_down() {
    let src = open_rgb(&root().join("fixtures/preprocess/synthetic_317x211.png")).expect("decode");
    let reference =
        WeightFile::open(root().join("fixtures/preprocess/synthetic_reference.safetensors"))
            .expect("reference");
    for (key, w, h, f) in [
        ("resize224", 224, 224, Filter::Bilinear),
        ("resize_97x61_bicubic", 97, 61, Filter::Bicubic),
        ("resize_331x250_bilinear", 331, 250, Filter::Bilinear),
    ] {
        let ours = resize(&src, w, h, f);
        let want = reference.get(key).expect("key");
        assert_eq!(want.shape, vec![h, w, 3]);
        let mismatches = ours
            .as_raw()
            .iter()
            .zip(&want.data)
            .filter(|(&a, &b)| a as f32 != b)
            .count();
        assert_eq!(mismatches, 0, "{key}: {mismatches} pixels differ from PIL");
    }
}

#[test]
fn corrupt_image_error_names_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let p = tmp.path().join("broken.jpg");
    std::fs::write(&p, b"\xff\xd8\xff\xe0 truncated").expect("write");
    let e = open_rgb(&p).expect_err("must fail");
    assert!(e.to_string().contains("broken.jpg"), "{e}");
}
