//! Parity of the segmentation metrics with scikit-learn (fixture from
//! `scripts/fixtures/make_metric_fixtures.py`) and of bilinear upsampling with PyTorch
//! (`scripts/fixtures/make_upsample_fixture.py`).

use faithbench_eval::maps::upsample_bilinear;
use faithbench_eval::segmentation::{aggregate, segmentation_record_from_raw, SegmentationRecord};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/metrics/").to_string() + name;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {path}: {e}"))
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn segmentation_matches_sklearn_reference() {
    let fx = fixture("segmentation.json");
    let cases = fx["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 6);
    let mut records: Vec<SegmentationRecord> = Vec::new();
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let h = case["height"].as_u64().expect("h") as usize;
        let w = case["width"].as_u64().expect("w") as usize;
        let raw = f32s(&case["raw_map"]);
        let mask: Vec<u8> = case["mask"]
            .as_array()
            .expect("mask")
            .iter()
            .map(|v| v.as_u64().expect("u8") as u8)
            .collect();
        let r = segmentation_record_from_raw(id, &raw, &mask, h, w).expect("record");
        let e = &case["expected"];
        assert_eq!(
            r.degenerate,
            e["degenerate"].as_bool().expect("bool"),
            "{id}"
        );
        match e["threshold"].as_f64() {
            Some(t) => assert!(
                close(r.threshold.expect("threshold"), t, 1e-12),
                "{id}: threshold"
            ),
            None => assert_eq!(r.threshold, None, "{id}"),
        }
        assert_eq!(
            r.correct,
            e["correct"].as_u64().expect("correct"),
            "{id}: correct"
        );
        assert_eq!(
            r.labeled,
            e["labeled"].as_u64().expect("labeled"),
            "{id}: labeled"
        );
        for c in 0..2 {
            assert_eq!(
                r.inter[c],
                e["inter"][c].as_u64().expect("inter"),
                "{id}: inter[{c}]"
            );
            assert_eq!(
                r.union[c],
                e["union"][c].as_u64().expect("union"),
                "{id}: union[{c}]"
            );
        }
        let ap = e["ap"].as_f64().expect("ap");
        let f1 = e["f1"].as_f64().expect("f1");
        assert!(close(r.ap, ap, 1e-9), "{id}: AP {} vs sklearn {}", r.ap, ap);
        assert!(close(r.f1, f1, 1e-9), "{id}: F1 {} vs sklearn {}", r.f1, f1);
        records.push(r);
    }
    let s = aggregate(&records).expect("aggregate");
    let e = &fx["summary"];
    assert!(close(
        s.pix_acc,
        e["pix_acc"].as_f64().expect("pix_acc"),
        1e-9
    ));
    assert!(close(s.iou[0], e["iou"][0].as_f64().expect("iou"), 1e-9));
    assert!(close(s.iou[1], e["iou"][1].as_f64().expect("iou"), 1e-9));
    assert!(close(s.miou, e["miou"].as_f64().expect("miou"), 1e-9));
    assert!(close(s.map, e["map"].as_f64().expect("map"), 1e-9));
    assert!(close(s.mf1, e["mf1"].as_f64().expect("mf1"), 1e-9));
    assert_eq!(s.degenerate, 1);
}

#[test]
fn upsampling_matches_pytorch() {
    let fx = fixture("upsample.json");
    let cases = fx["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 4);
    for case in cases {
        let h = case["height"].as_u64().expect("h") as usize;
        let w = case["width"].as_u64().expect("w") as usize;
        let s = case["scale"].as_u64().expect("scale") as usize;
        let out = upsample_bilinear(&f32s(&case["map"]), h, w, s).expect("upsample");
        let expected = f32s(&case["expected"]);
        assert_eq!(out.len(), expected.len());
        let worst = out
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "{h}x{w} x{s}: max abs diff {worst}");
    }
}
