//! Invariants of protocols §1.8 and batching guarantees.

mod common;

use burn::prelude::*;
use common::load_fixture;
use faithbench_explain::beyond::{abar_head, abar_token, perception_product, BeyondConfig};
use faithbench_explain::{ExplainBatch, MethodConfig};
use faithbench_models::test_device;

fn close(a: &[f32], b: &[f32], rel: f32) -> bool {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= rel * scale)
}

/// Builds a MethodConfig from its JSON form (the same keys as a run config's `[[explainers]]`).
fn cfg(s: &str) -> MethodConfig {
    serde_json::from_str(s).expect("config")
}

#[test]
fn batch_of_two_equals_two_single_calls() {
    let (model, input, targets) = load_fixture("timm_vit_cls");
    let ids = vec!["a".to_string(), "b".to_string()];
    for c in [
        r#"{"method":"ours_h","start_layer":1,"steps":4,"max_internal_batch":3}"#,
        r#"{"method":"ours_t","start_layer":1,"steps":4}"#,
        r#"{"method":"rollout"}"#,
        r#"{"method":"generic_attention","order":"mean_then_clamp"}"#,
        r#"{"method":"attn_gradcam"}"#,
        r#"{"method":"partial_lrp"}"#,
        r#"{"method":"transformer_attribution"}"#,
        r#"{"method":"random","seed":5}"#,
    ] {
        let e = cfg(c).build().expect("build");
        let m = model.as_explainable();
        let full = e
            .explain(
                m,
                &ExplainBatch {
                    input: &input,
                    targets: &targets,
                    ids: &ids,
                },
            )
            .expect("batch");
        for b in 0..2 {
            let one_in = input.select_rows(&[b]);
            let one = e
                .explain(
                    m,
                    &ExplainBatch {
                        input: &one_in,
                        targets: &targets[b..b + 1],
                        ids: &ids[b..b + 1],
                    },
                )
                .expect("single");
            assert!(close(full.row(b), one.row(0), 1e-5), "{c}: row {b} differs");
        }
    }
}

#[test]
fn ig_chunking_does_not_change_ours() {
    let (model, input, targets) = load_fixture("hf_bert");
    let ids = vec!["a".to_string(), "b".to_string()];
    let run = |chunk: usize| {
        let c = BeyondConfig {
            start_layer: Some(0),
            steps: 6,
            max_internal_batch: chunk,
            ..Default::default()
        };
        MethodConfig::from_typed("ours_h", &c)
            .expect("config")
            .build()
            .expect("build")
            .explain(
                model.as_explainable(),
                &ExplainBatch {
                    input: &input,
                    targets: &targets,
                    ids: &ids,
                },
            )
            .expect("explain")
    };
    let a = run(1);
    let b = run(5);
    let c = run(64);
    assert!(close(&a.values, &c.values, 1e-5) && close(&b.values, &c.values, 1e-5));
    assert_eq!(a.valid, vec![13, 10], "BERT rows keep their real lengths");
    assert!(
        a.values[13 + 10..26].iter().all(|&v| v == 0.0),
        "padding stays zero"
    );
}

#[test]
fn ours_with_no_perception_layers_is_the_feedback_cls_row() {
    // start_layer = L: P = I, so T = F ⊙ I is diagonal and its CLS row over the patch columns
    // (j ≥ 1) is exactly zero.
    let (model, input, targets) = load_fixture("timm_vit_cls");
    let ids = vec!["a".to_string(), "b".to_string()];
    let batch = ExplainBatch {
        input: &input,
        targets: &targets,
        ids: &ids,
    };
    let l = model.as_explainable().num_layers();
    let h = MethodConfig::from_typed(
        "ours_h",
        &BeyondConfig {
            start_layer: Some(l),
            steps: 3,
            ..Default::default()
        },
    )
    .expect("config")
    .build()
    .expect("build")
    .explain(model.as_explainable(), &batch)
    .expect("explain");
    assert!(
        h.values.iter().all(|&v| v == 0.0),
        "F ⊙ I has no CLS→patch entries"
    );
    // The average-pooled read-out of F ⊙ I is mean_i F[i,j]·δ_ij = F[j,j]/(N-1) ≥ 0 and not all zero.
    let (gap, gin, gt) = load_fixture("timm_vit_gap");
    let g = MethodConfig::from_typed(
        "ours_t",
        &BeyondConfig {
            start_layer: Some(4),
            steps: 3,
            ..Default::default()
        },
    )
    .expect("config")
    .build()
    .expect("build")
    .explain(
        gap.as_explainable(),
        &ExplainBatch {
            input: &gin,
            targets: &gt,
            ids: &ids,
        },
    )
    .expect("explain");
    assert!(g.values.iter().all(|&v| v >= 0.0) && g.values.iter().any(|&v| v > 0.0));
}

#[test]
fn single_head_weight_is_one_and_weights_are_convex() {
    let dev = test_device();
    let a = Tensor::<4>::from_data(
        TensorData::new(vec![0.7f32, 0.3, 0.4, 0.6], [1, 1, 2, 2]),
        &dev,
    );
    let g = Tensor::<4>::from_data(
        TensorData::new(vec![1.0f32, -2.0, 0.5, 3.0], [1, 1, 2, 2]),
        &dev,
    );
    let abar = abar_head(a.clone(), g);
    let got = abar.into_data().try_to_vec::<f32>().expect("f32");
    assert_eq!(
        got,
        a.into_data().try_to_vec::<f32>().expect("f32"),
        "H = 1 → w = 1 → Ā = A"
    );
    // Two heads, G zero on head 1 → all weight on head 0.
    let a2 = Tensor::<4>::from_data(
        TensorData::new(
            vec![0.7f32, 0.3, 0.4, 0.6, 0.1, 0.9, 0.5, 0.5],
            [1, 2, 2, 2],
        ),
        &dev,
    );
    let g2 = Tensor::<4>::from_data(
        TensorData::new(
            vec![1.0f32, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            [1, 2, 2, 2],
        ),
        &dev,
    );
    let got = abar_head(a2, g2)
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    assert_eq!(got, vec![0.7, 0.3, 0.4, 0.6]);
}

#[test]
fn head_and_token_perception_coincide_with_uniform_weights_and_unit_scales() {
    let dev = test_device();
    // Identical heads and identical gradients → w_h = 1/H; ‖u_j‖ = ‖z_j‖ → s_j = 1.
    let head = [0.5f32, 0.25, 0.25, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4];
    let a = Tensor::<4>::from_data(
        TensorData::new([head, head, head].concat(), [1, 3, 3, 3]),
        &dev,
    );
    let gh = [0.3f32, -0.1, 0.2, 0.0, 0.5, -0.4, 0.1, 0.1, 0.1];
    let g = Tensor::<4>::from_data(TensorData::new([gh, gh, gh].concat(), [1, 3, 3, 3]), &dev);
    let z = Tensor::<3>::from_data(
        TensorData::new(vec![3.0f32, 4.0, 1.0, 0.0, 0.0, 2.0], [1, 3, 2]),
        &dev,
    );
    let u = Tensor::<3>::from_data(
        TensorData::new(vec![0.0f32, 5.0, 0.0, -1.0, 2.0, 0.0], [1, 3, 2]),
        &dev,
    );
    let ph = perception_product(
        vec![abar_head(a.clone(), g.clone()), abar_head(a.clone(), g)],
        1,
        3,
        &dev,
    );
    let pt = perception_product(
        vec![
            abar_token(a.clone(), z.clone(), u.clone()),
            abar_token(a, z, u),
        ],
        1,
        3,
        &dev,
    );
    let (ph, pt) = (
        ph.into_data().try_to_vec::<f32>().expect("f32"),
        pt.into_data().try_to_vec::<f32>().expect("f32"),
    );
    assert!(close(&ph, &pt, 1e-6), "{ph:?} vs {pt:?}");
    // P ≥ 0 entry-wise, diagonal ≥ 1 (A ≥ 0).
    assert!(ph.iter().all(|&v| v >= 0.0));
    assert!((0..3).all(|i| ph[i * 4] >= 1.0));
    // Hand value: Ā = head, P = (I + Ā)², entry [0,0] = (1.5)² + 0.25·0.1 + 0.25·0.3 = 2.35.
    assert!((ph[0] - 2.35).abs() < 1e-6, "{}", ph[0]);
}

#[test]
fn perception_of_real_model_is_nonnegative_with_diagonal_at_least_one() {
    let (model, input, targets) = load_fixture("timm_vit_cls");
    let ids = vec!["a".to_string(), "b".to_string()];
    let e = MethodConfig::from_typed(
        "ours_t",
        &BeyondConfig {
            start_layer: Some(0),
            perception_only: true,
            ..Default::default()
        },
    )
    .expect("config")
    .build()
    .expect("build");
    let maps = e
        .explain(
            model.as_explainable(),
            &ExplainBatch {
                input: &input,
                targets: &targets,
                ids: &ids,
            },
        )
        .expect("explain");
    assert!(maps.values.iter().all(|&v| v >= 0.0));
}

#[test]
fn bad_parameters_are_errors_not_panics() {
    let (model, input, targets) = load_fixture("timm_vit_cls");
    let ids = vec!["a".to_string(), "b".to_string()];
    let batch = ExplainBatch {
        input: &input,
        targets: &targets,
        ids: &ids,
    };
    assert!(cfg(r#"{"method":"ours_h","steps":1}"#).build().is_err());
    assert!(
        serde_json::from_str::<MethodConfig>(r#"{"method":"ours_h","stpes":3}"#).is_err(),
        "unknown key"
    );
    let e = cfg(r#"{"method":"rollout","start_layer":9}"#)
        .build()
        .expect("build");
    let err = e
        .explain(model.as_explainable(), &batch)
        .expect_err("out of range");
    assert!(err.to_string().contains("start_layer 9"), "{err}");
    let bad_targets = vec![0usize, 99];
    let e = cfg(r#"{"method":"attn_gradcam"}"#).build().expect("build");
    let err = e
        .explain(
            model.as_explainable(),
            &ExplainBatch {
                input: &input,
                targets: &bad_targets,
                ids: &ids,
            },
        )
        .expect_err("class out of range");
    assert!(err.to_string().contains("99"), "{err}");
}
